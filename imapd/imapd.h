/* SPDX-License-Identifier: ISC */
#ifndef ZEST_IMAPD_H
#define ZEST_IMAPD_H

/*
 * imapd: IMAP4rev1 (RFC 3501) over lib/login's privilege separation (see
 * imapd(8)).  prelogin.c is the not-authenticated state (user zest-login,
 * chrooted); everything else runs in the session process (imapd -S, the
 * user's uid, working directory the user's Maildir):
 *
 *	session.c	the command loop, dispatch, untagged updates
 *	common.c	replies, capabilities, limits, flag lists
 *	names.c		mailbox names <-> Maildir++ folders, subscriptions
 *	cmd-mailbox.c	CREATE DELETE RENAME SUBSCRIBE LIST LSUB STATUS ...
 *	cmd-append.c	APPEND
 *	view.c		the selected mailbox: UID array, refresh, updates
 *	cmd-select.c	SELECT EXAMINE CLOSE UNSELECT EXPUNGE CHECK
 *	cmd-fetch.c	FETCH
 *	cmd-store.c	STORE COPY MOVE
 *	cmd-search.c	SEARCH (ESEARCH)
 *	cmd-idle.c	IDLE (inotify)
 */

#include <stddef.h>
#include <stdint.h>

#include "imapparse.h"
#include "instance.h"
#include "io.h"
#include "login.h"
#include "mailbox.h"
#include "maildir.h"
#include "seqset.h"
#include "str.h"

#define IMAP_SASL_SERVICE "imap"
#define IMAP_IMPLEMENTATION "Zest"
#define IMAP_TAG_MAX 128	/* a tag that must survive the login */
#define IMAP_NAME_BYTES 512	/* a mailbox name on the wire */
#define IMAP_DEPTH_MAX 16	/* hierarchy levels of a mailbox name */
#define IMAP_SUBS_FILE "subscriptions"
#define IMAP_SUBS_MAX 10000	/* subscribed names */

/* Capabilities before and after the login (IMAP_CAPS_COMMON in both). */
#define IMAP_CAPS_COMMON "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE"
#define IMAP_CAPS_AUTH IMAP_CAPS_COMMON " IDLE NAMESPACE UIDPLUS " \
	"CHILDREN UNSELECT MOVE SPECIAL-USE CONDSTORE QRESYNC ESEARCH"

/* ENABLEd extensions */
#define IMAP_EN_CONDSTORE 0x1u
#define IMAP_EN_QRESYNC 0x2u	/* implies CONDSTORE */

/* The session. */
struct imapd {
	const struct instance *inst;
	struct io *io;
	struct imap_parser *p;
	struct imap_cmd cmd;
	const char *user;
	unsigned errors;
	int logout;		/* leave the loop */
	unsigned enabled;	/* IMAP_EN_* */
	int zone;		/* server zone for INTERNALDATE, minutes */
	struct str out;		/* scratch for building responses */
	/* the selected mailbox: see view.c */
	struct mailbox *mb;
	char *selname;
	char *selpath;		/* its Maildir, relative to the user's */
	int readonly;
	int ghosts;		/* expunged UIDs kept in the view (during
				 * FETCH, STORE, SEARCH) */
	int lazy;		/* uids not built yet: view_ready() */
	int sync_due;		/* next view_update reads the directories */
	unsigned nkeywords_seen;	/* keywords in the last FLAGS */
	uint32_t *uids;		/* sequence number n is uids[n - 1] */
	uint32_t n, cap;
	struct seqset recent;	/* UIDs \Recent in this session */
	struct index_header seen;	/* the header as last reported */
	uint32_t nrecent_seen;
	uint64_t own_modseq;	/* changes we reported ourselves */
};

/* ---- common.c ---- */

/* Limits from zest.conf: imap_timeout (seconds idle after the login; RFC
 * 3501 5.4 wants at least 30 minutes), imap_login_timeout (before it) and
 * imap_error_limit (BAD replies before the connection ends). */
unsigned imapd_timeout(const struct imapd *s);
unsigned imapd_login_timeout(const struct imapd *s);
unsigned imapd_error_limit(const struct imapd *s);

/* Write "TAG text" and CRLF (text printf-style).  Returns 0 or -1. */
int imapd_tagged(struct imapd *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Write "* text" and CRLF.  Returns 0 or -1. */
int imapd_untagged(struct imapd *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A syntax error of the current command (after imap_cmd_skip): "TAG BAD
 * reason", counted; at the error limit "* BYE" and logout.  Returns 0 or
 * -1 (connection broken). */
int imapd_bad(struct imapd *s, const char *reason);

/* The handler's parser failed: skip the command and answer by the kind
 * of error (BAD, BAD [TOOBIG], or BYE and logout for a fatal one). */
int imapd_parse_error(struct imapd *s);

/* "TAG NO text" after skipping what is left of the command. */
int imapd_no(struct imapd *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Read the end of the command; on failure answer as imapd_parse_error.
 * Returns 1 at the end, 0 when an error was answered, -1 broken. */
int imapd_eol(struct imapd *s);

/* Flush the output unless more commands are already waiting. */
int imapd_flush(struct imapd *s);

/* The ID response (RFC 2971): reads the client's list, answers. */
int imapd_id(struct imapd *s);

/* Append the FLAGS list text of a record's flags and keywords (with
 * \Recent when recent) to out. */
int imapd_flags_text(struct str *out, const struct mbmeta *meta,
    uint32_t flags, uint64_t keywords, int recent);

/* Parse a flag list "(\Seen $Foo)" (or a single flag when paren is 0)
 * into MAIL_* flags and keyword bits of mb (created when create).  An
 * list may also be flags separated by spaces without parentheses.
 * Returns 0, -1 with the parser in error, -2 with a reason in err for a
 * keyword that cannot be added (skip the command and answer NO), or -3
 * with a reason in err for an unknown system flag (skip and answer BAD). */
int imapd_flag_list(struct imapd *s, struct mailbox *mb, int create,
    uint32_t *flags_r, uint64_t *kw_r, struct str *err);

/* Append the decimal n to out (the hot paths avoid printf). */
int imapd_append_num(struct str *out, uint64_t n);

/* The system flags a client may set (PERMANENTFLAGS) in text form. */
#define IMAP_SYSTEM_FLAGS "\\Answered \\Flagged \\Deleted \\Seen \\Draft"

/* ---- session.c ---- */

/* The authenticated session (imapd -S).  Returns the exit status. */
int imapd_session(const struct instance *inst);

/* ---- prelogin.c ---- */
int imapd_prelogin(struct login_client *lc, void *arg);

/* ---- names.c: mailbox names ---- */

/* Check a mailbox name as sent and give its Maildir path relative to the
 * user's Maildir ("." for INBOX, ".Name" otherwise) in path_r.  Returns 0,
 * or -1 with a reason in why_r. */
int names_path(const char *name, size_t len, struct str *path_r,
    const char **why_r);

/* Whether name is INBOX (any case). */
int names_is_inbox(const char *name);

/* Whether the mailbox exists (a Maildir). */
int names_exists(const char *path);

/* Every folder name of the Maildir (without INBOX) into a sorted,
 * NUL-separated list; *n_r names.  Returns 0 or -1. */
int names_list_all(struct str *list_r, size_t *n_r);

/* Subscriptions: load into a NUL-separated list, save atomically. */
int names_subs_load(struct str *list_r, size_t *n_r);
int names_subs_change(const char *name, int add);

/* LIST pattern match: '*' anything, '%' anything but the delimiter. */
int names_match(const char *pat, const char *name);

/* The SPECIAL-USE attribute of a top-level folder name, NULL if none. */
const char *names_special_use(const char *name);

/* Create the special-use folders and subscribe them, once per user. */
void names_first_login(void);

/* ---- cmd-mailbox.c ---- */
int cmd_create(struct imapd *s);
int cmd_delete(struct imapd *s);
int cmd_rename(struct imapd *s);
int cmd_subscribe(struct imapd *s);
int cmd_unsubscribe(struct imapd *s);
int cmd_list(struct imapd *s);
int cmd_lsub(struct imapd *s);
int cmd_status(struct imapd *s);
int cmd_namespace(struct imapd *s);

/* ---- cmd-append.c ---- */
int cmd_append(struct imapd *s);

/* ---- view.c: the selected mailbox ---- */

/* Load the view of the freshly opened s->mb (all existing UIDs). */
int view_load(struct imapd *s, struct str *err);

/* Build the UID array if the SELECT left it for later (it reads only the
 * header and a few records).  Every command that uses sequence numbers
 * calls it first.  Returns 0 or -1. */
int view_ready(struct imapd *s);

/* Drop the selected mailbox. */
void view_close(struct imapd *s);

/* Refresh the index and report what changed since the last report:
 * EXPUNGE (only when allow_expunge), EXISTS, RECENT, FETCH FLAGS.  */
int view_update(struct imapd *s, int allow_expunge);

/* The UID of sequence number seq (1-based), 0 when out of range. */
uint32_t view_uid(const struct imapd *s, uint32_t seq);

/* The sequence number of uid, 0 when not in the view. */
uint32_t view_seq(const struct imapd *s, uint32_t uid);

/* Whether uid is \Recent in this session. */
int view_recent(const struct imapd *s, uint32_t uid);

/* Resolve a parsed set (sequence numbers, or UIDs when uid) into the
 * ascending list of UIDs of the view it names.  Returns 0, or -1 with
 * errno (EINVAL: a sequence number beyond EXISTS). */
int view_resolve(const struct imapd *s, struct seqset *set, int uid,
    struct mailbox_uids *out);

/* Rename the files of the messages whose flags this command changed
 * (changed: their UIDs, ascending) to carry them: after the tagged reply,
 * before the next command is read.  Errors are logged; the names then
 * catch up at the next STORE or SELECT. */
void view_names(struct imapd *s, const struct mailbox_uids *changed);

/* Remove the UIDs (ascending) from the view, sending EXPUNGE for each
 * (or one VANISHED under QRESYNC). */
int view_expunged(struct imapd *s, const uint32_t *uids, size_t n);

/* "* VANISHED (EARLIER) set": the tombstones of the selected mailbox with
 * a MODSEQ above since and a UID in known (NULL: any).  Returns 0 or -1. */
int view_vanished_since(struct imapd *s, uint64_t since,
    const struct seqset *known);

/* ---- cmd-select.c ---- */
int cmd_select(struct imapd *s);
int cmd_close(struct imapd *s);
int cmd_unselect(struct imapd *s);
int cmd_expunge(struct imapd *s);
int cmd_check(struct imapd *s);

/* The FLAGS and PERMANENTFLAGS responses of the selected mailbox (also
 * sent again when another session defines a keyword). */
int select_flags(struct imapd *s);

/* ---- cmd-fetch.c ---- */
int cmd_fetch(struct imapd *s);

/* Send "* n FETCH (UID u FLAGS (...)[ MODSEQ (m)])" for a record. */
int fetch_flags_line(struct imapd *s, uint32_t seq,
    const struct index_record *r, int with_uid);

/* FETCH responses in bulk (FETCH, STORE, the updates after a command):
 * lines gather in buf and go out in writes of FETCH_OUT_CHUNK bytes; the
 * message after the last one is looked at first, in the index and in the
 * view; the FLAGS text of each set of system flags is made once. */
#define FETCH_OUT_CHUNK 65536

struct fetch_lines {
	struct imapd *s;
	struct str buf;		/* lines not written yet */
	uint32_t pos;		/* index position after the last record */
	uint32_t vpos;		/* view position after the last message */
	struct str text[2 * (MAIL_FLAGS_MASK + 1)];	/* by flags, recent */
	struct str kw;		/* the text of flags with keywords */
};

/* Start, with nothing gathered. */
void fetch_lines_init(struct fetch_lines *fl, struct imapd *s);

/* The record of uid (not expunged), the hint first.  0 or -1. */
int fetch_lines_record(struct fetch_lines *fl, uint32_t uid,
    struct index_record *r);

/* The sequence number of uid, the hint first; 0 when not in the view. */
uint32_t fetch_lines_seq(struct fetch_lines *fl, uint32_t uid);

/* Append the FLAGS list text as imapd_flags_text() does. */
int fetch_lines_flags(struct fetch_lines *fl, struct str *out, uint32_t flags,
    uint64_t keywords, int recent);

/* Gather "* n FETCH ([UID u ]FLAGS (...)[ MODSEQ (m)])" for the message
 * uid (nothing when it is gone or not in the view).  0 or -1. */
int fetch_lines_uid(struct fetch_lines *fl, uint32_t uid, int with_uid);

/* Write what gathered when it reached FETCH_OUT_CHUNK, or at all when
 * all is set.  0 or -1. */
int fetch_lines_out(struct fetch_lines *fl, int all);

/* Write what is left and free.  0 or -1. */
int fetch_lines_done(struct fetch_lines *fl);

/* ---- cmd-store.c ---- */
int cmd_store(struct imapd *s);
int cmd_copy(struct imapd *s);
int cmd_move(struct imapd *s);

/* ---- cmd-search.c ---- */
int cmd_search(struct imapd *s);

/* ---- cmd-idle.c ---- */
int cmd_idle(struct imapd *s);

/* Open the mailbox named by a client name (lock_timeout of the instance).
 * Returns 0; -1 when a NO has been answered (after skipping the rest of
 * the command; [TRYCREATE] when trycreate and it does not exist); -2 when
 * the connection broke while answering. */
int imapd_open_named(struct imapd *s, const struct imap_str *name,
    int trycreate, struct mailbox **mb_r);

#endif
