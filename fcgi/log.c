/*
 * log.c — the one logging shim.  Every line goes to stderr as
 * "noom-worker[pid]: level: function: message", which nginx-free deployments
 * (make run) show on the terminal and service managers collect.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "noom.h"

/* Set once at start-up (before threads) by main.c; read-only afterwards. */
static const char *log_ident = "noom-worker";

void
log_set_ident(const char *ident)
{
	log_ident = ident;
}

void
log_msg(const char *level, const char *func, const char *fmt, ...)
{
	char	 line[1024];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s[%ld]: %s: %s: %s\n", log_ident, (long)getpid(),
	    level, func, line);
}

/*
 * A failure that recurs in a loop (a timer's checkpoint, a flush every
 * second) would print the same line thousands of times an hour and bury
 * everything else: the first failure is logged, then at most one line every
 * LOG_EVERY_MS with the number of failures since the last line, and one
 * "ok again" line when the loop next succeeds.  now is a monotonic clock in
 * ms, passed in so that tests can drive time.  Each site keeps its own
 * struct log_every (zeroed to start), used by one thread.  Returns 1 if a
 * line was written, 0 if the failure was only counted.
 */
int
log_failure(struct log_every *le, int64_t now, const char *what,
    const char *why)
{
	if (why == NULL)
		why = "unknown error";
	le->failures++;
	if (le->failing && now - le->logged_ms < LOG_EVERY_MS)
		return 0;
	if (!le->failing)
		log_msg("warn", what, "%s", why);
	else
		log_msg("warn", what, "%s (%lu failures in the last %lld s)",
		    why, le->failures, (long long)(now - le->logged_ms) / 1000);
	le->failing = 1;
	le->logged_ms = now;
	le->failures = 0;
	return 1;
}

/* The loop of le succeeded: say so once if it was failing. */
int
log_recovered(struct log_every *le, int64_t now, const char *what)
{
	if (!le->failing)
		return 0;
	if (le->failures > 0)
		log_msg("info", what, "ok again (%lu more failures in the "
		    "last %lld s)", le->failures,
		    (long long)(now - le->logged_ms) / 1000);
	else
		log_msg("info", what, "ok again");
	le->failing = 0;
	le->failures = 0;
	le->logged_ms = now;
	return 1;
}

/* A start-up or programmer error: say why and exit. */
void
fatal(const char *fmt, ...)
{
	char	 line[1024];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s[%ld]: fatal: %s\n", log_ident, (long)getpid(),
	    line);
	exit(1);
}
