/*
 * Unit tests of repoll.c, the table of sessions a worker process answered
 * (a re-poll from exactly the answered cursor needs no read), and of
 * token_digest(), its key.
 */
#include <stdlib.h>

#include "../../fcgi/noom.h"
#include "unit.h"

/* A key whose digest starts with first (the slot) and ends with last. */
static struct repoll_key
key(unsigned char first, unsigned char last, int64_t fresh_till)
{
	struct repoll_key	 k;

	memset(&k, 0, sizeof(k));
	k.digest[0] = first;
	k.digest[TOKEN_DIGEST_LEN - 1] = last;
	k.fresh_till = fresh_till;
	return k;
}

static struct reader
reader(int64_t session, int64_t room, int64_t join_seq, int64_t cursor)
{
	struct reader	 r = { .session_id = session, .room_id = room,
	    .join_seq = join_seq, .member_seq = join_seq, .cursor = cursor };

	return r;
}

/* A noted session is found from its answer's cursor only, while fresh. */
static void
test_found(void)
{
	struct repoll		*t = repoll_new();
	struct repoll_key	 k = key(1, 1, 5000), none = key(1, 1, 0);
	struct reader		 r = reader(7, 3, 40, 100), got;
	int64_t			 fresh = 0;

	CHECK(repoll_get(t, k.digest, 100, 1000, &got, &fresh) == 0);
	repoll_put(t, &none, &r);		/* presence due: not noted */
	CHECK(repoll_get(t, k.digest, 100, 1000, &got, &fresh) == 0);
	repoll_put(t, &k, &r);
	CHECK(repoll_get(t, k.digest, 100, 1000, &got, &fresh) == 1);
	CHECK(got.session_id == 7 && got.room_id == 3 && got.join_seq == 40);
	CHECK(got.cursor == 100 && got.member_seq == 100);
	CHECK(fresh == 5000);
	CHECK(repoll_get(t, k.digest, 99, 1000, &got, &fresh) == 0);
	CHECK(repoll_get(t, k.digest, 101, 1000, &got, &fresh) == 0);
	CHECK(repoll_get(t, k.digest, 100, 5000, &got, &fresh) == 0);
	repoll_free(t);
}

/* Another token, even in the same slot, is not the noted session. */
static void
test_other_token(void)
{
	struct repoll		*t = repoll_new();
	struct repoll_key	 k = key(2, 1, 5000), same_slot = key(2, 9, 5000);
	struct reader		 r = reader(7, 3, 40, 100), s = reader(8, 0, 0, 100),
				 got;
	int64_t			 fresh;

	repoll_put(t, &k, &r);
	CHECK(repoll_get(t, same_slot.digest, 100, 1000, &got, &fresh) == 0);
	/* Dropping another token leaves the entry; a newer one replaces it. */
	repoll_drop(t, &same_slot);
	CHECK(repoll_get(t, k.digest, 100, 1000, &got, &fresh) == 1);
	repoll_put(t, &same_slot, &s);
	CHECK(repoll_get(t, k.digest, 100, 1000, &got, &fresh) == 0);
	CHECK(repoll_get(t, same_slot.digest, 100, 1000, &got, &fresh) == 1);
	CHECK(got.session_id == 8 && got.room_id == 0);
	repoll_free(t);
}

/* Sessions far apart in number share an entry: the newer one has it. */
static void
test_same_entry(void)
{
	struct repoll		*t = repoll_new();
	struct repoll_key	 a = key(4, 1, 5000), b = key(5, 1, 5000);
	struct reader		 ra = reader(9, 3, 40, 100),
				 rb = reader(9 + 16384, 3, 40, 100), got;
	int64_t			 fresh;

	repoll_put(t, &a, &ra);
	repoll_put(t, &b, &rb);
	CHECK(repoll_get(t, a.digest, 100, 1000, &got, &fresh) == 0);
	CHECK(repoll_get(t, b.digest, 100, 1000, &got, &fresh) == 1);
	CHECK(got.session_id == 9 + 16384);
	repoll_free(t);
}

/* An answer that ends at a move drops the session: its next poll reads. */
static void
test_moved(void)
{
	struct repoll		*t = repoll_new();
	struct repoll_key	 k = key(3, 1, 5000);
	struct reader		 r = reader(7, 3, 40, 100), got;
	int64_t			 fresh;

	repoll_put(t, &k, &r);
	repoll_drop(t, &k);
	CHECK(repoll_get(t, k.digest, 100, 1000, &got, &fresh) == 0);
	repoll_free(t);
}

/* The key is the token's SHA-256, never the token. */
static void
test_digest(void)
{
	static const unsigned char abc[TOKEN_DIGEST_LEN] = {
		0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41,
		0x40, 0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3,
		0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00,
		0x15, 0xad };
	unsigned char	 d[TOKEN_DIGEST_LEN];

	CHECK(token_digest("abc", d) == 0);
	CHECK(memcmp(d, abc, sizeof(abc)) == 0);
}

int
main(void)
{
	test_found();
	test_other_token();
	test_same_entry();
	test_moved();
	test_digest();
	return unit_done("test_repoll");
}
