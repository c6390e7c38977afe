/* SPDX-License-Identifier: ISC */
/* Unit tests for lib/maildir: name parsing, flags, unique names. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "maildir.h"

static const struct {
	const char *name;
	int ok;
	size_t base_len;
	unsigned flags;
	int has_uid;
	uint32_t uid;
	uint64_t s, w;
} name_cases[] = {
	{ "1.M2P3Q4.host,S=10,W=12,U=7:2,FS", 1, 27, MAIL_FLAGGED | MAIL_SEEN, 1, 7, 10, 12 },
	{ "1.M2P3Q4.host", 1, 13, 0, 0, 0, 0, 0 },
	{ "1.M2P3Q4.host:2,", 1, 13, 0, 0, 0, 0, 0 },
	{ "1.M2P3Q4.host:2,DFPRST", 1, 13, MAIL_DRAFT | MAIL_FLAGGED | MAIL_PASSED | MAIL_ANSWERED | MAIL_SEEN | MAIL_DELETED, 0, 0, 0, 0 },
	{ "1.M2P3Q4.host:2,Sab", 1, 13, MAIL_SEEN, 0, 0, 0, 0 },
	{ "1.x,U=0,S=abc", 1, 13, 0, 0, 0, 0, 0 },
	{ "1.x:1,S", 1, 3, 0, 0, 0, 0, 0 },	/* experimental info: no flags */
	{ ".hidden", 0, 0, 0, 0, 0, 0, 0 },
	{ "", 0, 0, 0, 0, 0, 0, 0 },
	{ ":2,S", 0, 0, 0, 0, 0, 0, 0 },
	{ "a/b", 0, 0, 0, 0, 0, 0, 0 },
};

static void
test_name_parse(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(name_cases) / sizeof(name_cases[0]); i++) {
		struct maildir_name mn;
		int r = maildir_name_parse(name_cases[i].name, &mn);

		if (!name_cases[i].ok) {
			assert_int_equal(r, -1);
			continue;
		}
		assert_int_equal(r, 0);
		assert_int_equal(mn.base_len, name_cases[i].base_len);
		assert_int_equal(maildir_name_flags(name_cases[i].name, &mn),
		    name_cases[i].flags);
		assert_int_equal(mn.has_uid, name_cases[i].has_uid);
		if (mn.has_uid)
			assert_int_equal(mn.uid, name_cases[i].uid);
		if (name_cases[i].s) {
			assert_true(mn.has_s && mn.has_w);
			assert_int_equal(mn.s_size, name_cases[i].s);
			assert_int_equal(mn.w_size, name_cases[i].w);
		}
	}
}

static void
test_name_with_flags(void **state)
{
	struct str s = STR_INIT;

	assert_int_equal(maildir_name_with_flags(&s, "BASE", 4,
	    MAIL_SEEN | MAIL_DRAFT | MAIL_ANSWERED, "Sxa"), 0);
	assert_string_equal(s.s, "BASE:2,DRSax");
	str_clear(&s);
	assert_int_equal(maildir_name_with_flags(&s, "BASE", 4, 0, NULL), 0);
	assert_string_equal(s.s, "BASE:2,");
	str_free(&s);
}

static void
test_base_new(void **state)
{
	struct str a = STR_INIT, b = STR_INIT;
	struct maildir_name mn;

	assert_int_equal(maildir_base_new(&a, "h/o:s,t", 1, 100, 105, 9), 0);
	assert_int_equal(maildir_base_new(&b, "h/o:s,t", 2, 100, 105, 0), 0);
	assert_string_not_equal(a.s, b.s);
	assert_non_null(strstr(a.s, ".h\\057o\\072s\\054t,S=100,W=105,U=9"));
	assert_null(strchr(a.s, '/'));
	assert_null(strchr(a.s, ':'));
	assert_int_equal(maildir_name_parse(a.s, &mn), 0);
	assert_int_equal(mn.uid, 9);
	assert_int_equal(mn.w_size, 105);
	assert_int_equal(maildir_name_parse(b.s, &mn), 0);
	assert_false(mn.has_uid);
	str_free(&a);
	str_free(&b);
}

static void
test_create_exists(void **state)
{
	char dir[] = "/tmp/zest-test-md.XXXXXX";
	struct str p = STR_INIT;

	assert_non_null(mkdtemp(dir));
	str_appendf(&p, "%s/box", dir);
	assert_int_equal(maildir_exists(p.s), 0);
	assert_int_equal(maildir_create(p.s, 0700), 0);
	assert_int_equal(maildir_exists(p.s), 1);
	assert_int_equal(maildir_create(p.s, 0700), 0);	/* again: fine */
	str_clear(&p);
	str_appendf(&p, "rm -rf %s", dir);
	assert_int_equal(system(p.s), 0);
	str_free(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_parse),
		cmocka_unit_test(test_name_with_flags),
		cmocka_unit_test(test_base_new),
		cmocka_unit_test(test_create_exists),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
