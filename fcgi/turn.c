/*
 * turn.c — ephemeral TURN credentials in coturn's REST-API scheme
 * (turnserver --use-auth-secret): the username is "<expiry>:<session>", the
 * password is base64(HMAC-SHA1(secret, username)).  coturn recomputes the
 * same HMAC from its static-auth-secret and refuses the username once the
 * expiry has passed, so the secret never reaches a browser and a leaked
 * credential dies on its own.  HMAC and base64 come from OpenSSL's libcrypto.
 */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "noom.h"

/*
 * Write base64(HMAC-SHA1(secret, username)) to out (size bytes, at least
 * 29 for the 28 characters and the NUL).  0, or -1 on failure.
 */
int
turn_credential(const char *secret, const char *username, char *out,
    size_t size)
{
	unsigned char	 mac[EVP_MAX_MD_SIZE];
	unsigned int	 len = 0;

	if (size < 29)
		return -1;
	if (HMAC(EVP_sha1(), secret, (int)strlen(secret),
	    (const unsigned char *)username, strlen(username), mac,
	    &len) == NULL || len != 20)
		return -1;
	EVP_EncodeBlock((unsigned char *)out, mac, (int)len);
	return 0;
}
