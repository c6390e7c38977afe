/* SPDX-License-Identifier: ISC */
#include "crc.h"

#include <zlib.h>

uint32_t
crc_update(uint32_t crc, const void *p, size_t n)
{
	return (uint32_t)crc32_z(crc, p, n);
}

uint32_t
crc_buf(const void *p, size_t n)
{
	return crc_update((uint32_t)crc32_z(0, NULL, 0), p, n);
}
