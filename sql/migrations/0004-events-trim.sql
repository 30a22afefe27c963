-- 0004-events-trim: one index fewer to write with every event.
--
-- events_created served one query, the trimming in maintenance (every 2 s),
-- yet every chat message, notice and signal wrote an entry into it: one of
-- the ~7 WAL pages a chat post wrote (7.43 pages per post with it, 6.38
-- without; docs/BENCHMARKS.md).  Trimming now walks the log in seq order
-- from its oldest event and stops at the first one that is still fresh
-- (fcgi/db.c, S_EVENTS_TRIM_MAX): the rows it passes are the ones it deletes,
-- so it costs no more than the delete itself.

DROP INDEX events_created;

PRAGMA user_version = 4;
