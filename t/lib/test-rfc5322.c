/* SPDX-License-Identifier: ISC */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rfc5322.h"
#include "str.h"

/* One address list element as "name|route|mailbox|host", groups as
 * "[name" and "]", elements joined by ", ". */
static void
render(const struct rfc5322_addrlist *l, struct str *out)
{
	const struct rfc5322_addr *a;
	size_t k;

	for (k = 0; k < l->n; k++) {
		a = &l->v[k];
		if (k > 0)
			assert_int_equal(str_appends(out, ", "), 0);
		switch (a->kind) {
		case RFC5322_ADDR_GROUP_START:
			assert_int_equal(str_appendf(out, "[%s",
			    str_cstr(&a->name)), 0);
			break;
		case RFC5322_ADDR_GROUP_END:
			assert_int_equal(str_appends(out, "]"), 0);
			break;
		case RFC5322_ADDR_MAILBOX:
			assert_int_equal(str_appendf(out, "%s|%s|%s|%s",
			    str_cstr(&a->name), str_cstr(&a->route),
			    str_cstr(&a->mailbox), str_cstr(&a->host)), 0);
			break;
		}
	}
}

struct addr_case {
	const char *in;
	const char *want;
};

static const struct addr_case addr_cases[] = {
	{ "", "" },
	{ "   ", "" },
	{ "a@b.example", "||a|b.example" },
	{ "Mary Smith <mary@x.test>", "Mary Smith||mary|x.test" },
	{ "\"Joe Q. Public\" <john.q.public@example.com>",
	  "Joe Q. Public||john.q.public|example.com" },
	{ "John Q. Public <jqp@example.com>",
	  "John Q. Public||jqp|example.com" },
	{ "\"Joe\"   \"Q.\"\tPublic <j@e.x>", "Joe Q. Public||j|e.x" },
	{ "<boss@nil.test>, "
	  "\"Giant; \\\"Big\\\" Box\" <sysservices@example.net>",
	  "||boss|nil.test, Giant; \"Big\" Box||sysservices|example.net" },
	/* comments: ignored, or the name when there is no display name */
	{ "Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
	  "Pete||pete|silly.test" },
	{ "pete@silly.test (Peter Smith)", "Peter Smith||pete|silly.test" },
	{ "(Boss) boss@x.test", "Boss||boss|x.test" },
	{ "a@b.test (A (nested) one), c@d.test",
	  "A (nested) one||a|b.test, ||c|d.test" },
	{ "<a@b.test> (After)", "After||a|b.test" },
	{ "x@y.test ()", "||x|y.test" },
	/* quoted local parts, obsolete forms, literals */
	{ "\"john doe\"@example.com", "||john doe|example.com" },
	{ "\"a\\\"b\"@example.com", "||a\"b|example.com" },
	{ "john . doe @ example . com", "||john.doe|example.com" },
	{ "root@[192.0.2.1]", "||root|[192.0.2.1]" },
	{ "<@r1.example,@r2.example:joe@final.example>",
	  "|@r1.example,@r2.example|joe|final.example" },
	{ "Joe <@r1.example:joe@final.example>",
	  "Joe|@r1.example|joe|final.example" },
	{ "<,@r1.example,,@r2.example:joe@x.example>",
	  "|@r1.example,@r2.example|joe|x.example" },
	/* groups */
	{ "Undisclosed recipients:;", "[Undisclosed recipients, ]" },
	{ "A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;",
	  "[A Group, Ed Jones||c|a.test, ||joe|where.test, "
	  "John||jdoe|one.test, ]" },
	{ "g: a@b.test; , x@y.test", "[g, ||a|b.test, ], ||x|y.test" },
	{ "open: a@b.test", "[open, ||a|b.test, ]" },
	{ "g1: a@b.test, g2: c@d.test; e@f.test",
	  "[g1, ||a|b.test, ], ||e|f.test" },
	{ "; a@b.test", "||a|b.test" },
	{ ":; a@b.test", "[, ], ||a|b.test" },
	/* missing pieces */
	{ "local-only", "||local-only|MISSING_DOMAIN" },
	{ "@host.example", "||MISSING_MAILBOX|host.example" },
	{ "Name <user>", "Name||user|MISSING_DOMAIN" },
	{ "<>", "" },
	{ "Empty <>, a@b.test", "||a|b.test" },
	{ "<a@b.test", "||a|b.test" },
	{ "a@", "||a|MISSING_DOMAIN" },
	/* garbage is skipped up to the next comma */
	{ "<<<>>>, ok@x.test", "||ok|x.test" },
	{ "a@b.test junk junk, c@d.test", "||a|b.test, ||c|d.test" },
	{ "<a@b.test, c@d.test>", "||a|b.test, ||c|d.test" },
	{ "<,a@b.test>, c@d.test", "||c|d.test" },
	{ "a@b..test", "||a|b..test" },
	{ "<@r1.example a@b.test>, z@z.test", "||z|z.test" },
	{ ")]>, a@b.test", "||a|b.test" },
	{ "a@b.test,,,c@d.test,", "||a|b.test, ||c|d.test" },
	{ "\"unterminated <a@b.test>", "||unterminated <a@b.test>|"
	  "MISSING_DOMAIN" },
	{ "x@y.test (unterminated", "unterminated||x|y.test" },
	/* encoded-words and 8-bit stay raw */
	{ "=?ISO-8859-1?Q?Andr=E9?= Pirard <p@vm.example>",
	  "=?ISO-8859-1?Q?Andr=E9?= Pirard||p|vm.example" },
	{ "\xe5\xb1\xb1\xe7\x94\xb0 <t@e.jp>",
	  "\xe5\xb1\xb1\xe7\x94\xb0||t|e.jp" },
	{ "\xe7\x94\xa8\xe6\x88\xb7@example.cn",
	  "||\xe7\x94\xa8\xe6\x88\xb7|example.cn" },
};

static void
test_addresses(void **state)
{
	struct rfc5322_addrlist l = RFC5322_ADDRLIST_INIT;
	struct str out = STR_INIT;
	size_t k, bad = 0;

	(void)state;
	for (k = 0; k < sizeof(addr_cases) / sizeof(addr_cases[0]); k++) {
		assert_int_equal(rfc5322_addresses(addr_cases[k].in,
		    strlen(addr_cases[k].in), 100, &l), 0);
		render(&l, &out);
		if (strcmp(str_cstr(&out), addr_cases[k].want) != 0) {
			print_error("case %zu: \"%s\": got \"%s\", "
			    "want \"%s\"\n", k, addr_cases[k].in,
			    str_cstr(&out), addr_cases[k].want);
			bad++;
		}
		assert_int_equal(l.truncated, 0);
		rfc5322_addrlist_free(&l);
		assert_null(l.v);
		str_clear(&out);
	}
	str_free(&out);
	assert_int_equal(bad, 0);
}

static void
test_addresses_nul(void **state)
{
	static const char in[] = "a\0b@x.test, c@d\0e.test";
	struct rfc5322_addrlist l = RFC5322_ADDRLIST_INIT;

	(void)state;
	assert_int_equal(rfc5322_addresses(in, sizeof(in) - 1, 10, &l), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.v[0].mailbox.len, 3);
	assert_memory_equal(l.v[0].mailbox.s, "a\0b", 3);
	assert_int_equal(l.v[1].host.len, 8);
	assert_memory_equal(l.v[1].host.s, "d\0e.test", 8);
	rfc5322_addrlist_free(&l);
}

static void
test_addresses_max(void **state)
{
	struct rfc5322_addrlist l = RFC5322_ADDRLIST_INIT;
	struct str out = STR_INIT;
	const char *in = "a@x.test, b@x.test, c@x.test, d@x.test";
	const char *grp = "g: a@x.test, b@x.test, c@x.test;";

	(void)state;
	assert_int_equal(rfc5322_addresses(in, strlen(in), 2, &l), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.truncated, 1);
	rfc5322_addrlist_free(&l);
	assert_int_equal(l.truncated, 0);
	/* a group cut short is still closed */
	assert_int_equal(rfc5322_addresses(grp, strlen(grp), 2, &l), 0);
	render(&l, &out);
	assert_string_equal(str_cstr(&out), "[g, ||a|x.test, ]");
	assert_int_equal(l.truncated, 1);
	rfc5322_addrlist_free(&l);
	/* appending to a list keeps what is there */
	assert_int_equal(rfc5322_addresses("a@b.c", 5, 5, &l), 0);
	assert_int_equal(rfc5322_addresses("d@e.f", 5, 5, &l), 0);
	assert_int_equal(l.n, 2);
	rfc5322_addrlist_free(&l);
	str_free(&out);
}

static void
test_addresses_many(void **state)
{
	struct rfc5322_addrlist l = RFC5322_ADDRLIST_INIT;
	struct str in = STR_INIT;
	size_t k;

	(void)state;
	for (k = 0; k < 5000; k++)
		assert_int_equal(str_appendf(&in, "u%zu@h.example, ", k), 0);
	assert_int_equal(rfc5322_addresses(in.s, in.len, 4000, &l), 0);
	assert_int_equal(l.n, 4000);
	assert_int_equal(l.truncated, 1);
	assert_string_equal(str_cstr(&l.v[3999].mailbox), "u3999");
	rfc5322_addrlist_free(&l);
	str_free(&in);
}

struct unfold_case {
	const char *in;
	const char *want;
};

static const struct unfold_case unfold_cases[] = {
	{ "", "" },
	{ "abc", "abc" },
	{ "a\r\n b", "a b" },
	{ "a\n\tb", "a\tb" },
	{ "a\r\n  b\r\n\tc\r\n", "a  b\tc" },
	{ "a\r\nb", "a\r\nb" },		/* not a fold */
	{ "a\rb", "a\rb" },
	{ "a\n", "a" },
	{ "a\r\n", "a" },
	{ "a\r\n\r\n b", "a\r\n b" },
};

static void
test_unfold(void **state)
{
	struct str out = STR_INIT;
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(unfold_cases) / sizeof(unfold_cases[0]); k++) {
		str_clear(&out);
		assert_int_equal(rfc5322_unfold(unfold_cases[k].in,
		    strlen(unfold_cases[k].in), &out), 0);
		assert_string_equal(str_cstr(&out), unfold_cases[k].want);
	}
	/* the maximum of the output buffer is an error */
	str_free(&out);
	str_init(&out, 3);
	assert_int_equal(rfc5322_unfold("abcd\r\n e", 9, &out), -1);
	assert_int_equal(errno, E2BIG);
	str_free(&out);
}

static void
test_field_name(void **state)
{
	size_t v = 0;

	(void)state;
	assert_int_equal(rfc5322_field_name("Subject: x", 10, &v), 7);
	assert_int_equal(v, 8);
	assert_int_equal(rfc5322_field_name("Subject \t: x", 12, &v), 7);
	assert_int_equal(v, 10);
	assert_int_equal(rfc5322_field_name("X:", 2, &v), 1);
	assert_int_equal(v, 2);
	assert_int_equal(rfc5322_field_name(": x", 3, &v), 0);
	assert_int_equal(rfc5322_field_name("Subject x", 9, &v), 0);
	assert_int_equal(rfc5322_field_name("Sub ject: x", 11, &v), 0);
	assert_int_equal(rfc5322_field_name("Sub\x01ject: x", 11, &v), 0);
	assert_int_equal(rfc5322_field_name("Subj\xe9: x", 8, &v), 0);
	assert_int_equal(rfc5322_field_name("", 0, &v), 0);
	assert_int_equal(rfc5322_field_name("Subject", 7, &v), 0);
	assert_int_equal(rfc5322_field_is("subJECT: x", 10, "Subject", &v),
	    1);
	assert_int_equal(v, 8);
	assert_int_equal(rfc5322_field_is("Subjects: x", 11, "Subject", &v),
	    0);
	assert_int_equal(rfc5322_field_is("Subjec: x", 9, "Subject", &v), 0);
	assert_int_equal(rfc5322_field_is("To : a", 6, "to", &v), 1);
	assert_int_equal(v, 4);
}

static void
test_lexical(void **state)
{
	struct str out = STR_INIT;
	const char *s, *q;
	size_t n, i;

	(void)state;
	s = " \t(a (b) \\) c)\r\n x";
	assert_int_equal(rfc5322_skip_cfws(s, strlen(s), 0), strlen(s) - 1);
	assert_int_equal(rfc5322_skip_cfws("x", 1, 0), 0);
	assert_int_equal(rfc5322_skip_cfws("(open", 5, 0), 5);
	assert_int_equal(rfc5322_skip_cfws("ab", 2, 2), 2);

	q = "\"a\\\"b\\\\c\" rest";
	i = 0;
	assert_int_equal(rfc5322_quoted(q, strlen(q), &i, &out), 0);
	assert_string_equal(str_cstr(&out), "a\"b\\c");
	assert_int_equal(i, 9);
	str_clear(&out);
	i = 0;
	assert_int_equal(rfc5322_quoted("\"open\\", 6, &i, &out), 0);
	assert_string_equal(str_cstr(&out), "open\\");
	assert_int_equal(i, 6);
	i = 0;
	assert_int_equal(rfc5322_quoted("\"skip\"", 6, &i, NULL), 0);
	assert_int_equal(i, 6);

	s = " \r\n\tvalue \t\r\n";
	n = strlen(s);
	rfc5322_trim(&s, &n);
	assert_int_equal(n, 5);
	assert_memory_equal(s, "value", 5);
	s = "   ";
	n = 3;
	rfc5322_trim(&s, &n);
	assert_int_equal(n, 0);
	str_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_addresses_nul),
		cmocka_unit_test(test_addresses_max),
		cmocka_unit_test(test_addresses_many),
		cmocka_unit_test(test_unfold),
		cmocka_unit_test(test_field_name),
		cmocka_unit_test(test_lexical),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
