/* SPDX-License-Identifier: ISC */
/* Unit tests for lib/mailbox-fill: the cache entries of messages indexed
 * without a parse, made in batches (on threads, stored under one lock),
 * are byte for byte the entries the one-at-a-time fill makes; a message
 * expunged or filled by another process meanwhile, or whose file
 * vanished, is left out; two processes filling at once store each entry
 * once; CRLF and mixed files get the size and raw flag a parse gives. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cache.h"
#include "mailbox.h"
#include "maildir.h"

#define NMSG 600	/* more than two batches */

struct fx {
	char top[64];
	char a[96], b[96];	/* two Maildirs with the same files */
	struct mailbox *ma, *mb;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct str err = STR_INIT;

	if (f == NULL)
		return -1;
	snprintf(f->top, sizeof(f->top), "/tmp/zest-test-fill.XXXXXX");
	if (mkdtemp(f->top) == NULL)
		return -1;
	snprintf(f->a, sizeof(f->a), "%s/a", f->top);
	snprintf(f->b, sizeof(f->b), "%s/b", f->top);
	if (mailbox_open(f->a, MBOX_CREATE, 5, &f->ma, &err) < 0 ||
	    mailbox_open(f->b, MBOX_CREATE, 5, &f->mb, &err) < 0)
		return -1;
	str_free(&err);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	mailbox_close(&f->ma);
	mailbox_close(&f->mb);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->top);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void
write_file(const char *dir, const char *rel, const char *p, size_t n)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, n), (ssize_t)n);
	close(fd);
}

/* Message i: LF text of a few shapes, one over MSGCACHE_SLURP (read in
 * chunks, twice) and one over the 64 KiB first read. */
static void
make_msg(struct str *m, unsigned i)
{
	size_t k, lines;

	str_clear(m);
	str_appendf(m, "From: Sender %u <s%u@example.org>\n"
	    "To: r@example.net\nSubject: message %u\n"
	    "Date: Sat, 21 Nov 2026 10:%02u:00 +0000\n"
	    "Message-ID: <%u@example.org>\n", i, i, i, i % 60, i);
	if (i % 3 == 0) {
		str_appends(m, "MIME-Version: 1.0\nContent-Type: multipart/"
		    "mixed; boundary=\"b\"\n\npre\n--b\nContent-Type: text/"
		    "plain\n\nhello\n-- \nsig\n--b\nContent-Type: application/"
		    "octet-stream\nContent-Transfer-Encoding: base64\n\n");
		for (k = 0; k < 20; k++)
			str_appends(m, "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\n");
		str_appends(m, "--b--\n");
		return;
	}
	lines = i == 7 ? 30000 : i == 11 ? 2000 : 5 + i % 17;
	str_appends(m, "\n");
	for (k = 0; k < lines; k++)
		str_appendf(m, "line %zu of message %u, some words to fill\n",
		    k, i);
}

/* The same NMSG files into both Maildirs' new/, then sync both. */
static void
fill_both(struct fx *f)
{
	struct str m = STR_INIT, err = STR_INIT;
	char rel[64];
	unsigned i;

	for (i = 0; i < NMSG; i++) {
		make_msg(&m, i);
		snprintf(rel, sizeof(rel), "new/%u.M%uP1.host", 1000 + i, i);
		write_file(f->a, rel, m.s, m.len);
		write_file(f->b, rel, m.s, m.len);
	}
	mailbox_sync_force(f->ma);
	mailbox_sync_force(f->mb);
	assert_int_equal(mailbox_sync(f->ma, &err), 0);
	assert_int_equal(mailbox_sync(f->mb, &err), 0);
	assert_int_equal(mailbox_header(f->ma)->exists, NMSG);
	str_free(&m);
	str_free(&err);
}

/* The UIDs of mb's existing records, ascending. */
static void
all_uids(struct mailbox *mb, struct mailbox_uids *u)
{
	struct index_record r;
	uint32_t seq;

	u->n = 0;
	for (seq = 0; seq < mailbox_header(mb)->count; seq++) {
		assert_int_equal(mailbox_record(mb, seq, &r), 0);
		if (!(r.flags & REC_EXPUNGED))
			assert_int_equal(mailbox_uids_add(u, r.uid), 0);
	}
}

/* Record seq of a and of b have the same size, flags and entry. */
static void
same_entry(struct mailbox *a, struct mailbox *b, uint32_t seq)
{
	struct index_record ra, rb;
	const unsigned char *p;
	struct str pa = STR_INIT;
	size_t n;

	assert_int_equal(mailbox_record(a, seq, &ra), 0);
	assert_int_equal(mailbox_record(b, seq, &rb), 0);
	assert_true(ra.cache_off != 0);
	assert_int_equal(ra.uid, rb.uid);
	assert_int_equal(ra.size, rb.size);
	assert_int_equal(ra.flags, rb.flags);
	assert_int_equal(mailbox_cached(a, &ra, &p, &n), 0);
	assert_int_equal(str_append(&pa, p, n), 0);
	assert_int_equal(mailbox_cached(b, &rb, &p, &n), 0);
	assert_int_equal(pa.len, n);
	assert_memory_equal(pa.s, p, n);
	str_free(&pa);
}

static void
test_batch_same_as_single(void **state)
{
	struct fx *f = *state;
	struct mailbox_uids u = { NULL, 0, 0 };
	struct index_record r;
	uint32_t seq;

	fill_both(f);
	all_uids(f->ma, &u);
	assert_int_equal(u.n, NMSG);
	assert_int_equal(mailbox_cache_prefill(f->ma, u.v, u.n), NMSG);
	for (seq = 0; seq < NMSG; seq++) {
		assert_int_equal(mailbox_record(f->ma, seq, &r), 0);
		assert_true(r.cache_off != 0);
	}
	/* b: one at a time, through mailbox_cached */
	for (seq = 0; seq < NMSG; seq++)
		same_entry(f->ma, f->mb, seq);
	assert_int_equal(mailbox_header(f->ma)->total_size,
	    mailbox_header(f->mb)->total_size);
	assert_int_equal(mailbox_check(f->ma), 0);
	/* nothing left to do */
	assert_int_equal(mailbox_cache_prefill(f->ma, u.v, u.n), 0);
	mailbox_uids_free(&u);
}

static void
test_locked_and_subsets(void **state)
{
	struct fx *f = *state;
	struct mailbox_uids u = { NULL, 0, 0 };
	uint32_t some[3];

	fill_both(f);
	all_uids(f->ma, &u);
	/* with the lock held by the caller; a UID that does not exist is
	 * passed over */
	some[0] = u.v[5];
	some[1] = u.v[7];
	some[2] = u.v[NMSG - 1] + 5;
	assert_int_equal(mailbox_lock(f->ma), 0);
	assert_int_equal(mailbox_cache_prefill(f->ma, some, 3), 2);
	mailbox_unlock(f->ma);
	assert_int_equal(mailbox_cache_prefill(f->ma, u.v, 10), 8);
	assert_int_equal(mailbox_cache_prefill(f->ma, u.v, u.n), NMSG - 10);
	assert_int_equal(mailbox_check(f->ma), 0);
	mailbox_uids_free(&u);
}

static void
test_vanished_and_expunged(void **state)
{
	struct fx *f = *state;
	struct mailbox_uids u = { NULL, 0, 0 };
	struct index_record r;
	struct str name = STR_INIT, path = STR_INIT, err = STR_INIT;
	const unsigned char *p;
	size_t n;
	uint32_t seq;

	fill_both(f);
	all_uids(f->ma, &u);
	/* record 4's file is gone (another program removed it) */
	assert_int_equal(mailbox_record(f->ma, 4, &r), 0);
	assert_int_equal(mailbox_file_name(f->ma, &r, &name), 0);
	str_appendf(&path, "%s/%s", f->a, name.s);
	assert_int_equal(unlink(path.s), 0);
	/* record 6 is expunged */
	assert_int_equal(mailbox_expunge(f->ma, &u.v[6], 1, &err), 1);
	assert_int_equal(mailbox_cache_prefill(f->ma, u.v, u.n), NMSG - 2);
	assert_int_equal(mailbox_record(f->ma, 4, &r), 0);
	assert_int_equal(r.cache_off, 0);
	assert_int_equal(mailbox_cached(f->ma, &r, &p, &n), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(mailbox_record(f->ma, 6, &r), 0);
	assert_true(r.flags & REC_EXPUNGED);
	assert_int_equal(r.cache_off, 0);
	for (seq = 0; seq < NMSG; seq++)
		if (seq != 4 && seq != 6)
			same_entry(f->ma, f->mb, seq);
	mailbox_uids_free(&u);
	str_free(&name);
	str_free(&path);
	str_free(&err);
}

struct child {
	pid_t pid;
	int fd;		/* the count stored comes here */
};

/* In a child: fill the UIDs through mb (opened there from dir when NULL)
 * and write back the number stored. */
static void
child_fill(const char *dir, struct mailbox *mb, const struct mailbox_uids *u,
    struct child *c)
{
	int pfd[2];

	assert_int_equal(pipe(pfd), 0);
	c->pid = fork();
	assert_true(c->pid >= 0);
	if (c->pid == 0) {
		struct str err = STR_INIT;
		int n = -1;

		close(pfd[0]);
		if (mb != NULL || mailbox_open(dir, 0, 30, &mb, &err) == 0)
			n = mailbox_cache_prefill(mb, u->v, u->n);
		if (write(pfd[1], &n, sizeof(n)) != (ssize_t)sizeof(n))
			_exit(2);
		_exit(0);
	}
	close(pfd[1]);
	c->fd = pfd[0];
}

static int
child_wait(struct child *c)
{
	int st, n = -2;

	assert_int_equal(read(c->fd, &n, sizeof(n)), (ssize_t)sizeof(n));
	close(c->fd);
	assert_int_equal(waitpid(c->pid, &st, 0), c->pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	return n;
}

static void
test_two_processes(void **state)
{
	struct fx *f = *state;
	struct mailbox_uids u = { NULL, 0, 0 };
	struct str err = STR_INIT;
	uint32_t seq;
	struct child c1, c2;
	int n1, n2;

	fill_both(f);
	all_uids(f->ma, &u);
	child_fill(f->a, NULL, &u, &c1);
	child_fill(f->a, NULL, &u, &c2);
	n1 = child_wait(&c1);
	n2 = child_wait(&c2);
	/* each entry stored once */
	assert_true(n1 >= 0 && n2 >= 0);
	assert_int_equal(n1 + n2, NMSG);
	assert_int_equal(mailbox_refresh(f->ma, &err), 0);
	for (seq = 0; seq < NMSG; seq++)
		same_entry(f->ma, f->mb, seq);
	assert_int_equal(mailbox_check(f->ma), 0);
	assert_int_equal(mailbox_cache_prefill(f->ma, u.v, u.n), 0);
	mailbox_uids_free(&u);
	str_free(&err);
}

/* While another handle holds the lock, a child parses its batch and waits
 * (through a handle opened before: opening takes the lock); meanwhile one
 * message is filled and one expunged: the child leaves both out and
 * stores the rest. */
static void
test_changed_while_parsing(void **state)
{
	struct fx *f = *state;
	struct mailbox_uids u = { NULL, 0, 0 };
	struct index_record r, r5;
	struct str err = STR_INIT;
	struct mailbox *mc;
	struct child c;
	const unsigned char *p;
	size_t n;

	fill_both(f);
	all_uids(f->ma, &u);
	u.n = 40;	/* one batch */
	assert_int_equal(mailbox_open(f->a, 0, 30, &mc, &err), 0);
	assert_int_equal(mailbox_lock(f->ma), 0);
	child_fill(f->a, mc, &u, &c);
	mailbox_close(&mc);
	usleep(500000);		/* the child parses, then waits */
	assert_int_equal(mailbox_record(f->ma, 5, &r5), 0);
	assert_int_equal(mailbox_cached(f->ma, &r5, &p, &n), 0);
	assert_int_equal(mailbox_expunge(f->ma, &u.v[3], 1, &err), 1);
	assert_int_equal(mailbox_record(f->ma, 5, &r5), 0);
	assert_true(r5.cache_off != 0);
	mailbox_unlock(f->ma);
	assert_int_equal(child_wait(&c), 38);
	assert_int_equal(mailbox_refresh(f->ma, &err), 0);
	assert_int_equal(mailbox_record(f->ma, 5, &r), 0);
	assert_int_equal(r.cache_off, r5.cache_off);	/* ours kept */
	assert_int_equal(mailbox_record(f->ma, 3, &r), 0);
	assert_true(r.flags & REC_EXPUNGED);
	assert_int_equal(r.cache_off, 0);
	assert_int_equal(mailbox_check(f->ma), 0);
	mailbox_uids_free(&u);
	str_free(&err);
}

/* Files rewritten by another program after the sync: with CRLF line ends
 * (kept raw: the file's size), and mixed (LF text: every LF counted). */
static void
test_crlf_and_mixed(void **state)
{
	struct fx *f = *state;
	static const char crlf[] = "Subject: crlf\r\nFrom: a@b.c\r\n\r\nx\r\ny\r\n";
	static const char mixed[] = "Subject: mixed\r\n\nx\ny\r\n";
	static const char lf[] = "Subject: first\n\nbody\n";
	struct mailbox_uids u = { NULL, 0, 0 };
	struct str err = STR_INIT, name = STR_INIT;
	struct index_record r;
	const unsigned char *p, *d;
	size_t n, dn;

	write_file(f->a, "new/1.a.host", lf, strlen(lf));
	write_file(f->a, "new/2.b.host", lf, strlen(lf));
	mailbox_sync_force(f->ma);
	assert_int_equal(mailbox_sync(f->ma, &err), 0);
	all_uids(f->ma, &u);
	assert_int_equal(u.n, 2);
	write_file(f->a, "new/1.a.host", crlf, strlen(crlf));
	write_file(f->a, "new/2.b.host", mixed, strlen(mixed));
	assert_int_equal(mailbox_cache_prefill(f->ma, u.v, u.n), 2);
	assert_int_equal(mailbox_record(f->ma, 0, &r), 0);
	assert_true(r.flags & REC_RAW);
	assert_int_equal(r.size, strlen(crlf));
	assert_int_equal(mailbox_cached(f->ma, &r, &p, &n), 0);
	assert_int_equal(cache_item_find(p, n, CI_ENVELOPE, &d, &dn), 1);
	assert_non_null(memmem(d, dn, "\"crlf\"", 6));
	assert_int_equal(cache_item_find(p, n, CI_NAME, &d, &dn), 1);
	assert_int_equal(mailbox_file_name(f->ma, &r, &name), 0);
	assert_int_equal(dn, name.len);
	assert_memory_equal(d, name.s, dn);
	assert_int_equal(mailbox_record(f->ma, 1, &r), 0);
	assert_false(r.flags & REC_RAW);
	/* 23 bytes, 4 LFs of which 2 are bare: each LF gets a CR */
	assert_int_equal(r.size, strlen(mixed) + 4);
	assert_int_equal(mailbox_header(f->ma)->total_size,
	    strlen(crlf) + strlen(mixed) + 4);
	assert_int_equal(mailbox_check(f->ma), 0);
	mailbox_uids_free(&u);
	str_free(&err);
	str_free(&name);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_batch_same_as_single,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_locked_and_subsets,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_vanished_and_expunged,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_processes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_changed_while_parsing,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_crlf_and_mixed, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
