/* SPDX-License-Identifier: ISC */
/*
 * mailbox-scan: the message files of new/ and cur/ as a rebuild needs them.
 * The names first (one readdir each), then each file's inode: an fstatat
 * in its directory (no path walk), and the size from the name or one scan.
 * 100,000 lookups are most of what the first SELECT of a Maildir another
 * program filled costs, so helper threads do them while the caller sorts
 * the names (which needs none of it); then the caller joins in.
 */
#include "mailbox-private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "maildir.h"

#define SCAN_CHUNK 512		/* files a thread takes at a time */
#define SCAN_MIN_PER_THREAD 4096
#define SCAN_MAX_HELPERS 3

struct scan_worker {
	struct scan_pool *pool;
	pthread_t th;
	int started;
	int error;		/* errno of its first failure, 0 none */
	size_t failed;		/* that file */
};

struct scan_pool {
	struct mailbox_scan *sc;
	atomic_size_t next;	/* first file not handed out yet */
	atomic_int stop;	/* a worker failed: the rest give up */
	struct scan_worker w[SCAN_MAX_HELPERS + 1];	/* [0]: the caller */
	size_t nw;
};

const char *
mailbox_scan_name(const struct mailbox_scan *sc,
    const struct mailbox_scan_key *k)
{
	return sc->arena.s + k->off;
}

static int
scan_key_cmp(const void *a, const void *b, void *arg)
{
	const struct mailbox_scan_key *x = a, *y = b;

	if (x->uid != y->uid)
		return x->uid < y->uid ? -1 : 1;
	if (x->key[0] != y->key[0])
		return x->key[0] < y->key[0] ? -1 : 1;
	if (x->key[1] != y->key[1])
		return x->key[1] < y->key[1] ? -1 : 1;
	return strcmp(mailbox_scan_name(arg, x) + 4,
	    mailbox_scan_name(arg, y) + 4);
}

void
mailbox_scan_sort(struct mailbox_scan *sc)
{
	if (sc->n > 1)
		qsort_r(sc->k, sc->n, sizeof(*sc->k), scan_key_cmp, sc);
}

static void
scan_key_set(struct mailbox_scan_key *k, const char *name, size_t len)
{
	unsigned char b[16];
	size_t i;

	memset(b, 0, sizeof(b));
	memcpy(b, name, len < sizeof(b) ? len : sizeof(b));
	k->key[0] = k->key[1] = 0;
	for (i = 0; i < 8; i++) {
		k->key[0] = k->key[0] << 8 | b[i];
		k->key[1] = k->key[1] << 8 | b[8 + i];
	}
}

static int
scan_grow(struct mailbox_scan *sc)
{
	size_t nc = sc->cap ? sc->cap * 2 : 1024;
	struct mailbox_scan_file *f;
	struct mailbox_scan_key *k;

	if ((f = reallocarray(sc->f, nc, sizeof(*f))) == NULL)
		return -1;
	sc->f = f;
	if ((k = reallocarray(sc->k, nc, sizeof(*k))) == NULL)
		return -1;
	sc->k = k;
	sc->cap = nc;
	return 0;
}

/* Add a name found in new/ (in_new) or cur/: what the name carries. */
static int
scan_add(struct mailbox_scan *sc, int in_new, const char *name)
{
	struct mailbox_scan_file *f;
	struct mailbox_scan_key *k;
	struct maildir_name mn;
	size_t len;

	if (maildir_name_parse(name, &mn) < 0)
		return 0;	/* not a message file */
	if (sc->n == sc->cap && scan_grow(sc) < 0)
		return -1;
	len = strlen(name);
	f = &sc->f[sc->n];
	k = &sc->k[sc->n];
	memset(f, 0, sizeof(*f));
	f->off = sc->arena.len;
	f->len = 4 + len;
	if (str_append(&sc->arena, in_new ? "new/" : "cur/", 4) < 0 ||
	    str_append(&sc->arena, name, len + 1) < 0)
		return -1;
	f->base_len = mn.base_len;
	f->s_size = mn.s_size;
	f->w_size = mn.w_size;
	f->name_uid = mn.has_uid ? mn.uid : 0;
	f->has_s = mn.has_s;
	f->has_w = mn.has_w;
	f->in_new = in_new != 0;
	f->flags = !in_new && mn.has_info ? maildir_name_flags(name, &mn) : 0;
	scan_key_set(k, name, len);
	k->off = f->off;
	k->uid = UINT32_MAX;
	k->i = (uint32_t)sc->n;
	sc->n++;
	return 0;
}

int
mailbox_scan_names(struct mailbox_scan *sc, const char *dir, struct str *err)
{
	static const char *const sub[] = { "new", "cur" };
	struct str p = STR_INIT;
	size_t i;
	int rc = 0;

	for (i = 0; i < 2 && rc == 0; i++) {
		struct dirent *d;
		DIR *dp;
		int fd;

		str_clear(&p);
		str_appendf(&p, "%s/%s", dir, sub[i]);
		fd = open(p.s, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || (sc->dfd[i] = dup(fd)) < 0 ||
		    (dp = fdopendir(fd)) == NULL) {
			str_appendf(err, "%s: %s", p.s, strerror(errno));
			if (fd >= 0)
				close(fd);
			rc = -1;
			break;
		}
		for (;;) {
			errno = 0;
			if ((d = readdir(dp)) == NULL) {
				if (errno != 0) {
					str_appendf(err, "%s: %s", p.s,
					    strerror(errno));
					rc = -1;
				}
				break;
			}
			if (d->d_name[0] != '.' &&
			    scan_add(sc, i == 0, d->d_name) < 0) {
				str_appendf(err, "%s: %s", p.s,
				    strerror(errno));
				rc = -1;
				break;
			}
		}
		closedir(dp);
	}
	str_free(&p);
	return rc;
}

static void
scan_file(struct scan_worker *w, size_t i)
{
	struct mailbox_scan *sc = w->pool->sc;
	struct mailbox_scan_file *f = &sc->f[i];
	const char *name = sc->arena.s + f->off + 4;
	int dfd = sc->dfd[f->in_new ? 0 : 1];
	struct maildir_name mn;
	struct stat st;

	memset(&mn, 0, sizeof(mn));
	mn.s_size = f->s_size;
	mn.w_size = f->w_size;
	mn.has_s = f->has_s;
	mn.has_w = f->has_w;
	f->quick = -1;
	if (fstatat(dfd, name, &st, 0) == 0) {
		f->mtime = st.st_mtim.tv_sec;
		f->quick = mailbox_quick_size(dfd, name, &mn, &st, &f->wire);
	}
	/* ENOENT: gone since the readdir */
	if (f->quick < 0 && errno != ENOENT) {
		w->error = errno;
		w->failed = i;
		atomic_store(&w->pool->stop, 1);
	}
}

static void *
scan_run(void *arg)
{
	struct scan_worker *w = arg;
	struct scan_pool *pool = w->pool;
	size_t n = pool->sc->n;

	while (!atomic_load(&pool->stop)) {
		size_t i = atomic_fetch_add(&pool->next, SCAN_CHUNK), end;

		if (i >= n)
			break;
		end = n - i > SCAN_CHUNK ? i + SCAN_CHUNK : n;
		for (; i < end && w->error == 0; i++)
			scan_file(w, i);
	}
	return NULL;
}

/* The CPUs this process may run on. */
static long
scan_cpus(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		return CPU_COUNT(&set);
	return sysconf(_SC_NPROCESSORS_ONLN);
}

void
mailbox_scan_stat_start(struct mailbox_scan *sc)
{
	long cpus = scan_cpus();
	struct scan_pool *pool = calloc(1, sizeof(*pool));
	sigset_t all, old;
	size_t i;

	sc->pool = pool;
	if (pool == NULL)
		return;	/* mailbox_scan_stat_finish does it all */
	pool->sc = sc;
	atomic_init(&pool->next, 0);
	atomic_init(&pool->stop, 0);
	pool->nw = 1;
	while (pool->nw <= SCAN_MAX_HELPERS && (long)pool->nw < cpus &&
	    sc->n / (pool->nw + 1) >= SCAN_MIN_PER_THREAD)
		pool->nw++;
	for (i = 0; i < pool->nw; i++)
		pool->w[i].pool = pool;
	/* helpers take no signals: those stay with the calling thread */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 1; i < pool->nw; i++)
		pool->w[i].started = pthread_create(&pool->w[i].th, NULL,
		    scan_run, &pool->w[i]) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

int
mailbox_scan_stat_finish(struct mailbox_scan *sc, const char *dir,
    struct str *err)
{
	struct scan_pool one, *pool = sc->pool;
	size_t i;
	int rc = 0;

	if (pool == NULL) {
		memset(&one, 0, sizeof(one));
		one.sc = sc;
		one.nw = 1;
		one.w[0].pool = &one;
		atomic_init(&one.next, 0);
		atomic_init(&one.stop, 0);
		pool = &one;
	}
	scan_run(&pool->w[0]);
	for (i = 1; i < pool->nw; i++)
		if (pool->w[i].started)
			pthread_join(pool->w[i].th, NULL);
	for (i = 0; i < pool->nw && rc == 0; i++)
		if (pool->w[i].error != 0) {
			str_appendf(err, "%s/%s: %s", dir,
			    sc->arena.s + sc->f[pool->w[i].failed].off,
			    strerror(pool->w[i].error));
			errno = pool->w[i].error;
			rc = -1;
		}
	if (pool != &one)
		free(pool);
	sc->pool = NULL;
	return rc;
}

void
mailbox_scan_free(struct mailbox_scan *sc)
{
	if (sc->dfd[0] >= 0)
		close(sc->dfd[0]);
	if (sc->dfd[1] >= 0)
		close(sc->dfd[1]);
	str_free(&sc->arena);
	free(sc->f);
	free(sc->k);
	free(sc->pool);
	memset(sc, 0, sizeof(*sc));
	sc->dfd[0] = sc->dfd[1] = -1;
}
