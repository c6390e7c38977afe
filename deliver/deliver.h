/* SPDX-License-Identifier: ISC */
#ifndef ZEST_DELIVER_H
#define ZEST_DELIVER_H

/*
 * deliver's parts: the per-message work both modes share (deliver-msg.c),
 * the one-shot command (deliver.c) and the long-lived worker the spawner
 * runs (deliver-server.c, `deliver -S`).  See deliver(8).
 */

#include <stddef.h>

#include "instance.h"
#include "mailbox.h"
#include "str.h"
#include "users.h"

#define DELIVER_BUF 65536	/* bytes read from the message at a time */
#define DELIVER_ADDR_MAX 998	/* an address that goes into a header */

/* An address that may go into a header: printable, no CR/LF, no <>,
 * bounded.  1 or 0. */
int deliver_addr_ok(const char *s);

/* The Maildir of mailbox mb (NULL or "INBOX": root itself; else a
 * Maildir++ folder name) into out.  -1 when the name is refused. */
int deliver_folder_path(const char *root, const char *mb, struct str *out);

/* Create the Maildir++ folder at path (a Maildir with a "maildirfolder"
 * file).  0, or a sysexits code with the reason in err. */
int deliver_make_folder(const char *path, struct str *err);

/* The sysexits code for a mailbox that could not be opened with errno
 * err: permissions and missing paths are permanent, the rest temporary. */
int deliver_mailbox_exit(int err);

/* Copy the message on fd into m: Return-Path (when sender is not NULL or
 * an mbox From_ line names one) and Delivered-To (unless the message
 * already starts with this one) first; without wire, a leading From_ line
 * is dropped.  buf is scratch space of DELIVER_BUF bytes.  0, or a
 * sysexits code with the reason in err; m is then to be aborted. */
int deliver_copy(struct mailbox_msg *m, int fd, int wire, const char *address,
    const char *sender, char *buf, struct str *err);

/* Serve jobs on the SOCK_SEQPACKET socket sock for user u until it
 * closes, as deliver(8) describes under -S.  Returns an exit status. */
int deliver_serve(const struct instance *inst, const struct user *u,
    int wire, int sock);

#endif
