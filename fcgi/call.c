/*
 * call.c — what a video call needs from the server: its configuration,
 * WebRTC signaling between two members, and members' media state.  The
 * media itself flows peer to peer (or through TURN), never through Noom.
 *
 *   GET  /api/call                      -> {iceServers, iceTransportPolicy,
 *                                           ttl, mesh_max, in_call, mode,
 *                                           sfu_available[, sfu]}
 *
 * The join answer carries the same object as "call" (rooms.c), so that a
 * newcomer's offer can leave as soon as it is in the room.
 *
 * mode is "mesh" or "sfu": a call past mesh_max moves onto Janus when it is
 * configured (sfu.c), and then every member is in it and gets sfu, what
 * its page needs to publish and subscribe there.
 *
 * TURN credentials (coturn's REST scheme, turn.c) go only to members of the
 * call, valid turn_ttl seconds (10 minutes by default); the page renews
 * them, and its relays, before they expire (static/js/call.js).
 *   GET|POST /api/turn-rest?service=turn&key=K -> {username, password,
 *                                           ttl, uris}
 * gives Janus the same kind of credential, for its side of an SFU call
 * (h_turn_rest below).
 *   POST /api/signal {to, kind, data}   -> 202 {seq}; "signal" event to `to`
 *   POST /api/signal {signals: [{to, kind, data}, ...]}
 *                                       -> 202 {seq}; the same for each, in
 *                                          order, all or none
 *   POST /api/media  {audio,video,screen} -> 200 state; "media" event to the room
 *
 * Who may signal whom: both sessions are in the same room and both are among
 * its first mesh_max members by join order (the call; later members are
 * chat-only).  Anything else is 403 with the same answer whether or not the
 * target exists, so signaling cannot probe for sessions.  A signal's data is
 * bounded (NOOM_SIGNAL_MAX) and signals draw from their own rate bucket.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "noom.h"

static const char *const signal_kinds[] = {
	"offer", "answer", "candidate", "hangup", NULL
};

/*
 * A TURN credential for who, valid cf->turn_ttl seconds from now_s: the
 * username "<expiry>:<who>" and its password (turn.c), 64 bytes each.  0,
 * or -1.  Everyone who gets TURN from Noom gets it here.
 */
static int
turn_issue(const struct conf *cf, const char *who, int64_t now_s,
    char user[64], char cred[64])
{
	int	 n;

	n = snprintf(user, 64, "%" PRId64 ":%s", now_s + cf->turn_ttl, who);
	if (n < 0 || n >= 64 ||
	    turn_credential(cf->turn_secret, user, cred, 64) == -1) {
		log_warn("cannot make a TURN credential");
		return -1;
	}
	return 0;
}

/* The TURN URLs as a new JSON array. */
static json_t *
turn_urls_new(const struct conf *cf)
{
	json_t	*urls = json_array();
	int	 i;

	for (i = 0; cf->turn[i] != NULL; i++)
		json_array_append_new(urls, json_string(cf->turn[i]));
	return urls;
}

/*
 * The ICE server list for session sid as a new JSON array: the STUN
 * servers, and the TURN servers with a credential valid cf->turn_ttl
 * seconds only for a member of the call (relay: 1).  A chat-only member
 * gets no TURN credential: the relay is for the call, not a free relay for
 * whoever joins a room.  A credential made is counted in m.
 */
static json_t *
ice_servers_new(const struct conf *cf, struct metrics *m, int64_t sid,
    int64_t now_s, int relay)
{
	json_t	*list = json_array(), *urls;
	char	 who[24], user[64], cred[64];
	int	 i;

	if (cf->stun[0] != NULL) {
		urls = json_array();
		for (i = 0; cf->stun[i] != NULL; i++)
			json_array_append_new(urls, json_string(cf->stun[i]));
		json_array_append_new(list, json_pack("{s:o}", "urls", urls));
	}
	if (relay && cf->turn[0] != NULL && cf->turn_secret != NULL) {
		snprintf(who, sizeof(who), "%" PRId64, sid);
		if (turn_issue(cf, who, now_s, user, cred) == -1)
			return list;
		json_array_append_new(list, json_pack("{s:o,s:s,s:s}", "urls",
		    turn_urls_new(cf), "username", user, "credential", cred));
		metrics_add(m, M_TURN_CREDENTIALS, 1);
	}
	return list;
}

/*
 * The call configuration of session s, which is in a room, as a new JSON
 * object (GET /api/call's answer, and the join answer's "call"); NULL on a
 * store error.
 */
json_t *
call_config_new(struct ctx *c, const struct session *s, int64_t now_ms)
{
	const struct conf *cf = conf_now(c->app);
	json_t		*sfu, *config;
	int		 rank, in_call, failed;

	if ((rank = db_member_rank(c->db, s->id)) == -1)
		return NULL;
	/* On the SFU every member is in the call (sfu.c). */
	sfu = sfu_call_new(c, s, now_ms, &failed);
	if (failed)
		return NULL;
	in_call = sfu != NULL || rank < cf->mesh_max;
	config = json_pack("{s:o,s:s,s:i,s:i,s:b,s:s,s:b}",
	    "iceServers", ice_servers_new(cf, c->app->metrics, s->id,
	    now_ms / 1000, in_call),
	    "iceTransportPolicy", cf->ice_relay ? "relay" : "all",
	    "ttl", cf->turn_ttl, "mesh_max", cf->mesh_max,
	    "in_call", in_call, "mode", sfu != NULL ? "sfu" : "mesh",
	    "sfu_available", sfu_on(cf));
	if (sfu != NULL)
		json_object_set_new(config, "sfu", sfu);
	return config;
}

void
h_call(struct ctx *c, const struct req *rq, struct resp *rs)
{
	struct session	 s;
	json_t		*config;

	if (auth_session(c, rq, rs, &s) == -1)
		return;
	if (session_in_room(&s, rs) == -1)
		return;
	if ((config = call_config_new(c, &s, rq->now_ms)) == NULL) {
		resp_error(rs, 500, "internal", "The store failed.");
		return;
	}
	resp_json(rs, 200, config);
}

/* Check the fields of a signal; 0, or -1 after answering 400 / 413. */
static int
signal_check(json_t *body, int64_t *to, const char **kind, json_t **data,
    struct resp *rs)
{
	json_t	*v;
	char	*text;
	size_t	 len, i;

	v = json_object_get(body, "to");
	if (!json_is_integer(v) || json_integer_value(v) <= 0) {
		resp_error(rs, 400, "bad_field", "Field 'to' must be a session id.");
		json_object_set_new(rs->json, "field", json_string("to"));
		return -1;
	}
	*to = json_integer_value(v);
	if (body_string(body, "kind", 1, kind, rs) == -1)
		return -1;
	for (i = 0; signal_kinds[i] != NULL; i++)
		if (strcmp(*kind, signal_kinds[i]) == 0)
			break;
	if (signal_kinds[i] == NULL) {
		resp_error(rs, 400, "bad_field", "Field 'kind' must be offer, "
		    "answer, candidate or hangup.");
		json_object_set_new(rs->json, "field", json_string("kind"));
		return -1;
	}
	/* A hangup needs no data; json_null() is a shared singleton. */
	if ((*data = json_object_get(body, "data")) == NULL)
		*data = json_null();
	if (!json_is_object(*data) && !json_is_null(*data)) {
		resp_error(rs, 400, "bad_field", "Field 'data' must be an object.");
		json_object_set_new(rs->json, "field", json_string("data"));
		return -1;
	}
	text = json_dumps(*data, JSON_COMPACT | JSON_ENCODE_ANY);
	len = text ? strlen(text) : 0;
	free(text);
	if (len > NOOM_SIGNAL_MAX) {
		resp_error(rs, 413, "too_large", "Signal data is larger than %d "
		    "bytes.", NOOM_SIGNAL_MAX);
		json_object_set_new(rs->json, "limit",
		    json_integer(NOOM_SIGNAL_MAX));
		return -1;
	}
	return 0;
}

/* Are s and target in one call?  1 yes, 0 no, -1 store error. */
static int
same_call(struct ctx *c, const struct session *s, const struct session *t)
{
	int	 rs, rt, max;

	if (t->room_id != s->room_id)
		return 0;
	if ((rs = db_member_rank(c->db, s->id)) == -1 ||
	    (rt = db_member_rank(c->db, t->id)) == -1)
		return -1;
	max = conf_now(c->app)->mesh_max;
	return rs < max && rt < max;
}

/*
 * The signals of a request as an array: body.signals (a batch, 1 to
 * NOOM_SIGNAL_BATCH objects), or the body itself as the only one.  A new
 * reference, or NULL after answering 400.
 */
static json_t *
signal_list(json_t *body, struct resp *rs)
{
	json_t	*list = json_object_get(body, "signals");
	size_t	 n;

	if (list == NULL)
		return json_pack("[O]", body);
	n = json_is_array(list) ? json_array_size(list) : 0;
	if (n == 0 || n > NOOM_SIGNAL_BATCH) {
		resp_bad_field(rs, "signals", "Field 'signals' must be a list "
		    "of 1 to %d signals.", NOOM_SIGNAL_BATCH);
		return NULL;
	}
	return json_incref(list);
}

/*
 * Check every signal of list (fields, then whether its target shares a
 * call with s) and publish each to its target; the caller's transaction
 * makes it all or nothing.  0, or -1 after answering (400, 403, 413, 500).
 * A refusal of a batch names the signal by its "index".
 */
static int
signal_publish(struct ctx *c, const struct req *rq, const struct session *s,
    json_t *list, int batch, int64_t *seq, struct resp *rs)
{
	struct session	 t;
	json_t		*item, *data, *ev;
	const char	*kind;
	int64_t		 to;
	size_t		 i;
	int		 found, ok = 1;

	json_array_foreach(list, i, item) {
		if (!json_is_object(item)) {
			resp_bad_field(rs, "signals", "Each signal must be an "
			    "object.");
			goto refused;
		}
		if (signal_check(item, &to, &kind, &data, rs) == -1)
			goto refused;
		if ((found = db_session_by_id(c->db, to, &t)) == -1)
			goto fail;
		if (!found || to == s->id || (ok = same_call(c, s, &t)) == 0) {
			resp_error(rs, 403, "forbidden", "That session is not "
			    "in a call with you.");
			goto refused;
		}
		if (ok == -1)
			goto fail;
		ev = json_pack("{s:I,s:s,s:s,s:O}", "from", (json_int_t)s->id,
		    "nickname", s->nickname, "kind", kind, "data", data);
		*seq = publish(c, 0, to, "signal", ev, rq->now_ms);
		json_decref(ev);
		if (*seq == -1)
			goto fail;
	}
	return 0;
fail:
	resp_error(rs, 500, "internal", "The store failed.");
	return -1;
refused:
	if (batch)
		json_object_set_new(rs->json, "index", json_integer(i));
	return -1;
}

void
h_signal(struct ctx *c, const struct req *rq, struct resp *rs)
{
	struct session	 s;
	json_t		*body, *list;
	int64_t		 seq = 0;
	int		 batch;

	if ((body = body_object(rq, 0, rs)) == NULL)
		return;
	batch = json_object_get(body, "signals") != NULL;
	if ((list = signal_list(body, rs)) == NULL)
		goto out;
	if (db_begin(c->db) == -1) {
		resp_error(rs, 500, "internal", "The store failed.");
		goto out;
	}
	if (auth_session(c, rq, rs, &s) == -1 ||
	    rate_take_signal(c, &s, rq->now_ms, (int)json_array_size(list),
	    rs) == -1 ||
	    session_in_room(&s, rs) == -1 ||
	    signal_publish(c, rq, &s, list, batch, &seq, rs) == -1)
		goto rollback;
	if (db_commit(c->db) == -1) {
		resp_error(rs, 500, "internal", "The store failed.");
		goto rollback;
	}
	resp_json(rs, 202, json_pack("{s:I}", "seq", (json_int_t)seq));
	goto out;
rollback:
	db_rollback(c->db);
out:
	json_decref(list);
	json_decref(body);
}

void
h_media(struct ctx *c, const struct req *rq, struct resp *rs)
{
	struct session	 s;
	json_t		*body, *state = NULL;
	int		 audio, video, screen;

	if ((body = body_object(rq, 0, rs)) == NULL)
		return;
	if (db_begin(c->db) == -1)
		goto fail;
	if (auth_session(c, rq, rs, &s) == -1 ||
	    rate_take(c, &s, rq->now_ms, rs) == -1)
		goto rollback;
	audio = s.audio;
	video = s.video;
	screen = s.screen;
	if (body_bool(body, "audio", &audio, rs) == -1 ||
	    body_bool(body, "video", &video, rs) == -1 ||
	    body_bool(body, "screen", &screen, rs) == -1)
		goto rollback;
	if (db_session_media(c->db, s.id, audio, video, screen) == -1)
		goto fail;
	state = json_pack("{s:I,s:b,s:b,s:b}", "session", (json_int_t)s.id,
	    "audio", audio, "video", video, "screen", screen);
	if (s.room_id != 0) {
		if (publish(c, s.room_id, 0, "media", state,
		    rq->now_ms) == -1)
			goto fail;
	}
	if (db_commit(c->db) == -1)
		goto fail;
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
}

/*
 * A parameter of a TURN REST request: from the query string, or from the
 * form body of a POST (Janus sends both; other clients may send either).
 * 1, 0 if absent, -1 if malformed or too long (query_param).
 */
static int
rest_param(const struct req *rq, const char *name, char *out, size_t n)
{
	int	 got = query_param(rq->query, name, out, n);

	if (got == 0 && strcmp(rq->method, "POST") == 0 && rq->body != NULL)
		got = query_param(rq->body, name, out, n);
	return got;
}

/*
 * GET or POST /api/turn-rest: a TURN credential for Janus, which asks for
 * one (its turn_rest_api, draft-uberti-rtcweb-turn-rest-00) before it sets
 * up each PeerConnection, so that its side of an SFU call relays through
 * the same TURN servers as the browsers.  nginx lets only loopback ask
 * (conf/noom-nginx.conf.in), and the key must be turn_rest_key, which only
 * noom-run (or the operator) and Janus know.  The username Janus sends (a
 * handle's opaque id, which a browser picks) is ignored: the credential is
 * always "<expiry>:janus", so coturn's logs tell Janus's relays apart.
 * Errors: 404 without a turn_rest_key, 403 for a wrong or missing key,
 * 400 unless service=turn, 503 when no TURN server is configured.
 */
void
h_turn_rest(struct ctx *c, const struct req *rq, struct resp *rs)
{
	const struct conf *cf = conf_now(c->app);
	char		 key[160], service[8], user[64], cred[64];

	if (cf->turn_rest_key == NULL) {
		resp_error(rs, 404, "not_found", "No such resource.");
		return;
	}
	if (rest_param(rq, "key", key, sizeof(key)) != 1 ||
	    !secret_equal(key, cf->turn_rest_key)) {
		resp_error(rs, 403, "forbidden", "Wrong or missing key.");
		return;
	}
	if (rest_param(rq, "service", service, sizeof(service)) != 1 ||
	    strcmp(service, "turn") != 0) {
		resp_error(rs, 400, "bad_query", "service must be turn.");
		json_object_set_new(rs->json, "field", json_string("service"));
		return;
	}
	if (cf->turn[0] == NULL || cf->turn_secret == NULL) {
		resp_error(rs, 503, "unavailable", "No TURN server is "
		    "configured.");
		return;
	}
	if (turn_issue(cf, "janus", rq->now_ms / 1000, user, cred) == -1) {
		resp_error(rs, 500, "internal", "Cannot make a TURN credential.");
		return;
	}
	resp_json(rs, 200, json_pack("{s:s,s:s,s:i,s:o}", "username", user,
	    "password", cred, "ttl", cf->turn_ttl, "uris", turn_urls_new(cf)));
	metrics_add(c->app->metrics, M_TURN_CREDENTIALS_JANUS, 1);
}
