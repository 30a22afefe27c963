# noom-lp.sh - target script for the shared long-poll bench (../shared/bench/run.sh):
# Noom's real stack (noom-run: nginx with 1 worker process + noom-worker master and workers)
# from a configured build folder, on 127.0.0.1, subscribers driven by tests/bench/noom_adapter.c.
#
#   LPBENCH=$B/lpbench/lpbench NOOM_BUILD=$B <bench>/run.sh $SRC/tests/bench/noom-lp.sh fanout 1000
#
# Sourced by run.sh (which sets TARGETS_DIR, TEST and the helpers of targets/lib/common.sh).
# Environment:
#   NOOM_BUILD          configured build folder with noom-run and fcgi/noom-worker
#                       (default: the folder of $LPBENCH's parent, i.e. $B for $B/lpbench/lpbench)
#   NOOM_BENCH_PORT     first port to try (18380)
#   NOOM_WORKERS        noom-worker processes (2, as noom-run's default)
#   NOOM_BENCH_NGINX_WORKERS  nginx worker processes (1, as the anchors run nginx; noom-run's
#                       own default is auto, one per CPU: the 10,000-subscriber check uses that)
#   NOOM_BENCH_DATA     folder with conf/ sql/ templates/ static/ for noom-run (NOOM_DATA_DIR;
#                       default: noom-run's own, the source tree of the build). Set it to a
#                       `git archive` of the measured commit when the working tree is being edited.
#   NOOM_PUB_SESSIONS   publisher pool size; default 8 for fanout (10 msg/s needs 1), 1500
#                       for ramp (10 msg/s each: the rate limit is per session, docs/API.md)
#
# Bench run configuration (operator options, nothing patched): --presence-timeout 3600, because
# the publisher sessions post but never poll and would otherwise leave the room after 60 s; and,
# since every subscriber and publisher comes from 127.0.0.1, the per-client limits (docs/API.md)
# raised out of the way: --waiting-per-client and the limit_* keys of a --config file.
# The nginx descriptor limit and worker_connections come from noom-run (65536 as root).

: "${NOOM_BENCH_PORT:=18380}" "${NOOM_WORKERS:=2}" "${NOOM_BENCH_NGINX_WORKERS:=1}"
if [ -z "${NOOM_PUB_SESSIONS:-}" ]; then
    if [ "${TEST:-fanout}" = ramp ]; then NOOM_PUB_SESSIONS=1500; else NOOM_PUB_SESSIONS=8; fi
fi
ADAPTER=noom-lp
ADAPTER_OPTS=(-o room=bench -o "pub_sessions=$NOOM_PUB_SESSIONS")

target_start() {
    local rundir=$1 build state i
    NOOM_BENCH_RUNDIR=$rundir
    build=${NOOM_BUILD:-$(cd "$(dirname "${LPBENCH:?LPBENCH must point at an lpbench built with noom_adapter.c}")/.." && pwd)}
    [ -x "$build/noom-run" ] && [ -x "$build/fcgi/noom-worker" ] ||
        { echo "noom-lp: no noom-run / fcgi/noom-worker in $build (configure and make there, or set NOOM_BUILD)" >&2; return 1; }
    PORT=$(pick_port "$NOOM_BENCH_PORT")
    # The UNIX socket path must stay under 108 bytes: a short state folder of our own.
    NOOM_BENCH_STATE=$(mktemp -d /tmp/noom-bench.XXXXXX)
    state=$NOOM_BENCH_STATE
    echo "$state" > "$rundir/state-dir"
    if [ -n "${NOOM_BENCH_DATA:-}" ]; then export NOOM_DATA_DIR=$NOOM_BENCH_DATA; fi
    (umask 077 && printf '%s\n' 'limit_sessions = 1000000/100000' 'limit_rooms = 1000000/100000' \
        'limit_joins = 1000000/100000' 'limit_chat = 1000000/100000' > "$rundir/noom.conf")
    # No Janus (NOOM_SFU=0): fanout has no call, and an idle SFU would share the CPUs.
    NOOM_SFU=0 NOOM_PORT=$PORT NOOM_STATE_DIR=$state NOOM_WORKERS=$NOOM_WORKERS \
        NOOM_NGINX_WORKERS=$NOOM_BENCH_NGINX_WORKERS NOOM_CONFIG=$rundir/noom.conf \
        NOOM_WORKER_ARGS="--presence-timeout 3600 --waiting-per-client 1000000 ${NOOM_BENCH_WORKER_ARGS:-}" \
        "$build/noom-run" > "$rundir/noom-run.log" 2>&1 &
    NOOM_RUN_PID=$!
    for i in $(seq 1 100); do
        grep -q 'Noom is running' "$rundir/noom-run.log" 2>/dev/null && break
        kill -0 "$NOOM_RUN_PID" 2>/dev/null || { cat "$rundir/noom-run.log" >&2; return 1; }
        sleep 0.1
    done
    grep -q 'Noom is running' "$rundir/noom-run.log" || { echo "noom-run did not start" >&2; cat "$rundir/noom-run.log" >&2; return 1; }
    local nginx_pid worker_master nginx_workers workers
    nginx_pid=$(cat "$state/nginx.pid")
    worker_master=$(cat "$state/worker.pid")
    nginx_workers=$(child_pids "$nginx_pid")
    workers=$(tr -s ' \n' ',' < "$state/workers.pids" | sed 's/^,//; s/,$//')
    # Every process whose CPU and memory count: nginx master + worker, noom-worker master + workers.
    SERVER_PIDS="$nginx_pid,$nginx_workers,$worker_master,$workers"
    GC_PID=""
    TARGET_INFO="noom $(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --short HEAD 2>/dev/null || echo ?), nginx $(nginx -v 2>&1 | sed 's|.*/||') $(echo "$nginx_workers" | tr ',' '\n' | grep -c .) worker(s), noom-worker x$NOOM_WORKERS, sqlite $(sqlite3 --version 2>/dev/null | cut -d' ' -f1), publisher pool $NOOM_PUB_SESSIONS"
}

target_stop() {
    # noom-run stops nginx and the workers by PID on SIGTERM and waits for them.
    stop_pid "${NOOM_RUN_PID:-}"
    if [ -n "${NOOM_BENCH_STATE:-}" ] && [ -d "$NOOM_BENCH_STATE" ]; then
        # keep nginx's error log with the run's other logs, drop the database and socket
        cp "$NOOM_BENCH_STATE/nginx/error.log" "${NOOM_BENCH_RUNDIR:-/nonexistent}/nginx-error.log" 2>/dev/null || true
        case $NOOM_BENCH_STATE in /tmp/noom-bench.*) rm -rf "$NOOM_BENCH_STATE" ;; esac
    fi
}
