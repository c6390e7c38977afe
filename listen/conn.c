/* SPDX-License-Identifier: ISC */
/*
 * listen's connections: accept, check the limits, fork a child that puts
 * the connection on descriptors 0 and 1, sets the UCSPI-TCP environment,
 * drops privileges and execs the program (or, in pool mode, hand the
 * connection to pool.c); reap the children.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "listen.h"
#include "log.h"
#include "priv.h"

/* Connections accepted per wake-up, so that a flood cannot starve the
 * reaping of children and the handling of SIGTERM. */
#define CONN_BATCH 64

/* Put the address sa as text into ip (INET6_ADDRSTRLEN bytes) and its
 * port into *port.  IPv4-mapped IPv6 addresses are shown as IPv4, so that
 * a client has one spelling whatever the listening socket's family. */
static void
conn_addr(const struct sockaddr_storage *ss, char *ip, unsigned *port)
{
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
	const char *r = NULL;

	*port = 0;
	if (ss->ss_family == AF_INET) {
		r = inet_ntop(AF_INET, &s4->sin_addr, ip, INET6_ADDRSTRLEN);
		*port = ntohs(s4->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			r = inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], ip,
			    INET6_ADDRSTRLEN);
		else
			r = inet_ntop(AF_INET6, &s6->sin6_addr, ip,
			    INET6_ADDRSTRLEN);
		*port = ntohs(s6->sin6_port);
	}
	if (r == NULL)
		memcpy(ip, "unknown", sizeof "unknown");
}

/* Set name to the decimal n in the environment. */
static int
conn_setenv_num(const char *name, unsigned n)
{
	char buf[16];

	snprintf(buf, sizeof buf, "%u", n);	/* at most 10 digits */
	return setenv(name, buf, 1);
}

/* The UCSPI-TCP environment; names tcpserver sets that listen does not
 * fill (host names, ident) are removed so stale values cannot leak in. */
static int
conn_environ(const struct listen_addrs *a)
{
	if (setenv("PROTO", "TCP", 1) < 0 ||
	    setenv("TCPREMOTEIP", a->rip, 1) < 0 ||
	    conn_setenv_num("TCPREMOTEPORT", a->rport) < 0 ||
	    setenv("TCPLOCALIP", a->lip, 1) < 0 ||
	    conn_setenv_num("TCPLOCALPORT", a->lport) < 0 ||
	    unsetenv("TCPREMOTEHOST") < 0 || unsetenv("TCPREMOTEINFO") < 0 ||
	    unsetenv("TCPLOCALHOST") < 0)
		return -1;
	return 0;
}

/* The child: never returns. */
static void __attribute__((noreturn))
conn_child(struct listen *l, int c, const struct listen_addrs *a)
{
	sigprocmask(SIG_SETMASK, &l->childmask, NULL);
	if (dup2(c, 0) < 0 || dup2(c, 1) < 0) {
		log_err("dup2: %m");
		_exit(111);
	}
	if (c > 1)
		close(c);
	if (conn_environ(a) < 0) {
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

/* The number of connections from ip: busy children, and in pool mode
 * the connections waiting for a worker. */
static unsigned
conn_count_ip(const struct listen *l, const char *ip)
{
	unsigned i, n = 0;

	for (i = 0; i < l->maxconn; i++)
		if (l->kids[i].state == LISTEN_BUSY &&
		    strcmp(l->kids[i].ip, ip) == 0)
			n++;
	for (i = 0; l->pending != NULL && i < l->maxconn; i++)
		if (l->pending[i].fd >= 0 && strcmp(l->pending[i].a.rip,
		    ip) == 0)
			n++;
	return n;
}

/* Send the busy line (best effort, never blocking) and close c.  Refusals
 * are logged at most once a second, with the count of those not logged. */
static void
conn_refuse(struct listen *l, int c, const char *ip, const char *why)
{
	time_t now = time(NULL);

	if (l->busy != NULL)
		(void)send(c, l->busy, strlen(l->busy), MSG_DONTWAIT |
		    MSG_NOSIGNAL);
	close(c);
	if (now == l->refused_at) {
		l->refused_quiet++;
		return;
	}
	if (l->refused_quiet > 0)
		log_warn("refused %s: %s (and %lu more refusals before)", ip,
		    why, l->refused_quiet);
	else
		log_warn("refused %s: %s", ip, why);
	l->refused_at = now;
	l->refused_quiet = 0;
}

/* Start the program for the accepted connection c. */
static void
conn_start(struct listen *l, int c, const struct listen_addrs *a)
{
	struct listen_child *slot = NULL;
	unsigned i;
	pid_t pid;

	for (i = 0; i < l->maxconn && slot == NULL; i++)
		if (l->kids[i].pid == 0)
			slot = &l->kids[i];
	if (slot == NULL) {	/* cannot happen: nkids < maxconn */
		close(c);
		return;
	}
	if ((pid = fork()) < 0) {
		log_err("fork: %m");
		close(c);
		return;
	}
	if (pid == 0)
		conn_child(l, c, a);
	close(c);
	slot->pid = pid;
	slot->state = LISTEN_BUSY;
	slot->ctl = -1;
	memcpy(slot->ip, a->rip, sizeof slot->ip);
	l->nkids++;
	l->nbusy++;
	if (l->verbose)
		log_info("pid %ld: %s:%u (%u/%u)", (long)pid, a->rip,
		    a->rport, l->nkids, l->maxconn);
}

/* Accept one connection.  Returns 1 when one was handled, 0 when none was
 * waiting (or on a transient error). */
static int
conn_accept1(struct listen *l)
{
	struct sockaddr_storage rss, lss;
	socklen_t rlen = sizeof rss, llen = sizeof lss;
	struct listen_addrs a;
	int c;

	c = accept4(l->fd, (struct sockaddr *)&rss, &rlen, SOCK_CLOEXEC);
	if (c < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			log_err("accept: %m");
			usleep(100000);	/* the backlog waits meanwhile */
		}
		return 0;
	}
	conn_addr(&rss, a.rip, &a.rport);
	if (getsockname(c, (struct sockaddr *)&lss, &llen) < 0)
		memset(&lss, 0, sizeof lss);
	conn_addr(&lss, a.lip, &a.lport);
	/* Workers that finished a session since the poll (their "done" is
	 * still in their control socket) do not count against the limits:
	 * a client that reconnects at once after QUIT would otherwise be
	 * refused while listen is behind. */
	if (l->maxuse > 0 && (l->nbusy >= l->maxconn || (l->maxip > 0 &&
	    conn_count_ip(l, a.rip) >= l->maxip)))
		pool_drain(l);
	if (l->nbusy >= l->maxconn)
		conn_refuse(l, c, a.rip, "too many connections");
	else if (l->maxip > 0 && conn_count_ip(l, a.rip) >= l->maxip)
		conn_refuse(l, c, a.rip, "too many connections from it");
	else if (l->maxuse > 0)
		pool_hand(l, c, &a);
	else
		conn_start(l, c, &a);
	return 1;
}

void
conn_accept(struct listen *l)
{
	int i;

	for (i = 0; i < CONN_BATCH; i++)
		if (!conn_accept1(l))
			break;
}

void
conn_reap(struct listen *l)
{
	unsigned i;
	pid_t pid;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (i = 0; i < l->maxconn; i++)
			if (l->kids[i].pid == pid)
				break;
		if (i == l->maxconn)
			continue;
		if (l->maxuse > 0) {
			pool_reaped(l, &l->kids[i], st);
			continue;
		}
		memset(&l->kids[i], 0, sizeof l->kids[i]);
		l->nkids--;
		l->nbusy--;
		if (l->verbose)
			log_info("pid %ld: ended, %s %d", (long)pid,
			    WIFSIGNALED(st) ? "signal" : "status",
			    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	}
}
