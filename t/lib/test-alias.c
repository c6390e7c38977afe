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

#include "alias.h"
#include "str.h"

/* The aliases of the tests (keys lower-case, as the table folds them). */
static const char *const table[][2] = {
	{ "postmaster", "alice" },
	{ "list", "alice, bob,carol@remote.example , <dave@Other.Example>" },
	{ "team@example.org", "bob" },
	{ "team", "carol" },
	{ "nested", "list, team" },
	{ "self", "self, bob" },
	{ "ping", "pong" },
	{ "pong", "ping" },
	{ "deep0", "deep1" }, { "deep1", "deep2" }, { "deep2", "deep3" },
	{ "deep3", "deep4" }, { "deep4", "deep5" }, { "deep5", "deep6" },
	{ "deep6", "deep7" }, { "deep7", "deep8" }, { "deep8", "deep9" },
	{ "deep9", "deep10" }, { "deep10", "deep11" },
	{ "ok9", "deep2" },
	{ "pipe", "bob, |/bin/sh" },
	{ "file", "/tmp/x" },
	{ "incl", ":include:/etc/x" },
	{ "empty", " , ," },
	{ "bad", "a@" },
	{ "diamond", "d1, d2" },
	{ "d1", "bob" },
	{ "d2", "bob, alice" },
	{ "broken", "bob, ioerror" },
	{ "many", "m1, m2, m3" },
	{ "m1", "a1, a2" }, { "m2", "a3, a4" }, { "m3", "a5" },
	{ NULL, NULL }
};

static int
lookup(void *arg, const char *key, struct str *value_r)
{
	size_t i;

	str_clear(value_r);
	if (strcmp(key, "ioerror") == 0) {
		errno = EINVAL;	/* must still come out as EIO */
		return -1;
	}
	for (i = 0; table[i][0] != NULL; i++)
		if (strcmp(table[i][0], key) == 0)
			return str_appends(value_r, table[i][1]) == 0 ? 1 : -1;
	return 0;
}

static int
is_local(void *arg, const char *domain)
{
	if (strcmp(domain, "fail.example") == 0) {
		errno = ENOENT;	/* must come out as EIO */
		return -1;
	}
	return strcmp(domain, "example.org") == 0 ||
	    strcmp(domain, "other.example") == 0;
}

static const struct alias_ctx ctx = { lookup, is_local, NULL,
    "example.org", 4 };

/* Expansions: the address, 1/0 alias or not, and the targets as
 * "addr[/L local][/A aliased][/S self]" joined by ' '. */
static void
test_expand(void **state)
{
	static const struct {
		const char *addr;
		int alias;
		const char *targets;
	} cases[] = {
		{ "alice", 0, "alice@example.org/L" },
		{ "Alice@Example.ORG", 0, "alice@example.org/L" },
		{ "Carol@Remote.Example", 0, "Carol@remote.example" },
		{ "postmaster", 1, "alice@example.org/L/A" },
		{ "POSTMASTER@other.example", 1, "alice@example.org/L/A" },
		{ "list", 1, "alice@example.org/L/A bob@example.org/L/A "
		    "carol@remote.example/A dave@other.example/L/A" },
		{ "team@example.org", 1, "bob@example.org/L/A" },
		{ "team@other.example", 1, "carol@example.org/L/A" },
		{ "nested", 1, "alice@example.org/L/A bob@example.org/L/A "
		    "carol@remote.example/A dave@other.example/L/A" },
		{ "self", 1, "self@example.org/L/A/S bob@example.org/L/A" },
		{ "ping", 1, "ping@example.org/L/A/S" },
		{ "ok9", 1, "deep11@example.org/L/A" },
		{ "diamond", 1, "bob@example.org/L/A alice@example.org/L/A" },
		{ "team@remote.example", 0, "team@remote.example" },
	};
	struct alias_list l = { 0 };
	struct str err = STR_INIT, got = STR_INIT;
	size_t i, j;
	int r;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct alias_ctx c = ctx;

		c.max_targets = 0;
		r = alias_expand(&c, cases[i].addr, &l, &err);
		if (r != cases[i].alias)
			fail_msg("case %zu %s: %d %s", i, cases[i].addr, r,
			    str_cstr(&err));
		str_clear(&got);
		for (j = 0; j < l.n; j++)
			str_appendf(&got, "%s%s%s%s%s", j ? " " : "",
			    l.t[j].addr, l.t[j].local ? "/L" : "",
			    l.t[j].aliased ? "/A" : "", l.t[j].self ? "/S" :
			    "");
		if (strcmp(str_cstr(&got), cases[i].targets) != 0)
			fail_msg("case %zu %s: got '%s'", i, cases[i].addr,
			    str_cstr(&got));
	}
	alias_list_free(&l);
	str_free(&err);
	str_free(&got);
}

static void
test_errors(void **state)
{
	static const struct {
		const char *addr;
		int err;
		const char *msg;
	} cases[] = {
		{ "deep0", ELOOP, "aliases nested more than 10 deep" },
		{ "pipe", EINVAL, "alias pipe@example.org: program and file" },
		{ "file", EINVAL, "alias file@example.org: program and file" },
		{ "incl", EINVAL, "alias incl@example.org: program and file" },
		{ "empty", EINVAL, "alias empty@example.org has no targets" },
		{ "bad", EINVAL, "alias bad@example.org: invalid target 'a@'" },
		{ "broken", EIO, "aliases: looking up ioerror@example.org: "
		    "Invalid argument" },
		{ "many", E2BIG, "alias expands to more than 4 addresses" },
		{ "", EINVAL, "invalid address ''" },
		{ "@x", EINVAL, "invalid address" },
		{ "x@", EINVAL, "invalid address" },
		{ "a\nb", EINVAL, "invalid address" },
		{ "x@fail.example", EIO, "x@fail.example: " },
	};
	struct alias_list l = { 0 };
	struct str err = STR_INIT;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		errno = 0;
		if (alias_expand(&ctx, cases[i].addr, &l, &err) != -1)
			fail_msg("case %zu expanded", i);
		assert_int_equal(errno, cases[i].err);
		assert_int_equal(l.n, 0);
		if (strncmp(str_cstr(&err), cases[i].msg,
		    strlen(cases[i].msg)) != 0)
			fail_msg("case %zu: '%s'", i, str_cstr(&err));
	}
	alias_list_free(&l);
	str_free(&err);
}

static void
test_canon(void **state)
{
	struct str out = STR_INIT;

	assert_int_equal(alias_canon(&ctx, "Bob", &out), 1);
	assert_string_equal(out.s, "bob@example.org");
	assert_int_equal(alias_canon(&ctx, "Bob@X.Example", &out), 0);
	assert_string_equal(out.s, "Bob@x.example");
	assert_int_equal(alias_canon(&ctx, "\"a@b\"@Other.Example", &out), 1);
	assert_string_equal(out.s, "\"a@b\"@other.example");
	str_free(&out);
}

static void
test_seen(void **state)
{
	static const char msg[] =
	    "Received: from a\r\n\tby b\r\n"
	    "Delivered-To: Alice@Example.org\r\n"
	    "delivered-to:\r\n <bob@example.org>\r\n"
	    "Subject: x\r\n"
	    "Received: from c\r\n"
	    "\r\n"
	    "Delivered-To: carol@example.org\r\n";
	struct alias_seen s = { 0 };

	assert_int_equal(alias_seen_scan(&s, msg, sizeof msg - 1), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.hops, 4);
	assert_string_equal(s.addr[0], "alice@example.org");
	assert_string_equal(s.addr[1], "bob@example.org");
	assert_int_equal(alias_seen_has(&s, "ALICE@example.org"), 1);
	assert_int_equal(alias_seen_has(&s, "bob@example.org"), 1);
	assert_int_equal(alias_seen_has(&s, "carol@example.org"), 0);
	/* LF only, no body, cut in the middle of a field */
	assert_int_equal(alias_seen_scan(&s, "Delivered-To: x@y\nDeliv", 23),
	    0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.hops, 1);
	assert_int_equal(alias_seen_scan(&s, "\r\nDelivered-To: x@y\r\n", 21),
	    0);
	assert_int_equal(s.n, 0);
	alias_seen_free(&s);
	assert_null(s.addr);
}

/* Only ALIAS_SEEN_MAX addresses are kept, but all count as hops. */
static void
test_seen_many(void **state)
{
	struct str m = STR_INIT;
	struct alias_seen s = { 0 };
	unsigned i;

	for (i = 0; i < ALIAS_SEEN_MAX + 10; i++)
		str_appendf(&m, "Delivered-To: u%u@x\n", i);
	assert_int_equal(alias_seen_scan(&s, m.s, m.len), 0);
	assert_int_equal(s.n, ALIAS_SEEN_MAX);
	assert_int_equal(s.hops, ALIAS_SEEN_MAX + 10);
	alias_seen_free(&s);
	str_free(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expand),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_canon),
		cmocka_unit_test(test_seen),
		cmocka_unit_test(test_seen_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
