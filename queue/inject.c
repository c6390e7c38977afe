/* SPDX-License-Identifier: ISC */
/*
 * queue-inject: the only way into the queue.  Reads an envelope and a
 * message on stdin in the pipe format of docs/QUEUE.md, writes both
 * durably into the queue, and only then answers "ok ID".  Installed
 * setuid/setgid zest-queue; it trusts nothing of its caller but the bytes
 * it is given, checked against fixed limits.  See queue-inject(8).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "instance.h"
#include "io.h"
#include "log.h"
#include "priv.h"
#include "qenv.h"
#include "str.h"

#define INJECT_CHUNK_LINE 32		/* "D<decimal>\n" */
#define INJECT_READ_MS (3600 * 1000)	/* a silent caller is dropped */

/* The answers, and what they mean (docs/QUEUE.md). */
#define ANS_DISK "452 4.3.1 disk full"
#define ANS_BIG "552 5.3.4 message too big"
#define ANS_RCPTS "452 4.5.3 too many recipients"
#define ANS_QUEUE "451 4.3.0 queue unavailable"
#define ANS_INPUT "554 5.6.0 malformed input"
#define ANS_USAGE "554 5.3.5 usage: queue-inject [-C DIR]"

/* One injection. */
struct inject {
	struct instance inst;
	struct qenv env;
	struct io in;
	struct str id;
	int qfd, tmpfd;		/* queue/ and queue/tmp/ */
	int msgfd;		/* the message being written */
	int have_msg, have_env;	/* tmp files to remove on failure */
	int msg_renamed;
	unsigned long long size;
	uid_t caller;		/* getuid() at the start: the A line */
};

/* Answer on stdout (the caller reads one line) and exit. */
static void __attribute__((noreturn))
answer(int code, const char *text)
{
	struct str line = STR_INIT;

	if (str_appendf(&line, "%s\n", text) == 0)
		(void)fs_write_all(1, line.s, line.len);
	str_free(&line);
	exit(code);
}

/* Put the process in order before anything else: fds 0-2 open, no other
 * fds, no environment, a private umask, no SIGPIPE. */
static void
sanitize(void)
{
	int fd;

	for (fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 &&
		    open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) != fd)
			_exit(111);
	closefrom(3);
	if (clearenv() != 0)
		_exit(111);
	umask(077);
	signal(SIGPIPE, SIG_IGN);
}

/* Read the configuration with the caller's own rights: a setuid queue-inject
 * must not read files for its caller that the caller cannot read. */
static int
read_config(const char *dir, struct instance *inst, struct str *err)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	int r, saved;

	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
		return -1;
	if ((eg != rg && setresgid((gid_t)-1, rg, (gid_t)-1) < 0) ||
	    (eu != ru && setresuid((uid_t)-1, ru, (uid_t)-1) < 0))
		return -1;
	r = instance_open(dir, inst, err);
	saved = errno;
	if ((eu != ru && setresuid((uid_t)-1, eu, (uid_t)-1) < 0) ||
	    (eg != rg && setresgid((gid_t)-1, eg, (gid_t)-1) < 0))
		_exit(111);
	errno = saved;
	return r;
}

/*
 * Become the owner of the queue for good.  Root (a caller running an
 * unprivileged copy) becomes the queue directory's owner, which must not be
 * root; anyone else must already be it through the set-user-ID bit (or be
 * the user running the instance).
 */
static int
become_queue(struct inject *q)
{
	struct stat st;
	uid_t uid = geteuid();
	gid_t gid = getegid();

	q->qfd = open(q->inst.queue_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (q->qfd < 0 || fstat(q->qfd, &st) < 0) {
		log_err("%s: %s", q->inst.queue_dir, strerror(errno));
		return -1;
	}
	if (uid == 0) {
		if (st.st_uid == 0) {
			log_err("%s is owned by root: refusing",
			    q->inst.queue_dir);
			return -1;
		}
		uid = st.st_uid;
		gid = st.st_gid;
	} else if (st.st_uid != uid) {
		log_err("%s is owned by uid %ld, not by uid %ld: refusing",
		    q->inst.queue_dir, (long)st.st_uid, (long)uid);
		return -1;
	}
	if (priv_drop(uid, gid, NULL) < 0) {
		log_err("cannot become uid %ld: %s", (long)uid,
		    strerror(errno));
		return -1;
	}
	/* a queue queued has never run in lacks its directories */
	mkdirat(q->qfd, "tmp", 0700);
	mkdirat(q->qfd, "msg", 0700);
	mkdirat(q->qfd, "env", 0700);
	q->tmpfd = openat(q->qfd, "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC |
	    O_NOFOLLOW);
	if (q->tmpfd < 0) {
		log_err("%s/tmp: %s", q->inst.queue_dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* Read the envelope lines up to ".". */
static void
read_envelope(struct inject *q)
{
	struct str line = STR_INIT, err = STR_INIT;
	int r;

	qenv_init(&q->env, QENV_INPUT, q->inst.max_recipients);
	for (;;) {
		r = io_getline(&q->in, &line, QENV_LINE_MAX);
		if (r <= 0 || line.s[line.len - 1] != '\n') {
			log_warn("envelope: %s", r < 0 ? strerror(errno) :
			    "unexpected end of input");
			answer(1, ANS_INPUT);
		}
		str_truncate(&line, line.len - 1);
		if (line.len == 1 && line.s[0] == '.')
			break;
		if (qenv_line(&q->env, line.s, line.len, &err) < 0) {
			log_warn("%s", err.s);
			answer(1, errno == E2BIG ? ANS_RCPTS : ANS_INPUT);
		}
	}
	if (qenv_finish(&q->env, &err) < 0) {
		log_warn("%s", err.s);
		answer(1, ANS_INPUT);
	}
	str_free(&line);
	str_free(&err);
}

/* Remove what a failed injection left and answer. */
static void __attribute__((noreturn))
inject_fail(struct inject *q, const char *ans)
{
	struct str name = STR_INIT;
	int dfd;

	if (q->have_msg) {
		str_appendf(&name, "%s.msg", q->id.s);
		unlinkat(q->tmpfd, name.s, 0);
	}
	if (q->have_env) {
		str_clear(&name);
		str_appendf(&name, "%s.env", q->id.s);
		unlinkat(q->tmpfd, name.s, 0);
	}
	if (q->msg_renamed && (dfd = openat(q->qfd, "msg", O_RDONLY |
	    O_DIRECTORY | O_CLOEXEC)) >= 0) {
		unlinkat(dfd, q->id.s, 0);
		close(dfd);
	}
	str_free(&name);
	answer(1, ans);
}

/* The answer for a failed write or sync. */
static const char *
io_answer(int err)
{
	return err == ENOSPC || err == EDQUOT ? ANS_DISK : ANS_QUEUE;
}

/* Create tmp/<id>.<suffix>. */
static int
tmp_open(struct inject *q, const char *suffix)
{
	struct str name = STR_INIT;
	int fd = -1;

	if (str_appendf(&name, "%s.%s", q->id.s, suffix) == 0)
		fd = openat(q->tmpfd, name.s, O_WRONLY | O_CREAT | O_EXCL |
		    O_CLOEXEC | O_NOFOLLOW, 0600);
	str_free(&name);
	return fd;
}

/* Copy one chunk of len bytes from the input into the message file. */
static void
copy_chunk(struct inject *q, unsigned long long len, struct str *buf)
{
	ssize_t n;

	while (len > 0) {
		n = io_read(&q->in, buf->s, len < buf->cap - 1 ? (size_t)len :
		    buf->cap - 1);
		if (n <= 0) {
			log_warn("message: %s", n < 0 ? strerror(errno) :
			    "unexpected end of input");
			inject_fail(q, ANS_INPUT);
		}
		if (fs_write_all(q->msgfd, buf->s, (size_t)n) < 0) {
			log_err("writing the message: %s", strerror(errno));
			inject_fail(q, io_answer(errno));
		}
		len -= (unsigned long long)n;
	}
}

/* Parse "D<len>" (without LF); -1 when malformed. */
static int
chunk_len(const struct str *line, unsigned long long *len_r)
{
	unsigned long long n = 0;
	size_t i;

	if (line->len < 2 || line->len > 20 || line->s[0] != 'D')
		return -1;
	for (i = 1; i < line->len; i++) {
		if (line->s[i] < '0' || line->s[i] > '9')
			return -1;
		n = n * 10 + (unsigned long long)(line->s[i] - '0');
	}
	*len_r = n;
	return 0;
}

/* Read the chunks into tmp/<id>.msg up to "E". */
static void
read_message(struct inject *q)
{
	struct str line = STR_INIT, buf = STR_INIT;
	unsigned long long len;
	int r;

	if (str_ready(&buf, 65536) < 0)
		inject_fail(q, ANS_QUEUE);
	for (;;) {
		r = io_getline(&q->in, &line, INJECT_CHUNK_LINE);
		if (r <= 0 || line.s[line.len - 1] != '\n') {
			log_warn("message: %s", r < 0 ? strerror(errno) :
			    "unexpected end of input");
			inject_fail(q, ANS_INPUT);
		}
		str_truncate(&line, line.len - 1);
		if (line.len == 1 && line.s[0] == 'E')
			break;
		if (chunk_len(&line, &len) < 0) {
			log_warn("message: malformed chunk line");
			inject_fail(q, ANS_INPUT);
		}
		if (len > q->inst.message_size_limit - q->size) {
			log_warn("message larger than %llu bytes",
			    q->inst.message_size_limit);
			inject_fail(q, ANS_BIG);
		}
		q->size += len;
		copy_chunk(q, len, &buf);
	}
	str_free(&line);
	str_free(&buf);
}

/* fsync and close fd; -1 with errno. */
static int
sync_close(int fd)
{
	int r = fsync(fd), saved = errno;

	if (close(fd) < 0 && r == 0)
		return -1;
	errno = saved;
	return r;
}

/* Rename tmp/<id>.<suffix> to dir/<id> and fsync dir. */
static int
commit_one(struct inject *q, const char *suffix, const char *dir)
{
	struct str name = STR_INIT;
	int dfd, r = -1, saved;

	dfd = openat(q->qfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC |
	    O_NOFOLLOW);
	if (dfd >= 0 && str_appendf(&name, "%s.%s", q->id.s, suffix) == 0 &&
	    renameat(q->tmpfd, name.s, dfd, q->id.s) == 0) {
		r = 0;
		if (fsync(dfd) < 0)
			r = 1;	/* renamed but not known durable */
	}
	saved = errno;
	if (dfd >= 0)
		close(dfd);
	str_free(&name);
	errno = saved;
	return r;
}

/* Write the envelope, then rename message and envelope into place. */
static void
commit(struct inject *q)
{
	struct str text = STR_INIT;
	int fd, r;

	if (sync_close(q->msgfd) < 0) {
		log_err("fsync of the message: %s", strerror(errno));
		inject_fail(q, io_answer(errno));
	}
	q->env.id = strdup(q->id.s);
	q->env.arrival = (long long)time(NULL);
	q->env.uid = (long long)q->caller;
	if (q->env.id == NULL || qenv_format(&q->env, &text) < 0)
		inject_fail(q, ANS_QUEUE);
	if ((fd = tmp_open(q, "env")) < 0)
		inject_fail(q, io_answer(errno));
	q->have_env = 1;
	if (fs_write_all(fd, text.s, text.len) < 0 || sync_close(fd) < 0) {
		log_err("writing the envelope: %s", strerror(errno));
		inject_fail(q, io_answer(errno));
	}
	str_free(&text);
	if ((r = commit_one(q, "msg", "msg")) != 0) {
		if (r > 0) {
			q->have_msg = 0;
			q->msg_renamed = 1;
		}
		log_err("msg/%s: %s", q->id.s, strerror(errno));
		inject_fail(q, io_answer(errno));
	}
	q->have_msg = 0;
	q->msg_renamed = 1;
	if ((r = commit_one(q, "env", "env")) < 0) {
		log_err("env/%s: %s", q->id.s, strerror(errno));
		inject_fail(q, io_answer(errno));
	}
	/* r > 0: the entry is there but its fsync failed; the message may
	 * or may not survive a crash, so the caller must not rely on it.
	 * queued may deliver it anyway: at least once, never lost. */
	if (r > 0) {
		log_err("fsync of env/: %s", strerror(errno));
		answer(1, io_answer(errno));
	}
}

/* Wake queued: one byte into the FIFO; no reader is fine. */
static void
trigger(struct inject *q)
{
	struct stat st;
	int fd;

	fd = openat(q->qfd, "trigger", O_WRONLY | O_NONBLOCK | O_CLOEXEC |
	    O_NOFOLLOW);
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode))
		(void)!write(fd, "N", 1);
	close(fd);
}

static void
log_accepted(const struct inject *q)
{
	log_info("from=<%s> uid=%lld rcpts=%zu size=%llu%s%s",
	    q->env.sender, q->env.uid, q->env.nrcpt, q->size,
	    q->env.client ? " client=" : "", q->env.client ? q->env.client :
	    "");
}

int
main(int argc, char **argv)
{
	struct inject q;
	struct str err = STR_INIT;
	char ok[QENV_ID_MAX + 8];
	const char *dir = NULL;
	int c;

	sanitize();
	memset(&q, 0, sizeof q);
	q.qfd = q.tmpfd = q.msgfd = -1;
	q.caller = getuid();
	log_open("queue-inject", 0);
	while ((c = getopt(argc, argv, "C:")) != -1) {
		if (c != 'C')
			answer(1, ANS_USAGE);
		dir = optarg;
	}
	if (optind != argc)
		answer(1, ANS_USAGE);
	if (read_config(dir, &q.inst, &err) < 0) {
		log_err("configuration: %s", str_cstr(&err));
		answer(1, ANS_QUEUE);
	}
	if (q.inst.log_stderr)
		log_open("queue-inject", 1);
	if (become_queue(&q) < 0)
		answer(1, ANS_QUEUE);
	io_init(&q.in, 0, -1);
	io_set_timeouts(&q.in, INJECT_READ_MS, 0);
	read_envelope(&q);
	if (qenv_id_new(&q.id) < 0)
		answer(1, ANS_QUEUE);
	log_set_session(q.id.s);
	if ((q.msgfd = tmp_open(&q, "msg")) < 0) {
		log_err("tmp/%s.msg: %s", q.id.s, strerror(errno));
		answer(1, io_answer(errno));
	}
	q.have_msg = 1;
	read_message(&q);
	commit(&q);
	log_accepted(&q);
	trigger(&q);
	/* "ok " and an id of at most QENV_ID_MAX bytes fit */
	snprintf(ok, sizeof ok, "ok %s", q.id.s);
	answer(0, ok);
}
