/*
 * mailbox_read.c — one reader's answer, read from the store on its own.
 *
 * The readers that scans do not serve come here: a poll as it arrives
 * (poll.c), a WebSocket as it connects or when it is behind (gateway.c).
 * The visible events after the reader's cursor are read with the store's
 * own filter (db_events_visible, at most NOOM_BATCH_MAX) and matched with
 * mailbox_match(), so an answer read here is the one a scan would give.
 */
#include "noom.h"

/*
 * Read r's next answer inside the caller's read transaction, in which r's
 * membership was read (r->member_seq is set to this snapshot's end).
 * Returns the verdict, also in a->verdict: MB_RESYNC when r's cursor is not
 * in the kept log (below what trimming dropped, or above the log's end: a
 * reset database), with a->cursor the log's end; else as mailbox_match()
 * with h, appending to out.  *end is the log's end.  -1 on a store error.
 * sc is the caller's scratch scan.
 */
int
mailbox_read(struct db *db, struct reader *r, const struct hold *h,
    int64_t now, struct scan *sc, struct buf *out, struct answer *a,
    int64_t *end)
{
	int64_t	 trimmed, upto;

	if ((*end = db_log_end(db)) == -1 ||
	    (trimmed = db_trimmed_upto(db)) == -1)
		return -1;
	r->member_seq = *end;
	if (r->cursor < trimmed || r->cursor > *end) {
		a->verdict = MB_RESYNC;
		a->cursor = *end;
		a->count = a->moved = 0;
		return MB_RESYNC;
	}
	scan_clear(sc, r->cursor);
	if (db_events_visible(db, r->cursor, r->session_id, r->room_id,
	    r->join_seq, NOOM_BATCH_MAX, scan_add, sc) == -1)
		return -1;
	/* A full batch may leave more: its cursor is its last event. */
	upto = sc->n == NOOM_BATCH_MAX ? sc->evs[sc->n - 1].ev.seq : *end;
	return mailbox_match(r, h, sc, upto, now, out, a);
}
