#!/bin/sh
# make check-valgrind: the C unit programs, then the chat and signaling integration suites with
# every noom-worker process (master and forked workers) under valgrind's memcheck. Fails on any
# memcheck error or definite leak, and on a process whose memcheck run did not finish (killed
# before valgrind's final leak check, so nothing was checked). Slower than make check; run by
# .ci/run on a build without --enable-asan (valgrind cannot run an ASan binary).
#
# Logs go to $NOOM_BUILDDIR/tests/logs/valgrind/: NAME.log (memcheck) and NAME.out (output) for
# every unit program, worker.PID.log for every worker process, node.log for the suites. The
# last line is "valgrind: N passed, N failed"; exit status 1 if anything failed.
#
# Environment: what AM_TESTS_ENVIRONMENT sets (NOOM_BUILDDIR, NOOM_SRCDIR, NODE, ...);
# NOOM_VALGRIND_TIMEOUT, seconds for the two suites (default 1200).
set -u
builddir=${NOOM_BUILDDIR:?} srcdir=${NOOM_SRCDIR:?}
node=${NODE:-node}
logs=$builddir/tests/logs/valgrind
rm -rf "$logs"; mkdir -p "$logs"
# Workers end by SIGTERM with threads mid-flight: only definite leaks and real errors count.
# Not -q: every log then ends with "ERROR SUMMARY: N errors" once memcheck has checked the
# process, which tells a clean process from one that was killed before anything was checked.
# tests/valgrind.supp, if there is one, holds suppressions for other libraries' own reports.
vg="valgrind --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite --error-exitcode=99"
[ -f "$srcdir/tests/valgrind.supp" ] && vg="$vg --suppressions=$srcdir/tests/valgrind.supp"
failed=0 passed=0

if ! command -v valgrind >/dev/null 2>&1; then
	echo "FAIL: valgrind not found (Debian: apt-get install valgrind; scripts/deps.sh --test)"
	echo "valgrind: 0 passed, 1 failed"
	exit 1
fi

# checked LOG: true if memcheck finished the process and found no error and no definite leak.
checked() {
	grep -q 'ERROR SUMMARY: 0 errors' "$1"
}

# show LOG: what memcheck found, without its banner and the summaries of what is not counted.
show() {
	if grep -q 'ERROR SUMMARY:' "$1"; then
		grep -v -e 'Memcheck, a memory error detector' -e 'Copyright (C)' \
		    -e 'Using Valgrind-' -e '== Command: ' -e '== Parent PID: ' "$1" | head -60
	else
		echo "  (no ERROR SUMMARY: the process was killed before memcheck could check it)"
		tail -5 "$1"
	fi
}

for t in "$@"; do
	name=$(basename "$t")
	if $vg --log-file="$logs/$name.log" "$builddir/$t" >"$logs/$name.out" 2>&1 &&
	    checked "$logs/$name.log"; then
		passed=$((passed + 1))
	else
		echo "FAIL: $t under valgrind (see $logs/$name.log and $name.out):"
		tail -5 "$logs/$name.out"
		checked "$logs/$name.log" || show "$logs/$name.log"
		failed=$((failed + 1))
	fi
done

# The worker as noom-run starts it, with valgrind following the forks (%p: one log each).
wrapper=$logs/noom-worker
cat >"$wrapper" <<EOW
#!/bin/sh
exec $vg --trace-children=yes --log-file=$logs/worker.%p.log "$builddir/fcgi/noom-worker" "\$@"
EOW
chmod +x "$wrapper"
# nginx reads an NGINX variable as inherited sockets ("invalid socket number" at every start):
# noom-run gets configure's nginx as NOOM_NGINX instead.
if [ -n "${NGINX-}" ] && [ -z "${NOOM_NGINX-}" ]; then
	NOOM_NGINX=$NGINX; export NOOM_NGINX
fi
unset NGINX
if NOOM_WORKER_BIN=$wrapper timeout -k 15 "${NOOM_VALGRIND_TIMEOUT:-1200}" \
    "$node" --test --test-concurrency=1 \
    "$srcdir/tests/integration/chat.test.mjs" "$srcdir/tests/integration/signal.test.mjs" \
    >"$logs/node.log" 2>&1; then
	passed=$((passed + 1))
else
	echo "FAIL: integration suites with the worker under valgrind (see $logs/node.log):"
	grep -e '^not ok' -e '^# fail' -e '^# pass' "$logs/node.log" | head -20
	tail -5 "$logs/node.log"
	failed=$((failed + 1))
fi

# Every worker process must have run under memcheck (else the wrapper was not used and nothing
# was checked) and finished with no error and no definite leak.
workers=0
for f in "$logs"/worker.*.log; do
	[ -f "$f" ] || continue
	workers=$((workers + 1))
	if checked "$f"; then
		passed=$((passed + 1))
	else
		echo "FAIL: memcheck report in $f:"
		show "$f"
		failed=$((failed + 1))
	fi
done
if [ "$workers" -eq 0 ]; then
	echo "FAIL: no noom-worker process ran under valgrind (no $logs/worker.*.log)"
	failed=$((failed + 1))
fi

echo "valgrind: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
