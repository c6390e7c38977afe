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

/* Client context: verify is 0 for opportunistic TLS (the SMTP client
 * between MTAs, RFC 3207 does not require a trusted certificate) or 1 to
 * verify against the system's CA store.  NULL with a message in err. */
struct tls_ctx *tls_client_ctx(int verify, struct str *err);

/* Free; *cp becomes NULL. */
void tls_ctx_free(struct tls_ctx **cp);

/* Handshake as server on rfd/wfd (the same descriptor for a socket),
 * bounded by the io's timeouts/deadline (io is the plain-text io of the
 * connection; it must have nothing pending: callers discard pipelined
 * plain text first).  On success the io now reads and writes through TLS
 * (io_set_ops).  -1 with a message in err. */
int tls_accept(struct tls_ctx *ctx, struct io *io, int rfd, int wfd,
    struct tls_session **s_r, struct str *err);

/* Handshake as client; servername for SNI (may be NULL). */
int tls_connect(struct tls_ctx *ctx, struct io *io, int fd,
    const char *servername, struct tls_session **s_r, struct str *err);

/* "TLSv1.3:TLS_AES_256_GCM_SHA384:256" style summary for Received
 * headers and logs. */
const char *tls_session_info(const struct tls_session *s);

/* Send close_notify (best effort) and free; *sp becomes NULL.  The io must
 * not be used for TLS afterwards. */
void tls_session_free(struct tls_session **sp);

#endif
