/* Unit tests of valid.c and token.c: what client text is accepted. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

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

/* coturn REST-API credentials; the expected value is from
 * printf %s 1764053600:12 | openssl dgst -sha1 -hmac s3cret -binary | base64 */
static void
test_turn(void)
{
	char	 out[64];

	CHECK(turn_credential("s3cret", "1764053600:12", out, sizeof(out)) == 0);
	CHECK_STR(out, "lLIfVNAqbB+d8grwZIrxToRVDo8=");
	CHECK(turn_credential("s3cret", "x", out, 10) == -1);
}

/* The configuration file: good keys, and the errors that stop start-up. */
static void
test_conf(void)
{
	static const struct {
		const char	*text;
		int		 ok;
	} cases[] = {
		{ "# comment\n\nstun = stun:127.0.0.1:3478\nmesh_max = 4\n", 1 },
		{ "turn = turn:h:3478?transport=tcp\nturn_secret = s\n"
		  "turn_ttl = 600\n", 1 },
		{ "turn = turn:h:3478\n", 0 },		/* no secret */
		{ "stun = http://x\n", 0 },
		{ "mesh_max = 1\n", 0 },
		{ "turn_ttl = soon\n", 0 },
		{ "colour = blue\n", 0 },
		{ "no equals sign\n", 0 },
		{ "turn = turns:h:5349\nturn_secret = s\n"
		  "ice_transport_policy = relay\n", 1 },
		{ "ice_transport_policy = all\n", 1 },
		{ "ice_transport_policy = Relay\n", 0 },	/* case matters, as in the browser */
		{ "ice_transport_policy =\n", 0 },
		{ "ice_transport_policy = relay\n", 0 },	/* relay without TURN */
	};
	char	 path[] = "/tmp/noom-conf-XXXXXX", *cause;
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct app	 app;
		FILE		*f;
		int		 fd = mkstemp(path), ok;

		memset(&app, 0, sizeof(app));
		if (fd == -1 || (f = fdopen(fd, "w")) == NULL)
			continue;
		fputs(cases[i].text, f);
		fclose(f);
		cause = NULL;
		ok = conf_load(&app, path, &cause) == 0;
		if (ok != cases[i].ok)
			printf("conf case %zu: %s\n", i, cause ? cause : "ok");
		CHECK(ok == cases[i].ok);
		if (i == 0)
			CHECK(app.mesh_max == 4 && app.stun[0] != NULL &&
			    app.stun[1] == NULL);
		if (i == 0 || i == 1)
			CHECK(app.ice_relay == 0);	/* the default */
		if (i == 1)
			CHECK(app.turn_ttl == 600 && app.turn_secret != NULL);
		if (i == 8)
			CHECK(app.ice_relay == 1);
		if (i == 9)
			CHECK(app.ice_relay == 0);
		free(cause);
		conf_free(&app);
		unlink(path);
		strcpy(path, "/tmp/noom-conf-XXXXXX");
	}
}

/* The shipped conf/noom.conf.example loads as it is: every key it shows is one conf.c knows. */
static void
test_conf_example(void)
{
	struct app	 app;
	const char	*srcdir = getenv("NOOM_SRCDIR");
	char		 path[4096], *cause = NULL;

	if (srcdir == NULL)		/* run by hand, not by make check */
		return;
	snprintf(path, sizeof(path), "%s/conf/noom.conf.example", srcdir);
	memset(&app, 0, sizeof(app));
	CHECK(conf_load(&app, path, &cause) == 0);
	if (cause != NULL)
		printf("%s\n", cause);
	CHECK(app.stun[0] != NULL && app.turn[0] != NULL &&
	    app.turn_secret != NULL && app.turn_ttl > 0 && app.mesh_max > 0);
	free(cause);
	conf_free(&app);
}

int
main(void)
{
	test_text();
	test_trim_count();
	test_client_id();
	test_cursor();
	test_token();
	test_turn();
	test_conf();
	test_conf_example();
	return unit_done("test_valid");
}
