/* SPDX-License-Identifier: ISC */
/*
 * imapd: FETCH and UID FETCH (RFC 3501 6.4.5, MODSEQ and CHANGEDSINCE of
 * RFC 7162).  FLAGS, INTERNALDATE, RFC822.SIZE and UID come from the index
 * record; ENVELOPE, BODY and BODYSTRUCTURE from the cache entry; body
 * sections are streamed from the message file by lib/msgsection as
 * literals, never held in memory.  A section fetched without .PEEK sets
 * \Seen (unless the mailbox is read-only) and the FLAGS go along.
 */
#include "imapd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cache.h"
#include "imapquote.h"
#include "log.h"
#include "maildir.h"
#include "mdate.h"
#include "msgsection.h"

#define FETCH_ATTS_MAX 64
#define FETCH_FILL 256		/* messages whose cache entries are made
				   together (mailbox_cache_prefill) */

enum fetch_kind {
	F_UID, F_FLAGS, F_INTERNALDATE, F_SIZE, F_ENVELOPE, F_BODY,
	F_BODYSTRUCTURE, F_SECTION, F_MODSEQ
};

struct fetch_att {
	enum fetch_kind kind;
	int peek;
	struct str label;		/* "BODY[1.HEADER]<0>", "RFC822" */
	char part[MSGSECTION_PART_MAX + 1];
	struct msgsection_spec spec;
	const char **fields;
};

struct fetch {
	struct fetch_att att[FETCH_ATTS_MAX];
	size_t n;
	int sets_seen;
	int want_flags;
	int want_uid;
	int want_modseq;
	uint64_t changedsince;		/* 0: none */
	int vanished;			/* QRESYNC VANISHED modifier */
	const char *bad;		/* why the modifiers were refused */
	struct fetch_lines fl;		/* output, lookups, FLAGS texts */
	struct mailbox_uids seen_uids;	/* \Seen set: files to rename */
	const uint32_t *ahead;		/* the UIDs from the current one on */
	size_t nahead;
};

static struct fetch_att *
fetch_new(struct fetch *f, enum fetch_kind kind)
{
	struct fetch_att *a;

	if (f->n >= FETCH_ATTS_MAX)
		return NULL;
	a = &f->att[f->n++];
	memset(a, 0, sizeof *a);
	a->kind = kind;
	if (kind == F_FLAGS)
		f->want_flags = 1;
	if (kind == F_UID)
		f->want_uid = 1;
	if (kind == F_MODSEQ)
		f->want_modseq = 1;
	return a;
}

static void
fetch_free(struct fetch *f)
{
	size_t i;

	for (i = 0; i < f->n; i++) {
		str_free(&f->att[i].label);
		free(f->att[i].fields);
	}
	f->n = 0;
}

static const char *const fetch_text_names[] = {
	"", "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT", "MIME"
};

/* A BODY[...] attribute: its spec and the label the response uses. */
static int
fetch_section(struct fetch *f, const struct imap_fetch_att *p, int peek,
    const char *label)
{
	struct fetch_att *a = fetch_new(f, F_SECTION);
	size_t i, off = 0;

	if (a == NULL)
		return -1;
	a->peek = peek;
	if (!peek)
		f->sets_seen = 1;
	for (i = 0; i < p->nparts; i++) {
		int n = snprintf(a->part + off, sizeof a->part - off, "%s%u",
		    i ? "." : "", p->part[i]);

		if (n < 0 || (size_t)n >= sizeof a->part - off)
			return -1;
		off += (size_t)n;
	}
	a->spec.part = a->part;
	switch (p->text) {
	case IMAP_SECTION_HEADER: a->spec.kind = MSEC_HEADER; break;
	case IMAP_SECTION_HEADER_FIELDS: a->spec.kind = MSEC_FIELDS; break;
	case IMAP_SECTION_HEADER_FIELDS_NOT:
		a->spec.kind = MSEC_FIELDS_NOT;
		break;
	case IMAP_SECTION_TEXT: a->spec.kind = MSEC_TEXT; break;
	case IMAP_SECTION_MIME: a->spec.kind = MSEC_MIME; break;
	default: a->spec.kind = MSEC_FULL; break;
	}
	if (p->text == IMAP_SECTION_MIME && p->nparts == 0)
		return -1;
	if (p->nfields > 0) {
		if ((a->fields = calloc(p->nfields, sizeof *a->fields)) == NULL)
			return -1;
		for (i = 0; i < p->nfields; i++)
			a->fields[i] = p->fields[i].s;
		a->spec.fields = a->fields;
		a->spec.nfields = p->nfields;
	}
	a->spec.partial = p->has_partial;
	a->spec.offset = p->partial_offset;
	a->spec.length = p->partial_length;
	if (label != NULL)
		return str_appends(&a->label, label);
	str_appendf(&a->label, "BODY[%s%s%s", a->part,
	    a->part[0] && p->text != IMAP_SECTION_NONE ? "." : "",
	    fetch_text_names[p->text]);
	for (i = 0; i < p->nfields; i++) {
		str_appends(&a->label, i == 0 ? " (" : " ");
		if (imapquote_astring(&a->label, p->fields[i].s,
		    p->fields[i].len, 0) < 0)
			return -1;
	}
	if (p->nfields > 0)
		str_appendc(&a->label, ')');
	str_appendc(&a->label, ']');
	if (p->has_partial)
		str_appendf(&a->label, "<%u>", p->partial_offset);
	return a->label.len > 0 ? 0 : -1;
}

/* One attribute (or macro) as the parser gave it.  0, or -1 unknown. */
static int
fetch_add(struct fetch *f, const struct imap_fetch_att *p)
{
	const char *n = p->name;
	struct imap_fetch_att hdr;

	if (p->has_section) {
		if (strcmp(n, "BODY") == 0 || strcmp(n, "BODY.PEEK") == 0)
			return fetch_section(f, p, n[4] == '.', NULL);
		return -1;
	}
	if (strcmp(n, "ALL") == 0 || strcmp(n, "FAST") == 0 ||
	    strcmp(n, "FULL") == 0) {
		if (!fetch_new(f, F_FLAGS) || !fetch_new(f, F_INTERNALDATE) ||
		    !fetch_new(f, F_SIZE))
			return -1;
		if (n[1] != 'A' && !fetch_new(f, F_ENVELOPE))
			return -1;
		if (n[1] == 'U' && !fetch_new(f, F_BODY))
			return -1;
		return 0;
	}
	if (strcmp(n, "RFC822") == 0 || strcmp(n, "RFC822.HEADER") == 0 ||
	    strcmp(n, "RFC822.TEXT") == 0) {
		memset(&hdr, 0, sizeof hdr);
		hdr.text = n[6] == '\0' ? IMAP_SECTION_NONE : n[7] == 'H' ?
		    IMAP_SECTION_HEADER : IMAP_SECTION_TEXT;
		return fetch_section(f, &hdr, hdr.text == IMAP_SECTION_HEADER,
		    n);
	}
	static const struct {
		const char *name;
		enum fetch_kind kind;
	} simple[] = {
		{ "UID", F_UID }, { "FLAGS", F_FLAGS },
		{ "INTERNALDATE", F_INTERNALDATE }, { "RFC822.SIZE", F_SIZE },
		{ "ENVELOPE", F_ENVELOPE }, { "BODY", F_BODY },
		{ "BODYSTRUCTURE", F_BODYSTRUCTURE }, { "MODSEQ", F_MODSEQ },
		{ NULL, F_UID }
	};
	for (size_t i = 0; simple[i].name != NULL; i++)
		if (strcmp(n, simple[i].name) == 0)
			return fetch_new(f, simple[i].kind) ? 0 : -1;
	return -1;
}

/* The attributes and modifiers.  0, -1 parser error, -2 unknown item. */
static int
fetch_parse(struct imapd *s, struct fetch *f)
{
	struct imap_fetch_att p;
	struct imap_str mod;
	int list = 0;

	if (imap_arg_peek(s->p) == IMAP_TOK_LIST) {
		if (imap_arg_list_begin(s->p) < 0)
			return -1;
		list = 1;
	}
	do {
		if (imap_arg_fetch_att(s->p, &p) < 0)
			return -1;
		if (fetch_add(f, &p) < 0)
			return -2;
	} while (list && imap_arg_peek(s->p) == IMAP_TOK_ATOM);
	if (list && imap_arg_list_end(s->p) < 0)
		return -1;
	if (imap_arg_peek(s->p) == IMAP_TOK_LIST) {
		/* RFC 7162 3.1.4: (CHANGEDSINCE modseq) */
		if (imap_arg_list_begin(s->p) < 0 ||
		    imap_arg_atom(s->p, &mod) < 0)
			return -1;
		if (strcasecmp(mod.s, "CHANGEDSINCE") != 0) {
			f->bad = "Unknown FETCH modifier";
			return -2;
		}
		if (imap_arg_number64(s->p, &f->changedsince) < 0)
			return -1;
		/* RFC 7162 3.2.6: UID FETCH ... (CHANGEDSINCE m VANISHED) */
		if (imap_arg_peek(s->p) == IMAP_TOK_ATOM) {
			if (imap_arg_atom(s->p, &mod) < 0)
				return -1;
			f->bad = "VANISHED needs UID FETCH after ENABLE "
			    "QRESYNC";
			if (strcasecmp(mod.s, "VANISHED") != 0 ||
			    !s->cmd.uid || !(s->enabled & IMAP_EN_QRESYNC))
				return -2;
			f->bad = NULL;
			f->vanished = 1;
		}
		if (imap_arg_list_end(s->p) < 0)
			return -1;
		if (f->changedsince == 0) {
			/* RFC 7162: mod-sequence-value is 1 or more */
			f->bad = "CHANGEDSINCE needs a MODSEQ of 1 or more";
			return -2;
		}
		if (!f->want_modseq && !fetch_new(f, F_MODSEQ))
			return -2;
	}
	return 0;
}

/* ---- responses in bulk: FETCH FLAGS lines of FETCH, STORE, updates ---- */

void
fetch_lines_init(struct fetch_lines *fl, struct imapd *s)
{
	memset(fl, 0, sizeof *fl);
	fl->s = s;
}

int
fetch_lines_record(struct fetch_lines *fl, uint32_t uid,
    struct index_record *r)
{
	struct mailbox *mb = fl->s->mb;
	uint32_t pos;

	if (fl->pos < mailbox_header(mb)->count &&
	    mailbox_record(mb, fl->pos, r) == 0 && r->uid == uid &&
	    !(r->flags & REC_EXPUNGED)) {
		fl->pos++;
		return 0;
	}
	if (mailbox_find_uid(mb, uid, &pos, r) < 0)
		return -1;
	fl->pos = pos + 1;
	return 0;
}

uint32_t
fetch_lines_seq(struct fetch_lines *fl, uint32_t uid)
{
	const struct imapd *s = fl->s;
	uint32_t seq;

	if (!s->lazy && fl->vpos < s->n && s->uids[fl->vpos] == uid)
		return ++fl->vpos;
	if ((seq = view_seq(s, uid)) != 0)
		fl->vpos = seq;
	return seq;
}

/* The FLAGS text of a record: made once per set of system flags (and
 * \Recent); with keywords, made now in fl->kw.  NULL on failure. */
static const struct str *
fetch_lines_text(struct fetch_lines *fl, uint32_t flags, uint64_t keywords,
    int recent)
{
	struct str *t;

	if (keywords != 0) {
		str_clear(&fl->kw);
		return imapd_flags_text(&fl->kw, mailbox_meta(fl->s->mb), flags,
		    keywords, recent) < 0 ? NULL : &fl->kw;
	}
	t = &fl->text[(flags & MAIL_FLAGS_MASK) | (recent ? MAIL_FLAGS_MASK +
	    1 : 0)];
	if (t->len == 0 && imapd_flags_text(t, NULL, flags, 0, recent) < 0)
		return NULL;
	return t;
}

int
fetch_lines_flags(struct fetch_lines *fl, struct str *out, uint32_t flags,
    uint64_t keywords, int recent)
{
	const struct str *t = fetch_lines_text(fl, flags, keywords, recent);

	return t == NULL ? -1 : str_append(out, t->s, t->len);
}

/* Writing into room that str_ready() made: the hot paths check the room
 * once for a whole item, not once for each piece. */
#define FETCH_NUM_MAX 20	/* digits of a uint64_t */

static void
fetch_put(struct str *out, const void *p, size_t n)
{
	memcpy(out->s + out->len, p, n);
	out->len += n;
	out->s[out->len] = '\0';
}

static void
fetch_put_num(struct str *out, uint64_t n)
{
	char b[FETCH_NUM_MAX];
	size_t i = sizeof b;

	do {
		b[--i] = (char)('0' + n % 10);
		n /= 10;
	} while (n > 0);
	fetch_put(out, b + i, sizeof b - i);
}

/* "* seq FETCH (" */
static int
fetch_lines_start(struct str *out, uint32_t seq)
{
	if (str_ready(out, 10 + FETCH_NUM_MAX) < 0)
		return -1;
	fetch_put(out, "* ", 2);
	fetch_put_num(out, seq);
	fetch_put(out, " FETCH (", 8);
	return 0;
}

/* Write the gathered lines once they are many (or when all is set). */
int
fetch_lines_out(struct fetch_lines *fl, int all)
{
	int rc = 0;

	if (fl->buf.len >= FETCH_OUT_CHUNK || (all && fl->buf.len > 0)) {
		rc = io_write(fl->s->io, fl->buf.s, fl->buf.len);
		str_clear(&fl->buf);
	}
	return rc;
}

/* "UID u FLAGS (...)[ MODSEQ (m)])" and CRLF, the end of r's line. */
static int
fetch_lines_items(struct fetch_lines *fl, struct str *out,
    const struct index_record *r, int with_uid)
{
	struct imapd *s = fl->s;
	const struct str *t = fetch_lines_text(fl, r->flags, r->keywords,
	    view_recent(s, r->uid));

	if (t == NULL || str_ready(out, 30 + 2 * FETCH_NUM_MAX + t->len) < 0)
		return -1;
	if (with_uid) {
		fetch_put(out, "UID ", 4);
		fetch_put_num(out, r->uid);
		fetch_put(out, " ", 1);
	}
	fetch_put(out, "FLAGS ", 6);
	fetch_put(out, t->s, t->len);
	if (s->enabled & IMAP_EN_CONDSTORE) {
		fetch_put(out, " MODSEQ (", 9);
		fetch_put_num(out, r->modseq);
		fetch_put(out, ")", 1);
	}
	fetch_put(out, ")\r\n", 3);
	return 0;
}

int
fetch_lines_uid(struct fetch_lines *fl, uint32_t uid, int with_uid)
{
	struct index_record r;
	size_t len = fl->buf.len;
	uint32_t seq;

	if ((seq = fetch_lines_seq(fl, uid)) == 0 ||
	    fetch_lines_record(fl, uid, &r) < 0)
		return 0;	/* gone: nothing to say */
	if (fetch_lines_start(&fl->buf, seq) < 0 ||
	    fetch_lines_items(fl, &fl->buf, &r, with_uid) < 0) {
		str_truncate(&fl->buf, len);	/* no half line */
		return -1;
	}
	return fetch_lines_out(fl, 0);
}

int
fetch_lines_done(struct fetch_lines *fl)
{
	size_t i;
	int rc = fetch_lines_out(fl, 1);

	str_free(&fl->buf);
	str_free(&fl->kw);
	for (i = 0; i < sizeof fl->text / sizeof fl->text[0]; i++)
		str_free(&fl->text[i]);
	return rc;
}

int
fetch_flags_line(struct imapd *s, uint32_t seq, const struct index_record *r,
    int with_uid)
{
	struct fetch_lines fl;
	int rc;

	fetch_lines_init(&fl, s);
	rc = fetch_lines_start(&fl.buf, seq) < 0 ||
	    fetch_lines_items(&fl, &fl.buf, r, with_uid) < 0 ? -1 : 0;
	if (fetch_lines_done(&fl) < 0)
		rc = -1;
	return rc;
}

/* A cached item (ENVELOPE, BODY, BODYSTRUCTURE) into out. */
static int
fetch_cached(struct imapd *s, const struct index_record *r, unsigned id,
    struct str *out)
{
	const unsigned char *pl, *d;
	size_t plen, dlen;

	if (mailbox_cached(s->mb, r, &pl, &plen) < 0 ||
	    cache_item_find(pl, plen, id, &d, &dlen) != 1) {
		log_warn("UID %u: no cached item %u", r->uid, id);
		return str_appends(out, "NIL");
	}
	return str_append(out, d, dlen);
}

/* Stream one section as a literal (or NIL) after the text in out. */
static int
fetch_stream(struct imapd *s, const struct index_record *r,
    struct fetch_att *a, int *fd, struct str *out)
{
	struct msgsection ms;
	struct str err = STR_INIT, parts = STR_INIT;
	const unsigned char *pl, *d;
	size_t plen, dlen;
	unsigned char buf[8192];
	uint64_t left;
	ssize_t n;
	int rc;

	if (*fd < 0 && mailbox_msg_open(s->mb, r, fd, &err) < 0) {
		log_warn("UID %u: %s", r->uid, str_cstr(&err));
		str_free(&err);
		return str_appendf(out, "%s NIL", a->label.s);
	}
	str_free(&err);
	if (mailbox_cached(s->mb, r, &pl, &plen) < 0 ||
	    cache_item_find(pl, plen, CI_PARTS, &d, &dlen) != 1 ||
	    str_append(&parts, d, dlen) < 0) {
		log_warn("UID %u: no section table", r->uid);
		return str_appendf(out, "%s NIL", a->label.s);
	}
	rc = msgsection_open(&ms, *fd, (r->flags & REC_RAW) != 0,
	    (const unsigned char *)parts.s, parts.len, r->size, &a->spec);
	if (rc < 0) {
		str_free(&parts);
		return str_appendf(out, "%s NIL", a->label.s);
	}
	left = msgsection_size(&ms);
	if (str_appendf(out, "%s {%llu}\r\n", a->label.s,
	    (unsigned long long)left) < 0 ||
	    io_write(s->io, out->s, out->len) < 0) {
		str_free(&parts);
		return -1;
	}
	str_clear(out);
	while (left > 0 && (n = msgsection_read(&ms, buf, sizeof buf)) > 0) {
		if ((uint64_t)n > left)
			n = (ssize_t)left;
		if (io_write(s->io, buf, (size_t)n) < 0) {
			str_free(&parts);
			return -1;
		}
		left -= (uint64_t)n;
	}
	str_free(&parts);
	if (left > 0) {
		/* the literal's size is promised: keep the stream in step */
		log_err("UID %u: message file shorter than its index says",
		    r->uid);
		memset(buf, ' ', sizeof buf);
		while (left > 0) {
			size_t k = left < sizeof buf ? (size_t)left : sizeof buf;

			if (io_write(s->io, buf, k) < 0)
				return -1;
			left -= k;
		}
	}
	return 0;
}

/* Set \Seen on a message a non-PEEK section is fetched from (its file
 * is renamed after the tagged reply). */
static void
fetch_set_seen(struct imapd *s, struct fetch *f, struct index_record *r)
{
	struct mailbox_store st = { MBOX_FLAGS_ADD, MAIL_SEEN, 0, 0 };
	struct str err = STR_INIT;
	uint64_t before = mailbox_header(s->mb)->highestmodseq;
	int n;

	n = mailbox_store_deferred(s->mb, &r->uid, 1, &st, NULL, NULL, &err);
	if (n > 0 && mailbox_uids_add(&f->seen_uids, r->uid) < 0)
		n = -1;
	if (n < 0)
		log_warn("UID %u: setting \\Seen: %s", r->uid, str_cstr(&err));
	else {
		if (before == s->seen.highestmodseq)
			s->seen.highestmodseq =
			    mailbox_header(s->mb)->highestmodseq;
		fetch_lines_record(&f->fl, r->uid, r);
	}
	str_free(&err);
}

static int
fetch_item(struct imapd *s, struct fetch_lines *fl, struct fetch_att *a,
    struct index_record *r, int *fd, struct str *out)
{
	char date[MDATE_IMAP_MAX];
	const struct str *t;

	switch (a->kind) {
	case F_UID:
		if (str_ready(out, 4 + FETCH_NUM_MAX) < 0)
			return -1;
		fetch_put(out, "UID ", 4);
		fetch_put_num(out, r->uid);
		return 0;
	case F_FLAGS:
		if ((t = fetch_lines_text(fl, r->flags, r->keywords,
		    view_recent(s, r->uid))) == NULL ||
		    str_ready(out, 6 + t->len) < 0)
			return -1;
		fetch_put(out, "FLAGS ", 6);
		fetch_put(out, t->s, t->len);
		return 0;
	case F_INTERNALDATE:
		mdate_imap(r->internal_date, mdate_local_zone(
		    r->internal_date), date);
		return str_appendf(out, "INTERNALDATE \"%s\"", date);
	case F_SIZE:
		return str_append(out, "RFC822.SIZE ", 12) < 0 ? -1 :
		    imapd_append_num(out, r->size);
	case F_MODSEQ:
		return str_append(out, "MODSEQ (", 8) < 0 ||
		    imapd_append_num(out, r->modseq) < 0 ? -1 :
		    str_appendc(out, ')');
	case F_ENVELOPE:
		return str_appends(out, "ENVELOPE ") < 0 ? -1 :
		    fetch_cached(s, r, CI_ENVELOPE, out);
	case F_BODY:
		return str_appends(out, "BODY ") < 0 ? -1 :
		    fetch_cached(s, r, CI_BODY, out);
	case F_BODYSTRUCTURE:
		return str_appends(out, "BODYSTRUCTURE ") < 0 ? -1 :
		    fetch_cached(s, r, CI_BODYSTRUCTURE, out);
	case F_SECTION:
		return fetch_stream(s, r, a, fd, out);
	}
	return -1;
}

/* Does the FETCH read the cache entry (ENVELOPE, BODY[STRUCTURE], a
 * section's table)? */
static int
fetch_needs_cache(const struct fetch *f)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (f->att[i].kind == F_ENVELOPE || f->att[i].kind == F_BODY ||
		    f->att[i].kind == F_BODYSTRUCTURE ||
		    f->att[i].kind == F_SECTION)
			return 1;
	return 0;
}

/* One FETCH response, added to the lines waiting in f->fl.buf (a
 * section's literal writes them out first).  0 (also when the message is
 * gone), -1. */
static int
fetch_one(struct imapd *s, struct fetch *f, uint32_t uid)
{
	struct index_record r;
	struct str *out = &f->fl.buf;
	uint32_t seq;
	size_t i;
	int fd = -1, rc = 0, flags_due = 0;

	if ((seq = fetch_lines_seq(&f->fl, uid)) == 0 ||
	    fetch_lines_record(&f->fl, uid, &r) < 0)
		return 0;	/* expunged meanwhile: nothing to say */
	if (f->changedsince && r.modseq <= f->changedsince)
		return 0;
	/* indexed without a parse: make the entries of this message and
	 * the next ones together (an error leaves each to mailbox_cached) */
	if (r.cache_off == 0 && fetch_needs_cache(f) &&
	    mailbox_cache_prefill(s->mb, f->ahead, f->nahead < FETCH_FILL ?
	    f->nahead : FETCH_FILL) > 0 &&
	    fetch_lines_record(&f->fl, uid, &r) < 0)
		return 0;
	if (f->sets_seen && !s->readonly && !(r.flags & MAIL_SEEN)) {
		fetch_set_seen(s, f, &r);
		flags_due = !f->want_flags;
	}
	rc = fetch_lines_start(out, seq);
	if (rc == 0 && f->want_uid == 0 && s->cmd.uid) {
		rc = str_append(out, "UID ", 4);
		if (rc == 0)
			rc = imapd_append_num(out, uid);
		if (rc == 0)
			rc = str_appendc(out, ' ');
	}
	for (i = 0; i < f->n && rc == 0; i++) {
		if (i > 0)
			rc = str_appendc(out, ' ');
		if (rc == 0)
			rc = fetch_item(s, &f->fl, &f->att[i], &r, &fd, out);
	}
	if (rc == 0 && flags_due) {
		rc = str_append(out, " FLAGS ", 7);
		if (rc == 0)
			rc = fetch_lines_flags(&f->fl, out, r.flags,
			    r.keywords, view_recent(s, uid));
	}
	/* RFC 7162 3.1.4: with CONDSTORE on, FLAGS go with their MODSEQ */
	if (rc == 0 && (f->want_flags || flags_due) && !f->want_modseq &&
	    (s->enabled & IMAP_EN_CONDSTORE)) {
		rc = str_append(out, " MODSEQ (", 9);
		if (rc == 0)
			rc = imapd_append_num(out, r.modseq);
		if (rc == 0)
			rc = str_appendc(out, ')');
	}
	if (fd >= 0)
		close(fd);
	if (rc < 0 || str_append(out, ")\r\n", 3) < 0)
		return -1;
	return fetch_lines_out(&f->fl, 0);
}

int
cmd_fetch(struct imapd *s)
{
	struct seqset set = SEQSET_INIT, vset = SEQSET_INIT;
	struct mailbox_uids u = { NULL, 0, 0 };
	struct fetch *f;
	size_t k;
	int r;

	if ((f = calloc(1, sizeof *f)) == NULL)
		return -1;
	fetch_lines_init(&f->fl, s);
	if (imap_arg_seqset(s->p, &set) < 0 || (r = fetch_parse(s, f)) == -1) {
		r = imapd_parse_error(s);
		goto out;
	}
	if (r == -2) {
		r = imap_cmd_skip(s->p) < 0 ? imapd_parse_error(s) :
		    imapd_bad(s, f->bad != NULL ? f->bad :
		    "Unknown or invalid FETCH item");
		goto out;
	}
	if ((r = imapd_eol(s)) <= 0)
		goto out;
	if (f->want_modseq)
		s->enabled |= IMAP_EN_CONDSTORE;
	/* VANISHED: "*" is the highest UID ever given, not the highest
	 * left in the view */
	for (k = 0; f->vanished && k < set.n; k++)
		if (seqset_add(&vset, set.r[k].lo, set.r[k].hi) < 0) {
			r = -1;
			goto out;
		}
	seqset_resolve(&vset, mailbox_header(s->mb)->uidnext - 1);
	if (view_resolve(s, &set, s->cmd.uid, &u) < 0) {
		r = errno == EINVAL ? imapd_bad(s, "Invalid message sequence "
		    "number") : -1;
		goto out;
	}
	r = 0;
	if (f->vanished && view_vanished_since(s, f->changedsince, &vset) < 0)
		r = -1;
	for (k = 0; k < u.n && r == 0; k++) {
		f->ahead = u.v + k;
		f->nahead = u.n - k;
		r = fetch_one(s, f, u.v[k]);
	}
	if (r == 0 && fetch_lines_out(&f->fl, 1) == 0 &&
	    view_update(s, s->cmd.uid) == 0)
		r = imapd_tagged(s, "OK %sFETCH completed", s->cmd.uid ?
		    "UID " : "");
	else
		r = -1;
out:
	if (r < 0)
		str_clear(&f->fl.buf);	/* the connection goes: no half line */
	fetch_lines_done(&f->fl);
	view_names(s, &f->seen_uids);
	mailbox_uids_free(&f->seen_uids);
	fetch_free(f);
	free(f);
	seqset_free(&set);
	seqset_free(&vset);
	mailbox_uids_free(&u);
	return r;
}
