/* SPDX-License-Identifier: ISC */
/*
 * Changing messages already in the mailbox: flags and keywords (STORE with
 * CONDSTORE's UNCHANGEDSINCE, RFC 7162), keyword names, \Recent, UID
 * lookup and opening a message's file.  Expunge and compaction are in
 * mailbox-expunge.c, copy in mailbox-copy.c.
 *
 * A STORE on thousands of messages takes the lock once, draws one MODSEQ,
 * rewrites the records in place, renames only the files whose system flags
 * changed, and writes the header (the commit point) once at the end.
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

struct store {
	struct mailbox *mb;
	const struct mailbox_store *st;
	struct index_header h;
	uint64_t modseq;	/* the MODSEQ of this STORE's changes, 0: none yet */
	struct mailbox_dirs dirs;
	struct str name, npath;
	struct mailbox_uids *changed, *failed;
	struct mailbox_uids lost;	/* renamed under us by another program */
	int changes;
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

/* Rename the file of r to carry flags.  1 done, 0 the file was gone (renamed
 * or removed by another program), -1 error. */
static int
store_rename(struct store *s, struct index_record *r, uint32_t flags)
{
	struct mailbox *mb = s->mb;
	struct maildir_name mn;
	const char *old;

	if (mailbox_file_name(mb, r, &s->name) < 0 || s->name.len < 5 ||
	    maildir_name_parse(s->name.s + 4, &mn) < 0) {
		errno = EBADMSG;
		return -1;
	}
	old = s->name.s + 4;
	str_clear(&s->npath);
	if (str_appends(&s->npath, "cur/") < 0 ||
	    maildir_name_with_flags(&s->npath, old, mn.base_len, flags,
	    mn.has_info ? old + mn.info_off : NULL) < 0)
		return -1;
	if (strcmp(s->npath.s, s->name.s) != 0) {
		struct str from = STR_INIT, to = STR_INIT;
		int rc = -1;

		if (mailbox_path(mb, s->name.s, &from) == 0 &&
		    mailbox_path(mb, s->npath.s, &to) == 0)
			rc = rename(from.s, to.s);
		str_free(&from);
		str_free(&to);
		if (rc < 0)
			return errno == ENOENT ? 0 : -1;
		s->dirs.touched[1] = 1;
		if (r->flags & REC_IN_NEW)
			s->dirs.touched[0] = 1;
	}
	if (cache_append(mb->cache, CACHE_T_NAME, r->uid, s->npath.s,
	    s->npath.len, &r->name_off) < 0)
		return -1;
	s->h.cache_end = cache_entry_end(r->name_off, s->npath.len);
	r->flags &= ~REC_IN_NEW;
	return 1;
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
		int rc = store_rename(s, r, flags);

		if (rc <= 0)
			return rc < 0 ? -1 : mailbox_uids_add(&s->lost, r->uid);
	}
	if (s->modseq == 0)
		s->modseq = ++s->h.highestmodseq;
	r->flags = (r->flags & ~MAIL_FLAGS_MASK) | flags;
	r->keywords = kw;
	r->modseq = s->modseq;
	if (index_put(s->mb->ix, seq, r) < 0)
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

		if (i > 0 && uids[i] <= uids[i - 1])
			pos = 0;	/* not ascending after all: search all */
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

/* Write the header; the mtimes of the directories we changed go with it. */
static int
store_commit(struct store *s)
{
	if (mailbox_dirs_after(s->mb, &s->h, &s->dirs) < 0 ||
	    index_commit(s->mb->ix, &s->h) < 0)
		return -1;
	s->mb->hdr = s->h;
	return 0;
}

/* Files another program renamed while we were at it: sync (which reads
 * the directories and learns their names and flags) and apply the STORE
 * once more.  They get a MODSEQ above the sync's own. */
static int
store_retry(struct store *s, struct str *err)
{
	struct mailbox_uids lost = s->lost;
	int rc, touched[2];

	memset(&s->lost, 0, sizeof(s->lost));
	mailbox_sync_force(s->mb);
	if (mailbox_sync_locked(s->mb, err) < 0) {
		mailbox_uids_free(&lost);
		return -1;
	}
	s->h = s->mb->hdr;
	s->modseq = 0;
	touched[0] = s->dirs.touched[0];
	touched[1] = s->dirs.touched[1];
	rc = mailbox_dirs_before(s->mb, &s->h, &s->dirs);
	/* the first pass's renames are to be fsynced too */
	s->dirs.touched[0] = touched[0];
	s->dirs.touched[1] = touched[1];
	if (rc == 0)
		rc = store_pass(s, lost.v, lost.n, 0);
	mailbox_uids_free(&lost);
	return rc;
}

/* Every bit names a keyword of zest.header (a bit from elsewhere would
 * give messages keywords nobody can name). */
static int
store_keywords_known(const struct mailbox *mb, uint64_t kw)
{
	unsigned n = mb->meta.nkeywords;

	return n >= MBMETA_MAX_KEYWORDS || (kw >> n) == 0;
}

int
mailbox_store(struct mailbox *mb, const uint32_t *uids, size_t n,
    const struct mailbox_store *st, struct mailbox_uids *changed_r,
    struct mailbox_uids *failed_r, struct str *err)
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
	if (mailbox_dirs_before(mb, &s.h, &s.dirs) < 0 ||
	    store_pass(&s, uids, n, 1) < 0 || store_commit(&s) < 0)
		goto fail;
	if (s.lost.n > 0 && (store_retry(&s, err) < 0 || store_commit(&s) < 0))
		goto fail;
	rc = s.changes;
	goto out;
fail:
	if (err->len == 0)
		str_appendf(err, "%s: store: %s", mb->dir, strerror(errno));
	/* what was written stays consistent: records and counters agree */
	if (index_commit(mb->ix, &s.h) == 0)
		mb->hdr = s.h;
out:
	if (!was_locked)
		mailbox_unlock(mb);
	/* flag changes are acknowledged: make the renames durable */
	if (rc >= 0 && mailbox_dirs_fsync(mb, &s.dirs) < 0) {
		str_appendf(err, "%s: fsync: %s", mb->dir, strerror(errno));
		rc = -1;
	}
	mailbox_uids_free(&s.lost);
	str_free(&s.name);
	str_free(&s.npath);
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
