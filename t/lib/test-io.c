/* SPDX-License-Identifier: ISC */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "str.h"

/*
 * Memory transport: reads come from in[] at most chunk bytes at a time (0:
 * all that is left), then EOF or read_err; writes go to out, at most wchunk
 * bytes per call, failing with write_err once out holds wfail_at bytes.
 * Every eintr-th call (0: never) fails with EINTR first.
 */
struct mem {
	const char *in;
	size_t inlen;
	size_t inpos;
	size_t chunk;
	int read_err;
	size_t nreads;
	size_t maxread;		/* largest n a read was asked for */
	struct str out;
	size_t wchunk;
	size_t wfail_at;
	int write_err;
	size_t nwrites;
	size_t maxwrite;	/* largest n a write was asked for */
	unsigned eintr;
	unsigned calls;
};

static int
mem_eintr(struct mem *m)
{
	if (m->eintr && ++m->calls % m->eintr == 0) {
		errno = EINTR;
		return 1;
	}
	return 0;
}

static ssize_t
mem_read(void *ctx, void *buf, size_t n)
{
	struct mem *m = ctx;
	size_t left = m->inlen - m->inpos;

	if (mem_eintr(m))
		return -1;
	m->nreads++;
	if (n > m->maxread)
		m->maxread = n;
	if (left == 0) {
		if (m->read_err) {
			errno = m->read_err;
			return -1;
		}
		return 0;
	}
	if (m->chunk && n > m->chunk)
		n = m->chunk;
	if (n > left)
		n = left;
	memcpy(buf, m->in + m->inpos, n);
	m->inpos += n;
	return (ssize_t)n;
}

static ssize_t
mem_write(void *ctx, const void *buf, size_t n)
{
	struct mem *m = ctx;

	if (mem_eintr(m))
		return -1;
	m->nwrites++;
	if (n > m->maxwrite)
		m->maxwrite = n;
	if (m->write_err && m->out.len >= m->wfail_at) {
		errno = m->write_err;
		return -1;
	}
	if (m->wchunk && n > m->wchunk)
		n = m->wchunk;
	if (m->write_err && n > m->wfail_at - m->out.len)
		n = m->wfail_at - m->out.len;
	if (str_append(&m->out, buf, n) < 0)
		return -1;
	return (ssize_t)n;
}

static const struct io_ops mem_ops = { mem_read, mem_write };

static void
mem_setup(struct mem *m, const char *in, size_t inlen, size_t chunk)
{
	memset(m, 0, sizeof(*m));
	m->in = in;
	m->inlen = inlen;
	m->chunk = chunk;
	str_init(&m->out, 0);
}

static double
now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One expected io_getline() result: rc, errno when rc < 0, line. */
struct want {
	int rc;
	int err;
	const char *line;
	size_t len;
};

#define W_LINE(s) { 1, 0, s, sizeof(s) - 1 }
#define W_ERR(e) { -1, e, "", 0 }
#define W_EOF { 0, 0, "", 0 }

struct getline_case {
	const char *name;
	const char *in;
	size_t inlen;
	size_t max;
	struct want want[6];
	size_t nwant;
};

#define IN(s) s, sizeof(s) - 1

static const struct getline_case getline_cases[] = {
	{ "crlf then lf", IN("a\r\nb\n"), 100,
	  { W_LINE("a\r\n"), W_LINE("b\n"), W_EOF }, 3 },
	{ "bare cr is not an end", IN("a\rb\r\n"), 100,
	  { W_LINE("a\rb\r\n"), W_EOF }, 2 },
	{ "empty lines", IN("\n\r\n\n"), 100,
	  { W_LINE("\n"), W_LINE("\r\n"), W_LINE("\n"), W_EOF }, 4 },
	{ "empty input", IN(""), 100, { W_EOF, W_EOF }, 2 },
	{ "partial line at eof", IN("abc\nxyz"), 100,
	  { W_LINE("abc\n"), W_LINE("xyz"), W_EOF }, 3 },
	{ "lone cr at eof", IN("\r"), 100, { W_LINE("\r"), W_EOF }, 2 },
	{ "nul inside", IN("a\0b\n"), 100, { W_LINE("a\0b\n"), W_EOF }, 2 },
	{ "exactly max", IN("abcd\nxyz\r\n"), 5,
	  { W_LINE("abcd\n"), W_LINE("xyz\r\n"), W_EOF }, 3 },
	{ "exactly max crlf", IN("abc\r\n"), 5, { W_LINE("abc\r\n"), W_EOF }, 2 },
	{ "max+1 then continue", IN("abcde\nok\n"), 5,
	  { W_ERR(E2BIG), W_LINE("ok\n"), W_EOF }, 3 },
	{ "max+1 by the cr", IN("abcd\r\nok\r\n"), 5,
	  { W_ERR(E2BIG), W_LINE("ok\r\n"), W_EOF }, 3 },
	{ "two long lines", IN("0123456789\nabcdefgh\r\nx\n"), 4,
	  { W_ERR(E2BIG), W_ERR(E2BIG), W_LINE("x\n"), W_EOF }, 4 },
	{ "long partial at eof", IN("ok\nabcdef"), 3,
	  { W_LINE("ok\n"), W_ERR(E2BIG), W_EOF }, 3 },
	{ "partial at eof exactly max", IN("abc"), 3,
	  { W_LINE("abc"), W_EOF }, 2 },
	{ "max zero", IN("\nab\n"), 0,
	  { W_ERR(E2BIG), W_ERR(E2BIG), W_EOF }, 3 },
};

static void
run_getline_case(const struct getline_case *c, size_t chunk, unsigned eintr)
{
	struct mem m;
	struct io io;
	struct str line = STR_INIT;
	size_t i;
	int rc;

	mem_setup(&m, c->in, c->inlen, chunk);
	m.eintr = eintr;
	io_init_ops(&io, &mem_ops, &m);
	for (i = 0; i < c->nwant; i++) {
		const struct want *w = &c->want[i];

		errno = 0;
		rc = io_getline(&io, &line, c->max);
		if (rc != w->rc || (rc < 0 && errno != w->err))
			fail_msg("%s (chunk %zu) result %zu: rc %d errno %d, "
			    "want rc %d errno %d", c->name, chunk, i, rc,
			    errno, w->rc, w->err);
		if (line.len != w->len || memcmp(str_cstr(&line), w->line,
		    w->len) != 0)
			fail_msg("%s (chunk %zu) result %zu: line len %zu, "
			    "want %zu", c->name, chunk, i, line.len, w->len);
		assert_true(line.len <= c->max);
	}
	str_free(&line);
}

static void
test_getline_table(void **state)
{
	static const size_t chunks[] = { 0, 1, 2, 3, 7 };
	size_t i, j;

	for (i = 0; i < sizeof(getline_cases) / sizeof(getline_cases[0]); i++)
		for (j = 0; j < sizeof(chunks) / sizeof(chunks[0]); j++) {
			run_getline_case(&getline_cases[i], chunks[j], 0);
			run_getline_case(&getline_cases[i], chunks[j], 2);
		}
}

/* A line much longer than the buffer is discarded with bounded memory. */
static void
test_getline_long_discard(void **state)
{
	size_t biglen = 5 * IO_BUFSIZE + 123, max = 1000;
	const char tail[] = "\r\nnext\r\n";
	char *in = malloc(biglen + sizeof(tail));
	struct str line = STR_INIT;
	struct mem m;
	struct io io;
	size_t chunk;

	assert_non_null(in);
	memset(in, 'x', biglen);
	memcpy(in + biglen, tail, sizeof(tail));
	for (chunk = 0; chunk < 1000; chunk += 997) {
		mem_setup(&m, in, biglen + sizeof(tail) - 1, chunk);
		io_init_ops(&io, &mem_ops, &m);
		errno = 0;
		assert_int_equal(io_getline(&io, &line, max), -1);
		assert_int_equal(errno, E2BIG);
		assert_int_equal(line.len, 0);
		assert_true(line.cap <= max + 1);
		assert_int_equal(io_getline(&io, &line, max), 1);
		assert_string_equal(str_cstr(&line), "next\r\n");
		assert_int_equal(io_getline(&io, &line, max), 0);
	}
	str_free(&line);
	free(in);
}

/* A line longer than the read buffer but within max is returned whole. */
static void
test_getline_longer_than_buffer(void **state)
{
	size_t len = 3 * IO_BUFSIZE + 5;
	char *in = malloc(len + 3);
	struct str line = STR_INIT;
	struct mem m;
	struct io io;

	assert_non_null(in);
	memset(in, 'y', len);
	memcpy(in + len, "\nz", 3);
	mem_setup(&m, in, len + 2, 0);
	io_init_ops(&io, &mem_ops, &m);
	assert_int_equal(io_getline(&io, &line, len + 1), 1);
	assert_int_equal(line.len, len + 1);
	assert_memory_equal(line.s, in, len + 1);
	assert_int_equal(io_getline(&io, &line, len + 1), 1);
	assert_string_equal(str_cstr(&line), "z");
	str_free(&line);
	free(in);
}

/* The line's own maximum also counts as too long, and is recovered from. */
static void
test_getline_str_max(void **state)
{
	static const char in[] = "abcdefgh\nabc\n";
	struct str line;
	struct mem m;
	struct io io;

	str_init(&line, 4);
	mem_setup(&m, in, sizeof(in) - 1, 1);
	io_init_ops(&io, &mem_ops, &m);
	errno = 0;
	assert_int_equal(io_getline(&io, &line, 100), -1);
	assert_int_equal(errno, E2BIG);
	assert_int_equal(io_getline(&io, &line, 100), 1);
	assert_string_equal(str_cstr(&line), "abc\n");
	str_free(&line);
}

static void
test_getline_read_error(void **state)
{
	static const char in[] = "a\nb";
	struct str line = STR_INIT;
	struct mem m;
	struct io io;

	mem_setup(&m, in, sizeof(in) - 1, 0);
	m.read_err = EIO;
	io_init_ops(&io, &mem_ops, &m);
	assert_int_equal(io_getline(&io, &line, 10), 1);
	assert_string_equal(str_cstr(&line), "a\n");
	errno = 0;
	assert_int_equal(io_getline(&io, &line, 10), -1);
	assert_int_equal(errno, EIO);
	str_free(&line);
}

static void
test_read_readn_pending(void **state)
{
	static const char in[] = "EHLO x\r\nSTARTTLS\r\nQUIT\r\n";
	struct str line = STR_INIT;
	char buf[32];
	struct mem m;
	struct io io;

	mem_setup(&m, in, sizeof(in) - 1, 0);
	io_init_ops(&io, &mem_ops, &m);
	assert_int_equal(io_pending(&io), 0);
	assert_int_equal(io_read(&io, buf, 4), 4);
	assert_memory_equal(buf, "EHLO", 4);
	assert_int_equal(io_pending(&io), sizeof(in) - 1 - 4);
	assert_int_equal(io_getline(&io, &line, 100), 1);
	assert_string_equal(str_cstr(&line), " x\r\n");
	assert_int_equal(io_readn(&io, buf, 10), 0);
	assert_memory_equal(buf, "STARTTLS\r\n", 10);
	/* Pipelined bytes after STARTTLS are visible and can be dropped. */
	assert_int_equal(io_pending(&io), 6);
	io_discard_pending(&io);
	assert_int_equal(io_pending(&io), 0);
	assert_int_equal(io_getline(&io, &line, 100), 0);
	assert_int_equal(io_read(&io, buf, sizeof(buf)), 0);
	assert_int_equal(io_read(&io, buf, 0), 0);
	str_free(&line);
}

/* io_peek shows the buffered bytes (reading only when there are none);
 * io_consume takes some, and every other reader sees the rest. */
static void
test_peek_consume(void **state)
{
	static const char in[] = "1234567890QUIT\r\n";
	struct str line = STR_INIT;
	const unsigned char *p;
	char buf[8];
	struct mem m;
	struct io io;

	mem_setup(&m, in, sizeof(in) - 1, 4);
	m.read_err = EIO;
	io_init_ops(&io, &mem_ops, &m);
	assert_int_equal(io_peek(&io, &p), 4);
	assert_memory_equal(p, "1234", 4);
	assert_int_equal(m.nreads, 1);
	io_consume(&io, 1);
	assert_int_equal(io_pending(&io), 3);
	/* bytes are buffered: no read */
	assert_int_equal(io_peek(&io, &p), 3);
	assert_memory_equal(p, "234", 3);
	assert_int_equal(m.nreads, 1);
	io_consume(&io, 0);
	assert_int_equal(io_read(&io, buf, 2), 2);
	assert_memory_equal(buf, "23", 2);
	assert_int_equal(io_peek(&io, &p), 1);
	io_consume(&io, 1);
	/* none left: one read, of at most the buffer */
	assert_int_equal(io_peek(&io, &p), 4);
	assert_memory_equal(p, "5678", 4);
	assert_int_equal(m.nreads, 2);
	io_consume(&io, 4);
	assert_int_equal(io_peek(&io, &p), 4);
	io_consume(&io, 2);
	/* the rest goes to the next reader, across buffer refills */
	assert_int_equal(io_getline(&io, &line, 100), 1);
	assert_string_equal(str_cstr(&line), "QUIT\r\n");
	/* the transport's error, then (after it) its EOF */
	assert_int_equal(io_peek(&io, &p), -1);
	assert_int_equal(errno, EIO);
	m.read_err = 0;
	assert_int_equal(io_peek(&io, &p), 0);
	assert_int_equal(io_pending(&io), 0);
	str_free(&line);
}

static void
test_readn_eof_bytewise(void **state)
{
	static const char in[] = "0123456789";
	char buf[16];
	struct mem m;
	struct io io;

	mem_setup(&m, in, sizeof(in) - 1, 1);
	m.eintr = 3;
	io_init_ops(&io, &mem_ops, &m);
	/* io_read returns what one transport read gave. */
	assert_int_equal(io_read(&io, buf, 5), 1);
	assert_int_equal(io_readn(&io, buf, 6), 0);
	assert_memory_equal(buf, "123456", 6);
	errno = 0;
	assert_int_equal(io_readn(&io, buf, 4), -1);
	assert_int_equal(errno, EPIPE);
	assert_int_equal(io_readn(&io, buf, 0), 0);
}

/* Reads of at least a buffer go straight to the transport. */
static void
test_read_large_bypass(void **state)
{
	size_t len = 3 * IO_BUFSIZE;
	char *in = malloc(len), *out = malloc(len);
	struct mem m;
	struct io io;
	size_t i;

	assert_non_null(in);
	assert_non_null(out);
	for (i = 0; i < len; i++)
		in[i] = (char)(i * 7);
	mem_setup(&m, in, len, 0);
	io_init_ops(&io, &mem_ops, &m);
	assert_int_equal(io_read(&io, out, 10), 10);
	assert_int_equal(io_readn(&io, out + 10, len - 10), 0);
	assert_memory_equal(in, out, len);
	assert_true(m.maxread >= len - IO_BUFSIZE);
	free(in);
	free(out);
}

static void
test_pipe_timeout(void **state)
{
	struct str line = STR_INIT;
	struct io io;
	char c;
	double t0, dt;
	int p[2];

	assert_int_equal(pipe(p), 0);
	io_init(&io, p[0], -1);
	io_set_timeouts(&io, 100, 0);
	t0 = now_sec();
	errno = 0;
	assert_int_equal(io_getline(&io, &line, 100), -1);
	assert_int_equal(errno, ETIMEDOUT);
	dt = now_sec() - t0;
	assert_true(dt >= 0.09 && dt < 2.0);

	/* A partial line, then silence. */
	assert_int_equal(write(p[1], "ab", 2), 2);
	errno = 0;
	assert_int_equal(io_getline(&io, &line, 100), -1);
	assert_int_equal(errno, ETIMEDOUT);
	errno = 0;
	assert_int_equal(io_read(&io, &c, 1), -1);
	assert_int_equal(errno, ETIMEDOUT);

	/* Data within the timeout, then EOF. */
	assert_int_equal(write(p[1], "x\r\ny", 4), 4);
	close(p[1]);
	assert_int_equal(io_getline(&io, &line, 100), 1);
	assert_string_equal(str_cstr(&line), "x\r\n");
	assert_int_equal(io_getline(&io, &line, 100), 1);
	assert_string_equal(str_cstr(&line), "y");
	assert_int_equal(io_getline(&io, &line, 100), 0);
	close(p[0]);
	str_free(&line);
}

static void
test_deadline_passed(void **state)
{
	static const char in[] = "a\n";
	struct str line = STR_INIT;
	struct mem m;
	struct io io;

	mem_setup(&m, in, sizeof(in) - 1, 0);
	io_init_ops(&io, &mem_ops, &m);
	io_set_deadline(&io, time(NULL) - 1);
	errno = 0;
	assert_int_equal(io_getline(&io, &line, 10), -1);
	assert_int_equal(errno, ETIMEDOUT);
	assert_int_equal(io_puts(&io, "x"), 0);	/* buffered only */
	errno = 0;
	assert_int_equal(io_flush(&io), -1);
	assert_int_equal(errno, ETIMEDOUT);
	assert_int_equal(m.out.len, 0);
	io_set_deadline(&io, 0);
	assert_int_equal(io_getline(&io, &line, 10), 1);
	assert_int_equal(io_flush(&io), 0);
	assert_int_equal(m.out.len, 1);
	str_free(&line);
	str_free(&m.out);
}

/* A peer trickling a byte every 50 ms defeats the 300 ms per-wait timeout
 * but not the deadline. */
static void
test_deadline_trickle(void **state)
{
	struct str line = STR_INIT;
	struct io io;
	double t0, dt;
	pid_t pid;
	int p[2], i, st;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		for (i = 0; i < 100; i++) {
			if (write(p[1], "x", 1) != 1)
				_exit(0);
			usleep(50000);
		}
		_exit(0);
	}
	close(p[1]);
	io_init(&io, p[0], -1);
	io_set_timeouts(&io, 300, 0);
	t0 = now_sec();
	io_set_deadline(&io, time(NULL) + 1);
	errno = 0;
	assert_int_equal(io_getline(&io, &line, 10000), -1);
	assert_int_equal(errno, ETIMEDOUT);
	dt = now_sec() - t0;
	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
	close(p[0]);
	str_free(&line);
	assert_true(dt > 0.0 && dt < 2.5);
}

static void
test_pipe_eof_and_deadline(void **state)
{
	struct str line = STR_INIT;
	struct io io;
	double t0, dt;
	int p[2];

	assert_int_equal(pipe(p), 0);
	io_init(&io, p[0], -1);
	t0 = now_sec();
	io_set_deadline(&io, time(NULL) + 1);
	errno = 0;
	assert_int_equal(io_getline(&io, &line, 10), -1);
	assert_int_equal(errno, ETIMEDOUT);
	dt = now_sec() - t0;
	assert_true(dt > 0.0 && dt < 2.5);
	io_set_deadline(&io, 0);
	close(p[1]);
	assert_int_equal(io_getline(&io, &line, 10), 0);
	close(p[0]);
	str_free(&line);
}

/* Small writes accumulate, cross the buffer boundary, and arrive intact
 * through a transport taking 7 bytes per call with EINTRs. */
static void
test_write_boundary(void **state)
{
	char piece[1000];
	struct str want = STR_INIT;
	struct mem m;
	struct io io;
	int i;

	mem_setup(&m, NULL, 0, 0);
	m.wchunk = 7;
	m.eintr = 5;
	io_init_ops(&io, &mem_ops, &m);
	for (i = 0; i < 20; i++) {
		memset(piece, 'a' + i, sizeof(piece));
		assert_int_equal(io_write(&io, piece, sizeof(piece)), 0);
		assert_int_equal(str_append(&want, piece, sizeof(piece)), 0);
		if (i == 15)
			assert_int_equal(m.out.len, 0);	/* still buffered */
	}
	assert_true(m.out.len > 0 && m.out.len < want.len);
	assert_int_equal(io_printf(&io, "%d-%s\r\n", 42, "end"), 0);
	assert_int_equal(str_appends(&want, "42-end\r\n"), 0);
	assert_int_equal(io_flush(&io), 0);
	assert_int_equal(io_flush(&io), 0);
	assert_int_equal(m.out.len, want.len);
	assert_memory_equal(m.out.s, want.s, want.len);
	str_free(&want);
	str_free(&m.out);
}

/* A large write flushes what is buffered, then goes out in one call. */
static void
test_write_large_bypass(void **state)
{
	size_t len = 4 * IO_BUFSIZE + 1;
	char *big = malloc(len);
	struct mem m;
	struct io io;

	assert_non_null(big);
	memset(big, 'Q', len);
	mem_setup(&m, NULL, 0, 0);
	io_init_ops(&io, &mem_ops, &m);
	assert_int_equal(io_puts(&io, "head "), 0);
	assert_int_equal(io_write(&io, big, len), 0);
	assert_int_equal(m.nwrites, 2);
	assert_int_equal(m.maxwrite, len);
	assert_int_equal(m.out.len, 5 + len);
	assert_memory_equal(m.out.s, "head ", 5);
	assert_memory_equal(m.out.s + 5, big, len);
	/* printf longer than the buffer. */
	str_clear(&m.out);
	big[len - 1] = '\0';
	assert_int_equal(io_printf(&io, "<%s>", big), 0);
	assert_int_equal(io_flush(&io), 0);
	assert_int_equal(m.out.len, len + 1);
	assert_int_equal(m.out.s[0], '<');
	assert_int_equal(m.out.s[len], '>');
	free(big);
	str_free(&m.out);
}

/* On a write error the unwritten bytes stay buffered for a later flush. */
static void
test_write_error_keeps_rest(void **state)
{
	struct mem m;
	struct io io;

	mem_setup(&m, NULL, 0, 0);
	m.write_err = EIO;
	m.wfail_at = 5;
	io_init_ops(&io, &mem_ops, &m);
	assert_int_equal(io_puts(&io, "hello world"), 0);
	errno = 0;
	assert_int_equal(io_flush(&io), -1);
	assert_int_equal(errno, EIO);
	assert_int_equal(m.out.len, 5);
	m.write_err = 0;
	assert_int_equal(io_flush(&io), 0);
	assert_string_equal(str_cstr(&m.out), "hello world");
	str_free(&m.out);
}

static void
test_write_epipe(void **state)
{
	struct io io;
	int p[2], s[2];

	assert_int_equal(pipe(p), 0);
	close(p[0]);
	io_init(&io, -1, p[1]);
	assert_int_equal(io_puts(&io, "x"), 0);
	errno = 0;
	assert_int_equal(io_flush(&io), -1);
	assert_int_equal(errno, EPIPE);
	close(p[1]);

	/* On a socket no SIGPIPE is raised even when it is not ignored. */
	signal(SIGPIPE, SIG_DFL);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
	close(s[1]);
	io_init(&io, -1, s[0]);
	assert_int_equal(io_puts(&io, "x"), 0);
	errno = 0;
	assert_int_equal(io_flush(&io), -1);
	assert_int_equal(errno, EPIPE);
	close(s[0]);
	signal(SIGPIPE, SIG_IGN);
}

/* A peer that never reads: the write times out instead of blocking. */
static void
test_write_timeout(void **state)
{
	size_t len = 4 << 20;
	char *big = calloc(1, len);
	struct io io;
	double t0, dt;
	int fds[2], kind;

	assert_non_null(big);
	for (kind = 0; kind < 2; kind++) {
		if (kind == 0)
			assert_int_equal(pipe(fds), 0);
		else
			assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0,
			    fds), 0);
		io_init(&io, -1, fds[1]);
		io_set_timeouts(&io, 0, 100);
		t0 = now_sec();
		errno = 0;
		assert_int_equal(io_write(&io, big, len), -1);
		assert_int_equal(errno, ETIMEDOUT);
		dt = now_sec() - t0;
		assert_true(dt >= 0.09 && dt < 2.0);
		close(fds[0]);
		close(fds[1]);
	}
	free(big);
}

/* A transport that claims more than it was given is an error. */
static ssize_t
liar_write(void *ctx, const void *buf, size_t n)
{
	return (ssize_t)n + 1;
}

static ssize_t
liar_read(void *ctx, void *buf, size_t n)
{
	return (ssize_t)n + 1;
}

static void
test_broken_transport(void **state)
{
	static const struct io_ops liar = { liar_read, liar_write };
	struct str line = STR_INIT;
	struct io io;

	io_init_ops(&io, &liar, NULL);
	assert_int_equal(io_puts(&io, "x"), 0);
	errno = 0;
	assert_int_equal(io_flush(&io), -1);
	assert_int_equal(errno, EIO);
	errno = 0;
	assert_int_equal(io_getline(&io, &line, 10), -1);
	assert_int_equal(errno, EIO);
	str_free(&line);
}

/* A missing descriptor fails at once, with or without timeouts. */
static void
test_bad_fd(void **state)
{
	static const int timeouts[] = { 0, 100 };
	struct str line = STR_INIT;
	struct io io;
	size_t i;

	for (i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++) {
		io_init(&io, -1, -1);
		io_set_timeouts(&io, timeouts[i], timeouts[i]);
		errno = 0;
		assert_int_equal(io_getline(&io, &line, 10), -1);
		assert_int_equal(errno, EBADF);
		assert_int_equal(io_puts(&io, "x"), 0);
		errno = 0;
		assert_int_equal(io_flush(&io), -1);
		assert_int_equal(errno, EBADF);
	}
	str_free(&line);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_getline_table),
		cmocka_unit_test(test_getline_long_discard),
		cmocka_unit_test(test_getline_longer_than_buffer),
		cmocka_unit_test(test_getline_str_max),
		cmocka_unit_test(test_getline_read_error),
		cmocka_unit_test(test_read_readn_pending),
		cmocka_unit_test(test_peek_consume),
		cmocka_unit_test(test_readn_eof_bytewise),
		cmocka_unit_test(test_read_large_bypass),
		cmocka_unit_test(test_pipe_timeout),
		cmocka_unit_test(test_deadline_passed),
		cmocka_unit_test(test_deadline_trickle),
		cmocka_unit_test(test_pipe_eof_and_deadline),
		cmocka_unit_test(test_write_boundary),
		cmocka_unit_test(test_write_large_bypass),
		cmocka_unit_test(test_write_error_keeps_rest),
		cmocka_unit_test(test_write_epipe),
		cmocka_unit_test(test_write_timeout),
		cmocka_unit_test(test_broken_transport),
		cmocka_unit_test(test_bad_fd),
	};

	signal(SIGPIPE, SIG_IGN);
	alarm(60);	/* a timeout that fails to fire must not hang the run */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
