-- 0003-room-size: rooms of thousands of members.
--
-- Every join and leave needs the room's member count (in the notices and in
-- the public room list published to everyone).  Counting sessions made each
-- of them O(members), and filling a room O(members^2).  rooms.members is
-- kept by triggers on sessions, so no code path that moves, adds or deletes
-- a session can leave it wrong.  The join answer lists the first members in
-- join order with LIMIT: the index on (room_id, join_seq, id) serves that
-- order (and the call position query) without sorting the whole room.

ALTER TABLE rooms ADD COLUMN members INTEGER NOT NULL DEFAULT 0;
UPDATE rooms SET members =
	(SELECT count(*) FROM sessions s WHERE s.room_id = rooms.id);

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

DROP INDEX sessions_room;
CREATE INDEX sessions_room_order ON sessions (room_id, join_seq, id);

PRAGMA user_version = 3;
