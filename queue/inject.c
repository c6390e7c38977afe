/* SPDX-License-Identifier: ISC */
/*
 * queue-inject: the only way into the queue.  Reads an envelope and a
 * message on stdin in the pipe format of docs/QUEUE.md, writes both
 * durably into the queue, and only then answers "ok ID".  With -m it then
 * reads the next message from the same input, so that a long-lived caller
 * (smtpd) pays for one exec, not one per message; such a caller may end a
 * message with "A" instead of "E" to drop it.  A message is one file, its
 * envelope (V2) then its bytes, written in tmp/ and renamed into env/ once
 * it is durable: one fsync of the file, one of env/.  Installed
 * setuid/setgid
 * zest-queue; it trusts nothing of its caller but the bytes it is given,
 * checked against fixed limits, message by message.  See queue-inject(8).
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
#define ANS_USAGE "554 5.3.5 usage: queue-inject [-m] [-C DIR]"

/* The answer to a message aborted by its caller (multi mode). */
#define ANS_ABORTED "aborted"

/* The injector: the process, and the message in hand. */
struct inject {
	struct instance inst;
	struct qenv env;
	struct io in;
	struct str id;
	struct str last_id;	/* the previous message's: never reused */
	int qfd, tmpfd, envfd;	/* queue/, queue/tmp/, queue/env/ */
	int msgfd;		/* the queue file being written */
	int have_tmp;		/* tmp/<id>.new to remove on failure */
	int multi;		/* -m: one message after another */
	unsigned long long size;
	uid_t caller;		/* getuid() at the start: the A line */
	const char *ans;	/* why the message failed */
};

/* What reading one message gave. */
enum inject_got {
	GOT_FAIL = -1,		/* q->ans says why; the process ends */
	GOT_QUEUED,		/* committed: answer "ok ID" */
	GOT_ABORTED,		/* the caller sent "A": answer "aborted" */
	GOT_EOF			/* end of input between messages (-m) */
};

/* Write one answer line on stdout.  A caller that went away is noticed at
 * the next read. */
static void
say(const char *text)
{
	struct str line = STR_INIT;

	if (str_appendf(&line, "%s\n", text) == 0)
		(void)fs_write_all(1, line.s, line.len);
	str_free(&line);
}

/* Answer and exit: every failure ends the run (a message in hand has been
 * cleaned up first). */
static void __attribute__((noreturn))
answer(int code, const char *text)
{
	say(text);
	exit(code);
}

/* Record why the message failed; returns GOT_FAIL. */
static enum inject_got
failed(struct inject *q, const char *ans)
{
	q->ans = ans;
	return GOT_FAIL;
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
	mkdirat(q->qfd, "env", 0700);
	q->tmpfd = openat(q->qfd, "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC |
	    O_NOFOLLOW);
	q->envfd = openat(q->qfd, "env", O_RDONLY | O_DIRECTORY | O_CLOEXEC |
	    O_NOFOLLOW);
	if (q->tmpfd < 0 || q->envfd < 0) {
		log_err("%s/%s: %s", q->inst.queue_dir, q->tmpfd < 0 ? "tmp" :
		    "env", strerror(errno));
		return -1;
	}
	return 0;
}

/* Read the envelope lines up to ".".  In multi mode, the end of input (or
 * a caller silent for INJECT_READ_MS) before a message's first byte is the
 * end of the run: GOT_EOF. */
static enum inject_got
read_envelope(struct inject *q)
{
	struct str line = STR_INIT, err = STR_INIT;
	enum inject_got got = GOT_QUEUED;
	int r, first;

	qenv_free(&q->env);
	qenv_init(&q->env, QENV_INPUT, q->inst.max_recipients);
	for (first = 1;; first = 0) {
		r = io_getline(&q->in, &line, QENV_LINE_MAX);
		if (q->multi && first && (r == 0 || (r < 0 &&
		    errno == ETIMEDOUT))) {
			got = GOT_EOF;
			break;
		}
		if (r <= 0 || line.s[line.len - 1] != '\n') {
			log_warn("envelope: %s", r < 0 ? strerror(errno) :
			    "unexpected end of input");
			got = failed(q, ANS_INPUT);
			break;
		}
		str_truncate(&line, line.len - 1);
		if (line.len == 1 && line.s[0] == '.')
			break;
		if (qenv_line(&q->env, line.s, line.len, &err) < 0) {
			log_warn("%s", err.s);
			got = failed(q, errno == E2BIG ? ANS_RCPTS : ANS_INPUT);
			break;
		}
	}
	if (got == GOT_QUEUED && qenv_finish(&q->env, &err) < 0) {
		log_warn("%s", err.s);
		got = failed(q, ANS_INPUT);
	}
	str_free(&line);
	str_free(&err);
	return got;
}

/* Remove what a failed or aborted message left in tmp/. */
static void
inject_clean(struct inject *q)
{
	struct str name = STR_INIT;

	if (q->msgfd >= 0) {
		close(q->msgfd);
		q->msgfd = -1;
	}
	if (q->have_tmp && str_appendf(&name, "%s.new", q->id.s) == 0)
		unlinkat(q->tmpfd, name.s, 0);
	q->have_tmp = 0;
	str_free(&name);
}

/* The answer for a failed write or sync. */
static const char *
io_answer(int err)
{
	return err == ENOSPC || err == EDQUOT ? ANS_DISK : ANS_QUEUE;
}

/*
 * Create the message's queue file, tmp/<id>.new.  It has a name from the
 * start, not O_TMPFILE: an unnamed file fsynced and then linked has a
 * link count of 0 on disk until its inode is written again, which the
 * fsync of env/ does not do on ext4 without a journal; e2fsck after a
 * crash would take it for a deleted file and clear env/<id>.  A named file
 * keeps its link count across the rename.  -1 with errno.
 */
static int
file_open(struct inject *q)
{
	struct str name = STR_INIT;
	int fd = -1;

	if (str_appendf(&name, "%s.new", q->id.s) == 0)
		fd = openat(q->tmpfd, name.s, O_WRONLY | O_CREAT | O_EXCL |
		    O_CLOEXEC | O_NOFOLLOW, 0600);
	q->have_tmp = fd >= 0;
	str_free(&name);
	return fd;
}

/* Copy one chunk of len bytes from the input into the message file. */
static int
copy_chunk(struct inject *q, unsigned long long len, struct str *buf)
{
	ssize_t n;

	while (len > 0) {
		n = io_read(&q->in, buf->s, len < buf->cap - 1 ? (size_t)len :
		    buf->cap - 1);
		if (n <= 0) {
			log_warn("message: %s", n < 0 ? strerror(errno) :
			    "unexpected end of input");
			return failed(q, ANS_INPUT);
		}
		if (fs_write_all(q->msgfd, buf->s, (size_t)n) < 0) {
			log_err("writing the message: %s", strerror(errno));
			return failed(q, io_answer(errno));
		}
		len -= (unsigned long long)n;
	}
	return 0;
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

/* Read the chunks into the queue file up to "E" (GOT_QUEUED: go on with
 * the commit) or, in multi mode, "A" (GOT_ABORTED). */
static enum inject_got
read_message(struct inject *q)
{
	struct str line = STR_INIT, buf = STR_INIT;
	enum inject_got got = GOT_FAIL;
	unsigned long long len;
	int r;

	if (str_ready(&buf, 65536) < 0) {
		str_free(&buf);
		return failed(q, ANS_QUEUE);
	}
	for (;;) {
		r = io_getline(&q->in, &line, INJECT_CHUNK_LINE);
		if (r <= 0 || line.s[line.len - 1] != '\n') {
			log_warn("message: %s", r < 0 ? strerror(errno) :
			    "unexpected end of input");
			failed(q, ANS_INPUT);
			break;
		}
		str_truncate(&line, line.len - 1);
		if (line.len == 1 && (line.s[0] == 'E' || (q->multi &&
		    line.s[0] == 'A'))) {
			got = line.s[0] == 'E' ? GOT_QUEUED : GOT_ABORTED;
			break;
		}
		if (chunk_len(&line, &len) < 0) {
			log_warn("message: malformed chunk line");
			failed(q, ANS_INPUT);
			break;
		}
		if (len > q->inst.message_size_limit - q->size) {
			log_warn("message larger than %llu bytes",
			    q->inst.message_size_limit);
			failed(q, ANS_BIG);
			break;
		}
		q->size += len;
		if (copy_chunk(q, len, &buf) < 0)
			break;
	}
	str_free(&line);
	str_free(&buf);
	return got;
}

/* Make the queue file durable and close it, rename it to env/<id> (the
 * commit point) and make the name durable: a crash leaves no env/<id>, or
 * a whole one, and queued never sees the file while it is written. */
static enum inject_got
commit(struct inject *q)
{
	struct str name = STR_INIT;
	int r, saved;

	r = fsync(q->msgfd);
	saved = errno;
	if (close(q->msgfd) < 0 && r == 0) {
		r = -1;
		saved = errno;
	}
	q->msgfd = -1;
	if (r < 0) {
		log_err("fsync of the queue file: %s", strerror(saved));
		return failed(q, io_answer(saved));
	}
	r = str_appendf(&name, "%s.new", q->id.s) == 0 ? renameat(q->tmpfd,
	    name.s, q->envfd, q->id.s) : -1;
	saved = errno;
	str_free(&name);
	if (r < 0) {
		log_err("env/%s: %s", q->id.s, strerror(saved));
		return failed(q, io_answer(saved));
	}
	q->have_tmp = 0;	/* queued's now */
	/* Failed here, the entry is there but not known durable: the
	 * caller must not rely on it; queued may deliver it anyway (at
	 * least once, never lost). */
	if (fsync(q->envfd) < 0) {
		log_err("fsync of env/: %s", strerror(errno));
		return failed(q, io_answer(errno));
	}
	return GOT_QUEUED;
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

/* A new queue id.  Ids are time-based (seconds, microseconds, pid): one
 * process taking several messages must not hand out the same one twice
 * within a microsecond, or the second rename would replace the first
 * message. */
static int
new_id(struct inject *q)
{
	do {
		if (qenv_id_new(&q->id) < 0)
			return -1;
	} while (q->last_id.len > 0 && strcmp(q->id.s, q->last_id.s) == 0);
	str_clear(&q->last_id);
	return str_append(&q->last_id, q->id.s, q->id.len);
}

/* Open the queue file and write the envelope at its head (V2: its first
 * line says where the message starts). */
static enum inject_got
file_start(struct inject *q)
{
	struct str text = STR_INIT;
	int r;

	q->env.id = strdup(q->id.s);
	q->env.arrival = (long long)time(NULL);
	q->env.uid = (long long)q->caller;
	if (q->env.id == NULL || qenv_format_file(&q->env, &text) < 0) {
		str_free(&text);
		return failed(q, ANS_QUEUE);
	}
	if ((q->msgfd = file_open(q)) < 0) {
		log_err("%s/tmp: %s", q->inst.queue_dir, strerror(errno));
		str_free(&text);
		return failed(q, io_answer(errno));
	}
	r = fs_write_all(q->msgfd, text.s, text.len);
	str_free(&text);
	if (r < 0) {
		log_err("writing the envelope: %s", strerror(errno));
		return failed(q, io_answer(errno));
	}
	return GOT_QUEUED;
}

/* Take one message: envelope, chunks, commit. */
static enum inject_got
inject_one(struct inject *q)
{
	enum inject_got got;

	q->size = 0;
	log_set_session(NULL);
	if ((got = read_envelope(q)) != GOT_QUEUED)
		return got;
	if (new_id(q) < 0)
		return failed(q, ANS_QUEUE);
	log_set_session(q->id.s);
	if ((got = file_start(q)) != GOT_QUEUED ||
	    (got = read_message(q)) != GOT_QUEUED)
		return got;
	if ((got = commit(q)) != GOT_QUEUED)
		return got;
	log_accepted(q);
	trigger(q);
	return GOT_QUEUED;
}

/* Release what q holds (the run is over). */
static void
inject_free(struct inject *q)
{
	qenv_free(&q->env);
	str_free(&q->id);
	str_free(&q->last_id);
	if (q->tmpfd >= 0)
		close(q->tmpfd);
	if (q->envfd >= 0)
		close(q->envfd);
	if (q->qfd >= 0)
		close(q->qfd);
	instance_close(&q->inst);
}

/* Parse the command line into q and *dir_r; 0, or -1 on a usage error. */
static int
options(int argc, char **argv, struct inject *q, const char **dir_r)
{
	int c;

	while ((c = getopt(argc, argv, "C:m")) != -1) {
		if (c == 'C')
			*dir_r = optarg;
		else if (c == 'm')
			q->multi = 1;
		else
			return -1;
	}
	return optind == argc ? 0 : -1;
}

int
main(int argc, char **argv)
{
	struct inject q;
	struct str err = STR_INIT;
	char ok[QENV_ID_MAX + 8];
	const char *dir = NULL;
	enum inject_got got;

	sanitize();
	memset(&q, 0, sizeof q);
	q.qfd = q.tmpfd = q.envfd = q.msgfd = -1;
	q.caller = getuid();
	log_open("queue-inject", 0);
	if (options(argc, argv, &q, &dir) < 0)
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
	qenv_init(&q.env, QENV_INPUT, q.inst.max_recipients);
	/* One message, or (-m) one after another.  A failure ends the run,
	 * since the input may be out of step: the caller knows from an
	 * answer other than "ok" or "aborted" that no more are taken. */
	do {
		switch ((got = inject_one(&q))) {
		case GOT_FAIL:
			inject_clean(&q);
			answer(1, q.ans);
		case GOT_ABORTED:
			log_info("aborted by the caller");
			inject_clean(&q);
			say(ANS_ABORTED);
			break;
		case GOT_QUEUED:
			/* "ok " and an id of at most QENV_ID_MAX bytes fit */
			snprintf(ok, sizeof ok, "ok %s", q.id.s);
			say(ok);
			break;
		case GOT_EOF:
			break;
		}
	} while (q.multi && got != GOT_EOF);
	inject_free(&q);
	str_free(&err);
	return 0;
}
