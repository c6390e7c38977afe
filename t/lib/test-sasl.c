/* SPDX-License-Identifier: ISC */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sasl.h"

/* The stub checker: knows alice/"pw x"; answer forces a result. */
struct stub {
	int calls;
	int answer;		/* 99: decide by the credentials */
	char user[128];
	char pw[128];
};

static int
stub_check(void *arg, const char *user, const char *pw)
{
	struct stub *st = arg;

	st->calls++;
	snprintf(st->user, sizeof st->user, "%s", user);
	snprintf(st->pw, sizeof st->pw, "%s", pw);
	if (st->answer != 99)
		return st->answer;
	return (strcmp(user, "alice") == 0 || strcmp(user,
	    "alice@localhost") == 0) && strcmp(pw, "pw x") == 0;
}

static struct zsasl *
new_z(struct stub *st)
{
	struct str err = STR_INIT;
	struct zsasl *z;

	memset(st, 0, sizeof *st);
	st->answer = 99;
	z = zsasl_new("pop", "test.example", stub_check, st, &err);
	if (z == NULL)
		fail_msg("zsasl_new: %s", str_cstr(&err));
	str_free(&err);
	return z;
}

static void
b64(const char *data, size_t n, struct str *out)
{
	assert_int_equal(zsasl_encode64(data, n, out), 0);
}

static int
setup(void **state)
{
	return zsasl_global_init("zest-test") == 0 ? 0 : -1;
}

static void
test_mechs(void **state)
{
	struct stub st;
	struct zsasl *z = new_z(&st);
	struct str list = STR_INIT;

	assert_int_equal(zsasl_mechs(z, 0, &list), 0);
	assert_string_equal(str_cstr(&list), "");
	assert_int_equal(zsasl_mechs(z, 1, &list), 0);
	assert_string_equal(list.s, "PLAIN LOGIN");
	str_free(&list);
	zsasl_free(&z);
	assert_null(z);
}

static void
test_plain_ir(void **state)
{
	struct stub st;
	struct zsasl *z = new_z(&st);
	struct str ir = STR_INIT, out = STR_INIT;

	b64("\0alice\0pw x", 11, &ir);
	assert_int_equal(zsasl_start(z, "plain", 1, ir.s, &out), ZSASL_OK);
	assert_int_equal(st.calls, 1);
	assert_string_equal(st.user, "alice");
	assert_string_equal(st.pw, "pw x");
	assert_string_equal(zsasl_user(z), "alice");
	zsasl_free(&z);

	z = new_z(&st);
	b64("\0alice\0wrong", 12, &ir);
	assert_int_equal(zsasl_start(z, "PLAIN", 1, ir.s, &out), ZSASL_FAIL);
	assert_int_equal(st.calls, 1);
	zsasl_free(&z);

	/* an empty initial response ("=") is no valid PLAIN message */
	z = new_z(&st);
	assert_true(zsasl_start(z, "PLAIN", 1, "=", &out) <= ZSASL_FAIL);
	assert_int_equal(st.calls, 0);
	zsasl_free(&z);
	str_free(&ir);
	str_free(&out);
}

static void
test_plain_no_ir(void **state)
{
	struct stub st;
	struct zsasl *z = new_z(&st);
	struct str resp = STR_INIT, out = STR_INIT;

	assert_int_equal(zsasl_start(z, "PLAIN", 1, NULL, &out),
	    ZSASL_CONTINUE);
	assert_string_equal(str_cstr(&out), "");
	b64("\0alice@localhost\0pw x", 21, &resp);
	assert_int_equal(zsasl_step(z, resp.s, &out), ZSASL_OK);
	assert_string_equal(st.user, "alice@localhost");
	zsasl_free(&z);
	str_free(&resp);
	str_free(&out);
}

static void
test_login(void **state)
{
	struct stub st;
	struct zsasl *z = new_z(&st);
	struct str resp = STR_INIT, out = STR_INIT, dec = STR_INIT;

	assert_int_equal(zsasl_start(z, "LOGIN", 1, NULL, &out),
	    ZSASL_CONTINUE);
	assert_int_equal(zsasl_decode64(out.s, 100, &dec), 0);
	assert_string_equal(dec.s, "Username:");
	b64("alice", 5, &resp);
	assert_int_equal(zsasl_step(z, resp.s, &out), ZSASL_CONTINUE);
	assert_int_equal(zsasl_decode64(out.s, 100, &dec), 0);
	assert_string_equal(dec.s, "Password:");
	b64("pw x", 4, &resp);
	assert_int_equal(zsasl_step(z, resp.s, &out), ZSASL_OK);
	assert_string_equal(zsasl_user(z), "alice");
	zsasl_free(&z);
	str_free(&resp);
	str_free(&out);
	str_free(&dec);
}

static void
test_errors(void **state)
{
	struct stub st;
	struct zsasl *z = new_z(&st);
	struct str ir = STR_INIT, out = STR_INIT;

	/* not offered: unknown, or plaintext without TLS */
	assert_int_equal(zsasl_start(z, "CRAM-MD5", 1, NULL, &out),
	    ZSASL_NOMECH);
	assert_int_equal(zsasl_start(z, "PLAIN", 0, NULL, &out),
	    ZSASL_NOMECH);
	assert_int_equal(zsasl_start(z, "", 1, NULL, &out), ZSASL_NOMECH);
	assert_int_equal(zsasl_start(z, "PLAINX", 1, NULL, &out),
	    ZSASL_NOMECH);
	assert_int_equal(zsasl_start(z, "PLAIN", 1, "!!notbase64", &out),
	    ZSASL_BAD);
	zsasl_free(&z);

	z = new_z(&st);
	assert_int_equal(zsasl_start(z, "PLAIN", 1, NULL, &out),
	    ZSASL_CONTINUE);
	assert_int_equal(zsasl_step(z, "*", &out), ZSASL_CANCEL);
	zsasl_free(&z);

	z = new_z(&st);
	assert_int_equal(zsasl_start(z, "LOGIN", 1, NULL, &out),
	    ZSASL_CONTINUE);
	assert_int_equal(zsasl_step(z, "%%%", &out), ZSASL_BAD);
	zsasl_free(&z);

	/* the checker's temporary failure and hang-up come through */
	b64("\0alice\0pw x", 11, &ir);
	z = new_z(&st);
	st.answer = -2;
	assert_int_equal(zsasl_start(z, "PLAIN", 1, ir.s, &out), ZSASL_TEMP);
	zsasl_free(&z);
	z = new_z(&st);
	st.answer = -1;
	assert_int_equal(zsasl_start(z, "PLAIN", 1, ir.s, &out),
	    ZSASL_CLOSE);
	zsasl_free(&z);
	/* a password with a NUL never reaches the checker */
	b64("\0alice\0p\0w", 10, &ir);
	z = new_z(&st);
	assert_true(zsasl_start(z, "PLAIN", 1, ir.s, &out) <= ZSASL_FAIL);
	assert_int_equal(st.calls, 0);
	zsasl_free(&z);
	str_free(&ir);
	str_free(&out);
}

static void
test_base64(void **state)
{
	struct str e = STR_INIT, d = STR_INIT;
	char big[ZSASL_DATA_MAX + 1];

	assert_int_equal(zsasl_encode64("hello", 5, &e), 0);
	assert_string_equal(e.s, "aGVsbG8=");
	assert_int_equal(zsasl_decode64(e.s, 5, &d), 0);
	assert_int_equal(d.len, 5);
	assert_memory_equal(d.s, "hello", 5);
	assert_int_equal(zsasl_decode64(e.s, 4, &d), -1);	/* over max */
	assert_int_equal(zsasl_decode64("aGV", 10, &d), -1);
	assert_int_equal(zsasl_decode64("", 10, &d), 0);
	assert_int_equal(d.len, 0);
	memset(big, 'x', sizeof big);
	assert_int_equal(zsasl_encode64(big, sizeof big, &e), -1);
	str_free(&e);
	str_free(&d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mechs),
		cmocka_unit_test(test_plain_ir),
		cmocka_unit_test(test_plain_no_ir),
		cmocka_unit_test(test_login),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_base64),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
