/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for lib/smtpdata.  Byte 0: bit 0 the mode (DOT or
 * TEXT), bits 1-7 the size of the pieces the input is fed in (0: all at
 * once); byte 1 the line maximum (0: none); the rest is the stream.
 * Invariants: the pieces do not change the outcome; the output is never
 * longer than the input; in DOT mode the data ends exactly after the first
 * CRLF "." CRLF of CRLF + stream (so no other sequence ends it), and a
 * fault-free text has only CRLF line ends and no NUL.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpdata.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct outcome {
	size_t consumed, outlen;
	int done;
	enum smtpdata_err err;
};

static void
feed(enum smtpdata_mode mode, size_t max, const uint8_t *in, size_t n,
    size_t piece, uint8_t *out, struct outcome *o)
{
	struct smtpdata d;
	size_t pos = 0, k, used, olen;

	o->outlen = 0;
	smtpdata_init(&d, mode, max);
	while (pos < n && !smtpdata_done(&d)) {
		k = piece == 0 || piece > n - pos ? n - pos : piece;
		used = smtpdata_feed(&d, in + pos, k, out + o->outlen, &olen);
		if (used > k || olen > used || (used < k && !d.done))
			abort();
		o->outlen += olen;
		pos += used;
	}
	o->consumed = pos;
	o->done = smtpdata_done(&d);
	o->err = mode == SMTPDATA_TEXT ? smtpdata_finish(&d) :
	    smtpdata_error(&d);
}

/* Where DOT data must end: after the first CRLF.CRLF of CRLF + in. */
static size_t
dot_end(const uint8_t *in, size_t n, int *found)
{
	size_t i;

	*found = 1;
	if (n >= 3 && memcmp(in, ".\r\n", 3) == 0)
		return 3;
	for (i = 0; i + 5 <= n; i++)
		if (memcmp(in + i, "\r\n.\r\n", 5) == 0)
			return i + 5;
	*found = 0;
	return n;
}

static void
check_text(const uint8_t *out, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (out[i] == '\0')
			abort();
		if (out[i] == '\r' && (i + 1 >= len || out[i + 1] != '\n'))
			abort();
		if (out[i] == '\n' && (i == 0 || out[i - 1] != '\r'))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum smtpdata_mode mode;
	struct outcome a, b;
	uint8_t *o1, *o2;
	size_t n, end;
	int found;

	if (size < 2)
		return 0;
	mode = data[0] & 1 ? SMTPDATA_TEXT : SMTPDATA_DOT;
	n = size - 2;
	o1 = malloc(n + 1);
	o2 = malloc(n + 1);
	if (o1 == NULL || o2 == NULL)
		abort();
	feed(mode, data[1], data + 2, n, 0, o1, &a);
	feed(mode, data[1], data + 2, n, data[0] >> 1, o2, &b);
	if (a.consumed != b.consumed || a.done != b.done || a.err != b.err ||
	    a.outlen != b.outlen || memcmp(o1, o2, a.outlen) != 0 ||
	    a.outlen > a.consumed)
		abort();
	if (mode == SMTPDATA_DOT) {
		end = dot_end(data + 2, n, &found);
		if (a.done != found || a.consumed != end)
			abort();
		if (a.done && a.err == SMTPDATA_OK)
			check_text(o1, a.outlen);
	} else if (a.err == SMTPDATA_OK) {
		if (a.consumed != n || a.outlen != n ||
		    memcmp(o1, data + 2, n) != 0)
			abort();
		check_text(o1, a.outlen);
	}
	free(o1);
	free(o2);
	return 0;
}
