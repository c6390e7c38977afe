/* SPDX-License-Identifier: ISC */
/* Unit tests for lib/mime7: exact converted copies, refusals, and the same
 * result whatever the read size. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "b64.h"
#include "mime.h"
#include "mime7.h"
#include "qp.h"
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
	{ "8bit field replaced, LF line ends made CRLF",
	  "From: a@b\nContent-Transfer-Encoding: 8bit\nContent-Type: "
	  "text/plain;\n charset=utf-8\n\n\xe2\x82\xac\n", 1,
	  "From: a@b\r\nContent-Type: text/plain;\r\n charset=utf-8\r\n"
	  "Content-Transfer-Encoding: quoted-printable\r\n\r\n=E2=82=AC\r\n" },
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
	{ "8-bit Subject encoded",
	  "From: a@b\r\nSubject: caf\xc3\xa9\r\n\r\nplain\r\n", 1,
	  "From: a@b\r\nSubject: =?UTF-8?Q?caf=C3=A9?=\r\n\r\nplain\r\n" },
	{ "8-bit part header encoded",
	  "Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\n"
	  "Content-Description: \xc3\xa9\r\n\r\nx\r\n--XX--\r\n", 1,
	  "Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\n"
	  "Content-Description: =?UTF-8?Q?=C3=A9?=\r\n\r\nx\r\n--XX--\r\n" },
	{ "binary part in quoted-printable",
	  "Content-Transfer-Encoding: binary\r\n\r\n\x80\r\n", 1,
	  "Content-Transfer-Encoding: quoted-printable\r\n\r\n=80\r\n" },
	{ "binary part in base64",
	  "Content-Type: image/png\nContent-Transfer-Encoding: binary\n\n"
	  "\x89PNG\r\n\x1a\n", 1,
	  "Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n"
	  "\r\niVBORw0KGgo=\r\n" },
	{ "bare LF outside the parts made CRLF",
	  "Content-Type: multipart/mixed; boundary=b\n\npreamble\n--b\n"
	  "Content-Transfer-Encoding: binary\n\nx\n--b--\nepi\n", 1,
	  "Content-Type: multipart/mixed; boundary=b\r\n\r\npreamble\r\n"
	  "--b\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nx\r\n"
	  "--b--\r\nepi\r\n" },
	{ "bare CR in a preamble refused: it could make a boundary",
	  "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\rx\r\n--b\r\n"
	  "Content-Transfer-Encoding: binary\r\n\r\nx\r\n--b--\r\n", -1,
	  NULL },
	{ "bare CR in a base64 part refused",
	  "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
	  "Content-Transfer-Encoding: base64\r\n\r\nAA\r==\r\n--b\r\n"
	  "Content-Transfer-Encoding: binary\r\n\r\nx\r\n--b--\r\n", -1,
	  NULL },
	{ "8-bit address refused",
	  "From: j\xc3\xb6rg@b\r\n\r\nx\r\n", -1, NULL },
	{ "8-bit Message-ID refused",
	  "Message-ID: <\xc3\xa9@b>\r\n\r\nx\r\n", -1, NULL },
	{ "8-bit in base64 part refused",
	  "Content-Transfer-Encoding: base64\r\n\r\n\xc3\xa9\r\n", -1,
	  NULL },
	{ "8-bit preamble refused",
	  "Content-Type: multipart/mixed; boundary=XX\r\n\r\n\xff\r\n--XX\r\n"
	  "\r\nx\r\n--XX--\r\n", -1, NULL },
	{ "8-bit inside message/rfc822 converted",
	  "Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\n"
	  "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: 8bit"
	  "\r\n\r\nFrom: c@d\r\n\r\n\xff\r\n--XX--\r\n", 1,
	  "Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\n"
	  "Content-Type: message/rfc822\r\n"
	  "Content-Transfer-Encoding: 7bit\r\n\r\nFrom: c@d\r\n"
	  "Content-Transfer-Encoding: quoted-printable\r\n\r\n=FF\r\n"
	  "--XX--\r\n" },
	{ "message/partial must stay 7-bit",
	  "Content-Type: message/partial; id=x; number=1\r\n\r\n\xff\r\n",
	  -1, NULL },
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
	(void)state;
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

/* ---- round trips on real messages ---- */

/* Convert in for target with read size chunk; the copy in out. */
static int
conv(const struct str *in, unsigned target, size_t chunk,
    struct str *out, struct mime7_result *res)
{
	int i = mkfd(in->s, in->len), o = mkfd("", 0), rc;
	char buf[65536];
	off_t off = 0;
	ssize_t n;

	rc = mime7_convert(i, o, target, chunk, res);
	str_clear(out);
	if (rc == 1) {
		assert_int_equal(lseek(o, 0, SEEK_END), res->size);
		while ((n = pread(o, buf, sizeof(buf), off)) > 0) {
			assert_int_equal(str_append(out, buf, (size_t)n), 0);
			off += n;
		}
	}
	close(i);
	close(o);
	return rc;
}

/* 7-bit (or 8-bit without NUL and bare CR) and no line over 998. */
static void
check_clean(const struct str *m, unsigned target)
{
	size_t i, col = 0;
	unsigned char c;

	for (i = 0; i < m->len; i++) {
		c = (unsigned char)m->s[i];
		assert_true(c != 0);
		if (target == MIME7_7BIT)
			assert_true(c < 128);
		if (c == '\r')
			assert_true(i + 1 < m->len && m->s[i + 1] == '\n');
		if (c == '\n')
			col = 0;
		else if (c != '\r')
			assert_true(++col <= MIME7_LINE_MAX);
	}
}

static struct mime_parser *
parse(const struct str *m)
{
	struct mime_parser *p = mime_parser_new(NULL);

	assert_non_null(p);
	assert_int_equal(mime_parser_feed(p, m->s, m->len), 0);
	assert_int_equal(mime_parser_finish(p), 0);
	return p;
}

/* The body of leaf i of out decoded as its encoding says. */
static void
decoded_body(const struct mime_parser *p, const struct str *m, size_t i,
    struct str *body)
{
	const struct mime_part *pt = mime_part_get(p, i);
	const struct mime_text *e = &mime_part_content(p, i)->encoding;
	const char *b = m->s + pt->body_off;
	size_t n = (size_t)pt->body_size;
	struct b64_dec d;

	str_clear(body);
	if (e->s != NULL && strcasecmp(e->s, "base64") == 0) {
		b64_dec_init(&d);
		assert_int_equal(b64_decode(&d, b, n, body), 0);
		assert_int_equal(b64_decode_end(&d), 0);
	} else if (e->s != NULL && strcasecmp(e->s, "quoted-printable") == 0)
		assert_int_equal(qp_decode(b, n, body), 0);
	else
		assert_int_equal(str_append(body, b, n), 0);
}

/* What leaf i of in must decode to: its bytes, line ends of text made
 * CRLF (text is sent in canonical form, RFC 2049 section 4). */
static void
want_body(const struct mime_parser *p, const struct str *m, size_t i,
    struct str *w)
{
	const struct mime_part *pt = mime_part_get(p, i);
	const struct mime_content *ct = mime_part_content(p, i);
	const char *b = m->s + pt->body_off;
	size_t k;
	int text = strcasecmp(ct->type.s, "text") == 0;

	str_clear(w);
	for (k = 0; k < pt->body_size; k++) {
		if (text && b[k] == '\n' && (k == 0 || b[k - 1] != '\r'))
			str_appendc(w, '\r');
		str_appendc(w, b[k]);
	}
}

/* Same structure, and every leaf of out decodes to the leaf of in. */
static void
check_roundtrip(const struct str *in, const struct str *out)
{
	struct mime_parser *a = parse(in), *b = parse(out);
	const struct mime_part *pa, *pb;
	struct str body = STR_INIT, want = STR_INIT;
	size_t i;

	assert_int_equal(mime_part_count(a), mime_part_count(b));
	for (i = 0; i < mime_part_count(a); i++) {
		pa = mime_part_get(a, i);
		pb = mime_part_get(b, i);
		assert_int_equal(pa->kind, pb->kind);
		assert_string_equal(pa->section, pb->section);
		if (pa->kind != MIME_KIND_LEAF)
			continue;
		decoded_body(b, out, i, &body);
		want_body(a, in, i, &want);
		if (body.len != want.len || memcmp(body.s ? body.s : "",
		    want.s ? want.s : "", body.len) != 0)
			fail_msg("part %s differs after decoding", pa->section);
	}
	str_free(&body);
	str_free(&want);
	mime_parser_free(&a);
	mime_parser_free(&b);
}

/* The Content-Transfer-Encoding of entity i of m. */
static const char *
cte_of(const struct str *m, size_t i, char *buf, size_t n)
{
	struct mime_parser *p = parse(m);
	const struct mime_text *e = &mime_part_content(p, i)->encoding;

	snprintf(buf, n, "%s", e->s ? e->s : "");
	mime_parser_free(&p);
	return buf;
}

/* Decode the encoded-words of an unfolded header value (RFC 2047 6.2:
 * blanks between two encoded-words vanish). */
static void
ew_decode(const char *s, size_t n, struct str *out)
{
	size_t i = 0, j, pend = 0, q1, q2;
	struct b64_dec d;
	int last_ew = 0;

	while (i < n) {
		if (n - i > 2 && s[i] == '=' && s[i + 1] == '?') {
			q1 = i + 2;
			while (q1 < n && s[q1] != '?')
				q1++;
			q2 = q1 + 3;
			for (j = q2; j + 1 < n && !(s[j] == '?' &&
			    s[j + 1] == '='); j++)
				;
			assert_true(j + 1 < n && q1 + 2 < n);
			if (last_ew)
				str_truncate(out, out->len - pend);
			if (s[q1 + 1] == 'Q' || s[q1 + 1] == 'q') {
				struct str t = STR_INIT;
				size_t k;

				for (k = q2; k < j; k++)
					str_appendc(&t, s[k] == '_' ? ' ' :
					    s[k]);
				assert_int_equal(qp_decode(t.s, t.len, out), 0);
				str_free(&t);
			} else {
				b64_dec_init(&d);
				assert_int_equal(b64_decode(&d, s + q2, j - q2,
				    out), 0);
			}
			assert_true(j - i + 2 <= 75);
			i = j + 2;
			last_ew = 1;
			pend = 0;
			continue;
		}
		if (s[i] == ' ' || s[i] == '\t')
			pend++;
		else
			last_ew = 0, pend = 0;
		str_appendc(out, s[i++]);
	}
}

/* Field name of m's header of entity i, unfolded and decoded. */
static void
field_of(const struct str *m, size_t ent, const char *name, struct str *v)
{
	struct mime_parser *p = parse(m);
	const struct mime_part *pt = mime_part_get(p, ent);
	const char *h = m->s + pt->hdr_off, *e = h + pt->hdr_size, *f, *x;
	size_t nl = strlen(name);
	struct str u = STR_INIT;

	str_clear(v);
	for (f = h; f < e; f++) {
		if ((f == h || f[-1] == '\n') && (size_t)(e - f) > nl &&
		    strncasecmp(f, name, nl) == 0 && f[nl] == ':')
			break;
	}
	assert_true(f < e);
	for (x = f; x < e; x++)
		if (*x == '\n' && (x + 1 == e || (x[1] != ' ' && x[1] != '\t')))
			break;
	for (f += nl + 1; f < x; f++)
		if (*f != '\r' && *f != '\n')
			str_appendc(&u, *f);
	ew_decode(u.s, u.len, v);
	while (v->len > 0 && v->s[0] == ' ') {
		memmove(v->s, v->s + 1, v->len);
		v->len--;
	}
	str_free(&u);
	mime_parser_free(&p);
}

static void
assert_field(const struct str *m, size_t ent, const char *name,
    const char *want)
{
	struct str v = STR_INIT;

	field_of(m, ent, name, &v);
	if (strcmp(str_cstr(&v), want) != 0)
		fail_msg("%s: '%s', expected '%s'", name, str_cstr(&v), want);
	str_free(&v);
}

/* Bytes that look like a PDF: NUL, bare CR, bare LF, 8-bit; no "-". */
static void
pdf_like(struct str *m, size_t n)
{
	uint32_t x = 12345;
	size_t i;
	char c;

	str_appends(m, "%PDF-1.4\r\n%\xe2\xe3\xcf\xd3\r\n");
	for (i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		c = (char)(x >> 16);
		str_appendc(m, c == '-' ? 'x' : c);
	}
	str_appends(m, "\0\r\rend\n\r");
	m->len++;	/* the NUL counted (str_appends stopped at it) */
}

/* The big one: nested multipart, 8-bit text with 1200-byte lines, an
 * HTML part declared binary with LF line ends, a PDF-like attachment, a
 * message/rfc822 with 8-bit header and parts, 8-bit header fields. */
static void
big_message(struct str *m)
{
	size_t i;

	str_clear(m);
	str_appends(m, "From: \"J\xc3\xb6rg M\xc3\xbcller\" "
	    "<joerg@example.org>\r\n"
	    "To: Ann <ann@b.test>, \"Bob, Jr.\" <bob@b.test>\r\n"
	    "Subject: Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln \xe2\x80\x93 "
	    "2026\r\n"
	    "Message-ID: <big1@example.org>\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
	    "Content-Transfer-Encoding: binary\r\n\r\n"
	    "preamble\r\n--outer\r\n"
	    "Content-Type: multipart/alternative; boundary=\"inner\"\r\n\r\n"
	    "--inner\r\nContent-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n\r\n"
	    "Gr\xc3\xbc\xc3\x9f" "e,\r\n");
	for (i = 0; i < 600; i++)
		str_appends(m, "\xc3\xa9");
	str_appends(m, "\r\n");
	for (i = 0; i < 1200; i++)
		str_appendc(m, (char)('a' + i % 26));
	str_appends(m, "\r\n.dot\r\nend \r\n--inner\r\n"
	    "Content-Type: text/html; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: binary\r\n\r\n"
	    "<p>caf\xc3\xa9</p>\n<p>lf only</p>\n\r\n--inner--\r\n"
	    "--outer\r\nContent-Type: application/pdf\r\n"
	    "Content-Transfer-Encoding: binary\r\n"
	    "Content-Disposition: attachment; filename=\"x.pdf\"\r\n\r\n");
	pdf_like(m, 5000);
	str_appends(m, "\r\n--outer\r\nContent-Type: message/rfc822\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n\r\n"
	    "From: Zo\xc3\xab <zoe@example.org>\r\nSubject: R\xc3\xa9union\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=emb\r\n\r\n"
	    "--emb\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\n"
	    "caf\xe9 cr\xe8me\r\n--emb\r\n"
	    "Content-Type: application/octet-stream\r\n"
	    "Content-Transfer-Encoding: binary\r\n\r\n");
	str_appends(m, "x\0");
	m->len++;
	str_appends(m, "\x01\x02\xff\r\r\n\n\r\n--emb--\r\n--outer--\r\n"
	    "epilogue\r\n");
}

static void
test_big_7bit(void **state)
{
	struct str in = STR_INIT, out = STR_INIT, again = STR_INIT;
	struct mime7_result res;
	static const size_t chunks[] = { 1, 7, 4096 };
	char b[64];
	size_t i;

	(void)state;
	big_message(&in);
	assert_int_equal(conv(&in, MIME7_7BIT, 0, &out, &res), 1);
	assert_int_equal(res.eightbit, 0);
	check_clean(&out, MIME7_7BIT);
	check_roundtrip(&in, &out);
	assert_field(&out, 0, "From", "J\xc3\xb6rg M\xc3\xbcller "
	    "<joerg@example.org>");
	assert_field(&out, 0, "To", "Ann <ann@b.test>, \"Bob, Jr.\" "
	    "<bob@b.test>");
	assert_field(&out, 0, "Subject", "Gr\xc3\xbc\xc3\x9f" "e aus "
	    "K\xc3\xb6ln \xe2\x80\x93 2026");
	/* entities: 0 mixed, 1 alternative, 2 plain, 3 html, 4 pdf, 5
	 * message/rfc822, 6 its message, 7 latin-1 text, 8 octets */
	assert_string_equal(cte_of(&out, 0, b, sizeof(b)), "7bit");
	assert_string_equal(cte_of(&out, 2, b, sizeof(b)), "quoted-printable");
	assert_string_equal(cte_of(&out, 3, b, sizeof(b)), "quoted-printable");
	assert_string_equal(cte_of(&out, 4, b, sizeof(b)), "base64");
	assert_string_equal(cte_of(&out, 5, b, sizeof(b)), "7bit");
	assert_string_equal(cte_of(&out, 7, b, sizeof(b)), "quoted-printable");
	assert_string_equal(cte_of(&out, 8, b, sizeof(b)), "base64");
	assert_field(&out, 6, "From", "Zo\xc3\xab <zoe@example.org>");
	assert_field(&out, 6, "Subject", "R\xc3\xa9union");
	/* the untouched parts are byte-exact */
	assert_non_null(strstr(out.s, "\r\n\r\npreamble\r\n--outer\r\n"
	    "Content-Type: multipart/alternative; boundary=\"inner\"\r\n"));
	assert_non_null(strstr(out.s, "Message-ID: <big1@example.org>\r\n"));
	/* the same copy whatever the read size */
	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		assert_int_equal(conv(&in, MIME7_7BIT, chunks[i], &again,
		    &res), 1);
		assert_int_equal(again.len, out.len);
		assert_memory_equal(again.s, out.s, out.len);
	}
	str_free(&in);
	str_free(&out);
	str_free(&again);
}

static void
test_big_8bit(void **state)
{
	struct str in = STR_INIT, out = STR_INIT;
	struct mime7_result res;
	char b[64];

	(void)state;
	big_message(&in);
	assert_int_equal(conv(&in, MIME7_8BIT, 0, &out, &res), 1);
	assert_int_equal(res.eightbit, 1);
	check_clean(&out, MIME7_8BIT);
	check_roundtrip(&in, &out);
	/* 8-bit headers stay as they are for an 8BITMIME hop */
	assert_non_null(strstr(out.s, "Subject: Gr\xc3\xbc\xc3\x9f" "e aus "
	    "K\xc3\xb6ln"));
	assert_string_equal(cte_of(&out, 0, b, sizeof(b)), "8bit");
	/* the 1200-byte line needs quoted-printable; 8-bit alone does not */
	assert_string_equal(cte_of(&out, 2, b, sizeof(b)), "quoted-printable");
	assert_string_equal(cte_of(&out, 3, b, sizeof(b)), "quoted-printable");
	assert_string_equal(cte_of(&out, 4, b, sizeof(b)), "base64");
	assert_string_equal(cte_of(&out, 5, b, sizeof(b)), "8bit");
	assert_string_equal(cte_of(&out, 7, b, sizeof(b)), "");
	assert_string_equal(cte_of(&out, 8, b, sizeof(b)), "base64");
	assert_non_null(strstr(out.s, "caf\xe9 cr\xe8me\r\n"));
	str_free(&in);
	str_free(&out);
}

/* Nothing to convert: 0, nothing written, eightbit told. */
static void
test_nothing(void **state)
{
	struct str in = STR_INIT, out = STR_INIT;
	struct mime7_result res;

	(void)state;
	str_appends(&in, "Subject: caf\xc3\xa9\r\nContent-Type: text/plain; "
	    "charset=utf-8\r\n\r\ncaf\xc3\xa9\r\n");
	assert_int_equal(conv(&in, MIME7_8BIT, 0, &out, &res), 0);
	assert_int_equal(res.eightbit, 1);
	str_clear(&in);
	str_appends(&in, "Subject: x\r\n\r\nplain\nLF\n");
	assert_int_equal(conv(&in, MIME7_7BIT, 0, &out, &res), 0);
	assert_int_equal(conv(&in, MIME7_8BIT, 0, &out, &res), 0);
	assert_int_equal(res.eightbit, 0);
	str_free(&in);
	str_free(&out);
}

/* Refusals say why. */
static void
test_refusals(void **state)
{
	static const struct {
		const char *msg;
		unsigned t;
		const char *why;
	} v[] = {
		{ "From: J\xc3\xb6rg <j\xc3\xb6@x>\r\n\r\nx\r\n", MIME7_7BIT,
		  "address of the From header field" },
		{ "Message-ID: <\xc3\xa9@x>\r\n\r\nx\r\n", MIME7_7BIT,
		  "Message-ID" },
		{ "Content-Type: multipart/mixed; boundary=b\r\n\r\n\xff\r\n"
		  "--b\r\n\r\nx\r\n--b--\r\n", MIME7_7BIT, "preamble" },
		{ "Content-Type: message/external-body\r\n"
		  "Content-Transfer-Encoding: binary\r\n\r\nx\r\n", MIME7_8BIT,
		  "must stay 7-bit" },
		{ "Content-Transfer-Encoding: x-uuencode\r\n\r\n\xff\r\n",
		  MIME7_7BIT, "encoded part" },
		{ "Subject: a\rb\r\nContent-Transfer-Encoding: binary\r\n\r\n"
		  "x\r\n", MIME7_8BIT, "bare CR in a header" },
	};
	struct str in = STR_INIT, out = STR_INIT;
	struct mime7_result res;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		str_clear(&in);
		str_appends(&in, v[i].msg);
		errno = 0;
		assert_int_equal(conv(&in, v[i].t, 0, &out, &res), -1);
		assert_int_equal(errno, EILSEQ);
		if (strstr(res.why, v[i].why) == NULL)
			fail_msg("why '%s' lacks '%s'", res.why, v[i].why);
	}
	str_free(&in);
	str_free(&out);
}

/* message/global is a leaf: encoded as a whole, never opened. */
static void
test_global(void **state)
{
	struct str in = STR_INIT, out = STR_INIT;
	struct mime7_result res;

	(void)state;
	str_appends(&in, "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	    "--b\r\nContent-Type: message/global\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n\r\n"
	    "From: J\xc3\xb6rg <j\xc3\xb6@x>\r\n\r\nhi\r\n--b--\r\n");
	assert_int_equal(conv(&in, MIME7_7BIT, 0, &out, &res), 1);
	check_clean(&out, MIME7_7BIT);
	check_roundtrip(&in, &out);
	assert_non_null(strstr(out.s, "Content-Type: message/global\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n"));
	str_free(&in);
	str_free(&out);
}

/* mime7_field_encode alone. */
static void
test_fields(void **state)
{
	static const char *const v[][2] = {
		{ "Subject: a caf\xc3\xa9 b\r\n",
		  "Subject: a =?UTF-8?Q?caf=C3=A9?= b\r\n" },
		{ "Subject: caf\xc3\xa9 cr\xc3\xa8me\r\n",
		  "Subject: =?UTF-8?Q?caf=C3=A9_cr=C3=A8me?=\r\n" },
		{ "Subject: Gr\xfc\xdf" "e\n",
		  "Subject: =?unknown-8bit?Q?Gr=FC=DFe?=\n" },
		{ "subject:\r\n caf\xc3\xa9\r\n",
		  "subject: =?UTF-8?Q?caf=C3=A9?=\r\n" },
		{ "X-Note: =?x?= caf\xc3\xa9\n",
		  "X-Note: =?UTF-8?Q?=3D=3Fx=3F=3D_caf=C3=A9?=\n" },
		{ "From: \"J\xc3\xb6rg M\" <j@x>\r\n",
		  "From: =?UTF-8?Q?J=C3=B6rg_M?= <j@x>\r\n" },
		{ "To: J\xc3\xb6rg <j@x>, Ann <a@x>\r\n",
		  "To: =?UTF-8?Q?J=C3=B6rg?= <j@x>, Ann <a@x>\r\n" },
		{ "To: Gr\xc3\xbcppe: a@x, b@x;\r\n",
		  "To: =?UTF-8?Q?Gr=C3=BCppe?=: a@x, b@x;\r\n" },
		{ "Cc: a@x (J\xc3\xb6rg)\r\n",
		  "Cc: a@x (=?UTF-8?Q?J=C3=B6rg?=)\r\n" },
		{ "Reply-To: \"a\\\"b \xc3\xa9\" <r@x>\r\n",
		  "Reply-To: =?UTF-8?Q?a=22b_=C3=A9?= <r@x>\r\n" },
		{ "Content-Type: text/plain; name=\"caf\xc3\xa9 1.pdf\";\r\n"
		  " charset=utf-8\r\n",
		  "Content-Type: text/plain; name*=UTF-8''caf%C3%A9%201.pdf; "
		  "charset=utf-8\r\n" },
		{ "Content-Disposition: attachment;filename=\xe9t\xe9.txt\r\n",
		  "Content-Disposition: attachment; "
		  "filename*=unknown-8bit''%E9t%E9.txt\r\n" },
		{ "Content-Type: application/pdf; name=\"\xc3\xa9\xc3\xa9\xc3\xa9"
		  "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		  "\xc3\xa9.pdf\"\r\n",
		  "Content-Type: application/pdf;\r\n"
		  " name*0*=UTF-8''%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9"
		  "%C3%A9%C3%A9;\r\n name*1*=%C3%A9%C3%A9.pdf\r\n" },
		{ "Content-Type: text/plain; name*=x\xc3\xa9\r\n", NULL },
		{ "Content-Type: t\xc3\xa9xt/plain\r\n", NULL },
		{ "Content-Type: multipart/mixed; boundary=\"\xc3\xa9\"\r\n", NULL },
		{ "From: j@x\xc3\xa9\r\n", NULL },
		{ "From: [J\xc3\xb6] S <j@x>\r\n", NULL },
		{ "From: J\xc3\xb6rg <j\xc3\xb6@x>\r\n", NULL },
		{ "Received: from caf\xc3\xa9\r\n", NULL },
		{ "Cc: a@x (J\xc3\xb6rg (nested))\r\n", NULL },
		{ "not a field \xc3\xa9\r\n", NULL },
	};
	struct str out = STR_INIT;
	char why[MIME7_WHY_MAX];
	size_t i;
	int r;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		str_clear(&out);
		r = mime7_field_encode(v[i][0], strlen(v[i][0]), 1, &out, why,
		    sizeof(why));
		if (v[i][1] == NULL) {
			assert_int_equal(r, -1);
			assert_int_equal(errno, EILSEQ);
			continue;
		}
		assert_int_equal(r, 0);
		/* the LF cases keep LF */
		if (strstr(v[i][0], "\r\n") == NULL) {
			str_clear(&out);
			assert_int_equal(mime7_field_encode(v[i][0],
			    strlen(v[i][0]), 0, &out, why, sizeof(why)), 0);
		}
		assert_string_equal(str_cstr(&out), v[i][1]);
	}
	str_free(&out);
}

/* A long 8-bit Subject: folded, words of at most 75, characters whole. */
static void
test_long_field(void **state)
{
	struct str in = STR_INIT, out = STR_INIT, msg = STR_INIT, v = STR_INIT;
	char why[MIME7_WHY_MAX];
	size_t i, col = 0;

	(void)state;
	str_appends(&in, "Subject: ");
	for (i = 0; i < 100; i++)
		str_appends(&in, i % 10 == 9 ? "\xe2\x82\xac " : "\xc3\xa9");
	str_appends(&in, "\r\n");
	assert_int_equal(mime7_field_encode(in.s, in.len, 1, &out, why,
	    sizeof(why)), 0);
	for (i = 0; i < out.len; i++) {
		assert_true((unsigned char)out.s[i] < 128);
		col = out.s[i] == '\n' ? 0 : col + 1;
		assert_true(col <= 78);
	}
	/* each encoded-word alone is valid UTF-8: never a split character */
	assert_null(strstr(out.s, "=C3?="));
	assert_null(strstr(out.s, "=E2?="));
	assert_null(strstr(out.s, "=82?="));
	str_appends(&msg, out.s);
	str_appends(&msg, "\r\nx\r\n");
	field_of(&msg, 0, "Subject", &v);
	assert_int_equal(v.len, in.len - 11);
	assert_memory_equal(v.s, in.s + 9, v.len);
	str_free(&in);
	str_free(&out);
	str_free(&msg);
	str_free(&v);
}

/* For a hop without SMTPUTF8: headers encoded, bodies as the target. */
static void
test_hdr7(void **state)
{
	struct str in = STR_INIT, out = STR_INIT;
	struct mime7_result res;
	struct mime_parser *a, *b;
	const struct mime_part *pa, *pb;
	size_t i;

	(void)state;
	big_message(&in);
	/* 8-bit bodies, 7-bit headers */
	assert_int_equal(conv(&in, MIME7_8BIT | MIME7_HDR7, 0, &out, &res),
	    1);
	assert_int_equal(res.eightbit, 1);
	check_roundtrip(&in, &out);
	assert_field(&out, 0, "Subject", "Gr\xc3\xbc\xc3\x9f" "e aus "
	    "K\xc3\xb6ln \xe2\x80\x93 2026");
	assert_non_null(strstr(out.s, "Subject: =?UTF-8?Q?"));
	assert_non_null(strstr(out.s, "caf\xe9 cr\xe8me\r\n"));
	/* binary: nothing but the header fields changes, byte for byte */
	assert_int_equal(conv(&in, MIME7_BINARY, 0, &out, &res), 0);
	assert_int_equal(res.eightbit, 1);
	assert_int_equal(conv(&in, MIME7_BINARY | MIME7_HDR7, 0, &out, &res),
	    1);
	assert_non_null(strstr(out.s, "From: =?UTF-8?Q?J=C3=B6rg_M=C3=BCller?="
	    " <joerg@example.org>\r\n"));
	a = parse(&in);
	b = parse(&out);
	assert_int_equal(mime_part_count(a), mime_part_count(b));
	for (i = 0; i < mime_part_count(a); i++) {
		pa = mime_part_get(a, i);
		pb = mime_part_get(b, i);
		if (pa->kind != MIME_KIND_LEAF)
			continue;
		assert_int_equal(pa->body_size, pb->body_size);
		assert_memory_equal(in.s + pa->body_off, out.s + pb->body_off,
		    pa->body_size);
	}
	mime_parser_free(&a);
	mime_parser_free(&b);
	/* an address still cannot be encoded */
	str_clear(&in);
	str_appends(&in, "To: j\xc3\xb6rg@x\r\n\r\nx\r\n");
	assert_int_equal(conv(&in, MIME7_BINARY | MIME7_HDR7, 0, &out, &res),
	    -1);
	assert_int_equal(errno, EILSEQ);
	str_free(&in);
	str_free(&out);
}

/* Limits: nesting past mime(3)'s depth, a field past MIME7_FIELD_MAX. */
static void
test_limits(void **state)
{
	struct str in = STR_INIT, out = STR_INIT;
	struct mime7_result res;
	size_t i;

	(void)state;
	/* 40 message/rfc822 levels, 8-bit at the bottom: refused */
	for (i = 0; i < 40; i++)
		str_appends(&in, "Content-Type: message/rfc822\r\n"
		    "Content-Transfer-Encoding: 8bit\r\n\r\n");
	str_appends(&in, "Subject: x\r\n\r\ncaf\xc3\xa9\r\n");
	assert_int_equal(conv(&in, MIME7_7BIT, 0, &out, &res), -1);
	assert_int_equal(errno, EILSEQ);
	assert_non_null(strstr(res.why, "nested too deep"));
	/* 30 levels: converted, every level relabelled 7bit */
	str_clear(&in);
	for (i = 0; i < 30; i++)
		str_appends(&in, "Content-Type: message/rfc822\r\n"
		    "Content-Transfer-Encoding: 8bit\r\n\r\n");
	str_appends(&in, "Subject: x\r\n\r\ncaf\xc3\xa9\r\n");
	assert_int_equal(conv(&in, MIME7_7BIT, 0, &out, &res), 1);
	check_clean(&out, MIME7_7BIT);
	check_roundtrip(&in, &out);
	assert_null(strstr(out.s, ": 8bit"));
	/* an 8-bit field over MIME7_FIELD_MAX: refused */
	str_clear(&in);
	str_appends(&in, "Subject: \xc3\xa9");
	for (i = 0; i < MIME7_FIELD_MAX / 10; i++)
		str_appends(&in, "\r\n word xy");
	str_appends(&in, "\r\n\r\nx\r\n");
	assert_int_equal(conv(&in, MIME7_7BIT, 0, &out, &res), -1);
	assert_int_equal(errno, EILSEQ);
	assert_non_null(strstr(res.why, "over"));
	/* a 7-bit one is copied as it is, a long CTE field dropped */
	str_clear(&in);
	str_appends(&in, "X-Long: a");
	for (i = 0; i < MIME7_FIELD_MAX / 10; i++)
		str_appends(&in, "\r\n word xy");
	str_appends(&in, "\r\nContent-Transfer-Encoding: 8bit");
	for (i = 0; i < MIME7_FIELD_MAX / 10; i++)
		str_appends(&in, "\r\n (comment)");
	str_appends(&in, "\r\nSubject: \xc3\xa9\r\n\r\n\xc3\xa9\r\n");
	assert_int_equal(conv(&in, MIME7_7BIT, 1000, &out, &res), 1);
	check_clean(&out, MIME7_7BIT);
	i = (size_t)(strstr(in.s, "\r\nContent-Transfer") - in.s) + 2;
	assert_true(i > MIME7_FIELD_MAX);
	assert_memory_equal(out.s, in.s, i);
	assert_true(strncmp(out.s + i, "Subject: ", 9) == 0);
	assert_null(strstr(out.s, "(comment)"));
	assert_non_null(strstr(out.s, "\r\nSubject: =?UTF-8?Q?=C3=A9?=\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n=C3=A9\r\n"));
	str_free(&in);
	str_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mime7_cases),
		cmocka_unit_test(test_mime7_long),
		cmocka_unit_test(test_big_7bit),
		cmocka_unit_test(test_big_8bit),
		cmocka_unit_test(test_nothing),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_global),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_long_field),
		cmocka_unit_test(test_hdr7),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
