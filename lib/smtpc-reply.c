/* SPDX-License-Identifier: ISC */
/*
 * smtpc: the reply parser (RFC 5321 section 4.2, enhanced status codes of
 * RFC 3463 / RFC 2034) and the EHLO keywords.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "smtpc.h"

void
smtpc_reply_reset(struct smtpc_reply *rep)
{
	rep->code = 0;
	rep->status[0] = '\0';
	str_clear(&rep->text);
	rep->lines = 0;
	rep->cur = NULL;
	rep->curlen = 0;
}

void
smtpc_reply_free(struct smtpc_reply *rep)
{
	str_free(&rep->text);
	smtpc_reply_reset(rep);
}

static int
smtpc_isdigit(char c)
{
	return c >= '0' && c <= '9';
}

/* Length of an enhanced status "c.s.d" of class cls at the start of p
 * (followed by a space or the end), or 0. */
static size_t
smtpc_status_len(const char *p, size_t len, unsigned cls)
{
	size_t i = 0, part, digits;

	if (len < 5 || p[0] != (char)('0' + cls) || p[1] != '.')
		return 0;
	i = 2;
	for (part = 0; part < 2; part++) {
		for (digits = 0; i < len && smtpc_isdigit(p[i]); i++)
			if (++digits > 3)
				return 0;
		if (digits == 0)
			return 0;
		if (part == 0) {
			if (i >= len || p[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < len && p[i] != ' ')
		return 0;
	return i;
}

/* Append text to the reply's text: printable ASCII only, bounded. */
static void
smtpc_text_add(struct str *t, const char *p, size_t len)
{
	size_t i;
	char c;

	if (t->len > 0 && len > 0 && t->len < SMTPC_TEXT_MAX)
		str_appendc(t, ' ');
	for (i = 0; i < len && t->len < SMTPC_TEXT_MAX; i++) {
		c = p[i];
		str_appendc(t, c >= ' ' && c < 127 ? c : '?');
	}
}

int
smtpc_reply_feed(struct smtpc_reply *rep, const char *line, size_t len)
{
	unsigned code;
	size_t sl;
	int last;

	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' ||
	    line[1] > '5' || !smtpc_isdigit(line[2]) ||
	    (len > 3 && line[3] != ' ' && line[3] != '-') ||
	    rep->lines >= SMTPC_REPLY_LINES)
		goto bad;
	code = (unsigned)(line[0] - '0') * 100 +
	    (unsigned)(line[1] - '0') * 10 + (unsigned)(line[2] - '0');
	if (rep->lines > 0 && code != rep->code)
		goto bad;
	last = len == 3 || line[3] == ' ';
	rep->code = code;
	rep->cur = len > 4 ? line + 4 : line + len;
	rep->curlen = len > 4 ? len - 4 : 0;
	sl = smtpc_status_len(rep->cur, rep->curlen, code / 100);
	if (sl > 0 && rep->lines == 0)
		snprintf(rep->status, sizeof(rep->status), "%.*s", (int)sl,
		    rep->cur);
	if (sl > 0)
		sl += sl < rep->curlen;		/* and its space */
	smtpc_text_add(&rep->text, rep->cur + sl, rep->curlen - sl);
	rep->lines++;
	return last;
bad:
	errno = EPROTO;
	return -1;
}

/* The keywords we use. */
static const struct {
	const char *name;
	unsigned bit;
} smtpc_keywords[] = {
	{ "PIPELINING", SMTPC_EXT_PIPELINING },
	{ "SIZE", SMTPC_EXT_SIZE },
	{ "8BITMIME", SMTPC_EXT_8BITMIME },
	{ "BINARYMIME", SMTPC_EXT_BINARYMIME },
	{ "CHUNKING", SMTPC_EXT_CHUNKING },
	{ "DSN", SMTPC_EXT_DSN },
	{ "STARTTLS", SMTPC_EXT_STARTTLS },
	{ "SMTPUTF8", SMTPC_EXT_SMTPUTF8 },
	{ "ENHANCEDSTATUSCODES", SMTPC_EXT_ENHANCED },
};

unsigned
smtpc_ehlo_keyword(const char *line, size_t len, unsigned long long *size_r)
{
	unsigned long long v = 0;
	size_t i, kw;

	for (kw = 0; kw < len && line[kw] != ' '; kw++)
		;
	for (i = 0; i < sizeof(smtpc_keywords) / sizeof(smtpc_keywords[0]);
	    i++) {
		if (strlen(smtpc_keywords[i].name) != kw ||
		    strncasecmp(line, smtpc_keywords[i].name, kw) != 0)
			continue;
		if (smtpc_keywords[i].bit != SMTPC_EXT_SIZE)
			return smtpc_keywords[i].bit;
		/* "SIZE" alone or "SIZE 0": no limit announced. */
		for (i = kw + 1; i < len && smtpc_isdigit(line[i]); i++) {
			if (v > (~0ULL - 9) / 10)
				break;
			v = v * 10 + (unsigned)(line[i] - '0');
		}
		*size_r = v;
		return SMTPC_EXT_SIZE;
	}
	return 0;
}

void
smtpc_rcpt_set(struct smtpc_rcpt *r, unsigned code, const char *status,
    const char *fmt, ...)
{
	va_list ap;
	size_t i;

	r->done = 1;
	r->code = code;
	snprintf(r->status, sizeof(r->status), "%s", status);
	str_clear(&r->text);
	va_start(ap, fmt);
	str_vappendf(&r->text, fmt, ap);
	va_end(ap);
	/* One printable line, whatever the pieces held. */
	for (i = 0; i < r->text.len; i++)
		if (r->text.s[i] < ' ' || r->text.s[i] == 127)
			r->text.s[i] = '?';
}
