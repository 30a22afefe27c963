/*
 * test_sse.c — the event stream's HTTP (fcgi/sse.c) without a socket: which
 * requests are streams, where the cursor comes from (the query wins over
 * Last-Event-ID), the token, the address, the errors and their JSON, and
 * the shape of events, comments and the close event.
 */
#include <stdlib.h>
#include <string.h>

#include "noom.h"
#include "unit.h"

#define TOK	"0123456789abcdef0123456789abcdef"

/* Parse head; returns sse_request's value, with the error answer in out. */
static int
parse(const char *head, struct sse_req *rq, struct buf *out)
{
	const char	*why = NULL;

	buf_init(out);
	return sse_request(head, strlen(head), rq, out, &why);
}

static void
test_is_stream(void)
{
	const char *s = "GET /noom/api/stream?cursor=1 HTTP/1.1\r\n\r\n";

	CHECK(sse_is_stream(s, strlen(s)));
	s = "GET /api/stream HTTP/1.1\r\nHost: x\r\n\r\n";
	CHECK(sse_is_stream(s, strlen(s)));
	s = "POST /api/stream HTTP/1.1\r\n\r\n";
	CHECK(sse_is_stream(s, strlen(s)));	/* refused later, as JSON */
	s = "GET /api/stream?cursor=1 HTTP/1.1\r\n";	/* head not whole yet */
	CHECK(!sse_is_stream(s, strlen(s)));
	s = "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n";
	CHECK(!sse_is_stream(s, strlen(s)));
	s = "GET /api/streams HTTP/1.1\r\n\r\n";
	CHECK(!sse_is_stream(s, strlen(s)));
}

static void
test_request(void)
{
	struct sse_req	 rq;
	struct buf	 out;

	CHECK(parse("GET /api/stream?cursor=42 HTTP/1.1\r\n"
	    "Authorization: Bearer " TOK "\r\nX-Real-IP: 10.0.0.7\r\n\r\n",
	    &rq, &out) == 0);
	CHECK(rq.cursor == 42 && rq.has_token);
	CHECK_STR(rq.token, TOK);
	CHECK_STR(rq.addr, "10.0.0.7");
	buf_free(&out);

	/* Last-Event-ID resumes; an explicit cursor wins. */
	CHECK(parse("GET /api/stream HTTP/1.1\r\nLast-Event-ID: 77\r\n\r\n",
	    &rq, &out) == 0 && rq.cursor == 77 && !rq.has_token);
	CHECK_STR(rq.addr, "-");
	buf_free(&out);
	CHECK(parse("GET /api/stream?cursor=5 HTTP/1.1\r\nLast-Event-ID: 77\r\n"
	    "\r\n", &rq, &out) == 0 && rq.cursor == 5);
	buf_free(&out);
	/* A malformed token is no token (401 later, not 400). */
	CHECK(parse("GET /api/stream?cursor=1 HTTP/1.1\r\nAuthorization: Bearer "
	    "xyz\r\n\r\n", &rq, &out) == 0 && !rq.has_token);
	buf_free(&out);
}

static void
test_errors(void)
{
	static const char *const bad[] = {
		"GET /api/stream HTTP/1.1\r\n\r\n",
		"GET /api/stream?cursor=-1 HTTP/1.1\r\n\r\n",
		"GET /api/stream?cursor=1x HTTP/1.1\r\n\r\n",
		"GET /api/stream?cursor=1234567890123456789 HTTP/1.1\r\n\r\n",
		"GET /api/stream HTTP/1.1\r\nLast-Event-ID: abc\r\n\r\n",
		"GET /api/stream?cursor= HTTP/1.1\r\nLast-Event-ID: 3\r\n\r\n",
	};
	struct sse_req	 rq;
	struct buf	 out;
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(parse(bad[i], &rq, &out) == -1);
		CHECK(strncmp(out.data, "HTTP/1.1 400 ", 13) == 0);
		CHECK(strstr(out.data, "application/json") != NULL);
		CHECK(strstr(out.data, "{\"error\":\"bad_cursor\"") != NULL);
		buf_free(&out);
	}
	CHECK(parse("POST /api/stream?cursor=1 HTTP/1.1\r\n\r\n", &rq, &out) ==
	    -1);
	CHECK(strncmp(out.data, "HTTP/1.1 405 ", 13) == 0);
	CHECK(strstr(out.data, "Allow: GET\r\n") != NULL);
	buf_free(&out);
	buf_init(&out);
	sse_error(&out, 429, "rate_limited", "Too many.", "");
	CHECK(strstr(out.data, "\"scope\":\"client\",\"retry_after\":1}") !=
	    NULL);
	buf_free(&out);
}

/*
 * The rules for a request someone else parsed (nginx's module): the same
 * cursor choice, the same errors, the token from Authorization, and an
 * over-long Last-Event-ID is not an id.
 */
static void
test_params(void)
{
	struct sse_fields fl;
	struct sse_req	 rq;
	struct sse_err	 err;

	memset(&fl, 0, sizeof(fl));
	fl.get = 1;
	snprintf(fl.query, sizeof(fl.query), "cursor=7");
	snprintf(fl.auth, sizeof(fl.auth), "Bearer " TOK);
	fl.has_last = 1;
	snprintf(fl.last, sizeof(fl.last), "9");
	CHECK(sse_params(&fl, &rq, &err) == 0);
	CHECK(rq.cursor == 7 && rq.last_id == 9 && rq.has_token);
	CHECK(strcmp(rq.token, TOK) == 0 && strcmp(rq.addr, "-") == 0);
	fl.query[0] = '\0';
	CHECK(sse_params(&fl, &rq, &err) == 0 && rq.cursor == 9);
	snprintf(fl.last, sizeof(fl.last), "x");	/* too long, as nginx marks it */
	CHECK(sse_params(&fl, &rq, &err) == -1 && err.status == 400);
	CHECK(strcmp(err.code, "bad_cursor") == 0);
	fl.has_last = 0;
	CHECK(sse_params(&fl, &rq, &err) == -1 && err.status == 400);
	snprintf(fl.query, sizeof(fl.query), "cursor=3");
	fl.auth[0] = '\0';
	CHECK(sse_params(&fl, &rq, &err) == 0 && !rq.has_token);
	fl.get = 0;
	CHECK(sse_params(&fl, &rq, &err) == -1 && err.status == 405);
	CHECK(strcmp(err.extra, "Allow: GET\r\n") == 0);
}

static void
test_events(void)
{
	struct buf	 out;

	buf_init(&out);
	sse_head(&out);
	CHECK(strncmp(out.data, "HTTP/1.1 200 OK\r\n", 17) == 0);
	CHECK(strstr(out.data, "Content-Type: text/event-stream") != NULL);
	CHECK(strstr(out.data, "X-Accel-Buffering: no\r\n") != NULL);
	CHECK(strstr(out.data, "Content-Length") == NULL);
	buf_free(&out);

	buf_init(&out);
	sse_event(&out, 12, NULL, "{\"cursor\":12}", 13);
	CHECK_STR(out.data, "id: 12\ndata: {\"cursor\":12}\n\n");
	buf_free(&out);
	buf_init(&out);
	sse_event(&out, -1, "x", "a\nb", 3);	/* one data line per line */
	CHECK_STR(out.data, "event: x\ndata: a\ndata: b\n\n");
	buf_free(&out);
	buf_init(&out);
	sse_keepalive(&out);
	CHECK_STR(out.data, ": keepalive\n\n");
	buf_free(&out);
	/* The comment only on a stream idle for the interval: an answer
	 * sent meanwhile counts as much as the last comment. */
	CHECK(sse_keepalive_due(0, 0, 15000, 15000));
	CHECK(!sse_keepalive_due(0, 0, 14999, 15000));
	CHECK(!sse_keepalive_due(10000, 0, 15000, 15000));
	CHECK(!sse_keepalive_due(0, 10000, 15000, 15000));
	CHECK(sse_keepalive_due(10000, 0, 25000, 15000));
	buf_init(&out);
	sse_close(&out, 4409, "replaced");
	CHECK_STR(out.data, "event: close\ndata: "
	    "{\"code\":4409,\"reason\":\"replaced\"}\n\n");
	buf_free(&out);
}

int
main(void)
{
	test_is_stream();
	test_request();
	test_errors();
	test_params();
	test_events();
	return unit_done("test_sse");
}
