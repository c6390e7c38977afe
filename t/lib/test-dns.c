/* SPDX-License-Identifier: ISC */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dns.h"
#include "str.h"

/*
 * Packets are built by hand: a header, one question, answer records whose
 * owner is a pointer to the question name (offset 12).
 */
struct pkt {
	unsigned char b[4096];
	size_t n;
};

static void
pk_u16(struct pkt *p, unsigned v)
{
	p->b[p->n++] = (unsigned char)(v >> 8);
	p->b[p->n++] = (unsigned char)v;
}

static void
pk_u32(struct pkt *p, unsigned long v)
{
	pk_u16(p, (unsigned)(v >> 16) & 0xffff);
	pk_u16(p, (unsigned)v & 0xffff);
}

/* A name in uncompressed wire form ("" is the root). */
static void
pk_name(struct pkt *p, const char *name)
{
	const char *dot;
	size_t l;

	while (*name != '\0') {
		dot = strchr(name, '.');
		l = dot ? (size_t)(dot - name) : strlen(name);
		p->b[p->n++] = (unsigned char)l;
		memcpy(p->b + p->n, name, l);
		p->n += l;
		name += l + (dot != NULL);
	}
	p->b[p->n++] = 0;
}

/* Header (id 0x1234, a response) and the question qname/qtype. */
static void
pk_start(struct pkt *p, const char *qname, unsigned qtype, unsigned rcode,
    unsigned ancount)
{
	p->n = 0;
	pk_u16(p, 0x1234);
	pk_u16(p, 0x8180 | rcode);
	pk_u16(p, 1);
	pk_u16(p, ancount);
	pk_u16(p, 0);
	pk_u16(p, 0);
	pk_name(p, qname);
	pk_u16(p, qtype);
	pk_u16(p, 1);
}

/* The fixed part of an answer record owned by the question name. */
static void
pk_rr(struct pkt *p, unsigned type, unsigned rdlen)
{
	pk_u16(p, 0xc00c);
	pk_u16(p, type);
	pk_u16(p, 1);
	pk_u32(p, 300);
	pk_u16(p, rdlen);
}

/* An MX record with an uncompressed target. */
static void
pk_mx(struct pkt *p, unsigned pref, const char *target)
{
	size_t len = strlen(target);

	pk_rr(p, 15, (unsigned)(2 + (len ? len + 2 : 1)));
	pk_u16(p, pref);
	pk_name(p, target);
}

static void
pk_a(struct pkt *p, const char *ip)
{
	unsigned char a[16];

	if (strchr(ip, ':')) {
		assert_int_equal(inet_pton(AF_INET6, ip, a), 1);
		pk_rr(p, 28, 16);
		memcpy(p->b + p->n, a, 16);
		p->n += 16;
	} else {
		assert_int_equal(inet_pton(AF_INET, ip, a), 1);
		pk_rr(p, 1, 4);
		memcpy(p->b + p->n, a, 4);
		p->n += 4;
	}
}

static void
test_parse_mx(void **state)
{
	struct dns_mx mx = { NULL, 0, 0 };
	struct str err = STR_INIT;
	struct pkt p;

	pk_start(&p, "example.org", 15, 0, 5);
	pk_mx(&p, 20, "MX2.Example.ORG");
	pk_mx(&p, 10, "mx1.example.org");
	/* A target compressed into the question name. */
	pk_rr(&p, 15, 2 + 6);
	pk_u16(&p, 30);
	memcpy(p.b + p.n, "\003mx3\xc0\x0c", 6);
	p.n += 6;
	pk_rr(&p, 5, 4);		/* a CNAME-typed record: skipped */
	memcpy(p.b + p.n, "\002xx\0", 4);
	p.n += 4;
	pk_mx(&p, 5, "bad host.example.org");	/* not a host name */
	assert_int_equal(dns_parse_mx(p.b, p.n, &mx, &err), 4);
	assert_int_equal(mx.n, 3);
	assert_false(mx.null_mx);
	assert_string_equal(mx.v[0].name, "mx2.example.org");
	assert_int_equal(mx.v[0].pref, 20);
	assert_string_equal(mx.v[1].name, "mx1.example.org");
	assert_string_equal(mx.v[2].name, "mx3.example.org");
	assert_int_equal(mx.v[2].pref, 30);
	dns_mx_sort(&mx);
	assert_string_equal(mx.v[0].name, "mx1.example.org");
	assert_string_equal(mx.v[1].name, "mx2.example.org");
	assert_string_equal(mx.v[2].name, "mx3.example.org");
	dns_mx_free(&mx);
	assert_null(mx.v);
	assert_int_equal(mx.n, 0);
	str_free(&err);
}

static void
test_null_mx(void **state)
{
	struct dns_mx mx = { NULL, 0, 0 };
	struct str err = STR_INIT;
	struct pkt p;

	pk_start(&p, "example.org", 15, 0, 1);
	pk_mx(&p, 0, "");
	assert_int_equal(dns_parse_mx(p.b, p.n, &mx, &err), 1);
	assert_true(mx.null_mx);
	assert_int_equal(mx.n, 0);
	dns_mx_free(&mx);

	/* "." beside real exchangers is ignored, not a null MX. */
	pk_start(&p, "example.org", 15, 0, 2);
	pk_mx(&p, 0, "");
	pk_mx(&p, 10, "mx.example.org");
	assert_int_equal(dns_parse_mx(p.b, p.n, &mx, &err), 2);
	assert_false(mx.null_mx);
	assert_int_equal(mx.n, 1);
	dns_mx_free(&mx);

	/* No answer at all. */
	pk_start(&p, "example.org", 15, 0, 0);
	assert_int_equal(dns_parse_mx(p.b, p.n, &mx, &err), 0);
	assert_int_equal(mx.n, 0);
	assert_false(mx.null_mx);
	str_free(&err);
}

static void
test_parse_mx_cap(void **state)
{
	struct dns_mx mx = { NULL, 0, 0 };
	struct str err = STR_INIT;
	static struct pkt p;
	char name[32];
	int i;

	pk_start(&p, "e.org", 15, 0, DNS_MX_MAX + 10);
	for (i = 0; i < DNS_MX_MAX + 10; i++) {
		snprintf(name, sizeof(name), "m%d.e.org", i);
		pk_mx(&p, (unsigned)i, name);
	}
	assert_true(p.n < sizeof(p.b));
	assert_int_equal(dns_parse_mx(p.b, p.n, &mx, &err), DNS_MX_MAX + 10);
	assert_int_equal(mx.n, DNS_MX_MAX);
	assert_string_equal(mx.v[DNS_MX_MAX - 1].name, "m63.e.org");
	dns_mx_free(&mx);
	str_free(&err);
}

/* Malformed messages fail and leave the list as it was. */
static void
test_parse_mx_malformed(void **state)
{
	struct dns_mx mx = { NULL, 0, 0 };
	struct str err = STR_INIT;
	struct pkt p, good;
	size_t cut;
	int r;

	pk_start(&good, "example.org", 15, 0, 2);
	pk_mx(&good, 10, "mx1.example.org");
	pk_mx(&good, 20, "mx2.example.org");
	/* Every strict prefix is malformed (counts promise more). */
	for (cut = 0; cut < good.n; cut++) {
		r = dns_parse_mx(good.b, cut, &mx, &err);
		assert_int_equal(r, -1);
		assert_int_equal(mx.n, 0);
	}
	assert_true(strstr(err.s, "malformed") != NULL);

	/* rdlength longer than the target. */
	pk_start(&p, "example.org", 15, 0, 1);
	pk_rr(&p, 15, 2 + 5);
	pk_u16(&p, 1);
	memcpy(p.b + p.n, "\001a\000xx", 5);
	p.n += 5;
	assert_int_equal(dns_parse_mx(p.b, p.n, &mx, &err), -1);

	/* rdlength too short for a preference. */
	pk_start(&p, "example.org", 15, 0, 1);
	pk_rr(&p, 15, 1);
	p.b[p.n++] = 0;
	assert_int_equal(dns_parse_mx(p.b, p.n, &mx, &err), -1);

	/* A compression pointer to itself. */
	pk_start(&p, "example.org", 15, 0, 1);
	pk_rr(&p, 15, 4);
	pk_u16(&p, 1);
	pk_u16(&p, 0xc000 | (unsigned)p.n);
	assert_int_equal(dns_parse_mx(p.b, p.n, &mx, &err), -1);

	/* A pointer past the end. */
	pk_start(&p, "example.org", 15, 0, 1);
	pk_rr(&p, 15, 4);
	pk_u16(&p, 1);
	pk_u16(&p, 0xcfff);
	assert_int_equal(dns_parse_mx(p.b, p.n, &mx, &err), -1);

	/* Good records first, then a bad one: nothing is kept. */
	p = good;
	p.b[7] = 3;
	pk_rr(&p, 15, 1);
	p.b[p.n++] = 0;
	assert_int_equal(dns_parse_mx(p.b, p.n, &mx, &err), -1);
	assert_int_equal(mx.n, 0);
	dns_mx_free(&mx);
	str_free(&err);
}

static void
test_parse_addrs(void **state)
{
	struct dns_addrs r;
	struct str err = STR_INIT;
	char buf[DNS_ADDRSTR_MAX];
	struct pkt p;
	int i;

	r.n = 0;
	pk_start(&p, "h.example.org", 1, 0, 3);
	pk_a(&p, "192.0.2.1");
	pk_a(&p, "2001:db8::1");	/* AAAA in an A answer: skipped */
	pk_a(&p, "192.0.2.2");
	assert_int_equal(dns_parse_addrs(p.b, p.n, AF_INET, &r, &err), 2);
	assert_int_equal(r.n, 2);
	dns_addr_format(&r.v[0], buf, sizeof(buf));
	assert_string_equal(buf, "192.0.2.1");
	dns_addr_format(&r.v[1], buf, sizeof(buf));
	assert_string_equal(buf, "192.0.2.2");
	assert_int_equal(dns_parse_addrs(p.b, p.n, AF_INET6, &r, &err), 1);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.v[2].family, AF_INET6);
	dns_addr_format(&r.v[2], buf, sizeof(buf));
	assert_string_equal(buf, "2001:db8::1");

	/* An A record of 5 bytes. */
	pk_start(&p, "h.example.org", 1, 0, 1);
	pk_rr(&p, 1, 5);
	memcpy(p.b + p.n, "\1\2\3\4\5", 5);
	p.n += 5;
	assert_int_equal(dns_parse_addrs(p.b, p.n, AF_INET, &r, &err), -1);
	assert_int_equal(r.n, 3);

	/* At most DNS_ADDR_MAX are kept. */
	r.n = 0;
	pk_start(&p, "h.example.org", 1, 0, DNS_ADDR_MAX + 4);
	for (i = 0; i < DNS_ADDR_MAX + 4; i++)
		pk_a(&p, "192.0.2.9");
	assert_int_equal(dns_parse_addrs(p.b, p.n, AF_INET, &r, &err),
	    DNS_ADDR_MAX + 4);
	assert_int_equal(r.n, DNS_ADDR_MAX);
	str_free(&err);
}

static void
test_sort_shuffle(void **state)
{
	struct dns_mx mx;
	int seen_ab = 0, seen_ba = 0, i;

	for (i = 0; i < 200 && !(seen_ab && seen_ba); i++) {
		memset(&mx, 0, sizeof(mx));
		mx.v = calloc(4, sizeof(*mx.v));
		assert_non_null(mx.v);
		mx.v[0].name = strdup("c");
		mx.v[0].pref = 20;
		mx.v[1].name = strdup("a");
		mx.v[1].pref = 10;
		mx.v[2].name = strdup("b");
		mx.v[2].pref = 10;
		mx.v[3].name = strdup("z");
		mx.v[3].pref = 0;
		mx.n = 4;
		dns_mx_sort(&mx);
		assert_string_equal(mx.v[0].name, "z");
		assert_string_equal(mx.v[3].name, "c");
		if (strcmp(mx.v[1].name, "a") == 0)
			seen_ab = 1;
		else
			seen_ba = 1;
		dns_mx_free(&mx);
	}
	assert_true(seen_ab && seen_ba);
}

static void
test_cut_self(void **state)
{
	static const unsigned prefs[] = { 10, 20, 20, 30 };
	static const char *const names[] = { "a.org", "me.org", "b.org",
	    "c.org" };
	struct dns_mx mx;
	size_t i;

	memset(&mx, 0, sizeof(mx));
	mx.v = calloc(4, sizeof(*mx.v));
	assert_non_null(mx.v);
	for (i = 0; i < 4; i++) {
		mx.v[i].name = strdup(names[i]);
		mx.v[i].pref = prefs[i];
	}
	mx.n = 4;
	assert_int_equal(dns_mx_cut_self(&mx, "other.org"), 0);
	assert_int_equal(mx.n, 4);
	assert_int_equal(dns_mx_cut_self(&mx, "ME.org"), 1);
	assert_int_equal(mx.n, 1);
	assert_string_equal(mx.v[0].name, "a.org");
	assert_int_equal(dns_mx_cut_self(&mx, "a.org"), 1);
	assert_int_equal(mx.n, 0);
	dns_mx_free(&mx);
}

static void
test_names_and_literals(void **state)
{
	static const struct { const char *s; int ok; } rows[] = {
		{ "example.org", 1 }, { "a", 1 }, { "_srv.x-y.org", 1 },
		{ "", 0 }, { ".org", 0 }, { "a..org", 0 }, { "a.org.", 0 },
		{ "a b.org", 0 }, { "a\\.org", 0 },
		{ "0123456789012345678901234567890123456789012345678901234567890123"
		  ".org", 0 },
	};
	struct dns_addr a;
	char buf[DNS_ADDRSTR_MAX];
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		assert_int_equal(dns_valid_name(rows[i].s), rows[i].ok);
	assert_int_equal(dns_addr_parse("127.0.0.1", &a), 1);
	assert_int_equal(a.family, AF_INET);
	assert_int_equal(dns_addr_parse("::1", &a), 1);
	assert_int_equal(a.family, AF_INET6);
	dns_addr_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, "::1");
	assert_int_equal(dns_addr_parse("example.org", &a), 0);
	assert_int_equal(dns_addr_parse("1.2.3", &a), 0);
}

static void
test_open_errors(void **state)
{
	static const char *const bad[] = { "x", "1.2.3.4:", "1.2.3.4:0",
	    "1.2.3.4:65536", "::1", "1.2.3.4:-5", ":53", "1.2.3.4:5x" };
	struct str err = STR_INIT;
	struct dns *d;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		str_clear(&err);
		assert_null(dns_open(bad[i], 1, 1, &err));
		assert_true(err.len > 0);
	}
	d = dns_open("127.0.0.1:5353", 1, 1, &err);
	assert_non_null(d);
	dns_close(&d);
	assert_null(d);
	dns_close(&d);
	d = dns_open(NULL, 0, 0, &err);
	assert_non_null(d);
	dns_close(&d);
	str_free(&err);
}

/*
 * A name server in a child process on a loopback UDP port, answering from
 * a fixed zone: the resolver is pointed at it through dns_open(server).
 */
struct srv {
	pid_t pid;
	char addr[32];
};

/* The query's name in text form; its end in *end_r. */
static int
srv_qname(const unsigned char *q, size_t n, char *name, size_t max,
    size_t *end_r)
{
	size_t pos = 12, o = 0, l;

	while (pos < n && q[pos] != 0) {
		l = q[pos++];
		if (l > 63 || pos + l > n || o + l + 2 > max)
			return -1;
		if (o > 0)
			name[o++] = '.';
		memcpy(name + o, q + pos, l);
		o += l;
		pos += l;
	}
	if (pos + 5 > n)
		return -1;
	name[o] = '\0';
	*end_r = pos + 5;
	return 0;
}

/* Build the answer to one query. */
static void
srv_answer(const unsigned char *q, size_t n, struct pkt *p)
{
	char name[256];
	size_t end;
	unsigned qtype, rcode = 0, an = 0;
	size_t anpos;

	p->n = 0;
	if (n < 12 || srv_qname(q, n, name, sizeof(name), &end) < 0)
		return;
	qtype = (unsigned)q[end - 4] << 8 | q[end - 3];
	memcpy(p->b, q, end);
	p->n = end;
	anpos = p->n;
	if (strcmp(name, "mx.test") == 0 && qtype == 15) {
		pk_mx(p, 20, "c.mx.test");
		pk_mx(p, 10, "a.mx.test");
		an = 2;
	} else if (strcmp(name, "null.test") == 0 && qtype == 15) {
		pk_mx(p, 0, "");
		an = 1;
	} else if (strcmp(name, "a.mx.test") == 0 && qtype == 1) {
		pk_a(p, "127.0.0.2");
		an = 1;
	} else if (strcmp(name, "a.mx.test") == 0 && qtype == 28) {
		pk_a(p, "::1");
		an = 1;
	} else if (strcmp(name, "v4.test") == 0 && qtype == 1) {
		pk_a(p, "127.0.0.3");
		an = 1;
	} else if (strcmp(name, "fail.test") == 0) {
		rcode = 2;
	} else if (strncmp(name, "nx.", 3) == 0) {
		rcode = 3;
	}
	(void)anpos;
	p->b[2] = 0x84 | (q[2] & 1);	/* QR, AA, RD copied */
	p->b[3] = (unsigned char)(0x80 | rcode);
	p->b[6] = 0;
	p->b[7] = (unsigned char)an;
	memset(p->b + 8, 0, 4);
}

static void
srv_loop(int fd)
{
	unsigned char q[1500];
	struct sockaddr_storage from;
	socklen_t flen;
	struct pkt p;
	ssize_t n;

	for (;;) {
		flen = sizeof(from);
		n = recvfrom(fd, q, sizeof(q), 0, (struct sockaddr *)&from,
		    &flen);
		if (n < 0)
			_exit(1);
		srv_answer(q, (size_t)n, &p);
		if (p.n > 0)
			sendto(fd, p.b, p.n, 0, (struct sockaddr *)&from, flen);
	}
}

static int
srv_setup(void **state)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	struct srv *s = calloc(1, sizeof(*s));
	int fd;

	assert_non_null(s);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(s->addr, sizeof(s->addr), "127.0.0.1:%u",
	    (unsigned)ntohs(sin.sin_port));
	s->pid = fork();
	assert_true(s->pid >= 0);
	if (s->pid == 0)
		srv_loop(fd);
	close(fd);
	*state = s;
	return 0;
}

static int
srv_teardown(void **state)
{
	struct srv *s = *state;

	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	free(s);
	return 0;
}

static void
test_resolver(void **state)
{
	struct srv *s = *state;
	struct dns_mx mx = { NULL, 0, 0 };
	struct dns_addrs r;
	struct str err = STR_INIT;
	struct dns *d = dns_open(s->addr, 1, 2, &err);
	char buf[DNS_ADDRSTR_MAX];

	assert_non_null(d);
	assert_int_equal(dns_mx(d, "mx.test", &mx, &err), 0);
	assert_int_equal(mx.n, 2);
	assert_string_equal(mx.v[0].name, "a.mx.test");
	assert_string_equal(mx.v[1].name, "c.mx.test");
	assert_int_equal(dns_mx(d, "null.test", &mx, &err), 0);
	assert_true(mx.null_mx);
	assert_int_equal(mx.n, 0);
	assert_int_equal(dns_mx(d, "v4.test", &mx, &err), DNS_NODATA);
	assert_int_equal(dns_mx(d, "nx.test", &mx, &err), DNS_NXDOMAIN);
	str_clear(&err);
	assert_int_equal(dns_mx(d, "fail.test", &mx, &err), -1);
	assert_true(err.len > 0);
	assert_int_equal(dns_mx(d, "bad..name", &mx, &err), DNS_NXDOMAIN);

	assert_int_equal(dns_addrs(d, "a.mx.test", &r, &err), 0);
	assert_int_equal(r.n, 2);
	dns_addr_format(&r.v[0], buf, sizeof(buf));
	assert_string_equal(buf, "127.0.0.2");
	dns_addr_format(&r.v[1], buf, sizeof(buf));
	assert_string_equal(buf, "::1");
	assert_int_equal(dns_addrs(d, "v4.test", &r, &err), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(dns_addrs(d, "mx.test", &r, &err), DNS_NODATA);
	assert_int_equal(dns_addrs(d, "nx.mx.test", &r, &err), DNS_NXDOMAIN);
	assert_int_equal(dns_addrs(d, "fail.test", &r, &err), -1);
	assert_int_equal(dns_addrs(d, "192.0.2.7", &r, &err), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.v[0].family, AF_INET);
	dns_mx_free(&mx);
	dns_close(&d);
	str_free(&err);
}

/* Nobody answers: a temporary failure within timeout * tries. */
static void
test_resolver_silent(void **state)
{
	struct dns_mx mx = { NULL, 0, 0 };
	struct str err = STR_INIT;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	char addr[32];
	struct dns *d;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	/* A bound socket that never reads: queries time out. */
	assert_true(fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u",
	    (unsigned)ntohs(sin.sin_port));
	d = dns_open(addr, 1, 1, &err);
	assert_non_null(d);
	assert_int_equal(dns_mx(d, "mx.test", &mx, &err), -1);
	dns_close(&d);
	close(fd);
	str_free(&err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_mx),
		cmocka_unit_test(test_null_mx),
		cmocka_unit_test(test_parse_mx_cap),
		cmocka_unit_test(test_parse_mx_malformed),
		cmocka_unit_test(test_parse_addrs),
		cmocka_unit_test(test_sort_shuffle),
		cmocka_unit_test(test_cut_self),
		cmocka_unit_test(test_names_and_literals),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test_setup_teardown(test_resolver, srv_setup,
		    srv_teardown),
		cmocka_unit_test(test_resolver_silent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
