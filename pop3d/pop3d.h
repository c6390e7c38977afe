/* SPDX-License-Identifier: ISC */
#ifndef ZEST_POP3D_H
#define ZEST_POP3D_H

/*
 * pop3d: POP3 (RFC 1939, CAPA and response codes RFC 2449, AUTH RFC 5034,
 * STLS RFC 2595) over lib/login's privilege separation (see pop3d(8)):
 * prelogin.c is the AUTHORIZATION state (user zest-login, chrooted),
 * session.c and message.c the TRANSACTION and UPDATE states (the user's
 * uid, started with -S by the login checker).
 */

#include <stddef.h>
#include <stdint.h>

#include "instance.h"
#include "io.h"
#include "login.h"
#include "str.h"

#define POP3_LINE_MAX 512	/* a command line, CRLF included */
#define POP3_ARG_MAX 256	/* user names and other arguments */
#define POP3_SASL_SERVICE "pop"
#define POP3_LOCK_FILE "zest.pop3.lock"
#define POP3_IMPLEMENTATION "Zest"

/* Limits and switches from zest.conf (zest.conf(5)). */
struct pop3_limits {
	unsigned timeout;	/* seconds of idle time before autologout */
	unsigned error_limit;	/* bad commands before the connection ends */
};

/* Read zest.conf's pop3 keys. */
void pop3_limits(const struct instance *inst, struct pop3_limits *lim);

/* One command line split as RFC 1939 says: a keyword of 3-4 letters
 * (uppercased here), then arguments separated by single spaces. */
struct pop3_cmd {
	char kw[5];
	const char *args;	/* the rest after one space, "" when none */
};

/* Split line (its CRLF already removed).  Returns 0, or -1 for a keyword
 * that is not 3-4 letters followed by a space or the end. */
int pop3_parse(const char *line, struct pop3_cmd *cmd);

/* Read one command line into line (without CRLF), up to max bytes.
 * Returns 1, 0 at EOF, -1 with errno (E2BIG: too long, the line was
 * skipped; ETIMEDOUT: idle too long). */
int pop3_getline(struct io *io, struct str *line, size_t max);

/* Write "+OK text" or "-ERR text" and a CRLF; flushes when no pipelined
 * command is waiting.  Returns 0 or -1. */
int pop3_reply(struct io *io, int ok, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Flush when the client has nothing more queued (PIPELINING). */
int pop3_flush_if_idle(struct io *io);

/* Parse a message number argument: decimal 1..max (no sign, no leading
 * zeros beyond one digit, at most 9 digits).  Returns it or 0. */
uint32_t pop3_msgno(const char *s, const char **end_r, uint32_t max);

/* The AUTHORIZATION state: lib/login's pre-login function. */
int pop3_prelogin(struct login_client *lc, void *arg);

/* The TRANSACTION state, as the user (pop3d -S).  Returns the exit
 * status. */
int pop3_session(const struct instance *inst);

/*
 * Send a message from fd as a multi-line response body: CRLF line ends
 * (a text file's LF become CRLF; a raw file's bytes go as they are),
 * every line starting with '.' gets another '.', and the body ends in
 * CRLF "." CRLF.  body_lines < 0 sends everything; otherwise the header,
 * the blank line and at most body_lines lines of the body (TOP).
 * Returns 0, or -1 with errno (a read or write error: the connection is
 * then unusable).
 */
int pop3_send_message(struct io *io, int fd, int raw, long body_lines);

#endif
