/* SPDX-License-Identifier: ISC */
#ifndef ZEST_MAILBOX_PRIVATE_H
#define ZEST_MAILBOX_PRIVATE_H

/* Internals shared by mailbox.c, mailbox-append.c and mailbox-sync.c. */

#include <sys/stat.h>

#include "cache.h"
#include "index.h"
#include "mailbox.h"
#include "mbmeta.h"
#include "str.h"

#define MBOX_RACY_SECS 2	/* a directory mtime younger than this may hide
				   a second change in the same tick */

struct mailbox {
	char *dir;
	int lock_fd;
	int locked;
	unsigned lock_timeout;
	struct index *ix;
	struct cache *cache;
	struct mbmeta meta;
	struct index_header hdr;
	int force_scan;
	unsigned counter;	/* for unique names */
	char host[256];
};

/* dir + "/" + rel into out (cleared first). */
int mailbox_path(const struct mailbox *mb, const char *rel, struct str *out);

/* (Re)open index, cache and header files; rebuild when missing or corrupt.
 * Must hold the lock. */
int mailbox_load(struct mailbox *mb, struct str *err);

/* mailbox_reconstruct's work, for a caller that holds the lock. */
int mailbox_rebuild_locked(const char *dir, struct mailbox_rebuild_stats *st_r,
    struct str *err);

/* Write the header file. */
int mailbox_meta_save(struct mailbox *mb);

/* Recompute nothing; update counters for a record going from old to new
 * (old NULL: added; new NULL: removed). */
void mailbox_count(struct index_header *h, const struct index_record *old,
    const struct index_record *new_rec);

/* Parse the file at path into a cache MESSAGE payload; raw_r says whether
 * it is kept as wire bytes; wire_size_r its RFC822.SIZE. */
int mailbox_parse_file(const char *path, struct str *payload, int *raw_r,
    uint64_t *wire_size_r);

/* Decide, after looking at directory st, whether its stored mtime is still
 * good; store it (and the racy flag) in h. */
void mailbox_dir_mtime_store(struct index_header *h, int is_new,
    const struct stat *st);

/* Does directory st differ from what h recorded (or is it a racy record
 * old enough to check)? */
int mailbox_dir_changed(const struct index_header *h, int is_new,
    const struct stat *st);

#endif
