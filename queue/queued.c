/* SPDX-License-Identifier: ISC */
/*
 * queued: the queue manager.  Started by the spawner with privileges
 * dropped to zest-queue and a socket to it on fd 3; it works in queue_dir,
 * wakes on a byte in the trigger FIFO (queue-inject writes 'N', `zest
 * flush` writes 'F'), and exits when the spawner goes away or on SIGTERM
 * (after the jobs in flight have answered).  See queued(8).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "queued.h"

/* The signal handler's way out: a byte into the self-pipe, whose write end
 * it finds here; set once before the handlers are installed. */
static int queued_sigfd = -1;

static void
on_signal(int sig)
{
	unsigned char c = (unsigned char)sig;
	int saved = errno;

	(void)!write(queued_sigfd, &c, 1);
	errno = saved;
}

void
queued_die(const char *fmt, ...)
{
	struct str m = STR_INIT;
	va_list ap;

	va_start(ap, fmt);
	str_vappendf(&m, fmt, ap);
	va_end(ap);
	log_err("%s", str_cstr(&m));
	exit(1);
}

static void
setup_signals(struct queued *q)
{
	struct sigaction sa;

	if (pipe2(q->sigpipe, O_CLOEXEC | O_NONBLOCK) < 0)
		queued_die("pipe: %s", strerror(errno));
	queued_sigfd = q->sigpipe[1];
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
}

/* The numbers of zest.conf that steer the queue. */
static void
setup_conf(struct queued *q)
{
	const struct conf *c = q->inst.conf;

	q->local_max = (unsigned)conf_num(c, "local_concurrency");
	q->remote_max = (unsigned)conf_num(c, "remote_concurrency");
	q->dest_max = (unsigned)conf_num(c, "remote_destination_concurrency");
	q->retry_min = (time_t)conf_num(c, "queue_retry_min");
	q->retry_max = (time_t)conf_num(c, "queue_retry_max");
	q->delay_warning = (time_t)conf_num(c, "delay_warning");
	q->bounce_limit = conf_num(c, "bounce_size_limit");
	q->lifetime = (time_t)q->inst.queue_lifetime;
	if (q->retry_max < q->retry_min)
		q->retry_max = q->retry_min;
}

/* The queue's directories, its lock and its trigger FIFO. */
static void
setup_queue(struct queued *q)
{
	static const char *const dirs[] = { "tmp", "msg", "env", "state",
	    "done", "bounce", NULL };
	struct flock fl;
	struct stat st;
	size_t i;

	if (chdir(q->inst.queue_dir) < 0)
		queued_die("%s: %s", q->inst.queue_dir, strerror(errno));
	for (i = 0; dirs[i] != NULL; i++)
		if (mkdir(dirs[i], 0700) < 0 && errno != EEXIST)
			queued_die("%s/%s: %s", q->inst.queue_dir, dirs[i],
			    strerror(errno));
	q->lockfd = open("lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	memset(&fl, 0, sizeof fl);
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (q->lockfd < 0 || fcntl(q->lockfd, F_SETLK, &fl) < 0)
		queued_die("%s/lock: %s", q->inst.queue_dir, errno == EAGAIN ||
		    errno == EACCES ? "another queued is running" :
		    strerror(errno));
	if (mkfifo("trigger", 0600) < 0 && errno != EEXIST)
		queued_die("trigger: %s", strerror(errno));
	if (lstat("trigger", &st) < 0 || !S_ISFIFO(st.st_mode))
		queued_die("%s/trigger is not a FIFO", q->inst.queue_dir);
	/* read and write: the FIFO never reports end of file */
	q->fifo = open("trigger", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (q->fifo < 0)
		queued_die("trigger: %s", strerror(errno));
}

static void
setup(struct queued *q, const char *dir)
{
	struct str err = STR_INIT;
	struct stat st;

	if (instance_open(dir, &q->inst, &err) < 0)
		queued_die("configuration: %s", str_cstr(&err));
	q->conf_dir = q->inst.dir;
	str_free(&err);
	setup_conf(q);
	q->sock = QUEUED_FD;
	if (fstat(q->sock, &st) < 0 || !S_ISSOCK(st.st_mode))
		queued_die("fd %d is no socket: queued is started by the "
		    "spawner", QUEUED_FD);
	if (fcntl(q->sock, F_SETFD, FD_CLOEXEC) < 0 ||
	    fcntl(q->sock, F_SETFL, O_NONBLOCK) < 0)
		queued_die("fcntl: %s", strerror(errno));
	setup_signals(q);
	umask(077);
	setup_queue(q);
	if (route_init(q) < 0)
		queued_die("cannot open the tables");
}

/* Bytes in the trigger FIFO: 'F' flushes, anything wakes a scan. */
static void
fifo_read(struct queued *q)
{
	char buf[512];
	ssize_t n, i;

	while ((n = read(q->fifo, buf, sizeof buf)) > 0) {
		q->scan = 1;
		for (i = 0; i < n; i++)
			if (buf[i] == 'F')
				sched_flush(q);
	}
}

int64_t
queued_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Whether the finished messages should be removed now: their removal costs
 * a directory fsync (the commit point of them all), so under load it
 * waits until QUEUED_FLUSH_BATCH are finished or the first has waited
 * QUEUED_FLUSH_MS, instead of paying a flush for every outcome that comes
 * in alone.  The milliseconds until then go to *ms_r (-1: nothing waits). */
static int
flush_due(struct queued *q, int *ms_r)
{
	int64_t age;

	*ms_r = -1;
	if (q->done == NULL)
		return 0;
	age = queued_ms() - q->done_since;
	if (q->stopping || q->ndone >= QUEUED_FLUSH_BATCH ||
	    age >= QUEUED_FLUSH_MS)
		return 1;
	*ms_r = (int)(QUEUED_FLUSH_MS - age);
	return 0;
}

/* One round of the loop; returns 0 to stop. */
static int
loop_once(struct queued *q, time_t *stop_at)
{
	struct pollfd pfd[4];
	time_t now = time(NULL), wake;
	unsigned char c;
	int ms, flush_ms;

	if (q->scan || now >= q->next_scan) {
		q->scan = 0;
		q->next_scan = now + QUEUED_RESCAN;
		msg_scan(q, now);
	}
	if (!q->stopping)
		sched_dispatch(q, now);
	if (spawn_write(q) < 0)
		queued_die("spawner: %s", strerror(errno));
	/* the outcomes that came in and the messages they finished, while
	 * the new jobs start */
	if (flush_due(q, &flush_ms))
		msg_flush(q);
	if (q->stopping && (q->local_busy + q->remote_busy == 0 ||
	    now >= *stop_at))
		return 0;
	(void)msg_state_sync(q);
	pfd[3].fd = rm_push(q) ? q->rm_fd : -1;	/* the janitor's backlog */
	pfd[3].events = POLLOUT;
	wake = q->stopping ? now + 1 : sched_wake(q, now);
	ms = wake <= now ? 0 : (int)(wake - now) * 1000;
	if (flush_ms >= 0 && flush_ms < ms)
		ms = flush_ms;
	pfd[0].fd = q->sigpipe[0];
	pfd[1].fd = q->fifo;
	pfd[2].fd = q->sock;
	pfd[0].events = pfd[1].events = POLLIN;
	pfd[2].events = POLLIN | (q->out.len ? POLLOUT : 0);
	if (poll(pfd, 4, ms) < 0 && errno != EINTR)
		queued_die("poll: %s", strerror(errno));
	now = time(NULL);
	if ((pfd[0].revents & POLLIN) && read(q->sigpipe[0], &c, 1) == 1 &&
	    !q->stopping) {
		log_info("signal %d: stopping once the jobs in flight end", c);
		q->stopping = 1;
		*stop_at = now + QUEUED_STOP_WAIT;
	}
	if (pfd[1].revents & POLLIN)
		fifo_read(q);
	if ((pfd[2].revents & POLLOUT) && spawn_write(q) < 0)
		queued_die("spawner: %s", strerror(errno));
	if ((pfd[2].revents & (POLLIN | POLLHUP | POLLERR)) &&
	    spawn_read(q, now) < 0) {
		log_info("the spawner has gone: exiting");
		return 0;
	}
	return 1;
}

int
main(int argc, char **argv)
{
	struct queued *q;
	const char *dir = NULL;
	time_t stop_at = 0;
	int c;

	/* start-up errors go to stderr (the spawner's, kept by zest start) */
	log_open("queued", 1);
	while ((c = getopt(argc, argv, "C:")) != -1) {
		if (c != 'C') {
			fprintf(stderr, "usage: queued [-C DIR]\n");
			return 2;
		}
		dir = optarg;
	}
	if (optind != argc || (q = calloc(1, sizeof *q)) == NULL)
		return 2;
	setup(q, dir);
	log_open("queued", q->inst.log_stderr);
	msg_cleanup(q, time(NULL));
	rm_start(q);
	log_info("started: local_concurrency %u, remote_concurrency %u",
	    q->local_max, q->remote_max);
	while (loop_once(q, &stop_at))
		;
	msg_flush(q);
	rm_stop(q);
	log_info("stopped");
	msg_free_all(q);
	route_close(q);
	instance_close(&q->inst);
	str_free(&q->in);
	str_free(&q->out);
	free(q);
	return 0;
}
