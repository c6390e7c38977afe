/* SPDX-License-Identifier: ISC */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mbox-fixture.h"
#include "str.h"

int
mbfx_setup(void **state)
{
	struct mbfx *f = calloc(1, sizeof(*f));
	struct str err = STR_INIT;

	if (f == NULL)
		return -1;
	snprintf(f->top, sizeof(f->top), "/tmp/zest-test-mbox.XXXXXX");
	if (mkdtemp(f->top) == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/box", f->top);
	snprintf(f->dir2, sizeof(f->dir2), "%s/other", f->top);
	if (mailbox_open(f->dir, MBOX_CREATE, 5, &f->mb, &err) < 0) {
		fprintf(stderr, "%s\n", err.s);
		return -1;
	}
	str_free(&err);
	*state = f;
	return 0;
}

int
mbfx_teardown(void **state)
{
	struct mbfx *f = *state;
	char cmd[128];

	mailbox_close(&f->mb);
	mailbox_close(&f->mb2);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->top);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

uint32_t
mbfx_add(struct mailbox *mb, const char *text, unsigned flags,
    uint64_t keywords, time_t idate, int to_cur)
{
	struct mailbox_msg *m = NULL;
	struct str err = STR_INIT;
	uint32_t uid = 0;

	assert_int_equal(mailbox_msg_begin(mb, 0, &m, &err), 0);
	assert_int_equal(mailbox_msg_write(m, text, strlen(text)), 0);
	if (mailbox_msg_commit(&m, flags, keywords, idate, to_cur, &uid,
	    &err) < 0)
		fail_msg("commit: %s", err.s);
	str_free(&err);
	return uid;
}
