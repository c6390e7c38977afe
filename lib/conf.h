/* SPDX-License-Identifier: ISC */
#ifndef ZEST_CONF_H
#define ZEST_CONF_H

/*
 * conf: the `key = value` configuration file.
 *
 * One setting per line; `#` starts a comment line; blank lines are skipped;
 * whitespace around key and value is trimmed; the value is the rest of the
 * line (no quoting, no includes).  Only keys of the caller's table are
 * accepted, each at most once.  Lines are at most CONF_LINE_MAX bytes, files
 * at most CONF_FILE_MAX.  Errors name the file and line:
 * "zest.conf:12: unknown key 'foo'".
 */

#include <stddef.h>

#include "str.h"

#define CONF_LINE_MAX 4096
#define CONF_FILE_MAX (1024 * 1024)

enum conf_type {
	CONF_STRING,	/* any text, may be empty */
	CONF_UINT,	/* decimal number */
	CONF_BOOL,	/* yes/no, true/false, on/off, 1/0 */
	CONF_PATH,	/* relative paths resolve against the file's directory */
	CONF_SIZE,	/* bytes, optional suffix k, M, G (powers of 1024) */
	CONF_DURATION	/* seconds, optional suffix s, m, h, d */
};

/* One known key.  def is the default text (NULL: no default; conf_str gives
 * NULL and conf_num 0 when the file does not set it); it is parsed like a
 * value from the file.  min and max bound numeric values (max 0: no bound). */
struct conf_key {
	const char *name;
	enum conf_type type;
	const char *def;
	unsigned long long min, max;
};

struct conf;

/* Parse the file at path against keys (terminated by an entry whose name is
 * NULL).  On success *conf_r holds the settings; on failure returns -1 with
 * a message ("FILE:LINE: ...") in err. */
int conf_load(const char *path, const struct conf_key *keys,
    struct conf **conf_r, struct str *err);

/* As conf_load on len bytes of text; name is used in messages and dir is the
 * directory relative paths resolve against. */
int conf_parse(const char *name, const char *dir, const char *text,
    size_t len, const struct conf_key *keys, struct conf **conf_r,
    struct str *err);

/* The value of key: the text for string keys, the resolved path for path
 * keys, the text as written for other types.  NULL when unset without default
 * or when key is not in the table. */
const char *conf_str(const struct conf *conf, const char *key);

/* The number of a uint, size or duration key (bytes, seconds); 0 when
 * unset or unknown. */
unsigned long long conf_num(const struct conf *conf, const char *key);

/* The value of a bool key: 1 or 0 (0 when unset or unknown). */
int conf_bool(const struct conf *conf, const char *key);

/* Whether the file set key explicitly (1) or it comes from the default (0). */
int conf_isset(const struct conf *conf, const char *key);

/* The directory relative paths were resolved against. */
const char *conf_dir(const struct conf *conf);

/* Free a configuration and set *conf to NULL. */
void conf_free(struct conf **conf);

#endif
