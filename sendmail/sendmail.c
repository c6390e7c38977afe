/* SPDX-License-Identifier: ISC */
/*
 * sendmail, mailq, newaliases: the command line every Unix program expects
 * (cron, mail(1), PHP, git send-email ...), on top of queue-inject.  The
 * name it is called by selects the mode, as with the original.  See
 * sendmail(8).
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "instance.h"
#include "sendmail.h"
#include "table.h"

enum sm_mode { SM_SEND, SM_SMTP, SM_LIST, SM_ALIASES, SM_FLUSH };

static void __attribute__((noreturn))
usage(const char *msg, const char *arg)
{
	fprintf(stderr, "sendmail: %s%s%s\n", msg, arg ? ": " : "",
	    arg ? arg : "");
	fprintf(stderr, "usage: sendmail [-C dir] [-t] [-i] [-f sender] "
	    "[-F name] [-B type] [-bm|-bs|-bp|-bi|-q] [-o opt] [address...]\n");
	exit(EX_USAGE);
}

/* The value of an option given as -Xvalue or -X value. */
static const char *
optval(int argc, char **argv, int *i, const char *rest)
{
	if (*rest != '\0')
		return rest;
	if (*i + 1 >= argc)
		usage("option needs a value", argv[*i]);
	return argv[++*i];
}

/* -o options: the ones programs pass are accepted; their meaning is
 * Zest's fixed behaviour (queue at once, errors by exit status). */
static void
opt_o(const char *v, struct sm_opts *o)
{
	static const char *const ok[] = { "em", "ee", "ep", "eq", "ew",
		"di", "db", "dq", "db", "m", "s", NULL };
	size_t i;

	if (strcmp(v, "i") == 0) {
		o->ignore_dots = 1;
		return;
	}
	for (i = 0; ok[i] != NULL; i++)
		if (strcmp(v, ok[i]) == 0)
			return;
	if (strncmp(v, "Q", 1) == 0 || strncmp(v, "A", 1) == 0)
		return;	/* queue directory / alias file: ours come from -C */
	usage("unsupported option", v);
}

static enum sm_mode
opt_b(const char *v)
{
	if (strcmp(v, "m") == 0)
		return SM_SEND;
	if (strcmp(v, "s") == 0)
		return SM_SMTP;
	if (strcmp(v, "p") == 0)
		return SM_LIST;
	if (strcmp(v, "i") == 0)
		return SM_ALIASES;
	usage("unsupported mode", v);
}

static enum sm_mode
parse(int argc, char **argv, struct sm_opts *o, enum sm_mode mode)
{
	int i;

	memset(o, 0, sizeof(*o));
	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		switch (a[1]) {
		case 'C': o->conf_dir = optval(argc, argv, &i, a + 2); break;
		case 'f': case 'r': o->sender = optval(argc, argv, &i, a + 2); break;
		case 'F': o->fullname = optval(argc, argv, &i, a + 2); break;
		case 'B': o->body = optval(argc, argv, &i, a + 2); break;
		case 't': if (a[2] != '\0') usage("unknown option", a);
			o->extract = 1; break;
		case 'i': if (a[2] != '\0') usage("unknown option", a);
			o->ignore_dots = 1; break;
		case 'o': opt_o(optval(argc, argv, &i, a + 2), o); break;
		case 'b': mode = opt_b(optval(argc, argv, &i, a + 2)); break;
		case 'q': if (a[2] != '\0') usage("only a plain -q is supported", a);
			mode = SM_FLUSH; break;
		case 'v': case 'm': case 'n': if (a[2] != '\0') usage("unknown option", a);
			break;	/* verbose, me-too, no-alias: no effect here */
		default: usage("unknown option", a);
		}
	}
	if (o->body != NULL && strcmp(o->body, "7BIT") != 0 &&
	    strcmp(o->body, "8BITMIME") != 0)
		usage("-B takes 7BIT or 8BITMIME", o->body);
	o->rcpts = argv + i;
	o->nrcpts = (size_t)(argc - i);
	return mode;
}

/* zest is beside us in a build tree, else in SBINDIR. */
static void __attribute__((noreturn))
run_zest(const struct sm_opts *o, const char *cmd)
{
	char self[PATH_MAX], path[PATH_MAX + 8];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	const char *argv[5];
	int k = 0;

	path[0] = '\0';
	if (n > 0) {
		self[n] = '\0';
		snprintf(path, sizeof(path), "%s/zest", dirname(self));
	}
	if (path[0] == '\0' || access(path, X_OK) < 0)
		snprintf(path, sizeof(path), "%s/zest", SBINDIR);
	argv[k++] = "zest";
	if (o->conf_dir != NULL) {
		argv[k++] = "-C";
		argv[k++] = o->conf_dir;
	}
	argv[k++] = cmd;
	argv[k] = NULL;
	execv(path, (char *const *)argv);
	fprintf(stderr, "sendmail: %s: %s\n", path, strerror(errno));
	exit(EX_UNAVAILABLE);
}

static void __attribute__((noreturn))
run_smtp(const struct instance *inst)
{
	struct str p = STR_INIT;

	str_appendf(&p, "%s/smtpd", inst->libexec_dir);
	/* -L: a local session on stdin/stdout, allowed to relay */
	execl(p.s, "smtpd", "-C", inst->dir ? inst->dir : "/etc/zest",
	    "-L", (char *)NULL);
	fprintf(stderr, "sendmail: %s: %s\n", p.s, strerror(errno));
	exit(EX_UNAVAILABLE);
}

static int
new_aliases(const struct instance *inst)
{
	struct str path = STR_INIT, err = STR_INIT;
	int rc;

	str_appendf(&path, "%s/aliases", inst->tables_dir);
	rc = table_compile(path.s, &err) < 0 ? EX_CANTCREAT : EX_OK;
	if (rc != EX_OK)
		fprintf(stderr, "newaliases: %s\n", err.s);
	str_free(&path);
	str_free(&err);
	return rc;
}

int
main(int argc, char **argv)
{
	const char *name = strrchr(argv[0], '/');
	enum sm_mode mode = SM_SEND;
	struct sm_opts o;
	struct instance inst;
	struct str err = STR_INIT;
	int rc;

	name = name ? name + 1 : argv[0];
	if (strcmp(name, "mailq") == 0)
		mode = SM_LIST;
	else if (strcmp(name, "newaliases") == 0)
		mode = SM_ALIASES;
	mode = parse(argc, argv, &o, mode);
	if (mode == SM_LIST)
		run_zest(&o, "queue");
	if (mode == SM_FLUSH)
		run_zest(&o, "flush");
	if (instance_open(o.conf_dir, &inst, &err) < 0) {
		fprintf(stderr, "sendmail: configuration: %s\n", err.s);
		return EX_TEMPFAIL;
	}
	if (mode == SM_SMTP)
		run_smtp(&inst);
	rc = mode == SM_ALIASES ? new_aliases(&inst) : sm_send(&inst, &o);
	instance_close(&inst);
	str_free(&err);
	return rc;
}
