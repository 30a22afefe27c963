/*
 * db.c — all SQL of Noom.
 *
 * One struct db is one SQLite connection with its prepared statements, used by
 * exactly one thread.  Statements are prepared on first use and kept for the
 * life of the connection; values are bound by name (":sid"), never formatted
 * into SQL text.  Writers wrap their work in BEGIN IMMEDIATE (db_begin) so
 * that two workers never deadlock upgrading a read lock; a busy handler makes a
 * writer wait for the other instead of failing (write_turn, busy_wait).
 *
 * The schema is versioned with PRAGMA user_version: db_migrate() applies every
 * sql/migrations/NNNN-*.sql whose NNNN is above the stored version, in order,
 * each in its own transaction.  Only the master process migrates, before any
 * worker opens the database.
 *
 * Session tokens are stored as their SHA-256 (token_hash): whoever reads the
 * file, a backup or a stray copy of the WAL learns no token that would let
 * them act as a user.  Tokens are 128 random bits, so a plain unsalted hash
 * is enough: there is no dictionary to try.
 */
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "noom.h"

/* WAL frames (4 KiB pages) above which a checkpoint restarts the log. */
#define NOOM_WAL_RESTART_FRAMES	4096
/* How long such a restart may hold writers off, waiting for readers. */
#define RESTART_WAIT_MS		20
/*
 * Each connection's page cache (SQLite's default is 2000 KiB).  A commit by
 * any other connection empties it (a WAL reader that finds the log changed
 * starts its cache over), and chat and presence commit several times a
 * second, so a cache holds little more than what its connection read since
 * the last commit elsewhere: mostly the sessions of the polls it answered.
 * Yet the memory stays in the thread's malloc arena at the cache's highest
 * fill, which grows with the number of waiting users: with 2000 KiB, 0.96 KB
 * of the workers' memory per waiting poll, with 256 KiB 0.58 KB, for the
 * same CPU (docs/BENCHMARKS.md).
 */
#define CACHE_PRAGMA	"PRAGMA cache_size = -256;"
/* busy_wait: tries 100 us apart, then 1 ms apart (10 s in all). */
#define BUSY_QUICK		20
#define BUSY_SLOW		10000
/* A token's SHA-256 as lowercase hex, with its NUL. */
#define TOKEN_HASH_LEN	(2 * 32 + 1)

enum stmt {
	S_SESSION_NEW,
	S_SESSION_BY_TOKEN,
	S_SESSION_BY_ID,
	S_SESSION_STALE,
	S_SESSION_TOUCH,
	S_SESSION_NICK,
	S_NICK_TAKEN,
	S_SESSION_ROOM,
	S_SESSION_RATE,
	S_SESSION_SIG_RATE,
	S_SESSION_RE_RATE,
	S_SESSION_HAND,
	S_HANDS,
	S_SESSION_MEDIA,
	S_MEMBER_RANK,
	S_SESSIONS_STALE,
	S_SESSIONS_EXPIRE,
	S_ROOM_FIND,
	S_ROOM_NEW,
	S_ROOM_DELETE,
	S_ROOM_DELETE_MSGS,
	S_ROOM_COUNT,
	S_ROOM_MEMBERS,
	S_ROOMS_LIST,
	S_ROOM_ACTIVE,
	S_ROOM_INFO,
	S_ROOM_SETTINGS,
	S_HOST_SET,
	S_HOSTS,
	S_ELDEST,
	S_SESSION_LEFT,
	S_WAITING_ADD,
	S_WAITING_DEL,
	S_WAITING_FOR,
	S_WAITING_LIST,
	S_WAITING_COUNT,
	S_BAN_ADD,
	S_BANNED,
	S_ADMIN_NEW,
	S_ADMIN_GET,
	S_ADMIN_SEEN,
	S_ADMIN_DEL,
	S_ADMINS_EXPIRE,
	S_ROOMS_ALL,
	S_ROOM_DELETE_BANS,
	S_ROOM_DELETE_WAITING,
	S_CLIENT_GET,
	S_CLIENT_SET,
	S_CLIENTS_EXPIRE,
	S_MSG_NEW,
	S_MSG_BY_CLIENT,
	S_HISTORY,
	S_MSGS_TRIM,
	S_EVENT_NEW,
	S_LOG_END,
	S_TRIMMED,
	S_EVENT_TIME,
	S_EVENTS_VISIBLE,
	S_EVENTS_AFTER,
	S_EVENTS_TRIM_MAX,
	S_EVENTS_TRIM,
	S_TRIMMED_SET,
	S_PROBE,
	S_DATA_VERSION,
	S_LOG_RESTART,
	S_FIGURES_SESSIONS,
	S_FIGURES_ROOMS,
	S_SFU_ROOM,
	S_SFU_ROOM_ADD,
	S_SFU_ROOM_DROP,
	S_SFU_ROOMS,
	S_BEGIN,
	S_BEGIN_READ,
	S_COMMIT,
	S_ROLLBACK,
	S__COUNT
};

/*
 * The newest seq ever handed out: the newest event's, or what trimming
 * dropped when it emptied the log.  A new event takes the one after it
 * (S_EVENT_NEW), since events have no AUTOINCREMENT (migration 0006).
 */
#define LOG_END_SQL \
	"max(coalesce((SELECT max(seq) FROM events), 0)," \
	" (SELECT value FROM meta WHERE key = 'trimmed_upto'))"

/* The columns session_row() reads, in its order. */
#define SESSION_COLUMNS \
	"SELECT s.id, s.nickname, coalesce(s.room_id, 0), coalesce(r.name, '')," \
	" s.join_seq, s.seen_ms, s.rl_tokens, s.rl_ms, s.sig_tokens, s.sig_ms," \
	" s.audio, s.video, s.screen, s.host, coalesce(r.key_hash, '') <> ''," \
	" s.left_room, s.left_ms, s.left_host, s.transport, s.hand_ms," \
	" s.re_tokens, s.re_ms" \
	" FROM sessions s LEFT JOIN rooms r ON r.id = s.room_id"

static const char *const stmt_sql[S__COUNT] = {
	[S_SESSION_NEW] =
	    "INSERT INTO sessions (token, nickname, created_ms, seen_ms, rl_ms)"
	    " VALUES (:token, :nick, :now, :now, :now)",
	[S_SESSION_BY_TOKEN] =
	    SESSION_COLUMNS
	    " WHERE s.token = :token",
	[S_SESSION_BY_ID] =
	    SESSION_COLUMNS
	    " WHERE s.id = :sid",
	[S_SESSION_STALE] =
	    "SELECT count(*) FROM sessions WHERE id = :sid AND"
	    " (seen_ms < :before OR transport <> :transport)",
	[S_SESSION_TOUCH] =
	    "UPDATE sessions SET seen_ms = :now, transport = :transport"
	    " WHERE id = :sid AND (seen_ms < :before OR transport <> :transport)",
	[S_SESSION_NICK] =
	    "UPDATE sessions SET nickname = :nick, nick_key = :key"
	    " WHERE id = :sid",
	[S_NICK_TAKEN] =
	    "SELECT count(*) FROM sessions WHERE room_id = :room"
	    " AND nick_key = :key AND id <> :sid",
	[S_SESSION_ROOM] =
	    "UPDATE sessions SET room_id = nullif(:room, 0), join_seq = :seq,"
	    " hand_ms = CASE WHEN :keep_hand THEN hand_ms ELSE 0 END,"
	    " joined_ms = CASE WHEN :room = 0 OR joined_ms > 0 THEN joined_ms"
	    " ELSE :now END WHERE id = :sid",
	[S_SESSION_RATE] =
	    "UPDATE sessions SET rl_tokens = :tokens, rl_ms = :now"
	    " WHERE id = :sid",
	[S_SESSION_SIG_RATE] =
	    "UPDATE sessions SET sig_tokens = :tokens, sig_ms = :now"
	    " WHERE id = :sid",
	[S_SESSION_RE_RATE] =
	    "UPDATE sessions SET re_tokens = :tokens, re_ms = :now"
	    " WHERE id = :sid",
	[S_SESSION_HAND] =
	    "UPDATE sessions SET hand_ms = :at WHERE id = :sid",
	[S_HANDS] =
	    "SELECT id, nickname, hand_ms FROM sessions WHERE room_id = :room"
	    " AND hand_ms > 0 ORDER BY hand_ms, id LIMIT :max",
	[S_SESSION_MEDIA] =
	    "UPDATE sessions SET audio = :audio, video = :video, screen = :screen"
	    " WHERE id = :sid",
	/* Members who joined before sid: its place in the call (0-based). */
	[S_MEMBER_RANK] =
	    "SELECT count(*) FROM sessions o, sessions s"
	    " WHERE s.id = :sid AND o.room_id = s.room_id AND"
	    " (o.join_seq < s.join_seq OR (o.join_seq = s.join_seq AND"
	    " o.id < s.id))",
	[S_SESSIONS_STALE] =
	    "SELECT id FROM sessions WHERE seen_ms < :cutoff AND"
	    " (room_id IS NOT NULL OR id IN (SELECT session_id FROM waiting))"
	    " LIMIT :max",
	[S_SESSIONS_EXPIRE] =
	    "DELETE FROM sessions WHERE room_id IS NULL AND (seen_ms < :cutoff"
	    " OR (joined_ms = 0 AND seen_ms < :unjoined))",
	[S_ROOM_FIND] =
	    "SELECT id FROM rooms WHERE name = :name AND key_hash = :key",
	[S_ROOM_NEW] =
	    "INSERT INTO rooms (name, key_hash, created_ms, active_ms)"
	    " VALUES (:name, :key, :now, :now)",
	[S_ROOM_DELETE] =
	    "DELETE FROM rooms WHERE id = :room",
	[S_ROOM_DELETE_MSGS] =
	    "DELETE FROM messages WHERE room_id = :room",
	[S_SFU_ROOM] =
	    "SELECT janus_id FROM sfu_rooms WHERE room_id = :room",
	[S_SFU_ROOM_ADD] =
	    "INSERT OR IGNORE INTO sfu_rooms (room_id, janus_id, created_ms)"
	    " VALUES (:room, :janus, :now)",
	[S_SFU_ROOM_DROP] =
	    "DELETE FROM sfu_rooms WHERE room_id = :room AND janus_id = :janus",
	[S_SFU_ROOMS] =
	    "SELECT s.room_id, s.janus_id, coalesce(r.members, 0)"
	    " FROM sfu_rooms s LEFT JOIN rooms r ON r.id = s.room_id"
	    " ORDER BY s.room_id LIMIT :max",
	[S_ROOM_COUNT] =
	    "SELECT members FROM rooms WHERE id = :room",
	[S_ROOM_MEMBERS] =
	    "SELECT id, nickname, audio, video, screen, host, transport,"
	    " created_ms, hand_ms FROM sessions"
	    " WHERE room_id = :room ORDER BY join_seq, id LIMIT :max",
	[S_ROOMS_LIST] =
	    "SELECT name, members FROM rooms WHERE members > 0 AND key_hash = ''"
	    " AND (:q = '' OR instr(lower(name), lower(:q)) > 0)"
	    " ORDER BY members DESC, active_ms DESC, name"
	    " LIMIT :limit OFFSET :offset",
	[S_ROOM_ACTIVE] =
	    "UPDATE rooms SET active_ms = :now WHERE id = :room",
	[S_ROOM_INFO] =
	    "SELECT key_hash <> '', locked, waiting_room, password FROM rooms"
	    " WHERE id = :room",
	[S_ROOM_SETTINGS] =
	    "UPDATE rooms SET locked = :locked, waiting_room = :waiting,"
	    " password = :password WHERE id = :room",
	[S_HOST_SET] =
	    "UPDATE sessions SET host = :host WHERE id = :sid",
	[S_HOSTS] =
	    "SELECT id FROM sessions WHERE room_id = :room AND host"
	    " ORDER BY join_seq, id LIMIT :max",
	/* Present longest: the lowest join_seq (set on entering the room). */
	[S_ELDEST] =
	    "SELECT id FROM sessions WHERE room_id = :room"
	    " ORDER BY join_seq, id LIMIT 1",
	[S_SESSION_LEFT] =
	    "UPDATE sessions SET left_room = :room, left_ms = :now,"
	    " left_host = :host, host = 0 WHERE id = :sid",
	[S_WAITING_ADD] =
	    "INSERT OR REPLACE INTO waiting (session_id, room_id, since_ms)"
	    " VALUES (:sid, :room, :now)",
	[S_WAITING_DEL] =
	    "DELETE FROM waiting WHERE session_id = :sid",
	[S_WAITING_FOR] =
	    "SELECT room_id FROM waiting WHERE session_id = :sid",
	[S_WAITING_LIST] =
	    "SELECT s.id, s.nickname FROM waiting w, sessions s"
	    " WHERE w.room_id = :room AND s.id = w.session_id"
	    " ORDER BY w.since_ms, s.id LIMIT :max",
	[S_WAITING_COUNT] =
	    "SELECT count(*) FROM waiting WHERE room_id = :room",
	[S_BAN_ADD] =
	    "INSERT OR IGNORE INTO bans (room_id, session_id) VALUES (:room, :sid)",
	[S_BANNED] =
	    "SELECT count(*) FROM bans WHERE room_id = :room AND session_id = :sid",
	[S_ADMIN_NEW] =
	    "INSERT INTO admin_sessions (token, addr, created_ms, seen_ms)"
	    " VALUES (:token, :addr, :now, :now)",
	[S_ADMIN_GET] =
	    "SELECT id, seen_ms FROM admin_sessions WHERE token = :token"
	    " AND seen_ms >= :idle AND created_ms >= :old",
	[S_ADMIN_SEEN] =
	    "UPDATE admin_sessions SET seen_ms = :now WHERE id = :id",
	[S_ADMIN_DEL] =
	    "DELETE FROM admin_sessions WHERE token = :token",
	[S_ADMINS_EXPIRE] =
	    "DELETE FROM admin_sessions WHERE seen_ms < :idle"
	    " OR created_ms < :old",
	[S_ROOMS_ALL] =
	    "SELECT id, name, key_hash <> '', members, created_ms, locked,"
	    " waiting_room, password <> '' FROM rooms WHERE members > 0"
	    " ORDER BY members DESC, id LIMIT :max",
	[S_ROOM_DELETE_BANS] =
	    "DELETE FROM bans WHERE room_id = :room",
	[S_ROOM_DELETE_WAITING] =
	    "DELETE FROM waiting WHERE room_id = :room",
	[S_CLIENT_GET] =
	    "SELECT tokens, ms FROM clients WHERE addr = :addr AND kind = :kind",
	[S_CLIENT_SET] =
	    "INSERT INTO clients (addr, kind, tokens, ms)"
	    " VALUES (:addr, :kind, :tokens, :now) ON CONFLICT (addr, kind)"
	    " DO UPDATE SET tokens = excluded.tokens, ms = excluded.ms",
	[S_CLIENTS_EXPIRE] =
	    "DELETE FROM clients WHERE ms < :cutoff",
	[S_MSG_NEW] =
	    "INSERT INTO messages (room_id, session_id, to_id, client_id, data,"
	    " created_ms) VALUES (:room, :sid, :to, :cid, :data, :now)",
	[S_MSG_BY_CLIENT] =
	    "SELECT id, created_ms FROM messages"
	    " WHERE session_id = :sid AND client_id = :cid",
	[S_HISTORY] =
	    "SELECT id, data FROM (SELECT id, data FROM messages"
	    " WHERE room_id = :room AND to_id = 0 ORDER BY id DESC LIMIT :max)"
	    " ORDER BY id",
	[S_MSGS_TRIM] =
	    "DELETE FROM messages WHERE id < (SELECT m.id FROM messages m"
	    " WHERE m.room_id = messages.room_id ORDER BY m.id DESC"
	    " LIMIT 1 OFFSET :keep - 1)",
	[S_EVENT_NEW] =
	    "INSERT INTO events (seq, room_id, target_id, type, data, created_ms,"
	    " hold) VALUES (1 + " LOG_END_SQL ", nullif(:room, 0),"
	    " nullif(:target, 0), :type, :data, :now, :hold)",
	[S_LOG_END] =
	    "SELECT " LOG_END_SQL,
	[S_TRIMMED] =
	    "SELECT value FROM meta WHERE key = 'trimmed_upto'",
	[S_EVENT_TIME] =
	    "SELECT created_ms FROM events WHERE seq = :seq",
	/*
	 * Visibility, the heart of the mailbox model: global events, events
	 * addressed to the session, and events of its room since it joined.
	 */
	[S_EVENTS_VISIBLE] =
	    "SELECT seq, coalesce(room_id, 0), coalesce(target_id, 0), type, data,"
	    " created_ms, hold FROM events WHERE seq > :cursor AND ("
	    " (room_id IS NULL AND target_id IS NULL)"
	    " OR target_id = :sid"
	    " OR (room_id = :room AND target_id IS NULL AND seq > :join)"
	    " OR (room_id = -1 AND :room = 0 AND target_id IS NULL)"
	    " OR :room = -2)"
	    " ORDER BY seq LIMIT :max",
	[S_EVENTS_AFTER] =
	    "SELECT seq, coalesce(room_id, 0), coalesce(target_id, 0), type, data,"
	    " created_ms, hold FROM events WHERE seq > :cursor ORDER BY seq"
	    " LIMIT :max",
	/*
	 * Trim up to the event before the first one still fresh, in seq order
	 * (the order they were written in): the walk from the oldest stops
	 * there, so it reads no more rows than trimming deletes.  Up to the
	 * newest if none is fresh; 0 if the oldest is fresh (nothing to do).
	 */
	[S_EVENTS_TRIM_MAX] =
	    "SELECT CASE WHEN f IS NULL THEN (SELECT max(seq) FROM events)"
	    " WHEN f > (SELECT min(seq) FROM events) THEN f - 1 ELSE 0 END"
	    " FROM (SELECT (SELECT seq FROM events WHERE created_ms >= :cutoff"
	    " ORDER BY seq LIMIT 1) AS f)",
	[S_EVENTS_TRIM] =
	    "DELETE FROM events WHERE seq <= :upto",
	[S_TRIMMED_SET] =
	    "UPDATE meta SET value = max(value, :upto)"
	    " WHERE key = 'trimmed_upto'",
	[S_PROBE] =
	    "UPDATE meta SET value = value WHERE key = 'trimmed_upto'",
	[S_DATA_VERSION] =
	    "PRAGMA data_version",
	/* A change (the restart count), for a page written to the log:
	 * SQLite writes no page that an update leaves as it was. */
	[S_LOG_RESTART] =
	    "INSERT INTO meta (key, value) VALUES ('log_restarts', 1)"
	    " ON CONFLICT (key) DO UPDATE SET value = value + 1",
	[S_FIGURES_SESSIONS] =
	    "SELECT count(*) FROM sessions",
	/*
	 * An unlisted room is one with a key (migration 0009).  A room with
	 * a Janus room (sfu_rooms, sfu.c) has every member in its call; in
	 * the others the first :call members are in the mesh, the rest chat
	 * only.
	 */
	[S_FIGURES_ROOMS] =
	    "SELECT count(*) - count(nullif(r.key_hash, '')),"
	    " count(nullif(r.key_hash, '')),"
	    " coalesce(sum(CASE WHEN s.room_id IS NULL"
	    "  THEN min(r.members, :call) ELSE 0 END), 0),"
	    " coalesce(sum(CASE WHEN s.room_id IS NULL"
	    "  THEN max(r.members - :call, 0) ELSE 0 END), 0),"
	    " coalesce(sum(CASE WHEN s.room_id IS NULL"
	    "  THEN 0 ELSE r.members END), 0)"
	    " FROM rooms r LEFT JOIN sfu_rooms s ON s.room_id = r.id"
	    " WHERE r.members > 0",
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_BEGIN_READ] = "BEGIN",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
};

struct db {
	sqlite3		*conn;
	sqlite3_stmt	*stmt[S__COUNT];	/* prepared lazily, owned */
	int		 writing;	/* holds write_turn (db_begin) */
	int		 wrote_events;	/* this transaction added events */
	int		 quiet;		/* errors only kept in err (db_quiet) */
	char		 err[256];	/* the last error (db_error) */
	struct metrics	*metrics;	/* counted into (db_metrics), or NULL */
	int64_t		 write_us;	/* when db_begin began (mono_us) */
	int64_t		 data_version;	/* the store's when a checkpoint last
					   copied the whole log (db_checkpoint),
					   -1 before */
};

/*
 * Whose turn it is to write, among this process's connections.  SQLite lets
 * one connection write at a time and makes the others wait in their busy
 * handler, which can only sleep and try again; threads of one process queue
 * on this mutex instead and start the moment the writer before them ends.
 * Held from db_begin to db_commit or db_rollback.  Process-wide state: one
 * SQLite database, one queue of writers; another process (the other workers,
 * the gateway) still waits in busy_wait().
 */
static pthread_mutex_t write_turn = PTHREAD_MUTEX_INITIALIZER;

/*
 * Remember why the last call on db failed, and log it unless the connection
 * is quiet (its caller reports failures itself: db_quiet).
 */
static void
db_fail(struct db *db, const char *what)
{
	snprintf(db->err, sizeof(db->err), "%s: %s", what,
	    sqlite3_errmsg(db->conn));
	if (!db->quiet)
		log_msg(LOG_WARN, "store", "%s", db->err);
}

/* Prepare (once) and reset statement s; NULL on error. */
static sqlite3_stmt *
st(struct db *db, enum stmt s)
{
	sqlite3_stmt	*p = db->stmt[s];
	char		 what[32];

	if (p == NULL) {
		if (sqlite3_prepare_v3(db->conn, stmt_sql[s], -1,
		    SQLITE_PREPARE_PERSISTENT, &p, NULL) != SQLITE_OK) {
			snprintf(what, sizeof(what), "prepare %d", (int)s);
			db_fail(db, what);
			return NULL;
		}
		db->stmt[s] = p;
	}
	sqlite3_reset(p);
	sqlite3_clear_bindings(p);
	return p;
}

static void
bind_i(sqlite3_stmt *p, const char *name, int64_t v)
{
	int	 i = sqlite3_bind_parameter_index(p, name);

	if (i > 0)
		sqlite3_bind_int64(p, i, v);
}

static void
bind_d(sqlite3_stmt *p, const char *name, double v)
{
	int	 i = sqlite3_bind_parameter_index(p, name);

	if (i > 0)
		sqlite3_bind_double(p, i, v);
}

/* Bind a string that outlives the statement's next step. */
static void
bind_s(sqlite3_stmt *p, const char *name, const char *v)
{
	int	 i = sqlite3_bind_parameter_index(p, name);

	if (i > 0)
		sqlite3_bind_text(p, i, v, -1, SQLITE_TRANSIENT);
}

/* Step a statement that returns no rows; 0 or -1. */
static int
run(struct db *db, sqlite3_stmt *p)
{
	int	 rc;

	if (p == NULL)
		return -1;
	rc = sqlite3_step(p);
	if (rc != SQLITE_DONE) {
		db_fail(db, "step");
		sqlite3_reset(p);
		return -1;
	}
	sqlite3_reset(p);
	return 0;
}

/* Step a statement that returns one integer; dflt when no row, -1 on error. */
static int64_t
one_int(struct db *db, sqlite3_stmt *p, int64_t dflt)
{
	int64_t	 v = dflt;
	int	 rc;

	if (p == NULL)
		return -1;
	rc = sqlite3_step(p);
	if (rc == SQLITE_ROW)
		v = sqlite3_column_int64(p, 0);
	else if (rc != SQLITE_DONE) {
		db_fail(db, "step");
		v = -1;
	}
	sqlite3_reset(p);
	return v;
}

/*
 * Busy handler: called by SQLite while another process holds the lock a
 * statement needs; nonzero means "try again".  Writes take about a tenth of
 * a millisecond here, so the first tries come every 100 us (SQLite's own
 * busy_timeout sleeps 1, 2, 5, 10 ms ..., which left posts sleeping far
 * longer than the writer before them held the lock), then every
 * millisecond, for about 10 s in all before SQLITE_BUSY.
 */
static int
busy_wait(void *metrics, int tries)
{
	struct timespec	 ts = { 0, tries < BUSY_QUICK ? 100000 : 1000000 };

	metrics_add(metrics, M_DB_BUSY_RETRIES, 1);
	if (tries >= BUSY_QUICK + BUSY_SLOW)
		return 0;
	nanosleep(&ts, NULL);
	return 1;
}

/*
 * Process-wide SQLite settings, before the process opens anything: no
 * memory statistics, which SQLite keeps under one mutex that every
 * allocation of every thread's connection would take.
 */
void
db_init(void)
{
	if (sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) != SQLITE_OK)
		log_warn("sqlite3_config: too late, statistics stay on");
}

/* The SHA-256 of token as lowercase hex in out; 0, or -1 (no digest). */
static int
token_hash(const char *token, size_t len, char out[TOKEN_HASH_LEN])
{
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned int		 mdlen = 0;

	if (EVP_Digest(token, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32)
		return -1;
	hex_encode(out, md, mdlen);
	return 0;
}

/*
 * SQL function sha256(text): token_hash() for SQL, so that the migration
 * that stopped storing tokens (0007-token-hash.sql) can convert the rows it
 * finds.  NULL stays NULL.
 */
static void
sql_sha256(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const unsigned char	*in;
	char			 out[TOKEN_HASH_LEN];

	(void)argc;
	if (sqlite3_value_type(argv[0]) == SQLITE_NULL)
		return;		/* a NULL result */
	in = sqlite3_value_text(argv[0]);
	if (in == NULL || token_hash((const char *)in,
	    (size_t)sqlite3_value_bytes(argv[0]), out) == -1) {
		sqlite3_result_error(ctx, "sha256: no digest", -1);
		return;
	}
	sqlite3_result_text(ctx, out, -1, SQLITE_TRANSIENT);
}

/*
 * *cause for a start-up failure on the database at path: SQLite's message
 * (err, or the connection's), and why when SQLite cannot say: the system's
 * error, or for a database it could only open read-only ("attempt to write
 * a readonly database"), whether the file or its folder refuses writes.
 */
static void
conn_cause(char **cause, const char *path, sqlite3 *conn, const char *err)
{
	char	 why[1024], dir[512], *slash;
	int	 sys = sqlite3_system_errno(conn);
	int	 code = sqlite3_errcode(conn) & 0xff;

	why[0] = '\0';
	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) != NULL)
		*(slash == dir ? slash + 1 : slash) = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	if (sys != 0)
		snprintf(why, sizeof(why), " (%s)", strerror(sys));
	else if (code == SQLITE_READONLY || code == SQLITE_CANTOPEN) {
		if (access(path, W_OK) == -1 && errno != ENOENT)
			snprintf(why, sizeof(why), " (the file: %s)",
			    strerror(errno));
		else if (access(dir, W_OK | X_OK) == -1)
			snprintf(why, sizeof(why), " (its folder %s: %s)",
			    dir, strerror(errno));
	}
	if (asprintf(cause, "%s: %s%s", path,
	    err != NULL ? err : sqlite3_errmsg(conn), why) == -1)
		*cause = NULL;
}

/* Settings every connection to the database at path gets. */
static int
db_configure(sqlite3 *conn, const char *path, char **cause)
{
	char	*err = NULL;

	sqlite3_busy_handler(conn, busy_wait, NULL);
	if (sqlite3_create_function_v2(conn, "sha256", 1, SQLITE_UTF8 |
	    SQLITE_DETERMINISTIC, NULL, sql_sha256, NULL, NULL, NULL) !=
	    SQLITE_OK) {
		if (asprintf(cause, "%s: sha256(): %s", path,
		    sqlite3_errmsg(conn)) == -1)
			*cause = NULL;
		return -1;
	}
	/*
	 * No automatic checkpoints: the worker master runs one every 250 ms
	 * (main.c, db_checkpoint), so that no request waits behind one.
	 * journal_size_limit gives what a burst added to the WAL file back to
	 * the disk when a checkpoint restarts it.
	 */
	sqlite3_wal_autocheckpoint(conn, 0);
	if (sqlite3_exec(conn, "PRAGMA journal_mode = WAL;"
	    "PRAGMA synchronous = NORMAL;" CACHE_PRAGMA
	    "PRAGMA journal_size_limit = 67108864;", NULL, NULL, &err) !=
	    SQLITE_OK) {
		conn_cause(cause, path, conn, err);
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

static int
migration_filter(const struct dirent *d)
{
	size_t	 n = strlen(d->d_name);

	return n > 9 && d->d_name[4] == '-' &&
	    strcmp(d->d_name + n - 4, ".sql") == 0 &&
	    strspn(d->d_name, "0123456789") == 4;
}

/*
 * Apply one migration file to the database at db in its own transaction; 0
 * or -1 with *cause.
 */
static int
migrate_one(sqlite3 *conn, const char *db, const char *path, char **cause)
{
	char	*sql = NULL, *err = NULL;
	int	 rv = -1;

	if ((sql = file_read_new(path, 1 << 20, cause)) == NULL)
		goto out;
	if (sqlite3_exec(conn, "BEGIN IMMEDIATE", NULL, NULL, &err) != SQLITE_OK ||
	    sqlite3_exec(conn, sql, NULL, NULL, &err) != SQLITE_OK ||
	    sqlite3_exec(conn, "COMMIT", NULL, NULL, &err) != SQLITE_OK) {
		if (asprintf(cause, "%s: %s: %s", db, path, err) == -1)
			*cause = NULL;
		sqlite3_exec(conn, "ROLLBACK", NULL, NULL, NULL);
		goto out;
	}
	rv = 0;
out:
	sqlite3_free(err);
	free(sql);
	return rv;
}

/*
 * Bring the database at path up to the newest migration in sql_dir/migrations.
 * Returns 0, or -1 with a reason in *cause (caller frees).
 */
int
db_migrate(const char *path, const char *sql_dir, char **cause)
{
	sqlite3		 *conn = NULL;
	sqlite3_stmt	 *p = NULL;
	struct dirent	**names = NULL;
	char		 *dir = NULL, *file = NULL;
	int		  n = -1, i, version = 0, applied = 0, rv = -1;

	if (sqlite3_open(path, &conn) != SQLITE_OK) {
		if (asprintf(cause, "%s: %s", path, sqlite3_errmsg(conn)) == -1)
			*cause = NULL;
		goto out;
	}
	if (db_configure(conn, path, cause) == -1)
		goto out;
	if (sqlite3_prepare_v2(conn, "PRAGMA user_version", -1, &p, NULL) ==
	    SQLITE_OK && sqlite3_step(p) == SQLITE_ROW)
		version = sqlite3_column_int(p, 0);
	/* Done with it: a statement left open blocks DROP in a migration. */
	sqlite3_finalize(p);
	p = NULL;
	if (asprintf(&dir, "%s/migrations", sql_dir) == -1)
		fatal("asprintf");
	if ((n = scandir(dir, &names, migration_filter, alphasort)) == -1) {
		if (asprintf(cause, "%s: %s", dir, strerror(errno)) == -1)
			*cause = NULL;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (atoi(names[i]->d_name) <= version)
			continue;
		free(file);
		if (asprintf(&file, "%s/%s", dir, names[i]->d_name) == -1)
			fatal("asprintf");
		if (migrate_one(conn, path, file, cause) == -1)
			goto out;
		log_info("applied %s", names[i]->d_name);
		applied = 1;
	}
	/*
	 * What a migration rewrote is still in the WAL's older frames (clear
	 * session tokens, before 0007): copy the log back and empty it.  Best
	 * effort: nobody else has the database open yet.
	 */
	if (applied)
		sqlite3_exec(conn, "PRAGMA wal_checkpoint(TRUNCATE)", NULL,
		    NULL, NULL);
	rv = 0;
out:
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(dir);
	free(file);
	sqlite3_finalize(p);
	sqlite3_close(conn);
	return rv;
}

/* Open a connection for this thread; NULL with *cause on failure. */
struct db *
db_open(const char *path, char **cause)
{
	struct db	*db = xcalloc(1, sizeof(*db));

	db->data_version = -1;
	if (sqlite3_open_v2(path, &db->conn, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		conn_cause(cause, path, db->conn, NULL);
		db_close(db);
		return NULL;
	}
	if (db_configure(db->conn, path, cause) == -1) {
		db_close(db);
		return NULL;
	}
	return db;
}

/*
 * Let the connection's caller report its failures: the store no longer logs
 * them, and db_error() says what the last one was.  For connections that
 * run in a loop (checkpoints, maintenance), whose callers log a failure
 * that repeats only now and then (log_failure).
 */
void
db_quiet(struct db *db)
{
	db->quiet = 1;
}

/*
 * Count this connection's write transactions (their time, from db_begin
 * to commit or rollback, waiting for the lock included), the busy
 * handler's retries and the doorbell's rings into m (metrics.c).
 */
void
db_metrics(struct db *db, struct metrics *m)
{
	db->metrics = m;
	sqlite3_busy_handler(db->conn, busy_wait, m);
}

/*
 * Wait at most ms for a lock instead of busy_wait()'s 10 s: for a caller in
 * an event loop that serves others meanwhile (nginx's, the stream module),
 * which tries again later.  After db_metrics(), which sets busy_wait().
 */
void
db_busy_ms(struct db *db, int ms)
{
	sqlite3_busy_timeout(db->conn, ms);
}

/* Why the last call on db that returned -1 failed. */
const char *
db_error(struct db *db)
{
	return db->err[0] != '\0' ? db->err : "unknown error";
}

/*
 * Can db write?  A write that changes nothing, committed: a read-only file
 * or folder, or a full disk, fails it.  0, or -1 (logged).
 */
int
db_probe(struct db *db)
{
	if (db_begin(db) == -1)
		return -1;
	if (run(db, st(db, S_PROBE)) == -1 || db_commit(db) == -1) {
		db_rollback(db);
		return -1;
	}
	return 0;
}

/*
 * What the operator's metrics read from the store, in the caller's read
 * transaction: sessions, open rooms (with members), and their members: in
 * a call on the SFU, or else up to call_max in each room (in its mesh) and
 * past it (chat only).  0 or -1.
 */
int
db_figures(struct db *db, int call_max, struct figures *f)
{
	sqlite3_stmt	*p;
	int		 rc;

	memset(f, 0, sizeof(*f));
	if ((f->sessions = one_int(db, st(db, S_FIGURES_SESSIONS), 0)) == -1 ||
	    (p = st(db, S_FIGURES_ROOMS)) == NULL)
		return -1;
	bind_i(p, ":call", call_max);
	if ((rc = sqlite3_step(p)) == SQLITE_ROW) {
		f->rooms_listed = sqlite3_column_int64(p, 0);
		f->rooms_unlisted = sqlite3_column_int64(p, 1);
		f->in_call = sqlite3_column_int64(p, 2);
		f->chat_only = sqlite3_column_int64(p, 3);
		f->sfu = sqlite3_column_int64(p, 4);
	} else
		db_fail(db, "step");
	sqlite3_reset(p);
	return rc == SQLITE_ROW ? 0 : -1;
}

/*
 * Can this process write the database at path?  Read-only files, or a
 * folder where the WAL cannot be made, would otherwise only show when users
 * write: every post failing, each with a line in the log.  noom-worker's
 * master asks once at start-up, after migrating, and stops with the reason.
 * It commits a write that changes nothing, so that the WAL is written too.
 * 0, or -1 with *cause.
 */
int
db_check_writable(const char *path, char **cause)
{
	struct db	*db;
	char		*err = NULL;
	int		 rv = 0;

	if ((db = db_open(path, cause)) == NULL)
		return -1;
	if (sqlite3_exec(db->conn, "BEGIN IMMEDIATE;"
	    " UPDATE meta SET value = value WHERE key = 'trimmed_upto';"
	    " COMMIT", NULL, NULL, &err) != SQLITE_OK) {
		conn_cause(cause, path, db->conn, err);
		sqlite3_exec(db->conn, "ROLLBACK", NULL, NULL, NULL);
		rv = -1;
	}
	sqlite3_free(err);
	db_close(db);
	return rv;
}

/*
 * Start the WAL over from the checkpointer once a checkpoint copied it all
 * back: a commit of one small change (S_LOG_RESTART, which counts them in
 * meta).  The first commit into a wholly copied-back log starts it over,
 * and that syncs the new log's header to the disk, at synchronous = NORMAL
 * too (so that a crash cannot mix the old log with the new): an fdatasync
 * of 1-1.5 ms on this machine, which a chat post or a signal paid on its
 * way to every reader whenever it was the first commit after a checkpoint
 * (at 10 posts a second, most of them).  Here the checkpointer pays it; a
 * request that comes meanwhile waits for the write lock, and only then.
 * It waits RESTART_WAIT_MS at most for a writer, and otherwise leaves the
 * restart to the next commit, as before.
 */
static void
log_restart(struct db *db)
{
	sqlite3_busy_timeout(db->conn, RESTART_WAIT_MS);
	if (db_begin(db) == 0 && (run(db, st(db, S_LOG_RESTART)) == -1 ||
	    db_commit(db) == -1))
		db_rollback(db);
	sqlite3_busy_handler(db->conn, busy_wait, db->metrics);
}

/*
 * Copy what the WAL holds back into the database file, as far as readers
 * allow, without waiting for any of them (SQLITE_CHECKPOINT_PASSIVE), and
 * start the log over if that copied it all (log_restart).  Nothing when no
 * other connection committed since the last checkpoint that copied it all
 * (PRAGMA data_version), so that an idle store is not written to:
 * log_restart's own commit is the only one in the log then, and left
 * there, un-copied, it also spares the next commit the restart.
 *
 * Called every DB_CHECKPOINT_MS by one connection that serves no request
 * (noom-worker's master): no other connection ever checkpoints (SQLite's
 * automatic checkpoint is off, db_configure), because a checkpoint in the
 * thread that happens to commit stalls every request queued behind it
 * while it copies pages and syncs (fanout p99 at N=1000: 94 ms with, 34 ms
 * without; docs/BENCHMARKS.md).
 *
 * Under a steady stream of commits that alone lets the WAL grow without
 * end: SQLite only starts the log over when a writer finds it wholly copied
 * back and no reader inside it, and with commits every few hundred
 * microseconds that moment never comes (a 380 MB log after 12 s at 4000
 * chat messages/s, every commit then extending the file).  So once the log
 * holds more than NOOM_WAL_RESTART_FRAMES, the checkpoint is a RESTART: it
 * holds new writers off (they wait in their busy handler) while it copies
 * the last frames and the readers still in the log finish — both take
 * about a millisecond, as reads are short, and it gives up after
 * RESTART_WAIT_MS — after which the log is started over as above.
 */
int
db_checkpoint(struct db *db)
{
	int	 rc, log_frames = 0, copied = 0;
	int64_t	 version;

	if ((version = one_int(db, st(db, S_DATA_VERSION), -1)) == -1)
		return -1;
	if (version == db->data_version)
		return 0;
	rc = sqlite3_wal_checkpoint_v2(db->conn, NULL,
	    SQLITE_CHECKPOINT_PASSIVE, &log_frames, &copied);
	if (rc == SQLITE_OK && log_frames > NOOM_WAL_RESTART_FRAMES) {
		/* Writers wait while it waits: give up after a few ms (a
		 * reader still in the log), and try again next time. */
		sqlite3_busy_timeout(db->conn, RESTART_WAIT_MS);
		rc = sqlite3_wal_checkpoint_v2(db->conn, NULL,
		    SQLITE_CHECKPOINT_RESTART, &log_frames, &copied);
		sqlite3_busy_handler(db->conn, busy_wait, db->metrics);
	}
	if (rc == SQLITE_OK && copied == log_frames) {
		db->data_version = version;
		if (log_frames > 0)
			log_restart(db);
	}
	if (rc == SQLITE_OK || rc == SQLITE_BUSY)
		return 0;
	db_fail(db, "checkpoint");
	return -1;
}

/* Finalize every statement and close; accepts NULL. */
void
db_close(struct db *db)
{
	int	 i;

	if (db == NULL)
		return;
	for (i = 0; i < S__COUNT; i++)
		sqlite3_finalize(db->stmt[i]);
	sqlite3_close(db->conn);
	free(db);
}

/* Give the write turn back, if this connection holds it. */
static void
write_end(struct db *db)
{
	if (!db->writing)
		return;
	db->writing = 0;
	pthread_mutex_unlock(&write_turn);
	if (db->metrics != NULL)
		metrics_observe(db->metrics, H_DB_WRITE,
		    mono_us() - db->write_us);
}

/* A write transaction, taking the write lock now (waiting up to the busy
 * timeout) so that it can never fail later on a lock upgrade. */
int
db_begin(struct db *db)
{
	if (db->metrics != NULL)
		db->write_us = mono_us();
	if (pthread_mutex_lock(&write_turn) != 0)
		fatal("pthread_mutex_lock");
	db->writing = 1;
	db->wrote_events = 0;
	if (run(db, st(db, S_BEGIN)) == -1) {
		write_end(db);
		return -1;
	}
	return 0;
}

/* A read transaction: one consistent snapshot, no write lock. */
int
db_begin_read(struct db *db)
{
	return run(db, st(db, S_BEGIN_READ));
}

/*
 * Commit; on failure the transaction stays open for db_rollback.  A
 * transaction that added events rings the doorbell once it is committed,
 * so that every reader of the log looks for them (and never before: a
 * reader woken early would not see them yet, and nothing would wake it
 * again).
 */
int
db_commit(struct db *db)
{
	if (run(db, st(db, S_COMMIT)) == -1)
		return -1;
	write_end(db);
	if (db->wrote_events) {
		db->wrote_events = 0;
		wake_ring();
		metrics_add(db->metrics, M_DOORBELL_RINGS, 1);
	}
	return 0;
}

/* Roll back if a transaction is open; harmless otherwise. */
void
db_rollback(struct db *db)
{
	if (!sqlite3_get_autocommit(db->conn))
		(void)run(db, st(db, S_ROLLBACK));
	db->wrote_events = 0;
	write_end(db);
}

/* Create a session known by token (stored hashed); its id goes to *id. */
int
db_session_create(struct db *db, const char *token, const char *nick,
    int64_t now, int64_t *id)
{
	sqlite3_stmt	*p = st(db, S_SESSION_NEW);
	char		 hash[TOKEN_HASH_LEN];

	if (p == NULL)
		return -1;
	if (token_hash(token, strlen(token), hash) == -1) {
		snprintf(db->err, sizeof(db->err), "sha256: no digest");
		log_warn("%s", db->err);
		return -1;
	}
	bind_s(p, ":token", hash);
	bind_s(p, ":nick", nick);
	bind_i(p, ":now", now);
	if (run(db, p) == -1)
		return -1;
	*id = sqlite3_last_insert_rowid(db->conn);
	return 0;
}

/* Fill *s from the current row of a session query. */
static void
session_row(sqlite3_stmt *p, struct session *s)
{
	memset(s, 0, sizeof(*s));
	s->id = sqlite3_column_int64(p, 0);
	snprintf(s->nickname, sizeof(s->nickname), "%s",
	    (const char *)sqlite3_column_text(p, 1));
	s->room_id = sqlite3_column_int64(p, 2);
	snprintf(s->room, sizeof(s->room), "%s",
	    (const char *)sqlite3_column_text(p, 3));
	s->join_seq = sqlite3_column_int64(p, 4);
	s->seen_ms = sqlite3_column_int64(p, 5);
	s->rl_tokens = sqlite3_column_double(p, 6);
	s->rl_ms = sqlite3_column_int64(p, 7);
	s->sig_tokens = sqlite3_column_double(p, 8);
	s->sig_ms = sqlite3_column_int64(p, 9);
	s->audio = sqlite3_column_int(p, 10);
	s->video = sqlite3_column_int(p, 11);
	s->screen = sqlite3_column_int(p, 12);
	s->host = sqlite3_column_int(p, 13);
	s->room_unlisted = sqlite3_column_int(p, 14);
	s->left_room = sqlite3_column_int64(p, 15);
	s->left_ms = sqlite3_column_int64(p, 16);
	s->left_host = sqlite3_column_int(p, 17);
	snprintf(s->transport, sizeof(s->transport), "%s",
	    (const char *)sqlite3_column_text(p, 18));
	s->hand_ms = sqlite3_column_int64(p, 19);
	s->re_tokens = sqlite3_column_double(p, 20);
	s->re_ms = sqlite3_column_int64(p, 21);
}

/* Run a one-session query; 1 found, 0 not found, -1 error. */
static int
session_get(struct db *db, sqlite3_stmt *p, struct session *s)
{
	int	 rc;

	rc = sqlite3_step(p);
	if (rc == SQLITE_ROW)
		session_row(p, s);
	else if (rc != SQLITE_DONE)
		db_fail(db, "step");
	sqlite3_reset(p);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* Look a session up by its (clear) token: 1 found, 0 unknown, -1 error. */
int
db_session_by_token(struct db *db, const char *token, struct session *s)
{
	sqlite3_stmt	*p = st(db, S_SESSION_BY_TOKEN);
	char		 hash[TOKEN_HASH_LEN];

	if (p == NULL)
		return -1;
	if (token_hash(token, strlen(token), hash) == -1) {
		snprintf(db->err, sizeof(db->err), "sha256: no digest");
		log_warn("%s", db->err);
		return -1;
	}
	bind_s(p, ":token", hash);
	return session_get(db, p, s);
}

/* Look a session up by id: 1 found, 0 unknown, -1 error. */
int
db_session_by_id(struct db *db, int64_t id, struct session *s)
{
	sqlite3_stmt	*p = st(db, S_SESSION_BY_ID);

	if (p == NULL)
		return -1;
	bind_i(p, ":sid", id);
	return session_get(db, p, s);
}

/*
 * Record that the session was seen at now, reading by transport, but only
 * if the stored time is older than before or the transport changed: most
 * polls then cost no write at all.  The UPDATE is not even started when
 * the row is fresh, because an UPDATE that matches nothing still takes
 * SQLite's one write lock, which every thread of every worker shares
 * (docs/BENCHMARKS.md: it serialised every poll).
 */
int
db_session_touch(struct db *db, int64_t sid, int64_t now, int64_t before,
    const char *transport)
{
	sqlite3_stmt	*q = st(db, S_SESSION_STALE), *p;
	int64_t		 stale;

	if (q == NULL)
		return -1;
	bind_i(q, ":sid", sid);
	bind_i(q, ":before", before);
	bind_s(q, ":transport", transport);
	if ((stale = one_int(db, q, 0)) <= 0)
		return (int)stale;	/* 0: fresh, -1: error */
	if ((p = st(db, S_SESSION_TOUCH)) == NULL)
		return -1;
	bind_i(p, ":sid", sid);
	bind_i(p, ":now", now);
	bind_i(p, ":before", before);
	bind_s(p, ":transport", transport);
	return run(db, p);
}

int
db_session_nickname(struct db *db, int64_t sid, const char *nick,
    const char *key)
{
	sqlite3_stmt	*p = st(db, S_SESSION_NICK);

	if (p == NULL)
		return -1;
	bind_i(p, ":sid", sid);
	bind_s(p, ":nick", nick);
	bind_s(p, ":key", key);
	return run(db, p);
}

/*
 * Does another member of room than sid have a nickname with this key
 * (names.c)?  1 or 0, -1 on error.
 */
int
db_nick_taken(struct db *db, int64_t room, const char *key, int64_t sid)
{
	sqlite3_stmt	*p = st(db, S_NICK_TAKEN);
	int64_t		 n;

	if (p == NULL)
		return -1;
	bind_i(p, ":room", room);
	bind_s(p, ":key", key);
	bind_i(p, ":sid", sid);
	n = one_int(db, p, 0);
	return n < 0 ? -1 : n > 0;
}

/*
 * Put the session in room (0: none) from event seq join_seq on; its hand
 * goes down unless keep_hand (a member coming back, or leaving for a
 * while: room_leave, room_enter).
 */
int
db_session_room(struct db *db, int64_t sid, int64_t room, int64_t join_seq,
    int keep_hand, int64_t now)
{
	sqlite3_stmt	*p = st(db, S_SESSION_ROOM);

	if (p == NULL)
		return -1;
	bind_i(p, ":keep_hand", keep_hand);
	bind_i(p, ":sid", sid);
	bind_i(p, ":room", room);
	bind_i(p, ":seq", join_seq);
	bind_i(p, ":now", now);
	return run(db, p);
}

/* Store one of the session's rate-limit buckets (enum bucket). */
int
db_session_rate(struct db *db, int64_t sid, int bucket, double tokens,
    int64_t now)
{
	static const enum stmt	 stmts[] = { [BUCKET_WRITE] = S_SESSION_RATE,
	    [BUCKET_SIGNAL] = S_SESSION_SIG_RATE,
	    [BUCKET_REACTION] = S_SESSION_RE_RATE };
	sqlite3_stmt		*p = st(db, stmts[bucket]);

	if (p == NULL)
		return -1;
	bind_i(p, ":sid", sid);
	bind_d(p, ":tokens", tokens);
	bind_i(p, ":now", now);
	return run(db, p);
}

/* Raise (at: when, > 0) or lower (0) session sid's hand. */
int
db_session_hand(struct db *db, int64_t sid, int64_t at)
{
	sqlite3_stmt	*p = st(db, S_SESSION_HAND);

	if (p == NULL)
		return -1;
	bind_i(p, ":sid", sid);
	bind_i(p, ":at", at);
	return run(db, p);
}

/* Fills *m from the current row of a member query (read lasts one step). */
typedef void (*member_read)(sqlite3_stmt *, struct member *);

/*
 * Step p, a query of members, calling fn with each row as read() fills it,
 * until the rows end or fn returns non-zero.  0, or -1 on error.
 */
static int
member_rows(struct db *db, sqlite3_stmt *p, member_read read, member_fn fn,
    void *arg)
{
	struct member	 m;
	int		 rc;

	while ((rc = sqlite3_step(p)) == SQLITE_ROW) {
		memset(&m, 0, sizeof(m));
		read(p, &m);
		if (fn(arg, &m) != 0)
			break;
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		db_fail(db, "step");
	sqlite3_reset(p);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

/* A member of S_ROOM_MEMBERS. */
static void
member_read_full(sqlite3_stmt *p, struct member *m)
{
	m->session_id = sqlite3_column_int64(p, 0);
	m->nickname = (const char *)sqlite3_column_text(p, 1);
	m->audio = sqlite3_column_int(p, 2);
	m->video = sqlite3_column_int(p, 3);
	m->screen = sqlite3_column_int(p, 4);
	m->host = sqlite3_column_int(p, 5);
	m->transport = (const char *)sqlite3_column_text(p, 6);
	m->created_ms = sqlite3_column_int64(p, 7);
	m->hand_ms = sqlite3_column_int64(p, 8);
}

/* A session id and nickname (S_WAITING_LIST), and when S_HANDS its hand. */
static void
member_read_brief(sqlite3_stmt *p, struct member *m)
{
	m->session_id = sqlite3_column_int64(p, 0);
	m->nickname = (const char *)sqlite3_column_text(p, 1);
	if (sqlite3_column_count(p) > 2)
		m->hand_ms = sqlite3_column_int64(p, 2);
}

/* Call fn for the first max raised hands of room, the earliest first. */
int
db_room_hands(struct db *db, int64_t room, int max, member_fn fn, void *arg)
{
	sqlite3_stmt	*p = st(db, S_HANDS);

	if (p == NULL)
		return -1;
	bind_i(p, ":room", room);
	bind_i(p, ":max", max);
	return member_rows(db, p, member_read_brief, fn, arg);
}

/* Record a session's media state (booleans). */
int
db_session_media(struct db *db, int64_t sid, int audio, int video, int screen)
{
	sqlite3_stmt	*p = st(db, S_SESSION_MEDIA);

	if (p == NULL)
		return -1;
	bind_i(p, ":sid", sid);
	bind_i(p, ":audio", audio);
	bind_i(p, ":video", video);
	bind_i(p, ":screen", screen);
	return run(db, p);
}

/* How many members of its room joined before session sid, or -1. */
int
db_member_rank(struct db *db, int64_t sid)
{
	sqlite3_stmt	*p = st(db, S_MEMBER_RANK);

	if (p == NULL)
		return -1;
	bind_i(p, ":sid", sid);
	return (int)one_int(db, p, 0);
}

/*
 * Fill ids with up to max sessions in a room, or waiting for one, that
 * were last seen before cutoff; returns how many, or -1.
 */
int
db_sessions_stale(struct db *db, int64_t cutoff, int64_t *ids, int max)
{
	sqlite3_stmt	*p = st(db, S_SESSIONS_STALE);
	int		 n = 0, rc;

	if (p == NULL)
		return -1;
	bind_i(p, ":cutoff", cutoff);
	bind_i(p, ":max", max);
	while ((rc = sqlite3_step(p)) == SQLITE_ROW && n < max)
		ids[n++] = sqlite3_column_int64(p, 0);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		db_fail(db, "step");
		n = -1;
	}
	sqlite3_reset(p);
	return n;
}

/* Forget sessions in no room that were not seen since cutoff. */
int
db_sessions_expire(struct db *db, int64_t cutoff, int64_t unjoined)
{
	sqlite3_stmt	*p = st(db, S_SESSIONS_EXPIRE);

	if (p == NULL)
		return -1;
	bind_i(p, ":cutoff", cutoff);
	bind_i(p, ":unjoined", unjoined);
	return run(db, p);
}

/*
 * The hash stored for a secret (a room's key, an admin token) in out: ""
 * for none (NULL: a listed room), else token_hash() of it.  0, or -1.
 */
static int
secret_hash(struct db *db, const char *key, char out[TOKEN_HASH_LEN])
{
	out[0] = '\0';
	if (key == NULL || token_hash(key, strlen(key), out) == 0)
		return 0;
	snprintf(db->err, sizeof(db->err), "sha256: no digest");
	log_warn("%s", db->err);
	return -1;
}

/*
 * The id of room name in *id: the listed one (key NULL) or the unlisted one
 * with that key (the clear key; hashed here).  1 found, 0 not, -1 error.
 */
int
db_room_find(struct db *db, const char *name, const char *key, int64_t *id)
{
	sqlite3_stmt	*p = st(db, S_ROOM_FIND);
	char		 hash[TOKEN_HASH_LEN];
	int64_t		 v;

	if (p == NULL || secret_hash(db, key, hash) == -1)
		return -1;
	bind_s(p, ":name", name);
	bind_s(p, ":key", hash);
	if ((v = one_int(db, p, 0)) <= 0)
		return (int)v;
	*id = v;
	return 1;
}

/* Open room name: listed (key NULL) or unlisted with that (clear) key. */
int
db_room_create(struct db *db, const char *name, const char *key, int64_t now,
    int64_t *id)
{
	sqlite3_stmt	*p = st(db, S_ROOM_NEW);
	char		 hash[TOKEN_HASH_LEN];

	if (p == NULL || secret_hash(db, key, hash) == -1)
		return -1;
	bind_s(p, ":name", name);
	bind_s(p, ":key", hash);
	bind_i(p, ":now", now);
	if (run(db, p) == -1)
		return -1;
	*id = sqlite3_last_insert_rowid(db->conn);
	return 0;
}

/*
 * Delete an (empty) room with its message history, its bans and its
 * waiting list (the caller has told those waiting).
 */
int
db_room_delete(struct db *db, int64_t room)
{
	static const enum stmt stmts[] = { S_ROOM_DELETE_MSGS,
	    S_ROOM_DELETE_BANS, S_ROOM_DELETE_WAITING, S_ROOM_DELETE };
	sqlite3_stmt		*p;
	size_t			 i;

	for (i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++) {
		if ((p = st(db, stmts[i])) == NULL)
			return -1;
		bind_i(p, ":room", room);
		if (run(db, p) == -1)
			return -1;
	}
	return 0;
}

/* Number of members of room, or -1. */
int
db_room_count(struct db *db, int64_t room)
{
	sqlite3_stmt	*p = st(db, S_ROOM_COUNT);

	if (p == NULL)
		return -1;
	bind_i(p, ":room", room);
	return (int)one_int(db, p, 0);
}

/*
 * Call fn for each of the first max members of room, in join order (the
 * order that decides who is in the call).  0, or -1 on error.
 */
int
db_room_members(struct db *db, int64_t room, int max, member_fn fn,
    void *arg)
{
	sqlite3_stmt	*p = st(db, S_ROOM_MEMBERS);

	if (p == NULL)
		return -1;
	bind_i(p, ":room", room);
	bind_i(p, ":max", max);
	return member_rows(db, p, member_read_full, fn, arg);
}

/*
 * Call fn for the open rooms whose name holds q (any case; "" for all),
 * busiest first (members, then the last join or message), skipping offset
 * and at most limit.  0, or -1 on error.
 */
int
db_rooms_list(struct db *db, const char *q, int limit, int offset,
    room_fn fn, void *arg)
{
	sqlite3_stmt	*p = st(db, S_ROOMS_LIST);
	struct room_row	 r;
	int		 rc;

	if (p == NULL)
		return -1;
	bind_s(p, ":q", q);
	bind_i(p, ":limit", limit);
	bind_i(p, ":offset", offset);
	while ((rc = sqlite3_step(p)) == SQLITE_ROW) {
		r.name = (const char *)sqlite3_column_text(p, 0);
		r.count = sqlite3_column_int64(p, 1);
		if (fn(arg, &r) != 0)
			break;
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		db_fail(db, "step");
	sqlite3_reset(p);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

/* Note activity in room (a join, a message) at now, for the room list. */
int
db_room_active(struct db *db, int64_t room, int64_t now)
{
	sqlite3_stmt	*p = st(db, S_ROOM_ACTIVE);

	if (p == NULL)
		return -1;
	bind_i(p, ":room", room);
	bind_i(p, ":now", now);
	return run(db, p);
}

/* A room's settings in *r: 1 found, 0 no such room, -1 error. */
int
db_room_info(struct db *db, int64_t room, struct room_info *r)
{
	sqlite3_stmt	*p = st(db, S_ROOM_INFO);
	int		 rc;

	if (p == NULL)
		return -1;
	bind_i(p, ":room", room);
	memset(r, 0, sizeof(*r));
	if ((rc = sqlite3_step(p)) == SQLITE_ROW) {
		r->unlisted = sqlite3_column_int(p, 0);
		r->locked = sqlite3_column_int(p, 1);
		r->waiting_room = sqlite3_column_int(p, 2);
		snprintf(r->password, sizeof(r->password), "%s",
		    (const char *)sqlite3_column_text(p, 3));
	} else if (rc != SQLITE_DONE)
		db_fail(db, "step");
	sqlite3_reset(p);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* Store what the hosts set: lock, waiting room, password hash ("": none). */
int
db_room_settings(struct db *db, int64_t room, const struct room_info *r)
{
	sqlite3_stmt	*p = st(db, S_ROOM_SETTINGS);

	if (p == NULL)
		return -1;
	bind_i(p, ":room", room);
	bind_i(p, ":locked", r->locked);
	bind_i(p, ":waiting", r->waiting_room);
	bind_s(p, ":password", r->password);
	return run(db, p);
}

int
db_host_set(struct db *db, int64_t sid, int host)
{
	sqlite3_stmt	*p = st(db, S_HOST_SET);

	if (p == NULL)
		return -1;
	bind_i(p, ":sid", sid);
	bind_i(p, ":host", host);
	return run(db, p);
}

/* Step p and collect its first column into ids (at most max); n or -1. */
static int
ids_get(struct db *db, sqlite3_stmt *p, int64_t *ids, int max)
{
	int	 n = 0, rc = SQLITE_DONE;

	while (n < max && (rc = sqlite3_step(p)) == SQLITE_ROW)
		ids[n++] = sqlite3_column_int64(p, 0);
	if (n < max && rc != SQLITE_DONE) {
		db_fail(db, "step");
		n = -1;
	}
	sqlite3_reset(p);
	return n;
}

/* The first max hosts of room, in join order, into ids; how many, or -1. */
int
db_room_hosts(struct db *db, int64_t room, int64_t *ids, int max)
{
	sqlite3_stmt	*p = st(db, S_HOSTS);

	if (p == NULL)
		return -1;
	bind_i(p, ":room", room);
	bind_i(p, ":max", max);
	return ids_get(db, p, ids, max);
}

/* The member of room present longest in *sid: 1, 0 (room empty), -1. */
int
db_room_eldest(struct db *db, int64_t room, int64_t *sid)
{
	sqlite3_stmt	*p = st(db, S_ELDEST);

	if (p == NULL)
		return -1;
	bind_i(p, ":room", room);
	return ids_get(db, p, sid, 1);
}

/*
 * Remember that session sid left room of its own accord at now, and
 * whether it was a host there; it is no longer a host.
 */
int
db_session_left(struct db *db, int64_t sid, int64_t room, int host,
    int64_t now)
{
	sqlite3_stmt	*p = st(db, S_SESSION_LEFT);

	if (p == NULL)
		return -1;
	bind_i(p, ":sid", sid);
	bind_i(p, ":room", room);
	bind_i(p, ":host", host);
	bind_i(p, ":now", now);
	return run(db, p);
}

/* Session sid waits to enter room (instead of any room it waited for). */
int
db_waiting_add(struct db *db, int64_t sid, int64_t room, int64_t now)
{
	sqlite3_stmt	*p = st(db, S_WAITING_ADD);

	if (p == NULL)
		return -1;
	bind_i(p, ":sid", sid);
	bind_i(p, ":room", room);
	bind_i(p, ":now", now);
	return run(db, p);
}

/* The room session sid waits for in *room: 1, 0 (none), -1. */
int
db_waiting_for(struct db *db, int64_t sid, int64_t *room)
{
	sqlite3_stmt	*p = st(db, S_WAITING_FOR);

	if (p == NULL)
		return -1;
	bind_i(p, ":sid", sid);
	return ids_get(db, p, room, 1);
}

/* Session sid waits no more. */
int
db_waiting_del(struct db *db, int64_t sid)
{
	sqlite3_stmt	*p = st(db, S_WAITING_DEL);

	if (p == NULL)
		return -1;
	bind_i(p, ":sid", sid);
	return run(db, p);
}

/* Call fn for the first max sessions waiting for room, longest first. */
int
db_waiting_list(struct db *db, int64_t room, int max, member_fn fn,
    void *arg)
{
	sqlite3_stmt	*p = st(db, S_WAITING_LIST);

	if (p == NULL)
		return -1;
	bind_i(p, ":room", room);
	bind_i(p, ":max", max);
	return member_rows(db, p, member_read_brief, fn, arg);
}

/* How many sessions wait for room, or -1. */
int
db_waiting_count(struct db *db, int64_t room)
{
	sqlite3_stmt	*p = st(db, S_WAITING_COUNT);

	if (p == NULL)
		return -1;
	bind_i(p, ":room", room);
	return (int)one_int(db, p, 0);
}

/* A host removed session sid from room: it stays out until room closes. */
int
db_ban_add(struct db *db, int64_t room, int64_t sid)
{
	sqlite3_stmt	*p = st(db, S_BAN_ADD);

	if (p == NULL)
		return -1;
	bind_i(p, ":room", room);
	bind_i(p, ":sid", sid);
	return run(db, p);
}

/* Was session sid removed from room?  1 or 0, -1 on error. */
int
db_banned(struct db *db, int64_t room, int64_t sid)
{
	sqlite3_stmt	*p = st(db, S_BANNED);
	int64_t		 n;

	if (p == NULL)
		return -1;
	bind_i(p, ":room", room);
	bind_i(p, ":sid", sid);
	n = one_int(db, p, 0);
	return n < 0 ? -1 : n > 0;
}

/* An admin session known by token (stored hashed) from addr: *id. */
int
db_admin_create(struct db *db, const char *token, const char *addr,
    int64_t now, int64_t *id)
{
	sqlite3_stmt	*p = st(db, S_ADMIN_NEW);
	char		 hash[TOKEN_HASH_LEN];

	if (p == NULL || secret_hash(db, token, hash) == -1)
		return -1;
	bind_s(p, ":token", hash);
	bind_s(p, ":addr", addr);
	bind_i(p, ":now", now);
	if (run(db, p) == -1)
		return -1;
	*id = sqlite3_last_insert_rowid(db->conn);
	return 0;
}

/*
 * The admin session of token, if it was used since idle and made since
 * old: 1 with *id (its seen time refreshed when older than a minute), 0,
 * or -1.  Inside the caller's write transaction.
 */
int
db_admin_get(struct db *db, const char *token, int64_t now, int64_t idle,
    int64_t old, int64_t *id)
{
	sqlite3_stmt	*p = st(db, S_ADMIN_GET), *u;
	char		 hash[TOKEN_HASH_LEN];
	int64_t		 seen = 0;
	int		 rc;

	if (p == NULL || secret_hash(db, token, hash) == -1)
		return -1;
	bind_s(p, ":token", hash);
	bind_i(p, ":idle", idle);
	bind_i(p, ":old", old);
	if ((rc = sqlite3_step(p)) == SQLITE_ROW) {
		*id = sqlite3_column_int64(p, 0);
		seen = sqlite3_column_int64(p, 1);
	} else if (rc != SQLITE_DONE)
		db_fail(db, "step");
	sqlite3_reset(p);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? 0 : -1;
	if (now - seen < 60000)
		return 1;
	if ((u = st(db, S_ADMIN_SEEN)) == NULL)
		return -1;
	bind_i(u, ":id", *id);
	bind_i(u, ":now", now);
	return run(db, u) == -1 ? -1 : 1;
}

int
db_admin_delete(struct db *db, const char *token)
{
	sqlite3_stmt	*p = st(db, S_ADMIN_DEL);
	char		 hash[TOKEN_HASH_LEN];

	if (p == NULL || secret_hash(db, token, hash) == -1)
		return -1;
	bind_s(p, ":token", hash);
	return run(db, p);
}

/* Forget admin sessions unused since idle or made before old. */
int
db_admins_expire(struct db *db, int64_t idle, int64_t old)
{
	sqlite3_stmt	*p = st(db, S_ADMINS_EXPIRE);

	if (p == NULL)
		return -1;
	bind_i(p, ":idle", idle);
	bind_i(p, ":old", old);
	return run(db, p);
}

/*
 * Call fn for the first max open rooms, listed and unlisted, busiest
 * first, with what the admin page shows of each.  0, or -1.
 */
int
db_rooms_all(struct db *db, int max, room_fn fn, void *arg)
{
	sqlite3_stmt	*p = st(db, S_ROOMS_ALL);
	struct room_row	 r;
	int		 rc;

	if (p == NULL)
		return -1;
	bind_i(p, ":max", max);
	while ((rc = sqlite3_step(p)) == SQLITE_ROW) {
		r.id = sqlite3_column_int64(p, 0);
		r.name = (const char *)sqlite3_column_text(p, 1);
		r.unlisted = sqlite3_column_int(p, 2);
		r.count = sqlite3_column_int64(p, 3);
		r.created_ms = sqlite3_column_int64(p, 4);
		r.locked = sqlite3_column_int(p, 5);
		r.waiting_room = sqlite3_column_int(p, 6);
		r.password = sqlite3_column_int(p, 7);
		if (fn(arg, &r) != 0)
			break;
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		db_fail(db, "step");
	sqlite3_reset(p);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

/*
 * The rate-limit bucket of client address addr for kind of call: 1 with
 * *tokens and *ms (when they were counted), 0 if it has none, -1 on error.
 */
int
db_client_bucket(struct db *db, const char *addr, int kind, double *tokens,
    int64_t *ms)
{
	sqlite3_stmt	*p = st(db, S_CLIENT_GET);
	int		 rc;

	if (p == NULL)
		return -1;
	bind_s(p, ":addr", addr);
	bind_i(p, ":kind", kind);
	if ((rc = sqlite3_step(p)) == SQLITE_ROW) {
		*tokens = sqlite3_column_double(p, 0);
		*ms = sqlite3_column_int64(p, 1);
	}
	sqlite3_reset(p);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* Store the bucket of addr for kind: tokens left, counted at now. */
int
db_client_bucket_set(struct db *db, const char *addr, int kind, double tokens,
    int64_t now)
{
	sqlite3_stmt	*p = st(db, S_CLIENT_SET);

	if (p == NULL)
		return -1;
	bind_s(p, ":addr", addr);
	bind_i(p, ":kind", kind);
	bind_d(p, ":tokens", tokens);
	bind_i(p, ":now", now);
	return run(db, p);
}

/* Forget the buckets of clients not counted since cutoff. */
int
db_clients_expire(struct db *db, int64_t cutoff)
{
	sqlite3_stmt	*p = st(db, S_CLIENTS_EXPIRE);

	if (p == NULL)
		return -1;
	bind_i(p, ":cutoff", cutoff);
	return run(db, p);
}

/*
 * Store a chat message of room from sid, whose event body is the JSON
 * object text data (without its "id"); the new id goes to *id.  The caller
 * adds the id to what it publishes; readers of the history get it back
 * beside the text (db_history).
 */
int
db_message_add(struct db *db, int64_t room, int64_t sid, int64_t to,
    const char *cid, int64_t now, const char *data, int64_t *id)
{
	sqlite3_stmt	*p;

	if ((p = st(db, S_MSG_NEW)) == NULL)
		return -1;
	bind_i(p, ":room", room);
	bind_i(p, ":sid", sid);
	bind_i(p, ":to", to);
	bind_s(p, ":cid", cid);
	bind_s(p, ":data", data);
	bind_i(p, ":now", now);
	if (run(db, p) == -1)
		return -1;
	*id = sqlite3_last_insert_rowid(db->conn);
	return 0;
}

/*
 * A message this session already sent with client id cid: 1 and its id and
 * time, 0 when there is none, -1 on error.
 */
int
db_message_by_client(struct db *db, int64_t sid, const char *cid, int64_t *id,
    int64_t *ts)
{
	sqlite3_stmt	*p = st(db, S_MSG_BY_CLIENT);
	int		 rc;

	if (p == NULL)
		return -1;
	bind_i(p, ":sid", sid);
	bind_s(p, ":cid", cid);
	rc = sqlite3_step(p);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(p, 0);
		*ts = sqlite3_column_int64(p, 1);
	} else if (rc != SQLITE_DONE)
		db_fail(db, "step");
	sqlite3_reset(p);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* Call fn for the last max messages of room, oldest first; 0 or -1. */
int
db_history(struct db *db, int64_t room, int max, message_fn fn, void *arg)
{
	sqlite3_stmt	*p = st(db, S_HISTORY);
	struct message	 m;
	int		 rc;

	if (p == NULL)
		return -1;
	bind_i(p, ":room", room);
	bind_i(p, ":max", max);
	while ((rc = sqlite3_step(p)) == SQLITE_ROW) {
		m.id = sqlite3_column_int64(p, 0);
		m.data = (const char *)sqlite3_column_text(p, 1);
		if (fn(arg, &m) != 0)
			break;
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		db_fail(db, "step");
	sqlite3_reset(p);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

/* Keep at most keep messages per room (the history a newcomer sees). */
int
db_messages_trim(struct db *db, int keep)
{
	sqlite3_stmt	*p = st(db, S_MSGS_TRIM);

	if (p == NULL)
		return -1;
	bind_i(p, ":keep", keep);
	return run(db, p);
}

/*
 * Append an event to the log, inside the caller's write transaction: for
 * room (0: none), for target (0: everyone the scope allows), of type, with
 * data (a JSON object's text) and whether readers may hold it (ev->hold).
 * The commit then rings the doorbell (db_commit).  Returns its sequence
 * number, or -1.
 */
int64_t
db_event_add(struct db *db, int64_t room, int64_t target, const char *type,
    const char *data, int hold, int64_t now)
{
	sqlite3_stmt	*p = st(db, S_EVENT_NEW);

	if (p == NULL)
		return -1;
	bind_i(p, ":room", room);
	bind_i(p, ":target", target);
	bind_s(p, ":type", type);
	bind_s(p, ":data", data);
	bind_i(p, ":now", now);
	bind_i(p, ":hold", hold);
	if (run(db, p) == -1)
		return -1;
	db->wrote_events = 1;
	return sqlite3_last_insert_rowid(db->conn);
}

/*
 * The log's end: the newest sequence number ever assigned (0 for an empty
 * log), or -1.
 */
int64_t
db_log_end(struct db *db)
{
	return one_int(db, st(db, S_LOG_END), 0);
}

/* Events up to and including this number have been trimmed; -1 on error. */
int64_t
db_trimmed_upto(struct db *db)
{
	return one_int(db, st(db, S_TRIMMED), 0);
}

/* When event seq was written (wall ms); 0 if not in the log, -1 on error. */
int64_t
db_event_time(struct db *db, int64_t seq)
{
	sqlite3_stmt	*p;

	if ((p = st(db, S_EVENT_TIME)) == NULL)
		return -1;
	bind_i(p, ":seq", seq);
	return one_int(db, p, 0);
}

/* Call fn for each row of an event query; 0, or -1 on error. */
static int
events_each(struct db *db, sqlite3_stmt *p, event_fn fn, void *arg)
{
	struct event	 ev;
	int		 rc;

	while ((rc = sqlite3_step(p)) == SQLITE_ROW) {
		ev.seq = sqlite3_column_int64(p, 0);
		ev.room_id = sqlite3_column_int64(p, 1);
		ev.target_id = sqlite3_column_int64(p, 2);
		ev.type = (const char *)sqlite3_column_text(p, 3);
		ev.data = (const char *)sqlite3_column_text(p, 4);
		ev.created_ms = sqlite3_column_int64(p, 5);
		ev.hold = sqlite3_column_int(p, 6);
		if (fn(arg, &ev) != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		db_fail(db, "step");
	sqlite3_reset(p);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/*
 * Call fn, in order, for up to max events after cursor that session sid in
 * room (since join_seq) may see.
 */
int
db_events_visible(struct db *db, int64_t cursor, int64_t sid, int64_t room,
    int64_t join_seq, int max, event_fn fn, void *arg)
{
	sqlite3_stmt	*p = st(db, S_EVENTS_VISIBLE);

	if (p == NULL)
		return -1;
	bind_i(p, ":cursor", cursor);
	bind_i(p, ":sid", sid);
	bind_i(p, ":room", room);
	bind_i(p, ":join", join_seq);
	bind_i(p, ":max", max);
	return events_each(db, p, fn, arg);
}

/* Call fn, in order, for up to max events after cursor, whoever sees them. */
int
db_events_after(struct db *db, int64_t cursor, int max, event_fn fn, void *arg)
{
	sqlite3_stmt	*p = st(db, S_EVENTS_AFTER);

	if (p == NULL)
		return -1;
	bind_i(p, ":cursor", cursor);
	bind_i(p, ":max", max);
	return events_each(db, p, fn, arg);
}

/*
 * Drop events created before cutoff and remember the highest dropped number,
 * so that older cursors get a resync answer.  Runs in the caller's
 * transaction.
 */
int
db_events_trim(struct db *db, int64_t cutoff)
{
	sqlite3_stmt	*p;
	int64_t		 upto;

	if ((p = st(db, S_EVENTS_TRIM_MAX)) == NULL)
		return -1;
	bind_i(p, ":cutoff", cutoff);
	if ((upto = one_int(db, p, 0)) <= 0)
		return (int)upto;
	if ((p = st(db, S_TRIMMED_SET)) == NULL)
		return -1;
	bind_i(p, ":upto", upto);
	if (run(db, p) == -1)
		return -1;
	if ((p = st(db, S_EVENTS_TRIM)) == NULL)
		return -1;
	bind_i(p, ":upto", upto);
	return run(db, p);
}

/* The VideoRoom number of room's SFU call: > 0, 0 when its call is not on the SFU, or -1. */
int64_t
db_sfu_room(struct db *db, int64_t room)
{
	sqlite3_stmt	*p = st(db, S_SFU_ROOM);

	if (p == NULL)
		return -1;
	bind_i(p, ":room", room);
	return one_int(db, p, 0);
}

/* Put room's call on the SFU as VideoRoom janus (kept if it is there already). */
int
db_sfu_room_add(struct db *db, int64_t room, int64_t janus, int64_t now_ms)
{
	sqlite3_stmt	*p = st(db, S_SFU_ROOM_ADD);

	if (p == NULL)
		return -1;
	bind_i(p, ":room", room);
	bind_i(p, ":janus", janus);
	bind_i(p, ":now", now_ms);
	return run(db, p);
}

/* Room's call leaves the SFU (if it is still on VideoRoom janus). */
int
db_sfu_room_drop(struct db *db, int64_t room, int64_t janus)
{
	sqlite3_stmt	*p = st(db, S_SFU_ROOM_DROP);

	if (p == NULL)
		return -1;
	bind_i(p, ":room", room);
	bind_i(p, ":janus", janus);
	return run(db, p);
}

/*
 * Fill rows with up to max rooms whose call is on the SFU, with their
 * member counts (0 for a room that is gone); how many, or -1.
 */
int
db_sfu_rooms(struct db *db, struct sfu_row *rows, int max)
{
	sqlite3_stmt	*p = st(db, S_SFU_ROOMS);
	int		 n = 0, rc = SQLITE_DONE;

	if (p == NULL)
		return -1;
	bind_i(p, ":max", max);
	while (n < max && (rc = sqlite3_step(p)) == SQLITE_ROW) {
		rows[n].room_id = sqlite3_column_int64(p, 0);
		rows[n].janus_id = sqlite3_column_int64(p, 1);
		rows[n].members = sqlite3_column_int64(p, 2);
		n++;
	}
	if (n < max && rc != SQLITE_DONE) {
		db_fail(db, "step");
		n = -1;
	}
	sqlite3_reset(p);
	return n;
}
