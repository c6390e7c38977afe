/* SPDX-License-Identifier: ISC */
#include "mutf7.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

static const char mutf7_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/* The value of a modified base64 letter, or -1. */
static int
mutf7_b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == ',')
		return 63;
	return -1;
}

static int
mutf7_printable(uint32_t c)
{
	return c >= 0x20 && c <= 0x7e;
}

/* Append code point cp as UTF-8. */
static int
mutf7_put_utf8(struct str *out, uint32_t cp)
{
	char b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | cp >> 6);
		b[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | cp >> 12);
		b[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (char)(0xf0 | cp >> 18);
		b[1] = (char)(0x80 | (cp >> 12 & 0x3f));
		b[2] = (char)(0x80 | (cp >> 6 & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return str_append(out, b, n);
}

/*
 * Decode the base64 run p[0..n) (between "&" and "-", n > 0) into UTF-8.
 * Every UTF-16 unit is 16 bits; what is left over must be fewer than 6
 * bits and zero, or the encoding is not the minimal one.
 */
static int
mutf7_decode_run(const unsigned char *p, size_t n, struct str *out)
{
	uint32_t bits = 0, hi = 0, u, cp;
	unsigned nbits = 0;
	size_t i;
	int v;

	for (i = 0; i < n; i++) {
		if ((v = mutf7_b64val(p[i])) < 0)
			return -1;
		bits = (bits << 6 | (uint32_t)v) & 0xffffff;
		nbits += 6;
		if (nbits < 16)
			continue;
		nbits -= 16;
		u = bits >> nbits & 0xffff;
		if (u >= 0xd800 && u <= 0xdbff) {
			if (hi)
				return -1;	/* two high surrogates */
			hi = u;
			continue;
		}
		if (u >= 0xdc00 && u <= 0xdfff) {
			if (!hi)
				return -1;	/* low surrogate alone */
			cp = 0x10000 + ((hi - 0xd800) << 10) + (u - 0xdc00);
			hi = 0;
		} else {
			if (hi)
				return -1;	/* high surrogate alone */
			cp = u;
		}
		if (cp == 0 || mutf7_printable(cp))
			return -1;	/* NUL, or ASCII that stands for itself */
		if (mutf7_put_utf8(out, cp) < 0)
			return -2;
	}
	if (hi || nbits >= 6 || (bits & ((1u << nbits) - 1)) != 0)
		return -1;
	return 0;
}

int
mutf7_to_utf8(const char *in, size_t len, struct str *out)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t save = out->len, i = 0, j;
	int rc, after_shift = 0;

	while (i < len) {
		if (p[i] != '&') {
			if (!mutf7_printable(p[i]))
				goto bad;
			if (str_appendc(out, (char)p[i++]) < 0)
				goto fail;
			after_shift = 0;
			continue;
		}
		for (j = i + 1; j < len && p[j] != '-'; j++)
			;
		if (j == len)
			goto bad;		/* unterminated shift */
		if (j == i + 1) {
			if (str_appendc(out, '&') < 0)
				goto fail;
			after_shift = 0;
		} else {
			if (after_shift)
				goto bad;	/* "&AOk-&AOk-": not canonical */
			rc = mutf7_decode_run(p + i + 1, j - i - 1, out);
			if (rc == -1)
				goto bad;
			if (rc < 0)
				goto fail;
			after_shift = 1;
		}
		i = j + 1;
	}
	return 0;
bad:
	errno = EILSEQ;
fail:
	str_truncate(out, save);
	return -1;
}

/* Decode one UTF-8 character at p[0..n).  Returns its length (cp in
 * *cp_r), or 0 when ill-formed. */
static size_t
mutf7_utf8_next(const unsigned char *p, size_t n, uint32_t *cp_r)
{
	uint32_t cp;
	size_t len, i;

	if (p[0] < 0x80) {
		*cp_r = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		cp = p[0] & 0x07;
	} else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	*cp_r = cp;
	return len;
}

/* Base64 encoder state for one shifted run. */
struct mutf7_enc {
	uint32_t bits;
	unsigned nbits;
};

static int
mutf7_put16(struct str *out, struct mutf7_enc *e, uint32_t u)
{
	e->bits = (e->bits << 16 | u) & 0xffffff;
	e->nbits += 16;
	while (e->nbits >= 6) {
		e->nbits -= 6;
		if (str_appendc(out, mutf7_b64[e->bits >> e->nbits & 0x3f]) < 0)
			return -1;
	}
	return 0;
}

/* Close a shifted run: flush the last bits (zero-padded) and "-". */
static int
mutf7_close(struct str *out, struct mutf7_enc *e)
{
	if (e->nbits > 0 &&
	    str_appendc(out, mutf7_b64[e->bits << (6 - e->nbits) & 0x3f]) < 0)
		return -1;
	e->bits = 0;
	e->nbits = 0;
	return str_appendc(out, '-');
}

/* Encode one non-printable code point inside a shifted run. */
static int
mutf7_put_cp(struct str *out, struct mutf7_enc *e, uint32_t cp)
{
	if (cp < 0x10000)
		return mutf7_put16(out, e, cp);
	cp -= 0x10000;
	if (mutf7_put16(out, e, 0xd800 + (cp >> 10)) < 0)
		return -1;
	return mutf7_put16(out, e, 0xdc00 + (cp & 0x3ff));
}

int
mutf7_from_utf8(const char *in, size_t len, struct str *out)
{
	const unsigned char *p = (const unsigned char *)in;
	struct mutf7_enc e = { 0, 0 };
	size_t save = out->len, i = 0, n;
	uint32_t cp;
	int shifted = 0;

	while (i < len) {
		if ((n = mutf7_utf8_next(p + i, len - i, &cp)) == 0 || cp == 0)
			goto bad;
		i += n;
		if (mutf7_printable(cp)) {
			if (shifted && mutf7_close(out, &e) < 0)
				goto fail;
			shifted = 0;
			if (str_appendc(out, (char)cp) < 0 ||
			    (cp == '&' && str_appendc(out, '-') < 0))
				goto fail;
			continue;
		}
		if (!shifted && str_appendc(out, '&') < 0)
			goto fail;
		shifted = 1;
		if (mutf7_put_cp(out, &e, cp) < 0)
			goto fail;
	}
	if (shifted && mutf7_close(out, &e) < 0)
		goto fail;
	return 0;
bad:
	errno = EILSEQ;
fail:
	str_truncate(out, save);
	return -1;
}

int
mutf7_valid(const char *in, size_t len)
{
	struct str tmp = STR_INIT;
	int ok;

	ok = mutf7_to_utf8(in, len, &tmp) == 0;
	str_free(&tmp);
	return ok;
}

int
mutf7_is_ascii(const char *in, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!mutf7_printable((unsigned char)in[i]) || in[i] == '&')
			return 0;
	return 1;
}
