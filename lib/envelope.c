/* SPDX-License-Identifier: ISC */
#include "envelope.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <strings.h>

#include "rfc5322.h"

static int
quotable(const char *s, size_t n)
{
	size_t k;
	unsigned char c;

	for (k = 0; k < n; k++) {
		c = (unsigned char)s[k];
		if (c == 0 || c >= 0x80 || c == '\r' || c == '\n')
			return 0;
	}
	return 1;
}

int
envelope_string(struct str *out, const char *s, size_t n)
{
	size_t k, start, len = 0;

	if (quotable(s, n)) {
		if (str_appendc(out, '"') < 0)
			return -1;
		for (k = start = 0; k < n; k++) {
			if (s[k] != '\\' && s[k] != '"')
				continue;
			if (str_append(out, s + start, k - start) < 0 ||
			    str_appendc(out, '\\') < 0)
				return -1;
			start = k;
		}
		if (str_append(out, s + start, n - start) < 0)
			return -1;
		return str_appendc(out, '"');
	}
	for (k = 0; k < n; k++)
		len += s[k] != '\0';
	if (str_appendf(out, "{%zu}\r\n", len) < 0)
		return -1;
	for (k = start = 0; k <= n; k++) {
		if (k < n && s[k] != '\0')
			continue;
		if (str_append(out, s + start, k - start) < 0)
			return -1;
		start = k + 1;
	}
	return 0;
}

int
envelope_nstring(struct str *out, const char *s, size_t n)
{
	if (s == NULL)
		return str_appends(out, "NIL");
	return envelope_string(out, s, n);
}

/* A string of s[0..n) with ASCII letters in upper case. */
static int
upper_string(struct str *out, const char *s, size_t n)
{
	struct str u = STR_INIT;
	size_t k;
	int r = -1;

	if (str_append(&u, s, n) < 0)
		goto out;
	for (k = 0; k < n; k++)
		if (u.s[k] >= 'a' && u.s[k] <= 'z')
			u.s[k] = (char)(u.s[k] - 32);
	r = envelope_string(out, u.s ? u.s : "", n);
out:
	str_free(&u);
	return r;
}

/* An address string part: NIL when empty. */
static int
addr_part(struct str *out, const struct str *s)
{
	if (s->len == 0)
		return str_appends(out, "NIL");
	return envelope_string(out, s->s, s->len);
}

static int
address(struct str *out, const struct rfc5322_addr *a)
{
	switch (a->kind) {
	case RFC5322_ADDR_GROUP_START:
		if (str_appends(out, "(NIL NIL ") < 0 ||
		    envelope_string(out, str_cstr(&a->name), a->name.len) < 0)
			return -1;
		return str_appends(out, " NIL)");
	case RFC5322_ADDR_GROUP_END:
		return str_appends(out, "(NIL NIL NIL NIL)");
	case RFC5322_ADDR_MAILBOX:
		break;
	}
	if (str_appendc(out, '(') < 0 || addr_part(out, &a->name) < 0 ||
	    str_appendc(out, ' ') < 0 || addr_part(out, &a->route) < 0 ||
	    str_appendc(out, ' ') < 0 ||
	    envelope_string(out, str_cstr(&a->mailbox), a->mailbox.len) < 0 ||
	    str_appendc(out, ' ') < 0 ||
	    envelope_string(out, str_cstr(&a->host), a->host.len) < 0)
		return -1;
	return str_appendc(out, ')');
}

int
envelope_addresses(struct str *out, const char *s, size_t n)
{
	struct rfc5322_addrlist l = RFC5322_ADDRLIST_INIT;
	size_t k;
	int r = -1;

	if (rfc5322_addresses(s, n, ENVELOPE_MAX_ADDRESSES, &l) < 0)
		goto out;
	if (l.n == 0) {
		r = str_appends(out, "NIL");
		goto out;
	}
	if (str_appendc(out, '(') < 0)
		goto out;
	for (k = 0; k < l.n; k++)
		if (address(out, &l.v[k]) < 0)
			goto out;
	r = str_appendc(out, ')');
out:
	rfc5322_addrlist_free(&l);
	return r;
}

static int
hdr_nstring(const struct mime_parser *p, size_t i, enum mime_hdr f,
    struct str *out)
{
	const struct mime_text *t = mime_part_header(p, i, f);

	return envelope_nstring(out, t ? t->s : NULL, t ? t->n : 0);
}

static int
hdr_addresses(const struct mime_parser *p, size_t i, enum mime_hdr f,
    struct str *out)
{
	const struct mime_text *t = mime_part_header(p, i, f);

	if (t == NULL)
		return str_appends(out, "NIL");
	return envelope_addresses(out, t->s, t->n);
}

/* Sender or Reply-To: From when it has no address. */
static int
hdr_or_from(const struct mime_parser *p, size_t i, enum mime_hdr f,
    const struct str *from, struct str *out)
{
	size_t mark = out->len;

	if (hdr_addresses(p, i, f, out) < 0)
		return -1;
	if (out->len - mark != 3 || memcmp(out->s + mark, "NIL", 3) != 0)
		return 0;
	str_truncate(out, mark);
	return str_append(out, str_cstr(from), from->len);
}

/* The ENVELOPE of message entry i. */
static int
env(const struct mime_parser *p, size_t i, struct str *out)
{
	struct str from = STR_INIT;
	int r = -1;

	if (hdr_addresses(p, i, MIME_HDR_FROM, &from) < 0 ||
	    str_appendc(out, '(') < 0 ||
	    hdr_nstring(p, i, MIME_HDR_DATE, out) < 0 ||
	    str_appendc(out, ' ') < 0 ||
	    hdr_nstring(p, i, MIME_HDR_SUBJECT, out) < 0 ||
	    str_appendc(out, ' ') < 0 ||
	    str_append(out, from.s, from.len) < 0 ||
	    str_appendc(out, ' ') < 0 ||
	    hdr_or_from(p, i, MIME_HDR_SENDER, &from, out) < 0 ||
	    str_appendc(out, ' ') < 0 ||
	    hdr_or_from(p, i, MIME_HDR_REPLY_TO, &from, out) < 0 ||
	    str_appendc(out, ' ') < 0 ||
	    hdr_addresses(p, i, MIME_HDR_TO, out) < 0 ||
	    str_appendc(out, ' ') < 0 ||
	    hdr_addresses(p, i, MIME_HDR_CC, out) < 0 ||
	    str_appendc(out, ' ') < 0 ||
	    hdr_addresses(p, i, MIME_HDR_BCC, out) < 0 ||
	    str_appendc(out, ' ') < 0 ||
	    hdr_nstring(p, i, MIME_HDR_IN_REPLY_TO, out) < 0 ||
	    str_appendc(out, ' ') < 0 ||
	    hdr_nstring(p, i, MIME_HDR_MESSAGE_ID, out) < 0)
		goto out;
	r = str_appendc(out, ')');
out:
	str_free(&from);
	return r;
}

int
envelope_envelope(const struct mime_parser *p, size_t part, struct str *out)
{
	const struct mime_part *pt = mime_part_get(p, part);

	if (pt == NULL || (!(pt->flags & MIME_PART_F_MESSAGE) &&
	    pt->kind != MIME_KIND_MESSAGE)) {
		errno = EINVAL;
		return -1;
	}
	if (!(pt->flags & MIME_PART_F_MESSAGE))
		part++;
	return env(p, part, out);
}

/* ---- BODY, BODYSTRUCTURE ---- */

static int
is_text(const struct mime_text *t, const char *z)
{
	return t->n == strlen(z) && strncasecmp(t->s, z, t->n) == 0;
}

/* body-fld-param; charset first when text lacks one (RFC 2046 4.1.2). */
static int
params(struct str *out, const struct mime_param *v, size_t n, int text)
{
	size_t k;

	for (k = 0; text && k < n; k++)
		if (is_text(&v[k].name, "charset"))
			text = 0;
	if (n == 0 && !text)
		return str_appends(out, "NIL");
	if (str_appendc(out, '(') < 0 ||
	    (text && str_appends(out, "\"CHARSET\" \"US-ASCII\"") < 0))
		return -1;
	for (k = 0; k < n; k++)
		if (((k > 0 || text) && str_appendc(out, ' ') < 0) ||
		    upper_string(out, v[k].name.s, v[k].name.n) < 0 ||
		    str_appendc(out, ' ') < 0 ||
		    envelope_string(out, v[k].value.s, v[k].value.n) < 0)
			return -1;
	return str_appendc(out, ')');
}

/* body-fld-dsp SP body-fld-lang SP body-fld-loc */
static int
ext_tail(const struct mime_parser *p, size_t i, struct str *out)
{
	const struct mime_content *ct = mime_part_content(p, i);
	size_t k;

	if (ct->disposition.s == NULL) {
		if (str_appends(out, "NIL") < 0)
			return -1;
	} else if (str_appendc(out, '(') < 0 || upper_string(out,
	    ct->disposition.s, ct->disposition.n) < 0 ||
	    str_appendc(out, ' ') < 0 ||
	    params(out, ct->dparams, ct->ndparams, 0) < 0 ||
	    str_appendc(out, ')') < 0)
		return -1;
	if (str_appendc(out, ' ') < 0)
		return -1;
	if (ct->nlanguages == 0 && str_appends(out, "NIL") < 0)
		return -1;
	if (ct->nlanguages > 1 && str_appendc(out, '(') < 0)
		return -1;
	for (k = 0; k < ct->nlanguages; k++)
		if ((k > 0 && str_appendc(out, ' ') < 0) || envelope_string(out,
		    ct->languages[k].s, ct->languages[k].n) < 0)
			return -1;
	if (ct->nlanguages > 1 && str_appendc(out, ')') < 0)
		return -1;
	if (str_appendc(out, ' ') < 0)
		return -1;
	return hdr_nstring(p, i, MIME_HDR_CONTENT_LOCATION, out);
}

static int body(const struct mime_parser *p, size_t i, int ext,
    struct str *out, unsigned depth);

static int
body_multi(const struct mime_parser *p, size_t i, int ext, struct str *out,
    unsigned depth)
{
	const struct mime_part *pt = mime_part_get(p, i);
	const struct mime_content *ct = mime_part_content(p, i);
	size_t c;

	if (str_appendc(out, '(') < 0)
		return -1;
	for (c = i + 1; c < pt->next; c = mime_part_get(p, c)->next)
		if (body(p, c, ext, out, depth + 1) < 0)
			return -1;
	if (str_appendc(out, ' ') < 0 ||
	    upper_string(out, ct->subtype.s, ct->subtype.n) < 0)
		return -1;
	if (ext && (str_appendc(out, ' ') < 0 ||
	    params(out, ct->params, ct->nparams, 0) < 0 ||
	    str_appendc(out, ' ') < 0 || ext_tail(p, i, out) < 0))
		return -1;
	return str_appendc(out, ')');
}

static int
body_leaf(const struct mime_parser *p, size_t i, int ext, struct str *out,
    unsigned depth)
{
	const struct mime_part *pt = mime_part_get(p, i);
	const struct mime_content *ct = mime_part_content(p, i);
	int text = is_text(&ct->type, "text");

	if (str_appendc(out, '(') < 0 ||
	    upper_string(out, ct->type.s, ct->type.n) < 0 ||
	    str_appendc(out, ' ') < 0 ||
	    upper_string(out, ct->subtype.s, ct->subtype.n) < 0 ||
	    str_appendc(out, ' ') < 0 ||
	    params(out, ct->params, ct->nparams, text) < 0 ||
	    str_appendc(out, ' ') < 0 ||
	    hdr_nstring(p, i, MIME_HDR_CONTENT_ID, out) < 0 ||
	    str_appendc(out, ' ') < 0 ||
	    hdr_nstring(p, i, MIME_HDR_CONTENT_DESCRIPTION, out) < 0 ||
	    str_appendc(out, ' ') < 0 ||
	    (ct->encoding.s ? upper_string(out, ct->encoding.s,
	    ct->encoding.n) : str_appends(out, "\"7BIT\"")) < 0 ||
	    str_appendf(out, " %" PRIu64, pt->body_size) < 0)
		return -1;
	if (pt->kind == MIME_KIND_MESSAGE && (str_appendc(out, ' ') < 0 ||
	    env(p, i + 1, out) < 0 || str_appendc(out, ' ') < 0 ||
	    body(p, i + 1, ext, out, depth + 1) < 0))
		return -1;
	if ((pt->kind == MIME_KIND_MESSAGE || text) &&
	    str_appendf(out, " %" PRIu64, pt->body_lines) < 0)
		return -1;
	if (ext && (str_appendc(out, ' ') < 0 ||
	    hdr_nstring(p, i, MIME_HDR_CONTENT_MD5, out) < 0 ||
	    str_appendc(out, ' ') < 0 || ext_tail(p, i, out) < 0))
		return -1;
	return str_appendc(out, ')');
}

static int
body(const struct mime_parser *p, size_t i, int ext, struct str *out,
    unsigned depth)
{
	const struct mime_part *pt = mime_part_get(p, i);

	if (pt == NULL || depth > MIME_DEPTH_HARDMAX + 1) {
		errno = EINVAL;
		return -1;
	}
	if (pt->kind == MIME_KIND_MULTIPART)
		return body_multi(p, i, ext, out, depth);
	return body_leaf(p, i, ext, out, depth);
}

int
envelope_bodystructure(const struct mime_parser *p, int extended,
    struct str *out)
{
	return body(p, 0, extended, out, 0);
}

int
envelope_bodystructure_part(const struct mime_parser *p, size_t part,
    int extended, struct str *out)
{
	return body(p, part, extended, out, 0);
}
