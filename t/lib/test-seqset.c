/* SPDX-License-Identifier: ISC */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "seqset.h"
#include "str.h"

/* Parse, resolve against max and format back. */
static void
check_norm(const char *in, uint32_t max, const char *want)
{
	struct seqset set = SEQSET_INIT;
	struct str out = STR_INIT;

	assert_int_equal(seqset_parse(&set, in, strlen(in), 0), 0);
	assert_int_equal(seqset_resolve(&set, max), 0);
	assert_int_equal(seqset_format(&out, &set), 0);
	assert_string_equal(str_cstr(&out), want);
	seqset_free(&set);
	str_free(&out);
}

static void
test_parse_valid(void **state)
{
	static const struct {
		const char *in;
		uint32_t max;
		const char *norm;
	} rows[] = {
		{ "1", 10, "1" },
		{ "1:3", 10, "1:3" },
		{ "5:2", 10, "2:5" },		/* reversed range */
		{ "2,4:7,9,12:*", 15, "2,4:7,9,12:15" },	/* RFC 3501 */
		{ "*:4,5:7", 10, "4:10" },	/* RFC 3501 example */
		{ "*", 42, "42" },
		{ "1:*", 42, "1:42" },
		{ "*:1", 42, "1:42" },
		{ "3,2,1", 10, "1:3" },		/* sorted, merged */
		{ "1:5,3:9", 10, "1:9" },	/* overlapping */
		{ "1:2,3:4", 10, "1:4" },	/* adjacent */
		{ "7,7,7", 10, "7" },
		{ "4294967295", 10, "4294967295" },
		{ "1:4294967295", 10, "1:4294967295" },
		{ "10:*", 5, "5:10" },		/* * below the range */
		{ "*", 0, "" },			/* empty mailbox */
		{ "1:*", 0, "1" },
		{ "0001", 5, "1" },		/* leading zeros are digits */
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		assert_true(seqset_valid(rows[i].in, strlen(rows[i].in)));
		check_norm(rows[i].in, rows[i].max, rows[i].norm);
	}
}

static void
test_parse_invalid(void **state)
{
	static const char *const bad[] = {
		"", "0", "1:0", "0:1", ",", "1,", ",1", "1::2", "1:", ":1",
		"a", "1 2", "1,,2", "4294967296", "99999999999999999999",
		"1:4294967296", "-1", "+1", "1.2", "**", "1*", "*1", "$",
		"1:2:3", " 1",
	};
	struct seqset set = SEQSET_INIT;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		assert_int_equal(seqset_parse(&set, bad[i], strlen(bad[i]), 0),
		    -1);
		assert_int_equal(errno, EINVAL);
		assert_int_equal(set.n, 0);
		assert_false(seqset_valid(bad[i], strlen(bad[i])));
	}
	/* Not NUL-terminated: only len bytes are looked at. */
	assert_int_equal(seqset_parse(&set, "12,x", 2, 0), 0);
	assert_int_equal(set.n, 1);
	assert_int_equal(set.r[0].lo, 12);
	seqset_free(&set);
}

static void
test_max_ranges(void **state)
{
	struct seqset set = SEQSET_INIT;

	assert_int_equal(seqset_parse(&set, "1,2,3", 5, 3), 0);
	assert_int_equal(set.n, 3);
	errno = 0;
	assert_int_equal(seqset_parse(&set, "1,2,3,4", 7, 3), -1);
	assert_int_equal(errno, E2BIG);
	assert_int_equal(set.n, 0);
	seqset_free(&set);
}

static void
test_star(void **state)
{
	struct seqset set = SEQSET_INIT;

	assert_int_equal(seqset_parse(&set, "3,9:*", 5, 0), 0);
	assert_true(seqset_has_star(&set));
	assert_int_equal(seqset_max(&set, 4), 9);
	assert_int_equal(seqset_max(&set, 20), 20);
	assert_int_equal(set.r[1].hi, SEQSET_STAR);
	seqset_resolve(&set, 20);
	assert_false(seqset_has_star(&set));
	assert_int_equal(seqset_count(&set), 13);
	seqset_free(&set);
}

static void
test_contains(void **state)
{
	struct seqset set = SEQSET_INIT;
	const char *in = "2,4:7,9,12:*,100:90";

	assert_int_equal(seqset_parse(&set, in, strlen(in), 0), 0);
	seqset_resolve(&set, 15);
	assert_false(seqset_contains(&set, 0));
	assert_false(seqset_contains(&set, 1));
	assert_true(seqset_contains(&set, 2));
	assert_false(seqset_contains(&set, 3));
	assert_true(seqset_contains(&set, 4));
	assert_true(seqset_contains(&set, 7));
	assert_false(seqset_contains(&set, 8));
	assert_true(seqset_contains(&set, 9));
	assert_true(seqset_contains(&set, 15));
	assert_false(seqset_contains(&set, 16));
	assert_false(seqset_contains(&set, 89));
	assert_true(seqset_contains(&set, 90));
	assert_true(seqset_contains(&set, 100));
	assert_false(seqset_contains(&set, 101));
	assert_false(seqset_contains(&set, UINT32_MAX));
	seqset_free(&set);
}

static void
test_huge_is_cheap(void **state)
{
	struct seqset set = SEQSET_INIT;
	struct seqset_iter it;
	uint32_t x = 0, n = 0;

	assert_int_equal(seqset_parse(&set, "1:4294967295", 12, 0), 0);
	seqset_resolve(&set, 7);
	assert_int_equal(set.n, 1);	/* one range, nothing expanded */
	assert_int_equal(seqset_count(&set), 4294967295ULL);
	assert_true(seqset_contains(&set, 4000000000u));
	/* The last numbers come out without wrapping round. */
	seqset_clear(&set);
	seqset_add(&set, 4294967293u, 4294967295u);
	seqset_resolve(&set, 0);
	seqset_iter_init(&it, &set);
	while (seqset_iter_next(&it, &x))
		n++;
	assert_int_equal(n, 3);
	assert_int_equal(x, 4294967295u);
	seqset_free(&set);
}

static void
test_iter(void **state)
{
	struct seqset set = SEQSET_INIT;
	struct seqset_iter it;
	const uint32_t want[] = { 1, 2, 3, 5, 8, 9, 10 };
	uint32_t x;
	size_t n = 0;

	assert_int_equal(seqset_parse(&set, "10:8,5,3:1", 10, 0), 0);
	seqset_resolve(&set, 10);
	seqset_iter_init(&it, &set);
	while (seqset_iter_next(&it, &x)) {
		assert_true(n < sizeof(want) / sizeof(want[0]));
		assert_int_equal(x, want[n]);
		n++;
	}
	assert_int_equal(n, 7);
	assert_int_equal(seqset_iter_next(&it, &x), 0);
	/* The empty set. */
	seqset_clear(&set);
	seqset_iter_init(&it, &set);
	assert_int_equal(seqset_iter_next(&it, &x), 0);
	seqset_free(&set);
}

static void
test_format_list(void **state)
{
	static const struct {
		uint32_t nums[10];
		size_t n;
		const char *want;
	} rows[] = {
		{ { 0 }, 0, "" },
		{ { 1 }, 1, "1" },
		{ { 1, 2, 3, 5, 7, 8, 9 }, 7, "1:3,5,7:9" },
		{ { 4, 5 }, 2, "4:5" },
		{ { 3, 1, 2 }, 3, "3,1:2" },	/* order kept (COPYUID) */
		{ { 5, 5 }, 2, "5,5" },
		{ { 4294967294u, 4294967295u }, 2, "4294967294:4294967295" },
		{ { 4294967295u, 1 }, 2, "4294967295,1" },
	};
	struct str out = STR_INIT;
	uint32_t zero[2] = { 1, 0 };
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		str_clear(&out);
		assert_int_equal(seqset_format_list(&out, rows[i].nums,
		    rows[i].n), 0);
		assert_string_equal(str_cstr(&out), rows[i].want);
	}
	errno = 0;
	assert_int_equal(seqset_format_list(&out, zero, 2), -1);
	assert_int_equal(errno, EINVAL);
	str_free(&out);
}

static void
test_add_resolve(void **state)
{
	struct seqset set = SEQSET_INIT;
	struct str out = STR_INIT;
	uint32_t i;

	/* Search results collected one by one, out of order. */
	for (i = 100; i >= 1; i--)
		if (i % 10 != 0)
			assert_int_equal(seqset_add(&set, i, i), 0);
	seqset_resolve(&set, 100);
	assert_int_equal(set.n, 10);
	assert_int_equal(seqset_count(&set), 90);
	assert_int_equal(seqset_format(&out, &set), 0);
	assert_string_equal(str_cstr(&out), "1:9,11:19,21:29,31:39,41:49,"
	    "51:59,61:69,71:79,81:89,91:99");
	/* An unresolved set cannot be formatted. */
	seqset_add(&set, 200, 200);
	assert_int_equal(seqset_format(&out, &set), -1);
	seqset_free(&set);
	str_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_valid),
		cmocka_unit_test(test_parse_invalid),
		cmocka_unit_test(test_max_ranges),
		cmocka_unit_test(test_star),
		cmocka_unit_test(test_contains),
		cmocka_unit_test(test_huge_is_cheap),
		cmocka_unit_test(test_iter),
		cmocka_unit_test(test_format_list),
		cmocka_unit_test(test_add_resolve),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
