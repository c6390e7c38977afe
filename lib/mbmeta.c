/* SPDX-License-Identifier: ISC */
#include "mbmeta.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include "crc.h"
#include "endian.h"
#include "fs.h"
#include "str.h"

#define MBMETA_MAX_FILE (64 * 1024)

int
mbmeta_init(struct mbmeta *m, uint32_t uidvalidity)
{
	memset(m, 0, sizeof(*m));
	m->uidvalidity = uidvalidity;
	if (getrandom(m->guid, sizeof(m->guid), 0) != (ssize_t)sizeof(m->guid))
		return -1;
	return 0;
}

static int
mbmeta_decode(const unsigned char *b, size_t n, struct mbmeta *m)
{
	size_t pos = 36;
	unsigned i, nk;

	if (n < 40 || memcmp(b, MBMETA_MAGIC, 8) != 0 ||
	    le32_get(b + 8) != MBMETA_VERSION ||
	    le32_get(b + n - 4) != crc_buf(b, n - 4))
		return -1;
	memset(m, 0, sizeof(*m));
	m->uidvalidity = le32_get(b + 12);
	memcpy(m->guid, b + 16, 16);
	nk = le32_get(b + 32);
	if (nk > MBMETA_MAX_KEYWORDS)
		return -1;
	for (i = 0; i < nk; i++) {
		size_t len;

		if (pos >= n - 4)
			return -1;
		len = b[pos];
		if (len == 0 || pos + 1 + len > n - 4)
			return -1;
		m->keywords[i] = strndup((const char *)b + pos + 1, len);
		if (m->keywords[i] == NULL)
			return -1;
		m->nkeywords = i + 1;
		pos += 1 + len;
	}
	return pos == n - 4 ? 0 : -1;
}

int
mbmeta_read(const char *path, struct mbmeta *m)
{
	struct str buf = STR_INIT;
	int rc;

	if (fs_read_file(path, MBMETA_MAX_FILE, &buf) < 0) {
		str_free(&buf);
		return -1;
	}
	rc = mbmeta_decode((const unsigned char *)buf.s, buf.len, m);
	str_free(&buf);
	if (rc < 0) {
		mbmeta_free(m);
		errno = EBADMSG;
	}
	return rc;
}

int
mbmeta_write(const char *path, const struct mbmeta *m)
{
	struct str b = STR_INIT;
	unsigned char h[36];
	unsigned char crc[4];
	unsigned i;
	int rc = -1;

	memcpy(h, MBMETA_MAGIC, 8);
	le32_put(h + 8, MBMETA_VERSION);
	le32_put(h + 12, m->uidvalidity);
	memcpy(h + 16, m->guid, 16);
	le32_put(h + 32, m->nkeywords);
	if (str_append(&b, h, sizeof(h)) < 0)
		goto out;
	for (i = 0; i < m->nkeywords; i++) {
		size_t len = strlen(m->keywords[i]);

		if (str_appendc(&b, (char)len) < 0 ||
		    str_append(&b, m->keywords[i], len) < 0)
			goto out;
	}
	le32_put(crc, crc_buf(b.s, b.len));
	if (str_append(&b, crc, 4) < 0)
		goto out;
	rc = fs_write_atomic(path, b.s, b.len, 0600);
out:
	str_free(&b);
	return rc;
}

int
mbmeta_keyword_find(const struct mbmeta *m, const char *name)
{
	unsigned i;

	for (i = 0; i < m->nkeywords; i++)
		if (strcasecmp(m->keywords[i], name) == 0)
			return (int)i;
	return -1;
}

/* IMAP flag-keyword = atom: no specials, no controls, no 8-bit. */
static int
mbmeta_keyword_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > MBMETA_MAX_KEYWORD_LEN || s[0] == '\\')
		return 0;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= ' ' || c >= 127 || strchr("(){%*\"\\]", c) != NULL)
			return 0;
	}
	return 1;
}

int
mbmeta_keyword_add(struct mbmeta *m, const char *name)
{
	int i = mbmeta_keyword_find(m, name);

	if (i >= 0)
		return i;
	if (!mbmeta_keyword_valid(name)) {
		errno = EINVAL;
		return -1;
	}
	if (m->nkeywords >= MBMETA_MAX_KEYWORDS) {
		errno = ENOSPC;
		return -1;
	}
	m->keywords[m->nkeywords] = strdup(name);
	if (m->keywords[m->nkeywords] == NULL)
		return -1;
	return (int)m->nkeywords++;
}

void
mbmeta_free(struct mbmeta *m)
{
	unsigned i;

	for (i = 0; i < m->nkeywords; i++)
		free(m->keywords[i]);
	m->nkeywords = 0;
}
