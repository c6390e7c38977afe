/* SPDX-License-Identifier: ISC */
#include "dsn.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "qenv.h"

/* What each action says in the report. */
struct dsn_kind {
	const char *action;	/* the Action: value */
	const char *status;	/* default Status: */
	const char *subject;
	const char *text;	/* the human-readable paragraph */
	const char *desc;	/* Content-Description of the returned part */
};

static const struct dsn_kind dsn_kinds[] = {
	[DSN_FAILED] = { "failed", "5.0.0",
	    "Undelivered Mail Returned to Sender",
	    "Your message could not be delivered to the recipients listed\r\n"
	    "below.  The failure is permanent: the mail system has given up\r\n"
	    "on them.  The message is returned with this report.\r\n",
	    "Undelivered Message" },
	[DSN_DELAYED] = { "delayed", "4.0.0",
	    "Delayed Mail (still being retried)",
	    "Your message has not yet been delivered to the recipients\r\n"
	    "listed below.  The mail system keeps trying; you need not do\r\n"
	    "anything now, and you will hear again if it gives up.\r\n",
	    "Delayed Message" },
	[DSN_DELIVERED] = { "delivered", "2.0.0",
	    "Successful Mail Delivery Report",
	    "Your message was delivered to the mailboxes of the recipients\r\n"
	    "listed below, as you asked to be told.\r\n",
	    "Delivered Message" },
	[DSN_RELAYED] = { "relayed", "2.0.0",
	    "Successful Mail Delivery Report",
	    "Your message was handed on for the recipients listed below to\r\n"
	    "a mail system that does not report delivery; you will not hear\r\n"
	    "more about it.\r\n",
	    "Relayed Message" },
	[DSN_EXPANDED] = { "expanded", "2.0.0",
	    "Successful Mail Delivery Report",
	    "Your message was delivered to the lists or aliases listed\r\n"
	    "below, which passed it on to their members.\r\n",
	    "Expanded Message" },
};

void
dsn_date(time_t t, char *buf, size_t size)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, size, "%a, %d %b %Y %H:%M:%S +0000", &tm) == 0)
		snprintf(buf, size, "Thu, 01 Jan 1970 00:00:00 +0000");
}

int
dsn_status_valid(const char *s)
{
	int part, digits;

	if (s[0] != '2' && s[0] != '4' && s[0] != '5')
		return 0;
	if (s[1] != '.')
		return 0;
	s += 2;
	for (part = 0; part < 2; part++) {
		for (digits = 0; *s >= '0' && *s <= '9'; s++)
			digits++;
		if (digits < 1 || digits > 3)
			return 0;
		if (part == 0 && *s++ != '.')
			return 0;
	}
	return *s == '\0';
}

int
dsn_wanted(const char *notify, enum dsn_action action)
{
	unsigned bits;

	if (notify == NULL || qenv_notify_parse(notify, &bits) < 0 ||
	    bits == 0)
		bits = QENV_NOTIFY_FAILURE | QENV_NOTIFY_DELAY;
	switch (action) {
	case DSN_FAILED:
		return (bits & QENV_NOTIFY_FAILURE) != 0;
	case DSN_DELAYED:
		return (bits & QENV_NOTIFY_DELAY) != 0;
	default:
		return (bits & QENV_NOTIFY_SUCCESS) != 0;
	}
}

size_t
dsn_header_len(const char *msg, size_t len)
{
	size_t i;

	if (len >= 2 && msg[0] == '\r' && msg[1] == '\n')
		return 2;
	if (len >= 1 && msg[0] == '\n')
		return 1;
	for (i = 0; i + 1 < len; i++) {
		if (msg[i] != '\n')
			continue;
		if (msg[i + 1] == '\n')
			return i + 2;
		if (msg[i + 1] == '\r' && i + 2 < len && msg[i + 2] == '\n')
			return i + 3;
	}
	return len;
}

/* Append text with every control byte (CR, LF, TAB, ...) made a space: a
 * peer's text must not break the report's structure. */
static int
dsn_clean(struct str *out, const char *s, size_t max)
{
	size_t i;
	int r = 0;

	for (i = 0; s[i] != '\0' && i < max && r == 0; i++) {
		unsigned char c = (unsigned char)s[i];

		r = str_appendc(out, c < 0x20 || c == 0x7f ? ' ' : (char)c);
	}
	return r;
}

/* The message/delivery-status per-message fields. */
static int
dsn_permsg(const struct dsn_info *info, struct str *out)
{
	struct str envid = STR_INIT;
	char date[64];
	int r;

	r = str_appends(out, "Reporting-MTA: dns; ");
	if (r == 0)
		r = dsn_clean(out, info->reporting_mta, 255);
	if (r == 0 && info->queue_id != NULL)
		r = str_appendf(out, "\r\nX-Zest-Queue-ID: %s", info->queue_id);
	if (r == 0 && info->envid != NULL &&
	    qenv_xtext_decode(info->envid, &envid) == 0) {
		r = str_appends(out, "\r\nOriginal-Envelope-Id: ");
		if (r == 0)
			r = dsn_clean(out, str_cstr(&envid), QENV_ENVID_MAX);
	}
	str_free(&envid);
	dsn_date(info->arrival, date, sizeof date);
	if (r == 0)
		r = str_appendf(out, "\r\nArrival-Date: %s\r\n", date);
	return r;
}

/* Original-Recipient from ORCPT: the address type, then the decoded
 * xtext (kept as xtext when it decodes to control bytes). */
static int
dsn_orcpt(const char *orcpt, struct str *out)
{
	struct str dec = STR_INIT;
	const char *semi = strchr(orcpt, ';');
	size_t i;
	int r, ok;

	ok = semi != NULL && qenv_xtext_decode(semi + 1, &dec) == 0;
	for (i = 0; ok && i < dec.len; i++)
		if ((unsigned char)dec.s[i] < 0x20 || dec.s[i] == 0x7f)
			ok = 0;
	r = str_appends(out, "Original-Recipient: ");
	if (r == 0 && ok)
		r = str_append(out, orcpt, (size_t)(semi - orcpt + 1));
	if (r == 0)
		r = dsn_clean(out, ok ? dec.s : orcpt, QENV_ORCPT_MAX);
	if (r == 0)
		r = str_appends(out, "\r\n");
	str_free(&dec);
	return r;
}

/* One recipient's block of fields. */
static int
dsn_perrcpt(const struct dsn_rcpt *rc, struct str *out)
{
	char date[64];
	int r = str_appends(out, "\r\n");

	if (r == 0 && rc->orcpt != NULL && *rc->orcpt != '\0')
		r = dsn_orcpt(rc->orcpt, out);
	if (r == 0)
		r = str_appends(out, "Final-Recipient: rfc822; ");
	if (r == 0)
		r = dsn_clean(out, rc->final, QENV_ADDR_MAX);
	if (r == 0)
		r = str_appendf(out, "\r\nAction: %s\r\nStatus: %s\r\n",
		    dsn_kinds[rc->action].action, rc->status != NULL &&
		    dsn_status_valid(rc->status) ? rc->status :
		    dsn_kinds[rc->action].status);
	if (r == 0 && rc->remote_mta != NULL) {
		r = str_appends(out, "Remote-MTA: dns; ");
		if (r == 0)
			r = dsn_clean(out, rc->remote_mta, 255);
		if (r == 0)
			r = str_appends(out, "\r\n");
	}
	if (r == 0 && rc->diag_type != NULL && rc->diag != NULL) {
		r = str_appendf(out, "Diagnostic-Code: %s; ", rc->diag_type);
		if (r == 0)
			r = dsn_clean(out, rc->diag, DSN_DIAG_MAX);
		if (r == 0)
			r = str_appends(out, "\r\n");
	}
	if (r == 0 && rc->last_attempt != 0) {
		dsn_date(rc->last_attempt, date, sizeof date);
		r = str_appendf(out, "Last-Attempt-Date: %s\r\n", date);
	}
	if (r == 0 && rc->retry_until != 0 && rc->action == DSN_DELAYED) {
		dsn_date(rc->retry_until, date, sizeof date);
		r = str_appendf(out, "Will-Retry-Until: %s\r\n", date);
	}
	return r;
}

/* The human-readable part. */
static int
dsn_human(const struct dsn_info *info, const struct dsn_rcpt *r, size_t n,
    struct str *out)
{
	size_t i;
	int rc;

	rc = str_appends(out, "This is the mail system at ");
	if (rc == 0)
		rc = dsn_clean(out, info->reporting_mta, 255);
	if (rc == 0)
		rc = str_appendf(out, ".\r\n\r\n%s\r\n",
		    dsn_kinds[r[0].action].text);
	for (i = 0; i < n && rc == 0; i++) {
		rc = str_appends(out, "<");
		if (rc == 0)
			rc = dsn_clean(out, r[i].final, QENV_ADDR_MAX);
		if (rc == 0)
			rc = str_appends(out, ">");
		if (rc == 0 && r[i].diag != NULL) {
			rc = str_appends(out, ": ");
			if (rc == 0)
				rc = dsn_clean(out, r[i].diag, DSN_DIAG_MAX);
		}
		if (rc == 0)
			rc = str_appends(out, "\r\n");
	}
	return rc;
}

static int
dsn_has8bit(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] >= 0x80)
			return 1;
	return 0;
}

/* A boundary that does not occur in the returned content. */
static int
dsn_boundary(const struct dsn_info *info, const char *part, size_t len,
    struct str *b)
{
	unsigned i;

	for (i = 0; i < 100; i++) {
		str_clear(b);
		if (str_appendf(b, "=_zest-dsn/%s/%lld/%u", info->queue_id ?
		    info->queue_id : "x", (long long)info->now, i) < 0)
			return -1;
		if (memmem(part, len, b->s, b->len) == NULL)
			return 0;
	}
	errno = EINVAL;
	return -1;
}

/* The message headers of the report. */
static int
dsn_headers(const struct dsn_info *info, const struct dsn_rcpt *r,
    const char *boundary, struct str *out)
{
	char date[64];
	int rc;

	dsn_date(info->now, date, sizeof date);
	rc = str_appends(out, "From: Mail Delivery System <");
	if (rc == 0)
		rc = dsn_clean(out, info->from, QENV_ADDR_MAX);
	if (rc == 0)
		rc = str_appends(out, ">\r\nTo: <");
	if (rc == 0)
		rc = dsn_clean(out, info->to, QENV_ADDR_MAX);
	if (rc == 0)
		rc = str_appendf(out, ">\r\nSubject: %s\r\nDate: %s\r\n"
		    "Message-ID: <%s.%lld.dsn@", dsn_kinds[r->action].subject,
		    date, info->queue_id ? info->queue_id : "x",
		    (long long)info->now);
	if (rc == 0)
		rc = dsn_clean(out, info->reporting_mta, 255);
	if (rc == 0)
		rc = str_appendf(out, ">\r\nAuto-Submitted: auto-replied\r\n"
		    "MIME-Version: 1.0\r\nContent-Type: multipart/report; "
		    "report-type=delivery-status;\r\n\tboundary=\"%s\"\r\n\r\n"
		    "This is a MIME-encapsulated delivery status "
		    "notification.\r\n", boundary);
	return rc;
}

int
dsn_build(const struct dsn_info *info, const struct dsn_rcpt *r,
    size_t n, const char *msg, size_t len, struct str *out, int *eightbit_r)
{
	struct str b = STR_INIT;
	size_t old = out->len, i, plen;
	int full, rc, eight;

	if (n == 0) {
		errno = EINVAL;
		return -1;
	}
	full = info->ret_full && memchr(msg, '\0', len) == NULL;
	plen = full ? len : dsn_header_len(msg, len);
	eight = dsn_has8bit(msg, plen);
	rc = dsn_boundary(info, msg, plen, &b);
	if (rc == 0)
		rc = dsn_headers(info, r, b.s, out);
	if (rc == 0)
		rc = str_appendf(out, "\r\n--%s\r\nContent-Type: text/plain; "
		    "charset=%s\r\nContent-Description: Notification\r\n"
		    "\r\n", b.s, info->utf8 ? "utf-8" : "us-ascii");
	if (rc == 0)
		rc = dsn_human(info, r, n, out);
	if (rc == 0)
		rc = str_appendf(out, "\r\n--%s\r\nContent-Type: message/%s"
		    "delivery-status\r\nContent-Description: Delivery report"
		    "\r\n\r\n", b.s, info->utf8 ? "global-" : "");
	if (rc == 0)
		rc = dsn_permsg(info, out);
	for (i = 0; i < n && rc == 0; i++)
		rc = dsn_perrcpt(&r[i], out);
	if (rc == 0)
		rc = str_appendf(out, "\r\n--%s\r\nContent-Type: %s\r\n"
		    "Content-Description: %s\r\n%s\r\n", b.s, full ?
		    (info->utf8 ? "message/global" : "message/rfc822") :
		    (info->utf8 ? "message/global-headers" :
		    "text/rfc822-headers"), full ?
		    dsn_kinds[r->action].desc : "Message headers",
		    eight ? "Content-Transfer-Encoding: 8bit\r\n" : "");
	if (rc == 0)
		rc = str_append(out, msg, plen);
	if (rc == 0 && plen > 0 && msg[plen - 1] != '\n')
		rc = str_appends(out, "\r\n");
	if (rc == 0)
		rc = str_appendf(out, "\r\n--%s--\r\n", b.s);
	str_free(&b);
	if (rc < 0) {
		str_truncate(out, old);
		return -1;
	}
	*eightbit_r = eight || info->utf8;
	return 0;
}
