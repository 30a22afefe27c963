/*
 * session.c — sessions, tokens and nicknames.
 *
 *   POST /api/session   {"nickname"?}  -> 201 {token, session, nickname, cursor}
 *   GET  /api/session                  -> 200 {session, nickname, room}
 *   POST /api/nickname  {"nickname"}   -> 200 {nickname}; room gets "nickname"
 *
 * Every call but creating a session names its session by the bearer token
 * (auth_session); nothing a client sends can pick another session.  Write
 * calls draw from a token bucket kept in the session row (NOOM_RL_BURST,
 * refilled NOOM_RL_RATE per second), so the limit holds across workers;
 * creating sessions draws from the client address's (limit.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "noom.h"

/*
 * Find the session the request's bearer token names.  0 with *s filled, or
 * -1 after answering 401 (or 500).
 */
int
auth_session(struct ctx *c, const struct req *rq, struct resp *rs,
    struct session *s)
{
	char	 token[33];
	int	 found;

	if (token_from_auth(rq->auth, token) == NULL) {
		resp_error(rs, 401, "unauthorized", "A session token is needed "
		    "(Authorization: Bearer <token>).");
		return -1;
	}
	if ((found = db_session_by_token(c->db, token, s)) == 1)
		return 0;
	if (found == 0)
		resp_error(rs, 401, "unauthorized", "Unknown session token.");
	else
		resp_error(rs, 500, "internal", "The store failed.");
	return -1;
}

/*
 * Check and trim a nickname field value.  A new string the caller frees, or
 * NULL after answering 400.
 */
static char *
nickname_new(const char *raw, struct resp *rs)
{
	const char	*why;
	char		*nick = valid_trim_new(raw);

	if (valid_text(nick, 1, NOOM_NICK_MAX, 0, &why) == 0 &&
	    valid_name(nick, &why) == 0)
		return nick;
	free(nick);
	resp_error(rs, 400, "bad_field", "The nickname %s (1 to %d "
	    "characters, something visible, no control characters).", why,
	    NOOM_NICK_MAX);
	json_object_set_new(rs->json, "field", json_string("nickname"));
	return NULL;
}

/* Is session s in a room?  0, or -1 after answering 409 not_in_room. */
int
session_in_room(const struct session *s, struct resp *rs)
{
	if (s->room_id != 0)
		return 0;
	resp_error(rs, 409, "not_in_room", "Join a room first.");
	return -1;
}

void
h_session_create(struct ctx *c, const struct req *rq, struct resp *rs)
{
	json_t		*body;
	const char	*raw = "Anonymous";
	char		 token[33], *nick = NULL;
	int64_t		 id, cursor;

	if ((body = body_object(rq, 1, rs)) == NULL)
		return;
	if (body_string(body, "nickname", 0, &raw, rs) == -1)
		goto out;
	if ((nick = nickname_new(raw, rs)) == NULL)
		goto out;
	if (token_new(token) == -1) {
		resp_error(rs, 500, "internal", "No randomness for a token.");
		goto out;
	}
	if (db_begin(c->db) == -1)
		goto fail;
	if (client_take(c, rq, LIMIT_SESSION, rs) == -1) {
		db_rollback(c->db);
		goto out;
	}
	if (db_session_create(c->db, token, nick, rq->now_ms, &id) == -1 ||
	    (cursor = db_log_end(c->db)) == -1 || db_commit(c->db) == -1)
		goto fail;
	resp_json(rs, 201, json_pack("{s:s,s:I,s:s,s:I}", "token", token,
	    "session", (json_int_t)id, "nickname", nick,
	    "cursor", (json_int_t)cursor));
	goto out;
fail:
	db_rollback(c->db);
	resp_error(rs, 500, "internal", "The store failed.");
out:
	free(nick);
	json_decref(body);
}

void
h_session_get(struct ctx *c, const struct req *rq, struct resp *rs)
{
	struct session	 s;

	if (auth_session(c, rq, rs, &s) == -1)
		return;
	resp_json(rs, 200, json_pack("{s:I,s:s,s:o}", "session",
	    (json_int_t)s.id, "nickname", s.nickname, "room",
	    s.room_id ? json_string(s.room) : json_null()));
}

void
h_nickname(struct ctx *c, const struct req *rq, struct resp *rs)
{
	struct session	 s;
	json_t		*body, *ev = NULL;
	const char	*raw;
	char		*nick = NULL, key[NOOM_NAME_KEY];
	int		 taken;

	if ((body = body_object(rq, 0, rs)) == NULL)
		return;
	if (body_string(body, "nickname", 1, &raw, rs) == -1 ||
	    (nick = nickname_new(raw, rs)) == NULL)
		goto out;
	if (db_begin(c->db) == -1) {
		resp_error(rs, 500, "internal", "The store failed.");
		goto out;
	}
	if (auth_session(c, rq, rs, &s) == -1 ||
	    rate_take(c, &s, rq->now_ms, rs) == -1)
		goto rollback;
	if (strcmp(s.nickname, nick) != 0) {
		if (name_key(nick, key, sizeof(key)) == -1 ||
		    (taken = s.room_id == 0 ? 0 :
		    db_nick_taken(c->db, s.room_id, key, s.id)) == -1)
			goto fail;
		if (taken) {
			resp_error(rs, 409, "nickname_taken", "Someone in %s "
			    "is already called %s; choose another name.", s.room,
			    nick);
			goto rollback;
		}
		if (db_session_nickname(c->db, s.id, nick, key) == -1)
			goto fail;
		if (s.room_id != 0) {
			ev = json_pack("{s:s,s:I,s:s,s:s}", "room", s.room,
			    "session", (json_int_t)s.id, "old", s.nickname,
			    "nickname", nick);
			if (publish(c, s.room_id, 0, "nickname", ev,
			    rq->now_ms) == -1)
				goto fail;
		}
	}
	if (db_commit(c->db) == -1)
		goto fail;
	resp_json(rs, 200, json_pack("{s:s}", "nickname", nick));
	goto out;
fail:
	resp_error(rs, 500, "internal", "The store failed.");
rollback:
	db_rollback(c->db);
out:
	json_decref(ev);
	json_decref(body);
	free(nick);
}
