/* SPDX-License-Identifier: ISC */
/*
 * deliver-server: `deliver -S`, the long-lived delivery worker of one user.
 * The spawner sends jobs on a SOCK_SEQPACKET socket (fd 0), one datagram
 * each: the queue message's descriptor (SCM_RIGHTS) and the text
 * "<job>\0<rcpt>\0<sender>\0<mailbox>".  The worker takes every job already
 * waiting (up to SERVER_BATCH), writes each into tmp/ as a one-shot
 * deliver would, commits them together (lib/mailbox's batch commit: one
 * lock, one index header write, one fsync of new/), and only then answers
 * each job: "<job> <sysexits code> <text>".  It keeps its mailboxes open
 * between batches.  See deliver(8) and docs/QUEUE.md.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "deliver.h"
#include "log.h"
#include "maildir.h"

#define SERVER_BATCH 256		/* jobs committed together at most */
#define SERVER_REQ_MAX 2048	/* a job's text */
#define SERVER_FDS_MAX 4	/* descriptors a datagram may carry (1 valid) */
#define SERVER_BOXES_KEEP 8	/* mailboxes kept open between batches */
#define SERVER_BOXES (SERVER_BATCH + 1)	/* a batch may use one each */
#define SERVER_IDLE_MS (600 * 1000)	/* the spawner closes us long before */
#define SERVER_JOB_DIGITS 18

/* A mailbox kept open between batches. */
struct box {
	char *name;		/* "" for INBOX */
	struct mailbox *mb;
	dev_t dev;		/* the Maildir as opened: reopened when it */
	ino_t ino;		/* was replaced */
	unsigned long used;	/* for the least recently used */
	int settle_off;		/* a settling sync failed: not before the
				   next batch that uses the box */
};

struct job {
	char text[SERVER_REQ_MAX + 1];
	const char *num, *rcpt, *sender, *mailbox;
	int fd;			/* the message; -1 once read */
	int code;		/* sysexits code; -1 while pending */
	struct str why;		/* the reason of a failure */
	struct mailbox_msg *m;
	struct box *box;
	uint32_t uid;
};

struct server {
	const struct instance *inst;
	const struct user *u;
	int wire;
	int sock;
	char *buf;		/* DELIVER_BUF bytes of scratch */
	struct box boxes[SERVER_BOXES];
	unsigned long clock;	/* batches served */
	struct job jobs[SERVER_BATCH];
};

/* A monotonic clock in microseconds, for the batch's log line. */
static int64_t
server_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Split the job text into its four fields; 0, or -1 when malformed (num
 * still set when the job number was valid, so the job can be answered). */
static int
job_parse(struct job *j, size_t len)
{
	const char *f[4], *p = j->text, *end = j->text + len;
	size_t k = 0, n;

	j->text[len] = '\0';
	j->num = NULL;
	while (k < 4) {
		f[k++] = p;
		p = memchr(p, '\0', (size_t)(end - p) + 1);
		if (p == end)
			break;
		p++;
	}
	n = strlen(f[0]);
	if (n >= 1 && n <= SERVER_JOB_DIGITS &&
	    strspn(f[0], "0123456789") == n)
		j->num = f[0];
	if (j->num == NULL || k != 4 || p != end || *f[1] == '\0' ||
	    !deliver_addr_ok(f[1]) || !deliver_addr_ok(f[2]) ||
	    !deliver_addr_ok(f[3]))
		return -1;
	j->rcpt = f[1];
	j->sender = f[2];
	j->mailbox = *f[3] != '\0' ? f[3] : NULL;
	return 0;
}

/* Close every descriptor a datagram carried but the first; that one
 * into *fd_r (-1 when none). */
static void
job_fds(struct msghdr *mh, int *fd_r, size_t *nfds_r)
{
	struct cmsghdr *c;
	size_t i, n;
	int fd;

	*fd_r = -1;
	*nfds_r = 0;
	for (c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int),
			    sizeof(int));
			if (*fd_r < 0)
				*fd_r = fd;
			else
				close(fd);
			(*nfds_r)++;
		}
	}
}

/* Take one waiting job into j.  1 got one, 0 none waiting, -1 the socket
 * closed (or failed). */
static int
job_recv(struct server *s, struct job *j)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(SERVER_FDS_MAX * sizeof(int))];
	} cm;
	struct iovec iov = { j->text, SERVER_REQ_MAX };
	struct msghdr mh;
	size_t nfds;
	ssize_t n;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.buf;
	mh.msg_controllen = sizeof(cm.buf);
	do
		n = recvmsg(s->sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n <= 0)
		return -1;
	job_fds(&mh, &j->fd, &nfds);
	j->code = -1;
	j->m = NULL;
	j->box = NULL;
	str_clear(&j->why);
	if (job_parse(j, (size_t)n) < 0 || nfds != 1 ||
	    (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		if (j->num == NULL) {
			/* no job to answer: the spawner broke the protocol */
			log_err("malformed job without a job number");
			if (j->fd >= 0)
				close(j->fd);
			return -1;
		}
		j->code = EX_USAGE;
		str_appends(&j->why, "malformed job");
	}
	return 1;
}

/* The open mailbox named name ("" INBOX), opening (and creating a folder)
 * as needed.  NULL with j's code and reason set. */
static struct box *
box_get(struct server *s, const char *name, struct job *j)
{
	struct box *b, *victim;
	struct str dir = STR_INIT;
	struct stat st;
	size_t i;
	int code;

	if (deliver_folder_path(s->u->maildir, *name ? name : NULL, &dir) < 0) {
		j->code = EX_USAGE;
		str_appends(&j->why, "bad mailbox name");
		goto fail;
	}
	/* a box this batch uses holds its messages: never the victim */
	victim = NULL;
	for (i = 0; i < SERVER_BOXES; i++) {
		b = &s->boxes[i];
		if (b->mb != NULL && strcmp(b->name, name) == 0)
			goto found;
		if (b->mb != NULL && b->used == s->clock)
			continue;
		if (victim == NULL || b->mb == NULL || (victim->mb != NULL &&
		    b->used < victim->used))
			victim = b;
	}
	b = victim;	/* there is one: a batch has fewer jobs than boxes */
	mailbox_close(&b->mb);
	free(b->name);
	b->name = NULL;
found:
	/* a Maildir removed or replaced under us: start over on the new one
	 * (looked at once per batch) */
	if (b->mb != NULL && b->used != s->clock && (stat(dir.s, &st) < 0 ||
	    st.st_dev != b->dev || st.st_ino != b->ino)) {
		mailbox_close(&b->mb);
		free(b->name);
		b->name = NULL;
	}
	if (b->mb == NULL) {
		if (*name != '\0' && !maildir_exists(dir.s) &&
		    (code = deliver_make_folder(dir.s, &j->why)) != 0) {
			j->code = code;
			goto fail;
		}
		if (mailbox_open(dir.s, MBOX_CREATE, s->inst->lock_timeout,
		    &b->mb, &j->why) < 0) {
			j->code = deliver_mailbox_exit(errno);
			goto fail;
		}
		if (stat(dir.s, &st) < 0 || (b->name = strdup(name)) == NULL) {
			j->code = EX_TEMPFAIL;
			str_appendf(&j->why, "%s: %s", dir.s, strerror(errno));
			mailbox_close(&b->mb);
			goto fail;
		}
		b->dev = st.st_dev;
		b->ino = st.st_ino;
	}
	b->used = s->clock;
	b->settle_off = 0;
	str_free(&dir);
	return b;
fail:
	str_free(&dir);
	return NULL;
}

/* Write job j's message into its mailbox's tmp/, finished and on its way
 * to the disk; or fail the job. */
static void
job_write(struct server *s, struct job *j)
{
	int code;

	/* INBOX by any spelling is the root: one box for it */
	if (j->mailbox != NULL && strcasecmp(j->mailbox, "INBOX") == 0)
		j->mailbox = NULL;
	if ((j->box = box_get(s, j->mailbox ? j->mailbox : "", j)) == NULL)
		return;
	if (mailbox_msg_begin(j->box->mb, s->wire, &j->m, &j->why) < 0) {
		j->code = deliver_mailbox_exit(errno);
		return;
	}
	mailbox_msg_limit(j->m, s->inst->message_size_limit);
	code = deliver_copy(j->m, j->fd, s->wire, j->rcpt, j->sender, s->buf,
	    &j->why);
	if (code == 0 && mailbox_msg_finish(j->m, time(NULL)) < 0) {
		code = EX_TEMPFAIL;
		str_appendf(&j->why, "writing the message: %s",
		    strerror(errno));
	}
	if (code != 0) {
		j->code = code;
		mailbox_msg_abort(&j->m);
	}
}

/* Commit the written jobs of box b together. */
static void
box_commit(struct server *s, struct box *b, size_t n)
{
	struct mailbox_commit c[SERVER_BATCH];
	struct job *js[SERVER_BATCH];
	struct str err = STR_INIT;
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		struct job *j = &s->jobs[i];

		if (j->m == NULL || j->box != b)
			continue;
		memset(&c[k], 0, sizeof(c[k]));
		c[k].msg = j->m;
		c[k].internal_date = time(NULL);
		j->m = NULL;
		js[k++] = j;
	}
	(void)mailbox_msg_commit_batch(c, k, &err);
	for (i = 0; i < k; i++) {
		if (c[i].error == 0) {
			js[i]->code = EX_OK;
			js[i]->uid = c[i].uid;
			continue;
		}
		js[i]->code = EX_TEMPFAIL;
		str_appendf(&js[i]->why, "%s", str_cstr(&err));
	}
	str_free(&err);
}

/* Answer job j: "<job> <code> <text>", and log it. */
static int
job_answer(struct server *s, struct job *j)
{
	struct str a = STR_INIT;
	const char *box = j->mailbox ? j->mailbox : "INBOX";
	int rc = 0;

	log_set_session(j->num);
	if (j->code == EX_OK) {
		log_info("delivered to %s mailbox %s uid %u", s->u->name, box,
		    j->uid);
		str_appendf(&a, "%s 0 ", j->num);
	} else {
		log_err("%s (exit %d)", str_cstr(&j->why), j->code);
		str_appendf(&a, "%s %d deliver: %s", j->num, j->code,
		    str_cstr(&j->why));
	}
	log_set_session(NULL);
	if (a.len > SERVER_REQ_MAX)
		str_truncate(&a, SERVER_REQ_MAX);
	/* blocking: the spawner reads its answers as they come */
	while (send(s->sock, a.s, a.len, MSG_NOSIGNAL) < 0) {
		if (errno != EINTR) {
			rc = -1;
			break;
		}
	}
	str_free(&a);
	return rc;
}

/* Close the least recently used mailboxes beyond SERVER_BOXES_KEEP. */
static void
boxes_trim(struct server *s)
{
	struct box *lru;
	size_t i, open;

	for (;;) {
		lru = NULL;
		open = 0;
		for (i = 0; i < SERVER_BOXES; i++) {
			struct box *b = &s->boxes[i];

			if (b->mb == NULL)
				continue;
			open++;
			if (lru == NULL || b->used < lru->used)
				lru = b;
		}
		if (open <= SERVER_BOXES_KEEP)
			return;
		mailbox_close(&lru->mb);
		free(lru->name);
		lru->name = NULL;
	}
}

/* Run the n jobs taken: write each, commit them by mailbox, answer each.
 * -1 when the answers cannot be sent (the spawner is gone). */
static int
batch_run(struct server *s, size_t n)
{
	size_t i, ok = 0;
	int64_t t0 = server_us(), t1, t2;
	int rc = 0;

	s->clock++;
	for (i = 0; i < n; i++) {
		struct job *j = &s->jobs[i];

		if (j->code < 0)
			job_write(s, j);
		if (j->fd >= 0)
			close(j->fd);
		j->fd = -1;
	}
	t1 = server_us();
	/* one commit per mailbox, at its first job still to commit */
	for (i = 0; i < n; i++)
		if (s->jobs[i].m != NULL)
			box_commit(s, s->jobs[i].box, n);
	t2 = server_us();
	for (i = 0; i < n; i++) {
		ok += s->jobs[i].code == EX_OK;
		if (rc == 0 && job_answer(s, &s->jobs[i]) < 0)
			rc = -1;
	}
	log_info("batch of %zu jobs: %zu delivered, %zu failed (write %lld us, "
	    "commit %lld us, answer %lld us)", n, ok, n - ok,
	    (long long)(t1 - t0), (long long)(t2 - t1),
	    (long long)(server_us() - t2));
	boxes_trim(s);
	return rc;
}

/* Milliseconds until an open mailbox's racy directory record can be
 * checked (mailbox_settle_ms), -1 when none waits. */
static long
boxes_settle_ms(struct server *s)
{
	long best = -1, ms;
	size_t i;

	for (i = 0; i < SERVER_BOXES; i++) {
		struct box *b = &s->boxes[i];

		if (b->mb == NULL || b->settle_off)
			continue;
		ms = mailbox_settle_ms(b->mb);
		if (ms >= 0 && (best < 0 || ms < best))
			best = ms;
	}
	return best;
}

/* Idle: sync the mailboxes whose racy records can be checked now, so that
 * the next SELECT finds nothing to check (with the index's digests the
 * sync reads the directory once and matches nothing when only our own
 * deliveries are there).  A failure is logged and left to the readers. */
static void
boxes_settle(struct server *s)
{
	struct str err = STR_INIT;
	size_t i;

	for (i = 0; i < SERVER_BOXES; i++) {
		struct box *b = &s->boxes[i];

		if (b->mb == NULL || b->settle_off ||
		    mailbox_settle_ms(b->mb) != 0)
			continue;
		str_clear(&err);
		if (mailbox_sync(b->mb, &err) < 0) {
			log_warn("settling %s: %s", *b->name ? b->name :
			    "INBOX", str_cstr(&err));
			b->settle_off = 1;
		} else if (mailbox_settle_ms(b->mb) == 0)
			b->settle_off = 1;	/* not its to settle */
	}
	str_free(&err);
}

static void
server_free(struct server *s)
{
	size_t i;

	for (i = 0; i < SERVER_BOXES; i++) {
		mailbox_close(&s->boxes[i].mb);
		free(s->boxes[i].name);
	}
	for (i = 0; i < SERVER_BATCH; i++)
		str_free(&s->jobs[i].why);
	free(s->buf);
	free(s);
}

int
deliver_serve(const struct instance *inst, const struct user *u, int wire,
    int sock)
{
	struct server *s = calloc(1, sizeof(*s));
	struct pollfd p;
	size_t n;
	int r, code = EX_OK, eof = 0;

	if (s == NULL || (s->buf = malloc(DELIVER_BUF)) == NULL) {
		log_err("out of memory");
		free(s);
		return EX_TEMPFAIL;
	}
	signal(SIGPIPE, SIG_IGN);
	s->inst = inst;
	s->u = u;
	s->wire = wire;
	s->sock = sock;
	log_info("serving %s", u->name);
	while (!eof) {
		long settle = boxes_settle_ms(s);

		p.fd = sock;
		p.events = POLLIN;
		r = poll(&p, 1, settle >= 0 && settle < SERVER_IDLE_MS ?
		    (int)settle : SERVER_IDLE_MS);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0 && settle >= 0) {
			boxes_settle(s);
			continue;
		}
		if (r <= 0) {
			if (r < 0)
				code = EX_OSERR;
			break;		/* long idle: the spawner is stuck */
		}
		for (n = 0; n < SERVER_BATCH; n++) {
			r = job_recv(s, &s->jobs[n]);
			if (r <= 0) {
				eof = r < 0;
				break;
			}
		}
		if (n > 0 && batch_run(s, n) < 0)
			eof = 1;
	}
	server_free(s);
	return code;
}
