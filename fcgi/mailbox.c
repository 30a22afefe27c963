/*
 * mailbox.c — the mailbox's rules, written once for every transport.
 *
 * A reader is one session's view of the event log: its membership (room,
 * since when) and its cursor (it has every event it may see up to there).
 * The long-poll waker (waker.c), the handler threads' poll (poll.c) and the
 * WebSocket gateway (gateway.c) keep only their I/O; what a reader may see,
 * what an answer holds, what may wait and for how long, and how often the
 * log is scanned are decided here, in pure code over plain structs, so
 * that tests/unit/test_mailbox.c drives them without a socket or a store.
 *
 * The rules:
 *
 * - Visibility: an event addressed to a session is for that session only;
 *   a room's event is for its members who joined before it; a lobby event
 *   (ROOM_LOBBY: the room list's changes) for the sessions in no room; the
 *   rest is for everyone (mailbox_visible; db_events_visible() is the same rule in
 *   SQL, for a reader read on its own).
 *
 * - Membership moves: a reader's membership is cached as of a log position
 *   (member_seq).  Every membership change writes an addressed room_joined
 *   or room_left event before anything else (rooms.c), so an answer ends at
 *   the first such event after member_seq, and the transport reads the
 *   session again before matching goes on (mailbox_moves).
 *
 * - An answer holds every visible event in (cursor, answer cursor], in
 *   order, at most NOOM_BATCH_MAX of them; its cursor is the scan's end
 *   when it is not cut short, so a reader moves past events it may not see
 *   (mailbox_match).  A lobby room_change that a later one of the same room
 *   in the same answer replaces is left out: a join and leave storm costs a
 *   lobby reader one count per room and answer, not one per change.
 *   {"cursor", "events"} (plus "resync": true) is its one shape
 *   (mailbox_answer_add).
 *
 * - What may wait (struct hold): notices the writer marked holdable
 *   (mailbox_holdable: the room list, comings and goings in a big room)
 *   until NOOM_NOTICE_HOLD_MS after the reader's last answer; chat until
 *   the chat gap (--chat-gap) after it (mailbox_chat_wait).  A poll's
 *   last answer is the one its client had just before polling: its hold
 *   starts when it arrives, its chat gap when its cursor's event was
 *   written.  Anything else
 *   is answered at once, with everything held before it.  The same rules
 *   hold on every transport.
 *
 * - The ring gap: a reader process scans the log at most every
 *   NOOM_RING_GAP_MS, so that a stream of posts costs a scan per gap, not
 *   one per post (struct ring_gap).
 *
 * - Presence: a waiting reader refreshes its session's seen time every
 *   mailbox_touch_ms(), so that most reads stay read-only.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "noom.h"

/* Is ev for the session and membership that r stands for? */
int
mailbox_visible(const struct reader *r, const struct event *ev)
{
	if (r->room_id == ROOM_ALL)
		return 1;
	if (ev->target_id != 0)
		return ev->target_id == r->session_id;
	if (ev->room_id == 0)
		return 1;
	if (ev->room_id == ROOM_LOBBY)
		return r->room_id == 0;
	return ev->room_id == r->room_id && ev->seq > r->join_seq;
}

/*
 * Does ev change r's membership after the position it was read at?  A
 * reader must stop at such an event and read its session again before
 * going on.
 */
int
mailbox_moves(const struct reader *r, const struct event *ev)
{
	return ev->seq > r->member_seq && ev->target_id == r->session_id &&
	    (strcmp(ev->type, "room_joined") == 0 ||
	    strcmp(ev->type, "room_left") == 0);
}

/*
 * May an event wait a little for other events to share one answer?  The
 * public room list (room_change goes to everyone on every join and leave)
 * and the comings and goings of members of a room above NOOM_BIG_ROOM: in
 * a room of thousands, answering every reader at each of them makes filling
 * the room cost members^2 answers (docs/BENCHMARKS.md).  Chat, signaling,
 * addressed events and notices in small rooms never wait for this.
 * Decided once, by the writer of the event (publish()); readers see it as
 * ev->hold.
 */
int
mailbox_holdable(int64_t target, const char *type, const json_t *data)
{
	if (target != 0)
		return 0;
	if (strcmp(type, "room_change") == 0)
		return 1;
	if (strcmp(type, "welcome") != 0 && strcmp(type, "bye") != 0)
		return 0;
	return json_integer_value(json_object_get(data, "count")) >
	    NOOM_BIG_ROOM;
}

/*
 * Is ev a chat message to a room?  Chat to a reader answered a moment ago
 * waits for the chat gap (mailbox_chat_wait); anything addressed to a
 * session (a call's signaling, a move) never waits.
 */
int
mailbox_chat(const struct event *ev)
{
	return ev->target_id == 0 && strcmp(ev->type, "new_message") == 0;
}

/*
 * How long chat for a reader last answered at `answered` waits (ms, 0: not
 * at all): until gap_ms after that answer.  Without this every reader in a
 * busy room turned round as fast as the server answered, taking the CPU the
 * posts needed (docs/BENCHMARKS.md); at a few messages a second the last
 * answer is older than the gap when the next one comes, and nothing waits.
 * answered and now are on the same clock; answered 0 means never.
 */
int64_t
mailbox_chat_wait(int64_t answered, int gap_ms, int64_t now)
{
	if (answered <= 0 || gap_ms <= 0 || answered + gap_ms <= now)
		return 0;
	return answered + gap_ms - now;
}

/*
 * What may wait for a reader answered at `answered` (monotonic ms): notices
 * NOOM_NOTICE_HOLD_MS, chat gap_ms (0: off).
 */
void
mailbox_hold_after(struct hold *h, int64_t answered, int gap_ms)
{
	h->notices_till = answered + NOOM_NOTICE_HOLD_MS;
	h->chat_till = gap_ms > 0 ? answered + gap_ms : 0;
}

/*
 * How often a waiting reader refreshes its session's seen time: a quarter
 * of the presence timeout, at most every 5 s.  Readers write no more often
 * than this, so most of their reads stay read-only.
 */
int64_t
mailbox_touch_ms(int presence_timeout)
{
	int64_t	 touch = (int64_t)presence_timeout * 1000 / 4;

	return touch > 5000 ? 5000 : touch;
}

/* The answer {"cursor", "events": [<events>]} ("resync": true first). */
void
mailbox_answer_add(struct buf *b, int64_t cursor, const char *events,
    size_t len, int resync)
{
	buf_printf(b, "{%s\"cursor\":%" PRId64 ",\"events\":[",
	    resync ? "\"resync\":true," : "", cursor);
	buf_add(b, events, len);
	buf_adds(b, "]}");
}

/* The same answer, new; the caller frees it. */
char *
mailbox_answer_new(int64_t cursor, const char *events, size_t len, int resync)
{
	struct buf	 b;

	buf_init(&b);
	mailbox_answer_add(&b, cursor, events, len, resync);
	return buf_steal(&b);
}

/* Append one event as answer JSON. */
static void
event_render(struct buf *b, const struct event *ev)
{
	buf_printf(b, "{\"seq\":%" PRId64 ",\"type\":\"%s\",\"data\":", ev->seq,
	    ev->type);
	buf_adds(b, ev->data);
	buf_add(b, "}", 1);
}

/*
 * What a later event of the same kind replaces: a lobby room_change tells a
 * room's count, and only the newest count of a room matters to a reader
 * who gets both in one answer.  The room's name, new; NULL for any other
 * event.
 */
static char *
event_key_new(const struct event *ev)
{
	json_t		*d;
	const char	*name;
	char		*key = NULL;

	if (ev->room_id != ROOM_LOBBY || strcmp(ev->type, "room_change") != 0)
		return NULL;
	if ((d = json_loads(ev->data, 0, NULL)) == NULL)
		return NULL;
	name = json_string_value(json_object_get(json_array_get(
	    json_object_get(d, "rooms"), 0), "name"));
	if (name != NULL && json_array_size(json_object_get(d, "rooms")) == 1)
		key = xstrdup(name);
	json_decref(d);
	return key;
}

/* Link the keyed event at index i to the one before it of the same key. */
static void
scan_link(struct scan *sc, size_t i)
{
	struct scanned	*s = &sc->evs[i];
	size_t		 b = str_hash(s->key) % SCAN_BUCKETS, p;

	for (p = sc->heads[b]; p != SCAN_NONE; p = sc->evs[p].chain)
		if (strcmp(sc->evs[p].key, s->key) == 0) {
			sc->evs[p].next_same = i;
			break;
		}
	s->chain = sc->heads[b];
	sc->heads[b] = i;
}

/* An event_fn for the store's reads: append a copy of ev to the scan arg. */
int
scan_add(void *arg, const struct event *ev)
{
	struct scan	*sc = arg;
	struct scanned	*s;
	struct buf	 b;

	if (sc->n == sc->cap) {
		sc->cap = sc->cap ? sc->cap * 2 : 64;
		if ((sc->evs = realloc(sc->evs, sc->cap * sizeof(*s))) == NULL)
			fatal("out of memory");
	}
	if (sc->n == 0)
		memset(sc->heads, 0xff, sizeof(sc->heads));	/* SCAN_NONE */
	s = &sc->evs[sc->n++];
	s->ev = *ev;
	s->ev.type = s->type = xstrdup(ev->type);
	s->ev.data = s->data = xstrdup(ev->data);
	s->chat = mailbox_chat(ev);
	s->type_index = metrics_type_index(ev->type);
	s->next_same = s->chain = SCAN_NONE;
	buf_init(&b);
	event_render(&b, ev);
	s->json_len = b.len;
	s->json = buf_steal(&b);
	if ((s->key = event_key_new(ev)) != NULL)
		scan_link(sc, sc->n - 1);
	return 0;
}

/*
 * Forget the scanned events, keeping the array; the next ones read are all
 * of the log after `after` (or, for one reader, all it may see after it).
 */
void
scan_clear(struct scan *sc, int64_t after)
{
	size_t	 i;

	for (i = 0; i < sc->n; i++) {
		free(sc->evs[i].type);
		free(sc->evs[i].data);
		free(sc->evs[i].json);
		free(sc->evs[i].key);
	}
	sc->n = 0;
	sc->after = after;
}

/* Free everything a scan owns; it can be used again, empty. */
void
scan_free(struct scan *sc)
{
	scan_clear(sc, 0);
	free(sc->evs);
	sc->evs = NULL;
	sc->cap = 0;
}

/* The index of the first scanned event after seq (events are in order). */
static size_t
scan_index(const struct scan *sc, int64_t seq)
{
	size_t	 lo = 0, hi = sc->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (sc->evs[mid].ev.seq <= seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Match reader r against the scanned events sc, which are every event of
 * the log in (sc->after, end] that r may need, with what may wait for it
 * in h (NULL: nothing waits).  Returns, also in a->verdict:
 *
 * MB_BEHIND  r's cursor is below the scan's start: it needs a scan (or a
 *            read) of its own from its cursor; nothing changes.
 * MB_NONE    nothing visible: r may move its cursor to a->cursor (end).
 * MB_HOLD    only what may wait, until a->due: r keeps its cursor, and a
 *            scan from it at a->due (or an event that may not wait, before)
 *            answers them, in order, with the rest.
 * MB_ANSWER  out has the answer's events appended (comma-separated), and
 *            a->cursor is its cursor: end, or the event it was cut at (a
 *            full batch, or a move: then a->moved).
 *
 * An event a later one in the same answer replaces (a room's count in the
 * lobby, event_key_new) is left out: the answer's cursor covers it, and
 * the reader gets the newest.  out is left as it was unless the verdict is
 * MB_ANSWER.  Every delivery of events, whatever the transport, is an
 * answer made here, so the answer counts its events by type too, for the
 * metrics (metrics_delivered).
 */
int
mailbox_match(const struct reader *r, const struct hold *h,
    const struct scan *sc, int64_t end, int64_t now, struct buf *out,
    struct answer *a)
{
	const struct event	*ev;
	size_t			 i, k, n = 0, next, pick[NOOM_BATCH_MAX];
	int			 urgent = 0, chat = 0;
	int64_t			 due;

	memset(a, 0, sizeof(*a));
	a->cursor = r->cursor;
	if (r->cursor < sc->after)
		return a->verdict = MB_BEHIND;
	a->cursor = end > r->cursor ? end : r->cursor;	/* never back */
	for (i = scan_index(sc, r->cursor); i < sc->n; i++) {
		ev = &sc->evs[i].ev;
		if (ev->seq > end)
			break;
		if (!mailbox_visible(r, ev))
			continue;
		pick[n++] = i;
		if (sc->evs[i].chat && h != NULL && h->chat_till != 0)
			chat = 1;
		else if (!ev->hold || h == NULL)
			urgent = 1;
		a->moved = mailbox_moves(r, ev);
		if (a->moved || n == NOOM_BATCH_MAX) {
			a->cursor = ev->seq;
			urgent = 1;
			break;
		}
	}
	if (n == 0)
		return a->verdict = MB_NONE;
	due = h == NULL ? 0 : chat ? h->chat_till : h->notices_till;
	if (!urgent && now < due) {
		a->due = due;
		a->cursor = r->cursor;
		return a->verdict = MB_HOLD;
	}
	for (k = 0; k < n; k++) {
		next = sc->evs[pick[k]].next_same;
		if (next != SCAN_NONE && sc->evs[next].ev.seq <= a->cursor &&
		    mailbox_visible(r, &sc->evs[next].ev))
			continue;	/* replaced by a later one here */
		if (a->count++ > 0)
			buf_add(out, ",", 1);
		a->types[sc->evs[pick[k]].type_index]++;
		buf_add(out, sc->evs[pick[k]].json, sc->evs[pick[k]].json_len);
	}
	return a->verdict = MB_ANSWER;
}

/*
 * The ring gap, for one process that scans the log for many readers.  A
 * ring (or a reader that needs a scan) within NOOM_RING_GAP_MS of the last
 * scan is put off until that much time has passed, and the rings meanwhile
 * are served by that one scan: under a stream of messages every reader
 * gets one answer with several events instead of one per event, each of
 * which nginx relays on its own (docs/BENCHMARKS.md).  A ring after a quiet
 * spell, the common case, is scanned at once.  Held readers are due at
 * their hold's end; a scan for them keeps the same gap.
 */

/* A ring came at now: 1 to scan now, 0 if it is put off (ring_gap_at). */
int
ring_gap_ring(struct ring_gap *g, int64_t now)
{
	if (now - g->scanned >= NOOM_RING_GAP_MS)
		return 1;
	if (g->put_off == 0)
		g->put_off = g->scanned + NOOM_RING_GAP_MS;
	return 0;
}

/* A scan starts at now: it serves the ring put off and every hold due. */
void
ring_gap_scanned(struct ring_gap *g, int64_t now)
{
	g->scanned = now;
	g->put_off = 0;
	g->next_due = 0;
}

/* A reader's held events are due at `due`: scan then. */
void
ring_gap_due(struct ring_gap *g, int64_t due)
{
	if (g->next_due == 0 || due < g->next_due)
		g->next_due = due;
}

/*
 * When to scan without a ring (monotonic ms; 0: only on a ring): a ring put
 * off, or the first hold due; never within NOOM_RING_GAP_MS of the last.
 */
int64_t
ring_gap_at(const struct ring_gap *g)
{
	int64_t	 at = g->put_off;

	if (g->next_due != 0 && (at == 0 || g->next_due < at))
		at = g->next_due;
	if (at != 0 && at < g->scanned + NOOM_RING_GAP_MS)
		at = g->scanned + NOOM_RING_GAP_MS;
	return at;
}

/*
 * Whether a ring is put off: its scan will read everything, so rings
 * meanwhile need not wake the process (it may stop watching the doorbell).
 */
int
ring_gap_put_off(const struct ring_gap *g)
{
	return g->put_off != 0;
}

/*
 * Can one ring's scan of the log (up to log_end, trimmed up to trimmed)
 * serve a live reader at cursor whose output has less than NOOM_OUT_LOW
 * waiting?  Not if it is at the end already, needs a resync answer, or is
 * so far back that the scan would read much more than the others need:
 * those are answered one at a time (mailbox_read).  For the gateway and
 * nginx's stream module alike.
 */
int
mailbox_scan_serves(int64_t cursor, size_t pending, int64_t log_end,
    int64_t trimmed)
{
	return pending < NOOM_OUT_LOW && cursor < log_end &&
	    cursor >= trimmed && cursor >= log_end - NOOM_SCAN_SPAN;
}

/*
 * Where one ring's scan of the log (up to log_end, trimmed up to trimmed)
 * starts, given low, a lower bound of the cursors of the live readers that
 * can take more: there, but not further back than a scan serves
 * (mailbox_scan_serves), nor past the end.  The readers keep low as they go
 * (the pass after each scan, a reader going live) rather than in a pass
 * over every reader before the read: at 5,000 streams that pass cost 0.7 ms
 * before the first write.  A reader below the start is behind for the scan
 * (MB_BEHIND) and caught up on its own.  For the gateway and nginx's stream
 * module alike.
 */
int64_t
mailbox_scan_start(int64_t low, int64_t log_end, int64_t trimmed)
{
	int64_t	 from = low;

	if (from < trimmed)
		from = trimmed;
	if (from < log_end - NOOM_SCAN_SPAN)
		from = log_end - NOOM_SCAN_SPAN;
	return from < log_end ? from : log_end;
}

/*
 * Match a live reader against the scanned events up to end, answer after
 * answer, through the transport's io: each answer (the events in *events,
 * up to a->cursor) is sent, an answer that moves the reader's session is
 * followed by a read of its membership, and matching stops once the
 * reader's output reaches NOOM_OUT_LOW (it is caught up one answer at a
 * time later) or the log's end.  What may wait is held: MATCH_HOLD with
 * its due in *due.  MATCH_GONE: send or member closed the reader, which
 * must not be touched.  The gateway's WebSockets and streams and nginx's
 * stream module share this loop.
 */
int
mailbox_match_all(struct reader *r, struct hold *h, const struct scan *sc,
    int64_t end, int64_t now, struct buf *events, const struct match_io *io,
    int64_t *due)
{
	struct answer	 a;

	for (;;) {
		buf_reset(events);
		switch (mailbox_match(r, h, sc, end, now, events, &a)) {
		case MB_HOLD:
			*due = a.due;
			return MATCH_HOLD;
		case MB_NONE:
			r->cursor = a.cursor;
			return MATCH_DONE;
		case MB_BEHIND:
			return MATCH_DONE;
		}
		if (io->send(io->arg, &a) == -1 ||
		    (a.moved && io->member(io->arg) == -1))
			return MATCH_GONE;
		if (io->pending(io->arg) >= NOOM_OUT_LOW)
			return MATCH_BEHIND;
		if (a.cursor >= end)
			return MATCH_DONE;
	}
}

/*
 * Refresh the presence of session s (read in the caller's write
 * transaction) as a live connection of transport keeps it: unless it was
 * seen within half of touch_every by the same transport (a poll, another
 * socket), its seen time becomes wall.  0, or -1 on a store error.  For the
 * gateway's connections and nginx's streams alike.
 */
int
mailbox_touch(struct db *db, const struct session *s, int64_t wall,
    int64_t touch_every, const char *transport)
{
	if (s->seen_ms >= wall - touch_every / 2 &&
	    strcmp(s->transport, transport) == 0)
		return 0;
	return db_session_touch(db, s->id, wall, wall - touch_every / 2,
	    transport);
}
