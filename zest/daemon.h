/* SPDX-License-Identifier: ISC */
#ifndef ZEST_DAEMON_H
#define ZEST_DAEMON_H

/*
 * daemon: the processes behind zest start/stop/status (cmd-service.c):
 * launch one detached, keep its pid in a pid file, tell whether a pid
 * is still alive and still runs the expected program.
 */

#include <sys/types.h>

#include "str.h"

/* Launch argv (argv[0] a path) detached: a new session, cwd /, stdin
 * /dev/null, stdout and stderr appended to log (created mode 0640),
 * default signal dispositions and mask, no other descriptors.  A line
 * "zest: TAG: starting ..." goes to the log first.  Returns the pid, or
 * -1 with a message in err. */
pid_t daemon_spawn(char *const argv[], const char *log, const char *tag,
    struct str *err);

/* The pid recorded in the pid file path; 0 when there is none or it is
 * malformed. */
pid_t daemon_pidfile_read(const char *path);

/* Write pid to the pid file path (replaced atomically, mode 0644).
 * Returns 0, or -1 with a message in err. */
int daemon_pidfile_write(const char *path, pid_t pid, struct str *err);

/* Whether pid is a process that has not exited (a zombie has; children of
 * the caller are reaped here).  Returns 1 or 0. */
int daemon_alive(pid_t pid);

/* Whether the process pid runs the program name: its executable, its
 * argv[0] or (an interpreter running a script) its argv[1] has that base
 * name.  When /proc cannot tell, it is assumed to.  Returns 1 or 0. */
int daemon_runs(pid_t pid, const char *name);

#endif
