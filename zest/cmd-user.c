/* SPDX-License-Identifier: ISC */
/*
 * zest useradd, userdel, passwd, users: the users table (tables/users) and
 * the users' Maildirs.  Every change goes through table_edit, which holds
 * tables/users.lock, rewrites the text atomically and recompiles the cdb.
 * useradd and userdel then rewrite tables/mailboxes, the user names alone
 * (mode 0644), which smtpd reads to accept or refuse recipients.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "login.h"
#include "table.h"
#include "users.h"
#include "zest.h"

/* What the edit callbacks need and report. */
struct user_edit {
	const struct instance *inst;
	const char *hash;	/* the new hash (useradd, passwd) */
	uid_t uid;
	gid_t gid;
	struct str maildir;	/* the absolute Maildir (userdel: found) */
};

/* Check the name argument; prints the error. */
static int
user_name_ok(const char *name)
{
	if (users_valid_name(name))
		return 1;
	zest_err("invalid user name '%s' (1-%d of a-z 0-9 . _ -, not starting "
	    "with . or -)", name, USERS_NAME_MAX);
	return 0;
}

/* Read and hash the password argument; prints the error.  The password
 * itself stays in pw_r for the APOP secrets table (caller wipes it). */
static int
user_hash(const char *arg, struct str *hash_r, struct str *pw_r)
{
	if (zest_password(arg, pw_r) < 0)
		return -1;
	if (pw_r->len == 0)
		zest_err("empty password");
	else if (memchr(pw_r->s, '\0', pw_r->len) != NULL)
		zest_err("the password holds a NUL byte");
	else if (users_hash_password(pw_r->s, hash_r) < 0)
		zest_err("hashing the password: %s", strerror(errno));
	else
		return 0;
	return -1;
}

static void
user_wipe(struct str *pw)
{
	if (pw->s != NULL)
		explicit_bzero(pw->s, pw->len);
	str_free(pw);
}

static int
secret_edit(const char *key, const char *old, struct str *value_r,
    void *arg, struct str *err)
{
	const char *pw = arg;

	if (pw == NULL)
		return 0;	/* remove */
	if (login_secret_encode(pw, value_r) < 0) {
		str_appendf(err, "out of memory");
		return -1;
	}
	return 1;
}

/*
 * APOP needs the password itself (RFC 1939 7), which the users table's
 * hash cannot give: with pop3_apop on, tables/secrets (mode 0600, root's
 * when run as root; NAME HEX-OF-PASSWORD) keeps it for the login checker
 * alone.  pw NULL removes the entry (userdel, or APOP switched off).
 * Prints the error.
 */
static int
user_secret(const struct instance *inst, const char *name, const char *pw)
{
	struct str path = STR_INIT, err = STR_INIT;
	struct stat st;
	int r = -1;

	if (str_appendf(&path, "%s/%s", inst->tables_dir,
	    LOGIN_SECRETS_TABLE) < 0) {
		zest_err("out of memory");
		goto out;
	}
	if (!conf_bool(inst->conf, "pop3_apop"))
		pw = NULL;
	if (pw == NULL && stat(path.s, &st) < 0) {
		r = 0;		/* nothing stored, nothing to remove */
		goto out;
	}
	if (table_edit(path.s, name, secret_edit, (void *)pw, &err) < 0)
		zest_err("%s", str_cstr(&err));
	else
		r = 0;
out:
	if (err.s != NULL)
		explicit_bzero(err.s, err.len);
	str_free(&path);
	str_free(&err);
	return r;
}

/* Run table_edit on the users table; prints the error. */
static int
user_edit(const struct instance *inst, const char *name, table_edit_fn *fn,
    struct user_edit *ue)
{
	struct str err = STR_INIT;
	char *path;
	int r = -1;

	if ((path = users_table_path(inst)) == NULL)
		zest_err("out of memory");
	else if (table_edit(path, name, fn, ue, &err) < 0)
		zest_err("%s", str_cstr(&err));
	else
		r = 0;
	free(path);
	str_free(&err);
	return r;
}

static int
useradd_edit(const char *key, const char *old, struct str *value_r,
    void *arg, struct str *err)
{
	struct user_edit *ue = arg;

	if (old != NULL) {
		str_appendf(err, "user %s already exists", key);
		return -1;
	}
	/* The Maildir is kept relative to mail_root: NAME. */
	if (users_format(ue->hash, ue->uid, ue->gid, key, value_r) < 0) {
		str_appendf(err, "out of memory");
		return -1;
	}
	return 1;
}

static int
userdel_edit(const char *key, const char *old, struct str *value_r,
    void *arg, struct str *err)
{
	struct user_edit *ue = arg;
	struct user u;

	if (old == NULL) {
		str_appendf(err, "no such user %s", key);
		return -1;
	}
	if (users_parse(ue->inst->mail_root, key, old, &u, err) == 0) {
		str_appends(&ue->maildir, u.maildir);
		users_free(&u);
	}
	str_clear(err);
	return 0;
}

static int
passwd_edit(const char *key, const char *old, struct str *value_r,
    void *arg, struct str *err)
{
	struct user_edit *ue = arg;
	const char *rest;

	if (old == NULL) {
		str_appendf(err, "no such user %s", key);
		return -1;
	}
	/* Keep everything after the old hash: UID GID MAILDIR. */
	rest = old + strcspn(old, " \t");
	if (*rest == '\0') {
		str_appendf(err, "malformed entry for %s", key);
		return -1;
	}
	if (str_appendf(value_r, "%s%s", ue->hash, rest) < 0) {
		str_appendf(err, "out of memory");
		return -1;
	}
	return 1;
}

/* Add one user name to the mailboxes text (table_foreach callback). */
static int
mailboxes_name(const char *key, const char *value, void *arg)
{
	return str_appendf(arg, "%s\n", key) < 0 ? 1 : 0;
}

/* Rewrite tables/mailboxes from users.cdb, under mailboxes.lock: whoever
 * writes last read the users table after every edit before it. */
static int
user_mailboxes(const struct instance *inst)
{
	struct str path = STR_INIT, cdb = STR_INIT, text = STR_INIT;
	struct str err = STR_INIT;
	struct table *t = NULL;
	int lockfd = -1, r = -1;

	if (str_appendf(&path, "%s/%s", inst->tables_dir,
	    USERS_MAILBOXES_TABLE) < 0 || str_appendf(&cdb, "%s/%s.cdb",
	    inst->tables_dir, USERS_TABLE) < 0 || str_appends(&text,
	    "# mailboxes: the names of the users table, for smtpd.\n"
	    "# Rewritten by `zest useradd` and `zest userdel`.\n") < 0) {
		zest_err("out of memory");
		goto out;
	}
	if ((lockfd = table_lock(path.s, &err)) < 0)
		zest_err("%s", str_cstr(&err));
	else if ((t = table_open(cdb.s)) == NULL)
		zest_err("%s: %s", cdb.s, strerror(errno));
	else if (table_foreach(t, mailboxes_name, &text) != 0)
		zest_err("%s: cannot list the users", cdb.s);
	else if (fs_write_atomic(path.s, text.s, text.len, 0644) < 0)
		zest_err("%s: %s", path.s, strerror(errno));
	else if (table_compile(path.s, &err) < 0)
		zest_err("%s", str_cstr(&err));
	else
		r = 0;
out:
	table_close(&t);
	if (lockfd >= 0)
		close(lockfd);
	str_free(&path);
	str_free(&cdb);
	str_free(&text);
	str_free(&err);
	return r;
}

/* The owner of new Maildirs: vmail_user when root, else the invoker. */
static int
user_owner(const struct instance *inst, uid_t *uid_r, gid_t *gid_r)
{
	struct str err = STR_INIT;
	int r;

	if (geteuid() != 0) {
		*uid_r = geteuid();
		*gid_r = getegid();
		return 0;
	}
	r = zest_sysuser(inst->vmail_user, uid_r, gid_r, &err);
	if (r == 0)
		zest_err("no system user %s (vmail_user); run zest init as "
		    "root or create it", inst->vmail_user);
	else if (r < 0)
		zest_err("%s", str_cstr(&err));
	str_free(&err);
	return r == 1 ? 0 : -1;
}

/* mkdir path with mode 0700 and owner uid:gid (when root); an existing
 * directory is kept. */
static int
user_mkdir(const char *path, uid_t uid, gid_t gid, int *existed_r)
{
	struct stat st;

	*existed_r = 0;
	if (mkdir(path, 0700) < 0) {
		if (errno != EEXIST || stat(path, &st) < 0)
			return -1;
		if (!S_ISDIR(st.st_mode)) {
			errno = ENOTDIR;
			return -1;
		}
		*existed_r = 1;
		return 0;
	}
	if (geteuid() == 0 && chown(path, uid, gid) < 0)
		return -1;
	return 0;
}

/* Create the Maildir of a new user: DIR, DIR/tmp, DIR/new, DIR/cur. */
static int
user_maildir(const char *dir, uid_t uid, gid_t gid, int *existed_r)
{
	static const char *const subs[] = { "tmp", "new", "cur", NULL };
	const char *const *s;
	struct str p = STR_INIT;
	int r, existed;

	r = user_mkdir(dir, uid, gid, existed_r);
	for (s = subs; r == 0 && *s != NULL; s++) {
		str_clear(&p);
		r = str_appendf(&p, "%s/%s", dir, *s);
		if (r == 0)
			r = user_mkdir(p.s, uid, gid, &existed);
	}
	if (r < 0)
		zest_err("%s: %s", p.len ? p.s : dir, strerror(errno));
	str_free(&p);
	return r;
}

int
cmd_useradd(struct instance *inst, int argc, char **argv)
{
	struct user_edit ue = { inst, NULL, 0, 0, STR_INIT };
	struct str hash = STR_INIT, pw = STR_INIT;
	int r = ZEST_FAIL, existed;

	if (argc != 3)
		return zest_usage("useradd NAME PASSWORD|-");
	if (!user_name_ok(argv[1]) || user_hash(argv[2], &hash, &pw) < 0 ||
	    user_owner(inst, &ue.uid, &ue.gid) < 0)
		goto out;
	ue.hash = hash.s;
	if (str_appendf(&ue.maildir, "%s/%s", inst->mail_root, argv[1]) < 0 ||
	    user_edit(inst, argv[1], useradd_edit, &ue) < 0)
		goto out;
	if (user_maildir(ue.maildir.s, ue.uid, ue.gid, &existed) < 0) {
		struct user_edit del = { inst, NULL, 0, 0, STR_INIT };

		/* Take the entry back out: a user without a Maildir would
		 * accept mail it cannot store. */
		user_edit(inst, argv[1], userdel_edit, &del);
		str_free(&del.maildir);
		goto out;
	}
	if (user_mailboxes(inst) < 0 || user_secret(inst, argv[1], pw.s) < 0)
		goto out;
	printf("zest: added user %s@%s, Maildir %s%s\n", argv[1],
	    inst->domain, ue.maildir.s, existed ? " (already there, kept)" :
	    "");
	r = ZEST_OK;
out:
	user_wipe(&pw);
	str_free(&hash);
	str_free(&ue.maildir);
	return r;
}

int
cmd_userdel(struct instance *inst, int argc, char **argv)
{
	struct user_edit ue = { inst, NULL, 0, 0, STR_INIT };

	if (argc != 2)
		return zest_usage("userdel NAME");
	if (!user_name_ok(argv[1]) ||
	    user_edit(inst, argv[1], userdel_edit, &ue) < 0) {
		str_free(&ue.maildir);
		return ZEST_FAIL;
	}
	if (user_mailboxes(inst) < 0 || user_secret(inst, argv[1], NULL) < 0) {
		str_free(&ue.maildir);
		return ZEST_FAIL;
	}
	printf("zest: removed user %s; Maildir %s left in place\n", argv[1],
	    ue.maildir.len ? ue.maildir.s : "(unknown)");
	str_free(&ue.maildir);
	return ZEST_OK;
}

int
cmd_passwd(struct instance *inst, int argc, char **argv)
{
	struct user_edit ue = { inst, NULL, 0, 0, STR_INIT };
	struct str hash = STR_INIT, pw = STR_INIT;
	int r = ZEST_FAIL;

	if (argc != 3)
		return zest_usage("passwd NAME PASSWORD|-");
	if (user_name_ok(argv[1]) && user_hash(argv[2], &hash, &pw) == 0) {
		ue.hash = hash.s;
		if (user_edit(inst, argv[1], passwd_edit, &ue) == 0 &&
		    user_secret(inst, argv[1], pw.s) == 0) {
			printf("zest: changed the password of %s\n", argv[1]);
			r = ZEST_OK;
		}
	}
	user_wipe(&pw);
	str_free(&hash);
	return r;
}

/* Print one entry of the users table (without its hash). */
static int
users_print(const char *key, const char *value, void *arg)
{
	const struct instance *inst = arg;
	struct str err = STR_INIT;
	struct user u;

	if (users_parse(inst->mail_root, key, value, &u, &err) < 0) {
		zest_err("%s", str_cstr(&err));
		str_free(&err);
		return 0;
	}
	printf("%s %lu %lu %s\n", u.name, (unsigned long)u.uid,
	    (unsigned long)u.gid, u.maildir);
	users_free(&u);
	return 0;
}

int
cmd_users(struct instance *inst, int argc, char **argv)
{
	struct str path = STR_INIT;
	struct table *t;
	int r = ZEST_FAIL;

	if (argc != 1)
		return zest_usage("users");
	if (str_appendf(&path, "%s/%s.cdb", inst->tables_dir,
	    USERS_TABLE) < 0)
		zest_err("out of memory");
	else if ((t = table_open(path.s)) == NULL)
		zest_err("%s: %s", path.s, strerror(errno));
	else {
		if (table_foreach(t, users_print, inst) < 0)
			zest_err("%s: %s", path.s, strerror(errno));
		else
			r = ZEST_OK;
		table_close(&t);
	}
	str_free(&path);
	return r;
}
