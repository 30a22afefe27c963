/*
 * valid.c — checks of text a client sends.  Pure functions: no I/O, no
 * allocation except valid_trim_new, so the unit tests drive them directly.
 *
 * Text must be well-formed UTF-8 (no overlongs, no surrogates, nothing above
 * U+10FFFF), its length is counted in code points, and control characters
 * (C0, DEL, C1) are refused — only chat messages may hold \n and \t.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "noom.h"

/*
 * Decode one code point at s (n bytes left) into *cp; returns its length in
 * bytes, or 0 if the bytes are not well-formed UTF-8.
 */
static size_t
utf8_decode(const unsigned char *s, size_t n, unsigned long *cp)
{
	size_t		 len, i;
	unsigned long	 c, min;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	} else if ((s[0] & 0xe0) == 0xc0) {
		len = 2; c = s[0] & 0x1f; min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3; c = s[0] & 0x0f; min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4; c = s[0] & 0x07; min = 0x10000;
	} else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* Number of code points in s[0..n), or -1 if it is not valid UTF-8. */
long
utf8_count(const char *s, size_t n)
{
	const unsigned char	*p = (const unsigned char *)s;
	unsigned long		 cp;
	size_t			 off = 0, k;
	long			 count = 0;

	while (off < n) {
		if ((k = utf8_decode(p + off, n - off, &cp)) == 0)
			return -1;
		off += k;
		count++;
	}
	return count;
}

/* A copy of s without leading and trailing ASCII white space. */
char *
valid_trim_new(const char *s)
{
	size_t	 n;
	char	*t;

	while (*s != '\0' && isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	t = xmalloc(n + 1);
	memcpy(t, s, n);
	t[n] = '\0';
	return t;
}

/*
 * Is s (n bytes) valid UTF-8 of min..max code points without control
 * characters (multiline: \n and \t allowed)?  0 if so; -1 with *why.
 */
int
valid_text(const char *s, size_t min, size_t max, int multiline,
    const char **why)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 n = strlen(s), off = 0, k, count = 0;
	unsigned long		 cp;

	while (off < n) {
		if ((k = utf8_decode(p + off, n - off, &cp)) == 0) {
			*why = "is not valid UTF-8";
			return -1;
		}
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
			if (!multiline || (cp != '\n' && cp != '\t')) {
				*why = "contains a control character";
				return -1;
			}
		}
		off += k;
		count++;
	}
	if (count < min) {
		*why = min == 1 ? "is empty" : "is too short";
		return -1;
	}
	if (count > max) {
		*why = "is too long";
		return -1;
	}
	return 0;
}

/* Does cp change the direction text is shown in (bidi embeddings, isolates)? */
static int
bidi_control(unsigned long cp)
{
	return (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) ||
	    cp == 0x200e || cp == 0x200f || cp == 0x061c;
}

/* Is cp a space, or a character that shows nothing? */
static int
invisible(unsigned long cp)
{
	return cp == ' ' || cp == 0xa0 || cp == 0xad || cp == 0x34f ||
	    cp == 0x115f || cp == 0x1160 || cp == 0x1680 || cp == 0x17b4 ||
	    cp == 0x17b5 || cp == 0x180e || (cp >= 0x2000 && cp <= 0x200f) ||
	    (cp >= 0x2028 && cp <= 0x202f) || (cp >= 0x205f && cp <= 0x206f) ||
	    cp == 0x2800 || cp == 0x3000 || cp == 0x3164 || cp == 0xfeff ||
	    cp == 0xffa0 || (cp >= 0xfe00 && cp <= 0xfe0f) ||
	    (cp >= 0xe0000 && cp <= 0xe0fff);
}

/*
 * What a name must also be, beyond valid_text(), so that it cannot pass for
 * someone else's on screen: no character that turns the text's direction
 * ("\u202eAdmin" shows as "nimdA" reversed into "Admin"), and something
 * visible (not only spaces, zero-width or filler characters).  0, or -1
 * with *why.  s is valid UTF-8.
 */
int
valid_name(const char *s, const char **why)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 n = strlen(s), off = 0, k;
	unsigned long		 cp;
	int			 seen = 0;

	while (off < n && (k = utf8_decode(p + off, n - off, &cp)) != 0) {
		if (bidi_control(cp)) {
			*why = "contains a text-direction control character";
			return -1;
		}
		if (!invisible(cp))
			seen = 1;
		off += k;
	}
	if (!seen) {
		*why = "has no visible character";
		return -1;
	}
	return 0;
}

/* A client message id: 1-64 characters of [A-Za-z0-9_-]. */
int
valid_client_id(const char *s, const char **why)
{
	size_t	 n = strlen(s);

	if (n == 0 || n > NOOM_CLIENT_ID_MAX) {
		*why = "must have 1 to 64 characters";
		return -1;
	}
	if (strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789_-") != n) {
		*why = "may hold only letters, digits, '_' and '-'";
		return -1;
	}
	return 0;
}

/*
 * Find cursor=N in a query string: 0 with *cursor set, -1 when it is absent
 * or not a non-negative decimal integer of at most 18 digits.  A poll
 * always names where it stands; there is no sensible default.
 */
int
parse_cursor(const char *query, int64_t *cursor)
{
	const char	*p = query;
	int64_t		 v = 0;
	size_t		 digits = 0;

	*cursor = 0;
	while (p != NULL && *p != '\0') {
		if (strncmp(p, "cursor=", 7) == 0) {
			for (p += 7; *p >= '0' && *p <= '9'; p++) {
				if (++digits > 18)
					return -1;
				v = v * 10 + (*p - '0');
			}
			if (digits == 0 || (*p != '\0' && *p != '&'))
				return -1;
			*cursor = v;
			return 0;
		}
		if ((p = strchr(p, '&')) != NULL)
			p++;
	}
	return -1;
}

/* Is s a room password (1 to NOOM_PASSWORD_MAX characters of text)? */
int
valid_password(const char *s, const char **why)
{
	return valid_text(s, 1, NOOM_PASSWORD_MAX, 0, why);
}
