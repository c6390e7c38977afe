/* SPDX-License-Identifier: ISC */
#include "mailbox-private.h"

#include <errno.h>
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
	uint64_t max;		/* wire size limit, 0 none */
	uint64_t disk_size, wire_size;
	struct msgcache *mc;
	size_t dlen, wlen;
	unsigned char dbuf[MSG_BUF];	/* to the file */
	unsigned char wbuf[MSG_BUF];	/* to the parser */
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
	if (m->mc == NULL ||
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

static int
msg_finish_file(struct mailbox_msg *m, time_t idate)
{
	struct timespec ts[2];

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
	if (futimens(m->fd, ts) < 0 || fsync(m->fd) < 0)
		return -1;
	return 0;
}

/* Under the lock: name the file after its UID and link it in. */
static int
msg_link(struct mailbox_msg *m, uint32_t uid, unsigned flags, int to_cur,
    struct str *name, struct stat *before, struct stat *after)
{
	struct mailbox *mb = m->mb;
	struct str base = STR_INIT, path = STR_INIT;
	const char *sub = to_cur ? "cur" : "new";
	int tries, rc = -1;

	if (mailbox_path(mb, sub, &path) < 0 || stat(path.s, before) < 0)
		goto out;
	for (tries = 0; tries < 20; tries++) {
		if (maildir_base_new(&base, mb->host, mb->counter++,
		    m->disk_size, m->wire_size, uid) < 0)
			goto out;
		str_clear(name);
		if (str_appendf(name, "%s/", sub) < 0)
			goto out;
		if (to_cur) {
			if (maildir_name_with_flags(name, base.s, base.len, flags,
			    NULL) < 0)
				goto out;
		} else if (str_append(name, base.s, base.len) < 0)
			goto out;
		if (mailbox_path(mb, name->s, &path) < 0)
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
	if (mailbox_path(mb, sub, &path) < 0 || stat(path.s, after) < 0)
		goto out;
	rc = 0;
out:
	str_free(&base);
	str_free(&path);
	return rc;
}

/* Under the lock: record the linked message in cache and index. */
static int
msg_record(struct mailbox_msg *m, struct index_record *r, struct str *payload,
    const char *name, int to_cur, const struct stat *before,
    const struct stat *after)
{
	struct mailbox *mb = m->mb;
	struct index_header h = mb->hdr;
	uint64_t off;

	if (cache_item_add(payload, CI_NAME, name, strlen(name)) < 0 ||
	    cache_append(mb->cache, CACHE_T_MESSAGE, r->uid, payload->s,
	    payload->len, &off) < 0)
		return -1;
	r->cache_off = r->name_off = off;
	h.cache_end = cache_entry_end(off, payload->len);
	r->modseq = ++h.highestmodseq;
	if (index_put(mb->ix, h.count, r) < 0)
		return -1;
	h.count++;
	h.uidnext = r->uid + 1;
	mailbox_count(&h, NULL, r);
	/* Our own link moved the mtime: keep the record current unless
	 * someone else had moved it before us (then the next sync looks). */
	if ((to_cur ? h.cur_mtime_sec : h.new_mtime_sec) ==
	    (int64_t)before->st_mtim.tv_sec &&
	    (to_cur ? h.cur_mtime_nsec : h.new_mtime_nsec) ==
	    (uint32_t)before->st_mtim.tv_nsec)
		mailbox_dir_mtime_store(&h, !to_cur, after);
	if (index_commit(mb->ix, &h) < 0)
		return -1;
	mb->hdr = h;
	return 0;
}

int
mailbox_msg_commit(struct mailbox_msg **mp, unsigned flags,
    uint64_t keywords, time_t idate, int to_cur, uint32_t *uid_r,
    struct str *err)
{
	struct mailbox_msg *m = *mp;
	struct mailbox *mb = m->mb;
	struct str payload = STR_INIT, name = STR_INIT, dir = STR_INIT;
	struct index_record r;
	struct stat before, after;
	int rc = -1, linked = 0;

	if (msg_finish_file(m, idate) < 0 ||
	    msgcache_finish(m->mc, m->raw, &payload) < 0) {
		str_appendf(err, "writing %s: %s", m->tmp.s, strerror(errno));
		goto out;
	}
	if (mailbox_lock(mb) < 0) {
		str_appendf(err, "%s: cannot lock: %s", mb->dir, strerror(errno));
		goto out;
	}
	if (mailbox_refresh(mb, err) < 0)
		goto unlock;
	memset(&r, 0, sizeof(r));
	r.uid = mb->hdr.uidnext;
	r.flags = (flags & MAIL_FLAGS_MASK) | (m->raw ? REC_RAW : 0) |
	    (to_cur ? 0 : REC_IN_NEW);
	r.internal_date = idate;
	r.size = m->wire_size;
	r.keywords = keywords;
	if (msg_link(m, r.uid, flags, to_cur, &name, &before, &after) < 0) {
		str_appendf(err, "%s: link: %s", mb->dir, strerror(errno));
		goto unlock;
	}
	linked = 1;
	if (msg_record(m, &r, &payload, name.s, to_cur, &before, &after) < 0) {
		/* Undo the link while we still hold the lock: nobody can have
		 * seen the file, and the caller's retry must not duplicate. */
		int saved = errno;

		str_appendf(err, "%s: index: %s", mb->dir, strerror(saved));
		if (mailbox_path(mb, name.s, &dir) == 0)
			unlink(dir.s);
		linked = 0;
		errno = saved;
		goto unlock;
	}
	rc = 0;
unlock:
	mailbox_unlock(mb);
	if (linked) {
		unlink(m->tmp.s);
		if (mailbox_path(mb, to_cur ? "cur" : "new", &dir) < 0 ||
		    fs_fsync_dir(dir.s) < 0) {
			str_appendf(err, "%s: fsync: %s", dir.s, strerror(errno));
			rc = -1;
		}
	}
	if (rc == 0 && uid_r != NULL)
		*uid_r = r.uid;
out:
	str_free(&payload);
	str_free(&name);
	str_free(&dir);
	if (linked)
		str_clear(&m->tmp);	/* nothing left to remove */
	mailbox_msg_abort(mp);
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
	msgcache_free(&m->mc);
	free(m);
	*mp = NULL;
}
