/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for lib/imapparse (with lib/seqset, lib/mutf7 and
 * lib/imapquote): the input is a client's byte stream, read by the parser
 * through an in-memory io, a few bytes at a time, with continuations
 * always granted.  Byte 0 picks the options (literal mode, UTF8=ACCEPT,
 * small limits, read size).  Each command is walked by a small grammar
 * chosen by its name (FETCH, SEARCH, APPEND, STORE, LOGIN...) or, for any
 * other name, generically by peeking.
 *
 * Invariants: nothing reads past the input (ASan); every string handed out
 * is NUL-terminated and NUL-free unless it came as a literal8; an error
 * has a kind and a reason, and imap_cmd_skip() clears it or is fatal; the
 * parser never asks for a continuation without an accepted synchronising
 * literal; the number of commands is bounded by the input.  Beside the
 * parser: seqset text round-trips through format, mutf7 round-trips, and
 * imapquote's output of the input parses back to the same bytes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imapparse.h"
#include "imapquote.h"
#include "io.h"
#include "mutf7.h"
#include "seqset.h"
#include "str.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct mem {
	const uint8_t *in;
	size_t len;
	size_t pos;
	size_t chunk;
	unsigned conts;
};

static ssize_t
mem_read(void *ctx, void *buf, size_t n)
{
	struct mem *m = ctx;

	if (n > m->chunk)
		n = m->chunk;
	if (n > m->len - m->pos)
		n = m->len - m->pos;
	memcpy(buf, m->in + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

static ssize_t
mem_write(void *ctx, const void *buf, size_t n)
{
	return (ssize_t)n;
}

static int
mem_cont(void *ctx, uint64_t size)
{
	struct mem *m = ctx;

	m->conts++;
	return 0;
}

static void
check_str(const struct imap_str *s, int maybe_nul)
{
	if (s->s == NULL)
		return;
	if (s->s[s->len] != '\0')
		abort();
	if (!maybe_nul && memchr(s->s, 0, s->len) != NULL)
		abort();
}

static int
walk_seqset(struct imap_parser *p)
{
	struct seqset set = SEQSET_INIT;
	struct str out = STR_INIT;
	struct seqset_iter it;
	uint32_t x, last = 0, n = 0;
	int r;

	if ((r = imap_arg_seqset(p, &set)) == 0) {
		seqset_resolve(&set, 1000);
		seqset_iter_init(&it, &set);
		while (n < 64 && seqset_iter_next(&it, &x)) {
			if (x <= last || !seqset_contains(&set, x))
				abort();
			last = x;
			n++;
		}
		if (seqset_format(&out, &set) < 0 || !seqset_valid(out.s,
		    out.len))
			abort();
	}
	seqset_free(&set);
	str_free(&out);
	return r;
}

static int
walk_astring(struct imap_parser *p)
{
	struct imap_str s;

	if (imap_arg_astring(p, &s) < 0)
		return -1;
	check_str(&s, 0);
	return 0;
}

static int
walk_fetch(struct imap_parser *p)
{
	struct imap_fetch_att a;
	size_t i;
	int list;

	if (walk_seqset(p) < 0)
		return -1;
	list = imap_arg_peek(p) == IMAP_TOK_LIST;
	if (list && imap_arg_list_begin(p) < 0)
		return -1;
	do {
		if (imap_arg_fetch_att(p, &a) < 0)
			return -1;
		if (a.nparts > IMAP_SECTION_PARTS_MAX ||
		    (a.has_partial && a.partial_length == 0))
			abort();
		for (i = 0; i < a.nfields; i++)
			check_str(&a.fields[i], 0);
	} while (list && imap_arg_peek(p) == IMAP_TOK_ATOM);
	return list ? imap_arg_list_end(p) : 0;
}

static int
walk_key(struct imap_parser *p, unsigned depth)
{
	struct imap_str a;
	struct imap_date d;
	enum imap_tok t;
	uint32_t n;
	int c = imap_arg_peek_char(p);

	if (depth > 64)
		abort();	/* depth_max must have stopped us */
	if (c == '(') {
		if (imap_arg_list_begin(p) < 0)
			return -1;
		do {
			if (walk_key(p, depth + 1) < 0)
				return -1;
			t = imap_arg_peek(p);
		} while (t != IMAP_TOK_LIST_END && t > IMAP_TOK_EOL);
		return imap_arg_list_end(p);
	}
	if (c == '*' || (c >= '0' && c <= '9'))
		return walk_seqset(p);
	if (imap_arg_atom(p, &a) < 0)
		return -1;
	check_str(&a, 0);
	if (strcasecmp(a.s, "NOT") == 0)
		return walk_key(p, depth + 1);
	if (strcasecmp(a.s, "OR") == 0)
		return walk_key(p, depth + 1) < 0 ? -1 : walk_key(p, depth + 1);
	if (strcasecmp(a.s, "SINCE") == 0) {
		if (imap_arg_date(p, &d) < 0)
			return -1;
		if (d.mon < 1 || d.mon > 12 || d.mday < 1 || d.mday > 31)
			abort();
		return 0;
	}
	if (strcasecmp(a.s, "LARGER") == 0)
		return imap_arg_number(p, &n);
	if (strcasecmp(a.s, "HEADER") == 0)
		return walk_astring(p) < 0 ? -1 : walk_astring(p);
	if (strcasecmp(a.s, "FROM") == 0)
		return walk_astring(p);
	return 0;
}

static int
walk_append(struct imap_parser *p)
{
	struct imap_str s;
	uint64_t size, got = 0;
	time_t t;
	char buf[37];
	ssize_t n;
	int zone, lit8;

	if (imap_arg_mailbox(p, &s) < 0)
		return -1;
	if (imap_arg_peek(p) == IMAP_TOK_LIST) {
		if (imap_arg_list_begin(p) < 0)
			return -1;
		while (imap_arg_peek(p) == IMAP_TOK_ATOM)
			if (imap_arg_flag(p, &s) < 0)
				return -1;
		if (imap_arg_list_end(p) < 0)
			return -1;
	}
	if (imap_arg_peek(p) == IMAP_TOK_QUOTED &&
	    imap_arg_datetime(p, &t, &zone) < 0)
		return -1;
	if (imap_arg_literal_begin(p, 4096, IMAP_LIT8_OK, &size, &lit8) < 0)
		return -1;
	if (size > 4096)
		abort();
	while ((n = imap_literal_read(p, buf, sizeof(buf))) > 0) {
		if (!lit8 && memchr(buf, 0, (size_t)n) != NULL)
			abort();
		got += (uint64_t)n;
	}
	if (n == 0 && got != size)
		abort();
	return n < 0 ? -1 : 0;
}

/* Any other command: take whatever comes, by its look. */
static int
walk_generic(struct imap_parser *p)
{
	struct imap_str s;
	unsigned steps = 0;
	int c;

	for (;;) {
		if (++steps > 100000)
			abort();	/* args_max must have stopped us */
		switch (imap_arg_peek(p)) {
		case IMAP_TOK_ERROR:
			return -1;
		case IMAP_TOK_EOL:
			return 0;
		case IMAP_TOK_LIST:
			if (imap_arg_list_begin(p) < 0)
				return -1;
			break;
		case IMAP_TOK_LIST_END:
			if (imap_arg_list_end(p) < 0)
				return -1;
			break;
		case IMAP_TOK_ATOM:
			c = imap_arg_peek_char(p);
			if (c == '*' || (c >= '0' && c <= '9')) {
				if (walk_seqset(p) < 0)
					return -1;
				break;
			}
			if (imap_arg_flag(p, &s) < 0)
				return -1;
			check_str(&s, 0);
			break;
		default:
			if (imap_arg_nstring(p, &s) < 0)
				return -1;
			check_str(&s, 0);
			break;
		}
	}
}

static int
walk_cmd(struct imap_parser *p, const struct imap_cmd *cmd)
{
	const char *n = cmd->name;
	struct imap_str s;

	if (strcmp(n, "FETCH") == 0)
		return walk_fetch(p);
	if (strcmp(n, "SEARCH") == 0) {
		do {
			if (walk_key(p, 0) < 0)
				return -1;
		} while (imap_arg_peek(p) > IMAP_TOK_EOL);
		return 0;
	}
	if (strcmp(n, "APPEND") == 0)
		return walk_append(p);
	if (strcmp(n, "LOGIN") == 0)
		return walk_astring(p) < 0 ? -1 : walk_astring(p);
	if (strcmp(n, "LIST") == 0)
		return imap_arg_mailbox(p, &s) < 0 ? -1 :
		    imap_arg_list_mailbox(p, &s);
	return walk_generic(p);
}

static void
fuzz_parser(const uint8_t *data, size_t size, uint8_t opt)
{
	struct imap_limits lim;
	struct io *io;
	struct imap_parser *p;
	struct imap_cmd cmd;
	struct mem m = { data, size, 0, 1 + (opt >> 5) * 9, 0 };
	const char *reason;
	size_t ncmds = 0;
	int r;

	if ((io = malloc(sizeof(*io))) == NULL)
		return;
	io_init_ops(io, &(const struct io_ops){ mem_read, mem_write }, &m);
	imap_limits_default(&lim);
	if (opt & 4) {
		lim.line_max = 64;
		lim.literal_max = 32;
		lim.cmd_max = 128;
		lim.depth_max = 3;
		lim.args_max = 12;
		lim.ranges_max = 4;
		lim.discard_max = 256;
	}
	if ((p = imap_parser_new(io, &lim)) == NULL) {
		free(io);
		return;
	}
	imap_parser_set_cont(p, mem_cont, &m);
	imap_parser_set_literal_mode(p, (enum imap_literal_mode)(opt & 3) % 3);
	imap_parser_set_utf8(p, opt & 8);
	for (;;) {
		r = imap_cmd_read(p, &cmd);
		if (r == 0)
			break;
		if (++ncmds > size + 1)
			abort();
		if (r > 0 && (walk_cmd(p, &cmd) == 0 && imap_arg_eol(p) == 0))
			continue;
		if (imap_parser_error(p, &reason) == IMAP_ERR_NONE ||
		    reason[0] == '\0')
			abort();
		if (imap_cmd_skip(p) < 0)
			break;
		if (imap_parser_error(p, &reason) != IMAP_ERR_NONE)
			abort();
	}
	if (m.pos > m.len)
		abort();
	imap_parser_free(&p);
	free(io);
}

/* imapquote's output, sent back in a command, parses to the same bytes. */
static void
fuzz_quote(const uint8_t *data, size_t size, int utf8)
{
	struct str in = STR_INIT;
	struct mem m = { NULL, 0, 0, 4096, 0 };
	struct imap_parser *p;
	struct imap_cmd cmd;
	struct imap_str s;
	struct io *io;
	int flags = utf8 ? IMAPQUOTE_UTF8 : 0;

	str_appends(&in, "t LOGIN ");
	if (imapquote_astring(&in, data, size, flags) < 0) {
		if (memchr(data, 0, size) == NULL)
			abort();
		str_free(&in);
		return;
	}
	str_appends(&in, " x\r\n");
	if ((io = malloc(sizeof(*io))) == NULL)
		goto out;
	m.in = (const uint8_t *)in.s;
	m.len = in.len;
	io_init_ops(io, &(const struct io_ops){ mem_read, mem_write }, &m);
	if ((p = imap_parser_new(io, NULL)) != NULL) {
		imap_parser_set_cont(p, mem_cont, &m);
		imap_parser_set_utf8(p, utf8);
		if (imap_cmd_read(p, &cmd) != 1 ||
		    imap_arg_astring(p, &s) < 0 || s.len != size ||
		    (size && memcmp(s.s, data, size) != 0))
			abort();
		imap_parser_free(&p);
	}
	free(io);
out:
	str_free(&in);
}

static void
fuzz_mutf7(const uint8_t *data, size_t size)
{
	struct str a = STR_INIT, b = STR_INIT;

	if (mutf7_to_utf8((const char *)data, size, &a) == 0) {
		/* Valid means canonical: it converts back to itself. */
		if (mutf7_from_utf8(a.s, a.len, &b) < 0 || b.len != size ||
		    (size && memcmp(b.s, data, size) != 0))
			abort();
	}
	str_clear(&a);
	str_clear(&b);
	if (mutf7_from_utf8((const char *)data, size, &a) == 0) {
		if (mutf7_to_utf8(a.s, a.len, &b) < 0 || b.len != size ||
		    (size && memcmp(b.s, data, size) != 0))
			abort();
	}
	str_free(&a);
	str_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;

	if (size < 1)
		return 0;
	/* A copy of exactly the input, so that ASan sees any overread. */
	if ((copy = malloc(size - 1 ? size - 1 : 1)) == NULL)
		return 0;
	memcpy(copy, data + 1, size - 1);
	fuzz_parser(copy, size - 1, data[0]);
	if (size - 1 <= 4096) {
		fuzz_quote(copy, size - 1, data[0] & 8);
		fuzz_mutf7(copy, size - 1);
	}
	free(copy);
	return 0;
}
