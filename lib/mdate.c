/* SPDX-License-Identifier: ISC */
/*
 * mdate: RFC 5322 dates and the calendar arithmetic IMAP needs.  See
 * mdate.h.  Hand-written because strptime(3) depends on the locale and
 * cannot take the obsolete forms; days_from_civil is the usual
 * era-based formula, so no table of month lengths is needed.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mdate.h"

static const char months[12][4] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

int64_t
mdate_days(int year, int month, int day)
{
	int64_t y = year - (month <= 2);
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t mp = (month + 9) % 12;
	int64_t doy = (153 * mp + 2) / 5 + day - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

/* The calendar date of days since the epoch. */
static void
civil(int64_t z, int *y_r, int *m_r, int *d_r)
{
	int64_t era, doe, yoe, doy, mp, y;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d_r = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m_r = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y_r = (int)(y + (*m_r <= 2));
}

int64_t
mdate_day_of(int64_t t, int zone)
{
	int64_t s = t + (int64_t)zone * 60;

	return (s >= 0 ? s : s - 86399) / 86400;
}

void
mdate_imap(int64_t t, int zone, char *buf)
{
	int64_t s = t + (int64_t)zone * 60, days, rem;
	int y, m, d, az = zone < 0 ? -zone : zone;

	days = mdate_day_of(t, zone);
	rem = s - days * 86400;
	civil(days, &y, &m, &d);
	snprintf(buf, MDATE_IMAP_MAX, "%2d-%s-%04d %02d:%02d:%02d %c%02d%02d",
	    d, months[m - 1], y, (int)(rem / 3600), (int)(rem / 60 % 60),
	    (int)(rem % 60), zone < 0 ? '-' : '+', az / 60, az % 60);
}

int
mdate_local_zone(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (localtime_r(&tt, &tm) == NULL)
		return 0;
	return (int)(tm.tm_gmtoff / 60);
}

/* ------------------------------------------------------------ parser */

struct scan {
	const char *s;
	size_t n, i;
};

/* Skip blanks, line ends and (nested) comments. */
static void
skip_cfws(struct scan *c)
{
	int depth = 0;

	while (c->i < c->n) {
		char ch = c->s[c->i];

		if (depth > 0 && ch == '\\' && c->i + 1 < c->n) {
			c->i += 2;
			continue;
		}
		if (ch == '(')
			depth++;
		else if (ch == ')' && depth > 0)
			depth--;
		else if (depth == 0 && ch != ' ' && ch != '\t' && ch != '\r' &&
		    ch != '\n')
			return;
		c->i++;
	}
}

/* A run of digits (at most max): its value and length (0: none). */
static size_t
number(struct scan *c, size_t max, int *v_r)
{
	size_t len = 0;
	int v = 0;

	while (c->i < c->n && len < max && isdigit((unsigned char)c->s[c->i])) {
		v = v * 10 + (c->s[c->i] - '0');
		c->i++;
		len++;
	}
	if (len > 0 && c->i < c->n && isdigit((unsigned char)c->s[c->i]))
		return 0;	/* longer than allowed */
	*v_r = v;
	return len;
}

/* A run of letters into w (at most size-1). */
static size_t
word(struct scan *c, char *w, size_t size)
{
	size_t len = 0;

	while (c->i < c->n && isalpha((unsigned char)c->s[c->i])) {
		if (len + 1 < size)
			w[len] = c->s[c->i];
		len++;
		c->i++;
	}
	w[len < size ? len : size - 1] = '\0';
	return len;
}

/* RFC 5322 4.3 zone names; military letters mean "unknown" (-0000). */
static int
zone_name(const char *w, int *zone_r)
{
	static const struct {
		const char *name;
		int minutes;
	} zones[] = {
		{ "UT", 0 }, { "GMT", 0 }, { "Z", 0 },
		{ "EST", -300 }, { "EDT", -240 }, { "CST", -360 },
		{ "CDT", -300 }, { "MST", -420 }, { "MDT", -360 },
		{ "PST", -480 }, { "PDT", -420 },
	};
	size_t i;

	for (i = 0; i < sizeof(zones) / sizeof(zones[0]); i++)
		if (strcasecmp(w, zones[i].name) == 0) {
			*zone_r = zones[i].minutes;
			return 0;
		}
	if (strlen(w) == 1) {
		*zone_r = 0;
		return 0;
	}
	return -1;
}

int
mdate_parse(const char *s, size_t n, struct mdate *d_r)
{
	struct scan c = { s, n, 0 };
	char w[16];
	int v, m;
	size_t len;

	memset(d_r, 0, sizeof(*d_r));
	skip_cfws(&c);
	/* optional day name and comma */
	if (c.i < n && isalpha((unsigned char)s[c.i])) {
		word(&c, w, sizeof(w));
		skip_cfws(&c);
		if (c.i < n && s[c.i] == ',')
			c.i++;
		skip_cfws(&c);
	}
	if (number(&c, 2, &d_r->day) == 0)
		goto bad;
	skip_cfws(&c);
	if (c.i < n && s[c.i] == '-')	/* "1-Jan-2020", seen in the wild */
		c.i++;
	if (word(&c, w, sizeof(w)) < 3)
		goto bad;
	w[3] = '\0';
	for (m = 0; m < 12; m++)
		if (strcasecmp(w, months[m]) == 0)
			break;
	if (m == 12)
		goto bad;
	d_r->month = m + 1;
	skip_cfws(&c);
	if (c.i < n && s[c.i] == '-')
		c.i++;
	len = number(&c, 4, &v);
	if (len < 2)
		goto bad;
	/* RFC 5322 4.3: two digits: 00-49 are 20xx, 50-99 19xx; three:
	 * add 1900 */
	if (len == 2)
		v += v < 50 ? 2000 : 1900;
	else if (len == 3)
		v += 1900;
	d_r->year = v;
	skip_cfws(&c);
	if (number(&c, 2, &d_r->hour) == 0)
		goto bad;
	skip_cfws(&c);
	if (c.i >= n || s[c.i] != ':')
		goto bad;
	c.i++;
	skip_cfws(&c);
	if (number(&c, 2, &d_r->min) == 0)
		goto bad;
	skip_cfws(&c);
	if (c.i < n && s[c.i] == ':') {
		c.i++;
		skip_cfws(&c);
		if (number(&c, 2, &d_r->sec) == 0)
			goto bad;
		skip_cfws(&c);
	}
	if (c.i < n && (s[c.i] == '+' || s[c.i] == '-')) {
		int sign = s[c.i] == '-' ? -1 : 1;

		c.i++;
		if (number(&c, 4, &v) != 4 || v % 100 > 59)
			goto bad;
		d_r->zone = sign * (v / 100 * 60 + v % 100);
	} else if (c.i < n && isalpha((unsigned char)s[c.i])) {
		word(&c, w, sizeof(w));
		if (zone_name(w, &d_r->zone) < 0)
			goto bad;
	} else {
		goto bad;
	}
	skip_cfws(&c);
	if (c.i != n)
		goto bad;
	if (d_r->day < 1 || d_r->day > 31 || d_r->hour > 23 ||
	    d_r->min > 59 || d_r->sec > 60)
		goto bad;
	d_r->utc = mdate_days(d_r->year, d_r->month, d_r->day) * 86400 +
	    d_r->hour * 3600 + d_r->min * 60 + d_r->sec - d_r->zone * 60;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}
