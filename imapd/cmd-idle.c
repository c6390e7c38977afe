/* SPDX-License-Identifier: ISC */
/*
 * imapd: IDLE (RFC 2177).  The session sleeps in poll() on the client and
 * an inotify descriptor watching the selected mailbox's zest.index (every
 * commit writes its header), the mailbox directory (the index replaced by
 * a rebuild or compaction) and new/ and cur/ (another MDA, or a user's
 * mutt, working on the Maildir directly).  Each wake-up runs the ordinary
 * update (view_update) and flushes it.  A timer of IDLE_POLL_MS does the
 * same, for file systems that do not notify (NFS); IDLE ends with
 * "* BYE" after the autologout time.
 */
#include "imapd.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define IDLE_POLL_MS 30000	/* the fallback for file systems without
				 * notification */
#define IDLE_LINE_MAX 1024

/* Watch the selected mailbox.  Returns the inotify fd or -1. */
static int
idle_watch(struct imapd *s)
{
	static const char *const sub[] = { "", "/new", "/cur", NULL };
	struct str p = STR_INIT;
	size_t i;
	int fd;

	if (s->mb == NULL || s->selpath == NULL)
		return -1;
	if ((fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0) {
		log_warn("inotify: %s; polling", strerror(errno));
		return -1;
	}
	for (i = 0; sub[i] != NULL; i++) {
		str_clear(&p);
		str_appendf(&p, "%s%s", s->selpath, sub[i]);
		if (inotify_add_watch(fd, p.s, IN_CREATE | IN_MOVED_TO |
		    IN_MOVED_FROM | IN_DELETE) < 0)
			log_debug("inotify %s: %s", p.s, strerror(errno));
	}
	str_clear(&p);
	str_appendf(&p, "%s/zest.index", s->selpath);
	if (inotify_add_watch(fd, p.s, IN_MODIFY | IN_ATTRIB |
	    IN_DELETE_SELF | IN_MOVE_SELF) < 0)
		log_debug("inotify %s: %s", p.s, strerror(errno));
	str_free(&p);
	return fd;
}

/* Empty the inotify queue; re-watch the index (it may be a new file). */
static void
idle_drain(struct imapd *s, int fd)
{
	char buf[4096] __attribute__((aligned(8)));
	struct str p = STR_INIT;

	while (read(fd, buf, sizeof buf) > 0)
		;
	str_appendf(&p, "%s/zest.index", s->selpath);
	inotify_add_watch(fd, p.s, IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF |
	    IN_MOVE_SELF);
	str_free(&p);
}

/* The client's line during IDLE: 1 DONE, 0 something else, -1 EOF or
 * error. */
static int
idle_line(struct imapd *s)
{
	struct str line = STR_INIT;
	int r;

	r = io_getline(s->io, &line, IDLE_LINE_MAX);
	if (r <= 0 && !(r < 0 && errno == E2BIG)) {
		str_free(&line);
		return -1;
	}
	while (line.len > 0 && (line.s[line.len - 1] == '\n' ||
	    line.s[line.len - 1] == '\r'))
		str_truncate(&line, line.len - 1);
	r = line.len == 4 && strncasecmp(line.s, "DONE", 4) == 0;
	str_free(&line);
	return r;
}

int
cmd_idle(struct imapd *s)
{
	struct pollfd pfd[2];
	time_t end = time(NULL) + imapd_timeout(s);
	int r, ifd, n, done = 0;

	if ((r = imapd_eol(s)) <= 0)
		return r;
	if (io_puts(s->io, "+ idling\r\n") < 0 || io_flush(s->io) < 0)
		return -1;
	ifd = idle_watch(s);
	while (!done) {
		if (io_pending(s->io) == 0) {
			pfd[0].fd = s->io->rfd;
			pfd[0].events = POLLIN;
			pfd[1].fd = ifd;
			pfd[1].events = POLLIN;
			pfd[0].revents = pfd[1].revents = 0;
			n = poll(pfd, ifd >= 0 ? 2 : 1, IDLE_POLL_MS);
			if (n < 0 && errno != EINTR)
				break;
			if (n <= 0 || (pfd[1].revents & POLLIN)) {
				if (ifd >= 0 && n > 0)
					idle_drain(s, ifd);
				if (time(NULL) >= end) {
					imapd_untagged(s, "BYE Autologout; "
					    "idle for too long");
					s->logout = 1;
					break;
				}
				s->sync_due = 1;
				if (s->mb != NULL && (view_update(s, 1) < 0 ||
				    io_flush(s->io) < 0))
					break;
				continue;
			}
			if (!(pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
		}
		if ((r = idle_line(s)) < 0)
			break;
		if (r == 0) {
			if (ifd >= 0)
				close(ifd);
			return imapd_bad(s, "Expected DONE");
		}
		done = 1;
	}
	if (ifd >= 0)
		close(ifd);
	if (!done) {
		s->logout = 1;
		io_flush(s->io);
		return 0;
	}
	if (s->mb != NULL && view_update(s, 1) < 0)
		return -1;
	return imapd_tagged(s, "OK IDLE terminated");
}
