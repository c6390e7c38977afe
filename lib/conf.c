/* SPDX-License-Identifier: ISC */
#include "conf.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "fs.h"

/* Keys and values quoted in messages are cut to this many bytes. */
#define CONF_QUOTE_MAX 80

struct conf_val {
	char *text;		/* as resolved (paths) or as written */
	unsigned long long num;	/* uint, size, duration, bool */
	int set;		/* line number that set it, 0 for default */
	int has;		/* has a value (from the file or a default) */
};

struct conf {
	const struct conf_key *keys;
	size_t nkeys;
	char *dir;
	struct conf_val *vals;
};

/* Where a message is about: the file name and the line (0: none). */
struct conf_pos {
	const char *name;
	unsigned line;
	struct str *err;
};

static void conf_error(const struct conf_pos *pos, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
conf_error(const struct conf_pos *pos, const char *fmt, ...)
{
	va_list ap;

	str_clear(pos->err);
	if (pos->line)
		str_appendf(pos->err, "%s:%u: ", pos->name, pos->line);
	else
		str_appendf(pos->err, "%s: ", pos->name);
	va_start(ap, fmt);
	str_vappendf(pos->err, fmt, ap);
	va_end(ap);
}

static int
conf_isspace(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Trim whitespace on both sides of [*p, *p + *len). */
static void
conf_trim(const char **p, size_t *len)
{
	while (*len > 0 && conf_isspace(**p)) {
		(*p)++;
		(*len)--;
	}
	while (*len > 0 && conf_isspace((*p)[*len - 1]))
		(*len)--;
}

/* Parse decimal digits then an optional one-letter unit from units (pairs
 * of letter and multiplier).  Returns 0, -1 on bad syntax, -2 on overflow. */
static int
conf_number(const char *s, size_t len, const char *units,
    const unsigned long long *mult, unsigned long long *n_r)
{
	unsigned long long n = 0, m = 1;
	size_t i = 0;
	const char *u;

	if (len == 0 || s[0] < '0' || s[0] > '9')
		return -1;
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
		if (n > (ULLONG_MAX - (unsigned)(s[i] - '0')) / 10)
			return -2;
		n = n * 10 + (unsigned)(s[i] - '0');
	}
	if (i < len) {
		if (units == NULL || i + 1 != len || s[i] == '\0' ||
		    (u = strchr(units, s[i])) == NULL)
			return -1;
		m = mult[u - units];
	}
	if (n > ULLONG_MAX / m)
		return -2;
	*n_r = n * m;
	return 0;
}

static const char conf_size_units[] = "kKmMgG";
static const unsigned long long conf_size_mult[] = {
	1ULL << 10, 1ULL << 10, 1ULL << 20, 1ULL << 20, 1ULL << 30, 1ULL << 30
};
static const char conf_dur_units[] = "smhd";
static const unsigned long long conf_dur_mult[] = { 1, 60, 3600, 86400 };

static const char *const conf_true[] = { "yes", "true", "on", "1", NULL };
static const char *const conf_false[] = { "no", "false", "off", "0", NULL };

/* Match s against a NULL-terminated list, case-insensitively. */
static int
conf_inlist(const char *s, size_t len, const char *const *list)
{
	for (; *list; list++)
		if (strlen(*list) == len && strncasecmp(s, *list, len) == 0)
			return 1;
	return 0;
}

/* Compute the number of a numeric or bool value; message in pos on error. */
static int
conf_numval(const struct conf_key *k, const char *s, size_t len,
    unsigned long long *n_r, const struct conf_pos *pos)
{
	int r;

	switch (k->type) {
	case CONF_BOOL:
		if (conf_inlist(s, len, conf_true))
			*n_r = 1;
		else if (conf_inlist(s, len, conf_false))
			*n_r = 0;
		else {
			conf_error(pos, "invalid boolean for key '%s'", k->name);
			return -1;
		}
		return 0;
	case CONF_UINT:
		r = conf_number(s, len, NULL, NULL, n_r);
		break;
	case CONF_SIZE:
		r = conf_number(s, len, conf_size_units, conf_size_mult, n_r);
		break;
	default:
		r = conf_number(s, len, conf_dur_units, conf_dur_mult, n_r);
		break;
	}
	if (r == 0 && (*n_r < k->min || (k->max && *n_r > k->max)))
		r = -2;
	if (r == -1)
		conf_error(pos, "invalid number for key '%s'", k->name);
	else if (r == -2)
		conf_error(pos, "value out of range for key '%s' (%llu..%llu)",
		    k->name, k->min, k->max ? k->max : ULLONG_MAX);
	return r < 0 ? -1 : 0;
}

/* Store the value of key k; the text of paths is resolved against dir. */
static int
conf_setval(struct conf *conf, const struct conf_key *k, const char *s,
    size_t len, const struct conf_pos *pos)
{
	struct conf_val *v = &conf->vals[k - conf->keys];
	struct str text = STR_INIT;
	unsigned long long n = 0;

	if (k->type != CONF_STRING && k->type != CONF_PATH &&
	    conf_numval(k, s, len, &n, pos) < 0)
		return -1;
	if (k->type == CONF_PATH && len > 0 && s[0] != '/')
		if (str_appends(&text, conf->dir) < 0 ||
		    str_appendc(&text, '/') < 0)
			goto nomem;
	if (str_append(&text, s, len) < 0)
		goto nomem;
	free(v->text);
	v->text = str_steal(&text);
	v->num = n;
	v->has = 1;
	v->set = (int)pos->line;
	return 0;
nomem:
	str_free(&text);
	conf_error(pos, "out of memory");
	return -1;
}

static const struct conf_key *
conf_findkey(const struct conf *conf, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < conf->nkeys; i++)
		if (strlen(conf->keys[i].name) == len &&
		    memcmp(conf->keys[i].name, name, len) == 0)
			return &conf->keys[i];
	return NULL;
}

/* Handle one line (without its newline). */
static int
conf_line(struct conf *conf, const char *p, size_t len,
    const struct conf_pos *pos)
{
	const char *eq, *key, *val;
	size_t klen, vlen;
	const struct conf_key *k;

	if (len > CONF_LINE_MAX) {
		conf_error(pos, "line too long (max %d bytes)", CONF_LINE_MAX);
		return -1;
	}
	if (memchr(p, '\0', len) != NULL) {
		conf_error(pos, "NUL byte in line");
		return -1;
	}
	conf_trim(&p, &len);
	if (len == 0 || p[0] == '#')
		return 0;
	if ((eq = memchr(p, '=', len)) == NULL) {
		conf_error(pos, "missing '='");
		return -1;
	}
	key = p;
	klen = (size_t)(eq - p);
	val = eq + 1;
	vlen = len - klen - 1;
	conf_trim(&key, &klen);
	conf_trim(&val, &vlen);
	if (klen == 0) {
		conf_error(pos, "missing key before '='");
		return -1;
	}
	if ((k = conf_findkey(conf, key, klen)) == NULL) {
		conf_error(pos, "unknown key '%.*s'",
		    (int)(klen > CONF_QUOTE_MAX ? CONF_QUOTE_MAX : klen), key);
		return -1;
	}
	if (conf->vals[k - conf->keys].set) {
		conf_error(pos, "duplicate key '%s' (first set at line %d)",
		    k->name, conf->vals[k - conf->keys].set);
		return -1;
	}
	return conf_setval(conf, k, val, vlen, pos);
}

/* Give every key the file did not set its default. */
static int
conf_defaults(struct conf *conf, const char *name, struct str *err)
{
	struct conf_pos pos = { name, 0, err };
	const struct conf_key *k;
	size_t i;

	for (i = 0; i < conf->nkeys; i++) {
		k = &conf->keys[i];
		if (conf->vals[i].has || k->def == NULL)
			continue;
		if (conf_setval(conf, k, k->def, strlen(k->def), &pos) < 0) {
			str_appendf(err, " (in the default of '%s')", k->name);
			return -1;
		}
	}
	return 0;
}

static struct conf *
conf_new(const char *dir, const struct conf_key *keys)
{
	struct conf *conf;
	size_t n = 0;

	while (keys[n].name != NULL)
		n++;
	if ((conf = calloc(1, sizeof *conf)) == NULL)
		return NULL;
	conf->keys = keys;
	conf->nkeys = n;
	conf->dir = strdup(dir);
	conf->vals = calloc(n + 1, sizeof *conf->vals);
	if (conf->dir == NULL || conf->vals == NULL)
		conf_free(&conf);
	return conf;
}

int
conf_parse(const char *name, const char *dir, const char *text, size_t len,
    const struct conf_key *keys, struct conf **conf_r, struct str *err)
{
	struct conf_pos pos = { name, 0, err };
	struct conf *conf;
	const char *p = text, *end = text + len, *nl;

	*conf_r = NULL;
	if ((conf = conf_new(dir, keys)) == NULL) {
		conf_error(&pos, "out of memory");
		return -1;
	}
	while (p < end) {
		pos.line++;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if (conf_line(conf, p, (size_t)(nl - p), &pos) < 0) {
			conf_free(&conf);
			return -1;
		}
		p = nl + (nl < end);
	}
	if (conf_defaults(conf, name, err) < 0) {
		conf_free(&conf);
		return -1;
	}
	*conf_r = conf;
	return 0;
}

/* The absolute directory of path, for resolving relative paths. */
static int
conf_absdir(const char *path, struct str *dir_r)
{
	struct str cwd = STR_INIT;
	int r;

	if (fs_dirname(path, dir_r) < 0)
		return -1;
	if (dir_r->s[0] == '/')
		return 0;
	if (str_ready(&cwd, PATH_MAX) < 0)
		return -1;
	if (getcwd(cwd.s, cwd.cap) == NULL) {
		str_free(&cwd);
		return -1;
	}
	cwd.len = strlen(cwd.s);
	if (strcmp(dir_r->s, ".") != 0)
		r = str_appendf(&cwd, "%s%s", cwd.len > 1 ? "/" : "", dir_r->s);
	else
		r = 0;
	str_free(dir_r);
	*dir_r = cwd;
	return r;
}

int
conf_load(const char *path, const struct conf_key *keys,
    struct conf **conf_r, struct str *err)
{
	struct str text = STR_INIT, dir = STR_INIT;
	int r = -1;

	*conf_r = NULL;
	if (fs_read_file(path, CONF_FILE_MAX, &text) < 0) {
		str_clear(err);
		if (errno == EFBIG)
			str_appendf(err, "%s: file too large (max %d bytes)",
			    path, CONF_FILE_MAX);
		else
			str_appendf(err, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (conf_absdir(path, &dir) < 0) {
		str_clear(err);
		str_appendf(err, "%s: directory: %s", path, strerror(errno));
		goto out;
	}
	r = conf_parse(path, dir.s, str_cstr(&text), text.len, keys, conf_r,
	    err);
out:
	str_free(&text);
	str_free(&dir);
	return r;
}

static const struct conf_val *
conf_val(const struct conf *conf, const char *key)
{
	size_t i;

	if (conf == NULL)
		return NULL;
	for (i = 0; i < conf->nkeys; i++)
		if (strcmp(conf->keys[i].name, key) == 0)
			return conf->vals[i].has ? &conf->vals[i] : NULL;
	return NULL;
}

const char *
conf_str(const struct conf *conf, const char *key)
{
	const struct conf_val *v = conf_val(conf, key);

	return v ? v->text : NULL;
}

unsigned long long
conf_num(const struct conf *conf, const char *key)
{
	const struct conf_val *v = conf_val(conf, key);

	return v ? v->num : 0;
}

int
conf_bool(const struct conf *conf, const char *key)
{
	return conf_num(conf, key) != 0;
}

int
conf_isset(const struct conf *conf, const char *key)
{
	const struct conf_val *v = conf_val(conf, key);

	return v != NULL && v->set != 0;
}

const char *
conf_dir(const struct conf *conf)
{
	return conf->dir;
}

void
conf_free(struct conf **conf)
{
	size_t i;

	if (*conf == NULL)
		return;
	if ((*conf)->vals != NULL)
		for (i = 0; i < (*conf)->nkeys; i++)
			free((*conf)->vals[i].text);
	free((*conf)->vals);
	free((*conf)->dir);
	free(*conf);
	*conf = NULL;
}
