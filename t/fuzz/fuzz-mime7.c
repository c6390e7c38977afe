/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for mime7 (and so qp, b64 and the RFC 2047 encoder).
 * Input: byte 0 picks the target (bits 0-1), MIME7_HDR7 (bit 2) and the
 * read size, the rest is the message.  The copy must be the same whatever the read size; for the
 * 7-bit target it holds no byte above 127, for both no NUL; it must parse
 * into as many entities as the message, and its leaf parts must decode
 * to the message's.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "b64.h"
#include "mime.h"
#include "mime7.h"
#include "qp.h"
#include "str.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) do { if (!(x)) abort(); } while (0)

static int
run(const uint8_t *m, size_t n, unsigned t, size_t chunk,
    struct str *out)
{
	int in = memfd_create("in", 0), o = memfd_create("out", 0), rc;
	struct mime7_result res;
	char buf[4096];
	off_t off = 0;
	ssize_t k;

	CHECK(in >= 0 && o >= 0);
	CHECK(n == 0 || write(in, m, n) == (ssize_t)n);
	rc = mime7_convert(in, o, t, chunk, &res);
	str_clear(out);
	if (rc == 1) {
		while ((k = pread(o, buf, sizeof(buf), off)) > 0) {
			CHECK(str_append(out, buf, (size_t)k) == 0);
			off += k;
		}
		CHECK(off == res.size);
	}
	close(in);
	close(o);
	return rc;
}

static struct mime_parser *
parse(const void *m, size_t n)
{
	struct mime_parser *p = mime_parser_new(NULL);

	CHECK(p != NULL);
	CHECK(mime_parser_feed(p, m, n) == 0 && mime_parser_finish(p) == 0);
	return p;
}

/* Leaf i of the copy, decoded, equals leaf i of the message. */
static void
same_leaf(const struct mime_parser *a, const uint8_t *m,
    const struct mime_parser *b, const struct str *out, size_t i)
{
	const struct mime_part *pa = mime_part_get(a, i);
	const struct mime_part *pb = mime_part_get(b, i);
	const struct mime_text *e = &mime_part_content(b, i)->encoding;
	const struct mime_text *e0 = &mime_part_content(a, i)->encoding;
	struct str body = STR_INIT, want = STR_INIT;
	struct b64_dec d;
	uint64_t k;
	uint8_t c;

	if (e->s == NULL || (e0->s != NULL && strcasecmp(e->s, e0->s) == 0)) {
		/* not converted: the same bytes (line ends may be CRLF) */
		CHECK(pb->body_size >= pa->body_size);
		return;
	}
	if (strcasecmp(e->s, "base64") == 0) {
		b64_dec_init(&d);
		CHECK(b64_decode(&d, out->s + pb->body_off, pb->body_size,
		    &body) == 0 && b64_decode_end(&d) == 0);
	} else if (strcasecmp(e->s, "quoted-printable") == 0) {
		CHECK(qp_decode(out->s + pb->body_off, pb->body_size,
		    &body) == 0);
		/* text goes with CRLF line ends: make the original so */
		for (k = 0; k < pa->body_size; k++) {
			c = m[pa->body_off + k];
			if (c == '\n' && (k == 0 || m[pa->body_off + k - 1] !=
			    '\r'))
				CHECK(str_appendc(&want, '\r') == 0);
			CHECK(str_appendc(&want, (char)c) == 0);
		}
	} else
		return;
	if (want.len == 0)
		CHECK(str_append(&want, m + pa->body_off, pa->body_size) == 0);
	CHECK(body.len == want.len);
	CHECK(body.len == 0 || memcmp(body.s, want.s, body.len) == 0);
	str_free(&body);
	str_free(&want);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct str a = STR_INIT, b = STR_INIT;
	struct mime_parser *pa, *pb;
	unsigned t;
	size_t i, chunk;
	int r1, r2;

	if (size < 1)
		return 0;
	t = (data[0] & 3) == 3 ? MIME7_7BIT : data[0] & 3;
	t |= data[0] & MIME7_HDR7;
	chunk = 1 + (data[0] >> 3);
	r1 = run(data + 1, size - 1, t, 0, &a);
	r2 = run(data + 1, size - 1, t, chunk, &b);
	CHECK(r1 == r2);
	CHECK(a.len == b.len && (a.len == 0 || memcmp(a.s, b.s, a.len) == 0));
	if (r1 == 1) {
		for (i = 0; i < a.len && (t & MIME7_TARGET) != MIME7_BINARY;
		    i++) {
			CHECK(a.s[i] != '\0');
			CHECK((t & MIME7_TARGET) == MIME7_8BIT ||
			    (unsigned char)a.s[i] < 128);
		}
		pa = parse(data + 1, size - 1);
		pb = parse(a.s, a.len);
		CHECK(mime_part_count(pa) == mime_part_count(pb));
		for (i = 0; i < mime_part_count(pa); i++)
			if (mime_part_get(pa, i)->kind == MIME_KIND_LEAF &&
			    mime_part_get(pb, i)->kind == MIME_KIND_LEAF)
				same_leaf(pa, data + 1, pb, &a, i);
		mime_parser_free(&pa);
		mime_parser_free(&pb);
	}
	str_free(&a);
	str_free(&b);
	return 0;
}
