/* SPDX-License-Identifier: ISC */
/*
 * smtp: command lines, ESMTP parameters and their values, xtext, replies.
 * Paths and domains are in smtp-path.c.
 */
#include "smtp.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *name;
	enum smtp_verb verb;
} smtp_verbs[] = {
	{ "HELO", SMTP_HELO }, { "EHLO", SMTP_EHLO }, { "MAIL", SMTP_MAIL },
	{ "RCPT", SMTP_RCPT }, { "DATA", SMTP_DATA }, { "BDAT", SMTP_BDAT },
	{ "RSET", SMTP_RSET }, { "NOOP", SMTP_NOOP }, { "QUIT", SMTP_QUIT },
	{ "VRFY", SMTP_VRFY }, { "EXPN", SMTP_EXPN }, { "HELP", SMTP_HELP },
	{ "STARTTLS", SMTP_STARTTLS }, { "AUTH", SMTP_AUTH },
	{ NULL, SMTP_UNKNOWN }
};

#define SMTP_VERB_MAX 16

static int
smtp_isalpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
smtp_isdigit(int c)
{
	return c >= '0' && c <= '9';
}

/* Compare s (len bytes) with the NUL-terminated word w, ignoring case. */
static int
smtp_eq(const char *s, size_t len, const char *w)
{
	return strlen(w) == len && strncasecmp(s, w, len) == 0;
}

int
smtp_cmd_parse(const char *line, size_t len, struct smtp_cmd *cmd)
{
	size_t i, n;

	memset(cmd, 0, sizeof *cmd);
	cmd->arg = "";
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];

		if (c < 32 || c == 127) {
			errno = EINVAL;
			return -1;
		}
	}
	while (len > 0 && line[len - 1] == ' ')
		len--;
	for (n = 0; n < len && smtp_isalpha((unsigned char)line[n]); n++)
		;
	if (n == 0 || n > SMTP_VERB_MAX || (n < len && line[n] != ' ')) {
		errno = EINVAL;
		return -1;
	}
	cmd->name = line;
	cmd->namelen = n;
	if (n < len) {
		cmd->arg = line + n + 1;
		cmd->arglen = len - n - 1;
	}
	for (i = 0; smtp_verbs[i].name != NULL; i++)
		if (smtp_eq(line, n, smtp_verbs[i].name))
			cmd->verb = smtp_verbs[i].verb;
	return 0;
}

const char *
smtp_verb_name(enum smtp_verb verb)
{
	size_t i;

	for (i = 0; smtp_verbs[i].name != NULL; i++)
		if (smtp_verbs[i].verb == verb)
			return smtp_verbs[i].name;
	return "?";
}

int
smtp_param_next(const char **pp, const char *end, int utf8,
    struct smtp_param *par)
{
	const char *p = *pp;
	unsigned char c;

	while (p < end && *p == ' ')
		p++;
	if (p == end) {
		*pp = p;
		return 0;
	}
	memset(par, 0, sizeof *par);
	par->key = p;
	/* esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
	while (p < end && (smtp_isalpha((unsigned char)*p) ||
	    smtp_isdigit((unsigned char)*p) || (*p == '-' && p > par->key)))
		p++;
	par->keylen = (size_t)(p - par->key);
	if (par->keylen == 0 || (p < end && *p != ' ' && *p != '='))
		goto bad;
	if (p < end && *p == '=') {
		par->val = ++p;
		/* esmtp-value = 1*(%d33-60 / %d62-126), UTF-8 with SMTPUTF8 */
		while (p < end && *p != ' ') {
			c = (unsigned char)*p;
			if ((c < 33 || c == '=' || c == 127) ||
			    (c > 127 && !utf8))
				goto bad;
			p++;
		}
		par->vallen = (size_t)(p - par->val);
		if (par->vallen == 0 ||
		    !smtp_utf8_valid(par->val, par->vallen))
			goto bad;
	}
	*pp = p;
	return 1;
bad:
	errno = EINVAL;
	return -1;
}

int
smtp_param_is(const struct smtp_param *par, const char *key)
{
	return smtp_eq(par->key, par->keylen, key);
}

int
smtp_parse_ulong(const char *s, size_t len, unsigned long long *n_r)
{
	unsigned long long n = 0;
	size_t i;

	if (len == 0 || len > 20) {
		errno = len > 20 ? ERANGE : EINVAL;
		return -1;
	}
	for (i = 0; i < len; i++) {
		if (!smtp_isdigit((unsigned char)s[i])) {
			errno = EINVAL;
			return -1;
		}
		if (n > (UINT64_MAX - (unsigned)(s[i] - '0')) / 10) {
			errno = ERANGE;
			return -1;
		}
		n = n * 10 + (unsigned)(s[i] - '0');
	}
	*n_r = n;
	return 0;
}

static const char *const smtp_body_names[] = {
	"7BIT", "8BITMIME", "BINARYMIME"
};

int
smtp_body_parse(const char *s, size_t len, enum smtp_body *body_r)
{
	int i;

	for (i = 0; i < 3; i++)
		if (smtp_eq(s, len, smtp_body_names[i])) {
			*body_r = (enum smtp_body)i;
			return 0;
		}
	errno = EINVAL;
	return -1;
}

const char *
smtp_body_name(enum smtp_body body)
{
	return (unsigned)body < 3 ? smtp_body_names[body] : "7BIT";
}

static const struct {
	const char *name;
	unsigned bit;
} smtp_notify_words[] = {
	{ "NEVER", SMTP_NOTIFY_NEVER }, { "SUCCESS", SMTP_NOTIFY_SUCCESS },
	{ "FAILURE", SMTP_NOTIFY_FAILURE }, { "DELAY", SMTP_NOTIFY_DELAY },
	{ NULL, 0 }
};

int
smtp_notify_parse(const char *s, size_t len, unsigned *bits_r)
{
	const char *end = s + len, *comma;
	unsigned bits = 0, bit;
	size_t i;

	while (s < end) {
		comma = memchr(s, ',', (size_t)(end - s));
		if (comma == NULL)
			comma = end;
		for (bit = 0, i = 0; smtp_notify_words[i].name != NULL; i++)
			if (smtp_eq(s, (size_t)(comma - s),
			    smtp_notify_words[i].name))
				bit = smtp_notify_words[i].bit;
		if (bit == 0 || (bits & bit) || (comma == end - 1))
			goto bad;
		bits |= bit;
		s = comma < end ? comma + 1 : end;
	}
	if (bits == 0 || ((bits & SMTP_NOTIFY_NEVER) &&
	    bits != SMTP_NOTIFY_NEVER))
		goto bad;
	*bits_r = bits;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

int
smtp_notify_format(unsigned bits, struct str *out)
{
	size_t i;
	int first = 1;

	for (i = 0; smtp_notify_words[i].name != NULL; i++) {
		if (!(bits & smtp_notify_words[i].bit))
			continue;
		if ((!first && str_appendc(out, ',') < 0) ||
		    str_appends(out, smtp_notify_words[i].name) < 0)
			return -1;
		first = 0;
	}
	return 0;
}

int
smtp_ret_parse(const char *s, size_t len, enum smtp_ret *ret_r)
{
	if (smtp_eq(s, len, "FULL"))
		*ret_r = SMTP_RET_FULL;
	else if (smtp_eq(s, len, "HDRS"))
		*ret_r = SMTP_RET_HDRS;
	else {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

static int
smtp_hexval(int c)
{
	if (smtp_isdigit(c))
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* xchar = %d33-42 / %d44-60 / %d62-126 */
static int
smtp_xchar(int c)
{
	return c >= 33 && c <= 126 && c != '+' && c != '=';
}

/* Walk xtext: calls back with every decoded byte when out is not NULL. */
static int
smtp_xtext_walk(const char *s, size_t len, struct str *out, int ascii)
{
	size_t i;
	int c, hi, lo;

	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c == '+') {
			if (len - i < 3 ||
			    (hi = smtp_hexval((unsigned char)s[i + 1])) < 0 ||
			    (lo = smtp_hexval((unsigned char)s[i + 2])) < 0)
				return 0;
			c = hi << 4 | lo;
			i += 2;
		} else if (!smtp_xchar(c))
			return 0;
		if (ascii && (c < 32 || c > 126))
			return 0;
		if (out != NULL && str_appendc(out, (char)c) < 0)
			return -1;
	}
	return 1;
}

int
smtp_xtext_valid(const char *s, size_t len)
{
	return smtp_xtext_walk(s, len, NULL, 0) == 1;
}

int
smtp_xtext_decode(const char *s, size_t len, struct str *out)
{
	size_t save = out->len;
	int r = smtp_xtext_walk(s, len, out, 0);

	if (r == 1)
		return 0;
	str_truncate(out, save);
	if (r == 0)
		errno = EINVAL;
	return -1;
}

int
smtp_xtext_encode(const void *p, size_t n, struct str *out)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *b = p;
	size_t i;
	int r;

	for (i = 0; i < n; i++) {
		if (smtp_xchar(b[i]))
			r = str_appendc(out, (char)b[i]);
		else
			r = str_appendf(out, "+%c%c", hex[b[i] >> 4],
			    hex[b[i] & 15]);
		if (r < 0)
			return -1;
	}
	return 0;
}

int
smtp_envid_valid(const char *s, size_t len)
{
	return len > 0 && len <= SMTP_ENVID_MAX &&
	    smtp_xtext_walk(s, len, NULL, 1) == 1;
}

/* RFC 6533 utf-8-addr-unitext: printable ASCII but "+", "=" and "\",
 * "\x{HEX}" escapes, and UTF-8.  We check the bytes, not the escapes. */
static int
smtp_unitext_valid(const char *s, size_t len)
{
	size_t i;
	unsigned char c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c < 33 || c == 127 || c == '+' || c == '=')
			return 0;
	}
	return smtp_utf8_valid(s, len);
}

int
smtp_orcpt_valid(const char *s, size_t len, int utf8)
{
	const char *semi;
	size_t tlen, i;

	if (len == 0 || len > SMTP_ORCPT_MAX ||
	    (semi = memchr(s, ';', len)) == NULL)
		return 0;
	tlen = (size_t)(semi - s);
	/* addr-type = atom (RFC 5322 atext, in practice "rfc822"). */
	if (tlen == 0 || semi + 1 == s + len)
		return 0;
	for (i = 0; i < tlen; i++)
		if (!smtp_isalpha((unsigned char)s[i]) &&
		    !smtp_isdigit((unsigned char)s[i]) && s[i] != '-')
			return 0;
	if (smtp_xtext_valid(semi + 1, len - tlen - 1))
		return 1;
	return utf8 && smtp_eq(s, tlen, "utf-8") &&
	    smtp_unitext_valid(semi + 1, len - tlen - 1);
}

int
smtp_bdat_parse(const char *arg, size_t len, unsigned long long *size_r,
    int *last_r)
{
	size_t n;

	for (n = 0; n < len && arg[n] != ' '; n++)
		;
	if (smtp_parse_ulong(arg, n, size_r) < 0)
		return -1;
	*last_r = 0;
	if (n == len)
		return 0;
	if (smtp_eq(arg + n + 1, len - n - 1, "LAST")) {
		*last_r = 1;
		return 0;
	}
	errno = EINVAL;
	return -1;
}

int
smtp_enhanced_valid(const char *s, size_t len)
{
	size_t i = 0, part, n;

	if (len < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') ||
	    s[1] != '.')
		return 0;
	i = 2;
	for (part = 0; part < 2; part++) {
		for (n = 0; i < len && smtp_isdigit((unsigned char)s[i]); i++)
			n++;
		if (n == 0 || n > 3)
			return 0;
		if (part == 0) {
			if (i >= len || s[i] != '.')
				return 0;
			i++;
		}
	}
	return i == len;
}

/* One reply line: code, separator, enh, text cut to fit. */
static int
smtp_reply_line(struct str *out, int code, char sep, const char *enh,
    const char *text, size_t len)
{
	size_t room, i;
	char c;

	if (str_appendf(out, "%03d%c", code, sep) < 0)
		return -1;
	room = SMTP_REPLY_LINE_MAX - 6;
	if (enh != NULL && *enh != '\0') {
		if (str_appendf(out, "%s ", enh) < 0)
			return -1;
		room -= strlen(enh) + 1;
	}
	if (len > room)
		len = room;
	for (i = 0; i < len; i++) {
		c = text[i];
		if ((unsigned char)c < 32 || c == 127)
			c = '?';
		if (str_appendc(out, c) < 0)
			return -1;
	}
	return str_append(out, "\r\n", 2);
}

int
smtp_reply_format(struct str *out, int code, const char *enh,
    const char *text)
{
	const char *nl;
	size_t save = out->len;

	if (code < 200 || code > 599 || (enh != NULL && *enh != '\0' &&
	    (strlen(enh) > 11 || !smtp_enhanced_valid(enh, strlen(enh)) ||
	    enh[0] != '0' + code / 100))) {
		errno = EINVAL;
		return -1;
	}
	for (;;) {
		nl = strchr(text, '\n');
		if (smtp_reply_line(out, code, nl ? '-' : ' ', enh, text,
		    nl ? (size_t)(nl - text) : strlen(text)) < 0) {
			str_truncate(out, save);
			return -1;
		}
		if (nl == NULL)
			return 0;
		text = nl + 1;
	}
}

int
smtp_reply_parse(const char *line, size_t len, struct smtp_reply *r)
{
	size_t i;

	memset(r, 0, sizeof *r);
	if (len < 3 || line[0] < '2' || line[0] > '5' ||
	    !smtp_isdigit((unsigned char)line[1]) ||
	    !smtp_isdigit((unsigned char)line[2]) ||
	    (len > 3 && line[3] != ' ' && line[3] != '-')) {
		errno = EINVAL;
		return -1;
	}
	r->code = (line[0] - '0') * 100 + (line[1] - '0') * 10 +
	    (line[2] - '0');
	r->more = len > 3 && line[3] == '-';
	r->text = line + (len > 3 ? 4 : 3);
	r->textlen = len > 3 ? len - 4 : 0;
	for (i = 0; i < r->textlen && r->text[i] != ' '; i++)
		;
	if (i > 0 && r->text[0] == line[0] &&
	    smtp_enhanced_valid(r->text, i)) {
		r->enh = r->text;
		r->enhlen = i;
		r->text += i < r->textlen ? i + 1 : i;
		r->textlen -= i < r->textlen ? i + 1 : i;
	}
	return 0;
}
