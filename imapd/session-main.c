/* SPDX-License-Identifier: ISC */
/*
 * imapd-session: the IMAP session of one verified user, exec'd by imapd's
 * login checker (lib/login) as that user, in the Maildir, with the client
 * (or the TLS relay) on fd 0/1 and the pipelined bytes on fd 3; it shows
 * as "imapd -S" in ps.  A program of its own, not imapd -S itself, so that
 * a logged-in session maps neither OpenSSL nor libsasl2: an idle session
 * costs its own few hundred kilobytes and nothing more.
 */
#include "imapd.h"
#include "login.h"

int
main(int argc, char **argv)
{
	return login_session_main(argc, argv, "imapd",
	    "* BYE [UNAVAILABLE] Service not available\r\n", imapd_session);
}
