/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for the login checker (lib/login): the input is a
 * stream of checker frames (TYPE, 2-byte length, payload) as a subverted
 * pre-login process could send them, fed to login_checker_handle with a
 * stub backend.  Invariants: a session is started at most once and only
 * for the user the backend verified last; after 'X' nothing but 'X'.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "login.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
stub_password(void *arg, const char *user, const char *pw, struct str *c)
{
	if (strcmp(user, "alice") == 0 && strcmp(pw, "pw") == 0) {
		str_appends(c, "alice");
		return LOGIN_YES;
	}
	return strcmp(pw, "temp") == 0 ? LOGIN_TEMP : LOGIN_NO;
}

static int
stub_apop(void *arg, const char *user, const char *ch, const char *d,
    struct str *c)
{
	if (strcmp(user, "bob") == 0 && strcmp(d, "0123") == 0) {
		str_appends(c, "bob");
		return LOGIN_YES;
	}
	return LOGIN_NO;
}

static const struct login_backend be = { stub_password, stub_apop };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct login_checker c;
	struct login_start st;
	struct str reason = STR_INIT;
	unsigned char reply;
	size_t off = 0, len;
	int r, closed = 0, starts = 0;

	login_checker_init(&c, &be, NULL, "<1.2@x>", 5, 0);
	while (off + 3 <= size) {
		len = (size_t)data[off + 1] << 8 | data[off + 2];
		if (off + 3 + len > size)
			break;
		r = login_checker_handle(&c, data[off], (const char *)data +
		    off + 3, len, &reply, &reason, &st);
		if (closed && !(r < 0 && reply == 'X'))
			abort();
		if (r < 0)
			closed = 1;
		if (r == 1) {
			if (++starts > 1 || (strcmp(st.user, "alice") != 0 &&
			    strcmp(st.user, "bob") != 0) ||
			    strcmp(st.user, c.verified.s) != 0)
				abort();
			free(st.user);
			free(st.resume);
		}
		off += 3 + len;
	}
	login_checker_free(&c);
	str_free(&reason);
	return 0;
}
