/* SPDX-License-Identifier: ISC */
/*
 * smtpd: MAIL and RCPT, with the parameters of SIZE (RFC 1870), BODY
 * (RFC 6152, RFC 3030), SMTPUTF8 (RFC 6531) and DSN (RFC 3461).
 */
#include "smtpd.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

/* What a parameter handler reports: taken, or refused with a reply. */
#define PARAM_OK 0
#define PARAM_REFUSED 1

/* A RCPT's DSN parameters, before the recipient is accepted. */
struct rcpt_dsn {
	unsigned notify;
	const char *orcpt;
	size_t orcptlen;
};

/* A parameter handler: arg is the transaction (MAIL) or a rcpt_dsn. */
typedef int param_fn(struct smtpd *s, const struct smtp_param *par,
    void *arg);

struct param_def {
	const char *key;
	param_fn *fn;
};

/* Refuse a parameter: reply and report PARAM_REFUSED (or -1). */
static int
param_refuse(struct smtpd *s, const struct smtp_param *par, const char *why)
{
	if (smtpd_reply(s, 501, "5.5.4", "Invalid %.*s parameter%s%s",
	    (int)par->keylen, par->key, why ? ": " : "", why ? why : "") < 0)
		return -1;
	return PARAM_REFUSED;
}

static int
param_size(struct smtpd *s, const struct smtp_param *par, void *arg)
{
	struct smtpd_tx *tx = arg;

	if (par->val == NULL ||
	    smtp_parse_ulong(par->val, par->vallen, &tx->declared) < 0) {
		if (par->val == NULL || errno != ERANGE)
			return param_refuse(s, par, NULL);
		tx->declared = ~0ULL;	/* too big for 64 bits: too big */
	}
	return PARAM_OK;
}

static int
param_body(struct smtpd *s, const struct smtp_param *par, void *arg)
{
	struct smtpd_tx *tx = arg;

	if (par->val == NULL ||
	    smtp_body_parse(par->val, par->vallen, &tx->body) < 0)
		return param_refuse(s, par, "7BIT, 8BITMIME or BINARYMIME");
	tx->body_given = 1;
	return PARAM_OK;
}

static int
param_smtputf8(struct smtpd *s, const struct smtp_param *par, void *arg)
{
	struct smtpd_tx *tx = arg;

	if (par->val != NULL)
		return param_refuse(s, par, "takes no value");
	tx->utf8 = 1;
	return PARAM_OK;
}

static int
param_ret(struct smtpd *s, const struct smtp_param *par, void *arg)
{
	struct smtpd_tx *tx = arg;

	if (par->val == NULL ||
	    smtp_ret_parse(par->val, par->vallen, &tx->ret) < 0)
		return param_refuse(s, par, "FULL or HDRS");
	return PARAM_OK;
}

static int
param_envid(struct smtpd *s, const struct smtp_param *par, void *arg)
{
	struct smtpd_tx *tx = arg;

	if (par->val == NULL || !smtp_envid_valid(par->val, par->vallen))
		return param_refuse(s, par, NULL);
	if (str_append(&tx->envid, par->val, par->vallen) < 0)
		return smtpd_reply(s, 451, "4.3.0", "Out of memory") < 0 ?
		    -1 : PARAM_REFUSED;
	return PARAM_OK;
}

static int
param_notify(struct smtpd *s, const struct smtp_param *par, void *arg)
{
	struct rcpt_dsn *dsn = arg;

	if (par->val == NULL ||
	    smtp_notify_parse(par->val, par->vallen, &dsn->notify) < 0)
		return param_refuse(s, par, NULL);
	return PARAM_OK;
}

static int
param_orcpt(struct smtpd *s, const struct smtp_param *par, void *arg)
{
	struct rcpt_dsn *dsn = arg;

	if (par->val == NULL ||
	    !smtp_orcpt_valid(par->val, par->vallen, s->tx.utf8))
		return param_refuse(s, par, NULL);
	dsn->orcpt = par->val;
	dsn->orcptlen = par->vallen;
	return PARAM_OK;
}

static const struct param_def mail_params[] = {
	{ "SIZE", param_size }, { "BODY", param_body },
	{ "SMTPUTF8", param_smtputf8 }, { "RET", param_ret },
	{ "ENVID", param_envid }, { NULL, NULL }
};

static const struct param_def rcpt_params[] = {
	{ "NOTIFY", param_notify }, { "ORCPT", param_orcpt }, { NULL, NULL }
};

/* Run the parameters through defs, each at most once.  Returns
 * PARAM_OK, PARAM_REFUSED (reply queued) or -1. */
static int
params_take(struct smtpd *s, const char *p, size_t len,
    const struct param_def *defs, void *arg)
{
	const char *end = p + len;
	struct smtp_param par;
	unsigned seen = 0;
	size_t i;
	int r;

	/* RFC 6531 allows UTF-8 in esmtp-values; ENVID and ORCPT check
	 * their own forms. */
	while ((r = smtp_param_next(&p, end, s->esmtp, &par)) == 1) {
		if (!s->esmtp)
			return smtpd_reply(s, 555, "5.5.4", "Parameters need "
			    "EHLO") < 0 ? -1 : PARAM_REFUSED;
		for (i = 0; defs[i].key != NULL; i++)
			if (smtp_param_is(&par, defs[i].key))
				break;
		if (defs[i].key == NULL)
			return smtpd_reply(s, 555, "5.5.4", "Unsupported "
			    "parameter %.*s", (int)par.keylen, par.key) < 0 ?
			    -1 : PARAM_REFUSED;
		if (seen & (1U << i))
			return param_refuse(s, &par, "given twice");
		seen |= 1U << i;
		if ((r = defs[i].fn(s, &par, arg)) != PARAM_OK)
			return r;
	}
	if (r < 0)
		return smtpd_reply(s, 501, "5.5.4", "Bad parameter syntax") < 0 ?
		    -1 : PARAM_REFUSED;
	return PARAM_OK;
}

/* Reply to a path that did not parse. */
static int
path_refuse(struct smtpd *s, const char *verb, const char *what,
    const char *enh)
{
	if (errno == EILSEQ)
		return smtpd_reply(s, 553, "5.6.7", "Non-ASCII address needs "
		    "SMTPUTF8");
	if (errno == ENOMEM)
		return smtpd_reply(s, 451, "4.3.0", "Out of memory");
	if (errno == ENAMETOOLONG)
		return smtpd_reply(s, 501, enh, "%s address too long", what);
	return smtpd_reply(s, 501, enh, "Syntax: %s <address> [parameters]",
	    verb);
}

int
smtpd_cmd_mail(struct smtpd *s, const struct smtp_cmd *cmd)
{
	struct smtp_path path = { STR_INIT, 0, 0, 0, 0, 0, 0 };
	const char *params;
	size_t plen;
	int r;

	if (s->helo.len == 0)
		return smtpd_reply(s, 503, "5.5.1", "Send EHLO or HELO first");
	if (s->tx.active)
		return smtpd_reply(s, 503, "5.5.1", "Nested MAIL command");
	if (smtp_mailrcpt_parse(cmd->arg, cmd->arglen, "FROM:",
	    SMTP_PATH_NULL | (s->esmtp ? SMTP_PATH_UTF8 : 0), &path, &params,
	    &plen) < 0)
		return path_refuse(s, "MAIL FROM:", "Sender", "5.1.7");
	smtpd_tx_reset(s);
	r = params_take(s, params, plen, mail_params, &s->tx);
	if (r == PARAM_OK && path.utf8 && !s->tx.utf8)
		r = smtpd_reply(s, 553, "5.6.7", "Non-ASCII address needs "
		    "SMTPUTF8") < 0 ? -1 : PARAM_REFUSED;
	if (r == PARAM_OK && s->tx.declared > s->lim.size_limit)
		r = smtpd_reply(s, 552, "5.3.4", "Message size exceeds fixed "
		    "maximum message size (%llu)", s->lim.size_limit) < 0 ?
		    -1 : PARAM_REFUSED;
	if (r == PARAM_OK && str_append(&s->tx.from, path.addr.s ?
	    path.addr.s : "", path.addr.len) < 0)
		r = smtpd_reply(s, 451, "4.3.0", "Out of memory") < 0 ? -1 :
		    PARAM_REFUSED;
	smtp_path_free(&path);
	if (r != PARAM_OK) {
		smtpd_tx_reset(s);
		return r < 0 ? -1 : 0;
	}
	/* RFC 6531 3.1: SMTPUTF8 implies an 8-bit body. */
	if (s->tx.utf8 && !s->tx.body_given)
		s->tx.body = SMTP_BODY_8BITMIME;
	s->tx.active = 1;
	log_info("from=<%s> size=%llu body=%s%s", s->tx.from.s ?
	    s->tx.from.s : "", s->tx.declared, smtp_body_name(s->tx.body),
	    s->tx.utf8 ? " smtputf8" : "");
	return smtpd_reply(s, 250, "2.1.0", "Ok");
}

/* Append the envelope's R line for the recipient. */
static int
rcpt_add(struct smtpd *s, const struct smtp_path *p,
    const struct rcpt_dsn *dsn)
{
	struct smtpd_tx *tx = &s->tx;
	size_t save = tx->rcpts.len;
	int r;

	if (p->postmaster)
		r = str_appendf(&tx->rcpts, "Rpostmaster@%s\t",
		    s->inst->domain);
	else
		r = str_appendf(&tx->rcpts, "R%s\t", p->addr.s);
	if (r == 0 && dsn->notify != 0)
		r = smtp_notify_format(dsn->notify, &tx->rcpts);
	if (r == 0)
		r = str_appendc(&tx->rcpts, '\t');
	if (r == 0 && dsn->orcpt != NULL)
		r = str_append(&tx->rcpts, dsn->orcpt, dsn->orcptlen);
	if (r == 0)
		r = str_appendc(&tx->rcpts, '\n');
	if (r == 0 && tx->nrcpt == 0)
		r = p->postmaster ? str_appendf(&tx->first_rcpt,
		    "postmaster@%s", s->inst->domain) :
		    str_appends(&tx->first_rcpt, p->addr.s);
	if (r < 0) {
		str_truncate(&tx->rcpts, save);
		return -1;
	}
	tx->nrcpt++;
	return 0;
}

/* Decide on a syntactically good recipient and reply. */
static int
rcpt_decide(struct smtpd *s, const struct smtp_path *p,
    const struct rcpt_dsn *dsn)
{
	const char *a = p->addr.s;

	if (s->tx.nrcpt >= s->lim.max_rcpt)
		return smtpd_reply(s, 452, "4.5.3", "Too many recipients");
	switch (smtpd_relay_check(s, p)) {
	case SMTPD_RCPT_NO_USER:
		return smtpd_reply(s, 550, "5.1.1", "<%s>: Recipient address "
		    "rejected: no such user here", a);
	case SMTPD_RCPT_RELAY:
		return smtpd_reply(s, 550, "5.7.1", "<%s>: Relaying denied",
		    a);
	case SMTPD_RCPT_TEMP:
		return smtpd_reply(s, 451, "4.3.0", "<%s>: Temporary lookup "
		    "failure, try again later", a);
	case SMTPD_RCPT_OK:
		break;
	}
	if (rcpt_add(s, p, dsn) < 0)
		return smtpd_reply(s, 451, "4.3.0", "Out of memory");
	log_info("to=<%s>", a);
	return smtpd_reply(s, 250, "2.1.5", "Ok");
}

int
smtpd_cmd_rcpt(struct smtpd *s, const struct smtp_cmd *cmd)
{
	struct smtp_path path = { STR_INIT, 0, 0, 0, 0, 0, 0 };
	struct rcpt_dsn dsn = { 0, NULL, 0 };
	const char *params;
	size_t plen;
	int r;

	if (!s->tx.active)
		return smtpd_reply(s, 503, "5.5.1", "Need MAIL before RCPT");
	if (s->tx.bdat)
		return smtpd_reply(s, 503, "5.5.1", "RCPT after BDAT");
	if (smtp_mailrcpt_parse(cmd->arg, cmd->arglen, "TO:",
	    SMTP_PATH_POSTMASTER | (s->tx.utf8 ? SMTP_PATH_UTF8 : 0), &path,
	    &params, &plen) < 0)
		return path_refuse(s, "RCPT TO:", "Recipient", "5.1.3");
	r = params_take(s, params, plen, rcpt_params, &dsn);
	if (r == PARAM_OK)
		r = rcpt_decide(s, &path, &dsn);
	else
		r = r < 0 ? -1 : 0;
	smtp_path_free(&path);
	return r;
}
