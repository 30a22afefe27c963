# noom-ws.sh - target script for the shared bench (../shared/bench/run.sh): Noom's mailbox over
# WebSocket, the gateway noom-ws behind nginx (docs/API.md, "WebSocket"), beside the nchan-ws
# and sio-ws anchors. Subscribers are driven by the "noom-ws" adapter of
# tests/bench/noom_adapter.c; publishing is the same chat POST as noom-lp.
#
#   LPBENCH=$B/lpbench/lpbench NOOM_BUILD=$B <bench>/run.sh $SRC/tests/bench/noom-ws.sh fanout 1000
#
# The server is started exactly as for noom-lp (this file sources tests/bench/noom-lp.sh: same
# environment, same --presence-timeout 3600); noom-run starts noom-ws by default (NOOM_WS=1).
# Differences:
#   - ADAPTER=noom-ws, and -o subs=$N: the adapter makes the N subscriber sessions (session +
#     join, on 127.0.0.1) in its init(), before the baseline memory sample, because a WebSocket
#     subscriber cannot run HTTP requests on its own connection before the upgrade.
#   - SERVER_PIDS also counts the gateway process (noom-run writes its PID to ws.pid).
. "$(dirname "${BASH_SOURCE[0]}")/noom-lp.sh"

ADAPTER=noom-ws
ADAPTER_OPTS=(-o room=bench -o "pub_sessions=$NOOM_PUB_SESSIONS" -o "subs=${N:?run.sh sets N}")

# noom-lp.sh's target_start, then the gateway's PID added to what counts.
eval "noom_lp_$(declare -f target_start)"
target_start() {
    local ws_pid
    noom_lp_target_start "$@" || return 1
    ws_pid=$(cat "$NOOM_BENCH_STATE/ws.pid" 2>/dev/null) ||
        { echo "noom-ws: no ws.pid in $NOOM_BENCH_STATE (noom-run ran without the gateway?)" >&2; return 1; }
    SERVER_PIDS="$SERVER_PIDS,$ws_pid"
    TARGET_INFO="$TARGET_INFO, noom-ws gateway"
}
