/* SPDX-License-Identifier: ISC */
#include "io.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static ssize_t io_fd_read(void *ctx, void *buf, size_t n);
static ssize_t io_fd_write(void *ctx, const void *buf, size_t n);

const struct io_ops io_fd_ops = { io_fd_read, io_fd_write };

/* Milliseconds on clock c. */
static int64_t
io_now_ms(clockid_t c)
{
	struct timespec ts;

	if (clock_gettime(c, &ts) < 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left before the deadline (<= 0: passed; INT64_MAX: none). */
static int64_t
io_deadline_left(const struct io *io)
{
	if (io->deadline <= 0 || io->deadline > INT64_MAX / 1000 - 1)
		return INT64_MAX;
	return (int64_t)io->deadline * 1000 - io_now_ms(CLOCK_REALTIME);
}

static int
io_expired(const struct io *io)
{
	if (io_deadline_left(io) > 0)
		return 0;
	errno = ETIMEDOUT;
	return 1;
}

void
io_set_ops(struct io *io, const struct io_ops *ops, void *ctx)
{
	io->ops = ops;
	io->ctx = ctx;
}

void
io_init_ops(struct io *io, const struct io_ops *ops, void *ctx)
{
	io_set_ops(io, ops, ctx);
	io->rfd = -1;
	io->wfd = -1;
	io->wsock = -1;
	io->read_ms = 0;
	io->write_ms = 0;
	io->deadline = 0;
	io->rpos = 0;
	io->rlen = 0;
	io->wlen = 0;
}

void
io_init(struct io *io, int rfd, int wfd)
{
	io_init_ops(io, &io_fd_ops, io);
	io->rfd = rfd;
	io->wfd = wfd;
}

void
io_set_timeouts(struct io *io, int read_ms, int write_ms)
{
	io->read_ms = read_ms > 0 ? read_ms : 0;
	io->write_ms = write_ms > 0 ? write_ms : 0;
}

void
io_set_deadline(struct io *io, time_t deadline)
{
	io->deadline = deadline > 0 ? deadline : 0;
}

int
io_wait(const struct io *io, int fd, int for_write)
{
	int ms = for_write ? io->write_ms : io->read_ms;
	int64_t end = ms > 0 ? io_now_ms(CLOCK_MONOTONIC) + ms : 0;
	int64_t left, t;
	struct pollfd pfd;
	int r;

	if (fd < 0) {
		errno = EBADF;	/* poll() would ignore it and just sleep */
		return -1;
	}
	for (;;) {
		left = io_deadline_left(io);
		if (end) {
			t = end - io_now_ms(CLOCK_MONOTONIC);
			if (t < left)
				left = t;
		}
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		pfd.fd = fd;
		pfd.events = for_write ? POLLOUT : POLLIN;
		pfd.revents = 0;
		r = poll(&pfd, 1, left == INT64_MAX ? -1 :
		    left > INT_MAX ? INT_MAX : (int)left);
		if (r > 0) {
			if (pfd.revents & POLLNVAL) {
				errno = EBADF;
				return -1;
			}
			return 0;
		}
		/* r == 0: time is rechecked at the top of the loop. */
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

ssize_t
io_fd_read_bounded(const struct io *io, int fd, void *buf, size_t n)
{
	int wait = io->read_ms > 0 || io->deadline > 0;
	ssize_t r;

	for (;;) {
		if (io_expired(io))
			return -1;
		if (wait && io_wait(io, fd, 0) < 0)
			return -1;
		r = read(fd, buf, n);
		if (r >= 0)
			return r;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			wait = 1;
		else if (errno != EINTR)
			return -1;
	}
}

/*
 * One write(2) or send(2) on fd.  A blocking write may wait past poll()'s
 * answer until all n bytes fit, so sockets get MSG_DONTWAIT and other
 * descriptors, when a timeout applies, at most PIPE_BUF bytes, which poll()
 * reporting POLLOUT guarantees room for.
 */
static ssize_t
io_fd_write1(int fd, int *wsock, const void *buf, size_t n, int timed)
{
	ssize_t r;

	if (*wsock != 0) {
		r = send(fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (r >= 0 || errno != ENOTSOCK) {
			*wsock = 1;
			return r;
		}
		*wsock = 0;
	}
	if (timed && n > PIPE_BUF)
		n = PIPE_BUF;
	return write(fd, buf, n);
}

ssize_t
io_fd_write_bounded(const struct io *io, int fd, int *wsock, const void *buf,
    size_t n)
{
	int timed = io->write_ms > 0 || io->deadline > 0;
	int wait = timed;
	ssize_t r;

	for (;;) {
		if (io_expired(io))
			return -1;
		if (wait && io_wait(io, fd, 1) < 0)
			return -1;
		r = io_fd_write1(fd, wsock, buf, n, timed);
		if (r >= 0)
			return r;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			wait = 1;
		else if (errno != EINTR)
			return -1;
	}
}

static ssize_t
io_fd_read(void *ctx, void *buf, size_t n)
{
	struct io *io = ctx;

	return io_fd_read_bounded(io, io->rfd, buf, n);
}

static ssize_t
io_fd_write(void *ctx, const void *buf, size_t n)
{
	struct io *io = ctx;

	return io_fd_write_bounded(io, io->wfd, &io->wsock, buf, n);
}

/* One transport read into buf, after the deadline check; EINTR retried. */
static ssize_t
io_transport_read(struct io *io, void *buf, size_t n)
{
	ssize_t r;

	if (n > SSIZE_MAX)
		n = SSIZE_MAX;
	do {
		if (io_expired(io))
			return -1;
		r = io->ops->read(io->ctx, buf, n);
	} while (r < 0 && errno == EINTR);
	if (r > (ssize_t)n) {
		errno = EIO;	/* broken transport */
		return -1;
	}
	return r;
}

/* Refill the (empty) read buffer.  Returns bytes read, 0 at EOF, or -1. */
static ssize_t
io_fill(struct io *io)
{
	ssize_t r;

	io->rpos = 0;
	io->rlen = 0;
	r = io_transport_read(io, io->rbuf, sizeof(io->rbuf));
	if (r > 0)
		io->rlen = (size_t)r;
	return r;
}

/* io_getline() once line->max is at most max. */
static int
io_getline1(struct io *io, struct str *line, size_t max)
{
	const unsigned char *p, *lf;
	size_t n;
	ssize_t r;
	int toolong = 0;

	for (;;) {
		if (io->rpos == io->rlen) {
			if ((r = io_fill(io)) < 0)
				return -1;
			if (r == 0) {
				if (toolong) {
					errno = E2BIG;
					return -1;
				}
				return line->len > 0;
			}
		}
		p = io->rbuf + io->rpos;
		n = io->rlen - io->rpos;
		if ((lf = memchr(p, '\n', n)) != NULL)
			n = (size_t)(lf - p) + 1;
		io->rpos += n;
		if (!toolong) {
			if (n > max - line->len)
				toolong = 1;
			else if (str_append(line, p, n) < 0) {
				if (errno != E2BIG)
					return -1;
				toolong = 1;
			}
			if (toolong)
				str_clear(line);
		}
		if (lf != NULL) {
			if (!toolong)
				return 1;
			errno = E2BIG;
			return -1;
		}
	}
}

int
io_getline(struct io *io, struct str *line, size_t max)
{
	size_t save = line->max;
	int rc;

	/* Let str cap its allocation at max + 1 rather than round it up. */
	if (max > 0 && (save == 0 || save > max))
		line->max = max;
	str_clear(line);
	rc = io_getline1(io, line, max);
	line->max = save;
	return rc;
}

ssize_t
io_read(struct io *io, void *buf, size_t n)
{
	ssize_t r;

	if (n == 0)
		return 0;
	if (n > SSIZE_MAX)
		n = SSIZE_MAX;
	if (io->rpos == io->rlen) {
		if (n >= sizeof(io->rbuf))
			return io_transport_read(io, buf, n);
		if ((r = io_fill(io)) <= 0)
			return r;
	}
	if (n > io->rlen - io->rpos)
		n = io->rlen - io->rpos;
	memcpy(buf, io->rbuf + io->rpos, n);
	io->rpos += n;
	return (ssize_t)n;
}

int
io_readn(struct io *io, void *buf, size_t n)
{
	unsigned char *p = buf;
	size_t done = 0;
	ssize_t r;

	while (done < n) {
		r = io_read(io, p + done, n - done);
		if (r < 0)
			return -1;
		if (r == 0) {
			errno = EPIPE;
			return -1;
		}
		done += (size_t)r;
	}
	return 0;
}

size_t
io_pending(const struct io *io)
{
	return io->rlen - io->rpos;
}

ssize_t
io_peek(struct io *io, const unsigned char **p_r)
{
	ssize_t r;

	if (io->rpos == io->rlen && (r = io_fill(io)) <= 0)
		return r;
	*p_r = io->rbuf + io->rpos;
	return (ssize_t)(io->rlen - io->rpos);
}

void
io_consume(struct io *io, size_t n)
{
	assert(n <= io->rlen - io->rpos);
	io->rpos += n;
}

void
io_discard_pending(struct io *io)
{
	io->rpos = 0;
	io->rlen = 0;
}

/* Write all n bytes to the transport; *done_r gets how many went out. */
static int
io_write_all(struct io *io, const unsigned char *p, size_t n, size_t *done_r)
{
	size_t done = 0, chunk;
	ssize_t r;
	int rc = 0;

	while (done < n) {
		if (io_expired(io)) {
			rc = -1;
			break;
		}
		chunk = n - done > SSIZE_MAX ? SSIZE_MAX : n - done;
		r = io->ops->write(io->ctx, p + done, chunk);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || (size_t)r > chunk) {
			if (r >= 0)
				errno = EIO;	/* broken transport */
			rc = -1;
			break;
		}
		done += (size_t)r;
	}
	*done_r = done;
	return rc;
}

int
io_flush(struct io *io)
{
	size_t done;
	int rc;

	if (io->wlen == 0)
		return 0;
	rc = io_write_all(io, io->wbuf, io->wlen, &done);
	if (done > 0) {
		memmove(io->wbuf, io->wbuf + done, io->wlen - done);
		io->wlen -= done;
	}
	return rc;
}

int
io_write(struct io *io, const void *p, size_t n)
{
	size_t done;

	if (n == 0)
		return 0;
	if (n <= sizeof(io->wbuf) - io->wlen) {
		memcpy(io->wbuf + io->wlen, p, n);
		io->wlen += n;
		return 0;
	}
	if (io_flush(io) < 0)
		return -1;
	if (n >= sizeof(io->wbuf))
		return io_write_all(io, p, n, &done);
	memcpy(io->wbuf, p, n);
	io->wlen = n;
	return 0;
}

int
io_puts(struct io *io, const char *s)
{
	return io_write(io, s, strlen(s));
}

int
io_vprintf(struct io *io, const char *fmt, va_list ap)
{
	struct str tmp = STR_INIT;
	size_t room = sizeof(io->wbuf) - io->wlen;
	va_list aq;
	int n, rc;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0)
		return -1;
	if ((size_t)n < room) {
		/* Fits with its NUL: format straight into the buffer. */
		vsnprintf((char *)io->wbuf + io->wlen, room, fmt, ap);
		io->wlen += (size_t)n;
		return 0;
	}
	if (str_vappendf(&tmp, fmt, ap) < 0)
		return -1;
	rc = io_write(io, tmp.s, tmp.len);
	str_free(&tmp);
	return rc;
}

int
io_printf(struct io *io, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = io_vprintf(io, fmt, ap);
	va_end(ap);
	return rc;
}
