/* SPDX-License-Identifier: ISC */
#include "dns.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

/* The answer buffer: the largest DNS message (over TCP). */
#define DNS_ANSWER_MAX 65535

struct dns {
	struct __res_state res;
	int custom;		/* queries go to a configured server */
	unsigned char *buf;	/* DNS_ANSWER_MAX bytes */
};

int
dns_valid_name(const char *name)
{
	size_t i, len = strlen(name), label = 0;
	char c;

	if (len == 0 || len > DNS_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		c = name[i];
		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0;
}

int
dns_addr_parse(const char *s, struct dns_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, a->a) == 1) {
		a->family = AF_INET;
		return 1;
	}
	if (inet_pton(AF_INET6, s, a->a) == 1) {
		a->family = AF_INET6;
		return 1;
	}
	return 0;
}

void
dns_addr_format(const struct dns_addr *a, char *buf, size_t n)
{
	if (n == 0)
		return;
	if (inet_ntop(a->family, a->a, buf, (socklen_t)n) == NULL)
		buf[0] = '\0';
}

/* Parse server ("a.b.c.d" or "a.b.c.d:port") into sin. */
static int
dns_server_addr(const char *server, struct sockaddr_in *sin)
{
	char host[INET_ADDRSTRLEN];
	const char *colon = strchr(server, ':');
	size_t hlen = colon ? (size_t)(colon - server) : strlen(server);
	unsigned long port = NAMESERVER_PORT;
	char *end;

	if (hlen == 0 || hlen >= sizeof(host))
		return -1;
	memcpy(host, server, hlen);
	host[hlen] = '\0';
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		return -1;
	if (colon != NULL) {
		errno = 0;
		port = strtoul(colon + 1, &end, 10);
		if (errno != 0 || *end != '\0' || colon[1] < '0' ||
		    colon[1] > '9' || port == 0 || port > 65535)
			return -1;
	}
	sin->sin_port = htons((unsigned short)port);
	return 0;
}

struct dns *
dns_open(const char *server, unsigned timeout, unsigned tries,
    struct str *err)
{
	struct sockaddr_in sin;
	struct dns *d;

	if (server != NULL && *server != '\0' &&
	    dns_server_addr(server, &sin) < 0) {
		str_appendf(err, "dns server '%s': an IPv4 address and "
		    "optional port expected", server);
		return NULL;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->buf = malloc(DNS_ANSWER_MAX)) == NULL) {
		free(d);
		str_appendf(err, "out of memory");
		return NULL;
	}
	if (res_ninit(&d->res) < 0) {
		str_appendf(err, "res_ninit failed");
		res_nclose(&d->res);
		free(d->buf);
		free(d);
		return NULL;
	}
	/* Names are fully qualified: no search list, no default domain. */
	d->res.options &= ~(unsigned long)(RES_DNSRCH | RES_DEFNAMES);
	if (timeout > 0)
		d->res.retrans = (int)timeout;
	if (tries > 0)
		d->res.retry = (int)tries;
	if (server != NULL && *server != '\0') {
		/* The documented way to choose the servers of a state. */
		d->res.nsaddr_list[0] = sin;
		d->res.nscount = 1;
		d->custom = 1;
	}
	return d;
}

void
dns_close(struct dns **dp)
{
	struct dns *d = *dp;

	if (d == NULL)
		return;
	res_nclose(&d->res);
	free(d->buf);
	free(d);
	*dp = NULL;
}

/* Lowercase a host name in place. */
static void
dns_lower(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/* Open msg for parsing; -1 with a message when it is malformed. */
static int
dns_init_msg(const unsigned char *msg, size_t len, ns_msg *h,
    struct str *err)
{
	if (len > DNS_ANSWER_MAX || ns_initparse(msg, (int)len, h) < 0) {
		str_appendf(err, "malformed DNS message");
		return -1;
	}
	return 0;
}

/* Decode the MX record rr: its preference and its target into name
 * (NUL-terminated, n bytes); -1 when malformed. */
static int
dns_mx_rdata(ns_msg *h, const ns_rr *rr, unsigned *pref_r,
    char *name, size_t n)
{
	const unsigned char *rd = ns_rr_rdata(*rr);
	size_t rdlen = ns_rr_rdlen(*rr);
	int c;

	if (rdlen < 3)
		return -1;
	*pref_r = (unsigned)rd[0] << 8 | rd[1];
	c = dn_expand(ns_msg_base(*h), ns_msg_end(*h), rd + 2, name, (int)n);
	if (c < 0 || (size_t)c != rdlen - 2)
		return -1;
	return 0;
}

/* Append one MX record to mx (at most DNS_MX_MAX in all). */
static int
dns_mx_keep(struct dns_mx *mx, unsigned pref, const char *name)
{
	struct dns_mx_host *v;

	if (mx->n >= DNS_MX_MAX)
		return 0;
	if ((v = realloc(mx->v, (mx->n + 1) * sizeof(*v))) == NULL)
		return -1;
	mx->v = v;
	if ((v[mx->n].name = strdup(name)) == NULL)
		return -1;
	dns_lower(v[mx->n].name);
	v[mx->n].pref = pref;
	mx->n++;
	return 0;
}

/* Walk the answer section: keep plausible MX targets, count roots.
 * Returns the MX records seen or -1. */
static int
dns_mx_walk(ns_msg *h, struct dns_mx *mx, int *roots_r, struct str *err)
{
	char name[NS_MAXDNAME];
	unsigned pref;
	int i, count = ns_msg_count(*h, ns_s_an), seen = 0;
	ns_rr rr;

	for (i = 0; i < count; i++) {
		if (ns_parserr(h, ns_s_an, i, &rr) < 0) {
			str_appendf(err, "malformed DNS answer record");
			return -1;
		}
		if (ns_rr_type(rr) != ns_t_mx || ns_rr_class(rr) != ns_c_in)
			continue;
		if (dns_mx_rdata(h, &rr, &pref, name, sizeof(name)) < 0) {
			str_appendf(err, "malformed MX record");
			return -1;
		}
		seen++;
		if (name[0] == '\0')
			(*roots_r)++;
		else if (dns_valid_name(name) &&
		    dns_mx_keep(mx, pref, name) < 0) {
			str_appendf(err, "out of memory");
			return -1;
		}
	}
	return seen;
}

int
dns_parse_mx(const unsigned char *msg, size_t len, struct dns_mx *mx,
    struct str *err)
{
	size_t n0 = mx->n;
	int roots = 0, seen;
	ns_msg h;

	if (dns_init_msg(msg, len, &h, err) < 0)
		return -1;
	if ((seen = dns_mx_walk(&h, mx, &roots, err)) < 0) {
		while (mx->n > n0)
			free(mx->v[--mx->n].name);
		return -1;
	}
	/* RFC 7505: "." as the only exchanger means no mail at all. */
	if (seen == 1 && roots == 1)
		mx->null_mx = 1;
	return seen;
}

int
dns_parse_addrs(const unsigned char *msg, size_t len, int family,
    struct dns_addrs *r, struct str *err)
{
	int i, count, seen = 0;
	unsigned type = family == AF_INET6 ? ns_t_aaaa : ns_t_a;
	size_t alen = family == AF_INET6 ? 16 : 4, n0 = r->n;
	ns_msg h;
	ns_rr rr;

	if (dns_init_msg(msg, len, &h, err) < 0)
		return -1;
	count = ns_msg_count(h, ns_s_an);
	for (i = 0; i < count; i++) {
		if (ns_parserr(&h, ns_s_an, i, &rr) < 0 ||
		    (ns_rr_type(rr) == type && ns_rr_rdlen(rr) != alen)) {
			str_appendf(err, "malformed DNS answer record");
			r->n = n0;
			return -1;
		}
		if (ns_rr_type(rr) != type || ns_rr_class(rr) != ns_c_in)
			continue;
		seen++;
		if (r->n >= DNS_ADDR_MAX)
			continue;
		memset(&r->v[r->n], 0, sizeof(r->v[0]));
		r->v[r->n].family = family;
		memcpy(r->v[r->n].a, ns_rr_rdata(rr), alen);
		r->n++;
	}
	return seen;
}

static int
dns_pref_cmp(const void *a, const void *b)
{
	const struct dns_mx_host *x = a, *y = b;

	return x->pref < y->pref ? -1 : x->pref > y->pref;
}

void
dns_mx_sort(struct dns_mx *mx)
{
	struct dns_mx_host t;
	size_t i, j, k;

	if (mx->n < 2)
		return;
	qsort(mx->v, mx->n, sizeof(mx->v[0]), dns_pref_cmp);
	for (i = 0; i < mx->n; i = j) {
		for (j = i + 1; j < mx->n && mx->v[j].pref == mx->v[i].pref; j++)
			;
		/* Fisher-Yates over v[i..j). */
		for (k = j - 1; k > i; k--) {
			size_t r = i + arc4random_uniform((uint32_t)(k - i + 1));

			t = mx->v[k];
			mx->v[k] = mx->v[r];
			mx->v[r] = t;
		}
	}
}

int
dns_mx_cut_self(struct dns_mx *mx, const char *self)
{
	size_t i, keep = 0;
	unsigned best = 0;
	int found = 0;

	for (i = 0; i < mx->n; i++)
		if (strcasecmp(mx->v[i].name, self) == 0 &&
		    (!found || mx->v[i].pref < best)) {
			best = mx->v[i].pref;
			found = 1;
		}
	if (!found)
		return 0;
	for (i = 0; i < mx->n; i++) {
		if (mx->v[i].pref >= best)
			free(mx->v[i].name);
		else
			mx->v[keep++] = mx->v[i];
	}
	mx->n = keep;
	return 1;
}

void
dns_mx_free(struct dns_mx *mx)
{
	size_t i;

	for (i = 0; i < mx->n; i++)
		free(mx->v[i].name);
	free(mx->v);
	mx->v = NULL;
	mx->n = 0;
	mx->null_mx = 0;
}

/* One query of name/type into d->buf.  Returns 0 with the answer's
 * length in len_r, DNS_NODATA, DNS_NXDOMAIN, or -1 with a message. */
static int
dns_query(struct dns *d, const char *name, int type, size_t *len_r,
    struct str *err)
{
	int n;

	n = res_nquery(&d->res, name, ns_c_in, type, d->buf, DNS_ANSWER_MAX);
	if (n >= 0) {
		*len_r = n > DNS_ANSWER_MAX ? DNS_ANSWER_MAX : (size_t)n;
		return 0;
	}
	switch (d->res.res_h_errno) {
	case HOST_NOT_FOUND:
		return DNS_NXDOMAIN;
	case NO_DATA:
		return DNS_NODATA;
	case TRY_AGAIN:
		str_appendf(err, "%s: temporary DNS failure", name);
		return -1;
	default:
		str_appendf(err, "%s: DNS server failure", name);
		return -1;
	}
}

int
dns_mx(struct dns *d, const char *domain, struct dns_mx *mx_r,
    struct str *err)
{
	size_t len;
	int rc;

	dns_mx_free(mx_r);
	if (!dns_valid_name(domain)) {
		str_appendf(err, "invalid domain name");
		return DNS_NXDOMAIN;
	}
	if ((rc = dns_query(d, domain, ns_t_mx, &len, err)) != 0)
		return rc;
	if (dns_parse_mx(d->buf, len, mx_r, err) < 0)
		return -1;
	if (mx_r->n == 0 && !mx_r->null_mx)
		return DNS_NODATA;
	dns_mx_sort(mx_r);
	return 0;
}

/* Addresses from getaddrinfo (the system's view: /etc/hosts, nsswitch). */
static int
dns_addrs_system(const char *host, struct dns_addrs *r, struct str *err)
{
	struct addrinfo hints, *res = NULL, *ai;
	int e, fam;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	e = getaddrinfo(host, NULL, &hints, &res);
	if (e == EAI_NONAME)
		return DNS_NXDOMAIN;
	if (e == EAI_NODATA || e == EAI_ADDRFAMILY)
		return DNS_NODATA;
	if (e != 0) {
		str_appendf(err, "%s: %s", host, gai_strerror(e));
		return -1;
	}
	/* A records first, then AAAA, as dns_addrs from DNS does. */
	for (fam = 0; fam < 2; fam++)
		for (ai = res; ai != NULL && r->n < DNS_ADDR_MAX; ai = ai->ai_next) {
			struct dns_addr *a = &r->v[r->n];

			memset(a, 0, sizeof(*a));
			if (fam == 0 && ai->ai_family == AF_INET) {
				a->family = AF_INET;
				memcpy(a->a, &((struct sockaddr_in *)
				    (void *)ai->ai_addr)->sin_addr, 4);
				r->n++;
			} else if (fam == 1 && ai->ai_family == AF_INET6) {
				a->family = AF_INET6;
				memcpy(a->a, &((struct sockaddr_in6 *)
				    (void *)ai->ai_addr)->sin6_addr, 16);
				r->n++;
			}
		}
	freeaddrinfo(res);
	return r->n > 0 ? 0 : DNS_NODATA;
}

int
dns_addrs(struct dns *d, const char *host, struct dns_addrs *addrs_r,
    struct str *err)
{
	static const int fams[2] = { AF_INET, AF_INET6 };
	int i, rc, nx = 0, temp = 0;
	size_t len;

	addrs_r->n = 0;
	if (dns_addr_parse(host, &addrs_r->v[0])) {
		addrs_r->n = 1;
		return 0;
	}
	if (!dns_valid_name(host)) {
		str_appendf(err, "invalid host name");
		return DNS_NXDOMAIN;
	}
	if (!d->custom)
		return dns_addrs_system(host, addrs_r, err);
	for (i = 0; i < 2; i++) {
		rc = dns_query(d, host, fams[i] == AF_INET ? ns_t_a : ns_t_aaaa,
		    &len, err);
		if (rc == DNS_NXDOMAIN)
			nx = 1;
		else if (rc == -1)
			temp = 1;
		else if (rc == 0 &&
		    dns_parse_addrs(d->buf, len, fams[i], addrs_r, err) < 0)
			temp = 1;
	}
	if (addrs_r->n > 0)
		return 0;
	if (temp)
		return -1;
	return nx ? DNS_NXDOMAIN : DNS_NODATA;
}
