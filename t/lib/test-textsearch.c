/* SPDX-License-Identifier: ISC */
/* Unit tests for lib/textsearch: case folding (ASCII and beyond), the
 * streaming matcher cut at every byte, charsets, quoted-printable and
 * base64 bodies, and RFC 2047 header text. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "textsearch.h"

static void
test_fold(void **state)
{
	struct str s;

	(void)state;
	str_init(&s, 0);
	assert_int_equal(textsearch_fold("HeLLo, WORLD 42", 15, &s), 0);
	assert_string_equal(s.s, "hello, world 42");
	s.len = 0;
	/* Ä Ö Σ Ж -> ä ö σ ж; an invalid byte passes */
	assert_int_equal(textsearch_fold("\xc3\x84\xc3\x96\xce\xa3\xd0\x96\xff",
	    9, &s), 0);
	assert_string_equal(s.s, "\xc3\xa4\xc3\xb6\xcf\x83\xd0\xb6\xff");
	str_free(&s);
}

/* Feed text cut into pieces of every size; return whether it matched. */
static int
match_cut(const char *needle, const char *text, size_t piece)
{
	struct textsearch *t = textsearch_new(needle, strlen(needle));
	size_t i, n = strlen(text);
	int r = 0;

	assert_non_null(t);
	for (i = 0; i < n && r == 0; i += piece) {
		size_t m = n - i < piece ? n - i : piece;

		r = textsearch_feed(t, text + i, m);
		assert_true(r >= 0);
	}
	if (r == 1)
		assert_true(textsearch_found(t));
	r = textsearch_found(t);
	textsearch_free(&t);
	return r;
}

static void
test_match(void **state)
{
	static const struct {
		const char *needle, *text;
		int want;
	} cases[] = {
		{ "marmalade", "We had MARMALADE for breakfast", 1 },
		{ "marmalade", "We had marmalad e", 0 },
		{ "über", "GRÜSSE VON \xc3\x9c" "BER ALLES", 1 },
		{ "\xc3\x9c" "BER", "gr\xc3\xbc\xc3\x9f" "e \xc3\xbc" "ber", 1 },
		{ "", "", 1 },
		{ "", "anything", 1 },
		{ "x", "", 0 },
		{ "abcabd", "abcabcabd", 1 },
		{ "line\r\nnext", "a line\r\nNEXT b", 1 },
	};
	size_t i, piece;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (piece = 1; piece <= 20; piece++)
			assert_int_equal(match_cut(cases[i].needle,
			    cases[i].text, piece), cases[i].want);
}

static void
test_reset(void **state)
{
	struct textsearch *t = textsearch_new("ab", 2);

	(void)state;
	assert_int_equal(textsearch_feed(t, "xa", 2), 0);
	textsearch_reset(t);
	/* the "a" before the reset must not join the "b" after it */
	assert_int_equal(textsearch_feed(t, "b", 1), 0);
	assert_int_equal(textsearch_feed(t, "ab", 2), 1);
	textsearch_free(&t);
	assert_null(textsearch_new("x", TEXTSEARCH_NEEDLE_MAX + 1));
}

struct collect {
	struct str out;
};

static int
collect(void *ctx, const void *p, size_t n)
{
	struct collect *c = ctx;

	return str_append(&c->out, p, n) < 0 ? -1 : 0;
}

/* Decode body (fed in pieces of piece bytes) and return it. */
static void
decode(enum textsearch_enc enc, const char *cs, const char *body,
    size_t piece, const char *want)
{
	struct collect c;
	struct textsearch_dec *d;
	size_t i, n = strlen(body);

	str_init(&c.out, 0);
	d = textsearch_dec_new(enc, cs, cs ? strlen(cs) : 0, collect, &c);
	assert_non_null(d);
	for (i = 0; i < n; i += piece)
		assert_int_equal(textsearch_dec_feed(d, body + i,
		    n - i < piece ? n - i : piece), 0);
	assert_int_equal(textsearch_dec_end(d), 0);
	textsearch_dec_free(&d);
	if (c.out.len != strlen(want))
		print_message("decode %s piece %zu: got %zu bytes\n", body,
		    piece, c.out.len);
	assert_int_equal(c.out.len, strlen(want));
	assert_memory_equal(c.out.len ? c.out.s : "", want, strlen(want));
	str_free(&c.out);
}

static void
test_decode(void **state)
{
	size_t piece;

	(void)state;
	for (piece = 1; piece <= 9; piece++) {
		decode(TS_ENC_IDENTITY, NULL, "plain\n", piece, "plain\n");
		decode(TS_ENC_QP, "utf-8", "caf=C3=A9 soft=\nbreak=3D\n",
		    piece, "caf\xc3\xa9 softbreak=\n");
		decode(TS_ENC_QP, "iso-8859-1", "na=EFve\n", piece,
		    "na\xc3\xafve\n");
		decode(TS_ENC_BASE64, "utf-8", "bWFybWFs\nYWRl\n", piece,
		    "marmalade");
		/* Latin-1 straight (8bit) and a multibyte charset cut
		 * anywhere: ISO-2022-JP "日本" */
		decode(TS_ENC_IDENTITY, "ISO-8859-1", "\xe9t\xe9", piece,
		    "\xc3\xa9t\xc3\xa9");
		decode(TS_ENC_IDENTITY, "iso-2022-jp", "\x1b$BF|K\\\x1b(B",
		    piece, "\xe6\x97\xa5\xe6\x9c\xac");
		/* unknown charset: bytes as they are */
		decode(TS_ENC_IDENTITY, "x-no-such", "abc", piece, "abc");
		/* broken base64: what decoded before the junk */
		decode(TS_ENC_BASE64, NULL, "YWJj!!!!ZGVm", piece, "abc");
	}
	assert_int_equal(textsearch_enc_of("Quoted-Printable", 16), TS_ENC_QP);
	assert_int_equal(textsearch_enc_of("BASE64", 6), TS_ENC_BASE64);
	assert_int_equal(textsearch_enc_of("8bit", 4), TS_ENC_IDENTITY);
}

static void
header(const char *in, const char *want)
{
	struct str s;

	str_init(&s, 0);
	assert_int_equal(textsearch_header_text(in, strlen(in), &s), 0);
	assert_int_equal(s.len, strlen(want));
	assert_memory_equal(s.len ? s.s : "", want, s.len);
	str_free(&s);
}

static void
test_header(void **state)
{
	(void)state;
	header("plain subject", "plain subject");
	header("=?UTF-8?B?S2VzdHJlbA==?= flies", "Kestrel flies");
	header("=?iso-8859-1?q?caf=E9_au_lait?=", "caf\xc3\xa9 au lait");
	/* blanks between two encoded-words go, others stay */
	header("=?utf-8?q?a?= =?utf-8?q?b?= c", "ab c");
	header("x =?utf-8?q?a?=\r\n =?utf-8?q?b?=", "x ab");
	/* not encoded-words: kept as written */
	header("=?utf-8?x?a?= =?bad", "=?utf-8?x?a?= =?bad");
	header("=?utf-8?q?bad=Z1?=", "=?utf-8?q?bad=Z1?=");
	/* RFC 2231 language suffix */
	header("=?ISO-8859-1*fr?Q?=E9t=E9?=", "\xc3\xa9t\xc3\xa9");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fold),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_header),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
