/* SPDX-License-Identifier: ISC */
#ifndef ZEST_TLS_H
#define ZEST_TLS_H

/*
 * tls: OpenSSL behind the io transport of lib/io, for STARTTLS (SMTP, IMAP,
 * POP3), implicit TLS (ports 465, 993, 995) and the SMTP client.
 * A server context is made once per process from the instance's
 * certificate and key; a session wraps the connection's descriptors and
 * plugs into a struct io with io_set_ops, so the protocol code above reads
 * and writes lines the same way with or without TLS.
 */

#include <stddef.h>

#include "io.h"
#include "str.h"

struct tls_ctx;
struct tls_session;

/* Server context from PEM files (TLS 1.2 and 1.3 only, the system's
 * default ciphers).  NULL with a message in err. */
struct tls_ctx *tls_server_ctx(const char *cert_file, const char *key_file,
    struct str *err);

/* Load OpenSSL's configuration now (openssl.cnf), for a process that
 * will chroot before it builds a deferred context.  -1 on failure. */
int tls_init(void);

/* As tls_server_ctx, but only reads the two files now (so a process can
 * read a root-only key and then drop privileges) and builds the OpenSSL
 * context at the first tls_accept: a connection that never asks for TLS
 * never pays for it.  NULL with a message in err. */
struct tls_ctx *tls_server_ctx_deferred(const char *cert_file,
    const char *key_file, struct str *err);

/* As tls_server_ctx, from the PEM text of two files a more privileged
 * parent opened (tlsrelay gets smtpd's descriptors of a root-only key):
 * read with pread() from offset 0, so the descriptors' shared offsets
 * never move, and built now.  The descriptors stay the caller's.  NULL
 * with a message in err. */
struct tls_ctx *tls_server_ctx_fds(int cert_fd, int key_fd, struct str *err);

/* Client context: verify is 0 for opportunistic TLS (the SMTP client
 * between MTAs, RFC 3207 does not require a trusted certificate) or 1 to
 * verify against the system's CA store.  NULL with a message in err. */
struct tls_ctx *tls_client_ctx(int verify, struct str *err);

/* Add the certificates of the PEM file ca_file to the trusted ones of a
 * client context (e.g. an instance's self-signed certificate).  Returns 0,
 * or -1 with a message in err. */
int tls_ctx_load_ca(struct tls_ctx *ctx, const char *ca_file, struct str *err);

/* Free; *cp becomes NULL.  Sessions made from it stay usable. */
void tls_ctx_free(struct tls_ctx **cp);

/* Handshake as server on rfd/wfd (the same descriptor for a socket),
 * bounded by the io's timeouts/deadline (io is the plain-text io of the
 * connection; it must have nothing pending: callers discard pipelined
 * plain text first, else this fails; buffered output, e.g. SMTP's "220
 * Ready to start TLS", is flushed in plain text first).  Every wait is
 * bounded by the io's timeouts, the whole by its deadline: set one, or a
 * peer sending a byte per timeout keeps the handshake going.  On success
 * the io now reads and writes through TLS (io_set_ops): the io's read
 * returns 0 at close_notify or at a plain end of file, and fails with the
 * transport's errno (ETIMEDOUT, ECONNRESET, ...) or EPROTO for a TLS
 * error; after any such failure the session is broken and every later
 * read or write fails with EPROTO.  -1 with a message in err and errno
 * set. */
int tls_accept(struct tls_ctx *ctx, struct io *io, int rfd, int wfd,
    struct tls_session **s_r, struct str *err);

/* Handshake as client; servername for SNI and, with a verifying context,
 * the name (or IP address) the certificate must carry (may be NULL: no
 * SNI, no name check).  Otherwise as tls_accept. */
int tls_connect(struct tls_ctx *ctx, struct io *io, int fd,
    const char *servername, struct tls_session **s_r, struct str *err);

/* "TLSv1.3:TLS_AES_256_GCM_SHA384:256" style summary for Received
 * headers and logs. */
const char *tls_session_info(const struct tls_session *s);

/* Bytes of plain text the session has decrypted but not handed out yet
 * (poll() on the descriptor does not see them): a relay reads again before
 * it waits. */
size_t tls_session_pending(const struct tls_session *s);

/* The peer's certificate was presented and verified against the trusted
 * certificates (also known with verify 0).  Returns 1 or 0. */
int tls_session_verified(const struct tls_session *s);

/* The last TLS error of the session ("" when none), for logs after the
 * io reported EPROTO. */
const char *tls_session_error(const struct tls_session *s);

/* Flush the io's buffered output, send close_notify (best effort; both
 * skipped after a fatal error) and free; *sp becomes NULL.  The io's reads
 * and writes then fail with ENOTCONN. */
void tls_session_free(struct tls_session **sp);

#endif
