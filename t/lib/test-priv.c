/* SPDX-License-Identifier: ISC */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "priv.h"

/*
 * Drops are irreversible, so they run in a forked child, which reports the
 * number of the first failed check as its exit status (0: all passed).
 */
struct drop_arg {
	uid_t uid;
	gid_t gid;
	const char *dir;
};

static int
run_child(int (*fn)(const struct drop_arg *), const struct drop_arg *a)
{
	pid_t pid;
	int st;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn(a));
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st))
		return 200;
	return WEXITSTATUS(st);
}

static void
nobody_ids(uid_t *uid, gid_t *gid)
{
	struct passwd *pw = getpwnam("nobody");

	if (pw == NULL)
		skip();
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
}

static const struct lookup_case {
	const char *user;
	int rc;
	int err;
} lookup_cases[] = {
	{ "root", 0, 0 },
	{ "nobody", 0, 0 },
	{ "zest-no-such-user-7q", -1, ENOENT },
	{ "", -1, EINVAL },
	{ NULL, -1, EINVAL },
};

static void
test_lookup_table(void **state)
{
	const struct lookup_case *c;
	struct passwd *pw;
	uid_t uid;
	gid_t gid;
	size_t i;

	for (i = 0; i < sizeof(lookup_cases) / sizeof(lookup_cases[0]); i++) {
		c = &lookup_cases[i];
		uid = (uid_t)-2;
		gid = (gid_t)-2;
		errno = 0;
		if (priv_lookup(c->user, &uid, &gid) != c->rc ||
		    (c->rc < 0 && errno != c->err))
			fail_msg("lookup %s: errno %d", c->user ? c->user :
			    "(null)", errno);
		if (c->rc < 0)
			continue;
		pw = getpwnam(c->user);
		assert_non_null(pw);
		assert_int_equal(uid, pw->pw_uid);
		assert_int_equal(gid, pw->pw_gid);
	}
}

/* Dropping to the ids already held succeeds (root or not). */
static int
child_own_ids(const struct drop_arg *a)
{
	gid_t groups[2];
	uid_t uid = getuid();
	gid_t gid = getgid();

	if (priv_drop(uid, gid, NULL) < 0)
		return 1;
	if (getuid() != uid || geteuid() != uid || getgid() != gid ||
	    getegid() != gid)
		return 2;
	if (uid == 0 && (getgroups(2, groups) != 1 || groups[0] != gid))
		return 3;
	return 0;
}

static void
test_drop_own_ids(void **state)
{
	assert_int_equal(run_child(child_own_ids, NULL), 0);
}

/* Once dropped, the ids hold, root is out of reach, and further drops to
 * other ids fail with EPERM while a drop to the same ids still works. */
static int
child_drop(const struct drop_arg *a)
{
	gid_t groups[4];
	uid_t ru, eu, su;

	if (priv_drop(a->uid, a->gid, a->dir) < 0)
		return 1;
	if (getuid() != a->uid || geteuid() != a->uid)
		return 2;
	if (getgid() != a->gid || getegid() != a->gid)
		return 3;
	if (getgroups(4, groups) != 1 || groups[0] != a->gid)
		return 4;
	if (getresuid(&ru, &eu, &su) < 0 || su != a->uid)
		return 5;
	if (setuid(0) == 0 || seteuid(0) == 0)
		return 6;
	errno = 0;
	if (priv_drop(0, 0, NULL) != -1 || errno != EPERM)
		return 7;
	errno = 0;
	if (priv_drop(a->uid + 1, a->gid, NULL) != -1 || errno != EPERM)
		return 8;
	if (priv_drop(a->uid, a->gid, NULL) < 0)
		return 9;
	return 0;
}

static void
test_drop_to_nobody(void **state)
{
	struct drop_arg a = { 0, 0, NULL };

	if (geteuid() != 0)
		skip();
	nobody_ids(&a.uid, &a.gid);
	assert_int_equal(run_child(child_drop, &a), 0);
}

/* Without root, a drop to another uid fails with EPERM. */
static int
child_unprivileged(const struct drop_arg *a)
{
	errno = 0;
	if (priv_drop(getuid() + 1, getgid(), NULL) != -1 || errno != EPERM)
		return 1;
	errno = 0;
	if (priv_drop(getuid(), getgid(), "/") != -1)
		return 2;	/* chroot needs root */
	return 0;
}

static void
test_drop_unprivileged(void **state)
{
	if (geteuid() == 0)
		skip();	/* covered by test_drop_to_nobody's child */
	assert_int_equal(run_child(child_unprivileged, NULL), 0);
}

static int
child_bad_chroot(const struct drop_arg *a)
{
	errno = 0;
	if (priv_drop(a->uid, a->gid, a->dir) != -1)
		return 1;
	if (errno != ENOENT)
		return 2;
	if (getuid() != 0)
		return 3;	/* nothing else happened */
	return 0;
}

static void
test_drop_bad_chroot(void **state)
{
	struct drop_arg a = { 0, 0, "/nonexistent/zest-priv-test" };

	if (geteuid() != 0)
		skip();
	nobody_ids(&a.uid, &a.gid);
	assert_int_equal(run_child(child_bad_chroot, &a), 0);
}

/* Inside the chroot only the directory's contents are visible. */
static int
child_chroot(const struct drop_arg *a)
{
	char cwd[16];
	int rc;

	if ((rc = child_drop(a)) != 0)
		return rc;
	if (getcwd(cwd, sizeof(cwd)) == NULL || strcmp(cwd, "/") != 0)
		return 20;
	if (access("/marker", F_OK) < 0)
		return 21;
	if (access("/etc/passwd", F_OK) == 0 || errno != ENOENT)
		return 22;
	return 0;
}

static void
test_drop_chroot(void **state)
{
	char dir[] = "/tmp/zest-priv-XXXXXX", marker[64];
	struct drop_arg a = { 0, 0, dir };
	int fd, rc;

	if (geteuid() != 0)
		skip();
	nobody_ids(&a.uid, &a.gid);
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chmod(dir, 0755), 0);
	snprintf(marker, sizeof(marker), "%s/marker", dir);
	fd = open(marker, O_WRONLY | O_CREAT | O_EXCL, 0644);
	assert_true(fd >= 0);
	close(fd);
	rc = run_child(child_chroot, &a);
	unlink(marker);
	rmdir(dir);
	assert_int_equal(rc, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup_table),
		cmocka_unit_test(test_drop_own_ids),
		cmocka_unit_test(test_drop_to_nobody),
		cmocka_unit_test(test_drop_unprivileged),
		cmocka_unit_test(test_drop_bad_chroot),
		cmocka_unit_test(test_drop_chroot),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
