/* SPDX-License-Identifier: ISC */
#ifndef ZEST_CACHE_H
#define ZEST_CACHE_H

/*
 * The mailbox cache file (zest.cache): append-only entries of parsed message
 * data, pointed to by index records.  A 32-byte header (magic, version,
 * UIDVALIDITY, CRC) is followed by entries, each 8-byte aligned:
 *   u32 type, u32 uid, u32 payload length, u32 CRC of the 12 bytes before it
 *   and the payload, then the payload.
 * A MESSAGE payload is a list of items (u8 id, u32 length, bytes).  Layout
 * in zest-index(5).  Entries past what an index points to (a writer killed
 * half-way) are garbage that nothing reads.
 */

#include <stddef.h>
#include <stdint.h>

#include "str.h"

#define CACHE_MAGIC	"ZESTCCH\n"
#define CACHE_VERSION	1u
#define CACHE_HDR_SIZE	32u
#define CACHE_ENT_HDR	16u
#define CACHE_MAX_ENTRY	(64u << 20)

/* entry types */
#define CACHE_T_MESSAGE	1u	/* parsed message data (items below) */
#define CACHE_T_NAME	2u	/* payload: file name relative to the Maildir */

/* MESSAGE items */
#define CI_NAME		1u	/* "new/BASE" or "cur/BASE:2,FLAGS" at write time */
#define CI_ENVELOPE	2u	/* RFC 3501 ENVELOPE, wire text */
#define CI_BODY		3u	/* BODY (no extension data) */
#define CI_BODYSTRUCTURE 4u	/* BODYSTRUCTURE */
#define CI_PARTS	5u	/* section table: see cache_part */
#define CI_HEADERS	6u	/* chosen header fields, raw, wire form */

struct cache;

/* One row of CI_PARTS, encoded as u8 section length, section bytes, u8 kind,
 * then eight u64: hdr_off hdr_size body_off body_size body_lines and the
 * disk offsets hdr_doff body_doff body_dsize. */
struct cache_part {
	char section[256];	/* "" whole message, "1", "1.2", ... */
	uint8_t kind;		/* 0 leaf, 1 multipart, 2 message/rfc822 */
	uint64_t hdr_off, hdr_size, body_off, body_size, body_lines;
	uint64_t hdr_doff, body_doff, body_dsize;
};

/* Open (creating when create is set) the cache at path.  A file whose
 * header does not check or whose UIDVALIDITY differs is reset when create is
 * set, else -1 with EBADMSG. */
int cache_open(const char *path, int writable, int create,
    uint32_t uidvalidity, struct cache **c_r);

/* Append an entry; its offset goes to *off_r.  Needs the mailbox lock. */
int cache_append(struct cache *c, uint32_t type, uint32_t uid,
    const void *payload, size_t len, uint64_t *off_r);

/* Entries gathered in memory and written in pieces of about a MiB, not
 * one write each: a new cache file written front to back (a rebuild), or
 * many entries added to an open one (a sync).  An entry is in the file
 * only once flushed. */
struct cache_writer;

/* Create the file at path (it must not exist) with its header. */
int cache_writer_open(const char *path, uint32_t uidvalidity,
    struct cache_writer **w_r);

/* A writer that adds entries after those of the open cache c (under the
 * mailbox lock, with no cache_append until it is flushed): a sync that
 * finds many files. */
int cache_writer_append(struct cache *c, struct cache_writer **w_r);

/* Add an entry; its offset in the file goes to *off_r. */
int cache_writer_add(struct cache_writer *w, uint32_t type, uint32_t uid,
    const void *payload, size_t len, uint64_t *off_r);

/* Write what is still in memory (before anything points to it is
 * committed). */
int cache_writer_flush(struct cache_writer *w);

/* Write what is still in memory and fsync the file. */
int cache_writer_finish(struct cache_writer *w);

/* Close and free (the file stays); *wp becomes NULL. */
void cache_writer_free(struct cache_writer **wp);

/* Where the entry of len payload bytes at off ends (next entry's offset). */
static inline uint64_t
cache_entry_end(uint64_t off, size_t len)
{
	return (off + CACHE_ENT_HDR + len + 7) & ~(uint64_t)7;
}

/* Bytes in the file now. */
uint64_t cache_file_size(struct cache *c);

/* Read the entry at off and check it (type, uid and CRC).  The payload
 * pointer stays valid until the next cache call.  -1 with EBADMSG. */
int cache_read(struct cache *c, uint64_t off, uint32_t type, uint32_t uid,
    const unsigned char **payload_r, size_t *len_r);

/* Append an item to a MESSAGE payload being built. */
int cache_item_add(struct str *payload, unsigned id, const void *data,
    size_t len);

/* Find item id in a MESSAGE payload.  1 found, 0 not there, -1 malformed. */
int cache_item_find(const unsigned char *payload, size_t len, unsigned id,
    const unsigned char **data_r, size_t *len_r);

/* Append one encoded part row to a CI_PARTS item being built. */
int cache_part_encode(struct str *out, const struct cache_part *p);

/* Decode the part row at *pos of a CI_PARTS item, advancing *pos.
 * 1 decoded, 0 at the end, -1 malformed. */
int cache_part_decode(const unsigned char *data, size_t len, size_t *pos,
    struct cache_part *p_r);

/* fsync the file. */
int cache_sync(struct cache *c);

/* Close and free; *cp becomes NULL. */
void cache_close(struct cache **cp);

#endif
