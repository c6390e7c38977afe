/* SPDX-License-Identifier: ISC */
/*
 * pop3d: a message as a multi-line response (RETR, TOP).  Lines are found
 * by their LF; a text file (LF on disk) gets CR before each LF, a raw file
 * (REC_RAW: the exact wire bytes) goes unchanged; either way a '.' that
 * starts a line (after any LF) is doubled (RFC 1939 3) and the response
 * ends in CRLF "." CRLF, a CRLF being added first when the message does
 * not end in one (no end of line, or a raw message's bare LF).
 */
#include "pop3d.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define MSG_READ 65536

/* Where the copy is in the message. */
struct msg_out {
	struct io *io;
	int raw;
	int bol;		/* at the start of a line */
	int in_body;		/* the blank line after the header passed */
	int line_empty;		/* the current line has had only a CR */
	long left;		/* body lines still to send, < 0: all */
	int stop;
	char last[2];		/* the last two bytes sent of the message */
};

/* Send one line's piece p[0..n) (n > 0; the LF, when there, is last). */
static int
msg_piece(struct msg_out *o, const char *p, size_t n)
{
	int lf = p[n - 1] == '\n';
	size_t i;

	if (o->bol && p[0] == '.' && io_write(o->io, ".", 1) < 0)
		return -1;
	if (o->bol)
		o->line_empty = 1;
	for (i = 0; i < n && o->line_empty; i++)
		if (p[i] != '\r' && p[i] != '\n')
			o->line_empty = 0;
	if (lf && !o->raw) {
		if (io_write(o->io, p, n - 1) < 0 ||
		    io_write(o->io, "\r\n", 2) < 0)
			return -1;
	} else if (io_write(o->io, p, n) < 0)
		return -1;
	o->last[0] = n >= 2 ? p[n - 2] : o->last[1];
	o->last[1] = p[n - 1];
	if (lf && !o->raw)
		o->last[0] = '\r';
	o->bol = lf;
	if (!lf)
		return 0;
	/* a whole line went out */
	if (o->in_body) {
		if (o->left > 0)
			o->left--;
	} else if (o->line_empty)
		o->in_body = 1;
	if (o->in_body && o->left == 0)
		o->stop = 1;
	return 0;
}

static int
msg_chunk(struct msg_out *o, const char *p, size_t n)
{
	const char *lf;
	size_t k;

	while (n > 0 && !o->stop) {
		lf = memchr(p, '\n', n);
		k = lf != NULL ? (size_t)(lf - p) + 1 : n;
		if (msg_piece(o, p, k) < 0)
			return -1;
		p += k;
		n -= k;
	}
	return 0;
}

int
pop3_send_message(struct io *io, int fd, int raw, long body_lines)
{
	static char buf[MSG_READ];
	struct msg_out o;
	ssize_t n;

	memset(&o, 0, sizeof o);
	o.io = io;
	o.raw = raw;
	o.bol = 1;
	o.left = body_lines;
	while (!o.stop) {
		n = read(fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		if (msg_chunk(&o, buf, (size_t)n) < 0)
			return -1;
	}
	/* a last line without its end, or (raw) ending in a bare LF, gets a
	 * CRLF: the end must be CRLF "." CRLF for every client */
	if ((!o.bol || (o.last[1] == '\n' && o.last[0] != '\r')) &&
	    io_write(io, "\r\n", 2) < 0)
		return -1;
	if (io_write(io, ".\r\n", 3) < 0)
		return -1;
	return pop3_flush_if_idle(io);
}
