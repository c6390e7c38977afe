/* SPDX-License-Identifier: ISC */
#include "rfc5322.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int
is_wsp(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static int
is_blank(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static unsigned char
lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

int
rfc5322_unfold(const char *s, size_t n, struct str *out)
{
	size_t i = 0, start = 0, brk;

	while (i < n) {
		if (s[i] != '\n' && !(s[i] == '\r' && i + 1 < n &&
		    s[i + 1] == '\n')) {
			i++;
			continue;
		}
		brk = i;
		i += s[i] == '\r' ? 2 : 1;
		if (i == n || is_wsp((unsigned char)s[i])) {
			if (str_append(out, s + start, brk - start) < 0)
				return -1;
			start = i;
		}
	}
	return str_append(out, s + start, n - start);
}

size_t
rfc5322_field_name(const char *s, size_t n, size_t *value_r)
{
	size_t i, end;
	unsigned char c;

	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c == ':' || is_wsp(c))
			break;
		if (c < 33 || c > 126)
			return 0;
	}
	end = i;
	while (i < n && is_wsp((unsigned char)s[i]))
		i++;
	if (end == 0 || i >= n || s[i] != ':')
		return 0;
	*value_r = i + 1;
	return end;
}

int
rfc5322_field_is(const char *s, size_t n, const char *name, size_t *value_r)
{
	size_t len, v, k;

	len = rfc5322_field_name(s, n, &v);
	if (len == 0 || len != strlen(name))
		return 0;
	for (k = 0; k < len; k++)
		if (lower((unsigned char)s[k]) != lower((unsigned char)name[k]))
			return 0;
	*value_r = v;
	return 1;
}

void
rfc5322_trim(const char **s, size_t *n)
{
	const char *p = *s;
	size_t len = *n;

	while (len > 0 && is_blank((unsigned char)*p)) {
		p++;
		len--;
	}
	while (len > 0 && is_blank((unsigned char)p[len - 1]))
		len--;
	*s = p;
	*n = len;
}

/* s[i] is '(': the offset past the matching ')', or n. */
static size_t
comment_end(const char *s, size_t n, size_t i)
{
	size_t depth = 0;

	for (; i < n; i++) {
		if (s[i] == '\\')
			i++;
		else if (s[i] == '(')
			depth++;
		else if (s[i] == ')' && --depth == 0)
			return i + 1;
	}
	return n;
}

size_t
rfc5322_skip_cfws(const char *s, size_t n, size_t i)
{
	while (i < n) {
		if (is_blank((unsigned char)s[i]))
			i++;
		else if (s[i] == '(')
			i = comment_end(s, n, i);
		else
			break;
	}
	return i;
}

int
rfc5322_quoted(const char *s, size_t n, size_t *ip, struct str *out)
{
	size_t i = *ip + 1, start = i;

	while (i < n && s[i] != '"') {
		if (s[i] == '\\' && i + 1 < n) {
			if (out && str_append(out, s + start, i - start) < 0)
				return -1;
			start = i + 1;
			i += 2;
			continue;
		}
		i++;
	}
	if (out && str_append(out, s + start, i - start) < 0)
		return -1;
	*ip = i < n ? i + 1 : n;
	return 0;
}

/* ---- address lists ---- */

enum tok_type { TK_END, TK_ATOM, TK_QUOTED, TK_DOMLIT, TK_SPECIAL };

struct tok {
	enum tok_type type;
	char c;			/* the character of a TK_SPECIAL */
	int ws;			/* CFWS came before it */
	size_t b, e;		/* its bytes in the source */
};

struct alex {
	const char *s;
	size_t n, i;
	int capture;		/* record the first comment */
	size_t cb, ce;		/* that comment, parentheses included */
};

struct aparse {
	struct alex lx;
	struct rfc5322_addrlist *list;
	size_t base;		/* list->n at the start */
	size_t max;
	int in_group;
};

static int
is_special(unsigned char c)
{
	switch (c) {
	case '(': case ')': case '<': case '>': case '[': case ']':
	case ':': case ';': case '@': case ',': case '.': case '"':
		return 1;
	}
	return 0;
}

static size_t
lex_cfws(struct alex *lx, size_t i)
{
	size_t e;

	while (i < lx->n) {
		if (is_blank((unsigned char)lx->s[i])) {
			i++;
			continue;
		}
		if (lx->s[i] != '(')
			break;
		e = comment_end(lx->s, lx->n, i);
		if (lx->capture && lx->cb == lx->ce && e - i > 2) {
			lx->cb = i;
			lx->ce = e;
		}
		i = e;
	}
	return i;
}

static void
lex_next(struct alex *lx, struct tok *t)
{
	size_t j = lex_cfws(lx, lx->i);
	unsigned char c;

	t->ws = j > lx->i;
	t->b = j;
	t->type = TK_END;
	t->c = 0;
	if (j < lx->n) {
		c = (unsigned char)lx->s[j];
		if (c == '"') {
			t->type = TK_QUOTED;
			(void)rfc5322_quoted(lx->s, lx->n, &j, NULL);
		} else if (c == '[') {
			t->type = TK_DOMLIT;
			for (j++; j < lx->n && lx->s[j] != ']'; j++)
				if (lx->s[j] == '\\' && j + 1 < lx->n)
					j++;
			if (j < lx->n)
				j++;
		} else if (is_special(c)) {
			t->type = TK_SPECIAL;
			t->c = (char)c;
			j++;
		} else {
			t->type = TK_ATOM;
			while (j < lx->n &&
			    !is_blank((unsigned char)lx->s[j]) &&
			    !is_special((unsigned char)lx->s[j]))
				j++;
		}
	}
	t->e = j;
	lx->i = j;
}

static void
lex_unread(struct alex *lx, const struct tok *t)
{
	lx->i = t->b;
}

static int
is_sp(const struct tok *t, char c)
{
	return t->type == TK_SPECIAL && t->c == c;
}

static int
is_word(const struct tok *t)
{
	return t->type == TK_ATOM || t->type == TK_QUOTED || is_sp(t, '.');
}

static int
tok_append(const struct alex *lx, const struct tok *t, struct str *out)
{
	size_t b = t->b;

	if (t->type == TK_QUOTED)
		return rfc5322_quoted(lx->s, lx->n, &b, out);
	if (t->type == TK_SPECIAL)
		return str_appendc(out, t->c);
	return str_append(out, lx->s + t->b, t->e - t->b);
}

/* Read words (atoms, quoted strings, dots); *start_r is the lexer before the
 * first, *count_r their number, *stop_r the token after them (consumed). */
static void
words(struct alex *lx, struct alex *start_r, size_t *count_r,
    struct tok *stop_r)
{
	*start_r = *lx;
	*count_r = 0;
	for (;;) {
		lex_next(lx, stop_r);
		if (!is_word(stop_r))
			return;
		(*count_r)++;
	}
}

/* Append count words read again from start: spaced (a phrase: one SP where
 * CFWS was) or not (a local part). */
static int
words_text(const struct alex *start, size_t count, int spaced,
    struct str *out)
{
	struct alex lx = *start;
	struct tok t;
	size_t k;

	lx.capture = 0;
	for (k = 0; k < count; k++) {
		lex_next(&lx, &t);
		if (spaced && k > 0 && t.ws && str_appendc(out, ' ') < 0)
			return -1;
		if (tok_append(&lx, &t, out) < 0)
			return -1;
	}
	return 0;
}

/* Read a domain (atoms, dots, literals) into out; *stop_r gets the token
 * after it (consumed). */
static int
domain(struct alex *lx, struct str *out, struct tok *stop_r)
{
	int dot = 1;

	for (;;) {
		lex_next(lx, stop_r);
		if (is_sp(stop_r, '.'))
			dot = 1;
		else if (dot && (stop_r->type == TK_ATOM ||
		    stop_r->type == TK_DOMLIT))
			dot = 0;
		else
			return 0;
		if (tok_append(lx, stop_r, out) < 0)
			return -1;
	}
}

/* The text of the comment s[b..e), parentheses removed, trimmed. */
static int
comment_text(const char *s, size_t b, size_t e, struct str *out)
{
	const char *p = s + b + 1;
	size_t n = e - b - 1, i;

	if (n > 0 && p[n - 1] == ')')
		n--;
	rfc5322_trim(&p, &n);
	for (i = 0; i < n; i++) {
		if (p[i] == '\\' && i + 1 < n)
			i++;
		if (str_appendc(out, p[i]) < 0)
			return -1;
	}
	return 0;
}

static struct rfc5322_addr *
addr_new(struct rfc5322_addrlist *l, enum rfc5322_addr_kind kind)
{
	struct rfc5322_addr *a, *v;
	size_t ncap;

	if (l->n == l->cap) {
		ncap = l->cap ? l->cap * 2 : 8;
		if (ncap > SIZE_MAX / sizeof(*v)) {
			errno = ENOMEM;
			return NULL;
		}
		v = realloc(l->v, ncap * sizeof(*v));
		if (v == NULL) {
			errno = ENOMEM;
			return NULL;
		}
		l->v = v;
		l->cap = ncap;
	}
	a = &l->v[l->n++];
	a->kind = kind;
	str_init(&a->name, 0);
	str_init(&a->route, 0);
	str_init(&a->mailbox, 0);
	str_init(&a->host, 0);
	return a;
}

/* Finish a mailbox: the defaults for what is missing, the comment as the
 * name when there is no display name. */
static int
mailbox_done(struct aparse *ap, struct rfc5322_addr *a)
{
	if (a->mailbox.len == 0 &&
	    str_appends(&a->mailbox, RFC5322_MISSING_MAILBOX) < 0)
		return -1;
	if (a->host.len == 0 &&
	    str_appends(&a->host, RFC5322_MISSING_DOMAIN) < 0)
		return -1;
	if (a->name.len == 0 && ap->lx.cb != ap->lx.ce)
		return comment_text(ap->lx.s, ap->lx.cb, ap->lx.ce, &a->name);
	return 0;
}

/* An obsolete route "@a,@b:" starting at *t (nothing unless *t is '@' or
 * ','); *t gets the token after it.  0 done, 1 malformed, -1 error. */
static int
route(struct aparse *ap, struct str *out, struct tok *t)
{
	if (!is_sp(t, '@') && !is_sp(t, ','))
		return 0;
	while (is_sp(t, '@') || is_sp(t, ',')) {
		if (is_sp(t, ',')) {
			lex_next(&ap->lx, t);
			continue;
		}
		if ((out->len > 0 && str_appendc(out, ',') < 0) ||
		    str_appendc(out, '@') < 0 || domain(&ap->lx, out, t) < 0)
			return -1;
	}
	if (!is_sp(t, ':'))
		return 1;
	lex_next(&ap->lx, t);
	return 0;
}

static int
is_sep(const struct tok *t)
{
	return t->type == TK_END || is_sp(t, ',') || is_sp(t, ';');
}

/* After '<': [route] addr-spec '>'.  1 added (or "<>"), 0 malformed, -1
 * error. */
static int
angle(struct aparse *ap, const struct alex *nstart, size_t ncount)
{
	struct rfc5322_addr *a;
	struct alex lstart;
	struct str rt = STR_INIT;
	struct tok t, after;
	size_t lcount;
	int r;

	lex_next(&ap->lx, &t);
	if ((r = route(ap, &rt, &t)) != 0) {
		r = r < 0 ? -1 : 0;
		goto out;
	}
	lex_unread(&ap->lx, &t);
	words(&ap->lx, &lstart, &lcount, &t);
	if (!is_sp(&t, '@') && !is_sp(&t, '>') && t.type != TK_END)
		goto out;
	r = 1;
	if (lcount == 0 && rt.len == 0 && !is_sp(&t, '@'))
		goto out;	/* "<>" */
	r = -1;
	if ((a = addr_new(ap->list, RFC5322_ADDR_MAILBOX)) == NULL ||
	    words_text(nstart, ncount, 1, &a->name) < 0 ||
	    words_text(&lstart, lcount, 0, &a->mailbox) < 0 ||
	    str_append(&a->route, rt.s, rt.len) < 0)
		goto out;
	if (is_sp(&t, '@') && domain(&ap->lx, &a->host, &t) < 0)
		goto out;
	if (!is_sp(&t, '>'))
		lex_unread(&ap->lx, &t);
	/* look past the '>' so that a comment there is seen */
	lex_next(&ap->lx, &after);
	lex_unread(&ap->lx, &after);
	r = mailbox_done(ap, a) < 0 ? -1 : 1;
out:
	if (r == 0 && is_sep(&t))
		lex_unread(&ap->lx, &t);
	str_free(&rt);
	return r;
}

/* One address or group start.  2 group start, 1 added, 0 malformed or
 * empty, -1 error. */
static int
address(struct aparse *ap)
{
	struct rfc5322_addr *a;
	struct alex start;
	struct tok t;
	size_t count;

	words(&ap->lx, &start, &count, &t);
	if (is_sp(&t, ':')) {
		if (ap->in_group)
			return 0;
		if ((a = addr_new(ap->list, RFC5322_ADDR_GROUP_START)) ==
		    NULL || words_text(&start, count, 1, &a->name) < 0)
			return -1;
		ap->in_group = 1;
		return 2;
	}
	if (is_sp(&t, '<'))
		return angle(ap, &start, count);
	if (!is_sp(&t, '@') && !is_sp(&t, ',') && !is_sp(&t, ';') &&
	    t.type != TK_END)
		return 0;
	if (count == 0 && !is_sp(&t, '@')) {
		lex_unread(&ap->lx, &t);
		return 0;
	}
	if ((a = addr_new(ap->list, RFC5322_ADDR_MAILBOX)) == NULL ||
	    words_text(&start, count, 0, &a->mailbox) < 0)
		return -1;
	if (is_sp(&t, '@') && domain(&ap->lx, &a->host, &t) < 0)
		return -1;
	lex_unread(&ap->lx, &t);
	return mailbox_done(ap, a) < 0 ? -1 : 1;
}

/* Skip to the next ',' or ';' (not consumed) or the end. */
static void
skip_junk(struct aparse *ap)
{
	struct tok t;

	for (;;) {
		lex_next(&ap->lx, &t);
		if (t.type == TK_END || is_sp(&t, ',') || is_sp(&t, ';')) {
			lex_unread(&ap->lx, &t);
			return;
		}
	}
}

int
rfc5322_addresses(const char *s, size_t n, size_t max,
    struct rfc5322_addrlist *list)
{
	struct aparse ap;
	struct tok t;
	int r;

	memset(&ap, 0, sizeof(ap));
	ap.lx.s = s;
	ap.lx.n = n;
	ap.lx.capture = 1;
	ap.list = list;
	ap.base = list->n;
	ap.max = max;
	for (;;) {
		ap.lx.cb = ap.lx.ce = 0;
		lex_next(&ap.lx, &t);
		if (t.type == TK_END)
			break;
		if (is_sp(&t, ','))
			continue;
		if (is_sp(&t, ';')) {
			if (ap.in_group && addr_new(list,
			    RFC5322_ADDR_GROUP_END) == NULL)
				return -1;
			ap.in_group = 0;
			continue;
		}
		lex_unread(&ap.lx, &t);
		if (list->n - ap.base >= max) {
			list->truncated = 1;
			break;
		}
		if ((r = address(&ap)) < 0)
			return -1;
		if (r != 2)
			skip_junk(&ap);
	}
	if (ap.in_group && addr_new(list, RFC5322_ADDR_GROUP_END) == NULL)
		return -1;
	return 0;
}

void
rfc5322_addrlist_free(struct rfc5322_addrlist *list)
{
	size_t k;

	for (k = 0; k < list->n; k++) {
		str_free(&list->v[k].name);
		str_free(&list->v[k].route);
		str_free(&list->v[k].mailbox);
		str_free(&list->v[k].host);
	}
	free(list->v);
	list->v = NULL;
	list->n = list->cap = 0;
	list->truncated = 0;
}
