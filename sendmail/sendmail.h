/* SPDX-License-Identifier: ISC */
#ifndef ZEST_SENDMAIL_H
#define ZEST_SENDMAIL_H

/*
 * sendmail: the sendmail-compatible injector.  sendmail.c reads the
 * options real programs pass and dispatches; message.c reads the message,
 * finds -t recipients, adds missing headers and hands everything to
 * queue-inject.
 */

#include <stddef.h>

#include "instance.h"
#include "str.h"

#define SM_MAX_RCPTS 10000	/* recipients from arguments and headers */

struct sm_opts {
	const char *conf_dir;	/* -C */
	const char *sender;	/* -f */
	const char *fullname;	/* -F */
	const char *body;	/* -B: 7BIT or 8BITMIME */
	int extract;		/* -t */
	int ignore_dots;	/* -i, -oi */
	char **rcpts;		/* the arguments after the options */
	size_t nrcpts;
};

/* Read the message on stdin and queue it.  Returns a sysexits(3) code,
 * having printed any error as "sendmail: ..." on stderr. */
int sm_send(const struct instance *inst, const struct sm_opts *o);

/* Add the addresses of an address-list header value (or a command-line
 * argument) to list as envelope addresses ("local@domain"; a bare local
 * part gets the instance's domain).  Returns the number added, -1 when
 * the list is full. */
int sm_addresses(const struct instance *inst, const char *s, size_t n,
    struct str *list, size_t *count);

#endif
