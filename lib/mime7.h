/* SPDX-License-Identifier: ISC */
#ifndef ZEST_MIME7_H
#define ZEST_MIME7_H

/*
 * mime7: convert an 8-bit message to 7-bit for a server without 8BITMIME
 * (RFC 6152 section 3: convert or bounce).
 *
 * The message is parsed with mime(3) and every leaf part (or the whole
 * body of a message without MIME structure) whose body holds a byte above
 * 127 and whose Content-Transfer-Encoding is absent, 7bit or 8bit is
 * encoded in quoted-printable (qp.h): its Content-Transfer-Encoding fields
 * are removed and "Content-Transfer-Encoding: quoted-printable" is added
 * at the end of its header.  Every other byte is copied unchanged.
 *
 * Conversion is impossible (EILSEQ) when a byte above 127 is in a header
 * (of the message or of a part), in a part with another encoding (binary,
 * base64, ...), inside a message/rfc822 part, in an entity the parser left
 * opaque, in a multipart's preamble, boundaries or epilogue, or anywhere
 * when the part table was truncated.
 *
 * The message is read three times (parse, scan, write) with pread, so
 * memory stays bounded by mime(3)'s limits whatever the message size.
 */

#include <stddef.h>
#include <sys/types.h>

/*
 * Convert the message in fd in (read with pread from offset 0 up to its
 * end), writing the converted copy to fd out at its current offset.  chunk
 * is the read size (0: 64 KiB; tests use 1).  Returns 1 when the copy was
 * written (*size_r set to its length), 0 when the message has no byte
 * above 127 (nothing written), or -1 with errno: EILSEQ when it cannot be
 * converted (see above; out may hold a partial copy), ENOMEM, or an I/O
 * error of in or out.
 */
int mime7_convert_fd(int in, int out, size_t chunk, off_t *size_r);

#endif
