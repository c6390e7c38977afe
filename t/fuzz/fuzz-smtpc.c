/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for the SMTP client (lib/smtpc): the input is what the
 * server says.  Byte 0 picks the message's body type, STARTTLS and
 * SMTPUTF8; byte 1 how the transport splits its reads; the rest is the
 * server's byte stream (then EOF).  Every result must be well formed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "io.h"
#include "smtpc.h"
#include "str.h"

struct fuzz_src {
	const uint8_t *p;
	size_t n, pos;
	unsigned seed, calls;
};

static ssize_t
fuzz_read(void *ctx, void *buf, size_t n)
{
	struct fuzz_src *f = ctx;
	size_t left = f->n - f->pos, chunk;

	if (f->seed != 0) {
		chunk = 1 + (f->seed * 31 + f->calls++ * 7) % 61;
		if (n > chunk)
			n = chunk;
	}
	if (n > left)
		n = left;
	memcpy(buf, f->p + f->pos, n);
	f->pos += n;
	return (ssize_t)n;
}

static ssize_t
fuzz_write(void *ctx, const void *buf, size_t n)
{
	return (ssize_t)n;
}

static const struct io_ops fuzz_ops = { fuzz_read, fuzz_write };

static int
fuzz_tls(void *arg, struct io *io, struct str *err)
{
	return *(const uint8_t *)arg & 0x20 ? -1 : 0;
}

static int
fuzz_msg(void)
{
	static int fd = -1;
	static const char body[] = "Subject: x\r\n\r\n.dot\r\nbare\nlf\r\n"
	    "caf\xc3\xa9\r\n";

	if (fd < 0) {
		fd = memfd_create("msg", 0);
		if (fd < 0 || write(fd, body, sizeof(body) - 1) !=
		    (ssize_t)(sizeof(body) - 1))
			abort();
	}
	return fd;
}

static void
fuzz_check(const struct smtpc_rcpt *r)
{
	size_t i;

	if (!r->done)
		return;
	if (r->code < 200 || r->code > 599 ||
	    r->status[0] != (char)('0' + r->code / 100) || r->status[1] != '.')
		abort();
	for (i = 0; i < r->text.len; i++)
		if (r->text.s[i] < ' ' || r->text.s[i] == 127)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const addr[4] = { "a@d", "b@d", "\xc3\xbc@d",
	    "c@d" };
	struct fuzz_src src;
	struct smtpc_rcpt r[4];
	struct smtpc_msg m;
	struct smtpc c;
	struct io *io;
	size_t i;
	int rc;

	if (size < 2)
		return 0;
	memset(&src, 0, sizeof(src));
	src.p = data + 2;
	src.n = size - 2;
	src.seed = data[1];
	if ((io = malloc(sizeof(*io))) == NULL)
		return 0;
	io_init_ops(io, &fuzz_ops, &src);
	smtpc_init(&c, io, "me.test", "mx[1]");
	c.chunk = 7;
	if (data[0] & 0x10) {
		c.starttls = fuzz_tls;
		c.tls_arg = (void *)data;
	}
	memset(&m, 0, sizeof(m));
	m.fd = fuzz_msg();
	m.size = lseek(m.fd, 0, SEEK_END);
	m.sender = "s@o";
	m.ret = "FULL";
	m.envid = "x";
	m.body = (enum smtpc_body)(data[0] % 3);
	m.smtputf8 = (data[0] & 0x40) != 0;
	m.eightbit = -1;
	memset(r, 0, sizeof(r));
	for (i = 0; i < 4; i++) {
		r[i].addr = addr[i];
		r[i].notify = i & 1 ? "SUCCESS" : "";
		r[i].orcpt = i & 2 ? "rfc822;a@d" : NULL;
	}
	rc = smtpc_session(&c, &m, r, 4);
	if (rc != 0 && rc != SMTPC_HOSTFAIL && rc != SMTPC_NOTLS)
		abort();
	for (i = 0; i < 4; i++) {
		if (rc == 0 && !r[i].done)
			abort();
		fuzz_check(&r[i]);
		str_free(&r[i].text);
	}
	if (rc != 0 && (c.fail_code < 400 || c.fail_code > 599))
		abort();
	smtpc_free(&c);
	free(io);
	return 0;
}
