/* SPDX-License-Identifier: ISC */
/*
 * smtpd: what goes to queue-inject before the message: the envelope text
 * (docs/QUEUE.md) and the Received header (RFC 5321 4.4).
 */
#include "smtpd.h"

#include <string.h>
#include <time.h>

/* Append n bytes of s to out, each byte outside printable ASCII, and
 * each of the bytes in bad, replaced by '?'. */
static int
received_safe(struct str *out, const char *s, size_t n, const char *bad)
{
	size_t i;
	char c;

	for (i = 0; i < n; i++) {
		c = s[i];
		if ((unsigned char)c <= 32 || (unsigned char)c >= 127 ||
		    strchr(bad, c) != NULL)
			c = '?';
		if (str_appendc(out, c) < 0)
			return -1;
	}
	return 0;
}

int
smtpd_helo_safe(const struct smtpd *s, struct str *out)
{
	return received_safe(out, str_cstr(&s->helo), s->helo.len,
	    "()\\\"");
}

/* The client's address as an address literal, or "unknown". */
static int
received_ipliteral(const struct smtpd *s, struct str *out)
{
	if (s->ip[0] == '\0')
		return str_appends(out, "unknown");
	return str_appendf(out, s->ip6 ? "[IPv6:%s]" : "[%s]", s->ip);
}

/* "from HELO ([IP])" when HELO is a domain or an address literal, else
 * "from [IP] (helo=HELO)". */
static int
received_from(const struct smtpd *s, struct str *out)
{
	const char *h = str_cstr(&s->helo);

	if (smtp_domain_valid(h, s->helo.len, 0) ||
	    smtp_literal_valid(h, s->helo.len)) {
		if (str_appendf(out, "Received: from %s (", h) < 0 ||
		    received_ipliteral(s, out) < 0)
			return -1;
		return str_appends(out, ")\r\n");
	}
	if (str_appends(out, "Received: from ") < 0 ||
	    received_ipliteral(s, out) < 0 ||
	    str_appends(out, " (helo=") < 0 ||
	    smtpd_helo_safe(s, out) < 0)
		return -1;
	return str_appends(out, ")\r\n");
}

/* The protocol of the With clause (RFC 3848, RFC 6531). */
static const char *
received_proto(const struct smtpd *s)
{
	int tls = smtpd_tls_info(s) != NULL;

	if (!s->esmtp)
		return "SMTP";
	if (s->tx.utf8)
		return tls ? "UTF8SMTPS" : "UTF8SMTP";
	return tls ? "ESMTPS" : "ESMTP";
}

int
smtpd_received(const struct smtpd *s, struct str *out)
{
	const char *tls = smtpd_tls_info(s);
	char date[64];
	struct tm tm;
	time_t now = time(NULL);

	if (localtime_r(&now, &tm) == NULL ||
	    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S %z", &tm) == 0)
		return -1;
	if (received_from(s, out) < 0 ||
	    str_appendf(out, "\tby %s (Zest) with %s", s->inst->hostname,
	    received_proto(s)) < 0)
		return -1;
	if (tls != NULL && (str_appends(out, " (") < 0 ||
	    received_safe(out, tls, strlen(tls), "()\\") < 0 ||
	    str_appends(out, ")") < 0))
		return -1;
	if (str_appendf(out, "\r\n\tid %s", s->sid) < 0)
		return -1;
	if (s->tx.nrcpt == 1 && str_appendf(out, "\r\n\tfor <%s>",
	    str_cstr(&s->tx.first_rcpt)) < 0)
		return -1;
	return str_appendf(out, "; %s\r\n", date);
}

int
smtpd_envelope(const struct smtpd *s, struct str *out)
{
	const struct smtpd_tx *tx = &s->tx;
	const char *tls = smtpd_tls_info(s);

	if (str_appendf(out, "V1\nF%s\n", str_cstr(&tx->from)) < 0)
		return -1;
	if (tx->ret != SMTP_RET_NONE && str_appendf(out, "X%s\n",
	    tx->ret == SMTP_RET_FULL ? "FULL" : "HDRS") < 0)
		return -1;
	if (tx->envid.len > 0 && str_appendf(out, "N%s\n", tx->envid.s) < 0)
		return -1;
	if (str_appendf(out, "B%s\n%s", smtp_body_name(tx->body),
	    tx->utf8 ? "U\n" : "") < 0)
		return -1;
	if (str_appends(out, "Chelo=") < 0 || smtpd_helo_safe(s, out) < 0 ||
	    str_appendf(out, " addr=%s tls=", s->ip[0] ? s->ip : "unknown") < 0)
		return -1;
	if (tls == NULL ? str_appends(out, "no") < 0 :
	    received_safe(out, tls, strlen(tls), "") < 0)
		return -1;
	if (str_appendc(out, '\n') < 0)
		return -1;
	return str_append(out, str_cstr(&tx->rcpts), tx->rcpts.len);
}
