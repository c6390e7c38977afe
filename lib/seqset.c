/* SPDX-License-Identifier: ISC */
#include "seqset.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
seqset_init(struct seqset *set)
{
	set->r = NULL;
	set->n = 0;
	set->cap = 0;
	set->normal = 1;
}

void
seqset_free(struct seqset *set)
{
	free(set->r);
	seqset_init(set);
}

void
seqset_clear(struct seqset *set)
{
	set->n = 0;
	set->normal = 1;
}

int
seqset_add(struct seqset *set, uint32_t lo, uint32_t hi)
{
	struct seqset_range *nr;
	size_t ncap;

	if (set->n == set->cap) {
		ncap = set->cap ? set->cap * 2 : 8;
		if (ncap > SIZE_MAX / sizeof(*nr)) {
			errno = ENOMEM;
			return -1;
		}
		if ((nr = realloc(set->r, ncap * sizeof(*nr))) == NULL) {
			errno = ENOMEM;
			return -1;
		}
		set->r = nr;
		set->cap = ncap;
	}
	set->r[set->n].lo = lo;
	set->r[set->n].hi = hi;
	set->n++;
	set->normal = 0;
	return 0;
}

/* One seq-number ("*" or nz-number < 2^32) at s[*i]; advances *i. */
static int
seqset_number(const char *s, size_t len, size_t *i, uint32_t *x_r)
{
	uint64_t v = 0;
	size_t start = *i;

	if (*i < len && s[*i] == '*') {
		(*i)++;
		*x_r = SEQSET_STAR;
		return 0;
	}
	while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
		v = v * 10 + (uint64_t)(s[*i] - '0');
		if (v > UINT32_MAX)
			return -1;
		(*i)++;
	}
	if (*i == start || v == 0)
		return -1;	/* no digits, or 0 (nz-number) */
	*x_r = (uint32_t)v;
	return 0;
}

int
seqset_parse(struct seqset *set, const char *s, size_t len,
    size_t max_ranges)
{
	uint32_t lo, hi;
	size_t i = 0;

	seqset_clear(set);
	for (;;) {
		if (seqset_number(s, len, &i, &lo) < 0)
			goto bad;
		hi = lo;
		if (i < len && s[i] == ':') {
			i++;
			if (seqset_number(s, len, &i, &hi) < 0)
				goto bad;
		}
		if (max_ranges && set->n >= max_ranges) {
			seqset_clear(set);
			errno = E2BIG;
			return -1;
		}
		if (seqset_add(set, lo, hi) < 0) {
			seqset_clear(set);
			return -1;
		}
		if (i == len)
			return 0;
		if (s[i] != ',')
			goto bad;
		i++;
	}
bad:
	seqset_clear(set);
	errno = EINVAL;
	return -1;
}

int
seqset_valid(const char *s, size_t len)
{
	uint32_t x;
	size_t i = 0;

	for (;;) {
		if (seqset_number(s, len, &i, &x) < 0)
			return 0;
		if (i < len && s[i] == ':') {
			i++;
			if (seqset_number(s, len, &i, &x) < 0)
				return 0;
		}
		if (i == len)
			return 1;
		if (s[i++] != ',')
			return 0;
	}
}

static int
seqset_cmp(const void *a, const void *b)
{
	const struct seqset_range *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	if (x->hi != y->hi)
		return x->hi < y->hi ? -1 : 1;
	return 0;
}

int
seqset_resolve(struct seqset *set, uint32_t max)
{
	struct seqset_range *r;
	uint32_t t;
	size_t i, o;

	if (set->normal)
		return 0;
	for (i = o = 0; i < set->n; i++) {
		r = &set->r[i];
		if (r->lo == SEQSET_STAR)
			r->lo = max;
		if (r->hi == SEQSET_STAR)
			r->hi = max;
		if (r->lo > r->hi) {
			t = r->lo;
			r->lo = r->hi;
			r->hi = t;
		}
		if (r->hi == 0)
			continue;	/* "*" of an empty mailbox */
		if (r->lo == 0)
			r->lo = 1;
		set->r[o++] = *r;
	}
	set->n = o;
	if (set->n > 1)
		qsort(set->r, set->n, sizeof(*set->r), seqset_cmp);
	/* Merge overlapping and adjacent ranges. */
	for (i = 1, o = 0; i < set->n; i++) {
		r = &set->r[o];
		if (set->r[i].lo <= r->hi || set->r[i].lo - 1 == r->hi) {
			if (set->r[i].hi > r->hi)
				r->hi = set->r[i].hi;
		} else
			set->r[++o] = set->r[i];
	}
	if (set->n > 0)
		set->n = o + 1;
	set->normal = 1;
	return 0;
}

uint32_t
seqset_max(const struct seqset *set, uint32_t star_value)
{
	uint32_t m = 0, lo, hi;
	size_t i;

	for (i = 0; i < set->n; i++) {
		lo = set->r[i].lo == SEQSET_STAR ? star_value : set->r[i].lo;
		hi = set->r[i].hi == SEQSET_STAR ? star_value : set->r[i].hi;
		if (lo > m)
			m = lo;
		if (hi > m)
			m = hi;
	}
	return m;
}

int
seqset_has_star(const struct seqset *set)
{
	size_t i;

	if (set->normal)
		return 0;
	for (i = 0; i < set->n; i++)
		if (set->r[i].lo == SEQSET_STAR || set->r[i].hi == SEQSET_STAR)
			return 1;
	return 0;
}

int
seqset_contains(const struct seqset *set, uint32_t x)
{
	size_t lo = 0, hi = set->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (x < set->r[mid].lo)
			hi = mid;
		else if (x > set->r[mid].hi)
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

uint64_t
seqset_count(const struct seqset *set)
{
	uint64_t c = 0;
	size_t i;

	for (i = 0; i < set->n; i++)
		c += (uint64_t)set->r[i].hi - set->r[i].lo + 1;
	return c;
}

void
seqset_iter_init(struct seqset_iter *it, const struct seqset *set)
{
	it->set = set;
	it->i = 0;
	it->next = set->n > 0 ? set->r[0].lo : 0;
}

int
seqset_iter_next(struct seqset_iter *it, uint32_t *x_r)
{
	const struct seqset *set = it->set;

	if (it->i >= set->n)
		return 0;
	*x_r = (uint32_t)it->next;
	/* 64-bit so that the end of 1:4294967295 does not wrap. */
	if (++it->next > set->r[it->i].hi) {
		if (++it->i < set->n)
			it->next = set->r[it->i].lo;
	}
	return 1;
}

/* Append "lo" or "lo:hi", with a comma before all but the first. */
static int
seqset_put(struct str *out, int first, uint32_t lo, uint32_t hi)
{
	const char *sep = first ? "" : ",";

	if (lo == hi)
		return str_appendf(out, "%s%lu", sep, (unsigned long)lo);
	return str_appendf(out, "%s%lu:%lu", sep, (unsigned long)lo,
	    (unsigned long)hi);
}

int
seqset_format_list(struct str *out, const uint32_t *nums, size_t n)
{
	size_t i, start;

	for (i = 0; i < n; i++)
		if (nums[i] == 0) {
			errno = EINVAL;
			return -1;
		}
	for (i = 0; i < n; i = start) {
		start = i + 1;
		while (start < n && nums[start - 1] != UINT32_MAX &&
		    nums[start] == nums[start - 1] + 1)
			start++;
		if (seqset_put(out, i == 0, nums[i], nums[start - 1]) < 0)
			return -1;
	}
	return 0;
}

int
seqset_format(struct str *out, const struct seqset *set)
{
	size_t i;

	if (!set->normal) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < set->n; i++)
		if (seqset_put(out, i == 0, set->r[i].lo, set->r[i].hi) < 0)
			return -1;
	return 0;
}
