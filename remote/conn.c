/* SPDX-License-Identifier: ISC */
/*
 * Connections: a TCP connect bounded in time, and the STARTTLS hook that
 * turns a session's io into a TLS client (lib/tls, no certificate
 * verification: opportunistic TLS between MTAs, RFC 3207 section 4.1).
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "remote.h"

/* Wait for a non-blocking connect to finish; 0 or -1 with errno. */
static int
conn_wait(int fd, unsigned timeout)
{
	struct timespec now, end;
	struct pollfd p;
	long ms;
	int r, e = 0;
	socklen_t len = sizeof(e);

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += (time_t)timeout;
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = (long)(end.tv_sec - now.tv_sec) * 1000 +
		    (end.tv_nsec - now.tv_nsec) / 1000000;
		if (ms <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		p.fd = fd;
		p.events = POLLOUT;
		p.revents = 0;
		r = poll(&p, 1, ms > 60000 ? 60000 : (int)ms);
		if (r > 0)
			break;
		if (r < 0 && errno != EINTR)
			return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
		return -1;
	if (e != 0) {
		errno = e;
		return -1;
	}
	return 0;
}

int
conn_open(const struct dns_addr *a, unsigned port, unsigned timeout,
    struct str *err)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	int fd, e;

	memset(&ss, 0, sizeof(ss));
	if (a->family == AF_INET) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((unsigned short)port);
		memcpy(&sin->sin_addr, a->a, 4);
		len = sizeof(*sin);
	} else {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((unsigned short)port);
		memcpy(&sin6->sin6_addr, a->a, 16);
		len = sizeof(*sin6);
	}
	fd = socket(a->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		str_appendf(err, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&ss, len) < 0 &&
	    (errno != EINPROGRESS || conn_wait(fd, timeout) < 0)) {
		e = errno;
		close(fd);
		str_appendf(err, "%s", e == ETIMEDOUT ? "connection timed "
		    "out" : strerror(e));
		return -1;
	}
	return fd;
}

int
conn_starttls(void *arg, struct io *io, struct str *err)
{
	struct conn_tls *t = arg;
	int r;

	/* The whole handshake within the timeout, not just each wait. */
	io_set_deadline(io, time(NULL) + (time_t)t->timeout);
	r = tls_connect(t->ctx, io, t->fd, t->servername, &t->session, err);
	io_set_deadline(io, 0);
	return r;
}
