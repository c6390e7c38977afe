/* SPDX-License-Identifier: ISC */
/*
 * smtpd: one queue-inject per message (docs/QUEUE.md).  It is started when
 * the data begins (DATA, or the first BDAT), once the envelope is complete,
 * and gets the envelope, then the Received header and the message as they
 * arrive in D chunks, then E; its one-line answer becomes the reply to the
 * client.  Nothing of the message stays in smtpd's memory.
 */
#include "smtpd.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct smtpd_inject {
	pid_t pid;
	int wfd;		/* its stdin */
	int rfd;		/* its stdout */
	int broken;		/* it stopped taking input */
	struct io out;
	struct io in;
};

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

/* Start queue-inject with pipes on its stdin and stdout.  posix_spawn
 * (vfork underneath) rather than fork: smtpd's page tables are not copied
 * for every message. */
static int
inject_spawn(struct smtpd *s, struct smtpd_inject *inj)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t def;
	char *path, *argv[4];
	int in[2] = { -1, -1 }, out[2] = { -1, -1 };
	int e, r = -1, i, have_fa = 0, have_attr = 0;

	if ((path = instance_queue_inject(s->inst)) == NULL) {
		log_err("cannot run queue-inject: %s", strerror(errno));
		return -1;
	}
	argv[0] = path;
	argv[1] = s->inst->dir ? "-C" : NULL;
	argv[2] = (char *)s->inst->dir;
	argv[3] = NULL;
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

int
smtpd_inject_start(struct smtpd *s)
{
	struct smtpd_inject *inj;
	struct str head = STR_INIT;
	size_t hlen;
	int ms = (int)s->lim.timeout * 1000;

	if ((inj = calloc(1, sizeof *inj)) == NULL)
		return -1;
	inj->wfd = inj->rfd = -1;
	if (inject_spawn(s, inj) < 0) {
		free(inj);
		return -1;
	}
	io_init(&inj->out, -1, inj->wfd);
	io_init(&inj->in, inj->rfd, -1);
	io_set_timeouts(&inj->out, ms, ms);
	io_set_timeouts(&inj->in, ms, ms);
	s->tx.inj = inj;
	/* The envelope, ended by ".", then the Received header as the first
	 * chunk of the message (it counts towards the size limit, as it
	 * does in queue-inject). */
	if (smtpd_envelope(s, &head) < 0 || str_appends(&head, ".\n") < 0)
		goto fail;
	hlen = head.len;
	if (smtpd_received(s, &head) < 0)
		goto fail;
	inject_put(inj, head.s, hlen);
	smtpd_inject_write(s, head.s + hlen, head.len - hlen);
	s->tx.size = head.len - hlen;
	str_free(&head);
	return 0;
fail:
	log_err("envelope: %s", strerror(errno));
	str_free(&head);
	smtpd_inject_abort(s);
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

void
smtpd_inject_abort(struct smtpd *s)
{
	struct smtpd_inject *inj = s->tx.inj;

	if (inj == NULL)
		return;
	/* EOF before E: queue-inject queues nothing. */
	if (inj->wfd >= 0)
		close(inj->wfd);
	if (inj->rfd >= 0)
		close(inj->rfd);
	inject_wait(inj->pid);
	free(inj);
	s->tx.inj = NULL;
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

/* Turn queue-inject's answer line into the reply. */
static int
inject_answer(struct smtpd *s, const struct str *line, int status)
{
	struct smtp_reply r;
	size_t len = line->len;
	char enh[16];

	if (len > 0 && line->s[len - 1] == '\n')
		len--;
	if (len > 3 && memcmp(line->s, "ok ", 3) == 0 &&
	    inject_id_ok(line->s + 3, len - 3)) {
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
	int r, status;

	if (inj == NULL) {
		smtpd_tx_reset(s);
		return smtpd_reply(s, 451, "4.3.0", "Queue unavailable, try "
		    "again later");
	}
	inject_put(inj, "E\n", 2);
	if (!inj->broken && io_flush(&inj->out) < 0) {
		log_warn("writing to queue-inject: %s", strerror(errno));
		inj->broken = 1;
	}
	close(inj->wfd);
	inj->wfd = -1;
	if (io_getline(&inj->in, &line, SMTP_REPLY_LINE_MAX) < 0)
		str_clear(&line);
	close(inj->rfd);
	inj->rfd = -1;
	status = inject_wait(inj->pid);
	free(inj);
	s->tx.inj = NULL;
	r = inject_answer(s, &line, status);
	str_free(&line);
	smtpd_tx_reset(s);
	return r;
}
