/* SPDX-License-Identifier: ISC */
/* Unit tests for lib/crc and lib/endian: the check value of CRC-32 and the
 * fixed little-endian layout. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <zlib.h>

#include "crc.h"
#include "endian.h"

static void
test_crc_check_value(void **state)
{
	assert_int_equal(crc_buf("123456789", 9), 0xCBF43926u);
	assert_int_equal(crc_buf("", 0), 0);
	/* in pieces == at once */
	assert_int_equal(crc_update(crc_buf("12345", 5), "6789", 4),
	    0xCBF43926u);
}

/* The short-buffer tables against zlib: every length around the 8-byte
 * steps and the switch to zlib, from every alignment, at once and split. */
static void
test_crc_against_zlib(void **state)
{
	unsigned char b[1200];
	size_t i, len, at;

	for (i = 0; i < sizeof(b); i++)
		b[i] = (unsigned char)(i * 131 + (i >> 3) * 7 + 1);
	for (len = 0; len < 1100; len += len < 80 ? 1 : 37)
		for (at = 0; at < 8; at++) {
			uint32_t z = (uint32_t)crc32_z(0, b + at, len);

			assert_int_equal(crc_buf(b + at, len), z);
			assert_int_equal(crc_update(crc_buf(b + at, len / 3),
			    b + at + len / 3, len - len / 3), z);
		}
}

static void
test_endian(void **state)
{
	unsigned char b[8];

	le16_put(b, 0x1234);
	assert_int_equal(b[0], 0x34);
	assert_int_equal(le16_get(b), 0x1234);
	le32_put(b, 0xA1B2C3D4u);
	assert_int_equal(b[0], 0xD4);
	assert_int_equal(b[3], 0xA1);
	assert_int_equal(le32_get(b), 0xA1B2C3D4u);
	le64_put(b, 0x0102030405060708ull);
	assert_int_equal(b[0], 0x08);
	assert_int_equal(b[7], 0x01);
	assert_true(le64_get(b) == 0x0102030405060708ull);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc_check_value),
		cmocka_unit_test(test_crc_against_zlib),
		cmocka_unit_test(test_endian),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
