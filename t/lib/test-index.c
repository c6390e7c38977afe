/* SPDX-License-Identifier: ISC */
/* Unit tests for lib/index: encode/decode round trip, CRC and version
 * checks, commit point, file create/open/get/put. */
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

#include "crc.h"
#include "endian.h"
#include "index.h"
#include "maildir.h"

static struct index_header
sample_header(void)
{
	struct index_header h;

	memset(&h, 0, sizeof(h));
	h.uidvalidity = 1700000000u;
	h.uidnext = 42;
	h.count = 3;
	h.exists = 2;
	h.unseen = 1;
	h.deleted = 1;
	h.first_recent_uid = 40;
	h.highestmodseq = 0x1122334455667788ull;
	h.generation = 7;
	h.total_size = 123456789012ull;
	h.new_mtime_sec = 1700000001;
	h.new_mtime_nsec = 999999999u;
	h.cur_mtime_sec = -5;
	h.cur_mtime_nsec = 1;
	h.flags = IDX_NEW_RACY;
	return h;
}

static struct index_record
sample_record(uint32_t uid)
{
	struct index_record r;

	memset(&r, 0, sizeof(r));
	r.uid = uid;
	r.flags = MAIL_SEEN | MAIL_FLAGGED | REC_RAW;
	r.internal_date = 1699999999;
	r.size = 5ull << 33;
	r.keywords = 0x8000000000000001ull;
	r.modseq = 99;
	r.cache_off = 32;
	r.name_off = 4096;
	return r;
}

static void
test_header_roundtrip(void **state)
{
	unsigned char b[INDEX_HDR_SIZE];
	struct index_header h = sample_header(), d;

	memset(&d, 0, sizeof(d));
	index_header_encode(&h, b);
	assert_memory_equal(b, INDEX_MAGIC, 8);
	assert_int_equal(index_header_decode(b, &d), 0);
	assert_memory_equal(&h, &d, sizeof(h));
}

static void
test_record_roundtrip(void **state)
{
	unsigned char b[INDEX_REC_SIZE];
	struct index_record r = sample_record(7), d;

	memset(&d, 0, sizeof(d));
	index_record_encode(&r, b);
	assert_int_equal(index_record_decode(b, &d), 0);
	assert_memory_equal(&r, &d, sizeof(r));
}

/* Flip every single bit of an encoded header and record: each must be
 * refused (CRC, magic or version). */
/* The CRC-32 sits where zest-index(5) says, over the bytes it says, for
 * records of every shape and for the header (the new names-behind count
 * at offset 112 included). */
static void
test_crc_is_zlib(void **state)
{
	struct index_header h = sample_header();
	unsigned char b[INDEX_HDR_SIZE];
	uint32_t i, x = 12345;

	(void)state;
	for (i = 0; i < 2000; i++) {
		struct index_record r;
		unsigned char *p = (unsigned char *)&r;
		size_t k;

		for (k = 0; k < sizeof(r); k++) {
			x = x * 1103515245u + 12345u;
			p[k] = (unsigned char)(x >> 16);
		}
		r.uid |= 1;
		index_record_encode(&r, b);
		assert_int_equal(le32_get(b + 60), crc_buf(b, 60));
	}
	h.names_behind = 77;
	index_header_encode(&h, b);
	assert_int_equal(le32_get(b + 124), crc_buf(b, 124));
	assert_int_equal(le32_get(b + 112), 77);
	memset(&h, 0, sizeof(h));
	assert_int_equal(index_header_decode(b, &h), 0);
	assert_int_equal(h.names_behind, 77);
}

/* index_put_many writes what index_put would, across its 256-record
 * chunks. */
static void
test_put_many(void **state)
{
	char path[] = "/tmp/zest-test-index.XXXXXX";
	struct index_header h = sample_header();
	struct index_record *recs = calloc(600, sizeof(*recs)), r;
	struct index *ix = NULL;
	uint32_t i;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	h.count = 0;
	assert_int_equal(index_create(path, &h, NULL, 0), 0);
	assert_int_equal(index_open(path, 1, &ix), 0);
	for (i = 0; i < 600; i++)
		recs[i] = sample_record(i + 1);
	assert_int_equal(index_put(ix, 0, &recs[0]), 0);
	assert_int_equal(index_put_many(ix, 1, recs + 1, 599), 0);
	assert_int_equal(index_file_records(ix), 600);
	for (i = 0; i < 600; i++) {
		assert_int_equal(index_get(ix, i, &r), 0);
		assert_memory_equal(&r, &recs[i], sizeof(r));
	}
	recs[300].flags ^= MAIL_SEEN;
	assert_int_equal(index_put_many(ix, 300, recs + 300, 1), 0);
	assert_int_equal(index_get(ix, 300, &r), 0);
	assert_int_equal(r.flags, recs[300].flags);
	assert_int_equal(index_put_many(ix, 600, recs, 0), 0);
	assert_int_equal(index_file_records(ix), 600);
	index_close(&ix);
	unlink(path);
	free(recs);
}

/* What index_scan hands fn: uid and flags of each record seen. */
struct scan_seen {
	uint32_t uids[16], flags[16];
	size_t n;
	uint32_t stop_at;	/* return 1 at this UID (0: never) */
};

static int
scan_fn(void *arg, uint32_t uid, uint32_t flags)
{
	struct scan_seen *sc = arg;

	if (sc->stop_at != 0 && uid == sc->stop_at)
		return 1;
	assert_true(sc->n < 16);
	sc->uids[sc->n] = uid;
	sc->flags[sc->n++] = flags;
	return 0;
}

static void
test_scan(void **state)
{
	char path[] = "/tmp/zest-test-index.XXXXXX";
	struct index_header h = sample_header();
	struct index_record recs[5];
	struct scan_seen sc;
	struct index *ix = NULL;
	uint32_t i;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	for (i = 0; i < 5; i++) {
		recs[i] = sample_record(10 + 3 * i);
		recs[i].flags = (i == 2) ? REC_EXPUNGED : MAIL_SEEN;
	}
	h.count = 5;
	assert_int_equal(index_create(path, &h, recs, 5), 0);
	assert_int_equal(index_open(path, 1, &ix), 0);
	/* every record, in order, with its flags */
	memset(&sc, 0, sizeof(sc));
	assert_int_equal(index_scan(ix, 5, scan_fn, &sc), 0);
	assert_int_equal(sc.n, 5);
	for (i = 0; i < 5; i++) {
		assert_int_equal(sc.uids[i], 10 + 3 * i);
		assert_int_equal(sc.flags[i], recs[i].flags);
	}
	/* fn's stop is returned at once */
	memset(&sc, 0, sizeof(sc));
	sc.stop_at = 16;
	assert_int_equal(index_scan(ix, 5, scan_fn, &sc), 1);
	assert_int_equal(sc.n, 2);
	/* fewer than the file holds; none */
	memset(&sc, 0, sizeof(sc));
	assert_int_equal(index_scan(ix, 3, scan_fn, &sc), 0);
	assert_int_equal(sc.n, 3);
	assert_int_equal(index_scan(ix, 0, scan_fn, &sc), 0);
	/* more than the file holds */
	errno = 0;
	assert_int_equal(index_scan(ix, 6, scan_fn, &sc), -1);
	assert_int_equal(errno, ERANGE);
	/* a UID out of order (damage) is EBADMSG, not handed on */
	recs[3].uid = 13;
	assert_int_equal(index_put(ix, 3, &recs[3]), 0);
	memset(&sc, 0, sizeof(sc));
	errno = 0;
	assert_int_equal(index_scan(ix, 5, scan_fn, &sc), -1);
	assert_int_equal(errno, EBADMSG);
	assert_int_equal(sc.n, 3);
	/* so is a zero UID */
	recs[3].uid = 0;
	assert_int_equal(index_put(ix, 3, &recs[3]), 0);
	memset(&sc, 0, sizeof(sc));
	assert_int_equal(index_scan(ix, 5, scan_fn, &sc), -1);
	assert_int_equal(errno, EBADMSG);
	index_close(&ix);
	unlink(path);
}

static void
test_corruption_detected(void **state)
{
	unsigned char b[INDEX_HDR_SIZE], r[INDEX_REC_SIZE];
	struct index_header h = sample_header(), hd;
	struct index_record rec = sample_record(9), rd;
	size_t i;
	int bit;

	index_header_encode(&h, b);
	for (i = 0; i < sizeof(b); i++)
		for (bit = 0; bit < 8; bit++) {
			b[i] ^= (unsigned char)(1 << bit);
			errno = 0;
			assert_int_equal(index_header_decode(b, &hd), -1);
			assert_int_equal(errno, EBADMSG);
			b[i] ^= (unsigned char)(1 << bit);
		}
	index_record_encode(&rec, r);
	for (i = 0; i < sizeof(r); i++)
		for (bit = 0; bit < 8; bit++) {
			r[i] ^= (unsigned char)(1 << bit);
			assert_int_equal(index_record_decode(r, &rd), -1);
			r[i] ^= (unsigned char)(1 << bit);
		}
	assert_int_equal(index_record_decode(r, &rd), 0);
}

static void
test_version_checked(void **state)
{
	unsigned char b[INDEX_HDR_SIZE];
	struct index_header h = sample_header(), d;

	index_header_encode(&h, b);
	b[8] = 2;	/* a future version, with a CRC that matches */
	{
		uint32_t c = crc_buf(b, 124);

		b[124] = (unsigned char)c;
		b[125] = (unsigned char)(c >> 8);
		b[126] = (unsigned char)(c >> 16);
		b[127] = (unsigned char)(c >> 24);
	}
	assert_int_equal(index_header_decode(b, &d), -1);
}

static void
test_file_commit_point(void **state)
{
	char path[] = "/tmp/zest-test-index.XXXXXX";
	int fd = mkstemp(path);
	struct index_header h = sample_header(), rh;
	struct index_record recs[2] = { sample_record(1), sample_record(2) };
	struct index_record extra = sample_record(3), got;
	struct index *ix = NULL;

	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(index_create(path, &h, recs, 2), 0);
	assert_int_equal(index_open(path, 1, &ix), 0);
	assert_int_equal(index_read_header(ix, &rh), 0);
	assert_int_equal(rh.count, 2);
	assert_int_equal(index_get(ix, 1, &got), 0);
	assert_int_equal(got.uid, 2);
	/* a record past the count is written but not committed */
	assert_int_equal(index_put(ix, 2, &extra), 0);
	assert_int_equal(index_read_header(ix, &rh), 0);
	assert_int_equal(rh.count, 2);
	assert_int_equal(index_file_records(ix), 3);
	rh.count = 3;
	assert_int_equal(index_commit(ix, &rh), 0);
	assert_int_equal(index_read_header(ix, &rh), 0);
	assert_int_equal(rh.count, 3);
	assert_int_equal(index_get(ix, 2, &got), 0);
	assert_int_equal(got.uid, 3);
	/* past the end of the file */
	assert_int_equal(index_get(ix, 10, &got), -1);
	/* obsolete marking makes readers reopen */
	assert_int_equal(index_mark_obsolete(ix), 0);
	assert_int_equal(index_read_header(ix, &rh), -1);
	assert_int_equal(errno, ESTALE);
	index_close(&ix);
	assert_null(ix);
	unlink(path);
}

static void
test_truncated_file(void **state)
{
	char path[] = "/tmp/zest-test-index.XXXXXX";
	int fd = mkstemp(path);
	struct index_header h = sample_header(), rh;
	struct index_record recs[1] = { sample_record(1) }, got;
	struct index *ix = NULL;

	assert_true(fd >= 0);
	close(fd);
	h.exists = 1;
	assert_int_equal(index_create(path, &h, recs, 1), 0);
	assert_int_equal(truncate(path, INDEX_HDR_SIZE + 10), 0);
	assert_int_equal(index_open(path, 0, &ix), 0);
	assert_int_equal(index_read_header(ix, &rh), 0);
	assert_int_equal(index_get(ix, 0, &got), -1);
	index_close(&ix);
	assert_int_equal(truncate(path, 50), 0);
	assert_int_equal(index_open(path, 0, &ix), 0);
	assert_int_equal(index_read_header(ix, &rh), -1);
	assert_int_equal(errno, EBADMSG);
	index_close(&ix);
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_roundtrip),
		cmocka_unit_test(test_record_roundtrip),
		cmocka_unit_test(test_crc_is_zlib),
		cmocka_unit_test(test_put_many),
		cmocka_unit_test(test_scan),
		cmocka_unit_test(test_corruption_detected),
		cmocka_unit_test(test_version_checked),
		cmocka_unit_test(test_file_commit_point),
		cmocka_unit_test(test_truncated_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
