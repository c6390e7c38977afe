/* SPDX-License-Identifier: ISC */
#ifndef ZEST_SMTPC_H
#define ZEST_SMTPC_H

/*
 * smtpc: the SMTP client of remote(8), one session with one server over a
 * struct io (a socket, TLS, or a test script).
 *
 * A session reads the greeting, says EHLO (HELO when EHLO is refused),
 * upgrades with STARTTLS when the server offers it and the caller gave a
 * TLS hook, then runs mail transactions for the recipients that have no
 * result yet: MAIL and the RCPTs batched when PIPELINING is offered, the
 * body with DATA (dot-stuffed, line ends made CRLF) or, for BINARYMIME,
 * with BDAT chunks; DSN parameters (RFC 3461) and SIZE are passed on when
 * offered.  What the server cannot take (BINARYMIME without BINARYMIME and
 * CHUNKING, 8-bit without 8BITMIME, 8-bit header fields without SMTPUTF8)
 * is sent as a copy converted by mime7(3), or fails for the host (5.6.3,
 * 5.6.7) when it cannot be converted.  Each recipient ends with a result (code, enhanced status,
 * text) or stays pending when the session failed before its fate was
 * known, so that the caller can try the next host.
 *
 * Every reply is bounded: SMTPC_LINE_MAX bytes a line, SMTPC_REPLY_LINES
 * lines, and a deadline (RFC 5321 section 4.5.3.2: the timeouts below).
 */

#include <stddef.h>
#include <sys/types.h>

#include "io.h"
#include "str.h"

#define SMTPC_LINE_MAX 2048	/* a reply line, CRLF included */
#define SMTPC_REPLY_LINES 100	/* lines of one reply */
#define SMTPC_TEXT_MAX 512	/* reply text kept for a result */
#define SMTPC_RCPT_BATCH 100	/* recipients per transaction (4.5.3.1.8) */
#define SMTPC_STATUS_MAX 16	/* "x.yyy.zzz" and its NUL */
#define SMTPC_TIMEOUT 300	/* seconds: every reply (4.5.3.2) */
#define SMTPC_DATA_TIMEOUT 600	/* seconds: the reply to the end of data */
#define SMTPC_CHUNK (1024 * 1024) /* BDAT chunk size */
#define SMTPC_WHY_MAX 120	/* why a message cannot be converted */

/* Extensions the server offered in its EHLO reply. */
#define SMTPC_EXT_PIPELINING	0x001
#define SMTPC_EXT_SIZE		0x002
#define SMTPC_EXT_8BITMIME	0x004
#define SMTPC_EXT_BINARYMIME	0x008
#define SMTPC_EXT_CHUNKING	0x010
#define SMTPC_EXT_DSN		0x020
#define SMTPC_EXT_STARTTLS	0x040
#define SMTPC_EXT_SMTPUTF8	0x080
#define SMTPC_EXT_ENHANCED	0x100

/* Results of smtpc_session besides 0. */
#define SMTPC_HOSTFAIL 1	/* see fail_*: try the next host */
#define SMTPC_NOTLS 2		/* TLS handshake failed: reconnect, no TLS */

enum smtpc_body { SMTPC_7BIT, SMTPC_8BITMIME, SMTPC_BINARYMIME };

/* One reply, fed line by line to smtpc_reply_feed. */
struct smtpc_reply {
	unsigned code;			/* 0 before the first line */
	char status[SMTPC_STATUS_MAX];	/* enhanced status of line 1, or "" */
	struct str text;		/* the lines' text joined by spaces,
					 * codes stripped, sanitized, at most
					 * SMTPC_TEXT_MAX bytes */
	unsigned lines;
	const char *cur;		/* the last line's text (no CRLF) */
	size_t curlen;
};

/* One recipient. */
struct smtpc_rcpt {
	const char *addr;		/* without <> */
	const char *notify;		/* DSN NOTIFY value, NULL or "": none */
	const char *orcpt;		/* DSN ORCPT value, NULL or "": none */
	int done;			/* the fields below hold its result */
	unsigned code;			/* 250, 451, 550, ... */
	char status[SMTPC_STATUS_MAX];	/* "2.0.0", "5.1.1", ... */
	struct str text;		/* the reason, one printable line */
	int state;			/* private to a transaction */
};

/* A converted copy of the message (mime7.h), made when first needed. */
struct smtpc_conv {
	int state;			/* 0 not tried; 1 made (fd, size); 2
					 * the message goes as it is; -1
					 * impossible (why) */
	int fd;
	off_t size;
	int eightbit;			/* what goes holds 8-bit text */
	char why[SMTPC_WHY_MAX];
};

/* Indexes of smtpc_msg's conv. */
#define SMTPC_CONV_7BIT 0		/* 7-bit, header fields encoded */
#define SMTPC_CONV_8BIT 1		/* 8-bit text, no binary */
#define SMTPC_CONV_8BIT_HDR7 2		/* the same, header fields 7-bit */
#define SMTPC_CONV_BINARY_HDR7 3	/* bodies kept, header fields 7-bit */
#define SMTPC_CONVS 4

/* The message and its envelope. */
struct smtpc_msg {
	int fd;				/* read with pread from offset 0 */
	off_t size;			/* bytes of the message */
	const char *sender;		/* "" for the null sender */
	const char *ret;		/* DSN RET (FULL, HDRS), NULL: none */
	const char *envid;		/* DSN ENVID (xtext), NULL: none */
	enum smtpc_body body;
	int smtputf8;			/* SMTPUTF8 was given */
	int eightbit;			/* 1, 0, or -1: scan when needed */
	/* The copies for servers without 8BITMIME (7-bit), without
	 * BINARYMIME (8-bit when they have 8BITMIME, else 7-bit) or without
	 * SMTPUTF8 (header fields 7-bit), each made once when first needed.
	 * Zero these; smtpc_msg_free closes their descriptors. */
	struct smtpc_conv conv[SMTPC_CONVS];
};

/* A session. Set the first block, zero the rest (smtpc_init does). */
struct smtpc {
	struct io *io;
	const char *helo;		/* our host name */
	const char *peer;		/* "host[ip]" for texts */
	unsigned timeout;		/* seconds, every reply */
	unsigned data_timeout;		/* seconds, the end of data */
	size_t chunk;			/* BDAT chunk size */
	/* STARTTLS: make io talk TLS after the server's 220; NULL for no
	 * STARTTLS.  Returns 0, or -1 with a message in err. */
	int (*starttls)(void *arg, struct io *io, struct str *err);
	void *tls_arg;

	unsigned ext;			/* SMTPC_EXT_* of the last EHLO */
	unsigned long long size_max;	/* the server's SIZE, 0: none */
	int greeted;			/* the server greeted us */
	int tls;			/* STARTTLS succeeded */
	int broken;			/* the connection is unusable */
	unsigned fail_code;		/* after SMTPC_HOSTFAIL */
	char fail_status[SMTPC_STATUS_MAX];
	struct str fail_text;

	struct smtpc_reply rep;		/* scratch */
	struct str line;
	unsigned char *buf;		/* message reads */
	int conv;			/* this session sends m->conv[conv],
					 * or the message when -1 */
	enum smtpc_body send_body;	/* and says BODY= for it */
};

/* Set up c for a session on io: the defaults above for timeouts and
 * chunk size, no STARTTLS. */
void smtpc_init(struct smtpc *c, struct io *io, const char *helo,
    const char *peer);

/* Free what a session allocated; c can be set up again. */
void smtpc_free(struct smtpc *c);

/*
 * Run a session: greeting, EHLO, STARTTLS, transactions for every
 * recipient of r[0..n) that is not done, QUIT.  Returns 0 when the session
 * ran to the end (every recipient is done), SMTPC_HOSTFAIL when the host
 * failed (fail_code, fail_status, fail_text; a 5xx code means every host
 * like it would refuse too) with the recipients not done left to the next
 * host, or SMTPC_NOTLS when the TLS handshake failed.  -1 with errno for a
 * local error (out of memory, the message unreadable), with fail_text set.
 */
int smtpc_session(struct smtpc *c, struct smtpc_msg *m, struct smtpc_rcpt *r,
    size_t n);

/* Set the result of a recipient: code, status and printf-style text. */
void smtpc_rcpt_set(struct smtpc_rcpt *r, unsigned code, const char *status,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Start a new reply (keeps the text's allocation). */
void smtpc_reply_reset(struct smtpc_reply *rep);

/* Feed one reply line (its CRLF or LF may be included).  Returns 0 when
 * more lines follow, 1 for the last line, -1 with errno EPROTO when the
 * line is malformed, its code differs from the first line's, or the reply
 * has more than SMTPC_REPLY_LINES lines. */
int smtpc_reply_feed(struct smtpc_reply *rep, const char *line, size_t len);

/* Release the reply's text. */
void smtpc_reply_free(struct smtpc_reply *rep);

/* Parse one EHLO keyword line (the text after "250-"): returns the
 * SMTPC_EXT_ bit it names (0 for others) and sets *size_r for SIZE. */
unsigned smtpc_ehlo_keyword(const char *line, size_t len,
    unsigned long long *size_r);

/* Close the converted copies of m, if any were made. */
void smtpc_msg_free(struct smtpc_msg *m);

/* Whether the message has a byte above 127 (read from m->fd).  Returns 1,
 * 0, or -1 with errno. */
int smtpc_msg_8bit(const struct smtpc_msg *m, unsigned char *buf,
    size_t bufsize);

#endif
