/* SPDX-License-Identifier: ISC */
#ifndef ZEST_IMAPPARSE_H
#define ZEST_IMAPPARSE_H

/*
 * imapparse: the IMAP4rev1 command grammar (RFC 3501 section 9) for the
 * server, read straight from a struct io: tags, command names, atoms,
 * numbers, quoted strings, literals {n} (synchronising), {n+} (RFC 7888
 * LITERAL+ / LITERAL-), literal8 ~{n} (RFC 3516, RFC 4469), NIL, nested
 * lists, sequence sets, fetch attributes with BODY[section]<partial>,
 * dates and date-times, mailbox names and LIST patterns.
 *
 * HOW A COMMAND IS READ.  imap_cmd_read() reads the tag and the command
 * name (with its UID prefix); the handler of that command then pulls the
 * arguments one by one with the typed getters imap_arg_*(), using
 * imap_arg_peek() where the grammar branches, and ends with
 * imap_arg_eol().  Getters take care of the single spaces between
 * arguments: a getter consumes the SP before its token (none is wanted
 * right after "(" or before ")").  The parser reads only what it needs:
 * the command line up to the first literal, the literal when a getter
 * reaches it, then the rest of the line, so nothing past the command is
 * ever read from the io (IDLE's DONE and AUTHENTICATE's lines can be read
 * with io_getline() afterwards).
 *
 * Strings handed out (struct imap_str, tags) live in a per-command arena
 * owned by the parser: valid until the next imap_cmd_read() or
 * imap_parser_free().  They are NUL-terminated and contain no NUL of
 * their own (a literal8 can only be streamed).
 *
 * LITERALS.  A literal is only read when a getter asks for one.  Before
 * anything is read the parser checks the announced size against the limits
 * (and, for a streamed literal, against the caller's maximum); a refused
 * synchronising literal gets no continuation ("+"), so the client sends
 * nothing and the handler answers the tag.  For an accepted synchronising
 * literal the parser calls the continuation callback, which must write and
 * flush "+ ..." (by default the parser writes "+ OK" itself).  A refused
 * non-synchronising literal is on its way already: as RFC 7888 section 4
 * requires, imap_cmd_skip() reads and discards its bytes, or, over
 * discard_max, reports a fatal error so that the connection is closed.
 * {n+} is only accepted under IMAP_LITERAL_PLUS, and under
 * IMAP_LITERAL_MINUS only up to 4096 bytes; otherwise it is refused (and
 * still discarded).  Literals other than literal8 may not hold NUL.
 *
 * Ordinary string literals are read whole into memory (at most
 * literal_max bytes each, cmd_max per command).  APPEND's and CATENATE's
 * message literals are streamed instead: imap_arg_literal_begin() checks
 * the size against the caller's limit, sends the continuation, and
 * imap_literal_read() then hands out the bytes in pieces of the caller's
 * choosing, so a message of any size goes to disk without being held in
 * memory.
 *
 * ERRORS.  A getter that fails returns -1 (or IMAP_TOK_ERROR) and the
 * parser keeps the first error: every later getter fails at once, so a
 * handler may check once at the end.  imap_parser_error() gives its kind
 * and a reason fit for "TAG BAD reason".  After an error (or when a handler
 * gives up on a command it did not read to the end, say NO [TRYCREATE]
 * before the literal), call imap_cmd_skip() BEFORE replying: it skips the
 * rest of the command, reading and discarding any non-synchronising literal
 * and the rest of any streamed literal, so that the next imap_cmd_read()
 * starts on the next command.  (imap_cmd_read() skips by itself too.)
 *
 *   IMAP_ERR_BAD     syntax: reply "TAG BAD reason" (or "* BAD reason"
 *                    when imap_cmd_read() found no tag)
 *   IMAP_ERR_TOOBIG  a size limit: "TAG BAD [TOOBIG] reason", or for
 *                    APPEND "TAG NO [TOOBIG] reason" (RFC 4469, RFC 7889)
 *   IMAP_ERR_FATAL   the connection is unusable (EOF, timeout, I/O error,
 *                    too much to discard): send "* BYE reason" and close
 *
 * LINE ENDS.  Command lines end in CRLF; a bare LF is accepted as well (as
 * most servers do, for telnet users).  A CR anywhere else is refused.
 *
 * A typical handler (APPEND, RFC 3502 MULTIAPPEND left out):
 *
 *	struct imap_str box, flag;
 *	time_t when;  int zone, lit8;  uint64_t size;  ssize_t n;
 *
 *	if (imap_arg_mailbox(p, &box) < 0) goto bad;
 *	if (imap_arg_peek(p) == IMAP_TOK_LIST) {
 *		imap_arg_list_begin(p);
 *		while (imap_arg_peek(p) == IMAP_TOK_ATOM)
 *			imap_arg_flag(p, &flag);
 *		imap_arg_list_end(p);
 *	}
 *	if (imap_arg_peek(p) == IMAP_TOK_QUOTED)
 *		imap_arg_datetime(p, &when, &zone);
 *	if (imap_arg_literal_begin(p, limit, IMAP_LIT8_OK, &size, &lit8) < 0)
 *		goto bad;
 *	while ((n = imap_literal_read(p, buf, sizeof buf)) > 0)
 *		write n bytes to the temporary file;
 *	if (n < 0 || imap_arg_eol(p) < 0) goto bad;
 *	... commit, reply OK ...
 *  bad:
 *	kind = imap_parser_error(p, &reason);
 *	if (imap_cmd_skip(p) < 0) -> "* BYE", close;
 *	else reply by kind.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "io.h"
#include "seqset.h"

/* Limits of one parser; imap_limits_default() fills in the defaults shown. */
struct imap_limits {
	size_t line_max;	/* command text, literals excluded (65536) */
	size_t literal_max;	/* one literal held in memory (65536) */
	size_t cmd_max;		/* one command, streamed literals excluded:
				 * text + in-memory literals (1 MB) */
	unsigned depth_max;	/* list nesting (16) */
	unsigned args_max;	/* tokens in one command (10000) */
	size_t ranges_max;	/* ranges in one sequence set (65536) */
	uint64_t discard_max;	/* bytes thrown away to resynchronise after
				 * an error before giving up (1 MB) */
};

/* Fill lim with the defaults. */
void imap_limits_default(struct imap_limits *lim);

enum imap_literal_mode {
	IMAP_LITERAL_SYNC = 0,	/* plain RFC 3501: {n+} refused */
	IMAP_LITERAL_PLUS,	/* RFC 7888 LITERAL+ */
	IMAP_LITERAL_MINUS	/* RFC 7888 LITERAL-: {n+} up to 4096 */
};

#define IMAP_LITERAL_MINUS_MAX 4096
#define IMAP_NAME_MAX 32	/* longest command name */
#define IMAP_SECTION_PARTS_MAX 32 /* 1.2.3... in BODY[section] */
#define IMAP_FETCH_NAME_MAX 64	/* longest fetch attribute name */

enum imap_err {
	IMAP_ERR_NONE = 0,
	IMAP_ERR_BAD,
	IMAP_ERR_TOOBIG,
	IMAP_ERR_FATAL
};

/* Asked to write and flush the continuation request ("+ ...") for an
 * accepted synchronising literal of size bytes.  Returns 0, or -1 when the
 * connection failed (a fatal error for the parser). */
typedef int imap_cont_fn(void *ctx, uint64_t size);

struct imap_parser;

/* One command as imap_cmd_read() found it. */
struct imap_cmd {
	const char *tag;	/* NULL when the line had no valid tag */
	char name[IMAP_NAME_MAX + 1];	/* upper-cased, "" if none */
	int uid;		/* the command came as "UID name" */
};

/* A string argument: s[len] is NUL and s has no NUL of its own (NUL
 * only comes in a streamed literal8).  s is NULL for an nstring's NIL. */
struct imap_str {
	const char *s;
	size_t len;
};

/* The next token, as imap_arg_peek() sees it. */
enum imap_tok {
	IMAP_TOK_ERROR = -1,	/* the parser is in error */
	IMAP_TOK_EOL = 0,	/* end of the command */
	IMAP_TOK_ATOM,		/* anything else: atom, number, NIL, flag,
				 * sequence set, fetch attribute... */
	IMAP_TOK_QUOTED,	/* "..." */
	IMAP_TOK_LITERAL,	/* {n}, {n+}, ~{n}, ~{n+} */
	IMAP_TOK_LIST,		/* ( */
	IMAP_TOK_LIST_END	/* ) */
};

/* Sections of BODY[...] / BINARY[...] after the part numbers. */
enum imap_section_text {
	IMAP_SECTION_NONE = 0,	/* BODY[] or BODY[1.2] */
	IMAP_SECTION_HEADER,
	IMAP_SECTION_HEADER_FIELDS,
	IMAP_SECTION_HEADER_FIELDS_NOT,
	IMAP_SECTION_TEXT,
	IMAP_SECTION_MIME
};

/* One fetch attribute (RFC 3501 fetch-att, RFC 3516 BINARY). */
struct imap_fetch_att {
	char name[IMAP_FETCH_NAME_MAX + 1];	/* upper-cased: "BODY.PEEK",
						 * "RFC822.SIZE", "ALL"... */
	int has_section;	/* [ ... ] was given */
	uint32_t part[IMAP_SECTION_PARTS_MAX];	/* 1.2.3 */
	size_t nparts;
	enum imap_section_text text;
	const struct imap_str *fields;	/* HEADER.FIELDS[.NOT] names */
	size_t nfields;
	int has_partial;	/* <offset.length> was given */
	uint32_t partial_offset;
	uint32_t partial_length;	/* >= 1 */
};

/* A date (RFC 3501 date: "1-Feb-1994"). */
struct imap_date {
	int year;
	int mon;		/* 1..12 */
	int mday;		/* 1..31, checked against the month */
};

/* Set up a parser reading (and, for continuations, writing) io, which
 * stays owned by the caller; lim NULL means the defaults.  Returns the
 * parser or NULL with errno ENOMEM. */
struct imap_parser *imap_parser_new(struct io *io,
    const struct imap_limits *lim);

/* Free the parser and its arena; *pp becomes NULL. */
void imap_parser_free(struct imap_parser **pp);

/* Use fn(ctx, size) to send continuation requests (NULL: write "+ OK"). */
void imap_parser_set_cont(struct imap_parser *p, imap_cont_fn *fn,
    void *ctx);

/* Which non-synchronising literals are accepted (what was advertised). */
void imap_parser_set_literal_mode(struct imap_parser *p,
    enum imap_literal_mode mode);

/* Accept UTF-8 in quoted strings (after ENABLE UTF8=ACCEPT, RFC 6855);
 * otherwise a byte above 127 in a quoted string is refused. */
void imap_parser_set_utf8(struct imap_parser *p, int on);

/* The first error of the current command and its reason (never NULL;
 * "" when none).  Returns its kind. */
enum imap_err imap_parser_error(const struct imap_parser *p,
    const char **reason_r);

/*
 * Read the next command's tag and name (skipping the rest of the previous
 * command first if it was not read to its end).  Empty lines are ignored.
 * Returns 1 with *cmd filled in, 0 at end of file between commands, or -1
 * on error (imap_parser_error(); cmd->tag is set when the tag was read).
 * After a fatal error every call returns -1.
 */
int imap_cmd_read(struct imap_parser *p, struct imap_cmd *cmd);

/* Skip what is left of the current command (see ERRORS above) and clear
 * the error.  Returns 0, or -1 when the connection must be closed
 * (IMAP_ERR_FATAL, reason in imap_parser_error()). */
int imap_cmd_skip(struct imap_parser *p);

/* The kind of the next argument without consuming it.  May read from the
 * io (the rest of the line after a literal). */
enum imap_tok imap_arg_peek(struct imap_parser *p);

/* The first byte of the next argument (after its space), or -1 at the end
 * of the command, before a literal or on error.  For grammars that branch
 * on it: a digit or "*" starts a sequence set in SEARCH. */
int imap_arg_peek_char(struct imap_parser *p);

/* Getters.  Each returns 0, or -1 with the parser in error. */

/* An atom (RFC 3501 atom: ATOM-CHARs, never a string). */
int imap_arg_atom(struct imap_parser *p, struct imap_str *a_r);

/* number (32-bit), nz-number (1..2^32-1), number64 (RFC 9051, < 2^63). */
int imap_arg_number(struct imap_parser *p, uint32_t *n_r);
int imap_arg_nz_number(struct imap_parser *p, uint32_t *n_r);
int imap_arg_number64(struct imap_parser *p, uint64_t *n_r);

/* A string: quoted or (in-memory) literal. */
int imap_arg_string(struct imap_parser *p, struct imap_str *s_r);

/* An astring: atom (ASTRING-CHARs, "]" included) or string. */
int imap_arg_astring(struct imap_parser *p, struct imap_str *s_r);

/* An nstring: NIL (s_r->s NULL) or string. */
int imap_arg_nstring(struct imap_parser *p, struct imap_str *s_r);

/* A mailbox: astring, with any case of "INBOX" returned as "INBOX".
 * The name is as sent (modified UTF-7, or UTF-8 under UTF8=ACCEPT). */
int imap_arg_mailbox(struct imap_parser *p, struct imap_str *s_r);

/* A LIST/LSUB pattern: list-mailbox (ATOM-CHARs plus "%", "*" and "]") or
 * string. */
int imap_arg_list_mailbox(struct imap_parser *p, struct imap_str *s_r);

/* A flag: "\" atom (system flag or extension, backslash kept) or a
 * keyword atom.  Case is kept: system flags compare case-insensitively. */
int imap_arg_flag(struct imap_parser *p, struct imap_str *f_r);

/* A sequence-set (atom of digits, ":", "," and "*") parsed into set (see
 * seqset.h: "*" is not resolved yet). */
int imap_arg_seqset(struct imap_parser *p, struct seqset *set);

/* "(" and ")" of a list; depth is limited by depth_max. */
int imap_arg_list_begin(struct imap_parser *p);
int imap_arg_list_end(struct imap_parser *p);

/* A date, bare or quoted (SEARCH BEFORE 1-Feb-1994). */
int imap_arg_date(struct imap_parser *p, struct imap_date *d_r);

/* A quoted date-time ("17-Jul-1996 02:44:25 -0700"): *t_r is the UTC
 * time, *zone_r the zone in minutes east of UTC (-420 here). */
int imap_arg_datetime(struct imap_parser *p, time_t *t_r, int *zone_r);

/* A fetch attribute or macro: ENVELOPE, BODY.PEEK[1.2.HEADER]<0.100>,
 * BODY[HEADER.FIELDS (DATE FROM)], BINARY[1]... (name upper-cased; the
 * caller checks that it knows the name). */
int imap_arg_fetch_att(struct imap_parser *p, struct imap_fetch_att *att);

/* The end of the command: nothing may follow, all lists closed. */
int imap_arg_eol(struct imap_parser *p);

/* Flag of imap_arg_literal_begin: a literal8 (~{n}) is welcome. */
#define IMAP_LIT8_OK 0x1

/*
 * Start reading a literal (never a quoted string) as a stream of at most
 * max bytes: an APPEND or CATENATE message.  Larger is refused
 * (IMAP_ERR_TOOBIG) before any continuation.  On success the continuation
 * has been sent for a synchronising literal, *size_r holds the size and
 * *lit8_r whether it is a literal8; then call imap_literal_read() until it
 * returns 0.
 */
int imap_arg_literal_begin(struct imap_parser *p, uint64_t max, int flags,
    uint64_t *size_r, int *lit8_r);

/* Read up to n (> 0) bytes of the streamed literal into buf.  Returns
 * bytes read, 0 at its end, or -1 (parser in error: a NUL in a literal
 * that is not a literal8, EOF, timeout).  Once every byte is in, the
 * final 0 may be skipped: the next getter moves on by itself. */
ssize_t imap_literal_read(struct imap_parser *p, void *buf, size_t n);

/* Pure syntax helpers, also used by the getters. */

/* Parse date-text ("1-Feb-1994", day of 1 or 2 digits).  Returns 0 or -1. */
int imap_date_parse(const char *s, size_t len, struct imap_date *d_r);

/* Parse the inside of a date-time ("17-Jul-1996 02:44:25 -0700"; the day
 * may be " 7", "07" or, as many clients send it, "7").  Returns 0 or -1. */
int imap_datetime_parse(const char *s, size_t len, time_t *t_r, int *zone_r);

#endif
