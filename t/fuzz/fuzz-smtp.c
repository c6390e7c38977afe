/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for lib/smtp: command lines, MAIL/RCPT arguments,
 * paths, parameters and their values, xtext, BDAT arguments and replies.
 * Byte 0 picks the flags; the rest is the input.  Invariants: nothing
 * reads past the input (ASan), a parsed path fits the RFC limits and
 * parses again from its own text, xtext round-trips, a formatted reply
 * parses back to its code.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp.h"
#include "str.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A path that parsed: check it and parse its text again. */
static void
fuzz_path_again(const struct smtp_path *p, int flags)
{
	struct smtp_path q;
	struct str again = STR_INIT, local = STR_INIT;
	size_t used;

	if (p->addr.len + 2 > SMTP_PATH_MAX)
		abort();
	if (p->null || p->postmaster)
		return;
	if (p->local_len >= p->addr.len || p->addr.s[p->local_len] != '@')
		abort();
	if (smtp_path_local(p, &local) < 0 || local.len > p->local_len)
		abort();
	memset(&q, 0, sizeof q);
	str_appendc(&again, '<');
	str_append(&again, p->addr.s, p->addr.len);
	str_appendc(&again, '>');
	if (smtp_path_parse(again.s, again.len, flags, &q, &used) < 0 ||
	    used != again.len || q.addr.len != p->addr.len ||
	    memcmp(q.addr.s, p->addr.s, p->addr.len) != 0 ||
	    q.utf8 != p->utf8 || q.quoted != p->quoted)
		abort();
	smtp_path_free(&q);
	str_free(&again);
	str_free(&local);
}

static void
fuzz_mailrcpt(const char *s, size_t n, int flags)
{
	static const char *const kws[] = { "FROM:", "TO:" };
	struct smtp_path p;
	struct smtp_param par;
	const char *params, *end;
	size_t plen, i;
	unsigned bits;
	unsigned long long num;
	enum smtp_body body;
	enum smtp_ret ret;

	memset(&p, 0, sizeof p);
	for (i = 0; i < 2; i++) {
		if (smtp_mailrcpt_parse(s, n, kws[i], flags, &p, &params,
		    &plen) < 0)
			continue;
		fuzz_path_again(&p, flags);
		end = params + plen;
		while (smtp_param_next(&params, end, flags & 1, &par) == 1) {
			if (par.val == NULL)
				continue;
			smtp_parse_ulong(par.val, par.vallen, &num);
			smtp_body_parse(par.val, par.vallen, &body);
			smtp_ret_parse(par.val, par.vallen, &ret);
			smtp_envid_valid(par.val, par.vallen);
			smtp_orcpt_valid(par.val, par.vallen, flags & 1);
			if (smtp_notify_parse(par.val, par.vallen, &bits) == 0 &&
			    (bits == 0 || ((bits & SMTP_NOTIFY_NEVER) &&
			    bits != SMTP_NOTIFY_NEVER)))
				abort();
		}
	}
	smtp_path_free(&p);
}

static void
fuzz_xtext(const char *s, size_t n)
{
	struct str dec = STR_INIT, enc = STR_INIT, again = STR_INIT;

	if (smtp_xtext_decode(s, n, &dec) == 0) {
		if (!smtp_xtext_valid(s, n))
			abort();
		smtp_xtext_encode(dec.s, dec.len, &enc);
		if (smtp_xtext_decode(enc.s, enc.len, &again) < 0 ||
		    again.len != dec.len ||
		    (dec.len && memcmp(again.s, dec.s, dec.len) != 0))
			abort();
	} else if (smtp_xtext_valid(s, n))
		abort();
	str_free(&dec);
	str_free(&enc);
	str_free(&again);
}

static void
fuzz_reply(const char *s, size_t n, unsigned code)
{
	struct str out = STR_INIT, text = STR_INIT;
	struct smtp_reply r;
	const char *p, *eol;

	str_append(&text, s, n);
	if (smtp_reply_format(&out, (int)code, "5.0.0", text.s) == 0 ||
	    smtp_reply_format(&out, (int)code, NULL, text.s) == 0) {
		for (p = out.s; p < out.s + out.len; p = eol + 2) {
			eol = strstr(p, "\r\n");
			if (eol == NULL || eol - p + 2 > SMTP_REPLY_LINE_MAX ||
			    smtp_reply_parse(p, (size_t)(eol - p), &r) < 0 ||
			    r.code != (int)code)
				abort();
		}
	}
	smtp_reply_parse(s, n, &r);
	str_free(&out);
	str_free(&text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_cmd cmd;
	unsigned long long num;
	const char *s;
	size_t n;
	int flags, last;
	char *copy;

	if (size < 1)
		return 0;
	flags = data[0] & 7;
	n = size - 1;
	/* A copy of exactly n bytes, so that ASan sees any overread. */
	if ((copy = malloc(n ? n : 1)) == NULL)
		return 0;
	memcpy(copy, data + 1, n);
	s = copy;
	if (smtp_cmd_parse(s, n, &cmd) == 0 && cmd.arg + cmd.arglen > s + n)
		abort();
	fuzz_mailrcpt(s, n, flags);
	fuzz_xtext(s, n);
	smtp_bdat_parse(s, n, &num, &last);
	smtp_domain_valid(s, n, flags & 1);
	smtp_literal_valid(s, n);
	smtp_enhanced_valid(s, n);
	fuzz_reply(s, n, 200 + (unsigned)data[0] % 400);
	free(copy);
	return 0;
}
