/*
 * token.c — session tokens: 128 bits from getrandom(2), as 32 lowercase hex
 * characters.  A token is the only secret a client holds; the public session
 * id names it in events.
 */
#include <pthread.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "noom.h"

static pthread_once_t	 sha256_once = PTHREAD_ONCE_INIT;
static EVP_MD		*sha256;	/* fetched once, for every thread */

static void
sha256_fetch(void)
{
	sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/*
 * The SHA-256 of a token in out: the name a process may keep a session by
 * in memory (repoll.c) without keeping the secret.  0, or -1 (no digest).
 * The digest is fetched once: EVP_sha256() fetches it again on every call.
 */
int
token_digest(const char *token, unsigned char out[TOKEN_DIGEST_LEN])
{
	unsigned int	 len = 0;

	pthread_once(&sha256_once, sha256_fetch);
	if (sha256 == NULL || EVP_Digest(token, strlen(token), out, &len,
	    sha256, NULL) != 1 || len != TOKEN_DIGEST_LEN)
		return -1;
	return 0;
}

/* A fresh token in out; 0, or -1 if the kernel gives no randomness. */
int
token_new(char out[33])
{
	unsigned char	 raw[16];

	if (random_bytes(raw, sizeof(raw)) == -1)
		return -1;
	hex_encode(out, raw, sizeof(raw));
	return 0;
}

/* Does s have the shape of a token? */
int
token_valid(const char *s)
{
	return strlen(s) == 32 && strspn(s, "0123456789abcdef") == 32;
}

/*
 * The token in an "Authorization: Bearer <token>" value, copied to out;
 * NULL if the header is missing or malformed.
 */
const char *
token_from_auth(const char *auth, char out[33])
{
	if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0)
		return NULL;
	auth += 7;
	while (*auth == ' ')
		auth++;
	if (!token_valid(auth))
		return NULL;
	memcpy(out, auth, 33);
	return out;
}
