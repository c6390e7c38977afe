/* SPDX-License-Identifier: ISC */
#ifndef ZEST_SMTP_H
#define ZEST_SMTP_H

/*
 * smtp: the syntax of SMTP (RFC 5321) and of its extensions, for the server
 * and the client: command lines (verb and argument), MAIL/RCPT paths with
 * quoted local parts, address literals and SMTPUTF8 (RFC 6531) addresses,
 * ESMTP parameters (KEY[=VALUE]), the values of SIZE (RFC 1870), BODY
 * (RFC 6152, RFC 3030), the DSN parameters (RFC 3461), xtext, BDAT
 * arguments (RFC 3030), and replies with enhanced status codes (RFC 2034,
 * RFC 3463).
 *
 * Nothing here allocates except into a caller's struct str, and nothing
 * reads past the lengths given: inputs need not be NUL-terminated.
 * Failures return -1 with errno: EINVAL for bad syntax, ENAMETOOLONG for a
 * path or domain over the RFC 5321 limits, EILSEQ for non-ASCII text where
 * SMTPUTF8 is not in force, ENOMEM/E2BIG from struct str.
 */

#include <stddef.h>

#include "str.h"

/* The longest command line accepted, CRLF included: RFC 5321's 512 plus
 * the allowances of SIZE (RFC 1870), DSN (RFC 3461: 500 for NOTIFY and
 * ORCPT, 100 for ENVID) and room for UTF-8 addresses. */
#define SMTP_CMD_LINE_MAX 2048
#define SMTP_PATH_MAX 256	/* a path, "<" and ">" included (4.5.3.1.3) */
#define SMTP_DOMAIN_MAX 255	/* 4.5.3.1.2 */
#define SMTP_LABEL_MAX 63
#define SMTP_REPLY_LINE_MAX 512	/* a reply line, CRLF included */
#define SMTP_ENVID_MAX 100	/* RFC 3461 4.4, the xtext as sent */
#define SMTP_ORCPT_MAX 500	/* RFC 3461 4.2 */

enum smtp_verb {
	SMTP_UNKNOWN = 0,
	SMTP_HELO, SMTP_EHLO, SMTP_MAIL, SMTP_RCPT, SMTP_DATA, SMTP_BDAT,
	SMTP_RSET, SMTP_NOOP, SMTP_QUIT, SMTP_VRFY, SMTP_EXPN, SMTP_HELP,
	SMTP_STARTTLS, SMTP_AUTH
};

/* A command line split into verb and argument (pointers into the line). */
struct smtp_cmd {
	enum smtp_verb verb;	/* SMTP_UNKNOWN for any other word */
	const char *name;	/* the verb as sent */
	size_t namelen;
	const char *arg;	/* after the space following the verb; "" */
	size_t arglen;
};

/* Split a command line whose CRLF has been removed; trailing blanks are
 * ignored.  Returns 0, or -1 EINVAL for an empty line, a verb that is not
 * 1..16 letters, or a control byte (NUL, CR, LF, TAB...) in the line. */
int smtp_cmd_parse(const char *line, size_t len, struct smtp_cmd *cmd);

/* The name of a verb ("MAIL"), "?" for SMTP_UNKNOWN. */
const char *smtp_verb_name(enum smtp_verb verb);

/* Flags of smtp_path_parse. */
#define SMTP_PATH_NULL 0x1	/* accept the null path <> (MAIL FROM) */
#define SMTP_PATH_POSTMASTER 0x2 /* accept <Postmaster> (RCPT TO) */
#define SMTP_PATH_UTF8 0x4	/* accept UTF-8 addresses (SMTPUTF8) */

/* A parsed path.  addr holds the mailbox as sent, without the angle
 * brackets and without any source route; empty for <>, "Postmaster" (as
 * sent) for <Postmaster>. */
struct smtp_path {
	struct str addr;
	size_t local_len;	/* bytes of the local part; addr[local_len]
				 * is '@' (the whole addr for Postmaster) */
	int null;		/* <> */
	int postmaster;		/* <Postmaster> without a domain */
	int quoted;		/* the local part is a quoted string */
	int utf8;		/* addr holds bytes above 127 */
	int literal;		/* the domain is an address literal */
};

/* Free the address of p and zero it. */
void smtp_path_free(struct smtp_path *p);

/* Parse a path ("<" [route ":"] mailbox ">", see RFC 5321 4.1.2) at the
 * start of s into p (emptied first); *used_r gets the bytes through ">".
 * A source route is accepted and dropped (4.1.1.3).  Returns 0, or -1 with
 * errno EINVAL (syntax), ENAMETOOLONG (path over SMTP_PATH_MAX or domain
 * over SMTP_DOMAIN_MAX), EILSEQ (non-ASCII without SMTP_PATH_UTF8), ENOMEM. */
int smtp_path_parse(const char *s, size_t len, int flags,
    struct smtp_path *p, size_t *used_r);

/* Parse the argument of MAIL ("FROM:") or RCPT ("TO:"): kw, which is
 * matched ignoring case, blanks (accepted, though RFC 5321 has none), the
 * path, then nothing or a space and the parameters, whose start and length
 * go into params_r and plen_r.  Returns 0 or -1 as smtp_path_parse. */
int smtp_mailrcpt_parse(const char *arg, size_t len, const char *kw,
    int flags, struct smtp_path *p, const char **params_r, size_t *plen_r);

/* The local part of p without quoting (backslash pairs and quotes
 * removed) into out (cleared first).  Returns 0 or -1 with errno. */
int smtp_path_local(const struct smtp_path *p, struct str *out);

/* The domain of p (after the '@'); "" for <> and <Postmaster>. */
const char *smtp_path_domain(const struct smtp_path *p);

/* Whether s is a domain (RFC 5321 Domain: LDH labels; U-labels when utf8
 * is non-zero), at most SMTP_DOMAIN_MAX bytes.  Returns 1 or 0. */
int smtp_domain_valid(const char *s, size_t len, int utf8);

/* Whether s is an address literal ("[192.0.2.1]", "[IPv6:...]", or a
 * general "[tag:content]").  Returns 1 or 0. */
int smtp_literal_valid(const char *s, size_t len);

/* Whether s is well-formed UTF-8 (no overlong forms, surrogates or code
 * points above U+10FFFF).  Returns 1 or 0. */
int smtp_utf8_valid(const char *s, size_t len);

/* One ESMTP parameter: key, and value (NULL when there is no "="). */
struct smtp_param {
	const char *key;
	size_t keylen;
	const char *val;
	size_t vallen;
};

/* Take the next parameter from *pp (up to end), skipping the spaces before
 * it.  Keys are esmtp-keywords, values esmtp-values (RFC 5321 4.1.2; with
 * utf8 non-zero, UTF-8 is accepted in values as RFC 6531 allows).
 * Returns 1 with the parameter in par, 0 at the end, -1 EINVAL. */
int smtp_param_next(const char **pp, const char *end, int utf8,
    struct smtp_param *par);

/* Whether par's key is key, ignoring case.  Returns 1 or 0. */
int smtp_param_is(const struct smtp_param *par, const char *key);

/* Parse a decimal number of at most 20 digits that fits in 64 bits (SIZE,
 * BDAT).  Returns 0, or -1 EINVAL (ERANGE when it does not fit). */
int smtp_parse_ulong(const char *s, size_t len, unsigned long long *n_r);

/* BODY values. */
enum smtp_body { SMTP_BODY_7BIT, SMTP_BODY_8BITMIME, SMTP_BODY_BINARYMIME };

/* Parse a BODY value (ignoring case).  Returns 0 or -1 EINVAL. */
int smtp_body_parse(const char *s, size_t len, enum smtp_body *body_r);

/* The name of a BODY value ("8BITMIME"). */
const char *smtp_body_name(enum smtp_body body);

/* DSN NOTIFY bits; SMTP_NOTIFY_NEVER stands alone. */
#define SMTP_NOTIFY_NEVER 0x1
#define SMTP_NOTIFY_SUCCESS 0x2
#define SMTP_NOTIFY_FAILURE 0x4
#define SMTP_NOTIFY_DELAY 0x8

/* Parse a NOTIFY value: NEVER, or a comma list of SUCCESS, FAILURE, DELAY
 * each at most once (ignoring case).  Returns 0 or -1 EINVAL. */
int smtp_notify_parse(const char *s, size_t len, unsigned *bits_r);

/* Append the canonical form of NOTIFY bits ("SUCCESS,FAILURE") to out.
 * Returns 0 or -1 with errno. */
int smtp_notify_format(unsigned bits, struct str *out);

/* DSN RET values. */
enum smtp_ret { SMTP_RET_NONE, SMTP_RET_FULL, SMTP_RET_HDRS };

/* Parse a RET value, FULL or HDRS (ignoring case).  Returns 0 or -1. */
int smtp_ret_parse(const char *s, size_t len, enum smtp_ret *ret_r);

/* Whether s is a valid ENVID value: xtext of at most SMTP_ENVID_MAX bytes
 * decoding to printable ASCII.  Returns 1 or 0. */
int smtp_envid_valid(const char *s, size_t len);

/* Whether s is a valid ORCPT value: addr-type ";" xtext (RFC 3461 4.2), at
 * most SMTP_ORCPT_MAX bytes.  With utf8 non-zero (SMTPUTF8 in force) an
 * addr-type of "utf-8" may carry raw UTF-8 (RFC 6533 utf-8-addr-unitext).
 * Returns 1 or 0. */
int smtp_orcpt_valid(const char *s, size_t len, int utf8);

/* Whether s is xtext (RFC 3461 4: xchar or "+" and two upper-case hex
 * digits).  Returns 1 or 0. */
int smtp_xtext_valid(const char *s, size_t len);

/* Decode xtext s into out (appended).  Returns 0, or -1 EINVAL when s is
 * not xtext (out is then restored), or ENOMEM/E2BIG. */
int smtp_xtext_decode(const char *s, size_t len, struct str *out);

/* Encode n bytes of p as xtext, appended to out.  Returns 0 or -1. */
int smtp_xtext_encode(const void *p, size_t n, struct str *out);

/* Parse a BDAT argument: chunk size and an optional LAST (ignoring case).
 * Returns 0, or -1 EINVAL (ERANGE for a size over 64 bits). */
int smtp_bdat_parse(const char *arg, size_t len, unsigned long long *size_r,
    int *last_r);

/* Whether s is an enhanced status code "c.s.d" (RFC 3463): class 2, 4 or
 * 5, subject and detail of 1 to 3 digits.  Returns 1 or 0. */
int smtp_enhanced_valid(const char *s, size_t len);

/*
 * Append a reply to out: "code[-| ][enh ]line\r\n" for each line of text
 * (lines split at '\n'), with '-' on all but the last.  enh is the enhanced
 * status code (NULL or "" for none: the greeting and the answer to
 * EHLO/HELO, RFC 2034).  Control bytes in text become '?'; a line is cut to
 * fit SMTP_REPLY_LINE_MAX.  Returns 0, or -1 with errno (EINVAL for a code
 * outside 200..599 or a malformed enh).
 */
int smtp_reply_format(struct str *out, int code, const char *enh,
    const char *text);

/* A reply line, parsed. */
struct smtp_reply {
	int code;		/* 200..599 */
	int more;		/* "-": more lines follow */
	const char *enh;	/* enhanced code, NULL when absent */
	size_t enhlen;
	const char *text;	/* the rest of the line */
	size_t textlen;
};

/* Parse one reply line (without CRLF).  An enhanced code is recognized
 * only when its class matches the reply's first digit.  Returns 0 or -1
 * EINVAL. */
int smtp_reply_parse(const char *line, size_t len, struct smtp_reply *r);

#endif
