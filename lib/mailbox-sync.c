/* SPDX-License-Identifier: ISC */
/*
 * Keeping the index true to the Maildir: mailbox_sync (cheap, incremental:
 * only directories whose mtime moved are read) and the full rebuild behind
 * mailbox_reconstruct.
 */
#include "mailbox-private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"
#include "maildir.h"
#include "msgcache.h"
#include "tomb.h"

/* ---- a listing of new/ and cur/: names in an arena ---- */

struct ent {
	size_t off;		/* of "new/NAME" or "cur/NAME" in the arena */
	size_t base_len;	/* of BASE */
	size_t len;		/* of "new/NAME" */
	uint32_t uid;		/* candidate or assigned */
	uint32_t seq;		/* matched record, UINT32_MAX none */
	int in_new;
};

struct listing {
	struct str arena;
	struct ent *e;
	size_t n, cap;
};

static void
listing_free(struct listing *l)
{
	str_free(&l->arena);
	free(l->e);
	memset(l, 0, sizeof(*l));
}

static int
listing_add(struct listing *l, int in_new, const char *name)
{
	struct maildir_name mn;
	struct ent *e;

	if (maildir_name_parse(name, &mn) < 0)
		return 0;	/* not a message file: skip */
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 256;

		e = reallocarray(l->e, nc, sizeof(*e));
		if (e == NULL)
			return -1;
		l->e = e;
		l->cap = nc;
	}
	e = &l->e[l->n];
	e->off = l->arena.len;
	e->base_len = mn.base_len;
	e->len = strlen(name) + 4;
	e->uid = mn.has_uid ? mn.uid : 0;
	e->seq = UINT32_MAX;
	e->in_new = in_new;
	if (str_appends(&l->arena, in_new ? "new/" : "cur/") < 0 ||
	    str_append(&l->arena, name, strlen(name) + 1) < 0)
		return -1;
	l->n++;
	return 0;
}

static const char *
ent_name(const struct listing *l, const struct ent *e)
{
	return l->arena.s + e->off;	/* "new/..." */
}

static int
listing_read(struct listing *l, const char *dir, int in_new)
{
	struct str p = STR_INIT;
	struct dirent *d;
	DIR *dp;
	int rc = 0;

	if (str_appendf(&p, "%s/%s", dir, in_new ? "new" : "cur") < 0)
		return -1;
	dp = opendir(p.s);
	str_free(&p);
	if (dp == NULL)
		return -1;
	errno = 0;
	while (rc == 0 && (d = readdir(dp)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		rc = listing_add(l, in_new, d->d_name);
	}
	if (rc == 0 && errno != 0)
		rc = -1;
	closedir(dp);
	return rc;
}

/* ---- base name -> record number, open addressing ---- */

/* The records' file names ("new/..." or "cur/...") back to back in the
 * arena; a slot keys one by its BASE. */
struct basemap {
	struct str arena;
	struct slot {
		uint64_t hash;	/* of BASE */
		size_t off;	/* of the name in the arena, + 1; 0 = empty */
		uint32_t len;	/* of the name */
		uint32_t blen;	/* of its BASE */
		uint32_t val;	/* record number */
	} *slot;
	size_t cap;
};

static int
basemap_init(struct basemap *m, size_t n)
{
	memset(m, 0, sizeof(*m));
	m->cap = 64;
	while (m->cap < n * 2 + 16)
		m->cap *= 2;
	m->slot = calloc(m->cap, sizeof(*m->slot));
	return m->slot != NULL ? 0 : -1;
}

static void
basemap_free(struct basemap *m)
{
	str_free(&m->arena);
	free(m->slot);
	memset(m, 0, sizeof(*m));
}

/* BASE of a "new/..." or "cur/..." name of n bytes. */
static size_t
name_base_len(const char *name, size_t n)
{
	const char *c = memchr(name + 4, ':', n - 4);

	return c ? (size_t)(c - name - 4) : n - 4;
}

/* The slot of the BASE b (bl bytes, hash h): its own or the empty one. */
static size_t
basemap_slot(const struct basemap *m, const char *b, size_t bl, uint64_t h)
{
	size_t i = (size_t)h & (m->cap - 1);

	for (;; i = (i + 1) & (m->cap - 1)) {
		const struct slot *sl = &m->slot[i];
		const char *o;

		if (sl->off == 0)
			return i;
		o = m->arena.s + sl->off - 1;
		if (sl->hash == h && sl->blen == bl &&
		    memcmp(o + 4, b, bl) == 0)
			return i;
	}
}

/* Insert the name of record v; a base seen twice keeps its first record.
 * (Capacity was sized for every insert at init.) */
static int
basemap_put(struct basemap *m, const char *name, size_t n, uint32_t v)
{
	size_t bl = name_base_len(name, n);
	uint64_t h = mailbox_name_hash(name + 4, bl);
	size_t i = basemap_slot(m, name + 4, bl, h);

	if (m->slot[i].off != 0)
		return 0;
	m->slot[i].hash = h;
	m->slot[i].off = m->arena.len + 1;
	m->slot[i].len = (uint32_t)n;
	m->slot[i].blen = (uint32_t)bl;
	m->slot[i].val = v;
	return str_append(&m->arena, name, n);
}

/* The record of name's BASE (bl bytes), with the record's own name. */
static int
basemap_get(const struct basemap *m, const char *name, size_t bl,
    uint32_t *v_r, const char **rname_r, size_t *rlen_r)
{
	size_t i = basemap_slot(m, name + 4, bl,
	    mailbox_name_hash(name + 4, bl));

	if (m->slot[i].off == 0)
		return 0;
	*v_r = m->slot[i].val;
	*rname_r = m->arena.s + m->slot[i].off - 1;
	*rlen_r = m->slot[i].len;
	return 1;
}

/* ---- parsing a file that arrived by other means ---- */

/* Feed fd's bytes to a new parser as wire form: raw as they are, else with
 * every LF made CRLF.  Notes whether the file has CRLF and bare LF. */
static int
parse_pass(int fd, int raw, struct str *payload, int *crlf_r, int *bare_r,
    uint64_t *wire_r)
{
	unsigned char in[32768], out[65536];
	struct msgcache *mc = msgcache_new();
	unsigned char prev = 0;
	uint64_t wire = 0;
	ssize_t n;
	int rc = -1;

	if (mc == NULL || lseek(fd, 0, SEEK_SET) < 0)
		goto out;
	while ((n = read(fd, in, sizeof(in))) > 0) {
		const unsigned char *p = in, *end = in + n, *lf;
		size_t o = 0;

		while ((lf = memchr(p, '\n', (size_t)(end - p))) != NULL) {
			size_t k = (size_t)(lf - p);
			unsigned char before = k ? lf[-1] : prev;

			if (before == '\r')
				*crlf_r = 1;
			else
				*bare_r = 1;
			memcpy(out + o, p, k);
			o += k;
			if (!raw)
				out[o++] = '\r';
			out[o++] = '\n';
			prev = '\n';
			p = lf + 1;
		}
		if (p < end) {
			memcpy(out + o, p, (size_t)(end - p));
			o += (size_t)(end - p);
			prev = end[-1];
		}
		wire += o;
		if (msgcache_feed(mc, out, o) < 0)
			goto out;
	}
	if (n < 0 || msgcache_finish(mc, raw, payload) < 0)
		goto out;
	*wire_r = wire;
	rc = 0;
out:
	msgcache_free(&mc);
	return rc;
}

int
mailbox_parse_file(const char *path, struct str *payload, int *raw_r,
    uint64_t *wire_size_r)
{
	int fd, crlf = 0, bare = 0, rc;
	size_t mark = payload->len;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	/* Most files are LF text: one pass.  A file whose lines all end in
	 * CRLF is kept as it is (served as-is): parse it again that way. */
	rc = parse_pass(fd, 0, payload, &crlf, &bare, wire_size_r);
	*raw_r = 0;
	if (rc == 0 && crlf && !bare) {
		str_truncate(payload, mark);
		rc = parse_pass(fd, 1, payload, &crlf, &bare, wire_size_r);
		*raw_r = 1;
	}
	close(fd);
	return rc;
}

/* Append a new record for the file of e (in the directory dfd[0] new/ or
 * dfd[1] cur/), its cache entry through w. */
static int
sync_add_file(struct mailbox *mb, struct index_header *h,
    const struct listing *l, const struct ent *e, uint32_t uid,
    const struct index_record *old, const int dfd[2],
    struct cache_writer *w)
{
	struct str path = STR_INIT, payload = STR_INIT;
	const char *name = ent_name(l, e);
	struct index_record r;
	struct maildir_name mn;
	struct stat st;
	int raw = 0, rc = -1, quick = -1;
	uint64_t wire;

	/* the record from the name and inode; the parse only for a file
	 * with CR bytes, else on first use (mailbox-lazy.c) */
	maildir_name_parse(name + 4, &mn);
	if (fstatat(dfd[e->in_new ? 0 : 1], name + 4, &st, 0) == 0) {
		quick = mailbox_quick_size(dfd[e->in_new ? 0 : 1], name + 4,
		    &mn, &st, &wire);
		if (quick == 0 && (mailbox_path(mb, name, &path) < 0 ||
		    mailbox_parse_file(path.s, &payload, &raw, &wire) < 0))
			quick = -1;
	}
	if (quick < 0) {
		rc = errno == ENOENT ? 0 : -1;	/* gone meanwhile */
		goto out;
	}
	memset(&r, 0, sizeof(r));
	r.uid = uid;
	if (old != NULL)
		r.flags = old->flags & MAIL_FLAGS_MASK;
	if (!e->in_new && (old == NULL || mn.has_info))
		r.flags = maildir_name_flags(name + 4, &mn);
	r.flags |= (raw ? REC_RAW : 0) | (e->in_new ? REC_IN_NEW : 0);
	r.internal_date = old ? old->internal_date : st.st_mtim.tv_sec;
	r.size = wire;
	r.keywords = old ? old->keywords : 0;
	r.modseq = old && old->modseq ? old->modseq : ++h->highestmodseq;
	if (r.modseq > h->highestmodseq)
		h->highestmodseq = r.modseq;
	if (quick == 1) {
		if (cache_writer_add(w, CACHE_T_NAME, uid, name, strlen(name),
		    &r.name_off) < 0)
			goto out;
		h->cache_end = cache_entry_end(r.name_off, strlen(name));
	} else {
		if (cache_item_add(&payload, CI_NAME, name, strlen(name)) < 0 ||
		    cache_writer_add(w, CACHE_T_MESSAGE, uid, payload.s,
		    payload.len, &r.cache_off) < 0)
			goto out;
		r.name_off = r.cache_off;
		h->cache_end = cache_entry_end(r.cache_off, payload.len);
	}
	if (index_put(mb->ix, h->count, &r) < 0)
		goto out;
	mailbox_digest_add(h, name, e->len, 1);
	h->count++;
	if (uid >= h->uidnext)
		h->uidnext = uid + 1;
	mailbox_count(h, NULL, &r);
	rc = 0;
out:
	str_free(&path);
	str_free(&payload);
	return rc;
}

/* Records for the listed files no record matched: each looked up in its
 * directory, the cache entries written together once all are made (they
 * are pointed to only when the caller commits the header). */
static int
sync_add_all(struct mailbox *mb, struct index_header *h,
    const struct listing *l)
{
	static const char *const sub[] = { "new", "cur" };
	struct cache_writer *w = NULL;
	struct str p = STR_INIT;
	int dfd[2] = { -1, -1 }, rc = -1;
	size_t i;

	for (i = 0; i < l->n && l->e[i].seq != UINT32_MAX; i++)
		;
	if (i == l->n)
		return 0;	/* none */
	for (i = 0; i < 2; i++)
		if (mailbox_path(mb, sub[i], &p) < 0 || (dfd[i] = open(p.s,
		    O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
			goto out;
	if (cache_writer_append(mb->cache, &w) < 0)
		goto out;
	for (i = 0; i < l->n; i++)
		if (l->e[i].seq == UINT32_MAX && sync_add_file(mb, h, l,
		    &l->e[i], h->uidnext, NULL, dfd, w) < 0)
			goto out;
	if (cache_writer_flush(w) < 0)
		goto out;
	rc = 0;
out:
	cache_writer_free(&w);
	for (i = 0; i < 2; i++)
		if (dfd[i] >= 0)
			close(dfd[i]);
	str_free(&p);
	return rc;
}

static int
ent_cmp_name(const void *a, const void *b, void *arg)
{
	const struct listing *l = arg;
	const struct ent *x = a, *y = b;

	return strcmp(ent_name(l, x) + 4, ent_name(l, y) + 4);
}

/* The state of one full scan. */
struct scan {
	struct mailbox *mb;
	struct index_header h;	/* to commit */
	struct listing l;
	struct basemap m;
	unsigned char *seen;	/* by record number: its file was listed */
	uint64_t *term;		/* by record number: digest term of its name,
				   bit 63 set when it is in cur/ */
	struct str name;
};

#define TERM_CUR (1ull << 63)

/* Take record seq's name out of the digests. */
static void
scan_unterm(struct scan *sc, uint32_t seq)
{
	uint64_t t = sc->term[seq];
	uint64_t *d = (t & TERM_CUR) ? &sc->h.cur_digest : &sc->h.new_digest;

	*d = (*d - (t & INDEX_DIGEST_MASK)) & INDEX_DIGEST_MASK;
}

/* Record every existing message's name, by its base, and sum the digests
 * of what the index holds. */
static int
sync_known(struct scan *sc)
{
	struct mailbox *mb = sc->mb;
	uint32_t seq;

	if (basemap_init(&sc->m, mb->hdr.count) < 0)
		return -1;
	sc->h.flags |= IDX_DIGESTS;
	sc->h.new_digest = sc->h.cur_digest = 0;
	for (seq = 0; seq < mb->hdr.count; seq++) {
		struct index_record r;
		uint64_t t, *d;

		if (index_get(mb->ix, seq, &r) < 0)
			return -1;
		if (r.flags & REC_EXPUNGED)
			continue;
		if (mailbox_file_name(mb, &r, &sc->name) < 0 ||
		    sc->name.len < 5)
			return -1;
		if (basemap_put(&sc->m, sc->name.s, sc->name.len, seq) < 0)
			return -1;
		/* as mailbox_digest_add, keeping the term for a change */
		t = mailbox_name_digest(sc->name.s, sc->name.len);
		d = strncmp(sc->name.s, "new/", 4) == 0 ? &sc->h.new_digest :
		    &sc->h.cur_digest;
		*d = (*d + t) & INDEX_DIGEST_MASK;
		sc->term[seq] = t | (d == &sc->h.cur_digest ? TERM_CUR : 0);
	}
	return 0;
}

/* A record whose file was renamed by another program: new name, and the
 * flags the new name carries. */
static int
sync_renamed(struct scan *sc, uint32_t seq, const struct ent *e)
{
	struct mailbox *mb = sc->mb;
	const char *name = ent_name(&sc->l, e);
	struct index_record r, o;
	struct maildir_name mn;

	if (index_get(mb->ix, seq, &r) < 0)
		return -1;
	o = r;
	maildir_name_parse(name + 4, &mn);
	r.flags &= ~REC_IN_NEW;
	if (e->in_new)
		r.flags |= REC_IN_NEW;
	else if (mn.has_info)
		r.flags = (r.flags & ~MAIL_FLAGS_MASK) |
		    maildir_name_flags(name + 4, &mn);
	if ((r.flags & MAIL_FLAGS_MASK) != (o.flags & MAIL_FLAGS_MASK))
		r.modseq = ++sc->h.highestmodseq;
	if (cache_append(mb->cache, CACHE_T_NAME, r.uid, name, e->len,
	    &r.name_off) < 0 || index_put(mb->ix, seq, &r) < 0)
		return -1;
	sc->h.cache_end = cache_entry_end(r.name_off, e->len);
	mailbox_count(&sc->h, &o, &r);
	scan_unterm(sc, seq);
	mailbox_digest_add(&sc->h, name, e->len, 1);
	return 0;
}

/* Match listed files from 'from' on to records; update renamed ones. */
static int
sync_match(struct scan *sc, size_t from)
{
	size_t i;

	for (i = from; i < sc->l.n; i++) {
		struct ent *e = &sc->l.e[i];
		const char *name = ent_name(&sc->l, e), *rname;
		size_t rlen;
		uint32_t seq;

		if (!basemap_get(&sc->m, name, e->base_len, &seq, &rname,
		    &rlen) ||
		    sc->seen[seq])
			continue;
		sc->seen[seq] = 1;
		e->seq = seq;
		if ((rlen != e->len || memcmp(rname, name, rlen) != 0) &&
		    sync_renamed(sc, seq, e) < 0)
			return -1;
	}
	return 0;
}

static int
sync_expunge(struct scan *sc, uint32_t seq, struct index_record *r)
{
	struct mailbox *mb = sc->mb;
	struct str p = STR_INIT;
	struct index_record o = *r;
	struct tomb t;
	int rc;

	r->flags |= REC_EXPUNGED;
	r->modseq = ++sc->h.highestmodseq;
	t.uid = r->uid;
	t.modseq = r->modseq;
	rc = index_put(mb->ix, seq, r);
	if (rc == 0 && (rc = mailbox_path(mb, "zest.expunged", &p)) == 0)
		rc = tomb_append(p.s, sc->h.uidvalidity, &t, 1);
	str_free(&p);
	if (rc == 0) {
		mailbox_count(&sc->h, &o, r);
		scan_unterm(sc, seq);
	}
	return rc;
}

/* Move the listed files no record matched to the front, sorted by name
 * (arrival order); their number. */
static size_t
sync_unmatched(struct listing *l)
{
	size_t i, k = 0;

	for (i = 0; i < l->n; i++)
		if (l->e[i].seq == UINT32_MAX) {
			struct ent t = l->e[k];

			l->e[k++] = l->e[i];
			l->e[i] = t;
		}
	if (k > 1)
		qsort_r(l->e, k, sizeof(*l->e), ent_cmp_name, l);
	return k;
}

int
mailbox_dir_digest(struct mailbox *mb, int in_new, uint64_t *d_r)
{
	char name[4 + sizeof(((struct dirent *)0)->d_name)];
	struct str p = STR_INIT;
	struct maildir_name mn;
	struct dirent *d;
	uint64_t sum = 0;
	DIR *dp;

	if (mailbox_path(mb, in_new ? "new" : "cur", &p) < 0)
		return -1;
	dp = opendir(p.s);
	str_free(&p);
	if (dp == NULL)
		return -1;
	memcpy(name, in_new ? "new/" : "cur/", 4);
	errno = 0;
	while ((d = readdir(dp)) != NULL) {
		size_t n;

		if (d->d_name[0] == '.' || maildir_name_parse(d->d_name,
		    &mn) < 0)
			continue;
		n = strlen(d->d_name);
		memcpy(name + 4, d->d_name, n);
		sum += mailbox_name_digest(name, n + 4);
	}
	if (errno != 0) {
		closedir(dp);
		return -1;
	}
	closedir(dp);
	*d_r = sum & INDEX_DIGEST_MASK;
	return 0;
}

/* The directories to look at hold exactly the files the index knows (the
 * digests agree): 1, and nothing needs matching; 0 when they differ or
 * the index keeps no digests. */
static int
sync_quick(struct mailbox *mb, int scan_new, int scan_cur)
{
	uint64_t d;

	if (!(mb->hdr.flags & IDX_DIGESTS))
		return 0;
	if (scan_new) {
		if (mailbox_dir_digest(mb, 1, &d) < 0)
			return -1;
		if (d != mb->hdr.new_digest)
			return 0;
	}
	if (scan_cur) {
		if (mailbox_dir_digest(mb, 0, &d) < 0)
			return -1;
		if (d != mb->hdr.cur_digest)
			return 0;
	}
	return 1;
}

static int
sync_scan(struct mailbox *mb, int scan_new, int scan_cur,
    const struct stat *st_new, const struct stat *st_cur, int quick)
{
	struct scan sc;
	uint32_t seq;
	int rc = -1, again;

	memset(&sc, 0, sizeof(sc));
	sc.mb = mb;
	sc.h = mb->hdr;
	if (quick && (rc = sync_quick(mb, scan_new, scan_cur)) != 0) {
		if (rc < 0)
			return -1;
		mb->scans_quick++;
		goto commit;	/* nothing changed but the mtimes */
	}
	rc = -1;
	mb->scans_full++;
	sc.seen = calloc((size_t)sc.h.count + 1, 1);
	sc.term = calloc((size_t)sc.h.count + 1, sizeof(*sc.term));
	if (sc.seen == NULL || sc.term == NULL || sync_known(&sc) < 0)
		goto out;
	if ((scan_new && listing_read(&sc.l, mb->dir, 1) < 0) ||
	    (scan_cur && listing_read(&sc.l, mb->dir, 0) < 0) ||
	    sync_match(&sc, 0) < 0)
		goto out;
	/* A file missing from the directory read may have moved to the
	 * other one: read that too before calling it expunged. */
	again = 0;
	for (seq = 0; seq < sc.h.count && !again; seq++) {
		struct index_record r;

		if (sc.seen[seq] || index_get(mb->ix, seq, &r) < 0 ||
		    (r.flags & REC_EXPUNGED))
			continue;
		if ((r.flags & REC_IN_NEW) ? !scan_cur : !scan_new)
			again = 1;
	}
	if (again) {
		size_t from = sc.l.n;
		int in_new = !scan_new;

		if (listing_read(&sc.l, mb->dir, in_new) < 0 ||
		    sync_match(&sc, from) < 0)
			goto out;
		scan_new = scan_cur = 1;
	}
	for (seq = 0; seq < sc.h.count; seq++) {
		struct index_record r;

		if (sc.seen[seq] || index_get(mb->ix, seq, &r) < 0 ||
		    (r.flags & REC_EXPUNGED))
			continue;
		if ((r.flags & REC_IN_NEW) ? scan_new : scan_cur)
			if (sync_expunge(&sc, seq, &r) < 0)
				goto out;
	}
	/* Files nobody knows: new messages, in name (arrival) order. */
	sc.l.n = sync_unmatched(&sc.l);
	if (sync_add_all(mb, &sc.h, &sc.l) < 0)
		goto out;
commit:
	if (scan_new)
		mailbox_dir_mtime_store(&sc.h, 1, st_new);
	if (scan_cur)
		mailbox_dir_mtime_store(&sc.h, 0, st_cur);
	if (index_commit(mb->ix, &sc.h) < 0)
		goto out;
	mb->hdr = sc.h;
	rc = 0;
out:
	free(sc.seen);
	free(sc.term);
	listing_free(&sc.l);
	basemap_free(&sc.m);
	str_free(&sc.name);
	return rc;
}

int
mailbox_sync_locked(struct mailbox *mb, struct str *err)
{
	struct str p = STR_INIT;
	struct stat st_new, st_cur;
	int scan_new, scan_cur, rc = -1;

	if (mailbox_refresh(mb, err) < 0)
		goto out;
	if (mailbox_path(mb, "new", &p) < 0 || stat(p.s, &st_new) < 0 ||
	    mailbox_path(mb, "cur", &p) < 0 || stat(p.s, &st_cur) < 0) {
		str_appendf(err, "%s: %s", p.s, strerror(errno));
		goto out;
	}
	scan_new = mb->force_scan || mailbox_dir_changed(&mb->hdr, 1, &st_new);
	scan_cur = mb->force_scan || mailbox_dir_changed(&mb->hdr, 0, &st_cur);
	rc = 0;
	if (scan_new || scan_cur)
		rc = sync_scan(mb, scan_new, scan_cur, &st_new, &st_cur,
		    !mb->force_scan);
	if (rc < 0 && errno == EBADMSG) {
		/* A record or cache entry that does not check: rebuild. */
		struct mailbox_rebuild_stats rs;

		str_clear(err);
		rc = mailbox_rebuild_locked(mb->dir, &rs, err);
		if (rc == 0)
			rc = mailbox_load(mb, err);
	} else if (rc < 0)
		str_appendf(err, "%s: sync: %s", mb->dir, strerror(errno));
	if (rc == 0)
		mb->force_scan = 0;
	/* expunges by other programs count towards compaction too; it only
	 * saves space, so the sync stands even when it fails */
	if (rc == 0 && mailbox_compact_due(&mb->hdr))
		mailbox_compact_quietly(mb);
out:
	str_free(&p);
	return rc;
}

int
mailbox_sync(struct mailbox *mb, struct str *err)
{
	int was_locked = mb->locked, rc;

	if (mailbox_lock(mb) < 0) {
		str_appendf(err, "%s: cannot lock: %s", mb->dir, strerror(errno));
		return -1;
	}
	rc = mailbox_sync_locked(mb, err);
	if (!was_locked)
		mailbox_unlock(mb);
	return rc;
}
