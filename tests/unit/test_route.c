/* Unit tests of route.c: routing, 404 / 405, body parsing helpers. */
#include <stdlib.h>

#include "../../fcgi/noom.h"
#include "unit.h"

struct route_case {
	const char	*method, *path;
	enum route	 want;
};

static const struct route_case cases[] = {
	{ "POST", "/api/session", R_SESSION_CREATE },
	{ "GET", "/api/session", R_SESSION_GET },
	{ "GET", "/api/poll", R_POLL },
	{ "POST", "/api/poll", R_METHOD },
	{ "DELETE", "/api/messages", R_METHOD },
	{ "POST", "/api/messages", R_MESSAGES },
	{ "GET", "/api/nope", R_NOT_FOUND },
	{ "GET", "/", R_PAGE_HOME },
	{ "HEAD", "/", R_PAGE_HOME },
	{ "GET", "/room/lobby", R_PAGE_ROOM },
	{ "GET", "/room/", R_NOT_FOUND },
	{ "GET", "/api/pollx", R_NOT_FOUND },
	{ "GET", "/api/turn-rest", R_TURN_REST },
	{ "POST", "/api/turn-rest", R_TURN_REST },
	{ "PUT", "/api/turn-rest", R_METHOD },
};

static void
test_routes(void)
{
	const char	*allow;
	size_t		 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum route r = route_find(cases[i].method, cases[i].path,
		    &allow);

		if (r != cases[i].want)
			printf("case %s %s\n", cases[i].method, cases[i].path);
		CHECK(r == cases[i].want);
	}
	CHECK(route_find("PUT", "/api/join", &allow) == R_METHOD);
	CHECK_STR(allow, "POST");
}

static struct req
body_req(const char *body)
{
	struct req	 rq;

	memset(&rq, 0, sizeof(rq));
	rq.body = body;
	rq.body_len = body ? strlen(body) : 0;
	return rq;
}

static void
test_body(void)
{
	struct resp	 rs;
	struct req	 rq;
	json_t		*o;
	const char	*s;

	memset(&rs, 0, sizeof(rs));
	rq = body_req("{\"nickname\":\"Ann\"}");
	o = body_object(&rq, 0, &rs);
	CHECK(o != NULL);
	CHECK(body_string(o, "nickname", 1, &s, &rs) == 1);
	CHECK_STR(s, "Ann");
	CHECK(body_string(o, "room", 0, &s, &rs) == 0);
	CHECK(body_string(o, "room", 1, &s, &rs) == -1 && rs.status == 400);
	json_decref(o);
	resp_clear(&rs);

	rq = body_req("{\"nickname\":5}");
	o = body_object(&rq, 0, &rs);
	CHECK(body_string(o, "nickname", 1, &s, &rs) == -1);
	CHECK_STR(json_string_value(json_object_get(rs.json, "field")),
	    "nickname");
	json_decref(o);
	resp_clear(&rs);

	rq = body_req("{not json");
	CHECK(body_object(&rq, 0, &rs) == NULL && rs.status == 400);
	CHECK_STR(json_string_value(json_object_get(rs.json, "error")),
	    "bad_json");
	resp_clear(&rs);

	rq = body_req("[1,2]");
	CHECK(body_object(&rq, 0, &rs) == NULL && rs.status == 400);
	resp_clear(&rs);

	rq = body_req("{\"a\":1,\"a\":2}");
	CHECK(body_object(&rq, 0, &rs) == NULL && rs.status == 400);
	resp_clear(&rs);

	rq = body_req("\"\xff\"");
	CHECK(body_object(&rq, 0, &rs) == NULL && rs.status == 400);
	resp_clear(&rs);

	/* An empty body: an empty object where optional, 400 where not. */
	rq = body_req(NULL);
	o = body_object(&rq, 1, &rs);
	CHECK(json_is_object(o) && json_object_size(o) == 0);
	json_decref(o);
	CHECK(body_object(&rq, 0, &rs) == NULL && rs.status == 400);
	resp_clear(&rs);

	/* \u0000 is valid JSON but never a valid field value. */
	rq = body_req("{\"text\":\"a\\u0000b\"}");
	o = body_object(&rq, 0, &rs);
	CHECK(o != NULL);
	CHECK(body_string(o, "text", 1, &s, &rs) == -1 && rs.status == 400);
	json_decref(o);
	resp_clear(&rs);
}

static void
test_dispatch_limits(void)
{
	struct resp	 rs;
	struct req	 rq;

	memset(&rs, 0, sizeof(rs));
	memset(&rq, 0, sizeof(rq));
	rq.method = "POST";
	rq.path = "/api/messages";
	rq.query = "";
	rq.body_len = NOOM_BODY_MAX + 1;
	api_dispatch(NULL, &rq, &rs);
	CHECK(rs.status == 413);
	resp_clear(&rs);

	rq.body_len = 0;
	rq.method = "GET";
	rq.path = "/nowhere";
	api_dispatch(NULL, &rq, &rs);
	CHECK(rs.status == 404);
	resp_clear(&rs);

	rq.method = "PATCH";
	rq.path = "/api/rooms";
	api_dispatch(NULL, &rq, &rs);
	CHECK(rs.status == 405 && rs.allow != NULL);
	resp_clear(&rs);
}

int
main(void)
{
	test_routes();
	test_body();
	test_dispatch_limits();
	return unit_done("test_route");
}
