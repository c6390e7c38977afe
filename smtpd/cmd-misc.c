/* SPDX-License-Identifier: ISC */
/*
 * smtpd: EHLO, HELO, RSET, NOOP, QUIT, VRFY, EXPN, HELP, AUTH.
 */
#include "smtpd.h"

#include <string.h>

/* The HELO/EHLO argument: one word of printable ASCII or UTF-8.  RFC 5321
 * asks for a domain or an address literal, but refusing the odd names
 * clients use (underscores, bare host names) helps nobody; the Received
 * header marks a name that is neither. */
static int
helo_arg_ok(const struct smtp_cmd *cmd)
{
	size_t i;

	if (cmd->arglen == 0 || cmd->arglen > SMTP_DOMAIN_MAX)
		return 0;
	for (i = 0; i < cmd->arglen; i++)
		if (cmd->arg[i] == ' ')
			return 0;
	return smtp_utf8_valid(cmd->arg, cmd->arglen);
}

/* Take the HELO/EHLO argument.  Returns 1 when taken, 0 when refused
 * (reply queued), -1 when the reply could not be written. */
static int
helo_common(struct smtpd *s, const struct smtp_cmd *cmd, int esmtp)
{
	const char *verb = esmtp ? "EHLO" : "HELO";

	if (!helo_arg_ok(cmd))
		return smtpd_reply(s, 501, "5.5.4", "Syntax: %s domain",
		    verb) < 0 ? -1 : 0;
	smtpd_tx_reset(s);
	str_clear(&s->helo);
	if (str_append(&s->helo, cmd->arg, cmd->arglen) < 0)
		return smtpd_reply(s, 451, "4.3.0", "Out of memory") < 0 ?
		    -1 : 0;
	s->esmtp = esmtp;
	log_info("%s %s", verb, s->helo.s);
	return 1;
}

int
smtpd_cmd_helo(struct smtpd *s, const struct smtp_cmd *cmd)
{
	int r = helo_common(s, cmd, 0);

	if (r <= 0)
		return r;
	return smtpd_reply(s, 250, NULL, "%s", s->inst->hostname);
}

int
smtpd_cmd_ehlo(struct smtpd *s, const struct smtp_cmd *cmd)
{
	int r = helo_common(s, cmd, 1);

	if (r <= 0)
		return r;
	/* RFC 2034: no enhanced codes in the answer to EHLO. */
	return smtpd_reply(s, 250, NULL,
	    "%s\nPIPELINING\nSIZE %llu\n8BITMIME\nENHANCEDSTATUSCODES\nDSN\n"
	    "CHUNKING\nBINARYMIME\n%sSMTPUTF8", s->inst->hostname,
	    s->lim.size_limit, smtpd_tls_offer(s) ? "STARTTLS\n" : "");
}

int
smtpd_cmd_rset(struct smtpd *s, const struct smtp_cmd *cmd)
{
	if (cmd->arglen != 0)
		return smtpd_reply(s, 501, "5.5.4", "Syntax: RSET");
	smtpd_tx_reset(s);
	return smtpd_reply(s, 250, "2.0.0", "Ok");
}

int
smtpd_cmd_noop(struct smtpd *s, const struct smtp_cmd *cmd)
{
	return smtpd_reply(s, 250, "2.0.0", "Ok");
}

int
smtpd_cmd_quit(struct smtpd *s, const struct smtp_cmd *cmd)
{
	if (cmd->arglen != 0)
		return smtpd_reply(s, 501, "5.5.4", "Syntax: QUIT");
	smtpd_tx_reset(s);
	s->quit = 1;
	if (s->on_quit != NULL)
		s->on_quit(s->on_quit_arg);
	return smtpd_reply(s, 221, "2.0.0", "%s closing connection",
	    s->inst->hostname);
}

int
smtpd_cmd_vrfy(struct smtpd *s, const struct smtp_cmd *cmd)
{
	if (cmd->arglen == 0)
		return smtpd_reply(s, 501, "5.5.4", "Syntax: VRFY address");
	/* RFC 5321 3.5.3: 252 rather than revealing who exists. */
	return smtpd_reply(s, 252, "2.0.0", "Cannot VRFY user, but will "
	    "accept message and attempt delivery");
}

int
smtpd_cmd_expn(struct smtpd *s, const struct smtp_cmd *cmd)
{
	return smtpd_reply(s, 502, "5.5.1", "EXPN not available");
}

int
smtpd_cmd_help(struct smtpd *s, const struct smtp_cmd *cmd)
{
	return smtpd_reply(s, 214, "2.0.0", "Commands: EHLO HELO MAIL RCPT "
	    "DATA BDAT RSET NOOP QUIT VRFY HELP%s", smtpd_tls_offer(s) ?
	    " STARTTLS" : "");
}

int
smtpd_cmd_auth(struct smtpd *s, const struct smtp_cmd *cmd)
{
	return smtpd_reply(s, 502, "5.5.1", "AUTH not available here; use "
	    "the submission port");
}
