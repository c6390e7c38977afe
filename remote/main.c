/* SPDX-License-Identifier: ISC */
/*
 * remote: deliver one message to the recipients of one domain by SMTP.
 *
 *	remote [-C dir] DOMAIN   fd 0 message, fd 3 ENV text, stdout results
 *
 * Launched by the spawner as zest-remote (docs/QUEUE.md); run as root it
 * becomes zest-remote itself once it has read its configuration.  For
 * every recipient it prints "<n> <code> <x.y.z> <text>", preceded by
 * "H host[ip]" lines naming the servers it talked to.  See remote(8).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "instance.h"
#include "log.h"
#include "priv.h"
#include "qenv.h"
#include "remote.h"

#define REMOTE_ENV_FD 3
#define REMOTE_PEER_MAX (DNS_NAME_MAX + DNS_ADDRSTR_MAX + 4)

struct remote {
	struct instance inst;
	const char *domain;
	struct qenv env;
	struct smtpc_msg msg;
	struct smtpc_rcpt *r;
	size_t n;
	char *printed;
	struct dns *dns;
	struct table *routes;
	struct tls_ctx *tls;
	unsigned port, conn_timeout, timeout, data_timeout;
	struct outcome temp, perm;	/* the last failures of each kind */
	char relay[REMOTE_PEER_MAX];	/* the last host talked to */
	unsigned tries;
	int stop;			/* a local error: no more hosts */
};

static void __attribute__((noreturn, format(printf, 2, 3)))
die(int code, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "remote: %s\n", buf);
	log_err("%s (exit %d)", buf, code);
	exit(code);
}

static void
usage(void)
{
	fprintf(stderr, "usage: remote [-C dir] domain\n");
	exit(EX_USAGE);
}

/* The ENV text on fd 3, at most REMOTE_ENV_MAX bytes. */
static void
remote_read_env(struct remote *rm)
{
	struct str text, err = STR_INIT;
	char buf[8192];
	ssize_t n;

	str_init(&text, REMOTE_ENV_MAX);
	for (;;) {
		n = read(REMOTE_ENV_FD, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die(EX_TEMPFAIL, "reading fd 3: %s", strerror(errno));
		if (n == 0)
			break;
		if (str_append(&text, buf, (size_t)n) < 0)
			die(EX_DATAERR, "envelope on fd 3: %s", strerror(errno));
	}
	if (qenv_parse(&rm->env, str_cstr(&text), text.len, 0,
	    rm->inst.max_recipients, &err) < 0)
		die(EX_DATAERR, "envelope on fd 3: %s", str_cstr(&err));
	str_free(&text);
	str_free(&err);
}

/* The message starts at fd 0's offset: the spawner hands a queue file
 * positioned after its envelope (docs/QUEUE.md).  Everything here reads
 * the message from offset 0 and takes its size from fstat, so such a
 * message is copied once into a memory file that becomes fd 0 (remote
 * then holds no descriptor of the envelope). */
static void
remote_msg_at_zero(void)
{
	off_t off = lseek(0, 0, SEEK_CUR), left;
	struct stat st;
	ssize_t n;
	int fd;

	if (off <= 0)
		return;
	if (fstat(0, &st) < 0 || !S_ISREG(st.st_mode) || off > st.st_size)
		die(EX_NOINPUT, "standard input is not the message file");
	if ((fd = memfd_create("zest-msg", MFD_CLOEXEC)) < 0)
		die(EX_TEMPFAIL, "memfd_create: %s", strerror(errno));
	for (left = st.st_size - off; left > 0; left -= n) {
		n = sendfile(fd, 0, NULL, (size_t)left);
		if (n < 0 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n <= 0)
			die(EX_TEMPFAIL, "copying the message: %s",
			    n < 0 ? strerror(errno) : "cut short");
	}
	if (dup2(fd, 0) < 0)
		die(EX_TEMPFAIL, "dup2: %s", strerror(errno));
	close(fd);
}

/* The message on fd 0 and the recipients from the envelope. */
static void
remote_setup_msg(struct remote *rm)
{
	static const enum smtpc_body body[] = { SMTPC_7BIT, SMTPC_8BITMIME,
	    SMTPC_BINARYMIME };
	struct smtpc_msg *m = &rm->msg;
	struct stat st;
	size_t i;

	remote_msg_at_zero();
	if (fstat(0, &st) < 0 || !S_ISREG(st.st_mode))
		die(EX_NOINPUT, "standard input is not the message file");
	m->fd = 0;
	m->size = st.st_size;
	m->sender = rm->env.sender;
	m->ret = rm->env.ret == QENV_RET_FULL ? "FULL" :
	    rm->env.ret == QENV_RET_HDRS ? "HDRS" : NULL;
	m->envid = rm->env.envid;
	m->body = body[rm->env.body];
	m->smtputf8 = rm->env.smtputf8;
	m->eightbit = -1;
	rm->n = rm->env.nrcpt;
	rm->r = calloc(rm->n, sizeof(*rm->r));
	rm->printed = calloc(rm->n, 1);
	if (rm->r == NULL || rm->printed == NULL)
		die(EX_TEMPFAIL, "out of memory");
	for (i = 0; i < rm->n; i++) {
		rm->r[i].addr = rm->env.rcpt[i].addr;
		rm->r[i].notify = rm->env.rcpt[i].notify;
		rm->r[i].orcpt = rm->env.rcpt[i].orcpt;
	}
}

/* A number from the configuration, or def when the key is unknown. */
static unsigned
remote_conf_num(const struct remote *rm, const char *key, unsigned def)
{
	unsigned long long v = conf_num(rm->inst.conf, key);

	return v == 0 || v > 86400 ? def : (unsigned)v;
}

/* Tables, resolver, TLS, settings; then zest-remote when root. */
static void
remote_setup(struct remote *rm)
{
	struct str err = STR_INIT, path = STR_INIT;
	const char *server = conf_str(rm->inst.conf, "dns_server");
	uid_t uid;
	gid_t gid;

	rm->port = remote_conf_num(rm, "smtp_port", 25);
	rm->conn_timeout = remote_conf_num(rm, "smtp_connect_timeout", 30);
	rm->timeout = remote_conf_num(rm, "smtp_timeout", SMTPC_TIMEOUT);
	rm->data_timeout = remote_conf_num(rm, "smtp_data_timeout",
	    SMTPC_DATA_TIMEOUT);
	if (str_appendf(&path, "%s/routes.cdb", rm->inst.tables_dir) < 0)
		die(EX_TEMPFAIL, "out of memory");
	if ((rm->routes = table_open(path.s)) == NULL && errno != ENOENT)
		die(EX_TEMPFAIL, "%s: %s", path.s, strerror(errno));
	if ((rm->dns = dns_open(server, 0, 0, &err)) == NULL)
		die(EX_CONFIG, "%s", str_cstr(&err));
	str_clear(&err);
	if ((rm->tls = tls_client_ctx(0, &err)) == NULL)
		log_warn("no STARTTLS: %s", str_cstr(&err));
	if (geteuid() == 0) {
		if (priv_lookup(REMOTE_USER, &uid, &gid) < 0)
			die(EX_TEMPFAIL, "user %s: %s", REMOTE_USER,
			    strerror(errno));
		if (priv_drop(uid, gid, NULL) < 0)
			die(EX_TEMPFAIL, "cannot become %s: %s", REMOTE_USER,
			    strerror(errno));
	}
	str_free(&err);
	str_free(&path);
}

/* Print and log the results not printed yet. */
static void
remote_print(struct remote *rm)
{
	struct smtpc_rcpt *r;
	size_t i;

	for (i = 0; i < rm->n; i++) {
		r = &rm->r[i];
		if (!r->done || rm->printed[i])
			continue;
		rm->printed[i] = 1;
		printf("%zu %u %s %s\n", i, r->code, r->status,
		    str_cstr(&r->text));
		log_info("to=<%s> relay=%s status=%s (%u %s %s)", r->addr,
		    rm->relay[0] ? rm->relay : "none", r->code / 100 == 2 ?
		    "sent" : r->code / 100 == 4 ? "deferred" : "bounced",
		    r->code, r->status, str_cstr(&r->text));
	}
	fflush(stdout);
}

/* Remember a failure that leaves the recipients to the next host. */
static void
remote_note(struct remote *rm, unsigned code, const char *status,
    const char *text)
{
	struct outcome *o;

	if (code < 400 || code > 599) {
		code = 451;
		status = "4.4.2";
	}
	o = code / 100 == 5 ? &rm->perm : &rm->temp;
	outcome_set(o, code, status, "%s", text);
	log_info("%u %s %s", code, status, text);
}

static size_t
remote_pending(const struct remote *rm)
{
	size_t i, n = 0;

	for (i = 0; i < rm->n; i++)
		n += !rm->r[i].done;
	return n;
}

/* One session on a connected socket; returns smtpc_session's result. */
static int
remote_session(struct remote *rm, int fd, const char *peer,
    const char *sni, int use_tls)
{
	struct conn_tls t = { rm->tls, fd, sni, rm->timeout, NULL };
	struct io *io = malloc(sizeof(*io));
	struct smtpc c;
	int rc;

	if (io == NULL)
		die(EX_TEMPFAIL, "out of memory");
	io_init(io, fd, fd);
	smtpc_init(&c, io, rm->inst.hostname, peer);
	c.timeout = rm->timeout;
	c.data_timeout = rm->data_timeout;
	if (use_tls && rm->tls != NULL) {
		c.starttls = conn_starttls;
		c.tls_arg = &t;
	}
	rc = smtpc_session(&c, &rm->msg, rm->r, rm->n);
	if (c.greeted) {
		snprintf(rm->relay, sizeof(rm->relay), "%s", peer);
		printf("H %s\n", peer);
	}
	if (t.session != NULL) {
		log_info("%s: TLS %s", peer, tls_session_info(t.session));
		tls_session_free(&t.session);
	}
	remote_print(rm);
	if (rc == -1) {
		/* Our own failure: every host would see the same. */
		rm->stop = 1;
		outcome_set(&rm->temp, c.fail_code, c.fail_status, "%s",
		    str_cstr(&c.fail_text));
	} else if (rc != 0)
		remote_note(rm, c.fail_code, c.fail_status,
		    str_cstr(&c.fail_text));
	smtpc_free(&c);
	free(io);
	return rc;
}

/* Try one address of a hop (again without TLS when the handshake
 * failed). */
static void
remote_try(struct remote *rm, const struct hop *hop, const struct dns_addr *a)
{
	struct str err = STR_INIT;
	char ip[DNS_ADDRSTR_MAX], peer[REMOTE_PEER_MAX];
	struct dns_addr lit;
	const char *sni;
	int fd, tls = 1, rc;

	dns_addr_format(a, ip, sizeof(ip));
	snprintf(peer, sizeof(peer), "%s[%s]", hop->name, ip);
	sni = dns_addr_parse(hop->name, &lit) ? NULL : hop->name;
	do {
		rm->tries++;
		if ((fd = conn_open(a, hop->port, rm->conn_timeout, &err)) < 0) {
			outcome_set(&rm->temp, 451, "4.4.1", "connect to %s:%u: "
			    "%s", peer, hop->port, str_cstr(&err));
			log_info("%s", str_cstr(&rm->temp.text));
			break;
		}
		rc = remote_session(rm, fd, peer, sni, tls);
		close(fd);
		tls = 0;
	} while (rc == SMTPC_NOTLS && rm->tries < REMOTE_TRIES_MAX);
	str_free(&err);
}

/* Every address of one hop, while recipients are pending. */
static void
remote_hop(struct remote *rm, const struct hop *hop)
{
	struct dns_addrs addrs;
	struct str err = STR_INIT;
	size_t i;
	int r;

	r = dns_addrs(rm->dns, hop->name, &addrs, &err);
	if (r < 0)
		remote_note(rm, 451, "4.4.3", str_cstr(&err));
	else if (r > 0) {
		str_clear(&err);
		str_appendf(&err, "%shost %s %s", hop->route ? "route " : "",
		    hop->name, r == DNS_NXDOMAIN ? "not found" :
		    "has no address");
		/* A bad route is the administrator's to fix: try later. */
		remote_note(rm, hop->route ? 451 : 550, hop->route ? "4.4.4" :
		    "5.4.4", str_cstr(&err));
	}
	for (i = 0; r == 0 && i < addrs.n && !rm->stop && remote_pending(rm) &&
	    rm->tries < REMOTE_TRIES_MAX; i++)
		remote_try(rm, hop, &addrs.v[i]);
	str_free(&err);
}

/* The recipients no host took: the last temporary failure, else the last
 * permanent one. */
static void
remote_finish(struct remote *rm, const struct outcome *final)
{
	const struct outcome *o = final;
	size_t i;

	if (o == NULL)
		o = rm->temp.code ? &rm->temp : &rm->perm;
	for (i = 0; i < rm->n; i++)
		if (!rm->r[i].done) {
			if (o->code == 0)
				smtpc_rcpt_set(&rm->r[i], 451, "4.4.1",
				    "no host could be tried");
			else
				smtpc_rcpt_set(&rm->r[i], o->code, o->status,
				    "%s", str_cstr(&o->text));
		}
	remote_print(rm);
}

int
main(int argc, char **argv)
{
	struct remote rm;
	struct hops hops;
	struct outcome o;
	struct hops_conf cf;
	struct str err = STR_INIT;
	const char *dir = NULL;
	size_t i;
	int c;

	signal(SIGPIPE, SIG_IGN);
	log_open("remote", 0);
	memset(&rm, 0, sizeof(rm));
	memset(&o, 0, sizeof(o));
	while ((c = getopt(argc, argv, "C:")) != -1) {
		if (c != 'C')
			usage();
		dir = optarg;
	}
	if (argc - optind != 1)
		usage();
	rm.domain = argv[optind];
	if (instance_open(dir, &rm.inst, &err) < 0)
		die(EX_CONFIG, "%s", str_cstr(&err));
	log_open("remote", rm.inst.log_stderr);
	remote_setup(&rm);
	remote_read_env(&rm);
	remote_setup_msg(&rm);
	log_set_session(rm.env.id);
	cf.dns = rm.dns;
	cf.routes = rm.routes;
	cf.self = rm.inst.hostname;
	cf.port = rm.port;
	if (hops_find(&cf, rm.domain, &hops, &o) != 0)
		remote_finish(&rm, &o);
	for (i = 0; i < hops.n && !rm.stop && remote_pending(&rm) &&
	    rm.tries < REMOTE_TRIES_MAX; i++)
		remote_hop(&rm, &hops.v[i]);
	remote_finish(&rm, NULL);
	hops_free(&hops);
	if (fflush(stdout) != 0 || ferror(stdout))
		die(EX_TEMPFAIL, "writing the results: %s", strerror(errno));
	for (i = 0; i < rm.n; i++)
		str_free(&rm.r[i].text);
	free(rm.r);
	free(rm.printed);
	str_free(&o.text);
	str_free(&rm.temp.text);
	str_free(&rm.perm.text);
	str_free(&err);
	smtpc_msg_free(&rm.msg);
	qenv_free(&rm.env);
	dns_close(&rm.dns);
	table_close(&rm.routes);
	tls_ctx_free(&rm.tls);
	instance_close(&rm.inst);
	return 0;
}
