-- 0011-tools: what members use in a meeting besides chat and the call.
--
-- sessions.hand_ms: when the member raised its hand in its room (0: down);
-- the room's raised hands are a queue in that order.  Entering or leaving
-- a room lowers it.
--
-- sessions.re_tokens, re_ms: the member's reaction allowance (a token
-- bucket like rl_ and sig_), so that reactions cannot flood a room.
--
-- messages.to_id: a private message's recipient (0: the whole room).  A
-- private message is stored like any other (a retry with its client_id is
-- answered with the first copy) but is never part of the history that
-- newcomers get.

ALTER TABLE sessions ADD COLUMN hand_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN re_tokens REAL NOT NULL DEFAULT 5;
ALTER TABLE sessions ADD COLUMN re_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN to_id INTEGER NOT NULL DEFAULT 0;

PRAGMA user_version = 11;
