/* SPDX-License-Identifier: ISC */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qenv.h"
#include "str.h"

/* Envelopes that parse, and their canonical form (NULL: the input). */
static void
test_good(void **state)
{
	static const struct {
		unsigned flags;
		const char *in;
		const char *out;
	} cases[] = {
		{ QENV_INPUT, "V1\nFa@b\nRc@d\t\t\n", NULL },
		{ QENV_INPUT, "V1\nF\nRc@d\tNEVER\t\n", NULL },
		{ QENV_INPUT, "V1\nFa@b\nXFULL\nNid+2B1\nB8BITMIME\nU\n"
		    "Chelo=x addr=1.2.3.4\nRc@d\tSUCCESS,FAILURE\t"
		    "rfc822;c+40d\nRe@f\tdelay\t\n", NULL },
		{ QENV_INPUT, "V1\nB7BIT\nFa@b\nRx\t\t\n",
		    "V1\nFa@b\nRx\t\t\n" },
		{ QENV_INPUT, "V1\nRx\t\t\nFa@b\nXHDRS\n",
		    "V1\nFa@b\nXHDRS\nRx\t\t\n" },
		{ QENV_STORED, "V1\nI5f.1a.2b\nT100\nA0\nF\nE\nRx@y\t\t\n",
		    NULL },
		{ 0, "V1\nFa@b\nBBINARYMIME\nRx@y\t\t\nRz@y\t\t\n", NULL },
		{ QENV_INPUT, "V1\nF\xc3\xa9@b\nU\nR\xc3\xa9@d\t\t\n",
		    "V1\nF\xc3\xa9@b\nU\nR\xc3\xa9@d\t\t\n" },
		{ QENV_INPUT, "V1\nF\"a b\"@c\nR\"x y\"@d\t\t\n", NULL },
	};
	struct str err = STR_INIT, out = STR_INIT;
	struct qenv e;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *in = cases[i].in;

		if (qenv_parse(&e, in, strlen(in), cases[i].flags, 10,
		    &err) < 0)
			fail_msg("case %zu: %s", i, str_cstr(&err));
		str_clear(&out);
		assert_int_equal(qenv_format(&e, &out), 0);
		assert_string_equal(out.s, cases[i].out ? cases[i].out : in);
		qenv_free(&e);
	}
	str_free(&err);
	str_free(&out);
}

static void
test_fields(void **state)
{
	const char *in = "V1\nI65.0001e.3039\nT1700000000\nA1000\nF\n"
	    "XHDRS\nNab\nBBINARYMIME\nU\nCtext here\nE\n"
	    "Ra@b\tSUCCESS\trfc822;a@b\nRc\t\t\n";
	struct str err = STR_INIT;
	struct qenv e;

	assert_int_equal(qenv_parse(&e, in, strlen(in), QENV_STORED, 0,
	    &err), 0);
	assert_string_equal(e.id, "65.0001e.3039");
	assert_int_equal(e.arrival, 1700000000);
	assert_int_equal(e.uid, 1000);
	assert_string_equal(e.sender, "");
	assert_int_equal(e.ret, QENV_RET_HDRS);
	assert_string_equal(e.envid, "ab");
	assert_int_equal(e.body, QENV_BODY_BINARYMIME);
	assert_int_equal(e.smtputf8, 1);
	assert_string_equal(e.client, "text here");
	assert_int_equal(e.expanded, 1);
	assert_int_equal(e.nrcpt, 2);
	assert_string_equal(e.rcpt[0].addr, "a@b");
	assert_string_equal(e.rcpt[0].notify, "SUCCESS");
	assert_string_equal(e.rcpt[0].orcpt, "rfc822;a@b");
	assert_string_equal(e.rcpt[1].addr, "c");
	assert_string_equal(e.rcpt[1].notify, "");
	qenv_free(&e);
	assert_null(e.id);
	assert_int_equal(e.nrcpt, 0);
	assert_int_equal(e.arrival, -1);
	str_free(&err);
}

/* Envelopes that fail, with the start of the message. */
static void
test_bad(void **state)
{
	static const struct {
		unsigned flags;
		const char *in;
		size_t len;	/* 0: strlen */
		const char *err;
	} cases[] = {
		{ 0, "", 0, "envelope line 1: no V1" },
		{ 0, "Fa\nRb\t\t\n", 0, "envelope line 1: V1 must come" },
		{ 0, "V2\nFa\nRb\t\t\n", 0, "envelope line 1: invalid value" },
		{ 0, "V1\nV1\nFa\nRb\t\t\n", 0, "envelope line 2: V1 must" },
		{ 0, "V1\nFa\nRb\t\t\nFc\n", 0, "envelope line 4: record F "
		    "repeated" },
		{ 0, "V1\nRb\t\t\n", 0, "envelope line 3: no F record" },
		{ 0, "V1\nFa\n", 0, "envelope line 3: no R record" },
		{ 0, "V1\nFa\nRb\t\t", 0, "envelope line 3: line without LF" },
		{ 0, "V1\nFa\nRb\t\t\n\n", 0, "envelope line 4: empty line" },
		{ 0, "V1\nFa\nZ\nRb\t\t\n", 0, "envelope line 3: unexpected "
		    "record 'Z'" },
		{ 0, "V1\nFa\nrb\t\t\n", 0, "envelope line 3: unexpected" },
		{ 0, "V1\nFa\nRb\t\n", 0, "envelope line 3: R needs three" },
		{ 0, "V1\nFa\nRb\t\t\t\n", 0, "envelope line 3: R needs" },
		{ 0, "V1\nFa\nRb\n", 0, "envelope line 3: R needs three" },
		{ 0, "V1\nFa\nR\t\t\n", 0, "envelope line 3: invalid recip" },
		{ 0, "V1\nFa\nR<b>\t\t\n", 0, "envelope line 3: invalid" },
		{ 0, "V1\nFa\nRb\tSOMETIMES\t\n", 0, "envelope line 3: inv" },
		{ 0, "V1\nFa\nRb\tNEVER,SUCCESS\t\n", 0, "envelope line 3: " },
		{ 0, "V1\nFa\nRb\tSUCCESS,SUCCESS\t\n", 0, "envelope line 3" },
		{ 0, "V1\nFa\nRb\tSUCCESS,\t\n", 0, "envelope line 3: inv" },
		{ 0, "V1\nFa\nRb\t\tnosemicolon\n", 0, "envelope line 3: i" },
		{ 0, "V1\nFa\nRb\t\trfc822;a=b\n", 0, "envelope line 3: inv" },
		{ 0, "V1\nFa\nRb\t\trfc822;a+4\n", 0, "envelope line 3: inv" },
		{ 0, "V1\nFa\nRb\t\trfc822;a+4g\n", 0, "envelope line 3: in" },
		{ 0, "V1\nFa\nRb\t\t;a\n", 0, "envelope line 3: invalid" },
		{ 0, "V1\nFa\nRb\t\trfc822;\n", 0, "envelope line 3: invalid" },
		{ 0, "V1\nF<a>\nRb\t\t\n", 0, "envelope line 2: invalid sen" },
		{ 0, "V1\nFa\tb\nRb\t\t\n", 0, "envelope line 2: control" },
		{ 0, "V1\nFa\rb\nRb\t\t\n", 0, "envelope line 2: control" },
		{ 0, "V1\nFa\0b\nRb\t\t\n", 13, "envelope line 2: control" },
		{ 0, "V1\nFa\x7f\nRb\t\t\n", 0, "envelope line 2: control" },
		{ 0, "V1\nFa\nXNONE\nRb\t\t\n", 0, "envelope line 3: invalid "
		    "value for X" },
		{ 0, "V1\nFa\nB8BIT\nRb\t\t\n", 0, "envelope line 3: invalid" },
		{ 0, "V1\nFa\nUx\nRb\t\t\n", 0, "envelope line 3: invalid" },
		{ 0, "V1\nFa\nEx\nRb\t\t\n", 0, "envelope line 3: invalid" },
		{ 0, "V1\nFa\nN\nRb\t\t\n", 0, "envelope line 3: invalid ENV" },
		{ 0, "V1\nFa\nNa b\nRb\t\t\n", 0, "envelope line 3: invalid" },
		{ 0, "V1\nFa\nIxyz\nRb\t\t\n", 0, "envelope line 3: invalid q" },
		{ 0, "V1\nFa\nI1.2\nRb\t\t\n", 0, "envelope line 3: invalid q" },
		{ 0, "V1\nFa\nT-1\nRb\t\t\n", 0, "envelope line 3: invalid n" },
		{ 0, "V1\nFa\nT\nRb\t\t\n", 0, "envelope line 3: invalid num" },
		{ 0, "V1\nFa\nT1234567890123456789\nRb\t\t\n", 0,
		    "envelope line 3: invalid number" },
		{ 0, "V1\nF\xc3\xa9\nRb\t\t\n", 0, "envelope line 4: 8-bit" },
		{ 0, "V1\nFa\nRb\t\trfc822;\xc3\xa9\n", 0, "envelope line 4:" },
		{ QENV_INPUT, "V1\nI1.2.3\nFa\nRb\t\t\n", 0,
		    "envelope line 2: unexpected record 'I'" },
		{ QENV_INPUT, "V1\nT1\nFa\nRb\t\t\n", 0, "envelope line 2: " },
		{ QENV_INPUT, "V1\nA1\nFa\nRb\t\t\n", 0, "envelope line 2: " },
		{ QENV_INPUT, "V1\nE\nFa\nRb\t\t\n", 0, "envelope line 2: " },
		{ QENV_STORED, "V1\nFa\nRb\t\t\n", 0, "envelope line 4: stored "
		    "envelope lacks" },
		{ QENV_STORED, "V1\nI1.2.3\nT5\nFa\nRb\t\t\n", 0,
		    "envelope line 6: stored" },
	};
	struct str err = STR_INIT;
	struct qenv e;
	size_t i, len;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		len = cases[i].len ? cases[i].len : strlen(cases[i].in);
		errno = 0;
		if (qenv_parse(&e, cases[i].in, len, cases[i].flags, 10,
		    &err) == 0)
			fail_msg("case %zu parsed", i);
		assert_int_equal(errno, EINVAL);
		if (strncmp(err.s, cases[i].err, strlen(cases[i].err)) != 0)
			fail_msg("case %zu: '%s' does not start with '%s'", i,
			    err.s, cases[i].err);
		qenv_free(&e);
	}
	str_free(&err);
}

static void
test_limits(void **state)
{
	struct str err = STR_INIT, in = STR_INIT;
	struct qenv e;
	size_t i;

	/* recipients: max_rcpt exactly is fine, one more is E2BIG */
	str_appends(&in, "V1\nFa\n");
	for (i = 0; i < 3; i++)
		str_appendf(&in, "Rr%zu\t\t\n", i);
	assert_int_equal(qenv_parse(&e, in.s, in.len, 0, 3, &err), 0);
	qenv_free(&e);
	str_appends(&in, "Rlast\t\t\n");
	errno = 0;
	assert_int_equal(qenv_parse(&e, in.s, in.len, 0, 3, &err), -1);
	assert_int_equal(errno, E2BIG);
	assert_non_null(strstr(err.s, "too many recipients"));
	qenv_free(&e);

	/* an address of QENV_ADDR_MAX bytes, and one more */
	str_clear(&in);
	str_appends(&in, "V1\nFa\nR");
	for (i = 0; i < QENV_ADDR_MAX; i++)
		str_appendc(&in, 'x');
	str_appends(&in, "\t\t\n");
	assert_int_equal(qenv_parse(&e, in.s, in.len, 0, 0, &err), 0);
	qenv_free(&e);
	str_truncate(&in, in.len - 3);
	str_appends(&in, "x\t\t\n");
	assert_int_equal(qenv_parse(&e, in.s, in.len, 0, 0, &err), -1);
	qenv_free(&e);

	/* a line of QENV_LINE_MAX bytes with its LF is too long */
	str_clear(&in);
	str_appends(&in, "V1\nFa\nRb\t\t\nC");
	while (in.len < 11 + QENV_LINE_MAX - 1)
		str_appendc(&in, 'c');
	str_appendc(&in, '\n');
	assert_int_equal(qenv_parse(&e, in.s, in.len, 0, 0, &err), -1);
	assert_non_null(strstr(err.s, "too long"));
	qenv_free(&e);

	/* ENVID of 100 and 101 bytes */
	str_clear(&in);
	str_appends(&in, "V1\nFa\nRb\t\t\nN");
	for (i = 0; i < QENV_ENVID_MAX; i++)
		str_appendc(&in, 'e');
	str_appendc(&in, '\n');
	assert_int_equal(qenv_parse(&e, in.s, in.len, 0, 0, &err), 0);
	qenv_free(&e);
	str_truncate(&in, in.len - 1);
	str_appends(&in, "e\n");
	assert_int_equal(qenv_parse(&e, in.s, in.len, 0, 0, &err), -1);
	qenv_free(&e);
	str_free(&in);
	str_free(&err);
}

/* Feeding one line at a time gives what qenv_parse gives. */
static void
test_lines(void **state)
{
	static const char *const lines[] = { "V1", "Fs@x", "Ra@x\t\t",
	    "Rb@x\tNEVER\t", NULL };
	struct str err = STR_INIT, out = STR_INIT;
	struct qenv e;
	size_t i;

	qenv_init(&e, QENV_INPUT, 0);
	for (i = 0; lines[i] != NULL; i++)
		assert_int_equal(qenv_line(&e, lines[i], strlen(lines[i]),
		    &err), 0);
	assert_int_equal(qenv_finish(&e, &err), 0);
	assert_int_equal(qenv_format(&e, &out), 0);
	assert_string_equal(out.s, "V1\nFs@x\nRa@x\t\t\nRb@x\tNEVER\t\n");
	/* add_rcpt checks like an R line */
	assert_int_equal(qenv_add_rcpt(&e, "c@x", "", "rfc822;c@x"), 0);
	assert_int_equal(qenv_add_rcpt(&e, "c\t@x", "", ""), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(qenv_add_rcpt(&e, "d@x", "BOGUS", ""), -1);
	assert_int_equal(qenv_add_rcpt(&e, "d@x", "", "bad"), -1);
	assert_int_equal(e.nrcpt, 3);
	str_clear(&out);
	assert_int_equal(qenv_format_head(&e, &out), 0);
	assert_string_equal(out.s, "V1\nFs@x\n");
	str_clear(&out);
	assert_int_equal(qenv_format_rcpt(&e.rcpt[2], &out), 0);
	assert_string_equal(out.s, "Rc@x\t\trfc822;c@x\n");
	qenv_free(&e);
	str_free(&err);
	str_free(&out);
}

static void
test_notify(void **state)
{
	static const struct {
		const char *in;
		int ok;
		unsigned bits;
	} cases[] = {
		{ "", 1, 0 },
		{ "NEVER", 1, QENV_NOTIFY_NEVER },
		{ "never", 1, QENV_NOTIFY_NEVER },
		{ "SUCCESS", 1, QENV_NOTIFY_SUCCESS },
		{ "FAILURE,DELAY", 1, QENV_NOTIFY_FAILURE | QENV_NOTIFY_DELAY },
		{ "DELAY,SUCCESS,FAILURE", 1, QENV_NOTIFY_FAILURE |
		    QENV_NOTIFY_DELAY | QENV_NOTIFY_SUCCESS },
		{ "NEVER,FAILURE", 0, 0 },
		{ "FAILURE,NEVER", 0, 0 },
		{ "FAILURE,FAILURE", 0, 0 },
		{ ",FAILURE", 0, 0 },
		{ "FAILURE,", 0, 0 },
		{ "FAILURE,,DELAY", 0, 0 },
		{ "FAIL", 0, 0 },
		{ "FAILURES", 0, 0 },
		{ "FAILURE DELAY", 0, 0 },
	};
	size_t i;
	unsigned bits;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		bits = 0xff;
		if (qenv_notify_parse(cases[i].in, &bits) != (cases[i].ok ?
		    0 : -1))
			fail_msg("case %zu '%s'", i, cases[i].in);
		if (cases[i].ok)
			assert_int_equal(bits, cases[i].bits);
	}
}

static void
test_xtext(void **state)
{
	static const struct {
		const char *in;
		int valid;
		const char *dec;
	} cases[] = {
		{ "", 1, "" },
		{ "abc", 1, "abc" },
		{ "a+2Bb", 1, "a+b" },
		{ "+3D+20", 1, "= " },
		{ "a+2b", 0, NULL },
		{ "a+2", 0, NULL },
		{ "a+", 0, NULL },
		{ "a=b", 0, NULL },
		{ "a b", 0, NULL },
		{ "a\x7f", 0, NULL },
		{ "+00", 1, NULL },
	};
	struct str out = STR_INIT;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *s = cases[i].in;

		assert_int_equal(qenv_xtext_valid(s, strlen(s), 0),
		    cases[i].valid);
		str_clear(&out);
		if (!cases[i].valid) {
			assert_int_equal(qenv_xtext_decode(s, &out), -1);
			assert_int_equal(errno, EINVAL);
		} else if (cases[i].dec != NULL) {
			assert_int_equal(qenv_xtext_decode(s, &out), 0);
			assert_string_equal(str_cstr(&out), cases[i].dec);
		}
	}
	assert_int_equal(qenv_xtext_valid("\xc3\xa9", 2, 0), 0);
	assert_int_equal(qenv_xtext_valid("\xc3\xa9", 2, 1), 1);
	str_clear(&out);
	assert_int_equal(qenv_xtext_encode("a+b=c d\xc3", &out), 0);
	assert_string_equal(out.s, "a+2Bb+3Dc+20d+C3");
	assert_int_equal(qenv_orcpt_valid("rfc822;a@b", 0), 1);
	assert_int_equal(qenv_orcpt_valid("x-foo-1;a", 0), 1);
	assert_int_equal(qenv_orcpt_valid("rfc 822;a", 0), 0);
	assert_int_equal(qenv_orcpt_valid("rfc822a@b", 0), 0);
	str_free(&out);
}

static void
test_id(void **state)
{
	static const struct {
		const char *id;
		int valid;
	} cases[] = {
		{ "65a1b2c3.0001e.3039", 1 },
		{ "0.0.0", 1 },
		{ "1.2", 0 },
		{ "1.2.3.4", 0 },
		{ ".1.2", 0 },
		{ "1..2", 0 },
		{ "1.2.", 0 },
		{ "1.2.A", 0 },
		{ "1.2.g", 0 },
		{ "1/2.3", 0 },
		{ "11111111111111111.1.1", 0 },
		{ "", 0 },
	};
	struct str id = STR_INIT, id2 = STR_INIT;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		if (qenv_id_valid(cases[i].id) != cases[i].valid)
			fail_msg("case %zu '%s'", i, cases[i].id);
	assert_int_equal(qenv_id_valid(NULL), 0);
	assert_int_equal(qenv_id_new(&id), 0);
	assert_int_equal(qenv_id_valid(id.s), 1);
	assert_int_equal(qenv_id_new(&id2), 0);
	assert_int_equal(qenv_id_valid(id2.s), 1);
	str_free(&id);
	str_free(&id2);
}

/* Spawner requests: parse, format back, and the refusals. */
static void
test_req(void **state)
{
	static const struct {
		const char *line;
		int ok;
		const char *job;	/* job number known after parsing */
	} cases[] = {
		{ "L 1 1.2.3 alice alice@example.org bob@example.org", 1, "1" },
		{ "L 42 1.2.3 alice alice@example.org ", 1, "42" },
		{ "L 7 1.2.3 alice alice@x \"a b\"@x", 1, "7" },
		{ "M 9 65a.1.2 example.org", 1, "9" },
		{ "M 9 65a.1.2 [127.0.0.1]", 1, "9" },
		{ "L 1 1.2.3 alice alice@x", 0, "1" },
		{ "L 1 1.2.3 Alice alice@x b", 0, "1" },
		{ "L 1 1.2.3 -alice alice@x b", 0, "1" },
		{ "L 1 1.2.3 ../x alice@x b", 0, "1" },
		{ "L 1 ../../etc alice alice@x b", 0, "1" },
		{ "L 1 1.2.3 alice <a@x> b", 0, "1" },
		{ "L 1 1.2.3 alice a@x b\tc", 0, "1" },
		{ "L 1x 1.2.3 alice a@x b", 0, "" },
		{ "L  1 1.2.3 alice a@x b", 0, "" },
		{ "L 1234567890123456789 1.2.3 alice a@x b", 0, "" },
		{ "M 9 1.2.3 a b", 0, "9" },
		{ "M 9 1.2.3 a/b", 0, "9" },
		{ "M 9 1.2.3 -oX", 0, "9" },
		{ "M 9 1.2.3 ", 0, "9" },
		{ "X 9 1.2.3 a", 0, "9" },
		{ "L", 0, "" },
		{ "", 0, "" },
	};
	struct qenv_req rq;
	struct str out = STR_INIT;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *l = cases[i].line;
		int r = qenv_req_parse(l, strlen(l), &rq);

		if ((r == 0) != cases[i].ok || strcmp(rq.job, cases[i].job))
			fail_msg("case %zu '%s': %d job '%s'", i, l, r, rq.job);
		if (r < 0) {
			assert_int_equal(errno, EINVAL);
			continue;
		}
		str_clear(&out);
		assert_int_equal(qenv_req_format(&rq, &out), 0);
		assert_int_equal(out.len, strlen(l) + 1);
		assert_memory_equal(out.s, l, strlen(l));
	}
	/* a NUL byte, and formatting an invalid request */
	assert_int_equal(qenv_req_parse("M 9 1.2.3 a\0b", 13, &rq), -1);
	memset(&rq, 0, sizeof rq);
	rq.kind = 'L';
	snprintf(rq.job, sizeof rq.job, "1");
	snprintf(rq.id, sizeof rq.id, "1.2.3");
	snprintf(rq.user, sizeof rq.user, "alice");
	snprintf(rq.rcpt, sizeof rq.rcpt, "a b");
	str_clear(&out);
	assert_int_equal(qenv_req_format(&rq, &out), -1);
	assert_int_equal(out.len, 0);
	str_free(&out);
}

/* A V2 queue file: the first line names the envelope's length, its own
 * digits included, and the text parses back (only as a stored envelope). */
static void
test_file(void **state)
{
	static const char *const in[] = {
		/* 27 bytes after V1: "V2 33" */
		"V1\nI5f.1a.2b\nT100\nA0\nF\nRx@y\t\t\n",
		/* 94 bytes after V1: 100 with two digits, so three: 101 */
		"V1\nI5f.1a.2b\nT100\nA0\nFa@bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
		"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\nRx@y\t\t\n",
	};
	static const unsigned long long want[] = { 33, 101 };
	struct str err = STR_INIT, out = STR_INIT, v2 = STR_INIT;
	unsigned long long off;
	struct qenv e, e2;
	size_t i;

	for (i = 0; i < sizeof in / sizeof in[0]; i++) {
		assert_int_equal(qenv_parse(&e, in[i], strlen(in[i]),
		    QENV_STORED, 0, &err), 0);
		assert_int_equal(e.version, 1);
		str_clear(&v2);
		assert_int_equal(qenv_format_file(&e, &v2), 0);
		assert_int_equal(qenv_file_head(v2.s, v2.len, &off), 2);
		assert_int_equal(off, v2.len);
		assert_int_equal(off, want[i]);
		str_clear(&out);
		str_appendf(&out, "V2 %zu\n%s", v2.len, in[i] + 3);
		assert_string_equal(v2.s, out.s);
		assert_int_equal(qenv_parse(&e2, v2.s, v2.len, QENV_STORED, 0,
		    &err), 0);
		assert_int_equal(e2.version, 2);
		assert_int_equal(e2.msg_offset, v2.len);
		str_clear(&out);
		assert_int_equal(qenv_format(&e2, &out), 0);
		assert_string_equal(out.s, in[i]);	/* the text form: V1 */
		qenv_free(&e2);
		/* a length that is not the text's, and V2 outside the queue */
		str_clear(&out);
		str_appendf(&out, "V2 %zu\n%s", v2.len + 1, in[i] + 3);
		assert_int_equal(qenv_parse(&e2, out.s, out.len, QENV_STORED,
		    0, &err), -1);
		qenv_free(&e2);
		assert_int_equal(qenv_parse(&e2, v2.s, v2.len, 0, 0, &err),
		    -1);
		qenv_free(&e2);
		assert_int_equal(qenv_parse(&e2, v2.s, v2.len, QENV_INPUT, 0,
		    &err), -1);
		qenv_free(&e2);
		qenv_free(&e);
	}
	str_free(&err);
	str_free(&out);
	str_free(&v2);
}

/* The first line of an env/ file, table-driven. */
static void
test_file_head(void **state)
{
	static const struct {
		const char *in;
		int v;
		unsigned long long off;
	} cases[] = {
		{ "V1\nI", 1, 0 },
		{ "V2 40\nI", 2, 40 },
		{ "V2 5\n", 2, 5 },		/* just after its own line */
		{ "V2 67108864\n", 2, 67108864 },
		{ "V2 4\n", -1, 0 },		/* inside its own line */
		{ "V2 67108865\n", -1, 0 },	/* past QENV_FILE_ENV_MAX */
		{ "V2 040\n", -1, 0 },
		{ "V2 \n", -1, 0 },
		{ "V2 4x\n", -1, 0 },
		{ "V2 1234567890123\n", -1, 0 },
		{ "V2  40\n", -1, 0 },
		{ "V240\n", -1, 0 },
		{ "V3\n", -1, 0 },
		{ "V1", -1, 0 },		/* no LF */
		{ "V2 40", -1, 0 },
		{ "", -1, 0 },
		{ "V1 \n", -1, 0 },
	};
	unsigned long long off;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		off = 99;
		if (qenv_file_head(cases[i].in, strlen(cases[i].in), &off) !=
		    cases[i].v)
			fail_msg("case %zu: %s", i, cases[i].in);
		if (cases[i].v > 0)
			assert_int_equal(off, cases[i].off);
	}
}

/* Reading the envelope of a file: V2 stops at its length, V1 takes the
 * whole file, a V2 file cut short or a file past max fails. */
static void
test_file_read(void **state)
{
	static const char v1[] = "V1\nI5f.1a.2b\nT100\nA0\nF\nRx@y\t\t\n";
	struct str text = STR_INIT, v2 = STR_INIT, err = STR_INIT;
	unsigned long long off;
	struct qenv e;
	char path[] = "/tmp/test-qenv-XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(qenv_parse(&e, v1, strlen(v1), QENV_STORED, 0, &err),
	    0);
	assert_int_equal(qenv_format_file(&e, &v2), 0);
	qenv_free(&e);
	assert_int_equal(write(fd, v2.s, v2.len), (ssize_t)v2.len);
	assert_int_equal(write(fd, "Subject: x\r\n\r\nbody\r\n", 20), 20);
	assert_int_equal(qenv_file_read(fd, 4096, &text, &off), 2);
	assert_int_equal(off, v2.len);
	assert_int_equal(text.len, v2.len);
	assert_memory_equal(text.s, v2.s, v2.len);
	assert_int_equal(qenv_parse(&e, text.s, text.len, QENV_STORED, 0,
	    &err), 0);
	qenv_free(&e);
	str_clear(&text);
	assert_int_equal(qenv_file_read(fd, v2.len - 1, &text, &off), -1);
	assert_int_equal(errno, EFBIG);
	assert_int_equal(text.len, 0);
	assert_int_equal(ftruncate(fd, (off_t)v2.len - 1), 0);
	assert_int_equal(qenv_file_read(fd, 4096, &text, &off), -1);
	assert_int_equal(errno, EINVAL);
	/* V1: the whole file */
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(pwrite(fd, v1, strlen(v1), 0), (ssize_t)strlen(v1));
	assert_int_equal(qenv_file_read(fd, 4096, &text, &off), 1);
	assert_int_equal(off, 0);
	assert_string_equal(text.s, v1);
	str_clear(&text);
	assert_int_equal(qenv_file_read(fd, 10, &text, &off), -1);
	assert_int_equal(errno, EFBIG);
	/* no first line */
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(qenv_file_read(fd, 4096, &text, &off), -1);
	assert_int_equal(errno, EINVAL);
	close(fd);
	str_free(&text);
	str_free(&v2);
	str_free(&err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_notify),
		cmocka_unit_test(test_xtext),
		cmocka_unit_test(test_id),
		cmocka_unit_test(test_req),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_file_head),
		cmocka_unit_test(test_file_read),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
