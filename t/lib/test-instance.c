/* SPDX-License-Identifier: ISC */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "instance.h"
#include "str.h"

struct fixture {
	char dir[64];		/* scratch; the instance is DIR/inst */
	struct str inst;
	struct str err;
};

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* The test helper: make an instance directory holding a zest.conf with
 * the given text. */
static void
make_instance(struct fixture *f, const char *conf)
{
	struct str p = STR_INIT;

	assert_int_equal(fs_mkdir_p(f->inst.s, 0755), 0);
	str_appendf(&p, "%s/%s", f->inst.s, INSTANCE_CONF);
	assert_int_equal(fs_write_atomic(p.s, conf, strlen(conf), 0644), 0);
	str_free(&p);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof f->dir, "/tmp/test-instance.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	str_appendf(&f->inst, "%s/inst", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	unsetenv("ZEST_CONF");
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	str_free(&f->inst);
	str_free(&f->err);
	free(f);
	return 0;
}

/* Expect path == the instance dir + "/" + rel. */
static void
expect_under(const struct fixture *f, const char *path, const char *rel)
{
	struct str want = STR_INIT;

	str_appendf(&want, "%s/%s", f->inst.s, rel);
	assert_string_equal(path, want.s);
	str_free(&want);
}

static void
test_defaults(void **state)
{
	struct fixture *f = *state;
	struct instance inst;
	char host[HOST_NAME_MAX + 1];

	make_instance(f, "# nothing set\n");
	assert_int_equal(instance_open(f->inst.s, &inst, &f->err), 0);
	assert_string_equal(inst.dir, f->inst.s);
	expect_under(f, inst.conf_path, "zest.conf");
	assert_string_equal(inst.domain, "localhost");
	assert_int_equal(gethostname(host, sizeof host), 0);
	assert_string_equal(inst.hostname, host);
	assert_string_equal(inst.listen_address, "127.0.0.1");
	assert_int_equal(inst.port_base, 0);
	expect_under(f, inst.mail_root, "mail");
	expect_under(f, inst.tables_dir, "tables");
	expect_under(f, inst.queue_dir, "queue");
	expect_under(f, inst.run_dir, "run");
	expect_under(f, inst.log_dir, "log");
	expect_under(f, inst.tls_cert, "tls/cert.pem");
	expect_under(f, inst.tls_key, "tls/key.pem");
	assert_string_equal(inst.vmail_user, "zest-vmail");
	assert_int_equal(inst.message_size_limit, 100ULL * 1024 * 1024);
	assert_int_equal(inst.lock_timeout, 30);
	assert_int_equal(inst.queue_lifetime, 5 * 86400);
	assert_int_equal(inst.max_recipients, 1000);
	assert_int_equal(inst.log_stderr, 0);
	assert_int_equal(instance_port(&inst, 25), 25);
	instance_close(&inst);
	assert_null(inst.dir);
	assert_null(inst.conf);
}

static void
test_values(void **state)
{
	struct fixture *f = *state;
	struct instance inst;
	char *p;

	make_instance(f, "domain = example.org\nhostname = mx.example.org\n"
	    "port_base = 10000\nmail_root = /srv/mail\ntables_dir = t\n"
	    "message_size_limit = 10M\nlock_timeout = 2m\nlog = stderr\n"
	    "vmail_user = vm\nlibexec_dir = /opt/zest\n");
	assert_int_equal(instance_open(f->inst.s, &inst, &f->err), 0);
	assert_string_equal(inst.domain, "example.org");
	assert_string_equal(inst.hostname, "mx.example.org");
	assert_int_equal(inst.port_base, 10000);
	assert_int_equal(instance_port(&inst, 143), 10143);
	assert_int_equal(instance_port(&inst, 995), 10995);
	assert_string_equal(inst.mail_root, "/srv/mail");
	expect_under(f, inst.tables_dir, "t");
	assert_string_equal(inst.libexec_dir, "/opt/zest");
	assert_int_equal(inst.message_size_limit, 10 * 1024 * 1024);
	assert_int_equal(inst.lock_timeout, 120);
	assert_int_equal(inst.log_stderr, 1);
	assert_string_equal(inst.vmail_user, "vm");
	assert_string_equal(conf_str(inst.conf, "domain"), "example.org");
	p = instance_path(&inst, "run/x.pid");
	expect_under(f, p, "run/x.pid");
	free(p);
	p = instance_path(&inst, "/abs");
	assert_string_equal(p, "/abs");
	free(p);
	instance_close(&inst);
}

static void
test_errors(void **state)
{
	static const struct {
		const char *conf;
		const char *err;	/* expected inside the message */
	} cases[] = {
		{ "bogus = 1\n", "zest.conf:1: unknown key 'bogus'" },
		{ "\nport_base = 64541\n", "zest.conf:2: value out of range" },
		{ "port_base = 64540\nlog = file\n",
		    "log must be syslog or stderr, not 'file'" },
		{ "domain = bad domain\n", "invalid domain 'bad domain'" },
		{ "domain = -x.org\n", "invalid domain" },
		{ "domain = a..b\n", "invalid domain" },
		{ "hostname = a_b\n", "invalid hostname 'a_b'" },
		{ "lock_timeout = 0\n", "zest.conf:1: value out of range" },
		{ "message_size_limit = 1\n", "value out of range" },
		{ "domain\n", "zest.conf:1: missing '='" },
	};
	struct fixture *f = *state;
	struct instance inst;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		make_instance(f, cases[i].conf);
		assert_int_equal(instance_open(f->inst.s, &inst, &f->err), -1);
		if (strstr(f->err.s, cases[i].err) == NULL)
			fail_msg("case %zu: '%s'", i, f->err.s);
		assert_null(inst.conf);
		assert_null(inst.dir);
		instance_close(&inst);
	}
	assert_int_equal(instance_open("/nonexistent/zest", &inst, &f->err),
	    -1);
	assert_string_equal(f->err.s,
	    "/nonexistent/zest: No such file or directory");
	/* a directory without zest.conf */
	assert_int_equal(instance_open(f->dir, &inst, &f->err), -1);
	assert_non_null(strstr(f->err.s, "zest.conf: No such file"));
}

static void
test_installed(void **state)
{
	struct fixture *f = *state;
	struct instance inst;
	struct str p = STR_INIT;

	make_instance(f, "domain = installed.test\n");
	str_appendf(&p, "%s/zest.conf", f->inst.s);
	assert_int_equal(setenv("ZEST_CONF", p.s, 1), 0);
	assert_int_equal(instance_open(NULL, &inst, &f->err), 0);
	assert_null(inst.dir);
	assert_string_equal(inst.conf_path, p.s);
	assert_string_equal(inst.domain, "installed.test");
	expect_under(f, inst.mail_root, "mail");
	instance_close(&inst);
	/* an empty ZEST_CONF means the installed file */
	assert_int_equal(setenv("ZEST_CONF", "", 1), 0);
	if (instance_open(NULL, &inst, &f->err) == 0) {
		assert_string_equal(inst.conf_path, SYSCONFDIR "/zest.conf");
		instance_close(&inst);
	} else {
		assert_non_null(strstr(f->err.s, SYSCONFDIR "/zest.conf"));
	}
	str_free(&p);
}

static void
test_relative_dir(void **state)
{
	struct fixture *f = *state;
	struct instance inst;
	char cwd[PATH_MAX];

	make_instance(f, "");
	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_int_equal(chdir(f->dir), 0);
	assert_int_equal(instance_open("inst/", &inst, &f->err), 0);
	assert_int_equal(chdir(cwd), 0);
	assert_string_equal(inst.dir, f->inst.s);
	expect_under(f, inst.queue_dir, "queue");
	instance_close(&inst);
}

static void
test_valid_hostname(void **state)
{
	static const struct {
		const char *name;
		int ok;
	} cases[] = {
		{ "localhost", 1 }, { "a.b-c.D9", 1 }, { "x", 1 },
		{ "", 0 }, { ".a", 0 }, { "-a", 0 }, { "a..b", 0 },
		{ "a b", 0 }, { "a,b", 0 }, { "a_b", 0 }, { "a\n", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		if (instance_valid_hostname(cases[i].name) != cases[i].ok)
			fail_msg("'%s': want %d", cases[i].name, cases[i].ok);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_defaults),
		T(test_values),
		T(test_errors),
		T(test_installed),
		T(test_relative_dir),
		cmocka_unit_test(test_valid_hostname),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
