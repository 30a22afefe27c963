/*
 * Unit tests of metrics.c and metrics_page.c: the shared table seen from
 * two mappings and from a child process, nginx's worker processes' stream
 * counts (one killed stops counting), a file of another layout replaced,
 * and the text exposition of a known table.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "../../fcgi/noom.h"
#include "unit.h"

/* Does text hold line (a whole line)? */
static int
has_line(const char *text, const char *line)
{
	const char	*p = text;
	size_t		 n = strlen(line);

	while ((p = strstr(p, line)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return 1;
		p += n;
	}
	return 0;
}

/* Two mappings of one file (a worker and the gateway) share the counts. */
static void
test_shared(const char *path)
{
	struct metrics_read	 r;
	struct metrics		*a, *b;
	struct answer		 ans;
	char			*cause = NULL, why[64];
	pid_t			 pid;
	int			 status;

	a = metrics_open(path, &cause);
	b = metrics_open(path, &cause);
	CHECK(a != NULL && b != NULL);
	if (a == NULL || b == NULL)
		return;
	metrics_add(a, M_DOORBELL_RINGS, 2);
	metrics_add(b, M_DOORBELL_RINGS, 3);
	metrics_event(a, "new_message");
	metrics_event(b, "no_such_type");
	metrics_request(b, R_POLL, 200, 1500);
	metrics_request(b, R_POLL, 299, 70000000);
	metrics_observe(a, H_DB_WRITE, 150);
	metrics_workers(a, 2);
	metrics_waiting(b, 1, 7);
	metrics_websockets(b, 4, 0);
	/* An answer of two messages and a welcome over a WebSocket. */
	memset(&ans, 0, sizeof(ans));
	ans.count = 3;
	ans.types[metrics_type_index("new_message")] = 2;
	ans.types[metrics_type_index("welcome")] = 1;
	metrics_delivered(b, M_DELIVERED_WS, &ans);
	/* Heartbeats: slot 0 fresh, slot 1 silent past METRICS_STALE_MS. */
	metrics_beat(a, 0, 100000);
	metrics_beat(b, 1, 100000 - METRICS_STALE_MS - 1);
	/* A forked child counts into the same table, as a worker does. */
	if ((pid = fork()) == 0) {
		metrics_add(a, M_WORKER_RESTARTS, 1);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	metrics_read(a, &r);
	CHECK(r.counter[M_DOORBELL_RINGS] == 5);
	CHECK(r.counter[M_WORKER_RESTARTS] == 1);
	CHECK(r.events[2] == 1);			/* new_message */
	CHECK(r.events[METRICS_EVENT_TYPES - 1] == 1);	/* other */
	CHECK(r.counter[M_DELIVERED_WS] == 3);
	CHECK(r.delivered[2] == 2);			/* new_message */
	CHECK(r.delivered[0] == 1);			/* welcome */
	CHECK(r.delivered[METRICS_EVENT_TYPES - 1] == 0);
	CHECK(metrics_stale(a, 100000, why, sizeof(why)) == 1);
	CHECK_STR(why, "worker 1 silent for 3001 ms");
	metrics_beat(a, 1, 100000);
	CHECK(metrics_stale(a, 100000, why, sizeof(why)) == 0);
	CHECK(r.requests[R_POLL][0] == 1);		/* 200 */
	CHECK(r.requests[R_POLL][METRICS_STATUSES - 1] == 1);	/* other */
	CHECK(r.latency[R_POLL].bucket[1] == 1);	/* <= 2.5 ms */
	CHECK(r.latency[R_POLL].bucket[METRICS_BUCKETS - 1] == 1);	/* +Inf */
	CHECK(r.latency[R_POLL].sum_us == 70001500);
	CHECK(r.histo[H_DB_WRITE].bucket[1] == 1);	/* <= 250 us */
	CHECK(r.workers == 2 && r.waiting[1] == 7 && r.waiting[0] == 0);
	CHECK(r.websockets == 4);
	metrics_close(a);
	metrics_close(b);

	/* Opened again later (a restart), the counts are still there. */
	a = metrics_open(path, &cause);
	metrics_read(a, &r);
	CHECK(r.counter[M_DOORBELL_RINGS] == 5);
	metrics_close(a);
}

/*
 * nginx's worker processes count their open streams in slots of their own:
 * one killed with streams open stops counting once it is gone, and its
 * slot is taken over by the next that claims one.
 */
static void
test_nginx_slots(const char *path)
{
	struct metrics_read	 r;
	struct metrics		*m;
	char			*cause = NULL;
	int			 slot, gone[2], status, i;
	pid_t			 pid;

	if ((m = metrics_open(path, &cause)) == NULL) {
		CHECK(m != NULL);
		free(cause);
		return;
	}
	slot = metrics_nginx_slot(m);
	CHECK(slot >= 0);
	metrics_nginx_streams(m, slot, 3);
	/* Another process claims a slot, counts 5 and is killed. */
	if (pipe(gone) == -1)
		return;
	if ((pid = fork()) == 0) {
		int	 s = metrics_nginx_slot(m);

		metrics_nginx_streams(m, s, 5);
		(void)write(gone[1], &s, sizeof(s));
		pause();
		_exit(0);
	}
	CHECK(read(gone[0], &i, sizeof(i)) == (ssize_t)sizeof(i));
	CHECK(i >= 0 && i != slot);
	metrics_read(m, &r);
	CHECK(r.nginx_streams == 8);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	metrics_read(m, &r);
	CHECK(r.nginx_streams == 3);
	/* Its slot is free again; a released one too. */
	CHECK(metrics_nginx_slot(m) == i);
	metrics_nginx_release(m, i);
	metrics_nginx_release(m, slot);
	metrics_read(m, &r);
	CHECK(r.nginx_streams == 0);
	metrics_nginx_streams(m, -1, 9);	/* no slot: nothing counted */
	metrics_read(m, &r);
	CHECK(r.nginx_streams == 0);
	close(gone[0]);
	close(gone[1]);
	metrics_close(m);
}

/* A file of another layout is replaced; a mapping of it is left alone. */
static void
test_layout(const char *path)
{
	struct metrics_read	 r;
	struct metrics		*m;
	char			*cause = NULL;
	FILE			*f;

	if ((f = fopen(path, "w")) == NULL) {
		CHECK(0);
		return;
	}
	fputs("an older table\n", f);
	fclose(f);
	m = metrics_open(path, &cause);
	CHECK(m != NULL);
	metrics_read(m, &r);
	CHECK(r.counter[M_DOORBELL_RINGS] == 0);
	metrics_add(m, M_DOORBELL_RINGS, 1);
	metrics_close(m);
	m = metrics_open(path, &cause);
	metrics_read(m, &r);
	CHECK(r.counter[M_DOORBELL_RINGS] == 1);
	metrics_close(m);

	/* Nothing to count into: nothing happens. */
	metrics_add(NULL, M_DOORBELL_RINGS, 1);
	metrics_request(NULL, R_POLL, 200, 1);
	metrics_read(NULL, &r);
	CHECK(r.counter[M_DOORBELL_RINGS] == 0);
	CHECK(metrics_open("/nonexistent/folder/metrics", &cause) == NULL &&
	    cause != NULL && strstr(cause, "/nonexistent/folder") != NULL);
	free(cause);
}

/* The exposition of a known table. */
static void
test_text(void)
{
	struct metrics_read	 r;
	struct figures		 f = { 3, 2, 0, 7, 1, 5 };
	struct buf		 b;

	memset(&r, 0, sizeof(r));
	r.counter[M_DELIVERED_WS] = 12;
	r.counter[M_LIMIT_CLIENT + LIMIT_CHAT] = 4;
	r.events[0] = 9;
	r.delivered[2] = 4;
	r.requests[R_JOIN][1] = 5;			/* 201 */
	r.requests[R_JOIN][METRICS_STATUSES - 1] = 1;	/* other */
	r.latency[R_JOIN].bucket[0] = 4;
	r.latency[R_JOIN].bucket[3] = 2;
	r.latency[R_JOIN].sum_us = 1234567;
	r.workers = 2;
	r.waiting[1] = 6;
	r.websockets = 8;
	buf_init(&b);
	metrics_text(&b, &r, &f);
	CHECK(has_line(b.data, "# TYPE noom_sessions gauge"));
	CHECK(has_line(b.data, "noom_sessions 3"));
	CHECK(has_line(b.data, "noom_rooms{visibility=\"listed\"} 2"));
	CHECK(has_line(b.data, "noom_rooms{visibility=\"unlisted\"} 0"));
	CHECK(has_line(b.data, "noom_call_members{mode=\"mesh\"} 7"));
	CHECK(has_line(b.data, "noom_call_members{mode=\"chat-only\"} 1"));
	CHECK(has_line(b.data, "noom_call_members{mode=\"sfu\"} 5"));
	CHECK(has_line(b.data, "noom_waiting_polls{process=\"worker-1\"} 0"));
	CHECK(has_line(b.data, "noom_waiting_polls{process=\"worker-2\"} 6"));
	CHECK(strstr(b.data, "worker-3") == NULL);
	CHECK(has_line(b.data,
	    "noom_open_websockets{process=\"gateway\"} 8"));
	CHECK(has_line(b.data,
	    "noom_events_written_total{type=\"welcome\"} 9"));
	CHECK(has_line(b.data,
	    "noom_events_written_total{type=\"other\"} 0"));
	CHECK(has_line(b.data,
	    "noom_events_delivered_total{transport=\"websocket\"} 12"));
	CHECK(has_line(b.data,
	    "noom_events_delivered_by_type_total{type=\"new_message\"} 4"));
	CHECK(has_line(b.data,
	    "noom_events_delivered_by_type_total{type=\"other\"} 0"));
	CHECK(has_line(b.data,
	    "noom_http_requests_total{route=\"join\",status=\"201\"} 5"));
	CHECK(has_line(b.data,
	    "noom_http_requests_total{route=\"join\",status=\"other\"} 1"));
	/* Routes nobody asked for have no series. */
	CHECK(strstr(b.data, "route=\"poll\"") == NULL);
	/* Buckets are cumulative, bounds in seconds. */
	CHECK(has_line(b.data, "noom_http_request_duration_seconds_bucket"
	    "{route=\"join\",le=\"0.001\"} 4"));
	CHECK(has_line(b.data, "noom_http_request_duration_seconds_bucket"
	    "{route=\"join\",le=\"0.005\"} 4"));
	CHECK(has_line(b.data, "noom_http_request_duration_seconds_bucket"
	    "{route=\"join\",le=\"0.01\"} 6"));
	CHECK(has_line(b.data, "noom_http_request_duration_seconds_bucket"
	    "{route=\"join\",le=\"+Inf\"} 6"));
	CHECK(has_line(b.data, "noom_http_request_duration_seconds_sum"
	    "{route=\"join\"} 1.234567"));
	CHECK(has_line(b.data, "noom_http_request_duration_seconds_count"
	    "{route=\"join\"} 6"));
	CHECK(has_line(b.data,
	    "noom_db_write_transaction_seconds_bucket{le=\"0.0001\"} 0"));
	CHECK(has_line(b.data, "noom_poll_wait_seconds_count 0"));
	CHECK(has_line(b.data,
	    "noom_rate_limited_total{scope=\"client\",kind=\"chat\"} 4"));
	CHECK(has_line(b.data, "noom_rate_limited_total{scope=\"session\","
	    "kind=\"signals\"} 0"));
	CHECK(has_line(b.data, "noom_rate_limited_total{scope=\"client\","
	    "kind=\"passwords\"} 0"));
	CHECK(has_line(b.data,
	    "noom_turn_credentials_total{recipient=\"member\"} 0"));
	CHECK(has_line(b.data,
	    "noom_turn_credentials_total{recipient=\"janus\"} 0"));
	/* Every line a comment or a sample; the text ends with a newline. */
	CHECK(b.len > 0 && b.data[b.len - 1] == '\n');
	CHECK(strstr(b.data, "\n\n") == NULL);
	buf_free(&b);
}

int
main(void)
{
	char	 dir[] = "/tmp/noom-unit-XXXXXX", path[256];

	if (mkdtemp(dir) == NULL)
		return 99;
	snprintf(path, sizeof(path), "%s/metrics", dir);
	test_shared(path);
	test_nginx_slots(path);
	test_layout(path);
	test_text();
	unlink(path);
	rmdir(dir);
	return unit_done("test_metrics");
}
