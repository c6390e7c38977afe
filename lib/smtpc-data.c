/* SPDX-License-Identifier: ISC */
/*
 * smtpc: the message body, with DATA (RFC 5321 4.1.1.4, 4.5.2) or BDAT
 * (RFC 3030), and the results it gives the accepted recipients.
 *
 * DATA sends text lines: every line end becomes CRLF (a bare LF and a bare
 * CR alike; a bare LF in DATA is what "SMTP smuggling" abuses) and a line
 * starting with "." gets another ".".  BDAT sends the bytes as they are.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "smtpc-private.h"

#define SMTPC_ELOCAL (-2)

/* Whether a NOTIFY value asks for SUCCESS. */
static int
smtpc_notify_success(const char *notify)
{
	const char *p = notify;

	while (p != NULL && *p != '\0') {
		if (strncasecmp(p, "SUCCESS", 7) == 0 &&
		    (p[7] == '\0' || p[7] == ','))
			return 1;
		p = strchr(p, ',');
		if (p != NULL)
			p++;
	}
	return 0;
}

void
smtpc_result_ok_rcpts(struct smtpc *c, struct smtpc_rcpt *r, size_t n,
    const char *what)
{
	size_t i;

	for (i = 0; i < n; i++) {
		/* RFC 3461 4.1: a success handed to a host without DSN ends
		 * the chain of reports here; say so, for a "relayed" DSN */
		int relayed = c->rep.code / 100 == 2 &&
		    !(c->ext & SMTPC_EXT_DSN) &&
		    smtpc_notify_success(r[i].notify);

		if (r[i].state == SMTPC_RS_OK)
			smtpc_rcpt_set(&r[i], c->rep.code, smtpc_status(c),
			    "%s%s said: %s (%s)", relayed ? "relayed: " : "",
			    c->peer, str_cstr(&c->rep.text), what);
	}
}

void
smtpc_result_ok_rcpts_lost(struct smtpc *c, struct smtpc_rcpt *r, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (r[i].state == SMTPC_RS_OK)
			smtpc_rcpt_set(&r[i], c->fail_code, c->fail_status,
			    "%s", str_cstr(&c->fail_text));
}

int
smtpc_msg_fd(const struct smtpc *c, const struct smtpc_msg *m)
{
	return c->conv >= 0 ? m->conv[c->conv].fd : m->fd;
}

off_t
smtpc_msg_size(const struct smtpc *c, const struct smtpc_msg *m)
{
	return c->conv >= 0 ? m->conv[c->conv].size : m->size;
}

void
smtpc_msg_free(struct smtpc_msg *m)
{
	size_t i;

	for (i = 0; i < sizeof(m->conv) / sizeof(m->conv[0]); i++) {
		if (m->conv[i].state == 1)
			close(m->conv[i].fd);
		m->conv[i].state = 0;
		m->conv[i].fd = -1;
	}
}

int
smtpc_msg_8bit(const struct smtpc_msg *m, unsigned char *buf,
    size_t bufsize)
{
	off_t off = 0;
	ssize_t n, i;

	for (;;) {
		n = pread(m->fd, buf, bufsize, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		for (i = 0; i < n; i++)
			if (buf[i] & 0x80)
				return 1;
		off += n;
	}
}

/* A local failure reading the message. */
static int
smtpc_read_fail(struct smtpc *c)
{
	int e = errno;

	smtpc_fail(c, 451, "4.3.0", "reading the message: %s",
	    e ? strerror(e) : "shorter than its size");
	errno = e ? e : EIO;
	return SMTPC_ELOCAL;
}

/* Write p[0..n) as DATA lines; *bol and *cr carry the state: at the
 * beginning of a line, after a CR not yet written. */
static int
smtpc_stuff(struct io *io, const unsigned char *p, size_t n, int *bol,
    int *cr)
{
	size_t i = 0, start;

	while (i < n) {
		if (p[i] == '\n' || p[i] == '\r') {
			/* LF ends a line, so does a CR not followed by LF. */
			if ((p[i] == '\n' || *cr) && io_write(io, "\r\n", 2) < 0)
				return -1;
			*cr = p[i] == '\r';
			*bol = 1;
			i++;
			continue;
		}
		if (*cr && io_write(io, "\r\n", 2) < 0)
			return -1;
		*cr = 0;
		if (*bol && p[i] == '.' && io_write(io, ".", 1) < 0)
			return -1;
		*bol = 0;
		for (start = i; i < n && p[i] != '\n' && p[i] != '\r'; i++)
			;
		if (io_write(io, p + start, i - start) < 0)
			return -1;
	}
	return 0;
}

/* The whole message as DATA lines and the final ".". */
static int
smtpc_send_text(struct smtpc *c, const struct smtpc_msg *m)
{
	off_t off = 0;
	ssize_t n;
	int bol = 1, cr = 0;

	for (;;) {
		n = pread(smtpc_msg_fd(c, m), c->buf, SMTPC_BUF, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return smtpc_read_fail(c);
		if (n == 0)
			break;
		off += n;
		if (smtpc_stuff(c->io, c->buf, (size_t)n, &bol, &cr) < 0)
			return smtpc_fail(c, 451, "4.4.2", "lost connection "
			    "with %s while sending the message", c->peer);
	}
	if (((cr || !bol) && io_write(c->io, "\r\n", 2) < 0) ||
	    io_write(c->io, ".\r\n", 3) < 0 || io_flush(c->io) < 0)
		return smtpc_fail(c, 451, "4.4.2", "lost connection with %s "
		    "while sending the message", c->peer);
	return 0;
}

int
smtpc_data(struct smtpc *c, struct smtpc_msg *m, struct smtpc_rcpt *r,
    size_t n)
{
	int rc;

	if (smtpc_cmd(c, "sending DATA", "DATA") < 0 ||
	    smtpc_read(c, c->timeout, "receiving the reply to DATA") < 0)
		return -1;
	if (c->rep.code == 421 || (c->rep.code / 100 != 4 &&
	    c->rep.code / 100 != 5 && c->rep.code != 354))
		return smtpc_fail_reply(c, "in reply to DATA command");
	if (c->rep.code != 354) {
		smtpc_result_ok_rcpts(c, r, n, "in reply to DATA command");
		return 0;
	}
	if ((rc = smtpc_send_text(c, m)) < 0) {
		c->broken = 1;
		return rc;
	}
	if (smtpc_read(c, c->data_timeout, "receiving the reply to the end "
	    "of data") < 0) {
		smtpc_result_ok_rcpts_lost(c, r, n);
		return -1;
	}
	if (c->rep.code / 100 == 3) {
		/* Neither taken nor refused: as if the reply was lost. */
		smtpc_fail_reply(c, "in reply to end of DATA command");
		smtpc_result_ok_rcpts_lost(c, r, n);
		return -1;
	}
	smtpc_result_ok_rcpts(c, r, n, "in reply to end of DATA command");
	if (c->rep.code == 421)
		return smtpc_fail_reply(c, "in reply to end of DATA command");
	return 0;
}

/* Send len bytes of the message from off. */
static int
smtpc_send_bytes(struct smtpc *c, const struct smtpc_msg *m, off_t off,
    size_t len)
{
	size_t want;
	ssize_t n;

	while (len > 0) {
		want = len < SMTPC_BUF ? len : SMTPC_BUF;
		n = pread(smtpc_msg_fd(c, m), c->buf, want, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = 0;
			return smtpc_read_fail(c);
		}
		if (io_write(c->io, c->buf, (size_t)n) < 0)
			return smtpc_fail(c, 451, "4.4.2", "lost connection "
			    "with %s while sending the message", c->peer);
		off += n;
		len -= (size_t)n;
	}
	return 0;
}

int
smtpc_bdat(struct smtpc *c, struct smtpc_msg *m, struct smtpc_rcpt *r,
    size_t n)
{
	size_t chunk = c->chunk > 0 ? c->chunk : SMTPC_CHUNK, len;
	off_t off = 0, size = smtpc_msg_size(c, m);
	int last, rc;

	do {
		len = (unsigned long long)(size - off) > chunk ? chunk :
		    (size_t)(size - off);
		last = off + (off_t)len == size;
		if (io_printf(c->io, "BDAT %zu%s\r\n", len, last ? " LAST" :
		    "") < 0)
			return smtpc_fail(c, 451, "4.4.2", "lost connection "
			    "with %s while sending BDAT", c->peer);
		if ((rc = smtpc_send_bytes(c, m, off, len)) < 0 ||
		    (rc = smtpc_flush(c, "sending the message")) < 0) {
			c->broken = 1;
			return rc;
		}
		if (smtpc_read(c, last ? c->data_timeout : c->timeout,
		    "receiving the reply to BDAT") < 0) {
			if (last)
				smtpc_result_ok_rcpts_lost(c, r, n);
			return -1;
		}
		if ((c->rep.code == 421 || c->rep.code / 100 == 3) && !last)
			return smtpc_fail_reply(c, "in reply to BDAT command");
		if (c->rep.code / 100 == 3) {
			smtpc_fail_reply(c, "in reply to BDAT LAST command");
			smtpc_result_ok_rcpts_lost(c, r, n);
			return -1;
		}
		if (c->rep.code / 100 != 2) {
			/* The transaction is over (RFC 3030 section 2). */
			smtpc_result_ok_rcpts(c, r, n, "in reply to BDAT "
			    "command");
			if (c->rep.code == 421)
				return smtpc_fail_reply(c, "in reply to BDAT "
				    "command");
			return smtpc_rset(c) < 0 ? -1 : 0;
		}
		off += (off_t)len;
	} while (!last);
	smtpc_result_ok_rcpts(c, r, n, "in reply to BDAT LAST command");
	return 0;
}
