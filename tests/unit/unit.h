/*
 * unit.h — the smallest test harness that says what failed: CHECK prints
 * the expression, file and line of a failure and counts it; unit_done()
 * prints "N passed, N failed" and gives the exit status automake expects.
 */
#ifndef NOOM_UNIT_H
#define NOOM_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_pass, unit_fail;

#define CHECK(expr) do {						\
	if (expr)							\
		unit_pass++;						\
	else {								\
		unit_fail++;						\
		printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #expr);	\
	}								\
} while (0)

#define CHECK_STR(a, b) do {						\
	const char *a_ = (a), *b_ = (b);				\
	if (a_ != NULL && b_ != NULL && strcmp(a_, b_) == 0)		\
		unit_pass++;						\
	else {								\
		unit_fail++;						\
		printf("FAIL %s:%d: %s == \"%s\" (got \"%s\")\n",	\
		    __FILE__, __LINE__, #a, b_ ? b_ : "(null)",		\
		    a_ ? a_ : "(null)");				\
	}								\
} while (0)

static int
unit_done(const char *name)
{
	printf("%s: %d passed, %d failed\n", name, unit_pass, unit_fail);
	return unit_fail ? 1 : 0;
}

#endif
