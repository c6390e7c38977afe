/* SPDX-License-Identifier: ISC */
#ifndef ZEST_SMTPD_H
#define ZEST_SMTPD_H

/*
 * smtpd: the inbound SMTP server (RFC 5321), one connection on fd 0/1,
 * or as a worker of listen -P one connection after another, each in a
 * fresh struct smtpd.  main.c sets up the process once (configuration,
 * TLS, privileges) and runs the sessions; session.c reads commands and
 * dispatches them through a table to the handlers of cmd-*.c; inject.c runs
 * queue-inject for each message; relay.c decides which recipients are
 * accepted; received.c writes the Received header; tls.c does STARTTLS
 * by handing the connection to tlsrelay(8), so smtpd links no OpenSSL.
 *
 * The session works on a struct io, so tests run it on memory buffers.
 */

#include <stddef.h>
#include <sys/types.h>

#include "instance.h"
#include "io.h"
#include "log.h"
#include "smtp.h"
#include "smtpdata.h"
#include "str.h"
#include "table.h"

/* The system user smtpd becomes when started as root. */
#define SMTPD_USER "zest-smtpd"

/* The longest line of TLS facts tlsrelay may send, with its NUL. */
#define SMTPD_TLS_INFO_MAX 128

/* What STARTTLS needs, set up once per process by main.c while it is
 * still root: tlsrelay's path and the certificate chain and key files,
 * open and close-on-exec (the key is readable by root only). */
struct smtpd_tls {
	char *relay;			/* tlsrelay, beside smtpd */
	int cert_fd;
	int key_fd;
};

/* Limits from zest.conf (see zest.conf(5), smtpd(8)). */
struct smtpd_limits {
	size_t line_max;		/* smtpd_line_max: a text line */
	unsigned error_limit;		/* smtpd_error_limit */
	unsigned timeout;		/* smtpd_timeout, seconds */
	unsigned long long size_limit;	/* message_size_limit */
	unsigned max_rcpt;		/* max_recipients */
};

/* The lookup tables smtpd reads, opened when first needed. */
enum smtpd_table {
	SMTPD_T_MAILBOXES, SMTPD_T_ALIASES, SMTPD_T_DOMAINS, SMTPD_T_RELAY,
	SMTPD_T_COUNT
};

struct smtpd_inject;

/* The mail transaction: MAIL to the end of the data or RSET. */
struct smtpd_tx {
	int active;			/* MAIL was accepted */
	struct str from;		/* "" for <> */
	enum smtp_body body;
	int body_given;
	int utf8;			/* SMTPUTF8 */
	enum smtp_ret ret;
	struct str envid;		/* xtext as received */
	unsigned long long declared;	/* SIZE=, 0 when absent */
	struct str rcpts;		/* the envelope's R lines */
	unsigned nrcpt;
	struct str first_rcpt;		/* for the Received header */
	int bdat;			/* a BDAT chunk was taken */
	struct smtpdata text;		/* BDAT text checks */
	unsigned long long size;	/* bytes given to queue-inject */
	int too_big;			/* size passed the limit */
	struct smtpd_inject *inj;	/* the queue-inject taking this
					   message, NULL: none */
};

struct smtpd {
	const struct instance *inst;
	struct smtpd_limits lim;
	struct io *io;			/* the client */
	int rfd, wfd;			/* its descriptors (TLS), -1: none */
	const struct smtpd_tls *tls_conf;	/* NULL: no STARTTLS */
	pid_t relay_pid;		/* this session's tlsrelay, 0: none */
	int relay_fd;			/* smtpd's end of its socketpair (the
					   io's descriptor then), -1: none */
	char tls_info[SMTPD_TLS_INFO_MAX];	/* tlsrelay's facts, "" before
					   STARTTLS */
	char sid[LOG_SID_MAX];
	char ip[64];			/* the client's address, "" unknown */
	int ip6;			/* ip is IPv6 */
	struct str helo;		/* "" before HELO/EHLO */
	int esmtp;			/* EHLO (not HELO) */
	unsigned errors;		/* 4xx/5xx replies so far */
	unsigned nmsg;			/* messages queued */
	int quit;			/* close after the reply */
	void (*on_quit)(void *);	/* at QUIT, before the 221 (a pool
					   worker tells listen it is done) */
	void *on_quit_arg;
	int local;			/* -L: a local user's session on
					   stdin/stdout (sendmail -bs): may
					   relay, as sendmail itself may */
	struct table *tables[SMTPD_T_COUNT];
	struct smtpd_tx tx;
	struct str line;		/* the command line */
	struct str reply;		/* reply being formatted */
	unsigned char dbuf[IO_BUFSIZE];	/* message bytes on their way */
};

/* session.c */

/* Set up a session on io (the client; rfd/wfd its descriptors for TLS, -1
 * when none) with the configuration of inst, a client address ip (NULL
 * or "" when unknown) and tls_conf (NULL: no STARTTLS; it must outlive
 * the session).  Returns 0, or -1 with errno. */
int smtpd_init(struct smtpd *s, const struct instance *inst, struct io *io,
    int rfd, int wfd, const char *ip, const struct smtpd_tls *tls_conf);

/* Read the limits of inst into lim. */
void smtpd_limits(const struct instance *inst, struct smtpd_limits *lim);

/* Greet, then serve commands until QUIT, EOF, an error limit or a
 * timeout.  Returns 0 after QUIT, -1 when the connection ended otherwise. */
int smtpd_run(struct smtpd *s);

/* Release everything of s (the io and descriptors stay the caller's). */
void smtpd_free(struct smtpd *s);

/* Queue a reply (flushed before the next read; see PIPELINING).  enh
 * NULL for the greeting and EHLO/HELO; 4xx/5xx replies count towards the
 * error limit.  Returns 0, or -1 when it could not be written. */
int smtpd_reply(struct smtpd *s, int code, const char *enh,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Write out the queued replies.  Returns 0 or -1. */
int smtpd_flush(struct smtpd *s);

/* End the mail transaction (RSET, EHLO, end of data), stopping any
 * queue-inject without queueing. */
void smtpd_tx_reset(struct smtpd *s);

/* A command handler: replies itself; returns 0, or -1 when the connection
 * must end (it is lost, or cannot be resynchronized). */
typedef int smtpd_cmd_fn(struct smtpd *s, const struct smtp_cmd *cmd);

/* cmd-misc.c */
smtpd_cmd_fn smtpd_cmd_helo, smtpd_cmd_ehlo, smtpd_cmd_rset,
    smtpd_cmd_noop, smtpd_cmd_quit, smtpd_cmd_vrfy, smtpd_cmd_expn,
    smtpd_cmd_help, smtpd_cmd_auth;
/* cmd-mail.c */
smtpd_cmd_fn smtpd_cmd_mail, smtpd_cmd_rcpt;
/* cmd-data.c */
smtpd_cmd_fn smtpd_cmd_data, smtpd_cmd_bdat;
/* tls.c */
smtpd_cmd_fn smtpd_cmd_starttls;

/* tls.c: whether STARTTLS can be offered now. */
int smtpd_tls_offer(const struct smtpd *s);

/* tls.c: the TLS summary for headers and logs, NULL without TLS. */
const char *smtpd_tls_info(const struct smtpd *s);

/* tls.c: end TLS if active: flush, close the socketpair (tlsrelay then
 * sends the rest and close_notify, and exits) and reap tlsrelay. */
void smtpd_tls_end(struct smtpd *s);

/* tls.c: whether the n bytes at p are a well-formed line of TLS facts
 * from tlsrelay (without its LF): 1 to SMTPD_TLS_INFO_MAX - 1 printable
 * ASCII bytes, no space.  Returns 0 or -1. */
int smtpd_tls_facts_ok(const char *p, size_t n);

/* relay.c: what to do with a recipient. */
enum smtpd_rcpt_verdict {
	SMTPD_RCPT_OK,
	SMTPD_RCPT_NO_USER,	/* 550 5.1.1 */
	SMTPD_RCPT_RELAY,	/* 550 5.7.1 relaying denied */
	SMTPD_RCPT_TEMP		/* 451 4.3.0 lookup failed */
};

/* relay.c: decide on recipient p. */
enum smtpd_rcpt_verdict smtpd_relay_check(struct smtpd *s,
    const struct smtp_path *p);

/* relay.c: close the tables. */
void smtpd_relay_close(struct smtpd *s);

/* received.c: the Received header for the current transaction, CRLF
 * line ends, appended to out.  Returns 0 or -1 with errno. */
int smtpd_received(const struct smtpd *s, struct str *out);

/* received.c: append the envelope text (QUEUE.md, without the final "."
 * line) of the current transaction to out.  Returns 0 or -1. */
int smtpd_envelope(const struct smtpd *s, struct str *out);

/* received.c: s's HELO name made safe for headers and the envelope
 * (printable ASCII, no parentheses or backslash), into out. */
int smtpd_helo_safe(const struct smtpd *s, struct str *out);

/* inject.c: give the current transaction's envelope and Received header
 * to the process's queue-inject -m, starting one when none runs (or the
 * last one ended).  Returns 0, or -1 with a reason logged. */
int smtpd_inject_start(struct smtpd *s);

/* inject.c: pass n message bytes to queue-inject.  A queue-inject that
 * stopped reading is noticed at the end.  Returns 0, or -1 when the
 * message cannot be queued any more (the reply comes from the end). */
int smtpd_inject_write(struct smtpd *s, const void *p, size_t n);

/* inject.c: end the message and reply to the client: 250 with the queue
 * id, or queue-inject's own refusal, or 451.  The transaction is reset.
 * Returns 0, or -1 when the reply could not be written. */
int smtpd_inject_finish(struct smtpd *s);

/* inject.c: drop the transaction's message without queueing (the A
 * record; a queue-inject that does not take it is ended).  Nothing happens
 * when no message is in progress. */
void smtpd_inject_abort(struct smtpd *s);

/* inject.c: at the end of the process (after the last session of a
 * worker, or of the one connection): let go of any queue-inject kept
 * running across messages and sessions (EOF between messages, then reap
 * it).  Also registered with atexit(); safe to call more than once. */
void smtpd_inject_shutdown(void);

/* cmd-data.c: pass message bytes on, counting them against the size
 * limit.  Returns 0, or -1 when queue-inject failed. */
int smtpd_data_out(struct smtpd *s, const void *p, size_t n);

#endif
