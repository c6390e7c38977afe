/* SPDX-License-Identifier: ISC */
/*
 * The system users of a root-run instance: look them up, create them with
 * the system's useradd(8) (which knows the local uid ranges and the shadow
 * files, so zest does not write /etc/passwd itself), hand paths to them.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zest.h"

#define SYSUSER_PWBUF 16384
#define SYSUSER_USERADD "/usr/sbin/useradd"

int
zest_sysuser(const char *name, uid_t *uid_r, gid_t *gid_r, struct str *err)
{
	struct passwd pw, *res = NULL;
	char *buf;
	int e;

	if ((buf = malloc(SYSUSER_PWBUF)) == NULL) {
		str_appendf(err, "out of memory");
		return -1;
	}
	e = getpwnam_r(name, &pw, buf, SYSUSER_PWBUF, &res);
	if (res != NULL) {
		*uid_r = pw.pw_uid;
		*gid_r = pw.pw_gid;
	}
	free(buf);
	if (res != NULL)
		return 1;
	if (e == 0 || e == ENOENT || e == ESRCH)
		return 0;
	str_appendf(err, "getpwnam %s: %s", name, strerror(e));
	return -1;
}

/* Whether a group called name exists. */
static int
sysuser_group_exists(const char *name)
{
	struct group gr, *res = NULL;
	char *buf;

	if ((buf = malloc(SYSUSER_PWBUF)) == NULL)
		return 0;
	getgrnam_r(name, &gr, buf, SYSUSER_PWBUF, &res);
	free(buf);
	return res != NULL;
}

/* Run useradd for name and wait for it. */
static int
sysuser_useradd(const char *name, struct str *err)
{
	char *argv[16];
	int n = 0;
	pid_t pid;
	int st;

	argv[n++] = "useradd";
	argv[n++] = "--system";
	argv[n++] = "--no-create-home";
	argv[n++] = "--home-dir";
	argv[n++] = "/nonexistent";
	argv[n++] = "--shell";
	argv[n++] = "/usr/sbin/nologin";
	argv[n++] = "--comment";
	argv[n++] = "Zest mail system";
	if (sysuser_group_exists(name)) {
		argv[n++] = "--gid";
		argv[n++] = (char *)name;
	} else
		argv[n++] = "--user-group";
	argv[n++] = (char *)name;
	argv[n] = NULL;
	if ((pid = fork()) < 0) {
		str_appendf(err, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		execv(SYSUSER_USERADD, argv);
		execvp("useradd", argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR) {
			str_appendf(err, "waitpid: %s", strerror(errno));
			return -1;
		}
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		str_appendf(err, "useradd %s failed (status %d)", name,
		    WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		return -1;
	}
	return 0;
}

int
zest_sysuser_ensure(const char *name, struct str *err)
{
	uid_t uid;
	gid_t gid;
	int r;

	if ((r = zest_sysuser(name, &uid, &gid, err)) != 0)
		return r < 0 ? -1 : 0;
	if (sysuser_useradd(name, err) < 0)
		return -1;
	if (zest_sysuser(name, &uid, &gid, err) != 1) {
		if (err->len == 0)
			str_appendf(err, "user %s still missing after useradd",
			    name);
		return -1;
	}
	return 0;
}

int
zest_chown_to(const char *path, const char *name, mode_t mode,
    struct str *err)
{
	uid_t uid;
	gid_t gid;
	int r;

	if ((r = zest_sysuser(name, &uid, &gid, err)) <= 0) {
		if (r == 0)
			str_appendf(err, "no such user %s", name);
		return -1;
	}
	if (chown(path, uid, gid) < 0 || chmod(path, mode) < 0) {
		str_appendf(err, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}
