/* SPDX-License-Identifier: ISC */
/*
 * smtpd [-C DIR] [-v]: serve one SMTP connection on fd 0/1 (see smtpd(8)).
 * Launched by listen, tcpserver, inetd or systemd (Accept=yes).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "priv.h"
#include "smtpd.h"

/* The usage error, as sysexits EX_USAGE. */
#define SMTPD_EX_USAGE 64
/* A configuration or setup failure (sysexits EX_TEMPFAIL). */
#define SMTPD_EX_TEMPFAIL 75

/* Tell the client, then the log, that no service can be had. */
static void
main_unavailable(const char *why)
{
	static const char msg[] = "421 4.3.0 Service not available, closing "
	    "connection\r\n";

	log_err("%s", why);
	(void)!write(1, msg, sizeof msg - 1);
	exit(SMTPD_EX_TEMPFAIL);
}

/* The client's address into ip (numeric, "" when unknown): from the
 * socket on fd 0, else from TCPREMOTEIP (tcpserver, or a test harness). */
static void
main_peer(char *ip, size_t n)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	const struct sockaddr_in6 *s6;
	unsigned char buf[16];
	const char *env;

	ip[0] = '\0';
	if (getpeername(0, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->
			    sin_addr, ip, (socklen_t)n);
		else if (ss.ss_family == AF_INET6) {
			s6 = (const struct sockaddr_in6 *)&ss;
			if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
				inet_ntop(AF_INET, s6->sin6_addr.s6_addr + 12,
				    ip, (socklen_t)n);
			else
				inet_ntop(AF_INET6, &s6->sin6_addr, ip,
				    (socklen_t)n);
		}
		if (ip[0] != '\0')
			return;
	}
	env = getenv("TCPREMOTEIP");
	if (env != NULL && strlen(env) < n &&
	    (inet_pton(AF_INET, env, buf) == 1 ||
	    inet_pton(AF_INET6, env, buf) == 1))
		memcpy(ip, env, strlen(env) + 1);
}

/* The TLS context, when the certificate and key can be read. */
static struct tls_ctx *
main_tls(const struct instance *inst)
{
#ifndef SMTPD_NO_TLS
	struct str err = STR_INIT;
	struct tls_ctx *ctx;

	if (inst->tls_cert == NULL || inst->tls_key == NULL ||
	    access(inst->tls_cert, R_OK) < 0)
		return NULL;
	/* deferred: the files are read now, as root; OpenSSL's context is
	 * built only if the client says STARTTLS */
	if ((ctx = tls_server_ctx_deferred(inst->tls_cert, inst->tls_key,
	    &err)) == NULL)
		log_warn("no STARTTLS: %s", str_cstr(&err));
	str_free(&err);
	return ctx;
#else
	return NULL;
#endif
}

/* Become SMTPD_USER when started as root (after reading the key). */
static void
main_drop(void)
{
	uid_t uid;
	gid_t gid;

	if (geteuid() != 0)
		return;
	if (priv_lookup(SMTPD_USER, &uid, &gid) < 0)
		main_unavailable("no user " SMTPD_USER);
	if (priv_drop(uid, gid, NULL) < 0)
		main_unavailable("cannot drop privileges");
}

int
main(int argc, char **argv)
{
	struct instance inst;
	struct str err = STR_INIT;
	struct smtpd *s;
	struct io *io;
	struct tls_ctx *ctx;
	const char *dir = NULL;
	char ip[64];
	int c, rc, local = 0;

	while ((c = getopt(argc, argv, "C:Lv")) != -1) {
		if (c == 'C')
			dir = optarg;
		else if (c == 'L')
			local = 1;
		else if (c == 'v')
			log_set_debug(1);
		else {
			fprintf(stderr, "usage: smtpd [-C DIR] [-L] [-v]\n");
			return SMTPD_EX_USAGE;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	log_open("smtpd", 0);
	if (instance_open(dir, &inst, &err) < 0)
		main_unavailable(str_cstr(&err));
	if (inst.log_stderr)
		log_open("smtpd", 1);
	ip[0] = '\0';
	if (!local)
		main_peer(ip, sizeof ip);
	/* a local session is no network connection: no STARTTLS */
	ctx = local ? NULL : main_tls(&inst);
	main_drop();
	if ((s = calloc(1, sizeof *s)) == NULL ||
	    (io = calloc(1, sizeof *io)) == NULL)
		main_unavailable("out of memory");
	io_init(io, 0, 1);
	smtpd_init(s, &inst, io, 0, 1, ip, ctx);
	s->local = local;
	rc = smtpd_run(s);
	smtpd_free(s);
	free(s);
	free(io);
#ifndef SMTPD_NO_TLS
	tls_ctx_free(&ctx);
#endif
	instance_close(&inst);
	str_free(&err);
	return rc == 0 ? 0 : 1;
}
