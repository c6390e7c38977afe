/* SPDX-License-Identifier: ISC */
#ifndef ZEST_SEARCH_H
#define ZEST_SEARCH_H

/*
 * search: IMAP SEARCH programs (RFC 3501 6.4.4, plus MODSEQ of RFC 7162)
 * and their evaluation against one message at a time.
 *
 * imapd parses the search keys into a tree of struct search_key (the
 * builder functions below) and calls search_match for each message of its
 * view.  Keys that only need the index record (flags, keywords, sizes,
 * dates, UIDs, sequence numbers, MODSEQ) are evaluated first, whatever
 * order the client wrote them in; header keys read the cached header
 * fields (zest.cache CI_HEADERS) when the field is cached there, else the
 * message's header; BODY and TEXT read the message once, decoding each
 * text part (quoted-printable, base64, its charset) into UTF-8.  Strings
 * match as case-insensitive substrings (lib/textsearch).
 *
 * Dates: BEFORE/ON/SINCE compare the internal date's day in the server's
 * time zone, SENT* the Date: field's own day (RFC 3501: disregarding time
 * and time zone).  A message without a parsable Date: field has no sent
 * date and matches no SENT* key.
 */

#include <stddef.h>
#include <stdint.h>

#include "seqset.h"
#include "str.h"
#include "textsearch.h"

enum search_op {
	SEARCH_ALL,
	SEARCH_AND,		/* every child (a parenthesised list) */
	SEARCH_OR,		/* either of two children */
	SEARCH_NOT,		/* not the child */
	SEARCH_SEQ,		/* sequence numbers in set */
	SEARCH_UID,		/* UIDs in set */
	SEARCH_FLAGS,		/* every MAIL_* flag of mask set */
	SEARCH_UNFLAGS,		/* every MAIL_* flag of mask clear */
	SEARCH_RECENT,		/* \Recent in this session */
	SEARCH_KEYWORD,		/* keyword bit set (no bit: nothing) */
	SEARCH_UNKEYWORD,	/* keyword bit clear (no bit: everything) */
	SEARCH_BEFORE, SEARCH_ON, SEARCH_SINCE,		/* internal date */
	SEARCH_SENTBEFORE, SEARCH_SENTON, SEARCH_SENTSINCE,
	SEARCH_LARGER, SEARCH_SMALLER,	/* RFC822.SIZE */
	SEARCH_MODSEQ,		/* MODSEQ >= value */
	SEARCH_HEADER,		/* field contains text ("" : has field) */
	SEARCH_BODY,		/* body text contains text */
	SEARCH_TEXT		/* header or body contains text */
};

struct search_key {
	enum search_op op;
	struct search_key *child;	/* AND, OR (two), NOT */
	struct search_key *next;	/* sibling */
	struct seqset set;		/* SEQ, UID (resolved against *) */
	uint32_t flags;			/* FLAGS, UNFLAGS */
	int nobit;			/* KEYWORD/UNKEYWORD of a keyword
					 * the mailbox does not have */
	uint64_t value;			/* keyword bit number, size, MODSEQ */
	int64_t day;			/* dates: days since the epoch */
	char *field;			/* HEADER: the field name */
	struct textsearch *text;	/* HEADER, BODY, TEXT */
	int cost;			/* set by search_prepare */
};

/* A new key of op (children and fields are the caller's to fill in with
 * the functions below).  NULL with errno ENOMEM. */
struct search_key *search_key_new(enum search_op op);

/* Add child to parent's children (in order).  */
void search_key_add(struct search_key *parent, struct search_key *child);

/* Give HEADER/BODY/TEXT keys their field and string.  0, or -1 with errno
 * ENOMEM, E2BIG (string too long), EINVAL (field name not printable). */
int search_key_text(struct search_key *k, const char *field,
    const char *text, size_t n);

/* Free k, its children and siblings. */
void search_key_free(struct search_key *k);

/* Order every AND by cost (index-only keys first).  Call once before
 * the first search_match. */
void search_prepare(struct search_key *k);

/* Whether k needs more than the index record. */
int search_needs_message(const struct search_key *k);

/* What search_match knows about one message. */
struct search_msg {
	uint32_t seq, uid;
	uint32_t flags;			/* MAIL_* */
	int recent;
	uint64_t keywords, modseq, size;	/* size: RFC822.SIZE */
	int64_t internal_date;
	/* The cached MESSAGE payload (zest.cache), NULL when none. */
	const unsigned char *cached;
	size_t cached_len;
	/* The message file, opened by search_match through open_file when
	 * needed (fd -1 until then; closed by the caller), and whether it
	 * holds the raw wire bytes (else LF text). */
	int (*open_file)(void *ctx, int *fd_r, int *raw_r);
	void *ctx;
	int fd;
	int raw;
	int zone;			/* the server's zone, minutes */
};

/* Whether msg matches k: 1 yes, 0 no, -1 with errno (the message file
 * could not be read: ENOENT when it is gone). */
int search_match(struct search_key *k, struct search_msg *msg);

#endif
