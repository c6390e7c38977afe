/* SPDX-License-Identifier: ISC */
#include "tomb.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc.h"
#include "endian.h"

static int
tomb_header_ok(const unsigned char *b, uint32_t uidvalidity)
{
	return memcmp(b, TOMB_MAGIC, 8) == 0 && le32_get(b + 8) == uidvalidity &&
	    le32_get(b + 12) == crc_buf(b, 12);
}

static void
tomb_header(unsigned char *b, uint32_t uidvalidity)
{
	memcpy(b, TOMB_MAGIC, 8);
	le32_put(b + 8, uidvalidity);
	le32_put(b + 12, crc_buf(b, 12));
}

static void
tomb_encode(unsigned char *b, const struct tomb *t)
{
	le32_put(b, t->uid);
	le64_put(b + 8, t->modseq);
	le32_put(b + 4, crc_update(crc_buf(b, 4), b + 8, 8));
}

int
tomb_append(const char *path, uint32_t uidvalidity, const struct tomb *t,
    size_t n)
{
	unsigned char b[16 * 64];
	struct stat st;
	off_t off;
	size_t i = 0;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		goto fail;
	if (st.st_size < 16 || pread(fd, b, 16, 0) != 16 ||
	    !tomb_header_ok(b, uidvalidity)) {
		tomb_header(b, uidvalidity);
		if (ftruncate(fd, 0) < 0 || pwrite(fd, b, 16, 0) != 16)
			goto fail;
		st.st_size = 16;
	}
	off = st.st_size - (st.st_size % 16);
	while (i < n) {
		size_t k = 0;

		for (; k < 64 && i + k < n; k++)
			tomb_encode(b + 16 * k, &t[i + k]);
		if (pwrite(fd, b, 16 * k, off) != (ssize_t)(16 * k))
			goto fail;
		off += (off_t)(16 * k);
		i += k;
	}
	close(fd);
	return 0;
fail:
	close(fd);
	return -1;
}

int
tomb_scan(const char *path, uint32_t uidvalidity, uint64_t since,
    int (*fn)(const struct tomb *t, void *arg), void *arg)
{
	unsigned char b[16 * 256];
	off_t off = 16;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (pread(fd, b, 16, 0) != 16 || !tomb_header_ok(b, uidvalidity)) {
		close(fd);
		errno = EBADMSG;
		return -1;
	}
	for (;;) {
		ssize_t n = pread(fd, b, sizeof(b), off);
		ssize_t i;

		if (n <= 0)
			break;
		for (i = 0; i + 16 <= n; i += 16) {
			struct tomb t;

			if (le32_get(b + i + 4) !=
			    crc_update(crc_buf(b + i, 4), b + i + 8, 8)) {
				close(fd);
				return 0;
			}
			t.uid = le32_get(b + i);
			t.modseq = le64_get(b + i + 8);
			if (t.modseq > since && fn(&t, arg) != 0) {
				close(fd);
				return 0;
			}
		}
		off += n - (n % 16);
		if (n % 16 != 0 || n < (ssize_t)sizeof(b))
			break;
	}
	close(fd);
	return 0;
}
