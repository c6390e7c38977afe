/* SPDX-License-Identifier: ISC */
#ifndef ZEST_SMTPC_PRIVATE_H
#define ZEST_SMTPC_PRIVATE_H

/* smtpc internals shared by smtpc.c and smtpc-data.c. */

#include "smtpc.h"

#define SMTPC_BUF (64 * 1024)	/* message reads */

/* Recipient states within one transaction. */
#define SMTPC_RS_IDLE 0		/* not in the current transaction */
#define SMTPC_RS_SENT 1		/* RCPT sent, reply not read */
#define SMTPC_RS_OK 2		/* RCPT accepted */
#define SMTPC_RS_LATER 3	/* 452: again in the next transaction */

/* Fail the host: code, status, printf-style text.  Returns -1. */
int smtpc_fail(struct smtpc *c, unsigned code, const char *status,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Fail the host with the reply in c->rep, to command what.  Returns -1. */
int smtpc_fail_reply(struct smtpc *c, const char *what);

/* Read a reply into c->rep within secs seconds.  Returns 0, or -1 with the
 * host failed ("lost connection ... while what"). */
int smtpc_read(struct smtpc *c, unsigned secs, const char *what);

/* Write and flush a command line (without CRLF); -1 fails the host. */
int smtpc_cmd(struct smtpc *c, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Flush what was queued; -1 fails the host. */
int smtpc_flush(struct smtpc *c, const char *what);

/* RSET and its reply; -1 fails the host. */
int smtpc_rset(struct smtpc *c);

/* The enhanced status of c->rep, or the default of its class. */
const char *smtpc_status(const struct smtpc *c);

/* Give every accepted recipient the result of the reply in c->rep to
 * command what. */
void smtpc_result_ok_rcpts(struct smtpc *c, struct smtpc_rcpt *r, size_t n,
    const char *what);

/* Give every accepted recipient the host failure (c->fail_*) as its
 * result: the end of data was sent, its fate is unknown. */
void smtpc_result_ok_rcpts_lost(struct smtpc *c, struct smtpc_rcpt *r,
    size_t n);

/* The descriptor and size of the message as this session sends it: the
 * 7-bit copy when c->use7. */
int smtpc_msg_fd(const struct smtpc *c, const struct smtpc_msg *m);
off_t smtpc_msg_size(const struct smtpc *c, const struct smtpc_msg *m);

/* Send the message with DATA, then read the final reply.  Returns 0 when
 * the accepted recipients have their results, or -1 with the host failed
 * (recipients without a result stay pending). */
int smtpc_data(struct smtpc *c, struct smtpc_msg *m, struct smtpc_rcpt *r,
    size_t n);

/* As smtpc_data with BDAT chunks. */
int smtpc_bdat(struct smtpc *c, struct smtpc_msg *m, struct smtpc_rcpt *r,
    size_t n);

#endif
