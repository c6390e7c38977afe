/* SPDX-License-Identifier: ISC */
#include "smtpdata.h"

#include <string.h>

/* Where the reader stands. */
enum {
	ST_BOL,		/* at the start of a line (after CRLF) */
	ST_MID,		/* inside a line */
	ST_CR,		/* after a CR inside a line */
	ST_DOT,		/* DOT mode: after a "." at the start of a line */
	ST_DOTCR,	/* DOT mode: after CRLF "." CR */
	ST_END		/* DOT mode: after CRLF "." CRLF */
};

void
smtpdata_init(struct smtpdata *d, enum smtpdata_mode mode, size_t line_max)
{
	memset(d, 0, sizeof *d);
	d->mode = mode;
	d->state = ST_BOL;
	d->line_max = line_max;
}

static void
smtpdata_fault(struct smtpdata *d, enum smtpdata_err err)
{
	if (d->err == SMTPDATA_OK)
		d->err = err;
}

/* A byte inside a line (ST_MID rules).  Returns the new state. */
static int
smtpdata_mid(struct smtpdata *d, unsigned char c, unsigned char *out,
    size_t *o)
{
	if (c == '\n') {
		smtpdata_fault(d, SMTPDATA_BARE_LF);
		d->line_len = 0;
		return ST_MID;	/* LF alone does not start a line */
	}
	if (c == '\0')
		smtpdata_fault(d, SMTPDATA_NUL);
	if (d->err == SMTPDATA_OK)
		out[(*o)++] = c;
	return c == '\r' ? ST_CR : ST_MID;
}

/*
 * One byte c in the current state.  Returns 1 when c must be looked at
 * again in the (new) state: after a CR that turned out bare, the byte that
 * followed it starts afresh inside the line.
 */
static int
smtpdata_step(struct smtpdata *d, unsigned char c, unsigned char *out,
    size_t *o)
{
	switch (d->state) {
	case ST_BOL:
		if (d->mode == SMTPDATA_DOT && c == '.') {
			d->state = ST_DOT;	/* held: stuffing or end */
			return 0;
		}
		d->state = smtpdata_mid(d, c, out, o);
		return 0;
	case ST_CR:
		if (c == '\n') {
			if (d->err == SMTPDATA_OK)
				out[(*o)++] = c;
			d->state = ST_BOL;
			d->line_len = 0;
			d->lines++;
			return 0;
		}
		smtpdata_fault(d, SMTPDATA_BARE_CR);
		d->state = ST_MID;
		return 1;
	case ST_DOT:
		if (c == '\r') {
			d->state = ST_DOTCR;
			return 0;
		}
		/* ".." gives "."; "." and anything else loses the dot;
		 * CRLF "." LF is a bare LF, never an end. */
		d->state = smtpdata_mid(d, c, out, o);
		return 0;
	case ST_DOTCR:
		if (c == '\n') {
			d->state = ST_END;
			d->done = 1;
			return 0;
		}
		/* CRLF "." CR x: the CR was bare; the dot is gone. */
		smtpdata_fault(d, SMTPDATA_BARE_CR);
		d->state = ST_MID;
		return 1;
	default:
		d->state = smtpdata_mid(d, c, out, o);
		return 0;
	}
}

size_t
smtpdata_feed(struct smtpdata *d, const void *in, size_t n, void *out,
    size_t *outlen_r)
{
	const unsigned char *p = in;
	unsigned char *q = out, c;
	size_t i = 0, o = 0;

	while (i < n && !d->done) {
		/* Fast path: the plain bytes of a line. */
		if (d->state == ST_MID && d->err == SMTPDATA_OK &&
		    (d->line_max == 0 || d->line_len < d->line_max)) {
			c = p[i];
			if (c != '\r' && c != '\n' && c != '\0') {
				q[o++] = c;
				d->line_len++;
				i++;
				continue;
			}
		}
		c = p[i++];
		d->line_len++;
		if (d->line_max != 0 && d->line_len > d->line_max)
			smtpdata_fault(d, SMTPDATA_LONG_LINE);
		while (smtpdata_step(d, c, q, &o))
			;
	}
	*outlen_r = o;
	return i;
}

int
smtpdata_done(const struct smtpdata *d)
{
	return d->done;
}

enum smtpdata_err
smtpdata_finish(struct smtpdata *d)
{
	if (d->state == ST_CR)
		smtpdata_fault(d, SMTPDATA_BARE_CR);
	return d->err;
}

enum smtpdata_err
smtpdata_error(const struct smtpdata *d)
{
	return d->err;
}

const char *
smtpdata_strerror(enum smtpdata_err err)
{
	switch (err) {
	case SMTPDATA_OK:
		return "no error";
	case SMTPDATA_BARE_LF:
		return "bare LF";
	case SMTPDATA_BARE_CR:
		return "bare CR";
	case SMTPDATA_NUL:
		return "NUL byte";
	case SMTPDATA_LONG_LINE:
		return "line too long";
	}
	return "unknown error";
}
