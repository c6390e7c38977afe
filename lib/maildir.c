/* SPDX-License-Identifier: ISC */
#include "maildir.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

static const struct {
	char letter;
	unsigned flag;
} maildir_letters[] = {
	{ 'D', MAIL_DRAFT },
	{ 'F', MAIL_FLAGGED },
	{ 'P', MAIL_PASSED },
	{ 'R', MAIL_ANSWERED },
	{ 'S', MAIL_SEEN },
	{ 'T', MAIL_DELETED },
};

static int
maildir_field_num(const char *p, size_t n, uint64_t *v_r)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0 || n > 19)
		return -1;
	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	*v_r = v;
	return 0;
}

/* Pick ,S= ,W= ,U= out of BASE. */
static void
maildir_base_fields(const char *name, struct maildir_name *mn)
{
	const char *p = memchr(name, ',', mn->base_len);
	const char *end = name + mn->base_len;
	uint64_t v;

	while (p != NULL && p < end) {
		const char *f = p + 1;
		const char *q = memchr(f, ',', (size_t)(end - f));
		size_t n = (size_t)((q ? q : end) - f);

		if (n > 2 && f[1] == '=' &&
		    maildir_field_num(f + 2, n - 2, &v) == 0) {
			if (f[0] == 'S') {
				mn->s_size = v;
				mn->has_s = 1;
			} else if (f[0] == 'W') {
				mn->w_size = v;
				mn->has_w = 1;
			} else if (f[0] == 'U' && v > 0 && v <= UINT32_MAX) {
				mn->uid = (uint32_t)v;
				mn->has_uid = 1;
			}
		}
		p = q;
	}
}

int
maildir_name_parse(const char *name, struct maildir_name *mn_r)
{
	const char *colon;
	size_t len = strlen(name);

	memset(mn_r, 0, sizeof(*mn_r));
	if (len == 0 || name[0] == '.' || memchr(name, '/', len) != NULL) {
		errno = EINVAL;
		return -1;
	}
	colon = strchr(name, ':');
	mn_r->base_len = colon ? (size_t)(colon - name) : len;
	if (mn_r->base_len == 0) {
		errno = EINVAL;
		return -1;
	}
	if (colon != NULL && colon[1] == '2' && colon[2] == ',') {
		mn_r->has_info = 1;
		mn_r->info_off = (size_t)(colon - name) + 3;
	}
	maildir_base_fields(name, mn_r);
	return 0;
}

unsigned
maildir_name_flags(const char *name, const struct maildir_name *mn)
{
	unsigned flags = 0;
	const char *p;
	size_t i;

	if (!mn->has_info)
		return 0;
	for (p = name + mn->info_off; *p != '\0'; p++)
		for (i = 0; i < sizeof(maildir_letters) / sizeof(maildir_letters[0]); i++)
			if (*p == maildir_letters[i].letter)
				flags |= maildir_letters[i].flag;
	return flags;
}

int
maildir_base_new(struct str *out, const char *host, unsigned counter,
    uint64_t disk_size, uint64_t wire_size, uint32_t uid)
{
	struct timeval tv;
	const char *h;

	gettimeofday(&tv, NULL);
	str_clear(out);
	if (str_appendf(out, "%lld.M%06ldP%ldQ%u.", (long long)tv.tv_sec,
	    (long)tv.tv_usec, (long)getpid(), counter) < 0)
		return -1;
	for (h = host; *h != '\0'; h++) {
		int r;

		if (*h == '/')
			r = str_appends(out, "\\057");
		else if (*h == ':')
			r = str_appends(out, "\\072");
		else if (*h == ',')
			r = str_appends(out, "\\054");
		else
			r = str_appendc(out, *h);
		if (r < 0)
			return -1;
	}
	if (str_appendf(out, ",S=%" PRIu64 ",W=%" PRIu64, disk_size,
	    wire_size) < 0)
		return -1;
	if (uid != 0 && str_appendf(out, ",U=%" PRIu32, uid) < 0)
		return -1;
	return 0;
}

int
maildir_name_with_flags(struct str *out, const char *base, size_t base_len,
    unsigned flags, const char *old_info)
{
	char letters[64];
	size_t n = 0, i;
	const char *p;

	for (i = 0; i < sizeof(maildir_letters) / sizeof(maildir_letters[0]); i++)
		if (flags & maildir_letters[i].flag)
			letters[n++] = maildir_letters[i].letter;
	/* Keep letters other tools set (e.g. lowercase keyword letters). */
	for (p = old_info; p != NULL && *p != '\0' && n < sizeof(letters); p++) {
		int known = 0;

		for (i = 0; i < sizeof(maildir_letters) / sizeof(maildir_letters[0]); i++)
			if (*p == maildir_letters[i].letter)
				known = 1;
		if (!known && *p > ' ' && *p < 127 && *p != '/' &&
		    memchr(letters, *p, n) == NULL)
			letters[n++] = *p;
	}
	/* ASCII order, as the Maildir convention asks. */
	for (i = 1; i < n; i++) {
		char c = letters[i];
		size_t j = i;

		for (; j > 0 && letters[j - 1] > c; j--)
			letters[j] = letters[j - 1];
		letters[j] = c;
	}
	if (str_append(out, base, base_len) < 0 ||
	    str_appends(out, ":2,") < 0 || str_append(out, letters, n) < 0)
		return -1;
	return 0;
}

int
maildir_create(const char *path, mode_t mode)
{
	static const char *const sub[] = { "tmp", "new", "cur" };
	struct str p = STR_INIT;
	size_t i;
	int rc = 0;

	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return -1;
	for (i = 0; i < 3 && rc == 0; i++) {
		str_clear(&p);
		if (str_appendf(&p, "%s/%s", path, sub[i]) < 0)
			rc = -1;
		else if (mkdir(p.s, mode) < 0 && errno != EEXIST)
			rc = -1;
	}
	str_free(&p);
	return rc;
}

int
maildir_exists(const char *path)
{
	static const char *const sub[] = { "tmp", "new", "cur" };
	struct str p = STR_INIT;
	struct stat st;
	size_t i;
	int ok = 1;

	for (i = 0; i < 3 && ok; i++) {
		str_clear(&p);
		if (str_appendf(&p, "%s/%s", path, sub[i]) < 0 ||
		    stat(p.s, &st) < 0 || !S_ISDIR(st.st_mode))
			ok = 0;
	}
	str_free(&p);
	return ok;
}
