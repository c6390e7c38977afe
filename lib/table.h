/* SPDX-License-Identifier: ISC */
#ifndef ZEST_TABLE_H
#define ZEST_TABLE_H

/*
 * table: lookup tables (users, aliases, domains, routes, relay-clients).
 *
 * The administrator edits a text file; `zest makemap FILE` compiles it into
 * FILE.cdb (tinycdb), which the programs read.  Text format, one entry per
 * line: `key value...`; the key is the first whitespace-delimited token,
 * folded to lowercase; the value is the rest of the line, trimmed (it may be
 * empty).  Lines whose first non-blank character is `#` and blank lines are
 * skipped.  A key may appear once.  Lines are at most TABLE_LINE_MAX bytes.
 * The compiled file replaces the old one atomically, and open tables notice
 * the replacement at their next lookup.
 */

#include <stddef.h>

#include "str.h"

#define TABLE_LINE_MAX 8192
#define TABLE_TEXT_MAX (256UL * 1024 * 1024)	/* bytes of a text table */
#define TABLE_VALUE_MAX TABLE_LINE_MAX		/* bytes of a value */

struct table;

/* Compile the text table at textpath into textpath.cdb (written to a
 * temporary name, fsynced, renamed, directory fsynced).  The .cdb gets the
 * text file's permission bits (and owner, when run as root).  Returns 0, or
 * -1 with a message in err ("FILE:LINE: duplicate key 'x'"). */
int table_compile(const char *textpath, struct str *err);

/* Decide the new value of the entry key of a text table from old (its
 * current value, NULL when absent).  Return 1 to store the value put into
 * value_r, 0 to remove the entry (or leave it absent), -1 to fail with a
 * message in err. */
typedef int table_edit_fn(const char *key, const char *old,
    struct str *value_r, void *arg, struct str *err);

/* Change one entry of the text table at textpath, under an fcntl lock on
 * textpath.lock held until the table is rewritten (atomically, keeping all
 * other lines, the mode and the owner) and recompiled.  key must be a valid
 * table key (no whitespace, not starting with '#').  Returns 0 or -1 with a
 * message in err. */
int table_edit(const char *textpath, const char *key, table_edit_fn *fn,
    void *arg, struct str *err);

/* Take the fcntl write lock of the text table textpath (on textpath.lock,
 * created when missing), waiting for it; closing the descriptor releases
 * it.  Returns the descriptor, or -1 with a message in err. */
int table_lock(const char *textpath, struct str *err);

/* Open the compiled table at cdbpath.  Returns NULL with errno on failure. */
struct table *table_open(const char *cdbpath);

/* Look key up (folded to lowercase); put its value into value_r (cleared
 * first).  Reopens the file first when it was replaced since the last look.
 * Returns 1 found, 0 not found, -1 error with errno. */
int table_lookup(struct table *t, const char *key, struct str *value_r);

/* Call fn for every entry in file order (keys and values NUL-terminated);
 * stops when fn returns non-zero and returns that value.  Returns 0 at the
 * end, -1 with errno on a read error. */
int table_foreach(struct table *t,
    int (*fn)(const char *key, const char *value, void *arg), void *arg);

/* Close a table and set *t to NULL. */
void table_close(struct table **t);

#endif
