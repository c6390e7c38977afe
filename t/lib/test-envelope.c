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

#include "envelope.h"
#include "mime.h"
#include "str.h"

static void
read_msg(const char *name, struct str *out)
{
	const char *dir = getenv("ZEST_TESTDATA");
	char path[512];
	char buf[4096];
	size_t n;
	FILE *f;

	str_clear(out);
	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "t/data/msg", name);
	f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open %s", path);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		assert_int_equal(str_append(out, buf, n), 0);
	fclose(f);
}

/* Parse s[0..n) fed chunk bytes at a time (0: all at once). */
static struct mime_parser *
parse(const char *s, size_t n, size_t chunk)
{
	struct mime_parser *p = mime_parser_new(NULL);
	size_t i, k;

	assert_non_null(p);
	if (chunk == 0)
		chunk = n ? n : 1;
	for (i = 0; i < n; i += k) {
		k = n - i < chunk ? n - i : chunk;
		assert_int_equal(mime_parser_feed(p, s + i, k), 0);
	}
	assert_int_equal(mime_parser_finish(p), 0);
	return p;
}

struct string_case {
	const char *in;
	size_t n;
	const char *want;
	size_t wn;
};

#define S(x) x, sizeof(x) - 1

static const struct string_case string_cases[] = {
	{ S(""), S("\"\"") },
	{ S("plain text"), S("\"plain text\"") },
	{ S("a \"quoted\" \\ word"), S("\"a \\\"quoted\\\" \\\\ word\"") },
	{ S("\\"), S("\"\\\\\"") },
	{ S("tab\tand\033esc"), S("\"tab\tand\033esc\"") },
	{ S("two\r\nlines"), S("{10}\r\ntwo\r\nlines") },
	{ S("bare\rcr"), S("{7}\r\nbare\rcr") },
	{ S("lf\n"), S("{3}\r\nlf\n") },
	{ S("caf\303\251"), S("{5}\r\ncaf\303\251") },
	{ S("\"\303\251\""), S("{4}\r\n\"\303\251\"") },
	{ S("nul\0byte"), S("{7}\r\nnulbyte") },
	{ S("\0"), S("{0}\r\n") },
	{ S("\177"), S("\"\177\"") },
};

static void
test_string(void **state)
{
	struct str out = STR_INIT;
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(string_cases) / sizeof(string_cases[0]); k++) {
		str_clear(&out);
		assert_int_equal(envelope_string(&out, string_cases[k].in,
		    string_cases[k].n), 0);
		assert_int_equal(out.len, string_cases[k].wn);
		assert_memory_equal(out.s, string_cases[k].want, out.len);
	}
	str_clear(&out);
	assert_int_equal(envelope_nstring(&out, NULL, 5), 0);
	assert_string_equal(out.s, "NIL");
	str_clear(&out);
	assert_int_equal(envelope_nstring(&out, "NIL", 3), 0);
	assert_string_equal(out.s, "\"NIL\"");
	/* a full output buffer is an error */
	str_free(&out);
	str_init(&out, 4);
	assert_int_equal(envelope_string(&out, "abcd", 4), -1);
	assert_int_equal(errno, E2BIG);
	str_clear(&out);
	assert_int_equal(envelope_string(&out, "\r\n", 2), -1);
	str_free(&out);
}

struct addr_case {
	const char *in;
	const char *want;
};

static const struct addr_case addr_cases[] = {
	{ "", "NIL" },
	{ " (only a comment) ", "NIL" },
	{ "<>", "NIL" },
	{ "a@b.example", "((NIL NIL \"a\" \"b.example\"))" },
	{ "\"Doe, John\" <j@d.example>, k@d.example",
	  "((\"Doe, John\" NIL \"j\" \"d.example\")"
	  "(NIL NIL \"k\" \"d.example\"))" },
	{ "team: a@x.example, \"q\\\"t\" <b@x.example>;",
	  "((NIL NIL \"team\" NIL)(NIL NIL \"a\" \"x.example\")"
	  "(\"q\\\"t\" NIL \"b\" \"x.example\")(NIL NIL NIL NIL))" },
	{ ":;", "((NIL NIL \"\" NIL)(NIL NIL NIL NIL))" },
	{ "<@a.example,@b.example:u@c.example>",
	  "((NIL \"@a.example,@b.example\" \"u\" \"c.example\"))" },
	{ "J\303\266rg <j@x.example>",
	  "(({5}\r\nJ\303\266rg NIL \"j\" \"x.example\"))" },
	{ "user", "((NIL NIL \"user\" \"MISSING_DOMAIN\"))" },
};

static void
test_addresses(void **state)
{
	struct str out = STR_INIT;
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(addr_cases) / sizeof(addr_cases[0]); k++) {
		str_clear(&out);
		assert_int_equal(envelope_addresses(&out, addr_cases[k].in,
		    strlen(addr_cases[k].in)), 0);
		assert_string_equal(str_cstr(&out), addr_cases[k].want);
	}
	str_free(&out);
}

struct file_case {
	const char *name;
	const char *envelope;
	const char *body;
	const char *bodystructure;
};

static const struct file_case file_cases[] = {
	{ "plain.eml",
	  "(\"Tue, 14 Nov 2023 10:12:41 +0100\" \"Lunch on Thursday?\" "
	  "((\"Alice Example\" NIL \"alice\" \"example.org\")) "
	  "((\"Alice Example\" NIL \"alice\" \"example.org\")) "
	  "((\"Alice Example\" NIL \"alice\" \"example.org\")) ((\"Bob "
	  "Example\" NIL \"bob\" \"example.net\")) NIL NIL NIL "
	  "\"<20231114091241.GA1234@example.org>\")",
	  "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL "
	  "\"7BIT\" 105 6)",
	  "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL "
	  "\"7BIT\" 105 6 NIL (\"INLINE\" NIL) NIL NIL)" },
	{ "rfc3501.eml",
	  "(\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"IMAP4rev1 WG "
	  "mtg summary and minutes\" ((\"Terry Gray\" NIL \"gray\" "
	  "\"cac.washington.edu\")) ((\"Terry Gray\" NIL \"gray\" "
	  "\"cac.washington.edu\")) ((\"Terry Gray\" NIL \"gray\" "
	  "\"cac.washington.edu\")) ((NIL NIL \"imap\" "
	  "\"cac.washington.edu\")) ((NIL NIL \"minutes\" "
	  "\"CNRI.Reston.VA.US\")(\"John Klensin\" NIL \"KLENSIN\" "
	  "\"MIT.EDU\")) NIL NIL "
	  "\"<B27397-0100000@cac.washington.edu>\")",
	  "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL "
	  "\"7BIT\" 1152 23)(\"TEXT\" \"PLAIN\" (\"CHARSET\" "
	  "\"US-ASCII\" \"NAME\" \"cc.diff\") "
	  "\"<960723163407.20117h@cac.washington.edu>\" \"Compiler "
	  "diff\" \"BASE64\" 4554 73) \"MIXED\")",
	  "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL "
	  "\"7BIT\" 1152 23 NIL NIL NIL NIL)(\"TEXT\" \"PLAIN\" "
	  "(\"CHARSET\" \"US-ASCII\" \"NAME\" \"cc.diff\") "
	  "\"<960723163407.20117h@cac.washington.edu>\" \"Compiler "
	  "diff\" \"BASE64\" 4554 73 NIL NIL NIL NIL) \"MIXED\" "
	  "(\"BOUNDARY\" \"22-10086\") NIL NIL NIL)" },
	{ "mixed-attach.eml",
	  "(\"Mon, 2 Oct 2023 16:05:09 +0200\" \"Q3 report: figures "
	  "for the board meeting, final version\" ((\"Carol Finance\" "
	  "NIL \"carol\" \"corp.example\")) ((\"Carol Finance\" NIL "
	  "\"carol\" \"corp.example\")) ((NIL NIL \"finance-team\" "
	  "\"corp.example\")) ((\"Dave\" NIL \"dave\" "
	  "\"corp.example\")) ((NIL NIL \"eve\" "
	  "\"corp.example\")(\"Frank, CFO\" NIL \"frank\" "
	  "\"corp.example\")) NIL \"<ab12cd34@corp.example>\" "
	  "\"<q3-report-final@corp.example>\")",
	  "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL "
	  "\"QUOTED-PRINTABLE\" 86 4)(\"APPLICATION\" \"PDF\" "
	  "(\"NAME\" \"report-q3.pdf\") NIL \"Q3 report\" \"BASE64\" "
	  "524) \"MIXED\")",
	  "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL "
	  "\"QUOTED-PRINTABLE\" 86 4 NIL NIL NIL NIL)(\"APPLICATION\" "
	  "\"PDF\" (\"NAME\" \"report-q3.pdf\") NIL \"Q3 report\" "
	  "\"BASE64\" 524 NIL (\"ATTACHMENT\" (\"FILENAME\" "
	  "\"report-q3.pdf\" \"SIZE\" \"432\")) NIL NIL) \"MIXED\" "
	  "(\"BOUNDARY\" \"----=_Part_42_1234567.1696255509\") NIL NIL "
	  "NIL)" },
	{ "alt-in-mixed.eml",
	  "(\"Thu, 05 Oct 2023 07:30:00 -0400\" \"Autumn sale\" "
	  "((\"Newsletter\" NIL \"news\" \"shop.example\")) "
	  "((\"Newsletter\" NIL \"news\" \"shop.example\")) "
	  "((\"Newsletter\" NIL \"news\" \"shop.example\")) ((NIL NIL "
	  "\"customer\" \"example.net\")) NIL NIL NIL "
	  "\"<autumn-2023@shop.example>\")",
	  "(((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"UTF-8\") NIL NIL "
	  "\"7BIT\" 32 0)(\"TEXT\" \"HTML\" (\"CHARSET\" \"UTF-8\") "
	  "NIL NIL \"7BIT\" 107 1) \"ALTERNATIVE\")(\"IMAGE\" \"PNG\" "
	  "NIL \"<logo@shop.example>\" NIL \"BASE64\" 118) \"MIXED\")",
	  "(((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"UTF-8\") NIL NIL "
	  "\"7BIT\" 32 0 NIL NIL \"en-US\" NIL)(\"TEXT\" \"HTML\" "
	  "(\"CHARSET\" \"UTF-8\") NIL NIL \"7BIT\" 107 1 NIL NIL "
	  "(\"en\" \"de\") NIL) \"ALTERNATIVE\" (\"BOUNDARY\" "
	  "\"alt-b\") NIL NIL NIL)(\"IMAGE\" \"PNG\" NIL "
	  "\"<logo@shop.example>\" NIL \"BASE64\" 118 "
	  "\"Q2hlY2sgSW50ZWdyaXR5IQ==\" (\"INLINE\" (\"FILENAME\" "
	  "\"logo.png\")) NIL \"http://shop.example/logo.png\") "
	  "\"MIXED\" (\"BOUNDARY\" \"outer-b\") NIL NIL NIL)" },
	{ "rfc822-attach.eml",
	  "(\"Fri, 06 Oct 2023 12:00:00 +0000\" \"Fwd: two messages\" "
	  "((\"Grace\" NIL \"grace\" \"lab.example\")) ((\"Grace\" NIL "
	  "\"grace\" \"lab.example\")) ((\"Grace\" NIL \"grace\" "
	  "\"lab.example\")) ((\"Heidi\" NIL \"heidi\" "
	  "\"lab.example\")) NIL NIL NIL \"<fwd-2@lab.example>\")",
	  "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL "
	  "\"7BIT\" 27 0)(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" "
	  "403 (\"Thu, 05 Oct 2023 18:44:10 +0000\" \"Results\" "
	  "((\"Ivan\" NIL \"ivan\" \"other.example\")) ((\"Ivan\" NIL "
	  "\"ivan\" \"other.example\")) ((\"Ivan\" NIL \"ivan\" "
	  "\"other.example\")) ((\"Grace\" NIL \"grace\" "
	  "\"lab.example\")) NIL NIL NIL "
	  "\"<results-1@other.example>\") ((\"TEXT\" \"PLAIN\" "
	  "(\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 19 0)(\"TEXT\" "
	  "\"HTML\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 26 0) "
	  "\"ALTERNATIVE\") 16)(\"MESSAGE\" \"RFC822\" NIL NIL NIL "
	  "\"7BIT\" 110 (NIL \"Short note\" ((\"Judy\" NIL \"judy\" "
	  "\"other.example\")) ((\"Judy\" NIL \"judy\" "
	  "\"other.example\")) ((\"Judy\" NIL \"judy\" "
	  "\"other.example\")) NIL NIL NIL NIL "
	  "\"<note-2@other.example>\") (\"TEXT\" \"PLAIN\" "
	  "(\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 18 0) 4) "
	  "\"MIXED\")",
	  "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL "
	  "\"7BIT\" 27 0 NIL NIL NIL NIL)(\"MESSAGE\" \"RFC822\" NIL "
	  "NIL NIL \"7BIT\" 403 (\"Thu, 05 Oct 2023 18:44:10 +0000\" "
	  "\"Results\" ((\"Ivan\" NIL \"ivan\" \"other.example\")) "
	  "((\"Ivan\" NIL \"ivan\" \"other.example\")) ((\"Ivan\" NIL "
	  "\"ivan\" \"other.example\")) ((\"Grace\" NIL \"grace\" "
	  "\"lab.example\")) NIL NIL NIL "
	  "\"<results-1@other.example>\") ((\"TEXT\" \"PLAIN\" "
	  "(\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 19 0 NIL NIL "
	  "NIL NIL)(\"TEXT\" \"HTML\" (\"CHARSET\" \"us-ascii\") NIL "
	  "NIL \"7BIT\" 26 0 NIL NIL NIL NIL) \"ALTERNATIVE\" "
	  "(\"BOUNDARY\" \"inner\") NIL NIL NIL) 16 NIL "
	  "(\"ATTACHMENT\" (\"FILENAME\" \"first.eml\")) NIL "
	  "NIL)(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 110 (NIL "
	  "\"Short note\" ((\"Judy\" NIL \"judy\" \"other.example\")) "
	  "((\"Judy\" NIL \"judy\" \"other.example\")) ((\"Judy\" NIL "
	  "\"judy\" \"other.example\")) NIL NIL NIL NIL "
	  "\"<note-2@other.example>\") (\"TEXT\" \"PLAIN\" "
	  "(\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 18 0 NIL NIL "
	  "NIL NIL) 4 NIL NIL NIL NIL) \"MIXED\" (\"BOUNDARY\" "
	  "\"fwd\") NIL NIL NIL)" },
	{ "iso2022jp.eml",
	  "(\"Sat, 07 Oct 2023 09:00:00 +0900\" "
	  "\"\033$B$3$s$K$A$O\033(B\" "
	  "(({12}\r\n\345\261\261\347\224\260\345\244\252\351\203\216 "
	  "NIL \"taro\" \"example.jp\")) "
	  "(({12}\r\n\345\261\261\347\224\260\345\244\252\351\203\216 "
	  "NIL \"taro\" \"example.jp\")) "
	  "(({12}\r\n\345\261\261\347\224\260\345\244\252\351\203\216 "
	  "NIL \"taro\" \"example.jp\")) ((NIL NIL "
	  "{6}\r\n\347\224\250\346\210\267 \"example.cn\")) NIL NIL "
	  "NIL \"<jp-1@example.jp>\")",
	  "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"ISO-2022-JP\") NIL NIL "
	  "\"7BIT\" 37 2)",
	  "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"ISO-2022-JP\") NIL NIL "
	  "\"7BIT\" 37 2 NIL NIL NIL NIL)" },
	{ "encoded-words.eml",
	  "(\"Sun, 08 Oct 2023 10:00:00 +0200\" "
	  "\"=?UTF-8?B?UmVwb3J0IOKCrCAyMDI0?= =?UTF-8?Q?_final?=\" "
	  "((\"=?ISO-8859-1?Q?Andr=E9?= Pirard\" NIL \"pirard\" "
	  "\"vm1.example.be\")) ((\"=?ISO-8859-1?Q?Andr=E9?= Pirard\" "
	  "NIL \"pirard\" \"vm1.example.be\")) "
	  "((\"=?ISO-8859-1?Q?Andr=E9?= Pirard\" NIL \"pirard\" "
	  "\"vm1.example.be\")) ((\"=?US-ASCII?Q?Keith_Moore?=\" NIL "
	  "\"moore\" \"cs.example.edu\")) "
	  "((\"=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?=\" NIL \"keld\" "
	  "\"dk.example\")) NIL NIL \"<ew-1@vm1.example.be>\")",
	  "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"iso-8859-1\") NIL "
	  "\"=?ISO-8859-1?Q?R=E9sum=E9?=\" \"QUOTED-PRINTABLE\" 20 "
	  "0)(\"APPLICATION\" \"OCTET-STREAM\" (\"NAME*\" "
	  "\"iso-8859-1'en'%A3%20rates.txt\" \"TITLE\" \"Annual "
	  "rates\") NIL NIL \"BASE64\" 8) \"MIXED\")",
	  "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"iso-8859-1\") NIL "
	  "\"=?ISO-8859-1?Q?R=E9sum=E9?=\" \"QUOTED-PRINTABLE\" 20 0 "
	  "NIL NIL NIL NIL)(\"APPLICATION\" \"OCTET-STREAM\" "
	  "(\"NAME*\" \"iso-8859-1'en'%A3%20rates.txt\" \"TITLE\" "
	  "\"Annual rates\") NIL NIL \"BASE64\" 8 NIL (\"ATTACHMENT\" "
	  "(\"FILENAME*\" \"UTF-8''%E2%82%AC%20rates%202024.txt\")) "
	  "NIL NIL) \"MIXED\" (\"BOUNDARY\" \"ew\") NIL NIL NIL)" },
	{ "groups.eml",
	  "(\"Mon, 09 Oct 2023 08:00:00 +0000\" \"Groups and routes\" "
	  "((\"Joe Q. Public\" NIL \"john.q.public\" \"example.com\")) "
	  "((\"Secretary\" NIL \"secretary\" \"example.com\")) ((NIL "
	  "\"@relay1.example,@relay2.example\" \"joe\" "
	  "\"final.example\")) ((\"Mary Smith\" NIL \"mary\" "
	  "\"x.test\")(NIL NIL \"jdoe\" \"example.org\")(NIL NIL "
	  "\"john doe\" \"example.com\")(\"Who?\" NIL \"one\" "
	  "\"y.test\")) ((NIL NIL \"A Group\" NIL)(\"Ed Jones\" NIL "
	  "\"c\" \"a.test\")(NIL NIL \"joe\" \"where.test\")(\"John\" "
	  "NIL \"jdoe\" \"one.test\")(NIL NIL NIL NIL)(NIL NIL "
	  "\"Undisclosed recipients\" NIL)(NIL NIL NIL NIL)) "
	  "((\"Pete\" NIL \"pete\" \"silly.test\")(\"Admin Account\" "
	  "NIL \"root\" \"[192.0.2.1]\")(NIL NIL \"local-only\" "
	  "\"MISSING_DOMAIN\")) \"<a@example.com> <b@example.com>\" "
	  "\"<groups@example.com>\")",
	  "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL "
	  "\"7BIT\" 7 1)",
	  "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL "
	  "\"7BIT\" 7 1 NIL NIL NIL NIL)" },
	{ "missing-headers.eml",
	  "(NIL \"\" ((NIL NIL \"nobody\" \"example.com\")) ((NIL NIL "
	  "\"nobody\" \"example.com\")) ((NIL NIL \"nobody\" "
	  "\"example.com\")) NIL NIL NIL NIL NIL)",
	  "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL "
	  "\"7BIT\" 11 1)",
	  "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL "
	  "\"7BIT\" 11 1 NIL NIL NIL NIL)" },
	{ "no-blank.eml",
	  "(NIL \"header only\" ((NIL NIL \"x\" \"y.example\")) ((NIL "
	  "NIL \"x\" \"y.example\")) ((NIL NIL \"x\" \"y.example\")) "
	  "NIL NIL NIL NIL NIL)",
	  "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL "
	  "\"7BIT\" 0 0)",
	  "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL "
	  "\"7BIT\" 0 0 NIL NIL NIL NIL)" },
	{ "binary-nul.eml",
	  "(NIL \"raw dump\" ((NIL NIL \"sensor\" \"iot.example\")) "
	  "((NIL NIL \"sensor\" \"iot.example\")) ((NIL NIL \"sensor\" "
	  "\"iot.example\")) ((NIL NIL \"archive\" \"iot.example\")) "
	  "NIL NIL NIL NIL)",
	  "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL "
	  "\"7BIT\" 13 0)(\"APPLICATION\" \"OCTET-STREAM\" NIL NIL NIL "
	  "\"BINARY\" 280) \"MIXED\")",
	  "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL "
	  "\"7BIT\" 13 0 NIL NIL NIL NIL)(\"APPLICATION\" "
	  "\"OCTET-STREAM\" NIL NIL NIL \"BINARY\" 280 NIL NIL NIL "
	  "NIL) \"MIXED\" (\"BOUNDARY\" \"bin\") NIL NIL NIL)" },
	{ "bad-boundary.eml",
	  "(NIL \"bad boundaries\" ((NIL NIL \"broken\" "
	  "\"mailer.example\")) ((NIL NIL \"broken\" "
	  "\"mailer.example\")) ((NIL NIL \"broken\" "
	  "\"mailer.example\")) NIL NIL NIL NIL NIL)",
	  "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL "
	  "\"7BIT\" 91 2)((\"TEXT\" \"PLAIN\" (\"CHARSET\" "
	  "\"US-ASCII\") NIL NIL \"7BIT\" 49 0) "
	  "\"ALTERNATIVE\")(\"TEXT\" \"PLAIN\" (\"CHARSET\" "
	  "\"US-ASCII\") NIL NIL \"7BIT\" 50 1) \"MIXED\")",
	  "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL "
	  "\"7BIT\" 91 2 NIL NIL NIL NIL)((\"TEXT\" \"PLAIN\" "
	  "(\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 49 0 NIL NIL "
	  "NIL NIL) \"ALTERNATIVE\" (\"BOUNDARY\" \"=_inner\") NIL NIL "
	  "NIL)(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL "
	  "\"7BIT\" 50 1 NIL NIL NIL NIL) \"MIXED\" (\"BOUNDARY\" "
	  "\"=_outer\") NIL NIL NIL)" },
	{ "deep.eml",
	  "(NIL \"nesting\" ((NIL NIL \"deep\" \"nest.example\")) "
	  "((NIL NIL \"deep\" \"nest.example\")) ((NIL NIL \"deep\" "
	  "\"nest.example\")) NIL NIL NIL NIL NIL)",
	  "((((\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 147 (NIL "
	  "\"level four\" NIL NIL NIL NIL NIL NIL NIL NIL) "
	  "((\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 34 (NIL "
	  "\"level six\" NIL NIL NIL NIL NIL NIL NIL NIL) (\"TEXT\" "
	  "\"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 12 0) "
	  "2) \"MIXED\") 9) \"ALTERNATIVE\") \"RELATED\") \"MIXED\")",
	  "((((\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 147 (NIL "
	  "\"level four\" NIL NIL NIL NIL NIL NIL NIL NIL) "
	  "((\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 34 (NIL "
	  "\"level six\" NIL NIL NIL NIL NIL NIL NIL NIL) (\"TEXT\" "
	  "\"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 12 0 "
	  "NIL NIL NIL NIL) 2 NIL NIL NIL NIL) \"MIXED\" (\"BOUNDARY\" "
	  "\"L5\") NIL NIL NIL) 9 NIL NIL NIL NIL) \"ALTERNATIVE\" "
	  "(\"BOUNDARY\" \"L3\") NIL NIL NIL) \"RELATED\" "
	  "(\"BOUNDARY\" \"L2\") NIL NIL NIL) \"MIXED\" (\"BOUNDARY\" "
	  "\"L1\") NIL NIL NIL)" },
	{ "digest.eml",
	  "(NIL \"Digest 42\" ((NIL NIL \"list\" \"lists.example\")) "
	  "((NIL NIL \"list\" \"lists.example\")) ((NIL NIL \"list\" "
	  "\"lists.example\")) NIL NIL NIL NIL NIL)",
	  "((\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 44 (NIL "
	  "\"first\" ((NIL NIL \"a\" \"lists.example\")) ((NIL NIL "
	  "\"a\" \"lists.example\")) ((NIL NIL \"a\" "
	  "\"lists.example\")) NIL NIL NIL NIL NIL) (\"TEXT\" "
	  "\"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3 0) "
	  "3)(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 45 (NIL "
	  "\"second\" ((NIL NIL \"b\" \"lists.example\")) ((NIL NIL "
	  "\"b\" \"lists.example\")) ((NIL NIL \"b\" "
	  "\"lists.example\")) NIL NIL NIL NIL NIL) (\"TEXT\" "
	  "\"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3 0) "
	  "3)(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL "
	  "\"7BIT\" 13 0) \"DIGEST\")",
	  "((\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 44 (NIL "
	  "\"first\" ((NIL NIL \"a\" \"lists.example\")) ((NIL NIL "
	  "\"a\" \"lists.example\")) ((NIL NIL \"a\" "
	  "\"lists.example\")) NIL NIL NIL NIL NIL) (\"TEXT\" "
	  "\"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3 0 "
	  "NIL NIL NIL NIL) 3 NIL NIL NIL NIL)(\"MESSAGE\" \"RFC822\" "
	  "NIL NIL NIL \"7BIT\" 45 (NIL \"second\" ((NIL NIL \"b\" "
	  "\"lists.example\")) ((NIL NIL \"b\" \"lists.example\")) "
	  "((NIL NIL \"b\" \"lists.example\")) NIL NIL NIL NIL NIL) "
	  "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL "
	  "\"7BIT\" 3 0 NIL NIL NIL NIL) 3 NIL NIL NIL NIL)(\"TEXT\" "
	  "\"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 13 0 "
	  "NIL NIL NIL NIL) \"DIGEST\" (\"BOUNDARY\" \"dg\") NIL NIL "
	  "NIL)" },
};

#define NFILES (sizeof(file_cases) / sizeof(file_cases[0]))

static void
check_str(const char *what, const char *file, const struct str *got,
    const char *want, size_t *bad)
{
	if (got->len == strlen(want) && memcmp(got->s, want, got->len) == 0)
		return;
	print_error("%s %s:\n got  %s\n want %s\n", file, what,
	    str_cstr(got), want);
	(*bad)++;
}

/* Exact ENVELOPE, BODY, BODYSTRUCTURE, whole and fed byte by byte. */
static void
test_files(void **state)
{
	static const size_t chunks[] = { 0, 1, 13 };
	struct str msg = STR_INIT, out = STR_INIT;
	struct mime_parser *p;
	size_t k, c, bad = 0;

	(void)state;
	for (k = 0; k < NFILES; k++) {
		read_msg(file_cases[k].name, &msg);
		for (c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
			p = parse(msg.s, msg.len, chunks[c]);
			str_clear(&out);
			assert_int_equal(envelope_envelope(p, 0, &out), 0);
			check_str("ENVELOPE", file_cases[k].name, &out,
			    file_cases[k].envelope, &bad);
			str_clear(&out);
			assert_int_equal(envelope_bodystructure(p, 0, &out), 0);
			check_str("BODY", file_cases[k].name, &out,
			    file_cases[k].body, &bad);
			str_clear(&out);
			assert_int_equal(envelope_bodystructure(p, 1, &out), 0);
			check_str("BODYSTRUCTURE", file_cases[k].name, &out,
			    file_cases[k].bodystructure, &bad);
			mime_parser_free(&p);
		}
	}
	str_free(&msg);
	str_free(&out);
	assert_int_equal(bad, 0);
}

static void
test_parts(void **state)
{
	struct str msg = STR_INIT, out = STR_INIT, inner = STR_INIT;
	struct mime_parser *p;

	(void)state;
	read_msg("rfc822-attach.eml", &msg);
	p = parse(msg.s, msg.len, 0);
	/* the message/rfc822 entry and its message give the same envelope */
	assert_int_equal(envelope_envelope(p, 6, &out), 0);
	assert_string_equal(out.s, "(NIL \"Short note\" "
	    "((\"Judy\" NIL \"judy\" \"other.example\")) "
	    "((\"Judy\" NIL \"judy\" \"other.example\")) "
	    "((\"Judy\" NIL \"judy\" \"other.example\")) "
	    "NIL NIL NIL NIL \"<note-2@other.example>\")");
	assert_int_equal(envelope_envelope(p, 7, &inner), 0);
	assert_string_equal(out.s, inner.s);
	errno = 0;
	assert_int_equal(envelope_envelope(p, 1, &out), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(envelope_envelope(p, 99, &out), -1);
	assert_int_equal(errno, EINVAL);
	str_clear(&out);
	assert_int_equal(envelope_bodystructure_part(p, 3, 0, &out), 0);
	assert_string_equal(out.s, "((\"TEXT\" \"PLAIN\" (\"CHARSET\" "
	    "\"us-ascii\") NIL NIL \"7BIT\" 19 0)(\"TEXT\" \"HTML\" "
	    "(\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 26 0) "
	    "\"ALTERNATIVE\")");
	str_clear(&out);
	assert_int_equal(envelope_bodystructure_part(p, 7, 1, &out), 0);
	assert_string_equal(out.s, "(\"TEXT\" \"PLAIN\" (\"CHARSET\" "
	    "\"US-ASCII\") NIL NIL \"7BIT\" 18 0 NIL NIL NIL NIL)");
	errno = 0;
	assert_int_equal(envelope_bodystructure_part(p, 8, 1, &out), -1);
	assert_int_equal(errno, EINVAL);
	mime_parser_free(&p);
	str_free(&msg);
	str_free(&out);
	str_free(&inner);
}

struct msg_case {
	const char *name;
	const char *in;
	const char *envelope;
	const char *bodystructure;
};

static const struct msg_case msg_cases[] = {
	{ "empty message", "",
	  "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	  "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" "
	  "0 0 NIL NIL NIL NIL)" },
	{ "sender and reply-to",
	  "From: a@x.example\r\nSender: s@x.example\r\nReply-To: (none)\r\n"
	  "\r\n",
	  "(NIL NIL ((NIL NIL \"a\" \"x.example\")) "
	  "((NIL NIL \"s\" \"x.example\")) ((NIL NIL \"a\" \"x.example\")) "
	  "NIL NIL NIL NIL NIL)",
	  "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" "
	  "0 0 NIL NIL NIL NIL)" },
	{ "no from",
	  "Sender: s@x.example\r\nTo: t@x.example\r\n\r\n",
	  "(NIL NIL NIL ((NIL NIL \"s\" \"x.example\")) NIL "
	  "((NIL NIL \"t\" \"x.example\")) NIL NIL NIL NIL)",
	  "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" "
	  "0 0 NIL NIL NIL NIL)" },
	{ "8-bit and NUL in header text",
	  "Subject: caf\303\251\r\nMessage-ID: <a\0b@x>\r\n"
	  "Content-Type: text/plain; charset=\"\303\251\"; format=flowed\r\n"
	  "Content-Disposition: INLINE\r\n\r\nx",
	  "(NIL {5}\r\ncaf\303\251 NIL NIL NIL NIL NIL NIL NIL "
	  "{6}\r\n<ab@x>)",
	  "(\"TEXT\" \"PLAIN\" (\"CHARSET\" {2}\r\n\303\251 \"FORMAT\" "
	  "\"flowed\") NIL NIL \"7BIT\" 1 0 NIL (\"INLINE\" NIL) NIL "
	  "NIL)" },
	{ "text without charset",
	  "Content-Type: text/html; format=flowed\r\n"
	  "Content-Transfer-Encoding: quoted-printable\r\n\r\n<p>\r\n",
	  "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	  "(\"TEXT\" \"HTML\" (\"CHARSET\" \"US-ASCII\" \"FORMAT\" "
	  "\"flowed\") NIL NIL \"QUOTED-PRINTABLE\" 5 1 NIL NIL NIL NIL)" },
	{ "lowercase types, disposition parameters",
	  "Content-Type: application/vnd.ms-excel; name=\"a.xls\"\r\n"
	  "Content-Disposition: attachment; Filename=a.xls; "
	  "creation-date=\"Mon, 9 Oct 2023 10:00:00 +0000\"\r\n"
	  "Content-Language: de\r\n\r\nAAAA",
	  "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	  "(\"APPLICATION\" \"VND.MS-EXCEL\" (\"NAME\" \"a.xls\") NIL NIL "
	  "\"7BIT\" 4 NIL (\"ATTACHMENT\" (\"FILENAME\" \"a.xls\" "
	  "\"CREATION-DATE\" \"Mon, 9 Oct 2023 10:00:00 +0000\")) \"de\" "
	  "NIL)" },
	{ "opaque multipart",
	  "Content-Type: multipart/mixed\r\nContent-Transfer-Encoding: 8bit"
	  "\r\n\r\n--x\r\nno boundary\r\n",
	  "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	  "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"8BIT\" "
	  "18 2 NIL NIL NIL NIL)" },
	{ "top-level message/rfc822",
	  "Subject: outer\r\nContent-Type: message/rfc822\r\n\r\n"
	  "Subject: inner\r\n\r\nbody\r\n",
	  "(NIL \"outer\" NIL NIL NIL NIL NIL NIL NIL NIL)",
	  "(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 24 "
	  "(NIL \"inner\" NIL NIL NIL NIL NIL NIL NIL NIL) "
	  "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" "
	  "6 1 NIL NIL NIL NIL) 3 NIL NIL NIL NIL)" },
};

static void
test_messages(void **state)
{
	struct str out = STR_INIT;
	struct mime_parser *p;
	size_t k, bad = 0;

	(void)state;
	for (k = 0; k < sizeof(msg_cases) / sizeof(msg_cases[0]); k++) {
		const struct msg_case *c = &msg_cases[k];
		size_t n = strlen(c->in);
		if (k == 3)	/* the NUL in the Message-ID */
			n = strlen(c->in) + 1 + strlen(c->in + n + 1);
		p = parse(c->in, n, 1);
		str_clear(&out);
		assert_int_equal(envelope_envelope(p, 0, &out), 0);
		check_str("ENVELOPE", c->name, &out, c->envelope, &bad);
		str_clear(&out);
		assert_int_equal(envelope_bodystructure(p, 1, &out), 0);
		check_str("BODYSTRUCTURE", c->name, &out, c->bodystructure,
		    &bad);
		mime_parser_free(&p);
	}
	str_free(&out);
	assert_int_equal(bad, 0);
}

/* Deep nesting and many parts stay well-formed. */
static void
test_limits(void **state)
{
	struct str m = STR_INIT, out = STR_INIT;
	struct mime_parser *p;
	size_t k, open = 0, close = 0;

	(void)state;
	for (k = 0; k < 40; k++)
		assert_int_equal(str_appendf(&m, "Content-Type: "
		    "multipart/mixed; boundary=b%zu\r\n\r\n--b%zu\r\n", k,
		    k), 0);
	assert_int_equal(str_appends(&m, "\r\nx\r\n"), 0);
	p = parse(m.s, m.len, 0);
	assert_int_equal(envelope_bodystructure(p, 1, &out), 0);
	for (k = 0; k < out.len; k++) {
		open += out.s[k] == '(';
		close += out.s[k] == ')';
	}
	assert_int_equal(open, close);
	assert_non_null(strstr(out.s, "((((((((((((((((((((((((((((((((("
	    "\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" "));
	mime_parser_free(&p);

	str_clear(&m);
	assert_int_equal(str_appends(&m, "Content-Type: multipart/mixed; "
	    "boundary=p\r\n\r\n"), 0);
	for (k = 0; k < 2000; k++)
		assert_int_equal(str_appends(&m, "--p\r\n\r\nx\r\n"), 0);
	p = parse(m.s, m.len, 0);
	str_clear(&out);
	assert_int_equal(envelope_bodystructure(p, 0, &out), 0);
	assert_int_equal(out.len, 1 + 999 * strlen("(\"TEXT\" \"PLAIN\" "
	    "(\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 1 0)") +
	    strlen(" \"MIXED\")"));
	/* an output maximum is an error, not a short string */
	str_free(&out);
	str_init(&out, 1000);
	errno = 0;
	assert_int_equal(envelope_bodystructure(p, 1, &out), -1);
	assert_int_equal(errno, E2BIG);
	mime_parser_free(&p);
	str_free(&m);
	str_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_string),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_parts),
		cmocka_unit_test(test_messages),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
