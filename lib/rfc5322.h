/* SPDX-License-Identifier: ISC */
#ifndef ZEST_RFC5322_H
#define ZEST_RFC5322_H

/*
 * rfc5322: header field utilities for Internet messages (RFC 5322): field
 * names, unfolding, the lexical pieces shared with MIME (CFWS, quoted
 * strings), and a lenient address-list parser giving what an IMAP ENVELOPE
 * needs (RFC 3501 7.4.2).  Header text may hold any byte (8-bit, NUL);
 * nothing here decodes encoded-words or charsets.
 */

#include <stddef.h>

#include "str.h"

/* Host and mailbox given for an address that lacks one: RFC 3501 reserves a
 * NIL host for group syntax, so a bare "user" cannot have a NIL host. */
#define RFC5322_MISSING_DOMAIN	"MISSING_DOMAIN"
#define RFC5322_MISSING_MAILBOX	"MISSING_MAILBOX"

enum rfc5322_addr_kind {
	RFC5322_ADDR_MAILBOX,		/* an address */
	RFC5322_ADDR_GROUP_START,	/* "name:" of a group; name is set */
	RFC5322_ADDR_GROUP_END		/* the ";" closing a group */
};

/* One element of an address list.  An empty name or route means none. */
struct rfc5322_addr {
	enum rfc5322_addr_kind kind;
	struct str name;	/* display name (or group name), quoting
				 * removed; for "a@b (Ann)" the comment */
	struct str route;	/* obsolete route, "@a.example,@b.example" */
	struct str mailbox;	/* local part, quoting removed */
	struct str host;	/* domain as written ("[1.2.3.4]" kept) */
};

struct rfc5322_addrlist {
	struct rfc5322_addr *v;
	size_t n;
	size_t cap;
	int truncated;		/* stopped at the maximum */
};

#define RFC5322_ADDRLIST_INIT { NULL, 0, 0, 0 }

/* Append s[0..n) to out with the folding removed: a CRLF or bare LF followed
 * by SP or HTAB is dropped (the blank stays), and so is a final line end.
 * Returns 0, or -1 with errno from str. */
int rfc5322_unfold(const char *s, size_t n, struct str *out);

/* Length of the field name that starts the header field s[0..n) (blanks
 * before the colon not counted), or 0 when s is not a field; *value_r gets
 * the offset just past the colon. */
size_t rfc5322_field_name(const char *s, size_t n, size_t *value_r);

/* 1 when the header field s[0..n) is named name (ASCII case-insensitive),
 * with *value_r set past the colon; else 0. */
int rfc5322_field_is(const char *s, size_t n, const char *name,
    size_t *value_r);

/* Shrink s[0..*n) by the SP, HTAB, CR and LF at both ends; *s moves. */
void rfc5322_trim(const char **s, size_t *n);

/* Offset of the first byte at or after i that is not CFWS (blanks, line
 * ends, comments with nesting and quoted pairs; an unclosed comment runs to
 * n).  Never more than n. */
size_t rfc5322_skip_cfws(const char *s, size_t n, size_t i);

/* s[*i] is '"': append the quoted string's content, quoted pairs undone,
 * to out (if not NULL) and move *i past the closing quote (to n when it is
 * missing).  Returns 0, or -1 with errno from str. */
int rfc5322_quoted(const char *s, size_t n, size_t *i, struct str *out);

/* Parse the (unfolded) value of an address field such as To: into list,
 * appending.  Groups give a GROUP_START element, their members and a
 * GROUP_END.  Malformed elements are skipped up to the next comma; a local
 * part without a domain gets RFC5322_MISSING_DOMAIN; "<>" gives nothing.
 * At most max elements are added (a group left open is still closed, so
 * one more may be); list->truncated is then set.  Returns 0, or -1 with
 * errno (ENOMEM). */
int rfc5322_addresses(const char *s, size_t n, size_t max,
    struct rfc5322_addrlist *list);

/* Free the elements of list and empty it. */
void rfc5322_addrlist_free(struct rfc5322_addrlist *list);

#endif
