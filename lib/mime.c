/* SPDX-License-Identifier: ISC */
/* mime: the structure parser (feeding, boundaries, the part table). */
#include "mime-private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rfc5322.h"
#include "str.h"

static const char *const hdr_names[MIME_HDR_COUNT] = {
	"Content-Type", "Content-Transfer-Encoding", "Content-ID",
	"Content-Description", "Content-Disposition", "Content-Language",
	"Content-Location", "Content-MD5", "Date", "Subject", "From",
	"Sender", "Reply-To", "To", "Cc", "Bcc", "In-Reply-To", "Message-ID",
};

static int
is_wsp(unsigned char c)
{
	return c == ' ' || c == '\t';
}

struct mime_limits
mime_limits_default(void)
{
	struct mime_limits l;

	l.max_depth = 32;
	l.max_parts = 1000;
	l.max_field = 8192;
	l.max_header = 65536;
	l.max_total = 4u << 20;
	l.max_boundary = MIME_BOUNDARY_MAX;
	return l;
}

/* ---- the table ---- */

/* prefix, then ".num" (no dot after an empty prefix; nothing for num 0). */
static char *
sec_make(const char *prefix, size_t num)
{
	struct str s = STR_INIT;

	if (str_appends(&s, prefix) < 0 ||
	    (num && s.len && str_appendc(&s, '.') < 0) ||
	    (num && str_appendf(&s, "%zu", num) < 0)) {
		str_free(&s);
		return NULL;
	}
	return str_steal(&s);
}

/* A new entity starting at the current position, child of parent, opened
 * with its header to read.  Takes section (freed on failure). */
static int
part_add(struct mime_parser *p, size_t parent, char *section,
    unsigned flags)
{
	struct mime_part *pt;
	struct entity *e;
	size_t ncap;

	if (section == NULL)
		return -1;
	if (p->nparts == p->cap) {
		ncap = p->cap ? p->cap * 2 : 8;
		if (ncap > p->lim.max_parts)
			ncap = p->lim.max_parts;
		if ((pt = realloc(p->parts, ncap * sizeof(*pt))) != NULL)
			p->parts = pt;
		if (pt == NULL || (e = realloc(p->ents, ncap * sizeof(*e))) ==
		    NULL) {
			free(section);
			errno = ENOMEM;
			return -1;
		}
		p->ents = e;
		p->cap = ncap;
	}
	pt = &p->parts[p->nparts];
	e = &p->ents[p->nparts];
	memset(pt, 0, sizeof(*pt));
	memset(e, 0, sizeof(*e));
	e->section = section;
	pt->section = section;
	pt->parent = parent;
	pt->next = p->nparts + 1;
	pt->depth = parent == MIME_NONE ? 0 : p->parts[parent].depth + 1;
	pt->kind = MIME_KIND_LEAF;
	pt->flags = flags;
	pt->hdr_off = pt->body_off = p->cur.off;
	pt->hdr_crlf = pt->body_crlf = pt->end_crlf = p->cur.crlf;
	e->hdr_lf = e->body_lf = p->cur.lf;
	p->stack[p->nstack].part = p->nparts;
	p->stack[p->nstack].state = FS_HDR;
	p->stack[p->nstack].bactive = 0;
	p->nstack++;
	p->nparts++;
	return 0;
}

/* A message entity that is not multipart is named by its body, N.1. */
static int
msg_rename(struct mime_parser *p, size_t i)
{
	char *s;

	if (i == 0 || !(p->parts[i].flags & MIME_PART_F_MESSAGE))
		return 0;
	if ((s = sec_make(p->ents[i].section, 1)) == NULL)
		return -1;
	free(p->ents[i].section);
	p->ents[i].section = s;
	p->parts[i].section = s;
	return 0;
}

static int
opaque(struct mime_parser *p, size_t i)
{
	p->parts[i].kind = MIME_KIND_LEAF;
	p->parts[i].flags |= MIME_PART_F_OPAQUE;
	if (mime_field_ctype_default(&p->ents[i], 0) < 0)
		return -1;
	return msg_rename(p, i);
}

/* The header of the top entity is complete: decide what it is. */
static int
structure(struct mime_parser *p, int closing)
{
	struct frame *fr = &p->stack[p->nstack - 1];
	size_t i = fr->part;
	struct mime_part *pt = &p->parts[i];
	const struct mime_content *ct = &p->ents[i].ct;
	const struct mime_text *enc = &ct->encoding;
	int nest = !closing && pt->depth < p->lim.max_depth;
	size_t k;

	if (mime_field_text_is(&ct->type, "multipart")) {
		for (k = 0; k < ct->nparams; k++)
			if (mime_field_text_is(&ct->params[k].name, "boundary"))
				break;
		if (!nest || k == ct->nparams || ct->params[k].value.n == 0 ||
		    ct->params[k].value.n > p->lim.max_boundary)
			return opaque(p, i);
		pt->kind = MIME_KIND_MULTIPART;
		fr->bactive = 1;
		fr->blen = ct->params[k].value.n;
		memcpy(fr->boundary, ct->params[k].value.s, fr->blen);
		p->nactive++;
		return 0;
	}
	if (!mime_field_text_is(&ct->type, "message") ||
	    !mime_field_text_is(&ct->subtype, "rfc822"))
		return msg_rename(p, i);
	if (!nest || p->nparts >= p->lim.max_parts || (enc->s &&
	    !mime_field_text_is(enc, "7bit") &&
	    !mime_field_text_is(enc, "8bit") &&
	    !mime_field_text_is(enc, "binary")))
		return opaque(p, i);
	pt->kind = MIME_KIND_MESSAGE;
	if (msg_rename(p, i) < 0)
		return -1;
	return part_add(p, i, sec_make(i == 0 ? "1" : pt->section, 0),
	    MIME_PART_F_MESSAGE);
}

static int
flush_field(struct mime_parser *p)
{
	size_t i = p->stack[p->nstack - 1].part, nlen, v, vn, f;
	struct entity *e = &p->ents[i];
	const char *val;

	nlen = rfc5322_field_name(p->field.s, p->field.len, &v);
	for (f = 0; nlen && f < MIME_HDR_COUNT; f++)
		if (mime_field_eqi(p->field.s, nlen, hdr_names[f]))
			break;
	if (nlen == 0 || f == MIME_HDR_COUNT || e->hdr[f].s != NULL ||
	    (f >= MIME_HDR_DATE && !(p->parts[i].flags & MIME_PART_F_MESSAGE)))
		goto out;
	val = p->field.s + v;
	vn = p->field.len - v;
	rfc5322_trim(&val, &vn);
	if (p->field_cut || e->kept + vn > p->lim.max_header ||
	    p->kept_total + vn > p->lim.max_total)
		p->parts[i].flags |= MIME_PART_F_HDR_CUT;
	if (e->kept + vn > p->lim.max_header ||
	    p->kept_total + vn > p->lim.max_total)
		goto out;
	if (mime_field_text_set(&e->hdr[f], val, vn) < 0)
		return -1;
	e->kept += vn;
	p->kept_total += vn;
out:
	str_clear(&p->field);
	p->field_cut = 0;
	return 0;
}

/* The header of the top entity ends at at (closing: cut short by the end
 * of its part). */
static int
hdr_done(struct mime_parser *p, const struct pos *at, int closing)
{
	struct frame *fr = &p->stack[p->nstack - 1];
	struct mime_part *pt = &p->parts[fr->part];

	if (p->field.len && flush_field(p) < 0)
		return -1;
	pt->hdr_size = at->off - pt->hdr_off;
	pt->body_off = at->off;
	pt->body_crlf = pt->end_crlf = at->crlf;
	p->ents[fr->part].body_lf = at->lf;
	if (closing)
		pt->flags |= MIME_PART_F_NO_BLANK;
	fr->state = FS_BODY;
	if (mime_field_content_parse(p, fr->part) < 0)
		return -1;
	return structure(p, closing);
}

/* Close the top entity at E (or at its start when E is before it). */
static int
close_top(struct mime_parser *p, const struct pos *E)
{
	struct frame *fr = &p->stack[p->nstack - 1];
	size_t i = fr->part;
	struct mime_part *pt = &p->parts[i];
	struct pos at = *E;

	if (fr->state == FS_HDR) {
		if (at.off < pt->hdr_off) {
			at.off = pt->hdr_off;
			at.crlf = pt->hdr_crlf;
			at.lf = p->ents[i].hdr_lf;
		}
		if (hdr_done(p, &at, 1) < 0)
			return -1;
		at = *E;
	}
	if (at.off < pt->body_off) {
		at.off = pt->body_off;
		at.crlf = pt->body_crlf;
		at.lf = p->ents[i].body_lf;
	}
	/* a part opened just before an enclosing boundary ends after E */
	if (at.off < p->ents[i].cend.off)
		at = p->ents[i].cend;
	if (pt->parent != MIME_NONE && p->ents[pt->parent].cend.off < at.off)
		p->ents[pt->parent].cend = at;
	pt->body_size = at.off - pt->body_off;
	pt->end_crlf = at.crlf;
	pt->body_lines = at.lf - p->ents[i].body_lf;
	if (fr->bactive)
		p->nactive--;
	fr->bactive = 0;
	pt->next = p->nparts;
	p->nstack--;
	if (pt->kind == MIME_KIND_MULTIPART && p->ents[i].nchild == 0)
		return opaque(p, i);
	return 0;
}

/* ---- lines ---- */

/* Is the current line a boundary line of an open multipart?  Innermost
 * first; *fi_r the frame, *close_r for "--boundary--". */
static int
boundary_line(const struct mime_parser *p, size_t *fi_r, int *close_r)
{
	const unsigned char *h = p->head;
	const struct frame *fr;
	size_t k, r;

	if (p->skip || p->nactive == 0 || p->tailjunk || p->headlen < 3 ||
	    h[0] != '-' || h[1] != '-')
		return 0;
	for (k = p->nstack; k-- > 0;) {
		fr = &p->stack[k];
		if (!fr->bactive || p->headlen < 2 + fr->blen ||
		    memcmp(h + 2, fr->boundary, fr->blen) != 0)
			continue;
		r = 2 + fr->blen;
		*close_r = p->headlen >= r + 2 && h[r] == '-' &&
		    h[r + 1] == '-';
		if (*close_r)
			r += 2;
		while (r < p->headlen && is_wsp(h[r]))
			r++;
		if (r == p->headlen) {
			*fi_r = k;
			return 1;
		}
	}
	return 0;
}

/* A boundary line of frame fi: close what is inside, open the next part. */
static int
on_boundary(struct mime_parser *p, size_t fi, int close)
{
	struct pos E = p->have_prev ? p->prevterm : p->lstart;
	struct frame *fr;
	size_t m;

	while (p->nstack - 1 > fi)
		if (close_top(p, &E) < 0)
			return -1;
	fr = &p->stack[fi];
	m = fr->part;
	if (close) {
		fr->bactive = 0;
		p->nactive--;
		return 0;
	}
	if (p->nparts >= p->lim.max_parts) {
		p->parts[m].flags |= MIME_PART_F_TRUNCATED;
		return 0;
	}
	p->ents[m].nchild++;
	return part_add(p, m, sec_make(p->parts[m].section,
	    p->ents[m].nchild), 0);
}

/* The current line ended; term is where its line end began. */
static int
eol(struct mime_parser *p)
{
	struct frame *fr = &p->stack[p->nstack - 1];
	size_t fi;
	int close;

	if (boundary_line(p, &fi, &close))
		return on_boundary(p, fi, close);
	if (fr->state == FS_HDR && p->linelen == 0)
		return hdr_done(p, &p->cur, 0);
	return 0;
}

static void
line_reset(struct mime_parser *p)
{
	p->lstart = p->cur;
	p->headlen = 0;
	p->linelen = 0;
	p->tailjunk = 0;
	p->skip = p->stack[p->nstack - 1].state != FS_HDR && p->nactive == 0;
}

/* An LF (after a CR when crlf) at the current position. */
static int
line_end(struct mime_parser *p, int crlf)
{
	struct pos term;
	int r;

	if (!crlf && p->lf_crlf) {
		p->cur.off++;	/* the CR it stands for */
		crlf = 1;
	}
	term = p->cur;
	term.off -= (uint64_t)crlf;
	p->cur.off++;
	p->cur.lf++;
	p->cur.crlf += (uint64_t)crlf;
	r = eol(p);
	p->prevterm = term;
	p->have_prev = 1;
	line_reset(p);
	return r;
}

/* A byte of line content (not the line end). */
static int
content(struct mime_parser *p, unsigned char c)
{
	struct frame *fr = &p->stack[p->nstack - 1];

	if (p->headlen < HEAD_MAX)
		p->head[p->headlen++] = c;
	else if (!is_wsp(c))
		p->tailjunk = 1;
	p->linelen++;
	if (fr->state == FS_BODY) {
		if (p->linelen <= 2 ? c != '-' : p->tailjunk)
			p->skip = 1;
		return 0;
	}
	if (p->linelen == 1 && !is_wsp(c) && p->field.len &&
	    flush_field(p) < 0)
		return -1;
	if (p->field.len < p->lim.max_field)
		return str_appendc(&p->field, (char)c);
	p->field_cut = 1;
	return 0;
}

/* content() for the n bytes of one header line's text c[0..n) (no line
 * end in it), all at once. */
static int
content_span(struct mime_parser *p, const unsigned char *c, size_t n)
{
	size_t take = HEAD_MAX - p->headlen, k;

	if (take > n)
		take = n;
	memcpy(p->head + p->headlen, c, take);
	p->headlen += take;
	for (k = take; k < n && !p->tailjunk; k++)
		if (!is_wsp(c[k]))
			p->tailjunk = 1;
	if (p->linelen == 0 && !is_wsp(c[0]) && p->field.len &&
	    flush_field(p) < 0)
		return -1;
	p->linelen += n;
	take = p->field.len < p->lim.max_field ?
	    p->lim.max_field - p->field.len : 0;
	if (take > n)
		take = n;
	if (take < n)
		p->field_cut = 1;
	return take ? str_append(&p->field, c, take) : 0;
}

/* In a header, with no CR pending: the text up to the next LF (or the end
 * of s) in one step, then the line end.  As feed_byte() byte by byte. */
static int
hdr_line(struct mime_parser *p, const unsigned char *s, size_t *ip,
    size_t n)
{
	size_t i = *ip, j, k;
	const unsigned char *q = memchr(s + i, '\n', n - i);
	int cr;

	j = q != NULL ? (size_t)(q - s) : n;
	k = j;
	cr = k > i && s[k - 1] == '\r';	/* a line end's, or pending */
	if (cr)
		k--;
	if (k > i && content_span(p, s + i, k - i) < 0)
		return -1;
	p->cur.off += j - i;
	if (q == NULL) {
		p->cr = cr;
		*ip = n;
		return 0;
	}
	*ip = j + 1;
	return line_end(p, cr);
}

/* In a body, at the start of a line, with no CR pending: lines that
 * cannot be boundary lines (they do not start with '-', or nothing is
 * looked at) only move the position; take all complete ones at once. */
static void
body_lines(struct mime_parser *p, const unsigned char *s, size_t *ip,
    size_t n)
{
	size_t i = *ip, j;
	const unsigned char *q;
	int any = 0, cr, crlf;

	while (i < n && (p->skip || s[i] != '-') &&
	    (q = memchr(s + i, '\n', n - i)) != NULL) {
		j = (size_t)(q - s);
		cr = j > i && s[j - 1] == '\r';	/* else lf_crlf: one
							   stands for it */
		crlf = cr || p->lf_crlf;
		p->prevterm.off = p->cur.off + (j - i) - (uint64_t)cr;
		p->prevterm.crlf = p->cur.crlf;
		p->prevterm.lf = p->cur.lf;
		p->cur.off += j - i + 1 + (uint64_t)(crlf && !cr);
		p->cur.lf++;
		p->cur.crlf += (uint64_t)crlf;
		i = j + 1;
		any = 1;
	}
	if (any) {
		p->have_prev = 1;
		line_reset(p);
	}
	*ip = i;
}

static int
feed_byte(struct mime_parser *p, unsigned char c)
{
	if (c == '\n') {
		int crlf = p->cr;
		p->cr = 0;
		return line_end(p, crlf);
	}
	if (p->cr) {
		p->cr = 0;
		if (content(p, '\r') < 0)
			return -1;
	}
	p->cur.off++;
	if (c == '\r') {
		p->cr = 1;
		return 0;
	}
	return content(p, c);
}

/* The rest of a line that cannot matter: find its end fast. */
static int
skip_line(struct mime_parser *p, const unsigned char *s, size_t *ip,
    size_t n)
{
	size_t i = *ip, j;
	const unsigned char *q = memchr(s + i, '\n', n - i);
	int crlf;

	if (q == NULL) {
		p->cur.off += n - i;
		p->cr = s[n - 1] == '\r';
		*ip = n;
		return 0;
	}
	j = (size_t)(q - s);
	crlf = j > i ? s[j - 1] == '\r' : p->cr;
	p->cur.off += j - i;
	p->cr = 0;
	*ip = j + 1;
	return line_end(p, crlf);
}

static int
fail(struct mime_parser *p)
{
	if (p->err == 0)
		p->err = errno ? errno : ENOMEM;
	errno = p->err;
	return -1;
}

void
mime_parser_lf_as_crlf(struct mime_parser *p)
{
	p->lf_crlf = 1;
}

int
mime_parser_feed(struct mime_parser *p, const void *buf, size_t n)
{
	const unsigned char *s = buf;
	size_t i = 0;

	if (p->err || p->done) {
		errno = p->err ? p->err : EINVAL;
		return -1;
	}
	while (i < n) {
		if (!p->cr && p->linelen == 0 &&
		    p->stack[p->nstack - 1].state == FS_BODY) {
			body_lines(p, s, &i, n);
			if (i == n)
				break;
		}
		if (p->skip) {
			if (skip_line(p, s, &i, n) < 0)
				return fail(p);
		} else if (!p->cr &&
		    p->stack[p->nstack - 1].state == FS_HDR) {
			if (hdr_line(p, s, &i, n) < 0)
				return fail(p);
		} else if (feed_byte(p, s[i++]) < 0)
			return fail(p);
	}
	return 0;
}

int
mime_parser_finish(struct mime_parser *p)
{
	struct pos end;

	if (p->err || p->done) {
		errno = p->err ? p->err : EINVAL;
		return -1;
	}
	if (p->cr) {
		p->cr = 0;
		if (!p->skip && content(p, '\r') < 0)
			return fail(p);
	}
	if (p->cur.off > p->lstart.off && !p->skip && eol(p) < 0)
		return fail(p);
	end = p->cur;
	while (p->nstack > 0)
		if (close_top(p, &end) < 0)
			return fail(p);
	p->done = 1;
	return 0;
}

/* ---- life and results ---- */

struct mime_parser *
mime_parser_new(const struct mime_limits *lim)
{
	struct mime_parser *p = calloc(1, sizeof(*p));

	if (p == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	p->lim = lim ? *lim : mime_limits_default();
	if (p->lim.max_depth > MIME_DEPTH_HARDMAX)
		p->lim.max_depth = MIME_DEPTH_HARDMAX;
	if (p->lim.max_boundary > MIME_BOUNDARY_MAX)
		p->lim.max_boundary = MIME_BOUNDARY_MAX;
	if (p->lim.max_parts < 1)
		p->lim.max_parts = 1;
	str_init(&p->field, 0);
	p->stack = calloc(p->lim.max_depth + 1, sizeof(*p->stack));
	if (p->stack == NULL || part_add(p, MIME_NONE, sec_make("", 0),
	    MIME_PART_F_MESSAGE) < 0) {
		mime_parser_free(&p);
		errno = ENOMEM;
		return NULL;
	}
	line_reset(p);
	return p;
}

void
mime_parser_free(struct mime_parser **pp)
{
	struct mime_parser *p = *pp;
	size_t i, f;

	if (p == NULL)
		return;
	for (i = 0; i < p->nparts; i++) {
		mime_field_content_clear(&p->ents[i]);
		for (f = 0; f < MIME_HDR_COUNT; f++)
			mime_field_text_free(&p->ents[i].hdr[f]);
		free(p->ents[i].section);
	}
	free(p->parts);
	free(p->ents);
	free(p->stack);
	str_free(&p->field);
	free(p);
	*pp = NULL;
}

size_t
mime_part_count(const struct mime_parser *p)
{
	return p->nparts;
}

const struct mime_part *
mime_part_get(const struct mime_parser *p, size_t i)
{
	return i < p->nparts ? &p->parts[i] : NULL;
}

const struct mime_part *
mime_parts(const struct mime_parser *p)
{
	return p->parts;
}

const struct mime_content *
mime_part_content(const struct mime_parser *p, size_t i)
{
	return i < p->nparts ? &p->ents[i].ct : NULL;
}

const struct mime_text *
mime_part_header(const struct mime_parser *p, size_t i, enum mime_hdr f)
{
	if (i >= p->nparts || (unsigned)f >= MIME_HDR_COUNT ||
	    p->ents[i].hdr[f].s == NULL)
		return NULL;
	return &p->ents[i].hdr[f];
}

size_t
mime_parser_memory(const struct mime_parser *p)
{
	const struct entity *e;
	size_t m, i, k;

	m = sizeof(*p) + p->cap * (sizeof(*p->parts) + sizeof(*p->ents)) +
	    (p->lim.max_depth + 1) * sizeof(*p->stack) + p->field.cap;
	for (i = 0; i < p->nparts; i++) {
		e = &p->ents[i];
		m += strlen(e->section) + 1 + e->ct.type.n + e->ct.subtype.n +
		    e->ct.encoding.n + e->ct.disposition.n + 4;
		for (k = 0; k < MIME_HDR_COUNT; k++)
			m += e->hdr[k].s ? e->hdr[k].n + 1 : 0;
		for (k = 0; k < e->ct.nparams; k++)
			m += sizeof(struct mime_param) + e->params[k].name.n +
			    e->params[k].value.n + 2;
		for (k = 0; k < e->ct.ndparams; k++)
			m += sizeof(struct mime_param) + e->dparams[k].name.n +
			    e->dparams[k].value.n + 2;
		for (k = 0; k < e->ct.nlanguages; k++)
			m += sizeof(struct mime_text) + e->langs[k].n + 1;
	}
	return m;
}

int
mime_section_find(const struct mime_part *parts, size_t n,
    const char *section, size_t *idx_r)
{
	size_t i;

	if (n > 0 && strcmp(section, "1") == 0 &&
	    parts[0].kind != MIME_KIND_MULTIPART) {
		*idx_r = 0;
		return 0;
	}
	for (i = 0; i < n; i++) {
		if (strcmp(parts[i].section, section) == 0) {
			*idx_r = i;
			return 0;
		}
	}
	errno = ENOENT;
	return -1;
}
