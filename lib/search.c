/* SPDX-License-Identifier: ISC */
/*
 * search: evaluation of IMAP SEARCH keys against one message.  See
 * search.h.
 *
 * Per message, what is expensive is fetched at most once and only when a
 * key needs it: the header bytes (the cached fields, or the file's
 * header), the sent date, the message file.  Keys are reordered by cost
 * once (search_prepare), so an AND whose cheap keys fail never opens the
 * file.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cache.h"
#include "mdate.h"
#include "mime.h"
#include "msgcache.h"
#include "rfc5322.h"
#include "search.h"

#define SEARCH_HDR_MAX (1u << 20)	/* header bytes read from a file */
#define SEARCH_FIELD_MAX 128		/* a HEADER key's field name */
#define SEARCH_CHUNK 65536		/* body bytes read at a time */

enum { COST_INDEX, COST_CACHE, COST_HEADER, COST_BODY };

struct search_key *
search_key_new(enum search_op op)
{
	struct search_key *k = calloc(1, sizeof(*k));

	if (k == NULL)
		return NULL;
	k->op = op;
	seqset_init(&k->set);
	return k;
}

void
search_key_add(struct search_key *parent, struct search_key *child)
{
	struct search_key **p = &parent->child;

	while (*p != NULL)
		p = &(*p)->next;
	*p = child;
}

int
search_key_text(struct search_key *k, const char *field, const char *text,
    size_t n)
{
	if (field != NULL) {
		size_t i, len = strlen(field);

		if (len == 0 || len > SEARCH_FIELD_MAX) {
			errno = EINVAL;
			return -1;
		}
		for (i = 0; i < len; i++)
			if (field[i] <= ' ' || field[i] > '~' ||
			    field[i] == ':') {
				errno = EINVAL;
				return -1;
			}
		k->field = strdup(field);
		if (k->field == NULL)
			return -1;
	}
	k->text = textsearch_new(text, n);
	return k->text == NULL ? -1 : 0;
}

void
search_key_free(struct search_key *k)
{
	while (k != NULL) {
		struct search_key *next = k->next;

		search_key_free(k->child);
		seqset_free(&k->set);
		free(k->field);
		textsearch_free(&k->text);
		free(k);
		k = next;
	}
}

/* The cost of k alone (children included). */
static int
key_cost(struct search_key *k)
{
	struct search_key *c;
	int cost = COST_INDEX;

	switch (k->op) {
	case SEARCH_AND:
	case SEARCH_OR:
	case SEARCH_NOT:
		for (c = k->child; c != NULL; c = c->next) {
			int cc = key_cost(c);

			if (cc > cost)
				cost = cc;
		}
		break;
	case SEARCH_SENTBEFORE:
	case SEARCH_SENTON:
	case SEARCH_SENTSINCE:
		cost = COST_CACHE;
		break;
	case SEARCH_HEADER:
		cost = msgcache_field_kept(k->field) ? COST_CACHE :
		    COST_HEADER;
		break;
	case SEARCH_BODY:
	case SEARCH_TEXT:
		cost = COST_BODY;
		break;
	default:
		break;
	}
	k->cost = cost;
	return cost;
}

/* Sort a sibling list by cost (stable insertion sort: lists are short). */
static struct search_key *
sort_keys(struct search_key *list)
{
	struct search_key *sorted = NULL;

	while (list != NULL) {
		struct search_key *k = list, **p = &sorted;

		list = list->next;
		while (*p != NULL && (*p)->cost <= k->cost)
			p = &(*p)->next;
		k->next = *p;
		*p = k;
	}
	return sorted;
}

static void
prepare(struct search_key *k)
{
	struct search_key *c;

	for (c = k->child; c != NULL; c = c->next)
		prepare(c);
	if (k->op == SEARCH_AND)
		k->child = sort_keys(k->child);
}

void
search_prepare(struct search_key *k)
{
	key_cost(k);
	prepare(k);
}

int
search_needs_message(const struct search_key *k)
{
	return k->cost > COST_INDEX;
}

/* ------------------------------------------------------------ evaluation */

/* What one search_match call has fetched about its message. */
struct eval {
	struct search_msg *m;
	int hdr_state;		/* 0 not read, 1 cached fields, 2 file */
	struct str hdr;		/* the header bytes (wire or LF form) */
	int sent_state;		/* 0 not parsed, 1 parsed, -1 none */
	int64_t sent_day;
	const unsigned char *parts;	/* CI_PARTS, NULL when none */
	size_t parts_len;
	int parts_state;
	struct str field;	/* one field's decoded text */
};

static int eval(struct eval *e, struct search_key *k);

/* The CI_PARTS item of the cached entry. */
static void
get_parts(struct eval *e)
{
	if (e->parts_state)
		return;
	e->parts_state = 1;
	if (e->m->cached == NULL || cache_item_find(e->m->cached,
	    e->m->cached_len, CI_PARTS, &e->parts, &e->parts_len) != 1)
		e->parts = NULL;
}

static int
open_file(struct eval *e)
{
	if (e->m->fd >= 0)
		return 0;
	if (e->m->open_file == NULL) {
		errno = ENOENT;
		return -1;
	}
	return e->m->open_file(e->m->ctx, &e->m->fd, &e->m->raw);
}

/* Read the message's whole header from the file into e->hdr. */
static int
read_file_header(struct eval *e)
{
	struct cache_part row;
	uint64_t end = SEARCH_HDR_MAX;
	size_t pos = 0;

	if (open_file(e) < 0)
		return -1;
	get_parts(e);
	if (e->parts != NULL &&
	    cache_part_decode(e->parts, e->parts_len, &pos, &row) == 1 &&
	    row.body_doff < SEARCH_HDR_MAX)
		end = row.body_doff;
	e->hdr.len = 0;
	if (str_ready(&e->hdr, (size_t)end + 1) < 0)
		return -1;
	for (;;) {
		ssize_t r = pread(e->m->fd, e->hdr.s + e->hdr.len,
		    (size_t)end - e->hdr.len, (off_t)e->hdr.len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		e->hdr.len += (size_t)r;
		if (r == 0 || e->hdr.len == end)
			break;
	}
	/* without a table: stop at the blank line */
	if (e->parts == NULL) {
		size_t i;

		for (i = 0; i + 1 < e->hdr.len; i++)
			if (e->hdr.s[i] == '\n' && (e->hdr.s[i + 1] == '\n' ||
			    (e->hdr.s[i + 1] == '\r' && i + 2 < e->hdr.len &&
			    e->hdr.s[i + 2] == '\n'))) {
				e->hdr.len = i + 1;
				break;
			}
	}
	e->hdr_state = 2;
	return 0;
}

/* Header bytes that hold field (NULL: every field): the cached fields when
 * they are complete for it, else the file's header. */
static int
get_header(struct eval *e, const char *field)
{
	const unsigned char *data;
	size_t len;

	if (e->hdr_state == 2)
		return 0;
	if (field != NULL && msgcache_field_kept(field)) {
		if (e->hdr_state == 1)
			return 0;
		get_parts(e);
		if (e->m->cached != NULL && e->parts != NULL &&
		    cache_item_find(e->m->cached, e->m->cached_len,
		    CI_HEADERS, &data, &len) == 1) {
			struct cache_part row;
			size_t pos = 0;

			if (cache_part_decode(e->parts, e->parts_len, &pos,
			    &row) == 1 && row.hdr_size <= MSGCACHE_HDR_MAX) {
				e->hdr.len = 0;
				if (str_append(&e->hdr, data, len) < 0)
					return -1;
				e->hdr_state = 1;
				return 0;
			}
		}
	}
	return read_file_header(e);
}

/* Call fn for each field of the header bytes in e->hdr whose name is field
 * (NULL: all), with the unfolded, decoded value; stops at fn's non-zero. */
static int
each_field(struct eval *e, const char *field,
    int (*fn)(struct eval *, const char *, size_t, void *), void *arg)
{
	const char *s = e->hdr.s;
	size_t n = e->hdr.len, i = 0;

	while (i < n) {
		size_t start = i, end, vpos, nlen;
		int r;

		if (s[i] == '\n' || (s[i] == '\r' && i + 1 < n &&
		    s[i + 1] == '\n'))
			break;		/* the blank line */
		/* the field runs to a line end not followed by a blank */
		end = i;
		for (;;) {
			const char *nl = memchr(s + end, '\n', n - end);

			if (nl == NULL) {
				end = n;
				break;
			}
			end = (size_t)(nl - s) + 1;
			if (end >= n || (s[end] != ' ' && s[end] != '\t'))
				break;
		}
		i = end;
		nlen = rfc5322_field_name(s + start, end - start, &vpos);
		if (nlen == 0)
			continue;
		if (field != NULL && (strlen(field) != nlen ||
		    strncasecmp(field, s + start, nlen) != 0))
			continue;
		e->field.len = 0;
		if (textsearch_header_text(s + start + vpos, end - start - vpos,
		    &e->field) < 0)
			return -1;
		r = fn(e, e->field.s != NULL ? e->field.s : "", e->field.len,
		    arg);
		if (r != 0)
			return r;
	}
	return 0;
}

static int
field_has(struct eval *e, const char *v, size_t n, void *arg)
{
	struct textsearch *t = arg;

	(void)e;
	textsearch_reset(t);
	return textsearch_feed(t, v, n);
}

static int
match_header(struct eval *e, struct search_key *k)
{
	if (get_header(e, k->field) < 0)
		return -1;
	return each_field(e, k->field, field_has, k->text);
}

/* each_field callback: the first Date: field gives the sent date. */
static int
field_date(struct eval *e, const char *v, size_t n, void *arg)
{
	struct mdate md;

	(void)arg;
	if (mdate_parse(v, n, &md) == 0) {
		e->sent_day = mdate_days(md.year, md.month, md.day);
		e->sent_state = 1;
	}
	return 1;		/* only the first one counts */
}

/* The sent date's day (Date: in its own zone): 1 with *day_r, 0 when the
 * message has none, -1. */
static int
sent_day(struct eval *e, int64_t *day_r)
{
	if (e->sent_state == 0) {
		e->sent_state = -1;
		if (get_header(e, "date") < 0 ||
		    each_field(e, "date", field_date, NULL) < 0)
			return -1;
	}
	if (e->sent_state != 1)
		return 0;
	*day_r = e->sent_day;
	return 1;
}

/* Body search: feed every text part, decoded, to t. */
struct body_ctx {
	struct textsearch *t;
};

static int
body_sink(void *ctx, const void *p, size_t n)
{
	struct body_ctx *b = ctx;

	return textsearch_feed(b->t, p, n);
}

/* Feed disk bytes [start, end) through a decoder for a part whose header
 * (disk bytes [hstart, start)) names its type and encoding. */
static int
search_part(struct eval *e, struct textsearch *t, uint64_t hstart,
    uint64_t start, uint64_t end, int top)
{
	struct mime_parser *mp = NULL;
	const struct mime_content *ct;
	struct textsearch_dec *d = NULL;
	struct body_ctx bc = { t };
	const char *cs = NULL;
	size_t cslen = 0, i;
	char *buf = NULL;
	int r = -1;

	/* the part's Content-* fields: its header, parsed alone */
	if (start - hstart > SEARCH_HDR_MAX)
		hstart = start - SEARCH_HDR_MAX;
	buf = malloc(SEARCH_CHUNK);
	mp = mime_parser_new(NULL);
	if (buf == NULL || mp == NULL)
		goto out;
	for (i = 0; hstart + i < start;) {
		size_t want = start - hstart - i;
		ssize_t got;

		if (want > SEARCH_CHUNK)
			want = SEARCH_CHUNK;
		got = pread(e->m->fd, buf, want, (off_t)(hstart + i));
		if (got <= 0) {
			if (got == 0)
				errno = EIO;
			goto out;
		}
		if (mime_parser_feed(mp, buf, (size_t)got) < 0)
			goto out;
		i += (size_t)got;
	}
	if (mime_parser_finish(mp) < 0)
		goto out;
	ct = mime_part_content(mp, 0);
	if (ct == NULL)
		goto out;
	/* text parts only (and a message without any Content-Type) */
	if (!(ct->type.n == 4 && strncasecmp(ct->type.s, "text", 4) == 0) &&
	    !(top && ct->defaulted)) {
		r = 0;
		goto out;
	}
	for (i = 0; i < ct->nparams; i++)
		if (ct->params[i].name.n == 7 &&
		    strncasecmp(ct->params[i].name.s, "charset", 7) == 0) {
			cs = ct->params[i].value.s;
			cslen = ct->params[i].value.n;
		}
	d = textsearch_dec_new(textsearch_enc_of(ct->encoding.s != NULL ?
	    ct->encoding.s : "", ct->encoding.n), cs, cslen, body_sink, &bc);
	if (d == NULL)
		goto out;
	for (i = 0; start + i < end;) {
		size_t want = end - start - i;
		ssize_t got;

		if (want > SEARCH_CHUNK)
			want = SEARCH_CHUNK;
		got = pread(e->m->fd, buf, want, (off_t)(start + i));
		if (got <= 0) {
			if (got == 0)
				errno = EIO;
			goto out;
		}
		r = textsearch_dec_feed(d, buf, (size_t)got);
		if (r != 0)
			goto out;
		i += (size_t)got;
	}
	r = textsearch_dec_end(d);
out:
	textsearch_dec_free(&d);
	mime_parser_free(&mp);
	free(buf);
	return r;
}

static int
match_body(struct eval *e, struct textsearch *t)
{
	struct cache_part row;
	size_t pos = 0;
	int top = 1;

	if (open_file(e) < 0)
		return -1;
	get_parts(e);
	textsearch_reset(t);
	if (e->parts == NULL) {
		/* no section table: the file after its header, as it is */
		off_t end = lseek(e->m->fd, 0, SEEK_END);

		if (end < 0)
			return -1;
		if (read_file_header(e) < 0)
			return -1;
		return search_part(e, t, 0, e->hdr.len, (uint64_t)end, 1);
	}
	while (pos < e->parts_len) {
		int r;

		if (cache_part_decode(e->parts, e->parts_len, &pos, &row) < 0) {
			errno = EBADMSG;
			return -1;
		}
		if (row.kind != 0) {	/* containers hold no text of their own */
			top = 0;
			continue;
		}
		r = search_part(e, t, row.hdr_doff, row.body_doff,
		    row.body_doff + row.body_dsize, top);
		top = 0;
		if (r != 0)
			return r;
	}
	return 0;
}

static int
match_text(struct eval *e, struct search_key *k)
{
	int r;

	if (read_file_header(e) < 0)
		return -1;
	r = each_field(e, NULL, field_has, k->text);
	if (r != 0)
		return r;
	return match_body(e, k->text);
}

static int
eval_date(int64_t day, enum search_op op, int64_t want)
{
	switch (op) {
	case SEARCH_BEFORE:
	case SEARCH_SENTBEFORE:
		return day < want;
	case SEARCH_ON:
	case SEARCH_SENTON:
		return day == want;
	default:
		return day >= want;
	}
}

static int
eval(struct eval *e, struct search_key *k)
{
	const struct search_msg *m = e->m;
	struct search_key *c;
	int64_t day;
	int r;

	switch (k->op) {
	case SEARCH_ALL:
		return 1;
	case SEARCH_AND:
		for (c = k->child; c != NULL; c = c->next)
			if ((r = eval(e, c)) != 1)
				return r;
		return 1;
	case SEARCH_OR:
		if (k->child == NULL || k->child->next == NULL) {
			errno = EINVAL;
			return -1;
		}
		/* the cheaper side first */
		c = k->child->cost <= k->child->next->cost ? k->child :
		    k->child->next;
		if ((r = eval(e, c)) != 0)
			return r;
		return eval(e, c == k->child ? k->child->next : k->child);
	case SEARCH_NOT:
		if (k->child == NULL) {
			errno = EINVAL;
			return -1;
		}
		r = eval(e, k->child);
		return r < 0 ? r : !r;
	case SEARCH_SEQ:
		return seqset_contains(&k->set, m->seq);
	case SEARCH_UID:
		return seqset_contains(&k->set, m->uid);
	case SEARCH_FLAGS:
		return (m->flags & k->flags) == k->flags;
	case SEARCH_UNFLAGS:
		return (m->flags & k->flags) == 0;
	case SEARCH_RECENT:
		return m->recent != 0;
	case SEARCH_KEYWORD:
		return !k->nobit && k->value < 64 &&
		    (m->keywords >> k->value & 1) != 0;
	case SEARCH_UNKEYWORD:
		return k->nobit || k->value >= 64 ||
		    (m->keywords >> k->value & 1) == 0;
	case SEARCH_BEFORE:
	case SEARCH_ON:
	case SEARCH_SINCE:
		return eval_date(mdate_day_of(m->internal_date, m->zone),
		    k->op, k->day);
	case SEARCH_SENTBEFORE:
	case SEARCH_SENTON:
	case SEARCH_SENTSINCE:
		r = sent_day(e, &day);
		return r <= 0 ? r : eval_date(day, k->op, k->day);
	case SEARCH_LARGER:
		return m->size > k->value;
	case SEARCH_SMALLER:
		return m->size < k->value;
	case SEARCH_MODSEQ:
		return m->modseq >= k->value;
	case SEARCH_HEADER:
		return match_header(e, k);
	case SEARCH_BODY:
		return match_body(e, k->text);
	case SEARCH_TEXT:
		return match_text(e, k);
	}
	errno = EINVAL;
	return -1;
}

int
search_match(struct search_key *k, struct search_msg *msg)
{
	struct eval e;
	int r;

	memset(&e, 0, sizeof(e));
	e.m = msg;
	str_init(&e.hdr, 0);
	str_init(&e.field, 0);
	r = eval(&e, k);
	str_free(&e.hdr);
	str_free(&e.field);
	return r;
}
