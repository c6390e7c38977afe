/* SPDX-License-Identifier: ISC */
/* Unit tests for lib/qp: the quoted-printable encoder and decoder, table
 * driven, with round trips and byte-by-byte feeding. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "qp.h"
#include "str.h"

struct enc_case {
	const char *in;
	const char *out;
	int crlf;
};

static const struct enc_case enc_cases[] = {
	{ "", "", 1 },
	{ "hello", "hello", 1 },
	{ "a=b", "a=3Db", 1 },
	{ "caf\xc3\xa9\r\n", "caf=C3=A9\r\n", 1 },
	{ "trail \r\nx\t\n", "trail=20\r\nx=09\n", 1 },
	{ "end ", "end=20", 1 },
	{ "a  b", "a  b", 1 },
	{ "bare\rcr", "bare=0Dcr", 1 },
	{ "cr end\r", "cr end=0D", 1 },
	{ "sp before cr \r", "sp before cr =0D", 1 },
	{ "ctl\x01\x7f", "ctl=01=7F", 1 },
	/* 80 letters: 75 then a soft break */
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaa",
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaa=\r\naaaaa", 1 },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaa\xff",
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaa=\n=FF", 0 },
	/* a soft break never starts a boundary-like line: "-" encoded */
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaa--b\r\n-- \r\n",
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaa=\r\n=2D-b\r\n--=20\r\n", 1 },
};

static void
encode(const struct enc_case *t, size_t step, struct str *out)
{
	struct qp_enc e;
	size_t n = strlen(t->in), i, k;

	qp_enc_init(&e, t->crlf);
	for (i = 0; i < n; i += k) {
		k = n - i < step ? n - i : step;
		assert_int_equal(qp_encode(&e, t->in + i, k, out), 0);
	}
	assert_int_equal(qp_encode_end(&e, out), 0);
}

/* Every output line is at most QP_LINE_MAX characters, all 7-bit. */
static void
check_lines(const struct str *s)
{
	size_t i, col = 0;

	for (i = 0; i < s->len; i++) {
		assert_true((unsigned char)s->s[i] < 128);
		if (s->s[i] == '\n') {
			col = 0;
			continue;
		}
		if (s->s[i] != '\r')
			col++;
		assert_true(col <= QP_LINE_MAX);
	}
}

static void
test_qp_encode(void **state)
{
	struct str out = STR_INIT, back = STR_INIT;
	size_t i, step;
	static const size_t steps[] = { 1, 2, 3, 7, 1000 };

	for (i = 0; i < sizeof(enc_cases) / sizeof(enc_cases[0]); i++) {
		for (step = 0; step < sizeof(steps) / sizeof(steps[0]);
		    step++) {
			str_clear(&out);
			encode(&enc_cases[i], steps[step], &out);
			assert_int_equal(out.len, strlen(enc_cases[i].out));
			assert_memory_equal(out.s == NULL ? "" : out.s,
			    enc_cases[i].out, out.len);
			check_lines(&out);
			str_clear(&back);
			assert_int_equal(qp_decode(out.s, out.len, &back), 0);
			assert_int_equal(back.len, strlen(enc_cases[i].in));
			assert_memory_equal(str_cstr(&back), enc_cases[i].in,
			    back.len);
		}
	}
	str_free(&out);
	str_free(&back);
}

static const struct {
	const char *in;
	const char *out;
} dec_cases[] = {
	{ "", "" },
	{ "plain", "plain" },
	{ "=3D=3d=C3=A9", "==\xc3\xa9" },
	{ "soft=\r\nbreak", "softbreak" },
	{ "soft= \t\nbreak", "softbreak" },
	{ "trail  \r\nnext\t\n", "trail\r\nnext\n" },
	{ "bad=ZZ =4", "bad=ZZ =4" },
	{ "end=", "end" },
	{ "a b", "a b" },
};

static void
test_qp_decode(void **state)
{
	struct str out = STR_INIT;
	size_t i;

	for (i = 0; i < sizeof(dec_cases) / sizeof(dec_cases[0]); i++) {
		str_clear(&out);
		assert_int_equal(qp_decode(dec_cases[i].in,
		    strlen(dec_cases[i].in), &out), 0);
		assert_int_equal(out.len, strlen(dec_cases[i].out));
		assert_memory_equal(str_cstr(&out), dec_cases[i].out, out.len);
	}
	str_free(&out);
}

/* Every byte value, on long lines with blanks and line ends: round trip. */
static void
test_qp_roundtrip(void **state)
{
	struct str out = STR_INIT, back = STR_INIT;
	char in[2048];
	struct qp_enc e;
	size_t i;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (char)((i * 7 + i / 256) & 0xff);
	qp_enc_init(&e, 1);
	assert_int_equal(qp_encode(&e, in, sizeof(in), &out), 0);
	assert_int_equal(qp_encode_end(&e, &out), 0);
	check_lines(&out);
	assert_int_equal(qp_decode(out.s, out.len, &back), 0);
	assert_int_equal(back.len, sizeof(in));
	assert_memory_equal(back.s, in, sizeof(in));
	str_free(&out);
	str_free(&back);
}

/* errno E2BIG when out has a maximum. */
static void
test_qp_limit(void **state)
{
	struct str out;
	struct qp_enc e;

	str_init(&out, 4);
	qp_enc_init(&e, 1);
	assert_int_equal(qp_encode(&e, "\xff\xff", 2, &out), -1);
	str_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qp_encode),
		cmocka_unit_test(test_qp_decode),
		cmocka_unit_test(test_qp_roundtrip),
		cmocka_unit_test(test_qp_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
