/* SPDX-License-Identifier: ISC */
#ifndef ZEST_SASL_H
#define ZEST_SASL_H

/*
 * sasl: the server side of SASL (RFC 4422) through Cyrus libsasl2, for
 * POP3 AUTH (RFC 5034) and IMAP AUTHENTICATE (RFC 3501, SASL-IR RFC 4959).
 * The functions are prefixed zsasl_ because libsasl2 owns sasl_.
 *
 * Passwords are never looked up here: libsasl2's PLAIN and LOGIN
 * mechanisms hand the credentials to the checkpass callback (libsasl2's
 * SASL_CB_SERVER_USERDB_CHECKPASS), which in the daemons asks the login
 * checker (lib/login) over its socket.  libsasl2's own password stores
 * (sasldb, saslauthd) are switched off, so a password database elsewhere on
 * the host can never let anybody in.  Only PLAIN and LOGIN are offered: the
 * users table holds crypt hashes, from which no other mechanism can
 * succeed.
 *
 * The exchange is in base64 as both protocols carry it: an initial
 * response is "=" for an empty one; a client line "*" cancels.
 *
 *	zsasl_global_init("pop3")           once, before chroot (loads plugins)
 *	z = zsasl_new("pop", host, check, arg, &err)
 *	r = zsasl_start(z, "PLAIN", ir_or_NULL, &out)
 *	while (r == ZSASL_CONTINUE) { send "+ out"; r = zsasl_step(z, line, &out); }
 *	if (r == ZSASL_OK) user = zsasl_user(z);
 */

#include "str.h"

#define ZSASL_OK 1		/* authenticated: zsasl_user() */
#define ZSASL_CONTINUE 2	/* send the challenge in out, read a line */
#define ZSASL_FAIL 0		/* wrong credentials */
#define ZSASL_BAD (-1)		/* malformed client data (bad base64, ...) */
#define ZSASL_NOMECH (-2)	/* mechanism unknown or not offered */
#define ZSASL_CANCEL (-3)	/* the client sent "*" */
#define ZSASL_TEMP (-4)		/* the checker could not decide now */
#define ZSASL_CLOSE (-5)	/* the checker hung up: close the connection */

#define ZSASL_DATA_MAX 4096	/* decoded bytes of one client message */
#define ZSASL_LINE_MAX (ZSASL_DATA_MAX / 3 * 4 + 8)	/* base64 line */

/* Check a password: returns 1 (yes), 0 (no), -2 (temporary failure) or -1
 * (close the connection), as lib/login's LOGIN_* codes. */
typedef int zsasl_checkpass_fn(void *arg, const char *user, const char *pw);

struct zsasl;

/* Initialise libsasl2 for the server once per process (app names the
 * application in libsasl2's configuration lookups).  Must run before a
 * chroot: it loads the mechanism plugins.  Returns 0, or -1. */
int zsasl_global_init(const char *app);

/* A new exchange context for one connection; service is the SASL service
 * name ("pop", "imap"), hostname the server's FQDN.  NULL with a message in
 * err. */
struct zsasl *zsasl_new(const char *service, const char *hostname,
    zsasl_checkpass_fn *check, void *arg, struct str *err);

/* Free; *zp becomes NULL. */
void zsasl_free(struct zsasl **zp);

/* The mechanisms that can succeed, space-separated, into list_r (cleared
 * first): "PLAIN LOGIN" when plaintext is allowed (TLS or the local
 * host), else "".  Returns 0 or -1. */
int zsasl_mechs(struct zsasl *z, int plaintext_ok, struct str *list_r);

/* Start mech (case-insensitive; must be one zsasl_mechs listed for the same
 * plaintext_ok).  ir is the initial response in base64 ("=": empty) or NULL
 * when the client sent none.  out_r gets the base64 challenge for
 * ZSASL_CONTINUE.  Returns one of the ZSASL_ codes. */
int zsasl_start(struct zsasl *z, const char *mech, int plaintext_ok,
    const char *ir, struct str *out_r);

/* Continue with the client's line (base64, or "*" to cancel; without its
 * CRLF).  Returns one of the ZSASL_ codes. */
int zsasl_step(struct zsasl *z, const char *line, struct str *out_r);

/* The authenticated user (authorization identity) after ZSASL_OK. */
const char *zsasl_user(const struct zsasl *z);

/* Base64 helpers (libsasl2's codec): decode returns 0, or -1 for
 * malformed input or more than max bytes. */
int zsasl_decode64(const char *in, size_t max, struct str *out_r);
int zsasl_encode64(const void *in, size_t n, struct str *out_r);

#endif
