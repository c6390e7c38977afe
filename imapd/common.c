/* SPDX-License-Identifier: ISC */
/*
 * imapd: what both states share: tagged and untagged replies, error
 * counting, ID, flag lists.
 */
#include "imapd.h"

#include <errno.h>
#include <stdio.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>

#include "imapquote.h"
#include "log.h"
#include "maildir.h"

static int
common_vline(struct imapd *s, const char *lead, const char *fmt, va_list ap)
{
	if (io_puts(s->io, lead) < 0 || io_puts(s->io, " ") < 0 ||
	    io_vprintf(s->io, fmt, ap) < 0 || io_puts(s->io, "\r\n") < 0)
		return -1;
	return 0;
}

int
imapd_tagged(struct imapd *s, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = common_vline(s, s->cmd.tag != NULL ? s->cmd.tag : "*", fmt, ap);
	va_end(ap);
	return r < 0 ? -1 : imapd_flush(s);
}

int
imapd_untagged(struct imapd *s, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = common_vline(s, "*", fmt, ap);
	va_end(ap);
	return r;
}

int
imapd_flush(struct imapd *s)
{
	return io_pending(s->io) == 0 ? io_flush(s->io) : 0;
}

unsigned
imapd_timeout(const struct imapd *s)
{
	return (unsigned)conf_num(s->inst->conf, "imap_timeout");
}

unsigned
imapd_login_timeout(const struct imapd *s)
{
	return (unsigned)conf_num(s->inst->conf, "imap_login_timeout");
}

unsigned
imapd_error_limit(const struct imapd *s)
{
	return (unsigned)conf_num(s->inst->conf, "imap_error_limit");
}

int
imapd_bad(struct imapd *s, const char *reason)
{
	s->errors++;
	if (s->errors >= imapd_error_limit(s)) {
		imapd_untagged(s, "BYE Too many errors, closing connection");
		io_flush(s->io);
		s->logout = 1;
		return 0;
	}
	return imapd_tagged(s, "BAD %s", reason);
}

int
imapd_parse_error(struct imapd *s)
{
	const char *reason;
	char buf[256];
	enum imap_err kind;

	kind = imap_parser_error(s->p, &reason);
	/* the reason is in the parser's arena: keep a copy over the skip */
	snprintf(buf, sizeof buf, "%s", *reason ? reason : "Syntax error");
	if (kind == IMAP_ERR_FATAL || imap_cmd_skip(s->p) < 0) {
		imap_parser_error(s->p, &reason);
		log_info("closing: %s", *reason ? reason : buf);
		imapd_untagged(s, "BYE %s", *reason ? reason : buf);
		io_flush(s->io);
		s->logout = 1;
		return 0;
	}
	if (kind == IMAP_ERR_TOOBIG) {
		if (strcmp(s->cmd.name, "APPEND") == 0)
			return imapd_tagged(s, "NO [TOOBIG] %s", buf);
		return imapd_tagged(s, "BAD [TOOBIG] %s", buf);
	}
	return imapd_bad(s, buf);
}

int
imapd_no(struct imapd *s, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (imap_cmd_skip(s->p) < 0)
		return imapd_parse_error(s);
	if (io_puts(s->io, s->cmd.tag != NULL ? s->cmd.tag : "*") < 0 ||
	    io_puts(s->io, " NO") < 0)
		return -1;
	va_start(ap, fmt);
	r = common_vline(s, "", fmt, ap);
	va_end(ap);
	return r < 0 ? -1 : imapd_flush(s);
}

int
imapd_eol(struct imapd *s)
{
	if (imap_arg_eol(s->p) < 0)
		return imapd_parse_error(s) < 0 ? -1 : 0;
	return 1;
}

/* ID (RFC 2971): NIL or a list of at most 30 string pairs. */
int
imapd_id(struct imapd *s)
{
	struct imap_str k, v;
	unsigned n = 0;

	if (imap_arg_peek(s->p) == IMAP_TOK_LIST) {
		imap_arg_list_begin(s->p);
		while (imap_arg_peek(s->p) != IMAP_TOK_LIST_END &&
		    imap_arg_peek(s->p) != IMAP_TOK_ERROR && n < 31) {
			imap_arg_string(s->p, &k);
			imap_arg_nstring(s->p, &v);
			n++;
		}
		imap_arg_list_end(s->p);
	} else if (imap_arg_atom(s->p, &k) == 0 &&
	    strcasecmp(k.s, "NIL") != 0) {
		if (imap_cmd_skip(s->p) < 0)
			return imapd_parse_error(s);
		return imapd_bad(s, "ID takes NIL or a list");
	}
	if (n > 30)
		return imapd_no(s, "Too many ID fields");
	if (imap_arg_eol(s->p) < 0)
		return imapd_parse_error(s);
	if (imapd_untagged(s, "ID (\"name\" \"" IMAP_IMPLEMENTATION
	    "\" \"vendor\" \"" IMAP_IMPLEMENTATION "\")") < 0)
		return -1;
	return imapd_tagged(s, "OK ID completed");
}

static const struct {
	const char *name;
	uint32_t flag;
} common_flags[] = {
	{ "\\Seen", MAIL_SEEN }, { "\\Answered", MAIL_ANSWERED },
	{ "\\Flagged", MAIL_FLAGGED }, { "\\Deleted", MAIL_DELETED },
	{ "\\Draft", MAIL_DRAFT }, { NULL, 0 }
};

/* Maildir's P (passed) is IMAP's $Forwarded keyword. */
#define COMMON_FORWARDED "$Forwarded"

/* Append sep then name (the hot path of FETCH FLAGS: no printf). */
static int
common_flag_word(struct str *out, int *first, const char *name)
{
	if (!*first && str_appendc(out, ' ') < 0)
		return -1;
	*first = 0;
	return str_appends(out, name);
}

int
imapd_flags_text(struct str *out, const struct mbmeta *meta, uint32_t flags,
    uint64_t keywords, int recent)
{
	unsigned i;
	int first = 1, r = str_appendc(out, '(');

	for (i = 0; common_flags[i].name != NULL && r == 0; i++)
		if (flags & common_flags[i].flag)
			r = common_flag_word(out, &first, common_flags[i].name);
	if (r == 0 && (flags & MAIL_PASSED))
		r = common_flag_word(out, &first, COMMON_FORWARDED);
	for (i = 0; meta != NULL && i < meta->nkeywords && i < 64 && r == 0;
	    i++)
		if ((keywords >> i) & 1u)
			r = common_flag_word(out, &first, meta->keywords[i]);
	if (r == 0 && recent)
		r = common_flag_word(out, &first, "\\Recent");
	return r < 0 ? -1 : str_appendc(out, ')');
}

int
imapd_append_num(struct str *out, uint64_t n)
{
	char buf[24];
	size_t i = sizeof buf;

	do {
		buf[--i] = (char)('0' + n % 10);
		n /= 10;
	} while (n > 0);
	return str_append(out, buf + i, sizeof buf - i);
}

/* One flag into flags/keywords.  Returns 0, -1 (syntax), -2 (keyword). */
static int
common_flag(struct imapd *s, struct mailbox *mb, int create,
    const struct imap_str *f, uint32_t *flags, uint64_t *kw, struct str *err)
{
	unsigned i;
	int bit;

	if (f->s[0] == '\\') {
		for (i = 0; common_flags[i].name != NULL; i++)
			if (strcasecmp(f->s, common_flags[i].name) == 0) {
				*flags |= common_flags[i].flag;
				return 0;
			}
		/* \Recent cannot be set by a client (RFC 3501 2.3.2) */
		if (strcasecmp(f->s, "\\Recent") == 0)
			return 0;
		(void)s;
		str_appendf(err, "Unknown system flag %s", f->s);
		return -1;
	}
	if (strcasecmp(f->s, COMMON_FORWARDED) == 0) {
		*flags |= MAIL_PASSED;
		return 0;
	}
	if (mb == NULL)
		return 0;
	bit = mailbox_keyword(mb, f->s, create, err);
	if (bit < 0) {
		if (errno == ENOENT && !create)
			return 0;
		if (err->len == 0)
			str_appendf(err, "%s", errno == ENOSPC ?
			    "Too many keywords in this mailbox" :
			    "Invalid keyword");
		return -2;
	}
	*kw |= (uint64_t)1 << bit;
	return 0;
}

int
imapd_flag_list(struct imapd *s, struct mailbox *mb, int create,
    uint32_t *flags_r, uint64_t *kw_r, struct str *err)
{
	struct imap_str f;
	int paren = 0, r;

	*flags_r = 0;
	*kw_r = 0;
	if (imap_arg_peek(s->p) == IMAP_TOK_LIST) {
		if (imap_arg_list_begin(s->p) < 0)
			return -1;
		paren = 1;
	}
	while (imap_arg_peek(s->p) == IMAP_TOK_ATOM) {
		if (imap_arg_flag(s->p, &f) < 0)
			return -1;
		r = common_flag(s, mb, create, &f, flags_r, kw_r, err);
		if (r == -1) {
			/* report it as a syntax error of the command */
			return -3;
		}
		if (r < 0)
			return r;
	}
	if (paren && imap_arg_list_end(s->p) < 0)
		return -1;
	return 0;
}
