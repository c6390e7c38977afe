/* SPDX-License-Identifier: ISC */
#ifndef ZEST_USERS_H
#define ZEST_USERS_H

/*
 * users: the mail users of an instance, in the table tables_dir/users
 * (compiled to users.cdb; see zest-tables(5)).  An entry is
 *
 *	NAME HASH UID GID MAILDIR
 *
 * HASH is a crypt(3) hash (yescrypt "$y$", or SHA-512 "$6$"); MAILDIR is
 * absolute or relative to mail_root.  Users are NAME or NAME@DOMAIN where
 * DOMAIN is the instance's domain.
 */

#include <sys/types.h>

#include "instance.h"
#include "str.h"

#define USERS_NAME_MAX 64
#define USERS_PASSWORD_MAX 1024

/* The file name of the users table inside tables_dir. */
#define USERS_TABLE "users"

/* The names-only copy of the users table inside tables_dir (mode 0644,
 * for smtpd, which may not read the hashes); `zest useradd` and `zest
 * userdel` rewrite it from the users table. */
#define USERS_MAILBOXES_TABLE "mailboxes"

struct user {
	char *name;	/* the bare name, lowercase */
	char *hash;
	uid_t uid;
	gid_t gid;
	char *maildir;	/* absolute */
};

/* Whether name is a valid user name: 1..64 of [a-z0-9._-], not starting
 * with '.' or '-'.  Returns 1 or 0. */
int users_valid_name(const char *name);

/* Look up NAME or NAME@DOMAIN (DOMAIN must equal inst->domain, ignoring
 * case; any other domain is unknown).  Fills u on success (free it with
 * users_free).  Returns 1 found, 0 unknown (also for an invalid name), -1
 * error with a message in err (unreadable table, malformed entry). */
int users_lookup(const struct instance *inst, const char *name,
    struct user *u, struct str *err);

/* Free the fields of u and zero it. */
void users_free(struct user *u);

/* Parse the value of a users table entry for name (MAILDIR resolved against
 * mail_root) into u.  Returns 0, or -1 with a message in err. */
int users_parse(const char *mail_root, const char *name, const char *value,
    struct user *u, struct str *err);

/* Format the value of a users table entry into value_r (cleared first).
 * Returns 0 or -1 with errno. */
int users_format(const char *hash, uid_t uid, gid_t gid, const char *maildir,
    struct str *value_r);

/* Hash pw with a fresh salt from the system: yescrypt, or SHA-512 crypt
 * when yescrypt is not available.  Returns 0, or -1 with errno. */
int users_hash_password(const char *pw, struct str *hash_r);

/* Check pw against u's hash (constant-time comparison).  Returns 1 on a
 * match, 0 otherwise (also for a locked or malformed hash). */
int users_check_password(const struct user *u, const char *pw);

/* The path of the users text table of inst (caller frees), NULL on ENOMEM. */
char *users_table_path(const struct instance *inst);

#endif
