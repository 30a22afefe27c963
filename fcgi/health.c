/*
 * health.c — for load balancers and service managers.
 *
 *   GET PREFIX/healthz -> 200 {"status": "ok"}        the process answers
 *   GET PREFIX/readyz  -> 200 {"status": "ready", "checks": {...}}
 *                         503 {"status": "not_ready", "checks": {...}}
 *
 * readyz checks what serving needs, each named in "checks" with "ok" or
 * what is wrong: the store takes a write (a write that changes nothing,
 * committed, and the files' modes: see check_store), the doorbell file can
 * be written, every worker process the master lists is alive and running
 * (its heartbeat in the metrics table is fresh), and the WebSocket
 * gateway accepts connections (when noom-run told the workers where it
 * listens, --ws-socket).  Neither needs a session:
 * they tell nothing about users, nor where the files are.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "noom.h"

#define WORKERS_MAX	64

/* Are all the worker processes in the master's pids file alive? */
static const char *
check_workers(const struct app *app, char *why, size_t n)
{
	char	*text, *cause = NULL, *p, *end;
	long	 pid;
	int	 listed = 0, alive = 0;

	if (app->pids_file == NULL)
		return "ok";		/* run alone, not by a master */
	if ((text = file_read_new(app->pids_file, 4096, &cause)) == NULL) {
		snprintf(why, n, "cannot read the worker list: %s",
		    cause ? cause : "?");
		free(cause);
		return why;
	}
	for (p = text; *p != '\0' && listed < WORKERS_MAX; p = end) {
		pid = strtol(p, &end, 10);
		if (end == p)
			break;
		listed++;
		if (pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM))
			alive++;
		while (*end == '\n' || *end == ' ')
			end++;
	}
	free(text);
	if (listed == 0 || alive != listed) {
		snprintf(why, n, "%d of %d worker processes alive", alive,
		    listed);
		return why;
	}
	/* Alive is not enough: a stopped or stuck one answers nobody. */
	if (metrics_stale(app->metrics, mono_ms(), why, n) > 0)
		return why;
	return "ok";
}

/*
 * Does the store take a write?  On the thread's own connection: a write
 * that changes nothing, committed (a full disk fails it).  That connection
 * keeps writing through the descriptors it opened, however the files'
 * modes change since, and so would a new one (SQLite hands a process's
 * closed descriptors of a file to its next connection): so the database,
 * its WAL and index files and their folder are also checked for what
 * this process may do to them now (faccessat with the effective ids: a
 * read-only mount, a chmod).  "ok", or what failed, by file name alone
 * (readyz is public).
 */
static const char *
check_store(struct ctx *c, char *why, size_t n)
{
	static const char *const suffix[] = { "", "-wal", "-shm" };
	const char	*path = c->app->db_path, *base;
	char		 file[4096], dir[4096], *slash;
	size_t		 i;

	if (db_probe(c->db) == -1)
		return "cannot write";
	base = (slash = strrchr(path, '/')) != NULL ? slash + 1 : path;
	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) != NULL)
		*(slash == dir ? slash + 1 : slash) = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	for (i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		snprintf(file, sizeof(file), "%s%s", path, suffix[i]);
		/* The WAL and its index are made again when missing. */
		if (faccessat(AT_FDCWD, file, R_OK | W_OK, AT_EACCESS) == -1 &&
		    (errno != ENOENT || i == 0)) {
			snprintf(why, n, "cannot write %s%s: %s", base,
			    suffix[i], strerror(errno));
			return why;
		}
	}
	if (faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) == -1) {
		snprintf(why, n, "cannot write its folder: %s",
		    strerror(errno));
		return why;
	}
	return "ok";
}

/* Does the gateway accept a connection on its socket? */
static const char *
check_gateway(const struct app *app, char *why, size_t n)
{
	struct sockaddr_un	 sun;
	int			 fd, rv;

	if (app->ws_socket == NULL)
		return "not configured";
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(app->ws_socket) >= sizeof(sun.sun_path))
		return "socket path too long";
	strcpy(sun.sun_path, app->ws_socket);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return "no socket";
	rv = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	if (rv == -1)
		snprintf(why, n, "%s: %s", app->ws_socket, strerror(errno));
	close(fd);
	return rv == 0 ? "ok" : why;
}

/* GET healthz: the process answers. */
void
h_healthz(struct ctx *c, const struct req *rq, struct resp *rs)
{
	(void)c;
	(void)rq;
	resp_json(rs, 200, json_pack("{s:s}", "status", "ok"));
}

/* GET readyz: everything serving needs, each checked. */
void
h_readyz(struct ctx *c, const struct req *rq, struct resp *rs)
{
	char		 w[256], g[256], d[256], *cause = NULL;
	const char	*store, *bell, *workers, *gateway;
	int		 ready;

	(void)rq;
	store = check_store(c, d, sizeof(d));
	if (wake_check(c->app->doorbell, &cause) == 0)
		bell = "ok";
	else
		bell = "cannot write the doorbell file";
	free(cause);
	workers = check_workers(c->app, w, sizeof(w));
	gateway = check_gateway(c->app, g, sizeof(g));
	ready = strcmp(store, "ok") == 0 && strcmp(bell, "ok") == 0 &&
	    strcmp(workers, "ok") == 0 && (strcmp(gateway, "ok") == 0 ||
	    c->app->ws_socket == NULL);
	resp_json(rs, ready ? 200 : 503, json_pack("{s:s,s:{s:s,s:s,s:s,s:s}}",
	    "status", ready ? "ready" : "not_ready", "checks", "store", store,
	    "doorbell", bell, "workers", workers, "gateway", gateway));
}
