/* SPDX-License-Identifier: ISC */
/*
 * smtp: paths, mailboxes, domains and address literals (RFC 5321 4.1.2,
 * 4.1.3), UTF-8 forms of RFC 6531.  Hand-written: the grammar is small and
 * every library parser we know either allocates per call or accepts RFC
 * 5322 forms (comments, folding) that SMTP does not.
 */
#include "smtp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

/* The parse position over one path. */
struct path_in {
	const unsigned char *p, *end;
	int utf8;		/* SMTPUTF8 in force */
	int saw8;		/* a byte above 127 was seen */
	int err;		/* errno when failing: EINVAL unless set */
};

static int
smtp_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
smtp_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* RFC 5322 atext. */
static int
smtp_atext(int c)
{
	return smtp_alpha(c) || smtp_digit(c) ||
	    (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* Length of the UTF-8 sequence at s (up to n bytes) when it is one
 * well-formed non-ASCII character, else 0. */
static size_t
smtp_utf8_seq(const unsigned char *s, size_t n)
{
	unsigned c = s[0], cp;
	size_t len, i;

	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

int
smtp_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;

	while (i < len) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((n = smtp_utf8_seq(p + i, len - i)) == 0)
			return 0;
		i += n;
	}
	return 1;
}

/* At a byte above 127: take one UTF-8 character if allowed.  Returns 1
 * when taken, 0 when not (pi->err set). */
static int
path_utf8(struct path_in *pi)
{
	size_t n = smtp_utf8_seq(pi->p, (size_t)(pi->end - pi->p));

	pi->saw8 = 1;
	if (n == 0) {
		pi->err = EINVAL;
		return 0;
	}
	if (!pi->utf8) {
		pi->err = EILSEQ;
		return 0;
	}
	pi->p += n;
	return 1;
}

/* Dot-string: Atom *("." Atom). */
static int
path_dotstring(struct path_in *pi)
{
	int atom = 0;

	while (pi->p < pi->end) {
		if (*pi->p >= 0x80) {
			if (!path_utf8(pi))
				return 0;
			atom = 1;
		} else if (smtp_atext(*pi->p)) {
			pi->p++;
			atom = 1;
		} else if (*pi->p == '.' && atom) {
			pi->p++;
			atom = 0;
		} else
			break;
	}
	return atom;
}

/* Quoted-string: DQUOTE *(qtextSMTP / quoted-pairSMTP) DQUOTE. */
static int
path_quoted(struct path_in *pi)
{
	unsigned c;

	pi->p++;
	while (pi->p < pi->end) {
		c = *pi->p;
		if (c == '"') {
			pi->p++;
			return 1;
		}
		if (c == '\\') {
			if (pi->end - pi->p < 2 || pi->p[1] < 32 ||
			    pi->p[1] > 126)
				return 0;
			pi->p += 2;
		} else if (c >= 0x80) {
			if (!path_utf8(pi))
				return 0;
		} else if (c >= 32 && c <= 126)
			pi->p++;
		else
			return 0;
	}
	return 0;
}

/* sub-domain: Let-dig [Ldh-str], or a U-label with utf8.  Returns the
 * label's length, 0 when there is none. */
static size_t
path_label(struct path_in *pi)
{
	const unsigned char *start = pi->p;
	int last_hyphen = 0;

	while (pi->p < pi->end) {
		if (*pi->p >= 0x80) {
			if (!path_utf8(pi))
				return 0;
			last_hyphen = 0;
		} else if (smtp_alpha(*pi->p) || smtp_digit(*pi->p)) {
			pi->p++;
			last_hyphen = 0;
		} else if (*pi->p == '-' && pi->p != start) {
			pi->p++;
			last_hyphen = 1;
		} else
			break;
	}
	if (pi->p == start || last_hyphen ||
	    (size_t)(pi->p - start) > SMTP_LABEL_MAX)
		return 0;
	return (size_t)(pi->p - start);
}

/* Domain: sub-domain *("." sub-domain). */
static int
path_domain(struct path_in *pi)
{
	const unsigned char *start = pi->p;

	for (;;) {
		if (path_label(pi) == 0)
			return 0;
		if (pi->p < pi->end && *pi->p == '.' && pi->end - pi->p > 1)
			pi->p++;
		else
			break;
	}
	if ((size_t)(pi->p - start) > SMTP_DOMAIN_MAX) {
		pi->err = ENAMETOOLONG;
		return 0;
	}
	return 1;
}

int
smtp_domain_valid(const char *s, size_t len, int utf8)
{
	struct path_in pi = { (const unsigned char *)s,
	    (const unsigned char *)s + len, utf8, 0, EINVAL };

	return len > 0 && path_domain(&pi) && pi.p == pi.end;
}

/* The inside of an address literal (between the brackets). */
static int
smtp_literal_inside(const char *s, size_t len)
{
	char buf[64];
	unsigned char in6[16];
	size_t i, tag;

	if (len == 0 || len >= sizeof buf)
		return 0;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (len > 5 && strncasecmp(buf, "IPv6:", 5) == 0)
		return inet_pton(AF_INET6, buf + 5, in6) == 1;
	if (smtp_digit((unsigned char)buf[0]))
		return inet_pton(AF_INET, buf, in6) == 1;
	/* General-address-literal: Standardized-tag ":" 1*dcontent. */
	for (tag = 0; tag < len && buf[tag] != ':'; tag++)
		if (!smtp_alpha((unsigned char)buf[tag]) &&
		    !smtp_digit((unsigned char)buf[tag]) && buf[tag] != '-')
			return 0;
	if (tag == 0 || tag + 1 >= len || buf[tag - 1] == '-')
		return 0;
	for (i = tag + 1; i < len; i++)
		if (buf[i] < 33 || buf[i] > 126 || buf[i] == '[' ||
		    buf[i] == '\\' || buf[i] == ']')
			return 0;
	return 1;
}

int
smtp_literal_valid(const char *s, size_t len)
{
	return len >= 2 && s[0] == '[' && s[len - 1] == ']' &&
	    smtp_literal_inside(s + 1, len - 2);
}

/* address-literal at pi->p. */
static int
path_literal(struct path_in *pi)
{
	const unsigned char *start = pi->p;
	const unsigned char *close;

	close = memchr(start, ']', (size_t)(pi->end - start));
	if (close == NULL)
		return 0;
	pi->p = close + 1;
	return smtp_literal_inside((const char *)start + 1,
	    (size_t)(close - start) - 1);
}

/* A-d-l ":" — the source route, dropped. */
static int
path_route(struct path_in *pi)
{
	for (;;) {
		if (pi->p >= pi->end || *pi->p != '@')
			return 0;
		pi->p++;
		if (!path_domain(pi))
			return 0;
		if (pi->p < pi->end && *pi->p == ',')
			pi->p++;
		else
			break;
	}
	if (pi->p >= pi->end || *pi->p != ':')
		return 0;
	pi->p++;
	return 1;
}

void
smtp_path_free(struct smtp_path *p)
{
	str_free(&p->addr);
	memset(p, 0, sizeof *p);
}

/* The special paths <> and <Postmaster>: 1 when s is one (p filled),
 * 0 when not, -1 when one that flags forbid. */
static int
path_special(const char *s, size_t len, int flags, struct smtp_path *p,
    size_t *used_r)
{
	if (len >= 2 && s[1] == '>') {
		if (!(flags & SMTP_PATH_NULL)) {
			errno = EINVAL;
			return -1;
		}
		p->null = 1;
		*used_r = 2;
		return 1;
	}
	if (len >= 12 && strncasecmp(s + 1, "postmaster>", 11) == 0) {
		if (!(flags & SMTP_PATH_POSTMASTER)) {
			errno = EINVAL;
			return -1;
		}
		p->postmaster = 1;
		p->local_len = 10;
		*used_r = 12;
		return str_append(&p->addr, s + 1, 10) < 0 ? -1 : 1;
	}
	return 0;
}

/* Local-part "@" ( Domain / address-literal ) ">" of a path. */
static int
path_mailbox(struct path_in *pi, struct smtp_path *p)
{
	const unsigned char *start = pi->p;

	if (pi->p < pi->end && *pi->p == '"') {
		p->quoted = 1;
		if (!path_quoted(pi))
			return 0;
	} else if (!path_dotstring(pi))
		return 0;
	p->local_len = (size_t)(pi->p - start);
	if (pi->p >= pi->end || *pi->p != '@')
		return 0;
	pi->p++;
	if (pi->p < pi->end && *pi->p == '[') {
		p->literal = 1;
		if (!path_literal(pi))
			return 0;
	} else if (!path_domain(pi))
		return 0;
	if (pi->p >= pi->end || *pi->p != '>')
		return 0;
	p->utf8 = pi->saw8;
	if (str_append(&p->addr, start, (size_t)(pi->p - start)) < 0) {
		pi->err = errno;
		return 0;
	}
	return 1;
}

int
smtp_path_parse(const char *s, size_t len, int flags, struct smtp_path *p,
    size_t *used_r)
{
	struct path_in pi;
	int r;

	smtp_path_free(p);
	if (len < 2 || s[0] != '<') {
		errno = EINVAL;
		return -1;
	}
	if ((r = path_special(s, len, flags, p, used_r)) != 0)
		return r < 0 ? -1 : 0;
	pi.p = (const unsigned char *)s + 1;
	pi.end = (const unsigned char *)s + len;
	pi.utf8 = (flags & SMTP_PATH_UTF8) != 0;
	pi.saw8 = 0;
	pi.err = EINVAL;
	if ((*pi.p == '@' && !path_route(&pi)) || !path_mailbox(&pi, p)) {
		smtp_path_free(p);
		errno = pi.err;
		return -1;
	}
	*used_r = (size_t)(pi.p - (const unsigned char *)s) + 1;
	if (*used_r > SMTP_PATH_MAX) {
		smtp_path_free(p);
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int
smtp_mailrcpt_parse(const char *arg, size_t len, const char *kw, int flags,
    struct smtp_path *p, const char **params_r, size_t *plen_r)
{
	size_t kwlen = strlen(kw), i, used;

	if (len < kwlen || strncasecmp(arg, kw, kwlen) != 0) {
		errno = EINVAL;
		return -1;
	}
	for (i = kwlen; i < len && arg[i] == ' '; i++)
		;
	if (smtp_path_parse(arg + i, len - i, flags, p, &used) < 0)
		return -1;
	i += used;
	if (i < len && arg[i] != ' ') {
		smtp_path_free(p);
		errno = EINVAL;
		return -1;
	}
	*params_r = arg + i;
	*plen_r = len - i;
	return 0;
}

int
smtp_path_local(const struct smtp_path *p, struct str *out)
{
	size_t i;

	str_clear(out);
	if (!p->quoted)
		return str_append(out, p->addr.s ? p->addr.s : "",
		    p->local_len);
	for (i = 1; i + 1 < p->local_len; i++) {
		if (p->addr.s[i] == '\\')
			i++;
		if (str_appendc(out, p->addr.s[i]) < 0)
			return -1;
	}
	return 0;
}

const char *
smtp_path_domain(const struct smtp_path *p)
{
	if (p->null || p->postmaster || p->addr.s == NULL)
		return "";
	return p->addr.s + p->local_len + 1;
}
