/* SPDX-License-Identifier: ISC */
/*
 * smtpd [-C DIR] [-L] [-v]: serve one SMTP connection on fd 0/1 (see
 * smtpd(8)), launched by listen, tcpserver, inetd or systemd
 * (Accept=yes).
 *
 * Worker mode: started by listen -P with a control socket named by
 * ZEST_LISTEN_FD, smtpd does its setup once (configuration, TLS files,
 * privilege drop) and then serves the connections listen hands it, one
 * at a time, each in a fresh session, until listen closes the socket
 * (protocol in listen/listen.h and listen(8)).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "priv.h"
#include "smtpd.h"

/* The usage error, as sysexits EX_USAGE. */
#define SMTPD_EX_USAGE 64
/* A configuration or setup failure (sysexits EX_TEMPFAIL). */
#define SMTPD_EX_TEMPFAIL 75
/* Worker mode: listen(8)'s environment variable and message bound. */
#define MAIN_LISTEN_ENV "ZEST_LISTEN_FD"
#define MAIN_MSG_MAX 128
#define MAIN_MSG_FDS 4		/* room to see (and close) extra fds */

/* What identifies the version of a file: a rewritten or replaced file
 * differs in one of these. */
struct main_stamp {
	int missing;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

/* A worker's process-wide state. */
struct main_worker {
	const char *dir;		/* -C */
	struct instance *inst;
	const struct smtpd_tls *tls;	/* NULL: no STARTTLS */
	int ctl;			/* the control socket */
	struct main_stamp conf, cert, key;
	int retire;			/* this session is the last */
	int said;			/* done was said for this session */
};

static int main_receive(int ctl, int flags, int *fd_r, char *ip,
    size_t n);

/* Tell the client, then the log, that no service can be had.  A worker
 * has no client yet: it answers a connection already on its way, if
 * any. */
static void __attribute__((noreturn))
main_unavailable(int ctl, const char *why)
{
	static const char msg[] = "421 4.3.0 Service not available, closing "
	    "connection\r\n";
	char ip[64];
	int fd = 1;

	log_err("%s", why);
	if (ctl >= 0 && main_receive(ctl, MSG_DONTWAIT, &fd, ip,
	    sizeof ip) <= 0)
		fd = -1;
	if (fd >= 0)
		(void)!write(fd, msg, sizeof msg - 1);
	exit(SMTPD_EX_TEMPFAIL);
}

/* The client's address into ip (numeric, "" when unknown): from the
 * socket on fd 0, else from TCPREMOTEIP (tcpserver, or a test harness). */
static void
main_peer(char *ip, size_t n)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	const struct sockaddr_in6 *s6;
	unsigned char buf[16];
	const char *env;

	ip[0] = '\0';
	if (getpeername(0, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->
			    sin_addr, ip, (socklen_t)n);
		else if (ss.ss_family == AF_INET6) {
			s6 = (const struct sockaddr_in6 *)&ss;
			if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
				inet_ntop(AF_INET, s6->sin6_addr.s6_addr + 12,
				    ip, (socklen_t)n);
			else
				inet_ntop(AF_INET6, &s6->sin6_addr, ip,
				    (socklen_t)n);
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

/* Let go of what main_tls set up. */
static void
main_tls_close(struct smtpd_tls *t)
{
	if (t->cert_fd >= 0)
		close(t->cert_fd);
	if (t->key_fd >= 0)
		close(t->key_fd);
	free(t->relay);
	t->cert_fd = t->key_fd = -1;
	t->relay = NULL;
}

/* Open one TLS file for tlsrelay (as root: the key is root's only).
 * Returns the descriptor or -1 with errno. */
static int
main_tls_open(const char *path)
{
	return open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
}

/* tlsrelay's path into path: beside smtpd's own program (installed
 * together, as imapd and imapd-session are).  Returns 0 or -1 with
 * errno. */
static int
main_relay_path(struct str *path)
{
	char exe[PATH_MAX], *slash;
	ssize_t n;

	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return -1;
	exe[n] = '\0';
	if ((slash = strrchr(exe, '/')) == NULL) {
		errno = ENOENT;
		return -1;
	}
	*slash = '\0';
	return str_appendf(path, "%s/tlsrelay", exe);
}

/* What STARTTLS needs, into t: the certificate and key opened now, while
 * still root, and kept open for each tlsrelay (tlsrelay(8)); NULL when
 * they cannot be opened or tlsrelay is missing (no STARTTLS then). */
static const struct smtpd_tls *
main_tls(const struct instance *inst, struct smtpd_tls *t)
{
	struct str path = STR_INIT;

	t->cert_fd = t->key_fd = -1;
	t->relay = NULL;
	if (inst->tls_cert == NULL || inst->tls_key == NULL ||
	    (t->cert_fd = main_tls_open(inst->tls_cert)) < 0)
		return NULL;
	if ((t->key_fd = main_tls_open(inst->tls_key)) < 0)
		log_warn("no STARTTLS: %s: %s", inst->tls_key,
		    strerror(errno));
	else if (main_relay_path(&path) < 0)
		log_warn("no STARTTLS: cannot find my own program: %s",
		    strerror(errno));
	else if (access(path.s, X_OK) < 0)
		log_warn("no STARTTLS: %s: %s", path.s, strerror(errno));
	else {
		t->relay = str_steal(&path);
		return t;
	}
	str_free(&path);
	main_tls_close(t);
	return NULL;
}

/* Become SMTPD_USER when started as root (after reading the key). */
static void
main_drop(int ctl)
{
	uid_t uid;
	gid_t gid;

	if (geteuid() != 0)
		return;
	if (priv_lookup(SMTPD_USER, &uid, &gid) < 0)
		main_unavailable(ctl, "no user " SMTPD_USER);
	if (priv_drop(uid, gid, NULL) < 0)
		main_unavailable(ctl, "cannot drop privileges");
}

/* Worker mode: the control socket named by ZEST_LISTEN_FD, -1 when it is
 * not set.  The name leaves the environment, and the socket is
 * close-on-exec: queue-inject gets neither. */
static int
main_worker_fd(void)
{
	const char *env = getenv(MAIN_LISTEN_ENV);
	socklen_t len;
	char *end;
	long fd;
	int type;

	if (env == NULL)
		return -1;
	errno = 0;
	fd = strtol(env, &end, 10);
	len = sizeof type;
	if (*env < '0' || *env > '9' || *end != '\0' || errno != 0 ||
	    fd < 3 || fd > 1023 || getsockopt((int)fd, SOL_SOCKET, SO_TYPE,
	    &type, &len) < 0 || type != SOCK_SEQPACKET)
		main_unavailable(-1, MAIN_LISTEN_ENV " does not name a "
		    "control socket");
	(void)unsetenv(MAIN_LISTEN_ENV);
	(void)fcntl((int)fd, F_SETFD, FD_CLOEXEC);
	return (int)fd;
}

/* A port: 1 to 5 digits, at most 65535.  Returns 0 or -1. */
static int
main_port_ok(const char *s)
{
	size_t i, len = strlen(s);

	if (len == 0 || len > 5)
		return -1;
	for (i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return -1;
	return atol(s) <= 65535 ? 0 : -1;
}

/* A numeric IPv4 or IPv6 address.  Returns 0 or -1. */
static int
main_addr_ok(const char *s)
{
	unsigned char b[16];

	return inet_pton(AF_INET, s, b) == 1 ||
	    inet_pton(AF_INET6, s, b) == 1 ? 0 : -1;
}

/* The facts of a connection, "REMOTEIP REMOTEPORT LOCALIP LOCALPORT"
 * (len bytes at text, single spaces), checked field by field; the remote
 * address goes into ip.  Returns 0, or -1 for anything else. */
static int
main_facts(const char *text, size_t len, char *ip, size_t n)
{
	char buf[MAIN_MSG_MAX + 1], *f[4], *sp;
	int i;

	if (len == 0 || len > MAIN_MSG_MAX || memchr(text, '\0', len))
		return -1;
	memcpy(buf, text, len);
	buf[len] = '\0';
	f[0] = buf;
	for (i = 1; i < 4; i++) {
		if ((sp = strchr(f[i - 1], ' ')) == NULL)
			return -1;
		*sp = '\0';
		f[i] = sp + 1;
	}
	if (strchr(f[3], ' ') != NULL || main_addr_ok(f[0]) < 0 ||
	    main_port_ok(f[1]) < 0 || main_addr_ok(f[2]) < 0 ||
	    main_port_ok(f[3]) < 0 || strlen(f[0]) >= n)
		return -1;
	memcpy(ip, f[0], strlen(f[0]) + 1);
	return 0;
}

/* The descriptors of an SCM_RIGHTS message into fds (at most
 * MAIN_MSG_FDS).  Returns how many. */
static int
main_fds(struct msghdr *m, int *fds)
{
	struct cmsghdr *cm;
	size_t i, k;
	int nfd = 0;

	for (cm = CMSG_FIRSTHDR(m); cm != NULL; cm = CMSG_NXTHDR(m, cm)) {
		if (cm->cmsg_level != SOL_SOCKET ||
		    cm->cmsg_type != SCM_RIGHTS)
			continue;
		k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < k && nfd < MAIN_MSG_FDS; i++)
			memcpy(&fds[nfd++], CMSG_DATA(cm) + i * sizeof(int),
			    sizeof(int));
	}
	return nfd;
}

/* The next connection from listen: its descriptor into *fd_r and the
 * client's address into ip.  Returns 1; 0 when listen closed the socket
 * (or, with MSG_DONTWAIT, nothing is there); -1 for a malformed message
 * or a failed read (every descriptor that came is closed). */
static int
main_receive(int ctl, int flags, int *fd_r, char *ip, size_t n)
{
	char text[MAIN_MSG_MAX + 1];
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(MAIN_MSG_FDS * sizeof(int))];
	} u;
	struct iovec iov;
	struct msghdr m;
	int fds[MAIN_MSG_FDS], nfd, i;
	ssize_t r;

	memset(&m, 0, sizeof m);
	iov.iov_base = text;
	iov.iov_len = sizeof text;
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = u.buf;
	m.msg_controllen = sizeof u.buf;
	do
		r = recvmsg(ctl, &m, MSG_CMSG_CLOEXEC | flags);
	while (r < 0 && errno == EINTR);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (r < 0) {
		log_err("control socket: %s", strerror(errno));
		return -1;
	}
	nfd = main_fds(&m, fds);
	if (r == 0 && nfd == 0)
		return 0;
	if (nfd == 1 && (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) == 0 &&
	    main_facts(text, (size_t)r, ip, n) == 0) {
		*fd_r = fds[0];
		return 1;
	}
	for (i = 0; i < nfd; i++)
		close(fds[i]);
	log_err("malformed message from listen (%zd bytes, %d descriptors)",
	    r, nfd);
	return -1;
}

/* Record the version of path in st. */
static void
main_stamp(const char *path, struct main_stamp *st)
{
	struct stat sb;

	memset(st, 0, sizeof *st);
	if (path == NULL || stat(path, &sb) < 0) {
		st->missing = 1;
		return;
	}
	st->dev = sb.st_dev;
	st->ino = sb.st_ino;
	st->size = sb.st_size;
	st->mtime = sb.st_mtim;
}

/* Whether path is still the version st recorded. */
static int
main_stamp_same(const char *path, const struct main_stamp *st)
{
	struct main_stamp now;

	main_stamp(path, &now);
	return now.missing == st->missing && now.dev == st->dev &&
	    now.ino == st->ino && now.size == st->size &&
	    now.mtime.tv_sec == st->mtime.tv_sec &&
	    now.mtime.tv_nsec == st->mtime.tv_nsec;
}

static void
main_stamp_all(struct main_worker *w)
{
	main_stamp(w->inst->conf_path, &w->conf);
	main_stamp(w->inst->tls_cert, &w->cert);
	main_stamp(w->inst->tls_key, &w->key);
}

/* Whether a and b (NULL allowed) differ. */
static int
main_differ(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0);
}

/* Before a session: a zest.conf changed on disk is read again (it is
 * readable by zest-smtpd), so the session has the new settings.  The TLS
 * key can no longer be read, so changed TLS files (or a configuration
 * that cannot be read) retire the worker after this session; a fresh one
 * reads them.  Returns 1 to retire, 0 to go on. */
static int
main_refresh(struct main_worker *w)
{
	struct instance fresh;
	struct str err = STR_INIT;
	int retire = 0;

	if (!main_stamp_same(w->inst->conf_path, &w->conf)) {
		if (instance_open(w->dir, &fresh, &err) < 0) {
			log_warn("zest.conf changed but cannot be read: %s; "
			    "kept the old settings", str_cstr(&err));
			retire = 1;
		} else {
			retire = main_differ(fresh.tls_cert,
			    w->inst->tls_cert) || main_differ(fresh.tls_key,
			    w->inst->tls_key);
			if (fresh.log_stderr != w->inst->log_stderr)
				log_open("smtpd", fresh.log_stderr);
			instance_close(w->inst);
			*w->inst = fresh;
			log_info("zest.conf changed: read again");
		}
		main_stamp(w->inst->conf_path, &w->conf);
	}
	if (!main_stamp_same(w->inst->tls_cert, &w->cert) ||
	    !main_stamp_same(w->inst->tls_key, &w->key))
		retire = 1;
	str_free(&err);
	return retire;
}

/* Tell listen this session is done ('q': and retire me), once.  Returns
 * -1 when listen is gone. */
static int
main_done(struct main_worker *w)
{
	if (w->said)
		return 0;
	w->said = 1;
	return send(w->ctl, w->retire ? "q" : "d", 1, MSG_NOSIGNAL) == 1 ?
	    0 : -1;
}

/* At QUIT, before the 221: the client may connect again as soon as it
 * reads the 221, and listen must not count this session against the
 * limits any more by then (smtpd_max_per_ip would refuse a client that
 * keeps exactly that many sessions). */
static void
main_on_quit(void *arg)
{
	(void)main_done(arg);
}

/* Serve one connection: a fresh session (its own id, HELO, transaction,
 * counters, limits, tables and TLS state) on fd. */
static void
main_session(struct main_worker *w, struct smtpd *s, struct io *io, int fd,
    const char *ip)
{
	io_init(io, fd, fd);
	smtpd_init(s, w->inst, io, fd, fd, ip, w->tls);
	s->on_quit = main_on_quit;
	s->on_quit_arg = w;
	(void)smtpd_run(s);
	smtpd_free(s);
	log_set_session(NULL);
}

/* The worker's loop: say ready, then serve each connection listen sends
 * and say done ('q': done, and retire me), until listen closes the
 * control socket.  Returns the exit status. */
static int
main_worker(struct main_worker *w)
{
	struct smtpd *s;
	struct io *io;
	char ip[64];
	int fd, r;

	if ((s = calloc(1, sizeof *s)) == NULL ||
	    (io = calloc(1, sizeof *io)) == NULL)
		main_unavailable(w->ctl, "out of memory");
	if (send(w->ctl, "r", 1, MSG_NOSIGNAL) != 1)
		r = 0;	/* listen is gone already */
	else
		while ((r = main_receive(w->ctl, 0, &fd, ip, sizeof ip)) > 0) {
			w->retire = main_refresh(w);
			w->said = 0;
			main_session(w, s, io, fd, ip);
			close(fd);
			if (main_done(w) < 0)
				break;	/* listen stopped: end */
		}
	free(s);
	free(io);
	return r < 0 ? 1 : 0;
}

int
main(int argc, char **argv)
{
	struct main_worker w;
	struct instance inst;
	struct str err = STR_INIT;
	struct smtpd *s;
	struct io *io;
	struct smtpd_tls tls;
	const struct smtpd_tls *tlsp;
	const char *dir = NULL;
	char ip[64];
	int c, rc, ctl, local = 0;

	while ((c = getopt(argc, argv, "C:Lv")) != -1) {
		if (c == 'C')
			dir = optarg;
		else if (c == 'L')
			local = 1;
		else if (c == 'v')
			log_set_debug(1);
		else {
			fprintf(stderr, "usage: smtpd [-C DIR] [-L] [-v]\n");
			return SMTPD_EX_USAGE;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	log_open("smtpd", 0);
	ctl = local ? -1 : main_worker_fd();
	if (instance_open(dir, &inst, &err) < 0)
		main_unavailable(ctl, str_cstr(&err));
	if (inst.log_stderr)
		log_open("smtpd", 1);
	ip[0] = '\0';
	if (!local && ctl < 0)
		main_peer(ip, sizeof ip);
	/* a local session is no network connection: no STARTTLS */
	tls.cert_fd = tls.key_fd = -1;
	tls.relay = NULL;
	tlsp = local ? NULL : main_tls(&inst, &tls);
	main_drop(ctl);
	if (ctl >= 0) {
		memset(&w, 0, sizeof w);
		w.dir = dir;
		w.inst = &inst;
		w.tls = tlsp;
		w.ctl = ctl;
		/* after the drop, so that each later look sees the same: a
		 * file zest-smtpd cannot stat stays "missing" */
		main_stamp_all(&w);
		rc = main_worker(&w);
		goto out;
	}
	if ((s = calloc(1, sizeof *s)) == NULL ||
	    (io = calloc(1, sizeof *io)) == NULL)
		main_unavailable(-1, "out of memory");
	io_init(io, 0, 1);
	smtpd_init(s, &inst, io, 0, 1, ip, tlsp);
	s->local = local;
	rc = smtpd_run(s) == 0 ? 0 : 1;
	smtpd_free(s);
	free(s);
	free(io);
out:
	smtpd_inject_shutdown();
	main_tls_close(&tls);
	instance_close(&inst);
	str_free(&err);
	return rc;
}
