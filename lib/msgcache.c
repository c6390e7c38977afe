/* SPDX-License-Identifier: ISC */
#include "msgcache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

int
msgcache_feed(struct msgcache *mc, const void *wire, size_t n)
{
	if (!mc->hdr_done)
		msgcache_keep_header(mc, wire, n);
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
