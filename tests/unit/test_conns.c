/*
 * Unit tests of conns.c: a connection reaches a handler thread when its
 * request arrives, goes back to the set when given back, is closed when
 * nginx closes it; a process out of descriptors waits for them to come
 * back instead of spinning on the listening socket, then accepts the rest;
 * and a stopped one leaves new connections to the socket's other holders.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../fcgi/noom.h"
#include "unit.h"

#define CLIENTS	12

static struct sockaddr_un addr;

static int
listener(void)
{
	int	 s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (s == -1 || bind(s, (struct sockaddr *)&addr, sizeof(addr)) == -1 ||
	    listen(s, 64) == -1) {
		perror("listener");
		exit(1);
	}
	return s;
}

static int
client(void)
{
	int	 s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (s == -1 || connect(s, (struct sockaddr *)&addr, sizeof(addr)) == -1) {
		perror("client");
		exit(1);
	}
	return s;
}

static void *
acceptor(void *cs)
{
	conns_run(cs);
	return NULL;
}

/* The byte waiting on fd, or -1. */
static int
byte(int fd)
{
	unsigned char	 c;

	return read(fd, &c, 1) == 1 ? c : -1;
}

static double
cpu_s(void)
{
	struct rusage	 ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void
sleep_ms(int ms)
{
	struct timespec	 ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Taken when its request arrives, kept, given back, closed with nginx. */
static void
test_take_idle_close(struct conns *cs)
{
	int	 a = client(), b = client(), fa, fb;

	CHECK(write(b, "b", 1) == 1);
	fb = conns_take(cs);		/* b spoke, a did not */
	CHECK(byte(fb) == 'b');
	CHECK(write(fb, "B", 1) == 1 && byte(b) == 'B');
	conns_idle(cs, fb);

	CHECK(write(a, "a", 1) == 1);
	fa = conns_take(cs);
	CHECK(fa != fb && byte(fa) == 'a');
	conns_idle(cs, fa);

	CHECK(write(b, "2", 1) == 1);	/* the kept one, once more */
	CHECK(conns_take(cs) == fb && byte(fb) == '2');
	conns_idle(cs, fb);

	close(b);			/* nginx drops a kept one ... */
	CHECK(write(a, "3", 1) == 1);	/* ... and sends on another */
	CHECK(conns_take(cs) == fa && byte(fa) == '3');
	CHECK(fcntl(fb, F_GETFD) == -1 && errno == EBADF);	/* b closed */
	close(fa);
	close(a);
}

/*
 * Out of descriptors: CLIENTS connections queue in the listen backlog (a
 * child makes them, so that it is this process that runs out), the
 * acceptor pauses rather than spins, and as handled connections close it
 * accepts the others, every one of them handed out once.
 */
static void
test_out_of_descriptors(struct conns *cs)
{
	struct rlimit	 old, low;
	int		 go[2], fd, i, seen[CLIENTS] = { 0 }, all = 1;
	pid_t		 pid;
	double		 cpu;

	CHECK(pipe(go) == 0);
	if ((pid = fork()) == 0) {
		int	 c[CLIENTS];

		close(go[1]);
		for (i = 0; i < CLIENTS; i++) {
			c[i] = client();
			unsigned char id = (unsigned char)i;
			if (write(c[i], &id, 1) != 1)
				_exit(1);
		}
		(void)byte(go[0]);	/* until the parent is done */
		_exit(0);
	}
	close(go[0]);
	/* Room for 3 more descriptors than this process holds now. */
	fd = dup(0);
	getrlimit(RLIMIT_NOFILE, &old);
	low = old;
	low.rlim_cur = (rlim_t)fd + 3;
	close(fd);
	CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0);
	sleep_ms(200);			/* the acceptor fills up */
	cpu = cpu_s();
	sleep_ms(500);
	/* A spinning acceptor would use the whole half second. */
	CHECK(cpu_s() - cpu < 0.2);
	for (i = 0; i < CLIENTS; i++) {
		int	 id;

		fd = conns_take(cs);
		id = byte(fd);
		CHECK(id >= 0 && id < CLIENTS);
		if (id >= 0 && id < CLIENTS)
			seen[id]++;
		close(fd);		/* one back for the acceptor */
	}
	for (i = 0; i < CLIENTS; i++)
		all = all && seen[i] == 1;
	CHECK(all);
	setrlimit(RLIMIT_NOFILE, &old);
	close(go[1]);
	waitpid(pid, NULL, 0);
}

/*
 * conns_stop: the acceptor closes this process's copy of the listening
 * socket and returns; a new connection then waits for another copy (the
 * master's, another worker's: here "other"); a connection given back is
 * closed instead of kept.
 */
static void
test_stop(struct conns *cs, pthread_t acceptor_thread, int other)
{
	int	 kept = client(), fk, late, got;

	CHECK(write(kept, "k", 1) == 1);
	fk = conns_take(cs);
	CHECK(byte(fk) == 'k');
	conns_stop(cs);
	CHECK(pthread_join(acceptor_thread, NULL) == 0);
	late = client();		/* still queued: the socket listens */
	got = accept4(other, NULL, NULL, SOCK_CLOEXEC);
	CHECK(got != -1);
	CHECK(write(late, "l", 1) == 1 && byte(got) == 'l');
	conns_idle(cs, fk);		/* stopping: closed, not kept */
	CHECK(fcntl(fk, F_GETFD) == -1 && errno == EBADF);
	CHECK(byte(kept) == -1);	/* ... so nginx sees it end */
	close(got);
	close(late);
	close(kept);
}

int
main(void)
{
	char		 dir[] = "/tmp/noom-conns.XXXXXX", path[64];
	struct conns	*cs;
	pthread_t	 t;
	char		*cause = NULL;
	int		 sock, other;

	signal(SIGPIPE, SIG_IGN);
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	addr.sun_family = AF_UNIX;
	snprintf(path, sizeof(path), "%s/s", dir);
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	sock = listener();
	other = dup(sock);		/* as the master keeps its copy */
	if ((cs = conns_new(sock, &cause)) == NULL) {
		printf("conns_new: %s\n", cause);
		return 1;
	}
	pthread_create(&t, NULL, acceptor, cs);
	test_take_idle_close(cs);
	/* Valgrind keeps descriptors of its own above the soft limit: past it,
	 * it closes what accept() got and says EMFILE, so the connection is
	 * lost rather than left queued, which is what this test is about. */
	if (strstr(getenv("LD_PRELOAD") ? getenv("LD_PRELOAD") : "",
	    "vgpreload") != NULL)
		printf("test_conns: out of descriptors: not under valgrind\n");
	else
		test_out_of_descriptors(cs);
	test_stop(cs, t, other);
	conns_free(cs);
	close(other);
	unlink(path);
	rmdir(dir);
	return unit_done("test_conns");
}
