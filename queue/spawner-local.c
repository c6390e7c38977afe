/* SPDX-License-Identifier: ISC */
/*
 * spawner-local: L requests go to long-lived delivery workers, one per user
 * (deliver -S, started as root exactly as a one-shot deliver was, so that
 * it reads the users table and drops to the user itself).  A worker's fd 0
 * is a SOCK_SEQPACKET socketpair end; each job is one datagram: the queue
 * message's descriptor (SCM_RIGHTS) and "<job>\0<rcpt>\0<sender>\0" (an
 * empty last field: INBOX).  Its answers, "<job> <code> <text>", are
 * relayed to queued as the one-shot deliver's exit status and first line
 * of stderr were.  A worker may have many jobs in flight; when it dies
 * every job it had is answered 75 (at-least-once: queued retries).
 * Workers idle for SPAWNER_WORKER_IDLE seconds, beyond SPAWNER_IDLE_KEEP
 * ones idle for SPAWNER_IDLE_GRACE seconds, or past SPAWNER_WORKER_JOBS
 * jobs are told to exit by closing our sending side.  See docs/QUEUE.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "spawner.h"

#define WORKER_ANSWER_MAX 4096	/* a worker's answer datagram */

static int
worker_index(struct spawner *sp, const struct worker *w)
{
	return (int)(w - sp->workers);
}

/* Tell w to exit: no new job goes to it, and once the jobs it was given
 * are sent our side of its socket is shut, so that it reads EOF after
 * them. */
static void
worker_close(struct worker *w)
{
	w->closing = 1;
	if (w->head < 0 && !w->shut && w->sock >= 0) {
		shutdown(w->sock, SHUT_WR);
		w->shut = 1;
	}
}

/* Send w's unsent jobs in order until its socket is full. */
static void
worker_send(struct spawner *sp, struct worker *w)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct msghdr mh;
	struct cmsghdr *c;
	struct iovec iov;
	struct job *j;

	while (w->head >= 0 && w->sock >= 0) {
		j = &sp->jobs[w->head];
		memset(&mh, 0, sizeof mh);
		memset(&cm, 0, sizeof cm);
		iov.iov_base = j->text.s;
		iov.iov_len = j->text.len;
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof cm.buf;
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &j->msgfd, sizeof(int));
		if (sendmsg(w->sock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == ENOBUFS)
				return;		/* POLLOUT brings us back */
			/* it is broken: its end brings every job back as 75 */
			log_err("deliver worker for %s (pid %ld): %s", w->user,
			    (long)w->pid, strerror(errno));
			if (w->pid > 0)
				kill(w->pid, SIGKILL);
			return;
		}
		close(j->msgfd);
		j->msgfd = -1;
		str_free(&j->text);
		w->head = j->next;
		j->next = -1;
		if (w->head < 0)
			w->tail = -1;
	}
	if (w->closing)
		worker_close(w);
}

/* Start a worker for user in a free slot.  NULL with errno. */
static struct worker *
worker_start(struct spawner *sp, const char *user)
{
	struct worker *w = NULL;
	char *args[10];
	size_t i, n = 1;
	int sv[2];

	for (i = 0; i < SPAWNER_WORKERS_MAX && w == NULL; i++)
		if (!sp->workers[i].used)
			w = &sp->workers[i];
	if (w == NULL) {
		errno = EAGAIN;
		return NULL;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return NULL;
	spawner_args_conf(sp, args, &n);
	args[n++] = (char *)"-S";
	args[n++] = (char *)"-w";
	args[n++] = (char *)"-d";
	args[n++] = (char *)user;
	args[n] = NULL;
	memset(w, 0, sizeof *w);
	w->pid = spawner_spawn(sp, sv[1], -1, -1, (uid_t)-1, (gid_t)-1,
	    "deliver", args);
	close(sv[1]);
	if (w->pid < 0 || fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0) {
		int saved = errno;

		if (w->pid > 0)
			kill(w->pid, SIGKILL);	/* reaped as a stranger */
		close(sv[0]);
		errno = saved;
		return NULL;
	}
	w->used = 1;
	w->sock = sv[0];
	w->head = w->tail = -1;
	w->idle_since = time(NULL);
	snprintf(w->user, sizeof w->user, "%s", user);
	sp->nworkers++;
	log_info("started deliver worker for %s (pid %ld)", user, (long)w->pid);
	return w;
}

/* user's worker, started when it has none that takes jobs; when too many
 * are alive the longest idle one is told to exit first. */
static struct worker *
worker_for(struct spawner *sp, const char *user)
{
	struct worker *w, *idle = NULL;
	size_t i, live = 0;

	for (i = 0; i < SPAWNER_WORKERS_MAX; i++) {
		w = &sp->workers[i];
		if (!w->used || w->closing || w->sock < 0 || w->fail_code)
			continue;
		if (strcmp(w->user, user) == 0)
			return w;
		live++;
		if (w->inflight == 0 && (idle == NULL ||
		    w->idle_since < idle->idle_since))
			idle = w;
	}
	if (live >= sp->workers_max && idle != NULL)
		worker_close(idle);
	return worker_start(sp, user);
}

void
local_request(struct spawner *sp, const struct qenv_req *rq)
{
	struct worker *w = NULL;
	struct job *j;
	int fd = -1;

	if ((j = spawner_job_new(sp, JOB_LOCAL, rq->job)) == NULL) {
		spawner_reply(sp, "%s 75 spawner: too many jobs\n", rq->job);
		return;
	}
	if ((fd = spawner_msg_open(sp, rq->id)) < 0) {
		log_err("job %s: message %s: %s", rq->job, rq->id,
		    strerror(errno));
		spawner_reply(sp, "%s 75 spawner: message %s: %s\n", rq->job,
		    rq->id, strerror(errno));
		spawner_job_free(sp, j);
		return;
	}
	if ((w = worker_for(sp, rq->user)) == NULL ||
	    str_appendf(&j->text, "%s%c%s%c%s%c", rq->job, 0, rq->rcpt, 0,
	    rq->sender, 0) < 0) {
		log_err("job %s: cannot start deliver: %s", rq->job,
		    strerror(errno));
		spawner_reply(sp, "%s 75 spawner: cannot start deliver: %s\n",
		    rq->job, strerror(errno));
		close(fd);
		spawner_job_free(sp, j);
		return;
	}
	j->msgfd = fd;
	j->worker = worker_index(sp, w);
	if (w->tail >= 0)
		sp->jobs[w->tail].next = (int)(j - sp->jobs);
	else
		w->head = (int)(j - sp->jobs);
	w->tail = (int)(j - sp->jobs);
	w->inflight++;
	if (++w->given >= SPAWNER_WORKER_JOBS)
		w->closing = 1;		/* closed once this job is sent */
	log_debug("job %s: deliver %s to %s (worker pid %ld)", rq->job, rq->id,
	    rq->rcpt, (long)w->pid);
	worker_send(sp, w);
}

/* Job j of worker w is answered. */
static void
job_done(struct spawner *sp, struct worker *w, struct job *j)
{
	spawner_job_free(sp, j);
	if (--w->inflight == 0)
		w->idle_since = time(NULL);
}

/* "- <code> <text>": the worker could not start (no such user, ...); its
 * jobs get that answer when it is gone. */
static void
worker_failed(struct worker *w, const char *msg)
{
	char *end;
	long code = strtol(msg, &end, 10);

	if (end == msg || code <= 0 || code > 255)
		code = 75;
	while (*end == ' ')
		end++;
	w->fail_code = (int)code;
	str_clear(&w->fail_text);
	spawner_clean(&w->fail_text, end, strlen(end), SPAWNER_OUT_MAX);
	worker_close(w);
}

/* One answer datagram (NUL-terminated) from worker w. */
static void
worker_answer(struct spawner *sp, struct worker *w, const char *msg)
{
	struct str text = STR_INIT;
	const char *p = msg, *num = msg;
	size_t nlen, i;
	long code;
	char *end = NULL;

	if (msg[0] == '-' && msg[1] == ' ') {
		worker_failed(w, msg + 2);
		return;
	}
	nlen = strspn(p, "0123456789");
	code = nlen > 0 && nlen < sizeof sp->jobs[0].num && p[nlen] == ' ' ?
	    strtol(p + nlen + 1, &end, 10) : -1;
	if (code < 0 || code > 255 || end == p + nlen + 1 ||
	    (*end != ' ' && *end != '\0')) {
		log_warn("deliver worker for %s: malformed answer ignored",
		    w->user);
		return;
	}
	for (i = 0; i < SPAWNER_JOBS_MAX; i++) {
		struct job *j = &sp->jobs[i];

		if (!j->used || j->kind != JOB_LOCAL ||
		    j->worker != worker_index(sp, w) || j->msgfd >= 0 ||
		    strncmp(j->num, num, nlen) != 0 || j->num[nlen] != '\0')
			continue;
		if (*end == ' ')
			end++;
		spawner_clean(&text, end, strlen(end), SPAWNER_OUT_MAX);
		spawner_reply(sp, "%s %ld %s\n", j->num, code, str_cstr(&text));
		str_free(&text);
		job_done(sp, w, j);
		return;
	}
	log_warn("deliver worker for %s: answer for no job of its ignored",
	    w->user);
}

/* Read w's answers until none is waiting; EOF marks it gone. */
static void
worker_recv(struct spawner *sp, struct worker *w)
{
	char buf[WORKER_ANSWER_MAX + 1];
	ssize_t n;

	while (w->sock >= 0) {
		n = recv(w->sock, buf, WORKER_ANSWER_MAX, MSG_DONTWAIT);
		/* ECONNRESET: it died with jobs unread; the error comes before
		 * the answers it sent, which are still to be read */
		if (n < 0 && (errno == EINTR || errno == ECONNRESET))
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			close(w->sock);
			w->sock = -1;
			return;
		}
		buf[n] = '\0';
		worker_answer(sp, w, buf);
	}
}

void
local_event(struct spawner *sp, struct worker *w, short revents)
{
	if (revents & POLLOUT)
		worker_send(sp, w);
	if (revents & (POLLIN | POLLHUP | POLLERR))
		worker_recv(sp, w);
}

int
local_poll(struct spawner *sp, struct pollfd *pfd, struct worker **map,
    size_t *n)
{
	time_t now = time(NULL), left;
	int timeout = -1;
	size_t i;

	for (i = 0; i < SPAWNER_WORKERS_MAX; i++) {
		struct worker *w = &sp->workers[i];

		if (!w->used || w->sock < 0)
			continue;
		pfd[*n].fd = w->sock;
		pfd[*n].events = POLLIN | (w->head >= 0 ? POLLOUT : 0);
		map[(*n)++] = w;
		if (w->closing || w->inflight > 0)
			continue;
		/* the grace's end may make it one too many idle */
		left = w->idle_since - now + (now - w->idle_since <
		    SPAWNER_IDLE_GRACE ? SPAWNER_IDLE_GRACE :
		    SPAWNER_WORKER_IDLE);
		left = left < 0 ? 0 : left * 1000 + 50;
		if (timeout < 0 || left < timeout)
			timeout = (int)left;
	}
	return timeout;
}

int
local_reaped(struct spawner *sp, pid_t pid, int status)
{
	size_t i;

	for (i = 0; i < SPAWNER_WORKERS_MAX; i++) {
		struct worker *w = &sp->workers[i];

		if (!w->used || w->pid != pid)
			continue;
		w->pid = 0;
		w->status = status;
		if (WIFSIGNALED(status))
			log_warn("deliver worker for %s (pid %ld) killed by "
			    "signal %d", w->user, (long)pid, WTERMSIG(status));
		else
			log_info("deliver worker for %s (pid %ld) exited, "
			    "status %d", w->user, (long)pid,
			    WEXITSTATUS(status));
		return 1;
	}
	return 0;
}

/* w has exited and its socket is read to the end: the jobs it did not
 * answer are answered now, and its slot is free. */
static void
worker_end(struct spawner *sp, struct worker *w)
{
	struct str why = STR_INIT;
	int code = 75;
	size_t i;

	if (w->fail_code != 0) {
		code = w->fail_code;
		str_appends(&why, str_cstr(&w->fail_text));
	} else if (w->killed)
		str_appends(&why, "deliver timed out, killed");
	else if (WIFSIGNALED(w->status))
		str_appendf(&why, "deliver killed by signal %d",
		    WTERMSIG(w->status));
	else
		str_appendf(&why, "deliver exited (status %d) before "
		    "answering", WEXITSTATUS(w->status));
	for (i = 0; i < SPAWNER_JOBS_MAX; i++) {
		struct job *j = &sp->jobs[i];

		if (!j->used || j->kind != JOB_LOCAL ||
		    j->worker != worker_index(sp, w))
			continue;
		spawner_reply(sp, "%s %d %s\n", j->num, code, str_cstr(&why));
		spawner_job_free(sp, j);
	}
	str_free(&why);
	str_free(&w->fail_text);
	w->used = 0;
	sp->nworkers--;
}

/* Kill the workers of jobs past the job timeout. */
static void
job_timeouts(struct spawner *sp, time_t now)
{
	size_t i;

	for (i = 0; i < SPAWNER_JOBS_MAX; i++) {
		struct job *j = &sp->jobs[i];
		struct worker *w;

		if (!j->used || j->kind != JOB_LOCAL ||
		    now - j->started <= SPAWNER_JOB_SECONDS)
			continue;
		w = &sp->workers[j->worker];
		if (w->pid > 0 && !w->killed) {
			log_warn("job %s: running for too long, deliver "
			    "worker for %s killed", j->num, w->user);
			kill(w->pid, SIGKILL);
			w->killed = 1;
		}
	}
}

void
local_tick(struct spawner *sp, time_t now)
{
	struct worker *oldest;
	size_t i, idle;

	job_timeouts(sp, now);
	do {
		idle = 0;
		oldest = NULL;
		for (i = 0; i < SPAWNER_WORKERS_MAX; i++) {
			struct worker *w = &sp->workers[i];

			if (!w->used)
				continue;
			if (w->sock < 0 && w->pid == 0) {
				worker_end(sp, w);
				continue;
			}
			if (w->closing || w->inflight > 0 || w->sock < 0)
				continue;
			/* queued gone and nothing left to do: all go */
			if ((sp->sock < 0 && sp->njobs == 0) ||
			    now - w->idle_since >= SPAWNER_WORKER_IDLE) {
				worker_close(w);
				continue;
			}
			/* idle between two batches: not idle yet */
			if (now - w->idle_since < SPAWNER_IDLE_GRACE)
				continue;
			idle++;
			if (oldest == NULL ||
			    w->idle_since < oldest->idle_since)
				oldest = w;
		}
		if (idle > SPAWNER_IDLE_KEEP)
			worker_close(oldest);
	} while (idle > SPAWNER_IDLE_KEEP);
}
