/* SPDX-License-Identifier: ISC */
/*
 * zest: parse the global options, open the instance and run one command.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "instance.h"
#include "str.h"
#include "users.h"
#include "zest.h"

/* How a command wants the instance. */
enum zest_need {
	NEED_NONE,	/* never opened (init) */
	NEED_INSTANCE,	/* must open */
	NEED_MAYBE	/* opened when possible, NULL otherwise */
};

struct zest_cmd {
	const char *name;
	int (*fn)(struct instance *inst, int argc, char **argv);
	enum zest_need need;
	const char *usage;
};

static const struct zest_cmd zest_cmds[] = {
	{ "init", cmd_init, NEED_NONE,
	    "init DIR [--domain D] [--port-base N] [--hostname H]" },
	{ "useradd", cmd_useradd, NEED_INSTANCE, "useradd NAME PASSWORD|-" },
	{ "userdel", cmd_userdel, NEED_INSTANCE, "userdel NAME" },
	{ "passwd", cmd_passwd, NEED_INSTANCE, "passwd NAME PASSWORD|-" },
	{ "users", cmd_users, NEED_INSTANCE, "users" },
	{ "makemap", cmd_makemap, NEED_MAYBE, "makemap FILE" },
	{ "start", cmd_start, NEED_INSTANCE, "start" },
	{ "stop", cmd_stop, NEED_INSTANCE, "stop" },
	{ "status", cmd_status, NEED_INSTANCE, "status" },
	{ "reconstruct", cmd_reconstruct, NEED_MAYBE, "reconstruct USER... | -p MAILDIR..." },
	{ "dump", cmd_dump, NEED_MAYBE, "dump [-n] USER[/FOLDER] | -p MAILDIR" },
	{ "queue", cmd_queue, NEED_INSTANCE, "queue" },
	{ "flush", cmd_flush, NEED_INSTANCE, "flush" },
	{ NULL, NULL, NEED_NONE, NULL }
};

void
zest_err(const char *fmt, ...)
{
	va_list ap;

	fputs("zest: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int
zest_usage(const char *usage)
{
	fprintf(stderr, "usage: zest [-C DIR] %s\n", usage);
	return ZEST_FAIL;
}

int
zest_password(const char *pw, struct str *pw_r)
{
	int c;

	str_clear(pw_r);
	if (strcmp(pw, "-") != 0) {
		if (str_appends(pw_r, pw) == 0 &&
		    pw_r->len <= USERS_PASSWORD_MAX)
			return 0;
		zest_err("password too long");
		return -1;
	}
	while ((c = getchar()) != EOF && c != '\n') {
		if (pw_r->len >= USERS_PASSWORD_MAX ||
		    str_appendc(pw_r, (char)c) < 0) {
			zest_err("password too long");
			return -1;
		}
	}
	if (pw_r->len > 0 && pw_r->s[pw_r->len - 1] == '\r')
		str_truncate(pw_r, pw_r->len - 1);
	return 0;
}

static void
zest_help(void)
{
	const struct zest_cmd *c;

	fputs("usage: zest [-C DIR] COMMAND [ARG...]\ncommands:\n", stderr);
	for (c = zest_cmds; c->name != NULL; c++)
		fprintf(stderr, "  %s\n", c->usage);
}

static const struct zest_cmd *
zest_find(const char *name)
{
	const struct zest_cmd *c;

	for (c = zest_cmds; c->name != NULL; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

/* Run cmd; init takes -C DIR as its directory when none is given. */
static int
zest_run(const struct zest_cmd *cmd, const char *dir, int argc, char **argv)
{
	struct str err = STR_INIT;
	struct instance inst;
	char *initv[3];
	int r;

	if (cmd->need == NEED_NONE) {
		if (dir != NULL && argc == 1) {
			initv[0] = argv[0];
			initv[1] = (char *)dir;
			initv[2] = NULL;
			return cmd->fn(NULL, 2, initv);
		}
		return cmd->fn(NULL, argc, argv);
	}
	if (instance_open(dir, &inst, &err) < 0) {
		if (cmd->need == NEED_INSTANCE) {
			zest_err("%s", str_cstr(&err));
			str_free(&err);
			return ZEST_FAIL;
		}
		str_free(&err);
		return cmd->fn(NULL, argc, argv);
	}
	str_free(&err);
	r = cmd->fn(&inst, argc, argv);
	instance_close(&inst);
	return r;
}

int
main(int argc, char **argv)
{
	const struct zest_cmd *cmd;
	const char *dir = NULL;
	int c;

	/* zest sets every mode it creates explicitly. */
	umask(022);
	while ((c = getopt(argc, argv, "+C:h")) != -1) {
		switch (c) {
		case 'C':
			dir = optarg;
			break;
		default:
			zest_help();
			return c == 'h' ? ZEST_OK : ZEST_FAIL;
		}
	}
	if (optind >= argc) {
		zest_help();
		return ZEST_FAIL;
	}
	if ((cmd = zest_find(argv[optind])) == NULL) {
		zest_err("unknown command '%s'", argv[optind]);
		zest_help();
		return ZEST_FAIL;
	}
	return zest_run(cmd, dir, argc - optind, argv + optind);
}
