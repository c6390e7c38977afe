/* SPDX-License-Identifier: ISC */
/*
 * zest start, stop, status: the instance's services.
 *
 * A service is a daemon with a pid file run_dir/NAME.pid and a log
 * log_dir/NAME.log (its stdout and stderr, appended).  A listener runs
 * under listen(8), which binds the port, writes the pid file itself and
 * starts the program per connection; another daemon (the queue's spawner)
 * is started directly and zest writes its pid file.  Daemons are detached
 * (own session, stdin /dev/null, cwd /) and never fork into the
 * background, so the pid zest starts is the pid it later stops.
 *
 * start returns once every listener's port accepts a connection and every
 * other daemon has stayed up for SVC_SETTLE_MS; if one fails, whatever
 * this start launched is stopped again.  stop sends SIGTERM to each pid
 * file's process (when the process is still the service's program, so a
 * reused pid is never signalled), waits, and sends SIGKILL to the
 * stragglers after SVC_STOP_MS.
 */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "fs.h"
#include "table.h"
#include "users.h"
#include "zest.h"

#define SVC_START_MS 10000	/* a service must be ready within this */
#define SVC_STOP_MS 10000	/* SIGTERM, then SIGKILL after this */
#define SVC_KILL_MS 5000	/* after SIGKILL, give up after this */
#define SVC_SETTLE_MS 300	/* a daemon without a port up this long */
#define SVC_POLL_MS 50
#define SVC_ARGV_MAX 32
#define SVC_BIN_MAX (256UL << 20)	/* largest queue-inject to copy */

/* Limits given to listen for a listener. */

/*
 * The services.  A listener (port != 0) is `listen ... PROGRAM -C DIR`,
 * whose children run as user when zest runs as root (listen -u); NULL
 * leaves the drop to the program, as smtpd does: it reads the TLS key,
 * which only root can, and drops to zest-smtpd before it reads a byte
 * from the client.  A client refused over the limits gets the line
 * "BUSY HOSTNAME too many connections...".
 */
struct service {
	const char *name;
	const char *program;	/* in libexec_dir */
	unsigned port;		/* standard port, 0: not a listener */
	const char *user;
	const char *busy;
	const char *flag;	/* an option for the program, e.g. -T */
};

static const struct service services[] = {
	{ "smtp", "smtpd", 25, NULL, "421 4.3.2", NULL },
	/* pop3d drops itself (lib/login); pop3s speaks TLS from the first
	 * byte, so a plain-text busy line would only garble the handshake */
	{ "pop3", "pop3d", 110, NULL, "-ERR [SYS/TEMP]", NULL },
	{ "pop3s", "pop3d", 995, NULL, NULL, "-T" },
	/* imapd too (lib/login) */
	{ "imap", "imapd", 143, NULL, "* BYE [UNAVAILABLE]", NULL },
	{ "imaps", "imapd", 993, NULL, NULL, "-T" },
	{ "queue", "spawner", 0, NULL, NULL, NULL },
	{ NULL, NULL, 0, NULL, NULL, NULL }
};

#define SVC_LISTEN "listen"

/* One service while start, stop or status works on it. */
struct svc {
	const struct service *def;
	struct str pidfile;
	struct str log;
	struct str prog;	/* libexec_dir/program */
	pid_t pid;		/* running (or launched) process, 0: none */
	int launched;		/* started by this command: zest is parent */
	int64_t since;		/* when launched (ms) */
	int ready;
};

/* The tables every instance has. */
static const char *const service_tables[] = {
	USERS_TABLE, "aliases", "domains", "routes", "relay-clients", NULL
};

/* Monotonic milliseconds. */
static int64_t
svc_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
svc_sleep(void)
{
	struct timespec ts = { 0, SVC_POLL_MS * 1000000L };

	nanosleep(&ts, NULL);
}

/* Check that path is a directory; prints the problem. */
static int
service_checkdir(const char *what, const char *path)
{
	struct stat st;

	errno = 0;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	zest_err("%s %s: %s", what, path, errno ? strerror(errno) :
	    "not a directory");
	return -1;
}

/* Check one table: its cdb opens; warn when the text is newer. */
static int
service_checktable(const struct instance *inst, const char *name)
{
	struct str p = STR_INIT;
	struct stat text, cdb;
	struct table *t;
	int r = -1;

	if (str_appendf(&p, "%s/%s.cdb", inst->tables_dir, name) < 0)
		goto out;
	if ((t = table_open(p.s)) == NULL) {
		zest_err("%s: %s (run zest makemap)", p.s, strerror(errno));
		goto out;
	}
	table_close(&t);
	r = 0;
	if (stat(p.s, &cdb) == 0) {
		str_truncate(&p, p.len - 4);
		if (stat(p.s, &text) == 0 && text.st_mtime > cdb.st_mtime)
			zest_err("warning: %s changed since it was compiled "
			    "(run zest makemap %s)", p.s, p.s);
	}
out:
	str_free(&p);
	return r;
}

/* Verify that the instance can run: directories, tables, TLS files. */
static int
service_check(const struct instance *inst)
{
	const char *const *t;
	int r = 0;

	r |= service_checkdir("mail_root", inst->mail_root);
	r |= service_checkdir("queue_dir", inst->queue_dir);
	r |= service_checkdir("tables_dir", inst->tables_dir);
	r |= service_checkdir("log_dir", inst->log_dir);
	for (t = service_tables; *t != NULL; t++)
		r |= service_checktable(inst, *t);
	if (access(inst->tls_cert, R_OK) < 0) {
		zest_err("tls_cert %s: %s", inst->tls_cert, strerror(errno));
		r = -1;
	}
	if (access(inst->tls_key, R_OK) < 0) {
		zest_err("tls_key %s: %s", inst->tls_key, strerror(errno));
		r = -1;
	}
	return r;
}

/* Fill the paths of each service; returns the number of services. */
static int
svc_load(const struct instance *inst, struct svc *v)
{
	int i;

	for (i = 0; services[i].name != NULL; i++) {
		memset(&v[i], 0, sizeof v[i]);
		v[i].def = &services[i];
		if (str_appendf(&v[i].pidfile, "%s/%s.pid", inst->run_dir,
		    services[i].name) < 0 ||
		    str_appendf(&v[i].log, "%s/%s.log", inst->log_dir,
		    services[i].name) < 0 ||
		    str_appendf(&v[i].prog, "%s/%s", inst->libexec_dir,
		    services[i].program) < 0) {
			zest_err("out of memory");
			exit(ZEST_FAIL);
		}
	}
	return i;
}

static void
svc_free(struct svc *v, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		str_free(&v[i].pidfile);
		str_free(&v[i].log);
		str_free(&v[i].prog);
	}
}

/* The program a service's pid runs: listen for a listener. */
static const char *
svc_daemon(const struct svc *s)
{
	return s->def->port ? SVC_LISTEN : s->def->program;
}

/* Read the service's pid file into s->pid: the process when it is alive
 * and the service's, else 0 (a stale pid file, removed when stale is set). */
static void
svc_find(struct svc *s, int remove_stale)
{
	pid_t pid = daemon_pidfile_read(s->pidfile.s);

	s->pid = 0;
	if (pid > 0 && daemon_alive(pid) && daemon_runs(pid, svc_daemon(s)))
		s->pid = pid;
	else if (access(s->pidfile.s, F_OK) == 0 && remove_stale) {
		if (unlink(s->pidfile.s) == 0)
			printf("zest: %s: removed the stale pid file %s\n",
			    s->def->name, s->pidfile.s);
	}
}

/* An argument vector under construction; formatted arguments are owned. */
struct svc_argv {
	char *v[SVC_ARGV_MAX + 1];
	char *owned[SVC_ARGV_MAX];
	int n;
	int nowned;
};

static void
svc_arg(struct svc_argv *a, const char *s)
{
	if (a->n < SVC_ARGV_MAX)
		a->v[a->n++] = (char *)s;
	a->v[a->n] = NULL;
}

static void svc_argf(struct svc_argv *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
svc_argf(struct svc_argv *a, const char *fmt, ...)
{
	struct str s = STR_INIT;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = str_vappendf(&s, fmt, ap);
	va_end(ap);
	if (r < 0 || a->nowned >= SVC_ARGV_MAX) {
		zest_err("out of memory");
		exit(ZEST_FAIL);
	}
	a->owned[a->nowned++] = s.s;
	svc_arg(a, s.s);
}

static void
svc_argv_free(struct svc_argv *a)
{
	while (a->nowned > 0)
		free(a->owned[--a->nowned]);
}

/* `-C DIR` for the instance's programs (nothing for the installed one). */
static void
svc_arg_instance(struct svc_argv *a, const struct instance *inst)
{
	if (inst->dir != NULL) {
		svc_arg(a, "-C");
		svc_arg(a, inst->dir);
	}
}

/* The configuration key "PREFIX_what" of service d's daemon: smtpd_,
 * imap_ (imapd) or pop3_ (pop3d). */
static const char *
svc_key(const struct service *d, const char *what)
{
	static char key[64];
	const char *prefix = strcmp(d->program, "imapd") == 0 ? "imap" :
	    strcmp(d->program, "pop3d") == 0 ? "pop3" : "smtpd";

	snprintf(key, sizeof key, "%s_%s", prefix, what);
	return key;
}

/* The command line of a service. */
static void
svc_command(const struct instance *inst, const struct svc *s,
    struct svc_argv *a)
{
	const struct service *d = s->def;

	memset(a, 0, sizeof *a);
	if (d->port == 0) {
		svc_arg(a, s->prog.s);
		svc_arg_instance(a, inst);
		return;
	}
	svc_argf(a, "%s/%s", inst->libexec_dir, SVC_LISTEN);
	svc_arg_instance(a, inst);
	/* each daemon its own limits: smtpd_, imap_, pop3_max_connections
	 * and _max_per_ip */
	svc_arg(a, "-c");
	svc_argf(a, "%llu", conf_num(inst->conf, svc_key(d, "max_connections")));
	svc_arg(a, "-i");
	svc_argf(a, "%llu", conf_num(inst->conf, svc_key(d, "max_per_ip")));
	/* smtpd serves many connections per process (listen's pool) unless
	 * smtpd_max_use is 1 */
	if (strcmp(d->program, "smtpd") == 0 &&
	    conf_num(inst->conf, "smtpd_max_use") > 1) {
		svc_arg(a, "-P");
		svc_argf(a, "%llu", conf_num(inst->conf, "smtpd_max_use"));
	}
	if (d->busy != NULL) {
		svc_arg(a, "-b");
		svc_argf(a, "%s %s too many connections, try again later",
		    d->busy, inst->hostname);
	}
	if (d->user != NULL && geteuid() == 0) {
		svc_arg(a, "-u");
		svc_arg(a, d->user);
	}
	svc_arg(a, "-p");
	svc_arg(a, s->pidfile.s);
	svc_arg(a, inst->listen_address);
	svc_argf(a, "%u", instance_port(inst, d->port));
	svc_arg(a, s->prog.s);
	svc_arg_instance(a, inst);
	if (d->flag != NULL)
		svc_arg(a, d->flag);
}

/* Whether the service's programs are missing from libexec_dir; prints
 * nothing. */
static int
svc_missing(const struct instance *inst, const struct svc *s)
{
	struct str p = STR_INIT;
	int missing = access(s->prog.s, X_OK) < 0;

	if (!missing && s->def->port != 0) {
		if (str_appendf(&p, "%s/%s", inst->libexec_dir,
		    SVC_LISTEN) < 0 || access(p.s, X_OK) < 0)
			missing = 1;
		str_free(&p);
	}
	return missing;
}

/* Launch the service detached; a daemon without a port gets its pid file
 * from here. */
static int
svc_spawn(const struct instance *inst, struct svc *s)
{
	struct str err = STR_INIT;
	struct svc_argv a;
	pid_t pid;
	int r = -1;

	svc_command(inst, s, &a);
	if ((pid = daemon_spawn(a.v, s->log.s, s->def->name, &err)) > 0) {
		s->pid = pid;
		s->launched = 1;
		s->since = svc_now();
		r = s->def->port != 0 ? 0 :
		    daemon_pidfile_write(s->pidfile.s, pid, &err);
	}
	if (r < 0)
		zest_err("%s: %s", s->def->name, str_cstr(&err));
	svc_argv_free(&a);
	str_free(&err);
	return r;
}

/* Whether a TCP connection to the listener's port succeeds. */
static int
svc_connect(const struct instance *inst, unsigned port)
{
	struct addrinfo hints, *res = NULL;
	struct timeval tv = { 1, 0 };
	const char *addr = inst->listen_address;
	char portbuf[16];
	int fd, r = -1;

	if (strcmp(addr, "0.0.0.0") == 0)
		addr = "127.0.0.1";
	else if (strcmp(addr, "::") == 0)
		addr = "::1";
	snprintf(portbuf, sizeof portbuf, "%u", port);	/* <= 5 digits */
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	if (getaddrinfo(addr, portbuf, &hints, &res) != 0)
		return -1;
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		r = connect(fd, res->ai_addr, res->ai_addrlen);
		close(fd);
	}
	freeaddrinfo(res);
	return r < 0 ? -1 : 0;
}

/* Whether a launched service is ready: 1 yes, 0 not yet, -1 it died. */
static int
svc_ready(const struct instance *inst, struct svc *s)
{
	int st;

	if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
		zest_err("%s: exited at start (%s %d); see %s", s->def->name,
		    WIFSIGNALED(st) ? "signal" : "status", WIFSIGNALED(st) ?
		    WTERMSIG(st) : WEXITSTATUS(st), s->log.s);
		if (daemon_pidfile_read(s->pidfile.s) == s->pid)
			(void)unlink(s->pidfile.s);
		s->pid = 0;
		return -1;
	}
	if (daemon_pidfile_read(s->pidfile.s) != s->pid)
		return 0;
	if (s->def->port != 0)
		return svc_connect(inst, instance_port(inst,
		    s->def->port)) == 0;
	return svc_now() - s->since >= SVC_SETTLE_MS;
}

/* Print where a running service is. */
static void
svc_print_where(const struct instance *inst, const struct svc *s)
{
	if (s->def->port != 0)
		printf(" on %s port %u", inst->listen_address,
		    instance_port(inst, s->def->port));
}

/* Wait until every launched service is ready.  Returns 0 or -1. */
static int
svc_wait_ready(const struct instance *inst, struct svc *v, int n)
{
	int64_t end = svc_now() + SVC_START_MS;
	int i, r, pending;

	for (;;) {
		pending = 0;
		for (i = 0; i < n; i++) {
			if (!v[i].launched || v[i].ready)
				continue;
			if ((r = svc_ready(inst, &v[i])) < 0)
				return -1;
			if (r == 0) {
				pending++;
				continue;
			}
			v[i].ready = 1;
			printf("zest: %s started, pid %ld", v[i].def->name,
			    (long)v[i].pid);
			svc_print_where(inst, &v[i]);
			putchar('\n');
		}
		if (pending == 0)
			return 0;
		if (svc_now() > end)
			break;
		svc_sleep();
	}
	for (i = 0; i < n; i++)
		if (v[i].launched && !v[i].ready)
			zest_err("%s: not ready after %d s; see %s",
			    v[i].def->name, SVC_START_MS / 1000, v[i].log.s);
	return -1;
}

/* Wait up to ms for the services with a pid to exit; those gone get pid
 * 0.  Returns how many are left. */
static int
svc_wait_gone(struct svc *v, int n, int ms)
{
	int64_t end = svc_now() + ms;
	int i, left;

	for (;;) {
		left = 0;
		for (i = 0; i < n; i++) {
			if (v[i].pid == 0)
				continue;
			if (daemon_alive(v[i].pid))
				left++;
			else {
				printf("zest: %s stopped, pid %ld\n",
				    v[i].def->name, (long)v[i].pid);
				v[i].pid = 0;
				if (unlink(v[i].pidfile.s) < 0 &&
				    errno != ENOENT)
					zest_err("%s: %s", v[i].pidfile.s,
					    strerror(errno));
			}
		}
		if (left == 0 || svc_now() > end)
			return left;
		svc_sleep();
	}
}

/* Stop every service with a pid: SIGTERM, then SIGKILL for those still
 * there after SVC_STOP_MS.  Returns 0 when all are gone. */
static int
svc_stop_all(struct svc *v, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (v[i].pid != 0 && kill(v[i].pid, SIGTERM) < 0 &&
		    errno != ESRCH)
			zest_err("%s: kill %ld: %s", v[i].def->name,
			    (long)v[i].pid, strerror(errno));
	if (svc_wait_gone(v, n, SVC_STOP_MS) == 0)
		return 0;
	for (i = 0; i < n; i++) {
		if (v[i].pid == 0)
			continue;
		zest_err("%s: pid %ld still running after %d s: killing it",
		    v[i].def->name, (long)v[i].pid, SVC_STOP_MS / 1000);
		(void)kill(v[i].pid, SIGKILL);
	}
	if (svc_wait_gone(v, n, SVC_KILL_MS) == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (v[i].pid != 0)
			zest_err("%s: pid %ld does not go away",
			    v[i].def->name, (long)v[i].pid);
	return -1;
}

/* Copy the file src to dst (replaced atomically), owned by uid:gid with
 * mode (set after the chown, which would clear set-id bits). */
static int
svc_copy(const char *src, const char *dst, uid_t uid, gid_t gid,
    mode_t mode)
{
	struct str data = STR_INIT, tmp = STR_INIT;
	int fd = -1, r = -1;

	if (fs_read_file(src, SVC_BIN_MAX, &data) < 0) {
		zest_err("%s: %s", src, strerror(errno));
		goto out;
	}
	if ((fd = fs_tmp_create(dst, 0700, &tmp)) < 0 ||
	    fs_write_all(fd, data.s, data.len) < 0 ||
	    fchown(fd, uid, gid) < 0 || fchmod(fd, mode) < 0) {
		zest_err("%s: %s", dst, strerror(errno));
		if (fd >= 0)
			fs_tmp_abort(fd, tmp.s);
		goto out;
	}
	if (fs_tmp_commit(fd, tmp.s, dst) < 0) {
		zest_err("%s: %s", dst, strerror(errno));
		goto out;
	}
	r = 0;
out:
	str_free(&data);
	str_free(&tmp);
	return r;
}

/* A set-ID program may go under dir only when nobody but root can change
 * it: a directory owned by root, writable by no one else.  Returns 0, or
 * -1 with errno (EPERM when it is not so). */
static int
svc_rootdir(const char *dir)
{
	struct stat st;

	if (lstat(dir, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

/*
 * Root only.  queue-inject must run setuid/setgid zest-queue; when
 * libexec_dir's is not (a build tree), give the instance a private copy
 * run_dir/bin/queue-inject that is, which instance_queue_inject() hands
 * to the programs.  An installed one makes any such copy go away.
 */
static int
svc_queue_inject(const struct instance *inst)
{
	struct str src = STR_INIT, dst = STR_INIT, err = STR_INIT;
	struct stat st;
	uid_t uid;
	gid_t gid;
	int r = -1;

	if (str_appendf(&src, "%s/queue-inject", inst->libexec_dir) < 0 ||
	    str_appendf(&dst, "%s/bin", inst->run_dir) < 0) {
		zest_err("out of memory");
		goto out;
	}
	if (stat(src.s, &st) < 0) {
		r = 0;		/* not built yet: nothing to do */
		goto out;
	}
	if (zest_sysuser(ZEST_USER_QUEUE, &uid, &gid, &err) != 1) {
		zest_err("%s", err.len ? err.s : "no user " ZEST_USER_QUEUE);
		goto out;
	}
	if (fs_mkdir_p(dst.s, 0755) < 0 || svc_rootdir(inst->run_dir) < 0 ||
	    svc_rootdir(dst.s) < 0 || str_appends(&dst, "/queue-inject") < 0) {
		zest_err("%s: %s", dst.s, strerror(errno));
		goto out;
	}
	if (st.st_uid == uid && st.st_gid == gid &&
	    (st.st_mode & 07777) == 06755) {
		(void)unlink(dst.s);
		r = 0;
	} else
		r = svc_copy(src.s, dst.s, uid, gid, 06755);
out:
	str_free(&src);
	str_free(&dst);
	str_free(&err);
	return r;
}

#define SVC_MAX (sizeof services / sizeof services[0])

/* Launch the services not running yet.  Returns the number launched, or
 * -1 when one could not be launched. */
static int
svc_launch_all(const struct instance *inst, struct svc *v, int n)
{
	int i, launched = 0;

	for (i = 0; i < n; i++) {
		svc_find(&v[i], 1);
		if (v[i].pid != 0) {
			printf("zest: %s already running, pid %ld\n",
			    v[i].def->name, (long)v[i].pid);
			continue;
		}
		if (svc_missing(inst, &v[i])) {
			printf("zest: %s skipped: %s%s not in %s\n",
			    v[i].def->name, v[i].def->program,
			    v[i].def->port ? " or " SVC_LISTEN : "",
			    inst->libexec_dir);
			continue;
		}
		if (svc_spawn(inst, &v[i]) < 0)
			return -1;
		launched++;
	}
	return launched;
}

/* run_dir/empty, the chroot of pop3d's and imapd's pre-login processes
 * (lib/login), for instances made before zest init created it: empty,
 * mode 0555, owned by whoever runs the instance. */
static int
svc_empty_dir(const struct instance *inst)
{
	struct str p = STR_INIT;
	int r;

	if (str_appendf(&p, "%s/empty", inst->run_dir) < 0)
		return -1;
	r = mkdir(p.s, 0555);
	if (r < 0 && errno == EEXIST)
		r = 0;
	str_free(&p);
	return r;
}

int
cmd_start(struct instance *inst, int argc, char **argv)
{
	struct svc v[SVC_MAX];
	int i, n, launched, r = ZEST_FAIL;

	if (argc != 1)
		return zest_usage("start");
	if (service_check(inst) < 0)
		return ZEST_FAIL;
	if (fs_mkdir_p(inst->run_dir, 0755) < 0 || svc_empty_dir(inst) < 0) {
		zest_err("%s: %s", inst->run_dir, strerror(errno));
		return ZEST_FAIL;
	}
	if (geteuid() == 0 && svc_queue_inject(inst) < 0)
		return ZEST_FAIL;
	if (geteuid() != 0)
		printf("zest: not run as root: every service runs as uid %ld\n",
		    (long)geteuid());
	n = svc_load(inst, v);
	launched = svc_launch_all(inst, v, n);
	if (launched < 0 || svc_wait_ready(inst, v, n) < 0) {
		/* Undo this start: stop only what it launched. */
		for (i = 0; i < n; i++)
			if (!v[i].launched)
				v[i].pid = 0;
		svc_stop_all(v, n);
		zest_err("start failed");
		goto out;
	}
	printf("zest: %s\n", launched > 0 ? "started" : "nothing to start");
	r = ZEST_OK;
out:
	svc_free(v, n);
	return r;
}

int
cmd_stop(struct instance *inst, int argc, char **argv)
{
	struct svc v[SVC_MAX];
	int i, n, running = 0, r = ZEST_OK;

	if (argc != 1)
		return zest_usage("stop");
	n = svc_load(inst, v);
	for (i = 0; i < n; i++) {
		svc_find(&v[i], 1);
		running += v[i].pid != 0;
	}
	if (running == 0)
		printf("zest: was not running\n");
	else if (svc_stop_all(v, n) < 0)
		r = ZEST_FAIL;
	else
		printf("zest: stopped\n");
	svc_free(v, n);
	return r;
}

static int
service_count(const char *key, const char *value, void *arg)
{
	(*(unsigned long *)arg)++;
	return 0;
}

/* Print the number of users, or why it is unknown. */
static void
service_users(const struct instance *inst)
{
	struct str p = STR_INIT;
	unsigned long n = 0;
	struct table *t = NULL;

	if (str_appendf(&p, "%s/%s.cdb", inst->tables_dir, USERS_TABLE) == 0 &&
	    (t = table_open(p.s)) != NULL && table_foreach(t, service_count,
	    &n) == 0)
		printf("users: %lu\n", n);
	else
		printf("users: unknown (%s: %s)\n", p.s ? p.s : "users",
		    strerror(errno));
	table_close(&t);
	str_free(&p);
}

int
cmd_status(struct instance *inst, int argc, char **argv)
{
	struct svc v[SVC_MAX];
	int i, n, installed = 0, running = 0;

	if (argc != 1)
		return zest_usage("status");
	printf("instance: %s\n", inst->dir ? inst->dir : inst->conf_path);
	printf("domain: %s\nhostname: %s\nport base: %u\n", inst->domain,
	    inst->hostname, inst->port_base);
	service_users(inst);
	n = svc_load(inst, v);
	for (i = 0; i < n; i++) {
		svc_find(&v[i], 0);
		printf("service %s: ", v[i].def->name);
		if (v[i].pid != 0)
			printf("running, pid %ld", (long)v[i].pid);
		else if (svc_missing(inst, &v[i]))
			printf("not installed");
		else
			printf("stopped");
		svc_print_where(inst, &v[i]);
		putchar('\n');
		installed += v[i].pid != 0 || !svc_missing(inst, &v[i]);
		running += v[i].pid != 0;
	}
	printf("state: %s\n", running == 0 ? "stopped" : running < installed ?
	    "partly running" : "running");
	svc_free(v, n);
	return ZEST_OK;
}
