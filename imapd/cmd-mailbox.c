/* SPDX-License-Identifier: ISC */
/*
 * imapd: commands on mailboxes as a whole: CREATE, DELETE, RENAME,
 * SUBSCRIBE, UNSUBSCRIBE, LIST, LSUB, STATUS, NAMESPACE.
 */
#include "imapd.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "imapquote.h"
#include "log.h"
#include "maildir.h"

int
imapd_open_named(struct imapd *s, const struct imap_str *name, int trycreate,
    struct mailbox **mb_r)
{
	struct str path = STR_INIT, err = STR_INIT;
	const char *why;
	int r;

	*mb_r = NULL;
	if (names_path(name->s, name->len, &path, &why) < 0) {
		r = imapd_no(s, "%s", why);
		str_free(&path);
		errno = EINVAL;
		return r < 0 ? -2 : -1;
	}
	if (!names_exists(path.s)) {
		r = imapd_no(s, "%sMailbox does not exist", trycreate ?
		    "[TRYCREATE] " : "[NONEXISTENT] ");
		str_free(&path);
		errno = ENOENT;
		return r < 0 ? -2 : -1;
	}
	if (mailbox_open(path.s, 0, s->inst->lock_timeout, mb_r, &err) < 0) {
		log_err("%s: %s", path.s, str_cstr(&err));
		r = imapd_no(s, "[SERVERBUG] Cannot open the mailbox");
		str_free(&path);
		str_free(&err);
		errno = EIO;
		return r < 0 ? -2 : -1;
	}
	str_free(&path);
	str_free(&err);
	return 0;
}

/* A mailbox argument and its path; answers errors.  1 ok, 0 answered,
 * -1 broken. */
static int
mbox_arg(struct imapd *s, struct imap_str *name, struct str *path)
{
	const char *why;

	if (imap_arg_mailbox(s->p, name) < 0)
		return imapd_parse_error(s) < 0 ? -1 : 0;
	if (names_path(name->s, name->len, path, &why) < 0)
		return imapd_no(s, "%s", why) < 0 ? -1 : 0;
	return 1;
}

int
cmd_create(struct imapd *s)
{
	struct imap_str name;
	struct str path = STR_INIT;
	const char *why;
	char *nm = NULL;
	int r;

	if (imap_arg_mailbox(s->p, &name) < 0)
		return imapd_parse_error(s);
	if ((r = imapd_eol(s)) <= 0)
		return r;
	/* RFC 3501 6.3.3: a trailing delimiter only declares a parent */
	if ((nm = strndup(name.s, name.len)) == NULL)
		return -1;
	if (name.len > 1 && nm[name.len - 1] == '.')
		nm[name.len - 1] = '\0';
	if (names_is_inbox(nm))
		r = imapd_tagged(s, "NO [ALREADYEXISTS] INBOX always exists");
	else if (names_path(nm, strlen(nm), &path, &why) < 0)
		r = imapd_tagged(s, "NO %s", why);
	else if (names_exists(path.s))
		r = imapd_tagged(s, "NO [ALREADYEXISTS] Mailbox exists");
	else if (maildir_create(path.s, 0700) < 0 || fs_fsync_dir(".") < 0) {
		log_err("create %s: %s", path.s, strerror(errno));
		r = imapd_tagged(s, "NO [%s] Cannot create the mailbox",
		    errno == ENOSPC || errno == EDQUOT ? "OVERQUOTA" :
		    "SERVERBUG");
	} else
		r = imapd_tagged(s, "OK CREATE completed");
	free(nm);
	str_free(&path);
	return r;
}

/* Remove a Maildir that has been renamed out of the way. */
static void
mbox_remove_tree(const char *dir)
{
	static const char *const subs[] = { "tmp", "new", "cur", NULL };
	struct str p = STR_INIT;
	struct dirent *e;
	DIR *d;
	size_t i;

	for (i = 0; subs[i] != NULL; i++) {
		str_clear(&p);
		str_appendf(&p, "%s/%s", dir, subs[i]);
		if ((d = opendir(p.s)) != NULL) {
			while ((e = readdir(d)) != NULL) {
				if (e->d_name[0] == '.')
					continue;
				str_clear(&p);
				str_appendf(&p, "%s/%s/%s", dir, subs[i],
				    e->d_name);
				unlink(p.s);
			}
			closedir(d);
		}
		str_clear(&p);
		str_appendf(&p, "%s/%s", dir, subs[i]);
		rmdir(p.s);
	}
	if ((d = opendir(dir)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 ||
			    strcmp(e->d_name, "..") == 0)
				continue;
			str_clear(&p);
			str_appendf(&p, "%s/%s", dir, e->d_name);
			unlink(p.s);
		}
		closedir(d);
	}
	if (rmdir(dir) < 0)
		log_warn("removing %s: %s", dir, strerror(errno));
	str_free(&p);
}

int
cmd_delete(struct imapd *s)
{
	struct imap_str name;
	struct str path = STR_INIT, gone = STR_INIT;
	int r;

	if ((r = mbox_arg(s, &name, &path)) <= 0)
		goto out;
	if ((r = imapd_eol(s)) <= 0)
		goto out;
	if (names_is_inbox(name.s)) {
		r = imapd_tagged(s, "NO INBOX cannot be deleted");
		goto out;
	}
	if (!names_exists(path.s)) {
		r = imapd_tagged(s, "NO [NONEXISTENT] Mailbox does not exist");
		goto out;
	}
	if (s->selpath != NULL && strcmp(s->selpath, path.s) == 0)
		view_close(s);
	/* out of the way in one rename, so that no client ever sees a
	 * half-deleted mailbox; then the files */
	str_appendf(&gone, ".#deleted.%lld.%d", (long long)time(NULL),
	    (int)getpid());
	if (rename(path.s, gone.s) < 0 || fs_fsync_dir(".") < 0) {
		log_err("delete %s: %s", path.s, strerror(errno));
		r = imapd_tagged(s, "NO [SERVERBUG] Cannot delete the mailbox");
		goto out;
	}
	mbox_remove_tree(gone.s);
	r = imapd_tagged(s, "OK DELETE completed");
out:
	str_free(&path);
	str_free(&gone);
	return r;
}

/* RENAME INBOX: its messages move to a new mailbox, INBOX stays. */
static int
mbox_rename_inbox(struct imapd *s, const char *to)
{
	struct mailbox *src = NULL, *dst = NULL;
	struct mailbox_uids u = { NULL, 0, 0 };
	struct index_record rec;
	struct str err = STR_INIT;
	uint32_t *dst_uids = NULL, i;
	int r = -1;

	if (maildir_create(to, 0700) < 0 || fs_fsync_dir(".") < 0 ||
	    mailbox_open(".", 0, s->inst->lock_timeout, &src, &err) < 0 ||
	    mailbox_open(to, 0, s->inst->lock_timeout, &dst, &err) < 0 ||
	    mailbox_sync(src, &err) < 0)
		goto out;
	for (i = 0; i < mailbox_header(src)->count; i++) {
		if (mailbox_record(src, i, &rec) < 0)
			goto out;
		if (!(rec.flags & REC_EXPUNGED) &&
		    mailbox_uids_add(&u, rec.uid) < 0)
			goto out;
	}
	if (u.n > 0) {
		if ((dst_uids = calloc(u.n, sizeof *dst_uids)) == NULL ||
		    mailbox_copy(src, u.v, u.n, dst, dst_uids, &err) < 0 ||
		    mailbox_expunge(src, u.v, u.n, &err) < 0)
			goto out;
	}
	r = 0;
out:
	if (r < 0)
		log_err("rename INBOX: %s", err.len ? err.s : strerror(errno));
	mailbox_close(&src);
	mailbox_close(&dst);
	mailbox_uids_free(&u);
	free(dst_uids);
	str_free(&err);
	return r;
}

/* Rename the folder and every folder below it. */
static int
mbox_rename_tree(const char *from, const char *to)
{
	struct str all = STR_INIT, a = STR_INIT, b = STR_INIT;
	size_t n, i, flen = strlen(from) - 1;
	const char *p;
	int r = -1;

	if (names_list_all(&all, &n) < 0)
		goto out;
	for (i = 0, p = all.s; i < n; i++, p += strlen(p) + 1) {
		/* from is ".NAME": children are "NAME.x" */
		if (strncmp(p, from + 1, flen) != 0 || p[flen] != '.')
			continue;
		str_clear(&a);
		str_clear(&b);
		if (str_appendf(&a, ".%s", p) < 0 ||
		    str_appendf(&b, "%s%s", to, p + flen) < 0)
			goto out;
		if (rename(a.s, b.s) < 0)
			goto out;
	}
	if (maildir_exists(from) && rename(from, to) < 0)
		goto out;
	r = fs_fsync_dir(".");
out:
	str_free(&all);
	str_free(&a);
	str_free(&b);
	return r;
}

int
cmd_rename(struct imapd *s)
{
	struct imap_str from, to;
	struct str pf = STR_INIT, pt = STR_INIT;
	char *fromname = NULL;
	int r;

	if ((r = mbox_arg(s, &from, &pf)) <= 0)
		goto out;
	if ((fromname = strdup(from.s)) == NULL) {
		r = -1;
		goto out;
	}
	if ((r = mbox_arg(s, &to, &pt)) <= 0)
		goto out;
	if ((r = imapd_eol(s)) <= 0)
		goto out;
	if (names_is_inbox(to.s))
		r = imapd_tagged(s, "NO [ALREADYEXISTS] INBOX exists");
	else if (names_exists(pt.s))
		r = imapd_tagged(s, "NO [ALREADYEXISTS] Mailbox exists");
	else if (!names_is_inbox(fromname) && !names_exists(pf.s))
		r = imapd_tagged(s, "NO [NONEXISTENT] Mailbox does not exist");
	else if (names_is_inbox(fromname)) {
		if (mbox_rename_inbox(s, pt.s) < 0)
			r = imapd_tagged(s, "NO [SERVERBUG] Cannot move the "
			    "INBOX messages");
		else if (s->mb != NULL && strcmp(s->selpath, ".") == 0 &&
		    view_update(s, 1) < 0)
			r = -1;
		else
			r = imapd_tagged(s, "OK RENAME completed");
	} else {
		if (s->selpath != NULL && strcmp(s->selpath, pf.s) == 0)
			view_close(s);
		if (mbox_rename_tree(pf.s, pt.s) < 0) {
			log_err("rename %s: %s", pf.s, strerror(errno));
			r = imapd_tagged(s, "NO [SERVERBUG] Cannot rename");
		} else
			r = imapd_tagged(s, "OK RENAME completed");
	}
out:
	free(fromname);
	str_free(&pf);
	str_free(&pt);
	return r;
}

static int
mbox_subscription(struct imapd *s, int add)
{
	struct imap_str name;
	struct str path = STR_INIT;
	int r;

	if ((r = mbox_arg(s, &name, &path)) <= 0)
		goto out;
	if ((r = imapd_eol(s)) <= 0)
		goto out;
	if (add && !names_exists(path.s))
		r = imapd_tagged(s, "NO [NONEXISTENT] Mailbox does not exist");
	else if (names_subs_change(names_is_inbox(name.s) ? "INBOX" : name.s,
	    add) < 0)
		r = imapd_tagged(s, "NO [SERVERBUG] Cannot save the "
		    "subscriptions: %s", strerror(errno));
	else
		r = imapd_tagged(s, "OK %s completed", s->cmd.name);
out:
	str_free(&path);
	return r;
}

int
cmd_subscribe(struct imapd *s)
{
	return mbox_subscription(s, 1);
}

int
cmd_unsubscribe(struct imapd *s)
{
	return mbox_subscription(s, 0);
}

/* Whether list (n NUL-separated names) holds name; or a child of it. */
static int
mbox_in(const struct str *list, size_t n, const char *name, int child)
{
	size_t i, len = strlen(name);
	const char *p;

	for (i = 0, p = list->s; i < n; i++, p += strlen(p) + 1) {
		if (!child && strcmp(p, name) == 0)
			return 1;
		if (child && strncmp(p, name, len) == 0 && p[len] == '.')
			return 1;
	}
	return 0;
}

/* Match a candidate: INBOX compares without regard to case. */
static int
mbox_match(const char *pat, const char *name)
{
	char up[IMAP_NAME_BYTES * 2 + 8];
	size_t i;

	if (names_match(pat, name))
		return 1;
	if (strncasecmp(pat, "INBOX", 5) != 0 || strlen(pat) >= sizeof up ||
	    strcmp(name, "INBOX") != 0)
		return 0;
	for (i = 0; pat[i] != '\0'; i++)
		up[i] = i < 5 ? (char)(pat[i] & ~0x20) : pat[i];
	up[i] = '\0';
	return names_match(up, name);
}

/* One LIST/LSUB line. */
static int
mbox_list_line(struct imapd *s, const char *what, const char *name,
    const char *attrs)
{
	str_clear(&s->out);
	if (imapquote_mailbox(&s->out, name, strlen(name), 0) < 0)
		return -1;
	return imapd_untagged(s, "%s (%s) \".\" %s", what, attrs, s->out.s);
}

/* The candidates: every name of base, plus the parents that do not
 * exist themselves (\Noselect). */
static int
mbox_candidates(const struct str *base, size_t n, struct str *cand,
    size_t *nc_r, struct str *virt, size_t *nv_r)
{
	size_t i, k;
	const char *p;
	char *dup;

	*nc_r = *nv_r = 0;
	for (i = 0, p = base->s; i < n; i++, p += strlen(p) + 1) {
		if (str_append(cand, p, strlen(p) + 1) < 0)
			return -1;
		(*nc_r)++;
		if ((dup = strdup(p)) == NULL)
			return -1;
		for (k = strlen(dup); k-- > 0;) {
			if (dup[k] != '.')
				continue;
			dup[k] = '\0';
			if (!mbox_in(base, n, dup, 0) &&
			    !mbox_in(virt, *nv_r, dup, 0)) {
				if (str_append(virt, dup, k + 1) < 0) {
					free(dup);
					return -1;
				}
				(*nv_r)++;
			}
		}
		free(dup);
	}
	return 0;
}

/* What LIST and LSUB work from. */
struct listing {
	int lsub;
	struct str all;		/* INBOX and every folder */
	size_t n;
	struct str subs;	/* subscribed names */
	size_t ns;
	struct str attrs;
};

/* One LIST/LSUB line for name p; virt: a parent that does not exist. */
static int
mbox_list_one(struct imapd *s, struct listing *l, const char *p, int virt)
{
	const char *su;
	int sel = !virt && (!l->lsub || mbox_in(&l->all, l->n, p, 0));

	str_clear(&l->attrs);
	if (!sel)
		str_appends(&l->attrs, "\\Noselect ");
	/* RFC 3348 CHILDREN; LSUB says it only for the \Noselect ones */
	if (!l->lsub || !sel)
		str_appends(&l->attrs, mbox_in(&l->all, l->n, p, 1) ?
		    "\\HasChildren " : "\\HasNoChildren ");
	if (sel && (su = names_special_use(p)) != NULL)
		str_appendf(&l->attrs, "%s ", su);
	if (l->attrs.len > 0)
		str_truncate(&l->attrs, l->attrs.len - 1);
	return mbox_list_line(s, l->lsub ? "LSUB" : "LIST", p,
	    str_cstr(&l->attrs));
}

/* Every candidate matching the pattern full. */
static int
mbox_list_all(struct imapd *s, struct listing *l, const char *full)
{
	struct str cand = STR_INIT, virt = STR_INIT;
	size_t nc, nv, i;
	const char *p;
	int r = -1;

	if (mbox_candidates(l->lsub ? &l->subs : &l->all, l->lsub ? l->ns :
	    l->n, &cand, &nc, &virt, &nv) < 0)
		goto out;
	for (i = 0, p = cand.s; i < nc; i++, p += strlen(p) + 1)
		if (mbox_match(full, p) && mbox_list_one(s, l, p, 0) < 0)
			goto out;
	/* LSUB shows a parent that is not subscribed only where '%' stops
	 * at it (RFC 3501 6.3.9) */
	for (i = 0, p = virt.s; i < nv && (!l->lsub || strchr(full, '%'));
	    i++, p += strlen(p) + 1)
		if (mbox_match(full, p) && mbox_list_one(s, l, p, 1) < 0)
			goto out;
	r = 0;
out:
	str_free(&cand);
	str_free(&virt);
	return r;
}

/* LIST and LSUB. */
static int
mbox_listing(struct imapd *s, int lsub)
{
	struct imap_str ref, pat;
	struct listing l;
	struct str full = STR_INIT, rest = STR_INIT;
	int r;

	if (imap_arg_mailbox(s->p, &ref) < 0 ||
	    imap_arg_list_mailbox(s->p, &pat) < 0)
		return imapd_parse_error(s);
	if ((r = imapd_eol(s)) <= 0)
		return r;
	if (pat.len == 0) {
		/* RFC 3501 6.3.8: the delimiter and the root */
		if (!lsub && imapd_untagged(s, "LIST (\\Noselect) \".\" \"\"")
		    < 0)
			return -1;
		return imapd_tagged(s, "OK %s completed", s->cmd.name);
	}
	memset(&l, 0, sizeof l);
	l.lsub = lsub;
	r = -1;
	if (str_append(&full, ref.s, ref.len) < 0 ||
	    str_append(&full, pat.s, pat.len) < 0 ||
	    str_append(&l.all, "INBOX", 6) < 0 ||
	    names_list_all(&rest, &l.n) < 0 ||
	    names_subs_load(&l.subs, &l.ns) < 0 ||
	    (rest.len > 0 && str_append(&l.all, rest.s, rest.len) < 0))
		goto out;
	l.n++;
	if (mbox_list_all(s, &l, full.s) == 0)
		r = imapd_tagged(s, "OK %s completed", s->cmd.name);
out:
	str_free(&l.all);
	str_free(&l.subs);
	str_free(&l.attrs);
	str_free(&full);
	str_free(&rest);
	return r;
}

int
cmd_list(struct imapd *s)
{
	return mbox_listing(s, 0);
}

int
cmd_lsub(struct imapd *s)
{
	return mbox_listing(s, 1);
}

/* \Recent messages by the header: the UIDs from first_recent_uid on,
 * counted from the end of the index (they are the last records). */
static uint32_t
mbox_recent(struct mailbox *mb)
{
	const struct index_header *h = mailbox_header(mb);
	struct index_record r;
	uint32_t i, n = 0;

	for (i = h->count; i-- > 0;) {
		if (mailbox_record(mb, i, &r) < 0 ||
		    r.uid < h->first_recent_uid)
			break;
		n += !(r.flags & REC_EXPUNGED);
	}
	return n;
}

#define ST_MESSAGES 0x01u
#define ST_RECENT 0x02u
#define ST_UIDNEXT 0x04u
#define ST_UIDVALIDITY 0x08u
#define ST_UNSEEN 0x10u
#define ST_HIGHESTMODSEQ 0x20u

static const struct {
	const char *name;
	unsigned bit;
} mbox_status_items[] = {
	{ "MESSAGES", ST_MESSAGES }, { "RECENT", ST_RECENT },
	{ "UIDNEXT", ST_UIDNEXT }, { "UIDVALIDITY", ST_UIDVALIDITY },
	{ "UNSEEN", ST_UNSEEN }, { "HIGHESTMODSEQ", ST_HIGHESTMODSEQ },
	{ NULL, 0 }
};

/* The item list "(MESSAGES UNSEEN ...)" in the order given.  0, -1
 * parser error, -2 unknown item, -3 empty. */
static int
status_items(struct imapd *s, unsigned *order, size_t *no_r)
{
	struct imap_str item;
	unsigned want = 0, i;

	*no_r = 0;
	if (imap_arg_list_begin(s->p) < 0)
		return -1;
	while (imap_arg_peek(s->p) == IMAP_TOK_ATOM) {
		if (imap_arg_atom(s->p, &item) < 0)
			return -1;
		for (i = 0; mbox_status_items[i].name != NULL; i++)
			if (strcasecmp(item.s, mbox_status_items[i].name) == 0)
				break;
		if (mbox_status_items[i].name == NULL)
			return -2;
		if (!(want & mbox_status_items[i].bit))
			order[(*no_r)++] = mbox_status_items[i].bit;
		want |= mbox_status_items[i].bit;
	}
	if (imap_arg_list_end(s->p) < 0)
		return -1;
	return want == 0 ? -3 : 0;
}

/* "NAME (ITEM n ...)" into s->out, from the header of mb. */
static int
status_format(struct imapd *s, struct mailbox *mb, const char *name,
    size_t len, const unsigned *order, size_t no)
{
	const struct index_header *h = mailbox_header(mb);
	struct str *o = &s->out;
	size_t k;
	int r;

	str_clear(o);
	r = imapquote_mailbox(o, name, len, 0);
	for (k = 0; k < no && r == 0; k++) {
		r = str_appends(o, k == 0 ? " (" : " ");
		if (r < 0)
			break;
		switch (order[k]) {
		case ST_MESSAGES:
			r = str_appendf(o, "MESSAGES %u", h->exists);
			break;
		case ST_RECENT:
			r = str_appendf(o, "RECENT %u", mbox_recent(mb));
			break;
		case ST_UIDNEXT:
			r = str_appendf(o, "UIDNEXT %u", h->uidnext);
			break;
		case ST_UIDVALIDITY:
			r = str_appendf(o, "UIDVALIDITY %u", h->uidvalidity);
			break;
		case ST_UNSEEN:
			r = str_appendf(o, "UNSEEN %u", h->unseen);
			break;
		default:
			r = str_appendf(o, "HIGHESTMODSEQ %llu",
			    (unsigned long long)h->highestmodseq);
			break;
		}
	}
	return r < 0 ? -1 : str_appendc(o, ')');
}

int
cmd_status(struct imapd *s)
{
	struct imap_str name;
	struct mailbox *mb = NULL;
	struct str err = STR_INIT;
	unsigned order[8];
	size_t no;
	int r;

	if (imap_arg_mailbox(s->p, &name) < 0 ||
	    (r = status_items(s, order, &no)) == -1)
		return imapd_parse_error(s);
	if (r < 0) {
		if (imap_cmd_skip(s->p) < 0)
			return imapd_parse_error(s);
		return imapd_bad(s, r == -2 ? "Unknown STATUS item" :
		    "STATUS needs at least one item");
	}
	if ((r = imapd_eol(s)) <= 0)
		return r;
	/* the index header only: no message is opened */
	if ((r = imapd_open_named(s, &name, 0, &mb)) < 0)
		return r == -2 ? -1 : 0;
	if (mailbox_sync(mb, &err) < 0) {
		log_warn("status: %s", str_cstr(&err));
		r = imapd_tagged(s, "NO [SERVERBUG] Cannot read the mailbox");
	} else if (status_format(s, mb, name.s, name.len, order, no) < 0 ||
	    imapd_untagged(s, "STATUS %s", s->out.s) < 0 ||
	    (s->mb != NULL && view_update(s, 1) < 0))
		r = -1;
	else
		r = imapd_tagged(s, "OK STATUS completed");
	mailbox_close(&mb);
	str_free(&err);
	return r;
}

int
cmd_namespace(struct imapd *s)
{
	int r;

	if ((r = imapd_eol(s)) <= 0)
		return r;
	if (imapd_untagged(s, "NAMESPACE ((\"\" \".\")) NIL NIL") < 0)
		return -1;
	return imapd_tagged(s, "OK NAMESPACE completed");
}
