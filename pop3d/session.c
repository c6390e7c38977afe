/* SPDX-License-Identifier: ISC */
/*
 * pop3d -S: the TRANSACTION and UPDATE states, run as the user by the
 * login checker with the Maildir as working directory (see lib/login.h).
 *
 * The maildrop lock is an fcntl (open file description) lock on
 * zest.pop3.lock in the Maildir, held for the whole session: a second POP3
 * session gets -ERR [IN-USE]; IMAP sessions and deliveries do not take it.
 * The message list is the index as of the login (STAT, LIST and UIDL read
 * no message file); a message that IMAP expunges meanwhile answers RETR
 * with an error.  RETR sets \Seen, in one batch when the session ends
 * (QUIT, or the connection dropping): a flag change is a rename and a
 * directory fsync, which per RETR would cost more than the RETR itself.
 * DELE only marks, and the marked messages are expunged at QUIT (UPDATE
 * state), never when the connection just drops.  UIDL is
 * "UIDVALIDITY.UID", stable across sessions.
 */
#include "pop3d.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "mailbox.h"
#include "maildir.h"

struct pop3_msg {
	uint32_t uid;
	uint64_t size;		/* wire octets */
	int deleted;		/* DELE'd in this session */
	int seen;		/* \Seen already, or RETR'd in this session */
	int retrieved;		/* RETR'd here: \Seen to be set */
};

struct sess {
	struct io *io;
	struct mailbox *mb;
	struct pop3_limits lim;
	struct pop3_msg *msgs;
	uint32_t count;
	uint32_t uidvalidity;
	unsigned errors;
	int lockfd;		/* the maildrop lock, -1 when released */
	int quit;
	struct str line;
};

static int
sess_error(struct sess *s, const char *text)
{
	s->errors++;
	if (s->errors >= s->lim.error_limit) {
		pop3_reply(s->io, 0, "Too many errors, closing connection");
		s->quit = -1;
		return 0;
	}
	return pop3_reply(s->io, 0, "%s", text);
}

/* The message argument of LIST, RETR, DELE, UIDL, TOP: a number of an
 * existing, not deleted message.  NULL after replying the error. */
static struct pop3_msg *
sess_msg(struct sess *s, const char *arg, const char **end_r, int *r_r)
{
	uint32_t n = pop3_msgno(arg, end_r, s->count);

	*r_r = 0;
	if (n == 0) {
		if (*arg < '0' || *arg > '9')
			*r_r = sess_error(s, "Syntax: message number expected");
		else
			*r_r = pop3_reply(s->io, 0, "No such message");
		return NULL;
	}
	if (s->msgs[n - 1].deleted) {
		*r_r = pop3_reply(s->io, 0, "Message %u is deleted", n);
		return NULL;
	}
	return &s->msgs[n - 1];
}

static int
sess_stat(struct sess *s, const char *args)
{
	uint64_t size = 0;
	uint32_t i, n = 0;

	if (*args != '\0')
		return sess_error(s, "Syntax: STAT");
	for (i = 0; i < s->count; i++)
		if (!s->msgs[i].deleted) {
			n++;
			size += s->msgs[i].size;
		}
	return pop3_reply(s->io, 1, "%u %llu", n, (unsigned long long)size);
}

/* LIST and UIDL: one message, or all that are not deleted. */
static int
sess_listing(struct sess *s, const char *args, int uidl)
{
	struct pop3_msg *m;
	const char *end;
	uint32_t i;
	int r;

	if (*args != '\0') {
		if ((m = sess_msg(s, args, &end, &r)) == NULL)
			return r;
		if (*end != '\0')
			return sess_error(s, "Syntax: one message number");
		i = (uint32_t)(m - s->msgs) + 1;
		if (uidl)
			return pop3_reply(s->io, 1, "%u %u.%u", i,
			    s->uidvalidity, m->uid);
		return pop3_reply(s->io, 1, "%u %llu", i,
		    (unsigned long long)m->size);
	}
	if (io_puts(s->io, uidl ? "+OK Unique-ID listing follows\r\n" :
	    "+OK Scan listing follows\r\n") < 0)
		return -1;
	for (i = 0; i < s->count; i++) {
		if (s->msgs[i].deleted)
			continue;
		r = uidl ? io_printf(s->io, "%u %u.%u\r\n", i + 1,
		    s->uidvalidity, s->msgs[i].uid) : io_printf(s->io,
		    "%u %llu\r\n", i + 1, (unsigned long long)s->msgs[i].size);
		if (r < 0)
			return -1;
	}
	if (io_puts(s->io, ".\r\n") < 0)
		return -1;
	return pop3_flush_if_idle(s->io);
}

static int
sess_list(struct sess *s, const char *args)
{
	return sess_listing(s, args, 0);
}

static int
sess_uidl(struct sess *s, const char *args)
{
	return sess_listing(s, args, 1);
}

/* Set \Seen on the messages RETR'd in this session (but those about to
 * be expunged).  Failures are logged, not fatal: the client has its
 * messages. */
static void
sess_seen_flush(struct sess *s, int skip_deleted)
{
	struct mailbox_store st = { MBOX_FLAGS_ADD, MAIL_SEEN, 0, 0 };
	struct mailbox_uids u = { NULL, 0, 0 };
	struct str err = STR_INIT;
	uint32_t i;

	for (i = 0; i < s->count; i++)
		if (s->msgs[i].retrieved && !(skip_deleted &&
		    s->msgs[i].deleted) && mailbox_uids_add(&u, s->msgs[i].uid)
		    < 0)
			break;
	if (u.n > 0 && s->mb != NULL &&
	    mailbox_store(s->mb, u.v, u.n, &st, NULL, NULL, &err) < 0)
		log_warn("setting \\Seen on %zu messages: %s", u.n,
		    str_cstr(&err));
	for (i = 0; i < s->count; i++)
		s->msgs[i].retrieved = 0;
	mailbox_uids_free(&u);
	str_free(&err);
}

/* RETR and TOP: lines < 0 sends the whole message. */
static int
sess_send(struct sess *s, struct pop3_msg *m, long lines)
{
	struct index_record rec;
	struct str err = STR_INIT;
	uint32_t seq;
	int fd = -1, r;

	if (mailbox_find_uid(s->mb, m->uid, &seq, &rec) < 0 ||
	    mailbox_msg_open(s->mb, &rec, &fd, &err) < 0) {
		log_warn("UID %u: %s", m->uid, err.len ? err.s :
		    strerror(errno));
		str_free(&err);
		return pop3_reply(s->io, 0, "Message is no longer available");
	}
	str_free(&err);
	if (lines < 0)
		r = io_printf(s->io, "+OK %llu octets\r\n",
		    (unsigned long long)m->size);
	else
		r = io_puts(s->io, "+OK Top of message follows\r\n");
	if (r == 0)
		r = pop3_send_message(s->io, fd, (rec.flags & REC_RAW) != 0,
		    lines);
	close(fd);
	if (r == 0 && lines < 0 && !m->seen && (rec.flags & MAIL_SEEN) == 0)
		m->retrieved = m->seen = 1;
	return r;
}

static int
sess_retr(struct sess *s, const char *args)
{
	struct pop3_msg *m;
	const char *end;
	int r;

	if ((m = sess_msg(s, args, &end, &r)) == NULL)
		return r;
	if (*end != '\0')
		return sess_error(s, "Syntax: RETR msg");
	return sess_send(s, m, -1);
}

static int
sess_top(struct sess *s, const char *args)
{
	struct pop3_msg *m;
	const char *end, *p;
	long lines = 0;
	size_t i;
	int r;

	if ((m = sess_msg(s, args, &end, &r)) == NULL)
		return r;
	if (*end != ' ' || end[1] < '0' || end[1] > '9')
		return sess_error(s, "Syntax: TOP msg lines");
	for (p = end + 1, i = 0; p[i] >= '0' && p[i] <= '9'; i++) {
		if (i >= 9)
			return sess_error(s, "Syntax: TOP msg lines");
		lines = lines * 10 + (p[i] - '0');
	}
	if (p[i] != '\0')
		return sess_error(s, "Syntax: TOP msg lines");
	return sess_send(s, m, lines);
}

static int
sess_dele(struct sess *s, const char *args)
{
	struct pop3_msg *m;
	const char *end;
	int r;

	if ((m = sess_msg(s, args, &end, &r)) == NULL)
		return r;
	if (*end != '\0')
		return sess_error(s, "Syntax: DELE msg");
	m->deleted = 1;
	return pop3_reply(s->io, 1, "Message %u deleted",
	    (unsigned)(m - s->msgs) + 1);
}

static int
sess_rset(struct sess *s, const char *args)
{
	uint32_t i;

	if (*args != '\0')
		return sess_error(s, "Syntax: RSET");
	for (i = 0; i < s->count; i++)
		s->msgs[i].deleted = 0;
	return pop3_reply(s->io, 1, "%u messages", s->count);
}

static int
sess_noop(struct sess *s, const char *args)
{
	if (*args != '\0')
		return sess_error(s, "Syntax: NOOP");
	return pop3_reply(s->io, 1, "Nothing to do");
}

static int
sess_capa(struct sess *s, const char *args)
{
	if (*args != '\0')
		return sess_error(s, "Syntax: CAPA");
	if (io_puts(s->io, "+OK Capability list follows\r\nTOP\r\nUIDL\r\n"
	    "RESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\nEXPIRE NEVER\r\n"
	    "IMPLEMENTATION " POP3_IMPLEMENTATION "\r\n.\r\n") < 0)
		return -1;
	return pop3_flush_if_idle(s->io);
}

static void
sess_unlock(struct sess *s)
{
	if (s->lockfd >= 0)
		close(s->lockfd);
	s->lockfd = -1;
}

/* QUIT: the UPDATE state. */
static int
sess_quit(struct sess *s, const char *args)
{
	struct mailbox_uids del = { NULL, 0, 0 };
	struct str err = STR_INIT;
	uint32_t i;
	int r = 0;

	if (*args != '\0')
		return sess_error(s, "Syntax: QUIT");
	sess_seen_flush(s, 1);
	for (i = 0; i < s->count && r == 0; i++)
		if (s->msgs[i].deleted)
			r = mailbox_uids_add(&del, s->msgs[i].uid);
	if (r == 0 && del.n > 0 && mailbox_expunge(s->mb, del.v, del.n,
	    &err) < 0)
		r = -1;
	/* leave the UPDATE state before answering: a client that logs in
	 * again right after the answer must not find the maildrop locked */
	mailbox_close(&s->mb);
	sess_unlock(s);
	if (r < 0) {
		log_err("QUIT: deleting %zu messages: %s", del.n,
		    err.len ? err.s : strerror(errno));
		pop3_reply(s->io, 0, "[SYS/TEMP] Some deleted messages were "
		    "not removed");
	} else
		pop3_reply(s->io, 1, "Logging out%s", del.n > 0 ?
		    ", messages deleted" : "");
	if (del.n > 0)
		log_info("QUIT: %zu messages deleted%s", del.n,
		    r < 0 ? " (failed)" : "");
	mailbox_uids_free(&del);
	str_free(&err);
	s->quit = 1;
	return 0;
}

/* Commands that make sense only before the login. */
static int
sess_authstate(struct sess *s, const char *args)
{
	return sess_error(s, "Already logged in");
}

static const struct sess_handler {
	const char *kw;
	int (*fn)(struct sess *, const char *);
} sess_handlers[] = {
	{ "STAT", sess_stat }, { "LIST", sess_list }, { "UIDL", sess_uidl },
	{ "RETR", sess_retr }, { "TOP", sess_top }, { "DELE", sess_dele },
	{ "RSET", sess_rset }, { "NOOP", sess_noop }, { "QUIT", sess_quit },
	{ "CAPA", sess_capa }, { "USER", sess_authstate },
	{ "PASS", sess_authstate }, { "APOP", sess_authstate },
	{ "AUTH", sess_authstate }, { "STLS", sess_authstate },
	{ NULL, NULL }
};

static int
sess_command(struct sess *s)
{
	const struct sess_handler *h;
	struct pop3_cmd cmd;

	if (pop3_parse(s->line.s, &cmd) < 0)
		return sess_error(s, "Unknown command");
	for (h = sess_handlers; h->kw != NULL; h++)
		if (strcmp(h->kw, cmd.kw) == 0)
			return h->fn(s, cmd.args);
	return sess_error(s, "Unknown command");
}

/* The maildrop lock into s->lockfd.  Returns 1 held, 0 held by another
 * session, -1. */
static int
sess_lock(struct sess *s)
{
	struct flock fl;
	int fd;

	fd = open(POP3_LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd < 0)
		return -1;
	memset(&fl, 0, sizeof fl);
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
		close(fd);
		return errno == EAGAIN || errno == EACCES ? 0 : -1;
	}
	s->lockfd = fd;	/* held until QUIT or the end of the process */
	return 1;
}

/* The message list as of now. */
static int
sess_snapshot(struct sess *s, struct str *err)
{
	const struct index_header *h;
	struct index_record r;
	uint32_t seq;

	if (mailbox_sync(s->mb, err) < 0)
		return -1;
	h = mailbox_header(s->mb);
	s->uidvalidity = h->uidvalidity;
	if (h->exists > 0 && (s->msgs = calloc(h->exists,
	    sizeof *s->msgs)) == NULL)
		return -1;
	for (seq = 0; seq < h->count; seq++) {
		if (mailbox_record(s->mb, seq, &r) < 0)
			return -1;
		if ((r.flags & REC_EXPUNGED) != 0)
			continue;
		if (s->count >= h->exists)
			break;
		s->msgs[s->count].uid = r.uid;
		s->msgs[s->count].size = r.size;
		s->count++;
	}
	return 0;
}

static int
sess_open(struct sess *s, const struct instance *inst, const char *user)
{
	struct str err = STR_INIT;
	uint64_t size = 0;
	uint32_t i;
	int r;

	if ((r = sess_lock(s)) <= 0) {
		if (r == 0)
			log_info("%s: maildrop in use", user);
		else
			log_err("%s: %s: %s", user, POP3_LOCK_FILE,
			    strerror(errno));
		pop3_reply(s->io, 0, r == 0 ? "[IN-USE] Mailbox is locked by "
		    "another POP3 session" : "[SYS/TEMP] Cannot lock the "
		    "mailbox");
		return -1;
	}
	if (mailbox_open(".", 0, inst->lock_timeout, &s->mb, &err) < 0 ||
	    sess_snapshot(s, &err) < 0) {
		log_err("%s: mailbox: %s", user, err.len ? err.s :
		    strerror(errno));
		pop3_reply(s->io, 0, "[SYS/TEMP] Cannot open the mailbox");
		str_free(&err);
		return -1;
	}
	str_free(&err);
	for (i = 0; i < s->count; i++)
		size += s->msgs[i].size;
	log_info("%s: logged in, %u messages", user, s->count);
	return pop3_reply(s->io, 1, "Logged in, %u messages (%llu octets)",
	    s->count, (unsigned long long)size);
}

static void
sess_loop(struct sess *s)
{
	int r;

	while (s->quit == 0) {
		r = pop3_getline(s->io, &s->line, POP3_LINE_MAX);
		if (r == 0)
			break;
		if (r < 0) {
			if ((errno == E2BIG || errno == EINVAL) &&
			    sess_error(s, "Line too long or malformed") == 0)
				continue;
			if (errno == ETIMEDOUT)
				pop3_reply(s->io, 0, "Autologout; idle for too "
				    "long");
			break;
		}
		if (sess_command(s) < 0)
			break;
	}
	if (s->quit != 1) {
		sess_seen_flush(s, 0);
		log_info("connection closed without QUIT: nothing deleted");
	}
}

int
pop3_session(const struct instance *inst)
{
	struct sess s;
	const char *user = getenv("ZEST_LOGIN_USER");
	int rc = 0;

	memset(&s, 0, sizeof s);
	s.lockfd = -1;
	pop3_limits(inst, &s.lim);
	str_init(&s.line, POP3_LINE_MAX);
	if (user == NULL || *user == '\0' ||
	    (s.io = calloc(1, sizeof *s.io)) == NULL)
		return 75;
	io_init(s.io, 0, 1);
	io_set_timeouts(s.io, (int)s.lim.timeout * 1000,
	    (int)s.lim.timeout * 1000);
	if (login_session_pending(s.io) < 0)
		log_warn("pipelined input lost: %s", strerror(errno));
	if (sess_open(&s, inst, user) == 0)
		sess_loop(&s);
	else
		rc = 75;
	io_flush(s.io);
	mailbox_close(&s.mb);
	sess_unlock(&s);
	free(s.msgs);
	free(s.io);
	str_free(&s.line);
	return rc;
}
