/*
 * rooms.c — rooms, membership and the public room list.
 *
 *   GET  /api/rooms             -> {rooms: [{name, count}], cursor}
 *   GET  /api/room              -> the current room's state, or 409
 *   POST /api/join  {"room", "unlisted"?, "key"?, "password"?}
 *                               -> the room's state; 202 while waiting
 *   POST /api/leave [{"token"}] -> {room: null}
 *
 * A room exists while it has members: created on the first join, deleted
 * (with its history, bans and waiting list) when the last member leaves.
 * A room is listed (its name is its identity and it shows in the room
 * list) or unlisted (found by its name and key together, never listed, and
 * nothing about it differs from a room that does not exist to whoever lacks
 * the key).  Who may enter is meeting.c's (room_gate); what hosts do too.
 *
 * Every membership change writes, in one transaction and in this order:
 * the addressed event to the session itself (room_left / room_joined), the
 * room notice (bye / welcome), and for a listed room one room_change to the
 * lobby.  The addressed event comes first so that a reader waiting with the
 * old membership is answered up to it and re-polls with the new membership
 * (mailbox.c).
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
	json_array_append_new(arg, json_pack("{s:I,s:s,s:b,s:b,s:b,s:b,s:I}",
	    "session", (json_int_t)m->session_id, "nickname", m->nickname,
	    "audio", m->audio, "video", m->video, "screen", m->screen,
	    "host", m->host, "hand", (json_int_t)m->hand_ms));
	return 0;
}

/* A member_fn for the raised hands: append {"session", "nickname", "at"}. */
static int
hand_json(void *arg, const struct member *m)
{
	json_array_append_new(arg, json_pack("{s:I,s:s,s:I}", "session",
	    (json_int_t)m->session_id, "nickname", m->nickname, "at",
	    (json_int_t)m->hand_ms));
	return 0;
}

/* A member_fn for the waiting list: append {"session", "nickname"}. */
static int
waiting_json(void *arg, const struct member *m)
{
	json_array_append_new(arg, json_pack("{s:I,s:s}", "session",
	    (json_int_t)m->session_id, "nickname", m->nickname));
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

/* A room's settings as the API shows them: the password only as a flag. */
json_t *
room_settings_new(const struct room_info *r)
{
	return json_pack("{s:b,s:b,s:b,s:b}", "unlisted", r->unlisted,
	    "locked", r->locked, "password", r->password[0] != '\0',
	    "waiting_room", r->waiting_room);
}

/*
 * Tell the lobby (the sessions in no room, which show the room list) that
 * listed room name now has count members (0: it is gone); 0 or -1.  What
 * changed, not the whole list: a join costs each lobby reader one small
 * event however many rooms are open, and readers in a room get nothing.
 * An unlisted room is never told of.
 */
static int
room_change_publish(struct ctx *c, const char *name, int unlisted, int count,
    int64_t now)
{
	json_t	*ev;
	int64_t	 seq;

	if (unlisted)
		return 0;
	ev = json_pack("{s:[{s:s,s:i}]}", "rooms", "name", name, "count",
	    count);
	seq = publish(c, ROOM_LOBBY, 0, "room_change", ev, now);
	json_decref(ev);
	return seq == -1 ? -1 : 0;
}

/*
 * The state of room as session s (a member) sees it, as a new object:
 * count, members, history, raised hands in their order, settings and
 * cursor, and for a host who waits to be admitted.  members lists the
 * first NOOM_MEMBERS_MAX in join order (the call's members are among
 * them); count is the whole room, so a client knows how many more there
 * are.  A join in a room of thousands stays a
 * small answer.
 */
json_t *
room_state_new(struct ctx *c, const struct session *s)
{
	struct room_info info;
	json_t		*members = json_array(), *history = json_array();
	json_t		*waiting = json_array(), *hands = json_array();
	json_t		*state = NULL;
	int64_t		 cursor, room = s->room_id;
	int		 count;

	if ((count = db_room_count(c->db, room)) == -1 ||
	    db_room_info(c->db, room, &info) != 1 ||
	    db_room_members(c->db, room, NOOM_MEMBERS_MAX, member_json,
	    members) == -1 ||
	    db_history(c->db, room, NOOM_HISTORY, message_json, history) == -1 ||
	    db_room_hands(c->db, room, NOOM_HANDS_MAX, hand_json, hands) == -1 ||
	    (s->host && db_waiting_list(c->db, room, NOOM_WAITING_MAX,
	    waiting_json, waiting) == -1) ||
	    (cursor = db_log_end(c->db)) == -1)
		goto out;
	state = json_pack("{s:s,s:i,s:O,s:O,s:O,s:I,s:b,s:b,s:o}",
	    "room", s->room, "count", count, "members", members,
	    "history", history, "hands", hands, "cursor", (json_int_t)cursor,
	    "unlisted", info.unlisted, "host", s->host,
	    "settings", room_settings_new(&info));
	if (state != NULL && s->host)
		json_object_set(state, "waiting", waiting);
out:
	json_decref(members);
	json_decref(history);
	json_decref(waiting);
	json_decref(hands);
	return state;
}

/*
 * Room lost its last host: the member present longest becomes one, and
 * the room is told.  0 or -1.
 */
static int
room_handover(struct ctx *c, int64_t room, const char *name, int64_t now)
{
	struct session	 heir;
	json_t		*ev;
	int64_t		 id, seq;
	int		 n;

	if ((n = db_room_hosts(c->db, room, &id, 1)) != 0)
		return n == -1 ? -1 : 0;
	if ((n = db_room_eldest(c->db, room, &id)) != 1)
		return n;
	if (db_host_set(c->db, id, 1) == -1 ||
	    db_session_by_id(c->db, id, &heir) != 1)
		return -1;
	ev = json_pack("{s:s,s:I,s:s,s:s}", "room", name, "session",
	    (json_int_t)id, "nickname", heir.nickname, "reason", "handover");
	seq = publish(c, room, 0, "host", ev, now);
	json_decref(ev);
	return seq == -1 ? -1 : 0;
}

/* Telling those who wait that the meeting ended (room_close). */
struct close_ctx {
	struct ctx	*c;
	json_t		*ev;		/* join_denied, borrowed */
	int64_t		 now;
	int		 rv;		/* 0, or -1 once publishing failed */
};

/* A member_fn: tell one waiting session that its meeting ended. */
static int
waiter_end(void *arg, const struct member *m)
{
	struct close_ctx *l = arg;

	if (publish(l->c, 0, m->session_id, "join_denied", l->ev, l->now) ==
	    -1)
		l->rv = -1;
	return l->rv;
}

/* Close the emptied room: those still waiting are told, then it goes. */
static int
room_close(struct ctx *c, int64_t room, const char *name, int64_t now)
{
	struct close_ctx l = { c, NULL, now, 0 };

	l.ev = json_pack("{s:s,s:s}", "room", name, "reason", "ended");
	if (db_waiting_list(c->db, room, NOOM_WAITING_MAX, waiter_end,
	    &l) == -1)
		l.rv = -1;
	json_decref(l.ev);
	if (l.rv == -1)
		return -1;
	return db_room_delete(c->db, room);
}

/*
 * Take session s out of its room, inside the caller's transaction, with the
 * events that go with it.  reason is "leave", "switch" (joining another
 * room) or "timeout" (the session may come straight back for a while:
 * NOOM_REJOIN_MS), or "removed", "ended" (by a host) or "closed" (by the
 * operator) (it may not).  A room that loses
 * its last host gets another; an emptied room closes.  0 or -1.
 */
int
room_leave(struct ctx *c, const struct session *s, const char *reason,
    int64_t now)
{
	json_t	*self = NULL, *bye = NULL;
	int	 count, own, ending, rv = -1;

	if (s->room_id == 0)
		return 0;
	ending = strcmp(reason, "ended") == 0 || strcmp(reason, "closed") == 0;
	own = !ending && strcmp(reason, "removed") != 0;
	/* A raised hand waits for a member who may come back (room_rejoining);
	 * one who went to another room has put it down. */
	if (db_session_room(c->db, s->id, 0, 0,
	    own && strcmp(reason, "switch") != 0, now) == -1 ||
	    db_session_left(c->db, s->id, own ? s->room_id : 0,
	    own && s->host, now) == -1 ||
	    (count = db_room_count(c->db, s->room_id)) == -1)
		goto out;
	self = json_pack("{s:s,s:s}", "room", s->room, "reason", reason);
	/* The room learns that someone left, not where they went. */
	bye = json_pack("{s:s,s:I,s:s,s:i,s:s}", "room", s->room,
	    "session", (json_int_t)s->id, "nickname", s->nickname,
	    "count", count, "reason",
	    strcmp(reason, "switch") == 0 ? "leave" : reason);
	if (publish(c, 0, s->id, "room_left", self, now) == -1)
		goto out;
	/* A meeting that ends tells each member, not the room each time. */
	if (!ending && count > 0 &&
	    (publish(c, s->room_id, 0, "bye", bye, now) == -1 ||
	    (s->host && room_handover(c, s->room_id, s->room, now) == -1)))
		goto out;
	if (count == 0 && room_close(c, s->room_id, s->room, now) == -1)
		goto out;
	rv = room_change_publish(c, s->room, s->room_unlisted, count, now);
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
 * Put session s (in no room now) into the existing room r named name, as a
 * host or not; 0 or -1.  s becomes a member: its room, nickname in the room
 * (room_nickname) and host flag are updated.  A member coming back within
 * NOOM_REJOIN_MS finds its raised hand where it was in the queue.
 */
int
room_enter(struct ctx *c, struct session *s, const struct room_ref *r,
    int host, int64_t now)
{
	json_t	*self = NULL, *hello = NULL;
	int64_t	 join_seq;
	int	 count, hand, rv = -1;

	hand = s->hand_ms > 0 && room_rejoining(s, r->id, now);
	if (!hand)
		s->hand_ms = 0;
	self = json_pack("{s:s}", "room", r->name);
	if (publish(c, 0, s->id, "room_joined", self, now) == -1 ||
	    (join_seq = db_log_end(c->db)) == -1 ||
	    db_session_room(c->db, s->id, r->id, join_seq, hand, now) == -1 ||
	    db_host_set(c->db, s->id, host) == -1 ||
	    room_nickname(c, s, r->id) == -1 ||
	    db_room_active(c->db, r->id, now) == -1 ||
	    (count = db_room_count(c->db, r->id)) == -1)
		goto out;
	s->room_id = r->id;
	snprintf(s->room, sizeof(s->room), "%s", r->name);
	s->host = host;
	s->room_unlisted = r->unlisted;
	hello = json_pack("{s:s,s:I,s:s,s:i,s:b}", "room", r->name,
	    "session", (json_int_t)s->id, "nickname", s->nickname,
	    "count", count, "host", host);
	if (publish(c, r->id, 0, "welcome", hello, now) == -1 ||
	    (hand && hand_publish(c, s, s, now) == -1))
		goto out;
	rv = room_change_publish(c, r->name, r->unlisted, count, now);
out:
	json_decref(self);
	json_decref(hello);
	return rv;
}

/*
 * GET api/rooms[?q=&limit=&offset=]: the open listed rooms whose name holds
 * q, busiest first, a page at a time; "more" says whether another page
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
	if ((state = room_state_new(c, &s)) == NULL)
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
	resp_bad_field(rs, "room", "The room name %s (1 to %d characters, no "
	    "control characters).", why, NOOM_ROOM_MAX);
	return NULL;
}

/* What a join asks for (join_read). */
struct join {
	char		*name;		/* trimmed, owned */
	char		 key[NOOM_KEY_MAX + 1];	/* "": a listed room */
	const char	*password;	/* borrowed from the body, or NULL */
	int		 unlisted;	/* key[0] != '\0' */
};

/*
 * Read a join's body into *j: the room's name (a new string in j->name),
 * and its key (made here for a new unlisted room) and password if given.
 * 0, or -1 after answering 400.
 */
static int
join_read(json_t *body, struct join *j, struct resp *rs)
{
	const char	*key = NULL, *why;
	int		 unlisted = 0;

	memset(j, 0, sizeof(*j));
	if ((j->name = room_name_new(body, rs)) == NULL ||
	    body_bool(body, "unlisted", &unlisted, rs) == -1 ||
	    body_string(body, "key", 0, &key, rs) == -1 ||
	    body_string(body, "password", 0, &j->password, rs) == -1)
		return -1;
	if (key != NULL && !room_key_valid(key)) {
		resp_bad_field(rs, "key", "A room key is %d to %d letters, "
		    "digits, '-' or '_'.", NOOM_KEY_MIN, NOOM_KEY_MAX);
		return -1;
	}
	if (j->password != NULL && valid_password(j->password, &why) != 0) {
		resp_bad_field(rs, "password", "The password %s (1 to %d "
		    "characters).", why, NOOM_PASSWORD_MAX);
		return -1;
	}
	if (key != NULL)
		snprintf(j->key, sizeof(j->key), "%s", key);
	else if (unlisted && room_key_new(j->key) == -1) {
		resp_error(rs, 500, "internal", "No randomness for a key.");
		return -1;
	}
	j->unlisted = j->key[0] != '\0';
	return 0;
}

/*
 * Open the room a join names (it has none), into r->id; the joiner will be
 * its host.  0, -1 on a store error, -2 after answering 429 (the client
 * opened too many rooms).
 */
static int
join_open(struct ctx *c, const struct req *rq, const struct join *j,
    struct room_ref *r, struct resp *rs)
{
	if (client_take(c, rq, LIMIT_ROOM, rs) == -1)
		return -2;
	return db_room_create(c->db, j->name, j->unlisted ? j->key : NULL,
	    rq->now_ms, &r->id);
}

/*
 * Session s joins room r, which j names (found: it exists; else it is
 * opened here), and s is not in it: leave its room or stop waiting, then
 * enter, or wait to be admitted.  The answer is in rs; returns whether to
 * commit (1) or roll back (0).
 */
static int
join_move(struct ctx *c, const struct req *rq, struct session *s,
    const struct join *j, struct room_ref *r, int found, struct resp *rs)
{
	json_t		*state;
	int		 opened = 0, gate;

	if (client_take(c, rq, LIMIT_JOIN, rs) == -1 ||
	    (!found && (opened = join_open(c, rq, j, r, rs)) == -2))
		return 0;
	if (opened == -1)
		goto fail;
	gate = found ? room_gate(c, rq, s, r, j->password, rs) : GATE_HOST;
	if (gate == GATE_FAIL)
		goto fail;
	if (gate == GATE_REFUSED || gate == GATE_COUNTED)
		return gate == GATE_COUNTED;
	if (waiting_cancel(c, s, rq->now_ms) == -1 ||
	    room_leave(c, s, "switch", rq->now_ms) == -1)
		goto fail;
	s->room_id = 0;
	s->host = 0;
	if (gate == GATE_WAIT)
		return waiting_start(c, s, r, rq->now_ms, rs) == 0 ? 1 : 0;
	if (room_enter(c, s, r, gate == GATE_HOST, rq->now_ms) == -1 ||
	    (state = room_state_new(c, s)) == NULL)
		goto fail;
	resp_json(rs, 200, state);
	return 1;
fail:
	resp_error(rs, 500, "internal", "The store failed.");
	return 0;
}

/*
 * The call configuration in the answer of a join into a room (after the
 * commit: on the SFU it may open the VideoRoom), so that the page starts the
 * call without another request.  Left out on a failure: the page then asks
 * GET /api/call.
 */
static void
join_call(struct ctx *c, const struct req *rq, const struct session *s,
    struct resp *rs)
{
	json_t	*config;

	if ((config = call_config_new(c, s, rq->now_ms)) == NULL) {
		log_warn("no call configuration for a join answer");
		return;
	}
	json_object_set_new(rs->json, "call", config);
}

void
h_join(struct ctx *c, const struct req *rq, struct resp *rs)
{
	struct session	 s;
	struct join	 j;
	struct room_ref	 r;
	json_t		*body, *state;
	int		 found, commit;

	if ((body = body_object(rq, 0, rs)) == NULL)
		return;
	if (join_read(body, &j, rs) == -1)
		goto out;
	if (db_begin(c->db) == -1)
		goto fail;
	if (auth_session(c, rq, rs, &s) == -1 ||
	    rate_take(c, &s, rq->now_ms, rs) == -1)
		goto rollback;
	r.name = j.name;
	r.unlisted = j.unlisted;
	if ((found = db_room_find(c->db, j.name, j.unlisted ? j.key : NULL,
	    &r.id)) == -1)
		goto fail;
	if (found && s.room_id == r.id) {
		/* Already there: the state again, nothing changes. */
		if ((state = room_state_new(c, &s)) == NULL)
			goto fail;
		resp_json(rs, 200, state);
		commit = 1;
	} else
		commit = join_move(c, rq, &s, &j, &r, found, rs);
	if (!commit)
		goto rollback;
	if (db_commit(c->db) == -1)
		goto fail;
	if (rs->status == 200) {
		/* The name the session has in the room (it may carry a
		 * suffix), and the key that lets others in. */
		json_object_set_new(rs->json, "nickname",
		    json_string(s.nickname));
		if (j.unlisted)
			json_object_set_new(rs->json, "key", json_string(j.key));
		join_call(c, rq, &s, rs);
	}
	goto out;
fail:
	resp_error(rs, 500, "internal", "The store failed.");
rollback:
	db_rollback(c->db);
out:
	json_decref(body);
	free(j.name);
}

/*
 * Leave: the token may come in the body as {"token"} because sendBeacon
 * cannot set an Authorization header.  A session waiting to be admitted
 * stops waiting.
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
	if (waiting_cancel(c, &s, rq->now_ms) == -1 ||
	    room_leave(c, &s, "leave", rq->now_ms) == -1 ||
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
