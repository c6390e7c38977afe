/* SPDX-License-Identifier: ISC */
#include "users.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "table.h"

int
users_valid_name(const char *name)
{
	size_t i;
	char c;

	if (name[0] == '\0' || name[0] == '.' || name[0] == '-')
		return 0;
	for (i = 0; name[i] != '\0'; i++) {
		c = name[i];
		if (i >= USERS_NAME_MAX)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

void
users_free(struct user *u)
{
	free(u->name);
	if (u->hash != NULL)
		explicit_bzero(u->hash, strlen(u->hash));
	free(u->hash);
	free(u->maildir);
	memset(u, 0, sizeof *u);
}

/* Take the next whitespace-delimited token of *p into [*tok, *len). */
static int
users_token(const char **p, const char **tok, size_t *len)
{
	const char *s = *p;

	while (*s == ' ' || *s == '\t')
		s++;
	*tok = s;
	while (*s != '\0' && *s != ' ' && *s != '\t')
		s++;
	*len = (size_t)(s - *tok);
	*p = s;
	return *len > 0;
}

/* Parse a uid or gid: decimal, below the (id_t)-1 "no id" value. */
static int
users_id(const char *s, size_t len, unsigned long *id_r)
{
	unsigned long n = 0;
	size_t i;

	if (len == 0 || len > 10)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		n = n * 10 + (unsigned long)(s[i] - '0');
	}
	if (n >= 0xffffffffUL)
		return -1;
	*id_r = n;
	return 0;
}

/* Fill the text fields of u; the maildir becomes absolute. */
static int
users_fill(struct user *u, const char *mail_root, const char *name,
    const char *hash, size_t hlen, const char *md)
{
	struct str p = STR_INIT;

	if (md[0] != '/' && str_appendf(&p, "%s/", mail_root) < 0)
		return -1;
	if (str_appends(&p, md) < 0) {
		str_free(&p);
		return -1;
	}
	u->maildir = str_steal(&p);
	u->name = strdup(name);
	u->hash = strndup(hash, hlen);
	if (u->maildir == NULL || u->name == NULL || u->hash == NULL)
		return -1;
	return 0;
}

int
users_parse(const char *mail_root, const char *name, const char *value,
    struct user *u, struct str *err)
{
	const char *p = value, *hash, *tu, *tg, *md;
	size_t hlen, lu, lg, mlen;
	unsigned long uid, gid;

	memset(u, 0, sizeof *u);
	if (!users_token(&p, &hash, &hlen) || !users_token(&p, &tu, &lu) ||
	    !users_token(&p, &tg, &lg) || users_id(tu, lu, &uid) < 0 ||
	    users_id(tg, lg, &gid) < 0) {
		str_appendf(err, "users: malformed entry for '%s'", name);
		return -1;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	md = p;
	mlen = strlen(md);
	while (mlen > 0 && (md[mlen - 1] == ' ' || md[mlen - 1] == '\t'))
		mlen--;
	if (mlen == 0 || mlen != strlen(md)) {
		str_appendf(err, "users: malformed maildir for '%s'", name);
		return -1;
	}
	u->uid = (uid_t)uid;
	u->gid = (gid_t)gid;
	if (users_fill(u, mail_root, name, hash, hlen, md) < 0) {
		users_free(u);
		str_appendf(err, "out of memory");
		return -1;
	}
	return 0;
}

int
users_format(const char *hash, uid_t uid, gid_t gid, const char *maildir,
    struct str *value_r)
{
	str_clear(value_r);
	return str_appendf(value_r, "%s %lu %lu %s", hash, (unsigned long)uid,
	    (unsigned long)gid, maildir);
}

char *
users_table_path(const struct instance *inst)
{
	struct str p = STR_INIT;

	if (str_appendf(&p, "%s/%s", inst->tables_dir, USERS_TABLE) < 0)
		return NULL;
	return str_steal(&p);
}

/* Split NAME[@DOMAIN] into the lowercase bare name; 0 when the name is
 * invalid or of another domain. */
static int
users_localpart(const struct instance *inst, const char *name,
    char buf[USERS_NAME_MAX + 1])
{
	const char *at = strchr(name, '@');
	size_t len = at ? (size_t)(at - name) : strlen(name), i;

	if (at != NULL && strcasecmp(at + 1, inst->domain) != 0)
		return 0;
	if (len == 0 || len > USERS_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++)
		buf[i] = name[i] >= 'A' && name[i] <= 'Z' ?
		    (char)(name[i] - 'A' + 'a') : name[i];
	buf[len] = '\0';
	return users_valid_name(buf);
}

int
users_lookup(const struct instance *inst, const char *name, struct user *u,
    struct str *err)
{
	char local[USERS_NAME_MAX + 1];
	struct str path = STR_INIT, val = STR_INIT;
	struct table *t;
	int r;

	memset(u, 0, sizeof *u);
	str_clear(err);
	if (!users_localpart(inst, name, local))
		return 0;
	if (str_appendf(&path, "%s/%s.cdb", inst->tables_dir,
	    USERS_TABLE) < 0) {
		str_appendf(err, "out of memory");
		return -1;
	}
	if ((t = table_open(path.s)) == NULL) {
		str_appendf(err, "%s: %s", path.s, strerror(errno));
		str_free(&path);
		return -1;
	}
	r = table_lookup(t, local, &val);
	if (r < 0)
		str_appendf(err, "%s: %s", path.s, strerror(errno));
	else if (r > 0 && users_parse(inst->mail_root, local, val.s, u,
	    err) < 0)
		r = -1;
	table_close(&t);
	str_free(&path);
	if (val.s != NULL)
		explicit_bzero(val.s, val.len);
	str_free(&val);
	return r;
}
