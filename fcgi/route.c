/*
 * route.c — from method and path to a handler, and the response helpers all
 * handlers share.  Routing is a table walk over plain strings, so the unit
 * tests cover it without FastCGI.
 *
 * Paths here are below the deployment prefix: "/api/poll", not
 * "/noom/api/poll".  An API path with a method it does not take answers 405
 * with an Allow header; an unknown path answers 404.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
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
	{ "GET",  "/",			R_PAGE_HOME,	  "GET, HEAD" },
	{ "HEAD", "/",			R_PAGE_HOME,	  "GET, HEAD" },
	{ "GET",  "/room/*",		R_PAGE_ROOM,	  "GET, HEAD" },
	{ "HEAD", "/room/*",		R_PAGE_ROOM,	  "GET, HEAD" },
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

/* Answer status with body (stolen). */
void
resp_json(struct resp *rs, int status, json_t *body)
{
	json_decref(rs->json);
	rs->status = status;
	rs->json = body;
}

/* Answer status with {"error": code, "message": ...}. */
void
resp_error(struct resp *rs, int status, const char *code, const char *fmt, ...)
{
	char	 msg[512];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	resp_json(rs, status, json_pack("{s:s,s:s}", "error", code,
	    "message", msg));
}

/* Free what rs owns and make it empty. */
void
resp_clear(struct resp *rs)
{
	json_decref(rs->json);
	free(rs->text);
	memset(rs, 0, sizeof(*rs));
}

/*
 * The request body as a JSON object (new reference).  An empty body is an
 * empty object where the body is optional.  NULL after answering 400 when it
 * is not a JSON object.  \u0000 is let through the parser so that
 * body_string() can answer it as the bad field it is.
 */
json_t *
body_object(const struct req *rq, int optional, struct resp *rs)
{
	json_error_t	 err;
	json_t		*o;

	if (rq->body == NULL || rq->body_len == 0) {
		if (optional)
			return json_object();
		resp_error(rs, 400, "bad_json", "A JSON object body is needed.");
		return NULL;
	}
	o = json_loadb(rq->body, rq->body_len,
	    JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
	if (o == NULL) {
		resp_error(rs, 400, "bad_json", "The body is not valid JSON: "
		    "%s (at byte %d).", err.text, err.position);
		return NULL;
	}
	if (!json_is_object(o)) {
		json_decref(o);
		resp_error(rs, 400, "bad_json", "The body must be a JSON object.");
		return NULL;
	}
	return o;
}

/*
 * The string field name of o in *out (borrowed from o): 1 if present, 0 if
 * absent and not required, -1 after answering 400.
 */
int
body_string(json_t *o, const char *name, int required, const char **out,
    struct resp *rs)
{
	json_t	*v = json_object_get(o, name);

	if (v == NULL && !required)
		return 0;
	if (!json_is_string(v)) {
		resp_error(rs, 400, "bad_field", "Field '%s' must be a string.",
		    name);
		json_object_set_new(rs->json, "field", json_string(name));
		return -1;
	}
	if (strlen(json_string_value(v)) != json_string_length(v)) {
		resp_error(rs, 400, "bad_field", "Field '%s' contains a control "
		    "character.", name);
		json_object_set_new(rs->json, "field", json_string(name));
		return -1;
	}
	*out = json_string_value(v);
	return 1;
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
	switch ((r = route_find(rq->method, rq->path, &allow))) {
	case R_NOT_FOUND:
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
	case R_PAGE_HOME:
	case R_PAGE_ROOM:
		h_page(c, rq, rs, r);
		break;
	}
}
