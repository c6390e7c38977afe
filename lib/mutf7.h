/* SPDX-License-Identifier: ISC */
#ifndef ZEST_MUTF7_H
#define ZEST_MUTF7_H

/*
 * mutf7: IMAP's modified UTF-7 mailbox names (RFC 3501 section 5.1.3),
 * both ways.
 *
 * Printable US-ASCII (0x20-0x7e) stands for itself, "&" is written "&-",
 * everything else is UTF-16 in a modified base64 ("," instead of "/", no
 * padding) between "&" and "-".  Conversion is strict in both directions
 * so that a mailbox has exactly one spelling on the wire: the decoder
 * refuses bytes outside 0x20-0x7e, unterminated shifts, letters outside
 * the modified base64 alphabet, non-zero or too many padding bits, lone or
 * reversed UTF-16 surrogates, U+0000, printable ASCII encoded in base64
 * ("&AGE-" for "a"), and two shifts in a row ("&AOk-&AOk-" instead of
 * "&AOkA6Q-"), which no encoder produces.  The encoder refuses ill-formed
 * UTF-8 (overlong forms, surrogates, above U+10FFFF, truncated) and NUL.
 *
 * Hand-written because neither iconv nor libicu knows this variant of
 * UTF-7.  Functions append to a struct str and return 0, or -1 with errno
 * EILSEQ for bad input (out is then cut back to its length on entry) or
 * ENOMEM/E2BIG from the str.
 */

#include <stddef.h>

#include "str.h"

/* Append the UTF-8 form of the modified UTF-7 name in[0..len) to out. */
int mutf7_to_utf8(const char *in, size_t len, struct str *out);

/* Append the modified UTF-7 form of the UTF-8 name in[0..len) to out. */
int mutf7_from_utf8(const char *in, size_t len, struct str *out);

/* Whether in[0..len) is a valid, canonical modified UTF-7 name.
 * Returns 1 or 0. */
int mutf7_valid(const char *in, size_t len);

/* Whether in[0..len) is plain printable ASCII without "&", i.e. the
 * same in both forms.  Returns 1 or 0. */
int mutf7_is_ascii(const char *in, size_t len);

#endif
