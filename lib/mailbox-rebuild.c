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

struct rent {
	char *name;		/* "new/..." or "cur/..." */
	uint32_t uid;		/* candidate, then assigned */
	const struct index_record *old;
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

static int
rent_cmp(const void *a, const void *b)
{
	const struct rent *x = a, *y = b;

	if (x->uid != y->uid)
		return x->uid < y->uid ? -1 : 1;
	return strcmp(x->name + 4, y->name + 4);
}

static int
rebuild_list(const char *dir, const struct old *o, struct rent **e_r,
    size_t *n_r)
{
	static const char *const sub[] = { "new", "cur" };
	struct str p = STR_INIT;
	struct rent *e = NULL;
	size_t n = 0, cap = 0, i;

	for (i = 0; i < 2; i++) {
		struct dirent *d;
		DIR *dp;

		str_clear(&p);
		str_appendf(&p, "%s/%s", dir, sub[i]);
		if ((dp = opendir(p.s)) == NULL)
			goto fail;
		while ((d = readdir(dp)) != NULL) {
			struct maildir_name mn;

			if (maildir_name_parse(d->d_name, &mn) < 0)
				continue;
			if (n == cap) {
				struct rent *ne;

				cap = cap ? cap * 2 : 1024;
				ne = reallocarray(e, cap, sizeof(*e));
				if (ne == NULL) {
					closedir(dp);
					goto fail;
				}
				e = ne;
			}
			if (asprintf(&e[n].name, "%s/%s", sub[i], d->d_name) < 0) {
				closedir(dp);
				goto fail;
			}
			e[n].old = old_find(o, d->d_name, mn.base_len);
			e[n].uid = e[n].old ? e[n].old->uid :
			    mn.has_uid ? mn.uid : UINT32_MAX;
			if (e[n].uid != UINT32_MAX && old_tombstoned(o, e[n].uid))
				e[n].uid = UINT32_MAX;
			n++;
		}
		closedir(dp);
	}
	str_free(&p);
	*e_r = e;
	*n_r = n;
	return 0;
fail:
	str_free(&p);
	while (n > 0)
		free(e[--n].name);
	free(e);
	return -1;
}

/* Keep candidate UIDs that are unique; the rest get new ones after all. */
static void
rebuild_assign(struct rent *e, size_t n, uint32_t *next_r,
    struct mailbox_rebuild_stats *st)
{
	uint32_t last = 0, next = *next_r;
	size_t i;

	if (n > 1)
		qsort(e, n, sizeof(*e), rent_cmp);
	for (i = 0; i < n; i++)
		if (e[i].uid != UINT32_MAX && e[i].uid >= next)
			next = e[i].uid + 1;
	for (i = 0; i < n; i++) {
		if (e[i].uid != UINT32_MAX && e[i].uid > last) {
			last = e[i].uid;
			st->kept_uids++;
		} else {
			e[i].uid = UINT32_MAX;
			e[i].old = NULL;
		}
	}
	/* Sorting put the unassigned ones last, in name order. */
	for (i = 0; i < n; i++)
		if (e[i].uid == UINT32_MAX) {
			e[i].uid = next++;
			st->new_uids++;
		}
	if (n > 1)
		qsort(e, n, sizeof(*e), rent_cmp);
	*next_r = next;
}

/* Build the new cache and index beside the old ones, then swap them in. */
static int
rebuild_write(struct mailbox *mb, struct index_header *h, struct rent *e,
    size_t n, struct str *err)
{
	struct str cpath = STR_INIT, tmp = STR_INIT, ipath = STR_INIT;
	struct index_record *recs = calloc(n + 1, sizeof(*recs));
	struct index *oldix = NULL;
	size_t i;
	int rc = -1;

	mailbox_path(mb, "zest.cache", &cpath);
	mailbox_path(mb, "zest.index", &ipath);
	str_appendf(&tmp, "%s.new", cpath.s);
	unlink(tmp.s);
	if (recs == NULL ||
	    cache_open(tmp.s, 1, 1, h->uidvalidity, &mb->cache) < 0) {
		str_appendf(err, "%s: %s", tmp.s, strerror(errno));
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct str path = STR_INIT, payload = STR_INIT;
		struct index_record *r = &recs[h->count];
		struct maildir_name mn;
		struct stat st;
		uint64_t wire;
		int raw = 0, quick = -1;

		/* the record from the name and inode; the parse only for a
		 * file with CR bytes (mailbox-lazy.c) */
		maildir_name_parse(e[i].name + 4, &mn);
		mailbox_path(mb, e[i].name, &path);
		if (stat(path.s, &st) == 0) {
			quick = mailbox_quick_size(path.s, &mn, &st, &wire);
			if (quick == 0 && mailbox_parse_file(path.s, &payload,
			    &raw, &wire) < 0)
				quick = -1;
		}
		if (quick < 0) {
			int gone = errno == ENOENT;

			str_free(&path);
			str_free(&payload);
			if (gone)
				continue;
			str_appendf(err, "%s: %s", e[i].name, strerror(errno));
			goto out;
		}
		memset(r, 0, sizeof(*r));
		r->uid = e[i].uid;
		if (e[i].old != NULL && e[i].old->modseq != 0) {
			r->flags = e[i].old->flags & MAIL_FLAGS_MASK;
			r->keywords = e[i].old->keywords;
			r->modseq = e[i].old->modseq;
			r->internal_date = e[i].old->internal_date;
		} else {
			r->internal_date = st.st_mtim.tv_sec;
			if (e[i].name[0] == 'c' && mn.has_info)
				r->flags = maildir_name_flags(e[i].name + 4, &mn);
		}
		r->flags |= (raw ? REC_RAW : 0) |
		    (e[i].name[0] == 'n' ? REC_IN_NEW : 0);
		r->size = wire;
		if (r->modseq == 0)
			r->modseq = h->highestmodseq + 1;
		if (quick == 1) {
			/* only the name now; the entry on first use */
			if (cache_append(mb->cache, CACHE_T_NAME, r->uid,
			    e[i].name, strlen(e[i].name), &r->name_off) < 0) {
				str_appendf(err, "%s: %s", tmp.s,
				    strerror(errno));
				str_free(&path);
				str_free(&payload);
				goto out;
			}
			r->cache_off = 0;
			h->cache_end = cache_entry_end(r->name_off,
			    strlen(e[i].name));
		} else if (cache_item_add(&payload, CI_NAME, e[i].name,
		    strlen(e[i].name)) < 0 ||
		    cache_append(mb->cache, CACHE_T_MESSAGE, r->uid, payload.s,
		    payload.len, &r->cache_off) < 0) {
			str_appendf(err, "%s: %s", tmp.s, strerror(errno));
			str_free(&path);
			str_free(&payload);
			goto out;
		} else {
			r->name_off = r->cache_off;
			h->cache_end = cache_entry_end(r->cache_off,
			    payload.len);
		}
		mailbox_count(h, NULL, r);
		h->count++;
		str_free(&path);
		str_free(&payload);
	}
	for (i = 0; i < h->count; i++)
		if (recs[i].modseq > h->highestmodseq)
			h->highestmodseq = recs[i].modseq;
	h->highestmodseq++;	/* changes from here on are new */
	if (cache_sync(mb->cache) < 0 || rename(tmp.s, cpath.s) < 0) {
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
	if (rc < 0)
		unlink(tmp.s);
	cache_close(&mb->cache);
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

int
mailbox_rebuild_locked(const char *dir, struct mailbox_rebuild_stats *st_r,
    struct str *err)
{
	struct mailbox mb;
	struct old o;
	struct index_header h;
	struct rent *e = NULL;
	struct str p = STR_INIT;
	struct stat st_new, st_cur;
	size_t n = 0, i;
	uint32_t next;
	int rc = -1;

	memset(&mb, 0, sizeof(mb));
	memset(&o, 0, sizeof(o));
	memset(st_r, 0, sizeof(*st_r));
	mb.dir = (char *)dir;
	str_appendf(&p, "%s/zest.header", dir);
	o.have_meta = mbmeta_read(p.s, &o.meta) == 0;
	old_read_index(dir, &o);
	if (o.n > 1)
		qsort(o.m, o.n, sizeof(*o.m), oldmsg_cmp);
	old_read_dovecot(dir, &o);
	if (o.n > 1)
		qsort(o.m, o.n, sizeof(*o.m), oldmsg_cmp);

	memset(&h, 0, sizeof(h));
	h.uidvalidity = o.have_h ? o.h.uidvalidity :
	    o.have_meta ? o.meta.uidvalidity : (uint32_t)time(NULL);
	if (h.uidvalidity == 0)
		h.uidvalidity = 1;
	str_clear(&p);
	str_appendf(&p, "%s/zest.expunged", dir);
	tomb_scan(p.s, h.uidvalidity, 0, tomb_max, &o);
	if (o.ntomb > 1)
		qsort(o.tomb_uids, o.ntomb, sizeof(*o.tomb_uids), uid_cmp);
	next = o.have_h && o.h.uidnext > 0 ? o.h.uidnext : 1;
	if (next <= o.max_tomb_uid)
		next = o.max_tomb_uid + 1;
	h.highestmodseq = o.have_h ? o.h.highestmodseq : 0;
	if (h.highestmodseq < o.max_tomb_modseq)
		h.highestmodseq = o.max_tomb_modseq;
	h.generation = o.have_h ? o.h.generation + 1 : 1;

	str_clear(&p);
	str_appendf(&p, "%s/new", dir);
	if (stat(p.s, &st_new) < 0) {
		str_appendf(err, "%s: %s", p.s, strerror(errno));
		goto out;
	}
	str_clear(&p);
	str_appendf(&p, "%s/cur", dir);
	if (stat(p.s, &st_cur) < 0 || rebuild_list(dir, &o, &e, &n) < 0) {
		str_appendf(err, "%s: %s", p.s, strerror(errno));
		goto out;
	}
	rebuild_assign(e, n, &next, st_r);
	h.uidnext = next;
	h.first_recent_uid = next;
	mailbox_dir_mtime_store(&h, 1, &st_new);
	mailbox_dir_mtime_store(&h, 0, &st_cur);

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
	if (rebuild_write(&mb, &h, e, n, err) < 0)
		goto out;
	st_r->messages = h.count;
	st_r->uidvalidity = h.uidvalidity;
	rc = 0;
out:
	for (i = 0; i < n; i++)
		free(e[i].name);
	free(e);
	mbmeta_free(&mb.meta);
	old_free(&o);
	str_free(&p);
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
