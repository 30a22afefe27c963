#!/bin/bash
# quick.sh - the few-minute subset of docs/BENCHMARKS.md, run by `make bench` from a configured
# build folder: Noom (noom-lp) and the Nchan multipart anchor (nchan-lpmp), fanout to 1000
# long-poll subscribers at 10 msg/s, side by side in one run, then the report tables.
#
#   tests/bench/quick.sh SRCDIR BUILDDIR
#
# It uses the shared harness where it is (never copied): $NOOM_BENCH_DIR, else
# SRCDIR/../shared/bench. Its one-time ./setup.sh must have been run (nginx + Nchan).
# Output goes to BUILDDIR/bench/ (results.jsonl, report.md, one folder per run).
# Timings are printed, never asserted: this is not part of `make check`.
# Environment: QUICK_N (1000), QUICK_TARGETS ("noom-lp nchan-lpmp"; the WebSocket pair is
# QUICK_TARGETS="noom-ws nchan-ws", noom-ws needing fcgi/noom-ws built; the event stream beside
# the long-poll anchors is QUICK_TARGETS="noom-stream nchan-lp nchan-lpmp"), DURATION (20),
# QUIET_WAIT (120: seconds run.sh waits for a quiet machine before each run), FOREIGN_MAX (0.2:
# report.js leaves out runs during which other processes used more cores; on a busy shared
# machine FOREIGN_MAX=99 shows them anyway).
set -euo pipefail
SRC=$(cd "${1:?usage: quick.sh SRCDIR BUILDDIR}" && pwd)
BUILD=$(cd "${2:?usage: quick.sh SRCDIR BUILDDIR}" && pwd)
BENCH=${NOOM_BENCH_DIR:-$SRC/../shared/bench}
if [ ! -f "$BENCH/run.sh" ] || [ ! -f "$BENCH/src/adapter.h" ] || [ ! -f "$BENCH/tools/report.js" ]; then
    echo "make bench: the shared bench harness is not at $BENCH" >&2
    echo "make bench: set NOOM_BENCH_DIR to the folder with run.sh, src/adapter.h and tools/report.js" >&2
    exit 1
fi
BENCH=$(cd "$BENCH" && pwd)
[ -x "$BUILD/noom-run" ] && [ -x "$BUILD/fcgi/noom-worker" ] ||
    { echo "make bench: build noom first (no noom-run / fcgi/noom-worker in $BUILD)" >&2; exit 1; }

# The generator with our adapter linked in, built by the harness's own Makefile into our build,
# from a copy of its src/ with the stream mode the noom-stream adapter needs
# (tests/bench/lpbench-stream.patch; left out if the harness has it already) and a trace of
# every delivery when LPBENCH_TRACE names a file (tests/bench/lpbench-trace.patch; read by
# tests/bench/trace.mjs).
rm -rf "$BUILD/lpbench/src"
mkdir -p "$BUILD/lpbench"
cp -r "$BENCH/src" "$BUILD/lpbench/src"
if grep -q 'websocket == 2' "$BUILD/lpbench/src/lpbench.c"; then :; else
    patch -s -d "$BUILD/lpbench/src" -p1 < "$SRC/tests/bench/lpbench-stream.patch"
fi
if grep -q 'LPBENCH_TRACE' "$BUILD/lpbench/src/lpbench.c"; then :; else
    patch -s -d "$BUILD/lpbench/src" -p1 < "$SRC/tests/bench/lpbench-trace.patch"
fi
make -s -C "$BUILD/lpbench/src" EXTRA_SRCS="$SRC/tests/bench/noom_adapter.c" BUILD="$BUILD/lpbench"

OUT=$BUILD/bench
mkdir -p "$OUT"
export LPBENCH=$BUILD/lpbench/lpbench NOOM_BUILD=$BUILD BENCH_TMP=$OUT/tmp
export RESULTS=$OUT/results.jsonl QUIET_WAIT=${QUIET_WAIT:-120}
: > "$RESULTS"
failed=0
for t in ${QUICK_TARGETS:-noom-lp nchan-lpmp}; do
    case $t in noom-lp | noom-ws | noom-stream) target=$SRC/tests/bench/$t.sh ;; *) target=$t ;; esac
    echo "== $t fanout ${QUICK_N:-1000}" >&2
    # run.sh bounds the run itself (lpbench --max-time-s 170); timeout is a second stop.
    if ! timeout 400 "$BENCH/run.sh" "$target" fanout "${QUICK_N:-1000}" > /dev/null; then
        echo "make bench: $t failed (logs in $OUT/tmp/)" >&2
        failed=1
    fi
done
node "$BENCH/tools/report.js" "$RESULTS" | tee "$OUT/report.md"
echo "results: $RESULTS, tables: $OUT/report.md" >&2
exit $failed
