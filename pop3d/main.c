/* SPDX-License-Identifier: ISC */
/*
 * pop3d [-C DIR] [-T] [-v]: serve one POP3 connection on fd 0/1 (see
 * pop3d(8)); -T for implicit TLS (port 995).  After a verified login the
 * checker becomes pop3d-session (session-main.c), shown as "pop3d -S".
 */
#include "login.h"
#include "pop3d.h"

int
main(int argc, char **argv)
{
	static const struct login_daemon d = {
		"pop3d", "-ERR [SYS/TEMP] Service not available\r\n",
		"zest-pop3", "pop3_apop", pop3_prelogin
	};

	return login_daemon_main(argc, argv, &d);
}
