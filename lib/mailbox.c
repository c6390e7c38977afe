/* SPDX-License-Identifier: ISC */
#include "mailbox-private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "endian.h"
#include "maildir.h"

int
mailbox_path(const struct mailbox *mb, const char *rel, struct str *out)
{
	str_clear(out);
	return str_appendf(out, "%s/%s", mb->dir, rel);
}

void
mailbox_count(struct index_header *h, const struct index_record *o,
    const struct index_record *n)
{
	if (o != NULL && !(o->flags & REC_EXPUNGED)) {
		h->exists--;
		if (!(o->flags & MAIL_SEEN))
			h->unseen--;
		if (o->flags & MAIL_DELETED)
			h->deleted--;
		h->total_size -= o->size;
	}
	if (n != NULL && !(n->flags & REC_EXPUNGED)) {
		h->exists++;
		if (!(n->flags & MAIL_SEEN))
			h->unseen++;
		if (n->flags & MAIL_DELETED)
			h->deleted++;
		h->total_size += n->size;
	}
}

/* 8 bytes at a time: multiply, fold the high half down. */
static uint64_t
hash_mix(uint64_t h, uint64_t k)
{
	k *= 0x9e3779b97f4a7c15ull;
	k ^= k >> 31;
	h = (h ^ k) * 0xbf58476d1ce4e5b9ull;
	return h ^ (h >> 29);
}

uint64_t
mailbox_name_hash(const char *s, size_t n)
{
	uint64_t h = 0x94d049bb133111ebull ^ (uint64_t)n, k;

	for (; n >= 8; s += 8, n -= 8)
		h = hash_mix(h, le64_get((const unsigned char *)s));
	if (n > 0) {
		unsigned char t[8] = { 0 };

		memcpy(t, s, n);
		k = le64_get(t);
		h = hash_mix(h, k ^ 0xffull << 56);
	}
	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ull;
	return h ^ (h >> 32);
}

uint64_t
mailbox_name_digest(const char *name, size_t n)
{
	return mailbox_name_hash(name, n) & INDEX_DIGEST_MASK;
}

void
mailbox_digest_add(struct index_header *h, const char *name, size_t n,
    int sign)
{
	uint64_t *d = strncmp(name, "new/", 4) == 0 ? &h->new_digest :
	    &h->cur_digest;
	uint64_t t;

	if (!(h->flags & IDX_DIGESTS))
		return;
	t = mailbox_name_digest(name, n);
	*d = (sign > 0 ? *d + t : *d - t) & INDEX_DIGEST_MASK;
}

static int
mailbox_ts_eq(int64_t sec, uint32_t nsec, const struct stat *st)
{
	return sec == (int64_t)st->st_mtim.tv_sec &&
	    nsec == (uint32_t)st->st_mtim.tv_nsec;
}

int
mailbox_dir_changed(const struct index_header *h, int is_new,
    const struct stat *st)
{
	int64_t sec = is_new ? h->new_mtime_sec : h->cur_mtime_sec;
	uint32_t nsec = is_new ? h->new_mtime_nsec : h->cur_mtime_nsec;
	uint32_t racy = is_new ? IDX_NEW_RACY : IDX_CUR_RACY;

	if (!mailbox_ts_eq(sec, nsec, st))
		return 1;
	/* Same mtime, but recorded within its own tick: a second change in
	 * that tick would not show.  Look once the tick is long past. */
	return (h->flags & racy) && time(NULL) >= sec + MBOX_RACY_SECS;
}

void
mailbox_dir_mtime_store(struct index_header *h, int is_new,
    const struct stat *st)
{
	uint32_t racy = is_new ? IDX_NEW_RACY : IDX_CUR_RACY;

	if (is_new) {
		h->new_mtime_sec = st->st_mtim.tv_sec;
		h->new_mtime_nsec = (uint32_t)st->st_mtim.tv_nsec;
	} else {
		h->cur_mtime_sec = st->st_mtim.tv_sec;
		h->cur_mtime_nsec = (uint32_t)st->st_mtim.tv_nsec;
	}
	if (time(NULL) < st->st_mtim.tv_sec + MBOX_RACY_SECS)
		h->flags |= racy;
	else
		h->flags &= ~racy;
}

int
mailbox_lock(struct mailbox *mb)
{
	struct flock fl;
	struct timespec start, now, nap = { 0, 100000 };

	if (mb->locked)
		return 0;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		if (fcntl(mb->lock_fd, F_OFD_SETLK, &fl) == 0) {
			mb->locked = 1;
			return 0;
		}
		if (errno != EAGAIN && errno != EACCES && errno != EINTR)
			return -1;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= (time_t)mb->lock_timeout) {
			errno = ETIMEDOUT;
			return -1;
		}
		/* the lock is held for a link and a few pwrite()s: a short
		 * cap keeps a waiter from sleeping long after it is free */
		nanosleep(&nap, NULL);
		if (nap.tv_nsec < 2000000)
			nap.tv_nsec *= 2;
	}
}

void
mailbox_unlock(struct mailbox *mb)
{
	struct flock fl;

	if (!mb->locked)
		return;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_UNLCK;
	fl.l_whence = SEEK_SET;
	fcntl(mb->lock_fd, F_OFD_SETLK, &fl);
	mb->locked = 0;
}

int
mailbox_meta_save(struct mailbox *mb)
{
	struct str p = STR_INIT;
	int rc;

	rc = mailbox_path(mb, "zest.header", &p);
	if (rc == 0)
		rc = mbmeta_write(p.s, &mb->meta);
	str_free(&p);
	return rc;
}

/* Open the three files; 1 when usable, 0 when they need a rebuild. */
static int
mailbox_try_load(struct mailbox *mb)
{
	struct str p = STR_INIT;
	struct mbmeta m;
	int ok = 0;

	index_close(&mb->ix);
	cache_close(&mb->cache);
	if (mailbox_path(mb, "zest.index", &p) < 0 ||
	    index_open(p.s, 1, &mb->ix) < 0 ||
	    index_read_header(mb->ix, &mb->hdr) < 0)
		goto out;
	if (mailbox_path(mb, "zest.header", &p) < 0 || mbmeta_read(p.s, &m) < 0)
		goto out;
	if (m.uidvalidity != mb->hdr.uidvalidity) {
		mbmeta_free(&m);
		goto out;
	}
	mbmeta_free(&mb->meta);
	mb->meta = m;
	if (mailbox_path(mb, "zest.cache", &p) < 0 ||
	    cache_open(p.s, 1, 0, mb->hdr.uidvalidity, &mb->cache) < 0)
		goto out;
	/* a cache shorter than what the index points into was cut */
	if (cache_file_size(mb->cache) < mb->hdr.cache_end) {
		errno = EBADMSG;
		goto out;
	}
	ok = 1;
out:
	str_free(&p);
	return ok;
}

int
mailbox_load(struct mailbox *mb, struct str *err)
{
	int tries;

	for (tries = 0; tries < 3; tries++) {
		struct mailbox_rebuild_stats st;

		if (mailbox_try_load(mb))
			return 0;
		if (errno == ESTALE)
			continue;
		/* Missing or corrupt: rebuild; we hold the lock. */
		if (mailbox_rebuild_locked(mb->dir, &st, err) < 0)
			return -1;
	}
	str_clear(err);
	str_appendf(err, "%s: index files keep failing their checks", mb->dir);
	errno = EBADMSG;
	return -1;
}

int
mailbox_open(const char *dir, unsigned flags, unsigned lock_timeout,
    struct mailbox **mb_r, struct str *err)
{
	struct mailbox *mb;
	struct str p = STR_INIT;
	int saved;

	if (!maildir_exists(dir)) {
		if (!(flags & MBOX_CREATE)) {
			str_appendf(err, "%s: not a Maildir", dir);
			errno = ENOENT;
			return -1;
		}
		if (maildir_create(dir, 0700) < 0) {
			str_appendf(err, "%s: cannot create: %s", dir,
			    strerror(errno));
			return -1;
		}
	}
	mb = calloc(1, sizeof(*mb));
	if (mb == NULL || (mb->dir = strdup(dir)) == NULL) {
		free(mb);
		return -1;
	}
	mb->lock_fd = -1;
	mb->lock_timeout = lock_timeout;
	if (gethostname(mb->host, sizeof(mb->host) - 1) < 0)
		memcpy(mb->host, "localhost", sizeof("localhost"));
	if (mailbox_path(mb, "zest.lock", &p) < 0)
		goto fail;
	mb->lock_fd = open(p.s, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (mb->lock_fd < 0) {
		str_appendf(err, "%s: %s", p.s, strerror(errno));
		goto fail;
	}
	if (mailbox_lock(mb) < 0) {
		str_appendf(err, "%s: cannot lock: %s", dir, strerror(errno));
		goto fail;
	}
	if (mailbox_load(mb, err) < 0)
		goto fail;
	mailbox_unlock(mb);
	str_free(&p);
	*mb_r = mb;
	return 0;
fail:
	saved = errno;
	str_free(&p);
	mailbox_close(&mb);
	errno = saved;
	return -1;
}

void
mailbox_close(struct mailbox **mbp)
{
	struct mailbox *mb = *mbp;

	if (mb == NULL)
		return;
	mailbox_unlock(mb);
	index_close(&mb->ix);
	cache_close(&mb->cache);
	mbmeta_free(&mb->meta);
	if (mb->lock_fd >= 0)
		close(mb->lock_fd);
	free(mb->dir);
	free(mb);
	*mbp = NULL;
}

int
mailbox_refresh(struct mailbox *mb, struct str *err)
{
	int was_locked = mb->locked, rc = 0;
	uint32_t nkw = mb->meta.nkeywords;

	if (index_read_header(mb->ix, &mb->hdr) == 0) {
		struct str p = STR_INIT;
		struct mbmeta m;

		/* keywords only grow: reread the small file when it did */
		if (mailbox_path(mb, "zest.header", &p) == 0 &&
		    mbmeta_read(p.s, &m) == 0) {
			if (m.nkeywords >= nkw && m.uidvalidity == mb->hdr.uidvalidity) {
				mbmeta_free(&mb->meta);
				mb->meta = m;
			} else
				mbmeta_free(&m);
		}
		str_free(&p);
		return 0;
	}
	if (!was_locked && mailbox_lock(mb) < 0) {
		str_appendf(err, "%s: cannot lock: %s", mb->dir, strerror(errno));
		return -1;
	}
	rc = mailbox_load(mb, err);
	if (!was_locked)
		mailbox_unlock(mb);
	return rc;
}

const struct index_header *
mailbox_header(const struct mailbox *mb)
{
	return &mb->hdr;
}

const struct mbmeta *
mailbox_meta(const struct mailbox *mb)
{
	return &mb->meta;
}

int
mailbox_index_get(struct mailbox *mb, uint32_t seq, struct index_record *r_r)
{
	int rc;

	if (index_get(mb->ix, seq, r_r) == 0)
		return 0;
	if (errno != EBADMSG || mb->locked)
		return -1;
	/* A writer descheduled in the middle of rewriting this record looks
	 * like corruption to a reader; with the lock there is no doubt. */
	if (mailbox_lock(mb) < 0) {
		errno = EBADMSG;
		return -1;
	}
	rc = index_get(mb->ix, seq, r_r);
	mailbox_unlock(mb);
	return rc;
}

int
mailbox_record(struct mailbox *mb, uint32_t seq, struct index_record *r_r)
{
	if (seq >= mb->hdr.count) {
		errno = ERANGE;
		return -1;
	}
	return mailbox_index_get(mb, seq, r_r);
}

int
mailbox_scan_uids(struct mailbox *mb, int (*fn)(void *, uint32_t, uint32_t),
    void *arg)
{
	return index_scan(mb->ix, mb->hdr.count, fn, arg);
}

int
mailbox_cached(struct mailbox *mb, const struct index_record *r,
    const unsigned char **payload_r, size_t *len_r)
{
	if (r->cache_off == 0)	/* indexed without a parse: do it now */
		return mailbox_cache_fill(mb, r, payload_r, len_r);
	return cache_read(mb->cache, r->cache_off, CACHE_T_MESSAGE, r->uid,
	    payload_r, len_r);
}

int
mailbox_file_name(struct mailbox *mb, const struct index_record *r,
    struct str *name_r)
{
	const unsigned char *p, *d;
	size_t n, dn;

	str_clear(name_r);
	if (r->name_off == r->cache_off) {
		if (mailbox_cached(mb, r, &p, &n) < 0)
			return -1;
		if (cache_item_find(p, n, CI_NAME, &d, &dn) != 1) {
			errno = EBADMSG;
			return -1;
		}
		return str_append(name_r, d, dn);
	}
	if (cache_read(mb->cache, r->name_off, CACHE_T_NAME, r->uid, &p, &n) < 0)
		return -1;
	return str_append(name_r, p, n);
}

int
mailbox_check(struct mailbox *mb)
{
	struct str name = STR_INIT;
	const unsigned char *p;
	size_t n;
	uint32_t seq;
	int rc = 0;

	for (seq = 0; seq < mb->hdr.count && rc == 0; seq++) {
		struct index_record r;

		if (mailbox_index_get(mb, seq, &r) < 0)
			rc = -1;
		else if (!(r.flags & REC_EXPUNGED) &&
		    (mailbox_file_name(mb, &r, &name) < 0 ||
		    (r.cache_off != 0 && mailbox_cached(mb, &r, &p, &n) < 0)))
			rc = -1;
	}
	str_free(&name);
	if (rc < 0)
		errno = EBADMSG;
	return rc;
}

int
mailbox_rebuild(struct mailbox *mb, struct str *err)
{
	struct mailbox_rebuild_stats st;
	int was_locked = mb->locked, rc;

	if (!was_locked && mailbox_lock(mb) < 0) {
		str_appendf(err, "%s: cannot lock: %s", mb->dir, strerror(errno));
		return -1;
	}
	rc = mailbox_rebuild_locked(mb->dir, &st, err);
	if (rc == 0)
		rc = mailbox_load(mb, err);
	if (!was_locked)
		mailbox_unlock(mb);
	return rc;
}

long
mailbox_settle_ms(const struct mailbox *mb)
{
	const struct index_header *h = &mb->hdr;
	struct timespec now;
	int64_t sec = INT64_MAX;
	long long ms;

	if (h->flags & IDX_NEW_RACY)
		sec = h->new_mtime_sec;
	if ((h->flags & IDX_CUR_RACY) && h->cur_mtime_sec < sec)
		sec = h->cur_mtime_sec;
	if (sec > INT64_MAX - MBOX_RACY_SECS)
		return -1;	/* none (or a nonsense mtime) */
	/* mailbox_dir_changed looks once time(NULL) >= sec + RACY_SECS;
	 * time() may follow the precise clock by a tick: wake a little
	 * after the second */
	if (time(NULL) >= sec + MBOX_RACY_SECS)
		return 0;
	clock_gettime(CLOCK_REALTIME, &now);
	ms = ((long long)sec + MBOX_RACY_SECS - now.tv_sec) * 1000 -
	    now.tv_nsec / 1000000 + 20;
	if (ms < 1)
		ms = 1;
	return ms > 3600000 ? 3600000 : (long)ms;
}

void
mailbox_sync_force(struct mailbox *mb)
{
	mb->force_scan = 1;
}
