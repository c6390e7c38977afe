/* SPDX-License-Identifier: ISC */
#ifndef ZEST_MSGCACHE_H
#define ZEST_MSGCACHE_H

/*
 * msgcache: turn a message, fed in wire form (CRLF line ends, exactly the
 * bytes IMAP will serve), into the MESSAGE payload of a cache entry:
 * ENVELOPE, BODY, BODYSTRUCTURE, the section table with wire and disk
 * offsets, and the header fields clients ask for most.  Memory is bounded by
 * the MIME parser's limits, not by the message size.
 */

#include <stddef.h>
#include <stdint.h>

#include "str.h"

/* The top-level header is kept for CI_HEADERS up to this many bytes: a
 * message whose header is longer may lack some fields there. */
#define MSGCACHE_HDR_MAX (64 * 1024)

struct msgcache;

/* Whether CI_HEADERS keeps every field named name (case-insensitive) of a
 * header no longer than MSGCACHE_HDR_MAX. */
int msgcache_field_kept(const char *name);

/* A new builder; NULL with errno on failure. */
struct msgcache *msgcache_new(void);

/* Feed n more wire bytes.  Returns 0 or -1 with errno. */
int msgcache_feed(struct msgcache *mc, const void *wire, size_t n);

/* Finish and append the payload items to payload.  raw says whether the
 * disk file holds the wire bytes (else LF text: disk offset = wire offset -
 * CRLF pairs before it).  Returns 0 or -1 with errno. */
int msgcache_finish(struct msgcache *mc, int raw, struct str *payload);

/* Parse a message file as another program left it (lines ending in LF,
 * or CRLF, or mixed) from fd's current offset to its end, into the
 * MESSAGE payload items appended to payload.  A file whose every line
 * ends in CRLF is served as it is (*raw_r 1); any other is LF text, served
 * with every LF made CRLF (*raw_r 0).  *wire_r gets the wire size.  A file
 * of up to MSGCACHE_SLURP bytes is read once; a larger one twice, so that
 * memory stays bounded.  Thread-safe (no shared state).  0, or -1 with
 * errno. */
int msgcache_parse_fd(int fd, struct str *payload, int *raw_r,
    uint64_t *wire_r);

#define MSGCACHE_SLURP (1024 * 1024)

/* Free; *mcp becomes NULL. */
void msgcache_free(struct msgcache **mcp);

#endif
