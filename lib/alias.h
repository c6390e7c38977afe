/* SPDX-License-Identifier: ISC */
#ifndef ZEST_ALIAS_H
#define ZEST_ALIAS_H

/*
 * alias: recipient resolution through the aliases table (zest-tables(5)):
 *
 *	NAME ADDRESS[, ADDRESS...]
 *
 * NAME is a local part (it applies to every local domain) or a whole
 * address NAME@DOMAIN (that domain only; looked up first).  An ADDRESS
 * without '@' is NAME@ the instance's domain.  Targets that are aliases
 * expand in turn, at most ALIAS_DEPTH_MAX levels deep; an alias that names
 * itself or one of the aliases it was reached through is delivered as it
 * is (so `alice alice, alice-archive` keeps a copy); duplicates are
 * dropped.  Program and file targets (|cmd, /path, :include:) are refused.
 *
 * Loops through other hosts or delivery agents are found by the message's
 * Delivered-To header fields: alias_seen_*.  The module does no I/O: the
 * caller supplies the table lookup and the test for local domains.
 */

#include <stddef.h>

#include "str.h"

#define ALIAS_TABLE "aliases"
#define ALIAS_DEPTH_MAX 10	/* nested aliases */
#define ALIAS_TARGETS_MAX 1000	/* targets of one expansion, by default */
#define ALIAS_SEEN_MAX 200	/* Delivered-To fields remembered */

/* Look key (lower-case) up in the aliases; put the value into value_r.
 * Returns 1 found, 0 not found, -1 error with errno. */
typedef int alias_lookup_fn(void *arg, const char *key, struct str *value_r);

/* Whether domain (lower-case) is delivered here.  Returns 1, 0 or -1 with
 * errno. */
typedef int alias_local_fn(void *arg, const char *domain);

struct alias_ctx {
	alias_lookup_fn *lookup;
	alias_local_fn *is_local;
	void *arg;		/* passed to both */
	const char *domain;	/* the domain of bare names */
	size_t max_targets;	/* 0: ALIAS_TARGETS_MAX */
};

struct alias_target {
	char *addr;	/* canonical (see alias_canon) */
	int local;	/* its domain is local */
	int aliased;	/* reached through at least one alias */
	int self;	/* an alias naming itself or an ancestor, kept as is */
};

struct alias_list {
	struct alias_target *t;
	size_t n, cap;
};

/* The Delivered-To addresses of a message, and its hop count. */
struct alias_seen {
	char **addr;		/* lower-case, without <> */
	size_t n;
	unsigned hops;		/* Received: and Delivered-To: fields */
};

/* Put the canonical form of addr into out (cleared first): a bare name
 * gets "@domain", the domain is folded to lower case, and so is the local
 * part when the domain is local.  Returns 1 local, 0 not local, -1 with
 * errno (EINVAL: not an address; EIO: is_local failed). */
int alias_canon(const struct alias_ctx *ctx, const char *addr,
    struct str *out);

/* Resolve addr into out (emptied first): the final addresses, canonical,
 * without duplicates; an address that is no alias gives itself.  Returns 1
 * when addr is an alias, 0 when not, -1 with errno and a message in err:
 * ELOOP nesting deeper than ALIAS_DEPTH_MAX, E2BIG more than max_targets
 * targets, EINVAL a malformed or refused target, EIO a lookup failed
 * (temporary, whatever errno the lookup set). */
int alias_expand(const struct alias_ctx *ctx, const char *addr,
    struct alias_list *out, struct str *err);

/* Free the targets of l and empty it. */
void alias_list_free(struct alias_list *l);

/* Read the header section at the start of msg (len bytes; CRLF or LF;
 * stops at the first empty line or at len) into s (emptied first): the
 * Delivered-To values, at most ALIAS_SEEN_MAX of them, and the hop count.
 * Returns 0 or -1 with errno ENOMEM. */
int alias_seen_scan(struct alias_seen *s, const char *msg, size_t len);

/* Whether addr (any case) is among the Delivered-To addresses.  1 or 0. */
int alias_seen_has(const struct alias_seen *s, const char *addr);

/* Free the addresses of s and empty it. */
void alias_seen_free(struct alias_seen *s);

#endif
