/*
 * token.c — session tokens: 128 bits from getrandom(2), as 32 lowercase hex
 * characters.  A token is the only secret a client holds; the public session
 * id names it in events.
 */
#include <sys/random.h>

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "noom.h"

/* A fresh token in out; 0, or -1 if the kernel gives no randomness. */
int
token_new(char out[33])
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 raw[16];
	size_t			 got = 0;
	ssize_t			 n;
	int			 i;

	while (got < sizeof(raw)) {
		n = getrandom(raw + got, sizeof(raw) - got, 0);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += n;
	}
	for (i = 0; i < 16; i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[32] = '\0';
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
