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
