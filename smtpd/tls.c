/* SPDX-License-Identifier: ISC */
/*
 * smtpd: STARTTLS (RFC 3207).  Whatever the client sent after the
 * STARTTLS line before the handshake is thrown away unread (a plain-text
 * command injected there must not run inside the TLS session), and the
 * session starts over: EHLO is needed again and nothing of before is kept.
 * Building with -DSMTPD_NO_TLS leaves STARTTLS out.
 */
#include "smtpd.h"

#include <string.h>
#include <time.h>

int
smtpd_tls_offer(const struct smtpd *s)
{
	return s->tls_ctx != NULL && s->tls == NULL && s->rfd >= 0;
}

#ifndef SMTPD_NO_TLS

const char *
smtpd_tls_info(const struct smtpd *s)
{
	return s->tls != NULL ? tls_session_info(s->tls) : NULL;
}

void
smtpd_tls_end(struct smtpd *s)
{
	if (s->tls != NULL) {
		io_flush(s->io);
		tls_session_free(&s->tls);
	}
}

int
smtpd_cmd_starttls(struct smtpd *s, const struct smtp_cmd *cmd)
{
	struct str err = STR_INIT;
	size_t dropped;
	int r;

	if (cmd->arglen != 0)
		return smtpd_reply(s, 501, "5.5.4", "Syntax: STARTTLS");
	if (s->tls != NULL)
		return smtpd_reply(s, 503, "5.5.1", "TLS already active");
	if (!smtpd_tls_offer(s))
		return smtpd_reply(s, 454, "4.7.0", "TLS not available");
	dropped = io_pending(s->io);
	io_discard_pending(s->io);
	if (dropped > 0)
		log_warn("%zu bytes pipelined after STARTTLS discarded",
		    dropped);
	if (smtpd_reply(s, 220, "2.0.0", "Ready to start TLS") < 0 ||
	    smtpd_flush(s) < 0)
		return -1;
	/* The whole handshake within one timeout: a byte per wait must not
	 * keep it going. */
	io_set_deadline(s->io, time(NULL) + (time_t)s->lim.timeout);
	r = tls_accept(s->tls_ctx, s->io, s->rfd, s->wfd, &s->tls, &err);
	io_set_deadline(s->io, 0);
	if (r < 0) {
		log_info("TLS handshake failed: %s", str_cstr(&err));
		str_free(&err);
		return -1;
	}
	str_free(&err);
	/* RFC 3207 4.2: forget everything learnt before. */
	smtpd_tx_reset(s);
	str_clear(&s->helo);
	s->esmtp = 0;
	log_info("TLS started: %s", tls_session_info(s->tls));
	return 0;
}

#else

const char *
smtpd_tls_info(const struct smtpd *s)
{
	return NULL;
}

void
smtpd_tls_end(struct smtpd *s)
{
}

int
smtpd_cmd_starttls(struct smtpd *s, const struct smtp_cmd *cmd)
{
	return smtpd_reply(s, 454, "4.7.0", "TLS not available");
}

#endif
