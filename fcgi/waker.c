/*
 * waker.c — the polls that wait, one thread per worker process.
 *
 * A handler thread that found nothing to answer (poll.c) hands the open
 * request to this process's waker with the session's reader and hold
 * (waker_wait) and goes back to accepting.  The waker alone owns the
 * waiting polls.  It sleeps in poll(2) on the doorbell (wake.c), its inbox
 * and the nearest deadline.  When the doorbell rings it reads the log once
 * from the lowest cursor of its waiting polls, and matches each new event
 * against each poll in memory (mailbox_match): one query per ring, however
 * many polls wait, and each event rendered once.
 *
 * Nothing committed between a handler thread's read and the hand-over is
 * missed: the ring for it comes after the poll is in the inbox, or the
 * poll's cursor is below the event and the scan for the poll covers it (a
 * poll handed over is scanned for as for a ring, within the ring gap).
 *
 * A waiting poll carries the session's membership as it was read; every
 * membership change writes an addressed event first (rooms.c), so the
 * waker answers the poll at that event at the latest, and the next poll
 * reads the new membership from the store.  What may wait (notices, held
 * chat) waits until its hold is due; the ring gap (struct ring_gap) keeps
 * scans at least NOOM_RING_GAP_MS apart.
 *
 * Bounds: at most WAITING_PER_SESSION polls of one session wait in a
 * process (a newer one answers the oldest at once, empty, with its cursor:
 * a client that re-polls before its last answer came needs only the
 * newest), and at most app->waiting_max of one client address (more are
 * answered 429 at once): a script cannot hold a worker's descriptors.
 *
 * When it answers a poll, the waker notes the session's reader under its
 * token's digest with the answer's cursor (repoll.c), so that the
 * session's next poll from that cursor is handed over without a read of
 * the store (waker_repoll; poll.c); an answer cut at a move drops it.
 *
 * The waker answers through the function it was made with, which owns the
 * request from then on (worker.c writes the FastCGI records): this file
 * knows nothing of FastCGI.
 */
#include <sys/eventfd.h>

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "noom.h"

#define SCAN_CHUNK	NOOM_SCAN_CHUNK	/* events a scan reads at a time */
#define WAITING_PER_SESSION 2		/* polls of one session that wait */
#define NBUCKETS	4096		/* of the session and address tables */

/* A poll waiting for events; owned by the waker once handed over. */
struct waiting {
	struct waiting	*prev, *next;	/* in deadline order */
	struct waiting	*same;		/* next in its session's bucket */
	struct client	*client;	/* its address's count, not owned */
	void		*req;		/* the open request, owned */
	struct reader	 reader;
	struct hold	 hold;
	struct repoll_key key;		/* fresh_till 0: not a poll's */
	int64_t		 deadline;	/* monotonic ms */
	int64_t		 started;	/* wall ms, for the log line */
	int64_t		 parked_us;	/* monotonic, for the metrics */
};

/*
 * The by_session bucket of p: by its session id, which is negative for an
 * admin page's reader (admin.c).
 */
static size_t
session_bucket(const struct waiting *p)
{
	return (size_t)((uint64_t)p->reader.session_id % NBUCKETS);
}

/* The route p came by, for the metrics: an admin page's wait, or a poll. */
static enum route
waiting_route(const struct waiting *p)
{
	return p->reader.session_id < 0 ? R_ADMIN_WAIT : R_POLL;
}

/* How many polls of one client address wait in this process. */
struct client {
	struct client	*next;		/* in its bucket */
	size_t		 n;
	char		 addr[NOOM_ADDR_MAX];
};

struct waker {
	const struct app *app;
	int		 slot;		/* this process's, in the metrics */
	struct waiting	*by_session[NBUCKETS];	/* chains via ->same */
	struct client	*by_addr[NBUCKETS];
	waker_answer_fn	 answer;	/* takes the request */
	struct db	*db;		/* the waker's own connection */
	struct repoll	*repoll;	/* sessions answered; shared */
	int		 inbox_fd;	/* eventfd: the inbox has entries */
	pthread_mutex_t	 lock;		/* guards inbox only */
	struct waiting	*inbox;		/* handed over, newest first */
	struct waiting	 list;		/* sentinel; waker thread only */
	size_t		 nwaiting;
	struct ring_gap	 gap;		/* waker thread only */
	struct buf	 events;	/* one answer's events; reused */
	struct buf	 body;		/* one answer; reused */
	struct log_batch log;		/* request lines till the next sleep */
	pthread_mutex_t	 newest_lock;	/* guards newest, newest_ms */
	int64_t		 newest;	/* seq of the newest event a scan read;
					   written by the waker thread, read by
					   handler threads */
	int64_t		 newest_ms;	/* ... and when it was written */
	atomic_int	 stopping;	/* waker_stop() was called */
};

/*
 * Make the waker of the worker process of slot (its index among the
 * master's workers, for the metrics); NULL with *cause on failure.
 */
struct waker *
waker_new(const struct app *app, int slot, waker_answer_fn answer,
    char **cause)
{
	struct waker	*w = xcalloc(1, sizeof(*w));

	w->app = app;
	w->slot = slot;
	w->answer = answer;
	if ((w->db = db_open(app->db_path, cause)) == NULL)
		goto fail;
	db_metrics(w->db, app->metrics);
	if ((w->inbox_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		if (asprintf(cause, "eventfd: %s", strerror(errno)) == -1)
			*cause = NULL;
		goto fail;
	}
	pthread_mutex_init(&w->lock, NULL);
	pthread_mutex_init(&w->newest_lock, NULL);
	w->list.next = w->list.prev = &w->list;
	buf_init(&w->events);
	buf_init(&w->body);
	w->repoll = repoll_new();
	return w;
fail:
	db_close(w->db);
	free(w);
	return NULL;
}

/*
 * The seq of the newest event this process's waker has read (0 before its
 * first scan), and in *written when it was written (wall ms).  Nothing newer
 * existed then; anything written since rings the doorbell, and the scan for
 * that ring starts at the oldest waiting cursor.  Called by handler threads.
 */
int64_t
waker_newest(struct waker *w, int64_t *written)
{
	int64_t	 seq;

	pthread_mutex_lock(&w->newest_lock);
	seq = w->newest;
	*written = w->newest_ms;
	pthread_mutex_unlock(&w->newest_lock);
	return seq;
}

/*
 * May the poll with the token of digest d, from cursor, at wall time now,
 * wait without reading the store?  Only if cursor is the newest event
 * this waker read (nothing newer to read: *written says when it was
 * written) and this waker answered the same session with that cursor
 * (repoll_get fills *r and *fresh_till).  1 if so, else 0.  Called by
 * handler threads.
 */
int
waker_repoll(struct waker *w, const unsigned char *d, int64_t cursor,
    int64_t now, struct reader *r, int64_t *fresh_till, int64_t *written)
{
	return cursor == waker_newest(w, written) &&
	    repoll_get(w->repoll, d, cursor, now, r, fresh_till);
}

/*
 * Hand an open request (ownership passes to the waker) whose poll found
 * nothing after r->cursor, or only what h lets wait; k (or NULL) is what
 * to note of its session when it is answered.  Called by accept threads.
 */
void
waker_wait(struct waker *w, void *req, const struct reader *r,
    const struct hold *h, const struct repoll_key *k, const char *client,
    int64_t started)
{
	struct waiting	*p = xcalloc(1, sizeof(*p));
	uint64_t	 one = 1;
	int		 first;

	p->req = req;
	/* The address travels in the entry's client slot until inbox_take
	 * counts it (the waker thread owns the table). */
	p->client = xcalloc(1, sizeof(*p->client));
	snprintf(p->client->addr, sizeof(p->client->addr), "%s",
	    client != NULL ? client : "");
	p->reader = *r;
	p->hold = *h;
	if (k != NULL)
		p->key = *k;
	p->started = started;
	p->parked_us = mono_us();
	p->deadline = mono_ms() + (int64_t)w->app->poll_timeout * 1000;
	/* Only the first entry of an inbox rings its eventfd: the waker reads
	 * the eventfd before it takes the inbox, so whatever an entry finds
	 * there is taken with it (a burst of re-polls costs one write). */
	pthread_mutex_lock(&w->lock);
	first = w->inbox == NULL;
	p->next = w->inbox;
	w->inbox = p;
	pthread_mutex_unlock(&w->lock);
	if (first && write(w->inbox_fd, &one, sizeof(one)) == -1 &&
	    errno != EAGAIN)
		log_warn("eventfd: %s", strerror(errno));
}

/*
 * Count p against its address (p->client holds the address it came with;
 * it is replaced by the address's shared count): 0, or -1 if the address
 * has app->waiting_max polls waiting already.
 */
static int
client_count(struct waker *w, struct waiting *p)
{
	struct client	*c, *mine = p->client;
	size_t		 b = str_hash(mine->addr) % NBUCKETS;

	for (c = w->by_addr[b]; c != NULL; c = c->next)
		if (strcmp(c->addr, mine->addr) == 0)
			break;
	if (c != NULL && c->n >= (size_t)w->app->waiting_max)
		return -1;
	if (c == NULL) {
		c = mine;
		c->next = w->by_addr[b];
		w->by_addr[b] = c;
	} else
		free(mine);
	c->n++;
	p->client = c;
	return 0;
}

/* p no longer waits: uncount it from its address and its session. */
static void
waiting_forget(struct waker *w, struct waiting *p)
{
	struct waiting	**pp;
	struct client	**cp, *c = p->client;

	for (pp = &w->by_session[session_bucket(p)]; *pp != NULL;
	    pp = &(*pp)->same)
		if (*pp == p) {
			*pp = p->same;
			break;
		}
	if (c != NULL && --c->n == 0) {
		for (cp = &w->by_addr[str_hash(c->addr) % NBUCKETS]; *cp != c;
		    cp = &(*cp)->next)
			;
		*cp = c->next;
		free(c);
	}
	p->client = NULL;
}

/* Answer p at once, unlinked from nothing yet: refused, or replaced. */
static void
inbox_refuse(struct waker *w, struct waiting *p)
{
	static const char body[] = "{\"error\":\"rate_limited\",\"message\":"
	    "\"Too many polls wait for this address; try again.\","
	    "\"scope\":\"client\",\"retry_after\":1}";

	w->answer(p->req, 429, body, sizeof(body) - 1);
	metrics_add(w->app->metrics, M_LIMIT_WAITING_POLLS, 1);
	metrics_request(w->app->metrics, waiting_route(p), 429,
	    (now_ms() - p->started) * 1000);
	free(p->client);
	free(p);
}

static void	waiting_answer(struct waker *, struct waiting *, int64_t, int);

/*
 * Take p into the session table: if WAITING_PER_SESSION of its session
 * wait already, the oldest of them is answered now, with its cursor.
 */
static void
session_count(struct waker *w, struct waiting *p)
{
	struct waiting	**bucket, *q, *oldest = NULL;
	int		 n = 0;

	bucket = &w->by_session[session_bucket(p)];
	for (q = *bucket; q != NULL; q = q->same)
		if (q->reader.session_id == p->reader.session_id) {
			n++;
			oldest = q;	/* the chain is newest first */
		}
	p->same = *bucket;
	*bucket = p;
	if (n >= WAITING_PER_SESSION) {
		w->events.len = 0;
		waiting_answer(w, oldest, oldest->reader.cursor, 0);
	}
}

/* Move the inbox to the tail of the waiting list, oldest first; 1 if any. */
static int
inbox_take(struct waker *w)
{
	struct waiting	*p, *rev = NULL, *next;
	uint64_t	 n;
	int		 got = 0;

	if (read(w->inbox_fd, &n, sizeof(n)) == -1 && errno != EAGAIN)
		log_warn("eventfd: %s", strerror(errno));
	pthread_mutex_lock(&w->lock);
	p = w->inbox;
	w->inbox = NULL;
	pthread_mutex_unlock(&w->lock);
	for (; p != NULL; p = next) {		/* reverse to arrival order */
		next = p->next;
		p->next = rev;
		rev = p;
	}
	for (p = rev; p != NULL; p = next) {
		next = p->next;
		if (client_count(w, p) == -1) {
			inbox_refuse(w, p);
			continue;
		}
		p->prev = w->list.prev;
		p->next = &w->list;
		w->list.prev->next = p;
		w->list.prev = p;
		w->nwaiting++;
		session_count(w, p);
		got = 1;
	}
	return got;
}

/*
 * Note that the session of the poll with key k (fresh_till 0: an admin
 * page's, or presence due: nothing to note) was answered, r being its
 * reader with the answer's cursor; or forget it if the answer ends at a
 * move (moved): its next poll reads its membership again.  Called by the
 * waker and by handler threads (a poll answered at once).
 */
void
waker_note(struct waker *w, const struct repoll_key *k,
    const struct reader *r, int moved)
{
	if (k->fresh_till == 0)
		return;
	if (moved)
		repoll_drop(w->repoll, k);
	else
		repoll_put(w->repoll, k, r);
}

/* waker_note() for p, answered with cursor. */
static void
waiting_note(struct waker *w, struct waiting *p, int64_t cursor, int moved)
{
	struct reader	 r = p->reader;

	r.cursor = cursor;
	waker_note(w, &p->key, &r, moved);
}

/*
 * Answer a waiting poll with cursor and the events in w->events (cut at a
 * move of its session if moved), unlink and free it.
 */
static void
waiting_answer(struct waker *w, struct waiting *p, int64_t cursor, int moved)
{
	/* Unlinked first: the answer may fail, the entry goes regardless. */
	p->prev->next = p->next;
	p->next->prev = p->prev;
	w->nwaiting--;
	waiting_forget(w, p);
	waiting_note(w, p, cursor, moved);
	w->body.len = 0;
	mailbox_answer_add(&w->body, cursor, w->events.data ?
	    w->events.data : "", w->events.len, 0);
	w->answer(p->req, 200, w->body.data, w->body.len);
	metrics_observe(w->app->metrics, H_POLL_WAIT, mono_us() - p->parked_us);
	metrics_request(w->app->metrics, waiting_route(p), 200,
	    (now_ms() - p->started) * 1000);
	if (!w->app->quiet)
		log_request_add(&w->log, "GET", "/api/poll", 200,
		    now_ms() - p->started, "polling");
	free(p);
}

/* Match one waiting poll against the scan (the log up to end). */
static void
waiting_match(struct waker *w, struct waiting *p, const struct scan *sc,
    int64_t end, int64_t now)
{
	struct answer	 a;

	w->events.len = 0;
	switch (mailbox_match(&p->reader, &p->hold, sc, end, now, &w->events,
	    &a)) {
	case MB_NONE:
		p->reader.cursor = a.cursor;
		break;
	case MB_HOLD:
		ring_gap_due(&w->gap, a.due);
		break;
	case MB_ANSWER:
		metrics_delivered(w->app->metrics, M_DELIVERED_POLL, &a);
		waiting_answer(w, p, a.cursor, a.moved);
		break;
	default:			/* MB_BEHIND: the next scan */
		break;
	}
}

/* Read new events once and answer every waiting poll they are for. */
static void
scan(struct waker *w)
{
	struct scan	 sc;
	struct waiting	*p, *next;
	int64_t		 from = INT64_MAX, end, now = mono_ms();
	int		 more = 1;

	memset(&sc, 0, sizeof(sc));
	ring_gap_scanned(&w->gap, now);
	for (p = w->list.next; p != &w->list; p = p->next)
		if (p->reader.cursor < from)
			from = p->reader.cursor;
	while (more && w->nwaiting > 0) {
		scan_clear(&sc, from);
		if (db_events_after(w->db, from, SCAN_CHUNK, scan_add, &sc) ==
		    -1 || sc.n == 0)
			break;
		more = sc.n == SCAN_CHUNK;
		end = sc.evs[sc.n - 1].ev.seq;
		pthread_mutex_lock(&w->newest_lock);
		w->newest = end;
		w->newest_ms = sc.evs[sc.n - 1].ev.created_ms;
		pthread_mutex_unlock(&w->newest_lock);
		for (p = w->list.next; p != &w->list; p = next) {
			next = p->next;
			waiting_match(w, p, &sc, end, now);
		}
		from = end;
	}
	scan_free(&sc);
}

/* Answer every poll whose wait is over with its cursor and no events. */
static void
expire(struct waker *w, int64_t now)
{
	struct waiting	*p;

	w->events.len = 0;
	while ((p = w->list.next) != &w->list && p->deadline <= now)
		waiting_answer(w, p, p->reader.cursor, 0);
}

/*
 * How long poll(2) may sleep: till the first deadline or scan due, and
 * never past the next heartbeat (metrics_beat: readyz sees a worker that
 * no longer runs).
 */
static int
sleep_ms(const struct waker *w, int64_t now)
{
	int64_t	 timeout = METRICS_BEAT_MS, at;

	if (w->list.next != &w->list && w->list.next->deadline - now < timeout)
		timeout = w->list.next->deadline - now;
	if ((at = ring_gap_at(&w->gap)) != 0 && at - now < timeout)
		timeout = at - now;
	return timeout < 0 ? 0 : (int)timeout;
}

/*
 * Stop the waker (from another thread): it answers every waiting poll with
 * its cursor and no events, and waker_run() returns.
 */
void
waker_stop(struct waker *w)
{
	uint64_t	 one = 1;

	atomic_store(&w->stopping, 1);
	if (write(w->inbox_fd, &one, sizeof(one)) == -1)
		log_warn("waker: %s", strerror(errno));
}

/* Answer every waiting poll with its cursor: the process is stopping. */
static void
answer_all(struct waker *w)
{
	w->events.len = 0;
	while (w->list.next != &w->list)
		waiting_answer(w, w->list.next, w->list.next->reader.cursor,
		    0);
}

/*
 * After waker_run() returned (the same thread): answer, with its cursor,
 * every poll handed over since, waiting up to ms for one to come.  The
 * process is stopping; a poll that reaches it now must not wait for
 * events it will not be there to deliver (worker.c calls this until its
 * handlers are done).
 */
void
waker_flush(struct waker *w, int ms)
{
	struct pollfd	 pfd = { .fd = w->inbox_fd, .events = POLLIN };

	if (poll(&pfd, 1, ms) == -1 && errno != EINTR)
		log_warn("poll: %s", strerror(errno));
	metrics_beat(w->app->metrics, w->slot, mono_ms());
	inbox_take(w);
	answer_all(w);
	metrics_waiting(w->app->metrics, w->slot, 0);
	log_flush(&w->log);
}

/* The waker loop of this process, until waker_stop(). */
void
waker_run(struct waker *w)
{
	struct pollfd	 pfd[2];
	int64_t		 now, at;
	int		 got;

	pfd[0].fd = w->inbox_fd;
	pfd[0].events = POLLIN;
	pfd[1].fd = wake_watch_fd();
	for (;;) {
		/* Before every sleep, and so at once in a worker that
		 * replaces a dead one in its slot. */
		metrics_waiting(w->app->metrics, w->slot,
		    (int64_t)w->nwaiting);
		metrics_beat(w->app->metrics, w->slot, mono_ms());
		log_flush(&w->log);
		/* With a scan put off, rings need not wake us: it reads
		 * everything, and the doorbell is drained just before. */
		pfd[1].events = ring_gap_put_off(&w->gap) ? 0 : POLLIN;
		if (poll(pfd, 2, sleep_ms(w, mono_ms())) == -1 &&
		    errno != EINTR)
			fatal("poll: %s", strerror(errno));
		got = 0;
		if (pfd[0].revents & POLLIN)
			got |= inbox_take(w);
		if (atomic_load(&w->stopping)) {
			answer_all(w);
			log_flush(&w->log);
			return;
		}
		if (pfd[1].revents & POLLIN)
			got = 1;
		now = mono_ms();
		if ((got && ring_gap_ring(&w->gap, now)) ||
		    ((at = ring_gap_at(&w->gap)) != 0 && now >= at)) {
			wake_drain();
			scan(w);
		}
		expire(w, mono_ms());
	}
}
