/*
 * gateway.c — noom-ws: the mailbox over WebSocket, one thread, one epoll.
 *
 *   WS PREFIX/ws   client: {"token": "...", "cursor": N}   (first frame)
 *                  server: {"cursor": C, "events": [...]}  (poll answers)
 *                  client: {"cursor": N}                   (acks, optional)
 *
 *   GET PREFIX/api/stream?cursor=N   (Authorization: Bearer <token>)
 *                  server: Server-Sent Events, one per answer, id = cursor
 *
 * nginx proxies the upgrade, and the stream unbuffered, to this program's
 * UNIX socket (conf/noom-nginx.conf.in); docs/API.md is the protocols'
 * user-facing copy.
 *
 * Same mailbox, third transport: an event stream (sse.c) is a connection
 * that never reads.  It is told from an upgrade by its path
 * (stream_open), authenticated by its header, and then served by the same
 * scan, the same struct conn and the same rules; only the framing
 * (answer_send) and the timers (stream_timers: no ping, a keepalive
 * comment, an end after a bounded time or volume) differ.
 *
 * Same mailbox, second transport.  A connection is a long-poll that never
 * ends: after the token frame it is answered at once with what is visible
 * after its cursor (or a resync answer), and from then on every time the
 * doorbell (wake.c) rings and the log holds something newer than what the
 * connection has read.  Writes stay on the HTTP API: this program only reads
 * the log and refreshes presence.
 *
 * Every rule of what a connection gets — visibility, membership moves,
 * batches, what may wait (notices and chat, after each answer), the ring
 * gap and the answer's shape — is the mailbox core's (mailbox.c), the same
 * as for GET api/poll; this file keeps only the I/O.  Two ways to answer:
 *
 * - The ring (the common case: many live connections at the same point).
 *   One read transaction per ring reads the new events once (struct scan
 *   renders each to JSON once) and matches every live connection against
 *   them in memory (mailbox_match), with the membership cached in the
 *   connection's struct reader, as the poll waker (waker.c) does for
 *   waiting polls.  The cache stays true because every membership change
 *   writes an addressed room_joined / room_left event first (rooms.c): a
 *   connection is answered up to and including that event, then its session
 *   is read again (in the same snapshot) before matching goes on.  Only that
 *   connection pays a store read.
 *
 * - One connection at a time (conn_deliver, mailbox_read): right after the
 *   token frame, when output has drained below OUT_LOW after being behind,
 *   when its cursor is below the trimmed log (resync) or too far behind the
 *   ring's scan, and when what was held for it is due but no scan served
 *   it.  One read transaction reads its session and its next answer
 *   together, so the membership cached from it is the one that answer used.
 *
 * Sessions end without a mark in the log: maintenance deletes sessions in no
 * room unseen for a day (maint.c), and a connected socket keeps its own
 * session fresh.  So the presence tick reads each live connection's session
 * when it is due for a touch (every mailbox_touch_ms()), and a session that
 * is gone is closed with 4401, as are sessions found gone on the paths above.
 *
 * Bounds, all per connection and fixed: the handshake head (WS_HEAD_MAX),
 * the input (one frame: WS_MSG_MAX plus its header; a frame announcing more
 * is refused with 1009 from its header), and the output.  Answers are
 * rendered only while less than OUT_LOW bytes wait to be written; the rest
 * waits in the log, not in memory (the connection's cursor says where to
 * resume).  A peer that lets more than OUT_MAX pile up anyway (pongs to a
 * ping flood it does not read) is cut off.
 *
 * Liveness: a ping every ping_ms; a connection that sent nothing for
 * idle_ms (no pong either) is closed with 1001.  Browsers answer pings but
 * never show them to the page, so the page learns that its socket still
 * works the way a long-poll does: it gets an answer at least every poll_ms
 * (the poll timeout), empty if nothing happened, with the cursor read so
 * far.  Presence: an authenticated connection refreshes its session's seen
 * time every mailbox_touch_ms(), as a waiting poll does, batched into one
 * write transaction per tick.
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
#define OUT_LOW		NOOM_OUT_LOW	/* render answers only below this */
#define OUT_MAX		(1024 * 1024)	/* a peer this far behind is cut off */
#define CLOSE_WAIT_MS	2000
#define MAX_EVENTS	256
#define SCAN_CHUNK	NOOM_SCAN_CHUNK	/* events the ring reads at a time */
#define PER_SESSION	2		/* live sockets of one session */
#define NBUCKETS	4096		/* of the session table */

enum cstate {
	C_HANDSHAKE,		/* reading the HTTP upgrade */
	C_AUTH,			/* upgraded, waiting for the token frame */
	C_LIVE,			/* answering from the log */
	C_CLOSING,		/* close sent: flush, shut, await EOF */
};

struct conn {
	struct conn	*prev, *next;	/* all connections; next: dead list */
	struct conn	*same;		/* next in its session's bucket */
	int		 counted;	/* is in the session table */
	int		 fd;
	enum cstate	 state;
	int		 sse;		/* an event stream, not a WebSocket */
	struct client	*client;	/* a stream's address count, or NULL */
	size_t		 sent_bytes;	/* a stream's answers so far */
	int64_t		 ends_ms;	/* monotonic: a stream ends then */
	int		 dead;		/* closed; freed at the end of the turn */
	int		 shut;		/* our side is shut down */
	int		 want_out;	/* EPOLLOUT is registered */
	int		 behind;	/* events may wait for output to drain */
	struct buf	 in;
	struct buf	 out;
	size_t		 out_off;	/* out[0..out_off) is written */
	struct ws_in	 ws;
	struct reader	 reader;	/* session, cached membership, cursor */
	struct hold	 hold;		/* what may wait, after the last answer */
	int		 held;		/* events wait for held_due */
	int64_t		 held_due;	/* monotonic ms */
	int64_t		 rx_ms;		/* monotonic: last byte from peer */
	int64_t		 ping_ms;	/* last ping sent */
	int64_t		 sent_ms;	/* last answer sent */
	int64_t		 touch_ms;	/* last presence refresh */
	int64_t		 deadline;	/* C_CLOSING: give up waiting */
	int64_t		 started;	/* wall ms, for the log line */
};

/* The streams open from one client address (the count is the bound). */
struct client {
	struct client	*next;		/* in its bucket */
	size_t		 n;
	char		 addr[NOOM_ADDR_MAX];
};

struct gw {
	const struct gw_conf *conf;
	struct db	*db;
	int		 ep;
	int		 paused;	/* accept off after EMFILE */
	struct conn	 list;		/* sentinel */
	struct conn	*by_session[NBUCKETS];	/* live ones, via ->same */
	struct client	*by_addr[NBUCKETS];	/* streams per address */
	size_t		 nstreams;	/* of nconns, event streams */
	struct conn	*dead;
	size_t		 nconns;
	int64_t		 log_end;	/* the log's end at the last read */
	int64_t		 low;		/* no servable connection's cursor is
					   below (conn_low) */
	int64_t		 touch_every;
	struct scan	 scan;		/* the ring's events; reused */
	struct scan	 one;		/* one connection's events; reused */
	struct buf	 events;	/* one answer's events; reused */
	struct ring_gap	 gap;		/* when to scan (the doorbell is not
					   watched while a ring is put off) */
	int		 bell_on;	/* the doorbell is watched: not while
					   a ring waits, nor while no
					   connection is live */
};

static void	bell_watch(struct gw *, int);

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

/* Take c out of the session table. */
static void
session_uncount(struct gw *g, struct conn *c)
{
	struct conn	**pp;

	if (!c->counted)
		return;
	for (pp = &g->by_session[c->reader.session_id % NBUCKETS]; *pp != NULL;
	    pp = &(*pp)->same)
		if (*pp == c) {
			*pp = c->same;
			break;
		}
	c->counted = 0;
}

/*
 * Count a stream from addr: 0 with c->client set, or -1 if that address
 * has conf->streams_max streams open already.
 */
static int
client_count(struct gw *g, struct conn *c, const char *addr)
{
	struct client	*cl, **bucket;

	bucket = &g->by_addr[str_hash(addr) % NBUCKETS];
	for (cl = *bucket; cl != NULL; cl = cl->next)
		if (strcmp(cl->addr, addr) == 0)
			break;
	if (cl != NULL && cl->n >= (size_t)g->conf->streams_max)
		return -1;
	if (cl == NULL) {
		cl = xcalloc(1, sizeof(*cl));
		snprintf(cl->addr, sizeof(cl->addr), "%s", addr);
		cl->next = *bucket;
		*bucket = cl;
	}
	cl->n++;
	c->client = cl;
	return 0;
}

/* Take c's stream off its address's count (the last one frees it). */
static void
client_uncount(struct gw *g, struct conn *c)
{
	struct client	*cl = c->client, **pp;

	if (cl == NULL)
		return;
	c->client = NULL;
	if (--cl->n > 0)
		return;
	for (pp = &g->by_addr[str_hash(cl->addr) % NBUCKETS]; *pp != cl;
	    pp = &(*pp)->next)
		;
	*pp = cl->next;
	free(cl);
}

/* Close c now and queue it to be freed at the end of the loop turn. */
static void
conn_close(struct gw *g, struct conn *c, const char *why)
{
	if (c->dead)
		return;
	session_uncount(g, c);
	client_uncount(g, c);
	if (c->sse)
		g->nstreams--;
	if (!g->conf->quiet && c->reader.session_id != 0)
		log_info("session %" PRId64 " disconnected after %" PRId64
		    " s: %s", c->reader.session_id,
		    (now_ms() - c->started) / 1000, why);
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

/*
 * Free b once it is empty: an idle connection holds no buffers, only its
 * struct conn.  Kept, the handshake's and the last frame's buffers were
 * 1.2 of the gateway's 1.6 KB per open WebSocket (docs/BENCHMARKS.md); a
 * frame's malloc and free cost far less than its send.
 */
static void
buf_release(struct buf *b)
{
	if (b->len == 0)
		buf_free(b);
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
	buf_release(&c->out);
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

/* What c ends with: flushed, then our side shut, then the peer's EOF. */
static void
conn_ending(struct gw *g, struct conn *c)
{
	c->state = C_CLOSING;
	c->deadline = mono_ms() + CLOSE_WAIT_MS;
	(void)conn_flush(g, c);
}

/*
 * Send c one answer, body[0..len), whose cursor c->reader.cursor is: a
 * text frame, or a stream's event with that cursor as its id.  A stream
 * that has sent conf->stream_bytes ends after it (the client reconnects
 * from its cursor).  0, or -1 if c was closed.
 */
static int
answer_send(struct gw *g, struct conn *c, const char *body, size_t len)
{
	if (!c->sse)
		return conn_send(g, c, WS_TEXT, body, len);
	sse_event(&c->out, c->reader.cursor, NULL, body, len);
	c->sent_bytes += len;
	if (c->sent_bytes >= g->conf->stream_bytes) {
		conn_ending(g, c);
		return -1;		/* nothing more goes to c */
	}
	return conn_flush(g, c);
}

/* Count the events of answer a delivered to c, by its transport. */
static void
delivered(struct gw *g, const struct conn *c, const struct answer *a)
{
	metrics_delivered(g->conf->metrics, c->sse ? M_DELIVERED_STREAM :
	    M_DELIVERED_WS, a);
}

/* The transport c is, as the sessions table and the logs name it. */
static const char *
transport(const struct conn *c)
{
	return c->sse ? "stream" : "websocket";
}

/*
 * Start the closing handshake with code (a stream: its "close" event with
 * that code); the connection ends once flushed.
 */
static void
conn_fail(struct gw *g, struct conn *c, int code, const char *reason)
{
	if (c->dead || c->state == C_CLOSING)
		return;
	if (!g->conf->quiet && code != 1000)
		log_info("closing %s with %d: %s", transport(c), code, reason);
	if (c->sse)
		sse_close(&c->out, code, reason);
	else
		ws_close_frame(&c->out, code, reason);
	c->state = C_CLOSING;
	c->deadline = mono_ms() + CLOSE_WAIT_MS;
	(void)conn_flush(g, c);
}

/* Read c's session into *s; 0, or -1 if c was closed (4401 gone, 1011). */
static int
session_read(struct gw *g, struct conn *c, struct session *s)
{
	int	 found;

	if ((found = db_session_by_id(g->db, c->reader.session_id, s)) == 1)
		return 0;
	if (found == 0)
		conn_fail(g, c, 4401, "session ended");
	else
		conn_fail(g, c, 1011, "store failed");
	return -1;
}

/*
 * Read c's membership again, inside the caller's read transaction whose
 * log ends at end; 0, or -1 if c was closed.
 */
static int
conn_member(struct gw *g, struct conn *c, int64_t end)
{
	struct session	 s;

	if (session_read(g, c, &s) == -1)
		return -1;
	c->reader.room_id = s.room_id;
	c->reader.join_seq = s.join_seq;
	c->reader.member_seq = end;
	return 0;
}

/* c was just sent an answer: what may wait for it starts again. */
static void
conn_sent(struct gw *g, struct conn *c, int64_t now)
{
	c->sent_ms = now;
	mailbox_hold_after(&c->hold, now, g->conf->chat_gap_ms);
}

/*
 * Read c's next answer after its cursor on its own (mailbox_read, nothing
 * held): *body is new (the caller frees it), a resync answer if the cursor
 * is not in the kept log, or NULL if nothing is visible yet; c's cursor
 * moves on and g->log_end is the log's end.  0, or -1 if c was closed.
 * The session is read inside the same read transaction, so the membership
 * cached in c->reader for the ring's matching is exactly the one this
 * answer was matched with, whatever moves happen meanwhile (their events
 * come after this snapshot, and the ring stops at them).
 */
static int
conn_answer(struct gw *g, struct conn *c, char **body)
{
	struct answer	 a;
	int64_t		 end;
	int		 rv = -1, verdict;

	*body = NULL;
	if (db_begin_read(g->db) == -1)
		goto fail;
	if (conn_member(g, c, 0) == -1)
		goto out;
	buf_reset(&g->events);
	verdict = mailbox_read(g->db, &c->reader, NULL, mono_ms(), &g->one,
	    &g->events, &a, &end);
	scan_clear(&g->one, 0);
	if (verdict == -1)
		goto fail;
	g->log_end = end;
	if (verdict == MB_ANSWER || verdict == MB_RESYNC)
		*body = mailbox_answer_new(a.cursor, g->events.data,
		    g->events.len, verdict == MB_RESYNC);
	if (verdict == MB_ANSWER)
		delivered(g, c, &a);
	c->reader.cursor = a.cursor;
	buf_reset(&g->events);
	rv = 0;
	goto out;
fail:
	conn_fail(g, c, 1011, "store failed");
out:
	db_rollback(g->db);		/* a read: nothing to commit */
	return rv;
}

/*
 * Send c what the log holds for its session beyond its cursor, one answer
 * (and one read transaction) at a time, while its output is short enough;
 * otherwise note that it is behind.  The path for a connection the ring's
 * scan does not serve.
 */
static void
conn_deliver(struct gw *g, struct conn *c)
{
	int64_t	 was;
	char	*body;

	c->behind = 0;
	c->held = 0;
	while (!c->dead && c->state == C_LIVE &&
	    c->reader.cursor < g->log_end) {
		if (pending(c) >= OUT_LOW) {
			c->behind = 1;
			return;
		}
		was = c->reader.cursor;
		if (conn_answer(g, c, &body) == -1)
			return;
		if (body != NULL) {
			conn_sent(g, c, mono_ms());
			(void)answer_send(g, c, body, strlen(body));
			free(body);
		}
		if (c->reader.cursor <= was)
			return;		/* a log reset under us: resync sent */
	}
}

/*
 * Send c one answer holding the events in g->events, with cursor, and empty
 * g->events.  0, or -1 if c was closed.
 */
static int
conn_answer_events(struct gw *g, struct conn *c, int64_t cursor, int64_t now)
{
	struct buf	 body = { 0 };
	int		 rv;

	mailbox_answer_add(&body, cursor, g->events.data, g->events.len, 0);
	buf_reset(&g->events);
	c->reader.cursor = cursor;
	conn_sent(g, c, now);
	rv = answer_send(g, c, body.data, body.len);
	buf_free(&body);
	return rv;
}

/* conn_match()'s connection, for its match_io. */
struct conn_io {
	struct gw	*g;
	struct conn	*c;
	int64_t		 now;
};

static int
io_send(void *arg, const struct answer *a)
{
	struct conn_io	*x = arg;

	delivered(x->g, x->c, a);
	return conn_answer_events(x->g, x->c, a->cursor, x->now);
}

static int
io_member(void *arg)
{
	struct conn_io	*x = arg;

	return conn_member(x->g, x->c, x->g->log_end);
}

static size_t
io_pending(void *arg)
{
	return pending(((struct conn_io *)arg)->c);
}

/*
 * Send c its events among the scanned ones (the log up to end, in the
 * ring's read transaction), matched in memory against the membership
 * cached in c->reader (mailbox_match), as answers of at most
 * NOOM_BATCH_MAX events.  An answer that ends at an event that moves c's
 * session is followed by a read of its membership before matching goes
 * on.  What may wait is held (c->held) until its due, when a scan matches
 * c again.  Matching stops once c's output reaches OUT_LOW: c is behind,
 * and conn_deliver() catches it up when the output has drained; as it does
 * a connection the scan started after (MB_BEHIND).
 */
static void
conn_match(struct gw *g, struct conn *c, const struct scan *sc, int64_t end,
    int64_t now)
{
	struct conn_io	 x = { g, c, now };
	struct match_io	 io = { io_send, io_member, io_pending, &x };
	int64_t		 due = 0;

	c->behind = 0;
	switch (mailbox_match_all(&c->reader, &c->hold, sc, end, now,
	    &g->events, &io, &due)) {
	case MATCH_HOLD:
		c->held = 1;
		c->held_due = due;
		ring_gap_due(&g->gap, due);
		return;
	case MATCH_GONE:
		return;
	case MATCH_BEHIND:
		c->behind = 1;
		break;
	}
	c->held = 0;
}

static void	conn_fail(struct gw *, struct conn *, int, const char *);

/*
 * Count c, authenticated, against its session: at most PER_SESSION live
 * sockets per session (two tabs that share one, say); a newer one closes
 * the oldest with 4409, so a script cannot hold sockets by the thousand
 * with one token.
 */
static void
session_count(struct gw *g, struct conn *c)
{
	struct conn	**bucket, *q, *oldest = NULL;
	int		 n = 0;

	bucket = &g->by_session[c->reader.session_id % NBUCKETS];
	for (q = *bucket; q != NULL; q = q->same)
		if (q->reader.session_id == c->reader.session_id) {
			n++;
			oldest = q;	/* the chain is newest first */
		}
	c->same = *bucket;
	*bucket = c;
	c->counted = 1;
	if (n >= PER_SESSION) {
		session_uncount(g, oldest);
		conn_fail(g, oldest, 4409, "replaced by a newer connection of "
		    "this session");
	}
}

/*
 * c, still live after a round, may take more: it counts for g->low, the
 * lowest cursor among the connections the last round left (deliver_rest)
 * and those gone live since (conn_start), where a ring's scan starts
 * (mailbox_scan_start).  Cursors only grow, so it stays a lower bound.
 */
static void
conn_low(struct gw *g, const struct conn *c)
{
	if (!c->dead && c->state == C_LIVE && !c->behind &&
	    c->reader.cursor < g->low)
		g->low = c->reader.cursor;
}

/*
 * c is authenticated as session sid and reads from cursor: it goes live
 * and gets its first answer at once (empty if nothing is there), then
 * whatever more the log holds for it.  The same for both transports.
 */
static void
conn_start(struct gw *g, struct conn *c, int64_t sid, int64_t cursor)
{
	int64_t		 now = now_ms();
	char		*body = NULL;

	c->reader.session_id = sid;
	c->state = C_LIVE;
	session_count(g, c);
	/* Rings from now on are heard (unless one waits: its scan will
	 * read everything); what came before, conn_answer() reads. */
	if (!ring_gap_put_off(&g->gap))
		bell_watch(g, 1);
	/* Presence, as a poll arriving now would refresh it. */
	if (db_session_touch(g->db, sid, now, now - g->touch_every,
	    transport(c)) == -1) {
		conn_fail(g, c, 1011, "store failed");
		return;
	}
	c->touch_ms = mono_ms();
	c->reader.cursor = cursor;
	if (conn_answer(g, c, &body) == -1)
		return;
	if (body == NULL)
		body = mailbox_answer_new(c->reader.cursor, "", 0, 0);
	if (!g->conf->quiet)
		log_info("session %" PRId64 " connected (%s), cursor %" PRId64,
		    sid, transport(c), cursor);
	c->sent_ms = mono_ms();
	if (answer_send(g, c, body, strlen(body)) == 0)
		/*
		 * A full batch leaves more behind, and the ring for it may
		 * have been served before this connection existed:
		 * conn_answer() read the log's end into g->log_end, catch up
		 * to it now.
		 */
		conn_deliver(g, c);
	conn_low(g, c);
	free(body);
}

/* The first frame: {"token": "...", "cursor": N}. */
static void
conn_auth(struct gw *g, struct conn *c, const struct ws_msg *m)
{
	struct session	 s;
	json_t		*j, *tok, *cur;
	int		 found;

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
	conn_start(g, c, s.id, json_integer_value(cur));
out:
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
	buf_release(&c->in);
}

/* Refuse a stream request: an HTTP error (JSON), then the end. */
static void
stream_refuse(struct gw *g, struct conn *c, int status, const char *code,
    const char *message)
{
	if (!g->conf->quiet)
		log_info("stream refused: %d %s", status, code);
	sse_error(&c->out, status, code, message, "");
	conn_ending(g, c);
}

/*
 * The request in c->in is for the event stream (GET PREFIX/api/stream):
 * its errors are answered as the API's, before anything is streamed;
 * otherwise the answer's head goes out and c is live, as a WebSocket after
 * its token frame.
 */
static void
stream_open(struct gw *g, struct conn *c)
{
	struct sse_req	 rq;
	struct session	 s;
	const char	*errstr = "";
	int		 found;

	if (sse_request(c->in.data, c->in.len, &rq, &c->out, &errstr) == -1) {
		if (!g->conf->quiet)
			log_info("stream refused: %s", errstr);
		conn_ending(g, c);
		return;
	}
	if (!rq.has_token) {
		stream_refuse(g, c, 401, "unauthorized", "A session token is "
		    "needed (Authorization: Bearer <token>).");
		return;
	}
	if ((found = db_session_by_token(g->db, rq.token, &s)) != 1) {
		if (found == 0)
			stream_refuse(g, c, 401, "unauthorized", "Unknown "
			    "session token.");
		else
			stream_refuse(g, c, 503, "unavailable", "The store "
			    "failed; try again.");
		return;
	}
	if (client_count(g, c, rq.addr) == -1) {
		metrics_add(g->conf->metrics, M_LIMIT_STREAMS, 1);
		stream_refuse(g, c, 429, "rate_limited", "Too many streams "
		    "are open from this address; try again.");
		return;
	}
	c->sse = 1;
	g->nstreams++;
	c->ends_ms = mono_ms() + g->conf->stream_ms;
	buf_free(&c->in);
	sse_head(&c->out);
	conn_start(g, c, s.id, rq.cursor);
}

static void
conn_handshake(struct gw *g, struct conn *c)
{
	const char	*errstr = NULL;
	int		 head;

	if (sse_is_stream(c->in.data, c->in.len)) {
		stream_open(g, c);
		return;
	}
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
	else if (c->state == C_CLOSING || c->sse)
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
	if (c->state == C_CLOSING || c->sse)
		return;			/* a stream's client says nothing */
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
		c->state = C_HANDSHAKE;	/* in, out: empty (zeroed) */
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

/* Can the ring's scan serve c?  (mailbox_scan_serves: the rule) */
static int
scan_serves(const struct conn *c, int64_t log_end, int64_t trimmed)
{
	return c->state == C_LIVE && mailbox_scan_serves(c->reader.cursor,
	    pending(c), log_end, trimmed);
}

/*
 * Read the log after from, up to SCAN_CHUNK events at a time, inside the
 * ring's read transaction, and match every connection the scan serves
 * against each chunk.  0, or -1 on a store error.
 */
static int
scan_match(struct gw *g, int64_t from, int64_t log_end, int64_t trimmed)
{
	struct scan	*sc = &g->scan;
	struct conn	*c, *next;
	int64_t		 end, now = mono_ms();

	while (from < log_end) {
		scan_clear(sc, from);
		if (db_events_after(g->db, from, SCAN_CHUNK, scan_add, sc) == -1)
			return -1;
		end = sc->n == SCAN_CHUNK ? sc->evs[sc->n - 1].ev.seq : log_end;
		for (c = g->list.next; c != &g->list; c = next) {
			next = c->next;
			if (scan_serves(c, log_end, trimmed))
				conn_match(g, c, sc, end, now);
		}
		from = end;
	}
	return 0;
}

/* Watch the doorbell (on) or not (a scan is put off and will read all). */
static void
bell_watch(struct gw *g, int on)
{
	struct epoll_event ev = { .events = on ? EPOLLIN : 0 };

	if (g->bell_on == on)
		return;
	ev.data.ptr = &g->list;
	if (epoll_ctl(g->ep, EPOLL_CTL_MOD, wake_watch_fd(), &ev) == -1)
		log_warn("epoll_ctl: %s", strerror(errno));
	g->bell_on = on;
}

/*
 * After a scan: a connection still held registers its due again (its hold
 * ends then, whether or not a scan served it); one whose hold is over, and
 * any the scan could not serve, is caught up one at a time.
 */
static void
deliver_rest(struct gw *g)
{
	struct conn	*c, *next;
	int64_t		 now = mono_ms();

	g->low = INT64_MAX;
	for (c = g->list.next; c != &g->list; c = next) {
		next = c->next;
		if (c->held && c->held_due > now)
			ring_gap_due(&g->gap, c->held_due);
		else if (c->state == C_LIVE && c->reader.cursor < g->log_end)
			conn_deliver(g, c);
		conn_low(g, c);
	}
}

/*
 * Read the new events once, in one read transaction, and answer every live
 * connection from them; then serve the few the scan could not, one at a
 * time.  Connections holding what may wait are matched again at its due.
 */
static void
serve_all(struct gw *g)
{
	int64_t	 log_end, trimmed;

	if (ring_gap_put_off(&g->gap))	/* this scan serves the ring waiting */
		bell_watch(g, 1);
	ring_gap_scanned(&g->gap, mono_ms());
	wake_drain();			/* ... and every ring before it */
	if (db_begin_read(g->db) == -1)
		return;
	if ((log_end = db_log_end(g->db)) == -1 ||
	    (trimmed = db_trimmed_upto(g->db)) == -1) {
		db_rollback(g->db);
		return;
	}
	g->log_end = log_end;
	/* On a store error the one at a time path reports it. */
	(void)scan_match(g, mailbox_scan_start(g->low, log_end, trimmed),
	    log_end, trimmed);
	db_rollback(g->db);		/* a read: nothing to commit */
	scan_clear(&g->scan, 0);
	deliver_rest(g);
}

/* Whether any connection takes events (serve_all has work). */
static int
any_live(const struct gw *g)
{
	const struct conn	*c;

	for (c = g->list.next; c != &g->list; c = c->next)
		if (c->state == C_LIVE)
			return 1;
	return 0;
}

/*
 * The doorbell rang.  With no live connection there is nobody to serve: the
 * ring is not read, and the doorbell is not watched until a connection goes
 * live (conn_auth watches it again before that connection reads the log's
 * end itself, conn_answer).  So a gateway nobody uses costs neither store
 * reads nor a wake-up per message while chat goes over long-polls.
 * Otherwise the ring gap decides (struct ring_gap, mailbox.c): at once
 * after a quiet spell, else one scan at the gap's end for every ring
 * meanwhile, which do not wake the gateway.
 */
static void
ring(struct gw *g)
{
	if (!any_live(g)) {
		bell_watch(g, 0);
		wake_drain();
		return;
	}
	if (ring_gap_ring(&g->gap, mono_ms()))
		serve_all(g);
	else
		bell_watch(g, 0);
}

/*
 * Refresh the presence of c's session inside the caller's write
 * transaction, unless a poll refreshed it meanwhile; close c with 4401 if
 * the session is gone.  Nothing in the log marks a session's end
 * (maintenance deletes it, maint.c), and the ring reads no sessions, so
 * this read every mailbox_touch_ms() is what notices.  The
 * cached membership is left alone: an event that moves the session may be
 * committed but not matched yet.  0, or -1 on a store error.
 */
static int
conn_touch(struct gw *g, struct conn *c, int64_t wall)
{
	struct session	 s;
	int		 found;

	found = db_session_by_id(g->db, c->reader.session_id, &s);
	if (found == 0)
		conn_fail(g, c, 4401, "session ended");
	if (found != 1)
		return found;
	return mailbox_touch(g->db, &s, wall, g->touch_every, transport(c));
}

/*
 * A stream's timers: its end after conf->stream_ms (the client reconnects
 * from its cursor at once), a comment once idle for conf->keepalive_ms
 * (sse_keepalive_due).  It has no
 * idle timeout (its client never writes): a closed peer is seen as EOF or
 * as a failed write.  0, or -1 if c ends.
 */
static int
stream_timers(struct gw *g, struct conn *c, int64_t now)
{
	if (now >= c->ends_ms) {
		conn_ending(g, c);
		return -1;
	}
	if (!sse_keepalive_due(c->sent_ms, c->ping_ms, now,
	    g->conf->keepalive_ms))
		return 0;
	c->ping_ms = now;
	sse_keepalive(&c->out);
	return conn_flush(g, c);
}

/*
 * Timers: closing deadlines, heartbeats, presence (in one write transaction
 * for at most NOOM_TOUCH_BATCH connections, as nginx's stream module does).
 * 1 if more touches are due, for a tick NOOM_TOUCH_AGAIN_MS later; else 0.
 */
static int
tick(struct gw *g)
{
	struct conn	*c, *next;
	int64_t		 now = mono_ms(), wall = now_ms();
	int		 touched = 0, more = 0, failed = 0, rv;

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
		if (c->sse) {
			if (stream_timers(g, c, now) == -1)
				continue;
		} else if (now - c->rx_ms >= g->conf->idle_ms) {
			if (c->state == C_HANDSHAKE)
				conn_close(g, c, "no handshake");
			else
				conn_fail(g, c, 1001, "idle: no pong");
			continue;
		} else if (c->state != C_HANDSHAKE &&
		    now - c->ping_ms >= g->conf->ping_ms) {
			c->ping_ms = now;
			if (conn_send(g, c, WS_PING, "", 0) == -1)
				continue;
		}
		/* Nothing for a poll timeout: the empty answer a poll gets. */
		if (c->state == C_LIVE && now - c->sent_ms >= g->conf->poll_ms &&
		    pending(c) < OUT_LOW) {
			char *body = mailbox_answer_new(c->reader.cursor, "",
			    0, 0);

			conn_sent(g, c, now);
			rv = answer_send(g, c, body, strlen(body));
			free(body);
			if (rv == -1)
				continue;
		}
		if (c->state == C_LIVE && now - c->touch_ms >= g->touch_every &&
		    !failed) {
			if (touched == NOOM_TOUCH_BATCH) {
				more = 1;
				continue;
			}
			if (touched++ == 0 && db_begin(g->db) == -1) {
				failed = 1;
				continue;
			}
			if (conn_touch(g, c, wall) == -1)
				failed = 1;
			c->touch_ms = now;
		}
	}
	if (touched > 0 && (failed || db_commit(g->db) == -1))
		db_rollback(g->db);
	return more && !failed;
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

/*
 * SIGHUP: read --config again for log_level, in place (no connection is
 * touched); a wrong file is logged and changes nothing.
 */
static void
reload(const struct gw_conf *conf)
{
	char	*cause = NULL;

	if (conf->config_path == NULL)
		return;
	if (conf_log_level(conf->config_path, &cause) == -1)
		log_warn("reload: %s; the running configuration stays",
		    cause != NULL ? cause : "cannot read it");
	else
		log_info("configuration reloaded");
	free(cause);
}

/* Serve until SIGTERM or SIGINT; 0, or -1 with *cause at start-up. */
int
gateway_run(const struct gw_conf *conf, char **cause)
{
	struct epoll_event	 ev, evs[MAX_EVENTS];
	struct signalfd_siginfo	 si;
	struct gw		 g;
	struct conn		*c;
	int64_t			 next_tick, now, wait_until, at;
	int			 i, n, tick_ms, rv = -1, done = 0;

	memset(&g, 0, sizeof(g));
	g.conf = conf;
	g.low = INT64_MAX;
	g.list.next = g.list.prev = &g.list;
	g.touch_every = mailbox_touch_ms(conf->presence_timeout);
	buf_init(&g.events);
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
	db_metrics(g.db, conf->metrics);
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
	g.bell_on = 1;
	ev.data.ptr = &g;		/* signals */
	if (epoll_ctl(g.ep, EPOLL_CTL_ADD, conf->signal_fd, &ev) == -1)
		goto fail;
	if ((g.log_end = db_log_end(g.db)) == -1) {
		*cause = xstrdup("cannot read the event log");
		goto out;
	}

	next_tick = mono_ms() + tick_ms;
	while (!done) {
		now = mono_ms();
		wait_until = next_tick;
		if ((at = ring_gap_at(&g.gap)) != 0 && at < wait_until)
			wait_until = at;
		n = epoll_wait(g.ep, evs, MAX_EVENTS,
		    wait_until > now ? (int)(wait_until - now) : 0);
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
				if (read(conf->signal_fd, &si, sizeof(si)) <= 0)
					continue;
				if (si.ssi_signo == SIGHUP)
					reload(conf);
				else
					done = 1;
			} else {
				c = evs[i].data.ptr;
				if (!c->dead && (evs[i].events & EPOLLOUT) &&
				    conn_flush(&g, c) == 0 && c->behind &&
				    pending(c) < OUT_LOW) {
					conn_deliver(&g, c);
					conn_low(&g, c);
				}
				if (!c->dead && (evs[i].events &
				    (EPOLLIN | EPOLLHUP | EPOLLERR)))
					conn_read(&g, c);
			}
		}
		if ((at = ring_gap_at(&g.gap)) != 0 && mono_ms() >= at)
			serve_all(&g);
		if (mono_ms() >= next_tick)
			next_tick = mono_ms() + (tick(&g) ? NOOM_TOUCH_AGAIN_MS :
			    tick_ms);
		while ((c = g.dead) != NULL) {
			g.dead = c->next;
			conn_free(c);
		}
		metrics_websockets(conf->metrics,
		    (int64_t)(g.nconns - g.nstreams), (int64_t)g.nstreams);
	}
	shutdown_all(&g);
	metrics_websockets(conf->metrics, 0, 0);
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
	scan_free(&g.scan);
	scan_free(&g.one);
	buf_free(&g.events);
	db_close(g.db);
	return rv;
}
