/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for io_getline().  Input: byte 0 is the line maximum,
 * byte 1 picks how the transport splits its reads (0: as much as asked),
 * the rest is the stream.  Every result is checked against the stream.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"
#include "str.h"

struct fuzz_src {
	const uint8_t *p;
	size_t n;
	size_t pos;
	unsigned seed;
	unsigned calls;
};

static ssize_t
fuzz_read(void *ctx, void *buf, size_t n)
{
	struct fuzz_src *f = ctx;
	size_t left = f->n - f->pos, chunk;

	if (f->seed != 0) {
		chunk = 1 + (f->seed * 31 + f->calls++ * 7) % 13;
		if (n > chunk)
			n = chunk;
	}
	if (n > left)
		n = left;
	memcpy(buf, f->p + f->pos, n);
	f->pos += n;
	return (ssize_t)n;
}

static ssize_t
fuzz_write(void *ctx, const void *buf, size_t n)
{
	errno = EBADF;
	return -1;
}

static const struct io_ops fuzz_ops = { fuzz_read, fuzz_write };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_src src;
	struct str line = STR_INIT;
	struct io *io;
	const uint8_t *in, *lf;
	size_t max, inlen, pos = 0, skip;
	int rc;

	if (size < 2)
		return 0;
	max = data[0];
	in = data + 2;
	inlen = size - 2;
	memset(&src, 0, sizeof(src));
	src.p = in;
	src.n = inlen;
	src.seed = data[1];
	if ((io = malloc(sizeof(*io))) == NULL)
		return 0;
	io_init_ops(io, &fuzz_ops, &src);
	for (;;) {
		errno = 0;
		rc = io_getline(io, &line, max);
		if (rc == 0) {
			if (pos != inlen)
				abort();
			break;
		}
		if (rc == 1) {
			/* The next line of the stream, whole and in bounds. */
			if (line.len == 0 || line.len > max ||
			    line.len > inlen - pos ||
			    memcmp(line.s, in + pos, line.len) != 0)
				abort();
			lf = memchr(line.s, '\n', line.len);
			if (lf != NULL && (size_t)(lf - (uint8_t *)line.s) !=
			    line.len - 1)
				abort();
			if (lf == NULL && pos + line.len != inlen)
				abort();
			pos += line.len;
			continue;
		}
		/* Too long: the line, through its LF, was longer than max. */
		if (rc != -1 || errno != E2BIG || line.len != 0)
			abort();
		lf = memchr(in + pos, '\n', inlen - pos);
		skip = lf != NULL ? (size_t)(lf - (in + pos)) + 1 : inlen - pos;
		if (skip <= max)
			abort();
		pos += skip;
	}
	if (io_pending(io) != 0 || src.pos != inlen)
		abort();
	str_free(&line);
	free(io);
	return 0;
}
