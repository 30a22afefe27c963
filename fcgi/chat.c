/*
 * chat.c — chat messages.
 *
 *   POST /api/messages {"text", "client_id"?, "to"?}
 *                       -> 201 {id, ts, duplicate: false}
 *                       or 200 {id, ts, duplicate: true}
 *
 * A message goes to the sender's current room (409 otherwise) as a
 * new_message event and into the room's history.  A private one ("to": a
 * member's session id) goes as two addressed new_message events, to the
 * recipient and to the sender (its other tabs, and the sender's own echo),
 * and is stored but never part of the history newcomers get; a recipient
 * that is not a member of the room is 404 not_member, whether the session
 * exists or not.  client_id makes a send
 * idempotent: a client that lost the answer re-sends with the same id and
 * gets the first message's id back instead of a second copy (the course's
 * Socket.IO acknowledgement, made safe to retry).  The check and the insert
 * happen in one BEGIN IMMEDIATE transaction, so two workers racing on the
 * same retry cannot both insert; the UNIQUE constraint backs that up.
 */
#include <stdlib.h>
#include <string.h>

#include "noom.h"

/* Check the text field; 0, or -1 after answering 400. */
static int
check_text(const char *text, struct resp *rs)
{
	const char	*why;
	char		*trimmed = valid_trim_new(text);
	int		 empty = trimmed[0] == '\0';

	free(trimmed);
	if (valid_text(text, 1, NOOM_TEXT_MAX, 1, &why) == 0 && !empty)
		return 0;
	resp_error(rs, 400, "bad_field", "The message %s (1 to %d characters, "
	    "no control characters but newline and tab).", empty &&
	    strlen(text) > 0 ? "is blank" : why, NOOM_TEXT_MAX);
	json_object_set_new(rs->json, "field", json_string("text"));
	return -1;
}

/* Check or make up the client id into cid; 0, or -1 after answering 400. */
static int
client_id(json_t *body, char cid[NOOM_CLIENT_ID_MAX + 1], struct resp *rs)
{
	const char	*v, *why;
	int		 got;

	if ((got = body_string(body, "client_id", 0, &v, rs)) == -1)
		return -1;
	if (got == 0) {
		/* No retry protection asked for: a fresh id never collides. */
		if (token_new(cid) == -1) {
			resp_error(rs, 500, "internal", "No randomness.");
			return -1;
		}
		return 0;
	}
	if (valid_client_id(v, &why) == -1) {
		resp_error(rs, 400, "bad_field", "client_id %s.", why);
		json_object_set_new(rs->json, "field", json_string("client_id"));
		return -1;
	}
	memcpy(cid, v, strlen(v) + 1);
	return 0;
}

/*
 * The private message's recipient, if body names one ("to"), in *t; 1
 * yes, 0 a message to the room, -1 after answering (400, 404, 500).
 */
static int
recipient(struct ctx *c, const struct session *s, json_t *body,
    struct session *t, struct resp *rs)
{
	int64_t	 to;
	int	 n;

	if (json_object_get(body, "to") == NULL ||
	    json_is_null(json_object_get(body, "to")))
		return 0;
	if (body_id(body, "to", &to, rs) == -1)
		return -1;
	if ((n = db_session_by_id(c->db, to, t)) == -1) {
		resp_error(rs, 500, "internal", "The store failed.");
		return -1;
	}
	if (n == 0 || t->room_id != s->room_id || t->id == s->id) {
		resp_error(rs, 404, "not_member", "No such other member in "
		    "this room.");
		return -1;
	}
	return 1;
}

/* Publish msg: to the room, or (private) to recipient t and sender s. */
static int
message_publish(struct ctx *c, const struct session *s,
    const struct session *t, json_t *msg, int64_t ts)
{
	if (t == NULL)
		return publish(c, s->room_id, 0, "new_message", msg, ts) == -1 ?
		    -1 : 0;
	if (publish(c, 0, t->id, "new_message", msg, ts) == -1 ||
	    publish(c, 0, s->id, "new_message", msg, ts) == -1)
		return -1;
	return 0;
}

void
h_messages(struct ctx *c, const struct req *rq, struct resp *rs)
{
	struct session	 s, t;
	json_t		*body, *msg = NULL;
	const char	*text;
	char		 cid[NOOM_CLIENT_ID_MAX + 1], *stored = NULL;
	int64_t		 id, ts = rq->now_ms;
	int		 dup, private;

	if ((body = body_object(rq, 0, rs)) == NULL)
		return;
	if (body_string(body, "text", 1, &text, rs) == -1 ||
	    check_text(text, rs) == -1 || client_id(body, cid, rs) == -1)
		goto out;
	if (db_begin(c->db) == -1)
		goto fail;
	if (auth_session(c, rq, rs, &s) == -1)
		goto rollback;
	if ((dup = db_message_by_client(c->db, s.id, cid, &id, &ts)) == -1)
		goto fail;
	if (dup) {
		db_rollback(c->db);
		resp_json(rs, 200, json_pack("{s:I,s:I,s:b}", "id",
		    (json_int_t)id, "ts", (json_int_t)ts, "duplicate", 1));
		goto out;
	}
	if (rate_take(c, &s, rq->now_ms, rs) == -1 ||
	    client_take(c, rq, LIMIT_CHAT, rs) == -1)
		goto rollback;
	if (session_in_room(&s, rs) == -1)
		goto rollback;
	if ((private = recipient(c, &s, body, &t, rs)) == -1)
		goto rollback;
	msg = json_pack("{s:s,s:I,s:s,s:s,s:I,s:s}", "room", s.room,
	    "session", (json_int_t)s.id, "nickname", s.nickname, "text", text,
	    "ts", (json_int_t)ts, "client_id", cid);
	if (private)
		json_object_update_new(msg, json_pack("{s:b,s:I,s:s}",
		    "private", 1, "to", (json_int_t)t.id, "to_nickname",
		    t.nickname));
	/* Stored without its id, which the history adds back on reading. */
	if ((stored = json_dumps(msg, JSON_COMPACT)) == NULL ||
	    db_message_add(c->db, s.room_id, s.id, private ? t.id : 0, cid,
	    ts, stored, &id) == -1)
		goto fail;
	json_object_set_new(msg, "id", json_integer(id));
	if (message_publish(c, &s, private ? &t : NULL, msg, ts) == -1 ||
	    db_commit(c->db) == -1)
		goto fail;
	resp_json(rs, 201, json_pack("{s:I,s:I,s:b}", "id", (json_int_t)id,
	    "ts", (json_int_t)ts, "duplicate", 0));
	goto out;
fail:
	resp_error(rs, 500, "internal", "The store failed.");
rollback:
	db_rollback(c->db);
out:
	free(stored);
	json_decref(msg);
	json_decref(body);
}
