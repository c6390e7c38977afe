/* SPDX-License-Identifier: ISC */
/*
 * smtpd: DATA (RFC 5321) and BDAT (RFC 3030).  The message streams from
 * the client through lib/smtpdata (dot-unstuffing, end of data, line
 * checks) to queue-inject in chunks of at most IO_BUFSIZE bytes.
 *
 * A message with a bare CR or LF, a NUL or a line over smtpd_line_max is
 * refused with 554 5.6.0 once its end has been read: for DATA, that end is
 * the one CRLF "." CRLF and nothing else (no smuggling), and the session
 * goes on.  A message over message_size_limit gets 552 5.3.4 at its end.
 * BDAT with BODY=BINARYMIME takes any bytes as they are; other BDAT text
 * gets the same line checks as DATA.  A BDAT whose size cannot be parsed
 * ends the connection: where its chunk ends cannot be known.
 */
#include "smtpd.h"

#include <errno.h>
#include <string.h>

int
smtpd_data_out(struct smtpd *s, const void *p, size_t n)
{
	struct smtpd_tx *tx = &s->tx;

	if (tx->too_big || tx->inj == NULL)
		return 0;
	if (n > s->lim.size_limit - tx->size) {
		tx->too_big = 1;
		smtpd_inject_abort(s);
		return 0;
	}
	tx->size += n;
	return smtpd_inject_write(s, p, n);
}

/* The reply to a message that arrived whole: refused or queued. */
static int
data_end(struct smtpd *s, enum smtpdata_err err)
{
	if (err != SMTPDATA_OK) {
		log_info("message refused: %s", smtpdata_strerror(err));
		smtpd_tx_reset(s);
		if (err == SMTPDATA_LONG_LINE)
			return smtpd_reply(s, 554, "5.6.0", "Message refused: "
			    "a line is longer than %zu bytes", s->lim.line_max);
		if (err == SMTPDATA_NUL)
			return smtpd_reply(s, 554, "5.6.0", "Message refused: "
			    "NUL byte in text; send binary data with BDAT and "
			    "BODY=BINARYMIME");
		return smtpd_reply(s, 554, "5.6.0", "Message refused: %s in "
		    "text; lines must end with CRLF", smtpdata_strerror(err));
	}
	if (s->tx.too_big) {
		log_info("message refused: over %llu bytes",
		    s->lim.size_limit);
		smtpd_tx_reset(s);
		return smtpd_reply(s, 552, "5.3.4", "Message size exceeds "
		    "fixed maximum message size (%llu)", s->lim.size_limit);
	}
	return smtpd_inject_finish(s);
}

/* A connection lost in the middle of a message. */
static int
data_lost(struct smtpd *s, const char *when)
{
	int e = errno;

	smtpd_tx_reset(s);
	errno = e;
	if (errno == ETIMEDOUT) {
		log_info("timeout %s", when);
		io_set_timeouts(s->io, 1000, 1000);
		smtpd_reply(s, 421, "4.4.2", "%s Timeout, closing connection",
		    s->inst->hostname);
		smtpd_flush(s);
	} else
		log_info("lost connection %s", when);
	return -1;
}

/* Read DATA text up to its end.  Returns 0, or -1 when the connection is
 * lost. */
static int
data_read(struct smtpd *s, struct smtpdata *d)
{
	const unsigned char *p;
	size_t used, outlen;
	ssize_t n;

	while (!smtpdata_done(d)) {
		/* in place: the end of the data stops exactly where the
		 * next command begins, which stays in the io */
		if ((n = io_peek(s->io, &p)) <= 0) {
			if (n == 0)
				errno = 0;
			return -1;
		}
		used = smtpdata_feed(d, p, (size_t)n, s->dbuf, &outlen);
		io_consume(s->io, used);
		if (outlen > 0)
			smtpd_data_out(s, s->dbuf, outlen);
		if (smtpdata_error(d) != SMTPDATA_OK && s->tx.inj != NULL)
			smtpd_inject_abort(s);
	}
	return 0;
}

int
smtpd_cmd_data(struct smtpd *s, const struct smtp_cmd *cmd)
{
	struct smtpdata d;

	if (cmd->arglen != 0)
		return smtpd_reply(s, 501, "5.5.4", "Syntax: DATA");
	if (!s->tx.active)
		return smtpd_reply(s, 503, "5.5.1", "Need MAIL before DATA");
	if (s->tx.nrcpt == 0)
		return smtpd_reply(s, 554, "5.5.1", "No valid recipients");
	if (s->tx.body == SMTP_BODY_BINARYMIME)
		return smtpd_reply(s, 503, "5.5.1", "BODY=BINARYMIME needs "
		    "BDAT, not DATA");
	if (s->tx.bdat)
		return smtpd_reply(s, 503, "5.5.1", "DATA after BDAT");
	if (smtpd_inject_start(s) < 0) {
		smtpd_tx_reset(s);
		return smtpd_reply(s, 451, "4.3.0", "Queue unavailable, try "
		    "again later");
	}
	if (smtpd_reply(s, 354, NULL, "End data with <CR><LF>.<CR><LF>") <
	    0 || smtpd_flush(s) < 0)
		return data_lost(s, "sending 354");
	smtpdata_init(&d, SMTPDATA_DOT, s->lim.line_max);
	if (data_read(s, &d) < 0)
		return data_lost(s, "after DATA");
	return data_end(s, smtpdata_error(&d));
}

/* Take (or, when discard is set, throw away) a BDAT chunk of n bytes.
 * Returns 0, or -1 when the connection is lost. */
static int
bdat_read(struct smtpd *s, unsigned long long n, int discard)
{
	struct smtpd_tx *tx = &s->tx;
	size_t want, outlen;
	ssize_t r;

	while (n > 0) {
		want = n < sizeof s->dbuf ? (size_t)n : sizeof s->dbuf;
		if ((r = io_read(s->io, s->dbuf, want)) <= 0) {
			if (r == 0)
				errno = 0;
			return -1;
		}
		n -= (unsigned long long)r;
		if (discard || tx->inj == NULL)
			continue;
		outlen = (size_t)r;
		if (tx->body != SMTP_BODY_BINARYMIME)
			smtpdata_feed(&tx->text, s->dbuf, (size_t)r, s->dbuf,
			    &outlen);
		if (outlen > 0)
			smtpd_data_out(s, s->dbuf, outlen);
		if (smtpdata_error(&tx->text) != SMTPDATA_OK)
			smtpd_inject_abort(s);
	}
	return 0;
}

/* Why a BDAT chunk cannot be taken: NULL when it can. */
static const char *
bdat_refusal(const struct smtpd *s, unsigned long long size, int *code_r,
    const char **enh_r)
{
	*code_r = 503;
	*enh_r = "5.5.1";
	if (!s->tx.active)
		return "Need MAIL before BDAT";
	if (s->tx.nrcpt == 0) {
		*code_r = 554;
		return "No valid recipients";
	}
	if (size > s->lim.size_limit ||
	    s->tx.size > s->lim.size_limit - size) {
		*code_r = 552;
		*enh_r = "5.3.4";
		return "Message size exceeds fixed maximum message size";
	}
	return NULL;
}

/* Start the message at its first chunk.  Returns 0, or -1 (reply not yet
 * given). */
static int
bdat_begin(struct smtpd *s)
{
	if (s->tx.bdat)
		return 0;
	if (smtpd_inject_start(s) < 0)
		return -1;
	s->tx.bdat = 1;
	smtpdata_init(&s->tx.text, SMTPDATA_TEXT, s->lim.line_max);
	return 0;
}

/* After the chunk's bytes: a reply for a middle chunk. */
static int
bdat_middle(struct smtpd *s, unsigned long long size)
{
	enum smtpdata_err err = smtpdata_error(&s->tx.text);

	if (err != SMTPDATA_OK || s->tx.too_big || s->tx.inj == NULL)
		return data_end(s, err);	/* refuses, resets */
	return smtpd_reply(s, 250, "2.0.0", "%llu octets received", size);
}

int
smtpd_cmd_bdat(struct smtpd *s, const struct smtp_cmd *cmd)
{
	unsigned long long size;
	const char *why, *enh;
	int last, code;

	if (smtp_bdat_parse(cmd->arg, cmd->arglen, &size, &last) < 0) {
		s->quit = 1;
		smtpd_tx_reset(s);
		return smtpd_reply(s, 501, "5.5.4", "Syntax: BDAT size [LAST]; "
		    "closing connection");
	}
	if ((why = bdat_refusal(s, size, &code, &enh)) != NULL ||
	    bdat_begin(s) < 0) {
		if (bdat_read(s, size, 1) < 0)
			return data_lost(s, "in BDAT");
		if (s->tx.active)
			smtpd_tx_reset(s);
		if (why == NULL)
			return smtpd_reply(s, 451, "4.3.0", "Queue unavailable, "
			    "try again later");
		return smtpd_reply(s, code, enh, "%s", why);
	}
	if (bdat_read(s, size, 0) < 0)
		return data_lost(s, "in BDAT");
	if (!last)
		return bdat_middle(s, size);
	if (s->tx.body != SMTP_BODY_BINARYMIME)
		smtpdata_finish(&s->tx.text);
	return data_end(s, smtpdata_error(&s->tx.text));
}
