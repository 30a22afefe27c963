/*
 * sfu.c — calls past the mesh on a Janus VideoRoom (docs/DESIGN.md "Calls
 * past the mesh").
 *
 * When Janus is configured (conf keys janus, janus_secret; sfu = auto), a
 * room's call moves onto a VideoRoom as soon as it has more than mesh_max
 * members (sfu = always: at once), and stays there until the room empties:
 * a call that shrank back keeps its SFU, so that nobody's picture drops a
 * second time.  The room is a row of sfu_rooms while it is on the SFU.
 *
 * Janus trusts nobody but Noom: its token_auth_secret is janus_secret, and
 * every request to it carries a token signed with that secret (Janus's
 * signed-token format, "expiry,janus,plugin[,descriptor]:base64(HMAC-SHA1)").
 * GET /api/call gives a member of an SFU call two of them:
 *
 * - a session token ("expiry,janus,janus.plugin.videoroom"), valid
 *   sfu_token_ttl seconds, which lets the page talk to Janus at all;
 * - a join token ("expiry,janus.plugin.videoroom,room=ID"), valid
 *   SFU_JOIN_TTL seconds, which the VideoRoom asks for (signed_tokens) when
 *   the page joins that room as a publisher or subscriber.
 *
 * The room itself is private, takes an admin_key to create, a secret to
 * change (both derived from janus_secret, never sent to a browser), and
 * requires subscribers to name their own publisher (require_pvtid).  A
 * member publishes its camera and microphone under a feed id derived from
 * its session, display "SID", and its screen share as a second publisher
 * under another, display "SID:screen" (sfu_feed): nobody can guess
 * another member's before that member publishes.
 *
 * Removal: the maintenance thread (sfu_maint) lists each SFU room's
 * participants and kicks any whose session is no longer a member of the
 * Noom room, or whose feed id is not that session's (camera or screen, as
 * its display says); Janus then kicks the
 * subscriptions made under that publisher too.  A removed member's join
 * token dies within SFU_JOIN_TTL, so it cannot come back.  An empty room's
 * VideoRoom is destroyed and its row removed.
 *
 * Janus is asked over its HTTP API on loopback, one short request at a
 * time (janus_post: SFU_HTTP_MS at most each, SFU_BUDGET_MS for what one
 * request handler or one maintenance pass asks); Janus down means a room
 * past the mesh stays mesh with the rest chat-only, as without Janus.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "noom.h"

#define SFU_JOIN_TTL	120		/* seconds a join token is valid */
#define SFU_HTTP_MS	1000		/* one request to Janus, at most */
#define SFU_BUDGET_MS	2500		/* what one caller may spend on Janus */
#define SFU_REPLY_MAX	(256 * 1024)	/* bytes of one Janus answer */
#define SFU_PUBLISHERS	64		/* feeds in one VideoRoom (cameras and
					   screens) */
#define SFU_ROOMS_MAX	256		/* SFU rooms one maintenance pass sees */
#define SFU_PLUGIN	"janus.plugin.videoroom"

/* The VideoRoom errors Noom expects (janus_videoroom.c). */
#define VR_NO_SUCH_ROOM	426
#define VR_ROOM_EXISTS	427
#define VR_NO_SUCH_FEED	428

/* A Janus session with the VideoRoom attached, for one caller. */
struct janus {
	const struct conf *cf;
	int64_t		 deadline;	/* mono_ms */
	int64_t		 session;	/* 0: none */
	int64_t		 handle;
	char		 token[160];
};

/* Is there a Janus to move calls to? */
int
sfu_on(const struct conf *cf)
{
	return cf->janus_url != NULL && cf->janus_secret != NULL &&
	    cf->sfu_mode != SFU_OFF;
}

/* HMAC-SHA256(janus_secret, what) into mac (32 bytes). */
static void
sfu_mac(const struct conf *cf, const char *what, unsigned char mac[32])
{
	unsigned int	 len = 0;

	if (HMAC(EVP_sha256(), cf->janus_secret, (int)strlen(cf->janus_secret),
	    (const unsigned char *)what, strlen(what), mac, &len) == NULL ||
	    len != 32)
		memset(mac, 0, 32);
}

/* A number of 48 bits (exact in JavaScript), > 0, derived from what. */
static int64_t
sfu_number(const struct conf *cf, const char *what)
{
	unsigned char	 mac[32];
	int64_t		 n = 0;
	int		 i;

	sfu_mac(cf, what, mac);
	for (i = 0; i < 6; i++)
		n = (n << 8) | mac[i];
	return n != 0 ? n : 2;
}

/* The VideoRoom number of room's SFU call begun at created_ms. */
static int64_t
sfu_room_number(const struct conf *cf, int64_t room, int64_t created_ms)
{
	char	 what[64];

	snprintf(what, sizeof(what), "room:%" PRId64 ":%" PRId64, room,
	    created_ms);
	return sfu_number(cf, what);
}

/*
 * Session sid's feed id in VideoRoom jid: even for its camera and
 * microphone, odd for its screen share (screen), so the two never meet.
 * Each has its own HMAC label: knowing one tells nothing of the other, so
 * nobody can take a member's screen id before that member shares.
 */
int64_t
sfu_feed(const struct conf *cf, int64_t jid, int64_t sid, int screen)
{
	char	 what[64];

	snprintf(what, sizeof(what), "%s:%" PRId64 ":%" PRId64,
	    screen ? "screen" : "feed", jid, sid);
	if (screen)
		return sfu_number(cf, what) | 1;
	return (sfu_number(cf, what) & ~(int64_t)1) + 2;
}

/* The secret that changes VideoRoom jid (kick, destroy), as hex. */
static void
sfu_room_secret(const struct conf *cf, int64_t jid, char out[65])
{
	unsigned char	 mac[32];
	char		 what[48];
	int		 i;

	snprintf(what, sizeof(what), "secret:%" PRId64, jid);
	sfu_mac(cf, what, mac);
	for (i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
}

/*
 * A Janus signed token valid until expiry (epoch seconds): with jid 0 a
 * session token, realm "janus", for the VideoRoom plugin; with jid > 0 a
 * join token, realm the plugin, naming VideoRoom jid (what the VideoRoom
 * checks on a join; it cannot open a Janus session).  0, or -1.
 */
int
sfu_token(const struct conf *cf, int64_t expiry, int64_t jid, char *out,
    size_t size)
{
	char	 data[96], sig[64];
	int	 n;

	if (jid > 0)
		n = snprintf(data, sizeof(data), "%" PRId64 "," SFU_PLUGIN
		    ",room=%" PRId64, expiry, jid);
	else
		n = snprintf(data, sizeof(data), "%" PRId64 ",janus," SFU_PLUGIN,
		    expiry);
	if (n < 0 || (size_t)n >= sizeof(data) ||
	    turn_credential(cf->janus_secret, data, sig, sizeof(sig)) == -1)
		return -1;
	n = snprintf(out, size, "%s:%s", data, sig);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* ---- Janus's HTTP API ------------------------------------------------------------------ */

/* Wait until fd is ready for events, at most until deadline; 0 or -1. */
static int
wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd	 p = { .fd = fd, .events = events };
	int64_t		 left;
	int		 n;

	for (;;) {
		if ((left = deadline - mono_ms()) <= 0)
			return -1;
		n = poll(&p, 1, (int)left);
		if (n > 0)
			return 0;
		if (n == 0 || errno != EINTR)
			return -1;
	}
}

/* A non-blocking TCP connection to 127.0.0.1:port, or -1. */
static int
connect_loopback(unsigned int port, int64_t deadline)
{
	struct sockaddr_in sa;
	socklen_t	 len = sizeof(int);
	int		 fd, err = 0;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 &&
	    (errno != EINPROGRESS || wait_fd(fd, POLLOUT, deadline) == -1 ||
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 ||
	    err != 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Write all of buf; 0 or -1. */
static int
send_all(int fd, const char *buf, size_t len, int64_t deadline)
{
	ssize_t	 n;

	while (len > 0) {
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
		} else if (n == -1 && errno == EAGAIN) {
			if (wait_fd(fd, POLLOUT, deadline) == -1)
				return -1;
		} else if (n == -1 && errno != EINTR)
			return -1;
	}
	return 0;
}

/*
 * Undo chunked transfer coding in place (Janus's HTTP server uses it):
 * body becomes the NUL-terminated payload.  0, or -1 if it is malformed.
 */
static int
dechunk(char *body)
{
	char		*in = body, *out = body, *end;
	unsigned long	 n;

	for (;;) {
		n = strtoul(in, &end, 16);
		if (end == in || (end = strstr(end, "\r\n")) == NULL)
			return -1;
		in = end + 2;
		if (n == 0)
			break;
		if (strlen(in) < n + 2)
			return -1;
		memmove(out, in, n);
		out += n;
		in += n + 2;
	}
	*out = '\0';
	return 0;
}

/*
 * Read an HTTP answer (the request asked Janus to close the connection
 * after it); its body as a new JSON value when the status is 200, or NULL.
 */
static json_t *
read_reply(int fd, int64_t deadline)
{
	char		*buf = xcalloc(1, SFU_REPLY_MAX + 1), *body, *cl;
	size_t		 len = 0;
	ssize_t		 n;
	json_t		*v = NULL;

	for (;;) {
		if (len == SFU_REPLY_MAX || wait_fd(fd, POLLIN, deadline) == -1)
			goto out;
		n = recv(fd, buf + len, SFU_REPLY_MAX - len, 0);
		if (n == 0)
			break;
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			goto out;
		if (n > 0)
			len += (size_t)n;
	}
	buf[len] = '\0';
	if (strncmp(buf, "HTTP/1.1 200", 12) != 0 ||
	    (body = strstr(buf, "\r\n\r\n")) == NULL)
		goto out;
	*body = '\0';
	body += 4;
	cl = strcasestr(buf, "\r\nTransfer-Encoding: chunked");
	if (cl != NULL && dechunk(body) == -1)
		goto out;
	v = json_loads(body, 0, NULL);
out:
	free(buf);
	return v;
}

/*
 * POST msg (stolen; its transaction and token are added) to Janus's API at
 * the base path plus tail ("" or "/SESSION[/HANDLE]").  The answer, or
 * NULL when Janus did not give one in time.
 */
static json_t *
janus_post(struct janus *j, const char *tail, json_t *msg)
{
	unsigned int	 port = 0;
	const char	*path;
	char		*text = NULL, head[512];
	int64_t		 deadline = mono_ms() + SFU_HTTP_MS;
	json_t		*reply = NULL;
	int		 fd = -1, n;

	if (deadline > j->deadline)
		deadline = j->deadline;
	json_object_set_new(msg, "transaction", json_string("noom"));
	json_object_set_new(msg, "token", json_string(j->token));
	if (sscanf(j->cf->janus_url, "http://127.0.0.1:%u", &port) != 1 ||
	    (path = strchr(j->cf->janus_url + 7, '/')) == NULL ||
	    (text = json_dumps(msg, JSON_COMPACT)) == NULL)
		goto out;
	n = snprintf(head, sizeof(head), "POST %s%s HTTP/1.1\r\n"
	    "Host: 127.0.0.1\r\nContent-Type: application/json\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n", path, tail,
	    strlen(text));
	if (n < 0 || (size_t)n >= sizeof(head) ||
	    (fd = connect_loopback(port, deadline)) == -1 ||
	    send_all(fd, head, (size_t)n, deadline) == -1 ||
	    send_all(fd, text, strlen(text), deadline) == -1)
		goto out;
	reply = read_reply(fd, deadline);
out:
	if (fd != -1)
		close(fd);
	free(text);
	json_decref(msg);
	return reply;
}

/* The integer at reply.data.id, or 0. */
static int64_t
reply_id(json_t *reply)
{
	return json_integer_value(json_object_get(json_object_get(reply,
	    "data"), "id"));
}

/* Open a Janus session with the VideoRoom attached; 0 or -1. */
static int
janus_open(struct janus *j, const struct conf *cf)
{
	char	 tail[32];
	json_t	*r;

	memset(j, 0, sizeof(*j));
	j->cf = cf;
	j->deadline = mono_ms() + SFU_BUDGET_MS;
	if (sfu_token(cf, now_ms() / 1000 + 60, 0, j->token,
	    sizeof(j->token)) == -1)
		return -1;
	r = janus_post(j, "", json_pack("{s:s}", "janus", "create"));
	j->session = reply_id(r);
	json_decref(r);
	if (j->session <= 0)
		return -1;
	snprintf(tail, sizeof(tail), "/%" PRId64, j->session);
	r = janus_post(j, tail, json_pack("{s:s,s:s}", "janus", "attach",
	    "plugin", SFU_PLUGIN));
	j->handle = reply_id(r);
	json_decref(r);
	return j->handle > 0 ? 0 : -1;
}

/* Close j's Janus session, if it has one. */
static void
janus_close(struct janus *j)
{
	char	 tail[32];

	if (j->session <= 0)
		return;
	snprintf(tail, sizeof(tail), "/%" PRId64, j->session);
	json_decref(janus_post(j, tail, json_pack("{s:s}", "janus",
	    "destroy")));
	j->session = 0;
}

/*
 * Ask the VideoRoom body (stolen, a synchronous request).  Its answer
 * (plugindata.data, new), or NULL when Janus did not answer.
 */
static json_t *
janus_ask(struct janus *j, json_t *body)
{
	char	 tail[48];
	json_t	*r, *data;

	snprintf(tail, sizeof(tail), "/%" PRId64 "/%" PRId64, j->session,
	    j->handle);
	r = janus_post(j, tail, json_pack("{s:s,s:o}", "janus", "message",
	    "body", body));
	data = json_object_get(json_object_get(r, "plugindata"), "data");
	json_incref(data);
	json_decref(r);
	return data;
}

/* The VideoRoom error code of an answer: 0 for success, -1 for none. */
static int
vr_error(json_t *data)
{
	if (data == NULL)
		return -1;
	return (int)json_integer_value(json_object_get(data, "error_code"));
}

/*
 * Send VideoRoom jid the request body (taken; NULL fails), with the room's
 * id and secret added: the VideoRoom's error code, 0 for success, -1 when
 * Janus did not answer.
 */
static int
vr_request(struct janus *j, int64_t jid, json_t *body)
{
	char	 secret[65];
	json_t	*data;
	int	 err;

	if (body == NULL)
		return -1;
	sfu_room_secret(j->cf, jid, secret);
	json_object_set_new(body, "room", json_integer((json_int_t)jid));
	json_object_set_new(body, "secret", json_string(secret));
	data = janus_ask(j, body);
	err = vr_error(data);
	json_decref(data);
	return err;
}

/* Create VideoRoom jid (an existing one is fine); 0 or -1. */
static int
vr_create(struct janus *j, int64_t jid)
{
	int	 err;

	err = vr_request(j, jid, json_pack("{s:s,s:s,s:s,s:b,s:b,s:b,s:i,"
	    "s:s,s:b,s:b}", "request", "create",
	    "admin_key", j->cf->janus_secret,
	    "description", "noom", "is_private", 1, "signed_tokens", 1,
	    "require_pvtid", 1, "publishers", SFU_PUBLISHERS, "videocodec",
	    "vp8", "audiolevel_event", 1, "notify_joining", 0));
	if (err != 0 && err != VR_ROOM_EXISTS) {
		log_warn("Janus cannot create VideoRoom %" PRId64 " (%d)", jid,
		    err);
		return -1;
	}
	return 0;
}

/* Destroy VideoRoom jid (a missing one is fine); 0 or -1. */
static int
vr_destroy(struct janus *j, int64_t jid)
{
	int	 err;

	err = vr_request(j, jid, json_pack("{s:s}", "request", "destroy"));
	return err == 0 || err == VR_NO_SUCH_ROOM ? 0 : -1;
}

/* Kick participant feed out of VideoRoom jid; 0 or -1. */
static int
vr_kick(struct janus *j, int64_t jid, int64_t feed)
{
	int	 err;

	err = vr_request(j, jid, json_pack("{s:s,s:I}", "request", "kick",
	    "id", (json_int_t)feed));
	return err == 0 || err == VR_NO_SUCH_FEED ? 0 : -1;
}

/* ---- The call's mode (GET /api/call) ------------------------------------------------- */

/*
 * The VideoRoom of session s's room, put on the SFU now if its call has
 * grown past the mesh: > 0, 0 for a mesh call, -1 when the store failed.
 */
static int64_t
sfu_room_for(struct ctx *c, const struct conf *cf, const struct session *s,
    int64_t now)
{
	struct janus	 j;
	int64_t		 jid;
	int		 count, ok;

	if ((jid = db_sfu_room(c->db, s->room_id)) != 0)
		return jid;
	if ((count = db_room_count(c->db, s->room_id)) == -1)
		return -1;
	if (cf->sfu_mode != SFU_ALWAYS && count <= cf->mesh_max)
		return 0;
	/* Two members may ask at once: the first row made wins. */
	if (db_sfu_room_add(c->db, s->room_id,
	    sfu_room_number(cf, s->room_id, now), now) == -1 ||
	    (jid = db_sfu_room(c->db, s->room_id)) <= 0)
		return -1;
	if ((ok = janus_open(&j, cf) == 0) == 0)
		log_warn("Janus does not answer at %s", cf->janus_url);
	ok = ok && vr_create(&j, jid) == 0;
	janus_close(&j);
	if (ok) {
		log_info("room %" PRId64 " moves onto VideoRoom %" PRId64
		    " (%d members)", s->room_id, jid, count);
		return jid;
	}
	/* No Janus: the call stays a mesh, the rest chat-only. */
	if (db_sfu_room_drop(c->db, s->room_id, jid) == -1)
		return -1;
	return 0;
}

/*
 * What GET /api/call says about the SFU for session s: a new object
 * {path, room, feed, screen, token, join, ttl} when s's call is on the SFU, NULL
 * for a mesh call.  -1 in *failed when the store failed.
 */
json_t *
sfu_call_new(struct ctx *c, const struct session *s, int64_t now,
    int *failed)
{
	const struct conf *cf = conf_now(c->app);
	char		 token[160], join[160];
	int64_t		 jid;

	*failed = 0;
	if (!sfu_on(cf))
		return NULL;
	if ((jid = sfu_room_for(c, cf, s, now)) <= 0) {
		*failed = jid == -1 ? -1 : 0;
		return NULL;
	}
	if (sfu_token(cf, now / 1000 + cf->sfu_token_ttl, 0, token,
	    sizeof(token)) == -1 ||
	    sfu_token(cf, now / 1000 + SFU_JOIN_TTL, jid, join,
	    sizeof(join)) == -1) {
		*failed = -1;
		return NULL;
	}
	return json_pack("{s:s,s:I,s:I,s:I,s:s,s:s,s:i}", "path", "janus",
	    "room", (json_int_t)jid,
	    "feed", (json_int_t)sfu_feed(cf, jid, s->id, 0),
	    "screen", (json_int_t)sfu_feed(cf, jid, s->id, 1),
	    "token", token, "join", join, "ttl", cf->sfu_token_ttl);
}

/* ---- Maintenance: kicks and empty rooms --------------------------------------------- */

/*
 * Is participant p of VideoRoom jid (room room) a current member
 * publishing under its own feed id: display "SID" with its camera feed,
 * "SID:screen" with its screen feed?  1 yes, 0 no, -1 store error.
 */
static int
participant_ok(struct ctx *c, int64_t room, int64_t jid, json_t *p)
{
	struct session	 s;
	const char	*display = json_string_value(json_object_get(p,
			    "display"));
	int64_t		 id = json_integer_value(json_object_get(p, "id"));
	int64_t		 sid;
	char		*end;
	int		 found, screen;

	if (display == NULL)
		return 0;
	sid = strtoll(display, &end, 10);
	screen = strcmp(end, ":screen") == 0;
	if ((*end != '\0' && !screen) || sid <= 0)
		return 0;
	if ((found = db_session_by_id(c->db, sid, &s)) == -1)
		return -1;
	return found && s.room_id == room &&
	    id == sfu_feed(conf_now(c->app), jid, sid, screen);
}

/* Kick every participant of row's VideoRoom who has no business there. */
static void
sfu_reconcile(struct ctx *c, struct janus *j, const struct sfu_row *row)
{
	json_t	*data, *list, *p;
	size_t	 i;
	int	 ok;

	data = janus_ask(j, json_pack("{s:s,s:I}", "request",
	    "listparticipants", "room", (json_int_t)row->janus_id));
	if (vr_error(data) == VR_NO_SUCH_ROOM) {
		/* Janus restarted: the call's room comes back, empty. */
		vr_create(j, row->janus_id);
	}
	list = json_object_get(data, "participants");
	json_array_foreach(list, i, p) {
		if ((ok = participant_ok(c, row->room_id, row->janus_id,
		    p)) != 0)
			continue;
		if (vr_kick(j, row->janus_id, json_integer_value(
		    json_object_get(p, "id"))) == 0)
			log_info("kicked a participant out of VideoRoom %"
			    PRId64, row->janus_id);
	}
	json_decref(data);
}

/*
 * One maintenance pass over the rooms on the SFU: empty ones lose their
 * VideoRoom and go back to the mesh for their next call, the others lose
 * the participants who left the Noom room.  At most SFU_BUDGET_MS of
 * Janus's time; whatever is left is for the next pass.
 */
void
sfu_maint(struct ctx *c)
{
	const struct conf *cf = conf_now(c->app);
	struct sfu_row	*rows;
	struct janus	 j;
	int		 n, i;

	if (cf->janus_url == NULL || cf->janus_secret == NULL)
		return;
	rows = xcalloc(SFU_ROOMS_MAX, sizeof(*rows));
	if ((n = db_sfu_rooms(c->db, rows, SFU_ROOMS_MAX)) <= 0)
		goto out;
	if (janus_open(&j, cf) == -1) {
		janus_close(&j);
		goto out;
	}
	for (i = 0; i < n && mono_ms() < j.deadline; i++) {
		if (rows[i].members > 0) {
			sfu_reconcile(c, &j, &rows[i]);
			continue;
		}
		if (vr_destroy(&j, rows[i].janus_id) == 0 &&
		    db_sfu_room_drop(c->db, rows[i].room_id,
		    rows[i].janus_id) == 0)
			log_info("room %" PRId64 " is empty: VideoRoom %" PRId64
			    " destroyed", rows[i].room_id, rows[i].janus_id);
	}
	janus_close(&j);
out:
	free(rows);
}
