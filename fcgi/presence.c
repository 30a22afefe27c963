/*
 * presence.c — who is still here.
 *
 * Presence comes from reading: a session whose client polls (or holds a
 * WebSocket) refreshes its seen time every mailbox_touch_ms(), and one that
 * has not for presence_timeout seconds leaves its room with a "bye"
 * (reason "timeout"), exactly as if it had left.
 *
 * Polls do not write: a handler thread notes the session as due
 * (presence_note) and maintenance (maint.c) writes every session noted in
 * one write transaction (presence_flush): one commit for all the polls of a
 * second instead of one each (at 5000 waiting clients, 1000 commits a
 * second, each of which also made every connection re-read its pages).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "noom.h"

/* Presence writes a worker gathers between two flushes. */
#define SEEN_MAX	16384

/* The sessions due a seen-time write, noted by readers. */
struct presence {
	pthread_mutex_t	 lock;		/* guards seen, nseen */
	int64_t		*seen;		/* SEEN_MAX, owned; may repeat */
	size_t		 nseen;
	int64_t		*flushing;	/* the flusher's swap of seen, owned */
};

struct presence *
presence_new(void)
{
	struct presence	*p = xcalloc(1, sizeof(*p));

	pthread_mutex_init(&p->lock, NULL);
	p->seen = xcalloc(SEEN_MAX, sizeof(*p->seen));
	p->flushing = xcalloc(SEEN_MAX, sizeof(*p->flushing));
	return p;
}

void
presence_free(struct presence *p)
{
	if (p == NULL)
		return;
	pthread_mutex_destroy(&p->lock);
	free(p->seen);
	free(p->flushing);
	free(p);
}

/*
 * Is s, polling, due a seen-time write at now (wall ms)?  Also when it read
 * by another transport until now: the admin page shows how each member is
 * connected.
 */
int
presence_due(const struct app *app, const struct session *s, int64_t now)
{
	return s->seen_ms < now - mailbox_touch_ms(app->presence_timeout) ||
	    strcmp(s->transport, "polling") != 0;
}

/*
 * Note that session sid read and is due a seen-time write; the next flush
 * writes it.  Called by handler threads.  Should more than SEEN_MAX gather
 * meanwhile, the rest are dropped: their sessions are still due at their
 * next poll.  1 if noted, 0 if dropped.
 */
int
presence_note(struct presence *p, int64_t sid)
{
	int	 noted;

	pthread_mutex_lock(&p->lock);
	if ((noted = p->nseen < SEEN_MAX))
		p->seen[p->nseen++] = sid;
	pthread_mutex_unlock(&p->lock);
	return noted;
}

static int
cmp_id(const void *a, const void *b)
{
	int64_t	 x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/*
 * Write the seen time of every session noted, in one write transaction.
 * 0, or -1 if the store failed (the caller logs db_error: this runs every
 * second, and a failure tends to repeat).
 */
int
presence_flush(struct presence *p, struct db *db, const struct app *app)
{
	int64_t	*ids, now = now_ms(), before;
	size_t	 n, i;

	pthread_mutex_lock(&p->lock);
	ids = p->seen;
	n = p->nseen;
	p->seen = p->flushing;
	p->nseen = 0;
	pthread_mutex_unlock(&p->lock);
	p->flushing = ids;
	if (n == 0)
		return 0;
	qsort(ids, n, sizeof(*ids), cmp_id);
	before = now - mailbox_touch_ms(app->presence_timeout);
	if (db_begin(db) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (i > 0 && ids[i] == ids[i - 1])
			continue;
		if (db_session_touch(db, ids[i], now, before, "polling") == -1)
			break;
	}
	if (i < n || db_commit(db) == -1) {
		db_rollback(db);
		return -1;
	}
	return 0;
}

/*
 * Time out session sid, out of its room or its wait at a room's door, if
 * it is still stale inside the transaction: 1 if it was, 0, or -1.
 */
static int
expire_one(struct ctx *c, int64_t sid, int64_t cutoff, int64_t now)
{
	struct session	 s;
	int		 found, left = 0;

	if (db_begin(c->db) == -1)
		return -1;
	if ((found = db_session_by_id(c->db, sid, &s)) == -1)
		goto fail;
	if (found && s.seen_ms < cutoff) {
		if (room_leave(c, &s, "timeout", now) == -1 ||
		    (left = waiting_cancel(c, &s, now)) == -1)
			goto fail;
		left = left || s.room_id != 0;
	}
	if (db_commit(c->db) == -1)
		goto fail;
	if (left)
		log_info("session %" PRId64 " timed out of %s", sid,
		    s.room_id != 0 ? s.room : "a waiting room");
	return left;
fail:
	db_rollback(c->db);
	return -1;
}

#define STALE_BATCH	64

/*
 * Every session in a room unseen for the presence timeout leaves it, each
 * in its own transaction (a worker racing another for the same session
 * finds it gone or fresh and does nothing).  Returns how many left, or -1
 * if the store failed (after timing out those it could).
 */
int
presence_expire(struct ctx *c, int64_t now)
{
	int64_t	 ids[STALE_BATCH], cutoff;
	int	 n, i, left = 0, failed = 0;

	cutoff = now - (int64_t)c->app->presence_timeout * 1000;
	if ((n = db_sessions_stale(c->db, cutoff, ids, STALE_BATCH)) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		switch (expire_one(c, ids[i], cutoff, now)) {
		case 1:
			left++;
			break;
		case -1:
			failed = 1;
			break;
		}
	}
	return failed ? -1 : left;
}
