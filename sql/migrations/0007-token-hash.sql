-- 0007-token-hash: sessions keep the SHA-256 of their token, not the token.
--
-- The token is the only secret a client holds: whoever read it from the
-- database file, a backup or a copy of the WAL could act as that user.  From
-- now on db_session_create stores sha256(token) as 64 hex characters and
-- db_session_by_token hashes the token it is given before looking it up
-- (fcgi/db.c, token_hash), so the token the client holds does not change and
-- clients keep working across the upgrade.  sha256() is an application
-- function every connection of Noom registers (db_configure); the sqlite3
-- shell does not have it.  Only clear tokens (32 characters) are converted,
-- so a row already hashed is never hashed twice.
--
-- secure_delete: the space the clear tokens took in the table and in its
-- UNIQUE index is zeroed instead of left in the file's free space, and
-- db_migrate empties the WAL (which holds the old pages) once it is done.

PRAGMA secure_delete = ON;
UPDATE sessions SET token = sha256(token) WHERE length(token) = 32;

PRAGMA user_version = 7;
