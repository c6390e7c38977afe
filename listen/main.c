/* SPDX-License-Identifier: ISC */
/*
 * listen [-v] [-C DIR] [-c MAXCONN] [-i MAXPERIP] [-P MAXUSE] [-u USER]
 *     [-p PIDFILE] [-b TEXT] ADDR PORT PROGRAM [ARG...]
 *
 * Bind ADDR:PORT, write the pid file, and run PROGRAM for each connection
 * with the connection on descriptors 0 and 1 and the UCSPI-TCP
 * environment, or with -P hand the connections to a pool of PROGRAM
 * workers (pool.c).  Signals arrive through a signalfd polled beside the
 * listening socket (and the workers' control sockets), so there are no
 * handlers and no global flags.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <unistd.h>

#include "fs.h"
#include "instance.h"
#include "listen.h"
#include "log.h"
#include "priv.h"
#include "str.h"

#define LISTEN_USAGE "usage: listen [-v] [-C dir] [-c maxconn] " \
	"[-i max-per-ip] [-P max-use] [-u user]\n" \
	"              [-p pidfile] [-b text] address port program " \
	"[arg ...]\n"
#define LISTEN_MAXCONN 40	/* default of -c, as tcpserver's */
#define LISTEN_LIMIT_MAX 65535	/* largest -c and -i */
#define LISTEN_BUSY_MAX 512	/* longest -b text */
#define LISTEN_BACKLOG 128
#define LISTEN_PIDFILE_MAX 64

struct listen_opts {
	const char *dir;
	const char *user;
	const char *pidfile;
	const char *addr;
	const char *port;
};

static void __attribute__((noreturn))
usage(void)
{
	fputs(LISTEN_USAGE, stderr);
	exit(EX_USAGE);
}

static void __attribute__((noreturn, format(printf, 2, 3)))
die(int code, const char *fmt, ...)
{
	struct str msg = STR_INIT;
	va_list ap;

	va_start(ap, fmt);
	if (str_vappendf(&msg, fmt, ap) < 0)
		str_appends(&msg, "out of memory");
	va_end(ap);
	log_err("%s", str_cstr(&msg));
	exit(code);
}

/* A decimal number from 0 to max. */
static unsigned
number(const char *s, unsigned max, const char *what)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 || n > max) {
		fprintf(stderr, "listen: invalid %s '%s' (0..%u)\n", what, s,
		    max);
		exit(EX_USAGE);
	}
	return (unsigned)n;
}

/* The -b text as the line to send: printable, CRLF added. */
static const char *
busy_line(const char *text, struct str *buf)
{
	size_t i;

	for (i = 0; text[i] != '\0'; i++)
		if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f) {
			fputs("listen: -b text must be printable\n", stderr);
			exit(EX_USAGE);
		}
	if (i > LISTEN_BUSY_MAX) {
		fprintf(stderr, "listen: -b text longer than %d bytes\n",
		    LISTEN_BUSY_MAX);
		exit(EX_USAGE);
	}
	if (str_appendf(buf, "%s\r\n", text) < 0)
		die(EX_OSERR, "out of memory");
	return buf->s;
}

static void
parse_args(int argc, char **argv, struct listen *l, struct listen_opts *o,
    struct str *busy)
{
	int c;

	l->maxconn = LISTEN_MAXCONN;
	while ((c = getopt(argc, argv, "+vC:c:i:P:u:p:b:")) != -1) {
		switch (c) {
		case 'v':
			l->verbose = 1;
			break;
		case 'C':
			o->dir = optarg;
			break;
		case 'c':
			l->maxconn = number(optarg, LISTEN_LIMIT_MAX,
			    "maximum of connections");
			break;
		case 'i':
			l->maxip = number(optarg, LISTEN_LIMIT_MAX,
			    "maximum of connections per address");
			break;
		case 'P':
			l->maxuse = number(optarg, LISTEN_LIMIT_MAX,
			    "maximum of connections per worker");
			if (l->maxuse == 0)
				usage();
			break;
		case 'u':
			o->user = optarg;
			break;
		case 'p':
			o->pidfile = optarg;
			break;
		case 'b':
			l->busy = busy_line(optarg, busy);
			break;
		default:
			usage();
		}
	}
	if (argc - optind < 3 || l->maxconn == 0)
		usage();
	o->addr = argv[optind];
	o->port = argv[optind + 1];
	l->prog = argv + optind + 2;
	if (number(o->port, 65535, "port") == 0)
		usage();
}

/* Bind and listen on addr:port (numeric only: no DNS at start-up). */
static int
bind_listen(const char *addr, const char *port)
{
	struct addrinfo hints, *res = NULL;
	int fd, on = 1, e;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
	if ((e = getaddrinfo(addr, port, &hints, &res)) != 0)
		die(EX_USAGE, "address %s port %s: %s", addr, port,
		    gai_strerror(e));
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0);
	if (fd < 0)
		die(EX_OSERR, "socket: %m");
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) < 0)
		die(EX_OSERR, "SO_REUSEADDR: %m");
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0)
		die(EX_UNAVAILABLE, "bind %s port %s: %m", addr, port);
	if (listen(fd, LISTEN_BACKLOG) < 0)
		die(EX_OSERR, "listen %s port %s: %m", addr, port);
	freeaddrinfo(res);
	return fd;
}

/* The pid recorded in path, 0 when none can be read. */
static long
pidfile_read(const char *path)
{
	struct str buf = STR_INIT;
	char *end;
	long pid = 0;

	if (fs_read_file(path, LISTEN_PIDFILE_MAX, &buf) == 0 && buf.len > 0) {
		pid = strtol(buf.s, &end, 10);
		if (pid < 0 || (*end != '\n' && *end != '\0'))
			pid = 0;
	}
	str_free(&buf);
	return pid;
}

/* Write our pid to path, unless a live process is recorded there. */
static void
pidfile_write(const char *path)
{
	struct str text = STR_INIT;
	long old = pidfile_read(path);

	if (old > 0 && old != (long)getpid() &&
	    (kill((pid_t)old, 0) == 0 || errno == EPERM))
		die(EX_UNAVAILABLE, "%s: already running as pid %ld", path,
		    old);
	if (str_appendf(&text, "%ld\n", (long)getpid()) < 0)
		die(EX_OSERR, "out of memory");
	if (fs_write_atomic(path, text.s, text.len, 0644) < 0)
		die(EX_CANTCREAT, "%s: %m", path);
	str_free(&text);
}

/* Remove path if it still names this process. */
static void
pidfile_remove(const char *path)
{
	if (pidfile_read(path) == (long)getpid() && unlink(path) < 0)
		log_warn("%s: %m", path);
}

/* Look up the user the children run as; only root can switch. */
static void
setup_user(struct listen *l, const char *user)
{
	if (user == NULL)
		return;
	if (geteuid() != 0) {
		log_warn("not running as root: -u %s ignored", user);
		return;
	}
	if (priv_lookup(user, &l->uid, &l->gid) < 0)
		die(EX_NOUSER, "user %s: %s", user, errno == ENOENT ?
		    "no such user" : strerror(errno));
	l->drop = 1;
}

/* Block the signals listen handles and return a signalfd for them. */
static int
setup_signals(struct listen *l)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, &l->childmask) < 0)
		die(EX_OSERR, "sigprocmask: %m");
	if ((fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		die(EX_OSERR, "signalfd: %m");
	return fd;
}

/* Read the pending signals: returns 1 when asked to stop. */
static int
read_signals(int sfd)
{
	struct signalfd_siginfo si;
	int stop = 0;

	while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si)
		if (si.ssi_signo != SIGCHLD)
			stop = 1;
	return stop;
}

/* The descriptors to poll: the listening socket, the signalfd, and in
 * pool mode the workers' control sockets (who[i] the slot of p[i]).
 * Returns their number. */
static nfds_t
poll_set(const struct listen *l, int sfd, struct pollfd *p, unsigned *who)
{
	nfds_t n = 2;
	unsigned i;

	memset(p, 0, 2 * sizeof *p);
	p[0].fd = l->fd;
	p[0].events = POLLIN;
	p[1].fd = sfd;
	p[1].events = POLLIN;
	for (i = 0; l->maxuse > 0 && i < l->maxconn; i++)
		if (l->kids[i].ctl >= 0) {
			p[n].fd = l->kids[i].ctl;
			p[n].events = POLLIN;
			p[n].revents = 0;
			who[n++] = i;
		}
	return n;
}

/* Serve until SIGTERM, SIGINT or SIGHUP. */
static void
serve(struct listen *l, int sfd, struct pollfd *p, unsigned *who)
{
	struct listen_child *k;
	nfds_t i, n;
	int timeout = -1;

	for (;;) {
		if (l->maxuse > 0)
			timeout = pool_tend(l);
		n = poll_set(l, sfd, p, who);
		if (poll(p, n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			die(EX_OSERR, "poll: %m");
		}
		if ((p[1].revents & POLLIN) && read_signals(sfd))
			return;
		/* Workers first, so that one just done takes the next
		 * connection; a slot's descriptor is checked again, as an
		 * earlier event may have closed it. */
		for (i = 2; i < n; i++) {
			k = &l->kids[who[i]];
			if (p[i].revents != 0 && k->ctl == p[i].fd)
				pool_event(l, k);
		}
		conn_reap(l);
		if (p[0].revents & POLLIN)
			conn_accept(l);
	}
}

/* The start-up line: where, for what, within which limits. */
static void
log_listening(const struct listen *l, const struct listen_opts *o)
{
	char ip[32] = "", pool[64] = "";

	if (l->maxip > 0)
		snprintf(ip, sizeof ip, ", %u per address", l->maxip);
	if (l->maxuse > 0)
		snprintf(pool, sizeof pool, "; pool of workers, %u "
		    "connections each", l->maxuse);
	log_info("listening on %s port %s for %s (at most %u connections%s)"
	    "%s", o->addr, o->port, l->prog[0], l->maxconn, ip, pool);
}

int
main(int argc, char **argv)
{
	struct listen_opts o;
	struct listen l;
	struct instance inst;
	struct str err = STR_INIT, busy = STR_INIT;
	struct pollfd *pfd;
	unsigned *who;
	int sfd, to_stderr = 1;

	memset(&o, 0, sizeof o);
	memset(&l, 0, sizeof l);
	memset(&inst, 0, sizeof inst);
	log_open("listen", 1);
	parse_args(argc, argv, &l, &o, &busy);
	if (o.dir != NULL) {
		if (instance_open(o.dir, &inst, &err) < 0)
			die(EX_CONFIG, "%s", str_cstr(&err));
		to_stderr = inst.log_stderr;
		instance_close(&inst);
	}
	if ((l.kids = calloc(l.maxconn, sizeof *l.kids)) == NULL ||
	    (pfd = calloc(l.maxconn + 2, sizeof *pfd)) == NULL ||
	    (who = calloc(l.maxconn + 2, sizeof *who)) == NULL ||
	    (l.maxuse > 0 && pool_init(&l) < 0))
		die(EX_OSERR, "out of memory");
	setup_user(&l, o.user);
	sfd = setup_signals(&l);
	l.fd = bind_listen(o.addr, o.port);
	if (o.pidfile != NULL)
		pidfile_write(o.pidfile);
	/* Start-up errors went to stderr; from now on the instance's log. */
	log_open("listen", to_stderr);
	log_listening(&l, &o);
	serve(&l, sfd, pfd, who);
	close(l.fd);
	if (l.maxuse > 0)
		pool_stop(&l);
	if (o.pidfile != NULL)
		pidfile_remove(o.pidfile);
	log_info("stopped listening; %u connection(s) still running",
	    l.nbusy);
	free(l.kids);
	free(l.pending);
	free(pfd);
	free(who);
	str_free(&busy);
	str_free(&err);
	return 0;
}
