/* SPDX-License-Identifier: ISC */
/* b64: base64 (RFC 2045 6.8); see b64.h. */
#include <errno.h>

#include "b64.h"

static const char b64_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* States of struct b64_dec's pad. */
#define B64_OPEN 0	/* no "=" seen */
#define B64_ENDED 1	/* the padding is complete */
#define B64_ONEMORE 2	/* one more "=" is due */

void
b64_enc_init(struct b64_enc *e, int crlf)
{
	e->eol = crlf ? "\r\n" : "\n";
	e->nhold = 0;
	e->col = 0;
	e->any = 0;
}

/* Append the four characters of a group (k bytes of g, 1 to 3). */
static int
b64_group(struct b64_enc *e, const unsigned char *g, size_t k,
    struct str *out)
{
	unsigned long v = (unsigned long)g[0] << 16 |
	    (unsigned long)(k > 1 ? g[1] : 0) << 8 | (k > 2 ? g[2] : 0);
	char t[4];

	t[0] = b64_alpha[v >> 18 & 63];
	t[1] = b64_alpha[v >> 12 & 63];
	t[2] = k > 1 ? b64_alpha[v >> 6 & 63] : '=';
	t[3] = k > 2 ? b64_alpha[v & 63] : '=';
	if (e->col + 4 > B64_LINE_MAX) {
		if (str_appends(out, e->eol) < 0)
			return -1;
		e->col = 0;
	}
	e->col += 4;
	e->any = 1;
	return str_append(out, t, 4);
}

int
b64_encode(struct b64_enc *e, const void *buf, size_t n, struct str *out)
{
	const unsigned char *p = buf;
	size_t i = 0;

	while (e->nhold > 0 && e->nhold < 3 && i < n)
		e->hold[e->nhold++] = p[i++];
	if (e->nhold == 3) {
		if (b64_group(e, e->hold, 3, out) < 0)
			return -1;
		e->nhold = 0;
	}
	for (; i + 3 <= n; i += 3)
		if (b64_group(e, p + i, 3, out) < 0)
			return -1;
	while (i < n)
		e->hold[e->nhold++] = p[i++];
	return 0;
}

int
b64_encode_end(struct b64_enc *e, struct str *out)
{
	if (e->nhold > 0 && b64_group(e, e->hold, e->nhold, out) < 0)
		return -1;
	e->nhold = 0;
	if (e->any && str_appends(out, e->eol) < 0)
		return -1;
	e->col = 0;
	e->any = 0;
	return 0;
}

size_t
b64_encoded_size(size_t n, size_t eollen)
{
	size_t chars = (n + 2) / 3 * 4, per = B64_LINE_MAX / 4 * 4;

	if (chars == 0)
		return 0;
	return chars + (chars + per - 1) / per * eollen;
}

void
b64_dec_init(struct b64_dec *d)
{
	d->acc = 0;
	d->nacc = 0;
	d->pad = B64_OPEN;
}

/* The value of base64 character c, or -1. */
static int
b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* An "=": the end of the data, after 2 or 3 characters of a group whose
 * unused bits are zero. */
static int
b64_pad(struct b64_dec *d, struct str *out)
{
	char b[2];

	if (d->pad == B64_ONEMORE) {
		d->pad = B64_ENDED;
		return 0;
	}
	if (d->pad != B64_OPEN || d->nacc < 2)
		goto bad;
	if (d->nacc == 2) {
		if (d->acc & 0xf)
			goto bad;
		b[0] = (char)(d->acc >> 4);
		d->pad = B64_ONEMORE;
	} else {
		if (d->acc & 0x3)
			goto bad;
		b[0] = (char)(d->acc >> 10);
		b[1] = (char)(d->acc >> 2);
		d->pad = B64_ENDED;
	}
	if (str_append(out, b, d->nacc - 1) < 0)
		return -1;
	d->nacc = 0;
	d->acc = 0;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

int
b64_decode(struct b64_dec *d, const void *buf, size_t n, struct str *out)
{
	const unsigned char *p = buf;
	char b[3];
	size_t i;
	int v;

	for (i = 0; i < n; i++) {
		if (p[i] == '\r' || p[i] == '\n' || p[i] == ' ' ||
		    p[i] == '\t')
			continue;
		if (p[i] == '=') {
			if (b64_pad(d, out) < 0)
				return -1;
			continue;
		}
		if ((v = b64_val(p[i])) < 0 || d->pad != B64_OPEN) {
			errno = EINVAL;
			return -1;
		}
		d->acc = (d->acc << 6 | (unsigned long)v) & 0xffffff;
		if (++d->nacc < 4)
			continue;
		b[0] = (char)(d->acc >> 16);
		b[1] = (char)(d->acc >> 8);
		b[2] = (char)d->acc;
		if (str_append(out, b, 3) < 0)
			return -1;
		d->nacc = 0;
		d->acc = 0;
	}
	return 0;
}

int
b64_decode_end(struct b64_dec *d)
{
	if (d->nacc != 0 || d->pad == B64_ONEMORE) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}
