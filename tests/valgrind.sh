#!/bin/sh
# make check-valgrind: the C unit programs, then the chat and signaling integration suites with
# every noom-worker process (master and forked workers) under valgrind's memcheck. Fails on any
# memcheck error or definite leak. Slower than make check; run by .ci/run.
set -u
builddir=${NOOM_BUILDDIR:?} srcdir=${NOOM_SRCDIR:?}
logs=$builddir/tests/logs/valgrind
rm -rf "$logs"; mkdir -p "$logs"
# Workers end by SIGTERM with threads mid-flight: only definite leaks and real errors count.
vg="valgrind -q --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite --error-exitcode=99"
failed=0 passed=0

for t in "$@"; do
	if $vg --log-file="$logs/$(basename "$t").log" "$builddir/$t" >/dev/null 2>&1; then
		passed=$((passed + 1))
	else
		echo "FAIL: $t under valgrind (see $logs/$(basename "$t").log)"
		failed=$((failed + 1))
	fi
done

# The worker as noom-run starts it, with valgrind following the forks.
wrapper=$logs/noom-worker
cat >"$wrapper" <<EOW
#!/bin/sh
exec $vg --trace-children=yes --log-file=$logs/worker.%p.log "$builddir/fcgi/noom-worker" "\$@"
EOW
chmod +x "$wrapper"
if NOOM_WORKER_BIN=$wrapper node --test --test-concurrency=1 \
    "$srcdir/tests/integration/chat.test.mjs" "$srcdir/tests/integration/signal.test.mjs" \
    >"$logs/node.log" 2>&1; then
	passed=$((passed + 1))
else
	echo "FAIL: integration suites with the worker under valgrind (see $logs/node.log)"
	failed=$((failed + 1))
fi
# Memcheck writes nothing with -q unless it found something.
for f in "$logs"/worker.*.log; do
	[ -s "$f" ] || continue
	echo "FAIL: memcheck report in $f:"; head -40 "$f"
	failed=$((failed + 1))
done
echo "valgrind: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
