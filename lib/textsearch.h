/* SPDX-License-Identifier: ISC */
#ifndef ZEST_TEXTSEARCH_H
#define ZEST_TEXTSEARCH_H

/*
 * textsearch: the text side of IMAP SEARCH (RFC 3501 6.4.4): a streaming,
 * case-insensitive substring matcher over UTF-8, and the decoders that turn
 * what a message holds into that UTF-8 text: charsets (iconv), the
 * content transfer encodings (quoted-printable, base64) and RFC 2047
 * encoded-words in header fields.
 *
 * Case-insensitive means both sides folded to lower case code point by
 * code point: ASCII by table, everything else with towlower_l in the
 * C.UTF-8 locale (simple case mappings; no normalisation).  Bytes that
 * are not valid UTF-8 are compared as they are.
 *
 * Every piece keeps bounded state: the matcher holds the needle and a
 * window as long as the needle, the decoders at most a line
 * (TEXTSEARCH_LINE_MAX) or a handful of bytes between calls.
 */

#include <stddef.h>
#include <stdint.h>

#include "str.h"

#define TEXTSEARCH_NEEDLE_MAX	4096	/* bytes of a search string */
#define TEXTSEARCH_LINE_MAX	65536	/* a quoted-printable line kept */

struct textsearch;

/* A matcher for the UTF-8 string needle (n bytes; n may be 0: matches any
 * text, even none).  NULL with errno ENOMEM, or E2BIG past
 * TEXTSEARCH_NEEDLE_MAX. */
struct textsearch *textsearch_new(const char *needle, size_t n);

/* Forget the text fed so far (a new message or field). */
void textsearch_reset(struct textsearch *t);

/* Feed the next n bytes of UTF-8 text (cut anywhere).  Returns 1 once the
 * needle was found (then feeding more is pointless), 0 not yet, -1 with
 * errno ENOMEM. */
int textsearch_feed(struct textsearch *t, const void *p, size_t n);

/* Whether the needle was found since the last reset. */
int textsearch_found(const struct textsearch *t);

void textsearch_free(struct textsearch **tp);

/* Fold UTF-8 text s/n to lower case into out (appended).  0 or -1 ENOMEM. */
int textsearch_fold(const char *s, size_t n, struct str *out);

/*
 * Decoding a body part into UTF-8 text, streamed: the transfer encoding
 * (TS_ENC_*) first, then the charset.  Output goes to a callback.
 */
enum textsearch_enc { TS_ENC_IDENTITY, TS_ENC_QP, TS_ENC_BASE64 };

/* Receives decoded UTF-8; returns 1 to stop (found), 0 to go on, -1. */
typedef int textsearch_sink(void *ctx, const void *p, size_t n);

struct textsearch_dec;

/* A decoder for encoding enc (from the Content-Transfer-Encoding token:
 * textsearch_enc_of) and charset (NULL or unknown: the bytes pass as they
 * are, which is right for US-ASCII and UTF-8 and harmless otherwise).
 * NULL with errno ENOMEM. */
struct textsearch_dec *textsearch_dec_new(enum textsearch_enc enc,
    const char *charset, size_t charset_len, textsearch_sink *sink,
    void *ctx);

/* Feed n bytes of the part's body as stored (wire or LF form).  Returns
 * the sink's 1 once it said stop, 0, or -1 with errno. */
int textsearch_dec_feed(struct textsearch_dec *d, const void *p, size_t n);

/* The body is complete: flush what is held.  Returns as _feed. */
int textsearch_dec_end(struct textsearch_dec *d);

void textsearch_dec_free(struct textsearch_dec **dp);

/* The encoding a Content-Transfer-Encoding token names (case-insensitive;
 * 7bit, 8bit, binary and anything unknown are identity). */
enum textsearch_enc textsearch_enc_of(const char *tok, size_t n);

/*
 * A header field value as text: unfolded, RFC 2047 encoded-words (B and Q,
 * any charset iconv knows) decoded to UTF-8 (blanks between two adjacent
 * encoded-words dropped, as RFC 2047 6.2 says), other bytes kept.
 * Appends to out; 0 or -1 with errno ENOMEM.
 */
int textsearch_header_text(const char *value, size_t n, struct str *out);

/* Convert n bytes in charset to UTF-8, appending to out (invalid input
 * bytes are skipped).  Unknown charsets copy the bytes.  0 or -1 ENOMEM. */
int textsearch_charset_utf8(const char *charset, size_t charset_len,
    const char *s, size_t n, struct str *out);

#endif
