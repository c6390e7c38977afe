/* SPDX-License-Identifier: ISC */
/*
 * smtpd: the session.  Reads command lines (CRLF only, at most
 * SMTP_CMD_LINE_MAX bytes), dispatches them through a table, buffers the
 * replies and writes them out only when no complete command is waiting
 * (RFC 2920 pipelining: one write per group of commands).
 */
#include "smtpd.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

/* Defaults when zest.conf's key table lacks a key (see zest.conf(5)). */
#define SMTPD_LINE_MAX_DEF 65536
#define SMTPD_ERROR_LIMIT_DEF 20
#define SMTPD_TIMEOUT_DEF 300

static const struct {
	enum smtp_verb verb;
	smtpd_cmd_fn *fn;
} session_cmds[] = {
	{ SMTP_EHLO, smtpd_cmd_ehlo }, { SMTP_HELO, smtpd_cmd_helo },
	{ SMTP_MAIL, smtpd_cmd_mail }, { SMTP_RCPT, smtpd_cmd_rcpt },
	{ SMTP_DATA, smtpd_cmd_data }, { SMTP_BDAT, smtpd_cmd_bdat },
	{ SMTP_RSET, smtpd_cmd_rset }, { SMTP_NOOP, smtpd_cmd_noop },
	{ SMTP_QUIT, smtpd_cmd_quit }, { SMTP_VRFY, smtpd_cmd_vrfy },
	{ SMTP_EXPN, smtpd_cmd_expn }, { SMTP_HELP, smtpd_cmd_help },
	{ SMTP_STARTTLS, smtpd_cmd_starttls }, { SMTP_AUTH, smtpd_cmd_auth },
	{ SMTP_UNKNOWN, NULL }
};

/* First words of other protocols (a browser made to talk to port 25):
 * the connection is dropped without a word. */
static const char *const session_foreign[] = {
	"GET", "POST", "HEAD", "PUT", "CONNECT", "OPTIONS", "DELETE", NULL
};

void
smtpd_limits(const struct instance *inst, struct smtpd_limits *lim)
{
	const struct conf *c = inst->conf;

	lim->line_max = (size_t)conf_num(c, "smtpd_line_max");
	lim->error_limit = (unsigned)conf_num(c, "smtpd_error_limit");
	lim->timeout = (unsigned)conf_num(c, "smtpd_timeout");
	lim->size_limit = inst->message_size_limit;
	lim->max_rcpt = inst->max_recipients;
	if (lim->line_max == 0)
		lim->line_max = SMTPD_LINE_MAX_DEF;
	if (lim->error_limit == 0)
		lim->error_limit = SMTPD_ERROR_LIMIT_DEF;
	if (lim->timeout == 0)
		lim->timeout = SMTPD_TIMEOUT_DEF;
}

int
smtpd_init(struct smtpd *s, const struct instance *inst, struct io *io,
    int rfd, int wfd, const char *ip, const struct smtpd_tls *tls_conf)
{
	memset(s, 0, sizeof *s);
	s->inst = inst;
	smtpd_limits(inst, &s->lim);
	s->io = io;
	s->rfd = rfd;
	s->wfd = wfd;
	s->tls_conf = tls_conf;
	s->relay_fd = -1;
	if (ip != NULL && strlen(ip) < sizeof s->ip) {
		memcpy(s->ip, ip, strlen(ip) + 1);
		s->ip6 = strchr(ip, ':') != NULL;
	}
	log_new_session_id(s->sid, sizeof s->sid);
	log_set_session(s->sid);
	str_init(&s->line, SMTP_CMD_LINE_MAX);
	str_init(&s->helo, 0);
	str_init(&s->reply, 0);
	io_set_timeouts(io, (int)s->lim.timeout * 1000,
	    (int)s->lim.timeout * 1000);
	return 0;
}

void
smtpd_free(struct smtpd *s)
{
	smtpd_tx_reset(s);
	smtpd_tls_end(s);
	smtpd_relay_close(s);
	str_free(&s->line);
	str_free(&s->helo);
	str_free(&s->reply);
	str_free(&s->tx.from);
	str_free(&s->tx.envid);
	str_free(&s->tx.rcpts);
	str_free(&s->tx.first_rcpt);
}

void
smtpd_tx_reset(struct smtpd *s)
{
	struct smtpd_tx *tx = &s->tx;

	smtpd_inject_abort(s);
	str_clear(&tx->from);
	str_clear(&tx->envid);
	str_clear(&tx->rcpts);
	str_clear(&tx->first_rcpt);
	tx->active = 0;
	tx->body = SMTP_BODY_7BIT;
	tx->body_given = 0;
	tx->utf8 = 0;
	tx->ret = SMTP_RET_NONE;
	tx->declared = 0;
	tx->nrcpt = 0;
	tx->bdat = 0;
	tx->size = 0;
	tx->too_big = 0;
}

int
smtpd_reply(struct smtpd *s, int code, const char *enh, const char *fmt,
    ...)
{
	struct str text = STR_INIT;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = str_vappendf(&text, fmt, ap);
	va_end(ap);
	str_clear(&s->reply);
	if (r == 0)
		r = smtp_reply_format(&s->reply, code, enh, text.s);
	if (r == 0 && code >= 400) {
		s->errors++;
		log_info("reply %d %s %s", code, enh ? enh : "", text.s);
	}
	str_free(&text);
	if (r < 0)
		return -1;
	return io_write(s->io, s->reply.s, s->reply.len);
}

int
smtpd_flush(struct smtpd *s)
{
	return io_flush(s->io);
}

/* Whether a whole command line is already buffered. */
static int
session_line_waiting(const struct smtpd *s)
{
	const struct io *io = s->io;

	/* struct io documents rbuf[rpos..rlen) as the unread bytes. */
	return io_pending(io) > 0 &&
	    memchr(io->rbuf + io->rpos, '\n', io_pending(io)) != NULL;
}

/* A read that ended the session: say why when it was a timeout. */
static int
session_lost(struct smtpd *s, const char *when)
{
	if (errno == ETIMEDOUT) {
		log_info("timeout %s", when);
		/* Best effort: the client may not be reading either. */
		io_set_timeouts(s->io, 1000, 1000);
		smtpd_reply(s, 421, "4.4.2", "%s Timeout, closing connection",
		    s->inst->hostname);
		smtpd_flush(s);
	} else
		log_info("lost connection %s", when);
	return -1;
}

/* Read one command line into s->line, CRLF removed.  Returns 1 with a
 * line, 0 when it was refused (reply queued), -1 when the session ends. */
static int
session_read(struct smtpd *s)
{
	size_t len;
	int r;

	if (!session_line_waiting(s) && smtpd_flush(s) < 0)
		return session_lost(s, "writing a reply");
	r = io_getline(s->io, &s->line, SMTP_CMD_LINE_MAX);
	if (r < 0 && errno == E2BIG) {
		smtpd_reply(s, 500, "5.5.2", "Line too long");
		return 0;
	}
	if (r <= 0) {
		if (r == 0)
			errno = 0;
		return session_lost(s, "reading a command");
	}
	len = s->line.len;
	if (s->line.s[len - 1] != '\n') {
		errno = 0;
		return session_lost(s, "inside a command line");
	}
	if (len < 2 || s->line.s[len - 2] != '\r') {
		smtpd_reply(s, 500, "5.5.2", "Line must end with CRLF");
		return 0;
	}
	str_truncate(&s->line, len - 2);
	return 1;
}

static int
session_foreign_word(const struct smtp_cmd *cmd)
{
	size_t i;

	for (i = 0; session_foreign[i] != NULL; i++)
		if (strlen(session_foreign[i]) == cmd->namelen &&
		    memcmp(cmd->name, session_foreign[i], cmd->namelen) == 0)
			return 1;
	return 0;
}

/* Serve one command line.  Returns 0, or -1 when the session ends. */
static int
session_command(struct smtpd *s)
{
	struct smtp_cmd cmd;
	size_t i;

	log_debug("command: %s", s->line.s);
	if (smtp_cmd_parse(s->line.s, s->line.len, &cmd) < 0)
		return smtpd_reply(s, 500, "5.5.2", "Syntax error");
	if (cmd.verb == SMTP_UNKNOWN && session_foreign_word(&cmd)) {
		log_info("%.*s command: not an SMTP client, dropped",
		    (int)cmd.namelen, cmd.name);
		return -1;
	}
	for (i = 0; session_cmds[i].fn != NULL; i++)
		if (session_cmds[i].verb == cmd.verb)
			return session_cmds[i].fn(s, &cmd);
	return smtpd_reply(s, 500, "5.5.2", "Command unrecognized");
}

int
smtpd_run(struct smtpd *s)
{
	int r, rc = 0;

	log_info("connect from %s%s%s", s->ip[0] ? "[" : "",
	    s->ip[0] ? s->ip : "unknown", s->ip[0] ? "]" : "");
	smtpd_reply(s, 220, NULL, "%s ESMTP Zest", s->inst->hostname);
	while (!s->quit) {
		r = session_read(s);
		if (r < 0 || (r > 0 && session_command(s) < 0)) {
			rc = -1;
			break;
		}
		if (s->errors >= s->lim.error_limit && !s->quit) {
			smtpd_reply(s, 421, "4.7.0", "%s Too many errors, "
			    "closing connection", s->inst->hostname);
			log_info("too many errors (%u)", s->errors);
			rc = -1;
			break;
		}
	}
	if (smtpd_flush(s) < 0 && rc == 0)
		rc = -1;
	log_info("disconnect: %u message%s queued, %u error%s", s->nmsg,
	    s->nmsg == 1 ? "" : "s", s->errors, s->errors == 1 ? "" : "s");
	return rc;
}
