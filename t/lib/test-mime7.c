/* SPDX-License-Identifier: ISC */
/* Unit tests for lib/mime7: exact converted copies, refusals, and the same
 * result whatever the read size. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "mime7.h"
#include "str.h"

struct case7 {
	const char *name;
	const char *in;
	int rc;			/* 1, 0, or -1 (EILSEQ) */
	const char *out;	/* when rc is 1 */
};

static const struct case7 cases[] = {
	{ "plain 8-bit text",
	  "From: a@b\r\nSubject: hi\r\n\r\ncaf\xc3\xa9 = ok \r\nbye\r\n", 1,
	  "From: a@b\r\nSubject: hi\r\n"
	  "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	  "caf=C3=A9 =3D ok=20\r\nbye\r\n" },
	{ "8bit field replaced, LF line ends",
	  "From: a@b\nContent-Transfer-Encoding: 8bit\nContent-Type: "
	  "text/plain;\n charset=utf-8\n\n\xe2\x82\xac\n", 1,
	  "From: a@b\nContent-Type: text/plain;\n charset=utf-8\n"
	  "Content-Transfer-Encoding: quoted-printable\n\n=E2=82=AC\n" },
	{ "folded field removed",
	  "content-transfer-encoding :\r\n 8bit\r\nX: y\r\n\r\n\xff", 1,
	  "X: y\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
	  "=FF" },
	{ "7-bit: nothing to do",
	  "From: a@b\r\n\r\nplain\r\n", 0, NULL },
	{ "multipart, one 8-bit part, base64 unchanged",
	  "From: a@b\r\nMIME-Version: 1.0\r\n"
	  "Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n"
	  "preamble\r\n--XX\r\n"
	  "Content-Type: text/plain; charset=utf-8\r\n"
	  "Content-Transfer-Encoding: 8bit\r\n\r\n"
	  "gr\xc3\xbc\xc3\x9f\r\n"
	  "--XX\r\n"
	  "Content-Type: application/octet-stream\r\n"
	  "Content-Transfer-Encoding: base64\r\n\r\n"
	  "AAECAwQF\r\n"
	  "--XX--\r\nepilogue\r\n", 1,
	  "From: a@b\r\nMIME-Version: 1.0\r\n"
	  "Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n"
	  "preamble\r\n--XX\r\n"
	  "Content-Type: text/plain; charset=utf-8\r\n"
	  "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	  "gr=C3=BC=C3=9F\r\n"
	  "--XX\r\n"
	  "Content-Type: application/octet-stream\r\n"
	  "Content-Transfer-Encoding: base64\r\n\r\n"
	  "AAECAwQF\r\n"
	  "--XX--\r\nepilogue\r\n" },
	{ "8-bit header refused",
	  "From: a@b\r\nSubject: caf\xc3\xa9\r\n\r\nplain\r\n", -1, NULL },
	{ "8-bit part header refused",
	  "Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\n"
	  "Content-Description: \xc3\xa9\r\n\r\nx\r\n--XX--\r\n", -1, NULL },
	{ "binary part refused",
	  "Content-Transfer-Encoding: binary\r\n\r\n\x80\r\n", -1, NULL },
	{ "8-bit preamble refused",
	  "Content-Type: multipart/mixed; boundary=XX\r\n\r\n\xff\r\n--XX\r\n"
	  "\r\nx\r\n--XX--\r\n", -1, NULL },
	{ "8-bit inside message/rfc822 refused",
	  "Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\n"
	  "Content-Type: message/rfc822\r\n\r\nFrom: c@d\r\n\r\n\xff\r\n"
	  "--XX--\r\n", -1, NULL },
};

static int
mkfd(const char *s, size_t n)
{
	int fd = memfd_create("t", 0);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, s, n), (ssize_t)n);
	return fd;
}

/* Run one case with read size chunk; the output in out. */
static void
run(const struct case7 *t, size_t chunk, struct str *out)
{
	int in = mkfd(t->in, strlen(t->in)), o = mkfd("", 0), rc;
	off_t size = -1;
	char buf[4096];
	ssize_t n;

	rc = mime7_convert_fd(in, o, chunk, &size);
	if (t->rc < 0) {
		assert_int_equal(rc, -1);
		assert_int_equal(errno, EILSEQ);
	} else
		assert_int_equal(rc, t->rc);
	str_clear(out);
	if (rc == 1) {
		assert_int_equal(lseek(o, 0, SEEK_END), size);
		n = pread(o, buf, sizeof(buf), 0);
		assert_true(n >= 0);
		assert_int_equal(str_append(out, buf, (size_t)n), 0);
	}
	close(in);
	close(o);
}

static void
test_mime7_cases(void **state)
{
	struct str out = STR_INIT;
	size_t i, j;
	static const size_t chunks[] = { 0, 1, 2, 5, 13 };

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("case: %s\n", cases[i].name);
		for (j = 0; j < sizeof(chunks) / sizeof(chunks[0]); j++) {
			run(&cases[i], chunks[j], &out);
			if (cases[i].rc != 1)
				continue;
			assert_string_equal(str_cstr(&out), cases[i].out);
		}
	}
	str_free(&out);
}

/* A long 8-bit line: soft breaks, no byte above 127, nothing over 76. */
static void
test_mime7_long(void **state)
{
	struct str in = STR_INIT, out = STR_INIT;
	struct case7 t = { "long", NULL, 1, NULL };
	size_t i, col = 0;

	assert_int_equal(str_appends(&in, "Subject: x\r\n\r\n"), 0);
	for (i = 0; i < 1000; i++)
		assert_int_equal(str_appends(&in, "\xc3\xa9"), 0);
	t.in = in.s;
	run(&t, 0, &out);
	for (i = 0; i < out.len; i++) {
		assert_true((unsigned char)out.s[i] < 128);
		col = out.s[i] == '\n' ? 0 : col + 1;
		assert_true(col <= 77);	/* 76 and the CR */
	}
	str_free(&in);
	str_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mime7_cases),
		cmocka_unit_test(test_mime7_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
