/* SPDX-License-Identifier: ISC */
#ifndef ZEST_SEQSET_H
#define ZEST_SEQSET_H

/*
 * seqset: IMAP sequence sets (RFC 3501 section 9, sequence-set), for message
 * sequence numbers and UIDs alike.
 *
 * A set is a list of ranges of 32-bit numbers.  seqset_parse() keeps the
 * ranges as sent, with "*" stored as SEQSET_STAR; seqset_resolve() replaces
 * "*" by the mailbox's largest number, turns reversed ranges (5:2) around,
 * sorts and merges them, so that the set is then "normal": ascending,
 * disjoint, non-adjacent ranges of numbers >= 1.  Membership, counting and
 * iteration work on the ranges, never on an expanded array, so 1:4294967295
 * costs one range.
 *
 * The text side goes the other way: seqset_format_list() turns a list of
 * numbers into the compact form servers send in COPYUID, APPENDUID, ESEARCH
 * ALL and VANISHED ("1:3,5,7:9").
 *
 * Failures return -1 with errno: EINVAL for bad syntax, E2BIG for more
 * ranges than the caller allows, ENOMEM.
 */

#include <stddef.h>
#include <stdint.h>

#include "str.h"

/* "*" as stored by seqset_parse (0 is never a valid seq-number). */
#define SEQSET_STAR 0

struct seqset_range {
	uint32_t lo;	/* as sent: lo may be above hi, either may be STAR */
	uint32_t hi;
};

struct seqset {
	struct seqset_range *r;
	size_t n;		/* ranges in use */
	size_t cap;		/* ranges allocated */
	int normal;		/* resolved: sorted, merged, no STAR */
};

#define SEQSET_INIT { NULL, 0, 0, 1 }

/* Set up an empty (normal) set. */
void seqset_init(struct seqset *set);

/* Release the ranges and make the set empty. */
void seqset_free(struct seqset *set);

/* Empty the set, keeping its allocation. */
void seqset_clear(struct seqset *set);

/*
 * Parse the sequence-set text s[0..len) (no NUL needed) into set, which is
 * emptied first: seq-number / seq-range ("a:b") separated by commas, each
 * number an nz-number below 2^32 or "*".  At most max_ranges ranges
 * (0: no limit).  Returns 0, or -1 with errno EINVAL (set empty) or E2BIG.
 */
int seqset_parse(struct seqset *set, const char *s, size_t len,
    size_t max_ranges);

/* Whether s[0..len) is a syntactically valid sequence-set.  Returns 1/0. */
int seqset_valid(const char *s, size_t len);

/* Add the range lo..hi (either order; SEQSET_STAR allowed) to the set,
 * e.g. while collecting search results; the set is normal again only
 * after seqset_resolve().  Returns 0, or -1 with errno ENOMEM. */
int seqset_add(struct seqset *set, uint32_t lo, uint32_t hi);

/*
 * Make the set normal: "*" becomes max (the highest sequence number or UID
 * in use), reversed ranges are turned round, ranges are sorted and merged.
 * With max 0 (an empty mailbox) "*" is 0 and the numbers 0 drop out: "*"
 * alone becomes the empty set, "1:*" becomes 1.  Returns 0 (never fails:
 * it works in place).
 */
int seqset_resolve(struct seqset *set, uint32_t max);

/* The largest number of a parsed set, "*" counting as star_value; what a
 * server checks against EXISTS for message sequence numbers. */
uint32_t seqset_max(const struct seqset *set, uint32_t star_value);

/* Whether the set mentions "*" (before seqset_resolve). */
int seqset_has_star(const struct seqset *set);

/* Whether x is in a normal set (binary search).  Returns 1 or 0. */
int seqset_contains(const struct seqset *set, uint32_t x);

/* How many numbers a normal set holds. */
uint64_t seqset_count(const struct seqset *set);

/* Iteration over a normal set in ascending order, one number at a time. */
struct seqset_iter {
	const struct seqset *set;
	size_t i;		/* current range */
	uint64_t next;		/* next number to hand out in range i */
};

/* Start iterating over the normal set. */
void seqset_iter_init(struct seqset_iter *it, const struct seqset *set);

/* Hand out the next number in *x_r.  Returns 1, or 0 when done. */
int seqset_iter_next(struct seqset_iter *it, uint32_t *x_r);

/*
 * Append the compact text of nums[0..n) to out: runs of consecutive
 * ascending numbers become "a:b", the rest single numbers, comma
 * separated, in the order given (so that COPYUID's two sets stay in
 * step).  An empty list appends nothing.  Zeros are refused (EINVAL).
 * Returns 0 or -1 with errno.
 */
int seqset_format_list(struct str *out, const uint32_t *nums, size_t n);

/* Append the text of a normal set to out ("1:3,5").  Returns 0 or -1. */
int seqset_format(struct str *out, const struct seqset *set);

#endif
