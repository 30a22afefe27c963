/*
 * poll.c — the long-poll mailbox: GET api/poll.
 *
 *   GET /api/poll?cursor=N -> {cursor, events: [...]} or {resync: true, ...}
 *
 * A handler thread authenticates the poll and, in one read transaction,
 * reads the events after the cursor that the session may see
 * (mailbox_read).  If there are any it answers at once.  If not, or if all
 * it found may wait (struct hold, mailbox.c), it hands the still-open
 * request to this process's waker (waker.c) with the session's reader, and
 * goes straight back to accepting: a waiting poll holds no thread.
 *
 * Two kinds of re-poll wait without reading the log, with their cursor as
 * it is.  One from the newest event this process's waker has read (a
 * client that just got its answer) has nothing new to read.  One whose chat
 * is held (answered less than the chat gap ago, the usual re-poll in a busy
 * room) would read and render the chat written since only to put it back,
 * and the waker reads it again at the hold's end.  The waker scans for a
 * poll handed to it as for a ring, so anything that may not wait (a call's
 * signaling, a move) is answered by that scan at once.
 *
 * Exactly-once: an answer holds every visible event in (cursor, answer
 * cursor], in order, and nothing else; re-polling with the same cursor reads
 * the same range of an append-only log again (db.h's log-order contract).
 * A cursor below what trimming kept (or above anything ever written: a
 * reset database) is answered with resync instead.
 *
 * Bounds: NOOM_BATCH_MAX events per answer, app->poll_timeout seconds of
 * waiting, and the presence timeout is larger than the poll timeout so a
 * waiting poll always refreshes presence in time.
 */
#include <stdlib.h>
#include <string.h>

#include "noom.h"

/*
 * How long chat for a poll from cursor waits (ms; 0: not at all), in the
 * caller's read transaction: the client was answered when the cursor's
 * event was written (`written`, wall ms, if the caller knows it; else it is
 * read), and chat reaches it at most every --chat-gap ms.  Only a worker,
 * whose waker answers later, holds anything.  -1 on a store error.
 */
static int64_t
chat_wait(struct ctx *c, int64_t cursor, int64_t written, int64_t now)
{
	if (c->waker == NULL || c->app->chat_gap_ms == 0)
		return 0;
	if (written <= 0 && (written = db_event_time(c->db, cursor)) <= 0)
		return written;		/* not in the log (0): now */
	return mailbox_chat_wait(written, c->app->chat_gap_ms, now);
}

/*
 * Presence: due every few seconds, not on every poll (the session read for
 * the token says whether it is).  In a worker maintenance writes it, with
 * the other sessions due, in one transaction (presence.c); elsewhere now.
 */
static int
poll_touch(struct ctx *c, const struct session *s, int64_t now)
{
	if (!presence_due(c->app, s, now))
		return 0;
	if (c->presence != NULL) {
		presence_note(c->presence, s->id);
		return 0;
	}
	return db_session_touch(c->db, s->id, now,
	    now - mailbox_touch_ms(c->app->presence_timeout), "polling");
}

/*
 * The answer to the poll of reader r, in the caller's read transaction:
 * MB_ANSWER or MB_RESYNC with *body new, MB_NONE or MB_HOLD (wait: r's
 * cursor says from where, h what may wait), or -1 on a store error.  Also
 * for the admin page's reader (admin.c).
 */
int
poll_answer(struct ctx *c, struct reader *r, struct hold *h, int64_t wall,
    char **body)
{
	struct scan	 sc;
	struct buf	 events;
	struct answer	 a;
	int64_t		 now = mono_ms(), written = 0, wait, end;
	int		 newest, rv;

	*body = NULL;
	memset(&sc, 0, sizeof(sc));
	newest = c->waker != NULL &&
	    r->cursor == waker_newest(c->waker, &written);
	if (!newest)
		written = 0;		/* not known: chat_wait() reads it */
	if ((wait = chat_wait(c, r->cursor, written, wall)) == -1)
		return -1;
	h->notices_till = now + NOOM_NOTICE_HOLD_MS;
	h->chat_till = wait > 0 ? now + wait : 0;
	r->member_seq = r->cursor;	/* as of this snapshot, at least */
	if (newest || wait > 0)
		return MB_HOLD;
	buf_init(&events);
	rv = mailbox_read(c->db, r, h, now, &sc, &events, &a, &end);
	if (rv == MB_ANSWER || rv == MB_RESYNC)
		*body = mailbox_answer_new(a.cursor, events.data, events.len,
		    rv == MB_RESYNC);
	if (rv == MB_ANSWER)
		metrics_add(c->app->metrics, M_DELIVERED_POLL,
		    (uint64_t)a.count);
	else if (rv == MB_NONE)
		r->cursor = a.cursor;
	buf_free(&events);
	scan_free(&sc);
	return rv;
}

/* Answer with body (taken), or, if NULL, hand the poll to the waker. */
void
poll_respond(struct resp *rs, char *body)
{
	if (body != NULL) {
		rs->status = 200;
		rs->content_type = "application/json; charset=utf-8";
		rs->text = body;
	} else
		rs->wait = 1;
}

/*
 * GET api/poll: the session and the events after the cursor are read in one
 * read transaction; the presence write, when due, comes after it.
 */
void
h_poll(struct ctx *c, const struct req *rq, struct resp *rs)
{
	struct session	 s;
	int64_t		 cursor;
	char		*body = NULL;
	int		 rv;

	if (db_begin_read(c->db) == -1)
		goto fail;
	if (auth_session(c, rq, rs, &s) == -1)
		goto out;
	if (parse_cursor(rq->query, &cursor) == -1) {
		resp_error(rs, 400, "bad_cursor", "cursor must be a "
		    "non-negative integer.");
		goto out;
	}
	rs->reader.session_id = s.id;
	rs->reader.room_id = s.room_id;
	rs->reader.join_seq = s.join_seq;
	rs->reader.cursor = cursor;
	rv = poll_answer(c, &rs->reader, &rs->hold, rq->now_ms, &body);
	db_rollback(c->db);		/* a read: nothing to commit */
	if (rv == -1 || poll_touch(c, &s, rq->now_ms) == -1)
		goto fail;
	poll_respond(rs, body);
	return;
fail:
	free(body);
	resp_error(rs, 500, "internal", "The store failed.");
out:
	db_rollback(c->db);
}
