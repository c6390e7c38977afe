/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for conf_parse(), with the real zest.conf key table
 * (instance_keys) and a small one of every type.  Checks the invariants:
 * success leaves a conf and no message, failure a message and no conf, and
 * every message names the file.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "instance.h"
#include "str.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct conf_key fuzz_keys[] = {
	{ "s", CONF_STRING, "x", 0, 0 },
	{ "u", CONF_UINT, "1", 1, 1000 },
	{ "b", CONF_BOOL, "no", 0, 0 },
	{ "p", CONF_PATH, "rel", 0, 0 },
	{ "z", CONF_SIZE, NULL, 0, 0 },
	{ "d", CONF_DURATION, NULL, 0, 86400 },
	{ NULL, CONF_STRING, NULL, 0, 0 }
};

static void
fuzz_one(const char *text, size_t len, const struct conf_key *keys)
{
	struct str err = STR_INIT;
	struct conf *c = NULL;
	const struct conf_key *k;
	int r;

	r = conf_parse("f.conf", "/d", text, len, keys, &c, &err);
	if (r == 0) {
		if (c == NULL || err.len != 0)
			abort();
		for (k = keys; k->name != NULL; k++) {
			const char *v = conf_str(c, k->name);

			if (k->type == CONF_PATH && v != NULL && *v != '\0' &&
			    v[0] != '/')
				abort();
			if (k->max && conf_num(c, k->name) > k->max)
				abort();
		}
		conf_free(&c);
	} else if (r != -1 || c != NULL || strncmp(str_cstr(&err), "f.conf",
	    6) != 0) {
		abort();
	}
	str_free(&err);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > CONF_FILE_MAX)
		return 0;
	fuzz_one((const char *)data, size, fuzz_keys);
	fuzz_one((const char *)data, size, instance_keys);
	return 0;
}
