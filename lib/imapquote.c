/* SPDX-License-Identifier: ISC */
#include "imapquote.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "smtp.h"

int
imapquote_atom_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return 0;	/* CTL, SP, 8-bit */
	return strchr("(){%*\"\\]", c) == NULL;
}

int
imapquote_is_astring_atom(const void *s, size_t len)
{
	const unsigned char *p = s;
	size_t i;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++)
		if (!imapquote_atom_char(p[i]) && p[i] != ']')
			return 0;
	return 1;
}

/* What a string needs: 0 quoted, 1 literal, 2 literal8 (holds NUL). */
static int
imapquote_kind(const unsigned char *p, size_t len, int flags)
{
	int eight = 0, lit = (flags & IMAPQUOTE_LITERAL) != 0;
	size_t i;

	if (len > IMAPQUOTE_QUOTED_MAX)
		lit = 1;
	for (i = 0; i < len; i++) {
		if (p[i] == 0)
			return 2;
		if (p[i] == '\r' || p[i] == '\n')
			lit = 1;
		else if (p[i] >= 0x80)
			eight = 1;
	}
	if (eight && (!(flags & IMAPQUOTE_UTF8) ||
	    !smtp_utf8_valid((const char *)p, len)))
		lit = 1;
	return lit;
}

static int
imapquote_quoted(struct str *out, const unsigned char *p, size_t len)
{
	size_t i;

	if (str_appendc(out, '"') < 0)
		return -1;
	for (i = 0; i < len; i++) {
		if ((p[i] == '"' || p[i] == '\\') && str_appendc(out, '\\') < 0)
			return -1;
		if (str_appendc(out, (char)p[i]) < 0)
			return -1;
	}
	return str_appendc(out, '"');
}

int
imapquote_string(struct str *out, const void *s, size_t len, int flags)
{
	const unsigned char *p = s;
	size_t save = out->len;
	int kind = imapquote_kind(p, len, flags), rc;

	if (kind == 2 && !(flags & IMAPQUOTE_BINARY)) {
		errno = EINVAL;
		return -1;
	}
	if (kind == 0)
		rc = imapquote_quoted(out, p, len);
	else
		rc = str_appendf(out, "%s{%zu}\r\n", kind == 2 ? "~" : "",
		    len) < 0 ? -1 : str_append(out, p, len);
	if (rc < 0)
		str_truncate(out, save);
	return rc;
}

int
imapquote_astring(struct str *out, const void *s, size_t len, int flags)
{
	if (imapquote_is_astring_atom(s, len) &&
	    !(len == 3 && strncasecmp(s, "NIL", 3) == 0))
		return str_append(out, s, len);
	return imapquote_string(out, s, len, flags);
}

int
imapquote_nstring(struct str *out, const void *s, size_t len, int flags)
{
	if (s == NULL)
		return str_append(out, "NIL", 3);
	return imapquote_string(out, s, len, flags);
}

int
imapquote_mailbox(struct str *out, const char *name, size_t len, int flags)
{
	if (len == 5 && strncasecmp(name, "INBOX", 5) == 0)
		return str_append(out, "INBOX", 5);
	return imapquote_astring(out, name, len, flags);
}
