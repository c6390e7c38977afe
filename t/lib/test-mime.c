/* SPDX-License-Identifier: ISC */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime.h"
#include "str.h"

#define NOCHUNK	((size_t)0)

static void
read_msg(const char *name, struct str *out)
{
	const char *dir = getenv("ZEST_TESTDATA");
	char path[512];
	char buf[4096];
	size_t n;
	FILE *f;

	str_clear(out);
	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "t/data/msg", name);
	f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open %s", path);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		assert_int_equal(str_append(out, buf, n), 0);
	fclose(f);
}

/* Parse s[0..n) fed chunk bytes at a time (NOCHUNK: all at once). */
static struct mime_parser *
parse_lim(const char *s, size_t n, size_t chunk,
    const struct mime_limits *lim)
{
	struct mime_parser *p = mime_parser_new(lim);
	size_t i, k;

	assert_non_null(p);
	if (chunk == NOCHUNK)
		chunk = n ? n : 1;
	for (i = 0; i < n; i += k) {
		k = n - i < chunk ? n - i : chunk;
		assert_int_equal(mime_parser_feed(p, s + i, k), 0);
	}
	assert_int_equal(mime_parser_finish(p), 0);
	return p;
}

static struct mime_parser *
parse(const char *s, size_t n, size_t chunk)
{
	return parse_lim(s, n, chunk, NULL);
}

/* The table as "section|kind|flags|hoff+hsize|boff+bsize|lines|crlfs"
 * rows joined by a space (crlfs: hdr/body/end). */
static void
render(const struct mime_parser *p, int crlf, struct str *out)
{
	const struct mime_part *m;
	size_t i;

	str_clear(out);
	for (i = 0; i < mime_part_count(p); i++) {
		m = mime_part_get(p, i);
		assert_int_equal(str_appendf(out, "%s%s|%d|%x|%" PRIu64 "+%"
		    PRIu64 "|%" PRIu64 "+%" PRIu64 "|%" PRIu64, i ? " " : "",
		    m->section, (int)m->kind, m->flags, m->hdr_off,
		    m->hdr_size, m->body_off, m->body_size, m->body_lines), 0);
		if (crlf)
			assert_int_equal(str_appendf(out, "|%" PRIu64 "/%"
			    PRIu64 "/%" PRIu64, m->hdr_crlf, m->body_crlf,
			    m->end_crlf), 0);
	}
}

static void
same_text(const struct mime_text *a, const struct mime_text *b)
{
	if (a == NULL || b == NULL) {
		assert_true(a == b);
		return;
	}
	assert_int_equal(a->n, b->n);
	assert_memory_equal(a->s, b->s, a->n);
}

/* Two parses of the same message give the same results. */
static void
same_parse(const struct mime_parser *a, const struct mime_parser *b)
{
	const struct mime_content *ca, *cb;
	size_t i, k;

	assert_int_equal(mime_part_count(a), mime_part_count(b));
	for (i = 0; i < mime_part_count(a); i++) {
		const struct mime_part *pa = mime_part_get(a, i);
		const struct mime_part *pb = mime_part_get(b, i);
		assert_string_equal(pa->section, pb->section);
		assert_int_equal(pa->parent, pb->parent);
		assert_int_equal(pa->next, pb->next);
		assert_int_equal(pa->depth, pb->depth);
		assert_int_equal(pa->kind, pb->kind);
		assert_int_equal(pa->flags, pb->flags);
		assert_int_equal(pa->hdr_off, pb->hdr_off);
		assert_int_equal(pa->hdr_size, pb->hdr_size);
		assert_int_equal(pa->body_off, pb->body_off);
		assert_int_equal(pa->body_size, pb->body_size);
		assert_int_equal(pa->body_lines, pb->body_lines);
		assert_int_equal(pa->hdr_crlf, pb->hdr_crlf);
		assert_int_equal(pa->body_crlf, pb->body_crlf);
		assert_int_equal(pa->end_crlf, pb->end_crlf);
		for (k = 0; k < MIME_HDR_COUNT; k++)
			same_text(mime_part_header(a, i, (enum mime_hdr)k),
			    mime_part_header(b, i, (enum mime_hdr)k));
		ca = mime_part_content(a, i);
		cb = mime_part_content(b, i);
		same_text(&ca->type, &cb->type);
		same_text(&ca->subtype, &cb->subtype);
		same_text(&ca->encoding, &cb->encoding);
		same_text(&ca->disposition, &cb->disposition);
		assert_int_equal(ca->nparams, cb->nparams);
		for (k = 0; k < ca->nparams; k++) {
			same_text(&ca->params[k].name, &cb->params[k].name);
			same_text(&ca->params[k].value, &cb->params[k].value);
		}
		assert_int_equal(ca->ndparams, cb->ndparams);
		assert_int_equal(ca->nlanguages, cb->nlanguages);
		assert_int_equal(ca->defaulted, cb->defaulted);
	}
}

struct file_case {
	const char *name;
	const char *table;
};

static const struct file_case file_cases[] = {
	{ "plain.eml", "|0|1|0+489|489+105|6|0/13/19" },
	{ "rfc3501.eml",
	  "|1|1|0+350|350+5935|107|0/9/116 "
	  "1|0|0|362+2|364+1152|23|10/11/34 "
	  "2|0|0|1530+185|1715+4554|73|36/41/114" },
	{ "rfc822-attach.eml",
	  "|1|1|0+232|232+723|34|0/8/42 "
	  "1|0|0|239+28|267+27|0|9/11/11 "
	  "2|2|0|303+87|390+403|16|13/16/32 "
	  "2|1|1|390+236|626+167|8|16/24/32 "
	  "2.1|0|0|635+46|681+19|0|25/27/27 "
	  "2.2|0|0|711+45|756+26|0|29/31/31 "
	  "3|2|0|802+32|834+110|4|34/36/40 "
	  "3.1|0|1|834+92|926+18|0|36/40/40" },
	{ "alt-in-mixed.eml",
	  "|1|1|0+235|235+822|29|0/8/37 "
	  "1|1|0|246+57|303+378|14|9/11/25 "
	  "1.1|0|0|312+103|415+32|0|12/16/16 "
	  "1.2|0|0|458+103|561+107|1|18/22/23 "
	  "2|0|0|694+230|924+118|1|27/34/35" },
	{ "bad-boundary.eml",
	  "|1|1|0+107|107+422|18|0/4/22 "
	  "1|0|0|156+28|184+91|2|6/8/10 "
	  "2|1|0|291+59|350+88|3|12/14/17 "
	  "2.1|0|0|361+28|389+49|0|15/17/17 "
	  "3|0|0|451+28|479+50|1|19/21/22" },
	{ "binary-nul.eml",
	  "|1|1|0+136|136+425|15|0/6/18 "
	  "1|0|0|143+28|171+13|0|7/9/9 "
	  "2|0|0|193+77|270+280|5|11/14/16" },
	{ "digest.eml",
	  "|1|1|0+93|93+166|17|0/4/21 "
	  "1|2|0|99+2|101+44|3|5/6/9 "
	  "1.1|0|1|101+41|142+3|0|6/9/9 "
	  "2|2|0|153+2|155+45|3|11/12/15 "
	  "2.1|0|1|155+42|197+3|0|12/15/15 "
	  "3|0|0|208+28|236+13|0|17/19/19" },
	{ "deep.eml",
	  "|1|1|0+89|89+323|22|0/4/26 "
	  "1|1|0|95+48|143+259|17|5/7/24 "
	  "1.1|1|0|149+52|201+193|13|8/10/23 "
	  "1.1.1|2|0|207+32|239+147|9|11/13/22 "
	  "1.1.1|1|1|239+67|306+80|6|13/16/22 "
	  "1.1.1.1|2|0|312+32|344+34|2|17/19/21 "
	  "1.1.1.1.1|0|1|344+22|366+12|0|19/21/21" },
	{ "no-blank.eml", "|0|11|0+39|39+0|0|0/1/1" },
	{ "missing-headers.eml", "|0|1|0+62|62+11|1|0/5/6" },
	{ "mixed-attach.eml",
	  "|1|1|0+453|453+1051|25|0/13/38 "
	  "1|0|0|537+88|625+86|4|16/19/23 "
	  "2|0|0|749+191|940+524|6|25/30/36" },
	{ "encoded-words.eml",
	  "|1|1|0+384|384+450|18|0/10/28 "
	  "1|0|0|390+143|533+20|0|11/15/15 "
	  "2|0|0|561+255|816+8|0|17/26/26" },
	{ "iso2022jp.eml", "|0|1|0+259|259+37|2|0/9/11" },
	{ "groups.eml", "|0|1|0+632|632+7|1|0/14/15" },
};

#define NFILES (sizeof(file_cases) / sizeof(file_cases[0]))

static void
test_files_table(void **state)
{
	struct str msg = STR_INIT, got = STR_INIT;
	struct mime_parser *p;
	size_t k;

	(void)state;
	for (k = 0; k < NFILES; k++) {
		read_msg(file_cases[k].name, &msg);
		p = parse(msg.s, msg.len, NOCHUNK);
		render(p, 1, &got);
		if (strcmp(str_cstr(&got), file_cases[k].table) != 0)
			fail_msg("%s:\n got  %s\n want %s", file_cases[k].name,
			    str_cstr(&got), file_cases[k].table);
		mime_parser_free(&p);
		assert_null(p);
	}
	str_free(&msg);
	str_free(&got);
}

/* Whole, byte by byte, and odd chunk sizes: the same result. */
static void
test_files_chunks(void **state)
{
	static const size_t chunks[] = { 1, 2, 3, 7, 64, 1000 };
	struct str msg = STR_INIT;
	struct mime_parser *whole, *p;
	size_t k, c;

	(void)state;
	for (k = 0; k < NFILES; k++) {
		read_msg(file_cases[k].name, &msg);
		whole = parse(msg.s, msg.len, NOCHUNK);
		for (c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
			p = parse(msg.s, msg.len, chunks[c]);
			same_parse(whole, p);
			mime_parser_free(&p);
		}
		mime_parser_free(&whole);
	}
	str_free(&msg);
}

/* With LF line ends the offsets are the CRLF ones less the CRLF pairs. */
static void
test_files_lf(void **state)
{
	struct str msg = STR_INIT, lf = STR_INIT;
	struct mime_parser *a, *b;
	const struct mime_part *pa, *pb;
	size_t k, i;

	(void)state;
	for (k = 0; k < NFILES; k++) {
		read_msg(file_cases[k].name, &msg);
		str_clear(&lf);
		for (i = 0; i < msg.len; i++)
			if (!(msg.s[i] == '\r' && i + 1 < msg.len &&
			    msg.s[i + 1] == '\n'))
				assert_int_equal(str_appendc(&lf, msg.s[i]), 0);
		a = parse(msg.s, msg.len, NOCHUNK);
		b = parse(lf.s, lf.len, 5);
		assert_int_equal(mime_part_count(a), mime_part_count(b));
		for (i = 0; i < mime_part_count(a); i++) {
			pa = mime_part_get(a, i);
			pb = mime_part_get(b, i);
			assert_string_equal(pa->section, pb->section);
			assert_int_equal(pa->kind, pb->kind);
			assert_int_equal(pa->hdr_off - pa->hdr_crlf,
			    pb->hdr_off);
			assert_int_equal(pa->body_off - pa->body_crlf,
			    pb->body_off);
			assert_int_equal(pa->body_size - (pa->end_crlf -
			    pa->body_crlf), pb->body_size);
			assert_int_equal(pa->body_lines, pb->body_lines);
		}
		mime_parser_free(&a);
		mime_parser_free(&b);
	}
	str_free(&msg);
	str_free(&lf);
}

static void
assert_bytes(const struct str *msg, uint64_t off, uint64_t n,
    const char *want)
{
	assert_true(off + n <= msg->len);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(msg->s + off, want, n);
}

static void
test_files_bytes(void **state)
{
	struct str msg = STR_INIT;
	struct mime_parser *p;
	const struct mime_part *m;

	(void)state;
	read_msg("rfc822-attach.eml", &msg);
	p = parse(msg.s, msg.len, 1);
	m = mime_part_get(p, 1);
	assert_bytes(&msg, m->hdr_off, m->hdr_size,
	    "Content-Type: text/plain\r\n\r\n");
	assert_bytes(&msg, m->body_off, m->body_size,
	    "See the two messages below.");
	m = mime_part_get(p, 4);
	assert_bytes(&msg, m->body_off, m->body_size, "The results are in.");
	m = mime_part_get(p, 7);
	assert_bytes(&msg, m->hdr_off, m->hdr_size,
	    "From: Judy <judy@other.example>\r\nSubject: Short note\r\n"
	    "Message-ID: <note-2@other.example>\r\n\r\n");
	assert_bytes(&msg, m->body_off, m->body_size,
	    "Just a short note.");
	m = mime_part_get(p, 6);
	assert_int_equal(m->body_off, mime_part_get(p, 7)->hdr_off);
	assert_int_equal(m->body_off + m->body_size,
	    mime_part_get(p, 7)->body_off + mime_part_get(p, 7)->body_size);
	mime_parser_free(&p);

	read_msg("bad-boundary.eml", &msg);
	p = parse(msg.s, msg.len, 3);
	m = mime_part_get(p, 1);
	assert_bytes(&msg, m->body_off, m->body_size,
	    "line with --=_outer inside\r\n--=_outerX is not a boundary\r\n"
	    "--=_outer--x is not a closing one");
	m = mime_part_get(p, 4);
	assert_bytes(&msg, m->body_off, m->body_size,
	    "last part, the outer closing boundary is missing\r\n");
	mime_parser_free(&p);
	str_free(&msg);
}

/* Small messages: table-driven, rendered without the CRLF counts. */
struct msg_case {
	const char *name;
	const char *in;
	const char *table;
};

static const struct msg_case msg_cases[] = {
	{ "empty", "", "|0|11|0+0|0+0|0" },
	{ "blank only", "\r\n", "|0|1|0+2|2+0|0" },
	{ "bare LF", "A: b\n\nx\ny", "|0|1|0+6|6+3|1" },
	{ "no line end", "Subject: x", "|0|11|0+10|10+0|0" },
	{ "bare CR is data", "A: b\r\rC: d\r\n\r\nx\ry\rz",
	  "|0|1|0+14|14+5|0" },
	{ "CR at the end", "A: b\r\n\r\nx\r", "|0|1|0+8|8+2|0" },
	{ "simple multipart",
	  "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	  "--b\r\n\r\nx\r\n--b--\r\n",
	  "|1|1|0+45|45+17|4 1|0|0|50+2|52+1|0" },
	{ "LF multipart",
	  "Content-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n--b--\n",
	  "|1|1|0+43|43+13|4 1|0|0|47+1|48+1|0" },
	{ "missing closing boundary",
	  "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	  "--b\r\n\r\nx\r\n",
	  "|1|1|0+45|45+10|3 1|0|0|50+2|52+3|1" },
	{ "boundary inside a line",
	  "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	  "--b\r\n\r\nx --b\r\n --b\r\n--b--\r\n",
	  "|1|1|0+45|45+27|5 1|0|0|50+2|52+11|1" },
	{ "transport padding",
	  "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	  "--b \t\r\n\r\nx\r\n--b-- \r\nepilogue",
	  "|1|1|0+45|45+28|4 1|0|0|52+2|54+1|0" },
	{ "closing boundary at the end",
	  "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	  "--b\r\n\r\nx\r\n--b--",
	  "|1|1|0+45|45+15|3 1|0|0|50+2|52+1|0" },
	{ "open boundary at the end",
	  "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	  "--b\r\n\r\nx\r\n--b",
	  "|1|1|0+45|45+13|3 1|0|0|50+2|52+1|0 2|0|10|58+0|58+0|0" },
	{ "empty parts",
	  "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	  "--b\r\n--b\r\n\r\n--b--\r\n",
	  "|1|1|0+45|45+19|4 1|0|10|50+0|50+0|0 2|0|0|55+2|57+0|0" },
	{ "part header cut by a boundary",
	  "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	  "--b\r\nContent-Type: text/html\r\n--b--\r\n",
	  "|1|1|0+45|45+37|3 1|0|10|50+23|73+0|0" },
	{ "no boundary parameter",
	  "Content-Type: multipart/mixed\r\n\r\n--b\r\nx\r\n--b--\r\n",
	  "|0|3|0+33|33+15|3" },
	{ "no part at all",
	  "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	  "just text\r\n--c--\r\n",
	  "|0|3|0+45|45+18|2" },
	{ "empty boundary",
	  "Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n",
	  "|0|3|0+46|46+4|1" },
	{ "boundary is a prefix of another",
	  "Content-Type: multipart/mixed; boundary=ab\r\n\r\n"
	  "--ab\r\nContent-Type: multipart/mixed; boundary=abc\r\n\r\n"
	  "--abc\r\n\r\nx\r\n--ab\r\n\r\ny\r\n--ab--\r\n",
	  "|1|1|0+46|46+84|10 1|1|0|52+47|99+10|2 1.1|0|0|106+2|108+1|0 "
	  "2|0|0|117+2|119+1|0" },
	{ "message/rfc822 in base64",
	  "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
	  "Content-Type: message/rfc822\r\n"
	  "Content-Transfer-Encoding: base64\r\n\r\nU3ViamVjdDogeA==\r\n"
	  "--b--\r\n",
	  "|1|1|0+45|45+97|6 1|0|2|50+67|117+16|0" },
	{ "top-level message/rfc822, leaf inside",
	  "Content-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\nbody\r\n",
	  "|2|1|0+32|32+21|3 1.1|0|1|32+15|47+6|1" },
	{ "top-level message/rfc822, multipart inside",
	  "Content-Type: message/rfc822\r\n\r\n"
	  "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	  "--b\r\n\r\nx\r\n--b--\r\n",
	  "|2|1|0+32|32+62|6 1|1|1|32+45|77+17|4 1.1|0|0|82+2|84+1|0" },
	{ "message/rfc822 in message/rfc822",
	  "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
	  "Content-Type: message/rfc822\r\n\r\n"
	  "Content-Type: message/rfc822\r\n\r\nSubject: x\r\n\r\ny\r\n"
	  "--b--\r\n",
	  "|1|1|0+45|45+93|9 1|2|0|50+32|82+47|4 1.1|2|1|82+32|114+15|2 "
	  "1.1.1|0|1|114+14|128+1|0" },
	{ "a part opened right before the outer boundary",
	  "Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\n"
	  "Content-Type: multipart/mixed; boundary=i\r\n\r\n--i\r\n"
	  "--o--\r\n",
	  "|1|1|0+45|45+62|5 1|1|0|50+45|95+5|1 1.1|0|10|100+0|100+0|0" },
	{ "empty message/rfc822",
	  "Content-Type: message/rfc822\r\n\r\n",
	  "|2|1|0+32|32+0|0 1.1|0|11|32+0|32+0|0" },
	{ "continuation first, no colon",
	  " folded\r\nno colon here\r\nSubject: ok\r\n\r\nb",
	  "|0|1|0+39|39+1|0" },
	{ "whitespace-only line continues the header",
	  "A: b\r\n \r\nC: d\r\n\r\nx", "|0|1|0+17|17+1|0" },
};

static void
test_messages(void **state)
{
	struct str got = STR_INIT;
	struct mime_parser *a, *b;
	size_t k, bad = 0;

	(void)state;
	for (k = 0; k < sizeof(msg_cases) / sizeof(msg_cases[0]); k++) {
		const struct msg_case *c = &msg_cases[k];
		a = parse(c->in, strlen(c->in), NOCHUNK);
		b = parse(c->in, strlen(c->in), 1);
		same_parse(a, b);
		render(a, 0, &got);
		if (strcmp(str_cstr(&got), c->table) != 0) {
			print_error("%s:\n got  %s\n want %s\n", c->name,
			    str_cstr(&got), c->table);
			bad++;
		}
		mime_parser_free(&a);
		mime_parser_free(&b);
	}
	str_free(&got);
	assert_int_equal(bad, 0);
}

/* n levels of multipart, each in the one before, text at the bottom. */
static void
nested(struct str *m, unsigned levels)
{
	unsigned k;

	str_clear(m);
	for (k = 0; k < levels; k++)
		assert_int_equal(str_appendf(m, "Content-Type: multipart/mixed;"
		    " boundary=b%u\r\n\r\n--b%u\r\n", k, k), 0);
	assert_int_equal(str_appends(m,
	    "Content-Type: text/plain\r\n\r\ninnermost\r\n"), 0);
	for (k = levels; k-- > 0;)
		assert_int_equal(str_appendf(m, "--b%u--\r\n", k), 0);
}

static void
test_limit_depth(void **state)
{
	struct mime_limits lim = mime_limits_default();
	struct str m = STR_INIT, sec = STR_INIT;
	struct mime_parser *p, *q;
	const struct mime_part *last;
	size_t i;

	(void)state;
	nested(&m, 40);
	p = parse(m.s, m.len, NOCHUNK);
	assert_int_equal(mime_part_count(p), 33);
	for (i = 0; i < 33; i++) {
		assert_int_equal(mime_part_get(p, i)->depth, i);
		assert_int_equal(mime_part_get(p, i)->kind, i < 32 ?
		    MIME_KIND_MULTIPART : MIME_KIND_LEAF);
	}
	last = mime_part_get(p, 32);
	assert_true(last->flags & MIME_PART_F_OPAQUE);
	for (i = 0; i < 32; i++)
		assert_int_equal(str_appends(&sec, i ? ".1" : "1"), 0);
	assert_string_equal(last->section, sec.s);
	assert_string_equal(mime_part_content(p, 32)->type.s, "text");
	/* the opaque part runs to the boundary of its parent */
	assert_int_equal(last->body_off + last->body_size + 2,
	    (size_t)(strstr(m.s, "--b31--") - m.s));
	assert_true(mime_parser_memory(p) < 64 * 1024);
	q = parse(m.s, m.len, 1);
	same_parse(p, q);
	mime_parser_free(&q);
	mime_parser_free(&p);

	lim.max_depth = 2;
	p = parse_lim(m.s, m.len, NOCHUNK, &lim);
	assert_int_equal(mime_part_count(p), 3);
	assert_true(mime_part_get(p, 2)->flags & MIME_PART_F_OPAQUE);
	mime_parser_free(&p);
	lim.max_depth = 0;
	p = parse_lim(m.s, m.len, NOCHUNK, &lim);
	assert_int_equal(mime_part_count(p), 1);
	assert_int_equal(mime_part_get(p, 0)->flags,
	    MIME_PART_F_MESSAGE | MIME_PART_F_OPAQUE);
	mime_parser_free(&p);
	str_free(&m);
	str_free(&sec);
}

static void
many_parts(struct str *m, unsigned n)
{
	unsigned k;

	str_clear(m);
	assert_int_equal(str_appends(m,
	    "Content-Type: multipart/mixed; boundary=p\r\n\r\n"), 0);
	for (k = 0; k < n; k++)
		assert_int_equal(str_appendf(m, "--p\r\nContent-Type: "
		    "text/plain\r\nContent-ID: <%u@x>\r\n\r\npart %u\r\n", k,
		    k), 0);
	assert_int_equal(str_appends(m, "--p--\r\n"), 0);
}

static void
test_limit_parts(void **state)
{
	struct mime_limits lim = mime_limits_default();
	struct str m = STR_INIT;
	struct mime_parser *p;
	size_t mem2000;
	const char *rfc822 =
	    "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
	    "Content-Type: message/rfc822\r\n\r\nSubject: x\r\n\r\ny\r\n"
	    "--b--\r\n";

	(void)state;
	many_parts(&m, 2000);
	p = parse(m.s, m.len, 4096);
	assert_int_equal(mime_part_count(p), 1000);
	assert_true(mime_part_get(p, 0)->flags & MIME_PART_F_TRUNCATED);
	assert_int_equal(mime_part_get(p, 0)->next, 1000);
	assert_string_equal(mime_part_get(p, 999)->section, "999");
	assert_int_equal(mime_part_get(p, 999)->body_size, strlen("part 998"));
	assert_int_equal(mime_part_get(p, 0)->body_off +
	    mime_part_get(p, 0)->body_size, m.len);
	mem2000 = mime_parser_memory(p);
	mime_parser_free(&p);
	/* ten times the parts, the same memory */
	many_parts(&m, 20000);
	p = parse(m.s, m.len, 65536);
	assert_int_equal(mime_part_count(p), 1000);
	assert_true(mime_parser_memory(p) <= mem2000 + 1024);
	assert_true(mime_parser_memory(p) < 2 * 1024 * 1024);
	mime_parser_free(&p);

	lim.max_parts = 3;
	many_parts(&m, 5);
	p = parse_lim(m.s, m.len, 1, &lim);
	assert_int_equal(mime_part_count(p), 3);
	assert_true(mime_part_get(p, 0)->flags & MIME_PART_F_TRUNCATED);
	mime_parser_free(&p);
	/* a message/rfc822 with no room for its message is opaque */
	lim.max_parts = 2;
	p = parse_lim(rfc822, strlen(rfc822), NOCHUNK, &lim);
	assert_int_equal(mime_part_count(p), 2);
	assert_int_equal(mime_part_get(p, 1)->kind, MIME_KIND_LEAF);
	assert_true(mime_part_get(p, 1)->flags & MIME_PART_F_OPAQUE);
	mime_parser_free(&p);
	lim.max_parts = 0;	/* clamped to 1 */
	p = parse_lim(rfc822, strlen(rfc822), NOCHUNK, &lim);
	assert_int_equal(mime_part_count(p), 1);
	assert_true(mime_part_get(p, 0)->flags & MIME_PART_F_OPAQUE);
	mime_parser_free(&p);
	str_free(&m);
}

/* Feed m in chunks, checking the parser's memory after each. */
static struct mime_parser *
parse_bounded(const struct str *m, size_t chunk, size_t maxmem)
{
	struct mime_parser *p = mime_parser_new(NULL);
	size_t i, k;

	assert_non_null(p);
	for (i = 0; i < m->len; i += k) {
		k = m->len - i < chunk ? m->len - i : chunk;
		assert_int_equal(mime_parser_feed(p, m->s + i, k), 0);
		assert_true(mime_parser_memory(p) < maxmem);
	}
	assert_int_equal(mime_parser_finish(p), 0);
	assert_true(mime_parser_memory(p) < maxmem);
	return p;
}

static void
test_limit_header(void **state)
{
	struct mime_limits lim = mime_limits_default();
	struct str m = STR_INIT;
	struct mime_parser *p;
	const struct mime_text *t;
	size_t k;

	(void)state;
	assert_int_equal(str_appends(&m, "Subject: "), 0);
	for (k = 0; k < 1024 * 1024; k++)
		assert_int_equal(str_appendc(&m, (char)('a' + k % 26)), 0);
	assert_int_equal(str_appends(&m, "\r\n continued\r\nFrom: a@b.c\r\n"
	    "\r\nbody\r\n"), 0);
	p = parse_bounded(&m, 4096, 48 * 1024);
	t = mime_part_header(p, 0, MIME_HDR_SUBJECT);
	assert_non_null(t);
	assert_int_equal(t->n, 8192 - strlen("Subject: "));
	assert_memory_equal(t->s, "abcdefg", 7);
	assert_non_null(mime_part_header(p, 0, MIME_HDR_FROM));
	assert_true(mime_part_get(p, 0)->flags & MIME_PART_F_HDR_CUT);
	assert_int_equal(mime_part_get(p, 0)->body_size, 6);
	assert_int_equal(mime_part_get(p, 0)->hdr_size, m.len - 6);
	mime_parser_free(&p);

	/* a huge header of small fields, and a 1 MB line in a body */
	str_clear(&m);
	for (k = 0; k < 100000; k++)
		assert_int_equal(str_appendf(&m, "X-F%zu: v\r\n", k), 0);
	assert_int_equal(str_appends(&m, "Content-Type: multipart/mixed; "
	    "boundary=z\r\n\r\n--z\r\n\r\n--"), 0);
	for (k = 0; k < 1024 * 1024; k++)
		assert_int_equal(str_appendc(&m, k % 7 ? '-' : ' '), 0);
	assert_int_equal(str_appends(&m, "\r\n--z--\r\n"), 0);
	p = parse_bounded(&m, 65536, 48 * 1024);
	assert_int_equal(mime_part_count(p), 2);
	assert_int_equal(mime_part_get(p, 1)->body_size, 1024 * 1024 + 2);
	mime_parser_free(&p);

	/* the per-part maximum of kept bytes */
	lim.max_header = 9;
	str_clear(&m);
	assert_int_equal(str_appends(&m, "Subject: 12345\r\nFrom: a@b.cd\r\n"
	    "To: x@y.z\r\n\r\n"), 0);
	p = parse_lim(m.s, m.len, NOCHUNK, &lim);
	assert_non_null(mime_part_header(p, 0, MIME_HDR_SUBJECT));
	assert_null(mime_part_header(p, 0, MIME_HDR_FROM));
	assert_null(mime_part_header(p, 0, MIME_HDR_TO));
	assert_true(mime_part_get(p, 0)->flags & MIME_PART_F_HDR_CUT);
	mime_parser_free(&p);
	lim = mime_limits_default();
	lim.max_total = 10;	/* a field too big does not stop a smaller */
	p = parse_lim(m.s, m.len, NOCHUNK, &lim);
	assert_null(mime_part_header(p, 0, MIME_HDR_FROM));
	assert_non_null(mime_part_header(p, 0, MIME_HDR_TO));
	mime_parser_free(&p);
	str_free(&m);
}

static void
test_limit_body(void **state)
{
	struct str m = STR_INIT;
	struct mime_parser *p;
	size_t k;

	(void)state;
	assert_int_equal(str_appends(&m, "Content-Type: multipart/mixed; "
	    "boundary=q\r\n\r\n--q\r\nContent-Type: application/octet-stream"
	    "\r\n\r\n"), 0);
	for (k = 0; k < 8 * 1024 * 1024; k++)
		assert_int_equal(str_appendc(&m, (char)(k * 7919 >> 3)), 0);
	assert_int_equal(str_appends(&m, "\r\n--q--\r\n"), 0);
	p = parse_bounded(&m, 65536, 32 * 1024);
	assert_int_equal(mime_part_count(p), 2);
	assert_int_equal(mime_part_get(p, 1)->body_size, 8 * 1024 * 1024);
	mime_parser_free(&p);
	str_free(&m);
}

static void
boundary_msg(struct str *m, size_t blen)
{
	size_t k;

	str_clear(m);
	assert_int_equal(str_appends(m, "Content-Type: multipart/mixed; "
	    "boundary=\""), 0);
	for (k = 0; k < blen; k++)
		assert_int_equal(str_appendc(m, (char)('a' + k % 26)), 0);
	assert_int_equal(str_appends(m, "\"\r\n\r\n--"), 0);
	for (k = 0; k < blen; k++)
		assert_int_equal(str_appendc(m, (char)('a' + k % 26)), 0);
	assert_int_equal(str_appends(m, "\r\n\r\nx\r\n"), 0);
}

static void
test_limit_boundary(void **state)
{
	static const struct {
		size_t blen, max;
		size_t count;
	} cases[] = {
		{ 1, 0, 2 }, { 70, 0, 2 }, { 71, 0, 2 }, { 150, 0, 2 },
		{ 200, 0, 2 }, { 201, 0, 1 }, { 500, 0, 1 }, { 70, 70, 2 },
		{ 71, 70, 1 }, { 200, 1000, 2 }, { 201, 1000, 1 },
	};
	struct mime_limits lim;
	struct str m = STR_INIT;
	struct mime_parser *p, *q;
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		lim = mime_limits_default();
		if (cases[k].max)
			lim.max_boundary = cases[k].max;
		boundary_msg(&m, cases[k].blen);
		p = parse_lim(m.s, m.len, NOCHUNK, &lim);
		q = parse_lim(m.s, m.len, 1, &lim);
		same_parse(p, q);
		assert_int_equal(mime_part_count(p), cases[k].count);
		assert_int_equal(mime_part_get(p, 0)->flags &
		    MIME_PART_F_OPAQUE, cases[k].count == 1 ?
		    MIME_PART_F_OPAQUE : 0);
		mime_parser_free(&p);
		mime_parser_free(&q);
	}
	str_free(&m);
}

/* Content-Type as "type/subtype;name=value..." and "[d]" when defaulted. */
static void
render_ct(const struct mime_content *ct, struct str *out)
{
	size_t k;

	str_clear(out);
	assert_int_equal(str_appendf(out, "%s/%s", ct->type.s, ct->subtype.s),
	    0);
	for (k = 0; k < ct->nparams; k++)
		assert_int_equal(str_appendf(out, ";%s=%s",
		    ct->params[k].name.s, ct->params[k].value.s), 0);
	if (ct->defaulted)
		assert_int_equal(str_appends(out, "[d]"), 0);
}

struct ct_case {
	const char *in;
	const char *want;
};

static const struct ct_case ct_cases[] = {
	{ "text/plain", "text/plain" },
	{ "TEXT/HTML; CHARSET=\"UTF-8\"", "TEXT/HTML;CHARSET=UTF-8" },
	{ "text/plain (c); charset=(c) \"utf-8\" (more); format=flowed",
	  "text/plain;charset=utf-8;format=flowed" },
	{ " text / plain ;charset = a", "text/plain;charset=a" },
	{ "application/x; name=a/b.txt", "application/x;name=a/b.txt" },
	{ "text/plain; =x; charset=utf-8", "text/plain;charset=utf-8" },
	{ "text/plain; charset", "text/plain" },
	{ "text/plain; junk \"a;b\" (c;d); k=v", "text/plain;k=v" },
	{ "text/plain;; ;charset=a;", "text/plain;charset=a" },
	{ "a/b; q=\"a\\\"b\"", "a/b;q=a\"b" },
	{ "a/b; e=", "a/b;e=" },
	{ "text", "text/plain;charset=US-ASCII[d]" },
	{ "text/", "text/plain;charset=US-ASCII[d]" },
	{ "/plain", "text/plain;charset=US-ASCII[d]" },
	{ "", "text/plain;charset=US-ASCII[d]" },
	{ "text/plain/x", "text/plain" },
	/* RFC 2231 */
	{ "a/b; name*1=\"b\"; name*0=a", "a/b;name=ab" },
	{ "a/b; name*0=a; name*2=c", "a/b;name=a" },
	{ "a/b; name*1=x", "a/b" },
	{ "a/b; name*0=a; name*0=z; name*1=b", "a/b;name=ab" },
	{ "a/b; NAME*0=a; name*1=b", "a/b;NAME=ab" },
	{ "a/b; name*=utf-8''%41", "a/b;name*=utf-8''%41" },
	{ "a/b; name*0*=utf-8''%41; name*1*=%42", "a/b;name*=utf-8''%41%42" },
	{ "a/b; name*0*=us-ascii''a; name*1=\"b c%\"",
	  "a/b;name*=us-ascii''ab%20c%25" },
	{ "a/b; n*0=a; x=y; n*1=b", "a/b;n=ab;x=y" },
	{ "a/b; name*00=a", "a/b;name=a" },
	{ "a/b; name*1234=a", "a/b;name*1234=a" },
	{ "a/b; name*x=a", "a/b;name*x=a" },
	{ "a/b; *0=a", "a/b;*0=a" },
	{ "a/b; n*0*=x; n=plain", "a/b;n*=x;n=plain" },
};

static void
test_content_type(void **state)
{
	struct str m = STR_INIT, got = STR_INIT;
	struct mime_parser *p;
	size_t k, bad = 0;

	(void)state;
	for (k = 0; k < sizeof(ct_cases) / sizeof(ct_cases[0]); k++) {
		str_clear(&m);
		assert_int_equal(str_appendf(&m, "Content-Type: %s\r\n\r\n",
		    ct_cases[k].in), 0);
		p = parse(m.s, m.len, NOCHUNK);
		render_ct(mime_part_content(p, 0), &got);
		if (strcmp(got.s, ct_cases[k].want) != 0) {
			print_error("\"%s\": got \"%s\", want \"%s\"\n",
			    ct_cases[k].in, got.s, ct_cases[k].want);
			bad++;
		}
		mime_parser_free(&p);
	}
	/* at most MIME_PARAMS_MAX parameters */
	str_clear(&m);
	assert_int_equal(str_appends(&m, "Content-Type: a/b"), 0);
	for (k = 0; k < 100; k++)
		assert_int_equal(str_appendf(&m, "; p%zu=v", k), 0);
	assert_int_equal(str_appends(&m, "\r\n\r\n"), 0);
	p = parse(m.s, m.len, NOCHUNK);
	assert_int_equal(mime_part_content(p, 0)->nparams, MIME_PARAMS_MAX);
	mime_parser_free(&p);
	str_free(&m);
	str_free(&got);
	assert_int_equal(bad, 0);
}

static void
test_content_fields(void **state)
{
	const char *m =
	    "Content-Type: multipart/digest; boundary=d\r\n"
	    "Content-Disposition: attachment; filename*0=\"a b\"; "
	    "filename*1=\".txt\"\r\n"
	    "Content-Language: en, (c) de-DE ,fr\r\n"
	    "Content-Transfer-Encoding:  Base64 (comment)\r\n\r\n"
	    "--d\r\n\r\nSubject: inner\r\n\r\nx\r\n"
	    "--d\r\nContent-Type: bogus\r\n\r\ny\r\n"
	    "--d\r\nContent-Disposition: ;x=y\r\nContent-Language: ,\r\n"
	    "Content-Transfer-Encoding: (only a comment)\r\n\r\nz\r\n--d--\r\n";
	struct mime_parser *p;
	const struct mime_content *ct;

	(void)state;
	p = parse(m, strlen(m), 1);
	ct = mime_part_content(p, 0);
	assert_string_equal(ct->disposition.s, "attachment");
	assert_int_equal(ct->ndparams, 1);
	assert_string_equal(ct->dparams[0].name.s, "filename");
	assert_string_equal(ct->dparams[0].value.s, "a b.txt");
	assert_int_equal(ct->nlanguages, 3);
	assert_string_equal(ct->languages[0].s, "en");
	assert_string_equal(ct->languages[1].s, "de-DE");
	assert_string_equal(ct->languages[2].s, "fr");
	assert_string_equal(ct->encoding.s, "Base64");
	assert_int_equal(ct->defaulted, 0);
	/* in a digest, the default is message/rfc822 */
	assert_int_equal(mime_part_count(p), 6);
	ct = mime_part_content(p, 1);
	assert_string_equal(ct->type.s, "message");
	assert_string_equal(ct->subtype.s, "rfc822");
	assert_int_equal(ct->nparams, 0);
	assert_int_equal(ct->defaulted, 1);
	assert_int_equal(mime_part_get(p, 1)->kind, MIME_KIND_MESSAGE);
	assert_string_equal(mime_part_header(p, 2, MIME_HDR_SUBJECT)->s,
	    "inner");
	/* but an invalid Content-Type is text/plain */
	ct = mime_part_content(p, 3);
	assert_string_equal(ct->type.s, "text");
	assert_int_equal(ct->defaulted, 1);
	/* empty or broken fields count as absent */
	ct = mime_part_content(p, 4);
	assert_int_equal(mime_part_get(p, 4)->kind, MIME_KIND_MESSAGE);
	assert_null(ct->disposition.s);
	assert_int_equal(ct->nlanguages, 0);
	assert_null(ct->encoding.s);
	mime_parser_free(&p);
}

static void
test_headers(void **state)
{
	const char *m =
	    "subject: first\r\n  line \r\nSubject: second\r\n"
	    "Message-ID:<id@x>\r\nTo:\r\n"
	    "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	    "--b\r\nSubject: part\r\nContent-ID: <cid>\r\n"
	    "Content-Description: \tdesc\r\n\r\nx\r\n--b--\r\n";
	struct mime_parser *p;
	const struct mime_text *t;

	(void)state;
	p = parse(m, strlen(m), 2);
	t = mime_part_header(p, 0, MIME_HDR_SUBJECT);
	assert_non_null(t);
	assert_int_equal(t->n, strlen("first  line"));
	assert_string_equal(t->s, "first  line");
	assert_string_equal(mime_part_header(p, 0, MIME_HDR_MESSAGE_ID)->s,
	    "<id@x>");
	t = mime_part_header(p, 0, MIME_HDR_TO);
	assert_non_null(t);
	assert_int_equal(t->n, 0);
	assert_null(mime_part_header(p, 0, MIME_HDR_DATE));
	assert_null(mime_part_header(p, 1, MIME_HDR_SUBJECT));
	assert_string_equal(mime_part_header(p, 1, MIME_HDR_CONTENT_ID)->s,
	    "<cid>");
	assert_string_equal(mime_part_header(p, 1,
	    MIME_HDR_CONTENT_DESCRIPTION)->s, "desc");
	assert_null(mime_part_header(p, 2, MIME_HDR_SUBJECT));
	assert_null(mime_part_header(p, 0, MIME_HDR_COUNT));
	assert_null(mime_part_content(p, 2));
	assert_null(mime_part_get(p, 2));
	assert_non_null(mime_parts(p));
	mime_parser_free(&p);
}

static void
test_sections(void **state)
{
	static const struct {
		const char *file, *section;
		int idx;
	} cases[] = {
		{ "rfc822-attach.eml", "", 0 },
		{ "rfc822-attach.eml", "1", 1 },
		{ "rfc822-attach.eml", "2", 2 },
		{ "rfc822-attach.eml", "2.1", 4 },
		{ "rfc822-attach.eml", "2.2", 5 },
		{ "rfc822-attach.eml", "3", 6 },
		{ "rfc822-attach.eml", "3.1", 7 },
		{ "rfc822-attach.eml", "3.2", -1 },
		{ "rfc822-attach.eml", "4", -1 },
		{ "rfc822-attach.eml", "2.1.1", -1 },
		{ "rfc822-attach.eml", "0", -1 },
		{ "plain.eml", "", 0 },
		{ "plain.eml", "1", 0 },
		{ "plain.eml", "2", -1 },
		{ "plain.eml", "1.1", -1 },
		{ "deep.eml", "1.1.1", 3 },
		{ "deep.eml", "1.1.1.1", 5 },
		{ "deep.eml", "1.1.1.1.1", 6 },
		{ "digest.eml", "1.1", 2 },
		{ "alt-in-mixed.eml", "1", 1 },
		{ "alt-in-mixed.eml", "1.2", 3 },
	};
	struct str msg = STR_INIT;
	struct mime_parser *p;
	size_t k, idx;

	(void)state;
	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		read_msg(cases[k].file, &msg);
		p = parse(msg.s, msg.len, NOCHUNK);
		idx = 12345;
		if (cases[k].idx < 0) {
			errno = 0;
			assert_int_equal(mime_section_find(mime_parts(p),
			    mime_part_count(p), cases[k].section, &idx), -1);
			assert_int_equal(errno, ENOENT);
			assert_int_equal(idx, 12345);
		} else {
			assert_int_equal(mime_section_find(mime_parts(p),
			    mime_part_count(p), cases[k].section, &idx), 0);
			assert_int_equal(idx, cases[k].idx);
		}
		mime_parser_free(&p);
	}
	str_free(&msg);
}

static void
test_top_level_rfc822_sections(void **state)
{
	const char *leaf = "Content-Type: message/rfc822\r\n\r\n"
	    "Subject: in\r\n\r\nbody\r\n";
	const char *multi = "Content-Type: message/rfc822\r\n\r\n"
	    "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	    "--b\r\n\r\nx\r\n--b--\r\n";
	struct mime_parser *p;
	size_t idx;

	(void)state;
	p = parse(leaf, strlen(leaf), NOCHUNK);
	assert_int_equal(mime_section_find(mime_parts(p), mime_part_count(p),
	    "1", &idx), 0);
	assert_int_equal(idx, 0);
	assert_int_equal(mime_section_find(mime_parts(p), mime_part_count(p),
	    "1.1", &idx), 0);
	assert_int_equal(idx, 1);
	mime_parser_free(&p);
	p = parse(multi, strlen(multi), NOCHUNK);
	assert_int_equal(mime_section_find(mime_parts(p), mime_part_count(p),
	    "1", &idx), 0);
	assert_int_equal(idx, 0);
	assert_int_equal(mime_section_find(mime_parts(p), mime_part_count(p),
	    "1.1", &idx), 0);
	assert_int_equal(idx, 2);
	mime_parser_free(&p);
}

static void
test_api(void **state)
{
	struct mime_limits lim = mime_limits_default();
	struct mime_parser *p = NULL;

	(void)state;
	assert_int_equal(lim.max_depth, 32);
	assert_int_equal(lim.max_parts, 1000);
	assert_int_equal(lim.max_field, 8192);
	assert_int_equal(lim.max_header, 65536);
	assert_int_equal(lim.max_boundary, 200);
	mime_parser_free(&p);
	p = mime_parser_new(NULL);
	assert_non_null(p);
	assert_int_equal(mime_part_count(p), 1);
	assert_int_equal(mime_parser_feed(p, "", 0), 0);
	assert_int_equal(mime_parser_feed(p, "A: b\r\n", 6), 0);
	assert_int_equal(mime_part_get(p, 0)->hdr_off, 0);
	assert_int_equal(mime_parser_finish(p), 0);
	errno = 0;
	assert_int_equal(mime_parser_feed(p, "x", 1), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(mime_parser_finish(p), -1);
	assert_int_equal(errno, EINVAL);
	mime_parser_free(&p);
	assert_null(p);

	lim.max_depth = 100000;
	lim.max_boundary = 100000;
	p = mime_parser_new(&lim);
	assert_non_null(p);
	mime_parser_free(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_files_table),
		cmocka_unit_test(test_files_chunks),
		cmocka_unit_test(test_files_lf),
		cmocka_unit_test(test_files_bytes),
		cmocka_unit_test(test_messages),
		cmocka_unit_test(test_limit_depth),
		cmocka_unit_test(test_limit_parts),
		cmocka_unit_test(test_limit_header),
		cmocka_unit_test(test_limit_body),
		cmocka_unit_test(test_limit_boundary),
		cmocka_unit_test(test_content_type),
		cmocka_unit_test(test_content_fields),
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_sections),
		cmocka_unit_test(test_top_level_rfc822_sections),
		cmocka_unit_test(test_api),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
