/* SPDX-License-Identifier: ISC */
/* Unit tests for lib/b64: RFC 4648 vectors, line cutting, streaming in
 * any piece size, and the strict decoder's refusals. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "b64.h"
#include "str.h"

/* Encode in pieces of k bytes (0: all at once). */
static void
enc(const void *p, size_t n, size_t k, int crlf, struct str *out)
{
	struct b64_enc e;
	size_t i, m;

	str_clear(out);
	b64_enc_init(&e, crlf);
	for (i = 0; i < n || (n == 0 && i == 0); i += m) {
		m = k == 0 || n - i < k ? n - i : k;
		assert_int_equal(b64_encode(&e, (const char *)p + i, m, out), 0);
		if (m == 0)
			break;
	}
	assert_int_equal(b64_encode_end(&e, out), 0);
}

/* Decode in pieces of k characters; returns 0 or -1 (errno). */
static int
dec(const char *s, size_t n, size_t k, struct str *out)
{
	struct b64_dec d;
	size_t i, m;

	str_clear(out);
	b64_dec_init(&d);
	for (i = 0; i < n; i += m) {
		m = k == 0 || n - i < k ? n - i : k;
		if (b64_decode(&d, s + i, m, out) < 0)
			return -1;
	}
	return b64_decode_end(&d);
}

static void
test_vectors(void **state)
{
	static const char *const v[][2] = {
		{ "", "" }, { "f", "Zg==\r\n" }, { "fo", "Zm8=\r\n" },
		{ "foo", "Zm9v\r\n" }, { "foob", "Zm9vYg==\r\n" },
		{ "fooba", "Zm9vYmE=\r\n" }, { "foobar", "Zm9vYmFy\r\n" },
	};
	struct str out = STR_INIT;
	size_t i, k;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		for (k = 0; k < 4; k++) {
			enc(v[i][0], strlen(v[i][0]), k, 1, &out);
			assert_string_equal(str_cstr(&out), v[i][1]);
			assert_int_equal(dec(v[i][1], strlen(v[i][1]), k, &out),
			    0);
			assert_int_equal(out.len, strlen(v[i][0]));
			assert_memory_equal(str_cstr(&out), v[i][0], out.len);
		}
	}
	enc("foo", 3, 0, 0, &out);
	assert_string_equal(str_cstr(&out), "Zm9v\n");
	str_free(&out);
}

/* All byte values, many lengths: lines of 76, exact sizes, round trip. */
static void
test_roundtrip(void **state)
{
	unsigned char data[3000];
	struct str out = STR_INIT, back = STR_INIT;
	size_t n, i, col, k;

	(void)state;
	for (i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 7 + (i >> 8));
	for (n = 0; n < sizeof(data); n += n < 200 ? 1 : 97) {
		k = n % 5;
		enc(data, n, k, 1, &out);
		assert_int_equal(out.len, b64_encoded_size(n, 2));
		for (i = 0, col = 0; i < out.len; i++) {
			if (out.s[i] == '\r') {
				assert_true(out.s[i + 1] == '\n');
				col = 0;
				i++;
				continue;
			}
			col++;
			assert_true(col <= B64_LINE_MAX);
		}
		assert_int_equal(dec(out.s, out.len, (n % 3) + 1, &back), 0);
		assert_int_equal(back.len, n);
		assert_memory_equal(back.s ? back.s : "", data, n);
	}
	str_free(&out);
	str_free(&back);
}

static void
test_strict(void **state)
{
	static const char *const bad[] = {
		"Zg=", "Zg", "Z===", "Zm9v!", "Zh==", "Zm9=", "Zg==Zg==",
		"=Zg=", "Zm9vY", "Zg==\r\nx", "Z\x80g=",
	};
	static const char *const good[] = {
		"Zm9v\r\nYmFy\r\n", " Zm 9v\tYg==\r\n", "Zg=\r\n=", "",
		"\r\n",
	};
	struct str out = STR_INIT;
	size_t i, k;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		for (k = 0; k < 3; k++) {
			errno = 0;
			assert_int_equal(dec(bad[i], strlen(bad[i]), k, &out),
			    -1);
			assert_int_equal(errno, EINVAL);
		}
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		for (k = 0; k < 3; k++)
			assert_int_equal(dec(good[i], strlen(good[i]), k, &out),
			    0);
	str_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_strict),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
