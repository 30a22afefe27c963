-- 0001-init: the first schema of Noom.
--
-- events is the one append-only log every mailbox reads: seq is the cursor
-- clients hold.  AUTOINCREMENT guarantees a number is never reused, even
-- after trimming, so a cursor always means the same point in the log.
-- room_id / target_id give the scope: both NULL = everyone, target_id set =
-- that session alone, room_id set = members of that room (who joined before
-- the event).  rooms.id is AUTOINCREMENT too: a room that empties and is
-- created again is a new room, and old events never leak into it.

CREATE TABLE rooms (
	id		INTEGER PRIMARY KEY AUTOINCREMENT,
	name		TEXT NOT NULL UNIQUE,
	created_ms	INTEGER NOT NULL
);

CREATE TABLE sessions (
	id		INTEGER PRIMARY KEY AUTOINCREMENT,
	token		TEXT NOT NULL UNIQUE,
	nickname	TEXT NOT NULL,
	room_id		INTEGER,		-- NULL: in no room
	join_seq	INTEGER NOT NULL DEFAULT 0,
	created_ms	INTEGER NOT NULL,
	seen_ms		INTEGER NOT NULL,	-- last poll or call
	rl_tokens	REAL NOT NULL DEFAULT 30,	-- rate-limit bucket
	rl_ms		INTEGER NOT NULL
);
CREATE INDEX sessions_room ON sessions (room_id);
CREATE INDEX sessions_seen ON sessions (seen_ms);

CREATE TABLE events (
	seq		INTEGER PRIMARY KEY AUTOINCREMENT,
	room_id		INTEGER,
	target_id	INTEGER,
	type		TEXT NOT NULL,
	data		TEXT NOT NULL,		-- a JSON object
	created_ms	INTEGER NOT NULL
);
CREATE INDEX events_created ON events (created_ms);

-- The chat history a newcomer sees; at most a few dozen rows per room.
CREATE TABLE messages (
	id		INTEGER PRIMARY KEY AUTOINCREMENT,
	room_id		INTEGER NOT NULL,
	session_id	INTEGER NOT NULL,
	client_id	TEXT NOT NULL,
	data		TEXT NOT NULL,		-- new_message event body, no id
	created_ms	INTEGER NOT NULL,
	UNIQUE (session_id, client_id)
);
CREATE INDEX messages_room ON messages (room_id, id);

CREATE TABLE meta (
	key		TEXT PRIMARY KEY,
	value		INTEGER NOT NULL
);
INSERT INTO meta (key, value) VALUES ('trimmed_upto', 0);

PRAGMA user_version = 1;
