/* SPDX-License-Identifier: ISC */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "io.h"
#include "str.h"
#include "tls.h"

/*
 * Each test runs a TLS server or client in a forked child over a
 * socketpair.  A child cannot use cmocka's assertions: it reports the
 * number of its first failed step as its exit status (0: all passed).
 * The certificate is made here with the OpenSSL API, in a temporary
 * directory, once for the whole group.
 */

#define BIG 200000	/* bytes sent each way: several TLS records */

struct files {
	char dir[64];
	char cert[96];
	char key[96];
	char otherkey[96];	/* a key that does not match cert */
	char garbage[96];	/* not PEM at all */
	char missing[96];
};

static struct files F;

static int
write_pem(const char *path, X509 *x, EVP_PKEY *key)
{
	FILE *f = fopen(path, "w");
	int ok;

	if (f == NULL)
		return -1;
	ok = x ? PEM_write_X509(f, x) : PEM_write_PrivateKey(f, key, NULL,
	    NULL, 0, NULL, NULL);
	return fclose(f) == 0 && ok ? 0 : -1;
}

static int
add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value)) == NULL)
		return -1;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

/* A self-signed certificate for localhost and 127.0.0.1. */
static X509 *
make_cert(EVP_PKEY *key)
{
	X509 *x = X509_new();
	X509_NAME *name;

	if (x == NULL)
		return NULL;
	name = X509_get_subject_name(x);
	if (!X509_set_version(x, X509_VERSION_3) ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(x), 4242) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), 86400) ||
	    !X509_set_pubkey(x, key) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)"localhost", -1, -1, 0) ||
	    !X509_set_issuer_name(x, name) ||
	    add_ext(x, NID_basic_constraints, "critical,CA:TRUE") < 0 ||
	    add_ext(x, NID_subject_alt_name,
	    "DNS:localhost,IP:127.0.0.1") < 0 ||
	    X509_sign(x, key, EVP_sha256()) <= 0) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static int
group_setup(void **state)
{
	EVP_PKEY *key = EVP_EC_gen("P-256"), *other = EVP_EC_gen("P-256");
	X509 *x = key ? make_cert(key) : NULL;
	FILE *f;
	int r = -1;

	snprintf(F.dir, sizeof F.dir, "/tmp/zest-test-tls.XXXXXX");
	if (x == NULL || other == NULL || mkdtemp(F.dir) == NULL)
		goto out;
	snprintf(F.cert, sizeof F.cert, "%s/cert.pem", F.dir);
	snprintf(F.key, sizeof F.key, "%s/key.pem", F.dir);
	snprintf(F.otherkey, sizeof F.otherkey, "%s/other.pem", F.dir);
	snprintf(F.garbage, sizeof F.garbage, "%s/garbage.pem", F.dir);
	snprintf(F.missing, sizeof F.missing, "%s/missing.pem", F.dir);
	if (write_pem(F.cert, x, NULL) < 0 || write_pem(F.key, NULL, key) < 0 ||
	    write_pem(F.otherkey, NULL, other) < 0 ||
	    (f = fopen(F.garbage, "w")) == NULL)
		goto out;
	fputs("this is not a certificate\n", f);
	r = fclose(f) == 0 ? 0 : -1;
out:
	X509_free(x);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
	return r;
}

static int
group_teardown(void **state)
{
	unlink(F.cert);
	unlink(F.key);
	unlink(F.otherkey);
	unlink(F.garbage);
	rmdir(F.dir);
	return 0;
}

static double
now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
fill_pattern(unsigned char *p, size_t n, unsigned seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (unsigned char)((i * 31 + seed) & 0xff);
}

static int
check_pattern(const unsigned char *p, size_t n, unsigned seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != (unsigned char)((i * 31 + seed) & 0xff))
			return -1;
	return 0;
}

/* Fork fn(fd, arg) on one end of a new socketpair; the other end goes to
 * *fd_r. */
static pid_t
fork_peer(int (*fn)(int fd, const void *arg), const void *arg, int *fd_r)
{
	int sv[2];
	pid_t pid;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		_exit(fn(sv[1], arg));
	}
	close(sv[1]);
	*fd_r = sv[0];
	return pid;
}

/* The child's exit status (200 when it did not exit). */
static int
peer_status(pid_t pid)
{
	int st;

	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 200;
}

/* Whether echo_server builds its context from the files at once or at
 * the handshake (tls_server_ctx_deferred). */
static int echo_deferred;

/* Server side of the exchange: a line each way, BIG bytes each way, then
 * the client's close_notify reads as EOF. */
static int
echo_server(int fd, const void *arg)
{
	struct str line = STR_INIT, err = STR_INIT;
	struct tls_session *s = NULL;
	struct tls_ctx *ctx;
	static unsigned char buf[BIG];
	struct io io;

	if (echo_deferred == 2) {
		/* from descriptors, as tlsrelay gets them: their offsets are
		 * neither used nor moved */
		int cfd = open(F.cert, O_RDONLY), kfd = open(F.key, O_RDONLY);

		if (cfd < 0 || kfd < 0 || lseek(kfd, 5, SEEK_SET) != 5)
			return 1;
		ctx = tls_server_ctx_fds(cfd, kfd, &err);
		if (lseek(kfd, 0, SEEK_CUR) != 5 ||
		    lseek(cfd, 0, SEEK_CUR) != 0)
			return 1;
		close(cfd);
		close(kfd);
	} else
		ctx = echo_deferred ? tls_server_ctx_deferred(F.cert, F.key,
		    &err) : tls_server_ctx(F.cert, F.key, &err);
	if (ctx == NULL)
		return 1;
	io_init(&io, fd, fd);
	io_set_timeouts(&io, 5000, 5000);
	if (io_puts(&io, "220 go ahead\r\n") < 0)
		return 2;
	if (tls_accept(ctx, &io, fd, fd, &s, &err) < 0)
		return 3;
	if (strncmp(tls_session_info(s), "TLSv1.", 6) != 0)
		return 4;
	if (io_getline(&io, &line, 100) != 1 ||
	    strcmp(str_cstr(&line), "hello\r\n") != 0 ||
	    tls_session_pending(s) != 0)
		return 5;
	if (io_puts(&io, "250 hello\r\n") < 0 || io_flush(&io) < 0)
		return 6;
	if (io_readn(&io, buf, BIG) < 0 || check_pattern(buf, BIG, 7) < 0)
		return 7;
	fill_pattern(buf, BIG, 9);
	if (io_write(&io, buf, BIG) < 0 || io_flush(&io) < 0)
		return 8;
	if (io_getline(&io, &line, 100) != 0)
		return 9;
	tls_session_free(&s);
	if (io_getline(&io, &line, 100) != -1 || errno != ENOTCONN)
		return 10;
	tls_ctx_free(&ctx);
	str_free(&line);
	str_free(&err);
	return 0;
}

/* A line and BIG bytes each way; the greeting before TLS is plain text. */
static void test_exchange(void **state);

/* The same exchange with a context built at the first handshake; and a
 * deferred context whose files are missing fails at once. */
static void
test_exchange_deferred(void **state)
{
	struct str err = STR_INIT;

	assert_null(tls_server_ctx_deferred("/nonexistent.pem", F.key, &err));
	assert_non_null(strstr(str_cstr(&err), "/nonexistent.pem"));
	str_free(&err);
	echo_deferred = 1;
	test_exchange(state);
	echo_deferred = 0;
}

/* The same exchange with a context built from open descriptors
 * (tls_server_ctx_fds); descriptors of files that are no certificate, no
 * key, or a key that does not match, or no file, make none. */
static void
test_exchange_fds(void **state)
{
	const struct {
		const char *cert, *key;
	} bad[] = {
		{ F.garbage, F.key }, { F.cert, F.garbage },
		{ F.cert, F.otherkey },
	};
	struct str err = STR_INIT;
	size_t i;
	int cfd, kfd;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cfd = open(bad[i].cert, O_RDONLY);
		kfd = open(bad[i].key, O_RDONLY);
		assert_true(cfd >= 0 && kfd >= 0);
		if (tls_server_ctx_fds(cfd, kfd, &err) != NULL)
			fail_msg("bad case %zu: context made", i);
		assert_true(err.len > 0);
		close(cfd);
		close(kfd);
	}
	assert_null(tls_server_ctx_fds(-1, -1, &err));
	assert_non_null(strstr(str_cstr(&err), "certificate"));
	str_free(&err);
	echo_deferred = 2;
	test_exchange(state);
	echo_deferred = 0;
}

static void
test_exchange(void **state)
{
	struct str line = STR_INIT, err = STR_INIT;
	struct tls_session *s = NULL;
	struct tls_ctx *ctx;
	static unsigned char buf[BIG];
	struct io io;
	pid_t pid;
	int fd;

	pid = fork_peer(echo_server, NULL, &fd);
	ctx = tls_client_ctx(0, &err);
	assert_non_null(ctx);
	io_init(&io, fd, fd);
	io_set_timeouts(&io, 5000, 5000);
	assert_int_equal(io_getline(&io, &line, 100), 1);
	assert_string_equal(str_cstr(&line), "220 go ahead\r\n");
	if (tls_connect(ctx, &io, fd, "localhost", &s, &err) < 0)
		fail_msg("tls_connect: %s", str_cstr(&err));
	assert_non_null(s);
	assert_int_equal(strncmp(tls_session_info(s), "TLSv1.3:", 8), 0);
	assert_int_equal(tls_session_verified(s), 0);	/* not trusted */
	assert_int_equal(io_puts(&io, "hello\r\n"), 0);
	assert_int_equal(io_flush(&io), 0);
	assert_int_equal(io_getline(&io, &line, 100), 1);
	assert_string_equal(str_cstr(&line), "250 hello\r\n");
	fill_pattern(buf, BIG, 7);
	assert_int_equal(io_write(&io, buf, BIG), 0);
	assert_int_equal(io_flush(&io), 0);
	memset(buf, 0, BIG);
	assert_int_equal(io_readn(&io, buf, BIG), 0);
	assert_int_equal(check_pattern(buf, BIG, 9), 0);
	tls_session_free(&s);
	assert_null(s);
	assert_int_equal(peer_status(pid), 0);
	errno = 0;
	assert_int_equal(io_puts(&io, "x"), 0);
	assert_int_equal(io_flush(&io), -1);
	assert_int_equal(errno, ENOTCONN);
	tls_ctx_free(&ctx);
	assert_null(ctx);
	close(fd);
	str_free(&line);
	str_free(&err);
}

/* Accept one handshake; the status tells whether it succeeded (0) or not
 * (1), then wait for the client to go away. */
static int
accept_once(int fd, const void *arg)
{
	struct str err = STR_INIT, line = STR_INIT;
	struct tls_session *s = NULL;
	struct tls_ctx *ctx;
	struct io io;
	int r;

	if ((ctx = tls_server_ctx(F.cert, F.key, &err)) == NULL)
		return 2;
	io_init(&io, fd, fd);
	io_set_timeouts(&io, 5000, 5000);
	r = tls_accept(ctx, &io, fd, fd, &s, &err) < 0;
	if (r == 0)
		(void)io_getline(&io, &line, 100);
	tls_session_free(&s);
	tls_ctx_free(&ctx);
	str_free(&err);
	str_free(&line);
	return r;
}

static const struct verify_case {
	const char *name;
	int verify;
	int load_ca;
	const char *servername;
	int ok;
	int verified;
	const char *errpart;
} verify_cases[] = {
	{ "opportunistic", 0, 0, "localhost", 1, 0, NULL },
	{ "opportunistic, trusted", 0, 1, NULL, 1, 1, NULL },
	{ "verify, untrusted", 1, 0, "localhost", 0, 0, "certificate" },
	{ "verify, trusted", 1, 1, "localhost", 1, 1, NULL },
	{ "verify by address", 1, 1, "127.0.0.1", 1, 1, NULL },
	{ "verify, wrong name", 1, 1, "mx.example.org", 0, 0, "certificate" },
	{ "verify, wrong address", 1, 1, "10.1.2.3", 0, 0, "certificate" },
};

static void
test_verify(void **state)
{
	struct str err = STR_INIT;
	struct tls_session *s;
	struct tls_ctx *ctx;
	struct io io;
	size_t i;
	pid_t pid;
	int fd, r;

	for (i = 0; i < sizeof verify_cases / sizeof verify_cases[0]; i++) {
		const struct verify_case *c = &verify_cases[i];

		s = NULL;
		pid = fork_peer(accept_once, NULL, &fd);
		ctx = tls_client_ctx(c->verify, &err);
		assert_non_null(ctx);
		if (c->load_ca)
			assert_int_equal(tls_ctx_load_ca(ctx, F.cert, &err), 0);
		io_init(&io, fd, fd);
		io_set_timeouts(&io, 5000, 5000);
		r = tls_connect(ctx, &io, fd, c->servername, &s, &err);
		if ((r == 0) != c->ok)
			fail_msg("%s: rc %d: %s", c->name, r, str_cstr(&err));
		if (r == 0 && tls_session_verified(s) != c->verified)
			fail_msg("%s: verified %d", c->name,
			    tls_session_verified(s));
		if (r < 0 && (s != NULL ||
		    strstr(str_cstr(&err), c->errpart) == NULL))
			fail_msg("%s: message '%s'", c->name, str_cstr(&err));
		tls_session_free(&s);
		close(fd);
		if (peer_status(pid) != !c->ok)
			fail_msg("%s: server disagrees", c->name);
		tls_ctx_free(&ctx);
	}
	ctx = tls_client_ctx(1, &err);
	assert_int_equal(tls_ctx_load_ca(ctx, F.garbage, &err), -1);
	assert_non_null(strstr(str_cstr(&err), F.garbage));
	tls_ctx_free(&ctx);
	str_free(&err);
}

static const struct ctx_case {
	const char *name;
	const char *cert;
	const char *key;
	const char *errpart;	/* a file name the message must hold */
} ctx_cases[] = {
	{ "missing cert", F.missing, F.key, F.missing },
	{ "missing key", F.cert, F.missing, F.missing },
	{ "key does not match", F.cert, F.otherkey, F.otherkey },
	{ "cert not PEM", F.garbage, F.key, F.garbage },
	{ "key not PEM", F.cert, F.garbage, F.garbage },
};

static void
test_server_ctx_errors(void **state)
{
	struct str err = STR_INIT;
	struct tls_ctx *ctx;
	size_t i;

	for (i = 0; i < sizeof ctx_cases / sizeof ctx_cases[0]; i++) {
		const struct ctx_case *c = &ctx_cases[i];

		ctx = tls_server_ctx(c->cert, c->key, &err);
		if (ctx != NULL)
			fail_msg("%s: context made", c->name);
		if (strstr(str_cstr(&err), c->errpart) == NULL)
			fail_msg("%s: message '%s'", c->name, str_cstr(&err));
	}
	ctx = tls_server_ctx(F.cert, F.key, &err);
	assert_non_null(ctx);
	assert_int_equal(str_cstr(&err)[0], '\0');
	tls_ctx_free(&ctx);
	tls_ctx_free(&ctx);	/* NULL: nothing */
	str_free(&err);
}

/* A peer that never says anything: the handshake ends with ETIMEDOUT
 * after the per-wait timeout, or at the deadline. */
static void
test_handshake_timeout(void **state)
{
	struct str err = STR_INIT;
	struct tls_session *s = NULL;
	struct tls_ctx *sctx, *cctx;
	struct io io;
	double t0, dt;
	int sv[2], side;

	sctx = tls_server_ctx(F.cert, F.key, &err);
	cctx = tls_client_ctx(0, &err);
	assert_non_null(sctx);
	assert_non_null(cctx);
	for (side = 0; side < 3; side++) {
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		io_init(&io, sv[0], sv[0]);
		if (side < 2)
			io_set_timeouts(&io, 300, 300);
		else
			io_set_deadline(&io, time(NULL) + 2);	/* 1..2 s */
		t0 = now_sec();
		errno = 0;
		if (side == 1)
			assert_int_equal(tls_connect(cctx, &io, sv[0], NULL,
			    &s, &err), -1);
		else
			assert_int_equal(tls_accept(sctx, &io, sv[0], sv[0],
			    &s, &err), -1);
		assert_int_equal(errno, ETIMEDOUT);
		dt = now_sec() - t0;
		assert_null(s);
		if (strstr(str_cstr(&err), strerror(ETIMEDOUT)) == NULL)
			fail_msg("side %d: message '%s'", side, str_cstr(&err));
		if (side < 2 ? dt < 0.25 || dt > 2.0 : dt < 0.9 || dt > 3.0)
			fail_msg("side %d: took %.2f s", side, dt);
		close(sv[0]);
		close(sv[1]);
	}
	tls_ctx_free(&sctx);
	tls_ctx_free(&cctx);
	str_free(&err);
}

/* After the handshake the io's timeouts still apply to TLS reads. */
static int
silent_server(int fd, const void *arg)
{
	struct str err = STR_INIT;
	struct tls_session *s = NULL;
	struct tls_ctx *ctx;
	struct io io;
	char c;

	if ((ctx = tls_server_ctx(F.cert, F.key, &err)) == NULL)
		return 1;
	io_init(&io, fd, fd);
	io_set_timeouts(&io, 5000, 5000);
	if (tls_accept(ctx, &io, fd, fd, &s, &err) < 0)
		return 2;
	/* Wait for the client to hang up, saying nothing. */
	while (read(fd, &c, 1) > 0)
		;
	if (*(const int *)arg)
		_exit(0);	/* no close_notify */
	tls_session_free(&s);
	tls_ctx_free(&ctx);
	str_free(&err);
	return 0;
}

static void
test_read_timeout_after_handshake(void **state)
{
	struct str err = STR_INIT, line = STR_INIT;
	struct tls_session *s = NULL;
	struct tls_ctx *ctx = tls_client_ctx(0, &err);
	struct io io;
	double t0, dt;
	int fd, abrupt = 0;
	pid_t pid;

	pid = fork_peer(silent_server, &abrupt, &fd);
	io_init(&io, fd, fd);
	io_set_timeouts(&io, 5000, 5000);
	assert_int_equal(tls_connect(ctx, &io, fd, NULL, &s, &err), 0);
	io_set_timeouts(&io, 300, 300);
	t0 = now_sec();
	errno = 0;
	assert_int_equal(io_getline(&io, &line, 100), -1);
	assert_int_equal(errno, ETIMEDOUT);
	dt = now_sec() - t0;
	assert_true(dt > 0.2 && dt < 2.5);
	/* The session is broken now: no close_notify, no hang. */
	tls_session_free(&s);
	shutdown(fd, SHUT_RDWR);
	assert_int_equal(peer_status(pid), 0);
	close(fd);
	tls_ctx_free(&ctx);
	str_free(&err);
	str_free(&line);
}

/* A peer that closes without close_notify reads as end of file. */
static int
closing_server(int fd, const void *arg)
{
	struct str err = STR_INIT;
	struct tls_session *s = NULL;
	struct tls_ctx *ctx;
	struct io io;

	if ((ctx = tls_server_ctx(F.cert, F.key, &err)) == NULL)
		return 1;
	io_init(&io, fd, fd);
	io_set_timeouts(&io, 5000, 5000);
	if (tls_accept(ctx, &io, fd, fd, &s, &err) < 0)
		return 2;
	if (io_puts(&io, "last words") < 0 || io_flush(&io) < 0)
		return 3;
	_exit(0);	/* closes the socket, no close_notify */
}

static void
test_eof_without_close_notify(void **state)
{
	struct str err = STR_INIT, line = STR_INIT;
	struct tls_session *s = NULL;
	struct tls_ctx *ctx = tls_client_ctx(0, &err);
	struct io io;
	int fd;
	pid_t pid;

	pid = fork_peer(closing_server, NULL, &fd);
	io_init(&io, fd, fd);
	io_set_timeouts(&io, 5000, 5000);
	assert_int_equal(tls_connect(ctx, &io, fd, NULL, &s, &err), 0);
	assert_int_equal(io_getline(&io, &line, 100), 1);
	assert_string_equal(str_cstr(&line), "last words");
	assert_int_equal(io_getline(&io, &line, 100), 0);
	assert_int_equal(io_getline(&io, &line, 100), 0);
	assert_int_equal(peer_status(pid), 0);
	tls_session_free(&s);
	close(fd);
	tls_ctx_free(&ctx);
	str_free(&err);
	str_free(&line);
}

/* Whatever the peer sends instead of a ClientHello (or a ServerHello),
 * the handshake fails with a message, never hangs or crashes. */
static const struct garbage_case {
	const char *name;
	const char *data;
	size_t len;
	int close_after;
} garbage_cases[] = {
	{ "smtp command", "EHLO client.example.org\r\n", 25, 1 },
	{ "smtp, peer waits", "EHLO client.example.org\r\n", 25, 0 },
	{ "http request", "GET / HTTP/1.0\r\n\r\n", 18, 1 },
	{ "nothing, closed", "", 0, 1 },
	{ "truncated record", "\x16\x03\x01\x00", 4, 1 },
	{ "handshake record of junk", "\x16\x03\x01\x00\x05\x01\x00\x00\x09"
	    "zzzzzzzzzz", 19, 1 },
	{ "alert record", "\x15\x03\x03\x00\x02\x02\x28", 7, 1 },
	{ "sslv2 hello", "\x80\x2e\x01\x00\x02\x00\x15\x00\x00\x00\x10",
	    11, 1 },
};

static void
garbage_one(struct tls_ctx *ctx, int server, const struct garbage_case *c)
{
	struct str err = STR_INIT;
	struct tls_session *s = NULL;
	struct io io;
	double t0;
	int sv[2], r;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[1], c->data, c->len), (ssize_t)c->len);
	if (c->close_after)
		shutdown(sv[1], SHUT_WR);
	io_init(&io, sv[0], sv[0]);
	io_set_timeouts(&io, 2000, 2000);
	t0 = now_sec();
	errno = 0;
	if (server)
		r = tls_accept(ctx, &io, sv[0], sv[0], &s, &err);
	else
		r = tls_connect(ctx, &io, sv[0], "localhost", &s, &err);
	if (r != -1 || s != NULL || str_cstr(&err)[0] == '\0')
		fail_msg("%s (server %d): rc %d '%s'", c->name, server, r,
		    str_cstr(&err));
	if (errno != EPROTO && errno != ECONNRESET)
		fail_msg("%s (server %d): errno %d '%s'", c->name, server,
		    errno, str_cstr(&err));
	if (now_sec() - t0 > 1.5)
		fail_msg("%s (server %d): waited for more", c->name, server);
	close(sv[0]);
	close(sv[1]);
	str_free(&err);
}

static void
test_garbage(void **state)
{
	struct str err = STR_INIT;
	struct tls_ctx *sctx = tls_server_ctx(F.cert, F.key, &err);
	struct tls_ctx *cctx = tls_client_ctx(0, &err);
	size_t i;

	assert_non_null(sctx);
	assert_non_null(cctx);
	for (i = 0; i < sizeof garbage_cases / sizeof garbage_cases[0]; i++) {
		garbage_one(sctx, 1, &garbage_cases[i]);
		garbage_one(cctx, 0, &garbage_cases[i]);
	}
	tls_ctx_free(&sctx);
	tls_ctx_free(&cctx);
	str_free(&err);
}

/* Plain text pipelined after STARTTLS is refused (CVE-2011-0411 style
 * injection); a client context cannot accept, a server cannot connect;
 * TLS cannot be started twice. */
static void
test_misuse(void **state)
{
	static const char in[] = "STARTTLS\r\nRSET\r\n";
	struct str err = STR_INIT, line = STR_INIT;
	struct tls_session *s = NULL;
	struct tls_ctx *sctx = tls_server_ctx(F.cert, F.key, &err);
	struct tls_ctx *cctx = tls_client_ctx(0, &err);
	struct io io;
	int sv[2], fd;
	pid_t pid;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[1], in, sizeof in - 1), sizeof in - 1);
	io_init(&io, sv[0], sv[0]);
	io_set_timeouts(&io, 1000, 1000);
	assert_int_equal(io_getline(&io, &line, 100), 1);
	errno = 0;
	assert_int_equal(tls_accept(sctx, &io, sv[0], sv[0], &s, &err), -1);
	assert_int_equal(errno, EPROTO);
	assert_non_null(strstr(str_cstr(&err), "plain text"));
	io_discard_pending(&io);
	assert_int_equal(tls_accept(cctx, &io, sv[0], sv[0], &s, &err), -1);
	assert_int_equal(tls_connect(sctx, &io, sv[0], NULL, &s, &err), -1);
	assert_null(s);
	close(sv[0]);
	close(sv[1]);

	pid = fork_peer(accept_once, NULL, &fd);
	io_init(&io, fd, fd);
	io_set_timeouts(&io, 5000, 5000);
	assert_int_equal(tls_connect(cctx, &io, fd, NULL, &s, &err), 0);
	{
		struct tls_session *again = NULL;

		assert_int_equal(tls_connect(cctx, &io, fd, NULL, &again,
		    &err), -1);
		assert_null(again);
		assert_non_null(strstr(str_cstr(&err), "already"));
	}
	assert_int_equal(io_puts(&io, "bye\r\n"), 0);
	tls_session_free(&s);
	close(fd);
	assert_int_equal(peer_status(pid), 0);
	tls_ctx_free(&sctx);
	tls_ctx_free(&cctx);
	str_free(&err);
	str_free(&line);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_ctx_errors),
		cmocka_unit_test(test_exchange),
		cmocka_unit_test(test_exchange_deferred),
		cmocka_unit_test(test_exchange_fds),
		cmocka_unit_test(test_verify),
		cmocka_unit_test(test_handshake_timeout),
		cmocka_unit_test(test_read_timeout_after_handshake),
		cmocka_unit_test(test_eof_without_close_notify),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_misuse),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
