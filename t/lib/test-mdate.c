/* SPDX-License-Identifier: ISC */
/* Unit tests for lib/mdate: RFC 5322 dates with the obsolete forms, the
 * day arithmetic against timegm(3), and IMAP date-time text. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <time.h>

#include "mdate.h"

static void
ok(const char *s, int y, int m, int d, int zone, int64_t utc)
{
	struct mdate md;

	if (mdate_parse(s, strlen(s), &md) != 0)
		fail_msg("not parsed: %s", s);
	assert_int_equal(md.year, y);
	assert_int_equal(md.month, m);
	assert_int_equal(md.day, d);
	assert_int_equal(md.zone, zone);
	assert_int_equal(md.utc, utc);
}

static void
test_parse(void **state)
{
	(void)state;
	/* 1996-07-17 09:44:25 UTC = 837596665 */
	ok("Wed, 17 Jul 1996 02:44:25 -0700", 1996, 7, 17, -420, 837596665);
	ok("17 Jul 1996 09:44:25 +0000", 1996, 7, 17, 0, 837596665);
	ok("Wed,17 Jul 1996 09:44:25 GMT", 1996, 7, 17, 0, 837596665);
	ok("Wed, 17 Jul 96 05:44:25 EDT", 1996, 7, 17, -240, 837596665);
	ok("Wed (day), 17 (x) Jul 1996 09:44 (no seconds) +0000 (UTC)",
	    1996, 7, 17, 0, 837596640);
	ok("1 Jan 2020 00:00:00 +0100", 2020, 1, 1, 60, 1577833200);
	ok("1-Jan-2020 00:00:00 +0100", 2020, 1, 1, 60, 1577833200);
	ok("Sat, 1 Jan 05 12:00:00 Z", 2005, 1, 1, 0, 1104580800);
	ok("Sat, 1 Jan 105 12:00:00 z", 2005, 1, 1, 0, 1104580800);
	ok("29 Feb 2024 23:59:60 +1345", 2024, 2, 29, 825,
	    1709251200 - 825 * 60);
}

static void
test_bad(void **state)
{
	static const char *const bad[] = {
		"", "garbage", "17 Jul", "17 Foo 1996 09:44:25 +0000",
		"17 Jul 1996 24:00:00 +0000", "17 Jul 1996 09:44:25",
		"17 Jul 1996 09:44:25 +07", "17 Jul 1996 09:44:25 +0000 x",
		"171 Jul 1996 09:44:25 +0000", "17 Jul 1996 09:44:25 +0099",
		"17 Jul 1996 09:44:25 XYZ", "0 Jul 1996 09:44:25 +0000",
	};
	struct mdate md;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (mdate_parse(bad[i], strlen(bad[i]), &md) == 0)
			fail_msg("parsed: %s", bad[i]);
}

static void
test_days(void **state)
{
	int64_t t;

	(void)state;
	assert_int_equal(mdate_days(1970, 1, 1), 0);
	assert_int_equal(mdate_days(1969, 12, 31), -1);
	assert_int_equal(mdate_days(2000, 3, 1), 11017);
	/* every day for 150 years against timegm */
	for (t = -(int64_t)40 * 365 * 86400; t < (int64_t)110 * 365 * 86400;
	    t += 86400 - 7) {
		time_t tt = (time_t)t;
		struct tm tm;

		gmtime_r(&tt, &tm);
		assert_int_equal(mdate_days(tm.tm_year + 1900, tm.tm_mon + 1,
		    tm.tm_mday), mdate_day_of(t, 0));
	}
	/* a zone moves the day */
	assert_int_equal(mdate_day_of(86400 - 60, 0), 0);
	assert_int_equal(mdate_day_of(86400 - 60, 60), 1);
	assert_int_equal(mdate_day_of(30, -60), -1);
}

static void
test_imap(void **state)
{
	char buf[MDATE_IMAP_MAX];

	(void)state;
	mdate_imap(837596665, -420, buf);
	assert_string_equal(buf, "17-Jul-1996 02:44:25 -0700");
	mdate_imap(1577833200, 60, buf);
	assert_string_equal(buf, " 1-Jan-2020 00:00:00 +0100");
	mdate_imap(0, 0, buf);
	assert_string_equal(buf, " 1-Jan-1970 00:00:00 +0000");
	mdate_imap(1709251200 - 825 * 60 - 1, 825, buf);
	assert_string_equal(buf, "29-Feb-2024 23:59:59 +1345");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_days),
		cmocka_unit_test(test_imap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
