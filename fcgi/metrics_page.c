/*
 * metrics_page.c — the operator's metrics, in the Prometheus text format.
 *
 *   GET PREFIX/metrics -> 200 text/plain; version=0.0.4
 *
 * What it shows (docs/API.md, "Metrics", is the list with units):
 * - gauges read from the store when asked (db_figures): sessions, open
 *   rooms, members in a call and chat-only members;
 * - gauges per process from the shared table (metrics.c): the polls waiting
 *   in each worker process and the connections open in the gateway;
 * - counters and histograms from the shared table, summed over every
 *   process that ever counted into it: events written and delivered by
 *   type, and delivered by transport, requests by route and status with their latency, the wait
 *   of parked polls, SQLite write transactions and busy retries, doorbell
 *   rings, worker restarts, rate-limit refusals and TURN credentials.
 *
 * Who may read it is nginx's business: the snippet allows only loopback
 * (conf/noom-nginx.conf.in).  Nothing here names a user, a room or a
 * client address.  A route's series appear once it has been asked for;
 * every other series is always there, zero until something happens.
 *
 * metrics_text() is pure (a copy of the table and the store's figures in,
 * text out), so the unit tests check the format without a server.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "noom.h"

#define CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"

/* The rate-limit refusals: the scope and kind each counter is labelled. */
_Static_assert(LIMIT__COUNT == 6,
    "a new limit needs its kind in limit_labels");
static const struct {
	const char	*scope, *kind;
} limit_labels[M__COUNT] = {
	[M_LIMIT_CLIENT + LIMIT_SESSION] = { "client", "sessions" },
	[M_LIMIT_CLIENT + LIMIT_ROOM] = { "client", "rooms" },
	[M_LIMIT_CLIENT + LIMIT_JOIN] = { "client", "joins" },
	[M_LIMIT_CLIENT + LIMIT_CHAT] = { "client", "chat" },
	[M_LIMIT_CLIENT + LIMIT_PASSWORD] = { "client", "passwords" },
	[M_LIMIT_CLIENT + LIMIT_ADMIN] = { "client", "admin_logins" },
	[M_LIMIT_SESSION_WRITES] = { "session", "writes" },
	[M_LIMIT_SESSION_SIGNALS] = { "session", "signals" },
	[M_LIMIT_SESSION_REACTIONS] = { "session", "reactions" },
	[M_LIMIT_WAITING_POLLS] = { "client", "waiting_polls" },
	[M_LIMIT_STREAMS] = { "client", "streams" },
};

/* A route's name in the labels: every route has one, or the switch warns. */
static const char *
route_name(enum route r)
{
	switch (r) {
	case R_NOT_FOUND: return "not_found";
	case R_METHOD: return "method_not_allowed";
	case R_SESSION_CREATE: return "session_create";
	case R_SESSION_GET: return "session_get";
	case R_NICKNAME: return "nickname";
	case R_ROOMS: return "rooms";
	case R_ROOM: return "room";
	case R_JOIN: return "join";
	case R_LEAVE: return "leave";
	case R_MESSAGES: return "messages";
	case R_POLL: return "poll";
	case R_CALL: return "call";
	case R_SIGNAL: return "signal";
	case R_MEDIA: return "media";
	case R_HAND: return "hand";
	case R_REACTION: return "reaction";
	case R_ROOM_SETTINGS: return "room_settings";
	case R_ROOM_HOST: return "room_host";
	case R_ROOM_REMOVE: return "room_remove";
	case R_ROOM_MUTE: return "room_mute";
	case R_ROOM_ADMIT: return "room_admit";
	case R_ROOM_DENY: return "room_deny";
	case R_ROOM_END: return "room_end";
	case R_PAGE_ADMIN: return "page_admin";
	case R_ADMIN_LOGIN: return "admin_login";
	case R_ADMIN_LOGOUT: return "admin_logout";
	case R_ADMIN_ROOMS: return "admin_rooms";
	case R_ADMIN_WAIT: return "admin_wait";
	case R_ADMIN_STATS: return "admin_stats";
	case R_ADMIN_CLOSE: return "admin_close";
	case R_ADMIN_REMOVE: return "admin_remove";
	case R_PAGE_HOME: return "page_home";
	case R_PAGE_ROOM: return "page_room";
	case R_HEALTHZ: return "healthz";
	case R_READYZ: return "readyz";
	case R_METRICS: return "metrics";
	case R_TURN_REST: return "turn_rest";
	case R__COUNT: break;
	}
	return "unknown";
}

/* The # HELP and # TYPE lines of a metric family. */
static void
family(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample; labels is "" or a list like route="poll",status="200". */
static void
sample(struct buf *b, const char *name, const char *labels, uint64_t v)
{
	buf_printf(b, "%s%s%s%s %" PRIu64 "\n", name, *labels ? "{" : "",
	    labels, *labels ? "}" : "", v);
}

static void
gauge(struct buf *b, const char *name, const char *labels, int64_t v)
{
	buf_printf(b, "%s%s%s%s %" PRId64 "\n", name, *labels ? "{" : "",
	    labels, *labels ? "}" : "", v);
}

/*
 * The samples of histogram name with labels: cumulative buckets with their
 * bounds in seconds (bounds in us), the sum in seconds, the count.
 */
static void
histogram(struct buf *b, const char *name, const char *labels,
    const struct histo_read *h, const int64_t *bounds)
{
	const char	*comma = *labels ? "," : "";
	uint64_t	 total = 0;
	int		 i;

	for (i = 0; i < METRICS_BUCKETS; i++) {
		total += h->bucket[i];
		if (i < METRICS_BUCKETS - 1)
			buf_printf(b, "%s_bucket{%s%sle=\"%g\"} %" PRIu64 "\n",
			    name, labels, comma, (double)bounds[i] / 1e6,
			    total);
		else
			buf_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %" PRIu64
			    "\n", name, labels, comma, total);
	}
	buf_printf(b, "%s_sum%s%s%s %.6f\n", name, *labels ? "{" : "", labels,
	    *labels ? "}" : "", (double)h->sum_us / 1e6);
	buf_printf(b, "%s_count%s%s%s %" PRIu64 "\n", name, *labels ? "{" : "",
	    labels, *labels ? "}" : "", total);
}

static uint64_t
histo_count(const struct histo_read *h)
{
	uint64_t	 n = 0;
	int		 i;

	for (i = 0; i < METRICS_BUCKETS; i++)
		n += h->bucket[i];
	return n;
}

/* What the store holds now. */
static void
text_store(struct buf *b, const struct figures *f)
{
	family(b, "noom_sessions", "gauge", "Sessions the store holds.");
	gauge(b, "noom_sessions", "", f->sessions);
	family(b, "noom_rooms", "gauge", "Open rooms (with members), by "
	    "whether the room list shows them.");
	gauge(b, "noom_rooms", "visibility=\"listed\"", f->rooms_listed);
	gauge(b, "noom_rooms", "visibility=\"unlisted\"", f->rooms_unlisted);
	family(b, "noom_call_members", "gauge", "Members of open rooms, by "
	    "call mode: in a call on the SFU, in the call's mesh, or past "
	    "its size (chat only).");
	gauge(b, "noom_call_members", "mode=\"sfu\"", f->sfu);
	gauge(b, "noom_call_members", "mode=\"mesh\"", f->in_call);
	gauge(b, "noom_call_members", "mode=\"chat-only\"", f->chat_only);
}

/* The gauges of each process. */
static void
text_processes(struct buf *b, const struct metrics_read *m)
{
	char	 label[32];
	int	 i;

	family(b, "noom_waiting_polls", "gauge", "Long-polls parked in a "
	    "worker process, waiting for events.");
	for (i = 0; i < m->workers; i++) {
		snprintf(label, sizeof(label), "process=\"worker-%d\"", i + 1);
		gauge(b, "noom_waiting_polls", label, m->waiting[i]);
	}
	family(b, "noom_open_websockets", "gauge", "Connections open in the "
	    "WebSocket gateway.");
	gauge(b, "noom_open_websockets", "process=\"gateway\"", m->websockets);
	family(b, "noom_open_streams", "gauge", "Event streams open in the "
	    "gateway, and inside nginx (its module).");
	gauge(b, "noom_open_streams", "process=\"gateway\"", m->streams);
	gauge(b, "noom_open_streams", "process=\"nginx\"", m->nginx_streams);
}

/* The mailbox: events in and out. */
static void
text_events(struct buf *b, const struct metrics_read *m)
{
	char	 label[64];
	int	 i;

	family(b, "noom_events_written_total", "counter", "Events added to "
	    "the log, by type.");
	for (i = 0; i < METRICS_EVENT_TYPES; i++) {
		snprintf(label, sizeof(label), "type=\"%s\"",
		    metrics_event_types[i]);
		sample(b, "noom_events_written_total", label, m->events[i]);
	}
	family(b, "noom_events_delivered_total", "counter", "Events sent to "
	    "readers, by transport.");
	sample(b, "noom_events_delivered_total", "transport=\"poll\"",
	    m->counter[M_DELIVERED_POLL]);
	sample(b, "noom_events_delivered_total", "transport=\"websocket\"",
	    m->counter[M_DELIVERED_WS]);
	sample(b, "noom_events_delivered_total", "transport=\"stream\"",
	    m->counter[M_DELIVERED_STREAM]);
	family(b, "noom_events_delivered_by_type_total", "counter", "Events "
	    "sent to readers, by type (every transport).");
	for (i = 0; i < METRICS_EVENT_TYPES; i++) {
		snprintf(label, sizeof(label), "type=\"%s\"",
		    metrics_event_types[i]);
		sample(b, "noom_events_delivered_by_type_total", label,
		    m->delivered[i]);
	}
	family(b, "noom_poll_wait_seconds", "histogram", "How long long-polls "
	    "stayed parked in the waker before their answer.");
	histogram(b, "noom_poll_wait_seconds", "", &m->histo[H_POLL_WAIT],
	    metrics_bounds_time);
	family(b, "noom_doorbell_rings_total", "counter", "Commits that added "
	    "events and rang the doorbell.");
	sample(b, "noom_doorbell_rings_total", "",
	    m->counter[M_DOORBELL_RINGS]);
}

/* HTTP requests by route (those asked for at least once). */
static void
text_requests(struct buf *b, const struct metrics_read *m)
{
	char	 label[96];
	int	 r, s;

	family(b, "noom_http_requests_total", "counter", "Requests answered "
	    "by the workers, by route and status.");
	for (r = 0; r < R__COUNT; r++)
		for (s = 0; s < METRICS_STATUSES; s++) {
			if (m->requests[r][s] == 0)
				continue;
			if (metrics_statuses[s] != 0)
				snprintf(label, sizeof(label), "route=\"%s\","
				    "status=\"%d\"", route_name((enum route)r),
				    metrics_statuses[s]);
			else
				snprintf(label, sizeof(label), "route=\"%s\","
				    "status=\"other\"",
				    route_name((enum route)r));
			sample(b, "noom_http_requests_total", label,
			    m->requests[r][s]);
		}
	family(b, "noom_http_request_duration_seconds", "histogram",
	    "Time from reading a request to its answer, by route (a parked "
	    "poll's wait included).");
	for (r = 0; r < R__COUNT; r++) {
		if (histo_count(&m->latency[r]) == 0)
			continue;
		snprintf(label, sizeof(label), "route=\"%s\"",
		    route_name((enum route)r));
		histogram(b, "noom_http_request_duration_seconds", label,
		    &m->latency[r], metrics_bounds_time);
	}
}

/* The store, the processes, the limits. */
static void
text_operations(struct buf *b, const struct metrics_read *m)
{
	char	 label[64];
	int	 i;

	family(b, "noom_db_write_transaction_seconds", "histogram", "SQLite "
	    "write transactions, from BEGIN (waiting for the lock included) "
	    "to COMMIT or ROLLBACK.");
	histogram(b, "noom_db_write_transaction_seconds", "",
	    &m->histo[H_DB_WRITE], metrics_bounds_db);
	family(b, "noom_db_busy_retries_total", "counter", "Times a statement "
	    "found the database locked by another process and tried again.");
	sample(b, "noom_db_busy_retries_total", "",
	    m->counter[M_DB_BUSY_RETRIES]);
	family(b, "noom_worker_restarts_total", "counter", "Worker processes "
	    "the master started again after they died.");
	sample(b, "noom_worker_restarts_total", "",
	    m->counter[M_WORKER_RESTARTS]);
	family(b, "noom_rate_limited_total", "counter", "Requests refused "
	    "by a rate limit, by scope and kind.");
	for (i = 0; i < M__COUNT; i++) {
		if (limit_labels[i].kind == NULL)
			continue;
		snprintf(label, sizeof(label), "scope=\"%s\",kind=\"%s\"",
		    limit_labels[i].scope, limit_labels[i].kind);
		sample(b, "noom_rate_limited_total", label, m->counter[i]);
	}
	family(b, "noom_turn_credentials_total", "counter", "TURN credentials "
	    "handed out, by recipient: members of a call, or Janus.");
	sample(b, "noom_turn_credentials_total", "recipient=\"member\"",
	    m->counter[M_TURN_CREDENTIALS]);
	sample(b, "noom_turn_credentials_total", "recipient=\"janus\"",
	    m->counter[M_TURN_CREDENTIALS_JANUS]);
}

/* The exposition of m and f, appended to b. */
void
metrics_text(struct buf *b, const struct metrics_read *m,
    const struct figures *f)
{
	text_store(b, f);
	text_processes(b, m);
	text_events(b, m);
	text_requests(b, m);
	text_operations(b, m);
}

/* GET metrics. */
void
h_metrics(struct ctx *c, const struct req *rq, struct resp *rs)
{
	struct metrics_read	 m;
	struct figures		 f;
	struct buf		 b;

	(void)rq;
	if (db_begin_read(c->db) == -1 ||
	    db_figures(c->db, conf_now(c->app)->mesh_max, &f) == -1) {
		db_rollback(c->db);
		resp_error(rs, 500, "internal", "The store failed.");
		return;
	}
	db_rollback(c->db);		/* a read: nothing to commit */
	metrics_read(c->app->metrics, &m);
	buf_init(&b);
	metrics_text(&b, &m, &f);
	rs->status = 200;
	rs->content_type = CONTENT_TYPE;
	rs->text = buf_steal(&b);
}
