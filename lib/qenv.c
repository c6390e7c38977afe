/* SPDX-License-Identifier: ISC */
#include "qenv.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <unistd.h>

/* The bit of a record letter in qenv.seen. */
#define QENV_BIT(c) (1u << ((c) - 'A'))

static const char qenv_hex[] = "0123456789ABCDEF";

void
qenv_init(struct qenv *e, unsigned flags, size_t max_rcpt)
{
	memset(e, 0, sizeof *e);
	e->arrival = -1;
	e->uid = -1;
	e->flags = flags;
	e->max_rcpt = max_rcpt;
}

void
qenv_free(struct qenv *e)
{
	size_t i;

	for (i = 0; i < e->nrcpt; i++) {
		free(e->rcpt[i].addr);
		free(e->rcpt[i].notify);
		free(e->rcpt[i].orcpt);
	}
	free(e->rcpt);
	free(e->id);
	free(e->sender);
	free(e->envid);
	free(e->client);
	qenv_init(e, e->flags, e->max_rcpt);
}

/* Fail with a message naming the line. */
static int __attribute__((format(printf, 3, 4)))
qenv_fail(const struct qenv *e, struct str *err, const char *fmt, ...)
{
	va_list ap;

	str_clear(err);
	str_appendf(err, "envelope line %u: ", e->lines);
	va_start(ap, fmt);
	str_vappendf(err, fmt, ap);
	va_end(ap);
	errno = EINVAL;
	return -1;
}

/* An address: at most QENV_ADDR_MAX bytes, no control bytes, no <>. */
static int
qenv_addr_ok(const char *s, size_t len, int allow_empty)
{
	size_t i;

	if (len > QENV_ADDR_MAX || (len == 0 && !allow_empty))
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f || c == '<' || c == '>')
			return 0;
	}
	return 1;
}

static int
qenv_has8bit(const char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return 1;
	return 0;
}

static int
qenv_hexval(char c)
{
	const char *p = strchr(qenv_hex, c);

	return c != '\0' && p != NULL ? (int)(p - qenv_hex) : -1;
}

int
qenv_xtext_valid(const char *s, size_t len, int utf8)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '+') {
			if (len - i < 3 || qenv_hexval(s[i + 1]) < 0 ||
			    qenv_hexval(s[i + 2]) < 0)
				return 0;
			i += 2;
		} else if (c == '=' || c < 33 || c == 127 ||
		    (c > 127 && !utf8))
			return 0;
	}
	return 1;
}

int
qenv_xtext_decode(const char *s, struct str *out)
{
	size_t len = strlen(s), i, old = out->len;

	if (!qenv_xtext_valid(s, len, 1)) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (c == '+') {
			c = (char)(qenv_hexval(s[i + 1]) * 16 +
			    qenv_hexval(s[i + 2]));
			i += 2;
		}
		if (str_appendc(out, c) < 0) {
			str_truncate(out, old);
			return -1;
		}
	}
	return 0;
}

int
qenv_xtext_encode(const char *s, struct str *out)
{
	size_t old = out->len;
	int r = 0;

	for (; *s != '\0' && r == 0; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 33 || c > 126 || c == '+' || c == '=')
			r = str_appendf(out, "+%c%c", qenv_hex[c >> 4],
			    qenv_hex[c & 15]);
		else
			r = str_appendc(out, (char)c);
	}
	if (r < 0)
		str_truncate(out, old);
	return r;
}

int
qenv_orcpt_valid(const char *s, int utf8)
{
	size_t len = strlen(s), i;
	const char *semi = strchr(s, ';');

	if (len > QENV_ORCPT_MAX || semi == NULL || semi == s)
		return 0;
	for (i = 0; s + i < semi; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-'))
			return 0;
	}
	semi++;
	return *semi != '\0' && qenv_xtext_valid(semi, strlen(semi), utf8);
}

int
qenv_notify_parse(const char *s, unsigned *bits_r)
{
	static const struct {
		const char *name;
		unsigned bit;
	} words[] = {
		{ "NEVER", QENV_NOTIFY_NEVER },
		{ "SUCCESS", QENV_NOTIFY_SUCCESS },
		{ "FAILURE", QENV_NOTIFY_FAILURE },
		{ "DELAY", QENV_NOTIFY_DELAY },
	};
	unsigned bits = 0, bit;
	size_t n, i;

	while (*s != '\0') {
		n = strcspn(s, ",");
		bit = 0;
		for (i = 0; i < sizeof words / sizeof words[0]; i++)
			if (strlen(words[i].name) == n &&
			    strncasecmp(s, words[i].name, n) == 0)
				bit = words[i].bit;
		if (bit == 0 || (bits & bit) != 0)
			goto bad;
		bits |= bit;
		s += n;
		if (*s == ',' && *++s == '\0')
			goto bad;
	}
	if ((bits & QENV_NOTIFY_NEVER) && bits != QENV_NOTIFY_NEVER)
		goto bad;
	*bits_r = bits;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

int
qenv_id_valid(const char *id)
{
	size_t i, group = 0, groups = 1;

	if (id == NULL || strlen(id) > QENV_ID_MAX)
		return 0;
	for (i = 0; id[i] != '\0'; i++) {
		if (id[i] == '.') {
			if (group == 0)
				return 0;
			groups++;
			group = 0;
		} else if ((id[i] >= '0' && id[i] <= '9') ||
		    (id[i] >= 'a' && id[i] <= 'f')) {
			if (++group > 16)
				return 0;
		} else
			return 0;
	}
	return groups == 3 && group > 0;
}

int
qenv_id_new(struct str *out)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	str_clear(out);
	return str_appendf(out, "%llx.%05lx.%lx", (unsigned long long)
	    tv.tv_sec, (unsigned long)tv.tv_usec, (unsigned long)getpid());
}

/* Parse a decimal number of 1..18 digits. */
static int
qenv_number(const char *s, size_t len, long long *n_r)
{
	long long n = 0;
	size_t i;

	if (len == 0 || len > 18)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		n = n * 10 + (s[i] - '0');
	}
	*n_r = n;
	return 0;
}

/* Copy len bytes into a new string at *dst. */
static int
qenv_dup(char **dst, const char *s, size_t len)
{
	char *p = malloc(len + 1);

	if (p == NULL)
		return -1;
	memcpy(p, s, len);
	p[len] = '\0';
	free(*dst);
	*dst = p;
	return 0;
}

int
qenv_add_rcpt(struct qenv *e, const char *addr, const char *notify,
    const char *orcpt)
{
	struct qenv_rcpt *r;
	unsigned bits;
	size_t ncap;

	if (!qenv_addr_ok(addr, strlen(addr), 0) ||
	    qenv_notify_parse(notify, &bits) < 0 ||
	    (*orcpt != '\0' && !qenv_orcpt_valid(orcpt, 1)) ||
	    strchr(addr, '\t') != NULL) {
		errno = EINVAL;
		return -1;
	}
	if (e->max_rcpt != 0 && e->nrcpt >= e->max_rcpt) {
		errno = E2BIG;
		return -1;
	}
	if (e->nrcpt == e->cap) {
		ncap = e->cap ? e->cap * 2 : 8;
		if ((r = reallocarray(e->rcpt, ncap, sizeof *r)) == NULL)
			return -1;
		e->rcpt = r;
		e->cap = ncap;
	}
	r = &e->rcpt[e->nrcpt];
	memset(r, 0, sizeof *r);
	if (qenv_dup(&r->addr, addr, strlen(addr)) < 0 ||
	    qenv_dup(&r->notify, notify, strlen(notify)) < 0 ||
	    qenv_dup(&r->orcpt, orcpt, strlen(orcpt)) < 0) {
		free(r->addr);
		free(r->notify);
		free(r->orcpt);
		return -1;
	}
	e->nrcpt++;
	return 0;
}

/* An R line: address TAB notify TAB orcpt. */
static int
qenv_rline(struct qenv *e, const char *v, size_t len, struct str *err)
{
	char buf[QENV_LINE_MAX];
	char *t1, *t2;

	memcpy(buf, v, len);
	buf[len] = '\0';
	if ((t1 = strchr(buf, '\t')) == NULL ||
	    (t2 = strchr(t1 + 1, '\t')) == NULL || strchr(t2 + 1, '\t'))
		return qenv_fail(e, err, "R needs three tab-separated fields");
	*t1++ = '\0';
	*t2++ = '\0';
	if (qenv_add_rcpt(e, buf, t1, t2) == 0)
		return 0;
	if (errno == E2BIG) {
		qenv_fail(e, err, "too many recipients (at most %zu)",
		    e->max_rcpt);
		errno = E2BIG;
		return -1;
	}
	if (errno == ENOMEM)
		return qenv_fail(e, err, "out of memory");
	return qenv_fail(e, err, "invalid recipient, NOTIFY or ORCPT");
}

/* The offset of a V2 line: 1 to 12 digits, no leading zero, at most
 * QENV_FILE_ENV_MAX. */
static int
qenv_offset(const char *v, size_t len, unsigned long long *off_r)
{
	unsigned long long n = 0;
	size_t i;

	if (len == 0 || len > 12 || v[0] == '0')
		return -1;
	for (i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		n = n * 10 + (unsigned long long)(v[i] - '0');
	}
	if (n > QENV_FILE_ENV_MAX)
		return -1;
	*off_r = n;
	return 0;
}

/* The records whose value is a keyword. */
static int
qenv_keyword(struct qenv *e, char c, const char *v)
{
	switch (c) {
	case 'V':
		if (strcmp(v, "1") == 0) {
			e->version = 1;
			return 0;
		}
		if (!(e->flags & QENV_STORED) || strncmp(v, "2 ", 2) != 0 ||
		    qenv_offset(v + 2, strlen(v + 2), &e->msg_offset) < 0)
			return -1;
		e->version = 2;
		return 0;
	case 'X':
		if (strcmp(v, "FULL") == 0)
			e->ret = QENV_RET_FULL;
		else if (strcmp(v, "HDRS") == 0)
			e->ret = QENV_RET_HDRS;
		else
			return -1;
		return 0;
	case 'B':
		if (strcmp(v, "7BIT") == 0)
			e->body = QENV_BODY_7BIT;
		else if (strcmp(v, "8BITMIME") == 0)
			e->body = QENV_BODY_8BITMIME;
		else if (strcmp(v, "BINARYMIME") == 0)
			e->body = QENV_BODY_BINARYMIME;
		else
			return -1;
		return 0;
	case 'U':
		e->smtputf8 = 1;
		return *v == '\0' ? 0 : -1;
	case 'E':
		e->expanded = 1;
		return *v == '\0' ? 0 : -1;
	}
	return -1;
}

/* A single record with a value: I, T, A, F, N, C and the keywords. */
static int
qenv_single(struct qenv *e, char c, const char *v, size_t len,
    struct str *err)
{
	int r = 0;

	switch (c) {
	case 'I':
		if (!qenv_id_valid(v))
			return qenv_fail(e, err, "invalid queue id");
		r = qenv_dup(&e->id, v, len);
		break;
	case 'T':
	case 'A':
		if (qenv_number(v, len, c == 'T' ? &e->arrival : &e->uid) < 0)
			return qenv_fail(e, err, "invalid number");
		break;
	case 'F':
		if (!qenv_addr_ok(v, len, 1))
			return qenv_fail(e, err, "invalid sender");
		r = qenv_dup(&e->sender, v, len);
		break;
	case 'N':
		if (len == 0 || len > QENV_ENVID_MAX ||
		    !qenv_xtext_valid(v, len, 1))
			return qenv_fail(e, err, "invalid ENVID");
		r = qenv_dup(&e->envid, v, len);
		break;
	case 'C':
		if (len > QENV_CLIENT_MAX)
			return qenv_fail(e, err, "client text too long");
		r = qenv_dup(&e->client, v, len);
		break;
	default:
		if (qenv_keyword(e, c, v) < 0)
			return qenv_fail(e, err, "invalid value for %c", c);
	}
	if (r < 0)
		return qenv_fail(e, err, "out of memory");
	return 0;
}

/* Whether record c may appear under the parser's flags. */
static int
qenv_allowed(const struct qenv *e, char c)
{
	if (strchr("VITAFXNBUCER", c) == NULL)
		return 0;
	return !((e->flags & QENV_INPUT) && strchr("ITAE", c) != NULL);
}

int
qenv_line(struct qenv *e, const char *line, size_t len, struct str *err)
{
	char c;
	size_t i;

	e->lines++;
	if (len == 0)
		return qenv_fail(e, err, "empty line");
	if (len >= QENV_LINE_MAX)
		return qenv_fail(e, err, "line too long");
	c = line[0];
	if ((e->lines == 1) != (c == 'V'))
		return qenv_fail(e, err, "V1 must come first, once");
	if (c < 'A' || c > 'Z' || !qenv_allowed(e, c))
		return qenv_fail(e, err, "unexpected record '%c'",
		    (unsigned char)c >= 0x20 && (unsigned char)c < 0x7f ?
		    c : '?');
	for (i = 1; i < len; i++) {
		unsigned char b = (unsigned char)line[i];

		if ((b < 0x20 && !(b == '\t' && c == 'R')) || b == 0x7f)
			return qenv_fail(e, err, "control byte in value");
	}
	if (c == 'R')
		return qenv_rline(e, line + 1, len - 1, err);
	if (e->seen & QENV_BIT(c))
		return qenv_fail(e, err, "record %c repeated", c);
	e->seen |= QENV_BIT(c);
	{
		char buf[QENV_LINE_MAX];

		memcpy(buf, line + 1, len - 1);
		buf[len - 1] = '\0';
		return qenv_single(e, c, buf, len - 1, err);
	}
}

int
qenv_finish(struct qenv *e, struct str *err)
{
	size_t i;
	int eight = 0;

	e->lines++;
	if (!(e->seen & QENV_BIT('V')))
		return qenv_fail(e, err, "no V1 record");
	if (e->sender == NULL)
		return qenv_fail(e, err, "no F record");
	if (e->nrcpt == 0)
		return qenv_fail(e, err, "no R record");
	if ((e->flags & QENV_STORED) &&
	    (e->id == NULL || e->arrival < 0 || e->uid < 0))
		return qenv_fail(e, err, "stored envelope lacks I, T or A");
	eight = qenv_has8bit(e->sender) || qenv_has8bit(e->envid);
	for (i = 0; i < e->nrcpt && !eight; i++)
		eight = qenv_has8bit(e->rcpt[i].addr) ||
		    qenv_has8bit(e->rcpt[i].orcpt);
	if (eight && !e->smtputf8)
		return qenv_fail(e, err, "8-bit address without U");
	return 0;
}

int
qenv_parse(struct qenv *e, const char *text, size_t len, unsigned flags,
    size_t max_rcpt, struct str *err)
{
	const char *p = text, *end = text + len, *nl;

	qenv_init(e, flags, max_rcpt);
	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL) {
			e->lines++;
			return qenv_fail(e, err, "line without LF");
		}
		if (qenv_line(e, p, (size_t)(nl - p), err) < 0)
			return -1;
		p = nl + 1;
	}
	if (e->version == 2 && e->msg_offset != len) {
		e->lines++;
		return qenv_fail(e, err, "V2 says %llu bytes of envelope, "
		    "not %zu", e->msg_offset, len);
	}
	return qenv_finish(e, err);
}

int
qenv_format_head(const struct qenv *e, struct str *out)
{
	static const char *const body[] = { "7BIT", "8BITMIME", "BINARYMIME" };
	size_t old = out->len;
	int r;

	r = str_appendf(out, "V%d\n", QENV_VERSION);
	if (r == 0 && e->id != NULL)
		r = str_appendf(out, "I%s\n", e->id);
	if (r == 0 && e->arrival >= 0)
		r = str_appendf(out, "T%lld\n", e->arrival);
	if (r == 0 && e->uid >= 0)
		r = str_appendf(out, "A%lld\n", e->uid);
	if (r == 0)
		r = str_appendf(out, "F%s\n", e->sender ? e->sender : "");
	if (r == 0 && e->ret != QENV_RET_NONE)
		r = str_appendf(out, "X%s\n", e->ret == QENV_RET_FULL ?
		    "FULL" : "HDRS");
	if (r == 0 && e->envid != NULL)
		r = str_appendf(out, "N%s\n", e->envid);
	if (r == 0 && e->body != QENV_BODY_7BIT)
		r = str_appendf(out, "B%s\n", body[e->body]);
	if (r == 0 && e->smtputf8)
		r = str_appends(out, "U\n");
	if (r == 0 && e->client != NULL)
		r = str_appendf(out, "C%s\n", e->client);
	if (r == 0 && e->expanded)
		r = str_appends(out, "E\n");
	if (r < 0)
		str_truncate(out, old);
	return r;
}

int
qenv_format_rcpt(const struct qenv_rcpt *r, struct str *out)
{
	return str_appendf(out, "R%s\t%s\t%s\n", r->addr, r->notify,
	    r->orcpt);
}

int
qenv_format(const struct qenv *e, struct str *out)
{
	size_t old = out->len, i;

	if (qenv_format_head(e, out) < 0)
		return -1;
	for (i = 0; i < e->nrcpt; i++) {
		if (qenv_format_rcpt(&e->rcpt[i], out) < 0) {
			str_truncate(out, old);
			return -1;
		}
	}
	return 0;
}

/* A request field: 1..max bytes (0 allowed for the sender), no control
 * bytes, no <>, no spaces unless rest (the last field). */
static int
qenv_req_field(const char *s, size_t max, int rest)
{
	size_t n = strlen(s), i;

	if (n > max || (n == 0 && !rest))
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || s[i] == '<' ||
		    s[i] == '>' || (s[i] == ' ' && !rest))
			return 0;
	return 1;
}

/* Whether s is a user name: 1..64 of [a-z0-9._-], not starting with '.'
 * or '-' (as users_valid_name). */
static int
qenv_req_user(const char *s)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789._-");

	return n > 0 && n <= QENV_USER_MAX && s[n] == '\0' && s[0] != '.' &&
	    s[0] != '-';
}

/* Check the fields of req for its kind. */
static int
qenv_req_valid(const struct qenv_req *req)
{
	size_t n = strspn(req->job, "0123456789");

	if (n == 0 || n > QENV_JOB_MAX || req->job[n] != '\0' ||
	    !qenv_id_valid(req->id))
		return 0;
	if (req->kind == 'L')
		return qenv_req_user(req->user) &&
		    qenv_req_field(req->rcpt, QENV_ADDR_MAX, 0) &&
		    qenv_req_field(req->sender, QENV_ADDR_MAX, 1);
	return req->kind == 'M' &&
	    qenv_req_field(req->domain, QENV_ADDR_MAX, 0) &&
	    strchr(req->domain, '/') == NULL && req->domain[0] != '-';
}

/* Copy the next space-delimited field of *p (all the rest when rest) into
 * dst of size n; fails when it does not fit. */
static int
qenv_req_next(const char **p, char *dst, size_t n, int rest)
{
	const char *s = *p, *e;

	if (s == NULL)
		return -1;
	e = rest ? s + strlen(s) : strchr(s, ' ');
	if (e == NULL || (size_t)(e - s) >= n)
		return -1;
	memcpy(dst, s, (size_t)(e - s));
	dst[e - s] = '\0';
	*p = *e == ' ' ? e + 1 : NULL;
	return 0;
}

int
qenv_req_parse(const char *line, size_t len, struct qenv_req *req)
{
	char buf[QENV_LINE_MAX];
	const char *p = buf;
	int r;

	memset(req, 0, sizeof *req);
	if (len < 2 || len >= sizeof buf || memchr(line, '\0', len) != NULL ||
	    line[1] != ' ')
		goto bad;
	memcpy(buf, line, len);
	buf[len] = '\0';
	req->kind = buf[0];
	p += 2;
	if (qenv_req_next(&p, req->job, sizeof req->job, 0) < 0 ||
	    strspn(req->job, "0123456789") != strlen(req->job)) {
		req->job[0] = '\0';
		goto bad;
	}
	r = qenv_req_next(&p, req->id, sizeof req->id, 0);
	if (r == 0 && req->kind == 'L')
		r = qenv_req_next(&p, req->user, sizeof req->user, 0) == 0 &&
		    qenv_req_next(&p, req->rcpt, sizeof req->rcpt, 0) == 0 &&
		    qenv_req_next(&p, req->sender, sizeof req->sender, 1) == 0 ?
		    0 : -1;
	else if (r == 0 && req->kind == 'M')
		r = qenv_req_next(&p, req->domain, sizeof req->domain, 1);
	if (r == 0 && qenv_req_valid(req))
		return 0;
bad:
	errno = EINVAL;
	return -1;
}

int
qenv_req_format(const struct qenv_req *req, struct str *out)
{
	if (!qenv_req_valid(req)) {
		errno = EINVAL;
		return -1;
	}
	if (req->kind == 'L')
		return str_appendf(out, "L %s %s %s %s %s\n", req->job, req->id,
		    req->user, req->rcpt, req->sender);
	return str_appendf(out, "M %s %s %s\n", req->job, req->id,
	    req->domain);
}

int
qenv_format_file(const struct qenv *e, struct str *out)
{
	struct str body = STR_INIT;
	unsigned long long total = 0;
	size_t old = out->len, digits;
	char num[24];
	int r = -1;

	/* The V1 text, then its first line made "V2 <total length>": the
	 * number counts its own digits. */
	if (qenv_format(e, &body) < 0 || body.len < 3)
		goto out;
	for (digits = 1; digits < 20; digits++) {
		total = (unsigned long long)(body.len - 3) + 4 + digits;
		snprintf(num, sizeof num, "%llu", total);
		if (strlen(num) == digits)
			break;
	}
	if (total > QENV_FILE_ENV_MAX) {
		errno = E2BIG;
		goto out;
	}
	if (str_appendf(out, "V2 %s\n", num) < 0 ||
	    str_append(out, body.s + 3, body.len - 3) < 0) {
		str_truncate(out, old);
		goto out;
	}
	r = 0;
out:
	str_free(&body);
	return r;
}

int
qenv_file_head(const char *buf, size_t len, unsigned long long *off_r)
{
	const char *nl = memchr(buf, '\n', len);
	size_t n;

	errno = EINVAL;
	if (nl == NULL)
		return -1;
	n = (size_t)(nl - buf);
	if (n == 2 && memcmp(buf, "V1", 2) == 0) {
		*off_r = 0;
		return 1;
	}
	if (n < 4 || memcmp(buf, "V2 ", 3) != 0 ||
	    qenv_offset(buf + 3, n - 3, off_r) < 0 || *off_r < n + 1)
		return -1;
	return 2;
}

/* pread len bytes at off into out (appended); the bytes read, or -1. */
static ssize_t
qenv_pread(int fd, struct str *out, size_t len, off_t off)
{
	size_t done = 0;
	ssize_t n;

	if (str_ready(out, len + 1) < 0)
		return -1;
	while (done < len) {
		n = pread(fd, out->s + out->len, len - done,
		    off + (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		out->len += (size_t)n;
		done += (size_t)n;
	}
	out->s[out->len] = '\0';
	return (ssize_t)done;
}

int
qenv_file_read(int fd, size_t max, struct str *text, unsigned long long *off_r)
{
	struct str head = STR_INIT;
	size_t old = text->len;
	ssize_t n;
	int v;

	n = qenv_pread(fd, &head, QENV_FILE_HEAD_MAX, 0);
	v = n < 0 ? -1 : qenv_file_head(head.s, head.len, off_r);
	str_free(&head);
	if (v < 0)
		return -1;
	if (v == 2) {
		if (*off_r > max) {
			errno = EFBIG;
			return -1;
		}
		n = qenv_pread(fd, text, (size_t)*off_r, 0);
		if (n >= 0 && (unsigned long long)n != *off_r) {
			errno = EINVAL;	/* cut short */
			n = -1;
		}
	} else {
		/* V1: the whole file; one byte more than max is too big */
		n = qenv_pread(fd, text, max + 1, 0);
		if (n > (ssize_t)max) {
			errno = EFBIG;
			n = -1;
		}
	}
	if (n < 0) {
		str_truncate(text, old);
		return -1;
	}
	return v;
}
