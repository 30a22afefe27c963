-- 0008-lobby: a lobby that a flood cannot hide, and what is kept per client.
--
-- rooms.active_ms is the room's last join or chat message: the room list
-- shows the busiest rooms first (members, then activity), so a flood of
-- one-member rooms cannot push a real meeting out of it (rooms_busy serves
-- that order without sorting every room).
--
-- sessions.joined_ms is when the session first joined a room (0: never).
-- A session that never joined one is forgotten after 10 minutes unseen
-- instead of a day: creating sessions and leaving them costs a flooder, not
-- the store.
--
-- clients holds the per-address rate-limit buckets (one row per address
-- and kind of call), kept across worker processes like the per-session
-- ones in sessions; maintenance drops rows idle for an hour.

ALTER TABLE rooms ADD COLUMN active_ms INTEGER NOT NULL DEFAULT 0;
UPDATE rooms SET active_ms = created_ms;
CREATE INDEX rooms_busy ON rooms (members DESC, active_ms DESC);

ALTER TABLE sessions ADD COLUMN joined_ms INTEGER NOT NULL DEFAULT 0;
UPDATE sessions SET joined_ms = seen_ms WHERE room_id IS NOT NULL;

-- sessions.nick_key is the nickname as people read it (fcgi/names.c: case
-- folded, NFC), set when the session enters a room or renames itself: no two
-- members of a room share one.  SQLite's lower() folds ASCII only; members
-- already in a room get the exact key when they next join or rename.
ALTER TABLE sessions ADD COLUMN nick_key TEXT NOT NULL DEFAULT '';
UPDATE sessions SET nick_key = lower(nickname) WHERE room_id IS NOT NULL;
CREATE INDEX sessions_room_nick ON sessions (room_id, nick_key);

CREATE TABLE clients (
	addr		TEXT NOT NULL,
	kind		INTEGER NOT NULL,	-- enum limit in fcgi/noom.h
	tokens		REAL NOT NULL,
	ms		INTEGER NOT NULL,
	PRIMARY KEY (addr, kind)
) WITHOUT ROWID;
CREATE INDEX clients_ms ON clients (ms);

PRAGMA user_version = 8;
