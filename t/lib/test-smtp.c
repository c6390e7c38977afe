/* SPDX-License-Identifier: ISC */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "smtp.h"
#include "str.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void
test_cmd_parse(void **state)
{
	static const struct {
		const char *line;
		int rc;
		enum smtp_verb verb;
		const char *arg;
	} rows[] = {
		{ "EHLO example.org", 0, SMTP_EHLO, "example.org" },
		{ "ehlo example.org", 0, SMTP_EHLO, "example.org" },
		{ "MAIL FROM:<a@b>", 0, SMTP_MAIL, "FROM:<a@b>" },
		{ "QUIT", 0, SMTP_QUIT, "" },
		{ "QUIT   ", 0, SMTP_QUIT, "" },
		{ "NOOP  x", 0, SMTP_NOOP, " x" },
		{ "StartTLS", 0, SMTP_STARTTLS, "" },
		{ "BDAT 10 LAST", 0, SMTP_BDAT, "10 LAST" },
		{ "XYZZY foo", 0, SMTP_UNKNOWN, "foo" },
		{ "", -1, SMTP_UNKNOWN, NULL },
		{ " QUIT", -1, SMTP_UNKNOWN, NULL },
		{ "QU1T", -1, SMTP_UNKNOWN, NULL },
		{ "QUIT\t", -1, SMTP_UNKNOWN, NULL },
		{ "MAIL FROM:<a@b>\r", -1, SMTP_UNKNOWN, NULL },
		{ "ABCDEFGHIJKLMNOPQ", -1, SMTP_UNKNOWN, NULL },
		{ "ABCDEFGHIJKLMNOP", 0, SMTP_UNKNOWN, "" },
		{ "RCPT TO:<\x7f>", -1, SMTP_UNKNOWN, NULL },
	};
	struct smtp_cmd cmd;
	size_t i;
	int rc;

	for (i = 0; i < N(rows); i++) {
		rc = smtp_cmd_parse(rows[i].line, strlen(rows[i].line), &cmd);
		if (rc != rows[i].rc)
			fail_msg("row %zu '%s': rc %d", i, rows[i].line, rc);
		if (rc < 0)
			continue;
		assert_int_equal(cmd.verb, rows[i].verb);
		assert_int_equal(cmd.arglen, strlen(rows[i].arg));
		assert_memory_equal(cmd.arg, rows[i].arg, cmd.arglen);
	}
	/* A NUL inside the line is refused too. */
	assert_int_equal(smtp_cmd_parse("NOOP a\0b", 8, &cmd), -1);
	assert_string_equal(smtp_verb_name(SMTP_BDAT), "BDAT");
	assert_string_equal(smtp_verb_name(SMTP_UNKNOWN), "?");
}

#define F_NULL SMTP_PATH_NULL
#define F_PM SMTP_PATH_POSTMASTER
#define F_U8 SMTP_PATH_UTF8

/* Path rows: input, flags, errno (0: ok), addr, bytes used, and the
 * expected flags "q" quoted, "u" utf8, "l" literal, "n" null, "p"
 * postmaster. */
static const struct path_row {
	const char *in;
	int flags;
	int err;
	const char *addr;
	size_t used;
	const char *marks;
} path_rows[] = {
	{ "<a@b.example>", 0, 0, "a@b.example", 13, "" },
	{ "<a@b.example> SIZE=1", 0, 0, "a@b.example", 13, "" },
	{ "<first.last+tag@sub.example.org>", 0, 0,
	    "first.last+tag@sub.example.org", 32, "" },
	{ "<!#$%&'*+-/=?^_`{|}~@x>", 0, 0, "!#$%&'*+-/=?^_`{|}~@x", 23, "" },
	{ "<\"john doe\"@example.org>", 0, 0, "\"john doe\"@example.org", 24,
	    "q" },
	{ "<\"a\\\"b\\\\c\"@x>", 0, 0, "\"a\\\"b\\\\c\"@x", 13, "q" },
	{ "<\"\"@x>", 0, 0, "\"\"@x", 6, "q" },
	{ "<a@[192.0.2.1]>", 0, 0, "a@[192.0.2.1]", 15, "l" },
	{ "<a@[IPv6:2001:db8::1]>", 0, 0, "a@[IPv6:2001:db8::1]", 22, "l" },
	{ "<a@[ipv6:::1]>", 0, 0, "a@[ipv6:::1]", 14, "l" },
	{ "<a@[x-tag:stuff]>", 0, 0, "a@[x-tag:stuff]", 17, "l" },
	{ "<@r1.example,@r2.example:a@b>", 0, 0, "a@b", 29, "" },
	{ "<>", F_NULL, 0, "", 2, "n" },
	{ "<> BODY=8BITMIME", F_NULL, 0, "", 2, "n" },
	{ "<>", 0, EINVAL, NULL, 0, NULL },
	{ "<Postmaster>", F_PM, 0, "Postmaster", 12, "p" },
	{ "<POSTMASTER>", F_PM, 0, "POSTMASTER", 12, "p" },
	{ "<postmaster>", 0, EINVAL, NULL, 0, NULL },
	{ "<postmaster@x.example>", 0, 0, "postmaster@x.example", 22, "" },
	{ "<j\xc3\xb6rg@b\xc3\xbc\x63her.example>", F_U8, 0,
	    "j\xc3\xb6rg@b\xc3\xbc\x63her.example", 23, "u" },
	{ "<\"\xc3\xb6 x\"@b>", F_U8, 0, "\"\xc3\xb6 x\"@b", 10, "qu" },
	{ "<j\xc3\xb6rg@example>", 0, EILSEQ, NULL, 0, NULL },
	{ "<a@b\xc3\xbc>", 0, EILSEQ, NULL, 0, NULL },
	{ "<j\xc3rg@example>", F_U8, EINVAL, NULL, 0, NULL },
	{ "<\xc0\xaf@example>", F_U8, EINVAL, NULL, 0, NULL },
	{ "<\xed\xa0\x80@example>", F_U8, EINVAL, NULL, 0, NULL },
	{ "a@b", 0, EINVAL, NULL, 0, NULL },
	{ "<a@b", 0, EINVAL, NULL, 0, NULL },
	{ "<a@b>x", 0, 0, "a@b", 5, "" },
	{ "<a>", 0, EINVAL, NULL, 0, NULL },
	{ "<@b>", 0, EINVAL, NULL, 0, NULL },
	{ "<a@>", 0, EINVAL, NULL, 0, NULL },
	{ "<.a@b>", 0, EINVAL, NULL, 0, NULL },
	{ "<a.@b>", 0, EINVAL, NULL, 0, NULL },
	{ "<a..b@c>", 0, EINVAL, NULL, 0, NULL },
	{ "<a b@c>", 0, EINVAL, NULL, 0, NULL },
	{ "<a@b..c>", 0, EINVAL, NULL, 0, NULL },
	{ "<a@b.>", 0, EINVAL, NULL, 0, NULL },
	{ "<a@-b.c>", 0, EINVAL, NULL, 0, NULL },
	{ "<a@b-.c>", 0, EINVAL, NULL, 0, NULL },
	{ "<a@b_c.d>", 0, EINVAL, NULL, 0, NULL },
	{ "<a@[192.0.2.256]>", 0, EINVAL, NULL, 0, NULL },
	{ "<a@[192.0.2]>", 0, EINVAL, NULL, 0, NULL },
	{ "<a@[IPv6:2001:db8::g]>", 0, EINVAL, NULL, 0, NULL },
	{ "<a@[]>", 0, EINVAL, NULL, 0, NULL },
	{ "<a@[tag:]>", 0, EINVAL, NULL, 0, NULL },
	{ "<\"a@b>", 0, EINVAL, NULL, 0, NULL },
	{ "<\"a\tb\"@c>", 0, EINVAL, NULL, 0, NULL },
	{ "<a\"b@c>", 0, EINVAL, NULL, 0, NULL },
	{ "<@r1:>", 0, EINVAL, NULL, 0, NULL },
	{ "<@r1,a@b>", 0, EINVAL, NULL, 0, NULL },
	{ "<a(comment)@b>", 0, EINVAL, NULL, 0, NULL },
};

static void
check_marks(const struct smtp_path *p, const char *marks, size_t row)
{
	if (p->quoted != (strchr(marks, 'q') != NULL) ||
	    p->utf8 != (strchr(marks, 'u') != NULL) ||
	    p->literal != (strchr(marks, 'l') != NULL) ||
	    p->null != (strchr(marks, 'n') != NULL) ||
	    p->postmaster != (strchr(marks, 'p') != NULL))
		fail_msg("row %zu: marks q%d u%d l%d n%d p%d, want '%s'", row,
		    p->quoted, p->utf8, p->literal, p->null, p->postmaster,
		    marks);
}

static void
test_path_parse(void **state)
{
	struct smtp_path p;
	size_t i, used;
	int rc;

	memset(&p, 0, sizeof p);
	for (i = 0; i < N(path_rows); i++) {
		const struct path_row *r = &path_rows[i];

		errno = 0;
		used = 0;
		rc = smtp_path_parse(r->in, strlen(r->in), r->flags, &p,
		    &used);
		if (r->err != 0) {
			if (rc != -1 || errno != r->err)
				fail_msg("row %zu '%s': rc %d errno %d", i,
				    r->in, rc, errno);
			assert_int_equal(p.addr.len, 0);
			continue;
		}
		if (rc != 0)
			fail_msg("row %zu '%s': errno %d", i, r->in, errno);
		assert_string_equal(str_cstr(&p.addr), r->addr);
		assert_int_equal(used, r->used);
		check_marks(&p, r->marks, i);
	}
	smtp_path_free(&p);
}

/* Every prefix of a good path fails cleanly (no read past len). */
static void
test_path_prefixes(void **state)
{
	static const char *const good[] = {
		"<\"a\\\"b\"@[IPv6:2001:db8::1]>", "<@r.x,@s.y:a.b@c.d>",
		"<j\xc3\xb6rg@b\xc3\xbc\x63her.example>"
	};
	struct smtp_path p;
	size_t i, n, used;
	char buf[64];

	memset(&p, 0, sizeof p);
	for (i = 0; i < N(good); i++) {
		for (n = 0; n < strlen(good[i]); n++) {
			memcpy(buf, good[i], n);	/* not NUL-terminated */
			memset(buf + n, '>', sizeof buf - n);
			assert_int_equal(smtp_path_parse(buf, n, F_U8, &p,
			    &used), -1);
		}
		assert_int_equal(smtp_path_parse(good[i], n, F_U8, &p, &used),
		    0);
		assert_int_equal(used, n);
	}
	smtp_path_free(&p);
}

static void
test_path_limits(void **state)
{
	struct smtp_path p;
	struct str s = STR_INIT;
	size_t used, i;

	memset(&p, 0, sizeof p);
	/* 256 bytes with the brackets: the longest path. */
	str_appends(&s, "<a@");
	for (i = 0; i < 3; i++)
		str_appendf(&s, "%063d.", 0);
	while (s.len < 255)
		str_appendc(&s, 'b');
	str_appendc(&s, '>');
	assert_int_equal(s.len, 256);
	assert_int_equal(smtp_path_parse(s.s, s.len, 0, &p, &used), 0);
	str_clear(&s);
	str_appends(&s, "<ab@");
	for (i = 0; i < 3; i++)
		str_appendf(&s, "%063d.", 0);
	while (s.len < 256)
		str_appendc(&s, 'b');
	str_appendc(&s, '>');
	errno = 0;
	assert_int_equal(smtp_path_parse(s.s, s.len, 0, &p, &used), -1);
	assert_int_equal(errno, ENAMETOOLONG);
	/* A label of 64 is too long. */
	str_clear(&s);
	str_appendf(&s, "<a@%064d>", 0);
	assert_int_equal(smtp_path_parse(s.s, s.len, 0, &p, &used), -1);
	str_free(&s);
	smtp_path_free(&p);
}

static void
test_mailrcpt(void **state)
{
	static const struct {
		const char *arg, *kw;
		int flags, ok;
		const char *addr, *params;
	} rows[] = {
		{ "FROM:<a@b>", "FROM:", F_NULL, 1, "a@b", "" },
		{ "from:<a@b> SIZE=10 BODY=8BITMIME", "FROM:", 0, 1, "a@b",
		    " SIZE=10 BODY=8BITMIME" },
		{ "FROM: <a@b>", "FROM:", 0, 1, "a@b", "" },
		{ "FROM:<>", "FROM:", F_NULL, 1, "", "" },
		{ "TO:<Postmaster> NOTIFY=NEVER", "TO:", F_PM, 1, "Postmaster",
		    " NOTIFY=NEVER" },
		{ "TO:<a@b>", "FROM:", 0, 0, NULL, NULL },
		{ "FROM:a@b", "FROM:", 0, 0, NULL, NULL },
		{ "FROM:<a@b>SIZE=1", "FROM:", 0, 0, NULL, NULL },
		{ "FROM", "FROM:", 0, 0, NULL, NULL },
		{ "", "TO:", 0, 0, NULL, NULL },
	};
	struct smtp_path p;
	const char *params;
	size_t i, plen;
	int rc;

	memset(&p, 0, sizeof p);
	for (i = 0; i < N(rows); i++) {
		rc = smtp_mailrcpt_parse(rows[i].arg, strlen(rows[i].arg),
		    rows[i].kw, rows[i].flags, &p, &params, &plen);
		if ((rc == 0) != rows[i].ok)
			fail_msg("row %zu '%s': rc %d", i, rows[i].arg, rc);
		if (rc < 0)
			continue;
		assert_string_equal(str_cstr(&p.addr), rows[i].addr);
		assert_int_equal(plen, strlen(rows[i].params));
		assert_memory_equal(params, rows[i].params, plen);
	}
	smtp_path_free(&p);
}

static void
test_path_local(void **state)
{
	static const struct {
		const char *in, *local, *domain;
	} rows[] = {
		{ "<alice@example.org>", "alice", "example.org" },
		{ "<\"al ice\"@x>", "al ice", "x" },
		{ "<\"a\\\"b\\\\\"@x>", "a\"b\\", "x" },
		{ "<Postmaster>", "Postmaster", "" },
		{ "<>", "", "" },
	};
	struct smtp_path p;
	struct str local = STR_INIT;
	size_t i, used;

	memset(&p, 0, sizeof p);
	for (i = 0; i < N(rows); i++) {
		assert_int_equal(smtp_path_parse(rows[i].in, strlen(rows[i].in),
		    F_NULL | F_PM, &p, &used), 0);
		assert_int_equal(smtp_path_local(&p, &local), 0);
		assert_string_equal(str_cstr(&local), rows[i].local);
		assert_string_equal(smtp_path_domain(&p), rows[i].domain);
	}
	str_free(&local);
	smtp_path_free(&p);
}

static void
test_domains(void **state)
{
	static const struct {
		const char *s;
		int utf8, domain, literal;
	} rows[] = {
		{ "example.org", 0, 1, 0 },
		{ "localhost", 0, 1, 0 },
		{ "a-b.c", 0, 1, 0 },
		{ "1.2.3.4", 0, 1, 0 },	/* LDH labels: syntactically fine */
		{ "b\xc3\xbc\x63her.example", 1, 1, 0 },
		{ "b\xc3\xbc\x63her.example", 0, 0, 0 },
		{ "", 0, 0, 0 },
		{ "a..b", 0, 0, 0 },
		{ ".a", 0, 0, 0 },
		{ "a.", 0, 0, 0 },
		{ "-a", 0, 0, 0 },
		{ "a_b", 0, 0, 0 },
		{ "[192.0.2.1]", 0, 0, 1 },
		{ "[IPv6:::1]", 0, 0, 1 },
		{ "[IPv6:::1", 0, 0, 0 },
		{ "[300.0.0.1]", 0, 0, 0 },
		{ "[tag:x y]", 0, 0, 0 },
		{ "[tag-:x]", 0, 0, 0 },
	};
	size_t i;

	for (i = 0; i < N(rows); i++) {
		if (smtp_domain_valid(rows[i].s, strlen(rows[i].s),
		    rows[i].utf8) != rows[i].domain ||
		    smtp_literal_valid(rows[i].s, strlen(rows[i].s)) !=
		    rows[i].literal)
			fail_msg("row %zu '%s'", i, rows[i].s);
	}
}

static void
test_utf8(void **state)
{
	static const struct {
		const char *s;
		int ok;
	} rows[] = {
		{ "plain", 1 }, { "\xc3\xa9", 1 }, { "\xe2\x82\xac", 1 },
		{ "\xf0\x9f\x98\x80", 1 }, { "\xf4\x8f\xbf\xbf", 1 },
		{ "\xc3", 0 }, { "\xc0\x80", 0 }, { "\xc1\xbf", 0 },
		{ "\xe0\x80\xaf", 0 }, { "\xed\xa0\x80", 0 },
		{ "\xf0\x80\x80\xaf", 0 }, { "\xf4\x90\x80\x80", 0 },
		{ "\xf5\x80\x80\x80", 0 }, { "\x80", 0 }, { "\xff", 0 },
		{ "\xe2\x82", 0 },
	};
	size_t i;

	for (i = 0; i < N(rows); i++)
		if (smtp_utf8_valid(rows[i].s, strlen(rows[i].s)) !=
		    rows[i].ok)
			fail_msg("row %zu", i);
}

static void
test_params(void **state)
{
	static const struct {
		const char *in;
		int utf8;
		const char *want;	/* "K=V;K;" or NULL for an error */
	} rows[] = {
		{ "", 0, "" },
		{ " SIZE=100", 0, "SIZE=100;" },
		{ " SIZE=100  BODY=8BITMIME SMTPUTF8", 0,
		    "SIZE=100;BODY=8BITMIME;SMTPUTF8;" },
		{ " X-FOO-1=a+b/c", 0, "X-FOO-1=a+b/c;" },
		{ " ORCPT=rfc822;a@b", 0, "ORCPT=rfc822;a@b;" },
		{ " SIZE=", 0, NULL },
		{ " =x", 0, NULL },
		{ " -X=1", 0, NULL },
		{ " SI_ZE=1", 0, NULL },
		{ " A=b=c", 0, NULL },
		{ " A=\x01", 0, NULL },
		{ " A=\xc3\xa9", 0, NULL },
		{ " A=\xc3\xa9", 1, "A=\xc3\xa9;" },
		{ " A=\xc3", 1, NULL },
	};
	struct smtp_param par;
	struct str got = STR_INIT;
	const char *p, *end;
	size_t i;
	int r;

	for (i = 0; i < N(rows); i++) {
		str_clear(&got);
		p = rows[i].in;
		end = p + strlen(p);
		while ((r = smtp_param_next(&p, end, rows[i].utf8, &par)) == 1) {
			str_append(&got, par.key, par.keylen);
			if (par.val != NULL) {
				str_appendc(&got, '=');
				str_append(&got, par.val, par.vallen);
			}
			str_appendc(&got, ';');
		}
		if (rows[i].want == NULL) {
			if (r != -1)
				fail_msg("row %zu: no error", i);
			continue;
		}
		if (r != 0)
			fail_msg("row %zu '%s': error", i, rows[i].in);
		assert_string_equal(str_cstr(&got), rows[i].want);
	}
	p = " body=binarymime";
	assert_int_equal(smtp_param_next(&p, p + strlen(p), 0, &par), 1);
	assert_true(smtp_param_is(&par, "BODY"));
	assert_false(smtp_param_is(&par, "BOD"));
	str_free(&got);
}

static void
test_numbers(void **state)
{
	static const struct {
		const char *s;
		int err;
		unsigned long long n;
	} rows[] = {
		{ "0", 0, 0 }, { "1000", 0, 1000 },
		{ "18446744073709551615", 0, 18446744073709551615ULL },
		{ "18446744073709551616", ERANGE, 0 },
		{ "99999999999999999999", ERANGE, 0 },
		{ "000000000000000000001", ERANGE, 0 },
		{ "", EINVAL, 0 }, { "1a", EINVAL, 0 }, { "-1", EINVAL, 0 },
		{ " 1", EINVAL, 0 },
	};
	unsigned long long n;
	size_t i;
	int rc;

	for (i = 0; i < N(rows); i++) {
		errno = 0;
		rc = smtp_parse_ulong(rows[i].s, strlen(rows[i].s), &n);
		if (rows[i].err) {
			if (rc != -1 || errno != rows[i].err)
				fail_msg("row %zu '%s'", i, rows[i].s);
		} else {
			assert_int_equal(rc, 0);
			assert_true(n == rows[i].n);
		}
	}
}

static void
test_bdat(void **state)
{
	static const struct {
		const char *arg;
		int ok;
		unsigned long long size;
		int last;
	} rows[] = {
		{ "0", 1, 0, 0 }, { "0 LAST", 1, 0, 1 }, { "86 last", 1, 86, 1 },
		{ "1000000", 1, 1000000, 0 }, { "", 0, 0, 0 }, { "x", 0, 0, 0 },
		{ "10 LAST x", 0, 0, 0 }, { "10  LAST", 0, 0, 0 },
		{ "10 FIRST", 0, 0, 0 }, { "-1", 0, 0, 0 },
		{ "99999999999999999999", 0, 0, 0 },
	};
	unsigned long long size;
	size_t i;
	int last, rc;

	for (i = 0; i < N(rows); i++) {
		rc = smtp_bdat_parse(rows[i].arg, strlen(rows[i].arg), &size,
		    &last);
		if ((rc == 0) != rows[i].ok)
			fail_msg("row %zu '%s'", i, rows[i].arg);
		if (rc == 0) {
			assert_true(size == rows[i].size);
			assert_int_equal(last, rows[i].last);
		}
	}
}

static void
test_dsn_values(void **state)
{
	static const struct {
		const char *s;
		int ok;
		const char *canon;
	} notify[] = {
		{ "NEVER", 1, "NEVER" }, { "success", 1, "SUCCESS" },
		{ "DELAY,FAILURE,SUCCESS", 1, "SUCCESS,FAILURE,DELAY" },
		{ "FAILURE", 1, "FAILURE" }, { "NEVER,SUCCESS", 0, NULL },
		{ "SUCCESS,SUCCESS", 0, NULL }, { "SUCCESS,", 0, NULL },
		{ ",SUCCESS", 0, NULL }, { "", 0, NULL }, { "SOMETIMES", 0, NULL },
	};
	static const struct {
		const char *s;
		int utf8, ok;
	} orcpt[] = {
		{ "rfc822;a@b", 0, 1 }, { "RFC822;a+2Bb@c", 0, 1 },
		{ "rfc822;", 0, 0 }, { ";a@b", 0, 0 }, { "rfc822 a@b", 0, 0 },
		{ "rfc822;a+2xb", 0, 0 }, { "rfc822;a=b", 0, 0 },
		{ "utf-8;j\xc3\xb6rg@x", 1, 1 }, { "utf-8;j\xc3\xb6rg@x", 0, 0 },
		{ "rfc822;j\xc3\xb6rg@x", 1, 0 },
		{ "utf-8;j\\x{F6}rg@x", 0, 1 },
	};
	static const struct {
		const char *s;
		int ok;
	} envid[] = {
		{ "QQ314159", 1 }, { "a+2Bb", 1 }, { "a+0Ab", 0 }, { "a b", 0 },
		{ "", 0 }, { "a+2b", 0 },
	};
	struct str out = STR_INIT;
	enum smtp_ret ret;
	enum smtp_body body;
	unsigned bits;
	size_t i;

	for (i = 0; i < N(notify); i++) {
		int rc = smtp_notify_parse(notify[i].s, strlen(notify[i].s),
		    &bits);

		if ((rc == 0) != notify[i].ok)
			fail_msg("notify row %zu", i);
		if (rc == 0) {
			str_clear(&out);
			assert_int_equal(smtp_notify_format(bits, &out), 0);
			assert_string_equal(out.s, notify[i].canon);
		}
	}
	for (i = 0; i < N(orcpt); i++)
		if (smtp_orcpt_valid(orcpt[i].s, strlen(orcpt[i].s),
		    orcpt[i].utf8) != orcpt[i].ok)
			fail_msg("orcpt row %zu", i);
	for (i = 0; i < N(envid); i++)
		if (smtp_envid_valid(envid[i].s, strlen(envid[i].s)) !=
		    envid[i].ok)
			fail_msg("envid row %zu", i);
	str_clear(&out);
	while (out.len < 101)
		str_appendc(&out, 'x');
	assert_false(smtp_envid_valid(out.s, 101));
	assert_true(smtp_envid_valid(out.s, 100));
	assert_int_equal(smtp_ret_parse("hdrs", 4, &ret), 0);
	assert_int_equal(ret, SMTP_RET_HDRS);
	assert_int_equal(smtp_ret_parse("FULL", 4, &ret), 0);
	assert_int_equal(ret, SMTP_RET_FULL);
	assert_int_equal(smtp_ret_parse("FUL", 3, &ret), -1);
	assert_int_equal(smtp_body_parse("binarymime", 10, &body), 0);
	assert_int_equal(body, SMTP_BODY_BINARYMIME);
	assert_string_equal(smtp_body_name(body), "BINARYMIME");
	assert_int_equal(smtp_body_parse("8BIT", 4, &body), -1);
	str_free(&out);
}

static void
test_xtext(void **state)
{
	static const struct {
		const char *enc, *dec;
	} rows[] = {
		{ "abc", "abc" }, { "a+2Bb", "a+b" }, { "a+3Db", "a=b" },
		{ "+20", " " }, { "+00+FF", "\0\xff" }, { "", "" },
	};
	static const char *const bad[] = {
		"a+", "a+2", "+2b", "+GG", "a b", "a=b", "\x7f", "\xc3\xa9",
	};
	struct str out = STR_INIT, enc = STR_INIT;
	size_t i, dlen;
	unsigned c;
	char byte;

	for (i = 0; i < N(rows); i++) {
		dlen = i == 4 ? 2 : strlen(rows[i].dec);
		str_clear(&out);
		assert_int_equal(smtp_xtext_decode(rows[i].enc,
		    strlen(rows[i].enc), &out), 0);
		assert_int_equal(out.len, dlen);
		assert_memory_equal(out.s ? out.s : "", rows[i].dec, dlen);
		str_clear(&enc);
		assert_int_equal(smtp_xtext_encode(rows[i].dec, dlen, &enc), 0);
		assert_string_equal(str_cstr(&enc), rows[i].enc);
	}
	for (i = 0; i < N(bad); i++) {
		str_clear(&out);
		str_appends(&out, "keep");
		errno = 0;
		assert_int_equal(smtp_xtext_decode(bad[i], strlen(bad[i]),
		    &out), -1);
		assert_int_equal(errno, EINVAL);
		assert_string_equal(out.s, "keep");	/* restored */
		assert_false(smtp_xtext_valid(bad[i], strlen(bad[i])));
	}
	/* Every byte survives the round trip. */
	for (c = 0; c < 256; c++) {
		byte = (char)c;
		str_clear(&enc);
		str_clear(&out);
		assert_int_equal(smtp_xtext_encode(&byte, 1, &enc), 0);
		assert_true(smtp_xtext_valid(enc.s, enc.len));
		assert_int_equal(smtp_xtext_decode(enc.s, enc.len, &out), 0);
		assert_int_equal(out.len, 1);
		assert_int_equal((unsigned char)out.s[0], c);
	}
	str_free(&out);
	str_free(&enc);
}

static void
test_enhanced(void **state)
{
	static const struct {
		const char *s;
		int ok;
	} rows[] = {
		{ "2.0.0", 1 }, { "5.1.1", 1 }, { "4.7.0", 1 }, { "5.123.456", 1 },
		{ "3.0.0", 0 }, { "5.1", 0 }, { "5.1.", 0 }, { "5..1", 0 },
		{ "5.1234.1", 0 }, { "5.1.1 ", 0 }, { "", 0 }, { "x.1.1", 0 },
	};
	size_t i;

	for (i = 0; i < N(rows); i++)
		if (smtp_enhanced_valid(rows[i].s, strlen(rows[i].s)) !=
		    rows[i].ok)
			fail_msg("row %zu '%s'", i, rows[i].s);
}

static void
test_reply_format(void **state)
{
	static const struct {
		int code;
		const char *enh, *text, *want;
	} rows[] = {
		{ 250, "2.0.0", "Ok", "250 2.0.0 Ok\r\n" },
		{ 220, NULL, "host ESMTP", "220 host ESMTP\r\n" },
		{ 250, "", "a\nb\nc", "250-a\r\n250-b\r\n250 c\r\n" },
		{ 550, "5.1.1", "x\ty\rz", "550 5.1.1 x?y?z\r\n" },
		{ 451, "4.3.0", "one\ntwo", "451-4.3.0 one\r\n451 4.3.0 two\r\n" },
	};
	static const struct {
		int code;
		const char *enh;
	} bad[] = {
		{ 199, NULL }, { 600, NULL }, { 250, "5.0.0" }, { 550, "5.0" },
		{ 550, "5.0.0.0" },
	};
	struct str out = STR_INIT;
	size_t i;

	for (i = 0; i < N(rows); i++) {
		str_clear(&out);
		assert_int_equal(smtp_reply_format(&out, rows[i].code,
		    rows[i].enh, rows[i].text), 0);
		assert_string_equal(out.s, rows[i].want);
	}
	for (i = 0; i < N(bad); i++) {
		str_clear(&out);
		assert_int_equal(smtp_reply_format(&out, bad[i].code,
		    bad[i].enh, "x"), -1);
		assert_int_equal(out.len, 0);
	}
	/* Long text is cut so that the line fits 512 bytes. */
	str_clear(&out);
	{
		char big[2000];

		memset(big, 'x', sizeof big - 1);
		big[sizeof big - 1] = '\0';
		assert_int_equal(smtp_reply_format(&out, 554, "5.6.0", big), 0);
		assert_int_equal(out.len, SMTP_REPLY_LINE_MAX);
		assert_memory_equal(out.s + out.len - 2, "\r\n", 2);
	}
	str_free(&out);
}

static void
test_reply_parse(void **state)
{
	static const struct {
		const char *line;
		int ok, code, more;
		const char *enh, *text;
	} rows[] = {
		{ "250 2.0.0 Ok", 1, 250, 0, "2.0.0", "Ok" },
		{ "250-PIPELINING", 1, 250, 1, NULL, "PIPELINING" },
		{ "552 5.3.4 message too big", 1, 552, 0, "5.3.4",
		    "message too big" },
		{ "550 2.0.0 odd", 1, 550, 0, NULL, "2.0.0 odd" },
		{ "421", 1, 421, 0, NULL, "" },
		{ "452 4.3.1", 1, 452, 0, "4.3.1", "" },
		{ "25", 0, 0, 0, NULL, NULL },
		{ "250x", 0, 0, 0, NULL, NULL },
		{ "650 x", 0, 0, 0, NULL, NULL },
		{ "ok 123", 0, 0, 0, NULL, NULL },
	};
	struct smtp_reply r;
	size_t i;
	int rc;

	for (i = 0; i < N(rows); i++) {
		rc = smtp_reply_parse(rows[i].line, strlen(rows[i].line), &r);
		if ((rc == 0) != rows[i].ok)
			fail_msg("row %zu '%s'", i, rows[i].line);
		if (rc < 0)
			continue;
		assert_int_equal(r.code, rows[i].code);
		assert_int_equal(r.more, rows[i].more);
		if (rows[i].enh == NULL)
			assert_null(r.enh);
		else {
			assert_int_equal(r.enhlen, strlen(rows[i].enh));
			assert_memory_equal(r.enh, rows[i].enh, r.enhlen);
		}
		assert_int_equal(r.textlen, strlen(rows[i].text));
		assert_memory_equal(r.text, rows[i].text, r.textlen);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cmd_parse),
		cmocka_unit_test(test_path_parse),
		cmocka_unit_test(test_path_prefixes),
		cmocka_unit_test(test_path_limits),
		cmocka_unit_test(test_mailrcpt),
		cmocka_unit_test(test_path_local),
		cmocka_unit_test(test_domains),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_bdat),
		cmocka_unit_test(test_dsn_values),
		cmocka_unit_test(test_xtext),
		cmocka_unit_test(test_enhanced),
		cmocka_unit_test(test_reply_format),
		cmocka_unit_test(test_reply_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
