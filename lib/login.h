/* SPDX-License-Identifier: ISC */
#ifndef ZEST_LOGIN_H
#define ZEST_LOGIN_H

/*
 * login: the privilege-separated login of the per-connection mail access
 * daemons (pop3d, imapd).  The daemon is started on fd 0/1 as root (or as
 * the owner of a non-root instance), reads its configuration and TLS files
 * and calls login_main(), which splits it in three:
 *
 *   checker     the original process.  Stays root; parses nothing but the
 *               frames below; looks users up, checks passwords and APOP
 *               digests, counts and delays failures, and after a verified
 *               login becomes the session (below).
 *   pre-login   a child: chroot to run_dir/empty, uid zest-login.  Greets,
 *               does TLS, parses every command before authentication, runs
 *               libsasl2, and asks the checker for every credential
 *               decision.  It never sees a mailbox or the users table.
 *   session     the checker itself, for the user it verified itself: it
 *               drops to the user's uid/gid (lib/priv), chdirs to the
 *               Maildir and execs the daemon's session program
 *               (DAEMON-session, linked without OpenSSL and libsasl2), so
 *               the process listen or inetd waits for is the session and
 *               a logged-in connection is one process (two with TLS: the
 *               pre-login child stays as the relay).  fd 0/1 is the
 *               client socket (without TLS: the pre-login child exits), or
 *               one end of a socketpair whose other end the pre-login child
 *               relays to the TLS connection (login_client_proxy).  fd 3 is
 *               a pipe holding the bytes the pre-login side had already read
 *               past the login command (pipelining), to be read before fd 0.
 *               The environment carries ZEST_LOGIN_USER (the verified bare
 *               name), ZEST_LOGIN_RESUME (a short string from the pre-login
 *               side, e.g. an IMAP tag), ZEST_LOGIN_TLS ("1" or "0"),
 *               TCPREMOTEIP and ZEST_SESSION (the log's session id).
 *
 * The checker protocol runs over a SOCK_STREAM socketpair.  A frame is
 *
 *	TYPE (1 byte)  LEN (2 bytes, big-endian)  PAYLOAD (LEN bytes)
 *
 * with LEN <= LOGIN_FRAME_MAX.  The payload is a fixed number of fields per
 * type: each but the last ends with a NUL byte, the last is the rest of the
 * payload (it may hold any byte).  Requests, pre-login to checker:
 *
 *	'P' USER NUL PASSWORD            is this the user's password?
 *	'A' USER NUL DIGEST              APOP: is DIGEST (32 lowercase hex) the
 *	                                 MD5 of the checker's own timestamp and
 *	                                 the user's secret?
 *	'L' USER NUL MODE NUL RESUME NUL PENDING
 *	                                 start the session of USER, which must
 *	                                 be the user of the last successful P or
 *	                                 A of this connection; MODE "T": relay
 *	                                 through the pre-login (TLS), "": hand
 *	                                 over the client socket.  At most one.
 *
 * Replies, checker to pre-login: 'Y' (yes; for 'L' with MODE "T", the
 * pre-login's end of the session socketpair rides on it as SCM_RIGHTS),
 * 'N' REASON (no, sent after the failure delay), 'T' REASON (temporary
 * failure), 'X' REASON (no, and the checker answers nothing more: too many
 * failures or a malformed frame).  Any short or malformed frame ends the
 * checker's conversation (fail closed).
 */

#include <stddef.h>
#include <sys/types.h>

#include "instance.h"
#include "io.h"
#include "str.h"
#include "tls.h"

#define LOGIN_FRAME_MAX 32768	/* payload bytes */
#define LOGIN_FIELD_MAX 1024	/* bytes of a user name or password */
#define LOGIN_RESUME_MAX 256	/* bytes of the resume string */
#define LOGIN_CHALLENGE_MAX 128	/* bytes of an APOP timestamp */
#define LOGIN_EMPTY_DIR "empty"	/* the chroot, inside run_dir */
#define LOGIN_USER "zest-login"

/* Answers of the checker, as returned by the login_client_* calls. */
#define LOGIN_YES 1
#define LOGIN_NO 0
#define LOGIN_TEMP (-2)		/* try again later */
#define LOGIN_CLOSE (-1)	/* close the connection now */

/* One decoded frame; fields point into the frame's buffer. */
struct login_frame {
	unsigned char type;
	size_t nfield;
	const char *field[4];
	size_t len[4];		/* bytes of each field, without its NUL */
};

/* Append a frame of type with nfield fields (field i of len[i] bytes) to
 * out.  Every field but the last must hold no NUL.  Returns 0, or -1 with
 * errno E2BIG (payload too long), EINVAL (NUL in a field) or ENOMEM. */
int login_frame_encode(struct str *out, unsigned char type, size_t nfield,
    const char *const *field, const size_t *len);

/* Decode the payload of a frame of type into f, expecting nfield fields.
 * The payload must stay alive (and is not copied).  Returns 0, or -1 with
 * errno EBADMSG when it has fewer fields. */
int login_frame_decode(unsigned char type, const char *payload, size_t len,
    size_t nfield, struct login_frame *f);

/* Write one frame (and, when fd_pass >= 0, the descriptor) to fd.
 * Returns 0 or -1 with errno. */
int login_frame_send(int fd, unsigned char type, size_t nfield,
    const char *const *field, const size_t *len, int fd_pass);

/* Read one frame from fd into buf (its type in *type_r) and the descriptor
 * that came with it, if any, into *fd_r (-1 when none; NULL: refuse one).
 * Returns 1, 0 at a clean end of file, or -1 with errno (EBADMSG for a
 * short or oversized frame). */
int login_frame_recv(int fd, unsigned char *type_r, struct str *buf,
    int *fd_r);

/*
 * The checker's view of the users: password and APOP checks.  Each returns
 * LOGIN_YES with the bare lowercase user name in canon_r, LOGIN_NO, or
 * LOGIN_TEMP.  login_users_backend() is the real one (users table; APOP
 * secrets table); tests plug in their own.
 */
struct login_backend {
	int (*password)(void *arg, const char *user, const char *pw,
	    struct str *canon_r);
	int (*apop)(void *arg, const char *user, const char *challenge,
	    const char *digest, struct str *canon_r);
};

/* The checker's state for one connection. */
struct login_checker {
	const struct login_backend *be;
	void *be_arg;
	const char *challenge;	/* the APOP timestamp, "" when APOP is off */
	unsigned max_failures;	/* then 'X' */
	unsigned delay_ms;	/* before each 'N' */
	unsigned failures;
	int closed;		/* 'X' sent: answer nothing more */
	int started;		/* 'L' accepted */
	struct str verified;	/* the user of the last successful P/A */
};

/* Set up c; challenge must outlive it. */
void login_checker_init(struct login_checker *c,
    const struct login_backend *be, void *be_arg, const char *challenge,
    unsigned max_failures, unsigned delay_ms);

/* Release c. */
void login_checker_free(struct login_checker *c);

/* What the checker decided for an 'L' request. */
struct login_start {
	char *user;		/* the verified name (caller frees) */
	int proxy;		/* MODE "T" */
	char *resume;		/* caller frees */
	const char *pending;	/* points into the request */
	size_t npending;
};

/*
 * Handle one request frame: put the reply's type into *reply_r and its
 * reason into reason_r.  For an accepted 'L' the reply is not decided yet:
 * returns 1 with *start_r filled (the caller starts the session and then
 * replies 'Y' or 'T').  Returns 0 when the reply is ready, -1 when the
 * conversation must end (after 'X').  Sleeps delay_ms before an 'N'.
 */
int login_checker_handle(struct login_checker *c, unsigned char type,
    const char *payload, size_t len, unsigned char *reply_r,
    struct str *reason_r, struct login_start *start_r);

/* The real backend over inst's users table and tables_dir/secrets.cdb. */
const struct login_backend *login_users_backend(void);

/* APOP: the lowercase hex MD5 of challenge followed by secret into hex_r
 * (33 bytes). */
void login_apop_digest(const char *challenge, const char *secret,
    size_t secret_len, char *hex_r);

/* Hex-encode / decode the APOP secrets table's values (`zest useradd`
 * writes NAME HEX into tables_dir/secrets, mode 0600).  decode returns 0 or
 * -1 (EINVAL) for a malformed value. */
int login_secret_encode(const char *pw, struct str *hex_r);
int login_secret_decode(const char *hex, struct str *pw_r);

/* The secrets table's name inside tables_dir. */
#define LOGIN_SECRETS_TABLE "secrets"

/* The pre-login side's handle on the connection and the checker. */
struct login_client {
	int fd;			/* the checker socket */
	const struct instance *inst;
	char ip[64];		/* the client's address, "" when unknown */
	int local;		/* the client is this host (plaintext allowed) */
	int implicit_tls;	/* -T: TLS from the first byte */
	struct tls_ctx *tls_ctx;	/* NULL: no TLS available */
	char challenge[LOGIN_CHALLENGE_MAX];	/* APOP timestamp or "" */
	const char *service;	/* "pop3", "imap" */
};

/* Ask the checker about a password / an APOP digest.  Returns LOGIN_YES,
 * LOGIN_NO, LOGIN_TEMP or LOGIN_CLOSE (also when the checker is gone). */
int login_client_password(struct login_client *lc, const char *user,
    const char *pw);
int login_client_apop(struct login_client *lc, const char *user,
    const char *digest);

/*
 * Hand the connection to the session of the verified user: the bytes
 * already read past the login command (io_pending of io) and resume go
 * along.  Without TLS (tls NULL) the checker hands the client socket to
 * the session and the caller must exit without writing anything more.
 * With TLS this relays between the TLS connection and the session until
 * either side ends, then returns.  Returns LOGIN_YES, LOGIN_TEMP or
 * LOGIN_CLOSE.
 */
int login_client_start(struct login_client *lc, const char *user,
    const char *resume, struct io *io, struct tls_session *tls);

/* Relay between io (TLS, on client fd cfd) and the descriptor sfd until
 * one side ends.  Used by login_client_start; exposed for tests. */
int login_proxy(struct io *io, int cfd, int sfd);

/* The pre-login side's main function: returns the exit status. */
typedef int login_prelogin_fn(struct login_client *lc, void *arg);

/* What login_main needs from the daemon. */
struct login_config {
	const struct instance *inst;
	const char *service;		/* "pop3", "imap" */
	int implicit_tls;
	struct tls_ctx *tls_ctx;	/* built before: the key is read */
	int apop;			/* offer APOP (needs the secrets) */
	int local_exempt;		/* local clients may send plaintext */
	unsigned max_failures;
	unsigned delay_ms;
	unsigned pbs_minutes;		/* POP-before-SMTP, 0: off */
	const char *session_prog;	/* the session program to exec (NULL:
					 * session_argv[0]) */
	char *const *session_argv;	/* its argument vector */
	/* libsasl2's application name ("zest-imap"): initialised in the
	 * pre-login child before the chroot, so that its plugins load;
	 * NULL: no SASL */
	const char *sasl_app;
	/* called in the pre-login child before chroot and the uid drop;
	 * may be NULL */
	int (*child_init)(void *arg);
	login_prelogin_fn *prelogin;
	void *arg;
};

/* Fill the fields of cfg that zest.conf decides for every login service
 * (login_local_plaintext, login_max_failures, login_failure_delay,
 * pop_before_smtp_minutes) and inst; the caller sets the rest. */
void login_config_init(struct login_config *cfg, const struct instance *inst);

/*
 * Run the connection on fd 0/1 as described above.  Returns the exit
 * status for main() (of the session when one ran).
 *
 * A daemon's use (imapd/main.c, pop3d/main.c): login_daemon_main() with
 * its name, refusal line, SASL name and prelogin function does all of
 *
 *	read zest.conf; cfg.tls_ctx = login_tls_ctx(...) (root reads the key)
 *	login_config_init(&cfg, &inst); cfg.service = "imapd";
 *	cfg.session_argv = login_session_argv(&inst, "imapd", ...);
 *	cfg.sasl_app = "zest-imap"; cfg.prelogin = imap_prelogin;
 *	exit(login_main(&cfg));
 *
 * In prelogin: greet, parse, and for every credential call
 * login_client_password() (or zsasl with a checkpass function that does);
 * lc->local already says whether plaintext is allowed without TLS (the
 * client is this host and login_local_plaintext is on).  On LOGIN_YES
 * call login_client_start() with the name the client gave and, for IMAP,
 * the command's tag as resume; the session process (started with -S)
 * reads ZEST_LOGIN_USER and ZEST_LOGIN_RESUME, calls
 * login_session_pending() on its io, and itself answers the login command
 * (so that it can first open and lock what it must).
 */
int login_main(const struct login_config *cfg);

/* What tells pop3d from imapd to login_daemon_main. */
struct login_daemon {
	const char *name;		/* "imapd": log name, session program
					 * name-session, cfg.service */
	const char *bye;		/* the refusal line when it cannot serve */
	const char *sasl_app;		/* libsasl2's application name */
	const char *apop_key;		/* zest.conf key turning APOP on, NULL:
					 * none */
	login_prelogin_fn *prelogin;
};

/* main() of a login daemon: options -C DIR, -T (implicit TLS), -v; the
 * log, the instance, the TLS context, the session program beside this
 * one; then login_main.  Returns the exit status. */
int login_daemon_main(int argc, char **argv, const struct login_daemon *d);

/* A login daemon that cannot serve: log why, write bye (a protocol line
 * such as "* BYE [UNAVAILABLE] ...\r\n") to fd 1 and exit 75. */
void login_unavailable(const char *bye, const char *why)
	__attribute__((noreturn));

/* The TLS context of a login daemon, built now while the key is readable
 * (root).  NULL (logged) without a usable certificate; with implicit TLS
 * that is fatal (login_unavailable with bye). */
struct tls_ctx *login_tls_ctx(const struct instance *inst, int implicit,
    const char *bye);

/* The client's numeric address into ip (from fd 0's peer, else
 * TCPREMOTEIP), "" when unknown; and whether it is one of this host's own
 * addresses (the socket's local address or loopback). */
void login_peer(int fd, char *ip, size_t n, int *local_r);

/* The directory of POP-before-SMTP records inside run_dir: one file per
 * client address whose mtime is the end of its relay permission. */
#define LOGIN_PBS_DIR "pbs"

/* Record that ip may relay for minutes from now.  Returns 0 or -1. */
int login_pbs_record(const struct instance *inst, const char *ip,
    unsigned minutes);

/* Read the session's pending bytes from fd 3 into io's read buffer (so the
 * session reads them before fd 0), then close fd 3.  Returns 0 or -1.
 * (login-session.c, like login_session_main: a session program links
 * neither the checker nor the pre-login side.) */
int login_session_pending(struct io *io);

/* main() of a session program (DAEMON-session, shown as "DAEMON -S"):
 * options -C DIR and -v, the log, the instance, a refusal to run as
 * root; then run(inst), whose result is the exit status.  bye is written
 * to fd 1 when the session cannot start. */
int login_session_main(int argc, char **argv, const char *daemon,
    const char *bye, int (*run)(const struct instance *));

/* The session program for daemon: DAEMON-session beside the running
 * program (/proc/self/exe) into *prog_r, and its argument vector
 * "DAEMON -S [-C DIR] [-v]" (static storage).  NULL when the running
 * program cannot be found. */
char **login_session_argv(const struct instance *inst, const char *daemon,
    int verbose, const char **prog_r);

#endif
