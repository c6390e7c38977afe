/* SPDX-License-Identifier: ISC */
#include "str.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STR_ABSMAX (SIZE_MAX / 2)

void
str_init(struct str *sa, size_t max)
{
	sa->s = NULL;
	sa->len = 0;
	sa->cap = 0;
	sa->max = max;
}

int
str_ready(struct str *sa, size_t n)
{
	size_t max = sa->max ? sa->max : STR_ABSMAX;
	size_t want, ncap;
	char *p;

	if (n > max || sa->len > max - n) {
		errno = E2BIG;
		return -1;
	}
	want = sa->len + n + 1;
	if (want <= sa->cap)
		return 0;
	ncap = sa->cap ? sa->cap : 64;
	while (ncap < want) {
		if (ncap > STR_ABSMAX / 2) {
			ncap = want;
			break;
		}
		ncap *= 2;
	}
	if (sa->max && ncap > sa->max + 1)
		ncap = sa->max + 1;
	p = realloc(sa->s, ncap);
	if (p == NULL) {
		errno = ENOMEM;
		return -1;
	}
	sa->s = p;
	sa->cap = ncap;
	return 0;
}

int
str_append(struct str *sa, const void *p, size_t n)
{
	if (str_ready(sa, n) < 0)
		return -1;
	if (n)
		memcpy(sa->s + sa->len, p, n);
	sa->len += n;
	sa->s[sa->len] = '\0';
	return 0;
}

int
str_appends(struct str *sa, const char *s)
{
	return str_append(sa, s, strlen(s));
}

int
str_appendc(struct str *sa, char c)
{
	return str_append(sa, &c, 1);
}

int
str_vappendf(struct str *sa, const char *fmt, va_list ap)
{
	va_list aq;
	int n;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0)
		return -1;
	if (str_ready(sa, (size_t)n) < 0)
		return -1;
	vsnprintf(sa->s + sa->len, (size_t)n + 1, fmt, ap);
	sa->len += (size_t)n;
	return 0;
}

int
str_appendf(struct str *sa, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = str_vappendf(sa, fmt, ap);
	va_end(ap);
	return r;
}

void
str_truncate(struct str *sa, size_t len)
{
	if (len < sa->len) {
		sa->len = len;
		sa->s[len] = '\0';
	}
}

void
str_clear(struct str *sa)
{
	str_truncate(sa, 0);
}

void
str_free(struct str *sa)
{
	free(sa->s);
	sa->s = NULL;
	sa->len = 0;
	sa->cap = 0;
}

const char *
str_cstr(const struct str *sa)
{
	return sa->s ? sa->s : "";
}

char *
str_steal(struct str *sa)
{
	char *p = sa->s;

	if (p == NULL)
		p = calloc(1, 1);
	sa->s = NULL;
	sa->len = 0;
	sa->cap = 0;
	return p;
}
