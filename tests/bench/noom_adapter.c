/*
 * noom_adapter.c - lpbench adapter "noom-lp": Noom's long-poll mailbox (docs/API.md).
 *
 * Linked into the shared load generator without copying anything from it:
 *     make -C <bench>/src EXTRA_SRCS=$PWD/tests/bench/noom_adapter.c BUILD=<build>/lpbench
 *
 * Subscriber (one TCP keep-alive connection each, like a browser tab's poll connection):
 *     POST /api/session {"nickname":"sN"}          -> token
 *     POST /api/join    {"room":ROOM}               -> cursor
 *     GET  /api/poll?cursor=C   (Authorization: Bearer token), forever:
 *          200 {"cursor":C',"events":[...]}         -> bench_deliver(body), keep C'
 *          200 {"resync":true,"cursor":C',...}      -> continue from C' (events were lost:
 *                                                      the generator counts them missing)
 *          401                                      -> AR_RESET: new session, join again
 *          anything else (502, 504, 500)            -> AR_ERROR: retry with the same cursor
 *
 * Publisher: POST /api/messages {"text":<bench JSON as a string>,"client_id":"bN"} as a
 * member of the same room.  Chat is rate-limited per session (burst 30, 10/s, docs/API.md):
 * that is an anti-abuse limit on one user, not a limit on a room.  A room that carries
 * thousands of messages per second carries them from many members, so the publisher is a
 * pool of sessions: init() creates -o pub_sessions=P sessions (default 8), joins them to the
 * room, and pub_request() rotates over their tokens, which gives 10*P msg/s sustained.  A
 * 429 is never hidden: it is a failed publish like any other non-2xx answer.  Pool sessions
 * do not poll, so the bench server must run with a presence timeout longer than the run
 * (noom-worker --presence-timeout, set by tests/bench/noom-lp.sh).
 *
 * Options (-o key=value): room (bench), prefix (""), pub_sessions (8).
 *
 * Adapter "noom-ws": the same mailbox over the WebSocket gateway noom-ws (docs/API.md,
 * "WebSocket"); the same publisher pool and chat POST.  Subscriber, one TCP connection each:
 *     GET /ws (upgrade)  + text frame {"token":T,"cursor":C}   (one write, see below)
 *     every text frame {"cursor":C',"events":[...]}      -> bench_deliver(frame), keep C'
 * A WebSocket adapter cannot send HTTP requests on its connection before the upgrade, so the
 * subscribers' sessions are made up front like the publisher pool: init() creates
 * -o subs=N sessions (the target script passes run.sh's N; at most MAX_SUBS) joined to the
 * room, and subscriber i uses session i.  Every subscriber starts from the cursor of the last
 * join, as a client that opens its socket right after its own join would be (at most a few
 * events behind): starting each from its own join would make subscriber i replay the welcome
 * events of the N-i later joins at connect time (measured: at N=5000 that backlog grew the
 * gateway to 185 MB and overflowed its listen queue, which nginx answers with 502).
 * The generator core gives an adapter no call between the 101 and the server's first frame,
 * and noom-ws speaks only after the token frame, so the token frame is queued right behind the
 * upgrade request and goes out in the same write (noom-ws reads a frame that arrives with the
 * handshake, gateway.c conn_handshake, and nginx passes such early bytes through).  A browser
 * waits for the 101 first (RFC 6455 4.1): this saves the client one loopback round trip at
 * connect time and changes nothing once the socket is live, which is what is measured.  On a reconnect the subscriber resumes from the last cursor it got, as a client
 * would (no sub_reset: the state, with the cursor, is kept).
 *
 * Adapter "noom-stream": the same mailbox as an HTTP event stream from the gateway
 * (docs/API.md, "Event stream"); the same publisher pool and subscriber sessions as noom-ws
 * (made in init(), -o subs=N).  Subscriber, one TCP connection each:
 *     GET /api/stream?cursor=C HTTP/1.0  (Authorization: Bearer T)
 *     every SSE event "id: C'\ndata: {"cursor":C',"events":[...]}\n\n"
 *                                                     -> bench_deliver(event), keep C'
 * HTTP/1.0, so that nginx sends the body as it comes, unchunked and ended by the close.  It
 * needs the generator's stream mode (adapter.websocket == 2), which the shared harness does
 * not have yet: tests/bench/quick.sh builds lpbench from a copy of the harness's src/ with
 * tests/bench/lpbench-stream.patch applied (the shared folder stays as it is).  On a
 * reconnect the subscriber resumes from the last id it got.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "adapter.h"

#define TOKEN_LEN 32
#define MAX_SUBS  20000             /* noom-ws: subscriber sessions made in init(), at most */

enum { ST_SESSION = 0, ST_JOIN, ST_POLL };

typedef struct {
    int       st;                       /* next request: ST_* */
    long long cursor;                   /* last cursor the server gave */
    char      token[TOKEN_LEN + 1];
} noom_sub_t;

static const char *o_room = "bench", *o_prefix = "";
static char      (*pub_tokens)[TOKEN_LEN + 1];   /* the publisher pool */
static int         pub_n, pub_next;
static unsigned long long pub_seq;               /* client_id counter */

/* ---------------------------------------------------------------- small parsers */

/* Copy the 32-hex-digit value of "token":"..." from a JSON body; 0 on success. */
static int find_token(const char *p, size_t n, char *dst)
{
    const char *q = memmem(p, n, "\"token\":\"", 9);
    if (!q || (size_t)(p + n - (q + 9)) < TOKEN_LEN) return -1;
    q += 9;
    for (int i = 0; i < TOKEN_LEN; i++)
        if (!strchr("0123456789abcdef", q[i]) || !q[i]) return -1;
    memcpy(dst, q, TOKEN_LEN);
    dst[TOKEN_LEN] = 0;
    return 0;
}

/* Value of the top-level "cursor":N.  Chat text inside a body is a JSON string, where the
 * quotes are escaped (\"cursor\":), so the first unescaped match is the answer's own field. */
static int find_cursor(const char *p, size_t n, long long *out)
{
    const char *q = memmem(p, n, "\"cursor\":", 9);
    if (!q) return -1;
    q += 9;
    long long v = 0;
    int digits = 0;
    while (q < p + n && *q >= '0' && *q <= '9') { v = v * 10 + (*q++ - '0'); digits++; }
    if (!digits) return -1;
    *out = v;
    return 0;
}

/* ---------------------------------------------------------------- subscriber */

static void noom_reset(sub_t *s) { memset(sub_state(s), 0, sizeof(noom_sub_t)); }

static void post_json(buf_t *out, const char *path, const char *token, const char *body)
{
    buf_printf(out, "POST %s%s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n",
               o_prefix, path, bench_host());
    if (token) buf_printf(out, "Authorization: Bearer %s\r\n", token);
    buf_printf(out, "Content-Length: %zu\r\n\r\n%s", strlen(body), body);
}

static void noom_request(sub_t *s, buf_t *out)
{
    noom_sub_t *st = sub_state(s);
    char body[160];
    switch (st->st) {
    case ST_SESSION:
        snprintf(body, sizeof body, "{\"nickname\":\"s%d\"}", sub_id(s));
        post_json(out, "/api/session", NULL, body);
        return;
    case ST_JOIN:
        snprintf(body, sizeof body, "{\"room\":\"%s\"}", o_room);
        post_json(out, "/api/join", st->token, body);
        return;
    default:
        buf_printf(out, "GET %s/api/poll?cursor=%lld HTTP/1.1\r\nHost: %s\r\n"
                   "Authorization: Bearer %s\r\n\r\n", o_prefix, st->cursor, bench_host(), st->token);
    }
}

static int noom_response(sub_t *s, const http_resp_t *r)
{
    noom_sub_t *st = sub_state(s);
    if (r->status == 401) return AR_RESET;             /* session gone: start again */
    switch (st->st) {
    case ST_SESSION:
        if (r->status != 201 || find_token(r->body, r->body_len, st->token)) return AR_ERROR;
        st->st = ST_JOIN;
        return AR_NEXT;
    case ST_JOIN:
        /* The join answer's history may hold earlier bench messages: not deliveries. */
        if (r->status != 200 || find_cursor(r->body, r->body_len, &st->cursor)) return AR_ERROR;
        st->st = ST_POLL;
        return AR_NEXT;
    default:
        if (r->status != 200) return AR_ERROR;         /* 502/504/500: same cursor again */
        if (find_cursor(r->body, r->body_len, &st->cursor)) return AR_ERROR;
        bench_deliver(s, r->body, r->body_len);         /* resync has no events: nothing */
        return AR_NEXT;
    }
}

/* ---------------------------------------------------------------- publisher pool */

/* One blocking HTTP/1.0 exchange with the server (set-up only, before the run starts).
 * Returns the status and leaves the body in resp (NUL terminated), or -1. */
static int http_once(const char *req, char *resp, size_t cap)
{
    const char *colon = strrchr(bench_host(), ':');
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1)) };
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) { if (fd >= 0) close(fd); return -1; }
    size_t len = strlen(req), off = 0, got = 0;
    while (off < len) {
        ssize_t w = write(fd, req + off, len - off);
        if (w <= 0) { close(fd); return -1; }
        off += (size_t)w;
    }
    for (;;) {                                          /* HTTP/1.0: read until close */
        if (got + 1 >= cap) break;
        ssize_t n = read(fd, resp + got, cap - 1 - got);
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(fd);
    resp[got] = 0;
    int status;
    if (sscanf(resp, "HTTP/%*d.%*d %d", &status) != 1) return -1;
    char *body = strstr(resp, "\r\n\r\n");            /* keep only the body */
    if (body) memmove(resp, body + 4, strlen(body + 4) + 1);
    return status;
}

/* Create a session called nickname and join it to the room (set-up only): its token into
 * tok and, if cursor is not NULL, the join answer's cursor (where its mailbox starts).
 * 0 on success. */
static int session_join(const char *nickname, char *tok, long long *cursor)
{
    static char resp[1 << 22];     /* a join answer lists every member: room for thousands */
    char req[512], body[128];
    snprintf(body, sizeof body, "{\"nickname\":\"%s\"}", nickname);
    snprintf(req, sizeof req, "POST %s/api/session HTTP/1.0\r\nHost: %s\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\n\r\n%s", o_prefix, bench_host(), strlen(body), body);
    if (http_once(req, resp, sizeof resp) != 201 || find_token(resp, strlen(resp), tok)) return -1;
    snprintf(body, sizeof body, "{\"room\":\"%s\"}", o_room);
    snprintf(req, sizeof req, "POST %s/api/join HTTP/1.0\r\nHost: %s\r\nContent-Type: application/json\r\n"
             "Authorization: Bearer %s\r\nContent-Length: %zu\r\n\r\n%s",
             o_prefix, bench_host(), tok, strlen(body), body);
    if (http_once(req, resp, sizeof resp) != 200) return -1;
    return cursor ? find_cursor(resp, strlen(resp), cursor) : 0;
}

/* Options shared by both adapters, and the publisher pool. */
static void common_init(const char *name)
{
    o_room = bench_opt("room", "bench");
    o_prefix = bench_opt("prefix", "");
    pub_n = atoi(bench_opt("pub_sessions", "8"));
    if (pub_n < 1) pub_n = 1;
    pub_tokens = calloc((size_t)pub_n, sizeof *pub_tokens);
    if (!pub_tokens) { fprintf(stderr, "%s: out of memory\n", name); exit(1); }
    for (int i = 0; i < pub_n; i++) {
        char nick[32];
        snprintf(nick, sizeof nick, "pub%d", i);
        if (session_join(nick, pub_tokens[i], NULL)) {
            fprintf(stderr, "%s: could not create publisher session %d on %s\n", name, i, bench_host());
            exit(1);
        }
    }
    fprintf(stderr, "%s: %d publisher sessions in room '%s'\n", name, pub_n, o_room);
}

static void noom_init(void) { common_init("noom-lp"); }

/* The message as a chat text: the bench JSON becomes a JSON string (quotes escaped), which
 * bench_deliver() recognises inside the new_message event. */
static void noom_pub(const char *msg, size_t n, buf_t *out)
{
    char body[4096];
    size_t k = 0;
    k += (size_t)snprintf(body, sizeof body, "{\"text\":\"");
    for (size_t i = 0; i < n && k < sizeof body - 64; i++) {
        if (msg[i] == '"' || msg[i] == '\\') body[k++] = '\\';
        body[k++] = msg[i];
    }
    k += (size_t)snprintf(body + k, sizeof body - k, "\",\"client_id\":\"b%d-%llu\"}",
                          (int)getpid(), pub_seq++);
    const char *tok = pub_tokens[pub_next];
    pub_next = (pub_next + 1) % pub_n;
    buf_printf(out, "POST %s/api/messages HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
               "Authorization: Bearer %s\r\nContent-Length: %zu\r\n\r\n", o_prefix, bench_host(), tok, k);
    buf_append(out, body, k);
}

static const adapter_t noom_lp = {
    .name = "noom-lp",
    .desc = "Noom mailbox long-poll (session, join, poll?cursor); chat POST from a pool of sessions",
    .websocket = 0, .state_size = sizeof(noom_sub_t), .init = noom_init, .sub_reset = noom_reset,
    .sub_request = noom_request, .sub_response = noom_response, .pub_request = noom_pub,
};

/* ---------------------------------------------------------------- WebSocket (noom-ws) */

typedef struct {
    int       started;                  /* cursor set from ws_start */
    long long cursor;                   /* last cursor the server gave */
} noom_ws_sub_t;

static char      (*ws_tokens)[TOKEN_LEN + 1];    /* one session per subscriber, by sub_id */
static int         ws_n;
static long long   ws_start;                     /* the last join's cursor: where all start */

/* The publisher pool, and -o subs=N subscriber sessions made up front (noom-ws, noom-stream). */
static void subs_init(const char *name)
{
    common_init(name);
    ws_n = atoi(bench_opt("subs", "0"));
    if (ws_n < 1 || ws_n > MAX_SUBS) {
        fprintf(stderr, "%s: -o subs=N (1..%d, the number of subscribers) is needed\n", name, MAX_SUBS);
        exit(1);
    }
    ws_tokens = calloc((size_t)ws_n, sizeof *ws_tokens);
    if (!ws_tokens) { fprintf(stderr, "%s: out of memory\n", name); exit(1); }
    for (int i = 0; i < ws_n; i++) {
        char nick[32];
        snprintf(nick, sizeof nick, "s%d", i);
        if (session_join(nick, ws_tokens[i], &ws_start)) {
            fprintf(stderr, "%s: could not create subscriber session %d on %s\n", name, i, bench_host());
            exit(1);
        }
    }
    fprintf(stderr, "%s: %d subscriber sessions in room '%s', cursor %lld\n", name, ws_n, o_room, ws_start);
}

static void noom_ws_init(void) { subs_init("noom-ws"); }

/* The upgrade request, then (same write) the first frame {"token","cursor"}. */
static void noom_ws_request(sub_t *s, buf_t *out)
{
    noom_ws_sub_t *st = sub_state(s);
    int id = sub_id(s);
    if (id >= ws_n) {               /* more subscribers than -o subs: a set-up mistake */
        fprintf(stderr, "noom-ws: subscriber %d has no session (-o subs=%d)\n", id, ws_n);
        exit(1);
    }
    if (!st->started) { st->started = 1; st->cursor = ws_start; }
    buf_printf(out, "GET %s/ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
               o_prefix, bench_host());
    char frame[128];
    int n = snprintf(frame, sizeof frame, "{\"token\":\"%s\",\"cursor\":%lld}",
                     ws_tokens[id], st->cursor);
    /* out is the connection's output buffer: the masked frame lands behind the GET */
    bench_ws_send_text(s, frame, (size_t)n);
}

/* Every server frame is a poll answer: keep its cursor, count the bench messages in it. */
static int noom_ws_message(sub_t *s, const char *p, size_t n)
{
    noom_ws_sub_t *st = sub_state(s);
    if (find_cursor(p, n, &st->cursor)) return AR_ERROR;
    bench_deliver(s, p, n);
    return AR_NEXT;
}

static const adapter_t noom_ws = {
    .name = "noom-ws",
    .desc = "Noom mailbox over the WebSocket gateway (sessions made in init, token frame); chat POST from a pool of sessions",
    .websocket = 1, .state_size = sizeof(noom_ws_sub_t), .init = noom_ws_init,
    .sub_request = noom_ws_request, .ws_message = noom_ws_message, .pub_request = noom_pub,
};

/* ---------------------------------------------------------------- event stream (noom-stream) */
typedef struct {
    int       started;                  /* cursor set from ws_start */
    long long cursor;                   /* the last event's id */
    char     *carry;                    /* an event begun but not ended, or NULL */
    size_t    carry_len;
} noom_stream_sub_t;

static void noom_stream_init(void) { subs_init("noom-stream"); }

static void noom_stream_request(sub_t *s, buf_t *out)
{
    noom_stream_sub_t *st = sub_state(s);
    int id = sub_id(s);
    if (id >= ws_n) {
        fprintf(stderr, "noom-stream: subscriber %d has no session (-o subs=%d)\n", id, ws_n);
        exit(1);
    }
    if (!st->started) { st->started = 1; st->cursor = ws_start; }
    free(st->carry);                    /* a new response: nothing carries over */
    st->carry = NULL;
    st->carry_len = 0;
    buf_printf(out, "GET %s/api/stream?cursor=%lld HTTP/1.0\r\nHost: %s\r\n"
               "Authorization: Bearer %s\r\n\r\n", o_prefix, st->cursor, bench_host(), ws_tokens[id]);
}

/* One whole SSE event (or comment) in p[0..n): keep its id, count the bench messages in it. */
static void stream_event(sub_t *s, noom_stream_sub_t *st, const char *p, size_t n)
{
    if (n > 4 && memcmp(p, "id: ", 4) == 0) st->cursor = strtoll(p + 4, NULL, 10);
    bench_deliver(s, p, n);
}

/* A piece of the body: every event it ends goes to stream_event; the rest is carried. */
static int noom_stream_message(sub_t *s, const char *p, size_t n)
{
    noom_stream_sub_t *st = sub_state(s);
    const char *end = p + n, *q;
    if (st->carry) {                    /* join the carried start first */
        char *b = realloc(st->carry, st->carry_len + n);
        if (!b) return AR_ERROR;
        memcpy(b + st->carry_len, p, n);
        st->carry = NULL;
        n += st->carry_len;
        st->carry_len = 0;
        int rc = noom_stream_message(s, b, n);
        free(b);
        return rc;
    }
    while ((q = memmem(p, (size_t)(end - p), "\n\n", 2)) != NULL) {
        stream_event(s, st, p, (size_t)(q - p));
        p = q + 2;
    }
    if (p < end) {
        if (!(st->carry = malloc((size_t)(end - p)))) return AR_ERROR;
        memcpy(st->carry, p, (size_t)(end - p));
        st->carry_len = (size_t)(end - p);
    }
    return AR_NEXT;
}

static const adapter_t noom_stream = {
    .name = "noom-stream",
    .desc = "Noom mailbox as an HTTP event stream from the gateway (sessions made in init); chat POST from a pool of sessions",
    .websocket = 2, .state_size = sizeof(noom_stream_sub_t), .init = noom_stream_init,
    .sub_request = noom_stream_request, .ws_message = noom_stream_message, .pub_request = noom_pub,
};

const adapter_t *const extra_adapters[] = { &noom_lp, &noom_ws, &noom_stream, NULL };
