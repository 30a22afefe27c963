/*
 * noom.h — the one private header of Noom's two programs.
 *
 * Prototypes are grouped by the file that defines them.  The files form
 * three libraries (Makefile.am), and no two files call each other in a
 * circle (tests/check-layers.sh):
 *
 * - the core both programs link: log.c, util.c, valid.c, token.c, pw.c, the
 *   store (db.c behind db.h, the only SQL), the doorbell (wake.c) and the
 *   mailbox's rules (mailbox.c, pure; mailbox_read.c) and the counters
 *   every process shares (metrics.c);
 * - the FastCGI worker noom-worker (main.c): worker.c (the only file that
 *   knows libfcgi) and conns.c accept requests, route.c dispatches them to
 *   the handlers (session.c, rooms.c with door.c and meeting.c, chat.c,
 *   call.c, poll.c, pages.c),
 *   which share http.c's helpers and write events through publish.c;
 *   metrics_page.c answers the operator's metrics;
 *   waker.c answers the polls that wait; presence.c and maint.c keep house;
 *   tmpl.c, turn.c and conf.c are pure helpers;
 * - the WebSocket gateway noom-ws (ws_main.c): gateway.c, the codec ws.c.
 *
 * Ownership rule, as in jansson: a function whose name ends in _new returns
 * memory the caller frees with the matching _free; a parameter documented as
 * "stolen" belongs to the callee after the call.
 */
#ifndef NOOM_H
#define NOOM_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "limits.h"
#include "db.h"


/* A token bucket's rule: burst calls at once, refilled rate per second. */
struct bucket_rule {
	const char	*name;		/* its --config key */
	double		 burst;
	double		 rate;
};
/* What a client address is limited in (limit.c; the clients table's kind). */
enum limit {
	LIMIT_SESSION,		/* sessions created */
	LIMIT_ROOM,		/* rooms opened */
	LIMIT_JOIN,		/* joins */
	LIMIT_CHAT,		/* chat messages */
	LIMIT_PASSWORD,		/* room password guesses */
	LIMIT_ADMIN,		/* admin login attempts */
	LIMIT__COUNT
};

/*
 * What the configuration file sets (--config; conf.c).  A process swaps it
 * whole on a reload (SIGHUP): a thread reads one with conf_now() and keeps
 * using that one for the rest of its request, so it never sees half of an
 * old configuration and half of a new.  Never written once published.
 */
enum { SFU_AUTO, SFU_ALWAYS, SFU_OFF };
struct conf {
	/* Calls. */
	int		 mesh_max;	/* members in the call; the rest chat */
	char		*stun[NOOM_ICE_URLS_MAX + 1];	/* NULL-terminated */
	char		*turn[NOOM_ICE_URLS_MAX + 1];	/* NULL-terminated */
	char		*turn_secret;	/* coturn static-auth-secret, or NULL */
	int		 turn_ttl;	/* seconds a TURN credential is valid */
	int		 ice_relay;	/* 1: browsers use TURN relays only */
	/* Calls past the mesh on a Janus VideoRoom (sfu.c). */
	char		*janus_url;	/* Janus's HTTP API on loopback, or NULL */
	char		*janus_secret;	/* its token_auth_secret, or NULL */
	int		 sfu_mode;	/* SFU_AUTO, SFU_ALWAYS, SFU_OFF */
	int		 sfu_token_ttl;	/* seconds a Janus session token lasts */
	char		*turn_rest_key;	/* Janus's turn_rest_api_key, or NULL:
					   no PREFIX/api/turn-rest (call.c) */

	/* Per-client limits and the proxies trusted to name the client. */
	struct bucket_rule limits[LIMIT__COUNT];
	char		*proxies[NOOM_PROXIES_MAX + 1];	/* NULL-terminated */

	int		 log_level;	/* the least logged: LOG_INFO, ... */
	char		*admin_password; /* pw_hash() of it; NULL: no admin page */
};

/* The live configuration of one process: see conf_now(), conf_reload(). */
struct conf_live;
struct metrics;

/*
 * The settings every thread reads.  It is filled in by main.c before any
 * worker thread exists and never written afterwards, so it needs no lock;
 * what a reload changes lives behind live (struct conf).
 */
struct app {
	const char	*db_path;
	const char	*data_dir;	/* holds sql/ and templates/ */
	const char	*doorbell;	/* the doorbell file (wake.c) */
	const char	*pids_file;	/* the master's list of workers, or NULL */
	const char	*ws_socket;	/* the gateway's socket (readyz), or NULL */
	const char	*config_path;	/* --config, re-read on SIGHUP; or NULL */
	const char	*janus_config;	/* --janus-config (same keys), read after
					   config_path; or NULL */
	struct metrics	*metrics;	/* the shared counters (metrics.c), or
					   NULL */
	int		 poll_timeout;	/* seconds a poll may wait */
	int		 chat_gap_ms;	/* chat answers to one poller: apart */
	int		 presence_timeout; /* seconds without a poll before leaving */
	int		 retention;	/* seconds events are kept */
	int		 threads;	/* handler threads per worker process */
	int		 waiting_max;	/* waiting polls per client address, per
					   worker process */
	int		 quiet;		/* no per-request log lines */
	int		 mesh_max_arg;	/* --mesh-max, which beats the file; or 0 */
	char		*tmpl_app;	/* templates/app.html, loaded once */
	char		*tmpl_admin;	/* templates/admin.html, loaded once */
	struct conf_live *live;		/* this process's; conf_now() */
};

/* A request as the handlers see it: plain strings, no FastCGI. */
struct req {
	const char	*method;
	const char	*path;		/* below the prefix, starts with '/' */
	const char	*query;		/* raw query string, never NULL */
	const char	*auth;		/* Authorization header or NULL */
	const char	*prefix;	/* deployment prefix, "" or "/noom" */
	const char	*client;	/* the client's address (limit.c) */
	const char	*host;		/* Host header, or NULL */
	const char	*origin;	/* Origin header, or NULL */
	const char	*content_type;	/* Content-Type, or NULL */
	const char	*admin_cookie;	/* the noom_admin cookie, or NULL */
	int		 https;		/* nginx served it over TLS */
	const char	*body;		/* NUL-terminated copy, or NULL */
	size_t		 body_len;
	int64_t		 now_ms;
};

/*
 * A reader of the mailbox (mailbox.c): one session's view of the log.  Its
 * membership is as the session was at log position member_seq; it has
 * every event it may see up to cursor.
 */
struct reader {
	int64_t		 session_id;
	int64_t		 room_id;	/* 0: in no room */
	int64_t		 join_seq;	/* room events must be after this */
	int64_t		 member_seq;	/* membership as of this position */
	int64_t		 cursor;
};
/* What may wait for a reader, till when (monotonic ms; 0: nothing). */
struct hold {
	int64_t		 notices_till;	/* events marked ev->hold */
	int64_t		 chat_till;	/* chat (0: chat does not wait) */
};

/*
 * What the waker notes of a waiting poll's session when it answers it, so
 * that its next poll needs no read (repoll.c): the SHA-256 of its token, and
 * until when (wall ms) its presence is not due a write; 0: note nothing.
 */
#define TOKEN_DIGEST_LEN 32	/* token_digest(): SHA-256 */
struct repoll_key {
	unsigned char	 digest[TOKEN_DIGEST_LEN];
	int64_t		 fresh_till;
};

/*
 * A response.  Exactly one of json / text is set, unless wait is set, in
 * which case the worker hands the request to the waker with reader, hold
 * and repoll instead of answering (a poll with nothing to say yet).
 * resp_clear() frees what a response owns.
 */
struct resp {
	int		 status;
	json_t		*json;		/* owned */
	char		*text;		/* owned, with content_type */
	const char	*content_type;
	const char	*allow;		/* for 405 */
	int		 retry_after;	/* seconds, for 429; 0: none */
	char		 set_cookie[256]; /* a Set-Cookie value, or "" */
	int		 route;		/* enum route api_dispatch() chose */
	int		 wait;
	struct reader	 reader;
	struct hold	 hold;
	struct repoll_key repoll;
};

/* Per-thread context handed to handlers. */
struct waker;
struct presence;

struct ctx {
	const struct app *app;
	struct db	*db;		/* this thread's connection */
	struct waker	*waker;		/* this process's (worker); or NULL */
	struct presence	*presence;	/* ... its seen-time batch; or NULL */
};

/* log.c */
enum { LOG_DEBUG, LOG_INFO, LOG_WARN };
void	 log_msg(int, const char *, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
#define log_debug(...)	log_msg(LOG_DEBUG, __func__, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_INFO, __func__, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_WARN, __func__, __VA_ARGS__)
void	 fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void	 log_set_ident(const char *);
int	 log_set_format(const char *);
int	 log_level_parse(const char *);
void	 log_set_level(int);
int	 log_enabled(int);
void	 log_request(const char *, const char *, int, int64_t, const char *);
/* Request lines gathered to be written in one write(2) (log_flush). */
struct log_batch {
	size_t		 len;
	char		 text[16384];
};
void	 log_request_add(struct log_batch *, const char *, const char *, int,
	    int64_t, const char *);
void	 log_flush(struct log_batch *);
/* A failure that recurs in a loop: logged once, then once a minute. */
#define LOG_EVERY_MS	60000
struct log_every {
	int64_t		 logged_ms;	/* when the last line was written */
	unsigned long	 failures;	/* failures since that line */
	int		 failing;
};
int	 log_failure(struct log_every *, int64_t, const char *, const char *);
int	 log_recovered(struct log_every *, int64_t, const char *);

/*
 * util.c: a growable byte buffer.  Zeroed or after buf_free() it holds
 * nothing (data NULL) and buf_add() starts it again.
 */
struct buf {
	char	*data;			/* owned, NUL-terminated; NULL: none */
	size_t	 len;
	size_t	 cap;
};
void	 buf_init(struct buf *);
void	 buf_free(struct buf *);
void	 buf_reset(struct buf *);
void	 buf_add(struct buf *, const char *, size_t);
void	 buf_adds(struct buf *, const char *);
void	 buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
char	*buf_steal(struct buf *);
char	*file_read_new(const char *, size_t, char **);
int64_t	 now_ms(void);
int64_t	 mono_ms(void);
int64_t	 mono_us(void);
char	*sibling_path_new(const char *, const char *);
void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
char	*xstrdup(const char *);
int	 opt_number(const char *, int, int, const char *);
size_t	 str_hash(const char *);
int	 random_bytes(void *, size_t);
void	 hex_encode(char *, const unsigned char *, size_t);
int	 hex_value(int);

/* valid.c: pure checks of client text. */
long	 utf8_count(const char *, size_t);
char	*valid_trim_new(const char *);
int	 valid_text(const char *, size_t, size_t, int, const char **);
int	 valid_client_id(const char *, const char **);
int	 valid_name(const char *, const char **);
int	 valid_password(const char *, const char **);
int	 parse_cursor(const char *, int64_t *);

/* names.c: nicknames as people read them. */
#define NOOM_NAME_KEY	(4 * NOOM_NICK_MAX * 3 + 1)	/* bytes of a key */
int	 name_key(const char *, char *, size_t);
void	 name_suffixed(const char *, int, char *, size_t);

/* tmpl.c: templates with mandatory HTML escaping. */
struct tmpl_var {
	const char	*name;
	const char	*value;
};
void	 html_escape(struct buf *, const char *);
char	*tmpl_render_new(const char *, const struct tmpl_var *, size_t);

/* pw.c: password hashes and room keys. */
int	 pw_hash(const char *, char *, size_t);
int	 pw_verify(const char *, const char *);
int	 secret_equal(const char *, const char *);
int	 room_key_new(char out[23]);
int	 room_key_valid(const char *);

/* token.c */
int	 token_new(char out[33]);
int	 token_digest(const char *, unsigned char out[TOKEN_DIGEST_LEN]);
int	 token_valid(const char *);
const char *token_from_auth(const char *, char out[33]);

/* route.c: method + path -> handler, pure. */
enum route {
	R_NOT_FOUND = 0,
	R_METHOD,		/* path known, method not: see allow */
	R_SESSION_CREATE,
	R_SESSION_GET,
	R_NICKNAME,
	R_ROOMS,
	R_ROOM,
	R_JOIN,
	R_LEAVE,
	R_MESSAGES,
	R_POLL,
	R_CALL,
	R_SIGNAL,
	R_MEDIA,
	R_ROOM_SETTINGS,
	R_ROOM_HOST,
	R_ROOM_REMOVE,
	R_ROOM_MUTE,
	R_ROOM_ADMIT,
	R_ROOM_DENY,
	R_ROOM_END,
	R_HAND,
	R_REACTION,
	R_PAGE_ADMIN,
	R_ADMIN_LOGIN,
	R_ADMIN_LOGOUT,
	R_ADMIN_ROOMS,
	R_ADMIN_WAIT,
	R_ADMIN_STATS,
	R_ADMIN_CLOSE,
	R_ADMIN_REMOVE,
	R_PAGE_HOME,
	R_PAGE_ROOM,
	R_HEALTHZ,
	R_READYZ,
	R_METRICS,
	R_TURN_REST,
	R__COUNT
};
const char *route_pattern(enum route);
enum route route_find(const char *, const char *, const char **);
void	 api_dispatch(struct ctx *, const struct req *, struct resp *);

/* http.c: reading requests, shaping responses. */
void	 resp_json(struct resp *, int, json_t *);
void	 resp_bad_field(struct resp *, const char *, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
void	 resp_error(struct resp *, int, const char *, const char *, ...)
	    __attribute__((format(printf, 4, 5)));
void	 resp_clear(struct resp *);
void	 tx_finish(struct ctx *, int, struct resp *);
json_t	*body_object(const struct req *, int, struct resp *);
int	 body_string(json_t *, const char *, int, const char **, struct resp *);
int	 body_bool(json_t *, const char *, int *, struct resp *);
int	 body_id(json_t *, const char *, int64_t *, struct resp *);
int	 query_param(const char *, const char *, char *, size_t);
int	 http_cross_site(const struct req *);
int	 http_json_body(const struct req *);
int	 query_int(const struct req *, const char *, int, int, int, int *,
	    struct resp *);

/* limit.c: rate limits per session and per client address. */
double	 bucket_refill(const struct bucket_rule *, double, int64_t, int64_t);
int	 bucket_retry_s(const struct bucket_rule *, double);
int	 rate_take(struct ctx *, const struct session *, int64_t,
	    struct resp *);
int	 rate_take_signal(struct ctx *, const struct session *, int64_t, int,
	    struct resp *);
int	 rate_take_reaction(struct ctx *, const struct session *, int64_t,
	    struct resp *);
int	 client_take(struct ctx *, const struct req *, enum limit,
	    struct resp *);
void	 client_addr(const struct conf *, const char *, const char *, char *,
	    size_t);

/* session.c */
int	 auth_session(struct ctx *, const struct req *, struct resp *,
	    struct session *);
int	 session_in_room(const struct session *, struct resp *);
void	 h_session_create(struct ctx *, const struct req *, struct resp *);
void	 h_session_get(struct ctx *, const struct req *, struct resp *);
void	 h_nickname(struct ctx *, const struct req *, struct resp *);

/* rooms.c */
void	 h_rooms(struct ctx *, const struct req *, struct resp *);
void	 h_room(struct ctx *, const struct req *, struct resp *);
void	 h_join(struct ctx *, const struct req *, struct resp *);
void	 h_leave(struct ctx *, const struct req *, struct resp *);
/* A room being entered: its id, its name (borrowed) and kind. */
struct room_ref {
	int64_t		 id;
	const char	*name;
	int		 unlisted;
};
int	 room_leave(struct ctx *, const struct session *, const char *,
	    int64_t);
int	 room_enter(struct ctx *, struct session *, const struct room_ref *,
	    int, int64_t);
json_t	*room_state_new(struct ctx *, const struct session *);
json_t	*room_settings_new(const struct room_info *);

/* door.c: who may enter a room, and who waits at its door. */
enum gate {
	GATE_FAIL = -1,		/* the store failed */
	GATE_OPEN,		/* enter */
	GATE_HOST,		/* enter as a host */
	GATE_WAIT,		/* wait to be admitted */
	GATE_REFUSED,		/* answered; change nothing */
	GATE_COUNTED		/* answered; keep the guess counted */
};
enum gate room_gate(struct ctx *, const struct req *, const struct session *,
	    const struct room_ref *, const char *, struct resp *);
int	 room_rejoining(const struct session *, int64_t, int64_t);
int	 waiting_start(struct ctx *, const struct session *,
	    const struct room_ref *, int64_t, struct resp *);
int	 waiting_cancel(struct ctx *, const struct session *, int64_t);
int	 waiting_done(struct ctx *, int64_t, int64_t, const char *, int64_t);
int	 hosts_publish(struct ctx *, int64_t, const char *, json_t *, int64_t);

/* meeting.c: what a room's hosts do. */
int	 meeting_end(struct ctx *, int64_t, const char *, int64_t);
int	 meeting_remove(struct ctx *, struct session *, int64_t);
void	 h_room_settings(struct ctx *, const struct req *, struct resp *);
void	 h_room_host(struct ctx *, const struct req *, struct resp *);
void	 h_room_remove(struct ctx *, const struct req *, struct resp *);
void	 h_room_mute(struct ctx *, const struct req *, struct resp *);
void	 h_room_admit(struct ctx *, const struct req *, struct resp *);
void	 h_room_deny(struct ctx *, const struct req *, struct resp *);
void	 h_room_end(struct ctx *, const struct req *, struct resp *);

/* chat.c */
void	 h_messages(struct ctx *, const struct req *, struct resp *);

/* tools.c: raise hand, reactions. */
void	 h_hand(struct ctx *, const struct req *, struct resp *);
void	 h_reaction(struct ctx *, const struct req *, struct resp *);
int	 hand_publish(struct ctx *, const struct session *,
	    const struct session *, int64_t);

/* call.c */
json_t	*call_config_new(struct ctx *, const struct session *, int64_t);
void	 h_call(struct ctx *, const struct req *, struct resp *);
void	 h_turn_rest(struct ctx *, const struct req *, struct resp *);
void	 h_signal(struct ctx *, const struct req *, struct resp *);
void	 h_media(struct ctx *, const struct req *, struct resp *);

/* sfu.c: calls past the mesh on a Janus VideoRoom. */
int	 sfu_on(const struct conf *);
int64_t	 sfu_feed(const struct conf *, int64_t, int64_t, int);
int	 sfu_token(const struct conf *, int64_t, int64_t, char *, size_t);
json_t	*sfu_call_new(struct ctx *, const struct session *, int64_t, int *);
void	 sfu_maint(struct ctx *);

/* turn.c: coturn REST-API credentials. */
int	 turn_credential(const char *, const char *, char *, size_t);

/* conf.c */
extern const struct bucket_rule limit_defaults[LIMIT__COUNT];
struct conf	*conf_new(void);
int	 conf_load(struct conf *, const char *, char **);
int	 conf_log_level(const char *, char **);
void	 conf_free(struct conf *);
struct conf	*conf_read_new(const struct app *, char **);
struct conf_live *conf_live_new(struct conf *);
void	 conf_live_free(struct conf_live *);
const struct conf *conf_now(const struct app *);
void	 conf_publish(const struct app *, struct conf *, int64_t);
int	 conf_reload(const struct app *, int64_t);

/* mailbox.c: the mailbox's rules, pure (see its opening comment). */
/* One scanned event, rendered once for every reader it goes to. */
struct scanned {
	struct event	 ev;		/* type/data point into owned copies */
	char		*type;		/* owned */
	char		*data;		/* owned */
	char		*json;		/* {"seq",...}, owned */
	size_t		 json_len;	/* strlen(json) */
	int		 chat;		/* mailbox_chat(&ev) */
	int		 type_index;	/* metrics_type_index(ev.type) */
	char		*key;		/* what a later event replaces, owned;
					   NULL: nothing (mailbox.c) */
	size_t		 chain;		/* the previous keyed event of its
					   bucket, or SCAN_NONE */
	size_t		 next_same;	/* the next event of the same key, or
					   SCAN_NONE */
};
#define SCAN_NONE	((size_t)-1)
#define SCAN_BUCKETS	256
/* Events read from the log in one go; owns its array and every entry. */
struct scan {
	struct scanned	*evs;
	size_t		 n, cap;
	int64_t		 after;		/* the events are those after this */
	size_t		 heads[SCAN_BUCKETS];	/* newest keyed event of each
						   bucket, or SCAN_NONE */
};
enum {
	MB_BEHIND,		/* the reader's cursor is before the scan */
	MB_NONE,		/* nothing visible: move on to the cursor */
	MB_HOLD,		/* only what may wait, till due */
	MB_ANSWER,		/* answer with the events, up to cursor */
	MB_RESYNC,		/* the cursor is not in the kept log */
};
/* The event types the metrics count apart (metrics_event_types). */
#define METRICS_EVENT_TYPES	18
struct answer {
	int		 verdict;	/* MB_* */
	int64_t		 cursor;	/* the reader's cursor after it */
	int64_t		 due;		/* MB_HOLD: look again then */
	int		 moved;		/* MB_ANSWER: ends at a move */
	int		 count;		/* events in the answer */
	uint16_t	 types[METRICS_EVENT_TYPES];	/* ... of each type
					   (metrics_delivered) */
};
/* The ring gap of a process that scans for many readers (monotonic ms). */
struct ring_gap {
	int64_t		 scanned;	/* the last scan */
	int64_t		 put_off;	/* a ring waits till; 0: none */
	int64_t		 next_due;	/* the first hold due; 0: none */
};
int	 mailbox_visible(const struct reader *, const struct event *);
int	 mailbox_moves(const struct reader *, const struct event *);
int	 mailbox_holdable(int64_t, const char *, const json_t *);
int	 mailbox_chat(const struct event *);
int64_t	 mailbox_chat_wait(int64_t, int, int64_t);
void	 mailbox_hold_after(struct hold *, int64_t, int);
int64_t	 mailbox_touch_ms(int);
void	 mailbox_answer_add(struct buf *, int64_t, const char *, size_t, int);
char	*mailbox_answer_new(int64_t, const char *, size_t, int);
int	 scan_add(void *, const struct event *);
void	 scan_clear(struct scan *, int64_t);
void	 scan_free(struct scan *);
int	 mailbox_match(const struct reader *, const struct hold *,
	    const struct scan *, int64_t, int64_t, struct buf *,
	    struct answer *);
int	 ring_gap_ring(struct ring_gap *, int64_t);
void	 ring_gap_scanned(struct ring_gap *, int64_t);
void	 ring_gap_due(struct ring_gap *, int64_t);
int64_t	 ring_gap_at(const struct ring_gap *);
int	 ring_gap_put_off(const struct ring_gap *);
int	 mailbox_scan_serves(int64_t, size_t, int64_t, int64_t);
int64_t	 mailbox_scan_start(int64_t, int64_t, int64_t);
int	 mailbox_touch(struct db *, const struct session *, int64_t, int64_t,
	    const char *);
/* What a transport does for mailbox_match_all(); send and member return -1
 * once the reader is closed. */
struct match_io {
	int	 (*send)(void *, const struct answer *);
	int	 (*member)(void *);
	size_t	 (*pending)(void *);
	void	*arg;
};
enum { MATCH_DONE, MATCH_HOLD, MATCH_BEHIND, MATCH_GONE };
int	 mailbox_match_all(struct reader *, struct hold *, const struct scan *,
	    int64_t, int64_t, struct buf *, const struct match_io *, int64_t *);

/* mailbox_read.c: one reader's answer from the store. */
int	 mailbox_read(struct db *, struct reader *, const struct hold *,
	    int64_t, struct scan *, struct buf *, struct answer *, int64_t *);

/* publish.c: the writers' side. */
int64_t	 publish(struct ctx *, int64_t, int64_t, const char *, const json_t *,
	    int64_t);

/* admin.c: the operator's page and its API. */
int	 admin_expire(struct db *, int64_t);
void	 h_admin_page(struct ctx *, const struct req *, struct resp *);
void	 h_admin_login(struct ctx *, const struct req *, struct resp *);
void	 h_admin_logout(struct ctx *, const struct req *, struct resp *);
void	 h_admin_rooms(struct ctx *, const struct req *, struct resp *);
void	 h_admin_wait(struct ctx *, const struct req *, struct resp *);
void	 h_admin_stats(struct ctx *, const struct req *, struct resp *);
void	 h_admin_close(struct ctx *, const struct req *, struct resp *);
void	 h_admin_remove(struct ctx *, const struct req *, struct resp *);

/* poll.c: GET api/poll. */
void	 h_poll(struct ctx *, const struct req *, struct resp *);
int	 poll_answer(struct ctx *, struct reader *, struct hold *, int64_t,
	    char **, int *);
void	 poll_respond(struct resp *, char *);

/*
 * waker.c: the long-poll waker, one thread per worker process, which owns
 * the polls that wait.  It answers them through the function it was made
 * with (worker.c's), which owns and frees the request.
 */
typedef void (*waker_answer_fn)(void *, int, const char *, size_t);
struct waker *waker_new(const struct app *, int, waker_answer_fn, char **);
void	 waker_wait(struct waker *, void *, const struct reader *,
	    const struct hold *, const struct repoll_key *, const char *,
	    int64_t);
int64_t	 waker_newest(struct waker *, int64_t *);
int	 waker_repoll(struct waker *, const unsigned char *, int64_t,
	    int64_t, struct reader *, int64_t *, int64_t *);
void	 waker_note(struct waker *, const struct repoll_key *,
	    const struct reader *, int);

/*
 * repoll.c: the sessions a worker process answered, by their token's
 * digest, and the cursor from which their next poll needs no read.
 */
struct repoll;
struct repoll *repoll_new(void);
void	 repoll_free(struct repoll *);
void	 repoll_put(struct repoll *, const struct repoll_key *,
	    const struct reader *);
void	 repoll_drop(struct repoll *, const struct repoll_key *);
int	 repoll_get(struct repoll *, const unsigned char *, int64_t, int64_t,
	    struct reader *, int64_t *);
void	 waker_run(struct waker *);
void	 waker_stop(struct waker *);
void	 waker_flush(struct waker *, int);

/*
 * presence.c: who is still here.  Readers note the sessions due a seen-time
 * write; maintenance writes them in one transaction, and times out the
 * sessions that stopped reading.
 */
struct presence *presence_new(void);
void	 presence_free(struct presence *);
int	 presence_note(struct presence *, int64_t);
int	 presence_due(const struct app *, const struct session *, int64_t);
int	 presence_flush(struct presence *, struct db *, const struct app *);
int	 presence_expire(struct ctx *, int64_t);

/* maint.c: housekeeping, on a thread of its own in each worker process. */
int64_t	 maint_touch_every(const struct app *);
int	 maintenance(struct ctx *, int64_t);
void	 maint_start(const struct app *, struct presence *);

/* health.c: for load balancers and service managers. */
void	 h_healthz(struct ctx *, const struct req *, struct resp *);
void	 h_readyz(struct ctx *, const struct req *, struct resp *);

/* pages.c */
void	 h_page(struct ctx *, const struct req *, struct resp *, enum route);

/* wake.c: the cross-process doorbell. */
char	*wake_default_path_new(const char *);
int	 wake_check(const char *, char **);
int	 wake_init(const char *, char **);
void	 wake_ring(void);
int	 wake_watch_fd(void);
void	 wake_drain(void);

/*
 * metrics.c: the operator's counters, one table shared by every process
 * (see its opening comment).  Each function takes NULL and does nothing.
 */
enum metric {
	M_DOORBELL_RINGS,
	M_WORKER_RESTARTS,
	M_TURN_CREDENTIALS,	/* to members of a call (GET /api/call) */
	M_TURN_CREDENTIALS_JANUS, /* to Janus (its turn_rest_api) */
	M_DB_BUSY_RETRIES,
	M_DELIVERED_POLL,	/* events in answers to long-polls */
	M_DELIVERED_WS,		/* ... in WebSocket frames */
	M_DELIVERED_STREAM,	/* ... in event streams */
	M_LIMIT_CLIENT,		/* + enum limit: refusals per client address */
	M_LIMIT_SESSION_WRITES = M_LIMIT_CLIENT + LIMIT__COUNT,
	M_LIMIT_SESSION_SIGNALS,
	M_LIMIT_SESSION_REACTIONS,
	M_LIMIT_WAITING_POLLS,	/* per client address, in a worker process */
	M_LIMIT_STREAMS,	/* open streams per client address (noom-ws,
				   nginx's limit_conn) */
	M__COUNT
};
enum histogram {
	H_POLL_WAIT,		/* a poll parked in the waker */
	H_DB_WRITE,		/* a write transaction, db_begin to its end */
	H__COUNT
};
#define METRICS_BUCKETS		16	/* the last is +Inf */
#define METRICS_STATUSES	15
#define METRICS_BEAT_MS		1000	/* a worker says it runs this often */
#define METRICS_STALE_MS	3000	/* ... and readyz fails past this */
struct histo_read {
	uint64_t	 bucket[METRICS_BUCKETS];	/* each alone */
	uint64_t	 sum_us;
};
/* A copy of the table (metrics_read), plain values. */
struct metrics_read {
	uint64_t	 counter[M__COUNT];
	uint64_t	 events[METRICS_EVENT_TYPES];
	uint64_t	 delivered[METRICS_EVENT_TYPES];
	uint64_t	 requests[R__COUNT][METRICS_STATUSES];
	struct histo_read latency[R__COUNT];
	struct histo_read histo[H__COUNT];
	int64_t		 waiting[NOOM_WORKERS_MAX];
	int		 workers;
	int64_t		 websockets;
	int64_t		 streams;
	int64_t		 nginx_streams;
};
/*
 * The last hour of a few figures, one sample a minute (the master takes
 * them: metrics_sample), for the admin page's charts.  Counters are running
 * totals; the page draws their differences.
 */
enum series {
	SR_SESSIONS, SR_ROOMS, SR_IN_CALL, SR_WAITING_POLLS, SR_WEBSOCKETS,
	SR_REQUESTS, SR_ERRORS, SR_EVENTS_WRITTEN, SR_DELIVERED, SR_STREAMS,
	SR__COUNT
};
#define METRICS_HISTORY		60
#define METRICS_NGINX_SLOTS	64	/* nginx worker processes counted */
#define METRICS_SAMPLE_MS	60000
struct sample {
	int64_t		 at;		/* wall ms; 0: none yet */
	int64_t		 v[SR__COUNT];
};
extern const char *const metrics_series[SR__COUNT];
void	 metrics_sample(struct metrics *, const struct figures *, int64_t);
int	 metrics_history(const struct metrics *, struct sample *, int);
void	 metrics_now(const struct metrics *, const struct figures *, int64_t,
	    struct sample *);
extern const char *const metrics_event_types[METRICS_EVENT_TYPES];
extern const int metrics_statuses[METRICS_STATUSES];
extern const int64_t metrics_bounds_time[METRICS_BUCKETS - 1];
extern const int64_t metrics_bounds_db[METRICS_BUCKETS - 1];
struct metrics *metrics_open(const char *, char **);
void	 metrics_close(struct metrics *);
int	 metrics_nginx_slot(struct metrics *);
void	 metrics_nginx_streams(struct metrics *, int, int64_t);
void	 metrics_nginx_release(struct metrics *, int);
void	 metrics_add(struct metrics *, enum metric, uint64_t);
void	 metrics_event(struct metrics *, const char *);
int	 metrics_type_index(const char *);
void	 metrics_delivered(struct metrics *, enum metric, const struct answer *);
void	 metrics_observe(struct metrics *, enum histogram, int64_t);
void	 metrics_request(struct metrics *, enum route, int, int64_t);
void	 metrics_waiting(struct metrics *, int, int64_t);
void	 metrics_workers(struct metrics *, int);
void	 metrics_beat(struct metrics *, int, int64_t);
int	 metrics_stale(const struct metrics *, int64_t, char *, size_t);
void	 metrics_websockets(struct metrics *, int64_t, int64_t);
void	 metrics_read(const struct metrics *, struct metrics_read *);

/* metrics_page.c: GET PREFIX/metrics, the Prometheus text format. */
void	 metrics_text(struct buf *, const struct metrics_read *,
	    const struct figures *);
void	 h_metrics(struct ctx *, const struct req *, struct resp *);

/* ws.c: the WebSocket protocol (RFC 6455), pure. */
#define WS_MSG_MAX	(64 * 1024)	/* bytes of one client message */
#define WS_HEAD_MAX	8192		/* bytes of the opening handshake */
enum {
	WS_CONT = 0x0,
	WS_TEXT = 0x1,
	WS_BINARY = 0x2,
	WS_CLOSE = 0x8,
	WS_PING = 0x9,
	WS_PONG = 0xa,
};
enum {
	WS_FAIL = -1,		/* close with ws_msg.code */
	WS_MORE,		/* no whole frame yet */
	WS_FRAME,		/* a fragment taken, no message yet */
	WS_MSG,			/* a message or control frame in ws_msg */
};
struct ws_in {
	int		 op;		/* message being assembled, 0: none */
	int		 delivered;	/* msg was handed out: reset next */
	size_t		 max;		/* message size limit */
	struct buf	 msg;		/* its payload so far */
};
struct ws_msg {
	int		 op;
	const char	*data;		/* valid until the next ws_parse */
	size_t		 len;
	int		 code;		/* close: peer's code; fail: ours */
	const char	*reason;	/* fail: why, static */
};
void	 ws_in_init(struct ws_in *, size_t);
void	 ws_in_free(struct ws_in *);
int	 ws_accept_key(const char *, char[29]);
int	 ws_handshake(const char *, size_t, struct buf *, const char **);
/* One header line of a request head, its value trimmed of blanks. */
struct head_field {
	const char	*name;
	size_t		 nlen;
	const char	*v;
	size_t		 vlen;
};
int	 head_field_next(const char **, const char *, struct head_field *);
int	 head_field_is(const struct head_field *, const char *);
int	 ws_parse(struct ws_in *, unsigned char *, size_t, size_t *,
	    struct ws_msg *);
void	 ws_frame(struct buf *, int, const void *, size_t);
void	 ws_close_frame(struct buf *, int, const char *);

/* sse.c: the event stream's HTTP (Server-Sent Events), pure. */
struct sse_req {
	int64_t		 cursor;	/* the query's, else Last-Event-ID's */
	int64_t		 last_id;	/* Last-Event-ID */
	int		 has_last;
	int		 bad_last;
	int		 has_token;
	char		 token[33];	/* from Authorization: Bearer */
	char		 addr[NOOM_ADDR_MAX];	/* X-Real-IP, "-" without */
};
/* A stream request's method, query and headers, however they were read. */
struct sse_fields {
	int		 get;		/* the method is GET */
	char		 query[256];
	char		 auth[128];	/* Authorization */
	int		 has_last;
	char		 last[24];	/* Last-Event-ID */
	char		 addr[NOOM_ADDR_MAX];	/* X-Real-IP, or "" */
};
/* Why a stream request is refused: the API error to answer. */
struct sse_err {
	int		 status;
	const char	*code;
	const char	*message;
	const char	*extra;		/* more header lines, or "" */
	const char	*why;		/* for the log */
};
int	 sse_is_stream(const char *, size_t);
int	 sse_params(const struct sse_fields *, struct sse_req *,
	    struct sse_err *);
int	 sse_request(const char *, size_t, struct sse_req *, struct buf *,
	    const char **);
void	 sse_error_body(struct buf *, int, const char *, const char *);
void	 sse_error(struct buf *, int, const char *, const char *,
	    const char *);
void	 sse_head(struct buf *);
void	 sse_event(struct buf *, int64_t, const char *, const char *, size_t);
int	 sse_keepalive_due(int64_t, int64_t, int64_t, int64_t);
void	 sse_keepalive(struct buf *);
void	 sse_close(struct buf *, int, const char *);

/* gateway.c: noom-ws's event loop. */
struct gw_conf {
	const char	*db_path;
	int		 listen_fd;	/* listening, non-blocking */
	int		 signal_fd;	/* signalfd: SIGTERM, SIGINT, SIGHUP */
	const char	*config_path;	/* --config (log_level), or NULL */
	int		 presence_timeout; /* seconds, as the workers' */
	int		 poll_ms;	/* an answer, empty if need be, this often */
	int		 ping_ms;	/* heartbeat: ping this often */
	int		 idle_ms;	/* close after this long silent */
	int		 max_conns;
	int		 chat_gap_ms;	/* as the workers' --chat-gap */
	int		 stream_ms;	/* a stream ends after this long */
	size_t		 stream_bytes;	/* ... or once this much is sent */
	int		 keepalive_ms;	/* a stream's comment this often */
	int		 streams_max;	/* streams per client address */
	int		 quiet;
	struct metrics	*metrics;	/* the shared counters, or NULL */
};
int	 gateway_run(const struct gw_conf *, char **);

/* conns.c */
struct conns;
struct conns *conns_new(int, char **);
int	 conns_take(struct conns *);
void	 conns_idle(struct conns *, int);
void	 conns_run(struct conns *);
void	 conns_stop(struct conns *);
void	 conns_free(struct conns *);

/* worker.c */
void	 worker_block_signals(void);
void	 worker_main(const struct app *, int, int) __attribute__((noreturn));
void	 worker_respond(void *, struct resp *);
void	 worker_respond_raw(void *, int, const char *, size_t);

#endif /* NOOM_H */
