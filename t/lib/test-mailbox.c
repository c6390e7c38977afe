/* SPDX-License-Identifier: ISC */
/* Unit tests for lib/mailbox: appends, sync with files other programs
 * add/rename/remove, line-end conventions, corruption and rebuild. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "fs.h"
#include "mailbox.h"
#include "mbox-fixture.h"
#include "maildir.h"
#include "tomb.h"

static uint32_t
add(struct mailbox *mb, int wire, const char *text, size_t n, unsigned flags,
    int to_cur)
{
	struct mailbox_msg *m = NULL;
	struct str err = STR_INIT;
	uint32_t uid = 0;

	assert_int_equal(mailbox_msg_begin(mb, wire, &m, &err), 0);
	assert_int_equal(mailbox_msg_write(m, text, n), 0);
	if (mailbox_msg_commit(&m, flags, 0, 1700000000, to_cur, &uid, &err) < 0)
		fail_msg("commit: %s", err.s);
	assert_null(m);
	str_free(&err);
	return uid;
}

/* The content of the file of record seq. */
static void
file_of(struct mbfx *f, uint32_t seq, struct str *out, struct index_record *r)
{
	struct str name = STR_INIT, path = STR_INIT;

	assert_int_equal(mailbox_record(f->mb, seq, r), 0);
	assert_int_equal(mailbox_file_name(f->mb, r, &name), 0);
	str_appendf(&path, "%s/%s", f->dir, name.s);
	str_clear(out);
	assert_int_equal(fs_read_file(path.s, 1 << 20, out), 0);
	str_free(&name);
	str_free(&path);
}

static void
test_append_text_and_wire(void **state)
{
	struct mbfx *f = *state;
	struct str body = STR_INIT;
	struct index_record r;
	const struct index_header *h;

	assert_int_equal(add(f->mb, 0, "A: 1\r\n\r\nx\n", 10, 0, 0), 1);
	assert_int_equal(add(f->mb, 1, "B: 2\r\n\r\ny\r\n", 11, MAIL_SEEN, 1), 2);
	/* a bare LF in wire input: kept raw, byte for byte */
	assert_int_equal(add(f->mb, 1, "C: 3\r\n\r\na\nb\0c\r\r\n", 16, 0, 0), 3);
	h = mailbox_header(f->mb);
	assert_int_equal(h->count, 3);
	assert_int_equal(h->exists, 3);
	assert_int_equal(h->unseen, 2);
	assert_int_equal(h->uidnext, 4);
	file_of(f, 0, &body, &r);
	assert_string_equal(body.s, "A: 1\n\nx\n");
	assert_int_equal(r.size, 11);	/* CRLF size */
	assert_false(r.flags & REC_RAW);
	assert_true(r.flags & REC_IN_NEW);
	file_of(f, 1, &body, &r);
	assert_string_equal(body.s, "B: 2\n\ny\n");
	assert_int_equal(r.flags & MAIL_FLAGS_MASK, MAIL_SEEN);
	assert_false(r.flags & REC_IN_NEW);
	file_of(f, 2, &body, &r);
	assert_int_equal(body.len, 16);
	assert_memory_equal(body.s, "C: 3\r\n\r\na\nb\0c\r\r\n", 16);
	assert_true(r.flags & REC_RAW);
	assert_int_equal(r.size, 16);
	assert_true(r.modseq > 0);
	/* the cache entry came with the delivery */
	{
		const unsigned char *pl, *d;
		size_t pn, dn;

		assert_int_equal(mailbox_cached(f->mb, &r, &pl, &pn), 0);
		assert_int_equal(cache_item_find(pl, pn, CI_BODYSTRUCTURE, &d, &dn), 1);
		assert_true(dn > 10);
		assert_int_equal(cache_item_find(pl, pn, CI_ENVELOPE, &d, &dn), 1);
		assert_memory_equal(d, "(NIL NIL NIL", 12);
	}
	str_free(&body);
}

static void
test_wire_cr_cases(void **state)
{
	struct mbfx *f = *state;
	struct str body = STR_INIT;
	struct index_record r;

	/* CR CR LF and a lone CR convert losslessly: LF text on disk */
	add(f->mb, 1, "X: y\r\n\r\na\r\r\nb\rc\r\n", 17, 0, 0);
	file_of(f, 0, &body, &r);
	assert_string_equal(body.s, "X: y\n\na\r\nb\rc\n");
	assert_false(r.flags & REC_RAW);
	assert_int_equal(r.size, 17);
	str_free(&body);
}

static void
test_size_limit(void **state)
{
	struct mbfx *f = *state;
	struct mailbox_msg *m = NULL;
	struct str err = STR_INIT;
	char buf[100];
	DIR *d;
	struct dirent *e;
	struct str tmp = STR_INIT;
	int files = 0;

	memset(buf, 'x', sizeof(buf));
	assert_int_equal(mailbox_msg_begin(f->mb, 0, &m, &err), 0);
	mailbox_msg_limit(m, 150);
	assert_int_equal(mailbox_msg_write(m, buf, 100), 0);
	assert_int_equal(mailbox_msg_write(m, buf, 100), -1);
	assert_int_equal(errno, EFBIG);
	mailbox_msg_abort(&m);
	str_appendf(&tmp, "%s/tmp", f->dir);
	d = opendir(tmp.s);
	while ((e = readdir(d)) != NULL)
		files += e->d_name[0] != '.';
	closedir(d);
	assert_int_equal(files, 0);	/* nothing left behind */
	str_free(&tmp);
	str_free(&err);
}

static void
put_file(struct mbfx *f, const char *rel, const char *content)
{
	struct str p = STR_INIT;
	int fd;

	str_appendf(&p, "%s/%s", f->dir, rel);
	fd = open(p.s, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
	str_free(&p);
}

static void
test_sync_foreign_files(void **state)
{
	struct mbfx *f = *state;
	struct str err = STR_INIT, body = STR_INIT, a = STR_INIT, b = STR_INIT;
	struct index_record r;
	const struct index_header *h;
	uint64_t hms;

	add(f->mb, 0, "S: 1\n\n1\n", 8, 0, 0);
	put_file(f, "new/1000.foreign.host", "S: 2\n\n2\n");
	put_file(f, "cur/1001.foreign.host:2,FS", "S: 3\r\n\r\n3\r\n");
	mailbox_sync_force(f->mb);
	assert_int_equal(mailbox_sync(f->mb, &err), 0);
	h = mailbox_header(f->mb);
	assert_int_equal(h->count, 3);
	assert_int_equal(h->uidnext, 4);
	file_of(f, 1, &body, &r);
	assert_int_equal(r.uid, 2);
	assert_int_equal(r.size, 11);
	file_of(f, 2, &body, &r);
	assert_int_equal(r.flags & MAIL_FLAGS_MASK, MAIL_FLAGGED | MAIL_SEEN);
	assert_true(r.flags & REC_RAW);	/* CRLF file: served as it is */
	assert_int_equal(r.size, 11);
	assert_int_equal(h->unseen, 2);
	hms = h->highestmodseq;

	/* another program marks message 2 seen (new -> cur) and removes 3 */
	str_appendf(&a, "%s/new/1000.foreign.host", f->dir);
	str_appendf(&b, "%s/cur/1000.foreign.host:2,S", f->dir);
	assert_int_equal(rename(a.s, b.s), 0);
	str_clear(&a);
	str_appendf(&a, "%s/cur/1001.foreign.host:2,FS", f->dir);
	assert_int_equal(unlink(a.s), 0);
	mailbox_sync_force(f->mb);
	assert_int_equal(mailbox_sync(f->mb, &err), 0);
	h = mailbox_header(f->mb);
	/* 1 expunged record of 3 is more than a quarter: compacted away */
	assert_int_equal(h->count, 2);
	assert_int_equal(h->exists, 2);
	assert_int_equal(h->unseen, 1);
	assert_true(h->highestmodseq > hms);
	file_of(f, 1, &body, &r);
	assert_int_equal(r.flags & MAIL_FLAGS_MASK, MAIL_SEEN);
	assert_false(r.flags & REC_IN_NEW);
	assert_int_equal(mailbox_find_uid(f->mb, 3, NULL, &r), -1);
	assert_int_equal(errno, ENOENT);
	str_free(&err);
	str_free(&body);
	str_free(&a);
	str_free(&b);
}

/* Without forcing: a file dropped into new/ is found because new/'s
 * mtime moved. */
static void
test_sync_by_mtime(void **state)
{
	struct mbfx *f = *state;
	struct str err = STR_INIT, p = STR_INIT;
	struct timespec ts[2] = { { 1000000000, 0 }, { 1000000000, 0 } };

	add(f->mb, 0, "S: 1\n\n1\n", 8, 0, 0);
	/* make new/'s stored mtime old and settled */
	str_appendf(&p, "%s/new", f->dir);
	assert_int_equal(utimensat(AT_FDCWD, p.s, ts, 0), 0);
	mailbox_sync_force(f->mb);
	assert_int_equal(mailbox_sync(f->mb, &err), 0);
	assert_int_equal(mailbox_sync(f->mb, &err), 0);	/* nothing to do */
	put_file(f, "new/2000.other.host", "S: 2\n\n2\n");
	assert_int_equal(mailbox_sync(f->mb, &err), 0);
	assert_int_equal(mailbox_header(f->mb)->count, 2);
	str_free(&err);
	str_free(&p);
}

static void
rebuild_and_compare(struct mbfx *f, int remove_index)
{
	struct mailbox_rebuild_stats st;
	struct str err = STR_INIT, p = STR_INIT;
	struct index_record before[4], after;
	uint32_t uv = mailbox_header(f->mb)->uidvalidity, i;

	for (i = 0; i < 4; i++)
		assert_int_equal(mailbox_record(f->mb, i, &before[i]), 0);
	mailbox_close(&f->mb);
	str_appendf(&p, "%s/zest.index", f->dir);
	if (remove_index) {
		assert_int_equal(unlink(p.s), 0);
		str_clear(&p);
		str_appendf(&p, "%s/zest.cache", f->dir);
		assert_int_equal(unlink(p.s), 0);
	} else {
		int fd = open(p.s, O_RDWR);

		/* damage the header and the second record */
		assert_int_equal(pwrite(fd, "garbage", 7, 20), 7);
		assert_int_equal(pwrite(fd, "garbage", 7, 128 + 64 + 8), 7);
		close(fd);
	}
	assert_int_equal(mailbox_open(f->dir, 0, 5, &f->mb, &err), 0);
	assert_int_equal(mailbox_header(f->mb)->uidvalidity, uv);
	assert_int_equal(mailbox_header(f->mb)->count, 4);
	assert_int_equal(mailbox_header(f->mb)->uidnext, 6);
	for (i = 0; i < 4; i++) {
		assert_int_equal(mailbox_record(f->mb, i, &after), 0);
		assert_int_equal(after.uid, before[i].uid);
		assert_int_equal(after.size, before[i].size);
		assert_int_equal(after.flags & (MAIL_FLAGS_MASK | REC_RAW),
		    before[i].flags & (MAIL_FLAGS_MASK | REC_RAW));
	}
	assert_int_equal(mailbox_reconstruct(f->dir, 5, &st, &err), 0);
	assert_int_equal(st.messages, 4);
	assert_int_equal(st.kept_uids, 4);
	assert_int_equal(st.new_uids, 0);
	str_free(&err);
	str_free(&p);
}

static void
test_rebuild_keeps_uids(void **state)
{
	struct mbfx *f = *state;
	uint32_t i;

	for (i = 0; i < 5; i++)
		add(f->mb, 0, "S: x\n\nx\n", 8, i == 2 ? MAIL_FLAGGED : 0, i == 2);
	/* remove message 1 (uid 1) by hand: UIDs 2..5 remain */
	{
		struct str name = STR_INIT, p = STR_INIT, err = STR_INIT;
		struct index_record r;

		assert_int_equal(mailbox_record(f->mb, 0, &r), 0);
		assert_int_equal(mailbox_file_name(f->mb, &r, &name), 0);
		str_appendf(&p, "%s/%s", f->dir, name.s);
		assert_int_equal(unlink(p.s), 0);
		assert_int_equal(mailbox_reconstruct(f->dir, 5, &(struct mailbox_rebuild_stats){0}, &err), 0);
		str_free(&name);
		str_free(&p);
		str_free(&err);
	}
	{
		struct str err = STR_INIT;

		assert_int_equal(mailbox_refresh(f->mb, &err), 0);
		str_free(&err);
	}
	assert_int_equal(mailbox_header(f->mb)->count, 4);
	rebuild_and_compare(f, 1);
	rebuild_and_compare(f, 0);
	/* the UID of the removed message is never given again */
	assert_int_equal(add(f->mb, 0, "S: y\n\ny\n", 8, 0, 0), 6);
}

static void
test_keywords_survive(void **state)
{
	struct mbfx *f = *state;
	const struct mbmeta *m = mailbox_meta(f->mb);

	assert_int_equal(m->nkeywords, 0);
	assert_true(mailbox_header(f->mb)->uidvalidity > 0);
}

/* The cache writer of a rebuild: entries of every padding, past several of
 * its in-memory pieces, read back as cache_append would have left them. */
static void
test_cache_writer(void **state)
{
	struct mbfx *f = *state;
	struct cache_writer *w = NULL;
	struct cache *c = NULL;
	struct str path = STR_INIT, pl = STR_INIT;
	uint64_t off[3000], end = 0;
	const unsigned char *d;
	size_t n, i, k;

	str_appendf(&path, "%s/test.cache", f->dir);
	assert_int_equal(cache_writer_open(path.s, 77, &w), 0);
	for (i = 0; i < 3000; i++) {
		str_clear(&pl);
		for (k = 0; k < (i * 37) % 1500; k++)
			str_appendc(&pl, (char)('a' + (i + k) % 26));
		assert_int_equal(cache_writer_add(w, 1 + i % 2, (uint32_t)i + 1,
		    pl.s ? pl.s : "", pl.len, &off[i]), 0);
		assert_true(off[i] >= end && off[i] % 8 == 0);
		end = cache_entry_end(off[i], pl.len);
	}
	assert_int_equal(cache_writer_finish(w), 0);
	cache_writer_free(&w);
	assert_null(w);
	/* it must not overwrite a file that is there */
	assert_int_equal(cache_writer_open(path.s, 77, &w), -1);
	assert_int_equal(cache_open(path.s, 0, 0, 77, &c), 0);
	assert_true(cache_file_size(c) == end);
	for (i = 0; i < 3000; i++) {
		assert_int_equal(cache_read(c, off[i], 1 + i % 2, (uint32_t)i + 1,
		    &d, &n), 0);
		assert_int_equal(n, (i * 37) % 1500);
		for (k = 0; k < n; k++)
			assert_int_equal(d[k], 'a' + (i + k) % 26);
	}
	assert_int_equal(cache_read(c, off[5], 1, 6, &d, &n), -1);
	cache_close(&c);
	str_free(&path);
	str_free(&pl);
}

#define MANY 10000
#define MANY_UID 50000u

/* Name of file i of test_rebuild_many: every 10th in new/, the rest in
 * cur/ with flags; every 7th without ,S= and ,W=; file 5 has CRLF line
 * ends and no sizes; the last two both claim ,U=MANY_UID. */
static void
many_name(size_t i, size_t len, struct str *out)
{
	str_clear(out);
	str_appendf(out, "%s/%zu.M%06zuP7Q%zu.test", i % 10 == 0 ? "new" : "cur",
	    (size_t)1600000000 + i, i % 1000000, i);
	if (i % 7 != 0 && i != 5)
		str_appendf(out, ",S=%zu,W=%zu", len, len + 3);
	if (i >= MANY - 2)
		str_appendf(out, ",U=%u", MANY_UID);
	if (i % 10 != 0)
		str_appends(out, i % 3 == 0 ? ":2,S" : ":2,FS");
}

/* A Maildir another program filled, indexed from nothing (the first
 * SELECT): UIDs in name order after the kept one, the duplicate ,U= moved
 * after it, flags from the names, dates from the mtimes, sizes from ,W= or
 * the line ends, the CRLF file parsed and kept raw; a reconstruct then
 * keeps every UID. */
static void
test_rebuild_many(void **state)
{
	struct mbfx *f = *state;
	struct str name = STR_INIT, path = STR_INIT, body = STR_INIT;
	struct str err = STR_INIT, got = STR_INIT;
	struct mailbox_rebuild_stats st;
	const char *const gone[] = { "zest.index", "zest.cache", "zest.header" };
	size_t i;

	mailbox_close(&f->mb);
	for (i = 0; i < 3; i++) {
		str_clear(&path);
		str_appendf(&path, "%s/%s", f->dir, gone[i]);
		assert_int_equal(unlink(path.s), 0);
	}
	for (i = 0; i < MANY; i++) {
		struct timespec ts[2] = { { 1500000000 + (time_t)i, 0 },
			{ 1500000000 + (time_t)i, 0 } };
		int fd;

		str_clear(&body);
		if (i == 5)
			str_appends(&body, "Subject: crlf\r\n\r\nbody\r\n");
		else
			str_appendf(&body, "Subject: m%zu\n\nbody\n", i);
		many_name(i, body.len, &name);
		str_clear(&path);
		str_appendf(&path, "%s/%s", f->dir, name.s);
		fd = open(path.s, O_WRONLY | O_CREAT | O_EXCL, 0600);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, body.s, body.len), (ssize_t)body.len);
		assert_int_equal(futimens(fd, ts), 0);
		close(fd);
	}
	if (mailbox_open(f->dir, 0, 5, &f->mb, &err) < 0)
		fail_msg("open: %s", err.s);
	assert_int_equal(mailbox_header(f->mb)->count, MANY);
	assert_int_equal(mailbox_header(f->mb)->exists, MANY);
	assert_int_equal(mailbox_header(f->mb)->uidnext, MANY_UID + MANY);
	for (i = 0; i < MANY; i++) {
		/* seq 0: file MANY-2 (kept), 1: MANY-1 (duplicate), then
		 * the others in name order */
		size_t file = i == 0 ? MANY - 2 : i == 1 ? MANY - 1 : i - 2;
		struct index_record r;
		size_t len;

		assert_int_equal(mailbox_record(f->mb, (uint32_t)i, &r), 0);
		assert_int_equal(r.uid, MANY_UID + i);
		str_clear(&body);
		str_appendf(&body, "Subject: m%zu\n\nbody\n", file);
		len = file == 5 ? 23 : body.len;
		many_name(file, len, &name);
		assert_int_equal(mailbox_file_name(f->mb, &r, &got), 0);
		assert_string_equal(got.s, name.s);
		assert_int_equal(r.internal_date, 1500000000 + (int64_t)file);
		assert_int_equal(r.size, file == 5 ? 23 : len + 3);
		assert_int_equal(r.flags & REC_RAW, file == 5 ? REC_RAW : 0);
		assert_int_equal(r.flags & REC_IN_NEW,
		    file % 10 == 0 ? REC_IN_NEW : 0);
		assert_int_equal(r.flags & MAIL_FLAGS_MASK, file % 10 == 0 ? 0 :
		    file % 3 == 0 ? MAIL_SEEN : MAIL_SEEN | MAIL_FLAGGED);
		/* only the CRLF file has its MESSAGE entry already */
		assert_int_equal(r.cache_off != 0, file == 5);
	}
	assert_int_equal(mailbox_check(f->mb), 0);
	assert_int_equal(mailbox_reconstruct(f->dir, 5, &st, &err), 0);
	assert_int_equal(st.messages, MANY);
	assert_int_equal(st.kept_uids, MANY);
	assert_int_equal(st.new_uids, 0);
	str_free(&name);
	str_free(&path);
	str_free(&body);
	str_free(&err);
	str_free(&got);
}

/* Files another program put into an indexed mailbox, found by a sync:
 * records in name order after the delivered ones, their cache entries
 * written together after the existing ones, which still read. */
static void
test_sync_many(void **state)
{
	struct mbfx *f = *state;
	struct str name = STR_INIT, path = STR_INIT, body = STR_INIT;
	struct str err = STR_INIT, got = STR_INIT;
	const unsigned char *pl;
	size_t i, n, plen;
	struct index_record r;

	assert_int_equal(add(f->mb, 0, "Subject: one\n\nx\n", 16, 0, 0), 1);
	assert_int_equal(add(f->mb, 0, "Subject: two\n\ny\n", 16, 0, 1), 2);
	n = 3000;
	for (i = 0; i < n; i++) {
		struct timespec ts[2] = { { 1500000000 + (time_t)i, 0 },
			{ 1500000000 + (time_t)i, 0 } };
		int fd;

		str_clear(&body);
		if (i == 5)
			str_appends(&body, "Subject: crlf\r\n\r\nbody\r\n");
		else
			str_appendf(&body, "Subject: m%zu\n\nbody\n", i);
		many_name(i, body.len, &name);
		str_clear(&path);
		str_appendf(&path, "%s/%s", f->dir, name.s);
		fd = open(path.s, O_WRONLY | O_CREAT | O_EXCL, 0600);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, body.s, body.len), (ssize_t)body.len);
		assert_int_equal(futimens(fd, ts), 0);
		close(fd);
	}
	mailbox_sync_force(f->mb);
	if (mailbox_sync(f->mb, &err) < 0)
		fail_msg("sync: %s", err.s);
	assert_int_equal(mailbox_header(f->mb)->count, n + 2);
	assert_int_equal(mailbox_header(f->mb)->uidnext, n + 3);
	for (i = 0; i < n; i++) {
		size_t len;

		assert_int_equal(mailbox_record(f->mb, (uint32_t)i + 2, &r), 0);
		assert_int_equal(r.uid, i + 3);
		str_clear(&body);
		str_appendf(&body, "Subject: m%zu\n\nbody\n", i);
		len = i == 5 ? 23 : body.len;
		many_name(i, len, &name);
		assert_int_equal(mailbox_file_name(f->mb, &r, &got), 0);
		assert_string_equal(got.s, name.s);
		assert_int_equal(r.internal_date, 1500000000 + (int64_t)i);
		assert_int_equal(r.size, i == 5 ? 23 : len + 3);
		assert_int_equal(r.flags & REC_RAW, i == 5 ? REC_RAW : 0);
		assert_int_equal(r.cache_off != 0, i == 5);
	}
	for (i = 0; i < 2; i++) {
		assert_int_equal(mailbox_record(f->mb, (uint32_t)i, &r), 0);
		assert_int_equal(mailbox_cached(f->mb, &r, &pl, &plen), 0);
	}
	assert_int_equal(mailbox_check(f->mb), 0);
	str_free(&name);
	str_free(&path);
	str_free(&body);
	str_free(&err);
	str_free(&got);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_append_text_and_wire, mbfx_setup, mbfx_teardown),
		cmocka_unit_test_setup_teardown(test_wire_cr_cases, mbfx_setup, mbfx_teardown),
		cmocka_unit_test_setup_teardown(test_size_limit, mbfx_setup, mbfx_teardown),
		cmocka_unit_test_setup_teardown(test_sync_foreign_files, mbfx_setup, mbfx_teardown),
		cmocka_unit_test_setup_teardown(test_sync_by_mtime, mbfx_setup, mbfx_teardown),
		cmocka_unit_test_setup_teardown(test_rebuild_keeps_uids, mbfx_setup, mbfx_teardown),
		cmocka_unit_test_setup_teardown(test_keywords_survive, mbfx_setup, mbfx_teardown),
		cmocka_unit_test_setup_teardown(test_cache_writer, mbfx_setup, mbfx_teardown),
		cmocka_unit_test_setup_teardown(test_rebuild_many, mbfx_setup, mbfx_teardown),
		cmocka_unit_test_setup_teardown(test_sync_many, mbfx_setup, mbfx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
