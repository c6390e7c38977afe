/* SPDX-License-Identifier: ISC */
#ifndef ZEST_PRIV_H
#define ZEST_PRIV_H

/*
 * priv: the one privilege-drop prologue of every Zest program.
 *
 *	if (priv_lookup(user, &uid, &gid) < 0 ||
 *	    priv_drop(uid, gid, chroot_dir) < 0)
 *		exit (the process may be half-dropped: never go on)
 */

#include <sys/types.h>

/* Look up user in the password database.  Returns 0 with its uid and
 * primary gid, or -1 with errno ENOENT when there is no such user (or
 * another error of getpwnam_r). */
int priv_lookup(const char *user, uid_t *uid_r, gid_t *gid_r);

/*
 * Become uid/gid for good: chroot(chroot_dir) and chdir("/") when chroot_dir
 * is not NULL; setgroups(1, &gid) when running as root; setresgid and
 * setresuid to the new ids.  Then verify that real, effective and saved ids
 * all took, that the groups are exactly { gid } when root set them, and,
 * when uid is not 0, that setuid(0) now fails.  Without root it succeeds
 * only when the process already runs as exactly uid/gid (its supplementary
 * groups are then left alone).  Returns 0, or -1 with errno (EPERM when the
 * verification failed); after -1 the caller must exit.
 */
int priv_drop(uid_t uid, gid_t gid, const char *chroot_dir);

#endif
