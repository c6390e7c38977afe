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
#define POP3_EX_TEMPFAIL 75

static void
main_unavailable(const char *why)
{
	static const char msg[] = "-ERR [SYS/TEMP] Service not available\r\n";

	log_err("%s", why);
	(void)!write(1, msg, sizeof msg - 1);
	exit(POP3_EX_TEMPFAIL);
}

/* lib/login's child_init: libsasl2 loads its plugins before the chroot. */
static int
main_sasl_init(void *arg)
{
	if (zsasl_global_init("zest-pop3") < 0) {
		log_err("libsasl2 initialisation failed");
		return -1;
	}
	return 0;
}

/* The TLS context, built now while the key is readable (root). */
static struct tls_ctx *
main_tls(const struct instance *inst, int implicit)
{
	struct str err = STR_INIT;
	struct tls_ctx *ctx = NULL;

	if (inst->tls_cert != NULL && inst->tls_key != NULL &&
	    access(inst->tls_cert, R_OK) == 0) {
		/* built, not deferred: OpenSSL must not need files after the
		 * pre-login process's chroot */
		ctx = tls_server_ctx(inst->tls_cert, inst->tls_key, &err);
		if (ctx == NULL)
			log_warn("no TLS: %s", str_cstr(&err));
	}
	str_free(&err);
	if (ctx == NULL && implicit)
		main_unavailable("implicit TLS (-T) without a usable "
		    "certificate");
	return ctx;
}

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
		main_unavailable(str_cstr(&err));
	if (inst.log_stderr)
		log_open("pop3d", 1);
	login_config_init(&cfg, &inst);
	cfg.service = "pop3d";
	cfg.implicit_tls = implicit;
	cfg.tls_ctx = main_tls(&inst, implicit);
	cfg.apop = conf_bool(inst.conf, "pop3_apop");
	cfg.session_argv = login_session_argv(&inst, "pop3d", verbose,
	    &cfg.session_prog);
	if (cfg.session_argv == NULL)
		main_unavailable("cannot find my own program (/proc/self/exe)");
	cfg.child_init = main_sasl_init;
	cfg.prelogin = pop3_prelogin;
	cfg.arg = NULL;
	rc = login_main(&cfg);
	tls_ctx_free(&cfg.tls_ctx);
	instance_close(&inst);
	str_free(&err);
	return rc;
}
