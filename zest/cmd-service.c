/* SPDX-License-Identifier: ISC */
/*
 * zest start, stop, status.  start checks that the instance can run
 * (directories, compiled tables, TLS files) and records it as started in
 * run_dir/started; stop removes the record.  This build has no network
 * services: the programs that listen (smtpd, imapd, ...) arrive with their
 * issues, and with them the code that launches and halts them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "table.h"
#include "users.h"
#include "zest.h"

#define SERVICE_STARTED "started"

/* The tables every instance has. */
static const char *const service_tables[] = {
	USERS_TABLE, "aliases", "domains", "routes", "relay-clients", NULL
};

/* Check that path is a directory; prints the problem. */
static int
service_checkdir(const char *what, const char *path)
{
	struct stat st;

	errno = 0;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	zest_err("%s %s: %s", what, path, errno ? strerror(errno) :
	    "not a directory");
	return -1;
}

/* Check one table: its cdb opens; warn when the text is newer. */
static int
service_checktable(const struct instance *inst, const char *name)
{
	struct str p = STR_INIT;
	struct stat text, cdb;
	struct table *t;
	int r = -1;

	if (str_appendf(&p, "%s/%s.cdb", inst->tables_dir, name) < 0)
		goto out;
	if ((t = table_open(p.s)) == NULL) {
		zest_err("%s: %s (run zest makemap)", p.s, strerror(errno));
		goto out;
	}
	table_close(&t);
	r = 0;
	if (stat(p.s, &cdb) == 0) {
		str_truncate(&p, p.len - 4);
		if (stat(p.s, &text) == 0 && text.st_mtime > cdb.st_mtime)
			zest_err("warning: %s changed since it was compiled "
			    "(run zest makemap %s)", p.s, p.s);
	}
out:
	str_free(&p);
	return r;
}

/* Verify that the instance can run: directories, tables, TLS files. */
static int
service_check(const struct instance *inst)
{
	const char *const *t;
	int r = 0;

	r |= service_checkdir("mail_root", inst->mail_root);
	r |= service_checkdir("queue_dir", inst->queue_dir);
	r |= service_checkdir("tables_dir", inst->tables_dir);
	r |= service_checkdir("log_dir", inst->log_dir);
	for (t = service_tables; *t != NULL; t++)
		r |= service_checktable(inst, *t);
	if (access(inst->tls_cert, R_OK) < 0) {
		zest_err("tls_cert %s: %s", inst->tls_cert, strerror(errno));
		r = -1;
	}
	if (access(inst->tls_key, R_OK) < 0) {
		zest_err("tls_key %s: %s", inst->tls_key, strerror(errno));
		r = -1;
	}
	return r;
}

/* The path of the started record. */
static int
service_record(const struct instance *inst, struct str *p)
{
	if (str_appendf(p, "%s/%s", inst->run_dir, SERVICE_STARTED) == 0)
		return 0;
	zest_err("out of memory");
	return -1;
}

static int
service_write_record(const char *path)
{
	struct str text = STR_INIT;
	int r = -1;

	if (str_appendf(&text, "started %lld by pid %ld\n",
	    (long long)time(NULL), (long)getpid()) < 0)
		zest_err("out of memory");
	else if (fs_write_atomic(path, text.s, text.len, 0644) < 0)
		zest_err("%s: %s", path, strerror(errno));
	else
		r = 0;
	str_free(&text);
	return r;
}

int
cmd_start(struct instance *inst, int argc, char **argv)
{
	struct str rec = STR_INIT;
	int r = ZEST_FAIL;

	if (argc != 1)
		return zest_usage("start");
	if (service_check(inst) < 0 || service_record(inst, &rec) < 0)
		goto out;
	if (fs_mkdir_p(inst->run_dir, 0755) < 0) {
		zest_err("%s: %s", inst->run_dir, strerror(errno));
		goto out;
	}
	if (access(rec.s, F_OK) == 0) {
		printf("zest: already started\n");
		r = ZEST_OK;
		goto out;
	}
	if (service_write_record(rec.s) < 0)
		goto out;
	if (geteuid() != 0)
		printf("zest: not run as root: every service runs as uid %ld\n",
		    (long)geteuid());
	printf("zest: no network services in this build\n");
	printf("zest: started\n");
	r = ZEST_OK;
out:
	str_free(&rec);
	return r;
}

int
cmd_stop(struct instance *inst, int argc, char **argv)
{
	struct str rec = STR_INIT;
	int r = ZEST_FAIL, gone;

	if (argc != 1)
		return zest_usage("stop");
	if (service_record(inst, &rec) < 0)
		goto out;
	gone = unlink(rec.s) < 0 ? errno : 0;
	if (gone != 0 && gone != ENOENT) {
		zest_err("%s: %s", rec.s, strerror(gone));
		goto out;
	}
	printf("zest: %s\n", gone ? "was not started" : "stopped");
	r = ZEST_OK;
out:
	str_free(&rec);
	return r;
}

static int
service_count(const char *key, const char *value, void *arg)
{
	(*(unsigned long *)arg)++;
	return 0;
}

/* Print the number of users, or why it is unknown. */
static void
service_users(const struct instance *inst)
{
	struct str p = STR_INIT;
	unsigned long n = 0;
	struct table *t = NULL;

	if (str_appendf(&p, "%s/%s.cdb", inst->tables_dir, USERS_TABLE) == 0 &&
	    (t = table_open(p.s)) != NULL && table_foreach(t, service_count,
	    &n) == 0)
		printf("users: %lu\n", n);
	else
		printf("users: unknown (%s: %s)\n", p.s ? p.s : "users",
		    strerror(errno));
	table_close(&t);
	str_free(&p);
}

int
cmd_status(struct instance *inst, int argc, char **argv)
{
	struct str rec = STR_INIT;
	int started;

	if (argc != 1)
		return zest_usage("status");
	if (service_record(inst, &rec) < 0)
		return ZEST_FAIL;
	started = access(rec.s, F_OK) == 0;
	str_free(&rec);
	printf("instance: %s\n", inst->dir ? inst->dir : inst->conf_path);
	printf("domain: %s\nhostname: %s\nport base: %u\n", inst->domain,
	    inst->hostname, inst->port_base);
	service_users(inst);
	printf("services: none in this build\n");
	printf("state: %s\n", started ? "started" : "stopped");
	return ZEST_OK;
}
