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
#include <sys/mman.h>
#include <unistd.h>

#include "io.h"
#include "smtpc.h"
#include "str.h"

/*
 * A scripted server: each transport read returns the next chunk of the
 * script (one "turn" of the server), then EOF or end_errno; everything the
 * client writes is collected, so a case compares the whole transcript.
 */
struct script {
	const char *const *chunks;
	size_t next;
	int end_errno;
	struct str out;
	int tls_calls;
	int tls_fail;
};

static ssize_t
script_read(void *ctx, void *buf, size_t n)
{
	struct script *s = ctx;
	const char *c = s->chunks[s->next];
	size_t len;

	if (c == NULL) {
		if (s->end_errno == 0)
			return 0;
		errno = s->end_errno;
		return -1;
	}
	len = strlen(c);
	assert_true(len <= n);
	memcpy(buf, c, len);
	s->next++;
	return (ssize_t)len;
}

static ssize_t
script_write(void *ctx, const void *buf, size_t n)
{
	struct script *s = ctx;

	assert_int_equal(str_append(&s->out, buf, n), 0);
	return (ssize_t)n;
}

static const struct io_ops script_ops = { script_read, script_write };

static int
fake_tls(void *arg, struct io *io, struct str *err)
{
	struct script *s = arg;

	s->tls_calls++;
	if (s->tls_fail) {
		str_appends(err, "handshake failure");
		return -1;
	}
	return 0;
}

#define NR 3

struct tcase {
	const char *name;
	const char *const *script;
	int end_errno;
	const char *body;
	size_t bodylen;
	enum smtpc_body btype;
	int utf8;
	const char *rcpt[NR];		/* NULL ends */
	int tls;			/* 1 hook, 2 hook failing */
	size_t chunk;
	const char *out;		/* the client's transcript */
	size_t outlen;
	int rc;
	const char *res[NR];		/* "250 2.0.0", "-" pending */
	const char *fail;		/* "451 4.4.2" after HOSTFAIL */
	const char *text;		/* in rcpt 1's text or fail text */
};

#define B(x) x, sizeof(x) - 1
#define BODY "A: b\r\n\r\nx\r\n"
#define S(...) (const char *const[]){ __VA_ARGS__, NULL }
#define G "220 mx.test ESMTP\r\n"
#define E0 "250 mx.test\r\n"
#define OK "250 ok\r\n"
#define BYE "221 bye\r\n"
#define C_EHLO "EHLO me.test\r\n"
#define C_MAIL "MAIL FROM:<s@o>\r\n"
#define C_A "RCPT TO:<a@d>\r\n"
#define C_B "RCPT TO:<b@d>\r\n"
#define C_END "DATA\r\n" BODY ".\r\nQUIT\r\n"
/* A binary message: 8-bit Subject, a GIF with NUL and bare CR, dot. */
#define BINMSG "Subject: caf\xc3\xa9\r\nContent-Type: image/gif\r\n" \
	"Content-Transfer-Encoding: binary\r\n\r\nGIF\0\r.x\r\n"
#define BIN8 "Subject: caf\xc3\xa9\r\nContent-Type: image/gif\r\n" \
	"Content-Transfer-Encoding: base64\r\n\r\nR0lGAA0ueA0K\r\n"
#define BIN7 "Subject: =?UTF-8?Q?caf=C3=A9?=\r\nContent-Type: image/gif" \
	"\r\nContent-Transfer-Encoding: base64\r\n\r\nR0lGAA0ueA0K\r\n"

static const struct tcase cases[] = {
	{ "plain", S(G, E0, OK, OK, "550 5.1.1 no such user\r\n", "354 go\r\n",
	    "250 2.0.0 queued\r\n", BYE), 0, B(BODY), SMTPC_7BIT, 0,
	    { "a@d", "b@d" }, 0, 0,
	    B(C_EHLO C_MAIL C_A C_B C_END), 0, { "250 2.0.0", "550 5.1.1" },
	    NULL, "mx[1] said: no such user (in reply to RCPT TO command)" },
	{ "pipelining dsn size", S(G, "250-mx\r\n250-PIPELINING\r\n"
	    "250-SIZE 1000\r\n250-DSN\r\n250 8BITMIME\r\n", OK OK OK,
	    "354 go\r\n", "250 queued\r\n", BYE), 0, B(BODY), SMTPC_8BITMIME,
	    0, { "a@d", "b@d" }, 0, 0,
	    B(C_EHLO "MAIL FROM:<s@o> SIZE=11 BODY=8BITMIME RET=HDRS "
	    "ENVID=e+2B1\r\nRCPT TO:<a@d> NOTIFY=SUCCESS,FAILURE "
	    "ORCPT=rfc822;a@d\r\nRCPT TO:<b@d>\r\n" C_END), 0,
	    { "250 2.0.0", "250 2.0.0" }, NULL, "queued" },
	{ "helo fallback", S(G, "502 5.5.1 what\r\n", "250 hi\r\n", OK, OK,
	    "354 go\r\n", OK, BYE), 0, B(BODY), SMTPC_7BIT, 0, { "a@d" }, 0,
	    0, B(C_EHLO "HELO me.test\r\n" C_MAIL C_A C_END), 0,
	    { "250 2.0.0" }, NULL, NULL },
	{ "mail refused", S(G, E0, "550-5.7.1 sender\r\n550 5.7.1 refused\r\n",
	    OK, BYE), 0, B(BODY), SMTPC_7BIT, 0, { "a@d", "b@d" }, 0, 0,
	    B(C_EHLO C_MAIL "RSET\r\nQUIT\r\n"), 0, { "550 5.7.1", "550 5.7.1" },
	    NULL, "said: sender refused (in reply to MAIL FROM command)" },
	{ "mail 4xx", S(G, E0, "451 4.3.0 later\r\n", BYE), 0, B(BODY),
	    SMTPC_7BIT, 0, { "a@d" }, 0, 0, B(C_EHLO C_MAIL "QUIT\r\n"),
	    SMTPC_HOSTFAIL, { "-" }, "451 4.3.0", "later" },
	{ "rcpt 421", S(G, E0, OK, "421 4.4.2 bye\r\n"), 0, B(BODY),
	    SMTPC_7BIT, 0, { "a@d", "b@d" }, 0, 0, B(C_EHLO C_MAIL C_A),
	    SMTPC_HOSTFAIL, { "-", "-" }, "421 4.4.2", NULL },
	{ "452 next transaction", S(G, "250-mx\r\n250 PIPELINING\r\n",
	    OK OK "452 4.5.3 too many\r\n", "354 go\r\n", "250 one\r\n",
	    OK OK, "354 go\r\n", "250 two\r\n", BYE), 0, B(BODY), SMTPC_7BIT,
	    0, { "a@d", "b@d" }, 0, 0,
	    B(C_EHLO C_MAIL C_A C_B "DATA\r\n" BODY ".\r\n" C_MAIL C_B C_END),
	    0, { "250 2.0.0", "250 2.0.0" }, NULL, "two" },
	{ "452 and none accepted", S(G, E0, OK, "452 4.5.3 full\r\n", OK, BYE),
	    0, B(BODY), SMTPC_7BIT, 0, { "a@d" }, 0, 0,
	    B(C_EHLO C_MAIL C_A "RSET\r\nQUIT\r\n"), 0, { "452 4.5.3" }, NULL,
	    NULL },
	{ "bdat chunks", S(G, "250-mx\r\n250-BINARYMIME\r\n250 CHUNKING\r\n",
	    OK, OK, OK, "250 2.0.0 got it\r\n", BYE), 0, B("ab\0\r\ncd\nxy"),
	    SMTPC_BINARYMIME, 0, { "a@d" }, 0, 5,
	    B(C_EHLO "MAIL FROM:<s@o> BODY=BINARYMIME\r\n" C_A "BDAT 5\r\n"
	    "ab\0\r\nBDAT 5 LAST\r\ncd\nxyQUIT\r\n"), 0, { "250 2.0.0" }, NULL,
	    "in reply to BDAT LAST command" },
	{ "bdat refused", S(G, "250-mx\r\n250-BINARYMIME\r\n250 CHUNKING\r\n",
	    OK, OK, "554 5.6.0 bad\r\n", OK, BYE), 0, B("abcdefgh"),
	    SMTPC_BINARYMIME, 0, { "a@d" }, 0, 4,
	    B(C_EHLO "MAIL FROM:<s@o> BODY=BINARYMIME\r\n" C_A "BDAT 4\r\n"
	    "abcdRSET\r\nQUIT\r\n"), 0, { "554 5.6.0" }, NULL, NULL },
	{ "binary unsupported", S(G, "250-mx\r\n250 BINARYMIME\r\n", BYE), 0,
	    B("x\0y"), SMTPC_BINARYMIME, 0, { "a@d" }, 0, 0,
	    B(C_EHLO "QUIT\r\n"), SMTPC_HOSTFAIL, { "-" }, "554 5.6.3", NULL },
	{ "8bit refused", S(G, E0, BYE), 0, B("From: caf\xc3\xa9@x\r\n"),
	    SMTPC_8BITMIME, 0, { "a@d" }, 0, 0, B(C_EHLO "QUIT\r\n"),
	    SMTPC_HOSTFAIL, { "-" }, "554 5.6.3", "8BITMIME), and the message "
	    "cannot be converted to 7-bit: 8-bit byte in an address of the "
	    "From header field" },
	{ "8bit header encoded", S(G, E0, OK, OK, "354 go\r\n", OK, BYE), 0,
	    B("Subject: caf\xc3\xa9\r\n\r\nx\r\n"), SMTPC_8BITMIME, 0,
	    { "a@d" }, 0, 0, B(C_EHLO C_MAIL C_A "DATA\r\n"
	    "Subject: =?UTF-8?Q?caf=C3=A9?=\r\n\r\nx\r\n.\r\nQUIT\r\n"), 0,
	    { "250 2.0.0" }, NULL, NULL },
	{ "binary to an 8BITMIME host", S(G, "250-mx\r\n250-SIZE 1000\r\n"
	    "250-CHUNKING\r\n250 8BITMIME\r\n", OK, OK, "354 go\r\n", OK,
	    BYE), 0, B(BINMSG), SMTPC_BINARYMIME, 0, { "a@d" }, 0, 0,
	    B(C_EHLO "MAIL FROM:<s@o> SIZE=92 BODY=8BITMIME\r\n" C_A
	    "DATA\r\n" BIN8 ".\r\nQUIT\r\n"), 0, { "250 2.0.0" }, NULL,
	    NULL },
	{ "binary to a 7-bit host", S(G, "250-mx\r\n250 BINARYMIME\r\n", OK,
	    OK, "354 go\r\n", OK, BYE), 0, B(BINMSG), SMTPC_BINARYMIME, 0,
	    { "a@d" }, 0, 0, B(C_EHLO C_MAIL C_A "DATA\r\n" BIN7
	    ".\r\nQUIT\r\n"), 0, { "250 2.0.0" }, NULL, NULL },
	{ "binary text needs nothing", S(G, "250-mx\r\n250 8BITMIME\r\n",
	    OK, OK, "354 go\r\n", OK, BYE), 0, B("A: b\r\n\r\nx\xc3\xa9\r\n"),
	    SMTPC_BINARYMIME, 0, { "a@d" }, 0, 0, B(C_EHLO
	    "MAIL FROM:<s@o> BODY=8BITMIME\r\n" C_A "DATA\r\n"
	    "A: b\r\n\r\nx\xc3\xa9\r\n.\r\nQUIT\r\n"), 0, { "250 2.0.0" },
	    NULL, NULL },
	{ "binary unconvertible", S(G, E0, BYE), 0,
	    B("From: j\xc3\xb6@x\r\nContent-Transfer-Encoding: binary\r\n\r\n"
	    "x\r\n"), SMTPC_BINARYMIME, 0, { "a@d" }, 0, 0,
	    B(C_EHLO "QUIT\r\n"), SMTPC_HOSTFAIL, { "-" }, "554 5.6.3",
	    "cannot be converted: 8-bit byte in an address" },
	{ "8bit declared, 7bit sent", S(G, E0, OK, OK, "354 go\r\n", OK, BYE),
	    0, B(BODY), SMTPC_8BITMIME, 0, { "a@d" }, 0, 0,
	    B(C_EHLO C_MAIL C_A C_END), 0, { "250 2.0.0" }, NULL, NULL },
	{ "too big", S(G, "250-mx\r\n250 SIZE 5\r\n", BYE), 0, B(BODY),
	    SMTPC_7BIT, 0, { "a@d" }, 0, 0, B(C_EHLO "QUIT\r\n"),
	    SMTPC_HOSTFAIL, { "-" }, "552 5.3.4", "limit 5" },
	{ "starttls", S(G, "250-mx\r\n250 STARTTLS\r\n", "220 go ahead\r\n",
	    "250-mx\r\n250 STARTTLS\r\n", OK, OK, "354 go\r\n", OK, BYE), 0,
	    B(BODY), SMTPC_7BIT, 0, { "a@d" }, 1, 0,
	    B(C_EHLO "STARTTLS\r\n" C_EHLO C_MAIL C_A C_END), 0,
	    { "250 2.0.0" }, NULL, NULL },
	{ "starttls injection", S(G, "250-mx\r\n250 STARTTLS\r\n",
	    "220 go ahead\r\n250 injected\r\n", BYE), 0, B(BODY), SMTPC_7BIT,
	    0, { "a@d" }, 1, 0, B(C_EHLO "STARTTLS\r\nQUIT\r\n"),
	    SMTPC_HOSTFAIL, { "-" }, "451 4.7.0", NULL },
	{ "starttls handshake fails", S(G, "250-mx\r\n250 STARTTLS\r\n",
	    "220 go ahead\r\n"), 0, B(BODY), SMTPC_7BIT, 0, { "a@d" }, 2, 0,
	    B(C_EHLO "STARTTLS\r\n"), SMTPC_NOTLS, { "-" }, "451 4.7.5",
	    "handshake failure" },
	{ "starttls refused", S(G, "250-mx\r\n250 STARTTLS\r\n",
	    "454 4.7.0 not now\r\n", OK, OK, "354 go\r\n", OK, BYE), 0,
	    B(BODY), SMTPC_7BIT, 0, { "a@d" }, 1, 0,
	    B(C_EHLO "STARTTLS\r\n" C_MAIL C_A C_END), 0, { "250 2.0.0" },
	    NULL, NULL },
	{ "no starttls without hook", S(G, "250-mx\r\n250 STARTTLS\r\n", OK,
	    OK, "354 go\r\n", OK, BYE), 0, B(BODY), SMTPC_7BIT, 0, { "a@d" },
	    0, 0, B(C_EHLO C_MAIL C_A C_END), 0, { "250 2.0.0" }, NULL, NULL },
	{ "timeout", S(G), ETIMEDOUT, B(BODY), SMTPC_7BIT, 0, { "a@d" }, 0, 0,
	    B(C_EHLO), SMTPC_HOSTFAIL, { "-" }, "451 4.4.2", "timed out" },
	{ "no greeting", S(NULL), 0, B(BODY), SMTPC_7BIT, 0, { "a@d" }, 0, 0,
	    B(""), SMTPC_HOSTFAIL, { "-" }, "451 4.4.2",
	    "lost connection with mx[1] while receiving the initial greeting" },
	{ "malformed", S(G, "2x0 what\r\n"), 0, B(BODY), SMTPC_7BIT, 0,
	    { "a@d" }, 0, 0, B(C_EHLO), SMTPC_HOSTFAIL, { "-" }, "451 4.5.0",
	    "malformed" },
	{ "code changes", S(G, "250-mx\r\n251 x\r\n"), 0, B(BODY), SMTPC_7BIT,
	    0, { "a@d" }, 0, 0, B(C_EHLO), SMTPC_HOSTFAIL, { "-" },
	    "451 4.5.0", NULL },
	{ "dot stuffing", S(G, E0, OK, OK, "354 go\r\n", OK, BYE), 0,
	    B(".a\r\n..b\r\nc\nd\re\r\n.\r\nx\n.\nlast"), SMTPC_7BIT, 0,
	    { "a@d" }, 0, 0, B(C_EHLO C_MAIL C_A "DATA\r\n..a\r\n...b\r\n"
	    "c\r\nd\r\ne\r\n..\r\nx\r\n..\r\nlast\r\n.\r\nQUIT\r\n"), 0,
	    { "250 2.0.0" }, NULL, NULL },
	{ "empty body, final CR", S(G, E0, OK, OK, "354 go\r\n", OK, BYE), 0,
	    B("a\r"), SMTPC_7BIT, 0, { "a@d" }, 0, 0,
	    B(C_EHLO C_MAIL C_A "DATA\r\na\r\n.\r\nQUIT\r\n"), 0,
	    { "250 2.0.0" }, NULL, NULL },
	{ "lost after data", S(G, E0, OK, OK, "354 go\r\n"), 0, B(BODY),
	    SMTPC_7BIT, 0, { "a@d" }, 0, 0, B(C_EHLO C_MAIL C_A "DATA\r\n"
	    BODY ".\r\n"), SMTPC_HOSTFAIL, { "451 4.4.2" }, "451 4.4.2",
	    "end of data" },
	{ "data refused", S(G, E0, OK, OK, "554 5.5.1 no\r\n", BYE), 0,
	    B(BODY), SMTPC_7BIT, 0, { "a@d" }, 0, 0,
	    B(C_EHLO C_MAIL C_A "DATA\r\nQUIT\r\n"), 0, { "554 5.5.1" }, NULL,
	    "in reply to DATA command" },
	{ "final 5xx", S(G, E0, OK, OK, "354 go\r\n", "550 spam\r\n", BYE), 0,
	    B(BODY), SMTPC_7BIT, 0, { "a@d" }, 0, 0,
	    B(C_EHLO C_MAIL C_A C_END), 0, { "550 5.0.0" }, NULL,
	    "said: spam (in reply to end of DATA command)" },
	{ "greeting 554", S("554 5.7.1 go away\r\n", BYE), 0, B(BODY),
	    SMTPC_7BIT, 0, { "a@d" }, 0, 0, B("QUIT\r\n"), SMTPC_HOSTFAIL,
	    { "-" }, "554 5.7.1", "initial greeting" },
	{ "greeting 421", S("421 busy\r\n"), 0, B(BODY), SMTPC_7BIT, 0,
	    { "a@d" }, 0, 0, B(""), SMTPC_HOSTFAIL, { "-" }, "421 4.0.0",
	    NULL },
	{ "smtputf8 refused", S(G, E0, BYE), 0, B(BODY), SMTPC_7BIT, 1,
	    { "a@d", "\xc3\xbc@d" }, 0, 0, B(C_EHLO "QUIT\r\n"),
	    SMTPC_HOSTFAIL, { "-", "-" }, "553 5.6.7", NULL },
	{ "smtputf8 ascii", S(G, E0, OK, OK, "354 go\r\n", OK, BYE), 0,
	    B(BODY), SMTPC_7BIT, 1, { "a@d" }, 0, 0,
	    B(C_EHLO C_MAIL C_A C_END), 0, { "250 2.0.0" }, NULL, NULL },
	{ "smtputf8", S(G, "250-mx\r\n250 SMTPUTF8\r\n", OK, OK, "354 go\r\n",
	    OK, BYE), 0, B(BODY), SMTPC_7BIT, 1, { "\xc3\xbc@d" }, 0, 0,
	    B(C_EHLO "MAIL FROM:<s@o> SMTPUTF8\r\nRCPT TO:<\xc3\xbc@d>\r\n"
	    C_END), 0, { "250 2.0.0" }, NULL, NULL },
	{ "smtputf8 header to a 7-bit host", S(G, E0, OK, OK, "354 go\r\n",
	    OK, BYE), 0, B("Subject: caf\xc3\xa9\r\n\r\nx\r\n"),
	    SMTPC_8BITMIME, 1, { "a@d" }, 0, 0, B(C_EHLO C_MAIL C_A "DATA\r\n"
	    "Subject: =?UTF-8?Q?caf=C3=A9?=\r\n\r\nx\r\n.\r\nQUIT\r\n"), 0,
	    { "250 2.0.0" }, NULL, NULL },
	{ "smtputf8 header to an 8BITMIME host", S(G, "250-mx\r\n"
	    "250 8BITMIME\r\n", OK, OK, "354 go\r\n", OK, BYE), 0,
	    B("Subject: caf\xc3\xa9\r\n\r\n\xc3\xa9\r\n"), SMTPC_8BITMIME, 1,
	    { "a@d" }, 0, 0, B(C_EHLO "MAIL FROM:<s@o> BODY=8BITMIME\r\n" C_A
	    "DATA\r\nSubject: =?UTF-8?Q?caf=C3=A9?=\r\n\r\n\xc3\xa9\r\n"
	    ".\r\nQUIT\r\n"), 0, { "250 2.0.0" }, NULL, NULL },
	{ "smtputf8 needed", S(G, "250-mx\r\n250 8BITMIME\r\n", BYE), 0,
	    B("From: j\xc3\xb6@x\r\n\r\nx\r\n"), SMTPC_8BITMIME, 1,
	    { "a@d" }, 0, 0, B(C_EHLO "QUIT\r\n"), SMTPC_HOSTFAIL, { "-" },
	    "553 5.6.7", "SMTPUTF8, and the message needs it: 8-bit byte in "
	    "an address of the From header field" },
	{ "smtputf8 binary by bdat", S(G, "250-mx\r\n250-CHUNKING\r\n"
	    "250 BINARYMIME\r\n", OK, OK, "250 2.0.0 ok\r\n", BYE), 0,
	    B("Subject: caf\xc3\xa9\r\n\r\nx\0y\r"), SMTPC_BINARYMIME, 1,
	    { "a@d" }, 0, 0, B(C_EHLO "MAIL FROM:<s@o> BODY=BINARYMIME\r\n" C_A
	    "BDAT 38 LAST\r\nSubject: =?UTF-8?Q?caf=C3=A9?=\r\n\r\nx\0y\r"
	    "QUIT\r\n"), 0, { "250 2.0.0" }, NULL, NULL },
	{ "rcpt all refused", S(G, E0, OK, "550 no\r\n", "551 no\r\n", OK, BYE),
	    0, B(BODY), SMTPC_7BIT, 0, { "a@d", "b@d" }, 0, 0,
	    B(C_EHLO C_MAIL C_A C_B "RSET\r\nQUIT\r\n"), 0,
	    { "550 5.0.0", "551 5.0.0" }, NULL, NULL },
	{ "data 250", S(G, E0, OK, OK, OK), 0, B(BODY), SMTPC_7BIT, 0,
	    { "a@d" }, 0, 0, B(C_EHLO C_MAIL C_A "DATA\r\n"), SMTPC_HOSTFAIL,
	    { "-" }, "451 4.5.0", "250 ok" },
	{ "rcpt 354", S(G, E0, OK, "354 what\r\n"), 0, B(BODY), SMTPC_7BIT,
	    0, { "a@d" }, 0, 0, B(C_EHLO C_MAIL C_A), SMTPC_HOSTFAIL, { "-" },
	    "451 4.5.0", NULL },
	{ "final 354", S(G, E0, OK, OK, "354 go\r\n", "354 again\r\n"), 0,
	    B(BODY), SMTPC_7BIT, 0, { "a@d" }, 0, 0,
	    B(C_EHLO C_MAIL C_A "DATA\r\n" BODY ".\r\n"), SMTPC_HOSTFAIL,
	    { "451 4.5.0" }, "451 4.5.0", "354 again" },
	{ "pipelined mail refused", S(G, "250-mx\r\n250 PIPELINING\r\n",
	    "550 5.1.8 bad sender\r\n503 no\r\n503 no\r\n", OK, BYE), 0, B(BODY),
	    SMTPC_7BIT, 0, { "a@d", "b@d" }, 0, 0,
	    B(C_EHLO C_MAIL C_A C_B "RSET\r\nQUIT\r\n"), 0,
	    { "550 5.1.8", "550 5.1.8" }, NULL, NULL },
};

static int
msg_fd(const char *body, size_t len)
{
	int fd = memfd_create("msg", 0);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, body, len), (ssize_t)len);
	return fd;
}

/* "250 2.0.0" of a result, "-" when pending. */
static void
result_str(const struct smtpc_rcpt *r, char *buf, size_t n)
{
	if (!r->done)
		snprintf(buf, n, "-");
	else
		snprintf(buf, n, "%u %s", r->code, r->status);
}

static void
run_case(const struct tcase *t)
{
	struct script s;
	struct io *io = malloc(sizeof(*io));
	struct smtpc c;
	struct smtpc_msg m;
	struct smtpc_rcpt r[NR];
	static const char *const notify[NR] = { "SUCCESS,FAILURE", "", NULL };
	static const char *const orcpt[NR] = { "rfc822;a@d", NULL, "" };
	char got[64];
	size_t i, n = 0;
	int rc;

	print_message("case: %s\n", t->name);
	assert_non_null(io);
	memset(&s, 0, sizeof(s));
	s.chunks = t->script;
	s.end_errno = t->end_errno;
	s.tls_fail = t->tls == 2;
	io_init_ops(io, &script_ops, &s);
	smtpc_init(&c, io, "me.test", "mx[1]");
	if (t->chunk)
		c.chunk = t->chunk;
	if (t->tls) {
		c.starttls = fake_tls;
		c.tls_arg = &s;
	}
	memset(&m, 0, sizeof(m));
	m.fd = msg_fd(t->body, t->bodylen);
	m.size = (off_t)t->bodylen;
	m.sender = "s@o";
	m.ret = "HDRS";
	m.envid = "e+2B1";
	m.body = t->btype;
	m.smtputf8 = t->utf8;
	m.eightbit = -1;
	memset(r, 0, sizeof(r));
	for (n = 0; n < NR && t->rcpt[n] != NULL; n++) {
		r[n].addr = t->rcpt[n];
		r[n].notify = notify[n];
		r[n].orcpt = orcpt[n];
	}
	rc = smtpc_session(&c, &m, r, n);
	if (s.out.len != t->outlen || memcmp(str_cstr(&s.out), t->out, t->outlen))
		fail_msg("%s: transcript\n%s\nexpected\n%s", t->name,
		    str_cstr(&s.out), t->out);
	assert_int_equal(rc, t->rc);
	for (i = 0; i < n; i++) {
		result_str(&r[i], got, sizeof(got));
		if (strcmp(got, t->res[i]) != 0)
			fail_msg("%s: rcpt %zu: %s (%s), expected %s", t->name,
			    i, got, str_cstr(&r[i].text), t->res[i]);
		assert_true(r[i].done || r[i].text.len == 0);
		assert_null(memchr(str_cstr(&r[i].text), '\n', r[i].text.len));
	}
	if (t->fail != NULL) {
		snprintf(got, sizeof(got), "%u %s", c.fail_code, c.fail_status);
		assert_string_equal(got, t->fail);
	}
	if (t->text != NULL && strstr(r[n > 1 ? 1 : 0].text.s ?
	    r[n > 1 ? 1 : 0].text.s : "", t->text) == NULL &&
	    strstr(str_cstr(&c.fail_text), t->text) == NULL)
		fail_msg("%s: text '%s' not in '%s' / '%s'", t->name, t->text,
		    str_cstr(&r[n > 1 ? 1 : 0].text), str_cstr(&c.fail_text));
	if (t->tls)
		assert_int_equal(s.tls_calls, t->rc != SMTPC_HOSTFAIL &&
		    strstr(t->script[2], "220") ? 1 : 0);
	assert_int_equal(c.tls, t->tls == 1 && s.tls_calls == 1);
	for (i = 0; i < NR; i++)
		str_free(&r[i].text);
	smtpc_free(&c);
	str_free(&s.out);
	close(m.fd);
	free(io);
}

static void
test_sessions(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
}

/* Recipients that are done already are not sent again. */
static void
test_done_skipped(void **state)
{
	struct tcase t = { "done skipped", S(G, E0, OK, OK, "354 go\r\n", OK,
	    BYE), 0, B(BODY), SMTPC_7BIT, 0, { "a@d", "b@d" }, 0, 0,
	    B(C_EHLO C_MAIL C_B C_END), 0, { "-", "250 2.0.0" }, NULL, NULL };
	struct script s;
	struct io *io = malloc(sizeof(*io));
	struct smtpc c;
	struct smtpc_msg m;
	struct smtpc_rcpt r[2];

	assert_non_null(io);
	memset(&s, 0, sizeof(s));
	s.chunks = t.script;
	io_init_ops(io, &script_ops, &s);
	smtpc_init(&c, io, "me.test", "mx[1]");
	memset(&m, 0, sizeof(m));
	m.fd = msg_fd(t.body, t.bodylen);
	m.size = (off_t)t.bodylen;
	m.sender = "s@o";
	memset(r, 0, sizeof(r));
	r[0].addr = "a@d";
	r[1].addr = "b@d";
	smtpc_rcpt_set(&r[0], 550, "5.1.1", "earlier %s", "host");
	assert_int_equal(smtpc_session(&c, &m, r, 2), 0);
	assert_int_equal(s.out.len, t.outlen);
	assert_memory_equal(s.out.s, t.out, t.outlen);
	assert_int_equal(r[0].code, 550);
	assert_string_equal(r[0].text.s, "earlier host");
	assert_int_equal(r[1].code, 250);
	str_free(&r[0].text);
	str_free(&r[1].text);
	smtpc_free(&c);
	str_free(&s.out);
	close(m.fd);
	free(io);
}

/* A reply line over SMTPC_LINE_MAX ends the session. */
static void
test_long_line(void **state)
{
	static char line[SMTPC_LINE_MAX + 100];
	const char *chunks[] = { G, line, NULL };
	struct tcase t = { "long line", chunks, 0, B(BODY), SMTPC_7BIT, 0,
	    { "a@d" }, 0, 0, B(C_EHLO), SMTPC_HOSTFAIL, { "-" }, "451 4.5.0",
	    "too long a reply from mx[1]" };

	memset(line, 'x', sizeof(line) - 3);
	memcpy(line, "250 ", 4);
	memcpy(line + sizeof(line) - 3, "\r\n", 3);
	run_case(&t);
}

static void
test_reply_parser(void **state)
{
	static const struct {
		const char *lines[4];
		int rc;			/* of the last line fed */
		unsigned code;
		const char *status, *text;
	} rows[] = {
		{ { "250 ok\r\n" }, 1, 250, "", "ok" },
		{ { "250" }, 1, 250, "", "" },
		{ { "250-a\r\n", "250-b\n", "250 c" }, 1, 250, "", "a b c" },
		{ { "550-5.1.1 a\r\n", "550 5.1.1 b\r\n" }, 1, 550, "5.1.1",
		  "a b" },
		{ { "550 4.1.1 class differs\r\n" }, 1, 550, "",
		  "4.1.1 class differs" },
		{ { "451 4.3.0\r\n" }, 1, 451, "4.3.0", "" },
		{ { "250 2.1234.0 x" }, 1, 250, "", "2.1234.0 x" },
		{ { "250-a\r\n" }, 0, 250, "", "a" },
		{ { "250-a\r\n", "251 b\r\n" }, -1, 0, NULL, NULL },
		{ { "25\r\n" }, -1, 0, NULL, NULL },
		{ { "150 x\r\n" }, -1, 0, NULL, NULL },
		{ { "260 x\r\n" }, -1, 0, NULL, NULL },
		{ { "250x\r\n" }, -1, 0, NULL, NULL },
		{ { "2a0 x\r\n" }, -1, 0, NULL, NULL },
		{ { "250 a\tb\x01\xff" }, 1, 250, "", "a?b??" },
	};
	struct smtpc_reply rep;
	size_t i, j;
	int rc = 0;

	memset(&rep, 0, sizeof(rep));
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		smtpc_reply_reset(&rep);
		for (j = 0; j < 4 && rows[i].lines[j] != NULL; j++)
			rc = smtpc_reply_feed(&rep, rows[i].lines[j],
			    strlen(rows[i].lines[j]));
		assert_int_equal(rc, rows[i].rc);
		if (rc < 0) {
			assert_int_equal(errno, EPROTO);
			continue;
		}
		assert_int_equal(rep.code, rows[i].code);
		assert_string_equal(rep.status, rows[i].status);
		assert_string_equal(str_cstr(&rep.text), rows[i].text);
	}
	/* At most SMTPC_REPLY_LINES lines; the text stays bounded. */
	smtpc_reply_reset(&rep);
	for (i = 0; i < SMTPC_REPLY_LINES; i++)
		assert_int_equal(smtpc_reply_feed(&rep, "250-xxxxxxxxxxxxxxxx",
		    20), 0);
	assert_true(rep.text.len <= SMTPC_TEXT_MAX);
	assert_int_equal(smtpc_reply_feed(&rep, "250 x", 5), -1);
	smtpc_reply_free(&rep);
}

static void
test_ehlo_keywords(void **state)
{
	static const struct {
		const char *line;
		unsigned bit;
		unsigned long long size;
	} rows[] = {
		{ "PIPELINING", SMTPC_EXT_PIPELINING, 0 },
		{ "pipelining", SMTPC_EXT_PIPELINING, 0 },
		{ "PIPELININGX", 0, 0 },
		{ "SIZE 35882577", SMTPC_EXT_SIZE, 35882577 },
		{ "SIZE", SMTPC_EXT_SIZE, 0 },
		{ "SIZE 99999999999999999999999", SMTPC_EXT_SIZE,
		  9999999999999999999ULL },
		{ "8BITMIME", SMTPC_EXT_8BITMIME, 0 },
		{ "BINARYMIME", SMTPC_EXT_BINARYMIME, 0 },
		{ "CHUNKING", SMTPC_EXT_CHUNKING, 0 },
		{ "DSN", SMTPC_EXT_DSN, 0 },
		{ "STARTTLS", SMTPC_EXT_STARTTLS, 0 },
		{ "SMTPUTF8", SMTPC_EXT_SMTPUTF8, 0 },
		{ "ENHANCEDSTATUSCODES", SMTPC_EXT_ENHANCED, 0 },
		{ "AUTH PLAIN LOGIN", 0, 0 },
		{ "", 0, 0 },
	};
	unsigned long long size;
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		size = 0;
		assert_int_equal(smtpc_ehlo_keyword(rows[i].line,
		    strlen(rows[i].line), &size), rows[i].bit);
		assert_true(size == rows[i].size);
	}
}

static void
test_8bit_scan(void **state)
{
	struct smtpc_msg m;
	unsigned char buf[4];

	memset(&m, 0, sizeof(m));
	m.fd = msg_fd("plain ascii text", 16);
	assert_int_equal(smtpc_msg_8bit(&m, buf, sizeof(buf)), 0);
	close(m.fd);
	m.fd = msg_fd("plain ascii text\x80", 17);
	assert_int_equal(smtpc_msg_8bit(&m, buf, sizeof(buf)), 1);
	close(m.fd);
	m.fd = -1;
	assert_int_equal(smtpc_msg_8bit(&m, buf, sizeof(buf)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sessions),
		cmocka_unit_test(test_done_skipped),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_reply_parser),
		cmocka_unit_test(test_ehlo_keywords),
		cmocka_unit_test(test_8bit_scan),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
