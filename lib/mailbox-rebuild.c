/* SPDX-License-Identifier: ISC */
/*
 * mailbox_reconstruct: every index file of a Maildir rebuilt from the
 * message files, keeping the UIDs (and flags, keywords, dates) that an
 * earlier index recorded, or else a dovecot-uidlist, or else the ,U= field
 * Zest's deliver writes into each name.
 */
#include "mailbox-private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "fs.h"
#include "maildir.h"
#include "tomb.h"

/* What an earlier index knew of one message, by its base name. */
struct oldmsg {
	char *base;
	struct index_record r;
};

struct old {
	struct oldmsg *m;
	size_t n, cap;
	struct index_header h;
	int have_h;
	struct mbmeta meta;
	int have_meta;
	uint32_t max_tomb_uid;
	uint64_t max_tomb_modseq;
	uint32_t *tomb_uids;	/* expunged UIDs, sorted: never given again */
	size_t ntomb, tomb_cap;
};

static int
old_add(struct old *o, const char *base, size_t bl,
    const struct index_record *r)
{
	if (o->n == o->cap) {
		size_t nc = o->cap ? o->cap * 2 : 256;
		struct oldmsg *m = reallocarray(o->m, nc, sizeof(*m));

		if (m == NULL)
			return -1;
		o->m = m;
		o->cap = nc;
	}
	o->m[o->n].base = strndup(base, bl);
	if (o->m[o->n].base == NULL)
		return -1;
	o->m[o->n].r = *r;
	o->n++;
	return 0;
}

static int
oldmsg_cmp(const void *a, const void *b)
{
	return strcmp(((const struct oldmsg *)a)->base,
	    ((const struct oldmsg *)b)->base);
}

static const struct index_record *
old_find(const struct old *o, const char *base, size_t bl)
{
	size_t lo = 0, hi = o->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strncmp(o->m[mid].base, base, bl);

		if (c == 0 && o->m[mid].base[bl] != '\0')
			c = 1;
		if (c == 0)
			return &o->m[mid].r;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int
tomb_max(const struct tomb *t, void *arg)
{
	struct old *o = arg;

	if (t->uid > o->max_tomb_uid)
		o->max_tomb_uid = t->uid;
	if (t->modseq > o->max_tomb_modseq)
		o->max_tomb_modseq = t->modseq;
	if (o->ntomb == o->tomb_cap) {
		size_t nc = o->tomb_cap ? o->tomb_cap * 2 : 256;
		uint32_t *v = reallocarray(o->tomb_uids, nc, sizeof(*v));

		if (v == NULL)
			return 0;	/* only the check below is lost */
		o->tomb_uids = v;
		o->tomb_cap = nc;
	}
	o->tomb_uids[o->ntomb++] = t->uid;
	return 0;
}

static int
uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Was uid expunged?  A file left behind by an expunge that did not finish
 * (or one that came back) must not get its old UID again: clients were
 * told it vanished. */
static int
old_tombstoned(const struct old *o, uint32_t uid)
{
	return o->ntomb > 0 && bsearch(&uid, o->tomb_uids, o->ntomb,
	    sizeof(uid), uid_cmp) != NULL;
}

/* Whatever of the old index still checks: every record with a good CRC
 * whose name can be read from the old cache. */
static void
old_read_index(const char *dir, struct old *o)
{
	struct str p = STR_INIT, name = STR_INIT;
	struct index *ix = NULL;
	struct cache *c = NULL;
	uint32_t uv, seq, nrec;

	str_appendf(&p, "%s/zest.index", dir);
	if (index_open(p.s, 0, &ix) < 0)
		goto out;
	if (index_read_header(ix, &o->h) == 0 || errno == ESTALE)
		o->have_h = 1;
	uv = o->have_h ? o->h.uidvalidity :
	    o->have_meta ? o->meta.uidvalidity : 0;
	str_clear(&p);
	str_appendf(&p, "%s/zest.cache", dir);
	if (uv == 0 || cache_open(p.s, 0, 0, uv, &c) < 0)
		goto out;
	nrec = index_file_records(ix);
	for (seq = 0; seq < nrec; seq++) {
		struct index_record r;
		const unsigned char *pl, *d;
		size_t pn, dn;
		const char *b, *colon;

		if (index_get(ix, seq, &r) < 0 || (r.flags & REC_EXPUNGED))
			continue;
		str_clear(&name);
		if (r.name_off == r.cache_off) {
			if (cache_read(c, r.cache_off, CACHE_T_MESSAGE, r.uid,
			    &pl, &pn) < 0 ||
			    cache_item_find(pl, pn, CI_NAME, &d, &dn) != 1)
				continue;
		} else if (cache_read(c, r.name_off, CACHE_T_NAME, r.uid,
		    &d, &dn) < 0)
			continue;
		if (dn < 5 || str_append(&name, d, dn) < 0)
			continue;
		b = name.s + 4;
		colon = strchr(b, ':');
		if (old_add(o, b, colon ? (size_t)(colon - b) : strlen(b), &r) < 0)
			break;
	}
out:
	cache_close(&c);
	index_close(&ix);
	str_free(&p);
	str_free(&name);
}

/* dovecot-uidlist (versions 1 and 3), for mailboxes that come from
 * Dovecot: "3 V<uidvalidity> N<next> ..." then "<uid> [ext...] :<name>". */
static void
old_read_dovecot(const char *dir, struct old *o)
{
	struct str p = STR_INIT;
	char line[8192];
	FILE *f;
	unsigned long v, nx;
	int version = 0;

	str_appendf(&p, "%s/dovecot-uidlist", dir);
	f = fopen(p.s, "re");
	str_free(&p);
	if (f == NULL)
		return;
	if (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "3 V%lu N%lu", &v, &nx) == 2)
			version = 3;
		else if (sscanf(line, "1 %lu %lu", &v, &nx) == 2)
			version = 1;
	}
	if (version != 0 && !o->have_h && !o->have_meta && v > 0 &&
	    v <= UINT32_MAX) {
		memset(&o->h, 0, sizeof(o->h));
		o->h.uidvalidity = (uint32_t)v;
		o->h.uidnext = nx <= UINT32_MAX ? (uint32_t)nx : 1;
		o->have_h = 1;
	}
	while (version != 0 && fgets(line, sizeof(line), f) != NULL) {
		struct index_record r;
		char *name, *end;
		unsigned long uid = strtoul(line, &end, 10);

		name = version == 3 ? strstr(end, " :") : end;
		if (uid == 0 || uid > UINT32_MAX || name == NULL)
			continue;
		name += version == 3 ? 2 : 1;
		name[strcspn(name, ":\r\n")] = '\0';
		memset(&r, 0, sizeof(r));
		r.uid = (uint32_t)uid;
		if (*name != '\0' && old_find(o, name, strlen(name)) == NULL &&
		    old_add(o, name, strlen(name), &r) < 0)
			break;
	}
	fclose(f);
}

/* Keep candidate UIDs that are unique; the rest get new ones after all.
 * l->k ends in UID order. */
static void
rebuild_assign(struct mailbox_scan *l, uint32_t *next_r,
    struct mailbox_rebuild_stats *st)
{
	struct mailbox_scan_key *k = l->k;
	uint32_t last = 0, next = *next_r;
	size_t i, n = l->n;
	int dropped = 0;

	mailbox_scan_sort(l);
	for (i = 0; i < n; i++)
		if (k[i].uid != UINT32_MAX && k[i].uid >= next)
			next = k[i].uid + 1;
	for (i = 0; i < n; i++) {
		if (k[i].uid != UINT32_MAX && k[i].uid > last) {
			last = k[i].uid;
			st->kept_uids++;
		} else {
			dropped |= k[i].uid != UINT32_MAX;
			k[i].uid = UINT32_MAX;
			l->f[k[i].i].old = NULL;
		}
	}
	/* Sorting put the unassigned ones last, in name order: numbered in
	 * that order they stay in UID order, unless a duplicate was dropped
	 * in the middle. */
	for (i = 0; i < n; i++)
		if (k[i].uid == UINT32_MAX) {
			k[i].uid = next++;
			st->new_uids++;
		}
	if (dropped)
		mailbox_scan_sort(l);
	*next_r = next;
}

/* The record of file f (UID uid); its cache entry, a NAME or, for a file
 * that needed the parse, a MESSAGE, added to w.  0, 1 when the file went
 * meanwhile, -1. */
static int
rebuild_record(struct mailbox *mb, struct index_header *h,
    struct cache_writer *w, const struct mailbox_scan_file *f,
    const char *name,
    uint32_t uid, struct index_record *r)
{
	struct str path = STR_INIT, payload = STR_INIT;
	uint64_t wire = f->wire, end;
	int raw = 0, rc = -1;

	if (f->quick < 0)
		return 1;	/* went between the readdir and its fstatat */
	if (!f->quick) {
		/* CR bytes: the parse says whether it is kept raw */
		if (mailbox_path(mb, name, &path) < 0)
			goto out;
		if (mailbox_parse_file(path.s, &payload, &raw, &wire) < 0) {
			rc = errno == ENOENT ? 1 : -1;
			goto out;
		}
	}
	memset(r, 0, sizeof(*r));
	r->uid = uid;
	if (f->old != NULL && f->old->modseq != 0) {
		r->flags = f->old->flags & MAIL_FLAGS_MASK;
		r->keywords = f->old->keywords;
		r->modseq = f->old->modseq;
		r->internal_date = f->old->internal_date;
	} else {
		r->internal_date = f->mtime;
		r->flags = f->flags;
		r->modseq = h->highestmodseq + 1;
	}
	r->flags |= (raw ? REC_RAW : 0) | (f->in_new ? REC_IN_NEW : 0);
	r->size = wire;
	if (f->quick) {
		/* only the name now; the entry on first use */
		if (cache_writer_add(w, CACHE_T_NAME, uid, name, f->len,
		    &r->name_off) < 0)
			goto out;
		end = cache_entry_end(r->name_off, f->len);
	} else {
		if (cache_item_add(&payload, CI_NAME, name, f->len) < 0 ||
		    cache_writer_add(w, CACHE_T_MESSAGE, uid, payload.s,
		    payload.len, &r->cache_off) < 0)
			goto out;
		r->name_off = r->cache_off;
		end = cache_entry_end(r->cache_off, payload.len);
	}
	if (end > h->cache_end)
		h->cache_end = end;
	rc = 0;
out:
	str_free(&path);
	str_free(&payload);
	return rc;
}

#define REBUILD_AHEAD 8

/* Build the new cache and index beside the old ones, then swap them in. */
static int
rebuild_write(struct mailbox *mb, struct index_header *h,
    struct mailbox_scan *l, struct str *err)
{
	struct str cpath = STR_INIT, tmp = STR_INIT, ipath = STR_INIT;
	struct index_record *recs = calloc(l->n + 1, sizeof(*recs));
	struct cache_writer *w = NULL;
	struct index *oldix = NULL;
	size_t i;
	int rc = -1;

	mailbox_path(mb, "zest.cache", &cpath);
	mailbox_path(mb, "zest.index", &ipath);
	str_appendf(&tmp, "%s.new", cpath.s);
	unlink(tmp.s);
	if (recs == NULL ||
	    cache_writer_open(tmp.s, h->uidvalidity, &w) < 0) {
		str_appendf(err, "%s: %s", tmp.s, strerror(errno));
		goto out;
	}
	for (i = 0; i < l->n; i++) {
		const struct mailbox_scan_key *k = &l->k[i];
		struct index_record *r = &recs[h->count];
		int gone;

		/* in UID order, the files and names are all over memory:
		 * fetch some ahead so the cache misses overlap */
		if (i + REBUILD_AHEAD < l->n) {
			const struct mailbox_scan_key *a =
			    &l->k[i + REBUILD_AHEAD];
			const char *fa = (const char *)&l->f[a->i];

			__builtin_prefetch(fa);
			__builtin_prefetch(fa + sizeof(*l->f) - 1);
			__builtin_prefetch(l->arena.s + a->off);
			__builtin_prefetch(l->arena.s + a->off + 64);
		}
		gone = rebuild_record(mb, h, w, &l->f[k->i],
		    mailbox_scan_name(l, k), k->uid, r);
		if (gone < 0) {
			str_appendf(err, "%s: %s", mailbox_scan_name(l, k),
			    strerror(errno));
			goto out;
		}
		if (gone)
			continue;
		mailbox_count(h, NULL, r);
		mailbox_digest_add(h, mailbox_scan_name(l, k), l->f[k->i].len,
		    1);
		h->count++;
	}
	for (i = 0; i < h->count; i++)
		if (recs[i].modseq > h->highestmodseq)
			h->highestmodseq = recs[i].modseq;
	h->highestmodseq++;	/* changes from here on are new */
	if (cache_writer_finish(w) < 0 || rename(tmp.s, cpath.s) < 0) {
		str_appendf(err, "%s: %s", cpath.s, strerror(errno));
		goto out;
	}
	if (index_open(ipath.s, 1, &oldix) == 0) {
		index_mark_obsolete(oldix);
		index_close(&oldix);
	}
	if (index_create(ipath.s, h, recs, h->count) < 0 ||
	    fs_fsync_dir(mb->dir) < 0) {
		str_appendf(err, "%s: %s", ipath.s, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	cache_writer_free(&w);
	if (rc < 0)
		unlink(tmp.s);
	free(recs);
	str_free(&cpath);
	str_free(&tmp);
	str_free(&ipath);
	return rc;
}

static void
old_free(struct old *o)
{
	size_t i;

	for (i = 0; i < o->n; i++)
		free(o->m[i].base);
	free(o->m);
	free(o->tomb_uids);
	mbmeta_free(&o->meta);
}

/* What the old files say: keywords, UIDs by name, UIDVALIDITY, UIDNEXT
 * and HIGHESTMODSEQ (above every tombstone), into o, h and *next_r. */
static void
old_load(const char *dir, struct old *o, struct index_header *h,
    uint32_t *next_r)
{
	struct str p = STR_INIT;
	uint32_t next;

	str_appendf(&p, "%s/zest.header", dir);
	o->have_meta = mbmeta_read(p.s, &o->meta) == 0;
	old_read_index(dir, o);
	if (o->n > 1)
		qsort(o->m, o->n, sizeof(*o->m), oldmsg_cmp);
	old_read_dovecot(dir, o);
	if (o->n > 1)
		qsort(o->m, o->n, sizeof(*o->m), oldmsg_cmp);

	memset(h, 0, sizeof(*h));
	h->uidvalidity = o->have_h ? o->h.uidvalidity :
	    o->have_meta ? o->meta.uidvalidity : (uint32_t)time(NULL);
	if (h->uidvalidity == 0)
		h->uidvalidity = 1;
	str_clear(&p);
	str_appendf(&p, "%s/zest.expunged", dir);
	tomb_scan(p.s, h->uidvalidity, 0, tomb_max, o);
	if (o->ntomb > 1)
		qsort(o->tomb_uids, o->ntomb, sizeof(*o->tomb_uids), uid_cmp);
	next = o->have_h && o->h.uidnext > 0 ? o->h.uidnext : 1;
	if (next <= o->max_tomb_uid)
		next = o->max_tomb_uid + 1;
	h->highestmodseq = o->have_h ? o->h.highestmodseq : 0;
	if (h->highestmodseq < o->max_tomb_modseq)
		h->highestmodseq = o->max_tomb_modseq;
	h->generation = o->have_h ? o->h.generation + 1 : 1;
	h->flags |= IDX_DIGESTS;	/* summed as the records are made */
	*next_r = next;
	str_free(&p);
}

/* The files of new/ and cur/ (whose states go to h) with their UIDs. */
static int
rebuild_scan(const char *dir, const struct old *o, struct index_header *h,
    uint32_t *next_r, struct mailbox_scan *sc,
    struct mailbox_rebuild_stats *st_r, struct str *err)
{
	struct str p = STR_INIT;
	struct stat st[2];
	size_t i;
	int rc = -1;

	for (i = 0; i < 2; i++) {
		str_clear(&p);
		str_appendf(&p, "%s/%s", dir, i == 0 ? "new" : "cur");
		if (stat(p.s, &st[i]) < 0) {
			str_appendf(err, "%s: %s", p.s, strerror(errno));
			goto out;
		}
	}
	if (mailbox_scan_names(sc, dir, err) < 0)
		goto out;
	/* the inodes on other threads while this one numbers the files */
	mailbox_scan_stat_start(sc);
	for (i = 0; i < sc->n; i++) {
		struct mailbox_scan_file *f = &sc->f[i];
		uint32_t *uid = &sc->k[i].uid;

		f->old = o->n > 0 ? old_find(o, sc->arena.s + f->off + 4,
		    f->base_len) : NULL;
		*uid = f->old ? f->old->uid :
		    f->name_uid != 0 ? f->name_uid : UINT32_MAX;
		if (*uid != UINT32_MAX && old_tombstoned(o, *uid))
			*uid = UINT32_MAX;
	}
	rebuild_assign(sc, next_r, st_r);
	if (mailbox_scan_stat_finish(sc, dir, err) < 0)
		goto out;
	mailbox_dir_mtime_store(h, 1, &st[0]);
	mailbox_dir_mtime_store(h, 0, &st[1]);
	rc = 0;
out:
	str_free(&p);
	return rc;
}

int
mailbox_rebuild_locked(const char *dir, struct mailbox_rebuild_stats *st_r,
    struct str *err)
{
	struct mailbox mb;
	struct old o;
	struct index_header h;
	struct mailbox_scan sc = MAILBOX_SCAN_INIT;
	uint32_t next;
	int rc = -1;

	memset(&mb, 0, sizeof(mb));
	memset(&o, 0, sizeof(o));
	memset(st_r, 0, sizeof(*st_r));
	mb.dir = (char *)dir;
	old_load(dir, &o, &h, &next);
	if (rebuild_scan(dir, &o, &h, &next, &sc, st_r, err) < 0)
		goto out;
	h.uidnext = next;
	h.first_recent_uid = next;

	/* The header file: keep guid and keywords when they were readable. */
	if (o.have_meta && o.meta.uidvalidity == h.uidvalidity) {
		mb.meta = o.meta;
		memset(&o.meta, 0, sizeof(o.meta));
	} else if (mbmeta_init(&mb.meta, h.uidvalidity) < 0)
		goto out;
	mb.meta.uidvalidity = h.uidvalidity;
	if (mailbox_meta_save(&mb) < 0) {
		str_appendf(err, "%s/zest.header: %s", dir, strerror(errno));
		goto out;
	}
	if (rebuild_write(&mb, &h, &sc, err) < 0)
		goto out;
	st_r->messages = h.count;
	st_r->uidvalidity = h.uidvalidity;
	rc = 0;
out:
	mailbox_scan_free(&sc);
	mbmeta_free(&mb.meta);
	old_free(&o);
	return rc;
}

int
mailbox_reconstruct(const char *dir, unsigned lock_timeout,
    struct mailbox_rebuild_stats *st_r, struct str *err)
{
	struct mailbox mb;
	struct str p = STR_INIT;
	int rc;

	if (!maildir_exists(dir)) {
		str_appendf(err, "%s: not a Maildir", dir);
		errno = ENOENT;
		return -1;
	}
	memset(&mb, 0, sizeof(mb));
	mb.lock_timeout = lock_timeout;
	str_appendf(&p, "%s/zest.lock", dir);
	mb.lock_fd = open(p.s, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	str_free(&p);
	if (mb.lock_fd < 0 || mailbox_lock(&mb) < 0) {
		str_appendf(err, "%s: cannot lock: %s", dir, strerror(errno));
		if (mb.lock_fd >= 0)
			close(mb.lock_fd);
		return -1;
	}
	rc = mailbox_rebuild_locked(dir, st_r, err);
	mailbox_unlock(&mb);
	close(mb.lock_fd);
	return rc;
}
