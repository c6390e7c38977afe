/* SPDX-License-Identifier: ISC */
/*
 * imapd -S: the authenticated and selected states, run as the user by the
 * login checker with the Maildir as working directory (see lib/login.h).
 * It answers the tag of the LOGIN or AUTHENTICATE that the pre-login
 * process passed on (ZEST_LOGIN_RESUME), then reads commands until LOGOUT.
 * Commands are dispatched through a table; each handler reads its own
 * arguments with lib/imapparse and answers its tag.
 */
#include "imapd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"
#include "mdate.h"

#define CMD_SEL 0x1u		/* needs a selected mailbox */
#define CMD_UID 0x2u		/* may come as UID name */
#define CMD_NOSEL 0x4u		/* only in the authenticated state */

static int
sess_capability(struct imapd *s)
{
	int r;

	if ((r = imapd_eol(s)) <= 0)
		return r;
	if (imapd_untagged(s, "CAPABILITY " IMAP_CAPS_AUTH) < 0)
		return -1;
	return imapd_tagged(s, "OK CAPABILITY completed");
}

static int
sess_noop(struct imapd *s)
{
	int r;

	if ((r = imapd_eol(s)) <= 0)
		return r;
	s->sync_due = 1;
	if (s->mb != NULL && view_update(s, 1) < 0)
		return -1;
	return imapd_tagged(s, "OK %s completed", s->cmd.name);
}

static int
sess_logout(struct imapd *s)
{
	int r;

	if ((r = imapd_eol(s)) <= 0)
		return r;
	s->logout = 1;
	if (imapd_untagged(s, "BYE Logging out") < 0)
		return -1;
	return imapd_tagged(s, "OK LOGOUT completed");
}

/* Commands of the not-authenticated state. */
static int
sess_prelogin(struct imapd *s)
{
	if (imap_cmd_skip(s->p) < 0)
		return imapd_parse_error(s);
	return imapd_bad(s, "Already authenticated");
}

/* ENABLE (RFC 5161): CONDSTORE and QRESYNC are the extensions that
 * need it; the others are ignored as the RFC says. */
static int
sess_enable(struct imapd *s)
{
	struct imap_str a;
	unsigned want = 0, now;
	int r;

	if (imap_arg_atom(s->p, &a) < 0)
		return imapd_parse_error(s);
	for (;;) {
		if (strcasecmp(a.s, "CONDSTORE") == 0)
			want |= IMAP_EN_CONDSTORE;
		else if (strcasecmp(a.s, "QRESYNC") == 0)
			want |= IMAP_EN_QRESYNC | IMAP_EN_CONDSTORE;
		if (imap_arg_peek(s->p) != IMAP_TOK_ATOM)
			break;
		if (imap_arg_atom(s->p, &a) < 0)
			return imapd_parse_error(s);
	}
	if ((r = imapd_eol(s)) <= 0)
		return r;
	now = want & ~s->enabled;
	s->enabled |= want;
	/* RFC 7162 3.2.3: QRESYNC implies CONDSTORE, which need not be
	 * listed as newly enabled */
	if (imapd_untagged(s, "ENABLED%s%s",
	    (now & IMAP_EN_CONDSTORE) && !(want & IMAP_EN_QRESYNC) ?
	    " CONDSTORE" : "", (now & IMAP_EN_QRESYNC) ? " QRESYNC" : "") < 0)
		return -1;
	return imapd_tagged(s, "OK ENABLE completed");
}

static int
sess_id(struct imapd *s)
{
	return imapd_id(s);
}

static const struct sess_cmd {
	const char *name;
	int (*fn)(struct imapd *);
	unsigned flags;
} sess_cmds[] = {
	{ "CAPABILITY", sess_capability, 0 },
	{ "NOOP", sess_noop, 0 },
	{ "LOGOUT", sess_logout, 0 },
	{ "ID", sess_id, 0 },
	{ "ENABLE", sess_enable, CMD_NOSEL },
	{ "LOGIN", sess_prelogin, 0 },
	{ "AUTHENTICATE", sess_prelogin, 0 },
	{ "STARTTLS", sess_prelogin, 0 },
	{ "SELECT", cmd_select, 0 },
	{ "EXAMINE", cmd_select, 0 },
	{ "CREATE", cmd_create, 0 },
	{ "DELETE", cmd_delete, 0 },
	{ "RENAME", cmd_rename, 0 },
	{ "SUBSCRIBE", cmd_subscribe, 0 },
	{ "UNSUBSCRIBE", cmd_unsubscribe, 0 },
	{ "LIST", cmd_list, 0 },
	{ "LSUB", cmd_lsub, 0 },
	{ "STATUS", cmd_status, 0 },
	{ "NAMESPACE", cmd_namespace, 0 },
	{ "APPEND", cmd_append, 0 },
	{ "CHECK", cmd_check, CMD_SEL },
	{ "CLOSE", cmd_close, CMD_SEL },
	{ "UNSELECT", cmd_unselect, CMD_SEL },
	{ "EXPUNGE", cmd_expunge, CMD_SEL | CMD_UID },
	{ "SEARCH", cmd_search, CMD_SEL | CMD_UID },
	{ "FETCH", cmd_fetch, CMD_SEL | CMD_UID },
	{ "STORE", cmd_store, CMD_SEL | CMD_UID },
	{ "COPY", cmd_copy, CMD_SEL | CMD_UID },
	{ "MOVE", cmd_move, CMD_SEL | CMD_UID },
	{ "IDLE", cmd_idle, 0 },
	{ NULL, NULL, 0 }
};

static int
sess_command(struct imapd *s)
{
	const struct sess_cmd *c;

	for (c = sess_cmds; c->name != NULL; c++)
		if (strcmp(c->name, s->cmd.name) == 0)
			break;
	if (c->name == NULL || (s->cmd.uid && !(c->flags & CMD_UID))) {
		if (imap_cmd_skip(s->p) < 0)
			return imapd_parse_error(s);
		return imapd_bad(s, "Unknown command");
	}
	if ((c->flags & CMD_SEL) && s->mb == NULL) {
		if (imap_cmd_skip(s->p) < 0)
			return imapd_parse_error(s);
		return imapd_bad(s, "No mailbox selected");
	}
	if ((c->flags & CMD_SEL) && view_ready(s) < 0) {
		if (imap_cmd_skip(s->p) < 0)
			return imapd_parse_error(s);
		return imapd_tagged(s, "NO [SERVERBUG] Cannot read the "
		    "mailbox index");
	}
	if ((c->flags & CMD_NOSEL) && s->mb != NULL) {
		if (imap_cmd_skip(s->p) < 0)
			return imapd_parse_error(s);
		return imapd_bad(s, "Not valid in the selected state");
	}
	return c->fn(s);
}

static void
sess_loop(struct imapd *s)
{
	int r;

	while (!s->logout) {
		r = imap_cmd_read(s->p, &s->cmd);
		if (r == 0)
			break;
		if (r < 0)
			r = imapd_parse_error(s);
		else
			r = sess_command(s);
		if (r < 0) {
			/* an I/O error of the connection, or the mailbox
			 * could not be read: say so if the client still
			 * listens */
			log_warn("%s: ending the session: %s", s->cmd.name,
			    strerror(errno));
			imapd_untagged(s, "BYE [SERVERBUG] Internal error, "
			    "closing connection");
			break;
		}
	}
	io_flush(s->io);
}

int
imapd_session(const struct instance *inst)
{
	const char *user = getenv("ZEST_LOGIN_USER");
	const char *tag = getenv("ZEST_LOGIN_RESUME");
	struct imapd s;
	int rc = 0;

	memset(&s, 0, sizeof s);
	s.inst = inst;
	s.user = user;
	s.zone = mdate_local_zone(time(NULL));
	seqset_init(&s.recent);
	if (user == NULL || *user == '\0' || tag == NULL || *tag == '\0' ||
	    (s.io = calloc(1, sizeof *s.io)) == NULL)
		return 75;
	io_init(s.io, 0, 1);
	io_set_timeouts(s.io, imapd_timeout(&s) * 1000,
	    imapd_timeout(&s) * 1000);
	if (login_session_pending(s.io) < 0)
		log_warn("pipelined input lost: %s", strerror(errno));
	if ((s.p = imap_parser_new(s.io, NULL)) == NULL) {
		free(s.io);
		return 75;
	}
	imap_parser_set_literal_mode(s.p, IMAP_LITERAL_PLUS);
	names_first_login();
	log_info("%s: logged in", user);
	s.cmd.tag = tag;
	if (imapd_tagged(&s, "OK [CAPABILITY " IMAP_CAPS_AUTH "] Logged in")
	    == 0)
		sess_loop(&s);
	else
		rc = 75;
	view_close(&s);
	seqset_free(&s.recent);
	imap_parser_free(&s.p);
	str_free(&s.out);
	free(s.io);
	return rc;
}
