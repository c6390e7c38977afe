/* SPDX-License-Identifier: ISC */
#ifndef ZEST_MIME_H
#define ZEST_MIME_H

/*
 * mime: a push parser for the MIME structure of a message (RFC 2045, 2046,
 * 2231), giving the part table an IMAP server serves from its cache.
 *
 * The message is fed in wire form, in chunks of any size.  Lines end in
 * CRLF or in a bare LF; a bare CR is data; NUL and 8-bit bytes are data.
 * Every offset and size is of the bytes exactly as fed.  Memory is bounded
 * by struct mime_limits, never by the message size: bodies are not kept,
 * only the header fields listed in enum mime_hdr, each bounded.
 *
 * The result is a flat table of entities in preorder.  Entry 0 is the
 * message.  A multipart entity's children follow it; a message/rfc822
 * entity (MIME_KIND_MESSAGE) is followed by exactly one child, the message
 * it encapsulates (flag MIME_PART_F_MESSAGE, as entry 0 has).
 *
 * Sections (RFC 3501 6.4.5).  Each entry's section is the IMAP part number
 * of its content: "" for entry 0, then "1", "1.2", ...  The message inside
 * a message/rfc822 part N is named "N.1" (its body is part N.1, its header
 * N.1.MIME) unless it is multipart: then it is named "N", like its
 * container, and its children are N.1, N.2, ...  (When entry 0 itself is
 * message/rfc822, its body is part 1, so the message inside is "1.1" or
 * "1".)  To resolve a section S:
 *   BODY[S], BODY[S.MIME]: when S is "1" and entry 0 is not multipart,
 *     entry 0; else the first entry named S (its body, its header).
 *   BODY[S.HEADER], BODY[S.TEXT]: S must be a MIME_KIND_MESSAGE entry; the
 *     entry right after it is the message (its header, its body).
 *   BODY[HEADER], BODY[TEXT]: entry 0.
 * mime_section_find() does this on any array of struct mime_part.
 *
 * Malformed input is never an error: a header without a blank line ends at
 * the end of its part; a missing closing boundary ends at the end of the
 * enclosing part or message; a multipart without a usable boundary or
 * without any part, a container nested too deep, a message/rfc822 in base64
 * or quoted-printable, or one past the part limit, is an opaque leaf of type
 * text/plain; charset=US-ASCII (flag MIME_PART_F_OPAQUE).  Boundary lines
 * are "--" boundary ["--"] then blanks only, at the start of a line; the
 * boundaries of all enclosing multiparts are recognised, innermost first.
 */

#include <stddef.h>
#include <stdint.h>

#define MIME_DEPTH_HARDMAX	256	/* highest max_depth accepted */
#define MIME_BOUNDARY_MAX	200	/* highest max_boundary accepted */
#define MIME_PARAMS_MAX		64	/* parameters kept per field */

struct mime_limits {
	unsigned max_depth;	/* deepest entity (0: the message only); 32 */
	size_t max_parts;	/* entries in the table; 1000 */
	size_t max_field;	/* bytes of one header field kept; 8 KiB */
	size_t max_header;	/* bytes of fields kept per entity; 64 KiB */
	size_t max_total;	/* bytes of fields kept in all; 4 MiB */
	size_t max_boundary;	/* longest boundary accepted (RFC 2046 says
				 * 70); 200 */
};

enum mime_kind {
	MIME_KIND_LEAF = 0,
	MIME_KIND_MULTIPART = 1,
	MIME_KIND_MESSAGE = 2	/* message/rfc822 */
};

/* flags of struct mime_part */
#define MIME_PART_F_MESSAGE	0x01u	/* header is a message header (entry 0
					 * or the child of a MESSAGE entry) */
#define MIME_PART_F_OPAQUE	0x02u	/* a container not parsed: see above */
#define MIME_PART_F_TRUNCATED	0x04u	/* parts dropped: max_parts reached */
#define MIME_PART_F_HDR_CUT	0x08u	/* header fields cut or not kept */
#define MIME_PART_F_NO_BLANK	0x10u	/* header not ended by a blank line */

#define MIME_NONE	SIZE_MAX	/* parent of entry 0 */

/* One entity.  Offsets are of the fed bytes; *_crlf count the CRLF pairs
 * before an offset, so a store keeping LF line ends has the disk offset
 * off - crlf (and the disk body size body_size - (end_crlf - body_crlf)).
 * A body (or a header cut short) ends before the line end that precedes
 * the boundary line ending it (RFC 2046: that line end belongs to the
 * boundary); at the end of the message it ends with the last byte.  Lines
 * are counted as LFs, so a last line without a line end is not counted. */
struct mime_part {
	const char *section;	/* see above; owned by the parser */
	size_t parent;		/* index of the parent, MIME_NONE for 0 */
	size_t next;		/* index past this entry's descendants */
	unsigned depth;		/* 0 for the message */
	enum mime_kind kind;
	unsigned flags;		/* MIME_PART_F_* */
	uint64_t hdr_off;	/* header start */
	uint64_t hdr_size;	/* header bytes, with the blank line */
	uint64_t body_off;	/* body start (= hdr_off + hdr_size) */
	uint64_t body_size;	/* body bytes */
	uint64_t body_lines;	/* LFs (line ends) in the body */
	uint64_t hdr_crlf;	/* CRLF pairs before hdr_off */
	uint64_t body_crlf;	/* CRLF pairs before body_off */
	uint64_t end_crlf;	/* CRLF pairs before body_off + body_size */
};

/* A piece of header text; s is NULL when absent, else NUL-terminated (the
 * text may hold NUL bytes of its own: use n). */
struct mime_text {
	const char *s;
	size_t n;
};

/* A Content-Type or Content-Disposition parameter.  RFC 2231 continuations
 * are joined: "name*0", "name*1" give name; when a piece is encoded the
 * name is "name*" and the value is the raw charset'lang'%XX form (plain
 * pieces %-escaped), as "name*" itself gives. */
struct mime_param {
	struct mime_text name;	/* as written */
	struct mime_text value;	/* quoting removed */
};

/* The parsed Content-* fields of an entity.  Names and tokens are as
 * written (compare them case-insensitively). */
struct mime_content {
	struct mime_text type;		/* "text" by default */
	struct mime_text subtype;	/* "plain" by default */
	const struct mime_param *params;
	size_t nparams;
	struct mime_text encoding;	/* Content-Transfer-Encoding token */
	struct mime_text disposition;	/* Content-Disposition type */
	const struct mime_param *dparams;
	size_t ndparams;
	const struct mime_text *languages;	/* Content-Language tags */
	size_t nlanguages;
	int defaulted;	/* no valid Content-Type: the default was used
			 * (text/plain; charset=US-ASCII, or message/rfc822
			 * in a multipart/digest) */
};

/* Header fields kept (the first of each; envelope fields only for entries
 * with MIME_PART_F_MESSAGE).  Values are unfolded, blanks trimmed. */
enum mime_hdr {
	MIME_HDR_CONTENT_TYPE,
	MIME_HDR_CONTENT_TRANSFER_ENCODING,
	MIME_HDR_CONTENT_ID,
	MIME_HDR_CONTENT_DESCRIPTION,
	MIME_HDR_CONTENT_DISPOSITION,
	MIME_HDR_CONTENT_LANGUAGE,
	MIME_HDR_CONTENT_LOCATION,
	MIME_HDR_CONTENT_MD5,
	MIME_HDR_DATE,		/* first envelope field */
	MIME_HDR_SUBJECT,
	MIME_HDR_FROM,
	MIME_HDR_SENDER,
	MIME_HDR_REPLY_TO,
	MIME_HDR_TO,
	MIME_HDR_CC,
	MIME_HDR_BCC,
	MIME_HDR_IN_REPLY_TO,
	MIME_HDR_MESSAGE_ID,
	MIME_HDR_COUNT
};

struct mime_parser;

/* The default limits (values above). */
struct mime_limits mime_limits_default(void);

/* A new parser with limits lim (NULL: the defaults; out-of-range values are
 * clamped).  NULL with errno ENOMEM on failure. */
struct mime_parser *mime_parser_new(const struct mime_limits *lim);

/* From now on, count every LF fed without a CR before it as CRLF: all
 * offsets and sizes are then those of the input with a CR put before each
 * such LF.  For a text file without CR bytes this is its wire form, with
 * no copy made to feed it.  Call it before feeding. */
void mime_parser_lf_as_crlf(struct mime_parser *p);

/* Feed the next n bytes of the message.  Returns 0, or -1 with errno:
 * ENOMEM (the parser is then unusable), EINVAL after mime_parser_finish. */
int mime_parser_feed(struct mime_parser *p, const void *buf, size_t n);

/* The message is complete: close every open entity.  Returns 0 or -1 with
 * errno as mime_parser_feed.  The table is final afterwards. */
int mime_parser_finish(struct mime_parser *p);

/* Free the parser and everything it gave out; *pp becomes NULL. */
void mime_parser_free(struct mime_parser **pp);

/* Number of entries in the table (at least 1). */
size_t mime_part_count(const struct mime_parser *p);

/* Entry i, or NULL when i is out of range.  Before mime_parser_finish an
 * entry may still change, and the pointer is good until the next feed. */
const struct mime_part *mime_part_get(const struct mime_parser *p, size_t i);

/* The whole table (mime_part_count entries), for mime_section_find. */
const struct mime_part *mime_parts(const struct mime_parser *p);

/* The Content-* fields of entry i (NULL when out of range).  Meaningful once
 * the entry's header is complete. */
const struct mime_content *mime_part_content(const struct mime_parser *p,
    size_t i);

/* Header field f of entry i, or NULL when absent (or not kept). */
const struct mime_text *mime_part_header(const struct mime_parser *p,
    size_t i, enum mime_hdr f);

/* Bytes the parser holds now (allocations it made), for tests of the
 * memory bound. */
size_t mime_parser_memory(const struct mime_parser *p);

/* Resolve the part number of an IMAP section ("" or "1.2.3", without
 * HEADER/TEXT/MIME) in parts[0..n) by the rules above.  Returns 0 with
 * *idx_r set, or -1 with errno ENOENT. */
int mime_section_find(const struct mime_part *parts, size_t n,
    const char *section, size_t *idx_r);

#endif
