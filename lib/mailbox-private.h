/* SPDX-License-Identifier: ISC */
#ifndef ZEST_MAILBOX_PRIVATE_H
#define ZEST_MAILBOX_PRIVATE_H

/* Internals shared by the mailbox*.c files. */

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
	unsigned long scans_quick;	/* directory reads the digests settled */
	unsigned long scans_full;	/* directory reads matched to records */
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

/* A 64-bit hash of n bytes at s (not cryptographic: for tables and the
 * directory digests). */
uint64_t mailbox_name_hash(const char *s, size_t n);

/* The digest term of the file name ("new/NAME" or "cur/NAME", n bytes). */
uint64_t mailbox_name_digest(const char *name, size_t n);

/* Count the file name of a record coming into (sign 1) or leaving (-1)
 * the index in h's digests (when h keeps them). */
void mailbox_digest_add(struct index_header *h, const char *name, size_t n,
    int sign);

/* Sum the digest terms of the message files in new/ (in_new) or cur/. */
int mailbox_dir_digest(struct mailbox *mb, int in_new, uint64_t *d_r);

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

/* The wire size of a message file (rel, relative to the directory dfd or
 * AT_FDCWD) without parsing it: 1 with *wire_r, 0 when it needs
 * mailbox_parse_file (it holds CR bytes), -1. */
int mailbox_quick_size(int dfd, const char *rel, const struct maildir_name *mn,
    const struct stat *st, uint64_t *wire_r);

/* Make and read the MESSAGE entry of a record indexed without one. */
int mailbox_cache_fill(struct mailbox *mb, const struct index_record *r,
    const unsigned char **payload_r, size_t *len_r);

/* ---- mailbox-scan.c: the message files of new/ and cur/, for a rebuild */

/* One file: its name, what the name says and (after the stat) the inode. */
struct mailbox_scan_file {
	size_t off;		/* "new/NAME" or "cur/NAME" in the arena */
	size_t len;		/* of that name */
	size_t base_len;	/* of BASE, in NAME */
	uint64_t s_size, w_size; /* ,S= and ,W= */
	uint32_t name_uid;	/* ,U=; 0 none */
	unsigned has_s:1, has_w:1, in_new:1;
	unsigned flags;		/* MAIL_* of the info letters (cur/) */
	const struct index_record *old;	/* the caller's: earlier record */
	/* from mailbox_scan_stat_*: */
	int64_t mtime;		/* internal date of a new message */
	uint64_t wire;		/* RFC822.SIZE, when quick */
	int quick;		/* 1 wire known, 0 needs mailbox_parse_file,
				   -1 gone since the readdir */
};

/* The files in the order mailbox_scan_sort gives: uid (the caller's: the
 * candidate or the one given; UINT32_MAX none), then name.  key holds the
 * name's first 16 bytes big-endian, so that two integer compares order
 * nearly all names as strcmp would. */
struct mailbox_scan_key {
	uint64_t key[2];
	size_t off;		/* of the name in the arena */
	uint32_t uid;
	uint32_t i;		/* its mailbox_scan_file */
};

struct scan_pool;

struct mailbox_scan {
	struct str arena;	/* the names, NUL-terminated */
	struct mailbox_scan_file *f;
	struct mailbox_scan_key *k;	/* k[i].i == i until sorted */
	size_t n, cap;
	int dfd[2];		/* new/, cur/ */
	struct scan_pool *pool;	/* the stat helpers */
};

#define MAILBOX_SCAN_INIT { STR_INIT, NULL, NULL, 0, 0, { -1, -1 }, NULL }

/* Read the names of dir's new/ and cur/ (keeping both open). */
int mailbox_scan_names(struct mailbox_scan *sc, const char *dir,
    struct str *err);

/* Start looking up the files' inodes on helper threads (when there are
 * many files and CPUs); the caller may meanwhile sort and set k[].uid and
 * f[].old, but touch nothing else until mailbox_scan_stat_finish. */
void mailbox_scan_stat_start(struct mailbox_scan *sc);

/* Look up what is left, wait for the helpers.  A file gone since the
 * readdir gets quick -1; any other failure is -1 with err. */
int mailbox_scan_stat_finish(struct mailbox_scan *sc, const char *dir,
    struct str *err);

/* Sort k by uid, then name. */
void mailbox_scan_sort(struct mailbox_scan *sc);

/* The "new/..." or "cur/..." name of k. */
const char *mailbox_scan_name(const struct mailbox_scan *sc,
    const struct mailbox_scan_key *k);

/* Free; sc is MAILBOX_SCAN_INIT after. */
void mailbox_scan_free(struct mailbox_scan *sc);

#endif
