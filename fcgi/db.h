/*
 * db.h — the store: the only place that knows SQL exists.
 *
 * Everything the handlers, the mailbox readers and maintenance need from the
 * database is one function here; db.c (SQLite) prepares each statement once
 * per connection and binds values by name.  A struct db is one connection
 * and belongs to one thread.  Functions return 0 on success and -1 on a
 * database error (already logged) unless their comment says otherwise.
 * The store speaks in plain values and text: it neither builds nor parses
 * JSON, and decides no policy (whether an event may be held is the
 * writer's call, passed in).
 *
 * What any store behind this interface must guarantee (a PostgreSQL one
 * with LISTEN/NOTIFY as the doorbell, say; docs/DESIGN.md):
 *
 * 1. Transactions.  db_begin() starts a write transaction that cannot fail
 *    later for lack of a lock; writers are serialised.  db_begin_read()
 *    starts a read transaction: one consistent snapshot, no write lock.
 *    db_rollback() ends either, and is harmless with none open.
 *
 * 2. The log's order is its commit order.  Every event gets a sequence
 *    number above every number handed out before (db_event_add), and in
 *    any snapshot every event at or below db_log_end() is committed and
 *    visible: no later commit ever adds an event below a number a reader
 *    has seen.  Exactly-once delivery rests on this: a reader's cursor says
 *    "I have everything up to here", and re-reading after it can neither
 *    miss nor repeat.  (SQLite gives it by serialising writers; PostgreSQL
 *    would take a lock on the log in every transaction that adds events.)
 *
 * 3. The doorbell rings after every commit that added events (db_commit
 *    calls wake_ring()), never before the commit is visible.  A ring carries
 *    nothing; readers re-read the log from their cursors.
 *
 * 4. Trimming only drops the oldest events and remembers how far it went
 *    (db_trimmed_upto), so a cursor below that is known to have missed
 *    events (a resync), and a cursor above db_log_end() is known to be from
 *    another log (a reset database).
 *
 * 5. db_events_visible() returns exactly the events mailbox_visible()
 *    (mailbox.c) accepts for that session and membership, in order.
 *
 * 6. Session tokens and unlisted rooms' keys are never stored: only a
 *    one-way hash of each, so that the database file, its backups and its
 *    log hold nothing a client could be impersonated or let in with.
 *    db_session_create, db_session_by_token, db_room_find and
 *    db_room_create take what the client holds and hash it themselves.
 *
 * Lifecycle: db_init() once per process, db_migrate() by the one process
 * that starts first (noom-worker's master), then db_check_writable() by it,
 * db_open() per thread, and db_checkpoint() every DB_CHECKPOINT_MS from one
 * connection of the master.  Errors are logged by the store unless the
 * connection was made quiet (db_quiet), whose caller logs db_error().
 */
#ifndef NOOM_DB_H
#define NOOM_DB_H

#include <stdint.h>

#include "limits.h"

struct db;

/*
 * The room_id of events for the lobby: readers in no room see them, readers
 * in a room do not (mailbox_visible).
 */
#define ROOM_LOBBY	(-1)

/*
 * The room_id of a reader that sees every event: the operator's admin page
 * (admin.c), which learns from them that something changed.
 */
#define ROOM_ALL	(-2)

struct session {
	int64_t	 id;
	char	 nickname[NOOM_UTF8_BYTES(NOOM_NICK_MAX)];
	int64_t	 room_id;		/* 0: in no room */
	char	 room[NOOM_UTF8_BYTES(NOOM_ROOM_MAX)];
	int64_t	 join_seq;
	int64_t	 seen_ms;
	double	 rl_tokens;		/* chat/write allowance */
	int64_t	 rl_ms;
	double	 sig_tokens;		/* signaling allowance */
	int64_t	 sig_ms;
	int	 audio, video, screen;	/* media state, booleans */
	int	 host;			/* a host of its room */
	int	 room_unlisted;		/* its room is unlisted */
	int64_t	 left_room;		/* the room it last left itself, */
	int64_t	 left_ms;		/* ... when, */
	int	 left_host;		/* ... and whether it was a host */
	char	 transport[12];		/* how it last read: "polling", ... */
	int64_t	 hand_ms;		/* hand raised at (0: down) */
	double	 re_tokens;		/* reaction allowance */
	int64_t	 re_ms;
};

/* A session's rate-limit buckets (db_session_rate). */
enum bucket { BUCKET_WRITE, BUCKET_SIGNAL, BUCKET_REACTION };

/* A room's settings, as db_room_info() reads them. */
struct room_info {
	int	 unlisted, locked, waiting_room;	/* booleans */
	char	 password[NOOM_PW_HASH_MAX];	/* "": none, else pw_hash() */
};

/* One event as read back from the log. */
struct event {
	int64_t		 seq;
	int64_t		 room_id;	/* 0: not a room event */
	int64_t		 target_id;	/* 0: not addressed */
	const char	*type;		/* valid until the next db call */
	const char	*data;		/* JSON object text, same lifetime */
	int64_t		 created_ms;	/* wall ms it was written */
	int		 hold;		/* may wait for company (mailbox_holdable) */
};
typedef int (*event_fn)(void *, const struct event *);

/* A member of a room, as db_room_members() reads it. */
struct member {
	int64_t		 session_id;
	const char	*nickname;	/* valid during the callback */
	int		 audio, video, screen;
	int		 host;
	const char	*transport;	/* valid during the callback */
	int64_t		 created_ms;	/* when the session was made */
	int64_t		 hand_ms;	/* hand raised at (0: down) */
};
typedef int (*member_fn)(void *, const struct member *);

/* An open room, as db_rooms_list() (name, count) or db_rooms_all() read it. */
struct room_row {
	const char	*name;		/* valid during the callback */
	int64_t		 count;		/* members */
	int64_t		 id;
	int64_t		 created_ms;
	int		 unlisted, locked, waiting_room, password;
};
typedef int (*room_fn)(void *, const struct room_row *);

/* A stored chat message, as db_history() reads it. */
struct message {
	int64_t		 id;
	const char	*data;		/* JSON object text, without "id" */
};
typedef int (*message_fn)(void *, const struct message *);

/* What the operator's metrics read from the store (db_figures). */
struct figures {
	int64_t		 sessions;
	int64_t		 rooms_listed;	/* open: with members */
	int64_t		 rooms_unlisted;
	int64_t		 in_call;	/* members in a room's mesh call */
	int64_t		 chat_only;	/* members past the mesh's size */
	int64_t		 sfu;		/* members of rooms on the SFU: all
					   in the call */
};

struct metrics;

/* How often the master checkpoints (db_checkpoint), in ms. */
#define DB_CHECKPOINT_MS	250

void	 db_init(void);
int	 db_migrate(const char *, const char *, char **);
int	 db_check_writable(const char *, char **);
struct db *db_open(const char *, char **);
void	 db_close(struct db *);
void	 db_quiet(struct db *);
const char *db_error(struct db *);
int	 db_checkpoint(struct db *);
void	 db_metrics(struct db *, struct metrics *);

int	 db_probe(struct db *);
int	 db_figures(struct db *, int, struct figures *);
void	 db_busy_ms(struct db *, int);
int	 db_begin(struct db *);
int	 db_begin_read(struct db *);
int	 db_commit(struct db *);
void	 db_rollback(struct db *);

int	 db_session_create(struct db *, const char *, const char *, int64_t,
	    int64_t *);
int	 db_session_by_token(struct db *, const char *, struct session *);
int	 db_session_by_id(struct db *, int64_t, struct session *);
int	 db_session_touch(struct db *, int64_t, int64_t, int64_t,
	    const char *);
int	 db_session_nickname(struct db *, int64_t, const char *, const char *);
int	 db_nick_taken(struct db *, int64_t, const char *, int64_t);
int	 db_session_room(struct db *, int64_t, int64_t, int64_t, int,
	    int64_t);
int	 db_session_rate(struct db *, int64_t, int, double, int64_t);
int	 db_session_media(struct db *, int64_t, int, int, int);
int	 db_session_hand(struct db *, int64_t, int64_t);
int	 db_room_hands(struct db *, int64_t, int, member_fn, void *);
int	 db_member_rank(struct db *, int64_t);
int	 db_sessions_stale(struct db *, int64_t, int64_t *, int);
int	 db_sessions_expire(struct db *, int64_t, int64_t);

int	 db_room_find(struct db *, const char *, const char *, int64_t *);
int	 db_room_create(struct db *, const char *, const char *, int64_t,
	    int64_t *);
int	 db_room_delete(struct db *, int64_t);
int	 db_room_count(struct db *, int64_t);

/* A room whose call is on the SFU (db_sfu_rooms; sfu.c). */
struct sfu_row {
	int64_t		 room_id;
	int64_t		 janus_id;	/* its VideoRoom */
	int64_t		 members;	/* 0: empty or gone */
};
int64_t	 db_sfu_room(struct db *, int64_t);
int	 db_sfu_room_add(struct db *, int64_t, int64_t, int64_t);
int	 db_sfu_room_drop(struct db *, int64_t, int64_t);
int	 db_sfu_rooms(struct db *, struct sfu_row *, int);
int	 db_room_members(struct db *, int64_t, int, member_fn, void *);
int	 db_rooms_list(struct db *, const char *, int, int, room_fn, void *);
int	 db_room_active(struct db *, int64_t, int64_t);
int	 db_room_info(struct db *, int64_t, struct room_info *);
int	 db_room_settings(struct db *, int64_t, const struct room_info *);

int	 db_host_set(struct db *, int64_t, int);
int	 db_room_hosts(struct db *, int64_t, int64_t *, int);
int	 db_room_eldest(struct db *, int64_t, int64_t *);
int	 db_session_left(struct db *, int64_t, int64_t, int, int64_t);
int	 db_waiting_add(struct db *, int64_t, int64_t, int64_t);
int	 db_waiting_for(struct db *, int64_t, int64_t *);
int	 db_waiting_del(struct db *, int64_t);
int	 db_waiting_list(struct db *, int64_t, int, member_fn, void *);
int	 db_waiting_count(struct db *, int64_t);
int	 db_ban_add(struct db *, int64_t, int64_t);
int	 db_banned(struct db *, int64_t, int64_t);

int	 db_admin_create(struct db *, const char *, const char *, int64_t,
	    int64_t *);
int	 db_admin_get(struct db *, const char *, int64_t, int64_t, int64_t,
	    int64_t *);
int	 db_admin_delete(struct db *, const char *);
int	 db_admins_expire(struct db *, int64_t, int64_t);
int	 db_rooms_all(struct db *, int, room_fn, void *);

int	 db_client_bucket(struct db *, const char *, int, double *, int64_t *);
int	 db_client_bucket_set(struct db *, const char *, int, double, int64_t);
int	 db_clients_expire(struct db *, int64_t);

int	 db_message_add(struct db *, int64_t, int64_t, int64_t, const char *,
	    int64_t, const char *, int64_t *);
int	 db_message_by_client(struct db *, int64_t, const char *, int64_t *,
	    int64_t *);
int	 db_history(struct db *, int64_t, int, message_fn, void *);
int	 db_messages_trim(struct db *, int);

int64_t	 db_event_add(struct db *, int64_t, int64_t, const char *,
	    const char *, int, int64_t);
int64_t	 db_log_end(struct db *);
int64_t	 db_trimmed_upto(struct db *);
int64_t	 db_event_time(struct db *, int64_t);
int	 db_events_visible(struct db *, int64_t, int64_t, int64_t, int64_t,
	    int, event_fn, void *);
int	 db_events_after(struct db *, int64_t, int, event_fn, void *);
int	 db_events_trim(struct db *, int64_t);

#endif /* NOOM_DB_H */
