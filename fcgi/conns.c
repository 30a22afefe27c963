/*
 * conns.c — the connections from nginx that have a request to read.
 *
 * One thread per worker process (the dispatcher, conns_run) accepts every
 * new connection on the listening socket as soon as it arrives, and watches
 * the idle kept-alive ones (FastCGI's FCGI_KEEP_CONN: nginx sends the next
 * request on the same connection) with epoll.  A connection with a request
 * to read goes to a queue; the handler threads (worker.c) take it from
 * there, answer or park the request, and hand a kept connection back with
 * conns_idle() (the poll waker does the same for a parked poll it answered).
 *
 * Why: with libfcgi's own accept, a connection waited in the kernel's listen
 * queue until a handler thread was free.  When thousands of parked polls
 * were answered at once, their re-polls overflowed that queue (capped by
 * net.core.somaxconn, 4096 here), nginx's connect() failed with EAGAIN and
 * it answered 502 (docs/BENCHMARKS.md).  Accepting at once moves the wait
 * into this queue, which is bounded by CONNS_QUEUE_MAX rather than by a
 * system setting; and a kept connection costs no connect, accept or close.
 *
 * Ownership: a queued descriptor belongs to the queue until conns_take()
 * returns it; then to the caller until it closes it or gives it back with
 * conns_idle(), after which it belongs to the epoll set, which closes it
 * when nginx does.
 */
#include <sys/epoll.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "noom.h"

/* Connections waiting for a handler thread, per worker process. */
#define CONNS_QUEUE_MAX	16384
/* New connections taken per wake-up, so that the workers share them. */
#define CONNS_ACCEPT_BATCH	64

struct conns {
	int		 listen_fd;	/* shared by the workers, nonblocking */
	int		 ep;		/* listen_fd and the idle kept ones */
	pthread_mutex_t	 lock;		/* guards the queue */
	pthread_cond_t	 filled;	/* the queue has an entry */
	pthread_cond_t	 drained;	/* the queue has room */
	int		*ring;		/* queued descriptors, owned */
	size_t		 head, n, cap;
};

/* Watch the listening socket sock; NULL with *cause on failure. */
struct conns *
conns_new(int sock, char **cause)
{
	struct conns		*cs = xcalloc(1, sizeof(*cs));
	struct epoll_event	 ev = { .events = EPOLLIN | EPOLLEXCLUSIVE };
	int			 fl;

	cs->listen_fd = sock;
	cs->cap = 1024;
	cs->ring = xcalloc(cs->cap, sizeof(*cs->ring));
	pthread_mutex_init(&cs->lock, NULL);
	pthread_cond_init(&cs->filled, NULL);
	pthread_cond_init(&cs->drained, NULL);
	ev.data.fd = sock;
	if ((fl = fcntl(sock, F_GETFL)) == -1 ||
	    fcntl(sock, F_SETFL, fl | O_NONBLOCK) == -1 ||
	    (cs->ep = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    epoll_ctl(cs->ep, EPOLL_CTL_ADD, sock, &ev) == -1) {
		if (asprintf(cause, "connections: %s", strerror(errno)) == -1)
			*cause = NULL;
		free(cs->ring);
		free(cs);
		return NULL;
	}
	return cs;
}

/* Queue fd for a handler thread; waits while the queue is full. */
static void
conns_push(struct conns *cs, int fd)
{
	size_t	 i;
	int	*ring;

	pthread_mutex_lock(&cs->lock);
	while (cs->n >= CONNS_QUEUE_MAX)
		pthread_cond_wait(&cs->drained, &cs->lock);
	if (cs->n == cs->cap) {		/* grow, unrolling the ring */
		ring = xcalloc(cs->cap * 2, sizeof(*ring));
		for (i = 0; i < cs->n; i++)
			ring[i] = cs->ring[(cs->head + i) % cs->cap];
		free(cs->ring);
		cs->ring = ring;
		cs->head = 0;
		cs->cap *= 2;
	}
	cs->ring[(cs->head + cs->n) % cs->cap] = fd;
	cs->n++;
	pthread_cond_signal(&cs->filled);
	pthread_mutex_unlock(&cs->lock);
}

/* The next connection with a request to read (the caller owns it). */
int
conns_take(struct conns *cs)
{
	int	 fd;

	pthread_mutex_lock(&cs->lock);
	while (cs->n == 0)
		pthread_cond_wait(&cs->filled, &cs->lock);
	fd = cs->ring[cs->head];
	cs->head = (cs->head + 1) % cs->cap;
	cs->n--;
	pthread_cond_signal(&cs->drained);
	pthread_mutex_unlock(&cs->lock);
	return fd;
}

/*
 * Give back a connection whose request is answered and that nginx keeps
 * open for the next one: the dispatcher queues it again when that request
 * arrives, or closes it when nginx does.  Any thread may call this.
 */
void
conns_idle(struct conns *cs, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT };

	ev.data.fd = fd;
	if (epoll_ctl(cs->ep, EPOLL_CTL_MOD, fd, &ev) == -1 &&
	    (errno != ENOENT || epoll_ctl(cs->ep, EPOLL_CTL_ADD, fd, &ev) == -1)) {
		log_warn("epoll_ctl: %s", strerror(errno));
		close(fd);
	}
}

/* Accept up to a batch of new connections and queue them. */
static void
conns_accept(struct conns *cs)
{
	int	 fd, i;

	for (i = 0; i < CONNS_ACCEPT_BATCH; i++) {
		if ((fd = accept4(cs->listen_fd, NULL, NULL, SOCK_CLOEXEC)) == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR && errno != ECONNABORTED)
				log_warn("accept: %s", strerror(errno));
			return;
		}
		conns_push(cs, fd);
	}
}

/* The dispatcher loop of this process; never returns. */
void
conns_run(struct conns *cs)
{
	struct epoll_event	 evs[64];
	int			 n, i, fd;

	for (;;) {
		if ((n = epoll_wait(cs->ep, evs, 64, -1)) == -1) {
			if (errno != EINTR)
				fatal("epoll_wait: %s", strerror(errno));
			continue;
		}
		for (i = 0; i < n; i++) {
			fd = evs[i].data.fd;
			if (fd == cs->listen_fd)
				conns_accept(cs);
			else if (evs[i].events & (EPOLLRDHUP | EPOLLHUP |
			    EPOLLERR))
				close(fd);	/* nginx closed an idle one */
			else
				conns_push(cs, fd);
		}
	}
}
