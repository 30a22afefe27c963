/*
 * presence.c — who is still here, and keeping the store bounded.
 *
 * Every worker's waker runs maintenance() every two seconds (offset by PID so
 * that workers rarely collide; when they do, BEGIN IMMEDIATE serialises them
 * and every step is idempotent):
 *
 * - a session in a room that has not polled for presence_timeout seconds
 *   leaves it with a "bye" (reason "timeout"), exactly as if it had left;
 * - events older than retention seconds are trimmed, and the highest trimmed
 *   number is remembered so older cursors get a resync answer;
 * - each room keeps only the last NOOM_HISTORY messages;
 * - sessions in no room unseen for a day are forgotten (their token stops
 *   working; the client makes a new session on 401).
 */
#include <inttypes.h>

#include "noom.h"

#define STALE_BATCH	64
#define SESSION_TTL_MS	(24 * 3600 * 1000LL)

/* Time out one session if it is still stale inside the transaction. */
static int
presence_expire(struct ctx *c, int64_t sid, int64_t cutoff, int64_t now)
{
	struct session	 s;
	int		 found, left = 0;

	if (db_begin(c->db) == -1)
		return -1;
	if ((found = db_session_by_id(c->db, sid, &s)) == -1)
		goto fail;
	if (found && s.room_id != 0 && s.seen_ms < cutoff) {
		if (room_leave(c, &s, "timeout", now) == -1)
			goto fail;
		left = 1;
	}
	if (db_commit(c->db) == -1)
		goto fail;
	if (left)
		log_info("session %" PRId64 " timed out of %s", sid, s.room);
	return left;
fail:
	db_rollback(c->db);
	return -1;
}

void
maintenance(struct ctx *c, int64_t now)
{
	int64_t	 ids[STALE_BATCH], cutoff;
	int	 n, i, rang = 0;

	cutoff = now - (int64_t)c->app->presence_timeout * 1000;
	if ((n = db_sessions_stale(c->db, cutoff, ids, STALE_BATCH)) > 0) {
		for (i = 0; i < n; i++)
			if (presence_expire(c, ids[i], cutoff, now) == 1)
				rang = 1;
	}
	if (rang)
		wake_ring();

	if (db_begin(c->db) == -1)
		return;
	if (db_events_trim(c->db,
	    now - (int64_t)c->app->retention * 1000) == -1 ||
	    db_messages_trim(c->db, NOOM_HISTORY) == -1 ||
	    db_sessions_expire(c->db, now - SESSION_TTL_MS) == -1 ||
	    db_commit(c->db) == -1)
		db_rollback(c->db);
}
