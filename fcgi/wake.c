/*
 * wake.c — the cross-process doorbell.
 *
 * A commit that adds events must wake polls parked in every worker process,
 * within milliseconds.  The doorbell is a one-byte file next to the database:
 * ringing is one pwrite(2) to it, and each process watches it with inotify
 * (IN_MODIFY).  Why inotify: the kernel fans one write out to every watcher,
 * the ringer needs to know nobody (no list of peer sockets to keep current
 * across worker restarts), consecutive rings coalesce into one queued event
 * when nobody has read yet, and a watcher's fd works in poll(2) beside the
 * other fds of the waker loop.  A ring carries no data: the waker re-reads
 * the event log from its own watermark, so a lost or merged ring can delay
 * nothing that the next ring or scan does not deliver.
 *
 * The two fds are opened once per process before threads start and are only
 * read afterwards, so they need no lock.
 */
#include <sys/inotify.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "noom.h"

static int bell_fd = -1;	/* the doorbell file, for pwrite */
static int watch_fd = -1;	/* inotify instance watching it */

/* Open (creating) state_dir/doorbell and watch it; 0 or -1 with *cause. */
int
wake_init(const char *state_dir, char **cause)
{
	char	*path = NULL;
	int	 rv = -1;

	if (asprintf(&path, "%s/doorbell", state_dir) == -1)
		fatal("asprintf");
	if ((bell_fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) == -1)
		goto fail;
	if ((watch_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1)
		goto fail;
	if (inotify_add_watch(watch_fd, path, IN_MODIFY) == -1)
		goto fail;
	rv = 0;
	goto out;
fail:
	if (asprintf(cause, "%s: %s", path, strerror(errno)) == -1)
		*cause = NULL;
out:
	free(path);
	return rv;
}

/* Wake every process watching the doorbell (this one included). */
void
wake_ring(void)
{
	if (pwrite(bell_fd, "x", 1, 0) != 1)
		log_warn("doorbell: %s", strerror(errno));
}

int
wake_watch_fd(void)
{
	return watch_fd;
}

/* Read away the queued notifications; the caller then scans the log. */
void
wake_drain(void)
{
	char	 b[4096];

	while (read(watch_fd, b, sizeof(b)) > 0)
		;
}
