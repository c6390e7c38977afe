/* SPDX-License-Identifier: ISC */
#ifndef ZEST_INSTANCE_H
#define ZEST_INSTANCE_H

/*
 * instance: one Zest installation, described by its zest.conf.
 *
 * `-C DIR` names an instance directory holding DIR/zest.conf; without it the
 * installed configuration SYSCONFDIR/zest.conf is used (the environment
 * variable ZEST_CONF, when set and not empty, names another file).  Relative
 * paths in the file resolve against the file's directory.  Every key is
 * documented in zest.conf(5).
 */

#include "conf.h"
#include "str.h"

/* The name of the configuration file inside an instance directory. */
#define INSTANCE_CONF "zest.conf"

/* The keys of zest.conf, terminated by a NULL name. */
extern const struct conf_key instance_keys[];

struct instance {
	char *dir;		/* absolute instance dir, NULL: installed conf */
	char *conf_path;	/* the zest.conf read */
	struct conf *conf;	/* every setting, for keys without a field */
	char *hostname_buf;	/* gethostname() when hostname is unset */
	const char *domain;
	const char *hostname;
	const char *listen_address;
	const char *mail_root;	/* the paths are absolute */
	const char *tables_dir;
	const char *queue_dir;
	const char *run_dir;
	const char *log_dir;
	const char *libexec_dir;
	const char *tls_cert;
	const char *tls_key;
	const char *vmail_user;
	unsigned port_base;
	unsigned long long message_size_limit;	/* bytes */
	unsigned long long queue_lifetime;	/* seconds */
	unsigned max_recipients;
	unsigned lock_timeout;			/* seconds */
	int log_stderr;		/* log = stderr (else syslog) */
};

/* Read the configuration of the instance in dir (NULL: the installed one)
 * into inst.  Returns 0, or -1 with a message in err (inst is then empty
 * and safe to close). */
int instance_open(const char *dir, struct instance *inst, struct str *err);

/* Release everything instance_open allocated; inst is left empty. */
void instance_close(struct instance *inst);

/* A newly allocated absolute path: rel joined to the directory of the
 * instance's zest.conf (rel itself when absolute).  NULL with errno ENOMEM. */
char *instance_path(const struct instance *inst, const char *rel);

/* The port a service with standard port std listens on: port_base + std. */
unsigned instance_port(const struct instance *inst, unsigned std);

/* The queue-inject program the instance's programs run: a newly allocated
 * path, run_dir/bin/queue-inject when that file exists (the setuid copy
 * `zest start` makes for a root-run instance whose libexec_dir/queue-inject
 * is not installed setuid zest-queue, e.g. a build tree), else
 * libexec_dir/queue-inject.  NULL with errno ENOMEM. */
char *instance_queue_inject(const struct instance *inst);

/* Check that a domain or host name is plausible: 1..253 bytes of letters,
 * digits, '-' and '.', not starting with '.' or '-'.  Returns 1 or 0. */
int instance_valid_hostname(const char *name);

#endif
