/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for the DNS answer parsers of lib/dns: the input is a
 * DNS message.  Every kept MX target must be a valid lowercase host name,
 * and the lists stay within their maxima.
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dns.h"
#include "str.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_mx mx = { NULL, 0, 0 };
	struct dns_addrs r;
	struct str err = STR_INIT;
	const char *p;
	size_t i;
	int n;

	n = dns_parse_mx(data, size, &mx, &err);
	if (n < 0 && mx.n != 0)
		abort();
	if (mx.n > DNS_MX_MAX || (n >= 0 && mx.n > (size_t)n))
		abort();
	for (i = 0; i < mx.n; i++) {
		if (!dns_valid_name(mx.v[i].name) || mx.v[i].pref > 65535)
			abort();
		for (p = mx.v[i].name; *p != '\0'; p++)
			if (*p >= 'A' && *p <= 'Z')
				abort();
	}
	if (mx.null_mx && mx.n != 0)
		abort();
	dns_mx_sort(&mx);
	for (i = 1; i < mx.n; i++)
		if (mx.v[i - 1].pref > mx.v[i].pref)
			abort();
	dns_mx_free(&mx);
	r.n = 0;
	n = dns_parse_addrs(data, size, AF_INET, &r, &err);
	if (r.n > DNS_ADDR_MAX || (n < 0 && r.n != 0))
		abort();
	n = dns_parse_addrs(data, size, AF_INET6, &r, &err);
	if (r.n > DNS_ADDR_MAX)
		abort();
	str_free(&err);
	return 0;
}
