/* SPDX-License-Identifier: ISC */
/*
 * imapd: STORE (with UNCHANGEDSINCE, RFC 7162), COPY and MOVE (RFC 6851),
 * with COPYUID (RFC 4315); UID variants.
 */
#include "imapd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "maildir.h"

#define STORE_FAIL_ALL 0x2	/* with silent: UNCHANGEDSINCE 0 */

/* The operation atom: FLAGS, +FLAGS, -FLAGS, each with .SILENT. */
static int
store_op(const char *a, enum mailbox_flag_op *op, int *silent)
{
	if (*a == '+' || *a == '-') {
		*op = *a == '+' ? MBOX_FLAGS_ADD : MBOX_FLAGS_REMOVE;
		a++;
	} else
		*op = MBOX_FLAGS_REPLACE;
	if (strcasecmp(a, "FLAGS.SILENT") == 0)
		*silent |= 1;
	else if (strcasecmp(a, "FLAGS") != 0)
		return -1;
	return 0;
}

/* The FETCH responses after a STORE: every message of the set that did
 * not fail UNCHANGEDSINCE (RFC 3501 6.4.6), or with .SILENT under
 * CONDSTORE the ones that changed (RFC 7162 3.2). */
static int
store_report(struct imapd *s, const struct mailbox_uids *u,
    const struct mailbox_uids *changed, const struct mailbox_uids *failed,
    int silent)
{
	const struct mailbox_uids *l = silent ? changed : u;
	struct fetch_lines fl;
	size_t k, j = 0;
	int r = 0;

	if (silent && !(s->enabled & IMAP_EN_CONDSTORE))
		return 0;
	fetch_lines_init(&fl, s);
	for (k = 0; k < l->n && r == 0; k++) {
		while (j < failed->n && failed->v[j] < l->v[k])
			j++;
		if (j < failed->n && failed->v[j] == l->v[k])
			continue;
		r = fetch_lines_uid(&fl, l->v[k], s->cmd.uid ||
		    (s->enabled & IMAP_EN_CONDSTORE));
	}
	if (fetch_lines_done(&fl) < 0)
		r = -1;
	return r;
}

/* The [MODIFIED set] code of the failed UIDs (sequence numbers unless
 * UID STORE). */
static int
store_modified(struct imapd *s, const struct mailbox_uids *failed,
    struct str *out)
{
	struct mailbox_uids m = { NULL, 0, 0 };
	size_t k;
	int r = 0;

	for (k = 0; k < failed->n && r == 0; k++)
		r = mailbox_uids_add(&m, s->cmd.uid ? failed->v[k] :
		    view_seq(s, failed->v[k]));
	if (r == 0)
		r = str_appends(out, "[MODIFIED ");
	if (r == 0)
		r = seqset_format_list(out, m.v, m.n);
	if (r == 0)
		r = str_appends(out, "] ");
	mailbox_uids_free(&m);
	return r;
}

static int
store_parse(struct imapd *s, struct seqset *set, struct mailbox_store *st,
    int *silent, struct str *err)
{
	struct imap_str a;
	int r;

	if (imap_arg_seqset(s->p, set) < 0)
		return -1;
	if (imap_arg_peek(s->p) == IMAP_TOK_LIST) {
		/* RFC 7162 3.1.3: (UNCHANGEDSINCE modseq) */
		if (imap_arg_list_begin(s->p) < 0 ||
		    imap_arg_atom(s->p, &a) < 0)
			return -1;
		if (strcasecmp(a.s, "UNCHANGEDSINCE") != 0) {
			str_appends(err, "Unknown STORE modifier");
			return -3;
		}
		if (imap_arg_number64(s->p, &st->unchangedsince) < 0 ||
		    imap_arg_list_end(s->p) < 0)
			return -1;
		/* RFC 7162 3.1.3: every message has a MODSEQ above 0, so
		 * UNCHANGEDSINCE 0 fails them all; lib/mailbox reads 0 as
		 * "no condition", hence the marker */
		if (st->unchangedsince == 0)
			*silent |= STORE_FAIL_ALL;
		s->enabled |= IMAP_EN_CONDSTORE;
	}
	if (imap_arg_atom(s->p, &a) < 0)
		return -1;
	if (store_op(a.s, &st->op, silent) < 0) {
		str_appends(err, "Unknown STORE operation");
		return -3;
	}
	r = imapd_flag_list(s, s->readonly ? NULL : s->mb,
	    st->op != MBOX_FLAGS_REMOVE, &st->flags, &st->keywords, err);
	if (r < 0)
		return r;
	return imap_arg_eol(s->p);
}

int
cmd_store(struct imapd *s)
{
	struct seqset set = SEQSET_INIT;
	struct mailbox_store st = { MBOX_FLAGS_REPLACE, 0, 0, 0 };
	struct mailbox_uids u = { NULL, 0, 0 }, ch = { NULL, 0, 0 };
	struct mailbox_uids failed = { NULL, 0, 0 };
	struct str err = STR_INIT, code = STR_INIT;
	uint64_t before;
	int silent = 0, r;

	r = store_parse(s, &set, &st, &silent, &err);
	if (r == -1)
		r = imapd_parse_error(s);
	else if (r == -2)
		r = imapd_no(s, "%s", str_cstr(&err));
	else if (r == -3)
		r = imap_cmd_skip(s->p) < 0 ? imapd_parse_error(s) :
		    imapd_bad(s, str_cstr(&err));
	else if (s->readonly)
		r = imapd_tagged(s, "NO [READ-ONLY] Mailbox is read-only");
	else if (view_resolve(s, &set, s->cmd.uid, &u) < 0)
		r = errno == EINVAL ? imapd_bad(s, "Invalid message sequence "
		    "number") : -1;
	else {
		str_clear(&err);
		before = mailbox_header(s->mb)->highestmodseq;
		if (silent & STORE_FAIL_ALL) {
			failed = u;
			u.v = NULL;
			u.n = u.cap = 0;
			silent &= ~STORE_FAIL_ALL;
		}
		/* the files are renamed after the tagged reply (out:) */
		if (u.n > 0 && mailbox_store_deferred(s->mb, u.v, u.n, &st,
		    &ch, &failed, &err) < 0) {
			log_err("store: %s", str_cstr(&err));
			r = imapd_tagged(s, "NO [SERVERBUG] Cannot store flags");
			goto out;
		}
		/* our own changes are reported here, not again later */
		if (before == s->seen.highestmodseq)
			s->seen.highestmodseq =
			    mailbox_header(s->mb)->highestmodseq;
		if (store_report(s, &u, &ch, &failed, silent) < 0 ||
		    (failed.n > 0 && store_modified(s, &failed, &code) < 0) ||
		    view_update(s, s->cmd.uid) < 0) {
			r = -1;
			goto out;
		}
		r = imapd_tagged(s, "OK %s%sSTORE completed", str_cstr(&code),
		    s->cmd.uid ? "UID " : "");
	}
out:
	view_names(s, &ch);
	seqset_free(&set);
	mailbox_uids_free(&u);
	mailbox_uids_free(&ch);
	mailbox_uids_free(&failed);
	str_free(&err);
	str_free(&code);
	return r;
}

/* The source and target UIDs of what was copied (skipping expunged
 * sources) and the COPYUID code for them into code. */
static int
store_copyuid(struct mailbox *dst, const struct mailbox_uids *u,
    const uint32_t *dst_uids, struct mailbox_uids *from,
    struct mailbox_uids *to, struct str *code)
{
	size_t k;

	for (k = 0; k < u->n; k++)
		if (dst_uids[k] != 0 && (mailbox_uids_add(from, u->v[k]) < 0 ||
		    mailbox_uids_add(to, dst_uids[k]) < 0))
			return -1;
	if (from->n == 0)
		return 0;
	if (str_appendf(code, "[COPYUID %u ",
	    mailbox_header(dst)->uidvalidity) < 0 ||
	    seqset_format_list(code, from->v, from->n) < 0 ||
	    str_appendc(code, ' ') < 0 ||
	    seqset_format_list(code, to->v, to->n) < 0 ||
	    str_appends(code, "] ") < 0)
		return -1;
	return 0;
}

/* MOVE's second half (RFC 6851 3.3): the COPYUID in an untagged OK, then
 * the originals expunged and reported.  0, 1 when answered NO, -1. */
static int
store_move_out(struct imapd *s, const struct mailbox_uids *from,
    struct str *code)
{
	struct str err = STR_INIT;

	if (from->n == 0)
		return 0;
	if (imapd_untagged(s, "OK %sMoved", code->s) < 0)
		return -1;
	str_clear(code);
	if (mailbox_expunge(s->mb, from->v, from->n, &err) < 0) {
		log_err("move: expunge: %s", str_cstr(&err));
		str_free(&err);
		return imapd_tagged(s, "NO [SERVERBUG] Copied, but the "
		    "originals could not be removed") < 0 ? -1 : 1;
	}
	str_free(&err);
	return view_expunged(s, from->v, from->n);
}

/* COPY and MOVE. */
static int
store_copy(struct imapd *s, int move)
{
	struct seqset set = SEQSET_INIT;
	struct imap_str name;
	struct mailbox *dst = NULL;
	struct mailbox_uids u = { NULL, 0, 0 }, from = { NULL, 0, 0 };
	struct mailbox_uids to = { NULL, 0, 0 };
	struct str err = STR_INIT, code = STR_INIT;
	uint32_t *dst_uids = NULL;
	int r;

	if (imap_arg_seqset(s->p, &set) < 0 ||
	    imap_arg_mailbox(s->p, &name) < 0) {
		r = imapd_parse_error(s);
		goto out;
	}
	if ((r = imapd_eol(s)) <= 0)
		goto out;
	if (view_resolve(s, &set, s->cmd.uid, &u) < 0) {
		r = errno == EINVAL ? imapd_bad(s, "Invalid message sequence "
		    "number") : -1;
		goto out;
	}
	if (move && s->readonly) {
		r = imapd_tagged(s, "NO [READ-ONLY] Mailbox is read-only");
		goto out;
	}
	if ((r = imapd_open_named(s, &name, 1, &dst)) < 0) {
		r = r == -2 ? -1 : 0;
		goto out;
	}
	if (u.n > 0 && ((dst_uids = calloc(u.n, sizeof *dst_uids)) == NULL ||
	    mailbox_copy(s->mb, u.v, u.n, dst, dst_uids, &err) < 0)) {
		log_err("copy: %s", str_cstr(&err));
		r = imapd_tagged(s, "NO [%s] Cannot copy the messages",
		    errno == ENOSPC || errno == EDQUOT ? "OVERQUOTA" :
		    "SERVERBUG");
		goto out;
	}
	if (u.n > 0 && store_copyuid(dst, &u, dst_uids, &from, &to, &code) < 0)
		r = -1;
	else if (move && (r = store_move_out(s, &from, &code)) != 0)
		r = r < 0 ? -1 : 0;
	else if (view_update(s, 1) < 0)
		r = -1;
	else
		r = imapd_tagged(s, "OK %s%s%s completed", str_cstr(&code),
		    s->cmd.uid ? "UID " : "", move ? "MOVE" : "COPY");
out:
	mailbox_close(&dst);
	seqset_free(&set);
	mailbox_uids_free(&u);
	mailbox_uids_free(&from);
	mailbox_uids_free(&to);
	free(dst_uids);
	str_free(&err);
	str_free(&code);
	return r;
}

int
cmd_copy(struct imapd *s)
{
	return store_copy(s, 0);
}

int
cmd_move(struct imapd *s)
{
	return store_copy(s, 1);
}
