/* SPDX-License-Identifier: ISC */
#ifndef ZEST_MIME_PRIVATE_H
#define ZEST_MIME_PRIVATE_H

/* Internals shared by mime.c (the structure parser: feeding, boundaries,
 * the part table) and mime-field.c (the Content-* header fields). */

#include <stddef.h>
#include <stdint.h>

#include "mime.h"
#include "str.h"

/* The first bytes of a line kept to recognise a boundary line. */
#define HEAD_MAX	(2 + MIME_BOUNDARY_MAX + 2)

/* A place in the stream: offset, CRLF pairs and LFs before it. */
struct pos {
	uint64_t off, crlf, lf;
};

enum fstate { FS_HDR, FS_BODY };

/* An open entity: the innermost is the one the current line belongs to. */
struct frame {
	size_t part;
	enum fstate state;
	int bactive;		/* boundary below ends children */
	size_t blen;
	char boundary[MIME_BOUNDARY_MAX];
};

/* What the parser keeps of an entity beside its struct mime_part. */
struct entity {
	char *section;
	struct mime_content ct;
	struct mime_param *params, *dparams;
	struct mime_text *langs;
	struct mime_text hdr[MIME_HDR_COUNT];
	uint64_t hdr_lf, body_lf;
	struct pos cend;	/* end of the children closed so far */
	size_t nchild;
	size_t kept;
};

struct mime_parser {
	struct mime_limits lim;
	struct mime_part *parts;
	struct entity *ents;
	size_t nparts, cap;
	struct frame *stack;
	size_t nstack;
	size_t nactive;		/* frames with an active boundary */
	struct pos cur;		/* after the last byte fed */
	struct pos lstart;	/* start of the current line */
	struct pos prevterm;	/* start of the previous line's end */
	int have_prev;
	int cr;			/* last byte fed is a CR not yet placed */
	int lf_crlf;		/* a bare LF counts as CRLF */
	int skip;		/* the rest of the line cannot matter */
	int tailjunk;		/* a non-blank byte past head[] */
	size_t headlen;
	uint64_t linelen;
	unsigned char head[HEAD_MAX];
	struct str field;	/* the header field being read, unfolded */
	int field_cut;
	size_t kept_total;
	int done;
	int err;		/* errno of a failure, 0 if none */
};

/* ASCII case-insensitive equality of s[0..n) and the string z. */
int mime_field_eqi(const char *s, size_t n, const char *z);

/* t is present and equal to z, ignoring ASCII case. */
int mime_field_text_is(const struct mime_text *t, const char *z);

/* A NUL-terminated copy of s[0..n) into *t (not freed first).  0, or -1
 * with errno ENOMEM. */
int mime_field_text_set(struct mime_text *t, const char *s, size_t n);

/* Free t->s and empty *t. */
void mime_field_text_free(struct mime_text *t);

/* Free everything e->ct holds and zero it. */
void mime_field_content_clear(struct entity *e);

/* Set e->ct's type to the default given when Content-Type is missing or
 * invalid, or when a container is treated as opaque: text/plain;
 * charset=US-ASCII, or message/rfc822 when digest.  0, or -1 with errno. */
int mime_field_ctype_default(struct entity *e, int digest);

/* Fill the struct mime_content of entry idx of p from its kept Content-*
 * fields.  0, or -1 with errno. */
int mime_field_content_parse(struct mime_parser *p, size_t idx);

#endif
