/*
 * wake.c — the cross-process doorbell.
 *
 * A commit that adds events (db_commit) must wake the readers waiting in
 * every worker process and in the gateway, within milliseconds.  The
 * doorbell is a one-byte file (--doorbell; by default next to the
 * database, in the state folder): ringing is one pwrite(2) to it, and each
 * process watches it with inotify (IN_MODIFY).  Why inotify: the kernel
 * fans one write out to every watcher, the ringer needs to know nobody (no
 * list of peer sockets to keep current across worker restarts),
 * consecutive rings coalesce into one queued event when nobody has read
 * yet, and a watcher's fd works in poll(2) beside the
 * other fds of a reader's loop.  A ring carries no data: readers re-read
 * the event log from their cursors, so a lost or merged ring can delay
 * nothing that the next ring or scan does not deliver.
 *
 * The two fds are process-wide state, on purpose: one doorbell per process,
 * rung from any thread's commit.  They are opened once before threads start
 * and only read afterwards, so they need no lock.
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

/*
 * The doorbell's default path for a store at db_path: "doorbell" in the
 * same folder (the state folder), new.  --doorbell names another.
 */
char *
wake_default_path_new(const char *db_path)
{
	return sibling_path_new(db_path, "doorbell");
}

/*
 * Whether the doorbell file at path can be made and written: 0, or -1 with
 * *cause.  For a parent that checks before its children open their own
 * (an inotify instance must not be shared: whoever drains it takes the
 * others' notifications).
 */
int
wake_check(const char *path, char **cause)
{
	int	 fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) == -1) {
		if (asprintf(cause, "%s: %s", path, strerror(errno)) == -1)
			*cause = NULL;
		return -1;
	}
	close(fd);
	return 0;
}

/* Open (creating) the doorbell file at path and watch it; 0 or -1 with *cause. */
int
wake_init(const char *path, char **cause)
{
	if ((bell_fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) == -1)
		goto fail;
	if ((watch_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1)
		goto fail;
	if (inotify_add_watch(watch_fd, path, IN_MODIFY) == -1)
		goto fail;
	return 0;
fail:
	if (asprintf(cause, "%s: %s", path, strerror(errno)) == -1)
		*cause = NULL;
	return -1;
}

/*
 * Wake every process watching the doorbell (this one included).  A process
 * that opened no doorbell (a unit test of the store) rings nobody.
 */
void
wake_ring(void)
{
	if (bell_fd != -1 && pwrite(bell_fd, "x", 1, 0) != 1)
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
