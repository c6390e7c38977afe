/* SPDX-License-Identifier: ISC */
/*
 * queued: delivery status notifications.  Once no job of a message is in
 * flight, the outcomes that owe a report are gathered into one DSN per
 * kind (failed, delivered, relayed) built by lib/dsn and injected as a new
 * message through queue-inject (from queue/bounce/, null sender); only
 * then are they marked reported (S lines).  A crash in between sends a
 * report twice, never none.  A null-sender message that fails gets a
 * double bounce to the postmaster, marked in its C line so that its own
 * failure is only logged.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dsn.h"
#include "fs.h"
#include "log.h"
#include "queued.h"

#define BOUNCE_ANSWER_MAX 512

void
bounce_cleanup(struct queued *q)
{
	struct str p = STR_INIT;
	struct dirent *de;
	DIR *d = opendir("bounce");

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		str_clear(&p);
		str_appendf(&p, "bounce/%s", de->d_name);
		unlink(p.s);
	}
	closedir(d);
	str_free(&p);
}

/* Run queue-inject (the instance's setuid copy when there is one) with
 * stdin from path; put the new id into id_r. */
static int
bounce_run(struct queued *q, const char *path, struct str *id_r)
{
	struct str ans = STR_INIT;
	char buf[BOUNCE_ANSWER_MAX], *prog;
	int in, p[2], st;
	ssize_t n;
	pid_t pid;

	if ((in = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	if (pipe2(p, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
		close(in);
		return -1;
	}
	if (pid == 0) {
		char *args[] = { (char *)"queue-inject", (char *)"-C",
		    (char *)q->conf_dir, NULL };

		if (dup2(in, 0) < 0 || dup2(p[1], 1) < 0)
			_exit(71);
		if (q->conf_dir == NULL)
			args[1] = NULL;
		if ((prog = instance_queue_inject(&q->inst)) != NULL)
			execv(prog, args);
		_exit(71);
	}
	close(in);
	close(p[1]);
	while (ans.len < BOUNCE_ANSWER_MAX &&
	    (n = read(p[0], buf, sizeof buf - ans.len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || str_append(&ans, buf, (size_t)n) < 0)
			break;
	}
	close(p[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	n = strncmp(str_cstr(&ans), "ok ", 3) == 0 && ans.s[ans.len - 1] ==
	    '\n' ? 0 : -1;
	if (n == 0)
		str_append(id_r, ans.s + 3, ans.len - 4);
	else
		log_err("queue-inject: %s", ans.len ? ans.s : "no answer");
	str_free(&ans);
	return (int)n;
}

/* Inject a report: ENV text env (ended by ".") and the message body. */
static int
bounce_inject(struct queued *q, struct msg *m, const struct str *env,
    const struct str *body, struct str *id_r)
{
	struct str path = STR_INIT, head = STR_INIT;
	int fd, r = -1;

	str_appendf(&path, "bounce/%s.%lu", m->id, ++q->seq);
	str_appendf(&head, "D%zu\n", body->len);
	fd = open(str_cstr(&path), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
	if (fd < 0) {
		log_err("%s: %s", str_cstr(&path), strerror(errno));
		goto out;
	}
	if (fs_write_all(fd, env->s, env->len) < 0 ||
	    fs_write_all(fd, head.s, head.len) < 0 ||
	    fs_write_all(fd, body->s, body->len) < 0 ||
	    fs_write_all(fd, "E\n", 2) < 0) {
		log_err("%s: %s", path.s, strerror(errno));
		close(fd);
		goto out;
	}
	close(fd);
	r = bounce_run(q, path.s, id_r);
out:
	if (path.s != NULL)
		unlink(path.s);
	str_free(&path);
	str_free(&head);
	return r;
}

/* Split an outcome text "x.y.z [type; ]detail" into the report's fields;
 * the pieces point into buf (a copy of text). */
static void
bounce_fields(char *buf, struct dsn_rcpt *d)
{
	char *sp = strchr(buf, ' '), *semi;

	d->diag = sp != NULL ? sp + 1 : "";
	if (sp != NULL) {
		*sp = '\0';
		d->status = buf;
	}
	semi = strstr(d->diag, "; ");
	if (semi != NULL && semi - d->diag < 12 &&
	    strspn(d->diag, "abcdefghijklmnopqrstuvwxyz-") ==
	    (size_t)(semi - d->diag)) {
		*semi = '\0';
		d->diag_type = d->diag;
		d->diag = semi + 2;
	}
}

/* The original as the report returns it: whole or its header. */
static int
bounce_original(struct queued *q, struct msg *m, int full,
    struct str *out)
{
	if (full)
		return msg_read_all(m, out);
	return msg_read_head(m, QUEUED_HEADER_MAX, out);
}

/* Build and send one report about recipients idx[0..n) to to. */
static int
bounce_send(struct queued *q, struct msg *m, enum dsn_action act,
    const size_t *idx, size_t n, const char *to, const char *mark,
    time_t now, struct str *id_r)
{
	struct dsn_info info = { q->inst.hostname, NULL, to, m->env.envid,
	    m->id, (time_t)m->env.arrival, now, 0, m->env.smtputf8 };
	struct dsn_rcpt *d = calloc(n, sizeof *d);
	char **bufs = calloc(n, sizeof *bufs);
	struct str from = STR_INIT, orig = STR_INIT, body = STR_INIT,
	    env = STR_INIT;
	size_t k;
	int r = -1, eight;

	if (d == NULL || bufs == NULL)
		goto out;
	info.ret_full = act == DSN_FAILED && m->env.ret != QENV_RET_HDRS &&
	    m->env.body != QENV_BODY_BINARYMIME && m->size <= q->bounce_limit;
	str_appendf(&from, "MAILER-DAEMON@%s", q->inst.domain);
	info.from = from.s;
	for (k = 0; k < n; k++) {
		const struct rcpt *rc = &m->r[idx[k]];

		d[k].final = m->env.rcpt[idx[k]].addr;
		d[k].orcpt = m->env.rcpt[idx[k]].orcpt;
		d[k].action = act;
		d[k].remote_mta = rc->mta;
		d[k].last_attempt = rc->last;
		d[k].retry_until = (time_t)m->env.arrival + q->lifetime;
		if ((bufs[k] = strdup(rc->text ? rc->text : "")) != NULL)
			bounce_fields(bufs[k], &d[k]);
	}
	if (bounce_original(q, m, info.ret_full, &orig) < 0 ||
	    dsn_build(&info, d, n, orig.s ? orig.s : "", orig.len, &body,
	    &eight) < 0) {
		log_err("%s: building a report: %s", m->id, strerror(errno));
		goto out;
	}
	str_appendf(&env, "V1\nF\nC%s %s\n%s%sR%s\t\t\n.\n", mark, m->id,
	    eight ? "B8BITMIME\n" : "", m->env.smtputf8 ? "U\n" : "", to);
	r = bounce_inject(q, m, &env, &body, id_r);
out:
	for (k = 0; bufs != NULL && k < n; k++)
		free(bufs[k]);
	free(bufs);
	free(d);
	str_free(&from);
	str_free(&orig);
	str_free(&body);
	str_free(&env);
	return r;
}

/* Send the reports of one kind that m owes. */
static void
bounce_kind(struct queued *q, struct msg *m, enum report kind, time_t now)
{
	static const enum dsn_action act[] = { DSN_FAILED, DSN_FAILED,
	    DSN_DELIVERED, DSN_RELAYED, DSN_FAILED };
	struct str to = STR_INIT, id = STR_INIT;
	size_t *idx, n = 0, k;
	char num[24];

	if ((idx = calloc(m->env.nrcpt, sizeof *idx)) == NULL)
		return;
	for (k = 0; k < m->env.nrcpt; k++)
		if (m->r[k].report == kind)
			idx[n++] = k;
	if (n == 0)
		goto out;
	if (kind == REPORT_DOUBLE)
		str_appendf(&to, "postmaster@%s", q->inst.domain);
	else
		str_appends(&to, m->env.sender);
	if (msg_state_sync(q) < 0 ||
	    bounce_send(q, m, act[kind], idx, n, to.s, kind == REPORT_DOUBLE ?
	    "queued: double-bounce" : "queued: report", now, &id) < 0) {
		m->hold = now + q->retry_min;
		m->recheck = 1;
		goto out;
	}
	log_info("%s: %s report %s to <%s> for %zu recipient%s", m->id,
	    kind == REPORT_FAILED ? "failure" : kind == REPORT_DOUBLE ?
	    "double-bounce" : "success", id.s, to.s, n, n == 1 ? "" : "s");
	for (k = 0; k < n; k++) {
		snprintf(num, sizeof num, "%zu", idx[k]);
		msg_state(q, m, num, 'S', now, id.s);
		m->r[idx[k]].report = REPORT_NONE;
	}
out:
	free(idx);
	str_free(&to);
	str_free(&id);
}

void
bounce_reports(struct queued *q, struct msg *m, time_t now)
{
	if (m->busy > 0 || m->bad || m->hold > now)
		return;
	bounce_kind(q, m, REPORT_FAILED, now);
	bounce_kind(q, m, REPORT_DELIVERED, now);
	bounce_kind(q, m, REPORT_RELAYED, now);
	bounce_kind(q, m, REPORT_DOUBLE, now);
}

void
bounce_delay(struct queued *q, struct msg *m, time_t now)
{
	struct str id = STR_INIT;
	size_t *idx, n = 0, k;

	m->delay_sent = 1;
	if (m->env.sender[0] == '\0' ||
	    (idx = calloc(m->env.nrcpt, sizeof *idx)) == NULL)
		return;
	for (k = 0; k < m->env.nrcpt; k++)
		if (m->r[k].outcome == 0 &&
		    dsn_wanted(m->env.rcpt[k].notify, DSN_DELAYED))
			idx[n++] = k;
	if (n > 0 && bounce_send(q, m, DSN_DELAYED, idx, n, m->env.sender,
	    "queued: report", now, &id) == 0) {
		log_info("%s: delay notice %s to <%s>", m->id, id.s,
		    m->env.sender);
		msg_state(q, m, "-", 'W', now, id.s);
	}
	free(idx);
	str_free(&id);
}
