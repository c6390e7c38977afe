/* SPDX-License-Identifier: ISC */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "fs.h"
#include "str.h"

static const struct conf_key keys[] = {
	{ "name", CONF_STRING, "dflt", 0, 0 },
	{ "count", CONF_UINT, "5", 1, 100 },
	{ "big", CONF_UINT, NULL, 0, 0 },
	{ "flag", CONF_BOOL, "no", 0, 0 },
	{ "dir", CONF_PATH, "sub", 0, 0 },
	{ "size", CONF_SIZE, "1k", 0, 1ULL << 32 },
	{ "wait", CONF_DURATION, "30s", 1, 86400 },
	{ "opt", CONF_STRING, NULL, 0, 0 },
	{ NULL, CONF_STRING, NULL, 0, 0 }
};

/* Parse text as "test.conf" in /etc/x; returns the conf or NULL with the
 * message in err. */
static struct conf *
parse(const char *text, size_t len, struct str *err)
{
	struct conf *c = (struct conf *)1;

	str_clear(err);
	if (conf_parse("test.conf", "/etc/x", text, len, keys, &c, err) < 0) {
		assert_null(c);
		return NULL;
	}
	assert_non_null(c);
	return c;
}

static void
test_bad(void **state)
{
	static const struct {
		const char *text;
		const char *err;	/* the whole message */
	} cases[] = {
		{ "foo = 1\n", "test.conf:1: unknown key 'foo'" },
		{ "# c\n\nname\n", "test.conf:3: missing '='" },
		{ "name = a\nname = b\n",
		    "test.conf:2: duplicate key 'name' (first set at line 1)" },
		{ "count = 0", "test.conf:1: value out of range for key "
		    "'count' (1..100)" },
		{ "count = 101", "test.conf:1: value out of range for key "
		    "'count' (1..100)" },
		{ "big = 99999999999999999999",
		    "test.conf:1: value out of range for key 'big' "
		    "(0..18446744073709551615)" },
		{ "big = 18446744073709551616",
		    "test.conf:1: value out of range for key 'big' "
		    "(0..18446744073709551615)" },
		{ "count = abc", "test.conf:1: invalid number for key 'count'" },
		{ "count = -1", "test.conf:1: invalid number for key 'count'" },
		{ "count = 1 2", "test.conf:1: invalid number for key 'count'" },
		{ "count =", "test.conf:1: invalid number for key 'count'" },
		{ "count = 5k", "test.conf:1: invalid number for key 'count'" },
		{ "size = 5T", "test.conf:1: invalid number for key 'size'" },
		{ "size = 5kk", "test.conf:1: invalid number for key 'size'" },
		{ "size = k", "test.conf:1: invalid number for key 'size'" },
		{ "size = 5G", "test.conf:1: value out of range for key 'size' "
		    "(0..4294967296)" },
		{ "size = 17179869184G", "test.conf:1: value out of range for "
		    "key 'size' (0..4294967296)" },
		{ "wait = 0", "test.conf:1: value out of range for key 'wait' "
		    "(1..86400)" },
		{ "wait = 2d", "test.conf:1: value out of range for key 'wait' "
		    "(1..86400)" },
		{ "wait = 5x", "test.conf:1: invalid number for key 'wait'" },
		{ "flag = maybe", "test.conf:1: invalid boolean for key 'flag'" },
		{ "flag =", "test.conf:1: invalid boolean for key 'flag'" },
		{ "\n\n = x", "test.conf:3: missing key before '='" },
		{ "Name = x", "test.conf:1: unknown key 'Name'" },
		{ "name = ok\n  count = 7\nnope\n", "test.conf:3: missing '='" },
	};
	struct str err = STR_INIT;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_null(parse(cases[i].text, strlen(cases[i].text), &err));
		if (strcmp(err.s, cases[i].err) != 0)
			fail_msg("case %zu: got '%s', want '%s'", i, err.s,
			    cases[i].err);
	}
	str_free(&err);
}

static void
test_bad_bytes(void **state)
{
	struct str err = STR_INIT, text = STR_INIT;
	static const char nul[] = "name = a\0b\n";
	struct conf *c;
	size_t i;

	assert_null(parse(nul, sizeof nul - 1, &err));
	assert_string_equal(err.s, "test.conf:1: NUL byte in line");
	/* a line of exactly CONF_LINE_MAX bytes is fine, one more is not */
	assert_int_equal(str_appends(&text, "# comment\nname = "), 0);
	for (i = strlen("name = "); i < CONF_LINE_MAX; i++)
		str_appendc(&text, 'v');
	c = parse(text.s, text.len, &err);
	assert_non_null(c);
	conf_free(&c);
	str_appendc(&text, 'v');
	assert_null(parse(text.s, text.len, &err));
	assert_string_equal(err.s, "test.conf:2: line too long (max 4096 "
	    "bytes)");
	/* a long unknown key is cut in the message */
	str_clear(&text);
	for (i = 0; i < 200; i++)
		str_appendc(&text, 'k');
	str_appends(&text, " = 1");
	assert_null(parse(text.s, text.len, &err));
	assert_int_equal(err.len, strlen("test.conf:1: unknown key ''") + 80);
	str_free(&err);
	str_free(&text);
}

static void
test_values(void **state)
{
	static const char text[] =
	    "# a comment\n"
	    "   # an indented comment\n"
	    "\n"
	    "  name   =   hello world = x  \r\n"
	    "count=42\n"
	    "flag = YES\n"
	    "\t dir = /abs/path\n"
	    "size = 2M\n"
	    "wait = 2h";
	struct str err = STR_INIT;
	struct conf *c;

	c = parse(text, sizeof text - 1, &err);
	assert_non_null(c);
	assert_string_equal(conf_str(c, "name"), "hello world = x");
	assert_int_equal(conf_num(c, "count"), 42);
	assert_string_equal(conf_str(c, "count"), "42");
	assert_int_equal(conf_bool(c, "flag"), 1);
	assert_string_equal(conf_str(c, "dir"), "/abs/path");
	assert_int_equal(conf_num(c, "size"), 2 * 1024 * 1024);
	assert_int_equal(conf_num(c, "wait"), 7200);
	assert_true(conf_isset(c, "name"));
	/* unset without default */
	assert_null(conf_str(c, "opt"));
	assert_null(conf_str(c, "big"));
	assert_int_equal(conf_num(c, "big"), 0);
	assert_false(conf_isset(c, "opt"));
	/* not in the table */
	assert_null(conf_str(c, "nosuch"));
	assert_int_equal(conf_num(c, "nosuch"), 0);
	assert_false(conf_bool(c, "nosuch"));
	assert_string_equal(conf_dir(c), "/etc/x");
	conf_free(&c);
	assert_null(c);
	conf_free(&c);
	str_free(&err);
}

static void
test_defaults(void **state)
{
	struct str err = STR_INIT;
	struct conf *c = parse("", 0, &err);

	assert_non_null(c);
	assert_string_equal(conf_str(c, "name"), "dflt");
	assert_int_equal(conf_num(c, "count"), 5);
	assert_int_equal(conf_bool(c, "flag"), 0);
	/* a relative default resolves like a value */
	assert_string_equal(conf_str(c, "dir"), "/etc/x/sub");
	assert_int_equal(conf_num(c, "size"), 1024);
	assert_int_equal(conf_num(c, "wait"), 30);
	assert_false(conf_isset(c, "name"));
	conf_free(&c);
	str_free(&err);
}

static void
test_units(void **state)
{
	static const struct {
		const char *line;
		const char *key;
		unsigned long long want;
	} cases[] = {
		{ "size = 0", "size", 0 }, { "size = 7", "size", 7 },
		{ "size = 3k", "size", 3072 }, { "size = 3K", "size", 3072 },
		{ "size = 1m", "size", 1048576 },
		{ "size = 4G", "size", 4294967296ULL },
		{ "wait = 45", "wait", 45 }, { "wait = 10s", "wait", 10 },
		{ "wait = 2m", "wait", 120 }, { "wait = 1d", "wait", 86400 },
		{ "count = 100", "count", 100 }, { "count = 007", "count", 7 },
		{ "big = 18446744073709551615", "big", 18446744073709551615ULL },
		{ "flag = true", "flag", 1 }, { "flag = On", "flag", 1 },
		{ "flag = 1", "flag", 1 }, { "flag = no", "flag", 0 },
		{ "flag = FALSE", "flag", 0 }, { "flag = off", "flag", 0 },
		{ "flag = 0", "flag", 0 },
	};
	struct str err = STR_INIT;
	struct conf *c;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		c = parse(cases[i].line, strlen(cases[i].line), &err);
		if (c == NULL)
			fail_msg("case %zu: %s", i, err.s);
		if (conf_num(c, cases[i].key) != cases[i].want)
			fail_msg("case %zu: got %llu", i,
			    conf_num(c, cases[i].key));
		conf_free(&c);
	}
	str_free(&err);
}

static void
test_paths(void **state)
{
	struct str err = STR_INIT;
	struct conf *c;

	c = parse("dir = a/b", 9, &err);
	assert_non_null(c);
	assert_string_equal(conf_str(c, "dir"), "/etc/x/a/b");
	conf_free(&c);
	c = parse("dir =", 5, &err);
	assert_non_null(c);
	assert_string_equal(conf_str(c, "dir"), "");
	conf_free(&c);
	str_free(&err);
}

static void
test_bad_default(void **state)
{
	static const struct conf_key bad[] = {
		{ "n", CONF_UINT, "12x", 0, 0 },
		{ NULL, CONF_STRING, NULL, 0, 0 }
	};
	struct str err = STR_INIT;
	struct conf *c;

	assert_int_equal(conf_parse("d.conf", "/", "", 0, bad, &c, &err), -1);
	assert_null(c);
	assert_string_equal(err.s, "d.conf: invalid number for key 'n' (in "
	    "the default of 'n')");
	str_free(&err);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void
test_load(void **state)
{
	char dir[] = "/tmp/test-conf.XXXXXX", cwd[4096];
	struct str p = STR_INIT, err = STR_INIT, big = STR_INIT;
	struct conf *c;

	assert_non_null(mkdtemp(dir));
	str_appendf(&p, "%s/z.conf", dir);
	assert_int_equal(fs_write_atomic(p.s, "name = n\ndir = mail\n", 20,
	    0600), 0);
	assert_int_equal(conf_load(p.s, keys, &c, &err), 0);
	assert_string_equal(conf_str(c, "name"), "n");
	str_clear(&big);
	str_appendf(&big, "%s/mail", dir);
	assert_string_equal(conf_str(c, "dir"), big.s);
	conf_free(&c);
	/* a relative file name resolves against the working directory */
	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_int_equal(chdir(dir), 0);
	assert_int_equal(conf_load("z.conf", keys, &c, &err), 0);
	assert_string_equal(conf_str(c, "dir"), big.s);
	conf_free(&c);
	assert_int_equal(chdir(cwd), 0);
	/* errors name the path given */
	assert_int_equal(fs_write_atomic(p.s, "\ncount = 200\n", 13, 0600), 0);
	assert_int_equal(conf_load(p.s, keys, &c, &err), -1);
	str_clear(&big);
	str_appendf(&big, "%s:2: value out of range for key 'count' "
	    "(1..100)", p.s);
	assert_string_equal(err.s, big.s);
	/* too large a file */
	str_clear(&big);
	while (big.len <= CONF_FILE_MAX)
		str_appends(&big, "# filler filler filler filler\n");
	assert_int_equal(fs_write_atomic(p.s, big.s, big.len, 0600), 0);
	assert_int_equal(conf_load(p.s, keys, &c, &err), -1);
	assert_non_null(strstr(err.s, ": file too large (max 1048576 bytes)"));
	/* missing file */
	assert_int_equal(unlink(p.s), 0);
	assert_int_equal(conf_load(p.s, keys, &c, &err), -1);
	assert_non_null(strstr(err.s, "z.conf: No such file or directory"));
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	str_free(&p);
	str_free(&err);
	str_free(&big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_bad_bytes),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_units),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_bad_default),
		cmocka_unit_test(test_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
