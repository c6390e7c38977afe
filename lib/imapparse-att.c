/* SPDX-License-Identifier: ISC */
/*
 * imapparse: the special forms of the grammar that are more than a token:
 * fetch attributes with BODY[section]<partial> (RFC 3501, RFC 3516
 * BINARY[section-binary]) and dates.
 */
#include "imapparse.h"
#include "imapparse-private.h"

#include <string.h>
#include <strings.h>
#include <time.h>

#include "imapquote.h"

static const char imap_months[12][4] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

static int
imap_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* n digits at s as a number. */
static int
imap_fixed(const char *s, size_t n)
{
	int v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!imap_digit(s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static int
imap_mdays(int year, int mon)
{
	static const int days[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};
	int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return days[mon - 1] + (mon == 2 && leap);
}

/* "d-Mon-yyyy" or "dd-Mon-yyyy" exactly; *ndigits_r gets the day's
 * digits. */
static int
imap_date_text(const char *s, size_t len, struct imap_date *d,
    size_t *ndigits_r)
{
	size_t nd = 0;
	int m;

	while (nd < len && nd < 2 && imap_digit(s[nd]))
		nd++;
	if (nd == 0 || len != nd + 9 || s[nd] != '-' || s[nd + 4] != '-')
		return -1;
	d->mday = imap_fixed(s, nd);
	for (m = 0; m < 12; m++)
		if (strncasecmp(s + nd + 1, imap_months[m], 3) == 0)
			break;
	if (m == 12)
		return -1;
	d->mon = m + 1;
	if ((d->year = imap_fixed(s + nd + 5, 4)) < 1)
		return -1;
	if (d->mday < 1 || d->mday > imap_mdays(d->year, d->mon))
		return -1;
	*ndigits_r = nd;
	return 0;
}

int
imap_date_parse(const char *s, size_t len, struct imap_date *d_r)
{
	size_t nd;

	return imap_date_text(s, len, d_r, &nd);
}

/* "+hhmm" / "-hhmm" as minutes east of UTC. */
static int
imap_zone(const char *s, int *zone_r)
{
	int h = imap_fixed(s + 1, 2), m = imap_fixed(s + 3, 2);

	if ((s[0] != '+' && s[0] != '-') || h < 0 || h > 23 || m < 0 ||
	    m > 59)
		return -1;
	*zone_r = (s[0] == '-' ? -1 : 1) * (h * 60 + m);
	return 0;
}

int
imap_datetime_parse(const char *s, size_t len, time_t *t_r, int *zone_r)
{
	struct imap_date d;
	struct tm tm;
	size_t nd, sp = 0;
	time_t t;

	/* date-day-fixed is " 7" or "07"; "7" is tolerated. */
	if (len > 0 && s[0] == ' ')
		sp = 1;
	if (len < sp + 21)
		return -1;
	len -= 15;			/* " hh:mm:ss +zzzz" */
	if (imap_date_text(s + sp, len - sp, &d, &nd) < 0 ||
	    (sp && nd != 1))
		return -1;
	s += len;
	if (s[0] != ' ' || s[3] != ':' || s[6] != ':' || s[9] != ' ')
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_hour = imap_fixed(s + 1, 2);
	tm.tm_min = imap_fixed(s + 4, 2);
	tm.tm_sec = imap_fixed(s + 7, 2);
	if (tm.tm_hour < 0 || tm.tm_hour > 23 || tm.tm_min < 0 ||
	    tm.tm_min > 59 || tm.tm_sec < 0 || tm.tm_sec > 60 ||
	    imap_zone(s + 10, zone_r) < 0)
		return -1;
	tm.tm_mday = d.mday;
	tm.tm_mon = d.mon - 1;
	tm.tm_year = d.year - 1900;
	if ((t = timegm(&tm)) == (time_t)-1 && d.year > 1969)
		return -1;
	*t_r = t - (time_t)*zone_r * 60;
	return 0;
}

static int
imap_class_date(unsigned char c)
{
	return imap_digit((char)c) || (c >= 'A' && c <= 'Z') ||
	    (c >= 'a' && c <= 'z') || c == '-';
}

int
imap_arg_date(struct imap_parser *p, struct imap_date *d_r)
{
	struct imap_str s;
	size_t n = 0;

	if (imap_sep(p) < 0)
		return -1;
	if (p->seg.s[p->pos] == '"') {
		if (imap_quoted_at(p, &s) < 0)
			return -1;
	} else {
		while (p->pos + n < p->end &&
		    imap_class_date((unsigned char)p->seg.s[p->pos + n]))
			n++;
		s.s = p->seg.s + p->pos;
		s.len = n;
		p->pos += n;
		if (imap_delim(p, "date") < 0)
			return -1;
		p->sep = IMAP_SEP_NEEDED;
	}
	if (imap_date_parse(s.s, s.len, d_r) < 0)
		return imap_fail(p, IMAP_ERR_BAD, "Invalid date");
	return 0;
}

int
imap_arg_datetime(struct imap_parser *p, time_t *t_r, int *zone_r)
{
	struct imap_str s;

	if (imap_sep(p) < 0)
		return -1;
	if (p->seg.s[p->pos] != '"')
		return imap_fail(p, IMAP_ERR_BAD, "Expected a quoted date-time");
	if (imap_quoted_at(p, &s) < 0)
		return -1;
	if (imap_datetime_parse(s.s, s.len, t_r, zone_r) < 0)
		return imap_fail(p, IMAP_ERR_BAD, "Invalid date-time");
	return 0;
}

/* The byte at pos, or -1 at the end of the tokens. */
static int
imap_peekc(struct imap_parser *p)
{
	if (p->pos >= p->end)
		return -1;
	return (unsigned char)p->seg.s[p->pos];
}

/* Digits at pos as a number of at most 2^32-1 (nz: not zero); what
 * names the number in the error. */
static int
imap_att_number(struct imap_parser *p, int nz, const char *what,
    uint32_t *v_r)
{
	uint64_t v = 0;
	size_t n = 0;

	while (imap_peekc(p) >= 0 && imap_digit(p->seg.s[p->pos])) {
		v = v * 10 + (uint64_t)(p->seg.s[p->pos++] - '0');
		if (v > UINT32_MAX || ++n > 10)
			return imap_fail(p, IMAP_ERR_BAD, "Number too big");
	}
	if (n == 0 || (nz && v == 0))
		return imap_fail(p, IMAP_ERR_BAD, "Invalid %s", what);
	*v_r = (uint32_t)v;
	return 0;
}

/* The header-list of HEADER.FIELDS[.NOT]: " (name name ...)". */
static int
imap_att_fields(struct imap_parser *p, struct imap_fetch_att *att)
{
	struct imap_str *f = NULL, *nf;
	size_t cap = 0;

	p->sep = IMAP_SEP_NEEDED;
	if (imap_arg_list_begin(p) < 0)
		return -1;
	do {
		if (att->nfields == cap) {
			cap = cap ? cap * 2 : 8;
			if ((nf = imap_alloc(p, cap * sizeof(*nf))) == NULL)
				return -1;
			if (att->nfields)
				memcpy(nf, f, att->nfields * sizeof(*nf));
			f = nf;
		}
		if (imap_arg_astring(p, &f[att->nfields]) < 0)
			return -1;
		att->nfields++;
	} while (imap_arg_peek(p) != IMAP_TOK_LIST_END &&
	    p->err == IMAP_ERR_NONE);
	if (imap_arg_list_end(p) < 0)
		return -1;
	att->fields = f;
	return 0;
}

/* HEADER, HEADER.FIELDS, HEADER.FIELDS.NOT, TEXT or MIME at pos. */
static int
imap_att_text(struct imap_parser *p, struct imap_fetch_att *att)
{
	static const struct {
		const char *name;
		enum imap_section_text text;
	} words[] = {
		{ "HEADER", IMAP_SECTION_HEADER },
		{ "HEADER.FIELDS", IMAP_SECTION_HEADER_FIELDS },
		{ "HEADER.FIELDS.NOT", IMAP_SECTION_HEADER_FIELDS_NOT },
		{ "TEXT", IMAP_SECTION_TEXT },
		{ "MIME", IMAP_SECTION_MIME },
	};
	const char *s = p->seg.s + p->pos;
	size_t n = 0, i;

	while (imap_peekc(p) >= 0 && p->pos + n < p->end &&
	    (s[n] == '.' || (s[n] >= 'A' && s[n] <= 'Z') ||
	    (s[n] >= 'a' && s[n] <= 'z')))
		n++;
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strlen(words[i].name) == n &&
		    strncasecmp(words[i].name, s, n) == 0)
			break;
	if (i == sizeof(words) / sizeof(words[0]) ||
	    (words[i].text == IMAP_SECTION_MIME && att->nparts == 0))
		return imap_fail(p, IMAP_ERR_BAD, "Invalid section");
	att->text = words[i].text;
	p->pos += n;
	if (att->text == IMAP_SECTION_HEADER_FIELDS ||
	    att->text == IMAP_SECTION_HEADER_FIELDS_NOT)
		return imap_att_fields(p, att);
	return 0;
}

/* The inside of [ ... ] and the "]" (pos is past the "["). */
static int
imap_att_section(struct imap_parser *p, struct imap_fetch_att *att,
    int binary)
{
	int text = 0, c;

	while ((c = imap_peekc(p)) >= 0 && imap_digit((char)c)) {
		if (att->nparts == IMAP_SECTION_PARTS_MAX)
			return imap_fail(p, IMAP_ERR_BAD,
			    "Section has too many parts");
		if (imap_att_number(p, 1, "section number",
		    &att->part[att->nparts++]) < 0)
			return -1;
		if (imap_peekc(p) != '.')
			break;
		p->pos++;
		if ((c = imap_peekc(p)) < 0 || !imap_digit((char)c)) {
			text = 1;
			break;
		}
	}
	if (text || (att->nparts == 0 && imap_peekc(p) != ']')) {
		if (binary)
			return imap_fail(p, IMAP_ERR_BAD,
			    "Invalid BINARY section");
		if (imap_att_text(p, att) < 0)
			return -1;
	}
	if (imap_ensure(p) < 0)
		return -1;
	if (imap_peekc(p) != ']')
		return imap_fail(p, IMAP_ERR_BAD, "Expected ] after section");
	p->pos++;
	return 0;
}

/* <offset.length> at pos. */
static int
imap_att_partial(struct imap_parser *p, struct imap_fetch_att *att)
{
	p->pos++;
	if (imap_att_number(p, 0, "partial", &att->partial_offset) < 0)
		return -1;
	if (imap_peekc(p) != '.')
		return imap_fail(p, IMAP_ERR_BAD, "Invalid partial");
	p->pos++;
	if (imap_att_number(p, 1, "partial", &att->partial_length) < 0)
		return -1;
	if (imap_peekc(p) != '>')
		return imap_fail(p, IMAP_ERR_BAD, "Invalid partial");
	p->pos++;
	att->has_partial = 1;
	return 0;
}

static int
imap_class_fname(unsigned char c)
{
	return c != '[' && c != '<' && imapquote_atom_char(c);
}

/* Which sections name takes: 0 none, 1 section, 2 section-binary. */
static int
imap_att_kind(const char *name)
{
	if (strcmp(name, "BODY") == 0 || strcmp(name, "BODY.PEEK") == 0)
		return 1;
	if (strcmp(name, "BINARY") == 0 || strcmp(name, "BINARY.PEEK") == 0 ||
	    strcmp(name, "BINARY.SIZE") == 0)
		return 2;
	return 0;
}

int
imap_arg_fetch_att(struct imap_parser *p, struct imap_fetch_att *att)
{
	size_t n = 0, i;
	int kind;
	char c;

	memset(att, 0, sizeof(*att));
	if (imap_sep(p) < 0)
		return -1;
	while (p->pos + n < p->end &&
	    imap_class_fname((unsigned char)p->seg.s[p->pos + n]))
		n++;
	if (n == 0)
		return imap_fail(p, IMAP_ERR_BAD, "Expected a fetch attribute");
	if (n > IMAP_FETCH_NAME_MAX)
		return imap_fail(p, IMAP_ERR_BAD, "Unknown fetch attribute");
	for (i = 0; i < n; i++) {
		c = p->seg.s[p->pos + i];
		att->name[i] = c >= 'a' && c <= 'z' ? (char)(c - 32) : c;
	}
	att->name[n] = '\0';
	p->pos += n;
	kind = imap_att_kind(att->name);
	if (imap_peekc(p) == '[') {
		if (kind == 0)
			return imap_fail(p, IMAP_ERR_BAD,
			    "No section allowed after %s", att->name);
		p->pos++;
		att->has_section = 1;
		if (imap_att_section(p, att, kind == 2) < 0)
			return -1;
		if (imap_peekc(p) == '<' &&
		    (strcmp(att->name, "BINARY.SIZE") == 0 ||
		    imap_att_partial(p, att) < 0))
			return imap_fail(p, IMAP_ERR_BAD, "Invalid partial");
	} else if (kind == 2 || strcmp(att->name, "BODY.PEEK") == 0)
		return imap_fail(p, IMAP_ERR_BAD, "%s needs a section",
		    att->name);
	if (imap_delim(p, "fetch attribute") < 0)
		return -1;
	p->sep = IMAP_SEP_NEEDED;
	return 0;
}
