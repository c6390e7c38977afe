/* SPDX-License-Identifier: ISC */
/*
 * queued: where each recipient goes.  Once per message, before anything is
 * delivered, aliases are resolved (lib/alias) and, when any recipient was
 * an alias, the envelope is written anew with the final recipients and an
 * E line, into exp/<id> beside the queue file (which holds the message:
 * it is not copied), so that the state file's recipient numbers stay
 * valid whatever the aliases table later says.  Then each recipient is local (its domain
 * is the instance's or in the domains table: deliver -d NAME) or remote,
 * and a local one already named in the message's Delivered-To fields is a
 * loop (5.4.6).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "log.h"
#include "queued.h"
#include "users.h"

static int
route_lookup(void *arg, const char *key, struct str *value_r)
{
	struct queued *q = arg;

	return table_lookup(q->aliases, key, value_r);
}

static int
route_is_local(void *arg, const char *domain)
{
	struct queued *q = arg;
	struct str v = STR_INIT;
	int r;

	if (strcasecmp(domain, q->inst.domain) == 0)
		return 1;
	r = table_lookup(q->domains, domain, &v);
	str_free(&v);
	return r;
}

/* Open a table of tables_dir. */
static struct table *
route_table(struct queued *q, const char *name)
{
	struct str p = STR_INIT;
	struct table *t;

	str_appendf(&p, "%s/%s.cdb", q->inst.tables_dir, name);
	if ((t = table_open(str_cstr(&p))) == NULL)
		log_err("%s: %s", str_cstr(&p), strerror(errno));
	str_free(&p);
	return t;
}

int
route_init(struct queued *q)
{
	q->aliases = route_table(q, ALIAS_TABLE);
	q->domains = route_table(q, "domains");
	if (q->aliases == NULL || q->domains == NULL)
		return -1;
	q->actx.lookup = route_lookup;
	q->actx.is_local = route_is_local;
	q->actx.arg = q;
	q->actx.domain = q->inst.domain;
	q->actx.max_targets = q->inst.max_recipients;
	return 0;
}

void
route_close(struct queued *q)
{
	table_close(&q->aliases);
	table_close(&q->domains);
}

/* The failure status of an alias expansion error. */
static const char *
route_alias_status(int err)
{
	switch (err) {
	case ELOOP:
		return "5.4.6";
	case E2BIG:
		return "5.5.3";
	default:
		return "5.3.5";
	}
}

/* One failed expansion, to be recorded once the new envelope stands. */
struct route_fail {
	size_t n;
	char *text;
};

/* Append recipient i's expansion to the new envelope text.  Returns 0,
 * 1 when it was an alias, -1 on a temporary error. */
static int
route_expand1(struct queued *q, const struct qenv_rcpt *er, struct str *env,
    struct str *seen, size_t *n, struct route_fail *fail)
{
	struct alias_list l = { 0 };
	struct str err = STR_INIT, orcpt = STR_INIT, key = STR_INIT;
	size_t j;
	int r;

	r = alias_expand(&q->actx, er->addr, &l, &err);
	if (r < 0 && errno != ELOOP && errno != E2BIG && errno != EINVAL) {
		log_warn("aliases: %s (will retry)", str_cstr(&err));
		goto out;
	}
	if (r < 0) {
		fail->n = *n;
		str_appendf(&key, "%s x-zest; %s", route_alias_status(errno),
		    str_cstr(&err));
		fail->text = str_steal(&key);
		qenv_format_rcpt(er, env);
		(*n)++;
		r = 1;
		goto out;
	}
	if (*er->orcpt != '\0')
		str_appends(&orcpt, er->orcpt);
	else if (str_appends(&orcpt, "rfc822;") == 0)
		qenv_xtext_encode(er->addr, &orcpt);
	for (j = 0; j < l.n; j++) {
		struct qenv_rcpt nr = { l.t[j].addr, er->notify,
		    orcpt.s != NULL ? orcpt.s : er->orcpt };

		str_clear(&key);
		str_appendf(&key, "\n%s\n", l.t[j].addr);
		if (seen->s != NULL && strstr(seen->s, key.s) != NULL)
			continue;	/* a duplicate of an earlier one */
		str_append(seen, key.s + 1, key.len - 1);
		qenv_format_rcpt(r ? &nr : er, env);
		(*n)++;
	}
out:
	alias_list_free(&l);
	str_free(&err);
	str_free(&orcpt);
	str_free(&key);
	return r;
}

/* Rename tmp/<id>.rewrite to exp/<id> and fsync exp/; exp/ is made (and
 * the queue directory fsynced) the first time. */
static int
route_rename(const char *tmp, const char *path)
{
	if (rename(tmp, path) < 0) {
		if (errno != ENOENT || (mkdir("exp", 0700) < 0 &&
		    errno != EEXIST) || fs_fsync_dir(".") < 0 ||
		    rename(tmp, path) < 0)
			return -1;
	}
	return fs_fsync_dir("exp");
}

/* Write text to tmp/<id>.rewrite, then rename it to exp/<id> (fsync,
 * rename, fsync exp/), which takes precedence over the envelope in
 * env/<id>: a crash leaves the old envelope alone or the new one beside
 * it, and at worst a file in tmp/, which start-up removes when old. */
static int
route_write(const char *id, const struct str *text)
{
	struct str tmp = STR_INIT, path = STR_INIT;
	int fd, r = -1, saved;

	str_appendf(&tmp, "tmp/%s.rewrite", id);
	str_appendf(&path, "exp/%s", id);
	fd = open(str_cstr(&tmp), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
	if (fd >= 0 && fs_write_all(fd, text->s, text->len) == 0 &&
	    fsync(fd) == 0 && close(fd) == 0) {
		fd = -1;
		if (route_rename(tmp.s, str_cstr(&path)) == 0)
			r = 0;
	}
	saved = errno;
	if (fd >= 0)
		close(fd);
	if (r < 0)
		unlink(str_cstr(&tmp));
	str_free(&tmp);
	str_free(&path);
	errno = saved;
	return r;
}

/* Replace m's envelope by text (written to exp/<id> durably first). */
static int
route_rewrite(struct queued *q, struct msg *m, const struct str *text)
{
	struct str path = STR_INIT, err = STR_INIT;
	struct qenv ne;
	int r = -1;

	if (qenv_parse(&ne, text->s, text->len, QENV_STORED, 0, &err) < 0) {
		log_err("%s: rewritten envelope: %s", m->id, err.s);
		qenv_free(&ne);
		goto out;
	}
	if (route_write(m->id, text) < 0) {
		log_err("exp/%s: %s", m->id, strerror(errno));
		qenv_free(&ne);
		goto out;
	}
	free(m->r);
	if ((m->r = calloc(ne.nrcpt, sizeof *m->r)) == NULL)
		queued_die("out of memory");
	/* the queue file is the same: its layout stays */
	ne.version = m->env.version;
	ne.msg_offset = m->env.msg_offset;
	qenv_free(&m->env);
	m->env = ne;
	r = 0;
out:
	str_free(&path);
	str_free(&err);
	return r;
}

/* Resolve the aliases of m's recipients; rewrite its envelope when any
 * was an alias.  Returns 0, or -1 to try again later. */
static int
route_expand(struct queued *q, struct msg *m, time_t now)
{
	struct str env = STR_INIT, seen = STR_INIT;
	struct route_fail *fails;
	size_t i, n = 0, nfail = 0;
	int r = 0, any = 0;

	if ((fails = calloc(m->env.nrcpt, sizeof *fails)) == NULL)
		return -1;
	m->env.expanded = 1;
	qenv_format_head(&m->env, &env);
	m->env.expanded = 0;
	str_appendc(&seen, '\n');
	for (i = 0; i < m->env.nrcpt && r >= 0; i++) {
		r = route_expand1(q, &m->env.rcpt[i], &env, &seen, &n,
		    &fails[nfail]);
		any |= r > 0;
		if (fails[nfail].text != NULL)
			nfail++;
	}
	if (r >= 0 && any && (r = route_rewrite(q, m, &env)) == 0) {
		log_info("%s: aliases resolved: %zu recipients", m->id,
		    m->env.nrcpt);
		for (i = 0; i < nfail; i++)
			msg_outcome(q, m, fails[i].n, 'F', fails[i].text, now);
	}
	for (i = 0; i < nfail; i++)
		free(fails[i].text);
	free(fails);
	str_free(&env);
	str_free(&seen);
	return r < 0 ? -1 : 0;
}

/* Read the Delivered-To fields of the message once. */
static void
route_seen(struct msg *m)
{
	struct str head = STR_INIT;

	if (m->dt_loaded)
		return;
	if (msg_read_head(m, QUEUED_HEADER_MAX, &head) < 0 ||
	    alias_seen_scan(&m->seen, head.s ? head.s : "", head.len) < 0)
		log_err("%s: reading the header: %s", m->id, strerror(errno));
	m->dt_loaded = 1;
	str_free(&head);
}

/* Decide where recipient i goes; a recipient that cannot go anywhere
 * fails now. */
static void
route_rcpt(struct queued *q, struct msg *m, size_t i, time_t now)
{
	struct rcpt *r = &m->r[i];
	struct str canon = STR_INIT, text = STR_INIT;
	char *at;
	int local;

	local = alias_canon(&q->actx, m->env.rcpt[i].addr, &canon);
	if (local < 0) {
		if (errno == EINVAL)
			msg_outcome(q, m, i, 'F', "5.1.3 x-zest; bad address",
			    now);
		else
			m->hold = now + q->retry_min;
		goto out;
	}
	r->final = str_steal(&canon);
	at = strrchr(r->final, '@');
	r->remote = !local;
	if (!local) {
		r->domain = at + 1;
		goto out;
	}
	r->user = strndup(r->final, (size_t)(at - r->final));
	if (r->user == NULL || !users_valid_name(r->user))
		str_appendf(&text, "5.1.1 x-zest; %s: no such user", r->final);
	else if (m->seen.hops > QUEUED_HOPS_MAX)
		str_appendf(&text, "5.4.6 x-zest; mail loop: more than %d "
		    "Received and Delivered-To fields", QUEUED_HOPS_MAX);
	else if (alias_seen_has(&m->seen, r->final))
		str_appendf(&text, "5.4.6 x-zest; mail loop: the message was "
		    "already delivered to %s", r->final);
	if (text.len > 0)
		msg_outcome(q, m, i, 'F', text.s, now);
out:
	str_free(&canon);
	str_free(&text);
}

int
route_msg(struct queued *q, struct msg *m, int has_state, time_t now)
{
	size_t i;

	if (!m->env.expanded && !has_state && route_expand(q, m, now) < 0)
		return -1;
	route_seen(m);
	for (i = 0; i < m->env.nrcpt; i++) {
		if (m->r[i].final != NULL)
			continue;
		if (m->r[i].outcome == 0)
			route_rcpt(q, m, i, now);
		else if (m->r[i].final == NULL)
			m->r[i].final = strdup(m->env.rcpt[i].addr);
	}
	return m->hold > now ? -1 : 0;
}
