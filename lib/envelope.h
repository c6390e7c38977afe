/* SPDX-License-Identifier: ISC */
#ifndef ZEST_ENVELOPE_H
#define ZEST_ENVELOPE_H

/*
 * envelope: the IMAP ENVELOPE, BODY and BODYSTRUCTURE (RFC 3501 7.4.2) of
 * a message parsed by mime, as wire text ready to follow "ENVELOPE " or
 * "BODYSTRUCTURE " in a FETCH response, and IMAP string output.
 *
 * Conventions (those of the RFC 3501 examples, as Cyrus and Gmail do):
 * media type, subtype, parameter names, transfer encoding and disposition
 * type are sent in upper case; parameter values, language tags and every
 * header text as in the message.  Header text is raw: unfolded, blanks at
 * the ends trimmed, encoded-words not decoded.  Defaults: a part without
 * (valid) Content-Type is ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") ...), a
 * TEXT part without a charset gets "CHARSET" "US-ASCII" first in its
 * parameters (RFC 2046 4.1.2), a missing Content-Transfer-Encoding is
 * "7BIT".  BODYSTRUCTURE always gives
 * all four extension fields (md5, disposition, language, location).
 * A Content-Language of one tag is a string, of several a list.
 * Sizes are body octets as fed to the parser; lines are given for TEXT
 * types and MESSAGE/RFC822.
 *
 * Addresses: ((name adl mailbox host) ...) with quoting removed; a group is
 * (NIL NIL "name" NIL) ... (NIL NIL NIL NIL); when a mailbox has no display
 * name, a comment in it ("a@b (Ann)") is its name; see rfc5322.h for the
 * placeholders of a missing host or mailbox.  Sender and Reply-To absent
 * or without any address default to From.
 */

#include <stddef.h>

#include "mime.h"
#include "str.h"

/* Most addresses (and group markers) given for one field. */
#define ENVELOPE_MAX_ADDRESSES	1000

/* Append s[0..n) as an IMAP string: a quoted string ('\' and '"' escaped)
 * when every byte is 0x01-0x7f and none is CR or LF, else a literal
 * "{len}\r\n" and the bytes (NUL bytes, which IMAP cannot carry, are left
 * out).  Returns 0, or -1 with errno from str. */
int envelope_string(struct str *out, const char *s, size_t n);

/* As envelope_string, or NIL when s is NULL. */
int envelope_nstring(struct str *out, const char *s, size_t n);

/* Append the address list of an address field's value (see above), NIL
 * when it holds no address.  Returns 0 or -1 with errno. */
int envelope_addresses(struct str *out, const char *s, size_t n);

/* Append the ENVELOPE of the message whose header is entry part: 0 for the
 * top level, a MIME_KIND_MESSAGE entry (its message) or the message entry
 * itself.  Returns 0, or -1 with errno (EINVAL: part is neither). */
int envelope_envelope(const struct mime_parser *p, size_t part,
    struct str *out);

/* Append the BODYSTRUCTURE (extended set) or the BODY (extended 0) of the
 * whole message.  Use after mime_parser_finish.  Returns 0 or -1 with
 * errno. */
int envelope_bodystructure(const struct mime_parser *p, int extended,
    struct str *out);

/* As envelope_bodystructure for the body of entry part only (a message
 * entry gives the structure of its body). */
int envelope_bodystructure_part(const struct mime_parser *p, size_t part,
    int extended, struct str *out);

#endif
