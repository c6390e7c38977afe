/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for the queue's envelope text (qenv_parse) under each
 * set of flags, and for xtext.  Invariants: success formats to a text that
 * parses again to the same text; failure leaves a message and errno
 * EINVAL or E2BIG; decoding valid xtext and encoding it back is stable;
 * a spawner request that parses formats back to the same line.  Also the
 * Delivered-To scan of lib/alias, which queued runs on queued messages:
 * every address it keeps is lower-case and found again.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alias.h"
#include "qenv.h"
#include "str.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A stored envelope written as a V2 queue file parses back from it, and
 * its first line names the text's length. */
static void
fuzz_file(const struct qenv *e)
{
	struct str err = STR_INIT, out = STR_INIT;
	unsigned long long off;
	struct qenv e2;

	if (qenv_format_file(e, &out) < 0)
		abort();
	if (qenv_file_head(out.s, out.len, &off) != 2 || off != out.len)
		abort();
	if (qenv_parse(&e2, out.s, out.len, QENV_STORED, 50, &err) < 0 ||
	    e2.version != 2 || e2.msg_offset != out.len ||
	    e2.nrcpt != e->nrcpt)
		abort();
	qenv_free(&e2);
	str_free(&err);
	str_free(&out);
}

static void
fuzz_env(const char *text, size_t len, unsigned flags)
{
	struct str err = STR_INIT, out = STR_INIT, out2 = STR_INIT;
	struct qenv e, e2;

	if (qenv_parse(&e, text, len, flags, 50, &err) == 0) {
		if (qenv_format(&e, &out) < 0)
			abort();
		if (qenv_parse(&e2, out.s, out.len, 0, 50, &err) < 0)
			abort();
		if (qenv_format(&e2, &out2) < 0 || out.len != out2.len ||
		    memcmp(out.s, out2.s, out.len) != 0)
			abort();
		qenv_free(&e2);
		if (flags & QENV_STORED)
			fuzz_file(&e);
	} else if (err.len == 0 || (errno != EINVAL && errno != E2BIG &&
	    errno != ENOMEM)) {
		abort();
	}
	qenv_free(&e);
	str_free(&err);
	str_free(&out);
	str_free(&out2);
}

/* A request that parses formats back to the same line. */
static void
fuzz_req(const char *text, size_t len)
{
	struct str out = STR_INIT;
	struct qenv_req rq;

	if (qenv_req_parse(text, len, &rq) == 0) {
		if (qenv_req_format(&rq, &out) < 0 || out.len != len + 1 ||
		    memcmp(out.s, text, len) != 0)
			abort();
	} else if (errno != EINVAL) {
		abort();
	}
	str_free(&out);
}

static void
fuzz_xtext(const char *text, size_t len)
{
	struct str s = STR_INIT, dec = STR_INIT, enc = STR_INIT;
	unsigned bits;

	if (str_append(&s, text, len) < 0 || memchr(text, '\0', len) != NULL)
		goto out;
	if (qenv_xtext_valid(s.s, s.len, 1)) {
		if (qenv_xtext_decode(s.s, &dec) < 0)
			abort();
		if (memchr(dec.s ? dec.s : "", '\0', dec.len) == NULL) {
			if (qenv_xtext_encode(str_cstr(&dec), &enc) < 0 ||
			    !qenv_xtext_valid(str_cstr(&enc), enc.len, 0))
				abort();
		}
	}
	(void)qenv_notify_parse(s.s, &bits);
	fuzz_req(text, len);
	(void)qenv_id_valid(s.s);
	{
		unsigned long long off;

		if (qenv_file_head(text, len, &off) == 2 &&
		    (off > QENV_FILE_ENV_MAX || off < 5))
			abort();
	}
out:
	str_free(&s);
	str_free(&dec);
	str_free(&enc);
}

static void
fuzz_seen(const char *text, size_t len)
{
	struct alias_seen s = { 0 };
	size_t i;

	if (alias_seen_scan(&s, text, len) < 0)
		abort();
	if (s.n > ALIAS_SEEN_MAX || s.hops < s.n)
		abort();
	for (i = 0; i < s.n; i++)
		if (!alias_seen_has(&s, s.addr[i]))
			abort();
	alias_seen_free(&s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 20)
		return 0;
	fuzz_env((const char *)data, size, 0);
	fuzz_env((const char *)data, size, QENV_INPUT);
	fuzz_env((const char *)data, size, QENV_STORED);
	fuzz_xtext((const char *)data, size);
	fuzz_seen((const char *)data, size);
	return 0;
}
