/*
 * door.c — who may enter a room, and who waits at its door.
 *
 * room_gate() decides a joiner's fate, in this order: a removal (403
 * removed, until the room closes), a recent leave of the same room
 * (straight back in, for NOOM_REJOIN_MS: a reload or a network switch;
 * room_rejoining()),
 * the lock, the password (guesses limited per client address: a wrong one
 * is counted even though nothing else of the join is kept), the waiting
 * room.  A session that waits is in no room: it reads only what is
 * addressed to it, and can neither signal nor get TURN credentials
 * (call.c); the hosts are told who waits and who stopped waiting, each
 * with an event addressed to them.
 */
#include <stdio.h>
#include <string.h>

#include "noom.h"

/* Publish ev (borrowed) to each host of room, addressed; 0 or -1. */
int
hosts_publish(struct ctx *c, int64_t room, const char *type, json_t *ev,
    int64_t now)
{
	int64_t	 ids[NOOM_HOSTS_MAX];
	int	 i, n;

	if ((n = db_room_hosts(c->db, room, ids, NOOM_HOSTS_MAX)) == -1)
		return -1;
	for (i = 0; i < n; i++)
		if (publish(c, 0, ids[i], type, ev, now) == -1)
			return -1;
	return 0;
}

/*
 * Is session s, in no room, coming back to room within NOOM_REJOIN_MS of
 * leaving it of its own accord (a reload, a network switch)?  Such a
 * session goes straight in and keeps what it had there: its host role
 * (left_host) and its raised hand with its place in the queue (hand_ms,
 * kept by room_leave).  1 or 0.
 */
int
room_rejoining(const struct session *s, int64_t room, int64_t now)
{
	return s->left_room == room && now - s->left_ms < NOOM_REJOIN_MS;
}

enum gate
room_gate(struct ctx *c, const struct req *rq, const struct session *s,
    const struct room_ref *r, const char *password, struct resp *rs)
{
	struct room_info info;
	int		 n;

	if ((n = db_banned(c->db, r->id, s->id)) != 0) {
		if (n == -1)
			return GATE_FAIL;
		resp_error(rs, 403, "removed", "A host removed you from this "
		    "meeting.");
		return GATE_REFUSED;
	}
	if (room_rejoining(s, r->id, rq->now_ms))
		return s->left_host ? GATE_HOST : GATE_OPEN;
	if (db_room_info(c->db, r->id, &info) != 1)
		return GATE_FAIL;
	if (info.locked) {
		resp_error(rs, 403, "room_locked", "This meeting is locked by "
		    "its host.");
		return GATE_REFUSED;
	}
	if (info.password[0] != '\0') {
		if (password == NULL) {
			resp_error(rs, 403, "password_required", "This meeting "
			    "needs a password.");
			return GATE_REFUSED;
		}
		if (client_take(c, rq, LIMIT_PASSWORD, rs) == -1)
			return GATE_REFUSED;
		if (!pw_verify(password, info.password)) {
			resp_error(rs, 403, "wrong_password", "That password "
			    "is wrong.");
			return GATE_COUNTED;
		}
	}
	return info.waiting_room ? GATE_WAIT : GATE_OPEN;
}

/* Tell the hosts of room that session sid stopped waiting, and why. */
int
waiting_done(struct ctx *c, int64_t room, int64_t sid, const char *outcome,
    int64_t now)
{
	json_t	*ev;
	int	 rv;

	ev = json_pack("{s:I,s:s}", "session", (json_int_t)sid, "outcome",
	    outcome);
	rv = hosts_publish(c, room, "waiting_done", ev, now);
	json_decref(ev);
	return rv;
}

/*
 * Session s (in no room) waits to be admitted to room r; its hosts are
 * told.  0 after answering 202, -1 after answering an error.
 */
int
waiting_start(struct ctx *c, const struct session *s,
    const struct room_ref *r, int64_t now, struct resp *rs)
{
	json_t	*ev;
	int64_t	 cursor;
	int	 n;

	if ((n = db_waiting_count(c->db, r->id)) == -1)
		goto fail;
	if (n >= NOOM_WAITING_MAX) {
		resp_error(rs, 409, "waiting_full", "Too many people are waiting "
		    "for this meeting; try again later.");
		return -1;
	}
	ev = json_pack("{s:s,s:I,s:s}", "room", r->name, "session",
	    (json_int_t)s->id, "nickname", s->nickname);
	n = db_waiting_add(c->db, s->id, r->id, now) == -1 ||
	    hosts_publish(c, r->id, "waiting", ev, now) == -1;
	json_decref(ev);
	if (n || (cursor = db_log_end(c->db)) == -1)
		goto fail;
	resp_json(rs, 202, json_pack("{s:s,s:b,s:I}", "room", r->name,
	    "waiting", 1, "cursor", (json_int_t)cursor));
	return 0;
fail:
	resp_error(rs, 500, "internal", "The store failed.");
	return -1;
}

/*
 * Session s stops waiting, if it waits; its room's hosts are told.  1 if
 * it waited, 0 if not, -1 on error.
 */
int
waiting_cancel(struct ctx *c, const struct session *s, int64_t now)
{
	int64_t	 room;
	int	 n;

	if ((n = db_waiting_for(c->db, s->id, &room)) != 1)
		return n;
	if (db_waiting_del(c->db, s->id) == -1 ||
	    waiting_done(c, room, s->id, "left", now) == -1)
		return -1;
	return 1;
}

