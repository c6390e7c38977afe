/* SPDX-License-Identifier: ISC */
#include "table.h"

#include <cdb.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"

/* Keys quoted in messages are cut to this many bytes. */
#define TABLE_QUOTE_MAX 80

struct table {
	char *path;
	int fd;
	struct cdb cdb;
	dev_t dev;
	ino_t ino;
};

/* One line of a text table. */
struct table_line {
	const char *key, *val;
	size_t klen, vlen;
};

/* Walks the lines of a text held in memory. */
struct table_text {
	const char *name;
	const char *p, *end;
	unsigned lineno;
	const char *line;	/* the current line and its length ... */
	size_t len;
	size_t full;		/* ... and with its newline */
};

static int
table_isspace(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static char
table_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Advance to the next line; returns 0 at the end. */
static int
table_nextline(struct table_text *tt)
{
	const char *nl;

	if (tt->p >= tt->end)
		return 0;
	tt->lineno++;
	tt->line = tt->p;
	nl = memchr(tt->p, '\n', (size_t)(tt->end - tt->p));
	tt->len = (size_t)((nl ? nl : tt->end) - tt->p);
	tt->full = tt->len + (nl != NULL);
	tt->p += tt->full;
	return 1;
}

/* Split the current line.  Returns 1 for an entry, 0 for a blank or
 * comment line, -1 with a message in err. */
static int
table_split(const struct table_text *tt, struct table_line *tl,
    struct str *err)
{
	const char *p = tt->line, *end = tt->line + tt->len;

	if (tt->len > TABLE_LINE_MAX || memchr(p, '\0', tt->len) != NULL) {
		str_clear(err);
		str_appendf(err, "%s:%u: %s", tt->name, tt->lineno,
		    tt->len > TABLE_LINE_MAX ? "line too long" : "NUL byte");
		return -1;
	}
	while (p < end && table_isspace(*p))
		p++;
	if (p == end || *p == '#')
		return 0;
	tl->key = p;
	while (p < end && !table_isspace(*p))
		p++;
	tl->klen = (size_t)(p - tl->key);
	while (p < end && table_isspace(*p))
		p++;
	while (end > p && table_isspace(end[-1]))
		end--;
	tl->val = p;
	tl->vlen = (size_t)(end - p);
	return 1;
}

/* Put the lowercase form of a key into out. */
static int
table_fold(const char *key, size_t len, struct str *out)
{
	size_t i;

	str_clear(out);
	if (str_ready(out, len) < 0)
		return -1;
	for (i = 0; i < len; i++)
		out->s[i] = table_lower(key[i]);
	out->len = len;
	out->s[len] = '\0';
	return 0;
}

/* Add every entry of the text to a cdb being made. */
static int
table_addall(struct cdb_make *cm, struct table_text *tt, struct str *err)
{
	struct str key = STR_INIT;
	struct table_line tl;
	int r = 0;

	while (r == 0 && table_nextline(tt)) {
		if ((r = table_split(tt, &tl, err)) <= 0)
			continue;
		r = 0;
		if (table_fold(tl.key, tl.klen, &key) < 0) {
			str_appendf(err, "%s: out of memory", tt->name);
			r = -1;
		} else if (cdb_make_exists(cm, key.s, (unsigned)key.len) != 0) {
			str_clear(err);
			str_appendf(err, "%s:%u: duplicate key '%.*s'", tt->name,
			    tt->lineno, (int)(key.len > TABLE_QUOTE_MAX ?
			    TABLE_QUOTE_MAX : key.len), key.s);
			r = -1;
		} else if (cdb_make_add(cm, key.s, (unsigned)key.len, tl.val,
		    (unsigned)tl.vlen) < 0) {
			str_clear(err);
			str_appendf(err, "%s: writing cdb: %s", tt->name,
			    strerror(errno));
			r = -1;
		}
	}
	str_free(&key);
	return r;
}

/* Write the cdb for text into the open temporary file fd. */
static int
table_make(int fd, const char *name, const struct str *text, struct str *err)
{
	struct table_text tt = { name, NULL, NULL, 0, NULL, 0, 0 };
	struct cdb_make cm;
	int r;

	tt.p = str_cstr(text);
	tt.end = tt.p + text->len;
	if (cdb_make_start(&cm, fd) < 0) {
		str_appendf(err, "%s: cdb: %s", name, strerror(errno));
		return -1;
	}
	r = table_addall(&cm, &tt, err);
	/* finish also frees the maker's memory, so it runs on errors too */
	if (cdb_make_finish(&cm) < 0 && r == 0) {
		str_appendf(err, "%s: writing cdb: %s", name, strerror(errno));
		r = -1;
	}
	return r;
}

/* Read a text table, failing past TABLE_TEXT_MAX. */
static int
table_readtext(const char *path, struct str *text, struct str *err)
{
	if (fs_read_file(path, TABLE_TEXT_MAX, text) == 0)
		return 0;
	str_clear(err);
	if (errno == EFBIG)
		str_appendf(err, "%s: file too large (max %lu bytes)", path,
		    TABLE_TEXT_MAX);
	else
		str_appendf(err, "%s: %s", path, strerror(errno));
	return -1;
}

int
table_compile(const char *textpath, struct str *err)
{
	struct str text = STR_INIT, cdbpath = STR_INIT, tmp = STR_INIT;
	struct stat st;
	int fd = -1, r = -1;

	str_clear(err);
	if (stat(textpath, &st) < 0) {
		str_appendf(err, "%s: %s", textpath, strerror(errno));
		goto out;
	}
	if (table_readtext(textpath, &text, err) < 0)
		goto out;
	if (str_appendf(&cdbpath, "%s.cdb", textpath) < 0 ||
	    (fd = fs_tmp_create(cdbpath.s, st.st_mode & 0666, &tmp)) < 0) {
		str_appendf(err, "%s.cdb: %s", textpath, strerror(errno));
		goto out;
	}
	if (table_make(fd, textpath, &text, err) < 0) {
		fs_tmp_abort(fd, tmp.s);
		goto out;
	}
	if (geteuid() == 0 && fchown(fd, st.st_uid, st.st_gid) < 0) {
		str_appendf(err, "%s: chown: %s", tmp.s, strerror(errno));
		fs_tmp_abort(fd, tmp.s);
		goto out;
	}
	if (fs_tmp_commit(fd, tmp.s, cdbpath.s) < 0) {
		str_appendf(err, "%s: %s", cdbpath.s, strerror(errno));
		goto out;
	}
	r = 0;
out:
	str_free(&text);
	str_free(&cdbpath);
	str_free(&tmp);
	return r;
}

int
table_lock(const char *textpath, struct str *err)
{
	struct str lp = STR_INIT;
	struct flock fl;
	int fd;

	if (str_appendf(&lp, "%s.lock", textpath) < 0) {
		str_appendf(err, "out of memory");
		return -1;
	}
	memset(&fl, 0, sizeof fl);
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fd = open(lp.s, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	while (fd >= 0 && fcntl(fd, F_SETLKW, &fl) < 0) {
		if (errno != EINTR) {
			close(fd);
			fd = -1;
		}
	}
	if (fd < 0)
		str_appendf(err, "%s: %s", lp.s, strerror(errno));
	str_free(&lp);
	return fd;
}

/* Where the entry of a key is in a text table. */
struct table_found {
	int found;
	size_t start, end;	/* byte offsets of its line with newline */
	struct str old;		/* its value */
};

/* Find the line of key (already folded) in text. */
static int
table_find(const char *name, const struct str *text, const char *key,
    struct table_found *f, struct str *err)
{
	struct table_text tt = { name, NULL, NULL, 0, NULL, 0, 0 };
	size_t klen = strlen(key), i;
	struct table_line tl;
	int r;

	tt.p = str_cstr(text);
	tt.end = tt.p + text->len;
	f->found = 0;
	f->start = f->end = text->len;
	while (table_nextline(&tt)) {
		if ((r = table_split(&tt, &tl, err)) < 0)
			return -1;
		if (r == 0 || tl.klen != klen)
			continue;
		for (i = 0; i < klen && table_lower(tl.key[i]) == key[i]; i++)
			;
		if (i < klen)
			continue;
		if (f->found) {
			str_clear(err);
			str_appendf(err, "%s:%u: duplicate key '%s'", name,
			    tt.lineno, key);
			return -1;
		}
		f->found = 1;
		f->start = (size_t)(tt.line - str_cstr(text));
		f->end = f->start + tt.full;
		str_clear(&f->old);
		if (str_append(&f->old, tl.val, tl.vlen) < 0)
			return -1;
	}
	return 0;
}

/* The new text: text with the found line replaced by (store) "key val" or
 * removed; a new entry goes at the end. */
static int
table_rebuild(const struct str *text, const struct table_found *f,
    const char *key, const struct str *val, int store, struct str *out)
{
	const char *p = str_cstr(text);

	if (str_append(out, p, f->start) < 0)
		return -1;
	if (out->len > 0 && out->s[out->len - 1] != '\n' &&
	    str_appendc(out, '\n') < 0)
		return -1;
	if (store && str_appendf(out, "%s%s%s\n", key, val->len ? " " : "",
	    str_cstr(val)) < 0)
		return -1;
	return str_append(out, p + f->end, text->len - f->end);
}

/* Replace the text table durably, keeping mode and owner from st (a new
 * file, st == NULL, gets mode 0600). */
static int
table_writetext(const char *path, const struct stat *st,
    const struct str *text, struct str *err)
{
	struct str tmp = STR_INIT;
	int fd, r = -1;

	fd = fs_tmp_create(path, st ? st->st_mode & 07777 : 0600, &tmp);
	if (fd < 0)
		goto out;
	if (fs_write_all(fd, str_cstr(text), text->len) < 0 ||
	    (st && geteuid() == 0 && fchown(fd, st->st_uid, st->st_gid) < 0)) {
		fs_tmp_abort(fd, tmp.s);
		goto out;
	}
	r = fs_tmp_commit(fd, tmp.s, path);
out:
	if (r < 0) {
		str_clear(err);
		str_appendf(err, "%s: %s", path, strerror(errno));
	}
	str_free(&tmp);
	return r;
}

/* Whether key can be written as the first token of a line. */
static int
table_validkey(const char *key)
{
	size_t i, len = strlen(key);

	if (len == 0 || len >= TABLE_LINE_MAX || key[0] == '#')
		return 0;
	for (i = 0; i < len; i++)
		if (table_isspace(key[i]) || key[i] == '\n')
			return 0;
	return 1;
}

/* Whether val can be the rest of the line of key. */
static int
table_validval(const char *key, const struct str *val)
{
	if (strlen(key) + 1 + val->len > TABLE_LINE_MAX)
		return 0;
	if (memchr(str_cstr(val), '\n', val->len) != NULL ||
	    memchr(str_cstr(val), '\0', val->len) != NULL)
		return 0;
	return val->len == 0 || (!table_isspace(val->s[0]) &&
	    !table_isspace(val->s[val->len - 1]));
}

/* The locked part of table_edit: read, decide, rewrite, recompile. */
static int
table_edit_locked(const char *textpath, const char *key, table_edit_fn *fn,
    void *arg, struct str *err)
{
	struct table_found f = { 0, 0, 0, STR_INIT };
	struct str text = STR_INIT, val = STR_INIT, out = STR_INIT;
	struct stat st, *stp = &st;
	int r = -1, store;

	if (stat(textpath, &st) < 0) {
		if (errno != ENOENT) {
			str_appendf(err, "%s: %s", textpath, strerror(errno));
			return -1;
		}
		stp = NULL;
	}
	if (stp && table_readtext(textpath, &text, err) < 0)
		goto out;
	if (table_find(textpath, &text, key, &f, err) < 0)
		goto out;
	if ((store = fn(key, f.found ? f.old.s : NULL, &val, arg, err)) < 0)
		goto out;
	if (store && !table_validval(key, &val)) {
		str_appendf(err, "%s: invalid value for key '%s'", textpath,
		    key);
		goto out;
	}
	if ((store || f.found || stp == NULL) &&
	    (table_rebuild(&text, &f, key, &val, store, &out) < 0 ||
	    table_writetext(textpath, stp, &out, err) < 0))
		goto out;
	r = table_compile(textpath, err);
out:
	if (r < 0 && err->len == 0)
		str_appendf(err, "%s: %s", textpath, strerror(errno));
	str_free(&f.old);
	str_free(&text);
	str_free(&val);
	str_free(&out);
	return r;
}

int
table_edit(const char *textpath, const char *key, table_edit_fn *fn,
    void *arg, struct str *err)
{
	struct str k = STR_INIT;
	int lockfd, r;

	str_clear(err);
	if (!table_validkey(key)) {
		str_appendf(err, "%s: invalid key", textpath);
		return -1;
	}
	if (table_fold(key, strlen(key), &k) < 0) {
		str_appendf(err, "out of memory");
		return -1;
	}
	if ((lockfd = table_lock(textpath, err)) < 0) {
		str_free(&k);
		return -1;
	}
	r = table_edit_locked(textpath, k.s, fn, arg, err);
	close(lockfd);
	str_free(&k);
	return r;
}

struct table *
table_open(const char *cdbpath)
{
	struct table *t;
	struct stat st;
	int saved;

	if ((t = calloc(1, sizeof *t)) == NULL)
		return NULL;
	t->fd = -1;
	if ((t->path = strdup(cdbpath)) == NULL)
		goto fail;
	if ((t->fd = open(cdbpath, O_RDONLY | O_CLOEXEC)) < 0)
		goto fail;
	if (fstat(t->fd, &st) < 0 || cdb_init(&t->cdb, t->fd) < 0)
		goto fail;
	t->dev = st.st_dev;
	t->ino = st.st_ino;
	return t;
fail:
	saved = errno;
	if (t->fd >= 0)
		close(t->fd);
	free(t->path);
	free(t);
	errno = saved;
	return NULL;
}

/* Switch to a new file when the path now names another inode.  A path that
 * vanished or cannot be opened leaves the old file in use. */
static void
table_refresh(struct table *t)
{
	struct table *n;
	struct stat st;

	if (stat(t->path, &st) < 0)
		return;
	if (st.st_dev == t->dev && st.st_ino == t->ino)
		return;
	if ((n = table_open(t->path)) == NULL)
		return;
	cdb_free(&t->cdb);
	close(t->fd);
	t->fd = n->fd;
	t->cdb = n->cdb;
	t->dev = n->dev;
	t->ino = n->ino;
	free(n->path);
	free(n);
}

/* Copy len bytes at pos of the cdb into out, NUL-terminated. */
static int
table_get(struct table *t, unsigned len, unsigned pos, struct str *out)
{
	str_clear(out);
	if (len > TABLE_VALUE_MAX) {
		errno = EFBIG;
		return -1;
	}
	if (str_ready(out, len) < 0)
		return -1;
	if (cdb_read(&t->cdb, out->s, len, pos) < 0)
		return -1;
	out->len = len;
	out->s[len] = '\0';
	return 0;
}

int
table_lookup(struct table *t, const char *key, struct str *value_r)
{
	struct str k = STR_INIT;
	size_t len = strlen(key);
	int r;

	str_clear(value_r);
	if (len > TABLE_LINE_MAX)
		return 0;
	table_refresh(t);
	if (table_fold(key, len, &k) < 0)
		return -1;
	r = cdb_find(&t->cdb, k.s, (unsigned)k.len);
	str_free(&k);
	if (r > 0 && table_get(t, cdb_datalen(&t->cdb),
	    cdb_datapos(&t->cdb), value_r) < 0)
		r = -1;
	return r;
}

int
table_foreach(struct table *t,
    int (*fn)(const char *key, const char *value, void *arg), void *arg)
{
	struct str k = STR_INIT, v = STR_INIT;
	unsigned pos;
	int r = 0, n;

	table_refresh(t);
	cdb_seqinit(&pos, &t->cdb);
	while (r == 0 && (n = cdb_seqnext(&pos, &t->cdb)) != 0) {
		if (n < 0 || table_get(t, cdb_keylen(&t->cdb),
		    cdb_keypos(&t->cdb), &k) < 0 || table_get(t,
		    cdb_datalen(&t->cdb), cdb_datapos(&t->cdb), &v) < 0) {
			r = -1;
			break;
		}
		r = fn(k.s, v.s, arg);
	}
	str_free(&k);
	str_free(&v);
	return r;
}

void
table_close(struct table **t)
{
	if (*t == NULL)
		return;
	cdb_free(&(*t)->cdb);
	close((*t)->fd);
	free((*t)->path);
	free(*t);
	*t = NULL;
}
