/* SPDX-License-Identifier: ISC */
/*
 * imapd: APPEND (RFC 3501 6.3.11, APPENDUID of RFC 4315).  The message
 * literal is streamed into mailbox_msg_write piece by piece, so a message
 * of any size up to message_size_limit goes to disk without being held
 * in memory; the tagged OK follows the commit (file and directory
 * fsynced).
 */
#include "imapd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "maildir.h"

#define APPEND_BUF 65536

/* Stream the literal into a new message of mb.  0, -1 parser error,
 * -2 store error (reason in err). */
static int
append_stream(struct imapd *s, struct mailbox *mb, struct mailbox_msg **m,
    uint64_t limit, struct str *err)
{
	unsigned char *buf;
	uint64_t size;
	ssize_t n;
	int lit8, failed = 0;

	if (imap_arg_literal_begin(s->p, limit, 0, &size, &lit8) < 0)
		return -1;
	if (mailbox_msg_begin(mb, 1, m, err) < 0)
		failed = 1;
	if ((buf = malloc(APPEND_BUF)) == NULL)
		return -1;
	/* read the literal to its end even when the store failed, so that
	 * the connection stays in step */
	while ((n = imap_literal_read(s->p, buf, APPEND_BUF)) > 0)
		if (!failed && mailbox_msg_write(*m, buf, (size_t)n) < 0) {
			str_appendf(err, "%s", strerror(errno));
			failed = 1;
		}
	free(buf);
	if (n < 0)
		return -1;
	return failed ? -2 : 0;
}

/* The optional flag list and date-time.  1 read, 0 answered, -1 broken. */
static int
append_args(struct imapd *s, struct mailbox *mb, uint32_t *flags,
    uint64_t *kw, time_t *when, struct str *err)
{
	int zone, r;

	if (imap_arg_peek(s->p) == IMAP_TOK_LIST) {
		r = imapd_flag_list(s, mb, 1, flags, kw, err);
		if (r == -2)
			return imapd_no(s, "%s", str_cstr(err)) < 0 ? -1 : 0;
		if (r == -3)
			return (imap_cmd_skip(s->p) < 0 ? imapd_parse_error(s) :
			    imapd_bad(s, str_cstr(err))) < 0 ? -1 : 0;
		if (r < 0)
			return imapd_parse_error(s) < 0 ? -1 : 0;
	}
	if (imap_arg_peek(s->p) == IMAP_TOK_QUOTED &&
	    imap_arg_datetime(s->p, when, &zone) < 0)
		return imapd_parse_error(s) < 0 ? -1 : 0;
	return 1;
}

/* Commit the message and answer.  0 or -1. */
static int
append_commit(struct imapd *s, struct mailbox *mb, struct mailbox_msg **m,
    uint32_t flags, uint64_t kw, time_t when)
{
	struct str err = STR_INIT;
	uint32_t uid = 0;
	int r;

	if (mailbox_msg_commit(m, flags, kw, when, flags != 0, &uid,
	    &err) < 0) {
		log_err("append: %s", str_cstr(&err));
		r = imapd_tagged(s, "NO [%s] Cannot store the message",
		    errno == ENOSPC || errno == EDQUOT ? "OVERQUOTA" :
		    "SERVERBUG");
	} else if (s->mb != NULL && view_update(s, 1) < 0)
		r = -1;
	else
		r = imapd_tagged(s, "OK [APPENDUID %u %u] APPEND completed",
		    mailbox_header(mb)->uidvalidity, uid);
	str_free(&err);
	return r;
}

int
cmd_append(struct imapd *s)
{
	struct imap_str name;
	struct mailbox *mb = NULL;
	struct mailbox_msg *m = NULL;
	struct str err = STR_INIT;
	uint64_t kw = 0, limit;
	uint32_t flags = 0;
	time_t when = time(NULL);
	int r;

	limit = conf_num(s->inst->conf, "message_size_limit");
	if (imap_arg_mailbox(s->p, &name) < 0) {
		r = imapd_parse_error(s);
		goto out;
	}
	/* before the literal: a NO now saves the client sending it */
	if ((r = imapd_open_named(s, &name, 1, &mb)) < 0) {
		r = r == -2 ? -1 : 0;
		goto out;
	}
	if ((r = append_args(s, mb, &flags, &kw, &when, &err)) <= 0)
		goto out;
	r = append_stream(s, mb, &m, limit ? limit : UINT64_MAX, &err);
	if (r == -1 || imap_arg_eol(s->p) < 0)
		r = imapd_parse_error(s);
	else if (r == -2) {
		log_err("append: %s", str_cstr(&err));
		r = imapd_tagged(s, "NO [SERVERBUG] Cannot store the message");
	} else
		r = append_commit(s, mb, &m, flags, kw, when);
out:
	mailbox_msg_abort(&m);
	mailbox_close(&mb);
	str_free(&err);
	return r;
}
