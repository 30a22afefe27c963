/*
 * poll.c — the long-poll mailbox.
 *
 *   GET /api/poll?cursor=N -> {cursor, events: [...]} or {resync: true, ...}
 *
 * The design (docs/DESIGN.md has the measurements):
 *
 * 1. An accept thread authenticates the poll and, in one read transaction,
 *    reads the events after the cursor that the session may see.  If there
 *    are any it answers at once.  If not, it notes how far it looked
 *    (park.upto = the newest sequence number in that snapshot) and hands the
 *    still-open FastCGI request to this process's waker.  The accept thread
 *    goes straight back to accepting: a waiting poll holds no thread, only a
 *    struct parked and libfcgi's request buffers.
 *
 * 2. The waker is one thread per worker process.  It sleeps in poll(2) on
 *    the doorbell (wake.c), its inbox and the nearest deadline.  When the
 *    doorbell rings it reads the log once from the lowest park.upto of its
 *    parked polls and matches each new event against each parked poll in
 *    memory: one query per ring, however many polls wait.  Because the waker
 *    alone owns the parked list and every entry carries how far it has been
 *    checked, an event committed between an accept thread's check and the
 *    hand-over cannot be missed: the ring for it is read after the entry is
 *    in the list, or the entry's upto is below the event and the next scan
 *    covers it.
 *
 * 3. A parked poll carries the session's membership as it was when it
 *    parked.  Membership changes always write an addressed room_joined /
 *    room_left event before anything else (rooms.c), so the waker answers a
 *    parked poll at that event at the latest, and the next poll reads the
 *    new membership from the database.
 *
 * 4. What may wait is held by the waker: notices (event_holdable) up to
 *    NOOM_NOTICE_HOLD_MS, and chat to a poller answered less than
 *    --chat-gap ms ago (chat_hold()).  Anything else is answered at once,
 *    with what was held before it.  The waker scans at most every
 *    NOOM_RING_GAP_MS, so that a stream of posts costs a scan per gap, not
 *    one per post.
 *
 * Exactly-once: an answer holds every visible event in (cursor, answer
 * cursor], in order, and nothing else; re-polling with the same cursor reads
 * the same range of an append-only log again.  A cursor below what trimming
 * kept (or above anything ever written: a reset database) is answered with
 * resync instead.
 *
 * Bounds: NOOM_BATCH_MAX events per answer, app->poll_timeout seconds of
 * waiting, and the presence timeout is larger than the poll timeout so a
 * parked poll always refreshes presence in time.
 */
#include <sys/eventfd.h>

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "noom.h"

/* Presence writes a worker gathers between two of its touch_seen()s. */
#define SEEN_MAX	16384

struct render {
	struct buf	*b;
	int		 count;
	int64_t		 last;
	int		 urgent;	/* an event that may not wait */
	int		 chat;		/* a chat message */
};

static int
render_one(void *arg, const struct event *ev)
{
	struct render	*r = arg;

	if (r->count > 0)
		buf_add(r->b, ",", 1);
	event_render(r->b, ev);
	if (event_chat(ev))
		r->chat = 1;
	else if (!ev->hold)
		r->urgent = 1;
	r->count++;
	r->last = ev->seq;
	return 0;
}

/*
 * Append to b the visible events after pk->upto (at most NOOM_BATCH_MAX),
 * inside the caller's read transaction whose newest event is max.  The
 * cursor to answer with goes to *cursor, and to *wait whether the answer
 * may wait for more (WAIT_*).  Returns the number of events, or -1 on a
 * store error.
 */
static int
poll_render(struct db *db, const struct park *pk, int64_t max, struct buf *b,
    int64_t *cursor, int *wait)
{
	struct render	 r = { b, 0, 0, 0, 0 };

	if (db_events_visible(db, pk->upto, pk->session_id, pk->room_id,
	    pk->join_seq, NOOM_BATCH_MAX, render_one, &r) == -1)
		return -1;
	*cursor = r.count == NOOM_BATCH_MAX ? r.last : max;
	if (r.urgent || r.count == NOOM_BATCH_MAX)
		*wait = WAIT_NO;
	else
		*wait = r.chat ? WAIT_CHAT : WAIT_NOTICES;
	return r.count;
}

/*
 * A poll answer {"cursor", "events": [<events>]} (with "resync": true first
 * when resync is set), new; the caller frees it.  The one place that shapes
 * an answer: the FastCGI poll, the waker and the WebSocket gateway all use it.
 */
char *
poll_body_new(int64_t cursor, const char *events, size_t len, int resync)
{
	struct buf	 b;

	buf_init(&b);
	poll_body_add(&b, cursor, events, len, resync);
	return buf_steal(&b);
}

/* The same answer, appended to b (for a caller that needs its length). */
void
poll_body_add(struct buf *b, int64_t cursor, const char *events, size_t len,
    int resync)
{
	buf_printf(b, "{%s\"cursor\":%" PRId64 ",\"events\":[",
	    resync ? "\"resync\":true," : "", cursor);
	buf_add(b, events, len);
	buf_adds(b, "]}");
}

/*
 * How often a waiting client refreshes its session's seen time: a quarter
 * of the presence timeout, at most every 5 s.  Polls (and WebSockets) write
 * no more often than this, so most of them stay read-only.
 */
int64_t
presence_touch_ms(int presence_timeout)
{
	int64_t	 touch = (int64_t)presence_timeout * 1000 / 4;

	return touch > 5000 ? 5000 : touch;
}

/*
 * The answer to a poll for pk (pk->upto is the cursor), inside the caller's
 * read transaction: POLL_EVENTS (*body new: the visible events after the
 * cursor), POLL_RESYNC (*body new: the cursor is older than what is kept,
 * or newer than anything written), POLL_EMPTY (*body NULL: nothing visible
 * yet), or POLL_FAIL on a store error.  *max is the log's end; *upto is how
 * far the log was read: the answer's cursor, or for POLL_EMPTY *max, from
 * which a waiting client continues; *wait says whether a POLL_EVENTS answer
 * may wait for more to join it (WAIT_*: ev->hold, event_chat).
 * Shared by GET api/poll and the WebSocket gateway (which reads the session
 * in the same transaction), so that both transports see exactly the same
 * events.
 */
int
poll_read_in(struct db *db, const struct park *pk, int64_t *max,
    int64_t *upto, char **body, int *wait)
{
	struct buf	 events;
	int64_t		 trimmed, next;
	int		 n, rv = POLL_FAIL;

	*body = NULL;
	*wait = WAIT_NO;
	if ((*max = db_max_seq(db)) == -1 ||
	    (trimmed = db_trimmed_upto(db)) == -1)
		return POLL_FAIL;
	if (pk->upto < trimmed || pk->upto > *max) {
		*upto = *max;
		*body = poll_body_new(*max, "", 0, 1);
		return POLL_RESYNC;
	}
	buf_init(&events);
	if ((n = poll_render(db, pk, *max, &events, &next, wait)) == -1)
		goto out;
	if (n > 0) {
		*upto = next;
		*body = poll_body_new(next, events.data, events.len, 0);
		rv = POLL_EVENTS;
	} else {
		*upto = *max;
		rv = POLL_EMPTY;
	}
out:
	buf_free(&events);
	return rv;
}

/*
 * Chat reaches one poller at most every --chat-gap ms (NOOM_CHAT_GAP_MS):
 * if the event its cursor ends at (the log's end at its last answer) was
 * written less than that ago, chat for it waits till then, and what comes
 * meanwhile joins the same answer.  Without this each poller in a busy room
 * turned round as fast as the server answered, taking the CPU the posts
 * needed (docs/BENCHMARKS.md).  At a few messages a second the cursor's
 * event is older than the gap when the next one comes, and nothing waits.
 * Anything but chat and notices (a call's signaling, a move) never waits.
 * written is when the cursor's event was written, if the caller knows it;
 * else (0) it is read.  In the caller's read transaction: how long chat
 * waits (ms), 0 for not at all, -1 on a store error.
 */
static int64_t
chat_hold(struct ctx *c, int64_t cursor, int64_t written, int64_t now)
{
	int64_t	 gap = c->app->chat_gap_ms;

	if (c->waker == NULL || gap == 0)
		return 0;		/* nobody to answer it later; or off */
	if (written <= 0 && (written = db_event_time(c->db, cursor)) <= 0)
		return written;		/* not in the log (0): now */
	return written + gap > now ? written + gap - now : 0;
}

/*
 * The answer to s's poll from cursor, in the caller's read transaction (see
 * poll_read_in); *hold is how long chat for it may wait (chat_hold()).
 *
 * Two kinds of re-poll park without reading the log, with the cursor as
 * their upto.  One from the newest event this process's waker has read (a
 * client that just got its answer) has nothing new to read.  One whose chat
 * is held (*hold > 0: it was answered less than the chat gap ago, the usual
 * re-poll in a busy room) would read and render the chat written since only
 * to put it back, and the waker reads it again at the hold's end.  The
 * waker scans for a poll handed to it as for a ring (at most every
 * NOOM_RING_GAP_MS), from the lowest upto it holds: that scan answers
 * anything that may not wait (a call's signaling, a move) at once, and the
 * hold's end the chat.  A cursor whose event is in the log (as a held one's
 * is) is never one to resync.
 */
static int
poll_answer(struct ctx *c, const struct session *s, int64_t cursor,
    int64_t now, int64_t *upto, char **body, int *wait, int64_t *hold)
{
	struct park	 pk;
	int64_t		 max, written = 0;
	int		 newest;

	*body = NULL;
	*wait = WAIT_NO;
	*upto = cursor;
	newest = c->waker != NULL &&
	    cursor == waker_newest(c->waker, &written);
	if (!newest)
		written = 0;		/* not known: chat_hold() reads it */
	if ((*hold = chat_hold(c, cursor, written, now)) == -1)
		return POLL_FAIL;
	if (newest || *hold > 0)
		return POLL_EMPTY;
	pk.session_id = s->id;
	pk.room_id = s->room_id;
	pk.join_seq = s->join_seq;
	pk.upto = cursor;
	return poll_read_in(c->db, &pk, &max, upto, body, wait);
}

/*
 * Presence: due every few seconds, not on every poll (the session read for
 * the token says whether it is).  In a worker the waker writes it, with the
 * other sessions due, in one transaction (touch_seen); elsewhere now.
 */
static int
poll_touch(struct ctx *c, const struct session *s, int64_t now)
{
	int64_t	 before = now - presence_touch_ms(c->app->presence_timeout);

	if (s->seen_ms >= before)
		return 0;
	if (c->waker != NULL) {
		waker_seen(c->waker, s->id);
		return 0;
	}
	return db_session_touch(c->db, s->id, now, before);
}

/*
 * GET api/poll: the session and the events after the cursor are read in one
 * read transaction; the presence write, when due, comes after it.
 */
void
h_poll(struct ctx *c, const struct req *rq, struct resp *rs)
{
	struct session	 s;
	int64_t		 cursor, upto, hold = 0;
	char		*body = NULL;
	int		 wait = WAIT_NO, rv;

	if (db_begin_read(c->db) == -1)
		goto fail;
	if (auth_session(c, rq, rs, &s) == -1)
		goto out;
	if (parse_cursor(rq->query, &cursor) == -1) {
		resp_error(rs, 400, "bad_cursor", "cursor must be a "
		    "non-negative integer.");
		goto out;
	}
	rv = poll_answer(c, &s, cursor, rq->now_ms, &upto, &body, &wait,
	    &hold);
	db_rollback(c->db);		/* a read: nothing to commit */
	if (rv == POLL_FAIL || poll_touch(c, &s, rq->now_ms) == -1)
		goto fail;
	switch (rv) {
	case POLL_EVENTS:
		if (wait == WAIT_NOTICES) {
			/* What was found may wait: the waker answers it after
			 * NOOM_NOTICE_HOLD_MS, with whatever joins it.  (Chat
			 * is read only when it is not held: answered now.) */
			free(body);
			upto = cursor;
			goto park;
		}
		/* FALLTHROUGH */
	case POLL_RESYNC:
		rs->status = 200;
		rs->content_type = "application/json; charset=utf-8";
		rs->text = body;
		return;
	case POLL_EMPTY:
	park:
		rs->parked = 1;
		rs->park.session_id = s.id;
		rs->park.room_id = s.room_id;
		rs->park.join_seq = s.join_seq;
		rs->park.upto = upto;
		rs->chat_hold_ms = hold;
		return;
	}
fail:
	free(body);
	resp_error(rs, 500, "internal", "The store failed.");
out:
	db_rollback(c->db);
}

/* A poll waiting for events; owned by the waker once handed over. */
struct parked {
	struct parked	*prev, *next;	/* in deadline order */
	void		*req;		/* the open FastCGI request, owned */
	struct park	 park;
	int64_t		 deadline;	/* monotonic ms */
	int64_t		 due;		/* monotonic ms: notices wait till */
	int64_t		 chat_due;	/* ... chat (0: it does not wait) */
	int64_t		 started;	/* wall ms, for the log line */
};

struct waker {
	const struct app *app;
	struct ctx	 ctx;		/* the waker's own connection */
	int		 inbox_fd;	/* eventfd: the inbox has entries */
	pthread_mutex_t	 lock;		/* guards inbox only */
	struct parked	*inbox;		/* handed over, newest first */
	struct parked	 list;		/* sentinel; waker thread only */
	size_t		 nparked;
	int64_t		 next_due;	/* earliest due of a poll holding
					   notices or chat; 0: none */
	int64_t		 scanned_ms;	/* monotonic: the last scan */
	int64_t		 scan_due;	/* a scan waits till; 0: none */
	int64_t		 next_maint;	/* monotonic ms */
	pthread_mutex_t	 newest_lock;	/* guards newest, newest_ms */
	int64_t		 newest;	/* seq of the newest event a scan read;
					   written by the waker thread, read by
					   handler threads */
	int64_t		 newest_ms;	/* ... and when it was written */
	pthread_mutex_t	 seen_lock;	/* guards seen, nseen */
	int64_t		*seen;		/* sessions due a presence write,
					   SEEN_MAX, owned; may repeat */
	size_t		 nseen;
	int64_t		*touching;	/* the waker's swap of seen, owned */
	int64_t		 next_touch;	/* monotonic ms */
};

/* Make this process's waker; NULL with *cause on failure. */
struct waker *
waker_new(const struct app *app, char **cause)
{
	struct waker	*w = xcalloc(1, sizeof(*w));

	w->app = app;
	w->ctx.app = app;
	if ((w->ctx.db = db_open(app->db_path, cause)) == NULL)
		goto fail;
	if ((w->inbox_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		if (asprintf(cause, "eventfd: %s", strerror(errno)) == -1)
			*cause = NULL;
		goto fail;
	}
	pthread_mutex_init(&w->lock, NULL);
	pthread_mutex_init(&w->newest_lock, NULL);
	pthread_mutex_init(&w->seen_lock, NULL);
	w->seen = xcalloc(SEEN_MAX, sizeof(*w->seen));
	w->touching = xcalloc(SEEN_MAX, sizeof(*w->touching));
	w->list.next = w->list.prev = &w->list;
	/* Spread the workers' maintenance so they rarely collide. */
	w->next_maint = mono_ms() + 1000 + (getpid() % 1000);
	return w;
fail:
	db_close(w->ctx.db);
	free(w);
	return NULL;
}

/*
 * The seq of the newest event this process's waker has read (0 before its
 * first scan), and in *written when it was written (wall ms).  Nothing newer
 * existed then; anything written since rings the doorbell, and the scan for
 * that ring starts at the oldest parked cursor.  Called by handler threads.
 */
int64_t
waker_newest(struct waker *w, int64_t *written)
{
	int64_t	 seq;

	pthread_mutex_lock(&w->newest_lock);
	seq = w->newest;
	*written = w->newest_ms;
	pthread_mutex_unlock(&w->newest_lock);
	return seq;
}

/*
 * Note that session sid polled and is due a presence write; the waker
 * writes it within touch_every().  Called by handler threads.  Should more
 * than SEEN_MAX gather meanwhile, the rest are dropped: their sessions are
 * still due at their next poll.
 */
void
waker_seen(struct waker *w, int64_t sid)
{
	pthread_mutex_lock(&w->seen_lock);
	if (w->nseen < SEEN_MAX)
		w->seen[w->nseen++] = sid;
	pthread_mutex_unlock(&w->seen_lock);
}

/* How often the waker writes presence: twice per touch period, ≤ 1 s. */
static int64_t
touch_every(const struct app *app)
{
	int64_t	 half = presence_touch_ms(app->presence_timeout) / 2;

	return half < 1000 ? half : 1000;
}

static int
cmp_id(const void *a, const void *b)
{
	int64_t	 x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/*
 * Write the presence of every session noted by waker_seen(), in one write
 * transaction: one commit for all the polls of a second instead of one
 * each (at 5000 waiting clients, 1000 commits a second, each of which also
 * made every connection re-read its pages).
 */
static void
touch_seen(struct waker *w)
{
	int64_t	*ids, now = now_ms(), before;
	size_t	 n, i;

	pthread_mutex_lock(&w->seen_lock);
	ids = w->seen;
	n = w->nseen;
	w->seen = w->touching;
	w->nseen = 0;
	pthread_mutex_unlock(&w->seen_lock);
	w->touching = ids;
	if (n == 0)
		return;
	qsort(ids, n, sizeof(*ids), cmp_id);
	before = now - presence_touch_ms(w->app->presence_timeout);
	if (db_begin(w->ctx.db) == -1)
		return;
	for (i = 0; i < n; i++) {
		if (i > 0 && ids[i] == ids[i - 1])
			continue;
		if (db_session_touch(w->ctx.db, ids[i], now, before) == -1)
			break;
	}
	if (i < n || db_commit(w->ctx.db) == -1) {
		log_warn("presence: the store failed");
		db_rollback(w->ctx.db);
	}
}

/*
 * Hand an open request (ownership passes to the waker) that found nothing
 * after pk->upto, or only what may wait: notices NOOM_NOTICE_HOLD_MS, chat
 * chat_hold_ms (chat_hold()).  Called by accept threads.
 */
void
waker_park(struct waker *w, void *req, const struct park *pk, int64_t started,
    int64_t chat_hold_ms)
{
	struct parked	*p = xcalloc(1, sizeof(*p));
	uint64_t	 one = 1;
	int64_t		 now = mono_ms();

	p->req = req;
	p->park = *pk;
	p->started = started;
	p->deadline = now + (int64_t)w->app->poll_timeout * 1000;
	p->due = now + NOOM_NOTICE_HOLD_MS;
	p->chat_due = chat_hold_ms > 0 ? now + chat_hold_ms : 0;
	pthread_mutex_lock(&w->lock);
	p->next = w->inbox;
	w->inbox = p;
	pthread_mutex_unlock(&w->lock);
	if (write(w->inbox_fd, &one, sizeof(one)) == -1 && errno != EAGAIN)
		log_warn("eventfd: %s", strerror(errno));
}

/* Move the inbox to the tail of the parked list, oldest first. */
static int
inbox_take(struct waker *w)
{
	struct parked	*p, *rev = NULL, *next;
	uint64_t	 n;
	int		 got = 0;

	if (read(w->inbox_fd, &n, sizeof(n)) == -1 && errno != EAGAIN)
		log_warn("eventfd: %s", strerror(errno));
	pthread_mutex_lock(&w->lock);
	p = w->inbox;
	w->inbox = NULL;
	pthread_mutex_unlock(&w->lock);
	for (; p != NULL; p = next) {		/* reverse to arrival order */
		next = p->next;
		p->next = rev;
		rev = p;
	}
	for (p = rev; p != NULL; p = next) {
		next = p->next;
		p->prev = w->list.prev;
		p->next = &w->list;
		w->list.prev->next = p;
		w->list.prev = p;
		w->nparked++;
		got = 1;
	}
	return got;
}

/*
 * Answer a parked poll with cursor and the len bytes of events (rendered,
 * comma-separated), unlink and free it.
 */
static void
parked_answer(struct waker *w, struct parked *p, int64_t cursor,
    const char *events, size_t len)
{
	struct buf	 body;

	/* Unlinked first: the answer may fail, the entry goes regardless. */
	p->prev->next = p->next;
	p->next->prev = p->prev;
	w->nparked--;
	buf_init(&body);
	poll_body_add(&body, cursor, events, len, 0);
	worker_respond_raw(p->req, 200, body.data, body.len);
	buf_free(&body);
	if (!w->app->quiet)
		log_info("GET /api/poll 200 %" PRId64 "ms (parked)",
		    now_ms() - p->started);
	free(p);
}

/*
 * Match one parked poll against the scanned events (all up to last).  If
 * any is for it, answer it and return 1; else advance its upto and return 0.
 * Events that may wait are held until the poll is due (notices, which
 * event_holdable() names, until p->due; chat, if the poll holds it, until
 * p->chat_due, and notices with it): then it leaves its upto where it is and
 * the scan at its due time (or an event that may not wait, before) answers
 * them, in order, with the rest.
 * A poll whose upto is below from holds events of an earlier batch of this
 * scan: it waits for the next scan, which starts at its upto.
 */
static int
match(struct waker *w, struct parked *p, const struct scan *sc, int64_t from,
    int64_t last, int64_t now)
{
	struct buf	 events;
	int64_t		 cursor = last, due;
	size_t		 i;
	int		 count = 0, urgent = 0, chat = 0;

	if (p->park.upto < from)
		return 0;
	for (i = 0; i < sc->n; i++) {
		const struct event *ev = &sc->evs[i].ev;

		if (ev->seq <= p->park.upto || !event_visible(&p->park, ev))
			continue;
		if (count++ == 0)
			buf_init(&events);
		else
			buf_add(&events, ",", 1);
		buf_add(&events, sc->evs[i].json, sc->evs[i].json_len);
		if (sc->evs[i].chat && p->chat_due != 0)
			chat = 1;
		else if (!ev->hold)
			urgent = 1;
		/* Stop where the membership this poll was matched with ends. */
		if (event_moves(&p->park, ev) || count == NOOM_BATCH_MAX) {
			cursor = ev->seq;
			urgent = 1;
			break;
		}
	}
	if (count == 0) {
		if (p->park.upto < last)
			p->park.upto = last;
		return 0;
	}
	due = chat ? p->chat_due : p->due;
	if (!urgent && now < due) {
		if (w->next_due == 0 || due < w->next_due)
			w->next_due = due;
		buf_free(&events);
		return 0;
	}
	parked_answer(w, p, cursor, events.data, events.len);
	buf_free(&events);
	return 1;
}

/* Read new events once and answer every parked poll they are for. */
static void
scan(struct waker *w)
{
	struct scan	 sc = { NULL, 0, 0 };
	struct parked	*p, *next;
	int64_t		 from = INT64_MAX, last, now = mono_ms();
	int		 more = 1;

	w->next_due = 0;
	w->scanned_ms = now;
	w->scan_due = 0;		/* this scan does what waited */
	for (p = w->list.next; p != &w->list; p = p->next)
		if (p->park.upto < from)
			from = p->park.upto;
	while (more && w->nparked > 0) {
		if (db_events_after(w->ctx.db, from, 1000, scan_add, &sc) == -1)
			break;
		if (sc.n == 0)
			break;
		more = sc.n == 1000;
		last = sc.evs[sc.n - 1].ev.seq;
		pthread_mutex_lock(&w->newest_lock);
		w->newest = last;
		w->newest_ms = sc.evs[sc.n - 1].ev.created_ms;
		pthread_mutex_unlock(&w->newest_lock);
		for (p = w->list.next; p != &w->list; p = next) {
			next = p->next;
			(void)match(w, p, &sc, from, last, now);
		}
		scan_clear(&sc);
		from = last;
	}
	scan_free(&sc);
}

/* Answer every poll whose wait is over with an empty list. */
static void
expire(struct waker *w, int64_t now)
{
	struct parked	*p;

	while ((p = w->list.next) != &w->list && p->deadline <= now)
		parked_answer(w, p, p->park.upto, "", 0);
}

/*
 * When the waker scans next without a ring (monotonic ms; 0: only on a
 * ring): a scan put off by the gap, or the first parked poll whose held
 * events are due; never within NOOM_RING_GAP_MS of the last scan.  Scans
 * close together would each read a few events and answer a few polls: one
 * scan a little later does them all (the gateway's rule, gateway.c ring()).
 */
static int64_t
scan_at(const struct waker *w)
{
	int64_t	 at = w->scan_due;

	if (w->next_due != 0 && (at == 0 || w->next_due < at))
		at = w->next_due;
	if (at != 0 && at < w->scanned_ms + NOOM_RING_GAP_MS)
		at = w->scanned_ms + NOOM_RING_GAP_MS;
	return at;
}

/* The waker loop of this process; never returns. */
void
waker_run(struct waker *w)
{
	struct pollfd	 pfd[2];
	int64_t		 now, timeout, at;
	int		 got;

	pfd[0].fd = w->inbox_fd;
	pfd[0].events = POLLIN;
	pfd[1].fd = wake_watch_fd();
	pfd[1].events = POLLIN;
	for (;;) {
		now = mono_ms();
		timeout = w->next_maint - now;
		if (w->list.next != &w->list &&
		    w->list.next->deadline - now < timeout)
			timeout = w->list.next->deadline - now;
		if ((at = scan_at(w)) != 0 && at - now < timeout)
			timeout = at - now;
		if (w->next_touch - now < timeout)
			timeout = w->next_touch - now;
		if (timeout < 0)
			timeout = 0;
		/* With a scan put off, rings need not wake us: it reads
		 * everything, and the doorbell is drained just before. */
		pfd[1].events = w->scan_due != 0 ? 0 : POLLIN;
		if (poll(pfd, 2, (int)timeout) == -1 && errno != EINTR)
			fatal("poll: %s", strerror(errno));
		got = 0;
		if (pfd[0].revents & POLLIN)
			got |= inbox_take(w);
		if (pfd[1].revents & POLLIN)
			got = 1;
		now = mono_ms();
		if (got || ((at = scan_at(w)) != 0 && now >= at)) {
			if (now - w->scanned_ms >= NOOM_RING_GAP_MS) {
				wake_drain();
				scan(w);
			} else if (w->scan_due == 0)
				w->scan_due = w->scanned_ms + NOOM_RING_GAP_MS;
		}
		now = mono_ms();
		expire(w, now);
		if (now >= w->next_touch) {
			touch_seen(w);
			w->next_touch = now + touch_every(w->app);
		}
		if (now >= w->next_maint) {
			maintenance(&w->ctx, now_ms());
			w->next_maint = now + 2000;
		}
	}
}
