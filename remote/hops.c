/* SPDX-License-Identifier: ISC */
/*
 * The next hops of a domain (RFC 5321 section 5.1): a routes table entry
 * for the domain, else the `*` entry (a smarthost for every domain), else
 * the domain's MX hosts by preference, else (no MX records) the domain
 * itself.  A route's host is used as it is, its addresses looked up
 * without MX.  An address literal domain ("[192.0.2.1]", "[IPv6:...]") is
 * its own and only hop.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "remote.h"

void
outcome_set(struct outcome *o, unsigned code, const char *status,
    const char *fmt, ...)
{
	va_list ap;
	size_t i;

	o->code = code;
	snprintf(o->status, sizeof(o->status), "%s", status);
	str_clear(&o->text);
	va_start(ap, fmt);
	str_vappendf(&o->text, fmt, ap);
	va_end(ap);
	for (i = 0; i < o->text.len; i++)
		if (o->text.s[i] < ' ' || o->text.s[i] == 127)
			o->text.s[i] = '?';
}

void
hops_free(struct hops *h)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		free(h->v[i].name);
	free(h->v);
	h->v = NULL;
	h->n = 0;
}

static int
hops_add(struct hops *h, const char *name, size_t len, unsigned port,
    int route)
{
	struct hop *v;

	if ((v = realloc(h->v, (h->n + 1) * sizeof(*v))) == NULL)
		return -1;
	h->v = v;
	if ((v[h->n].name = strndup(name, len)) == NULL)
		return -1;
	v[h->n].port = port;
	v[h->n].route = route;
	h->n++;
	return 0;
}

/* A decimal port 1..65535 making up all of s. */
static int
hops_port(const char *s, unsigned *port_r)
{
	unsigned long v = 0;
	size_t i;

	for (i = 0; s[i] >= '0' && s[i] <= '9' && i < 6; i++)
		v = v * 10 + (unsigned long)(s[i] - '0');
	if (i == 0 || s[i] != '\0' || v == 0 || v > 65535)
		return -1;
	*port_r = (unsigned)v;
	return 0;
}

int
hops_parse_route(const char *value, unsigned defport, struct hop *hop)
{
	const char *host = value, *end, *colon;
	struct dns_addr a;
	char *name;

	hop->port = defport;
	hop->route = 1;
	hop->name = NULL;
	if (*value == '[') {
		host = value + 1;
		if ((end = strchr(host, ']')) == NULL)
			return -1;
		if (end[1] == ':' && hops_port(end + 2, &hop->port) < 0)
			return -1;
		if (end[1] != ':' && end[1] != '\0')
			return -1;
	} else if ((colon = strchr(value, ':')) != NULL &&
	    strchr(colon + 1, ':') == NULL) {
		end = colon;
		if (hops_port(colon + 1, &hop->port) < 0)
			return -1;
	} else
		end = value + strlen(value);	/* a name, or bare IPv6 */
	if ((name = strndup(host, (size_t)(end - host))) == NULL)
		return -1;
	if (!dns_valid_name(name) && !dns_addr_parse(name, &a)) {
		free(name);
		return -1;
	}
	hop->name = name;
	return 0;
}

/* The route for domain (its own entry, else the default): 1 with the hop
 * added, 0 without a route, -1 with o set. */
static int
hops_route(const struct hops_conf *cf, const char *domain, struct hops *h,
    struct outcome *o)
{
	struct str val = STR_INIT;
	struct hop hop;
	int r;

	if (cf->routes == NULL)
		return 0;
	r = table_lookup(cf->routes, domain, &val);
	if (r == 0)
		r = table_lookup(cf->routes, REMOTE_ROUTE_DEFAULT, &val);
	if (r < 0) {
		outcome_set(o, 451, "4.3.0", "routes table: lookup failed");
		str_free(&val);
		return -1;
	}
	if (r == 0) {
		str_free(&val);
		return 0;
	}
	if (hops_parse_route(str_cstr(&val), cf->port, &hop) < 0 ||
	    hops_add(h, hop.name, strlen(hop.name), hop.port, 1) < 0) {
		outcome_set(o, 451, "4.3.5", "bad route '%.80s' for %s in the "
		    "routes table", str_cstr(&val), domain);
		free(hop.name);
		str_free(&val);
		return -1;
	}
	free(hop.name);
	str_free(&val);
	return 1;
}

/* "[192.0.2.1]" or "[IPv6:2001:db8::1]": 1 with the hop, 0 when domain is
 * no literal, -1 with o set. */
static int
hops_literal(const struct hops_conf *cf, const char *domain, struct hops *h,
    struct outcome *o)
{
	size_t len = strlen(domain);
	const char *p = domain + 1;
	struct dns_addr a;
	char buf[DNS_ADDRSTR_MAX + 8];

	if (len < 3 || domain[0] != '[' || domain[len - 1] != ']')
		return 0;
	if (strncasecmp(p, "IPv6:", 5) == 0)
		p += 5;
	if ((size_t)(domain + len - 1 - p) >= sizeof(buf)) {
		outcome_set(o, 550, "5.1.2", "bad address literal");
		return -1;
	}
	memcpy(buf, p, (size_t)(domain + len - 1 - p));
	buf[domain + len - 1 - p] = '\0';
	if (!dns_addr_parse(buf, &a) || (p == domain + 1) !=
	    (a.family == AF_INET)) {
		outcome_set(o, 550, "5.1.2", "bad address literal %s", domain);
		return -1;
	}
	if (hops_add(h, buf, strlen(buf), cf->port, 0) < 0) {
		outcome_set(o, 451, "4.3.0", "out of memory");
		return -1;
	}
	return 1;
}

/* The MX hosts of domain, or the domain itself. */
static int
hops_mx(const struct hops_conf *cf, const char *domain, struct hops *h,
    struct outcome *o)
{
	struct dns_mx mx = { NULL, 0, 0 };
	struct str err = STR_INIT;
	size_t i;
	int r, self;

	r = dns_mx(cf->dns, domain, &mx, &err);
	if (r == DNS_NXDOMAIN)
		outcome_set(o, 550, "5.1.2", "domain %s not found", domain);
	else if (r < 0)
		outcome_set(o, 451, "4.4.3", "MX lookup of %s: %s", domain,
		    str_cstr(&err));
	else if (r == 0 && mx.null_mx)
		outcome_set(o, 556, "5.1.10", "domain %s accepts no mail "
		    "(null MX)", domain);
	str_free(&err);
	if (r == DNS_NODATA) {
		if (hops_add(h, domain, strlen(domain), cf->port, 0) < 0)
			goto nomem;
		return 1;
	}
	if (r != 0 || mx.null_mx) {
		dns_mx_free(&mx);
		return -1;
	}
	self = dns_mx_cut_self(&mx, cf->self);
	if (self && mx.n == 0) {
		outcome_set(o, 554, "5.4.6", "mail for %s loops back to "
		    "myself", domain);
		dns_mx_free(&mx);
		return -1;
	}
	for (i = 0; i < mx.n; i++)
		if (hops_add(h, mx.v[i].name, strlen(mx.v[i].name), cf->port,
		    0) < 0)
			goto nomem;
	dns_mx_free(&mx);
	return 1;
nomem:
	dns_mx_free(&mx);
	outcome_set(o, 451, "4.3.0", "out of memory");
	return -1;
}

int
hops_find(const struct hops_conf *cf, const char *domain,
    struct hops *hops_r, struct outcome *outcome_r)
{
	int r;

	hops_r->v = NULL;
	hops_r->n = 0;
	if ((r = hops_route(cf, domain, hops_r, outcome_r)) == 0 &&
	    (r = hops_literal(cf, domain, hops_r, outcome_r)) == 0)
		r = hops_mx(cf, domain, hops_r, outcome_r);
	if (r < 0) {
		hops_free(hops_r);
		return 1;
	}
	return 0;
}
