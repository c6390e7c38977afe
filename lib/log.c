/* SPDX-License-Identifier: ISC */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "str.h"

#define LOG_PROG_MAX 64

/*
 * The module's state, the one file-scope mutable object allowed in lib/:
 * the log belongs to the process, like syslog's own openlog() state.
 */
struct log_state {
	char prog[LOG_PROG_MAX];	/* "" until log_open() */
	char sid[LOG_SID_MAX];		/* "" outside a session */
	int use_syslog;
	int debug;
};

static struct log_state log_state;

/* Copy src into dst (size n), keeping [A-Za-z0-9._-] and turning other
 * bytes into '?'. */
static void
log_copy_name(char *dst, size_t n, const char *src)
{
	size_t i;
	unsigned char c;

	for (i = 0; src != NULL && src[i] != '\0' && i + 1 < n; i++) {
		c = (unsigned char)src[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_')
			dst[i] = (char)c;
		else
			dst[i] = '?';
	}
	dst[i] = '\0';
}

int
log_open(const char *prog, int to_stderr)
{
	const char *env = secure_getenv("ZEST_LOG");
	const char *slash;

	if (prog == NULL || *prog == '\0') {
		errno = EINVAL;
		return -1;
	}
	if ((slash = strrchr(prog, '/')) != NULL && slash[1] != '\0')
		prog = slash + 1;
	if (env != NULL && strcmp(env, "stderr") == 0)
		to_stderr = 1;
	log_close();
	log_copy_name(log_state.prog, sizeof(log_state.prog), prog);
	if (!to_stderr) {
		/* openlog() keeps the pointer: it must be the stored copy. */
		openlog(log_state.prog, LOG_PID, LOG_MAIL);
		log_state.use_syslog = 1;
	}
	return 0;
}

void
log_close(void)
{
	if (log_state.use_syslog)
		closelog();
	log_state.use_syslog = 0;
}

void
log_set_session(const char *id)
{
	log_copy_name(log_state.sid, sizeof(log_state.sid), id);
}

void
log_set_debug(int on)
{
	log_state.debug = on != 0;
}

/* splitmix64: spreads a weak seed when getrandom() is unavailable. */
static uint64_t
log_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

void
log_new_session_id(char *buf, size_t n)
{
	static const char b32[] = "0123456789abcdefghjkmnpqrstvwxyz";
	struct timespec ts;
	uint64_t v = 0;
	ssize_t r;
	size_t i;

	if (n == 0)
		return;
	do
		r = getrandom(&v, sizeof(v), 0);
	while (r < 0 && errno == EINTR);
	if (r != (ssize_t)sizeof(v)) {
		clock_gettime(CLOCK_REALTIME, &ts);
		v = log_mix((uint64_t)ts.tv_sec ^ ((uint64_t)ts.tv_nsec << 20) ^
		    ((uint64_t)getpid() << 44) ^ (uint64_t)(uintptr_t)buf);
	}
	for (i = 0; i < LOG_SID_LEN && i + 1 < n; i++) {
		buf[i] = b32[v & 31];
		v >>= 5;
	}
	buf[i] = '\0';
}

/* Append p[0..n) to out escaped, cutting it with "..." so that no more than
 * LOG_MSG_MAX bytes are added. */
static int
log_escape(struct str *out, const char *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t start = out->len, i, k;
	unsigned char c;
	char e[4];

	for (i = 0; i < n; i++) {
		c = (unsigned char)p[i];
		k = 2;
		e[0] = '\\';
		if (c == '\n')
			e[1] = 'n';
		else if (c == '\r')
			e[1] = 'r';
		else if (c == '\t')
			e[1] = 't';
		else if (c == '\\')
			e[1] = '\\';
		else if (c >= 0x20 && c < 0x7f) {
			e[0] = (char)c;
			k = 1;
		} else {
			e[1] = 'x';
			e[2] = hex[c >> 4];
			e[3] = hex[c & 15];
			k = 4;
		}
		if (out->len - start + k > LOG_MSG_MAX - 3)
			return str_appends(out, "...");
		if (str_append(out, e, k) < 0)
			return -1;
	}
	return 0;
}

/* Write all of p to stderr, ignoring failures: there is nowhere to report
 * them. */
static void
log_write_stderr(const char *p, size_t n)
{
	ssize_t r;

	while (n > 0) {
		r = write(STDERR_FILENO, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return;
		p += r;
		n -= (size_t)r;
	}
}

static void log_emit(int prio, const char *tag, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static void
log_emit(int prio, const char *tag, const char *fmt, va_list ap)
{
	static const char nomem[] = "(log: out of memory)";
	struct str raw = STR_INIT, line = STR_INIT;
	const char *prog = log_state.prog[0] ? log_state.prog :
	    program_invocation_short_name;
	const char *sid = log_state.sid[0] ? log_state.sid : "-";
	int ok;

	ok = str_vappendf(&raw, fmt, ap) == 0;
	if (!log_state.use_syslog)
		ok = ok && str_appendf(&line, "%s[%ld]: ", prog,
		    (long)getpid()) == 0;
	ok = ok && str_appendf(&line, "%s: %s", sid, tag) == 0 &&
	    log_escape(&line, raw.s ? raw.s : "", raw.len) == 0;
	if (log_state.use_syslog)
		syslog(prio, "%s", ok ? line.s : nomem);
	else if (ok && str_appendc(&line, '\n') == 0)
		log_write_stderr(line.s, line.len);
	else
		log_write_stderr(nomem, sizeof(nomem) - 1);
	str_free(&raw);
	str_free(&line);
}

/* Each entry point keeps errno, so a caller may log and then return -1, and
 * %m in fmt reports the caller's errno. */
#define LOG_BODY(prio, tag) do {			\
	int saved_errno = errno;			\
	va_list ap;					\
	va_start(ap, fmt);				\
	log_emit(prio, tag, fmt, ap);			\
	va_end(ap);					\
	errno = saved_errno;				\
} while (0)

void
log_info(const char *fmt, ...)
{
	LOG_BODY(LOG_INFO, "");
}

void
log_warn(const char *fmt, ...)
{
	LOG_BODY(LOG_WARNING, "warning: ");
}

void
log_err(const char *fmt, ...)
{
	LOG_BODY(LOG_ERR, "error: ");
}

void
log_debug(const char *fmt, ...)
{
	if (!log_state.debug)
		return;
	LOG_BODY(LOG_DEBUG, "debug: ");
}
