/*
 * limit.c — rate limits, per session and per client address.
 *
 * Every limit is a token bucket: `burst` calls at once, refilled at `rate`
 * per second.  A call over the limit is answered 429 "rate_limited" with a
 * Retry-After header (whole seconds until the bucket holds a call again)
 * and the scope it hit ("session" or "client"), and changes nothing.
 * Buckets live in the store (the session row; the clients table, one row
 * per address and kind), inside the caller's write transaction, so that a
 * limit holds across every worker process.
 *
 * The client is the address nginx passes (REMOTE_ADDR), or, when that
 * address is a proxy the operator named (trusted_proxy in --config), the
 * last address in X-Forwarded-For that is not one (client_addr).  Nothing
 * else a client sends is trusted to say who it is.
 *
 * The per-client defaults are sized for a real office behind one NAT
 * address (docs/DESIGN.md says why each): a few hundred people arriving
 * over a minute all get in, while hundreds of sessions from one address
 * within a few seconds meet 429s.  --config's limit_* keys change them.
 */
#include <arpa/inet.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "noom.h"


/*
 * The tokens in a bucket that held `tokens` at `then`, at `now`: refilled
 * at rule->rate per second, never above rule->burst.
 */
double
bucket_refill(const struct bucket_rule *rule, double tokens, int64_t then,
    int64_t now)
{
	if (now > then)
		tokens += (double)(now - then) * rule->rate / 1000;
	return tokens > rule->burst ? rule->burst : tokens;
}

/* Whole seconds until a bucket holding tokens has one again (at least 1). */
int
bucket_retry_s(const struct bucket_rule *rule, double tokens)
{
	double	 s = rule->rate > 0 ? (1 - tokens) / rule->rate : 3600;

	return s < 1 ? 1 : s > 3600 ? 3600 : (int)ceil(s);
}

static void
answer_429(struct resp *rs, const char *scope, int retry)
{
	resp_error(rs, 429, "rate_limited", "Too many requests; slow down.");
	json_object_set_new(rs->json, "scope", json_string(scope));
	json_object_set_new(rs->json, "retry_after", json_integer(retry));
	rs->retry_after = retry;
}

/*
 * Take n calls from the session's bucket b (writes, signaling,
 * reactions), inside the caller's transaction: all or none.  0 if allowed,
 * -1 after answering 429 (or 500).
 */
static int
session_take(struct ctx *c, const struct session *s, enum bucket b,
    int64_t now, int n, struct resp *rs)
{
	static const struct bucket_rule rules[] = {
		[BUCKET_WRITE] = { "session", NOOM_RL_BURST, NOOM_RL_RATE },
		[BUCKET_SIGNAL] = { "session", NOOM_SIG_BURST, NOOM_SIG_RATE },
		[BUCKET_REACTION] = { "session", NOOM_RE_BURST, NOOM_RE_RATE },
	};
	static const enum metric refused[] = {
		[BUCKET_WRITE] = M_LIMIT_SESSION_WRITES,
		[BUCKET_SIGNAL] = M_LIMIT_SESSION_SIGNALS,
		[BUCKET_REACTION] = M_LIMIT_SESSION_REACTIONS,
	};
	const struct bucket_rule *rule = &rules[b];
	double	 tokens;

	tokens = b == BUCKET_SIGNAL ?
	    bucket_refill(rule, s->sig_tokens, s->sig_ms, now) :
	    b == BUCKET_REACTION ?
	    bucket_refill(rule, s->re_tokens, s->re_ms, now) :
	    bucket_refill(rule, s->rl_tokens, s->rl_ms, now);
	if (tokens < n) {
		answer_429(rs, "session", bucket_retry_s(rule, tokens - n + 1));
		metrics_add(c->app->metrics, refused[b], 1);
		return -1;
	}
	if (db_session_rate(c->db, s->id, b, tokens - n, now) == -1) {
		resp_error(rs, 500, "internal", "The store failed.");
		return -1;
	}
	return 0;
}

/* Take one write call (chat, rooms, nickname, media) from the session. */
int
rate_take(struct ctx *c, const struct session *s, int64_t now,
    struct resp *rs)
{
	return session_take(c, s, BUCKET_WRITE, now, 1, rs);
}

/* Take n signaling messages (one request's) from the session's own allowance. */
int
rate_take_signal(struct ctx *c, const struct session *s, int64_t now, int n,
    struct resp *rs)
{
	return session_take(c, s, BUCKET_SIGNAL, now, n, rs);
}

/* Take one reaction from the session's own allowance. */
int
rate_take_reaction(struct ctx *c, const struct session *s, int64_t now,
    struct resp *rs)
{
	return session_take(c, s, BUCKET_REACTION, now, 1, rs);
}

/*
 * Take one call of kind from the bucket of the request's client address,
 * inside the caller's write transaction.  0 if allowed, -1 after answering
 * 429 (or 500).  A request with no address (a unit test) is not limited.
 */
int
client_take(struct ctx *c, const struct req *rq, enum limit kind,
    struct resp *rs)
{
	const struct bucket_rule *rule;
	double		 tokens;
	int64_t		 then = rq->now_ms;
	int		 found;

	if (rq->client == NULL || *rq->client == '\0')
		return 0;
	rule = &conf_now(c->app)->limits[kind];
	tokens = rule->burst;
	if ((found = db_client_bucket(c->db, rq->client, kind, &tokens,
	    &then)) == -1)
		goto fail;
	tokens = bucket_refill(rule, tokens, then, rq->now_ms);
	if (tokens < 1) {
		answer_429(rs, "client", bucket_retry_s(rule, tokens));
		metrics_add(c->app->metrics,
		    (enum metric)(M_LIMIT_CLIENT + kind), 1);
		return -1;
	}
	if (db_client_bucket_set(c->db, rq->client, kind, tokens - 1,
	    rq->now_ms) == -1)
		goto fail;
	return 0;
fail:
	resp_error(rs, 500, "internal", "The store failed.");
	return -1;
}

/* Is addr one of the trusted proxies (exact, or inside a prefix)? */
static int
trusted(const struct conf *cf, const char *addr)
{
	unsigned char	 a[16], p[16];
	char		 net[INET6_ADDRSTRLEN + 4], *slash;
	int		 i, af, bits, len, full;

	af = strchr(addr, ':') != NULL ? AF_INET6 : AF_INET;
	if (inet_pton(af, addr, a) != 1)
		return 0;
	len = af == AF_INET6 ? 16 : 4;
	for (i = 0; i < NOOM_PROXIES_MAX && cf->proxies[i] != NULL; i++) {
		if (strlen(cf->proxies[i]) >= sizeof(net))
			continue;
		strcpy(net, cf->proxies[i]);
		bits = len * 8;
		if ((slash = strchr(net, '/')) != NULL) {
			*slash = '\0';
			bits = atoi(slash + 1);
		}
		if ((strchr(net, ':') != NULL) != (af == AF_INET6) ||
		    inet_pton(af, net, p) != 1 || bits < 0 || bits > len * 8)
			continue;
		full = bits / 8;
		if (memcmp(a, p, (size_t)full) != 0)
			continue;
		if (bits % 8 == 0 ||
		    ((a[full] ^ p[full]) & (0xff << (8 - bits % 8))) == 0)
			return 1;
	}
	return 0;
}

/*
 * The client's address into out (size n): remote (REMOTE_ADDR), unless it
 * is a trusted proxy; then the X-Forwarded-For hops from the right, the
 * first that is not a trusted proxy (a client can put anything on the left
 * of that header, never on the right of what our proxies add).
 */
void
client_addr(const struct conf *cf, const char *remote, const char *xff,
    char *out, size_t n)
{
	char	 hops[1024], *hop;
	size_t	 len;

	snprintf(out, n, "%s", remote != NULL ? remote : "");
	if (xff == NULL || !trusted(cf, out) ||
	    strlen(xff) >= sizeof(hops))
		return;
	strcpy(hops, xff);
	while ((len = strlen(hops)) > 0) {
		hop = strrchr(hops, ',');
		hop = hop != NULL ? hop + 1 : hops;
		while (*hop == ' ')
			hop++;
		if (*hop != '\0' && !trusted(cf, hop)) {
			snprintf(out, n, "%s", hop);
			return;
		}
		if (hop == hops || (hop = strrchr(hops, ',')) == NULL)
			return;		/* all trusted: the last proxy's */
		*hop = '\0';
	}
}
