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

/* ---- shared by the writers of mailbox-update.c, -expunge.c, -copy.c ---- */

/* new/ ([0]) and cur/ ([1]) as a writer found them before changing them,
 * so that afterwards it can record their new mtimes when nobody else had
 * moved them first (then its own changes cause no directory scan). */
struct mailbox_dirs {
	struct stat before[2];
	int ours[2];		/* before matched the header's record */
	int touched[2];		/* the writer linked, renamed or unlinked */
};

/* Stat new/ and cur/ and compare them to h. */
int mailbox_dirs_before(struct mailbox *mb, const struct index_header *h,
    struct mailbox_dirs *d);

/* Store into h the mtimes of the touched directories that were ours. */
int mailbox_dirs_after(struct mailbox *mb, struct index_header *h,
    const struct mailbox_dirs *d);

/* fsync the touched directories. */
int mailbox_dirs_fsync(struct mailbox *mb, const struct mailbox_dirs *d);

/* index_get for a reader: a record that fails its check even after the
 * retries is read once more under the lock before it is called corrupt. */
int mailbox_index_get(struct mailbox *mb, uint32_t seq,
    struct index_record *r_r);

/* Search records [lo, count) for uid (looking at lo first: callers walk
 * ascending UIDs).  1 found (expunged or not), 0 none, -1 error. */
int mailbox_find_from(struct mailbox *mb, uint32_t count, uint32_t lo,
    uint32_t uid, uint32_t *seq_r, struct index_record *r_r);

/* mailbox_sync for a caller that holds the lock (it stays held). */
int mailbox_sync_locked(struct mailbox *mb, struct str *err);

/* Are expunged records more than a quarter of the index? */
int mailbox_compact_due(const struct index_header *h);

/* mailbox_compact for a caller that holds the lock and has refreshed. */
int mailbox_compact_locked(struct mailbox *mb, struct str *err);

/* The same after an expunge or sync, which stand whatever it does
 * (compaction only saves space; the next writer tries again). */
void mailbox_compact_quietly(struct mailbox *mb);

/* mailbox-lazy.c: indexing without a parse (records from names, cache
 * entries made on first use). */
struct maildir_name;

/* The wire size of a message file without parsing it: 1 with *wire_r, 0
 * when it needs mailbox_parse_file (it holds CR bytes), -1. */
int mailbox_quick_size(const char *path, const struct maildir_name *mn,
    const struct stat *st, uint64_t *wire_r);

/* Make and read the MESSAGE entry of a record indexed without one. */
int mailbox_cache_fill(struct mailbox *mb, const struct index_record *r,
    const unsigned char **payload_r, size_t *len_r);

#endif
