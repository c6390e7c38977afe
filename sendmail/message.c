/* SPDX-License-Identifier: ISC */
/*
 * sendmail's sending mode: read the message, collect recipients (arguments,
 * and with -t the To/Cc/Bcc fields), add the header fields a message must
 * have, and feed envelope and message to queue-inject in the pipe format of
 * docs/QUEUE.md.  The message is streamed: only the header is held (bounded).
 */
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "rfc5322.h"
#include "sendmail.h"

#define SM_HEADER_MAX (1024 * 1024)
#define SM_CHUNK 65536

struct sm_in {
	int ignore_dots;
	int bol;		/* at the beginning of a line */
	int dot;		/* a "." began this line */
	int cr;			/* the last byte was CR */
	int ended;		/* the "." line or EOF was seen */
	struct str out;		/* wire bytes waiting to be sent */
};

/* An envelope address from a parsed mailbox: quote the local part when it
 * is not a dot-atom. */
static int
sm_addr(const struct instance *inst, const struct rfc5322_addr *a,
    struct str *list)
{
	const char *lp = str_cstr(&a->mailbox), *host = str_cstr(&a->host);
	size_t i;
	int quote = lp[0] == '\0' || lp[0] == '.';

	/* the parser's stand-ins: no local part is no address; no domain
	 * is ours, as a bare user name on the command line means */
	if (strcmp(lp, RFC5322_MISSING_MAILBOX) == 0)
		return 0;
	if (strcmp(host, RFC5322_MISSING_DOMAIN) == 0 || host[0] == '\0')
		host = inst->domain;

	for (i = 0; lp[i] != '\0'; i++) {
		unsigned char c = (unsigned char)lp[i];

		if (c < ' ' || c == 127)
			return 0;	/* never into an envelope */
		if (strchr("()<>[]:;@\\,\" ", c) != NULL)
			quote = 1;
	}
	if (quote) {
		str_appendc(list, '"');
		for (i = 0; lp[i] != '\0'; i++) {
			if (lp[i] == '"' || lp[i] == '\\')
				str_appendc(list, '\\');
			str_appendc(list, lp[i]);
		}
		str_appendc(list, '"');
	} else
		str_appends(list, lp);
	return str_appendf(list, "@%s%c", host, '\0') < 0 ? -1 : 1;
}

int
sm_addresses(const struct instance *inst, const char *s, size_t n,
    struct str *list, size_t *count)
{
	struct rfc5322_addrlist al;
	size_t i;
	int added = 0;

	memset(&al, 0, sizeof(al));
	if (rfc5322_addresses(s, n, SM_MAX_RCPTS, &al) < 0)
		return -1;
	for (i = 0; i < al.n; i++) {
		int r;

		if (al.v[i].kind != RFC5322_ADDR_MAILBOX)
			continue;
		if (*count >= SM_MAX_RCPTS) {
			rfc5322_addrlist_free(&al);
			return -1;
		}
		r = sm_addr(inst, &al.v[i], list);
		if (r < 0) {
			rfc5322_addrlist_free(&al);
			return -1;
		}
		*count += (size_t)r;
		added += r;
	}
	rfc5322_addrlist_free(&al);
	return added;
}

/* Convert input bytes to wire form (CRLF), honouring the "." rule. */
static void
sm_feed(struct sm_in *in, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n && !in->ended; i++) {
		char c = p[i];

		if (in->dot) {
			if (c == '\n') {
				in->ended = 1;
				break;
			}
			if (c == '\r' && !in->cr) {
				in->cr = 1;
				continue;
			}
			str_appendc(&in->out, '.');
			if (in->cr)
				str_appendc(&in->out, '\r');
			in->dot = in->cr = 0;
			in->bol = 0;
		}
		if (in->bol && c == '.' && !in->ignore_dots) {
			in->dot = 1;
			continue;
		}
		if (c == '\n') {
			if (!in->cr)
				str_appendc(&in->out, '\r');
			str_appendc(&in->out, '\n');
			in->bol = 1;
		} else {
			str_appendc(&in->out, c);
			in->bol = 0;
		}
		in->cr = c == '\r';
	}
}

/* Read the header block (up to the first empty line) in wire form. */
static int
sm_read_header(struct sm_in *in, struct str *hdr, struct str *rest)
{
	char buf[SM_CHUNK];
	const char *end;

	for (;;) {
		ssize_t r;

		end = in->out.len ? memmem(in->out.s, in->out.len, "\r\n\r\n", 4) : NULL;
		if (in->out.len >= 2 && memcmp(in->out.s, "\r\n", 2) == 0)
			end = in->out.s - 2;	/* no header at all */
		if (end != NULL || in->ended)
			break;
		if (in->out.len > SM_HEADER_MAX) {
			errno = EFBIG;
			return -1;
		}
		r = read(0, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0) {
			in->ended = 1;
			break;
		}
		sm_feed(in, buf, (size_t)r);
	}
	if (end == NULL)	/* header only */
		end = in->out.s + in->out.len - (in->out.len >= 2 ? 2 : in->out.len);
	str_append(hdr, in->out.s, (size_t)(end - in->out.s) + 2);
	str_append(rest, end + 2, in->out.len - (size_t)(end + 2 - in->out.s));
	str_clear(&in->out);
	return 0;
}

static int
sm_is(const char *f, const char *e, const char *name)
{
	size_t v;

	return rfc5322_field_is(f, (size_t)(e - f), name, &v);
}

/* Which header fields are present; with -t, the recipients of To, Cc and
 * Bcc.  Bcc fields are cut out of hdr. */
static int
sm_scan_header(const struct instance *inst, const struct sm_opts *o,
    struct str *hdr, struct str *rcpts, size_t *nrcpt, unsigned *have)
{
	struct str out = STR_INIT, val = STR_INIT;
	const char *s = str_cstr(hdr), *end = s + hdr->len;
	int rc = 0;

	while (s < end && rc == 0) {
		const char *f = s, *e = s;
		size_t vpos, nl;

		/* one field: its line and its continuation lines */
		do {
			const char *lf = memchr(e, '\n', (size_t)(end - e));

			e = lf ? lf + 1 : end;
		} while (e < end && (*e == ' ' || *e == '\t'));
		nl = rfc5322_field_name(f, (size_t)(e - f), &vpos);
		s = e;
		if (nl == 0) {
			str_append(&out, f, (size_t)(e - f));
			continue;
		}
		if (sm_is(f, e, "from"))
			*have |= 1;
		else if (sm_is(f, e, "date"))
			*have |= 2;
		else if (sm_is(f, e, "message-id"))
			*have |= 4;
		if (o->extract && (sm_is(f, e, "to") || sm_is(f, e, "cc") ||
		    sm_is(f, e, "bcc"))) {
			str_clear(&val);
			if (rfc5322_unfold(f + vpos, (size_t)(e - f) - vpos, &val) < 0 ||
			    sm_addresses(inst, str_cstr(&val), val.len, rcpts, nrcpt) < 0)
				rc = -1;
		}
		if (!sm_is(f, e, "bcc"))
			str_append(&out, f, (size_t)(e - f));
	}
	str_free(hdr);
	*hdr = out;
	str_free(&val);
	return rc;
}

static void
sm_date(char *buf, size_t n, time_t t)
{
	struct tm tm;

	setlocale(LC_TIME, "C");
	localtime_r(&t, &tm);
	strftime(buf, n, "%a, %d %b %Y %H:%M:%S %z", &tm);
}

/* Received first; From, Date and Message-ID when the message lacks them. */
static void
sm_added_fields(const struct instance *inst, const struct sm_opts *o,
    const char *user, const char *sender, unsigned have, struct str *out)
{
	char date[64];
	unsigned char rnd[8];
	time_t now = time(NULL);

	sm_date(date, sizeof(date), now);
	str_appendf(out, "Received: (from %s, uid %ld)\r\n\tby %s (Zest sendmail);"
	    "\r\n\t%s\r\n", user, (long)getuid(), inst->hostname, date);
	if (!(have & 1)) {
		if (o->fullname != NULL && strpbrk(o->fullname, "\r\n\"\\") == NULL)
			str_appendf(out, "From: \"%s\" <%s>\r\n", o->fullname,
			    sender[0] ? sender : "MAILER-DAEMON");
		else
			str_appendf(out, "From: %s\r\n",
			    sender[0] ? sender : "MAILER-DAEMON");
	}
	if (!(have & 2))
		str_appendf(out, "Date: %s\r\n", date);
	if (!(have & 4)) {
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			memset(rnd, 0, sizeof(rnd));
		str_appendf(out, "Message-ID: <%lld.%ld.%02x%02x%02x%02x%02x%02x@%s>\r\n",
		    (long long)now, (long)getpid(), rnd[0], rnd[1], rnd[2],
		    rnd[3], rnd[4], rnd[5], inst->hostname);
	}
}

struct sm_pipe {
	pid_t pid;
	int to, from;
};

/* Where queue-inject is: a root-run instance keeps a setuid copy in
 * run/bin (see zest(8) start); else the programs' directory. */
static void
sm_inject_path(const struct instance *inst, struct str *p)
{
	str_clear(p);
	str_appendf(p, "%s/bin/queue-inject", inst->run_dir);
	if (access(p->s, X_OK) == 0)
		return;
	str_clear(p);
	str_appendf(p, "%s/queue-inject", inst->libexec_dir);
}

static int
sm_start_inject(const struct instance *inst, struct sm_pipe *q)
{
	struct str path = STR_INIT;
	int in[2], out[2];

	sm_inject_path(inst, &path);
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
		return -1;
	q->pid = fork();
	if (q->pid < 0)
		return -1;
	if (q->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		if (inst->dir != NULL)
			execl(path.s, "queue-inject", "-C", inst->dir, (char *)NULL);
		else
			execl(path.s, "queue-inject", (char *)NULL);
		fprintf(stderr, "sendmail: %s: %s\n", path.s, strerror(errno));
		_exit(EX_UNAVAILABLE);
	}
	close(in[0]);
	close(out[1]);
	q->to = in[1];
	q->from = out[0];
	str_free(&path);
	return 0;
}

static int
sm_chunk(struct sm_pipe *q, const char *p, size_t n)
{
	char h[32];
	int hl;

	if (n == 0)
		return 0;
	hl = snprintf(h, sizeof(h), "D%zu\n", n);
	return fs_write_all(q->to, h, (size_t)hl) < 0 ||
	    fs_write_all(q->to, p, n) < 0 ? -1 : 0;
}

/* The answer line of queue-inject mapped to an exit status. */
static int
sm_finish_inject(struct sm_pipe *q, int sent_ok)
{
	char ans[512];
	ssize_t n = 0, r;
	int status;

	close(q->to);
	while ((size_t)n < sizeof(ans) - 1 &&
	    (r = read(q->from, ans + n, sizeof(ans) - 1 - (size_t)n)) > 0)
		n += r;
	ans[n > 0 ? n : 0] = '\0';
	ans[strcspn(ans, "\r\n")] = '\0';
	close(q->from);
	while (waitpid(q->pid, &status, 0) < 0 && errno == EINTR)
		;
	if (sent_ok && strncmp(ans, "ok ", 3) == 0 && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0)
		return EX_OK;
	fprintf(stderr, "sendmail: not queued: %s\n",
	    ans[0] ? ans : "queue-inject failed");
	if (strncmp(ans, "552", 3) == 0)
		return EX_DATAERR;
	if (ans[0] == '5')
		return EX_UNAVAILABLE;
	return EX_TEMPFAIL;
}

static int
sm_envelope(const struct sm_opts *o, const char *sender, const char *user,
    const struct str *rcpts, size_t nrcpt, struct str *env)
{
	const char *r = str_cstr(rcpts);
	size_t i;

	str_appendf(env, "V1\nF%s\nB%s\nClocal user=%s uid=%ld\n", sender,
	    o->body ? o->body : "8BITMIME", user, (long)getuid());
	for (i = 0; i < nrcpt; i++) {
		str_appendf(env, "R%s\t\t\n", r);
		r += strlen(r) + 1;
	}
	return str_appends(env, ".\n");
}

/* Argument addresses; an argument may hold a list, as sendmail allows. */
static int
sm_arg_rcpts(const struct instance *inst, const struct sm_opts *o,
    struct str *rcpts, size_t *n)
{
	size_t i;

	for (i = 0; i < o->nrcpts; i++)
		if (sm_addresses(inst, o->rcpts[i], strlen(o->rcpts[i]), rcpts,
		    n) <= 0) {
			fprintf(stderr, "sendmail: bad recipient address: %s\n",
			    o->rcpts[i]);
			return -1;
		}
	return 0;
}

static void
sm_sender(const struct instance *inst, const struct sm_opts *o,
    const char *user, struct str *sender)
{
	if (o->sender == NULL)
		str_appendf(sender, "%s@%s", user, inst->domain);
	else if (strcmp(o->sender, "<>") != 0 && o->sender[0] != '\0') {
		size_t n = 0;

		sm_addresses(inst, o->sender, strlen(o->sender), sender, &n);
		if (n != 1) {
			str_clear(sender);
			str_appendf(sender, "%s@%s", user, inst->domain);
		}
	}
}

int
sm_send(const struct instance *inst, const struct sm_opts *o)
{
	struct sm_in in = { o->ignore_dots, 1, 0, 0, 0, STR_INIT };
	struct str hdr = STR_INIT, body = STR_INIT, rcpts = STR_INIT;
	struct str sender = STR_INIT, env = STR_INIT, added = STR_INIT;
	struct passwd *pw = getpwuid(getuid());
	const char *user = pw ? pw->pw_name : "unknown";
	struct sm_pipe q;
	size_t nrcpt = 0;
	unsigned have = 0;
	int ok = 0, rc = EX_TEMPFAIL;
	char buf[SM_CHUNK];

	signal(SIGPIPE, SIG_IGN);
	sm_sender(inst, o, user, &sender);
	if (sm_arg_rcpts(inst, o, &rcpts, &nrcpt) < 0)
		return EX_USAGE;
	if (sm_read_header(&in, &hdr, &body) < 0) {
		fprintf(stderr, "sendmail: reading the message: %s\n",
		    errno == EFBIG ? "header too large" : strerror(errno));
		rc = errno == EFBIG ? EX_DATAERR : EX_IOERR;
		goto out;
	}
	if (sm_scan_header(inst, o, &hdr, &rcpts, &nrcpt, &have) < 0) {
		fprintf(stderr, "sendmail: too many or bad recipients\n");
		rc = EX_DATAERR;
		goto out;
	}
	if (nrcpt == 0) {
		fprintf(stderr, "sendmail: no recipient addresses\n");
		rc = EX_USAGE;
		goto out;
	}
	sm_added_fields(inst, o, user, str_cstr(&sender), have, &added);
	sm_envelope(o, str_cstr(&sender), user, &rcpts, nrcpt, &env);
	if (sm_start_inject(inst, &q) < 0) {
		fprintf(stderr, "sendmail: cannot run queue-inject: %s\n",
		    strerror(errno));
		goto out;
	}
	ok = fs_write_all(q.to, env.s, env.len) == 0 &&
	    sm_chunk(&q, added.s, added.len) == 0 &&
	    sm_chunk(&q, hdr.s, hdr.len) == 0 &&
	    sm_chunk(&q, body.s, body.len) == 0;
	while (ok && !in.ended) {
		ssize_t r = read(0, buf, sizeof(buf));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			ok = r == 0;
			break;
		}
		sm_feed(&in, buf, (size_t)r);
		ok = sm_chunk(&q, in.out.s, in.out.len) == 0;
		str_clear(&in.out);
	}
	/* a last line without its newline still ends with CRLF */
	if (ok && !in.bol && !(in.dot && in.ended))
		ok = sm_chunk(&q, in.dot ? ".\r\n" : "\r\n", in.dot ? 3 : 2) == 0;
	if (ok)
		ok = fs_write_all(q.to, "E\n", 2) == 0;
	rc = sm_finish_inject(&q, ok);
out:
	str_free(&in.out);
	str_free(&hdr);
	str_free(&body);
	str_free(&rcpts);
	str_free(&sender);
	str_free(&env);
	str_free(&added);
	return rc;
}
