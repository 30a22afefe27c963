/*
 * Unit tests of the store and the handlers above it, on a real SQLite file
 * in a temporary folder but without FastCGI or nginx: sessions, rooms and
 * their events, idempotent messages, visibility of events, rate limiting,
 * presence expiry and trimming with resync; tokens stored only hashed,
 * upgrades of older databases, the log of failures in a loop, the
 * metrics' call figures, the admin cookie (Secure over HTTPS) and who
 * starts the WAL over after a checkpoint.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <sqlite3.h>

#include "../../fcgi/noom.h"
#include "unit.h"

static struct app	 app;
static struct ctx	 c;
static int64_t		 clock_ms = 1700000000000LL;

/* Run a handler on a request with body and token; the response is kept. */
static json_t *
call(void (*h)(struct ctx *, const struct req *, struct resp *),
    const char *token, const char *body, const char *query, int *status)
{
	struct req	 rq;
	struct resp	 rs;
	char		 auth[64];
	json_t		*out;

	memset(&rq, 0, sizeof(rq));
	memset(&rs, 0, sizeof(rs));
	snprintf(auth, sizeof(auth), "Bearer %s", token ? token : "");
	rq.method = "POST";
	rq.path = "/";
	rq.query = query ? query : "";
	rq.auth = token ? auth : NULL;
	rq.prefix = "";
	rq.body = body;
	rq.body_len = body ? strlen(body) : 0;
	rq.now_ms = clock_ms;
	h(&c, &rq, &rs);
	*status = rs.wait ? 0 : rs.status;
	if (rs.text != NULL)
		out = json_loads(rs.text, 0, NULL);
	else
		out = json_incref(rs.json);
	resp_clear(&rs);
	return out;
}

struct user {
	char	 token[33];
	int64_t	 id;
	int64_t	 cursor;
};

static void
new_user(struct user *u, const char *nick)
{
	char	 body[128];
	json_t	*o;
	int	 st;

	snprintf(body, sizeof(body), "{\"nickname\":\"%s\"}", nick);
	o = call(h_session_create, NULL, body, NULL, &st);
	CHECK(st == 201);
	snprintf(u->token, sizeof(u->token), "%s",
	    json_string_value(json_object_get(o, "token")));
	u->id = json_integer_value(json_object_get(o, "session"));
	u->cursor = json_integer_value(json_object_get(o, "cursor"));
	json_decref(o);
}

/* Poll without waiting: the events (new ref) or NULL if it would park. */
static json_t *
poll_now(struct user *u, int advance)
{
	char	 q[64];
	json_t	*o, *evs;
	int	 st;

	snprintf(q, sizeof(q), "cursor=%lld", (long long)u->cursor);
	o = call(h_poll, u->token, NULL, q, &st);
	if (st == 0)
		return NULL;
	CHECK(st == 200);
	evs = json_incref(json_object_get(o, "events"));
	if (advance)
		u->cursor = json_integer_value(json_object_get(o, "cursor"));
	json_decref(o);
	return evs;
}

/* Does evs hold an event of type with field == value (field NULL: any)? */
static int
has(json_t *evs, const char *type, const char *field, const char *value)
{
	json_t	*e;
	size_t	 i;
	int	 found = 0;

	json_array_foreach(evs, i, e) {
		json_t *d = json_object_get(e, "data");

		if (strcmp(json_string_value(json_object_get(e, "type")),
		    type) == 0 && (field == NULL || strcmp(json_string_value(
		    json_object_get(d, field)), value) == 0))
			found = 1;
	}
	return found;
}

/* Does a poll of u now hold an event of type with field == value? */
static int
saw(struct user *u, const char *type, const char *field, const char *value)
{
	json_t	*evs = poll_now(u, 1);
	int	 found = has(evs, type, field, value);

	json_decref(evs);
	return found;
}

/*
 * A session that never joined a room is forgotten after 10 minutes unseen;
 * one that joined and left is kept for a day.
 */
static void
test_unjoined_expiry(void)
{
	struct user	 idle, left;
	json_t		*o;
	int		 st;

	new_user(&idle, "Idle");
	new_user(&left, "Left");
	o = call(h_join, left.token, "{\"room\":\"brief\"}", NULL, &st);
	json_decref(o);
	o = call(h_leave, left.token, NULL, NULL, &st);
	CHECK(st == 200);
	json_decref(o);
	clock_ms += 9 * 60 * 1000;
	maintenance(&c, clock_ms);
	o = call(h_session_get, idle.token, NULL, NULL, &st);
	CHECK(st == 200);		/* 9 minutes: still there */
	json_decref(o);
	clock_ms += 2 * 60 * 1000;
	maintenance(&c, clock_ms);
	o = call(h_session_get, idle.token, NULL, NULL, &st);
	CHECK(st == 401);
	json_decref(o);
	o = call(h_session_get, left.token, NULL, NULL, &st);
	CHECK(st == 200);
	json_decref(o);
}

/* An event_fn: keep the data of the last room_change in arg (a buffer). */
static int
last_room_change(void *arg, const struct event *ev)
{
	if (strcmp(ev->type, "room_change") == 0)
		snprintf(arg, 256, "%s", ev->data);
	return 0;
}

static void
test_chat(void)
{
	struct user	 ann, bob, cat;
	json_t		*o, *evs;
	char		 lobby[256] = "";
	int		 st;
	int64_t		 old;

	new_user(&ann, "Ann");
	new_user(&bob, "Bob");
	new_user(&cat, "Cat");
	CHECK(poll_now(&ann, 1) == NULL);	/* nothing yet: parks */

	o = call(h_join, ann.token, "{\"room\":\" lobby \"}", NULL, &st);
	CHECK(st == 200);
	CHECK_STR(json_string_value(json_object_get(o, "room")), "lobby");
	CHECK(json_integer_value(json_object_get(o, "count")) == 1);
	json_decref(o);
	/* The room list alone may wait for company (NOOM_NOTICE_HOLD_MS). */
	CHECK(poll_now(&bob, 0) == NULL);
	CHECK(saw(&ann, "room_joined", "room", "lobby"));

	o = call(h_join, bob.token, "{\"room\":\"lobby\"}", NULL, &st);
	CHECK(json_array_size(json_object_get(o, "members")) == 2);
	json_decref(o);
	CHECK(saw(&ann, "welcome", "nickname", "Bob"));
	/* Bob's own room_joined does not wait.  The room list's changes are
	 * the lobby's: a session in a room is not sent them. */
	evs = poll_now(&bob, 1);
	CHECK(!has(evs, "room_change", NULL, NULL));
	CHECK(has(evs, "room_joined", "room", "lobby"));
	json_decref(evs);
	/* Cat, in no room, may see what changed: one room and its count. */
	CHECK(db_events_visible(c.db, 0, cat.id, 0, 0, 100, last_room_change,
	    lobby) == 0);
	CHECK_STR(lobby, "{\"rooms\":[{\"name\":\"lobby\",\"count\":2}]}");

	o = call(h_messages, ann.token, "{\"text\":\"hi\",\"client_id\":\"m1\"}",
	    NULL, &st);
	CHECK(st == 201);
	json_decref(o);
	o = call(h_messages, ann.token, "{\"text\":\"hi\",\"client_id\":\"m1\"}",
	    NULL, &st);
	CHECK(st == 200 && json_is_true(json_object_get(o, "duplicate")));
	json_decref(o);

	/* Bob sees it once; re-polling the old cursor sees the same again. */
	old = bob.cursor;
	evs = poll_now(&bob, 1);
	CHECK(json_array_size(evs) == 1);
	json_decref(evs);
	bob.cursor = old;
	evs = poll_now(&bob, 1);
	CHECK(json_array_size(evs) == 1);
	json_decref(evs);
	CHECK(poll_now(&bob, 1) == NULL);

	/* A newcomer gets the history once. */
	{
		struct user cat;

		new_user(&cat, "Cat");
		o = call(h_join, cat.token, "{\"room\":\"lobby\"}", NULL, &st);
		CHECK(json_array_size(json_object_get(o, "history")) == 1);
		json_decref(o);
		CHECK(saw(&bob, "welcome", "nickname", "Cat"));
		o = call(h_nickname, cat.token, "{\"nickname\":\"Kit\"}",
		    NULL, &st);
		CHECK(st == 200);
		json_decref(o);
		CHECK(saw(&bob, "nickname", "old", "Cat"));
		o = call(h_leave, NULL, "{\"token\":\"x\"}", NULL, &st);
		CHECK(st == 401);
		json_decref(o);
		{
			char body[80];

			snprintf(body, sizeof(body), "{\"token\":\"%s\"}",
			    cat.token);
			o = call(h_leave, NULL, body, NULL, &st);
			CHECK(st == 200);
			json_decref(o);
		}
		CHECK(saw(&bob, "bye", "nickname", "Kit"));
	}

	/* Not in a room: 409; a stranger's token: 401. */
	o = call(h_leave, ann.token, NULL, NULL, &st);
	json_decref(o);
	o = call(h_messages, ann.token, "{\"text\":\"x\"}", NULL, &st);
	CHECK(st == 409);
	json_decref(o);
	o = call(h_messages, "0123456789abcdef0123456789abcdef",
	    "{\"text\":\"x\"}", NULL, &st);
	CHECK(st == 401);
	json_decref(o);
	/* Ann left: Bob sees the bye, Ann does not see Bob's room any more. */
	CHECK(saw(&bob, "bye", "nickname", "Ann"));
	o = call(h_messages, bob.token, "{\"text\":\"still here\"}", NULL, &st);
	json_decref(o);
	CHECK(!saw(&ann, "new_message", NULL, NULL));
}

static void
test_rate_limit(void)
{
	struct user	 u;
	json_t		*o;
	int		 st, i, limited = 0;

	new_user(&u, "Spam");
	o = call(h_join, u.token, "{\"room\":\"spam\"}", NULL, &st);
	json_decref(o);
	for (i = 0; i < NOOM_RL_BURST + 5; i++) {
		o = call(h_messages, u.token, "{\"text\":\"x\"}", NULL, &st);
		limited += st == 429;
		json_decref(o);
	}
	CHECK(limited >= 5);
	clock_ms += 1000;		/* a second refills NOOM_RL_RATE */
	o = call(h_messages, u.token, "{\"text\":\"x\"}", NULL, &st);
	CHECK(st == 201);
	json_decref(o);
}

static void
test_presence_trim(void)
{
	struct user	 a, b;
	json_t		*o, *evs;
	int		 st;
	char		 q[64];

	new_user(&a, "Stays");
	new_user(&b, "Goes");
	o = call(h_join, a.token, "{\"room\":\"p\"}", NULL, &st);
	json_decref(o);
	o = call(h_join, b.token, "{\"room\":\"p\"}", NULL, &st);
	json_decref(o);
	CHECK(saw(&a, "welcome", "nickname", "Goes"));
	clock_ms += (int64_t)app.presence_timeout * 1000 + 1000;
	evs = poll_now(&a, 0);		/* refreshes a's presence only */
	json_decref(evs);
	maintenance(&c, clock_ms);
	CHECK(saw(&a, "bye", "reason", "timeout"));

	/* After the retention time, cursor 0 must resync. */
	clock_ms += (int64_t)app.retention * 1000 + 1000;
	maintenance(&c, clock_ms);
	o = call(h_poll, a.token, NULL, "cursor=0", &st);
	CHECK(st == 200 && json_is_true(json_object_get(o, "resync")));
	json_decref(o);
	snprintf(q, sizeof(q), "cursor=%lld", (long long)a.cursor);
	o = call(h_poll, a.token, NULL, "cursor=999999", &st);
	CHECK(st == 200 && json_is_true(json_object_get(o, "resync")));
	json_decref(o);
}

struct held {
	char	 what[8][24];
	int	 hold[8];
	int	 n;
};

static int
collect(void *arg, const struct event *ev)
{
	struct held	*h = arg;

	if (h->n < 8) {
		snprintf(h->what[h->n], sizeof(h->what[0]), "%s", ev->type);
		h->hold[h->n++] = ev->hold;
	}
	return 0;
}

/* Whether an event may wait is stored with it, from what the writer knew. */
static void
test_event_hold(void)
{
	struct held	 h = { .n = 0 };
	json_t		*big = json_pack("{s:s,s:i}", "nickname", "x", "count",
			    NOOM_BIG_ROOM + 1);
	json_t		*small = json_pack("{s:s,s:i}", "nickname", "x",
			    "count", NOOM_BIG_ROOM);
	json_t		*other = json_pack("{s:s}", "text", "hi");
	int64_t		 from;

	CHECK(db_begin(c.db) == 0);
	from = publish(&c, 0, 0, "room_change", other, clock_ms) - 1;
	CHECK(publish(&c, 7, 0, "welcome", big, clock_ms) > 0);
	CHECK(publish(&c, 7, 0, "bye", small, clock_ms) > 0);
	CHECK(publish(&c, 7, 0, "bye", big, clock_ms) > 0);
	CHECK(publish(&c, 7, 0, "new_message", other, clock_ms) > 0);
	CHECK(publish(&c, 0, 9, "welcome", big, clock_ms) > 0);
	CHECK(db_commit(c.db) == 0);
	CHECK(db_begin_read(c.db) == 0);
	CHECK(db_events_after(c.db, from, 8, collect, &h) == 0);
	db_rollback(c.db);
	CHECK(h.n == 6);
	CHECK_STR(h.what[0], "room_change");
	CHECK(h.hold[0] == 1);		/* the room list: always */
	CHECK(h.hold[1] == 1);		/* a big room's comings ... */
	CHECK(h.hold[2] == 0);		/* ... not a small room's */
	CHECK(h.hold[3] == 1);		/* ... and goings */
	CHECK(h.hold[4] == 0);		/* chat: its own gap */
	CHECK(h.hold[5] == 0);		/* addressed: never */
	json_decref(big);
	json_decref(small);
	json_decref(other);
}

/*
 * A cursor is never handed out twice: after trimming emptied the log, the
 * next event's seq is still above every one before (no AUTOINCREMENT since
 * migration 0006: the writer gives seq itself).
 */
static void
test_seq_after_trim(void)
{
	json_t	*d = json_pack("{s:s}", "text", "x");
	int64_t	 last, next;

	CHECK(db_begin(c.db) == 0);
	CHECK(publish(&c, 0, 0, "room_change", d, clock_ms) > 0);
	last = publish(&c, 0, 0, "room_change", d, clock_ms);
	CHECK(db_events_trim(c.db, clock_ms + 1) == 0);	/* all of it */
	CHECK(db_log_end(c.db) == last);
	CHECK(db_trimmed_upto(c.db) == last);
	next = publish(&c, 0, 0, "room_change", d, clock_ms);
	CHECK(db_commit(c.db) == 0);
	CHECK(next == last + 1);
	json_decref(d);
}

/* Count rows (sqlite3_exec callback). */
static int
one_row(void *count, int n, char **v, char **names)
{
	(void)n;
	(void)v;
	(void)names;
	(*(int *)count)++;
	return 0;
}

/* Rows a query on the database file at path returns, or -1. */
static int
rows_of(const char *path, const char *query)
{
	sqlite3	*conn = NULL;
	int	 rows = 0;

	if (sqlite3_open(path, &conn) != SQLITE_OK ||
	    sqlite3_exec(conn, query, one_row, &rows, NULL) != SQLITE_OK)
		rows = -1;
	sqlite3_close(conn);
	return rows;
}

/*
 * A database of version v (as the migrations up to 000v made it) at
 * dir/name, with what fill wrote into it, brought up to date; NULL on
 * failure.
 */
static struct db *
upgraded(int v, const char *dir, const char *src, const char *name,
    const char *fill)
{
	char	 db[256], sql[256], cmd[1024], *cause = NULL;

	snprintf(db, sizeof(db), "%s/%s", dir, name);
	snprintf(sql, sizeof(sql), "%s/sql%d", dir, v);
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s/migrations' && cp '%s'/sql/"
	    "migrations/000[1-%d]-*.sql '%s/migrations/'", sql, src, v, sql);
	if (system(cmd) != 0 || db_migrate(db, sql, &cause) == -1 ||
	    rows_of(db, fill) == -1)
		return NULL;
	snprintf(sql, sizeof(sql), "%s/sql", src);
	if (db_migrate(db, sql, &cause) == -1)
		return NULL;
	return db_open(db, &cause);
}

/*
 * Version 4 to now: events and messages are kept (0005 adds "hold", 0006
 * drops AUTOINCREMENT); old events are answered at once (hold 0); new ones
 * say whether they may wait; and a seq handed out before does not come back,
 * even one that only sqlite_sequence remembers (a log emptied by hand).
 */
static void
test_upgrade_v4(const char *dir, const char *src)
{
	struct db	*d;
	struct held	 h = { .n = 0 };
	char		 path[256];

	d = upgraded(4, dir, src, "v4.db", "INSERT INTO events (type, data,"
	    " created_ms) VALUES ('welcome', '{\"count\":99}', 1);"
	    "INSERT INTO messages (room_id, session_id, client_id, data,"
	    " created_ms) VALUES (1, 1, 'c1', '{}', 1)");
	CHECK(d != NULL);
	if (d == NULL)
		return;
	CHECK(db_begin(d) == 0);
	CHECK(db_event_add(d, 1, 0, "welcome", "{}", 1, clock_ms) == 2);
	CHECK(db_commit(d) == 0);
	CHECK(db_begin_read(d) == 0);
	CHECK(db_events_after(d, 0, 8, collect, &h) == 0);
	db_rollback(d);
	CHECK(h.n == 2 && h.hold[0] == 0 && h.hold[1] == 1);
	db_close(d);
	snprintf(path, sizeof(path), "%s/v4.db", dir);
	CHECK(rows_of(path, "SELECT 1 FROM messages WHERE id = 1 AND"
	    " client_id = 'c1'") == 1);
	CHECK(rows_of(path, "SELECT 1 FROM sqlite_master WHERE name IN"
	    " ('events', 'messages') AND sql LIKE '%AUTOINCREMENT%'") == 0);
	CHECK(rows_of(path, "SELECT 1 FROM sqlite_master WHERE"
	    " name = 'messages_room'") == 1);

	d = upgraded(4, dir, src, "v4-empty.db", "INSERT INTO events (type,"
	    " data, created_ms) VALUES ('x', '{}', 1), ('x', '{}', 1);"
	    "DELETE FROM events");
	CHECK(d != NULL);
	if (d == NULL)
		return;
	CHECK(db_trimmed_upto(d) == 2);	/* cursors 0 and 1: resync */
	CHECK(db_begin(d) == 0);
	CHECK(db_event_add(d, 1, 0, "welcome", "{}", 1, clock_ms) == 3);
	CHECK(db_commit(d) == 0);
	db_close(d);
}

/* Does the file at path hold the bytes of s anywhere?  -1: unreadable. */
static int
file_holds(const char *path, const char *s)
{
	FILE	*f;
	char	*data;
	long	 len;
	int	 found = 0;

	if ((f = fopen(path, "rb")) == NULL)
		return access(path, F_OK) == 0 ? -1 : 0;	/* none: no */
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	data = xmalloc(len > 0 ? (size_t)len : 1);
	if (len > 0 && fread(data, 1, (size_t)len, f) != (size_t)len)
		found = -1;
	else if (len > 0 && memmem(data, (size_t)len, s, strlen(s)) != NULL)
		found = 1;
	free(data);
	fclose(f);
	return found;
}

/*
 * A session's token is stored as its SHA-256 only: the row holds the hash
 * of the token the client got, the client's token finds the session, and
 * neither the table, the database file nor its WAL holds the token.
 */
static void
test_token_hash(void)
{
	const char	*token = "0123456789abcdef0123456789abcdef";
	struct session	 s;
	struct user	 ann;
	int64_t		 id;
	char		 q[256], wal[300];

	CHECK(db_begin(c.db) == 0);
	CHECK(db_session_create(c.db, token, "Hash", clock_ms, &id) == 0);
	CHECK(db_commit(c.db) == 0);
	CHECK(db_session_by_token(c.db, token, &s) == 1 && s.id == id);
	CHECK(db_session_by_token(c.db, "0123456789abcdef0123456789abcdee",
	    &s) == 0);
	/* sha256sum of the token, computed by hand. */
	CHECK(rows_of(app.db_path, "SELECT 1 FROM sessions WHERE token ="
	    " '3eb1bd439947eb762998e566ccc2e099c791118b2f40579cc4f7da2b5061b7f9'")
	    == 1);
	/* The hash of a hash finds nothing: lookups hash what they get. */
	CHECK(db_session_by_token(c.db, "3eb1bd439947eb762998e566ccc2e099"
	    "c791118b2f40579cc4f7da2b5061b7f9", &s) == 0);

	new_user(&ann, "Ann");
	snprintf(q, sizeof(q), "SELECT 1 FROM sessions WHERE token = '%s'"
	    " OR token = '%s'", ann.token, token);
	CHECK(rows_of(app.db_path, q) == 0);
	CHECK(rows_of(app.db_path, "SELECT 1 FROM sessions WHERE"
	    " length(token) != 64") == 0);
	snprintf(wal, sizeof(wal), "%s-wal", app.db_path);
	CHECK(file_holds(app.db_path, ann.token) == 0);
	CHECK(file_holds(wal, ann.token) == 0);
	CHECK(file_holds(app.db_path, token) == 0);
	CHECK(file_holds(wal, token) == 0);
}

/*
 * Version 6 to now: a session made before tokens were hashed (its token in
 * clear) is found by that same token afterwards, so its client goes on
 * without noticing; no row holds a clear token, and neither the file nor
 * the WAL keeps one in its free space.
 */
static void
test_upgrade_v6(const char *dir, const char *src)
{
	const char	*clear = "00112233445566778899aabbccddeeff";
	struct db	*d;
	struct session	 s;
	char		 path[256], wal[300];

	d = upgraded(6, dir, src, "v6.db", "INSERT INTO sessions (token,"
	    " nickname, created_ms, seen_ms, rl_ms) VALUES"
	    " ('00112233445566778899aabbccddeeff', 'Old', 1, 1, 1),"
	    " ('ffeeddccbbaa99887766554433221100', 'Other', 1, 1, 1)");
	CHECK(d != NULL);
	if (d == NULL)
		return;
	CHECK(db_session_by_token(d, clear, &s) == 1);
	CHECK(s.id == 1);
	CHECK_STR(s.nickname, "Old");
	CHECK(db_session_by_token(d, "ffeeddccbbaa99887766554433221100",
	    &s) == 1 && s.id == 2);
	db_close(d);
	snprintf(path, sizeof(path), "%s/v6.db", dir);
	snprintf(wal, sizeof(wal), "%s-wal", path);
	CHECK(rows_of(path, "SELECT 1 FROM sessions WHERE length(token) = 64")
	    == 2);
	CHECK(rows_of(path, "SELECT 1 FROM sessions WHERE token ="
	    " '00112233445566778899aabbccddeeff' OR token LIKE '%ffeedd%'") == 0);
	CHECK(rows_of(path, "PRAGMA user_version") == 1);
	CHECK(file_holds(path, clear) == 0);
	CHECK(file_holds(wal, clear) == 0);
	CHECK(file_holds(path, "ffeeddccbbaa99887766554433221100") == 0);

	/* Migrating again changes nothing: hashes are not hashed twice. */
	d = upgraded(7, dir, src, "v6.db", "SELECT 1");
	CHECK(d != NULL);
	if (d == NULL)
		return;
	CHECK(db_session_by_token(d, clear, &s) == 1 && s.id == 1);
	db_close(d);
}

/*
 * A failure in a loop: the first is logged, the next ones only counted
 * until a minute has passed since the last line, which then says how many
 * there were; a success after failures says "ok again" once.  stderr goes
 * to a file meanwhile, to read the lines back.
 */
static void
test_log_every(const char *dir)
{
	struct log_every	 le;
	char			 path[256], *text = NULL, *cause = NULL, *l;
	int			 saved, fd, i, lines = 0;

	memset(&le, 0, sizeof(le));
	snprintf(path, sizeof(path), "%s/log", dir);
	fflush(stderr);
	saved = dup(2);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1) {
		CHECK(fd != -1);
		return;
	}
	dup2(fd, 2);
	close(fd);

	CHECK(log_recovered(&le, 0, "loop") == 0);	/* never failed */
	CHECK(log_failure(&le, 1000, "loop", "disk on fire") == 1);
	for (i = 1; i <= 5; i++)	/* within the minute: counted */
		CHECK(log_failure(&le, 1000 + i * 10000, "loop",
		    "disk on fire") == 0);
	CHECK(log_failure(&le, 61000, "loop", "disk on fire") == 1);
	CHECK(log_failure(&le, 62000, "loop", "disk on fire") == 0);
	CHECK(log_failure(&le, 63000, "loop", "disk on fire") == 0);
	CHECK(log_recovered(&le, 64000, "loop") == 1);
	CHECK(log_recovered(&le, 65000, "loop") == 0);	/* once */
	/* A new run of failures starts with a line at once. */
	CHECK(log_failure(&le, 66000, "loop", NULL) == 1);
	CHECK(log_recovered(&le, 67000, "loop") == 1);

	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	text = file_read_new(path, 1 << 16, &cause);
	CHECK(text != NULL);
	if (text == NULL)
		return;
	for (l = text; (l = strchr(l, '\n')) != NULL; l++)
		lines++;
	CHECK(lines == 5);
	CHECK(strstr(text, "warn: loop: disk on fire\n") != NULL);
	CHECK(strstr(text, "warn: loop: disk on fire (6 failures in the last"
	    " 60 s)\n") != NULL);
	CHECK(strstr(text, "info: loop: ok again (2 more failures in the last"
	    " 3 s)\n") != NULL);
	CHECK(strstr(text, "warn: loop: unknown error\n") != NULL);
	CHECK(strstr(text, "info: loop: ok again\n") != NULL);
	free(text);
}

/* The WAL's checkpoint sequence number: one more each time the log starts over. */
static int64_t
wal_restarts(const char *db)
{
	char		 path[300];
	unsigned char	 h[16];
	int		 fd;
	ssize_t		 n;

	snprintf(path, sizeof(path), "%s-wal", db);
	if ((fd = open(path, O_RDONLY)) == -1)
		return -1;
	n = pread(fd, h, sizeof(h), 0);
	close(fd);
	if (n != (ssize_t)sizeof(h))
		return -1;
	return (int64_t)h[12] << 24 | h[13] << 16 | h[14] << 8 | h[15];
}

/* meta's count of the logs the checkpointer started over (0: none yet). */
static int64_t
meta_log_restarts(const char *db)
{
	sqlite3		*conn;
	sqlite3_stmt	*p;
	int64_t		 v = 0;

	if (sqlite3_open_v2(db, &conn, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(conn, "SELECT value FROM meta WHERE key ="
	    " 'log_restarts'", -1, &p, NULL) == SQLITE_OK) {
		if (sqlite3_step(p) == SQLITE_ROW)
			v = sqlite3_column_int64(p, 0);
		sqlite3_finalize(p);
	}
	sqlite3_close(conn);
	return v;
}

/*
 * The checkpointer starts the log over itself once a checkpoint copied it
 * all back, so that no request's commit pays the sync of the new log's
 * header; an idle store it leaves alone.
 */
static void
test_checkpoint(const char *db)
{
	struct db	*ck;
	struct user	 u;
	char		*cause = NULL;
	int64_t		 seq, restarts;

	if ((ck = db_open(db, &cause)) == NULL) {
		CHECK(ck != NULL);
		free(cause);
		return;
	}
	db_quiet(ck);
	/* What the other tests committed: copied back, the log started over. */
	CHECK(db_checkpoint(ck) == 0);
	seq = wal_restarts(db);
	restarts = meta_log_restarts(db);
	CHECK(seq >= 0 && restarts >= 1);
	/* Nobody committed since: nothing copied, nothing written. */
	CHECK(db_checkpoint(ck) == 0);
	CHECK(wal_restarts(db) == seq);
	CHECK(meta_log_restarts(db) == restarts);
	/* A request's commit goes on after the checkpointer's in the same log. */
	new_user(&u, "Checkpointed");
	CHECK(wal_restarts(db) == seq);
	/* The next checkpoint copies it back and starts the log over. */
	CHECK(db_checkpoint(ck) == 0);
	CHECK(wal_restarts(db) == seq + 1);
	CHECK(meta_log_restarts(db) == restarts + 1);
	db_close(ck);
}

/*
 * The metrics' call figures: in a room whose call is on the SFU every
 * member is in the call (mode sfu); elsewhere the first mesh_max are in
 * the mesh and the rest chat only.  Counted as differences, so that the
 * rooms the other tests left open do not matter.
 */
static void
test_figures(void)
{
	struct figures	 before, after;
	struct user	 u[7];
	int64_t		 room;
	json_t		*o;
	int		 i, st;

	CHECK(db_begin_read(c.db) == 0 && db_figures(c.db, 2, &before) == 0);
	db_rollback(c.db);
	for (i = 0; i < 7; i++) {
		new_user(&u[i], "Fig");
		o = call(h_join, u[i].token, i < 4 ? "{\"room\":\"mesh-fig\"}" :
		    "{\"room\":\"sfu-fig\"}", NULL, &st);
		CHECK(st == 200);
		json_decref(o);
	}
	CHECK(db_room_find(c.db, "sfu-fig", NULL, &room) == 1);
	CHECK(db_begin(c.db) == 0 && db_sfu_room_add(c.db, room, 77, clock_ms)
	    == 0 && db_commit(c.db) == 0);
	CHECK(db_begin_read(c.db) == 0 && db_figures(c.db, 2, &after) == 0);
	db_rollback(c.db);
	CHECK(after.rooms_listed - before.rooms_listed == 2);
	CHECK(after.in_call - before.in_call == 2);	/* mesh-fig's first 2 */
	CHECK(after.chat_only - before.chat_only == 2);	/* its other 2 */
	CHECK(after.sfu - before.sfu == 3);		/* all of sfu-fig */
}

/*
 * The admin session's cookie: HttpOnly, SameSite=Strict, scoped to the
 * admin API under the prefix, and Secure when nginx says the request came
 * over TLS (HTTPS=on, worker.c) — only then, or a plain-HTTP site could
 * never keep it.
 */
static void
test_admin_cookie(void)
{
	static const char *const body = "{\"password\":\"cookie jar lid\"}";
	struct conf	*cf = conf_new();
	struct req	 rq;
	struct resp	 rs;
	char		 hash[NOOM_PW_HASH_MAX];
	int		 https;

	CHECK(pw_hash("cookie jar lid", hash, sizeof(hash)) == 0);
	cf->admin_password = xstrdup(hash);
	conf_publish(&app, cf, 0);
	for (https = 0; https <= 1; https++) {
		memset(&rq, 0, sizeof(rq));
		memset(&rs, 0, sizeof(rs));
		rq.method = "POST";
		rq.path = "/api/admin/login";
		rq.query = "";
		rq.prefix = "/noom";
		rq.body = body;
		rq.body_len = strlen(body);
		rq.now_ms = clock_ms;
		rq.https = https;
		h_admin_login(&c, &rq, &rs);
		CHECK(rs.status == 200);
		CHECK(strncmp(rs.set_cookie, "noom_admin=", 11) == 0);
		CHECK(strstr(rs.set_cookie, "; Path=/noom/api/admin/; HttpOnly; "
		    "SameSite=Strict; Max-Age=") != NULL);
		if (https)
			CHECK(strstr(rs.set_cookie, "; Secure") != NULL);
		else
			CHECK(strstr(rs.set_cookie, "Secure") == NULL);
		resp_clear(&rs);
	}
	conf_publish(&app, conf_new(), 0);
}

int
main(void)
{
	char		 dir[] = "/tmp/noom-unit-XXXXXX", *cause = NULL;
	char		 db[256], sql[512], cmd[300], bell[256];
	const char	*src = getenv("NOOM_SRCDIR");

	if (mkdtemp(dir) == NULL)
		return 99;
	snprintf(db, sizeof(db), "%s/noom.db", dir);
	snprintf(sql, sizeof(sql), "%s/sql", src ? src : "../..");
	memset(&app, 0, sizeof(app));
	app.db_path = db;
	app.poll_timeout = 25;
	app.presence_timeout = 60;
	app.retention = 600;
	app.quiet = 1;
	app.live = conf_live_new(conf_new());
	c.app = &app;
	snprintf(bell, sizeof(bell), "%s/doorbell", dir);
	if (db_migrate(db, sql, &cause) == -1 || wake_init(bell, &cause) == -1 ||
	    (c.db = db_open(db, &cause)) == NULL) {
		printf("setup: %s\n", cause ? cause : "?");
		return 99;
	}
	test_chat();
	test_rate_limit();
	test_presence_trim();
	test_unjoined_expiry();
	test_event_hold();
	test_seq_after_trim();
	test_upgrade_v4(dir, src ? src : "../..");
	test_token_hash();
	test_upgrade_v6(dir, src ? src : "../..");
	test_log_every(dir);
	test_figures();
	test_admin_cookie();
	test_checkpoint(db);
	db_close(c.db);
	conf_live_free(app.live);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("could not remove %s\n", dir);
	return unit_done("test_db");
}
