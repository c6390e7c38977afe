/* SPDX-License-Identifier: ISC */
/*
 * users: password hashing and checking, apart from the table code so that
 * programs that only look users up (deliver, queued, smtpd) do not load
 * libcrypt and libcrypto.
 */
#include "users.h"

#include <crypt.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

int
users_hash_password(const char *pw, struct str *hash_r)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd;
	const char *h;
	int r = -1;

	if (strlen(pw) > USERS_PASSWORD_MAX) {
		errno = E2BIG;
		return -1;
	}
	/* A NULL random source makes libxcrypt read the system's. */
	if (crypt_gensalt_rn("$y$", 0, NULL, 0, setting, sizeof setting) ==
	    NULL && crypt_gensalt_rn("$6$", 0, NULL, 0, setting,
	    sizeof setting) == NULL)
		return -1;
	if ((cd = calloc(1, sizeof *cd)) == NULL)
		return -1;
	h = crypt_r(pw, setting, cd);
	if (h == NULL || h[0] != '$') {
		errno = EINVAL;
	} else {
		str_clear(hash_r);
		r = str_appends(hash_r, h);
	}
	explicit_bzero(cd, sizeof *cd);
	free(cd);
	return r;
}

int
users_check_password(const struct user *u, const char *pw)
{
	struct crypt_data *cd;
	const char *h;
	int ok = 0;

	if (u->hash == NULL || u->hash[0] != '$' ||
	    strlen(pw) > USERS_PASSWORD_MAX)
		return 0;
	if ((cd = calloc(1, sizeof *cd)) == NULL)
		return 0;
	h = crypt_r(pw, u->hash, cd);
	if (h != NULL && h[0] == '$' && strlen(h) == strlen(u->hash) &&
	    CRYPTO_memcmp(h, u->hash, strlen(h)) == 0)
		ok = 1;
	explicit_bzero(cd, sizeof *cd);
	free(cd);
	return ok;
}
