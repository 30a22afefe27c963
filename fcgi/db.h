/*
 * db.h — the store: the only place that knows SQL exists.
 *
 * Everything the handlers need from the database is one function here; db.c
 * prepares each statement once per connection and binds values by name.  A
 * struct db is one SQLite connection and belongs to one thread.  Functions
 * return 0 on success and -1 on a database error (already logged) unless
 * their comment says otherwise.
 *
 * This interface is deliberately narrow (sessions, rooms, messages, the event
 * log, maintenance) so that another engine can stand behind it.
 */
#ifndef NOOM_DB_H
#define NOOM_DB_H

#include <stdint.h>
#include <jansson.h>

struct db;

struct session {
	int64_t	 id;
	char	 nickname[4 * 32 + 1];	/* UTF-8, at most 32 code points */
	int64_t	 room_id;		/* 0: in no room */
	char	 room[4 * 64 + 1];
	int64_t	 join_seq;
	int64_t	 seen_ms;
	double	 rl_tokens;		/* chat/write allowance */
	int64_t	 rl_ms;
	double	 sig_tokens;		/* signaling allowance */
	int64_t	 sig_ms;
	int	 audio, video, screen;	/* media state, booleans */
};

/* One event as read back from the log. */
struct event {
	int64_t		 seq;
	int64_t		 room_id;	/* 0: not a room event */
	int64_t		 target_id;	/* 0: not addressed */
	const char	*type;		/* valid until the next db call */
	const char	*data;		/* JSON object text, same lifetime */
	int64_t		 created_ms;	/* wall ms it was written */
	int		 hold;		/* may wait for company (event_holdable) */
};
typedef int (*event_fn)(void *, const struct event *);

int	 db_migrate(const char *, const char *, char **);
struct db *db_open(const char *, char **);
void	 db_close(struct db *);
void	 db_init(void);
int	 db_checkpoint(struct db *);

int	 db_begin(struct db *);
int	 db_begin_read(struct db *);
int	 db_commit(struct db *);
void	 db_rollback(struct db *);

int	 db_session_create(struct db *, const char *, const char *, int64_t,
	    int64_t *);
int	 db_session_by_token(struct db *, const char *, struct session *);
int	 db_session_by_id(struct db *, int64_t, struct session *);
int	 db_session_touch(struct db *, int64_t, int64_t, int64_t);
int	 db_session_nickname(struct db *, int64_t, const char *);
int	 db_session_room(struct db *, int64_t, int64_t, int64_t);
int	 db_session_rate(struct db *, int64_t, int, double, int64_t);
int	 db_session_media(struct db *, int64_t, int, int, int);
int	 db_member_rank(struct db *, int64_t);
int	 db_sessions_stale(struct db *, int64_t, int64_t *, int);
int	 db_sessions_expire(struct db *, int64_t);

int	 db_room_find(struct db *, const char *, int64_t *);
int	 db_room_create(struct db *, const char *, int64_t, int64_t *);
int	 db_room_delete(struct db *, int64_t);
int	 db_room_count(struct db *, int64_t);
int	 db_room_members(struct db *, int64_t, int, json_t *);
int	 db_rooms_list(struct db *, json_t *);

int	 db_message_add(struct db *, int64_t, int64_t, const char *, int64_t,
	    json_t *, int64_t *);
int	 db_message_by_client(struct db *, int64_t, const char *, int64_t *,
	    int64_t *);
int	 db_history(struct db *, int64_t, int, json_t *);
int	 db_messages_trim(struct db *, int);

int64_t	 db_event_add(struct db *, int64_t, int64_t, const char *, json_t *,
	    int64_t);
int64_t	 db_max_seq(struct db *);
int64_t	 db_trimmed_upto(struct db *);
int64_t	 db_event_time(struct db *, int64_t);
int	 db_events_visible(struct db *, int64_t, int64_t, int64_t, int64_t,
	    int, event_fn, void *);
int	 db_events_after(struct db *, int64_t, int, event_fn, void *);
int	 db_events_trim(struct db *, int64_t);

#endif /* NOOM_DB_H */
