/* SPDX-License-Identifier: ISC */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs.h"
#include "str.h"
#include "table.h"

struct scratch {
	char dir[256];
	struct str text;	/* DIR/t */
	struct str cdb;		/* DIR/t.cdb */
	struct str err;
};

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int
setup(void **state)
{
	struct scratch *s = calloc(1, sizeof *s);

	if (s == NULL)
		return -1;
	snprintf(s->dir, sizeof s->dir, "/tmp/test-table.XXXXXX");
	if (mkdtemp(s->dir) == NULL)
		return -1;
	str_appendf(&s->text, "%s/t", s->dir);
	str_appendf(&s->cdb, "%s/t.cdb", s->dir);
	*state = s;
	return 0;
}

static int
teardown(void **state)
{
	struct scratch *s = *state;

	nftw(s->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	str_free(&s->text);
	str_free(&s->cdb);
	str_free(&s->err);
	free(s);
	return 0;
}

static void
put(struct scratch *s, const char *text)
{
	assert_int_equal(fs_write_atomic(s->text.s, text, strlen(text), 0644),
	    0);
}

static void
compile_ok(struct scratch *s)
{
	if (table_compile(s->text.s, &s->err) < 0)
		fail_msg("compile: %s", s->err.s);
}

/* Look key up in t, expecting want (NULL: not found). */
static void
expect(struct table *t, const char *key, const char *want)
{
	struct str v = STR_INIT;
	int r = table_lookup(t, key, &v);

	if (want == NULL) {
		if (r != 0)
			fail_msg("%s: found '%s'", key, v.s);
	} else {
		if (r != 1)
			fail_msg("%s: r=%d", key, r);
		assert_string_equal(str_cstr(&v), want);
	}
	str_free(&v);
}

/* The names in the scratch directory other than t, t.cdb and t.lock. */
static int
strays(struct scratch *s)
{
	struct dirent *de;
	DIR *d = opendir(s->dir);
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && strcmp(de->d_name, "t") != 0 &&
		    strcmp(de->d_name, "t.cdb") != 0 &&
		    strcmp(de->d_name, "t.lock") != 0)
			n++;
	closedir(d);
	return n;
}

static void
test_compile_lookup(void **state)
{
	struct scratch *s = *state;
	struct table *t;

	put(s, "# comment\n"
	    "   # indented comment\n"
	    "\n"
	    "alice  value one  \n"
	    "Bob\tTabbed\tvalue\r\n"
	    "EMPTY\n"
	    "  lead  x\n"
	    "k#1 hash # not a comment\n"
	    "last no-newline");
	compile_ok(s);
	assert_int_equal(strays(s), 0);
	t = table_open(s->cdb.s);
	assert_non_null(t);
	expect(t, "alice", "value one");
	expect(t, "ALICE", "value one");
	expect(t, "bob", "Tabbed\tvalue");
	expect(t, "Bob", "Tabbed\tvalue");
	expect(t, "empty", "");
	expect(t, "lead", "x");
	expect(t, "k#1", "hash # not a comment");
	expect(t, "last", "no-newline");
	expect(t, "nobody", NULL);
	expect(t, "#", NULL);
	expect(t, "", NULL);
	table_close(&t);
	assert_null(t);
	table_close(&t);
}

static void
test_errors(void **state)
{
	static const struct {
		const char *text;
		const char *err;	/* after "DIR/t" */
	} cases[] = {
		{ "a 1\nb 2\nA 3\n", ":3: duplicate key 'a'" },
		{ "x\n\n# c\nx y\n", ":4: duplicate key 'x'" },
		{ "ok 1\nbad \001\0 x\n", ":2: NUL byte" },
	};
	struct scratch *s = *state;
	struct str want = STR_INIT, line = STR_INIT;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		/* the NUL case needs its length: up to the last newline */
		size_t len = strlen(cases[i].text);

		if (i == 2)
			len = 14;
		assert_int_equal(fs_write_atomic(s->text.s, cases[i].text, len,
		    0644), 0);
		assert_int_equal(table_compile(s->text.s, &s->err), -1);
		str_clear(&want);
		str_appendf(&want, "%s%s", s->text.s, cases[i].err);
		assert_string_equal(s->err.s, want.s);
		assert_int_equal(access(s->cdb.s, F_OK), -1);
		assert_int_equal(strays(s), 0);
	}
	/* line length: TABLE_LINE_MAX is fine, one more byte is not */
	str_appends(&line, "k ");
	while (line.len < TABLE_LINE_MAX)
		str_appendc(&line, 'v');
	put(s, line.s);
	compile_ok(s);
	str_appendc(&line, 'v');
	put(s, line.s);
	assert_int_equal(table_compile(s->text.s, &s->err), -1);
	str_clear(&want);
	str_appendf(&want, "%s:1: line too long", s->text.s);
	assert_string_equal(s->err.s, want.s);
	/* missing file */
	assert_int_equal(unlink(s->text.s), 0);
	assert_int_equal(table_compile(s->text.s, &s->err), -1);
	assert_non_null(strstr(s->err.s, "No such file or directory"));
	str_free(&want);
	str_free(&line);
}

static void
test_mode(void **state)
{
	struct scratch *s = *state;
	struct stat st;

	put(s, "a b\n");
	assert_int_equal(chmod(s->text.s, 0640), 0);
	compile_ok(s);
	assert_int_equal(stat(s->cdb.s, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
}

static void
test_reopen(void **state)
{
	struct scratch *s = *state;
	struct str other = STR_INIT, v = STR_INIT;
	struct table *t;

	put(s, "key old\n");
	compile_ok(s);
	t = table_open(s->cdb.s);
	assert_non_null(t);
	expect(t, "key", "old");
	put(s, "key new\nadded yes\n");
	compile_ok(s);
	expect(t, "key", "new");
	expect(t, "added", "yes");
	/* a file renamed over the path by someone else */
	str_appendf(&other, "%s/o", s->dir);
	assert_int_equal(fs_write_atomic(other.s, "key third\n", 10, 0644), 0);
	assert_int_equal(table_compile(other.s, &s->err), 0);
	str_appends(&other, ".cdb");
	assert_int_equal(rename(other.s, s->cdb.s), 0);
	expect(t, "key", "third");
	expect(t, "added", NULL);
	/* the path vanishing keeps the open file in use */
	assert_int_equal(unlink(s->cdb.s), 0);
	expect(t, "key", "third");
	/* a broken replacement is ignored too */
	assert_int_equal(fs_write_atomic(s->cdb.s, "junk", 4, 0644), 0);
	assert_int_equal(table_lookup(t, "key", &v), 1);
	assert_string_equal(v.s, "third");
	table_close(&t);
	str_free(&other);
	str_free(&v);
}

static void
test_open_errors(void **state)
{
	struct scratch *s = *state;

	assert_null(table_open(s->cdb.s));
	assert_int_equal(errno, ENOENT);
	assert_int_equal(fs_write_atomic(s->cdb.s, "tiny", 4, 0644), 0);
	assert_null(table_open(s->cdb.s));
}

struct collect {
	struct str seen;
	int stop_at;
	int n;
};

static int
collect(const char *key, const char *value, void *arg)
{
	struct collect *c = arg;

	str_appendf(&c->seen, "%s=%s;", key, value);
	return ++c->n == c->stop_at ? 7 : 0;
}

static void
test_foreach(void **state)
{
	struct scratch *s = *state;
	struct collect c = { STR_INIT, 0, 0 };
	struct table *t;

	put(s, "B 2\na 1\n# x\nc\n");
	compile_ok(s);
	t = table_open(s->cdb.s);
	assert_non_null(t);
	assert_int_equal(table_foreach(t, collect, &c), 0);
	assert_string_equal(c.seen.s, "b=2;a=1;c=;");
	str_clear(&c.seen);
	c.n = 0;
	c.stop_at = 2;
	assert_int_equal(table_foreach(t, collect, &c), 7);
	assert_string_equal(c.seen.s, "b=2;a=1;");
	table_close(&t);
	str_free(&c.seen);
}

/* Edit callback: arg is the new value, NULL to delete; "FAIL" fails. */
static int
edit_set(const char *key, const char *old, struct str *value_r, void *arg,
    struct str *err)
{
	const char *v = arg;

	if (v == NULL)
		return 0;
	if (strcmp(v, "FAIL") == 0) {
		str_appendf(err, "refused %s (old %s)", key, old ? old : "-");
		return -1;
	}
	str_appends(value_r, v);
	return 1;
}

static void
expect_text(struct scratch *s, const char *want)
{
	struct str got = STR_INIT;

	assert_int_equal(fs_read_file(s->text.s, 1 << 20, &got), 0);
	assert_string_equal(str_cstr(&got), want);
	str_free(&got);
}

static void
test_edit(void **state)
{
	struct scratch *s = *state;
	struct table *t;
	struct stat st;

	/* a missing file is created */
	assert_int_equal(table_edit(s->text.s, "First", edit_set, "1",
	    &s->err), 0);
	expect_text(s, "first 1\n");
	put(s, "# head\nfirst 1\n\nsecond two words\nthird 3");
	assert_int_equal(chmod(s->text.s, 0604), 0);
	/* replace in place, keeping comments, blank lines and the rest */
	assert_int_equal(table_edit(s->text.s, "SECOND", edit_set, "2",
	    &s->err), 0);
	expect_text(s, "# head\nfirst 1\n\nsecond 2\nthird 3");
	/* add at the end of a file without a final newline */
	assert_int_equal(table_edit(s->text.s, "fourth", edit_set, "",
	    &s->err), 0);
	expect_text(s, "# head\nfirst 1\n\nsecond 2\nthird 3\nfourth\n");
	/* delete; deleting what is absent changes nothing */
	assert_int_equal(table_edit(s->text.s, "first", edit_set, NULL,
	    &s->err), 0);
	assert_int_equal(table_edit(s->text.s, "nobody", edit_set, NULL,
	    &s->err), 0);
	expect_text(s, "# head\n\nsecond 2\nthird 3\nfourth\n");
	/* mode kept, cdb recompiled */
	assert_int_equal(stat(s->text.s, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0604);
	t = table_open(s->cdb.s);
	assert_non_null(t);
	expect(t, "second", "2");
	expect(t, "fourth", "");
	expect(t, "first", NULL);
	table_close(&t);
	assert_int_equal(strays(s), 0);
}

static void
test_edit_errors(void **state)
{
	static const char *const badkeys[] = { "", "a b", "#x", "a\tb", "a\nb" };
	static const char before[] = "a 1\nb 2\n";
	struct scratch *s = *state;
	size_t i;

	put(s, before);
	assert_int_equal(table_edit(s->text.s, "b", edit_set, "FAIL",
	    &s->err), -1);
	assert_string_equal(s->err.s, "refused b (old 2)");
	expect_text(s, before);
	for (i = 0; i < sizeof badkeys / sizeof badkeys[0]; i++) {
		assert_int_equal(table_edit(s->text.s, badkeys[i], edit_set,
		    "v", &s->err), -1);
		assert_non_null(strstr(s->err.s, "invalid key"));
	}
	assert_int_equal(table_edit(s->text.s, "c", edit_set, "x\ny",
	    &s->err), -1);
	assert_non_null(strstr(s->err.s, "invalid value for key 'c'"));
	assert_int_equal(table_edit(s->text.s, "c", edit_set, " lead",
	    &s->err), -1);
	expect_text(s, before);
	/* duplicates in the file are refused */
	put(s, "a 1\nA 2\n");
	assert_int_equal(table_edit(s->text.s, "a", edit_set, "3", &s->err),
	    -1);
	assert_non_null(strstr(s->err.s, ":2: duplicate key 'a'"));
	assert_int_equal(strays(s), 0);
}

/* Several processes adding distinct keys at once: the lock keeps every
 * one of them. */
static void
test_edit_concurrent(void **state)
{
	enum { NPROC = 8, NEACH = 5 };
	struct scratch *s = *state;
	struct str key = STR_INIT;
	struct table *t;
	int i, j, st;
	pid_t pid;

	put(s, "# start\n");
	for (i = 0; i < NPROC; i++) {
		pid = fork();
		assert_true(pid >= 0);
		if (pid != 0)
			continue;
		for (j = 0; j < NEACH; j++) {
			str_clear(&key);
			str_appendf(&key, "k%d-%d", i, j);
			if (table_edit(s->text.s, key.s, edit_set, "v",
			    &s->err) < 0)
				_exit(1);
		}
		_exit(0);
	}
	for (i = 0; i < NPROC; i++) {
		assert_true(wait(&st) > 0);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	t = table_open(s->cdb.s);
	assert_non_null(t);
	for (i = 0; i < NPROC; i++)
		for (j = 0; j < NEACH; j++) {
			str_clear(&key);
			str_appendf(&key, "k%d-%d", i, j);
			expect(t, key.s, "v");
		}
	table_close(&t);
	str_free(&key);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_compile_lookup),
		T(test_errors),
		T(test_mode),
		T(test_reopen),
		T(test_open_errors),
		T(test_foreach),
		T(test_edit),
		T(test_edit_errors),
		T(test_edit_concurrent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
