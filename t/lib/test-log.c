/* SPDX-License-Identifier: ISC */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"

/* stderr redirected into a pipe between capture_begin() and capture_end(). */
struct capture {
	int saved;
	int rfd;
	char buf[16384];
	size_t len;
};

static void
capture_begin(struct capture *c)
{
	int p[2];

	assert_int_equal(pipe(p), 0);
	c->saved = dup(STDERR_FILENO);
	assert_true(c->saved >= 0);
	assert_true(dup2(p[1], STDERR_FILENO) >= 0);
	close(p[1]);
	c->rfd = p[0];
	c->len = 0;
}

/* Restore stderr and collect what was written, NUL-terminated. */
static const char *
capture_end(struct capture *c)
{
	ssize_t r;

	assert_true(dup2(c->saved, STDERR_FILENO) >= 0);
	close(c->saved);
	while ((r = read(c->rfd, c->buf + c->len,
	    sizeof(c->buf) - 1 - c->len)) > 0)
		c->len += (size_t)r;
	close(c->rfd);
	c->buf[c->len] = '\0';
	return c->buf;
}

static int
setup(void **state)
{
	unsetenv("ZEST_LOG");
	if (log_open("test-log", 1) < 0)
		return -1;
	log_set_session(NULL);
	log_set_debug(0);
	return 0;
}

/* "PREFIX[pid]: " for this process. */
static void
expect_line(const char *got, const char *prog, const char *rest)
{
	char want[4096];
	int n;

	n = snprintf(want, sizeof(want), "%s[%ld]: %s", prog, (long)getpid(),
	    rest);
	assert_true(n > 0 && (size_t)n < sizeof(want));
	assert_string_equal(got, want);
}

enum level { L_INFO, L_WARN, L_ERR, L_DEBUG };

static void
log_at(enum level l, const char *msg)
{
	switch (l) {
	case L_INFO:
		log_info("%s", msg);
		break;
	case L_WARN:
		log_warn("%s", msg);
		break;
	case L_ERR:
		log_err("%s", msg);
		break;
	case L_DEBUG:
		log_debug("%s", msg);
		break;
	}
}

static const struct format_case {
	const char *name;
	enum level level;
	int debug;
	const char *sid;
	const char *msg;
	const char *want;	/* after "prog[pid]: "; NULL: no output */
} format_cases[] = {
	{ "info, no session", L_INFO, 0, NULL, "hello", "-: hello\n" },
	{ "info, session", L_INFO, 0, "abc123", "hi", "abc123: hi\n" },
	{ "warning", L_WARN, 0, "s1", "careful", "s1: warning: careful\n" },
	{ "error", L_ERR, 0, "s1", "broken", "s1: error: broken\n" },
	{ "debug off", L_DEBUG, 0, "s1", "noise", NULL },
	{ "debug on", L_DEBUG, 1, "s1", "noise", "s1: debug: noise\n" },
	{ "empty session", L_INFO, 0, "", "x", "-: x\n" },
	{ "session escaped", L_INFO, 0, "a b:c\n", "x", "a?b?c?: x\n" },
	{ "session cut", L_INFO, 0,
	  "0123456789012345678901234567890123456789", "x",
	  "0123456789012345678901234567890: x\n" },
	{ "newline", L_INFO, 0, NULL, "a\nb", "-: a\\nb\n" },
	{ "crlf", L_INFO, 0, NULL, "RCPT\r\n", "-: RCPT\\r\\n\n" },
	{ "tab", L_INFO, 0, NULL, "a\tb", "-: a\\tb\n" },
	{ "backslash", L_INFO, 0, NULL, "a\\nb", "-: a\\\\nb\n" },
	{ "terminal escape", L_INFO, 0, NULL, "\x1b[31mred",
	  "-: \\x1b[31mred\n" },
	{ "del", L_INFO, 0, NULL, "\x7f", "-: \\x7f\n" },
	{ "high bytes", L_INFO, 0, NULL, "caf\xc3\xa9", "-: caf\\xc3\\xa9\n" },
	{ "empty message", L_WARN, 0, NULL, "", "-: warning: \n" },
};

static void
test_format_table(void **state)
{
	struct capture c;
	const char *got;
	size_t i;

	for (i = 0; i < sizeof(format_cases) / sizeof(format_cases[0]); i++) {
		const struct format_case *fc = &format_cases[i];

		log_set_session(fc->sid);
		log_set_debug(fc->debug);
		capture_begin(&c);
		log_at(fc->level, fc->msg);
		got = capture_end(&c);
		if (fc->want == NULL) {
			if (*got != '\0')
				fail_msg("%s: unexpected output %s", fc->name,
				    got);
			continue;
		}
		expect_line(got, "test-log", fc->want);
	}
}

static void
test_prog_name(void **state)
{
	struct capture c;

	assert_int_equal(log_open("/usr/libexec/zest/smtpd", 1), 0);
	capture_begin(&c);
	log_info("x");
	expect_line(capture_end(&c), "smtpd", "-: x\n");
	assert_int_equal(log_open("we ird", 1), 0);
	capture_begin(&c);
	log_info("x");
	expect_line(capture_end(&c), "we?ird", "-: x\n");
	errno = 0;
	assert_int_equal(log_open(NULL, 1), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(log_open("", 1), -1);
	assert_int_equal(errno, EINVAL);
}

static void
test_truncation(void **state)
{
	static const char *fills = "a\x01";
	char big[5000];
	struct capture c;
	const char *got, *msg;
	size_t i;

	for (i = 0; fills[i] != '\0'; i++) {
		memset(big, fills[i], sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		capture_begin(&c);
		log_info("%s", big);
		got = capture_end(&c);
		msg = strstr(got, "]: -: ");
		assert_non_null(msg);
		msg += 6;
		assert_true(strlen(msg) <= LOG_MSG_MAX + 1);
		assert_true(strlen(msg) > LOG_MSG_MAX - 8);
		assert_string_equal(msg + strlen(msg) - 4, "...\n");
		assert_null(strchr(msg, '\x01'));
	}
}

/* Without stderr requested the lines go to syslog, not stderr, unless
 * ZEST_LOG=stderr overrides. */
static void
test_syslog_and_env(void **state)
{
	struct capture c;

	assert_int_equal(log_open("test-log", 0), 0);
	capture_begin(&c);
	log_info("to syslog");
	assert_string_equal(capture_end(&c), "");
	assert_int_equal(setenv("ZEST_LOG", "stderr", 1), 0);
	assert_int_equal(log_open("test-log", 0), 0);
	capture_begin(&c);
	log_info("forced");
	expect_line(capture_end(&c), "test-log", "-: forced\n");
	assert_int_equal(setenv("ZEST_LOG", "syslog", 1), 0);
	assert_int_equal(log_open("test-log", 0), 0);
	capture_begin(&c);
	log_info("to syslog");
	assert_string_equal(capture_end(&c), "");
	log_close();
	capture_begin(&c);
	log_info("after close");
	expect_line(capture_end(&c), "test-log", "-: after close\n");
	unsetenv("ZEST_LOG");
}

static void
test_errno_kept(void **state)
{
	struct capture c;

	capture_begin(&c);
	errno = ENOENT;
	log_err("open: %m");
	assert_int_equal(errno, ENOENT);
	expect_line(capture_end(&c), "test-log",
	    "-: error: open: No such file or directory\n");
}

/* Each line names the pid of the process that wrote it. */
static void
test_child_pid(void **state)
{
	struct capture c;
	char want[64];
	pid_t pid;
	int st;

	capture_begin(&c);
	pid = fork();
	if (pid == 0) {
		log_info("child");
		_exit(0);
	}
	waitpid(pid, &st, 0);
	capture_end(&c);
	assert_true(pid > 0);
	snprintf(want, sizeof(want), "test-log[%ld]: -: child\n", (long)pid);
	assert_string_equal(c.buf, want);
}

static int
cmp_ids(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void
test_session_ids(void **state)
{
	static char ids[1000][LOG_SID_LEN + 1];
	char small[5] = "zzzz", one[1] = { 'z' };
	size_t i, j;

	for (i = 0; i < 1000; i++) {
		log_new_session_id(ids[i], sizeof(ids[i]));
		assert_int_equal(strlen(ids[i]), LOG_SID_LEN);
		for (j = 0; j < LOG_SID_LEN; j++)
			assert_non_null(strchr("0123456789abcdefghjkmnpqrstvwxyz",
			    ids[i][j]));
	}
	qsort(ids, 1000, sizeof(ids[0]), cmp_ids);
	for (i = 1; i < 1000; i++)
		assert_string_not_equal(ids[i - 1], ids[i]);
	log_new_session_id(small, sizeof(small));
	assert_int_equal(strlen(small), 4);
	log_new_session_id(one, sizeof(one));
	assert_int_equal(one[0], '\0');
	log_new_session_id(one, 0);
	assert_int_equal(one[0], '\0');
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_format_table, setup),
		cmocka_unit_test_setup(test_prog_name, setup),
		cmocka_unit_test_setup(test_truncation, setup),
		cmocka_unit_test_setup(test_syslog_and_env, setup),
		cmocka_unit_test_setup(test_errno_kept, setup),
		cmocka_unit_test_setup(test_child_pid, setup),
		cmocka_unit_test_setup(test_session_ids, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
