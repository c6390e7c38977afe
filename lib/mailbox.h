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

/* The message's current file name relative to the Maildir ("new/..." or
 * "cur/..."), into name_r (cleared first). */
int mailbox_file_name(struct mailbox *mb, const struct index_record *r,
    struct str *name_r);

/* The message's cached MESSAGE payload; valid until the next mailbox call.
 * -1 with EBADMSG when there is none or it does not check. */
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

#endif
