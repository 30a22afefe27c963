/*
 * conf.c — the optional configuration file (--config), for what does not
 * fit on a command line or must not appear in `ps`: the TURN secret.
 *
 * Format: one "key = value" a line; blank lines and lines starting with '#'
 * are ignored.  Keys:
 *
 *   stun = stun:host:port          (repeatable)
 *   turn = turn:host:port?transport=udp|tcp, turns:host:port (repeatable)
 *   turn_secret = <coturn static-auth-secret>
 *   turn_ttl = <seconds a credential is valid, 10..86400; default 600>
 *   mesh_max = <members in a call, 2..16>
 *   ice_transport_policy = all | relay    (default all)
 *   trusted_proxy = ADDRESS[/BITS]        (repeatable; limit.c)
 *   limit_sessions = BURST/RATE, limit_rooms, limit_joins, limit_chat,
 *                    limit_passwords      (per client address; limit.c)
 *   log_level = debug | info | warn       (default info: a line a request)
 *   admin_password = pbkdf2-sha256$...    (noom-worker --hash-password; the
 *                                          admin page is off without it)
 *   janus = http://127.0.0.1:PORT/janus   (Janus's HTTP API; sfu.c)
 *   janus_secret = <Janus token_auth_secret>
 *   sfu = auto | always | off             (auto: past mesh_max; default)
 *   sfu_token_ttl = <seconds a Janus session token lasts, 600..86400;
 *                   default 43200>
 *   turn_rest_key = <Janus's turn_rest_api_key: 16 to 128 letters, digits,
 *                   - or _; PREFIX/api/turn-rest answers 404 without it>
 *
 * noom-run, when it starts Janus, writes janus and janus_secret (and, with
 * TURN configured, turn_rest_key) into a file of its own that the workers
 * read after this one (--janus-config).
 *
 * SIGHUP reads the file again (main.c, worker.c): every key takes effect
 * for the requests that start afterwards.  noom-ws reads the same file for
 * log_level alone (conf_log_level), at start and on SIGHUP.
 *
 * ice_transport_policy = relay makes browsers send media through the TURN
 * servers only (RTCConfiguration.iceTransportPolicy): members' IP addresses
 * are never shown to each other, and a deployment can check that its TURN
 * servers really work.  It needs turn URLs, or no call can connect.
 *
 * An unknown key, a bad number or a URL of the wrong scheme is a start-up
 * error: a typo in a TURN setting should stop the server, not silently leave
 * users of locked-down networks without media.
 */
#include <arpa/inet.h>

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "noom.h"

/* The built-in per-client limits: burst, then per second. */
const struct bucket_rule limit_defaults[LIMIT__COUNT] = {
	[LIMIT_SESSION] = { "limit_sessions", 200, 5 },
	[LIMIT_ROOM] = { "limit_rooms", 20, 0.2 },
	[LIMIT_JOIN] = { "limit_joins", 300, 10 },
	[LIMIT_CHAT] = { "limit_chat", 100, 20 },
	[LIMIT_PASSWORD] = { "limit_passwords", 10, 0.1 },
	[LIMIT_ADMIN] = { "limit_admin_logins", 5, 0.05 },
};

/* Append a copy of url to the NULL-terminated list; -1 if it is full. */
static int
url_add(char **list, const char *url)
{
	int	 i;

	for (i = 0; i < NOOM_ICE_URLS_MAX && list[i] != NULL; i++)
		;
	if (i == NOOM_ICE_URLS_MAX)
		return -1;
	list[i] = xstrdup(url);
	return 0;
}

static char *
strip(char *s)
{
	char	*end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

/* Add a trusted proxy, ADDRESS or ADDRESS/BITS; NULL or why not. */
static const char *
proxy_add(struct conf *cf, const char *value)
{
	unsigned char	 a[16];
	char		 net[64], *slash, *end;
	long		 bits = -1;
	int		 i, v6;

	if (strlen(value) >= sizeof(net))
		return "not an address";
	strcpy(net, value);
	if ((slash = strchr(net, '/')) != NULL) {
		*slash = '\0';
		bits = strtol(slash + 1, &end, 10);
		if (slash[1] == '\0' || *end != '\0')
			return "bad prefix length";
	}
	v6 = strchr(net, ':') != NULL;
	if (inet_pton(v6 ? AF_INET6 : AF_INET, net, a) != 1)
		return "not an IPv4 or IPv6 address";
	if (bits > (v6 ? 128 : 32))
		return "prefix length too long";
	for (i = 0; i < NOOM_PROXIES_MAX && cf->proxies[i] != NULL; i++)
		;
	if (i == NOOM_PROXIES_MAX)
		return "too many trusted proxies";
	cf->proxies[i] = xstrdup(value);
	return NULL;
}

/* Set limit_<kind> = BURST/RATE; NULL or why not. */
static const char *
limit_set(struct conf *cf, const char *key, const char *value)
{
	char	*end;
	double	 burst, rate;
	int	 k;

	for (k = 0; k < LIMIT__COUNT; k++)
		if (strcmp(key, limit_defaults[k].name) == 0)
			break;
	if (k == LIMIT__COUNT)
		return "unknown key";
	burst = strtod(value, &end);
	if (end == value || *end != '/')
		return "a limit is BURST/RATE (calls at once / per second)";
	rate = strtod(end + 1, &end);
	if (*end != '\0' || !(burst >= 1 && burst <= 1e6) ||
	    !(rate > 0 && rate <= 1e6))
		return "a limit's burst is 1 to 1000000, its rate above 0";
	cf->limits[k].name = limit_defaults[k].name;
	cf->limits[k].burst = burst;
	cf->limits[k].rate = rate;
	return NULL;
}

/* The keys of calls past the mesh (sfu.c); NULL or why value is wrong. */
static const char *
sfu_set(struct conf *cf, const char *key, const char *value)
{
	unsigned int	 port;
	char		 rest[2];
	size_t		 n;

	if (strcmp(key, "janus") == 0) {
		/* Plain HTTP to a loopback address: Janus is never far. */
		if (sscanf(value, "http://127.0.0.1:%u/%1s", &port, rest) != 2 ||
		    port == 0 || port > 65535 || strlen(value) > 200)
			return "janus is http://127.0.0.1:PORT/PATH (Janus's "
			    "HTTP API on loopback)";
		free(cf->janus_url);
		cf->janus_url = xstrdup(value);
		return NULL;
	}
	if (strcmp(key, "janus_secret") == 0) {
		if (strlen(value) < 16)
			return "janus_secret must be at least 16 characters";
		free(cf->janus_secret);
		cf->janus_secret = xstrdup(value);
		return NULL;
	}
	if (strcmp(key, "turn_rest_key") == 0) {
		/* It goes into janus.jcfg between quotes, and into a URL. */
		n = strspn(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789-_");
		if (value[n] != '\0' || n < 16 || n > 128)
			return "turn_rest_key is 16 to 128 letters, digits, "
			    "- or _";
		free(cf->turn_rest_key);
		cf->turn_rest_key = xstrdup(value);
		return NULL;
	}
	if (strcmp(value, "auto") == 0)
		cf->sfu_mode = SFU_AUTO;
	else if (strcmp(value, "always") == 0)
		cf->sfu_mode = SFU_ALWAYS;
	else if (strcmp(value, "off") == 0)
		cf->sfu_mode = SFU_OFF;
	else
		return "sfu is auto, always or off";
	return NULL;
}

/* Apply one key = value; NULL on success or the reason it is wrong. */
static const char *
conf_set(struct conf *cf, const char *key, const char *value)
{
	char	*end;
	long	 n;

	if (strcmp(key, "stun") == 0) {
		if (strncmp(value, "stun:", 5) != 0 &&
		    strncmp(value, "stuns:", 6) != 0)
			return "a stun URL starts with stun: or stuns:";
		return url_add(cf->stun, value) == 0 ? NULL : "too many URLs";
	}
	if (strcmp(key, "turn") == 0) {
		if (strncmp(value, "turn:", 5) != 0 &&
		    strncmp(value, "turns:", 6) != 0)
			return "a turn URL starts with turn: or turns:";
		return url_add(cf->turn, value) == 0 ? NULL : "too many URLs";
	}
	if (strcmp(key, "turn_secret") == 0) {
		if (*value == '\0')
			return "the secret is empty";
		free(cf->turn_secret);
		cf->turn_secret = xstrdup(value);
		return NULL;
	}
	if (strcmp(key, "trusted_proxy") == 0)
		return proxy_add(cf, value);
	if (strncmp(key, "limit_", 6) == 0)
		return limit_set(cf, key, value);
	if (strcmp(key, "admin_password") == 0) {
		if (strncmp(value, "pbkdf2-sha256$", 14) != 0)
			return "admin_password is a hash: make one with "
			    "noom-worker --hash-password";
		free(cf->admin_password);
		cf->admin_password = xstrdup(value);
		return NULL;
	}
	if (strcmp(key, "log_level") == 0) {
		if ((cf->log_level = log_level_parse(value)) == -1)
			return "log_level is debug, info or warn";
		return NULL;
	}
	if (strcmp(key, "janus") == 0 || strcmp(key, "janus_secret") == 0 ||
	    strcmp(key, "turn_rest_key") == 0 || strcmp(key, "sfu") == 0)
		return sfu_set(cf, key, value);
	if (strcmp(key, "ice_transport_policy") == 0) {
		if (strcmp(value, "all") == 0)
			cf->ice_relay = 0;
		else if (strcmp(value, "relay") == 0)
			cf->ice_relay = 1;
		else
			return "ice_transport_policy is all or relay";
		return NULL;
	}
	n = strtol(value, &end, 10);
	if (*value == '\0' || *end != '\0')
		return "not a number";
	if (strcmp(key, "turn_ttl") == 0) {
		if (n < 10 || n > 86400)
			return "turn_ttl must be 10 to 86400 seconds";
		cf->turn_ttl = (int)n;
		return NULL;
	}
	if (strcmp(key, "sfu_token_ttl") == 0) {
		if (n < 600 || n > 86400)
			return "sfu_token_ttl must be 600 to 86400 seconds";
		cf->sfu_token_ttl = (int)n;
		return NULL;
	}
	if (strcmp(key, "mesh_max") == 0) {
		if (n < 2 || n > 16)
			return "mesh_max must be 2 to 16";
		cf->mesh_max = (int)n;
		return NULL;
	}
	return "unknown key";
}

/* Read path into cf; 0, or -1 with *cause (caller frees). */
int
conf_load(struct conf *cf, const char *path, char **cause)
{
	char		*text, *line, *next, *eq;
	const char	*why;
	int		 lineno = 0, rv = -1;

	if ((text = file_read_new(path, 64 * 1024, cause)) == NULL)
		return -1;
	for (line = text; line != NULL; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		lineno++;
		line = strip(line);
		if (*line == '\0' || *line == '#')
			continue;
		if ((eq = strchr(line, '=')) == NULL) {
			why = "expected key = value";
			goto bad;
		}
		*eq = '\0';
		if ((why = conf_set(cf, strip(line), strip(eq + 1))) != NULL)
			goto bad;
	}
	if (cf->turn[0] != NULL && cf->turn_secret == NULL) {
		if (asprintf(cause, "%s: turn URLs need a turn_secret", path) == -1)
			*cause = NULL;
		goto out;
	}
	/* Relay only without a relay: every call would fail, long after start-up. */
	if (cf->ice_relay && cf->turn[0] == NULL) {
		if (asprintf(cause, "%s: ice_transport_policy = relay needs turn "
		    "URLs", path) == -1)
			*cause = NULL;
		goto out;
	}
	rv = 0;
	goto out;
bad:
	if (asprintf(cause, "%s:%d: %s", path, lineno, why) == -1)
		*cause = NULL;
out:
	free(text);
	return rv;
}

/* A configuration with the built-in defaults, to free with conf_free(). */
struct conf *
conf_new(void)
{
	struct conf	*cf = xcalloc(1, sizeof(*cf));

	cf->mesh_max = 6;
	cf->turn_ttl = 600;
	cf->sfu_token_ttl = 43200;
	cf->log_level = LOG_INFO;
	memcpy(cf->limits, limit_defaults, sizeof(cf->limits));
	return cf;
}

void
conf_free(struct conf *cf)
{
	int	 i;

	if (cf == NULL)
		return;
	for (i = 0; cf->stun[i] != NULL; i++)
		free(cf->stun[i]);
	for (i = 0; cf->turn[i] != NULL; i++)
		free(cf->turn[i]);
	for (i = 0; cf->proxies[i] != NULL; i++)
		free(cf->proxies[i]);
	free(cf->turn_secret);
	free(cf->janus_url);
	free(cf->janus_secret);
	free(cf->turn_rest_key);
	free(cf->admin_password);
	free(cf);
}

/*
 * The configuration app runs with, read afresh: the defaults, the file
 * (app->config_path, if any), then what the command line says beats it.
 * NULL with *cause (caller frees) if the file is wrong.
 */
struct conf *
conf_read_new(const struct app *app, char **cause)
{
	struct conf	*cf = conf_new();

	if ((app->config_path != NULL &&
	    conf_load(cf, app->config_path, cause) == -1) ||
	    (app->janus_config != NULL &&
	    conf_load(cf, app->janus_config, cause) == -1)) {
		conf_free(cf);
		return NULL;
	}
	if (app->mesh_max_arg != 0)
		cf->mesh_max = app->mesh_max_arg;
	return cf;
}

/*
 * noom-ws's part of the file at path (its --config, the workers' file):
 * log_level, put in force now.  The gateway hands out no TURN credentials,
 * applies none of the limits and serves no admin page, so it uses nothing
 * else; it reads the whole file all the same, so that a file the workers
 * would refuse is refused here too.  0, or -1 with *cause (nothing changed).
 */
int
conf_log_level(const char *path, char **cause)
{
	struct conf	*cf = conf_new();
	int		 rv;

	if ((rv = conf_load(cf, path, cause)) == 0)
		log_set_level(cf->log_level);
	conf_free(cf);
	return rv;
}

/*
 * A process's live configuration.  A reload publishes a new struct conf
 * with one atomic store; threads load the pointer once per request
 * (conf_now).  The one it replaced may still be read by a request that
 * started before, so it is kept, and freed at a later reload once it has
 * been retired for CONF_GRACE_MS, far longer than any request reads it
 * (a waiting poll reads no configuration).  Reloads are an operator's
 * act, so what waits to be freed stays a handful of small structs.
 */
#define CONF_GRACE_MS	60000

struct retired {
	struct retired	*next;
	struct conf	*conf;
	int64_t		 since;		/* monotonic ms */
};

struct conf_live {
	_Atomic(struct conf *) now;
	pthread_mutex_t	 lock;		/* guards retired (reloads only) */
	struct retired	*retired;	/* newest first */
};

struct conf_live *
conf_live_new(struct conf *first)
{
	struct conf_live *live = xcalloc(1, sizeof(*live));

	atomic_init(&live->now, first);
	pthread_mutex_init(&live->lock, NULL);
	log_set_level(first->log_level);
	return live;
}

/* The configuration in force: valid for the rest of the caller's request. */
const struct conf *
conf_now(const struct app *app)
{
	return atomic_load_explicit(&app->live->now, memory_order_acquire);
}

/* Put cf (owned from now on) in force at monotonic time now. */
void
conf_publish(const struct app *app, struct conf *cf, int64_t now)
{
	struct conf_live *live = app->live;
	struct retired	*r = xcalloc(1, sizeof(*r)), **pp, *old;

	pthread_mutex_lock(&live->lock);
	r->conf = atomic_exchange_explicit(&live->now, cf,
	    memory_order_acq_rel);
	log_set_level(cf->log_level);
	r->since = now;
	r->next = live->retired;
	live->retired = r;
	for (pp = &r->next; (old = *pp) != NULL; ) {
		if (now - old->since < CONF_GRACE_MS) {
			pp = &old->next;
			continue;
		}
		*pp = old->next;
		conf_free(old->conf);
		free(old);
	}
	pthread_mutex_unlock(&live->lock);
}

/*
 * Read the configuration again and put it in force in this process (a
 * SIGHUP): 0, or -1 after logging why, the running configuration staying.
 */
int
conf_reload(const struct app *app, int64_t now)
{
	struct conf	*cf;
	char		*cause = NULL;

	if ((cf = conf_read_new(app, &cause)) == NULL) {
		log_warn("reload: %s; the running configuration stays",
		    cause != NULL ? cause : "cannot read it");
		free(cause);
		return -1;
	}
	conf_publish(app, cf, now);
	return 0;
}

/* Free a live configuration and all it retired (nothing reads it now). */
void
conf_live_free(struct conf_live *live)
{
	struct retired	*r;

	if (live == NULL)
		return;
	while ((r = live->retired) != NULL) {
		live->retired = r->next;
		conf_free(r->conf);
		free(r);
	}
	conf_free(atomic_load(&live->now));
	pthread_mutex_destroy(&live->lock);
	free(live);
}
