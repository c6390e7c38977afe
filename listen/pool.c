/* SPDX-License-Identifier: ISC */
/*
 * listen's pool mode (-P MAXUSE): instead of a fork and exec per
 * connection, long-lived workers (the program, started with a control
 * socket as descriptor LISTEN_POOL_FD) get the accepted connections one
 * at a time by SCM_RIGHTS; the protocol is in listen.h.
 *
 * listen alone decides when a worker ends: it closes the worker's control
 * socket after its MAXUSE'th connection is done, when it has been idle
 * LISTEN_POOL_IDLE seconds and more than LISTEN_POOL_SPARE are idle, and
 * at stop.  A worker that could end by itself could do so just as a
 * connection is on its way to it, and the connection would be lost.
 *
 * A busy worker is one connection for -c and -i, exactly as a child of
 * exec mode; at most -c workers exist.  When every slot is taken (some by
 * workers on their way out) an accepted connection within the limits
 * waits in the pending list until a slot is reaped.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "listen.h"
#include "log.h"
#include "priv.h"

/* A worker closed for this long while connections wait is killed: its
 * slot is needed, and a worker told to end has nothing left to do. */
#define POOL_KILL_AFTER 10
/* How often the pending list is retried while connections wait. */
#define POOL_PENDING_MS 100

time_t
pool_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

int
pool_init(struct listen *l)
{
	unsigned i;

	if ((l->pending = calloc(l->maxconn, sizeof *l->pending)) == NULL)
		return -1;
	for (i = 0; i < l->maxconn; i++) {
		l->pending[i].fd = -1;
		l->kids[i].ctl = -1;
	}
	return 0;
}

/* The worker: the control socket becomes LISTEN_POOL_FD, 0 and 1 are
 * /dev/null (connections come by the socket), no stale UCSPI-TCP names
 * are left in the environment.  Never returns. */
static void __attribute__((noreturn))
pool_child(struct listen *l, int ctl)
{
	int null;

	sigprocmask(SIG_SETMASK, &l->childmask, NULL);
	/* dup2 leaves the copy without close-on-exec; the same number
	 * needs it cleared by hand. */
	if (ctl == LISTEN_POOL_FD ? fcntl(ctl, F_SETFD, 0) < 0 :
	    dup2(ctl, LISTEN_POOL_FD) < 0) {
		log_err("worker control socket: %m");
		_exit(111);
	}
	if ((null = open("/dev/null", O_RDWR)) < 0 || dup2(null, 0) < 0 ||
	    dup2(null, 1) < 0) {
		log_err("/dev/null: %m");
		_exit(111);
	}
	if (null > 1)
		close(null);
	if (setenv(LISTEN_POOL_ENV, "3", 1) < 0 || unsetenv("PROTO") < 0 ||
	    unsetenv("TCPREMOTEIP") < 0 || unsetenv("TCPREMOTEPORT") < 0 ||
	    unsetenv("TCPLOCALIP") < 0 || unsetenv("TCPLOCALPORT") < 0 ||
	    unsetenv("TCPREMOTEHOST") < 0 || unsetenv("TCPREMOTEINFO") < 0 ||
	    unsetenv("TCPLOCALHOST") < 0) {
		log_err("environment: %m");
		_exit(111);
	}
	if (l->drop && priv_drop(l->uid, l->gid, NULL) < 0) {
		log_err("cannot drop privileges: %m");
		_exit(111);
	}
	execvp(l->prog[0], l->prog);
	log_err("cannot run %s: %m", l->prog[0]);
	_exit(111);
}

/* Start a worker in a free slot.  Returns the slot, or NULL when there
 * is none or the worker could not be started. */
static struct listen_child *
pool_spawn(struct listen *l)
{
	struct listen_child *k = NULL;
	unsigned i;
	pid_t pid;
	int sv[2];

	for (i = 0; i < l->maxconn && k == NULL; i++)
		if (l->kids[i].pid == 0)
			k = &l->kids[i];
	if (k == NULL)
		return NULL;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		log_err("socketpair: %m");
		return NULL;
	}
	if ((pid = fork()) < 0) {
		log_err("fork: %m");
		close(sv[0]);
		close(sv[1]);
		return NULL;
	}
	if (pid == 0) {
		close(sv[0]);
		pool_child(l, sv[1]);
	}
	close(sv[1]);
	memset(k, 0, sizeof *k);
	k->pid = pid;
	k->state = LISTEN_IDLE;
	k->ctl = sv[0];
	k->idle_since = pool_now();
	l->nkids++;
	if (l->verbose)
		log_info("pid %ld: worker started (%u workers)", (long)pid,
		    l->nkids);
	return k;
}

/* A busy worker's connection is over: its counts are freed. */
static void
pool_unbusy(struct listen *l, struct listen_child *k)
{
	if (k->state != LISTEN_BUSY)
		return;
	k->state = LISTEN_IDLE;
	k->ip[0] = '\0';
	l->nbusy--;
}

/* Close the worker's control socket: it ends (at once when idle, after
 * its connection when busy).  kill: it misbehaved or cannot be reached,
 * so it is killed and its connection's counts are freed now. */
static void
pool_close(struct listen *l, struct listen_child *k, int kill_it)
{
	if (k->ctl >= 0)
		close(k->ctl);
	k->ctl = -1;
	if (kill_it) {
		pool_unbusy(l, k);
		(void)kill(k->pid, SIGKILL);
	} else
		k->expected = 1;
	if (k->state != LISTEN_BUSY)
		k->state = LISTEN_CLOSED;
	k->idle_since = pool_now();
}

/* Send connection c to worker k: the addresses as text, c by
 * SCM_RIGHTS.  Returns 0 or -1 with errno. */
static int
pool_send(const struct listen_child *k, int c, const struct listen_addrs *a)
{
	char text[LISTEN_POOL_MSG_MAX];
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct iovec iov;
	struct msghdr m;
	struct cmsghdr *cm;
	int len;

	/* two addresses of at most 45 bytes and two ports: no truncation */
	len = snprintf(text, sizeof text, "%s %u %s %u", a->rip, a->rport,
	    a->lip, a->lport);
	if (len < 0 || (size_t)len >= sizeof text) {
		errno = EOVERFLOW;
		return -1;
	}
	memset(&m, 0, sizeof m);
	memset(&u, 0, sizeof u);
	iov.iov_base = text;
	iov.iov_len = (size_t)len;
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = u.buf;
	m.msg_controllen = sizeof u.buf;
	cm = CMSG_FIRSTHDR(&m);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &c, sizeof c);
	if (sendmsg(k->ctl, &m, MSG_DONTWAIT | MSG_NOSIGNAL) != len)
		return -1;
	return 0;
}

/* Give connection c (counted in nbusy) to worker k.  Returns 0, or -1
 * when k cannot take it (k is then closed down). */
static int
pool_give(struct listen *l, struct listen_child *k, int c,
    const struct listen_addrs *a)
{
	if (pool_send(k, c, a) < 0) {
		log_warn("worker pid %ld: cannot hand it a connection: %m",
		    (long)k->pid);
		pool_close(l, k, 1);
		return -1;
	}
	k->state = LISTEN_BUSY;
	memcpy(k->ip, a->rip, sizeof k->ip);
	if (++k->uses >= l->maxuse)
		k->retire = 1;
	if (l->verbose)
		log_info("pid %ld: %s:%u (%u/%u)", (long)k->pid, a->rip,
		    a->rport, l->nbusy, l->maxconn);
	return 0;
}

/* The idle worker to use: a ready one before one still starting, and
 * the one idle the shortest, so that the others age and can retire. */
static struct listen_child *
pool_idle(struct listen *l)
{
	struct listen_child *k, *best = NULL;
	unsigned i;

	for (i = 0; i < l->maxconn; i++) {
		k = &l->kids[i];
		if (k->state != LISTEN_IDLE || k->ctl < 0 || k->retire)
			continue;
		if (best == NULL || k->ready > best->ready ||
		    (k->ready == best->ready &&
		    k->idle_seq > best->idle_seq))
			best = k;
	}
	return best;
}

/* Give connection c (counted in nbusy) to a worker: an idle one, else a
 * new one.  Returns 0 (c is closed), or -1 when no slot is free. */
static int
pool_place(struct listen *l, int c, const struct listen_addrs *a)
{
	struct listen_child *k;

	/* Each failure closes a worker, so this ends within maxconn. */
	while ((k = pool_idle(l)) != NULL || (k = pool_spawn(l)) != NULL)
		if (pool_give(l, k, c, a) == 0) {
			close(c);
			return 0;
		}
	return -1;
}

/* Whether every slot holds a process. */
static int
pool_full(const struct listen *l)
{
	return l->nkids >= l->maxconn;
}

void
pool_hand(struct listen *l, int c, const struct listen_addrs *a)
{
	struct listen_pending *p;

	l->nbusy++;
	if (pool_place(l, c, a) == 0)
		return;
	if (!pool_full(l) || l->npending >= l->maxconn) {
		/* a slot is free, but no worker could start there */
		close(c);
		l->nbusy--;
		return;
	}
	/* Every slot is taken while nbusy < maxconn: some worker is on its
	 * way out, and its slot comes back when it is reaped. */
	p = &l->pending[l->npending++];
	p->fd = c;
	p->a = *a;
}

/* Hand the pending connections out, oldest first, while workers can be
 * had; kill workers that are slow to end while connections wait. */
static void
pool_place_pending(struct listen *l, time_t now)
{
	struct listen_pending *p;
	unsigned i;

	while (l->npending > 0) {
		p = &l->pending[0];
		if (pool_place(l, p->fd, &p->a) < 0) {
			if (!pool_full(l)) {	/* fork failing: give up */
				close(p->fd);
				l->nbusy--;
			} else
				break;
		}
		l->npending--;
		memmove(l->pending, l->pending + 1, l->npending *
		    sizeof *l->pending);
		l->pending[l->npending].fd = -1;
	}
	for (i = 0; l->npending > 0 && i < l->maxconn; i++)
		if (l->kids[i].state == LISTEN_CLOSED &&
		    now - l->kids[i].idle_since >= POOL_KILL_AFTER)
			(void)kill(l->kids[i].pid, SIGKILL);
}

/* The workers waiting for a connection. */
static unsigned
pool_nidle(const struct listen *l)
{
	unsigned i, n = 0;

	for (i = 0; i < l->maxconn; i++)
		if (l->kids[i].state == LISTEN_IDLE && l->kids[i].ctl >= 0)
			n++;
	return n;
}

/* Retire the workers idle for LISTEN_POOL_IDLE seconds beyond the
 * spares. */
static void
pool_retire_idle(struct listen *l, time_t now)
{
	unsigned i, n = pool_nidle(l);
	struct listen_child *k;

	for (i = 0; i < l->maxconn && n > LISTEN_POOL_SPARE; i++) {
		k = &l->kids[i];
		if (k->state == LISTEN_IDLE && k->ctl >= 0 &&
		    now - k->idle_since >= LISTEN_POOL_IDLE) {
			if (l->verbose)
				log_info("pid %ld: idle, retired",
				    (long)k->pid);
			pool_close(l, k, 0);
			n--;
		}
	}
}

/* Start workers until LISTEN_POOL_SPARE are idle (within maxconn),
 * unless workers failed at start a moment ago. */
static void
pool_spares(struct listen *l, time_t now)
{
	unsigned n = pool_nidle(l);

	if (now < l->backoff_until)
		return;
	while (n < LISTEN_POOL_SPARE && !pool_full(l) && pool_spawn(l))
		n++;
}

/* Milliseconds until the next thing pool_tend has to do, -1: none. */
static int
pool_timeout(const struct listen *l, time_t now)
{
	const struct listen_child *k;
	time_t next = 0;
	unsigned i;

	if (l->npending > 0)
		return POOL_PENDING_MS;
	if (pool_nidle(l) > LISTEN_POOL_SPARE)
		for (i = 0; i < l->maxconn; i++) {
			k = &l->kids[i];
			if (k->state == LISTEN_IDLE && k->ctl >= 0 &&
			    (next == 0 || k->idle_since + LISTEN_POOL_IDLE <
			    next))
				next = k->idle_since + LISTEN_POOL_IDLE;
		}
	if (now < l->backoff_until && pool_nidle(l) < LISTEN_POOL_SPARE &&
	    !pool_full(l) && (next == 0 || l->backoff_until < next))
		next = l->backoff_until;
	if (next == 0)
		return -1;
	return next <= now ? 0 : (int)(next - now) * 1000;
}

int
pool_tend(struct listen *l)
{
	time_t now = pool_now();

	pool_place_pending(l, now);
	pool_retire_idle(l, now);
	pool_spares(l, now);
	return pool_timeout(l, now);
}

/* What worker k said: 0, or -1 for a protocol error. */
static int
pool_said(struct listen *l, struct listen_child *k, unsigned char c)
{
	switch (c) {
	case 'r':
		if (k->ready)
			return -1;
		k->ready = 1;
		return 0;
	case 'd':
	case 'q':
		if (k->state != LISTEN_BUSY)
			return -1;
		pool_unbusy(l, k);
		k->idle_since = pool_now();
		k->idle_seq = ++l->seq;
		if (c == 'q' || k->retire) {
			if (l->verbose)
				log_info("pid %ld: retired after %u "
				    "connection(s)%s", (long)k->pid, k->uses,
				    c == 'q' ? ", as it asked" : "");
			pool_close(l, k, 0);
		}
		return 0;
	default:
		return -1;
	}
}

void
pool_event(struct listen *l, struct listen_child *k)
{
	unsigned char b[2];
	ssize_t n;

	while (k->ctl >= 0) {
		n = recv(k->ctl, b, sizeof b, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n == 0 || n < 0) {
			/* it ended without being asked (or the socket
			 * broke): its connection, if any, went with it */
			if (n < 0)
				log_warn("worker pid %ld: %m", (long)k->pid);
			pool_unbusy(l, k);
			close(k->ctl);
			k->ctl = -1;
			k->state = LISTEN_CLOSED;
			k->idle_since = pool_now();
			return;
		}
		/* a message longer than one byte fills b: refused too */
		if (n != 1 || pool_said(l, k, b[0]) < 0) {
			log_err("worker pid %ld: protocol error, killed",
			    (long)k->pid);
			pool_close(l, k, 1);
			return;
		}
	}
}

void
pool_drain(struct listen *l)
{
	unsigned i;

	for (i = 0; i < l->maxconn; i++)
		if (l->kids[i].pid != 0 && l->kids[i].ctl >= 0)
			pool_event(l, &l->kids[i]);
}

void
pool_reaped(struct listen *l, struct listen_child *k, int st)
{
	int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;

	if (k->ctl >= 0)
		close(k->ctl);
	if (k->state == LISTEN_BUSY)
		l->nbusy--;
	if (!ok || !k->expected)
		log_warn("worker pid %ld: %s %d after %u connection(s)%s",
		    (long)k->pid, WIFSIGNALED(st) ? "killed by signal" :
		    "exited with status", WIFSIGNALED(st) ? WTERMSIG(st) :
		    WEXITSTATUS(st), k->uses, k->state == LISTEN_BUSY ?
		    ", one of them running" : "");
	else if (l->verbose)
		log_info("pid %ld: worker ended after %u connection(s)",
		    (long)k->pid, k->uses);
	/* One that never got ready is failing at start (configuration,
	 * program missing): do not start spares in a loop. */
	if (!k->ready && !k->expected)
		l->backoff_until = pool_now() + LISTEN_POOL_BACKOFF;
	memset(k, 0, sizeof *k);
	k->ctl = -1;
	l->nkids--;
}

/* Whether a worker that is not serving anyone is still there. */
static int
pool_idle_left(const struct listen *l)
{
	unsigned i;

	for (i = 0; i < l->maxconn; i++)
		if (l->kids[i].pid != 0 && l->kids[i].state != LISTEN_BUSY)
			return 1;
	return 0;
}

void
pool_stop(struct listen *l)
{
	struct timespec tick = { 0, 10 * 1000000L };
	unsigned i, waited;

	for (i = 0; i < l->npending; i++) {
		close(l->pending[i].fd);
		l->pending[i].fd = -1;
		l->nbusy--;
	}
	l->npending = 0;
	for (i = 0; i < l->maxconn; i++)
		if (l->kids[i].pid != 0)
			pool_close(l, &l->kids[i], 0);
	/* The idle ones end at once; waiting for them lets `zest stop`
	 * return with them gone.  Busy ones finish their connection. */
	for (waited = 0; waited < LISTEN_POOL_STOP_MS && pool_idle_left(l);
	    waited += 10) {
		conn_reap(l);
		if (pool_idle_left(l))
			nanosleep(&tick, NULL);
	}
}
