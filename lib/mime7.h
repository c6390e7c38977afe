/* SPDX-License-Identifier: ISC */
#ifndef ZEST_MIME7_H
#define ZEST_MIME7_H

/*
 * mime7: downgrade a message for a next hop that lacks 8BITMIME (RFC
 * 6152 section 3) or BINARYMIME (RFC 3030 section 3): convert rather than
 * bounce.  The target is a message that can go with DATA: 7-bit, or 8-bit
 * text when the next hop has 8BITMIME.
 *
 * The message is parsed with mime(3).  A leaf part (or the body of a
 * message without MIME structure) whose Content-Transfer-Encoding is
 * absent, 7bit, 8bit or binary is re-encoded when its encoding is binary,
 * when it holds a NUL, a bare CR or a line over 998 bytes, a bare LF
 * outside text, or (7-bit target) a byte above 127: text without NUL or
 * bare CR in quoted-printable (qp.h), anything else in base64 (b64.h).
 * Its Content-Transfer-Encoding fields are removed and the new one added
 * at the end of its header.  A multipart or message/rfc822 entity declared
 * binary (or 8bit, for the 7-bit target) is relabelled 7bit or 8bit: the
 * parts inside a message/rfc822 are converted like any other (RFC 2046
 * allows it no other encoding), to mime(3)'s depth limit.  message/global
 * (RFC 6532) is a leaf, encoded as a whole when needed: its content is not
 * converted.  For the 7-bit target, header fields holding bytes above 127
 * become RFC 2047 encoded-words (mime7_field_encode); with MIME7_HDR7
 * they do for every target, so that a message whose envelope is ASCII can
 * go to a hop without SMTPUTF8 (RFC 6531 3.4; bodies are not touched: a
 * message/global part stays as it is).  The binary target converts
 * nothing but header fields and keeps every other byte, line ends
 * included.  Every byte not in
 * something converted is copied unchanged but for line ends: every line
 * end of the copy is CRLF (a bare LF or CR becomes CRLF, as DATA would
 * send it), so that its size is what DATA sends.  A message that needs
 * nothing is not copied at all: it goes byte-exact.
 *
 * Conversion is impossible (EILSEQ, with the reason in the result) when a
 * byte to convert is in a header field where encoded-words are not allowed
 * (an address, a Message-ID, a media type, ...), in a part with
 * another encoding (base64, quoted-printable, ...), in an entity the parser
 * left opaque (nested too deep, malformed multipart), in a message/partial
 * or message/external-body part, or in a multipart's preamble, boundaries
 * or epilogue; when a header, an encoded part or the text around parts
 * holds a NUL or a bare CR (a bare CR made a line end could make a
 * boundary line); or when the part table was truncated.
 *
 * The message is read three times (parse, scan, write) with pread, so
 * memory stays bounded by mime(3)'s limits and MIME7_FIELD_MAX whatever
 * the message size.
 */

#include <stddef.h>
#include <sys/types.h>

#include "str.h"

#define MIME7_LINE_MAX 998		/* bytes of a line, line end excluded */
#define MIME7_FIELD_MAX (64 * 1024)	/* a header field to re-encode */
#define MIME7_WHY_MAX 120		/* the reason text */

/* The mode of mime7_convert: a target, and flags. */
#define MIME7_7BIT	0u	/* no byte above 127 */
#define MIME7_8BIT	1u	/* bytes above 127 in text, for 8BITMIME */
#define MIME7_BINARY	2u	/* bodies kept, for BINARYMIME and CHUNKING
				 * (with MIME7_HDR7: headers only) */
#define MIME7_TARGET	3u	/* the target bits */
#define MIME7_HDR7	4u	/* header fields 7-bit whatever the target:
				 * for a hop without SMTPUTF8 */

struct mime7_result {
	off_t size;			/* bytes written (when 1) */
	int eightbit;			/* the copy, or the message when 0 was
					 * returned, holds a byte above 127 */
	char why[MIME7_WHY_MAX];	/* after EILSEQ, why */
};

/*
 * Convert the message in fd in (read with pread from offset 0 to its end)
 * for mode (a MIME7_ target, maybe with MIME7_HDR7), writing the converted copy to fd out at its current offset.
 * chunk is the read size (0: 64 KiB; tests use 1).  Returns 1 when the copy
 * was written, 0 when the message can go as it is (nothing written), or -1
 * with errno: EILSEQ when it cannot be converted (res->why says why; out may
 * hold a partial copy), ENOMEM, or an I/O error of in or out.
 */
int mime7_convert(int in, int out, unsigned mode, size_t chunk,
    struct mime7_result *res);

/* mime7_convert for the 7-bit target, the size of the copy in *size_r. */
int mime7_convert_fd(int in, int out, size_t chunk, off_t *size_r);

/*
 * Append to out the header field f[0..n) (name, colon, value, its line
 * ends; folded or not) with its bytes above 127 made RFC 2047 encoded-words
 * (Q encoding, charset UTF-8 when the bytes are valid UTF-8, else
 * unknown-8bit as RFC 1428 names it), folded at 76 characters with CRLF
 * (crlf) or LF: in unstructured fields (Subject, Comments,
 * Content-Description, Organization, Thread-Topic, X-*), the words holding
 * them; in address fields (From, To, Cc, Bcc, Reply-To, Sender and their
 * Resent- forms), display names and group names (the whole phrase) and
 * simple comments; in Content-Type and Content-Disposition, the values of
 * parameters, as RFC 2231 extended values (name*=UTF-8''%C3%A9, cut into
 * name*0*, name*1*, ... when long).  Returns 0, or -1 with errno ENOMEM,
 * or EILSEQ with why filled when a byte above 127 is where neither is
 * allowed.
 */
int mime7_field_encode(const char *f, size_t n, int crlf, struct str *out,
    char *why, size_t whylen);

#endif
