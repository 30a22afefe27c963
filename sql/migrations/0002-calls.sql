-- 0002-calls: what video calls need from a session.
--
-- audio / video / screen are the member's media state as it last announced
-- it (POST /api/media), so that a newcomer's join answer shows who is muted
-- without waiting for events.  Signaling gets its own rate-limit bucket:
-- a call set-up sends dozens of ICE candidates in a second, which the chat
-- allowance must not have to absorb.

ALTER TABLE sessions ADD COLUMN audio INTEGER NOT NULL DEFAULT 1;
ALTER TABLE sessions ADD COLUMN video INTEGER NOT NULL DEFAULT 1;
ALTER TABLE sessions ADD COLUMN screen INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN sig_tokens REAL NOT NULL DEFAULT 200;
ALTER TABLE sessions ADD COLUMN sig_ms INTEGER NOT NULL DEFAULT 0;

PRAGMA user_version = 2;
