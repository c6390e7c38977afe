/* SPDX-License-Identifier: ISC */
/*
 * smtpd: STARTTLS (RFC 3207) through tlsrelay(8), so that smtpd maps no
 * OpenSSL.  Whatever the client sent after the STARTTLS line before the
 * handshake is thrown away unread (a plain-text command injected there
 * must not run inside the TLS session); after the 220, smtpd forks and
 * execs tlsrelay with the client's descriptors, one end of a new stream
 * socketpair and the certificate and key the process opened as root.
 * tlsrelay does the handshake and writes one line of TLS facts; from then
 * on the session reads and writes plain text on the socketpair, and starts
 * over: EHLO is needed again and nothing of before is kept.  The relay is
 * ended and reaped with the session (smtpd_tls_end).
 */
#include "smtpd.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* tlsrelay's descriptors (tlsrelay(8)): client read and write, smtpd's
 * socket, certificate, key. */
#define TLS_FD_CIN 0
#define TLS_FD_COUT 1
#define TLS_FD_SMTPD 3
#define TLS_FD_CERT 4
#define TLS_FD_KEY 5
#define TLS_FD_NUM 5
/* Where the child parks the descriptors before putting them in place. */
#define TLS_FD_PARK 10
/* tlsrelay's handshake takes at most smtpd_timeout; smtpd waits this much
 * longer for its facts line before it stops it. */
#define TLS_GRACE 5

int
smtpd_tls_offer(const struct smtpd *s)
{
	return s->tls_conf != NULL && s->relay_pid == 0 &&
	    s->tls_info[0] == '\0' && s->rfd >= 0;
}

const char *
smtpd_tls_info(const struct smtpd *s)
{
	return s->tls_info[0] != '\0' ? s->tls_info : NULL;
}

/* Reap the relay; a killed one is logged. */
static void
tls_reap(struct smtpd *s)
{
	int status;

	while (waitpid(s->relay_pid, &status, 0) < 0) {
		if (errno != EINTR) {
			log_err("tlsrelay %ld: %s", (long)s->relay_pid,
			    strerror(errno));
			s->relay_pid = 0;
			return;
		}
	}
	if (WIFSIGNALED(status))
		log_info("tlsrelay %ld killed by signal %d",
		    (long)s->relay_pid, WTERMSIG(status));
	else if (WIFEXITED(status) && WEXITSTATUS(status) > 1)
		log_warn("tlsrelay %ld exited with status %d",
		    (long)s->relay_pid, WEXITSTATUS(status));
	s->relay_pid = 0;
}

void
smtpd_tls_end(struct smtpd *s)
{
	if (s->relay_fd >= 0) {
		(void)io_flush(s->io);
		/* end of file: tlsrelay sends what it has, close_notify, and
		 * exits */
		(void)close(s->relay_fd);
		s->relay_fd = -1;
		io_init(s->io, -1, -1);
	}
	if (s->relay_pid > 0)
		tls_reap(s);
}

/* In the child: the descriptors into place (parked above the targets
 * first, so that none overwrites another still needed), everything else
 * closed, then exec.  Async-signal-safe calls only. */
static void __attribute__((noreturn))
tls_child(const struct smtpd *s, int sp, char *const *argv)
{
	const int from[TLS_FD_NUM] = { s->rfd, s->wfd, sp,
		s->tls_conf->cert_fd, s->tls_conf->key_fd };
	static const int to[TLS_FD_NUM] = { TLS_FD_CIN, TLS_FD_COUT,
		TLS_FD_SMTPD, TLS_FD_CERT, TLS_FD_KEY };
	int park[TLS_FD_NUM], i;

	for (i = 0; i < TLS_FD_NUM; i++)
		if ((park[i] = fcntl(from[i], F_DUPFD_CLOEXEC,
		    TLS_FD_PARK)) < 0)
			_exit(127);
	for (i = 0; i < TLS_FD_NUM; i++)
		if (dup2(park[i], to[i]) < 0)	/* clears close-on-exec */
			_exit(127);
	closefrom(TLS_FD_KEY + 1);
	execve(argv[0], argv, environ);
	_exit(127);
}

/* Start tlsrelay and take its facts line.  Returns 0, or -1 when the
 * session must end (logged). */
static int
tls_start(struct smtpd *s)
{
	char secs[24], *argv[7];
	int sp[2], r, i = 0;
	pid_t pid;

	(void)snprintf(secs, sizeof secs, "%u", s->lim.timeout);
	argv[i++] = s->tls_conf->relay;
	if (s->inst->log_stderr)
		argv[i++] = "-e";
	argv[i++] = "-i";
	argv[i++] = s->sid;
	argv[i++] = "-t";
	argv[i++] = secs;
	argv[i] = NULL;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
		log_err("socketpair: %s", strerror(errno));
		return -1;
	}
	if ((pid = fork()) < 0) {
		log_err("fork: %s", strerror(errno));
		close(sp[0]);
		close(sp[1]);
		return -1;
	}
	if (pid == 0)
		tls_child(s, sp[1], argv);
	close(sp[1]);
	s->relay_pid = pid;
	s->relay_fd = sp[0];
	/* from now on the session's plain text is on the socketpair */
	io_init(s->io, sp[0], sp[0]);
	io_set_timeouts(s->io, (int)s->lim.timeout * 1000,
	    (int)s->lim.timeout * 1000);
	io_set_deadline(s->io, time(NULL) + (time_t)s->lim.timeout +
	    TLS_GRACE);
	r = io_getline(s->io, &s->line, sizeof s->tls_info);
	io_set_deadline(s->io, 0);
	if (r <= 0 || s->line.len < 2 || s->line.s[s->line.len - 1] != '\n' ||
	    smtpd_tls_facts_ok(s->line.s, s->line.len - 1) < 0) {
		log_info("TLS handshake failed%s", r < 0 && errno == ETIMEDOUT ?
		    ": timeout" : "");
		if (r < 0)
			(void)kill(pid, SIGKILL);
		return -1;
	}
	memcpy(s->tls_info, s->line.s, s->line.len - 1);
	s->tls_info[s->line.len - 1] = '\0';
	str_clear(&s->line);
	return 0;
}

int
smtpd_tls_facts_ok(const char *p, size_t n)
{
	size_t i;

	if (n == 0 || n >= SMTPD_TLS_INFO_MAX)
		return -1;
	for (i = 0; i < n; i++)
		if (p[i] <= ' ' || p[i] > '~')
			return -1;
	return 0;
}

int
smtpd_cmd_starttls(struct smtpd *s, const struct smtp_cmd *cmd)
{
	size_t dropped;

	if (cmd->arglen != 0)
		return smtpd_reply(s, 501, "5.5.4", "Syntax: STARTTLS");
	if (s->tls_info[0] != '\0')
		return smtpd_reply(s, 503, "5.5.1", "TLS already active");
	if (!smtpd_tls_offer(s))
		return smtpd_reply(s, 454, "4.7.0", "TLS not available");
	dropped = io_pending(s->io);
	io_discard_pending(s->io);
	if (dropped > 0)
		log_warn("%zu bytes pipelined after STARTTLS discarded",
		    dropped);
	if (smtpd_reply(s, 220, "2.0.0", "Ready to start TLS") < 0 ||
	    smtpd_flush(s) < 0)
		return -1;
	if (tls_start(s) < 0)
		return -1;
	/* RFC 3207 4.2: forget everything learnt before. */
	smtpd_tx_reset(s);
	str_clear(&s->helo);
	s->esmtp = 0;
	log_info("TLS started: %s", s->tls_info);
	return 0;
}
