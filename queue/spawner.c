/* SPDX-License-Identifier: ISC */
/*
 * spawner: the root half of the queue (qmail-lspawn style).  It forks
 * queued with its privileges dropped to zest-queue, then serves queued's
 * requests over a socketpair: L goes to the user's long-lived delivery
 * worker, deliver -S, started as root (deliver looks the user up and
 * becomes that user; spawner-local.c), M runs remote as zest-remote
 * (spawner-remote.c).  Nothing here parses mail; requests are checked
 * field by field and anything malformed is logged and ignored.  See
 * spawner(8) and docs/QUEUE.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "log.h"
#include "priv.h"
#include "spawner.h"

#define SPAWNER_USER_QUEUE "zest-queue"
#define SPAWNER_USER_REMOTE "zest-remote"
#define SPAWNER_REQ_MAX 1024		/* an L or M line */
#define SPAWNER_ENV_MAX (8u << 20)	/* the ENV text of one M request */
#define SPAWNER_FD 3			/* queued's end of the socketpair */
#define SPAWNER_POLL_MAX (SPAWNER_JOBS_MAX + SPAWNER_WORKERS_MAX + 2)

/* The signal handlers' only way out: a byte into the self-pipe.  The fd is
 * kept where the handler can see it; set once before the handlers. */
static int spawner_sigfd = -1;

static void
on_signal(int sig)
{
	unsigned char c = (unsigned char)sig;
	int saved = errno;

	(void)!write(spawner_sigfd, &c, 1);
	errno = saved;
}

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	struct str m = STR_INIT;
	va_list ap;

	va_start(ap, fmt);
	str_vappendf(&m, fmt, ap);
	va_end(ap);
	log_err("%s", str_cstr(&m));
	exit(1);
}

/* The environment of every child: a fixed PATH and the variables that
 * steer logging and the sanitizers. */
static char **
child_env(void)
{
	static const char *const keep[] = { "ZEST_LOG", "ASAN_OPTIONS",
	    "UBSAN_OPTIONS", "LSAN_OPTIONS" };
	char **envp = calloc(6, sizeof *envp);
	struct str v = STR_INIT;
	size_t n = 0, i;

	if (envp == NULL || (envp[n++] = strdup("PATH=/usr/bin:/bin")) == NULL)
		return NULL;
	for (i = 0; i < sizeof keep / sizeof keep[0]; i++)
		if (getenv(keep[i]) != NULL && str_appendf(&v, "%s=%s",
		    keep[i], getenv(keep[i])) == 0)
			envp[n++] = str_steal(&v);
	return envp;
}

/* The ids the children run as: zest-queue and zest-remote when root,
 * else the invoker. */
static void
setup_ids(struct spawner *sp)
{
	struct stat st;

	if (geteuid() != 0) {
		sp->quid = sp->ruid = geteuid();
		sp->qgid = sp->rgid = getegid();
		sp->remote_ok = 1;
	} else {
		if (priv_lookup(SPAWNER_USER_QUEUE, &sp->quid, &sp->qgid) < 0)
			die("no user %s: %s", SPAWNER_USER_QUEUE,
			    strerror(errno));
		sp->remote_ok = priv_lookup(SPAWNER_USER_REMOTE, &sp->ruid,
		    &sp->rgid) == 0;
		if (!sp->remote_ok)
			log_warn("no user %s: remote deliveries will wait",
			    SPAWNER_USER_REMOTE);
	}
	if (stat(sp->inst.queue_dir, &st) < 0)
		die("%s: %s", sp->inst.queue_dir, strerror(errno));
	if (st.st_uid != sp->quid)
		die("%s belongs to uid %ld, not to the queue user (uid %ld)",
		    sp->inst.queue_dir, (long)st.st_uid, (long)sp->quid);
}

/* Exec prog from libexec_dir with args (argv[0] is set here). */
static void __attribute__((noreturn))
child_exec(struct spawner *sp, const char *prog, char **args)
{
	struct str path = STR_INIT;
	sigset_t none;

	signal(SIGPIPE, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (str_appendf(&path, "%s/%s", sp->inst.libexec_dir, prog) < 0)
		_exit(71);
	args[0] = (char *)prog;
	execve(path.s, args, sp->envp);
	fprintf(stderr, "spawner: exec %s: %s\n", path.s, strerror(errno));
	_exit(errno == ENOENT ? 69 : 71);
}

void
spawner_args_conf(struct spawner *sp, char **args, size_t *n)
{
	if (sp->conf_dir != NULL) {
		args[(*n)++] = (char *)"-C";
		args[(*n)++] = (char *)sp->conf_dir;
	}
}

/* Move fd to 10 or above so that the dup2()s of a child cannot clash
 * (close-on-exec: only the dup2() copies reach the program). */
static int
fd_high(int fd)
{
	return fcntl(fd, F_DUPFD_CLOEXEC, 10);
}

/* Fork queued: fd 3 is its end of the socketpair. */
static void
start_queued(struct spawner *sp)
{
	char *args[6];
	size_t n = 1;
	int sv[2], fd;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair: %s", strerror(errno));
	if ((sp->queued = fork()) < 0)
		die("fork: %s", strerror(errno));
	if (sp->queued == 0) {
		if ((fd = fd_high(sv[1])) < 0 || dup2(fd, SPAWNER_FD) < 0 ||
		    (fd = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0 ||
		    dup2(fd, 0) < 0)
			_exit(71);
		if (priv_drop(sp->quid, sp->qgid, NULL) < 0) {
			fprintf(stderr, "spawner: cannot become uid %ld: %s\n",
			    (long)sp->quid, strerror(errno));
			_exit(71);
		}
		spawner_args_conf(sp, args, &n);
		args[n] = NULL;
		child_exec(sp, "queued", args);
	}
	close(sv[1]);
	sp->sock = sv[0];
	if (fcntl(sp->sock, F_SETFL, O_NONBLOCK) < 0)
		die("fcntl: %s", strerror(errno));
}

struct job *
spawner_job_new(struct spawner *sp, enum job_kind kind, const char *num)
{
	size_t i;

	for (i = 0; i < SPAWNER_JOBS_MAX; i++) {
		struct job *j = &sp->jobs[i];

		if (j->used)
			continue;
		memset(j, 0, sizeof *j);
		j->used = 1;
		j->kind = kind;
		j->out = -1;
		j->msgfd = -1;
		j->worker = -1;
		j->next = -1;
		j->started = time(NULL);
		snprintf(j->num, sizeof j->num, "%s", num);
		sp->njobs++;
		return j;
	}
	return NULL;
}

void
spawner_job_free(struct spawner *sp, struct job *j)
{
	if (j->out >= 0)
		close(j->out);
	if (j->msgfd >= 0)
		close(j->msgfd);
	str_free(&j->buf);
	str_free(&j->text);
	j->used = 0;
	sp->njobs--;
}

void
spawner_reply(struct spawner *sp, const char *fmt, ...)
{
	va_list ap;

	if (sp->sock < 0)
		return;
	va_start(ap, fmt);
	if (str_vappendf(&sp->out, fmt, ap) < 0)
		log_err("reply lost: %s", strerror(errno));
	va_end(ap);
}

int
spawner_open_entry(struct spawner *sp, int *dirfd, const struct str *path,
    const char *id, struct stat *st_r)
{
	int fd;

	if (*dirfd < 0 && (*dirfd = open(path->s, O_RDONLY | O_NOFOLLOW |
	    O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	fd = openat(*dirfd, id, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, st_r) < 0 || !S_ISREG(st_r->st_mode) ||
	    st_r->st_uid != sp->quid || st_r->st_nlink != 1) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}

void
spawner_clean(struct str *out, const char *s, size_t n, size_t max)
{
	size_t i;

	for (i = 0; i < n && i < max; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\r' || c == '\n')
			break;
		str_appendc(out, c < 0x20 || c >= 0x7f ? '?' : (char)c);
	}
}

/* In a child: fd 0 from in, fd 1 from out (-1: /dev/null), fd 2 kept, fd
 * 3 from three (-1: none). */
static void
child_fds(int in, int out, int three)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	in = fd_high(in);
	out = fd_high(out >= 0 ? out : null);
	three = three >= 0 ? fd_high(three) : -1;
	if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 ||
	    (three >= 0 && dup2(three, 3) < 0))
		_exit(71);
}

pid_t
spawner_spawn(struct spawner *sp, int in, int out, int three, uid_t as_uid,
    gid_t as_gid, const char *prog, char **args)
{
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	child_fds(in, out, three);
	if (as_uid != (uid_t)-1 && geteuid() == 0 &&
	    priv_drop(as_uid, as_gid, NULL) < 0)
		_exit(71);
	child_exec(sp, prog, args);
}

/* One complete line from queued (without its LF). */
static void
request(struct spawner *sp, char *line, size_t len)
{
	struct qenv_req rq;

	if (sp->in_env) {
		if (len == 1 && line[0] == '.') {
			sp->in_env = 0;
			remote_request(sp);
		} else if (sp->env.len + len + 1 > SPAWNER_ENV_MAX ||
		    str_append(&sp->env, line, len) < 0 ||
		    str_appendc(&sp->env, '\n') < 0)
			sp->m_bad = 1;
		return;
	}
	if (qenv_req_parse(line, len, &rq) == 0 && rq.kind == 'L') {
		local_request(sp, &rq);
	} else if (len > 0 && line[0] == 'M') {
		/* its ENV follows whether or not the line parsed */
		sp->in_env = 1;
		sp->m_bad = rq.job[0] == '\0' || rq.kind != 'M';
		sp->m = rq;
		str_clear(&sp->env);
	} else {
		log_warn("malformed request for job '%s' ignored", rq.job);
		if (rq.job[0] != '\0')
			spawner_reply(sp, "%s 64 spawner: malformed request\n",
			    rq.job);
	}
}

/* Read what queued sent and act on every complete line.  Returns -1 when
 * queued has closed its end. */
static int
sock_read(struct spawner *sp)
{
	char buf[16384], *nl, *p;
	size_t max = sp->in_env ? QENV_LINE_MAX : SPAWNER_REQ_MAX + 1;
	ssize_t n;

	n = read(sp->sock, buf, sizeof buf);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if (n == 0)
		return -1;
	if (str_append(&sp->in, buf, (size_t)n) < 0)
		return -1;
	p = sp->in.s;
	while ((nl = memchr(p, '\n', sp->in.len - (size_t)(p - sp->in.s)))) {
		*nl = '\0';
		if (sp->skipping)
			sp->skipping = 0;
		else
			request(sp, p, (size_t)(nl - p));
		p = nl + 1;
		max = sp->in_env ? QENV_LINE_MAX : SPAWNER_REQ_MAX + 1;
	}
	n = (ssize_t)(sp->in.len - (size_t)(p - sp->in.s));
	memmove(sp->in.s, p, (size_t)n);
	str_truncate(&sp->in, (size_t)n);
	if (sp->in.len > max) {
		log_warn("over-long request line discarded");
		str_clear(&sp->in);
		sp->skipping = 1;
		if (sp->in_env)
			sp->m_bad = 1;
	}
	return 0;
}

static void
sock_write(struct spawner *sp)
{
	ssize_t n = write(sp->sock, sp->out.s, sp->out.len);

	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			str_clear(&sp->out);
		return;
	}
	memmove(sp->out.s, sp->out.s + n, sp->out.len - (size_t)n);
	str_truncate(&sp->out, sp->out.len - (size_t)n);
}

/* An M job whose remote has exited and whose output is read is answered;
 * one that has run too long is killed.  (L jobs: spawner-local.c.) */
static void
job_finish(struct spawner *sp, struct job *j, time_t now)
{
	if (j->kind != JOB_REMOTE)
		return;
	if (!j->exited && !j->killed && now - j->started > SPAWNER_JOB_SECONDS) {
		log_warn("job %s: running for too long, killed", j->num);
		kill(j->pid, SIGKILL);
		j->killed = 1;
	}
	if (!j->exited || j->out >= 0)
		return;
	spawner_reply(sp, "%s done\n", j->num);
	spawner_job_free(sp, j);
}

/* Collect every exited child. */
static void
reap(struct spawner *sp)
{
	pid_t pid;
	size_t i;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if (pid == sp->queued) {
			sp->queued = 0;
			sp->queued_status = st;
			continue;
		}
		if (local_reaped(sp, pid, st))
			continue;
		for (i = 0; i < SPAWNER_JOBS_MAX; i++) {
			if (sp->jobs[i].used && sp->jobs[i].kind == JOB_REMOTE &&
			    sp->jobs[i].pid == pid) {
				sp->jobs[i].exited = 1;
				sp->jobs[i].status = st;
				break;
			}
		}
	}
}

/* Handle the signals the self-pipe carries. */
static void
signals(struct spawner *sp)
{
	unsigned char c[64];
	ssize_t n, i;

	while ((n = read(sp->sigpipe[0], c, sizeof c)) > 0) {
		for (i = 0; i < n; i++) {
			if (c[i] == SIGCHLD)
				reap(sp);
			else if (sp->queued > 0) {
				log_info("signal %d: stopping queued", c[i]);
				kill(sp->queued, SIGTERM);
			}
		}
	}
}

static void
setup_signals(struct spawner *sp)
{
	struct sigaction sa;

	if (pipe2(sp->sigpipe, O_CLOEXEC | O_NONBLOCK) < 0)
		die("pipe: %s", strerror(errno));
	spawner_sigfd = sp->sigpipe[1];
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
}

/* The poll set: the self-pipe, queued, remote outputs, workers.  map[i]
 * is pfd[i]'s remote job, wmap[i] its worker. */
static size_t
poll_set(struct spawner *sp, struct pollfd *pfd, struct job **map,
    struct worker **wmap, int *timeout)
{
	size_t i, n = 0, first;
	int t;

	pfd[n].fd = sp->sigpipe[0];
	pfd[n++].events = POLLIN;
	if (sp->sock >= 0) {
		pfd[n].fd = sp->sock;
		pfd[n++].events = POLLIN | (sp->out.len ? POLLOUT : 0);
	}
	for (i = 0; i < n; i++) {
		map[i] = NULL;
		wmap[i] = NULL;
	}
	for (i = 0; i < SPAWNER_JOBS_MAX; i++) {
		if (sp->jobs[i].used && sp->jobs[i].out >= 0) {
			map[n] = &sp->jobs[i];
			wmap[n] = NULL;
			pfd[n].fd = sp->jobs[i].out;
			pfd[n++].events = POLLIN;
		}
	}
	first = n;
	t = local_poll(sp, pfd, wmap, &n);
	for (i = first; i < n; i++)
		map[i] = NULL;
	*timeout = sp->njobs ? 10000 : 60000;
	if (t >= 0 && t < *timeout)
		*timeout = t;
	return n;
}

/* One round: wait for something, then handle it. */
static void
loop_once(struct spawner *sp, struct pollfd *pfd, struct job **map,
    struct worker **wmap)
{
	size_t i, n;
	int timeout;

	n = poll_set(sp, pfd, map, wmap, &timeout);
	if (poll(pfd, n, timeout) < 0 && errno != EINTR)
		die("poll: %s", strerror(errno));
	for (i = 1; i < n; i++) {
		if (pfd[i].revents == 0)
			continue;
		if (map[i] != NULL)
			remote_read(sp, map[i]);
		else if (wmap[i] != NULL)
			local_event(sp, wmap[i], pfd[i].revents);
	}
	if (pfd[0].revents)
		signals(sp);
	if (sp->sock >= 0 && (pfd[1].revents & POLLOUT))
		sock_write(sp);
	if (sp->sock >= 0 && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) &&
	    sock_read(sp) < 0) {
		close(sp->sock);
		sp->sock = -1;
	}
	for (i = 0; i < SPAWNER_JOBS_MAX; i++)
		if (sp->jobs[i].used)
			job_finish(sp, &sp->jobs[i], time(NULL));
	local_tick(sp, time(NULL));
}

/* Write the pid file (removed at exit when it is still ours). */
static void
pidfile_write(const char *path)
{
	char buf[32];
	int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());

	if (fs_write_atomic(path, buf, (size_t)n, 0644) < 0)
		die("%s: %s", path, strerror(errno));
}

static void
setup(struct spawner *sp, const char *dir)
{
	struct str err = STR_INIT;

	if (instance_open(dir, &sp->inst, &err) < 0)
		die("configuration: %s", str_cstr(&err));
	sp->conf_dir = sp->inst.dir;
	if (sp->conf_dir == NULL && getenv("ZEST_CONF") != NULL)
		die("ZEST_CONF is not passed on: use -C");
	setup_ids(sp);
	if ((sp->envp = child_env()) == NULL)
		die("out of memory");
	if (str_appendf(&sp->envpath, "%s/env", sp->inst.queue_dir) < 0 ||
	    str_appendf(&sp->msgpath, "%s/msg", sp->inst.queue_dir) < 0)
		die("out of memory");
	sp->envdir = sp->msgdir = -1;
	/* queued keeps at most local_concurrency local jobs in flight, so
	 * as many workers are busy at most; a few idle ones are kept */
	sp->workers_max = (size_t)conf_num(sp->inst.conf, "local_concurrency") +
	    SPAWNER_IDLE_KEEP;
	if (sp->workers_max > SPAWNER_WORKERS_MAX)
		sp->workers_max = SPAWNER_WORKERS_MAX;
	str_free(&err);
	if (chdir("/") < 0)
		die("chdir /: %s", strerror(errno));
}

/* Everything main allocated, at exit (so that leak checkers see none). */
static void
spawner_free(struct spawner *sp)
{
	size_t i;

	for (i = 0; sp->envp[i] != NULL; i++)
		free(sp->envp[i]);
	free(sp->envp);
	if (sp->envdir >= 0)
		close(sp->envdir);
	if (sp->msgdir >= 0)
		close(sp->msgdir);
	str_free(&sp->envpath);
	str_free(&sp->msgpath);
	str_free(&sp->in);
	str_free(&sp->out);
	str_free(&sp->env);
	instance_close(&sp->inst);
	free(sp);
}

int
main(int argc, char **argv)
{
	struct spawner *sp;
	struct pollfd *pfd;
	struct job **map;
	struct worker **wmap;
	const char *dir = NULL, *pidfile = NULL;
	int c;

	/* start-up errors go to stderr (zest start keeps it in log_dir) */
	log_open("spawner", 1);
	while ((c = getopt(argc, argv, "C:p:")) != -1) {
		if (c == 'C')
			dir = optarg;
		else if (c == 'p' && optarg[0] == '/')
			pidfile = optarg;
		else
			optind = argc + 1;
	}
	if (optind != argc) {
		fprintf(stderr, "usage: spawner [-C DIR] [-p /PIDFILE]\n");
		return 2;
	}
	sp = calloc(1, sizeof *sp);
	pfd = calloc(SPAWNER_POLL_MAX, sizeof *pfd);
	map = calloc(SPAWNER_POLL_MAX, sizeof *map);
	wmap = calloc(SPAWNER_POLL_MAX, sizeof *wmap);
	if (sp == NULL || pfd == NULL || map == NULL || wmap == NULL)
		die("out of memory");
	umask(077);
	setup(sp, dir);
	setup_signals(sp);
	start_queued(sp);
	if (pidfile != NULL)
		pidfile_write(pidfile);
	log_open("spawner", sp->inst.log_stderr);
	log_info("started queued (pid %ld)", (long)sp->queued);
	while (sp->sock >= 0 || sp->queued > 0 || sp->njobs > 0 ||
	    sp->nworkers > 0)
		loop_once(sp, pfd, map, wmap);
	log_info("queued exited (status %d): stopping",
	    WIFEXITED(sp->queued_status) ? WEXITSTATUS(sp->queued_status) :
	    128 + WTERMSIG(sp->queued_status));
	str_clear(&sp->in);
	if (pidfile != NULL && fs_read_file(pidfile, 64, &sp->in) == 0 &&
	    strtol(str_cstr(&sp->in), NULL, 10) == (long)getpid())
		unlink(pidfile);
	c = WIFEXITED(sp->queued_status) ? WEXITSTATUS(sp->queued_status) : 1;
	spawner_free(sp);
	free(pfd);
	free(map);
	free(wmap);
	return c;
}
