/* SPDX-License-Identifier: ISC */
/* Unit tests for lib/msgcache: the cache entry of a multipart message
 * (ENVELOPE, BODY, BODYSTRUCTURE, section table, header fields), encoded
 * and decoded again, with disk offsets checked against the LF form. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "cache.h"
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_items),
		cmocka_unit_test(test_byte_at_a_time),
		cmocka_unit_test(test_sections),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
