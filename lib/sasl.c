/* SPDX-License-Identifier: ISC */
/*
 * sasl: libsasl2's server behind a small API (see sasl.h).  The options
 * callback pins the mechanisms to PLAIN and LOGIN and names a password
 * verifier that does not exist, so that when our checkpass callback says
 * no, libsasl2's fallback (sasldb, saslauthd) finds nothing to ask.
 */
#include "sasl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sasl/sasl.h>
#include <sasl/saslutil.h>

struct zsasl {
	sasl_conn_t *conn;
	zsasl_checkpass_fn *check;
	void *arg;
	int last;		/* the checker's last answer */
	sasl_callback_t cb[2];
};

/* libsasl2's options: only what we allow. */
static int
zsasl_getopt(void *context, const char *plugin_name, const char *option,
    const char **result, unsigned *len)
{
	if (strcmp(option, "mech_list") == 0)
		*result = "PLAIN LOGIN";
	else if (strcmp(option, "pwcheck_method") == 0)
		*result = "zest-checker";	/* no such verifier */
	else if (strcmp(option, "auxprop_plugin") == 0)
		*result = "zest-none";		/* no such store */
	else if (strcmp(option, "log_level") == 0)
		*result = "0";
	else
		return SASL_FAIL;
	if (len != NULL)
		*len = (unsigned)strlen(*result);
	return SASL_OK;
}

/* libsasl2 logs to syslog by default; keep it quiet (we log ourselves). */
static int
zsasl_log(void *context, int level, const char *message)
{
	return SASL_OK;
}

/* Load only the plugins of the mechanisms we offer: libsasl2 would open
 * every one it finds (NTLM, SCRAM, DIGEST-MD5, sasldb with Berkeley DB,
 * ...) in every pre-login process, about half of its start-up, only for
 * mech_list to hide them. */
static int
zsasl_verifyfile(void *context, const char *file, sasl_verify_type_t type)
{
	const char *base = strrchr(file, '/');

	if (type != SASL_VRFY_PLUGIN)
		return SASL_OK;
	base = base != NULL ? base + 1 : file;
	if (strncmp(base, "libplain.", 9) == 0 ||
	    strncmp(base, "liblogin.", 9) == 0)
		return SASL_OK;
	return SASL_CONTINUE;	/* skip it */
}

int
zsasl_global_init(const char *app)
{
	static sasl_callback_t cbs[] = {
		{ SASL_CB_GETOPT, (int (*)(void))(void (*)(void))zsasl_getopt, NULL },
		{ SASL_CB_LOG, (int (*)(void))(void (*)(void))zsasl_log, NULL },
		{ SASL_CB_VERIFYFILE,
		    (int (*)(void))(void (*)(void))zsasl_verifyfile, NULL },
		{ SASL_CB_LIST_END, NULL, NULL }
	};

	return sasl_server_init(cbs, app) == SASL_OK ? 0 : -1;
}

/* SASL_CB_SERVER_USERDB_CHECKPASS: the only way a password is checked. */
static int
zsasl_checkpass(sasl_conn_t *conn, void *context, const char *user,
    const char *pass, unsigned passlen, struct propctx *propctx)
{
	struct zsasl *z = context;
	char *pw;

	if (passlen > ZSASL_DATA_MAX || memchr(pass, '\0', passlen) != NULL) {
		z->last = 0;
		return SASL_BADAUTH;
	}
	if ((pw = strndup(pass, passlen)) == NULL) {
		z->last = -2;
		return SASL_TRYAGAIN;
	}
	z->last = z->check(z->arg, user, pw);
	explicit_bzero(pw, passlen);
	free(pw);
	if (z->last == 1)
		return SASL_OK;
	return z->last == 0 ? SASL_BADAUTH : SASL_TRYAGAIN;
}

struct zsasl *
zsasl_new(const char *service, const char *hostname,
    zsasl_checkpass_fn *check, void *arg, struct str *err)
{
	struct zsasl *z;
	int r;

	if ((z = calloc(1, sizeof *z)) == NULL) {
		str_appends(err, "out of memory");
		return NULL;
	}
	z->check = check;
	z->arg = arg;
	z->cb[0].id = SASL_CB_SERVER_USERDB_CHECKPASS;
	z->cb[0].proc = (int (*)(void))(void (*)(void))zsasl_checkpass;
	z->cb[0].context = z;
	z->cb[1].id = SASL_CB_LIST_END;
	r = sasl_server_new(service, hostname, NULL, NULL, NULL, z->cb, 0,
	    &z->conn);
	if (r != SASL_OK) {
		str_appendf(err, "sasl_server_new: %s",
		    sasl_errstring(r, NULL, NULL));
		free(z);
		return NULL;
	}
	return z;
}

void
zsasl_free(struct zsasl **zp)
{
	if (*zp == NULL)
		return;
	sasl_dispose(&(*zp)->conn);
	free(*zp);
	*zp = NULL;
}

/* Whether libsasl2 loaded the mechanism (e.g. libsasl2-modules is
 * installed). */
static int
zsasl_has(struct zsasl *z, const char *mech)
{
	const char *list = NULL;
	unsigned len = 0;
	int count = 0;
	const char *p;
	size_t n = strlen(mech);

	if (sasl_listmech(z->conn, NULL, "", " ", "", &list, &len,
	    &count) != SASL_OK || list == NULL)
		return 0;
	for (p = list; *p != '\0'; p += strcspn(p, " "), p += *p == ' ') {
		if (strncasecmp(p, mech, n) == 0 && (p[n] == ' ' ||
		    p[n] == '\0'))
			return 1;
	}
	return 0;
}

int
zsasl_mechs(struct zsasl *z, int plaintext_ok, struct str *list_r)
{
	static const char *const mechs[] = { "PLAIN", "LOGIN", NULL };
	size_t i;

	str_clear(list_r);
	if (!plaintext_ok)
		return 0;
	for (i = 0; mechs[i] != NULL; i++)
		if (zsasl_has(z, mechs[i]) && ((list_r->len > 0 &&
		    str_appendc(list_r, ' ') < 0) ||
		    str_appends(list_r, mechs[i]) < 0))
			return -1;
	return 0;
}

int
zsasl_decode64(const char *in, size_t max, struct str *out_r)
{
	size_t len = strlen(in);
	unsigned outlen = 0;

	str_clear(out_r);
	if (len > ZSASL_LINE_MAX || max > ZSASL_DATA_MAX ||
	    str_ready(out_r, len / 4 * 3 + 4) < 0)
		return -1;
	if (len == 0)
		return 0;
	if (sasl_decode64(in, (unsigned)len, out_r->s, (unsigned)(len / 4 * 3 +
	    4), &outlen) != SASL_OK || outlen > max)
		return -1;
	out_r->len = outlen;
	out_r->s[outlen] = '\0';
	return 0;
}

int
zsasl_encode64(const void *in, size_t n, struct str *out_r)
{
	unsigned outlen = 0;
	size_t room = (n + 2) / 3 * 4 + 1;

	str_clear(out_r);
	if (n > ZSASL_DATA_MAX || str_ready(out_r, room) < 0)
		return -1;
	if (sasl_encode64(in, (unsigned)n, out_r->s, (unsigned)room,
	    &outlen) != SASL_OK)
		return -1;
	out_r->len = outlen;
	out_r->s[outlen] = '\0';
	return 0;
}

/* Map libsasl2's result to ours, with the challenge in out_r. */
static int
zsasl_result(struct zsasl *z, int r, const char *out, unsigned outlen,
    struct str *out_r)
{
	str_clear(out_r);
	if (r == SASL_CONTINUE) {
		if (zsasl_encode64(out, outlen, out_r) < 0)
			return ZSASL_BAD;
		return ZSASL_CONTINUE;
	}
	if (r == SASL_OK)
		return z->last == 1 ? ZSASL_OK : ZSASL_FAIL;
	if (z->last == -1)
		return ZSASL_CLOSE;
	if (z->last == -2 || r == SASL_TRYAGAIN)
		return ZSASL_TEMP;
	if (r == SASL_BADPROT || r == SASL_BADPARAM)
		return ZSASL_BAD;
	return ZSASL_FAIL;
}

int
zsasl_start(struct zsasl *z, const char *mech, int plaintext_ok,
    const char *ir, struct str *out_r)
{
	struct str list = STR_INIT, data = STR_INIT;
	const char *out = NULL;
	unsigned outlen = 0;
	const char *p;
	size_t n = strlen(mech);
	int r, offered = 0;

	z->last = 0;
	if (zsasl_mechs(z, plaintext_ok, &list) < 0) {
		str_free(&list);
		return ZSASL_TEMP;
	}
	for (p = list.s; p != NULL && *p != '\0'; p += strcspn(p, " "),
	    p += *p == ' ')
		if (strncasecmp(p, mech, n) == 0 && (p[n] == ' ' ||
		    p[n] == '\0'))
			offered = 1;
	str_free(&list);
	if (n == 0 || !offered)
		return ZSASL_NOMECH;
	if (ir != NULL && strcmp(ir, "=") != 0 &&
	    zsasl_decode64(ir, ZSASL_DATA_MAX, &data) < 0) {
		str_free(&data);
		return ZSASL_BAD;
	}
	r = sasl_server_start(z->conn, mech, ir != NULL ? (data.s ? data.s :
	    "") : NULL, ir != NULL ? (unsigned)data.len : 0, &out, &outlen);
	if (data.s != NULL)
		explicit_bzero(data.s, data.len);
	str_free(&data);
	return zsasl_result(z, r, out, outlen, out_r);
}

int
zsasl_step(struct zsasl *z, const char *line, struct str *out_r)
{
	struct str data = STR_INIT;
	const char *out = NULL;
	unsigned outlen = 0;
	int r;

	if (strcmp(line, "*") == 0)
		return ZSASL_CANCEL;
	if (zsasl_decode64(line, ZSASL_DATA_MAX, &data) < 0) {
		str_free(&data);
		return ZSASL_BAD;
	}
	z->last = 0;
	r = sasl_server_step(z->conn, data.s ? data.s : "", (unsigned)data.len,
	    &out, &outlen);
	if (data.s != NULL)
		explicit_bzero(data.s, data.len);
	str_free(&data);
	return zsasl_result(z, r, out, outlen, out_r);
}

const char *
zsasl_user(const struct zsasl *z)
{
	const void *p = NULL;

	if (sasl_getprop(z->conn, SASL_USERNAME, &p) != SASL_OK || p == NULL)
		return "";
	return p;
}
