/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for mime (with envelope and rfc5322 on its results).
 * Input: byte 0 picks how the message is cut into chunks, byte 1 picks the
 * limits (small ones reach the limit paths), the rest is the message.  The
 * message is parsed twice, in chunks and whole; the two results must be the
 * same, and the table must hold together.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "mime.h"
#include "rfc5322.h"
#include "str.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) do { if (!(x)) abort(); } while (0)

static struct mime_parser *
run(const uint8_t *m, size_t n, unsigned cut, const struct mime_limits *lim)
{
	struct mime_parser *p = mime_parser_new(lim);
	size_t i = 0, k, calls = 0;

	CHECK(p != NULL);
	while (i < n) {
		k = cut == 0 ? n - i : 1 + (cut * 7 + calls++ * 13) % (cut + 1);
		if (k > n - i)
			k = n - i;
		CHECK(mime_parser_feed(p, m + i, k) == 0);
		i += k;
	}
	CHECK(mime_parser_finish(p) == 0);
	return p;
}

static void
check_table(const struct mime_parser *p, size_t n,
    const struct mime_limits *lim)
{
	const struct mime_part *v = mime_parts(p), *m, *par;
	size_t i, idx, count = mime_part_count(p);

	CHECK(count >= 1 && count <= lim->max_parts);
	CHECK(v[0].parent == MIME_NONE && v[0].next == count);
	for (i = 0; i < count; i++) {
		m = &v[i];
		CHECK(m->body_off == m->hdr_off + m->hdr_size);
		CHECK(m->body_off + m->body_size <= n);
		CHECK(m->hdr_crlf <= m->body_crlf);
		CHECK(m->body_crlf <= m->end_crlf);
		CHECK(m->end_crlf - m->body_crlf <= m->body_lines);
		CHECK(m->body_lines <= m->body_size);
		CHECK(m->depth <= lim->max_depth);
		CHECK(m->next > i && m->next <= count);
		CHECK(mime_part_content(p, i)->type.s != NULL);
		if (i > 0) {
			CHECK(m->parent < i);
			par = &v[m->parent];
			CHECK(m->depth == par->depth + 1);
			CHECK(m->next <= par->next);
			CHECK(m->hdr_off >= par->body_off);
			CHECK(m->body_off + m->body_size <=
			    par->body_off + par->body_size);
			CHECK(par->kind != MIME_KIND_LEAF);
		}
		if (m->kind == MIME_KIND_MESSAGE)
			CHECK(i + 1 < count && v[i + 1].parent == i &&
			    (v[i + 1].flags & MIME_PART_F_MESSAGE));
		CHECK(mime_section_find(v, count, m->section, &idx) == 0);
		CHECK(idx <= i);
	}
}

static void
outputs(const struct mime_parser *p, struct str *out)
{
	size_t i;

	str_clear(out);
	CHECK(envelope_bodystructure(p, 0, out) == 0);
	CHECK(envelope_bodystructure(p, 1, out) == 0);
	for (i = 0; i < mime_part_count(p); i++) {
		const struct mime_part *m = mime_part_get(p, i);
		if ((m->flags & MIME_PART_F_MESSAGE) ||
		    m->kind == MIME_KIND_MESSAGE)
			CHECK(envelope_envelope(p, i, out) == 0);
		else
			CHECK(envelope_envelope(p, i, out) == -1);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_limits lim = mime_limits_default();
	struct rfc5322_addrlist l = RFC5322_ADDRLIST_INIT;
	struct mime_parser *a, *b;
	struct str oa = STR_INIT, ob = STR_INIT;

	if (size < 2)
		return 0;
	if (data[1] & 1) {
		lim.max_depth = data[1] >> 5;
		lim.max_parts = 1 + (data[1] >> 1 & 15);
		lim.max_field = 16 + data[1];
		lim.max_header = 32;
		lim.max_total = 64;
		lim.max_boundary = 1 + (data[1] >> 3);
	}
	a = run(data + 2, size - 2, data[0], &lim);
	b = run(data + 2, size - 2, 0, &lim);
	check_table(a, size - 2, &lim);
	outputs(a, &oa);
	outputs(b, &ob);
	CHECK(oa.len == ob.len && memcmp(oa.s, ob.s, oa.len) == 0);
	CHECK(rfc5322_addresses((const char *)data + 2, size - 2, 50, &l) == 0);
	CHECK(l.n <= 51);
	rfc5322_addrlist_free(&l);
	mime_parser_free(&a);
	mime_parser_free(&b);
	str_free(&oa);
	str_free(&ob);
	return 0;
}
