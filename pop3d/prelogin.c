/* SPDX-License-Identifier: ISC */
/*
 * pop3d: the AUTHORIZATION state, in the pre-login process (zest-login,
 * chrooted to an empty directory).  It greets, runs TLS, parses USER, PASS,
 * APOP, AUTH, CAPA, STLS and QUIT, and asks the login checker about every
 * credential; it never answers "+OK" to a login itself: the session process
 * does, once it holds the maildrop lock (RFC 1939 4).
 *
 * Plaintext credentials (USER/PASS, AUTH PLAIN and LOGIN) are accepted only
 * over TLS or from this host's own address; APOP sends no password and is
 * allowed everywhere.
 */
#include "pop3d.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sasl.h"
#include "tls.h"
#include "users.h"

/* Bytes of the longest name USER and APOP take: NAME@DOMAIN. */
#define PRE_USER_MAX (USERS_NAME_MAX + 1 + 253)

struct pre {
	struct login_client *lc;
	struct io *io;
	struct tls_session *tls;
	struct zsasl *sasl;
	struct pop3_limits lim;
	struct str user;	/* from USER, "" when none */
	struct str line;
	unsigned errors;
	int done;		/* leave the loop; rc is the exit status */
	int rc;
};

/* Whether plaintext credentials may be sent now. */
static int
pre_plain_ok(const struct pre *p)
{
	return p->tls != NULL || p->lc->local;
}

/* A protocol error: counted, and the connection ends at the limit. */
static int
pre_error(struct pre *p, const char *text)
{
	p->errors++;
	if (p->errors >= p->lim.error_limit) {
		pop3_reply(p->io, 0, "Too many errors, closing connection");
		io_flush(p->io);
		p->done = 1;
		return 0;
	}
	return pop3_reply(p->io, 0, "%s", text);
}

static int
pre_capa(struct pre *p, const char *args)
{
	struct str mechs = STR_INIT;
	struct io *io = p->io;
	int r;

	if (*args != '\0')
		return pre_error(p, "Syntax: CAPA");
	if (zsasl_mechs(p->sasl, pre_plain_ok(p), &mechs) < 0) {
		str_free(&mechs);
		return pop3_reply(io, 0, "[SYS/TEMP] Out of memory");
	}
	r = io_puts(io, "+OK Capability list follows\r\nTOP\r\nUIDL\r\n"
	    "RESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\nEXPIRE NEVER\r\n"
	    "IMPLEMENTATION " POP3_IMPLEMENTATION "\r\n");
	if (r == 0 && pre_plain_ok(p))
		r = io_puts(io, "USER\r\n");
	if (r == 0 && mechs.len > 0)
		r = io_printf(io, "SASL %s\r\n", mechs.s);
	if (r == 0 && p->tls == NULL && p->lc->tls_ctx != NULL)
		r = io_puts(io, "STLS\r\n");
	str_free(&mechs);
	if (r == 0)
		r = io_puts(io, ".\r\n");
	return r < 0 ? -1 : pop3_flush_if_idle(io);
}

static int
pre_stls(struct pre *p, const char *args)
{
	struct str err = STR_INIT;
	size_t dropped;
	int r;

	if (*args != '\0')
		return pre_error(p, "Syntax: STLS");
	if (p->tls != NULL)
		return pre_error(p, "TLS is already active");
	if (p->lc->tls_ctx == NULL)
		return pop3_reply(p->io, 0, "TLS not available");
	/* RFC 2595 / 3207: what the client pipelined after STLS in plain
	 * text must not run inside the TLS session */
	dropped = io_pending(p->io);
	io_discard_pending(p->io);
	if (dropped > 0)
		log_warn("%zu bytes pipelined after STLS discarded", dropped);
	if (pop3_reply(p->io, 1, "Begin TLS negotiation") < 0 ||
	    io_flush(p->io) < 0)
		return -1;
	io_set_deadline(p->io, time(NULL) + (time_t)p->lim.timeout);
	r = tls_accept(p->lc->tls_ctx, p->io, 0, 1, &p->tls, &err);
	io_set_deadline(p->io, 0);
	if (r < 0)
		log_info("TLS handshake failed: %s", str_cstr(&err));
	else
		log_info("STLS: %s", tls_session_info(p->tls));
	str_free(&err);
	str_clear(&p->user);	/* RFC 2595 4: start over */
	return r;
}

/* Hand over to the session of user (verified by the checker). */
static int
pre_start(struct pre *p, const char *user)
{
	int r;

	r = login_client_start(p->lc, user, "", p->io, p->tls);
	if (r == LOGIN_YES) {
		/* the session answers the login and owns the connection */
		p->done = 1;
		p->rc = 0;
		return 0;
	}
	if (r == LOGIN_TEMP)
		return pop3_reply(p->io, 0, "[SYS/TEMP] Cannot open the "
		    "mailbox now, try again later");
	pop3_reply(p->io, 0, "[SYS/TEMP] Login service unavailable");
	p->done = 1;
	return 0;
}

/* The checker's answer to a credential. */
static int
pre_verdict(struct pre *p, int r, const char *user)
{
	switch (r) {
	case LOGIN_YES:
		return pre_start(p, user);
	case LOGIN_NO:
		return pop3_reply(p->io, 0, "[AUTH] Authentication failed");
	case LOGIN_TEMP:
		return pop3_reply(p->io, 0, "[SYS/TEMP] Authentication "
		    "temporarily unavailable");
	default:
		pop3_reply(p->io, 0, "[AUTH] Too many authentication "
		    "failures, closing connection");
		p->done = 1;
		return 0;
	}
}

static int
pre_user(struct pre *p, const char *args)
{
	if (!pre_plain_ok(p))
		return pop3_reply(p->io, 0, "[AUTH] Plaintext authentication "
		    "disallowed without TLS (use STLS or APOP)");
	if (*args == '\0' || strchr(args, ' ') != NULL ||
	    strlen(args) > PRE_USER_MAX)
		return pre_error(p, "Syntax: USER name");
	str_clear(&p->user);
	if (str_appends(&p->user, args) < 0)
		return -1;
	return pop3_reply(p->io, 1, "Send your password");
}

static int
pre_pass(struct pre *p, const char *args)
{
	struct str user = STR_INIT;
	int r;

	if (!pre_plain_ok(p))
		return pop3_reply(p->io, 0, "[AUTH] Plaintext authentication "
		    "disallowed without TLS (use STLS or APOP)");
	if (p->user.len == 0)
		return pre_error(p, "USER first");
	if (*args == '\0')
		return pre_error(p, "Syntax: PASS password");
	/* RFC 1939 7: the password is the rest of the line, spaces and all */
	if (str_append(&user, p->user.s, p->user.len) < 0)
		return -1;
	str_clear(&p->user);
	r = login_client_password(p->lc, user.s, args);
	explicit_bzero(p->line.s, p->line.len);
	r = pre_verdict(p, r, user.s);
	str_free(&user);
	return r;
}

static int
pre_apop(struct pre *p, const char *args)
{
	char name[PRE_USER_MAX + 1], digest[33];
	const char *sp = strchr(args, ' ');
	size_t n, i;

	if (p->lc->challenge[0] == '\0')
		return pop3_reply(p->io, 0, "APOP not available");
	if (sp == NULL || (n = (size_t)(sp - args)) == 0 ||
	    n > PRE_USER_MAX || strlen(sp + 1) != 32)
		return pre_error(p, "Syntax: APOP name digest");
	memcpy(name, args, n);
	name[n] = '\0';
	for (i = 0; i < 32; i++) {
		if (!isxdigit((unsigned char)sp[1 + i]))
			return pre_error(p, "Syntax: APOP name digest");
		digest[i] = (char)tolower((unsigned char)sp[1 + i]);
	}
	digest[32] = '\0';
	str_clear(&p->user);
	return pre_verdict(p, login_client_apop(p->lc, name, digest), name);
}

/* The old (RFC 1734) AUTH without arguments: list the mechanisms. */
static int
pre_auth_list(struct pre *p)
{
	struct str mechs = STR_INIT;
	const char *s;
	int r;

	if (zsasl_mechs(p->sasl, pre_plain_ok(p), &mechs) < 0)
		r = -1;
	else {
		r = io_puts(p->io, "+OK\r\n");
		for (s = mechs.s; r == 0 && s != NULL && *s != '\0';) {
			size_t n = strcspn(s, " ");

			r = io_write(p->io, s, n) < 0 || io_puts(p->io,
			    "\r\n") < 0 ? -1 : 0;
			s += n + (s[n] == ' ');
		}
		if (r == 0)
			r = io_puts(p->io, ".\r\n");
	}
	str_free(&mechs);
	return r < 0 ? -1 : pop3_flush_if_idle(p->io);
}

/* The checkpass callback of lib/sasl: ask the checker. */
static int
pre_checkpass(void *arg, const char *user, const char *pw)
{
	struct pre *p = arg;

	return login_client_password(p->lc, user, pw);
}

/* Run a SASL exchange to its end.  Returns the ZSASL_ result. */
static int
pre_sasl_exchange(struct pre *p, const char *mech, const char *ir)
{
	struct str out = STR_INIT;
	int r;

	r = zsasl_start(p->sasl, mech, pre_plain_ok(p), ir, &out);
	while (r == ZSASL_CONTINUE) {
		if (io_printf(p->io, "+ %s\r\n", str_cstr(&out)) < 0 ||
		    io_flush(p->io) < 0) {
			r = ZSASL_CLOSE;
			break;
		}
		if (pop3_getline(p->io, &p->line, ZSASL_LINE_MAX) <= 0) {
			r = errno == E2BIG ? ZSASL_BAD : ZSASL_CLOSE;
			break;
		}
		r = zsasl_step(p->sasl, p->line.s, &out);
		explicit_bzero(p->line.s, p->line.len);
	}
	str_free(&out);
	return r;
}

static int
pre_auth(struct pre *p, const char *args)
{
	char mech[32];
	const char *sp, *ir = NULL;
	size_t n;
	int r;

	if (*args == '\0')
		return pre_auth_list(p);
	sp = strchr(args, ' ');
	n = sp != NULL ? (size_t)(sp - args) : strlen(args);
	if (n == 0 || n >= sizeof mech)
		return pre_error(p, "Syntax: AUTH mechanism [initial-response]");
	memcpy(mech, args, n);
	mech[n] = '\0';
	if (sp != NULL) {
		ir = sp + 1;
		if (*ir == '\0' || strchr(ir, ' ') != NULL)
			return pre_error(p, "Syntax: AUTH mechanism "
			    "[initial-response]");
	}
	if (!pre_plain_ok(p) && (strcasecmp(mech, "PLAIN") == 0 ||
	    strcasecmp(mech, "LOGIN") == 0))
		return pop3_reply(p->io, 0, "[AUTH] Plaintext authentication "
		    "disallowed without TLS (use STLS or APOP)");
	str_clear(&p->user);
	r = pre_sasl_exchange(p, mech, ir);
	switch (r) {
	case ZSASL_OK:
		return pre_verdict(p, LOGIN_YES, zsasl_user(p->sasl));
	case ZSASL_FAIL:
		return pre_verdict(p, LOGIN_NO, NULL);
	case ZSASL_TEMP:
		return pre_verdict(p, LOGIN_TEMP, NULL);
	case ZSASL_NOMECH:
		return pre_error(p, "Unsupported authentication mechanism");
	case ZSASL_CANCEL:
		return pop3_reply(p->io, 0, "Authentication cancelled");
	case ZSASL_BAD:
		return pre_error(p, "Malformed authentication data");
	default:
		return pre_verdict(p, LOGIN_CLOSE, NULL);
	}
}

/* One command of the AUTHORIZATION state. */
static int
pre_command(struct pre *p)
{
	struct pop3_cmd cmd;

	if (pop3_parse(p->line.s, &cmd) < 0)
		return pre_error(p, "Unknown command");
	/* AUTH's initial response may be long (RFC 5034 4); everything
	 * else keeps to the command line limit */
	if (strcmp(cmd.kw, "AUTH") != 0 && p->line.len + 2 > POP3_LINE_MAX)
		return pre_error(p, "Line too long");
	if (strcmp(cmd.kw, "CAPA") == 0)
		return pre_capa(p, cmd.args);
	if (strcmp(cmd.kw, "USER") == 0)
		return pre_user(p, cmd.args);
	if (strcmp(cmd.kw, "PASS") == 0)
		return pre_pass(p, cmd.args);
	if (strcmp(cmd.kw, "APOP") == 0)
		return pre_apop(p, cmd.args);
	if (strcmp(cmd.kw, "AUTH") == 0)
		return pre_auth(p, cmd.args);
	if (strcmp(cmd.kw, "STLS") == 0)
		return pre_stls(p, cmd.args);
	if (strcmp(cmd.kw, "QUIT") == 0) {
		pop3_reply(p->io, 1, "Bye");
		p->done = 1;
		return 0;
	}
	return pre_error(p, "Unknown command or not logged in");
}

static void
pre_loop(struct pre *p)
{
	int r;

	while (!p->done) {
		r = pop3_getline(p->io, &p->line, ZSASL_LINE_MAX);
		if (r == 0)
			break;
		if (r < 0) {
			if (errno == E2BIG || errno == EINVAL) {
				if (pre_error(p, "Line too long or "
				    "malformed") < 0)
					break;
				continue;
			}
			if (errno == ETIMEDOUT)
				pop3_reply(p->io, 0, "Autologout; idle for too "
				    "long");
			break;
		}
		if (pre_command(p) < 0)
			break;
	}
}

int
pop3_prelogin(struct login_client *lc, void *arg)
{
	const struct instance *inst = lc->inst;
	struct str err = STR_INIT;
	struct pre p;
	int r;

	memset(&p, 0, sizeof p);
	p.lc = lc;
	p.rc = 0;
	pop3_limits(inst, &p.lim);
	str_init(&p.line, ZSASL_LINE_MAX);
	if ((p.io = calloc(1, sizeof *p.io)) == NULL)
		return 75;
	io_init(p.io, 0, 1);
	io_set_timeouts(p.io, (int)p.lim.timeout * 1000,
	    (int)p.lim.timeout * 1000);
	if ((p.sasl = zsasl_new(POP3_SASL_SERVICE, inst->hostname,
	    pre_checkpass, &p, &err)) == NULL) {
		log_err("%s", str_cstr(&err));
		pop3_reply(p.io, 0, "[SYS/TEMP] Service not available");
		io_flush(p.io);
		return 75;
	}
	if (lc->implicit_tls) {
		io_set_deadline(p.io, time(NULL) + (time_t)p.lim.timeout);
		r = tls_accept(lc->tls_ctx, p.io, 0, 1, &p.tls, &err);
		io_set_deadline(p.io, 0);
		if (r < 0) {
			log_info("TLS handshake failed: %s", str_cstr(&err));
			goto out;
		}
	}
	log_info("connect from %s%s%s", lc->ip[0] ? lc->ip : "unknown",
	    p.tls != NULL ? " TLS " : "", p.tls != NULL ?
	    tls_session_info(p.tls) : "");
	if (pop3_reply(p.io, 1, "%s POP3 ready%s%s", inst->hostname,
	    lc->challenge[0] ? " " : "", lc->challenge) < 0)
		goto out;
	pre_loop(&p);
	io_flush(p.io);
out:
	if (p.tls != NULL)
		tls_session_free(&p.tls);
	zsasl_free(&p.sasl);
	str_free(&p.user);
	str_free(&p.line);
	str_free(&err);
	free(p.io);
	return p.rc;
}
