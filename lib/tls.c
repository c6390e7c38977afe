/* SPDX-License-Identifier: ISC */
/*
 * tls: OpenSSL under a struct io.
 *
 * A session's SSL object talks to the connection through a small custom BIO
 * whose read and write wait with io_wait() exactly as the io's own fd
 * transport does (send(MSG_DONTWAIT) on sockets, poll() before read()), so
 * the io's per-wait timeouts and its deadline bound every TLS read, write
 * and handshake, and the descriptors' flags (shared with the parent, inetd
 * or tcpserver) are never changed.  The BIO never asks OpenSSL to retry:
 * an SSL call either completes or fails with the transport's errno, which
 * is kept in the session and handed back to the io's caller.
 */
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "fs.h"

#define TLS_PEM_MAX (1024 * 1024)	/* certificate chain or key file */

struct tls_ctx {
	SSL_CTX *ssl;		/* NULL for a deferred server context until
				   its first handshake */
	int server;
	struct str cert_pem;	/* deferred: the files, read at creation */
	struct str key_pem;
};

struct tls_session {
	SSL *ssl;
	BIO_METHOD *meth;	/* one per session: sessions may outlive ctx */
	struct io *io;		/* whose timeouts and deadline apply */
	int rfd;
	int wfd;
	int wsock;		/* wfd is a socket: 1, is not: 0, unknown: -1 */
	int sys_errno;		/* errno of the last failed transport call */
	int broken;		/* a fatal error happened: no close_notify */
	int eof;		/* the connection reached end of file */
	struct str info;
	struct str error;	/* the last OpenSSL error, for logs */
};

static ssize_t tls_io_read(void *ctx, void *buf, size_t n);
static ssize_t tls_io_write(void *ctx, const void *buf, size_t n);
static ssize_t tls_closed_read(void *ctx, void *buf, size_t n);
static ssize_t tls_closed_write(void *ctx, const void *buf, size_t n);

static const struct io_ops tls_io_ops = { tls_io_read, tls_io_write };
/* What an io reads and writes through once its session is freed. */
static const struct io_ops tls_closed_ops = { tls_closed_read,
	tls_closed_write };

/* Append "what: OpenSSL's first queued error" (or "failed") to err and
 * empty OpenSSL's error queue. */
static void
tls_ssl_error(struct str *err, const char *what)
{
	char buf[256];
	unsigned long e = ERR_get_error();

	if (e != 0)
		ERR_error_string_n(e, buf, sizeof buf);
	str_appendf(err, "%s: %s", what, e != 0 ? buf : "failed");
	ERR_clear_error();
}

/* The BIO callbacks: no retry flags ever, errors leave errno in s. */
static int
tls_bio_read(BIO *b, char *buf, int n)
{
	struct tls_session *s = BIO_get_data(b);
	ssize_t r;

	BIO_clear_retry_flags(b);
	if (n <= 0)
		return 0;
	if ((r = io_fd_read_bounded(s->io, s->rfd, buf, (size_t)n)) < 0) {
		s->sys_errno = errno;
		return -1;
	}
	if (r == 0)
		s->eof = 1;
	return (int)r;
}

static int
tls_bio_write(BIO *b, const char *buf, int n)
{
	struct tls_session *s = BIO_get_data(b);
	ssize_t r;

	BIO_clear_retry_flags(b);
	if (n <= 0)
		return 0;
	if ((r = io_fd_write_bounded(s->io, s->wfd, &s->wsock, buf,
	    (size_t)n)) < 0) {
		s->sys_errno = errno;
		return -1;
	}
	return (int)r;
}

/* Only what OpenSSL asks of a socket BIO: flush (a no-op, writes are not
 * buffered) and whether end of file was seen. */
static long
tls_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct tls_session *s = BIO_get_data(b);

	if (cmd == BIO_CTRL_FLUSH)
		return 1;
	if (cmd == BIO_CTRL_EOF)
		return s != NULL && s->eof;
	return 0;
}

static int
tls_bio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static BIO_METHOD *
tls_bio_method(void)
{
	BIO_METHOD *m;
	int idx = BIO_get_new_index();

	if (idx == -1)
		return NULL;
	if ((m = BIO_meth_new(idx | BIO_TYPE_SOURCE_SINK, "zest io")) == NULL)
		return NULL;
	if (!BIO_meth_set_read(m, tls_bio_read) ||
	    !BIO_meth_set_write(m, tls_bio_write) ||
	    !BIO_meth_set_ctrl(m, tls_bio_ctrl) ||
	    !BIO_meth_set_create(m, tls_bio_create)) {
		BIO_meth_free(m);
		return NULL;
	}
	return m;
}

/* Options common to both sides: TLS 1.2 or newer, no renegotiation, no
 * compression; an EOF without close_notify reads as EOF (SMTP, IMAP and
 * POP3 frame their own data, and many peers just close). */
static int
tls_ctx_common(SSL_CTX *c)
{
	SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
	    SSL_OP_IGNORE_UNEXPECTED_EOF);
	return SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
}

/* A server SSL_CTX without certificate: the settings every server
 * context shares. */
static SSL_CTX *
tls_server_ssl_new(struct str *err)
{
	SSL_CTX *c;

	if ((c = SSL_CTX_new(TLS_server_method())) == NULL) {
		tls_ssl_error(err, "TLS server context");
		return NULL;
	}
	/* One process per connection: a session cache or tickets could never
	 * be used again, so none are kept or sent. */
	SSL_CTX_set_options(c, SSL_OP_CIPHER_SERVER_PREFERENCE |
	    SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
	if (!tls_ctx_common(c) || !SSL_CTX_set_num_tickets(c, 0)) {
		tls_ssl_error(err, "TLS server context");
		SSL_CTX_free(c);
		return NULL;
	}
	return c;
}

struct tls_ctx *
tls_server_ctx(const char *cert_file, const char *key_file, struct str *err)
{
	struct tls_ctx *ctx;
	SSL_CTX *c;

	str_clear(err);
	ERR_clear_error();
	if ((c = tls_server_ssl_new(err)) == NULL)
		return NULL;
	if (SSL_CTX_use_certificate_chain_file(c, cert_file) != 1)
		tls_ssl_error(err, cert_file);
	else if (SSL_CTX_use_PrivateKey_file(c, key_file,
	    SSL_FILETYPE_PEM) != 1)
		tls_ssl_error(err, key_file);
	else if (SSL_CTX_check_private_key(c) != 1)
		tls_ssl_error(err, key_file);
	else if ((ctx = calloc(1, sizeof *ctx)) == NULL)
		str_appendf(err, "out of memory");
	else {
		ctx->ssl = c;
		ctx->server = 1;
		return ctx;
	}
	SSL_CTX_free(c);
	return NULL;
}

int
tls_init(void)
{
	return OPENSSL_init_ssl(OPENSSL_INIT_LOAD_CONFIG, NULL) == 1 ? 0 : -1;
}

/* A server context holding no PEM text and no SSL_CTX yet. */
static struct tls_ctx *
tls_server_ctx_empty(struct str *err)
{
	struct tls_ctx *ctx = calloc(1, sizeof *ctx);

	str_clear(err);
	if (ctx == NULL) {
		str_appendf(err, "out of memory");
		return NULL;
	}
	ctx->server = 1;
	str_init(&ctx->cert_pem, 0);
	str_init(&ctx->key_pem, 0);
	return ctx;
}

struct tls_ctx *
tls_server_ctx_deferred(const char *cert_file, const char *key_file,
    struct str *err)
{
	struct tls_ctx *ctx = tls_server_ctx_empty(err);

	if (ctx == NULL)
		return NULL;
	if (fs_read_file(cert_file, TLS_PEM_MAX, &ctx->cert_pem) < 0) {
		str_appendf(err, "%s: %s", cert_file, strerror(errno));
		tls_ctx_free(&ctx);
	} else if (fs_read_file(key_file, TLS_PEM_MAX, &ctx->key_pem) < 0) {
		str_appendf(err, "%s: %s", key_file, strerror(errno));
		tls_ctx_free(&ctx);
	}
	return ctx;
}

/* Build a deferred context's SSL_CTX from the PEM text it holds. */
static int
tls_server_ctx_build(struct tls_ctx *ctx, struct str *err)
{
	BIO *b = NULL;
	X509 *x = NULL;
	EVP_PKEY *pk = NULL;
	SSL_CTX *c;
	int ok = 0;

	ERR_clear_error();
	if ((c = tls_server_ssl_new(err)) == NULL)
		return -1;
	b = BIO_new_mem_buf(ctx->cert_pem.s, (int)ctx->cert_pem.len);
	if (b == NULL || (x = PEM_read_bio_X509_AUX(b, NULL, NULL, NULL)) == NULL ||
	    SSL_CTX_use_certificate(c, x) != 1) {
		tls_ssl_error(err, "certificate");
		goto out;
	}
	/* the rest of the file: the chain */
	for (;;) {
		X509 *ca = PEM_read_bio_X509(b, NULL, NULL, NULL);

		if (ca == NULL)
			break;
		if (SSL_CTX_add0_chain_cert(c, ca) != 1) {
			X509_free(ca);
			tls_ssl_error(err, "certificate chain");
			goto out;
		}
	}
	ERR_clear_error();
	BIO_free(b);
	b = BIO_new_mem_buf(ctx->key_pem.s, (int)ctx->key_pem.len);
	if (b == NULL || (pk = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL)) == NULL ||
	    SSL_CTX_use_PrivateKey(c, pk) != 1 ||
	    SSL_CTX_check_private_key(c) != 1) {
		tls_ssl_error(err, "private key");
		goto out;
	}
	ctx->ssl = c;
	c = NULL;
	ok = 1;
out:
	BIO_free(b);
	X509_free(x);
	EVP_PKEY_free(pk);
	SSL_CTX_free(c);
	return ok ? 0 : -1;
}

/* Append the content of fd, from offset 0 and without moving its offset,
 * to out (at most TLS_PEM_MAX bytes).  Returns 0 or -1 with errno. */
static int
tls_pread_all(int fd, struct str *out)
{
	char buf[4096];
	struct stat st;
	off_t off = 0;
	ssize_t n;

	/* room for the whole file at once: no stray copies of a key in
	 * memory freed by growth */
	if (fstat(fd, &st) < 0)
		return -1;
	if (st.st_size > 0 && (unsigned long long)st.st_size <= TLS_PEM_MAX &&
	    str_ready(out, (size_t)st.st_size) < 0)
		return -1;
	for (;;) {
		n = pread(fd, buf, sizeof buf, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		if ((size_t)n > TLS_PEM_MAX - out->len) {
			OPENSSL_cleanse(buf, sizeof buf);
			errno = EFBIG;
			return -1;
		}
		if (str_append(out, buf, (size_t)n) < 0)
			return -1;
		off += n;
	}
	OPENSSL_cleanse(buf, sizeof buf);
	return 0;
}

struct tls_ctx *
tls_server_ctx_fds(int cert_fd, int key_fd, struct str *err)
{
	struct tls_ctx *ctx = tls_server_ctx_empty(err);

	if (ctx == NULL)
		return NULL;
	if (tls_pread_all(cert_fd, &ctx->cert_pem) < 0)
		str_appendf(err, "certificate: %s", strerror(errno));
	else if (tls_pread_all(key_fd, &ctx->key_pem) < 0)
		str_appendf(err, "private key: %s", strerror(errno));
	else if (tls_server_ctx_build(ctx, err) == 0) {
		/* the SSL_CTX holds what it needs: no copy of the key stays */
		OPENSSL_cleanse(ctx->key_pem.s, ctx->key_pem.len);
		str_free(&ctx->key_pem);
		str_free(&ctx->cert_pem);
		return ctx;
	}
	tls_ctx_free(&ctx);
	return NULL;
}

struct tls_ctx *
tls_client_ctx(int verify, struct str *err)
{
	struct tls_ctx *ctx;
	SSL_CTX *c;

	str_clear(err);
	ERR_clear_error();
	if ((c = SSL_CTX_new(TLS_client_method())) == NULL) {
		tls_ssl_error(err, "TLS client context");
		return NULL;
	}
	SSL_CTX_set_verify(c, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE,
	    NULL);
	/* Loaded even without verify, so tls_session_verified() can tell. */
	if (!tls_ctx_common(c) || !SSL_CTX_set_default_verify_paths(c))
		tls_ssl_error(err, "TLS client context");
	else if ((ctx = calloc(1, sizeof *ctx)) == NULL)
		str_appendf(err, "out of memory");
	else {
		ctx->ssl = c;
		return ctx;
	}
	SSL_CTX_free(c);
	return NULL;
}

int
tls_ctx_load_ca(struct tls_ctx *ctx, const char *ca_file, struct str *err)
{
	str_clear(err);
	ERR_clear_error();
	if (SSL_CTX_load_verify_locations(ctx->ssl, ca_file, NULL) == 1)
		return 0;
	tls_ssl_error(err, ca_file);
	errno = EINVAL;
	return -1;
}

void
tls_ctx_free(struct tls_ctx **cp)
{
	if (*cp == NULL)
		return;
	SSL_CTX_free((*cp)->ssl);
	if ((*cp)->key_pem.s != NULL)
		OPENSSL_cleanse((*cp)->key_pem.s, (*cp)->key_pem.len);
	str_free(&(*cp)->key_pem);
	str_free(&(*cp)->cert_pem);
	free(*cp);
	*cp = NULL;
}

/* Free a session without any I/O. */
static void
tls_session_destroy(struct tls_session *s)
{
	SSL_free(s->ssl);	/* frees the BIO too */
	BIO_meth_free(s->meth);
	str_free(&s->info);
	str_free(&s->error);
	free(s);
}

/* A new session on rfd/wfd for io; NULL with a message in err. */
static struct tls_session *
tls_session_new(struct tls_ctx *ctx, struct io *io, int rfd, int wfd,
    struct str *err)
{
	struct tls_session *s;
	BIO *bio;

	if ((s = calloc(1, sizeof *s)) == NULL) {
		str_appendf(err, "out of memory");
		return NULL;
	}
	s->io = io;
	s->rfd = rfd;
	s->wfd = wfd;
	s->wsock = -1;
	if ((s->meth = tls_bio_method()) == NULL ||
	    (s->ssl = SSL_new(ctx->ssl)) == NULL ||
	    (bio = BIO_new(s->meth)) == NULL) {
		tls_ssl_error(err, "TLS session");
		tls_session_destroy(s);
		return NULL;
	}
	BIO_set_data(bio, s);
	SSL_set_bio(s->ssl, bio, bio);
	return s;
}

/* Record why an SSL call failed (SSL_get_error() result e): errno and,
 * for errors of the protocol, s->error.  Marks the session broken. */
static void
tls_fail(struct tls_session *s, int e)
{
	unsigned long code = ERR_peek_error();
	char buf[256];

	s->broken = 1;
	str_clear(&s->error);
	if (e == SSL_ERROR_SYSCALL && s->sys_errno != 0) {
		errno = s->sys_errno;
		str_appends(&s->error, strerror(errno));
	} else if (code != 0) {
		errno = EPROTO;
		ERR_error_string_n(code, buf, sizeof buf);
		str_appends(&s->error, buf);
	} else if (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN ||
	    s->eof) {
		errno = ECONNRESET;
		str_appends(&s->error, "connection closed by peer");
	} else {
		errno = EPROTO;
		str_appends(&s->error, "TLS protocol error");
	}
	ERR_clear_error();
}

/* Describe a failed handshake into err, add the verification result when
 * the peer's certificate was refused. */
static void
tls_handshake_error(struct tls_session *s, int e, struct str *err)
{
	long v = SSL_get_verify_result(s->ssl);
	int saved;

	tls_fail(s, e);
	saved = errno;
	str_appendf(err, "TLS handshake: %s", str_cstr(&s->error));
	if (v != X509_V_OK && e == SSL_ERROR_SSL)
		str_appendf(err, " (certificate: %s)",
		    X509_verify_cert_error_string(v));
	errno = saved;
}

/* Fill s->info: "version:cipher:bits". */
static int
tls_session_describe(struct tls_session *s)
{
	const SSL_CIPHER *c = SSL_get_current_cipher(s->ssl);

	return str_appendf(&s->info, "%s:%s:%d", SSL_get_version(s->ssl),
	    c ? SSL_CIPHER_get_name(c) : "none",
	    c ? SSL_CIPHER_get_bits(c, NULL) : 0);
}

/* Run the handshake of a new session and switch io to it. */
static int
tls_handshake(struct tls_session *s, int server, struct tls_session **s_r,
    struct str *err)
{
	int r, saved;

	ERR_clear_error();
	s->sys_errno = 0;
	r = server ? SSL_accept(s->ssl) : SSL_connect(s->ssl);
	if (r != 1) {
		tls_handshake_error(s, SSL_get_error(s->ssl, r), err);
		saved = errno;
		tls_session_destroy(s);
		errno = saved;
		return -1;
	}
	if (tls_session_describe(s) < 0) {
		str_appendf(err, "out of memory");
		s->broken = 1;
		tls_session_destroy(s);
		errno = ENOMEM;
		return -1;
	}
	io_set_ops(s->io, &tls_io_ops, s);
	*s_r = s;
	return 0;
}

/* Checks before a handshake on io: not TLS already, no plain text left
 * unread (a STARTTLS injection), plain text output flushed. */
static int
tls_io_ready(struct io *io, struct str *err)
{
	if (io->ops == &tls_io_ops) {
		str_appendf(err, "TLS is already active");
		errno = EINVAL;
		return -1;
	}
	if (io_pending(io) > 0) {
		str_appendf(err, "plain text received before the TLS "
		    "handshake");
		errno = EPROTO;
		return -1;
	}
	if (io_flush(io) < 0) {
		str_appendf(err, "write: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int
tls_accept(struct tls_ctx *ctx, struct io *io, int rfd, int wfd,
    struct tls_session **s_r, struct str *err)
{
	struct tls_session *s;

	*s_r = NULL;
	str_clear(err);
	if (!ctx->server) {
		str_appendf(err, "tls_accept: not a server context");
		errno = EINVAL;
		return -1;
	}
	if (tls_io_ready(io, err) < 0)
		return -1;
	if (ctx->ssl == NULL && tls_server_ctx_build(ctx, err) < 0) {
		errno = EPROTO;
		return -1;
	}
	if ((s = tls_session_new(ctx, io, rfd, wfd, err)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	return tls_handshake(s, 1, s_r, err);
}

/* Name the expected peer for SNI and, when verifying, for the check of
 * the certificate: a host name, or an IP address (no SNI then). */
static int
tls_set_peer_name(struct tls_session *s, const char *name)
{
	unsigned char addr[16];
	int ip = inet_pton(AF_INET, name, addr) == 1 ||
	    inet_pton(AF_INET6, name, addr) == 1;

	if (ip)
		return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s->ssl),
		    name) == 1 ? 0 : -1;
	if (SSL_set_tlsext_host_name(s->ssl, name) != 1 ||
	    SSL_set1_host(s->ssl, name) != 1)
		return -1;
	return 0;
}

int
tls_connect(struct tls_ctx *ctx, struct io *io, int fd,
    const char *servername, struct tls_session **s_r, struct str *err)
{
	struct tls_session *s;

	*s_r = NULL;
	str_clear(err);
	if (ctx->server) {
		str_appendf(err, "tls_connect: not a client context");
		errno = EINVAL;
		return -1;
	}
	if (tls_io_ready(io, err) < 0)
		return -1;
	if ((s = tls_session_new(ctx, io, fd, fd, err)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	if (servername != NULL && *servername != '\0' &&
	    tls_set_peer_name(s, servername) < 0) {
		tls_ssl_error(err, servername);
		tls_session_destroy(s);
		errno = EINVAL;
		return -1;
	}
	return tls_handshake(s, 0, s_r, err);
}

/* The io transport over a session. */
static ssize_t
tls_io_read(void *ctx, void *buf, size_t n)
{
	struct tls_session *s = ctx;
	size_t got = 0;
	int r, e;

	if (s->broken) {
		errno = EPROTO;
		return -1;
	}
	ERR_clear_error();
	s->sys_errno = 0;
	r = SSL_read_ex(s->ssl, buf, n, &got);
	if (r == 1)
		return (ssize_t)got;
	e = SSL_get_error(s->ssl, r);
	if (e == SSL_ERROR_ZERO_RETURN ||
	    (e == SSL_ERROR_SYSCALL && s->sys_errno == 0 &&
	    ERR_peek_error() == 0)) {
		ERR_clear_error();
		return 0;	/* close_notify, or the peer just closed */
	}
	tls_fail(s, e);
	return -1;
}

static ssize_t
tls_io_write(void *ctx, const void *buf, size_t n)
{
	struct tls_session *s = ctx;
	size_t done = 0;
	int r;

	if (s->broken) {
		errno = EPROTO;
		return -1;
	}
	if (n == 0)
		return 0;
	ERR_clear_error();
	s->sys_errno = 0;
	r = SSL_write_ex(s->ssl, buf, n, &done);
	if (r == 1)
		return (ssize_t)done;
	tls_fail(s, SSL_get_error(s->ssl, r));
	return -1;
}

static ssize_t
tls_closed_read(void *ctx, void *buf, size_t n)
{
	errno = ENOTCONN;
	return -1;
}

static ssize_t
tls_closed_write(void *ctx, const void *buf, size_t n)
{
	errno = ENOTCONN;
	return -1;
}

const char *
tls_session_info(const struct tls_session *s)
{
	return str_cstr(&s->info);
}

const char *
tls_session_error(const struct tls_session *s)
{
	return str_cstr(&s->error);
}

size_t
tls_session_pending(const struct tls_session *s)
{
	int n = SSL_pending(s->ssl);

	return n > 0 ? (size_t)n : 0;
}

int
tls_session_verified(const struct tls_session *s)
{
	X509 *peer = SSL_get0_peer_certificate(s->ssl);

	return peer != NULL && SSL_get_verify_result(s->ssl) == X509_V_OK;
}

void
tls_session_free(struct tls_session **sp)
{
	struct tls_session *s = *sp;
	struct io *io;

	if (s == NULL)
		return;
	io = s->io;
	if (io->ops == &tls_io_ops && io->ctx == s) {
		if (!s->broken)
			(void)io_flush(io);
		io_set_ops(io, &tls_closed_ops, NULL);
	}
	if (!s->broken && SSL_is_init_finished(s->ssl)) {
		ERR_clear_error();
		(void)SSL_shutdown(s->ssl);	/* close_notify, no wait */
		ERR_clear_error();
	}
	tls_session_destroy(s);
	*sp = NULL;
}
