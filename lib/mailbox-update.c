/* SPDX-License-Identifier: ISC */
/*
 * Changing messages already in the mailbox: flags and keywords (STORE with
 * CONDSTORE's UNCHANGEDSINCE, RFC 7162), keyword names, \Recent, UID
 * lookup and opening a message's file.  Expunge and compaction are in
 * mailbox-expunge.c, copy in mailbox-copy.c.
 *
 * A STORE on thousands of messages takes the lock once, draws one MODSEQ,
 * rewrites the records in place (adjacent ones in one write), writes the
 * header (the commit point) once and fsyncs the index; the files whose
 * system flags changed are renamed afterwards (mailbox_store_names).
 */
#include "mailbox-private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"
#include "maildir.h"

int
mailbox_uids_add(struct mailbox_uids *u, uint32_t uid)
{
	if (u->n == u->cap) {
		size_t nc = u->cap ? u->cap * 2 : 64;
		uint32_t *v = reallocarray(u->v, nc, sizeof(*v));

		if (v == NULL)
			return -1;
		u->v = v;
		u->cap = nc;
	}
	u->v[u->n++] = uid;
	return 0;
}

void
mailbox_uids_free(struct mailbox_uids *u)
{
	free(u->v);
	memset(u, 0, sizeof(*u));
}

/* ---- directories: keep the recorded mtimes current after our changes ---- */

int
mailbox_dirs_before(struct mailbox *mb, const struct index_header *h,
    struct mailbox_dirs *d)
{
	struct str p = STR_INIT;
	int i, rc = 0;

	memset(d, 0, sizeof(*d));
	for (i = 0; i < 2 && rc == 0; i++) {
		int64_t sec = i == 0 ? h->new_mtime_sec : h->cur_mtime_sec;
		uint32_t nsec = i == 0 ? h->new_mtime_nsec : h->cur_mtime_nsec;

		if (mailbox_path(mb, i == 0 ? "new" : "cur", &p) < 0 ||
		    stat(p.s, &d->before[i]) < 0) {
			rc = -1;
			break;
		}
		d->ours[i] = sec == (int64_t)d->before[i].st_mtim.tv_sec &&
		    nsec == (uint32_t)d->before[i].st_mtim.tv_nsec;
	}
	str_free(&p);
	return rc;
}

int
mailbox_dirs_after(struct mailbox *mb, struct index_header *h,
    const struct mailbox_dirs *d)
{
	struct str p = STR_INIT;
	struct stat st;
	int i, rc = 0;

	for (i = 0; i < 2 && rc == 0; i++) {
		/* Someone else moved it before us: leave the old record so
		 * that the next sync reads the directory. */
		if (!d->touched[i] || !d->ours[i])
			continue;
		if (mailbox_path(mb, i == 0 ? "new" : "cur", &p) < 0 ||
		    stat(p.s, &st) < 0)
			rc = -1;
		else
			mailbox_dir_mtime_store(h, i == 0, &st);
	}
	str_free(&p);
	return rc;
}

int
mailbox_dirs_fsync(struct mailbox *mb, const struct mailbox_dirs *d)
{
	struct str p = STR_INIT;
	int i, rc = 0;

	for (i = 0; i < 2 && rc == 0; i++)
		if (d->touched[i] &&
		    (mailbox_path(mb, i == 0 ? "new" : "cur", &p) < 0 ||
		    fs_fsync_dir(p.s) < 0))
			rc = -1;
	str_free(&p);
	return rc;
}

/* ---- UID lookup: records are in UID order ---- */

int
mailbox_find_from(struct mailbox *mb, uint32_t count, uint32_t lo,
    uint32_t uid, uint32_t *seq_r, struct index_record *r_r)
{
	uint32_t hi = count;

	/* Callers walk ascending UIDs, mostly in runs: try lo first. */
	if (lo < count) {
		if (mailbox_index_get(mb, lo, r_r) < 0)
			return -1;
		if (r_r->uid == uid) {
			*seq_r = lo;
			return 1;
		}
		if (r_r->uid > uid)
			return 0;
		lo++;
	}
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (mailbox_index_get(mb, mid, r_r) < 0)
			return -1;
		if (r_r->uid == uid) {
			*seq_r = mid;
			return 1;
		}
		if (r_r->uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

int
mailbox_find_uid(struct mailbox *mb, uint32_t uid, uint32_t *seq_r,
    struct index_record *r_r)
{
	struct index_record r;
	uint32_t seq;
	int rc = mailbox_find_from(mb, mb->hdr.count, 0, uid, &seq, &r);

	if (rc < 0)
		return -1;
	if (rc == 0 || (r.flags & REC_EXPUNGED)) {
		errno = ENOENT;
		return -1;
	}
	if (seq_r != NULL)
		*seq_r = seq;
	if (r_r != NULL)
		*r_r = r;
	return 0;
}

/* ---- STORE ---- */

/*
 * A STORE changes records only.  A record whose system flags change is
 * marked REC_NAME_BEHIND and counted in the header's names_behind: its
 * file keeps the old name, which the record still points to, so a sync
 * finds nothing to learn from it and the index, fsync()ed before
 * mailbox_store returns, is the durable authority for the flags.
 * mailbox_store_names then renames the files (mailbox_store itself, or
 * the caller later when it asked with defer_names: imapd right after its
 * tagged reply), fsyncs the directories, and only then points the
 * records to the new names and clears the mark.
 */

/* Changed records wait in a run of consecutive positions and go to the
 * index in one write (a STORE on a range rewrites thousands of adjacent
 * records); the header, written after them, stays the commit point. */
#define STORE_RUN_MAX 4096

struct store {
	struct mailbox *mb;
	const struct mailbox_store *st;
	struct index_header h;
	uint64_t modseq;	/* the MODSEQ of this STORE's changes, 0: none yet */
	struct mailbox_uids *changed, *failed;
	struct mailbox_uids behind;	/* UIDs this STORE marked */
	int changes;
	uint32_t run_seq, run_n;	/* records run_seq .. + run_n - 1 */
	struct index_record *run;	/* new, then old: 2 * STORE_RUN_MAX */
};

static void
store_apply(const struct mailbox_store *st, uint32_t *flags, uint64_t *kw)
{
	uint32_t f = st->flags & MAIL_FLAGS_MASK;

	switch (st->op) {
	case MBOX_FLAGS_REPLACE:
		*flags = f;
		*kw = st->keywords;
		break;
	case MBOX_FLAGS_ADD:
		*flags |= f;
		*kw |= st->keywords;
		break;
	case MBOX_FLAGS_REMOVE:
		*flags &= ~f;
		*kw &= ~st->keywords;
		break;
	}
}

/* Write the waiting run.  When the write fails, each record is tried
 * alone and the counters of those that did not go are taken back, so
 * that the header written on failure agrees with the records. */
static int
store_flush(struct store *s)
{
	struct index_record *nw = s->run, *old = s->run + STORE_RUN_MAX;
	uint32_t i, n = s->run_n;
	int rc = 0, saved;

	if (n == 0)
		return 0;
	s->run_n = 0;
	if (index_put_many(s->mb->ix, s->run_seq, nw, n) == 0)
		return 0;
	saved = errno;
	for (i = 0; i < n; i++)
		if (index_put(s->mb->ix, s->run_seq + i, &nw[i]) < 0) {
			mailbox_count(&s->h, &nw[i], &old[i]);
			if ((nw[i].flags ^ old[i].flags) & REC_NAME_BEHIND)
				s->h.names_behind += (old[i].flags &
				    REC_NAME_BEHIND) ? 1 : -1;
			rc = -1;
		}
	errno = saved;
	return rc;
}

/* Queue the new record r (o before the change) for position seq. */
static int
store_queue(struct store *s, uint32_t seq, const struct index_record *o,
    const struct index_record *r)
{
	if (s->run == NULL && (s->run = calloc(2 * STORE_RUN_MAX,
	    sizeof(*s->run))) == NULL)
		return -1;
	if (s->run_n > 0 && (seq != s->run_seq + s->run_n ||
	    s->run_n == STORE_RUN_MAX) && store_flush(s) < 0)
		return -1;
	if (s->run_n == 0)
		s->run_seq = seq;
	s->run[s->run_n] = *r;
	s->run[STORE_RUN_MAX + s->run_n] = *o;
	s->run_n++;
	return 0;
}

/* Apply the STORE to record seq.  check: honour UNCHANGEDSINCE. */
static int
store_one(struct store *s, uint32_t seq, struct index_record *r, int check)
{
	const struct mailbox_store *st = s->st;
	struct index_record o = *r;
	uint32_t flags = r->flags & MAIL_FLAGS_MASK;
	uint64_t kw = r->keywords;

	if (check && st->unchangedsince != 0 && r->modseq > st->unchangedsince)
		return s->failed ? mailbox_uids_add(s->failed, r->uid) : 0;
	store_apply(st, &flags, &kw);
	if (flags == (r->flags & MAIL_FLAGS_MASK) && kw == r->keywords)
		return 0;
	if (flags != (r->flags & MAIL_FLAGS_MASK)) {
		if (mailbox_uids_add(&s->behind, r->uid) < 0)
			return -1;
		if (!(r->flags & REC_NAME_BEHIND)) {
			r->flags |= REC_NAME_BEHIND;
			s->h.names_behind++;
		}
	}
	if (s->modseq == 0)
		s->modseq = ++s->h.highestmodseq;
	r->flags = (r->flags & ~MAIL_FLAGS_MASK) | flags;
	r->keywords = kw;
	r->modseq = s->modseq;
	if (store_queue(s, seq, &o, r) < 0)
		return -1;
	mailbox_count(&s->h, &o, r);
	s->changes++;
	return s->changed ? mailbox_uids_add(s->changed, r->uid) : 0;
}

/* One pass over ascending UIDs. */
static int
store_pass(struct store *s, const uint32_t *uids, size_t n, int check)
{
	uint32_t pos = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		struct index_record r;
		uint32_t seq;
		int rc;

		if (i > 0 && uids[i] <= uids[i - 1]) {
			/* not ascending after all: search all, and read
			 * what this STORE already changed from the file */
			pos = 0;
			if (store_flush(s) < 0)
				return -1;
		}
		rc = mailbox_find_from(s->mb, s->h.count, pos, uids[i], &seq, &r);
		if (rc < 0)
			return -1;
		if (rc == 0)
			continue;
		pos = seq + 1;
		if (!(r.flags & REC_EXPUNGED) && store_one(s, seq, &r, check) < 0)
			return -1;
	}
	return 0;
}

/* Write the records, then the header (the commit point). */
static int
store_commit(struct store *s)
{
	if (store_flush(s) < 0 || index_commit(s->mb->ix, &s->h) < 0)
		return -1;
	s->mb->hdr = s->h;
	return 0;
}

/* Every bit names a keyword of zest.header (a bit from elsewhere would
 * give messages keywords nobody can name). */
static int
store_keywords_known(const struct mailbox *mb, uint64_t kw)
{
	unsigned n = mb->meta.nkeywords;

	return n >= MBMETA_MAX_KEYWORDS || (kw >> n) == 0;
}

static int
store_run(struct mailbox *mb, const uint32_t *uids, size_t n,
    const struct mailbox_store *st, struct mailbox_uids *changed_r,
    struct mailbox_uids *failed_r, int defer, struct str *err)
{
	struct store s;
	int was_locked = mb->locked, rc = -1;

	memset(&s, 0, sizeof(s));
	s.mb = mb;
	s.st = st;
	s.changed = changed_r;
	s.failed = failed_r;
	if (st->op > MBOX_FLAGS_REMOVE || (st->flags & ~MAIL_FLAGS_MASK) != 0) {
		str_appendf(err, "store: invalid operation or flags");
		errno = EINVAL;
		return -1;
	}
	if (!was_locked && mailbox_lock(mb) < 0) {
		str_appendf(err, "%s: cannot lock: %s", mb->dir, strerror(errno));
		return -1;
	}
	if (mailbox_refresh(mb, err) < 0)
		goto out;
	if (!store_keywords_known(mb, st->keywords)) {
		str_appendf(err, "store: keyword bit without a name");
		errno = EINVAL;
		goto out;
	}
	s.h = mb->hdr;
	if (store_pass(&s, uids, n, 1) < 0 || store_commit(&s) < 0)
		goto fail;
	rc = s.changes;
	/* the changes are acknowledged: the index holds them durably
	 * before any file is renamed */
	if (rc > 0 && index_sync(mb->ix) < 0) {
		str_appendf(err, "%s: index fsync: %s", mb->dir,
		    strerror(errno));
		rc = -1;
	} else if (mb->hdr.names_behind > 0 && !defer &&
	    mailbox_store_names(mb, s.behind.v, s.behind.n, err) < 0)
		rc = -1;
	goto out;
fail:
	if (err->len == 0)
		str_appendf(err, "%s: store: %s", mb->dir, strerror(errno));
	/* what was written stays consistent: records and counters agree */
	store_flush(&s);
	if (index_commit(mb->ix, &s.h) == 0)
		mb->hdr = s.h;
out:
	if (!was_locked)
		mailbox_unlock(mb);
	mailbox_uids_free(&s.behind);
	free(s.run);
	return rc;
}

int
mailbox_store(struct mailbox *mb, const uint32_t *uids, size_t n,
    const struct mailbox_store *st, struct mailbox_uids *changed_r,
    struct mailbox_uids *failed_r, struct str *err)
{
	return store_run(mb, uids, n, st, changed_r, failed_r, 0, err);
}

int
mailbox_store_deferred(struct mailbox *mb, const uint32_t *uids, size_t n,
    const struct mailbox_store *st, struct mailbox_uids *changed_r,
    struct mailbox_uids *failed_r, struct str *err)
{
	return store_run(mb, uids, n, st, changed_r, failed_r, 1, err);
}

/* ---- file names catching up with flags ---- */

/* One record whose name is behind. */
struct names_ent {
	uint32_t seq;
	uint32_t base;		/* the flags its recorded name carries */
	int state;		/* NAME_* */
	size_t name_at;		/* its new name in names.buf (NAME_MOVED) */
	struct index_record r;
};

#define NAME_SAME 0		/* the name already carries the flags */
#define NAME_MOVED 1		/* renamed */
#define NAME_GONE 2		/* not under its recorded name any more */

struct names {
	struct store w;		/* the run writer and the header */
	struct mailbox_dirs dirs;
	struct names_ent *e;
	size_t n, cap;
	struct str buf;		/* new names, NUL-separated */
	struct str name, npath;
	int dfd;		/* the Maildir, for renameat */
	int gone;		/* entries NAME_GONE */
};

static int
names_add(struct names *nm, uint32_t seq, const struct index_record *r)
{
	if (nm->n > 0 && nm->e[nm->n - 1].seq >= seq) {
		errno = EINVAL;		/* not ascending: the caller scans all */
		return -1;
	}
	if (nm->n == nm->cap) {
		size_t nc = nm->cap ? nm->cap * 2 : 64;
		struct names_ent *v = reallocarray(nm->e, nc, sizeof(*v));

		if (v == NULL)
			return -1;
		nm->e = v;
		nm->cap = nc;
	}
	memset(&nm->e[nm->n], 0, sizeof(nm->e[nm->n]));
	nm->e[nm->n].seq = seq;
	nm->e[nm->n].r = *r;
	nm->n++;
	return 0;
}

static int
names_behind(const struct index_record *r)
{
	return (r->flags & (REC_NAME_BEHIND | REC_EXPUNGED)) == REC_NAME_BEHIND;
}

/* The records behind among uids (ascending), or when they are not all
 * of them (a session that died before its renames, one that runs
 * alongside) every record behind; the header's count is made exact. */
static int
names_collect(struct names *nm, const uint32_t *uids, size_t n)
{
	struct mailbox *mb = nm->w.mb;
	struct index_record r;
	uint32_t seq, pos = 0;
	size_t i;
	int rc;

	for (i = 0; uids != NULL && i < n; i++) {
		if (i > 0 && uids[i] <= uids[i - 1])
			break;
		rc = mailbox_find_from(mb, nm->w.h.count, pos, uids[i], &seq,
		    &r);
		if (rc < 0)
			return -1;
		if (rc == 0)
			continue;
		pos = seq + 1;
		if (names_behind(&r) && names_add(nm, seq, &r) < 0)
			return -1;
	}
	if (uids != NULL && i == n && nm->n == nm->w.h.names_behind)
		return 0;
	nm->n = 0;
	for (seq = 0; seq < nm->w.h.count; seq++) {
		if (mailbox_index_get(mb, seq, &r) < 0)
			return -1;
		if (names_behind(&r) && names_add(nm, seq, &r) < 0)
			return -1;
	}
	nm->w.h.names_behind = (uint32_t)nm->n;
	return 0;
}

/* Rename the file of e to carry its record's flags. */
static int
names_rename(struct names *nm, struct names_ent *e)
{
	struct mailbox *mb = nm->w.mb;
	struct maildir_name mn;
	const char *old;

	if (mailbox_file_name(mb, &e->r, &nm->name) < 0 ||
	    nm->name.len < 5 || maildir_name_parse(nm->name.s + 4, &mn) < 0) {
		errno = EBADMSG;
		return -1;
	}
	old = nm->name.s + 4;
	e->base = mn.has_info ? maildir_name_flags(old, &mn) : 0;
	str_clear(&nm->npath);
	if (str_appends(&nm->npath, "cur/") < 0 ||
	    maildir_name_with_flags(&nm->npath, old, mn.base_len,
	    e->r.flags & MAIL_FLAGS_MASK, mn.has_info ? old + mn.info_off :
	    NULL) < 0)
		return -1;
	e->state = NAME_SAME;
	if (strcmp(nm->npath.s, nm->name.s) == 0)
		return 0;
	if (nm->dfd < 0 && (nm->dfd = open(mb->dir, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) < 0)
		return -1;
	if (renameat(nm->dfd, nm->name.s, nm->dfd, nm->npath.s) < 0) {
		if (errno != ENOENT)
			return -1;
		e->state = NAME_GONE;	/* another program renamed it */
		nm->gone++;
		return 0;
	}
	nm->dirs.touched[1] = 1;
	if (e->r.flags & REC_IN_NEW)
		nm->dirs.touched[0] = 1;
	/* the header this sets is committed only after names_record */
	mailbox_digest_add(&nm->w.h, nm->name.s, nm->name.len, -1);
	mailbox_digest_add(&nm->w.h, nm->npath.s, nm->npath.len, 1);
	e->state = NAME_MOVED;
	e->name_at = nm->buf.len;
	return str_append(&nm->buf, nm->npath.s, nm->npath.len + 1);
}

/* The renames are durable: point the records to the new names. */
static int
names_record(struct names *nm)
{
	struct mailbox *mb = nm->w.mb;
	size_t i;

	for (i = 0; i < nm->n; i++) {
		struct names_ent *e = &nm->e[i];
		struct index_record o = e->r;

		if (e->state == NAME_GONE)
			continue;
		if (e->state == NAME_MOVED) {
			const char *name = nm->buf.s + e->name_at;
			size_t len = strlen(name);

			if (cache_append(mb->cache, CACHE_T_NAME, e->r.uid,
			    name, len, &e->r.name_off) < 0)
				return -1;
			nm->w.h.cache_end = cache_entry_end(e->r.name_off, len);
			e->r.flags &= ~REC_IN_NEW;
		}
		e->r.flags &= ~REC_NAME_BEHIND;
		nm->w.h.names_behind--;
		if (store_queue(&nm->w, e->seq, &o, &e->r) < 0)
			return -1;
	}
	return 0;
}

/* Files another program renamed after the STORE: a sync learns their
 * names and takes the flags they carry; then the flags that the index
 * changed since the old name (acknowledged changes) are put back on top
 * of those, with a new MODSEQ, and the names tried once more.  A file
 * that is still gone is left behind, for the next sync to find. */
static int
names_regain(struct names *nm, struct str *err)
{
	struct mailbox *mb = nm->w.mb;
	struct names_ent *old = nm->e;
	size_t i, n = nm->n;
	uint64_t modseq = 0;
	int rc = -1;

	nm->e = NULL;
	nm->n = nm->cap = 0;
	nm->gone = 0;
	mailbox_sync_force(mb);
	if (mailbox_sync_locked(mb, err) < 0)
		goto out;
	nm->w.h = mb->hdr;
	for (i = 0; i < n; i++) {
		struct index_record r, o;
		uint32_t seq, ours, d, f;

		if (old[i].state != NAME_GONE ||
		    mailbox_find_uid(mb, old[i].r.uid, &seq, &r) < 0)
			continue;
		o = r;
		ours = old[i].r.flags & MAIL_FLAGS_MASK;
		d = ours ^ old[i].base;		/* what the index changed */
		f = ((r.flags & MAIL_FLAGS_MASK) & ~d) | (ours & d);
		if (f != (r.flags & MAIL_FLAGS_MASK)) {
			if (modseq == 0)
				modseq = ++nm->w.h.highestmodseq;
			r.flags = (r.flags & ~MAIL_FLAGS_MASK) | f;
			r.modseq = modseq;
		}
		if (!(r.flags & REC_NAME_BEHIND)) {
			r.flags |= REC_NAME_BEHIND;
			nm->w.h.names_behind++;
		}
		mailbox_count(&nm->w.h, &o, &r);
		if (store_queue(&nm->w, seq, &o, &r) < 0 ||
		    names_add(nm, seq, &r) < 0)
			goto out;
	}
	if (store_flush(&nm->w) < 0 ||
	    mailbox_dirs_before(mb, &nm->w.h, &nm->dirs) < 0)
		goto out;
	for (i = 0; i < nm->n; i++)
		if (names_rename(nm, &nm->e[i]) < 0)
			goto out;
	rc = 0;
out:
	free(old);
	return rc;
}

int
mailbox_store_names(struct mailbox *mb, const uint32_t *uids, size_t n,
    struct str *err)
{
	struct names nm;
	struct mailbox_dirs first;
	size_t i;
	int was_locked = mb->locked, rc = -1;

	memset(&nm, 0, sizeof(nm));
	nm.w.mb = mb;
	nm.dfd = -1;
	if (!was_locked && mailbox_lock(mb) < 0) {
		str_appendf(err, "%s: cannot lock: %s", mb->dir, strerror(errno));
		return -1;
	}
	if (mailbox_refresh(mb, err) < 0)
		goto out;
	nm.w.h = mb->hdr;
	if (nm.w.h.names_behind == 0) {
		rc = 0;
		goto out;
	}
	if (names_collect(&nm, uids, n) < 0 ||
	    mailbox_dirs_before(mb, &nm.w.h, &nm.dirs) < 0)
		goto fail;
	for (i = 0; i < nm.n; i++)
		if (names_rename(&nm, &nm.e[i]) < 0)
			goto fail;
	if (nm.gone > 0) {
		/* the renames so far are to be fsynced and recorded too */
		if (mailbox_dirs_fsync(mb, &nm.dirs) < 0 ||
		    names_record(&nm) < 0 || store_commit(&nm.w) < 0)
			goto fail;
		first = nm.dirs;
		if (names_regain(&nm, err) < 0)
			goto fail;
		for (i = 0; i < 2; i++)
			nm.dirs.touched[i] |= first.touched[i];
	}
	/* the records point to the new names only once these are durable:
	 * a crash before leaves records behind under their old names */
	if (mailbox_dirs_fsync(mb, &nm.dirs) < 0 || names_record(&nm) < 0 ||
	    store_flush(&nm.w) < 0 ||
	    mailbox_dirs_after(mb, &nm.w.h, &nm.dirs) < 0 ||
	    store_commit(&nm.w) < 0)
		goto fail;
	rc = 0;
	goto out;
fail:
	if (err->len == 0)
		str_appendf(err, "%s: file names: %s", mb->dir, strerror(errno));
	store_flush(&nm.w);
	if (index_commit(mb->ix, &nm.w.h) == 0)
		mb->hdr = nm.w.h;
out:
	if (!was_locked)
		mailbox_unlock(mb);
	if (nm.dfd >= 0)
		close(nm.dfd);
	free(nm.e);
	free(nm.w.run);
	str_free(&nm.buf);
	str_free(&nm.name);
	str_free(&nm.npath);
	return rc;
}

/* ---- keywords ---- */

/* Re-read zest.header: another process may have added keywords. */
static void
keyword_reload(struct mailbox *mb)
{
	struct str p = STR_INIT;
	struct mbmeta m;

	if (mailbox_path(mb, "zest.header", &p) == 0 &&
	    mbmeta_read(p.s, &m) == 0) {
		if (m.uidvalidity == mb->meta.uidvalidity &&
		    m.nkeywords >= mb->meta.nkeywords) {
			mbmeta_free(&mb->meta);
			mb->meta = m;
		} else
			mbmeta_free(&m);
	}
	str_free(&p);
}

int
mailbox_keyword(struct mailbox *mb, const char *name, int create,
    struct str *err)
{
	int was_locked = mb->locked, i;
	unsigned before;

	if ((i = mbmeta_keyword_find(&mb->meta, name)) >= 0)
		return i;
	keyword_reload(mb);
	if ((i = mbmeta_keyword_find(&mb->meta, name)) >= 0)
		return i;
	if (!create) {
		errno = ENOENT;
		return -1;
	}
	if (!was_locked && mailbox_lock(mb) < 0) {
		str_appendf(err, "%s: cannot lock: %s", mb->dir, strerror(errno));
		return -1;
	}
	keyword_reload(mb);
	before = mb->meta.nkeywords;
	i = mbmeta_keyword_add(&mb->meta, name);
	if (i >= 0 && mb->meta.nkeywords > before &&
	    mailbox_meta_save(mb) < 0) {
		int saved = errno;

		/* not on disk: forget it, the bit must not be used */
		free(mb->meta.keywords[--mb->meta.nkeywords]);
		mb->meta.keywords[mb->meta.nkeywords] = NULL;
		errno = saved;
		i = -1;
	}
	if (i < 0) {
		int saved = errno;

		str_appendf(err, "keyword %s: %s", name,
		    saved == ENOSPC ? "too many keywords in this mailbox" :
		    saved == EINVAL ? "not a valid keyword" : strerror(saved));
		errno = saved;
	}
	if (!was_locked)
		mailbox_unlock(mb);
	return i;
}

/* ---- \Recent ---- */

int
mailbox_take_recent(struct mailbox *mb, uint32_t *first_r, uint32_t *last_r,
    struct str *err)
{
	int was_locked = mb->locked, rc = -1;
	struct index_header h;

	if (!was_locked && mailbox_lock(mb) < 0) {
		str_appendf(err, "%s: cannot lock: %s", mb->dir, strerror(errno));
		return -1;
	}
	if (mailbox_refresh(mb, err) < 0)
		goto out;
	h = mb->hdr;
	if (h.first_recent_uid == 0)
		h.first_recent_uid = 1;
	*first_r = h.first_recent_uid;
	*last_r = h.uidnext - 1;
	if (h.first_recent_uid < h.uidnext) {
		h.first_recent_uid = h.uidnext;
		if (index_commit(mb->ix, &h) < 0) {
			str_appendf(err, "%s: index: %s", mb->dir,
			    strerror(errno));
			goto out;
		}
		mb->hdr = h;
	}
	rc = 0;
out:
	if (!was_locked)
		mailbox_unlock(mb);
	return rc;
}

/* ---- reading a message ---- */

static int
msg_open_name(struct mailbox *mb, const struct index_record *r, int *fd_r)
{
	struct str name = STR_INIT, path = STR_INIT;
	int fd = -1;

	if (mailbox_file_name(mb, r, &name) == 0 &&
	    mailbox_path(mb, name.s, &path) == 0)
		fd = open(path.s, O_RDONLY | O_CLOEXEC);
	str_free(&name);
	str_free(&path);
	if (fd < 0)
		return -1;
	*fd_r = fd;
	return 0;
}

int
mailbox_msg_open(struct mailbox *mb, const struct index_record *r, int *fd_r,
    struct str *err)
{
	struct index_record cur;
	int rc;

	if (msg_open_name(mb, r, fd_r) == 0)
		return 0;
	if (errno != ENOENT) {
		str_appendf(err, "%s: message %u: %s", mb->dir, r->uid,
		    strerror(errno));
		return -1;
	}
	/* Renamed (flags set by another program) or removed: find out. */
	mailbox_sync_force(mb);
	rc = mb->locked ? mailbox_sync_locked(mb, err) : mailbox_sync(mb, err);
	if (rc < 0)
		return -1;
	if (mailbox_find_uid(mb, r->uid, NULL, &cur) < 0 ||
	    msg_open_name(mb, &cur, fd_r) < 0) {
		int saved = errno;

		str_appendf(err, "%s: message %u: %s", mb->dir, r->uid,
		    strerror(saved));
		errno = saved;
		return -1;
	}
	return 0;
}
