/*
 * limits.h — the sizes and rates every part of Noom agrees on.
 *
 * Its own header so that the store (db.h) and the handlers (noom.h) size
 * the same things from the same numbers.  docs/API.md is the user-facing
 * copy of these.
 */
#ifndef NOOM_LIMITS_H
#define NOOM_LIMITS_H

#define NOOM_NICK_MAX		32	/* code points */
#define NOOM_ROOM_MAX		64
#define NOOM_UTF8_BYTES(n)	(4 * (n) + 1)	/* n code points, NUL */
#define NOOM_TEXT_MAX		2000
#define NOOM_CLIENT_ID_MAX	64
#define NOOM_BODY_MAX		(64 * 1024)	/* bytes of request body */
#define NOOM_HISTORY		50	/* messages a newcomer sees */
#define NOOM_MEMBERS_MAX	200	/* members listed in a room's state */
#define NOOM_ROOMS_PAGE		50	/* rooms in one page of the room list */
#define NOOM_ROOMS_PAGE_MAX	200	/* ... at most, with ?limit= */
#define NOOM_BIG_ROOM		50	/* above: member notices may be held */
#define NOOM_NOTICE_HOLD_MS	1000	/* how long a reader holds them */
#define NOOM_CHAT_GAP_MS	25	/* --chat-gap default, ms */
#define NOOM_RING_GAP_MS	5	/* least time between two ring scans */
#define NOOM_BATCH_MAX		500	/* events in one answer */
#define NOOM_RL_BURST		30	/* write calls a session may burst */
#define NOOM_RL_RATE		10	/* ... refilled per second */
#define NOOM_SIG_BURST		200	/* signaling messages a session may burst */
#define NOOM_SIG_RATE		50	/* ... refilled per second */
#define NOOM_RE_BURST		5	/* reactions a session may burst */
#define NOOM_RE_RATE		1	/* ... refilled per second */
#define NOOM_HANDS_MAX		200	/* raised hands in a room's state */
#define NOOM_SIGNAL_MAX		(16 * 1024)	/* bytes of one signal's data */
#define NOOM_SIGNAL_BATCH	32	/* signals in one POST /api/signal */
#define NOOM_ICE_URLS_MAX	16	/* stun / turn URLs in the configuration */
#define NOOM_PROXIES_MAX	16	/* trusted_proxy entries */
#define NOOM_ADDR_MAX		64	/* bytes of a client address */
#define NOOM_WORKERS_MAX	64	/* worker processes of one master */
#define NOOM_KEY_MIN		16	/* characters of an unlisted room's key */
#define NOOM_KEY_MAX		64	/* ... (base64url: 16 are 96 bits) */
#define NOOM_PASSWORD_MAX	64	/* characters of a room password */
#define NOOM_PW_HASH_MAX	128	/* bytes of a stored password hash */
#define NOOM_HOSTS_MAX		50	/* hosts told of a waiting joiner */
#define NOOM_WAITING_MAX	100	/* joiners waiting for one room */
#define NOOM_STREAM_MS		120000	/* an event stream ends after this */
#define NOOM_STREAM_BYTES	(4 * 1024 * 1024)	/* ... or this much */
#define NOOM_KEEPALIVE_MS	15000	/* its comment this often when idle */
#define NOOM_TOUCH_BATCH	32	/* presence refreshes per transaction */
#define NOOM_TOUCH_AGAIN_MS	10	/* ... the next batch this much later */
#define NOOM_STREAMS_PER_CLIENT	1000	/* open streams per client address */
#define NOOM_OUT_LOW		(64 * 1024)	/* a live reader's answers are
						   rendered only below this */
#define NOOM_SCAN_CHUNK		1000	/* events a ring's scan reads at once */
#define NOOM_SCAN_SPAN		4000	/* readers further back: one at a time */
#define NOOM_REJOIN_MS		60000	/* back within this: straight in */

#endif /* NOOM_LIMITS_H */
