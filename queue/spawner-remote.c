/* SPDX-License-Identifier: ISC */
/*
 * spawner-remote: M requests.  Each runs one remote(8) as zest-remote with
 * the message on fd 0 and the ENV text for the domain on fd 3 (a memfd),
 * and relays each line remote prints, prefixed by the job number, then
 * "<job> done".  See docs/QUEUE.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fs.h"
#include "log.h"
#include "spawner.h"

/* Answer every recipient of an M request with one temporary failure. */
static void
remote_refuse(struct spawner *sp, size_t nrcpt, const char *text)
{
	size_t i;

	for (i = 0; i < nrcpt; i++)
		spawner_reply(sp, "%s %zu %s\n", sp->m.job, i, text);
	spawner_reply(sp, "%s done\n", sp->m.job);
}

/* The ENV text in a memory file for remote's fd 3. */
static int
env_file(const struct str *env)
{
	int fd = memfd_create("zest-env", MFD_CLOEXEC);

	if (fd < 0)
		return -1;
	if (fs_write_all(fd, env->s, env->len) < 0 ||
	    lseek(fd, 0, SEEK_SET) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Run remote for job j: its stdout on a pipe the job reads. */
static int
remote_spawn(struct spawner *sp, struct job *j, int msgfd, int efd,
    char **args)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	j->pid = spawner_spawn(sp, msgfd, p[1], efd, sp->ruid, sp->rgid,
	    "remote", args);
	close(p[1]);
	if (j->pid < 0) {
		close(p[0]);
		return -1;
	}
	j->out = p[0];
	fcntl(j->out, F_SETFL, O_NONBLOCK);
	return 0;
}

void
remote_request(struct spawner *sp)
{
	struct str prog = STR_INIT;
	struct job *j = NULL;
	char *args[8], *p;
	size_t n = 1, nrcpt = 0;
	int fd = -1, efd = -1;

	/* remote checks the ENV text; here only its R lines are counted */
	for (p = sp->env.s; p != NULL && (p = strstr(p, "\nR")); p++)
		nrcpt++;
	if (sp->m_bad || nrcpt == 0) {
		log_warn("job '%s': malformed M request", sp->m.job);
		if (sp->m.job[0] != '\0')
			spawner_reply(sp, "%s done\n", sp->m.job);
		goto out;
	}
	str_appendf(&prog, "%s/remote", sp->inst.libexec_dir);
	if (!sp->remote_ok || access(prog.s, X_OK) < 0) {
		remote_refuse(sp, nrcpt, "451 4.4.1 remote not installed");
		goto out;
	}
	if ((j = spawner_job_new(sp, JOB_REMOTE, sp->m.job)) == NULL) {
		remote_refuse(sp, nrcpt, "451 4.3.0 spawner: too many jobs");
		goto out;
	}
	spawner_args_conf(sp, args, &n);
	args[n++] = sp->m.domain;
	args[n] = NULL;
	if ((fd = spawner_msg_open(sp, sp->m.id)) < 0 ||
	    (efd = env_file(&sp->env)) < 0 ||
	    remote_spawn(sp, j, fd, efd, args) < 0) {
		log_err("job %s: %s", sp->m.job, strerror(errno));
		remote_refuse(sp, nrcpt, "451 4.3.0 spawner: cannot start "
		    "remote");
		spawner_job_free(sp, j);
		goto out;
	}
out:
	if (fd >= 0)
		close(fd);
	if (efd >= 0)
		close(efd);
	str_free(&prog);
	str_clear(&sp->env);
}

void
remote_lines(struct spawner *sp, struct job *j, int final)
{
	struct str line = STR_INIT;
	char *nl;
	size_t n;

	while (j->buf.len > 0) {
		nl = memchr(j->buf.s, '\n', j->buf.len);
		if (nl == NULL && !final && j->buf.len < SPAWNER_OUT_MAX)
			break;
		n = nl != NULL ? (size_t)(nl - j->buf.s) : j->buf.len;
		str_clear(&line);
		if (!j->line_done)	/* not the tail of a cut line */
			spawner_clean(&line, j->buf.s, n, SPAWNER_OUT_MAX);
		j->line_done = nl == NULL;
		if (line.len > 0)
			spawner_reply(sp, "%s %s\n", j->num, line.s);
		n = nl != NULL ? n + 1 : j->buf.len;
		memmove(j->buf.s, j->buf.s + n, j->buf.len - n);
		str_truncate(&j->buf, j->buf.len - n);
	}
	str_free(&line);
}

void
remote_read(struct spawner *sp, struct job *j)
{
	char buf[4096];
	ssize_t n = read(j->out, buf, sizeof buf);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		close(j->out);
		j->out = -1;
		remote_lines(sp, j, 1);
		return;
	}
	str_append(&j->buf, buf, (size_t)n);
	remote_lines(sp, j, 0);
}
