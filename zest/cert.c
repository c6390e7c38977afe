/* SPDX-License-Identifier: ISC */
/*
 * zest init's self-signed certificate, made with the OpenSSL library (no
 * openssl(1) needed).  The certificate is its own CA, so clients can be
 * told to trust exactly this file.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "fs.h"
#include "zest.h"

#define CERT_DAYS 3650

/* Append "what: OpenSSL's first queued error" to err. */
static int
cert_error(struct str *err, const char *what)
{
	char buf[256];
	unsigned long e = ERR_get_error();

	ERR_error_string_n(e, buf, sizeof buf);
	str_appendf(err, "certificate: %s: %s", what, e ? buf : "failed");
	ERR_clear_error();
	return -1;
}

/* Add one v3 extension given in openssl.cnf syntax. */
static int
cert_ext(X509 *x, int nid, const char *value, struct str *err)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return cert_error(err, OBJ_nid2sn(nid));
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : cert_error(err, OBJ_nid2sn(nid));
}

/* A random positive 127-bit serial number. */
static int
cert_serial(X509 *x, struct str *err)
{
	BIGNUM *bn = BN_new();
	int ok;

	ok = bn != NULL && BN_rand(bn, 127, BN_RAND_TOP_ANY,
	    BN_RAND_BOTTOM_ANY) && BN_to_ASN1_INTEGER(bn,
	    X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	return ok ? 0 : cert_error(err, "serial");
}

/* Fill and sign the certificate x for key. */
static int
cert_build(X509 *x, EVP_PKEY *key, const char *host, struct str *err)
{
	struct str san = STR_INIT;
	X509_NAME *name = X509_get_subject_name(x);
	int r;

	if (!X509_set_version(x, X509_VERSION_3) || cert_serial(x, err) < 0 ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), 0) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), CERT_DAYS, 0, NULL) ||
	    !X509_set_pubkey(x, key) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)host, -1, -1, 0) ||
	    !X509_set_issuer_name(x, name))
		return err->len ? -1 : cert_error(err, "fields");
	if (strcasecmp(host, "localhost") == 0)
		r = str_appends(&san, "DNS:localhost,IP:127.0.0.1");
	else
		r = str_appendf(&san, "DNS:%s,DNS:localhost,IP:127.0.0.1",
		    host);
	if (r < 0)
		return cert_error(err, "out of memory");
	r = cert_ext(x, NID_basic_constraints, "critical,CA:TRUE", err) < 0 ||
	    cert_ext(x, NID_key_usage,
	    "critical,digitalSignature,keyCertSign", err) < 0 ||
	    cert_ext(x, NID_ext_key_usage, "serverAuth", err) < 0 ||
	    cert_ext(x, NID_subject_key_identifier, "hash", err) < 0 ||
	    cert_ext(x, NID_authority_key_identifier, "keyid:always",
	    err) < 0 || cert_ext(x, NID_subject_alt_name, san.s, err) < 0;
	str_free(&san);
	if (r)
		return -1;
	if (X509_sign(x, key, EVP_sha256()) <= 0)
		return cert_error(err, "sign");
	return 0;
}

/* Write x (or, when x is NULL, key) in PEM to path with mode. */
static int
cert_save(const char *path, mode_t mode, X509 *x, EVP_PKEY *key,
    struct str *err)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;
	long len;
	int ok, r = -1;

	if (bio == NULL)
		return cert_error(err, "BIO");
	if (x != NULL)
		ok = PEM_write_bio_X509(bio, x);
	else
		ok = PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL,
		    NULL);
	if (!ok || (len = BIO_get_mem_data(bio, &data)) <= 0)
		cert_error(err, "PEM");
	else if (fs_write_atomic(path, data, (size_t)len, mode) < 0)
		str_appendf(err, "%s: %s", path, strerror(errno));
	else
		r = 0;
	BIO_free(bio);
	return r;
}

int
zest_cert_selfsigned(const char *hostname, const char *certpath,
    const char *keypath, struct str *err)
{
	EVP_PKEY *key;
	X509 *x;
	int r = -1;

	str_clear(err);
	if ((key = EVP_EC_gen("P-256")) == NULL)
		return cert_error(err, "EC key");
	if ((x = X509_new()) == NULL) {
		EVP_PKEY_free(key);
		return cert_error(err, "X509");
	}
	if (cert_build(x, key, hostname, err) == 0 &&
	    cert_save(keypath, 0600, NULL, key, err) == 0 &&
	    cert_save(certpath, 0644, x, NULL, err) == 0)
		r = 0;
	X509_free(x);
	EVP_PKEY_free(key);
	return r;
}
