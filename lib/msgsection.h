/* SPDX-License-Identifier: ISC */
#ifndef ZEST_MSGSECTION_H
#define ZEST_MSGSECTION_H

/*
 * msgsection: the bytes of one FETCH body section (RFC 3501 6.4.5) in wire
 * form, streamed from the message file with the section table of its cache
 * entry (CI_PARTS, see cache.h), so that no message is parsed again and
 * none is held in memory:
 *
 *	BODY[]  BODY[HEADER]  BODY[TEXT]		MSEC_FULL / HEADER / TEXT
 *	BODY[n]  BODY[n.MIME]				MSEC_FULL / MIME, part n
 *	BODY[n.HEADER]  BODY[n.TEXT]			part n is message/rfc822
 *	BODY[...HEADER.FIELDS (a b)]  (.NOT)		MSEC_FIELDS / FIELDS_NOT
 *
 * each with an optional <offset.length>.  Parts are resolved as lib/mime
 * names them (mime.h: "Sections").  A file kept with LF line ends (not
 * REC_RAW) is served with CRLF; a raw file byte for byte.
 *
 * The size is known before the first byte (msgsection_size), as an IMAP
 * literal needs: from the table for whole ranges; for HEADER.FIELDS by a
 * first pass over the header bytes only.  Header field names are matched
 * without regard to case; the fields keep their order and continuation
 * lines, and the blank line that ends the header is always added when the
 * header had one.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MSGSECTION_PART_MAX	255	/* "1.2.3..." as in cache_part */
#define MSGSECTION_NAME_MAX	128	/* a field name longer never matches */

enum msgsection_kind {
	MSEC_FULL,		/* the part (or message) as a whole */
	MSEC_HEADER,		/* its header, blank line included */
	MSEC_TEXT,		/* its body */
	MSEC_MIME,		/* the MIME header of part n */
	MSEC_FIELDS,		/* HEADER.FIELDS */
	MSEC_FIELDS_NOT		/* HEADER.FIELDS.NOT */
};

struct msgsection_spec {
	const char *part;		/* "" or "1.2.3" */
	enum msgsection_kind kind;
	const char *const *fields;	/* FIELDS(.NOT): names, without ':' */
	size_t nfields;
	int partial;			/* <offset.length> given */
	uint64_t offset, length;
};

struct msgsection {
	int fd;
	int raw;
	/* what is being served: a wire range of the message */
	uint64_t dstart, dend;		/* its bytes on disk */
	uint64_t wsize;			/* its wire size (before filtering) */
	int has_blank;			/* a header that ends in a blank line */
	const struct msgsection_spec *spec;
	/* output bounds */
	uint64_t size;			/* bytes msgsection_read gives */
	uint64_t skip;			/* partial: bytes still to skip */
	uint64_t left;			/* bytes still to give */
	/* reading state */
	uint64_t dpos;
	int lf_owed;			/* a CR was given for an LF */
	unsigned char in[8192];
	size_t ipos, ilen;
	/* HEADER.FIELDS filter state */
	int at_bol;			/* next byte starts a line */
	int keep;			/* the current field is kept */
	int in_name;			/* gathering a field name */
	int ended;			/* the blank line was seen */
	char name[MSGSECTION_NAME_MAX + 1];
	size_t nlen;
	int trailer;			/* the final CRLF: 2, 1 bytes owed */
	unsigned char held[MSGSECTION_NAME_MAX + 2];
	size_t hpos, hlen;		/* filtered bytes waiting to go out */
};

/*
 * Prepare s to serve spec of the message in fd (raw: REC_RAW, the file
 * holds the wire bytes), whose section table is parts/parts_len (the
 * CI_PARTS item) and whose wire size is wire_size.  spec (and its field
 * names) must stay valid while s is used.  Returns 0; -1 with errno ENOENT
 * when the message has no such section (IMAP then sends NIL), EINVAL for
 * a spec that makes no sense (MIME without a part, HEADER/TEXT of a part
 * that is not message/rfc822), EBADMSG when the table does not decode, or
 * an I/O error of fd.
 */
int msgsection_open(struct msgsection *s, int fd, int raw,
    const unsigned char *parts, size_t parts_len, uint64_t wire_size,
    const struct msgsection_spec *spec);

/* Bytes msgsection_read will give in all. */
uint64_t msgsection_size(const struct msgsection *s);

/* Up to n of the next bytes into buf; 0 at the end; -1 with errno (EIO
 * also when the file turned out shorter than its table says). */
ssize_t msgsection_read(struct msgsection *s, void *buf, size_t n);

#endif
