/*
 * sse.c — the event stream's HTTP (Server-Sent Events), pure: reading the
 * request head, writing the answer's head, its events and its errors.
 *
 *   GET PREFIX/api/stream?cursor=N
 *   Authorization: Bearer <token>
 *   Last-Event-ID: N          (a reconnect; an explicit cursor wins)
 *   X-Real-IP: <address>      (set by nginx: the client's address)
 *
 * The gateway (gateway.c) tells a stream from a WebSocket by the request's
 * path (sse_is_stream) and serves both from one mailbox.  The answer is
 * HTTP/1.1 200 without a length, "Connection: close": its body ends when
 * the gateway shuts its side, after a bounded time or volume.  Each answer
 * of the mailbox is one event:
 *
 *   id: <the answer's cursor>
 *   data: {"cursor":C,"events":[...]}
 *
 * A comment ": keepalive" keeps idle proxies from timing it out, and an
 * event named "close" carries a closing code as the WebSocket's close frame
 * does (4401 the session ended, 4409 replaced, 1011 the store failed).
 * Errors before the stream starts are the API's JSON errors.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "noom.h"

/* The head of buf[0..len): its length, 0 while incomplete. */
static size_t
head_len(const char *buf, size_t len)
{
	const char	*end = memmem(buf, len, "\r\n\r\n", 4);

	return end == NULL ? 0 : (size_t)(end - buf) + 4;
}

/*
 * Is the complete request head in buf[0..len) for the event stream (its
 * path ends in "/api/stream", whatever the method)?  The prefix is
 * nginx's business: it sends only that location here.
 */
int
sse_is_stream(const char *buf, size_t len)
{
	const char	*sp, *path, *end;
	size_t		 n;

	if (head_len(buf, len) == 0 || (sp = memchr(buf, ' ', len)) == NULL)
		return 0;
	path = sp + 1;
	n = strcspn(path, " ?\r\n");
	end = path + n;
	return n >= 11 && memcmp(end - 11, "/api/stream", 11) == 0;
}

/* A non-negative decimal of at most 18 digits in v[0..n): 0, or -1. */
static int
parse_id(const char *v, size_t n, int64_t *out)
{
	int64_t	 x = 0;
	size_t	 i;

	if (n == 0 || n > 18)
		return -1;
	for (i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		x = x * 10 + (v[i] - '0');
	}
	*out = x;
	return 0;
}

/* Copy header value v[0..n) into out (size outsz) if it fits. */
static void
copy_value(char *out, size_t outsz, const char *v, size_t n)
{
	if (n >= outsz)
		return;
	memcpy(out, v, n);
	out[n] = '\0';
}

/* Take one header line's value into the request's fields. */
static void
take_header(struct sse_fields *fl, const struct head_field *f)
{
	if (head_field_is(f, "Authorization"))
		copy_value(fl->auth, sizeof(fl->auth), f->v, f->vlen);
	else if (head_field_is(f, "Last-Event-ID")) {
		fl->has_last = 1;
		copy_value(fl->last, sizeof(fl->last), f->v, f->vlen);
		if (f->vlen >= sizeof(fl->last))
			fl->last[0] = 'x';	/* too long: not an id */
	} else if (head_field_is(f, "X-Real-IP"))
		copy_value(fl->addr, sizeof(fl->addr), f->v, f->vlen);
}

/*
 * The stream request's rules, whoever parsed its HTTP: fl holds its method,
 * query and headers.  0 with rq filled, or -1 with the API error in *err.
 * The cursor is the query's, else Last-Event-ID's.
 */
int
sse_params(const struct sse_fields *fl, struct sse_req *rq,
    struct sse_err *err)
{
	memset(rq, 0, sizeof(*rq));
	snprintf(rq->addr, sizeof(rq->addr), "%s",
	    fl->addr[0] != '\0' ? fl->addr : "-");
	if (!fl->get) {
		*err = (struct sse_err){ 405, "method_not_allowed",
		    "The event stream is read with GET.", "Allow: GET\r\n",
		    "not a GET" };
		return -1;
	}
	rq->has_token = token_from_auth(fl->auth, rq->token) != NULL;
	rq->has_last = fl->has_last;
	if (fl->has_last && parse_id(fl->last, strlen(fl->last),
	    &rq->last_id) == -1)
		rq->bad_last = 1;
	if (strstr(fl->query, "cursor=") != NULL || !rq->has_last) {
		if (parse_cursor(fl->query, &rq->cursor) == -1)
			goto bad;
	} else if (rq->bad_last)
		goto bad;
	else
		rq->cursor = rq->last_id;
	return 0;
bad:
	*err = (struct sse_err){ 400, "bad_cursor", "cursor (or Last-Event-ID) "
	    "must be a non-negative integer", "", "bad cursor" };
	return -1;
}

/*
 * Read the stream request whose complete head is in buf[0..len) into rq.
 * 0, or -1 with an HTTP error appended to out (the caller ends the
 * connection once it is written) and *errstr saying why.
 */
int
sse_request(const char *buf, size_t len, struct sse_req *rq, struct buf *out,
    const char **errstr)
{
	const char	*end, *line, *eol, *q;
	struct head_field f;
	struct sse_fields fl;
	struct sse_err	 err;
	size_t		 n;

	memset(&fl, 0, sizeof(fl));
	end = buf + head_len(buf, len) - 2;
	fl.get = memcmp(buf, "GET ", 4) == 0;
	eol = memmem(buf, (size_t)(end - buf), "\r\n", 2);
	n = strcspn(buf + 4, " \r\n");
	if (fl.get && (q = memchr(buf + 4, '?', n)) != NULL)
		copy_value(fl.query, sizeof(fl.query), q + 1,
		    n - (size_t)(q + 1 - (buf + 4)));
	for (line = eol + 2; head_field_next(&line, end, &f);)
		take_header(&fl, &f);
	if (sse_params(&fl, rq, &err) == 0)
		return 0;
	*errstr = err.why;
	sse_error(out, err.status, err.code, err.message, err.extra);
	return -1;
}

static const char *
status_text(int status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 405: return "Method Not Allowed";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	default: return "Service Unavailable";
	}
}

/* The body of an API error: {"error", "message"} (and 429's retry). */
void
sse_error_body(struct buf *body, int status, const char *code,
    const char *message)
{
	buf_printf(body, "{\"error\":\"%s\",\"message\":\"%s\"%s}\n", code,
	    message, status == 429 ? ",\"scope\":\"client\",\"retry_after\":1"
	    : "");
}

/* An HTTP error in the API's JSON shape; extra: more header lines. */
void
sse_error(struct buf *out, int status, const char *code, const char *message,
    const char *extra)
{
	struct buf	 body;

	buf_init(&body);
	sse_error_body(&body, status, code, message);
	buf_printf(out, "HTTP/1.1 %d %s\r\nContent-Type: application/json; "
	    "charset=utf-8\r\nContent-Length: %zu\r\nCache-Control: no-store\r\n"
	    "Connection: close\r\n%s\r\n", status, status_text(status),
	    body.len, extra);
	buf_add(out, body.data, body.len);
	buf_free(&body);
}

/*
 * The answer's head: an event stream, never cached, never buffered by
 * nginx (X-Accel-Buffering) nor, per its header, transformed by a proxy.
 */
void
sse_head(struct buf *out)
{
	buf_adds(out, "HTTP/1.1 200 OK\r\n"
	    "Content-Type: text/event-stream; charset=utf-8\r\n"
	    "Cache-Control: no-store, no-transform\r\n"
	    "X-Accel-Buffering: no\r\n"
	    "X-Noom-Transport: stream\r\n"
	    "Connection: close\r\n\r\n"
	    "retry: 1000\n\n");
}

/*
 * One event: "id: <id>" (omitted if id < 0), "event: <name>" (if not
 * NULL), and data, one "data:" line per line of it.
 */
void
sse_event(struct buf *out, int64_t id, const char *name, const char *data,
    size_t len)
{
	const char	*nl, *end = data + len;

	if (id >= 0)
		buf_printf(out, "id: %" PRId64 "\n", id);
	if (name != NULL)
		buf_printf(out, "event: %s\n", name);
	for (;;) {
		nl = memchr(data, '\n', (size_t)(end - data));
		buf_adds(out, "data: ");
		buf_add(out, data, (size_t)((nl != NULL ? nl : end) - data));
		buf_add(out, "\n", 1);
		if (nl == NULL)
			break;
		data = nl + 1;
	}
	buf_add(out, "\n", 1);
}

/*
 * Is the keepalive comment due on a stream whose last answer went at sent
 * and last comment at commented (ms)?  Only once it has been idle for
 * every: any write keeps proxies from timing it out.
 */
int
sse_keepalive_due(int64_t sent, int64_t commented, int64_t now, int64_t every)
{
	return now - (sent > commented ? sent : commented) >= every;
}

/* The comment that keeps an idle stream alive through proxies. */
void
sse_keepalive(struct buf *out)
{
	buf_adds(out, ": keepalive\n\n");
}

/* The "close" event: {"code": N, "reason": "..."}; the stream ends. */
void
sse_close(struct buf *out, int code, const char *reason)
{
	json_t	*j;
	char	*s;

	j = json_pack("{s:i, s:s}", "code", code, "reason", reason);
	s = json_dumps(j, JSON_COMPACT);
	sse_event(out, -1, "close", s, strlen(s));
	free(s);
	json_decref(j);
}
