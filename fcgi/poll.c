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
 * A re-poll that needs no read at all: one from the newest event the waker
 * read, of a session the waker answered with exactly that cursor (the
 * usual poll of a long-poller between two messages).  The waker noted the
 * session's reader under its token's digest when it answered (repoll.c
 * says why that reader is the one the store would give), so the poll is
 * handed over with it, without a read transaction or the session's row.
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
 * *fresh_till: until when (wall ms) the session is known not to be due, 0
 * if that is not known (a note dropped).  0, or -1 on a store error.
 */
static int
poll_touch(struct ctx *c, const struct session *s, int64_t now,
    int64_t *fresh_till)
{
	int64_t	 touch = mailbox_touch_ms(c->app->presence_timeout);

	*fresh_till = 0;
	if (!presence_due(c->app, s, now)) {
		*fresh_till = s->seen_ms + touch;
		return 0;
	}
	if (c->presence != NULL) {
		if (presence_note(c->presence, s->id))
			*fresh_till = now + touch;
		return 0;
	}
	return db_session_touch(c->db, s->id, now, now - touch, "polling");
}

/*
 * What may wait for a poll from cursor (h): notices for the notice hold,
 * chat for the chat gap (chat_wait).  0, or -1 on a store error.
 */
static int
poll_hold(struct ctx *c, struct hold *h, int64_t cursor, int64_t written,
    int64_t wall, int64_t now)
{
	int64_t	 wait;

	if ((wait = chat_wait(c, cursor, written, wall)) == -1)
		return -1;
	h->notices_till = now + NOOM_NOTICE_HOLD_MS;
	h->chat_till = wait > 0 ? now + wait : 0;
	return 0;
}

/*
 * The answer to the poll of reader r, in the caller's read transaction:
 * MB_ANSWER (r's cursor is the answer's, *moved says whether it ends at a
 * move of the session) or MB_RESYNC with *body new, MB_NONE or MB_HOLD
 * (wait: r's cursor says from where, h what may wait), or -1 on a store
 * error.  Also for the admin page's reader (admin.c; moved NULL).
 */
int
poll_answer(struct ctx *c, struct reader *r, struct hold *h, int64_t wall,
    char **body, int *moved)
{
	struct scan	 sc;
	struct buf	 events;
	struct answer	 a;
	int64_t		 now = mono_ms(), written = 0, end;
	int		 newest, rv;

	*body = NULL;
	memset(&sc, 0, sizeof(sc));
	newest = c->waker != NULL &&
	    r->cursor == waker_newest(c->waker, &written);
	if (!newest)
		written = 0;		/* not known: chat_wait() reads it */
	if (poll_hold(c, h, r->cursor, written, wall, now) == -1)
		return -1;
	r->member_seq = r->cursor;	/* as of this snapshot, at least */
	if (newest || h->chat_till != 0)
		return MB_HOLD;
	buf_init(&events);
	rv = mailbox_read(c->db, r, h, now, &sc, &events, &a, &end);
	if (rv == MB_ANSWER || rv == MB_RESYNC)
		*body = mailbox_answer_new(a.cursor, events.data, events.len,
		    rv == MB_RESYNC);
	if (rv == MB_ANSWER) {
		metrics_delivered(c->app->metrics, M_DELIVERED_POLL, &a);
		if (moved != NULL)
			*moved = a.moved;
	}
	if (rv == MB_ANSWER || rv == MB_NONE)
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
 * The poll from cursor of the session whose token's digest is in
 * rs->repoll, if it may wait without a read (waker_repoll): 1 with rs set
 * to wait, else 0.
 */
static int
poll_repoll(struct ctx *c, const struct req *rq, struct resp *rs,
    int64_t cursor)
{
	int64_t	 written;

	if (!waker_repoll(c->waker, rs->repoll.digest, cursor, rq->now_ms,
	    &rs->reader, &rs->repoll.fresh_till, &written) || written <= 0 ||
	    poll_hold(c, &rs->hold, cursor, written, rq->now_ms,
	    mono_ms()) == -1) {
		rs->repoll.fresh_till = 0;
		return 0;
	}
	rs->wait = 1;
	return 1;
}

/*
 * GET api/poll: a re-poll that needs no read waits at once (poll_repoll);
 * otherwise the session and the events after the cursor are read in one
 * read transaction, and the presence write, when due, comes after it.
 */
void
h_poll(struct ctx *c, const struct req *rq, struct resp *rs)
{
	struct session	 s;
	int64_t		 cursor, fresh_till;
	char		*body = NULL, token[33];
	int		 rv, digest, moved = 0;

	digest = c->waker != NULL && token_from_auth(rq->auth, token) != NULL &&
	    token_digest(token, rs->repoll.digest) == 0;
	if (digest && parse_cursor(rq->query, &cursor) == 0 &&
	    poll_repoll(c, rq, rs, cursor))
		return;

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
	rv = poll_answer(c, &rs->reader, &rs->hold, rq->now_ms, &body,
	    &moved);
	db_rollback(c->db);		/* a read: nothing to commit */
	if (rv == -1 || poll_touch(c, &s, rq->now_ms, &fresh_till) == -1)
		goto fail;
	if (digest)			/* to note when answered (repoll.c) */
		rs->repoll.fresh_till = fresh_till;
	if (digest && rv == MB_ANSWER)	/* now */
		waker_note(c->waker, &rs->repoll, &rs->reader, moved);
	poll_respond(rs, body);
	return;
fail:
	free(body);
	resp_error(rs, 500, "internal", "The store failed.");
out:
	db_rollback(c->db);
}
