/* SPDX-License-Identifier: ISC */
/*
 * login: the checker's decisions.  Everything here runs as root in the
 * process that never parses client input itself: it only sees the frames
 * of login.h, and it remembers which user it verified so that a subverted
 * pre-login process cannot ask for anybody else's session.
 */
#include "login.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "table.h"
#include "users.h"

void
login_checker_init(struct login_checker *c, const struct login_backend *be,
    void *be_arg, const char *challenge, unsigned max_failures,
    unsigned delay_ms)
{
	memset(c, 0, sizeof *c);
	c->be = be;
	c->be_arg = be_arg;
	c->challenge = challenge != NULL ? challenge : "";
	c->max_failures = max_failures;
	c->delay_ms = delay_ms;
	str_init(&c->verified, LOGIN_FIELD_MAX);
}

void
login_checker_free(struct login_checker *c)
{
	str_free(&c->verified);
}

static void
checker_sleep(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Whether a field is a plausible text value: no NUL, no control bytes
 * (checked for user names and digests; passwords may hold anything but
 * NUL, which the framing already excludes). */
static int
checker_printable(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > LOGIN_FIELD_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] == 0x7f)
			return 0;
	return 1;
}

/* A refusal: count it; 'X' once there were too many. */
static int
checker_refuse(struct login_checker *c, unsigned char *reply_r,
    struct str *reason_r, const char *why)
{
	c->failures++;
	str_clear(&c->verified);
	if (c->delay_ms > 0)
		checker_sleep(c->delay_ms);
	if (c->max_failures > 0 && c->failures >= c->max_failures) {
		*reply_r = 'X';
		str_appends(reason_r, "too many failures");
		c->closed = 1;
		return -1;
	}
	*reply_r = 'N';
	str_appends(reason_r, why);
	return 0;
}

static int
checker_protocol(struct login_checker *c, unsigned char *reply_r,
    struct str *reason_r, const char *why)
{
	*reply_r = 'X';
	str_appends(reason_r, why);
	c->closed = 1;
	return -1;
}

/* 'P' and 'A'. */
static int
checker_credential(struct login_checker *c, const struct login_frame *f,
    unsigned char *reply_r, struct str *reason_r)
{
	struct str user = STR_INIT, secret = STR_INIT, canon = STR_INIT;
	int r;

	/* a name no user can have, or a password longer than any: a plain
	 * refusal (SASL lets clients send such names), counted */
	if (!checker_printable(f->field[0], f->len[0]) ||
	    f->len[1] > LOGIN_FIELD_MAX)
		return checker_refuse(c, reply_r, reason_r,
		    "authentication failed");
	if (str_append(&user, f->field[0], f->len[0]) < 0 ||
	    str_append(&secret, f->field[1], f->len[1]) < 0) {
		r = LOGIN_TEMP;
		goto out;
	}
	if (f->type == 'P')
		r = c->be->password(c->be_arg, user.s, str_cstr(&secret),
		    &canon);
	else if (c->challenge[0] == '\0' || c->be->apop == NULL)
		r = LOGIN_NO;
	else
		r = c->be->apop(c->be_arg, user.s, c->challenge,
		    str_cstr(&secret), &canon);
out:
	if (secret.s != NULL)
		explicit_bzero(secret.s, secret.len);
	str_free(&secret);
	str_free(&user);
	if (r == LOGIN_YES) {
		str_clear(&c->verified);
		r = str_append(&c->verified, canon.s, canon.len) < 0 ?
		    LOGIN_TEMP : LOGIN_YES;
	}
	str_free(&canon);
	if (r == LOGIN_YES) {
		*reply_r = 'Y';
		return 0;
	}
	if (r == LOGIN_TEMP) {
		*reply_r = 'T';
		str_appends(reason_r, "temporary failure");
		return 0;
	}
	return checker_refuse(c, reply_r, reason_r, "authentication failed");
}

/* 'L': only the user verified last, only once. */
static int
checker_start(struct login_checker *c, const struct login_frame *f,
    unsigned char *reply_r, struct str *reason_r, struct login_start *st)
{
	struct str user = STR_INIT;
	int same;

	if (c->started || c->verified.len == 0)
		return checker_protocol(c, reply_r, reason_r,
		    "no verified user");
	if (!checker_printable(f->field[0], f->len[0]) ||
	    f->len[1] > 1 || (f->len[1] == 1 && f->field[1][0] != 'T') ||
	    f->len[2] > LOGIN_RESUME_MAX ||
	    (f->len[2] > 0 && !checker_printable(f->field[2], f->len[2])))
		return checker_protocol(c, reply_r, reason_r, "bad request");
	/* The name asked for may be NAME@DOMAIN; the checker's backend made
	 * the bare name, so compare with what it verified: the request
	 * names the same user exactly or by its bare name. */
	same = f->len[0] >= c->verified.len &&
	    strncasecmp(f->field[0], c->verified.s, c->verified.len) == 0 &&
	    (f->len[0] == c->verified.len || f->field[0][c->verified.len] ==
	    '@');
	str_free(&user);
	if (!same)
		return checker_protocol(c, reply_r, reason_r,
		    "not the verified user");
	memset(st, 0, sizeof *st);
	st->user = strdup(c->verified.s);
	st->resume = strndup(f->field[2], f->len[2]);
	if (st->user == NULL || st->resume == NULL) {
		free(st->user);
		free(st->resume);
		memset(st, 0, sizeof *st);
		*reply_r = 'T';
		str_appends(reason_r, "out of memory");
		return 0;
	}
	st->proxy = f->len[1] == 1;
	st->pending = f->field[3];
	st->npending = f->len[3];
	c->started = 1;
	return 1;
}

int
login_checker_handle(struct login_checker *c, unsigned char type,
    const char *payload, size_t len, unsigned char *reply_r,
    struct str *reason_r, struct login_start *start_r)
{
	struct login_frame f;

	str_clear(reason_r);
	if (c->closed) {
		*reply_r = 'X';
		return -1;
	}
	switch (type) {
	case 'P':
	case 'A':
		if (login_frame_decode(type, payload, len, 2, &f) < 0)
			break;
		return checker_credential(c, &f, reply_r, reason_r);
	case 'L':
		if (login_frame_decode(type, payload, len, 4, &f) < 0)
			break;
		return checker_start(c, &f, reply_r, reason_r, start_r);
	default:
		break;
	}
	return checker_protocol(c, reply_r, reason_r, "bad request");
}

void
login_apop_digest(const char *challenge, const char *secret,
    size_t secret_len, char *hex_r)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	hex_r[0] = '\0';
	if (ctx == NULL)
		return;
	/* MD5 is what RFC 1939 defines APOP with; nothing else here uses
	 * it. */
	if (EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, challenge, strlen(challenge)) == 1 &&
	    EVP_DigestUpdate(ctx, secret, secret_len) == 1 &&
	    EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 16) {
		for (i = 0; i < mdlen; i++) {
			hex_r[2 * i] = hex[md[i] >> 4];
			hex_r[2 * i + 1] = hex[md[i] & 15];
		}
		hex_r[2 * mdlen] = '\0';
	}
	EVP_MD_CTX_free(ctx);
}

int
login_secret_encode(const char *pw, struct str *hex_r)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; pw[i] != '\0'; i++)
		if (str_appendc(hex_r, hex[(unsigned char)pw[i] >> 4]) < 0 ||
		    str_appendc(hex_r, hex[(unsigned char)pw[i] & 15]) < 0)
			return -1;
	return 0;
}

static int
secret_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
login_secret_decode(const char *hex, struct str *pw_r)
{
	size_t i, len = strlen(hex);
	int hi, lo;

	if (len == 0 || len % 2 != 0 || len / 2 > USERS_PASSWORD_MAX) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < len; i += 2) {
		hi = secret_nibble(hex[i]);
		lo = secret_nibble(hex[i + 1]);
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
			errno = EINVAL;
			return -1;
		}
		if (str_appendc(pw_r, (char)(hi << 4 | lo)) < 0)
			return -1;
	}
	return 0;
}

/* The real backend: arg is the struct instance. */
static int
users_be_password(void *arg, const char *user, const char *pw,
    struct str *canon_r)
{
	struct str err = STR_INIT;
	struct user u;
	int r;

	memset(&u, 0, sizeof u);
	r = users_lookup(arg, user, &u, &err);
	if (r < 0) {
		str_free(&err);
		return LOGIN_TEMP;
	}
	str_free(&err);
	if (r == 0) {
		/* spend the time a hash check would, so that unknown names
		 * do not answer faster */
		struct user dummy = { NULL, "$6$zestzestzestzest$x", 0, 0,
		    NULL };
		(void)users_check_password(&dummy, pw);
		return LOGIN_NO;
	}
	r = users_check_password(&u, pw) == 1 ? LOGIN_YES : LOGIN_NO;
	if (r == LOGIN_YES && str_appends(canon_r, u.name) < 0)
		r = LOGIN_TEMP;
	users_free(&u);
	return r;
}

static int
users_be_apop(void *arg, const char *user, const char *challenge,
    const char *digest, struct str *canon_r)
{
	const struct instance *inst = arg;
	struct str err = STR_INIT, path = STR_INIT, val = STR_INIT;
	struct str pw = STR_INIT;
	struct table *t = NULL;
	struct user u;
	char want[2 * EVP_MAX_MD_SIZE + 1];
	int r;

	memset(&u, 0, sizeof u);
	r = users_lookup(inst, user, &u, &err);
	if (r <= 0) {
		r = r < 0 ? LOGIN_TEMP : LOGIN_NO;
		goto out;
	}
	r = LOGIN_TEMP;
	if (str_appendf(&path, "%s/%s.cdb", inst->tables_dir,
	    LOGIN_SECRETS_TABLE) < 0)
		goto out;
	if ((t = table_open(path.s)) == NULL) {
		r = errno == ENOENT ? LOGIN_NO : LOGIN_TEMP;
		goto out;
	}
	if ((r = table_lookup(t, u.name, &val)) <= 0) {
		r = r < 0 ? LOGIN_TEMP : LOGIN_NO;
		goto out;
	}
	if (login_secret_decode(val.s, &pw) < 0) {
		r = LOGIN_NO;
		goto out;
	}
	login_apop_digest(challenge, pw.s, pw.len, want);
	r = strlen(digest) == 32 && strlen(want) == 32 &&
	    CRYPTO_memcmp(want, digest, 32) == 0 ? LOGIN_YES : LOGIN_NO;
	if (r == LOGIN_YES && str_appends(canon_r, u.name) < 0)
		r = LOGIN_TEMP;
out:
	if (pw.s != NULL)
		explicit_bzero(pw.s, pw.len);
	if (val.s != NULL)
		explicit_bzero(val.s, val.len);
	table_close(&t);
	users_free(&u);
	str_free(&err);
	str_free(&path);
	str_free(&val);
	str_free(&pw);
	return r;
}

static const struct login_backend users_backend = {
	users_be_password, users_be_apop
};

const struct login_backend *
login_users_backend(void)
{
	return &users_backend;
}

int
login_pbs_record(const struct instance *inst, const char *ip,
    unsigned minutes)
{
	struct str dir = STR_INIT, path = STR_INIT;
	struct timespec ts[2];
	int fd, r = -1;

	if (ip[0] == '\0' || strchr(ip, '/') != NULL || ip[0] == '.')
		return -1;
	if (str_appendf(&dir, "%s/%s", inst->run_dir, LOGIN_PBS_DIR) < 0 ||
	    str_appendf(&path, "%s/%s", dir.s, ip) < 0)
		goto out;
	if (mkdir(dir.s, 0755) < 0 && errno != EEXIST)
		goto out;
	fd = open(path.s, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		goto out;
	/* mtime = when the permission ends; smtpd compares it to now */
	ts[0].tv_sec = ts[1].tv_sec = time(NULL) + (time_t)minutes * 60;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	r = futimens(fd, ts);
	close(fd);
out:
	str_free(&dir);
	str_free(&path);
	return r;
}
