/*
 * metrics.c — the operator's counters: one table that every process of
 * Noom counts into.
 *
 * Counters must add up across processes: the worker processes a master
 * forks (and restarts when they die), and the gateway, a program of its own.
 * They all count into one fixed-size table (struct metrics) in a small file
 * mapped MAP_SHARED: --metrics, by default "metrics" next to the database in
 * the state folder, as the doorbell.  The master maps it before it forks, so
 * every worker it starts inherits the mapping; noom-ws maps the same file
 * when it starts.  Counting is one relaxed atomic add to that memory (C11
 * <stdatomic.h>; lock-free atomics are address-free, so they work between
 * processes): no lock, no system call, nothing on a request's path waits.
 * Whichever worker answers GET PREFIX/metrics copies the table
 * (metrics_read) and metrics_page.c formats it with the store's figures.
 *
 * Why one shared table rather than registries per process, summed when
 * read: a worker that dies takes nothing with it (its counts are in the
 * table, not in the process); nothing has to ask every process at scrape
 * time (the workers have no control channel, and the answer would wait for
 * the busiest of them); and what both programs count (SQLite's write time,
 * busy retries) goes to the same atomics.  The file outlives the processes,
 * so a counter never goes down when one of them restarts (Prometheus would
 * read the drop of a sum as a reset of the whole).  Counters start from zero
 * again only when the table's layout changes (a new route, a new counter):
 * a file of another layout is replaced by a new one renamed over it, never
 * read as this one, and a process that still maps the old file counts into
 * it unseen until it is restarted too.
 *
 * Gauges that belong to one process (polls waiting in each worker process,
 * connections open in the gateway) have a slot each: a worker process
 * writes the slot of its index among the master's workers, and the worker
 * the master starts in its place overwrites it at once.
 *
 * Every function takes NULL for the table and then does nothing, so that
 * unit tests and the store's tools run the same code without one.
 */
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "noom.h"

/* Bump when the table's layout changes in a way its shape does not show. */
#define METRICS_VERSION	5
#define METRICS_MAGIC	"noom-m\n"	/* 8 bytes with the NUL */

/*
 * Between processes an atomic must not be emulated with a lock (the lock
 * would live in one process only).
 */
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free");

typedef atomic_ullong	 counter_t;

/* A histogram: counts per bucket (not cumulative: one add each), the sum. */
struct histo {
	counter_t	 bucket[METRICS_BUCKETS];
	counter_t	 sum_us;
};

/* The shared table; the file holds exactly this, zeroed when made. */
struct metrics {
	char		 magic[8];	/* written last: the header is whole */
	uint32_t	 version;
	uint32_t	 size;		/* sizeof(struct metrics) */
	uint32_t	 shape[4];	/* the counts that size the tables */
	counter_t	 counter[M__COUNT];
	counter_t	 events[METRICS_EVENT_TYPES];
	counter_t	 delivered[METRICS_EVENT_TYPES];
	counter_t	 requests[R__COUNT][METRICS_STATUSES];
	struct histo	 latency[R__COUNT];
	struct histo	 histo[H__COUNT];
	atomic_llong	 waiting[NOOM_WORKERS_MAX];
	atomic_llong	 beat[NOOM_WORKERS_MAX];	/* monotonic ms */
	atomic_int	 workers;	/* the master's --workers */
	atomic_llong	 websockets;
	atomic_llong	 streams;
	/* Each nginx worker process's open streams, in a slot it claims
	 * (metrics_nginx_slot); pid 0: a free slot. */
	struct {
		atomic_int	 pid;
		atomic_llong	 streams;
	} nginx[METRICS_NGINX_SLOTS];
	/* The history: written by the master alone, read by anyone. */
	atomic_uint	 history_next;	/* the slot the next sample takes */
	struct {
		atomic_llong	 at;	/* stored last (release): the sample is whole */
		atomic_llong	 v[SR__COUNT];
	} history[METRICS_HISTORY];
};

/* The names of the history's series (enum series), for the admin page. */
const char *const metrics_series[SR__COUNT] = {
	"sessions", "rooms", "in_call", "waiting_polls", "websockets",
	"requests", "errors", "events_written", "delivered", "streams",
};

/* The event types written to the log (docs/API.md, "Events"); the last
 * counts any other. */
const char *const metrics_event_types[METRICS_EVENT_TYPES] = {
	"welcome", "bye", "new_message", "nickname", "room_change",
	"room_joined", "room_left", "signal", "media", "host",
	"room_settings", "mute_request", "waiting", "waiting_done",
	"join_denied", "hand", "reaction", "other",
};

/* The statuses counted apart; the last (0) counts any other. */
const int metrics_statuses[METRICS_STATUSES] = {
	200, 201, 202, 400, 401, 403, 404, 405, 409, 413, 415, 429, 500,
	503, 0,
};

/*
 * Upper bounds of the buckets, in microseconds, +Inf after the last.
 * Requests and parked polls: a millisecond to a minute (a poll waits up to
 * 55 s).  Write transactions: 100 us (a chat post's) to 10 s (the busy
 * handler's limit).
 */
const int64_t metrics_bounds_time[METRICS_BUCKETS - 1] = {
	1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000, 30000000, 60000000,
};
const int64_t metrics_bounds_db[METRICS_BUCKETS - 1] = {
	100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000,
	250000, 500000, 1000000, 2500000, 10000000,
};

static void
shape(uint32_t out[4])
{
	out[0] = M__COUNT;
	out[1] = METRICS_EVENT_TYPES;
	out[2] = R__COUNT;
	out[3] = METRICS_STATUSES;
}

/* Is m a table of this layout? */
static int
table_fits(const struct metrics *m)
{
	uint32_t	 s[4];

	shape(s);
	return memcmp(m->magic, METRICS_MAGIC, sizeof(m->magic)) == 0 &&
	    m->version == METRICS_VERSION && m->size == sizeof(*m) &&
	    memcmp(m->shape, s, sizeof(s)) == 0;
}

/* Write the header of a new, zeroed table. */
static void
table_init(struct metrics *m)
{
	m->version = METRICS_VERSION;
	m->size = sizeof(*m);
	shape(m->shape);
	memcpy(m->magic, METRICS_MAGIC, sizeof(m->magic));
}

/* Map the table in fd (sized already); NULL on failure. */
static struct metrics *
table_map(int fd)
{
	void	*p;

	p = mmap(NULL, sizeof(struct metrics), PROT_READ | PROT_WRITE,
	    MAP_SHARED, fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

/*
 * A new table in a new file renamed over path: for a file of another
 * layout, which processes may still map (truncating it under them would
 * kill them with SIGBUS).  NULL on failure, errno set.
 */
static struct metrics *
table_replace(const char *path)
{
	struct metrics	*m = NULL;
	char		*tmp;
	int		 fd, saved;

	if (asprintf(&tmp, "%s.XXXXXX", path) == -1)
		fatal("asprintf");
	if ((fd = mkstemp(tmp)) == -1)
		goto out;
	if (ftruncate(fd, sizeof(*m)) == 0 && (m = table_map(fd)) != NULL) {
		table_init(m);
		if (rename(tmp, path) == -1) {
			saved = errno;
			munmap(m, sizeof(*m));
			m = NULL;
			errno = saved;
		}
	}
	saved = errno;
	if (m == NULL)
		unlink(tmp);
	close(fd);
	errno = saved;
out:
	free(tmp);
	return m;
}

/*
 * The table in the open, locked file fd of path: made if the file is
 * empty, replaced if it is of another layout.  NULL on failure, errno set.
 */
static struct metrics *
table_take(const char *path, int fd, const struct stat *sb)
{
	struct metrics	*m;

	if (sb->st_size == 0) {
		if (ftruncate(fd, sizeof(*m)) == -1 || (m = table_map(fd)) ==
		    NULL)
			return NULL;
		table_init(m);
		return m;
	}
	if ((size_t)sb->st_size == sizeof(*m)) {
		if ((m = table_map(fd)) == NULL)
			return NULL;
		if (table_fits(m))
			return m;
		munmap(m, sizeof(*m));
	}
	log_info("%s: of another layout, counting from zero again", path);
	return table_replace(path);
}

/*
 * Map the table at path, making it if need be; NULL with *cause on
 * failure.  Processes may start together (the workers and the gateway under
 * systemd): the file is locked while it is checked and made, and one that
 * was replaced while this process waited for its lock is opened again.
 */
struct metrics *
metrics_open(const char *path, char **cause)
{
	struct metrics	*m = NULL;
	struct stat	 sb, now;
	int		 fd, tries;

	for (tries = 0; tries < 5 && m == NULL; tries++) {
		fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
		    0600);
		if (fd == -1)
			goto fail;
		if (flock(fd, LOCK_EX) == -1 || fstat(fd, &sb) == -1 ||
		    stat(path, &now) == -1) {
			close(fd);
			goto fail;
		}
		if (!S_ISREG(sb.st_mode)) {
			close(fd);
			errno = EINVAL;
			goto fail;
		}
		if (sb.st_ino == now.st_ino && sb.st_dev == now.st_dev &&
		    (m = table_take(path, fd, &sb)) == NULL) {
			close(fd);
			goto fail;
		}
		/* Unlocked by hand: the mapping keeps the open file, and
		 * with it the lock, after close. */
		flock(fd, LOCK_UN);
		close(fd);
	}
	if (m != NULL)
		return m;
	errno = EAGAIN;
fail:
	if (asprintf(cause, "%s: %s", path, strerror(errno)) == -1)
		*cause = NULL;
	return NULL;
}

/* Unmap the table; accepts NULL.  The counts stay in the file. */
void
metrics_close(struct metrics *m)
{
	if (m != NULL)
		munmap(m, sizeof(*m));
}

/* Add n to counter which. */
void
metrics_add(struct metrics *m, enum metric which, uint64_t n)
{
	if (m != NULL)
		atomic_fetch_add_explicit(&m->counter[which], n,
		    memory_order_relaxed);
}

/* The index of event type in metrics_event_types ("other" if none). */
int
metrics_type_index(const char *type)
{
	int	 i;

	for (i = 0; i < METRICS_EVENT_TYPES - 1; i++)
		if (strcmp(metrics_event_types[i], type) == 0)
			break;
	return i;
}

/* Count one event of type written to the log. */
void
metrics_event(struct metrics *m, const char *type)
{
	if (m != NULL)
		atomic_fetch_add_explicit(&m->events[metrics_type_index(type)],
		    1, memory_order_relaxed);
}

/*
 * Count the events of answer a (mailbox_match counted them by type) as
 * delivered over transport (M_DELIVERED_POLL, _WS or _STREAM).
 */
void
metrics_delivered(struct metrics *m, enum metric transport,
    const struct answer *a)
{
	int	 i;

	if (m == NULL)
		return;
	atomic_fetch_add_explicit(&m->counter[transport], (uint64_t)a->count,
	    memory_order_relaxed);
	for (i = 0; i < METRICS_EVENT_TYPES; i++)
		if (a->types[i] != 0)
			atomic_fetch_add_explicit(&m->delivered[i],
			    a->types[i], memory_order_relaxed);
}

static void
histo_add(struct histo *h, const int64_t *bounds, int64_t us)
{
	int	 i;

	if (us < 0)
		us = 0;
	for (i = 0; i < METRICS_BUCKETS - 1 && us > bounds[i]; i++)
		;
	atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_us, (uint64_t)us,
	    memory_order_relaxed);
}

/* Observe us microseconds in histogram h. */
void
metrics_observe(struct metrics *m, enum histogram h, int64_t us)
{
	if (m != NULL)
		histo_add(&m->histo[h], h == H_DB_WRITE ? metrics_bounds_db :
		    metrics_bounds_time, us);
}

/* Count a request to route r answered status after us microseconds. */
void
metrics_request(struct metrics *m, enum route r, int status, int64_t us)
{
	int	 i;

	if (m == NULL || (int)r < 0 || r >= R__COUNT)
		return;
	for (i = 0; i < METRICS_STATUSES - 1; i++)
		if (metrics_statuses[i] == status)
			break;
	atomic_fetch_add_explicit(&m->requests[r][i], 1, memory_order_relaxed);
	histo_add(&m->latency[r], metrics_bounds_time, us);
}

/* The polls waiting in the worker process of slot (0 .. workers - 1). */
void
metrics_waiting(struct metrics *m, int slot, int64_t n)
{
	if (m != NULL && slot >= 0 && slot < NOOM_WORKERS_MAX)
		atomic_store_explicit(&m->waiting[slot], n,
		    memory_order_relaxed);
}

/*
 * The worker process of slot runs: its waker says so at least every
 * METRICS_BEAT_MS (now: monotonic ms, the same clock in every process), and
 * the master when it starts one, so that a worker starting is not taken
 * for one that stopped.
 */
void
metrics_beat(struct metrics *m, int slot, int64_t now)
{
	if (m != NULL && slot >= 0 && slot < NOOM_WORKERS_MAX)
		atomic_store_explicit(&m->beat[slot], now,
		    memory_order_relaxed);
}

/*
 * How many of the master's worker processes have not said they run
 * (metrics_beat) for METRICS_STALE_MS at now; the first of them is
 * described in why (n bytes).  A process stopped (SIGSTOP, a debugger),
 * stuck or dead is alive to kill(2) but not here.  0 without a table.
 */
int
metrics_stale(const struct metrics *m, int64_t now, char *why, size_t n)
{
	int64_t	 beat;
	int	 i, workers, stale = 0;

	if (m == NULL)
		return 0;
	workers = atomic_load_explicit(&m->workers, memory_order_relaxed);
	for (i = 0; i < workers && i < NOOM_WORKERS_MAX; i++) {
		beat = atomic_load_explicit(&m->beat[i], memory_order_relaxed);
		if (now - beat <= METRICS_STALE_MS)
			continue;
		if (stale++ == 0)
			snprintf(why, n, "worker %d silent for %" PRId64 " ms",
			    i, now - beat);
	}
	return stale;
}

/* How many worker processes the master keeps (their slots are read). */
void
metrics_workers(struct metrics *m, int n)
{
	if (m != NULL)
		atomic_store_explicit(&m->workers, n, memory_order_relaxed);
}

/* The connections open in the gateway: WebSockets, event streams. */
void
metrics_websockets(struct metrics *m, int64_t ws, int64_t streams)
{
	if (m == NULL)
		return;
	atomic_store_explicit(&m->websockets, ws, memory_order_relaxed);
	atomic_store_explicit(&m->streams, streams, memory_order_relaxed);
}

/* Is process pid alive?  (EPERM: alive, as another user, like nginx's.) */
static int
pid_alive(int pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

/*
 * A slot of its own for an nginx worker process that serves event streams
 * (the module nginx/ngx_http_noom_module.c): a free one, or one whose
 * process is gone, taken over.  nginx starts and stops its worker
 * processes on its own, so each claims a slot, and the streams of one that
 * was killed stop counting once its pid is gone (metrics_read).  The slot,
 * or -1 if all are held.
 */
int
metrics_nginx_slot(struct metrics *m)
{
	int	 i, pid;

	if (m == NULL)
		return -1;
	for (i = 0; i < METRICS_NGINX_SLOTS; i++) {
		pid = atomic_load_explicit(&m->nginx[i].pid,
		    memory_order_acquire);
		if ((pid == 0 || !pid_alive(pid)) &&
		    atomic_compare_exchange_strong(&m->nginx[i].pid, &pid,
		    (int)getpid())) {
			atomic_store_explicit(&m->nginx[i].streams, 0,
			    memory_order_relaxed);
			return i;
		}
	}
	return -1;
}

/* Slot's process has n event streams open; slot -1 counts nothing. */
void
metrics_nginx_streams(struct metrics *m, int slot, int64_t n)
{
	if (m != NULL && slot >= 0 && slot < METRICS_NGINX_SLOTS)
		atomic_store_explicit(&m->nginx[slot].streams, n,
		    memory_order_relaxed);
}

/* Give slot back (the process ends). */
void
metrics_nginx_release(struct metrics *m, int slot)
{
	if (m == NULL || slot < 0 || slot >= METRICS_NGINX_SLOTS)
		return;
	atomic_store_explicit(&m->nginx[slot].streams, 0, memory_order_relaxed);
	atomic_store_explicit(&m->nginx[slot].pid, 0, memory_order_release);
}

static void
histo_read(const struct histo *h, struct histo_read *out)
{
	int	 i;

	for (i = 0; i < METRICS_BUCKETS; i++)
		out->bucket[i] = atomic_load_explicit(&h->bucket[i],
		    memory_order_relaxed);
	out->sum_us = atomic_load_explicit(&h->sum_us, memory_order_relaxed);
}

/*
 * Copy the table into out (all zero without one).  Each value is read on
 * its own while others count on: a histogram's sum may be a few
 * observations ahead of or behind its buckets, as in any Prometheus client.
 */
void
metrics_read(const struct metrics *m, struct metrics_read *out)
{
	int	 i, j;

	memset(out, 0, sizeof(*out));
	if (m == NULL)
		return;
	for (i = 0; i < M__COUNT; i++)
		out->counter[i] = atomic_load_explicit(&m->counter[i],
		    memory_order_relaxed);
	for (i = 0; i < METRICS_EVENT_TYPES; i++)
		out->events[i] = atomic_load_explicit(&m->events[i],
		    memory_order_relaxed);
	for (i = 0; i < METRICS_EVENT_TYPES; i++)
		out->delivered[i] = atomic_load_explicit(&m->delivered[i],
		    memory_order_relaxed);
	for (i = 0; i < R__COUNT; i++) {
		for (j = 0; j < METRICS_STATUSES; j++)
			out->requests[i][j] = atomic_load_explicit(
			    &m->requests[i][j], memory_order_relaxed);
		histo_read(&m->latency[i], &out->latency[i]);
	}
	for (i = 0; i < H__COUNT; i++)
		histo_read(&m->histo[i], &out->histo[i]);
	out->workers = atomic_load_explicit(&m->workers, memory_order_relaxed);
	if (out->workers < 0 || out->workers > NOOM_WORKERS_MAX)
		out->workers = 0;
	for (i = 0; i < out->workers; i++)
		out->waiting[i] = atomic_load_explicit(&m->waiting[i],
		    memory_order_relaxed);
	out->websockets = atomic_load_explicit(&m->websockets,
	    memory_order_relaxed);
	out->streams = atomic_load_explicit(&m->streams, memory_order_relaxed);
	out->nginx_streams = 0;
	for (i = 0; i < METRICS_NGINX_SLOTS; i++)
		if (pid_alive(atomic_load_explicit(&m->nginx[i].pid,
		    memory_order_acquire)))
			out->nginx_streams += atomic_load_explicit(
			    &m->nginx[i].streams, memory_order_relaxed);
}

/* The series' values now: figures f from the store, the rest counted. */
static void
sample_values(const struct metrics_read *r, const struct figures *f,
    int64_t v[SR__COUNT])
{
	int	 i, j;

	memset(v, 0, sizeof(int64_t) * SR__COUNT);
	v[SR_SESSIONS] = f->sessions;
	v[SR_ROOMS] = f->rooms_listed + f->rooms_unlisted;
	v[SR_IN_CALL] = f->in_call + f->sfu;
	for (i = 0; i < r->workers; i++)
		v[SR_WAITING_POLLS] += r->waiting[i];
	v[SR_WEBSOCKETS] = r->websockets;
	v[SR_STREAMS] = r->streams + r->nginx_streams;
	for (i = 0; i < R__COUNT; i++)
		for (j = 0; j < METRICS_STATUSES; j++) {
			v[SR_REQUESTS] += (int64_t)r->requests[i][j];
			if (metrics_statuses[j] >= 500)
				v[SR_ERRORS] += (int64_t)r->requests[i][j];
		}
	for (i = 0; i < METRICS_EVENT_TYPES; i++)
		v[SR_EVENTS_WRITTEN] += (int64_t)r->events[i];
	v[SR_DELIVERED] = (int64_t)(r->counter[M_DELIVERED_POLL] +
	    r->counter[M_DELIVERED_WS] + r->counter[M_DELIVERED_STREAM]);
}

/*
 * Add a sample taken at now (wall ms) to the history, with the store's
 * figures f.  The master's alone: one writer, so no lock.
 */
void
metrics_sample(struct metrics *m, const struct figures *f, int64_t now)
{
	struct metrics_read	 r;
	int64_t			 v[SR__COUNT];
	unsigned		 slot;
	int			 i;

	if (m == NULL)
		return;
	metrics_read(m, &r);
	sample_values(&r, f, v);
	slot = atomic_load(&m->history_next) % METRICS_HISTORY;
	atomic_store_explicit(&m->history[slot].at, 0, memory_order_relaxed);
	for (i = 0; i < SR__COUNT; i++)
		atomic_store_explicit(&m->history[slot].v[i], v[i],
		    memory_order_relaxed);
	atomic_store_explicit(&m->history[slot].at, now, memory_order_release);
	atomic_store(&m->history_next, slot + 1);
}

/* A sample of now (wall ms) into out, with the store's figures f. */
void
metrics_now(const struct metrics *m, const struct figures *f, int64_t now,
    struct sample *out)
{
	struct metrics_read	 r;

	metrics_read(m, &r);
	sample_values(&r, f, out->v);
	out->at = now;
}

/*
 * The history, oldest first, into out (room for max): how many samples.
 * A sample being written as it is read is left out.
 */
int
metrics_history(const struct metrics *m, struct sample *out, int max)
{
	unsigned	 next, k, slot;
	int		 n = 0, i;

	if (m == NULL)
		return 0;
	next = atomic_load(&m->history_next);
	for (k = 0; k < METRICS_HISTORY && n < max; k++) {
		slot = (next + k) % METRICS_HISTORY;
		out[n].at = atomic_load_explicit(&m->history[slot].at,
		    memory_order_acquire);
		if (out[n].at == 0)
			continue;
		for (i = 0; i < SR__COUNT; i++)
			out[n].v[i] = atomic_load_explicit(
			    &m->history[slot].v[i], memory_order_relaxed);
		if (atomic_load_explicit(&m->history[slot].at,
		    memory_order_acquire) == out[n].at)
			n++;
	}
	return n;
}
