/* SPDX-License-Identifier: ISC */
/*
 * imapd [-C DIR] [-T] [-v]: serve one IMAP connection on fd 0/1 (see
 * imapd(8)); -T for implicit TLS (port 993).  After a verified login the
 * checker becomes imapd-session (session-main.c), shown as "imapd -S".
 */
#include "imapd.h"
#include "login.h"

int
main(int argc, char **argv)
{
	static const struct login_daemon d = {
		"imapd", "* BYE [UNAVAILABLE] Service not available\r\n",
		"zest-imap", NULL, imapd_prelogin
	};

	return login_daemon_main(argc, argv, &d);
}
