/* Unit tests of valid.c, token.c and pw.c: what client text is accepted. */
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

/* Shared secrets compared whole, whatever their lengths. */
static void
test_secret_equal(void)
{
	CHECK(secret_equal("q1Y5LbM4ATni5zJua5NUSJrc", "q1Y5LbM4ATni5zJua5NUSJrc"));
	CHECK(!secret_equal("q1Y5LbM4ATni5zJua5NUSJrc", "q1Y5LbM4ATni5zJua5NUSJrC"));
	CHECK(!secret_equal("q1Y5LbM4ATni5zJua5NUSJrc", "q1Y5LbM4ATni5zJua5NUSJr"));
	CHECK(!secret_equal("q1Y5LbM4ATni5zJua5NUSJrc", ""));
	CHECK(secret_equal("", ""));
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
		{ "trusted_proxy = 10.0.0.0/8\ntrusted_proxy = ::1\n"
		  "limit_sessions = 50/2.5\n", 1 },
		{ "trusted_proxy = example.org\n", 0 },
		{ "trusted_proxy = 10.0.0.0/33\n", 0 },
		{ "limit_sessions = 50\n", 0 },
		{ "limit_chat = 0/1\n", 0 },
		{ "limit_everything = 1/1\n", 0 },
		{ "turn_rest_key = q1Y5LbM4ATni5zJua5NUSJrc-_\n", 1 },
		{ "turn_rest_key = short\n", 0 },
		{ "turn_rest_key = with\"quote\"0123456789abcdef\n", 0 },
	};
	char	 path[] = "/tmp/noom-conf-XXXXXX", *cause;
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct conf	*cf = conf_new();
		FILE		*f;
		int		 fd = mkstemp(path), ok;

		if (fd == -1 || (f = fdopen(fd, "w")) == NULL) {
			conf_free(cf);
			continue;
		}
		fputs(cases[i].text, f);
		fclose(f);
		cause = NULL;
		ok = conf_load(cf, path, &cause) == 0;
		if (ok != cases[i].ok)
			printf("conf case %zu: %s\n", i, cause ? cause : "ok");
		CHECK(ok == cases[i].ok);
		if (i == 0)
			CHECK(cf->mesh_max == 4 && cf->stun[0] != NULL &&
			    cf->stun[1] == NULL);
		if (i == 0 || i == 1)
			CHECK(cf->ice_relay == 0);	/* the default */
		if (i == 1)
			CHECK(cf->turn_ttl == 600 && cf->turn_secret != NULL);
		if (i == 8)
			CHECK(cf->ice_relay == 1);
		if (i == 9)
			CHECK(cf->ice_relay == 0);
		if (i == 19)
			CHECK(cf->turn_rest_key != NULL);
		if (i == 13)
			CHECK(cf->proxies[1] != NULL && cf->proxies[2] == NULL &&
			    cf->limits[LIMIT_SESSION].burst == 50 &&
			    cf->limits[LIMIT_SESSION].rate == 2.5);
		free(cause);
		conf_free(cf);
		unlink(path);
		strcpy(path, "/tmp/noom-conf-XXXXXX");
	}
}

/* The shipped conf/noom.conf.example loads as it is: every key it shows is one conf.c knows. */
static void
test_conf_example(void)
{
	struct app	 app;
	struct conf	*cf;
	const char	*srcdir = getenv("NOOM_SRCDIR");
	char		 path[4096], *cause = NULL;

	if (srcdir == NULL)		/* run by hand, not by make check */
		return;
	snprintf(path, sizeof(path), "%s/conf/noom.conf.example", srcdir);
	memset(&app, 0, sizeof(app));
	app.config_path = path;
	app.mesh_max_arg = 3;		/* the command line beats the file */
	CHECK((cf = conf_read_new(&app, &cause)) != NULL);
	if (cause != NULL)
		printf("%s\n", cause);
	if (cf == NULL)
		return;
	CHECK(cf->stun[0] != NULL && cf->turn[0] != NULL &&
	    cf->turn_secret != NULL && cf->turn_ttl > 0 && cf->mesh_max == 3);
	/* Published, then replaced: the reader sees one whole configuration. */
	app.live = conf_live_new(cf);
	CHECK(conf_now(&app) == cf);
	cf = conf_new();
	conf_publish(&app, cf, 0);
	CHECK(conf_now(&app) == cf && conf_now(&app)->turn[0] == NULL);
	conf_publish(&app, conf_new(), 120000);	/* frees the first */
	CHECK(conf_now(&app) != cf);
	free(cause);
	conf_live_free(app.live);
}

/* Names that cannot pass for someone else's, and how names compare. */
static void
test_names(void)
{
	const char	*why = NULL;
	char		 k1[NOOM_NAME_KEY], k2[NOOM_NAME_KEY], out[160];

	CHECK(valid_name("Ann", &why) == 0);
	CHECK(valid_name("\u00c9lodie \u2665", &why) == 0);
	CHECK(valid_name("\xe2\x80\xae" "Admin", &why) == -1);	/* U+202E */
	CHECK_STR(why, "contains a text-direction control character");
	CHECK(valid_name("a\xe2\x81\xa6" "b", &why) == -1);	/* U+2066 */
	CHECK(valid_name("\xe2\x80\x8b", &why) == -1);	/* U+200B alone */
	CHECK_STR(why, "has no visible character");
	CHECK(valid_name(" \xc2\xa0\xe3\x80\x80\xef\xbb\xbf", &why) == -1);
	CHECK(valid_name("\xe3\x85\xa4", &why) == -1);	/* Hangul filler */
	CHECK(valid_name("\xe2\x80\x8b" "x", &why) == 0);	/* something shows */

	/* Case and normalisation: "Élodie" composed, decomposed, upper case. */
	CHECK(name_key("\xc3\x89lodie", k1, sizeof(k1)) == 0);
	CHECK(name_key("E\xcc\x81LODIE", k2, sizeof(k2)) == 0);
	CHECK_STR(k1, k2);
	CHECK(name_key("Stra\xc3\x9f" "e", k1, sizeof(k1)) == 0);
	CHECK(name_key("STRASSE", k2, sizeof(k2)) == 0);
	CHECK_STR(k1, k2);
	CHECK(name_key("Ann", k1, sizeof(k1)) == 0);
	CHECK(name_key("Anne", k2, sizeof(k2)) == 0);
	CHECK(strcmp(k1, k2) != 0);

	name_suffixed("Ann", 2, out, sizeof(out));
	CHECK_STR(out, "Ann (2)");
	/* Cut at a code point so that the whole stays within 32. */
	name_suffixed("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
	    12, out, sizeof(out));
	CHECK(utf8_count(out, strlen(out)) == NOOM_NICK_MAX);
	CHECK(strcmp(out + strlen(out) - 5, " (12)") == 0);
}

/* Token buckets, limit settings and who the client is behind a proxy. */
static void
test_limits(void)
{
	struct conf	 app;
	char		 addr[NOOM_ADDR_MAX];
	const struct bucket_rule *rule = &limit_defaults[LIMIT_SESSION];

	CHECK(bucket_refill(rule, 0, 0, 1000) == rule->rate);
	CHECK(bucket_refill(rule, 0, 0, 10000000) == rule->burst);
	CHECK(bucket_retry_s(rule, 0.5) == 1);
	CHECK(bucket_retry_s(&limit_defaults[LIMIT_ROOM], 0) == 5);

	memset(&app, 0, sizeof(app));
	memcpy(app.limits, limit_defaults, sizeof(app.limits));
	client_addr(&app, "192.0.2.1", "203.0.113.9", addr, sizeof(addr));
	CHECK_STR(addr, "192.0.2.1");		/* no trusted proxy: ignored */
	app.proxies[0] = "127.0.0.1";
	app.proxies[1] = "10.0.0.0/8";
	app.proxies[2] = "fd00::/8";
	client_addr(&app, "127.0.0.1", "1.2.3.4, 203.0.113.9, 10.9.8.7", addr,
	    sizeof(addr));
	CHECK_STR(addr, "203.0.113.9");		/* the last untrusted hop */
	client_addr(&app, "fd12::1", "2001:db8::5", addr, sizeof(addr));
	CHECK_STR(addr, "2001:db8::5");
	client_addr(&app, "127.0.0.1", "10.0.0.1", addr, sizeof(addr));
	CHECK_STR(addr, "127.0.0.1");		/* all trusted: the proxy */
	client_addr(&app, "192.0.2.1", "1.2.3.4", addr, sizeof(addr));
	CHECK_STR(addr, "192.0.2.1");		/* not a trusted proxy */
	client_addr(&app, "11.0.0.1", "1.2.3.4", addr, sizeof(addr));
	CHECK_STR(addr, "11.0.0.1");		/* outside 10.0.0.0/8 */
}

/* Passwords: a salted slow hash that verifies only its own password. */
static void
test_pw(void)
{
	char	 a[NOOM_PW_HASH_MAX], b[NOOM_PW_HASH_MAX], k1[23], k2[23];

	CHECK(pw_hash("open sesame", a, sizeof(a)) == 0);
	CHECK(pw_hash("open sesame", b, sizeof(b)) == 0);
	CHECK(strncmp(a, "pbkdf2-sha256$20000$", 20) == 0);
	CHECK(strcmp(a, b) != 0);			/* salted */
	CHECK(strstr(a, "sesame") == NULL);
	CHECK(pw_verify("open sesame", a) == 1);
	CHECK(pw_verify("open sesame", b) == 1);
	CHECK(pw_verify("open barley", a) == 0);
	CHECK(pw_verify("", a) == 0);
	CHECK(pw_hash("x", a, 40) == -1);		/* does not fit */
	/* Malformed entries match nothing. */
	CHECK(pw_verify("x", "") == 0);
	CHECK(pw_verify("x", "pbkdf2-sha256$1$00$00") == 0);
	CHECK(pw_verify("x", "pbkdf2-sha256$20000$zz$") == 0);
	CHECK(pw_verify("x", "md5$abc") == 0);
	/* Room keys: 22 base64url characters, different each time. */
	CHECK(room_key_new(k1) == 0 && room_key_new(k2) == 0);
	CHECK(strlen(k1) == 22 && room_key_valid(k1) && room_key_valid(k2));
	CHECK(strcmp(k1, k2) != 0);
	CHECK(!room_key_valid("short"));
	CHECK(!room_key_valid("has space in it, sadly"));
	CHECK(room_key_valid("AAAAAAAAAAAAAAAA"));	/* 16: 96 bits */
	CHECK(!room_key_valid("AAAAAAAAAAAAAAA"));
}

/* The value 0..63 of a base64url character, -1 for another. */
static int
b64url_value(char ch)
{
	static const char	 b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_";
	const char		*p = ch ? strchr(b64, ch) : NULL;

	return p ? (int)(p - b64) : -1;
}

#define KEYS		1000
#define KEY_BITS	132	/* 22 characters of 6 bits */

/*
 * Room keys carry at least 96 random bits: KEYS fresh keys are all
 * different, and every bit of the 128 the encoding carries is set in about
 * half of them (400..600 of 1000 is over six standard deviations wide, so a
 * sound generator fails it about never, and a stuck or biased bit always).
 */
static void
test_room_key_bits(void)
{
	static char	 keys[KEYS][23];
	int		 ones[KEY_BITS] = { 0 }, i, j, b, varying = 0, distinct = 1;

	for (i = 0; i < KEYS; i++) {
		CHECK(room_key_new(keys[i]) == 0);
		for (j = 0; j < i && distinct; j++)
			if (strcmp(keys[i], keys[j]) == 0)
				distinct = 0;
		for (j = 0; j < 22; j++) {
			int v = b64url_value(keys[i][j]);

			if (v < 0)
				break;
			for (b = 0; b < 6; b++)
				ones[j * 6 + b] += v >> (5 - b) & 1;
		}
		CHECK(j == 22);
	}
	CHECK(distinct);
	for (b = 0; b < 128; b++)
		if (ones[b] >= 400 && ones[b] <= 600)
			varying++;
	CHECK(varying == 128);
	/* The last character holds 2 bits: its 4 low bits are padding. */
	for (b = 128; b < KEY_BITS; b++)
		CHECK(ones[b] == 0);
}

int
main(void)
{
	test_names();
	test_limits();
	test_text();
	test_trim_count();
	test_client_id();
	test_cursor();
	test_token();
	test_pw();
	test_room_key_bits();
	test_turn();
	test_secret_equal();
	test_conf();
	test_conf_example();
	return unit_done("test_valid");
}
