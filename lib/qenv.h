/* SPDX-License-Identifier: ISC */
#ifndef ZEST_QENV_H
#define ZEST_QENV_H

/*
 * qenv: the envelope text (ENV) of the queue, as fixed in docs/QUEUE.md:
 * one record per line, the first byte says what the line is, "V1" first.
 * It is what queue-inject reads, what the queue's env/ files hold and what
 * remote gets on fd 3.  The parser fails closed: an unknown letter, a
 * repeated single record, a value with a control byte, an over-long line or
 * field, a malformed NOTIFY, ORCPT or ENVID is an error, never a guess.
 *
 * Also here: queue ids, the requests queued sends the spawner, the RFC 3461
 * NOTIFY keywords and xtext.
 */

#include <stddef.h>

#include "str.h"

#define QENV_VERSION 1
#define QENV_LINE_MAX 4096	/* one line, LF included */
#define QENV_ADDR_MAX 256	/* an address, RFC 5321 4.5.3.1.3 */
#define QENV_ORCPT_MAX 500	/* RFC 3461 4.2 */
#define QENV_ENVID_MAX 100	/* RFC 3461 4.4 */
#define QENV_CLIENT_MAX 1024	/* the C line's text */
#define QENV_ID_MAX 48		/* a queue id */
#define QENV_JOB_MAX 18		/* digits of a spawner job number */
#define QENV_USER_MAX 64	/* a user name (users_valid_name) */
#define QENV_FILE_ENV_MAX (64UL << 20)	/* the envelope part of a V2 file */
#define QENV_FILE_HEAD_MAX 24	/* "V2 <12 digits>\n" fits */

/* Parser flags: which records the text may or must hold. */
#define QENV_INPUT	0x01u	/* queue-inject's input: no I, T, A, E */
#define QENV_STORED	0x02u	/* an env/ file: I, T and A required */

/* NOTIFY keywords (RFC 3461 4.1), as bits. */
#define QENV_NOTIFY_NEVER	0x01u
#define QENV_NOTIFY_SUCCESS	0x02u
#define QENV_NOTIFY_FAILURE	0x04u
#define QENV_NOTIFY_DELAY	0x08u

enum qenv_ret { QENV_RET_NONE, QENV_RET_FULL, QENV_RET_HDRS };
enum qenv_body { QENV_BODY_7BIT, QENV_BODY_8BITMIME, QENV_BODY_BINARYMIME };

/* One R line. */
struct qenv_rcpt {
	char *addr;	/* the address, no <> */
	char *notify;	/* NOTIFY as given, "" when none */
	char *orcpt;	/* ORCPT as given (type;xtext), "" when none */
};

struct qenv {
	char *id;		/* I; NULL when absent */
	long long arrival;	/* T; -1 when absent */
	long long uid;		/* A; -1 when absent */
	char *sender;		/* F; "" is the null sender */
	enum qenv_ret ret;	/* X */
	char *envid;		/* N (xtext); NULL when absent */
	enum qenv_body body;	/* B */
	int smtputf8;		/* U */
	char *client;		/* C; NULL when absent */
	int expanded;		/* E: queued has resolved the aliases */
	int version;		/* V: 1, or 2 (a queue file: envelope, then
				 * the message) */
	unsigned long long msg_offset;	/* V2: where the message starts (the
				 * envelope text's length); 0 for V1 */
	struct qenv_rcpt *rcpt;	/* the R lines, in order */
	size_t nrcpt;
	/* parser state */
	size_t cap;
	size_t max_rcpt;
	unsigned flags;
	unsigned seen;		/* single records seen so far */
	unsigned lines;
};

/* Start an empty envelope for parsing with QENV_* flags; at most max_rcpt
 * R lines (0: no limit but memory). */
void qenv_init(struct qenv *e, unsigned flags, size_t max_rcpt);

/* Parse one line (without its LF; len bytes, may hold NUL bytes, which are
 * an error).  Returns 0, or -1 with a message in err and errno E2BIG for
 * one recipient too many, EINVAL for anything else. */
int qenv_line(struct qenv *e, const char *line, size_t len, struct str *err);

/* Check that the records parsed make an envelope: V first, F present, at
 * least one R, the fields the flags require, 8-bit addresses only with U.
 * Returns 0, or -1 with errno EINVAL and a message in err. */
int qenv_finish(struct qenv *e, struct str *err);

/* Parse a whole text (every line ending in LF) with qenv_init, qenv_line
 * and qenv_finish.  e is initialized here; free it with qenv_free either
 * way.  Returns 0 or -1 as qenv_line. */
int qenv_parse(struct qenv *e, const char *text, size_t len, unsigned flags,
    size_t max_rcpt, struct str *err);

/* Add a recipient, checking the values as an R line would be.  Returns 0,
 * or -1 with errno (E2BIG: max_rcpt reached, EINVAL, ENOMEM). */
int qenv_add_rcpt(struct qenv *e, const char *addr, const char *notify,
    const char *orcpt);

/* Append the records of e but the R lines (V first) to out.  Returns 0 or
 * -1 with errno ENOMEM/E2BIG. */
int qenv_format_head(const struct qenv *e, struct str *out);

/* Append one R line to out.  Returns 0 or -1 with errno. */
int qenv_format_rcpt(const struct qenv_rcpt *r, struct str *out);

/* Append the whole envelope (head, then every R line) to out.  Returns 0
 * or -1 with errno. */
int qenv_format(const struct qenv *e, struct str *out);

/* Append the envelope as the head of a queue file (V2, docs/QUEUE.md):
 * the text of qenv_format with "V2 <n>" as its first line, n being the
 * length of the whole text, so that the message follows at offset n.
 * Returns 0 or -1 with errno (E2BIG past QENV_FILE_ENV_MAX). */
int qenv_format_file(const struct qenv *e, struct str *out);

/* The first line of an env/ file in buf[0..len): 1 for "V1" (the message
 * is in msg/<id>, *off_r = 0), 2 for "V2 <n>" (the message is in the same
 * file from offset n, at most QENV_FILE_ENV_MAX and past the line), or -1
 * with errno EINVAL (no LF in buf, anything else). */
int qenv_file_head(const char *buf, size_t len, unsigned long long *off_r);

/* Read the envelope text of the env/ file on fd (pread: the offset is not
 * used) into text (appended): the first *off_r bytes of a V2 file, the
 * whole of a V1 file.  At most max bytes.  Returns 1 or 2 (the version,
 * *off_r as qenv_file_head), or -1 with errno (EINVAL: a malformed first
 * line or a V2 file shorter than its envelope; EFBIG: more than max). */
int qenv_file_read(int fd, size_t max, struct str *text,
    unsigned long long *off_r);

/* Free everything e holds and make it empty, ready to parse again with
 * the same flags and limit. */
void qenv_free(struct qenv *e);

/* Parse a NOTIFY value: "" (none: 0) or a comma list of NEVER, SUCCESS,
 * FAILURE, DELAY (any case), NEVER alone, none repeated.  Returns 0 with
 * the bits, or -1 with errno EINVAL. */
int qenv_notify_parse(const char *s, unsigned *bits_r);

/* Whether s[0..len) is xtext (RFC 3461 4): bytes 33..126 but '+' and '=',
 * and "+HH" with two upper-case hex digits; bytes >= 128 also when utf8.
 * Returns 1 or 0. */
int qenv_xtext_valid(const char *s, size_t len, int utf8);

/* Decode the xtext s into out (appended).  Returns 0, or -1 with errno
 * EINVAL (not xtext) or ENOMEM. */
int qenv_xtext_decode(const char *s, struct str *out);

/* Encode s as xtext into out (appended).  Returns 0 or -1 with errno. */
int qenv_xtext_encode(const char *s, struct str *out);

/* Whether s is a valid ORCPT value: "addr-type;xtext", at most
 * QENV_ORCPT_MAX bytes.  Returns 1 or 0. */
int qenv_orcpt_valid(const char *s, int utf8);

/* A request from queued to the spawner, one line (docs/QUEUE.md):
 *	L <job> <id> <user> <rcpt> <sender>	(sender: the rest, may be "")
 *	M <job> <id> <domain>			(then ENV text and ".") */
struct qenv_req {
	char kind;			/* 'L' or 'M' */
	char job[QENV_JOB_MAX + 1];	/* decimal digits */
	char id[QENV_ID_MAX + 1];
	char user[QENV_USER_MAX + 1];	/* L: a valid user name */
	char rcpt[QENV_ADDR_MAX + 1];	/* L: no spaces */
	char sender[QENV_ADDR_MAX + 1];	/* L: may be empty or hold spaces */
	char domain[QENV_ADDR_MAX + 1];	/* M: no spaces, no '/', no '-' first */
};

/* Parse one request line (len bytes, without its LF) into req.  Returns
 * 0, or -1 with errno EINVAL; req->job is then the line's job number when
 * that much was valid (so the request can be answered), else "". */
int qenv_req_parse(const char *line, size_t len, struct qenv_req *req);

/* Append req as a line (with its LF) to out.  Returns 0, or -1 with errno
 * EINVAL when a field would not parse back, or ENOMEM. */
int qenv_req_format(const struct qenv_req *req, struct str *out);

/* Whether id is a queue id: three groups of lower-case hex digits joined
 * by '.', at most QENV_ID_MAX bytes.  Returns 1 or 0. */
int qenv_id_valid(const char *id);

/* A new queue id, <seconds>.<microseconds>.<pid> in hex, into out
 * (cleared first).  Returns 0 or -1 with errno. */
int qenv_id_new(struct str *out);

#endif
