/*
 * log.c — the one logging shim.  Every line goes to stderr, which nginx-free
 * deployments (make run) show on the terminal and service managers (the
 * journal) collect, either as text:
 *
 *	noom-worker[pid]: level: function: message
 *
 * or, with --log-format json, as one JSON object a line for log shippers:
 *
 *	{"ts":"2026-12-05T22:43:28.123Z","level":"info","ident":"noom-worker",
 *	 "pid":12,"func":"handle","msg":"..."}
 *
 * Request lines (log_request) name the route, never the path's or query's
 * values (which may carry a room name or a cursor) nor any header (the
 * token): method, route, status, latency, the client's transport.
 *
 * Process-wide state, by nature: the identity and the format are set once at
 * start-up, before any thread; the least level logged may change at any time
 * (a reload) and is atomic.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "noom.h"

static const char	*log_ident = "noom-worker";
static int		 log_json;
static atomic_int	 log_least = LOG_INFO;

static atomic_long	 log_pid_cached;	/* 0: read it; fork resets it */
static pthread_once_t	 log_pid_once = PTHREAD_ONCE_INIT;

static const char *const level_names[] = {
	[LOG_DEBUG] = "debug", [LOG_INFO] = "info", [LOG_WARN] = "warn",
};

void
log_set_ident(const char *ident)
{
	log_ident = ident;
}

/* "text" or "json"; 0, or -1 if it is neither. */
int
log_set_format(const char *format)
{
	if (strcmp(format, "text") != 0 && strcmp(format, "json") != 0)
		return -1;
	log_json = strcmp(format, "json") == 0;
	return 0;
}

/* The level named name (debug, info, warn), or -1. */
int
log_level_parse(const char *name)
{
	size_t	 i;

	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcmp(name, level_names[i]) == 0)
			return (int)i;
	return -1;
}

/* Log lines below level from now on (any thread). */
void
log_set_level(int level)
{
	atomic_store(&log_least, level);
}

int
log_enabled(int level)
{
	return level >= atomic_load(&log_least);
}

static void
log_pid_forked(void)
{
	atomic_store(&log_pid_cached, 0);
}

static void
log_pid_watch_fork(void)
{
	pthread_atfork(NULL, NULL, log_pid_forked);
}

/*
 * This process's id, asked of the kernel once per process: getpid(2) is a
 * system call (glibc keeps no copy), and a request line carries it.
 */
static long
log_pid(void)
{
	long	 pid;

	pthread_once(&log_pid_once, log_pid_watch_fork);
	if ((pid = atomic_load(&log_pid_cached)) == 0) {
		pid = (long)getpid();
		atomic_store(&log_pid_cached, pid);
	}
	return pid;
}

/* Write n bytes of text to stderr, all of it unless it fails. */
static void
log_write(const char *text, size_t n)
{
	ssize_t	 w;

	while (n > 0) {
		if ((w = write(STDERR_FILENO, text, n)) > 0) {
			text += w;
			n -= (size_t)w;
		} else if (w == -1 && errno == EINTR)
			continue;
		else
			break;		/* nowhere to say it */
	}
}

/* Write b's lines to stderr at once and empty b. */
void
log_flush(struct log_batch *b)
{
	log_write(b->text, b->len);
	b->len = 0;
}

/* Add a line of n bytes to b (or write it, if b has no room for it). */
static void
log_batch_add(struct log_batch *b, const char *line, size_t n)
{
	if (b->len + n > sizeof(b->text))
		log_flush(b);
	if (n > sizeof(b->text)) {
		log_write(line, n);
		return;
	}
	memcpy(b->text + b->len, line, n);
	b->len += n;
}

/* Now as an ISO 8601 UTC time with milliseconds, into out. */
static void
log_time(char out[32])
{
	struct timespec	 ts;
	struct tm	 tm;
	char		 sec[24];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(sec, sizeof(sec), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 32, "%.20s.%03dZ", sec, (int)(ts.tv_nsec / 1000000));
}

/* One JSON line (new, with its newline): the common fields, then o's
 * (stolen); NULL if it could not be made. */
static char *
log_json_text(const char *level, json_t *o)
{
	char	 ts[32], *text, *line = NULL;

	log_time(ts);
	json_object_update_missing_new(o, json_pack("{s:s,s:s,s:s,s:I}",
	    "ts", ts, "level", level, "ident", log_ident,
	    "pid", (json_int_t)log_pid()));
	text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (text != NULL && asprintf(&line, "%s\n", text) == -1)
		line = NULL;
	free(text);
	return line;
}

/* Write one JSON line: the common fields, then o's (stolen). */
static void
log_json_line(const char *level, json_t *o)
{
	char	*line = log_json_text(level, o);

	if (line != NULL)
		log_write(line, strlen(line));
	free(line);
}

void
log_msg(int level, const char *func, const char *fmt, ...)
{
	char	 line[1024];
	va_list	 ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (log_json)
		log_json_line(level_names[level], json_pack("{s:s,s:s}",
		    "func", func, "msg", line));
	else
		fprintf(stderr, "%s[%ld]: %s: %s: %s\n", log_ident,
		    log_pid(), level_names[level], func, line);
}

/*
 * One answered request, at level info, added to b (log_flush writes it):
 * method, route (the route table's pattern, the same for every room's
 * page: not the path), status, milliseconds from its start to its answer,
 * and the transport the page uses ("websocket", "stream", "polling", or
 * "-" when it did not say).  The waker adds the lines of one turn of its
 * loop and writes them in one write(2) before it sleeps (waker.c).
 */
void
log_request_add(struct log_batch *b, const char *method, const char *route,
    int status, int64_t ms, const char *transport)
{
	char	 line[512], *json;
	int	 n;

	if (!log_enabled(LOG_INFO))
		return;
	if (transport == NULL || *transport == '\0')
		transport = "-";
	if (log_json) {
		json = log_json_text("info", json_pack("{s:s,s:s,s:s,s:i,s:I,"
		    "s:s}", "func", "request", "method", method, "route", route,
		    "status", status, "ms", (json_int_t)ms,
		    "transport", transport));
		if (json != NULL)
			log_batch_add(b, json, strlen(json));
		free(json);
		return;
	}
	n = snprintf(line, sizeof(line), "%s[%ld]: info: request: %s %s %d %"
	    PRId64 "ms %s\n", log_ident, log_pid(), method, route, status, ms,
	    transport);
	if (n > 0)
		log_batch_add(b, line, (size_t)n < sizeof(line) ? (size_t)n :
		    sizeof(line) - 1);
}

/* One answered request, written at once (log_request_add). */
void
log_request(const char *method, const char *route, int status, int64_t ms,
    const char *transport)
{
	struct log_batch	*b;

	if (!log_enabled(LOG_INFO) || (b = malloc(sizeof(*b))) == NULL)
		return;
	b->len = 0;
	log_request_add(b, method, route, status, ms, transport);
	log_flush(b);
	free(b);
}

/*
 * A failure that recurs in a loop (a timer's checkpoint, a flush every
 * second) would print the same line thousands of times an hour and bury
 * everything else: the first failure is logged, then at most one line every
 * LOG_EVERY_MS with the number of failures since the last line, and one
 * "ok again" line when the loop next succeeds.  now is a monotonic clock in
 * ms, passed in so that tests can drive time.  Each site keeps its own
 * struct log_every (zeroed to start), used by one thread.  Returns 1 if a
 * line was written, 0 if the failure was only counted.
 */
int
log_failure(struct log_every *le, int64_t now, const char *what,
    const char *why)
{
	if (why == NULL)
		why = "unknown error";
	le->failures++;
	if (le->failing && now - le->logged_ms < LOG_EVERY_MS)
		return 0;
	if (!le->failing)
		log_msg(LOG_WARN, what, "%s", why);
	else
		log_msg(LOG_WARN, what, "%s (%lu failures in the last %lld s)",
		    why, le->failures, (long long)(now - le->logged_ms) / 1000);
	le->failing = 1;
	le->logged_ms = now;
	le->failures = 0;
	return 1;
}

/* The loop of le succeeded: say so once if it was failing. */
int
log_recovered(struct log_every *le, int64_t now, const char *what)
{
	if (!le->failing)
		return 0;
	if (le->failures > 0)
		log_msg(LOG_INFO, what, "ok again (%lu more failures in the "
		    "last %lld s)", le->failures,
		    (long long)(now - le->logged_ms) / 1000);
	else
		log_msg(LOG_INFO, what, "ok again");
	le->failing = 0;
	le->failures = 0;
	le->logged_ms = now;
	return 1;
}

/* A start-up or programmer error: say why and exit. */
void
fatal(const char *fmt, ...)
{
	char	 line[1024];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (log_json)
		log_json_line("fatal", json_pack("{s:s}", "msg", line));
	else
		fprintf(stderr, "%s[%ld]: fatal: %s\n", log_ident,
		    (long)getpid(), line);
	exit(1);
}
