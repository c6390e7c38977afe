/* SPDX-License-Identifier: ISC */
#ifndef ZEST_SMTPDATA_H
#define ZEST_SMTPDATA_H

/*
 * smtpdata: the reader of SMTP message text, as a state machine fed with
 * whatever bytes have arrived (one byte at a time is fine).
 *
 * In SMTPDATA_DOT mode (after DATA) it removes the dot-stuffing of RFC 5321
 * 4.5.2 and finds the end of the data: the line holding only "." after a
 * CRLF, i.e. CRLF "." CRLF, where the CRLF ending the DATA command counts
 * as the first CRLF.  In SMTPDATA_TEXT mode (BDAT chunks of a 7BIT or
 * 8BITMIME message) there is no dot handling and no end marker; the caller
 * knows where the data ends and calls smtpdata_finish().
 *
 * Only CRLF ends a line.  A bare LF, a bare CR, a NUL or a line longer than
 * the maximum makes the text invalid: the first such fault is kept
 * (smtpdata_error()) and from then on nothing more is output, but the input
 * is still scanned, in DOT mode for the one true end CRLF "." CRLF.  No
 * other sequence ends the data: not LF "." LF, not LF "." CRLF, not CRLF "."
 * LF, not CR "." CR, none of the forms other servers took for an end, so
 * SMTP smuggling (CVE-2023-51764 and its kind) is impossible here: what
 * follows such a sequence is message text, and the message is refused.
 *
 * Memory is constant: the state is a few words; output never exceeds input.
 */

#include <stddef.h>

enum smtpdata_mode {
	SMTPDATA_DOT,		/* DATA: dot-unstuffing, CRLF.CRLF ends */
	SMTPDATA_TEXT		/* BDAT text: line checks only */
};

/* The faults, in the order they are checked. */
enum smtpdata_err {
	SMTPDATA_OK = 0,
	SMTPDATA_BARE_LF,	/* LF not preceded by CR */
	SMTPDATA_BARE_CR,	/* CR not followed by LF */
	SMTPDATA_NUL,		/* a NUL byte */
	SMTPDATA_LONG_LINE	/* a line over the maximum */
};

struct smtpdata {
	enum smtpdata_mode mode;
	int state;
	int done;		/* DOT mode: the end was seen */
	enum smtpdata_err err;	/* the first fault */
	size_t line_len;	/* bytes of the current line so far */
	size_t line_max;	/* the longest line, CRLF included; 0: none */
	unsigned long long lines; /* lines completed (CRLF seen) */
};

/* Start reading text in mode; line_max bounds a line including its CRLF
 * (and a stuffing dot), 0 for no bound. */
void smtpdata_init(struct smtpdata *d, enum smtpdata_mode mode,
    size_t line_max);

/*
 * Scan n bytes of in, writing the message bytes (unstuffed) to out, which
 * has room for n bytes and may be in itself; *outlen_r gets how many.
 * Returns the number of bytes of in consumed: all n, or fewer in DOT mode
 * when the end of the data was reached (the rest belongs to what follows:
 * the next command).  After a fault nothing is written.
 */
size_t smtpdata_feed(struct smtpdata *d, const void *in, size_t n,
    void *out, size_t *outlen_r);

/* DOT mode: whether the end of the data has been read.  Returns 1 or 0. */
int smtpdata_done(const struct smtpdata *d);

/* TEXT mode, at the end of the last chunk: a CR left waiting for its LF
 * is a bare CR.  Returns the first fault (SMTPDATA_OK when none). */
enum smtpdata_err smtpdata_finish(struct smtpdata *d);

/* The first fault so far (SMTPDATA_OK when none). */
enum smtpdata_err smtpdata_error(const struct smtpdata *d);

/* A short English description of a fault ("bare LF"). */
const char *smtpdata_strerror(enum smtpdata_err err);

#endif
