-- 0010-admin: the operator's sessions, and how each user is connected.
--
-- admin_sessions: who logged in to PREFIX/admin with the admin password.
-- Like users' tokens, an admin token is stored only as its SHA-256.  They
-- are separate from users' sessions: an admin is no member of any room and
-- a user's token opens nothing here.  Maintenance forgets one an hour
-- after its last use, or 12 hours after it was made.
--
-- sessions.transport: how the session last read its mailbox ("polling",
-- "websocket", "stream"; '' before it first did), written with the seen
-- time (presence.c), and at once when it changes, for the admin page.

CREATE TABLE admin_sessions (
	id		INTEGER PRIMARY KEY AUTOINCREMENT,
	token		TEXT NOT NULL UNIQUE,
	addr		TEXT NOT NULL,
	created_ms	INTEGER NOT NULL,
	seen_ms		INTEGER NOT NULL
);

ALTER TABLE sessions ADD COLUMN transport TEXT NOT NULL DEFAULT '';

PRAGMA user_version = 10;
