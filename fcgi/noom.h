/*
 * noom.h — the one private header of the Noom FastCGI worker.
 *
 * Prototypes are grouped by the file that defines them, in the order a request
 * flows: start-up (main.c), accepting requests (worker.c), routing (route.c),
 * the handlers (session.c, rooms.c, chat.c, call.c, poll.c, presence.c,
 * pages.c), and the pure
 * helpers they share (valid.c, tmpl.c, token.c, turn.c, conf.c, util.c,
 * log.c).  All SQL lives
 * behind db.h; the cross-process doorbell behind wake.c.  The WebSocket
 * gateway noom-ws (ws_main.c, gateway.c, the codec ws.c) is a program of its
 * own that shares the store, the doorbell, the answer shape (poll_body_new)
 * and the log matching of fanout.c with the workers.
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

#include "db.h"

/* Limits: docs/API.md is the user-facing copy of these numbers. */
#define NOOM_NICK_MAX		32	/* code points */
#define NOOM_ROOM_MAX		64
#define NOOM_TEXT_MAX		2000
#define NOOM_CLIENT_ID_MAX	64
#define NOOM_BODY_MAX		(64 * 1024)	/* bytes of request body */
#define NOOM_HISTORY		50	/* messages a newcomer sees */
#define NOOM_MEMBERS_MAX	200	/* members listed in a room's state */
#define NOOM_BIG_ROOM		50	/* above: member notices may be held */
#define NOOM_NOTICE_HOLD_MS	1000	/* how long a poll holds them */
#define NOOM_CHAT_GAP_MS	25	/* --chat-gap default, ms */
#define NOOM_RING_GAP_MS	5	/* least time between two ring scans */
#define NOOM_BATCH_MAX		500	/* events in one poll answer */
#define NOOM_RL_BURST		30	/* write calls a session may burst */
#define NOOM_RL_RATE		10	/* ... refilled per second */
#define NOOM_SIG_BURST		200	/* signaling messages a session may burst */
#define NOOM_SIG_RATE		50	/* ... refilled per second */
#define NOOM_SIGNAL_MAX		(16 * 1024)	/* bytes of one signal's data */
#define NOOM_ICE_URLS_MAX	16	/* stun / turn URLs in the configuration */

/*
 * The configuration every thread reads.  It is filled in by main.c before any
 * worker thread exists and never written afterwards, so it needs no lock.
 */
struct app {
	const char	*db_path;
	const char	*data_dir;	/* holds sql/ and templates/ */
	const char	*state_dir;	/* holds the doorbell file */
	int		 poll_timeout;	/* seconds a poll may wait */
	int		 chat_gap_ms;	/* chat answers to one poller: apart */
	int		 presence_timeout; /* seconds without a poll before leaving */
	int		 retention;	/* seconds events are kept */
	int		 threads;	/* accept threads per worker process */
	int		 quiet;		/* no per-request log lines */
	char		*tmpl_app;	/* templates/app.html, loaded once */

	/* Calls (conf.c fills these from --config). */
	int		 mesh_max;	/* members in the call; the rest chat */
	char		*stun[NOOM_ICE_URLS_MAX + 1];	/* NULL-terminated */
	char		*turn[NOOM_ICE_URLS_MAX + 1];	/* NULL-terminated */
	char		*turn_secret;	/* coturn static-auth-secret, or NULL */
	int		 turn_ttl;	/* seconds a TURN credential is valid */
	int		 ice_relay;	/* 1: browsers use TURN relays only */
};

/* A request as the handlers see it: plain strings, no FastCGI. */
struct req {
	const char	*method;
	const char	*path;		/* below the prefix, starts with '/' */
	const char	*query;		/* raw query string, never NULL */
	const char	*auth;		/* Authorization header or NULL */
	const char	*prefix;	/* deployment prefix, "" or "/noom" */
	const char	*body;		/* NUL-terminated copy, or NULL */
	size_t		 body_len;
	int64_t		 now_ms;
};

/* A parked poll: what poll.c needs to answer it later. */
struct park {
	int64_t		 session_id;
	int64_t		 room_id;	/* 0: in no room */
	int64_t		 join_seq;	/* room events must be after this */
	int64_t		 upto;		/* events up to here were checked */
};

/*
 * A response.  Exactly one of json / text is set, unless parked is set, in
 * which case the worker hands the request to the poll waker instead of
 * answering.  resp_clear() frees what a response owns.
 */
struct resp {
	int		 status;
	json_t		*json;		/* owned */
	char		*text;		/* owned, with content_type */
	const char	*content_type;
	const char	*allow;		/* for 405 */
	int		 retry_after;	/* seconds, for 429; 0: none */
	int		 parked;
	struct park	 park;
	int64_t		 chat_hold_ms;	/* parked: chat waits this long */
};

/* Per-thread context handed to handlers. */
struct waker;

struct ctx {
	const struct app *app;
	struct db	*db;		/* this thread's connection */
	struct waker	*waker;		/* this process's (worker); or NULL */
};

/* log.c */
void	 log_msg(const char *, const char *, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
#define log_info(...)	log_msg("info", __func__, __VA_ARGS__)
#define log_warn(...)	log_msg("warn", __func__, __VA_ARGS__)
void	 fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void	 log_set_ident(const char *);

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
void	 buf_add(struct buf *, const char *, size_t);
void	 buf_adds(struct buf *, const char *);
void	 buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
char	*buf_steal(struct buf *);
char	*file_read_new(const char *, size_t, char **);
int64_t	 now_ms(void);
int64_t	 mono_ms(void);
void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
char	*xstrdup(const char *);
int	 opt_number(const char *, int, int, const char *);

/* valid.c: pure checks of client text. */
long	 utf8_count(const char *, size_t);
char	*valid_trim_new(const char *);
int	 valid_text(const char *, size_t, size_t, int, const char **);
int	 valid_client_id(const char *, const char **);
int	 parse_cursor(const char *, int64_t *);

/* tmpl.c: templates with mandatory HTML escaping. */
struct tmpl_var {
	const char	*name;
	const char	*value;
};
void	 html_escape(struct buf *, const char *);
char	*tmpl_render_new(const char *, const struct tmpl_var *, size_t);

/* token.c */
int	 token_new(char out[33]);
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
	R_PAGE_HOME,
	R_PAGE_ROOM,
};
enum route route_find(const char *, const char *, const char **);
void	 api_dispatch(struct ctx *, const struct req *, struct resp *);

/* resp helpers (route.c) */
void	 resp_json(struct resp *, int, json_t *);
void	 resp_error(struct resp *, int, const char *, const char *, ...)
	    __attribute__((format(printf, 4, 5)));
void	 resp_clear(struct resp *);
json_t	*body_object(const struct req *, int, struct resp *);
int	 body_string(json_t *, const char *, int, const char **, struct resp *);

/* session.c */
int	 auth_session(struct ctx *, const struct req *, struct resp *,
	    struct session *);
int	 rate_take(struct ctx *, const struct session *, int64_t,
	    struct resp *);
int	 rate_take_signal(struct ctx *, const struct session *, int64_t,
	    struct resp *);
void	 h_session_create(struct ctx *, const struct req *, struct resp *);
void	 h_session_get(struct ctx *, const struct req *, struct resp *);
void	 h_nickname(struct ctx *, const struct req *, struct resp *);

/* rooms.c */
void	 h_rooms(struct ctx *, const struct req *, struct resp *);
void	 h_room(struct ctx *, const struct req *, struct resp *);
void	 h_join(struct ctx *, const struct req *, struct resp *);
void	 h_leave(struct ctx *, const struct req *, struct resp *);
int	 room_leave(struct ctx *, const struct session *, const char *,
	    int64_t);
json_t	*room_list_new(struct ctx *);

/* chat.c */
void	 h_messages(struct ctx *, const struct req *, struct resp *);

/* call.c */
void	 h_call(struct ctx *, const struct req *, struct resp *);
void	 h_signal(struct ctx *, const struct req *, struct resp *);
void	 h_media(struct ctx *, const struct req *, struct resp *);

/* turn.c: coturn REST-API credentials. */
int	 turn_credential(const char *, const char *, char *, size_t);

/* conf.c */
int	 conf_load(struct app *, const char *, char **);
void	 conf_free(struct app *);

/* fanout.c */
/* One scanned event, rendered once for every reader it goes to. */
struct scanned {
	struct event	 ev;		/* type/data point into owned copies */
	char		*type;		/* owned */
	char		*data;		/* owned */
	char		*json;		/* {"seq",...}, owned */
	size_t		 json_len;	/* strlen(json) */
	int		 chat;		/* event_chat(&ev) */
};
/* Events read from the log in one go; owns its array and every entry. */
struct scan {
	struct scanned	*evs;
	size_t		 n, cap;
};
void	 event_render(struct buf *, const struct event *);
int	 event_visible(const struct park *, const struct event *);
int	 event_moves(const struct park *, const struct event *);
int	 event_holdable(int64_t, const char *, const json_t *);
int	 event_chat(const struct event *);
int	 scan_add(void *, const struct event *);
void	 scan_clear(struct scan *);
void	 scan_free(struct scan *);

/* poll.c */
enum {
	POLL_FAIL = -1,
	POLL_EMPTY,		/* nothing visible after the cursor yet */
	POLL_EVENTS,
	POLL_RESYNC,		/* the cursor is not in the kept log */
};
/* May a POLL_EVENTS answer wait for more to join it? */
enum {
	WAIT_NO,		/* an event that may not wait, or a full batch */
	WAIT_CHAT,		/* chat (and notices): see chat_hold() */
	WAIT_NOTICES,		/* notices only: NOOM_NOTICE_HOLD_MS */
};
void	 h_poll(struct ctx *, const struct req *, struct resp *);
int	 poll_read_in(struct db *, const struct park *, int64_t *, int64_t *,
	    char **, int *);
char	*poll_body_new(int64_t, const char *, size_t, int);
void	 poll_body_add(struct buf *, int64_t, const char *, size_t, int);
int64_t	 presence_touch_ms(int);
struct waker *waker_new(const struct app *, char **);
void	 waker_park(struct waker *, void *, const struct park *, int64_t,
	    int64_t);
int64_t	 waker_newest(struct waker *, int64_t *);
void	 waker_seen(struct waker *, int64_t);
void	 waker_run(struct waker *);

/* presence.c */
void	 maintenance(struct ctx *, int64_t);

/* pages.c */
void	 h_page(struct ctx *, const struct req *, struct resp *, enum route);

/* wake.c: the cross-process doorbell. */
int	 wake_init(const char *, char **);
void	 wake_ring(void);
int	 wake_watch_fd(void);
void	 wake_drain(void);

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
int	 ws_parse(struct ws_in *, unsigned char *, size_t, size_t *,
	    struct ws_msg *);
void	 ws_frame(struct buf *, int, const void *, size_t);
void	 ws_close_frame(struct buf *, int, const char *);

/* gateway.c: noom-ws's event loop. */
struct gw_conf {
	const char	*db_path;
	int		 listen_fd;	/* listening, non-blocking */
	int		 signal_fd;	/* signalfd: SIGTERM, SIGINT */
	int		 presence_timeout; /* seconds, as the workers' */
	int		 poll_ms;	/* an answer, empty if need be, this often */
	int		 ping_ms;	/* heartbeat: ping this often */
	int		 idle_ms;	/* close after this long silent */
	int		 max_conns;
	int		 quiet;
};
int	 gateway_run(const struct gw_conf *, char **);

/* conns.c */
struct conns;
struct conns *conns_new(int, char **);
int	 conns_take(struct conns *);
void	 conns_idle(struct conns *, int);
void	 conns_run(struct conns *) __attribute__((noreturn));

/* worker.c */
void	 worker_main(const struct app *, int) __attribute__((noreturn));
void	 worker_respond(void *, struct resp *);
void	 worker_respond_raw(void *, int, const char *, size_t);

#endif /* NOOM_H */
