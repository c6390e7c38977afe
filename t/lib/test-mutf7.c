/* SPDX-License-Identifier: ISC */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "mutf7.h"
#include "str.h"

/* Pairs that convert both ways (UTF-8, modified UTF-7). */
static const struct {
	const char *utf8;
	size_t utf8len;	/* 0: strlen */
	const char *mutf7;
} pairs[] = {
	{ "INBOX", 0, "INBOX" },
	{ "", 0, "" },
	/* RFC 3501 5.1.3 */
	{ "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac"
	  "\xe8\xaa\x9e", 0, "~peter/mail/&U,BTFw-/&ZeVnLIqe-" },
	/* RFC 2060's smiley */
	{ "\xe2\x98\xba!", 0, "&Jjo-!" },
	{ "&", 0, "&-" },
	{ "Tom & Jerry", 0, "Tom &- Jerry" },
	{ "Entw\xc3\xbcrfe", 0, "Entw&APw-rfe" },
	{ "\xc3\xa9\xc3\xa9", 0, "&AOkA6Q-" },
	{ "\xc3\x9c&\xc3\xb6", 0, "&ANw-&-&APY-" },
	{ "\xf0\x9f\x98\x80", 0, "&2D3eAA-" },		/* U+1F600 */
	{ "\xf4\x8f\xbf\xbf", 0, "&2,,f,w-" },		/* U+10FFFF */
	{ "a\tb", 0, "a&AAk-b" },			/* controls shift */
	{ "\x7f", 0, "&AH8-" },
	{ "~!@#$%^*()_+{}|:\"<>?`-=[]\\;',./", 0,
	  "~!@#$%^*()_+{}|:\"<>?`-=[]\\;',./" },
};

static void
test_pairs(void **state)
{
	struct str out = STR_INIT;
	size_t i, ulen;

	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		ulen = pairs[i].utf8len ? pairs[i].utf8len :
		    strlen(pairs[i].utf8);
		str_clear(&out);
		assert_int_equal(mutf7_from_utf8(pairs[i].utf8, ulen, &out), 0);
		assert_string_equal(str_cstr(&out), pairs[i].mutf7);
		str_clear(&out);
		assert_int_equal(mutf7_to_utf8(pairs[i].mutf7,
		    strlen(pairs[i].mutf7), &out), 0);
		assert_int_equal(out.len, ulen);
		assert_memory_equal(str_cstr(&out), pairs[i].utf8, ulen);
		assert_true(mutf7_valid(pairs[i].mutf7,
		    strlen(pairs[i].mutf7)));
	}
	str_free(&out);
}

static void
test_bad_mutf7(void **state)
{
	static const char *const bad[] = {
		"&AGE-",		/* "a": printable ASCII in base64 */
		"&ACY-",		/* "&" must be "&-" */
		"&AOk-&AOk-",		/* two shifts in a row */
		"&AOk",			/* unterminated */
		"&",			/* unterminated */
		"x&",
		"&AOk=-",		/* "=" is not modified base64 */
		"&AO/-",		/* "/" is "," in modified base64 */
		"&AO-",			/* half a UTF-16 unit */
		"&AOl-",		/* non-zero padding bits */
		"&AOkA-",		/* a whole extra letter */
		"&2D3-",		/* lone high surrogate */
		"&2D0AYQ-",		/* high surrogate + 'a' */
		"&3gA-",		/* lone low surrogate */
		"&AAA-",		/* U+0000 */
		"\x80",			/* 8-bit */
		"\xc3\xa9",		/* raw UTF-8 */
		"a\tb",			/* raw control */
		"a\x7f",
		"&&-",
		"&,,,,-",		/* 24 bits: 8 left over */
	};
	struct str out = STR_INIT;
	size_t i;

	str_appends(&out, "keep");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		assert_int_equal(mutf7_to_utf8(bad[i], strlen(bad[i]), &out),
		    -1);
		assert_int_equal(errno, EILSEQ);
		assert_string_equal(str_cstr(&out), "keep");
		assert_false(mutf7_valid(bad[i], strlen(bad[i])));
	}
	str_free(&out);
}

static void
test_bad_utf8(void **state)
{
	static const struct {
		const char *s;
		size_t len;
	} bad[] = {
		{ "\xc0\xaf", 2 },		/* overlong "/" */
		{ "\xe0\x80\xaf", 3 },		/* overlong */
		{ "\xed\xa0\x80", 3 },		/* surrogate */
		{ "\xf4\x90\x80\x80", 4 },	/* above U+10FFFF */
		{ "\xe6\x97", 2 },		/* truncated */
		{ "a\0b", 3 },			/* NUL */
		{ "\xff", 1 },
		{ "\x80", 1 },			/* lone continuation */
		{ "\xc3(", 2 },
	};
	struct str out = STR_INIT;
	size_t i;

	str_appends(&out, "keep");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		assert_int_equal(mutf7_from_utf8(bad[i].s, bad[i].len, &out),
		    -1);
		assert_int_equal(errno, EILSEQ);
		assert_string_equal(str_cstr(&out), "keep");
	}
	str_free(&out);
}

static void
test_ascii(void **state)
{
	assert_true(mutf7_is_ascii("INBOX.Sent", 10));
	assert_true(mutf7_is_ascii("", 0));
	assert_false(mutf7_is_ascii("a&b", 3));
	assert_false(mutf7_is_ascii("a\tb", 3));
	assert_false(mutf7_is_ascii("\xc3\xa9", 2));
}

/* Every BMP code point and a spread of astral ones round-trip. */
static void
test_roundtrip_all(void **state)
{
	struct str u = STR_INIT, m = STR_INIT, back = STR_INIT;
	uint32_t cp;
	char b[4];
	size_t n;

	for (cp = 1; cp <= 0x10ffff; cp += cp < 0x10000 ? 1 : 97) {
		if (cp >= 0xd800 && cp <= 0xdfff)
			continue;
		if (cp < 0x80) {
			b[0] = (char)cp;
			n = 1;
		} else if (cp < 0x800) {
			b[0] = (char)(0xc0 | cp >> 6);
			b[1] = (char)(0x80 | (cp & 0x3f));
			n = 2;
		} else if (cp < 0x10000) {
			b[0] = (char)(0xe0 | cp >> 12);
			b[1] = (char)(0x80 | (cp >> 6 & 0x3f));
			b[2] = (char)(0x80 | (cp & 0x3f));
			n = 3;
		} else {
			b[0] = (char)(0xf0 | cp >> 18);
			b[1] = (char)(0x80 | (cp >> 12 & 0x3f));
			b[2] = (char)(0x80 | (cp >> 6 & 0x3f));
			b[3] = (char)(0x80 | (cp & 0x3f));
			n = 4;
		}
		str_clear(&u);
		str_append(&u, "x", 1);
		str_append(&u, b, n);
		str_append(&u, b, n);	/* two in one shift */
		str_clear(&m);
		str_clear(&back);
		assert_int_equal(mutf7_from_utf8(u.s, u.len, &m), 0);
		assert_int_equal(mutf7_to_utf8(m.s, m.len, &back), 0);
		assert_int_equal(back.len, u.len);
		assert_memory_equal(back.s, u.s, u.len);
	}
	str_free(&u);
	str_free(&m);
	str_free(&back);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pairs),
		cmocka_unit_test(test_bad_mutf7),
		cmocka_unit_test(test_bad_utf8),
		cmocka_unit_test(test_ascii),
		cmocka_unit_test(test_roundtrip_all),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
