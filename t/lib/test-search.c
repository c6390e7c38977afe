/* SPDX-License-Identifier: ISC */
/* Unit tests for lib/search: every kind of key against real messages (a
 * multipart one with quoted-printable, base64 text and a base64
 * attachment, and a plain one), from their cache entries and LF files;
 * OR/NOT; cheap keys decide before the file is opened. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache.h"
#include "maildir.h"
#include "mdate.h"
#include "msgcache.h"
#include "search.h"

static const char multi[] =
    "From: =?utf-8?q?J=C3=BCrgen?= <jurgen@example.org>\r\n"
    "To: team@example.net\r\n"
    "Subject: Kestrel sighting\r\n"
    "Date: Mon, 2 Mar 2026 23:30:00 -0800\r\n"
    "X-Custom: pelican\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"b\"\r\n"
    "\r\n"
    "--b\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Gr=C3=BC=C3=9Fe, the marma=\r\n"
    "lade is ready.\r\n"
    "--b\r\n"
    "Content-Type: text/html; charset=iso-8859-1\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "PHA+Y2Fm6SBvbGU8L3A+\r\n"
    "--b\r\n"
    "Content-Type: application/octet-stream\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "c2VjcmV0d29yZA==\r\n"
    "--b--\r\n";

static const char plain[] =
    "From: bob@example.com\r\n"
    "Subject: lunch\r\n"
    "\r\n"
    "Nothing special here.\r\n";

struct fixture {
	int fd;
	struct str payload;
	int opens;		/* times the file was asked for */
	int fail_open;
};

static int
fix_open(void *ctx, int *fd_r, int *raw_r)
{
	struct fixture *f = ctx;

	f->opens++;
	if (f->fail_open) {
		errno = ENOENT;
		return -1;
	}
	*fd_r = f->fd;
	*raw_r = 0;
	return 0;
}

static void
fixture_make(struct fixture *f, const char *wire)
{
	char path[] = "/tmp/zest-search-XXXXXX";
	struct msgcache *mc = msgcache_new();
	size_t i, n = strlen(wire);

	memset(f, 0, sizeof(*f));
	f->fd = mkstemp(path);
	assert_true(f->fd >= 0);
	unlink(path);
	for (i = 0; i < n; i++)
		if (!(wire[i] == '\r' && wire[i + 1] == '\n'))
			assert_int_equal(write(f->fd, wire + i, 1), 1);
	assert_int_equal(msgcache_feed(mc, wire, n), 0);
	str_init(&f->payload, 0);
	assert_int_equal(msgcache_finish(mc, 0, &f->payload), 0);
	msgcache_free(&mc);
}

static void
fixture_msg(struct fixture *f, struct search_msg *m, const char *wire)
{
	memset(m, 0, sizeof(*m));
	m->seq = 3;
	m->uid = 42;
	m->flags = MAIL_SEEN | MAIL_FLAGGED;
	m->keywords = 1u << 2;
	m->modseq = 100;
	m->size = strlen(wire);
	/* 2026-03-03 07:30:00 UTC: the 2nd in -0800, the 3rd in UTC */
	m->internal_date = mdate_days(2026, 3, 3) * 86400 + 7 * 3600 + 1800;
	m->cached = (const unsigned char *)f->payload.s;
	m->cached_len = f->payload.len;
	m->open_file = fix_open;
	m->ctx = f;
	m->fd = -1;
}

static struct search_key *
key(enum search_op op)
{
	struct search_key *k = search_key_new(op);

	assert_non_null(k);
	return k;
}

static struct search_key *
text_key(enum search_op op, const char *field, const char *text)
{
	struct search_key *k = key(op);

	assert_int_equal(search_key_text(k, field, text, strlen(text)), 0);
	return k;
}

/* Evaluate k (freed afterwards) on a fresh copy of m. */
static int
run(struct search_key *k, const struct search_msg *m0)
{
	struct search_msg m = *m0;
	int r;

	search_prepare(k);
	r = search_match(k, &m);
	search_key_free(k);
	return r;
}

static struct search_key *
date_key(enum search_op op, int y, int mo, int d)
{
	struct search_key *k = key(op);

	k->day = mdate_days(y, mo, d);
	return k;
}

static void
test_index_keys(void **state)
{
	struct fixture f;
	struct search_msg m;
	struct search_key *k;

	(void)state;
	fixture_make(&f, plain);
	fixture_msg(&f, &m, plain);
	k = key(SEARCH_FLAGS);
	k->flags = MAIL_SEEN;
	assert_int_equal(run(k, &m), 1);
	k = key(SEARCH_FLAGS);
	k->flags = MAIL_SEEN | MAIL_DELETED;
	assert_int_equal(run(k, &m), 0);
	k = key(SEARCH_UNFLAGS);
	k->flags = MAIL_ANSWERED;
	assert_int_equal(run(k, &m), 1);
	k = key(SEARCH_KEYWORD);
	k->value = 2;
	assert_int_equal(run(k, &m), 1);
	k = key(SEARCH_KEYWORD);
	k->nobit = 1;
	assert_int_equal(run(k, &m), 0);
	k = key(SEARCH_UNKEYWORD);
	k->nobit = 1;
	assert_int_equal(run(k, &m), 1);
	k = key(SEARCH_UNKEYWORD);
	k->value = 2;
	assert_int_equal(run(k, &m), 0);
	k = key(SEARCH_LARGER);
	k->value = m.size - 1;
	assert_int_equal(run(k, &m), 1);
	k = key(SEARCH_SMALLER);
	k->value = m.size;
	assert_int_equal(run(k, &m), 0);
	k = key(SEARCH_MODSEQ);
	k->value = 100;
	assert_int_equal(run(k, &m), 1);
	k = key(SEARCH_MODSEQ);
	k->value = 101;
	assert_int_equal(run(k, &m), 0);
	k = key(SEARCH_RECENT);
	assert_int_equal(run(k, &m), 0);
	k = key(SEARCH_UID);
	assert_int_equal(seqset_parse(&k->set, "1:10,42", 7, 0), 0);
	assert_int_equal(run(k, &m), 1);
	k = key(SEARCH_SEQ);
	assert_int_equal(seqset_parse(&k->set, "1:2,4", 5, 0), 0);
	assert_int_equal(run(k, &m), 0);
	/* internal date: the 3rd in UTC, the 2nd at -0800 */
	assert_int_equal(run(date_key(SEARCH_ON, 2026, 3, 3), &m), 1);
	m.zone = -480;
	assert_int_equal(run(date_key(SEARCH_ON, 2026, 3, 2), &m), 1);
	assert_int_equal(run(date_key(SEARCH_BEFORE, 2026, 3, 2), &m), 0);
	assert_int_equal(run(date_key(SEARCH_SINCE, 2026, 3, 2), &m), 1);
	assert_int_equal(f.opens, 0);
	close(f.fd);
	str_free(&f.payload);
}

static void
test_header_keys(void **state)
{
	struct fixture f;
	struct search_msg m;

	(void)state;
	fixture_make(&f, multi);
	fixture_msg(&f, &m, multi);
	/* cached fields: no file read */
	assert_int_equal(run(text_key(SEARCH_HEADER, "subject", "KESTREL"),
	    &m), 1);
	assert_int_equal(run(text_key(SEARCH_HEADER, "from", "jürgen"), &m),
	    1);
	assert_int_equal(run(text_key(SEARCH_HEADER, "to", "kestrel"), &m),
	    0);
	assert_int_equal(run(text_key(SEARCH_HEADER, "cc", ""), &m), 0);
	assert_int_equal(run(text_key(SEARCH_HEADER, "to", ""), &m), 1);
	/* the Date: field's own day (the 2nd at -0800) */
	assert_int_equal(run(date_key(SEARCH_SENTON, 2026, 3, 2), &m), 1);
	assert_int_equal(run(date_key(SEARCH_SENTSINCE, 2026, 3, 3), &m), 0);
	assert_int_equal(run(date_key(SEARCH_SENTBEFORE, 2026, 3, 3), &m), 1);
	assert_int_equal(f.opens, 0);
	/* a field not cached: read from the file */
	assert_int_equal(run(text_key(SEARCH_HEADER, "x-custom", "PELICAN"),
	    &m), 1);
	assert_true(f.opens > 0);
	close(f.fd);
	str_free(&f.payload);
	/* no Date: field: no SENT* key matches */
	fixture_make(&f, plain);
	fixture_msg(&f, &m, plain);
	assert_int_equal(run(date_key(SEARCH_SENTBEFORE, 2100, 1, 1), &m), 0);
	close(f.fd);
	str_free(&f.payload);
}

static void
test_body_keys(void **state)
{
	struct fixture f;
	struct search_msg m;

	(void)state;
	fixture_make(&f, multi);
	fixture_msg(&f, &m, multi);
	/* across a soft line break */
	assert_int_equal(run(text_key(SEARCH_BODY, NULL, "MARMALADE"), &m), 1);
	/* decoded UTF-8 from QP, folded */
	assert_int_equal(run(text_key(SEARCH_BODY, NULL, "GRÜSSE"), &m), 0);
	assert_int_equal(run(text_key(SEARCH_BODY, NULL, "grüße"), &m), 1);
	/* base64 Latin-1 html */
	assert_int_equal(run(text_key(SEARCH_BODY, NULL, "café"), &m), 1);
	/* not in the attachment, not in headers */
	assert_int_equal(run(text_key(SEARCH_BODY, NULL, "secretword"), &m),
	    0);
	assert_int_equal(run(text_key(SEARCH_BODY, NULL, "kestrel"), &m), 0);
	/* TEXT: header or body */
	assert_int_equal(run(text_key(SEARCH_TEXT, NULL, "kestrel"), &m), 1);
	assert_int_equal(run(text_key(SEARCH_TEXT, NULL, "marmalade"), &m), 1);
	assert_int_equal(run(text_key(SEARCH_TEXT, NULL, "nowhere"), &m), 0);
	close(f.fd);
	str_free(&f.payload);
	/* a single-part message without Content-Type is text */
	fixture_make(&f, plain);
	fixture_msg(&f, &m, plain);
	assert_int_equal(run(text_key(SEARCH_BODY, NULL, "SPECIAL"), &m), 1);
	close(f.fd);
	str_free(&f.payload);
}

static void
test_logic(void **state)
{
	struct fixture f;
	struct search_msg m;
	struct search_key *k, *o, *n;

	(void)state;
	fixture_make(&f, multi);
	fixture_msg(&f, &m, multi);
	/* OR (SUBJECT nope) (NOT DELETED) */
	o = key(SEARCH_OR);
	search_key_add(o, text_key(SEARCH_HEADER, "subject", "nope"));
	n = key(SEARCH_NOT);
	k = key(SEARCH_FLAGS);
	k->flags = MAIL_DELETED;
	search_key_add(n, k);
	search_key_add(o, n);
	assert_int_equal(run(o, &m), 1);
	/* AND (BODY x) (DELETED): DELETED decides; the file, which cannot
	 * be opened, is never asked for */
	f.fail_open = 1;
	f.opens = 0;
	o = key(SEARCH_AND);
	search_key_add(o, text_key(SEARCH_BODY, NULL, "marmalade"));
	k = key(SEARCH_FLAGS);
	k->flags = MAIL_DELETED;
	search_key_add(o, k);
	assert_int_equal(run(o, &m), 0);
	assert_int_equal(f.opens, 0);
	/* ... and when the file is needed its error comes out */
	o = key(SEARCH_AND);
	search_key_add(o, text_key(SEARCH_BODY, NULL, "marmalade"));
	assert_int_equal(run(o, &m), -1);
	assert_int_equal(errno, ENOENT);
	/* malformed trees */
	assert_int_equal(run(key(SEARCH_NOT), &m), -1);
	assert_int_equal(run(key(SEARCH_OR), &m), -1);
	/* bad field names */
	k = key(SEARCH_HEADER);
	assert_int_equal(search_key_text(k, "bad name", "x", 1), -1);
	assert_int_equal(search_key_text(k, "", "x", 1), -1);
	search_key_free(k);
	close(f.fd);
	str_free(&f.payload);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_index_keys),
		cmocka_unit_test(test_header_keys),
		cmocka_unit_test(test_body_keys),
		cmocka_unit_test(test_logic),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
