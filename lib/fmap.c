/* SPDX-License-Identifier: ISC */
#include "fmap.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int
fmap_ensure(struct fmap *m, int fd, size_t need, int short_errno)
{
	struct stat st;
	void *p;

	if (need <= m->len)
		return 0;
	if (fstat(fd, &st) < 0)
		return -1;
	if ((size_t)st.st_size < need) {
		errno = short_errno;
		return -1;
	}
	fmap_free(m);
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -1;
	m->p = p;
	m->len = (size_t)st.st_size;
	return 0;
}

void
fmap_free(struct fmap *m)
{
	if (m->p != NULL)
		munmap(m->p, m->len);
	m->p = NULL;
	m->len = 0;
}

int
fmap_pwrite_all(int fd, const void *p, size_t n, off_t off)
{
	const unsigned char *b = p;

	while (n > 0) {
		ssize_t w = pwrite(fd, b, n, off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		b += w;
		n -= (size_t)w;
		off += w;
	}
	return 0;
}
