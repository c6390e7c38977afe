/* SPDX-License-Identifier: ISC */
/*
 * pop3d's parsing and message encoding: the program's own files are
 * compiled in here (they are not part of libzest), so the command parser,
 * the message numbers and the dot-stuffing are tested table by table and
 * byte by byte without a server.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../pop3d/common.c"
#include "../../pop3d/message.c"

static void
test_parse(void **state)
{
	static const struct {
		const char *line;
		int ok;
		const char *kw, *args;
	} rows[] = {
		{ "STAT", 1, "STAT", "" },
		{ "stat", 1, "STAT", "" },
		{ "Top 1 10", 1, "TOP", "1 10" },
		{ "PASS  two  spaces ", 1, "PASS", " two  spaces " },
		{ "QUIT ", 1, "QUIT", "" },
		{ "ST", 0, NULL, NULL },
		{ "STATS", 0, NULL, NULL },
		{ "ST4T", 0, NULL, NULL },
		{ "", 0, NULL, NULL },
		{ " STAT", 0, NULL, NULL },
		{ "STAT\t1", 0, NULL, NULL },
	};
	struct pop3_cmd c;
	size_t i;

	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		int r = pop3_parse(rows[i].line, &c);

		if (!rows[i].ok) {
			assert_int_equal(r, -1);
			continue;
		}
		assert_int_equal(r, 0);
		assert_string_equal(c.kw, rows[i].kw);
		assert_string_equal(c.args, rows[i].args);
	}
}

static void
test_msgno(void **state)
{
	static const struct {
		const char *s;
		uint32_t max, want;
		size_t used;
	} rows[] = {
		{ "1", 5, 1, 1 }, { "5", 5, 5, 1 }, { "6", 5, 0, 1 },
		{ "0", 5, 0, 1 }, { "01", 5, 0, 0 }, { "", 5, 0, 0 },
		{ "x", 5, 0, 0 }, { "-1", 5, 0, 0 }, { "3 7", 5, 3, 1 },
		{ "1234567890", 4000000000u, 0, 0 },
		{ "123456789", 4000000000u, 123456789, 9 },
	};
	const char *end;
	size_t i;

	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		end = NULL;
		assert_int_equal(pop3_msgno(rows[i].s, &end, rows[i].max),
		    rows[i].want);
		if (rows[i].want != 0)
			assert_int_equal(end - rows[i].s, rows[i].used);
	}
}

/* Encode file content through pop3_send_message into out. */
static void
encode(const char *in, size_t n, int raw, long lines, struct str *out)
{
	char path[] = "/tmp/test-pop3d-XXXXXX";
	struct io *io = calloc(1, sizeof *io);
	int fd, sv[1];
	char buf[4096];
	ssize_t k;

	assert_non_null(io);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, in, n), (ssize_t)n);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	/* the output goes to a file: a pipe would fill up */
	strcpy(path, "/tmp/test-pop3d-XXXXXX");
	sv[0] = mkstemp(path);
	assert_true(sv[0] >= 0);
	unlink(path);
	io_init(io, -1, sv[0]);
	assert_int_equal(pop3_send_message(io, fd, raw, lines), 0);
	assert_int_equal(io_flush(io), 0);
	assert_int_equal(lseek(sv[0], 0, SEEK_SET), 0);
	str_clear(out);
	while ((k = read(sv[0], buf, sizeof buf)) > 0)
		str_append(out, buf, (size_t)k);
	close(sv[0]);
	close(fd);
	free(io);
}

static void
test_message(void **state)
{
	static const struct {
		const char *name, *in;
		int raw;
		long lines;
		const char *want;
	} rows[] = {
		{ "text", "A: b\n\nbody\n", 0, -1, "A: b\r\n\r\nbody\r\n.\r\n" },
		{ "dots", "A: b\n\n.x\n..y\n.\nz.\n", 0, -1,
		    "A: b\r\n\r\n..x\r\n...y\r\n..\r\nz.\r\n.\r\n" },
		{ "no final LF", "A: b\n\nlast", 0, -1,
		    "A: b\r\n\r\nlast\r\n.\r\n" },
		{ "dot first", ".A\n", 0, -1, "..A\r\n.\r\n" },
		{ "empty", "", 0, -1, ".\r\n" },
		{ "raw", "A: b\r\n\r\nbare\nLF\r\n.d\n", 1, -1,
		    "A: b\r\n\r\nbare\nLF\r\n..d\n\r\n.\r\n" },
		{ "raw no end", "A: b\r\n\r\nx", 1, -1,
		    "A: b\r\n\r\nx\r\n.\r\n" },
		{ "top 0", "A: b\nC: d\n\n1\n2\n", 0, 0,
		    "A: b\r\nC: d\r\n\r\n.\r\n" },
		{ "top 1", "A: b\n\n.1\n2\n", 0, 1, "A: b\r\n\r\n..1\r\n.\r\n" },
		{ "top many", "A: b\n\n1\n", 0, 10, "A: b\r\n\r\n1\r\n.\r\n" },
		{ "top raw", "A: b\r\n\r\n1\r\n2\r\n", 1, 1,
		    "A: b\r\n\r\n1\r\n.\r\n" },
		{ "top no body", "A: b\n", 0, 0, "A: b\r\n.\r\n" },
	};
	struct str out = STR_INIT;
	size_t i;

	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		encode(rows[i].in, strlen(rows[i].in), rows[i].raw,
		    rows[i].lines, &out);
		if (out.len != strlen(rows[i].want) ||
		    memcmp(out.s, rows[i].want, out.len) != 0)
			fail_msg("%s: got \"%s\"", rows[i].name,
			    str_cstr(&out));
	}
	str_free(&out);
}

/* Chunk boundaries anywhere: the state carries across reads.  A message
 * longer than one read buffer, with dots at the boundaries. */
static void
test_message_boundaries(void **state)
{
	struct str in = STR_INIT, want = STR_INIT, out = STR_INIT;
	size_t i;

	str_appends(&in, "Subject: big\n\n");
	str_appends(&want, "Subject: big\r\n\r\n");
	for (i = 0; in.len < 3 * MSG_READ; i++) {
		str_appendf(&in, ".%zu\n", i);
		str_appendf(&want, "..%zu\r\n", i);
	}
	str_appends(&want, ".\r\n");
	encode(in.s, in.len, 0, -1, &out);
	assert_int_equal(out.len, want.len);
	assert_memory_equal(out.s, want.s, want.len);
	str_free(&in);
	str_free(&want);
	str_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_msgno),
		cmocka_unit_test(test_message),
		cmocka_unit_test(test_message_boundaries),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
