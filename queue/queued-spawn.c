/* SPDX-License-Identifier: ISC */
/*
 * queued: the channel to the spawner (docs/QUEUE.md).  Requests go out as
 * "L <job> <id> <user> <rcpt> <sender>" and "M <job> <id> <domain>" with
 * the ENV text; replies come back in completion order, each line naming
 * its job.  A reply that does not parse is logged and ignored; a job that
 * never hears back keeps its recipients busy until the spawner goes away,
 * and then queued exits.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "dsn.h"
#include "log.h"
#include "queued.h"

#define SPAWN_LINE_MAX 4096	/* a reply line */

/* What deliver's exit status means (sysexits(3)); anything not listed is
 * a temporary failure. */
static const struct {
	int code;
	const char *status;	/* 4.x.x: retry; 5.x.x: bounce */
} spawn_exits[] = {
	{ EX_OK, "2.0.0" },
	{ EX_USAGE, "5.3.5" },
	{ EX_DATAERR, "5.6.0" },
	{ EX_NOUSER, "5.1.1" },
	{ EX_NOHOST, "5.1.2" },
	{ EX_CANTCREAT, "5.2.0" },
	{ EX_NOPERM, "5.7.1" },
	{ EX_TEMPFAIL, "4.2.0" },
	{ EX_CONFIG, "4.3.5" },
};

static struct qjob *
job_new(struct queued *q, char kind, struct msg *m)
{
	struct qjob *j = calloc(1, sizeof *j);

	if (j == NULL)
		return NULL;
	j->num = ++q->next_job;
	j->kind = kind;
	j->m = m;
	j->next = q->jobs;
	q->jobs = j;
	m->busy++;
	return j;
}

static struct qjob *
job_find(struct queued *q, unsigned long num)
{
	struct qjob *j;

	for (j = q->jobs; j != NULL; j = j->next)
		if (j->num == num)
			return j;
	return NULL;
}

/* The job is over: free it, then send what the message owes and remove
 * it when it is done. */
static void
job_end(struct queued *q, struct qjob *j, time_t now)
{
	struct qjob **pp = &q->jobs;
	struct msg *m = j->m;

	while (*pp != j)
		pp = &(*pp)->next;
	*pp = j->next;
	if (j->kind == 'L')
		q->local_busy--;
	else
		q->remote_busy--;
	free(j->idx);
	free(j->got);
	free(j->host);
	free(j);
	if (--m->busy == 0) {
		bounce_reports(q, m, now);
		msg_finish(q, m);
	}
}

/* Recipient i of m is no longer in a job; record its result. */
static void
spawn_result(struct queued *q, struct msg *m, size_t i, int cls,
    const char *text, time_t now)
{
	m->r[i].busy = 0;
	sched_result(q, m, i, cls, text, now);
}

/* Start a request for the next job of m. */
static void
spawn_req(struct queued *q, struct qenv_req *rq, char kind,
    const struct msg *m)
{
	memset(rq, 0, sizeof *rq);
	rq->kind = kind;
	snprintf(rq->job, sizeof rq->job, "%lu", q->next_job + 1);
	memcpy(rq->id, m->id, sizeof rq->id);
}

/* Copy s into a request field of size n; 0 when it fits. */
static int
spawn_field(char *dst, size_t n, const char *s)
{
	size_t len = strlen(s);

	if (len >= n)
		return -1;
	memcpy(dst, s, len + 1);
	return 0;
}

/* A recipient that no request can carry fails as deliver or remote
 * would make it fail; the message's reports follow later. */
static void
spawn_refuse(struct queued *q, struct msg *m, size_t i, const char *text)
{
	sched_result(q, m, i, 5, text, time(NULL));
	m->recheck = 1;
}

int
spawn_local(struct queued *q, struct msg *m, size_t i)
{
	struct rcpt *r = &m->r[i];
	struct qenv_req rq;
	struct qjob *j;

	spawn_req(q, &rq, 'L', m);
	if (spawn_field(rq.user, sizeof rq.user, r->user) < 0 ||
	    spawn_field(rq.rcpt, sizeof rq.rcpt, r->final) < 0 ||
	    spawn_field(rq.sender, sizeof rq.sender, m->env.sender) < 0 ||
	    qenv_req_format(&rq, &q->out) < 0) {
		spawn_refuse(q, m, i, "5.1.3 x-zest; address not deliverable");
		return -1;
	}
	if ((j = job_new(q, 'L', m)) == NULL)
		queued_die("out of memory");
	j->rcpt = i;
	r->busy = 1;
	q->local_busy++;
	return 0;
}

int
spawn_remote(struct queued *q, struct msg *m, const size_t *idx, size_t n)
{
	struct qenv_req rq;
	struct qjob *j;
	size_t k;

	if (n == 0)
		return -1;
	spawn_req(q, &rq, 'M', m);
	if (spawn_field(rq.domain, sizeof rq.domain, m->r[idx[0]].domain) < 0
	    || qenv_req_format(&rq, &q->out) < 0) {
		for (k = 0; k < n; k++)
			spawn_refuse(q, m, idx[k], "5.1.2 x-zest; invalid "
			    "domain");
		return -1;
	}
	if ((j = job_new(q, 'M', m)) == NULL ||
	    (j->idx = calloc(n, sizeof *j->idx)) == NULL ||
	    (j->got = calloc(n, 1)) == NULL)
		queued_die("out of memory");
	j->n = n;
	q->remote_busy++;
	qenv_format_head(&m->env, &q->out);
	for (k = 0; k < n; k++) {
		j->idx[k] = idx[k];
		m->r[idx[k]].busy = 1;
		qenv_format_rcpt(&m->env.rcpt[idx[k]], &q->out);
	}
	if (str_appends(&q->out, ".\n") < 0)
		queued_die("out of memory");
	return 0;
}

/* "<job> <exit status> <text>" for an L job. */
static void
reply_local(struct queued *q, struct qjob *j, const char *rest, time_t now)
{
	struct str text = STR_INIT;
	const char *status = "4.3.0", *sp;
	char *end;
	long code = strtol(rest, &end, 10);
	size_t k;

	if (end == rest || (*end != ' ' && *end != '\0') || code < 0 ||
	    code > 255) {
		log_warn("job %lu: malformed reply ignored", j->num);
		return;
	}
	sp = *end == ' ' ? end + 1 : end;
	for (k = 0; k < sizeof spawn_exits / sizeof spawn_exits[0]; k++)
		if (spawn_exits[k].code == code)
			status = spawn_exits[k].status;
	if (code == 0)
		str_appendf(&text, "2.0.0 x-unix; delivered to %s",
		    j->m->r[j->rcpt].final);
	else
		str_appendf(&text, "%s x-unix; %s%s(exit %ld)", status, sp,
		    *sp ? " " : "", code);
	spawn_result(q, j->m, j->rcpt, status[0] - '0', str_cstr(&text), now);
	str_free(&text);
	job_end(q, j, now);
}

/* "<n> <code> <x.y.z> <text>" from remote, for recipient n of job j. */
static void
reply_rcpt(struct queued *q, struct qjob *j, const char *rest, time_t now)
{
	struct str text = STR_INIT, st = STR_INIT;
	struct rcpt *r;
	unsigned long n;
	char *end;
	const char *p;

	n = strtoul(rest, &end, 10);
	p = end;
	if (end == rest || *p != ' ' || n >= j->n || j->got[n] ||
	    strlen(p + 1) < 3 || !strchr("245", p[1]) ||
	    p[2] < '0' || p[2] > '9' || p[3] < '0' || p[3] > '9' ||
	    (p[4] != ' ' && p[4] != '\0')) {
		log_warn("job %lu: malformed remote result ignored", j->num);
		return;
	}
	j->got[n] = 1;
	r = &j->m->r[j->idx[n]];
	p++;
	if (p[3] != '\0') {
		end = strchr(p + 4, ' ');
		str_append(&st, p + 4, end != NULL ? (size_t)(end - p - 4) :
		    strlen(p + 4));
	}
	if (!dsn_status_valid(str_cstr(&st)) || st.s[0] != p[0]) {
		str_clear(&st);
		str_appendf(&st, "%c.0.0", p[0]);
	}
	str_appendf(&text, "%s smtp; %s", st.s, p);
	if (j->host != NULL) {
		free(r->mta);
		r->mta = strdup(j->host);
	}
	spawn_result(q, j->m, j->idx[n], p[0] - '0', text.s, now);
	str_free(&text);
	str_free(&st);
}

/* The lines of an M job: results, H lines, then "done". */
static void
reply_remote(struct queued *q, struct qjob *j, const char *rest, time_t now)
{
	size_t k;

	if (strncmp(rest, "H ", 2) == 0) {
		free(j->host);
		j->host = strdup(rest + 2);
		return;
	}
	if (strcmp(rest, "done") != 0) {
		reply_rcpt(q, j, rest, now);
		return;
	}
	for (k = 0; k < j->n; k++)
		if (!j->got[k])
			spawn_result(q, j->m, j->idx[k], 4, "4.4.0 x-zest; "
			    "remote gave no result", now);
	job_end(q, j, now);
}

static void
spawn_line(struct queued *q, const char *line, time_t now)
{
	struct qjob *j;
	unsigned long num;
	char *end;

	num = strtoul(line, &end, 10);
	if (end == line || *end != ' ' || (j = job_find(q, num)) == NULL) {
		log_warn("reply for no job ignored");
		return;
	}
	if (j->kind == 'L')
		reply_local(q, j, end + 1, now);
	else
		reply_remote(q, j, end + 1, now);
}

int
spawn_read(struct queued *q, time_t now)
{
	char buf[16384], *p, *nl;
	ssize_t n = read(q->sock, buf, sizeof buf);
	size_t rest;

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if (n == 0 || str_append(&q->in, buf, (size_t)n) < 0)
		return -1;
	for (p = q->in.s; (nl = memchr(p, '\n', q->in.len -
	    (size_t)(p - q->in.s))) != NULL; p = nl + 1) {
		*nl = '\0';
		if (memchr(p, '\0', (size_t)(nl - p)) == NULL)
			spawn_line(q, p, now);
	}
	(void)msg_state_sync(q);
	rest = q->in.len - (size_t)(p - q->in.s);
	memmove(q->in.s, p, rest);
	str_truncate(&q->in, rest);
	if (q->in.len > SPAWN_LINE_MAX) {
		log_err("over-long reply from the spawner");
		return -1;
	}
	return 0;
}

int
spawn_write(struct queued *q)
{
	ssize_t n;

	if (q->out.len == 0)
		return 0;
	n = write(q->sock, q->out.s, q->out.len);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	memmove(q->out.s, q->out.s + n, q->out.len - (size_t)n);
	str_truncate(&q->out, q->out.len - (size_t)n);
	return 0;
}
