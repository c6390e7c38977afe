/* SPDX-License-Identifier: ISC */
#ifndef ZEST_STR_H
#define ZEST_STR_H

/*
 * str: the one growable byte buffer of the project.
 * Lengths are size_t, growth is overflow-checked, and every buffer may carry
 * a hard maximum; growing past it fails with errno E2BIG.  The bytes are
 * always followed by a NUL (not counted in len), so s is usable as a C
 * string when the content has no NUL of its own.
 */

#include <stdarg.h>
#include <stddef.h>

struct str {
	char *s;	/* NULL until the first growth */
	size_t len;	/* bytes in use */
	size_t cap;	/* bytes allocated (includes room for the NUL) */
	size_t max;	/* hard maximum of len; 0 means no limit but SIZE_MAX/2 */
};

#define STR_INIT { NULL, 0, 0, 0 }

/* Set up an empty buffer whose length may never exceed max (0: no limit). */
void str_init(struct str *sa, size_t max);

/* Make room for n more bytes.  Returns 0, or -1 with errno ENOMEM or E2BIG. */
int str_ready(struct str *sa, size_t n);

/* Append n bytes.  Returns 0, or -1 with errno ENOMEM or E2BIG. */
int str_append(struct str *sa, const void *p, size_t n);

/* Append a NUL-terminated string.  Returns 0 or -1 as str_append. */
int str_appends(struct str *sa, const char *s);

/* Append one byte.  Returns 0 or -1 as str_append. */
int str_appendc(struct str *sa, char c);

/* Append printf-style formatted text.  Returns 0 or -1 as str_append. */
int str_appendf(struct str *sa, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* As str_appendf with a va_list. */
int str_vappendf(struct str *sa, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* Cut the content to len bytes (no-op when already shorter). */
void str_truncate(struct str *sa, size_t len);

/* Empty the buffer, keeping its allocation. */
void str_clear(struct str *sa);

/* Release the allocation and reset to empty (the maximum is kept). */
void str_free(struct str *sa);

/* The content as a C string; "" for a buffer never grown. */
const char *str_cstr(const struct str *sa);

/* Take the allocation out of the buffer (caller frees); the buffer is reset. */
char *str_steal(struct str *sa);

#endif
