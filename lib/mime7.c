/* SPDX-License-Identifier: ISC */
/*
 * mime7: downgrade of a message for a next hop without 8BITMIME or
 * BINARYMIME; see mime7.h.  Three passes over the message: mime(3) parses
 * it, a scan notes what each header and leaf body holds (8-bit bytes, NUL,
 * bare CR or LF, long lines), a plan decides what each entity becomes, and
 * the write pass copies the message with those entities rewritten.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "b64.h"
#include "mime.h"
#include "mime7.h"
#include "qp.h"
#include "rfc5322.h"
#include "str.h"

#define MIME7_CHUNK (64 * 1024)

/* What the scan found in a segment (or outside every one). */
#define F_8BIT		0x01u
#define F_NUL		0x02u
#define F_BARECR	0x04u
#define F_BARELF	0x08u
#define F_LONG		0x10u

/* A header or a leaf body, in the order of the message. */
struct mime7_seg {
	uint64_t start, end;
	size_t part;
	int hdr;		/* a header, else a leaf body */
	unsigned flags;		/* F_* */
	unsigned char tail[3];	/* the last bytes of a header */
	size_t ntail;
};

enum mime7_enc { ENC_KEEP, ENC_QP, ENC_B64 };

/* An entity rewritten: its header (fields up to blank, then the blank
 * line up to hend) and, when encoded, its body b0..b1. */
struct mime7_conv {
	uint64_t h0, blank, hend, b0, b1, end;
	int crlf;		/* line ends of the header */
	const char *cte;	/* the new Content-Transfer-Encoding, or NULL */
	int enc8;		/* header fields with 8-bit bytes to encode */
	enum mime7_enc body;
};

/* The header filter of the write pass. */
enum mime7_mode { HF_BUF, HF_KEEP, HF_DROP };

struct mime7_out {
	int fd;
	struct str buf;
	off_t size;
	struct qp_enc qp;
	struct b64_enc b64;
	struct str field;	/* the header field being read */
	struct str crlf;	/* buf with CRLF line ends */
	int canon;		/* make line ends CRLF */
	int cr;			/* buf ended with a CR */
	enum mime7_mode mode;
	int bol;
	int added;		/* the blank line was reached */
	struct mime7_result *res;
};

/* Read the whole of fd in chunks, calling fn on each with its offset. */
static int
mime7_read(int fd, unsigned char *buf, size_t chunk,
    int (*fn)(void *, const unsigned char *, size_t, uint64_t), void *arg)
{
	uint64_t off = 0;
	ssize_t n;

	for (;;) {
		n = pread(fd, buf, chunk, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		if (fn(arg, buf, (size_t)n, off) < 0)
			return -1;
		off += (uint64_t)n;
	}
}

static int
mime7_parse_fn(void *arg, const unsigned char *p, size_t n, uint64_t off)
{
	(void)off;
	return mime_parser_feed(arg, p, n);
}

/* ---- the scan ---- */

struct mime7_scan {
	struct mime7_seg *seg;
	size_t nseg, cur;
	unsigned other;		/* F_* outside every segment */
	struct mime7_seg *crseg; /* where the pending CR is (NULL: other) */
	int cr;			/* the last byte was a CR */
	uint64_t linelen;
};

static void
mime7_mark(struct mime7_scan *s, struct mime7_seg *g, unsigned f)
{
	if (g != NULL)
		g->flags |= f;
	else
		s->other |= f;
}

static int
mime7_scan_fn(void *arg, const unsigned char *p, size_t n, uint64_t off)
{
	struct mime7_scan *s = arg;
	struct mime7_seg *g;
	uint64_t pos;
	size_t i;
	int wascr;

	for (i = 0; i < n; i++) {
		pos = off + i;
		while (s->cur < s->nseg && s->seg[s->cur].end <= pos)
			s->cur++;
		g = s->cur < s->nseg && s->seg[s->cur].start <= pos ?
		    &s->seg[s->cur] : NULL;
		if (g != NULL && g->hdr && g->end - pos <= 3)
			g->tail[g->ntail++] = p[i];	/* a header's end */
		wascr = s->cr;
		s->cr = 0;
		if (wascr && p[i] != '\n')
			mime7_mark(s, s->crseg, F_BARECR);
		if (p[i] == '\n') {
			if (!wascr)
				mime7_mark(s, g, F_BARELF);
			s->linelen = 0;
			continue;
		}
		if (p[i] == '\r') {
			s->cr = 1;
			s->crseg = g;
			continue;
		}
		if (++s->linelen > MIME7_LINE_MAX)
			mime7_mark(s, g, F_LONG);
		if (p[i] == '\0')
			mime7_mark(s, g, F_NUL);
		else if (p[i] & 0x80)
			mime7_mark(s, g, F_8BIT);
	}
	return 0;
}

/* ---- the write pass ---- */

/* o->buf with every line end made CRLF (a bare LF, and a bare CR, as
 * DATA would send them: RFC 5321 2.3.8), into o->crlf. */
static int
mime7_canon(struct mime7_out *o, int end)
{
	const char *p = o->buf.s;
	size_t i, start = 0;

	for (i = 0; i < o->buf.len; i++) {
		if (p[i] != '\r' && p[i] != '\n' && !o->cr)
			continue;
		if (str_append(&o->crlf, p + start, i - start) < 0)
			return -1;
		start = i + 1;
		if (o->cr) {
			o->cr = 0;
			if (str_append(&o->crlf, "\r\n", 2) < 0)
				return -1;
			if (p[i] == '\n')
				continue;
		}
		if (p[i] == '\r')
			o->cr = 1;
		else if (p[i] == '\n') {
			if (str_append(&o->crlf, "\r\n", 2) < 0)
				return -1;
		} else
			start = i;
	}
	if (str_append(&o->crlf, p + start, o->buf.len - start) < 0)
		return -1;
	if (end && o->cr) {
		o->cr = 0;
		return str_append(&o->crlf, "\r\n", 2);
	}
	return 0;
}

/* Write out the buffer when full enough (or always when force, the end),
 * line ends made CRLF but for the binary target. */
static int
mime7_flush(struct mime7_out *o, int force)
{
	struct str *w = o->canon ? &o->crlf : &o->buf;
	size_t done = 0;
	ssize_t n;

	if (!force && o->buf.len < MIME7_CHUNK)
		return 0;
	if (o->canon && mime7_canon(o, force) < 0)
		return -1;
	while (done < w->len) {
		n = write(o->fd, w->s + done, w->len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		done += (size_t)n;
	}
	o->size += (off_t)w->len;
	str_clear(&o->buf);
	str_clear(&o->crlf);
	return 0;
}

/* Whether header field f[0..n) (maybe cut short) is named
 * Content-Transfer-Encoding. */
static int
mime7_is_cte(const char *f, size_t n)
{
	size_t v;

	return rfc5322_field_is(f, n, "Content-Transfer-Encoding", &v);
}

static int
mime7_has8(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] & 0x80)
			return 1;
	return 0;
}

/* A whole header field read: drop it, encode it, or copy it. */
static int
mime7_field_done(struct mime7_out *o, const struct mime7_conv *cv)
{
	struct str *f = &o->field;
	int r = 0;

	if (o->mode == HF_BUF && f->len > 0) {
		if (cv->cte != NULL && mime7_is_cte(f->s, f->len))
			r = 0;
		else if (cv->enc8 && mime7_has8(f->s, f->len))
			r = mime7_field_encode(f->s, f->len, cv->crlf, &o->buf,
			    o->res->why, sizeof(o->res->why));
		else
			r = str_append(&o->buf, f->s, f->len);
	}
	str_clear(f);
	o->mode = HF_BUF;
	return r;
}

/* A field grew past MIME7_FIELD_MAX: stream the rest of it. */
static int
mime7_field_long(struct mime7_out *o, const struct mime7_conv *cv)
{
	struct str *f = &o->field;

	if (cv->cte != NULL && mime7_is_cte(f->s, f->len))
		o->mode = HF_DROP;
	else if (cv->enc8 && mime7_has8(f->s, f->len)) {
		snprintf(o->res->why, sizeof(o->res->why), "8-bit byte in "
		    "a header field over %u bytes", MIME7_FIELD_MAX);
		errno = EILSEQ;
		return -1;
	} else {
		if (str_append(&o->buf, f->s, f->len) < 0)
			return -1;
		o->mode = HF_KEEP;
	}
	str_clear(f);
	return 0;
}

/* Header field bytes of a rewritten header. */
static int
mime7_header(struct mime7_out *o, const struct mime7_conv *cv,
    const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (o->bol && p[i] != ' ' && p[i] != '\t' &&
		    mime7_field_done(o, cv) < 0)
			return -1;
		o->bol = p[i] == '\n';
		if (o->mode == HF_BUF) {
			if (str_appendc(&o->field, (char)p[i]) < 0)
				return -1;
			if (o->field.len > MIME7_FIELD_MAX &&
			    mime7_field_long(o, cv) < 0)
				return -1;
		} else if (o->mode == HF_KEEP) {
			if ((p[i] & 0x80) && cv->enc8) {
				snprintf(o->res->why, sizeof(o->res->why),
				    "8-bit byte in a header field over %u "
				    "bytes", MIME7_FIELD_MAX);
				errno = EILSEQ;
				return -1;
			}
			if (str_appendc(&o->buf, (char)p[i]) < 0)
				return -1;
		}
	}
	return 0;
}

/* The fields are over: the last one, the new field, the encoder. */
static int
mime7_header_end(struct mime7_out *o, const struct mime7_conv *cv)
{
	o->added = 1;
	if (mime7_field_done(o, cv) < 0)
		return -1;
	if (cv->cte != NULL && str_appendf(&o->buf, "Content-Transfer-"
	    "Encoding: %s%s", cv->cte, cv->crlf ? "\r\n" : "\n") < 0)
		return -1;
	qp_enc_init(&o->qp, cv->crlf);
	b64_enc_init(&o->b64, cv->crlf);
	return 0;
}

/* Body bytes of an encoded leaf; end: its last ones. */
static int
mime7_body(struct mime7_out *o, const struct mime7_conv *cv,
    const unsigned char *p, size_t n, int end)
{
	if (cv->body == ENC_QP)
		return qp_encode(&o->qp, p, n, &o->buf) < 0 ||
		    (end && qp_encode_end(&o->qp, &o->buf) < 0) ? -1 : 0;
	return b64_encode(&o->b64, p, n, &o->buf) < 0 ||
	    (end && b64_encode_end(&o->b64, &o->buf) < 0) ? -1 : 0;
}

struct mime7_write {
	struct mime7_out *o;
	const struct mime7_conv *conv;
	size_t nconv, cur;
};

/* The bytes pos..lim of the message, within conversion cv, at p. */
static int
mime7_write_in(struct mime7_write *w, const struct mime7_conv *cv,
    const unsigned char *p, uint64_t pos, uint64_t lim)
{
	struct mime7_out *o = w->o;

	if (pos < cv->blank)
		return mime7_header(o, cv, p, lim - pos);
	if (!o->added && mime7_header_end(o, cv) < 0)
		return -1;
	if (pos < cv->hend)
		return str_append(&o->buf, p, lim - pos);
	return mime7_body(o, cv, p, lim - pos, lim == cv->b1);
}

static int
mime7_write_fn(void *arg, const unsigned char *p, size_t n, uint64_t off)
{
	struct mime7_write *w = arg;
	struct mime7_out *o = w->o;
	const struct mime7_conv *cv;
	uint64_t pos = off, end = off + n, lim;
	int r;

	while (pos < end) {
		cv = w->cur < w->nconv ? &w->conv[w->cur] : NULL;
		if (cv == NULL || pos < cv->h0) {
			lim = cv == NULL || cv->h0 > end ? end : cv->h0;
			r = str_append(&o->buf, p + (pos - off), lim - pos);
		} else {
			if (pos == cv->h0) {
				o->bol = 1;
				o->mode = HF_BUF;
				o->added = 0;
				str_clear(&o->field);
			}
			lim = pos < cv->blank ? cv->blank : pos < cv->hend ?
			    cv->hend : cv->b1;
			if (lim > end)
				lim = end;
			r = mime7_write_in(w, cv, p + (pos - off), pos, lim);
			if (r == 0 && lim == cv->end) {
				if (!o->added)
					r = mime7_header_end(o, cv);
				w->cur++;
			}
		}
		if (r < 0 || mime7_flush(o, 0) < 0)
			return -1;
		pos = lim;
	}
	return 0;
}

/* ---- the plan ---- */

struct mime7_plan {
	const struct mime_parser *mp;
	unsigned target;	/* MIME7_7BIT, MIME7_8BIT or MIME7_BINARY */
	int hdr7;		/* encode 8-bit header fields */
	struct mime7_seg *seg;
	size_t *hseg, *bseg;	/* each entity's segments, SIZE_MAX: none */
	struct mime7_conv *conv;
	size_t nconv;
	int eightbit;
	char *why;
};

static int
mime7_refuse(struct mime7_plan *pl, const char *what, size_t i)
{
	const struct mime_part *pt = mime_part_get(pl->mp, i);

	snprintf(pl->why, MIME7_WHY_MAX, "%s (%s%s)", what,
	    pt != NULL && pt->section[0] ? "part " : "the message",
	    pt != NULL ? pt->section : "");
	errno = EILSEQ;
	return -1;
}

static int
mime7_enc_is(const struct mime_text *e, const char *z)
{
	return e->s != NULL && e->n == strlen(z) && strcasecmp(e->s, z) == 0;
}

/* The conversion entry of entity i, made on first use. */
static struct mime7_conv *
mime7_conv_of(struct mime7_plan *pl, size_t i)
{
	const struct mime_part *pt = mime_part_get(pl->mp, i);
	const struct mime7_seg *h;
	struct mime7_conv *cv;

	if (pl->nconv > 0 && pl->conv[pl->nconv - 1].h0 == pt->hdr_off &&
	    pl->conv[pl->nconv - 1].hend == pt->hdr_off + pt->hdr_size)
		return &pl->conv[pl->nconv - 1];
	cv = &pl->conv[pl->nconv++];
	memset(cv, 0, sizeof(*cv));
	cv->h0 = pt->hdr_off;
	cv->hend = cv->blank = cv->end = pt->hdr_off + pt->hdr_size;
	cv->b0 = cv->b1 = pt->body_off;
	cv->crlf = 1;
	h = pl->hseg[i] != SIZE_MAX ? &pl->seg[pl->hseg[i]] : NULL;
	if (h != NULL && h->ntail > 0 && h->tail[h->ntail - 1] == '\n' &&
	    !(pt->flags & MIME_PART_F_NO_BLANK)) {
		cv->crlf = h->ntail >= 2 && h->tail[h->ntail - 2] == '\r' &&
		    (h->ntail == 2 || h->tail[h->ntail - 3] == '\n');
		cv->blank = cv->hend - (cv->crlf ? 2 : 1);
	}
	return cv;
}

/* A leaf body: keep, encode, or refuse. */
static int
mime7_plan_leaf(struct mime7_plan *pl, size_t i)
{
	const struct mime_part *pt = mime_part_get(pl->mp, i);
	const struct mime_content *ct = mime_part_content(pl->mp, i);
	const struct mime_text *e = &ct->encoding;
	unsigned f = pl->bseg[i] != SIZE_MAX ? pl->seg[pl->bseg[i]].flags : 0;
	int text = mime7_enc_is(&ct->type, "text"), binary, need;
	struct mime7_conv *cv;

	if (pl->target == MIME7_BINARY) {
		pl->eightbit |= (f & F_8BIT) != 0;
		return 0;
	}
	binary = mime7_enc_is(e, "binary");
	if (e->s != NULL && e->n > 0 && !binary && !mime7_enc_is(e, "7bit") &&
	    !mime7_enc_is(e, "8bit")) {
		/* already encoded: only 7-bit data can be in it, and no
		 * bare CR (made a line end, it could make a boundary line) */
		if ((f & (F_NUL | F_BARECR)) ||
		    ((f & F_8BIT) && pl->target == MIME7_7BIT))
			return mime7_refuse(pl, "8-bit byte, NUL or bare CR in "
			    "an encoded part", i);
		pl->eightbit |= (f & F_8BIT) != 0;
		return 0;
	}
	need = binary || (f & (F_NUL | F_BARECR | F_LONG)) ||
	    (!text && (f & F_BARELF)) ||
	    ((f & F_8BIT) && pl->target == MIME7_7BIT);
	if (!need) {
		pl->eightbit |= (f & F_8BIT) != 0;
		return 0;
	}
	if (pt->flags & MIME_PART_F_OPAQUE)
		return mime7_refuse(pl, "binary or 8-bit data in an entity "
		    "nested too deep or malformed", i);
	if ((pt->flags & MIME_PART_F_NO_BLANK) || pt->hdr_size == 0)
		return mime7_refuse(pl, "binary or 8-bit data after a header "
		    "without an end", i);
	if (mime7_enc_is(&ct->type, "message") &&
	    !mime7_enc_is(&ct->subtype, "global"))
		return mime7_refuse(pl, "binary or 8-bit data in a message "
		    "part that must stay 7-bit", i);
	cv = mime7_conv_of(pl, i);
	cv->body = text && !(f & (F_NUL | F_BARECR)) ? ENC_QP : ENC_B64;
	cv->cte = cv->body == ENC_QP ? "quoted-printable" : "base64";
	cv->b0 = pt->body_off;
	cv->b1 = cv->end = pt->body_off + pt->body_size;
	return 0;
}

/* The header of entity i, and its encoding when it is a container. */
static int
mime7_plan_entity(struct mime7_plan *pl, size_t i)
{
	const struct mime_part *pt = mime_part_get(pl->mp, i);
	const struct mime_text *e = &mime_part_content(pl->mp, i)->encoding;
	unsigned f = pl->hseg[i] != SIZE_MAX ? pl->seg[pl->hseg[i]].flags : 0;
	struct mime7_conv *cv;

	if ((f & (F_NUL | F_BARECR)) && (pl->target != MIME7_BINARY ||
	    ((f & F_8BIT) && pl->hdr7)))
		return mime7_refuse(pl, "NUL or bare CR in a header", i);
	if ((f & F_8BIT) && !pl->hdr7)
		pl->eightbit = 1;
	else if (f & F_8BIT)
		mime7_conv_of(pl, i)->enc8 = 1;
	if (pt->kind == MIME_KIND_LEAF)
		return mime7_plan_leaf(pl, i);
	if (pl->target == MIME7_BINARY)
		return 0;
	/* RFC 2045 6.4: a container's encoding is 7bit, 8bit or binary and
	 * says what is inside; relabel it with what is inside now */
	if (mime7_enc_is(e, "binary") || (mime7_enc_is(e, "8bit") &&
	    pl->target == MIME7_7BIT)) {
		if ((pt->flags & MIME_PART_F_NO_BLANK) || pt->hdr_size == 0)
			return mime7_refuse(pl, "a binary container after a "
			    "header without an end", i);
		cv = mime7_conv_of(pl, i);
		cv->cte = pl->target == MIME7_7BIT ? "7bit" : "8bit";
	}
	return 0;
}

/* Every entity in order; the conversions in pl->conv. */
static int
mime7_plan_all(struct mime7_plan *pl, unsigned other)
{
	size_t i, n = mime_part_count(pl->mp);
	int truncated = 0;

	if ((other & (F_NUL | F_BARECR)) && pl->target != MIME7_BINARY)
		return mime7_refuse(pl, "NUL or bare CR in a preamble, "
		    "boundary or epilogue", 0);
	if ((other & F_8BIT) && pl->target == MIME7_7BIT)
		return mime7_refuse(pl, "8-bit byte in a preamble, boundary "
		    "or epilogue", 0);
	pl->eightbit |= (other & F_8BIT) != 0;
	for (i = 0; i < n; i++) {
		if (mime_part_get(pl->mp, i)->flags & MIME_PART_F_TRUNCATED)
			truncated = 1;
		if (mime7_plan_entity(pl, i) < 0)
			return -1;
	}
	if (truncated && pl->nconv > 0)
		return mime7_refuse(pl, "too many parts to convert", 0);
	return 0;
}

/* Segments of every header and leaf body, in order. */
static int
mime7_segments(struct mime7_plan *pl, struct mime7_scan *s)
{
	const struct mime_part *pt;
	size_t i, n = mime_part_count(pl->mp);

	if ((s->seg = calloc(2 * n, sizeof(*s->seg))) == NULL ||
	    (pl->hseg = calloc(n, sizeof(size_t))) == NULL ||
	    (pl->bseg = calloc(n, sizeof(size_t))) == NULL ||
	    (pl->conv = calloc(n, sizeof(*pl->conv))) == NULL)
		return -1;
	pl->seg = s->seg;
	for (i = 0; i < n; i++) {
		pt = mime_part_get(pl->mp, i);
		pl->hseg[i] = pl->bseg[i] = SIZE_MAX;
		if (pt->hdr_size > 0) {
			pl->hseg[i] = s->nseg;
			s->seg[s->nseg].start = pt->hdr_off;
			s->seg[s->nseg].end = pt->hdr_off + pt->hdr_size;
			s->seg[s->nseg].part = i;
			s->seg[s->nseg++].hdr = 1;
		}
		if (pt->kind == MIME_KIND_LEAF && pt->body_size > 0) {
			pl->bseg[i] = s->nseg;
			s->seg[s->nseg].start = pt->body_off;
			s->seg[s->nseg].end = pt->body_off + pt->body_size;
			s->seg[s->nseg++].part = i;
		}
	}
	return 0;
}

/* The write pass over the plan. */
static int
mime7_write(int in, int out, unsigned char *buf, size_t chunk,
    struct mime7_plan *pl, struct mime7_result *res)
{
	struct mime7_out o;
	struct mime7_write w;
	int r;

	memset(&o, 0, sizeof(o));
	str_init(&o.buf, 0);
	str_init(&o.field, 0);
	str_init(&o.crlf, 0);
	o.fd = out;
	o.res = res;
	o.canon = pl->target != MIME7_BINARY;
	w.o = &o;
	w.conv = pl->conv;
	w.nconv = pl->nconv;
	w.cur = 0;
	r = mime7_read(in, buf, chunk, mime7_write_fn, &w);
	if (r == 0 && w.cur < w.nconv) {
		/* the message ended inside an entity (no body) */
		if (!o.added)
			r = mime7_header_end(&o, &pl->conv[w.cur]);
	}
	if (r == 0)
		r = mime7_flush(&o, 1);
	res->size = o.size;
	str_free(&o.buf);
	str_free(&o.field);
	str_free(&o.crlf);
	return r;
}

int
mime7_convert(int in, int out, unsigned mode, size_t chunk,
    struct mime7_result *res)
{
	struct mime_parser *mp = NULL;
	struct mime7_scan s;
	struct mime7_plan pl;
	unsigned char *buf;
	int rc = -1, e;

	memset(&s, 0, sizeof(s));
	memset(&pl, 0, sizeof(pl));
	memset(res, 0, sizeof(*res));
	pl.target = mode & MIME7_TARGET;
	pl.hdr7 = pl.target == MIME7_7BIT || (mode & MIME7_HDR7);
	pl.why = res->why;
	if (chunk == 0)
		chunk = MIME7_CHUNK;
	if ((buf = malloc(chunk)) == NULL ||
	    (mp = mime_parser_new(NULL)) == NULL)
		goto out;
	pl.mp = mp;
	if (mime7_read(in, buf, chunk, mime7_parse_fn, mp) < 0 ||
	    mime_parser_finish(mp) < 0 || mime7_segments(&pl, &s) < 0 ||
	    mime7_read(in, buf, chunk, mime7_scan_fn, &s) < 0)
		goto out;
	if (s.cr)
		mime7_mark(&s, s.crseg, F_BARECR);
	if (mime7_plan_all(&pl, s.other) < 0)
		goto out;
	res->eightbit = pl.eightbit;
	if (pl.nconv == 0) {
		rc = 0;
		goto out;
	}
	if (mime7_write(in, out, buf, chunk, &pl, res) < 0)
		goto out;
	rc = 1;
out:
	e = errno;
	if (rc < 0 && e == 0)
		e = ENOMEM;
	free(buf);
	free(s.seg);
	free(pl.hseg);
	free(pl.bseg);
	free(pl.conv);
	mime_parser_free(&mp);
	errno = e;
	return rc;
}

int
mime7_convert_fd(int in, int out, size_t chunk, off_t *size_r)
{
	struct mime7_result res;
	int r;

	r = mime7_convert(in, out, MIME7_7BIT, chunk, &res);
	if (r == 1)
		*size_r = res.size;
	return r;
}
