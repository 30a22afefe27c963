/*
 * main.c — noom-worker: options, the listening socket, and the master that
 * keeps N worker processes running.
 *
 * The master does everything that may fail before serving (options, schema
 * migration, templates, the socket) and exits on any of it: those are the
 * only fatal errors.  It then forks the workers, which all accept on the one
 * socket (the kernel spreads connections between them), restarts any worker
 * that dies — a crash or a kill -9 loses only that worker's open requests,
 * whose clients re-poll with their cursor — and on SIGTERM or SIGINT stops
 * them all and removes the socket.  On SIGHUP it reads the configuration
 * file again and has every worker do the same (reload), dropping nobody.
 */
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "noom.h"

#define MAX_WORKERS	NOOM_WORKERS_MAX

/* Set by signal handlers, read by the master loop. */
static volatile sig_atomic_t got_term;
static volatile sig_atomic_t got_child;
static volatile sig_atomic_t got_alarm;
static volatile sig_atomic_t got_hup;

static void
on_term(int sig)
{
	(void)sig;
	got_term = 1;
}

static void
on_child(int sig)
{
	(void)sig;
	got_child = 1;
}

static void
on_hup(int sig)
{
	(void)sig;
	got_hup = 1;
}

static void
on_alarm(int sig)
{
	(void)sig;
	got_alarm = 1;
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: noom-worker --socket PATH --db PATH "
	    "--data-dir DIR [--workers N]\n"
	    "       [--threads N] [--socket-mode OCTAL] [--pids-file PATH]\n"
	    "       [--poll-timeout S] [--presence-timeout S] [--retention S]\n"
	    "       [--chat-gap MS] [--config FILE] [--janus-config FILE] [--mesh-max N] [--quiet]\n"
	    "       [--doorbell PATH] [--waiting-per-client N] [--ws-socket PATH]\n"
	    "       [--metrics PATH] [--log-format text|json]\n"
	    "       noom-worker --hash-password < file-with-the-password\n");
	exit(2);
}

/*
 * Write the worker PIDs, one a line, replacing the file atomically.  The
 * new file is made by mkstemp (a new name, O_EXCL): a fixed "path.tmp"
 * could be a symbolic link someone left there, and writing through it
 * would overwrite whatever it points to.
 */
static void
write_pids(const char *path, const pid_t *pids, int n)
{
	char	 tmp[4096];
	FILE	*f;
	int	 i, fd;

	if (path == NULL)
		return;
	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp)) {
		log_warn("%s: path too long", path);
		return;
	}
	if ((fd = mkstemp(tmp)) == -1 || (f = fdopen(fd, "w")) == NULL) {
		log_warn("%s: %s", tmp, strerror(errno));
		if (fd != -1) {
			close(fd);
			unlink(tmp);
		}
		return;
	}
	for (i = 0; i < n; i++)
		if (pids[i] > 0)
			fprintf(f, "%ld\n", (long)pids[i]);
	if (fclose(f) != 0 || rename(tmp, path) == -1) {
		log_warn("%s: %s", path, strerror(errno));
		unlink(tmp);
	}
}

/*
 * Fork the worker of slot (its index in pids, and in the metrics).  The
 * master runs with its signals blocked (it waits for them in sigsuspend); a
 * child gets the mask the master started with, plus the two its signal
 * thread waits for.
 */
static pid_t
spawn(const struct app *app, int sock, int slot, const sigset_t *child_mask)
{
	pid_t	 pid;

	/* Running, for readyz, until it beats itself (at once, unless it
	 * cannot start: then the beat goes stale). */
	metrics_beat(app->metrics, slot, mono_ms());
	switch ((pid = fork())) {
	case -1:
		log_warn("fork: %s", strerror(errno));
		return -1;
	case 0:
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		signal(SIGALRM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		/* SIGTERM and SIGHUP stay blocked: the worker's signal thread
		 * takes them (worker.c). */
		sigprocmask(SIG_SETMASK, child_mask, NULL);
		worker_block_signals();
		worker_main(app, sock, slot);
	}
	return pid;
}

/*
 * The store wants db_checkpoint() every DB_CHECKPOINT_MS from one
 * connection that serves no request (db.h, db.c say why): the master's, on
 * a SIGALRM timer, since the master has no other thread to run it (it
 * forks workers; a thread would not survive the fork and could hold a lock
 * the child needs).  NULL (and a warning: the WAL then only grows) if the
 * database cannot be opened; the master's connection is never used by the
 * workers it forks.  It runs every 250 ms: it is quiet, and the loop logs a
 * failure that repeats once a minute (log_failure).
 */
static struct db *
checkpointer_start(const struct app *app)
{
	struct itimerval	 every = { { 0, DB_CHECKPOINT_MS * 1000 },
				     { 0, DB_CHECKPOINT_MS * 1000 } };
	struct db		*db;
	char			*cause = NULL;

	if ((db = db_open(app->db_path, &cause)) == NULL) {
		log_warn("checkpoints: %s", cause ? cause : "cannot open");
		free(cause);
		return NULL;
	}
	db_quiet(db);
	if (setitimer(ITIMER_REAL, &every, NULL) == -1)
		log_warn("setitimer: %s", strerror(errno));
	return db;
}

/*
 * --hash-password: read a password (the first line of standard input) and
 * print what admin_password in --config takes.  Nothing else is read or
 * started; the password is never an argument, so it never shows in `ps`.
 */
static void __attribute__((noreturn))
hash_password(void)
{
	struct termios	 tty, quiet;
	char		 line[256], out[NOOM_PW_HASH_MAX];
	size_t		 n;
	int		 echo_off = 0;

	if (tcgetattr(STDIN_FILENO, &tty) == 0) {
		fprintf(stderr, "Admin password (not shown): ");
		quiet = tty;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		echo_off = tcsetattr(STDIN_FILENO, TCSANOW, &quiet) == 0;
	}
	if (fgets(line, sizeof(line), stdin) == NULL)
		line[0] = '\0';
	if (echo_off) {
		tcsetattr(STDIN_FILENO, TCSANOW, &tty);
		fprintf(stderr, "\n");
	}
	n = strcspn(line, "\r\n");
	line[n] = '\0';
	if (n < 8)
		fatal("--hash-password: use at least 8 characters");
	if (pw_hash(line, out, sizeof(out)) == -1)
		fatal("--hash-password: cannot hash");
	explicit_bzero(line, sizeof(line));
	printf("admin_password = %s\n", out);
	exit(0);
}

/*
 * SIGHUP: read the configuration again; if it is sound, put it in force
 * here (for the workers started from now on) and tell every worker to read
 * it too.  A wrong file changes nothing: the running configuration stays.
 */
static void
reload(const struct app *app, const pid_t *pids, int n)
{
	int	 i;

	if (conf_reload(app, mono_ms()) == -1)
		return;
	for (i = 0; i < n; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGHUP);
	log_info("configuration reloaded");
}

/*
 * Add a minute's sample to the metrics' history (the admin page's charts),
 * with the store's figures read on the master's own connection.  A failed
 * read skips the sample: the chart shows a gap, nothing worse.
 */
static void
sample(const struct app *app, struct db *db)
{
	struct figures	 f;
	int		 ok;

	if (db_begin_read(db) == -1)
		return;
	ok = db_figures(db, conf_now(app)->mesh_max, &f) == 0;
	db_rollback(db);
	if (ok)
		metrics_sample(app->metrics, &f, now_ms());
}

/* Reap dead workers and start new ones in their place. */
static void
reap(const struct app *app, int sock, pid_t *pids, int n, const char *pidfile,
    const sigset_t *child_mask)
{
	pid_t	 pid;
	int	 status, i, changed = 0;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < n; i++) {
			if (pids[i] != pid)
				continue;
			if (WIFSIGNALED(status))
				log_warn("worker %ld killed by signal %d",
				    (long)pid, WTERMSIG(status));
			else
				log_warn("worker %ld exited with %d",
				    (long)pid, WEXITSTATUS(status));
			pids[i] = got_term ? 0 :
			    spawn(app, sock, i, child_mask);
			if (!got_term)
				metrics_add(app->metrics, M_WORKER_RESTARTS, 1);
			changed = 1;
		}
	}
	if (changed && !got_term)
		write_pids(pidfile, pids, n);
}

/*
 * Remove the socket only if it is still the one we made: a new master may
 * already listen on the same path while this one shuts down.
 */
static void
unlink_own(const char *path, const struct stat *made)
{
	struct stat	 sb;

	if (stat(path, &sb) == 0 && sb.st_ino == made->st_ino &&
	    sb.st_dev == made->st_dev)
		unlink(path);
}

/* Stop every worker: SIGTERM, then SIGKILL after five seconds. */
static void
stop_all(pid_t *pids, int n)
{
	struct timespec	 tick = { 0, 50 * 1000 * 1000 };
	int		 i, left, waited;

	for (i = 0; i < n; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGTERM);
	for (waited = 0; waited < 100; waited++) {
		for (left = 0, i = 0; i < n; i++) {
			if (pids[i] > 0 && waitpid(pids[i], NULL, WNOHANG) != 0)
				pids[i] = 0;
			left += pids[i] > 0;
		}
		if (left == 0)
			return;
		nanosleep(&tick, NULL);
	}
	for (i = 0; i < n; i++)
		if (pids[i] > 0) {
			kill(pids[i], SIGKILL);
			waitpid(pids[i], NULL, 0);
		}
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "db", required_argument, NULL, 'd' },
		{ "data-dir", required_argument, NULL, 'D' },
		{ "workers", required_argument, NULL, 'w' },
		{ "threads", required_argument, NULL, 't' },
		{ "socket-mode", required_argument, NULL, 'm' },
		{ "pids-file", required_argument, NULL, 'p' },
		{ "poll-timeout", required_argument, NULL, 'P' },
		{ "chat-gap", required_argument, NULL, 'g' },
		{ "presence-timeout", required_argument, NULL, 'r' },
		{ "retention", required_argument, NULL, 'R' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "config", required_argument, NULL, 'c' },
		{ "mesh-max", required_argument, NULL, 'M' },
		{ "janus-config", required_argument, NULL, 'J' },
		{ "doorbell", required_argument, NULL, 'b' },
		{ "waiting-per-client", required_argument, NULL, 'W' },
		{ "ws-socket", required_argument, NULL, 'S' },
		{ "metrics", required_argument, NULL, 'x' },
		{ "log-format", required_argument, NULL, 'L' },
		{ "hash-password", no_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 }
	};
	struct app	 app;
	struct sigaction sa;
	struct stat	 sock_st;
	sigset_t	 block, old;
	struct db	*ckpt;
	struct log_every ckpt_log;
	int64_t		 next_sample = 0;
	pid_t		 pids[MAX_WORKERS];
	const char	*socket_path = NULL, *pidfile = NULL;
	char		*cause = NULL, *path, *doorbell = NULL, *metrics = NULL;
	int		 ch, workers = 2, mode = 0600, sock, i;
	struct conf	*cf;

	/*
	 * Nothing this process makes is anyone else's business: the database
	 * (sessions, chat), its WAL and SHM, the doorbell, the PID file are
	 * 0600.  The socket gets --socket-mode by chmod once bound.
	 */
	umask(077);
	memset(&app, 0, sizeof(app));
	memset(&ckpt_log, 0, sizeof(ckpt_log));
	app.poll_timeout = 25;
	app.chat_gap_ms = NOOM_CHAT_GAP_MS;
	app.presence_timeout = 60;
	app.retention = 600;
	app.threads = 4;
	app.waiting_max = 1000;
	log_set_ident("noom-worker");
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 's': socket_path = optarg; break;
		case 'd': app.db_path = optarg; break;
		case 'D': app.data_dir = optarg; break;
		case 'w': workers = opt_number(optarg, 1, MAX_WORKERS, "--workers"); break;
		case 't': app.threads = opt_number(optarg, 1, 256, "--threads"); break;
		case 'm': mode = (int)strtol(optarg, NULL, 8); break;
		case 'p': pidfile = app.pids_file = optarg; break;
		case 'P': app.poll_timeout = opt_number(optarg, 1, 55, "--poll-timeout"); break;
		case 'g': app.chat_gap_ms = opt_number(optarg, 0, 5000, "--chat-gap"); break;
		case 'r': app.presence_timeout = opt_number(optarg, 2, 86400, "--presence-timeout"); break;
		case 'R': app.retention = opt_number(optarg, 1, 7 * 86400, "--retention"); break;
		case 'q': app.quiet = 1; break;
		case 'c': app.config_path = optarg; break;
		case 'J': app.janus_config = optarg; break;
		case 'M': app.mesh_max_arg = opt_number(optarg, 2, 16, "--mesh-max"); break;
		case 'b': doorbell = xstrdup(optarg); break;
		case 'S': app.ws_socket = optarg; break;
		case 'x': metrics = xstrdup(optarg); break;
		case 'L':
			if (log_set_format(optarg) == -1)
				usage();
			break;
		case 'H': hash_password(); break;
		case 'W': app.waiting_max = opt_number(optarg, 1, 1000000, "--waiting-per-client"); break;
		default: usage();
		}
	}
	if (socket_path == NULL || app.db_path == NULL || app.data_dir == NULL)
		usage();
	if (app.presence_timeout <= app.poll_timeout)
		fatal("--presence-timeout must be longer than --poll-timeout");
	app.doorbell = doorbell != NULL ? doorbell :
	    wake_default_path_new(app.db_path);

	/* Everything that can fail before serving fails here. */
	if ((cf = conf_read_new(&app, &cause)) == NULL)
		fatal("config: %s", cause);
	app.live = conf_live_new(cf);
	if (wake_check(app.doorbell, &cause) == -1)
		fatal("doorbell: %s", cause);
	/* Mapped before the fork: every worker counts into the same table. */
	if (metrics == NULL)
		metrics = sibling_path_new(app.db_path, "metrics");
	if ((app.metrics = metrics_open(metrics, &cause)) == NULL)
		fatal("metrics: %s", cause);
	free(metrics);
	metrics_workers(app.metrics, workers);
	if (asprintf(&path, "%s/sql", app.data_dir) == -1)
		fatal("asprintf");
	db_init();
	if (db_migrate(app.db_path, path, &cause) == -1)
		fatal("database: %s", cause);
	if (db_check_writable(app.db_path, &cause) == -1)
		fatal("database not writable: %s", cause);
	free(path);
	if (asprintf(&path, "%s/templates/app.html", app.data_dir) == -1)
		fatal("asprintf");
	if ((app.tmpl_app = file_read_new(path, 1 << 20, &cause)) == NULL)
		fatal("template: %s", cause);
	free(path);
	if (asprintf(&path, "%s/templates/admin.html", app.data_dir) == -1)
		fatal("asprintf");
	if ((app.tmpl_admin = file_read_new(path, 1 << 20, &cause)) == NULL)
		fatal("template: %s", cause);
	free(path);
	if (FCGX_Init() != 0)
		fatal("FCGX_Init");
	unlink(socket_path);
	/*
	 * Backlog: when thousands of clients (re)connect at once, nginx's
	 * connect() fails with EAGAIN (a 502) once the queue is full.  1024
	 * overflowed while 5,000 subscribers joined; a longer queue absorbs
	 * bursts, it does not cure a sustained overload (docs/BENCHMARKS.md).
	 * The kernel caps it at net.core.somaxconn.
	 */
	if ((sock = FCGX_OpenSocket(socket_path, 65535)) == -1)
		fatal("%s: cannot listen", socket_path);
	if (chmod(socket_path, mode) == -1 || stat(socket_path, &sock_st) == -1)
		fatal("%s: %s", socket_path, strerror(errno));
	signal(SIGPIPE, SIG_IGN);

	/* Block the signals we wait for, so none is lost between checks. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_child;
	sigaction(SIGCHLD, &sa, NULL);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGCHLD);
	sigaddset(&block, SIGALRM);
	sigprocmask(SIG_BLOCK, &block, &old);

	for (i = 0; i < workers; i++)
		pids[i] = spawn(&app, sock, i, &old);
	write_pids(pidfile, pids, workers);
	log_info("%d workers on %s", workers, socket_path);
	ckpt = checkpointer_start(&app);
	while (!got_term) {
		if (!got_child && !got_alarm && !got_hup)
			sigsuspend(&old);
		if (got_hup) {
			got_hup = 0;
			reload(&app, pids, workers);
		}
		if (got_child) {
			got_child = 0;
			reap(&app, sock, pids, workers, pidfile, &old);
		}
		if (got_alarm) {
			got_alarm = 0;
			if (ckpt != NULL && db_checkpoint(ckpt) == -1)
				log_failure(&ckpt_log, mono_ms(), "checkpoint",
				    db_error(ckpt));
			else if (ckpt != NULL)
				log_recovered(&ckpt_log, mono_ms(),
				    "checkpoint");
			if (ckpt != NULL && mono_ms() >= next_sample) {
				sample(&app, ckpt);
				next_sample = mono_ms() + METRICS_SAMPLE_MS;
			}
		}
	}
	db_close(ckpt);
	stop_all(pids, workers);
	unlink_own(socket_path, &sock_st);
	log_info("stopped");
	free(app.tmpl_app);
	free(app.tmpl_admin);
	metrics_close(app.metrics);
	conf_live_free(app.live);
	free((char *)app.doorbell);
	return 0;
}
