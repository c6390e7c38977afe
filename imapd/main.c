/* SPDX-License-Identifier: ISC */
/*
 * imapd [-C DIR] [-T] [-v]: serve one IMAP connection on fd 0/1 (see
 * imapd(8)); -T for implicit TLS (port 993).  After a verified login the
 * checker becomes imapd-session (session-main.c), shown as "imapd -S".
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "imapd.h"
#include "sasl.h"
#include "tls.h"

#define IMAP_EX_USAGE 64

#define BYE "* BYE [UNAVAILABLE] Service not available\r\n"

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
			fprintf(stderr, "usage: imapd [-C DIR] [-T] [-v]\n");
			return IMAP_EX_USAGE;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	log_set_debug(verbose);
	log_open("imapd", 0);
	if (instance_open(dir, &inst, &err) < 0)
		login_unavailable(BYE, str_cstr(&err));
	if (inst.log_stderr)
		log_open("imapd", 1);
	memset(&cfg, 0, sizeof cfg);
	cfg.inst = &inst;
	cfg.service = "imapd";
	cfg.implicit_tls = implicit;
	cfg.tls_ctx = login_tls_ctx(&inst, implicit, BYE);
	cfg.apop = 0;
	cfg.local_exempt = conf_bool(inst.conf, "login_local_plaintext");
	cfg.max_failures = (unsigned)conf_num(inst.conf,
	    "login_max_failures");
	cfg.delay_ms = (unsigned)conf_num(inst.conf, "login_failure_delay") *
	    1000;
	cfg.pbs_minutes = (unsigned)conf_num(inst.conf,
	    "pop_before_smtp_minutes");
	cfg.session_argv = login_session_argv(&inst, "imapd", verbose,
	    &cfg.session_prog);
	if (cfg.session_argv == NULL)
		login_unavailable(BYE,
		    "cannot find my own program (/proc/self/exe)");
	cfg.sasl_app = "zest-imap";
	cfg.prelogin = imapd_prelogin;
	cfg.arg = NULL;
	rc = login_main(&cfg);
	tls_ctx_free(&cfg.tls_ctx);
	instance_close(&inst);
	str_free(&err);
	return rc;
}
