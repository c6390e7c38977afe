/* SPDX-License-Identifier: ISC */
/*
 * pop3d [-C DIR] [-T] [-v]: serve one POP3 connection on fd 0/1 (see
 * pop3d(8)); -T for implicit TLS (port 995).  pop3d-session (shown as
 * "pop3d -S", session-main.c) is the session
 * process the login checker starts after a verified login; it is not meant
 * to be run by hand.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "pop3d.h"
#include "sasl.h"
#include "tls.h"

#define POP3_EX_USAGE 64

#define BYE "-ERR [SYS/TEMP] Service not available\r\n"

int
main(int argc, char **argv)
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
			fprintf(stderr, "usage: pop3d [-C DIR] [-T] [-v]\n");
			return POP3_EX_USAGE;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	log_set_debug(verbose);
	log_open("pop3d", 0);
	if (instance_open(dir, &inst, &err) < 0)
		login_unavailable(BYE, str_cstr(&err));
	if (inst.log_stderr)
		log_open("pop3d", 1);
	login_config_init(&cfg, &inst);
	cfg.service = "pop3d";
	cfg.implicit_tls = implicit;
	cfg.tls_ctx = login_tls_ctx(&inst, implicit, BYE);
	cfg.apop = conf_bool(inst.conf, "pop3_apop");
	cfg.session_argv = login_session_argv(&inst, "pop3d", verbose,
	    &cfg.session_prog);
	if (cfg.session_argv == NULL)
		login_unavailable(BYE,
		    "cannot find my own program (/proc/self/exe)");
	cfg.sasl_app = "zest-pop3";
	cfg.prelogin = pop3_prelogin;
	cfg.arg = NULL;
	rc = login_main(&cfg);
	tls_ctx_free(&cfg.tls_ctx);
	instance_close(&inst);
	str_free(&err);
	return rc;
}
