/* SPDX-License-Identifier: ISC */
/*
 * mailbox-fill: the MESSAGE cache entries of many messages indexed without
 * a parse (mailbox-lazy.c), made together.  One at a time, as
 * mailbox_cached() does, each costs a lock, a refresh, three writes to
 * zest.cache, a record and a header write and a remap of the cache; here a
 * batch of up to FILL_BATCH messages is parsed without the lock, on up to
 * FILL_THREADS_MAX threads (the parse is most of the work, and the parser
 * keeps no shared state), then stored under one lock: the entries added
 * to zest.cache through one cache writer (a few large writes), the records
 * rewritten, the header written once.
 *
 * Under the lock every message is looked up again by UID: one expunged
 * meanwhile is left out, one filled by another process meanwhile keeps
 * that entry.  A message whose file cannot be read or parsed (renamed or
 * removed by another program) is left out too; mailbox_cached() will try
 * it alone and report what is wrong.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache.h"
#include "mailbox-private.h"
#include "mailbox.h"
#include "msgcache.h"

#define FILL_BATCH	256		/* messages per lock */
#define FILL_BYTES	(16u << 20)	/* message bytes per batch (at least
					   one message) */
#define FILL_THREADS_MAX 4
#define FILL_PER_THREAD	8		/* fewer jobs than this: no thread */

/* One message of a batch. */
struct fill_job {
	uint32_t uid;
	struct str name;	/* the file relative to the Maildir, as its
				   record named it */
	struct str entry;	/* parsed: the MESSAGE entry's payload */
	uint64_t wire;
	int raw;
	int err;		/* 0 parsed, else an errno */
};

struct fill {
	int dfd;		/* the Maildir */
	struct fill_job *jobs;
	size_t njobs;
	size_t next;		/* the next job to take (atomic) */
};

/* Parse job j's file into its cache entry.  Runs on any thread: touches
 * nothing but j. */
static void
fill_parse(int dfd, struct fill_job *j)
{
	int fd, rc;

	fd = openat(dfd, j->name.s, O_RDONLY | O_CLOEXEC | O_NOATIME);
	if (fd < 0 && errno == EPERM)	/* O_NOATIME is for the owner */
		fd = openat(dfd, j->name.s, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		j->err = errno;
		return;
	}
	rc = msgcache_parse_fd(fd, &j->entry, &j->raw, &j->wire);
	if (rc == 0)
		rc = cache_item_add(&j->entry, CI_NAME, j->name.s, j->name.len);
	j->err = rc < 0 ? (errno != 0 ? errno : EIO) : 0;
	close(fd);
	if (rc == 0 && j->entry.len > CACHE_MAX_ENTRY)
		j->err = E2BIG;		/* left alone, as mailbox_cached says */
}

static void *
fill_worker(void *arg)
{
	struct fill *f = arg;
	size_t i;

	while ((i = __atomic_fetch_add(&f->next, 1, __ATOMIC_RELAXED)) <
	    f->njobs)
		fill_parse(f->dfd, &f->jobs[i]);
	return NULL;
}

/* Threads to parse n jobs with, the caller's included. */
static size_t
fill_threads(size_t n)
{
	cpu_set_t set;
	size_t t = 1;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		t = (size_t)CPU_COUNT(&set);
	if (t > FILL_THREADS_MAX)
		t = FILL_THREADS_MAX;
	if (t > n / FILL_PER_THREAD)
		t = n / FILL_PER_THREAD;
	return t < 1 ? 1 : t;
}

/* Parse every job: on the caller's thread and on up to
 * fill_threads() - 1 more (with every signal blocked: they are the
 * caller's to handle).  A thread that cannot be made leaves its share to
 * the others. */
static void
fill_parse_all(struct fill *f)
{
	pthread_t tid[FILL_THREADS_MAX];
	size_t want = fill_threads(f->njobs), nt = 0, i;
	sigset_t all, old;

	f->next = 0;
	if (want > 1) {
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		for (i = 1; i < want; i++)
			if (pthread_create(&tid[nt], NULL, fill_worker, f) == 0)
				nt++;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	fill_worker(f);
	for (i = 0; i < nt; i++)
		pthread_join(tid[i], NULL);
}

/* The jobs of the next batch: from uids[0..n), the messages that have a
 * record without a MESSAGE entry.  *used_r: how many UIDs it covers. */
static int
fill_collect(struct mailbox *mb, const uint32_t *uids, size_t n,
    struct fill *f, size_t *used_r)
{
	struct index_record r;
	uint64_t bytes = 0;
	uint32_t seq, hint = 0;
	size_t k;
	int rc = 0;

	for (k = 0; k < n && f->njobs < FILL_BATCH && bytes < FILL_BYTES;
	    k++) {
		struct fill_job *j = &f->jobs[f->njobs];
		int found = mailbox_find_from(mb, mb->hdr.count, hint, uids[k],
		    &seq, &r);

		if (found < 0) {
			rc = -1;
			break;
		}
		if (found == 0)
			continue;
		hint = seq + 1;
		if ((r.flags & REC_EXPUNGED) || r.cache_off != 0)
			continue;
		memset(j, 0, sizeof(*j));
		j->uid = r.uid;
		if (mailbox_file_name(mb, &r, &j->name) < 0) {
			/* a record that does not check: the single fill
			 * reports it */
			str_free(&j->name);
			continue;
		}
		f->njobs++;
		bytes += r.size;
	}
	*used_r = k;
	return rc;
}

/* A parsed job kept for storing: where its record is, where its entry
 * goes. */
struct fill_keep {
	struct fill_job *job;
	uint32_t seq;
	struct index_record r;
	uint64_t off;
};

/* Under the lock: the parsed jobs whose records still want an entry, each
 * added to w (keep has room for all jobs).  Returns how many, or -1. */
static int
fill_place(struct mailbox *mb, const struct fill *f, struct cache_writer *w,
    struct fill_keep *keep)
{
	uint32_t hint = 0;
	size_t i, nk = 0;

	for (i = 0; i < f->njobs; i++) {
		struct fill_job *j = &f->jobs[i];
		struct fill_keep *k = &keep[nk];
		int found;

		if (j->err != 0)
			continue;
		found = mailbox_find_from(mb, mb->hdr.count, hint, j->uid,
		    &k->seq, &k->r);
		if (found < 0)
			return -1;
		if (found == 0)
			continue;
		hint = k->seq + 1;
		if ((k->r.flags & REC_EXPUNGED) || k->r.cache_off != 0)
			continue;	/* gone, or filled by someone else */
		k->job = j;
		if (cache_writer_add(w, CACHE_T_MESSAGE, j->uid, j->entry.s,
		    j->entry.len, &k->off) < 0)
			return -1;
		nk++;
	}
	return (int)nk;
}

/* Under the lock, the entries written: point the nk records at them and
 * commit the header once. */
static int
fill_commit(struct mailbox *mb, const struct fill_keep *keep, size_t nk,
    uint64_t end)
{
	struct index_header h = mb->hdr;
	size_t i;

	for (i = 0; i < nk; i++) {
		struct index_record nr = keep[i].r;

		nr.cache_off = keep[i].off;
		nr.size = keep[i].job->wire;
		nr.flags = (nr.flags & ~REC_RAW) |
		    (keep[i].job->raw ? REC_RAW : 0);
		mailbox_count(&h, &keep[i].r, &nr);
		if (index_put(mb->ix, keep[i].seq, &nr) < 0)
			return -1;
	}
	if (end > h.cache_end)
		h.cache_end = end;
	if (index_commit(mb->ix, &h) < 0)
		return -1;
	mb->hdr = h;
	return 0;
}

/* Under the lock: store the parsed jobs still wanted, their entries
 * added after the end of zest.cache by one cache writer.  Returns how
 * many. */
static int
fill_store(struct mailbox *mb, struct fill *f)
{
	struct fill_keep *keep = NULL;
	struct cache_writer *w = NULL;
	int rc = -1, nk, saved;

	keep = calloc(f->njobs ? f->njobs : 1, sizeof(*keep));
	if (keep == NULL || cache_writer_append(mb->cache, &w) < 0 ||
	    (nk = fill_place(mb, f, w, keep)) < 0)
		goto out;
	if (nk > 0 && (cache_writer_flush(w) < 0 ||
	    fill_commit(mb, keep, (size_t)nk, cache_entry_end(keep[nk - 1].off,
	    keep[nk - 1].job->entry.len)) < 0))
		goto out;
	rc = nk;
out:
	saved = errno;
	cache_writer_free(&w);
	free(keep);
	errno = saved;
	return rc;
}

/* One batch from uids[0..n): *used_r UIDs dealt with.  Returns the
 * number of entries stored, or -1. */
static int
fill_batch(struct mailbox *mb, const uint32_t *uids, size_t n,
    size_t *used_r)
{
	struct fill f;
	struct str err = STR_INIT;
	int was_locked = mb->locked, rc = -1, saved;
	size_t i;

	memset(&f, 0, sizeof(f));
	f.dfd = -1;
	f.jobs = calloc(FILL_BATCH, sizeof(*f.jobs));
	if (f.jobs == NULL)
		return -1;
	if (fill_collect(mb, uids, n, &f, used_r) < 0)
		goto out;
	/* the files are opened relative to the Maildir: no walk of its
	 * path for each */
	if (f.njobs > 0 && (f.dfd = open(mb->dir, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) < 0)
		goto out;
	if (f.njobs == 0) {
		rc = 0;
		goto out;
	}
	fill_parse_all(&f);
	if (!was_locked && mailbox_lock(mb) < 0)
		goto out;
	if (mailbox_refresh(mb, &err) == 0)
		rc = fill_store(mb, &f);
	saved = errno;
	if (!was_locked)
		mailbox_unlock(mb);
	errno = saved;
out:
	saved = errno;
	for (i = 0; i < f.njobs; i++) {
		str_free(&f.jobs[i].name);
		str_free(&f.jobs[i].entry);
	}
	if (f.dfd >= 0)
		close(f.dfd);
	free(f.jobs);
	str_free(&err);
	errno = saved;
	return rc;
}

int
mailbox_cache_prefill(struct mailbox *mb, const uint32_t *uids, size_t n)
{
	size_t at = 0, used;
	int total = 0, rc;

	while (at < n) {
		rc = fill_batch(mb, uids + at, n - at, &used);
		if (rc < 0)
			return -1;
		total += rc;
		at += used;
	}
	return total;
}
