/*
 * worker.c — one worker process: accept threads and the waker.
 *
 * A worker runs app->threads accept threads and one waker (poll.c), all on
 * the listening socket the master opened.  An accept thread takes a request
 * with FCGX_Accept_r, turns it into a struct req (path below the prefix,
 * body read up to NOOM_BODY_MAX), dispatches it, and either answers it or —
 * for a poll with nothing to say yet — hands the still-open request to the
 * waker and takes a fresh FCGX_Request for the next accept.  This is the only
 * file that knows libfcgi.
 *
 * FastCGI params relied on (conf/noom-nginx.conf.in sets them):
 * REQUEST_METHOD, DOCUMENT_URI (decoded, normalised by nginx), QUERY_STRING,
 * CONTENT_LENGTH, HTTP_AUTHORIZATION, NOOM_PREFIX.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "noom.h"

struct acceptor {
	const struct app *app;
	struct waker	*waker;
	int		 sock;
};

static const char *
status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 429: return "Too Many Requests";
	default: return "Internal Server Error";
	}
}

/* Write status, headers and body, then finish the request (not freed). */
static void
respond(FCGX_Request *r, int status, const char *type, const char *extra,
    const char *body, size_t len, int head)
{
	char	 head_buf[512];
	int	 n;

	/* libfcgi's FCGX_FPrintF knows no %zu: format with the C library. */
	n = snprintf(head_buf, sizeof(head_buf), "Status: %d %s\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n%s\r\n",
	    status, status_text(status), type, len, extra);
	FCGX_PutStr(head_buf, n, r->out);
	if (!head)
		FCGX_PutStr(body, (int)len, r->out);
	FCGX_Finish_r(r);
}

/* Answer a parked request (called by the waker) and free it. */
void
worker_respond_raw(void *req, int status, const char *body, size_t len)
{
	FCGX_Request	*r = req;

	respond(r, status, "application/json; charset=utf-8", "", body, len, 0);
	free(r);
}

/* Answer r with rs; r stays allocated for the next accept. */
void
worker_respond(void *req, struct resp *rs)
{
	FCGX_Request	*r = req;
	char		 extra[128] = "", *json = NULL;
	const char	*body, *type, *method;
	int		 n = 0;

	if (rs->allow != NULL)
		n = snprintf(extra, sizeof(extra), "Allow: %s\r\n", rs->allow);
	if (rs->retry_after > 0)
		snprintf(extra + n, sizeof(extra) - n, "Retry-After: %d\r\n",
		    rs->retry_after);
	if (rs->text != NULL) {
		body = rs->text;
		type = rs->content_type;
	} else {
		if (rs->json == NULL)
			resp_error(rs, 500, "internal", "No answer.");
		json = json_dumps(rs->json, JSON_COMPACT);
		body = json != NULL ? json : "{\"error\":\"internal\"}";
		type = "application/json; charset=utf-8";
	}
	method = FCGX_GetParam("REQUEST_METHOD", r->envp);
	respond(r, rs->status, type, extra, body, strlen(body),
	    method != NULL && strcmp(method, "HEAD") == 0);
	free(json);
}

static const char *
param(FCGX_Request *r, const char *name, const char *dflt)
{
	const char	*v = FCGX_GetParam(name, r->envp);

	return v != NULL ? v : dflt;
}

/*
 * Read the body into a new NUL-terminated string (*body, caller frees).
 * A body over the limit is not read: *len says how large it claimed to be.
 */
static void
read_body(FCGX_Request *r, char **body, size_t *len)
{
	const char	*cl = param(r, "CONTENT_LENGTH", "");
	char		*end;
	unsigned long long n;
	int		 got;

	*body = NULL;
	*len = 0;
	errno = 0;
	n = strtoull(cl, &end, 10);
	if (*cl == '\0' || *end != '\0' || errno != 0)
		return;
	if (n > NOOM_BODY_MAX) {
		*len = (size_t)(n > SIZE_MAX ? SIZE_MAX : n);
		return;
	}
	*body = xmalloc(n + 1);
	got = FCGX_GetStr(*body, (int)n, r->in);
	*len = got > 0 ? (size_t)got : 0;
	(*body)[*len] = '\0';
}

/*
 * Handle one accepted request.  Returns 1 if it was parked (the waker owns
 * it now), 0 if it was answered.
 */
static int
handle(struct acceptor *a, struct ctx *c, FCGX_Request *r)
{
	struct req	 rq;
	struct resp	 rs;
	const char	*uri;
	char		*body = NULL;
	size_t		 plen;
	int		 parked = 0;

	memset(&rq, 0, sizeof(rq));
	memset(&rs, 0, sizeof(rs));
	rq.now_ms = now_ms();
	rq.method = param(r, "REQUEST_METHOD", "GET");
	rq.query = param(r, "QUERY_STRING", "");
	rq.auth = FCGX_GetParam("HTTP_AUTHORIZATION", r->envp);
	rq.prefix = param(r, "NOOM_PREFIX", "");
	uri = param(r, "DOCUMENT_URI", "/");
	plen = strlen(rq.prefix);
	if (strncmp(uri, rq.prefix, plen) != 0) {
		resp_error(&rs, 404, "not_found", "Outside this application.");
		goto answer;
	}
	rq.path = uri[plen] != '\0' ? uri + plen : "/";
	read_body(r, &body, &rq.body_len);
	rq.body = body;
	api_dispatch(c, &rq, &rs);
	if (rs.parked) {
		waker_park(a->waker, r, &rs.park, rq.now_ms);
		parked = 1;
		goto out;
	}
answer:
	/* Logged first: answering frees the params rq points into. */
	if (!a->app->quiet)
		log_info("%s %s %d %" PRId64 "ms", rq.method, uri,
		    rs.status ? rs.status : 500, now_ms() - rq.now_ms);
	worker_respond(r, &rs);
out:
	resp_clear(&rs);
	free(body);
	return parked;
}

static void *
accept_loop(void *arg)
{
	struct acceptor	*a = arg;
	struct ctx	 c;
	FCGX_Request	*r = NULL;
	char		*cause = NULL;

	c.app = a->app;
	if ((c.db = db_open(a->app->db_path, &cause)) == NULL)
		fatal("%s", cause);
	for (;;) {
		if (r == NULL) {
			r = xcalloc(1, sizeof(*r));
			if (FCGX_InitRequest(r, a->sock, 0) != 0)
				fatal("FCGX_InitRequest");
		}
		if (FCGX_Accept_r(r) < 0) {
			log_warn("accept failed");
			continue;
		}
		if (handle(a, &c, r))
			r = NULL;	/* parked: the waker owns it */
	}
	return NULL;
}

/* Run one worker process on the listening socket sock; never returns. */
void
worker_main(const struct app *app, int sock)
{
	struct acceptor	 a;
	pthread_t	 t;
	char		*cause = NULL;
	int		 i;

	signal(SIGPIPE, SIG_IGN);
	if (wake_init(app->state_dir, &cause) == -1)
		fatal("doorbell: %s", cause);
	a.app = app;
	a.sock = sock;
	if ((a.waker = waker_new(app, &cause)) == NULL)
		fatal("waker: %s", cause);
	for (i = 0; i < app->threads; i++)
		if (pthread_create(&t, NULL, accept_loop, &a) != 0)
			fatal("pthread_create");
	waker_run(a.waker);
	/* NOTREACHED */
	exit(1);
}
