/* SPDX-License-Identifier: ISC */
#include "priv.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <unistd.h>

#define PRIV_PWBUF_MAX (1024 * 1024)

int
priv_lookup(const char *user, uid_t *uid_r, gid_t *gid_r)
{
	struct passwd pw, *res = NULL;
	long hint = sysconf(_SC_GETPW_R_SIZE_MAX);
	size_t size = hint > 0 && hint < PRIV_PWBUF_MAX ? (size_t)hint : 1024;
	char *buf;
	int rc;

	if (user == NULL || *user == '\0') {
		errno = EINVAL;
		return -1;
	}
	for (;;) {
		if ((buf = malloc(size)) == NULL)
			return -1;
		rc = getpwnam_r(user, &pw, buf, size, &res);
		if (rc != ERANGE || size >= PRIV_PWBUF_MAX)
			break;
		free(buf);
		size *= 2;
	}
	if (res != NULL) {
		*uid_r = pw.pw_uid;
		*gid_r = pw.pw_gid;
	}
	free(buf);
	if (res != NULL)
		return 0;
	/* Some systems report "no such user" as an error code. */
	errno = rc == 0 || rc == ENOENT || rc == ESRCH ? ENOENT : rc;
	return -1;
}

/* Check that the drop to uid/gid took and cannot be undone. */
static int
priv_verify(uid_t uid, gid_t gid, int set_groups)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg, groups[2];
	int n;

	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
		return -1;
	if (ru != uid || eu != uid || su != uid ||
	    rg != gid || eg != gid || sg != gid)
		goto fail;
	if (set_groups) {
		n = getgroups(2, groups);
		if (n != 1 || groups[0] != gid)
			goto fail;
	}
	if (uid != 0 && setuid(0) == 0)
		goto fail;
	if (uid != 0 && gid != 0 && setgid(0) == 0)
		goto fail;
	return 0;
fail:
	errno = EPERM;
	return -1;
}

int
priv_drop(uid_t uid, gid_t gid, const char *chroot_dir)
{
	int root = geteuid() == 0;

	if (chroot_dir != NULL) {
		if (chroot(chroot_dir) < 0 || chdir("/") < 0)
			return -1;
	}
	if (root && setgroups(1, &gid) < 0)
		return -1;
	if (setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		return -1;
	return priv_verify(uid, gid, root);
}
