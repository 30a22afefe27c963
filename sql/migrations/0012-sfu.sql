-- 0012-sfu: rooms whose call runs on the SFU (Janus VideoRoom) rather than the mesh.
--
-- A row exists while a room's call is on the SFU: made when the call grows past mesh_max
-- (or at once with sfu = always), removed when the room empties and its Janus room is
-- destroyed (fcgi/sfu.c).  janus_id is the VideoRoom's number, derived from the room's id
-- and the time the row was made, so that a later room given the same id never meets a
-- Janus room left from before.

CREATE TABLE sfu_rooms (
	room_id		INTEGER PRIMARY KEY,
	janus_id	INTEGER NOT NULL,
	created_ms	INTEGER NOT NULL
);

PRAGMA user_version = 12;
