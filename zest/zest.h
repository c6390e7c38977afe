/* SPDX-License-Identifier: ISC */
#ifndef ZEST_ZEST_H
#define ZEST_ZEST_H

/*
 * zest: the administration tool.  main.c parses `zest [-C DIR] COMMAND ...`
 * and dispatches through a table of commands; each command group lives in
 * its own file (cmd-init.c, cmd-user.c, cmd-table.c, cmd-service.c,
 * cmd-reconstruct.c).  A command returns the exit status: 0 ok, 1 failure
 * or usage error, having printed its errors as "zest: ..." on stderr.
 */

#include <sys/types.h>

#include "instance.h"
#include "str.h"

/* Exit statuses. */
#define ZEST_OK 0
#define ZEST_FAIL 1

/* The system users of an installation run as root (see DESIGN.md). */
#define ZEST_USER_SMTPD "zest-smtpd"
#define ZEST_USER_QUEUE "zest-queue"
#define ZEST_USER_REMOTE "zest-remote"
#define ZEST_USER_LOGIN "zest-login"
#define ZEST_USER_URLAUTH "zest-urlauth"
#define ZEST_USER_VMAIL "zest-vmail"	/* default of vmail_user */

/* Print "zest: message" and a newline on stderr. */
void zest_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print "usage: zest USAGE" on stderr; returns ZEST_FAIL. */
int zest_usage(const char *usage);

/* Read a password: pw itself, or one line of stdin when pw is "-".
 * Returns 0 with the password in pw_r, or -1 after printing an error. */
int zest_password(const char *pw, struct str *pw_r);

/* Commands.  inst is the open instance (NULL for init, and for makemap
 * when no instance could be opened); argv[0] is the command name. */
int cmd_init(struct instance *inst, int argc, char **argv);
int cmd_useradd(struct instance *inst, int argc, char **argv);
int cmd_userdel(struct instance *inst, int argc, char **argv);
int cmd_passwd(struct instance *inst, int argc, char **argv);
int cmd_users(struct instance *inst, int argc, char **argv);
int cmd_makemap(struct instance *inst, int argc, char **argv);
int cmd_start(struct instance *inst, int argc, char **argv);
int cmd_stop(struct instance *inst, int argc, char **argv);
int cmd_status(struct instance *inst, int argc, char **argv);
int cmd_reconstruct(struct instance *inst, int argc, char **argv);
int cmd_dump(struct instance *inst, int argc, char **argv);
int cmd_queue(struct instance *inst, int argc, char **argv);
int cmd_flush(struct instance *inst, int argc, char **argv);

/* cert.c: write a self-signed certificate for hostname (EC P-256, ten
 * years, CN hostname, SAN hostname, localhost, 127.0.0.1) to certpath
 * (mode 0644) and its key to keypath (mode 0600).  Returns 0 or -1 with a
 * message in err. */
int zest_cert_selfsigned(const char *hostname, const char *certpath,
    const char *keypath, struct str *err);

/* sysuser.c: the uid and gid of the system user name.  Returns 1 found,
 * 0 absent, -1 error with a message in err. */
int zest_sysuser(const char *name, uid_t *uid_r, gid_t *gid_r,
    struct str *err);

/* sysuser.c: create the system user name with useradd(8) unless it
 * exists.  Returns 0 or -1 with a message in err. */
int zest_sysuser_ensure(const char *name, struct str *err);

/* sysuser.c: chown path to the system user name (and its group) and chmod
 * it to mode.  Returns 0 or -1 with a message in err. */
int zest_chown_to(const char *path, const char *name, mode_t mode,
    struct str *err);

#endif
