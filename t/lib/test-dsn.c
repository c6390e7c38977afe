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

#include "dsn.h"
#include "str.h"

static const char orig[] =
    "Received: from x\r\n"
    "From: bob@example.org\r\n"
    "Subject: hello\r\n"
    "\r\n"
    "body line\r\n";

static struct dsn_info
info_default(void)
{
	struct dsn_info i;

	memset(&i, 0, sizeof i);
	i.reporting_mta = "mx.example.org";
	i.from = "MAILER-DAEMON@example.org";
	i.to = "bob@example.org";
	i.queue_id = "1.2.3";
	i.arrival = 86400;
	i.now = 86400 * 2;
	return i;
}

static void
must_have(const struct str *s, const char *needle)
{
	if (strstr(s->s, needle) == NULL)
		fail_msg("'%s' not in:\n%s", needle, s->s);
}

static void
must_lack(const struct str *s, const char *needle)
{
	if (strstr(s->s, needle) != NULL)
		fail_msg("'%s' unexpected in:\n%s", needle, s->s);
}

/* Every LF of the report is part of a CRLF. */
static void
all_crlf(const struct str *s)
{
	size_t i;

	for (i = 0; i < s->len; i++)
		if (s->s[i] == '\n' && (i == 0 || s->s[i - 1] != '\r'))
			fail_msg("bare LF at %zu", i);
}

static void
test_failed(void **state)
{
	struct dsn_info info = info_default();
	struct dsn_rcpt r[2];
	struct str out = STR_INIT;
	int eight = -1;

	memset(r, 0, sizeof r);
	r[0].final = "alice@example.org";
	r[0].orcpt = "rfc822;list+40example.org";
	r[0].action = DSN_FAILED;
	r[0].status = "5.1.1";
	r[0].diag_type = "x-unix";
	r[0].diag = "deliver: alice: no such user\r\nInjected: x";
	r[0].last_attempt = 86400 + 60;
	r[1].final = "carol@remote.example";
	r[1].action = DSN_FAILED;
	r[1].status = "bogus";
	r[1].remote_mta = "mx.remote.example";
	r[1].diag_type = "smtp";
	r[1].diag = "550 5.7.1 go away";
	info.envid = "env+2Bid";
	info.ret_full = 1;
	assert_int_equal(dsn_build(&info, r, 2, orig, sizeof orig - 1, &out,
	    &eight), 0);
	assert_int_equal(eight, 0);
	all_crlf(&out);
	must_have(&out, "From: Mail Delivery System "
	    "<MAILER-DAEMON@example.org>\r\nTo: <bob@example.org>\r\n"
	    "Subject: Undelivered Mail Returned to Sender\r\n"
	    "Date: Sat, 03 Jan 1970 00:00:00 +0000\r\n"
	    "Message-ID: <1.2.3.172800.dsn@mx.example.org>\r\n"
	    "Auto-Submitted: auto-replied\r\n");
	must_have(&out, "Content-Type: multipart/report; "
	    "report-type=delivery-status;\r\n\tboundary=\""
	    "=_zest-dsn/1.2.3/172800/0\"\r\n");
	must_have(&out, "\r\n--=_zest-dsn/1.2.3/172800/0\r\nContent-Type: "
	    "message/delivery-status\r\n");
	must_have(&out, "\r\n\r\nReporting-MTA: dns; mx.example.org\r\n"
	    "X-Zest-Queue-ID: 1.2.3\r\nOriginal-Envelope-Id: env+id\r\n"
	    "Arrival-Date: Fri, 02 Jan 1970 00:00:00 +0000\r\n\r\n"
	    "Original-Recipient: rfc822;list@example.org\r\n"
	    "Final-Recipient: rfc822; alice@example.org\r\n"
	    "Action: failed\r\nStatus: 5.1.1\r\n"
	    "Diagnostic-Code: x-unix; deliver: alice: no such user  "
	    "Injected: x\r\n"
	    "Last-Attempt-Date: Fri, 02 Jan 1970 00:01:00 +0000\r\n\r\n"
	    "Final-Recipient: rfc822; carol@remote.example\r\n"
	    "Action: failed\r\nStatus: 5.0.0\r\n"
	    "Remote-MTA: dns; mx.remote.example\r\n"
	    "Diagnostic-Code: smtp; 550 5.7.1 go away\r\n\r\n--");
	must_have(&out, "Content-Type: message/rfc822\r\nContent-Description: "
	    "Undelivered Message\r\n\r\nReceived: from x\r\n");
	must_have(&out, "body line\r\n\r\n--=_zest-dsn/1.2.3/172800/0--\r\n");
	must_have(&out, "<alice@example.org>: deliver: alice: no such user");
	must_lack(&out, "Will-Retry-Until");
	str_free(&out);
}

/* RET=HDRS, a NUL in the message, and the headers-only part. */
static void
test_headers_only(void **state)
{
	static const char nul[] = "Subject: x\r\n\r\nbinary\0body\r\n";
	struct dsn_info info = info_default();
	struct dsn_rcpt r;
	struct str out = STR_INIT;
	int eight;

	memset(&r, 0, sizeof r);
	r.final = "a@b";
	r.action = DSN_FAILED;
	assert_int_equal(dsn_build(&info, &r, 1, orig, sizeof orig - 1, &out,
	    &eight), 0);
	must_have(&out, "Content-Type: text/rfc822-headers\r\n"
	    "Content-Description: Message headers\r\n\r\nReceived: from x\r\n"
	    "From: bob@example.org\r\nSubject: hello\r\n\r\n\r\n--");
	must_lack(&out, "body line");
	must_lack(&out, "Original-Envelope-Id");
	must_lack(&out, "Original-Recipient");
	must_have(&out, "Status: 5.0.0\r\n");
	str_clear(&out);
	info.ret_full = 1;
	assert_int_equal(dsn_build(&info, &r, 1, nul, sizeof nul - 1, &out,
	    &eight), 0);
	must_have(&out, "text/rfc822-headers");
	must_lack(&out, "binary");
	str_free(&out);
}

static void
test_kinds(void **state)
{
	static const struct {
		enum dsn_action a;
		const char *subject, *action, *status;
	} cases[] = {
		{ DSN_DELAYED, "Delayed Mail (still being retried)",
		    "Action: delayed\r\n", "Status: 4.0.0\r\n" },
		{ DSN_DELIVERED, "Successful Mail Delivery Report",
		    "Action: delivered\r\n", "Status: 2.0.0\r\n" },
		{ DSN_RELAYED, "Successful Mail Delivery Report",
		    "Action: relayed\r\n", "Status: 2.0.0\r\n" },
		{ DSN_EXPANDED, "Successful Mail Delivery Report",
		    "Action: expanded\r\n", "Status: 2.0.0\r\n" },
	};
	struct dsn_info info = info_default();
	struct dsn_rcpt r;
	struct str out = STR_INIT;
	size_t i;
	int eight;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		memset(&r, 0, sizeof r);
		r.final = "a@b";
		r.action = cases[i].a;
		r.retry_until = 86400 * 5;
		str_clear(&out);
		assert_int_equal(dsn_build(&info, &r, 1, orig, sizeof orig - 1,
		    &out, &eight), 0);
		must_have(&out, cases[i].subject);
		must_have(&out, cases[i].action);
		must_have(&out, cases[i].status);
		if (cases[i].a == DSN_DELAYED)
			must_have(&out, "Will-Retry-Until: Tue, 06 Jan 1970 00:00:00 +0000");
		else
			must_lack(&out, "Will-Retry-Until");
	}
	str_free(&out);
}

/* 8-bit content, SMTPUTF8 types, a boundary found in the message. */
static void
test_eightbit(void **state)
{
	static const char m8[] = "Subject: caf\xc3\xa9\r\n\r\n"
	    "--=_zest-dsn/1.2.3/172800/0\r\n";
	struct dsn_info info = info_default();
	struct dsn_rcpt r;
	struct str out = STR_INIT;
	int eight = -1;

	memset(&r, 0, sizeof r);
	r.final = "a@b";
	r.action = DSN_FAILED;
	info.ret_full = 1;
	assert_int_equal(dsn_build(&info, &r, 1, m8, sizeof m8 - 1, &out,
	    &eight), 0);
	assert_int_equal(eight, 1);
	must_have(&out, "boundary=\"=_zest-dsn/1.2.3/172800/1\"");
	must_have(&out, "Content-Type: message/rfc822\r\nContent-Description:"
	    " Undelivered Message\r\nContent-Transfer-Encoding: 8bit\r\n");
	str_clear(&out);
	info.utf8 = 1;
	info.ret_full = 0;
	assert_int_equal(dsn_build(&info, &r, 1, orig, sizeof orig - 1, &out,
	    &eight), 0);
	assert_int_equal(eight, 1);
	must_have(&out, "Content-Type: message/global-delivery-status\r\n");
	must_have(&out, "Content-Type: message/global-headers\r\n");
	must_have(&out, "charset=utf-8");
	str_clear(&out);
	errno = 0;
	assert_int_equal(dsn_build(&info, &r, 0, orig, sizeof orig - 1, &out,
	    &eight), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(out.len, 0);
	str_free(&out);
}

static void
test_wanted(void **state)
{
	static const struct {
		const char *notify;
		int failed, delayed, delivered;
	} cases[] = {
		{ "", 1, 1, 0 },
		{ NULL, 1, 1, 0 },
		{ "NEVER", 0, 0, 0 },
		{ "SUCCESS", 0, 0, 1 },
		{ "FAILURE", 1, 0, 0 },
		{ "DELAY", 0, 1, 0 },
		{ "SUCCESS,FAILURE,DELAY", 1, 1, 1 },
		{ "garbage", 1, 1, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_int_equal(dsn_wanted(cases[i].notify, DSN_FAILED),
		    cases[i].failed);
		assert_int_equal(dsn_wanted(cases[i].notify, DSN_DELAYED),
		    cases[i].delayed);
		assert_int_equal(dsn_wanted(cases[i].notify, DSN_DELIVERED),
		    cases[i].delivered);
		assert_int_equal(dsn_wanted(cases[i].notify, DSN_RELAYED),
		    cases[i].delivered);
	}
}

static void
test_small(void **state)
{
	static const struct {
		const char *s;
		int ok;
	} st[] = {
		{ "2.0.0", 1 }, { "4.4.1", 1 }, { "5.123.999", 1 },
		{ "3.0.0", 0 }, { "5.0", 0 }, { "5.0.0.0", 0 }, { "5..0", 0 },
		{ "5.1234.0", 0 }, { "5.0.x", 0 }, { "", 0 }, { "5", 0 },
	};
	static const struct {
		const char *m;
		size_t len;
	} hl[] = {
		{ "A: b\r\n\r\nbody", 8 },
		{ "A: b\n\nbody", 6 },
		{ "\r\nbody", 2 },
		{ "\nbody", 1 },
		{ "A: b\r\nC: d\r\n", 12 },
		{ "", 0 },
	};
	char date[64];
	size_t i;

	for (i = 0; i < sizeof st / sizeof st[0]; i++)
		if (dsn_status_valid(st[i].s) != st[i].ok)
			fail_msg("status %s", st[i].s);
	for (i = 0; i < sizeof hl / sizeof hl[0]; i++)
		assert_int_equal(dsn_header_len(hl[i].m, strlen(hl[i].m)),
		    hl[i].len);
	dsn_date(1700000000, date, sizeof date);
	assert_string_equal(date, "Tue, 14 Nov 2023 22:13:20 +0000");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_failed),
		cmocka_unit_test(test_headers_only),
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_eightbit),
		cmocka_unit_test(test_wanted),
		cmocka_unit_test(test_small),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
