/* SPDX-License-Identifier: ISC */
#include "fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Make one directory; an existing directory is fine. */
static int
fs_mkdir1(const char *path, mode_t mode)
{
	struct stat st;

	if (mkdir(path, mode) == 0)
		return 0;
	if (errno != EEXIST)
		return -1;
	if (stat(path, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

int
fs_mkdir_p(const char *path, mode_t mode)
{
	struct str p = STR_INIT;
	size_t i;
	int r = 0;

	if (*path == '\0') {
		errno = ENOENT;
		return -1;
	}
	if (str_appends(&p, path) < 0)
		return -1;
	for (i = 1; i < p.len && r == 0; i++) {
		if (p.s[i] != '/' || p.s[i - 1] == '/')
			continue;
		p.s[i] = '\0';
		r = fs_mkdir1(p.s, mode);
		p.s[i] = '/';
	}
	if (r == 0)
		r = fs_mkdir1(p.s, mode);
	str_free(&p);
	return r;
}

int
fs_fsync_dir(const char *path)
{
	int fd, r, saved;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	r = fsync(fd);
	saved = errno;
	close(fd);
	errno = saved;
	return r;
}

int
fs_dirname(const char *path, struct str *dir_r)
{
	const char *slash = strrchr(path, '/');
	size_t n;

	str_clear(dir_r);
	if (slash == NULL)
		return str_appends(dir_r, ".");
	n = (size_t)(slash - path);
	while (n > 0 && path[n - 1] == '/')
		n--;
	if (n == 0)
		return str_appends(dir_r, "/");
	return str_append(dir_r, path, n);
}

int
fs_fsync_parent(const char *path)
{
	struct str dir = STR_INIT;
	int r, saved;

	if (fs_dirname(path, &dir) < 0)
		return -1;
	r = fs_fsync_dir(dir.s);
	saved = errno;
	str_free(&dir);
	errno = saved;
	return r;
}

int
fs_tmp_create(const char *path, mode_t mode, struct str *tmp_r)
{
	int fd, saved;

	str_clear(tmp_r);
	if (str_appendf(tmp_r, "%s.tmp.XXXXXX", path) < 0)
		return -1;
	/* mkostemp picks an unused name with O_EXCL and a random suffix. */
	fd = mkostemp(tmp_r->s, O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fchmod(fd, mode) < 0) {
		saved = errno;
		fs_tmp_abort(fd, tmp_r->s);
		errno = saved;
		return -1;
	}
	return fd;
}

void
fs_tmp_abort(int fd, const char *tmp)
{
	int saved = errno;

	if (fd >= 0)
		close(fd);
	unlink(tmp);
	errno = saved;
}

int
fs_tmp_commit(int fd, const char *tmp, const char *path)
{
	if (fsync(fd) < 0) {
		fs_tmp_abort(fd, tmp);
		return -1;
	}
	if (close(fd) < 0) {
		fs_tmp_abort(-1, tmp);
		return -1;
	}
	if (rename(tmp, path) < 0) {
		fs_tmp_abort(-1, tmp);
		return -1;
	}
	return fs_fsync_parent(path);
}

int
fs_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	struct str tmp = STR_INIT;
	int fd, r = -1, saved;

	fd = fs_tmp_create(path, mode, &tmp);
	if (fd < 0)
		goto out;
	if (fs_write_all(fd, data, len) < 0) {
		fs_tmp_abort(fd, tmp.s);
		goto out;
	}
	r = fs_tmp_commit(fd, tmp.s, path);
out:
	saved = errno;
	str_free(&tmp);
	errno = saved;
	return r;
}

/* Read from fd to end of file into out, failing past max bytes. */
static int
fs_read_fd(int fd, size_t max, struct str *out)
{
	size_t start = out->len;
	char buf[8192];
	ssize_t n;

	for (;;) {
		n = read(fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		if ((size_t)n > max - (out->len - start)) {
			errno = EFBIG;
			return -1;
		}
		if (str_append(out, buf, (size_t)n) < 0)
			return -1;
	}
}

int
fs_read_file(const char *path, size_t max, struct str *out_r)
{
	size_t start = out_r->len;
	struct stat st;
	int fd, r = -1, saved;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		goto out;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		goto out;
	}
	if ((unsigned long long)st.st_size > max) {
		errno = EFBIG;
		goto out;
	}
	r = fs_read_fd(fd, max, out_r);
out:
	saved = errno;
	if (r < 0)
		str_truncate(out_r, start);
	close(fd);
	errno = saved;
	return r;
}

int
fs_dir_is_empty(const char *path)
{
	struct dirent *de;
	DIR *d;
	int r = 1, saved;

	d = opendir(path);
	if (d == NULL)
		return -1;
	errno = 0;
	while (r == 1 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			r = 0;
	}
	if (r == 1 && errno != 0)
		r = -1;
	saved = errno;
	closedir(d);
	errno = saved;
	return r;
}
