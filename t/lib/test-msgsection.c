/* SPDX-License-Identifier: ISC */
/* Unit tests for lib/msgsection: every kind of FETCH body section of a
 * multipart message with a message/rfc822 part, from the LF disk form and
 * from the raw wire form, against the bytes cut out of the wire message by
 * hand; partial windows; HEADER.FIELDS(.NOT); missing sections. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache.h"
#include "msgcache.h"
#include "msgsection.h"
#include "str.h"

static const char msg[] =
    "From: Alice <alice@example.org>\r\n"
    "To: bob@example.net\r\n"
    "Subject: sections\r\n"
    "X-Long: one\r\n"
    " two\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"XX\"\r\n"
    "\r\n"
    "preamble\r\n"
    "--XX\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "hello\r\n"
    "world\r\n"
    "--XX\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "From: Carol <carol@example.com>\r\n"
    "Subject: inner\r\n"
    "\r\n"
    "inner body\r\n"
    "--XX--\r\n";

struct fixture {
	int fd;			/* the message file */
	int raw;
	struct str payload;	/* the cache entry */
	const unsigned char *parts;
	size_t parts_len;
};

/* Write the message (LF form unless raw) and build its cache entry. */
static void
fixture_make(struct fixture *f, const char *wire, int raw)
{
	char path[] = "/tmp/zest-msgsection-XXXXXX";
	struct msgcache *mc = msgcache_new();
	size_t i, n = strlen(wire);

	assert_non_null(mc);
	f->fd = mkstemp(path);
	assert_true(f->fd >= 0);
	unlink(path);
	f->raw = raw;
	for (i = 0; i < n; i++) {
		if (!raw && wire[i] == '\r' && wire[i + 1] == '\n')
			continue;
		assert_int_equal(write(f->fd, wire + i, 1), 1);
	}
	assert_int_equal(msgcache_feed(mc, wire, n), 0);
	str_init(&f->payload, 0);
	assert_int_equal(msgcache_finish(mc, raw, &f->payload), 0);
	msgcache_free(&mc);
	assert_int_equal(cache_item_find((const unsigned char *)f->payload.s,
	    f->payload.len, CI_PARTS, &f->parts, &f->parts_len), 1);
}

static void
fixture_free(struct fixture *f)
{
	close(f->fd);
	str_free(&f->payload);
}

/* The section as one string (caller frees), or NULL with errno. */
static char *
fetch(struct fixture *f, const struct msgsection_spec *spec, size_t chunk)
{
	struct msgsection s;
	char *out;
	size_t got = 0;
	ssize_t r;

	if (msgsection_open(&s, f->fd, f->raw, f->parts, f->parts_len,
	    strlen(msg), spec) < 0)
		return NULL;
	out = malloc(msgsection_size(&s) + 1);
	assert_non_null(out);
	while ((r = msgsection_read(&s, out + got, chunk)) > 0)
		got += (size_t)r;
	assert_int_equal(r, 0);
	assert_int_equal(got, msgsection_size(&s));
	out[got] = '\0';
	return out;
}

/* The bytes of msg from the first occurrence of from up to (not
 * including) the first occurrence of to after it ("" = to the end). */
static char *
cut(const char *from, const char *to)
{
	const char *a = strstr(msg, from), *b;

	assert_non_null(a);
	b = to[0] ? strstr(a, to) : msg + strlen(msg);
	assert_non_null(b);
	return strndup(a, (size_t)(b - a));
}

static void
check(struct fixture *f, const char *part, enum msgsection_kind kind,
    const char *want)
{
	struct msgsection_spec spec = { part, kind, NULL, 0, 0, 0, 0 };
	size_t chunks[] = { 1, 3, 4096 };
	size_t i;

	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		char *got = fetch(f, &spec, chunks[i]);

		assert_non_null(got);
		assert_string_equal(got, want);
		free(got);
	}
}

static void
sections(int raw)
{
	struct fixture f;
	char *w;

	fixture_make(&f, msg, raw);
	check(&f, "", MSEC_FULL, msg);
	w = cut("From: Alice", "preamble");
	check(&f, "", MSEC_HEADER, w);
	free(w);
	w = cut("preamble", "");
	check(&f, "", MSEC_TEXT, w);
	free(w);
	check(&f, "1", MSEC_FULL, "hello\r\nworld");
	check(&f, "1", MSEC_MIME, "Content-Type: text/plain\r\n\r\n");
	w = cut("From: Carol", "\r\n--XX--");
	check(&f, "2", MSEC_FULL, w);
	free(w);
	check(&f, "2", MSEC_MIME, "Content-Type: message/rfc822\r\n\r\n");
	check(&f, "2", MSEC_HEADER,
	    "From: Carol <carol@example.com>\r\nSubject: inner\r\n\r\n");
	check(&f, "2", MSEC_TEXT, "inner body");
	check(&f, "2.1", MSEC_FULL, "inner body");
	fixture_free(&f);
}

static void
test_sections_lf(void **state)
{
	(void)state;
	sections(0);
}

static void
test_sections_raw(void **state)
{
	(void)state;
	sections(1);
}

static void
test_fields(void **state)
{
	static const char *const names[] = { "subject", "X-LONG", "absent" };
	struct msgsection_spec spec = { "", MSEC_FIELDS, names, 3, 0, 0, 0 };
	struct fixture f;
	char *got;
	int raw;

	(void)state;
	for (raw = 0; raw <= 1; raw++) {
		fixture_make(&f, msg, raw);
		spec.part = "";
		spec.kind = MSEC_FIELDS;
		got = fetch(&f, &spec, 2);
		assert_non_null(got);
		assert_string_equal(got,
		    "Subject: sections\r\nX-Long: one\r\n two\r\n\r\n");
		free(got);
		spec.kind = MSEC_FIELDS_NOT;
		got = fetch(&f, &spec, 4096);
		assert_non_null(got);
		assert_string_equal(got,
		    "From: Alice <alice@example.org>\r\n"
		    "To: bob@example.net\r\n"
		    "MIME-Version: 1.0\r\n"
		    "Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n");
		free(got);
		/* of the message inside part 2 */
		spec.part = "2";
		spec.kind = MSEC_FIELDS;
		got = fetch(&f, &spec, 1);
		assert_non_null(got);
		assert_string_equal(got, "Subject: inner\r\n\r\n");
		free(got);
		/* nothing matches: only the blank line */
		spec.part = "";
		spec.nfields = 1;
		spec.fields = names + 2;
		got = fetch(&f, &spec, 7);
		assert_non_null(got);
		assert_string_equal(got, "\r\n");
		free(got);
		spec.fields = names;
		spec.nfields = 3;
		/* partial of a filtered header */
		spec.partial = 1;
		spec.offset = 9;
		spec.length = 8;
		got = fetch(&f, &spec, 3);
		assert_non_null(got);
		assert_string_equal(got, "sections");
		free(got);
		spec.partial = 0;
		fixture_free(&f);
	}
}

static void
test_partial(void **state)
{
	struct msgsection_spec spec = { "", MSEC_FULL, NULL, 0, 1, 0, 0 };
	struct fixture f;
	size_t len = strlen(msg);
	uint64_t offs[] = { 0, 1, 33, 34, 100, 0 };
	uint64_t lens[] = { 0, 1, 2, 5, 1000, 0 };
	size_t i, j;
	char *got;

	(void)state;
	offs[5] = len + 10;
	fixture_make(&f, msg, 0);
	for (i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		for (j = 0; j < sizeof(lens) / sizeof(lens[0]); j++) {
			size_t o = offs[i] < len ? (size_t)offs[i] : len;
			size_t n = len - o < lens[j] ? len - o : (size_t)lens[j];

			spec.offset = offs[i];
			spec.length = lens[j];
			got = fetch(&f, &spec, 5);
			assert_non_null(got);
			assert_int_equal(strlen(got), n);
			assert_memory_equal(got, msg + o, n);
			free(got);
		}
	}
	/* the CR of a converted line end and its LF split by the window */
	spec.part = "1";
	spec.offset = 5;
	spec.length = 1;
	got = fetch(&f, &spec, 1);
	assert_string_equal(got, "\r");
	free(got);
	spec.offset = 6;
	got = fetch(&f, &spec, 1);
	assert_string_equal(got, "\n");
	free(got);
	fixture_free(&f);
}

static void
test_errors(void **state)
{
	struct msgsection_spec spec = { "3", MSEC_FULL, NULL, 0, 0, 0, 0 };
	struct msgsection s;
	struct fixture f;
	unsigned char junk[3] = { 9, 9, 9 };

	(void)state;
	fixture_make(&f, msg, 0);
	assert_int_equal(msgsection_open(&s, f.fd, 0, f.parts, f.parts_len,
	    strlen(msg), &spec), -1);
	assert_int_equal(errno, ENOENT);
	spec.part = "1.5.7";
	assert_int_equal(msgsection_open(&s, f.fd, 0, f.parts, f.parts_len,
	    strlen(msg), &spec), -1);
	assert_int_equal(errno, ENOENT);
	/* HEADER of a part that is not message/rfc822 */
	spec.part = "1";
	spec.kind = MSEC_HEADER;
	assert_int_equal(msgsection_open(&s, f.fd, 0, f.parts, f.parts_len,
	    strlen(msg), &spec), -1);
	assert_int_equal(errno, EINVAL);
	/* MIME of the message itself */
	spec.part = "";
	spec.kind = MSEC_MIME;
	assert_int_equal(msgsection_open(&s, f.fd, 0, f.parts, f.parts_len,
	    strlen(msg), &spec), -1);
	assert_int_equal(errno, EINVAL);
	/* a table that does not decode */
	spec.kind = MSEC_FULL;
	assert_int_equal(msgsection_open(&s, f.fd, 0, junk, sizeof(junk),
	    strlen(msg), &spec), -1);
	assert_int_equal(errno, EBADMSG);
	/* the file shorter than the table says */
	assert_int_equal(ftruncate(f.fd, 20), 0);
	spec.part = "";
	spec.kind = MSEC_TEXT;
	{
		char buf[64];

		assert_int_equal(msgsection_open(&s, f.fd, 0, f.parts,
		    f.parts_len, strlen(msg), &spec), 0);
		assert_int_equal(msgsection_read(&s, buf, sizeof(buf)), -1);
		assert_int_equal(errno, EIO);
	}
	fixture_free(&f);
}

/* A single-part message: BODY[1] is its body, BODY[1.MIME] its header. */
static void
test_single_part(void **state)
{
	static const char one[] =
	    "Subject: one\r\n\r\nbody line\r\n";
	struct fixture f;
	struct msgsection_spec spec = { "1", MSEC_FULL, NULL, 0, 0, 0, 0 };
	struct msgsection s;
	char buf[64];
	ssize_t r;

	(void)state;
	fixture_make(&f, one, 0);
	assert_int_equal(msgsection_open(&s, f.fd, 0, f.parts, f.parts_len,
	    strlen(one), &spec), 0);
	r = msgsection_read(&s, buf, sizeof(buf));
	assert_int_equal(r, 11);
	assert_memory_equal(buf, "body line\r\n", 11);
	spec.kind = MSEC_MIME;
	assert_int_equal(msgsection_open(&s, f.fd, 0, f.parts, f.parts_len,
	    strlen(one), &spec), 0);
	r = msgsection_read(&s, buf, sizeof(buf));
	assert_int_equal(r, 16);
	assert_memory_equal(buf, "Subject: one\r\n\r\n", 16);
	fixture_free(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sections_lf),
		cmocka_unit_test(test_sections_raw),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_partial),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_single_part),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
