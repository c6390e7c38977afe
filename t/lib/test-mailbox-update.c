/* SPDX-License-Identifier: ISC */
/* Unit tests for the mailbox mutation API (lib/mailbox-update.c,
 * mailbox-expunge.c, mailbox-copy.c): STORE with MODSEQ and UNCHANGEDSINCE,
 * keywords, expunge and tombstones, copy, \Recent, opening messages that
 * others renamed, compaction, and the time of a large STORE. */
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "fs.h"
#include "mailbox.h"
#include "mbox-fixture.h"
#include "maildir.h"
#include "tomb.h"

static uint32_t
add(struct mailbox *mb, const char *text)
{
	return mbfx_add(mb, text, 0, 0, 1700000000, 0);
}

/* n messages with UIDs 1..n. */
static void
add_n(struct mailbox *mb, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		char text[80];

		snprintf(text, sizeof(text), "Subject: m%u\n\nbody %u\n", i + 1,
		    i + 1);
		assert_int_equal(add(mb, text), i + 1);
	}
}

static void
get(struct mailbox *mb, uint32_t uid, struct index_record *r)
{
	assert_int_equal(mailbox_find_uid(mb, uid, NULL, r), 0);
}

/* The message's file name ("new/..." or "cur/...") as on disk. */
static void
name_of(struct mailbox *mb, uint32_t uid, struct str *name)
{
	struct index_record r;

	get(mb, uid, &r);
	assert_int_equal(mailbox_file_name(mb, &r, name), 0);
}

static int
file_exists(const char *dir, const char *rel)
{
	struct str p = STR_INIT;
	struct stat st;
	int rc;

	str_appendf(&p, "%s/%s", dir, rel);
	rc = stat(p.s, &st) == 0;
	str_free(&p);
	return rc;
}

/* Files in dir/sub. */
static unsigned
count_files(const char *dir, const char *sub)
{
	struct str p = STR_INIT;
	struct dirent *d;
	DIR *dp;
	unsigned n = 0;

	str_appendf(&p, "%s/%s", dir, sub);
	dp = opendir(p.s);
	assert_non_null(dp);
	while ((d = readdir(dp)) != NULL)
		n += d->d_name[0] != '.';
	closedir(dp);
	str_free(&p);
	return n;
}

static int
store(struct mailbox *mb, const uint32_t *uids, size_t n,
    enum mailbox_flag_op op, uint32_t flags, uint64_t kw, uint64_t since,
    struct mailbox_uids *changed, struct mailbox_uids *failed)
{
	struct mailbox_store st = { op, flags, kw, since };
	struct str err = STR_INIT;
	int rc = mailbox_store(mb, uids, n, &st, changed, failed, &err);

	if (rc < 0)
		print_message("store: %s\n", err.s ? err.s : "");
	str_free(&err);
	return rc;
}

/* ---- UID lists and lookup ---- */

static void
test_uids(void **state)
{
	struct mailbox_uids u = { 0 };
	uint32_t i;

	(void)state;
	for (i = 1; i <= 1000; i++)
		assert_int_equal(mailbox_uids_add(&u, i), 0);
	assert_int_equal(u.n, 1000);
	assert_int_equal(u.v[0], 1);
	assert_int_equal(u.v[999], 1000);
	mailbox_uids_free(&u);
	assert_null(u.v);
	assert_int_equal(u.n, 0);
	mailbox_uids_free(&u);	/* twice is fine */
}

static void
test_find_uid(void **state)
{
	struct mbfx *f = *state;
	struct index_record r;
	struct str err = STR_INIT;
	uint32_t seq, uid = 3;

	/* empty mailbox */
	assert_int_equal(mailbox_find_uid(f->mb, 1, &seq, &r), -1);
	assert_int_equal(errno, ENOENT);
	add_n(f->mb, 10);
	for (uid = 1; uid <= 10; uid++) {
		assert_int_equal(mailbox_find_uid(f->mb, uid, &seq, &r), 0);
		assert_int_equal(seq, uid - 1);
		assert_int_equal(r.uid, uid);
	}
	assert_int_equal(mailbox_find_uid(f->mb, 0, &seq, &r), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(mailbox_find_uid(f->mb, 11, &seq, &r), -1);
	assert_int_equal(errno, ENOENT);
	uid = 3;
	assert_int_equal(mailbox_expunge(f->mb, &uid, 1, &err), 1);
	assert_int_equal(mailbox_find_uid(f->mb, 3, &seq, &r), -1);
	assert_int_equal(errno, ENOENT);
	/* the others keep their positions; NULL outputs are allowed */
	assert_int_equal(mailbox_find_uid(f->mb, 4, &seq, NULL), 0);
	assert_int_equal(seq, 3);
	assert_int_equal(mailbox_find_uid(f->mb, 4, NULL, NULL), 0);
	str_free(&err);
}

/* ---- STORE ---- */

static void
test_store_flags(void **state)
{
	struct mbfx *f = *state;
	struct mailbox_uids ch = { 0 };
	struct str name = STR_INIT;
	struct index_record r;
	const struct index_header *h;
	uint32_t uids[] = { 1, 2, 4, 99 };
	uint64_t hms;

	add_n(f->mb, 5);
	h = mailbox_header(f->mb);
	assert_int_equal(h->unseen, 5);
	hms = h->highestmodseq;

	/* +FLAGS (\Seen \Flagged) on 1 2 4 (99 does not exist) */
	assert_int_equal(store(f->mb, uids, 4, MBOX_FLAGS_ADD,
	    MAIL_SEEN | MAIL_FLAGGED, 0, 0, &ch, NULL), 3);
	assert_int_equal(ch.n, 3);
	assert_int_equal(ch.v[0], 1);
	assert_int_equal(ch.v[1], 2);
	assert_int_equal(ch.v[2], 4);
	h = mailbox_header(f->mb);
	assert_int_equal(h->unseen, 2);
	assert_int_equal(h->highestmodseq, hms + 1);	/* one MODSEQ for all */
	get(f->mb, 1, &r);
	assert_int_equal(r.flags & MAIL_FLAGS_MASK, MAIL_SEEN | MAIL_FLAGGED);
	assert_int_equal(r.modseq, hms + 1);
	assert_false(r.flags & REC_IN_NEW);
	get(f->mb, 4, &r);
	assert_int_equal(r.modseq, hms + 1);
	get(f->mb, 3, &r);
	assert_true(r.modseq <= hms);	/* untouched */
	assert_true(r.flags & REC_IN_NEW);

	/* the file moved new/ -> cur/ with the letters */
	name_of(f->mb, 1, &name);
	assert_memory_equal(name.s, "cur/", 4);
	assert_non_null(strstr(name.s, ":2,FS"));
	assert_true(file_exists(f->dir, name.s));
	assert_int_equal(count_files(f->dir, "new"), 2);
	assert_int_equal(count_files(f->dir, "cur"), 3);

	/* the same again changes nothing and takes no MODSEQ */
	ch.n = 0;
	assert_int_equal(store(f->mb, uids, 3, MBOX_FLAGS_ADD, MAIL_SEEN, 0, 0,
	    &ch, NULL), 0);
	assert_int_equal(ch.n, 0);
	assert_int_equal(mailbox_header(f->mb)->highestmodseq, hms + 1);

	/* -FLAGS (\Flagged) then FLAGS (\Deleted \Answered \Draft) */
	assert_int_equal(store(f->mb, uids, 1, MBOX_FLAGS_REMOVE, MAIL_FLAGGED,
	    0, 0, NULL, NULL), 1);
	name_of(f->mb, 1, &name);
	assert_non_null(strstr(name.s, ":2,S"));
	assert_null(strstr(name.s, "F"));
	assert_int_equal(store(f->mb, uids, 2, MBOX_FLAGS_REPLACE,
	    MAIL_DELETED | MAIL_ANSWERED | MAIL_DRAFT | MAIL_PASSED, 0, 0, NULL,
	    NULL), 2);
	name_of(f->mb, 2, &name);
	assert_non_null(strstr(name.s, ":2,DPRT"));
	h = mailbox_header(f->mb);
	assert_int_equal(h->deleted, 2);
	assert_int_equal(h->unseen, 4);
	assert_int_equal(h->highestmodseq, hms + 3);
	get(f->mb, 1, &r);
	assert_int_equal(r.modseq, hms + 3);
	str_free(&name);
	mailbox_uids_free(&ch);
}

static void
test_store_errors(void **state)
{
	struct mbfx *f = *state;
	struct mailbox_store st = { MBOX_FLAGS_ADD, 0x4000, 0, 0 };
	struct str err = STR_INIT;
	uint32_t uid = 1;

	add_n(f->mb, 1);
	/* REC_* bits are not flags a client may set */
	assert_int_equal(mailbox_store(f->mb, &uid, 1, &st, NULL, NULL, &err), -1);
	assert_int_equal(errno, EINVAL);
	assert_true(err.len > 0);
	st.flags = MAIL_SEEN;
	st.op = (enum mailbox_flag_op)7;
	assert_int_equal(mailbox_store(f->mb, &uid, 1, &st, NULL, NULL, &err), -1);
	assert_int_equal(errno, EINVAL);
	/* a keyword bit that names nothing */
	st.op = MBOX_FLAGS_ADD;
	st.keywords = 1;
	assert_int_equal(mailbox_store(f->mb, &uid, 1, &st, NULL, NULL, &err), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(mailbox_keyword(f->mb, "one", 1, &err), 0);
	assert_int_equal(mailbox_store(f->mb, &uid, 1, &st, NULL, NULL, &err), 1);
	st.keywords = 2;
	assert_int_equal(mailbox_store(f->mb, &uid, 1, &st, NULL, NULL, &err), -1);
	assert_int_equal(errno, EINVAL);
	st.keywords = 0;
	/* nothing to do */
	assert_int_equal(mailbox_store(f->mb, NULL, 0, &st, NULL, NULL, &err), 0);
	str_free(&err);
}

static void
test_store_keywords(void **state)
{
	struct mbfx *f = *state;
	struct str err = STR_INIT, name = STR_INIT, before = STR_INIT;
	struct index_record r;
	uint32_t uids[] = { 1, 2 };
	int junk, fwd;
	uint64_t hms;

	add_n(f->mb, 2);
	junk = mailbox_keyword(f->mb, "$Junk", 1, &err);
	fwd = mailbox_keyword(f->mb, "$Forwarded", 1, &err);
	assert_int_equal(junk, 0);
	assert_int_equal(fwd, 1);
	name_of(f->mb, 1, &before);
	hms = mailbox_header(f->mb)->highestmodseq;
	assert_int_equal(store(f->mb, uids, 2, MBOX_FLAGS_ADD, 0,
	    (1ull << junk) | (1ull << fwd), 0, NULL, NULL), 2);
	get(f->mb, 1, &r);
	assert_int_equal(r.keywords, 3);
	assert_int_equal(r.modseq, hms + 1);
	/* keywords are not in the file name: no rename */
	name_of(f->mb, 1, &name);
	assert_string_equal(name.s, before.s);
	assert_int_equal(store(f->mb, uids, 1, MBOX_FLAGS_REMOVE, 0,
	    1ull << junk, 0, NULL, NULL), 1);
	get(f->mb, 1, &r);
	assert_int_equal(r.keywords, 2);
	assert_int_equal(store(f->mb, uids + 1, 1, MBOX_FLAGS_REPLACE, MAIL_SEEN,
	    0, 0, NULL, NULL), 1);
	get(f->mb, 2, &r);
	assert_int_equal(r.keywords, 0);
	assert_int_equal(r.flags & MAIL_FLAGS_MASK, MAIL_SEEN);
	str_free(&err);
	str_free(&name);
	str_free(&before);
}

static void
test_unchangedsince(void **state)
{
	struct mbfx *f = *state;
	struct mailbox_uids ch = { 0 }, failed = { 0 };
	struct index_record r;
	uint32_t uids[] = { 1, 2, 3 }, two = 2;
	uint64_t ms;

	add_n(f->mb, 3);
	ms = mailbox_header(f->mb)->highestmodseq;
	/* someone changes message 2 after the client read ms */
	assert_int_equal(store(f->mb, &two, 1, MBOX_FLAGS_ADD, MAIL_FLAGGED, 0,
	    0, NULL, NULL), 1);
	assert_int_equal(store(f->mb, uids, 3, MBOX_FLAGS_ADD, MAIL_SEEN, 0, ms,
	    &ch, &failed), 2);
	assert_int_equal(failed.n, 1);
	assert_int_equal(failed.v[0], 2);
	assert_int_equal(ch.n, 2);
	assert_int_equal(ch.v[0], 1);
	assert_int_equal(ch.v[1], 3);
	get(f->mb, 2, &r);
	assert_int_equal(r.flags & MAIL_FLAGS_MASK, MAIL_FLAGGED);
	/* a message at exactly UNCHANGEDSINCE passes; failed may be NULL */
	get(f->mb, 1, &r);
	assert_int_equal(store(f->mb, uids, 1, MBOX_FLAGS_ADD, MAIL_ANSWERED, 0,
	    r.modseq, NULL, NULL), 1);
	assert_int_equal(store(f->mb, uids, 1, MBOX_FLAGS_ADD, MAIL_DRAFT, 0,
	    r.modseq, NULL, NULL), 0);
	/* UNCHANGEDSINCE 1 (every message is newer): all fail */
	failed.n = 0;
	assert_int_equal(store(f->mb, uids, 3, MBOX_FLAGS_ADD, MAIL_DELETED, 0, 1,
	    NULL, &failed), 0);
	assert_int_equal(failed.n, 3);
	assert_int_equal(mailbox_header(f->mb)->deleted, 0);
	mailbox_uids_free(&ch);
	mailbox_uids_free(&failed);
}

/* A fresh open and a full directory scan read the same flags back from
 * the file names. */
static void
test_store_then_sync(void **state)
{
	struct mbfx *f = *state;
	struct mailbox *mb2 = NULL;
	struct str err = STR_INIT;
	struct index_record a, b;
	struct mailbox_rebuild_stats rs;
	uint32_t uids[] = { 1, 3, 5 }, uid;
	uint64_t hms;

	add_n(f->mb, 6);
	assert_int_equal(store(f->mb, uids, 3, MBOX_FLAGS_REPLACE,
	    MAIL_SEEN | MAIL_ANSWERED, 0, 0, NULL, NULL), 3);
	hms = mailbox_header(f->mb)->highestmodseq;
	assert_int_equal(mailbox_open(f->dir, 0, 5, &mb2, &err), 0);
	mailbox_sync_force(mb2);
	assert_int_equal(mailbox_sync(mb2, &err), 0);
	/* nothing was renamed behind the index's back: no MODSEQ moved */
	assert_int_equal(mailbox_header(mb2)->highestmodseq, hms);
	for (uid = 1; uid <= 6; uid++) {
		get(f->mb, uid, &a);
		get(mb2, uid, &b);
		assert_int_equal(a.flags, b.flags);
		assert_int_equal(a.modseq, b.modseq);
	}
	assert_int_equal(mailbox_header(mb2)->unseen, 3);
	mailbox_close(&mb2);
	/* and a rebuild from the Maildir alone agrees on the flags */
	assert_int_equal(mailbox_reconstruct(f->dir, 5, &rs, &err), 0);
	assert_int_equal(mailbox_open(f->dir, 0, 5, &mb2, &err), 0);
	for (uid = 1; uid <= 6; uid++) {
		get(f->mb, uid, &a);
		get(mb2, uid, &b);
		assert_int_equal(a.flags & MAIL_FLAGS_MASK,
		    b.flags & MAIL_FLAGS_MASK);
	}
	assert_true(mailbox_header(mb2)->highestmodseq >= hms);
	mailbox_close(&mb2);
	str_free(&err);
}

/* Another program (mutt) renames a file; STORE and msg_open find it. */
static void
test_store_after_foreign_rename(void **state)
{
	struct mbfx *f = *state;
	struct str name = STR_INIT, a = STR_INIT, b = STR_INIT, err = STR_INIT;
	struct index_record r;
	uint32_t uid = 2;
	char buf[64];
	ssize_t n;
	int fd;

	add_n(f->mb, 3);
	name_of(f->mb, 2, &name);
	str_appendf(&a, "%s/%s", f->dir, name.s);
	str_appendf(&b, "%s/cur/%s:2,F", f->dir, name.s + 4);
	assert_int_equal(rename(a.s, b.s), 0);
	get(f->mb, 2, &r);
	/* reading: the open notices, syncs, and opens the new name */
	assert_int_equal(mailbox_msg_open(f->mb, &r, &fd, &err), 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "Subject: m2\n\nbody 2\n");
	get(f->mb, 2, &r);
	assert_int_equal(r.flags & MAIL_FLAGS_MASK, MAIL_FLAGGED);

	/* storing: the same, under the lock */
	name_of(f->mb, 2, &name);
	str_clear(&a);
	str_clear(&b);
	str_appendf(&a, "%s/%s", f->dir, name.s);
	str_appendf(&b, "%s/cur/%.*s:2,FT", f->dir,
	    (int)strcspn(name.s + 4, ":"), name.s + 4);
	assert_int_equal(rename(a.s, b.s), 0);
	assert_int_equal(store(f->mb, &uid, 1, MBOX_FLAGS_ADD, MAIL_SEEN, 0, 0,
	    NULL, NULL), 1);
	get(f->mb, 2, &r);
	/* the other program's \Deleted is kept, ours added */
	assert_int_equal(r.flags & MAIL_FLAGS_MASK,
	    MAIL_FLAGGED | MAIL_DELETED | MAIL_SEEN);
	name_of(f->mb, 2, &name);
	assert_non_null(strstr(name.s, ":2,FST"));
	assert_true(file_exists(f->dir, name.s));

	/* removed by another program: msg_open says ENOENT */
	str_clear(&a);
	str_appendf(&a, "%s/%s", f->dir, name.s);
	assert_int_equal(unlink(a.s), 0);
	assert_int_equal(mailbox_msg_open(f->mb, &r, &fd, &err), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(mailbox_find_uid(f->mb, 2, NULL, &r), -1);
	str_free(&name);
	str_free(&a);
	str_free(&b);
	str_free(&err);
}

/* ---- keywords ---- */

static void
test_keyword(void **state)
{
	struct mbfx *f = *state;
	struct mailbox *mb2 = NULL;
	struct str err = STR_INIT;
	char kw[32];
	int i;

	assert_int_equal(mailbox_keyword(f->mb, "work", 0, &err), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(mailbox_keyword(f->mb, "Work", 1, &err), 0);
	assert_int_equal(mailbox_keyword(f->mb, "WORK", 0, &err), 0);
	assert_int_equal(mailbox_keyword(f->mb, "work", 1, &err), 0);
	assert_int_equal(mailbox_meta(f->mb)->nkeywords, 1);
	/* not atoms */
	assert_int_equal(mailbox_keyword(f->mb, "\\Seen", 1, &err), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(mailbox_keyword(f->mb, "a b", 1, &err), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(mailbox_keyword(f->mb, "", 1, &err), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(mailbox_keyword(f->mb, "x(", 1, &err), -1);
	assert_int_equal(errno, EINVAL);
	/* another handle (another process) sees it, and adds its own */
	assert_int_equal(mailbox_open(f->dir, 0, 5, &mb2, &err), 0);
	assert_int_equal(mailbox_keyword(mb2, "work", 0, &err), 0);
	assert_int_equal(mailbox_keyword(mb2, "home", 1, &err), 1);
	assert_int_equal(mailbox_keyword(f->mb, "home", 0, &err), 1);
	assert_int_equal(mailbox_keyword(f->mb, "later", 1, &err), 2);
	assert_int_equal(mailbox_keyword(mb2, "later", 0, &err), 2);
	/* up to 64 */
	for (i = 3; i < 64; i++) {
		snprintf(kw, sizeof(kw), "kw%d", i);
		assert_int_equal(mailbox_keyword(f->mb, kw, 1, &err), i);
	}
	str_clear(&err);
	assert_int_equal(mailbox_keyword(f->mb, "one-too-many", 1, &err), -1);
	assert_int_equal(errno, ENOSPC);
	assert_non_null(strstr(err.s, "too many"));
	assert_int_equal(mailbox_keyword(mb2, "one-too-many", 1, &err), -1);
	assert_int_equal(errno, ENOSPC);
	/* existing ones still resolve when full */
	assert_int_equal(mailbox_keyword(mb2, "KW63", 1, &err), 63);
	mailbox_close(&mb2);
	str_free(&err);
}

/* ---- expunge ---- */

struct tombs {
	struct tomb t[16];
	size_t n;
};

static int
tomb_collect(const struct tomb *t, void *arg)
{
	struct tombs *ts = arg;

	if (ts->n < 16)
		ts->t[ts->n++] = *t;
	return 0;
}

static void
test_expunge(void **state)
{
	struct mbfx *f = *state;
	struct str err = STR_INIT, p = STR_INIT, n2 = STR_INIT, n4 = STR_INIT;
	struct tombs ts = { .n = 0 };
	const struct index_header *h;
	struct index_record r;
	uint32_t uids[] = { 2, 4, 40 }, six = 6;
	uint64_t hms;

	add_n(f->mb, 8);
	assert_int_equal(store(f->mb, &six, 1, MBOX_FLAGS_ADD, MAIL_DELETED, 0, 0,
	    NULL, NULL), 1);
	name_of(f->mb, 2, &n2);
	name_of(f->mb, 4, &n4);
	hms = mailbox_header(f->mb)->highestmodseq;
	assert_int_equal(mailbox_expunge(f->mb, uids, 3, &err), 2);
	h = mailbox_header(f->mb);
	assert_int_equal(h->exists, 6);
	assert_int_equal(h->count, 8);	/* kept until compaction */
	assert_int_equal(h->highestmodseq, hms + 1);
	assert_false(file_exists(f->dir, n2.s));
	assert_false(file_exists(f->dir, n4.s));
	assert_int_equal(count_files(f->dir, "new") + count_files(f->dir, "cur"), 6);
	assert_int_equal(mailbox_record(f->mb, 1, &r), 0);
	assert_true(r.flags & REC_EXPUNGED);
	assert_int_equal(r.modseq, hms + 1);
	/* tombstones, with the MODSEQ */
	str_appendf(&p, "%s/zest.expunged", f->dir);
	assert_int_equal(tomb_scan(p.s, h->uidvalidity, hms, tomb_collect, &ts), 0);
	assert_int_equal(ts.n, 2);
	assert_int_equal(ts.t[0].uid, 2);
	assert_int_equal(ts.t[1].uid, 4);
	assert_int_equal(ts.t[0].modseq, hms + 1);
	assert_int_equal(ts.t[1].modseq, hms + 1);
	/* again: nothing left to expunge, no MODSEQ */
	assert_int_equal(mailbox_expunge(f->mb, uids, 3, &err), 0);
	assert_int_equal(mailbox_header(f->mb)->highestmodseq, hms + 1);
	/* \Deleted one: the counter goes down with it */
	assert_int_equal(mailbox_header(f->mb)->deleted, 1);
	assert_int_equal(mailbox_expunge(f->mb, &six, 1, &err), 1);
	h = mailbox_header(f->mb);
	assert_int_equal(h->deleted, 0);
	assert_int_equal(h->exists, 5);
	assert_int_equal(h->highestmodseq, hms + 2);
	/* a sync later does not bring anything back */
	mailbox_sync_force(f->mb);
	assert_int_equal(mailbox_sync(f->mb, &err), 0);
	assert_int_equal(mailbox_header(f->mb)->exists, 5);
	ts.n = 0;
	assert_int_equal(tomb_scan(p.s, h->uidvalidity, 0, tomb_collect, &ts), 0);
	assert_int_equal(ts.n, 3);
	str_free(&err);
	str_free(&p);
	str_free(&n2);
	str_free(&n4);
}

/* A file renamed by another program just before the expunge is still
 * removed (else a sync would take it for a new message). */
static void
test_expunge_renamed(void **state)
{
	struct mbfx *f = *state;
	struct str name = STR_INIT, a = STR_INIT, b = STR_INIT, err = STR_INIT;
	uint32_t uid = 1;

	add_n(f->mb, 4);
	name_of(f->mb, 1, &name);
	str_appendf(&a, "%s/%s", f->dir, name.s);
	str_appendf(&b, "%s/cur/%s:2,S", f->dir, name.s + 4);
	assert_int_equal(rename(a.s, b.s), 0);
	assert_int_equal(mailbox_expunge(f->mb, &uid, 1, &err), 1);
	assert_false(file_exists(f->dir, b.s + strlen(f->dir) + 1));
	mailbox_sync_force(f->mb);
	assert_int_equal(mailbox_sync(f->mb, &err), 0);
	assert_int_equal(mailbox_header(f->mb)->exists, 3);
	assert_int_equal(mailbox_header(f->mb)->uidnext, 5);
	str_free(&name);
	str_free(&a);
	str_free(&b);
	str_free(&err);
}

/* ---- MODSEQ ---- */

static void
test_modseq_monotonic(void **state)
{
	struct mbfx *f = *state;
	struct mailbox *dst = NULL;
	struct str err = STR_INIT;
	struct index_record r;
	uint64_t last, ms;
	uint32_t uid, dst_uid;

	add_n(f->mb, 3);
	last = mailbox_header(f->mb)->highestmodseq;
	/* every append got its own */
	get(f->mb, 3, &r);
	assert_int_equal(r.modseq, last);
	get(f->mb, 2, &r);
	assert_true(r.modseq < last);
	for (uid = 1; uid <= 3; uid++) {
		assert_int_equal(store(f->mb, &uid, 1, MBOX_FLAGS_ADD, MAIL_SEEN,
		    0, 0, NULL, NULL), 1);
		ms = mailbox_header(f->mb)->highestmodseq;
		assert_true(ms > last);
		last = ms;
		uid += 0;
	}
	uid = 4;
	assert_int_equal(add(f->mb, "S: x\n\nx\n"), 4);
	ms = mailbox_header(f->mb)->highestmodseq;
	assert_true(ms > last);
	last = ms;
	assert_int_equal(mailbox_expunge(f->mb, &uid, 1, &err), 1);
	ms = mailbox_header(f->mb)->highestmodseq;
	assert_true(ms > last);
	last = ms;
	/* a copy into another mailbox is an append there */
	assert_int_equal(mailbox_open(f->dir2, MBOX_CREATE, 5, &dst, &err), 0);
	ms = mailbox_header(dst)->highestmodseq;
	uid = 1;
	assert_int_equal(mailbox_copy(f->mb, &uid, 1, dst, &dst_uid, &err), 1);
	assert_true(mailbox_header(dst)->highestmodseq > ms);
	get(dst, dst_uid, &r);
	assert_int_equal(r.modseq, mailbox_header(dst)->highestmodseq);
	/* compaction and reopening never lower it */
	assert_int_equal(mailbox_compact(f->mb, &err), 0);
	assert_int_equal(mailbox_header(f->mb)->highestmodseq, last);
	mailbox_close(&f->mb);
	assert_int_equal(mailbox_open(f->dir, 0, 5, &f->mb, &err), 0);
	assert_int_equal(mailbox_header(f->mb)->highestmodseq, last);
	mailbox_close(&dst);
	str_free(&err);
}

/* ---- copy ---- */

static void
payload_item(struct mailbox *mb, const struct index_record *r, unsigned id,
    struct str *out)
{
	const unsigned char *p, *d;
	size_t n, dn;

	str_clear(out);
	assert_int_equal(mailbox_cached(mb, r, &p, &n), 0);
	assert_int_equal(cache_item_find(p, n, id, &d, &dn), 1);
	str_append(out, d, dn);
}

static void
test_copy(void **state)
{
	struct mbfx *f = *state;
	struct mailbox *dst = NULL;
	struct str err = STR_INIT, a = STR_INIT, b = STR_INIT, name = STR_INIT;
	struct index_record r, s;
	uint32_t uids[] = { 1, 2, 3, 50 }, out[4], three = 3;
	int red, blue, green;
	const struct mbmeta *m;

	/* source: keywords red(0) blue(1); dst numbers them otherwise */
	red = mailbox_keyword(f->mb, "red", 1, &err);
	blue = mailbox_keyword(f->mb, "blue", 1, &err);
	mbfx_add(f->mb, "Subject: one\n\n1\n", MAIL_SEEN | MAIL_FLAGGED,
	    1ull << blue, 1600000000, 1);
	mbfx_add(f->mb, "Subject: two\n\n2\n", 0, (1ull << red) | (1ull << blue),
	    1600000100, 0);
	mbfx_add(f->mb, "Subject: three\n\n3\n", 0, 0, 1600000200, 0);
	assert_int_equal(mailbox_open(f->dir2, MBOX_CREATE, 5, &dst, &err), 0);
	green = mailbox_keyword(dst, "green", 1, &err);
	assert_int_equal(mailbox_keyword(dst, "BLUE", 1, &err), 1);
	assert_int_equal(green, 0);
	add(dst, "Subject: already\n\nthere\n");
	assert_int_equal(mailbox_expunge(f->mb, &three, 1, &err), 1);

	assert_int_equal(mailbox_copy(f->mb, uids, 4, dst, out, &err), 2);
	assert_int_equal(out[0], 2);	/* ascending, after dst's own */
	assert_int_equal(out[1], 3);
	assert_int_equal(out[2], 0);	/* expunged */
	assert_int_equal(out[3], 0);	/* never existed */
	m = mailbox_meta(dst);
	assert_int_equal(m->nkeywords, 3);
	assert_string_equal(m->keywords[2], "red");

	get(f->mb, 1, &s);
	get(dst, 2, &r);
	assert_int_equal(r.flags & MAIL_FLAGS_MASK, MAIL_SEEN | MAIL_FLAGGED);
	assert_int_equal(r.keywords, 1ull << 1);	/* BLUE */
	assert_int_equal(r.internal_date, 1600000000);
	assert_int_equal(r.size, s.size);
	payload_item(f->mb, &s, CI_ENVELOPE, &a);
	payload_item(dst, &r, CI_ENVELOPE, &b);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.s, b.s, a.len);
	payload_item(dst, &r, CI_NAME, &a);
	assert_int_equal(mailbox_file_name(dst, &r, &name), 0);
	assert_string_equal(a.s, name.s);
	assert_non_null(strstr(name.s, ",U=2:2,FS"));
	assert_true(file_exists(f->dir2, name.s));
	get(dst, 3, &r);
	assert_int_equal(r.keywords, (1ull << 1) | (1ull << 2));
	assert_int_equal(r.flags & MAIL_FLAGS_MASK, 0);
	assert_true(r.flags & REC_IN_NEW);
	assert_int_equal(r.internal_date, 1600000100);
	assert_int_equal(mailbox_header(dst)->exists, 3);
	assert_int_equal(mailbox_header(dst)->unseen, 2);
	assert_int_equal(mailbox_header(dst)->uidnext, 4);
	/* the source is unchanged */
	assert_int_equal(mailbox_header(f->mb)->exists, 2);
	get(f->mb, 2, &s);
	assert_int_equal(s.keywords, 3);
	/* a fresh handle reads the same, and a rebuild keeps the UIDs */
	mailbox_close(&dst);
	assert_int_equal(mailbox_reconstruct(f->dir2, 5,
	    &(struct mailbox_rebuild_stats){ 0 }, &err), 0);
	assert_int_equal(mailbox_open(f->dir2, 0, 5, &dst, &err), 0);
	get(dst, 2, &r);
	assert_int_equal(r.flags & MAIL_FLAGS_MASK, MAIL_SEEN | MAIL_FLAGGED);
	get(dst, 3, &r);
	assert_int_equal(mailbox_header(dst)->uidnext, 4);
	mailbox_close(&dst);
	str_free(&err);
	str_free(&a);
	str_free(&b);
	str_free(&name);
}

static void
test_copy_same_mailbox(void **state)
{
	struct mbfx *f = *state;
	struct str err = STR_INIT;
	struct index_record r;
	uint32_t uids[] = { 1, 2 }, out[2];

	add_n(f->mb, 2);
	assert_int_equal(store(f->mb, uids, 1, MBOX_FLAGS_ADD, MAIL_ANSWERED, 0,
	    0, NULL, NULL), 1);
	assert_int_equal(mailbox_copy(f->mb, uids, 2, f->mb, out, &err), 2);
	assert_int_equal(out[0], 3);
	assert_int_equal(out[1], 4);
	get(f->mb, 3, &r);
	assert_int_equal(r.flags & MAIL_FLAGS_MASK, MAIL_ANSWERED);
	assert_int_equal(mailbox_header(f->mb)->exists, 4);
	assert_int_equal(count_files(f->dir, "new") + count_files(f->dir, "cur"), 4);
	str_free(&err);
}

/* Source files another program renamed or removed since the last sync. */
static void
test_copy_after_foreign_change(void **state)
{
	struct mbfx *f = *state;
	struct mailbox *dst = NULL;
	struct str err = STR_INIT, name = STR_INIT, a = STR_INIT, b = STR_INIT;
	struct index_record r;
	uint32_t uids[] = { 1, 2, 3 }, out[3];

	add_n(f->mb, 3);
	name_of(f->mb, 1, &name);
	str_appendf(&a, "%s/%s", f->dir, name.s);
	str_appendf(&b, "%s/cur/%s:2,RS", f->dir, name.s + 4);
	assert_int_equal(rename(a.s, b.s), 0);
	name_of(f->mb, 2, &name);
	str_clear(&a);
	str_appendf(&a, "%s/%s", f->dir, name.s);
	assert_int_equal(unlink(a.s), 0);
	assert_int_equal(mailbox_open(f->dir2, MBOX_CREATE, 5, &dst, &err), 0);
	assert_int_equal(mailbox_copy(f->mb, uids, 3, dst, out, &err), 2);
	assert_int_equal(out[0], 1);
	assert_int_equal(out[1], 0);	/* gone meanwhile */
	assert_int_equal(out[2], 2);
	get(dst, 1, &r);
	assert_int_equal(r.flags & MAIL_FLAGS_MASK, MAIL_SEEN | MAIL_ANSWERED);
	/* the source learnt of both changes */
	get(f->mb, 1, &r);
	assert_int_equal(r.flags & MAIL_FLAGS_MASK, MAIL_SEEN | MAIL_ANSWERED);
	assert_int_equal(mailbox_find_uid(f->mb, 2, NULL, &r), -1);
	mailbox_close(&dst);
	str_free(&err);
	str_free(&name);
	str_free(&a);
	str_free(&b);
}

/* Keywords that do not fit into dst: the copy fails whole. */
static void
test_copy_keyword_full(void **state)
{
	struct mbfx *f = *state;
	struct mailbox *dst = NULL;
	struct str err = STR_INIT;
	uint32_t uids[] = { 1, 2 }, out[2];
	char kw[16];
	int i;

	add_n(f->mb, 1);
	i = mailbox_keyword(f->mb, "special", 1, &err);
	mbfx_add(f->mb, "S: k\n\nk\n", 0, 1ull << i, 1700000000, 0);
	assert_int_equal(mailbox_open(f->dir2, MBOX_CREATE, 5, &dst, &err), 0);
	for (i = 0; i < 64; i++) {
		snprintf(kw, sizeof(kw), "d%d", i);
		assert_int_equal(mailbox_keyword(dst, kw, 1, &err), i);
	}
	assert_int_equal(mailbox_copy(f->mb, uids, 2, dst, out, &err), -1);
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(out[0], 0);
	assert_int_equal(mailbox_header(dst)->exists, 0);
	assert_int_equal(count_files(f->dir2, "new") + count_files(f->dir2, "cur"), 0);
	mailbox_close(&dst);
	str_free(&err);
}

/* Across file systems there is no hard link: the bytes are copied. */
static void
test_copy_across_fs(void **state)
{
	struct mbfx *f = *state;
	struct mailbox *src = NULL;
	struct str err = STR_INIT, body = STR_INIT, name = STR_INIT,
	    p = STR_INIT;
	char shm[64] = "/dev/shm/zest-test-mbupd.XXXXXX", cmd[128];
	struct index_record r;
	struct stat st;
	uint32_t uid = 1, out;

	if (mkdtemp(shm) == NULL) {
		skip();
		return;
	}
	strcat(shm, "/b");
	assert_int_equal(mailbox_open(shm, MBOX_CREATE, 5, &src, &err), 0);
	mbfx_add(src, "Subject: far\n\naway\n", MAIL_SEEN, 0, 1500000000, 1);
	assert_int_equal(mailbox_copy(src, &uid, 1, f->mb, &out, &err), 1);
	assert_int_equal(out, 1);
	get(f->mb, 1, &r);
	assert_int_equal(mailbox_file_name(f->mb, &r, &name), 0);
	str_appendf(&p, "%s/%s", f->dir, name.s);
	assert_int_equal(fs_read_file(p.s, 4096, &body), 0);
	assert_string_equal(body.s, "Subject: far\n\naway\n");
	assert_int_equal(stat(p.s, &st), 0);
	assert_int_equal(st.st_mtim.tv_sec, 1500000000);
	assert_int_equal(st.st_nlink, 1);
	assert_int_equal(r.flags & MAIL_FLAGS_MASK, MAIL_SEEN);
	assert_int_equal(count_files(f->dir, "tmp"), 0);
	mailbox_close(&src);
	shm[strlen(shm) - 2] = '\0';
	snprintf(cmd, sizeof(cmd), "rm -rf %s", shm);
	assert_int_equal(system(cmd), 0);
	str_free(&err);
	str_free(&body);
	str_free(&name);
	str_free(&p);
}

/* ---- \Recent ---- */

static void
test_take_recent(void **state)
{
	struct mbfx *f = *state;
	struct mailbox *mb2 = NULL;
	struct str err = STR_INIT;
	uint32_t first, last;

	assert_int_equal(mailbox_take_recent(f->mb, &first, &last, &err), 0);
	assert_true(first > last);	/* empty */
	add_n(f->mb, 3);
	assert_int_equal(mailbox_take_recent(f->mb, &first, &last, &err), 0);
	assert_int_equal(first, 1);
	assert_int_equal(last, 3);
	/* another session gets none of them */
	assert_int_equal(mailbox_open(f->dir, 0, 5, &mb2, &err), 0);
	assert_int_equal(mailbox_take_recent(mb2, &first, &last, &err), 0);
	assert_true(first > last);
	assert_int_equal(add(f->mb, "S: 4\n\n4\n"), 4);
	assert_int_equal(mailbox_take_recent(mb2, &first, &last, &err), 0);
	assert_int_equal(first, 4);
	assert_int_equal(last, 4);
	assert_int_equal(mailbox_take_recent(f->mb, &first, &last, &err), 0);
	assert_true(first > last);
	mailbox_close(&mb2);
	str_free(&err);
}

/* ---- compaction ---- */

static void
test_compaction(void **state)
{
	struct mbfx *f = *state;
	struct mailbox *reader = NULL;
	struct str err = STR_INIT, a = STR_INIT, b = STR_INIT;
	struct index_record before[20], r;
	struct index_header h0;
	uint32_t uids[10], i, seq, kw = 0;
	int fd;

	add_n(f->mb, 20);
	kw = (uint32_t)mailbox_keyword(f->mb, "keep", 1, &err);
	for (i = 0; i < 20; i++)
		uids[i / 2] = i + 1;
	for (i = 0; i < 10; i++)
		uids[i] = 2 * i + 2;	/* even UIDs */
	assert_int_equal(store(f->mb, uids, 10, MBOX_FLAGS_ADD, MAIL_SEEN,
	    1ull << kw, 0, NULL, NULL), 10);
	for (i = 0; i < 20; i++)
		get(f->mb, i + 1, &before[i]);
	/* a reader opened before the compaction */
	assert_int_equal(mailbox_open(f->dir, 0, 5, &reader, &err), 0);
	/* expunge 1..5: a quarter, not more: no compaction yet */
	for (i = 0; i < 5; i++)
		uids[i] = i + 1;
	assert_int_equal(mailbox_expunge(f->mb, uids, 5, &err), 5);
	assert_int_equal(mailbox_header(f->mb)->count, 20);
	h0 = *mailbox_header(f->mb);
	/* one more: 6 of 20 > a quarter: rewritten */
	uids[0] = 6;
	assert_int_equal(mailbox_expunge(f->mb, uids, 1, &err), 1);
	assert_int_equal(mailbox_header(f->mb)->count, 14);
	assert_int_equal(mailbox_header(f->mb)->exists, 14);
	assert_int_equal(mailbox_header(f->mb)->uidvalidity, h0.uidvalidity);
	assert_int_equal(mailbox_header(f->mb)->uidnext, 21);
	assert_int_equal(mailbox_header(f->mb)->highestmodseq,
	    h0.highestmodseq + 1);
	assert_true(mailbox_header(f->mb)->generation > h0.generation);
	assert_int_equal(mailbox_header(f->mb)->unseen, 7);
	for (i = 7; i <= 20; i++) {
		assert_int_equal(mailbox_find_uid(f->mb, i, &seq, &r), 0);
		assert_int_equal(seq, i - 7);
		assert_int_equal(r.flags, before[i - 1].flags);
		assert_int_equal(r.keywords, before[i - 1].keywords);
		assert_int_equal(r.modseq, before[i - 1].modseq);
		payload_item(f->mb, &r, CI_ENVELOPE, &a);
		payload_item(f->mb, &before[i - 1], CI_ENVELOPE, &b);
		assert_string_equal(a.s, b.s);
		assert_int_equal(mailbox_msg_open(f->mb, &r, &fd, &err), 0);
		close(fd);
	}
	/* the old reader still reads its old (consistent) view by position
	 * until it refreshes; then by UID it finds the same messages */
	assert_int_equal(mailbox_header(reader)->count, 20);
	assert_int_equal(mailbox_record(reader, 0, &r), 0);
	assert_int_equal(r.uid, 1);
	assert_int_equal(mailbox_refresh(reader, &err), 0);
	assert_int_equal(mailbox_header(reader)->count, 14);
	assert_int_equal(mailbox_header(reader)->generation,
	    mailbox_header(f->mb)->generation);
	for (i = 7; i <= 20; i++) {
		get(reader, i, &r);
		assert_int_equal(r.flags, before[i - 1].flags);
		assert_int_equal(mailbox_msg_open(reader, &r, &fd, &err), 0);
		close(fd);
	}
	for (i = 1; i <= 6; i++) {
		assert_int_equal(mailbox_find_uid(reader, i, NULL, &r), -1);
		assert_int_equal(errno, ENOENT);
	}
	/* writes through the old reader's handle land in the new file */
	uids[0] = 7;
	assert_int_equal(store(reader, uids, 1, MBOX_FLAGS_ADD, MAIL_FLAGGED, 0,
	    0, NULL, NULL), 1);
	assert_int_equal(mailbox_refresh(f->mb, &err), 0);
	get(f->mb, 7, &r);
	assert_true(r.flags & MAIL_FLAGGED);
	/* a fresh open and a full sync agree with it */
	mailbox_close(&reader);
	assert_int_equal(mailbox_open(f->dir, 0, 5, &reader, &err), 0);
	mailbox_sync_force(reader);
	assert_int_equal(mailbox_sync(reader, &err), 0);
	assert_int_equal(mailbox_header(reader)->count, 14);
	assert_int_equal(mailbox_header(reader)->uidnext, 21);
	/* new messages go on after the compacted ones */
	assert_int_equal(add(f->mb, "S: n\n\nn\n"), 21);
	assert_int_equal(mailbox_find_uid(f->mb, 21, &seq, NULL), 0);
	assert_int_equal(seq, 14);
	/* the explicit call with nothing expunged changes nothing */
	h0 = *mailbox_header(f->mb);
	assert_int_equal(mailbox_compact(f->mb, &err), 0);
	assert_int_equal(mailbox_header(f->mb)->generation, h0.generation);
	mailbox_close(&reader);
	str_free(&err);
	str_free(&a);
	str_free(&b);
}

/* UIDs out of order (a client's "5,1,3") still reach every message. */
static void
test_store_unordered(void **state)
{
	struct mbfx *f = *state;
	struct mailbox_uids ch = { 0 };
	uint32_t uids[] = { 5, 1, 3, 3 };
	struct index_record r;

	add_n(f->mb, 5);
	assert_int_equal(store(f->mb, uids, 4, MBOX_FLAGS_ADD, MAIL_SEEN, 0, 0,
	    &ch, NULL), 3);
	assert_int_equal(ch.n, 3);
	get(f->mb, 1, &r);
	assert_true(r.flags & MAIL_SEEN);
	get(f->mb, 2, &r);
	assert_false(r.flags & MAIL_SEEN);
	get(f->mb, 5, &r);
	assert_true(r.flags & MAIL_SEEN);
	mailbox_uids_free(&ch);
}

/* A STORE writes its records in runs of adjacent positions: runs broken
 * by gaps, at the end of the index and out of order all reach the file
 * (a second handle reads them) with counters that agree. */
static void
test_store_runs(void **state)
{
	struct mbfx *f = *state;
	struct mailbox *mb2 = NULL;
	struct str err = STR_INIT;
	struct index_record r;
	uint32_t uids[200], back[] = { 40, 7, 7, 3 };
	size_t n = 0;
	uint32_t u, seen = 0;

	add_n(f->mb, 300);
	for (u = 1; u <= 100; u++)
		uids[n++] = u;
	uids[n++] = 150;
	for (u = 152; u <= 160; u++)
		uids[n++] = u;
	uids[n++] = 299;
	uids[n++] = 300;
	assert_int_equal(store(f->mb, uids, n, MBOX_FLAGS_ADD, MAIL_SEEN, 0, 0,
	    NULL, NULL), (int)n);
	assert_int_equal(store(f->mb, back, 4, MBOX_FLAGS_REPLACE, MAIL_FLAGGED,
	    0, 0, NULL, NULL), 3);
	assert_int_equal(mailbox_open(f->dir, 0, 5, &mb2, &err), 0);
	assert_int_equal(mailbox_check(mb2), 0);
	for (u = 1; u <= 300; u++) {
		int want_seen = u <= 100 || u == 150 || (u >= 152 && u <= 160) ||
		    u >= 299;
		int flagged = u == 40 || u == 7 || u == 3;

		assert_int_equal(mailbox_find_uid(mb2, u, NULL, &r), 0);
		if (flagged)
			assert_int_equal(r.flags & MAIL_FLAGS_MASK, MAIL_FLAGGED);
		else
			assert_int_equal(!!(r.flags & MAIL_SEEN), want_seen);
		seen += (r.flags & MAIL_SEEN) != 0;
	}
	assert_int_equal(mailbox_header(mb2)->unseen, 300 - seen);
	assert_int_equal(seen, n - 3);
	mailbox_close(&mb2);
	str_free(&err);
}

static int
store_deferred(struct mailbox *mb, const uint32_t *uids, size_t n,
    enum mailbox_flag_op op, uint32_t flags)
{
	struct mailbox_store st = { op, flags, 0, 0 };
	struct str err = STR_INIT;
	int rc = mailbox_store_deferred(mb, uids, n, &st, NULL, NULL, &err);

	if (rc < 0)
		print_message("store: %s\n", err.s ? err.s : "");
	str_free(&err);
	return rc;
}

/* A deferred STORE changes the index only (durably: a second handle sees
 * it, a full sync does not take the old names' flags back); when the
 * session dies before renaming, another handle renames every file that
 * is behind. */
static void
test_store_deferred(void **state)
{
	struct mbfx *f = *state;
	struct mailbox *mb2 = NULL;
	struct str err = STR_INIT, n1 = STR_INIT, n3 = STR_INIT;
	struct index_record r;
	uint32_t uids[] = { 1, 3 }, u;

	add_n(f->mb, 4);
	name_of(f->mb, 1, &n1);
	name_of(f->mb, 3, &n3);
	assert_int_equal(store_deferred(f->mb, uids, 2, MBOX_FLAGS_ADD,
	    MAIL_SEEN | MAIL_FLAGGED), 2);
	assert_int_equal(mailbox_header(f->mb)->names_behind, 2);
	get(f->mb, 1, &r);
	assert_true(r.flags & REC_NAME_BEHIND);
	assert_int_equal(r.flags & MAIL_FLAGS_MASK, MAIL_SEEN | MAIL_FLAGGED);
	assert_true(file_exists(f->dir, n1.s));
	assert_true(file_exists(f->dir, n3.s));
	/* the session goes away before its renames */
	mailbox_close(&f->mb);
	assert_int_equal(mailbox_open(f->dir, 0, 5, &mb2, &err), 0);
	mailbox_sync_force(mb2);
	assert_int_equal(mailbox_sync(mb2, &err), 0);
	for (u = 1; u <= 4; u++) {
		get(mb2, u, &r);
		assert_int_equal(r.flags & MAIL_FLAGS_MASK,
		    u == 1 || u == 3 ? MAIL_SEEN | MAIL_FLAGGED : 0);
	}
	assert_int_equal(mailbox_header(mb2)->unseen, 2);
	/* a STORE of other messages catches up with all of them */
	u = 2;
	assert_int_equal(store(mb2, &u, 1, MBOX_FLAGS_ADD, MAIL_DRAFT, 0, 0,
	    NULL, NULL), 1);
	assert_int_equal(mailbox_header(mb2)->names_behind, 0);
	assert_false(file_exists(f->dir, n1.s));
	for (u = 1; u <= 3; u++) {
		get(mb2, u, &r);
		assert_false(r.flags & REC_NAME_BEHIND);
		name_of(mb2, u, &n1);
		assert_true(file_exists(f->dir, n1.s));
		assert_non_null(strstr(n1.s, u == 2 ? ":2,D" : ":2,FS"));
	}
	mailbox_sync_force(mb2);
	assert_int_equal(mailbox_sync(mb2, &err), 0);
	get(mb2, 3, &r);
	assert_int_equal(r.flags & MAIL_FLAGS_MASK, MAIL_SEEN | MAIL_FLAGGED);
	assert_int_equal(mailbox_check(mb2), 0);
	assert_int_equal(mailbox_open(f->dir, 0, 5, &f->mb, &err), 0);
	mailbox_close(&mb2);
	str_free(&err);
	str_free(&n1);
	str_free(&n3);
}

/* Between a deferred STORE and its renames another program renames a
 * file: both changes stay; an expunged record behind drops out of the
 * count. */
static void
test_store_deferred_foreign(void **state)
{
	struct mbfx *f = *state;
	struct str err = STR_INIT, name = STR_INIT, a = STR_INIT, b = STR_INIT;
	struct index_record r;
	uint32_t uids[] = { 1, 2 }, u = 1;

	add_n(f->mb, 3);
	name_of(f->mb, 2, &name);
	assert_int_equal(store_deferred(f->mb, uids, 2, MBOX_FLAGS_ADD,
	    MAIL_SEEN), 2);
	str_appendf(&a, "%s/%s", f->dir, name.s);
	str_appendf(&b, "%s/cur/%s:2,T", f->dir, name.s + 4);
	assert_int_equal(rename(a.s, b.s), 0);
	assert_int_equal(mailbox_expunge(f->mb, &u, 1, &err), 1);
	assert_int_equal(mailbox_store_names(f->mb, uids, 2, &err), 0);
	assert_int_equal(mailbox_header(f->mb)->names_behind, 0);
	get(f->mb, 2, &r);
	assert_int_equal(r.flags & MAIL_FLAGS_MASK, MAIL_SEEN | MAIL_DELETED);
	assert_false(r.flags & REC_NAME_BEHIND);
	name_of(f->mb, 2, &name);
	assert_non_null(strstr(name.s, ":2,ST"));
	assert_true(file_exists(f->dir, name.s));
	assert_int_equal(mailbox_header(f->mb)->deleted, 1);
	assert_int_equal(mailbox_header(f->mb)->unseen, 1);
	/* nothing behind: nothing to do */
	assert_int_equal(mailbox_store_names(f->mb, NULL, 0, &err), 0);
	str_free(&err);
	str_free(&name);
	str_free(&a);
	str_free(&b);
}

/* zest reconstruct leaves expunged records out and keeps the rest. */
static void
test_reconstruct_compacts(void **state)
{
	struct mbfx *f = *state;
	struct mailbox_rebuild_stats rs;
	struct str err = STR_INIT;
	uint32_t uid = 2, i;
	uint64_t hms;

	add_n(f->mb, 8);
	assert_int_equal(mailbox_expunge(f->mb, &uid, 1, &err), 1);
	assert_int_equal(mailbox_header(f->mb)->count, 8);
	hms = mailbox_header(f->mb)->highestmodseq;
	assert_int_equal(mailbox_reconstruct(f->dir, 5, &rs, &err), 0);
	assert_int_equal(rs.messages, 7);
	assert_int_equal(mailbox_refresh(f->mb, &err), 0);
	assert_int_equal(mailbox_header(f->mb)->count, 7);
	assert_int_equal(mailbox_header(f->mb)->uidnext, 9);
	assert_true(mailbox_header(f->mb)->highestmodseq >= hms);
	for (i = 1; i <= 8; i++)
		assert_int_equal(mailbox_find_uid(f->mb, i, NULL, NULL),
		    i == 2 ? -1 : 0);
	str_free(&err);
}

/* A file that outlives its expunge (a crash before the unlink) comes back
 * from a rebuild under a new UID, never the one clients saw vanish. */
static void
test_rebuild_no_uid_reuse(void **state)
{
	struct mbfx *f = *state;
	struct mailbox_rebuild_stats rs;
	struct str err = STR_INIT, name = STR_INIT, a = STR_INIT, b = STR_INIT;
	struct index_record r;
	uint32_t uid = 2;

	add_n(f->mb, 3);
	name_of(f->mb, 2, &name);
	str_appendf(&a, "%s/%s", f->dir, name.s);
	str_appendf(&b, "%s/keep", f->top);
	assert_int_equal(link(a.s, b.s), 0);
	assert_int_equal(mailbox_expunge(f->mb, &uid, 1, &err), 1);
	assert_int_equal(link(b.s, a.s), 0);	/* as if never unlinked */
	assert_int_equal(mailbox_reconstruct(f->dir, 5, &rs, &err), 0);
	assert_int_equal(rs.messages, 3);
	assert_int_equal(rs.new_uids, 1);
	assert_int_equal(mailbox_refresh(f->mb, &err), 0);
	assert_int_equal(mailbox_find_uid(f->mb, 2, NULL, &r), -1);
	get(f->mb, 4, &r);
	assert_int_equal(mailbox_header(f->mb)->uidnext, 5);
	str_free(&err);
	str_free(&name);
	str_free(&a);
	str_free(&b);
}

/* A reader without the lock never sees a half-written record while
 * another process rewrites flags in place. */
static void
test_concurrent_reader(void **state)
{
	struct mbfx *f = *state;
	struct mailbox *reader = NULL;
	struct str err = STR_INIT;
	uint32_t uids[500], i;
	unsigned rounds = 0;
	pid_t pid;
	int status;

	add_n(f->mb, 500);
	for (i = 0; i < 500; i++)
		uids[i] = i + 1;
	assert_int_equal(mailbox_open(f->dir, 0, 5, &reader, &err), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct mailbox *w = NULL;
		int k, ok = 1;

		if (mailbox_open(f->dir, 0, 5, &w, &err) < 0)
			_exit(2);
		for (k = 0; k < 60 && ok; k++)
			ok = store(w, uids, 500, k % 2 ? MBOX_FLAGS_REMOVE :
			    MBOX_FLAGS_ADD, MAIL_FLAGGED, 0, 0, NULL, NULL) == 500;
		mailbox_close(&w);
		_exit(ok ? 0 : 1);
	}
	for (;;) {
		struct index_record r;

		assert_int_equal(mailbox_refresh(reader, &err), 0);
		for (i = 0; i < mailbox_header(reader)->count; i++)
			assert_int_equal(mailbox_record(reader, i, &r), 0);
		rounds++;
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
	}
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	print_message("reader: %u passes over 500 records during 60 STOREs\n",
	    rounds);
	assert_int_equal(mailbox_refresh(reader, &err), 0);
	assert_true(mailbox_header(reader)->highestmodseq >= 560);
	mailbox_close(&reader);
	str_free(&err);
}

/* ---- a large mailbox ---- */

static double
now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 20,000 messages (ZEST_TEST_MESSAGES to change it) put into new/ as
 * another MDA would, indexed by one sync; then STORE +FLAGS (\Seen) on
 * 10,000 of them. */
static void
test_large_store(void **state)
{
	struct mbfx *f = *state;
	struct mailbox_uids ch = { 0 };
	struct str err = STR_INIT, p = STR_INIT;
	uint32_t *uids = calloc(10000, sizeof(*uids));
	const char *env = getenv("ZEST_TEST_MESSAGES");
	unsigned total = env ? (unsigned)strtoul(env, NULL, 10) : 20000;
	unsigned i;

	if (total < 15000 || total > 1000000)
		total = 20000;
	double t0, t1, t2;
	int kw;

	for (i = 0; i < total; i++) {
		char text[96];
		int fd;

		str_clear(&p);
		str_appendf(&p, "%s/new/%u.M1P1Q%u.bulk,U=%u", f->dir,
		    1700000000 + i, i, i + 1);
		snprintf(text, sizeof(text), "Subject: bulk %u\n\nbody\n", i);
		fd = open(p.s, O_WRONLY | O_CREAT | O_EXCL, 0600);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, text, strlen(text)),
		    (ssize_t)strlen(text));
		close(fd);
	}
	t0 = now_sec();
	mailbox_sync_force(f->mb);
	assert_int_equal(mailbox_sync(f->mb, &err), 0);
	t1 = now_sec();
	assert_int_equal(mailbox_header(f->mb)->exists, total);
	print_message("sync of %u new files: %.3f s\n", total, t1 - t0);
	for (i = 0; i < 10000; i++)
		uids[i] = 5001 + i;
	t0 = now_sec();
	assert_int_equal(store(f->mb, uids, 10000, MBOX_FLAGS_ADD, MAIL_SEEN, 0,
	    0, &ch, NULL), 10000);
	t1 = now_sec();
	kw = mailbox_keyword(f->mb, "$Label1", 1, &err);
	assert_int_equal(store(f->mb, uids, 10000, MBOX_FLAGS_ADD, 0, 1ull << kw,
	    0, NULL, NULL), 10000);
	t2 = now_sec();
	print_message("STORE +FLAGS (\\Seen) on 10000 of %u: %.3f s "
	    "(10000 renames)\n", total, t1 - t0);
	print_message("STORE +FLAGS ($Label1) on 10000 of %u: %.3f s "
	    "(no renames)\n", total, t2 - t1);
	assert_int_equal(ch.n, 10000);
	assert_int_equal(mailbox_header(f->mb)->unseen, total - 10000);
	assert_int_equal(count_files(f->dir, "cur"), 10000);
	/* no directory read after our own renames: the next sync is cheap */
	t0 = now_sec();
	assert_int_equal(mailbox_sync(f->mb, &err), 0);
	t1 = now_sec();
	print_message("sync right after: %.4f s\n", t1 - t0);
	t0 = now_sec();
	assert_int_equal(mailbox_expunge(f->mb, uids, 10000, &err), 10000);
	t1 = now_sec();
	print_message("EXPUNGE of 10000 (and compaction): %.3f s\n", t1 - t0);
	assert_int_equal(mailbox_header(f->mb)->exists, total - 10000);
	/* compacted when 10,000 are more than a quarter */
	assert_int_equal(mailbox_header(f->mb)->count,
	    10000 * 4 > total ? total - 10000 : total);
	mailbox_uids_free(&ch);
	free(uids);
	str_free(&err);
	str_free(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uids),
		cmocka_unit_test_setup_teardown(test_find_uid, mbfx_setup, mbfx_teardown),
		cmocka_unit_test_setup_teardown(test_store_flags, mbfx_setup, mbfx_teardown),
		cmocka_unit_test_setup_teardown(test_store_errors, mbfx_setup, mbfx_teardown),
		cmocka_unit_test_setup_teardown(test_store_keywords, mbfx_setup, mbfx_teardown),
		cmocka_unit_test_setup_teardown(test_unchangedsince, mbfx_setup, mbfx_teardown),
		cmocka_unit_test_setup_teardown(test_store_then_sync, mbfx_setup, mbfx_teardown),
		cmocka_unit_test_setup_teardown(test_store_after_foreign_rename, mbfx_setup, mbfx_teardown),
		cmocka_unit_test_setup_teardown(test_keyword, mbfx_setup, mbfx_teardown),
		cmocka_unit_test_setup_teardown(test_expunge, mbfx_setup, mbfx_teardown),
		cmocka_unit_test_setup_teardown(test_expunge_renamed, mbfx_setup, mbfx_teardown),
		cmocka_unit_test_setup_teardown(test_modseq_monotonic, mbfx_setup, mbfx_teardown),
		cmocka_unit_test_setup_teardown(test_copy, mbfx_setup, mbfx_teardown),
		cmocka_unit_test_setup_teardown(test_copy_same_mailbox, mbfx_setup, mbfx_teardown),
		cmocka_unit_test_setup_teardown(test_copy_after_foreign_change, mbfx_setup, mbfx_teardown),
		cmocka_unit_test_setup_teardown(test_copy_keyword_full, mbfx_setup, mbfx_teardown),
		cmocka_unit_test_setup_teardown(test_copy_across_fs, mbfx_setup, mbfx_teardown),
		cmocka_unit_test_setup_teardown(test_take_recent, mbfx_setup, mbfx_teardown),
		cmocka_unit_test_setup_teardown(test_compaction, mbfx_setup, mbfx_teardown),
		cmocka_unit_test_setup_teardown(test_store_unordered, mbfx_setup, mbfx_teardown),
		cmocka_unit_test_setup_teardown(test_store_runs, mbfx_setup, mbfx_teardown),
		cmocka_unit_test_setup_teardown(test_store_deferred, mbfx_setup, mbfx_teardown),
		cmocka_unit_test_setup_teardown(test_store_deferred_foreign, mbfx_setup, mbfx_teardown),
		cmocka_unit_test_setup_teardown(test_reconstruct_compacts, mbfx_setup, mbfx_teardown),
		cmocka_unit_test_setup_teardown(test_rebuild_no_uid_reuse, mbfx_setup, mbfx_teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_reader, mbfx_setup, mbfx_teardown),
		cmocka_unit_test_setup_teardown(test_large_store, mbfx_setup, mbfx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
