/* SPDX-License-Identifier: ISC */
#ifndef ZEST_LISTEN_H
#define ZEST_LISTEN_H

/*
 * listen: accept TCP connections and run a program for each, tcpserver
 * style, or (-P) hand them to a pool of long-lived workers.  main.c parses
 * the command line, binds, writes the pid file and runs the loop; conn.c
 * accepts, applies the limits, forks and execs per connection, and reaps
 * the children; pool.c runs the workers of pool mode.
 *
 * Pool mode protocol (listen(8)), on a SOCK_SEQPACKET socketpair that the
 * worker has as descriptor LISTEN_POOL_FD (named by ZEST_LISTEN_FD):
 *   listen -> worker: one message per connection, the text
 *       "REMOTEIP REMOTEPORT LOCALIP LOCALPORT" (numeric, single spaces,
 *       at most LISTEN_POOL_MSG_MAX bytes) with the connection's
 *       descriptor as SCM_RIGHTS;
 *   worker -> listen: one byte per message: 'r' once its setup is done,
 *       'd' when the connection it was given is closed, 'q' as 'd' but
 *       asking to be retired (its configuration changed on disk).
 * The worker exits when listen closes its end; listen does so after the
 * worker's -P'th connection, when it has been idle too long beyond the
 * spares, and when listen stops.  Anything else from a worker is a
 * protocol error: listen kills it.
 */

#include <arpa/inet.h>
#include <signal.h>
#include <sys/types.h>
#include <time.h>

#define LISTEN_POOL_FD 3		/* the worker's control descriptor */
#define LISTEN_POOL_ENV "ZEST_LISTEN_FD"
#define LISTEN_POOL_MSG_MAX 128		/* a connection message's text */
#define LISTEN_POOL_SPARE 2		/* idle workers kept ready */
#define LISTEN_POOL_IDLE 60		/* s before an idle extra worker goes */
#define LISTEN_POOL_BACKOFF 1		/* s without spares after a failure */
#define LISTEN_POOL_STOP_MS 3000	/* wait at stop for idle workers */

/* A connection's two ends as text. */
struct listen_addrs {
	char rip[INET6_ADDRSTRLEN];
	char lip[INET6_ADDRSTRLEN];
	unsigned rport;
	unsigned lport;
};

enum listen_state {
	LISTEN_FREE = 0,	/* no process */
	LISTEN_BUSY,		/* serving a connection (counts for -c, -i) */
	LISTEN_IDLE,		/* pool: a worker waiting for a connection */
	LISTEN_CLOSED		/* pool: its control socket is closed (it
				   ends, or has died), waiting to be reaped */
};

/* One child: in exec mode the process serving one connection; in pool
 * mode a worker. */
struct listen_child {
	pid_t pid;			/* 0: free slot */
	enum listen_state state;
	char ip[INET6_ADDRSTRLEN];	/* BUSY: the client's address */
	/* pool mode */
	int ctl;			/* listen's end of the control socket */
	int ready;			/* it said 'r' */
	int retire;			/* no more connections for it */
	int expected;			/* its end was asked for (exit 0 due) */
	unsigned uses;			/* connections handed to it */
	time_t idle_since;		/* monotonic seconds */
	unsigned long idle_seq;		/* orders the idle ones: last first */
};

/* An accepted connection waiting for a worker (pool mode): every slot
 * is taken, some by a worker on its way out. */
struct listen_pending {
	int fd;				/* -1: free */
	struct listen_addrs a;
};

struct listen {
	/* from the command line */
	unsigned maxconn;		/* connections at once */
	unsigned maxip;			/* per client address, 0: no limit */
	unsigned maxuse;		/* -P: connections per worker, 0: no
					   pool (one exec per connection) */
	const char *busy;		/* refusal line, CRLF-ended, or NULL */
	int verbose;
	char **prog;			/* PROGRAM ARGS..., NULL-terminated */
	/* state */
	int drop;			/* children become uid/gid */
	uid_t uid;
	gid_t gid;
	int fd;				/* the listening socket */
	sigset_t childmask;		/* signal mask for the children */
	struct listen_child *kids;	/* maxconn slots */
	unsigned nkids;			/* processes */
	unsigned nbusy;			/* connections (pending included) */
	struct listen_pending *pending;	/* maxconn slots (pool mode) */
	unsigned npending;
	unsigned long seq;		/* for idle_seq */
	time_t backoff_until;		/* monotonic: no spares before */
	time_t refused_at;		/* when a refusal was last logged */
	unsigned long refused_quiet;	/* refusals not logged since */
};

/* conn.c */

/* Accept the connections waiting on l->fd (a bounded batch), refusing
 * those over the limits and starting the program for the others (or
 * handing them to the pool). */
void conn_accept(struct listen *l);

/* Collect every child that has exited, freeing its slot. */
void conn_reap(struct listen *l);

/* pool.c */

/* Allocate the pool's tables.  Returns 0, or -1 with errno. */
int pool_init(struct listen *l);

/* Give the accepted connection c (closed here in every case) to an idle
 * worker, a new one, or the pending list. */
void pool_hand(struct listen *l, int c, const struct listen_addrs *a);

/* Read what the worker in slot k said on its control socket. */
void pool_event(struct listen *l, struct listen_child *k);

/* Read what every worker has said by now (their "done" may not have been
 * seen yet): before a connection is refused for a limit, the counts are
 * brought up to date. */
void pool_drain(struct listen *l);

/* The worker in slot k has exited with status st: free its slot. */
void pool_reaped(struct listen *l, struct listen_child *k, int st);

/* Hand pending connections out, retire idle workers, start spares.
 * Returns the poll timeout in milliseconds until the next thing to do
 * (-1: none). */
int pool_tend(struct listen *l);

/* At stop: close the pending connections and every control socket, so
 * idle workers end at once and busy ones after their connection; wait a
 * little for the idle ones. */
void pool_stop(struct listen *l);

/* Monotonic seconds. */
time_t pool_now(void);

#endif
