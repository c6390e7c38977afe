/* SPDX-License-Identifier: ISC */
/*
 * deliver: local delivery of one message on standard input into a user's
 * Maildir and its Zest index, mail.local style, with sysexits(3) codes.
 * Run as root it looks the user up and becomes that user before it touches
 * the mailbox.  See deliver(8).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "instance.h"
#include "log.h"
#include "mailbox.h"
#include "maildir.h"
#include "priv.h"
#include "str.h"
#include "users.h"

#define DELIVER_BUF 65536
#define DELIVER_ADDR_MAX 998

struct opts {
	const char *conf_dir;
	const char *user;
	const char *mailbox;
	const char *sender;
	const char *address;
	const char *flags;
	int wire;
};

static void
usage(void)
{
	fprintf(stderr, "usage: deliver [-C dir] [-d user] [-m mailbox] "
	    "[-f sender] [-a address] [-F flags] [-w]\n");
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

/* An address that may go into a header: printable, no CR/LF, bounded. */
static int
addr_ok(const char *s)
{
	size_t n = strlen(s);

	if (n > DELIVER_ADDR_MAX)
		return 0;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < ' ' || *s == 127 || *s == '<' || *s == '>')
			return 0;
	return 1;
}

static void
parse_args(int argc, char **argv, struct opts *o)
{
	int c;

	memset(o, 0, sizeof(*o));
	while ((c = getopt(argc, argv, "C:d:m:f:a:F:w")) != -1) {
		switch (c) {
		case 'C': o->conf_dir = optarg; break;
		case 'd': o->user = optarg; break;
		case 'm': o->mailbox = optarg; break;
		case 'f': o->sender = optarg; break;
		case 'a': o->address = optarg; break;
		case 'F': o->flags = optarg; break;
		case 'w': o->wire = 1; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	if (o->sender == NULL)
		o->sender = getenv("SENDER");
	if (o->sender != NULL && !addr_ok(o->sender))
		die(EX_USAGE, "bad sender address");
	if (o->address != NULL && !addr_ok(o->address))
		die(EX_USAGE, "bad recipient address");
}

/* Maildir++ folder name: "INBOX" is the root; else components separated by
 * '.', none empty, no '/', not starting with '.'. */
static int
folder_path(const char *root, const char *mb, struct str *out)
{
	const char *p;

	str_clear(out);
	if (mb == NULL || strcasecmp(mb, "INBOX") == 0)
		return str_appends(out, root);
	if (*mb == '\0' || *mb == '.' || mb[strlen(mb) - 1] == '.' ||
	    strstr(mb, "..") != NULL || strlen(mb) > 255)
		return -1;
	for (p = mb; *p != '\0'; p++)
		if (*p == '/' || (unsigned char)*p < ' ' || *p == 127)
			return -1;
	return str_appendf(out, "%s/.%s", root, mb);
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

/* A Maildir++ folder is a Maildir with a "maildirfolder" file in it. */
static void
make_folder(const char *path)
{
	struct str f = STR_INIT;
	int fd;

	if (maildir_create(path, 0700) < 0 ||
	    str_appendf(&f, "%s/maildirfolder", path) < 0 ||
	    (fd = open(f.s, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) < 0)
		die(errno == ENOENT || errno == EACCES ? EX_CANTCREAT :
		    EX_TEMPFAIL, "%s: cannot create folder: %s", path,
		    strerror(errno));
	close(fd);
	str_free(&f);
}

static int
mailbox_exit(int err)
{
	switch (err) {
	case ENOENT: case EACCES: case EPERM: case ENOTDIR: case EROFS:
		return EX_CANTCREAT;
	default:
		return EX_TEMPFAIL;
	}
}

/* Read the start of the message: at least its first line, when there is
 * one within the first kilobyte. */
static ssize_t
read_head(char *buf, size_t max)
{
	size_t n = 0;

	while (n < max) {
		ssize_t r = read(0, buf + n, max - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		n += (size_t)r;
		if (n >= 1024 || memchr(buf, '\n', n) != NULL)
			break;
	}
	return (ssize_t)n;
}

/* A leading mbox "From sender date" line is dropped; its sender is used
 * when none was given.  Returns how many bytes to skip. */
static size_t
skip_from_line(const char *buf, size_t n, struct str *sender)
{
	const char *nl;

	if (n < 5 || memcmp(buf, "From ", 5) != 0 ||
	    (nl = memchr(buf, '\n', n)) == NULL)
		return 0;
	if (sender->len == 0) {
		const char *s = buf + 5, *e = s;

		while (e < nl && *e != ' ' && *e != '\r')
			e++;
		str_append(sender, s, (size_t)(e - s));
		if (!addr_ok(sender->s) || strcmp(sender->s, "MAILER-DAEMON") == 0)
			str_clear(sender);
	}
	return (size_t)(nl - buf) + 1;
}

/* Does the message already start with this very Delivered-To (an MTA such
 * as Postfix's local(8) adds one before calling us)? */
static int
has_delivered_to(const char *buf, size_t n, const char *addr)
{
	size_t al = strlen(addr);

	return n > 14 + al && strncasecmp(buf, "Delivered-To: ", 14) == 0 &&
	    strncasecmp(buf + 14, addr, al) == 0 &&
	    (buf[14 + al] == '\n' || buf[14 + al] == '\r');
}

/* Drop the half-written message, then report and exit. */
static void __attribute__((noreturn))
write_err_exit(struct mailbox_msg **m, int err)
{
	mailbox_msg_abort(m);
	if (err == EFBIG)
		die(EX_DATAERR, "message larger than message_size_limit");
	die(EX_TEMPFAIL, "writing the message: %s", strerror(err));
}

static void
deliver_stream(struct mailbox_msg **mp, const struct opts *o,
    const char *address, const char *sender_opt)
{
	static char buf[DELIVER_BUF];
	struct str sender = STR_INIT, hdr = STR_INIT;
	const char *eol = o->wire ? "\r\n" : "\n";
	ssize_t got = read_head(buf, sizeof(buf));
	size_t n, skip;

	if (got < 0)
		write_err_exit(mp, errno);
	n = (size_t)got;

	if (sender_opt != NULL)
		str_appends(&sender, sender_opt);
	skip = o->wire ? 0 : skip_from_line(buf, n, &sender);
	if (sender_opt != NULL || sender.len > 0)
		str_appendf(&hdr, "Return-Path: <%s>%s", sender.s ? sender.s : "",
		    eol);
	if (!has_delivered_to(buf + skip, n - skip, address))
		str_appendf(&hdr, "Delivered-To: %s%s", address, eol);
	if (mailbox_msg_write(*mp, hdr.s, hdr.len) < 0 ||
	    mailbox_msg_write(*mp, buf + skip, n - skip) < 0)
		write_err_exit(mp, errno);
	str_free(&sender);
	str_free(&hdr);
	for (;;) {
		ssize_t r = read(0, buf, sizeof(buf));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			write_err_exit(mp, errno);
		if (r == 0)
			break;
		if (mailbox_msg_write(*mp, buf, (size_t)r) < 0)
			write_err_exit(mp, errno);
	}
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct instance inst;
	struct user u;
	struct str err = STR_INIT, dir = STR_INIT, address = STR_INIT;
	struct mailbox *mb = NULL;
	struct mailbox_msg *m = NULL;
	unsigned flags;
	uint32_t uid;
	char sid[16];
	int r;

	parse_args(argc, argv, &o);
	log_open("deliver", 0);
	log_new_session_id(sid, sizeof(sid));
	log_set_session(sid);
	if (instance_open(o.conf_dir, &inst, &err) < 0)
		die(EX_TEMPFAIL, "configuration: %s", err.s);
	if (inst.log_stderr)
		log_open("deliver", 1);
	if (o.user == NULL)
		o.user = default_user();
	r = users_lookup(&inst, o.user, &u, &err);
	if (r < 0)
		die(EX_TEMPFAIL, "user table: %s", err.s);
	if (r == 0)
		die(EX_NOUSER, "%s: no such user", o.user);
	if (geteuid() == 0 && priv_drop(u.uid, u.gid, NULL) < 0)
		die(EX_TEMPFAIL, "cannot become uid %ld: %s", (long)u.uid,
		    strerror(errno));
	if (o.address != NULL)
		str_appends(&address, o.address);
	else
		str_appendf(&address, "%s@%s", u.name, inst.domain);
	if (folder_path(u.maildir, o.mailbox, &dir) < 0)
		die(EX_USAGE, "bad mailbox name");
	if (o.mailbox != NULL && !maildir_exists(dir.s))
		make_folder(dir.s);
	if (mailbox_open(dir.s, MBOX_CREATE, inst.lock_timeout, &mb, &err) < 0)
		die(mailbox_exit(errno), "%s", err.s);
	if (mailbox_msg_begin(mb, o.wire, &m, &err) < 0)
		die(mailbox_exit(errno), "%s", err.s);
	mailbox_msg_limit(m, inst.message_size_limit);
	deliver_stream(&m, &o, address.s, o.sender);
	flags = o.flags != NULL ? parse_flags(o.flags) : 0;
	if (mailbox_msg_commit(&m, flags, 0, time(NULL), o.flags != NULL, &uid,
	    &err) < 0)
		die(EX_TEMPFAIL, "%s", err.s);
	log_info("delivered to %s mailbox %s uid %u", u.name,
	    o.mailbox ? o.mailbox : "INBOX", uid);
	mailbox_close(&mb);
	users_free(&u);
	instance_close(&inst);
	str_free(&err);
	str_free(&dir);
	str_free(&address);
	return EX_OK;
}
