/* SPDX-License-Identifier: ISC */
/*
 * pop3d-session: the POP3 session of one verified user, exec'd by pop3d's
 * login checker (lib/login) as that user; it shows as "pop3d -S" in ps.
 * A program of its own so that a session maps neither OpenSSL nor
 * libsasl2 (see imapd/session-main.c).
 */
#include "login.h"
#include "pop3d.h"

int
main(int argc, char **argv)
{
	return login_session_main(argc, argv, "pop3d",
	    "-ERR [SYS/TEMP] service not available\r\n", pop3_session);
}
