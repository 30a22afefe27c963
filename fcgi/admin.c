/*
 * admin.c — the operator's page and its API.
 *
 *   GET  PREFIX/admin              the page (templates/admin.html)
 *   POST PREFIX/api/admin/login    {password} -> Set-Cookie noom_admin
 *   POST PREFIX/api/admin/logout
 *   GET  PREFIX/api/admin/rooms    every open room, listed or not, with its
 *                                  members, their transports and the call
 *   GET  PREFIX/api/admin/wait?cursor=N   a long poll that returns when
 *                                  anything happened (then read rooms again)
 *   GET  PREFIX/api/admin/stats    the metrics' last hour, for charts
 *   POST PREFIX/api/admin/close    {room: id}: end that meeting
 *   POST PREFIX/api/admin/remove   {session}: remove that member
 *
 * Off (404 for all of it) unless --config sets admin_password, a pw_hash()
 * of it (noom-worker --hash-password); a reload turns it on or off.  The
 * admin's session is its own: a random token in an HttpOnly, SameSite=
 * Strict cookie (Secure over TLS) whose path is PREFIX/api/admin/, stored
 * only as its SHA-256 (admin_sessions), and nothing of a user's session
 * opens it.  Every POST from a foreign Origin is refused before this file
 * (route.c), and a login guess takes a token of the client address's
 * limit_admin_logins bucket.  Every action is logged with the admin
 * session's id and address.
 *
 * "Live over the same mailbox": the wait is a poll whose reader sees every
 * event of the log (ROOM_ALL), answered and parked like any other poll.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "noom.h"

#define ADMIN_IDLE_MS	(60 * 60 * 1000)	/* forgotten unused */
#define ADMIN_MAX_MS	(12 * 60 * 60 * 1000)	/* forgotten, used or not */
#define ADMIN_ROOMS_MAX	500			/* rooms on the page */
#define ADMIN_MEMBERS	50			/* members shown per room */

/* Forget admin sessions past their time (maintenance); 0 or -1. */
int
admin_expire(struct db *db, int64_t now)
{
	return db_admins_expire(db, now - ADMIN_IDLE_MS, now - ADMIN_MAX_MS);
}

/* Is the admin page on?  If not, answer 404 as for any unknown path. */
static int
admin_on(const struct ctx *c, struct resp *rs)
{
	if (conf_now(c->app)->admin_password != NULL)
		return 1;
	resp_error(rs, 404, "not_found", "No such resource.");
	return 0;
}

/*
 * The admin session of the request's cookie, in *id, in its own short
 * transaction: 0, or -1 after answering (401 without a valid one).
 */
static int
admin_auth(struct ctx *c, const struct req *rq, struct resp *rs, int64_t *id)
{
	int	 n;

	if (!admin_on(c, rs))
		return -1;
	if (rq->admin_cookie == NULL || !token_valid(rq->admin_cookie)) {
		resp_error(rs, 401, "unauthorized", "Log in first.");
		return -1;
	}
	if (db_begin(c->db) == -1)
		goto fail;
	n = db_admin_get(c->db, rq->admin_cookie, rq->now_ms,
	    rq->now_ms - ADMIN_IDLE_MS, rq->now_ms - ADMIN_MAX_MS, id);
	if (n == -1 || db_commit(c->db) == -1)
		goto fail;
	if (n == 0) {
		resp_error(rs, 401, "unauthorized", "The admin session ended; "
		    "log in again.");
		return -1;
	}
	return 0;
fail:
	db_rollback(c->db);
	resp_error(rs, 500, "internal", "The store failed.");
	return -1;
}

void
h_admin_page(struct ctx *c, const struct req *rq, struct resp *rs)
{
	struct tmpl_var	 vars[1];

	if (!admin_on(c, rs))
		return;
	vars[0] = (struct tmpl_var){ "prefix", rq->prefix };
	rs->status = 200;
	rs->content_type = "text/html; charset=utf-8";
	rs->text = tmpl_render_new(c->app->tmpl_admin, vars, 1);
}

/* The cookie that carries token (or, NULL, ends it) into rs. */
static void
admin_cookie(const struct req *rq, struct resp *rs, const char *token)
{
	snprintf(rs->set_cookie, sizeof(rs->set_cookie),
	    "noom_admin=%s; Path=%s/api/admin/; HttpOnly; SameSite=Strict; "
	    "Max-Age=%d%s", token != NULL ? token : "", rq->prefix,
	    token != NULL ? ADMIN_MAX_MS / 1000 : 0,
	    rq->https ? "; Secure" : "");
}

void
h_admin_login(struct ctx *c, const struct req *rq, struct resp *rs)
{
	json_t		*body;
	const char	*pw;
	char		 token[33];
	int64_t		 id;

	if (!admin_on(c, rs) || (body = body_object(rq, 0, rs)) == NULL)
		return;
	if (body_string(body, "password", 1, &pw, rs) == -1)
		goto out;
	if (db_begin(c->db) == -1)
		goto fail;
	if (client_take(c, rq, LIMIT_ADMIN, rs) == -1)
		goto rollback;
	/* The guess stays counted whatever the outcome. */
	if (!pw_verify(pw, conf_now(c->app)->admin_password)) {
		if (db_commit(c->db) == -1)
			goto fail;
		log_warn("admin: wrong password from %s", rq->client);
		resp_error(rs, 403, "wrong_password", "That password is wrong.");
		goto out;
	}
	if (token_new(token) == -1 ||
	    db_admin_create(c->db, token, rq->client ? rq->client : "",
	    rq->now_ms, &id) == -1 || db_commit(c->db) == -1)
		goto fail;
	log_info("admin: session %" PRId64 " logged in from %s", id,
	    rq->client);
	admin_cookie(rq, rs, token);
	resp_json(rs, 200, json_pack("{s:b}", "admin", 1));
	goto out;
fail:
	resp_error(rs, 500, "internal", "The store failed.");
rollback:
	db_rollback(c->db);
out:
	json_decref(body);
}

void
h_admin_logout(struct ctx *c, const struct req *rq, struct resp *rs)
{
	if (!admin_on(c, rs))
		return;
	if (rq->admin_cookie != NULL && token_valid(rq->admin_cookie)) {
		if (db_begin(c->db) == -1 ||
		    db_admin_delete(c->db, rq->admin_cookie) == -1 ||
		    db_commit(c->db) == -1) {
			db_rollback(c->db);
			resp_error(rs, 500, "internal", "The store failed.");
			return;
		}
	}
	admin_cookie(rq, rs, NULL);
	resp_json(rs, 200, json_pack("{s:b}", "admin", 0));
}

/* What the room_fn and member_fn of the admin page's rooms share. */
struct admin_room {
	struct ctx	*c;
	json_t		*rooms;		/* the answer's, being filled */
	json_t		*members;	/* the current room's, being filled */
	int		 rank;		/* its members in join order so far */
	int		 mesh_max;
	int		 sfu;		/* the current room's call is on the SFU */
	int64_t		 now;
};

/* A member_fn: append one member as the admin page shows it. */
static int
admin_member_json(void *arg, const struct member *m)
{
	struct admin_room *a = arg;

	json_array_append_new(a->members, json_pack(
	    "{s:I,s:s,s:b,s:s,s:I,s:s,s:b,s:b}",
	    "session", (json_int_t)m->session_id, "nickname", m->nickname,
	    "host", m->host, "transport", *m->transport ? m->transport : "-",
	    "connected_s", (json_int_t)((a->now - m->created_ms) / 1000),
	    "call", a->sfu ? "sfu" : a->rank < a->mesh_max ? "mesh" :
	    "chat-only",
	    "audio", m->audio, "video", m->video));
	a->rank++;
	return 0;
}

/* A room_fn: append one room, with its first members, to a->rooms. */
static int
admin_room_json(void *arg, const struct room_row *r)
{
	struct admin_room *a = arg;
	int64_t		 jid;
	int		 in_call = r->count < a->mesh_max ? (int)r->count :
			    a->mesh_max;

	/* A call on the SFU (sfu.c) has every member in it. */
	if ((jid = db_sfu_room(a->c->db, r->id)) == -1)
		return -1;
	a->sfu = jid > 0;
	if (a->sfu)
		in_call = (int)r->count;
	a->members = json_array();
	a->rank = 0;
	if (db_room_members(a->c->db, r->id, ADMIN_MEMBERS,
	    admin_member_json, a) == -1) {
		json_decref(a->members);
		return -1;
	}
	json_array_append_new(a->rooms, json_pack(
	    "{s:I,s:s,s:b,s:I,s:I,s:o,s:{s:s,s:i},s:{s:b,s:b,s:b}}",
	    "id", (json_int_t)r->id, "name", r->name, "unlisted", r->unlisted,
	    "count", (json_int_t)r->count,
	    "age_s", (json_int_t)((a->now - r->created_ms) / 1000),
	    "members", a->members,
	    "call", "mode", a->sfu ? "sfu" : "mesh", "size", in_call,
	    "settings", "locked", r->locked, "waiting_room", r->waiting_room,
	    "password", r->password));
	return 0;
}

/* GET api/admin/rooms: every open room and its members, with a cursor. */
void
h_admin_rooms(struct ctx *c, const struct req *rq, struct resp *rs)
{
	struct admin_room a = { c, NULL, NULL, 0, 0, 0, rq->now_ms };
	int64_t		 id, cursor;

	if (admin_auth(c, rq, rs, &id) == -1)
		return;
	a.mesh_max = conf_now(c->app)->mesh_max;
	a.rooms = json_array();
	if (db_begin_read(c->db) == -1 ||
	    db_rooms_all(c->db, ADMIN_ROOMS_MAX, admin_room_json, &a) == -1 ||
	    (cursor = db_log_end(c->db)) == -1) {
		db_rollback(c->db);
		json_decref(a.rooms);
		resp_error(rs, 500, "internal", "The store failed.");
		return;
	}
	db_rollback(c->db);
	resp_json(rs, 200, json_pack("{s:o,s:I,s:i}", "rooms", a.rooms,
	    "cursor", (json_int_t)cursor, "mesh_max", a.mesh_max));
}

/*
 * GET api/admin/wait?cursor=N: as a poll (poll.c), for a reader that sees
 * every event; its session id is the admin session's, negated, so that two
 * admin pages do not take each other's place among a session's polls.
 */
void
h_admin_wait(struct ctx *c, const struct req *rq, struct resp *rs)
{
	int64_t	 id, cursor;
	char	*body = NULL;
	int	 rv;

	if (admin_auth(c, rq, rs, &id) == -1)
		return;
	if (parse_cursor(rq->query, &cursor) == -1) {
		resp_error(rs, 400, "bad_cursor", "cursor must be a "
		    "non-negative integer.");
		return;
	}
	rs->reader.session_id = -id;
	rs->reader.room_id = ROOM_ALL;
	rs->reader.cursor = cursor;
	if (db_begin_read(c->db) == -1) {
		resp_error(rs, 500, "internal", "The store failed.");
		return;
	}
	rv = poll_answer(c, &rs->reader, &rs->hold, rq->now_ms, &body, NULL);
	db_rollback(c->db);
	if (rv == -1) {
		resp_error(rs, 500, "internal", "The store failed.");
		return;
	}
	poll_respond(rs, body);
}

/*
 * GET api/admin/stats: the metrics' last hour (metrics_history) and now,
 * one array per series beside the sample times; "totals" names the series that are
 * running totals, whose differences the page draws as rates.
 */
void
h_admin_stats(struct ctx *c, const struct req *rq, struct resp *rs)
{
	struct sample	 h[METRICS_HISTORY + 1];
	struct figures	 f;
	json_t		*o, *at, *arr[SR__COUNT];
	int64_t		 id;
	int		 n, i, k, ok;

	if (admin_auth(c, rq, rs, &id) == -1)
		return;
	n = metrics_history(c->app->metrics, h, METRICS_HISTORY);
	/* And now, so that the last point is what the page shows as now. */
	if (db_begin_read(c->db) == -1)
		goto fail;
	ok = db_figures(c->db, conf_now(c->app)->mesh_max, &f) == 0;
	db_rollback(c->db);
	if (!ok)
		goto fail;
	metrics_now(c->app->metrics, &f, rq->now_ms, &h[n++]);
	at = json_array();
	for (k = 0; k < SR__COUNT; k++)
		arr[k] = json_array();
	for (i = 0; i < n; i++) {
		json_array_append_new(at, json_integer(h[i].at));
		for (k = 0; k < SR__COUNT; k++)
			json_array_append_new(arr[k], json_integer(h[i].v[k]));
	}
	o = json_pack("{s:i,s:o,s:[s,s,s,s]}", "interval_s",
	    METRICS_SAMPLE_MS / 1000, "at", at, "totals", "requests", "errors",
	    "events_written", "delivered");
	for (k = 0; k < SR__COUNT; k++)
		json_object_set_new(o, metrics_series[k], arr[k]);
	resp_json(rs, 200, o);
	return;
fail:
	resp_error(rs, 500, "internal", "The store failed.");
}

/*
 * Run an admin action (act_close, act_remove): the admin session and the
 * body are checked first, then one write transaction, committed when act
 * returns 1 (0: it answered an error; -1: the store failed).
 */
static void
admin_action(struct ctx *c, const struct req *rq, struct resp *rs,
    int (*act)(struct ctx *, const struct req *, int64_t, json_t *,
    struct resp *))
{
	json_t	*body;
	int64_t	 id;

	if (admin_auth(c, rq, rs, &id) == -1 ||
	    (body = body_object(rq, 0, rs)) == NULL)
		return;
	tx_finish(c, db_begin(c->db) == -1 ? -1 : act(c, rq, id, body, rs),
	    rs);
	json_decref(body);
}

/* Close the room body's "room" (an id): 1 done, 0 answered, -1 failed. */
static int
act_close(struct ctx *c, const struct req *rq, int64_t admin, json_t *body,
    struct resp *rs)
{
	int64_t	 room;

	if (body_id(body, "room", &room, rs) == -1)
		return 0;
	if (db_room_count(c->db, room) <= 0) {
		resp_error(rs, 404, "not_found", "No such open room.");
		return 0;
	}
	if (meeting_end(c, room, "closed", rq->now_ms) == -1)
		return -1;
	log_info("admin: session %" PRId64 " (%s) closed room %" PRId64,
	    admin, rq->client, room);
	resp_json(rs, 200, json_pack("{s:I,s:b}", "room", (json_int_t)room,
	    "closed", 1));
	return 1;
}

/* Remove the member body's "session" names: 1, 0 answered, -1 failed. */
static int
act_remove(struct ctx *c, const struct req *rq, int64_t admin, json_t *body,
    struct resp *rs)
{
	struct session	 t;
	int64_t		 sid;
	int		 n;

	if (body_id(body, "session", &sid, rs) == -1)
		return 0;
	if ((n = db_session_by_id(c->db, sid, &t)) == -1)
		return -1;
	if (n == 0 || t.room_id == 0) {
		resp_error(rs, 404, "not_member", "That session is in no room.");
		return 0;
	}
	if (meeting_remove(c, &t, rq->now_ms) == -1)
		return -1;
	log_info("admin: session %" PRId64 " (%s) removed session %" PRId64
	    " from room %" PRId64, admin, rq->client, sid, t.room_id);
	resp_json(rs, 200, json_pack("{s:I}", "removed", (json_int_t)sid));
	return 1;
}

void
h_admin_close(struct ctx *c, const struct req *rq, struct resp *rs)
{
	admin_action(c, rq, rs, act_close);
}

void
h_admin_remove(struct ctx *c, const struct req *rq, struct resp *rs)
{
	admin_action(c, rq, rs, act_remove);
}
