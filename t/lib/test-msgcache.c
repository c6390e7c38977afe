/* SPDX-License-Identifier: ISC */
/* Unit tests for lib/msgcache: the cache entry of a multipart message
 * (ENVELOPE, BODY, BODYSTRUCTURE, section table, header fields), encoded
 * and decoded again, with disk offsets checked against the LF form. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache.h"
#include "mime.h"
#include "msgcache.h"

static const char msg[] =
    "From: Alice <alice@example.org>\r\n"
    "To: bob@example.net\r\n"
    "Subject: test\r\n"
    "Date: Sat, 21 Nov 2026 10:00:00 +0000\r\n"
    "Message-ID: <1@x>\r\n"
    "X-Other: not kept\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"XX\"\r\n"
    "\r\n"
    "preamble\r\n"
    "--XX\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "hello\r\n"
    "world\r\n"
    "--XX\r\n"
    "Content-Type: application/octet-stream; name=a.bin\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "Content-Disposition: attachment; filename=a.bin\r\n"
    "\r\n"
    "AAEC\r\n"
    "--XX--\r\n";

static const char want_env[] =
    "(\"Sat, 21 Nov 2026 10:00:00 +0000\" \"test\" "
    "((\"Alice\" NIL \"alice\" \"example.org\")) "
    "((\"Alice\" NIL \"alice\" \"example.org\")) "
    "((\"Alice\" NIL \"alice\" \"example.org\")) "
    "((NIL NIL \"bob\" \"example.net\")) NIL NIL NIL \"<1@x>\")";
static const char want_body[] =
    "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 12 1)"
    "(\"APPLICATION\" \"OCTET-STREAM\" (\"NAME\" \"a.bin\") NIL NIL "
    "\"BASE64\" 4) \"MIXED\")";
static const char want_bs[] =
    "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 12 1 "
    "NIL NIL NIL NIL)(\"APPLICATION\" \"OCTET-STREAM\" (\"NAME\" \"a.bin\") "
    "NIL NIL \"BASE64\" 4 NIL (\"ATTACHMENT\" (\"FILENAME\" \"a.bin\")) NIL "
    "NIL) \"MIXED\" (\"BOUNDARY\" \"XX\") NIL NIL NIL)";

static void
build(struct str *payload, size_t chunk, int raw)
{
	struct msgcache *mc = msgcache_new();
	size_t i, n = strlen(msg);

	assert_non_null(mc);
	for (i = 0; i < n; i += chunk)
		assert_int_equal(msgcache_feed(mc, msg + i,
		    n - i < chunk ? n - i : chunk), 0);
	assert_int_equal(msgcache_finish(mc, raw, payload), 0);
	msgcache_free(&mc);
	assert_null(mc);
}

static void
item_is(const struct str *p, unsigned id, const char *want)
{
	const unsigned char *d;
	size_t n;

	assert_int_equal(cache_item_find((const unsigned char *)p->s, p->len,
	    id, &d, &n), 1);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(d, want, n);
}

static void
test_items(void **state)
{
	struct str p = STR_INIT;

	build(&p, sizeof(msg), 0);
	item_is(&p, CI_ENVELOPE, want_env);
	item_is(&p, CI_BODY, want_body);
	item_is(&p, CI_BODYSTRUCTURE, want_bs);
	item_is(&p, CI_HEADERS,
	    "From: Alice <alice@example.org>\r\nTo: bob@example.net\r\n"
	    "Subject: test\r\nDate: Sat, 21 Nov 2026 10:00:00 +0000\r\n"
	    "Message-ID: <1@x>\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=\"XX\"\r\n");
	str_free(&p);
}

static void
test_byte_at_a_time(void **state)
{
	struct str a = STR_INIT, b = STR_INIT;

	build(&a, sizeof(msg), 0);
	build(&b, 1, 0);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.s, b.s, a.len);
	str_free(&a);
	str_free(&b);
}

/* The LF form of msg, as the store keeps a text message. */
static size_t
lf_form(char *out)
{
	size_t i, o = 0, n = strlen(msg);

	for (i = 0; i < n; i++)
		if (!(msg[i] == '\r' && msg[i + 1] == '\n'))
			out[o++] = msg[i];
	return o;
}

static void
test_sections(void **state)
{
	struct str p = STR_INIT;
	const unsigned char *d;
	size_t n, pos = 0, k = 0;
	struct cache_part cp[3];
	char disk[sizeof(msg)];
	size_t dn = lf_form(disk);

	build(&p, 7, 0);
	assert_int_equal(cache_item_find((const unsigned char *)p.s, p.len,
	    CI_PARTS, &d, &n), 1);
	while (k < 3 && cache_part_decode(d, n, &pos, &cp[k]) == 1)
		k++;
	assert_int_equal(k, 3);
	assert_int_equal(cache_part_decode(d, n, &pos, &cp[0]), 0);
	assert_string_equal(cp[0].section, "");
	assert_int_equal(cp[0].kind, 1);
	assert_string_equal(cp[1].section, "1");
	assert_string_equal(cp[2].section, "2");
	/* wire offsets select the wire bytes */
	assert_memory_equal(msg + cp[1].body_off, "hello\r\nworld", 12);
	assert_int_equal(cp[1].body_size, 12);
	assert_memory_equal(msg + cp[2].body_off, "AAEC", cp[2].body_size);
	assert_memory_equal(msg + cp[2].hdr_off, "Content-Type: application",
	    25);
	/* disk offsets select the same bytes in the LF form */
	assert_true(cp[1].body_doff + cp[1].body_dsize <= dn);
	assert_int_equal(cp[1].body_dsize, 11);
	assert_memory_equal(disk + cp[1].body_doff, "hello\nworld", 11);
	assert_memory_equal(disk + cp[2].body_doff, "AAEC", 4);
	assert_memory_equal(disk + cp[2].hdr_doff, "Content-Type: application",
	    25);
	assert_int_equal(cp[0].hdr_doff, 0);
	assert_memory_equal(disk + cp[0].body_doff, "preamble\n--XX\n", 14);
	str_free(&p);
	/* raw: disk offsets are the wire offsets */
	build(&p, sizeof(msg), 1);
	assert_int_equal(cache_item_find((const unsigned char *)p.s, p.len,
	    CI_PARTS, &d, &n), 1);
	pos = 0;
	for (k = 0; k < 2; k++)
		assert_int_equal(cache_part_decode(d, n, &pos, &cp[k]), 1);
	assert_int_equal(cp[1].body_doff, cp[1].body_off);
	assert_int_equal(cp[1].body_dsize, cp[1].body_size);
	str_free(&p);
}

/* The payload of wire bytes w[0..n) fed in one piece. */
static void
build_wire(struct str *payload, const char *w, size_t n, int raw)
{
	struct msgcache *mc = msgcache_new();

	assert_non_null(mc);
	assert_int_equal(msgcache_feed(mc, w, n), 0);
	assert_int_equal(msgcache_finish(mc, raw, payload), 0);
	msgcache_free(&mc);
}

/* file[0..n) as a file, parsed by msgcache_parse_fd: the same payload as
 * its wire form want_wire fed directly, raw as want_raw. */
static void
parse_file_is(const char *file, size_t n, const char *want_wire,
    size_t want_n, int want_raw)
{
	char path[] = "/tmp/zest-test-msgcache.XXXXXX";
	struct str a = STR_INIT, b = STR_INIT;
	uint64_t wire = 0;
	int fd = mkstemp(path), raw = -1;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, file, n), (ssize_t)n);
	assert_int_equal(msgcache_parse_fd(fd, &a, &raw, &wire), 0);
	close(fd);
	unlink(path);
	assert_int_equal(raw, want_raw);
	assert_int_equal(wire, want_n);
	build_wire(&b, want_wire, want_n, want_raw);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.s, b.s, a.len);
	str_free(&a);
	str_free(&b);
}

/* text with every LF made CRLF (every LF, also one after a CR), into w */
static size_t
crlf_form(const char *t, size_t n, char *w)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		if (t[i] == '\n')
			w[o++] = '\r';
		w[o++] = t[i];
	}
	return o;
}

/* msg's LF form and lines more lines of LF text into t (cap bytes). */
static size_t
long_text(char *t, size_t cap, size_t lines)
{
	size_t n = lf_form(t), k;

	for (k = 0; k < lines; k++)
		n += (size_t)snprintf(t + n, cap - n, "line %zu, and some more "
		    "text to make it longer than a few bytes\n", k);
	assert_true(n < cap);
	return n;
}

static void
test_parse_fd(void **state)
{
	/* more than MSGCACHE_SLURP: read in chunks, twice */
	size_t lines = MSGCACHE_SLURP / 40, cap = 70 * lines + 4096;
	char *t = malloc(cap), *w = malloc(2 * cap);
	static const char mixed[] = "Subject: mixed\r\n\nx\r\ny\n";
	size_t n, m, k, sizes[] = { 0, 10, 2000, lines };

	assert_non_null(t);
	assert_non_null(w);
	/* the CRLF form itself: kept raw */
	parse_file_is(msg, strlen(msg), msg, strlen(msg), 1);
	/* LF text of several sizes: served with CRLF */
	for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		n = long_text(t, cap, sizes[k]);
		m = crlf_form(t, n, w);
		parse_file_is(t, n, w, m, 0);
		/* the same with CRLF line ends: raw */
		parse_file_is(w, m, w, m, 1);
	}
	/* mixed line ends: LF text, every LF gets a CR */
	parse_file_is(mixed, strlen(mixed), w,
	    crlf_form(mixed, strlen(mixed), w), 0);
	/* a big CRLF file whose last line has no line end */
	n = long_text(t, cap, lines);
	memcpy(w, t, n);
	w[n] = 'z';
	n = crlf_form(w, n + 1, t);
	parse_file_is(t, n, t, n, 1);
	/* an empty file */
	parse_file_is("", 0, "", 0, 0);
	free(t);
	free(w);
}

/* The part table of t[0..n) fed in chunks of chunk bytes, LF text with
 * each LF counted as CRLF (lf), else as it is. */
static struct mime_parser *
parts_of(const char *t, size_t n, size_t chunk, int lf)
{
	struct mime_parser *p = mime_parser_new(NULL);
	size_t i;

	assert_non_null(p);
	if (lf)
		mime_parser_lf_as_crlf(p);
	for (i = 0; i < n; i += chunk)
		assert_int_equal(mime_parser_feed(p, t + i,
		    n - i < chunk ? n - i : chunk), 0);
	assert_int_equal(mime_parser_finish(p), 0);
	return p;
}

/* LF text fed with mime_parser_lf_as_crlf gives the table of its CRLF
 * form, whatever the chunks. */
static void
test_lf_as_crlf(void **state)
{
	static const char nested[] =
	    "Subject: n\nContent-Type: multipart/mixed; boundary=o\n\n"
	    "--o\nContent-Type: message/rfc822\n\nSubject: in\n"
	    "Content-Type: multipart/alternative; boundary=i\n\n--i\n\n"
	    "a\n--i\nContent-Type: text/html\n\n<p>\n\n--i--\n--o\n"
	    "Content-Type: text/plain\n\n-x\n--y\n--o--\nepilogue";
	const char *texts[2];
	char disk[sizeof(msg)], w[2 * sizeof(msg) + sizeof(nested) * 2];
	size_t lens[2], chunks[] = { 1, 2, 3, 7, 64, 100000 }, t, c, k, m;

	lens[0] = lf_form(disk);
	texts[0] = disk;
	texts[1] = nested;
	lens[1] = strlen(nested);
	for (t = 0; t < 2; t++) {
		struct mime_parser *want;

		m = crlf_form(texts[t], lens[t], w);
		want = parts_of(w, m, m, 0);
		for (c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
			struct mime_parser *got = parts_of(texts[t], lens[t],
			    chunks[c], 1);

			assert_int_equal(mime_part_count(got),
			    mime_part_count(want));
			for (k = 0; k < mime_part_count(want); k++) {
				const struct mime_part *a = mime_part_get(want,
				    k), *b = mime_part_get(got, k);

				assert_string_equal(a->section, b->section);
				assert_int_equal(a->kind, b->kind);
				assert_int_equal(a->flags, b->flags);
				assert_int_equal(a->hdr_off, b->hdr_off);
				assert_int_equal(a->hdr_size, b->hdr_size);
				assert_int_equal(a->body_off, b->body_off);
				assert_int_equal(a->body_size, b->body_size);
				assert_int_equal(a->body_lines, b->body_lines);
				assert_int_equal(a->hdr_crlf, b->hdr_crlf);
				assert_int_equal(a->body_crlf, b->body_crlf);
				assert_int_equal(a->end_crlf, b->end_crlf);
			}
			mime_parser_free(&got);
		}
		mime_parser_free(&want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_items),
		cmocka_unit_test(test_byte_at_a_time),
		cmocka_unit_test(test_sections),
		cmocka_unit_test(test_parse_fd),
		cmocka_unit_test(test_lf_as_crlf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
