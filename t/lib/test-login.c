/* SPDX-License-Identifier: ISC */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "login.h"

/* ---- frames ---- */

static void
test_frame_roundtrip(void **state)
{
	struct str buf = STR_INIT;
	struct login_frame f;
	const char *fields[4] = { "alice", "T", "tag", "x\0y" };
	size_t len[4] = { 5, 1, 3, 3 };

	assert_int_equal(login_frame_encode(&buf, 'L', 4, fields, len), 0);
	assert_int_equal(buf.len, 3 + 5 + 1 + 1 + 1 + 3 + 1 + 3);
	assert_int_equal((unsigned char)buf.s[0], 'L');
	assert_int_equal((unsigned char)buf.s[1], 0);
	assert_int_equal((unsigned char)buf.s[2], 15);
	assert_int_equal(login_frame_decode('L', buf.s + 3, buf.len - 3, 4,
	    &f), 0);
	assert_int_equal(f.len[0], 5);
	assert_memory_equal(f.field[0], "alice", 5);
	assert_int_equal(f.len[3], 3);
	assert_memory_equal(f.field[3], "x\0y", 3);
	/* fewer fields than the type has */
	assert_int_equal(login_frame_decode('L', buf.s + 3, 6, 4, &f), -1);
	assert_int_equal(errno, EBADMSG);
	str_free(&buf);
}

static void
test_frame_limits(void **state)
{
	struct str buf = STR_INIT;
	const char *fields[2] = { "a\0b", "pw" };
	size_t len[2] = { 3, 2 };
	char *big = calloc(1, LOGIN_FRAME_MAX + 1);

	assert_non_null(big);
	/* a NUL inside a field that is not the last */
	assert_int_equal(login_frame_encode(&buf, 'P', 2, fields, len), -1);
	assert_int_equal(errno, EINVAL);
	fields[0] = "a";
	len[0] = 1;
	fields[1] = big;
	len[1] = LOGIN_FRAME_MAX;
	assert_int_equal(login_frame_encode(&buf, 'P', 2, fields, len), -1);
	assert_int_equal(errno, E2BIG);
	len[1] = LOGIN_FRAME_MAX - 2;
	assert_int_equal(login_frame_encode(&buf, 'P', 2, fields, len), 0);
	free(big);
	str_free(&buf);
}

static void
test_frame_socket(void **state)
{
	struct str buf = STR_INIT;
	const char *f[1] = { "why" };
	size_t len[1] = { 3 };
	unsigned char type, hdr[3] = { 'N', 0xff, 0xff };
	int sv[2], pp[2], fd;
	struct stat st;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	/* with a descriptor */
	assert_int_equal(pipe(pp), 0);
	assert_int_equal(login_frame_send(sv[0], 'Y', 1, f, len, pp[0]), 0);
	assert_int_equal(login_frame_recv(sv[1], &type, &buf, &fd), 1);
	assert_int_equal(type, 'Y');
	assert_string_equal(buf.s, "why");
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	close(fd);
	/* a descriptor where none may come is refused */
	assert_int_equal(login_frame_send(sv[0], 'Y', 1, f, len, pp[0]), 0);
	assert_int_equal(login_frame_recv(sv[1], &type, &buf, NULL), -1);
	assert_int_equal(errno, EBADMSG);
	/* drain the rest of that frame */
	assert_int_equal(read(sv[1], hdr, 3), 3);
	hdr[0] = 'N';
	hdr[1] = hdr[2] = 0xff;
	/* an oversized length */
	assert_int_equal(write(sv[0], hdr, 3), 3);
	assert_int_equal(login_frame_recv(sv[1], &type, &buf, NULL), -1);
	assert_int_equal(errno, EBADMSG);
	/* a frame cut short by the end of the stream */
	hdr[1] = 0;
	hdr[2] = 10;
	assert_int_equal(write(sv[0], hdr, 3), 3);
	assert_int_equal(write(sv[0], "abc", 3), 3);
	close(sv[0]);
	assert_int_equal(login_frame_recv(sv[1], &type, &buf, NULL), -1);
	assert_int_equal(errno, EBADMSG);
	close(sv[1]);
	/* a clean end of file */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	close(sv[0]);
	assert_int_equal(login_frame_recv(sv[1], &type, &buf, NULL), 0);
	close(sv[1]);
	close(pp[0]);
	close(pp[1]);
	str_free(&buf);
}

/* A frame arriving one byte at a time is read whole. */
static void
test_frame_bytewise(void **state)
{
	struct str enc = STR_INIT, buf = STR_INIT;
	const char *f[2] = { "bob", "pass word" };
	size_t len[2] = { 3, 9 }, i;
	unsigned char type;
	int sv[2];
	pid_t pid;
	int st;

	assert_int_equal(login_frame_encode(&enc, 'P', 2, f, len), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct timespec ts = { 0, 2000000 };

		close(sv[1]);
		for (i = 0; i < enc.len; i++) {
			if (write(sv[0], enc.s + i, 1) != 1)
				_exit(1);
			nanosleep(&ts, NULL);
		}
		_exit(0);
	}
	close(sv[0]);
	assert_int_equal(login_frame_recv(sv[1], &type, &buf, NULL), 1);
	assert_int_equal(type, 'P');
	assert_int_equal(buf.len, 13);
	assert_memory_equal(buf.s, "bob\0pass word", 13);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(st, 0);
	close(sv[1]);
	str_free(&enc);
	str_free(&buf);
}

/* ---- the checker, against a stub backend ---- */

static int
stub_password(void *arg, const char *user, const char *pw,
    struct str *canon_r)
{
	if (strcmp(pw, "temp") == 0)
		return LOGIN_TEMP;
	if ((strcmp(user, "alice") == 0 || strcmp(user,
	    "alice@localhost") == 0) && strcmp(pw, "good") == 0) {
		str_appends(canon_r, "alice");
		return LOGIN_YES;
	}
	if (strcmp(user, "bob") == 0 && strcmp(pw, "bobpw") == 0) {
		str_appends(canon_r, "bob");
		return LOGIN_YES;
	}
	return LOGIN_NO;
}

static int
stub_apop(void *arg, const char *user, const char *challenge,
    const char *digest, struct str *canon_r)
{
	char want[33];

	login_apop_digest(challenge, "good", 4, want);
	if (strcmp(user, "alice") == 0 && strcmp(digest, want) == 0) {
		str_appends(canon_r, "alice");
		return LOGIN_YES;
	}
	return LOGIN_NO;
}

static const struct login_backend stub_be = { stub_password, stub_apop };

/* Build a request payload (without header) into buf. */
static void
req(struct str *buf, size_t n, ...)
{
	const char *f[4];
	size_t len[4], i;
	va_list ap;

	va_start(ap, n);
	for (i = 0; i < n; i++) {
		f[i] = va_arg(ap, const char *);
		len[i] = strlen(f[i]);
	}
	va_end(ap);
	str_clear(buf);
	assert_int_equal(login_frame_encode(buf, 'x', n, f, len), 0);
}

/* Handle a request; returns the reply type, or 'S' for a start. */
static unsigned char
ask(struct login_checker *c, unsigned char type, struct str *payload,
    struct login_start *st)
{
	struct str reason = STR_INIT;
	unsigned char reply = 0;
	int r;

	r = login_checker_handle(c, type, payload->s + 3, payload->len - 3,
	    &reply, &reason, st);
	str_free(&reason);
	if (r == 1)
		return 'S';
	if (r < 0)
		assert_int_equal(reply, 'X');
	return reply;
}

static void
test_checker_login(void **state)
{
	struct login_checker c;
	struct login_start st;
	struct str p = STR_INIT;
	const char pend[] = "STAT\r\nQUIT\r\n";
	const char *f[4] = { "alice@localhost", "T", "A1", pend };
	size_t len[4] = { 15, 1, 2, sizeof pend - 1 };

	login_checker_init(&c, &stub_be, NULL, "", 3, 0);
	req(&p, 2, "alice@localhost", "good");
	assert_int_equal(ask(&c, 'P', &p, &st), 'Y');
	str_clear(&p);
	assert_int_equal(login_frame_encode(&p, 'L', 4, f, len), 0);
	assert_int_equal(ask(&c, 'L', &p, &st), 'S');
	assert_string_equal(st.user, "alice");
	assert_int_equal(st.proxy, 1);
	assert_string_equal(st.resume, "A1");
	assert_int_equal(st.npending, sizeof pend - 1);
	assert_memory_equal(st.pending, pend, st.npending);
	free(st.user);
	free(st.resume);
	/* only one session per connection */
	assert_int_equal(ask(&c, 'L', &p, &st), 'X');
	assert_int_equal(ask(&c, 'P', &p, &st), 'X');
	login_checker_free(&c);
	str_free(&p);
}

static void
test_checker_refusals(void **state)
{
	struct login_checker c;
	struct login_start st;
	struct str p = STR_INIT;

	/* a start without a verified user */
	login_checker_init(&c, &stub_be, NULL, "", 3, 0);
	req(&p, 4, "alice", "", "", "");
	assert_int_equal(ask(&c, 'L', &p, &st), 'X');
	login_checker_free(&c);

	/* a start for another user than the verified one */
	login_checker_init(&c, &stub_be, NULL, "", 3, 0);
	req(&p, 2, "bob", "bobpw");
	assert_int_equal(ask(&c, 'P', &p, &st), 'Y');
	req(&p, 4, "alice", "", "", "");
	assert_int_equal(ask(&c, 'L', &p, &st), 'X');
	login_checker_free(&c);

	/* a failure after a success forgets the success */
	login_checker_init(&c, &stub_be, NULL, "", 3, 0);
	req(&p, 2, "alice", "good");
	assert_int_equal(ask(&c, 'P', &p, &st), 'Y');
	req(&p, 2, "alice", "bad");
	assert_int_equal(ask(&c, 'P', &p, &st), 'N');
	req(&p, 4, "alice", "", "", "");
	assert_int_equal(ask(&c, 'L', &p, &st), 'X');
	login_checker_free(&c);

	/* temporary failures are not counted; three refusals close */
	login_checker_init(&c, &stub_be, NULL, "", 3, 0);
	req(&p, 2, "alice", "temp");
	assert_int_equal(ask(&c, 'P', &p, &st), 'T');
	assert_int_equal(ask(&c, 'P', &p, &st), 'T');
	assert_int_equal(ask(&c, 'P', &p, &st), 'T');
	req(&p, 2, "alice", "bad");
	assert_int_equal(ask(&c, 'P', &p, &st), 'N');
	assert_int_equal(ask(&c, 'P', &p, &st), 'N');
	assert_int_equal(ask(&c, 'P', &p, &st), 'X');
	req(&p, 2, "alice", "good");
	assert_int_equal(ask(&c, 'P', &p, &st), 'X');
	login_checker_free(&c);
	str_free(&p);
}

static void
test_checker_malformed(void **state)
{
	static const struct {
		unsigned char type;
		size_t n;
		const char *a, *b, *c, *d;
	} rows[] = {
		{ 'Q', 2, "alice", "good", NULL, NULL },	/* unknown type */
		{ 'P', 1, "alice", NULL, NULL, NULL },	/* one field short */
		{ 'L', 3, "alice", "", "", NULL },		/* short L */
	};
	struct login_checker c;
	struct login_start st;
	struct str p = STR_INIT;
	size_t i;

	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		login_checker_init(&c, &stub_be, NULL, "", 3, 0);
		req(&p, rows[i].n, rows[i].a, rows[i].b, rows[i].c, rows[i].d);
		assert_int_equal(ask(&c, rows[i].type, &p, &st), 'X');
		login_checker_free(&c);
	}
	/* names no user can have are refusals, not protocol errors */
	login_checker_init(&c, &stub_be, NULL, "", 3, 0);
	req(&p, 2, "al ice", "good");
	assert_int_equal(ask(&c, 'P', &p, &st), 'N');
	req(&p, 2, "", "good");
	assert_int_equal(ask(&c, 'P', &p, &st), 'N');
	req(&p, 2, "a\x01", "good");
	assert_int_equal(ask(&c, 'P', &p, &st), 'X');	/* the third */
	login_checker_free(&c);
	/* L with a bad mode or a resume string with control bytes */
	login_checker_init(&c, &stub_be, NULL, "", 3, 0);
	req(&p, 2, "alice", "good");
	assert_int_equal(ask(&c, 'P', &p, &st), 'Y');
	req(&p, 4, "alice", "Z", "", "");
	assert_int_equal(ask(&c, 'L', &p, &st), 'X');
	login_checker_free(&c);
	login_checker_init(&c, &stub_be, NULL, "", 3, 0);
	req(&p, 2, "alice", "good");
	assert_int_equal(ask(&c, 'P', &p, &st), 'Y');
	req(&p, 4, "alice", "", "a\tb", "");
	assert_int_equal(ask(&c, 'L', &p, &st), 'X');
	login_checker_free(&c);
	str_free(&p);
}

static void
test_checker_apop(void **state)
{
	const char *ts = "<1896.697170952@dbc.mtview.ca.us>";
	struct login_checker c;
	struct login_start st;
	struct str p = STR_INIT;
	char d[33];

	/* RFC 1939's example */
	login_apop_digest(ts, "tanstaaf", 8, d);
	assert_string_equal(d, "c4c9334bac560ecc979e58001b3e22fb");

	login_apop_digest(ts, "good", 4, d);
	login_checker_init(&c, &stub_be, NULL, ts, 3, 0);
	req(&p, 2, "alice", d);
	assert_int_equal(ask(&c, 'A', &p, &st), 'Y');
	req(&p, 4, "alice", "", "", "");
	assert_int_equal(ask(&c, 'L', &p, &st), 'S');
	free(st.user);
	free(st.resume);
	login_checker_free(&c);
	/* APOP off (no timestamp): refused, even with a right digest */
	login_checker_init(&c, &stub_be, NULL, "", 3, 0);
	req(&p, 2, "alice", d);
	assert_int_equal(ask(&c, 'A', &p, &st), 'N');
	login_checker_free(&c);
	str_free(&p);
}

static void
test_checker_delay(void **state)
{
	struct login_checker c;
	struct login_start st;
	struct str p = STR_INIT;
	struct timeval a, b;
	long ms;

	login_checker_init(&c, &stub_be, NULL, "", 3, 150);
	req(&p, 2, "alice", "good");
	gettimeofday(&a, NULL);
	assert_int_equal(ask(&c, 'P', &p, &st), 'Y');
	gettimeofday(&b, NULL);
	ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_usec - a.tv_usec) / 1000;
	assert_true(ms < 100);
	req(&p, 2, "alice", "bad");
	assert_int_equal(ask(&c, 'P', &p, &st), 'N');
	gettimeofday(&a, NULL);
	ms = (a.tv_sec - b.tv_sec) * 1000 + (a.tv_usec - b.tv_usec) / 1000;
	assert_true(ms >= 150);
	login_checker_free(&c);
	str_free(&p);
}

static void
test_secret(void **state)
{
	struct str hex = STR_INIT, pw = STR_INIT;

	assert_int_equal(login_secret_encode("p w\xff", &hex), 0);
	assert_string_equal(hex.s, "702077ff");
	assert_int_equal(login_secret_decode(hex.s, &pw), 0);
	assert_string_equal(pw.s, "p w\xff");
	str_clear(&pw);
	assert_int_equal(login_secret_decode("7", &pw), -1);
	assert_int_equal(login_secret_decode("zz", &pw), -1);
	assert_int_equal(login_secret_decode("6100", &pw), -1);	/* NUL */
	assert_int_equal(login_secret_decode("", &pw), -1);
	str_free(&hex);
	str_free(&pw);
}

/* ---- the session's pending bytes and the relay ---- */

static void
test_session_pending(void **state)
{
	struct io *io = calloc(1, sizeof *io);
	char buf[32];
	int pp[2], sv[2];
	ssize_t n;

	assert_non_null(io);
	assert_int_equal(pipe(pp), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(pp[1], "PIPE\r\n", 6), 6);
	close(pp[1]);
	assert_int_equal(dup2(pp[0], 3), 3);
	if (pp[0] != 3)
		close(pp[0]);
	assert_int_equal(write(sv[1], "SOCK\r\n", 6), 6);
	io_init(io, sv[0], sv[0]);
	assert_int_equal(login_session_pending(io), 0);
	assert_int_equal(fcntl(3, F_GETFD), -1);	/* closed */
	n = io_read(io, buf, sizeof buf);
	assert_int_equal(n, 6);
	assert_memory_equal(buf, "PIPE\r\n", 6);
	n = io_read(io, buf, sizeof buf);
	assert_int_equal(n, 6);
	assert_memory_equal(buf, "SOCK\r\n", 6);
	/* without fd 3 there is nothing to add */
	assert_int_equal(login_session_pending(io), 0);
	close(sv[0]);
	close(sv[1]);
	free(io);
}

static void
test_proxy(void **state)
{
	int client[2], sess[2], st;
	char buf[64];
	pid_t pid;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, client), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sess), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct io *io = calloc(1, sizeof *io);

		close(client[1]);
		close(sess[1]);
		if (io == NULL)
			_exit(2);
		io_init(io, client[0], client[0]);
		_exit(login_proxy(io, client[0], sess[0]) == 0 ? 0 : 1);
	}
	close(client[0]);
	close(sess[0]);
	assert_int_equal(write(client[1], "to session", 10), 10);
	assert_int_equal(read(sess[1], buf, sizeof buf), 10);
	assert_memory_equal(buf, "to session", 10);
	assert_int_equal(write(sess[1], "to client", 9), 9);
	assert_int_equal(read(client[1], buf, sizeof buf), 9);
	assert_memory_equal(buf, "to client", 9);
	/* the client leaves: the session sees the end */
	close(client[1]);
	assert_int_equal(read(sess[1], buf, sizeof buf), 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(sess[1]);
}

/* ---- the peer and POP-before-SMTP ---- */

static void
test_peer(void **state)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof sin;
	char ip[64];
	int sv[2], l, c, a, local;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	unsetenv("TCPREMOTEIP");
	login_peer(sv[0], ip, sizeof ip, &local);
	assert_string_equal(ip, "");
	assert_int_equal(local, 0);
	setenv("TCPREMOTEIP", "192.0.2.7", 1);
	login_peer(sv[0], ip, sizeof ip, &local);
	assert_string_equal(ip, "192.0.2.7");
	assert_int_equal(local, 0);
	setenv("TCPREMOTEIP", "not-an-ip", 1);
	login_peer(sv[0], ip, sizeof ip, &local);
	assert_string_equal(ip, "");
	unsetenv("TCPREMOTEIP");
	close(sv[0]);
	close(sv[1]);

	/* loopback TCP: the local host */
	l = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(l >= 0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(l, (struct sockaddr *)&sin, sizeof sin), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&sin, &sl), 0);
	c = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(c, (struct sockaddr *)&sin, sizeof sin), 0);
	a = accept(l, NULL, NULL);
	assert_true(a >= 0);
	login_peer(a, ip, sizeof ip, &local);
	assert_string_equal(ip, "127.0.0.1");
	assert_int_equal(local, 1);
	close(a);
	close(c);
	close(l);
}

static void
test_pbs(void **state)
{
	char dir[] = "/tmp/test-login-XXXXXX";
	struct instance inst;
	struct str p = STR_INIT;
	struct stat st;
	time_t now = time(NULL);

	assert_non_null(mkdtemp(dir));
	memset(&inst, 0, sizeof inst);
	inst.run_dir = dir;
	assert_int_equal(login_pbs_record(&inst, "192.0.2.9", 5), 0);
	assert_int_equal(str_appendf(&p, "%s/%s/192.0.2.9", dir,
	    LOGIN_PBS_DIR), 0);
	assert_int_equal(stat(p.s, &st), 0);
	assert_true(st.st_mtime >= now + 299 && st.st_mtime <= now + 302);
	/* names that would leave the directory are refused */
	assert_int_equal(login_pbs_record(&inst, "../x", 5), -1);
	assert_int_equal(login_pbs_record(&inst, "", 5), -1);
	assert_int_equal(login_pbs_record(&inst, ".hidden", 5), -1);
	unlink(p.s);
	str_clear(&p);
	str_appendf(&p, "%s/%s", dir, LOGIN_PBS_DIR);
	rmdir(p.s);
	rmdir(dir);
	str_free(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_roundtrip),
		cmocka_unit_test(test_frame_limits),
		cmocka_unit_test(test_frame_socket),
		cmocka_unit_test(test_frame_bytewise),
		cmocka_unit_test(test_checker_login),
		cmocka_unit_test(test_checker_refusals),
		cmocka_unit_test(test_checker_malformed),
		cmocka_unit_test(test_checker_apop),
		cmocka_unit_test(test_checker_delay),
		cmocka_unit_test(test_secret),
		cmocka_unit_test(test_session_pending),
		cmocka_unit_test(test_proxy),
		cmocka_unit_test(test_peer),
		cmocka_unit_test(test_pbs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
