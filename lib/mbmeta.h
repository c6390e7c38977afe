/* SPDX-License-Identifier: ISC */
#ifndef ZEST_MBMETA_H
#define ZEST_MBMETA_H

/*
 * The mailbox header file (zest.header): the mailbox's unique id, its
 * UIDVALIDITY and its keyword names.  Keyword n is bit n of the index
 * records' keywords field; names are only ever added, so a bit keeps its
 * meaning until the mailbox is reconstructed.  The file is small and is
 * replaced whole (temp file, fsync, rename, fsync directory) under the
 * mailbox lock.  Layout in zest-index(5).
 */

#include <stddef.h>
#include <stdint.h>

#define MBMETA_MAGIC	"ZESTHDR\n"
#define MBMETA_VERSION	1u
#define MBMETA_MAX_KEYWORDS 64
#define MBMETA_MAX_KEYWORD_LEN 250

struct mbmeta {
	unsigned char guid[16];
	uint32_t uidvalidity;
	unsigned nkeywords;
	char *keywords[MBMETA_MAX_KEYWORDS];
};

/* A fresh header: random guid, the given UIDVALIDITY, no keywords. */
int mbmeta_init(struct mbmeta *m, uint32_t uidvalidity);

/* Read path into m.  -1 with ENOENT (missing) or EBADMSG (corrupt). */
int mbmeta_read(const char *path, struct mbmeta *m);

/* Write m to path atomically, with a directory fsync. */
int mbmeta_write(const char *path, const struct mbmeta *m);

/* Index of keyword name (case-insensitive, as IMAP compares keywords),
 * or -1 when absent. */
int mbmeta_keyword_find(const struct mbmeta *m, const char *name);

/* Index of keyword name, adding it when absent.  -1 with ENOSPC when the
 * table is full, EINVAL for a name that is not an IMAP atom. */
int mbmeta_keyword_add(struct mbmeta *m, const char *name);

/* Release the names; m can be reused after mbmeta_init. */
void mbmeta_free(struct mbmeta *m);

#endif
