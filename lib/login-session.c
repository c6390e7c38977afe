/* SPDX-License-Identifier: ISC */
/*
 * login-session: what the session program (imapd-session, pop3d-session)
 * needs of lib/login, in a file of its own so that linking it pulls in
 * neither the checker (libcrypto for APOP, libcrypt for the hashes) nor the
 * pre-login side (OpenSSL, libsasl2).  See login.h.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "login.h"

#define SESSION_EX_USAGE 64
#define SESSION_EX_TEMPFAIL 75

int
login_session_main(int argc, char **argv, const char *daemon,
    const char *bye, int (*run)(const struct instance *))
{
	struct instance inst;
	struct str err = STR_INIT;
	const char *dir = NULL, *sid;
	int c, rc;

	while ((c = getopt(argc, argv, "C:Sv")) != -1) {
		if (c == 'C')
			dir = optarg;
		else if (c == 'v')
			log_set_debug(1);
		else if (c != 'S') {
			fprintf(stderr, "usage: %s -S [-C DIR] [-v]\n", daemon);
			return SESSION_EX_USAGE;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	log_open(daemon, 0);
	if ((sid = getenv("ZEST_SESSION")) != NULL)
		log_set_session(sid);
	if (instance_open(dir, &inst, &err) < 0 || geteuid() == 0) {
		log_err("%s", err.len ? str_cstr(&err) :
		    "the session must not run as root");
		(void)!write(1, bye, strlen(bye));
		str_free(&err);
		return SESSION_EX_TEMPFAIL;
	}
	if (inst.log_stderr)
		log_open(daemon, 1);
	rc = run(&inst);
	instance_close(&inst);
	str_free(&err);
	return rc;
}

int
login_session_pending(struct io *io)
{
	size_t room = sizeof io->rbuf - io->rlen;
	ssize_t n;

	for (;;) {
		if (room == 0) {
			close(3);
			errno = E2BIG;
			return -1;
		}
		n = read(3, io->rbuf + io->rlen, room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(3);
			return errno == EBADF ? 0 : -1;
		}
		if (n == 0)
			break;
		io->rlen += (size_t)n;
		room -= (size_t)n;
	}
	close(3);
	return 0;
}

