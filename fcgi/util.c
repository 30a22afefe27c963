/*
 * util.c — small helpers with no knowledge of Noom: a growable buffer,
 * reading a whole file, the clock, and allocation that treats running out of
 * memory as fatal (a worker cannot answer sensibly without memory).
 */
#include <sys/random.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "noom.h"

void *
xmalloc(size_t n)
{
	void	*p = malloc(n ? n : 1);

	if (p == NULL)
		fatal("out of memory");
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void	*p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		fatal("out of memory");
	return p;
}

char *
xstrdup(const char *s)
{
	char	*p = strdup(s);

	if (p == NULL)
		fatal("out of memory");
	return p;
}

void
buf_init(struct buf *b)
{
	b->cap = 256;
	b->len = 0;
	b->data = xmalloc(b->cap);
	b->data[0] = '\0';
}

/* Empty the buffer, keeping its memory for the next use. */
void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

/* Free what the buffer owns; buf_add() may fill it again afterwards. */
void
buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void
buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		if (b->cap == 0)	/* freed: start again */
			b->cap = 256;
		while (b->len + n + 1 > b->cap)
			b->cap *= 2;
		if ((b->data = realloc(b->data, b->cap)) == NULL)
			fatal("out of memory");
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
	char	 small[256], *big = NULL;
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(small)) {
		buf_add(b, small, n);
		return;
	}
	va_start(ap, fmt);
	n = vasprintf(&big, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatal("out of memory");
	buf_add(b, big, n);
	free(big);
}

/* Hand the contents to the caller (who frees them); the buffer is empty. */
char *
buf_steal(struct buf *b)
{
	char	*s = b->data;

	b->data = NULL;
	b->len = b->cap = 0;
	return s;
}

/*
 * Read a whole file of at most max bytes into a new NUL-terminated string;
 * NULL with *cause (caller frees) on failure.
 */
char *
file_read_new(const char *path, size_t max, char **cause)
{
	struct stat	 sb;
	char		*s = NULL;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		goto fail;
	if (fstat(fd, &sb) == -1)
		goto fail;
	if ((size_t)sb.st_size > max) {
		errno = EFBIG;
		goto fail;
	}
	s = xmalloc(sb.st_size + 1);
	if ((n = read(fd, s, sb.st_size)) != sb.st_size)
		goto fail;
	s[n] = '\0';
	close(fd);
	return s;
fail:
	if (asprintf(cause, "%s: %s", path, strerror(errno)) == -1)
		*cause = NULL;
	if (fd != -1)
		close(fd);
	free(s);
	return NULL;
}

/* Wall-clock milliseconds since the epoch (what events carry as "ts"). */
int64_t
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Monotonic milliseconds, for timeouts and rates (never jump). */
int64_t
mono_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Monotonic microseconds, for the metrics' durations. */
int64_t
mono_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * The path of a file called name in the folder of path (the state folder
 * of a database, say), new.
 */
char *
sibling_path_new(const char *path, const char *name)
{
	const char	*slash = strrchr(path, '/');
	char		*out;

	if (slash == NULL)
		return xstrdup(name);
	if (asprintf(&out, "%.*s/%s", (int)(slash - path), path, name) == -1)
		fatal("asprintf");
	return out;
}

/*
 * The integer value of command-line option `what`, which must lie in
 * [min, max]; anything else is a start-up error and exits.
 */
int
opt_number(const char *s, int min, int max, const char *what)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < min || v > max)
		fatal("%s must be a number from %d to %d", what, min, max);
	return (int)v;
}

/* A string's hash (djb2), for the small hash tables of the waker and scans. */
size_t
str_hash(const char *s)
{
	size_t	 h = 5381;

	while (*s != '\0')
		h = h * 33 + (unsigned char)*s++;
	return h;
}

/* n random bytes from the kernel into buf; 0, or -1 if it gives none. */
int
random_bytes(void *buf, size_t n)
{
	unsigned char	*p = buf;
	size_t		 got = 0;
	ssize_t		 r;

	while (got < n) {
		if ((r = getrandom(p + got, n - got, 0)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)r;
	}
	return 0;
}

/* n bytes as 2n lowercase hex digits and a NUL into out. */
void
hex_encode(char *out, const unsigned char *in, size_t n)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * n] = '\0';
}

/* The value of hex digit ch (either case), or -1. */
int
hex_value(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}
