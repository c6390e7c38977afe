/* SPDX-License-Identifier: ISC */
#ifndef ZEST_MDATE_H
#define ZEST_MDATE_H

/*
 * mdate: message dates.  Parsing the Date: field (RFC 5322 3.3 with the
 * obsolete forms of 4.3: two- and three-digit years, zone names, missing
 * seconds or day name, comments), and the calendar arithmetic IMAP needs
 * without touching the process's time zone: days since the epoch for
 * SEARCH's BEFORE/ON/SINCE, and INTERNALDATE text.
 */

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct mdate {
	int year, month, day;	/* as written: month 1..12 */
	int hour, min, sec;
	int zone;		/* minutes east of UTC as written */
	int64_t utc;		/* seconds since the epoch */
};

/* Parse an RFC 5322 date-time (the value of a Date: field).  Returns 0,
 * or -1 with errno EINVAL when it is not one. */
int mdate_parse(const char *s, size_t n, struct mdate *d_r);

/* Days since 1970-01-01 of a calendar date (proleptic Gregorian). */
int64_t mdate_days(int year, int month, int day);

/* The calendar date of t shifted by zone minutes: *days_r as mdate_days
 * gives. */
int64_t mdate_day_of(int64_t t, int zone);

/* Write t as an IMAP date-time ("17-Jul-1996 02:44:25 -0700", RFC 3501
 * date-time without the quotes) in the zone given (minutes east of UTC)
 * into buf (at least MDATE_IMAP_MAX bytes). */
#define MDATE_IMAP_MAX 32
void mdate_imap(int64_t t, int zone, char *buf);

/* The local time zone's offset at t in minutes east of UTC. */
int mdate_local_zone(int64_t t);

#endif
