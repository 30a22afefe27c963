# noom-stream.sh - target script for the shared bench (../shared/bench/run.sh): Noom's mailbox
# as an HTTP event stream (docs/API.md, "Event stream"), answered inside nginx by the module
# ngx_http_noom_module when the build has it (noom-run's default), else by the gateway noom-ws
# behind nginx (NOOM_STREAM=gateway asks for that one), beside the nchan-lp and nchan-lpmp
# anchors. Subscribers are driven by the
# "noom-stream" adapter of tests/bench/noom_adapter.c (which needs lpbench's stream mode:
# tests/bench/quick.sh builds it with tests/bench/lpbench-stream.patch); publishing is the same
# chat POST as noom-lp.
#
#   LPBENCH=$B/lpbench/lpbench NOOM_BUILD=$B <bench>/run.sh $SRC/tests/bench/noom-stream.sh fanout 1000
#
# The server is started exactly as for noom-ws (this file sources tests/bench/noom-ws.sh: the
# subscriber sessions are made in the adapter's init(), the gateway's PID counts). Operator
# options only: every subscriber comes from 127.0.0.1, so --streams-per-client is raised out
# of the way, and a stream lives for the whole run (--stream-lifetime 3600) so that a
# reconnect, which lpbench counts as an error, only happens when something failed.
. "$(dirname "${BASH_SOURCE[0]}")/noom-ws.sh"

ADAPTER=noom-stream
export NOOM_WS_ARGS="--stream-lifetime 3600 --streams-per-client 1000000 ${NOOM_BENCH_WS_ARGS:-}"

eval "noom_ws_$(declare -f target_start)"
target_start() {
    noom_ws_target_start "$@" || return 1
    if grep -q '^[[:space:]]*load_module' "$NOOM_BENCH_STATE/nginx/nginx.conf" 2>/dev/null; then
        TARGET_INFO="$TARGET_INFO, the stream answered inside nginx (ngx_http_noom_module)"
    else
        TARGET_INFO="$TARGET_INFO, the stream relayed to noom-ws"
    fi
}
