/* SPDX-License-Identifier: ISC */
#include "msgcache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache.h"
#include "envelope.h"
#include "mime.h"


/* Header fields IMAP clients fetch for their message lists (Thunderbird,
 * Apple Mail, K-9, mutt): kept raw so HEADER.FIELDS needs no file read. */
static const char *const msgcache_fields[] = {
	"from", "to", "cc", "bcc", "subject", "date", "message-id",
	"in-reply-to", "references", "reply-to", "sender", "content-type",
	"content-transfer-encoding", "mime-version", "priority", "x-priority",
	"importance", "list-id", "list-post", "x-mailer", "user-agent",
	"newsgroups", "delivered-to", "disposition-notification-to",
	"return-receipt-to", "x-spam-flag", "x-spam-status",
	"content-class", "auto-submitted", "x-original-to",
};

int
msgcache_field_kept(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(msgcache_fields) / sizeof(msgcache_fields[0]); i++)
		if (strcasecmp(msgcache_fields[i], name) == 0)
			return 1;
	return 0;
}

struct msgcache {
	struct mime_parser *mp;
	struct str hdr;		/* the top-level header as fed, bounded */
	int hdr_done;
	unsigned char last[3];	/* the last bytes of hdr, to see CRLFCRLF */
	int lf;			/* fed LF text, each LF standing for CRLF */
};

struct msgcache *
msgcache_new(void)
{
	struct msgcache *mc = calloc(1, sizeof(*mc));
	struct mime_limits lim = mime_limits_default();

	if (mc == NULL)
		return NULL;
	str_init(&mc->hdr, MSGCACHE_HDR_MAX);
	mc->mp = mime_parser_new(&lim);
	if (mc->mp == NULL) {
		free(mc);
		return NULL;
	}
	return mc;
}

/* Keep the top header (up to the first empty line) for msgcache_fields:
 * append whole spans, looking only at line ends. */
static void
msgcache_keep_header(struct msgcache *mc, const unsigned char *p, size_t n)
{
	const unsigned char *s = p, *end = p + n, *lf;
	size_t take = n;

	while ((lf = memchr(s, '\n', (size_t)(end - s))) != NULL) {
		/* the line that lf ends is empty: "\n" or "\r\n" right
		 * after the previous line end */
		size_t at = (size_t)(lf - p);
		unsigned char b1 = at >= 1 ? p[at - 1] : mc->last[2];
		unsigned char b2 = at >= 2 ? p[at - 2] :
		    at == 1 ? mc->last[2] : mc->last[1];

		if (b1 == '\n' || (b1 == '\r' && b2 == '\n') ||
		    (mc->hdr.len + at == 0) ||
		    (b1 == '\r' && mc->hdr.len + at == 1)) {
			take = at + 1;
			mc->hdr_done = 1;
			break;
		}
		s = lf + 1;
	}
	if (take > MSGCACHE_HDR_MAX - mc->hdr.len) {
		/* past the bound: keep what fits */
		take = MSGCACHE_HDR_MAX - mc->hdr.len;
		mc->hdr_done = 1;
	}
	if (str_append(&mc->hdr, p, take) < 0)
		mc->hdr_done = 1;
	if (take >= 3)
		memcpy(mc->last, p + take - 3, 3);
	else {
		size_t i;

		for (i = 0; i < take; i++) {
			mc->last[0] = mc->last[1];
			mc->last[1] = mc->last[2];
			mc->last[2] = p[i];
		}
	}
}

/* msgcache_keep_header for LF text: the header kept in wire form, so its
 * lines are given a CR (a piece at a time, until the header is done). */
static void
msgcache_keep_header_lf(struct msgcache *mc, const unsigned char *p,
    size_t n)
{
	unsigned char out[2 * 1024];
	const unsigned char *end = p + n, *lf;
	size_t o = 0, k;

	while (p < end && !mc->hdr_done) {
		lf = memchr(p, '\n', (size_t)(end - p));
		k = (lf != NULL ? (size_t)(lf - p) : (size_t)(end - p));
		if (k > sizeof(out) / 2)
			k = sizeof(out) / 2;	/* a long line: in pieces */
		if (o + k + 2 > sizeof(out)) {
			msgcache_keep_header(mc, out, o);
			o = 0;
		}
		memcpy(out + o, p, k);
		o += k;
		p += k;
		if (p < end && *p == '\n') {
			out[o++] = '\r';
			out[o++] = '\n';
			p++;
		}
		if (o > 0 && (o + 2 > sizeof(out) || p == end)) {
			msgcache_keep_header(mc, out, o);
			o = 0;
		}
	}
	if (o > 0 && !mc->hdr_done)
		msgcache_keep_header(mc, out, o);
}

int
msgcache_feed(struct msgcache *mc, const void *wire, size_t n)
{
	if (!mc->hdr_done) {
		if (mc->lf)
			msgcache_keep_header_lf(mc, wire, n);
		else
			msgcache_keep_header(mc, wire, n);
	}
	return mime_parser_feed(mc->mp, wire, n);
}

static int
msgcache_field_wanted(const char *name, size_t n)
{
	size_t i;

	for (i = 0; i < sizeof(msgcache_fields) / sizeof(msgcache_fields[0]); i++)
		if (strlen(msgcache_fields[i]) == n &&
		    strncasecmp(msgcache_fields[i], name, n) == 0)
			return 1;
	return 0;
}

/* The wanted fields of the kept header, each with its continuation lines,
 * in their order in the message. */
static int
msgcache_headers(const struct msgcache *mc, struct str *out)
{
	const char *s = mc->hdr.s ? mc->hdr.s : "", *end = s + mc->hdr.len;
	int want = 0;

	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *le = nl ? nl + 1 : end;

		if (*s == '\r' || *s == '\n')
			break;	/* the blank line */
		if (*s != ' ' && *s != '\t') {
			const char *colon = memchr(s, ':', (size_t)(le - s));

			want = colon != NULL &&
			    msgcache_field_wanted(s, (size_t)(colon - s));
		}
		if (want && nl != NULL && str_append(out, s, (size_t)(le - s)) < 0)
			return -1;
		s = le;
	}
	return 0;
}

static int
msgcache_parts(const struct mime_parser *mp, int raw, struct str *out)
{
	size_t i, n = mime_part_count(mp);

	for (i = 0; i < n; i++) {
		const struct mime_part *p = mime_part_get(mp, i);
		struct cache_part cp;

		memset(&cp, 0, sizeof(cp));
		if (strlen(p->section) >= sizeof(cp.section)) {
			/* deeper than any client asks: leave out the part and
			 * everything below it, so no row after it shifts */
			i = p->next - 1;
			continue;
		}
		memcpy(cp.section, p->section, strlen(p->section) + 1);
		cp.kind = (uint8_t)p->kind;
		cp.hdr_off = p->hdr_off;
		cp.hdr_size = p->hdr_size;
		cp.body_off = p->body_off;
		cp.body_size = p->body_size;
		cp.body_lines = p->body_lines;
		if (raw) {
			cp.hdr_doff = p->hdr_off;
			cp.body_doff = p->body_off;
			cp.body_dsize = p->body_size;
		} else {
			cp.hdr_doff = p->hdr_off - p->hdr_crlf;
			cp.body_doff = p->body_off - p->body_crlf;
			cp.body_dsize = p->body_size - (p->end_crlf - p->body_crlf);
		}
		if (cache_part_encode(out, &cp) < 0)
			return -1;
	}
	return 0;
}

int
msgcache_finish(struct msgcache *mc, int raw, struct str *payload)
{
	struct str s = STR_INIT;
	int rc = -1;

	if (mime_parser_finish(mc->mp) < 0)
		goto out;
	if (envelope_envelope(mc->mp, 0, &s) < 0 ||
	    cache_item_add(payload, CI_ENVELOPE, s.s, s.len) < 0)
		goto out;
	str_clear(&s);
	if (envelope_bodystructure(mc->mp, 0, &s) < 0 ||
	    cache_item_add(payload, CI_BODY, s.s, s.len) < 0)
		goto out;
	str_clear(&s);
	if (envelope_bodystructure(mc->mp, 1, &s) < 0 ||
	    cache_item_add(payload, CI_BODYSTRUCTURE, s.s, s.len) < 0)
		goto out;
	str_clear(&s);
	if (msgcache_parts(mc->mp, raw, &s) < 0 ||
	    cache_item_add(payload, CI_PARTS, s.s, s.len) < 0)
		goto out;
	str_clear(&s);
	if (msgcache_headers(mc, &s) < 0 ||
	    cache_item_add(payload, CI_HEADERS, s.s, s.len) < 0)
		goto out;
	rc = 0;
out:
	str_free(&s);
	return rc;
}

/* ---- parsing a file another program wrote ---- */

#define MSGCACHE_CHUNK 65536

/* Note in *crlf_r and *bare_r whether p[0..n) has a line ending in CRLF or
 * a bare LF; prev is the byte before p (0 at the start). */
static void
msgcache_line_ends(const unsigned char *p, size_t n, unsigned char prev,
    int *crlf_r, int *bare_r)
{
	const unsigned char *s = p, *end = p + n, *lf;

	if (memchr(p, '\r', n) == NULL) {
		/* no CR: every LF is bare */
		if (memchr(p, '\n', n) != NULL)
			*bare_r = 1;
		if (n > 0 && p[0] == '\n' && prev == '\r')
			*crlf_r = 1;
		return;
	}
	while (!(*crlf_r && *bare_r) &&
	    (lf = memchr(s, '\n', (size_t)(end - s))) != NULL) {
		if ((lf > p ? lf[-1] : prev) == '\r')
			*crlf_r = 1;
		else
			*bare_r = 1;
		s = lf + 1;
	}
}

/* Feed p[0..n) to mc as wire form: as it is when raw, else with a CR put
 * before every LF (through out, 2 * MSGCACHE_CHUNK bytes).  *wire_r grows
 * by the bytes fed. */
static int
msgcache_feed_text(struct msgcache *mc, const unsigned char *p, size_t n,
    int raw, unsigned char *out, uint64_t *wire_r)
{
	const unsigned char *end = p + n;

	if (raw) {
		*wire_r += n;
		return msgcache_feed(mc, p, n);
	}
	while (p < end) {
		size_t left = (size_t)(end - p), take = left < MSGCACHE_CHUNK ?
		    left : MSGCACHE_CHUNK, o = 0;
		const unsigned char *s = p, *stop = p + take, *lf;

		while ((lf = memchr(s, '\n', (size_t)(stop - s))) != NULL) {
			memcpy(out + o, s, (size_t)(lf - s));
			o += (size_t)(lf - s);
			out[o++] = '\r';
			out[o++] = '\n';
			s = lf + 1;
		}
		memcpy(out + o, s, (size_t)(stop - s));
		o += (size_t)(stop - s);
		*wire_r += o;
		if (msgcache_feed(mc, out, o) < 0)
			return -1;
		p = stop;
	}
	return 0;
}

/* Read fd from offset off into buf (up to cap bytes): bytes read, -1.  A
 * short read of a regular file is its end. */
static ssize_t
msgcache_pread(int fd, unsigned char *buf, size_t cap, off_t off)
{
	ssize_t n;

	while ((n = pread(fd, buf, cap, off)) < 0 && errno == EINTR)
		;
	return n;
}

/* LF text (no CR anywhere) is fed as it is, each LF counting as CRLF. */
static void
msgcache_lf_mode(struct msgcache *mc)
{
	mc->lf = 1;
	mime_parser_lf_as_crlf(mc->mp);
}

/* The wire size of what was fed, once finished: the message entity spans
 * it all. */
static uint64_t
msgcache_wire_size(const struct msgcache *mc)
{
	const struct mime_part *p = mime_part_get(mc->mp, 0);

	return p->body_off + p->body_size;
}

/* Parse a file too big to hold: one pass to see its line ends, one to
 * feed it. */
static int
msgcache_parse_big(int fd, struct msgcache *mc, unsigned char *in,
    int *raw_r)
{
	unsigned char prev = 0, *out = NULL;
	int crlf = 0, bare = 0, cr = 0, rc = -1;
	uint64_t wire = 0;
	off_t off;
	ssize_t n;

	for (off = 0; (n = msgcache_pread(fd, in, MSGCACHE_CHUNK, off)) > 0;
	    off += n) {
		cr = cr || memchr(in, '\r', (size_t)n) != NULL;
		msgcache_line_ends(in, (size_t)n, prev, &crlf, &bare);
		prev = in[n - 1];
	}
	if (n < 0)
		return -1;
	*raw_r = crlf && !bare;
	if (!cr)
		msgcache_lf_mode(mc);
	else if (!*raw_r && (out = malloc(2 * (size_t)MSGCACHE_CHUNK)) == NULL)
		return -1;
	for (off = 0; (n = msgcache_pread(fd, in, MSGCACHE_CHUNK, off)) > 0;
	    off += n)
		if ((out == NULL ? msgcache_feed(mc, in, (size_t)n) :
		    msgcache_feed_text(mc, in, (size_t)n, 0, out, &wire)) < 0)
			goto out;
	rc = n < 0 ? -1 : 0;
out:
	free(out);
	return rc;
}

/* Parse the file held in buf[0..len). */
static int
msgcache_parse_buf(struct msgcache *mc, const unsigned char *buf,
    size_t len, int *raw_r)
{
	unsigned char *out;
	int crlf = 0, bare = 0, rc;
	uint64_t wire = 0;

	if (memchr(buf, '\r', len) == NULL) {
		msgcache_lf_mode(mc);
		return msgcache_feed(mc, buf, len);
	}
	msgcache_line_ends(buf, len, 0, &crlf, &bare);
	*raw_r = crlf && !bare;
	if (*raw_r)
		return msgcache_feed(mc, buf, len);
	if ((out = malloc(2 * (size_t)MSGCACHE_CHUNK)) == NULL)
		return -1;
	rc = msgcache_feed_text(mc, buf, len, 0, out, &wire);
	free(out);
	return rc;
}

int
msgcache_parse_fd(int fd, struct str *payload, int *raw_r, uint64_t *wire_r)
{
	unsigned char small[MSGCACHE_CHUNK], *buf = small;
	size_t cap = sizeof(small), len = 0;
	struct msgcache *mc = NULL;
	struct stat st;
	int rc = -1, saved;
	ssize_t n;

	*wire_r = 0;
	*raw_r = 0;
	/* the whole file in one read when it fits (a read short of the
	 * buffer shows that it did): most do in small[]; a bigger one is read
	 * again into a buffer of its size, up to MSGCACHE_SLURP */
	if ((n = msgcache_pread(fd, buf, cap, 0)) < 0)
		goto out;
	len = (size_t)n;
	if (len == cap && fstat(fd, &st) == 0 &&
	    (uint64_t)st.st_size < MSGCACHE_SLURP) {
		cap = (size_t)st.st_size + 1;
		if ((buf = malloc(cap)) == NULL ||
		    (n = msgcache_pread(fd, buf, cap, 0)) < 0)
			goto out;
		len = (size_t)n;
	}
	if ((mc = msgcache_new()) == NULL)
		goto out;
	if (len == cap) {
		/* bigger than we hold: read it in chunks, twice */
		if (buf != small)
			free(buf);
		buf = small;
		if (msgcache_parse_big(fd, mc, small, raw_r) < 0)
			goto out;
	} else if (msgcache_parse_buf(mc, buf, len, raw_r) < 0)
		goto out;
	if (msgcache_finish(mc, *raw_r, payload) < 0)
		goto out;
	*wire_r = msgcache_wire_size(mc);
	rc = 0;
out:
	saved = errno;
	msgcache_free(&mc);
	if (buf != small)
		free(buf);
	errno = saved;
	return rc;
}

void
msgcache_free(struct msgcache **mcp)
{
	struct msgcache *mc = *mcp;

	if (mc == NULL)
		return;
	mime_parser_free(&mc->mp);
	str_free(&mc->hdr);
	free(mc);
	*mcp = NULL;
}
