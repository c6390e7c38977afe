/* SPDX-License-Identifier: ISC */
#ifndef ZEST_T_MBOX_FIXTURE_H
#define ZEST_T_MBOX_FIXTURE_H

/*
 * The mailbox tests' fixture (cmocka setup/teardown): a fresh directory
 * under /tmp holding the Maildir "box", opened as mb (created), and room
 * for a second one, "other", which a test opens as mb2 when it needs it.
 */

#include <stdint.h>
#include <time.h>

#include "mailbox.h"

struct mbfx {
	char top[64];
	char dir[96];		/* top/box */
	char dir2[96];		/* top/other */
	struct mailbox *mb;
	struct mailbox *mb2;	/* closed by the teardown when opened */
};

int mbfx_setup(void **state);
int mbfx_teardown(void **state);

/* Store text (LF form) in mb with the given flags, keywords and internal
 * date, in new/ or (to_cur) cur/; its UID.  Fails the test on an error. */
uint32_t mbfx_add(struct mailbox *mb, const char *text, unsigned flags,
    uint64_t keywords, time_t idate, int to_cur);

#endif
