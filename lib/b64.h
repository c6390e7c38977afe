/* SPDX-License-Identifier: ISC */
#ifndef ZEST_B64_H
#define ZEST_B64_H

/*
 * b64: the base64 content transfer encoding (RFC 2045 6.8), both ways,
 * streaming, into a struct str.
 *
 * Hand-written rather than OpenSSL's EVP_EncodeUpdate/EVP_DecodeUpdate:
 * those cut lines at 64 characters with LF only and their decoder
 * accepts things RFC 2045 does not (and keeps state we cannot bound by a
 * maximum per call); here lines are at most B64_LINE_MAX characters with
 * the line end the caller chooses, and the decoder is strict.
 */

#include <stddef.h>

#include "str.h"

#define B64_LINE_MAX 76	/* characters of an encoded line (RFC 2045) */

/* Encoder state; set it up with b64_enc_init. */
struct b64_enc {
	const char *eol;	/* "\r\n" or "\n" */
	unsigned char hold[3];	/* bytes of an incomplete group */
	size_t nhold;
	size_t col;		/* characters on the current line */
	int any;		/* something was written */
};

/* Set up e; lines end with CRLF when crlf, else LF. */
void b64_enc_init(struct b64_enc *e, int crlf);

/* Encode the next n bytes, appending to out.  Returns 0, or -1 with errno
 * ENOMEM or E2BIG (out's maximum). */
int b64_encode(struct b64_enc *e, const void *buf, size_t n, struct str *out);

/* The data is complete: the last group with its padding and a final line
 * end (none for empty data).  Returns 0 or -1 as b64_encode. */
int b64_encode_end(struct b64_enc *e, struct str *out);

/* Decoder state; set it up with b64_dec_init. */
struct b64_dec {
	unsigned long acc;	/* bits of the current group */
	unsigned nacc;		/* characters in the current group */
	unsigned pad;		/* "=" seen: the data has ended */
};

void b64_dec_init(struct b64_dec *d);

/*
 * Decode the next n characters, appending the bytes to out.  Line ends,
 * spaces and tabs are skipped; anything else outside the alphabet, data
 * after the padding, or padding in the wrong place is EINVAL.  Returns 0,
 * or -1 with errno EINVAL, ENOMEM or E2BIG.
 */
int b64_decode(struct b64_dec *d, const void *buf, size_t n, struct str *out);

/* The text is complete: 0 when it ended on a whole group (padded or not
 * needed), -1 with errno EINVAL when it stopped inside one or the unused
 * bits of the last group are not zero. */
int b64_decode_end(struct b64_dec *d);

/* Characters b64_encode gives for n bytes with lines of B64_LINE_MAX and
 * line ends of eollen bytes, the final line end included. */
size_t b64_encoded_size(size_t n, size_t eollen);

#endif
