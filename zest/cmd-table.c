/* SPDX-License-Identifier: ISC */
/*
 * zest makemap FILE: compile a text table into FILE.cdb.  A bare name that
 * is not a file in the current directory names a table of the instance
 * (tables_dir/NAME), so `zest -C DIR makemap aliases` works from anywhere.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "table.h"
#include "zest.h"

/* The text file makemap compiles: file itself, or tables_dir/file. */
static int
makemap_path(const struct instance *inst, const char *file, struct str *p)
{
	struct stat st;

	if (stat(file, &st) == 0 || strchr(file, '/') != NULL ||
	    inst == NULL)
		return str_appends(p, file);
	return str_appendf(p, "%s/%s", inst->tables_dir, file);
}

int
cmd_makemap(struct instance *inst, int argc, char **argv)
{
	struct str path = STR_INIT, err = STR_INIT;
	int r = ZEST_FAIL, lockfd;

	if (argc != 2)
		return zest_usage("makemap FILE");
	if (makemap_path(inst, argv[1], &path) < 0)
		zest_err("out of memory");
	else if ((lockfd = table_lock(path.s, &err)) < 0)
		zest_err("%s", str_cstr(&err));
	else {
		/* the lock keeps a concurrent table_edit from interleaving */
		if (table_compile(path.s, &err) < 0)
			zest_err("%s", str_cstr(&err));
		else {
			printf("zest: compiled %s.cdb\n", path.s);
			r = ZEST_OK;
		}
		close(lockfd);
	}
	str_free(&path);
	str_free(&err);
	return r;
}
