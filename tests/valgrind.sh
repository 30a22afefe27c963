#!/bin/sh
# make check-valgrind: the C unit programs, then the chat and signaling integration suites with
# every noom-worker process (master and forked workers) under valgrind's memcheck, and, when
# the event stream's nginx module was built, the stream suite with nginx's processes under it.
# Fails on any memcheck error or definite leak, and on a process whose memcheck run did not
# finish (killed before valgrind's final leak check, so nothing was checked). Slower than make check; run by
# .ci/run on a build without --enable-asan (valgrind cannot run an ASan binary).
#
# Logs go to $NOOM_BUILDDIR/tests/logs/valgrind/: NAME.log (memcheck) and NAME.out (output) for
# every unit program, worker.PID.log for every worker process, nginx.PID.log for every nginx
# process, node.log and node-stream.log for the suites. The last line is "valgrind: N passed,
# N failed"; exit status 1 if anything failed.
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

# suite WHAT LOG COMMAND...: run an integration suite (its output in LOG), counted as one.
suite() {
	what=$1 out=$2
	shift 2
	if timeout -k 15 "${NOOM_VALGRIND_TIMEOUT:-1200}" "$@" >"$out" 2>&1; then
		passed=$((passed + 1))
	else
		echo "FAIL: $what (see $out):"
		grep -e '^not ok' -e '^# fail' -e '^# pass' "$out" | head -20
		tail -5 "$out"
		failed=$((failed + 1))
	fi
}

# reports PROGRAM: every PROGRAM.PID.log must show a finished, clean memcheck run, and there
# must be one at least (else the wrapper was not used and nothing was checked).
reports() {
	n=0
	for f in "$logs/$1".*.log; do
		[ -f "$f" ] || continue
		n=$((n + 1))
		if checked "$f"; then
			passed=$((passed + 1))
		else
			echo "FAIL: memcheck report in $f:"
			show "$f"
			failed=$((failed + 1))
		fi
	done
	if [ "$n" -eq 0 ]; then
		echo "FAIL: no $1 process ran under valgrind (no $logs/$1.*.log)"
		failed=$((failed + 1))
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
suite "integration suites with the worker under valgrind" "$logs/node.log" \
    env NOOM_WORKER_BIN="$wrapper" "$node" --test --test-concurrency=1 \
    "$srcdir/tests/integration/chat.test.mjs" "$srcdir/tests/integration/signal.test.mjs"

# The event stream's nginx module, when it was built: its suite (tests/integration/stream.test.mjs,
# the module's part) with nginx's processes under memcheck (nginx.PID.log, one per process;
# --keep-debuginfo: nginx unloads the module before its processes end, and a report of it
# would lose its function names). nginx's own exit-time leaks are suppressed
# (tests/valgrind-nginx.supp). NOOM_TEST_NGINX_NO_KILL: the suite kills no nginx process on
# purpose (a killed process leaves memcheck nothing to check).
if [ -f "$builddir/nginx/ngx_http_noom_module.so" ]; then
	nginx_bin=${NOOM_NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
	nginx_wrapper=$logs/nginx
	cat >"$nginx_wrapper" <<EOW
#!/bin/sh
exec $vg --suppressions=$srcdir/tests/valgrind-nginx.supp --keep-debuginfo=yes --log-file=$logs/nginx.%p.log "$nginx_bin" "\$@"
EOW
	chmod +x "$nginx_wrapper"
	suite "the stream suite with nginx under valgrind" "$logs/node-stream.log" \
	    env NOOM_NGINX="$nginx_wrapper" NOOM_STREAM_SERVERS=nginx NOOM_START_TIMEOUT=120 \
	    NOOM_TEST_NGINX_NO_KILL=1 \
	    "$node" --test "$srcdir/tests/integration/stream.test.mjs"
	reports nginx
fi

# Every worker process must have run under memcheck and finished with no error and no
# definite leak.
reports worker

echo "valgrind: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
