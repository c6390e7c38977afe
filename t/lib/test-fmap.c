/* SPDX-License-Identifier: ISC */
/* Unit tests for lib/fmap: growing shared mappings and positioned writes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fmap.h"

static void
test_grow_and_see_writes(void **state)
{
	char path[] = "/tmp/zest-test-fmap.XXXXXX";
	int fd = mkstemp(path);
	struct fmap m = { NULL, 0 };
	char big[10000];

	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(fmap_pwrite_all(fd, "hello", 5, 0), 0);
	assert_int_equal(fmap_ensure(&m, fd, 5, EBADMSG), 0);
	assert_memory_equal(m.p, "hello", 5);
	/* past the end: the asked-for errno */
	assert_int_equal(fmap_ensure(&m, fd, 6, ERANGE), -1);
	assert_int_equal(errno, ERANGE);
	/* a write inside the mapping shows at once */
	assert_int_equal(fmap_pwrite_all(fd, "J", 1, 0), 0);
	assert_int_equal(m.p[0], 'J');
	/* the file grows: remapped on demand */
	memset(big, 'x', sizeof(big));
	assert_int_equal(fmap_pwrite_all(fd, big, sizeof(big), 5), 0);
	assert_int_equal(fmap_ensure(&m, fd, 5 + sizeof(big), EBADMSG), 0);
	assert_true(m.len >= 5 + sizeof(big));
	assert_memory_equal(m.p, "Jello", 5);
	assert_int_equal(m.p[5 + sizeof(big) - 1], 'x');
	fmap_free(&m);
	assert_null(m.p);
	assert_int_equal(m.len, 0);
	fmap_free(&m);	/* twice is fine */
	close(fd);
	/* a bad descriptor */
	assert_int_equal(fmap_ensure(&m, -1, 1, EBADMSG), -1);
	assert_int_equal(fmap_pwrite_all(-1, "x", 1, 0), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grow_and_see_writes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
