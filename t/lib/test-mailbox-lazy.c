/* SPDX-License-Identifier: ISC */
/* Unit tests for lib/mailbox-lazy: files other programs put in a Maildir
 * are indexed from their names without a parse (no MESSAGE cache entry),
 * the entry is made on first use with the same content a parse at
 * delivery gives, and mailbox_check, reconstruct and a second handle agree
 * with it. */
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
#include <unistd.h>

#include "cache.h"
#include "mailbox.h"
#include "mbox-fixture.h"
#include "maildir.h"

static void
put_file(struct mbfx *f, const char *rel, const char *content)
{
	char p[256];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", f->dir, rel);
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)),
	    (ssize_t)strlen(content));
	close(fd);
}

static const char msg_lf[] =
    "From: a@example.org\nSubject: lazy one\n\nbody\nmore\n";
/* wire size: 49 bytes + 5 LFs */
#define MSG_LF_WIRE 54

/* The cache entry of record seq; returns its ENVELOPE item. */
static void
envelope_of(struct mailbox *mb, uint32_t seq, struct str *env)
{
	struct index_record r;
	const unsigned char *p, *d;
	size_t n, dn;

	assert_int_equal(mailbox_record(mb, seq, &r), 0);
	assert_int_equal(mailbox_cached(mb, &r, &p, &n), 0);
	assert_int_equal(cache_item_find(p, n, CI_ENVELOPE, &d, &dn), 1);
	str_clear(env);
	assert_int_equal(str_append(env, d, dn), 0);
}

static void
test_names_only(void **state)
{
	struct mbfx *f = *state;
	struct str err = STR_INIT, env = STR_INIT;
	struct index_record r;
	const struct index_header *h;
	struct mailbox *other = NULL;
	char name[128];

	assert_int_equal(strlen(msg_lf), 49);
	/* with ,S= and ,W= (Dovecot's names): nothing read */
	snprintf(name, sizeof(name), "cur/100.a.host,S=49,W=%d:2,S",
	    MSG_LF_WIRE);
	put_file(f, name, msg_lf);
	/* a plain name: one scan for line ends */
	put_file(f, "new/101.b.host", msg_lf);
	/* a wrong ,W= (,S= does not match the file): scanned instead */
	put_file(f, "new/102.c.host,S=7,W=9", msg_lf);
	mailbox_sync_force(f->mb);
	assert_int_equal(mailbox_sync(f->mb, &err), 0);
	h = mailbox_header(f->mb);
	assert_int_equal(h->exists, 3);
	assert_int_equal(h->total_size, 3 * MSG_LF_WIRE);
	for (uint32_t i = 0; i < 3; i++) {
		assert_int_equal(mailbox_record(f->mb, i, &r), 0);
		assert_int_equal(r.cache_off, 0);	/* not parsed */
		assert_int_equal(r.size, MSG_LF_WIRE);
		assert_false(r.flags & REC_RAW);
	}
	assert_int_equal(mailbox_record(f->mb, 0, &r), 0);
	assert_int_equal(r.flags & MAIL_FLAGS_MASK, MAIL_SEEN);
	assert_int_equal(mailbox_check(f->mb), 0);

	/* first use parses and stores the entry */
	envelope_of(f->mb, 1, &env);
	assert_non_null(strstr(env.s, "\"lazy one\""));
	assert_int_equal(mailbox_record(f->mb, 1, &r), 0);
	assert_true(r.cache_off != 0);
	assert_int_equal(r.size, MSG_LF_WIRE);
	/* a second handle reads the stored entry */
	assert_int_equal(mailbox_open(f->dir, 0, 5, &other, &err), 0);
	assert_int_equal(mailbox_record(other, 1, &r), 0);
	assert_true(r.cache_off != 0);
	envelope_of(other, 1, &env);
	assert_non_null(strstr(env.s, "\"lazy one\""));
	/* ... and fills the others itself */
	envelope_of(other, 2, &env);
	assert_non_null(strstr(env.s, "\"example.org\""));
	mailbox_close(&other);
	assert_int_equal(mailbox_refresh(f->mb, &err), 0);
	assert_int_equal(mailbox_check(f->mb), 0);
	str_free(&env);
	str_free(&err);
}

static void
test_crlf_and_rebuild(void **state)
{
	struct mbfx *f = *state;
	struct mailbox_rebuild_stats st;
	struct str err = STR_INIT, env = STR_INIT;
	struct index_record r;

	/* a CRLF file is parsed at once: kept raw */
	put_file(f, "new/200.d.host", "Subject: crlf\r\n\r\nx\r\n");
	put_file(f, "new/201.e.host,S=49,W=54", msg_lf);
	mailbox_close(&f->mb);
	assert_int_equal(mailbox_reconstruct(f->dir, 5, &st, &err), 0);
	assert_int_equal(st.messages, 2);
	assert_int_equal(mailbox_open(f->dir, 0, 5, &f->mb, &err), 0);
	assert_int_equal(mailbox_record(f->mb, 0, &r), 0);
	assert_true(r.flags & REC_RAW);
	assert_true(r.cache_off != 0);
	assert_int_equal(r.size, 20);
	assert_int_equal(mailbox_record(f->mb, 1, &r), 0);
	assert_int_equal(r.cache_off, 0);
	assert_int_equal(mailbox_check(f->mb), 0);
	envelope_of(f->mb, 1, &env);
	assert_non_null(strstr(env.s, "\"lazy one\""));
	/* the file vanished before first use: ENOENT, nothing stored */
	put_file(f, "new/202.f.host", msg_lf);
	mailbox_sync_force(f->mb);
	assert_int_equal(mailbox_sync(f->mb, &err), 0);
	assert_int_equal(mailbox_record(f->mb, 2, &r), 0);
	{
		char p[256];
		const unsigned char *d;
		size_t n;

		snprintf(p, sizeof(p), "%s/new/202.f.host", f->dir);
		assert_int_equal(unlink(p), 0);
		assert_int_equal(mailbox_cached(f->mb, &r, &d, &n), -1);
		assert_int_equal(errno, ENOENT);
	}
	str_free(&env);
	str_free(&err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_names_only, mbfx_setup,
		    mbfx_teardown),
		cmocka_unit_test_setup_teardown(test_crlf_and_rebuild, mbfx_setup,
		    mbfx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
