/* SPDX-License-Identifier: ISC */
/*
 * imapd: the selected mailbox as this session sees it.  The view is the
 * array of UIDs in sequence order and nothing more (4 bytes a message):
 * flags, sizes and dates are read from the mapped index when needed.
 *
 * After a command, view_update() compares the index header with the one
 * last reported; when it moved, one pass over the records finds the UIDs
 * that went (EXPUNGE), came (EXISTS, RECENT) and whose MODSEQ is above the
 * last reported HIGHESTMODSEQ (FETCH FLAGS).  During FETCH, STORE and
 * SEARCH (RFC 3501 7.4.1) expunged UIDs stay in the view as ghosts until a
 * later command may report them.
 *
 * SELECT does not build the array (view_ready() does, for the first
 * command that uses message numbers): what was expunged in between comes
 * back from the tombstones, so every number the client knows keeps its
 * message until its EXPUNGE is sent.
 */
#include "imapd.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "maildir.h"
#include "tomb.h"

static int
view_cmp_uid(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int
view_add(struct imapd *s, uint32_t uid)
{
	uint32_t *v;
	uint32_t cap;

	if (s->n == s->cap) {
		cap = s->cap ? s->cap * 2 : 64;
		if (cap < s->cap || (v = realloc(s->uids, (size_t)cap *
		    sizeof *v)) == NULL) {
			errno = ENOMEM;
			return -1;
		}
		s->uids = v;
		s->cap = cap;
	}
	s->uids[s->n++] = uid;
	return 0;
}

/* Claim \Recent for the new UIDs (read-write sessions only). */
static void
view_take_recent(struct imapd *s)
{
	struct str err = STR_INIT;
	uint32_t lo, hi;

	if (s->readonly) {
		/* EXAMINE sees \Recent but must not take it (RFC 3501
		 * 6.3.2): the UIDs nobody has claimed yet */
		const struct index_header *h = mailbox_header(s->mb);

		lo = h->first_recent_uid > 0 ? h->first_recent_uid : 1;
		hi = h->uidnext - 1;
		if (lo <= hi)
			seqset_add(&s->recent, lo, hi);
		seqset_resolve(&s->recent, UINT32_MAX);
		return;
	}
	if (mailbox_take_recent(s->mb, &lo, &hi, &err) < 0)
		log_warn("recent: %s", str_cstr(&err));
	else if (lo <= hi && lo > 0)
		seqset_add(&s->recent, lo, hi);
	seqset_resolve(&s->recent, UINT32_MAX);
	str_free(&err);
}

/* With no expunged record, the records from UID lo to the end, by a
 * binary search: a SELECT after 100,000 deliveries reads 17 records, not
 * 100,000. */
static uint32_t
view_count_from(struct imapd *s, uint32_t lo)
{
	struct index_record r;
	uint32_t a = 0, b = s->seen.count, mid;

	while (a < b) {
		mid = a + (b - a) / 2;
		if (mailbox_record(s->mb, mid, &r) < 0)
			return 0;
		if (r.uid < lo)
			a = mid + 1;
		else
			b = mid;
	}
	return s->seen.count - a;
}

static uint32_t
view_count_recent(struct imapd *s)
{
	struct index_record r;
	uint32_t i, n = 0;

	if (s->recent.n == 0)
		return 0;
	if (s->lazy && s->recent.n == 1 && s->seen.exists == s->seen.count &&
	    s->recent.r[0].hi >= s->seen.uidnext - 1)
		return view_count_from(s, s->recent.r[0].lo);
	if (s->lazy) {
		/* the recent UIDs are the last records: count backwards */
		for (i = s->seen.count; i-- > 0;) {
			if (mailbox_record(s->mb, i, &r) < 0 ||
			    r.uid < s->recent.r[0].lo)
				break;
			n += !(r.flags & REC_EXPUNGED) &&
			    r.uid < s->seen.uidnext &&
			    seqset_contains(&s->recent, r.uid);
		}
		return n;
	}
	for (i = 0; i < s->n; i++)
		n += (uint32_t)seqset_contains(&s->recent, s->uids[i]);
	return n;
}

void
view_names(struct imapd *s, const struct mailbox_uids *changed)
{
	struct str err = STR_INIT;

	if (s->mb == NULL || mailbox_header(s->mb)->names_behind == 0)
		return;
	/* the reply goes out first, even when more commands are waiting */
	if (io_flush(s->io) < 0)
		log_warn("%s: %s", s->selname, strerror(errno));
	if (mailbox_store_names(s->mb, changed ? changed->v : NULL,
	    changed ? changed->n : 0, &err) < 0)
		log_warn("%s: renaming files: %s", s->selname,
		    str_cstr(&err));
	str_free(&err);
}

int
view_load(struct imapd *s, struct str *err)
{
	const struct index_header *h;

	s->n = 0;
	s->ghosts = 0;
	seqset_clear(&s->recent);
	if (mailbox_sync(s->mb, err) < 0)
		return -1;
	/* names a session that died did not rename */
	view_names(s, NULL);
	view_take_recent(s);
	h = mailbox_header(s->mb);
	/* the UID array waits until a command needs it (view_ready): a
	 * SELECT reads the header and a few records only */
	s->seen = *h;
	s->n = h->exists;
	s->lazy = 1;
	s->nrecent_seen = view_count_recent(s);
	return 0;
}

/* The tombstones of UIDs that were in the view and went since. */
static int
view_tomb_since(const struct tomb *t, void *arg)
{
	struct imapd *s = ((void **)arg)[0];
	struct mailbox_uids *u = ((void **)arg)[1];

	if (t->uid < s->seen.uidnext && mailbox_uids_add(u, t->uid) < 0)
		return 1;
	return 0;
}

/* Building the UID array: the records in order, merged with the UIDs
 * expunged since the view's state (t, ascending), which stay in the view
 * until reported. */
struct view_build {
	struct imapd *s;
	const struct mailbox_uids *t;
	size_t k;		/* next in t */
};

/* One record: 0 to go on, 1 past the view's UIDNEXT, -1 error. */
static int
view_build_one(void *arg, uint32_t uid, uint32_t flags)
{
	struct view_build *b = arg;
	struct imapd *s = b->s;
	const struct mailbox_uids *t = b->t;

	if (uid >= s->seen.uidnext)
		return 1;
	while (b->k < t->n && t->v[b->k] < uid)
		if (view_add(s, t->v[b->k++]) < 0)
			return -1;
	if (b->k < t->n && t->v[b->k] == uid) {
		b->k++;
		return view_add(s, uid);
	}
	return (flags & REC_EXPUNGED) ? 0 : view_add(s, uid);
}

int
view_ready(struct imapd *s)
{
	struct mailbox_uids t = { NULL, 0, 0 };
	const struct index_header *h;
	struct index_record r;
	struct str path = STR_INIT;
	void *arg[2] = { s, &t };
	struct view_build b = { s, &t, 0 };
	uint32_t i;
	size_t k = 0;
	int rc = -1, r1;

	if (!s->lazy)
		return 0;
	/* the index as it is now (a rebuild or compaction reopens it) */
	if (mailbox_refresh(s->mb, &path) < 0) {
		log_err("%s: %s", s->selname, str_cstr(&path));
		str_free(&path);
		return -1;
	}
	str_clear(&path);
	h = mailbox_header(s->mb);
	/* the view as of s->seen: the records that still exist below its
	 * UIDNEXT, and those expunged since (tombstones above its
	 * HIGHESTMODSEQ), which are still in it until reported */
	if (h->highestmodseq != s->seen.highestmodseq ||
	    h->generation != s->seen.generation) {
		if (str_appendf(&path, "%s/zest.expunged", s->selpath) < 0 ||
		    tomb_scan(path.s, h->uidvalidity, s->seen.highestmodseq,
		    view_tomb_since, arg) < 0)
			log_warn("%s: tombstones: %s", s->selname,
			    strerror(errno));
		if (t.n > 1)
			qsort(t.v, t.n, sizeof *t.v, view_cmp_uid);
		for (i = 0, k = 0; i < t.n; i++)
			if (k == 0 || t.v[k - 1] != t.v[i])
				t.v[k++] = t.v[i];
		t.n = k;
		k = 0;
	}
	s->n = 0;
	b.k = 0;
	r1 = mailbox_scan_uids(s->mb, view_build_one, &b);
	if (r1 < 0 && errno == EBADMSG) {
		/* not in UID order: read and check each record (a record
		 * that stays bad fails the command) */
		s->n = 0;
		b.k = 0;
		for (i = 0, r1 = 0; i < h->count && r1 == 0; i++) {
			if (mailbox_record(s->mb, i, &r) < 0)
				goto out;
			r1 = view_build_one(&b, r.uid, r.flags);
		}
	}
	if (r1 < 0)
		goto out;
	for (k = b.k; k < t.n; k++)
		if ((s->n == 0 || t.v[k] > s->uids[s->n - 1]) &&
		    view_add(s, t.v[k]) < 0)
			goto out;
	s->lazy = 0;
	rc = 0;
out:
	if (rc < 0)
		log_err("%s: reading the index: %s", s->selname,
		    strerror(errno));
	mailbox_uids_free(&t);
	str_free(&path);
	return rc;
}

void
view_close(struct imapd *s)
{
	mailbox_close(&s->mb);
	free(s->uids);
	s->uids = NULL;
	s->n = s->cap = 0;
	free(s->selname);
	free(s->selpath);
	s->selname = s->selpath = NULL;
	seqset_clear(&s->recent);
	s->ghosts = 0;
	s->lazy = 0;
}

uint32_t
view_uid(const struct imapd *s, uint32_t seq)
{
	return !s->lazy && seq >= 1 && seq <= s->n ? s->uids[seq - 1] : 0;
}

/* The index of the first UID >= uid in the view. */
static uint32_t
view_lower(const struct imapd *s, uint32_t uid)
{
	uint32_t lo = 0, hi = s->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (s->uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

uint32_t
view_seq(const struct imapd *s, uint32_t uid)
{
	uint32_t i;

	if (s->lazy)
		return 0;	/* view_ready() first */
	i = view_lower(s, uid);

	return i < s->n && s->uids[i] == uid ? i + 1 : 0;
}

int
view_recent(const struct imapd *s, uint32_t uid)
{
	return s->recent.n > 0 && seqset_contains(&s->recent, uid);
}

int
view_resolve(const struct imapd *s, struct seqset *set, int uid,
    struct mailbox_uids *out)
{
	size_t k;
	uint32_t i, x;

	if (!uid) {
		if (s->n == 0 && seqset_has_star(set))
			return 0;
		if (seqset_max(set, s->n) > s->n || seqset_max(set, s->n) == 0) {
			errno = EINVAL;
			return -1;
		}
		seqset_resolve(set, s->n);
		for (k = 0; k < set->n; k++)
			for (x = set->r[k].lo; x <= set->r[k].hi && x != 0;
			    x++) {
				if (mailbox_uids_add(out, s->uids[x - 1]) < 0)
					return -1;
				if (x == set->r[k].hi)
					break;
			}
		return 0;
	}
	seqset_resolve(set, s->n > 0 ? s->uids[s->n - 1] : 0);
	for (k = 0; k < set->n; k++)
		for (i = view_lower(s, set->r[k].lo); i < s->n &&
		    s->uids[i] <= set->r[k].hi; i++)
			if (mailbox_uids_add(out, s->uids[i]) < 0)
				return -1;
	return 0;
}

/* "* VANISHED uids" (QRESYNC, RFC 7162 3.2.10) for the ascending uids. */
static int
view_vanished(struct imapd *s, const uint32_t *uids, size_t n,
    const char *earlier)
{
	int r;

	if (n == 0)
		return 0;
	str_clear(&s->out);
	if (seqset_format_list(&s->out, uids, n) < 0)
		return -1;
	r = io_printf(s->io, "* VANISHED %s", earlier);
	if (r == 0)
		r = io_write(s->io, s->out.s, s->out.len);
	return r < 0 ? -1 : io_puts(s->io, "\r\n");
}

int
view_expunged(struct imapd *s, const uint32_t *uids, size_t n)
{
	struct mailbox_uids gone = { NULL, 0, 0 };
	size_t k;
	uint32_t seq, i, w;
	int qr = (s->enabled & IMAP_EN_QRESYNC) != 0, r = 0;

	if (view_ready(s) < 0)
		return -1;
	/* from the top down: removing a message leaves the numbers below
	 * it alone, so each number is right when it is sent */
	for (k = n; k-- > 0 && r == 0;) {
		if ((seq = view_seq(s, uids[k])) == 0)
			continue;
		if (qr)
			r = mailbox_uids_add(&gone, uids[k]);
		else
			r = imapd_untagged(s, "%u EXPUNGE", seq);
	}
	/* then one pass to close the gaps (both lists ascend) */
	for (i = 0, k = 0, w = 0; i < s->n; i++) {
		while (k < n && uids[k] < s->uids[i])
			k++;
		if (k < n && uids[k] == s->uids[i])
			continue;
		s->uids[w++] = s->uids[i];
	}
	s->n = w;
	if (r == 0 && gone.n > 1)
		qsort(gone.v, gone.n, sizeof *gone.v, view_cmp_uid);
	if (r == 0)
		r = view_vanished(s, gone.v, gone.n, "");
	mailbox_uids_free(&gone);
	return r;
}

struct view_tomb {
	const struct seqset *known;
	struct mailbox_uids *out;
	int err;
};

static int
view_tomb_one(const struct tomb *t, void *arg)
{
	struct view_tomb *vt = arg;

	if ((vt->known == NULL || seqset_contains(vt->known, t->uid)) &&
	    mailbox_uids_add(vt->out, t->uid) < 0) {
		vt->err = 1;
		return 1;
	}
	return 0;
}

int
view_vanished_since(struct imapd *s, uint64_t since,
    const struct seqset *known)
{
	struct mailbox_uids u = { NULL, 0, 0 };
	struct view_tomb vt = { known, &u, 0 };
	struct str path = STR_INIT;
	size_t i, j;
	int r = -1;

	if (str_appendf(&path, "%s/zest.expunged", s->selpath) < 0)
		goto out;
	if (tomb_scan(path.s, mailbox_header(s->mb)->uidvalidity, since,
	    view_tomb_one, &vt) < 0 || vt.err) {
		log_warn("%s: tombstones: %s", s->selname, strerror(errno));
		r = 0;		/* nothing to report is better than a BYE */
		goto out;
	}
	if (u.n > 1)
		qsort(u.v, u.n, sizeof *u.v, view_cmp_uid);
	for (i = j = 0; i < u.n; i++)
		if (j == 0 || u.v[j - 1] != u.v[i])
			u.v[j++] = u.v[i];
	r = view_vanished(s, u.v, j, "(EARLIER) ");
out:
	mailbox_uids_free(&u);
	str_free(&path);
	return r;
}

/* Whether the header moved since the last report. */
static int
view_changed(const struct imapd *s, const struct index_header *h)
{
	return h->generation != s->seen.generation ||
	    h->count != s->seen.count || h->exists != s->seen.exists ||
	    h->highestmodseq != s->seen.highestmodseq ||
	    h->uidnext != s->seen.uidnext;
}

/* One pass: the new view into nv, the UIDs whose flags changed into fl. */
static int
view_scan(struct imapd *s, const struct index_header *h,
    struct mailbox_uids *nv, struct mailbox_uids *fl)
{
	struct index_record r;
	uint32_t i;

	for (i = 0; i < h->count; i++) {
		if (mailbox_record(s->mb, i, &r) < 0)
			return -1;
		if (r.flags & REC_EXPUNGED)
			continue;
		if (mailbox_uids_add(nv, r.uid) < 0)
			return -1;
		if (r.modseq > s->seen.highestmodseq && view_seq(s, r.uid) &&
		    mailbox_uids_add(fl, r.uid) < 0)
			return -1;
	}
	return 0;
}

/* Merge the old view with nv: EXPUNGE for what went (or keep it as a
 * ghost), then the new UIDs. */
static int
view_merge(struct imapd *s, const struct mailbox_uids *nv, int allow,
    uint32_t *added_r, struct mailbox_uids *gone)
{
	uint32_t *old = s->uids, oldn = s->n, i, removed = 0;
	size_t j = 0;

	s->uids = NULL;
	s->n = s->cap = 0;
	s->ghosts = 0;
	for (i = 0; i < oldn; i++) {
		while (j < nv->n && nv->v[j] < old[i]) {
			/* a UID below the old maximum that we never saw:
			 * only after a rebuild; take it in order */
			if (view_add(s, nv->v[j++]) < 0)
				goto fail;
			(*added_r)++;
		}
		if (j < nv->n && nv->v[j] == old[i]) {
			j++;
			if (view_add(s, old[i]) < 0)
				goto fail;
		} else if (allow) {
			if (gone != NULL) {
				if (mailbox_uids_add(gone, old[i]) < 0)
					goto fail;
			} else if (imapd_untagged(s, "%u EXPUNGE",
			    i + 1 - removed) < 0)
				goto fail;
			removed++;
		} else {
			s->ghosts = 1;
			if (view_add(s, old[i]) < 0)
				goto fail;
		}
	}
	for (; j < nv->n; j++, (*added_r)++)
		if (view_add(s, nv->v[j]) < 0)
			goto fail;
	free(old);
	return 0;
fail:
	free(old);
	return -1;
}

static int
view_report_flags(struct imapd *s, const struct mailbox_uids *u)
{
	struct fetch_lines fl;
	size_t k;
	int r = 0;

	fetch_lines_init(&fl, s);
	for (k = 0; k < u->n && r == 0; k++)
		r = fetch_lines_uid(&fl, u->v[k], 1);
	if (fetch_lines_done(&fl) < 0)
		r = -1;
	return r;
}

int
view_update(struct imapd *s, int allow_expunge)
{
	struct mailbox_uids nv = { NULL, 0, 0 }, fl = { NULL, 0, 0 };
	struct mailbox_uids gone = { NULL, 0, 0 };
	struct str err = STR_INIT;
	struct index_header h;
	uint32_t added = 0, nrecent;
	int r = -1;

	/* the index header is enough to see what other sessions and
	 * deliveries did; the directories (other programs working on the
	 * Maildir) are looked at when the client polls: NOOP, CHECK, IDLE */
	if ((s->sync_due ? mailbox_sync(s->mb, &err) :
	    mailbox_refresh(s->mb, &err)) < 0) {
		log_warn("%s: sync: %s", s->selname, str_cstr(&err));
		str_free(&err);
		return 0;	/* reported next time */
	}
	s->sync_due = 0;
	h = *mailbox_header(s->mb);
	/* a keyword defined meanwhile changes the FLAGS (RFC 3501 7.2.6) */
	if (mailbox_meta(s->mb) != NULL &&
	    mailbox_meta(s->mb)->nkeywords != s->nkeywords_seen &&
	    select_flags(s) < 0) {
		str_free(&err);
		return -1;
	}
	if (!view_changed(s, &h) && !(s->ghosts && allow_expunge)) {
		str_free(&err);
		return 0;
	}
	if (view_ready(s) < 0) {
		str_free(&err);
		return -1;
	}
	if (h.uidnext != s->seen.uidnext) {
		view_take_recent(s);
		h = *mailbox_header(s->mb);
	}
	if (view_scan(s, &h, &nv, &fl) < 0 ||
	    view_merge(s, &nv, allow_expunge, &added, (s->enabled &
	    IMAP_EN_QRESYNC) ? &gone : NULL) < 0 ||
	    view_vanished(s, gone.v, gone.n, "") < 0)
		goto out;
	/* an EXPUNGE says the count went down; only growth needs EXISTS */
	if (added > 0) {
		if (imapd_untagged(s, "%u EXISTS", s->n) < 0)
			goto out;
	}
	/* RECENT goes with EXISTS, as clients expect; an expunge lowers
	 * the count implicitly */
	nrecent = view_count_recent(s);
	if (added > 0 && nrecent != s->nrecent_seen &&
	    imapd_untagged(s, "%u RECENT", nrecent) < 0)
		goto out;
	s->nrecent_seen = nrecent;
	if (view_report_flags(s, &fl) < 0)
		goto out;
	s->seen = h;
	r = 0;
out:
	mailbox_uids_free(&nv);
	mailbox_uids_free(&fl);
	mailbox_uids_free(&gone);
	str_free(&err);
	return r;
}
