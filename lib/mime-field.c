/* SPDX-License-Identifier: ISC */
/* mime: the Content-* header fields (RFC 2045, 2183, 2231, 3282). */
#include "mime-private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rfc5322.h"
#include "str.h"

int
mime_field_eqi(const char *s, size_t n, const char *z)
{
	size_t k;

	for (k = 0; k < n; k++) {
		unsigned char a = (unsigned char)s[k], b = (unsigned char)z[k];
		if (b == '\0')
			return 0;
		if (a >= 'A' && a <= 'Z')
			a += 32;
		if (b >= 'A' && b <= 'Z')
			b += 32;
		if (a != b)
			return 0;
	}
	return z[n] == '\0';
}

int
mime_field_text_is(const struct mime_text *t, const char *z)
{
	return t->s != NULL && mime_field_eqi(t->s, t->n, z);
}

int
mime_field_text_set(struct mime_text *t, const char *s, size_t n)
{
	char *c;

	if (n == SIZE_MAX || (c = malloc(n + 1)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	if (n)
		memcpy(c, s, n);
	c[n] = '\0';
	t->s = c;
	t->n = n;
	return 0;
}

void
mime_field_text_free(struct mime_text *t)
{
	free((void *)t->s);
	t->s = NULL;
	t->n = 0;
}

/* ---- Content-* fields ---- */

/* End of an RFC 2045 token starting at i. */
static size_t
mtoken(const char *s, size_t n, size_t i)
{
	unsigned char c;

	for (; i < n; i++) {
		c = (unsigned char)s[i];
		if (c <= ' ' || c == 127 || strchr("()<>@,;:\\\"/[]?=", c))
			break;
	}
	return i;
}

/* End of a parameter value written without quotes: lenient, it may hold
 * tspecials, as broken mailers write "name=a/b.txt". */
static size_t
mvalue(const char *s, size_t n, size_t i)
{
	unsigned char c;

	for (; i < n; i++) {
		c = (unsigned char)s[i];
		if (c <= ' ' || c == 127 || c == ';' || c == '(' || c == '"')
			break;
	}
	return i;
}

/* The next ';' outside quoted strings and comments, or n. */
static size_t
skip_param(const char *s, size_t n, size_t i)
{
	while (i < n && s[i] != ';') {
		if (s[i] == '"')
			(void)rfc5322_quoted(s, n, &i, NULL);
		else if (s[i] == '(')
			i = rfc5322_skip_cfws(s, n, i);
		else
			i++;
	}
	return i;
}

struct rawparam {
	struct str name, value;
};

/* Read "; attr=value" pairs from s[i..n) into raw (at most
 * MIME_PARAMS_MAX).  Malformed pairs are skipped. */
static int
params_raw(const char *s, size_t n, size_t i, struct rawparam *raw,
    size_t *cnt)
{
	struct rawparam *rp;
	size_t ab, e;

	for (;;) {
		i = rfc5322_skip_cfws(s, n, i);
		if (i >= n || *cnt == MIME_PARAMS_MAX)
			return 0;
		if (s[i] != ';') {
			i = skip_param(s, n, i);
			continue;
		}
		ab = i = rfc5322_skip_cfws(s, n, i + 1);
		e = mtoken(s, n, i);
		if (e > ab)
			i = rfc5322_skip_cfws(s, n, e);
		if (e == ab || i >= n || s[i] != '=') {
			i = skip_param(s, n, i);
			continue;
		}
		i = rfc5322_skip_cfws(s, n, i + 1);
		rp = &raw[*cnt];
		str_clear(&rp->name);
		str_clear(&rp->value);
		if (str_append(&rp->name, s + ab, e - ab) < 0)
			return -1;
		if (i < n && s[i] == '"') {
			if (rfc5322_quoted(s, n, &i, &rp->value) < 0)
				return -1;
		} else {
			e = mvalue(s, n, i);
			if (str_append(&rp->value, s + i, e - i) < 0)
				return -1;
			i = e;
		}
		(*cnt)++;
	}
}

/* "base*N" or "base*N*": 1 with the parts, else 0. */
static int
section_name(const struct str *name, size_t *baselen, unsigned *idx,
    int *enc)
{
	const char *s = name->s, *star = memchr(s, '*', name->len);
	size_t i, digits = 0;

	if (star == NULL || star == s)
		return 0;
	*baselen = (size_t)(star - s);
	*idx = 0;
	for (i = *baselen + 1; i < name->len && s[i] >= '0' && s[i] <= '9';
	    i++) {
		if (++digits > 3)
			return 0;
		*idx = *idx * 10 + (unsigned)(s[i] - '0');
	}
	if (digits == 0)
		return 0;
	*enc = i < name->len && s[i] == '*';
	return i + (size_t)*enc == name->len;
}

static int
same_base(const struct str *a, size_t alen, const struct str *b,
    size_t blen)
{
	size_t k;

	if (alen != blen)
		return 0;
	for (k = 0; k < alen; k++) {
		unsigned char x = (unsigned char)a->s[k];
		unsigned char y = (unsigned char)b->s[k];
		if (x >= 'A' && x <= 'Z')
			x += 32;
		if (y >= 'A' && y <= 'Z')
			y += 32;
		if (x != y)
			return 0;
	}
	return 1;
}

/* Append v to out, %-escaping what RFC 2231 attribute-char excludes. */
static int
pct_append(struct str *out, const struct str *v)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char c;
	size_t k;

	for (k = 0; k < v->len; k++) {
		c = (unsigned char)v->s[k];
		if (c > ' ' && c < 127 && !strchr("*'%()<>@,;:\\\"/[]?=", c)) {
			if (str_appendc(out, (char)c) < 0)
				return -1;
		} else if (str_appendc(out, '%') < 0 ||
		    str_appendc(out, hex[c >> 4]) < 0 ||
		    str_appendc(out, hex[c & 15]) < 0)
			return -1;
	}
	return 0;
}

static int
param_set(struct mime_param *o, const struct str *name,
    const struct str *value)
{
	if (mime_field_text_set(&o->name, str_cstr(name), name->len) < 0)
		return -1;
	if (mime_field_text_set(&o->value, str_cstr(value), value->len) < 0) {
		mime_field_text_free(&o->name);
		return -1;
	}
	return 0;
}

/* Join the RFC 2231 pieces of base raw[k] into *o.  0 when there is no
 * piece 0 (nothing made), 1 made, -1 error. */
static int
join_pieces(struct rawparam *raw, size_t cnt, size_t k, struct mime_param *o)
{
	struct str name = STR_INIT, val = STR_INIT;
	size_t blen, jb, j, first[MIME_PARAMS_MAX];
	unsigned idx, want, npieces = 0, ji;
	int enc, any = 0, je = 0, r = -1;

	(void)section_name(&raw[k].name, &blen, &idx, &enc);
	for (want = 0; npieces < MIME_PARAMS_MAX; want++, npieces++) {
		for (j = 0; j < cnt; j++)
			if (section_name(&raw[j].name, &jb, &ji, &je) &&
			    ji == want && same_base(&raw[j].name, jb,
			    &raw[k].name, blen))
				break;
		if (j == cnt)
			break;
		first[npieces] = j;
		any |= je;
	}
	if (npieces == 0)
		return 0;
	for (j = 0; j < npieces; j++) {
		struct rawparam *rp = &raw[first[j]];
		int pe = rp->name.s[rp->name.len - 1] == '*';
		if ((any && !pe) ? pct_append(&val, &rp->value) < 0 :
		    str_append(&val, rp->value.s, rp->value.len) < 0)
			goto out;
	}
	if (str_append(&name, raw[first[0]].name.s, blen) < 0 ||
	    (any && str_appendc(&name, '*') < 0) ||
	    param_set(o, &name, &val) < 0)
		goto out;
	r = 1;
out:
	str_free(&name);
	str_free(&val);
	return r;
}

/* Parse the parameters of s[i..n) into a new array *v_r of *n_r. */
static int
params_parse(const char *s, size_t n, size_t i, struct mime_param **v_r,
    size_t *n_r)
{
	struct rawparam raw[MIME_PARAMS_MAX];
	struct mime_param *v = NULL;
	size_t cnt = 0, k, j, blen, jb;
	unsigned idx, ji;
	int enc, je = 0, r = -1;

	for (k = 0; k < MIME_PARAMS_MAX; k++) {
		str_init(&raw[k].name, 0);
		str_init(&raw[k].value, 0);
	}
	*v_r = NULL;
	*n_r = 0;
	if (params_raw(s, n, i, raw, &cnt) < 0)
		goto out;
	if (cnt && (v = calloc(cnt, sizeof(*v))) == NULL) {
		errno = ENOMEM;
		goto out;
	}
	for (k = 0; k < cnt; k++) {
		if (!section_name(&raw[k].name, &blen, &idx, &enc)) {
			if (param_set(&v[*n_r], &raw[k].name,
			    &raw[k].value) < 0)
				goto out;
			(*n_r)++;
			continue;
		}
		for (j = 0; j < k; j++)
			if (section_name(&raw[j].name, &jb, &ji, &je) &&
			    same_base(&raw[j].name, jb, &raw[k].name, blen))
				break;
		if (j < k)
			continue;	/* joined already */
		if ((je = join_pieces(raw, cnt, k, &v[*n_r])) < 0)
			goto out;
		*n_r += (size_t)je;
	}
	r = 0;
out:
	for (k = 0; k < MIME_PARAMS_MAX; k++) {
		str_free(&raw[k].name);
		str_free(&raw[k].value);
	}
	*v_r = v;
	return r;
}

static void
params_free(struct mime_param **v, size_t n)
{
	size_t k;

	if (*v == NULL)
		return;
	for (k = 0; k < n; k++) {
		mime_field_text_free(&(*v)[k].name);
		mime_field_text_free(&(*v)[k].value);
	}
	free(*v);
	*v = NULL;
}

/* A token at the start of s[0..n) (after CFWS) into t; its end in *end_r.
 * 0 when there is none. */
static int
first_token(const char *s, size_t n, struct mime_text *t, size_t *end_r)
{
	size_t i = rfc5322_skip_cfws(s, n, 0), e = mtoken(s, n, i);

	if (e == i)
		return 0;
	*end_r = e;
	return mime_field_text_set(t, s + i, e - i) < 0 ? -1 : 1;
}

void
mime_field_content_clear(struct entity *e)
{
	size_t k;

	mime_field_text_free(&e->ct.type);
	mime_field_text_free(&e->ct.subtype);
	params_free(&e->params, e->ct.nparams);
	mime_field_text_free(&e->ct.encoding);
	mime_field_text_free(&e->ct.disposition);
	params_free(&e->dparams, e->ct.ndparams);
	for (k = 0; k < e->ct.nlanguages; k++)
		mime_field_text_free(&e->langs[k]);
	free(e->langs);
	e->langs = NULL;
	memset(&e->ct, 0, sizeof(e->ct));
}

/* Type and parameters from Content-Type.  1 parsed, 0 invalid, -1 error. */
static int
ctype_parse(struct entity *e, const char *s, size_t n)
{
	size_t i, t;

	i = rfc5322_skip_cfws(s, n, 0);
	t = mtoken(s, n, i);
	if (t == i || mime_field_text_set(&e->ct.type, s + i, t - i) < 0)
		return t == i ? 0 : -1;
	i = rfc5322_skip_cfws(s, n, t);
	if (i >= n || s[i] != '/')
		return 0;
	i = rfc5322_skip_cfws(s, n, i + 1);
	t = mtoken(s, n, i);
	if (t == i || mime_field_text_set(&e->ct.subtype, s + i, t - i) < 0)
		return t == i ? 0 : -1;
	if (params_parse(s, n, t, &e->params, &e->ct.nparams) < 0)
		return -1;
	e->ct.params = e->params;
	return 1;
}

/* The type given when Content-Type is missing or invalid, or when a
 * container is treated as opaque. */
int
mime_field_ctype_default(struct entity *e, int digest)
{
	mime_field_text_free(&e->ct.type);
	mime_field_text_free(&e->ct.subtype);
	params_free(&e->params, e->ct.nparams);
	e->ct.params = NULL;
	e->ct.nparams = 0;
	if (digest)
		return mime_field_text_set(&e->ct.type, "message", 7) < 0 ||
		    mime_field_text_set(&e->ct.subtype, "rfc822", 6) < 0 ?
		    -1 : 0;
	if (mime_field_text_set(&e->ct.type, "text", 4) < 0 ||
	    mime_field_text_set(&e->ct.subtype, "plain", 5) < 0 ||
	    (e->params = calloc(1, sizeof(*e->params))) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	e->ct.params = e->params;
	if (mime_field_text_set(&e->params[0].name, "charset", 7) < 0)
		return -1;
	e->ct.nparams = 1;
	return mime_field_text_set(&e->params[0].value, "US-ASCII", 8);
}

/* Content-Language: a list of tags. */
static int
langs_parse(struct entity *e, const char *s, size_t n)
{
	struct mime_text *v;
	size_t i = 0, t;

	for (;;) {
		i = rfc5322_skip_cfws(s, n, i);
		while (i < n && s[i] == ',')
			i = rfc5322_skip_cfws(s, n, i + 1);
		t = mtoken(s, n, i);
		if (t == i || e->ct.nlanguages == MIME_PARAMS_MAX)
			return 0;
		v = realloc(e->langs, (e->ct.nlanguages + 1) * sizeof(*v));
		if (v == NULL) {
			errno = ENOMEM;
			return -1;
		}
		e->langs = v;
		e->ct.languages = v;
		if (mime_field_text_set(&v[e->ct.nlanguages], s + i, t - i) < 0)
			return -1;
		e->ct.nlanguages++;
		i = t;
	}
}

/* Fill e->ct from the kept Content-* fields. */
int
mime_field_content_parse(struct mime_parser *p, size_t idx)
{
	struct entity *e = &p->ents[idx];
	const struct mime_text *t = &e->hdr[MIME_HDR_CONTENT_TYPE];
	size_t par = p->parts[idx].parent, end;
	int r = 0, digest;

	if (t->s && (r = ctype_parse(e, t->s, t->n)) < 0)
		return -1;
	if (r == 0) {
		digest = t->s == NULL && par != MIME_NONE &&
		    p->parts[par].kind == MIME_KIND_MULTIPART &&
		    mime_field_text_is(&p->ents[par].ct.subtype, "digest");
		if (mime_field_ctype_default(e, digest) < 0)
			return -1;
		e->ct.defaulted = 1;
	}
	t = &e->hdr[MIME_HDR_CONTENT_TRANSFER_ENCODING];
	if (t->s && first_token(t->s, t->n, &e->ct.encoding, &end) < 0)
		return -1;
	t = &e->hdr[MIME_HDR_CONTENT_DISPOSITION];
	if (t->s) {
		r = first_token(t->s, t->n, &e->ct.disposition, &end);
		if (r < 0 || (r > 0 && params_parse(t->s, t->n, end,
		    &e->dparams, &e->ct.ndparams) < 0))
			return -1;
		e->ct.dparams = e->dparams;
	}
	t = &e->hdr[MIME_HDR_CONTENT_LANGUAGE];
	return t->s ? langs_parse(e, t->s, t->n) : 0;
}
