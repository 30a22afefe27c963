/*
 * conns.c — the connections from nginx that have a request to read.
 *
 * Every connection from nginx sits in one epoll set per worker process
 * (EPOLLONESHOT: it is reported to one thread, once, until it is given
 * back), and the handler threads wait on that set themselves (conns_take):
 * the kernel hands a connection with a request on it straight to one idle
 * handler thread.  One more thread, the acceptor (conns_run), accepts every
 * new connection on the listening socket as soon as it arrives and adds it
 * to the set; a handler that has answered a request on a connection nginx
 * keeps (FastCGI's FCGI_KEEP_CONN: nginx sends the next request on the same
 * connection) puts it back with conns_idle(), as does the poll waker for a
 * parked poll it answered.
 *
 * Why: with libfcgi's own accept, a connection waited in the kernel's listen
 * queue until a handler thread was free.  When thousands of parked polls
 * were answered at once, their re-polls overflowed that queue (capped by
 * net.core.somaxconn, 4096 here), nginx's connect() failed with EAGAIN and
 * it answered 502 (docs/BENCHMARKS.md).  Accepting at once moves the wait
 * into the epoll set, which has no limit but the descriptor limit; and a kept
 * connection costs no connect, accept or close.  Handlers take connections
 * from the set rather than from a queue filled by another thread, so a
 * request costs no hand-over between threads (two wake-ups, and a fifth of
 * the workers' CPU when 5000 polls re-poll at once, docs/BENCHMARKS.md).
 *
 * Ownership: conns_take() gives its caller the descriptor, until the caller
 * closes it or gives it back with conns_idle(); in between it belongs to the
 * epoll set, and the thread that takes it from there closes it when nginx
 * has closed it.
 */
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "noom.h"

/* New connections taken per wake-up, so that the workers share them. */
#define CONNS_ACCEPT_BATCH	64

struct conns {
	int	 listen_fd;	/* shared by the workers, nonblocking */
	int	 listen_ep;	/* the acceptor's: listen_fd alone */
	int	 ep;		/* every connection not being handled */
	int	 stop_fd;	/* eventfd in listen_ep: conns_stop() */
	atomic_int stopped;	/* conns_stop() was called */
	int64_t	 full_ms;	/* acceptor only: last "out of descriptors",
				   monotonic */
};

/* Watch the listening socket sock; NULL with *cause on failure. */
struct conns *
conns_new(int sock, char **cause)
{
	struct conns		*cs = xcalloc(1, sizeof(*cs));
	struct epoll_event	 ev = { .events = EPOLLIN | EPOLLEXCLUSIVE };
	/* Told apart from the socket's in conns_run by data.fd -1. */
	struct epoll_event	 stop = { .events = EPOLLIN, .data.fd = -1 };
	int			 fl;

	cs->listen_fd = sock;
	cs->listen_ep = cs->ep = cs->stop_fd = -1;
	ev.data.fd = sock;
	if ((fl = fcntl(sock, F_GETFL)) == -1 ||
	    fcntl(sock, F_SETFL, fl | O_NONBLOCK) == -1 ||
	    (cs->listen_ep = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    (cs->ep = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    (cs->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1 ||
	    epoll_ctl(cs->listen_ep, EPOLL_CTL_ADD, sock, &ev) == -1 ||
	    epoll_ctl(cs->listen_ep, EPOLL_CTL_ADD, cs->stop_fd, &stop) == -1) {
		if (asprintf(cause, "connections: %s", strerror(errno)) == -1)
			*cause = NULL;
		if (cs->listen_ep != -1)
			close(cs->listen_ep);
		if (cs->ep != -1)
			close(cs->ep);
		if (cs->stop_fd != -1)
			close(cs->stop_fd);
		free(cs);
		return NULL;
	}
	return cs;
}

/* Watch fd for its next request (op: EPOLL_CTL_ADD or _MOD); 0 or -1. */
static int
conns_watch(struct conns *cs, int op, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT };

	ev.data.fd = fd;
	return epoll_ctl(cs->ep, op, fd, &ev);
}

/*
 * The next connection with a request to read (the caller owns it); waits
 * for one.  Connections nginx has closed are closed on the way.
 */
int
conns_take(struct conns *cs)
{
	struct epoll_event	 ev;

	for (;;) {
		if (epoll_wait(cs->ep, &ev, 1, -1) == -1) {
			if (errno != EINTR)
				fatal("epoll_wait: %s", strerror(errno));
			continue;
		}
		if (ev.events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
			close(ev.data.fd);	/* nginx closed an idle one */
			continue;
		}
		return ev.data.fd;
	}
}

/*
 * Give back a connection whose request is answered and that nginx keeps
 * open for the next one: a handler thread takes it when that request
 * arrives, or closes it when nginx does.  Any thread may call this.
 * Once the process stops (conns_stop) it is closed instead: nginx drops
 * it from its idle connections and sends the next request elsewhere,
 * rather than to a process about to exit.
 */
void
conns_idle(struct conns *cs, int fd)
{
	if (atomic_load(&cs->stopped)) {
		close(fd);
		return;
	}
	if (conns_watch(cs, EPOLL_CTL_MOD, fd) == -1) {
		log_warn("epoll_ctl: %s", strerror(errno));
		close(fd);
	}
}

/*
 * Accept up to a batch of new connections into the set.  -1 when this
 * process is out of descriptors: the connections left in the listen queue
 * keep the socket readable, so the caller pauses instead of spinning.
 */
static int
conns_accept(struct conns *cs)
{
	int64_t	 now;
	int	 fd, i;

	for (i = 0; i < CONNS_ACCEPT_BATCH; i++) {
		if ((fd = accept4(cs->listen_fd, NULL, NULL, SOCK_CLOEXEC)) != -1) {
			if (conns_watch(cs, EPOLL_CTL_ADD, fd) == -1) {
				log_warn("epoll_ctl: %s", strerror(errno));
				close(fd);
			}
			continue;
		}
		if (errno == EMFILE || errno == ENFILE) {
			now = mono_ms();
			if (now - cs->full_ms >= 1000) {	/* once a second */
				log_warn("accept: %s", strerror(errno));
				cs->full_ms = now;
			}
			return -1;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR && errno != ECONNABORTED)
			log_warn("accept: %s", strerror(errno));
		break;
	}
	return 0;
}

/*
 * The acceptor loop of this process, until conns_stop(): then it closes
 * this process's copy of the listening socket and returns.  The socket
 * itself stays open in the master and the other workers, so the
 * connections nginx opens from then on wait in its queue for them (or for
 * the worker the master starts next) instead of being accepted here.
 * Only this thread touches listen_fd, so closing it races no accept4().
 */
void
conns_run(struct conns *cs)
{
	struct epoll_event	 ev;

	for (;;) {
		if (epoll_wait(cs->listen_ep, &ev, 1, -1) == -1) {
			if (errno != EINTR)
				fatal("epoll_wait: %s", strerror(errno));
			continue;
		}
		if (ev.data.fd == -1)
			break;		/* conns_stop() */
		if (conns_accept(cs) == -1)
			usleep(10 * 1000);	/* until connections close */
	}
	/* Taken out of the set by hand: the set watches the open socket,
	 * which the other processes keep open after this close. */
	epoll_ctl(cs->listen_ep, EPOLL_CTL_DEL, cs->listen_fd, NULL);
	close(cs->listen_fd);
	cs->listen_fd = -1;
}

/*
 * Stop accepting new connections (any thread): conns_run() closes the
 * listening socket and returns, and connections given back are closed
 * (conns_idle).  The connections already in the set stay, so that the
 * requests nginx sent on them are still answered.
 */
void
conns_stop(struct conns *cs)
{
	uint64_t	 one = 1;

	atomic_store(&cs->stopped, 1);
	if (write(cs->stop_fd, &one, sizeof(one)) == -1)
		log_warn("connections: %s", strerror(errno));
}

/*
 * Free cs and its descriptors, once conns_run() has returned and no
 * thread uses it.  A worker never needs to: it ends with its process.
 */
void
conns_free(struct conns *cs)
{
	if (cs == NULL)
		return;
	if (cs->listen_fd != -1)
		close(cs->listen_fd);
	close(cs->listen_ep);
	close(cs->ep);
	close(cs->stop_fd);
	free(cs);
}
