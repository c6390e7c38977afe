/* SPDX-License-Identifier: ISC */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "instance.h"
#include "str.h"
#include "table.h"
#include "users.h"

static void
test_valid_name(void **state)
{
	static const struct {
		const char *name;
		int ok;
	} cases[] = {
		{ "alice", 1 }, { "a", 1 }, { "0", 1 }, { "a.b_c-d9", 1 },
		{ "x.", 1 }, { "_x", 1 },
		{ "1234567890123456789012345678901234567890123456789012345678901234",
		    1 },
		{ "12345678901234567890123456789012345678901234567890123456789012345",
		    0 },
		{ "", 0 }, { ".x", 0 }, { "-x", 0 }, { "Alice", 0 },
		{ "a b", 0 }, { "a@b", 0 }, { "a/b", 0 }, { "a\n", 0 },
		{ "caf\xc3\xa9", 0 }, { "a+b", 0 }, { "..", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		if (users_valid_name(cases[i].name) != cases[i].ok)
			fail_msg("'%s': want %d", cases[i].name, cases[i].ok);
}

static void
test_hash_check(void **state)
{
	struct str h1 = STR_INIT, h2 = STR_INIT, big = STR_INIT;
	struct user u;

	memset(&u, 0, sizeof u);
	assert_int_equal(users_hash_password("s3cret pass", &h1), 0);
	assert_true(strncmp(h1.s, "$y$", 3) == 0 ||
	    strncmp(h1.s, "$6$", 3) == 0);
	assert_null(strpbrk(h1.s, " \t\n"));
	assert_int_equal(users_hash_password("s3cret pass", &h2), 0);
	/* fresh salt each time */
	assert_string_not_equal(h1.s, h2.s);
	u.hash = h1.s;
	assert_int_equal(users_check_password(&u, "s3cret pass"), 1);
	assert_int_equal(users_check_password(&u, "s3cret pasS"), 0);
	assert_int_equal(users_check_password(&u, "s3cret pass "), 0);
	assert_int_equal(users_check_password(&u, ""), 0);
	u.hash = h2.s;
	assert_int_equal(users_check_password(&u, "s3cret pass"), 1);
	/* SHA-512 crypt hashes made elsewhere are accepted */
	u.hash = "$6$saltsalt$r8hqjej7NOnHouvfJfEFBdDpaZrlnNF5usBCGaYxz8wqU0E5K7uc"
	    "oKpaEPPOf8KBXrECOw0mlyQE.Okt04BGB0";
	assert_int_equal(users_check_password(&u, "toomanysecrets"), 1);
	assert_int_equal(users_check_password(&u, "toomanysecret"), 0);
	/* locked, empty and malformed hashes never match */
	u.hash = "!";
	assert_int_equal(users_check_password(&u, "!"), 0);
	u.hash = "*";
	assert_int_equal(users_check_password(&u, "*"), 0);
	u.hash = "";
	assert_int_equal(users_check_password(&u, ""), 0);
	u.hash = "$y$bogus";
	assert_int_equal(users_check_password(&u, "x"), 0);
	u.hash = NULL;
	assert_int_equal(users_check_password(&u, "x"), 0);
	/* too long a password */
	while (big.len <= USERS_PASSWORD_MAX)
		str_appendc(&big, 'p');
	assert_int_equal(users_hash_password(big.s, &h2), -1);
	assert_int_equal(errno, E2BIG);
	str_free(&h1);
	str_free(&h2);
	str_free(&big);
}

static void
test_parse_format(void **state)
{
	static const char *const bad[] = {
		"", "$y$h", "$y$h 1", "$y$h 1 2", "$y$h 1 2 ", "$y$h x 2 md",
		"$y$h 1 -2 md", "$y$h 4294967295 2 md", "$y$h 1 99999999999 md",
		"$y$h 1 2x md",
	};
	struct str err = STR_INIT, v = STR_INIT;
	struct user u;
	size_t i;

	assert_int_equal(users_format("$y$abc", 1001, 1002, "alice", &v), 0);
	assert_string_equal(v.s, "$y$abc 1001 1002 alice");
	assert_int_equal(users_parse("/m", "alice", v.s, &u, &err), 0);
	assert_string_equal(u.name, "alice");
	assert_string_equal(u.hash, "$y$abc");
	assert_int_equal(u.uid, 1001);
	assert_int_equal(u.gid, 1002);
	assert_string_equal(u.maildir, "/m/alice");
	users_free(&u);
	assert_null(u.name);
	assert_int_equal(users_parse("/m", "bob", "h 0 0 /abs/Mail dir", &u,
	    &err), 0);
	assert_string_equal(u.maildir, "/abs/Mail dir");
	users_free(&u);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		str_clear(&err);
		if (users_parse("/m", "x", bad[i], &u, &err) != -1)
			fail_msg("'%s' accepted", bad[i]);
		assert_non_null(strstr(err.s, "malformed"));
		assert_null(u.name);
	}
	str_free(&err);
	str_free(&v);
}

struct fixture {
	char dir[64];
	struct instance inst;
	struct str tables, mail, text;
};

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* An instance by hand: tables and mail under a scratch directory and a
 * users table with alice and a broken entry. */
static int
setup(void **state)
{
	static const char users[] = "# users\n"
	    "alice $6$saltsalt$r8hqjej7NOnHouvfJfEFBdDpaZrlnNF5usBCGaYxz8wqU0E5K7uc"
	    "oKpaEPPOf8KBXrECOw0mlyQE.Okt04BGB0 1000 1001 alice\n"
	    "broken $6$x notanumber 2 broken\n"
	    "abs $6$x 5 6 /srv/abs\n";
	struct fixture *f = calloc(1, sizeof *f);
	struct str err = STR_INIT;

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof f->dir, "/tmp/test-users.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	str_appendf(&f->tables, "%s/tables", f->dir);
	str_appendf(&f->mail, "%s/mail", f->dir);
	str_appendf(&f->text, "%s/users", f->tables.s);
	if (mkdir(f->tables.s, 0755) < 0 ||
	    fs_write_atomic(f->text.s, users, sizeof users - 1, 0600) < 0 ||
	    table_compile(f->text.s, &err) < 0)
		return -1;
	str_free(&err);
	f->inst.domain = "Example.ORG";
	f->inst.tables_dir = f->tables.s;
	f->inst.mail_root = f->mail.s;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	str_free(&f->tables);
	str_free(&f->mail);
	str_free(&f->text);
	free(f);
	return 0;
}

static void
test_lookup(void **state)
{
	static const struct {
		const char *name;
		int want;
	} cases[] = {
		{ "alice", 1 }, { "ALICE", 1 }, { "alice@example.org", 1 },
		{ "Alice@EXAMPLE.org", 1 }, { "abs", 1 },
		{ "alice@other.org", 0 }, { "alice@example.org.evil", 0 },
		{ "alice@", 0 }, { "@example.org", 0 }, { "", 0 },
		{ "nobody", 0 }, { "nobody@example.org", 0 }, { "al ice", 0 },
		{ ".alice", 0 }, { "alice@example.org@example.org", 0 },
		{ "broken", -1 },
	};
	struct fixture *f = *state;
	struct str err = STR_INIT, md = STR_INIT;
	struct user u;
	size_t i;
	int r;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		r = users_lookup(&f->inst, cases[i].name, &u, &err);
		if (r != cases[i].want)
			fail_msg("'%s': got %d (%s)", cases[i].name, r,
			    str_cstr(&err));
		if (r == 1)
			users_free(&u);
		else
			assert_null(u.name);
	}
	assert_int_equal(users_lookup(&f->inst, "Alice@example.org", &u,
	    &err), 1);
	assert_string_equal(u.name, "alice");
	assert_int_equal(u.uid, 1000);
	assert_int_equal(u.gid, 1001);
	str_appendf(&md, "%s/alice", f->mail.s);
	assert_string_equal(u.maildir, md.s);
	assert_int_equal(users_check_password(&u, "toomanysecrets"), 1);
	assert_int_equal(users_check_password(&u, "wrong"), 0);
	users_free(&u);
	assert_int_equal(users_lookup(&f->inst, "abs", &u, &err), 1);
	assert_string_equal(u.maildir, "/srv/abs");
	users_free(&u);
	assert_int_equal(users_lookup(&f->inst, "broken", &u, &err), -1);
	assert_non_null(strstr(err.s, "malformed entry for 'broken'"));
	str_free(&err);
	str_free(&md);
}

static void
test_lookup_notable(void **state)
{
	struct fixture *f = *state;
	struct str err = STR_INIT, cdb = STR_INIT;
	struct user u;

	str_appendf(&cdb, "%s.cdb", f->text.s);
	assert_int_equal(unlink(cdb.s), 0);
	assert_int_equal(users_lookup(&f->inst, "alice", &u, &err), -1);
	assert_non_null(strstr(err.s, "users.cdb: No such file"));
	/* invalid names are unknown before the table is even read */
	assert_int_equal(users_lookup(&f->inst, "-x", &u, &err), 0);
	str_free(&err);
	str_free(&cdb);
}

static void
test_table_path(void **state)
{
	struct fixture *f = *state;
	char *p = users_table_path(&f->inst);

	assert_non_null(p);
	assert_string_equal(p, f->text.s);
	free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_name),
		cmocka_unit_test(test_hash_check),
		cmocka_unit_test(test_parse_format),
		cmocka_unit_test_setup_teardown(test_lookup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lookup_notable, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_table_path, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
