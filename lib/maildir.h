/* SPDX-License-Identifier: ISC */
#ifndef ZEST_MAILDIR_H
#define ZEST_MAILDIR_H

/*
 * Maildir file names and directories.
 *
 * A name is BASE[:2,INFO].  BASE is unique on this host and never changes
 * for the life of the message; Zest makes it
 *   SECONDS.MUSECSPPIDQCOUNT.HOST,S=DISKSIZE,W=WIRESIZE[,U=UID]
 * where HOST has '/', ':' and ',' written as \057, \072 and \054.  INFO
 * holds the flag letters in ASCII order (D draft, F flagged, P passed,
 * R replied, S seen, T trashed); other letters are kept but not interpreted.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "str.h"

/* System flags, as stored in the index (bits of index_record.flags). */
#define MAIL_SEEN	0x01u
#define MAIL_ANSWERED	0x02u
#define MAIL_FLAGGED	0x04u
#define MAIL_DELETED	0x08u
#define MAIL_DRAFT	0x10u
#define MAIL_PASSED	0x20u	/* Maildir 'P'; IMAP shows it as $Forwarded */
#define MAIL_FLAGS_MASK	0x3fu

struct maildir_name {
	size_t base_len;	/* bytes of BASE: name[0..base_len) */
	int has_info;		/* ":2," present */
	size_t info_off;	/* offset of the letters after ":2," */
	uint64_t s_size;	/* ,S= value (disk size) when has_s */
	uint64_t w_size;	/* ,W= value (wire size) when has_w */
	uint32_t uid;		/* ,U= value when has_uid */
	unsigned has_s:1, has_w:1, has_uid:1;
};

/* Split a file name into its parts.  Returns 0, or -1 (EINVAL) for a name
 * that cannot be a message ("." files, empty, '/' inside). */
int maildir_name_parse(const char *name, struct maildir_name *mn_r);

/* The MAIL_* flags that the INFO letters of a parsed name carry. */
unsigned maildir_name_flags(const char *name, const struct maildir_name *mn);

/* Make a new unique BASE into out (cleared first).  counter is a per-process
 * sequence number; uid 0 leaves out the ,U= field. */
int maildir_base_new(struct str *out, const char *host, unsigned counter,
    uint64_t disk_size, uint64_t wire_size, uint32_t uid);

/* Append "BASE:2,LETTERS" to out: the flags as letters, followed by any
 * letters of old_info that Zest does not interpret (old_info may be NULL). */
int maildir_name_with_flags(struct str *out, const char *base,
    size_t base_len, unsigned flags, const char *old_info);

/* Create a Maildir (the directory itself and tmp/, new/, cur/) with mode;
 * existing parts are fine.  Returns 0 or -1 with errno. */
int maildir_create(const char *path, mode_t mode);

/* Is path a Maildir (has tmp/, new/ and cur/)?  1 yes, 0 no. */
int maildir_exists(const char *path);

#endif
