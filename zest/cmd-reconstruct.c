/* SPDX-License-Identifier: ISC */
/*
 * zest reconstruct: rebuild the index files of mailboxes from their Maildirs
 * (lib/mailbox's mailbox_reconstruct), keeping recorded UIDs.
 *   zest [-C DIR] reconstruct USER...    every mailbox (INBOX and the
 *                                        Maildir++ folders) of each user
 *   zest [-C DIR] reconstruct -p MAILDIR one Maildir by path
 * Run as root, the work for a user is done in a child that has become that
 * user, so rebuilt files belong to their owner.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mailbox.h"
#include "maildir.h"
#include "priv.h"
#include "users.h"
#include "zest.h"

static int
rebuild_one(const char *path, unsigned lock_timeout)
{
	struct mailbox_rebuild_stats st;
	struct str err = STR_INIT;
	struct timespec t0, t1;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = mailbox_reconstruct(path, lock_timeout, &st, &err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc < 0)
		zest_err("reconstruct %s: %s", path, err.s);
	else
		printf("%s: %u messages, %u UIDs kept, %u new, "
		    "UIDVALIDITY %u, %.3f s\n", path, st.messages,
		    st.kept_uids, st.new_uids, st.uidvalidity,
		    (double)(t1.tv_sec - t0.tv_sec) +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	str_free(&err);
	return rc < 0 ? ZEST_FAIL : ZEST_OK;
}

/* INBOX and every ".Folder" Maildir below the user's root. */
static int
rebuild_user_tree(const char *root, unsigned lock_timeout)
{
	struct str p = STR_INIT;
	struct dirent *d;
	DIR *dp;
	int rc = rebuild_one(root, lock_timeout);

	dp = opendir(root);
	if (dp == NULL) {
		zest_err("%s: %s", root, strerror(errno));
		return ZEST_FAIL;
	}
	while ((d = readdir(dp)) != NULL) {
		if (d->d_name[0] != '.' || strcmp(d->d_name, ".") == 0 ||
		    strcmp(d->d_name, "..") == 0)
			continue;
		str_clear(&p);
		if (str_appendf(&p, "%s/%s", root, d->d_name) < 0)
			continue;
		if (maildir_exists(p.s) &&
		    rebuild_one(p.s, lock_timeout) != ZEST_OK)
			rc = ZEST_FAIL;
	}
	closedir(dp);
	str_free(&p);
	return rc;
}

static int
rebuild_user(struct instance *inst, const char *name)
{
	struct user u;
	struct str err = STR_INIT;
	pid_t pid;
	int r, status;

	r = users_lookup(inst, name, &u, &err);
	if (r <= 0) {
		zest_err("%s: %s", name, r < 0 ? err.s : "no such user");
		str_free(&err);
		return ZEST_FAIL;
	}
	str_free(&err);
	if (geteuid() != 0) {
		r = rebuild_user_tree(u.maildir, inst->lock_timeout);
		users_free(&u);
		return r;
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		zest_err("fork: %s", strerror(errno));
		users_free(&u);
		return ZEST_FAIL;
	}
	if (pid == 0) {
		if (priv_drop(u.uid, u.gid, NULL) < 0) {
			zest_err("cannot become uid %ld: %s", (long)u.uid,
			    strerror(errno));
			_exit(ZEST_FAIL);
		}
		r = rebuild_user_tree(u.maildir, inst->lock_timeout);
		fflush(stdout);
		_exit(r);
	}
	users_free(&u);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) ? WEXITSTATUS(status) : ZEST_FAIL;
}

int
cmd_reconstruct(struct instance *inst, int argc, char **argv)
{
	const char *usage = "[-C dir] reconstruct USER... | -p MAILDIR...";
	unsigned timeout = inst != NULL ? inst->lock_timeout : 30;
	int i, rc = ZEST_OK;

	if (argc < 2)
		return zest_usage(usage);
	if (strcmp(argv[1], "-p") == 0) {
		if (argc < 3)
			return zest_usage(usage);
		for (i = 2; i < argc; i++)
			if (rebuild_one(argv[i], timeout) != ZEST_OK)
				rc = ZEST_FAIL;
		return rc;
	}
	if (inst == NULL) {
		zest_err("reconstruct: no instance configuration");
		return ZEST_FAIL;
	}
	for (i = 1; i < argc; i++)
		if (rebuild_user(inst, argv[i]) != ZEST_OK)
			rc = ZEST_FAIL;
	return rc;
}
