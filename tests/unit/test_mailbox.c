/*
 * test_mailbox.c — the mailbox's rules (fcgi/mailbox.c), with no socket and
 * no store: events in, answer out.
 *
 * Each case is a reader (session 1 in room 10 since seq 2, membership as of
 * member_seq), what may wait for it, and a scan of the log; it names the
 * verdict, the answer's cursor and the seqs of the events the answer holds.
 * The long-poll waker, the handler threads' poll and the WebSocket gateway
 * all decide through mailbox_match(), so these cases hold on every
 * transport.
 */
#include <stdlib.h>

#include "noom.h"
#include "unit.h"

#define NOW	100000		/* monotonic ms of every case */
#define MAXEV	8

/* One event of a case's log. */
struct ev {
	int64_t		 seq, room, target;
	const char	*type;
	int		 hold;
};

struct mcase {
	const char	*name;
	int64_t		 cursor, member_seq;
	int		 held;		/* 0: nothing waits (h NULL) */
	int64_t		 notices_till, chat_till;
	int64_t		 after, end;	/* the scan: (after, end] */
	struct ev	 evs[MAXEV];	/* seq 0 ends the list */
	int		 verdict;
	int64_t		 cursor_out;	/* MB_ANSWER, MB_NONE; MB_HOLD: due */
	const char	*seqs;		/* the answer's seqs, "3,4" */
	int		 moved;
};

static const struct mcase cases[] = {
	{ "nothing visible: move on to the end", 5, 5, 1, NOW + 1000, 0, 5, 9,
	  { { 6, 11, 0, "new_message", 0 }, { 7, 0, 2, "signal", 0 } },
	  MB_NONE, 9, "", 0 },
	{ "the lobby's events are not for a reader in a room", 5, 5, 0, 0, 0,
	  5, 7, { { 6, ROOM_LOBBY, 0, "room_change", 1 },
	    { 7, 10, 0, "new_message", 0 } },
	  MB_ANSWER, 7, "7", 0 },
	{ "room chat, global notices and own signals are visible", 5, 5, 0, 0,
	  0, 5, 9,
	  { { 6, 10, 0, "new_message", 0 }, { 7, 0, 1, "signal", 0 },
	    { 8, 0, 0, "room_change", 1 }, { 9, 0, 2, "signal", 0 } },
	  MB_ANSWER, 9, "6,7,8", 0 },
	{ "room events before the join are not", 0, 5, 0, 0, 0, 0, 4,
	  { { 1, 10, 0, "new_message", 0 }, { 2, 10, 0, "welcome", 0 },
	    { 3, 10, 0, "new_message", 0 } },
	  MB_ANSWER, 4, "3", 0 },
	{ "events up to the cursor are not repeated", 7, 7, 0, 0, 0, 5, 9,
	  { { 6, 10, 0, "new_message", 0 }, { 7, 10, 0, "new_message", 0 },
	    { 8, 10, 0, "new_message", 0 } },
	  MB_ANSWER, 9, "8", 0 },
	{ "notices alone wait for their hold", 5, 5, 1, NOW + 1000, 0, 5, 7,
	  { { 6, 0, 0, "room_change", 1 }, { 7, 10, 0, "bye", 1 } },
	  MB_HOLD, NOW + 1000, "", 0 },
	{ "notices whose hold is over are answered", 5, 5, 1, NOW - 1, 0, 5, 7,
	  { { 6, 0, 0, "room_change", 1 }, { 7, 10, 0, "bye", 1 } },
	  MB_ANSWER, 7, "6,7", 0 },
	{ "an event that may not wait takes the held ones with it", 5, 5, 1,
	  NOW + 1000, 0, 5, 8,
	  { { 6, 0, 0, "room_change", 1 }, { 7, 0, 1, "signal", 0 },
	    { 8, 10, 0, "bye", 1 } },
	  MB_ANSWER, 8, "6,7,8", 0 },
	{ "chat within the chat gap waits, notices with it", 5, 5, 1,
	  NOW + 1000, NOW + 20, 5, 7,
	  { { 6, 10, 0, "new_message", 0 }, { 7, 0, 0, "room_change", 1 } },
	  MB_HOLD, NOW + 20, "", 0 },
	{ "chat after the gap is answered", 5, 5, 1, NOW + 1000, NOW - 5, 5, 6,
	  { { 6, 10, 0, "new_message", 0 } },
	  MB_ANSWER, 6, "6", 0 },
	{ "chat does not wait when the gap is off", 5, 5, 1, NOW + 1000, 0, 5,
	  6, { { 6, 10, 0, "new_message", 0 } },
	  MB_ANSWER, 6, "6", 0 },
	{ "a signal does not wait for held chat", 5, 5, 1, NOW + 1000,
	  NOW + 20, 5, 7,
	  { { 6, 10, 0, "new_message", 0 }, { 7, 0, 1, "signal", 0 } },
	  MB_ANSWER, 7, "6,7", 0 },
	{ "with nothing held, notices go at once", 5, 5, 0, 0, 0, 5, 6,
	  { { 6, 0, 0, "room_change", 1 } },
	  MB_ANSWER, 6, "6", 0 },
	{ "an answer ends at a move after the membership", 5, 5, 1,
	  NOW + 1000, 0, 5, 9,
	  { { 6, 10, 0, "new_message", 0 }, { 7, 0, 1, "room_left", 0 },
	    { 8, 10, 0, "new_message", 0 } },
	  MB_ANSWER, 7, "6,7", 1 },
	{ "a move the membership already has is no stop", 5, 8, 0, 0, 0, 5, 9,
	  { { 6, 0, 1, "room_joined", 0 }, { 8, 10, 0, "new_message", 0 } },
	  MB_ANSWER, 9, "6,8", 0 },
	{ "another session's move is no stop", 5, 5, 0, 0, 0, 5, 9,
	  { { 6, 0, 2, "room_left", 0 }, { 8, 10, 0, "new_message", 0 } },
	  MB_ANSWER, 9, "8", 0 },
	{ "a cursor before the scan needs its own", 3, 3, 0, 0, 0, 5, 9,
	  { { 6, 10, 0, "new_message", 0 } },
	  MB_BEHIND, 3, "", 0 },
	{ "a cursor past the scan's end never goes back", 12, 12, 0, 0, 0, 5,
	  9, { { 6, 10, 0, "new_message", 0 } },
	  MB_NONE, 12, "", 0 },
};

/* The "a,b,c" of the seqs in an answer's events (scan JSON order). */
static void
seqs_of(const char *events, char *out, size_t n)
{
	const char	*p = events;
	size_t		 used = 0;

	out[0] = '\0';
	while ((p = strstr(p, "{\"seq\":")) != NULL && used + 24 < n) {
		p += 7;
		used += (size_t)snprintf(out + used, n - used, "%s%ld",
		    used ? "," : "", strtol(p, NULL, 10));
	}
}

static void
scan_case(struct scan *sc, const struct mcase *mc)
{
	struct event	 ev;
	int		 i;

	scan_clear(sc, mc->after);
	for (i = 0; i < MAXEV && mc->evs[i].seq != 0; i++) {
		memset(&ev, 0, sizeof(ev));
		ev.seq = mc->evs[i].seq;
		ev.room_id = mc->evs[i].room;
		ev.target_id = mc->evs[i].target;
		ev.type = mc->evs[i].type;
		ev.data = "{}";
		ev.hold = mc->evs[i].hold;
		scan_add(sc, &ev);
	}
}

static void
test_match(void)
{
	static struct scan sc;	/* zeroed */
	struct buf	 out;
	struct answer	 a;
	struct reader	 r;
	struct hold	 h;
	char		 got[128];
	size_t		 i;
	int		 v;

	buf_init(&out);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct mcase *mc = &cases[i];

		memset(&r, 0, sizeof(r));
		r.session_id = 1;
		r.room_id = 10;
		r.join_seq = 2;
		r.cursor = mc->cursor;
		r.member_seq = mc->member_seq;
		h.notices_till = mc->notices_till;
		h.chat_till = mc->chat_till;
		scan_case(&sc, mc);
		out.len = 0;
		out.data[0] = '\0';
		v = mailbox_match(&r, mc->held ? &h : NULL, &sc, mc->end, NOW,
		    &out, &a);
		seqs_of(out.data, got, sizeof(got));
		if (v != mc->verdict || a.verdict != v ||
		    strcmp(got, mc->seqs) != 0 || a.moved != mc->moved ||
		    (v == MB_HOLD ? a.due : a.cursor) != mc->cursor_out)
			printf("case \"%s\": verdict %d cursor %ld due %ld "
			    "events [%s] moved %d\n", mc->name, v,
			    (long)a.cursor, (long)a.due, got, a.moved);
		CHECK(v == mc->verdict && a.verdict == v);
		CHECK_STR(got, mc->seqs);
		CHECK(a.moved == mc->moved);
		CHECK((v == MB_HOLD ? a.due : a.cursor) == mc->cursor_out);
		if (v != MB_ANSWER)
			CHECK(out.len == 0);
	}
	buf_free(&out);
	scan_free(&sc);
}

/* A batch ends at NOOM_BATCH_MAX events, at the last one's seq. */
static void
test_batch(void)
{
	static struct scan sc;	/* zeroed */
	struct event	 ev = { 0, 10, 0, "new_message", "{}", 0, 0 };
	struct reader	 r = { 1, 10, 0, 0, 0 };
	struct answer	 a;
	struct buf	 out;
	int64_t		 seq;

	scan_clear(&sc, 0);
	for (seq = 1; seq <= NOOM_BATCH_MAX + 10; seq++) {
		ev.seq = seq;
		scan_add(&sc, &ev);
	}
	buf_init(&out);
	CHECK(mailbox_match(&r, NULL, &sc, seq - 1, NOW, &out, &a) ==
	    MB_ANSWER);
	CHECK(a.count == NOOM_BATCH_MAX);
	CHECK(a.cursor == NOOM_BATCH_MAX);
	r.cursor = a.cursor;
	out.len = 0;
	CHECK(mailbox_match(&r, NULL, &sc, seq - 1, NOW, &out, &a) ==
	    MB_ANSWER);
	CHECK(a.count == 10 && a.cursor == seq - 1);
	buf_free(&out);
	scan_free(&sc);
}

/*
 * A lobby reader given two counts of one room in one answer gets the newer
 * only; one whose answer ends between them gets both, one per answer.
 */
static void
test_coalesce(void)
{
	static struct scan sc;
	static const struct {
		int64_t		 seq;
		const char	*data;
	} evs[] = {
		{ 1, "{\"rooms\":[{\"name\":\"x\",\"count\":1}]}" },
		{ 2, "{\"rooms\":[{\"name\":\"y\",\"count\":1}]}" },
		{ 3, "{\"rooms\":[{\"name\":\"x\",\"count\":2}]}" },
		{ 4, "{\"rooms\":[{\"name\":\"x\",\"count\":0}]}" },
	};
	struct event	 ev = { 0, ROOM_LOBBY, 0, "room_change", NULL, 0, 1 };
	struct reader	 lobby = { 1, 0, 0, 0, 0 }, member = { 1, 10, 0, 0, 0 };
	struct answer	 a;
	struct buf	 out;
	size_t		 i;

	scan_clear(&sc, 0);
	for (i = 0; i < sizeof(evs) / sizeof(evs[0]); i++) {
		ev.seq = evs[i].seq;
		ev.data = evs[i].data;
		scan_add(&sc, &ev);
	}
	buf_init(&out);
	CHECK(mailbox_match(&lobby, NULL, &sc, 4, NOW, &out, &a) == MB_ANSWER);
	CHECK(a.cursor == 4 && a.count == 2);
	CHECK_STR(out.data, "{\"seq\":2,\"type\":\"room_change\",\"data\":"
	    "{\"rooms\":[{\"name\":\"y\",\"count\":1}]}},{\"seq\":4,\"type\":"
	    "\"room_change\",\"data\":{\"rooms\":[{\"name\":\"x\",\"count\":0}]}}");
	/* The scan read up to 2 only: nothing in it is replaced. */
	out.len = 0;
	CHECK(mailbox_match(&lobby, NULL, &sc, 2, NOW, &out, &a) == MB_ANSWER);
	CHECK(a.cursor == 2 && a.count == 2);
	/* A member of a room sees none of it. */
	out.len = 0;
	CHECK(mailbox_match(&member, NULL, &sc, 4, NOW, &out, &a) == MB_NONE);
	buf_free(&out);
	scan_free(&sc);
}

/* Which events the writer marks as ones that may wait. */
static void
test_holdable(void)
{
	json_t	*small = json_pack("{s:i}", "count", NOOM_BIG_ROOM);
	json_t	*big = json_pack("{s:i}", "count", NOOM_BIG_ROOM + 1);

	CHECK(mailbox_holdable(0, "room_change", small) == 1);
	CHECK(mailbox_holdable(0, "welcome", big) == 1);
	CHECK(mailbox_holdable(0, "bye", big) == 1);
	CHECK(mailbox_holdable(0, "bye", small) == 0);
	CHECK(mailbox_holdable(0, "new_message", big) == 0);
	CHECK(mailbox_holdable(9, "welcome", big) == 0);
	json_decref(small);
	json_decref(big);
}

/* The chat gap, the hold after an answer, presence timing, the shape. */
static void
test_timing(void)
{
	struct hold	 h;
	char		*body;

	CHECK(mailbox_chat_wait(0, 25, NOW) == 0);
	CHECK(mailbox_chat_wait(NOW - 10, 25, NOW) == 15);
	CHECK(mailbox_chat_wait(NOW - 25, 25, NOW) == 0);
	CHECK(mailbox_chat_wait(NOW - 10, 0, NOW) == 0);
	mailbox_hold_after(&h, NOW, 25);
	CHECK(h.notices_till == NOW + NOOM_NOTICE_HOLD_MS);
	CHECK(h.chat_till == NOW + 25);
	mailbox_hold_after(&h, NOW, 0);
	CHECK(h.chat_till == 0);
	CHECK(mailbox_touch_ms(60) == 5000);
	CHECK(mailbox_touch_ms(8) == 2000);
	body = mailbox_answer_new(7, "{\"seq\":7}", 9, 0);
	CHECK_STR(body, "{\"cursor\":7,\"events\":[{\"seq\":7}]}");
	free(body);
	body = mailbox_answer_new(9, "", 0, 1);
	CHECK_STR(body, "{\"resync\":true,\"cursor\":9,\"events\":[]}");
	free(body);
}

/* The ring gap: at once after a quiet spell, else once at the gap's end. */
static void
test_ring_gap(void)
{
	struct ring_gap	 g = { 0, 0, 0 };

	CHECK(ring_gap_ring(&g, NOW) == 1);
	ring_gap_scanned(&g, NOW);
	CHECK(ring_gap_at(&g) == 0);
	CHECK(ring_gap_ring(&g, NOW + 1) == 0);
	CHECK(ring_gap_put_off(&g));
	CHECK(ring_gap_ring(&g, NOW + 2) == 0);
	CHECK(ring_gap_at(&g) == NOW + NOOM_RING_GAP_MS);
	ring_gap_scanned(&g, NOW + NOOM_RING_GAP_MS);
	CHECK(!ring_gap_put_off(&g) && ring_gap_at(&g) == 0);
	/* A hold due soon is still kept a gap after the last scan. */
	ring_gap_due(&g, NOW + NOOM_RING_GAP_MS + 1);
	CHECK(ring_gap_at(&g) == NOW + 2 * NOOM_RING_GAP_MS);
	ring_gap_due(&g, NOW + 500);
	CHECK(ring_gap_at(&g) == NOW + 2 * NOOM_RING_GAP_MS);
	ring_gap_scanned(&g, NOW + 20);
	ring_gap_due(&g, NOW + 500);
	CHECK(ring_gap_at(&g) == NOW + 500);
	CHECK(ring_gap_ring(&g, NOW + 40) == 1);
}

/* A ring's scan starts at the readers' lower bound, within what it serves. */
static void
test_scan_start(void)
{
	CHECK(mailbox_scan_start(900, 1000, 0) == 900);
	CHECK(mailbox_scan_start(INT64_MAX, 1000, 0) == 1000);	/* nobody */
	CHECK(mailbox_scan_start(1200, 1000, 0) == 1000);	/* never past */
	CHECK(mailbox_scan_start(100, 1000, 500) == 500);	/* trimmed */
	CHECK(mailbox_scan_start(0, 10000, 0) == 10000 - NOOM_SCAN_SPAN);
	/* The readers it starts for are those it serves. */
	CHECK(mailbox_scan_serves(900, 0, 1000, 0));
	CHECK(!mailbox_scan_serves(10000 - NOOM_SCAN_SPAN - 1, 0, 10000, 0));
	CHECK(!mailbox_scan_serves(900, NOOM_OUT_LOW, 1000, 0));
}

int
main(void)
{
	test_match();
	test_batch();
	test_coalesce();
	test_holdable();
	test_timing();
	test_ring_gap();
	test_scan_start();
	return unit_done("test_mailbox");
}
