/* SPDX-License-Identifier: ISC */
#include "mailbox-private.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "maildir.h"
#include "msgcache.h"

#define MSG_BUF 65536

struct mailbox_msg {
	struct mailbox *mb;
	int fd;
	struct str tmp;		/* path of the file in tmp/ */
	int wire;		/* input is SMTP wire form */
	int raw;		/* disk holds wire bytes (a bare LF was seen) */
	int pending_cr;
	int finished;		/* the file is complete, payload holds the cache
				   entry (mailbox_msg_finish) */
	uint64_t max;		/* wire size limit, 0 none */
	uint64_t disk_size, wire_size;
	time_t idate;		/* internal date, once finished */
	struct msgcache *mc;
	struct str payload;	/* the cache entry, once finished */
	size_t dlen, wlen;
	/* Both buffers are freed once the message is finished: a batch may
	 * hold many finished messages at a time. */
	unsigned char *dbuf;	/* MSG_BUF bytes to the file */
	unsigned char *wbuf;	/* MSG_BUF bytes to the parser */
};

int
mailbox_msg_begin(struct mailbox *mb, int wire, struct mailbox_msg **m_r,
    struct str *err)
{
	struct mailbox_msg *m = calloc(1, sizeof(*m));
	struct str base = STR_INIT;

	if (m == NULL)
		return -1;
	m->mb = mb;
	m->wire = wire;
	m->fd = -1;
	m->mc = msgcache_new();
	m->dbuf = malloc(2 * (size_t)MSG_BUF);
	m->wbuf = m->dbuf != NULL ? m->dbuf + MSG_BUF : NULL;
	if (m->mc == NULL || m->dbuf == NULL ||
	    maildir_base_new(&base, mb->host, mb->counter++, 0, 0, 0) < 0 ||
	    str_appendf(&m->tmp, "%s/tmp/%s", mb->dir, base.s) < 0)
		goto fail;
	m->fd = open(m->tmp.s, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (m->fd < 0) {
		str_appendf(err, "%s: %s", m->tmp.s, strerror(errno));
		goto fail;
	}
	str_free(&base);
	*m_r = m;
	return 0;
fail:
	str_free(&base);
	mailbox_msg_abort(&m);
	return -1;
}

void
mailbox_msg_limit(struct mailbox_msg *m, uint64_t max)
{
	m->max = max;
}

static int
msg_flush(struct mailbox_msg *m)
{
	if (m->dlen > 0) {
		if (fs_write_all(m->fd, m->dbuf, m->dlen) < 0)
			return -1;
		m->dlen = 0;
	}
	if (m->wlen > 0) {
		if (msgcache_feed(m->mc, m->wbuf, m->wlen) < 0)
			return -1;
		m->wlen = 0;
	}
	return 0;
}

static int
msg_put(struct mailbox_msg *m, const char *d, size_t dn, const char *w,
    size_t wn)
{
	if ((m->dlen + dn > MSG_BUF || m->wlen + wn > MSG_BUF) &&
	    msg_flush(m) < 0)
		return -1;
	memcpy(m->dbuf + m->dlen, d, dn);
	m->dlen += dn;
	memcpy(m->wbuf + m->wlen, w, wn);
	m->wlen += wn;
	m->disk_size += dn;
	m->wire_size += wn;
	if (m->max != 0 && m->wire_size > m->max) {
		errno = EFBIG;
		return -1;
	}
	return 0;
}

/* A bare LF in wire input: the LF-text file written so far becomes wire
 * bytes again (lossless, since it had no bare LF), and the rest is copied
 * as it comes. */
static int
msg_go_raw(struct mailbox_msg *m)
{
	struct str tmp2 = STR_INIT;
	unsigned char in[8192], out[16384];
	off_t off = 0;
	int fd2 = -1;

	if (msg_flush(m) < 0 || str_appendf(&tmp2, "%s.raw", m->tmp.s) < 0)
		goto fail;
	fd2 = open(tmp2.s, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd2 < 0)
		goto fail;
	for (;;) {
		ssize_t n = pread(m->fd, in, sizeof(in), off), i;
		size_t o = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		if (n == 0)
			break;
		for (i = 0; i < n; i++) {
			if (in[i] == '\n')
				out[o++] = '\r';
			out[o++] = in[i];
		}
		if (fs_write_all(fd2, out, o) < 0)
			goto fail;
		off += n;
	}
	if (rename(tmp2.s, m->tmp.s) < 0)
		goto fail;
	close(m->fd);
	m->fd = fd2;
	m->raw = 1;
	m->disk_size = m->wire_size;
	str_free(&tmp2);
	return 0;
fail:
	if (fd2 >= 0) {
		close(fd2);
		unlink(tmp2.s);
	}
	str_free(&tmp2);
	return -1;
}

int
mailbox_msg_write(struct mailbox_msg *m, const void *p, size_t n)
{
	const char *s = p;
	size_t i;

	if (m->finished) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (m->raw) {
			if (msg_put(m, &c, 1, &c, 1) < 0)
				return -1;
			continue;
		}
		if (m->pending_cr) {
			m->pending_cr = 0;
			if (c == '\n') {
				if (msg_put(m, "\n", 1, "\r\n", 2) < 0)
					return -1;
				continue;
			}
			if (msg_put(m, "\r", 1, "\r", 1) < 0)
				return -1;
		}
		if (c == '\r')
			m->pending_cr = 1;
		else if (c != '\n') {
			if (msg_put(m, &c, 1, &c, 1) < 0)
				return -1;
		} else if (!m->wire) {
			if (msg_put(m, "\n", 1, "\r\n", 2) < 0)
				return -1;
		} else {
			if (msg_go_raw(m) < 0 || msg_put(m, "\n", 1, "\n", 1) < 0)
				return -1;
		}
	}
	return 0;
}

int
mailbox_msg_finish(struct mailbox_msg *m, time_t idate)
{
	struct timespec ts[2];

	if (m->finished)
		return 0;
	if (m->pending_cr) {
		m->pending_cr = 0;
		if (msg_put(m, "\r", 1, "\r", 1) < 0)
			return -1;
	}
	if (msg_flush(m) < 0)
		return -1;
	/* The file's mtime carries the internal date for rebuilds. */
	ts[0].tv_sec = ts[1].tv_sec = idate;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	str_clear(&m->payload);
	if (futimens(m->fd, ts) < 0 ||
	    msgcache_finish(m->mc, m->raw, &m->payload) < 0)
		return -1;
	/* Start writing the file out now, so that the batch's sync later
	 * finds little left to write.  Only a hint: fsync() or syncfs()
	 * still decide durability. */
	(void)sync_file_range(m->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	msgcache_free(&m->mc);
	free(m->dbuf);
	m->dbuf = m->wbuf = NULL;
	m->idate = idate;
	m->finished = 1;
	return 0;
}

/* One directory a batch links into: new/ or cur/. */
struct batch_dir {
	int used;
	struct stat before, after;
};

/* Under the lock: name the file after its UID and link it into new/ or
 * cur/ (name_r: "new/..." or "cur/..."). */
static int
msg_link(struct mailbox_msg *m, uint32_t uid, unsigned flags, int to_cur,
    struct str *name_r)
{
	struct mailbox *mb = m->mb;
	struct str base = STR_INIT, path = STR_INIT;
	const char *sub = to_cur ? "cur" : "new";
	int tries, rc = -1;

	for (tries = 0; tries < 20; tries++) {
		if (maildir_base_new(&base, mb->host, mb->counter++,
		    m->disk_size, m->wire_size, uid) < 0)
			goto out;
		str_clear(name_r);
		if (str_appendf(name_r, "%s/", sub) < 0)
			goto out;
		if (to_cur) {
			if (maildir_name_with_flags(name_r, base.s, base.len,
			    flags, NULL) < 0)
				goto out;
		} else if (str_append(name_r, base.s, base.len) < 0)
			goto out;
		if (mailbox_path(mb, name_r->s, &path) < 0)
			goto out;
		if (link(m->tmp.s, path.s) == 0)
			break;
		if (errno != EEXIST)
			goto out;
	}
	if (tries == 20) {
		errno = EEXIST;
		goto out;
	}
	rc = 0;
out:
	str_free(&base);
	str_free(&path);
	return rc;
}

/* stat new/ (is_cur 0) or cur/ into st. */
static int
dir_stat(struct mailbox *mb, int is_cur, struct stat *st)
{
	struct str path = STR_INIT;
	int rc = mailbox_path(mb, is_cur ? "cur" : "new", &path);

	if (rc == 0)
		rc = stat(path.s, st);
	str_free(&path);
	return rc;
}

/* Record a failure of item c: the first one's text goes to err. */
static void __attribute__((format(printf, 4, 5)))
item_fail(struct mailbox_commit *c, int e, struct str *err, const char *fmt,
    ...)
{
	va_list ap;

	c->error = e != 0 ? e : EIO;
	if (err != NULL && err->len == 0) {
		va_start(ap, fmt);
		str_vappendf(err, fmt, ap);
		va_end(ap);
	}
}

/* Step 1, before the lock: every file complete and on disk.  Two or more
 * files are made durable with one syncfs(2) of their file system instead
 * of an fsync each: on a file system without a journal (or with one that
 * commits per inode) every fsync is a separate cache flush, 1.5 ms each
 * on the disks measured, and a batch's fsyncs one after the other capped
 * a delivery worker near 600 messages a second.  syncfs writes every
 * dirty inode and data block of the file system and flushes once; it
 * reports write-back errors since Linux 5.8.  When it fails, each file is
 * fsynced on its own, so an error lands on the message it belongs to. */
static void
batch_fsync(struct mailbox_commit *c, size_t n, struct str *err)
{
	size_t i, ok = 0;
	int fd = -1;

	for (i = 0; i < n; i++) {
		struct mailbox_msg *m = c[i].msg;

		if (c[i].error != 0)
			continue;
		if (mailbox_msg_finish(m, c[i].internal_date) < 0) {
			item_fail(&c[i], errno, err, "writing %s: %s", m->tmp.s,
			    strerror(errno));
			continue;
		}
		ok++;
		fd = m->fd;
	}
	if (ok >= 2 && syncfs(fd) == 0)
		return;
	for (i = 0; i < n; i++) {
		struct mailbox_msg *m = c[i].msg;

		if (c[i].error == 0 && fsync(m->fd) < 0)
			item_fail(&c[i], errno, err, "writing %s: %s", m->tmp.s,
			    strerror(errno));
	}
}

/* Step 2, under the lock: link every message into its directory, giving
 * UIDs from uidnext up; linked[i] says which made it. */
static void
batch_link(struct mailbox *mb, struct mailbox_commit *c, size_t n,
    struct batch_dir *dirs, struct str *names, struct str *err)
{
	uint32_t uid = mb->hdr.uidnext;
	size_t i;

	for (i = 0; i < n; i++) {
		struct batch_dir *d = &dirs[c[i].to_cur != 0];

		if (c[i].error != 0)
			continue;
		if (!d->used) {
			if (dir_stat(mb, c[i].to_cur, &d->before) < 0) {
				item_fail(&c[i], errno, err, "%s: link: %s",
				    mb->dir, strerror(errno));
				continue;
			}
			d->used = 1;
		}
		if (msg_link(c[i].msg, uid, c[i].flags, c[i].to_cur,
		    &names[i]) < 0) {
			item_fail(&c[i], errno, err, "%s: link: %s", mb->dir,
			    strerror(errno));
			continue;
		}
		c[i].uid = uid++;
	}
	for (i = 0; i < 2; i++)
		if (dirs[i].used && dir_stat(mb, (int)i, &dirs[i].after) < 0)
			dirs[i].after = dirs[i].before;	/* next sync looks */
}

/* Remove the link of item i (under the lock: nobody has seen it in the
 * index, and the caller's retry must not duplicate). */
static void
batch_unlink(struct mailbox *mb, const struct str *name)
{
	struct str path = STR_INIT;

	if (mailbox_path(mb, name->s, &path) == 0)
		unlink(path.s);
	str_free(&path);
}

/* Our own links moved the directories' mtimes: keep the record in h
 * current unless someone else had moved one before us (then the next sync
 * looks). */
static void
batch_mtimes(struct index_header *h, const struct batch_dir *dirs)
{
	int d;

	for (d = 0; d < 2; d++) {
		if (!dirs[d].used)
			continue;
		if ((d ? h->cur_mtime_sec : h->new_mtime_sec) ==
		    (int64_t)dirs[d].before.st_mtim.tv_sec &&
		    (d ? h->cur_mtime_nsec : h->new_mtime_nsec) ==
		    (uint32_t)dirs[d].before.st_mtim.tv_nsec)
			mailbox_dir_mtime_store(h, !d, &dirs[d].after);
	}
}

/* Step 3, under the lock: a cache entry and a record for every linked
 * message, then one header write (the commit point).  A message whose
 * cache entry or record fails is unlinked alone; a failed header write
 * unlinks them all. */
static void
batch_record(struct mailbox *mb, struct mailbox_commit *c, size_t n,
    const struct batch_dir *dirs, struct str *names, struct str *err)
{
	struct index_header h = mb->hdr;
	struct index_record r;
	uint64_t off;
	size_t i;

	for (i = 0; i < n; i++) {
		struct mailbox_msg *m = c[i].msg;

		if (c[i].error != 0)
			continue;
		memset(&r, 0, sizeof(r));
		r.uid = c[i].uid;
		r.flags = (c[i].flags & MAIL_FLAGS_MASK) |
		    (m->raw ? REC_RAW : 0) | (c[i].to_cur ? 0 : REC_IN_NEW);
		r.internal_date = m->idate;
		r.size = m->wire_size;
		r.keywords = c[i].keywords;
		if (cache_item_add(&m->payload, CI_NAME, names[i].s,
		    names[i].len) < 0 ||
		    cache_append(mb->cache, CACHE_T_MESSAGE, r.uid,
		    m->payload.s, m->payload.len, &off) < 0) {
			item_fail(&c[i], errno, err, "%s: index: %s", mb->dir,
			    strerror(errno));
			batch_unlink(mb, &names[i]);
			continue;
		}
		r.cache_off = r.name_off = off;
		r.modseq = h.highestmodseq + 1;
		if (index_put(mb->ix, h.count, &r) < 0) {
			item_fail(&c[i], errno, err, "%s: index: %s", mb->dir,
			    strerror(errno));
			batch_unlink(mb, &names[i]);
			continue;
		}
		h.cache_end = cache_entry_end(off, m->payload.len);
		h.highestmodseq = r.modseq;
		h.count++;
		h.uidnext = r.uid + 1;
		mailbox_count(&h, NULL, &r);
		mailbox_digest_add(&h, names[i].s, names[i].len, 1);
	}
	batch_mtimes(&h, dirs);
	if (h.count == mb->hdr.count)
		return;		/* nothing recorded: nothing to commit */
	if (index_commit(mb->ix, &h) < 0) {
		int saved = errno;

		for (i = 0; i < n; i++) {
			if (c[i].error != 0)
				continue;
			item_fail(&c[i], saved, err, "%s: index: %s", mb->dir,
			    strerror(saved));
			batch_unlink(mb, &names[i]);
		}
		return;
	}
	mb->hdr = h;
}

/* Step 4, after the lock: the tmp/ names go, and each directory linked
 * into is fsynced once; until then nothing is reported committed. */
static void
batch_sync(struct mailbox *mb, struct mailbox_commit *c, size_t n,
    const struct batch_dir *dirs, struct str *err)
{
	struct str path = STR_INIT;
	int bad[2] = { 0, 0 }, d;
	size_t i;

	for (i = 0; i < n; i++) {
		if (c[i].error == 0) {
			unlink(c[i].msg->tmp.s);
			str_clear(&c[i].msg->tmp);	/* nothing to remove */
		}
	}
	for (d = 0; d < 2; d++) {
		if (!dirs[d].used)
			continue;
		if (mailbox_path(mb, d ? "cur" : "new", &path) < 0 ||
		    fs_fsync_dir(path.s) < 0) {
			bad[d] = errno != 0 ? errno : EIO;
			if (err->len == 0)
				str_appendf(err, "%s: fsync: %s", path.s,
				    strerror(errno));
		}
	}
	for (i = 0; i < n; i++)
		if (c[i].error == 0 && bad[c[i].to_cur != 0])
			c[i].error = bad[c[i].to_cur != 0];
	str_free(&path);
}

int
mailbox_msg_commit_batch(struct mailbox_commit *c, size_t n, struct str *err)
{
	struct mailbox *mb = NULL;
	struct batch_dir dirs[2];
	struct str *names = NULL;
	size_t i, ok = 0;
	int first = 0;

	memset(dirs, 0, sizeof(dirs));
	for (i = 0; i < n; i++) {
		c[i].uid = 0;
		c[i].error = 0;
		if (c[i].msg == NULL || (mb != NULL && c[i].msg->mb != mb))
			item_fail(&c[i], EINVAL, err, "commit: %s",
			    c[i].msg == NULL ? "no message" :
			    "messages of two mailboxes");
		else
			mb = c[i].msg->mb;
	}
	if (mb != NULL && (names = calloc(n, sizeof(*names))) == NULL)
		for (i = 0; i < n; i++)
			item_fail(&c[i], errno, err, "commit: %s",
			    strerror(errno));
	if (names != NULL) {
		batch_fsync(c, n, err);
		if (mailbox_lock(mb) < 0) {
			for (i = 0; i < n; i++)
				if (c[i].error == 0)
					item_fail(&c[i], errno, err,
					    "%s: cannot lock: %s", mb->dir,
					    strerror(errno));
		} else {
			if (mailbox_refresh(mb, err) < 0) {
				for (i = 0; i < n; i++)
					if (c[i].error == 0)
						c[i].error = errno != 0 ?
						    errno : EIO;
			} else {
				batch_link(mb, c, n, dirs, names, err);
				batch_record(mb, c, n, dirs, names, err);
			}
			mailbox_unlock(mb);
			batch_sync(mb, c, n, dirs, err);
		}
	}
	for (i = 0; i < n; i++) {
		if (names != NULL)
			str_free(&names[i]);
		if (c[i].error == 0)
			ok++;
		else if (first == 0)
			first = c[i].error;
		mailbox_msg_abort(&c[i].msg);
	}
	free(names);
	if (ok == n)
		return 0;
	errno = first;
	return -1;
}

int
mailbox_msg_commit(struct mailbox_msg **mp, unsigned flags,
    uint64_t keywords, time_t idate, int to_cur, uint32_t *uid_r,
    struct str *err)
{
	struct mailbox_commit c;
	int rc;

	memset(&c, 0, sizeof(c));
	c.msg = *mp;
	c.flags = flags;
	c.keywords = keywords;
	c.internal_date = idate;
	c.to_cur = to_cur;
	*mp = NULL;
	rc = mailbox_msg_commit_batch(&c, 1, err);
	if (rc == 0 && uid_r != NULL)
		*uid_r = c.uid;
	return rc;
}

void
mailbox_msg_abort(struct mailbox_msg **mp)
{
	struct mailbox_msg *m = *mp;

	if (m == NULL)
		return;
	if (m->fd >= 0)
		close(m->fd);
	if (m->tmp.len > 0)
		unlink(m->tmp.s);
	str_free(&m->tmp);
	str_free(&m->payload);
	msgcache_free(&m->mc);
	free(m->dbuf);
	free(m);
	*mp = NULL;
}
