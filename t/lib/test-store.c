/* SPDX-License-Identifier: ISC */
/* Unit tests for the smaller store files: lib/cache (entries, items, part
 * rows, corruption), lib/mbmeta (keyword table), lib/tomb (tombstones). */
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
#include "mbmeta.h"
#include "tomb.h"

static char *
tmpname(void)
{
	char tpl[] = "/tmp/zest-test-store.XXXXXX";
	int fd = mkstemp(tpl);

	assert_true(fd >= 0);
	close(fd);
	unlink(tpl);
	return strdup(tpl);
}

static void
test_cache_entries(void **state)
{
	char *path = tmpname();
	struct cache *c = NULL;
	struct str pl = STR_INIT;
	const unsigned char *p, *d;
	size_t n, dn;
	uint64_t off1, off2;

	assert_int_equal(cache_open(path, 1, 1, 77, &c), 0);
	assert_int_equal(cache_item_add(&pl, CI_ENVELOPE, "(NIL)", 5), 0);
	assert_int_equal(cache_item_add(&pl, CI_NAME, "new/x", 5), 0);
	assert_int_equal(cache_append(c, CACHE_T_MESSAGE, 5, pl.s, pl.len, &off1), 0);
	assert_int_equal(cache_append(c, CACHE_T_NAME, 5, "cur/x:2,S", 9, &off2), 0);
	assert_int_equal(off1 % 8, 0);
	assert_int_equal(off2 % 8, 0);
	assert_int_equal(cache_read(c, off1, CACHE_T_MESSAGE, 5, &p, &n), 0);
	assert_int_equal(cache_item_find(p, n, CI_NAME, &d, &dn), 1);
	assert_memory_equal(d, "new/x", 5);
	assert_int_equal(cache_item_find(p, n, CI_BODY, &d, &dn), 0);
	/* wrong uid, wrong type, bad offset */
	assert_int_equal(cache_read(c, off1, CACHE_T_MESSAGE, 6, &p, &n), -1);
	assert_int_equal(cache_read(c, off2, CACHE_T_MESSAGE, 5, &p, &n), -1);
	assert_int_equal(cache_read(c, off2 + 4, CACHE_T_NAME, 5, &p, &n), -1);
	assert_int_equal(cache_read(c, 1 << 20, CACHE_T_NAME, 5, &p, &n), -1);
	cache_close(&c);
	/* flip a payload byte: CRC catches it */
	{
		int fd = open(path, O_RDWR);
		unsigned char ch;

		assert_true(fd >= 0);
		assert_int_equal(pread(fd, &ch, 1, (off_t)off2 + 17), 1);
		ch ^= 0x20;
		assert_int_equal(pwrite(fd, &ch, 1, (off_t)off2 + 17), 1);
		close(fd);
	}
	assert_int_equal(cache_open(path, 0, 0, 77, &c), 0);
	assert_int_equal(cache_read(c, off2, CACHE_T_NAME, 5, &p, &n), -1);
	assert_int_equal(errno, EBADMSG);
	cache_close(&c);
	/* another UIDVALIDITY: refused read-only, reset when creating */
	assert_int_equal(cache_open(path, 0, 0, 78, &c), -1);
	assert_int_equal(cache_open(path, 1, 1, 78, &c), 0);
	assert_int_equal(cache_read(c, off1, CACHE_T_MESSAGE, 5, &p, &n), -1);
	cache_close(&c);
	str_free(&pl);
	unlink(path);
	free(path);
}

static void
test_cache_items_malformed(void **state)
{
	const unsigned char bad[] = { 1, 200, 0, 0, 0, 'x' };
	const unsigned char *d;
	size_t dn;

	assert_int_equal(cache_item_find(bad, sizeof(bad), 2, &d, &dn), -1);
	assert_int_equal(cache_item_find(bad, 3, 2, &d, &dn), -1);
	assert_int_equal(cache_item_find(bad, 0, 2, &d, &dn), 0);
}

static void
test_cache_parts(void **state)
{
	struct cache_part in[3], out;
	struct str s = STR_INIT;
	size_t pos = 0, i;

	memset(in, 0, sizeof(in));
	for (i = 0; i < 3; i++) {
		snprintf(in[i].section, sizeof(in[i].section), i ? "%zu.2" : "", i);
		in[i].kind = (uint8_t)i;
		in[i].hdr_off = 10 * i + 1;
		in[i].hdr_size = 10 * i + 2;
		in[i].body_off = 10 * i + 3;
		in[i].body_size = (uint64_t)1 << (40 + i);
		in[i].body_lines = 10 * i + 5;
		in[i].hdr_doff = 10 * i + 6;
		in[i].body_doff = 10 * i + 7;
		in[i].body_dsize = 10 * i + 8;
		assert_int_equal(cache_part_encode(&s, &in[i]), 0);
	}
	for (i = 0; i < 3; i++) {
		memset(&out, 0, sizeof(out));
		assert_int_equal(cache_part_decode((unsigned char *)s.s, s.len,
		    &pos, &out), 1);
		assert_memory_equal(&out, &in[i], sizeof(out));
	}
	assert_int_equal(cache_part_decode((unsigned char *)s.s, s.len, &pos,
	    &out), 0);
	pos = 0;
	assert_int_equal(cache_part_decode((unsigned char *)s.s, 20, &pos,
	    &out), -1);
	str_free(&s);
}

static void
test_mbmeta_keywords(void **state)
{
	char *path = tmpname();
	struct mbmeta m, r;
	char name[32];
	int i;

	assert_int_equal(mbmeta_init(&m, 1234), 0);
	assert_int_equal(mbmeta_keyword_add(&m, "$Forwarded"), 0);
	assert_int_equal(mbmeta_keyword_add(&m, "$MDNSent"), 1);
	assert_int_equal(mbmeta_keyword_add(&m, "$forwarded"), 0);
	assert_int_equal(mbmeta_keyword_add(&m, "bad word"), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(mbmeta_keyword_add(&m, "\\Seen"), -1);
	assert_int_equal(mbmeta_keyword_add(&m, "a(b"), -1);
	for (i = 2; i < MBMETA_MAX_KEYWORDS; i++) {
		snprintf(name, sizeof(name), "kw%d", i);
		assert_int_equal(mbmeta_keyword_add(&m, name), i);
	}
	assert_int_equal(mbmeta_keyword_add(&m, "onetoomany"), -1);
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(mbmeta_write(path, &m), 0);
	assert_int_equal(mbmeta_read(path, &r), 0);
	assert_int_equal(r.uidvalidity, 1234);
	assert_memory_equal(r.guid, m.guid, 16);
	assert_int_equal(r.nkeywords, MBMETA_MAX_KEYWORDS);
	assert_int_equal(mbmeta_keyword_find(&r, "KW63"), 63);
	assert_int_equal(mbmeta_keyword_find(&r, "$MDNSENT"), 1);
	assert_int_equal(mbmeta_keyword_find(&r, "nope"), -1);
	mbmeta_free(&r);
	/* corrupt one byte: refused */
	{
		int fd = open(path, O_RDWR);
		unsigned char c = 'Z';

		assert_int_equal(pwrite(fd, &c, 1, 40), 1);
		close(fd);
	}
	assert_int_equal(mbmeta_read(path, &r), -1);
	assert_int_equal(errno, EBADMSG);
	mbmeta_free(&m);
	unlink(path);
	free(path);
}

static int
collect(const struct tomb *t, void *arg)
{
	struct str *s = arg;

	str_appendf(s, "%u:%llu ", t->uid, (unsigned long long)t->modseq);
	return 0;
}

static void
test_tombstones(void **state)
{
	char *path = tmpname();
	struct tomb t[3] = { { 4, 10 }, { 9, 11 }, { 12, 15 } };
	struct str s = STR_INIT;

	assert_int_equal(tomb_scan(path, 5, 0, collect, &s), 0);	/* none */
	assert_int_equal(s.len, 0);
	assert_int_equal(tomb_append(path, 5, t, 2), 0);
	assert_int_equal(tomb_append(path, 5, t + 2, 1), 0);
	assert_int_equal(tomb_scan(path, 5, 10, collect, &s), 0);
	assert_string_equal(s.s, "9:11 12:15 ");
	assert_int_equal(tomb_scan(path, 6, 0, collect, &s), -1);
	/* a torn last record ends the list */
	assert_int_equal(truncate(path, 16 + 16 * 2 + 7), 0);
	str_clear(&s);
	assert_int_equal(tomb_scan(path, 5, 0, collect, &s), 0);
	assert_string_equal(s.s, "4:10 9:11 ");
	str_free(&s);
	unlink(path);
	free(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cache_entries),
		cmocka_unit_test(test_cache_items_malformed),
		cmocka_unit_test(test_cache_parts),
		cmocka_unit_test(test_mbmeta_keywords),
		cmocka_unit_test(test_tombstones),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
