/* SPDX-License-Identifier: ISC */
/*
 * imapd: SEARCH and UID SEARCH (RFC 3501 6.4.4), with MODSEQ (RFC 7162)
 * and the RETURN options of ESEARCH (RFC 4731).  The keys are parsed into
 * a lib/search tree; the messages are visited in index order, so that the
 * index is read once, front to back, and only keys that need them open
 * the cache entry or the message file.
 */
#include "imapd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "imapquote.h"
#include "log.h"
#include "maildir.h"
#include "mdate.h"
#include "search.h"

#define SEARCH_DEPTH_MAX 32
#define SEARCH_FILL 256		/* messages whose cache entries are made
				   together (mailbox_cache_prefill) */

#define RET_MIN 0x1u
#define RET_MAX 0x2u
#define RET_COUNT 0x4u
#define RET_ALL 0x8u

struct sp {
	struct imapd *s;
	int has_modseq;
	int badcharset;
	int unknown;		/* an unknown key: BAD */
	unsigned depth;
};

static struct search_key *sp_key(struct sp *c);

static struct search_key *
sp_new(enum search_op op)
{
	return search_key_new(op);
}

/* A flag key: FLAGS or UNFLAGS of mask. */
static struct search_key *
sp_flag(uint32_t mask, int un)
{
	struct search_key *k = sp_new(un ? SEARCH_UNFLAGS : SEARCH_FLAGS);

	if (k != NULL)
		k->flags = mask;
	return k;
}

static struct search_key *
sp_text(struct sp *c, enum search_op op, const char *field)
{
	struct imap_str v;
	struct search_key *k;

	if (imap_arg_astring(c->s->p, &v) < 0)
		return NULL;
	if ((k = sp_new(op)) == NULL)
		return NULL;
	if (search_key_text(k, field, v.s, v.len) < 0) {
		search_key_free(k);
		c->unknown = 1;
		return NULL;
	}
	return k;
}

static struct search_key *
sp_header(struct sp *c)
{
	struct imap_str f;
	char *field;
	struct search_key *k;

	if (imap_arg_astring(c->s->p, &f) < 0)
		return NULL;
	if ((field = strndup(f.s, f.len)) == NULL)
		return NULL;
	k = sp_text(c, SEARCH_HEADER, field);
	free(field);
	return k;
}

static struct search_key *
sp_date(struct sp *c, enum search_op op)
{
	struct imap_date d;
	struct search_key *k;

	if (imap_arg_date(c->s->p, &d) < 0 || (k = sp_new(op)) == NULL)
		return NULL;
	k->day = mdate_days(d.year, d.mon, d.mday);
	return k;
}

static struct search_key *
sp_number(struct sp *c, enum search_op op)
{
	uint32_t n;
	struct search_key *k;

	if (imap_arg_number(c->s->p, &n) < 0 || (k = sp_new(op)) == NULL)
		return NULL;
	k->value = n;
	return k;
}

static struct search_key *
sp_set(struct sp *c, enum search_op op)
{
	struct search_key *k = sp_new(op);

	if (k == NULL)
		return NULL;
	if (imap_arg_seqset(c->s->p, &k->set) < 0) {
		search_key_free(k);
		return NULL;
	}
	return k;
}

static struct search_key *
sp_keyword(struct sp *c, int un)
{
	struct imap_str f;
	struct search_key *k;
	int bit;

	if (imap_arg_flag(c->s->p, &f) < 0)
		return NULL;
	if (strcasecmp(f.s, "$Forwarded") == 0)
		return sp_flag(MAIL_PASSED, un);
	if ((k = sp_new(un ? SEARCH_UNKEYWORD : SEARCH_KEYWORD)) == NULL)
		return NULL;
	bit = mbmeta_keyword_find(mailbox_meta(c->s->mb), f.s);
	if (bit < 0)
		k->nobit = 1;
	else
		k->value = (uint64_t)bit;
	return k;
}

/* MODSEQ [entry-name entry-type-req] mod-sequence-valzer */
static struct search_key *
sp_modseq(struct sp *c)
{
	struct imap_str name, type;
	struct search_key *k;
	uint64_t v;

	if (imap_arg_peek(c->s->p) == IMAP_TOK_QUOTED) {
		if (imap_arg_string(c->s->p, &name) < 0 ||
		    imap_arg_atom(c->s->p, &type) < 0)
			return NULL;
	}
	if (imap_arg_number64(c->s->p, &v) < 0 || (k = sp_new(SEARCH_MODSEQ))
	    == NULL)
		return NULL;
	k->value = v;
	c->has_modseq = 1;
	return k;
}

static struct search_key *
sp_two(struct sp *c, enum search_op op, struct search_key *a)
{
	struct search_key *k, *b;

	if (a == NULL)
		return NULL;
	if ((k = sp_new(op)) == NULL) {
		search_key_free(a);
		return NULL;
	}
	search_key_add(k, a);
	if (op == SEARCH_OR) {
		if ((b = sp_key(c)) == NULL) {
			search_key_free(k);
			return NULL;
		}
		search_key_add(k, b);
	}
	return k;
}

/* NEW is RECENT UNSEEN. */
static struct search_key *
sp_new_key(void)
{
	struct search_key *k = sp_new(SEARCH_AND), *a, *b;

	if (k == NULL)
		return NULL;
	a = sp_new(SEARCH_RECENT);
	b = sp_flag(MAIL_SEEN, 1);
	if (a == NULL || b == NULL) {
		search_key_free(a);
		search_key_free(b);
		search_key_free(k);
		return NULL;
	}
	search_key_add(k, a);
	search_key_add(k, b);
	return k;
}

static const struct {
	const char *name;
	uint32_t mask;
	int un;
} sp_flags[] = {
	{ "ANSWERED", MAIL_ANSWERED, 0 }, { "DELETED", MAIL_DELETED, 0 },
	{ "DRAFT", MAIL_DRAFT, 0 }, { "FLAGGED", MAIL_FLAGGED, 0 },
	{ "SEEN", MAIL_SEEN, 0 }, { "UNANSWERED", MAIL_ANSWERED, 1 },
	{ "UNDELETED", MAIL_DELETED, 1 }, { "UNDRAFT", MAIL_DRAFT, 1 },
	{ "UNFLAGGED", MAIL_FLAGGED, 1 }, { "UNSEEN", MAIL_SEEN, 1 },
	{ NULL, 0, 0 }
};

static const struct {
	const char *name;
	enum search_op op;
	const char *field;
} sp_texts[] = {
	{ "BCC", SEARCH_HEADER, "Bcc" }, { "CC", SEARCH_HEADER, "Cc" },
	{ "FROM", SEARCH_HEADER, "From" }, { "TO", SEARCH_HEADER, "To" },
	{ "SUBJECT", SEARCH_HEADER, "Subject" },
	{ "BODY", SEARCH_BODY, NULL }, { "TEXT", SEARCH_TEXT, NULL },
	{ NULL, SEARCH_ALL, NULL }
};

static const struct {
	const char *name;
	enum search_op op;
} sp_dates[] = {
	{ "BEFORE", SEARCH_BEFORE }, { "ON", SEARCH_ON },
	{ "SINCE", SEARCH_SINCE }, { "SENTBEFORE", SEARCH_SENTBEFORE },
	{ "SENTON", SEARCH_SENTON }, { "SENTSINCE", SEARCH_SENTSINCE },
	{ NULL, SEARCH_ALL }
};

/* A key named by the atom a. */
static struct search_key *
sp_named(struct sp *c, const char *a)
{
	size_t i;

	for (i = 0; sp_flags[i].name != NULL; i++)
		if (strcasecmp(a, sp_flags[i].name) == 0)
			return sp_flag(sp_flags[i].mask, sp_flags[i].un);
	for (i = 0; sp_texts[i].name != NULL; i++)
		if (strcasecmp(a, sp_texts[i].name) == 0)
			return sp_text(c, sp_texts[i].op, sp_texts[i].field);
	for (i = 0; sp_dates[i].name != NULL; i++)
		if (strcasecmp(a, sp_dates[i].name) == 0)
			return sp_date(c, sp_dates[i].op);
	if (strcasecmp(a, "ALL") == 0)
		return sp_new(SEARCH_ALL);
	if (strcasecmp(a, "RECENT") == 0)
		return sp_new(SEARCH_RECENT);
	if (strcasecmp(a, "OLD") == 0)
		return sp_two(c, SEARCH_NOT, sp_new(SEARCH_RECENT));
	if (strcasecmp(a, "NEW") == 0)
		return sp_new_key();
	if (strcasecmp(a, "KEYWORD") == 0 || strcasecmp(a, "UNKEYWORD") == 0)
		return sp_keyword(c, a[0] == 'U' || a[0] == 'u');
	if (strcasecmp(a, "HEADER") == 0)
		return sp_header(c);
	if (strcasecmp(a, "LARGER") == 0)
		return sp_number(c, SEARCH_LARGER);
	if (strcasecmp(a, "SMALLER") == 0)
		return sp_number(c, SEARCH_SMALLER);
	if (strcasecmp(a, "UID") == 0)
		return sp_set(c, SEARCH_UID);
	if (strcasecmp(a, "NOT") == 0)
		return sp_two(c, SEARCH_NOT, sp_key(c));
	if (strcasecmp(a, "OR") == 0)
		return sp_two(c, SEARCH_OR, sp_key(c));
	if (strcasecmp(a, "MODSEQ") == 0)
		return sp_modseq(c);
	c->unknown = 1;
	return NULL;
}

/* One search key.  NULL on error (parser error, c->unknown, ENOMEM). */
static struct search_key *
sp_key(struct sp *c)
{
	struct imap_str a;
	struct search_key *k, *child;
	enum imap_tok t = imap_arg_peek(c->s->p);
	int ch;

	if (++c->depth > SEARCH_DEPTH_MAX) {
		c->unknown = 1;
		return NULL;
	}
	if (t == IMAP_TOK_LIST) {
		if (imap_arg_list_begin(c->s->p) < 0 ||
		    (k = sp_new(SEARCH_AND)) == NULL)
			return NULL;
		do {
			if ((child = sp_key(c)) == NULL) {
				search_key_free(k);
				return NULL;
			}
			search_key_add(k, child);
		} while (imap_arg_peek(c->s->p) != IMAP_TOK_LIST_END &&
		    imap_arg_peek(c->s->p) != IMAP_TOK_ERROR);
		if (imap_arg_list_end(c->s->p) < 0) {
			search_key_free(k);
			return NULL;
		}
		c->depth--;
		return k;
	}
	ch = imap_arg_peek_char(c->s->p);
	if (ch == '*' || (ch >= '0' && ch <= '9'))
		k = sp_set(c, SEARCH_SEQ);
	else if (imap_arg_atom(c->s->p, &a) < 0)
		return NULL;
	else
		k = sp_named(c, a.s);
	c->depth--;
	return k;
}

/* RETURN's option list (RFC 4731); "()" means ALL.  0 or -1. */
static int
sp_return(struct sp *c, unsigned *ret)
{
	static const struct {
		const char *name;
		unsigned bit;
	} opts[] = {
		{ "MIN", RET_MIN }, { "MAX", RET_MAX }, { "COUNT", RET_COUNT },
		{ "ALL", RET_ALL }, { NULL, 0 }
	};
	struct imap_str a;
	size_t i;

	if (imap_arg_list_begin(c->s->p) < 0)
		return -1;
	while (imap_arg_peek(c->s->p) == IMAP_TOK_ATOM) {
		if (imap_arg_atom(c->s->p, &a) < 0)
			return -1;
		for (i = 0; opts[i].name != NULL; i++)
			if (strcasecmp(a.s, opts[i].name) == 0)
				break;
		if (opts[i].name == NULL) {
			c->unknown = 1;
			return -1;
		}
		*ret |= opts[i].bit;
	}
	if (imap_arg_list_end(c->s->p) < 0)
		return -1;
	if (*ret == 0)
		*ret = RET_ALL;
	return 0;
}

/* [RETURN (opts)] [CHARSET x] keys.  Returns the tree or NULL. */
static struct search_key *
sp_program(struct sp *c, unsigned *ret, int *esearch)
{
	struct imap_str a;
	struct search_key *top, *k;

	*ret = 0;
	*esearch = 0;
	if ((top = sp_new(SEARCH_AND)) == NULL)
		return NULL;
	for (;;) {
		int ch = imap_arg_peek_char(c->s->p);

		if (ch != 'R' && ch != 'r' && ch != 'C' && ch != 'c')
			break;
		/* RETURN and CHARSET can only come first; peeking a whole
		 * atom is not possible, so read it and fall back */
		if (imap_arg_atom(c->s->p, &a) < 0)
			goto fail;
		if (strcasecmp(a.s, "RETURN") == 0 && !*esearch &&
		    top->child == NULL) {
			*esearch = 1;
			if (sp_return(c, ret) < 0)
				goto fail;
			continue;
		}
		if (strcasecmp(a.s, "CHARSET") == 0 && top->child == NULL) {
			if (imap_arg_astring(c->s->p, &a) < 0)
				goto fail;
			if (strcasecmp(a.s, "UTF-8") != 0 &&
			    strcasecmp(a.s, "US-ASCII") != 0)
				c->badcharset = 1;
			continue;
		}
		if ((k = sp_named(c, a.s)) == NULL)
			goto fail;
		search_key_add(top, k);
	}
	while (imap_arg_peek(c->s->p) != IMAP_TOK_EOL &&
	    imap_arg_peek(c->s->p) != IMAP_TOK_ERROR) {
		if ((k = sp_key(c)) == NULL)
			goto fail;
		search_key_add(top, k);
	}
	if (top->child == NULL) {
		c->unknown = 1;
		goto fail;
	}
	return top;
fail:
	search_key_free(top);
	return NULL;
}

/* Resolve "*" in every SEQ and UID key. */
static void
search_resolve(struct imapd *s, struct search_key *k)
{
	for (; k != NULL; k = k->next) {
		if (k->op == SEARCH_SEQ)
			seqset_resolve(&k->set, s->n);
		else if (k->op == SEARCH_UID)
			seqset_resolve(&k->set, s->n > 0 ? s->uids[s->n - 1] :
			    0);
		search_resolve(s, k->child);
	}
}

struct search_file {
	struct imapd *s;
	struct index_record *r;
};

static int
search_open(void *ctx, int *fd_r, int *raw_r)
{
	struct search_file *f = ctx;
	struct str err = STR_INIT;
	int r;

	r = mailbox_msg_open(f->s->mb, f->r, fd_r, &err);
	str_free(&err);
	*raw_r = (f->r->flags & REC_RAW) != 0;
	return r;
}

/* Run the search: matching UIDs (and the highest MODSEQ among them). */
static int
search_run(struct imapd *s, struct search_key *top, struct mailbox_uids *hits,
    uint64_t *maxmod)
{
	const struct index_header *h = mailbox_header(s->mb);
	struct index_record r;
	struct search_msg m;
	struct search_file sf = { s, &r };
	struct str cached = STR_INIT;
	const unsigned char *pl;
	size_t plen;
	uint32_t i, count = h->count, j = 0;
	int needs = search_needs_message(top), rc = 0, mres;

	for (i = 0; i < count && j < s->n; i++) {
		if (mailbox_record(s->mb, i, &r) < 0) {
			rc = -1;
			break;
		}
		while (j < s->n && s->uids[j] < r.uid)
			j++;
		if ((r.flags & REC_EXPUNGED) || j >= s->n ||
		    s->uids[j] != r.uid)
			continue;
		/* indexed without a parse: make the cache entries of this
		 * message and the next ones in the view together (one that
		 * fails is left to mailbox_cached below) */
		if (needs && r.cache_off == 0 &&
		    mailbox_cache_prefill(s->mb, s->uids + j, s->n - j <
		    SEARCH_FILL ? s->n - j : SEARCH_FILL) > 0 &&
		    mailbox_find_uid(s->mb, s->uids[j], NULL, &r) < 0)
			continue;	/* expunged meanwhile */
		memset(&m, 0, sizeof m);
		m.seq = j + 1;
		m.uid = r.uid;
		m.flags = r.flags & MAIL_FLAGS_MASK;
		m.recent = view_recent(s, r.uid);
		m.keywords = r.keywords;
		m.modseq = r.modseq;
		m.size = r.size;
		m.internal_date = r.internal_date;
		m.fd = -1;
		m.raw = (r.flags & REC_RAW) != 0;
		m.zone = s->zone;
		m.open_file = search_open;
		m.ctx = &sf;
		if (needs && mailbox_cached(s->mb, &r, &pl, &plen) == 0) {
			str_clear(&cached);
			if (str_append(&cached, pl, plen) == 0) {
				m.cached = (const unsigned char *)cached.s;
				m.cached_len = cached.len;
			}
		}
		mres = search_match(top, &m);
		if (m.fd >= 0)
			close(m.fd);
		if (mres < 0) {
			log_warn("search: UID %u: %s", r.uid, strerror(errno));
			continue;
		}
		if (mres > 0) {
			if (mailbox_uids_add(hits, r.uid) < 0) {
				rc = -1;
				break;
			}
			if (r.modseq > *maxmod)
				*maxmod = r.modseq;
		}
	}
	str_free(&cached);
	return rc;
}

/* The classic "* SEARCH n n n" response, written as it goes. */
static int
search_reply(struct imapd *s, const struct mailbox_uids *hits, int modseq,
    uint64_t maxmod)
{
	size_t k;

	if (io_puts(s->io, "* SEARCH") < 0)
		return -1;
	for (k = 0; k < hits->n; k++)
		if (io_printf(s->io, " %u", s->cmd.uid ? hits->v[k] :
		    view_seq(s, hits->v[k])) < 0)
			return -1;
	if (modseq && hits->n > 0 && io_printf(s->io, " (MODSEQ %llu)",
	    (unsigned long long)maxmod) < 0)
		return -1;
	return io_puts(s->io, "\r\n");
}

/* RFC 4731 ESEARCH. */
static int
search_ereply(struct imapd *s, struct mailbox_uids *hits, unsigned ret,
    int modseq, uint64_t maxmod)
{
	size_t k;
	int r = 0;

	str_clear(&s->out);
	str_appends(&s->out, "ESEARCH (TAG ");
	imapquote_string(&s->out, s->cmd.tag, strlen(s->cmd.tag), 0);
	str_appendc(&s->out, ')');
	if (s->cmd.uid)
		str_appends(&s->out, " UID");
	if (!s->cmd.uid)
		for (k = 0; k < hits->n; k++)
			hits->v[k] = view_seq(s, hits->v[k]);
	if ((ret & RET_MIN) && hits->n > 0)
		str_appendf(&s->out, " MIN %u", hits->v[0]);
	if ((ret & RET_MAX) && hits->n > 0)
		str_appendf(&s->out, " MAX %u", hits->v[hits->n - 1]);
	if (ret & RET_COUNT)
		str_appendf(&s->out, " COUNT %zu", hits->n);
	if ((ret & RET_ALL) && hits->n > 0) {
		str_appends(&s->out, " ALL ");
		r = seqset_format_list(&s->out, hits->v, hits->n);
	}
	if (modseq && hits->n > 0)
		str_appendf(&s->out, " MODSEQ %llu",
		    (unsigned long long)maxmod);
	return r < 0 ? -1 : imapd_untagged(s, "%s", s->out.s);
}

int
cmd_search(struct imapd *s)
{
	struct sp c;
	struct search_key *top;
	struct mailbox_uids hits = { NULL, 0, 0 };
	uint64_t maxmod = 0;
	unsigned ret;
	int esearch, r;

	memset(&c, 0, sizeof c);
	c.s = s;
	top = sp_program(&c, &ret, &esearch);
	if (top == NULL) {
		const char *reason;

		if (imap_parser_error(s->p, &reason) != IMAP_ERR_NONE)
			return imapd_parse_error(s);
		if (imap_cmd_skip(s->p) < 0)
			return imapd_parse_error(s);
		return c.unknown ? imapd_bad(s, "Unknown or invalid search "
		    "key") : -1;
	}
	if ((r = imapd_eol(s)) <= 0) {
		search_key_free(top);
		return r;
	}
	if (c.badcharset) {
		search_key_free(top);
		return imapd_tagged(s, "NO [BADCHARSET (UTF-8 US-ASCII)] "
		    "Unsupported charset");
	}
	if (c.has_modseq)
		s->enabled |= IMAP_EN_CONDSTORE;
	search_resolve(s, top);
	search_prepare(top);
	if (search_run(s, top, &hits, &maxmod) < 0)
		r = imapd_tagged(s, "NO [SERVERBUG] Search failed");
	else if ((esearch ? search_ereply(s, &hits, ret, c.has_modseq,
	    maxmod) : search_reply(s, &hits, c.has_modseq, maxmod)) < 0 ||
	    view_update(s, s->cmd.uid) < 0)
		r = -1;
	else
		r = imapd_tagged(s, "OK %sSEARCH completed", s->cmd.uid ?
		    "UID " : "");
	search_key_free(top);
	mailbox_uids_free(&hits);
	return r;
}
