/* SPDX-License-Identifier: ISC */
#ifndef ZEST_IO_H
#define ZEST_IO_H

/*
 * io: bounded, buffered I/O over an injectable transport.
 *
 * A struct io carries a fixed read buffer and a fixed write buffer (no
 * allocation, nothing to free), per-wait timeouts and an optional absolute
 * deadline.  The transport is a pair of read/write callbacks: the default one
 * works on file descriptors and waits with poll(); TLS or test buffers plug in
 * through io_init_ops() / io_set_ops().  On a socket the fd transport writes
 * with send(MSG_DONTWAIT | MSG_NOSIGNAL), so a write never blocks past its
 * timeout; on other descriptors with a timeout set it writes at most
 * PIPE_BUF bytes after each successful poll().
 *
 * Every function returns -1 with errno on failure; ETIMEDOUT means a wait
 * timed out or the deadline passed.  EPIPE is returned, never raised: callers
 * ignore SIGPIPE.  The fd transport keeps a pointer to its struct io, so a
 * struct io must not be copied or moved after io_init().
 */

#include <stdarg.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "str.h"

#define IO_BUFSIZE 16384

/*
 * A transport.  read returns bytes read, 0 at end of file, or -1 with errno;
 * write returns bytes written (at least 1 when n > 0) or -1 with errno.
 * Either may return fewer bytes than asked for; EINTR is retried by the
 * caller.  A transport that needs to wait uses io_wait() so that the io's
 * timeouts and deadline apply.
 */
struct io_ops {
	ssize_t (*read)(void *ctx, void *buf, size_t n);
	ssize_t (*write)(void *ctx, const void *buf, size_t n);
};

struct io {
	const struct io_ops *ops;
	void *ctx;
	int rfd;		/* fd transport descriptors, -1 otherwise */
	int wfd;
	int wsock;		/* wfd is a socket: 1, is not: 0, unknown: -1 */
	int read_ms;		/* per-wait timeouts, 0 = none */
	int write_ms;
	time_t deadline;	/* absolute limit for every operation, 0 = none */
	size_t rpos;		/* unread bytes are rbuf[rpos..rlen) */
	size_t rlen;
	size_t wlen;		/* unflushed bytes are wbuf[0..wlen) */
	unsigned char rbuf[IO_BUFSIZE];
	unsigned char wbuf[IO_BUFSIZE];
};

/* The file descriptor transport (ctx is the struct io itself). */
extern const struct io_ops io_fd_ops;

/* Set up io on descriptors rfd (reads) and wfd (writes; -1 for none),
 * which stay owned by the caller; no timeouts, no deadline. */
void io_init(struct io *io, int rfd, int wfd);

/* Set up io on transport ops with context ctx; no timeouts, no deadline. */
void io_init_ops(struct io *io, const struct io_ops *ops, void *ctx);

/* Switch the transport (e.g. to TLS after STARTTLS) keeping timeouts,
 * deadline and buffered data; check io_pending() and flush first. */
void io_set_ops(struct io *io, const struct io_ops *ops, void *ctx);

/* Set the per-wait read and write timeouts in milliseconds (0 = none). */
void io_set_timeouts(struct io *io, int read_ms, int write_ms);

/* Make every read and write fail with ETIMEDOUT once time(NULL) reaches
 * deadline (0 removes the deadline). */
void io_set_deadline(struct io *io, time_t deadline);

/* Wait until fd is readable (for_write 0) or writable (1), bounded by the
 * io's read or write timeout and by its deadline.  For transports.
 * Returns 0, or -1 with errno ETIMEDOUT (or a poll error). */
int io_wait(const struct io *io, int fd, int for_write);

/* One read(2) of fd bounded by the io's read timeout and deadline (EINTR
 * retried): the fd transport's read, for transports such as TLS that read
 * the connection themselves.  Returns bytes read, 0 at EOF, -1 with errno. */
ssize_t io_fd_read_bounded(const struct io *io, int fd, void *buf, size_t n);

/* One write of up to n bytes to fd that cannot block past the io's write
 * timeout and deadline: send(MSG_DONTWAIT) on a socket, at most PIPE_BUF
 * bytes after poll() on anything else.  *wsock caches whether fd is a
 * socket (start it at -1).  Returns bytes written or -1 with errno. */
ssize_t io_fd_write_bounded(const struct io *io, int fd, int *wsock,
    const void *buf, size_t n);

/*
 * Read one line into line (emptied first): the bytes up to and including the
 * LF, so a CR before it is kept and the caller sees CRLF versus bare LF.
 * max bounds the line including its terminator; line never grows past it.
 * Returns 1 for a line (one without LF is the final line before EOF), 0 at
 * EOF with nothing read, or -1 with errno: E2BIG when the line is longer than
 * max (the rest of it, through its LF, has then been read and discarded,
 * line is empty, and the next call reads the next line), ETIMEDOUT, ENOMEM,
 * or the transport's error.
 */
int io_getline(struct io *io, struct str *line, size_t max);

/* Read up to n bytes: buffered bytes if any, else the result of at most one
 * transport read.  Returns bytes read, 0 at EOF (or n == 0), or -1. */
ssize_t io_read(struct io *io, void *buf, size_t n);

/* Read exactly n bytes.  Returns 0, or -1 with errno EPIPE when EOF comes
 * first (the bytes read so far are in buf and lost to the stream). */
int io_readn(struct io *io, void *buf, size_t n);

/* Bytes already read from the transport and not yet consumed. */
size_t io_pending(const struct io *io);

/* The buffered unread bytes, read from the transport (one read) when there
 * are none, without consuming them: *p_r points at them until the next
 * call on io.  A parser that stops in the middle (the end of DATA, say)
 * takes what it used with io_consume() and leaves the rest for the next
 * reader.  Returns their number, 0 at EOF, or -1 with errno. */
ssize_t io_peek(struct io *io, const unsigned char **p_r);

/* Consume n of the bytes io_peek() showed (n at most io_pending()). */
void io_consume(struct io *io, size_t n);

/* Drop the buffered unread bytes (e.g. plaintext pipelined before TLS). */
void io_discard_pending(struct io *io);

/* Queue n bytes for writing; writes through when the buffer fills, and
 * passes blocks of IO_BUFSIZE or more straight to the transport.  Returns 0,
 * or -1 with errno (part of a large block may then have gone out). */
int io_write(struct io *io, const void *p, size_t n);

/* io_write() of a NUL-terminated string. */
int io_puts(struct io *io, const char *s);

/* io_write() of printf-style formatted text.  Returns 0 or -1. */
int io_printf(struct io *io, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* As io_printf() with a va_list. */
int io_vprintf(struct io *io, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* Write out every buffered byte.  Returns 0, or -1 with errno; the bytes
 * not written stay buffered. */
int io_flush(struct io *io);

#endif
