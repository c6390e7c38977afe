/* SPDX-License-Identifier: ISC */
/*
 * spawner: the message of a queue entry, opened for a child (deliver,
 * remote).  A V2 entry is one file, env/<id>: its first line says where
 * the message starts after the envelope, and the child gets the file
 * positioned there (it reads from its offset).  A V1 entry, left by an
 * older queue-inject, has its message in msg/<id>.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qenv.h"
#include "spawner.h"

int
spawner_msg_open(struct spawner *sp, const char *id)
{
	char head[QENV_FILE_HEAD_MAX];
	unsigned long long off = 0;
	struct stat st;
	ssize_t n;
	int fd, v, saved;

	if ((fd = spawner_open_entry(sp, &sp->envdir, &sp->envpath, id,
	    &st)) < 0)
		return -1;
	do
		n = pread(fd, head, sizeof head, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		goto fail;
	v = qenv_file_head(head, (size_t)n, &off);
	if (v == 1) {
		close(fd);
		return spawner_open_entry(sp, &sp->msgdir, &sp->msgpath, id,
		    &st);
	}
	if (v != 2 || off > (unsigned long long)st.st_size) {
		errno = EINVAL;
		goto fail;
	}
	if (lseek(fd, (off_t)off, SEEK_SET) < 0)
		goto fail;
	return fd;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}
