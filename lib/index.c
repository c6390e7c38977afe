/* SPDX-License-Identifier: ISC */
#include "index.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc.h"
#include "endian.h"
#include "fmap.h"
#include "str.h"

#define INDEX_READ_TRIES 50

struct index {
	int fd;
	int writable;
	struct fmap map;
};

void
index_header_encode(const struct index_header *h, unsigned char *b)
{
	memset(b, 0, INDEX_HDR_SIZE);
	memcpy(b, INDEX_MAGIC, 8);
	le32_put(b + 8, INDEX_VERSION);
	le32_put(b + 12, INDEX_HDR_SIZE);
	le32_put(b + 16, INDEX_REC_SIZE);
	le32_put(b + 20, h->flags);
	le32_put(b + 24, h->uidvalidity);
	le32_put(b + 28, h->uidnext);
	le32_put(b + 32, h->count);
	le32_put(b + 36, h->exists);
	le32_put(b + 40, h->unseen);
	le32_put(b + 44, h->deleted);
	le32_put(b + 48, h->first_recent_uid);
	le32_put(b + 52, h->new_mtime_nsec);
	le64_put(b + 56, h->highestmodseq);
	le64_put(b + 64, h->generation);
	le64_put(b + 72, h->total_size);
	le64_put(b + 80, (uint64_t)h->new_mtime_sec);
	le64_put(b + 88, (uint64_t)h->cur_mtime_sec);
	le32_put(b + 96, h->cur_mtime_nsec);
	le64_put(b + 104, h->cache_end);
	le32_put(b + 112, h->names_behind);
	/* the two 48-bit digests in the 12 bytes left free, masked so
	 * that the zeros a writer without them leaves read as a digest no
	 * directory has (not even an empty one) */
	le32_put(b + 100, (uint32_t)(h->new_digest ^ INDEX_DIGEST_SEAL));
	le16_put(b + 122, (uint16_t)((h->new_digest ^ INDEX_DIGEST_SEAL) >> 32));
	le32_put(b + 116, (uint32_t)(h->cur_digest ^ INDEX_DIGEST_SEAL));
	le16_put(b + 120, (uint16_t)((h->cur_digest ^ INDEX_DIGEST_SEAL) >> 32));
	le32_put(b + 124, crc_buf(b, 124));
}

int
index_header_decode(const unsigned char *b, struct index_header *h)
{
	if (memcmp(b, INDEX_MAGIC, 8) != 0 || le32_get(b + 8) != INDEX_VERSION ||
	    le32_get(b + 12) != INDEX_HDR_SIZE ||
	    le32_get(b + 16) != INDEX_REC_SIZE ||
	    le32_get(b + 124) != crc_buf(b, 124)) {
		errno = EBADMSG;
		return -1;
	}
	h->flags = le32_get(b + 20);
	h->uidvalidity = le32_get(b + 24);
	h->uidnext = le32_get(b + 28);
	h->count = le32_get(b + 32);
	h->exists = le32_get(b + 36);
	h->unseen = le32_get(b + 40);
	h->deleted = le32_get(b + 44);
	h->first_recent_uid = le32_get(b + 48);
	h->new_mtime_nsec = le32_get(b + 52);
	h->highestmodseq = le64_get(b + 56);
	h->generation = le64_get(b + 64);
	h->total_size = le64_get(b + 72);
	h->new_mtime_sec = (int64_t)le64_get(b + 80);
	h->cur_mtime_sec = (int64_t)le64_get(b + 88);
	h->cur_mtime_nsec = le32_get(b + 96);
	h->cache_end = le64_get(b + 104);
	h->names_behind = le32_get(b + 112);
	h->new_digest = (le32_get(b + 100) |
	    (uint64_t)le16_get(b + 122) << 32) ^ INDEX_DIGEST_SEAL;
	h->cur_digest = (le32_get(b + 116) |
	    (uint64_t)le16_get(b + 120) << 32) ^ INDEX_DIGEST_SEAL;
	if (h->count > INDEX_MAX_COUNT || h->exists > h->count) {
		errno = EBADMSG;
		return -1;
	}
	return 0;
}

void
index_record_encode(const struct index_record *r, unsigned char *b)
{
	memset(b, 0, INDEX_REC_SIZE);
	le32_put(b, r->uid);
	le32_put(b + 4, r->flags);
	le64_put(b + 8, (uint64_t)r->internal_date);
	le64_put(b + 16, r->size);
	le64_put(b + 24, r->keywords);
	le64_put(b + 32, r->modseq);
	le64_put(b + 40, r->cache_off);
	le64_put(b + 48, r->name_off);
	le32_put(b + 60, crc_buf(b, 60));
}

int
index_record_decode(const unsigned char *b, struct index_record *r)
{
	if (le32_get(b + 60) != crc_buf(b, 60) || le32_get(b) == 0) {
		errno = EBADMSG;
		return -1;
	}
	r->uid = le32_get(b);
	r->flags = le32_get(b + 4);
	r->internal_date = (int64_t)le64_get(b + 8);
	r->size = le64_get(b + 16);
	r->keywords = le64_get(b + 24);
	r->modseq = le64_get(b + 32);
	r->cache_off = le64_get(b + 40);
	r->name_off = le64_get(b + 48);
	return 0;
}

int
index_open(const char *path, int writable, struct index **ix_r)
{
	struct index *ix;
	int fd;

	fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ix = calloc(1, sizeof(*ix));
	if (ix == NULL) {
		close(fd);
		return -1;
	}
	ix->fd = fd;
	ix->writable = writable;
	*ix_r = ix;
	return 0;
}

int
index_create(const char *path, const struct index_header *h,
    const struct index_record *recs, uint32_t n)
{
	struct str tmp = STR_INIT;
	unsigned char buf[INDEX_REC_SIZE * 256];
	struct index_header hh = *h;
	uint32_t i = 0;
	int fd = -1, rc = -1;

	hh.count = n;
	if (str_appendf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0)
		return -1;
	fd = open(tmp.s, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		goto out;
	index_header_encode(&hh, buf);
	if (fmap_pwrite_all(fd, buf, INDEX_HDR_SIZE, 0) < 0)
		goto out;
	while (i < n) {
		uint32_t k = 0;

		for (; k < 256 && i + k < n; k++)
			index_record_encode(&recs[i + k], buf + k * INDEX_REC_SIZE);
		if (fmap_pwrite_all(fd, buf, (size_t)k * INDEX_REC_SIZE,
		    (off_t)INDEX_HDR_SIZE + (off_t)i * INDEX_REC_SIZE) < 0)
			goto out;
		i += k;
	}
	if (fsync(fd) < 0 || rename(tmp.s, path) < 0)
		goto out;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (rc < 0 && tmp.s != NULL)
		unlink(tmp.s);
	str_free(&tmp);
	return rc;
}

int
index_read_header(struct index *ix, struct index_header *h_r)
{
	unsigned char b[INDEX_HDR_SIZE];
	int i;

	for (i = 0; i < INDEX_READ_TRIES; i++) {
		ssize_t n = pread(ix->fd, b, sizeof(b), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == (ssize_t)sizeof(b) && index_header_decode(b, h_r) == 0) {
			if (h_r->flags & IDX_OBSOLETE) {
				errno = ESTALE;
				return -1;
			}
			return 0;
		}
		if (n == 0) {	/* an empty file never becomes a header */
			errno = EBADMSG;
			return -1;
		}
		sched_yield();
	}
	errno = EBADMSG;
	return -1;
}

int
index_get(struct index *ix, uint32_t seq, struct index_record *r_r)
{
	size_t off = INDEX_HDR_SIZE + (size_t)seq * INDEX_REC_SIZE;
	int i;

	if (seq >= INDEX_MAX_COUNT) {
		errno = ERANGE;
		return -1;
	}
	if (fmap_ensure(&ix->map, ix->fd, off + INDEX_REC_SIZE, ERANGE) < 0)
		return -1;
	for (i = 0; i < INDEX_READ_TRIES; i++) {
		if (index_record_decode(ix->map.p + off, r_r) == 0)
			return 0;
		/* A write in flight (flags are rewritten in place).  Every
		 * mailbox handle opens the file writable, lock held or not,
		 * so this cannot tell a lock holder from a reader: retry. */
		sched_yield();
	}
	errno = EBADMSG;
	return -1;
}

int
index_scan(struct index *ix, uint32_t n,
    int (*fn)(void *, uint32_t, uint32_t), void *arg)
{
	const unsigned char *p;
	uint32_t i, uid, prev = 0;
	int r;

	if (n == 0)
		return 0;
	if (n > INDEX_MAX_COUNT) {
		errno = ERANGE;
		return -1;
	}
	if (fmap_ensure(&ix->map, ix->fd, INDEX_HDR_SIZE + (size_t)n *
	    INDEX_REC_SIZE, ERANGE) < 0)
		return -1;
	p = ix->map.p + INDEX_HDR_SIZE;
	for (i = 0; i < n; i++, p += INDEX_REC_SIZE) {
		uid = le32_get(p);
		if (uid <= prev) {
			errno = EBADMSG;	/* damaged: not in UID order */
			return -1;
		}
		prev = uid;
		if ((r = fn(arg, uid, le32_get(p + 4))) != 0)
			return r;
	}
	return 0;
}

int
index_put(struct index *ix, uint32_t seq, const struct index_record *r)
{
	unsigned char b[INDEX_REC_SIZE];

	index_record_encode(r, b);
	return fmap_pwrite_all(ix->fd, b, sizeof(b),
	    (off_t)INDEX_HDR_SIZE + (off_t)seq * INDEX_REC_SIZE);
}

int
index_put_many(struct index *ix, uint32_t seq,
    const struct index_record *recs, uint32_t n)
{
	unsigned char buf[INDEX_REC_SIZE * 256];
	uint32_t i = 0, k;

	while (i < n) {
		for (k = 0; k < 256 && i + k < n; k++)
			index_record_encode(&recs[i + k], buf + k * INDEX_REC_SIZE);
		if (fmap_pwrite_all(ix->fd, buf, (size_t)k * INDEX_REC_SIZE,
		    (off_t)INDEX_HDR_SIZE + ((off_t)seq + i) * INDEX_REC_SIZE) < 0)
			return -1;
		i += k;
	}
	return 0;
}

int
index_commit(struct index *ix, const struct index_header *h)
{
	unsigned char b[INDEX_HDR_SIZE];

	index_header_encode(h, b);
	return fmap_pwrite_all(ix->fd, b, sizeof(b), 0);
}

int
index_mark_obsolete(struct index *ix)
{
	struct index_header h;

	if (index_read_header(ix, &h) < 0)
		return errno == ESTALE ? 0 : -1;
	h.flags |= IDX_OBSOLETE;
	return index_commit(ix, &h);
}

uint32_t
index_file_records(struct index *ix)
{
	struct stat st;

	if (fstat(ix->fd, &st) < 0 || (size_t)st.st_size < INDEX_HDR_SIZE)
		return 0;
	return (uint32_t)(((size_t)st.st_size - INDEX_HDR_SIZE) / INDEX_REC_SIZE);
}

int
index_sync(struct index *ix)
{
	return fsync(ix->fd);
}

void
index_close(struct index **ixp)
{
	struct index *ix = *ixp;

	if (ix == NULL)
		return;
	fmap_free(&ix->map);
	close(ix->fd);
	free(ix);
	*ixp = NULL;
}
