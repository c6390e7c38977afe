/* SPDX-License-Identifier: ISC */
#ifndef ZEST_MAILBOX_H
#define ZEST_MAILBOX_H

/*
 * mailbox: one Maildir and its Zest index files (zest.index, zest.cache,
 * zest.header, zest.expunged, and zest.lock, the fcntl lock every writer
 * takes).  This is the API deliver, imapd, pop3d and `zest reconstruct`
 * share; the formats are in zest-index(5).
 */

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "index.h"
#include "mbmeta.h"
#include "str.h"

#define MBOX_CREATE	0x01u	/* create the Maildir when missing */

struct mailbox;
struct mailbox_msg;

/* What a rebuild found, for `zest reconstruct` to report. */
struct mailbox_rebuild_stats {
	uint32_t messages;	/* files indexed */
	uint32_t kept_uids;	/* UIDs taken from an earlier index or list */
	uint32_t new_uids;	/* messages that got a new UID */
	uint32_t uidvalidity;
};

/* Open the mailbox in the Maildir dir (rebuilding missing or corrupt index
 * files).  lock_timeout is in seconds.  -1 with errno and err set; errno
 * ENOENT when dir is no Maildir and MBOX_CREATE is not given, ETIMEDOUT
 * when the lock could not be had. */
int mailbox_open(const char *dir, unsigned flags, unsigned lock_timeout,
    struct mailbox **mb_r, struct str *err);

/* Close and free; *mbp becomes NULL. */
void mailbox_close(struct mailbox **mbp);

/* Take / release the mailbox write lock.  lock: -1 with ETIMEDOUT. */
int mailbox_lock(struct mailbox *mb);
void mailbox_unlock(struct mailbox *mb);

/* Re-read the index header (reopening a replaced index). */
int mailbox_refresh(struct mailbox *mb, struct str *err);

/* Bring the index up to date with the Maildir: files that other programs
 * added, renamed or removed.  Reads directories only when their mtime says
 * they changed.  Takes the lock itself. */
int mailbox_sync(struct mailbox *mb, struct str *err);

/* Milliseconds until a directory mtime this process last saw recorded as
 * racy (taken within its own clock tick) can be checked by mailbox_sync,
 * 0 when it can be now, -1 when there is none.  A long-lived writer (the
 * deliver worker) that goes idle syncs then, so that the next reader's
 * SELECT finds nothing to check. */
long mailbox_settle_ms(const struct mailbox *mb);

/* Force a full scan of new/ and cur/ on the next mailbox_sync. */
void mailbox_sync_force(struct mailbox *mb);

/* Rebuild every index file of the Maildir dir from the messages, keeping
 * UIDs an earlier index, the messages' names or a dovecot-uidlist record. */
int mailbox_reconstruct(const char *dir, unsigned lock_timeout,
    struct mailbox_rebuild_stats *st_r, struct str *err);

/* Read every record and its cached entry: -1 with EBADMSG when one fails
 * its check (then mailbox_rebuild is the remedy). */
int mailbox_check(struct mailbox *mb);

/* Rebuild the open mailbox's index files now (a record or cache entry
 * failed its check) and reload them. */
int mailbox_rebuild(struct mailbox *mb, struct str *err);

/* The header as of the last refresh or sync. */
const struct index_header *mailbox_header(const struct mailbox *mb);

/* The keyword table (zest.header) as of the last refresh. */
const struct mbmeta *mailbox_meta(const struct mailbox *mb);

/* Record number seq (0 <= seq < header count). */
int mailbox_record(struct mailbox *mb, uint32_t seq, struct index_record *r_r);

/* index_scan over the records counted in the header as last read: fn(arg,
 * uid, flags) for each, in UID order, unchecked (see lib/index.h); -1
 * with EBADMSG means: read them one by one with mailbox_record. */
int mailbox_scan_uids(struct mailbox *mb,
    int (*fn)(void *, uint32_t, uint32_t), void *arg);

/* The message's current file name relative to the Maildir ("new/..." or
 * "cur/..."), into name_r (cleared first). */
int mailbox_file_name(struct mailbox *mb, const struct index_record *r,
    struct str *name_r);

/* The message's cached MESSAGE payload; valid until the next mailbox call.
 * A message indexed without a parse (found in the Maildir by a sync or a
 * rebuild: see mailbox-lazy.c) is parsed now and its entry stored, under
 * the lock; r may then be out of date (its size, REC_RAW): callers that
 * need them read the record again.  -1 with EBADMSG when the entry does
 * not check, ENOENT when the file is gone. */
int mailbox_cached(struct mailbox *mb, const struct index_record *r,
    const unsigned char **payload_r, size_t *len_r);

/* Start a new message.  wire: the bytes written are the exact SMTP wire
 * form (CRLF line ends; bare LF or CR possible); else they are text whose
 * lines end in LF or CRLF, both stored as LF. */
int mailbox_msg_begin(struct mailbox *mb, int wire, struct mailbox_msg **m_r,
    struct str *err);

/* Add message bytes.  -1 with errno (EFBIG past limit, ENOSPC, ...). */
int mailbox_msg_write(struct mailbox_msg *m, const void *p, size_t n);

/* Set the size limit (wire bytes) of the message being written; 0: none. */
void mailbox_msg_limit(struct mailbox_msg *m, uint64_t max);

/* Make the message durable and give it a UID: fsync the file, link it into
 * new/ (or cur/ with flags when to_cur), record it in the index and cache,
 * fsync the directory.  The message is freed either way. */
int mailbox_msg_commit(struct mailbox_msg **mp, unsigned flags,
    uint64_t keywords, time_t internal_date, int to_cur, uint32_t *uid_r,
    struct str *err);

/* Drop the message being written. */
void mailbox_msg_abort(struct mailbox_msg **mp);

/* --- Batch commit: many messages of one mailbox at the cost of about one
 * (the long-lived delivery workers, deliver -S).  Every file is fsynced,
 * the lock is taken once, each message is linked and recorded, the index
 * header is written once (the commit point), each directory linked into
 * is fsynced once. --- */

/* One message of a batch: the caller fills the inputs, the commit the
 * outputs. */
struct mailbox_commit {
	struct mailbox_msg *msg;	/* in: freed by the commit (NULL after) */
	unsigned flags;			/* in: MAIL_* flags (used in cur/) */
	uint64_t keywords;		/* in */
	time_t internal_date;		/* in: unless mailbox_msg_finish set it */
	int to_cur;			/* in: link into cur/ with flags */
	uint32_t uid;			/* out: its UID when error is 0 */
	int error;			/* out: 0 committed, else an errno */
};

/* The message is complete: flush it to its file, set its internal date and
 * start writing it out, so that a later batch commit finds it on disk.
 * Optional (a commit does it); no write may follow.  -1 with errno. */
int mailbox_msg_finish(struct mailbox_msg *m, time_t internal_date);

/* Commit the n messages of c (all of one mailbox) together.  A message
 * that fails fails alone (its error set, its file removed) and the others
 * still commit; none is reported committed before its file and directory
 * are fsynced.  Returns 0 when all committed, else -1 with errno the first
 * error; err (required) gets the first failure's text. */
int mailbox_msg_commit_batch(struct mailbox_commit *c, size_t n,
    struct str *err);

/* ---- changing messages (lib/mailbox-update.c) ---- */

/* How mailbox_store changes flags. */
enum mailbox_flag_op { MBOX_FLAGS_REPLACE, MBOX_FLAGS_ADD, MBOX_FLAGS_REMOVE };

struct mailbox_store {
	enum mailbox_flag_op op;
	uint32_t flags;			/* MAIL_* system flags (lib/maildir.h) */
	uint64_t keywords;		/* keyword bits (mailbox_keyword) */
	uint64_t unchangedsince;	/* CONDSTORE UNCHANGEDSINCE; 0: none */
};

/* A growable list of UIDs. */
struct mailbox_uids {
	uint32_t *v;
	size_t n, cap;
};
int mailbox_uids_add(struct mailbox_uids *u, uint32_t uid);
void mailbox_uids_free(struct mailbox_uids *u);

/* The record with UID uid: its index position (seq_r, 0-based among all
 * records) and the record.  -1 with ENOENT when there is none (or it is
 * expunged).  Positions change when the index is compacted (the header's
 * generation moves): sessions keep UIDs, never positions, across a
 * refresh; zest.expunged (tomb_scan) says which UIDs went at which MODSEQ. */
int mailbox_find_uid(struct mailbox *mb, uint32_t uid, uint32_t *seq_r,
    struct index_record *r_r);

/* Apply st to the messages with the given UIDs (ascending; missing or
 * expunged ones are skipped).  Every message whose flags or keywords
 * change gets the same new MODSEQ and its record rewritten; the index is
 * fsync()ed before it returns.  Files whose system flags changed are
 * renamed (new/ to cur/, info ":2,FLAGS" with the Maildir letters;
 * keyword letters are not used) by mailbox_store_names before it
 * returns.  With unchangedsince, a message whose MODSEQ
 * is greater is left alone and its UID added to failed_r (which may be
 * NULL otherwise).  changed_r (may be NULL) gets the UIDs that changed.
 * Takes the lock.  Returns the number changed, or -1 with err. */
int mailbox_store(struct mailbox *mb, const uint32_t *uids, size_t n,
    const struct mailbox_store *st, struct mailbox_uids *changed_r,
    struct mailbox_uids *failed_r, struct str *err);

/* mailbox_store without the renames: the caller calls
 * mailbox_store_names promptly (imapd: right after its tagged reply);
 * until then the records stay marked and the files keep their names. */
int mailbox_store_deferred(struct mailbox *mb, const uint32_t *uids,
    size_t n, const struct mailbox_store *st, struct mailbox_uids *changed_r,
    struct mailbox_uids *failed_r, struct str *err);

/* Rename the files whose flags a STORE changed to carry them, fsync the
 * directories, then point the records to the new names.  uids (may be
 * NULL) are the STORE's changed UIDs, ascending: the records looked at
 * unless others are behind too (a session that died first).  Does
 * nothing when no record is behind.  Takes the lock.  0 or -1 with err. */
int mailbox_store_names(struct mailbox *mb, const uint32_t *uids, size_t n,
    struct str *err);

/* The bit of keyword name (case-insensitive as IMAP wants), adding it to
 * zest.header when create.  -1 with ENOENT (absent, !create), ENOSPC (64
 * in use) or EINVAL (not a valid IMAP atom). */
int mailbox_keyword(struct mailbox *mb, const char *name, int create,
    struct str *err);

/* Expunge the messages with these UIDs: tombstones (UID, new MODSEQ) to
 * zest.expunged first, records marked REC_EXPUNGED, counters updated,
 * then files unlinked.  Takes the lock.  Returns the number expunged. */
int mailbox_expunge(struct mailbox *mb, const uint32_t *uids, size_t n,
    struct str *err);

/* Open the message's file read-only; when another program renamed it,
 * sync and retry once.  -1 with ENOENT when it is gone. */
int mailbox_msg_open(struct mailbox *mb, const struct index_record *r,
    int *fd_r, struct str *err);

/* Copy messages (ascending UIDs) into dst, keeping system flags (not
 * \Recent), keywords (by name, added to dst's table), internal date and
 * the cache entry; hard link where possible, else a copy; durable (fsync)
 * before it returns.  dst_uids_r (n entries) gets the new UIDs in order;
 * skipped (expunged) sources give 0.  Returns the number copied. */
int mailbox_copy(struct mailbox *src, const uint32_t *uids, size_t n,
    struct mailbox *dst, uint32_t *dst_uids_r, struct str *err);

/* Claim \Recent for the caller (an IMAP SELECT): under the lock, the UIDs
 * from the header's first_recent_uid to uidnext-1 become this caller's
 * recent range and first_recent_uid moves to uidnext. */
int mailbox_take_recent(struct mailbox *mb, uint32_t *first_r,
    uint32_t *last_r, struct str *err);

/* Rewrite zest.index without its expunged records (UIDs, flags, MODSEQs,
 * cache entries and the header's UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ
 * kept); the old file is marked obsolete so readers reopen.  Done by
 * mailbox_expunge and mailbox_sync on their own once expunged records
 * are more than a quarter of all.  Takes the lock. */
int mailbox_compact(struct mailbox *mb, struct str *err);

/* i3 */
/* ---- making many cache entries at once (lib/mailbox-fill.c) ---- */

/* Make the MESSAGE cache entries of those of the messages with these UIDs
 * (ascending) that were indexed without a parse (see mailbox_cached), in
 * batches of up to 256: the files parsed without the lock, on up to 4
 * threads (no more than the CPUs the process may use), then each batch
 * stored under one lock with one write to zest.cache and one header
 * commit.  Messages expunged or filled by someone else meanwhile, and
 * files that cannot be read, are left alone (mailbox_cached then tries
 * them one by one and says what is wrong).  Returns the number of entries
 * stored, or -1 with errno (locking, reading the index, writing). */
int mailbox_cache_prefill(struct mailbox *mb, const uint32_t *uids,
    size_t n);

#endif
