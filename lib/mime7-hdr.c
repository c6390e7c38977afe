/* SPDX-License-Identifier: ISC */
/*
 * mime7: header fields with bytes above 127 made RFC 2047 encoded-words,
 * for a next hop without 8BITMIME; see mime7_field_encode in mime7.h.
 *
 * The field is unfolded, cut into tokens, the tokens that need it are
 * replaced by encoded-words, and the result is folded again at blanks.
 * Q encoding is used with the characters RFC 2047 5(3) allows in a phrase,
 * the narrowest set, so that one encoder serves text, phrases and
 * comments.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime7.h"
#include "rfc5322.h"

#define EW_MAX 75	/* characters of an encoded-word (RFC 2047 2) */
#define FOLD_AT 76	/* fold lines longer than this where possible */

/* The new value and, beside each byte, whether a fold may go before it. */
struct val {
	struct str v;
	struct str brk;
};

/* A lexical token of an address field. */
struct tok {
	size_t s, e;	/* bytes of the unfolded value */
	char type;	/* 'w' blanks, 'q' quoted string, 'c' comment, 'l'
			 * domain literal, 'a' atom, else the special */
	int eight;	/* holds a byte above 127 */
	int repl;	/* TOK_* */
	size_t last;	/* TOK_PHRASE: the phrase's last token */
};

#define TOK_KEEP 0
#define TOK_PHRASE 1	/* from here to last: one encoded phrase */
#define TOK_SKIP 2	/* inside an encoded phrase */
#define TOK_COMMENT 3	/* a comment whose text is encoded */

static const char *const addr_fields[] = {
	"from", "sender", "reply-to", "to", "cc", "bcc", "resent-from",
	"resent-sender", "resent-to", "resent-cc", "resent-bcc", NULL
};

static const char *const param_fields[] = {
	"content-type", "content-disposition", NULL
};

static const char *const text_fields[] = {
	"subject", "comments", "content-description", "organization",
	"thread-topic", NULL
};

static int
is_wsp(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static int
name_in(const char *name, size_t n, const char *const *list)
{
	size_t i, k;

	for (i = 0; list[i] != NULL; i++) {
		if (strlen(list[i]) != n)
			continue;
		for (k = 0; k < n; k++)
			if ((name[k] | 0x20) != list[i][k])
				break;
		if (k == n)
			return 1;
	}
	return 0;
}

/* Whether p[0..n) is well-formed UTF-8 (no overlong forms, surrogates or
 * code points past U+10FFFF). */
static int
utf8_valid(const unsigned char *p, size_t n)
{
	size_t i = 0, k, len;
	unsigned long cp;

	while (i < n) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if (p[i] >= 0xc2 && p[i] <= 0xdf)
			len = 2, cp = p[i] & 0x1f;
		else if (p[i] >= 0xe0 && p[i] <= 0xef)
			len = 3, cp = p[i] & 0x0f;
		else if (p[i] >= 0xf0 && p[i] <= 0xf4)
			len = 4, cp = p[i] & 0x07;
		else
			return 0;
		if (n - i < len)
			return 0;
		for (k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += len;
	}
	return 1;
}

static int
val_put(struct val *v, const char *s, size_t n, int brk)
{
	size_t i;

	if (str_append(&v->v, s, n) < 0)
		return -1;
	for (i = 0; i < n; i++)
		if (str_appendc(&v->brk, (char)(i == 0 && brk)) < 0)
			return -1;
	return 0;
}

/* Characters of byte c in Q encoding. */
static size_t
q_len(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == ' ' || strchr("!*+-/", c) != NULL)
		return 1;
	return 3;
}

static int
q_put(struct str *w, unsigned char c)
{
	static const char hex[] = "0123456789ABCDEF";
	char t[3] = { '=', hex[c >> 4], hex[c & 15] };

	if (c == ' ')
		return str_appendc(w, '_');
	if (q_len(c) == 1)
		return str_appendc(w, (char)c);
	return str_append(w, t, 3);
}

/* Append t[0..n) as encoded-words separated by blanks where folds may go,
 * never splitting a UTF-8 character (RFC 2047 5). */
static int
ew_put(struct val *v, const unsigned char *t, size_t n)
{
	int utf8 = utf8_valid(t, n);
	const char *cs = utf8 ? "UTF-8" : "unknown-8bit";
	size_t room = EW_MAX - 7 - strlen(cs), i = 0, k, clen, elen, used = 0;
	struct str w = STR_INIT;
	int r = 0, first = 1;

	while (i < n && r == 0) {
		clen = 1;
		if (utf8 && t[i] >= 0xc0)
			clen = t[i] >= 0xf0 ? 4 : t[i] >= 0xe0 ? 3 : 2;
		for (elen = 0, k = 0; k < clen; k++)
			elen += q_len(t[i + k]);
		if (used > 0 && used + elen > room) {
			r = str_appends(&w, "?=");
			if (r == 0)
				r = val_put(v, w.s, w.len, 0);
			str_clear(&w);
			used = 0;
		}
		if (r == 0 && used == 0) {
			if (!first)
				r = val_put(v, " ", 1, 1);
			first = 0;
			if (r == 0)
				r = str_appendf(&w, "=?%s?Q?", cs);
		}
		for (k = 0; k < clen && r == 0; k++)
			r = q_put(&w, t[i + k]);
		used += elen;
		i += clen;
	}
	if (r == 0 && used > 0 && (r = str_appends(&w, "?=")) == 0)
		r = val_put(v, w.s, w.len, 0);
	str_free(&w);
	return r;
}

/* Whether u[s..e) holds a byte above 127. */
static int
has8(const char *u, size_t s, size_t e)
{
	for (; s < e; s++)
		if ((unsigned char)u[s] & 0x80)
			return 1;
	return 0;
}

/* Unstructured text: runs of words holding 8-bit bytes (or looking like
 * encoded-words) become encoded-words; blanks between runs stay. */
static int
enc_text(const char *u, size_t n, struct val *v)
{
	size_t i = 0, ws, we, rs, re;
	int need;

	while (i < n) {
		for (ws = i; i < n && is_wsp((unsigned char)u[i]); i++)
			;
		if (i > ws && val_put(v, u + ws, i - ws, 1) < 0)
			return -1;
		rs = re = i;
		/* the longest run of words that need encoding */
		for (;;) {
			for (we = i; we < n && !is_wsp((unsigned char)u[we]); we++)
				;
			need = we > i && (has8(u, i, we) || (we - i >= 4 &&
			    u[i] == '=' && u[i + 1] == '?' && u[we - 2] == '?' &&
			    u[we - 1] == '='));
			if (!need)
				break;
			re = we;
			for (i = we; i < n && is_wsp((unsigned char)u[i]); i++)
				;
			if (i == n)
				break;
		}
		if (re > rs) {
			if (ew_put(v, (const unsigned char *)u + rs, re - rs) < 0)
				return -1;
			i = re;
			continue;
		}
		if (we > i && val_put(v, u + i, we - i, 0) < 0)
			return -1;
		i = we;
	}
	return 0;
}

/* The end of the quoted string, comment or domain literal at u[i]. */
static size_t
tok_span(const char *u, size_t n, size_t i)
{
	char open = u[i];
	int depth = 0;

	for (; i < n; i++) {
		if (u[i] == '\\' && open != '[') {
			i++;
			continue;
		}
		if (open == '"') {
			if (u[i] == '"' && depth++ > 0)
				return i + 1;
		} else if (open == '[') {
			if (u[i] == ']')
				return i + 1;
		} else if (u[i] == '(')
			depth++;
		else if (u[i] == ')' && --depth == 0)
			return i + 1;
	}
	return n;
}

/* Cut the unfolded address field value into tokens. */
static int
tokenize(const char *u, size_t n, struct tok **tv, size_t *nt)
{
	size_t i = 0, cap = 0, e;
	struct tok *t;
	unsigned char c;

	*tv = NULL;
	*nt = 0;
	while (i < n) {
		c = (unsigned char)u[i];
		if (is_wsp(c)) {
			for (e = i; e < n && is_wsp((unsigned char)u[e]); e++)
				;
		} else if (c == '"' || c == '(' || c == '[')
			e = tok_span(u, n, i);
		else if (strchr("<>:;@,.\\)]", c) != NULL)
			e = i + 1;
		else
			for (e = i; e < n && !is_wsp((unsigned char)u[e]) &&
			    strchr("\"([<>:;@,.\\)]", u[e]) == NULL; e++)
				;
		if (*nt == cap) {
			cap = cap ? cap * 2 : 16;
			if ((t = realloc(*tv, cap * sizeof(*t))) == NULL)
				return -1;
			*tv = t;
		}
		t = &(*tv)[(*nt)++];
		t->s = i;
		t->e = e;
		t->type = is_wsp(c) ? 'w' : c == '"' ? 'q' : c == '(' ? 'c' :
		    c == '[' ? 'l' : strchr("<>:;@,.\\)]", c) ? (char)c : 'a';
		t->eight = has8(u, i, e);
		t->repl = TOK_KEEP;
		i = e;
	}
	return 0;
}

/* EILSEQ with the reason: an 8-bit byte where (what) in field name. */
static int
refuse(char *why, size_t whylen, const char *what, const char *name,
    size_t nlen)
{
	snprintf(why, whylen, "8-bit byte %s the %.*s header field", what,
	    (int)(nlen > 40 ? 40 : nlen), name);
	errno = EILSEQ;
	return -1;
}

/* Comments of tokens a..b: those with 8-bit text are encoded when simple
 * (no nested comment, no quoted pair); 0, or -1 when one is not. */
static int
mark_comments(const char *u, struct tok *t, size_t a, size_t b)
{
	size_t k;

	for (k = a; k < b; k++) {
		if (t[k].type != 'c' || !t[k].eight)
			continue;
		if (t[k].e - t[k].s < 2 || u[t[k].e - 1] != ')' ||
		    memchr(u + t[k].s + 1, '(', t[k].e - t[k].s - 2) ||
		    memchr(u + t[k].s + 1, '\\', t[k].e - t[k].s - 2))
			return -1;
		t[k].repl = TOK_COMMENT;
	}
	return 0;
}

/* Tokens a..b form a phrase (a display name before "<", a group name
 * before ":"): mark it for encoding when it holds 8-bit bytes. */
static int
mark_phrase(const char *u, struct tok *t, size_t a, size_t b)
{
	size_t k, first = b, last = b;
	int eight = 0, comment = 0, inner = 0;

	for (k = a; k < b; k++) {
		if (t[k].type == 'a' || t[k].type == 'q' || t[k].type == '.') {
			if (first == b)
				first = k;
			else if (comment)
				inner = 1;	/* a comment inside */
			last = k;
			eight |= t[k].eight;
		} else if (t[k].type == 'c') {
			comment = first != b;
		} else if (t[k].type != 'w')
			inner = 1;		/* not a phrase */
	}
	if (eight && inner)
		return -1;
	if (eight) {
		t[first].repl = TOK_PHRASE;
		t[first].last = last;
		for (k = first + 1; k <= last; k++)
			t[k].repl = TOK_SKIP;
	}
	return mark_comments(u, t, a, b);
}

/* Tokens a..b are an addr-spec (and comments): 8-bit only in comments. */
static int
mark_addr(const char *u, struct tok *t, size_t a, size_t b)
{
	size_t k;

	for (k = a; k < b; k++)
		if (t[k].eight && t[k].type != 'c')
			return -1;
	return mark_comments(u, t, a, b);
}

/* The text a phrase stands for: quoting removed, blanks made one space. */
static int
phrase_text(const char *u, const struct tok *t, size_t a, size_t b,
    struct str *out)
{
	size_t k, i;

	for (k = a; k <= b; k++) {
		if (t[k].type == 'w' || t[k].type == 'c') {
			if (str_appendc(out, ' ') < 0)
				return -1;
			continue;
		}
		if (t[k].type != 'q') {
			if (str_append(out, u + t[k].s, t[k].e - t[k].s) < 0)
				return -1;
			continue;
		}
		for (i = t[k].s + 1; i < t[k].e; i++) {
			if (u[i] == '\\' && i + 1 < t[k].e)
				i++;
			else if (u[i] == '"' && i == t[k].e - 1)
				break;
			if (str_appendc(out, u[i]) < 0)
				return -1;
		}
	}
	return 0;
}

/* Mark what to encode in an address list; -1 when an 8-bit byte is where
 * encoded-words may not go. */
static int
mark_addrlist(const char *u, struct tok *t, size_t nt)
{
	size_t k, seg = 0;
	int angle = 0;

	for (k = 0; k <= nt; k++) {
		char ty = k < nt ? t[k].type : ',';

		if (angle) {
			if (ty == '>') {
				angle = 0;
				seg = k + 1;
			} else if (k < nt && t[k].eight)
				return -1;
			continue;
		}
		if (ty == '<') {
			if (mark_phrase(u, t, seg, k) < 0)
				return -1;
			angle = 1;
		} else if (ty == ':') {
			if (mark_phrase(u, t, seg, k) < 0)
				return -1;
			seg = k + 1;
		} else if (ty == ',' || ty == ';') {
			if (mark_addr(u, t, seg, k) < 0)
				return -1;
			seg = k + 1;
		}
	}
	/* every 8-bit byte must be in something encoded */
	for (k = 0; k < nt; k++)
		if (t[k].eight && t[k].repl == TOK_KEEP)
			return -1;
	return 0;
}

/* The new value of an address field from the marked tokens. */
static int
put_addrlist(const char *u, const struct tok *t, size_t nt, struct val *v)
{
	struct str txt = STR_INIT;
	size_t k;
	int r = 0;

	for (k = 0; k < nt && r == 0; k++) {
		const struct tok *x = &t[k];

		if (x->repl == TOK_SKIP)
			continue;
		str_clear(&txt);
		if (x->repl == TOK_PHRASE) {
			r = phrase_text(u, t, k, x->last, &txt);
			if (r == 0)
				r = ew_put(v, (const unsigned char *)txt.s,
				    txt.len);
		} else if (x->repl == TOK_COMMENT) {
			r = val_put(v, "(", 1, 0);
			if (r == 0)
				r = ew_put(v, (const unsigned char *)u + x->s +
				    1, x->e - x->s - 2);
			if (r == 0)
				r = val_put(v, ")", 1, 0);
		} else
			r = val_put(v, u + x->s, x->e - x->s, x->type == 'w');
	}
	str_free(&txt);
	return r;
}

/* ---- Content-Type and Content-Disposition parameters (RFC 2231) ---- */

/* The end of the parameter starting at u[i]: the next ";" outside quoted
 * strings and comments. */
static size_t
param_end(const char *u, size_t n, size_t i)
{
	while (i < n && u[i] != ';') {
		if (u[i] == '"' || u[i] == '(')
			i = tok_span(u, n, i);
		else
			i++;
	}
	return i;
}

/* RFC 2231 attribute-char: kept as it is in an extended value. */
static int
attr_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != 0 && strchr("!#$&+-.^_`|~", c));
}

/* The value of parameter s[i..n) after "=": unquoted into val; -1 when
 * anything but blanks follows it. */
static int
param_value(const char *s, size_t n, size_t i, struct str *val)
{
	if (i < n && s[i] == '"') {
		for (i++; i < n && s[i] != '"'; i++) {
			if (s[i] == '\\' && i + 1 < n)
				i++;
			if (str_appendc(val, s[i]) < 0)
				return -1;
		}
		if (i++ == n)
			return -1;
	} else
		for (; i < n && !is_wsp((unsigned char)s[i]); i++)
			if (str_appendc(val, s[i]) < 0)
				return -1;
	while (i < n && is_wsp((unsigned char)s[i]))
		i++;
	return i == n && val->len > 0 ? 0 : -1;
}

/* Put "; attr*=" (piece < 0) or "; attr*N*=", the charset and language
 * (cs, "''") when given, and w[0..wn). */
static int
param_put(struct val *v, const char *attr, size_t an, long piece,
    const char *cs, const char *w, size_t wn)
{
	struct str t = STR_INIT;
	int r;

	if (piece < 0)
		r = str_appendf(&t, "%.*s*=", (int)an, attr);
	else
		r = str_appendf(&t, "%.*s*%ld*=", (int)an, attr, piece);
	if (r == 0 && cs != NULL)
		r = str_appendf(&t, "%s''", cs);
	if (r == 0)
		r = str_append(&t, w, wn);
	if (r == 0)
		r = val_put(v, ";", 1, 0);
	if (r == 0)
		r = val_put(v, " ", 1, 1);
	if (r == 0)
		r = val_put(v, t.s, t.len, 0);
	str_free(&t);
	return r;
}

#define PARAM_PIECE 60	/* %-encoded characters per piece */

/* The value %-encoded, in one parameter or in pieces of at most
 * PARAM_PIECE characters, never cutting a %XX. */
static int
param_pieces(struct val *v, const char *attr, size_t an, const char *cs,
    const struct str *val)
{
	static const char hex[] = "0123456789ABCDEF";
	struct str w = STR_INIT;
	size_t i, k;
	long piece;
	unsigned char c;
	int r = 0;

	for (i = 0; i < val->len && r == 0; i++) {
		c = (unsigned char)val->s[i];
		r = attr_char(c) ? str_appendc(&w, (char)c) :
		    str_appendf(&w, "%%%c%c", hex[c >> 4], hex[c & 15]);
	}
	if (r == 0 && w.len <= PARAM_PIECE)
		r = param_put(v, attr, an, -1, cs, w.s, w.len);
	for (i = 0, piece = 0; r == 0 && w.len > PARAM_PIECE && i < w.len;
	    piece++) {
		k = w.len - i > PARAM_PIECE ? PARAM_PIECE : w.len - i;
		if (i + k < w.len && w.s[i + k - 1] == '%')
			k -= 1;
		else if (i + k < w.len && w.s[i + k - 2] == '%')
			k -= 2;
		r = param_put(v, attr, an, piece, piece == 0 ? cs : NULL,
		    w.s + i, k);
		i += k;
	}
	str_free(&w);
	return r;
}

/* One parameter s[0..n) holding 8-bit bytes: "attr=value" becomes
 * attr*=charset''%XX (RFC 2231 section 4), cut into attr*0*, attr*1*,
 * ... (section 3) when long.  -1 EILSEQ when it is not a plain one. */
static int
enc_param(const char *s, size_t n, struct val *v)
{
	struct str val = STR_INIT;
	size_t i = 0, a0, a1;
	int r = -1;

	while (i < n && is_wsp((unsigned char)s[i]))
		i++;
	for (a0 = i; i < n && !is_wsp((unsigned char)s[i]) && s[i] != '=';
	    i++)
		;
	a1 = i;
	while (i < n && is_wsp((unsigned char)s[i]))
		i++;
	/* a boundary must stay as the body writes it */
	if (a1 == a0 || i == n || s[i] != '=' || has8(s, a0, a1) ||
	    memchr(s + a0, '*', a1 - a0) != NULL || (a1 - a0 == 8 &&
	    strncasecmp(s + a0, "boundary", 8) == 0)) {
		errno = EILSEQ;
		return -1;
	}
	for (i++; i < n && is_wsp((unsigned char)s[i]); i++)
		;
	if (param_value(s, n, i, &val) < 0)
		errno = errno == ENOMEM ? ENOMEM : EILSEQ;
	else
		r = param_pieces(v, s + a0, a1 - a0, utf8_valid((const
		    unsigned char *)val.s, val.len) ? "UTF-8" : "unknown-8bit",
		    &val);
	str_free(&val);
	return r;
}

/* A Content-Type or Content-Disposition value: the parameters holding
 * 8-bit bytes encoded, the rest as it is. */
static int
enc_params(const char *u, size_t n, struct val *v)
{
	size_t i = param_end(u, n, 0), e;

	if (has8(u, 0, i)) {
		errno = EILSEQ;
		return -1;
	}
	if (val_put(v, u, i, 0) < 0)
		return -1;
	while (i < n) {
		e = param_end(u, n, i + 1);
		if (has8(u, i + 1, e)) {
			if (enc_param(u + i + 1, e - i - 1, v) < 0)
				return -1;
		} else if (val_put(v, ";", 1, 0) < 0 || val_put(v, u + i + 1,
		    e - i - 1, i + 1 < e && is_wsp((unsigned char)u[i + 1])) < 0)
			return -1;
		i = e;
	}
	return 0;
}

/* Append head[0..hn) and the value, folded before blanks marked in brk
 * when a line grows past FOLD_AT, and a final line end. */
static int
fold(const char *head, size_t hn, const struct val *v, const char *eol,
    struct str *out)
{
	size_t el = strlen(eol), line = out->len, brk = SIZE_MAX, i;

	if (str_append(out, head, hn) < 0)
		return -1;
	for (i = 0; i < v->v.len; i++) {
		if (v->brk.s[i] && out->len > line)
			brk = out->len;
		if (str_appendc(out, v->v.s[i]) < 0)
			return -1;
		if (out->len - line <= FOLD_AT || brk == SIZE_MAX)
			continue;
		if (str_ready(out, el) < 0)
			return -1;
		memmove(out->s + brk + el, out->s + brk, out->len - brk);
		memcpy(out->s + brk, eol, el);
		out->len += el;
		out->s[out->len] = '\0';
		line = brk + el;
		brk = SIZE_MAX;
	}
	return str_appends(out, eol);
}

int
mime7_field_encode(const char *f, size_t n, int crlf, struct str *out,
    char *why, size_t whylen)
{
	struct val v = { STR_INIT, STR_INIT };
	struct str u = STR_INIT;
	struct tok *t = NULL;
	size_t nlen, voff, nt = 0;
	int r = -1, addr, param;

	nlen = rfc5322_field_name(f, n, &voff);
	if (nlen == 0)
		return refuse(why, whylen, "in a header line outside", "",
		    0);
	addr = name_in(f, nlen, addr_fields);
	param = name_in(f, nlen, param_fields);
	if (!addr && !param && !name_in(f, nlen, text_fields) && (nlen < 2 ||
	    (f[0] | 0x20) != 'x' || f[1] != '-'))
		return refuse(why, whylen, "(no encoded-words allowed) in", f,
		    nlen);
	if (rfc5322_unfold(f + voff, n - voff, &u) < 0)
		goto out;
	if (addr) {
		if (tokenize(u.s ? u.s : "", u.len, &t, &nt) < 0)
			goto out;
		if (mark_addrlist(u.s, t, nt) < 0) {
			r = refuse(why, whylen, "in an address of", f, nlen);
			goto out;
		}
		if (put_addrlist(u.s, t, nt, &v) < 0)
			goto out;
	} else if (param) {
		if (enc_params(u.s ? u.s : "", u.len, &v) < 0) {
			if (errno == EILSEQ)
				r = refuse(why, whylen, "outside a simple "
				    "parameter value of", f, nlen);
			goto out;
		}
	} else if (enc_text(u.s ? u.s : "", u.len, &v) < 0)
		goto out;
	if (fold(f, voff, &v, crlf ? "\r\n" : "\n", out) < 0)
		goto out;
	r = 0;
out:
	if (r < 0 && errno != EILSEQ)
		errno = ENOMEM;
	free(t);
	str_free(&u);
	str_free(&v.v);
	str_free(&v.brk);
	return r;
}
