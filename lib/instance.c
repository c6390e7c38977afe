/* SPDX-License-Identifier: ISC */
#include "instance.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc/zest"
#endif
#ifndef LIBEXECDIR
#define LIBEXECDIR "/usr/local/libexec/zest"
#endif

/* The highest standard port of a service (pop3s); port_base + 995 must
 * still be a port. */
#define INSTANCE_PORT_TOP 995

const struct conf_key instance_keys[] = {
	{ "domain", CONF_STRING, "localhost", 0, 0 },
	{ "hostname", CONF_STRING, NULL, 0, 0 },
	{ "listen_address", CONF_STRING, "127.0.0.1", 0, 0 },
	{ "port_base", CONF_UINT, "0", 0, 65535 - INSTANCE_PORT_TOP },
	{ "mail_root", CONF_PATH, "mail", 0, 0 },
	{ "tables_dir", CONF_PATH, "tables", 0, 0 },
	{ "queue_dir", CONF_PATH, "queue", 0, 0 },
	{ "run_dir", CONF_PATH, "run", 0, 0 },
	{ "log_dir", CONF_PATH, "log", 0, 0 },
	{ "libexec_dir", CONF_PATH, LIBEXECDIR, 0, 0 },
	{ "tls_cert", CONF_PATH, "tls/cert.pem", 0, 0 },
	{ "tls_key", CONF_PATH, "tls/key.pem", 0, 0 },
	{ "vmail_user", CONF_STRING, "zest-vmail", 0, 0 },
	{ "message_size_limit", CONF_SIZE, "100M", 1024, 1ULL << 31 },
	{ "max_recipients", CONF_UINT, "1000", 1, 100000 },
	{ "queue_lifetime", CONF_DURATION, "5d", 60, 365ULL * 86400 },
	{ "lock_timeout", CONF_DURATION, "30s", 1, 3600 },
	{ "local_concurrency", CONF_UINT, "256", 1, 1000 },
	{ "remote_concurrency", CONF_UINT, "20", 1, 1000 },
	{ "remote_destination_concurrency", CONF_UINT, "10", 1, 1000 },
	{ "queue_retry_min", CONF_DURATION, "1m", 1, 86400 },
	{ "queue_retry_max", CONF_DURATION, "1h", 1, 7 * 86400 },
	{ "delay_warning", CONF_DURATION, "4h", 0, 365ULL * 86400 },
	{ "bounce_size_limit", CONF_SIZE, "1M", 0, 1ULL << 31 },
	{ "smtpd_line_max", CONF_SIZE, "64k", 1000, 1ULL << 24 },
	{ "smtpd_error_limit", CONF_UINT, "20", 1, 1000 },
	{ "smtpd_timeout", CONF_DURATION, "300s", 10, 3600 },
	{ "smtpd_max_connections", CONF_UINT, "100", 1, 10000 },
	{ "smtpd_max_per_ip", CONF_UINT, "50", 1, 10000 },
	{ "imap_max_connections", CONF_UINT, "1000", 1, 100000 },
	{ "imap_max_per_ip", CONF_UINT, "250", 1, 100000 },
	{ "pop3_max_connections", CONF_UINT, "200", 1, 100000 },
	{ "pop3_max_per_ip", CONF_UINT, "50", 1, 100000 },
	{ "smtpd_max_use", CONF_UINT, "100", 1, 65535 },
	{ "smtp_port", CONF_UINT, "25", 1, 65535 },
	{ "smtp_connect_timeout", CONF_DURATION, "30s", 1, 3600 },
	{ "smtp_timeout", CONF_DURATION, "5m", 1, 3600 },
	{ "smtp_data_timeout", CONF_DURATION, "10m", 1, 7200 },
	{ "dns_server", CONF_STRING, NULL, 0, 0 },
	{ "pop3_apop", CONF_BOOL, "yes", 0, 0 },
	{ "pop3_timeout", CONF_DURATION, "10m", 10, 3600 },
	{ "imap_timeout", CONF_DURATION, "30m", 10, 86400 },
	{ "imap_login_timeout", CONF_DURATION, "2m", 5, 3600 },
	{ "imap_error_limit", CONF_UINT, "20", 1, 1000 },
	{ "pop3_error_limit", CONF_UINT, "10", 1, 1000 },
	{ "login_max_failures", CONF_UINT, "3", 1, 100 },
	{ "login_failure_delay", CONF_DURATION, "1s", 0, 10 },
	{ "login_local_plaintext", CONF_BOOL, "yes", 0, 0 },
	{ "pop_before_smtp_minutes", CONF_UINT, "0", 0, 1440 },
	{ "log", CONF_STRING, "syslog", 0, 0 },
	{ NULL, CONF_STRING, NULL, 0, 0 }
};

int
instance_valid_hostname(const char *name)
{
	size_t i, len = strlen(name);
	char c;

	if (len == 0 || len > 253 || name[0] == '.' || name[0] == '-')
		return 0;
	for (i = 0; i < len; i++) {
		c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.'))
			return 0;
		if (c == '.' && name[i + 1] == '.')
			return 0;
	}
	return 1;
}

/* Where the configuration file is: DIR/zest.conf, $ZEST_CONF or the
 * installed one. */
static int
instance_locate(const char *dir, struct instance *inst, struct str *err)
{
	struct str p = STR_INIT;
	const char *env;
	char *abs;

	if (dir != NULL) {
		if ((abs = realpath(dir, NULL)) == NULL) {
			str_appendf(err, "%s: %s", dir, strerror(errno));
			return -1;
		}
		inst->dir = abs;
		if (str_appendf(&p, "%s/%s", abs, INSTANCE_CONF) < 0)
			goto nomem;
	} else {
		env = getenv("ZEST_CONF");
		if (str_appends(&p, env && *env ? env : SYSCONFDIR "/"
		    INSTANCE_CONF) < 0)
			goto nomem;
	}
	inst->conf_path = str_steal(&p);
	return inst->conf_path ? 0 : -1;
nomem:
	str_free(&p);
	str_appendf(err, "out of memory");
	return -1;
}

/* Fill the hostname, from the file or from gethostname(). */
static int
instance_hostname(struct instance *inst, struct str *err)
{
	char buf[HOST_NAME_MAX + 1];

	inst->hostname = conf_str(inst->conf, "hostname");
	if (inst->hostname == NULL || *inst->hostname == '\0') {
		if (gethostname(buf, sizeof buf) < 0) {
			str_appendf(err, "gethostname: %s", strerror(errno));
			return -1;
		}
		buf[sizeof buf - 1] = '\0';
		if ((inst->hostname_buf = strdup(buf)) == NULL) {
			str_appendf(err, "out of memory");
			return -1;
		}
		inst->hostname = inst->hostname_buf;
	}
	if (!instance_valid_hostname(inst->hostname)) {
		str_appendf(err, "%s: invalid hostname '%s'", inst->conf_path,
		    inst->hostname);
		return -1;
	}
	return 0;
}

/* Copy the settings into the fields and check the values that the key
 * table cannot. */
static int
instance_fields(struct instance *inst, struct str *err)
{
	const struct conf *c = inst->conf;
	const char *log;

	inst->domain = conf_str(c, "domain");
	inst->listen_address = conf_str(c, "listen_address");
	inst->mail_root = conf_str(c, "mail_root");
	inst->tables_dir = conf_str(c, "tables_dir");
	inst->queue_dir = conf_str(c, "queue_dir");
	inst->run_dir = conf_str(c, "run_dir");
	inst->log_dir = conf_str(c, "log_dir");
	inst->libexec_dir = conf_str(c, "libexec_dir");
	inst->tls_cert = conf_str(c, "tls_cert");
	inst->tls_key = conf_str(c, "tls_key");
	inst->vmail_user = conf_str(c, "vmail_user");
	inst->port_base = (unsigned)conf_num(c, "port_base");
	inst->message_size_limit = conf_num(c, "message_size_limit");
	inst->max_recipients = (unsigned)conf_num(c, "max_recipients");
	inst->queue_lifetime = conf_num(c, "queue_lifetime");
	inst->lock_timeout = (unsigned)conf_num(c, "lock_timeout");
	log = conf_str(c, "log");
	if (strcmp(log, "stderr") == 0)
		inst->log_stderr = 1;
	else if (strcmp(log, "syslog") != 0) {
		str_appendf(err, "%s: log must be syslog or stderr, not '%s'",
		    inst->conf_path, log);
		return -1;
	}
	if (!instance_valid_hostname(inst->domain)) {
		str_appendf(err, "%s: invalid domain '%s'", inst->conf_path,
		    inst->domain);
		return -1;
	}
	return instance_hostname(inst, err);
}

int
instance_open(const char *dir, struct instance *inst, struct str *err)
{
	memset(inst, 0, sizeof *inst);
	str_clear(err);
	if (instance_locate(dir, inst, err) < 0)
		goto fail;
	if (conf_load(inst->conf_path, instance_keys, &inst->conf, err) < 0)
		goto fail;
	if (instance_fields(inst, err) < 0)
		goto fail;
	return 0;
fail:
	instance_close(inst);
	return -1;
}

void
instance_close(struct instance *inst)
{
	free(inst->dir);
	free(inst->conf_path);
	free(inst->hostname_buf);
	conf_free(&inst->conf);
	memset(inst, 0, sizeof *inst);
}

char *
instance_path(const struct instance *inst, const char *rel)
{
	struct str p = STR_INIT;

	if (rel[0] != '/' &&
	    str_appendf(&p, "%s/", conf_dir(inst->conf)) < 0)
		return NULL;
	if (str_appends(&p, rel) < 0) {
		str_free(&p);
		return NULL;
	}
	return str_steal(&p);
}

unsigned
instance_port(const struct instance *inst, unsigned std)
{
	return inst->port_base + std;
}

char *
instance_queue_inject(const struct instance *inst)
{
	struct str p = STR_INIT;

	if (str_appendf(&p, "%s/bin/queue-inject", inst->run_dir) < 0)
		goto nomem;
	if (access(p.s, F_OK) < 0) {
		str_clear(&p);
		if (str_appendf(&p, "%s/queue-inject", inst->libexec_dir) < 0)
			goto nomem;
	}
	return str_steal(&p);
nomem:
	str_free(&p);
	errno = ENOMEM;
	return NULL;
}
