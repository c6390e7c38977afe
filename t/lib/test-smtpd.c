/* SPDX-License-Identifier: ISC */
/*
 * Session tests of smtpd: the program's files (all but main.c) are built
 * into this test, and each row runs a whole session on a memory transport
 * with a scripted client, against an instance whose queue-inject is this
 * very program run as a stand-in (fake_inject): it speaks queue-inject -m,
 * saves each message it gets in a file of its own and answers FAKE_REPLY.
 * The replies are checked as a digest: the code (and enhanced code) of the
 * last line of each reply.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../smtpd/cmd-data.c"
#include "../../smtpd/cmd-mail.c"
#include "../../smtpd/cmd-misc.c"
#include "../../smtpd/inject.c"
#include "../../smtpd/received.c"
#include "../../smtpd/relay.c"
#include "../../smtpd/session.c"
#include "../../smtpd/tls.c"

#include "fs.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static char tdir[] = "/tmp/test-smtpd.XXXXXX";
static struct instance inst;

/* The scripted client: reads come from in, chunk bytes at a time, then
 * EOF (or ETIMEDOUT); writes go to out. */
struct client {
	const char *in;
	size_t len, pos, chunk;
	int timeout;
	struct str out;
	unsigned nwrites;
};

static ssize_t
client_read(void *ctx, void *buf, size_t n)
{
	struct client *c = ctx;

	if (c->pos == c->len) {
		if (c->timeout) {
			errno = ETIMEDOUT;
			return -1;
		}
		return 0;
	}
	if (c->chunk && n > c->chunk)
		n = c->chunk;
	if (n > c->len - c->pos)
		n = c->len - c->pos;
	memcpy(buf, c->in + c->pos, n);
	c->pos += n;
	return (ssize_t)n;
}

static ssize_t
client_write(void *ctx, const void *buf, size_t n)
{
	struct client *c = ctx;

	c->nwrites++;
	if (str_append(&c->out, buf, n) < 0)
		return -1;
	return (ssize_t)n;
}

static const struct io_ops client_ops = { client_read, client_write };

static void
put(const char *name, const char *text, mode_t mode)
{
	struct str p = STR_INIT;

	str_appendf(&p, "%s/%s", tdir, name);
	assert_int_equal(fs_write_atomic(p.s, text, strlen(text), mode), 0);
	str_free(&p);
}

static void
put_table(const char *name, const char *text)
{
	struct str p = STR_INIT, err = STR_INIT;

	str_appendf(&p, "tables/%s", name);
	put(p.s, text, 0644);
	str_clear(&p);
	str_appendf(&p, "%s/tables/%s", tdir, name);
	if (table_compile(p.s, &err) < 0)
		fail_msg("%s", err.s);
	str_free(&p);
	str_free(&err);
}

static int
group_setup(void **state)
{
	struct str p = STR_INIT, err = STR_INIT;
	ssize_t n;

	if (mkdtemp(tdir) == NULL)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	log_open("test-smtpd", 1);
	str_appendf(&p, "%s/tables", tdir);
	mkdir(p.s, 0755);
	str_clear(&p);
	str_appendf(&p, "%s/bin", tdir);
	mkdir(p.s, 0755);
	str_clear(&p);
	str_appendf(&p, "%s/fake", tdir);
	mkdir(p.s, 0755);
	setenv("FAKE_DIR", p.s, 1);
	put("zest.conf", "domain = example.org\nhostname = mx.test\n"
	    "tables_dir = tables\nlibexec_dir = bin\nrun_dir = run\n"
	    "log = stderr\nmessage_size_limit = 4k\nmax_recipients = 3\n"
	    "smtpd_error_limit = 5\nsmtpd_line_max = 1000\n"
	    "smtpd_timeout = 10s\n", 0644);
	str_clear(&p);
	if (str_ready(&p, 4096) < 0 || (n = readlink("/proc/self/exe", p.s,
	    p.cap - 1)) <= 0)
		return -1;
	p.s[n] = '\0';
	setenv("FAKE_BIN", p.s, 1);
	put("bin/queue-inject", "#!/bin/sh\n"
	    "exec \"$FAKE_BIN\" --fake-queue-inject \"$@\"\n", 0755);
	put_table("mailboxes", "alice\nbob\n");
	put_table("aliases", "info alice\nsales@other.example bob\n");
	put_table("domains", "example.org\nother.example\n");
	put_table("relay-clients", "192.0.2.99\n198.51.100.0/24\n"
	    "2001:db8:1::/48\n");
	if (instance_open(tdir, &inst, &err) < 0)
		fail_msg("%s", err.s);
	str_free(&p);
	str_free(&err);
	return 0;
}

static int
group_teardown(void **state)
{
	char cmd[256];

	instance_close(&inst);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* End the fake queue-inject (the next message starts one that sees the
 * environment of then) and remove what it left. */
static void
fake_clear(void)
{
	char cmd[256];

	smtpd_inject_shutdown();
	snprintf(cmd, sizeof cmd, "rm -f '%s'/fake/in.*", tdir);
	assert_int_equal(system(cmd), 0);
	unsetenv("FAKE_REPLY");
}

/* Read the fake's input for one message up to and including its LF into
 * msg; 0, or -1 at EOF (or a line over max). */
static int
fake_line(FILE *in, struct str *msg, size_t max)
{
	int c;
	size_t n = 0;

	while ((c = getc(in)) != EOF) {
		if (str_appendc(msg, (char)c) < 0 || ++n > max)
			return -1;
		if (c == '\n')
			return 0;
	}
	return -1;
}

/* Read one message's input (envelope, chunks, E or A) into msg; 'E' or
 * 'A', or 0 at EOF or on anything malformed. */
static char
fake_message(struct str *msg)
{
	unsigned long long len;
	size_t start;
	int c;

	do {
		start = msg->len;
		if (fake_line(stdin, msg, 4096) < 0)
			return 0;
	} while (msg->len - start != 2 || msg->s[start] != '.');
	for (;;) {
		start = msg->len;
		if (fake_line(stdin, msg, 32) < 0)
			return 0;
		if (msg->len - start == 2 && (msg->s[start] == 'E' ||
		    msg->s[start] == 'A'))
			return msg->s[start];
		if (msg->s[start] != 'D')
			return 0;
		len = strtoull(msg->s + start + 1, NULL, 10);
		while (len-- > 0 && (c = getc(stdin)) != EOF)
			str_appendc(msg, (char)c);
	}
}

/*
 * The stand-in for queue-inject: reads messages as queue-inject -m does
 * (QUEUE.md), strictly, and saves each one's input, through its E or A,
 * in $FAKE_DIR/in.PID.N; answers "aborted" to A and $FAKE_REPLY (default
 * "ok TESTID") to E, ending after an answer other than "ok ...", as
 * queue-inject does.  Without -m, one message.
 */
static int
fake_inject(int argc, char **argv)
{
	struct str msg = STR_INIT, path = STR_INIT;
	const char *reply = getenv("FAKE_REPLY");
	int multi = argc > 2 && strcmp(argv[2], "-m") == 0, n, rc = -1;
	char end;

	if (reply == NULL)
		reply = "ok TESTID";
	for (n = 0; rc < 0; n++) {
		str_clear(&msg);
		if ((end = fake_message(&msg)) == 0) {
			/* EOF between messages ends the run */
			if (msg.len > 0)
				printf("554 5.6.0 malformed input\n");
			rc = msg.len > 0;
			break;
		}
		str_clear(&path);
		str_appendf(&path, "%s/in.%ld.%d", getenv("FAKE_DIR"),
		    (long)getpid(), n);
		if (fs_write_atomic(path.s, msg.s, msg.len, 0644) < 0)
			rc = 1;
		else if (end == 'A')
			printf("aborted\n");
		else {
			printf("%s\n", reply);
			if (strncmp(reply, "ok ", 3) != 0)
				rc = 1;
		}
		fflush(stdout);
		if (!multi && rc < 0)
			rc = 0;
	}
	str_free(&msg);
	str_free(&path);
	return rc;
}

/* The pids of the fake queue-injects that saved messages. */
static void
fake_pids(long *pids, size_t max, size_t *n_r)
{
	struct str dir = STR_INIT;
	struct dirent *de;
	DIR *d;
	long pid;
	size_t i;

	*n_r = 0;
	str_appendf(&dir, "%s/fake", tdir);
	assert_non_null(d = opendir(dir.s));
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "in.", 3) != 0)
			continue;
		pid = strtol(de->d_name + 3, NULL, 10);
		for (i = 0; i < *n_r && pids[i] != pid; i++)
			;
		if (i == *n_r && *n_r < max)
			pids[(*n_r)++] = pid;
	}
	closedir(d);
	str_free(&dir);
}

/*
 * The messages queue-inject took whole (its input ended with E): their
 * envelopes (through ".\n") and messages (the D chunks joined) are
 * appended to envs and msgs, separated by a "\1" byte.  Returns how many.
 */
static int
fake_taken(struct str *envs, struct str *msgs)
{
	struct str dir = STR_INIT, path = STR_INIT, in = STR_INIT;
	struct dirent *de;
	DIR *d;
	int n = 0;
	size_t pos, len;
	char *dot, *end;

	str_appendf(&dir, "%s/fake", tdir);
	assert_non_null(d = opendir(dir.s));
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "in.", 3) != 0)
			continue;
		str_clear(&path);
		str_clear(&in);
		str_appendf(&path, "%s/%s", dir.s, de->d_name);
		assert_int_equal(fs_read_file(path.s, 1 << 24, &in), 0);
		if (in.len < 2 || memcmp(in.s + in.len - 2, "E\n", 2) != 0)
			continue;
		assert_non_null(dot = strstr(in.s, "\n.\n"));
		pos = (size_t)(dot - in.s) + 3;
		if (envs != NULL) {
			str_append(envs, in.s, pos);
			str_appendc(envs, '\1');
		}
		while (in.s[pos] == 'D') {
			len = strtoul(in.s + pos + 1, &end, 10);
			assert_int_equal(*end, '\n');
			pos = (size_t)(end - in.s) + 1;
			if (msgs != NULL)
				str_append(msgs, in.s + pos, len);
			pos += len;
		}
		assert_int_equal(pos, in.len - 2);
		if (msgs != NULL)
			str_appendc(msgs, '\1');
		n++;
	}
	closedir(d);
	str_free(&dir);
	str_free(&path);
	str_free(&in);
	return n;
}

/* The digest of the replies in out: "220 250 250/2.1.0 ...". */
static void
digest(const struct str *out, struct str *d)
{
	const char *p = str_cstr(out), *end = p + out->len, *eol, *sp, *sp2;

	str_clear(d);
	for (; p < end; p = eol + 2) {
		eol = strstr(p, "\r\n");
		assert_non_null(eol);
		if (eol - p >= 4 && p[3] == '-')
			continue;
		if (d->len > 0)
			str_appendc(d, ' ');
		str_append(d, p, 3);
		sp = eol - p > 4 ? p + 4 : eol;
		sp2 = memchr(sp, ' ', (size_t)(eol - sp));
		if (sp2 == NULL)
			sp2 = eol;
		if (sp < eol && smtp_enhanced_valid(sp, (size_t)(sp2 - sp))) {
			str_appendc(d, '/');
			str_append(d, sp, (size_t)(sp2 - sp));
		}
	}
}

/* Run one session.  Returns smtpd_run's result. */
static int
session(const char *ip, const char *in, size_t len, size_t chunk,
    int timeout, struct client *c)
{
	struct smtpd *s = calloc(1, sizeof *s);
	struct io *io = calloc(1, sizeof *io);
	int r;

	assert_non_null(s);
	assert_non_null(io);
	memset(c, 0, sizeof *c);
	c->in = in;
	c->len = len;
	c->chunk = chunk;
	c->timeout = timeout;
	str_init(&c->out, 0);
	io_init_ops(io, &client_ops, c);
	assert_int_equal(smtpd_init(s, &inst, io, -1, -1, ip, NULL), 0);
	r = smtpd_run(s);
	smtpd_free(s);
	free(s);
	free(io);
	return r;
}

#define EHLO "EHLO client.example\r\n"
#define MAIL "MAIL FROM:<sender@remote.example>\r\n"
#define RCPT "RCPT TO:<alice@example.org>\r\n"
#define MSG "Subject: t\r\n\r\nbody\r\n"
#define HEAD "220 250 "
#define TX "250/2.1.0 250/2.1.5 "
#define QUIT "QUIT\r\n"
#define BYE "221/2.0.0"

struct row {
	const char *name;
	const char *ip;
	const char *in;
	size_t inlen;		/* 0: strlen(in) */
	const char *want;	/* the digest */
	int queued;		/* messages queue-inject took */
	const char *reply;	/* FAKE_REPLY, NULL: "ok TESTID" */
	int timeout;		/* reads fail with ETIMEDOUT at the end */
};

static const struct row rows[] = {
	{ "one message", "192.0.2.7", EHLO MAIL RCPT "DATA\r\n" MSG ".\r\n"
	    QUIT, 0, HEAD TX "354 250/2.0.0 " BYE, 1, NULL, 0 },
	{ "two messages", "192.0.2.7", EHLO MAIL RCPT "DATA\r\n" MSG ".\r\n"
	    MAIL RCPT "DATA\r\n" MSG ".\r\n" QUIT, 0, HEAD TX "354 250/2.0.0 "
	    TX "354 250/2.0.0 " BYE, 2, NULL, 0 },
	{ "HELO", NULL, "HELO c\r\n" MAIL RCPT "DATA\r\n.\r\n" QUIT, 0,
	    HEAD TX "354 250/2.0.0 " BYE, 1, NULL, 0 },
	{ "HELO params", NULL, "HELO c\r\nMAIL FROM:<a@b> SIZE=1\r\n" QUIT, 0,
	    HEAD "555/5.5.4 " BYE, 0, NULL, 0 },
	{ "EHLO syntax", NULL, "EHLO\r\nEHLO a b\r\nHELO\r\n" QUIT, 0,
	    "220 501/5.5.4 501/5.5.4 501/5.5.4 " BYE, 0, NULL, 0 },
	{ "order before EHLO", NULL, MAIL RCPT "DATA\r\n" EHLO RCPT QUIT, 0,
	    "220 503/5.5.1 503/5.5.1 503/5.5.1 250 503/5.5.1 " BYE, 0, NULL,
	    0 },
	{ "order after EHLO", NULL, EHLO MAIL MAIL "DATA\r\n" QUIT, 0,
	    HEAD "250/2.1.0 503/5.5.1 554/5.5.1 " BYE, 0, NULL, 0 },
	{ "recipients", NULL, EHLO MAIL "RCPT TO:<nobody@example.org>\r\n"
	    "RCPT TO:<x@elsewhere.example>\r\nRCPT TO:<INFO@Example.ORG>\r\n"
	    "RCPT TO:<sales@other.example>\r\nRCPT TO:<Bob@other.example>\r\n"
	    QUIT, 0, HEAD "250/2.1.0 550/5.1.1 550/5.7.1 250/2.1.5 250/2.1.5 "
	    "250/2.1.5 " BYE, 0, NULL, 0 },
	{ "postmaster", NULL, EHLO MAIL "RCPT TO:<Postmaster>\r\n"
	    "RCPT TO:<postmaster@other.example>\r\n"
	    "RCPT TO:<postmaster@elsewhere.example>\r\n" QUIT, 0, HEAD
	    "250/2.1.0 250/2.1.5 250/2.1.5 550/5.7.1 " BYE, 0, NULL, 0 },
	{ "quoted local part", NULL, EHLO MAIL "RCPT TO:<\"alice\"@example.org>"
	    "\r\nRCPT TO:<\"al ice\"@example.org>\r\n" QUIT, 0, HEAD
	    "250/2.1.0 250/2.1.5 550/5.1.1 " BYE, 0, NULL, 0 },
	{ "relay client", "192.0.2.99", EHLO MAIL "RCPT TO:<x@elsewhere.example>"
	    "\r\n" QUIT, 0, HEAD TX BYE, 0, NULL, 0 },
	{ "relay network", "198.51.100.77", EHLO MAIL
	    "RCPT TO:<x@elsewhere.example>\r\n" QUIT, 0, HEAD TX BYE, 0, NULL,
	    0 },
	{ "relay network v6", "2001:db8:1:2::5", EHLO MAIL
	    "RCPT TO:<x@elsewhere.example>\r\n" QUIT, 0, HEAD TX BYE, 0, NULL,
	    0 },
	{ "no relay next door", "198.51.101.1", EHLO MAIL
	    "RCPT TO:<x@elsewhere.example>\r\n" QUIT, 0, HEAD
	    "250/2.1.0 550/5.7.1 " BYE, 0, NULL, 0 },
	{ "literal domain", "192.0.2.7", EHLO MAIL "RCPT TO:<a@[192.0.2.1]>\r\n"
	    QUIT, 0, HEAD "250/2.1.0 550/5.7.1 " BYE, 0, NULL, 0 },
	{ "too many recipients", NULL, EHLO MAIL RCPT RCPT RCPT RCPT QUIT, 0,
	    HEAD TX "250/2.1.5 250/2.1.5 452/4.5.3 " BYE, 0, NULL, 0 },
	{ "address syntax", NULL, EHLO "MAIL FROM:a@b\r\nMAIL FROM:<a@b\r\n"
	    "MAIL TO:<a@b>\r\n" MAIL "RCPT TO:<a@@b>\r\n" QUIT, 0, HEAD
	    "501/5.1.7 501/5.1.7 501/5.1.7 250/2.1.0 501/5.1.3 " BYE, 0, NULL,
	    0 },
	{ "non-ASCII without SMTPUTF8", NULL, EHLO
	    "MAIL FROM:<j\xc3\xb6rg@x.example>\r\n" MAIL
	    "RCPT TO:<j\xc3\xb6rg@example.org>\r\n" QUIT, 0, HEAD
	    "553/5.6.7 250/2.1.0 553/5.6.7 " BYE, 0, NULL, 0 },
	{ "SMTPUTF8", NULL, EHLO "MAIL FROM:<j\xc3\xb6rg@x.example> SMTPUTF8\r\n"
	    RCPT "DATA\r\nSubject: \xc3\xa9\r\n\r\n.\r\n" QUIT, 0, HEAD TX
	    "354 250/2.0.0 " BYE, 1, NULL, 0 },
	{ "parameters", NULL, EHLO
	    "MAIL FROM:<a@b> SIZE=10 SIZE=10\r\n"
	    "MAIL FROM:<a@b> FOO=1\r\n"
	    "MAIL FROM:<a@b> BODY=9BIT\r\n"
	    "MAIL FROM:<a@b> RET=ALL\r\n" QUIT, 0, HEAD "501/5.5.4 "
	    "555/5.5.4 501/5.5.4 501/5.5.4 " BYE, 0, NULL, 0 },
	{ "more parameters", NULL, EHLO "MAIL FROM:<a@b> SMTPUTF8=yes\r\n"
	    "MAIL FROM:<a@b> ENVID=a+2\r\nMAIL FROM:<a@b> SIZE=1x\r\n"
	    "MAIL FROM:<a@b> SIZE\r\n" QUIT, 0, HEAD "501/5.5.4 501/5.5.4 "
	    "501/5.5.4 501/5.5.4 " BYE, 0, NULL, 0 },
	{ "DSN parameters", NULL, EHLO
	    "MAIL FROM:<a@b> RET=HDRS ENVID=QQ+2B1\r\n"
	    "RCPT TO:<alice@example.org> NOTIFY=NEVER,DELAY\r\n"
	    "RCPT TO:<alice@example.org> ORCPT=rfc822\r\n"
	    "RCPT TO:<alice@example.org> NOTIFY=delay,failure "
	    "ORCPT=rfc822;alice@example.org\r\n" QUIT, 0, HEAD
	    "250/2.1.0 501/5.5.4 501/5.5.4 250/2.1.5 " BYE, 0, NULL, 0 },
	{ "declared size", NULL, EHLO "MAIL FROM:<a@b> SIZE=4097\r\n"
	    "MAIL FROM:<a@b> SIZE=99999999999999999999\r\n"
	    "MAIL FROM:<a@b> SIZE=4096\r\n" QUIT, 0, HEAD
	    "552/5.3.4 552/5.3.4 250/2.1.0 " BYE, 0, NULL, 0 },
	{ "misc commands", NULL, "NOOP\r\nNOOP x\r\nVRFY alice\r\nVRFY\r\n"
	    "EXPN list\r\nHELP\r\nRSET\r\nRSET x\r\n" QUIT, 0, "220 "
	    "250/2.0.0 250/2.0.0 252/2.0.0 501/5.5.4 502/5.5.1 214/2.0.0 "
	    "250/2.0.0 501/5.5.4 " BYE, 0, NULL, 0 },
	{ "not here", NULL, "AUTH PLAIN\r\nSTARTTLS\r\nQUIT now\r\n" QUIT, 0,
	    "220 502/5.5.1 454/4.7.0 501/5.5.4 " BYE, 0, NULL, 0 },
	{ "unknown command", NULL, "XYZZY\r\n" QUIT, 0, "220 500/5.5.2 " BYE, 0,
	    NULL, 0 },
	{ "bare LF command", NULL, "NOOP\n" QUIT, 0, "220 500/5.5.2 " BYE, 0,
	    NULL, 0 },
	{ "CR inside a command", NULL, "NOOP\rQUIT\r\n" QUIT, 0,
	    "220 500/5.5.2 " BYE, 0, NULL, 0 },
	{ "error limit", NULL, "X\r\nX\r\nX\r\nX\r\nX\r\nNOOP\r\n", 0,
	    "220 500/5.5.2 500/5.5.2 500/5.5.2 500/5.5.2 500/5.5.2 421/4.7.0",
	    0, NULL, 0 },
	{ "browser", NULL, "GET / HTTP/1.0\r\n" QUIT, 0, "220", 0, NULL, 0 },
	{ "timeout", NULL, EHLO, 0, HEAD "421/4.4.2", 0, NULL, 1 },
	{ "timeout in DATA", NULL, EHLO MAIL RCPT "DATA\r\nSubject: x\r\n", 0,
	    HEAD TX "354 421/4.4.2", 0, NULL, 1 },
	{ "EOF in DATA", NULL, EHLO MAIL RCPT "DATA\r\nSubject: x\r\n", 0,
	    HEAD TX "354", 0, NULL, 0 },
	{ "EOF in a line", NULL, "NOOP", 0, "220", 0, NULL, 0 },
	/* DATA refusals: the session goes on after the true end. */
	{ "smuggling LF.LF", NULL, EHLO MAIL RCPT "DATA\r\nx\n.\n" MAIL RCPT
	    "DATA\r\nevil\r\n.\r\n" QUIT, 0, HEAD TX "354 554/5.6.0 " BYE, 0,
	    NULL, 0 },
	{ "smuggling LF.CRLF", NULL, EHLO MAIL RCPT "DATA\r\nx\n.\r\n" MAIL RCPT
	    "DATA\r\nevil\r\n.\r\n" QUIT, 0, HEAD TX "354 554/5.6.0 " BYE, 0,
	    NULL, 0 },
	{ "smuggling CRLF.LF", NULL, EHLO MAIL RCPT "DATA\r\nx\r\n.\n" MAIL RCPT
	    "DATA\r\nevil\r\n.\r\n" QUIT, 0, HEAD TX "354 554/5.6.0 " BYE, 0,
	    NULL, 0 },
	{ "smuggling CR.CR", NULL, EHLO MAIL RCPT "DATA\r\nx\r.\r" MAIL RCPT
	    "DATA\r\nevil\r\n.\r\n" QUIT, 0, HEAD TX "354 554/5.6.0 " BYE, 0,
	    NULL, 0 },
	{ "smuggling CR.CRLF", NULL, EHLO MAIL RCPT "DATA\r\nx\r.\r\n" MAIL RCPT
	    "DATA\r\nevil\r\n.\r\n" QUIT, 0, HEAD TX "354 554/5.6.0 " BYE, 0,
	    NULL, 0 },
	{ "smuggling CRLF.CR", NULL, EHLO MAIL RCPT "DATA\r\nx\r\n.\r" MAIL RCPT
	    "DATA\r\nevil\r\n.\r\n" QUIT, 0, HEAD TX "354 554/5.6.0 " BYE, 0,
	    NULL, 0 },
	{ "smuggling, client never ends", NULL, EHLO MAIL RCPT "DATA\r\nx\n.\n"
	    QUIT, 0, HEAD TX "354", 0, NULL, 0 },
	{ "NUL in DATA", NULL, EHLO MAIL RCPT "DATA\r\na\0b\r\n.\r\n" QUIT,
	    sizeof(EHLO MAIL RCPT "DATA\r\na\0b\r\n.\r\n" QUIT) - 1, HEAD TX
	    "354 554/5.6.0 " BYE, 0, NULL, 0 },
	/* queue-inject's answers. */
	{ "queue refuses", NULL, EHLO MAIL RCPT "DATA\r\n.\r\n" QUIT, 0,
	    HEAD TX "354 452/4.3.1 " BYE, 1, "452 4.3.1 disk full", 0 },
	{ "queue babbles", NULL, EHLO MAIL RCPT "DATA\r\n.\r\n" QUIT, 0,
	    HEAD TX "354 451/4.3.0 " BYE, 1, "what?", 0 },
	{ "queue bad id", NULL, EHLO MAIL RCPT "DATA\r\n.\r\n" QUIT, 0,
	    HEAD TX "354 451/4.3.0 " BYE, 1, "ok ../x", 0 },
	/* BDAT (RFC 3030). */
	{ "BDAT", NULL, EHLO MAIL RCPT "BDAT 5\r\nhelloBDAT 0\r\nBDAT 2 LAST\r\n"
	    "\r\n" QUIT, 0, HEAD TX "250/2.0.0 250/2.0.0 250/2.0.0 " BYE, 1,
	    NULL, 0 },
	{ "BDAT 0 LAST", NULL, EHLO MAIL RCPT "BDAT 0 LAST\r\n" QUIT, 0, HEAD TX
	    "250/2.0.0 " BYE, 1, NULL, 0 },
	{ "BDAT binary", NULL, EHLO "MAIL FROM:<a@b> BODY=BINARYMIME\r\n" RCPT
	    "BDAT 6 LAST\r\n\0\n\r.\n\xff" QUIT, sizeof(EHLO
	    "MAIL FROM:<a@b> BODY=BINARYMIME\r\n" RCPT "BDAT 6 LAST\r\n"
	    "\0\n\r.\n\xff" QUIT) - 1, HEAD TX "250/2.0.0 " BYE, 1, NULL, 0 },
	{ "BDAT text bare LF", NULL, EHLO MAIL RCPT "BDAT 3\r\na\nbBDAT 4 LAST"
	    "\r\nQUITNOOP\r\n" QUIT, 0, HEAD TX "554/5.6.0 503/5.5.1 250/2.0.0 "
	    BYE, 0, NULL, 0 },
	{ "BDAT text CR at end", NULL, EHLO MAIL RCPT "BDAT 2 LAST\r\na\r" QUIT,
	    0, HEAD TX "554/5.6.0 " BYE, 0, NULL, 0 },
	{ "BDAT without MAIL", NULL, EHLO "BDAT 6\r\nQUIT\r\nNOOP\r\n" QUIT, 0,
	    HEAD "503/5.5.1 250/2.0.0 " BYE, 0, NULL, 0 },
	{ "BDAT without RCPT", NULL, EHLO MAIL "BDAT 4 LAST\r\nQUIT" QUIT, 0,
	    HEAD "250/2.1.0 554/5.5.1 " BYE, 0, NULL, 0 },
	{ "BDAT too big, chunk cut", NULL, EHLO MAIL RCPT "BDAT 5000\r\n" QUIT,
	    0, "220 250 250/2.1.0 250/2.1.5", 0, NULL, 0 },
	{ "BDAT bad size", NULL, EHLO MAIL RCPT "BDAT x\r\nNOOP\r\n", 0,
	    HEAD TX "501/5.5.4", 0, NULL, 0 },
	{ "BDAT then DATA", NULL, EHLO MAIL RCPT "BDAT 1\r\nxDATA\r\nRCPT TO:"
	    "<bob@example.org>\r\nBDAT 0 LAST\r\n" QUIT, 0, HEAD TX
	    "250/2.0.0 503/5.5.1 503/5.5.1 250/2.0.0 " BYE, 1, NULL, 0 },
	{ "DATA with BINARYMIME", NULL, EHLO
	    "MAIL FROM:<a@b> BODY=BINARYMIME\r\n" RCPT "DATA\r\n" QUIT, 0,
	    HEAD TX "503/5.5.1 " BYE, 0, NULL, 0 },
	{ "BDAT after RSET", NULL, EHLO MAIL RCPT "BDAT 1\r\nxRSET\r\n"
	    "BDAT 1 LAST\r\ny" QUIT, 0, HEAD TX "250/2.0.0 250/2.0.0 "
	    "503/5.5.1 " BYE, 0, NULL, 0 },
};

static void
test_rows(void **state)
{
	struct client c;
	struct str d = STR_INIT;
	size_t i, len;
	int n;

	for (i = 0; i < N(rows); i++) {
		const struct row *w = &rows[i];

		fake_clear();
		if (w->reply != NULL)
			setenv("FAKE_REPLY", w->reply, 1);
		len = w->inlen ? w->inlen : strlen(w->in);
		session(w->ip, w->in, len, 0, w->timeout, &c);
		digest(&c.out, &d);
		if (strcmp(d.s, w->want) != 0)
			fail_msg("%s:\n got %s\nwant %s", w->name, d.s, w->want);
		if ((n = fake_taken(NULL, NULL)) != w->queued)
			fail_msg("%s: %d messages taken", w->name, n);
		str_free(&c.out);
	}
	fake_clear();
	str_free(&d);
}

/* The same sessions, the client's bytes arriving one at a time. */
static void
test_rows_bytewise(void **state)
{
	struct client c;
	struct str d1 = STR_INIT, d2 = STR_INIT;
	size_t i, len;

	for (i = 0; i < N(rows); i++) {
		const struct row *w = &rows[i];

		fake_clear();
		if (w->reply != NULL)
			setenv("FAKE_REPLY", w->reply, 1);
		len = w->inlen ? w->inlen : strlen(w->in);
		session(w->ip, w->in, len, 1, w->timeout, &c);
		digest(&c.out, &d1);
		str_free(&c.out);
		if (strcmp(d1.s, w->want) != 0)
			fail_msg("%s (bytewise):\n got %s\nwant %s", w->name,
			    d1.s, w->want);
		assert_int_equal(fake_taken(NULL, NULL), w->queued);
	}
	fake_clear();
	str_free(&d1);
	str_free(&d2);
}

/* Run a session and return the one message taken (envelope, message). */
static void
one_message(const char *ip, const char *in, size_t len, const char *want,
    struct str *env, struct str *msg)
{
	struct client c;
	struct str d = STR_INIT;

	fake_clear();
	str_clear(env);
	str_clear(msg);
	session(ip, in, len, 0, 0, &c);
	digest(&c.out, &d);
	if (strcmp(d.s, want) != 0)
		fail_msg("got %s\nwant %s", d.s, want);
	assert_int_equal(fake_taken(env, msg), 1);
	str_free(&c.out);
	str_free(&d);
}

/* The message after the Received header (which must come first). */
static const char *
after_received(const struct str *msg, const char *start)
{
	const char *p = str_cstr(msg), *end;

	if (strncmp(p, start, strlen(start)) != 0)
		fail_msg("Received starts '%.80s'", p);
	/* The header ends at the first line not starting with a tab. */
	for (end = p; (end = strstr(end, "\r\n")) != NULL; end += 2)
		if (end[2] != '\t')
			return end + 2;
	fail_msg("no end of Received");
	return NULL;
}

static void
test_envelope(void **state)
{
	static const char in[] = EHLO "MAIL FROM:<sender@remote.example> "
	    "RET=HDRS ENVID=QQ+2B1 BODY=8BITMIME\r\n"
	    "RCPT TO:<alice@example.org> NOTIFY=delay,failure "
	    "ORCPT=rfc822;alice@example.org\r\nRCPT TO:<Postmaster>\r\n"
	    "DATA\r\n.\r\n" QUIT;
	struct str env = STR_INIT, msg = STR_INIT;

	one_message("192.0.2.7", in, strlen(in), HEAD TX "250/2.1.5 354 "
	    "250/2.0.0 " BYE, &env, &msg);
	assert_string_equal(env.s, "V1\nFsender@remote.example\nXHDRS\n"
	    "NQQ+2B1\nB8BITMIME\nChelo=client.example addr=192.0.2.7 tls=no\n"
	    "Ralice@example.org\tFAILURE,DELAY\trfc822;alice@example.org\n"
	    "Rpostmaster@example.org\t\t\n.\n\1");
	/* Two recipients: no "for" clause. */
	assert_null(strstr(msg.s, "\tfor <"));
	/* The null sender, a HELO name that is not a domain, no address. */
	one_message(NULL, "HELO my_host\r\nMAIL FROM:<>\r\n" RCPT
	    "DATA\r\n.\r\n" QUIT, 0 + strlen("HELO my_host\r\nMAIL FROM:<>\r\n"
	    RCPT "DATA\r\n.\r\n" QUIT), HEAD TX "354 250/2.0.0 " BYE, &env,
	    &msg);
	assert_string_equal(env.s, "V1\nF\nB7BIT\n"
	    "Chelo=my_host addr=unknown tls=no\nRalice@example.org\t\t\n.\n\1");
	after_received(&msg, "Received: from unknown (helo=my_host)\r\n"
	    "\tby mx.test (Zest) with SMTP\r\n\tid ");
	str_free(&env);
	str_free(&msg);
}

static void
test_message(void **state)
{
	static const char in[] = EHLO MAIL RCPT "DATA\r\nSubject: dots\r\n"
	    "\r\n..\r\n...two\r\n.one\r\nmid.dot\r\n\xc3\xa9t\xc3\xa9\r\n"
	    "\r\n.\r\n" QUIT;
	struct str env = STR_INIT, msg = STR_INIT;
	const char *body;

	one_message("192.0.2.7", in, strlen(in), HEAD TX "354 250/2.0.0 "
	    BYE, &env, &msg);
	body = after_received(&msg, "Received: from client.example "
	    "([192.0.2.7])\r\n\tby mx.test (Zest) with ESMTP\r\n\tid ");
	assert_non_null(strstr(msg.s, "\r\n\tfor <alice@example.org>; "));
	assert_string_equal(body, "Subject: dots\r\n\r\n.\r\n..two\r\none\r\n"
	    "mid.dot\r\n\xc3\xa9t\xc3\xa9\r\n\r\n\1");
	/* IPv6 client: an IPv6 address literal. */
	one_message("2001:db8::7", in, strlen(in), HEAD TX "354 250/2.0.0 "
	    BYE, &env, &msg);
	after_received(&msg, "Received: from client.example "
	    "([IPv6:2001:db8::7])\r\n");
	str_free(&env);
	str_free(&msg);
}

static void
test_binary(void **state)
{
	struct str in = STR_INIT, env = STR_INIT, msg = STR_INIT;
	const char *body;
	unsigned i;

	str_appends(&in, EHLO "MAIL FROM:<a@b> BODY=BINARYMIME\r\n" RCPT
	    "BDAT 200\r\n");
	for (i = 0; i < 200; i++)
		str_appendc(&in, (char)i);
	str_appends(&in, "BDAT 56 LAST\r\n");
	for (i = 200; i < 256; i++)
		str_appendc(&in, (char)i);
	str_appends(&in, QUIT);
	one_message(NULL, in.s, in.len, HEAD TX "250/2.0.0 250/2.0.0 " BYE,
	    &env, &msg);
	assert_non_null(strstr(env.s, "\nBBINARYMIME\n"));
	body = after_received(&msg, "Received: from client.example (unknown)"
	    "\r\n");
	assert_int_equal(msg.len - (size_t)(body - msg.s), 257);
	for (i = 0; i < 256; i++)
		assert_int_equal((unsigned char)body[i], i);
	str_free(&in);
	str_free(&env);
	str_free(&msg);
}

static void
test_utf8_received(void **state)
{
	static const char in[] = EHLO "MAIL FROM:<j\xc3\xb6rg@x.example> "
	    "SMTPUTF8\r\nRCPT TO:<alice@example.org> ORCPT=utf-8;"
	    "al\xc3\xaf" "ce@example.org\r\nRCPT TO:<bob@example.org>\r\n"
	    "DATA\r\n.\r\n" QUIT;
	struct str env = STR_INIT, msg = STR_INIT;

	one_message(NULL, in, strlen(in), HEAD TX "250/2.1.5 354 250/2.0.0 "
	    BYE, &env, &msg);
	assert_string_equal(env.s, "V1\nFj\xc3\xb6rg@x.example\nB8BITMIME\nU\n"
	    "Chelo=client.example addr=unknown tls=no\n"
	    "Ralice@example.org\t\tutf-8;al\xc3\xaf" "ce@example.org\n"
	    "Rbob@example.org\t\t\n.\n\1");
	assert_non_null(strstr(msg.s, "\tby mx.test (Zest) with UTF8SMTP\r\n"));
	str_free(&env);
	str_free(&msg);
}

/* A group of pipelined commands is answered in one write. */
static void
test_pipelining(void **state)
{
	static const char in[] = EHLO MAIL RCPT RCPT "RSET\r\n" QUIT;
	struct client c;
	struct str d = STR_INIT;

	fake_clear();
	session(NULL, in, strlen(in), 0, 0, &c);
	digest(&c.out, &d);
	assert_string_equal(d.s, HEAD TX "250/2.1.5 250/2.0.0 " BYE);
	assert_int_equal(c.nwrites, 2);	/* the greeting, then the rest */
	str_free(&c.out);
	/* One byte at a time: every reply goes out before the next read. */
	session(NULL, in, strlen(in), 1, 0, &c);
	assert_int_equal(c.nwrites, 7);
	str_free(&c.out);
	str_free(&d);
}

static void
test_no_queue_inject(void **state)
{
	static const char in[] = EHLO MAIL RCPT "DATA\r\n" MAIL RCPT
	    "BDAT 3 LAST\r\nabc" QUIT;
	struct client c;
	struct str d = STR_INIT, p = STR_INIT;

	fake_clear();
	str_appendf(&p, "%s/bin/queue-inject", tdir);
	assert_int_equal(chmod(p.s, 0644), 0);
	session(NULL, in, strlen(in), 0, 0, &c);
	assert_int_equal(chmod(p.s, 0755), 0);
	digest(&c.out, &d);
	assert_string_equal(d.s, HEAD TX "451/4.3.0 " TX "451/4.3.0 " BYE);
	str_free(&c.out);
	str_free(&d);
	str_free(&p);
}

/* Over message_size_limit (4k here, Received header included). */
static void
test_too_big(void **state)
{
	struct str in = STR_INIT, d = STR_INIT;
	struct client c;
	size_t i;

	fake_clear();
	str_appends(&in, EHLO MAIL RCPT "DATA\r\n");
	for (i = 0; i < 80; i++)
		str_appends(&in, "0123456789012345678901234567890123456789"
		    "0123456789\r\n");
	str_appends(&in, ".\r\nRSET\r\n" MAIL RCPT "BDAT 4097\r\n");
	for (i = 0; i < 4097; i++)
		str_appendc(&in, 'x');
	str_appends(&in, "NOOP\r\nMAIL FROM:<a@b> BODY=BINARYMIME\r\n" RCPT
	    "BDAT 3000\r\n");
	for (i = 0; i < 3000; i++)
		str_appendc(&in, 'y');
	str_appends(&in, "BDAT 3000 LAST\r\n");
	for (i = 0; i < 3000; i++)
		str_appendc(&in, 'z');
	str_appends(&in, QUIT);
	session(NULL, in.s, in.len, 0, 0, &c);
	digest(&c.out, &d);
	assert_string_equal(d.s, HEAD TX "354 552/5.3.4 250/2.0.0 " TX
	    "552/5.3.4 250/2.0.0 " TX "250/2.0.0 552/5.3.4 " BYE);
	assert_int_equal(fake_taken(NULL, NULL), 0);
	str_free(&c.out);
	str_free(&in);
	str_free(&d);
}

/* Lines: smtpd_line_max (1000 here) counts the CRLF. */
static void
test_long_line(void **state)
{
	struct str in = STR_INIT, d = STR_INIT;
	struct client c;
	size_t i;

	fake_clear();
	str_appends(&in, EHLO MAIL RCPT "DATA\r\n");
	for (i = 0; i < 998; i++)
		str_appendc(&in, 'a');
	str_appends(&in, "\r\n.\r\n" MAIL RCPT "DATA\r\n");
	for (i = 0; i < 999; i++)
		str_appendc(&in, 'b');
	str_appends(&in, "\r\n.\r\n");
	/* A command line over SMTP_CMD_LINE_MAX. */
	for (i = 0; i < SMTP_CMD_LINE_MAX; i++)
		str_appendc(&in, 'N');
	str_appends(&in, "\r\n" QUIT);
	session(NULL, in.s, in.len, 0, 0, &c);
	digest(&c.out, &d);
	assert_string_equal(d.s, HEAD TX "354 250/2.0.0 " TX "354 554/5.6.0 "
	    "500/5.5.2 " BYE);
	assert_int_equal(fake_taken(NULL, NULL), 1);
	str_free(&c.out);
	str_free(&in);
	str_free(&d);
}

/* One queue-inject for every message of the process, across sessions;
 * an aborted transaction (RSET in BDAT, the size limit, a lost
 * connection) sends A and keeps it. */
static void
test_one_child(void **state)
{
	static const char in1[] = EHLO MAIL RCPT "DATA\r\n" MSG ".\r\n" MAIL
	    RCPT "BDAT 3\r\nabcRSET\r\n" MAIL RCPT "BDAT 2 LAST\r\nhi" QUIT;
	static const char in2[] = EHLO MAIL RCPT "DATA\r\n" MSG ".\r\n" MAIL
	    RCPT "DATA\r\nSubject: x\r\n";
	struct str d = STR_INIT, big = STR_INIT;
	struct client c;
	long pids[4];
	size_t n, i;

	fake_clear();
	session(NULL, in1, strlen(in1), 0, 0, &c);
	digest(&c.out, &d);
	assert_string_equal(d.s, HEAD TX "354 250/2.0.0 " TX "250/2.0.0 "
	    "250/2.0.0 " TX "250/2.0.0 " BYE);
	str_free(&c.out);
	/* the next session, lost in the middle of its second message */
	session("192.0.2.7", in2, strlen(in2), 0, 0, &c);
	digest(&c.out, &d);
	assert_string_equal(d.s, HEAD TX "354 250/2.0.0 " TX "354");
	str_free(&c.out);
	/* over the size limit */
	str_appends(&big, EHLO MAIL RCPT "DATA\r\n");
	for (i = 0; i < 100; i++)
		str_appends(&big, "0123456789012345678901234567890123456789"
		    "0123456789\r\n");
	str_appends(&big, ".\r\n" MAIL RCPT "DATA\r\n" MSG ".\r\n" QUIT);
	session(NULL, big.s, big.len, 0, 0, &c);
	digest(&c.out, &d);
	assert_string_equal(d.s, HEAD TX "354 552/5.3.4 " TX "354 250/2.0.0 "
	    BYE);
	str_free(&c.out);
	assert_int_equal(fake_taken(NULL, NULL), 4);
	fake_pids(pids, 4, &n);
	assert_int_equal(n, 1);
	fake_clear();
	str_free(&d);
	str_free(&big);
}

/* The state letter of process pid (R, S, Z, ...), 0 when unknown. */
static char
proc_state(pid_t pid)
{
	struct str path = STR_INIT, st = STR_INIT;
	const char *p;
	char c = 0;

	str_appendf(&path, "/proc/%ld/stat", (long)pid);
	if (fs_read_file(path.s, 4096, &st) == 0 &&
	    (p = strrchr(str_cstr(&st), ')')) != NULL && p[1] == ' ')
		c = p[2];
	str_free(&path);
	str_free(&st);
	return c;
}

/* A queue-inject that died between messages is replaced at the next. */
static void
test_child_gone(void **state)
{
	static const char in[] = EHLO MAIL RCPT "DATA\r\n" MSG ".\r\n" QUIT;
	struct str d = STR_INIT;
	struct client c;
	long pids[4];
	size_t n;
	int i;

	fake_clear();
	session(NULL, in, strlen(in), 0, 0, &c);
	str_free(&c.out);
	fake_pids(pids, 4, &n);
	assert_int_equal(n, 1);
	assert_int_equal(kill((pid_t)pids[0], SIGKILL), 0);
	/* gone, not just signalled: a zombie until smtpd reaps it */
	for (i = 0; i < 10000 && proc_state((pid_t)pids[0]) != 'Z'; i++)
		usleep(1000);
	session(NULL, in, strlen(in), 0, 0, &c);
	digest(&c.out, &d);
	assert_string_equal(d.s, HEAD TX "354 250/2.0.0 " BYE);
	str_free(&c.out);
	assert_int_equal(fake_taken(NULL, NULL), 2);
	fake_pids(pids, 4, &n);
	assert_int_equal(n, 2);
	fake_clear();
	str_free(&d);
}

/* tlsrelay's line of TLS facts: what smtpd takes into its Received
 * header and envelope, and what it refuses. */
static void
test_tls_facts(void **state)
{
	static const struct {
		const char *line;
		int ok;
	} facts[] = {
		{ "TLSv1.3:TLS_AES_256_GCM_SHA384:256", 0 },
		{ "TLSv1.2:ECDHE-RSA-AES128-GCM-SHA256:128", 0 },
		{ "", -1 },
		{ "TLSv1.3 x", -1 },
		{ "TLSv1.3:\x01", -1 },
		{ "TLSv1.3:\x7f", -1 },
		{ "TLSv1.3:\xc3\xa9", -1 },
		{ "TLSv1.3\r", -1 },
	};
	char longline[SMTPD_TLS_INFO_MAX + 1];
	size_t i;

	for (i = 0; i < sizeof facts / sizeof facts[0]; i++)
		if (smtpd_tls_facts_ok(facts[i].line, strlen(facts[i].line)) !=
		    facts[i].ok)
			fail_msg("row %zu '%s'", i, facts[i].line);
	memset(longline, 'a', sizeof longline);
	assert_int_equal(smtpd_tls_facts_ok(longline,
	    SMTPD_TLS_INFO_MAX - 1), 0);
	assert_int_equal(smtpd_tls_facts_ok(longline, SMTPD_TLS_INFO_MAX), -1);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_rows_bytewise),
		cmocka_unit_test(test_envelope),
		cmocka_unit_test(test_message),
		cmocka_unit_test(test_binary),
		cmocka_unit_test(test_utf8_received),
		cmocka_unit_test(test_pipelining),
		cmocka_unit_test(test_no_queue_inject),
		cmocka_unit_test(test_too_big),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_one_child),
		cmocka_unit_test(test_child_gone),
		cmocka_unit_test(test_tls_facts),
	};

	if (argc > 1 && strcmp(argv[1], "--fake-queue-inject") == 0)
		return fake_inject(argc, argv);

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
