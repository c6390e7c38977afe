/* SPDX-License-Identifier: ISC */
#ifndef ZEST_CRC_H
#define ZEST_CRC_H

/*
 * CRC-32 (the ISO-HDLC/zlib polynomial) over the on-disk structures.  It is
 * zlib's crc32(): a well-kept, table-driven implementation; this wrapper only
 * fixes the types.
 */

#include <stddef.h>
#include <stdint.h>

/* CRC-32 of n bytes at p. */
uint32_t crc_buf(const void *p, size_t n);

/* Continue a CRC-32 over n more bytes. */
uint32_t crc_update(uint32_t crc, const void *p, size_t n);

#endif
