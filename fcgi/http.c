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
