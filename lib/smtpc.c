/* SPDX-License-Identifier: ISC */
/*
 * smtpc: one SMTP client session (RFC 5321, 3207, 2920, 3461, 1870, 6152,
 * 3030, 6531): greeting, EHLO/HELO, STARTTLS, the mail transactions, QUIT.
 * Internal functions return 0 or a negative number: SMTPC_EHOST when the
 * host failed (c->fail_*), SMTPC_ELOCAL for our own error (errno kept).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "mime7.h"
#include "smtpc-private.h"

#define SMTPC_EHOST (-1)
#define SMTPC_ELOCAL (-2)
#define SMTPC_ETLS (-3)
#define SMTPC_QUIT_TIMEOUT 10	/* seconds for the reply to QUIT */

void
smtpc_init(struct smtpc *c, struct io *io, const char *helo,
    const char *peer)
{
	memset(c, 0, sizeof(*c));
	c->io = io;
	c->helo = helo;
	c->peer = peer;
	c->timeout = SMTPC_TIMEOUT;
	c->data_timeout = SMTPC_DATA_TIMEOUT;
	c->chunk = SMTPC_CHUNK;
}

void
smtpc_free(struct smtpc *c)
{
	str_free(&c->fail_text);
	str_free(&c->line);
	smtpc_reply_free(&c->rep);
	free(c->buf);
	c->buf = NULL;
}

int
smtpc_fail(struct smtpc *c, unsigned code, const char *status,
    const char *fmt, ...)
{
	va_list ap;
	size_t i;

	c->fail_code = code;
	snprintf(c->fail_status, sizeof(c->fail_status), "%s", status);
	str_clear(&c->fail_text);
	va_start(ap, fmt);
	str_vappendf(&c->fail_text, fmt, ap);
	va_end(ap);
	for (i = 0; i < c->fail_text.len; i++)
		if (c->fail_text.s[i] < ' ' || c->fail_text.s[i] == 127)
			c->fail_text.s[i] = '?';
	return SMTPC_EHOST;
}

const char *
smtpc_status(const struct smtpc *c)
{
	static const char *const def[] = { "2.0.0", "4.0.0", "5.0.0" };
	unsigned cls = c->rep.code / 100;

	if (c->rep.status[0] != '\0')
		return c->rep.status;
	return cls == 2 ? def[0] : cls == 4 ? def[1] : def[2];
}

int
smtpc_fail_reply(struct smtpc *c, const char *what)
{
	unsigned code = c->rep.code;

	if (code == 421)
		c->broken = 1;	/* the server is closing the connection */
	/* Only 4xx and 5xx say whether to retry; anything else means the
	 * conversation is out of step. */
	if (code / 100 != 4 && code / 100 != 5) {
		c->broken = 1;
		return smtpc_fail(c, 451, "4.5.0", "%s said: %u %s (%s)",
		    c->peer, code, str_cstr(&c->rep.text), what);
	}
	return smtpc_fail(c, code, smtpc_status(c), "%s said: %s (%s)",
	    c->peer, str_cstr(&c->rep.text), what);
}

/* Fail the host after an I/O error while doing what. */
static int
smtpc_fail_io(struct smtpc *c, int e, const char *what)
{
	c->broken = 1;
	if (e == ETIMEDOUT)
		return smtpc_fail(c, 451, "4.4.2", "conversation with %s "
		    "timed out while %s", c->peer, what);
	if (e == E2BIG || e == EPROTO)
		return smtpc_fail(c, 451, "4.5.0", "%s reply from %s while %s",
		    e == E2BIG ? "too long a" : "malformed", c->peer, what);
	return smtpc_fail(c, 451, "4.4.2", "lost connection with %s while %s",
	    c->peer, what);
}

/* smtpc_read with a function called after every line (EHLO keywords). */
static int
smtpc_read_lines(struct smtpc *c, unsigned secs, const char *what,
    void (*fn)(struct smtpc *))
{
	int r;

	smtpc_reply_reset(&c->rep);
	io_set_deadline(c->io, time(NULL) + (time_t)secs);
	for (;;) {
		r = io_getline(c->io, &c->line, SMTPC_LINE_MAX);
		if (r == 1 && c->line.s[c->line.len - 1] != '\n')
			r = 0;		/* EOF inside a line */
		if (r < 1) {
			io_set_deadline(c->io, 0);
			return smtpc_fail_io(c, r == 0 ? EPIPE : errno, what);
		}
		r = smtpc_reply_feed(&c->rep, c->line.s, c->line.len);
		if (r < 0) {
			io_set_deadline(c->io, 0);
			return smtpc_fail_io(c, EPROTO, what);
		}
		if (fn != NULL)
			fn(c);
		if (r == 1)
			break;
	}
	io_set_deadline(c->io, 0);
	return 0;
}

int
smtpc_read(struct smtpc *c, unsigned secs, const char *what)
{
	return smtpc_read_lines(c, secs, what, NULL);
}

/* Queue a command line (CRLF added) without flushing. */
static int
smtpc_vput(struct smtpc *c, const char *fmt, va_list ap)
{
	if (io_vprintf(c->io, fmt, ap) < 0 || io_write(c->io, "\r\n", 2) < 0)
		return -1;
	return 0;
}

static int __attribute__((format(printf, 2, 3)))
smtpc_put(struct smtpc *c, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = smtpc_vput(c, fmt, ap);
	va_end(ap);
	return r;
}

int
smtpc_flush(struct smtpc *c, const char *what)
{
	io_set_deadline(c->io, time(NULL) + (time_t)c->timeout);
	if (io_flush(c->io) < 0) {
		io_set_deadline(c->io, 0);
		return smtpc_fail_io(c, errno, what);
	}
	io_set_deadline(c->io, 0);
	return 0;
}

int
smtpc_cmd(struct smtpc *c, const char *what, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = smtpc_vput(c, fmt, ap);
	va_end(ap);
	if (r < 0)
		return smtpc_fail_io(c, errno, what);
	return smtpc_flush(c, what);
}

/* An EHLO reply line: note the keywords (not on the first line). */
static void
smtpc_ehlo_line(struct smtpc *c)
{
	unsigned long long size = 0;
	unsigned bit;

	if (c->rep.lines < 2)
		return;
	bit = smtpc_ehlo_keyword(c->rep.cur, c->rep.curlen, &size);
	c->ext |= bit;
	if (bit == SMTPC_EXT_SIZE)
		c->size_max = size;
}

/* EHLO, or HELO when the server refuses EHLO with a 5xx. */
static int
smtpc_hello(struct smtpc *c)
{
	c->ext = 0;
	c->size_max = 0;
	if (smtpc_cmd(c, "sending EHLO", "EHLO %s", c->helo) < 0 ||
	    smtpc_read_lines(c, c->timeout, "receiving the reply to EHLO",
	    smtpc_ehlo_line) < 0)
		return SMTPC_EHOST;
	if (c->rep.code / 100 == 2)
		return 0;
	c->ext = 0;
	c->size_max = 0;
	if (c->rep.code / 100 != 5)
		return smtpc_fail_reply(c, "in reply to EHLO command");
	if (smtpc_cmd(c, "sending HELO", "HELO %s", c->helo) < 0 ||
	    smtpc_read(c, c->timeout, "receiving the reply to HELO") < 0)
		return SMTPC_EHOST;
	if (c->rep.code / 100 != 2)
		return smtpc_fail_reply(c, "in reply to HELO command");
	return 0;
}

/* STARTTLS when offered: 0 (TLS or, refused, plain text), SMTPC_EHOST,
 * or SMTPC_ETLS when the handshake failed. */
static int
smtpc_starttls(struct smtpc *c)
{
	struct str err = STR_INIT;
	int r;

	if (c->starttls == NULL || !(c->ext & SMTPC_EXT_STARTTLS))
		return 0;
	if (smtpc_cmd(c, "sending STARTTLS", "STARTTLS") < 0 ||
	    smtpc_read(c, c->timeout, "receiving the reply to STARTTLS") < 0)
		return SMTPC_EHOST;
	if (c->rep.code == 421)
		return smtpc_fail_reply(c, "in reply to STARTTLS command");
	if (c->rep.code != 220)
		return 0;	/* opportunistic: go on in plain text */
	/* Bytes before the handshake would be taken as sent under TLS. */
	if (io_pending(c->io) > 0)
		return smtpc_fail(c, 451, "4.7.0", "%s sent data after its "
		    "reply to STARTTLS", c->peer);
	r = c->starttls(c->tls_arg, c->io, &err);
	if (r < 0) {
		smtpc_fail(c, 451, "4.7.5", "TLS handshake with %s failed: %s",
		    c->peer, str_cstr(&err));
		str_free(&err);
		c->broken = 1;
		return SMTPC_ETLS;
	}
	str_free(&err);
	c->tls = 1;
	return smtpc_hello(c);
}

/* Whether s is all ASCII. */
static int
smtpc_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s > 127)
			return 0;
	return 1;
}

/* Make copy k of m (SMTPC_CONV_*: RFC 6152 section 3, RFC 3030 section
 * 3, RFC 6531 section 3.4) unless tried already: its state becomes 1, 2
 * or -1.  Returns 0, or -1 for a local error (failure 451 4.3.0 set). */
static int
smtpc_convert(struct smtpc *c, struct smtpc_msg *m, int k)
{
	static const unsigned mode[SMTPC_CONVS] = { MIME7_7BIT, MIME7_8BIT,
	    MIME7_8BIT | MIME7_HDR7, MIME7_BINARY | MIME7_HDR7 };
	struct smtpc_conv *cv = &m->conv[k];
	struct mime7_result res;
	int fd, r;

	if (cv->state != 0)
		return 0;
	if ((fd = memfd_create("zest-convert", MFD_CLOEXEC)) < 0) {
		smtpc_fail(c, 451, "4.3.0", "converting the message: %s",
		    strerror(errno));
		return -1;
	}
	r = mime7_convert(m->fd, fd, mode[k], 0, &res);
	if (r == 1) {
		cv->state = 1;
		cv->fd = fd;
		cv->size = res.size;
		cv->eightbit = res.eightbit;
		return 0;
	}
	close(fd);
	if (r == 0) {
		/* nothing to convert: the message goes as it is */
		cv->state = 2;
		cv->eightbit = res.eightbit;
		return 0;
	}
	if (errno == EILSEQ) {
		cv->state = -1;
		snprintf(cv->why, sizeof(cv->why), "%s", res.why);
		return 0;
	}
	smtpc_fail(c, 451, "4.3.0", "converting the message: %s",
	    strerror(errno));
	return -1;
}

/* Whether the message has a byte above 127: 1, 0, or SMTPC_ELOCAL. */
static int
smtpc_8bit(struct smtpc *c, struct smtpc_msg *m)
{
	if (m->eightbit < 0 &&
	    (m->eightbit = smtpc_msg_8bit(m, c->buf, SMTPC_BUF)) < 0) {
		smtpc_fail(c, 451, "4.3.0", "reading the message: %s",
		    strerror(errno));
		return SMTPC_ELOCAL;
	}
	return m->eightbit;
}

/* Which copy this host needs, or -1 for the message as it is (or a
 * negative SMTPC_E).  down: the message is SMTPUTF8 and the host is not. */
static int
smtpc_pick(struct smtpc *c, struct smtpc_msg *m, int down)
{
	int bin = (c->ext & SMTPC_EXT_BINARYMIME) &&
	    (c->ext & SMTPC_EXT_CHUNKING), eight = c->ext & SMTPC_EXT_8BITMIME;
	int e;

	if (m->body == SMTPC_BINARYMIME && !bin)
		return eight ? (down ? SMTPC_CONV_8BIT_HDR7 : SMTPC_CONV_8BIT) :
		    SMTPC_CONV_7BIT;
	if (!down && (m->body != SMTPC_8BITMIME || eight))
		return -1;
	/* a 7-bit message needs nothing, whatever was declared */
	if ((e = smtpc_8bit(c, m)) <= 0)
		return e == 0 ? -1 : e;
	if (m->body == SMTPC_BINARYMIME)
		return SMTPC_CONV_BINARY_HDR7;
	return eight ? SMTPC_CONV_8BIT_HDR7 : SMTPC_CONV_7BIT;
}

/* Choose and make what goes to this host: c->conv and c->send_body. */
static int
smtpc_check_body(struct smtpc *c, struct smtpc_msg *m, int down)
{
	int k = smtpc_pick(c, m, down);
	const char *why;

	if (k < -1)
		return k;
	if (k < 0)
		return 0;
	if (smtpc_convert(c, m, k) < 0)
		return SMTPC_ELOCAL;
	why = m->conv[k].why;
	if (m->conv[k].state < 0 && m->body == SMTPC_BINARYMIME &&
	    k != SMTPC_CONV_BINARY_HDR7)
		return smtpc_fail(c, 554, "5.6.3", "%s does not accept binary "
		    "content (BINARYMIME, CHUNKING), and the message cannot be "
		    "converted: %s", c->peer, why);
	if (m->conv[k].state < 0 && k == SMTPC_CONV_7BIT &&
	    m->body == SMTPC_8BITMIME)
		return smtpc_fail(c, 554, "5.6.3", "%s does not accept 8-bit "
		    "content (8BITMIME), and the message cannot be converted "
		    "to 7-bit: %s", c->peer, why);
	if (m->conv[k].state < 0)
		return smtpc_fail(c, 553, "5.6.7", "%s does not accept "
		    "SMTPUTF8, and the message needs it: %s", c->peer, why);
	c->conv = m->conv[k].state == 1 ? k : -1;
	c->send_body = k == SMTPC_CONV_BINARY_HDR7 ? SMTPC_BINARYMIME :
	    m->conv[k].eightbit ? SMTPC_8BITMIME : SMTPC_7BIT;
	return 0;
}

/* What this host cannot take, decided before MAIL (RFC 1870, 3030, 6152,
 * 6531): a failure here is the same on every host like it. */
static int
smtpc_check(struct smtpc *c, struct smtpc_msg *m, struct smtpc_rcpt *r,
    size_t n)
{
	size_t i;
	int ascii, rc, down = m->smtputf8 && !(c->ext & SMTPC_EXT_SMTPUTF8);

	c->conv = -1;
	c->send_body = m->body;
	if (down) {
		ascii = smtpc_ascii(m->sender);
		for (i = 0; i < n && ascii; i++)
			if (!r[i].done && !smtpc_ascii(r[i].addr))
				ascii = 0;
		if (!ascii)
			return smtpc_fail(c, 553, "5.6.7", "%s does not accept "
			    "non-ASCII addresses (SMTPUTF8)", c->peer);
	}
	if ((rc = smtpc_check_body(c, m, down)) < 0)
		return rc;
	if ((c->ext & SMTPC_EXT_SIZE) && c->size_max > 0 &&
	    (unsigned long long)smtpc_msg_size(c, m) > c->size_max)
		return smtpc_fail(c, 552, "5.3.4", "message size %lld exceeds "
		    "the limit %llu of %s", (long long)smtpc_msg_size(c, m),
		    c->size_max, c->peer);
	return 0;
}

static int
smtpc_put_mail(struct smtpc *c, const struct smtpc_msg *m)
{
	struct str cmd = STR_INIT;
	int r;

	str_appendf(&cmd, "MAIL FROM:<%s>", m->sender);
	if (c->ext & SMTPC_EXT_SIZE)
		str_appendf(&cmd, " SIZE=%lld",
		    (long long)smtpc_msg_size(c, m));
	if (c->send_body == SMTPC_BINARYMIME)
		str_appends(&cmd, " BODY=BINARYMIME");
	else if (c->send_body == SMTPC_8BITMIME &&
	    (c->ext & SMTPC_EXT_8BITMIME))
		str_appends(&cmd, " BODY=8BITMIME");
	if (m->smtputf8 && (c->ext & SMTPC_EXT_SMTPUTF8))
		str_appends(&cmd, " SMTPUTF8");
	if ((c->ext & SMTPC_EXT_DSN) && m->ret != NULL && *m->ret != '\0')
		str_appendf(&cmd, " RET=%s", m->ret);
	if ((c->ext & SMTPC_EXT_DSN) && m->envid != NULL &&
	    *m->envid != '\0' && ((c->ext & SMTPC_EXT_SMTPUTF8) ||
	    smtpc_ascii(m->envid)))
		str_appendf(&cmd, " ENVID=%s", m->envid);
	r = cmd.s == NULL ? -1 : smtpc_put(c, "%s", cmd.s);
	str_free(&cmd);
	return r < 0 ? smtpc_fail_io(c, errno, "sending MAIL FROM") : 0;
}

static int
smtpc_put_rcpt(struct smtpc *c, const struct smtpc_rcpt *r)
{
	const char *nt = (c->ext & SMTPC_EXT_DSN) ? r->notify : NULL;
	const char *oc = (c->ext & SMTPC_EXT_DSN) ? r->orcpt : NULL;

	/* 8-bit xtext is for SMTPUTF8 servers only (RFC 6533). */
	if (oc != NULL && !(c->ext & SMTPC_EXT_SMTPUTF8) && !smtpc_ascii(oc))
		oc = NULL;

	if (smtpc_put(c, "RCPT TO:<%s>%s%s%s%s", r->addr,
	    nt && *nt ? " NOTIFY=" : "", nt && *nt ? nt : "",
	    oc && *oc ? " ORCPT=" : "", oc && *oc ? oc : "") < 0)
		return smtpc_fail_io(c, errno, "sending RCPT TO");
	return 0;
}

/* Handle the reply to RCPT for r: 1 accepted, 0 not, or SMTPC_EHOST. */
static int
smtpc_rcpt_reply(struct smtpc *c, struct smtpc_rcpt *r)
{
	if (smtpc_read(c, c->timeout, "receiving the reply to RCPT TO") < 0)
		return SMTPC_EHOST;
	if (c->rep.code == 421 || c->rep.code / 100 == 3)
		return smtpc_fail_reply(c, "in reply to RCPT TO command");
	if (c->rep.code / 100 == 2) {
		r->state = SMTPC_RS_OK;
		return 1;
	}
	smtpc_rcpt_set(r, c->rep.code, smtpc_status(c), "%s said: %s (in "
	    "reply to RCPT TO command)", c->peer, str_cstr(&c->rep.text));
	/* Too many recipients: the rest go in the next transaction. */
	r->state = c->rep.code == 452 || strcmp(c->rep.status, "4.5.3") == 0 ?
	    SMTPC_RS_LATER : SMTPC_RS_IDLE;
	return 0;
}

/* The reply to MAIL: 0 accepted; SMTPC_EHOST; 1 when a 5xx failed every
 * recipient not done. */
static int
smtpc_mail_reply(struct smtpc *c, struct smtpc_rcpt *r, size_t n)
{
	size_t i;

	if (smtpc_read(c, c->timeout, "receiving the reply to MAIL FROM") < 0)
		return SMTPC_EHOST;
	if (c->rep.code / 100 == 2)
		return 0;
	if (c->rep.code / 100 != 5)
		return smtpc_fail_reply(c, "in reply to MAIL FROM command");
	for (i = 0; i < n; i++)
		if (!r[i].done)
			smtpc_rcpt_set(&r[i], c->rep.code, smtpc_status(c),
			    "%s said: %s (in reply to MAIL FROM command)",
			    c->peer, str_cstr(&c->rep.text));
	return 1;
}

/* MAIL and the RCPTs of the recipients marked SENT, pipelined when the
 * server offers it.  Returns the number accepted, or SMTPC_EHOST. */
static int
smtpc_envelope(struct smtpc *c, struct smtpc_msg *m, struct smtpc_rcpt *r,
    size_t n)
{
	int pipe = (c->ext & SMTPC_EXT_PIPELINING) != 0, mail, ok = 0, rc;
	size_t i;

	if (smtpc_put_mail(c, m) < 0)
		return SMTPC_EHOST;
	if (!pipe) {
		if (smtpc_flush(c, "sending MAIL FROM") < 0 ||
		    (mail = smtpc_mail_reply(c, r, n)) < 0)
			return SMTPC_EHOST;
		if (mail > 0)
			return 0;
	}
	for (i = 0; i < n; i++) {
		if (r[i].state != SMTPC_RS_SENT)
			continue;
		if (smtpc_put_rcpt(c, &r[i]) < 0 || (!pipe &&
		    (smtpc_flush(c, "sending RCPT TO") < 0 ||
		    (rc = smtpc_rcpt_reply(c, &r[i])) < 0)))
			return SMTPC_EHOST;
		if (!pipe)
			ok += rc;
	}
	if (!pipe)
		return ok;
	if (smtpc_flush(c, "sending MAIL FROM") < 0)
		return SMTPC_EHOST;
	mail = smtpc_mail_reply(c, r, n);
	for (i = 0; i < n && mail >= 0; i++) {
		if (r[i].state != SMTPC_RS_SENT)
			continue;
		if (mail == 0) {
			if ((rc = smtpc_rcpt_reply(c, &r[i])) < 0)
				return SMTPC_EHOST;
			ok += rc;
		} else if (smtpc_read(c, c->timeout, "receiving the reply "
		    "to RCPT TO") < 0)
			return SMTPC_EHOST;
	}
	return mail < 0 ? SMTPC_EHOST : ok;
}

int
smtpc_rset(struct smtpc *c)
{
	if (smtpc_cmd(c, "sending RSET", "RSET") < 0 ||
	    smtpc_read(c, c->timeout, "receiving the reply to RSET") < 0)
		return SMTPC_EHOST;
	if (c->rep.code / 100 != 2)
		return smtpc_fail_reply(c, "in reply to RSET command");
	return 0;
}

/* One transaction for up to SMTPC_RCPT_BATCH recipients not done.
 * Returns the number accepted, or a negative SMTPC_E. */
static int
smtpc_transaction(struct smtpc *c, struct smtpc_msg *m, struct smtpc_rcpt *r,
    size_t n)
{
	size_t i, batch = 0;
	int ok, rc;

	for (i = 0; i < n; i++) {
		r[i].state = SMTPC_RS_IDLE;
		if (!r[i].done && batch < SMTPC_RCPT_BATCH) {
			r[i].state = SMTPC_RS_SENT;
			batch++;
		}
	}
	if ((ok = smtpc_envelope(c, m, r, n)) < 0)
		return ok;
	if (ok == 0) {
		/* Nothing to send; a refused MAIL left every one done. */
		for (i = 0; i < n; i++)
			if (r[i].state == SMTPC_RS_SENT && !r[i].done)
				return smtpc_fail(c, 451, "4.5.0", "no reply "
				    "for a recipient from %s", c->peer);
		return smtpc_rset(c) < 0 ? SMTPC_EHOST : 0;
	}
	rc = c->send_body == SMTPC_BINARYMIME ? smtpc_bdat(c, m, r, n) :
	    smtpc_data(c, m, r, n);
	for (i = 0; i < n; i++)
		if (r[i].state == SMTPC_RS_LATER)
			r[i].done = 0;
	return rc < 0 ? rc : ok;
}

/* Transactions until every recipient is done. */
static int
smtpc_transactions(struct smtpc *c, struct smtpc_msg *m,
    struct smtpc_rcpt *r, size_t n)
{
	size_t i;
	int rc;

	for (;;) {
		for (i = 0; i < n && r[i].done; i++)
			;
		if (i == n)
			return 0;
		if ((rc = smtpc_transaction(c, m, r, n)) < 0)
			return rc;
	}
}

/* QUIT, waiting a little for the reply, unless the connection is gone;
 * leaves the failure fields alone. */
static void
smtpc_quit(struct smtpc *c)
{
	unsigned t = c->timeout < SMTPC_QUIT_TIMEOUT ? c->timeout :
	    SMTPC_QUIT_TIMEOUT;
	int r;

	if (c->broken || smtpc_put(c, "QUIT") < 0)
		return;
	io_set_deadline(c->io, time(NULL) + (time_t)t);
	if (io_flush(c->io) == 0) {
		smtpc_reply_reset(&c->rep);
		do
			r = io_getline(c->io, &c->line, SMTPC_LINE_MAX);
		while (r == 1 &&
		    smtpc_reply_feed(&c->rep, c->line.s, c->line.len) == 0);
	}
	io_set_deadline(c->io, 0);
}

/* Greeting, EHLO, STARTTLS: 0 or a negative SMTPC_E. */
static int
smtpc_open(struct smtpc *c)
{
	int rc;

	if (smtpc_read(c, c->timeout, "receiving the initial greeting") < 0)
		return SMTPC_EHOST;
	c->greeted = 1;
	if (c->rep.code / 100 != 2)
		return smtpc_fail_reply(c, "in the initial greeting");
	if ((rc = smtpc_hello(c)) < 0)
		return rc;
	return smtpc_starttls(c);
}

int
smtpc_session(struct smtpc *c, struct smtpc_msg *m, struct smtpc_rcpt *r,
    size_t n)
{
	int rc, ms;

	c->ext = 0;
	c->size_max = 0;
	c->greeted = c->tls = c->broken = 0;
	c->conv = -1;
	c->send_body = m->body;
	c->fail_code = 0;
	c->fail_status[0] = '\0';
	str_clear(&c->fail_text);
	if (c->buf == NULL && (c->buf = malloc(SMTPC_BUF)) == NULL) {
		smtpc_fail(c, 451, "4.3.0", "out of memory");
		return -1;
	}
	ms = c->timeout > 86400 ? 86400000 : (int)c->timeout * 1000;
	io_set_timeouts(c->io, ms, ms);
	rc = smtpc_open(c);
	if (rc == SMTPC_ETLS)
		return SMTPC_NOTLS;
	if (rc == 0)
		rc = smtpc_check(c, m, r, n);
	if (rc == 0)
		rc = smtpc_transactions(c, m, r, n);
	smtpc_quit(c);
	if (rc == SMTPC_ELOCAL)
		return -1;
	return rc == 0 ? 0 : SMTPC_HOSTFAIL;
}
