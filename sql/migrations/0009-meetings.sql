-- 0009-meetings: unlisted rooms, hosts and the controls they hold.
--
-- rooms.key_hash is '' for a listed room, or the SHA-256 of an unlisted
-- room's key (the key itself, like a session token, is never stored).  A
-- room is found by its name and key_hash together, so a listed and an
-- unlisted room may share a name without meeting: the UNIQUE constraint
-- moves from (name) to (name, key_hash), which SQLite can only do by
-- rebuilding the table.  AUTOINCREMENT stays: a room id is never reused,
-- so bans and a session's last room always mean the same meeting.
--
-- rooms.locked, rooms.waiting_room: booleans the hosts set; rooms.password
-- is '' (none) or a salted PBKDF2 hash (fcgi/pw.c).
--
-- sessions.host: the session is a host of its room.  sessions.left_room,
-- left_ms, left_host: the room it last left of its own accord (a leave or a
-- timeout, not a removal), when, and whether it was a host there, so that a
-- reload or a network switch goes straight back in (fcgi/rooms.c).
--
-- waiting: who waits to be admitted, and since when; a session waits for
-- one room at most.  bans: who a host removed, until the meeting ends (the
-- room is deleted, and its rows with it).

DROP TRIGGER sessions_room_insert;
DROP TRIGGER sessions_room_update;
DROP TRIGGER sessions_room_delete;
DROP INDEX rooms_busy;

CREATE TABLE rooms_new (
	id		INTEGER PRIMARY KEY AUTOINCREMENT,
	name		TEXT NOT NULL,
	key_hash	TEXT NOT NULL DEFAULT '',
	created_ms	INTEGER NOT NULL,
	members		INTEGER NOT NULL DEFAULT 0,
	active_ms	INTEGER NOT NULL DEFAULT 0,
	locked		INTEGER NOT NULL DEFAULT 0,
	waiting_room	INTEGER NOT NULL DEFAULT 0,
	password	TEXT NOT NULL DEFAULT '',
	UNIQUE (name, key_hash)
);
INSERT INTO rooms_new (id, name, created_ms, members, active_ms)
	SELECT id, name, created_ms, members, active_ms FROM rooms;
DROP TABLE rooms;
ALTER TABLE rooms_new RENAME TO rooms;
CREATE INDEX rooms_busy ON rooms (members DESC, active_ms DESC);

CREATE TRIGGER sessions_room_insert AFTER INSERT ON sessions
WHEN NEW.room_id IS NOT NULL
BEGIN
	UPDATE rooms SET members = members + 1 WHERE id = NEW.room_id;
END;

CREATE TRIGGER sessions_room_update AFTER UPDATE OF room_id ON sessions
WHEN OLD.room_id IS NOT NEW.room_id
BEGIN
	UPDATE rooms SET members = members - 1 WHERE id = OLD.room_id;
	UPDATE rooms SET members = members + 1 WHERE id = NEW.room_id;
END;

CREATE TRIGGER sessions_room_delete AFTER DELETE ON sessions
WHEN OLD.room_id IS NOT NULL
BEGIN
	UPDATE rooms SET members = members - 1 WHERE id = OLD.room_id;
END;

ALTER TABLE sessions ADD COLUMN host INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN left_room INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN left_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN left_host INTEGER NOT NULL DEFAULT 0;

CREATE TABLE waiting (
	session_id	INTEGER PRIMARY KEY,
	room_id		INTEGER NOT NULL,
	since_ms	INTEGER NOT NULL
);
CREATE INDEX waiting_room ON waiting (room_id, since_ms);

CREATE TABLE bans (
	room_id		INTEGER NOT NULL,
	session_id	INTEGER NOT NULL,
	PRIMARY KEY (room_id, session_id)
) WITHOUT ROWID;

-- A forgotten session waits for nothing and is banned from nothing.
CREATE TRIGGER sessions_forget AFTER DELETE ON sessions
BEGIN
	DELETE FROM waiting WHERE session_id = OLD.id;
	DELETE FROM bans WHERE session_id = OLD.id;
END;

PRAGMA user_version = 9;
