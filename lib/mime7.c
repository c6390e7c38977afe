/* SPDX-License-Identifier: ISC */
/* mime7: 8-bit to 7-bit conversion of a message; see mime7.h. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mime.h"
#include "mime7.h"
#include "qp.h"
#include "str.h"

#define MIME7_CHUNK (64 * 1024)
#define MIME7_NAME "content-transfer-encoding"
#define MIME7_FIELD "Content-Transfer-Encoding: quoted-printable"
#define MIME7_PRE 40	/* bytes of a field kept to tell its name */

/* A header or a leaf body, in the order of the message. */
struct mime7_seg {
	uint64_t start, end;
	size_t part;
	int hdr;		/* a header, else a leaf body */
	int eight;		/* holds a byte above 127 */
	unsigned char tail[3];	/* the last bytes of a header */
	size_t ntail;
};

/* A leaf to convert. */
struct mime7_conv {
	uint64_t h0, hend, blank;	/* header; its blank line starts at
					 * blank */
	uint64_t b0, b1;		/* body */
	int crlf;			/* line ends of the header */
};

/* The header filter: drops Content-Transfer-Encoding fields. */
enum mime7_mode { MIME7_DECIDE, MIME7_KEEP, MIME7_DROP };

struct mime7_out {
	int fd;
	struct str buf;
	off_t size;
	struct qp_enc qp;
	int bol;
	enum mime7_mode mode;
	char pre[MIME7_PRE];
	size_t npre;
	int added;		/* the new field was written */
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
	return mime_parser_feed(arg, p, n);
}

/* The scan: which segments hold 8-bit bytes. */
struct mime7_scan {
	struct mime7_seg *seg;
	size_t nseg, cur;
	int other;	/* an 8-bit byte outside every segment */
	int any;	/* any 8-bit byte */
};

static int
mime7_scan_fn(void *arg, const unsigned char *p, size_t n, uint64_t off)
{
	struct mime7_scan *s = arg;
	struct mime7_seg *g;
	uint64_t pos;
	size_t i;

	for (i = 0; i < n; i++) {
		pos = off + i;
		while (s->cur < s->nseg && s->seg[s->cur].end <= pos)
			s->cur++;
		g = s->cur < s->nseg && s->seg[s->cur].start <= pos ?
		    &s->seg[s->cur] : NULL;
		if (g != NULL && g->hdr && g->end - pos <= 3) {
			/* keep the last bytes of a header */
			g->tail[g->ntail++] = p[i];
		}
		if (!(p[i] & 0x80))
			continue;
		s->any = 1;
		if (g != NULL)
			g->eight = 1;
		else
			s->other = 1;
	}
	return 0;
}

/* Write out the buffer when full enough (or always when force). */
static int
mime7_flush(struct mime7_out *o, int force)
{
	size_t done = 0;
	ssize_t n;

	if (!force && o->buf.len < MIME7_CHUNK)
		return 0;
	while (done < o->buf.len) {
		n = write(o->fd, o->buf.s + done, o->buf.len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		done += (size_t)n;
	}
	o->size += (off_t)o->buf.len;
	str_clear(&o->buf);
	return 0;
}

/* Whether pre[0..n) names Content-Transfer-Encoding (blanks may end it). */
static int
mime7_is_cte(const char *pre, size_t n)
{
	while (n > 0 && (pre[n - 1] == ' ' || pre[n - 1] == '\t'))
		n--;
	return n == sizeof(MIME7_NAME) - 1 &&
	    strncasecmp(pre, MIME7_NAME, n) == 0;
}

/* Header bytes of a converted part through the filter. */
static int
mime7_header(struct mime7_out *o, const unsigned char *p, size_t n)
{
	size_t i;
	char c;

	for (i = 0; i < n; i++) {
		c = (char)p[i];
		if (o->bol) {
			o->bol = 0;
			if (c != ' ' && c != '\t') {
				o->mode = MIME7_DECIDE;
				o->npre = 0;
			} else if (o->mode == MIME7_DECIDE)
				o->mode = MIME7_KEEP;
		}
		if (o->mode == MIME7_DECIDE) {
			o->pre[o->npre++] = c;
			if (c != ':' && c != '\n' && o->npre < MIME7_PRE)
				continue;
			o->mode = c == ':' && mime7_is_cte(o->pre, o->npre - 1) ?
			    MIME7_DROP : MIME7_KEEP;
			if (o->mode == MIME7_KEEP &&
			    str_append(&o->buf, o->pre, o->npre) < 0)
				return -1;
		} else if (o->mode == MIME7_KEEP && str_appendc(&o->buf, c) < 0)
			return -1;
		if (c == '\n')
			o->bol = 1;
	}
	return 0;
}

/* The write pass. */
struct mime7_write {
	struct mime7_out *o;
	const struct mime7_conv *conv;
	size_t nconv, cur;
};

static int
mime7_write_fn(void *arg, const unsigned char *p, size_t n, uint64_t off)
{
	struct mime7_write *w = arg;
	struct mime7_out *o = w->o;
	const struct mime7_conv *cv;
	uint64_t pos = off, end = off + n, lim;
	size_t k;
	int r;

	while (pos < end) {
		cv = w->cur < w->nconv ? &w->conv[w->cur] : NULL;
		if (cv == NULL || pos < cv->h0) {
			lim = cv == NULL || cv->h0 > end ? end : cv->h0;
			r = str_append(&o->buf, p + (pos - off), lim - pos);
		} else if (pos < cv->blank) {
			if (pos == cv->h0) {
				o->bol = 1;
				o->mode = MIME7_DECIDE;
				o->npre = 0;
				o->added = 0;
			}
			lim = cv->blank > end ? end : cv->blank;
			r = mime7_header(o, p + (pos - off), lim - pos);
		} else if (pos < cv->hend) {
			r = 0;
			if (!o->added) {
				o->added = 1;
				if (o->mode == MIME7_DECIDE && o->npre > 0)
					r = str_append(&o->buf, o->pre,
					    o->npre);
				if (r == 0)
					r = str_appendf(&o->buf, "%s%s",
					    MIME7_FIELD, cv->crlf ? "\r\n" :
					    "\n");
				qp_enc_init(&o->qp, cv->crlf);
			}
			lim = cv->hend > end ? end : cv->hend;
			if (r == 0)
				r = str_append(&o->buf, p + (pos - off),
				    lim - pos);
		} else {
			lim = cv->b1 > end ? end : cv->b1;
			k = (size_t)(lim - pos);
			r = qp_encode(&o->qp, p + (pos - off), k, &o->buf);
			if (r == 0 && lim == cv->b1) {
				r = qp_encode_end(&o->qp, &o->buf);
				w->cur++;
			}
		}
		if (r < 0 || mime7_flush(o, 0) < 0)
			return -1;
		pos = lim;
	}
	return 0;
}

/* Whether part i is inside a message/rfc822 part. */
static int
mime7_in_message(const struct mime_parser *mp, size_t i)
{
	const struct mime_part *pt = mime_part_get(mp, i);

	while (pt != NULL && pt->parent != MIME_NONE) {
		pt = mime_part_get(mp, pt->parent);
		if (pt != NULL && pt->kind == MIME_KIND_MESSAGE)
			return 1;
	}
	return 0;
}

/* Whether leaf i can be encoded in quoted-printable. */
static int
mime7_leaf_ok(const struct mime_parser *mp, size_t i)
{
	const struct mime_part *pt = mime_part_get(mp, i);
	const struct mime_content *ct = mime_part_content(mp, i);
	const struct mime_text *e = ct != NULL ? &ct->encoding : NULL;

	if (pt == NULL || ct == NULL || (pt->flags & (MIME_PART_F_OPAQUE |
	    MIME_PART_F_NO_BLANK)) || mime7_in_message(mp, i))
		return 0;
	return e->s == NULL || e->n == 0 || strcasecmp(e->s, "7bit") == 0 ||
	    strcasecmp(e->s, "8bit") == 0;
}

/* From the segments, the leaves to convert; -1 EILSEQ when impossible. */
static int
mime7_plan(const struct mime_parser *mp, struct mime7_scan *s,
    struct mime7_conv *conv, size_t *nconv)
{
	const struct mime7_seg *g, *h;
	const struct mime_part *pt;
	size_t i;

	*nconv = 0;
	if (s->other)
		goto bad;
	for (i = 0; i < mime_part_count(mp); i++)
		if (mime_part_get(mp, i)->flags & MIME_PART_F_TRUNCATED)
			goto bad;
	for (i = 0; i < s->nseg; i++) {
		g = &s->seg[i];
		if (!g->eight)
			continue;
		if (g->hdr || !mime7_leaf_ok(mp, g->part))
			goto bad;
		/* the header segment is right before the body's */
		h = i > 0 && s->seg[i - 1].hdr &&
		    s->seg[i - 1].part == g->part ? &s->seg[i - 1] : NULL;
		pt = mime_part_get(mp, g->part);
		if (h == NULL || h->ntail == 0 || h->tail[h->ntail - 1] != '\n')
			goto bad;
		conv[*nconv].h0 = pt->hdr_off;
		conv[*nconv].hend = pt->hdr_off + pt->hdr_size;
		conv[*nconv].crlf = h->ntail >= 2 &&
		    h->tail[h->ntail - 2] == '\r' && (h->ntail == 2 ||
		    h->tail[h->ntail - 3] == '\n');
		conv[*nconv].blank = conv[*nconv].hend -
		    (conv[*nconv].crlf ? 2 : 1);
		conv[*nconv].b0 = pt->body_off;
		conv[*nconv].b1 = pt->body_off + pt->body_size;
		(*nconv)++;
	}
	return 0;
bad:
	errno = EILSEQ;
	return -1;
}

int
mime7_convert_fd(int in, int out, size_t chunk, off_t *size_r)
{
	struct mime_parser *mp = NULL;
	const struct mime_part *pt;
	struct mime7_scan s = { NULL, 0, 0, 0, 0 };
	struct mime7_conv *conv = NULL;
	struct mime7_out o;
	struct mime7_write w;
	unsigned char *buf;
	size_t i, n, nconv = 0;
	int rc = -1, e;

	if (chunk == 0)
		chunk = MIME7_CHUNK;
	memset(&o, 0, sizeof(o));
	str_init(&o.buf, 0);
	o.fd = out;
	if ((buf = malloc(chunk)) == NULL ||
	    (mp = mime_parser_new(NULL)) == NULL)
		goto out;
	if (mime7_read(in, buf, chunk, mime7_parse_fn, mp) < 0 ||
	    mime_parser_finish(mp) < 0)
		goto out;
	n = mime_part_count(mp);
	if ((s.seg = calloc(2 * n, sizeof(*s.seg))) == NULL ||
	    (conv = calloc(n, sizeof(*conv))) == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		pt = mime_part_get(mp, i);
		if (pt->hdr_size > 0) {
			s.seg[s.nseg].start = pt->hdr_off;
			s.seg[s.nseg].end = pt->hdr_off + pt->hdr_size;
			s.seg[s.nseg].part = i;
			s.seg[s.nseg++].hdr = 1;
		}
		if (pt->kind == MIME_KIND_LEAF && pt->body_size > 0) {
			s.seg[s.nseg].start = pt->body_off;
			s.seg[s.nseg].end = pt->body_off + pt->body_size;
			s.seg[s.nseg++].part = i;
		}
	}
	if (mime7_read(in, buf, chunk, mime7_scan_fn, &s) < 0)
		goto out;
	if (!s.any) {
		rc = 0;
		goto out;
	}
	if (mime7_plan(mp, &s, conv, &nconv) < 0)
		goto out;
	w.o = &o;
	w.conv = conv;
	w.nconv = nconv;
	w.cur = 0;
	if (mime7_read(in, buf, chunk, mime7_write_fn, &w) < 0 ||
	    mime7_flush(&o, 1) < 0)
		goto out;
	*size_r = o.size;
	rc = 1;
out:
	e = errno;
	str_free(&o.buf);
	free(buf);
	free(s.seg);
	free(conv);
	mime_parser_free(&mp);
	errno = e;
	return rc;
}
