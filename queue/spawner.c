/* SPDX-License-Identifier: ISC */
/*
 * spawner: the root half of the queue (qmail-lspawn style).  It forks
 * queued with its privileges dropped to zest-queue, then serves queued's
 * requests over a socketpair: L runs deliver as root (deliver looks the
 * user up and becomes that user), M runs remote as zest-remote.  Nothing
 * here parses mail; requests are checked field by field and anything
 * malformed is logged and ignored.  See spawner(8) and docs/QUEUE.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "instance.h"
#include "log.h"
#include "priv.h"
#include "qenv.h"
#include "str.h"

#define SPAWNER_USER_QUEUE "zest-queue"
#define SPAWNER_USER_REMOTE "zest-remote"
#define SPAWNER_JOBS_MAX 2100		/* both concurrency limits, and some */
#define SPAWNER_REQ_MAX 1024		/* an L or M line */
#define SPAWNER_ENV_MAX (8u << 20)	/* the ENV text of one M request */
#define SPAWNER_OUT_MAX 1000		/* a relayed line of output */
#define SPAWNER_JOB_SECONDS 7200	/* a job running longer is killed */
#define SPAWNER_FD 3			/* queued's end of the socketpair */

enum job_kind { JOB_LOCAL = 'L', JOB_REMOTE = 'M' };

struct job {
	int used;
	enum job_kind kind;
	char num[20];		/* queued's job number, digits */
	pid_t pid;
	int out;		/* deliver's stderr / remote's stdout; -1 at EOF */
	int exited;
	int status;
	int killed;		/* by the job timeout */
	time_t started;
	struct str buf;		/* L: the first line; M: a partial line */
	int line_done;		/* M: the rest of a cut line is skipped */
};

struct spawner {
	struct instance inst;
	const char *conf_dir;	/* -C, passed on; NULL: installed conf */
	uid_t quid, ruid;
	gid_t qgid, rgid;
	int remote_ok;		/* a remote user exists */
	int msgdir;		/* queue/msg/, opened once queued made it */
	struct str msgpath;
	int sock;		/* to queued; -1 once it is gone */
	pid_t queued;		/* 0 once reaped */
	int queued_status;
	int sigpipe[2];
	struct str in, out;	/* socket buffers */
	int in_env;		/* reading the ENV text of an M request */
	int skipping;		/* discarding the rest of an over-long line */
	struct qenv_req m;	/* that request */
	int m_bad;		/* the request is refused after its ENV */
	struct str env;		/* its ENV text */
	struct job jobs[SPAWNER_JOBS_MAX];
	size_t njobs;
	char **envp;		/* the children's environment */
};

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

/* Put "-C DIR" into args at *n when there is an instance directory. */
static void
args_conf(struct spawner *sp, char **args, size_t *n)
{
	if (sp->conf_dir != NULL) {
		args[(*n)++] = (char *)"-C";
		args[(*n)++] = (char *)sp->conf_dir;
	}
}

/* Move fd to 10 or above so that the dup2()s of a child cannot clash. */
static int
fd_high(int fd)
{
	return fcntl(fd, F_DUPFD, 10);
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
		    (fd = open("/dev/null", O_RDWR)) < 0 || dup2(fd, 0) < 0)
			_exit(71);
		if (priv_drop(sp->quid, sp->qgid, NULL) < 0) {
			fprintf(stderr, "spawner: cannot become uid %ld: %s\n",
			    (long)sp->quid, strerror(errno));
			_exit(71);
		}
		args_conf(sp, args, &n);
		args[n] = NULL;
		child_exec(sp, "queued", args);
	}
	close(sv[1]);
	sp->sock = sv[0];
	if (fcntl(sp->sock, F_SETFL, O_NONBLOCK) < 0)
		die("fcntl: %s", strerror(errno));
}

static struct job *
job_new(struct spawner *sp, enum job_kind kind, const char *num)
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
		j->started = time(NULL);
		snprintf(j->num, sizeof j->num, "%s", num);
		sp->njobs++;
		return j;
	}
	return NULL;
}

static void
job_free(struct spawner *sp, struct job *j)
{
	if (j->out >= 0)
		close(j->out);
	str_free(&j->buf);
	j->used = 0;
	sp->njobs--;
}

/* Queue a reply line for queued (dropped when queued is gone). */
static void __attribute__((format(printf, 2, 3)))
reply(struct spawner *sp, const char *fmt, ...)
{
	va_list ap;

	if (sp->sock < 0)
		return;
	va_start(ap, fmt);
	if (str_vappendf(&sp->out, fmt, ap) < 0)
		log_err("reply lost: %s", strerror(errno));
	va_end(ap);
}

/* Open queue/msg/<id> for a child: a plain file of the queue user with
 * one link, never followed through a symlink. */
static int
open_msg(struct spawner *sp, const char *id)
{
	struct stat st;
	int fd;

	if (sp->msgdir < 0 && (sp->msgdir = open(sp->msgpath.s, O_RDONLY |
	    O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	fd = openat(sp->msgdir, id, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_uid != sp->quid || st.st_nlink != 1) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}

/* Copy up to max bytes of s into out with control and 8-bit bytes made
 * '?': what queued gets is one clean line. */
static void
clean(struct str *out, const char *s, size_t n, size_t max)
{
	size_t i;

	for (i = 0; i < n && i < max; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\r' || c == '\n')
			break;
		str_appendc(out, c < 0x20 || c >= 0x7f ? '?' : (char)c);
	}
}

/* In a child: fd 0 from in, fd 1 from out (-1: /dev/null), fd 2 from err
 * (-1: keep), fd 3 from three (-1: none). */
static void
child_fds(int in, int out, int err, int three)
{
	int null = open("/dev/null", O_RDWR);

	in = fd_high(in);
	out = fd_high(out >= 0 ? out : null);
	err = err >= 0 ? fd_high(err) : -1;
	three = three >= 0 ? fd_high(three) : -1;
	if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 ||
	    (err >= 0 && dup2(err, 2) < 0) ||
	    (three >= 0 && dup2(three, 3) < 0))
		_exit(71);
}

/* Run prog for job j: fd 0 the message, fd 3 efd (-1: none), and its
 * stderr (L) or stdout (M) on a pipe the job reads; remote runs as the
 * remote user.  Returns 0 or -1 with errno. */
static int
job_spawn(struct spawner *sp, struct job *j, int msgfd, int efd,
    const char *prog, char **args)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	if ((j->pid = fork()) < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (j->pid == 0) {
		child_fds(msgfd, j->kind == JOB_REMOTE ? p[1] : -1,
		    j->kind == JOB_LOCAL ? p[1] : -1, efd);
		if (j->kind == JOB_REMOTE && geteuid() == 0 &&
		    priv_drop(sp->ruid, sp->rgid, NULL) < 0)
			_exit(71);
		child_exec(sp, prog, args);
	}
	close(p[1]);
	j->out = p[0];
	fcntl(j->out, F_SETFL, O_NONBLOCK);
	return 0;
}

/* L <job> <id> <user> <rcpt> <sender> */
static void
req_local(struct spawner *sp, const struct qenv_req *rq)
{
	char *args[12];
	struct job *j;
	size_t n = 1;
	int fd;

	if ((j = job_new(sp, JOB_LOCAL, rq->job)) == NULL) {
		reply(sp, "%s 75 spawner: too many jobs\n", rq->job);
		return;
	}
	args_conf(sp, args, &n);
	args[n++] = (char *)"-w";
	args[n++] = (char *)"-d";
	args[n++] = (char *)rq->user;
	args[n++] = (char *)"-a";
	args[n++] = (char *)rq->rcpt;
	args[n++] = (char *)"-f";
	args[n++] = (char *)rq->sender;
	args[n] = NULL;
	if ((fd = open_msg(sp, rq->id)) < 0 ||
	    job_spawn(sp, j, fd, -1, "deliver", args) < 0) {
		log_err("job %s: msg/%s: %s", rq->job, rq->id, strerror(errno));
		reply(sp, "%s 75 spawner: msg/%s: %s\n", rq->job, rq->id,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		job_free(sp, j);
		return;
	}
	close(fd);
	log_debug("job %s: deliver %s to %s (pid %ld)", rq->job, rq->id,
	    rq->rcpt, (long)j->pid);
}

/* Answer every recipient of an M request with one temporary failure. */
static void
remote_refuse(struct spawner *sp, size_t nrcpt, const char *text)
{
	size_t i;

	for (i = 0; i < nrcpt; i++)
		reply(sp, "%s %zu %s\n", sp->m.job, i, text);
	reply(sp, "%s done\n", sp->m.job);
}

/* The ENV text in a sealed-off memory file for remote's fd 3. */
static int
env_file(const struct str *env)
{
	int fd = memfd_create("zest-env", MFD_CLOEXEC);

	if (fd < 0)
		return -1;
	if (fs_write_all(fd, env->s, env->len) < 0 ||
	    lseek(fd, 0, SEEK_SET) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The ENV of an M request is complete: run remote. */
static void
req_remote(struct spawner *sp)
{
	struct str prog = STR_INIT;
	struct job *j = NULL;
	char *args[8], *p;
	size_t n = 1, nrcpt = 0;
	int fd = -1, efd = -1;

	/* remote checks the ENV text; here only its R lines are counted */
	for (p = sp->env.s; p != NULL && (p = strstr(p, "\nR")); p++)
		nrcpt++;
	if (sp->m_bad || nrcpt == 0) {
		log_warn("job '%s': malformed M request", sp->m.job);
		if (sp->m.job[0] != '\0')
			reply(sp, "%s done\n", sp->m.job);
		goto out;
	}
	str_appendf(&prog, "%s/remote", sp->inst.libexec_dir);
	if (!sp->remote_ok || access(prog.s, X_OK) < 0) {
		remote_refuse(sp, nrcpt, "451 4.4.1 remote not installed");
		goto out;
	}
	if ((j = job_new(sp, JOB_REMOTE, sp->m.job)) == NULL) {
		remote_refuse(sp, nrcpt, "451 4.3.0 spawner: too many jobs");
		goto out;
	}
	args_conf(sp, args, &n);
	args[n++] = sp->m.domain;
	args[n] = NULL;
	if ((fd = open_msg(sp, sp->m.id)) < 0 || (efd = env_file(&sp->env)) < 0
	    || job_spawn(sp, j, fd, efd, "remote", args) < 0) {
		log_err("job %s: %s", sp->m.job, strerror(errno));
		remote_refuse(sp, nrcpt, "451 4.3.0 spawner: cannot start "
		    "remote");
		job_free(sp, j);
		goto out;
	}
out:
	if (fd >= 0)
		close(fd);
	if (efd >= 0)
		close(efd);
	str_free(&prog);
	str_clear(&sp->env);
}

/* One complete line from queued (without its LF). */
static void
request(struct spawner *sp, char *line, size_t len)
{
	struct qenv_req rq;

	if (sp->in_env) {
		if (len == 1 && line[0] == '.') {
			sp->in_env = 0;
			req_remote(sp);
		} else if (sp->env.len + len + 1 > SPAWNER_ENV_MAX ||
		    str_append(&sp->env, line, len) < 0 ||
		    str_appendc(&sp->env, '\n') < 0)
			sp->m_bad = 1;
		return;
	}
	if (qenv_req_parse(line, len, &rq) == 0 && rq.kind == 'L') {
		req_local(sp, &rq);
	} else if (len > 0 && line[0] == 'M') {
		/* its ENV follows whether or not the line parsed */
		sp->in_env = 1;
		sp->m_bad = rq.job[0] == '\0' || rq.kind != 'M';
		sp->m = rq;
		str_clear(&sp->env);
	} else {
		log_warn("malformed request for job '%s' ignored", rq.job);
		if (rq.job[0] != '\0')
			reply(sp, "%s 64 spawner: malformed request\n",
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

/* Relay the complete lines remote printed (one prefixed line each). */
static void
remote_lines(struct spawner *sp, struct job *j, int final)
{
	struct str line = STR_INIT;
	char *nl;
	size_t n;

	while (j->buf.len > 0) {
		nl = memchr(j->buf.s, '\n', j->buf.len);
		if (nl == NULL && !final && j->buf.len < SPAWNER_OUT_MAX)
			break;
		n = nl != NULL ? (size_t)(nl - j->buf.s) : j->buf.len;
		str_clear(&line);
		if (!j->line_done)	/* not the tail of a cut line */
			clean(&line, j->buf.s, n, SPAWNER_OUT_MAX);
		j->line_done = nl == NULL;
		if (line.len > 0)
			reply(sp, "%s %s\n", j->num, line.s);
		n = nl != NULL ? n + 1 : j->buf.len;
		memmove(j->buf.s, j->buf.s + n, j->buf.len - n);
		str_truncate(&j->buf, j->buf.len - n);
	}
	str_free(&line);
}

/* Read a child's output: deliver's first line of stderr, or remote's
 * result lines. */
static void
job_read(struct spawner *sp, struct job *j)
{
	char buf[4096];
	ssize_t n = read(j->out, buf, sizeof buf);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		close(j->out);
		j->out = -1;
		if (j->kind == JOB_REMOTE)
			remote_lines(sp, j, 1);
		return;
	}
	if (j->kind == JOB_REMOTE) {
		str_append(&j->buf, buf, (size_t)n);
		remote_lines(sp, j, 0);
	} else if (j->buf.len < SPAWNER_OUT_MAX) {
		/* deliver's first line is kept (clean() stops at its end) */
		str_append(&j->buf, buf, (size_t)n);
	}
}

/* A job whose child has exited and whose output is read is answered; one
 * that has run too long is killed. */
static void
job_finish(struct spawner *sp, struct job *j, time_t now)
{
	struct str text = STR_INIT;
	int code;

	if (!j->exited && !j->killed && now - j->started > SPAWNER_JOB_SECONDS) {
		log_warn("job %s: running for too long, killed", j->num);
		kill(j->pid, SIGKILL);
		j->killed = 1;
	}
	if (!j->exited || j->out >= 0)
		return;
	if (j->kind == JOB_REMOTE) {
		reply(sp, "%s done\n", j->num);
	} else {
		if (WIFEXITED(j->status)) {
			code = WEXITSTATUS(j->status);
			clean(&text, str_cstr(&j->buf), j->buf.len,
			    SPAWNER_OUT_MAX);
		} else {
			code = 75;
			str_appendf(&text, "deliver %s by signal %d",
			    j->killed ? "timed out, killed" : "killed",
			    WTERMSIG(j->status));
		}
		reply(sp, "%s %d %s\n", j->num, code, str_cstr(&text));
	}
	str_free(&text);
	job_free(sp, j);
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
		for (i = 0; i < SPAWNER_JOBS_MAX; i++) {
			if (sp->jobs[i].used && sp->jobs[i].pid == pid) {
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

/* One round: wait for something, then handle it. */
static void
loop_once(struct spawner *sp, struct pollfd *pfd)
{
	struct job *jmap[SPAWNER_JOBS_MAX];
	size_t i, n = 0;

	pfd[n].fd = sp->sigpipe[0];
	pfd[n++].events = POLLIN;
	if (sp->sock >= 0) {
		pfd[n].fd = sp->sock;
		pfd[n++].events = POLLIN | (sp->out.len ? POLLOUT : 0);
	}
	for (i = 0; i < SPAWNER_JOBS_MAX; i++) {
		if (sp->jobs[i].used && sp->jobs[i].out >= 0) {
			jmap[n] = &sp->jobs[i];
			pfd[n].fd = sp->jobs[i].out;
			pfd[n++].events = POLLIN;
		}
	}
	if (poll(pfd, n, sp->njobs ? 10000 : 60000) < 0 && errno != EINTR)
		die("poll: %s", strerror(errno));
	for (i = 2 - (sp->sock < 0); i < n; i++)
		if (pfd[i].revents)
			job_read(sp, jmap[i]);
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
	if (str_appendf(&sp->msgpath, "%s/msg", sp->inst.queue_dir) < 0)
		die("out of memory");
	sp->msgdir = -1;
	str_free(&err);
	if (chdir("/") < 0)
		die("chdir /: %s", strerror(errno));
}

int
main(int argc, char **argv)
{
	struct spawner *sp;
	struct pollfd *pfd;
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
	pfd = calloc(SPAWNER_JOBS_MAX + 2, sizeof *pfd);
	if (sp == NULL || pfd == NULL)
		die("out of memory");
	umask(077);
	setup(sp, dir);
	setup_signals(sp);
	start_queued(sp);
	if (pidfile != NULL)
		pidfile_write(pidfile);
	log_open("spawner", sp->inst.log_stderr);
	log_info("started queued (pid %ld)", (long)sp->queued);
	while (sp->sock >= 0 || sp->queued > 0 || sp->njobs > 0)
		loop_once(sp, pfd);
	log_info("queued exited (status %d): stopping",
	    WIFEXITED(sp->queued_status) ? WEXITSTATUS(sp->queued_status) :
	    128 + WTERMSIG(sp->queued_status));
	str_clear(&sp->in);
	if (pidfile != NULL && fs_read_file(pidfile, 64, &sp->in) == 0 &&
	    strtol(str_cstr(&sp->in), NULL, 10) == (long)getpid())
		unlink(pidfile);
	return WIFEXITED(sp->queued_status) ?
	    WEXITSTATUS(sp->queued_status) : 1;
}
