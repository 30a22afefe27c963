/*
 * ws_main.c — noom-ws: options, the listening socket and signals of the
 * WebSocket gateway (the event loop is gateway.c, the protocol ws.c).
 *
 * noom-ws runs beside the noom-worker processes on the same database and
 * state folder: it opens the store the workers migrated (it never migrates
 * itself, so noom-run starts it once the workers answer) and watches the
 * same doorbell.  Everything that may fail is checked here, before serving,
 * and is fatal; afterwards a client can only lose its own connection.
 *
 * The socket is bound under a temporary name and renamed into place once it
 * listens, so whoever waits for the path to appear (noom-run) never connects
 * to a socket that refuses.  On SIGTERM or SIGINT the gateway closes every
 * connection with 1001, the socket is removed (only if it is still ours) and
 * the program exits 0.  SIGHUP (a reload of everything Noom) reads --config
 * (the workers' file) again for log_level, the one key the gateway uses;
 * its connections stay.
 */
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "noom.h"

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: noom-ws --socket PATH --db PATH "
	    "[--socket-mode OCTAL]\n"
	    "       [--poll-timeout S] [--presence-timeout S] "
	    "[--ping-interval S]\n"
	    "       [--idle-timeout S]"
	    " [--max-conns N] [--chat-gap MS] [--doorbell PATH]\n"
	    "       [--stream-lifetime S] [--stream-bytes N] "
	    "[--stream-keepalive S]\n"
	    "       [--streams-per-client N]\n"
	    "       [--metrics PATH] [--quiet] [--log-format text|json]"
	    " [--config FILE]\n");
	exit(2);
}

/* Seconds, fractions allowed (the tests use short heartbeats), as ms. */
static int
seconds_ms(const char *s, const char *what)
{
	char	*end;
	double	 v;

	errno = 0;
	v = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || errno != 0 || !(v >= 0.05) ||
	    v > 3600)
		fatal("%s must be a number of seconds from 0.05 to 3600", what);
	return (int)(v * 1000 + 0.5);
}

/* Listen on path (bound as path.tmp, renamed when ready); fatal on error. */
static int
listen_unix(const char *path, int mode, struct stat *st)
{
	struct sockaddr_un	 sun;
	char			 tmp[sizeof(sun.sun_path)];
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		fatal("%s: path too long for a UNIX socket", path);
	memcpy(sun.sun_path, tmp, strlen(tmp) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		fatal("socket: %s", strerror(errno));
	unlink(tmp);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		fatal("%s: %s", tmp, strerror(errno));
	if (chmod(tmp, mode) == -1 || listen(fd, 1024) == -1 ||
	    rename(tmp, path) == -1 || stat(path, st) == -1)
		fatal("%s: %s", path, strerror(errno));
	return fd;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "db", required_argument, NULL, 'd' },
		{ "socket-mode", required_argument, NULL, 'm' },
		{ "poll-timeout", required_argument, NULL, 'P' },
		{ "presence-timeout", required_argument, NULL, 'r' },
		{ "ping-interval", required_argument, NULL, 'p' },
		{ "idle-timeout", required_argument, NULL, 'i' },
		{ "max-conns", required_argument, NULL, 'n' },
		{ "chat-gap", required_argument, NULL, 'g' },
		{ "doorbell", required_argument, NULL, 'b' },
		{ "metrics", required_argument, NULL, 'x' },
		{ "stream-lifetime", required_argument, NULL, 'T' },
		{ "stream-bytes", required_argument, NULL, 'B' },
		{ "stream-keepalive", required_argument, NULL, 'K' },
		{ "streams-per-client", required_argument, NULL, 'C' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "log-format", required_argument, NULL, 'L' },
		{ "config", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 }
	};
	struct gw_conf	 conf;
	struct stat	 st, now;
	sigset_t	 sigs;
	const char	*socket_path = NULL;
	char		*cause = NULL, *doorbell = NULL, *metrics = NULL;
	int		 ch, mode = 0600, rv;

	/* The files it makes (the doorbell, the WAL) are 0600, as noom-worker's. */
	umask(077);
	memset(&conf, 0, sizeof(conf));
	conf.poll_ms = 25000;
	conf.presence_timeout = 60;
	conf.ping_ms = 20000;
	conf.idle_ms = 50000;
	conf.max_conns = 100000;
	conf.chat_gap_ms = NOOM_CHAT_GAP_MS;
	conf.stream_ms = NOOM_STREAM_MS;
	conf.stream_bytes = NOOM_STREAM_BYTES;
	conf.keepalive_ms = NOOM_KEEPALIVE_MS;
	conf.streams_max = NOOM_STREAMS_PER_CLIENT;
	log_set_ident("noom-ws");
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 's': socket_path = optarg; break;
		case 'd': conf.db_path = optarg; break;
		case 'm': mode = (int)strtol(optarg, NULL, 8); break;
		case 'P': conf.poll_ms = seconds_ms(optarg, "--poll-timeout");
		    break;
		case 'r': conf.presence_timeout = opt_number(optarg, 2, 86400,
		    "--presence-timeout"); break;
		case 'p': conf.ping_ms = seconds_ms(optarg, "--ping-interval");
		    break;
		case 'i': conf.idle_ms = seconds_ms(optarg, "--idle-timeout");
		    break;
		case 'n': conf.max_conns = opt_number(optarg, 1, 10000000,
		    "--max-conns"); break;
		case 'g': conf.chat_gap_ms = opt_number(optarg, 0, 5000,
		    "--chat-gap"); break;
		case 'T': conf.stream_ms = seconds_ms(optarg,
		    "--stream-lifetime"); break;
		case 'B': conf.stream_bytes = (size_t)opt_number(optarg, 1024,
		    1 << 30, "--stream-bytes"); break;
		case 'K': conf.keepalive_ms = seconds_ms(optarg,
		    "--stream-keepalive"); break;
		case 'C': conf.streams_max = opt_number(optarg, 1, 10000000,
		    "--streams-per-client"); break;
		case 'b': doorbell = xstrdup(optarg); break;
		case 'x': metrics = xstrdup(optarg); break;
		case 'q': conf.quiet = 1; break;
		case 'c': conf.config_path = optarg; break;
		case 'L':
			if (log_set_format(optarg) == -1)
				usage();
			break;
		default: usage();
		}
	}
	if (socket_path == NULL || conf.db_path == NULL || optind != argc)
		usage();
	if (conf.idle_ms <= conf.ping_ms)
		fatal("--idle-timeout must be longer than --ping-interval");

	if (conf.config_path != NULL &&
	    conf_log_level(conf.config_path, &cause) == -1)
		fatal("config: %s", cause);
	/* The workers' doorbell: the same default, or the same option. */
	if (doorbell == NULL)
		doorbell = wake_default_path_new(conf.db_path);
	if (wake_init(doorbell, &cause) == -1)
		fatal("doorbell: %s", cause);
	free(doorbell);
	/* The workers' table: the same default, or the same option. */
	if (metrics == NULL)
		metrics = sibling_path_new(conf.db_path, "metrics");
	if ((conf.metrics = metrics_open(metrics, &cause)) == NULL)
		fatal("metrics: %s", cause);
	free(metrics);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);	/* reload: gateway.c */
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	if ((conf.signal_fd = signalfd(-1, &sigs, SFD_NONBLOCK |
	    SFD_CLOEXEC)) == -1)
		fatal("signalfd: %s", strerror(errno));
	conf.listen_fd = listen_unix(socket_path, mode, &st);
	log_info("listening on %s (ping %d ms, idle %d ms)", socket_path,
	    conf.ping_ms, conf.idle_ms);

	db_init();
	rv = gateway_run(&conf, &cause);
	if (rv == -1)
		log_warn("%s", cause != NULL ? cause : "start-up failed");
	free(cause);
	metrics_close(conf.metrics);
	close(conf.listen_fd);
	/* A new gateway may already listen on the same path. */
	if (stat(socket_path, &now) == 0 && now.st_ino == st.st_ino &&
	    now.st_dev == st.st_dev)
		unlink(socket_path);
	log_info("stopped");
	return rv == -1 ? 1 : 0;
}
