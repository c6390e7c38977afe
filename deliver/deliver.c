/* SPDX-License-Identifier: ISC */
/*
 * deliver: local delivery of one message on standard input into a user's
 * Maildir and its Zest index, mail.local style, with sysexits(3) codes.
 * Run as root it looks the user up and becomes that user before it touches
 * the mailbox.  With -S it is instead a long-lived worker that takes the
 * spawner's jobs for one user over a socket (deliver-server.c).  See
 * deliver(8).
 */
#include <errno.h>
#include <stdarg.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "deliver.h"
#include "log.h"
#include "maildir.h"
#include "priv.h"

struct opts {
	const char *conf_dir;
	const char *user;
	const char *mailbox;
	const char *sender;
	const char *address;
	const char *flags;
	int wire;
	int server;		/* -S: serve jobs on fd 0 */
};

static void
usage(void)
{
	fprintf(stderr, "usage: deliver [-C dir] [-d user] [-m mailbox] "
	    "[-f sender] [-a address] [-F flags] [-w]\n"
	    "       deliver [-C dir] -S -d user [-w]\n");
	exit(EX_USAGE);
}

/* Report and exit: the message goes to stderr (an MTA puts it in the
 * bounce or its log) and to the log. */
static void __attribute__((noreturn, format(printf, 2, 3)))
die(int code, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "deliver: %s\n", buf);
	log_err("%s (exit %d)", buf, code);
	exit(code);
}

static void
parse_args(int argc, char **argv, struct opts *o)
{
	int c;

	memset(o, 0, sizeof(*o));
	while ((c = getopt(argc, argv, "C:d:m:f:a:F:wS")) != -1) {
		switch (c) {
		case 'C': o->conf_dir = optarg; break;
		case 'd': o->user = optarg; break;
		case 'm': o->mailbox = optarg; break;
		case 'f': o->sender = optarg; break;
		case 'a': o->address = optarg; break;
		case 'F': o->flags = optarg; break;
		case 'w': o->wire = 1; break;
		case 'S': o->server = 1; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	if (o->server) {
		/* a job names its own recipient, sender and mailbox */
		if (o->user == NULL || o->mailbox != NULL ||
		    o->sender != NULL || o->address != NULL ||
		    o->flags != NULL)
			usage();
		return;
	}
	if (o->sender == NULL)
		o->sender = getenv("SENDER");
	if (o->sender != NULL && !deliver_addr_ok(o->sender))
		die(EX_USAGE, "bad sender address");
	if (o->address != NULL && !deliver_addr_ok(o->address))
		die(EX_USAGE, "bad recipient address");
}

static unsigned
parse_flags(const char *letters)
{
	struct maildir_name mn;
	struct str n = STR_INIT;
	unsigned f = 0;

	if (str_appendf(&n, "x:2,%s", letters) == 0 &&
	    maildir_name_parse(n.s, &mn) == 0)
		f = maildir_name_flags(n.s, &mn);
	str_free(&n);
	return f;
}

static const char *
default_user(void)
{
	struct passwd *pw = getpwuid(getuid());

	if (getuid() == 0 || pw == NULL)
		usage();	/* root must say whom to deliver to */
	return pw->pw_name;
}

/* What both modes do first: the configuration, the user, and the drop to
 * the user's uid.  0, or a sysexits code with the reason in err. */
static int
setup(struct opts *o, struct instance *inst, struct user *u,
    struct str *err)
{
	struct str e = STR_INIT;
	int r, code = 0;

	if (instance_open(o->conf_dir, inst, &e) < 0) {
		str_appendf(err, "configuration: %s", str_cstr(&e));
		code = EX_TEMPFAIL;
		goto out;
	}
	if (inst->log_stderr)
		log_open("deliver", 1);
	if (o->user == NULL)
		o->user = default_user();
	r = users_lookup(inst, o->user, u, &e);
	if (r <= 0) {
		if (r < 0)
			str_appendf(err, "user table: %s", str_cstr(&e));
		else
			str_appendf(err, "%s: no such user", o->user);
		code = r < 0 ? EX_TEMPFAIL : EX_NOUSER;
		goto out;
	}
	if (geteuid() == 0 && priv_drop(u->uid, u->gid, NULL) < 0) {
		str_appendf(err, "cannot become uid %ld: %s", (long)u->uid,
		    strerror(errno));
		code = EX_TEMPFAIL;
	}
out:
	str_free(&e);
	return code;
}

/* -S: a setup failure is the worker's one message to the spawner
 * ("- <code> <text>"), which answers the jobs it sent with it. */
static int
server_main(struct opts *o, struct instance *inst, struct user *u)
{
	struct str err = STR_INIT, msg = STR_INIT;
	int type = 0, code;
	socklen_t len = sizeof(type);

	if (getsockopt(0, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
	    type != SOCK_SEQPACKET)
		die(EX_USAGE, "-S: standard input is no SOCK_SEQPACKET socket");
	code = setup(o, inst, u, &err);
	if (code != 0) {
		str_appendf(&msg, "- %d deliver: %s", code, str_cstr(&err));
		(void)!send(0, msg.s, msg.len, MSG_NOSIGNAL);
		die(code, "%s", str_cstr(&err));
	}
	code = deliver_serve(inst, u, o->wire, 0);
	str_free(&err);
	str_free(&msg);
	return code;
}

/* The one-shot delivery of standard input. */
static int
oneshot_main(struct opts *o, struct instance *inst, struct user *u)
{
	struct str err = STR_INIT, dir = STR_INIT, address = STR_INIT;
	struct mailbox *mb = NULL;
	struct mailbox_msg *m = NULL;
	char *buf;
	unsigned flags;
	uint32_t uid;
	int code;

	if ((code = setup(o, inst, u, &err)) != 0)
		die(code, "%s", err.s);
	if (o->address != NULL)
		str_appends(&address, o->address);
	else
		str_appendf(&address, "%s@%s", u->name, inst->domain);
	if (deliver_folder_path(u->maildir, o->mailbox, &dir) < 0)
		die(EX_USAGE, "bad mailbox name");
	if (o->mailbox != NULL && !maildir_exists(dir.s) &&
	    (code = deliver_make_folder(dir.s, &err)) != 0)
		die(code, "%s", err.s);
	if (mailbox_open(dir.s, MBOX_CREATE, inst->lock_timeout, &mb, &err) < 0)
		die(deliver_mailbox_exit(errno), "%s", err.s);
	if (mailbox_msg_begin(mb, o->wire, &m, &err) < 0)
		die(deliver_mailbox_exit(errno), "%s", err.s);
	mailbox_msg_limit(m, inst->message_size_limit);
	if ((buf = malloc(DELIVER_BUF)) == NULL)
		die(EX_TEMPFAIL, "out of memory");
	if ((code = deliver_copy(m, 0, o->wire, address.s, o->sender, buf,
	    &err)) != 0) {
		mailbox_msg_abort(&m);
		die(code, "%s", err.s);
	}
	free(buf);
	flags = o->flags != NULL ? parse_flags(o->flags) : 0;
	if (mailbox_msg_commit(&m, flags, 0, time(NULL), o->flags != NULL, &uid,
	    &err) < 0)
		die(EX_TEMPFAIL, "%s", err.s);
	log_info("delivered to %s mailbox %s uid %u", u->name,
	    o->mailbox ? o->mailbox : "INBOX", uid);
	mailbox_close(&mb);
	str_free(&err);
	str_free(&dir);
	str_free(&address);
	return EX_OK;
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct instance inst;
	struct user u;
	char sid[16];
	int code;

	parse_args(argc, argv, &o);
	log_open("deliver", 0);
	log_new_session_id(sid, sizeof(sid));
	log_set_session(sid);
	memset(&inst, 0, sizeof(inst));
	memset(&u, 0, sizeof(u));
	code = o.server ? server_main(&o, &inst, &u) :
	    oneshot_main(&o, &inst, &u);
	users_free(&u);
	instance_close(&inst);
	return code;
}
