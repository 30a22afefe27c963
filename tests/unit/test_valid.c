/* Unit tests of valid.c and token.c: what client text is accepted. */
#include <stdlib.h>

#include "../../fcgi/noom.h"
#include "unit.h"

struct text_case {
	const char	*s;
	size_t		 min, max;
	int		 multiline;
	int		 ok;
};

static const struct text_case text_cases[] = {
	{ "Ann", 1, 32, 0, 1 },
	{ "", 1, 32, 0, 0 },					/* empty */
	{ "abcdefghijklmnopqrstuvwxyzabcdef", 1, 32, 0, 1 },	/* 32 */
	{ "abcdefghijklmnopqrstuvwxyzabcdefg", 1, 32, 0, 0 },	/* 33 */
	/* 32 two-byte characters are 32 code points, not 64 bytes. */
	{ "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	  "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	  "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	  "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
	  1, 32, 0, 1 },
	{ "\xf0\x9f\x98\x80 smile", 1, 32, 0, 1 },		/* 4-byte */
	{ "bad\xff", 1, 32, 0, 0 },				/* not UTF-8 */
	{ "\xc0\xaf", 1, 32, 0, 0 },				/* overlong */
	{ "\xed\xa0\x80", 1, 32, 0, 0 },			/* surrogate */
	{ "\xf4\x90\x80\x80", 1, 32, 0, 0 },			/* > U+10FFFF */
	{ "\xe2\x82", 1, 32, 0, 0 },				/* truncated */
	{ "tab\there", 1, 32, 0, 0 },				/* control */
	{ "tab\there", 1, 32, 1, 1 },				/* in a message */
	{ "line\nbreak", 1, 32, 1, 1 },
	{ "bell\a", 1, 32, 1, 0 },
	{ "del\x7f", 1, 32, 1, 0 },
	{ "c1\xc2\x85", 1, 32, 1, 0 },				/* U+0085 */
	{ "'; DROP TABLE rooms;--", 1, 64, 0, 1 },		/* just text */
};

static void
test_text(void)
{
	const char	*why;
	size_t		 i;

	for (i = 0; i < sizeof(text_cases) / sizeof(text_cases[0]); i++) {
		const struct text_case *tc = &text_cases[i];
		int ok = valid_text(tc->s, tc->min, tc->max, tc->multiline,
		    &why) == 0;

		if (ok != tc->ok)
			printf("case %zu: \"%s\"\n", i, tc->s);
		CHECK(ok == tc->ok);
	}
}

static void
test_trim_count(void)
{
	char	*t;

	t = valid_trim_new("  Ann \t");
	CHECK_STR(t, "Ann");
	free(t);
	t = valid_trim_new("   ");
	CHECK_STR(t, "");
	free(t);
	CHECK(utf8_count("h\xc3\xa9llo", 6) == 5);
	CHECK(utf8_count("\xff", 1) == -1);
}

static void
test_client_id(void)
{
	const char	*why;

	CHECK(valid_client_id("c-1a2b_X", &why) == 0);
	CHECK(valid_client_id("", &why) == -1);
	CHECK(valid_client_id("has space", &why) == -1);
	CHECK(valid_client_id("0123456789012345678901234567890123456789"
	    "012345678901234567890123", &why) == 0);		/* 64 */
	CHECK(valid_client_id("0123456789012345678901234567890123456789"
	    "0123456789012345678901234", &why) == -1);		/* 65 */
}

static void
test_cursor(void)
{
	int64_t	 c;

	CHECK(parse_cursor("", &c) == -1);
	CHECK(parse_cursor("cursor=0", &c) == 0 && c == 0);
	CHECK(parse_cursor("xcursor=1", &c) == -1);
	CHECK(parse_cursor("cursor=42", &c) == 0 && c == 42);
	CHECK(parse_cursor("x=1&cursor=7&y=2", &c) == 0 && c == 7);
	CHECK(parse_cursor("cursor=abc", &c) == -1);
	CHECK(parse_cursor("cursor=", &c) == -1);
	CHECK(parse_cursor("cursor=-1", &c) == -1);
	CHECK(parse_cursor("cursor=12x", &c) == -1);
	CHECK(parse_cursor("cursor=9999999999999999999999", &c) == -1);
}

static void
test_token(void)
{
	char	 a[33], b[33], out[33];

	CHECK(token_new(a) == 0 && token_new(b) == 0);
	CHECK(token_valid(a) && token_valid(b));
	CHECK(strcmp(a, b) != 0);
	CHECK(!token_valid("short"));
	CHECK(!token_valid("0123456789ABCDEF0123456789abcdef"));
	{
		char h[64];

		snprintf(h, sizeof(h), "Bearer %s", a);
		CHECK_STR(token_from_auth(h, out), a);
	}
	CHECK(token_from_auth("Basic abc", out) == NULL);
	CHECK(token_from_auth(NULL, out) == NULL);
}

int
main(void)
{
	test_text();
	test_trim_count();
	test_client_id();
	test_cursor();
	test_token();
	return unit_done("test_valid");
}
