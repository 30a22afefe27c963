-- 0006-no-autoincrement: one WAL page fewer for every chat message and event.
--
-- AUTOINCREMENT keeps each table's highest key in sqlite_sequence, a page of
-- its own that every insert into events and messages rewrote: one of the ~6
-- pages a chat post wrote (docs/BENCHMARKS.md).  The keys are now SQLite's
-- plain rowids, and what AUTOINCREMENT promised is kept where it matters:
--  - an event's seq is a cursor, so it must never be handed out twice.  The
--    writer gives it explicitly, one above both the newest event and meta's
--    trimmed_upto (the highest seq trimming ever dropped: fcgi/db.c,
--    S_EVENT_NEW), so an emptied log does not start again at 1.  trimmed_upto
--    takes sqlite_sequence's value here for the same reason.
--  - a message id may come back only after the room that had the newest
--    message was deleted, with all its messages; clients tell messages apart
--    by id within one room's view.
-- SQLite cannot drop AUTOINCREMENT from a table, so both are rebuilt.

-- An empty log (all of it trimmed): its last seq is only in sqlite_sequence.
UPDATE meta SET value = max(value,
	coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0))
WHERE key = 'trimmed_upto' AND NOT EXISTS (SELECT 1 FROM events);

CREATE TABLE events_new (
	seq		INTEGER PRIMARY KEY,
	room_id		INTEGER,
	target_id	INTEGER,
	type		TEXT NOT NULL,
	data		TEXT NOT NULL,		-- a JSON object
	created_ms	INTEGER NOT NULL,
	hold		INTEGER NOT NULL DEFAULT 0
);
INSERT INTO events_new (seq, room_id, target_id, type, data, created_ms, hold)
	SELECT seq, room_id, target_id, type, data, created_ms, hold FROM events;
DROP TABLE events;
ALTER TABLE events_new RENAME TO events;

CREATE TABLE messages_new (
	id		INTEGER PRIMARY KEY,
	room_id		INTEGER NOT NULL,
	session_id	INTEGER NOT NULL,
	client_id	TEXT NOT NULL,
	data		TEXT NOT NULL,		-- new_message event body, no id
	created_ms	INTEGER NOT NULL,
	UNIQUE (session_id, client_id)
);
INSERT INTO messages_new (id, room_id, session_id, client_id, data, created_ms)
	SELECT id, room_id, session_id, client_id, data, created_ms FROM messages;
DROP TABLE messages;
ALTER TABLE messages_new RENAME TO messages;
CREATE INDEX messages_room ON messages (room_id, id);

PRAGMA user_version = 6;
