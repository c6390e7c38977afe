/* SPDX-License-Identifier: ISC */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imapparse.h"
#include "io.h"
#include "seqset.h"
#include "str.h"

/*
 * The client side is a memory transport that behaves like a real client:
 * the input is cut into stages at each "<+>" marker (removed from the
 * bytes), and the bytes after a marker are only sent once the server has
 * asked for them with a continuation request.  A parser that reads past a
 * stage without asking gets EDEADLK, which is what would hang a real
 * session.  Reads hand out at most chunk bytes (1: byte by byte).
 */
#define GATES_MAX 16

struct client {
	struct str in;
	size_t pos;
	size_t gate[GATES_MAX];	/* offsets where a "+" is awaited */
	size_t ngates;
	size_t next_gate;	/* index of the gate in force */
	size_t chunk;
	struct str out;		/* what the server wrote */
	unsigned conts;		/* continuations asked for */
	uint64_t cont_size[GATES_MAX];
	size_t maxread;		/* largest read asked for */
	int err;		/* at the end of the input: fail so */
};

static size_t
client_limit(const struct client *c)
{
	return c->next_gate < c->ngates ? c->gate[c->next_gate] : c->in.len;
}

static ssize_t
client_read(void *ctx, void *buf, size_t n)
{
	struct client *c = ctx;
	size_t left = client_limit(c) - c->pos;

	if (n > c->maxread)
		c->maxread = n;
	if (left == 0) {
		if (c->pos < c->in.len) {
			errno = EDEADLK;	/* waiting for a "+" */
			return -1;
		}
		if (c->err) {
			errno = c->err;
			return -1;
		}
		return 0;
	}
	if (c->chunk && n > c->chunk)
		n = c->chunk;
	if (n > left)
		n = left;
	memcpy(buf, c->in.s + c->pos, n);
	c->pos += n;
	return (ssize_t)n;
}

/* The server's continuation: must come exactly at a gate. */
static void
client_cont(struct client *c, uint64_t size)
{
	assert_true(c->next_gate < c->ngates);
	assert_int_equal(c->pos, c->gate[c->next_gate]);
	if (c->conts < GATES_MAX)
		c->cont_size[c->conts] = size;
	c->conts++;
	c->next_gate++;
}

static ssize_t
client_write(void *ctx, const void *buf, size_t n)
{
	struct client *c = ctx;

	str_append(&c->out, buf, n);
	/* The default continuation "+ OK\r\n" opens the next stage. */
	if (n >= 2 && memcmp(buf, "+ ", 2) == 0)
		client_cont(c, 0);
	return (ssize_t)n;
}

static const struct io_ops client_ops = { client_read, client_write };

static int
test_cont(void *ctx, uint64_t size)
{
	client_cont(ctx, size);
	return 0;
}

struct sess {
	struct client c;
	struct io io;
	struct imap_parser *p;
};

/* A session on input s (with "<+>" markers), reads of chunk bytes. */
static struct sess *
sess_new(const char *s, size_t len, size_t chunk,
    const struct imap_limits *lim, int own_cont)
{
	struct sess *x = calloc(1, sizeof(*x));
	const char *m;
	size_t i = 0;

	assert_non_null(x);
	str_init(&x->c.in, 0);
	str_init(&x->c.out, 0);
	while (i < len) {
		m = memmem(s + i, len - i, "<+>", 3);
		if (m == NULL) {
			str_append(&x->c.in, s + i, len - i);
			break;
		}
		str_append(&x->c.in, s + i, (size_t)(m - s) - i);
		assert_true(x->c.ngates < GATES_MAX);
		x->c.gate[x->c.ngates++] = x->c.in.len;
		i = (size_t)(m - s) + 3;
	}
	x->c.chunk = chunk;
	io_init_ops(&x->io, &client_ops, &x->c);
	x->p = imap_parser_new(&x->io, lim);
	assert_non_null(x->p);
	if (own_cont)
		imap_parser_set_cont(x->p, test_cont, &x->c);
	return x;
}

static void
sess_free(struct sess *x)
{
	imap_parser_free(&x->p);
	assert_null(x->p);
	str_free(&x->c.in);
	str_free(&x->c.out);
	free(x);
}

/* ---- A small command grammar, as imapd will have, dumping what it read.
 * Dump: atoms as is, strings in quotes (raw), NIL, (lists), #numbers,
 * S:set, fetch attributes spelled out, D:date, T:time/zone, L<n>:data. */

static int walk_search_key(struct imap_parser *p, struct str *d);

static void
put_str(struct str *d, const struct imap_str *s)
{
	if (d->len && d->s[d->len - 1] != '(')
		str_appendc(d, ' ');
	if (s->s == NULL)
		str_appends(d, "NIL");
	else {
		str_appendc(d, '"');
		str_append(d, s->s, s->len);
		str_appendc(d, '"');
	}
}

static void
put_word(struct str *d, const char *fmt, ...)
{
	va_list ap;

	if (d->len && d->s[d->len - 1] != '(')
		str_appendc(d, ' ');
	va_start(ap, fmt);
	str_vappendf(d, fmt, ap);
	va_end(ap);
}

static int
walk_astring(struct imap_parser *p, struct str *d)
{
	struct imap_str s;

	if (imap_arg_astring(p, &s) < 0)
		return -1;
	put_str(d, &s);
	return 0;
}

static int
walk_mailbox(struct imap_parser *p, struct str *d)
{
	struct imap_str s;

	if (imap_arg_mailbox(p, &s) < 0)
		return -1;
	put_word(d, "M:%s", s.s);
	return 0;
}

static int
walk_seqset(struct imap_parser *p, struct str *d)
{
	struct seqset set = SEQSET_INIT;
	size_t i;

	if (imap_arg_seqset(p, &set) < 0) {
		seqset_free(&set);
		return -1;
	}
	put_word(d, "S:");
	for (i = 0; i < set.n; i++) {
		if (i)
			str_appendc(d, ',');
		if (set.r[i].lo == SEQSET_STAR)
			str_appendc(d, '*');
		else
			str_appendf(d, "%u", set.r[i].lo);
		if (set.r[i].hi != set.r[i].lo) {
			if (set.r[i].hi == SEQSET_STAR)
				str_appends(d, ":*");
			else
				str_appendf(d, ":%u", set.r[i].hi);
		}
	}
	seqset_free(&set);
	return 0;
}

static int
walk_flags(struct imap_parser *p, struct str *d)
{
	struct imap_str f;

	if (imap_arg_list_begin(p) < 0)
		return -1;
	put_word(d, "(");
	while (imap_arg_peek(p) == IMAP_TOK_ATOM) {
		if (imap_arg_flag(p, &f) < 0)
			return -1;
		put_word(d, "%s", f.s);
	}
	str_appendc(d, ')');
	return imap_arg_list_end(p);
}

static int
walk_fetch_att(struct imap_parser *p, struct str *d)
{
	static const char *const texts[] = {
		"", "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT",
		"MIME"
	};
	struct imap_fetch_att a;
	size_t i;

	if (imap_arg_fetch_att(p, &a) < 0)
		return -1;
	put_word(d, "%s", a.name);
	if (a.has_section) {
		str_appendc(d, '[');
		for (i = 0; i < a.nparts; i++)
			str_appendf(d, "%s%u", i ? "." : "", a.part[i]);
		if (a.nparts && a.text)
			str_appendc(d, '.');
		str_appends(d, texts[a.text]);
		for (i = 0; i < a.nfields; i++)
			str_appendf(d, "%s%s", i ? " " : " (", a.fields[i].s);
		if (a.nfields)
			str_appendc(d, ')');
		str_appendc(d, ']');
	}
	if (a.has_partial)
		str_appendf(d, "<%u.%u>", a.partial_offset, a.partial_length);
	return 0;
}

static int
walk_fetch(struct imap_parser *p, struct str *d)
{
	if (walk_seqset(p, d) < 0)
		return -1;
	if (imap_arg_peek(p) != IMAP_TOK_LIST)
		return walk_fetch_att(p, d);
	if (imap_arg_list_begin(p) < 0)
		return -1;
	put_word(d, "(");
	do {
		if (walk_fetch_att(p, d) < 0)
			return -1;
	} while (imap_arg_peek(p) == IMAP_TOK_ATOM);
	str_appendc(d, ')');
	return imap_arg_list_end(p);
}

static int
walk_date(struct imap_parser *p, struct str *d)
{
	struct imap_date dt;

	if (imap_arg_date(p, &dt) < 0)
		return -1;
	put_word(d, "D:%04d-%02d-%02d", dt.year, dt.mon, dt.mday);
	return 0;
}

/* One search key (RFC 3501 search-key), recursively. */
static int
walk_search_key(struct imap_parser *p, struct str *d)
{
	static const char *const one_astring[] = {
		"BCC", "BODY", "CC", "FROM", "KEYWORD", "SUBJECT", "TEXT",
		"TO", "UNKEYWORD", NULL
	};
	static const char *const one_date[] = {
		"BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE",
		NULL
	};
	struct imap_str a;
	uint32_t n;
	int c, i;

	c = imap_arg_peek_char(p);
	if (c == '(') {
		if (imap_arg_list_begin(p) < 0)
			return -1;
		put_word(d, "(");
		do {
			if (walk_search_key(p, d) < 0)
				return -1;
		} while (imap_arg_peek(p) != IMAP_TOK_LIST_END &&
		    imap_arg_peek(p) > IMAP_TOK_EOL);
		str_appendc(d, ')');
		return imap_arg_list_end(p);
	}
	if (c == '*' || (c >= '0' && c <= '9'))
		return walk_seqset(p, d);
	if (imap_arg_atom(p, &a) < 0)
		return -1;
	put_word(d, "%s", a.s);
	for (i = 0; one_astring[i]; i++)
		if (strcasecmp(a.s, one_astring[i]) == 0)
			return walk_astring(p, d);
	for (i = 0; one_date[i]; i++)
		if (strcasecmp(a.s, one_date[i]) == 0)
			return walk_date(p, d);
	if (strcasecmp(a.s, "HEADER") == 0)
		return walk_astring(p, d) < 0 ? -1 : walk_astring(p, d);
	if (strcasecmp(a.s, "LARGER") == 0 || strcasecmp(a.s, "SMALLER") == 0) {
		if (imap_arg_number(p, &n) < 0)
			return -1;
		put_word(d, "#%u", n);
		return 0;
	}
	if (strcasecmp(a.s, "UID") == 0)
		return walk_seqset(p, d);
	if (strcasecmp(a.s, "NOT") == 0)
		return walk_search_key(p, d);
	if (strcasecmp(a.s, "OR") == 0)
		return walk_search_key(p, d) < 0 ? -1 : walk_search_key(p, d);
	return 0;
}

static int
walk_search(struct imap_parser *p, struct str *d)
{
	struct imap_str a;

	if (imap_arg_peek_char(p) == 'C' || imap_arg_peek_char(p) == 'c') {
		if (imap_arg_atom(p, &a) < 0)
			return -1;
		put_word(d, "%s", a.s);
		if (strcasecmp(a.s, "CHARSET") != 0)
			return -1;
		if (walk_astring(p, d) < 0)
			return -1;
	}
	do {
		if (walk_search_key(p, d) < 0)
			return -1;
	} while (imap_arg_peek(p) > IMAP_TOK_EOL);
	return 0;
}

static int
walk_append(struct imap_parser *p, struct str *d)
{
	char buf[7];
	time_t t;
	uint64_t size;
	ssize_t n;
	int zone, lit8;

	if (walk_mailbox(p, d) < 0)
		return -1;
	if (imap_arg_peek(p) == IMAP_TOK_LIST && walk_flags(p, d) < 0)
		return -1;
	if (imap_arg_peek(p) == IMAP_TOK_QUOTED) {
		if (imap_arg_datetime(p, &t, &zone) < 0)
			return -1;
		put_word(d, "T:%lld/%d", (long long)t, zone);
	}
	if (imap_arg_literal_begin(p, 1000, IMAP_LIT8_OK, &size, &lit8) < 0)
		return -1;
	put_word(d, "L%s%llu:", lit8 ? "8" : "", (unsigned long long)size);
	/* Odd-sized pieces, to cross every boundary. */
	while ((n = imap_literal_read(p, buf, sizeof(buf))) > 0)
		str_append(d, buf, (size_t)n);
	return n < 0 ? -1 : 0;
}

static int
walk_store(struct imap_parser *p, struct str *d)
{
	struct imap_str a, f;

	if (walk_seqset(p, d) < 0 || imap_arg_atom(p, &a) < 0)
		return -1;
	put_word(d, "%s", a.s);
	if (imap_arg_peek(p) == IMAP_TOK_LIST)
		return walk_flags(p, d);
	do {
		if (imap_arg_flag(p, &f) < 0)
			return -1;
		put_word(d, "%s", f.s);
	} while (imap_arg_peek(p) == IMAP_TOK_ATOM);
	return 0;
}

static int
walk_id(struct imap_parser *p, struct str *d)
{
	struct imap_str s;

	if (imap_arg_peek(p) != IMAP_TOK_LIST) {
		if (imap_arg_nstring(p, &s) < 0)
			return -1;
		put_str(d, &s);
		return 0;
	}
	if (imap_arg_list_begin(p) < 0)
		return -1;
	put_word(d, "(");
	while (imap_arg_peek(p) != IMAP_TOK_LIST_END &&
	    imap_arg_peek(p) > IMAP_TOK_EOL) {
		if (imap_arg_string(p, &s) < 0)
			return -1;
		put_str(d, &s);
		if (imap_arg_nstring(p, &s) < 0)
			return -1;
		put_str(d, &s);
	}
	str_appendc(d, ')');
	return imap_arg_list_end(p);
}

static int
walk_status(struct imap_parser *p, struct str *d)
{
	struct imap_str a;

	if (walk_mailbox(p, d) < 0 || imap_arg_list_begin(p) < 0)
		return -1;
	put_word(d, "(");
	do {
		if (imap_arg_atom(p, &a) < 0)
			return -1;
		put_word(d, "%s", a.s);
	} while (imap_arg_peek(p) == IMAP_TOK_ATOM);
	str_appendc(d, ')');
	return imap_arg_list_end(p);
}

static int
walk_list(struct imap_parser *p, struct str *d)
{
	struct imap_str s;

	if (walk_mailbox(p, d) < 0 || imap_arg_list_mailbox(p, &s) < 0)
		return -1;
	put_word(d, "P:%s", s.s);
	return 0;
}

static int
walk_atoms(struct imap_parser *p, struct str *d)
{
	struct imap_str a;

	while (imap_arg_peek(p) == IMAP_TOK_ATOM) {
		if (imap_arg_atom(p, &a) < 0)
			return -1;
		put_word(d, "%s", a.s);
	}
	return 0;
}

static int
walk_two(struct imap_parser *p, struct str *d)
{
	return walk_astring(p, d) < 0 ? -1 : walk_astring(p, d);
}

static int
walk_copy(struct imap_parser *p, struct str *d)
{
	return walk_seqset(p, d) < 0 ? -1 : walk_mailbox(p, d);
}

static int
walk_rename(struct imap_parser *p, struct str *d)
{
	return walk_mailbox(p, d) < 0 ? -1 : walk_mailbox(p, d);
}

static int
walk_none(struct imap_parser *p, struct str *d)
{
	return 0;
}

static int
walk_uid_expunge(struct imap_parser *p, struct str *d)
{
	return walk_seqset(p, d);
}

static const struct {
	const char *name;
	int (*walk)(struct imap_parser *, struct str *);
} cmds[] = {
	{ "CAPABILITY", walk_none }, { "NOOP", walk_none },
	{ "LOGOUT", walk_none }, { "STARTTLS", walk_none },
	{ "CHECK", walk_none }, { "CLOSE", walk_none },
	{ "EXPUNGE", walk_none }, { "IDLE", walk_none },
	{ "LOGIN", walk_two }, { "AUTHENTICATE", walk_atoms },
	{ "SELECT", walk_mailbox }, { "EXAMINE", walk_mailbox },
	{ "CREATE", walk_mailbox }, { "DELETE", walk_mailbox },
	{ "SUBSCRIBE", walk_mailbox }, { "UNSUBSCRIBE", walk_mailbox },
	{ "RENAME", walk_rename }, { "LIST", walk_list },
	{ "LSUB", walk_list }, { "STATUS", walk_status },
	{ "APPEND", walk_append }, { "SEARCH", walk_search },
	{ "FETCH", walk_fetch }, { "STORE", walk_store },
	{ "COPY", walk_copy }, { "MOVE", walk_copy },
	{ "ENABLE", walk_atoms }, { "ID", walk_id },
};

/* Read one command and walk it.  Returns 1 with the dump in d, 0 at EOF,
 * -1 on error (reason in d). */
static int
walk_cmd(struct imap_parser *p, struct str *d)
{
	struct imap_cmd cmd;
	const char *reason;
	size_t i;
	int r;

	str_clear(d);
	r = imap_cmd_read(p, &cmd);
	if (r <= 0)
		goto out;
	str_appendf(d, "%s %s%s", cmd.tag, cmd.uid ? "UID " : "", cmd.name);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(cmds[i].name, cmd.name) == 0)
			break;
	assert_true(i < sizeof(cmds) / sizeof(cmds[0]));
	if (cmd.uid && strcmp(cmd.name, "EXPUNGE") == 0)
		r = walk_uid_expunge(p, d);
	else
		r = cmds[i].walk(p, d);
	if (r == 0)
		r = imap_arg_eol(p);
	if (r == 0)
		return 1;
out:
	if (r < 0) {
		assert_int_not_equal(imap_parser_error(p, &reason),
		    IMAP_ERR_NONE);
		str_clear(d);
		str_appendf(d, "%s%s: %s", cmd.tag ? cmd.tag : "*",
		    imap_parser_error(p, &reason) == IMAP_ERR_TOOBIG ?
		    " TOOBIG" : imap_parser_error(p, &reason) ==
		    IMAP_ERR_FATAL ? " FATAL" : "", reason);
		if (imap_cmd_skip(p) < 0)
			return -2;
	}
	return r;
}

/* ---- Valid commands. */

static const struct {
	const char *in;
	const char *dump;
} good[] = {
	/* RFC 3501 section 6 examples */
	{ "a002 NOOP\r\n", "a002 NOOP" },
	{ "abcd CAPABILITY\r\n", "abcd CAPABILITY" },
	{ "A023 LOGOUT\r\n", "A023 LOGOUT" },
	{ "a001 login mrc secret\r\n", "a001 LOGIN \"mrc\" \"secret\"" },
	{ "a001 LOGIN SMITH SESAME\r\n", "a001 LOGIN \"SMITH\" \"SESAME\"" },
	{ "A001 AUTHENTICATE GSSAPI\r\n", "A001 AUTHENTICATE GSSAPI" },
	{ "a AUTHENTICATE PLAIN AGZyZWQAc2VjcmV0\r\n",
	  "a AUTHENTICATE PLAIN AGZyZWQAc2VjcmV0" },
	{ "a AUTHENTICATE PLAIN =\r\n", "a AUTHENTICATE PLAIN =" },
	{ "A142 SELECT INBOX\r\n", "A142 SELECT M:INBOX" },
	{ "A142 SELECT inbox\r\n", "A142 SELECT M:INBOX" },
	{ "A142 SELECT \"InBox\"\r\n", "A142 SELECT M:INBOX" },
	{ "A932 EXAMINE blurdybloop\r\n", "A932 EXAMINE M:blurdybloop" },
	{ "A003 CREATE owatagusiam/\r\n", "A003 CREATE M:owatagusiam/" },
	{ "A683 DELETE blurdybloop\r\n", "A683 DELETE M:blurdybloop" },
	{ "A683 RENAME blurdybloop sarasoop\r\n",
	  "A683 RENAME M:blurdybloop M:sarasoop" },
	{ "A002 SUBSCRIBE #news.comp.mail.mime\r\n",
	  "A002 SUBSCRIBE M:#news.comp.mail.mime" },
	{ "A002 UNSUBSCRIBE #news.comp.mail.mime\r\n",
	  "A002 UNSUBSCRIBE M:#news.comp.mail.mime" },
	{ "A101 LIST \"\" \"\"\r\n", "A101 LIST M: P:" },
	{ "A102 LIST #news.comp.mail.misc \"\"\r\n",
	  "A102 LIST M:#news.comp.mail.misc P:" },
	{ "A202 LIST ~/Mail/ %\r\n", "A202 LIST M:~/Mail/ P:%" },
	{ "A203 LIST \"\" *\r\n", "A203 LIST M: P:*" },
	{ "A204 LIST \"\" INBOX.]%*\r\n", "A204 LIST M: P:INBOX.]%*" },
	{ "A002 LSUB \"#news.\" \"comp.mail.*\"\r\n",
	  "A002 LSUB M:#news. P:comp.mail.*" },
	{ "A042 STATUS blurdybloop (UIDNEXT MESSAGES)\r\n",
	  "A042 STATUS M:blurdybloop (UIDNEXT MESSAGES)" },
	{ "A003 APPEND saved-messages (\\Seen) {5}\r\n<+>hello\r\n",
	  "A003 APPEND M:saved-messages (\\Seen) L5:hello" },
	{ "A003 APPEND saved-messages (\\Seen $Junk) "
	  "\"17-Jul-1996 02:44:25 -0700\" {20}\r\n<+>Subject: x\r\n\r\nbody\r\n\r\n",
	  "A003 APPEND M:saved-messages (\\Seen $Junk) T:837596665/-420 "
	  "L20:Subject: x\r\n\r\nbody\r\n" },
	{ "A3 APPEND x \" 7-Jul-1996 02:44:25 +0000\" {0}\r\n<+>\r\n",
	  "A3 APPEND M:x T:836707465/0 L0:" },
	{ "A3 APPEND x () {2+}\r\nhi\r\n", "A3 APPEND M:x () L2:hi" },
	{ "FXXZ CHECK\r\n", "FXXZ CHECK" },
	{ "A341 CLOSE\r\n", "A341 CLOSE" },
	{ "A202 EXPUNGE\r\n", "A202 EXPUNGE" },
	{ "A003 UID EXPUNGE 3000:3002\r\n", "A003 UID EXPUNGE S:3000:3002" },
	{ "A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n",
	  "A282 SEARCH FLAGGED SINCE D:1994-02-01 NOT FROM \"Smith\"" },
	{ "A283 SEARCH TEXT \"string not in mailbox\"\r\n",
	  "A283 SEARCH TEXT \"string not in mailbox\"" },
	{ "A284 SEARCH CHARSET UTF-8 TEXT {6}\r\n<+>XXXXXX\r\n",
	  "A284 SEARCH CHARSET \"UTF-8\" TEXT \"XXXXXX\"" },
	{ "A285 SEARCH CHARSET UTF-8 TEXT {2+}\r\n\xc3\xa9 UNSEEN\r\n",
	  "A285 SEARCH CHARSET \"UTF-8\" TEXT \"\xc3\xa9\" UNSEEN" },
	{ "a SEARCH OR (FROM a NOT (TO b CC c)) (OR SEEN 1:5,*) "
	  "UID 3:* HEADER X-Spam \"yes\" LARGER 1000 BEFORE \"2-Mar-2020\"\r\n",
	  "a SEARCH OR (FROM \"a\" NOT (TO \"b\" CC \"c\")) (OR SEEN "
	  "S:1:5,*) UID S:3:* HEADER \"X-Spam\" \"yes\" LARGER #1000 "
	  "BEFORE D:2020-03-02" },
	{ "a UID SEARCH 1:* NOT DELETED\r\n",
	  "a UID SEARCH S:1:* NOT DELETED" },
	{ "A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])\r\n",
	  "A654 FETCH S:2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])" },
	{ "a FETCH 1 BODY.PEEK[HEADER.FIELDS (DATE FROM)]<0.2048>\r\n",
	  "a FETCH S:1 BODY.PEEK[HEADER.FIELDS (DATE FROM)]<0.2048>" },
	{ "a FETCH 1 body.peek[header.fields.not (Received)]\r\n",
	  "a FETCH S:1 BODY.PEEK[HEADER.FIELDS.NOT (Received)]" },
	{ "a FETCH 1 (BODY[] BODY[1.2.3] BODY[1.2.MIME] BODY[3.HEADER] "
	  "BODY[4.TEXT]<10.20> BODY[TEXT] BODY[HEADER] BODYSTRUCTURE BODY "
	  "RFC822.SIZE ENVELOPE INTERNALDATE UID RFC822 RFC822.HEADER)\r\n",
	  "a FETCH S:1 (BODY[] BODY[1.2.3] BODY[1.2.MIME] BODY[3.HEADER] "
	  "BODY[4.TEXT]<10.20> BODY[TEXT] BODY[HEADER] BODYSTRUCTURE BODY "
	  "RFC822.SIZE ENVELOPE INTERNALDATE UID RFC822 RFC822.HEADER)" },
	{ "a FETCH 1:* ALL\r\n", "a FETCH S:1:* ALL" },
	{ "a UID FETCH 5:2,* FAST\r\n", "a UID FETCH S:5:2,* FAST" },
	{ "a FETCH 1 (BINARY[1] BINARY.PEEK[1.2]<0.5> BINARY.SIZE[2] "
	  "BINARY[])\r\n",
	  "a FETCH S:1 (BINARY[1] BINARY.PEEK[1.2]<0.5> BINARY.SIZE[2] "
	  "BINARY[])" },
	{ "a FETCH 1 BODY[HEADER.FIELDS ({4}\r\n<+>DATE \"FROM\")]\r\n",
	  "a FETCH S:1 BODY[HEADER.FIELDS (DATE FROM)]" },
	{ "A003 STORE 2:4 +FLAGS (\\Deleted)\r\n",
	  "A003 STORE S:2:4 +FLAGS (\\Deleted)" },
	{ "A003 STORE 2:4 -FLAGS.SILENT \\Seen $Label1 \\Flagged\r\n",
	  "A003 STORE S:2:4 -FLAGS.SILENT \\Seen $Label1 \\Flagged" },
	{ "A003 STORE 1 FLAGS ()\r\n", "A003 STORE S:1 FLAGS ()" },
	{ "A003 COPY 2:4 MEETING\r\n", "A003 COPY S:2:4 M:MEETING" },
	{ "A003 UID COPY 4827313:4828442 \"Sent Items\"\r\n",
	  "A003 UID COPY S:4827313:4828442 M:Sent Items" },
	{ "a MOVE 1 {8}\r\n<+>&AOk-t\xc3\xa9\r\n",
	  "a MOVE S:1 M:&AOk-t\xc3\xa9" },
	{ "a ENABLE CONDSTORE QRESYNC\r\n", "a ENABLE CONDSTORE QRESYNC" },
	{ "a ID NIL\r\n", "a ID NIL" },
	{ "a ID (\"name\" \"sodr\" \"version\" NIL)\r\n",
	  "a ID (\"name\" \"sodr\" \"version\" NIL)" },
	{ "a ID ()\r\n", "a ID ()" },
	{ "a IDLE\r\n", "a IDLE" },
	/* Quoting and escapes. */
	{ "a LOGIN \"fr\\\"ed\" \"a\\\\b\"\r\n",
	  "a LOGIN \"fr\"ed\" \"a\\b\"" },
	{ "a LOGIN \"\" \"\"\r\n", "a LOGIN \"\" \"\"" },
	{ "a LOGIN \"tab\there\" x\r\n", "a LOGIN \"tab\there\" \"x\"" },
	{ "a LOGIN {0}\r\n<+> {0}\r\n<+>\r\n", "a LOGIN \"\" \"\"" },
	/* Literal in the middle of the line, more arguments after it. */
	{ "a LOGIN {4}\r\n<+>fred secret\r\n",
	  "a LOGIN \"fred\" \"secret\"" },
	{ "a LOGIN {4+}\r\nfred {6+}\r\nsecret\r\n",
	  "a LOGIN \"fred\" \"secret\"" },
	{ "a LOGIN {3}\r\n<+>a\"b {3}\r\n<+>c\rd\r\n",
	  "a LOGIN \"a\"b\" \"c\rd\"" },
	{ "a LOGIN {5}\r\n<+>\xc3\xa9t\xc3\xa9 x\r\n",
	  "a LOGIN \"\xc3\xa9t\xc3\xa9\" \"x\"" },
	/* Literals inside nested lists and sections. */
	{ "a SEARCH (FROM {3}\r\n<+>bob (TO {1+}\r\nx)) NOT (CC {0+}\r\n)\r\n",
	  "a SEARCH (FROM \"bob\" (TO \"x\")) NOT (CC \"\")" },
	{ "a FETCH 1 (BODY.PEEK[1.HEADER.FIELDS (DATE {4+}\r\nFROM)]<5.6> "
	  "UID)\r\n",
	  "a FETCH S:1 (BODY.PEEK[1.HEADER.FIELDS (DATE FROM)]<5.6> UID)" },
	{ "a LIST {0}\r\n<+> {3}\r\n<+>a%*\r\n", "a LIST M: P:a%*" },
	{ "a SELECT {5}\r\n<+>iNbOx\r\n", "a SELECT M:INBOX" },
	{ "a SELECT INBOX.Sent\r\n", "a SELECT M:INBOX.Sent" },
	/* Bare LF. */
	{ "a NOOP\n", "a NOOP" },
	/* Tags: any ASTRING-CHAR but "+". */
	{ "]tag}x NOOP\r\n", "]tag}x NOOP" },
	{ "a.b-c_d!#$&'=~ NOOP\r\n", "a.b-c_d!#$&'=~ NOOP" },
};

static void
run_good(size_t chunk)
{
	struct str d = STR_INIT;
	size_t i;
	int r;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct sess *x = sess_new(good[i].in, strlen(good[i].in),
		    chunk, NULL, 1);

		imap_parser_set_literal_mode(x->p, IMAP_LITERAL_PLUS);
		r = walk_cmd(x->p, &d);
		if (r != 1 || strcmp(str_cstr(&d), good[i].dump) != 0)
			print_error("row %zu: %s\n", i, str_cstr(&d));
		assert_int_equal(r, 1);
		assert_string_equal(str_cstr(&d), good[i].dump);
		/* All of it consumed, nothing more, every "+" sent. */
		assert_int_equal(walk_cmd(x->p, &d), 0);
		assert_int_equal(x->c.pos, x->c.in.len);
		assert_int_equal(x->c.conts, x->c.ngates);
		sess_free(x);
	}
	str_free(&d);
}

static void
test_good(void **state)
{
	run_good(0);
}

static void
test_good_bytewise(void **state)
{
	run_good(1);
}

static void
test_good_chunk7(void **state)
{
	run_good(7);
}

/* ---- Errors, each followed by "z9 NOOP" that must still be read. */

static const struct {
	const char *in;
	const char *err;	/* "tag[ TOOBIG|FATAL]: reason" */
} bad[] = {
	{ "\r\n\r\nNOOP\r\n", "NOOP: Missing command name" },
	{ "+a NOOP\r\n", "*: Missing or invalid tag" },
	{ "* NOOP\r\n", "*: Missing or invalid tag" },
	{ "a(b NOOP\r\n", "*: Missing or invalid tag" },
	{ "a\r\n", "a: Missing command name" },
	{ "a \r\n", "a: Missing command name" },
	{ "a  NOOP\r\n", "a: Invalid character ' ' in command name" },
	{ "a UID\r\n", "a: Missing command after UID" },
	{ "a NO\x80OP\r\n", "a: 8-bit byte in command name" },
	{ "a NOOP \r\n", "a: Unexpected space at end of line" },
	{ "a NOOP x\r\n", "a: Unexpected extra arguments" },
	{ "a NOOP {3}\r\n", "a: Unexpected extra arguments" },
	{ "a NOOP {3+}\r\nabc\r\n", "a: Unexpected extra arguments" },
	{ "a LOGIN\r\n", "a: Missing argument" },
	{ "a LOGIN fred\r\n", "a: Missing argument" },
	{ "a LOGIN fred  x\r\n", "a: Extra space" },
	{ "a LOGIN fr\x80\x81" "ed x\r\n", "a: 8-bit byte in astring" },
	{ "a LOGIN fr\x01" "ed x\r\n", "a: Control character in astring" },
	{ "a LOGIN fr%d x\r\n", "a: Invalid character '%' in astring" },
	{ "a LOGIN fr\0ed x\r\n", "a: NUL byte in astring" },
	{ "a LOGIN \"fred x\r\n", "a: Unterminated quoted string" },
	{ "a LOGIN \"fred\\\r\n", "a: Unterminated quoted string" },
	{ "a LOGIN \"fr\\ed\" x\r\n", "a: Invalid escape in quoted string" },
	{ "a LOGIN \"fr\xc3\xa9\" x\r\n",
	  "a: 8-bit byte in quoted string (use a literal)" },
	{ "a LOGIN \"a\0b\" x\r\n", "a: NUL byte in quoted string" },
	{ "a LOGIN \"a\rb\" x\r\n", "a: Control character in quoted string" },
	{ "a LOGIN \"a\"b x\r\n", "a: Missing space after quoted string" },
	{ "a LOGIN fred\"x\" y\r\n", "a: Invalid character '\"' in astring" },
	{ "a LOGIN {3}x y\r\n", "a: Literal must end the line" },
	{ "a LOGIN {3\r\n", "a: Literal must end the line" },
	{ "a LOGIN {x}\r\n", "a: Literal must end the line" },
	{ "a LOGIN fred{3}\r\n", "a: Missing space before literal" },
	{ "a LOGIN {99999999999999999999999}\r\n",
	  "a: Invalid literal length" },
	{ "a LOGIN {3}\r\n<+>a\0b x\r\n", "a: NUL byte in literal" },
	{ "a LOGIN ~{3}\r\n", "a: literal8 not allowed here" },
	{ "a LOGIN {3+}\r\nabc {5}\r\n",
	  "a: Non-synchronizing literals not supported" },
	{ "a LOGIN {70000}\r\n", "a TOOBIG: Literal too big (max 65536 "
	  "bytes)" },
	{ "a SELECT \"x\"\"y\"\r\n", "a: Missing space after quoted string" },
	{ "a SELECT (x)\r\n", "a: Expected astring" },
	{ "a FETCH 0 FLAGS\r\n", "a: Invalid sequence set" },
	{ "a FETCH 1:0 FLAGS\r\n", "a: Invalid sequence set" },
	{ "a FETCH 1,,2 FLAGS\r\n", "a: Invalid sequence set" },
	{ "a FETCH 1x FLAGS\r\n", "a: Invalid character 'x' in sequence set" },
	{ "a FETCH 4294967296 FLAGS\r\n", "a: Invalid sequence set" },
	{ "a FETCH 1 (FLAGS\r\n", "a: Expected )" },
	{ "a FETCH 1 (FLAGS )\r\n", "a: Unexpected space before )" },
	{ "a FETCH 1 ( FLAGS)\r\n", "a: Extra space" },
	{ "a FETCH 1 FLAGS)\r\n", "a: Unexpected )" },
	{ "a FETCH 1 BODY[\r\n", "a: Invalid section" },
	{ "a FETCH 1 BODY[HEADER\r\n", "a: Expected ] after section" },
	{ "a FETCH 1 BODY[0]\r\n", "a: Invalid section number" },
	{ "a FETCH 1 BODY[1.]\r\n", "a: Invalid section" },
	{ "a FETCH 1 BODY[MIME]\r\n", "a: Invalid section" },
	{ "a FETCH 1 BODY[FOO]\r\n", "a: Invalid section" },
	{ "a FETCH 1 BODY[HEADER.FIELDS]\r\n",
	  "a: Missing space between arguments" },
	{ "a FETCH 1 BODY[HEADER.FIELDS ()]\r\n", "a: Expected astring" },
	{ "a FETCH 1 BODY[]<0.0>\r\n", "a: Invalid partial" },
	{ "a FETCH 1 BODY[]<1>\r\n", "a: Invalid partial" },
	{ "a FETCH 1 BODY[]<1.2\r\n", "a: Invalid partial" },
	{ "a FETCH 1 BODY[]x\r\n", "a: Invalid character 'x' in fetch "
	  "attribute" },
	{ "a FETCH 1 FLAGS[]\r\n", "a: No section allowed after FLAGS" },
	{ "a FETCH 1 BODY.PEEK\r\n", "a: BODY.PEEK needs a section" },
	{ "a FETCH 1 BINARY[TEXT]\r\n", "a: Invalid BINARY section" },
	{ "a FETCH 1 BINARY.SIZE[1]<0.1>\r\n", "a: Invalid partial" },
	{ "a FETCH 1 BODY[1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17.18.19.20."
	  "21.22.23.24.25.26.27.28.29.30.31.32.33]\r\n",
	  "a: Section has too many parts" },
	{ "a SEARCH SINCE 31-Feb-1994\r\n", "a: Invalid date" },
	{ "a SEARCH SINCE 1-Fex-1994\r\n", "a: Invalid date" },
	{ "a SEARCH SINCE 1-Feb-94\r\n", "a: Invalid date" },
	{ "a SEARCH SINCE 123-Feb-1994\r\n", "a: Invalid date" },
	{ "a SEARCH LARGER 4294967296\r\n", "a: Number too big" },
	{ "a SEARCH LARGER 12a\r\n", "a: Invalid number" },
	{ "a SEARCH LARGER x\r\n", "a: Expected a number" },
	{ "a SEARCH (SEEN\r\n", "a: Expected )" },
	{ "a APPEND x \"17-Jul-1996 25:44:25 -0700\" {1}\r\n",
	  "a: Invalid date-time" },
	{ "a APPEND x \"17-Jul-1996 02:44:25 0700\" {1}\r\n",
	  "a: Invalid date-time" },
	{ "a APPEND x \"17-Jul-1996\" {1}\r\n", "a: Invalid date-time" },
	{ "a APPEND x (\\) {1}\r\n", "a: Invalid flag" },
	{ "a APPEND x \"y\"\r\n", "a: Invalid date-time" },
	{ "a APPEND x hello\r\n", "a: Expected a literal" },
	{ "a APPEND x {1001}\r\n", "a TOOBIG: Literal too big (max 1000 "
	  "bytes)" },
	{ "a APPEND x {3+}\r\nabc\r\n", "a: Non-synchronizing literals not "
	  "supported" },
	{ "a APPEND x {3}\r\n<+>a\0b\r\n", "a: NUL byte in literal" },
	{ "a APPEND x {3}\r\n<+>abc extra\r\n",
	  "a: Unexpected extra arguments" },
	{ "a ID (\"a\")\r\n", "a: Missing argument" },
	{ "a ID (\"a\" NIL\r\n", "a: Expected )" },
};

static void
run_bad(size_t chunk)
{
	struct str d = STR_INIT, in = STR_INIT;
	size_t i, len;
	int r;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sess *x;

		/* Rows may hold a NUL: their length runs to the CRLF that
		 * ends the row (the last "\r\n"). */
		len = strlen(bad[i].in);
		if (strstr(bad[i].err, "NUL") != NULL)
			len += strlen(bad[i].in + len + 1) + 1;
		str_clear(&in);
		str_append(&in, bad[i].in, len);
		str_appends(&in, "z9 NOOP\r\n");
		x = sess_new(in.s, in.len, chunk, NULL, 1);
		r = walk_cmd(x->p, &d);
		if (r != -1 || strcmp(str_cstr(&d), bad[i].err) != 0)
			print_error("row %zu: %d %s\n", i, r, str_cstr(&d));
		assert_int_equal(r, -1);
		assert_string_equal(str_cstr(&d), bad[i].err);
		/* Resynchronised: the next command is read. */
		r = walk_cmd(x->p, &d);
		if (r != 1)
			print_error("row %zu: then %s\n", i, str_cstr(&d));
		assert_int_equal(r, 1);
		assert_string_equal(str_cstr(&d), "z9 NOOP");
		assert_int_equal(walk_cmd(x->p, &d), 0);
		sess_free(x);
	}
	str_free(&d);
	str_free(&in);
}

static void
test_bad(void **state)
{
	run_bad(0);
}

static void
test_bad_bytewise(void **state)
{
	run_bad(1);
}

/* ---- Literals: continuations, LITERAL+/-, refusals and discarding. */

static void
test_cont_exact(void **state)
{
	const char *in = "a LOGIN {4}\r\n<+>fred {6+}\r\nsecret\r\n"
	    "b LOGIN {3+}\r\nabc {2}\r\n<+>de\r\n"
	    "c APPEND box {5}\r\n<+>hello\r\n"
	    "d APPEND box {5+}\r\nhello\r\n";
	struct sess *x = sess_new(in, strlen(in), 0, NULL, 1);
	struct str d = STR_INIT;

	imap_parser_set_literal_mode(x->p, IMAP_LITERAL_PLUS);
	assert_int_equal(walk_cmd(x->p, &d), 1);
	assert_int_equal(x->c.conts, 1);
	assert_int_equal(x->c.cont_size[0], 4);
	assert_int_equal(walk_cmd(x->p, &d), 1);
	assert_int_equal(x->c.conts, 2);
	assert_int_equal(x->c.cont_size[1], 2);
	assert_int_equal(walk_cmd(x->p, &d), 1);
	assert_string_equal(str_cstr(&d), "c APPEND M:box L5:hello");
	assert_int_equal(x->c.conts, 3);
	assert_int_equal(x->c.cont_size[2], 5);
	assert_int_equal(walk_cmd(x->p, &d), 1);
	assert_int_equal(x->c.conts, 3);	/* none for {5+} */
	assert_int_equal(walk_cmd(x->p, &d), 0);
	assert_int_equal(x->c.out.len, 0);	/* the callback did it */
	sess_free(x);
	str_free(&d);
}

/* Without a callback the parser itself writes "+ OK". */
static void
test_cont_default(void **state)
{
	const char *in = "a LOGIN {4}\r\n<+>fred {3}\r\n<+>abc\r\n";
	struct sess *x = sess_new(in, strlen(in), 1, NULL, 0);
	struct str d = STR_INIT;

	assert_int_equal(walk_cmd(x->p, &d), 1);
	assert_string_equal(str_cstr(&d), "a LOGIN \"fred\" \"abc\"");
	assert_string_equal(str_cstr(&x->c.out), "+ OK\r\n+ OK\r\n");
	sess_free(x);
	str_free(&d);
}

static void
test_literal_minus(void **state)
{
	struct str in = STR_INIT, d = STR_INIT;
	struct sess *x;
	char big[5000];

	memset(big, 'x', sizeof(big));
	str_appends(&in, "a LOGIN {4096+}\r\n");
	str_append(&in, big, 4096);
	str_appends(&in, " b\r\nb LOGIN {4097+}\r\n");
	str_append(&in, big, 4097);
	str_appends(&in, " b\r\nc NOOP\r\n");
	x = sess_new(in.s, in.len, 0, NULL, 1);
	imap_parser_set_literal_mode(x->p, IMAP_LITERAL_MINUS);
	assert_int_equal(walk_cmd(x->p, &d), 1);
	/* Over 4096: refused with TOOBIG, its bytes read and dropped. */
	assert_int_equal(walk_cmd(x->p, &d), -1);
	assert_string_equal(str_cstr(&d),
	    "b TOOBIG: Non-synchronizing literal over 4096 bytes");
	assert_int_equal(walk_cmd(x->p, &d), 1);
	assert_string_equal(str_cstr(&d), "c NOOP");
	assert_int_equal(x->c.conts, 0);
	sess_free(x);
	str_free(&in);
	str_free(&d);
}

/* A refused synchronising literal: no "+", the client sends nothing, the
 * next line is the next command. */
static void
test_refused_sync(void **state)
{
	const char *in = "a APPEND box {2000}\r\nb NOOP\r\n";
	struct sess *x = sess_new(in, strlen(in), 0, NULL, 0);
	struct str d = STR_INIT;

	assert_int_equal(walk_cmd(x->p, &d), -1);
	assert_string_equal(str_cstr(&d),
	    "a TOOBIG: Literal too big (max 1000 bytes)");
	assert_int_equal(x->c.out.len, 0);	/* no "+" */
	assert_int_equal(walk_cmd(x->p, &d), 1);
	assert_string_equal(str_cstr(&d), "b NOOP");
	sess_free(x);
	str_free(&d);
}

/* A refused non-synchronising literal bigger than discard_max: fatal. */
static void
test_discard_max(void **state)
{
	struct imap_limits lim;
	struct str in = STR_INIT, d = STR_INIT;
	struct sess *x;
	const char *reason;

	imap_limits_default(&lim);
	lim.discard_max = 100;
	str_appends(&in, "a APPEND box {101+}\r\n");
	while (in.len < 200)
		str_appendc(&in, 'x');
	str_appends(&in, "\r\nb NOOP\r\n");
	x = sess_new(in.s, in.len, 0, &lim, 1);
	assert_int_equal(walk_cmd(x->p, &d), -2);
	assert_string_equal(str_cstr(&d),
	    "a: Non-synchronizing literals not supported");
	assert_int_equal(imap_parser_error(x->p, &reason), IMAP_ERR_FATAL);
	assert_string_equal(reason, "Too much data to discard");
	assert_int_equal(walk_cmd(x->p, &d), -2);	/* stays dead */
	sess_free(x);
	/* An unparseable non-synchronising length is fatal too: the
	 * client would send bytes no one can count. */
	x = sess_new("a LOGIN {99999999999999999999999+}\r\nxx\r\n", 40, 0,
	    NULL, 1);
	assert_int_equal(walk_cmd(x->p, &d), -2);
	assert_int_equal(imap_parser_error(x->p, &reason), IMAP_ERR_FATAL);
	sess_free(x);
	str_free(&in);
	str_free(&d);
}

/* The handler gives up after the continuation of a streamed literal
 * (say the disk is full): skip reads the rest of it. */
static void
test_abandon_stream(void **state)
{
	const char *in = "a APPEND box {10}\r\n<+>0123456789 box2 {3+}\r\n"
	    "abc\r\nb NOOP\r\n";
	struct sess *x = sess_new(in, strlen(in), 0, NULL, 1);
	struct imap_cmd cmd;
	struct imap_str box;
	uint64_t size;
	char buf[4];
	int lit8;

	imap_parser_set_literal_mode(x->p, IMAP_LITERAL_PLUS);
	assert_int_equal(imap_cmd_read(x->p, &cmd), 1);
	assert_string_equal(cmd.name, "APPEND");
	assert_int_equal(imap_arg_mailbox(x->p, &box), 0);
	assert_int_equal(imap_arg_literal_begin(x->p, 100, 0, &size, &lit8),
	    0);
	assert_int_equal(size, 10);
	assert_int_equal(imap_literal_read(x->p, buf, 4), 4);
	/* A getter before the literal is read is a handler bug. */
	assert_int_equal(imap_arg_eol(x->p), -1);
	assert_int_equal(imap_cmd_skip(x->p), 0);
	assert_int_equal(imap_cmd_read(x->p, &cmd), 1);
	assert_string_equal(cmd.tag, "b");
	assert_string_equal(cmd.name, "NOOP");
	assert_int_equal(imap_arg_eol(x->p), 0);
	assert_int_equal(imap_cmd_read(x->p, &cmd), 0);
	sess_free(x);
}

/* MULTIAPPEND-style: several streamed literals in one command. */
static void
test_multi_stream(void **state)
{
	const char *in = "a APPEND box {3}\r\n<+>abc box (\\Seen) {2}\r\n<+>de"
	    " CATENATE (TEXT {1}\r\n<+>f)\r\n";
	struct sess *x = sess_new(in, strlen(in), 1, NULL, 1);
	struct imap_cmd cmd;
	struct imap_str s;
	uint64_t size;
	char buf[8];
	int lit8;

	assert_int_equal(imap_cmd_read(x->p, &cmd), 1);
	assert_int_equal(imap_arg_mailbox(x->p, &s), 0);
	assert_int_equal(imap_arg_literal_begin(x->p, 10, 0, &size, &lit8), 0);
	assert_int_equal(imap_literal_read(x->p, buf, 8), 1);
	assert_int_equal(imap_literal_read(x->p, buf + 1, 8), 1);
	assert_int_equal(imap_literal_read(x->p, buf + 2, 8), 1);
	assert_int_equal(imap_literal_read(x->p, buf, 8), 0);
	assert_int_equal(imap_arg_peek(x->p), IMAP_TOK_ATOM);
	assert_int_equal(imap_arg_mailbox(x->p, &s), 0);
	assert_int_equal(imap_arg_peek(x->p), IMAP_TOK_LIST);
	assert_int_equal(imap_arg_list_begin(x->p), 0);
	assert_int_equal(imap_arg_flag(x->p, &s), 0);
	assert_string_equal(s.s, "\\Seen");
	assert_int_equal(imap_arg_list_end(x->p), 0);
	assert_int_equal(imap_arg_peek(x->p), IMAP_TOK_LITERAL);
	assert_int_equal(imap_arg_literal_begin(x->p, 10, 0, &size, &lit8), 0);
	assert_int_equal(size, 2);
	/* Not reading to the 0 is fine once all bytes are in. */
	assert_int_equal(imap_literal_read(x->p, buf, 8), 1);
	assert_int_equal(imap_literal_read(x->p, buf, 8), 1);
	assert_int_equal(imap_arg_atom(x->p, &s), 0);
	assert_string_equal(s.s, "CATENATE");
	assert_int_equal(imap_arg_list_begin(x->p), 0);
	assert_int_equal(imap_arg_atom(x->p, &s), 0);
	assert_int_equal(imap_arg_literal_begin(x->p, 10, 0, &size, &lit8), 0);
	assert_int_equal(imap_literal_read(x->p, buf, 8), 1);
	assert_int_equal(buf[0], 'f');
	assert_int_equal(imap_literal_read(x->p, buf, 8), 0);
	assert_int_equal(imap_arg_peek(x->p), IMAP_TOK_LIST_END);
	assert_int_equal(imap_arg_list_end(x->p), 0);
	assert_int_equal(imap_arg_peek(x->p), IMAP_TOK_EOL);
	assert_int_equal(imap_arg_eol(x->p), 0);
	assert_int_equal(x->c.conts, 3);
	assert_int_equal(imap_cmd_read(x->p, &cmd), 0);
	sess_free(x);
}

/* literal8: streamed only where the caller allows it, NUL kept. */
static void
test_literal8(void **state)
{
	static const char in[] = "a APPEND x ~{3}\r\n<+>a\0b\r\n"
	    "b APPEND x ~{3+}\r\na\0b\r\n"
	    "c APPEND x \"q\"\r\nz NOOP\r\n";
	struct sess *x = sess_new(in, sizeof(in) - 1, 1, NULL, 1);
	struct imap_cmd cmd;
	struct imap_str s;
	const char *reason;
	uint64_t size;
	char buf[8];
	int lit8;

	imap_parser_set_literal_mode(x->p, IMAP_LITERAL_PLUS);
	assert_int_equal(imap_cmd_read(x->p, &cmd), 1);
	assert_int_equal(imap_arg_mailbox(x->p, &s), 0);
	assert_int_equal(imap_arg_literal_begin(x->p, 10, IMAP_LIT8_OK, &size,
	    &lit8), 0);
	assert_int_equal(lit8, 1);
	assert_int_equal(imap_literal_read(x->p, buf, 1), 1);
	assert_int_equal(imap_literal_read(x->p, buf + 1, 1), 1);
	assert_int_equal(imap_literal_read(x->p, buf + 2, 8), 1);
	assert_memory_equal(buf, "a\0b", 3);
	assert_int_equal(imap_literal_read(x->p, buf, 8), 0);
	assert_int_equal(imap_arg_eol(x->p), 0);
	assert_int_equal(x->c.conts, 1);
	/* Not allowed by this caller: refused, the bytes discarded. */
	assert_int_equal(imap_cmd_read(x->p, &cmd), 1);
	assert_int_equal(imap_arg_mailbox(x->p, &s), 0);
	assert_int_equal(imap_arg_literal_begin(x->p, 10, 0, &size, &lit8),
	    -1);
	assert_int_equal(imap_parser_error(x->p, &reason), IMAP_ERR_BAD);
	assert_string_equal(reason, "literal8 not allowed here");
	assert_int_equal(imap_cmd_skip(x->p), 0);
	/* A message must be a literal. */
	assert_int_equal(imap_cmd_read(x->p, &cmd), 1);
	assert_string_equal(cmd.tag, "c");
	assert_int_equal(imap_arg_mailbox(x->p, &s), 0);
	assert_int_equal(imap_arg_literal_begin(x->p, 10, 0, &size, &lit8),
	    -1);
	assert_int_equal(imap_parser_error(x->p, &reason), IMAP_ERR_BAD);
	assert_string_equal(reason, "Expected a literal");
	assert_int_equal(imap_cmd_read(x->p, &cmd), 1);	/* skips itself */
	assert_string_equal(cmd.tag, "z");
	sess_free(x);
}

/* ---- A 10 MB literal streamed in pieces with bounded memory. */

#define BIG (10u * 1024 * 1024)

struct gen {
	const char *head;	/* then BIG bytes of pattern, then tail */
	const char *tail;
	uint64_t pos;
	int conts;
	size_t maxread;
};

static unsigned char
gen_byte(uint64_t i)
{
	return (unsigned char)('a' + (i * 7 + i / 251) % 26);
}

static ssize_t
gen_read(void *ctx, void *buf, size_t n)
{
	struct gen *g = ctx;
	uint64_t hl = strlen(g->head), tl = strlen(g->tail), i;
	unsigned char *b = buf;
	size_t k = 0;

	if (n > g->maxread)
		g->maxread = n;
	if (g->pos == hl && g->conts == 0) {
		errno = EDEADLK;
		return -1;
	}
	while (k < n && g->pos < hl + BIG + tl) {
		i = g->pos;
		if (i < hl) {
			b[k] = (unsigned char)g->head[i];
		} else if (i < hl + BIG)
			b[k] = gen_byte(i - hl);
		else
			b[k] = (unsigned char)g->tail[i - hl - BIG];
		k++;
		g->pos++;
		if (g->pos == hl)
			break;		/* wait for the "+" */
	}
	return (ssize_t)k;
}

static ssize_t
gen_write(void *ctx, const void *buf, size_t n)
{
	return (ssize_t)n;
}

static int
gen_cont(void *ctx, uint64_t size)
{
	struct gen *g = ctx;

	assert_int_equal(size, BIG);
	g->conts++;
	return 0;
}

static void
test_stream_10mb(void **state)
{
	static const struct io_ops ops = { gen_read, gen_write };
	struct gen g = { "A1 APPEND INBOX (\\Seen) {10485760}\r\n",
	    "\r\nA2 NOOP\r\n", 0, 0, 0 };
	struct io *io = malloc(sizeof(*io));
	struct imap_parser *p;
	struct imap_cmd cmd;
	struct imap_str s;
	uint64_t size, got = 0;
	unsigned char buf[1000];
	size_t pieces = 0, i, heap0, heap;
	ssize_t n;
	int lit8, ok = 1;

	assert_non_null(io);
	io_init_ops(io, &ops, &g);
	p = imap_parser_new(io, NULL);
	imap_parser_set_cont(p, gen_cont, &g);
	heap0 = mallinfo2().uordblks;
	assert_int_equal(imap_cmd_read(p, &cmd), 1);
	assert_int_equal(imap_arg_mailbox(p, &s), 0);
	assert_int_equal(imap_arg_list_begin(p), 0);
	assert_int_equal(imap_arg_flag(p, &s), 0);
	assert_int_equal(imap_arg_list_end(p), 0);
	/* Over the in-memory literal limit, but streamed. */
	assert_int_equal(imap_arg_literal_begin(p, 64u << 20, 0, &size, &lit8),
	    0);
	assert_int_equal(size, BIG);
	assert_int_equal(g.conts, 1);
	while ((n = imap_literal_read(p, buf, sizeof(buf))) > 0) {
		for (i = 0; i < (size_t)n; i++)
			ok &= buf[i] == gen_byte(got + i);
		got += (uint64_t)n;
		pieces++;
		heap = mallinfo2().uordblks;
		/* Never anything like the literal held in memory. */
		assert_true(heap < heap0 + 256 * 1024);
	}
	assert_int_equal(n, 0);
	assert_true(ok);
	assert_int_equal(got, BIG);
	assert_true(pieces >= BIG / sizeof(buf));
	assert_int_equal(imap_arg_eol(p), 0);
	assert_int_equal(imap_cmd_read(p, &cmd), 1);
	assert_string_equal(cmd.tag, "A2");
	assert_int_equal(imap_cmd_read(p, &cmd), 0);
	/* The transport was never asked for more than a buffer. */
	assert_true(g.maxread <= IO_BUFSIZE);
	imap_parser_free(&p);
	free(io);
}

/* ---- Limits. */

static void
expect_error(const char *in, const struct imap_limits *lim, const char *err)
{
	struct str d = STR_INIT;
	struct sess *x = sess_new(in, strlen(in), 0, lim, 1);

	imap_parser_set_literal_mode(x->p, IMAP_LITERAL_PLUS);
	assert_int_equal(walk_cmd(x->p, &d), -1);
	assert_string_equal(str_cstr(&d), err);
	assert_int_equal(walk_cmd(x->p, &d), 1);
	assert_string_equal(str_cstr(&d), "z NOOP");
	sess_free(x);
	str_free(&d);
}

static void
test_limits(void **state)
{
	struct imap_limits lim;
	struct str in = STR_INIT;
	int i;

	imap_limits_default(&lim);
	lim.line_max = 40;
	lim.literal_max = 10;
	lim.cmd_max = 30;
	lim.depth_max = 3;
	lim.args_max = 6;
	lim.ranges_max = 3;
	/* Line too long, with and without a literal at its end. */
	expect_error("a LOGIN aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa b\r\n"
	    "z NOOP\r\n", &lim,
	    "* TOOBIG: Command line too long (max 40 bytes)");
	expect_error("a LOGIN aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa {3+}\r\n"
	    "abc\r\nz NOOP\r\n", &lim,
	    "* TOOBIG: Command line too long (max 40 bytes)");
	/* The line limit counts every line of the command. */
	expect_error("a LOGIN {3}\r\n<+>abc bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	    "\r\nz NOOP\r\n", &lim,
	    "a TOOBIG: Command line too long (max 40 bytes)");
	expect_error("a LOGIN {11}\r\nz NOOP\r\n", &lim,
	    "a TOOBIG: Literal too big (max 10 bytes)");
	expect_error("a LOGIN {11+}\r\n01234567890\r\nz NOOP\r\n", &lim,
	    "a TOOBIG: Literal too big (max 10 bytes)");
	/* Text plus in-memory literals over cmd_max. */
	expect_error("a LOGIN {10}\r\n<+>0123456789 {10}\r\nz NOOP\r\n", &lim,
	    "a TOOBIG: Command too big (max 30 bytes)");
	expect_error("a SEARCH ((((SEEN))))\r\nz NOOP\r\n", &lim,
	    "a: Lists nested too deeply (max 3)");
	expect_error("a SEARCH X X X X X X X\r\nz NOOP\r\n", &lim, "a: Too many arguments (max 6)");
	expect_error("a FETCH 1,2,3,4 FLAGS\r\nz NOOP\r\n", &lim,
	    "a: Too many ranges in sequence set (max 3)");
	/* Deep nesting with the defaults. */
	str_appends(&in, "a SEARCH ");
	for (i = 0; i < 17; i++)
		str_appendc(&in, '(');
	str_appends(&in, "SEEN");
	for (i = 0; i < 17; i++)
		str_appendc(&in, ')');
	str_appends(&in, "\r\nz NOOP\r\n");
	expect_error(in.s, NULL, "a: Lists nested too deeply (max 16)");
	/* A line over the default 64 KB. */
	str_clear(&in);
	str_appends(&in, "a LOGIN ");
	while (in.len < 70000)
		str_appendc(&in, 'x');
	str_appends(&in, " y\r\nz NOOP\r\n");
	expect_error(in.s, NULL,
	    "* TOOBIG: Command line too long (max 65536 bytes)");
	str_free(&in);
}

/* ---- EOF and I/O. */

static void
test_eof(void **state)
{
	struct str d = STR_INIT;
	struct sess *x;
	const char *reason;

	x = sess_new("", 0, 0, NULL, 1);
	assert_int_equal(walk_cmd(x->p, &d), 0);
	sess_free(x);
	x = sess_new("\r\n\r\n", 4, 0, NULL, 1);
	assert_int_equal(walk_cmd(x->p, &d), 0);
	sess_free(x);
	/* EOF inside a line, inside a literal, after a literal. */
	x = sess_new("a NOOP", 6, 0, NULL, 1);
	assert_int_equal(walk_cmd(x->p, &d), -2);
	assert_int_equal(imap_parser_error(x->p, &reason), IMAP_ERR_FATAL);
	assert_string_equal(reason, "Connection closed in mid-command");
	sess_free(x);
	x = sess_new("a LOGIN {5}\r\n<+>ab", 18, 0, NULL, 1);
	assert_int_equal(walk_cmd(x->p, &d), -2);
	assert_string_equal(str_cstr(&d),
	    "a FATAL: Connection closed in mid-command");
	sess_free(x);
	x = sess_new("a APPEND x {5}\r\n<+>ab", 21, 0, NULL, 1);
	assert_int_equal(walk_cmd(x->p, &d), -2);
	sess_free(x);
	x = sess_new("a LOGIN {2}\r\n<+>ab", 18, 0, NULL, 1);
	assert_int_equal(walk_cmd(x->p, &d), -2);
	sess_free(x);
	/* A timeout in mid-command, and between commands. */
	x = sess_new("a LOGIN fred", 12, 0, NULL, 1);
	x->c.err = ETIMEDOUT;
	assert_int_equal(walk_cmd(x->p, &d), -2);
	assert_string_equal(str_cstr(&d), "* FATAL: Timed out");
	sess_free(x);
	x = sess_new("a NOOP\r\n", 8, 0, NULL, 1);
	x->c.err = ECONNRESET;
	assert_int_equal(walk_cmd(x->p, &d), 1);
	assert_int_equal(walk_cmd(x->p, &d), -2);
	assert_int_equal(imap_parser_error(x->p, &reason), IMAP_ERR_FATAL);
	assert_string_equal(reason, "Connection error: Connection reset by "
	    "peer");
	sess_free(x);
	str_free(&d);
}

/* The parser never reads past the command: IDLE's DONE is the caller's. */
static void
test_no_overread(void **state)
{
	const char *in = "a IDLE\r\nDONE\r\nb NOOP\r\n";
	struct sess *x = sess_new(in, strlen(in), 0, NULL, 1);
	struct imap_cmd cmd;
	struct str line = STR_INIT;

	assert_int_equal(imap_cmd_read(x->p, &cmd), 1);
	assert_string_equal(cmd.name, "IDLE");
	assert_int_equal(imap_arg_eol(x->p), 0);
	assert_int_equal(io_getline(&x->io, &line, 100), 1);
	assert_string_equal(str_cstr(&line), "DONE\r\n");
	assert_int_equal(imap_cmd_read(x->p, &cmd), 1);
	assert_string_equal(cmd.name, "NOOP");
	sess_free(x);
	str_free(&line);
}

/* UTF8=ACCEPT: UTF-8 in quoted strings, valid only. */
static void
test_utf8(void **state)
{
	const char *in = "a SELECT \"Entw\xc3\xbcrfe\"\r\n"
	    "b SELECT \"bad\xc3(\"\r\nz NOOP\r\n";
	struct sess *x = sess_new(in, strlen(in), 0, NULL, 1);
	struct str d = STR_INIT;

	imap_parser_set_utf8(x->p, 1);
	assert_int_equal(walk_cmd(x->p, &d), 1);
	assert_string_equal(str_cstr(&d), "a SELECT M:Entw\xc3\xbcrfe");
	assert_int_equal(walk_cmd(x->p, &d), -1);
	assert_string_equal(str_cstr(&d), "b: Invalid UTF-8 in quoted string");
	assert_int_equal(walk_cmd(x->p, &d), 1);
	sess_free(x);
	str_free(&d);
}

/* Getters used directly: numbers, nstring, peek. */
static void
test_getters(void **state)
{
	const char *in = "t X 0 4294967295 9223372036854775807 1 NIL nil "
	    "\"NIL\" {3}\r\n<+>NIL NILS ~foo \"q\" ) \r\n";
	struct sess *x = sess_new(in, strlen(in), 0, NULL, 1);
	struct imap_cmd cmd;
	struct imap_str s;
	uint32_t n;
	uint64_t n64;

	assert_int_equal(imap_cmd_read(x->p, &cmd), 1);
	assert_string_equal(cmd.name, "X");
	assert_int_equal(imap_arg_peek_char(x->p), '0');
	assert_int_equal(imap_arg_number(x->p, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(imap_arg_number(x->p, &n), 0);
	assert_int_equal(n, 4294967295u);
	assert_int_equal(imap_arg_number64(x->p, &n64), 0);
	assert_int_equal(n64, 9223372036854775807ULL);
	assert_int_equal(imap_arg_nz_number(x->p, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(imap_arg_nstring(x->p, &s), 0);
	assert_null(s.s);
	assert_int_equal(imap_arg_nstring(x->p, &s), 0);
	assert_null(s.s);
	assert_int_equal(imap_arg_nstring(x->p, &s), 0);
	assert_string_equal(s.s, "NIL");
	assert_int_equal(imap_arg_peek(x->p), IMAP_TOK_LITERAL);
	assert_int_equal(imap_arg_peek_char(x->p), -1);
	assert_int_equal(imap_arg_nstring(x->p, &s), 0);
	assert_string_equal(s.s, "NIL");
	assert_int_equal(s.len, 3);
	assert_int_equal(imap_arg_astring(x->p, &s), 0);
	assert_string_equal(s.s, "NILS");
	assert_int_equal(imap_arg_astring(x->p, &s), 0);
	assert_string_equal(s.s, "~foo");
	assert_int_equal(imap_arg_peek(x->p), IMAP_TOK_QUOTED);
	assert_int_equal(imap_arg_string(x->p, &s), 0);
	assert_int_equal(imap_arg_peek(x->p), IMAP_TOK_LIST_END);
	assert_int_equal(imap_arg_list_end(x->p), -1);	/* depth 0 */
	assert_int_equal(imap_arg_peek(x->p), IMAP_TOK_ERROR);
	assert_int_equal(imap_cmd_skip(x->p), 0);
	sess_free(x);
	/* Number limits. */
	x = sess_new("t X 9223372036854775808 0\r\n", 27, 0, NULL, 1);
	assert_int_equal(imap_cmd_read(x->p, &cmd), 1);
	assert_int_equal(imap_arg_number64(x->p, &n64), -1);
	sess_free(x);
	x = sess_new("t X 0\r\n", 7, 0, NULL, 1);
	assert_int_equal(imap_cmd_read(x->p, &cmd), 1);
	assert_int_equal(imap_arg_nz_number(x->p, &n), -1);
	sess_free(x);
}

static void
test_dates(void **state)
{
	static const struct {
		const char *s;
		long long t;	/* -1: invalid */
		int zone;
	} rows[] = {
		{ "17-Jul-1996 02:44:25 -0700", 837596665, -420 },
		{ " 7-Jul-1996 02:44:25 +0000", 836707465, 0 },
		{ "07-Jul-1996 02:44:25 +0000", 836707465, 0 },
		{ "7-Jul-1996 02:44:25 +0000", 836707465, 0 },
		{ "01-jan-1970 00:00:00 +0000", 0, 0 },
		{ "01-Jan-1970 01:00:00 +0100", 0, 60 },
		{ "29-Feb-2024 23:59:60 +0530", 1709231400, 330 },
		{ "29-Feb-2023 10:00:00 +0000", -1, 0 },
		{ "31-Apr-2020 10:00:00 +0000", -1, 0 },
		{ "17-Jul-1996 24:00:00 +0000", -1, 0 },
		{ "17-Jul-1996 02:60:00 +0000", -1, 0 },
		{ "17-Jul-1996 02:44:25 +2400", -1, 0 },
		{ "17-Jul-1996 02:44:25 +0060", -1, 0 },
		{ "17-Jul-1996 02:44:25 0000", -1, 0 },
		{ "17-Jul-1996 02:44:25", -1, 0 },
		{ "17-Jul-96 02:44:25 +0000", -1, 0 },
		{ " 17-Jul-1996 02:44:25 +0000", -1, 0 },
		{ "17 Jul 1996 02:44:25 +0000", -1, 0 },
		{ "17-Jul-1996  2:44:25 +0000", -1, 0 },
		{ "", -1, 0 },
	};
	struct imap_date d;
	time_t t;
	size_t i;
	int zone;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int r = imap_datetime_parse(rows[i].s, strlen(rows[i].s), &t,
		    &zone);

		if (rows[i].t == -1) {
			assert_int_equal(r, -1);
			continue;
		}
		assert_int_equal(r, 0);
		assert_int_equal((long long)t, rows[i].t);
		assert_int_equal(zone, rows[i].zone);
	}
	assert_int_equal(imap_date_parse("1-Feb-1994", 10, &d), 0);
	assert_int_equal(d.year, 1994);
	assert_int_equal(d.mon, 2);
	assert_int_equal(d.mday, 1);
	assert_int_equal(imap_date_parse("29-Feb-2000", 11, &d), 0);
	assert_int_equal(imap_date_parse("29-Feb-1900", 11, &d), -1);
	assert_int_equal(imap_date_parse("0-Feb-1994", 10, &d), -1);
	assert_int_equal(imap_date_parse("1-Feb-1994x", 11, &d), -1);
	assert_int_equal(imap_date_parse("1-Feb-0000", 10, &d), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_good_bytewise),
		cmocka_unit_test(test_good_chunk7),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_bad_bytewise),
		cmocka_unit_test(test_cont_exact),
		cmocka_unit_test(test_cont_default),
		cmocka_unit_test(test_literal_minus),
		cmocka_unit_test(test_refused_sync),
		cmocka_unit_test(test_discard_max),
		cmocka_unit_test(test_abandon_stream),
		cmocka_unit_test(test_multi_stream),
		cmocka_unit_test(test_literal8),
		cmocka_unit_test(test_stream_10mb),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_eof),
		cmocka_unit_test(test_no_overread),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_getters),
		cmocka_unit_test(test_dates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
