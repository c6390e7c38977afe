/* SPDX-License-Identifier: ISC */
/*
 * imapd: the not-authenticated state, in the pre-login process
 * (zest-login, chrooted to an empty directory).  It greets, runs TLS,
 * parses CAPABILITY, NOOP, LOGOUT, STARTTLS, LOGIN, AUTHENTICATE and ID,
 * and asks the login checker about every credential.  It never answers a
 * successful login itself: the session process does, with the tag that
 * rides along as lib/login's resume string, once it has the mailbox.
 *
 * Plaintext credentials (LOGIN, AUTHENTICATE PLAIN and LOGIN) are
 * accepted only over TLS or from this host's own address (unless
 * login_local_plaintext is off); otherwise LOGINDISABLED is advertised.
 */
#include "imapd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"
#include "sasl.h"
#include "tls.h"

struct pre {
	struct imapd s;		/* the reply helpers work on it */
	struct login_client *lc;
	struct tls_session *tls;
	struct zsasl *sasl;
	struct str line;
	int rc;
};

static int
pre_plain_ok(const struct pre *p)
{
	return p->tls != NULL || p->lc->local;
}

/* The capability list of this state into out. */
static int
pre_caps(struct pre *p, struct str *out)
{
	struct str mechs = STR_INIT;
	const char *m;
	int r;

	str_clear(out);
	r = str_appends(out, IMAP_CAPS_COMMON);
	if (r == 0 && p->tls == NULL && p->lc->tls_ctx != NULL)
		r = str_appends(out, " STARTTLS");
	if (r == 0 && !pre_plain_ok(p))
		r = str_appends(out, " LOGINDISABLED");
	if (r == 0 && zsasl_mechs(p->sasl, pre_plain_ok(p), &mechs) < 0)
		r = -1;
	for (m = mechs.s; r == 0 && m != NULL && *m != '\0';) {
		size_t n = strcspn(m, " ");

		r = str_appendf(out, " AUTH=%.*s", (int)n, m);
		m += n + (m[n] == ' ');
	}
	str_free(&mechs);
	return r;
}

static int
pre_capability(struct pre *p)
{
	struct imapd *s = &p->s;
	int r;

	if ((r = imapd_eol(s)) <= 0)
		return r;
	if (pre_caps(p, &s->out) < 0 ||
	    imapd_untagged(s, "CAPABILITY %s", s->out.s) < 0)
		return -1;
	return imapd_tagged(s, "OK CAPABILITY completed");
}

static int
pre_starttls(struct pre *p)
{
	struct imapd *s = &p->s;
	struct str err = STR_INIT;
	size_t dropped;
	int r;

	if ((r = imapd_eol(s)) <= 0)
		return r;
	if (p->tls != NULL)
		return imapd_bad(s, "TLS is already active");
	if (p->lc->tls_ctx == NULL)
		return imapd_tagged(s, "NO TLS not available");
	/* RFC 3501 6.2.1: what was pipelined in plain text after STARTTLS
	 * must not run inside the TLS session */
	dropped = io_pending(s->io);
	io_discard_pending(s->io);
	if (dropped > 0)
		log_warn("%zu bytes pipelined after STARTTLS discarded",
		    dropped);
	if (imapd_tagged(s, "OK Begin TLS negotiation now") < 0 ||
	    io_flush(s->io) < 0)
		return -1;
	io_set_deadline(s->io, time(NULL) + imapd_login_timeout(s));
	r = tls_accept(p->lc->tls_ctx, s->io, 0, 1, &p->tls, &err);
	io_set_deadline(s->io, 0);
	if (r < 0)
		log_info("TLS handshake failed: %s", str_cstr(&err));
	else
		log_info("STARTTLS: %s", tls_session_info(p->tls));
	str_free(&err);
	return r;
}

/* Hand over to the session of user (verified by the checker). */
static int
pre_start(struct pre *p, const char *user)
{
	struct imapd *s = &p->s;
	int r;

	r = login_client_start(p->lc, user, s->cmd.tag, s->io, p->tls);
	if (r == LOGIN_YES) {
		/* the session answers the tag and owns the connection */
		s->logout = 1;
		p->rc = 0;
		return 0;
	}
	if (r == LOGIN_TEMP)
		return imapd_tagged(s, "NO [UNAVAILABLE] Cannot open the "
		    "mailbox now, try again later");
	imapd_untagged(s, "BYE Login service unavailable");
	s->logout = 1;
	return 0;
}

/* The checker's answer to a credential. */
static int
pre_verdict(struct pre *p, int r, const char *user)
{
	struct imapd *s = &p->s;

	switch (r) {
	case LOGIN_YES:
		return pre_start(p, user);
	case LOGIN_NO:
		return imapd_tagged(s, "NO [AUTHENTICATIONFAILED] "
		    "Authentication failed");
	case LOGIN_TEMP:
		return imapd_tagged(s, "NO [UNAVAILABLE] Authentication "
		    "temporarily unavailable");
	default:
		imapd_untagged(s, "BYE Too many authentication failures");
		s->logout = 1;
		return 0;
	}
}

/* The tag must fit lib/login's resume string. */
static int
pre_tag_ok(struct pre *p)
{
	return strlen(p->s.cmd.tag) <= IMAP_TAG_MAX;
}

static int
pre_login(struct pre *p)
{
	struct imapd *s = &p->s;
	struct imap_str user, pw;
	char *u;
	int r;

	if (imap_arg_astring(s->p, &user) < 0 ||
	    imap_arg_astring(s->p, &pw) < 0)
		return imapd_parse_error(s);
	if ((r = imapd_eol(s)) <= 0)
		return r;
	if (!pre_plain_ok(p)) {
		explicit_bzero((char *)pw.s, pw.len);
		return imapd_tagged(s, "NO [PRIVACYREQUIRED] Plaintext "
		    "authentication disallowed without TLS (use STARTTLS)");
	}
	if (!pre_tag_ok(p))
		return imapd_bad(s, "Tag too long");
	if (user.len == 0 || user.len > LOGIN_FIELD_MAX ||
	    pw.len > LOGIN_FIELD_MAX)
		return imapd_tagged(s, "NO [AUTHENTICATIONFAILED] "
		    "Authentication failed");
	if ((u = strdup(user.s)) == NULL)
		return -1;
	r = login_client_password(p->lc, u, pw.s);
	explicit_bzero((char *)pw.s, pw.len);
	r = pre_verdict(p, r, u);
	free(u);
	return r;
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
	struct imapd *s = &p->s;
	struct str out = STR_INIT;
	int r;

	r = zsasl_start(p->sasl, mech, pre_plain_ok(p), ir, &out);
	while (r == ZSASL_CONTINUE) {
		if (io_printf(s->io, "+ %s\r\n", str_cstr(&out)) < 0 ||
		    io_flush(s->io) < 0) {
			r = ZSASL_CLOSE;
			break;
		}
		r = io_getline(s->io, &p->line, ZSASL_LINE_MAX);
		if (r <= 0) {
			r = r < 0 && errno == E2BIG ? ZSASL_BAD : ZSASL_CLOSE;
			break;
		}
		if (p->line.len > 0 && p->line.s[p->line.len - 1] == '\n')
			str_truncate(&p->line, p->line.len - 1);
		if (p->line.len > 0 && p->line.s[p->line.len - 1] == '\r')
			str_truncate(&p->line, p->line.len - 1);
		if (memchr(p->line.s, '\0', p->line.len) != NULL) {
			r = ZSASL_BAD;
			break;
		}
		r = zsasl_step(p->sasl, str_cstr(&p->line), &out);
		explicit_bzero(p->line.s, p->line.len);
	}
	str_free(&out);
	return r;
}

static int
pre_authenticate(struct pre *p)
{
	struct imapd *s = &p->s;
	struct imap_str mech, ir = { NULL, 0 };
	char mbuf[32], *irc = NULL;
	int r;

	if (imap_arg_atom(s->p, &mech) < 0)
		return imapd_parse_error(s);
	/* SASL-IR (RFC 4959): the initial response is an atom of base64
	 * or "=" */
	if (imap_arg_peek(s->p) != IMAP_TOK_EOL &&
	    imap_arg_atom(s->p, &ir) < 0)
		return imapd_parse_error(s);
	if ((r = imapd_eol(s)) <= 0)
		return r;
	if (mech.len >= sizeof mbuf)
		return imapd_tagged(s, "NO Unsupported authentication "
		    "mechanism");
	memcpy(mbuf, mech.s, mech.len + 1);
	if (!pre_tag_ok(p))
		return imapd_bad(s, "Tag too long");
	if (!pre_plain_ok(p) && (strcasecmp(mbuf, "PLAIN") == 0 ||
	    strcasecmp(mbuf, "LOGIN") == 0))
		return imapd_tagged(s, "NO [PRIVACYREQUIRED] Plaintext "
		    "authentication disallowed without TLS (use STARTTLS)");
	if (ir.s != NULL && (irc = strdup(ir.s)) == NULL)
		return -1;
	r = pre_sasl_exchange(p, mbuf, irc);
	if (irc != NULL) {
		explicit_bzero(irc, strlen(irc));
		free(irc);
	}
	switch (r) {
	case ZSASL_OK:
		return pre_verdict(p, LOGIN_YES, zsasl_user(p->sasl));
	case ZSASL_FAIL:
		return pre_verdict(p, LOGIN_NO, NULL);
	case ZSASL_TEMP:
		return pre_verdict(p, LOGIN_TEMP, NULL);
	case ZSASL_NOMECH:
		return imapd_tagged(s, "NO Unsupported authentication "
		    "mechanism");
	case ZSASL_CANCEL:
		return imapd_tagged(s, "BAD Authentication cancelled");
	case ZSASL_BAD:
		return imapd_bad(s, "Malformed authentication data");
	default:
		return pre_verdict(p, LOGIN_CLOSE, NULL);
	}
}

static int
pre_noop(struct pre *p)
{
	int r;

	if ((r = imapd_eol(&p->s)) <= 0)
		return r;
	return imapd_tagged(&p->s, "OK NOOP completed");
}

static int
pre_logout(struct pre *p)
{
	int r;

	if ((r = imapd_eol(&p->s)) <= 0)
		return r;
	imapd_untagged(&p->s, "BYE Logging out");
	p->s.logout = 1;
	return imapd_tagged(&p->s, "OK LOGOUT completed");
}

static int
pre_id(struct pre *p)
{
	return imapd_id(&p->s);
}

static const struct {
	const char *name;
	int (*fn)(struct pre *);
} pre_cmds[] = {
	{ "CAPABILITY", pre_capability }, { "NOOP", pre_noop },
	{ "LOGOUT", pre_logout }, { "STARTTLS", pre_starttls },
	{ "LOGIN", pre_login }, { "AUTHENTICATE", pre_authenticate },
	{ "ID", pre_id }, { NULL, NULL }
};

static int
pre_command(struct pre *p)
{
	struct imapd *s = &p->s;
	size_t i;

	if (!s->cmd.uid)
		for (i = 0; pre_cmds[i].name != NULL; i++)
			if (strcmp(pre_cmds[i].name, s->cmd.name) == 0)
				return pre_cmds[i].fn(p);
	if (imap_cmd_skip(s->p) < 0)
		return imapd_parse_error(s);
	return imapd_bad(s, "Unknown command or not logged in");
}

static void
pre_loop(struct pre *p)
{
	struct imapd *s = &p->s;
	int r;

	while (!s->logout) {
		r = imap_cmd_read(s->p, &s->cmd);
		if (r == 0)
			break;
		if (r < 0)
			r = imapd_parse_error(s);
		else
			r = pre_command(p);
		if (r < 0)
			break;
	}
}

static int
pre_greet(struct pre *p)
{
	struct imapd *s = &p->s;
	const struct instance *inst = p->lc->inst;
	struct str caps = STR_INIT;
	int r;

	r = pre_caps(p, &caps);
	if (r == 0)
		r = imapd_untagged(s, "OK [CAPABILITY %s] %s IMAP4rev1 "
		    "ready", caps.s, inst->hostname);
	str_free(&caps);
	return r < 0 ? -1 : io_flush(s->io);
}

int
imapd_prelogin(struct login_client *lc, void *arg)
{
	struct str err = STR_INIT;
	struct pre p;
	int r;

	(void)arg;
	memset(&p, 0, sizeof p);
	p.lc = lc;
	p.s.inst = lc->inst;
	p.rc = 0;
	if ((p.s.io = calloc(1, sizeof *p.s.io)) == NULL)
		return 75;
	io_init(p.s.io, 0, 1);
	io_set_timeouts(p.s.io, imapd_login_timeout(&p.s) * 1000,
	    imapd_login_timeout(&p.s) * 1000);
	if ((p.s.p = imap_parser_new(p.s.io, NULL)) == NULL ||
	    (p.sasl = zsasl_new(IMAP_SASL_SERVICE, lc->inst->hostname,
	    pre_checkpass, &p, &err)) == NULL) {
		log_err("%s", err.len ? err.s : "out of memory");
		io_puts(p.s.io, "* BYE [UNAVAILABLE] Service not available\r\n");
		io_flush(p.s.io);
		p.rc = 75;
		goto out;
	}
	imap_parser_set_literal_mode(p.s.p, IMAP_LITERAL_PLUS);
	if (lc->implicit_tls) {
		io_set_deadline(p.s.io, time(NULL) + imapd_login_timeout(&p.s));
		r = tls_accept(lc->tls_ctx, p.s.io, 0, 1, &p.tls, &err);
		io_set_deadline(p.s.io, 0);
		if (r < 0) {
			log_info("TLS handshake failed: %s", str_cstr(&err));
			goto out;
		}
	}
	log_info("connect from %s%s%s", lc->ip[0] ? lc->ip : "unknown",
	    p.tls != NULL ? " TLS " : "", p.tls != NULL ?
	    tls_session_info(p.tls) : "");
	if (pre_greet(&p) == 0)
		pre_loop(&p);
	io_flush(p.s.io);
out:
	if (p.tls != NULL)
		tls_session_free(&p.tls);
	zsasl_free(&p.sasl);
	imap_parser_free(&p.s.p);
	str_free(&p.s.out);
	str_free(&p.line);
	str_free(&err);
	free(p.s.io);
	return p.rc;
}
