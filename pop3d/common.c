/* SPDX-License-Identifier: ISC */
/*
 * pop3d: what both states share: command lines, replies, limits.
 */
#include "pop3d.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

void
pop3_limits(const struct instance *inst, struct pop3_limits *lim)
{
	lim->timeout = (unsigned)conf_num(inst->conf, "pop3_timeout");
	lim->error_limit = (unsigned)conf_num(inst->conf, "pop3_error_limit");
	if (lim->timeout == 0)
		lim->timeout = 600;
	if (lim->error_limit == 0)
		lim->error_limit = 10;
}

int
pop3_parse(const char *line, struct pop3_cmd *cmd)
{
	size_t i;

	memset(cmd, 0, sizeof *cmd);
	for (i = 0; i < 4 && line[i] != '\0' && line[i] != ' '; i++) {
		if (!((line[i] >= 'a' && line[i] <= 'z') ||
		    (line[i] >= 'A' && line[i] <= 'Z')))
			return -1;
		cmd->kw[i] = (char)(line[i] & ~0x20);
	}
	if (i < 3 || (line[i] != '\0' && line[i] != ' '))
		return -1;
	cmd->args = line[i] == ' ' ? line + i + 1 : "";
	return 0;
}

int
pop3_getline(struct io *io, struct str *line, size_t max)
{
	int r = io_getline(io, line, max);

	if (r <= 0)
		return r;
	if (line->len > 0 && line->s[line->len - 1] == '\n')
		str_truncate(line, line->len - 1);
	if (line->len > 0 && line->s[line->len - 1] == '\r')
		str_truncate(line, line->len - 1);
	/* a NUL would cut the line short for the string functions: refuse
	 * it like an over-long line */
	if (line->len > 0 && memchr(line->s, '\0', line->len) != NULL) {
		str_clear(line);
		errno = EINVAL;
		return -1;
	}
	return 1;
}

int
pop3_flush_if_idle(struct io *io)
{
	return io_pending(io) == 0 ? io_flush(io) : 0;
}

int
pop3_reply(struct io *io, int ok, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (io_puts(io, ok ? "+OK " : "-ERR ") < 0)
		return -1;
	va_start(ap, fmt);
	r = io_vprintf(io, fmt, ap);
	va_end(ap);
	if (r < 0 || io_puts(io, "\r\n") < 0)
		return -1;
	return pop3_flush_if_idle(io);
}

uint32_t
pop3_msgno(const char *s, const char **end_r, uint32_t max)
{
	uint32_t n = 0;
	size_t i;

	for (i = 0; s[i] >= '0' && s[i] <= '9'; i++) {
		if (i >= 9 || (i == 1 && s[0] == '0'))
			return 0;
		n = n * 10 + (uint32_t)(s[i] - '0');
	}
	if (end_r != NULL)
		*end_r = s + i;
	if (i == 0 || n == 0 || n > max)
		return 0;
	return n;
}
