/* SPDX-License-Identifier: ISC */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "str.h"

/* A scratch directory per test, removed afterwards. */
struct scratch {
	char dir[256];
};

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int
setup(void **state)
{
	struct scratch *s = calloc(1, sizeof *s);
	const char *tmp = getenv("TMPDIR");

	if (s == NULL)
		return -1;
	snprintf(s->dir, sizeof s->dir, "%s/test-fs.XXXXXX",
	    tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(s->dir) == NULL)
		return -1;
	*state = s;
	return 0;
}

static int
teardown(void **state)
{
	struct scratch *s = *state;

	nftw(s->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(s);
	return 0;
}

/* s->dir + "/" + rel into a str the caller frees. */
static char *
path(struct scratch *s, const char *rel)
{
	struct str p = STR_INIT;

	assert_int_equal(str_appendf(&p, "%s/%s", s->dir, rel), 0);
	return str_steal(&p);
}

static int
count_entries(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void
test_mkdir_p(void **state)
{
	struct scratch *s = *state;
	char *deep = path(s, "a/b//c/d"), *file = path(s, "f"),
	    *under = path(s, "f/x");
	struct stat st;

	assert_int_equal(fs_mkdir_p(deep, 0750), 0);
	assert_int_equal(stat(deep, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0750);
	/* existing directories are fine */
	assert_int_equal(fs_mkdir_p(deep, 0700), 0);
	assert_int_equal(fs_mkdir_p(s->dir, 0700), 0);
	/* a file in the way */
	assert_int_equal(fs_write_atomic(file, "x", 1, 0644), 0);
	assert_int_equal(fs_mkdir_p(file, 0755), -1);
	assert_int_equal(errno, ENOTDIR);
	assert_int_equal(fs_mkdir_p(under, 0755), -1);
	assert_int_equal(errno, ENOTDIR);
	assert_int_equal(fs_mkdir_p("", 0755), -1);
	assert_int_equal(errno, ENOENT);
	free(deep);
	free(file);
	free(under);
}

static void
test_dirname(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "a/b", "a" }, { "a", "." }, { "/a", "/" }, { "a//b", "a" },
		{ "/x/y/z.cdb", "/x/y" }, { "//a", "/" }, { "", "." },
	};
	struct str d = STR_INIT;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_int_equal(fs_dirname(cases[i].in, &d), 0);
		assert_string_equal(d.s, cases[i].out);
	}
	str_free(&d);
}

static void
test_write_atomic(void **state)
{
	struct scratch *s = *state;
	char *p = path(s, "file"), *bad = path(s, "nodir/file");
	struct str got = STR_INIT;
	struct stat st;

	assert_int_equal(fs_write_atomic(p, "hello\n", 6, 0640), 0);
	assert_int_equal(fs_read_file(p, 100, &got), 0);
	assert_string_equal(got.s, "hello\n");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	/* replacing: new content, new mode, no temporary left */
	assert_int_equal(fs_write_atomic(p, "bye", 3, 0600), 0);
	str_clear(&got);
	assert_int_equal(fs_read_file(p, 100, &got), 0);
	assert_string_equal(got.s, "bye");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(count_entries(s->dir), 1);
	/* empty content */
	assert_int_equal(fs_write_atomic(p, "", 0, 0600), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, 0);
	assert_int_equal(fs_write_atomic(bad, "x", 1, 0600), -1);
	assert_int_equal(errno, ENOENT);
	str_free(&got);
	free(p);
	free(bad);
}

static void
test_read_file(void **state)
{
	struct scratch *s = *state;
	char *p = path(s, "r"), *missing = path(s, "missing");
	struct str got = STR_INIT;

	assert_int_equal(fs_write_atomic(p, "0123456789", 10, 0600), 0);
	assert_int_equal(str_appends(&got, "pre:"), 0);
	assert_int_equal(fs_read_file(p, 10, &got), 0);
	assert_string_equal(got.s, "pre:0123456789");
	/* over the maximum: EFBIG, buffer restored */
	assert_int_equal(fs_read_file(p, 9, &got), -1);
	assert_int_equal(errno, EFBIG);
	assert_string_equal(got.s, "pre:0123456789");
	assert_int_equal(fs_read_file(missing, 10, &got), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(fs_read_file(s->dir, 10, &got), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(got.len, 14);
	str_free(&got);
	free(p);
	free(missing);
}

static void
test_dir_is_empty(void **state)
{
	struct scratch *s = *state;
	char *p = path(s, "f"), *missing = path(s, "none");

	assert_int_equal(fs_dir_is_empty(s->dir), 1);
	assert_int_equal(fs_write_atomic(p, "x", 1, 0600), 0);
	assert_int_equal(fs_dir_is_empty(s->dir), 0);
	assert_int_equal(fs_dir_is_empty(missing), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(fs_dir_is_empty(p), -1);
	assert_int_equal(errno, ENOTDIR);
	free(p);
	free(missing);
}

static void
test_tmp(void **state)
{
	struct scratch *s = *state;
	char *p = path(s, "t");
	struct str tmp = STR_INIT, got = STR_INIT;
	struct stat st;
	int fd;

	fd = fs_tmp_create(p, 0604, &tmp);
	assert_true(fd >= 0);
	assert_int_equal(strncmp(tmp.s, p, strlen(p)), 0);
	assert_non_null(strstr(tmp.s, ".tmp."));
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0604);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	fs_tmp_abort(fd, tmp.s);
	assert_int_equal(count_entries(s->dir), 0);

	fd = fs_tmp_create(p, 0600, &tmp);
	assert_true(fd >= 0);
	assert_int_equal(fs_write_all(fd, "abc", 3), 0);
	assert_int_equal(fs_tmp_commit(fd, tmp.s, p), 0);
	assert_int_equal(fs_read_file(p, 10, &got), 0);
	assert_string_equal(got.s, "abc");
	assert_int_equal(count_entries(s->dir), 1);
	str_free(&tmp);
	str_free(&got);
	free(p);
}

static void
test_fsync(void **state)
{
	struct scratch *s = *state;
	char *p = path(s, "f");

	assert_int_equal(fs_fsync_dir(s->dir), 0);
	assert_int_equal(fs_write_atomic(p, "x", 1, 0600), 0);
	assert_int_equal(fs_fsync_dir(p), -1);
	assert_int_equal(errno, ENOTDIR);
	assert_int_equal(fs_fsync_parent(p), 0);
	assert_int_equal(fs_fsync_dir("/nonexistent-zest-dir"), -1);
	assert_int_equal(errno, ENOENT);
	free(p);
}

static void
test_write_all(void **state)
{
	char buf[100000], back[100000];
	size_t got = 0;
	ssize_t n;
	int fds[2];
	pid_t pid;

	memset(buf, 'z', sizeof buf);
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		_exit(fs_write_all(fds[1], buf, sizeof buf) == 0 ? 0 : 1);
	}
	close(fds[1]);
	while ((n = read(fds[0], back + got, sizeof back - got)) > 0)
		got += (size_t)n;
	close(fds[0]);
	assert_int_equal(got, sizeof buf);
	assert_memory_equal(buf, back, sizeof buf);
	assert_int_equal(fs_write_all(-1, "x", 1), -1);
	assert_int_equal(errno, EBADF);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_mkdir_p, setup, teardown),
		cmocka_unit_test(test_dirname),
		cmocka_unit_test_setup_teardown(test_write_atomic, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_read_file, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_dir_is_empty, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tmp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fsync, setup, teardown),
		cmocka_unit_test(test_write_all),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
