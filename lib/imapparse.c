/* SPDX-License-Identifier: ISC */
/*
 * imapparse: reading commands line by line and literal by literal from a
 * struct io, the command head (tag, name, UID), and resynchronisation
 * after errors.  Tokens and getters are in imapparse-args.c, fetch
 * attributes and dates in imapparse-att.c.
 *
 * A command is a series of lines joined by literals: the parser holds one
 * line at a time in seg, notes at once whether it ends with a literal
 * announcement ({n}, {n+}, ~{n}, ~{n+}), and lets tokens run only up to
 * that announcement (end).  The literal's bytes are read only when a
 * getter asks for a string there; the next line is read only when a getter
 * needs it.  So the parser never reads past the command, and
 * imap_cmd_skip() knows at each point what the client will still send.
 */
#include "imapparse.h"
#include "imapparse-private.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IMAP_CHUNK 4096		/* arena chunk */
#define IMAP_TAIL 32		/* kept of an over-long line, to spot a
				 * literal announcement at its end */

void
imap_limits_default(struct imap_limits *lim)
{
	lim->line_max = 65536;
	lim->literal_max = 65536;
	lim->cmd_max = 1024 * 1024;
	lim->depth_max = 16;
	lim->args_max = 10000;
	lim->ranges_max = 65536;
	lim->discard_max = 1024 * 1024;
}

struct imap_parser *
imap_parser_new(struct io *io, const struct imap_limits *lim)
{
	struct imap_parser *p;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	p->io = io;
	if (lim != NULL)
		p->lim = *lim;
	else
		imap_limits_default(&p->lim);
	str_init(&p->seg, 0);
	return p;
}

static void
imap_arena_free(struct imap_parser *p)
{
	struct imap_chunk *c, *next;

	for (c = p->arena; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	p->arena = NULL;
}

void
imap_parser_free(struct imap_parser **pp)
{
	struct imap_parser *p = *pp;

	if (p == NULL)
		return;
	imap_arena_free(p);
	str_free(&p->seg);
	free(p);
	*pp = NULL;
}

void
imap_parser_set_cont(struct imap_parser *p, imap_cont_fn *fn, void *ctx)
{
	p->cont = fn;
	p->cont_ctx = ctx;
}

void
imap_parser_set_literal_mode(struct imap_parser *p,
    enum imap_literal_mode mode)
{
	p->litmode = mode;
}

void
imap_parser_set_utf8(struct imap_parser *p, int on)
{
	p->utf8 = on != 0;
}

enum imap_err
imap_parser_error(const struct imap_parser *p, const char **reason_r)
{
	*reason_r = p->reason;
	return p->err;
}

int
imap_fail(struct imap_parser *p, enum imap_err kind, const char *fmt, ...)
{
	va_list ap;

	if (kind == IMAP_ERR_FATAL)
		p->dead = 1;
	/* The first error is the one the client is told about, except that
	 * a fatal one always wins: the connection is going. */
	if (p->err != IMAP_ERR_NONE && kind != IMAP_ERR_FATAL)
		return -1;
	p->err = kind;
	va_start(ap, fmt);
	vsnprintf(p->reason, sizeof(p->reason), fmt, ap);
	va_end(ap);
	return -1;
}

/* A failed read or write of the connection. */
static int
imap_fail_io(struct imap_parser *p, int err)
{
	if (err == EPIPE)
		return imap_fail(p, IMAP_ERR_FATAL,
		    "Connection closed in mid-command");
	if (err == ETIMEDOUT)
		return imap_fail(p, IMAP_ERR_FATAL, "Timed out");
	return imap_fail(p, IMAP_ERR_FATAL, "Connection error: %s",
	    strerror(err));
}

void *
imap_alloc(struct imap_parser *p, size_t n)
{
	struct imap_chunk *c = p->arena;
	size_t need, cap;
	void *r;

	if (n > SIZE_MAX / 2) {
		imap_fail(p, IMAP_ERR_FATAL, "Out of memory");
		return NULL;
	}
	need = (n + 7) & ~(size_t)7;
	if (c == NULL || c->cap - c->used < need) {
		cap = need > IMAP_CHUNK ? need : IMAP_CHUNK;
		if ((c = malloc(sizeof(*c) + cap)) == NULL) {
			imap_fail(p, IMAP_ERR_FATAL, "Out of memory");
			return NULL;
		}
		c->next = p->arena;
		c->used = 0;
		c->cap = cap;
		p->arena = c;
	}
	r = c->data + c->used;
	c->used += need;
	return r;
}

char *
imap_strdup(struct imap_parser *p, const char *s, size_t n)
{
	char *d;

	if ((d = imap_alloc(p, n + 1)) == NULL)
		return NULL;
	if (n)
		memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

/* Keep only the last IMAP_TAIL bytes of seg. */
static void
imap_keep_tail(struct str *seg)
{
	if (seg->len <= IMAP_TAIL)
		return;
	memmove(seg->s, seg->s + seg->len - IMAP_TAIL, IMAP_TAIL);
	str_truncate(seg, IMAP_TAIL);
}

/* Add n bytes of a line to seg, or once it is over max, only its tail. */
static int
imap_line_add(struct str *seg, const unsigned char *b, size_t n, size_t max,
    int *toolong)
{
	if (!*toolong) {
		/* seg->len + n cannot overflow: n <= IO_BUFSIZE and seg is
		 * at most max + 2 long; the + 2 is the CRLF. */
		if (seg->len + n <= max || seg->len + n - max <= 2)
			return str_append(seg, b, n);
		*toolong = 1;
		imap_keep_tail(seg);
	}
	if (n > IMAP_TAIL) {
		b += n - IMAP_TAIL;
		n = IMAP_TAIL;
	}
	if (str_append(seg, b, n) < 0)
		return -1;
	imap_keep_tail(seg);
	return 0;
}

/*
 * Read one line into seg without its LF (and the CR before it), reading
 * from the io's buffer up to the LF and no further.  Not io_getline():
 * on an over-long line it drops the end, and the end is what tells
 * whether a literal follows (its bytes must then be skipped, RFC 7888);
 * the buffer is used as io.h documents it, unread bytes in
 * rbuf[rpos..rlen).  Keeps at most max
 * bytes; a longer line is consumed whole and *toolong_r set, seg then
 * holding its last bytes.  Returns 1, 0 at EOF before the first byte, or
 * -1 with errno (EPIPE: EOF in mid-line).  *nread_r counts bytes read.
 */
static int
imap_readline(struct imap_parser *p, size_t max, int *toolong_r,
    uint64_t *nread_r)
{
	struct io *io = p->io;
	const unsigned char *b, *lf;
	unsigned char c;
	size_t n;
	ssize_t r;

	str_clear(&p->seg);
	*toolong_r = 0;
	*nread_r = 0;
	for (;;) {
		if (io_pending(io) == 0) {
			/* One byte, so that io refills its buffer and
			 * nothing beyond the line leaves it. */
			if ((r = io_read(io, &c, 1)) < 0)
				return -1;
			if (r == 0) {
				if (*nread_r == 0)
					return 0;
				errno = EPIPE;
				return -1;
			}
			b = &c;
			n = 1;
			lf = c == '\n' ? b : NULL;
		} else {
			b = io->rbuf + io->rpos;
			n = io_pending(io);
			if ((lf = memchr(b, '\n', n)) != NULL)
				n = (size_t)(lf - b) + 1;
			io->rpos += n;
		}
		*nread_r += n;
		if (imap_line_add(&p->seg, b, n, max, toolong_r) < 0)
			return -1;
		if (lf != NULL)
			break;
	}
	str_truncate(&p->seg, p->seg.len - 1);
	if (p->seg.len > 0 && p->seg.s[p->seg.len - 1] == '\r')
		str_truncate(&p->seg, p->seg.len - 1);
	return 1;
}

static int
imap_isdigit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* Does seg end with a literal announcement?  Sets lit, litsync, lit8,
 * litlen, litbad and end (where tokens stop). */
static void
imap_find_literal(struct imap_parser *p)
{
	const unsigned char *s = (const unsigned char *)p->seg.s;
	size_t n = p->seg.len, i, j, k;
	uint64_t v = 0;

	p->lit = 0;
	p->litbad = 0;
	p->end = n;
	if (n < 3 || s[n - 1] != '}')
		return;
	i = n - 1;			/* the "}" */
	p->litsync = s[i - 1] != '+';
	if (!p->litsync)
		i--;
	for (j = i; j > 0 && imap_isdigit(s[j - 1]); j--)
		;
	if (j == i || j == 0 || s[j - 1] != '{')
		return;
	for (k = j; k < i; k++) {
		if (v > (UINT64_MAX - 9) / 10)
			p->litbad = 1;
		else
			v = v * 10 + (s[k] - '0');
	}
	if (v > INT64_MAX)
		p->litbad = 1;
	j--;				/* the "{" */
	p->lit8 = j > 0 && s[j - 1] == '~';
	if (p->lit8)
		j--;
	p->lit = 1;
	p->litlen = v;
	p->end = j;
}

/* Read the next line of the command into seg (limits applied).
 * Returns 1, 0 at EOF (only when at_start), -1 on error. */
static int
imap_next_line(struct imap_parser *p, int at_start)
{
	size_t room = 0;
	uint64_t nread;
	int r, toolong;

	if (p->lim.line_max > p->line_total)
		room = p->lim.line_max - p->line_total;
	r = imap_readline(p, room, &toolong, &nread);
	if (r < 0)
		return imap_fail_io(p, errno);
	if (r == 0) {
		if (at_start)
			return 0;
		return imap_fail_io(p, EPIPE);
	}
	imap_find_literal(p);
	p->st = IMAP_ST_SEG;
	p->pos = 0;
	if (toolong) {
		p->pos = p->end;	/* nothing of it is parsed */
		return imap_fail(p, IMAP_ERR_TOOBIG,
		    "Command line too long (max %zu bytes)", p->lim.line_max);
	}
	p->line_total += p->seg.len;
	p->cmd_total += p->seg.len;
	if (p->cmd_total > p->lim.cmd_max)
		return imap_fail(p, IMAP_ERR_TOOBIG,
		    "Command too big (max %zu bytes)", p->lim.cmd_max);
	return 1;
}

int
imap_ensure(struct imap_parser *p)
{
	if (p->err != IMAP_ERR_NONE)
		return -1;
	switch (p->st) {
	case IMAP_ST_SEG:
		return 0;
	case IMAP_ST_STREAM:
		if (p->stream_left > 0)
			return imap_fail(p, IMAP_ERR_BAD,
			    "Literal not read to its end");
		p->st = IMAP_ST_AFTER_LIT;
		/* FALLTHROUGH */
	case IMAP_ST_AFTER_LIT:
		return imap_next_line(p, 0) < 0 ? -1 : 0;
	case IMAP_ST_DONE:
		return imap_fail(p, IMAP_ERR_BAD, "Command already ended");
	default:
		return imap_fail(p, IMAP_ERR_BAD, "No command");
	}
}

int
imap_count_arg(struct imap_parser *p)
{
	if (++p->nargs > p->lim.args_max)
		return imap_fail(p, IMAP_ERR_BAD,
		    "Too many arguments (max %u)", p->lim.args_max);
	return 0;
}

int
imap_sep(struct imap_parser *p)
{
	const char *s;

	if (imap_ensure(p) < 0)
		return -1;
	s = p->seg.s;
	if (p->sep == IMAP_SEP_NEEDED) {
		if (p->pos == p->seg.len || s[p->pos] == ')')
			return imap_fail(p, IMAP_ERR_BAD, "Missing argument");
		if (p->pos >= p->end || s[p->pos] != ' ')
			return imap_fail(p, IMAP_ERR_BAD,
			    "Missing space between arguments");
		p->pos++;
	}
	p->sep = IMAP_SEP_NONE;
	if (p->pos == p->seg.len)
		return imap_fail(p, IMAP_ERR_BAD, p->pos > 0 &&
		    s[p->pos - 1] == ' ' ? "Unexpected space at end of line" :
		    "Missing argument");
	if (s[p->pos] == ' ')
		return imap_fail(p, IMAP_ERR_BAD, "Extra space");
	return imap_count_arg(p);
}

/* Send the continuation request for an accepted synchronising literal. */
static int
imap_send_cont(struct imap_parser *p)
{
	if (p->cont != NULL) {
		if (p->cont(p->cont_ctx, p->litlen) < 0)
			return imap_fail(p, IMAP_ERR_FATAL,
			    "Cannot send continuation");
		return 0;
	}
	if (io_puts(p->io, "+ OK\r\n") < 0 || io_flush(p->io) < 0)
		return imap_fail_io(p, errno);
	return 0;
}

/* Is the literal announced at pos acceptable, max bytes at most? */
int
imap_literal_check(struct imap_parser *p, uint64_t max, int allow8)
{
	const char *s = p->seg.s + p->pos;

	if (!p->lit || p->pos != p->end)
		return imap_fail(p, IMAP_ERR_BAD, p->pos < p->end &&
		    (s[0] == '{' || (s[0] == '~' && s[1] == '{')) ?
		    "Literal must end the line" : "Expected a literal");
	if (p->litbad)
		return imap_fail(p, IMAP_ERR_BAD, "Invalid literal length");
	if (p->lit8 && !allow8)
		return imap_fail(p, IMAP_ERR_BAD, "literal8 not allowed here");
	if (!p->litsync) {
		if (p->litmode == IMAP_LITERAL_SYNC)
			return imap_fail(p, IMAP_ERR_BAD,
			    "Non-synchronizing literals not supported");
		if (p->litmode == IMAP_LITERAL_MINUS &&
		    p->litlen > IMAP_LITERAL_MINUS_MAX)
			return imap_fail(p, IMAP_ERR_TOOBIG,
			    "Non-synchronizing literal over %d bytes",
			    IMAP_LITERAL_MINUS_MAX);
	}
	if (p->litlen > max)
		return imap_fail(p, IMAP_ERR_TOOBIG,
		    "Literal too big (max %llu bytes)",
		    (unsigned long long)max);
	return 0;
}

/* Read the (in-memory) literal at pos into s_r. */
int
imap_literal_mem(struct imap_parser *p, int allow8, struct imap_str *s_r)
{
	size_t n;
	char *d;

	if (imap_literal_check(p, p->lim.literal_max, allow8) < 0)
		return -1;
	n = (size_t)p->litlen;
	if (n > p->lim.cmd_max - p->cmd_total)
		return imap_fail(p, IMAP_ERR_TOOBIG,
		    "Command too big (max %zu bytes)", p->lim.cmd_max);
	if ((d = imap_alloc(p, n + 1)) == NULL)
		return -1;
	if (p->litsync && imap_send_cont(p) < 0)
		return -1;
	p->st = IMAP_ST_AFTER_LIT;
	if (io_readn(p->io, d, n) < 0)
		return imap_fail_io(p, errno);
	p->cmd_total += n;
	d[n] = '\0';
	if (!p->lit8 && memchr(d, 0, n) != NULL)
		return imap_fail(p, IMAP_ERR_BAD, "NUL byte in literal");
	p->pos = p->seg.len;
	p->sep = IMAP_SEP_NEEDED;
	s_r->s = d;
	s_r->len = n;
	return 0;
}

int
imap_arg_literal_begin(struct imap_parser *p, uint64_t max, int flags,
    uint64_t *size_r, int *lit8_r)
{
	if (imap_sep(p) < 0)
		return -1;
	if (imap_literal_check(p, max, flags & IMAP_LIT8_OK) < 0)
		return -1;
	if (p->litsync && imap_send_cont(p) < 0)
		return -1;
	p->st = IMAP_ST_STREAM;
	p->stream_left = p->litlen;
	p->stream8 = p->lit8;
	p->pos = p->seg.len;
	p->sep = IMAP_SEP_NEEDED;
	*size_r = p->litlen;
	*lit8_r = p->lit8;
	return 0;
}

ssize_t
imap_literal_read(struct imap_parser *p, void *buf, size_t n)
{
	ssize_t r;

	if (p->err != IMAP_ERR_NONE)
		return -1;
	if (p->st != IMAP_ST_STREAM)
		return imap_fail(p, IMAP_ERR_BAD, "No literal being read");
	if (p->stream_left == 0) {
		p->st = IMAP_ST_AFTER_LIT;
		return 0;
	}
	if (n == 0)
		return imap_fail(p, IMAP_ERR_BAD, "Empty literal read");
	if (n > p->stream_left)
		n = (size_t)p->stream_left;
	if ((r = io_read(p->io, buf, n)) < 0)
		return imap_fail_io(p, errno);
	if (r == 0)
		return imap_fail_io(p, EPIPE);
	p->stream_left -= (uint64_t)r;
	if (!p->stream8 && memchr(buf, 0, (size_t)r) != NULL)
		return imap_fail(p, IMAP_ERR_BAD, "NUL byte in literal");
	return r;
}

/* Read and throw away n bytes. */
static int
imap_discard(struct imap_parser *p, uint64_t n)
{
	char buf[4096];
	ssize_t r;

	while (n > 0) {
		r = io_read(p->io, buf, n > sizeof(buf) ? sizeof(buf) :
		    (size_t)n);
		if (r < 0)
			return imap_fail_io(p, errno);
		if (r == 0)
			return imap_fail_io(p, EPIPE);
		n -= (uint64_t)r;
	}
	return 0;
}

/* One step of imap_cmd_skip: 1 when the command is over, 0 to go on,
 * -1 fatal. */
static int
imap_skip_step(struct imap_parser *p)
{
	uint64_t nread;
	int r, toolong;

	switch (p->st) {
	case IMAP_ST_STREAM:
		/* Accepted and announced: the client sends it all. */
		if (imap_discard(p, p->stream_left) < 0)
			return -1;
		p->stream_left = 0;
		p->st = IMAP_ST_AFTER_LIT;
		return 0;
	case IMAP_ST_AFTER_LIT:
		r = imap_readline(p, p->lim.line_max, &toolong, &nread);
		if (r <= 0)
			return imap_fail_io(p, r < 0 ? errno : EPIPE);
		p->discarded += nread;
		if (p->discarded > p->lim.discard_max)
			return imap_fail(p, IMAP_ERR_FATAL,
			    "Too much data to discard");
		imap_find_literal(p);
		p->st = IMAP_ST_SEG;
		return 0;
	case IMAP_ST_SEG:
		/* A synchronising literal never got its "+": the client
		 * sends nothing more of this command. */
		if (!p->lit || p->litsync)
			return 1;
		if (p->litbad)
			return imap_fail(p, IMAP_ERR_FATAL,
			    "Invalid non-synchronizing literal length");
		if (p->litlen > p->lim.discard_max - p->discarded)
			return imap_fail(p, IMAP_ERR_FATAL,
			    "Too much data to discard");
		if (imap_discard(p, p->litlen) < 0)
			return -1;
		p->discarded += p->litlen;
		p->st = IMAP_ST_AFTER_LIT;
		return 0;
	default:
		return 1;
	}
}

int
imap_cmd_skip(struct imap_parser *p)
{
	int r;

	if (p->dead)
		return -1;
	p->discarded = 0;
	while ((r = imap_skip_step(p)) == 0)
		;
	if (r < 0)
		return -1;
	p->st = IMAP_ST_IDLE;
	p->err = IMAP_ERR_NONE;
	p->reason[0] = '\0';
	return 0;
}

/* Start a new command: empty arena, counters and error. */
static void
imap_reset(struct imap_parser *p)
{
	imap_arena_free(p);
	p->err = IMAP_ERR_NONE;
	p->reason[0] = '\0';
	p->sep = IMAP_SEP_NONE;
	p->depth = 0;
	p->nargs = 0;
	p->line_total = 0;
	p->cmd_total = 0;
	p->stream_left = 0;
	p->pos = 0;
}

/* The command name at pos into cmd->name (upper-cased). */
static int
imap_cmd_name(struct imap_parser *p, char *name)
{
	size_t n = imap_span(p, imap_class_atom), i;

	if (n == 0) {
		if (p->pos < p->end)
			return imap_fail_char(p,
			    (unsigned char)p->seg.s[p->pos], "command name");
		return imap_fail(p, IMAP_ERR_BAD, "Missing command name");
	}
	if (n > IMAP_NAME_MAX)
		return imap_fail(p, IMAP_ERR_BAD, "Unknown command");
	for (i = 0; i < n; i++) {
		char c = p->seg.s[p->pos + i];

		name[i] = c >= 'a' && c <= 'z' ? (char)(c - 32) : c;
	}
	name[n] = '\0';
	p->pos += n;
	if (imap_delim(p, "command name") < 0)
		return -1;
	if (p->pos < p->seg.len && p->seg.s[p->pos] == ')')
		return imap_fail(p, IMAP_ERR_BAD, "Unexpected )");
	return 0;
}

/* The tag, the name and the UID prefix of the line in seg. */
static int
imap_cmd_head(struct imap_parser *p, struct imap_cmd *cmd)
{
	size_t n = imap_span(p, imap_class_tag);

	if (n == 0 || (p->pos + n < p->seg.len && p->seg.s[p->pos + n] != ' '))
		return imap_fail(p, IMAP_ERR_BAD, "Missing or invalid tag");
	if ((cmd->tag = imap_strdup(p, p->seg.s, n)) == NULL)
		return -1;
	p->pos = n;
	if (p->pos == p->seg.len || ++p->pos == p->seg.len)
		return imap_fail(p, IMAP_ERR_BAD, "Missing command name");
	if (imap_cmd_name(p, cmd->name) < 0)
		return -1;
	if (strcmp(cmd->name, "UID") == 0) {
		cmd->uid = 1;
		if (p->pos == p->seg.len || ++p->pos == p->seg.len)
			return imap_fail(p, IMAP_ERR_BAD,
			    "Missing command after UID");
		if (imap_cmd_name(p, cmd->name) < 0)
			return -1;
	}
	p->sep = IMAP_SEP_NEEDED;
	return 0;
}

int
imap_cmd_read(struct imap_parser *p, struct imap_cmd *cmd)
{
	int r;

	cmd->tag = NULL;
	cmd->name[0] = '\0';
	cmd->uid = 0;
	if (p->dead)
		return -1;
	if (p->st != IMAP_ST_IDLE && imap_cmd_skip(p) < 0)
		return -1;
	imap_reset(p);
	do {
		p->line_total = p->cmd_total = 0;
		if ((r = imap_next_line(p, 1)) <= 0) {
			if (r == 0)
				p->st = IMAP_ST_IDLE;
			return r;
		}
	} while (p->seg.len == 0);
	if (imap_cmd_head(p, cmd) < 0)
		return -1;
	return 1;
}
