/* SPDX-License-Identifier: ISC */
/* Unit tests for lib/mailbox's batch commit (mailbox_msg_commit_batch,
 * mailbox_msg_finish): batches of 1, 2 and 64, new/ and cur/ together, a
 * message failing in the middle while the others commit, a held lock, and
 * index/cache consistency (mailbox_check, a sync, a rebuild) after each. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "mailbox.h"
#include "mbox-fixture.h"
#include "maildir.h"

#define IDATE 1700000000

/* Files (not dot files) in dir/sub. */
static int
count_files(const char *dir, const char *sub)
{
	struct str p = STR_INIT;
	struct dirent *e;
	DIR *d;
	int n = 0;

	str_appendf(&p, "%s/%s", dir, sub);
	d = opendir(p.s);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	str_free(&p);
	return n;
}

/* The one file in tmp/ not named in skip (its path into out). */
static void
newest_tmp(const char *dir, const struct str *skip, struct str *out)
{
	struct str p = STR_INIT;
	struct dirent *e;
	DIR *d;

	str_appendf(&p, "%s/tmp", dir);
	d = opendir(p.s);
	assert_non_null(d);
	str_clear(out);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || (skip->len > 0 &&
		    strstr(skip->s, e->d_name) != NULL))
			continue;
		str_appendf(out, "%s/%s", p.s, e->d_name);
	}
	closedir(d);
	str_free(&p);
}

/* A message "Subject: i" with a body of i lines, ready to commit. */
static struct mailbox_msg *
make_msg(struct mailbox *mb, int i, int wire)
{
	struct mailbox_msg *m = NULL;
	struct str err = STR_INIT, text = STR_INIT;
	int k;

	assert_int_equal(mailbox_msg_begin(mb, wire, &m, &err), 0);
	str_appendf(&text, "Subject: %d\r\n\r\n", i);
	for (k = 0; k <= i; k++)
		str_appendf(&text, "line %d\r\n", k);
	assert_int_equal(mailbox_msg_write(m, text.s, text.len), 0);
	str_free(&text);
	str_free(&err);
	return m;
}

/* Index, cache and Maildir agree: every record checks, points at a file
 * that exists, and a full sync and a rebuild find the same count. */
static void
consistent(struct mbfx *f, uint32_t want)
{
	struct str err = STR_INIT, name = STR_INIT, p = STR_INIT;
	struct mailbox_rebuild_stats st;
	struct index_record r;
	struct stat sb;
	const unsigned char *payload;
	size_t len;
	uint32_t i, last = 0;

	assert_int_equal(mailbox_check(f->mb), 0);
	assert_int_equal(mailbox_header(f->mb)->count, want);
	assert_int_equal(mailbox_header(f->mb)->exists, want);
	for (i = 0; i < want; i++) {
		assert_int_equal(mailbox_record(f->mb, i, &r), 0);
		assert_true(r.uid > last);
		last = r.uid;
		assert_int_equal(mailbox_file_name(f->mb, &r, &name), 0);
		str_clear(&p);
		str_appendf(&p, "%s/%s", f->dir, name.s);
		assert_int_equal(stat(p.s, &sb), 0);
		assert_int_equal(mailbox_cached(f->mb, &r, &payload, &len), 0);
		assert_true(len > 0);
	}
	assert_true(mailbox_header(f->mb)->uidnext > last);
	assert_int_equal(count_files(f->dir, "new") +
	    count_files(f->dir, "cur"), (int)want);
	assert_int_equal(count_files(f->dir, "tmp"), 0);
	mailbox_sync_force(f->mb);
	assert_int_equal(mailbox_sync(f->mb, &err), 0);
	assert_int_equal(mailbox_header(f->mb)->count, want);
	assert_int_equal(mailbox_reconstruct(f->dir, 5, &st, &err), 0);
	assert_int_equal(st.messages, want);
	assert_int_equal(st.new_uids, 0);	/* every UID was in the index */
	str_free(&err);
	str_free(&name);
	str_free(&p);
}

/* Commit n fresh messages in one batch; all must succeed. */
static void
batch_ok(struct mbfx *f, size_t n)
{
	struct mailbox_commit *c = calloc(n, sizeof(*c));
	struct str err = STR_INIT;
	uint32_t next = mailbox_header(f->mb)->uidnext;
	size_t i;

	for (i = 0; i < n; i++) {
		c[i].msg = make_msg(f->mb, (int)i, 1);
		c[i].internal_date = IDATE + (time_t)i;
	}
	if (mailbox_msg_commit_batch(c, n, &err) < 0)
		fail_msg("batch: %s", err.s);
	for (i = 0; i < n; i++) {
		assert_null(c[i].msg);
		assert_int_equal(c[i].error, 0);
		assert_int_equal(c[i].uid, next + i);
	}
	assert_int_equal(err.len, 0);
	str_free(&err);
	free(c);
}

static void
test_batch_1(void **state)
{
	struct mbfx *f = *state;
	struct index_record r;

	batch_ok(f, 1);
	consistent(f, 1);
	assert_int_equal(mailbox_record(f->mb, 0, &r), 0);
	assert_int_equal(r.uid, 1);
	assert_int_equal(r.internal_date, IDATE);
	assert_true(r.flags & REC_IN_NEW);
	/* "Subject: 0\r\n\r\nline 0\r\n" */
	assert_int_equal(r.size, 22);
}

static void
test_batch_2(void **state)
{
	struct mbfx *f = *state;
	const struct index_header *h;

	batch_ok(f, 2);
	batch_ok(f, 2);
	consistent(f, 4);
	h = mailbox_header(f->mb);
	assert_int_equal(h->uidnext, 5);
	assert_int_equal(h->unseen, 4);
	assert_int_equal(h->highestmodseq >= 4, 1);
}

static void
test_batch_64(void **state)
{
	struct mbfx *f = *state;
	struct index_record r;
	uint64_t modseq = 0;
	uint32_t i;

	batch_ok(f, 64);
	consistent(f, 64);
	for (i = 0; i < 64; i++) {
		assert_int_equal(mailbox_record(f->mb, i, &r), 0);
		assert_int_equal(r.uid, i + 1);
		assert_int_equal(r.internal_date, IDATE + i);
		assert_true(r.modseq > modseq);	/* one modseq each */
		modseq = r.modseq;
	}
	assert_int_equal(mailbox_header(f->mb)->highestmodseq, modseq);
}

/* Message 1 of 3 loses its tmp/ file before the commit: its link fails,
 * it alone fails, the other two commit with consecutive UIDs. */
static void
test_failure_in_middle(void **state)
{
	struct mbfx *f = *state;
	struct mailbox_commit c[3];
	struct str err = STR_INIT, seen = STR_INIT, tmp = STR_INIT;
	int i;

	memset(c, 0, sizeof(c));
	for (i = 0; i < 3; i++) {
		c[i].msg = make_msg(f->mb, i, 1);
		c[i].internal_date = IDATE;
		newest_tmp(f->dir, &seen, &tmp);
		if (i == 1)
			assert_int_equal(unlink(tmp.s), 0);
		str_appendf(&seen, "%s ", tmp.s);
	}
	assert_int_equal(mailbox_msg_commit_batch(c, 3, &err), -1);
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(err.s, "link"));
	assert_int_equal(c[0].error, 0);
	assert_int_equal(c[1].error, ENOENT);
	assert_int_equal(c[2].error, 0);
	assert_int_equal(c[0].uid, 1);
	assert_int_equal(c[2].uid, 2);
	for (i = 0; i < 3; i++)
		assert_null(c[i].msg);
	consistent(f, 2);
	/* the next batch goes on from there */
	batch_ok(f, 2);
	consistent(f, 4);
	str_free(&err);
	str_free(&seen);
	str_free(&tmp);
}

/* Bad items (no message; a message of another mailbox) fail alone. */
static void
test_bad_items(void **state)
{
	struct mbfx *f = *state;
	struct mailbox *other = NULL;
	struct mailbox_commit c[4];
	struct str err = STR_INIT, odir = STR_INIT;

	str_appendf(&odir, "%s-other", f->dir);
	assert_int_equal(mailbox_open(odir.s, MBOX_CREATE, 5, &other, &err), 0);
	memset(c, 0, sizeof(c));
	c[0].msg = make_msg(f->mb, 0, 0);
	c[1].msg = NULL;
	c[2].msg = make_msg(other, 1, 0);
	c[3].msg = make_msg(f->mb, 3, 0);
	assert_int_equal(mailbox_msg_commit_batch(c, 4, &err), -1);
	assert_int_equal(c[0].error, 0);
	assert_int_equal(c[1].error, EINVAL);
	assert_int_equal(c[2].error, EINVAL);
	assert_int_equal(c[3].error, 0);
	assert_null(c[2].msg);
	consistent(f, 2);
	assert_int_equal(count_files(odir.s, "tmp"), 0);
	assert_int_equal(count_files(odir.s, "new"), 0);
	mailbox_close(&other);
	str_free(&err);
	str_free(&odir);
}

/* new/ and cur/ (with flags) in one batch, messages finished early. */
static void
test_new_and_cur(void **state)
{
	struct mbfx *f = *state;
	struct mailbox_commit c[3];
	struct str err = STR_INIT;
	struct index_record r;
	int i;

	memset(c, 0, sizeof(c));
	for (i = 0; i < 3; i++) {
		c[i].msg = make_msg(f->mb, i, 0);
		assert_int_equal(mailbox_msg_finish(c[i].msg, IDATE + 7), 0);
		assert_int_equal(mailbox_msg_finish(c[i].msg, IDATE + 9), 0);
		assert_int_equal(mailbox_msg_write(c[i].msg, "x", 1), -1);
		assert_int_equal(errno, EINVAL);
		c[i].internal_date = IDATE;	/* finish's date wins */
	}
	c[1].to_cur = 1;
	c[1].flags = MAIL_SEEN;
	c[2].keywords = 1;
	assert_int_equal(mailbox_msg_commit_batch(c, 3, &err), 0);
	assert_int_equal(count_files(f->dir, "new"), 2);
	assert_int_equal(count_files(f->dir, "cur"), 1);
	assert_int_equal(mailbox_record(f->mb, 1, &r), 0);
	assert_false(r.flags & REC_IN_NEW);
	assert_true(r.flags & MAIL_SEEN);
	assert_int_equal(r.internal_date, IDATE + 7);
	assert_int_equal(mailbox_record(f->mb, 2, &r), 0);
	assert_int_equal(r.keywords, 1);
	assert_int_equal(mailbox_header(f->mb)->unseen, 2);
	consistent(f, 3);
	str_free(&err);
}

/* The lock held elsewhere: every message fails (ETIMEDOUT), none is left
 * behind, and the one-shot commit still works once it is free. */
static void
test_lock_held(void **state)
{
	struct mbfx *f = *state;
	struct mailbox *second = NULL;
	struct mailbox_commit c[2];
	struct mailbox_msg *m;
	struct str err = STR_INIT;
	uint32_t uid = 0;

	assert_int_equal(mailbox_open(f->dir, 0, 1, &second, &err), 0);
	assert_int_equal(mailbox_lock(f->mb), 0);
	memset(c, 0, sizeof(c));
	c[0].msg = make_msg(second, 0, 1);
	c[1].msg = make_msg(second, 1, 1);
	assert_int_equal(mailbox_msg_commit_batch(c, 2, &err), -1);
	assert_int_equal(errno, ETIMEDOUT);
	assert_int_equal(c[0].error, ETIMEDOUT);
	assert_int_equal(c[1].error, ETIMEDOUT);
	assert_non_null(strstr(err.s, "cannot lock"));
	mailbox_unlock(f->mb);
	assert_int_equal(count_files(f->dir, "tmp"), 0);
	m = make_msg(second, 2, 1);
	str_clear(&err);
	assert_int_equal(mailbox_msg_commit(&m, 0, 0, IDATE, 0, &uid, &err), 0);
	assert_null(m);
	assert_int_equal(uid, 1);
	mailbox_close(&second);
	assert_int_equal(mailbox_refresh(f->mb, &err), 0);
	consistent(f, 1);
	str_free(&err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_batch_1, mbfx_setup, mbfx_teardown),
		cmocka_unit_test_setup_teardown(test_batch_2, mbfx_setup, mbfx_teardown),
		cmocka_unit_test_setup_teardown(test_batch_64, mbfx_setup,
		    mbfx_teardown),
		cmocka_unit_test_setup_teardown(test_failure_in_middle, mbfx_setup,
		    mbfx_teardown),
		cmocka_unit_test_setup_teardown(test_bad_items, mbfx_setup,
		    mbfx_teardown),
		cmocka_unit_test_setup_teardown(test_new_and_cur, mbfx_setup,
		    mbfx_teardown),
		cmocka_unit_test_setup_teardown(test_lock_held, mbfx_setup,
		    mbfx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
