/* SPDX-License-Identifier: ISC */
/*
 * queued: the janitor, a child of queued that unlinks msg/<id> (a V1
 * message), state/<id>, exp/<id> and done/<id> (the queue file) of the
 * messages queued has removed.  Their env/<id> is gone for good by then
 * (renamed into done/ and env/ fsynced: the commit point), so what is
 * left is garbage; unlinking a file frees its blocks, which can take a
 * millisecond or more (file systems mounted with discard), and doing it
 * here lets queued go on scheduling.  What its pipe cannot take waits in
 * queued's memory (rm_wait, bounded); when the janitor is missing or dead,
 * or that backlog is full, queued unlinks the files itself.  A file the
 * janitor never got to is removed at start-up (docs/QUEUE.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "queued.h"

/* "<id>\n" per message; a line longer than this is no id. */
#define RM_LINE (QENV_ID_MAX + 2)

void
rm_files(const char *id)
{
	char p[QENV_ID_MAX + 8];

	if (!qenv_id_valid(id))
		return;
	snprintf(p, sizeof p, "msg/%s", id);
	unlink(p);
	snprintf(p, sizeof p, "state/%s", id);
	unlink(p);
	snprintf(p, sizeof p, "exp/%s", id);
	unlink(p);
	/* last: while it is there, start-up knows the rest may be left */
	snprintf(p, sizeof p, "done/%s", id);
	unlink(p);
}

/* The child: unlink what the pipe names until it closes. */
static void __attribute__((noreturn))
rm_child(int fd)
{
	char buf[4096], line[RM_LINE + 1];
	size_t len = 0;
	ssize_t n, i;

	signal(SIGTERM, SIG_IGN);	/* it ends when queued does */
	signal(SIGINT, SIG_IGN);
	while ((n = read(fd, buf, sizeof buf)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		for (i = 0; i < n; i++) {
			if (buf[i] != '\n') {
				if (len < RM_LINE)
					line[len++] = buf[i];
				continue;
			}
			line[len < RM_LINE ? len : 0] = '\0';
			rm_files(line);
			len = 0;
		}
	}
	_exit(0);
}

void
rm_start(struct queued *q)
{
	int p[2];

	q->rm_fd = -1;
	q->rm_pid = 0;
	if (pipe2(p, O_CLOEXEC) < 0) {
		log_warn("janitor: pipe: %s", strerror(errno));
		return;
	}
	if ((q->rm_pid = fork()) < 0) {
		log_warn("janitor: fork: %s", strerror(errno));
		q->rm_pid = 0;
		close(p[0]);
		close(p[1]);
		return;
	}
	if (q->rm_pid == 0) {
		/* the spawner must see queued's socket close when queued goes */
		close(p[1]);
		close(q->sock);
		close(q->fifo);
		close(q->lockfd);
		close(q->sigpipe[0]);
		close(q->sigpipe[1]);
		rm_child(p[0]);
	}
	close(p[0]);
	if (fcntl(p[1], F_SETFL, O_NONBLOCK) < 0) {
		close(p[1]);
		return;
	}
	q->rm_fd = p[1];
}

/* The janitor is gone or broken: queued unlinks what waited for it. */
static void
rm_lost(struct queued *q)
{
	char *p, *nl, *end;
	unsigned long n = 0;
	int e = errno;

	close(q->rm_fd);
	q->rm_fd = -1;
	if (q->rm_wait.len > q->rm_off) {
		p = q->rm_wait.s + q->rm_off;
		end = q->rm_wait.s + q->rm_wait.len;
		/* the tail of a line the janitor had the head of: not an id */
		if (q->rm_off > 0 && p[-1] != '\n' &&
		    (p = memchr(p, '\n', (size_t)(end - p))) != NULL)
			p++;
		for (; p != NULL && p < end; p = nl + 1) {
			if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
				break;
			*nl = '\0';
			rm_files(p);
			n++;
		}
	}
	str_free(&q->rm_wait);
	q->rm_off = 0;
	log_warn("janitor: %s: removed the %lu finished messages waiting for "
	    "it; start-up removes the rest", strerror(e), n);
}

int
rm_push(struct queued *q)
{
	ssize_t n;

	while (q->rm_fd >= 0 && q->rm_off < q->rm_wait.len) {
		/* the janitor reads a stream: a line may go in two writes */
		n = write(q->rm_fd, q->rm_wait.s + q->rm_off,
		    q->rm_wait.len - q->rm_off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			rm_lost(q);
			return 0;
		}
		q->rm_off += (size_t)n;
	}
	if (q->rm_off == q->rm_wait.len) {
		str_clear(&q->rm_wait);
		q->rm_off = 0;
		return 0;
	}
	/* what the pipe took goes once it is half the buffer */
	if (q->rm_off > q->rm_wait.len / 2) {
		memmove(q->rm_wait.s, q->rm_wait.s + q->rm_off,
		    q->rm_wait.len - q->rm_off);
		str_truncate(&q->rm_wait, q->rm_wait.len - q->rm_off);
		q->rm_off = 0;
	}
	return 1;
}

/* The janitor unlinks at the disk's pace (about 2 ms a file under load on
 * a discard-mounted disk), slower than messages finish in a burst: what
 * its pipe cannot take waits in memory, up to QUEUED_RM_WAIT_MAX bytes,
 * so that queued's loop never waits for a TRIM while messages are
 * flowing; past that, queued unlinks itself (a sustained overload slows
 * queued down instead of growing without bound). */
void
rm_msg(struct queued *q, const char *id)
{
	char line[RM_LINE + 1];
	int n = snprintf(line, sizeof line, "%s\n", id);

	if (q->rm_fd >= 0 && n > 0 && (size_t)n < sizeof line &&
	    q->rm_wait.len + (size_t)n <= QUEUED_RM_WAIT_MAX &&
	    str_append(&q->rm_wait, line, (size_t)n) == 0) {
		(void)rm_push(q);
		return;
	}
	rm_files(id);
}

/* Queued is leaving: the janitor's backlog (and what waited for its pipe)
 * is not waited for (it may be seconds of unlinks on a busy,
 * discard-mounted disk, while the next queued waits for the lock): every
 * file it had yet to remove is named by a done/<id>, which the next
 * start-up finishes. */
void
rm_stop(struct queued *q)
{
	if (q->rm_fd >= 0)
		close(q->rm_fd);
	q->rm_fd = -1;
	str_free(&q->rm_wait);
	q->rm_off = 0;
	if (q->rm_pid > 0) {
		kill(q->rm_pid, SIGKILL);
		waitpid(q->rm_pid, NULL, 0);
	}
	q->rm_pid = 0;
}
