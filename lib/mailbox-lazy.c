/* SPDX-License-Identifier: ISC */
/*
 * mailbox-lazy: indexing a message without parsing it.  A file that a
 * rebuild or a sync finds (put there by another program: an MDA, a
 * restore, `cp`) gets its record at once from its name, its inode and at
 * most one scan for line ends: UID, flags, internal date, RFC822.SIZE.  The
 * cache gets only a NAME entry for it.  Its MESSAGE entry (ENVELOPE,
 * BODYSTRUCTURE, the section table, the header fields) is made the first
 * time anything asks for it, through mailbox_cached().
 *
 * So opening a 100,000-message Maildir that another MDA filled costs a
 * readdir and an fstatat per file (names with ,W= need nothing more, as
 * Dovecot's and Zest's own names carry), not 100,000 MIME parses; the
 * parse is paid by the first FETCH that needs it, once.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache.h"
#include "mailbox-private.h"
#include "mailbox.h"
#include "maildir.h"

#define LAZY_CHUNK 65536

/*
 * The wire size of the message file rel (relative to the directory dfd,
 * or AT_FDCWD; stat st, name mn) without a parse: from ,W= when the name
 * has it (and ,S= agrees with the file), else by counting its LFs, as long
 * as it has no CR (an LF text file is served with every LF made CRLF).
 * Returns 1 with *wire_r, 0 when the file needs the full parse (it holds
 * CR bytes: kept raw or not is for the parser to say), -1 with errno.
 */
int
mailbox_quick_size(int dfd, const char *rel, const struct maildir_name *mn,
    const struct stat *st, uint64_t *wire_r)
{
	unsigned char buf[LAZY_CHUNK];
	uint64_t lfs = 0;
	off_t off = 0;
	int fd, rc = 1;

	if (mn->has_w && (!mn->has_s || mn->s_size == (uint64_t)st->st_size) &&
	    mn->w_size >= (uint64_t)st->st_size) {
		*wire_r = mn->w_size;
		return 1;
	}
	fd = openat(dfd, rel, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	for (;;) {
		ssize_t n = pread(fd, buf, sizeof(buf), off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -1;
			break;
		}
		if (n == 0)
			break;
		if (memchr(buf, '\r', (size_t)n) != NULL) {
			rc = 0;
			break;
		}
		for (const unsigned char *p = buf, *end = buf + n;
		    (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++)
			lfs++;
		off += n;
	}
	if (rc == 1)
		*wire_r = (uint64_t)off + lfs;
	close(fd);
	return rc;
}

/* Parse the message of record r (file name name) into payload; raw_r and
 * wire_r as mailbox_parse_file gives them. */
static int
fill_parse(struct mailbox *mb, const char *name, struct str *payload,
    int *raw_r, uint64_t *wire_r)
{
	struct str path = STR_INIT;
	int rc;

	if (mailbox_path(mb, name, &path) < 0)
		return -1;
	rc = mailbox_parse_file(path.s, payload, raw_r, wire_r);
	str_free(&path);
	if (rc == 0)
		rc = cache_item_add(payload, CI_NAME, name, strlen(name));
	return rc;
}

/*
 * Make the MESSAGE cache entry of a record indexed without one, and read
 * it.  The file is parsed without the lock; then, under the lock, the
 * record is looked up again by UID: if someone else filled it meanwhile
 * their entry is used, else ours is appended and the record rewritten in
 * place (with the size and raw flag the parse found, which only differ
 * from the quick guess for a file with CRLF line ends or a wrong ,W=).
 */
int
mailbox_cache_fill(struct mailbox *mb, const struct index_record *r0,
    const unsigned char **payload_r, size_t *len_r)
{
	struct str name = STR_INIT, payload = STR_INIT, err = STR_INIT;
	struct index_record r, nr;
	struct index_header h;
	uint64_t wire, off = 0;
	uint32_t seq;
	int raw, was_locked = mb->locked, rc = -1, saved;

	if (mailbox_file_name(mb, r0, &name) < 0 ||
	    fill_parse(mb, name.s, &payload, &raw, &wire) < 0)
		goto out;
	if (!was_locked && mailbox_lock(mb) < 0)
		goto out;
	if (mailbox_refresh(mb, &err) < 0 ||
	    mailbox_find_uid(mb, r0->uid, &seq, &r) < 0)
		goto unlock;
	if (r.cache_off != 0) {
		off = r.cache_off;	/* filled by someone else */
		rc = 0;
		goto unlock;
	}
	if (cache_append(mb->cache, CACHE_T_MESSAGE, r.uid, payload.s,
	    payload.len, &off) < 0)
		goto unlock;
	nr = r;
	nr.cache_off = off;
	nr.size = wire;
	nr.flags = (nr.flags & ~REC_RAW) | (raw ? REC_RAW : 0);
	h = *mailbox_header(mb);
	mailbox_count(&h, &r, &nr);
	if (cache_entry_end(off, payload.len) > h.cache_end)
		h.cache_end = cache_entry_end(off, payload.len);
	if (index_put(mb->ix, seq, &nr) < 0 || index_commit(mb->ix, &h) < 0)
		goto unlock;
	mb->hdr = h;
	rc = 0;
unlock:
	saved = errno;
	if (!was_locked)
		mailbox_unlock(mb);
	errno = saved;
out:
	saved = errno;
	str_free(&name);
	str_free(&payload);
	str_free(&err);
	errno = saved;
	if (rc < 0)
		return -1;
	return cache_read(mb->cache, off, CACHE_T_MESSAGE, r0->uid, payload_r,
	    len_r);
}
