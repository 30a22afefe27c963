/*
 * rooms.c — rooms, membership and the public room list.
 *
 *   GET  /api/rooms             -> {rooms: [{name, count}], cursor}
 *   GET  /api/room              -> the current room's state, or 409
 *   POST /api/join  {"room"}    -> the new room's state
 *   POST /api/leave [{"token"}] -> {room: null}
 *
 * A room exists while it has members: created on the first join, deleted
 * (with its history) when the last member leaves.  Every membership change
 * writes, in one transaction and in this order: the addressed event to the
 * session itself (room_left / room_joined), the room notice (bye / welcome),
 * and one global room_change carrying the whole list.  The addressed event
 * comes first so that a reader waiting with the old membership is answered up
 * to it and re-polls with the new membership (mailbox.c).
 *
 * A room's state (members, history, count) is read in the same transaction
 * as the cursor it returns, so the client applies exactly the events after
 * that cursor on top of it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "noom.h"

/* A room_fn: append {"name", "count"} to the array arg. */
static int
room_json(void *arg, const struct room_row *r)
{
	json_array_append_new(arg, json_pack("{s:s,s:I}", "name", r->name,
	    "count", (json_int_t)r->count));
	return 0;
}

/* A member_fn: append {"session", "nickname", "audio", ...} to arg. */
static int
member_json(void *arg, const struct member *m)
{
	json_array_append_new(arg, json_pack("{s:I,s:s,s:b,s:b,s:b}",
	    "session", (json_int_t)m->session_id, "nickname", m->nickname,
	    "audio", m->audio, "video", m->video, "screen", m->screen));
	return 0;
}

/* A message_fn: append the stored message, its id added back, to arg. */
static int
message_json(void *arg, const struct message *m)
{
	json_t	*o = json_loads(m->data, 0, NULL);

	if (o == NULL)
		return 0;		/* written by us: cannot happen */
	json_object_set_new(o, "id", json_integer(m->id));
	json_array_append_new(arg, o);
	return 0;
}

/*
 * Tell the lobby (the sessions in no room, which show the room list) that
 * room name now has count members (0: it is gone); 0 or -1.  What changed,
 * not the whole list: a join costs each lobby reader one small event
 * however many rooms are open, and readers in a room get nothing.
 */
static int
room_change_publish(struct ctx *c, const char *name, int count, int64_t now)
{
	json_t	*ev;
	int64_t	 seq;

	ev = json_pack("{s:[{s:s,s:i}]}", "rooms", "name", name, "count",
	    count);
	seq = publish(c, ROOM_LOBBY, 0, "room_change", ev, now);
	json_decref(ev);
	return seq == -1 ? -1 : 0;
}

/*
 * The state of room (count, members, history, cursor) as a new object.
 * members lists the first NOOM_MEMBERS_MAX in join order (the call's members
 * are among them); count is the whole room, so a client knows how many more
 * there are.  A join in a room of thousands stays a small answer.
 */
static json_t *
room_state_new(struct ctx *c, int64_t room, const char *name)
{
	json_t	*members = json_array(), *history = json_array();
	int64_t	 cursor;
	int	 count;

	if ((count = db_room_count(c->db, room)) == -1 ||
	    db_room_members(c->db, room, NOOM_MEMBERS_MAX, member_json,
	    members) == -1 ||
	    db_history(c->db, room, NOOM_HISTORY, message_json, history) == -1 ||
	    (cursor = db_log_end(c->db)) == -1) {
		json_decref(members);
		json_decref(history);
		return NULL;
	}
	return json_pack("{s:s,s:i,s:o,s:o,s:I}", "room", name,
	    "count", count,
	    "members", members, "history", history,
	    "cursor", (json_int_t)cursor);
}

/*
 * Take session s out of its room, inside the caller's transaction, with the
 * events that go with it; reason is "leave", "switch" (joining another
 * room) or "timeout".  0 or -1.
 */
int
room_leave(struct ctx *c, const struct session *s, const char *reason,
    int64_t now)
{
	json_t	*self = NULL, *bye = NULL;
	int	 count, rv = -1;

	if (s->room_id == 0)
		return 0;
	if (db_session_room(c->db, s->id, 0, 0, now) == -1 ||
	    (count = db_room_count(c->db, s->room_id)) == -1)
		goto out;
	self = json_pack("{s:s,s:s}", "room", s->room, "reason", reason);
	/* The room learns that someone left, not where they went. */
	bye = json_pack("{s:s,s:I,s:s,s:i,s:s}", "room", s->room,
	    "session", (json_int_t)s->id, "nickname", s->nickname,
	    "count", count, "reason",
	    strcmp(reason, "switch") == 0 ? "leave" : reason);
	if (publish(c, 0, s->id, "room_left", self, now) == -1 ||
	    publish(c, s->room_id, 0, "bye", bye, now) == -1)
		goto out;
	if (count == 0 && db_room_delete(c->db, s->room_id) == -1)
		goto out;
	rv = room_change_publish(c, s->room, count, now);
out:
	json_decref(self);
	json_decref(bye);
	return rv;
}

/*
 * Give session s, entering room, a nickname no other member of the room
 * reads the same way (names.c): its own, or the first free "Name (n)";
 * s->nickname becomes it.  0 or -1.
 */
static int
room_nickname(struct ctx *c, struct session *s, int64_t room)
{
	char	 key[NOOM_NAME_KEY], nick[sizeof(s->nickname)];
	int	 i, taken;

	snprintf(nick, sizeof(nick), "%s", s->nickname);
	for (i = 2; ; i++) {
		if (name_key(nick, key, sizeof(key)) == -1 ||
		    (taken = db_nick_taken(c->db, room, key, s->id)) == -1)
			return -1;
		if (!taken || i > 999)
			break;
		name_suffixed(s->nickname, i, nick, sizeof(nick));
	}
	memcpy(s->nickname, nick, sizeof(nick));
	return db_session_nickname(c->db, s->id, nick, key);
}

/*
 * Put session s into room name (it is in no room now): 0, -1 on a store
 * error, or -2 after answering 429 (the client opened too many rooms).
 * s->nickname becomes the one it has in the room (room_nickname).
 */
static int
room_enter(struct ctx *c, const struct req *rq, struct session *s,
    const char *name, int64_t *room, struct resp *rs)
{
	json_t	*self = NULL, *hello = NULL;
	int64_t	 join_seq, now = rq->now_ms;
	int	 found, count, rv = -1;

	if ((found = db_room_find(c->db, name, room)) == -1)
		goto out;
	if (found == 0 && client_take(c, rq, LIMIT_ROOM, rs) == -1) {
		rv = -2;
		goto out;
	}
	if (found == 0 && db_room_create(c->db, name, now, room) == -1)
		goto out;
	self = json_pack("{s:s}", "room", name);
	if (publish(c, 0, s->id, "room_joined", self, now) == -1 ||
	    (join_seq = db_log_end(c->db)) == -1 ||
	    db_session_room(c->db, s->id, *room, join_seq, now) == -1 ||
	    room_nickname(c, s, *room) == -1 ||
	    db_room_active(c->db, *room, now) == -1 ||
	    (count = db_room_count(c->db, *room)) == -1)
		goto out;
	hello = json_pack("{s:s,s:I,s:s,s:i}", "room", name,
	    "session", (json_int_t)s->id, "nickname", s->nickname,
	    "count", count);
	if (publish(c, *room, 0, "welcome", hello, now) == -1)
		goto out;
	rv = room_change_publish(c, name, count, now);
out:
	json_decref(self);
	json_decref(hello);
	return rv;
}

/*
 * GET api/rooms[?q=&limit=&offset=]: the open rooms whose name holds q,
 * busiest first, a page at a time; "more" says whether another page
 * follows.
 */
void
h_rooms(struct ctx *c, const struct req *rq, struct resp *rs)
{
	struct session	 s;
	json_t		*rooms = NULL;
	char		 q[NOOM_UTF8_BYTES(NOOM_ROOM_MAX)] = "";
	int64_t		 cursor;
	int		 limit, offset, more;

	if (query_param(rq->query, "q", q, sizeof(q)) == -1) {
		resp_error(rs, 400, "bad_query", "q must be at most %d "
		    "characters of a room name.", NOOM_ROOM_MAX);
		json_object_set_new(rs->json, "field", json_string("q"));
		return;
	}
	if (query_int(rq, "limit", NOOM_ROOMS_PAGE, 1, NOOM_ROOMS_PAGE_MAX,
	    &limit, rs) == -1 ||
	    query_int(rq, "offset", 0, 0, 1000000, &offset, rs) == -1)
		return;
	if (auth_session(c, rq, rs, &s) == -1)
		return;
	/* A read transaction, so the list and the cursor agree. */
	rooms = json_array();
	if (db_begin_read(c->db) == -1 ||
	    db_rooms_list(c->db, q, limit + 1, offset, room_json, rooms) == -1 ||
	    (cursor = db_log_end(c->db)) == -1)
		goto fail;
	db_rollback(c->db);		/* a read: nothing to commit */
	/* One more than asked was read: whether another page follows. */
	if ((more = json_array_size(rooms) > (size_t)limit))
		json_array_remove(rooms, (size_t)limit);
	resp_json(rs, 200, json_pack("{s:o,s:I,s:b}", "rooms", rooms,
	    "cursor", (json_int_t)cursor, "more", more));
	return;
fail:
	json_decref(rooms);
	db_rollback(c->db);
	resp_error(rs, 500, "internal", "The store failed.");
}

void
h_room(struct ctx *c, const struct req *rq, struct resp *rs)
{
	struct session	 s;
	json_t		*state;

	/* A read transaction: the state and its cursor from one snapshot. */
	if (db_begin_read(c->db) == -1)
		goto fail;
	if (auth_session(c, rq, rs, &s) == -1)
		goto rollback;
	if (s.room_id == 0) {
		resp_error(rs, 409, "not_in_room", "This session is in no room.");
		goto rollback;
	}
	if ((state = room_state_new(c, s.room_id, s.room)) == NULL)
		goto fail;
	db_rollback(c->db);		/* a read: nothing to commit */
	resp_json(rs, 200, state);
	return;
fail:
	resp_error(rs, 500, "internal", "The store failed.");
rollback:
	db_rollback(c->db);
}

/* Check and trim the room field of body; a new string, or NULL after 400. */
static char *
room_name_new(json_t *body, struct resp *rs)
{
	const char	*raw, *why;
	char		*name;

	if (body_string(body, "room", 1, &raw, rs) == -1)
		return NULL;
	name = valid_trim_new(raw);
	if (valid_text(name, 1, NOOM_ROOM_MAX, 0, &why) == 0 &&
	    valid_name(name, &why) == 0)
		return name;
	free(name);
	resp_error(rs, 400, "bad_field", "The room name %s (1 to %d "
	    "characters, no control characters).", why, NOOM_ROOM_MAX);
	json_object_set_new(rs->json, "field", json_string("room"));
	return NULL;
}

void
h_join(struct ctx *c, const struct req *rq, struct resp *rs)
{
	struct session	 s;
	json_t		*body, *state = NULL;
	char		*name = NULL;
	int64_t		 room;
	int		 entered;

	if ((body = body_object(rq, 0, rs)) == NULL)
		return;
	if ((name = room_name_new(body, rs)) == NULL)
		goto out;
	if (db_begin(c->db) == -1)
		goto fail;
	if (auth_session(c, rq, rs, &s) == -1 ||
	    rate_take(c, &s, rq->now_ms, rs) == -1)
		goto rollback;
	room = s.room_id;
	if (s.room_id == 0 || strcmp(s.room, name) != 0) {
		if (client_take(c, rq, LIMIT_JOIN, rs) == -1)
			goto rollback;
		if (room_leave(c, &s, "switch", rq->now_ms) == -1 ||
		    (entered = room_enter(c, rq, &s, name, &room, rs)) == -1)
			goto fail;
		if (entered == -2)
			goto rollback;
	}
	if ((state = room_state_new(c, room, name)) == NULL ||
	    db_commit(c->db) == -1)
		goto fail;
	/* The name the session has in the room (it may carry a suffix). */
	json_object_set_new(state, "nickname", json_string(s.nickname));
	resp_json(rs, 200, state);
	state = NULL;
	goto out;
fail:
	resp_error(rs, 500, "internal", "The store failed.");
rollback:
	db_rollback(c->db);
out:
	json_decref(state);
	json_decref(body);
	free(name);
}

/*
 * Leave: the token may come in the body as {"token"} because sendBeacon
 * cannot set an Authorization header.
 */
void
h_leave(struct ctx *c, const struct req *rq, struct resp *rs)
{
	struct session	 s;
	struct req	 beacon = *rq;
	json_t		*body;
	const char	*token = NULL;
	char		 auth[64];

	if ((body = body_object(rq, 1, rs)) == NULL)
		return;
	if (body_string(body, "token", 0, &token, rs) == -1)
		goto out;
	if (token != NULL && rq->auth == NULL && strlen(token) < 40) {
		snprintf(auth, sizeof(auth), "Bearer %s", token);
		beacon.auth = auth;
	}
	if (db_begin(c->db) == -1)
		goto fail;
	/* Not rate-limited: leaving only ever shrinks state, and a tab that is
	 * closing gets one chance to say so. */
	if (auth_session(c, &beacon, rs, &s) == -1)
		goto rollback;
	if (room_leave(c, &s, "leave", rq->now_ms) == -1 ||
	    db_commit(c->db) == -1)
		goto fail;
	resp_json(rs, 200, json_pack("{s:n}", "room"));
	goto out;
fail:
	resp_error(rs, 500, "internal", "The store failed.");
rollback:
	db_rollback(c->db);
out:
	json_decref(body);
}
