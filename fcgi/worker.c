/*
 * worker.c — one worker process: handler threads, the acceptor and the
 * waker.
 *
 * A worker runs the acceptor (conns.c: it accepts nginx's connections on
 * the listening socket the master opened into an epoll set of connections),
 * app->threads handler threads, one waker (waker.c) and one housekeeping
 * thread (maint.c).  A handler thread
 * takes a connection with a request to read from that set, reads the
 * request with FCGX_Accept_r, turns it into a struct req (path below the
 * prefix, body read up to NOOM_BODY_MAX), dispatches it, and either answers
 * it or — for a poll with nothing to say yet — hands the request's
 * connection to the waker, detached from libfcgi's buffers; the waker
 * answers it through waiting_answer() here.  A connection
 * nginx keeps open (fastcgi_keep_conn on) goes back to the set after
 * the answer, from the handler or from the waker.  This is the only file
 * that reads or answers FastCGI requests (main.c only opens the socket).
 *
 * libfcgi reads a request from the connection in FCGX_Request.ipcFd when
 * that is open, and accepts one on the request's listening socket only when
 * it is not.  The handlers' requests are given a socket that never listens
 * (dead_sock), so libfcgi never accepts or blocks in accept: a connection
 * that fails to give a request is closed by libfcgi and FCGX_Accept_r
 * returns at once.
 *
 * FastCGI params relied on (conf/noom-nginx.conf.in sets them):
 * REQUEST_METHOD, DOCUMENT_URI (decoded, normalised by nginx), QUERY_STRING,
 * CONTENT_LENGTH, HTTP_AUTHORIZATION, NOOM_PREFIX; and REMOTE_ADDR,
 * HTTP_X_FORWARDED_FOR, HTTP_HOST, HTTP_ORIGIN, CONTENT_TYPE,
 * NOOM_ADMIN_COOKIE (the admin page's cookie alone), HTTPS,
 * HTTP_X_NOOM_TRANSPORT.
 */
#include <sys/socket.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fastcgi.h>
#include <fcgiapp.h>

#include "noom.h"

/*
 * After SIGTERM the process stops accepting (conns_stop), answers what is
 * already on its way to it, and ends once no handler has had a request for
 * DRAIN_QUIET_MS, or DRAIN_MAX_MS after the signal at the latest (the
 * master kills a worker that takes 5 s): see drain().
 */
#define DRAIN_QUIET_MS	200
#define DRAIN_MAX_MS	3000

struct acceptor {
	const struct app *app;
	struct waker	*waker;
	struct presence	*presence;
	struct conns	*conns;
	int		 dead_sock;	/* never listens: see the top */
	pthread_mutex_t	 gate;		/* guards the three below */
	int		 busy;		/* handlers with a request */
	int		 closed;	/* stopping: no handler may start */
	int64_t		 last_ms;	/* a handler last finished (mono) */
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
	case 403: return "Forbidden";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 429: return "Too Many Requests";
	case 503: return "Service Unavailable";
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

/*
 * A waiting poll, detached from libfcgi.  FCGX_Accept_r gives every request
 * an 8 KiB input buffer, an 8 KiB output buffer, a 512-byte error buffer and
 * a parameter table; kept for the whole wait, they were most of what a
 * waiting poll cost (docs/BENCHMARKS.md).  A waiting poll has been read
 * completely and gets one short answer, so it keeps only its connection and
 * FastCGI request id, and its answer's records are written here
 * (worker_respond_raw) when the waker has it.
 */
struct detached {
	int		 fd;	/* the connection from nginx, owned */
	int		 id;	/* FastCGI requestId */
	int		 keep;	/* nginx keeps the connection: give it back */
	struct conns	*conns;	/* ... to this process's connections */
};

/*
 * Take the connection away from r and free r's buffers and params; r is
 * ready for the next FCGX_Accept_r.  ipcFd sits below libfcgi's "don't use
 * anything below here" line, but FCGX_Request is allocated by the caller, so
 * its layout is libfcgi's ABI (unchanged since 2.4.0), and there is no
 * public call that hands the connection over.
 */
static struct detached *
detach(FCGX_Request *r, struct conns *cs)
{
	struct detached	*d = xmalloc(sizeof(*d));

	d->fd = r->ipcFd;
	d->id = r->requestId;
	d->keep = r->keepConnection;
	d->conns = cs;
	r->ipcFd = -1;		/* so that FCGX_Free neither closes nor writes */
	FCGX_Free(r, 0);	/* frees in/out/err and the params */
	return d;
}

/* Write one FastCGI record header (version 1, no padding) at p; p + 8. */
static unsigned char *
record(unsigned char *p, int type, int id, size_t len)
{
	p[0] = FCGI_VERSION_1;
	p[1] = (unsigned char)type;
	p[2] = (unsigned char)(id >> 8);
	p[3] = (unsigned char)id;
	p[4] = (unsigned char)(len >> 8);
	p[5] = (unsigned char)len;
	p[6] = 0;
	p[7] = 0;
	return p + 8;
}

/*
 * Answer a detached request and free it: the CGI head
 * as one FCGI_STDOUT record and the body as more of at most 32 KiB, the
 * empty record that ends the stream and FCGI_END_REQUEST, in one buffer and
 * one write (usually); then close the connection, as FCGX_Finish_r would,
 * or give it back to the connections' set when nginx keeps it.  The body is
 * copied once, into its records (on the stack for the usual short answer).
 */
void
worker_respond_raw(void *req, int status, const char *body, size_t len)
{
	struct detached	*d = req;
	char		 head[256];
	unsigned char	 small[4096], *out, *p;
	const char	*src;
	size_t		 hlen, chunk, off, left, need;
	ssize_t		 w;
	int		 n;

	n = snprintf(head, sizeof(head), "Status: %d %s\r\nContent-Type: "
	    "application/json; charset=utf-8\r\nContent-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n%s\r\n", status, status_text(status),
	    len, status == 429 ? "Retry-After: 1\r\n" : "");
	if (n <= 0 || (size_t)n >= sizeof(head))
		fatal("worker_respond_raw: head");	/* cannot: fixed text */
	hlen = (size_t)n;
	need = hlen + len + 8 * (len / 32768 + 2) + 24;
	out = need <= sizeof(small) ? small : xmalloc(need);
	p = record(out, FCGI_STDOUT, d->id, hlen);
	memcpy(p, head, hlen);
	p += hlen;
	for (off = 0; off < len; off += chunk) {
		chunk = len - off < 32768 ? len - off : 32768;
		p = record(p, FCGI_STDOUT, d->id, chunk);
		memcpy(p, body + off, chunk);
		p += chunk;
	}
	p = record(p, FCGI_STDOUT, d->id, 0);
	p = record(p, FCGI_END_REQUEST, d->id, 8);
	memset(p, 0, 8);	/* appStatus 0, FCGI_REQUEST_COMPLETE */
	p += 8;
	for (src = (const char *)out, left = (size_t)(p - out); left > 0;
	    src += w, left -= (size_t)w) {
		if ((w = write(d->fd, src, left)) == -1 && errno == EINTR)
			w = 0;
		else if (w <= 0)
			break;	/* nginx gave up on it: nobody to tell */
	}
	if (left == 0 && d->keep)
		conns_idle(d->conns, d->fd);
	else
		close(d->fd);
	if (out != small)
		free(out);
	free(d);
}

/* The waker's answer to a poll that waited (a waker_answer_fn). */
static void
waiting_answer(void *req, int status, const char *body, size_t len)
{
	worker_respond_raw(req, status, body, len);
}

/* Answer r with rs; r stays allocated for the next accept. */
void
worker_respond(void *req, struct resp *rs)
{
	FCGX_Request	*r = req;
	char		 extra[512] = "", *json = NULL;
	const char	*body, *type, *method;
	int		 n = 0;

	if (rs->allow != NULL)
		n = snprintf(extra, sizeof(extra), "Allow: %s\r\n", rs->allow);
	if (rs->retry_after > 0)
		n += snprintf(extra + n, sizeof(extra) - n,
		    "Retry-After: %d\r\n", rs->retry_after);
	if (rs->set_cookie[0] != '\0')
		snprintf(extra + n, sizeof(extra) - n, "Set-Cookie: %s\r\n",
		    rs->set_cookie);
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
 * A body over the limit is not read: *len says how large it claimed to be,
 * and the connection will not be kept (the rest of it is still in there).
 * Otherwise stdin is read to its end, so that a kept connection holds
 * nothing of this request when the next one is read from it.
 */
static void
read_body(FCGX_Request *r, char **body, size_t *len)
{
	const char	*cl = param(r, "CONTENT_LENGTH", "");
	char		*end, rest[256];
	unsigned long long n = 0;
	int		 got;

	*body = NULL;
	*len = 0;
	errno = 0;
	if (*cl != '\0')
		n = strtoull(cl, &end, 10);
	if (*cl != '\0' && (*end != '\0' || errno != 0))
		n = 0;
	if (n > NOOM_BODY_MAX) {
		*len = (size_t)(n > SIZE_MAX ? SIZE_MAX : n);
		r->keepConnection = 0;
		return;
	}
	if (n > 0) {
		*body = xmalloc(n + 1);
		got = FCGX_GetStr(*body, (int)n, r->in);
		*len = got > 0 ? (size_t)got : 0;
		(*body)[*len] = '\0';
	}
	while (FCGX_GetStr(rest, sizeof(rest), r->in) > 0)
		;	/* the empty record that ends stdin, or a surplus */
}

/*
 * The transport the page says it uses (X-Noom-Transport, for the log and
 * the operator), "polling" for a poll; NULL if it said nothing we know.
 */
static const char *
transport_of(FCGX_Request *r, enum route route)
{
	static const char *const known[] = { "websocket", "stream",
	    "polling" };
	const char	*said = FCGX_GetParam("HTTP_X_NOOM_TRANSPORT", r->envp);
	size_t		 i;

	if (route == R_POLL)
		return "polling";
	for (i = 0; said != NULL && i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(said, known[i]) == 0)
			return known[i];
	return NULL;
}

/*
 * Handle one accepted request: answer it, or hand it to the waker (which
 * owns its connection then).  Either way r is free for the next accept.
 */
static void
handle(struct acceptor *a, struct ctx *c, FCGX_Request *r)
{
	struct req	 rq;
	struct resp	 rs;
	const char	*uri;
	char		*body = NULL, client[NOOM_ADDR_MAX];
	size_t		 plen;
	int64_t		 start_us = mono_us();

	memset(&rq, 0, sizeof(rq));
	memset(&rs, 0, sizeof(rs));
	rq.now_ms = now_ms();
	rq.method = param(r, "REQUEST_METHOD", "GET");
	rq.query = param(r, "QUERY_STRING", "");
	rq.auth = FCGX_GetParam("HTTP_AUTHORIZATION", r->envp);
	rq.prefix = param(r, "NOOM_PREFIX", "");
	client_addr(conf_now(a->app), FCGX_GetParam("REMOTE_ADDR", r->envp),
	    FCGX_GetParam("HTTP_X_FORWARDED_FOR", r->envp), client,
	    sizeof(client));
	rq.client = client;
	rq.host = FCGX_GetParam("HTTP_HOST", r->envp);
	rq.origin = FCGX_GetParam("HTTP_ORIGIN", r->envp);
	rq.content_type = FCGX_GetParam("CONTENT_TYPE", r->envp);
	rq.admin_cookie = FCGX_GetParam("NOOM_ADMIN_COOKIE", r->envp);
	rq.https = strcmp(param(r, "HTTPS", ""), "on") == 0;
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
	/* Every handler ends its transactions; should one not, this ends it
	 * here rather than keep the process's write turn (db.c) forever. */
	db_rollback(c->db);
	if (rs.wait) {
		/* Only the connection waits; r is free for the next accept.
		 * The waker counts it in the metrics when it answers. */
		waker_wait(a->waker, detach(r, a->conns), &rs.reader, &rs.hold,
		    &rs.repoll, rq.client, rq.now_ms);
		goto out;
	}
answer:
	/* Logged first: answering frees the params rq points into. */
	if (!a->app->quiet)
		log_request(rq.method, route_pattern(rs.route),
		    rs.status ? rs.status : 500, now_ms() - rq.now_ms,
		    transport_of(r, rs.route));
	worker_respond(r, &rs);
	metrics_request(a->app->metrics, rs.route, rs.status, mono_us() -
	    start_us);
out:
	resp_clear(&rs);
	free(body);
}

/*
 * A handler thread starts on a request: 1, or 0 once the process is about
 * to end (drain() closed the gate), when it must not start anything.
 */
static int
gate_enter(struct acceptor *a)
{
	int	 open;

	pthread_mutex_lock(&a->gate);
	if ((open = !a->closed))
		a->busy++;
	pthread_mutex_unlock(&a->gate);
	return open;
}

static void
gate_leave(struct acceptor *a)
{
	pthread_mutex_lock(&a->gate);
	a->busy--;
	a->last_ms = mono_ms();
	pthread_mutex_unlock(&a->gate);
}

static void *
accept_loop(void *arg)
{
	struct acceptor	*a = arg;
	struct ctx	 c;
	FCGX_Request	 r;
	char		*cause = NULL;

	c.app = a->app;
	c.waker = a->waker;
	c.presence = a->presence;
	if ((c.db = db_open(a->app->db_path, &cause)) == NULL)
		fatal("%s", cause);
	db_metrics(c.db, a->app->metrics);
	/* One request for the thread's lifetime: waiting detaches it. */
	if (FCGX_InitRequest(&r, a->dead_sock, 0) != 0)
		fatal("FCGX_InitRequest");
	for (;;) {
		r.ipcFd = conns_take(a->conns);
		if (!gate_enter(a))
			return NULL;	/* the process ends: see drain() */
		/* So that the finish FCGX_Accept_r begins with keeps it. */
		r.keepConnection = 1;
		if (FCGX_Accept_r(&r) >= 0) {
			handle(a, &c, &r);
			if (r.ipcFd >= 0) {	/* answered, nginx keeps it */
				conns_idle(a->conns, r.ipcFd);
				r.ipcFd = -1;
			}
		}	/* else no request on it: libfcgi closed it */
		gate_leave(a);
	}
}

static void *
acceptor_loop(void *arg)
{
	conns_run(arg);
	return NULL;
}

/* The signals the worker's signal thread takes (signal_loop). */
static void
worker_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
}

/*
 * Block the worker's signals in the calling thread, and so in every thread
 * it starts: only signal_loop takes them, with sigwait.
 */
void
worker_block_signals(void)
{
	sigset_t	 set;

	worker_signals(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

/*
 * The worker's signals, on a thread of their own.  SIGHUP reloads the
 * configuration, in place: waiting polls stay waiting.  SIGTERM stops the
 * worker gracefully: it stops accepting connections (the other workers,
 * or the next one to start, take the new ones), and the waker answers
 * every waiting poll with its cursor and no events, so each client polls
 * again at once elsewhere and misses nothing; then drain().
 */
static void *
signal_loop(void *arg)
{
	struct acceptor	*a = arg;
	sigset_t	 set;
	int		 sig;

	worker_signals(&set);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP)
			conf_reload(a->app, mono_ms());
		else if (sig == SIGTERM) {
			conns_stop(a->conns);
			waker_stop(a->waker);
			return NULL;
		}
	}
}

/*
 * The end of a graceful stop, once the waker has answered its waiting
 * polls.  Requests already on their way here are still answered: those in
 * a handler, and those nginx sent on a connection it kept (each such
 * connection is closed after its answer, conns_idle, so nginx sends its
 * next request elsewhere).  A poll among them that would wait is answered
 * at once with its cursor (waker_flush).  Ends when no handler has had a
 * request for DRAIN_QUIET_MS, or after DRAIN_MAX_MS; then no handler may
 * start one (gate_enter), and what was handed over last is answered.
 */
static void
drain(struct acceptor *a)
{
	int64_t	 end = mono_ms() + DRAIN_MAX_MS, now;
	int	 done = 0;

	pthread_mutex_lock(&a->gate);
	a->last_ms = mono_ms();
	pthread_mutex_unlock(&a->gate);
	while (!done) {
		waker_flush(a->waker, 10);
		now = mono_ms();
		pthread_mutex_lock(&a->gate);
		done = now >= end || (a->busy == 0 &&
		    now - a->last_ms >= DRAIN_QUIET_MS);
		a->closed = done;
		pthread_mutex_unlock(&a->gate);
	}
	waker_flush(a->waker, 0);
}

/*
 * Run the worker process of slot (its index among the master's workers)
 * on the listening socket sock; returns only to exit, once a SIGTERM's
 * waiting polls and requests on their way are answered (drain).
 */
void
worker_main(const struct app *app, int sock, int slot)
{
	struct acceptor	 a;
	pthread_t	 t;
	char		*cause = NULL;
	int		 i;

	signal(SIGPIPE, SIG_IGN);
	if (wake_init(app->doorbell, &cause) == -1)
		fatal("doorbell: %s", cause);
	memset(&a, 0, sizeof(a));
	a.app = app;
	pthread_mutex_init(&a.gate, NULL);
	if ((a.dead_sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		fatal("socket: %s", strerror(errno));
	if ((a.conns = conns_new(sock, &cause)) == NULL)
		fatal("%s", cause);
	if ((a.waker = waker_new(app, slot, waiting_answer, &cause)) == NULL)
		fatal("waker: %s", cause);
	a.presence = presence_new();
	maint_start(app, a.presence);
	if (pthread_create(&t, NULL, acceptor_loop, a.conns) != 0 ||
	    pthread_create(&t, NULL, signal_loop, &a) != 0)
		fatal("pthread_create");
	for (i = 0; i < app->threads; i++)
		if (pthread_create(&t, NULL, accept_loop, &a) != 0)
			fatal("pthread_create");
	waker_run(a.waker);
	drain(&a);
	log_info("stopped");
	/*
	 * _exit, not exit: the handler threads are still running, and exit's
	 * handlers (libcrypto's clean-up among them) would tear down what a
	 * request in flight is using.  Nothing is left to flush: stderr is
	 * unbuffered and every transaction is committed or rolled back.
	 */
	_exit(0);
}
