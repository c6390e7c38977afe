/* SPDX-License-Identifier: ISC */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpdata.h"
#include "str.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* What one run of the reader gave. */
struct result {
	struct str out;
	size_t consumed;
	int done;
	enum smtpdata_err err;
};

/* Feed in[0..n) in pieces of chunk bytes (0: all at once), into a
 * separate buffer or in place; stop where the reader stops consuming. */
static void
run(enum smtpdata_mode mode, size_t line_max, const char *in, size_t n,
    size_t chunk, int inplace, struct result *r)
{
	struct smtpdata d;
	unsigned char *buf = malloc(n + 1), *out = malloc(n + 1);
	size_t pos = 0, k, used, olen;

	assert_non_null(buf);
	assert_non_null(out);
	memcpy(buf, in, n);
	str_clear(&r->out);
	smtpdata_init(&d, mode, line_max);
	while (pos < n && !smtpdata_done(&d)) {
		k = chunk == 0 || chunk > n - pos ? n - pos : chunk;
		used = smtpdata_feed(&d, buf + pos, k,
		    inplace ? buf + pos : out, &olen);
		assert_true(used <= k);
		assert_true(olen <= used);
		str_append(&r->out, inplace ? buf + pos : out, olen);
		pos += used;
		if (used < k)
			assert_true(smtpdata_done(&d));
	}
	r->consumed = pos;
	r->done = smtpdata_done(&d);
	r->err = mode == SMTPDATA_TEXT ? smtpdata_finish(&d) :
	    smtpdata_error(&d);
	free(buf);
	free(out);
}

/* Run with every split and both buffer modes; all must agree. */
static void
run_all(enum smtpdata_mode mode, size_t line_max, const char *in, size_t n,
    struct result *r)
{
	static const size_t chunks[] = { 1, 2, 3, 5, 7, 64, 0 };
	struct result o;
	size_t i;
	int inplace;

	str_init(&o.out, 0);
	run(mode, line_max, in, n, 0, 0, r);
	for (i = 0; i < N(chunks); i++)
		for (inplace = 0; inplace < 2; inplace++) {
			run(mode, line_max, in, n, chunks[i], inplace, &o);
			assert_int_equal(o.consumed, r->consumed);
			assert_int_equal(o.done, r->done);
			assert_int_equal(o.err, r->err);
			assert_int_equal(o.out.len, r->out.len);
			assert_memory_equal(str_cstr(&o.out), str_cstr(&r->out),
			    o.out.len);
		}
	str_free(&o.out);
}

#define ALL ((size_t)-1)

struct row {
	const char *name;
	enum smtpdata_mode mode;
	size_t line_max;
	const char *in;
	size_t inlen;		/* 0: strlen(in) */
	const char *out;	/* NULL: not checked (after a fault) */
	size_t consumed;	/* ALL: the whole input */
	int done;
	enum smtpdata_err err;
};

#define DOT SMTPDATA_DOT
#define TEXT SMTPDATA_TEXT
#define OK SMTPDATA_OK
#define LF SMTPDATA_BARE_LF
#define CR SMTPDATA_BARE_CR

static const struct row rows[] = {
	/* The end, and dot-unstuffing (RFC 5321 4.5.2). */
	{ "empty message", DOT, 0, ".\r\n", 0, "", ALL, 1, OK },
	{ "one line", DOT, 0, "a\r\n.\r\n", 0, "a\r\n", ALL, 1, OK },
	{ "empty line", DOT, 0, "\r\n.\r\n", 0, "\r\n", ALL, 1, OK },
	{ "stuffed dot", DOT, 0, "..\r\n.\r\n", 0, ".\r\n", ALL, 1, OK },
	{ "stuffed dots", DOT, 0, "...x\r\n.\r\n", 0, "..x\r\n", ALL, 1, OK },
	{ "lone leading dot", DOT, 0, ".x\r\n.\r\n", 0, "x\r\n", ALL, 1, OK },
	{ "dot mid-line", DOT, 0, "a.b\r\n.\r\n", 0, "a.b\r\n", ALL, 1, OK },
	{ "no end yet", DOT, 0, "a\r\nb\r\n", 0, "a\r\nb\r\n", ALL, 0, OK },
	{ "end then command", DOT, 0, "a\r\n.\r\nQUIT\r\n", 0, "a\r\n", 6, 1,
	    OK },
	{ "end then second end", DOT, 0, ".\r\n.\r\n", 0, "", 3, 1, OK },
	{ "half an end", DOT, 0, "a\r\n.\r", 0, "a\r\n", ALL, 0, OK },
	{ "8-bit text", DOT, 0, "\xc3\xa9\xff\r\n.\r\n", 0, "\xc3\xa9\xff\r\n",
	    ALL, 1, OK },
	/* Smuggling: none of these is an end; the real end comes later. */
	{ "LF.LF", DOT, 0, "a\n.\nMAIL FROM:<x@y>\r\n.\r\n", 0, NULL, ALL, 1,
	    LF },
	{ "LF.CRLF", DOT, 0, "a\n.\r\nMAIL FROM:<x@y>\r\n.\r\n", 0, NULL, ALL,
	    1, LF },
	{ "CRLF.LF", DOT, 0, "a\r\n.\nMAIL FROM:<x@y>\r\n.\r\n", 0, NULL, ALL,
	    1, LF },
	{ "CR.CR", DOT, 0, "a\r.\rMAIL FROM:<x@y>\r\n.\r\n", 0, NULL, ALL, 1,
	    CR },
	{ "CR.CRLF", DOT, 0, "a\r.\r\nMAIL FROM:<x@y>\r\n.\r\n", 0, NULL, ALL,
	    1, CR },
	{ "CRLF.CR", DOT, 0, "a\r\n.\rMAIL FROM:<x@y>\r\n.\r\n", 0, NULL, ALL,
	    1, CR },
	{ "LF.LF at start", DOT, 0, ".\nMAIL\r\n.\r\n", 0, NULL, ALL, 1, LF },
	{ "LF.LF, no real end", DOT, 0, "a\n.\nQUIT\n", 0, NULL, ALL, 0, LF },
	{ "CR.CR, no real end", DOT, 0, "a\r.\rQUIT\r", 0, NULL, ALL, 0, CR },
	{ "LFCR.CRLF", DOT, 0, "a\n\r.\r\nX\r\n.\r\n", 0, NULL, ALL, 1, LF },
	{ "CRCRLF.CRLF", DOT, 0, "a\r\r\n.\r\n", 0, NULL, ALL, 1, CR },
	{ "CRLF.CRCRLF.CRLF", DOT, 0, "a\r\n.\r\r\n.\r\n", 0, NULL, ALL, 1,
	    CR },
	{ "bare LF then CRLF.CRLF", DOT, 0, "a\n\r\n.\r\nX", 0, NULL, 7, 1, LF },
	{ "NUL", DOT, 0, "a\0b\r\n.\r\n", 8, NULL, ALL, 1, SMTPDATA_NUL },
	{ "NUL after dot", DOT, 0, ".\0\r\n.\r\n", 7, NULL, ALL, 1,
	    SMTPDATA_NUL },
	/* Line length: CRLF and a stuffing dot count. */
	{ "line at max", DOT, 10, "01234567\r\n.\r\n", 0, "01234567\r\n", ALL,
	    1, OK },
	{ "line over max", DOT, 10, "012345678\r\n.\r\n", 0, NULL, ALL, 1,
	    SMTPDATA_LONG_LINE },
	{ "stuffed line over max", DOT, 10, "..2345678\r\n.\r\n", 0, NULL, ALL,
	    1, SMTPDATA_LONG_LINE },
	{ "first fault kept", DOT, 3, "abcdef\n\r\n.\r\n", 0, NULL, ALL, 1,
	    SMTPDATA_LONG_LINE },
	/* BDAT text: no dots, no end. */
	{ "text lines", TEXT, 0, "a\r\n.\r\nb", 0, "a\r\n.\r\nb", ALL, 0, OK },
	{ "text bare LF", TEXT, 0, "a\nb", 0, NULL, ALL, 0, LF },
	{ "text bare CR", TEXT, 0, "a\rb\r\n", 0, NULL, ALL, 0, CR },
	{ "text CR at end", TEXT, 0, "a\r", 0, NULL, ALL, 0, CR },
	{ "text CRLF at end", TEXT, 0, "a\r\n", 0, "a\r\n", ALL, 0, OK },
	{ "text NUL", TEXT, 0, "a\0", 2, NULL, ALL, 0, SMTPDATA_NUL },
	{ "text long line", TEXT, 4, "abcd\r\n", 0, NULL, ALL, 0,
	    SMTPDATA_LONG_LINE },
	{ "text empty", TEXT, 0, "", 0, "", ALL, 0, OK },
};

static void
test_rows(void **state)
{
	struct result r;
	size_t i, n;

	str_init(&r.out, 0);
	for (i = 0; i < N(rows); i++) {
		const struct row *w = &rows[i];

		n = w->inlen ? w->inlen : strlen(w->in);
		run_all(w->mode, w->line_max, w->in, n, &r);
		if (r.err != w->err || r.done != w->done ||
		    r.consumed != (w->consumed == ALL ? n : w->consumed))
			fail_msg("%s: err %d done %d consumed %zu", w->name,
			    r.err, r.done, r.consumed);
		if (w->out != NULL && (r.out.len != strlen(w->out) ||
		    memcmp(str_cstr(&r.out), w->out, r.out.len) != 0))
			fail_msg("%s: output differs", w->name);
	}
	str_free(&r.out);
}

/* A plain model of DATA: the data ends at the first CRLF "." CRLF of
 * CRLF + input; the text is every line before it, unstuffed; it is faulty
 * when it holds a CR not followed by LF, an LF not preceded by CR, or a
 * NUL. */
static void
model(const char *in, size_t n, struct result *m)
{
	struct str d = STR_INIT;
	size_t i, end = 0, start;
	int found = 0, bad = 0;

	str_append(&d, "\r\n", 2);
	str_append(&d, in, n);
	for (i = 0; i + 5 <= d.len; i++)
		if (memcmp(d.s + i, "\r\n.\r\n", 5) == 0) {
			found = 1;
			end = i + 2;	/* through the CRLF before "." */
			break;
		}
	if (!found)
		end = d.len;
	str_clear(&m->out);
	for (i = 2; i < end; i++) {
		if (d.s[i] == '\0' ||
		    (d.s[i] == '\r' && (i + 1 >= d.len || d.s[i + 1] != '\n')) ||
		    (d.s[i] == '\n' && d.s[i - 1] != '\r'))
			bad = 1;
	}
	/* A trailing CR of unfinished data may still get its LF. */
	if (!found && end > 2 && d.s[end - 1] == '\r' && bad) {
		bad = 0;
		for (i = 2; i + 1 < end; i++)
			if (d.s[i] == '\0' || (d.s[i] == '\r' &&
			    d.s[i + 1] != '\n') || (d.s[i] == '\n' &&
			    d.s[i - 1] != '\r'))
				bad = 1;
	}
	for (start = 2; start < end && !bad; ) {
		const char *lf = memchr(d.s + start, '\n', end - start);
		size_t stop = lf ? (size_t)(lf - d.s) + 1 : end;

		if (d.s[start] == '.')
			start++;
		str_append(&m->out, d.s + start, stop - start);
		start = stop;
	}
	m->done = found;
	m->consumed = found ? end + 3 - 2 : n;
	m->err = bad ? SMTPDATA_BARE_LF : SMTPDATA_OK;
	str_free(&d);
}

/* Random inputs over a small alphabet against the model. */
static void
test_model(void **state)
{
	/* Tokens, weighted towards well-formed lines. */
	static const char *const tok[] = {
		"a", "a", "a", ".", ".", "\r\n", "\r\n", "\r\n", "\r\n",
		"\r", "\n", "\0", ".\r\n"
	};
	char in[64];
	struct result r, m;
	unsigned seed = 12345;
	size_t n, i, k, want;
	int iter, clean = 0, faulty = 0;

	str_init(&r.out, 0);
	str_init(&m.out, 0);
	for (iter = 0; iter < 20000; iter++) {
		seed = seed * 1103515245 + 12345;
		want = (seed >> 16) % 40;
		for (n = 0; n < want; ) {
			seed = seed * 1103515245 + 12345;
			k = (seed >> 16) % N(tok);
			i = tok[k][0] == '\0' ? 1 : strlen(tok[k]);
			memcpy(in + n, tok[k], i);
			n += i;
		}
		model(in, n, &m);
		run(SMTPDATA_DOT, 0, in, n, 1, 0, &r);
		if (r.done != m.done || r.consumed != m.consumed ||
		    (r.err != SMTPDATA_OK) != (m.err != SMTPDATA_OK))
			fail_msg("iteration %d: done %d/%d consumed %zu/%zu "
			    "err %d/%d", iter, r.done, m.done, r.consumed,
			    m.consumed, r.err, m.err);
		/* Unfinished data may hold back a "." or ".\r". */
		if (r.done && r.err == SMTPDATA_OK && (r.out.len != m.out.len ||
		    memcmp(str_cstr(&r.out), str_cstr(&m.out), r.out.len)))
			fail_msg("iteration %d: output differs: '%s' / '%s'",
			    iter, str_cstr(&r.out), str_cstr(&m.out));
		clean += r.done && r.err == SMTPDATA_OK;
		faulty += r.done && r.err != SMTPDATA_OK;
	}
	/* Both kinds of ending were exercised. */
	assert_true(clean > 1000);
	assert_true(faulty > 1000);
	str_free(&r.out);
	str_free(&m.out);
}

/* A large message in odd pieces: every byte comes out once, in order. */
static void
test_large(void **state)
{
	struct str in = STR_INIT, want = STR_INIT;
	struct result r;
	size_t i;

	str_init(&r.out, 0);
	for (i = 0; i < 20000; i++) {
		str_appendf(&in, "%s%zu line\r\n", i % 7 == 0 ? ".." : "", i);
		str_appendf(&want, "%s%zu line\r\n", i % 7 == 0 ? "." : "", i);
	}
	str_appends(&in, ".\r\n");
	run(SMTPDATA_DOT, 1000, in.s, in.len, 4093, 0, &r);
	assert_int_equal(r.err, SMTPDATA_OK);
	assert_true(r.done);
	assert_int_equal(r.consumed, in.len);
	assert_int_equal(r.out.len, want.len);
	assert_memory_equal(r.out.s, want.s, want.len);
	str_free(&in);
	str_free(&want);
	str_free(&r.out);
}

static void
test_strerror(void **state)
{
	assert_string_equal(smtpdata_strerror(SMTPDATA_BARE_LF), "bare LF");
	assert_string_equal(smtpdata_strerror(SMTPDATA_BARE_CR), "bare CR");
	assert_string_equal(smtpdata_strerror(SMTPDATA_NUL), "NUL byte");
	assert_string_equal(smtpdata_strerror(SMTPDATA_LONG_LINE),
	    "line too long");
	assert_string_equal(smtpdata_strerror(SMTPDATA_OK), "no error");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_model),
		cmocka_unit_test(test_large),
		cmocka_unit_test(test_strerror),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
