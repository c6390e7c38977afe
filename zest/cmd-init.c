/* SPDX-License-Identifier: ISC */
/*
 * zest init DIR: create a self-contained instance (configuration, tables,
 * mail store, queue, run and log directories, a self-signed certificate).
 * Run as root it also creates the system users and hands the queue and the
 * mail store to them; run by anyone else everything belongs to the invoker.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "instance.h"
#include "table.h"
#include "users.h"
#include "zest.h"

#define INIT_USAGE "init DIR [--domain D] [--port-base N] [--hostname H]"

struct init_opts {
	const char *dir;
	const char *domain;
	const char *hostname;
	unsigned port_base;
	char hostbuf[HOST_NAME_MAX + 1];
};

/* A directory of the instance; owner is the system user owning it when
 * run as root (NULL: root). */
struct init_dir {
	const char *name;
	mode_t mode;
	const char *owner;
};

static const struct init_dir init_dirs[] = {
	{ "tables", 0755, NULL },
	{ "mail", 0700, ZEST_USER_VMAIL },
	{ "queue", 0700, ZEST_USER_QUEUE },
	{ "run", 0755, NULL },
	/* the pre-login processes' chroot (lib/login): empty, root's */
	{ "run/empty", 0555, NULL },
	{ "log", 0750, NULL },
	{ "tls", 0755, NULL },
	{ NULL, 0, NULL }
};

/* The system users a root-run instance needs. */
static const char *const init_sysusers[] = {
	ZEST_USER_SMTPD, ZEST_USER_QUEUE, ZEST_USER_REMOTE, ZEST_USER_LOGIN,
	ZEST_USER_URLAUTH, ZEST_USER_VMAIL, NULL
};

/* The tables init creates, with the comment that opens each. */
struct init_table {
	const char *name;
	const char *comment;
};

static const struct init_table init_tables[] = {
	{ USERS_TABLE, "# users: the mail users of this instance.\n"
	    "# NAME HASH UID GID MAILDIR -- kept by `zest useradd`, "
	    "`zest userdel`, `zest passwd`.\n" },
	{ "aliases", "# aliases: NAME ADDRESS[, ADDRESS...] -- mail for "
	    "NAME@domain goes there; add `postmaster USER` (RFC 5321 4.5.1)."
	    "\nmailer-daemon postmaster\n" },
	{ "domains", "# domains: DOMAIN -- the domains delivered here.\n" },
	{ "routes", "# routes: DOMAIN HOST[:PORT] -- send mail for DOMAIN "
	    "to HOST instead of its MX.\n" },
	{ "relay-clients", "# relay-clients: ADDRESS -- IP addresses of "
	    "clients that may relay without AUTH.\n" },
	{ NULL, NULL }
};

/* Parse a port base: decimal, so that port_base + 995 is a port. */
static int
init_port(const char *s, unsigned *port_r)
{
	unsigned long n = 0;
	size_t i;

	for (i = 0; s[i] != '\0' && i < 6; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		n = n * 10 + (unsigned long)(s[i] - '0');
	}
	if (i == 0 || s[i] != '\0' || n > 65535 - 995)
		return -1;
	*port_r = (unsigned)n;
	return 0;
}

static int
init_usage(void)
{
	zest_usage(INIT_USAGE);
	return -1;
}

static int
init_args(int argc, char **argv, struct init_opts *o)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--domain") == 0 && i + 1 < argc)
			o->domain = argv[++i];
		else if (strcmp(argv[i], "--hostname") == 0 && i + 1 < argc)
			o->hostname = argv[++i];
		else if (strcmp(argv[i], "--port-base") == 0 && i + 1 < argc) {
			if (init_port(argv[++i], &o->port_base) < 0) {
				zest_err("invalid port base '%s' (0..%d)",
				    argv[i], 65535 - 995);
				return -1;
			}
		} else if (argv[i][0] != '-' && o->dir == NULL)
			o->dir = argv[i];
		else
			return init_usage();
	}
	if (o->dir == NULL)
		return init_usage();
	if (o->hostname == NULL) {
		if (gethostname(o->hostbuf, sizeof o->hostbuf) < 0)
			o->hostbuf[0] = '\0';
		o->hostbuf[sizeof o->hostbuf - 1] = '\0';
		o->hostname = o->hostbuf[0] ? o->hostbuf : "localhost";
	}
	if (!instance_valid_hostname(o->domain)) {
		zest_err("invalid domain '%s'", o->domain);
		return -1;
	}
	if (!instance_valid_hostname(o->hostname)) {
		zest_err("invalid hostname '%s'%s", o->hostname,
		    o->hostname == o->hostbuf ? " (the system's; give "
		    "--hostname)" : "");
		return -1;
	}
	return 0;
}

/* Create the instance directory (it may exist if empty); its absolute
 * path goes into abs_r. */
static int
init_topdir(const char *dir, struct str *abs_r)
{
	char *abs;
	int r;

	r = fs_dir_is_empty(dir);
	if (r == 0) {
		zest_err("%s exists and is not empty", dir);
		return -1;
	}
	if (r < 0 && errno != ENOENT) {
		zest_err("%s: %s", dir, strerror(errno));
		return -1;
	}
	if (r < 0 && fs_mkdir_p(dir, 0755) < 0) {
		zest_err("%s: %s", dir, strerror(errno));
		return -1;
	}
	if ((abs = realpath(dir, NULL)) == NULL) {
		zest_err("%s: %s", dir, strerror(errno));
		return -1;
	}
	r = str_appends(abs_r, abs);
	free(abs);
	return r;
}

/* The directory holding the other programs when zest runs from a build
 * tree (a `deliver` beside it); empty otherwise. */
static void
init_libexec(struct str *dir_r)
{
	char exe[PATH_MAX];
	struct str p = STR_INIT;
	ssize_t n;

	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return;
	exe[n] = '\0';
	if (fs_dirname(exe, dir_r) < 0 ||
	    str_appendf(&p, "%s/deliver", dir_r->s) < 0 ||
	    access(p.s, X_OK) < 0)
		str_clear(dir_r);
	str_free(&p);
}

/* The text of zest.conf. */
static int
init_conftext(const struct init_opts *o, const char *abs, struct str *t)
{
	struct str libexec = STR_INIT;
	int r;

	init_libexec(&libexec);
	r = str_appendf(t, "# zest.conf: the Zest instance in %s, written by "
	    "`zest init`.\n# Every key is described in zest.conf(5).  "
	    "Relative paths are relative\n# to this file's directory.\n\n"
	    "# Users are NAME@domain; the name of this host in greetings.\n"
	    "domain = %s\nhostname = %s\n\n"
	    "# Services listen on listen_address, port port_base + standard "
	    "port:\n# smtp 25, submission 587, submissions 465, imap 143, "
	    "imaps 993,\n# pop3 110, pop3s 995.\n"
	    "listen_address = 127.0.0.1\nport_base = %u\n\n"
	    "mail_root = mail\ntables_dir = tables\nqueue_dir = queue\n"
	    "run_dir = run\nlog_dir = log\ntls_cert = tls/cert.pem\n"
	    "tls_key = tls/key.pem\n%s%s%s\n"
	    "# Owner of the mailboxes when the instance runs as root.\n"
	    "vmail_user = %s\n\n"
	    "message_size_limit = 100M\nmax_recipients = 1000\n"
	    "queue_lifetime = 5d\nlock_timeout = 30s\n\n"
	    "# Where the programs log: syslog (facility mail) or stderr.\n"
	    "log = syslog\n", abs, o->domain, o->hostname,
	    o->port_base, libexec.len ? "# Where the programs are.\n"
	    "libexec_dir = " : "", str_cstr(&libexec), libexec.len ? "\n" :
	    "", ZEST_USER_VMAIL);
	str_free(&libexec);
	return r;
}

static int
init_conf(const struct init_opts *o, const char *abs)
{
	struct str text = STR_INIT, path = STR_INIT;
	int r = -1;

	if (init_conftext(o, abs, &text) < 0 ||
	    str_appendf(&path, "%s/%s", abs, INSTANCE_CONF) < 0)
		zest_err("out of memory");
	else if (fs_write_atomic(path.s, text.s, text.len, 0644) < 0)
		zest_err("%s: %s", path.s, strerror(errno));
	else
		r = 0;
	str_free(&text);
	str_free(&path);
	return r;
}

/* Create the subdirectories, handing some to system users when root. */
static int
init_subdirs(const char *abs, int root)
{
	const struct init_dir *d;
	struct str path = STR_INIT, err = STR_INIT;
	int r = 0;

	for (d = init_dirs; d->name != NULL && r == 0; d++) {
		str_clear(&path);
		if (str_appendf(&path, "%s/%s", abs, d->name) < 0 ||
		    fs_mkdir_p(path.s, d->mode) < 0 ||
		    chmod(path.s, d->mode) < 0) {
			zest_err("%s: %s", path.s, strerror(errno));
			r = -1;
		} else if (root && d->owner != NULL &&
		    zest_chown_to(path.s, d->owner, d->mode, &err) < 0) {
			zest_err("%s", err.s);
			r = -1;
		}
	}
	str_free(&path);
	str_free(&err);
	return r;
}

/* Write one table's text file and compile it.  The users table holds
 * password hashes: mode 0600.  Everything that reads it is root (deliver
 * before its drop, the pop3d/imapd checker) or the instance owner; the
 * pre-login processes never do (they ask the checker). */
static int
init_table(const char *abs, const struct init_table *t,
    const struct init_opts *o, struct str *err)
{
	struct str path = STR_INIT, text = STR_INIT;
	int users = strcmp(t->name, USERS_TABLE) == 0;
	mode_t mode = users ? 0600 : 0644;
	int r = -1;

	if (str_appendf(&path, "%s/tables/%s", abs, t->name) < 0 ||
	    str_appends(&text, t->comment) < 0 ||
	    (strcmp(t->name, "domains") == 0 &&
	    str_appendf(&text, "%s\n", o->domain) < 0)) {
		str_appendf(err, "out of memory");
		goto out;
	}
	if (fs_write_atomic(path.s, text.s, text.len, mode) < 0) {
		str_appendf(err, "%s: %s", path.s, strerror(errno));
		goto out;
	}
	r = table_compile(path.s, err);
out:
	str_free(&path);
	str_free(&text);
	return r;
}

static int
init_alltables(const char *abs, const struct init_opts *o)
{
	const struct init_table *t;
	struct str err = STR_INIT;
	int r = 0;

	for (t = init_tables; t->name != NULL && r == 0; t++)
		if ((r = init_table(abs, t, o, &err)) < 0)
			zest_err("%s", str_cstr(&err));
	str_free(&err);
	return r;
}

static int
init_tls(const char *abs, const struct init_opts *o)
{
	struct str cert = STR_INIT, key = STR_INIT, err = STR_INIT;
	int r = -1;

	if (str_appendf(&cert, "%s/tls/cert.pem", abs) < 0 ||
	    str_appendf(&key, "%s/tls/key.pem", abs) < 0)
		zest_err("out of memory");
	else if (zest_cert_selfsigned(o->hostname, cert.s, key.s, &err) < 0)
		zest_err("%s", str_cstr(&err));
	else
		r = 0;
	str_free(&cert);
	str_free(&key);
	str_free(&err);
	return r;
}

static int
init_sysusers_all(void)
{
	const char *const *u;
	struct str err = STR_INIT;
	int r = 0;

	for (u = init_sysusers; *u != NULL && r == 0; u++)
		if ((r = zest_sysuser_ensure(*u, &err)) < 0)
			zest_err("%s", str_cstr(&err));
	str_free(&err);
	return r;
}

int
cmd_init(struct instance *inst, int argc, char **argv)
{
	struct init_opts o;
	struct str abs = STR_INIT;
	int root = geteuid() == 0, r = ZEST_FAIL;

	memset(&o, 0, sizeof o);
	o.domain = "localhost";
	if (init_args(argc, argv, &o) < 0)
		return ZEST_FAIL;
	if (init_topdir(o.dir, &abs) < 0)
		goto out;
	if ((root && init_sysusers_all() < 0) ||
	    init_subdirs(abs.s, root) < 0 || init_conf(&o, abs.s) < 0 ||
	    init_alltables(abs.s, &o) < 0 || init_tls(abs.s, &o) < 0) {
		zest_err("init of %s failed; the directory is incomplete",
		    abs.s);
		goto out;
	}
	printf("zest: created instance %s (domain %s, port base %u)\n",
	    abs.s, o.domain, o.port_base);
	r = ZEST_OK;
out:
	str_free(&abs);
	return r;
}
