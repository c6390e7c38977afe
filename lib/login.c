/* SPDX-License-Identifier: ISC */
/*
 * login: the three processes of a mail access connection (see login.h):
 * login_main forks the pre-login child and runs the checker; the pre-login
 * side talks to the checker through the login_client_* calls; the checker
 * starts the session process for the user it verified.
 */
#include "login.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "priv.h"
#include "sasl.h"
#include "users.h"

/* Exit statuses of the processes (sysexits). */
#define LOGIN_EX_OK 0
#define LOGIN_EX_USAGE 64
#define LOGIN_EX_SOFTWARE 70
#define LOGIN_EX_TEMPFAIL 75

#define LOGIN_PROXY_BUF 16384	/* a whole TLS record of plain text */
#define LOGIN_PROXY_MS (10 * 60 * 1000)	/* a stalled write gives up */

/* The numeric form of a socket address into ip; "" when not IP. */
static void
login_ntop(const struct sockaddr_storage *ss, char *ip, size_t n)
{
	const struct sockaddr_in6 *s6;

	ip[0] = '\0';
	if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr,
		    ip, (socklen_t)n);
	else if (ss->ss_family == AF_INET6) {
		s6 = (const struct sockaddr_in6 *)ss;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			inet_ntop(AF_INET, s6->sin6_addr.s6_addr + 12, ip,
			    (socklen_t)n);
		else
			inet_ntop(AF_INET6, &s6->sin6_addr, ip, (socklen_t)n);
	}
}

void
login_peer(int fd, char *ip, size_t n, int *local_r)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	unsigned char buf[16];
	char me[64];
	const char *env;

	ip[0] = '\0';
	*local_r = 0;
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0) {
		login_ntop(&ss, ip, n);
		len = sizeof ss;
		/* the client is this host when it connects from the very
		 * address it connected to (Dovecot's rule for the local
		 * host), or from loopback */
		if (ip[0] != '\0' && getsockname(fd, (struct sockaddr *)&ss,
		    &len) == 0) {
			login_ntop(&ss, me, sizeof me);
			*local_r = strcmp(me, ip) == 0 ||
			    strncmp(ip, "127.", 4) == 0 ||
			    strcmp(ip, "::1") == 0;
		}
		if (ip[0] != '\0')
			return;
	}
	env = getenv("TCPREMOTEIP");
	if (env != NULL && strlen(env) < n &&
	    (inet_pton(AF_INET, env, buf) == 1 ||
	    inet_pton(AF_INET6, env, buf) == 1))
		memcpy(ip, env, strlen(env) + 1);
}

/* An RFC 1939 timestamp: <random.pid.time@hostname>, unique per
 * connection. */
static void
login_challenge(const struct instance *inst, char *buf, size_t n)
{
	char rnd[LOG_SID_LEN + 1];

	log_new_session_id(rnd, sizeof rnd);
	if ((size_t)snprintf(buf, n, "<%s.%ld.%lld@%s>", rnd, (long)getpid(),
	    (long long)time(NULL), inst->hostname) >= n)
		snprintf(buf, n, "<%s.%ld.%lld@localhost>", rnd,
		    (long)getpid(), (long long)time(NULL));
}

/* ---- the pre-login side ---- */

/* Send a request and read the answer: LOGIN_YES/NO/TEMP/CLOSE. */
static int
client_ask(struct login_client *lc, unsigned char type, size_t nfield,
    const char *const *field, const size_t *len, int *fd_r)
{
	struct str buf = STR_INIT;
	unsigned char reply;
	int r;

	if (fd_r != NULL)
		*fd_r = -1;
	if (login_frame_send(lc->fd, type, nfield, field, len, -1) < 0)
		return LOGIN_CLOSE;
	r = login_frame_recv(lc->fd, &reply, &buf, fd_r);
	str_free(&buf);
	if (r <= 0)
		return LOGIN_CLOSE;
	if (reply != 'Y' && fd_r != NULL && *fd_r >= 0) {
		close(*fd_r);
		*fd_r = -1;
	}
	switch (reply) {
	case 'Y':
		return LOGIN_YES;
	case 'N':
		return LOGIN_NO;
	case 'T':
		return LOGIN_TEMP;
	default:
		return LOGIN_CLOSE;
	}
}

int
login_client_password(struct login_client *lc, const char *user,
    const char *pw)
{
	const char *f[2] = { user, pw };
	size_t len[2] = { strlen(user), strlen(pw) };

	return client_ask(lc, 'P', 2, f, len, NULL);
}

int
login_client_apop(struct login_client *lc, const char *user,
    const char *digest)
{
	const char *f[2] = { user, digest };
	size_t len[2] = { strlen(user), strlen(digest) };

	return client_ask(lc, 'A', 2, f, len, NULL);
}

/* Write all of p to fd (a blocking socketpair end). */
static int
proxy_write_fd(int fd, const unsigned char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
login_proxy(struct io *io, int cfd, int sfd)
{
	unsigned char buf[LOGIN_PROXY_BUF];
	struct pollfd pfd[2];
	ssize_t n;

	io_set_timeouts(io, LOGIN_PROXY_MS, LOGIN_PROXY_MS);
	for (;;) {
		/* bytes the io holds already: no poll would announce them */
		if (io_pending(io) == 0) {
			pfd[0].fd = cfd;
			pfd[0].events = POLLIN;
			pfd[1].fd = sfd;
			pfd[1].events = POLLIN;
			pfd[0].revents = pfd[1].revents = 0;
			if (poll(pfd, 2, -1) < 0) {
				if (errno == EINTR)
					continue;
				return -1;
			}
		} else {
			pfd[0].revents = POLLIN;
			pfd[1].revents = 0;
		}
		if (pfd[1].revents != 0) {
			n = read(sfd, buf, sizeof buf);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return 0;	/* the session ended */
			if (io_write(io, buf, (size_t)n) < 0 ||
			    io_flush(io) < 0)
				return -1;
		}
		if (pfd[0].revents != 0) {
			n = io_read(io, buf, sizeof buf);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				/* the client left: let the session see EOF
				 * and finish (a POP3 session then keeps its
				 * deletions undone) */
				(void)shutdown(sfd, SHUT_WR);
				return 0;
			}
			if (proxy_write_fd(sfd, buf, (size_t)n) < 0)
				return 0;
		}
	}
}

int
login_client_start(struct login_client *lc, const char *user,
    const char *resume, struct io *io, struct tls_session *tls)
{
	const char *f[4];
	size_t len[4];
	int sfd = -1, r;

	f[0] = user;
	len[0] = strlen(user);
	f[1] = tls != NULL ? "T" : "";
	len[1] = tls != NULL ? 1 : 0;
	f[2] = resume != NULL ? resume : "";
	len[2] = strlen(f[2]);
	f[3] = (const char *)io->rbuf + io->rpos;
	len[3] = io_pending(io);
	r = client_ask(lc, 'L', 4, f, len, tls != NULL ? &sfd : NULL);
	io_discard_pending(io);
	if (r != LOGIN_YES || tls == NULL)
		return r;
	if (sfd < 0)
		return LOGIN_CLOSE;
	/* the checker socket is of no more use: nothing is verified here
	 * any more */
	close(lc->fd);
	lc->fd = -1;
	login_proxy(io, io->rfd, sfd);
	close(sfd);
	return LOGIN_YES;
}

char **
login_session_argv(const struct instance *inst, const char *daemon,
    int verbose, const char **prog_r)
{
	static char exe[PATH_MAX];
	static char *argv[6];
	char *slash;
	ssize_t n;
	int i = 0;

	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (slash == NULL || (size_t)(slash + 1 - exe) + strlen(daemon) +
	    sizeof("-session") > sizeof exe)
		return NULL;
	snprintf(slash + 1, sizeof exe - (size_t)(slash + 1 - exe),
	    "%s-session", daemon);
	*prog_r = exe;
	argv[i++] = (char *)daemon;
	argv[i++] = "-S";
	if (inst->dir != NULL) {
		argv[i++] = "-C";
		argv[i++] = inst->dir;
	}
	if (verbose)
		argv[i++] = "-v";
	argv[i] = NULL;
	return argv;
}

/* ---- the checker ---- */

/* Everything the checker keeps for its connection. */
struct login_conn {
	const struct login_config *cfg;
	char ip[64];
	int local;
	char challenge[LOGIN_CHALLENGE_MAX];
	char sid[LOG_SID_MAX];
	pid_t prelogin;
	int root;
};

/* Put fd at number want (dup2), or fail. */
static int
login_dup(int fd, int want)
{
	if (fd == want)
		return fcntl(fd, F_SETFD, 0);
	return dup2(fd, want) < 0 ? -1 : 0;
}

/* Become the session program: descriptors, environment, ids, exec. */
static void __attribute__((noreturn))
session_exec(struct login_conn *lc, const struct user *u,
    const struct login_start *st, int cfd, int pfd)
{
	const struct login_config *cfg = lc->cfg;
	int fd;

	if (login_dup(cfd, 0) < 0 || login_dup(0, 1) < 0 ||
	    login_dup(pfd, 3) < 0)
		_exit(LOGIN_EX_TEMPFAIL);
	for (fd = 4; fd < 64; fd++)
		(void)close(fd);
	if (setenv("ZEST_LOGIN_USER", u->name, 1) < 0 ||
	    setenv("ZEST_LOGIN_RESUME", st->resume, 1) < 0 ||
	    setenv("ZEST_LOGIN_TLS", st->proxy ? "1" : "0", 1) < 0 ||
	    setenv("TCPREMOTEIP", lc->ip, 1) < 0 ||
	    setenv("ZEST_SESSION", lc->sid, 1) < 0)
		_exit(LOGIN_EX_TEMPFAIL);
	if (lc->root && priv_drop(u->uid, u->gid, NULL) < 0) {
		log_err("cannot become uid %lu for %s", (unsigned long)u->uid,
		    u->name);
		_exit(LOGIN_EX_TEMPFAIL);
	}
	if (chdir(u->maildir) < 0) {
		log_err("%s: %s", u->maildir, strerror(errno));
		_exit(LOGIN_EX_TEMPFAIL);
	}
	execv(cfg->session_prog != NULL ? cfg->session_prog :
	    cfg->session_argv[0], cfg->session_argv);
	log_err("exec %s: %s", cfg->session_prog != NULL ? cfg->session_prog :
	    cfg->session_argv[0], strerror(errno));
	_exit(LOGIN_EX_TEMPFAIL);
}

/* What the checker keeps between accepting an 'L' request and becoming
 * the session. */
struct login_ready {
	struct user u;
	int pfd;		/* read end of the pending-bytes pipe */
	int cfd;		/* the session's client: 0, or its end of the
				 * relay socketpair */
	int proxy;
	char *resume;
};

static void
ready_free(struct login_ready *rd)
{
	if (rd->pfd >= 0)
		close(rd->pfd);
	if (rd->cfd > 0)
		close(rd->cfd);
	users_free(&rd->u);
	free(rd->resume);
	rd->pfd = rd->cfd = -1;
	rd->resume = NULL;
}

/* Prepare the session of the verified user: its users entry, the pipe
 * holding the pending bytes and, with TLS, the relay socketpair, whose
 * pre-login end goes to *sfd_r (else -1).  Returns 0 or -1. */
static int
session_prepare(struct login_conn *lc, const struct login_start *st,
    struct login_ready *rd, int *sfd_r)
{
	struct str err = STR_INIT;
	int pp[2] = { -1, -1 }, sp[2] = { -1, -1 }, r = -1;

	*sfd_r = -1;
	memset(rd, 0, sizeof *rd);
	rd->pfd = rd->cfd = -1;
	if (users_lookup(lc->cfg->inst, st->user, &rd->u, &err) != 1) {
		log_err("user %s: %s", st->user, err.len ? err.s : "gone");
		goto out;
	}
	if (lc->root && rd->u.uid == 0) {
		log_err("user %s has uid 0: refused", rd->u.name);
		goto out;
	}
	if ((rd->resume = strdup(st->resume)) == NULL)
		goto out;
	/* the pending bytes are at most a read buffer: the pipe takes them
	 * without a reader */
	if (pipe2(pp, O_CLOEXEC) < 0 || (st->npending > 0 &&
	    write(pp[1], st->pending, st->npending) != (ssize_t)st->npending))
		goto out;
	close(pp[1]);
	pp[1] = -1;
	rd->pfd = pp[0];
	pp[0] = -1;
	rd->proxy = st->proxy;
	rd->cfd = 0;
	if (st->proxy) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
			goto out;
		rd->cfd = sp[1];
		*sfd_r = sp[0];
		sp[0] = sp[1] = -1;
	}
	log_info("login: %s, session pid %ld%s", rd->u.name, (long)getpid(),
	    st->proxy ? " (TLS relayed by the pre-login process)" : "");
	if (lc->cfg->pbs_minutes > 0 && lc->ip[0] != '\0' &&
	    login_pbs_record(lc->cfg->inst, lc->ip, lc->cfg->pbs_minutes) < 0)
		log_warn("POP-before-SMTP record for %s: %s", lc->ip,
		    strerror(errno));
	r = 0;
out:
	if (pp[0] >= 0)
		close(pp[0]);
	if (pp[1] >= 0)
		close(pp[1]);
	if (r < 0)
		ready_free(rd);
	str_free(&err);
	return r;
}

/*
 * Become the session: the checker's process (the one listen, inetd or
 * tcpserver started, whose exit they wait for) execs the session program
 * as the user, so a logged-in connection is one process (two with TLS:
 * the pre-login child stays as the relay).  Without TLS the pre-login
 * child exits as soon as it has the 'Y': reap it first; with TLS it lives
 * as long as the session and is reaped by the kernel when it ends
 * (SIGCHLD ignored across the exec).  Never returns.
 */
static void __attribute__((noreturn))
session_become(struct login_conn *lc, struct login_ready *rd, int sock)
{
	struct login_start st;

	close(sock);
	if (!rd->proxy && lc->prelogin > 0) {
		while (waitpid(lc->prelogin, NULL, 0) < 0 && errno == EINTR)
			;
		lc->prelogin = 0;
	} else {
		(void)signal(SIGCHLD, SIG_IGN);
	}
	memset(&st, 0, sizeof st);
	st.proxy = rd->proxy;
	st.resume = rd->resume;
	session_exec(lc, &rd->u, &st, rd->cfd, rd->pfd);
}

/* The client socket is the session's (or the pre-login's) now: drop the
 * checker's copies so the client sees the end when they close. */
static void
checker_release_client(void)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd >= 0) {
		(void)dup2(fd, 0);
		(void)dup2(fd, 1);
		if (fd > 1)
			close(fd);
	}
}

/* Serve the pre-login's requests until it is done; after a verified
 * login this process becomes the session (session_become). */
static void
checker_loop(struct login_conn *lc, int fd)
{
	const struct login_config *cfg = lc->cfg;
	struct login_checker c;
	struct login_start st;
	struct login_ready rd;
	struct str buf = STR_INIT, reason = STR_INIT;
	unsigned char type, reply;
	const char *f[1];
	size_t len[1];
	int r, sfd, ready;

	login_checker_init(&c, login_users_backend(), (void *)cfg->inst,
	    lc->challenge, cfg->max_failures, cfg->delay_ms);
	while (login_frame_recv(fd, &type, &buf, NULL) == 1) {
		sfd = -1;
		ready = 0;
		r = login_checker_handle(&c, type, buf.s, buf.len, &reply,
		    &reason, &st);
		if (r == 1) {
			ready = session_prepare(lc, &st, &rd, &sfd) == 0;
			reply = ready ? 'Y' : 'T';
			free(st.user);
			free(st.resume);
		}
		if (buf.s != NULL)
			explicit_bzero(buf.s, buf.len);
		if (reply == 'N' || reply == 'X')
			log_info("%s: %s", type == 'L' ? "start refused" :
			    "authentication failed", str_cstr(&reason));
		f[0] = reason.s != NULL ? reason.s : "";
		len[0] = reason.len;
		if (login_frame_send(fd, reply, 1, f, len, sfd) < 0 && ready) {
			log_err("the pre-login process is gone: no session");
			ready_free(&rd);
			ready = 0;
		}
		if (sfd >= 0)
			close(sfd);
		if (ready) {
			login_checker_free(&c);
			str_free(&buf);
			str_free(&reason);
			session_become(lc, &rd, fd);
		}
		if (r < 0 || c.started)
			break;
	}
	login_checker_free(&c);
	str_free(&buf);
	str_free(&reason);
}

/* No session started: wait for the pre-login child; its status is the
 * result. */
static int
checker_wait(struct login_conn *lc)
{
	int st, rc = LOGIN_EX_OK;
	pid_t pid;

	while ((pid = wait(&st)) > 0 || (pid < 0 && errno == EINTR)) {
		if (pid != lc->prelogin)
			continue;
		rc = WIFEXITED(st) ? WEXITSTATUS(st) : LOGIN_EX_SOFTWARE;
		if (WIFSIGNALED(st))
			log_warn("pre-login process %ld died of signal %d",
			    (long)pid, WTERMSIG(st));
	}
	return rc;
}

/* In the pre-login child: chroot to run_dir/empty and become zest-login
 * (only when root).  Returns 0 or -1. */
static int
prelogin_drop(const struct login_config *cfg, int root)
{
	struct str dir = STR_INIT;
	struct stat st;
	uid_t uid;
	gid_t gid;
	const char *chroot_dir = NULL;
	int r = -1;

	if (!root)
		return 0;
	if (priv_lookup(LOGIN_USER, &uid, &gid) < 0) {
		log_err("no user %s", LOGIN_USER);
		return -1;
	}
	if (str_appendf(&dir, "%s/%s", cfg->inst->run_dir,
	    LOGIN_EMPTY_DIR) < 0)
		goto out;
	/* only an empty root-owned directory nobody else can write is a
	 * chroot worth the name */
	if (lstat(dir.s, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == 0 &&
	    (st.st_mode & 0222) == 0)
		chroot_dir = dir.s;
	else
		log_warn("%s missing or not root-owned 0555: pre-login "
		    "process not chrooted", dir.s);
	if (!cfg->inst->log_stderr)
		openlog(cfg->service, LOG_PID | LOG_NDELAY, LOG_MAIL);
	r = priv_drop(uid, gid, chroot_dir);
	if (r < 0)
		log_err("cannot become %s: %s", LOGIN_USER, strerror(errno));
out:
	str_free(&dir);
	return r;
}

/* The pre-login child's life. */
static int
prelogin_run(struct login_conn *conn, int fd)
{
	const struct login_config *cfg = conn->cfg;
	struct login_client lc;

	memset(&lc, 0, sizeof lc);
	lc.fd = fd;
	lc.inst = cfg->inst;
	memcpy(lc.ip, conn->ip, sizeof lc.ip);
	lc.local = conn->local && cfg->local_exempt;
	lc.implicit_tls = cfg->implicit_tls;
	lc.tls_ctx = cfg->tls_ctx;
	lc.service = cfg->service;
	if (cfg->apop)
		memcpy(lc.challenge, conn->challenge, sizeof lc.challenge);
	/* libsasl2 loads its plugins now, before the chroot */
	if (cfg->sasl_app != NULL && zsasl_global_init(cfg->sasl_app) < 0) {
		log_err("libsasl2 initialisation failed");
		return LOGIN_EX_TEMPFAIL;
	}
	if (cfg->child_init != NULL && cfg->child_init(cfg->arg) < 0)
		return LOGIN_EX_TEMPFAIL;
	if (prelogin_drop(cfg, conn->root) < 0)
		return LOGIN_EX_TEMPFAIL;
	return cfg->prelogin(&lc, cfg->arg);
}

void
login_unavailable(const char *bye, const char *why)
{
	log_err("%s", why);
	(void)!write(1, bye, strlen(bye));
	exit(LOGIN_EX_TEMPFAIL);
}

struct tls_ctx *
login_tls_ctx(const struct instance *inst, int implicit, const char *bye)
{
	struct str err = STR_INIT;
	struct tls_ctx *ctx = NULL;

	if (inst->tls_cert != NULL && inst->tls_key != NULL &&
	    access(inst->tls_cert, R_OK) == 0) {
		/* With implicit TLS built now.  For STARTTLS/STLS only the
		 * files are read now (the key is root's) and the context is
		 * built by the first STARTTLS, in the chroot: building one
		 * was most of a connection's start-up (OpenSSL 3 fetches
		 * every algorithm), and most sessions on these ports never
		 * ask.  OpenSSL's configuration is loaded before the chroot,
		 * which is all it reads from files. */
		if (implicit)
			ctx = tls_server_ctx(inst->tls_cert, inst->tls_key,
			    &err);
		else if (tls_init() == 0)
			ctx = tls_server_ctx_deferred(inst->tls_cert,
			    inst->tls_key, &err);
		else
			str_appends(&err, "OpenSSL's initialisation failed");
		if (ctx == NULL)
			log_warn("no TLS: %s", str_cstr(&err));
	}
	str_free(&err);
	if (ctx == NULL && implicit)
		login_unavailable(bye, "implicit TLS (-T) without a usable "
		    "certificate");
	return ctx;
}

int
login_daemon_main(int argc, char **argv, const struct login_daemon *d)
{
	struct instance inst;
	struct login_config cfg;
	struct str err = STR_INIT;
	const char *dir = NULL;
	int c, implicit = 0, verbose = 0, rc;

	while ((c = getopt(argc, argv, "C:Tv")) != -1) {
		if (c == 'C')
			dir = optarg;
		else if (c == 'T')
			implicit = 1;
		else if (c == 'v')
			verbose = 1;
		else {
			fprintf(stderr, "usage: %s [-C DIR] [-T] [-v]\n",
			    d->name);
			return LOGIN_EX_USAGE;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	log_set_debug(verbose);
	log_open(d->name, 0);
	if (instance_open(dir, &inst, &err) < 0)
		login_unavailable(d->bye, str_cstr(&err));
	if (inst.log_stderr)
		log_open(d->name, 1);
	login_config_init(&cfg, &inst);
	cfg.service = d->name;
	cfg.implicit_tls = implicit;
	cfg.tls_ctx = login_tls_ctx(&inst, implicit, d->bye);
	cfg.apop = d->apop_key != NULL && conf_bool(inst.conf, d->apop_key);
	cfg.session_argv = login_session_argv(&inst, d->name, verbose,
	    &cfg.session_prog);
	if (cfg.session_argv == NULL)
		login_unavailable(d->bye,
		    "cannot find my own program (/proc/self/exe)");
	cfg.sasl_app = d->sasl_app;
	cfg.prelogin = d->prelogin;
	rc = login_main(&cfg);
	tls_ctx_free(&cfg.tls_ctx);
	instance_close(&inst);
	str_free(&err);
	return rc;
}

void
login_config_init(struct login_config *cfg, const struct instance *inst)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->inst = inst;
	cfg->local_exempt = conf_bool(inst->conf, "login_local_plaintext");
	cfg->max_failures = (unsigned)conf_num(inst->conf,
	    "login_max_failures");
	cfg->delay_ms = (unsigned)conf_num(inst->conf,
	    "login_failure_delay") * 1000;
	cfg->pbs_minutes = (unsigned)conf_num(inst->conf,
	    "pop_before_smtp_minutes");
}

int
login_main(const struct login_config *cfg)
{
	struct login_conn conn;
	int sv[2], rc, one = 1;
	const char *sid;

	memset(&conn, 0, sizeof conn);
	conn.cfg = cfg;
	conn.root = geteuid() == 0;
	/* replies are written whole (lib/io buffers them): without this the
	 * last segment of a multi-segment reply waits for the client's
	 * delayed ACK (Nagle), 40 ms a time on Linux */
	(void)setsockopt(0, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	login_peer(0, conn.ip, sizeof conn.ip, &conn.local);
	if (cfg->apop)
		login_challenge(cfg->inst, conn.challenge,
		    sizeof conn.challenge);
	log_new_session_id(conn.sid, LOG_SID_LEN + 1);
	sid = getenv("ZEST_SESSION");
	if (sid != NULL && *sid != '\0')
		snprintf(conn.sid, sizeof conn.sid, "%s", sid);
	log_set_session(conn.sid);
	if (!conn.root)
		log_info("not run as root: no uid change and no chroot for "
		    "the pre-login process");
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		log_err("socketpair: %s", strerror(errno));
		return LOGIN_EX_TEMPFAIL;
	}
	if ((conn.prelogin = fork()) < 0) {
		log_err("fork: %s", strerror(errno));
		return LOGIN_EX_TEMPFAIL;
	}
	if (conn.prelogin == 0) {
		close(sv[0]);
		_exit(prelogin_run(&conn, sv[1]));
	}
	close(sv[1]);
	checker_loop(&conn, sv[0]);
	close(sv[0]);
	checker_release_client();
	rc = checker_wait(&conn);
	return rc;
}
