/*
 * route.c — from method and path to a handler.  Routing is a table walk
 * over plain strings, so the unit tests cover it without FastCGI.  The
 * helpers the handlers share to read a request and shape an answer are
 * http.c's: handlers never call back into this file.
 *
 * Paths here are below the deployment prefix: "/api/poll", not
 * "/noom/api/poll".  An API path with a method it does not take answers 405
 * with an Allow header; an unknown path answers 404.
 */
#include <string.h>

#include "noom.h"

struct route_entry {
	const char	*method;
	const char	*path;		/* a trailing '*' matches any rest */
	enum route	 route;
	const char	*allow;
};

static const struct route_entry routes[] = {
	{ "POST", "/api/session",	R_SESSION_CREATE, "GET, POST" },
	{ "GET",  "/api/session",	R_SESSION_GET,	  "GET, POST" },
	{ "POST", "/api/nickname",	R_NICKNAME,	  "POST" },
	{ "GET",  "/api/rooms",		R_ROOMS,	  "GET" },
	{ "GET",  "/api/room",		R_ROOM,		  "GET" },
	{ "POST", "/api/join",		R_JOIN,		  "POST" },
	{ "POST", "/api/leave",		R_LEAVE,	  "POST" },
	{ "POST", "/api/messages",	R_MESSAGES,	  "POST" },
	{ "GET",  "/api/poll",		R_POLL,		  "GET" },
	{ "GET",  "/api/call",		R_CALL,		  "GET" },
	{ "POST", "/api/signal",	R_SIGNAL,	  "POST" },
	{ "POST", "/api/media",		R_MEDIA,	  "POST" },
	{ "POST", "/api/hand",		R_HAND,		  "POST" },
	{ "POST", "/api/reaction",	R_REACTION,	  "POST" },
	{ "POST", "/api/room/settings",	R_ROOM_SETTINGS,  "POST" },
	{ "POST", "/api/room/host",	R_ROOM_HOST,	  "POST" },
	{ "POST", "/api/room/remove",	R_ROOM_REMOVE,	  "POST" },
	{ "POST", "/api/room/mute",	R_ROOM_MUTE,	  "POST" },
	{ "POST", "/api/room/admit",	R_ROOM_ADMIT,	  "POST" },
	{ "POST", "/api/room/deny",	R_ROOM_DENY,	  "POST" },
	{ "POST", "/api/room/end",	R_ROOM_END,	  "POST" },
	{ "GET",  "/",			R_PAGE_HOME,	  "GET, HEAD" },
	{ "HEAD", "/",			R_PAGE_HOME,	  "GET, HEAD" },
	{ "GET",  "/room/*",		R_PAGE_ROOM,	  "GET, HEAD" },
	{ "HEAD", "/room/*",		R_PAGE_ROOM,	  "GET, HEAD" },
	{ "GET",  "/admin",		R_PAGE_ADMIN,	  "GET" },
	{ "POST", "/api/admin/login",	R_ADMIN_LOGIN,	  "POST" },
	{ "POST", "/api/admin/logout",	R_ADMIN_LOGOUT,	  "POST" },
	{ "GET",  "/api/admin/rooms",	R_ADMIN_ROOMS,	  "GET" },
	{ "GET",  "/api/admin/wait",	R_ADMIN_WAIT,	  "GET" },
	{ "GET",  "/api/admin/stats",	R_ADMIN_STATS,	  "GET" },
	{ "POST", "/api/admin/close",	R_ADMIN_CLOSE,	  "POST" },
	{ "POST", "/api/admin/remove",	R_ADMIN_REMOVE,	  "POST" },
	{ "GET",  "/healthz",		R_HEALTHZ,	  "GET, HEAD" },
	{ "HEAD", "/healthz",		R_HEALTHZ,	  "GET, HEAD" },
	{ "GET",  "/readyz",		R_READYZ,	  "GET, HEAD" },
	{ "HEAD", "/readyz",		R_READYZ,	  "GET, HEAD" },
	{ "GET",  "/metrics",		R_METRICS,	  "GET" },
	{ "GET",  "/api/turn-rest",	R_TURN_REST,	  "GET, POST" },
	{ "POST", "/api/turn-rest",	R_TURN_REST,	  "GET, POST" },
};

static int
path_match(const char *pattern, const char *path)
{
	size_t	 n = strlen(pattern);

	if (n > 0 && pattern[n - 1] == '*')
		return strncmp(pattern, path, n - 1) == 0 && path[n - 1] != '\0';
	return strcmp(pattern, path) == 0;
}

/*
 * What a log line calls route r: its pattern in the table ("/room/" and a
 * star for every room's page), never a request's own path.
 */
const char *
route_pattern(enum route r)
{
	size_t	 i;

	if (r == R_NOT_FOUND)
		return "(not found)";
	if (r == R_METHOD)
		return "(method not allowed)";
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (routes[i].route == r)
			return routes[i].path;
	return "(unknown)";
}

/*
 * The route for method and path.  R_METHOD when the path exists with other
 * methods, which *allow then lists.
 */
enum route
route_find(const char *method, const char *path, const char **allow)
{
	size_t	 i;
	int	 path_known = 0;

	*allow = NULL;
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (!path_match(routes[i].path, path))
			continue;
		if (strcmp(routes[i].method, method) == 0)
			return routes[i].route;
		path_known = 1;
		*allow = routes[i].allow;
	}
	return path_known ? R_METHOD : R_NOT_FOUND;
}

/* Route rq and run its handler. */
void
api_dispatch(struct ctx *c, const struct req *rq, struct resp *rs)
{
	enum route	 r;
	const char	*allow;

	if (rq->body_len > NOOM_BODY_MAX) {
		resp_error(rs, 413, "too_large", "The body is larger than %d "
		    "bytes.", NOOM_BODY_MAX);
		json_object_set_new(rs->json, "limit",
		    json_integer(NOOM_BODY_MAX));
		return;
	}
	r = rs->route = route_find(rq->method, rq->path, &allow);
	/*
	 * Every call that changes state is a POST.  A page on another site can
	 * make a browser send one (a form, a beacon) with the user's cookies
	 * but never with our bearer token, and still create sessions or leave
	 * rooms: refuse them by their Origin, and a new session unless its body
	 * is declared JSON (a cross-site form cannot, without a preflight).
	 */
	if (strcmp(rq->method, "POST") == 0 && http_cross_site(rq)) {
		resp_error(rs, 403, "cross_origin", "Requests from another site "
		    "are refused.");
		return;
	}
	if (r == R_SESSION_CREATE && !http_json_body(rq)) {
		resp_error(rs, 415, "unsupported_media_type", "The body must be "
		    "JSON (Content-Type: application/json).");
		return;
	}
	switch (r) {
	case R_NOT_FOUND:
	case R__COUNT:		/* not a route */
		resp_error(rs, 404, "not_found", "No such resource.");
		break;
	case R_METHOD:
		resp_error(rs, 405, "method_not_allowed",
		    "Method %s is not allowed here.", rq->method);
		rs->allow = allow;
		break;
	case R_SESSION_CREATE: h_session_create(c, rq, rs); break;
	case R_SESSION_GET: h_session_get(c, rq, rs); break;
	case R_NICKNAME: h_nickname(c, rq, rs); break;
	case R_ROOMS: h_rooms(c, rq, rs); break;
	case R_ROOM: h_room(c, rq, rs); break;
	case R_JOIN: h_join(c, rq, rs); break;
	case R_LEAVE: h_leave(c, rq, rs); break;
	case R_MESSAGES: h_messages(c, rq, rs); break;
	case R_POLL: h_poll(c, rq, rs); break;
	case R_CALL: h_call(c, rq, rs); break;
	case R_SIGNAL: h_signal(c, rq, rs); break;
	case R_MEDIA: h_media(c, rq, rs); break;
	case R_HAND: h_hand(c, rq, rs); break;
	case R_REACTION: h_reaction(c, rq, rs); break;
	case R_ROOM_SETTINGS: h_room_settings(c, rq, rs); break;
	case R_ROOM_HOST: h_room_host(c, rq, rs); break;
	case R_ROOM_REMOVE: h_room_remove(c, rq, rs); break;
	case R_ROOM_MUTE: h_room_mute(c, rq, rs); break;
	case R_ROOM_ADMIT: h_room_admit(c, rq, rs); break;
	case R_ROOM_DENY: h_room_deny(c, rq, rs); break;
	case R_ROOM_END: h_room_end(c, rq, rs); break;
	case R_PAGE_HOME:
	case R_PAGE_ROOM:
		h_page(c, rq, rs, r);
		break;
	case R_PAGE_ADMIN: h_admin_page(c, rq, rs); break;
	case R_ADMIN_LOGIN: h_admin_login(c, rq, rs); break;
	case R_ADMIN_LOGOUT: h_admin_logout(c, rq, rs); break;
	case R_ADMIN_ROOMS: h_admin_rooms(c, rq, rs); break;
	case R_ADMIN_WAIT: h_admin_wait(c, rq, rs); break;
	case R_ADMIN_STATS: h_admin_stats(c, rq, rs); break;
	case R_ADMIN_CLOSE: h_admin_close(c, rq, rs); break;
	case R_ADMIN_REMOVE: h_admin_remove(c, rq, rs); break;
	case R_HEALTHZ: h_healthz(c, rq, rs); break;
	case R_READYZ: h_readyz(c, rq, rs); break;
	case R_METRICS: h_metrics(c, rq, rs); break;
	case R_TURN_REST: h_turn_rest(c, rq, rs); break;
	}
}
