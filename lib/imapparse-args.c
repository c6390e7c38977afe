/* SPDX-License-Identifier: ISC */
/*
 * imapparse: the tokens and the typed getters (atoms, strings, numbers,
 * flags, sequence sets, lists, the end of the command, peeking).  Lines,
 * literals and resynchronisation are in imapparse.c.
 */
#include "imapparse.h"
#include "imapparse-private.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "imapquote.h"
#include "smtp.h"

static int
imap_isdigit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* Why byte c cannot be in a what. */
int
imap_fail_char(struct imap_parser *p, unsigned char c, const char *what)
{
	if (c == 0)
		return imap_fail(p, IMAP_ERR_BAD, "NUL byte in %s", what);
	if (c >= 0x80)
		return imap_fail(p, IMAP_ERR_BAD, "8-bit byte in %s", what);
	if (c < 0x20 || c == 0x7f)
		return imap_fail(p, IMAP_ERR_BAD, "Control character in %s",
		    what);
	return imap_fail(p, IMAP_ERR_BAD, "Invalid character '%c' in %s", c,
	    what);
}

int
imap_delim(struct imap_parser *p, const char *what)
{
	unsigned char c;

	if (p->pos == p->seg.len)
		return 0;
	if (p->lit && p->pos == p->end)
		return imap_fail(p, IMAP_ERR_BAD,
		    "Missing space before literal");
	c = (unsigned char)p->seg.s[p->pos];
	if (c == ' ' || c == ')')
		return 0;
	return imap_fail_char(p, c, what);
}

int
imap_class_atom(unsigned char c)
{
	return imapquote_atom_char(c);
}

int
imap_class_astring(unsigned char c)
{
	return c == ']' || imapquote_atom_char(c);
}

int
imap_class_tag(unsigned char c)
{
	return c != '+' && imap_class_astring(c);
}

int
imap_class_list(unsigned char c)
{
	return c == '%' || c == '*' || imap_class_astring(c);
}

/* Bytes of class cls from pos on. */
size_t
imap_span(const struct imap_parser *p, int (*cls)(unsigned char))
{
	size_t i = p->pos;

	while (i < p->end && cls((unsigned char)p->seg.s[i]))
		i++;
	return i - p->pos;
}

/* A word of class cls at pos (after imap_sep) into w_r. */
int
imap_word(struct imap_parser *p, int (*cls)(unsigned char), const char *what,
    struct imap_str *w_r)
{
	size_t n = imap_span(p, cls);
	char *d, c;

	if (n == 0) {
		c = p->pos < p->end ? p->seg.s[p->pos] : '{';
		if (c == '\0' || strchr("\"({)", c) == NULL)
			return imap_fail_char(p, (unsigned char)c, what);
		return imap_fail(p, IMAP_ERR_BAD, "Expected %s", what);
	}
	p->pos += n;
	if (imap_delim(p, what) < 0)
		return -1;
	if ((d = imap_strdup(p, p->seg.s + p->pos - n, n)) == NULL)
		return -1;
	w_r->s = d;
	w_r->len = n;
	p->sep = IMAP_SEP_NEEDED;
	return 0;
}

int
imap_quoted_at(struct imap_parser *p, struct imap_str *s_r)
{
	const unsigned char *s = (const unsigned char *)p->seg.s;
	size_t i, len = 0, o;
	int eight = 0;
	char *d;

	for (i = p->pos + 1; i < p->seg.len && s[i] != '"'; i++, len++) {
		if (s[i] == '\\') {
			if (++i == p->seg.len)
				break;
			if (s[i] != '\\' && s[i] != '"')
				return imap_fail(p, IMAP_ERR_BAD,
				    "Invalid escape in quoted string");
		} else if (s[i] == 0 || s[i] == '\r' || s[i] == '\n')
			return imap_fail_char(p, s[i], "quoted string");
		else if (s[i] >= 0x80) {
			if (!p->utf8)
				return imap_fail(p, IMAP_ERR_BAD, "8-bit byte "
				    "in quoted string (use a literal)");
			eight = 1;
		}
	}
	if (i >= p->seg.len)
		return imap_fail(p, IMAP_ERR_BAD, "Unterminated quoted string");
	if ((d = imap_alloc(p, len + 1)) == NULL)
		return -1;
	for (i = p->pos + 1, o = 0; o < len; i++) {
		if (s[i] == '\\')
			i++;
		d[o++] = (char)s[i];
	}
	d[len] = '\0';
	if (eight && !smtp_utf8_valid(d, len))
		return imap_fail(p, IMAP_ERR_BAD,
		    "Invalid UTF-8 in quoted string");
	p->pos = i + 1;
	if (p->pos < p->seg.len && p->seg.s[p->pos] != ' ' &&
	    p->seg.s[p->pos] != ')')
		return imap_fail(p, IMAP_ERR_BAD,
		    "Missing space after quoted string");
	s_r->s = d;
	s_r->len = len;
	p->sep = IMAP_SEP_NEEDED;
	return 0;
}


/* Does a string (quoted or literal) start at pos? */
static int
imap_at_string(const struct imap_parser *p)
{
	const char *s = p->seg.s + p->pos;

	return (p->lit && p->pos == p->end) || s[0] == '"' || s[0] == '{' ||
	    (s[0] == '~' && s[1] == '{');
}

/* A string (quoted or literal) at pos. */
static int
imap_string_at(struct imap_parser *p, struct imap_str *s_r)
{
	if (p->lit && p->pos == p->end)
		return imap_literal_mem(p, 0, s_r);
	if (p->seg.s[p->pos] == '"')
		return imap_quoted_at(p, s_r);
	if (p->seg.s[p->pos] == '{' || p->seg.s[p->pos] == '~')
		return imap_literal_check(p, 0, 0);
	return imap_fail(p, IMAP_ERR_BAD, "Expected a string");
}

int
imap_astring_at(struct imap_parser *p, struct imap_str *s_r)
{
	if (imap_at_string(p))
		return imap_string_at(p, s_r);
	return imap_word(p, imap_class_astring, "astring", s_r);
}

int
imap_arg_string(struct imap_parser *p, struct imap_str *s_r)
{
	if (imap_sep(p) < 0)
		return -1;
	return imap_string_at(p, s_r);
}

int
imap_arg_astring(struct imap_parser *p, struct imap_str *s_r)
{
	if (imap_sep(p) < 0)
		return -1;
	return imap_astring_at(p, s_r);
}

int
imap_arg_nstring(struct imap_parser *p, struct imap_str *s_r)
{
	if (imap_sep(p) < 0)
		return -1;
	if (p->end - p->pos >= 3 &&
	    strncasecmp(p->seg.s + p->pos, "NIL", 3) == 0 &&
	    !imap_class_atom((unsigned char)p->seg.s[p->pos + 3])) {
		p->pos += 3;
		if (imap_delim(p, "NIL") < 0)
			return -1;
		s_r->s = NULL;
		s_r->len = 0;
		p->sep = IMAP_SEP_NEEDED;
		return 0;
	}
	return imap_string_at(p, s_r);
}

int
imap_arg_mailbox(struct imap_parser *p, struct imap_str *s_r)
{
	if (imap_arg_astring(p, s_r) < 0)
		return -1;
	if (s_r->len == 5 && strcasecmp(s_r->s, "INBOX") == 0)
		s_r->s = "INBOX";
	return 0;
}

int
imap_arg_list_mailbox(struct imap_parser *p, struct imap_str *s_r)
{
	if (imap_sep(p) < 0)
		return -1;
	if (imap_at_string(p))
		return imap_string_at(p, s_r);
	return imap_word(p, imap_class_list, "mailbox pattern", s_r);
}

int
imap_arg_atom(struct imap_parser *p, struct imap_str *a_r)
{
	if (imap_sep(p) < 0)
		return -1;
	return imap_word(p, imap_class_atom, "atom", a_r);
}

int
imap_arg_flag(struct imap_parser *p, struct imap_str *f_r)
{
	size_t start;
	char *d;

	if (imap_sep(p) < 0)
		return -1;
	if (p->seg.s[p->pos] != '\\')
		return imap_word(p, imap_class_atom, "flag", f_r);
	start = p->pos++;
	if (imap_span(p, imap_class_atom) == 0)
		return imap_fail(p, IMAP_ERR_BAD, "Invalid flag");
	p->pos += imap_span(p, imap_class_atom);
	if (imap_delim(p, "flag") < 0)
		return -1;
	if ((d = imap_strdup(p, p->seg.s + start, p->pos - start)) == NULL)
		return -1;
	f_r->s = d;
	f_r->len = p->pos - start;
	p->sep = IMAP_SEP_NEEDED;
	return 0;
}

/* A run of digits as a number of at most max.  Returns 0 or -1. */
static int
imap_digits(struct imap_parser *p, uint64_t max, uint64_t *n_r)
{
	struct imap_str w;
	uint64_t v = 0;
	size_t i;

	if (imap_sep(p) < 0)
		return -1;
	if (!imap_isdigit((unsigned char)p->seg.s[p->pos]))
		return imap_fail(p, IMAP_ERR_BAD, "Expected a number");
	if (imap_word(p, imap_class_atom, "number", &w) < 0)
		return -1;
	for (i = 0; i < w.len; i++) {
		if (!imap_isdigit((unsigned char)w.s[i]))
			return imap_fail(p, IMAP_ERR_BAD, "Invalid number");
		if (v > (max - (uint64_t)(w.s[i] - '0')) / 10)
			return imap_fail(p, IMAP_ERR_BAD, "Number too big");
		v = v * 10 + (uint64_t)(w.s[i] - '0');
	}
	*n_r = v;
	return 0;
}

int
imap_arg_number(struct imap_parser *p, uint32_t *n_r)
{
	uint64_t v;

	if (imap_digits(p, UINT32_MAX, &v) < 0)
		return -1;
	*n_r = (uint32_t)v;
	return 0;
}

int
imap_arg_nz_number(struct imap_parser *p, uint32_t *n_r)
{
	if (imap_arg_number(p, n_r) < 0)
		return -1;
	if (*n_r == 0)
		return imap_fail(p, IMAP_ERR_BAD, "Number must not be zero");
	return 0;
}

int
imap_arg_number64(struct imap_parser *p, uint64_t *n_r)
{
	return imap_digits(p, INT64_MAX, n_r);
}

static int
imap_class_seqset(unsigned char c)
{
	return imap_isdigit(c) || c == ':' || c == ',' || c == '*';
}

int
imap_arg_seqset(struct imap_parser *p, struct seqset *set)
{
	size_t n;

	if (imap_sep(p) < 0)
		return -1;
	n = imap_span(p, imap_class_seqset);
	if (n == 0)
		return imap_fail(p, IMAP_ERR_BAD, "Expected a sequence set");
	p->pos += n;
	if (imap_delim(p, "sequence set") < 0)
		return -1;
	if (seqset_parse(set, p->seg.s + p->pos - n, n,
	    p->lim.ranges_max) < 0) {
		if (errno == E2BIG)
			return imap_fail(p, IMAP_ERR_BAD,
			    "Too many ranges in sequence set (max %zu)",
			    p->lim.ranges_max);
		if (errno == ENOMEM)
			return imap_fail(p, IMAP_ERR_FATAL, "Out of memory");
		return imap_fail(p, IMAP_ERR_BAD, "Invalid sequence set");
	}
	p->sep = IMAP_SEP_NEEDED;
	return 0;
}

int
imap_arg_list_begin(struct imap_parser *p)
{
	if (imap_sep(p) < 0)
		return -1;
	if (p->pos >= p->end || p->seg.s[p->pos] != '(')
		return imap_fail(p, IMAP_ERR_BAD, "Expected (");
	if (++p->depth > p->lim.depth_max)
		return imap_fail(p, IMAP_ERR_BAD,
		    "Lists nested too deeply (max %u)", p->lim.depth_max);
	p->pos++;
	p->sep = IMAP_SEP_NONE;
	return 0;
}

int
imap_arg_list_end(struct imap_parser *p)
{
	if (imap_ensure(p) < 0)
		return -1;
	if (p->pos < p->end && p->seg.s[p->pos] == ' ' &&
	    p->pos + 1 < p->end && p->seg.s[p->pos + 1] == ')')
		return imap_fail(p, IMAP_ERR_BAD, "Unexpected space before )");
	if (p->depth == 0 || p->pos >= p->end || p->seg.s[p->pos] != ')')
		return imap_fail(p, IMAP_ERR_BAD, "Expected )");
	p->pos++;
	p->depth--;
	p->sep = IMAP_SEP_NEEDED;
	return 0;
}

int
imap_arg_eol(struct imap_parser *p)
{
	if (imap_ensure(p) < 0)
		return -1;
	if (p->pos == p->seg.len) {
		if (p->depth > 0)
			return imap_fail(p, IMAP_ERR_BAD, "Missing )");
		p->st = IMAP_ST_DONE;
		return 0;
	}
	if (p->pos + 1 == p->seg.len && p->seg.s[p->pos] == ' ')
		return imap_fail(p, IMAP_ERR_BAD,
		    "Unexpected space at end of line");
	if (p->seg.s[p->pos] == ')' && p->depth == 0)
		return imap_fail(p, IMAP_ERR_BAD, "Unexpected )");
	return imap_fail(p, IMAP_ERR_BAD, "Unexpected extra arguments");
}

/* Where the next token starts (past its space), for peeking. */
static size_t
imap_peek_pos(const struct imap_parser *p)
{
	size_t i = p->pos;

	if (p->sep == IMAP_SEP_NEEDED && i < p->end && p->seg.s[i] == ' ')
		i++;
	return i;
}

enum imap_tok
imap_arg_peek(struct imap_parser *p)
{
	size_t i;

	if (imap_ensure(p) < 0)
		return IMAP_TOK_ERROR;
	i = imap_peek_pos(p);
	if (p->lit && i == p->end)
		return IMAP_TOK_LITERAL;
	if (i >= p->seg.len)
		return IMAP_TOK_EOL;
	switch (p->seg.s[i]) {
	case '(':
		return IMAP_TOK_LIST;
	case ')':
		return IMAP_TOK_LIST_END;
	case '"':
		return IMAP_TOK_QUOTED;
	case '{':
		return IMAP_TOK_LITERAL;
	case '~':
		if (i + 1 < p->seg.len && p->seg.s[i + 1] == '{')
			return IMAP_TOK_LITERAL;
		return IMAP_TOK_ATOM;
	default:
		return IMAP_TOK_ATOM;
	}
}

int
imap_arg_peek_char(struct imap_parser *p)
{
	size_t i;

	if (imap_ensure(p) < 0)
		return -1;
	i = imap_peek_pos(p);
	if (i >= p->end)
		return -1;
	return (unsigned char)p->seg.s[i];
}
