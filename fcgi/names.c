/*
 * names.c — nicknames as people read them.
 *
 * Two members of a room must not look alike: "Ann", "ann" and "Ａnn" are
 * told apart by a computer, not by the people in a meeting.  A name's key
 * is its Unicode case folding in normalisation form NFC (libunistring's
 * u8_casefold), and no two members of a room hold the same key: a joiner
 * whose name is taken there gets the first free "Name (2)", "Name (3)" …,
 * shown to everyone as the name it has in the room; renaming oneself to a
 * name another member holds is refused (409 nickname_taken), since there
 * the user is choosing.  valid_name() (valid.c) keeps out names that show
 * nothing or turn the text's direction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unicase.h>
#include <uninorm.h>

#include "noom.h"

/*
 * The comparison key of name (valid UTF-8) into out (size n): its case
 * folding in NFC, cut to fit.  0, or -1 if it cannot be computed.
 */
int
name_key(const char *name, char *out, size_t n)
{
	uint8_t	*k;
	size_t	 len = 0;

	k = u8_casefold((const uint8_t *)name, strlen(name), NULL, UNINORM_NFC,
	    NULL, &len);
	if (k == NULL)
		return -1;
	if (len >= n)
		len = n - 1;
	memcpy(out, k, len);
	out[len] = '\0';
	free(k);
	return 0;
}

/*
 * name with the suffix " (i)", at most NOOM_NICK_MAX code points (the name
 * is cut at a code point to make room), into out (size n).
 */
void
name_suffixed(const char *name, int i, char *out, size_t n)
{
	char	 suffix[16];
	size_t	 len = strlen(name), keep;
	long	 points;

	snprintf(suffix, sizeof(suffix), " (%d)", i);
	points = utf8_count(name, len);
	keep = len;
	while (points + (long)strlen(suffix) > NOOM_NICK_MAX && keep > 0) {
		do
			keep--;
		while (keep > 0 && ((unsigned char)name[keep] & 0xc0) == 0x80);
		points--;
	}
	snprintf(out, n, "%.*s%s", (int)keep, name, suffix);
}
