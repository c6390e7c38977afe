/* SPDX-License-Identifier: ISC */
#ifndef ZEST_LISTEN_H
#define ZEST_LISTEN_H

/*
 * listen: accept TCP connections and run a program for each, tcpserver
 * style.  main.c parses the command line, binds, writes the pid file and
 * runs the loop; conn.c accepts, applies the limits, forks and execs, and
 * reaps the children.
 */

#include <arpa/inet.h>
#include <signal.h>
#include <sys/types.h>
#include <time.h>

/* One running child and the client address it serves. */
struct listen_child {
	pid_t pid;			/* 0: free slot */
	char ip[INET6_ADDRSTRLEN];
};

struct listen {
	/* from the command line */
	unsigned maxconn;		/* children at once */
	unsigned maxip;			/* per client address, 0: no limit */
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
	unsigned nkids;
	time_t refused_at;		/* when a refusal was last logged */
	unsigned long refused_quiet;	/* refusals not logged since */
};

/* Accept the connections waiting on l->fd (a bounded batch), refusing
 * those over the limits and starting the program for the others. */
void conn_accept(struct listen *l);

/* Collect every child that has exited, freeing its slot. */
void conn_reap(struct listen *l);

#endif
