/* SPDX-License-Identifier: ISC */
/*
 * smtpd: which recipients are accepted.  A recipient in a local domain
 * (the instance's domain or one in the domains table) must name a mailbox
 * (the names-only mailboxes table that `zest useradd` keeps; the users
 * table itself holds password hashes and is not readable here) or an
 * alias; postmaster always passes (RFC 5321 4.5.1).  Any other domain is
 * relaying, allowed only for clients whose address is in relay-clients
 * (an address, or a network written ADDRESS/BITS).  A table that does not
 * exist is empty; one that cannot be read makes the answer temporary.
 */
#include "smtpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "login.h"

static const char *const relay_table_names[SMTPD_T_COUNT] = {
	"mailboxes", "aliases", "domains", "relay-clients"
};

void
smtpd_relay_close(struct smtpd *s)
{
	int i;

	for (i = 0; i < SMTPD_T_COUNT; i++)
		table_close(&s->tables[i]);
}

/* Open table t when needed.  Returns 1 open, 0 absent, -1 error. */
static int
relay_open(struct smtpd *s, enum smtpd_table t)
{
	struct str path = STR_INIT;
	int err;

	if (s->tables[t] != NULL)
		return 1;
	if (str_appendf(&path, "%s/%s.cdb", s->inst->tables_dir,
	    relay_table_names[t]) < 0)
		return -1;
	s->tables[t] = table_open(path.s);
	err = errno;
	if (s->tables[t] == NULL && err != ENOENT)
		log_err("%s: %s", path.s, strerror(err));
	str_free(&path);
	if (s->tables[t] != NULL)
		return 1;
	return err == ENOENT ? 0 : -1;
}

/* Look key up in table t.  Returns 1 found, 0 not, -1 error. */
static int
relay_lookup(struct smtpd *s, enum smtpd_table t, const char *key)
{
	struct str val = STR_INIT;
	int r;

	if ((r = relay_open(s, t)) <= 0)
		return r;
	r = table_lookup(s->tables[t], key, &val);
	if (r < 0)
		log_err("%s table: %s", relay_table_names[t], strerror(errno));
	str_free(&val);
	return r;
}

/* Whether domain is delivered here.  Returns 1, 0 or -1. */
static int
relay_local_domain(struct smtpd *s, const char *domain, int literal)
{
	if (literal)
		return 0;
	if (strcasecmp(domain, s->inst->domain) == 0)
		return 1;
	return relay_lookup(s, SMTPD_T_DOMAINS, domain);
}

/* A network entry "ADDRESS/BITS" of relay-clients, for table_foreach. */
struct relay_net {
	int family;
	unsigned char addr[16];
};

static int
relay_net_match(const char *key, const char *value, void *arg)
{
	const struct relay_net *c = arg;
	unsigned char net[16];
	const char *slash = strchr(key, '/');
	char buf[64];
	char *end;
	size_t len, full;
	unsigned long bits;

	if (slash == NULL || (len = (size_t)(slash - key)) >= sizeof buf)
		return 0;
	memcpy(buf, key, len);
	buf[len] = '\0';
	if (inet_pton(c->family, buf, net) != 1)
		return 0;
	errno = 0;
	bits = strtoul(slash + 1, &end, 10);
	full = c->family == AF_INET ? 32 : 128;
	if (*end != '\0' || end == slash + 1 || bits > full)
		return 0;
	if (memcmp(net, c->addr, bits / 8) != 0)
		return 0;
	if (bits % 8 != 0 && ((net[bits / 8] ^ c->addr[bits / 8]) &
	    (0xff << (8 - bits % 8))) != 0)
		return 0;
	return 1;
}

/* POP-before-SMTP (lib/login): a POP3 or IMAP login from this address
 * left run_dir/pbs/ADDRESS whose mtime is when the permission ends.  Off
 * (whatever files remain) unless pop_before_smtp_minutes is set. */
static int
relay_pbs(const struct smtpd *s)
{
	struct str path = STR_INIT;
	struct stat st;
	int r = 0;

	if (conf_num(s->inst->conf, "pop_before_smtp_minutes") == 0 ||
	    strchr(s->ip, '/') != NULL)
		return 0;
	if (str_appendf(&path, "%s/%s/%s", s->inst->run_dir, LOGIN_PBS_DIR,
	    s->ip) == 0 && stat(path.s, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_mtime > time(NULL))
		r = 1;
	str_free(&path);
	return r;
}

/* Whether the client may relay.  Returns 1, 0 or -1. */
static int
relay_client(struct smtpd *s)
{
	struct relay_net c;
	int r;

	if (s->local)
		return 1;
	if (s->ip[0] == '\0')
		return 0;
	if (relay_pbs(s))
		return 1;
	if ((r = relay_lookup(s, SMTPD_T_RELAY, s->ip)) != 0 ||
	    s->tables[SMTPD_T_RELAY] == NULL)
		return r;
	c.family = s->ip6 ? AF_INET6 : AF_INET;
	if (inet_pton(c.family, s->ip, c.addr) != 1)
		return 0;
	r = table_foreach(s->tables[SMTPD_T_RELAY], relay_net_match, &c);
	if (r < 0)
		log_err("relay-clients table: %s", strerror(errno));
	return r;
}

/* Whether the local part names a mailbox or an alias.  Returns 1, 0 or
 * -1. */
static int
relay_local_user(struct smtpd *s, const struct smtp_path *p)
{
	struct str local = STR_INIT, full = STR_INIT;
	int r;

	if (smtp_path_local(p, &local) < 0 ||
	    str_appendf(&full, "%s@%s", str_cstr(&local),
	    smtp_path_domain(p)) < 0) {
		r = -1;
		goto out;
	}
	if (strcasecmp(str_cstr(&local), "postmaster") == 0) {
		r = 1;
		goto out;
	}
	r = relay_lookup(s, SMTPD_T_MAILBOXES, str_cstr(&local));
	if (r == 0)
		r = relay_lookup(s, SMTPD_T_ALIASES, full.s);
	if (r == 0)
		r = relay_lookup(s, SMTPD_T_ALIASES, str_cstr(&local));
out:
	str_free(&local);
	str_free(&full);
	return r;
}

enum smtpd_rcpt_verdict
smtpd_relay_check(struct smtpd *s, const struct smtp_path *p)
{
	int r;

	if (p->postmaster)
		return SMTPD_RCPT_OK;
	r = relay_local_domain(s, smtp_path_domain(p), p->literal);
	if (r == 0) {
		r = relay_client(s);
		return r < 0 ? SMTPD_RCPT_TEMP : r ? SMTPD_RCPT_OK :
		    SMTPD_RCPT_RELAY;
	}
	if (r > 0)
		r = relay_local_user(s, p);
	return r < 0 ? SMTPD_RCPT_TEMP : r ? SMTPD_RCPT_OK :
	    SMTPD_RCPT_NO_USER;
}
