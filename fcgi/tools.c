/*
 * tools.c — what members use in a meeting besides chat and the call.
 *
 *   POST /api/hand     {"raised": bool, "session"?: id} -> {session, raised, at}
 *   POST /api/reaction {"emoji"}                       -> {emoji}
 *
 * Raised hands are a queue: each member's hand_ms is when it was raised,
 * and the room's state lists the raised hands in that order (rooms.c), so a
 * newcomer or a reload sees the queue as it is.  A member raises and lowers
 * its own hand; a host may lower anyone's ("session"), never raise it.
 * Entering or leaving a room lowers the hand, except for a member who
 * leaves of its own accord and comes back within NOOM_REJOIN_MS (a reload,
 * a network switch): its hand is up again, in its place (room_enter).
 *
 * A reaction is a room event and nothing else: not stored with the chat,
 * not in the history; each session has its own small allowance
 * (NOOM_RE_BURST, then NOOM_RE_RATE a second), so a held-down key cannot
 * flood a room.  Only the emoji in `reactions` exist.
 */
#include <string.h>

#include "noom.h"

static const char *const reactions[] = {
	"\xf0\x9f\x91\x8d",		/* thumbs up */
	"\xf0\x9f\x91\x8f",		/* clapping hands */
	"\xf0\x9f\x98\x82",		/* tears of joy */
	"\xe2\x9d\xa4\xef\xb8\x8f",	/* red heart */
	"\xf0\x9f\x8e\x89",		/* party popper */
	"\xf0\x9f\x98\xae",		/* open mouth */
	NULL
};

/*
 * Whose hand the request moves, in *t: the sender's own, or with
 * "session" another member's, which only a host may lower.  0, or -1
 * after answering.
 */
static int
hand_owner(struct ctx *c, const struct session *s, json_t *body, int raised,
    struct session *t, struct resp *rs)
{
	int64_t	 id;
	int	 n;

	*t = *s;
	if (json_object_get(body, "session") == NULL)
		return 0;
	if (body_id(body, "session", &id, rs) == -1)
		return -1;
	if (id == s->id)
		return 0;
	if (!s->host) {
		resp_error(rs, 403, "not_host", "Only a host may lower another "
		    "member's hand.");
		return -1;
	}
	if (raised) {
		resp_bad_field(rs, "raised", "A host may lower another member's "
		    "hand, not raise it.");
		return -1;
	}
	if ((n = db_session_by_id(c->db, id, t)) == -1) {
		resp_error(rs, 500, "internal", "The store failed.");
		return -1;
	}
	if (n == 0 || t->room_id != s->room_id) {
		resp_error(rs, 404, "not_member", "No such member in this room.");
		return -1;
	}
	return 0;
}

/*
 * Tell s's room where t's hand is now (t->hand_ms: raised then, 0: down),
 * moved by s; also for a member who comes back with its hand up
 * (room_enter).  0 or -1.
 */
int
hand_publish(struct ctx *c, const struct session *s, const struct session *t,
    int64_t now)
{
	json_t	*ev;
	int	 rv;

	ev = json_pack("{s:s,s:I,s:s,s:b,s:I,s:I}", "room", s->room,
	    "session", (json_int_t)t->id, "nickname", t->nickname,
	    "raised", t->hand_ms > 0, "at", (json_int_t)t->hand_ms,
	    "by", (json_int_t)s->id);
	rv = publish(c, s->room_id, 0, "hand", ev, now);
	json_decref(ev);
	return rv;
}

/* Move t's hand (raised at now, or down) and tell the room; 0 or -1. */
static int
hand_move(struct ctx *c, const struct session *s, struct session *t,
    int raised, int64_t now, json_t **answer)
{
	/* Raising a raised hand keeps its place in the queue. */
	int64_t	 at = raised ? (t->hand_ms > 0 ? t->hand_ms : now) : 0;
	int	 rv = 0;

	if (at != t->hand_ms) {
		t->hand_ms = at;
		if (db_session_hand(c->db, t->id, at) == -1 ||
		    hand_publish(c, s, t, now) == -1)
			rv = -1;
	}
	*answer = json_pack("{s:I,s:b,s:I}", "session", (json_int_t)t->id,
	    "raised", raised, "at", (json_int_t)at);
	return rv;
}

void
h_hand(struct ctx *c, const struct req *rq, struct resp *rs)
{
	struct session	 s, t;
	json_t		*body, *answer = NULL;
	int		 raised = -1;

	if ((body = body_object(rq, 0, rs)) == NULL)
		return;
	if (body_bool(body, "raised", &raised, rs) == -1)
		goto out;
	if (raised == -1) {
		resp_bad_field(rs, "raised", "Field 'raised' (true or false) is "
		    "needed.");
		goto out;
	}
	if (db_begin(c->db) == -1)
		goto fail;
	if (auth_session(c, rq, rs, &s) == -1 ||
	    rate_take(c, &s, rq->now_ms, rs) == -1)
		goto rollback;
	if (session_in_room(&s, rs) == -1)
		goto rollback;
	if (hand_owner(c, &s, body, raised, &t, rs) == -1)
		goto rollback;
	if (hand_move(c, &s, &t, raised, rq->now_ms, &answer) == -1 ||
	    db_commit(c->db) == -1)
		goto fail;
	resp_json(rs, 200, answer);
	answer = NULL;
	goto out;
fail:
	resp_error(rs, 500, "internal", "The store failed.");
rollback:
	db_rollback(c->db);
out:
	json_decref(answer);
	json_decref(body);
}

/* Is emoji one of the reactions?  1 or 0. */
static int
reaction_known(const char *emoji)
{
	int	 i;

	for (i = 0; reactions[i] != NULL; i++)
		if (strcmp(emoji, reactions[i]) == 0)
			return 1;
	return 0;
}

void
h_reaction(struct ctx *c, const struct req *rq, struct resp *rs)
{
	struct session	 s;
	json_t		*body, *ev = NULL;
	const char	*emoji;

	if ((body = body_object(rq, 0, rs)) == NULL)
		return;
	if (body_string(body, "emoji", 1, &emoji, rs) == -1)
		goto out;
	if (!reaction_known(emoji)) {
		resp_bad_field(rs, "emoji", "Not one of the reactions (docs/API.md).");
		goto out;
	}
	if (db_begin(c->db) == -1)
		goto fail;
	if (auth_session(c, rq, rs, &s) == -1 ||
	    rate_take_reaction(c, &s, rq->now_ms, rs) == -1)
		goto rollback;
	if (session_in_room(&s, rs) == -1)
		goto rollback;
	ev = json_pack("{s:s,s:I,s:s,s:s}", "room", s.room, "session",
	    (json_int_t)s.id, "nickname", s.nickname, "emoji", emoji);
	if (publish(c, s.room_id, 0, "reaction", ev, rq->now_ms) == -1 ||
	    db_commit(c->db) == -1)
		goto fail;
	resp_json(rs, 200, json_pack("{s:s}", "emoji", emoji));
	goto out;
fail:
	resp_error(rs, 500, "internal", "The store failed.");
rollback:
	db_rollback(c->db);
out:
	json_decref(ev);
	json_decref(body);
}
