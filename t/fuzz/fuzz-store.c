/* SPDX-License-Identifier: ISC */
/* libFuzzer target: the decoders of the store's on-disk data (index header
 * and records, cache items and section rows, Maildir names).  A user
 * controls the files in their own Maildir, so these must never misbehave on
 * any bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "index.h"
#include "maildir.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct index_header h;
	struct index_record r;
	struct cache_part cp;
	struct maildir_name mn;
	const unsigned char *d;
	size_t n, pos = 0;
	char *name;

	if (size >= INDEX_HDR_SIZE)
		(void)index_header_decode(data, &h);
	if (size >= INDEX_REC_SIZE)
		(void)index_record_decode(data, &r);
	(void)cache_item_find(data, size, CI_PARTS, &d, &n);
	while (cache_part_decode(data, size, &pos, &cp) == 1)
		;
	name = malloc(size + 1);
	if (name == NULL)
		return 0;
	memcpy(name, data, size);
	name[size] = '\0';
	if (maildir_name_parse(name, &mn) == 0)
		(void)maildir_name_flags(name, &mn);
	free(name);
	return 0;
}
