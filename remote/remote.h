/* SPDX-License-Identifier: ISC */
#ifndef ZEST_REMOTE_H
#define ZEST_REMOTE_H

/*
 * remote: the outbound SMTP client program, see remote(8).
 * hops.c finds the next hops of a domain (routes table, MX, the domain
 * itself); conn.c connects and plugs TLS into a session; main.c runs the
 * sessions and prints the results for queued.
 */

#include "dns.h"
#include "io.h"
#include "smtpc.h"
#include "str.h"
#include "table.h"
#include "tls.h"

#define REMOTE_USER "zest-remote"
#define REMOTE_TRIES_MAX 10		/* addresses tried per delivery */
#define REMOTE_ENV_MAX (16UL * 1024 * 1024) /* bytes of ENV text on fd 3 */
#define REMOTE_ROUTE_DEFAULT "*"	/* the routes key for every domain */

/* One next hop: a host name or an address literal, and a port. */
struct hop {
	char *name;
	unsigned port;
	int route;		/* from the routes table */
};

struct hops {
	struct hop *v;
	size_t n;
};

/* A result for recipients: "451 4.4.1 text". */
struct outcome {
	unsigned code;
	char status[SMTPC_STATUS_MAX];
	struct str text;
};

struct hops_conf {
	struct dns *dns;
	struct table *routes;	/* NULL: no routes table */
	const char *self;	/* our host name: MX loops */
	unsigned port;		/* the SMTP port, 25 but for tests */
};

/* Find the next hops of domain in order.  Returns 0 with at least one
 * hop in hops_r, or 1 with a result for every recipient in outcome_r (no
 * such domain, null MX, DNS failure, bad route, mail loop). */
int hops_find(const struct hops_conf *cf, const char *domain,
    struct hops *hops_r, struct outcome *outcome_r);

/* Parse a routes table value "host", "host:port", "[address]" or
 * "[host]:port" into hop (port defport when not given).  Returns 0, or -1
 * when it is malformed. */
int hops_parse_route(const char *value, unsigned defport, struct hop *hop);

/* Free the hops. */
void hops_free(struct hops *h);

/* Set an outcome: code, status and printf-style text. */
void outcome_set(struct outcome *o, unsigned code, const char *status,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Connect to address a, port, within timeout seconds.  Returns a
 * non-blocking socket, or -1 with a message in err. */
int conn_open(const struct dns_addr *a, unsigned port, unsigned timeout,
    struct str *err);

/* The STARTTLS hook of a session (struct smtpc's starttls, arg a struct
 * conn_tls): a client handshake on fd bounded by timeout seconds. */
struct conn_tls {
	struct tls_ctx *ctx;
	int fd;
	const char *servername;	/* SNI, NULL for an address */
	unsigned timeout;
	struct tls_session *session;	/* set on success; caller frees */
};

int conn_starttls(void *arg, struct io *io, struct str *err);

#endif
