-- 0005-events-hold: whether an event may wait is decided once, when it is written.
--
-- A notice that may wait a little for company in a poll answer (the public
-- room list's room_change, and the welcome and bye of a room above
-- NOOM_BIG_ROOM members; fcgi/fanout.c, event_holdable) was recognised each
-- time it was read: every scan and every poll answer parsed a welcome's or
-- bye's JSON again to find the room's member count.  Filling a room of
-- thousands over long-poll sends every member every join notice, so that
-- parsing grew with members^2 (docs/BENCHMARKS.md).  Now the writer stores
-- the answer with the event.  Events written before this migration say 0
-- (answered at once), which is only ever a little less batching.

ALTER TABLE events ADD COLUMN hold INTEGER NOT NULL DEFAULT 0;

PRAGMA user_version = 5;
