/* SPDX-License-Identifier: ISC */
/*
 * zest queue: list the queue as mailq does: per message its id, size,
 * arrival and sender, then each recipient with its state (from the
 * message's state file, see docs/QUEUE.md).  zest flush: ask queued to
 * try every message now (an 'F' into the trigger FIFO).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "qenv.h"
#include "zest.h"

#define QUEUE_FILE_MAX (64UL << 20)

/* What the state file says of one recipient. */
struct queue_rcpt {
	char last;		/* 0, 'D', 'F', 'R' */
	int reported;		/* an S line came after the last D or F */
	unsigned tries;
	char *text;
};

static int
queue_idcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The ids in queue_dir/env/, sorted (oldest first). */
static int
queue_ids(const char *qdir, char ***ids_r, size_t *n_r)
{
	struct str p = STR_INIT;
	struct dirent *de;
	char **ids = NULL, **nids;
	size_t n = 0;
	DIR *d;

	str_appendf(&p, "%s/env", qdir);
	d = opendir(str_cstr(&p));
	if (d == NULL) {
		zest_err("%s: %s", str_cstr(&p), strerror(errno));
		str_free(&p);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (!qenv_id_valid(de->d_name))
			continue;
		if ((nids = reallocarray(ids, n + 1, sizeof *ids)) == NULL)
			break;
		ids = nids;
		if ((ids[n] = strdup(de->d_name)) != NULL)
			n++;
	}
	closedir(d);
	str_free(&p);
	if (n > 1)
		qsort(ids, n, sizeof *ids, queue_idcmp);
	*ids_r = ids;
	*n_r = n;
	return 0;
}

/* Apply state/<id> to the recipients. */
static void
queue_state(const char *qdir, const char *id, struct queue_rcpt *r,
    size_t nrcpt)
{
	struct str p = STR_INIT, text = STR_INIT;
	char *line, *nl, *f[4], *end;
	unsigned long n;
	int k;

	str_appendf(&p, "%s/state/%s", qdir, id);
	if (fs_read_file(str_cstr(&p), QUEUE_FILE_MAX, &text) < 0)
		goto out;
	for (line = text.s; line != NULL && (nl = strchr(line, '\n'));
	    line = nl + 1) {
		*nl = '\0';
		for (k = 0, f[0] = line; k < 3 && f[k] != NULL; k++)
			if ((f[k + 1] = strchr(f[k], ' ')) != NULL)
				*f[k + 1]++ = '\0';
		if (k < 3 || f[3] == NULL || strlen(f[1]) != 1)
			continue;
		n = strtoul(f[0], &end, 10);
		if (*end != '\0' || end == f[0] || n >= nrcpt)
			continue;
		if (f[1][0] == 'S') {
			r[n].reported = 1;
			continue;
		}
		r[n].last = f[1][0];
		r[n].reported = 0;
		r[n].tries += f[1][0] == 'R';
		free(r[n].text);
		r[n].text = strdup(f[3]);
	}
out:
	str_free(&p);
	str_free(&text);
}

static const char *
queue_state_name(const struct queue_rcpt *r)
{
	switch (r->last) {
	case 'D':
		return r->reported ? "delivered, reported" : "delivered";
	case 'F':
		return r->reported ? "failed, reported" : "failed";
	case 'R':
		return "retry";
	default:
		return "queued";
	}
}

/* Read message id's envelope into e: exp/<id> (the aliases resolved) when
 * there is one, else env/<id>; and the message's size: the rest of a V2
 * env/ file, or msg/<id> (V1), -1 when unknown.  0, or -1 with a reason in
 * err or errno. */
static int
queue_env(const char *qdir, const char *id, struct qenv *e,
    long long *size_r, struct str *err)
{
	struct str p = STR_INIT, text = STR_INIT, exp = STR_INIT;
	unsigned long long off = 0;
	struct stat st;
	int fd, v = -1, r = -1;

	*size_r = -1;
	str_appendf(&p, "%s/env/%s", qdir, id);
	if ((fd = open(str_cstr(&p), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0 ||
	    (v = qenv_file_read(fd, QUEUE_FILE_MAX, &text, &off)) < 0)
		goto out;
	if (v == 2 && fstat(fd, &st) == 0)
		*size_r = (long long)st.st_size - (long long)off;
	str_clear(&p);
	str_appendf(&p, "%s/exp/%s", qdir, id);
	if (fs_read_file(str_cstr(&p), QUEUE_FILE_MAX, &exp) < 0 &&
	    errno != ENOENT)
		goto out;
	/* exp/<id>, when there is one, is the envelope to go by */
	if (qenv_parse(e, exp.len > 0 ? exp.s : str_cstr(&text), exp.len > 0 ?
	    exp.len : text.len, QENV_STORED, 0, err) < 0)
		goto out;
	str_clear(&p);
	str_appendf(&p, "%s/msg/%s", qdir, id);
	if (v == 1 && stat(str_cstr(&p), &st) == 0)
		*size_r = (long long)st.st_size;
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	str_free(&p);
	str_free(&text);
	str_free(&exp);
	return r;
}

/* Print one message; returns 0, or -1 when it could not be read. */
static int
queue_show(const char *qdir, const char *id)
{
	struct str err = STR_INIT;
	struct queue_rcpt *r = NULL;
	struct qenv e;
	long long size;
	char date[32];
	struct tm tm;
	time_t t;
	size_t i;

	qenv_init(&e, QENV_STORED, 0);
	if (queue_env(qdir, id, &e, &size, &err) < 0) {
		printf("%s (unreadable: %s)\n", id, err.len ? err.s :
		    strerror(errno));
		goto out;
	}
	t = (time_t)e.arrival;
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		date[0] = '\0';
	printf("%s %lld %s <%s>%s\n", id, size, date, e.sender, e.expanded ?
	    " (aliases resolved)" : "");
	if ((r = calloc(e.nrcpt, sizeof *r)) == NULL)
		goto out;
	queue_state(qdir, id, r, e.nrcpt);
	for (i = 0; i < e.nrcpt; i++) {
		printf("    <%s> %s", e.rcpt[i].addr, queue_state_name(&r[i]));
		if (r[i].tries > 0)
			printf(" (%u %s)", r[i].tries, r[i].tries == 1 ?
			    "try" : "tries");
		printf("%s%s\n", r[i].text ? ": " : "", r[i].text ?
		    r[i].text : "");
		free(r[i].text);
	}
out:
	free(r);
	qenv_free(&e);
	str_free(&err);
	return 0;
}

int
cmd_queue(struct instance *inst, int argc, char **argv)
{
	char **ids;
	size_t n, i;

	if (argc != 1)
		return zest_usage("queue");
	if (queue_ids(inst->queue_dir, &ids, &n) < 0)
		return ZEST_FAIL;
	for (i = 0; i < n; i++) {
		queue_show(inst->queue_dir, ids[i]);
		free(ids[i]);
	}
	free(ids);
	if (n == 0)
		printf("queue is empty\n");
	else
		printf("%zu message%s in the queue\n", n, n == 1 ? "" : "s");
	return ZEST_OK;
}

int
cmd_flush(struct instance *inst, int argc, char **argv)
{
	struct str p = STR_INIT;
	struct stat st;
	int fd, r = ZEST_FAIL;

	if (argc != 1)
		return zest_usage("flush");
	str_appendf(&p, "%s/trigger", inst->queue_dir);
	fd = open(str_cstr(&p), O_WRONLY | O_NONBLOCK | O_CLOEXEC |
	    O_NOFOLLOW);
	if (fd < 0)
		zest_err("%s: %s", str_cstr(&p), errno == ENXIO ?
		    "queued is not running" : strerror(errno));
	else if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode))
		zest_err("%s is not a FIFO", str_cstr(&p));
	else if (write(fd, "F", 1) != 1)
		zest_err("%s: %s", str_cstr(&p), strerror(errno));
	else {
		printf("zest: queued will try every message now\n");
		r = ZEST_OK;
	}
	if (fd >= 0)
		close(fd);
	str_free(&p);
	return r;
}
