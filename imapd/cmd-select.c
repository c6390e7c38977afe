/* SPDX-License-Identifier: ISC */
/*
 * imapd: SELECT, EXAMINE, CLOSE, UNSELECT, EXPUNGE (and UID EXPUNGE,
 * RFC 4315), CHECK.
 */
#include "imapd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "maildir.h"

/*
 * The sequence number of the first unseen message, 0 when none, without
 * reading the whole index: a walk from the front (it stops at the first
 * unseen) interleaved with one from the back (which knows it has passed
 * the first unseen when it has counted as many unseen messages as the
 * header says there are), so the cost is the distance to the nearer end.
 */
static uint32_t
select_first_unseen(struct mailbox *mb, const struct index_header *h)
{
	struct index_record r;
	uint32_t i = 0, j = h->count, front = 0, back = 0, unseen = 0;

	while (h->unseen > 0 && i < j) {
		if (mailbox_record(mb, i++, &r) < 0)
			return 0;
		if (!(r.flags & REC_EXPUNGED)) {
			front++;
			if (!(r.flags & MAIL_SEEN))
				return front;
		}
		if (i >= j || mailbox_record(mb, --j, &r) < 0)
			break;
		if (r.flags & REC_EXPUNGED)
			continue;
		back++;
		if (!(r.flags & MAIL_SEEN) && ++unseen == h->unseen)
			return h->exists - back + 1;
	}
	return 0;
}

int
select_flags(struct imapd *s)
{
	const struct mbmeta *meta = mailbox_meta(s->mb);
	unsigned k, n = meta != NULL ? meta->nkeywords : 0;

	str_clear(&s->out);
	str_appends(&s->out, IMAP_SYSTEM_FLAGS " $Forwarded");
	for (k = 0; k < n; k++)
		str_appendf(&s->out, " %s", meta->keywords[k]);
	s->nkeywords_seen = n;
	if (imapd_untagged(s, "FLAGS (%s)", s->out.s) < 0)
		return -1;
	/* \* while a keyword can still be created */
	return imapd_untagged(s, "OK [PERMANENTFLAGS (%s%s)] Limited",
	    s->readonly ? "" : s->out.s, s->readonly ||
	    n >= MBMETA_MAX_KEYWORDS ? "" : " \\*");
}

/* The untagged responses of a SELECT. */
static int
select_report(struct imapd *s)
{
	const struct index_header *h = mailbox_header(s->mb);
	uint32_t first_unseen;

	if (select_flags(s) < 0 ||
	    imapd_untagged(s, "%u EXISTS", s->n) < 0 ||
	    imapd_untagged(s, "%u RECENT", s->nrecent_seen) < 0)
		return -1;
	first_unseen = select_first_unseen(s->mb, h);
	if (first_unseen > 0 && imapd_untagged(s, "OK [UNSEEN %u] First "
	    "unseen", first_unseen) < 0)
		return -1;
	if (imapd_untagged(s, "OK [UIDVALIDITY %u] UIDs valid",
	    h->uidvalidity) < 0 ||
	    imapd_untagged(s, "OK [UIDNEXT %u] Predicted next UID",
	    h->uidnext) < 0 ||
	    imapd_untagged(s, "OK [HIGHESTMODSEQ %llu] Highest",
	    (unsigned long long)h->highestmodseq) < 0)
		return -1;
	return 0;
}

/* What SELECT's parameters asked for. */
struct select_params {
	int condstore;
	int qresync;
	uint32_t uidvalidity;
	uint64_t modseq;
	struct seqset known;	/* known-uids, empty: all */
};

/* QRESYNC (uidvalidity modseq [known-uids [(seqs uids)]]) */
static int
select_qresync(struct imapd *s, struct select_params *sp)
{
	struct seqset a = SEQSET_INIT, b = SEQSET_INIT;
	int r = -1;

	if (imap_arg_list_begin(s->p) < 0 ||
	    imap_arg_nz_number(s->p, &sp->uidvalidity) < 0 ||
	    imap_arg_number64(s->p, &sp->modseq) < 0)
		goto out;
	if (imap_arg_peek(s->p) == IMAP_TOK_ATOM &&
	    imap_arg_seqset(s->p, &sp->known) < 0)
		goto out;
	/* the sequence match data only narrows what a server may leave
	 * out; every vanished UID of known-uids is reported instead */
	if (imap_arg_peek(s->p) == IMAP_TOK_LIST &&
	    (imap_arg_list_begin(s->p) < 0 || imap_arg_seqset(s->p, &a) < 0 ||
	    imap_arg_seqset(s->p, &b) < 0 || imap_arg_list_end(s->p) < 0))
		goto out;
	r = imap_arg_list_end(s->p);
out:
	seqset_free(&a);
	seqset_free(&b);
	return r;
}

/* The parameter list.  0, -1 parser error, -2 unknown parameter. */
static int
select_params(struct imapd *s, struct select_params *sp)
{
	struct imap_str opt;

	if (imap_arg_list_begin(s->p) < 0)
		return -1;
	while (imap_arg_peek(s->p) == IMAP_TOK_ATOM) {
		if (imap_arg_atom(s->p, &opt) < 0)
			return -1;
		if (strcasecmp(opt.s, "CONDSTORE") == 0)
			sp->condstore = 1;
		else if (strcasecmp(opt.s, "QRESYNC") == 0 &&
		    (s->enabled & IMAP_EN_QRESYNC)) {
			sp->qresync = 1;
			if (select_qresync(s, sp) < 0)
				return -1;
		} else
			return -2;
	}
	return imap_arg_list_end(s->p);
}

/* After a SELECT (QRESYNC ...): what the client missed. */
static int
select_resync(struct imapd *s, struct select_params *sp)
{
	const struct index_header *h = mailbox_header(s->mb);
	struct index_record r;
	uint32_t i, seq;

	if (sp->uidvalidity != h->uidvalidity)
		return 0;
	if (view_ready(s) < 0)
		return -1;
	if (sp->known.n > 0)
		seqset_resolve(&sp->known, UINT32_MAX);
	if (view_vanished_since(s, sp->modseq, sp->known.n > 0 ? &sp->known :
	    NULL) < 0)
		return -1;
	for (i = 0; i < h->count; i++) {
		if (mailbox_record(s->mb, i, &r) < 0)
			return -1;
		if ((r.flags & REC_EXPUNGED) || r.modseq <= sp->modseq ||
		    (seq = view_seq(s, r.uid)) == 0)
			continue;
		if (fetch_flags_line(s, seq, &r, 1) < 0)
			return -1;
	}
	return 0;
}

int
cmd_select(struct imapd *s)
{
	struct imap_str name;
	struct str path = STR_INIT, err = STR_INIT;
	struct select_params sp;
	const char *why;
	int r;

	memset(&sp, 0, sizeof sp);
	seqset_init(&sp.known);
	if (imap_arg_mailbox(s->p, &name) < 0)
		goto bad;
	if (imap_arg_peek(s->p) == IMAP_TOK_LIST) {
		/* RFC 7162 3.1.8 and 3.2.5: (CONDSTORE), (QRESYNC (...)) */
		if ((r = select_params(s, &sp)) == -1)
			goto bad;
		if (r == -2) {
			seqset_free(&sp.known);
			if (imap_cmd_skip(s->p) < 0)
				return imapd_parse_error(s);
			return imapd_bad(s, "Unknown SELECT parameter (QRESYNC "
			    "needs ENABLE QRESYNC first)");
		}
	}
	if ((r = imapd_eol(s)) <= 0) {
		seqset_free(&sp.known);
		return r;
	}
	/* RFC 3501 6.3.1: a SELECT deselects first, even when it fails */
	if (s->mb != NULL) {
		view_close(s);
		if (imapd_untagged(s, "OK [CLOSED] Previous mailbox closed") < 0) {
			seqset_free(&sp.known);
			return -1;
		}
	}
	if (sp.condstore)
		s->enabled |= IMAP_EN_CONDSTORE;
	if (names_path(name.s, name.len, &path, &why) < 0) {
		r = imapd_tagged(s, "NO %s", why);
		goto out;
	}
	if (!names_exists(path.s)) {
		r = imapd_tagged(s, "NO [NONEXISTENT] Mailbox does not exist");
		goto out;
	}
	s->readonly = strcmp(s->cmd.name, "EXAMINE") == 0;
	if (mailbox_open(path.s, 0, s->inst->lock_timeout, &s->mb, &err) < 0 ||
	    view_load(s, &err) < 0) {
		log_err("select %s: %s", path.s, str_cstr(&err));
		view_close(s);
		r = imapd_tagged(s, "NO [SERVERBUG] Cannot open the mailbox");
		goto out;
	}
	s->selname = strndup(name.s, name.len);
	s->selpath = str_steal(&path);
	if (s->selname == NULL || s->selpath == NULL || select_report(s) < 0 ||
	    (sp.qresync && select_resync(s, &sp) < 0)) {
		r = -1;
		goto out;
	}
	r = imapd_tagged(s, "OK [%s] %s completed", s->readonly ?
	    "READ-ONLY" : "READ-WRITE", s->cmd.name);
out:
	seqset_free(&sp.known);
	str_free(&path);
	str_free(&err);
	return r;
bad:
	seqset_free(&sp.known);
	return imapd_parse_error(s);
}

/* The UIDs of the view with \Deleted (and in set when set is not NULL). */
static int
select_deleted(struct imapd *s, const struct seqset *set,
    struct mailbox_uids *out)
{
	const struct index_header *h = mailbox_header(s->mb);
	struct index_record r;
	uint32_t i;

	for (i = 0; i < h->count; i++) {
		if (mailbox_record(s->mb, i, &r) < 0)
			return -1;
		if ((r.flags & (REC_EXPUNGED | MAIL_DELETED)) != MAIL_DELETED ||
		    view_seq(s, r.uid) == 0)
			continue;
		if (set != NULL && !seqset_contains(set, r.uid))
			continue;
		if (mailbox_uids_add(out, r.uid) < 0)
			return -1;
	}
	return 0;
}

/* Expunge the \Deleted messages (of set); report them when report. */
static int
select_expunge(struct imapd *s, const struct seqset *set, int report)
{
	struct mailbox_uids u = { NULL, 0, 0 };
	struct str err = STR_INIT;
	int r = -1;

	if (mailbox_refresh(s->mb, &err) < 0 ||
	    select_deleted(s, set, &u) < 0)
		goto out;
	if (u.n > 0 && mailbox_expunge(s->mb, u.v, u.n, &err) < 0)
		goto out;
	r = report ? view_expunged(s, u.v, u.n) : 0;
	if (r < 0)
		r = -2;
out:
	if (r == -1)
		log_err("expunge: %s", err.len ? err.s : strerror(errno));
	mailbox_uids_free(&u);
	str_free(&err);
	return r;
}

int
cmd_expunge(struct imapd *s)
{
	struct seqset set = SEQSET_INIT;
	int r;

	if (s->cmd.uid && imap_arg_seqset(s->p, &set) < 0) {
		seqset_free(&set);
		return imapd_parse_error(s);
	}
	if ((r = imapd_eol(s)) <= 0) {
		seqset_free(&set);
		return r;
	}
	if (s->cmd.uid)
		seqset_resolve(&set, s->n > 0 ? s->uids[s->n - 1] : 0);
	if (s->readonly)
		r = imapd_tagged(s, "NO [READ-ONLY] Mailbox is read-only");
	else if ((r = select_expunge(s, s->cmd.uid ? &set : NULL, 1)) == -1)
		r = imapd_tagged(s, "NO [SERVERBUG] Expunge failed");
	else if (r == 0 && view_update(s, 1) == 0)
		r = imapd_tagged(s, "OK %sEXPUNGE completed", s->cmd.uid ?
		    "UID " : "");
	else
		r = -1;
	seqset_free(&set);
	return r;
}

int
cmd_close(struct imapd *s)
{
	int r;

	if ((r = imapd_eol(s)) <= 0)
		return r;
	/* RFC 3501 6.4.2: silently, and no error if it fails */
	if (!s->readonly && select_expunge(s, NULL, 0) < 0)
		log_warn("CLOSE: expunge failed");
	view_close(s);
	return imapd_tagged(s, "OK CLOSE completed");
}

int
cmd_unselect(struct imapd *s)
{
	int r;

	if ((r = imapd_eol(s)) <= 0)
		return r;
	view_close(s);
	return imapd_tagged(s, "OK UNSELECT completed");
}

int
cmd_check(struct imapd *s)
{
	int r;

	if ((r = imapd_eol(s)) <= 0)
		return r;
	/* everything is on disk when a command completes */
	s->sync_due = 1;
	if (view_update(s, 1) < 0)
		return -1;
	return imapd_tagged(s, "OK CHECK completed");
}
