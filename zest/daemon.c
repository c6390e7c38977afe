/* SPDX-License-Identifier: ISC */
/*
 * Detached daemons and their pid files, for zest start/stop/status.
 */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs.h"

#define DAEMON_PIDFILE_MAX 64
#define DAEMON_PROC_MAX 65536	/* of /proc/PID/stat and cmdline read */

/* The child: never returns. */
static void __attribute__((noreturn))
daemon_child(char *const argv[], const char *tag, int logfd, int nullfd)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGCHLD,
		SIGPIPE, SIGQUIT };
	sigset_t none;
	size_t i;

	for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		signal(sigs[i], SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (setsid() < 0 || chdir("/") < 0 || dup2(nullfd, 0) < 0 ||
	    dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
		_exit(127);
	(void)close_range(3, ~0U, 0);
	dprintf(2, "zest: %s: starting %s (pid %ld)\n", tag, argv[0],
	    (long)getpid());
	execv(argv[0], argv);
	dprintf(2, "zest: %s: cannot run %s: %s\n", tag, argv[0],
	    strerror(errno));
	_exit(127);
}

pid_t
daemon_spawn(char *const argv[], const char *log, const char *tag,
    struct str *err)
{
	int logfd, nullfd = -1;
	pid_t pid = -1;

	logfd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (logfd < 0 || (nullfd = open("/dev/null", O_RDONLY |
	    O_CLOEXEC)) < 0) {
		str_appendf(err, "%s: %s", logfd < 0 ? log : "/dev/null",
		    strerror(errno));
		goto out;
	}
	/* Nothing buffered may be written twice by the child. */
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) < 0)
		str_appendf(err, "fork: %s", strerror(errno));
	else if (pid == 0)
		daemon_child(argv, tag, logfd, nullfd);
out:
	if (logfd >= 0)
		close(logfd);
	if (nullfd >= 0)
		close(nullfd);
	return pid;
}

pid_t
daemon_pidfile_read(const char *path)
{
	struct str buf = STR_INIT;
	char *end;
	long pid = 0;

	if (fs_read_file(path, DAEMON_PIDFILE_MAX, &buf) == 0 && buf.len > 0) {
		errno = 0;
		pid = strtol(buf.s, &end, 10);
		if (pid <= 0 || errno != 0 || (pid_t)pid != pid ||
		    (*end != '\n' && *end != '\0'))
			pid = 0;
	}
	str_free(&buf);
	return (pid_t)pid;
}

int
daemon_pidfile_write(const char *path, pid_t pid, struct str *err)
{
	struct str text = STR_INIT;
	int r = -1;

	if (str_appendf(&text, "%ld\n", (long)pid) < 0)
		str_appendf(err, "out of memory");
	else if (fs_write_atomic(path, text.s, text.len, 0644) < 0)
		str_appendf(err, "%s: %s", path, strerror(errno));
	else
		r = 0;
	str_free(&text);
	return r;
}

/* Append /proc/PID/NAME's content to out.  Returns 0 or -1. */
static int
daemon_proc_read(pid_t pid, const char *name, struct str *out)
{
	struct str path = STR_INIT;
	int r = -1;

	if (str_appendf(&path, "/proc/%ld/%s", (long)pid, name) == 0)
		r = fs_read_file(path.s, DAEMON_PROC_MAX, out);
	str_free(&path);
	return r;
}

int
daemon_alive(pid_t pid)
{
	struct str stat_text = STR_INIT;
	const char *rp;
	int alive = 1, st;

	(void)waitpid(pid, &st, WNOHANG);
	if (kill(pid, 0) < 0 && errno != EPERM)
		return 0;
	/* "pid (comm) S ...": comm may hold anything, so the state is
	 * found after the last ')'. */
	if (daemon_proc_read(pid, "stat", &stat_text) == 0 &&
	    (rp = strrchr(str_cstr(&stat_text), ')')) != NULL &&
	    rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X'))
		alive = 0;
	str_free(&stat_text);
	return alive;
}

/* Whether the last component of path is name. */
static int
daemon_named(const char *path, const char *name)
{
	const char *slash = strrchr(path, '/');

	return strcmp(slash ? slash + 1 : path, name) == 0;
}

int
daemon_runs(pid_t pid, const char *name)
{
	static const char deleted[] = " (deleted)";
	struct str path = STR_INIT, cmd = STR_INIT;
	char exe[4096];
	ssize_t n;
	size_t a;
	int r = 1;

	if (str_appendf(&path, "/proc/%ld/exe", (long)pid) < 0)
		goto out;
	n = readlink(path.s, exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = '\0';
		/* A rebuilt binary shows as "path (deleted)". */
		if ((size_t)n > sizeof deleted - 1 && strcmp(exe + n -
		    (sizeof deleted - 1), deleted) == 0)
			exe[n - (ssize_t)(sizeof deleted - 1)] = '\0';
		if (daemon_named(exe, name))
			goto out;
	}
	if (daemon_proc_read(pid, "cmdline", &cmd) < 0)
		goto out;
	r = 0;
	a = strlen(str_cstr(&cmd));
	if (daemon_named(str_cstr(&cmd), name) ||
	    (a + 1 < cmd.len && daemon_named(cmd.s + a + 1, name)))
		r = 1;
out:
	str_free(&path);
	str_free(&cmd);
	return r;
}
