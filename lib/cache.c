/* SPDX-License-Identifier: ISC */
#include "cache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "crc.h"
#include "endian.h"
#include "fmap.h"

struct cache {
	int fd;
	struct fmap map;
};

static void
cache_header_encode(unsigned char *b, uint32_t uidvalidity)
{
	memset(b, 0, CACHE_HDR_SIZE);
	memcpy(b, CACHE_MAGIC, 8);
	le32_put(b + 8, CACHE_VERSION);
	le32_put(b + 12, CACHE_HDR_SIZE);
	le32_put(b + 16, uidvalidity);
	le32_put(b + 28, crc_buf(b, 28));
}

static int
cache_header_check(int fd, uint32_t uidvalidity)
{
	unsigned char b[CACHE_HDR_SIZE];

	if (pread(fd, b, sizeof(b), 0) != (ssize_t)sizeof(b) ||
	    memcmp(b, CACHE_MAGIC, 8) != 0 || le32_get(b + 8) != CACHE_VERSION ||
	    le32_get(b + 28) != crc_buf(b, 28) ||
	    le32_get(b + 16) != uidvalidity) {
		errno = EBADMSG;
		return -1;
	}
	return 0;
}

int
cache_open(const char *path, int writable, int create, uint32_t uidvalidity,
    struct cache **c_r)
{
	struct cache *c;
	int fd, flags = writable ? O_RDWR : O_RDONLY;

	if (create)
		flags |= O_CREAT;
	fd = open(path, flags | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (cache_header_check(fd, uidvalidity) < 0) {
		unsigned char b[CACHE_HDR_SIZE];

		if (!create || !writable) {
			close(fd);
			errno = EBADMSG;
			return -1;
		}
		cache_header_encode(b, uidvalidity);
		if (ftruncate(fd, 0) < 0 ||
		    fmap_pwrite_all(fd, b, sizeof(b), 0) < 0) {
			close(fd);
			return -1;
		}
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		close(fd);
		return -1;
	}
	c->fd = fd;
	*c_r = c;
	return 0;
}

/* Encode the 16-byte header of an entry into h. */
static void
cache_entry_header(unsigned char *h, uint32_t type, uint32_t uid,
    const void *payload, size_t len)
{
	uint32_t crc;

	le32_put(h, type);
	le32_put(h + 4, uid);
	le32_put(h + 8, (uint32_t)len);
	crc = crc_buf(h, 12);
	crc = crc_update(crc, payload, len);
	le32_put(h + 12, crc);
}

/* Write all of iov (header, payload, padding) at off with pwritev,
 * retrying short writes and EINTR. */
static int
cache_pwritev_all(int fd, struct iovec *iov, int n, off_t off)
{
	while (n > 0) {
		ssize_t w = pwritev(fd, iov, n, off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		if (w == 0) {
			errno = EIO;
			return -1;
		}
		off += w;
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

int
cache_append(struct cache *c, uint32_t type, uint32_t uid,
    const void *payload, size_t len, uint64_t *off_r)
{
	unsigned char h[CACHE_ENT_HDR];
	static const unsigned char zero[8];
	struct iovec iov[3];
	struct stat st;
	uint64_t off;
	int n = 2;

	if (len > CACHE_MAX_ENTRY) {
		errno = E2BIG;
		return -1;
	}
	if (fstat(c->fd, &st) < 0)
		return -1;
	off = ((uint64_t)st.st_size + 7) & ~(uint64_t)7;
	if (off < CACHE_HDR_SIZE)
		off = CACHE_HDR_SIZE;
	cache_entry_header(h, type, uid, payload, len);
	iov[0].iov_base = h;
	iov[0].iov_len = sizeof(h);
	iov[1].iov_base = (void *)payload;
	iov[1].iov_len = len;
	/* pad so the next entry starts aligned and the size is final */
	if ((len & 7) != 0) {
		iov[2].iov_base = (void *)zero;
		iov[2].iov_len = 8 - (len & 7);
		n = 3;
	}
	if (cache_pwritev_all(c->fd, iov, n, (off_t)off) < 0)
		return -1;
	*off_r = off;
	return 0;
}

/* ---- a new cache file written front to back (a rebuild) ---- */

#define CACHE_WRITER_CHUNK (1u << 20)

struct cache_writer {
	int fd;
	uint64_t written;	/* bytes of the file already written */
	struct str buf;		/* the bytes after them */
};

int
cache_writer_flush(struct cache_writer *w)
{
	if (w->buf.len == 0)
		return 0;
	if (fmap_pwrite_all(w->fd, w->buf.s, w->buf.len, (off_t)w->written) < 0)
		return -1;
	w->written += w->buf.len;
	str_clear(&w->buf);
	return 0;
}

int
cache_writer_open(const char *path, uint32_t uidvalidity,
    struct cache_writer **w_r)
{
	unsigned char b[CACHE_HDR_SIZE];
	struct cache_writer *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return -1;
	str_init(&w->buf, 0);
	w->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	cache_header_encode(b, uidvalidity);
	if (w->fd < 0 || str_ready(&w->buf, CACHE_WRITER_CHUNK + 64) < 0 ||
	    str_append(&w->buf, b, sizeof(b)) < 0) {
		cache_writer_free(&w);
		return -1;
	}
	*w_r = w;
	return 0;
}

int
cache_writer_append(struct cache *c, struct cache_writer **w_r)
{
	struct cache_writer *w;
	struct stat st;

	if (fstat(c->fd, &st) < 0)
		return -1;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return -1;
	str_init(&w->buf, 0);
	/* the next entry starts aligned, as with cache_append */
	w->written = ((uint64_t)st.st_size + 7) & ~(uint64_t)7;
	if (w->written < CACHE_HDR_SIZE)
		w->written = CACHE_HDR_SIZE;
	if ((w->fd = dup(c->fd)) < 0 ||
	    str_ready(&w->buf, CACHE_WRITER_CHUNK + 64) < 0) {
		cache_writer_free(&w);
		return -1;
	}
	*w_r = w;
	return 0;
}

int
cache_writer_add(struct cache_writer *w, uint32_t type, uint32_t uid,
    const void *payload, size_t len, uint64_t *off_r)
{
	static const unsigned char zero[8];
	unsigned char h[CACHE_ENT_HDR];

	if (len > CACHE_MAX_ENTRY) {
		errno = E2BIG;
		return -1;
	}
	/* every entry leaves the end aligned: the next one starts there */
	*off_r = w->written + w->buf.len;
	cache_entry_header(h, type, uid, payload, len);
	if (str_append(&w->buf, h, sizeof(h)) < 0 ||
	    str_append(&w->buf, payload, len) < 0 ||
	    ((len & 7) != 0 && str_append(&w->buf, zero, 8 - (len & 7)) < 0))
		return -1;
	if (w->buf.len >= CACHE_WRITER_CHUNK)
		return cache_writer_flush(w);
	return 0;
}

int
cache_writer_finish(struct cache_writer *w)
{
	if (cache_writer_flush(w) < 0)
		return -1;
	return fsync(w->fd);
}

void
cache_writer_free(struct cache_writer **wp)
{
	struct cache_writer *w = *wp;

	if (w == NULL)
		return;
	if (w->fd >= 0)
		close(w->fd);
	str_free(&w->buf);
	free(w);
	*wp = NULL;
}

int
cache_read(struct cache *c, uint64_t off, uint32_t type, uint32_t uid,
    const unsigned char **payload_r, size_t *len_r)
{
	const unsigned char *h;
	uint32_t len, crc;

	if (off < CACHE_HDR_SIZE || (off & 7) != 0 || off > SIZE_MAX / 2 ||
	    fmap_ensure(&c->map, c->fd, (size_t)off + CACHE_ENT_HDR,
	    EBADMSG) < 0) {
		errno = EBADMSG;
		return -1;
	}
	h = c->map.p + off;
	len = le32_get(h + 8);
	if (le32_get(h) != type || le32_get(h + 4) != uid ||
	    len > CACHE_MAX_ENTRY ||
	    fmap_ensure(&c->map, c->fd, (size_t)off + CACHE_ENT_HDR + len,
	    EBADMSG) < 0) {
		errno = EBADMSG;
		return -1;
	}
	h = c->map.p + off;
	crc = crc_buf(h, 12);
	crc = crc_update(crc, h + CACHE_ENT_HDR, len);
	if (crc != le32_get(h + 12)) {
		errno = EBADMSG;
		return -1;
	}
	*payload_r = h + CACHE_ENT_HDR;
	*len_r = len;
	return 0;
}

int
cache_item_add(struct str *payload, unsigned id, const void *data, size_t len)
{
	unsigned char h[5];

	if (len > CACHE_MAX_ENTRY || id > 255) {
		errno = E2BIG;
		return -1;
	}
	h[0] = (unsigned char)id;
	le32_put(h + 1, (uint32_t)len);
	if (str_append(payload, h, sizeof(h)) < 0 ||
	    str_append(payload, data, len) < 0)
		return -1;
	return 0;
}

int
cache_item_find(const unsigned char *p, size_t len, unsigned id,
    const unsigned char **data_r, size_t *len_r)
{
	size_t pos = 0;

	while (pos < len) {
		uint32_t n;

		if (len - pos < 5)
			return -1;
		n = le32_get(p + pos + 1);
		if (n > len - pos - 5)
			return -1;
		if (p[pos] == id) {
			*data_r = p + pos + 5;
			*len_r = n;
			return 1;
		}
		pos += 5 + (size_t)n;
	}
	return 0;
}

int
cache_part_encode(struct str *out, const struct cache_part *p)
{
	unsigned char b[2 + 8 * 8];
	size_t sl = strnlen(p->section, sizeof(p->section) - 1);
	const uint64_t v[8] = { p->hdr_off, p->hdr_size, p->body_off,
		p->body_size, p->body_lines, p->hdr_doff, p->body_doff,
		p->body_dsize };
	size_t i;

	b[0] = (unsigned char)sl;
	if (str_append(out, b, 1) < 0 || str_append(out, p->section, sl) < 0)
		return -1;
	b[0] = p->kind;
	for (i = 0; i < 8; i++)
		le64_put(b + 1 + 8 * i, v[i]);
	return str_append(out, b, 1 + 8 * 8);
}

int
cache_part_decode(const unsigned char *d, size_t len, size_t *pos,
    struct cache_part *p)
{
	size_t at = *pos, sl, i;
	uint64_t v[8];

	if (at == len)
		return 0;
	sl = d[at];
	if (sl >= sizeof(p->section) || len - at < 1 + sl + 1 + 64)
		return -1;
	memcpy(p->section, d + at + 1, sl);
	p->section[sl] = '\0';
	at += 1 + sl;
	p->kind = d[at];
	for (i = 0; i < 8; i++)
		v[i] = le64_get(d + at + 1 + 8 * i);
	p->hdr_off = v[0];
	p->hdr_size = v[1];
	p->body_off = v[2];
	p->body_size = v[3];
	p->body_lines = v[4];
	p->hdr_doff = v[5];
	p->body_doff = v[6];
	p->body_dsize = v[7];
	*pos = at + 65;
	return 1;
}

uint64_t
cache_file_size(struct cache *c)
{
	struct stat st;

	return fstat(c->fd, &st) < 0 ? 0 : (uint64_t)st.st_size;
}

int
cache_sync(struct cache *c)
{
	return fsync(c->fd);
}

void
cache_close(struct cache **cp)
{
	struct cache *c = *cp;

	if (c == NULL)
		return;
	fmap_free(&c->map);
	close(c->fd);
	free(c);
	*cp = NULL;
}
