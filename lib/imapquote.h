/* SPDX-License-Identifier: ISC */
#ifndef ZEST_IMAPQUOTE_H
#define ZEST_IMAPQUOTE_H

/*
 * imapquote: writing byte strings back to an IMAP client in the cheapest
 * form the grammar (RFC 3501 section 9) allows: an atom where an astring
 * may stand and the bytes are all ASTRING-CHARs, a quoted string ("..."
 * with \" and \\ escapes) when the bytes are safe inside quotes, a literal
 * ({n} CRLF bytes) otherwise.
 *
 * "Safe inside quotes" means: no NUL, CR or LF, no more than
 * IMAPQUOTE_QUOTED_MAX bytes (long values go as literals so that no client
 * line buffer overflows), and either plain ASCII or, with IMAPQUOTE_UTF8
 * (after ENABLE UTF8=ACCEPT, RFC 6855), valid UTF-8.  A string holding
 * NUL can only go as a literal8 (~{n}, RFC 3516) and only with
 * IMAPQUOTE_BINARY; otherwise it is refused with EINVAL.
 *
 * Functions append to a struct str and return 0, or -1 with errno (out is
 * then cut back to its length on entry).
 */

#include <stddef.h>

#include "str.h"

#define IMAPQUOTE_QUOTED_MAX 4096

#define IMAPQUOTE_UTF8 0x1	/* 8-bit UTF-8 may go in quotes */
#define IMAPQUOTE_BINARY 0x2	/* NUL may go out as a literal8 */
#define IMAPQUOTE_LITERAL 0x4	/* always a literal (e.g. message bodies) */

/* Append s[0..len) as an IMAP string: quoted or literal. */
int imapquote_string(struct str *out, const void *s, size_t len, int flags);

/* Append s[0..len) as an astring: an atom when it is one (and is not
 * "NIL", which some clients take for nil), else as imapquote_string. */
int imapquote_astring(struct str *out, const void *s, size_t len, int flags);

/* Append an nstring: NIL for s == NULL, else as imapquote_string. */
int imapquote_nstring(struct str *out, const void *s, size_t len, int flags);

/* Append a mailbox name (already in its wire form: modified UTF-7, or
 * UTF-8 with IMAPQUOTE_UTF8) as an astring; any spelling of INBOX goes
 * out as "INBOX". */
int imapquote_mailbox(struct str *out, const char *name, size_t len,
    int flags);

/* Whether s[0..len) can go as an atom where an astring is expected
 * (ASTRING-CHARs only, not empty).  Returns 1 or 0. */
int imapquote_is_astring_atom(const void *s, size_t len);

/* Whether c is an ATOM-CHAR (RFC 3501: CHAR except atom-specials). */
int imapquote_atom_char(unsigned char c);

#endif
