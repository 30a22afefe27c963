/*
 * token.c — session tokens: 128 bits from getrandom(2), as 32 lowercase hex
 * characters.  A token is the only secret a client holds; the public session
 * id names it in events.
 */
#include <string.h>
#include <strings.h>

#include "noom.h"

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
