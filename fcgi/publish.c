/*
 * publish.c — the writers' side of the mailbox: putting an event in the log.
 *
 * Handlers describe an event as a JSON object; this turns it into the text
 * the store keeps, and decides once, for every reader, whether the event
 * may wait a little for company (mailbox_holdable()).  The event is visible
 * to readers when the caller's transaction commits, and the commit rings
 * the doorbell (db_commit()).
 */
#include <stdlib.h>

#include "noom.h"

/*
 * Add an event for room (0: none) or target (0: not addressed) of type with
 * data (not stolen) to the log, inside the caller's write transaction.
 * Returns its sequence number, or -1.
 */
int64_t
publish(struct ctx *c, int64_t room, int64_t target, const char *type,
    const json_t *data, int64_t now)
{
	char	*text;
	int64_t	 seq;

	if ((text = json_dumps(data, JSON_COMPACT)) == NULL)
		return -1;
	seq = db_event_add(c->db, room, target, type, text,
	    mailbox_holdable(target, type, data), now);
	free(text);
	/* Counted when added: a transaction rolled back after is rare (a
	 * store error) and still counted. */
	if (seq != -1)
		metrics_event(c->app->metrics, type);
	return seq;
}
