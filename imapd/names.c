/* SPDX-License-Identifier: ISC */
/*
 * imapd: mailbox names.  INBOX is the user's Maildir itself; every other
 * mailbox is a Maildir++ folder ".NAME" in it, NAME being the IMAP name as
 * sent (modified UTF-7, hierarchy delimiter "."), so that mutt, Dovecot
 * and Courier see the same folders.  A parent need not exist: "a.b" can
 * live without "a", which LIST then shows as \Noselect.
 *
 * Subscriptions are the file "subscriptions" in the Maildir, one name a
 * line (as Dovecot keeps them), replaced atomically.
 */
#include "imapd.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "log.h"
#include "maildir.h"
#include "mutf7.h"

int
names_is_inbox(const char *name)
{
	return strcasecmp(name, "INBOX") == 0;
}

int
names_path(const char *name, size_t len, struct str *path_r,
    const char **why_r)
{
	size_t i, depth = 0;

	str_clear(path_r);
	if (len == 0 || strlen(name) != len) {
		*why_r = "Empty or invalid mailbox name";
		return -1;
	}
	if (names_is_inbox(name))
		return str_appends(path_r, ".") < 0 ? (*why_r = "Out of memory",
		    -1) : 0;
	if (len > IMAP_NAME_BYTES) {
		*why_r = "Mailbox name too long";
		return -1;
	}
	if (!mutf7_valid(name, len)) {
		*why_r = "Mailbox name is not valid modified UTF-7";
		return -1;
	}
	for (i = 0; i < len; i++) {
		if (name[i] == '/' || name[i] == '\\' || name[i] == '~') {
			*why_r = "Mailbox name holds a reserved character";
			return -1;
		}
		if (name[i] == '*' || name[i] == '%') {
			*why_r = "Mailbox name holds a wildcard";
			return -1;
		}
		if (name[i] == '.') {
			/* no empty levels: ".a", "a..b", "a." */
			if (i == 0 || i + 1 == len || name[i + 1] == '.') {
				*why_r = "Empty hierarchy level in the name";
				return -1;
			}
			depth++;
		}
	}
	if (depth >= IMAP_DEPTH_MAX) {
		*why_r = "Too many hierarchy levels";
		return -1;
	}
	if (str_appendc(path_r, '.') < 0 || str_append(path_r, name, len) < 0) {
		*why_r = "Out of memory";
		return -1;
	}
	return 0;
}

int
names_exists(const char *path)
{
	return maildir_exists(path);
}

static int
names_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sort a NUL-separated list in place. */
static int
names_sort(struct str *list, size_t n)
{
	char **v, *p;
	struct str out = STR_INIT;
	size_t i;

	if (n < 2)
		return 0;
	if ((v = calloc(n, sizeof *v)) == NULL)
		return -1;
	for (i = 0, p = list->s; i < n; i++, p += strlen(p) + 1)
		v[i] = p;
	qsort(v, n, sizeof *v, names_cmp);
	for (i = 0; i < n; i++)
		if (str_append(&out, v[i], strlen(v[i]) + 1) < 0) {
			free(v);
			str_free(&out);
			return -1;
		}
	free(v);
	str_free(list);
	*list = out;
	return 0;
}

int
names_list_all(struct str *list_r, size_t *n_r)
{
	DIR *d;
	struct dirent *e;
	const char *why;
	struct str path = STR_INIT;
	size_t n = 0;

	str_clear(list_r);
	if ((d = opendir(".")) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		const char *nm = e->d_name + 1;

		if (e->d_name[0] != '.' || *nm == '\0' || *nm == '.' ||
		    names_path(nm, strlen(nm), &path, &why) < 0 ||
		    names_is_inbox(nm) || !maildir_exists(e->d_name))
			continue;
		if (str_append(list_r, nm, strlen(nm) + 1) < 0)
			break;
		n++;
	}
	closedir(d);
	str_free(&path);
	*n_r = n;
	return names_sort(list_r, n);
}

int
names_subs_load(struct str *list_r, size_t *n_r)
{
	struct str f = STR_INIT;
	char *p, *nl;
	size_t n = 0;

	str_clear(list_r);
	*n_r = 0;
	if (fs_read_file(IMAP_SUBS_FILE, (size_t)IMAP_SUBS_MAX *
	    (IMAP_NAME_BYTES + 1), &f) < 0) {
		str_free(&f);
		return errno == ENOENT ? 0 : -1;
	}
	for (p = f.s; p != NULL && p < f.s + f.len; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(f.s + f.len - p))) == NULL)
			nl = f.s + f.len;
		if (nl > p && n < IMAP_SUBS_MAX) {
			if (str_append(list_r, p, (size_t)(nl - p)) < 0 ||
			    str_appendc(list_r, '\0') < 0)
				break;
			n++;
		}
		if (nl == f.s + f.len)
			break;
	}
	str_free(&f);
	*n_r = n;
	return 0;
}

/* Add or remove name in the subscriptions file. */
int
names_subs_change(const char *name, int add)
{
	struct str list = STR_INIT, out = STR_INIT;
	const char *p;
	size_t n, i;
	int found = 0, r = -1;

	if (names_subs_load(&list, &n) < 0)
		goto out;
	for (i = 0, p = list.s; i < n; i++, p += strlen(p) + 1) {
		if (strcmp(p, name) == 0) {
			found = 1;
			if (!add)
				continue;
		}
		if (str_appendf(&out, "%s\n", p) < 0)
			goto out;
	}
	if (add && !found) {
		if (n >= IMAP_SUBS_MAX) {
			errno = E2BIG;
			goto out;
		}
		if (str_appendf(&out, "%s\n", name) < 0)
			goto out;
	}
	if ((add && found) || (!add && !found)) {
		r = 0;
		goto out;
	}
	r = fs_write_atomic(IMAP_SUBS_FILE, out.s ? out.s : "", out.len, 0600);
out:
	str_free(&list);
	str_free(&out);
	return r;
}

/* '*' matches anything, '%' anything without the delimiter. */
int
names_match(const char *pat, const char *name)
{
	for (; *pat != '\0'; pat++, name++) {
		if (*pat == '*' || *pat == '%') {
			const char *t;

			for (t = name;; t++) {
				if (names_match(pat + 1, t))
					return 1;
				if (*t == '\0' || (*pat == '%' && *t == '.'))
					return 0;
			}
		}
		if (*pat != *name)
			return 0;
	}
	return *name == '\0';
}

static const char *const names_special[][2] = {
	{ "Sent", "\\Sent" }, { "Drafts", "\\Drafts" },
	{ "Trash", "\\Trash" }, { "Junk", "\\Junk" },
	{ "Archive", "\\Archive" }, { NULL, NULL }
};

const char *
names_special_use(const char *name)
{
	size_t i;

	for (i = 0; names_special[i][0] != NULL; i++)
		if (strcmp(names_special[i][0], name) == 0)
			return names_special[i][1];
	return NULL;
}

void
names_first_login(void)
{
	struct str subs = STR_INIT, path = STR_INIT;
	struct stat st;
	size_t i;

	/* the subscriptions file marks a user who has logged in before */
	if (stat(IMAP_SUBS_FILE, &st) == 0 || errno != ENOENT)
		return;
	str_appends(&subs, "INBOX\n");
	for (i = 0; names_special[i][0] != NULL; i++) {
		str_clear(&path);
		str_appendf(&path, ".%s", names_special[i][0]);
		if (maildir_create(path.s, 0700) < 0)
			log_warn("creating %s: %s", path.s, strerror(errno));
		str_appendf(&subs, "%s\n", names_special[i][0]);
	}
	if (fs_fsync_dir(".") < 0 || fs_write_atomic(IMAP_SUBS_FILE,
	    subs.s, subs.len, 0600) < 0)
		log_warn("first login: %s", strerror(errno));
	str_free(&subs);
	str_free(&path);
}
