/* SPDX-License-Identifier: ISC */
#ifndef ZEST_INDEX_H
#define ZEST_INDEX_H

/*
 * The mailbox index file (zest.index): a 128-byte header followed by
 * 64-byte records, one per message, in UID order.  All fields little-endian,
 * each header and record carries a CRC-32; the layout is in zest-index(5).
 *
 * Writers hold the mailbox lock (lib/mailbox) and write a record first and
 * the header last: the header's count is the commit point, so records past
 * it are ignored.  Readers need no lock: they map the file read-only and
 * retry a read whose CRC does not match (a write in progress); a CRC that
 * stays wrong means corruption (EBADMSG) and the index must be rebuilt.
 */

#include <stddef.h>
#include <stdint.h>

#define INDEX_MAGIC	"ZESTIDX\n"
#define INDEX_VERSION	1u
#define INDEX_HDR_SIZE	128u
#define INDEX_REC_SIZE	64u
#define INDEX_MAX_COUNT	50000000u	/* sanity limit on records */

/* index_record.flags above the MAIL_* system flags (lib/maildir.h) */
#define REC_EXPUNGED	0x0100u	/* gone; kept until the file is compacted */
#define REC_RAW		0x0200u	/* file holds the exact wire bytes */
#define REC_IN_NEW	0x0400u	/* file is in new/ (else cur/) */
#define REC_NAME_BEHIND	0x0800u	/* flags changed, file not renamed yet */
#define REC_RESERVED	0xf000u	/* reserved, written as 0 */


/* index_header.flags */
#define IDX_NEW_RACY	0x01u	/* new/ mtime was recorded within its tick */
#define IDX_CUR_RACY	0x02u
#define IDX_OBSOLETE	0x04u	/* file replaced: reopen by name */
#define IDX_DIGESTS	0x08u	/* new_digest and cur_digest are kept */

#define INDEX_DIGEST_MASK 0xffffffffffffull	/* digests are 48-bit */
#define INDEX_DIGEST_SEAL 0x5a3c96e1b7d2ull	/* stored digests are XORed
						   with this (zest-index(5)) */

struct index_header {
	uint32_t flags;
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint32_t count;		/* committed records, expunged ones included */
	uint32_t exists;	/* records not REC_EXPUNGED */
	uint32_t unseen;	/* existing records without MAIL_SEEN */
	uint32_t deleted;	/* existing records with MAIL_DELETED */
	uint32_t first_recent_uid;
	uint64_t highestmodseq;
	uint64_t generation;	/* bumped whenever the file is rewritten */
	uint64_t total_size;	/* sum of wire sizes of existing records */
	int64_t new_mtime_sec;	/* new/ as of the last sync */
	uint32_t new_mtime_nsec;
	int64_t cur_mtime_sec;	/* cur/ as of the last sync */
	uint32_t cur_mtime_nsec;
	uint64_t cache_end;	/* zest.cache holds at least this many bytes */
	uint32_t names_behind;	/* records with REC_NAME_BEHIND (at least) */
	/* With IDX_DIGESTS: the sum, modulo 2^48, of mailbox_name_digest()
	 * of the file names ("new/NAME") of the existing records in new/,
	 * and in cur/.  A directory whose listing sums the same holds
	 * exactly the files the index knows (lib/mailbox-sync.c). */
	uint64_t new_digest;
	uint64_t cur_digest;
};

struct index_record {
	uint32_t uid;
	uint32_t flags;		/* MAIL_* | REC_* */
	int64_t internal_date;	/* seconds since the epoch */
	uint64_t size;		/* RFC822.SIZE: the wire (CRLF) size */
	uint64_t keywords;	/* bit n: keyword n of zest.header */
	uint64_t modseq;
	uint64_t cache_off;	/* message entry in zest.cache, 0 = none */
	uint64_t name_off;	/* file name entry in zest.cache */
};

struct index;

/* Encode/decode one header or record (decode checks magic, version and
 * CRC: -1 with EBADMSG when they are wrong). */
void index_header_encode(const struct index_header *h, unsigned char *buf);
int index_header_decode(const unsigned char *buf, struct index_header *h_r);
void index_record_encode(const struct index_record *r, unsigned char *buf);
int index_record_decode(const unsigned char *buf, struct index_record *r_r);

/* Open an existing index file; writable needs the mailbox lock held for
 * every write.  -1 with errno (ENOENT when missing). */
int index_open(const char *path, int writable, struct index **ix_r);

/* Write a complete new index file atomically (temp file, rename over path).
 * The old file, if open elsewhere, should be marked obsolete first. */
int index_create(const char *path, const struct index_header *h,
    const struct index_record *recs, uint32_t n);

/* Read and check the header.  -1 with EBADMSG (corrupt) or ESTALE (the file
 * was replaced: close and open again). */
int index_read_header(struct index *ix, struct index_header *h_r);

/* Read record number seq (0-based; need not be below the header count, so
 * that recovery can look past it).  -1 with EBADMSG or ERANGE. */
int index_get(struct index *ix, uint32_t seq, struct index_record *r_r);

/* Call fn(arg, uid, flags) for records 0 .. n-1 in order, reading the two
 * fields straight from the map without the record check: a record's UID
 * is never rewritten in place (writers change flags, MODSEQ, keywords and
 * offsets; compaction writes a new file), so a read racing a rewrite gets
 * the right UID and the old or the new flags.  Damage shows as a UID that
 * is not above the one before: -1 with EBADMSG (the caller then reads the
 * records with index_get).  fn returns 0 to go on, anything else stops
 * the scan and is returned (-1 with errno for an error).  For building a
 * session's view of 100,000 records, where the checked reads cost more
 * than everything else. */
int index_scan(struct index *ix, uint32_t n,
    int (*fn)(void *, uint32_t, uint32_t), void *arg);

/* Write record number seq (at most one past the last in the file). */
int index_put(struct index *ix, uint32_t seq, const struct index_record *r);

/* Write records seq .. seq + n - 1 (at most one past the last in the file
 * to begin with) in as few writes as their size allows. */
int index_put_many(struct index *ix, uint32_t seq,
    const struct index_record *recs, uint32_t n);

/* Write the header: the commit point. */
int index_commit(struct index *ix, const struct index_header *h);

/* Flag this file obsolete so readers reopen by name. */
int index_mark_obsolete(struct index *ix);

/* Records the file can hold by its size (for recovery). */
uint32_t index_file_records(struct index *ix);

/* fsync the file. */
int index_sync(struct index *ix);

/* Close and free; *ixp becomes NULL. */
void index_close(struct index **ixp);

#endif
