/* SPDX-License-Identifier: ISC */
#ifndef ZEST_QP_H
#define ZEST_QP_H

/*
 * qp: the quoted-printable content transfer encoding (RFC 2045 6.7).
 *
 * The encoder is streaming.  Line ends of the input (CRLF, or a bare LF)
 * are hard line breaks and are kept as they are; a bare CR is data (=0D).
 * Printable ASCII but "=" is literal; "=", controls and bytes above 127 are
 * =XX; a space or tab is literal unless it ends a line (or the data), then
 * it is encoded.  Encoded lines hold at most QP_LINE_MAX characters: longer
 * lines are cut with soft line breaks ("=" and a line end); a "-" starting
 * the line after a soft break is encoded, so that cutting a line never
 * makes a MIME boundary line.
 */

#include <stddef.h>

#include "str.h"

#define QP_LINE_MAX 76	/* characters of an encoded line, "=" included */

/* Encoder state.  Set it up with qp_enc_init. */
struct qp_enc {
	const char *eol;	/* line end of soft breaks: "\r\n" or "\n" */
	size_t col;		/* characters on the current output line */
	int wsp;		/* a space or tab held back, or -1 */
	int cr;			/* a CR held back */
};

/* Set up e; soft line breaks end with CRLF when crlf, else with LF. */
void qp_enc_init(struct qp_enc *e, int crlf);

/* Encode the next n bytes of the data, appending to out.  Returns 0, or -1
 * with errno ENOMEM or E2BIG (out's maximum). */
int qp_encode(struct qp_enc *e, const void *buf, size_t n, struct str *out);

/* The data is complete: flush what was held back into out.  Returns 0 or
 * -1 as qp_encode.  e can be set up again afterwards. */
int qp_encode_end(struct qp_enc *e, struct str *out);

/*
 * Decode n bytes of quoted-printable text, appending to out.  =XX (either
 * case of hex) gives the byte; "=" followed by blanks and a line end is a
 * soft line break and vanishes; blanks before a line end are dropped (RFC
 * 2045: added in transport); line ends are kept as written; an "=" not
 * starting one of these is kept as it is.  Returns 0, or -1 with errno
 * ENOMEM or E2BIG.
 */
int qp_decode(const void *buf, size_t n, struct str *out);

#endif
