/* SPDX-License-Identifier: ISC */
/*
 * queued: the messages of the queue.  A message is env/<id> (its envelope
 * and, in a V2 file, its bytes after it; a V1 one has them in msg/<id>),
 * exp/<id> (the envelope with its aliases resolved, when any were) and
 * state/<id> (the outcomes so far, one fsync()ed line each).  This file
 * loads them, records outcomes, and removes a message once every
 * recipient is done and reported.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dsn.h"
#include "fs.h"
#include "log.h"
#include "queued.h"

/* The C line of the double bounces queued sends (see queued-bounce.c). */
#define DOUBLE_MARK "queued: double-bounce"

static size_t
msg_hash(const char *id, size_t size)
{
	uint32_t h = 2166136261u;

	for (; *id != '\0'; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	return h % size;
}

struct msg *
msg_find(struct queued *q, const char *id)
{
	struct msg *m;

	if (q->hsize == 0)
		return NULL;
	for (m = q->hash[msg_hash(id, q->hsize)]; m != NULL; m = m->hnext)
		if (strcmp(m->id, id) == 0)
			return m;
	return NULL;
}

/* Grow the hash table to twice the messages when it gets full. */
static int
msg_rehash(struct queued *q)
{
	struct msg **nh, *m;
	size_t ns = q->hsize ? q->hsize * 2 : 1024, h;

	if ((nh = calloc(ns, sizeof *nh)) == NULL)
		return -1;
	for (m = q->head; m != NULL; m = m->next) {
		h = msg_hash(m->id, ns);
		m->hnext = nh[h];
		nh[h] = m;
	}
	free(q->hash);
	q->hash = nh;
	q->hsize = ns;
	return 0;
}

static int
msg_insert(struct queued *q, struct msg *m)
{
	size_t h;

	if (q->count >= q->hsize && msg_rehash(q) < 0)
		return -1;
	h = msg_hash(m->id, q->hsize);
	m->hnext = q->hash[h];
	q->hash[h] = m;
	m->prev = q->tail;
	if (q->tail != NULL)
		q->tail->next = m;
	else
		q->head = m;
	q->tail = m;
	q->count++;
	return 0;
}

static void
msg_free(struct msg *m)
{
	size_t i;

	if (m->r != NULL) {
		for (i = 0; i < m->env.nrcpt; i++) {
			free(m->r[i].user);
			free(m->r[i].final);
			free(m->r[i].text);
			free(m->r[i].mta);
		}
	}
	free(m->r);
	qenv_free(&m->env);
	alias_seen_free(&m->seen);
	free(m);
}

static void
msg_unlink(struct queued *q, struct msg *m)
{
	struct msg **pp = &q->hash[msg_hash(m->id, q->hsize)];

	while (*pp != m)
		pp = &(*pp)->hnext;
	*pp = m->hnext;
	if (m->prev != NULL)
		m->prev->next = m->next;
	else
		q->head = m->next;
	if (m->next != NULL)
		m->next->prev = m->prev;
	else
		q->tail = m->prev;
	q->count--;
}

void
msg_free_all(struct queued *q)
{
	struct msg *m, *next;

	for (m = q->head; m != NULL; m = next) {
		next = m->next;
		msg_free(m);
	}
	free(q->hash);
	q->hash = NULL;
	q->head = q->tail = NULL;
	q->hsize = q->count = 0;
}

/* Whether a remote success was handed to a host that does not take
 * DSN parameters: remote's text starts with "relayed:". */
static int
text_relayed(const char *t)
{
	const char *p = t != NULL ? strstr(t, "smtp; ") : NULL;

	if (p == NULL || strlen(p) < 10)
		return 0;
	p += 10;		/* "smtp; 250 " */
	if (*p >= '0' && *p <= '9' && strchr(p, ' ') != NULL)
		p = strchr(p, ' ') + 1;	/* the x.y.z */
	return strncmp(p, "relayed:", 8) == 0;
}

/* What recipient i's outcome owes the sender. */
static enum report
msg_report(const struct msg *m, size_t i)
{
	const struct qenv_rcpt *er = &m->env.rcpt[i];
	const struct rcpt *r = &m->r[i];

	if (r->outcome == 'F') {
		if (m->env.sender[0] == '\0')
			return m->env.client != NULL && strncmp(m->env.client,
			    DOUBLE_MARK, strlen(DOUBLE_MARK)) == 0 ?
			    REPORT_NONE : REPORT_DOUBLE;
		return dsn_wanted(er->notify, DSN_FAILED) ? REPORT_FAILED :
		    REPORT_NONE;
	}
	if (r->outcome != 'D' || m->env.sender[0] == '\0' ||
	    !dsn_wanted(er->notify, DSN_DELIVERED))
		return REPORT_NONE;
	if (!r->remote)
		return REPORT_DELIVERED;
	return text_relayed(r->text) ? REPORT_RELAYED : REPORT_NONE;
}

/* Append "<n> <what> <t> <text>" to state/<id>.  Not synced here: the
 * lines of a whole batch of outcomes are made durable together by
 * msg_state_sync (one syncfs), which runs before queued waits again and
 * before any report is sent. */
int
msg_state(struct queued *q, struct msg *m, const char *n, char what,
    time_t t, const char *text)
{
	struct str path = STR_INIT, line = STR_INIT;
	int fd, r = -1;
	size_t i;

	str_appendf(&path, "state/%s", m->id);
	str_appendf(&line, "%s %c %lld ", n, what, (long long)t);
	for (i = 0; text[i] != '\0' && i < QUEUED_TEXT_MAX; i++)
		str_appendc(&line, (unsigned char)text[i] < 0x20 ? ' ' :
		    text[i]);
	if (str_appendc(&line, '\n') < 0 || path.s == NULL)
		goto out;
	fd = open(path.s, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		fd = open(path.s, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
		    0600);
	if (fd < 0)
		goto out;
	if (fs_write_all(fd, line.s, line.len) == 0) {
		q->state_dirty = 1;
		r = 0;
	}
	m->has_state = 1;
	close(fd);
out:
	if (r < 0)
		log_err("%s: cannot record outcome: %s", m->id,
		    strerror(errno));
	str_free(&path);
	str_free(&line);
	return r;
}

/* Whether every recipient of m is done and owes no report: m goes once
 * no job of it is in flight. */
static int
msg_done(const struct msg *m)
{
	size_t i;

	if (m->bad)
		return 0;
	for (i = 0; i < m->env.nrcpt; i++)
		if (m->r[i].outcome == 0 || m->r[i].report != REPORT_NONE)
			return 0;
	return 1;
}

/* Put m on the list msg_flush() goes through. */
static void
msg_pend(struct queued *q, struct msg *m)
{
	if (m->pending)
		return;
	m->pending = 1;
	if (q->done == NULL)
		q->done_since = queued_ms();
	q->ndone++;
	m->dnext = q->done;
	q->done = m;
}

void
msg_outcome(struct queued *q, struct msg *m, size_t i, char what,
    const char *text, time_t now)
{
	struct rcpt *r = &m->r[i];
	char n[24];

	snprintf(n, sizeof n, "%zu", i);
	free(r->text);
	r->text = strdup(text);
	r->last = now;
	if (what == 'R') {
		msg_state(q, m, n, what, now, text);
		r->tries++;
		return;
	}
	r->outcome = what;
	r->report = (unsigned char)msg_report(m, i);
	/* The last outcome of a message that owes nothing: its removal
	 * (env/ unlinked and fsynced, by msg_flush() for several messages
	 * at once) records it, or msg_flush() writes the line when the
	 * message cannot go.  Nothing acts on it before. */
	if (r->text != NULL && msg_done(m)) {
		r->unsaved = 1;
		msg_pend(q, m);
	} else
		msg_state(q, m, n, what, now, text);
	log_info("%s: to=<%s> %s: %s", m->id, m->env.rcpt[i].addr,
	    what == 'D' ? "delivered" : "failed", text);
}

/* Apply one line of a state file. */
static void
state_line(struct msg *m, char *line, char *last)
{
	char *f[4], *end;
	unsigned long n;
	long long t;
	int k;

	for (k = 0; k < 3; k++) {
		f[k] = line;
		if ((line = strchr(line, ' ')) == NULL)
			return;
		*line++ = '\0';
	}
	f[3] = line;
	t = strtoll(f[2], &end, 10);
	if (*end != '\0' || strlen(f[1]) != 1)
		return;
	if (strcmp(f[0], "-") == 0) {
		if (f[1][0] == 'W')
			m->delay_sent = 1;
		return;
	}
	n = strtoul(f[0], &end, 10);
	if (*end != '\0' || n >= m->env.nrcpt || !strchr("DFRS", f[1][0]))
		return;
	last[n] = f[1][0];
	if (f[1][0] == 'S')
		return;
	free(m->r[n].text);
	m->r[n].text = strdup(f[3]);
	m->r[n].last = (time_t)t;
	if (f[1][0] == 'R')
		m->r[n].tries++;
}

/* Read state/<id>.  Returns 1 when it has lines, 0 when none, -1. */
static int
state_load(struct msg *m)
{
	struct str path = STR_INIT, text = STR_INIT;
	char *last = NULL, *p, *nl;
	int r = 0, fd;
	size_t i;

	str_appendf(&path, "state/%s", m->id);
	if (fs_read_file(path.s, QUEUED_STATE_MAX, &text) < 0) {
		r = errno == ENOENT ? 0 : -1;
		goto out;
	}
	/* a line cut by a crash is ignored; end it so appends stay whole */
	if (text.len > 0 && text.s[text.len - 1] != '\n' &&
	    (fd = open(path.s, O_WRONLY | O_APPEND | O_CLOEXEC)) >= 0) {
		if (fs_write_all(fd, "\n", 1) < 0 || fsync(fd) < 0)
			r = -1;
		close(fd);
	}
	if (r < 0 || (last = calloc(m->env.nrcpt, 1)) == NULL) {
		r = -1;
		goto out;
	}
	for (p = text.s; p != NULL && (nl = strchr(p, '\n')) != NULL;
	    p = nl + 1) {
		*nl = '\0';
		state_line(m, p, last);
		r = 1;
	}
	for (i = 0; i < m->env.nrcpt; i++) {
		m->r[i].outcome = last[i] == 'R' ? 0 : last[i];
		m->r[i].report = (unsigned char)msg_report(m, i);
	}
out:
	free(last);
	str_free(&path);
	str_free(&text);
	return r;
}

/* Read exp/<id>, the envelope queued-route.c wrote with the aliases
 * resolved, into m->env in place of the original.  Returns 0 (also when
 * there is none), or -1. */
static int
msg_read_exp(struct msg *m)
{
	struct str path = STR_INIT, text = STR_INIT, err = STR_INIT;
	struct qenv ne;
	int r = -1;

	qenv_init(&ne, QENV_STORED, 0);
	str_appendf(&path, "exp/%s", m->id);
	if (fs_read_file(str_cstr(&path), QUEUED_ENV_MAX, &text) < 0) {
		if (errno == ENOENT)
			r = 0;
		else
			log_err("%s: %s", str_cstr(&path), strerror(errno));
		goto out;
	}
	if (qenv_parse(&ne, str_cstr(&text), text.len, QENV_STORED, 0,
	    &err) < 0 || !ne.expanded || ne.version != 1 ||
	    strcmp(ne.id, m->id) != 0) {
		log_err("%s: %s", path.s, err.len > 0 ? err.s :
		    "not this message's resolved envelope");
		goto out;
	}
	/* the layout of the queue file stays the original's */
	ne.version = m->env.version;
	ne.msg_offset = m->env.msg_offset;
	qenv_free(&m->env);
	m->env = ne;
	qenv_init(&ne, QENV_STORED, 0);
	r = 0;
out:
	qenv_free(&ne);
	str_free(&path);
	str_free(&text);
	str_free(&err);
	return r;
}

/* Read env/<id> (and exp/<id>) and the message's size: the rest of a V2
 * file after its envelope, or msg/<id> (V1).  Returns 0, 1 when the
 * envelope is gone, -1 (m->bad set) when unusable. */
static int
msg_read_env(struct msg *m)
{
	struct str path = STR_INIT, text = STR_INIT, err = STR_INIT;
	unsigned long long off = 0;
	struct stat st;
	int r = -1, fd, v = -1;

	str_appendf(&path, "env/%s", m->id);
	fd = open(str_cstr(&path), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT) {
		r = 1;
		goto out;
	}
	if (fd < 0 || (v = qenv_file_read(fd, QUEUED_ENV_MAX, &text,
	    &off)) < 0 || fstat(fd, &st) < 0) {
		log_err("%s: %s", path.s, strerror(errno));
		goto out;
	}
	if (qenv_parse(&m->env, str_cstr(&text), text.len, QENV_STORED, 0,
	    &err) < 0) {
		log_err("%s: %s", path.s, err.s);
		goto out;
	}
	if (v == 1) {
		str_clear(&path);
		str_appendf(&path, "msg/%s", m->id);
		if (stat(path.s, &st) < 0) {
			log_err("%s: %s", path.s, strerror(errno));
			goto out;
		}
	}
	m->size = (unsigned long long)st.st_size - off;
	if (msg_read_exp(m) == 0)
		r = 0;
out:
	if (fd >= 0)
		close(fd);
	m->bad = r < 0;
	str_free(&path);
	str_free(&text);
	str_free(&err);
	return r;
}

/* Load one message from the queue. */
static int
msg_load(struct queued *q, const char *id, time_t now)
{
	struct msg *m = calloc(1, sizeof *m);
	int r, has_state = 0;
	size_t i;

	if (m == NULL || strlen(id) >= sizeof m->id) {
		free(m);
		return -1;
	}
	memcpy(m->id, id, strlen(id) + 1);
	qenv_init(&m->env, QENV_STORED, 0);
	if ((r = msg_read_env(m)) > 0) {
		msg_free(m);
		return 0;
	}
	if (r == 0 && (m->r = calloc(m->env.nrcpt, sizeof *m->r)) == NULL) {
		msg_free(m);
		return -1;
	}
	if (r == 0 && (has_state = state_load(m)) < 0) {
		log_err("state/%s: %s", id, strerror(errno));
		m->bad = 1;
	}
	if (msg_insert(q, m) < 0) {
		msg_free(m);
		return -1;
	}
	if (m->bad)
		return 0;
	log_info("%s: from=<%s> size=%llu nrcpt=%zu", m->id, m->env.sender,
	    m->size, m->env.nrcpt);
	for (i = 0; i < m->env.nrcpt; i++)
		if (m->r[i].outcome == 0 && m->r[i].tries > 0)
			m->r[i].next = m->r[i].last +
			    sched_backoff(q, m->r[i].tries);
	m->has_state = has_state;
	if (!(m->routed = route_msg(q, m, has_state, now) == 0))
		m->hold = now + q->retry_min;
	/* reports owed from before a restart, or failures found now */
	m->recheck = 1;
	return 0;
}

int
msg_scan(struct queued *q, time_t now)
{
	struct dirent *de;
	DIR *d = opendir("env");
	int n = 0;

	if (d == NULL) {
		log_err("env/: %s", strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (!qenv_id_valid(de->d_name) || msg_find(q, de->d_name))
			continue;
		if (msg_load(q, de->d_name, now) < 0)
			log_err("%s: out of memory", de->d_name);
		else
			n++;
	}
	closedir(d);
	return n;
}

/* Write the outcomes msg_outcome() left to the removal of m. */
static void
msg_save(struct queued *q, struct msg *m)
{
	char n[24];
	size_t i;

	for (i = 0; i < m->env.nrcpt; i++) {
		if (!m->r[i].unsaved)
			continue;
		m->r[i].unsaved = 0;
		snprintf(n, sizeof n, "%zu", i);
		msg_state(q, m, n, m->r[i].outcome, m->r[i].last, m->r[i].text);
	}
}

/* The rest of a message whose env/ file is gone for good. */
static void
msg_remove(struct queued *q, struct msg *m)
{
	rm_msg(q, m->id);
	log_info("%s: removed", m->id);
	msg_unlink(q, m);
	msg_free(m);
}

/* Take env/<id> of a message that is done out of env/ (already gone: a
 * removal whose fsync failed before).  It is renamed into done/, not
 * unlinked: a rename frees no blocks, where an unlink on a file system
 * mounted with discard waits a millisecond or more for the TRIM, in
 * queued's loop.  The janitor unlinks done/<id> with msg/<id> and
 * state/<id>; start-up finishes what it did not. */
static int
msg_unlink_env(struct queued *q, struct msg *m)
{
	struct str p = STR_INIT, d = STR_INIT;
	int r = 0;

	str_appendf(&p, "env/%s", m->id);
	str_appendf(&d, "done/%s", m->id);
	if (rename(str_cstr(&p), str_cstr(&d)) < 0 && errno != ENOENT) {
		log_err("%s: %s", str_cstr(&p), strerror(errno));
		m->hold = time(NULL) + q->retry_min;
		m->recheck = 1;
		r = -1;
	}
	str_free(&p);
	str_free(&d);
	return r;
}

/* Messages whose removal failed: their lines, and another try later. */
static void
msg_hold_all(struct queued *q, struct msg *list)
{
	struct msg *m;

	for (m = list; m != NULL; m = m->dnext) {
		msg_save(q, m);
		m->hold = time(NULL) + q->retry_min;
		m->recheck = 1;
	}
}

/* Remove the messages that are done: every env/<id> first, then one
 * fsync of env/ (the commit point of them all), then msg/ and state/.
 * Outcomes of messages that cannot go are written now. */
void
msg_flush(struct queued *q)
{
	struct msg *m, *next, *gone = NULL;

	q->ndone = 0;
	for (m = q->done; m != NULL; m = next) {
		next = m->dnext;
		m->pending = 0;
		if (m->busy == 0 && msg_done(m) && msg_unlink_env(q, m) == 0) {
			m->dnext = gone;
			gone = m;
		} else
			msg_save(q, m);
	}
	q->done = NULL;
	if (gone != NULL && fs_fsync_dir("env") < 0) {
		log_err("env/: %s", strerror(errno));
		msg_hold_all(q, gone);
		return;
	}
	for (m = gone; m != NULL; m = next) {
		next = m->dnext;
		msg_remove(q, m);
	}
}

/*
 * Make the state/ lines written since the last call durable: one syncfs of
 * the queue's file system covers every file and the state/ directory (a
 * group commit: at 5 recipients a message, an fsync per line and per new
 * file was most of queued's time).  When syncfs fails (a writeback error
 * on this file system), sync(2) is tried once more for the whole system
 * and the failure returned, so that a caller about to send a report holds
 * the message and tries again.
 */
int
msg_state_sync(struct queued *q)
{
	if (!q->state_dirty)
		return 0;
	q->state_dirty = 0;
	if (syncfs(q->lockfd) == 0)
		return 0;
	log_err("state/: syncfs: %s", strerror(errno));
	sync();
	return -1;
}

void
msg_finish(struct queued *q, struct msg *m)
{
	if (m->busy == 0 && msg_done(m))
		msg_pend(q, m);
}

/* Remove the entries of dir that match: older than age seconds (age 0:
 * any), or (without_env) whose env/ file is missing. */
static void
clean_dir(const char *dir, time_t now, time_t age, int without_env)
{
	struct str p = STR_INIT;
	struct dirent *de;
	struct stat st;
	DIR *d = opendir(dir);

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		str_clear(&p);
		str_appendf(&p, "env/%s", de->d_name);
		if (without_env && (!qenv_id_valid(de->d_name) ||
		    access(p.s, F_OK) == 0 || errno != ENOENT))
			continue;
		str_clear(&p);
		str_appendf(&p, "%s/%s", dir, de->d_name);
		if (lstat(p.s, &st) < 0 || (age > 0 && now - st.st_mtime < age))
			continue;
		if (unlink(p.s) == 0)
			log_info("removed stale %s", p.s);
		/* a state file without its envelope: a removal was cut short
		 * (env/ goes first, then msg/, then state/) */
		str_clear(&p);
		str_appendf(&p, "msg/%s", de->d_name);
		if (strcmp(dir, "state") == 0 && unlink(p.s) == 0)
			log_info("removed stale %s", p.s);
	}
	closedir(d);
	str_free(&p);
}

/* Files in env/ that are not queue ids are no envelopes: remove them. */
/* Finish the removals the janitor did not: every done/<id> is a message
 * removed for good (out of env/, fsynced). */
static void
clean_done(void)
{
	struct dirent *de;
	DIR *d = opendir("done");
	unsigned long n = 0;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (qenv_id_valid(de->d_name)) {
			rm_files(de->d_name);
			n++;
		} else {
			(void)unlinkat(dirfd(d), de->d_name, 0);
		}
	}
	closedir(d);
	if (n > 0)
		log_info("removed %lu finished messages left by the janitor", n);
}

static void
clean_env(void)
{
	struct str p = STR_INIT;
	struct dirent *de;
	DIR *d = opendir("env");

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || qenv_id_valid(de->d_name))
			continue;
		str_clear(&p);
		str_appendf(&p, "env/%s", de->d_name);
		if (unlink(p.s) == 0)
			log_warn("removed %s: not a queue entry", p.s);
	}
	closedir(d);
	str_free(&p);
}

void
msg_cleanup(struct queued *q, time_t now)
{
	clean_env();
	clean_done();
	clean_dir("tmp", now, QUEUED_TMP_AGE, 0);
	clean_dir("state", now, 0, 1);
	clean_dir("exp", now, 0, 1);
	/* a V1 queue-inject renamed msg/ before env/: a young orphan may be
	 * an injection in progress */
	clean_dir("msg", now, QUEUED_TMP_AGE, 1);
	bounce_cleanup(q);
}

/* Open m's message: env/<id> from its offset (V2), or msg/<id>.  The
 * descriptor, with *off_r set, or -1. */
static int
msg_open(const struct msg *m, off_t *off_r)
{
	struct str p = STR_INIT;
	int fd;

	str_appendf(&p, "%s/%s", m->env.version == 2 ? "env" : "msg", m->id);
	fd = open(str_cstr(&p), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	str_free(&p);
	*off_r = m->env.version == 2 ? (off_t)m->env.msg_offset : 0;
	return fd;
}

int
msg_read_head(const struct msg *m, size_t max, struct str *out)
{
	char buf[8192];
	ssize_t n = 1;
	off_t off;
	int fd;

	if ((fd = msg_open(m, &off)) < 0)
		return -1;
	while (out->len < max && n > 0) {
		n = pread(fd, buf, sizeof buf < max - out->len ? sizeof buf :
		    max - out->len, off);
		if (n > 0 && str_append(out, buf, (size_t)n) < 0)
			n = -1;
		if (n > 0)
			off += n;
		if (n > 0 && dsn_header_len(out->s, out->len) < out->len)
			break;
	}
	close(fd);
	return n < 0 ? -1 : 0;
}

int
msg_read_all(const struct msg *m, struct str *out)
{
	char buf[65536];
	size_t want = (size_t)m->size;
	ssize_t n = 1;
	off_t off;
	int fd;

	if ((fd = msg_open(m, &off)) < 0)
		return -1;
	/* the size found at load: the message never changes */
	while (want > 0 && n > 0) {
		n = pread(fd, buf, want < sizeof buf ? want : sizeof buf, off);
		if (n < 0 && errno == EINTR) {
			n = 1;
			continue;
		}
		if (n > 0 && str_append(out, buf, (size_t)n) < 0)
			n = -1;
		if (n > 0) {
			off += n;
			want -= (size_t)n;
		}
	}
	close(fd);
	if (n == 0 && want > 0)
		errno = EINVAL;		/* shorter than at load */
	return want > 0 ? -1 : 0;
}
