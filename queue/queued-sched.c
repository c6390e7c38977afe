/* SPDX-License-Identifier: ISC */
/*
 * queued: what to try when.  Messages are tried oldest first; local
 * recipients one deliver each, remote ones one remote per message and
 * domain; at most local_concurrency and remote_concurrency at once.  A
 * temporary failure waits queue_retry_min, doubling up to queue_retry_max;
 * past queue_lifetime it becomes a failure (5.4.7).  A message that has
 * waited delay_warning with a recipient still retrying sends one delay
 * notice.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "queued.h"

time_t
sched_backoff(const struct queued *q, unsigned tries)
{
	time_t d = q->retry_min;

	while (tries-- > 1 && d < q->retry_max)
		d *= 2;
	return d < q->retry_max ? d : q->retry_max;
}

/* Whether recipient r may be tried now. */
static int
sched_due(const struct rcpt *r, time_t now)
{
	return r->outcome == 0 && !r->busy && r->final != NULL &&
	    r->next <= now;
}

/* Whether domain has remote_destination_concurrency jobs running (or
 * every remote slot is taken). */
static int
sched_dest_full(const struct queued *q, const char *domain)
{
	const struct qjob *j;
	unsigned n = 0;

	if (q->remote_busy >= q->remote_max)
		return 1;
	for (j = q->jobs; j != NULL; j = j->next)
		if (j->kind == 'M' && j->n > 0 &&
		    strcasecmp(j->m->r[j->idx[0]].domain, domain) == 0 &&
		    ++n >= q->dest_max)
			return 1;
	return 0;
}

/* Start one remote job per domain of m's due remote recipients. */
static void
sched_remote(struct queued *q, struct msg *m, time_t now)
{
	size_t *idx, i, j, n;
	unsigned char *taken;

	if ((idx = calloc(m->env.nrcpt, sizeof *idx)) == NULL ||
	    (taken = calloc(m->env.nrcpt, 1)) == NULL) {
		free(idx);
		return;
	}
	for (i = 0; i < m->env.nrcpt && q->remote_busy < q->remote_max; i++) {
		if (taken[i] || !m->r[i].remote || !sched_due(&m->r[i], now) ||
		    sched_dest_full(q, m->r[i].domain))
			continue;
		for (n = 0, j = i; j < m->env.nrcpt; j++) {
			if (!taken[j] && m->r[j].remote &&
			    sched_due(&m->r[j], now) &&
			    strcasecmp(m->r[j].domain, m->r[i].domain) == 0) {
				taken[j] = 1;
				idx[n++] = j;
			}
		}
		spawn_remote(q, m, idx, n);
	}
	free(idx);
	free(taken);
}

/* A message whose report could not be sent earlier, or which finished
 * while its report was held, gets another chance. */
static void
sched_recheck(struct queued *q, struct msg *m, time_t now)
{
	m->recheck = 0;
	bounce_reports(q, m, now);
	msg_finish(q, m);
}

/* When m's delay notice is due (0: never): delay_warning after arrival,
 * once a recipient has failed temporarily. */
static time_t
sched_delay_due(const struct queued *q, const struct msg *m)
{
	size_t i;

	if (q->delay_warning == 0 || m->delay_sent)
		return 0;
	for (i = 0; i < m->env.nrcpt; i++)
		if (m->r[i].outcome == 0 && m->r[i].tries > 0)
			return (time_t)m->env.arrival + q->delay_warning;
	return 0;
}

void
sched_dispatch(struct queued *q, time_t now)
{
	struct msg *m, *next;
	time_t due;
	size_t i;

	for (m = q->head; m != NULL; m = next) {
		next = m->next;
		if (m->bad || m->hold > now)
			continue;
		if (!m->routed) {
			/* routing failed for a while: aliases, domains */
			if (route_msg(q, m, m->has_state, now) < 0) {
				m->hold = now + q->retry_min;
				continue;
			}
			m->routed = 1;
			m->recheck = 1;
		}
		if (m->recheck && m->busy == 0) {
			sched_recheck(q, m, now);
			continue;
		}
		if ((due = sched_delay_due(q, m)) != 0 && due <= now)
			bounce_delay(q, m, now);
		if (q->local_busy >= q->local_max &&
		    q->remote_busy >= q->remote_max)
			continue;
		for (i = 0; i < m->env.nrcpt; i++)
			if (!m->r[i].remote && sched_due(&m->r[i], now) &&
			    q->local_busy < q->local_max)
				spawn_local(q, m, i);
		if (q->remote_busy < q->remote_max)
			sched_remote(q, m, now);
	}
}

time_t
sched_wake(struct queued *q, time_t now)
{
	time_t wake = now + QUEUED_RESCAN, due;
	struct msg *m;
	size_t i;

	for (m = q->head; m != NULL; m = m->next) {
		if (m->bad)
			continue;
		if (m->hold > now) {
			if (m->hold < wake)
				wake = m->hold;
			continue;
		}
		if (m->recheck && m->busy == 0)
			return now;
		if ((due = sched_delay_due(q, m)) != 0 && due < wake)
			wake = due > now ? due : now;
		for (i = 0; i < m->env.nrcpt; i++) {
			const struct rcpt *r = &m->r[i];

			/* a due recipient that waits for a free slot is
			 * woken by the reply that frees it */
			if (r->outcome == 0 && !r->busy && r->final != NULL &&
			    r->next < wake && !(r->next <= now &&
			    (r->remote ? sched_dest_full(q, r->domain) :
			    q->local_busy >= q->local_max)))
				wake = r->next > now ? r->next : now;
		}
	}
	return wake;
}

void
sched_flush(struct queued *q)
{
	struct msg *m;
	size_t i;

	for (m = q->head; m != NULL; m = m->next) {
		m->hold = 0;
		for (i = 0; i < m->env.nrcpt; i++)
			m->r[i].next = 0;
	}
	log_info("flush: every message is tried now");
}

/* The text without its leading status: "smtp; 451 ..." */
static const char *
sched_detail(const char *text)
{
	const char *sp = strchr(text, ' ');

	return sp != NULL ? sp + 1 : text;
}

void
sched_result(struct queued *q, struct msg *m, size_t i, int cls,
    const char *text, time_t now)
{
	struct rcpt *r = &m->r[i];
	struct str t = STR_INIT;

	if (cls == 2 || cls == 5) {
		msg_outcome(q, m, i, cls == 2 ? 'D' : 'F', text, now);
		return;
	}
	if (now - (time_t)m->env.arrival >= q->lifetime) {
		str_appendf(&t, "5.4.7 %s (delivery time expired after %lld "
		    "days)", sched_detail(text), (long long)q->lifetime /
		    86400);
		msg_outcome(q, m, i, 'F', t.s, now);
		str_free(&t);
		return;
	}
	msg_outcome(q, m, i, 'R', text, now);
	r->next = now + sched_backoff(q, r->tries);
	log_info("%s: to=<%s> deferred (try %u, next in %llds): %s", m->id,
	    m->env.rcpt[i].addr, r->tries, (long long)(r->next - now), text);
}
