/* SPDX-License-Identifier: ISC */
/*
 * Expunge (tombstones first, then the records, then the files) and
 * compaction: zest.index rewritten without its expunged records once they
 * are more than a quarter of it.
 */
#include "mailbox-private.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"
#include "maildir.h"
#include "tomb.h"

/* What expunge found for one UID. */
struct gone {
	uint32_t seq;
	struct index_record r;
	size_t name_off;	/* "new/..." or "cur/..." in the arena */
};

struct expunge {
	struct mailbox *mb;
	struct index_header h;
	struct gone *g;
	size_t n, cap;
	struct str names;	/* NUL-separated */
	struct str lost;	/* bases of files already gone, NUL-separated */
	size_t nlost;
	struct mailbox_dirs dirs;
};

static int
expunge_collect(struct expunge *x, const uint32_t *uids, size_t n)
{
	struct str name = STR_INIT;
	uint32_t pos = 0;
	size_t i;
	int rc = 0;

	for (i = 0; i < n && rc == 0; i++) {
		struct gone *g;
		struct index_record r;
		uint32_t seq;
		int found;

		if (i > 0 && uids[i] <= uids[i - 1])
			pos = 0;
		found = mailbox_find_from(x->mb, x->h.count, pos, uids[i],
		    &seq, &r);
		if (found < 0) {
			rc = -1;
			break;
		}
		if (found == 0 || (r.flags & REC_EXPUNGED))
			continue;
		pos = seq + 1;
		if (x->n == x->cap) {
			size_t nc = x->cap ? x->cap * 2 : 64;

			g = reallocarray(x->g, nc, sizeof(*g));
			if (g == NULL) {
				rc = -1;
				break;
			}
			x->g = g;
			x->cap = nc;
		}
		g = &x->g[x->n];
		g->seq = seq;
		g->r = r;
		g->name_off = x->names.len;
		if (mailbox_file_name(x->mb, &r, &name) < 0 ||
		    str_append(&x->names, name.s, name.len + 1) < 0)
			rc = -1;
		else
			x->n++;
	}
	str_free(&name);
	return rc;
}

/* Tombstones, then the records (one MODSEQ for all), then the header. */
static int
expunge_mark(struct expunge *x)
{
	struct str p = STR_INIT;
	struct tomb *t = calloc(x->n, sizeof(*t));
	uint64_t modseq = ++x->h.highestmodseq;
	size_t i;
	int rc = -1;

	if (t == NULL)
		return -1;
	for (i = 0; i < x->n; i++) {
		t[i].uid = x->g[i].r.uid;
		t[i].modseq = modseq;
	}
	if (mailbox_path(x->mb, "zest.expunged", &p) < 0 ||
	    tomb_append(p.s, x->h.uidvalidity, t, x->n) < 0)
		goto out;
	for (i = 0; i < x->n; i++) {
		struct index_record r = x->g[i].r;
		const char *name = x->names.s + x->g[i].name_off;

		r.flags |= REC_EXPUNGED;
		r.modseq = modseq;
		if (index_put(x->mb->ix, x->g[i].seq, &r) < 0)
			goto out;
		mailbox_count(&x->h, &x->g[i].r, &r);
		mailbox_digest_add(&x->h, name, strlen(name), -1);
	}
	if (index_commit(x->mb->ix, &x->h) < 0)
		goto out;
	x->mb->hdr = x->h;
	rc = 0;
out:
	free(t);
	str_free(&p);
	return rc;
}

/* Remove the files.  One another program renamed meanwhile is looked for
 * by its base in one read of the directories (rare), else the next sync
 * would take it for a new message. */
static int
expunge_unlink(struct expunge *x)
{
	struct str p = STR_INIT;
	size_t i;
	int rc = 0;

	for (i = 0; i < x->n && rc == 0; i++) {
		const char *name = x->names.s + x->g[i].name_off;
		struct maildir_name mn;

		if (mailbox_path(x->mb, name, &p) < 0)
			rc = -1;
		else if (unlink(p.s) == 0)
			x->dirs.touched[name[0] == 'n' ? 0 : 1] = 1;
		else if (errno != ENOENT)
			rc = -1;
		else if (maildir_name_parse(name + 4, &mn) == 0) {
			if (str_append(&x->lost, name + 4, mn.base_len) < 0 ||
			    str_appendc(&x->lost, '\0') < 0)
				rc = -1;
			x->nlost++;
		}
	}
	str_free(&p);
	return rc;
}

static int
lost_match(const struct expunge *x, const char *name)
{
	size_t off = 0, i, bl = strcspn(name, ":");

	for (i = 0; i < x->nlost; i++) {
		const char *b = x->lost.s + off;
		size_t n = strlen(b);

		if (n == bl && memcmp(b, name, bl) == 0)
			return 1;
		off += n + 1;
	}
	return 0;
}

static int
expunge_lost(struct expunge *x)
{
	struct str p = STR_INIT;
	int i, rc = 0;

	for (i = 0; i < 2 && rc == 0; i++) {
		const char *sub = i == 0 ? "new" : "cur";
		struct dirent *d;
		DIR *dp;

		if (mailbox_path(x->mb, sub, &p) < 0 ||
		    (dp = opendir(p.s)) == NULL) {
			rc = -1;
			break;
		}
		while (rc == 0 && (d = readdir(dp)) != NULL) {
			struct str f = STR_INIT;

			if (d->d_name[0] == '.' || !lost_match(x, d->d_name))
				continue;
			if (str_appendf(&f, "%s/%s", p.s, d->d_name) < 0 ||
			    (unlink(f.s) < 0 && errno != ENOENT))
				rc = -1;
			else
				x->dirs.touched[i] = 1;
			str_free(&f);
		}
		closedir(dp);
	}
	str_free(&p);
	return rc;
}

int
mailbox_expunge(struct mailbox *mb, const uint32_t *uids, size_t n,
    struct str *err)
{
	struct expunge x;
	int was_locked = mb->locked, rc = -1;

	memset(&x, 0, sizeof(x));
	x.mb = mb;
	if (!was_locked && mailbox_lock(mb) < 0) {
		str_appendf(err, "%s: cannot lock: %s", mb->dir, strerror(errno));
		return -1;
	}
	if (mailbox_refresh(mb, err) < 0)
		goto out;
	x.h = mb->hdr;
	if (expunge_collect(&x, uids, n) < 0)
		goto fail;
	if (x.n == 0) {
		rc = 0;
		goto out;
	}
	if (mailbox_dirs_before(mb, &x.h, &x.dirs) < 0 || expunge_mark(&x) < 0)
		goto fail;
	/* From here the messages are gone for every reader; the files are
	 * removed under the lock, before a sync could take them for new. */
	if (expunge_unlink(&x) < 0 || (x.nlost > 0 && expunge_lost(&x) < 0) ||
	    mailbox_dirs_after(mb, &x.h, &x.dirs) < 0 ||
	    index_commit(mb->ix, &x.h) < 0)
		goto fail;
	mb->hdr = x.h;
	if (mailbox_dirs_fsync(mb, &x.dirs) < 0)
		goto fail;
	rc = (int)x.n;
	/* Compaction only saves space and time: the expunge is done and
	 * durable even if it fails (the next expunge or sync tries again). */
	if (mailbox_compact_due(&mb->hdr))
		mailbox_compact_quietly(mb);
	goto out;
fail:
	str_appendf(err, "%s: expunge: %s", mb->dir, strerror(errno));
out:
	if (!was_locked)
		mailbox_unlock(mb);
	free(x.g);
	str_free(&x.names);
	str_free(&x.lost);
	return rc;
}

/* ---- compaction ---- */

int
mailbox_compact_due(const struct index_header *h)
{
	return h->count > 0 &&
	    (uint64_t)(h->count - h->exists) * 4 > (uint64_t)h->count;
}

/* The live records, counters recomputed from them. */
static struct index_record *
compact_records(struct mailbox *mb, struct index_header *h)
{
	struct index_record *recs = calloc((size_t)mb->hdr.count + 1,
	    sizeof(*recs));
	uint32_t seq, k = 0;

	if (recs == NULL)
		return NULL;
	h->exists = h->unseen = h->deleted = 0;
	h->total_size = 0;
	for (seq = 0; seq < mb->hdr.count; seq++) {
		struct index_record r;

		if (index_get(mb->ix, seq, &r) < 0) {
			free(recs);
			return NULL;
		}
		if (r.flags & REC_EXPUNGED)
			continue;
		recs[k++] = r;
		mailbox_count(h, NULL, &r);
	}
	h->count = k;
	return recs;
}

int
mailbox_compact_locked(struct mailbox *mb, struct str *err)
{
	struct str path = STR_INIT;
	struct index_header h = mb->hdr;
	struct index_record *recs;
	int rc = -1;

	recs = compact_records(mb, &h);
	if (recs == NULL || mailbox_path(mb, "zest.index", &path) < 0)
		goto fail;
	h.flags &= ~IDX_OBSOLETE;
	h.generation++;
	/* Obsolete first: a reader that sees the flag reopens by name and,
	 * finding the old file still there, waits for our lock. */
	if (index_mark_obsolete(mb->ix) < 0)
		goto fail;
	if (index_create(path.s, &h, recs, h.count) < 0) {
		int saved = errno;

		index_commit(mb->ix, &mb->hdr);	/* the old file stays good */
		errno = saved;
		goto fail;
	}
	rc = fs_fsync_dir(mb->dir);
	if (rc < 0)
		str_appendf(err, "%s: fsync: %s", mb->dir, strerror(errno));
	/* the new file is in place either way: use it */
	if (mailbox_load(mb, err) < 0)
		rc = -1;
	goto out;
fail:
	str_appendf(err, "%s: compact: %s", mb->dir, strerror(errno));
out:
	free(recs);
	str_free(&path);
	return rc;
}

void
mailbox_compact_quietly(struct mailbox *mb)
{
	struct str err = STR_INIT;

	(void)mailbox_compact_locked(mb, &err);
	str_free(&err);
}

int
mailbox_compact(struct mailbox *mb, struct str *err)
{
	int was_locked = mb->locked, rc = 0;

	if (!was_locked && mailbox_lock(mb) < 0) {
		str_appendf(err, "%s: cannot lock: %s", mb->dir, strerror(errno));
		return -1;
	}
	rc = mailbox_refresh(mb, err);
	if (rc == 0 && mb->hdr.count != mb->hdr.exists)
		rc = mailbox_compact_locked(mb, err);
	if (!was_locked)
		mailbox_unlock(mb);
	return rc;
}
