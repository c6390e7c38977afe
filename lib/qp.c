/* SPDX-License-Identifier: ISC */
/* qp: quoted-printable (RFC 2045 6.7); see qp.h. */
#include <errno.h>
#include <string.h>

#include "qp.h"

static const char qp_hex[] = "0123456789ABCDEF";

void
qp_enc_init(struct qp_enc *e, int crlf)
{
	e->eol = crlf ? "\r\n" : "\n";
	e->col = 0;
	e->wsp = -1;
	e->cr = 0;
}

/* Append a token of k characters (1: literal, 3: =XX) after a soft break
 * when the line would grow past QP_LINE_MAX - 1 (room for the "="). */
static int
qp_put(struct qp_enc *e, const char *tok, size_t k, struct str *out)
{
	if (e->col + k > QP_LINE_MAX - 1) {
		if (str_appendc(out, '=') < 0 || str_appends(out, e->eol) < 0)
			return -1;
		e->col = 0;
		/* A line made by a soft break must not start a MIME boundary
		 * line ("--" and the boundary) that the text did not hold:
		 * its first "-" is encoded (RFC 2045 6.7 allows any octet
		 * to be). */
		if (k == 1 && tok[0] == '-') {
			e->col = 3;
			return str_append(out, "=2D", 3);
		}
	}
	e->col += k;
	return str_append(out, tok, k);
}

/* Append byte c as =XX. */
static int
qp_put_hex(struct qp_enc *e, unsigned char c, struct str *out)
{
	char t[3] = { '=', qp_hex[c >> 4], qp_hex[c & 15] };

	return qp_put(e, t, 3, out);
}

/* Flush the held-back blank: encoded when eol (it ends a line). */
static int
qp_flush_wsp(struct qp_enc *e, int eol, struct str *out)
{
	char c;
	int r;

	if (e->wsp < 0)
		return 0;
	c = (char)e->wsp;
	e->wsp = -1;
	r = eol ? qp_put_hex(e, (unsigned char)c, out) : qp_put(e, &c, 1, out);
	return r;
}

int
qp_encode(struct qp_enc *e, const void *buf, size_t n, struct str *out)
{
	const unsigned char *p = buf;
	size_t i;
	char c;

	for (i = 0; i < n; i++) {
		c = (char)p[i];
		if (e->cr) {
			e->cr = 0;
			if (c == '\n') {
				if (qp_flush_wsp(e, 1, out) < 0 ||
				    str_append(out, "\r\n", 2) < 0)
					return -1;
				e->col = 0;
				continue;
			}
			/* A bare CR is data. */
			if (qp_flush_wsp(e, 0, out) < 0 ||
			    qp_put_hex(e, '\r', out) < 0)
				return -1;
		}
		if (c == '\r') {
			e->cr = 1;
			continue;
		}
		if (c == '\n') {
			if (qp_flush_wsp(e, 1, out) < 0 ||
			    str_appendc(out, '\n') < 0)
				return -1;
			e->col = 0;
			continue;
		}
		if (qp_flush_wsp(e, 0, out) < 0)
			return -1;
		if (c == ' ' || c == '\t')
			e->wsp = (unsigned char)c;
		else if (p[i] >= 33 && p[i] <= 126 && c != '=') {
			if (qp_put(e, &c, 1, out) < 0)
				return -1;
		} else if (qp_put_hex(e, p[i], out) < 0)
			return -1;
	}
	return 0;
}

int
qp_encode_end(struct qp_enc *e, struct str *out)
{
	if (qp_flush_wsp(e, !e->cr, out) < 0)
		return -1;
	if (e->cr) {
		e->cr = 0;
		if (qp_put_hex(e, '\r', out) < 0)
			return -1;
	}
	e->col = 0;
	return 0;
}

/* The value of hex digit c, or -1. */
static int
qp_unhex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Length of the line end at p[0..n): 2 for CRLF, 1 for LF, else 0. */
static size_t
qp_eol(const unsigned char *p, size_t n)
{
	if (n >= 1 && p[0] == '\n')
		return 1;
	if (n >= 2 && p[0] == '\r' && p[1] == '\n')
		return 2;
	return 0;
}

int
qp_decode(const void *buf, size_t n, struct str *out)
{
	const unsigned char *p = buf;
	size_t i = 0, j, k;
	int hi, lo;

	while (i < n) {
		if (p[i] == ' ' || p[i] == '\t') {
			/* Blanks before a line end (or the end) are dropped. */
			for (j = i; j < n && (p[j] == ' ' || p[j] == '\t'); j++)
				;
			if (j == n || qp_eol(p + j, n - j) > 0) {
				i = j;
				continue;
			}
			if (str_append(out, p + i, j - i) < 0)
				return -1;
			i = j;
			continue;
		}
		if (p[i] != '=') {
			if (str_appendc(out, (char)p[i]) < 0)
				return -1;
			i++;
			continue;
		}
		if (i + 2 < n && (hi = qp_unhex(p[i + 1])) >= 0 &&
		    (lo = qp_unhex(p[i + 2])) >= 0) {
			if (str_appendc(out, (char)(hi << 4 | lo)) < 0)
				return -1;
			i += 3;
			continue;
		}
		for (j = i + 1; j < n && (p[j] == ' ' || p[j] == '\t'); j++)
			;
		if (j == n) {
			/* "=" at the very end: a soft break without line end */
			i = j;
			continue;
		}
		if ((k = qp_eol(p + j, n - j)) > 0) {
			i = j + k;
			continue;
		}
		if (str_appendc(out, '=') < 0)
			return -1;
		i++;
	}
	return 0;
}
