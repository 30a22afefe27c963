/*
 * maint.c — housekeeping, on a thread of its own in each worker process.
 *
 * The thread has its own store connection and two timers:
 *
 * - every maint_touch_every() it writes the seen times readers noted
 *   (presence_flush);
 * - every MAINT_EVERY_MS (offset by PID so that workers rarely collide;
 *   when they do, BEGIN IMMEDIATE serialises them and every step is
 *   idempotent) it runs maintenance(): sessions unseen for the presence
 *   timeout leave their room (presence_expire), events older than the
 *   retention are trimmed (and the highest trimmed number remembered, so
 *   older cursors get a resync answer), each room keeps only its last
 *   NOOM_HISTORY messages, sessions in no room unseen for a day (10
 *   minutes for one that never joined a room) are forgotten (their token
 *   stops working; the client makes a new session on 401), and so are the
 *   rate buckets of clients not seen for an hour.  Then the calls on the
 *   SFU (sfu_maint): members who left are kicked out of their VideoRoom,
 *   empty rooms lose theirs.
 *
 * Nothing here is on a request's path: readers and handlers never wait for
 * it, and it answers nobody.  Its connection is quiet (db_quiet): a store
 * that fails keeps failing every second, so each timer logs its first
 * failure, then one line a minute with a count, and "ok again"
 * (log_failure).
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "noom.h"

#define MAINT_EVERY_MS	2000
#define SESSION_TTL_MS	(24 * 3600 * 1000LL)	/* in no room, unseen */
#define UNJOINED_TTL_MS	(10 * 60 * 1000LL)	/* never in a room, unseen */
#define CLIENT_TTL_MS	(3600 * 1000LL)		/* a client's rate buckets */

struct maint {
	struct ctx	 ctx;		/* the thread's own connection */
	struct presence	*presence;	/* the process's, not owned */
	struct log_every flush_log;	/* presence_flush's failures */
	struct log_every maint_log;	/* maintenance()'s failures */
};

/* How often seen times are written: twice per touch period, ≤ 1 s. */
int64_t
maint_touch_every(const struct app *app)
{
	int64_t	 half = mailbox_touch_ms(app->presence_timeout) / 2;

	return half < 1000 ? half : 1000;
}

/*
 * Time out stale sessions, then trim the log, history and old sessions.
 * 0, or -1 if the store failed (db_error says why).
 */
int
maintenance(struct ctx *c, int64_t now)
{
	int	 rv = 0;

	if (presence_expire(c, now) == -1)
		rv = -1;
	if (db_begin(c->db) == -1)
		return -1;
	if (db_events_trim(c->db,
	    now - (int64_t)c->app->retention * 1000) == -1 ||
	    db_messages_trim(c->db, NOOM_HISTORY) == -1 ||
	    db_sessions_expire(c->db, now - SESSION_TTL_MS,
	    now - UNJOINED_TTL_MS) == -1 ||
	    db_clients_expire(c->db, now - CLIENT_TTL_MS) == -1 ||
	    admin_expire(c->db, now) == -1 ||
	    db_commit(c->db) == -1) {
		db_rollback(c->db);
		return -1;
	}
	return rv;
}

/* Log a timer's failure once a minute at most, and its recovery. */
static void
maint_report(struct log_every *le, int failed, struct db *db,
    const char *what)
{
	if (failed)
		log_failure(le, mono_ms(), what, db_error(db));
	else
		log_recovered(le, mono_ms(), what);
}

static void
sleep_until(int64_t at)
{
	int64_t		 ms = at - mono_ms();
	struct timespec	 ts;

	if (ms <= 0)
		return;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static void *
maint_loop(void *arg)
{
	struct maint	*m = arg;
	int64_t		 every = maint_touch_every(m->ctx.app), next_touch, next;

	next_touch = mono_ms() + every;
	next = mono_ms() + 1000 + getpid() % 1000;
	for (;;) {
		sleep_until(next_touch < next ? next_touch : next);
		if (mono_ms() >= next_touch) {
			maint_report(&m->flush_log, presence_flush(m->presence,
			    m->ctx.db, m->ctx.app) == -1, m->ctx.db, "presence");
			next_touch = mono_ms() + every;
		}
		if (mono_ms() >= next) {
			maint_report(&m->maint_log, maintenance(&m->ctx,
			    now_ms()) == -1, m->ctx.db, "maintenance");
			/* Outside any transaction: Janus may take a moment. */
			sfu_maint(&m->ctx);
			next = mono_ms() + MAINT_EVERY_MS;
		}
	}
	return NULL;
}

/*
 * Start this worker process's housekeeping thread, writing the seen times
 * noted in presence (which must outlive the process's threads).  Fatal if
 * it cannot: this runs at a worker's start.
 */
void
maint_start(const struct app *app, struct presence *presence)
{
	struct maint	*m = xcalloc(1, sizeof(*m));	/* lives as long */
	pthread_t	 t;
	char		*cause = NULL;

	m->ctx.app = app;
	m->presence = presence;
	if ((m->ctx.db = db_open(app->db_path, &cause)) == NULL)
		fatal("maintenance: %s", cause);
	db_quiet(m->ctx.db);
	db_metrics(m->ctx.db, app->metrics);
	if (pthread_create(&t, NULL, maint_loop, m) != 0)
		fatal("pthread_create: %s", strerror(errno));
	pthread_detach(t);
}
