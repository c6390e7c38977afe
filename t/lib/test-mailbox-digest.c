/* SPDX-License-Identifier: ISC */
/*
 * The directory digests of zest.index: after every kind of writer (append,
 * STORE renames, expunge, copy, a sync that learns foreign changes, a
 * rebuild) the header's new/ and cur/ digests must equal the sums over
 * what the directories hold, so that a directory read whose sum agrees
 * needs no matching (the quick sync), and any disagreement leads to the
 * full one.
 */
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
#include <unistd.h>

#include "crc.h"
#include "endian.h"
#include "mailbox-private.h"
#include "mbox-fixture.h"
#include "maildir.h"

/* The fixture, with the second mailbox opened too. */
static int
setup(void **state)
{
	struct mbfx *f;
	struct str err = STR_INIT;

	if (mbfx_setup(state) < 0)
		return -1;
	f = *state;
	if (mailbox_open(f->dir2, MBOX_CREATE, 5, &f->mb2, &err) < 0) {
		fprintf(stderr, "%s\n", err.s);
		return -1;
	}
	str_free(&err);
	return 0;
}

static uint32_t
add(struct mailbox *mb, const char *text, unsigned flags, int to_cur)
{
	return mbfx_add(mb, text, flags, 0, 1700000000, to_cur);
}

/* The sum over the message files of dir/sub, computed here. */
static uint64_t
listing_sum(const char *dir, const char *sub)
{
	char p[160], name[300];
	struct maildir_name mn;
	struct dirent *d;
	uint64_t sum = 0;
	DIR *dp;

	snprintf(p, sizeof(p), "%s/%s", dir, sub);
	dp = opendir(p);
	assert_non_null(dp);
	while ((d = readdir(dp)) != NULL) {
		if (d->d_name[0] == '.' || maildir_name_parse(d->d_name,
		    &mn) < 0)
			continue;
		snprintf(name, sizeof(name), "%s/%s", sub, d->d_name);
		sum += mailbox_name_digest(name, strlen(name));
	}
	closedir(dp);
	return sum & INDEX_DIGEST_MASK;
}

/* The committed header's digests agree with the directories. */
static void
check(struct mailbox *mb, const char *dir)
{
	struct str err = STR_INIT;
	const struct index_header *h;

	assert_int_equal(mailbox_refresh(mb, &err), 0);
	h = mailbox_header(mb);
	assert_true(h->flags & IDX_DIGESTS);
	assert_int_equal(h->new_digest, listing_sum(dir, "new"));
	assert_int_equal(h->cur_digest, listing_sum(dir, "cur"));
	str_free(&err);
}

/* Move dir/sub's mtime so that the next sync reads it. */
static void
touch_dir(const char *dir, const char *sub)
{
	char p[160];
	struct timespec ts[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	static long bump;

	ts[0].tv_sec += ++bump;
	ts[1].tv_sec += bump;
	snprintf(p, sizeof(p), "%s/%s", dir, sub);
	assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
}

static void
put_file(const char *dir, const char *rel, const char *content)
{
	char p[200];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)),
	    (ssize_t)strlen(content));
	close(fd);
}

static void
test_every_writer(void **state)
{
	struct mbfx *f = *state;
	struct str err = STR_INIT;
	struct mailbox_store st;
	struct mailbox_uids changed, failed;
	struct mailbox_rebuild_stats rs;
	uint32_t uids[8], i, dst[2];

	for (i = 0; i < 6; i++)
		uids[i] = add(f->mb, "Subject: d\n\nbody\n",
		    i == 3 ? MAIL_SEEN : 0, i == 3);
	check(f->mb, f->dir);

	/* STORE: new/ -> cur/ renames (deferred, then the names) */
	memset(&st, 0, sizeof(st));
	memset(&changed, 0, sizeof(changed));
	memset(&failed, 0, sizeof(failed));
	st.op = MBOX_FLAGS_ADD;
	st.flags = MAIL_FLAGGED;
	assert_true(mailbox_store_deferred(f->mb, uids, 3, &st, &changed,
	    &failed, &err) >= 0);
	check(f->mb, f->dir);		/* nothing renamed yet */
	assert_int_equal(mailbox_store_names(f->mb, uids, 3, &err), 0);
	check(f->mb, f->dir);
	mailbox_uids_free(&changed);
	mailbox_uids_free(&failed);
	st.flags = MAIL_ANSWERED;
	assert_true(mailbox_store(f->mb, uids + 3, 1, &st, &changed,
	    &failed, &err) >= 0);
	check(f->mb, f->dir);
	mailbox_uids_free(&changed);
	mailbox_uids_free(&failed);

	/* COPY into the other mailbox, EXPUNGE here */
	assert_int_equal(mailbox_copy(f->mb, uids, 2, f->mb2, dst, &err), 2);
	check(f->mb2, f->dir2);
	assert_true(mailbox_expunge(f->mb, uids + 4, 1, &err) >= 0);
	assert_int_equal(mailbox_header(f->mb)->exists, 5);
	check(f->mb, f->dir);

	/* a rebuild from nothing sums them as it goes */
	assert_int_equal(mailbox_reconstruct(f->dir, 5, &rs, &err), 0);
	check(f->mb, f->dir);
	str_free(&err);
}

/* Foreign changes are learnt by the full sync, which leaves digests that
 * agree; a directory whose mtime moved but whose files did not is settled
 * by the quick one. */
static void
test_quick_and_full(void **state)
{
	struct mbfx *f = *state;
	struct str err = STR_INIT, a = STR_INIT, b = STR_INIT, name = STR_INIT;
	struct index_record r;
	unsigned long quick, full;

	add(f->mb, "Subject: 1\n\n1\n", 0, 0);
	add(f->mb, "Subject: 2\n\n2\n", 0, 0);
	add(f->mb, "Subject: 3\n\n3\n", MAIL_SEEN, 1);
	touch_dir(f->dir, "new");
	touch_dir(f->dir, "cur");
	assert_int_equal(mailbox_sync(f->mb, &err), 0);
	check(f->mb, f->dir);

	/* mtimes moved, files did not: no matching */
	quick = f->mb->scans_quick;
	full = f->mb->scans_full;
	touch_dir(f->dir, "new");
	assert_int_equal(mailbox_sync(f->mb, &err), 0);
	assert_int_equal(f->mb->scans_quick, quick + 1);
	assert_int_equal(f->mb->scans_full, full);
	assert_int_equal(mailbox_header(f->mb)->count, 3);

	/* another program delivers one, renames one, removes one */
	put_file(f->dir, "new/1500000000.foreign.host", "Subject: 4\n\n4\n");
	assert_int_equal(mailbox_record(f->mb, 0, &r), 0);
	assert_int_equal(mailbox_file_name(f->mb, &r, &name), 0);
	str_appendf(&a, "%s/%s", f->dir, name.s);
	str_appendf(&b, "%s/cur/%s:2,S", f->dir, name.s + 4);
	assert_int_equal(rename(a.s, b.s), 0);
	assert_int_equal(mailbox_record(f->mb, 2, &r), 0);
	assert_int_equal(mailbox_file_name(f->mb, &r, &name), 0);
	str_clear(&a);
	str_appendf(&a, "%s/%s", f->dir, name.s);
	assert_int_equal(unlink(a.s), 0);
	touch_dir(f->dir, "new");
	touch_dir(f->dir, "cur");
	full = f->mb->scans_full;
	assert_int_equal(mailbox_sync(f->mb, &err), 0);
	assert_int_equal(f->mb->scans_full, full + 1);
	assert_int_equal(mailbox_header(f->mb)->exists, 3);
	check(f->mb, f->dir);
	assert_int_equal(mailbox_record(f->mb, 0, &r), 0);
	assert_int_equal(r.flags & MAIL_SEEN, MAIL_SEEN);

	str_free(&err);
	str_free(&a);
	str_free(&b);
	str_free(&name);
}

/* A header whose digest is wrong (or that an older version wrote without
 * them) costs one full sync, which puts them right. */
static void
test_wrong_digest(void **state)
{
	struct mbfx *f = *state;
	struct str err = STR_INIT;
	unsigned long full;
	int pass;

	add(f->mb, "Subject: 1\n\n1\n", 0, 0);
	add(f->mb, "Subject: 2\n\n2\n", 0, 0);
	for (pass = 0; pass < 2; pass++) {
		assert_int_equal(mailbox_lock(f->mb), 0);
		if (pass == 0)
			f->mb->hdr.new_digest ^= 1;
		else
			f->mb->hdr.flags &= ~IDX_DIGESTS;
		assert_int_equal(index_commit(f->mb->ix, &f->mb->hdr), 0);
		mailbox_unlock(f->mb);
		touch_dir(f->dir, "new");
		full = f->mb->scans_full;
		assert_int_equal(mailbox_sync(f->mb, &err), 0);
		assert_int_equal(f->mb->scans_full, full + 1);
		assert_int_equal(mailbox_header(f->mb)->count, 2);
		check(f->mb, f->dir);
	}
	str_free(&err);
}

/* An older writer keeps flag 8 but writes zeros where the digests are;
 * another program then empties new/.  The zeros must not pass for the
 * digest of an empty directory: the records of new/ are expunged. */
static void
test_older_writer_zeros(void **state)
{
	struct mbfx *f = *state;
	struct str err = STR_INIT, cmd = STR_INIT;
	unsigned char b[INDEX_HDR_SIZE];
	char p[160];
	int fd;

	add(f->mb, "Subject: 1\n\n1\n", 0, 0);
	add(f->mb, "Subject: 2\n\n2\n", 0, 0);
	snprintf(p, sizeof(p), "%s/zest.index", f->dir);
	fd = open(p, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, b, sizeof(b), 0), (ssize_t)sizeof(b));
	memset(b + 100, 0, 4);
	memset(b + 116, 0, 8);
	le32_put(b + 124, crc_buf(b, 124));
	assert_int_equal(pwrite(fd, b, sizeof(b), 0), (ssize_t)sizeof(b));
	close(fd);
	str_appendf(&cmd, "rm -f %s/new/*", f->dir);
	assert_int_equal(system(cmd.s), 0);
	touch_dir(f->dir, "new");
	assert_int_equal(mailbox_sync(f->mb, &err), 0);
	assert_int_equal(mailbox_header(f->mb)->exists, 0);
	check(f->mb, f->dir);
	str_free(&err);
	str_free(&cmd);
}

/* A delivery leaves new/'s mtime racy; once it can be checked, a sync
 * settles it by the digest alone and nothing is left to check. */
static void
test_settle(void **state)
{
	struct mbfx *f = *state;
	struct str err = STR_INIT;
	unsigned long quick;
	long ms;

	add(f->mb, "Subject: 1\n\n1\n", 0, 0);
	ms = mailbox_settle_ms(f->mb);
	assert_true(ms > 0 && ms <= 2020);
	/* too early: the sync trusts the record and keeps the flag */
	assert_int_equal(mailbox_sync(f->mb, &err), 0);
	assert_true(mailbox_header(f->mb)->flags & IDX_NEW_RACY);
	usleep((useconds_t)ms * 1000);
	while ((ms = mailbox_settle_ms(f->mb)) > 0)	/* time() lagging */
		usleep((useconds_t)ms * 1000);
	assert_int_equal(ms, 0);
	quick = f->mb->scans_quick;
	assert_int_equal(mailbox_sync(f->mb, &err), 0);
	assert_int_equal(f->mb->scans_quick, quick + 1);
	assert_false(mailbox_header(f->mb)->flags & IDX_NEW_RACY);
	assert_int_equal(mailbox_settle_ms(f->mb), -1);
	str_free(&err);
}

/* The digests survive the header's encoding, 48 bits each. */
static void
test_header_roundtrip(void **state)
{
	struct index_header h, back;
	unsigned char buf[INDEX_HDR_SIZE];

	(void)state;
	memset(&h, 0, sizeof(h));
	h.flags = IDX_DIGESTS;
	h.uidvalidity = 7;
	h.names_behind = 0x01020304;
	h.cache_end = 0x1112131415161718ull;
	h.new_digest = 0xfedcba987654ull;
	h.cur_digest = 0x123456789abcull;
	index_header_encode(&h, buf);
	assert_int_equal(index_header_decode(buf, &back), 0);
	assert_int_equal(back.new_digest, h.new_digest);
	assert_int_equal(back.cur_digest, h.cur_digest);
	assert_int_equal(back.names_behind, h.names_behind);
	assert_int_equal(back.cache_end, h.cache_end);
	assert_int_equal(back.flags, IDX_DIGESTS);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_every_writer, setup,
		    mbfx_teardown),
		cmocka_unit_test_setup_teardown(test_quick_and_full, setup,
		    mbfx_teardown),
		cmocka_unit_test_setup_teardown(test_wrong_digest, setup,
		    mbfx_teardown),
		cmocka_unit_test_setup_teardown(test_older_writer_zeros, setup,
		    mbfx_teardown),
		cmocka_unit_test_setup_teardown(test_settle, setup, mbfx_teardown),
		cmocka_unit_test(test_header_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
