/* SPDX-License-Identifier: ISC */
/*
 * smtpd: one `queue-inject -m` per smtpd process (docs/QUEUE.md), started
 * at the first message and kept for every later one, across sessions: the
 * exec and dynamic linking are paid once, not per message.  When the data
 * begins (DATA, or the first BDAT), once the envelope is complete, it gets
 * the envelope, then the Received header and the message as they arrive in
 * D chunks, then E; its one-line answer becomes the reply to the client.
 * A transaction that ends without a message (RSET, lost connection, size
 * or text errors) sends A instead, and the child drops the message.  A
 * child that answered anything but "ok" or "aborted", stopped reading, or
 * died is reaped and the next message starts a new one.  Nothing of the
 * message stays in smtpd's memory.
 */
#include "smtpd.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct smtpd_inject {
	pid_t pid;
	pid_t owner;		/* the smtpd that started it */
	int wfd;		/* its stdin */
	int rfd;		/* its stdout */
	int broken;		/* it stopped taking input */
	struct io out;
	struct io in;
};

/*
 * The one queue-inject -m of this process.  It outlives transactions and
 * sessions (a pool worker serves many), so it cannot live in struct smtpd
 * or its transaction, which only borrows it (tx.inj) for one message;
 * smtpd_inject_shutdown() ends it, at exit at the latest.
 */
static struct smtpd_inject *inject_child;

/* Wait for the child pid; returns its status (-1 when lost). */
static int
inject_wait(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return status;
}

/* End the child: EOF on its stdin (between messages it exits 0; in the
 * middle of one it queues nothing), then reap it.  Returns its status. */
static int
inject_close(struct smtpd_inject *inj)
{
	int status = -1;

	if (inj->wfd >= 0)
		close(inj->wfd);
	if (inj->rfd >= 0)
		close(inj->rfd);
	/* a copy inherited through fork is not ours to wait for */
	if (inj->owner == getpid())
		status = inject_wait(inj->pid);
	if (inject_child == inj)
		inject_child = NULL;
	free(inj);
	return status;
}

/* Whether a child that is between messages can take one more: it has not
 * said anything (it speaks only after a message) nor closed its stdout. */
static int
inject_alive(const struct smtpd_inject *inj)
{
	struct pollfd pfd = { .fd = inj->rfd, .events = POLLIN };

	if (inj->owner != getpid() || io_pending(&inj->in) > 0)
		return 0;
	return poll(&pfd, 1, 0) == 0;
}

/* Start queue-inject -m with pipes on its stdin and stdout.  posix_spawn
 * (vfork underneath) rather than fork: smtpd's page tables are not
 * copied. */
static int
inject_spawn(struct smtpd *s, struct smtpd_inject *inj)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t def;
	char *path, *argv[5];
	int in[2] = { -1, -1 }, out[2] = { -1, -1 };
	int e, r = -1, i, have_fa = 0, have_attr = 0;

	if ((path = instance_queue_inject(s->inst)) == NULL) {
		log_err("cannot run queue-inject: %s", strerror(errno));
		return -1;
	}
	argv[0] = path;
	argv[1] = "-m";
	argv[2] = s->inst->dir ? "-C" : NULL;
	argv[3] = (char *)s->inst->dir;
	argv[4] = NULL;
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
		goto out;
	if ((e = posix_spawn_file_actions_init(&fa)) != 0)
		goto fail;
	have_fa = 1;
	if ((e = posix_spawnattr_init(&attr)) != 0)
		goto fail;
	have_attr = 1;
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	/* Nothing of the connection (fd 0/1 were the client) leaks on: the
	 * pipes replace 0 and 1, and everything else is closed. */
	if ((e = posix_spawn_file_actions_adddup2(&fa, in[0], 0)) != 0 ||
	    (e = posix_spawn_file_actions_adddup2(&fa, out[1], 1)) != 0 ||
	    (e = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) != 0 ||
	    (e = posix_spawnattr_setsigdefault(&attr, &def)) != 0 ||
	    (e = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF)) != 0 ||
	    (e = posix_spawn(&inj->pid, path, &fa, &attr, argv, environ)) != 0)
		goto fail;
	inj->wfd = in[1];
	inj->rfd = out[0];
	in[1] = out[0] = -1;
	r = 0;
	goto out;
fail:
	errno = e;
out:
	if (r < 0)
		log_err("cannot run %s: %s", path, strerror(errno));
	if (have_fa)
		posix_spawn_file_actions_destroy(&fa);
	if (have_attr)
		posix_spawnattr_destroy(&attr);
	for (i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
	}
	free(path);
	return r;
}

/* Write to queue-inject; a failure marks it broken (its answer, read at
 * the end, says why). */
static void
inject_put(struct smtpd_inject *inj, const void *p, size_t n)
{
	if (inj->broken)
		return;
	if (io_write(&inj->out, p, n) < 0) {
		log_warn("writing to queue-inject: %s", strerror(errno));
		inj->broken = 1;
	}
}

/* The child for the next message: the running one when it can take it,
 * else a new one.  *fresh_r tells which.  NULL when none can be had. */
static struct smtpd_inject *
inject_get(struct smtpd *s, int *fresh_r)
{
	static int at_exit;
	struct smtpd_inject *inj = inject_child;

	*fresh_r = 0;
	if (inj != NULL) {
		if (inject_alive(inj))
			return inj;
		log_info("queue-inject %ld has ended; starting another",
		    (long)inj->pid);
		inject_close(inj);
	}
	if ((inj = calloc(1, sizeof *inj)) == NULL)
		return NULL;
	inj->wfd = inj->rfd = -1;
	if (inject_spawn(s, inj) < 0) {
		free(inj);
		return NULL;
	}
	inj->owner = getpid();
	io_init(&inj->out, -1, inj->wfd);
	io_init(&inj->in, inj->rfd, -1);
	inject_child = inj;
	/* main.c ends it too; this covers every other way out */
	if (!at_exit && atexit(smtpd_inject_shutdown) == 0)
		at_exit = 1;
	*fresh_r = 1;
	return inj;
}

/* Borrow a child for the transaction and give it the envelope.  A child
 * that was running may have died just now (killed, or timed out while
 * idle): the envelope is flushed at once so that its EPIPE shows, and a
 * new child gets the message instead. */
static int
inject_begin(struct smtpd *s, const char *env, size_t len)
{
	struct smtpd_inject *inj;
	int ms = (int)s->lim.timeout * 1000, fresh, tries;

	for (tries = 0; tries < 2; tries++) {
		if ((inj = inject_get(s, &fresh)) == NULL)
			return -1;
		io_set_timeouts(&inj->out, ms, ms);
		io_set_timeouts(&inj->in, ms, ms);
		inj->broken = 0;
		if (io_write(&inj->out, env, len) == 0 &&
		    (fresh || io_flush(&inj->out) == 0)) {
			s->tx.inj = inj;
			return 0;
		}
		log_warn("writing to queue-inject: %s", strerror(errno));
		inject_close(inj);
	}
	return -1;
}

int
smtpd_inject_start(struct smtpd *s)
{
	struct str head = STR_INIT;
	size_t hlen;

	/* The envelope, ended by ".", then the Received header as the first
	 * chunk of the message (it counts towards the size limit, as it
	 * does in queue-inject). */
	if (smtpd_envelope(s, &head) < 0 || str_appends(&head, ".\n") < 0)
		goto fail;
	hlen = head.len;
	if (smtpd_received(s, &head) < 0)
		goto fail;
	if (inject_begin(s, head.s, hlen) < 0) {
		str_free(&head);
		return -1;
	}
	smtpd_inject_write(s, head.s + hlen, head.len - hlen);
	s->tx.size = head.len - hlen;
	str_free(&head);
	return 0;
fail:
	log_err("envelope: %s", strerror(errno));
	str_free(&head);
	return -1;
}

int
smtpd_inject_write(struct smtpd *s, const void *p, size_t n)
{
	struct smtpd_inject *inj = s->tx.inj;
	char hdr[32];
	int len;

	if (inj == NULL || n == 0)
		return inj == NULL ? -1 : 0;
	len = snprintf(hdr, sizeof hdr, "D%zu\n", n);
	inject_put(inj, hdr, (size_t)len);
	inject_put(inj, p, n);
	return inj->broken ? -1 : 0;
}

/* Send the message's last record ("E" or "A") and read the answer into
 * line (empty when there is none). */
static void
inject_end(struct smtpd_inject *inj, const char *rec, struct str *line)
{
	inject_put(inj, rec, 2);
	if (!inj->broken && io_flush(&inj->out) < 0) {
		log_warn("writing to queue-inject: %s", strerror(errno));
		inj->broken = 1;
	}
	if (io_getline(&inj->in, line, SMTP_REPLY_LINE_MAX) < 0)
		str_clear(line);
}

void
smtpd_inject_abort(struct smtpd *s)
{
	struct smtpd_inject *inj = s->tx.inj;
	struct str line = STR_INIT;

	if (inj == NULL)
		return;
	s->tx.inj = NULL;
	/* "A": the child drops the message and waits for the next.  One
	 * that stopped reading, or answers anything else, is ended (EOF
	 * before E: it queues nothing). */
	if (!inj->broken) {
		inject_end(inj, "A\n", &line);
		if (line.len == 8 && memcmp(line.s, "aborted\n", 8) == 0) {
			str_free(&line);
			return;
		}
		log_warn("queue-inject did not take the abort: '%.*s'",
		    (int)(line.len > 0 ? line.len - 1 : 0), line.s);
	}
	str_free(&line);
	inject_close(inj);
}

void
smtpd_inject_shutdown(void)
{
	if (inject_child != NULL)
		inject_close(inject_child);
}

/* Whether id looks like a queue id: 1..64 of letters, digits, '.', '-'. */
static int
inject_id_ok(const char *id, size_t len)
{
	size_t i;

	if (len == 0 || len > 64)
		return 0;
	for (i = 0; i < len; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		    (id[i] >= 'a' && id[i] <= 'z') ||
		    (id[i] >= 'A' && id[i] <= 'Z') || id[i] == '.' ||
		    id[i] == '-' || id[i] == '_'))
			return 0;
	return 1;
}

/* Whether line is "ok ID" (LF optional) with a plausible ID. */
static int
inject_ok(const struct str *line)
{
	size_t len = line->len;

	if (len > 0 && line->s[len - 1] == '\n')
		len--;
	return len > 3 && memcmp(line->s, "ok ", 3) == 0 &&
	    inject_id_ok(line->s + 3, len - 3);
}

/* Turn queue-inject's answer line into the reply. */
static int
inject_answer(struct smtpd *s, const struct str *line, int status)
{
	struct smtp_reply r;
	size_t len = line->len;
	char enh[16];

	if (len > 0 && line->s[len - 1] == '\n')
		len--;
	if (inject_ok(line)) {
		s->nmsg++;
		log_info("queued as %.*s: size=%llu nrcpt=%u", (int)(len - 3),
		    line->s + 3, s->tx.size, s->tx.nrcpt);
		return smtpd_reply(s, 250, "2.0.0", "Ok: queued as %.*s",
		    (int)(len - 3), line->s + 3);
	}
	if (smtp_reply_parse(line->s, len, &r) == 0 && r.code >= 400 &&
	    !r.more && r.enh != NULL && r.enhlen < sizeof enh) {
		memcpy(enh, r.enh, r.enhlen);
		enh[r.enhlen] = '\0';
		log_info("queue-inject refused: %.*s", (int)len, line->s);
		return smtpd_reply(s, r.code, enh, "%.*s", (int)r.textlen,
		    r.text);
	}
	log_err("queue-inject failed (status %d): '%.*s'", status, (int)len,
	    line->s);
	return smtpd_reply(s, 451, "4.3.0", "Queue unavailable, try again "
	    "later");
}

int
smtpd_inject_finish(struct smtpd *s)
{
	struct smtpd_inject *inj = s->tx.inj;
	struct str line = STR_INIT;
	int r, status = 0;

	if (inj == NULL) {
		smtpd_tx_reset(s);
		return smtpd_reply(s, 451, "4.3.0", "Queue unavailable, try "
		    "again later");
	}
	s->tx.inj = NULL;
	inject_end(inj, "E\n", &line);
	/* Only "ok ID" leaves it running: after any other answer it has
	 * exited, or is no queue-inject to trust with the next message. */
	if (!inject_ok(&line))
		status = inject_close(inj);
	r = inject_answer(s, &line, status);
	str_free(&line);
	smtpd_tx_reset(s);
	return r;
}
