/* SPDX-License-Identifier: ISC */
#ifndef ZEST_DSN_H
#define ZEST_DSN_H

/*
 * dsn: delivery status notifications.  Builds the RFC 3464
 * multipart/report message (a human-readable part, the
 * message/delivery-status part, and the original message or its header
 * section) in wire form, and holds the RFC 3461 rules for which outcome a
 * recipient's NOTIFY asks to hear about.  For SMTPUTF8 mail the RFC 6533
 * types (message/global-delivery-status, message/global,
 * message/global-headers) are used.
 */

#include <stddef.h>
#include <time.h>

#include "str.h"

#define DSN_DIAG_MAX 900	/* a diagnostic text is cut to this */

enum dsn_action {
	DSN_FAILED,
	DSN_DELAYED,
	DSN_DELIVERED,
	DSN_RELAYED,
	DSN_EXPANDED
};

/* One recipient of the report. */
struct dsn_rcpt {
	const char *final;	/* Final-Recipient (an rfc822 address) */
	const char *orcpt;	/* ORCPT as given ("type;xtext"), NULL/"" */
	enum dsn_action action;
	const char *status;	/* "5.1.1"; NULL: from the action */
	const char *remote_mta;	/* host name, NULL when none */
	const char *diag_type;	/* "smtp" or "x-unix"; NULL: no diagnostic */
	const char *diag;	/* the diagnostic text */
	time_t last_attempt;	/* 0: none */
	time_t retry_until;	/* Will-Retry-Until for delayed; 0: none */
};

/* What the report is about. */
struct dsn_info {
	const char *reporting_mta;	/* this host's name */
	const char *from;		/* the From: address (MAILER-DAEMON@..) */
	const char *to;			/* the original envelope sender */
	const char *envid;		/* ENVID (xtext) or NULL */
	const char *queue_id;		/* the original's queue id */
	time_t arrival;			/* when the original was queued */
	time_t now;
	int ret_full;		/* return the whole message, not the header */
	int utf8;		/* SMTPUTF8 message: RFC 6533 types */
};

/*
 * Build the report for n recipients (all of one kind of action: the
 * subject and the text follow r[0].action) into out (appended).  msg is
 * the original message in wire form (len bytes).  The whole message is
 * returned when info->ret_full and it holds no NUL byte, else its header
 * section.  *eightbit_r is set to 1 when the result holds 8-bit bytes
 * (then it must travel as 8BITMIME), else 0.  Returns 0, or -1 with errno
 * (EINVAL for n == 0, ENOMEM, E2BIG).
 */
int dsn_build(const struct dsn_info *info, const struct dsn_rcpt *r,
    size_t n, const char *msg, size_t len, struct str *out,
    int *eightbit_r);

/* Whether a recipient whose NOTIFY value is notify ("" when not given:
 * FAILURE,DELAY) wants a report of action.  An invalid value counts as
 * not given.  Returns 1 or 0. */
int dsn_wanted(const char *notify, enum dsn_action action);

/* The length of the header section at the start of msg, through the empty
 * line that ends it (all of len when there is none). */
size_t dsn_header_len(const char *msg, size_t len);

/* Whether s is an enhanced status code class.subject.detail (RFC 3463)
 * with class 2, 4 or 5.  Returns 1 or 0. */
int dsn_status_valid(const char *s);

/* Write t as an RFC 5322 date in UTC into buf (at least 40 bytes). */
void dsn_date(time_t t, char *buf, size_t size);

#endif
