/*
 * meeting.c — what a room's hosts do.
 *
 *   POST /api/room/settings {locked?, waiting_room?, password?} -> {settings}
 *   POST /api/room/host     {session}  make a member a host too
 *   POST /api/room/remove   {session}  out, and not back until the room closes
 *   POST /api/room/mute     {session} | {all: true}  ask to mute
 *   POST /api/room/admit    {session}  let a waiting joiner in
 *   POST /api/room/deny     {session}  turn a waiting joiner away
 *   POST /api/room/end      {}         everyone out; the room closes
 *
 * Every host action is checked here, on the server: anyone but a host of
 * the room gets 403 not_host, and the page only shows the controls the
 * room's state says this session has.  Each action is one transaction that
 * also writes the events that make every page agree (docs/API.md lists
 * them), so a reload shows what the others see.
 *
 * The session that opens a room is its host; a host may make others hosts;
 * when the last host leaves, the member present longest becomes one
 * (rooms.c, room_handover).  Who may enter is door.c's.  Removed and
 * denied sessions are in no room, so they can neither signal nor get TURN
 * credentials (call.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "noom.h"

/* An action's verdict (tx_finish): commit, answered (roll back), store failed. */
#define ACT_DONE	1
#define ACT_ANSWERED	0
#define ACT_FAIL	(-1)

typedef int (*host_act)(struct ctx *, const struct req *, struct session *,
    json_t *, struct resp *);

/* Session ids collected from a member list (member_id). */
struct ids {
	int64_t	 v[NOOM_MEMBERS_MAX];
	int	 n;
};

/*
 * The member of s's room that body's "session" names, in *t: ACT_DONE,
 * ACT_ANSWERED (400, or 404 not_member whether the session exists
 * elsewhere or not) or ACT_FAIL.
 */
static int
member_get(struct ctx *c, const struct session *s, json_t *body,
    struct session *t, struct resp *rs)
{
	int64_t	 id;
	int	 n;

	if (body_id(body, "session", &id, rs) == -1)
		return ACT_ANSWERED;
	if ((n = db_session_by_id(c->db, id, t)) == -1)
		return ACT_FAIL;
	if (n == 0 || t->room_id != s->room_id) {
		resp_error(rs, 404, "not_member", "No such member in this room.");
		return ACT_ANSWERED;
	}
	return ACT_DONE;
}

/*
 * The session body's "session" names, if it waits for s's room, in *t;
 * it waits no more.  ACT_DONE, ACT_ANSWERED (400, 404 not_waiting) or
 * ACT_FAIL.
 */
static int
waiter_get(struct ctx *c, const struct session *s, json_t *body,
    struct session *t, struct resp *rs)
{
	int64_t	 id, room = 0;
	int	 n;

	if (body_id(body, "session", &id, rs) == -1)
		return ACT_ANSWERED;
	if ((n = db_waiting_for(c->db, id, &room)) == -1 ||
	    (n == 1 && db_session_by_id(c->db, id, t) == -1))
		return ACT_FAIL;
	if (n == 0 || room != s->room_id) {
		resp_error(rs, 404, "not_waiting", "Nobody by that id waits "
		    "for this room.");
		return ACT_ANSWERED;
	}
	return db_waiting_del(c->db, id) == -1 ? ACT_FAIL : ACT_DONE;
}

/* Let waiting session t into host s's room. */
static int
admit(struct ctx *c, const struct session *s, struct session *t, int64_t now)
{
	struct room_ref	 r = { s->room_id, s->room, s->room_unlisted };

	if (room_enter(c, t, &r, 0, now) == -1 ||
	    waiting_done(c, s->room_id, t->id, "admitted", now) == -1)
		return ACT_FAIL;
	return ACT_DONE;
}

/* A member_fn: collect member ids into the struct ids arg. */
static int
member_id(void *arg, const struct member *m)
{
	struct ids	*ids = arg;

	ids->v[ids->n++] = m->session_id;
	return ids->n == NOOM_MEMBERS_MAX;
}

/* The waiting room went off: those who wait come in, as in Zoom. */
static int
admit_all(struct ctx *c, const struct session *s, int64_t now)
{
	struct ids	 ids = { .n = 0 };
	struct session	 t;
	int		 i;

	if (db_waiting_list(c->db, s->room_id, NOOM_WAITING_MAX, member_id,
	    &ids) == -1)
		return ACT_FAIL;
	for (i = 0; i < ids.n; i++)
		if (db_session_by_id(c->db, ids.v[i], &t) != 1 ||
		    db_waiting_del(c->db, t.id) == -1 ||
		    admit(c, s, &t, now) != ACT_DONE)
			return ACT_FAIL;
	return ACT_DONE;
}

/* The password field of a settings body into info (hashed), if there. */
static int
settings_password(json_t *body, struct room_info *info, struct resp *rs)
{
	json_t		*v = json_object_get(body, "password");
	const char	*pw, *why = "must be a string or null";

	if (v == NULL)
		return ACT_DONE;
	if (json_is_null(v) || (json_is_string(v) &&
	    json_string_length(v) == 0)) {
		info->password[0] = '\0';
		return ACT_DONE;
	}
	if (!json_is_string(v) || (pw = json_string_value(v),
	    strlen(pw) != json_string_length(v) &&
	    (why = "contains a control character")) ||
	    valid_password(pw, &why) != 0) {
		resp_bad_field(rs, "password", "The password %s (1 to %d "
		    "characters, or null to clear it).", why,
		    NOOM_PASSWORD_MAX);
		return ACT_ANSWERED;
	}
	return pw_hash(pw, info->password, sizeof(info->password)) == 0 ?
	    ACT_DONE : ACT_FAIL;
}

static int
act_settings(struct ctx *c, const struct req *rq, struct session *s,
    json_t *body, struct resp *rs)
{
	struct room_info info;
	json_t		*ev;
	int		 was_waiting, n;

	if (db_room_info(c->db, s->room_id, &info) != 1)
		return ACT_FAIL;
	was_waiting = info.waiting_room;
	if (body_bool(body, "locked", &info.locked, rs) == -1 ||
	    body_bool(body, "waiting_room", &info.waiting_room, rs) == -1)
		return ACT_ANSWERED;
	if ((n = settings_password(body, &info, rs)) != ACT_DONE)
		return n;
	ev = json_pack("{s:s,s:o,s:I}", "room", s->room, "settings",
	    room_settings_new(&info), "by", (json_int_t)s->id);
	n = db_room_settings(c->db, s->room_id, &info) == -1 ||
	    publish(c, s->room_id, 0, "room_settings", ev, rq->now_ms) == -1;
	json_decref(ev);
	if (n || (was_waiting && !info.waiting_room &&
	    admit_all(c, s, rq->now_ms) == ACT_FAIL))
		return ACT_FAIL;
	resp_json(rs, 200, json_pack("{s:o}", "settings",
	    room_settings_new(&info)));
	return ACT_DONE;
}

static int
act_host(struct ctx *c, const struct req *rq, struct session *s,
    json_t *body, struct resp *rs)
{
	struct session	 t;
	json_t		*ev;
	int		 n;

	if ((n = member_get(c, s, body, &t, rs)) != ACT_DONE)
		return n;
	if (!t.host) {
		ev = json_pack("{s:s,s:I,s:s,s:s,s:I}", "room", s->room,
		    "session", (json_int_t)t.id, "nickname", t.nickname,
		    "reason", "made", "by", (json_int_t)s->id);
		n = db_host_set(c->db, t.id, 1) == -1 ||
		    publish(c, s->room_id, 0, "host", ev, rq->now_ms) == -1;
		json_decref(ev);
		if (n)
			return ACT_FAIL;
	}
	resp_json(rs, 200, json_pack("{s:I,s:b}", "session", (json_int_t)t.id,
	    "host", 1));
	return ACT_DONE;
}

static int
act_remove(struct ctx *c, const struct req *rq, struct session *s,
    json_t *body, struct resp *rs)
{
	struct session	 t;
	int		 n;

	if ((n = member_get(c, s, body, &t, rs)) != ACT_DONE)
		return n;
	if (t.id == s->id) {
		resp_bad_field(rs, "session", "A host cannot remove themselves; "
		    "leave instead.");
		return ACT_ANSWERED;
	}
	if (meeting_remove(c, &t, rq->now_ms) == -1)
		return ACT_FAIL;
	resp_json(rs, 200, json_pack("{s:I}", "removed", (json_int_t)t.id));
	return ACT_DONE;
}

/* Ask one member, or ({"all": true}) everyone but s, to mute. */
static int
act_mute(struct ctx *c, const struct req *rq, struct session *s,
    json_t *body, struct resp *rs)
{
	struct session	 t;
	json_t		*ev;
	int64_t		 seq;
	int		 all = 0, n;

	if (body_bool(body, "all", &all, rs) == -1)
		return ACT_ANSWERED;
	if (!all && (n = member_get(c, s, body, &t, rs)) != ACT_DONE)
		return n;
	ev = json_pack("{s:s,s:I,s:s}", "room", s->room, "by",
	    (json_int_t)s->id, "nickname", s->nickname);
	if (all)
		json_object_set_new(ev, "all", json_true());
	seq = all ? publish(c, s->room_id, 0, "mute_request", ev, rq->now_ms) :
	    publish(c, 0, t.id, "mute_request", ev, rq->now_ms);
	json_decref(ev);
	if (seq == -1)
		return ACT_FAIL;
	resp_json(rs, 200, json_pack("{s:b}", "asked", 1));
	return ACT_DONE;
}

static int
act_admit(struct ctx *c, const struct req *rq, struct session *s,
    json_t *body, struct resp *rs)
{
	struct session	 t;
	int		 n;

	if ((n = waiter_get(c, s, body, &t, rs)) != ACT_DONE ||
	    (n = admit(c, s, &t, rq->now_ms)) != ACT_DONE)
		return n;
	resp_json(rs, 200, json_pack("{s:I}", "admitted", (json_int_t)t.id));
	return ACT_DONE;
}

static int
act_deny(struct ctx *c, const struct req *rq, struct session *s,
    json_t *body, struct resp *rs)
{
	struct session	 t;
	json_t		*ev;
	int		 n;

	if ((n = waiter_get(c, s, body, &t, rs)) != ACT_DONE)
		return n;
	ev = json_pack("{s:s,s:s}", "room", s->room, "reason", "denied");
	n = publish(c, 0, t.id, "join_denied", ev, rq->now_ms) == -1 ||
	    waiting_done(c, s->room_id, t.id, "denied", rq->now_ms) == -1;
	json_decref(ev);
	if (n)
		return ACT_FAIL;
	resp_json(rs, 200, json_pack("{s:I}", "denied", (json_int_t)t.id));
	return ACT_DONE;
}

/*
 * Remove member t from its meeting (a host's or the operator's act): out
 * with reason "removed", and not back until the room closes.  0 or -1.
 */
int
meeting_remove(struct ctx *c, struct session *t, int64_t now)
{
	if (db_ban_add(c->db, t->room_id, t->id) == -1 ||
	    room_leave(c, t, "removed", now) == -1)
		return -1;
	return 0;
}

/*
 * End the meeting in room: everyone out with reason ("ended" by a host,
 * "closed" by the operator), a page of members at a time; the last one out
 * closes the room, which tells those waiting.  0 or -1.
 */
int
meeting_end(struct ctx *c, int64_t room, const char *reason, int64_t now)
{
	struct ids	 ids;
	struct session	 t;
	int		 i;

	do {
		ids.n = 0;
		if (db_room_members(c->db, room, NOOM_MEMBERS_MAX, member_id,
		    &ids) == -1)
			return -1;
		for (i = 0; i < ids.n; i++)
			if (db_session_by_id(c->db, ids.v[i], &t) != 1 ||
			    room_leave(c, &t, reason, now) == -1)
				return -1;
	} while (ids.n > 0);
	return 0;
}

static int
act_end(struct ctx *c, const struct req *rq, struct session *s,
    json_t *body, struct resp *rs)
{
	(void)body;
	if (meeting_end(c, s->room_id, "ended", rq->now_ms) == -1)
		return ACT_FAIL;
	resp_json(rs, 200, json_pack("{s:s,s:b}", "room", s->room, "ended", 1));
	return ACT_DONE;
}

/*
 * Run host action act: the body, the session, its room and its being a
 * host are checked first; then one transaction, committed only when act
 * says so.
 */
static void
host_action(struct ctx *c, const struct req *rq, struct resp *rs,
    host_act act)
{
	struct session	 s;
	json_t		*body;
	int		 verdict = ACT_ANSWERED;

	if ((body = body_object(rq, 1, rs)) == NULL)
		return;
	if (db_begin(c->db) == -1)
		verdict = ACT_FAIL;
	else if (auth_session(c, rq, rs, &s) == 0 &&
	    rate_take(c, &s, rq->now_ms, rs) == 0 &&
	    session_in_room(&s, rs) == 0) {
		if (s.host)
			verdict = act(c, rq, &s, body, rs);
		else
			resp_error(rs, 403, "not_host", "Only a host of this "
			    "room may do that.");
	}
	tx_finish(c, verdict, rs);
	json_decref(body);
}

void
h_room_settings(struct ctx *c, const struct req *rq, struct resp *rs)
{
	host_action(c, rq, rs, act_settings);
}

void
h_room_host(struct ctx *c, const struct req *rq, struct resp *rs)
{
	host_action(c, rq, rs, act_host);
}

void
h_room_remove(struct ctx *c, const struct req *rq, struct resp *rs)
{
	host_action(c, rq, rs, act_remove);
}

void
h_room_mute(struct ctx *c, const struct req *rq, struct resp *rs)
{
	host_action(c, rq, rs, act_mute);
}

void
h_room_admit(struct ctx *c, const struct req *rq, struct resp *rs)
{
	host_action(c, rq, rs, act_admit);
}

void
h_room_deny(struct ctx *c, const struct req *rq, struct resp *rs)
{
	host_action(c, rq, rs, act_deny);
}

void
h_room_end(struct ctx *c, const struct req *rq, struct resp *rs)
{
	host_action(c, rq, rs, act_end);
}
