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
#define IMAP_EX_TEMPFAIL 75

static void
main_unavailable(const char *why)
{
	static const char msg[] = "* BYE [UNAVAILABLE] Service not available\r\n";

	log_err("%s", why);
	(void)!write(1, msg, sizeof msg - 1);
	exit(IMAP_EX_TEMPFAIL);
}

/* lib/login's child_init: libsasl2 loads its plugins before the chroot. */
static int
main_sasl_init(void *arg)
{
	if (zsasl_global_init("zest-imap") < 0) {
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
			fprintf(stderr, "usage: imapd [-C DIR] [-T] [-v]\n");
			return IMAP_EX_USAGE;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	log_set_debug(verbose);
	log_open("imapd", 0);
	if (instance_open(dir, &inst, &err) < 0)
		main_unavailable(str_cstr(&err));
	if (inst.log_stderr)
		log_open("imapd", 1);
	memset(&cfg, 0, sizeof cfg);
	cfg.inst = &inst;
	cfg.service = "imapd";
	cfg.implicit_tls = implicit;
	cfg.tls_ctx = main_tls(&inst, implicit);
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
		main_unavailable("cannot find my own program (/proc/self/exe)");
	cfg.child_init = main_sasl_init;
	cfg.prelogin = imapd_prelogin;
	cfg.arg = NULL;
	rc = login_main(&cfg);
	tls_ctx_free(&cfg.tls_ctx);
	instance_close(&inst);
	str_free(&err);
	return rc;
}
