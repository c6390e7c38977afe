/* SPDX-License-Identifier: ISC */
/*
 * mailbox_copy: messages from one mailbox into another (IMAP COPY, and
 * MOVE's first half).  The file is hard-linked under a new base name that
 * carries the new UID (a copy when the link cannot be made), the cache
 * entry is copied with the new name, keywords are carried by name.  All
 * copies get one MODSEQ and the destination's header is written once: a
 * failure part-way unlinks what was linked and commits nothing.
 */
#include "mailbox-private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "endian.h"
#include "fs.h"
#include "maildir.h"

struct copy {
	struct mailbox *src, *dst;
	int same;		/* one mailbox: no sync of src under our lock */
	int resync;		/* src was synced: record positions moved */
	struct index_header h;	/* dst's, being built */
	uint64_t modseq;
	uint64_t mapped;	/* src keyword bits already looked up */
	int kwmap[MBMETA_MAX_KEYWORDS];	/* dst bit of src bit, -1 none */
	struct mailbox_dirs dirs;
	struct str linked;	/* dst names linked so far, NUL-separated */
	struct str sname, spath, dname, dpath, base, payload;
};

/* Are a and b the same Maildir (two handles on one directory)? */
static int
copy_same(const struct mailbox *a, const struct mailbox *b)
{
	struct stat sa, sb;

	if (a == b)
		return 1;
	return stat(a->dir, &sa) == 0 && stat(b->dir, &sb) == 0 &&
	    sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* src's keyword bits as dst's, adding names to dst as needed. */
static int
copy_keywords(struct copy *c, uint64_t kw, uint64_t *out_r, struct str *err)
{
	uint64_t out = 0;
	unsigned b;

	for (b = 0; b < MBMETA_MAX_KEYWORDS; b++) {
		uint64_t bit = (uint64_t)1 << b;

		if (!(kw & bit))
			continue;
		if (!(c->mapped & bit)) {
			if (b >= c->src->meta.nkeywords) {
				/* named after our refresh: read the names
				 * again (positions may move with it) */
				if (mailbox_refresh(c->src, err) < 0)
					return -1;
				c->resync = 1;
			}
			c->kwmap[b] = -1;
			if (b < c->src->meta.nkeywords) {
				c->kwmap[b] = mailbox_keyword(c->dst,
				    c->src->meta.keywords[b], 1, err);
				if (c->kwmap[b] < 0)
					return -1;
			}
			c->mapped |= bit;
		}
		if (c->kwmap[b] >= 0)
			out |= (uint64_t)1 << c->kwmap[b];
	}
	*out_r = out;
	return 0;
}

/* When a hard link is impossible (another file system): copy the bytes
 * into dst's tmp/, make them durable, link them into place. */
static int
copy_bytes(struct copy *c, const struct index_record *r)
{
	struct str tmp = STR_INIT;
	unsigned char buf[65536];
	struct timespec ts[2];
	int in = -1, out = -1, rc = -1;
	ssize_t n;

	in = open(c->spath.s, O_RDONLY | O_CLOEXEC);
	if (in < 0 || str_appendf(&tmp, "%s/tmp/%s", c->dst->dir,
	    c->base.s) < 0)
		goto out;
	out = open(tmp.s, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0)
		goto out;
	while ((n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || fs_write_all(out, buf, (size_t)n) < 0)
			goto out;
	}
	/* the mtime carries the internal date for rebuilds */
	ts[0].tv_sec = ts[1].tv_sec = r->internal_date;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	if (futimens(out, ts) < 0 || fsync(out) < 0 ||
	    link(tmp.s, c->dpath.s) < 0)
		goto out;
	rc = 0;
out:
	if (in >= 0)
		close(in);
	if (out >= 0) {
		close(out);
		unlink(tmp.s);
	}
	str_free(&tmp);
	return rc;
}

/* Make dst's file for r.  1 made, 0 the source file is gone, -1 error. */
static int
copy_file(struct copy *c, const struct index_record *r, uint32_t uid,
    int to_new)
{
	struct maildir_name mn;
	uint64_t dsize;
	struct stat st;
	int tries;

	if (mailbox_file_name(c->src, r, &c->sname) < 0 ||
	    c->sname.len < 5 || maildir_name_parse(c->sname.s + 4, &mn) < 0 ||
	    mailbox_path(c->src, c->sname.s, &c->spath) < 0)
		return -1;
	dsize = mn.s_size;
	if (!mn.has_s) {
		if (stat(c->spath.s, &st) < 0)
			return errno == ENOENT ? 0 : -1;
		dsize = (uint64_t)st.st_size;
	}
	for (tries = 0; tries < 20; tries++) {
		if (maildir_base_new(&c->base, c->dst->host, c->dst->counter++,
		    dsize, r->size, uid) < 0)
			return -1;
		str_clear(&c->dname);
		if (to_new) {
			if (str_appendf(&c->dname, "new/%s", c->base.s) < 0)
				return -1;
		} else if (str_appends(&c->dname, "cur/") < 0 ||
		    maildir_name_with_flags(&c->dname, c->base.s, c->base.len,
		    r->flags & MAIL_FLAGS_MASK, NULL) < 0)
			return -1;
		if (mailbox_path(c->dst, c->dname.s, &c->dpath) < 0)
			return -1;
		if (link(c->spath.s, c->dpath.s) == 0)
			return 1;
		if (errno == EEXIST)
			continue;
		if (errno == ENOENT)
			return 0;
		if (errno != EXDEV && errno != EPERM && errno != EMLINK &&
		    errno != EOPNOTSUPP)
			return -1;
		if (copy_bytes(c, r) == 0)
			return 1;
		if (errno != EEXIST)
			return errno == ENOENT ? 0 : -1;
	}
	errno = EEXIST;
	return -1;
}

/* src's cache entry with dst's file name; parsed anew when it is bad. */
static int
copy_payload(struct copy *c, struct index_record *rec,
    const struct index_record *r)
{
	const unsigned char *p;
	size_t n = 0, pos = 0;
	uint64_t wire;
	int raw;

	str_clear(&c->payload);
	if (mailbox_cached(c->src, r, &p, &n) == 0) {
		while (pos < n) {
			uint32_t len;

			if (n - pos < 5 || (len = le32_get(p + pos + 1)) >
			    n - pos - 5)
				break;
			if (p[pos] != CI_NAME &&
			    str_append(&c->payload, p + pos, 5 + (size_t)len) < 0)
				return -1;
			pos += 5 + (size_t)len;
		}
	}
	if (pos != n || n == 0) {
		str_clear(&c->payload);
		if (mailbox_parse_file(c->dpath.s, &c->payload, &raw, &wire) < 0)
			return -1;
		rec->flags = (rec->flags & ~REC_RAW) | (raw ? REC_RAW : 0);
		rec->size = wire;
	}
	return cache_item_add(&c->payload, CI_NAME, c->dname.s, c->dname.len);
}

/* Copy one message; its new UID (0: skipped) into *uid_r. */
static int
copy_one(struct copy *c, struct index_record *r, uint32_t *uid_r,
    struct str *err)
{
	struct index_record rec;
	int to_new = (r->flags & REC_IN_NEW) && !(r->flags & MAIL_FLAGS_MASK);
	int made;

	*uid_r = 0;
	memset(&rec, 0, sizeof(rec));
	rec.uid = c->h.uidnext;
	made = copy_file(c, r, rec.uid, to_new);
	if (made == 0 && !c->same) {
		/* renamed by another program (or removed): ask the Maildir */
		mailbox_sync_force(c->src);
		if ((c->src->locked ? mailbox_sync_locked(c->src, err) :
		    mailbox_sync(c->src, err)) < 0)
			return -1;
		c->resync = 1;
		if (mailbox_find_uid(c->src, r->uid, NULL, r) < 0)
			return errno == ENOENT ? 0 : -1;
		to_new = (r->flags & REC_IN_NEW) && !(r->flags & MAIL_FLAGS_MASK);
		made = copy_file(c, r, rec.uid, to_new);
	}
	if (made <= 0)
		return made;
	c->dirs.touched[to_new ? 0 : 1] = 1;
	if (str_append(&c->linked, c->dname.s, c->dname.len + 1) < 0 ||
	    copy_keywords(c, r->keywords, &rec.keywords, err) < 0)
		return -1;
	rec.flags = (r->flags & (MAIL_FLAGS_MASK | REC_RAW)) |
	    (to_new ? REC_IN_NEW : 0);
	rec.internal_date = r->internal_date;
	rec.size = r->size;
	if (c->modseq == 0)
		c->modseq = ++c->h.highestmodseq;
	rec.modseq = c->modseq;
	if (copy_payload(c, &rec, r) < 0 ||
	    cache_append(c->dst->cache, CACHE_T_MESSAGE, rec.uid, c->payload.s,
	    c->payload.len, &rec.cache_off) < 0)
		return -1;
	rec.name_off = rec.cache_off;
	c->h.cache_end = cache_entry_end(rec.cache_off, c->payload.len);
	if (index_put(c->dst->ix, c->h.count, &rec) < 0)
		return -1;
	c->h.count++;
	c->h.uidnext = rec.uid + 1;
	mailbox_count(&c->h, NULL, &rec);
	mailbox_digest_add(&c->h, c->dname.s, c->dname.len, 1);
	*uid_r = rec.uid;
	return 1;
}

static int
copy_pass(struct copy *c, const uint32_t *uids, size_t n, uint32_t *dst_uids,
    struct str *err)
{
	uint32_t pos = 0;
	size_t i;
	int copied = 0;

	for (i = 0; i < n; i++) {
		struct index_record r;
		uint32_t seq, uid = 0;
		int found, rc;

		if (c->resync || (i > 0 && uids[i] <= uids[i - 1]))
			pos = 0;
		c->resync = 0;
		found = mailbox_find_from(c->src, c->src->hdr.count, pos,
		    uids[i], &seq, &r);
		if (found < 0)
			return -1;
		if (found == 1) {
			pos = seq + 1;
			if (!(r.flags & REC_EXPUNGED)) {
				if ((rc = copy_one(c, &r, &uid, err)) < 0)
					return -1;
				copied += rc;
			}
		}
		if (dst_uids != NULL)
			dst_uids[i] = uid;
	}
	return copied;
}

/* Take back the links of a copy that failed. */
static void
copy_undo(struct copy *c)
{
	struct str p = STR_INIT;
	size_t off;

	for (off = 0; off < c->linked.len; off += strlen(c->linked.s + off) + 1)
		if (mailbox_path(c->dst, c->linked.s + off, &p) == 0)
			unlink(p.s);
	str_free(&p);
}

static void
copy_free(struct copy *c)
{
	str_free(&c->linked);
	str_free(&c->sname);
	str_free(&c->spath);
	str_free(&c->dname);
	str_free(&c->dpath);
	str_free(&c->base);
	str_free(&c->payload);
}

int
mailbox_copy(struct mailbox *src, const uint32_t *uids, size_t n,
    struct mailbox *dst, uint32_t *dst_uids_r, struct str *err)
{
	struct copy c;
	int was_locked = dst->locked, rc = -1, copied;

	memset(&c, 0, sizeof(c));
	c.src = src;
	c.dst = dst;
	c.same = copy_same(src, dst);
	if (dst_uids_r != NULL && n > 0)
		memset(dst_uids_r, 0, n * sizeof(*dst_uids_r));
	if (!c.same && mailbox_refresh(src, err) < 0)
		return -1;
	if (!was_locked && mailbox_lock(dst) < 0) {
		str_appendf(err, "%s: cannot lock: %s", dst->dir, strerror(errno));
		return -1;
	}
	if (mailbox_refresh(dst, err) < 0 || (c.same && src != dst &&
	    mailbox_refresh(src, err) < 0))
		goto out;
	c.h = dst->hdr;
	if (mailbox_dirs_before(dst, &c.h, &c.dirs) < 0)
		goto fail;
	copied = copy_pass(&c, uids, n, dst_uids_r, err);
	if (copied < 0 || mailbox_dirs_after(dst, &c.h, &c.dirs) < 0 ||
	    index_commit(dst->ix, &c.h) < 0)
		goto fail;
	dst->hdr = c.h;
	rc = copied;
	goto out;
fail:
	copy_undo(&c);
	if (dst_uids_r != NULL && n > 0)
		memset(dst_uids_r, 0, n * sizeof(*dst_uids_r));
	if (err->len == 0)
		str_appendf(err, "%s: copy: %s", dst->dir, strerror(errno));
out:
	if (!was_locked)
		mailbox_unlock(dst);
	/* acknowledged copies must survive a crash: the links are entries */
	if (rc > 0 && mailbox_dirs_fsync(dst, &c.dirs) < 0) {
		str_appendf(err, "%s: fsync: %s", dst->dir, strerror(errno));
		rc = -1;
	}
	copy_free(&c);
	return rc;
}
