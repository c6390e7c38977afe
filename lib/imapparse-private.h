/* SPDX-License-Identifier: ISC */
#ifndef ZEST_IMAPPARSE_PRIVATE_H
#define ZEST_IMAPPARSE_PRIVATE_H

/*
 * Internals of imapparse shared by imapparse.c (lines, literals,
 * resynchronisation, the command head), imapparse-args.c (tokens and
 * getters) and imapparse-att.c (fetch attributes, dates).
 */

#include <stdint.h>

#include "imapparse.h"
#include "str.h"

/* Where the parser is within a command. */
enum imap_state {
	IMAP_ST_IDLE = 0,	/* between commands */
	IMAP_ST_SEG,		/* tokens of seg being read; its literal, if
				 * any, not started */
	IMAP_ST_STREAM,		/* inside a streamed literal */
	IMAP_ST_AFTER_LIT,	/* literal read; the next line continues
				 * the command */
	IMAP_ST_DONE		/* the command was read to its end */
};

/* Whether a space is due before the next token. */
enum imap_sep {
	IMAP_SEP_NONE = 0,	/* after "(" or at the start */
	IMAP_SEP_NEEDED
};

struct imap_chunk {
	struct imap_chunk *next;
	size_t used;
	size_t cap;
	char data[];
};

struct imap_parser {
	struct io *io;
	struct imap_limits lim;
	imap_cont_fn *cont;
	void *cont_ctx;
	enum imap_literal_mode litmode;
	int utf8;
	int dead;		/* a fatal error happened */

	enum imap_state st;
	struct str seg;		/* the current line, without its CRLF */
	size_t pos;		/* next byte of seg */
	size_t end;		/* tokens end here: litpos or seg.len */
	int lit;		/* seg ends with a literal announcement */
	int litsync;		/* {n} rather than {n+} */
	int lit8;		/* ~{n} */
	int litbad;		/* its length did not parse */
	uint64_t litlen;
	uint64_t stream_left;	/* IMAP_ST_STREAM: bytes still to come */
	int stream8;		/* the streamed literal is a literal8 */

	enum imap_sep sep;
	unsigned depth;
	unsigned nargs;
	size_t line_total;	/* command text so far */
	size_t cmd_total;	/* text + in-memory literals so far */
	uint64_t discarded;	/* bytes thrown away by imap_cmd_skip */

	enum imap_err err;
	char reason[160];

	struct imap_chunk *arena;
};

/* Record the first error (printf-style reason).  Returns -1. */
int imap_fail(struct imap_parser *p, enum imap_err kind, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

/* Make the current line available (reading the line that follows a
 * literal).  Returns 0 or -1. */
int imap_ensure(struct imap_parser *p);

/* Consume the space due before a token and check that a token follows.
 * Returns 0 or -1. */
int imap_sep(struct imap_parser *p);

/* Account for one more token (args_max).  Returns 0 or -1. */
int imap_count_arg(struct imap_parser *p);

/* Copy n bytes into the arena, NUL-terminated.  NULL on ENOMEM (the
 * parser is then in error). */
char *imap_strdup(struct imap_parser *p, const char *s, size_t n);

/* Room for n bytes in the arena (aligned for pointers). */
void *imap_alloc(struct imap_parser *p, size_t n);

/* After a token: the byte at pos must end it (SP, ")" or the end of the
 * command).  Returns 0 or -1 with a reason naming what stopped it. */
int imap_delim(struct imap_parser *p, const char *what);

/* Why byte c cannot be in a what (reason set).  Returns -1. */
int imap_fail_char(struct imap_parser *p, unsigned char c, const char *what);

/* Character classes of RFC 3501: ATOM-CHAR, ASTRING-CHAR, tag (ASTRING-CHAR
 * but "+"), list-char (LIST patterns). */
int imap_class_atom(unsigned char c);
int imap_class_astring(unsigned char c);
int imap_class_tag(unsigned char c);
int imap_class_list(unsigned char c);

/* How many bytes of class cls follow pos (up to end). */
size_t imap_span(const struct imap_parser *p, int (*cls)(unsigned char));

/* A word of class cls at pos (after imap_sep) into w_r (arena copy); what
 * names it in errors. */
int imap_word(struct imap_parser *p, int (*cls)(unsigned char),
    const char *what, struct imap_str *w_r);

/* Check the literal announced at pos against max and the literal mode
 * (allow8: a literal8 is welcome).  Returns 0 or -1. */
int imap_literal_check(struct imap_parser *p, uint64_t max, int allow8);

/* Read the literal at pos whole into the arena (literal_max, cmd_max),
 * sending the continuation when it is synchronising. */
int imap_literal_mem(struct imap_parser *p, int allow8, struct imap_str *s_r);

/* Read an astring at pos (after imap_sep). */
int imap_astring_at(struct imap_parser *p, struct imap_str *s_r);

/* A quoted string at pos (the opening quote) into s_r. */
int imap_quoted_at(struct imap_parser *p, struct imap_str *s_r);

#endif
