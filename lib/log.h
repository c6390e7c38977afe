/* SPDX-License-Identifier: ISC */
#ifndef ZEST_LOG_H
#define ZEST_LOG_H

/*
 * log: the process's log, to syslog (facility LOG_MAIL) or to stderr.
 *
 * Every line names the program, the pid and the session id ("-" outside a
 * session).  On stderr a line reads "prog[pid]: sid: message"; to syslog the
 * message is "sid: message" under openlog(prog, LOG_PID, LOG_MAIL).
 * Warnings, errors and debug lines carry a "warning: ", "error: " or
 * "debug: " prefix before the message, like Postfix.
 *
 * Messages often carry peer data, so every byte outside printable ASCII, and
 * the backslash, is written as an escape (\n, \r, \t, \\, \xHH), and a
 * message is cut at LOG_MSG_MAX bytes after escaping (ending in "...").
 *
 * State: this module keeps the one piece of file-scope mutable state allowed
 * in lib/ (program name, session id, sink, debug flag), because the log is
 * process-wide, as syslog's own state is.  Not thread-safe.
 */

#include <stddef.h>

#define LOG_MSG_MAX 2048
#define LOG_SID_MAX 32		/* a session id is cut to LOG_SID_MAX - 1 */
#define LOG_SID_LEN 12		/* length of log_new_session_id()'s ids */

/* Start logging as prog: to stderr when to_stderr is non-zero or the
 * environment has ZEST_LOG=stderr, else to syslog.  May be called again.
 * Returns 0, or -1 with errno EINVAL when prog is NULL or empty. */
int log_open(const char *prog, int to_stderr);

/* Stop logging to syslog (closelog); later lines go to stderr. */
void log_close(void);

/* Tag later lines with session id (NULL or "" clears it); bytes other than
 * letters, digits, '.', '-' and '_' are replaced by '?'. */
void log_set_session(const char *id);

/* Enable (non-zero) or disable log_debug() output. */
void log_set_debug(int on);

/* Write a fresh random session id of LOG_SID_LEN base32 characters into buf
 * (cut to n - 1 characters when n is smaller), NUL-terminated. */
void log_new_session_id(char *buf, size_t n);

/* Log at LOG_INFO. */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Log at LOG_WARNING, with "warning: " before the message. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Log at LOG_ERR, with "error: " before the message. */
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Log at LOG_DEBUG, with "debug: ", only when log_set_debug(1) was called. */
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
