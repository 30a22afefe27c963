/*
 * pw.c — passwords kept as salted, slow hashes, and the keys of unlisted
 * rooms.
 *
 * A stored password is "pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>":
 * PBKDF2-HMAC-SHA256 (OpenSSL's libcrypto) over a 16-byte salt from
 * getrandom(2).  Whoever reads the database or the config learns neither
 * the password nor, without a slow search per entry, a match for it; the
 * iteration count is in each entry, so a later raise keeps old ones valid.
 * A wrong guess costs the server the same hashing as a right one, which is
 * why guesses are rate-limited by their callers (LIMIT_PASSWORD).
 * Shared secrets that a program presents (Janus's TURN REST key) are
 * compared with secret_equal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "noom.h"

#define PW_ITERATIONS	20000
#define PW_SALT		16
#define PW_LEN		32

/* n bytes from 2n hex digits; 0, or -1 if in is not exactly that. */
static int
hex_get(unsigned char *out, size_t n, const char *in, size_t len)
{
	size_t	 i;
	int	 hi, lo;

	if (len != 2 * n)
		return -1;
	for (i = 0; i < n; i++) {
		hi = hex_value(in[2 * i]);
		lo = hex_value(in[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

static int
pbkdf2(const char *pw, const unsigned char *salt, int iter,
    unsigned char out[PW_LEN])
{
	return PKCS5_PBKDF2_HMAC(pw, (int)strlen(pw), salt, PW_SALT, iter,
	    EVP_sha256(), PW_LEN, out) == 1 ? 0 : -1;
}

/* The stored form of password pw in out (NOOM_PW_HASH_MAX); 0 or -1. */
int
pw_hash(const char *pw, char *out, size_t size)
{
	unsigned char	 salt[PW_SALT], dk[PW_LEN];
	char		 salt_hex[2 * PW_SALT + 1], dk_hex[2 * PW_LEN + 1];
	int		 n;

	if (random_bytes(salt, sizeof(salt)) == -1 ||
	    pbkdf2(pw, salt, PW_ITERATIONS, dk) == -1)
		return -1;
	hex_encode(salt_hex, salt, sizeof(salt));
	hex_encode(dk_hex, dk, sizeof(dk));
	n = snprintf(out, size, "pbkdf2-sha256$%d$%s$%s", PW_ITERATIONS,
	    salt_hex, dk_hex);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/*
 * Does pw match the stored form?  1 or 0; 0 too for a malformed entry.
 * The comparison takes the same time wherever the first difference is.
 */
int
pw_verify(const char *pw, const char *stored)
{
	unsigned char	 salt[PW_SALT], want[PW_LEN], got[PW_LEN];
	const char	*s, *h;
	char		*end;
	long		 iter;

	if (strncmp(stored, "pbkdf2-sha256$", 14) != 0)
		return 0;
	iter = strtol(stored + 14, &end, 10);
	if (*end != '$' || iter < 1000 || iter > 10000000)
		return 0;
	s = end + 1;
	if ((h = strchr(s, '$')) == NULL ||
	    hex_get(salt, sizeof(salt), s, (size_t)(h - s)) == -1 ||
	    hex_get(want, sizeof(want), h + 1, strlen(h + 1)) == -1 ||
	    pbkdf2(pw, salt, (int)iter, got) == -1)
		return 0;
	return CRYPTO_memcmp(want, got, sizeof(got)) == 0;
}

/*
 * Do a and b hold the same secret?  1 or 0.  Their SHA-256 digests are
 * compared, with CRYPTO_memcmp: the time taken tells neither where they
 * differ nor how long the right one is.
 */
int
secret_equal(const char *a, const char *b)
{
	unsigned char	 da[32], db[32];
	unsigned int	 la = 0, lb = 0;

	if (EVP_Digest(a, strlen(a), da, &la, EVP_sha256(), NULL) != 1 ||
	    EVP_Digest(b, strlen(b), db, &lb, EVP_sha256(), NULL) != 1 ||
	    la != sizeof(da) || lb != sizeof(db))
		return 0;
	return CRYPTO_memcmp(da, db, sizeof(da)) == 0;
}

/*
 * A fresh key for an unlisted room in out: 22 base64url characters, 128
 * bits from getrandom(2).  0, or -1 if the kernel gives no randomness.
 */
int
room_key_new(char out[23])
{
	static const char	 b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char		 raw[17];
	int			 i;

	if (random_bytes(raw, 16) == -1)
		return -1;
	raw[16] = 0;
	/* 16 bytes are 128 bits: 21 whole sextets and 2 bits of a 22nd. */
	for (i = 0; i < 22; i++) {
		int bit = i * 6, byte = bit / 8, off = bit % 8;
		unsigned v = (unsigned)raw[byte] << 8 | raw[byte + 1];

		out[i] = b64[(v >> (10 - off)) & 63];
	}
	out[22] = '\0';
	return 0;
}

/* Is key a well-formed room key (NOOM_KEY_MIN..MAX base64url)?  1 or 0. */
int
room_key_valid(const char *key)
{
	size_t	 n = strspn(key, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_");

	return key[n] == '\0' && n >= NOOM_KEY_MIN && n <= NOOM_KEY_MAX;
}
