/* SPDX-License-Identifier: ISC */
/*
 * deliver-msg: what one delivery does to one message, shared by the
 * one-shot command and the worker: the header fields added at the top, the
 * mbox From_ rule, folder names, and the exit codes of mailbox errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <unistd.h>

#include "deliver.h"
#include "maildir.h"

int
deliver_addr_ok(const char *s)
{
	size_t n = strlen(s);

	if (n > DELIVER_ADDR_MAX)
		return 0;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < ' ' || *s == 127 || *s == '<' || *s == '>')
			return 0;
	return 1;
}

/* Maildir++ folder name: "INBOX" is the root; else components separated by
 * '.', none empty, no '/', not starting with '.'. */
int
deliver_folder_path(const char *root, const char *mb, struct str *out)
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

int
deliver_make_folder(const char *path, struct str *err)
{
	struct str f = STR_INIT;
	int fd, code = 0;

	if (maildir_create(path, 0700) < 0 ||
	    str_appendf(&f, "%s/maildirfolder", path) < 0 ||
	    (fd = open(f.s, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		code = errno == ENOENT || errno == EACCES ? EX_CANTCREAT :
		    EX_TEMPFAIL;
		str_appendf(err, "%s: cannot create folder: %s", path,
		    strerror(errno));
	} else
		close(fd);
	str_free(&f);
	return code;
}

int
deliver_mailbox_exit(int err)
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
read_head(int fd, char *buf, size_t max)
{
	size_t n = 0;

	while (n < max) {
		ssize_t r = read(fd, buf + n, max - n);

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
		if (!deliver_addr_ok(sender->s) ||
		    strcmp(sender->s, "MAILER-DAEMON") == 0)
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

/* The sysexits code and text of a failed write into the message. */
static int
write_err(int e, struct str *err)
{
	if (e == EFBIG) {
		str_appends(err, "message larger than message_size_limit");
		return EX_DATAERR;
	}
	str_appendf(err, "writing the message: %s", strerror(e));
	return EX_TEMPFAIL;
}

/* The added header fields, then what was read so far. */
static int
copy_head(struct mailbox_msg *m, int wire, const char *address,
    const char *sender_opt, const char *buf, size_t n)
{
	struct str sender = STR_INIT, hdr = STR_INIT;
	const char *eol = wire ? "\r\n" : "\n";
	size_t skip;
	int rc, saved;

	if (sender_opt != NULL)
		str_appends(&sender, sender_opt);
	skip = wire ? 0 : skip_from_line(buf, n, &sender);
	if (sender_opt != NULL || sender.len > 0)
		str_appendf(&hdr, "Return-Path: <%s>%s",
		    sender.s ? sender.s : "", eol);
	if (!has_delivered_to(buf + skip, n - skip, address))
		str_appendf(&hdr, "Delivered-To: %s%s", address, eol);
	rc = mailbox_msg_write(m, hdr.s, hdr.len) < 0 ||
	    mailbox_msg_write(m, buf + skip, n - skip) < 0 ? -1 : 0;
	saved = errno;
	str_free(&sender);
	str_free(&hdr);
	errno = saved;
	return rc;
}

int
deliver_copy(struct mailbox_msg *m, int fd, int wire, const char *address,
    const char *sender, char *buf, struct str *err)
{
	ssize_t got = read_head(fd, buf, DELIVER_BUF);

	if (got < 0 || copy_head(m, wire, address, sender, buf,
	    (size_t)got) < 0)
		return write_err(errno, err);
	for (;;) {
		ssize_t r = read(fd, buf, DELIVER_BUF);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || (r > 0 && mailbox_msg_write(m, buf,
		    (size_t)r) < 0))
			return write_err(errno, err);
		if (r == 0)
			return 0;
	}
}
