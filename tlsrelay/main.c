/* SPDX-License-Identifier: ISC */
/*
 * tlsrelay [-e] [-i ID] -t SECONDS: the TLS half of an SMTP session after
 * STARTTLS (see tlsrelay(8)), so that smtpd itself maps no OpenSSL.
 * smtpd forks and execs it, already running as zest-smtpd, with:
 *
 *   fd 0  the client connection, read side
 *   fd 1  the client connection, write side (often the same socket)
 *   fd 3  smtpd's socket (a stream socketpair): plain text both ways
 *   fd 4  the certificate chain file, opened by smtpd as root
 *   fd 5  the private key file, opened by smtpd as root
 *
 * It builds the server context from fds 4 and 5 and closes them, runs the
 * handshake within SECONDS, writes one line of TLS facts to fd 3
 * ("TLSv1.3:TLS_AES_256_GCM_SHA384:256", tls_session_info()), then relays
 * plain text between the TLS session and fd 3 in a poll loop until either
 * side closes or nothing moves for twice SECONDS.  A failed handshake
 * ends it before the facts line: smtpd sees end of file and ends the
 * session.
 *
 * Buffers are fixed: one io per side (lib/io) and one relay buffer of
 * IO_BUFSIZE bytes; nothing is allocated per byte or per record.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "str.h"
#include "tls.h"

/* The descriptors smtpd hands over. */
#define RELAY_FD_CIN 0
#define RELAY_FD_COUT 1
#define RELAY_FD_SMTPD 3
#define RELAY_FD_CERT 4
#define RELAY_FD_KEY 5

/* Exit statuses: the session ended (0), the handshake or the connection
 * failed (1), usage (sysexits EX_USAGE), setup (EX_TEMPFAIL). */
#define RELAY_EX_FAIL 1
#define RELAY_EX_USAGE 64
#define RELAY_EX_TEMPFAIL 75

/* -t bounds: smtpd's smtpd_timeout. */
#define RELAY_TIMEOUT_MAX 86400

/* The relay: both sides, their state and the one transfer buffer. */
struct relay {
	struct io client;		/* plain text through TLS after the
					   handshake */
	struct io smtpd;		/* fd 3 */
	struct tls_session *tls;
	int timeout;			/* seconds: handshake, each wait */
	int client_eof;			/* the client closed (or close_notify) */
	unsigned long long in, out;	/* plain-text bytes relayed */
	unsigned char buf[IO_BUFSIZE];
};

/* -t's value: 1 to RELAY_TIMEOUT_MAX seconds, else -1. */
static int
relay_seconds(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 || v < 1 ||
	    v > RELAY_TIMEOUT_MAX)
		return -1;
	return (int)v;
}

/* Whether fd is open. */
static int
relay_fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

/* The context from fds 4 and 5, which are closed either way. */
static struct tls_ctx *
relay_ctx(void)
{
	struct str err = STR_INIT;
	struct tls_ctx *ctx;

	ctx = tls_server_ctx_fds(RELAY_FD_CERT, RELAY_FD_KEY, &err);
	(void)close(RELAY_FD_CERT);
	(void)close(RELAY_FD_KEY);
	if (ctx == NULL)
		log_err("TLS context: %s", str_cstr(&err));
	str_free(&err);
	return ctx;
}

/* The handshake on fds 0/1 within r->timeout seconds, then the facts
 * line to smtpd.  Returns 0, or -1 (logged). */
static int
relay_start(struct relay *r, struct tls_ctx *ctx)
{
	struct str err = STR_INIT;
	int rc;

	io_init(&r->client, RELAY_FD_CIN, RELAY_FD_COUT);
	io_set_timeouts(&r->client, r->timeout * 1000, r->timeout * 1000);
	/* the whole handshake, not each wait: a byte per wait must not
	 * keep it going */
	io_set_deadline(&r->client, time(NULL) + r->timeout);
	rc = tls_accept(ctx, &r->client, RELAY_FD_CIN, RELAY_FD_COUT, &r->tls,
	    &err);
	io_set_deadline(&r->client, 0);
	if (rc < 0) {
		log_info("TLS handshake failed: %s", str_cstr(&err));
		str_free(&err);
		return -1;
	}
	str_free(&err);
	io_init(&r->smtpd, RELAY_FD_SMTPD, RELAY_FD_SMTPD);
	io_set_timeouts(&r->smtpd, r->timeout * 1000, r->timeout * 1000);
	if (io_printf(&r->smtpd, "%s\n", tls_session_info(r->tls)) < 0 ||
	    io_flush(&r->smtpd) < 0) {
		log_info("smtpd went away during the handshake: %s",
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* Client to smtpd: decrypted bytes (buffered or one read).  Returns 0, or
 * -1 when the relay ends. */
static int
relay_from_client(struct relay *r)
{
	ssize_t n = io_read(&r->client, r->buf, sizeof r->buf);

	if (n < 0) {
		log_info("client: %s%s%s", strerror(errno),
		    errno == EPROTO ? ": " : "",
		    errno == EPROTO ? tls_session_error(r->tls) : "");
		return -1;
	}
	if (n == 0) {
		/* smtpd sees the end of file and ends the session; its last
		 * reply still comes through */
		r->client_eof = 1;
		(void)shutdown(RELAY_FD_SMTPD, SHUT_WR);
		return 0;
	}
	if (io_write(&r->smtpd, r->buf, (size_t)n) < 0 ||
	    io_flush(&r->smtpd) < 0) {
		log_info("smtpd: %s", strerror(errno));
		return -1;
	}
	r->in += (unsigned long long)n;
	return 0;
}

/* smtpd to client: what one read of fd 3 gives, encrypted.  Returns 0,
 * or -1 when the relay ends (smtpd closed: the normal end). */
static int
relay_from_smtpd(struct relay *r)
{
	ssize_t n;

	do
		n = read(RELAY_FD_SMTPD, r->buf, sizeof r->buf);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return -1;
	if (io_write(&r->client, r->buf, (size_t)n) < 0 ||
	    io_flush(&r->client) < 0) {
		log_info("client: %s", strerror(errno));
		return -1;
	}
	r->out += (unsigned long long)n;
	return 0;
}

/* Relay until a side closes, fails, or nothing moves for twice the
 * timeout (smtpd's own timeouts end a quiet session first and say so to
 * the client through here). */
static void
relay_loop(struct relay *r)
{
	struct pollfd pfd[2];
	int idle_ms = r->timeout * 2000, n;

	for (;;) {
		/* plain text already decrypted is invisible to poll() */
		if (!r->client_eof && (io_pending(&r->client) > 0 ||
		    tls_session_pending(r->tls) > 0)) {
			if (relay_from_client(r) < 0)
				return;
			continue;
		}
		pfd[0].fd = r->client_eof ? -1 : RELAY_FD_CIN;
		pfd[0].events = POLLIN;
		pfd[0].revents = 0;
		pfd[1].fd = RELAY_FD_SMTPD;
		pfd[1].events = POLLIN;
		pfd[1].revents = 0;
		n = poll(pfd, 2, idle_ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_err("poll: %s", strerror(errno));
			return;
		}
		if (n == 0) {
			log_info("idle for %d seconds: relay ended",
			    idle_ms / 1000);
			return;
		}
		if (pfd[1].revents != 0 && relay_from_smtpd(r) < 0)
			return;
		if (pfd[0].revents != 0 && relay_from_client(r) < 0)
			return;
	}
}

int
main(int argc, char **argv)
{
	struct relay *r;
	struct tls_ctx *ctx;
	const char *sid = NULL;
	int c, to_stderr = 0, timeout = -1, rc;

	while ((c = getopt(argc, argv, "ei:t:")) != -1) {
		if (c == 'e')
			to_stderr = 1;
		else if (c == 'i')
			sid = optarg;
		else if (c == 't')
			timeout = relay_seconds(optarg);
		else
			timeout = -2;
	}
	if (timeout < 0 || optind != argc) {
		fprintf(stderr, "usage: tlsrelay [-e] [-i ID] -t SECONDS\n");
		return RELAY_EX_USAGE;
	}
	signal(SIGPIPE, SIG_IGN);
	log_open("tlsrelay", to_stderr);
	log_set_session(sid);
	if (!relay_fd_open(RELAY_FD_CIN) || !relay_fd_open(RELAY_FD_COUT) ||
	    !relay_fd_open(RELAY_FD_SMTPD) || !relay_fd_open(RELAY_FD_CERT) ||
	    !relay_fd_open(RELAY_FD_KEY)) {
		log_err("descriptors 0, 1, 3, 4 and 5 must be open");
		return RELAY_EX_USAGE;
	}
	if ((ctx = relay_ctx()) == NULL)
		return RELAY_EX_TEMPFAIL;
	if ((r = calloc(1, sizeof *r)) == NULL) {
		log_err("out of memory");
		tls_ctx_free(&ctx);
		return RELAY_EX_TEMPFAIL;
	}
	r->timeout = timeout;
	rc = RELAY_EX_FAIL;
	if (relay_start(r, ctx) == 0) {
		relay_loop(r);
		log_debug("relay ended: %llu bytes in, %llu out", r->in,
		    r->out);
		rc = 0;
	}
	/* the last of smtpd's replies, then close_notify (bounded by the
	 * timeouts; skipped after a TLS error) */
	tls_session_free(&r->tls);
	tls_ctx_free(&ctx);
	free(r);
	return rc;
}
