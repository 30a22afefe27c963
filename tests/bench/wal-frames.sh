#!/bin/sh
# wal-frames.sh SRCDIR [POSTS]: WAL frames (4-KiB pages) one chat post writes, with the schema of
# SRCDIR/sql/migrations: a room of 1500 members, POSTS (3000) posts from random members, each as
# the worker writes it (rate bucket, message, event) in its own transaction, automatic
# checkpoints off; prints frames per post. Deterministic (docs/BENCHMARKS.md). Needs sqlite3.
set -eu
src=${1:?usage: wal-frames.sh SRCDIR [POSTS]}
n=${2:-3000}
db=$(mktemp -d)/frames.db
trap 'rm -rf "$(dirname "$db")"' EXIT
{
	echo "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;"
	cat "$src"/sql/migrations/*.sql
	echo "INSERT INTO rooms (name, created_ms) VALUES ('bench', 0);"
	awk 'BEGIN { for (i = 1; i <= 1500; i++)
		printf "INSERT INTO sessions (token, nickname, room_id, created_ms, seen_ms, rl_ms) VALUES (%c%032d%c, %cp%d%c, 1, 0, 0, 0);\n", 39, i, 39, 39, i, 39 }'
	echo "PRAGMA wal_checkpoint(TRUNCATE);"
	awk -v n="$n" 'BEGIN { srand(1); msg = "{\"room\":\"bench\",\"text\":\"" sprintf("%100s", "") "\"}"
		for (i = 0; i < n; i++) { s = int(rand() * 1500) + 1
		printf "BEGIN IMMEDIATE; UPDATE sessions SET rl_tokens = 29, rl_ms = %d WHERE id = %d;\n", i, s
		printf "INSERT INTO messages (room_id, session_id, client_id, data, created_ms) VALUES (1, %d, %cc%d%c, %c%s%c, %d);\n", s, 39, i, 39, 39, msg, 39, i
		printf "INSERT INTO events (seq, room_id, target_id, type, data, created_ms) VALUES (1 + max(coalesce((SELECT max(seq) FROM events), 0), (SELECT value FROM meta WHERE key = %ctrimmed_upto%c)), 1, NULL, %cnew_message%c, %c%s%c, %d); COMMIT;\n", 39, 39, 39, 39, 39, msg, 39, i } }'
	echo "PRAGMA wal_checkpoint(PASSIVE);"
} | sqlite3 "$db" | awk -F'|' -v n="$n" 'NF == 3 { f = $2 } END { printf "frames per post: %.2f\n", f / n }'
