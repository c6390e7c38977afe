/* SPDX-License-Identifier: ISC */
/*
 * zest dump: show a mailbox's index as text, one line for the header and
 * one per message, after a sync (so it is also a way to make the index pick
 * up files other programs put in the Maildir).
 *   zest [-C DIR] dump [-n] USER[/FOLDER] | -p MAILDIR
 * -n: do not sync first.  A record whose file does not exist is reported
 * as "missing" and makes the exit status 1.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mailbox.h"
#include "maildir.h"
#include "priv.h"
#include "users.h"
#include "zest.h"

static void
dump_flags(unsigned f, const struct mbmeta *meta, uint64_t kw)
{
	static const struct { unsigned bit; const char *name; } names[] = {
		{ MAIL_SEEN, "\\Seen" }, { MAIL_ANSWERED, "\\Answered" },
		{ MAIL_FLAGGED, "\\Flagged" }, { MAIL_DELETED, "\\Deleted" },
		{ MAIL_DRAFT, "\\Draft" }, { MAIL_PASSED, "$Forwarded" },
	};
	const char *sep = "";
	size_t i;

	putchar('(');
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (f & names[i].bit) {
			printf("%s%s", sep, names[i].name);
			sep = " ";
		}
	for (i = 0; i < meta->nkeywords; i++)
		if (kw & ((uint64_t)1 << i)) {
			printf("%s%s", sep, meta->keywords[i]);
			sep = " ";
		}
	putchar(')');
}

static int
dump_mailbox(const char *dir, int sync, unsigned timeout)
{
	struct mailbox *mb = NULL;
	struct str err = STR_INIT, name = STR_INIT, path = STR_INIT;
	const struct index_header *h;
	uint32_t seq;
	int rc = ZEST_OK;

	if (mailbox_open(dir, 0, timeout, &mb, &err) < 0 ||
	    (sync && mailbox_sync(mb, &err) < 0)) {
		zest_err("%s", err.s);
		mailbox_close(&mb);
		str_free(&err);
		return ZEST_FAIL;
	}
	if (mailbox_check(mb) < 0 && mailbox_rebuild(mb, &err) < 0) {
		zest_err("%s", err.s);
		mailbox_close(&mb);
		str_free(&err);
		return ZEST_FAIL;
	}
	h = mailbox_header(mb);
	printf("mailbox %s uidvalidity %" PRIu32 " uidnext %" PRIu32
	    " count %" PRIu32 " exists %" PRIu32 " unseen %" PRIu32
	    " deleted %" PRIu32 " highestmodseq %" PRIu64 " size %" PRIu64 "\n",
	    dir, h->uidvalidity, h->uidnext, h->count, h->exists, h->unseen,
	    h->deleted, h->highestmodseq, h->total_size);
	for (seq = 0; seq < h->count; seq++) {
		struct index_record r;
		struct stat st;

		if (mailbox_record(mb, seq, &r) < 0) {
			zest_err("%s: record %" PRIu32 ": %s", dir, seq,
			    strerror(errno));
			rc = ZEST_FAIL;
			continue;
		}
		if (r.flags & REC_EXPUNGED)
			continue;
		if (mailbox_file_name(mb, &r, &name) < 0) {
			zest_err("%s: uid %" PRIu32 ": no file name", dir, r.uid);
			rc = ZEST_FAIL;
			continue;
		}
		str_clear(&path);
		str_appendf(&path, "%s/%s", dir, name.s);
		printf("uid %" PRIu32 " size %" PRIu64 " modseq %" PRIu64
		    " date %lld flags ", r.uid, r.size, r.modseq,
		    (long long)r.internal_date);
		dump_flags(r.flags, mailbox_meta(mb), r.keywords);
		printf(" %s %s%s\n", r.flags & REC_RAW ? "raw" : "text", name.s,
		    stat(path.s, &st) < 0 ? " missing" : "");
		if (stat(path.s, &st) < 0)
			rc = ZEST_FAIL;
	}
	mailbox_close(&mb);
	str_free(&err);
	str_free(&name);
	str_free(&path);
	return rc;
}

int
cmd_dump(struct instance *inst, int argc, char **argv)
{
	const char *usage = "[-C dir] dump [-n] USER[/FOLDER] | -p MAILDIR";
	struct str dir = STR_INIT, err = STR_INIT;
	struct user u;
	int i = 1, sync = 1, rc, r;
	char *slash;

	if (i < argc && strcmp(argv[i], "-n") == 0) {
		sync = 0;
		i++;
	}
	if (argc - i == 2 && strcmp(argv[i], "-p") == 0)
		return dump_mailbox(argv[i + 1], sync,
		    inst ? inst->lock_timeout : 30);
	if (argc - i != 1 || inst == NULL)
		return zest_usage(usage);
	slash = strchr(argv[i], '/');
	if (slash != NULL)
		*slash = '\0';
	r = users_lookup(inst, argv[i], &u, &err);
	if (r <= 0) {
		zest_err("%s: %s", argv[i], r < 0 ? err.s : "no such user");
		str_free(&err);
		return ZEST_FAIL;
	}
	if (slash == NULL || strcasecmp(slash + 1, "INBOX") == 0)
		str_appends(&dir, u.maildir);
	else
		str_appendf(&dir, "%s/.%s", u.maildir, slash + 1);
	/* as root, read the mailbox as its owner */
	if (geteuid() == 0 && priv_drop(u.uid, u.gid, NULL) < 0) {
		zest_err("cannot become uid %ld: %s", (long)u.uid,
		    strerror(errno));
		rc = ZEST_FAIL;
	} else
		rc = dump_mailbox(dir.s, sync, inst->lock_timeout);
	users_free(&u);
	str_free(&dir);
	str_free(&err);
	return rc;
}
