/* SPDX-License-Identifier: ISC */
#ifndef ZEST_TOMB_H
#define ZEST_TOMB_H

/*
 * Expunge tombstones (zest.expunged): which UIDs were expunged at which
 * MODSEQ, for QRESYNC's VANISHED (EARLIER).  A 16-byte header (magic,
 * UIDVALIDITY, CRC) and 16-byte records (u32 uid, u32 CRC, u64 modseq),
 * appended under the mailbox lock.  A record whose CRC fails (a writer
 * killed half-way) ends the readable list.
 */

#include <stddef.h>
#include <stdint.h>

#define TOMB_MAGIC "ZESTEXP\n"

struct tomb {
	uint32_t uid;
	uint64_t modseq;
};

/* Append n tombstones to the file at path (created when missing; reset
 * when its header is for another UIDVALIDITY). */
int tomb_append(const char *path, uint32_t uidvalidity, const struct tomb *t,
    size_t n);

/* Call fn for every tombstone with modseq > since, in file order; stops
 * early when fn returns non-zero.  A missing file has none.  Returns 0, or
 * -1 with errno (EBADMSG: header for another UIDVALIDITY or corrupt). */
int tomb_scan(const char *path, uint32_t uidvalidity, uint64_t since,
    int (*fn)(const struct tomb *t, void *arg), void *arg);

#endif
