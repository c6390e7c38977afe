/* SPDX-License-Identifier: ISC */
#include "alias.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "qenv.h"

/* One expansion in progress. */
struct alias_walk {
	const struct alias_ctx *ctx;
	struct alias_list *out;
	struct str *err;
	const char *stack[ALIAS_DEPTH_MAX + 1];	/* the aliases above */
	size_t depth;
	size_t max;
	int top_alias;
};

static char
alias_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static int
alias_space(char c)
{
	return c == ' ' || c == '\t';
}

int
alias_canon(const struct alias_ctx *ctx, const char *addr, struct str *out)
{
	const char *at = strrchr(addr, '@'), *p;
	size_t llen, i;
	int local;

	str_clear(out);
	for (p = addr; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			break;
	if (*addr == '\0' || *p != '\0' || strlen(addr) > QENV_ADDR_MAX ||
	    at == addr || (at != NULL && at[1] == '\0')) {
		errno = EINVAL;
		return -1;
	}
	llen = at != NULL ? (size_t)(at - addr) : strlen(addr);
	if (str_append(out, addr, llen) < 0 || str_appendc(out, '@') < 0 ||
	    str_appends(out, at != NULL ? at + 1 : ctx->domain) < 0)
		return -1;
	for (i = llen + 1; i < out->len; i++)
		out->s[i] = alias_lower(out->s[i]);
	if ((local = ctx->is_local(ctx->arg, out->s + llen + 1)) < 0) {
		errno = EIO;	/* a lookup error is temporary */
		return -1;
	}
	if (local)
		for (i = 0; i < llen; i++)
			out->s[i] = alias_lower(out->s[i]);
	return local;
}

void
alias_list_free(struct alias_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->t[i].addr);
	free(l->t);
	memset(l, 0, sizeof *l);
}

/* Add a final target unless it is there already. */
static int
alias_add(struct alias_walk *w, const char *addr, int local, int self)
{
	struct alias_list *l = w->out;
	struct alias_target *t;
	size_t i, ncap;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->t[i].addr, addr) == 0)
			return 0;
	if (l->n >= w->max) {
		str_appendf(w->err, "alias expands to more than %zu "
		    "addresses", w->max);
		errno = E2BIG;
		return -1;
	}
	if (l->n == l->cap) {
		ncap = l->cap ? l->cap * 2 : 8;
		if ((t = reallocarray(l->t, ncap, sizeof *t)) == NULL)
			goto nomem;
		l->t = t;
		l->cap = ncap;
	}
	t = &l->t[l->n];
	if ((t->addr = strdup(addr)) == NULL)
		goto nomem;
	t->local = local;
	t->aliased = w->depth > 0;
	t->self = self;
	l->n++;
	return 0;
nomem:
	str_appendf(w->err, "out of memory");
	errno = ENOMEM;
	return -1;
}

/* Look the canonical local address up: NAME@DOMAIN, then NAME. */
static int
alias_lookup(struct alias_walk *w, const char *addr, struct str *val)
{
	struct str key = STR_INIT;
	const char *at = strrchr(addr, '@');
	int r, saved;

	r = w->ctx->lookup(w->ctx->arg, addr, val);
	if (r == 0) {
		if (str_append(&key, addr, (size_t)(at - addr)) < 0)
			r = -1;
		else
			r = w->ctx->lookup(w->ctx->arg, key.s, val);
	}
	saved = errno;
	str_free(&key);
	if (r < 0) {
		str_appendf(w->err, "aliases: looking up %s: %s", addr,
		    strerror(saved));
		saved = EIO;	/* whatever went wrong, it is temporary */
	}
	errno = saved;
	return r;
}

static int alias_walk(struct alias_walk *w, const char *addr, int local);

/* Expand one target text (trimmed, maybe in <>) of the alias addr. */
static int
alias_target(struct alias_walk *w, const char *alias, const char *p,
    size_t n)
{
	struct str t = STR_INIT, canon = STR_INIT;
	int r = -1, local;

	if (n >= 2 && p[0] == '<' && p[n - 1] == '>') {
		p++;
		n -= 2;
	}
	if (n > 0 && (p[0] == '|' || p[0] == '/' || (n >= 9 &&
	    strncasecmp(p, ":include:", 9) == 0))) {
		str_appendf(w->err, "alias %s: program and file targets are "
		    "not supported", alias);
		errno = EINVAL;
		goto out;
	}
	if (str_append(&t, p, n) < 0)
		goto out;
	if ((local = alias_canon(w->ctx, t.s, &canon)) < 0) {
		if (errno == EINVAL)
			str_appendf(w->err, "alias %s: invalid target '%s'",
			    alias, t.s);
		else
			str_appendf(w->err, "alias %s: %s", alias,
			    strerror(errno));
		goto out;
	}
	r = alias_walk(w, canon.s, local);
out:
	str_free(&t);
	str_free(&canon);
	return r;
}

/* Expand every comma-separated target of the alias addr (value val). */
static int
alias_targets(struct alias_walk *w, const char *addr, const char *val)
{
	const char *p = val, *e;
	size_t n;
	int any = 0;

	while (*p != '\0') {
		n = strcspn(p, ",");
		e = p + n;
		while (p < e && alias_space(*p))
			p++;
		while (e > p && alias_space(e[-1]))
			e--;
		if (e > p) {
			any = 1;
			if (alias_target(w, addr, p, (size_t)(e - p)) < 0)
				return -1;
		}
		p += strcspn(p, ",");
		if (*p == ',')
			p++;
	}
	if (!any) {
		str_appendf(w->err, "alias %s has no targets", addr);
		errno = EINVAL;
		return -1;
	}
	return 0;
}

static int
alias_walk(struct alias_walk *w, const char *addr, int local)
{
	struct str val = STR_INIT;
	size_t i;
	int r;

	if (!local)
		return alias_add(w, addr, 0, 0);
	for (i = 0; i < w->depth; i++)
		if (strcmp(w->stack[i], addr) == 0)
			return alias_add(w, addr, 1, 1);
	if ((r = alias_lookup(w, addr, &val)) <= 0) {
		str_free(&val);
		return r < 0 ? -1 : alias_add(w, addr, 1, 0);
	}
	if (w->depth == 0)
		w->top_alias = 1;
	if (w->depth >= ALIAS_DEPTH_MAX) {
		str_free(&val);
		str_appendf(w->err, "aliases nested more than %d deep at %s",
		    ALIAS_DEPTH_MAX, addr);
		errno = ELOOP;
		return -1;
	}
	w->stack[w->depth++] = addr;
	r = alias_targets(w, addr, val.s != NULL ? val.s : "");
	w->depth--;
	str_free(&val);
	return r;
}

int
alias_expand(const struct alias_ctx *ctx, const char *addr,
    struct alias_list *out, struct str *err)
{
	struct alias_walk w;
	struct str canon = STR_INIT;
	int local, r, saved;

	alias_list_free(out);
	str_clear(err);
	memset(&w, 0, sizeof w);
	w.ctx = ctx;
	w.out = out;
	w.err = err;
	w.max = ctx->max_targets ? ctx->max_targets : ALIAS_TARGETS_MAX;
	if ((local = alias_canon(ctx, addr, &canon)) < 0) {
		saved = errno;
		if (saved == EINVAL)
			str_appendf(err, "invalid address '%s'", addr);
		else
			str_appendf(err, "%s: %s", addr, strerror(saved));
		str_free(&canon);
		errno = saved;
		return -1;
	}
	r = alias_walk(&w, canon.s, local);
	saved = errno;
	str_free(&canon);
	if (r < 0) {
		alias_list_free(out);
		errno = saved;
		return -1;
	}
	return w.top_alias;
}

void
alias_seen_free(struct alias_seen *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->addr[i]);
	free(s->addr);
	memset(s, 0, sizeof *s);
}

/* Remember one Delivered-To value (unfolded text in v). */
static int
alias_seen_add(struct alias_seen *s, const char *v, size_t n)
{
	char **na, *a;
	size_t i;

	while (n > 0 && (alias_space(*v) || *v == '<'))
		v++, n--;
	while (n > 0 && (alias_space(v[n - 1]) || v[n - 1] == '>' ||
	    v[n - 1] == '\r'))
		n--;
	if (n == 0 || n > QENV_ADDR_MAX || s->n >= ALIAS_SEEN_MAX)
		return 0;
	if ((na = reallocarray(s->addr, s->n + 1, sizeof *na)) == NULL)
		return -1;
	s->addr = na;
	if ((a = malloc(n + 1)) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		a[i] = alias_lower(v[i]);
	a[n] = '\0';
	s->addr[s->n++] = a;
	return 0;
}

/* Handle one whole (maybe folded) header field f of n bytes. */
static int
alias_seen_field(struct alias_seen *s, const char *f, size_t n)
{
	struct str v = STR_INIT;
	size_t i;
	int r = 0;

	if (n >= 9 && strncasecmp(f, "Received:", 9) == 0) {
		s->hops++;
		return 0;
	}
	if (n < 13 || strncasecmp(f, "Delivered-To:", 13) != 0)
		return 0;
	s->hops++;
	for (i = 13; i < n && r == 0; i++)
		if (f[i] != '\r' && f[i] != '\n')
			r = str_appendc(&v, f[i]);
	if (r == 0)
		r = alias_seen_add(s, str_cstr(&v), v.len);
	str_free(&v);
	return r;
}

int
alias_seen_scan(struct alias_seen *s, const char *msg, size_t len)
{
	const char *p = msg, *end = msg + len, *start, *nl;

	alias_seen_free(s);
	while (p < end) {
		start = p;
		if (start[0] == '\n' || (start[0] == '\r' && start + 1 < end &&
		    start[1] == '\n'))
			break;
		/* one field: its line and the continuation lines */
		do {
			nl = memchr(p, '\n', (size_t)(end - p));
			p = nl != NULL ? nl + 1 : end;
		} while (p < end && alias_space(*p));
		if (alias_seen_field(s, start, (size_t)(p - start)) < 0) {
			alias_seen_free(s);
			errno = ENOMEM;
			return -1;
		}
	}
	return 0;
}

int
alias_seen_has(const struct alias_seen *s, const char *addr)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (strcasecmp(s->addr[i], addr) == 0)
			return 1;
	return 0;
}
