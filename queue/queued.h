/* SPDX-License-Identifier: ISC */
#ifndef ZEST_QUEUED_H
#define ZEST_QUEUED_H

/*
 * queued: the queue manager's internals, shared by its files:
 *
 *	queued.c	 main loop: set-up, signals, the trigger FIFO
 *	queued-msg.c	 messages: loading env/ and state/, outcomes, removal
 *	queued-route.c	 aliases, local or remote, loops by Delivered-To
 *	queued-sched.c	 what to try when: concurrency, back-off, lifetime
 *	queued-spawn.c	 the spawner channel: L and M requests, replies
 *	queued-bounce.c	 DSNs (bounces, delay and success notices), injected
 *			 through queue-inject
 *	queued-rm.c	 the janitor: a child that unlinks msg/ and state/
 *			 files of removed messages
 *
 * Formats and protocols are in docs/QUEUE.md.
 */

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "alias.h"
#include "instance.h"
#include "qenv.h"
#include "str.h"
#include "table.h"

#define QUEUED_FD 3			/* the socket to the spawner */
#define QUEUED_HOPS_MAX 100		/* Received + Delivered-To fields */
#define QUEUED_HEADER_MAX (256 * 1024)	/* header bytes read for loops */
#define QUEUED_ENV_MAX (64UL << 20)	/* an env/ file */
#define QUEUED_STATE_MAX (64UL << 20)	/* a state/ file */
#define QUEUED_TEXT_MAX 900		/* an outcome's text */
#define QUEUED_RESCAN 300		/* seconds between scans of env/ */
#define QUEUED_FLUSH_MS 10		/* finished messages wait at most this
					 * long for their removal (msg_flush) */
#define QUEUED_FLUSH_BATCH 64		/* ... or until this many wait */
#define QUEUED_TMP_AGE 86400		/* tmp/ files older are removed */
#define QUEUED_RM_WAIT_MAX (1UL << 20)	/* bytes of ids waiting for the
					 * janitor's pipe; past it queued
					 * unlinks itself */
#define QUEUED_STOP_WAIT 8		/* seconds to wait for jobs at exit (zest stop
					 * kills after 10) */

/* The DSN a recipient's outcome still owes its sender. */
enum report {
	REPORT_NONE,
	REPORT_FAILED,		/* bounce */
	REPORT_DELIVERED,	/* NOTIFY=SUCCESS, delivered here */
	REPORT_RELAYED,		/* NOTIFY=SUCCESS, handed to a non-DSN host */
	REPORT_DOUBLE		/* a null-sender message failed: postmaster */
};

struct rcpt {
	char outcome;		/* 0 (to do), 'D' delivered, 'F' failed */
	unsigned char busy;	/* in a job now */
	unsigned char remote;	/* goes through remote */
	unsigned char report;	/* enum report */
	unsigned char unsaved;	/* its D or F line is not written yet: the
				 * message is about to be removed */
	unsigned tries;		/* temporary failures so far */
	time_t next;		/* not before */
	time_t last;		/* last attempt */
	char *user;		/* local: the user name for deliver -d */
	char *final;		/* canonical address */
	const char *domain;	/* remote: in final */
	char *text;		/* last outcome: "x.y.z [type; ]detail" */
	char *mta;		/* remote: the host it talked to */
};

struct msg {
	struct msg *next, *prev;	/* every message, oldest first */
	struct msg *hnext;		/* hash chain */
	char id[QENV_ID_MAX + 1];
	struct qenv env;
	struct rcpt *r;			/* env.nrcpt of them */
	unsigned long long size;
	int bad;		/* cannot be used: logged, never scheduled */
	unsigned busy;		/* jobs in flight */
	int delay_sent;		/* a delay notice went out (W line) */
	time_t hold;		/* routing or a report failed: not before */
	int recheck;		/* reports to send once hold has passed */
	int routed;		/* route_msg() succeeded */
	int has_state;		/* state/<id> has lines */
	int dt_loaded;		/* seen holds the Delivered-To fields */
	int pending;		/* on the queued's done list */
	struct msg *dnext;	/* done list: to remove, or lines to write */
	struct alias_seen seen;
};

struct qjob {
	struct qjob *next;
	unsigned long num;
	char kind;		/* 'L' or 'M' */
	struct msg *m;
	size_t rcpt;		/* L: the recipient */
	size_t *idx;		/* M: the recipients, in the order given */
	unsigned char *got;	/* M: a result came for idx[i] */
	size_t n;
	char *host;		/* M: the last H line */
};

struct queued {
	struct instance inst;
	const char *conf_dir;
	int sock, fifo, lockfd;
	int sigpipe[2];
	struct str in, out;		/* spawner socket buffers */
	struct msg *head, *tail;
	struct msg **hash;
	size_t hsize, count;
	struct qjob *jobs;
	unsigned long next_job;
	unsigned local_max, remote_max, local_busy, remote_busy;
	unsigned dest_max;	/* remote jobs at once for one domain */
	time_t retry_min, retry_max, lifetime, delay_warning;
	unsigned long long bounce_limit;
	struct table *aliases, *domains;
	struct alias_ctx actx;
	int stopping;
	int scan;			/* env/ must be scanned */
	time_t next_scan;
	unsigned long seq;		/* bounce file names */
	struct msg *done;		/* messages msg_flush() must look at */
	unsigned ndone;			/* how many */
	int64_t done_since;		/* when the first came (queued_ms) */
	int rm_fd;			/* to the janitor; -1: none */
	pid_t rm_pid;			/* the janitor; 0: none */
	struct str rm_wait;		/* "<id>\n" lines its pipe could not
					 * take yet, from rm_off on */
	size_t rm_off;
	int state_dirty;		/* state/ lines written, not synced */
};

/* queued.c: a monotonic clock in milliseconds. */
int64_t queued_ms(void);

/* queued.c: the log line of a fatal error, then exit. */
void queued_die(const char *fmt, ...)
	__attribute__((noreturn, format(printf, 1, 2)));

/* queued-msg.c */
int msg_scan(struct queued *q, time_t now);
void msg_cleanup(struct queued *q, time_t now);
struct msg *msg_find(struct queued *q, const char *id);
int msg_state(struct queued *q, struct msg *m, const char *n, char what,
    time_t t, const char *text);
void msg_outcome(struct queued *q, struct msg *m, size_t i, char what,
    const char *text, time_t now);
void msg_finish(struct queued *q, struct msg *m);
int msg_state_sync(struct queued *q);
void msg_flush(struct queued *q);
void msg_free_all(struct queued *q);
int msg_read_head(const struct msg *m, size_t max, struct str *out);
int msg_read_all(const struct msg *m, struct str *out);

/* queued-route.c */
int route_init(struct queued *q);
void route_close(struct queued *q);
int route_msg(struct queued *q, struct msg *m, int has_state, time_t now);

/* queued-sched.c */
time_t sched_backoff(const struct queued *q, unsigned tries);
void sched_dispatch(struct queued *q, time_t now);
time_t sched_wake(struct queued *q, time_t now);
void sched_flush(struct queued *q);
void sched_result(struct queued *q, struct msg *m, size_t i, int cls,
    const char *text, time_t now);

/* queued-spawn.c */
int spawn_local(struct queued *q, struct msg *m, size_t i);
int spawn_remote(struct queued *q, struct msg *m, const size_t *idx,
    size_t n);
int spawn_read(struct queued *q, time_t now);
int spawn_write(struct queued *q);
void spawn_forget(struct queued *q, struct msg *m);

/* queued-rm.c: start the janitor; have it unlink msg/<id> and state/<id>
 * (or do it now); close its pipe and wait for it. */
void rm_start(struct queued *q);
void rm_msg(struct queued *q, const char *id);
/* Hand the janitor what waits for its pipe, as much as it takes now.
 * Returns 1 when some still waits (poll rm_fd for POLLOUT), else 0. */
int rm_push(struct queued *q);
/* Unlink msg/<id>, state/<id> and done/<id> now (no janitor). */
void rm_files(const char *id);
void rm_stop(struct queued *q);

/* queued-bounce.c */
void bounce_reports(struct queued *q, struct msg *m, time_t now);
void bounce_delay(struct queued *q, struct msg *m, time_t now);
void bounce_cleanup(struct queued *q);

#endif
