/* SPDX-License-Identifier: ISC */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imapquote.h"
#include "str.h"

enum kind { STRING, ASTRING, NSTRING, MAILBOX };

static const struct {
	enum kind kind;
	const char *in;
	size_t len;		/* 0: strlen */
	int flags;
	const char *want;
} rows[] = {
	{ STRING, "hello", 0, 0, "\"hello\"" },
	{ STRING, "", 0, 0, "\"\"" },
	{ STRING, "say \"hi\" \\o/", 0, 0, "\"say \\\"hi\\\" \\\\o/\"" },
	{ STRING, "two\r\nlines", 0, 0, "{10}\r\ntwo\r\nlines" },
	{ STRING, "lf\n", 0, 0, "{3}\r\nlf\n" },
	{ STRING, "caf\xc3\xa9", 0, 0, "{5}\r\ncaf\xc3\xa9" },
	{ STRING, "caf\xc3\xa9", 0, IMAPQUOTE_UTF8, "\"caf\xc3\xa9\"" },
	{ STRING, "bad\xc3", 0, IMAPQUOTE_UTF8, "{4}\r\nbad\xc3" },
	{ STRING, "tab\there", 0, 0, "\"tab\there\"" },
	{ STRING, "short", 0, IMAPQUOTE_LITERAL, "{5}\r\nshort" },
	{ STRING, "a\0b", 3, IMAPQUOTE_BINARY, "~{3}\r\na\0b" },
	{ ASTRING, "INBOX", 0, 0, "INBOX" },
	{ ASTRING, "Sent]Items", 0, 0, "Sent]Items" },	/* "]" is fine */
	{ ASTRING, "two words", 0, 0, "\"two words\"" },
	{ ASTRING, "", 0, 0, "\"\"" },
	{ ASTRING, "NIL", 0, 0, "\"NIL\"" },
	{ ASTRING, "nil", 0, 0, "\"nil\"" },
	{ ASTRING, "NILS", 0, 0, "NILS" },
	{ ASTRING, "a(b", 0, 0, "\"a(b\"" },
	{ ASTRING, "a%b", 0, 0, "\"a%b\"" },
	{ ASTRING, "a*", 0, 0, "\"a*\"" },
	{ ASTRING, "{5}", 0, 0, "\"{5}\"" },
	{ ASTRING, "a\"b", 0, 0, "\"a\\\"b\"" },
	{ ASTRING, "&U,BTFw-", 0, 0, "&U,BTFw-" },
	{ NSTRING, NULL, 0, 0, "NIL" },
	{ NSTRING, "NIL", 0, 0, "\"NIL\"" },
	{ NSTRING, "x", 0, 0, "\"x\"" },
	{ MAILBOX, "inbox", 0, 0, "INBOX" },
	{ MAILBOX, "InBoX", 0, 0, "INBOX" },
	{ MAILBOX, "INBOX.Sent", 0, 0, "INBOX.Sent" },
	{ MAILBOX, "My Mail", 0, 0, "\"My Mail\"" },
	{ MAILBOX, "Entw\xc3\xbcrfe", 0, IMAPQUOTE_UTF8, "\"Entw\xc3\xbcrfe\"" },
};

static void
test_rows(void **state)
{
	struct str out = STR_INIT;
	size_t i, len, wlen;
	int rc = -1;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		len = rows[i].len ? rows[i].len :
		    rows[i].in ? strlen(rows[i].in) : 0;
		str_clear(&out);
		switch (rows[i].kind) {
		case STRING:
			rc = imapquote_string(&out, rows[i].in, len,
			    rows[i].flags);
			break;
		case ASTRING:
			rc = imapquote_astring(&out, rows[i].in, len,
			    rows[i].flags);
			break;
		case NSTRING:
			rc = imapquote_nstring(&out, rows[i].in, len,
			    rows[i].flags);
			break;
		case MAILBOX:
			rc = imapquote_mailbox(&out, rows[i].in, len,
			    rows[i].flags);
			break;
		}
		assert_int_equal(rc, 0);
		/* Literal8 rows hold a NUL: compare by length. */
		wlen = strlen(rows[i].want);
		if (rows[i].flags & IMAPQUOTE_BINARY)
			wlen = out.len;
		assert_int_equal(out.len, wlen);
		assert_memory_equal(out.s, rows[i].want, wlen);
	}
	str_free(&out);
}

static void
test_nul_refused(void **state)
{
	struct str out = STR_INIT;

	str_appends(&out, "* 1 ");
	errno = 0;
	assert_int_equal(imapquote_string(&out, "a\0b", 3, 0), -1);
	assert_int_equal(errno, EINVAL);
	assert_string_equal(str_cstr(&out), "* 1 ");
	assert_int_equal(imapquote_astring(&out, "a\0b", 3, 0), -1);
	assert_string_equal(str_cstr(&out), "* 1 ");
	str_free(&out);
}

static void
test_long_goes_literal(void **state)
{
	struct str out = STR_INIT;
	char *big = malloc(IMAPQUOTE_QUOTED_MAX + 1);
	char head[32];

	assert_non_null(big);
	memset(big, 'x', IMAPQUOTE_QUOTED_MAX + 1);
	assert_int_equal(imapquote_string(&out, big, IMAPQUOTE_QUOTED_MAX, 0),
	    0);
	assert_int_equal(out.len, IMAPQUOTE_QUOTED_MAX + 2);
	assert_int_equal(out.s[0], '"');
	str_clear(&out);
	assert_int_equal(imapquote_string(&out, big, IMAPQUOTE_QUOTED_MAX + 1,
	    0), 0);
	snprintf(head, sizeof(head), "{%d}\r\n", IMAPQUOTE_QUOTED_MAX + 1);
	assert_memory_equal(out.s, head, strlen(head));
	assert_int_equal(out.len, strlen(head) + IMAPQUOTE_QUOTED_MAX + 1);
	free(big);
	str_free(&out);
}

static void
test_atom_chars(void **state)
{
	const char *specials = "(){ %*\"\\]";
	unsigned c;

	for (c = 0; c < 256; c++) {
		int want = c > 0x20 && c < 0x7f &&
		    strchr(specials, (int)c) == NULL;

		assert_int_equal(imapquote_atom_char((unsigned char)c), want);
	}
	assert_true(imapquote_is_astring_atom("a]b", 3));
	assert_false(imapquote_is_astring_atom("", 0));
	assert_false(imapquote_is_astring_atom("a b", 3));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_nul_refused),
		cmocka_unit_test(test_long_goes_literal),
		cmocka_unit_test(test_atom_chars),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
