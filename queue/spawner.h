/* SPDX-License-Identifier: ISC */
#ifndef ZEST_SPAWNER_H
#define ZEST_SPAWNER_H

/*
 * spawner's parts: spawner.c (queued, the request loop, the job table),
 * spawner-local.c (L: the per-user delivery workers, deliver -S) and
 * spawner-remote.c (M: one remote per request).  See spawner(8) and
 * docs/QUEUE.md.
 */

#include <poll.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "instance.h"
#include "qenv.h"
#include "str.h"

#define SPAWNER_JOBS_MAX 2100		/* both concurrency limits, and some */
#define SPAWNER_WORKERS_MAX SPAWNER_JOBS_MAX
#define SPAWNER_OUT_MAX 1000		/* a relayed line of output */
#define SPAWNER_JOB_SECONDS 7200	/* a job running longer is killed */
#define SPAWNER_WORKER_IDLE 10		/* seconds an idle worker is kept */
#define SPAWNER_IDLE_KEEP 4		/* idle workers kept at most */
#define SPAWNER_IDLE_GRACE 2		/* seconds a worker must have been idle
					 * to count against SPAWNER_IDLE_KEEP:
					 * one idle between two batches of a
					 * busy queue is not closed */
#define SPAWNER_WORKER_JOBS 10000	/* jobs a worker gets in its life */

enum job_kind { JOB_LOCAL = 'L', JOB_REMOTE = 'M' };

struct job {
	int used;
	enum job_kind kind;
	char num[20];		/* queued's job number, digits */
	time_t started;
	/* M: its remote process */
	pid_t pid;
	int out;		/* remote's stdout; -1 at EOF */
	int exited;
	int status;
	int killed;		/* by the job timeout */
	struct str buf;		/* a partial line */
	int line_done;		/* the rest of a cut line is skipped */
	/* L: its worker */
	int worker;		/* index in the worker table */
	int msgfd;		/* queue/msg/<id> until it is sent */
	int next;		/* the worker's next unsent job, -1 none */
	struct str text;	/* rcpt NUL sender NUL mailbox, until sent */
};

/* A long-lived deliver -S for one user (spawner-local.c). */
struct worker {
	int used;
	char user[QENV_USER_MAX + 1];
	pid_t pid;		/* 0 once reaped */
	int status;		/* its wait status once reaped */
	int sock;		/* our end; -1 once it reached EOF */
	int closing;		/* told to exit: gets no new job */
	int shut;		/* SHUT_WR done */
	int killed;		/* by the job timeout */
	size_t inflight;	/* its jobs not answered yet */
	int head, tail;		/* its unsent jobs, a FIFO through job.next */
	unsigned long given;	/* jobs given over its life */
	time_t idle_since;	/* when inflight last became 0 */
	int fail_code;		/* its setup failed ("- code text"): 0 none */
	struct str fail_text;
};

struct spawner {
	struct instance inst;
	const char *conf_dir;	/* -C, passed on; NULL: installed conf */
	uid_t quid, ruid;
	gid_t qgid, rgid;
	int remote_ok;		/* a remote user exists */
	int envdir, msgdir;	/* queue/env/, queue/msg/, opened at first use */
	struct str envpath, msgpath;
	int sock;		/* to queued; -1 once it is gone */
	pid_t queued;		/* 0 once reaped */
	int queued_status;
	int sigpipe[2];
	struct str in, out;	/* socket buffers */
	int in_env;		/* reading the ENV text of an M request */
	int skipping;		/* discarding the rest of an over-long line */
	struct qenv_req m;	/* that request */
	int m_bad;		/* the request is refused after its ENV */
	struct str env;		/* its ENV text */
	struct job jobs[SPAWNER_JOBS_MAX];
	size_t njobs;
	struct worker workers[SPAWNER_WORKERS_MAX];
	size_t nworkers;	/* slots in use */
	size_t workers_max;	/* live workers: local_concurrency + idle */
	char **envp;		/* the children's environment */
};

/* spawner.c */

/* Queue a reply line for queued (dropped when queued is gone). */
void spawner_reply(struct spawner *sp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A free job slot for job number num, or NULL when all are taken. */
struct job *spawner_job_new(struct spawner *sp, enum job_kind kind,
    const char *num);

/* Release job j (closing what it holds). */
void spawner_job_free(struct spawner *sp, struct job *j);

/* Open <id> in the queue directory *dirfd (opened from path at first use)
 * for a child: a plain file of the queue user with one link, never through
 * a symlink; its stat in *st_r.  -1 with errno. */
int spawner_open_entry(struct spawner *sp, int *dirfd, const struct str *path,
    const char *id, struct stat *st_r);

/* spawner-msg.c: open the message of queue entry id for a child: env/<id>
 * positioned after its envelope (V2), or msg/<id> (V1), both with the
 * checks of spawner_open_entry.  -1 with errno (EINVAL: a malformed first
 * line). */
int spawner_msg_open(struct spawner *sp, const char *id);

/* Copy up to max bytes of s into out, stopping at CR or LF, with control
 * and 8-bit bytes made '?': what queued gets is one clean line. */
void spawner_clean(struct str *out, const char *s, size_t n, size_t max);

/* Fork a child with fd 0 from in, fd 1 from out (-1: /dev/null), fd 2
 * kept, fd 3 from three (-1: none), as uid/gid when as_uid is not -1, and
 * exec prog from libexec_dir with args.  The child's pid, or -1. */
pid_t spawner_spawn(struct spawner *sp, int in, int out, int three,
    uid_t as_uid, gid_t as_gid, const char *prog, char **args);

/* Put "-C DIR" into args at *n when there is an instance directory. */
void spawner_args_conf(struct spawner *sp, char **args, size_t *n);

/* spawner-local.c */

/* L <job> <id> <user> <rcpt> <sender>: give the job to user's worker. */
void local_request(struct spawner *sp, const struct qenv_req *rq);

/* Add the workers' sockets to pfd from *n (map[i]: the worker of pfd[i],
 * NULL for others); the poll timeout in ms the idle workers need. */
int local_poll(struct spawner *sp, struct pollfd *pfd, struct worker **map,
    size_t *n);

/* Act on the poll results of worker w's socket. */
void local_event(struct spawner *sp, struct worker *w, short revents);

/* A reaped child: the worker's exit status when pid is one.  1 if so. */
int local_reaped(struct spawner *sp, pid_t pid, int status);

/* Timeouts, idle workers, finished workers; when queued is gone and no
 * job is left, every worker is told to exit. */
void local_tick(struct spawner *sp, time_t now);

/* spawner-remote.c */

/* The ENV of an M request is complete (sp->m, sp->env): run remote. */
void remote_request(struct spawner *sp);

/* Read remote's output for job j. */
void remote_read(struct spawner *sp, struct job *j);

/* Relay the complete lines remote printed (all of them when final). */
void remote_lines(struct spawner *sp, struct job *j, int final);

#endif
