/* SPDX-License-Identifier: ISC */
/*
 * textsearch: case-insensitive substring search over decoded message text.
 * See textsearch.h.
 *
 * iconv(3) does the charsets (glibc knows them all; writing tables by hand
 * would be worse), lib/qp and lib/b64 the transfer encodings.  The matcher
 * folds the text into a window and runs memmem(3) on it, keeping the last
 * needle-length-minus-one bytes for the next piece, so a match cut by a
 * piece boundary is still found.
 */
#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wctype.h>

#include "b64.h"
#include "qp.h"
#include "rfc5322.h"
#include "textsearch.h"

#define TS_SLICE 16384		/* text folded per memmem */
#define TS_ICONV_CACHE 8	/* converters kept open */
#define TS_CHARSET_MAX 64	/* longest charset name */

/* ------------------------------------------------------------ folding */

static locale_t
utf8_locale(void)
{
	static locale_t loc;
	static int tried;

	if (!tried) {
		tried = 1;
		loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	}
	return loc;
}

/* Decode the UTF-8 sequence at s (n bytes available): its length and code
 * point, 0 when s does not start a complete valid sequence. */
static size_t
utf8_decode(const unsigned char *s, size_t n, uint32_t *cp_r)
{
	uint32_t cp;
	size_t len, i;

	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	len = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	if (n < len)
		return 0;
	cp = s[0] & (0x7fu >> len);
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3fu);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*cp_r = cp;
	return len;
}

static size_t
utf8_encode(uint32_t cp, unsigned char *out)
{
	if (cp < 0x80) {
		out[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (unsigned char)(0xc0 | cp >> 6);
		out[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (unsigned char)(0xe0 | cp >> 12);
		out[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (unsigned char)(0xf0 | cp >> 18);
	out[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

int
textsearch_fold(const char *s, size_t n, struct str *out)
{
	const unsigned char *p = (const unsigned char *)s;
	locale_t loc = utf8_locale();
	size_t i = 0;

	/* folding never makes text more than 4/3 longer (2-byte code
	 * points of Latin lower to at most 3 bytes); reserve generously */
	if (str_ready(out, n + n / 2 + 4) < 0)
		return -1;
	while (i < n) {
		unsigned char *o = (unsigned char *)out->s + out->len;
		uint32_t cp;
		size_t len;

		if (p[i] < 0x80) {
			*o = (unsigned char)(p[i] >= 'A' && p[i] <= 'Z' ?
			    p[i] + 32 : p[i]);
			out->len++;
			i++;
			continue;
		}
		len = utf8_decode(p + i, n - i, &cp);
		if (len == 0) {
			*o = p[i];
			out->len++;
			i++;
			continue;
		}
		if (loc != (locale_t)0)
			cp = (uint32_t)towlower_l((wint_t)cp, loc);
		if (str_ready(out, 4 + (n - i) * 2) < 0)
			return -1;
		o = (unsigned char *)out->s + out->len;
		out->len += utf8_encode(cp, o);
		i += len;
	}
	out->s[out->len] = '\0';
	return 0;
}

/* ------------------------------------------------------------ matcher */

struct textsearch {
	struct str needle;	/* folded */
	struct str win;		/* folded text: the tail kept + new text */
	unsigned char pend[4];	/* an incomplete UTF-8 sequence */
	size_t npend;
	int found;
};

struct textsearch *
textsearch_new(const char *needle, size_t n)
{
	struct textsearch *t;

	if (n > TEXTSEARCH_NEEDLE_MAX) {
		errno = E2BIG;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	str_init(&t->needle, 0);
	str_init(&t->win, 0);
	if (textsearch_fold(needle, n, &t->needle) < 0) {
		textsearch_free(&t);
		return NULL;
	}
	return t;
}

void
textsearch_reset(struct textsearch *t)
{
	t->win.len = 0;
	t->npend = 0;
	t->found = 0;
}

/* Where the last complete UTF-8 sequence of p[0..n) ends: bytes after it
 * start a sequence that the next piece completes. */
static size_t
complete_prefix(const unsigned char *p, size_t n)
{
	size_t i, need;

	for (i = 1; i <= 3 && i <= n; i++) {
		unsigned char c = p[n - i];

		if ((c & 0xc0) == 0x80)
			continue;	/* continuation: look further back */
		if (c < 0xc2 || c > 0xf4)
			return n;	/* ASCII or invalid lead: all done */
		need = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
		return need > i ? n - i : n;
	}
	return n;
}

/* Fold p/n onto the window and look for the needle. */
static int
match_slice(struct textsearch *t, const unsigned char *p, size_t n)
{
	size_t keep;

	if (textsearch_fold((const char *)p, n, &t->win) < 0)
		return -1;
	if (t->win.len >= t->needle.len &&
	    memmem(t->win.s, t->win.len, t->needle.s, t->needle.len) != NULL) {
		t->found = 1;
		return 1;
	}
	keep = t->needle.len - 1;
	if (t->win.len > keep) {
		memmove(t->win.s, t->win.s + t->win.len - keep, keep);
		t->win.len = keep;
	}
	return 0;
}

int
textsearch_feed(struct textsearch *t, const void *buf, size_t n)
{
	const unsigned char *p = buf;

	if (t->found || t->needle.len == 0) {
		t->found = 1;
		return 1;
	}
	/* finish a sequence cut by the previous piece */
	while (t->npend > 0 && n > 0) {
		uint32_t cp;
		size_t len;

		t->pend[t->npend++] = *p++;
		n--;
		len = utf8_decode(t->pend, t->npend, &cp);
		if (len > 0 || t->npend == 4 ||
		    (t->pend[t->npend - 1] & 0xc0) != 0x80) {
			size_t m = t->npend;

			t->npend = 0;
			if (match_slice(t, t->pend, m) != 0)
				return t->found ? 1 : -1;
		}
	}
	while (n > 0) {
		size_t take = n < TS_SLICE ? n : TS_SLICE;
		size_t whole = complete_prefix(p, take);

		if (whole < take) {
			if (take == n) {
				/* the input ends inside a sequence: hold it */
				memcpy(t->pend, p + whole, take - whole);
				t->npend = take - whole;
				n = whole;
			}
			take = whole;	/* else the next slice starts with it */
		}
		if (take > 0 && match_slice(t, p, take) != 0)
			return t->found ? 1 : -1;
		p += take;
		n -= take;
	}
	return 0;
}

int
textsearch_found(const struct textsearch *t)
{
	return t->found || t->needle.len == 0;
}

void
textsearch_free(struct textsearch **tp)
{
	if (*tp == NULL)
		return;
	str_free(&(*tp)->needle);
	str_free(&(*tp)->win);
	free(*tp);
	*tp = NULL;
}

/* ------------------------------------------------------------ charsets */

struct conv {
	char name[TS_CHARSET_MAX + 1];
	iconv_t cd;
};

/* Whether charset needs no conversion (bytes pass as they are). */
static int
charset_passes(const char *cs, size_t n)
{
	static const char *const same[] = {
		"us-ascii", "utf-8", "utf8", "ascii", "ansi_x3.4-1968",
		"unknown-8bit", "x-unknown", NULL
	};
	size_t i;

	if (cs == NULL || n == 0)
		return 1;
	for (i = 0; same[i] != NULL; i++)
		if (strlen(same[i]) == n && strncasecmp(same[i], cs, n) == 0)
			return 1;
	return 0;
}

/* An open converter from charset cs to UTF-8, or (iconv_t)-1 when none. */
static iconv_t
conv_get(const char *cs, size_t n)
{
	static struct conv cache[TS_ICONV_CACHE];
	static unsigned next;
	char name[TS_CHARSET_MAX + 1];
	struct conv *c;
	size_t i;

	if (n > TS_CHARSET_MAX)
		return (iconv_t)-1;
	memcpy(name, cs, n);
	name[n] = '\0';
	if (strchr(name, '*') != NULL)
		*strchr(name, '*') = '\0';	/* RFC 2231 language */
	for (i = 0; i < TS_ICONV_CACHE; i++)
		if (cache[i].name[0] != '\0' &&
		    strcasecmp(cache[i].name, name) == 0)
			return cache[i].cd;
	c = &cache[next++ % TS_ICONV_CACHE];
	if (c->name[0] != '\0' && c->cd != (iconv_t)-1)
		iconv_close(c->cd);
	memcpy(c->name, name, sizeof(name));
	c->cd = iconv_open("UTF-8", name);
	return c->cd;
}

/* Convert with cd, appending to out; *held_r gets how many bytes at the
 * end of s form an incomplete sequence (left for the next call, at most
 * 16; 0 when final).  The shift state (ISO-2022-JP and friends) carries
 * over from the previous call: converters are shared, so each new text
 * resets it first (conv_reset). */
static int
conv_run(iconv_t cd, const char *s, size_t n, int final, struct str *out,
    size_t *held_r)
{
	char *in = (char *)s;
	size_t left = n;

	*held_r = 0;
	while (left > 0) {
		char *o;
		size_t ospace, r;

		if (str_ready(out, left * 4 + 16) < 0)
			return -1;
		o = out->s + out->len;
		ospace = out->cap - out->len - 1;
		r = iconv(cd, &in, &left, &o, &ospace);
		out->len = (size_t)(o - out->s);
		if (r != (size_t)-1)
			break;
		if (errno == E2BIG)
			continue;
		if (errno == EINVAL && !final && left <= 16) {
			*held_r = left;
			break;
		}
		/* invalid (or truncated at the very end): skip a byte */
		in++;
		left--;
	}
	out->s[out->len] = '\0';
	return 0;
}

int
textsearch_charset_utf8(const char *charset, size_t charset_len,
    const char *s, size_t n, struct str *out)
{
	iconv_t cd;
	size_t held;

	if (charset_passes(charset, charset_len) ||
	    (cd = conv_get(charset, charset_len)) == (iconv_t)-1)
		return str_append(out, s, n);
	iconv(cd, NULL, NULL, NULL, NULL);
	return conv_run(cd, s, n, 1, out, &held);
}

/* ------------------------------------------------------------ decoder */

struct textsearch_dec {
	enum textsearch_enc enc;
	iconv_t cd;		/* (iconv_t)-1: bytes pass */
	textsearch_sink *sink;
	void *ctx;
	struct b64_dec b64;
	int dead;		/* undecodable: the rest is ignored */
	int stopped;		/* the sink said stop */
	struct str line;	/* QP: the current line */
	struct str dec;		/* transfer-decoded bytes */
	struct str utf;		/* converted */
	char held[16];		/* an incomplete multibyte sequence */
	size_t nheld;
};

struct textsearch_dec *
textsearch_dec_new(enum textsearch_enc enc, const char *charset,
    size_t charset_len, textsearch_sink *sink, void *ctx)
{
	struct textsearch_dec *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	d->enc = enc;
	d->sink = sink;
	d->ctx = ctx;
	d->cd = charset_passes(charset, charset_len) ? (iconv_t)-1 :
	    conv_get(charset, charset_len);
	if (d->cd != (iconv_t)-1)
		iconv(d->cd, NULL, NULL, NULL, NULL);
	b64_dec_init(&d->b64);
	str_init(&d->line, 0);
	str_init(&d->dec, 0);
	str_init(&d->utf, 0);
	return d;
}

/* Transfer-decoded bytes into the charset stage and the sink. */
static int
dec_emit(struct textsearch_dec *d, const char *p, size_t n, int final)
{
	int r;

	if (d->cd == (iconv_t)-1) {
		if (n == 0)
			return 0;
		r = d->sink(d->ctx, p, n);
	} else {
		size_t held;

		d->utf.len = 0;
		if (d->nheld > 0) {
			/* join the held bytes with the start of this piece */
			char join[32];
			size_t m = n < 16 ? n : 16;

			memcpy(join, d->held, d->nheld);
			memcpy(join + d->nheld, p, m);
			if (conv_run(d->cd, join, d->nheld + m, final && m == n,
			    &d->utf, &held) < 0)
				return -1;
			if (held > m) {
				/* still incomplete: keep it all */
				memmove(d->held, join + d->nheld + m - held,
				    held);
				d->nheld = held;
				p += n;
				n = 0;
			} else {
				d->nheld = 0;
				p += m - held;
				n -= m - held;
			}
			/* bytes of p given back (held <= m) are re-read */
		}
		if (n > 0) {
			if (conv_run(d->cd, p, n, final, &d->utf, &held) < 0)
				return -1;
			memcpy(d->held, p + n - held, held);
			d->nheld = held;
		}
		if (d->utf.len == 0)
			return 0;
		r = d->sink(d->ctx, d->utf.s, d->utf.len);
	}
	if (r > 0)
		d->stopped = 1;
	return r;
}

/* Decode the complete QP lines in d->line, keeping a partial last one. */
static int
qp_lines(struct textsearch_dec *d, int final)
{
	char *nl = memrchr(d->line.s, '\n', d->line.len);
	size_t upto = nl != NULL ? (size_t)(nl - d->line.s) + 1 : 0;

	if (final || d->line.len > TEXTSEARCH_LINE_MAX)
		upto = d->line.len;
	if (upto == 0)
		return 0;
	d->dec.len = 0;
	if (qp_decode(d->line.s, upto, &d->dec) < 0)
		return -1;
	memmove(d->line.s, d->line.s + upto, d->line.len - upto);
	d->line.len -= upto;
	return dec_emit(d, d->dec.s, d->dec.len, final);
}

int
textsearch_dec_feed(struct textsearch_dec *d, const void *p, size_t n)
{
	if (d->stopped)
		return 1;
	if (d->dead || n == 0)
		return 0;
	switch (d->enc) {
	case TS_ENC_QP:
		if (str_append(&d->line, p, n) < 0)
			return -1;
		return qp_lines(d, 0);
	case TS_ENC_BASE64:
		d->dec.len = 0;
		if (b64_decode(&d->b64, p, n, &d->dec) < 0) {
			if (errno != EINVAL)
				return -1;
			d->dead = 1;	/* search what decoded before */
		}
		return dec_emit(d, d->dec.s, d->dec.len, 0);
	case TS_ENC_IDENTITY:
		break;
	}
	return dec_emit(d, p, n, 0);
}

int
textsearch_dec_end(struct textsearch_dec *d)
{
	if (d->stopped)
		return 1;
	if (d->enc == TS_ENC_QP && !d->dead)
		return qp_lines(d, 1);
	return dec_emit(d, "", 0, 1);
}

void
textsearch_dec_free(struct textsearch_dec **dp)
{
	if (*dp == NULL)
		return;
	str_free(&(*dp)->line);
	str_free(&(*dp)->dec);
	str_free(&(*dp)->utf);
	free(*dp);
	*dp = NULL;
}

enum textsearch_enc
textsearch_enc_of(const char *tok, size_t n)
{
	if (n == 16 && strncasecmp(tok, "quoted-printable", n) == 0)
		return TS_ENC_QP;
	if (n == 6 && strncasecmp(tok, "base64", n) == 0)
		return TS_ENC_BASE64;
	return TS_ENC_IDENTITY;
}

/* ------------------------------------------------------------ RFC 2047 */

/* Decode the encoded-word at s[0..n) ("=?cs?X?text?="); 1 with the text
 * appended to out, 0 when it is not a valid encoded-word. */
static int
encoded_word(const char *s, size_t n, struct str *out)
{
	const char *cs, *enc, *text;
	size_t cslen, textlen, i;
	struct str raw;
	int r = 0;

	if (n < 8 || s[0] != '=' || s[1] != '?' || s[n - 2] != '?' ||
	    s[n - 1] != '=')
		return 0;
	cs = s + 2;
	enc = memchr(cs, '?', n - 2);
	if (enc == NULL || enc == cs || enc + 3 > s + n - 2 || enc[2] != '?')
		return 0;
	cslen = (size_t)(enc - cs);
	text = enc + 3;
	textlen = (size_t)(s + n - 2 - text);
	str_init(&raw, 0);
	if (enc[1] == 'B' || enc[1] == 'b') {
		struct b64_dec b;

		b64_dec_init(&b);
		if (b64_decode(&b, text, textlen, &raw) < 0 ||
		    b64_decode_end(&b) < 0)
			goto done;
	} else if (enc[1] == 'Q' || enc[1] == 'q') {
		for (i = 0; i < textlen; i++) {
			char c = text[i];

			if (c == '_') {
				c = ' ';
			} else if (c == '=') {
				char hex[3] = { 0, 0, 0 };
				char *end;

				if (i + 2 >= textlen ||
				    !isxdigit((unsigned char)text[i + 1]) ||
				    !isxdigit((unsigned char)text[i + 2]))
					goto done;
				hex[0] = text[i + 1];
				hex[1] = text[i + 2];
				c = (char)strtol(hex, &end, 16);
				if (end != hex + 2)
					goto done;
				i += 2;
			}
			if (str_appendc(&raw, c) < 0) {
				r = -1;
				goto done;
			}
		}
	} else {
		goto done;
	}
	r = textsearch_charset_utf8(cs, cslen, raw.s != NULL ? raw.s : "",
	    raw.len, out) < 0 ? -1 : 1;
done:
	str_free(&raw);
	return r;
}

int
textsearch_header_text(const char *value, size_t n, struct str *out)
{
	struct str u;
	size_t i = 0, gap_start = 0;
	int prev_word = 0, r = -1;

	str_init(&u, 0);
	if (rfc5322_unfold(value, n, &u) < 0)
		goto done;
	while (i < u.len) {
		const char *s = u.s;

		if (s[i] == '=' && i + 1 < u.len && s[i + 1] == '?') {
			/* find the end "?=" after cs?X? */
			const char *q1 = memchr(s + i + 2, '?', u.len - i - 2);
			const char *end = NULL;

			if (q1 != NULL && q1 + 3 < s + u.len && q1[2] == '?') {
				const char *t = q1 + 3;

				while (t + 1 < s + u.len) {
					if (t[0] == '?' && t[1] == '=') {
						end = t + 2;
						break;
					}
					if (t[0] == ' ' || t[0] == '\t')
						break;
					t++;
				}
			}
			if (end != NULL) {
				size_t save = out->len;
				int w;

				if (prev_word) {
					/* drop the blanks between two words */
					out->len = gap_start;
				}
				w = encoded_word(s + i, (size_t)(end - s) - i,
				    out);
				if (w < 0)
					goto done;
				if (w > 0) {
					i = (size_t)(end - s);
					prev_word = 1;
					gap_start = out->len;
					continue;
				}
				out->len = save;
			}
		}
		if (s[i] != ' ' && s[i] != '\t')
			prev_word = 0;
		if (str_appendc(out, s[i]) < 0)
			goto done;
		i++;
	}
	r = 0;
done:
	str_free(&u);
	return r;
}
