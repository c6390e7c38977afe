/* SPDX-License-Identifier: ISC */
#ifndef ZEST_FMAP_H
#define ZEST_FMAP_H

/*
 * fmap: a read-only shared mapping of a file that grows, for the index and
 * cache files: readers map once and remap only when they need bytes past
 * the mapped length; writers' pwrite()s show through the shared mapping.
 * Also the positioned write the store's writers use.
 */

#include <stddef.h>
#include <sys/types.h>

struct fmap {
	unsigned char *p;	/* NULL until mapped */
	size_t len;
};

/* Make m cover [0, need) of fd, remapping to the file's current size when
 * it does not.  -1 with errno short_errno when the file is shorter than
 * need, or another errno. */
int fmap_ensure(struct fmap *m, int fd, size_t need, int short_errno);

/* Unmap. */
void fmap_free(struct fmap *m);

/* Write all n bytes at offset off, retrying short writes and EINTR.
 * Returns 0 or -1 with errno. */
int fmap_pwrite_all(int fd, const void *p, size_t n, off_t off);

#endif
