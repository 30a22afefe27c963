/*
 * http.c — reading a request's body and shaping a response: the helpers
 * every handler shares.  Pure: plain structs in (struct req), plain structs
 * out (struct resp); worker.c turns the response into FastCGI records.
 *
 * Every error a client can cause is answered here the same way: a status
 * and a JSON body {"error": code, "message": text} (plus "field" for a bad
 * field, "limit" for a size).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "noom.h"

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

/* Answer 400 bad_field for field name, with a message. */
void
resp_bad_field(struct resp *rs, const char *name, const char *fmt, ...)
{
	char	 msg[512];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	resp_error(rs, 400, "bad_field", "%s", msg);
	json_object_set_new(rs->json, "field", json_string(name));
}

/*
 * End a handler's write transaction by its verdict: 1 commit, 0 roll back
 * (rs already holds the answer), -1 roll back and answer 500 (as does a
 * commit that fails).
 */
void
tx_finish(struct ctx *c, int verdict, struct resp *rs)
{
	if (verdict == 1 && db_commit(c->db) == 0)
		return;
	db_rollback(c->db);
	if (verdict != 0)
		resp_error(rs, 500, "internal", "The store failed.");
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
		resp_bad_field(rs, name, "Field '%s' must be a string.", name);
		return -1;
	}
	if (strlen(json_string_value(v)) != json_string_length(v)) {
		resp_bad_field(rs, name, "Field '%s' contains a control "
		    "character.", name);
		return -1;
	}
	*out = json_string_value(v);
	return 1;
}

/*
 * The boolean field name of o in *out: 1 if present, 0 if absent (*out
 * untouched), -1 after answering 400.
 */
int
body_bool(json_t *o, const char *name, int *out, struct resp *rs)
{
	json_t	*v = json_object_get(o, name);

	if (v == NULL)
		return 0;
	if (!json_is_boolean(v)) {
		resp_bad_field(rs, name, "Field '%s' must be true or false.",
		    name);
		return -1;
	}
	*out = json_is_true(v);
	return 1;
}

/* The session id field name of o in *out: 0, or -1 after answering 400. */
int
body_id(json_t *o, const char *name, int64_t *out, struct resp *rs)
{
	json_t	*v = json_object_get(o, name);

	if (!json_is_integer(v) || json_integer_value(v) <= 0) {
		resp_bad_field(rs, name, "Field '%s' must be a session id (a "
		    "positive integer).", name);
		return -1;
	}
	*out = json_integer_value(v);
	return 0;
}

/*
 * Is rq a cross-site request: an Origin that is present and not the page's
 * own (scheme://Host, Host as the browser sent it)?  "null" (a sandboxed
 * frame, a data: page) is foreign too.  Any scheme is accepted, so a proxy
 * that ends TLS in front of nginx changes nothing.
 */
int
http_cross_site(const struct req *rq)
{
	const char	*host;

	if (rq->origin == NULL)
		return 0;		/* same-origin GETs, curl, beacons */
	if ((host = strstr(rq->origin, "://")) == NULL || rq->host == NULL)
		return 1;
	return strcmp(host + 3, rq->host) != 0;
}

/* Does rq say its body is JSON (Content-Type application/json)? */
int
http_json_body(const struct req *rq)
{
	const char	*t = rq->content_type;
	size_t		 n = strlen("application/json");

	return t != NULL && strncasecmp(t, "application/json", n) == 0 &&
	    (t[n] == '\0' || t[n] == ';' || t[n] == ' ');
}

/*
 * The value of name in the query string, percent- and plus-decoded into out
 * (size n): 1 if present, 0 if absent, -1 if it is too long or decodes to
 * a NUL or a bad escape.  The first occurrence counts.
 */
int
query_param(const char *query, const char *name, char *out, size_t n)
{
	const char	*p = query;
	size_t		 len = strlen(name), o = 0;
	int		 hi, lo;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, name, len) == 0 && p[len] == '=')
			break;
		if ((p = strchr(p, '&')) != NULL)
			p++;
	}
	if (p == NULL || *p == '\0')
		return 0;
	for (p += len + 1; *p != '\0' && *p != '&'; p++) {
		if (o + 1 >= n)
			return -1;
		if (*p == '+')
			out[o++] = ' ';
		else if (*p != '%')
			out[o++] = *p;
		else if ((hi = hex_value(p[1])) == -1 || (lo = hex_value(p[2])) == -1 ||
		    (hi == 0 && lo == 0))
			return -1;
		else {
			out[o++] = (char)(hi << 4 | lo);
			p += 2;
		}
	}
	out[o] = '\0';
	return 1;
}

/*
 * The integer query parameter name in [min, max] into *v (dflt when
 * absent): 0, or -1 after answering 400.
 */
int
query_int(const struct req *rq, const char *name, int dflt, int min, int max,
    int *v, struct resp *rs)
{
	char	 buf[16], *end;
	long	 n;
	int	 got;

	*v = dflt;
	if ((got = query_param(rq->query, name, buf, sizeof(buf))) == 0)
		return 0;
	n = got == 1 ? strtol(buf, &end, 10) : 0;
	if (got == -1 || buf[0] == '\0' || *end != '\0' || n < min || n > max) {
		resp_error(rs, 400, "bad_query", "%s must be a whole number from "
		    "%d to %d.", name, min, max);
		json_object_set_new(rs->json, "field", json_string(name));
		return -1;
	}
	*v = (int)n;
	return 0;
}
