/* SPDX-License-Identifier: ISC */
#ifndef ZEST_DNS_H
#define ZEST_DNS_H

/*
 * dns: the lookups of the SMTP client (RFC 5321 section 5.1): the MX
 * records of a domain, sorted by preference with equal preferences in
 * random order, null MX (RFC 7505), and the IPv4/IPv6 addresses of a host.
 *
 * Queries go through the thread-safe resolver of libresolv (res_ninit,
 * res_nquery) on a state of our own, so a test can point it at one name
 * server ("127.0.0.1:5353") without touching /etc/resolv.conf.  Answers
 * are taken apart with ns_initparse/ns_parserr and dn_expand, which check
 * the bounds of every record; the parsers are separate functions so that
 * canned packets can be tested and fuzzed.  Names are queried as given
 * (fully qualified): the search list never applies to mail domains.
 */

#include <stddef.h>

#include "str.h"

#define DNS_NAME_MAX 253	/* a host name in text form, without the dot */
#define DNS_MX_MAX 64		/* MX records kept from one answer */
#define DNS_ADDR_MAX 16		/* addresses kept for one host */
#define DNS_ADDRSTR_MAX 46	/* INET6_ADDRSTRLEN */

/* Results of a lookup besides 0 (found) and -1 (temporary failure). */
#define DNS_NODATA 1		/* the name exists, without such records */
#define DNS_NXDOMAIN 2		/* the name does not exist */

struct dns;

/* One mail exchanger. */
struct dns_mx_host {
	char *name;		/* lowercase host name, no trailing dot */
	unsigned pref;
};

/* The MX records of a domain. */
struct dns_mx {
	struct dns_mx_host *v;
	size_t n;
	int null_mx;		/* RFC 7505: the domain accepts no mail */
};

/* One address: family AF_INET (4 bytes used) or AF_INET6 (16). */
struct dns_addr {
	int family;
	unsigned char a[16];
};

struct dns_addrs {
	struct dns_addr v[DNS_ADDR_MAX];
	size_t n;
};

/* A resolver.  server is NULL for the system's name servers, or
 * "IPv4[:port]" to send every query to that one server (tests); timeout is
 * the seconds per try and tries the number of tries (0 for the system's
 * defaults).  NULL with a message in err. */
struct dns *dns_open(const char *server, unsigned timeout, unsigned tries,
    struct str *err);

/* Free a resolver; *dp becomes NULL. */
void dns_close(struct dns **dp);

/* Look up the MX records of domain into mx_r (emptied first), sorted by
 * dns_mx_sort.  Returns 0 (mx_r holds at least one host or null_mx is
 * set), DNS_NODATA (no MX: the domain itself is the exchanger),
 * DNS_NXDOMAIN, or -1 for a temporary failure with a message in err. */
int dns_mx(struct dns *d, const char *domain, struct dns_mx *mx_r,
    struct str *err);

/* The addresses of host (an IPv4 or IPv6 literal is its own address), A
 * records first, then AAAA.  Without a configured server, getaddrinfo()
 * answers (so /etc/hosts applies).  Returns 0 with at least one address,
 * DNS_NODATA, DNS_NXDOMAIN, or -1 with a message in err. */
int dns_addrs(struct dns *d, const char *host, struct dns_addrs *addrs_r,
    struct str *err);

/* Parse a DNS answer message of len bytes: the MX records of its answer
 * section are appended to mx (at most DNS_MX_MAX in all); records whose
 * target is not a plausible host name are skipped; a sole record whose
 * target is the root "." sets null_mx.  Returns the number of MX records
 * seen, or -1 with a message in err for a malformed message (mx is then
 * unchanged). */
int dns_parse_mx(const unsigned char *msg, size_t len, struct dns_mx *mx,
    struct str *err);

/* Parse a DNS answer message: the A (family AF_INET) or AAAA (AF_INET6)
 * records of its answer section are appended to r (at most DNS_ADDR_MAX).
 * Returns the number of such records seen, or -1 with a message in err
 * (r is then unchanged). */
int dns_parse_addrs(const unsigned char *msg, size_t len, int family,
    struct dns_addrs *r, struct str *err);

/* Sort by preference, lowest first, shuffling hosts of equal preference
 * (RFC 5321 section 5.1). */
void dns_mx_sort(struct dns_mx *mx);

/* RFC 5321 section 5.1: when self (our own host name) is one of the
 * exchangers, drop it and every host of equal or higher preference.
 * Returns 1 when self was in the list, else 0. */
int dns_mx_cut_self(struct dns_mx *mx, const char *self);

/* Free the hosts of mx and empty it. */
void dns_mx_free(struct dns_mx *mx);

/* A plausible host name: 1..DNS_NAME_MAX bytes of letters, digits, '-',
 * '_' and '.', no empty label.  Returns 1 or 0. */
int dns_valid_name(const char *name);

/* Format an address into buf (at least DNS_ADDRSTR_MAX bytes). */
void dns_addr_format(const struct dns_addr *a, char *buf, size_t n);

/* Parse an IPv4 or IPv6 literal.  Returns 1 and fills a, or 0. */
int dns_addr_parse(const char *s, struct dns_addr *a);

#endif
