/*
 * gateway.c — noom-ws: the mailbox over WebSocket, one thread, one epoll.
 *
 *   WS PREFIX/ws   client: {"token": "...", "cursor": N}   (first frame)
 *                  server: {"cursor": C, "events": [...]}  (poll answers)
 *                  client: {"cursor": N}                   (acks, optional)
 *
 * nginx proxies the upgrade to this program's UNIX socket (conf/
 * noom-nginx.conf.in); docs/API.md is the protocol's user-facing copy.
 *
 * Same mailbox, second transport.  A connection is a long-poll that never
 * ends: after the token frame it is answered at once with what is visible
 * after its cursor (or a resync answer), and from then on every time the
 * doorbell (wake.c) rings and the log holds something newer than what the
 * connection has read.  Each answer is produced by poll_read() in poll.c —
 * the function GET api/poll uses — so the visibility rules, the resync rule,
 * the batch bound and the JSON shape are the workers' own, not a copy.
 * Writes stay on the HTTP API: this program only reads the log and refreshes
 * presence.
 *
 * Per ring: one max(seq) query, then one session read and one poll_read per
 * connection that is behind.  XXX: the waker in poll.c matches all parked
 * polls against one scan in memory; thousands of sockets would want the same.
 *
 * Bounds, all per connection and fixed: the handshake head (WS_HEAD_MAX),
 * the input (one frame: WS_MSG_MAX plus its header; a frame announcing more
 * is refused with 1009 from its header), and the output.  Answers are
 * rendered only while less than OUT_LOW bytes wait to be written; the rest
 * waits in the log, not in memory (the connection's upto says where to
 * resume).  A peer that lets more than OUT_MAX pile up anyway (pongs to a
 * ping flood it does not read) is cut off.
 *
 * Liveness: a ping every ping_ms; a connection that sent nothing for
 * idle_ms (no pong either) is closed with 1001.  Browsers answer pings but
 * never show them to the page, so the page learns that its socket still
 * works the way a long-poll does: it gets an answer at least every poll_ms
 * (the poll timeout), empty if nothing happened, with the cursor read so far.  Presence: an
 * authenticated connection refreshes its session's seen time every
 * presence_touch_ms(), as a waiting poll does, batched into one write
 * transaction per tick.
 *
 * Closing: our close frame (or an HTTP error during the handshake) is
 * written, then our side is shut down (FIN) and the peer's EOF awaited for
 * CLOSE_WAIT_MS, so nothing we sent is lost to a reset.  A connection is
 * freed late, at the end of the loop turn (dead list), because the epoll
 * batch being handled may still name it.
 */
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "noom.h"

#define IN_MAX		(WS_MSG_MAX + 14)	/* one whole frame */
#define OUT_LOW		(64 * 1024)	/* render answers only below this */
#define OUT_MAX		(1024 * 1024)	/* a peer this far behind is cut off */
#define BUF_KEEP	4096		/* idle buffers shrink back to this */
#define CLOSE_WAIT_MS	2000
#define MAX_EVENTS	256

enum cstate {
	C_HANDSHAKE,		/* reading the HTTP upgrade */
	C_AUTH,			/* upgraded, waiting for the token frame */
	C_LIVE,			/* answering from the log */
	C_CLOSING,		/* close sent: flush, shut, await EOF */
};

struct conn {
	struct conn	*prev, *next;	/* all connections; next: dead list */
	int		 fd;
	enum cstate	 state;
	int		 dead;		/* closed; freed at the end of the turn */
	int		 shut;		/* our side is shut down */
	int		 want_out;	/* EPOLLOUT is registered */
	int		 behind;	/* events may wait for output to drain */
	struct buf	 in;
	struct buf	 out;
	size_t		 out_off;	/* out[0..out_off) is written */
	struct ws_in	 ws;
	int64_t		 sid;
	int64_t		 upto;		/* log read up to here for sid */
	int64_t		 rx_ms;		/* monotonic: last byte from peer */
	int64_t		 ping_ms;	/* last ping sent */
	int64_t		 sent_ms;	/* last answer sent */
	int64_t		 touch_ms;	/* last presence refresh */
	int64_t		 deadline;	/* C_CLOSING: give up waiting */
	int64_t		 started;	/* wall ms, for the log line */
};

struct gw {
	const struct gw_conf *conf;
	struct db	*db;
	int		 ep;
	int		 paused;	/* accept off after EMFILE */
	struct conn	 list;		/* sentinel */
	struct conn	*dead;
	size_t		 nconns;
	int64_t		 max_seq;	/* newest seq at the last ring */
	int64_t		 touch_every;
};

static int64_t
mono_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
ep_set(struct gw *g, struct conn *c, int out)
{
	struct epoll_event	 ev;

	if (c->want_out == out)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | (out ? EPOLLOUT : 0);
	ev.data.ptr = c;
	if (epoll_ctl(g->ep, EPOLL_CTL_MOD, c->fd, &ev) == -1)
		log_warn("epoll_ctl: %s", strerror(errno));
	c->want_out = out;
}

/* Close c now and queue it to be freed at the end of the loop turn. */
static void
conn_close(struct gw *g, struct conn *c, const char *why)
{
	if (c->dead)
		return;
	if (!g->conf->quiet && c->sid != 0)
		log_info("session %" PRId64 " disconnected after %" PRId64
		    " s: %s", c->sid, (now_ms() - c->started) / 1000, why);
	close(c->fd);
	c->prev->next = c->next;
	c->next->prev = c->prev;
	g->nconns--;
	c->dead = 1;
	c->next = g->dead;
	g->dead = c;
}

static void
conn_free(struct conn *c)
{
	buf_free(&c->in);
	buf_free(&c->out);
	ws_in_free(&c->ws);
	free(c);
}

/* Make b small again once it is empty, so idle connections stay cheap. */
static void
buf_shrink(struct buf *b)
{
	if (b->len == 0 && b->cap > BUF_KEEP) {
		buf_free(b);
		buf_init(b);
	}
}

/* Write what waits in c->out; 0, or -1 if c was closed. */
static int
conn_flush(struct gw *g, struct conn *c)
{
	ssize_t	 n;

	while (c->out_off < c->out.len) {
		n = send(c->fd, c->out.data + c->out_off,
		    c->out.len - c->out_off, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n == -1) {
			conn_close(g, c, strerror(errno));
			return -1;
		}
		c->out_off += (size_t)n;
	}
	if (c->out_off < c->out.len) {
		if (c->out.len - c->out_off > OUT_MAX) {
			conn_close(g, c, "too slow: output over its bound");
			return -1;
		}
		ep_set(g, c, 1);
		return 0;
	}
	c->out.len = c->out_off = 0;
	buf_shrink(&c->out);
	ep_set(g, c, 0);
	if (c->state == C_CLOSING && !c->shut) {
		shutdown(c->fd, SHUT_WR);
		c->shut = 1;
	}
	return 0;
}

/* Bytes written to c->out but not to the socket yet. */
static size_t
pending(const struct conn *c)
{
	return c->out.len - c->out_off;
}

static int
conn_send(struct gw *g, struct conn *c, int op, const char *data, size_t len)
{
	ws_frame(&c->out, op, data, len);
	return conn_flush(g, c);
}

/* Start the closing handshake with code; the connection ends once flushed. */
static void
conn_fail(struct gw *g, struct conn *c, int code, const char *reason)
{
	if (c->dead || c->state == C_CLOSING)
		return;
	if (!g->conf->quiet && code != 1000)
		log_info("closing with %d: %s", code, reason);
	ws_close_frame(&c->out, code, reason);
	c->state = C_CLOSING;
	c->deadline = mono_ms() + CLOSE_WAIT_MS;
	(void)conn_flush(g, c);
}

/*
 * Send c what the log holds for its session beyond c->upto, as poll answers,
 * while its output is short enough; otherwise note that it is behind.
 */
static void
conn_deliver(struct gw *g, struct conn *c)
{
	struct session	 s;
	int64_t		 upto;
	char		*body;
	int		 found, rv;

	c->behind = 0;
	while (!c->dead && c->state == C_LIVE && c->upto < g->max_seq) {
		if (pending(c) >= OUT_LOW) {
			c->behind = 1;
			return;
		}
		/* Membership may have changed: read it as a poll would. */
		if ((found = db_session_by_id(g->db, c->sid, &s)) != 1) {
			if (found == 0)
				conn_fail(g, c, 4401, "session ended");
			else
				conn_fail(g, c, 1011, "store failed");
			return;
		}
		rv = poll_read(g->db, &s, c->upto, &upto, &body);
		if (rv == POLL_FAIL) {
			conn_fail(g, c, 1011, "store failed");
			return;
		}
		c->upto = upto;
		if (body != NULL) {
			c->sent_ms = mono_ms();
			(void)conn_send(g, c, WS_TEXT, body, strlen(body));
			free(body);
		}
	}
}

/* The first frame: {"token": "...", "cursor": N}. */
static void
conn_auth(struct gw *g, struct conn *c, const struct ws_msg *m)
{
	struct session	 s;
	json_t		*j, *tok, *cur;
	int64_t		 upto, now = now_ms();
	char		*body = NULL;
	int		 found, rv;

	j = json_loadb(m->data, m->len, JSON_REJECT_DUPLICATES, NULL);
	if (j == NULL || !json_is_object(j)) {
		conn_fail(g, c, 4400, "bad_json: send {\"token\", \"cursor\"}");
		goto out;
	}
	tok = json_object_get(j, "token");
	if (!json_is_string(tok) || !token_valid(json_string_value(tok))) {
		conn_fail(g, c, 4401, "unauthorized: a session token is "
		    "needed");
		goto out;
	}
	cur = json_object_get(j, "cursor");
	if (!json_is_integer(cur) || json_integer_value(cur) < 0) {
		conn_fail(g, c, 4400, "bad_cursor: cursor must be a "
		    "non-negative integer");
		goto out;
	}
	found = db_session_by_token(g->db, json_string_value(tok), &s);
	if (found != 1) {
		if (found == 0)
			conn_fail(g, c, 4401, "unauthorized: unknown session "
			    "token");
		else
			conn_fail(g, c, 1011, "store failed");
		goto out;
	}
	c->sid = s.id;
	c->state = C_LIVE;
	/* Presence, as a poll arriving now would refresh it. */
	if (db_session_touch(g->db, s.id, now, now - g->touch_every) == -1) {
		conn_fail(g, c, 1011, "store failed");
		goto out;
	}
	c->touch_ms = mono_ms();
	/* The first answer comes at once, empty if nothing is there. */
	rv = poll_read(g->db, &s, json_integer_value(cur), &upto, &body);
	if (rv == POLL_FAIL) {
		conn_fail(g, c, 1011, "store failed");
		goto out;
	}
	if (body == NULL)
		body = poll_body_new(upto, "", 0, 0);
	c->upto = upto;
	if (!g->conf->quiet)
		log_info("session %" PRId64 " connected, cursor %" JSON_INTEGER_FORMAT,
		    s.id, json_integer_value(cur));
	c->sent_ms = mono_ms();
	if (conn_send(g, c, WS_TEXT, body, strlen(body)) == -1)
		goto out;
	/*
	 * A full batch leaves more behind, and the ring for it may have been
	 * served before this connection existed: look at the log's end now.
	 */
	if ((upto = db_max_seq(g->db)) > g->max_seq)
		g->max_seq = upto;
	conn_deliver(g, c);
out:
	free(body);
	json_decref(j);
}

/* One message or control frame from the peer. */
static void
conn_message(struct gw *g, struct conn *c, const struct ws_msg *m)
{
	json_t	*j, *cur;

	switch (m->op) {
	case WS_PING:
		(void)conn_send(g, c, WS_PONG, m->data, m->len);
		return;
	case WS_PONG:
		return;			/* rx_ms is already fresh */
	case WS_CLOSE:
		/* Echo the peer's code (RFC 6455 5.5.1), then we are done. */
		if (m->code == 1005) {
			ws_frame(&c->out, WS_CLOSE, "", 0);
			c->state = C_CLOSING;
			c->deadline = mono_ms() + CLOSE_WAIT_MS;
			(void)conn_flush(g, c);
		} else
			conn_fail(g, c, m->code, "");
		return;
	case WS_BINARY:
		conn_fail(g, c, 1003, "binary messages are not spoken here");
		return;
	}
	if (c->state == C_AUTH) {
		conn_auth(g, c, m);
		return;
	}
	/* An ack {"cursor": N}: accepted, nothing depends on it yet. */
	j = json_loadb(m->data, m->len, JSON_REJECT_DUPLICATES, NULL);
	cur = json_object_get(j, "cursor");
	if (!json_is_object(j) || !json_is_integer(cur) ||
	    json_integer_value(cur) < 0)
		conn_fail(g, c, 4400, "bad_message: only {\"cursor\": N} "
		    "acks are read");
	json_decref(j);
}

/* Parse and act on every whole frame in c->in. */
static void
conn_frames(struct gw *g, struct conn *c)
{
	struct ws_msg	 m;
	size_t		 off = 0, used;
	int		 rv;

	while (!c->dead && (c->state == C_AUTH || c->state == C_LIVE)) {
		rv = ws_parse(&c->ws, (unsigned char *)c->in.data + off,
		    c->in.len - off, &used, &m);
		off += used;
		if (rv == WS_MORE)
			break;
		if (rv == WS_FAIL) {
			conn_fail(g, c, m.code, m.reason);
			break;
		}
		if (rv == WS_MSG)
			conn_message(g, c, &m);
	}
	if (c->dead)
		return;
	if (c->state == C_CLOSING)
		off = c->in.len;	/* whatever follows is not read */
	memmove(c->in.data, c->in.data + off, c->in.len - off);
	c->in.len -= off;
	c->in.data[c->in.len] = '\0';
	buf_shrink(&c->in);
}

static void
conn_handshake(struct gw *g, struct conn *c)
{
	const char	*errstr = NULL;
	int		 head;

	head = ws_handshake(c->in.data, c->in.len, &c->out, &errstr);
	if (head == 0)
		return;
	if (head == -1) {
		if (!g->conf->quiet)
			log_info("handshake refused: %s", errstr);
		c->state = C_CLOSING;
		c->deadline = mono_ms() + CLOSE_WAIT_MS;
		(void)conn_flush(g, c);
		return;
	}
	c->state = C_AUTH;
	memmove(c->in.data, c->in.data + head, c->in.len - (size_t)head);
	c->in.len -= (size_t)head;
	if (conn_flush(g, c) == 0)
		conn_frames(g, c);	/* a frame may have come along */
}

static void
conn_read(struct gw *g, struct conn *c)
{
	char	 b[16384];
	size_t	 room;
	ssize_t	 n;

	if (c->state == C_HANDSHAKE)
		room = WS_HEAD_MAX - c->in.len;
	else if (c->state == C_CLOSING)
		room = sizeof(b);	/* read to discard, until EOF */
	else
		room = IN_MAX - c->in.len;
	if (room > sizeof(b))
		room = sizeof(b);
	if (room == 0)			/* a whole frame waits to be taken */
		return;
	n = recv(c->fd, b, room, 0);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(g, c, n == 0 ? (c->state == C_CLOSING ? "closed" :
		    "peer went away") : strerror(errno));
		return;
	}
	c->rx_ms = mono_ms();
	if (c->state == C_CLOSING)
		return;
	buf_add(&c->in, b, (size_t)n);
	if (c->state == C_HANDSHAKE)
		conn_handshake(g, c);
	else
		conn_frames(g, c);
}

static void
accept_all(struct gw *g)
{
	struct epoll_event	 ev;
	struct conn		*c;
	int			 fd;

	for (;;) {
		fd = accept4(g->conf->listen_fd, NULL, NULL,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE) {
				/* Level-triggered: stop listening a tick. */
				log_warn("accept: %s", strerror(errno));
				memset(&ev, 0, sizeof(ev));
				epoll_ctl(g->ep, EPOLL_CTL_MOD,
				    g->conf->listen_fd, &ev);
				g->paused = 1;
			} else if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR && errno != ECONNABORTED)
				log_warn("accept: %s", strerror(errno));
			return;
		}
		if (g->nconns >= (size_t)g->conf->max_conns) {
			close(fd);
			continue;
		}
		c = xcalloc(1, sizeof(*c));
		c->fd = fd;
		c->state = C_HANDSHAKE;
		buf_init(&c->in);
		buf_init(&c->out);
		ws_in_init(&c->ws, WS_MSG_MAX);
		c->rx_ms = c->ping_ms = mono_ms();
		c->started = now_ms();
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		if (epoll_ctl(g->ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
			log_warn("epoll_ctl: %s", strerror(errno));
			close(fd);
			conn_free(c);
			continue;
		}
		c->prev = g->list.prev;
		c->next = &g->list;
		g->list.prev->next = c;
		g->list.prev = c;
		g->nconns++;
	}
}

/* The doorbell rang: serve every connection that is behind the log. */
static void
ring(struct gw *g)
{
	struct conn	*c, *next;
	int64_t		 max;

	wake_drain();
	if ((max = db_max_seq(g->db)) == -1)
		return;
	if (max > g->max_seq)
		g->max_seq = max;
	for (c = g->list.next; c != &g->list; c = next) {
		next = c->next;
		if (c->state == C_LIVE && c->upto < g->max_seq)
			conn_deliver(g, c);
	}
}

/* Timers: closing deadlines, heartbeats, presence. */
static void
tick(struct gw *g)
{
	struct conn	*c, *next;
	int64_t		 now = mono_ms(), wall = now_ms();
	int		 began = 0, failed = 0, rv;

	if (g->paused) {
		struct epoll_event ev = { .events = EPOLLIN };

		ev.data.ptr = NULL;
		if (epoll_ctl(g->ep, EPOLL_CTL_MOD, g->conf->listen_fd,
		    &ev) == 0)
			g->paused = 0;
	}
	for (c = g->list.next; c != &g->list; c = next) {
		next = c->next;
		if (c->state == C_CLOSING) {
			if (now >= c->deadline)
				conn_close(g, c, "no close from the peer");
			continue;
		}
		if (now - c->rx_ms >= g->conf->idle_ms) {
			if (c->state == C_HANDSHAKE)
				conn_close(g, c, "no handshake");
			else
				conn_fail(g, c, 1001, "idle: no pong");
			continue;
		}
		if (c->state != C_HANDSHAKE &&
		    now - c->ping_ms >= g->conf->ping_ms) {
			c->ping_ms = now;
			if (conn_send(g, c, WS_PING, "", 0) == -1)
				continue;
		}
		/* Nothing for a poll timeout: the empty answer a poll gets. */
		if (c->state == C_LIVE && now - c->sent_ms >= g->conf->poll_ms &&
		    pending(c) < OUT_LOW) {
			char *body = poll_body_new(c->upto, "", 0, 0);

			c->sent_ms = now;
			rv = conn_send(g, c, WS_TEXT, body, strlen(body));
			free(body);
			if (rv == -1)
				continue;
		}
		if (c->state == C_LIVE && now - c->touch_ms >= g->touch_every &&
		    !failed) {
			/*
			 * One write transaction for every touch due.  The
			 * guard skips sessions a poll refreshed meanwhile.
			 */
			if (!began && db_begin(g->db) == -1) {
				failed = 1;
				continue;
			}
			began = 1;
			if (db_session_touch(g->db, c->sid, wall,
			    wall - g->touch_every / 2) == -1)
				failed = 1;
			c->touch_ms = now;
		}
	}
	if (began && (failed || db_commit(g->db) == -1))
		db_rollback(g->db);
}

/* Say goodbye to everyone (best effort: the process is ending). */
static void
shutdown_all(struct gw *g)
{
	struct conn	*c, *next;

	for (c = g->list.next; c != &g->list; c = next) {
		next = c->next;
		if (c->state == C_AUTH || c->state == C_LIVE)
			conn_fail(g, c, 1001, "server shutting down");
		if (!c->dead)
			conn_close(g, c, "server shutting down");
	}
}

/* Serve until SIGTERM or SIGINT; 0, or -1 with *cause at start-up. */
int
gateway_run(const struct gw_conf *conf, char **cause)
{
	struct epoll_event	 ev, evs[MAX_EVENTS];
	struct signalfd_siginfo	 si;
	struct gw		 g;
	struct conn		*c;
	int64_t			 next_tick, now;
	int			 i, n, tick_ms, rv = -1, done = 0;

	memset(&g, 0, sizeof(g));
	g.conf = conf;
	g.list.next = g.list.prev = &g.list;
	g.touch_every = presence_touch_ms(conf->presence_timeout);
	tick_ms = conf->ping_ms < conf->idle_ms ? conf->ping_ms : conf->idle_ms;
	if (conf->poll_ms < tick_ms)
		tick_ms = conf->poll_ms;
	tick_ms /= 4;
	if (tick_ms > g.touch_every / 2)
		tick_ms = (int)(g.touch_every / 2);
	if (tick_ms > 1000)
		tick_ms = 1000;
	if (tick_ms < 10)
		tick_ms = 10;
	if ((g.db = db_open(conf->db_path, cause)) == NULL)
		return -1;
	if ((g.ep = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		if (asprintf(cause, "epoll: %s", strerror(errno)) == -1)
			*cause = NULL;
		goto out;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;		/* the listening socket */
	if (epoll_ctl(g.ep, EPOLL_CTL_ADD, conf->listen_fd, &ev) == -1)
		goto fail;
	ev.data.ptr = &g.list;		/* the doorbell */
	if (epoll_ctl(g.ep, EPOLL_CTL_ADD, wake_watch_fd(), &ev) == -1)
		goto fail;
	ev.data.ptr = &g;		/* signals */
	if (epoll_ctl(g.ep, EPOLL_CTL_ADD, conf->signal_fd, &ev) == -1)
		goto fail;
	if ((g.max_seq = db_max_seq(g.db)) == -1) {
		*cause = xstrdup("cannot read the event log");
		goto out;
	}

	next_tick = mono_ms() + tick_ms;
	while (!done) {
		now = mono_ms();
		n = epoll_wait(g.ep, evs, MAX_EVENTS,
		    next_tick > now ? (int)(next_tick - now) : 0);
		if (n == -1 && errno != EINTR) {
			log_warn("epoll_wait: %s", strerror(errno));
			break;
		}
		for (i = 0; i < n; i++) {
			if (evs[i].data.ptr == NULL)
				accept_all(&g);
			else if (evs[i].data.ptr == &g.list)
				ring(&g);
			else if (evs[i].data.ptr == &g) {
				if (read(conf->signal_fd, &si, sizeof(si)) > 0)
					done = 1;
			} else {
				c = evs[i].data.ptr;
				if (!c->dead && (evs[i].events & EPOLLOUT) &&
				    conn_flush(&g, c) == 0 && c->behind &&
				    pending(c) < OUT_LOW)
					conn_deliver(&g, c);
				if (!c->dead && (evs[i].events &
				    (EPOLLIN | EPOLLHUP | EPOLLERR)))
					conn_read(&g, c);
			}
		}
		if (mono_ms() >= next_tick) {
			tick(&g);
			next_tick = mono_ms() + tick_ms;
		}
		while ((c = g.dead) != NULL) {
			g.dead = c->next;
			conn_free(c);
		}
	}
	shutdown_all(&g);
	while ((c = g.dead) != NULL) {
		g.dead = c->next;
		conn_free(c);
	}
	rv = 0;
	goto out;
fail:
	if (asprintf(cause, "epoll_ctl: %s", strerror(errno)) == -1)
		*cause = NULL;
out:
	if (g.ep > 0)
		close(g.ep);
	db_close(g.db);
	return rv;
}
