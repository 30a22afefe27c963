/*
 * ngx_http_noom_module.c — the mailbox's event stream answered inside nginx.
 *
 *   location = PREFIX/api/stream { noom_stream /state/noom.db; }
 *
 * The same stream as noom-ws serves (docs/API.md "Event stream": Server-
 * Sent Events, one per mailbox answer, its id the cursor), read by nginx's
 * own worker processes from the same store and doorbell, so that an event
 * reaches a stream in one write from nginx instead of a write from noom-ws
 * relayed by nginx, and an open stream costs nginx a request and no
 * upstream connection (docs/BENCHMARKS.md).  Optional: without the module
 * nginx relays the stream to noom-ws (conf/noom-nginx.conf.in).
 *
 * Every rule is the mailbox core's (libnoomcore): the request's (sse.c:
 * method, cursor, Last-Event-ID, the error bodies), the session lookup, the
 * visibility, moves, batches, holds and the ring gap (mailbox.c), the
 * answer's shape and the SSE framing.  This file keeps only nginx's I/O and
 * the per-process loop, which mirrors noom-ws's (fcgi/gateway.c):
 *
 * - One store connection and one doorbell watch per nginx worker process,
 *   opened at its first stream (nginx may start before the workers have
 *   made the database) and kept in that process's state below.
 * - A ring reads the new events once (one read transaction, struct scan)
 *   and matches every stream of the process against them; a stream that is
 *   behind (its output not drained), resyncing or far back is read on its
 *   own (mailbox_read).
 * - A tick ends streams after their lifetime, writes the keepalive comment
 *   to a silent stream and the empty answer of a poll timeout, and
 *   refreshes the presence of the sessions due, at most NOOM_TOUCH_BATCH
 *   in one write transaction that waits at most a few milliseconds for
 *   the write lock (nginx's loop must not sleep on it; a touch that finds
 *   the lock busy is tried again at the next tick, the rest of a crowd
 *   NOOM_TOUCH_AGAIN_MS later).
 *
 * Limits: the per-address count of open streams is nginx's limit_conn on
 * the location (shared by all worker processes); per session, at most
 * NST_PER_SESSION streams, the oldest replaced (its "close" event carries
 * 4409), counted in a table in shared memory (struct nst_slot); rendering
 * stops while NST_OUT_LOW bytes wait to be written, the rest waits in the
 * log.
 *
 * Ownership: a stream (struct nst) lives in its request's pool; its output
 * buffers hold counted references to malloc'ed blocks of bytes (struct
 * nst_bytes: one event rendered once for every stream that sends it),
 * released once written or when the request ends (nst_cleanup).  Streams are unlinked from the process's lists by the
 * request's cleanup, before nginx frees the request, whichever way it ends.
 */
#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "../fcgi/noom.h"	/* by path: its limits.h must not shadow <limits.h> */

#define NST_OUT_LOW		NOOM_OUT_LOW
#define NST_SCAN_CHUNK		NOOM_SCAN_CHUNK
#define NST_PER_SESSION		2
#define NST_BUSY_MS		3	/* the longest wait for the write lock */

typedef struct {
	ngx_str_t	 db;
	ngx_str_t	 doorbell;
	ngx_str_t	 metrics;
	ngx_msec_t	 poll_timeout;
	time_t		 presence_timeout;
	ngx_msec_t	 lifetime;
	size_t		 max_bytes;
	ngx_msec_t	 keepalive;
	ngx_msec_t	 chat_gap;
	ngx_shm_zone_t	*sessions;	/* the streams' session table */
} ngx_http_noom_main_conf_t;

/* The session table's slots, in shared memory (nst_session_count()). */
#define NST_SLOTS	65536

struct nst_slot {
	int64_t		 sid;
	uint64_t	 gen;
};

/* The session table, zeroed when nginx makes the zone, kept over a reload. */
static ngx_int_t
nst_zone_init(ngx_shm_zone_t *zone, void *data)
{
	ngx_slab_pool_t	*pool = (ngx_slab_pool_t *)zone->shm.addr;

	if (data != NULL) {		/* a reload: the same table */
		zone->data = data;
		return NGX_OK;
	}
	if (zone->shm.exists) {
		zone->data = pool->data;
		return NGX_OK;
	}
	zone->data = ngx_slab_calloc(pool, NST_SLOTS * sizeof(struct nst_slot));
	if (zone->data == NULL)
		return NGX_ERROR;
	pool->data = zone->data;
	return NGX_OK;
}

/* One open stream: its request and its reader of the mailbox. */
struct nst {
	ngx_queue_t		 q;		/* in the process's streams */
	ngx_http_request_t	*r;
	int			 linked;	/* in the lists: live */
	uint64_t		 gen;		/* its number in its session */
	struct reader		 reader;
	struct hold		 hold;
	int			 held;
	int64_t			 held_due;
	int			 behind;
	size_t			 sent_bytes;
	size_t			 pending;	/* bytes not yet written */
	int64_t			 ends_ms, ka_ms, sent_ms, touch_ms;
	ngx_chain_t		*free, *busy;	/* output buffers */
};

/*
 * The worker process's streams and store: nginx modules keep per-process
 * state in statics set up by the process itself (each worker process has
 * its own copy after the fork); NULL until the first stream opens it.
 */
struct nst_proc {
	ngx_http_noom_main_conf_t *conf;
	struct db		*db;
	struct metrics		*metrics;
	int			 mslot;		/* its slot there, or -1
					   (metrics_nginx_slot) */
	ngx_connection_t	*bell;		/* the doorbell's inotify fd */
	int			 bell_on;
	ngx_queue_t		 streams;
	int64_t			 nstreams;	/* linked in streams */
	int64_t			 low;		/* no servable stream's cursor is
					   below (nst_low) */
	int64_t			 log_end;
	int64_t			 touch_every;
	struct scan		 scan, one;
	struct buf		 events;
	struct nst_bytes	*last;		/* the event rendered last, kept
					   for the next stream (nst_event) */
	struct ring_gap		 gap;
	ngx_event_t		 tick;
	ngx_event_t		 gap_ev;
	ngx_msec_t		 tick_ms;
};

static struct nst_proc	*proc;

static ngx_int_t ngx_http_noom_handler(ngx_http_request_t *);
static ngx_int_t ngx_http_noom_refused(ngx_http_request_t *);
static char *ngx_http_noom_stream(ngx_conf_t *, ngx_command_t *, void *);
static char *ngx_http_noom_stream_refused(ngx_conf_t *, ngx_command_t *,
    void *);
static void *ngx_http_noom_create_main_conf(ngx_conf_t *);
static char *ngx_http_noom_init_main_conf(ngx_conf_t *, void *);
static void ngx_http_noom_exit_process(ngx_cycle_t *);
static void nst_serve_all(void);
static int nst_deliver(struct nst *);
static void nst_bell_watch(int);
static void nst_gap_arm(void);
static void nst_bytes_unref(struct nst_bytes *);

/* A setting of the module's main conf, allowed at any level of http {}. */
#define NST_SETTING(name, kind, field)					\
	{ ngx_string(name), NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF |	\
	  NGX_HTTP_LOC_CONF | NGX_CONF_TAKE1, ngx_conf_set_##kind##_slot,	\
	  NGX_HTTP_MAIN_CONF_OFFSET,						\
	  offsetof(ngx_http_noom_main_conf_t, field), NULL }

static ngx_command_t ngx_http_noom_commands[] = {
	{ ngx_string("noom_stream"), NGX_HTTP_LOC_CONF | NGX_CONF_TAKE1,
	  ngx_http_noom_stream, NGX_HTTP_MAIN_CONF_OFFSET, 0, NULL },
	{ ngx_string("noom_stream_refused"), NGX_HTTP_LOC_CONF | NGX_CONF_NOARGS,
	  ngx_http_noom_stream_refused, NGX_HTTP_MAIN_CONF_OFFSET, 0, NULL },
	NST_SETTING("noom_stream_doorbell", str, doorbell),
	NST_SETTING("noom_stream_metrics", str, metrics),
	NST_SETTING("noom_stream_poll_timeout", msec, poll_timeout),
	NST_SETTING("noom_stream_presence_timeout", sec, presence_timeout),
	NST_SETTING("noom_stream_lifetime", msec, lifetime),
	NST_SETTING("noom_stream_bytes", size, max_bytes),
	NST_SETTING("noom_stream_keepalive", msec, keepalive),
	NST_SETTING("noom_stream_chat_gap", msec, chat_gap),
	ngx_null_command
};

static ngx_http_module_t ngx_http_noom_module_ctx = {
	NULL, NULL,
	ngx_http_noom_create_main_conf, ngx_http_noom_init_main_conf,
	NULL, NULL, NULL, NULL
};

ngx_module_t ngx_http_noom_module = {
	NGX_MODULE_V1,
	&ngx_http_noom_module_ctx,
	ngx_http_noom_commands,
	NGX_HTTP_MODULE,
	NULL, NULL, NULL, NULL, NULL,
	ngx_http_noom_exit_process,
	NULL,
	NGX_MODULE_V1_PADDING
};

/* --- configuration ------------------------------------------------------ */

static void *
ngx_http_noom_create_main_conf(ngx_conf_t *cf)
{
	ngx_http_noom_main_conf_t	*mcf;

	if ((mcf = ngx_pcalloc(cf->pool, sizeof(*mcf))) == NULL)
		return NULL;
	mcf->poll_timeout = NGX_CONF_UNSET_MSEC;
	mcf->presence_timeout = NGX_CONF_UNSET;
	mcf->lifetime = NGX_CONF_UNSET_MSEC;
	mcf->max_bytes = NGX_CONF_UNSET_SIZE;
	mcf->keepalive = NGX_CONF_UNSET_MSEC;
	mcf->chat_gap = NGX_CONF_UNSET_MSEC;
	return mcf;
}

/* The defaults are noom-ws's (fcgi/ws_main.c, fcgi/limits.h). */
static char *
ngx_http_noom_init_main_conf(ngx_conf_t *cf, void *conf)
{
	ngx_http_noom_main_conf_t	*mcf = conf;

	(void)cf;
	ngx_conf_init_msec_value(mcf->poll_timeout, 25000);
	ngx_conf_init_value(mcf->presence_timeout, 60);
	ngx_conf_init_msec_value(mcf->lifetime, NOOM_STREAM_MS);
	ngx_conf_init_size_value(mcf->max_bytes, NOOM_STREAM_BYTES);
	ngx_conf_init_msec_value(mcf->keepalive, NOOM_KEEPALIVE_MS);
	ngx_conf_init_msec_value(mcf->chat_gap, NOOM_CHAT_GAP_MS);
	if (mcf->presence_timeout < 2)
		return "noom_stream_presence_timeout must be 2s or more";
	return NGX_CONF_OK;
}

/* noom_stream DB: this location answers the event stream from DB. */
static char *
ngx_http_noom_stream(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
	ngx_http_noom_main_conf_t	*mcf = conf;
	ngx_http_core_loc_conf_t	*clcf;
	ngx_str_t			*value = cf->args->elts;

	(void)cmd;
	if (mcf->db.len != 0 && (mcf->db.len != value[1].len ||
	    ngx_strncmp(mcf->db.data, value[1].data, value[1].len) != 0))
		return "names a second store: one per nginx";
	mcf->db = value[1];
	if (mcf->sessions == NULL) {
		ngx_str_t name = ngx_string("noom_stream_sessions");

		mcf->sessions = ngx_shared_memory_add(cf, &name, NST_SLOTS *
		    sizeof(struct nst_slot) + 64 * 1024, &ngx_http_noom_module);
		if (mcf->sessions == NULL)
			return NGX_CONF_ERROR;
		mcf->sessions->init = nst_zone_init;
	}
	clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
	clcf->handler = ngx_http_noom_handler;
	return NGX_CONF_OK;
}

/*
 * noom_stream_refused: this location (limit_conn's error_page for the
 * stream's) answers the per-address limit's 429 as the API's JSON and
 * counts it among the metrics' refusals.
 */
static char *
ngx_http_noom_stream_refused(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
	ngx_http_core_loc_conf_t	*clcf;

	(void)cmd;
	(void)conf;
	clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
	clcf->handler = ngx_http_noom_refused;
	return NGX_CONF_OK;
}

/* A C string of s, from pool p; NULL if s is empty or on failure. */
static char *
nst_cstr(ngx_pool_t *p, const ngx_str_t *s)
{
	char	*c;

	if (s->len == 0 || (c = ngx_pnalloc(p, s->len + 1)) == NULL)
		return NULL;
	ngx_memcpy(c, s->data, s->len);
	c[s->len] = '\0';
	return c;
}

/* --- the process's store and doorbell ----------------------------------- */

static void
nst_bell_read(ngx_event_t *ev)
{
	(void)ev;
	if (ngx_queue_empty(&proc->streams)) {
		nst_bell_watch(0);
		wake_drain();
		return;
	}
	if (ring_gap_ring(&proc->gap, mono_ms()))
		nst_serve_all();
	else {
		nst_bell_watch(0);	/* the gap's scan will read it all */
		nst_gap_arm();
	}
}

/* Watch the doorbell (on) or not (a scan is put off and will read all). */
static void
nst_bell_watch(int on)
{
	ngx_event_t	*rev = proc->bell->read;

	if (proc->bell_on == on)
		return;
	if (on)
		(void)ngx_add_event(rev, NGX_READ_EVENT, 0);
	else
		(void)ngx_del_event(rev, NGX_READ_EVENT, 0);
	proc->bell_on = on;
}

/* Arm the ring gap's timer for its next moment, if it has one. */
static void
nst_gap_arm(void)
{
	int64_t	 at = ring_gap_at(&proc->gap), now = mono_ms();

	if (at == 0)
		return;
	if (proc->gap_ev.timer_set)
		ngx_del_timer(&proc->gap_ev);
	ngx_add_timer(&proc->gap_ev, at > now ? (ngx_msec_t)(at - now) : 1);
}

static void
nst_gap_fire(ngx_event_t *ev)
{
	int64_t	 at = ring_gap_at(&proc->gap);

	(void)ev;
	if (at != 0 && mono_ms() >= at)
		nst_serve_all();
	nst_gap_arm();
}

static void	nst_tick(ngx_event_t *);

/* This process's part: its store, doorbell and timers; NULL on failure. */
static struct nst_proc *
nst_proc_open(ngx_http_request_t *r, ngx_http_noom_main_conf_t *mcf)
{
	struct nst_proc	*p;
	char		*cause = NULL, *db, *bell, *bellp, *m;
	ngx_pool_t	*pool = r->pool;

	db = nst_cstr(pool, &mcf->db);
	bellp = nst_cstr(pool, &mcf->doorbell);
	m = nst_cstr(pool, &mcf->metrics);
	if (db == NULL)
		return NULL;
	p = xcalloc(1, sizeof(*p));
	p->conf = mcf;
	p->mslot = -1;
	p->low = INT64_MAX;
	ngx_queue_init(&p->streams);
	buf_init(&p->events);
	if ((p->db = db_open(db, &cause)) == NULL)
		goto fail;
	bell = bellp != NULL ? xstrdup(bellp) : wake_default_path_new(db);
	if (wake_init(bell, &cause) == -1) {
		free(bell);
		goto fail;
	}
	free(bell);
	if (m != NULL && (p->metrics = metrics_open(m, &cause)) == NULL)
		goto fail;
	p->mslot = metrics_nginx_slot(p->metrics);
	db_metrics(p->db, p->metrics);
	db_busy_ms(p->db, NST_BUSY_MS);
	/* The cycle's log: the request's goes with its connection. */
	if ((p->bell = ngx_get_connection(wake_watch_fd(), ngx_cycle->log))
	    == NULL)
		goto fail;
	p->bell->read->handler = nst_bell_read;
	p->bell->read->log = ngx_cycle->log;
	p->bell->data = p;
	p->touch_every = mailbox_touch_ms((int)mcf->presence_timeout);
	p->tick_ms = mcf->poll_timeout < mcf->keepalive ? mcf->poll_timeout :
	    mcf->keepalive;
	p->tick_ms /= 4;
	if (p->tick_ms > (ngx_msec_t)p->touch_every / 2)
		p->tick_ms = (ngx_msec_t)p->touch_every / 2;
	p->tick_ms = p->tick_ms > 1000 ? 1000 : p->tick_ms < 10 ? 10 :
	    p->tick_ms;
	/* Not cancelable: a worker process told to quit (a reload) waits
	 * for the tick that ends its streams cleanly (nst_tick). */
	p->tick.handler = nst_tick;
	p->tick.log = ngx_cycle->log;
	p->gap_ev.handler = nst_gap_fire;
	p->gap_ev.log = ngx_cycle->log;
	p->gap_ev.cancelable = 1;
	return p;
fail:
	ngx_log_error(NGX_LOG_ERR, r->connection->log, 0, "noom_stream: %s",
	    cause != NULL ? cause : "out of memory");
	free(cause);
	if (p->db != NULL)
		db_close(p->db);
	metrics_nginx_release(p->metrics, p->mslot);
	metrics_close(p->metrics);
	buf_free(&p->events);
	free(p);
	return NULL;
}

static void
ngx_http_noom_exit_process(ngx_cycle_t *cycle)
{
	(void)cycle;
	if (proc == NULL)
		return;
	if (proc->bell != NULL)
		ngx_free_connection(proc->bell);
	scan_free(&proc->scan);
	scan_free(&proc->one);
	buf_free(&proc->events);
	nst_bytes_unref(proc->last);
	db_close(proc->db);
	metrics_nginx_release(proc->metrics, proc->mslot);
	metrics_close(proc->metrics);
	free(proc);
	proc = NULL;
}

/* --- one stream's output ------------------------------------------------ */

static ngx_buf_tag_t	nst_tag = (ngx_buf_tag_t)&ngx_http_noom_module;

/*
 * Bytes written to streams, counted: an event rendered once goes to every
 * stream that sends the same answer (most of a room at one point of the
 * log), and is freed with the last output buffer that holds it.  The
 * answer it carries follows its bytes, for the comparison.
 */
struct nst_bytes {
	size_t		 refs;
	int64_t		 id;		/* the event's id, -1: not an answer */
	size_t		 body_len;	/* the answer: data[len..len+body_len) */
	size_t		 len;
	char		 data[];
};

/* A block of b's bytes (b is emptied) and the answer body; one reference. */
static struct nst_bytes *
nst_bytes_new(struct buf *b, int64_t id, const char *body, size_t body_len)
{
	struct nst_bytes	*nb = xmalloc(sizeof(*nb) + b->len + body_len);

	nb->refs = 1;
	nb->id = id;
	nb->len = b->len;
	nb->body_len = body_len;
	memcpy(nb->data, b->data, b->len);
	if (body_len > 0)
		memcpy(nb->data + b->len, body, body_len);
	buf_free(b);
	return nb;
}

static void
nst_bytes_unref(struct nst_bytes *nb)
{
	if (nb != NULL && --nb->refs == 0)
		free(nb);
}

/* Release the bytes of the written buffers nginx handed back to st->free. */
static void
nst_free_written(struct nst *st)
{
	ngx_chain_t	*cl;

	for (cl = st->free; cl != NULL; cl = cl->next)
		if (cl->buf->start != NULL) {
			nst_bytes_unref((struct nst_bytes *)cl->buf->start);
			cl->buf->start = cl->buf->end = NULL;
			cl->buf->pos = cl->buf->last = NULL;
		}
}

/* What st's buffers still hold for the client. */
static size_t
nst_busy_bytes(const struct nst *st)
{
	const ngx_chain_t	*cl;
	size_t			 n = 0;

	for (cl = st->busy; cl != NULL; cl = cl->next)
		n += (size_t)ngx_buf_size(cl->buf);
	return n;
}

/*
 * After a write: while bytes wait (blocked), wait for the socket to take
 * them, for send_timeout at most (a client that reads nothing is cut off:
 * nst_writer); otherwise no timer.  0, or -1 if the request failed.
 */
static int
nst_wait_write(struct nst *st, int blocked)
{
	ngx_http_request_t		*r = st->r;
	ngx_event_t			*wev = r->connection->write;
	ngx_http_core_loc_conf_t	*clcf;

	if (!blocked) {
		if (wev->timer_set)
			ngx_del_timer(wev);
		return 0;
	}
	clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);
	if (!wev->timer_set)
		ngx_add_timer(wev, clcf->send_timeout);
	if (ngx_handle_write_event(wev, clcf->send_lowat) != NGX_OK) {
		ngx_http_finalize_request(r, NGX_ERROR);
		return -1;
	}
	return 0;
}

/*
 * Write out (nb, whose reference the caller hands over; or NULL: what
 * waits) through nginx's filters.  The buffer's start is the block, its
 * bytes are the block's data.  0, or -1 if the request failed (it is
 * finalized: st is gone).
 */
static int
nst_output(struct nst *st, struct nst_bytes *nb)
{
	ngx_http_request_t	*r = st->r;
	ngx_chain_t		*out = NULL, *cl;
	ngx_int_t		 rc;

	if (nb != NULL) {
		if ((cl = ngx_chain_get_free_buf(r->pool, &st->free)) == NULL) {
			nst_bytes_unref(nb);
			ngx_http_finalize_request(r, NGX_ERROR);
			return -1;
		}
		ngx_memzero(cl->buf, sizeof(ngx_buf_t));
		cl->buf->start = (u_char *)nb;
		cl->buf->pos = (u_char *)nb->data;
		cl->buf->end = cl->buf->last = (u_char *)nb->data + nb->len;
		cl->buf->memory = 1;
		cl->buf->flush = 1;
		cl->buf->tag = nst_tag;
		out = cl;
	}
	rc = ngx_http_output_filter(r, out);
	ngx_chain_update_chains(r->pool, &st->free, &st->busy, &out, nst_tag);
	nst_free_written(st);
	if (rc == NGX_ERROR) {
		ngx_http_finalize_request(r, NGX_ERROR);
		return -1;
	}
	st->pending = nst_busy_bytes(st);
	return nst_wait_write(st, rc == NGX_AGAIN);
}

/* Write out the bytes b holds (b is emptied); as nst_output(). */
static int
nst_output_buf(struct nst *st, struct buf *b)
{
	return nst_output(st, nst_bytes_new(b, -1, NULL, 0));
}

static void	nst_unlink(struct nst *);

/*
 * End st: its last bytes (nb, handed over, or nothing), then the end of the
 * response; the client reconnects from its cursor.  st is gone afterwards.
 */
static void
nst_end(struct nst *st, struct nst_bytes *nb)
{
	ngx_http_request_t	*r = st->r;

	nst_unlink(st);
	if (nb != NULL && nst_output(st, nb) == -1)
		return;
	ngx_http_finalize_request(r, ngx_http_send_special(r, NGX_HTTP_LAST));
}

/* End st with the "close" event carrying code (4401, 4409, 1011). */
static void
nst_fail(struct nst *st, int code, const char *reason)
{
	struct buf	 b;

	buf_init(&b);
	ngx_log_error(NGX_LOG_INFO, st->r->connection->log, 0,
	    "noom_stream: closing stream with %d: %s", code, reason);
	sse_close(&b, code, reason);
	nst_end(st, nst_bytes_new(&b, -1, NULL, 0));
}

/*
 * The event for st's answer body[0..len) with id st's cursor: the one just
 * rendered for another stream if it is the same (one reference more), else
 * rendered now and kept for the next stream (proc->last).
 */
static struct nst_bytes *
nst_event(const struct nst *st, const char *body, size_t len)
{
	struct nst_bytes	*nb = proc->last;
	struct buf		 b;

	if (nb != NULL && nb->id == st->reader.cursor && nb->body_len == len &&
	    memcmp(nb->data + nb->len, body, len) == 0) {
		nb->refs++;
		return nb;
	}
	buf_init(&b);
	sse_event(&b, st->reader.cursor, NULL, body, len);
	nb = nst_bytes_new(&b, st->reader.cursor, body, len);
	nst_bytes_unref(proc->last);
	proc->last = nb;
	nb->refs++;
	return nb;
}

/*
 * Send st one answer, body[0..len), whose cursor st->reader.cursor is, as
 * an event with that id; a stream past its bytes ends after it.  0, or -1
 * if st ended.
 */
static int
nst_answer_send(struct nst *st, const char *body, size_t len)
{
	struct nst_bytes	*nb = nst_event(st, body, len);

	st->sent_bytes += len;
	if (st->sent_bytes >= proc->conf->max_bytes) {
		nst_end(st, nb);
		return -1;
	}
	return nst_output(st, nb);
}

static void
nst_sent(struct nst *st, int64_t now)
{
	st->sent_ms = now;
	mailbox_hold_after(&st->hold, now, (int)proc->conf->chat_gap);
}

static void
nst_delivered(const struct answer *a)
{
	metrics_delivered(proc->metrics, M_DELIVERED_STREAM, a);
}

/* --- the session table (shared by nginx's worker processes) ---------------- */

/*
 * Per session, at most NST_PER_SESSION streams (two tabs that share one,
 * say): a newer one replaces the oldest, whichever worker process has it.
 * A table in shared memory numbers each session's streams: a stream opened
 * as number g ends (4409) once the session's number reaches g +
 * NST_PER_SESSION, seen at its process's next tick.  Slots are taken by
 * session id modulo NST_SLOTS (ids are sequential: two sessions share a
 * slot only NST_SLOTS apart); a slot taken by another session forgets the
 * count of the one before, whose streams stay bounded by limit_conn.
 */
/* The session's slot, locked: the caller unlocks with nst_slot_unlock(). */
static struct nst_slot *
nst_slot_lock(int64_t sid)
{
	ngx_shm_zone_t	*zone = proc->conf->sessions;
	ngx_slab_pool_t	*pool = (ngx_slab_pool_t *)zone->shm.addr;
	struct nst_slot	*slots = zone->data;

	ngx_shmtx_lock(&pool->mutex);
	return &slots[(uint64_t)sid % NST_SLOTS];
}

static void
nst_slot_unlock(void)
{
	ngx_shm_zone_t	*zone = proc->conf->sessions;

	ngx_shmtx_unlock(&((ngx_slab_pool_t *)zone->shm.addr)->mutex);
}

/* Number st among its session's streams. */
static void
nst_session_count(struct nst *st)
{
	struct nst_slot	*sl = nst_slot_lock(st->reader.session_id);

	if (sl->sid != st->reader.session_id) {
		sl->sid = st->reader.session_id;
		sl->gen = 0;
	}
	st->gen = ++sl->gen;
	nst_slot_unlock();
}

/* Has a newer stream of the session replaced st? */
static int
nst_replaced(const struct nst *st)
{
	struct nst_slot	*sl = nst_slot_lock(st->reader.session_id);
	int		 replaced;

	replaced = sl->sid == st->reader.session_id &&
	    sl->gen >= st->gen + NST_PER_SESSION;
	nst_slot_unlock();
	return replaced;
}

/* Take st out of the process's lists (once); it is served no more. */
static void
nst_unlink(struct nst *st)
{
	if (!st->linked)
		return;
	st->linked = 0;
	metrics_nginx_streams(proc->metrics, proc->mslot, --proc->nstreams);
	ngx_queue_remove(&st->q);
	if (ngx_queue_empty(&proc->streams) && proc->tick.timer_set)
		ngx_del_timer(&proc->tick);
}

/* nst_unlink() as a request cleanup: terminated requests run it first. */
static void
nst_unlink_cb(void *data)
{
	nst_unlink(data);
}

/* The request ends, whichever way: unlink st, release its buffers' bytes. */
static void
nst_cleanup(void *data)
{
	struct nst	*st = data;
	ngx_chain_t	*cl;

	nst_unlink(st);
	for (cl = st->busy; cl != NULL; cl = cl->next)
		nst_bytes_unref((struct nst_bytes *)cl->buf->start);
	st->busy = NULL;
	nst_free_written(st);
}

/* --- answers ------------------------------------------------------------ */

/*
 * Read st's membership again inside the caller's read transaction, whose
 * log ends at end; 0, or -1 if st ended (4401 gone, 1011).
 */
static int
nst_member(struct nst *st, int64_t end)
{
	struct session	 s;
	int		 found;

	if ((found = db_session_by_id(proc->db, st->reader.session_id, &s))
	    != 1) {
		if (found == 0)
			nst_fail(st, 4401, "session ended");
		else
			nst_fail(st, 1011, "store failed");
		return -1;
	}
	st->reader.room_id = s.room_id;
	st->reader.join_seq = s.join_seq;
	st->reader.member_seq = end;
	return 0;
}

/*
 * Read st's next answer after its cursor on its own (mailbox_read), with
 * its session in the same read transaction: *body is new (the caller frees
 * it), or NULL if nothing is visible yet.  0, or -1 if st ended.
 */
static int
nst_answer(struct nst *st, char **body)
{
	struct answer	 a;
	int64_t		 end;
	int		 verdict;

	*body = NULL;
	if (db_begin_read(proc->db) == -1)
		goto fail;
	if (nst_member(st, 0) == -1) {
		db_rollback(proc->db);
		return -1;
	}
	buf_reset(&proc->events);
	verdict = mailbox_read(proc->db, &st->reader, NULL, mono_ms(),
	    &proc->one, &proc->events, &a, &end);
	scan_clear(&proc->one, 0);
	db_rollback(proc->db);		/* a read: nothing to commit */
	if (verdict == -1)
		goto fail;
	proc->log_end = end;
	if (verdict == MB_ANSWER || verdict == MB_RESYNC)
		*body = mailbox_answer_new(a.cursor, proc->events.data,
		    proc->events.len, verdict == MB_RESYNC);
	if (verdict == MB_ANSWER)
		nst_delivered(&a);
	st->reader.cursor = a.cursor;
	buf_reset(&proc->events);
	return 0;
fail:
	db_rollback(proc->db);
	nst_fail(st, 1011, "store failed");
	return -1;
}

/* Send st one body it owns no more; 0, or -1 if st ended. */
static int
nst_send_body(struct nst *st, char *body)
{
	int	 rv;

	nst_sent(st, mono_ms());
	rv = nst_answer_send(st, body, strlen(body));
	free(body);
	return rv;
}

/*
 * Send st what the log holds beyond its cursor, one answer at a time, while
 * its output is short; otherwise note that it is behind.  0, or -1 if st
 * ended.
 */
static int
nst_deliver(struct nst *st)
{
	int64_t	 was;
	char	*body;

	st->behind = 0;
	st->held = 0;
	while (st->reader.cursor < proc->log_end) {
		if (st->pending >= NST_OUT_LOW) {
			st->behind = 1;
			return 0;
		}
		was = st->reader.cursor;
		if (nst_answer(st, &body) == -1)
			return -1;
		if (body != NULL && nst_send_body(st, body) == -1)
			return -1;
		if (st->reader.cursor <= was)
			return 0;	/* a log reset under us: resync sent */
	}
	return 0;
}

/* Send st the events in proc->events as one answer with cursor. */
static int
nst_answer_events(struct nst *st, int64_t cursor, int64_t now)
{
	struct buf	 body;
	int		 rv;

	buf_init(&body);
	mailbox_answer_add(&body, cursor, proc->events.data,
	    proc->events.len, 0);
	buf_reset(&proc->events);
	st->reader.cursor = cursor;
	nst_sent(st, now);
	rv = nst_answer_send(st, body.data, body.len);
	buf_free(&body);
	return rv;
}

/* nst_match()'s stream, for its match_io. */
struct nst_io {
	struct nst	*st;
	int64_t		 now;
};

static int
nst_io_send(void *arg, const struct answer *a)
{
	struct nst_io	*x = arg;

	nst_delivered(a);
	return nst_answer_events(x->st, a->cursor, x->now);
}

static int
nst_io_member(void *arg)
{
	return nst_member(((struct nst_io *)arg)->st, proc->log_end);
}

static size_t
nst_io_pending(void *arg)
{
	return ((struct nst_io *)arg)->st->pending;
}

/*
 * Send st its events among the scanned ones (the log up to end), matched
 * in memory against its cached membership (mailbox_match_all).
 */
static void
nst_match(struct nst *st, const struct scan *sc, int64_t end, int64_t now)
{
	struct nst_io	 x = { st, now };
	struct match_io	 io = { nst_io_send, nst_io_member, nst_io_pending, &x };
	int64_t		 due = 0;

	st->behind = 0;
	switch (mailbox_match_all(&st->reader, &st->hold, sc, end, now,
	    &proc->events, &io, &due)) {
	case MATCH_HOLD:
		st->held = 1;
		st->held_due = due;
		ring_gap_due(&proc->gap, due);
		return;
	case MATCH_GONE:
		return;
	case MATCH_BEHIND:
		st->behind = 1;
		break;
	}
	st->held = 0;
}

/* --- the ring: one scan for every stream of the process ------------------ */

/* Can the ring's scan serve st?  (mailbox_scan_serves: the rule) */
static int
nst_scan_serves(const struct nst *st, int64_t log_end, int64_t trimmed)
{
	return mailbox_scan_serves(st->reader.cursor, st->pending, log_end,
	    trimmed);
}

/* The streams' queue entry to its struct nst. */
static struct nst *
nst_of(ngx_queue_t *q)
{
	return ngx_queue_data(q, struct nst, q);
}

/*
 * st, still open after a round, may take more: it counts for proc->low,
 * the lowest cursor among the streams the last round left
 * (nst_deliver_rest) and those opened since (nst_start), where a ring's
 * scan starts (mailbox_scan_start).  Cursors only grow, so it stays a lower
 * bound.
 */
static void
nst_low(const struct nst *st)
{
	if (!st->behind && st->reader.cursor < proc->low)
		proc->low = st->reader.cursor;
}

/*
 * Read the log after from in chunks inside the ring's read transaction and
 * match every stream the scan serves against each; -1 on a store error.
 * A stream may end while matched (its request finalized): the next entry
 * is taken first.
 */
static int
nst_scan_match(int64_t from, int64_t log_end, int64_t trimmed)
{
	struct scan	*sc = &proc->scan;
	ngx_queue_t	*q, *next;
	int64_t		 end, now = mono_ms();
	struct nst	*st;

	while (from < log_end) {
		scan_clear(sc, from);
		if (db_events_after(proc->db, from, NST_SCAN_CHUNK, scan_add,
		    sc) == -1)
			return -1;
		end = sc->n == NST_SCAN_CHUNK ? sc->evs[sc->n - 1].ev.seq :
		    log_end;
		for (q = ngx_queue_head(&proc->streams);
		    q != ngx_queue_sentinel(&proc->streams); q = next) {
			next = ngx_queue_next(q);
			st = nst_of(q);
			if (nst_scan_serves(st, log_end, trimmed))
				nst_match(st, sc, end, now);
		}
		from = end;
	}
	return 0;
}

/*
 * After a scan: held streams register their due again; the rest the scan
 * did not bring to the log's end are caught up one at a time; the next
 * scan's start is taken from where they all are (proc->low).  An ending
 * stream may take its successor's place in no way (each ends alone), so
 * the next entry taken first stays valid.
 */
static void
nst_deliver_rest(void)
{
	ngx_queue_t	*q, *next;
	struct nst	*st;
	int64_t		 now = mono_ms();

	proc->low = INT64_MAX;
	for (q = ngx_queue_head(&proc->streams);
	    q != ngx_queue_sentinel(&proc->streams); q = next) {
		next = ngx_queue_next(q);
		st = nst_of(q);
		if (st->held && st->held_due > now)
			ring_gap_due(&proc->gap, st->held_due);
		else if (st->reader.cursor < proc->log_end &&
		    nst_deliver(st) == -1)
			continue;
		nst_low(st);
	}
}

/* Read the new events once and answer every stream of the process. */
static void
nst_serve_all(void)
{
	int64_t	 log_end, trimmed;

	if (ring_gap_put_off(&proc->gap))
		nst_bell_watch(1);
	ring_gap_scanned(&proc->gap, mono_ms());
	wake_drain();
	if (db_begin_read(proc->db) == -1)
		return;
	if ((log_end = db_log_end(proc->db)) == -1 ||
	    (trimmed = db_trimmed_upto(proc->db)) == -1) {
		db_rollback(proc->db);
		return;
	}
	proc->log_end = log_end;
	(void)nst_scan_match(mailbox_scan_start(proc->low, log_end, trimmed),
	    log_end, trimmed);
	db_rollback(proc->db);
	scan_clear(&proc->scan, 0);
	nst_deliver_rest();
	nst_bytes_unref(proc->last);	/* held only while a scan lasts */
	proc->last = NULL;
	nst_gap_arm();
}

/* --- timers --------------------------------------------------------------- */

/*
 * Refresh st's session's presence inside the caller's write transaction
 * (gateway.c's conn_touch()); 0, 1 if st ended (its session is gone), -1
 * on a store error.
 */
static int
nst_touch(struct nst *st, int64_t wall)
{
	struct session	 s;
	int		 found;

	found = db_session_by_id(proc->db, st->reader.session_id, &s);
	if (found == 0) {
		nst_fail(st, 4401, "session ended");
		return 1;
	}
	if (found != 1)
		return -1;
	return mailbox_touch(proc->db, &s, wall, proc->touch_every, "stream");
}

/*
 * One stream's timers: its end, the keepalive comment, the empty answer of
 * a poll timeout.  0, or -1 if st ended.
 */
static int
nst_timers(struct nst *st, int64_t now)
{
	struct buf	 b;
	char		*body;

	if (now >= st->ends_ms) {
		nst_end(st, NULL);
		return -1;
	}
	if (nst_replaced(st)) {
		nst_fail(st, 4409, "replaced by a newer connection of this "
		    "session");
		return -1;
	}
	if (sse_keepalive_due(st->sent_ms, st->ka_ms, now,
	    (int64_t)proc->conf->keepalive)) {
		st->ka_ms = now;
		buf_init(&b);
		sse_keepalive(&b);
		if (nst_output_buf(st, &b) == -1)
			return -1;
	}
	if (now - st->sent_ms >= (int64_t)proc->conf->poll_timeout &&
	    st->pending < NST_OUT_LOW) {
		body = mailbox_answer_new(st->reader.cursor, "", 0, 0);
		return nst_send_body(st, body);
	}
	return 0;
}

/*
 * Presence: one write transaction for the streams due a touch, at most
 * NOOM_TOUCH_BATCH of them (a crowd that connected together falls due
 * together, and nginx's loop waits for the transaction).  1 if more are
 * due, for the next tick NOOM_TOUCH_AGAIN_MS later; else 0.
 */
static int
nst_touch_due(int64_t now)
{
	ngx_queue_t	*q, *next;
	struct nst	*st;
	int64_t		 wall = now_ms();
	int		 n = 0, rv = 0;

	for (q = ngx_queue_head(&proc->streams); rv != -1 &&
	    q != ngx_queue_sentinel(&proc->streams); q = next) {
		next = ngx_queue_next(q);
		st = nst_of(q);
		if (now - st->touch_ms < proc->touch_every)
			continue;
		if (n == NOOM_TOUCH_BATCH)
			break;
		if (n++ == 0 && db_begin(proc->db) == -1)
			return 0;	/* the lock is busy: the next tick */
		if ((rv = nst_touch(st, wall)) == 0)
			st->touch_ms = now;
	}
	if (n > 0 && (rv == -1 || db_commit(proc->db) == -1))
		db_rollback(proc->db);
	return q != ngx_queue_sentinel(&proc->streams) && rv != -1;
}

static void
nst_tick(ngx_event_t *ev)
{
	ngx_queue_t	*q, *next;
	int64_t		 now = mono_ms();
	int		 more;

	(void)ev;
	for (q = ngx_queue_head(&proc->streams);
	    q != ngx_queue_sentinel(&proc->streams); q = next) {
		next = ngx_queue_next(q);
		/* The process is told to quit (a reload, a stop): end each
		 * stream whole, with the gateway's "going away" (1001);
		 * clients resume from their cursor on another process. */
		if (ngx_exiting || ngx_quit || ngx_terminate)
			nst_fail(nst_of(q), 1001, "server shutting down");
		else
			(void)nst_timers(nst_of(q), now);
	}
	more = nst_touch_due(now);
	if (!ngx_queue_empty(&proc->streams))
		ngx_add_timer(&proc->tick, more ? NOOM_TOUCH_AGAIN_MS :
		    proc->tick_ms);
}

/* --- the request ---------------------------------------------------------- */

/* Copy header h's value into out (size n); "" if absent or too long. */
static void
nst_header(const ngx_table_elt_t *h, char *out, size_t n)
{
	out[0] = '\0';
	if (h != NULL && h->value.len < n) {
		ngx_memcpy(out, h->value.data, h->value.len);
		out[h->value.len] = '\0';
	}
}

/* Last-Event-ID among the request's headers, or NULL. */
static ngx_table_elt_t *
nst_last_event_id(ngx_http_request_t *r)
{
	ngx_list_part_t	*part = &r->headers_in.headers.part;
	ngx_table_elt_t	*h = part->elts;
	ngx_uint_t	 i;

	for (i = 0;; i++) {
		if (i >= part->nelts) {
			if ((part = part->next) == NULL)
				return NULL;
			h = part->elts;
			i = 0;
		}
		if (h[i].key.len == 13 && ngx_strncasecmp(h[i].key.data,
		    (u_char *)"Last-Event-ID", 13) == 0)
			return &h[i];
	}
}

/* The request's method, query and headers, as sse_params() reads them. */
static void
nst_fields(ngx_http_request_t *r, struct sse_fields *fl)
{
	ngx_table_elt_t	*last = nst_last_event_id(r);

	ngx_memzero(fl, sizeof(*fl));
	fl->get = r->method == NGX_HTTP_GET;
	if (r->args.len < sizeof(fl->query))
		ngx_memcpy(fl->query, r->args.data, r->args.len);
	else
		ngx_cpystrn((u_char *)fl->query, (u_char *)"cursor=x",
		    sizeof(fl->query));
	nst_header(r->headers_in.authorization, fl->auth, sizeof(fl->auth));
	fl->has_last = last != NULL;
	nst_header(last, fl->last, sizeof(fl->last));
	if (last != NULL && last->value.len >= sizeof(fl->last))
		fl->last[0] = 'x';	/* too long: not an id */
}

/* Add header name: value to r's answer; NGX_OK or NGX_ERROR. */
static ngx_int_t
nst_add_header(ngx_http_request_t *r, const char *name, const char *value)
{
	ngx_table_elt_t	*h = ngx_list_push(&r->headers_out.headers);

	if (h == NULL)
		return NGX_ERROR;
	h->hash = 1;
	h->key.data = (u_char *)name;
	h->key.len = ngx_strlen(name);
	h->value.data = (u_char *)value;
	h->value.len = ngx_strlen(value);
	return NGX_OK;
}

/* Answer r with the API's JSON error (sse.c's body) and status. */
static ngx_int_t
nst_refuse(ngx_http_request_t *r, int status, const char *code,
    const char *message)
{
	struct buf	 body;
	ngx_buf_t	*b;
	ngx_chain_t	 out;
	ngx_int_t	 rc;

	buf_init(&body);
	sse_error_body(&body, status, code, message);
	b = ngx_create_temp_buf(r->pool, body.len);
	if (b == NULL) {
		buf_free(&body);
		return NGX_HTTP_INTERNAL_SERVER_ERROR;
	}
	b->last = ngx_cpymem(b->pos, body.data, body.len);
	b->last_buf = 1;
	buf_free(&body);
	if ((status == 405 && nst_add_header(r, "Allow", "GET") != NGX_OK) ||
	    (status == 429 && nst_add_header(r, "Retry-After", "1") != NGX_OK) ||
	    nst_add_header(r, "Cache-Control", "no-store") != NGX_OK)
		return NGX_HTTP_INTERNAL_SERVER_ERROR;
	r->headers_out.status = (ngx_uint_t)status;
	ngx_str_set(&r->headers_out.content_type,
	    "application/json; charset=utf-8");
	r->headers_out.content_type_len = r->headers_out.content_type.len;
	r->headers_out.content_length_n = (off_t)(b->last - b->pos);
	rc = ngx_http_send_header(r);
	if (rc == NGX_ERROR || rc > NGX_OK || r->header_only)
		return rc;
	out.buf = b;
	out.next = NULL;
	return ngx_http_output_filter(r, &out);
}

/*
 * The answer's head: an event stream, never cached, never buffered by
 * nginx nor transformed by a proxy (sse.c's sse_head(), as headers), and
 * its "retry" line.
 */
static ngx_int_t
nst_head(ngx_http_request_t *r)
{
	ngx_int_t	 rc;

	r->headers_out.status = NGX_HTTP_OK;
	ngx_str_set(&r->headers_out.content_type,
	    "text/event-stream; charset=utf-8");
	r->headers_out.content_type_len = r->headers_out.content_type.len;
	r->headers_out.content_length_n = -1;
	if (nst_add_header(r, "Cache-Control", "no-store, no-transform") ||
	    nst_add_header(r, "X-Accel-Buffering", "no") ||
	    nst_add_header(r, "X-Noom-Transport", "stream"))
		return NGX_ERROR;
	rc = ngx_http_send_header(r);
	return rc == NGX_ERROR || rc > NGX_OK ? NGX_ERROR : NGX_OK;
}

/* The stream of r, now live for session sid from cursor: its first answer. */
static void
nst_start(struct nst *st, int64_t sid, int64_t cursor)
{
	struct buf	 b;
	int64_t		 now = mono_ms(), wall = now_ms();
	char		*body = NULL;

	st->reader.session_id = sid;
	st->reader.cursor = cursor;
	st->ends_ms = now + (int64_t)proc->conf->lifetime;
	st->ka_ms = now;
	nst_session_count(st);
	if (!ring_gap_put_off(&proc->gap))
		nst_bell_watch(1);
	if (!proc->tick.timer_set)
		ngx_add_timer(&proc->tick, proc->tick_ms);
	/* Presence, as a poll arriving now would refresh it; a busy lock
	 * leaves it to the next tick. */
	if (db_session_touch(proc->db, sid, wall, wall - proc->touch_every,
	    "stream") == 0)
		st->touch_ms = now;
	buf_init(&b);
	buf_adds(&b, "retry: 1000\n\n");
	if (nst_output_buf(st, &b) == -1 || nst_answer(st, &body) == -1)
		return;
	if (body == NULL)
		body = mailbox_answer_new(st->reader.cursor, "", 0, 0);
	if (nst_send_body(st, body) == 0 && nst_deliver(st) == 0)
		nst_low(st);
}

static void
nst_writer(ngx_http_request_t *r)
{
	struct nst	*st = ngx_http_get_module_ctx(r, ngx_http_noom_module);

	if (r->connection->write->timedout) {
		ngx_http_finalize_request(r, NGX_HTTP_REQUEST_TIME_OUT);
		return;
	}
	if (nst_output(st, NULL) == 0 && st->linked && st->behind &&
	    st->pending < NST_OUT_LOW && nst_deliver(st) == 0)
		nst_low(st);
}

/* A new stream for r (in its pool, with its cleanups); NULL on failure. */
static struct nst *
nst_new(ngx_http_request_t *r)
{
	ngx_http_cleanup_t	*hc;
	ngx_pool_cleanup_t	*pc;
	struct nst		*st;

	if ((st = ngx_pcalloc(r->pool, sizeof(*st))) == NULL ||
	    (hc = ngx_http_cleanup_add(r, 0)) == NULL ||
	    (pc = ngx_pool_cleanup_add(r->pool, 0)) == NULL)
		return NULL;
	st->r = r;
	/* Terminated (the client went away): out of the lists at once. */
	hc->handler = nst_unlink_cb;
	hc->data = st;
	/* Freed: the buffers' data too. */
	pc->handler = nst_cleanup;
	pc->data = st;
	ngx_http_set_ctx(r, st, ngx_http_noom_module);
	return st;
}

/* The process's store, opened at its first stream; NULL if it cannot be. */
static struct nst_proc *
nst_proc_get(ngx_http_request_t *r)
{
	if (proc == NULL)
		proc = nst_proc_open(r, ngx_http_get_module_main_conf(r,
		    ngx_http_noom_module));
	return proc;
}

/* limit_conn refused a stream: the API's 429, counted. */
static ngx_int_t
ngx_http_noom_refused(ngx_http_request_t *r)
{
	if (nst_proc_get(r) != NULL)
		metrics_add(proc->metrics, M_LIMIT_STREAMS, 1);
	return nst_refuse(r, 429, "rate_limited", "Too many streams are open "
	    "from this address; try again.");
}

static ngx_int_t
ngx_http_noom_handler(ngx_http_request_t *r)
{
	struct sse_fields	 fl;
	struct sse_req		 rq;
	struct sse_err		 err;
	struct session		 s;
	struct nst		*st;
	int			 found;

	if (ngx_http_discard_request_body(r) != NGX_OK)
		return NGX_HTTP_INTERNAL_SERVER_ERROR;
	nst_fields(r, &fl);
	if (sse_params(&fl, &rq, &err) == -1)
		return nst_refuse(r, err.status, err.code, err.message);
	if (!rq.has_token)
		return nst_refuse(r, 401, "unauthorized", "A session token is "
		    "needed (Authorization: Bearer <token>).");
	if (nst_proc_get(r) == NULL)
		return nst_refuse(r, 503, "unavailable", "The store failed; "
		    "try again.");
	if ((found = db_session_by_token(proc->db, rq.token, &s)) != 1)
		return found == 0 ? nst_refuse(r, 401, "unauthorized",
		    "Unknown session token.") : nst_refuse(r, 503,
		    "unavailable", "The store failed; try again.");
	if ((st = nst_new(r)) == NULL || nst_head(r) != NGX_OK)
		return NGX_ERROR;
	r->read_event_handler = ngx_http_test_reading;
	r->write_event_handler = nst_writer;
	st->linked = 1;
	metrics_nginx_streams(proc->metrics, proc->mslot, ++proc->nstreams);
	ngx_queue_insert_tail(&proc->streams, &st->q);
	r->main->count++;
	nst_start(st, s.id, rq.cursor);
	return NGX_DONE;
}
