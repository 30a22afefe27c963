/*
 * repoll.c — what a worker process remembers of the sessions it answered,
 * so that their next poll needs no read of the store.
 *
 * A long-poller's usual poll is a re-poll: it was answered a moment ago by
 * this process's waker, and polls again from the cursor of that answer.  A
 * poll read from the store costs a read transaction, the session's row by
 * its token and a rollback (SQLite's file locks and, after any commit
 * elsewhere, its pages read again): most of a handler thread's work on a
 * poll that then only waits (docs/BENCHMARKS.md).  So when the waker
 * answers a poll (waker.c), it notes here, under the SHA-256 of the poll's
 * token, the session's reader as it stood: session, room, join_seq, and the
 * answer's cursor.  A poll with the same token from exactly that cursor may
 * use that reader as if it had read it (repoll_get).
 *
 * Why that is the same answer.  The noted membership was read from the
 * store (or noted from such a read) no earlier than the cursor it was
 * noted with, and the answer was not cut at a move (the answer that is, a
 * room_joined or room_left of the session, drops the entry instead).  A
 * membership change after that cursor writes its addressed room_joined or
 * room_left first (rooms.c), after the cursor, where the waker's scan
 * stops the next answer (mailbox_moves, member_seq = the cursor), as it
 * does for a reader read from the store: the rule is mailbox.c's.
 * Another cursor (a poll answered meanwhile by the other process, a client
 * that lost its answer) is not the noted one, and reads the store.
 *
 * What else the store's row says: that the token is known (sessions in a
 * room are never deleted; one in none only when unseen for ten minutes or
 * more, maint.c), and whether the session's seen time is due a write
 * (presence.c).  An entry holds until when presence is not due
 * (fresh_till); past it, the poll reads the store and notes presence as
 * always.  So an entry is never the only reason a session stays alive.
 *
 * A cache, not a record, in two fixed arrays: the entries, one slot per
 * session by its id (REPOLL_SLOTS of 72 bytes), and an index from the
 * digest to the slot (REPOLL_SLOTS of 4 bytes).  Sessions are numbered in
 * order, so the entries of N sessions fill N * 72 bytes of pages (calloc,
 * touched as they come), where slots picked by the digest would touch every
 * page of the table at once: 2.3 KB more per subscriber at N=1000.  A
 * newer session takes an older one's slot in either array; a miss costs
 * only the read it would have saved.  Handler threads read it and the waker
 * writes it, under one mutex, held for a few loads and stores.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "noom.h"

#define REPOLL_SLOTS	16384		/* a power of two */

struct repoll_entry {
	unsigned char	 digest[TOKEN_DIGEST_LEN];	/* 0s: empty */
	int64_t		 session_id;
	int64_t		 room_id;
	int64_t		 join_seq;
	int64_t		 cursor;	/* valid for a poll from here only */
	int64_t		 fresh_till;	/* wall ms: presence due from then */
};

struct repoll {
	pthread_mutex_t	 lock;
	uint32_t	*index;		/* by digest: 1 + slot in entries, 0 */
	struct repoll_entry *entries;	/* by session id */
};

struct repoll *
repoll_new(void)
{
	struct repoll	*t = xcalloc(1, sizeof(*t));

	pthread_mutex_init(&t->lock, NULL);
	t->index = xcalloc(REPOLL_SLOTS, sizeof(*t->index));
	t->entries = xcalloc(REPOLL_SLOTS, sizeof(*t->entries));
	return t;
}

void
repoll_free(struct repoll *t)
{
	if (t == NULL)
		return;
	pthread_mutex_destroy(&t->lock);
	free(t->index);
	free(t->entries);
	free(t);
}

/* The index slot of a digest: its first bytes are already uniform. */
static uint32_t *
repoll_index(struct repoll *t, const unsigned char *digest)
{
	size_t	 s = (size_t)digest[0] | (size_t)digest[1] << 8 |
		    (size_t)digest[2] << 16;

	return &t->index[s & (REPOLL_SLOTS - 1)];
}

/* The entry the digest's index slot names, if it is that digest's. */
static struct repoll_entry *
repoll_find(struct repoll *t, const unsigned char *digest)
{
	uint32_t		 i = *repoll_index(t, digest);
	struct repoll_entry	*e;

	if (i == 0)
		return NULL;
	e = &t->entries[i - 1];
	return memcmp(e->digest, digest, sizeof(e->digest)) == 0 ? e : NULL;
}

/*
 * Note that the session of the poll with key k was answered with cursor
 * r->cursor, r being its reader, and that the answer was not cut at a move
 * (else repoll_drop).  A key with fresh_till 0 (presence due, or not a
 * poll's) is not noted.  Called by the waker.
 */
void
repoll_put(struct repoll *t, const struct repoll_key *k,
    const struct reader *r)
{
	size_t			 slot;
	struct repoll_entry	*e;

	if (k->fresh_till == 0)
		return;
	slot = (size_t)((uint64_t)r->session_id & (REPOLL_SLOTS - 1));
	e = &t->entries[slot];
	pthread_mutex_lock(&t->lock);
	memcpy(e->digest, k->digest, sizeof(e->digest));
	e->session_id = r->session_id;
	e->room_id = r->room_id;
	e->join_seq = r->join_seq;
	e->cursor = r->cursor;
	e->fresh_till = k->fresh_till;
	*repoll_index(t, k->digest) = (uint32_t)slot + 1;
	pthread_mutex_unlock(&t->lock);
}

/* Forget the session of key k: its membership moved.  Called by the waker. */
void
repoll_drop(struct repoll *t, const struct repoll_key *k)
{
	struct repoll_entry	*e;

	pthread_mutex_lock(&t->lock);
	if ((e = repoll_find(t, k->digest)) != NULL)
		memset(e, 0, sizeof(*e));
	pthread_mutex_unlock(&t->lock);
}

/*
 * May the poll with the token of digest d, from cursor, at wall time now,
 * use a noted reader instead of reading the store?  1 with *r (member_seq
 * and cursor = cursor) and *fresh_till filled, else 0.  Called by handler
 * threads.
 */
int
repoll_get(struct repoll *t, const unsigned char *d, int64_t cursor,
    int64_t now, struct reader *r, int64_t *fresh_till)
{
	struct repoll_entry	*e;
	int			 hit;

	pthread_mutex_lock(&t->lock);
	e = repoll_find(t, d);
	hit = e != NULL && e->fresh_till > now && e->cursor == cursor;
	if (hit) {
		r->session_id = e->session_id;
		r->room_id = e->room_id;
		r->join_seq = e->join_seq;
		r->member_seq = r->cursor = cursor;
		*fresh_till = e->fresh_till;
	}
	pthread_mutex_unlock(&t->lock);
	return hit;
}
