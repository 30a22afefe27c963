/*
 * fanout.c — one read of the event log, matched against many readers.
 *
 * The poll waker (poll.c) and the WebSocket gateway (gateway.c) both serve
 * many waiting clients from the same new events.  They read the log once
 * into a struct scan, where every event is rendered to its answer JSON once,
 * and match each client against it in memory with event_visible(), instead
 * of one store read and one rendering per client.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "noom.h"

/* Append one event as poll-answer JSON. */
void
event_render(struct buf *b, const struct event *ev)
{
	buf_printf(b, "{\"seq\":%" PRId64 ",\"type\":\"%s\",\"data\":", ev->seq,
	    ev->type);
	buf_adds(b, ev->data);
	buf_add(b, "}", 1);
}

/* Is ev for the session (and membership) that pk stands for? */
int
event_visible(const struct park *pk, const struct event *ev)
{
	if (ev->target_id != 0)
		return ev->target_id == pk->session_id;
	if (ev->room_id == 0)
		return 1;
	return ev->room_id == pk->room_id && ev->seq > pk->join_seq;
}

/*
 * Does ev change the membership pk was matched with?  A reader must stop at
 * such an event and read its session again before going on.
 */
int
event_moves(const struct park *pk, const struct event *ev)
{
	return ev->target_id == pk->session_id &&
	    (strcmp(ev->type, "room_joined") == 0 ||
	    strcmp(ev->type, "room_left") == 0);
}

/*
 * May an event wait a little for other events to share one poll answer?
 * The public room list (room_change goes to everyone on every join and
 * leave) and the comings and goings of members of a room above
 * NOOM_BIG_ROOM: in a room of thousands, answering every parked poll at each
 * of them makes filling the room cost members^2 requests
 * (docs/BENCHMARKS.md).  Chat, signaling, addressed events and notices in
 * small rooms never wait.  Decided once, by the writer of the event
 * (db_event_add, from the data it stores); readers see it as ev->hold.
 */
int
event_holdable(int64_t target, const char *type, const json_t *data)
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
 * Is ev a chat message to a room?  A poller answered chat a moment ago may
 * wait for more of it (NOOM_CHAT_GAP_MS, poll.c); anything addressed to a
 * session (a call's signaling, a move) never waits.
 */
int
event_chat(const struct event *ev)
{
	return ev->target_id == 0 && strcmp(ev->type, "new_message") == 0;
}

/* An event_fn for db_events_after(): append a copy of ev to the scan arg. */
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
	s = &sc->evs[sc->n++];
	s->ev = *ev;
	s->ev.type = s->type = xstrdup(ev->type);
	s->ev.data = s->data = xstrdup(ev->data);
	s->chat = event_chat(ev);
	buf_init(&b);
	event_render(&b, ev);
	s->json_len = b.len;
	s->json = buf_steal(&b);
	return 0;
}

/* Forget the scanned events, keeping the array for the next scan. */
void
scan_clear(struct scan *sc)
{
	size_t	 i;

	for (i = 0; i < sc->n; i++) {
		free(sc->evs[i].type);
		free(sc->evs[i].data);
		free(sc->evs[i].json);
	}
	sc->n = 0;
}

/* Free everything a scan owns; it can be used again, empty. */
void
scan_free(struct scan *sc)
{
	scan_clear(sc);
	free(sc->evs);
	sc->evs = NULL;
	sc->cap = 0;
}
