#!/bin/sh
# run-tests.sh [--suites "unit conf types integration browser"] -- UNIT_PROGRAM...
#
# What `make check` runs (from check-local): every layer in order, the output of each shown and
# kept in tests/logs/, then one last line "N passed, N failed" (", N skipped" when some were)
# that counts individual test cases:
#   unit         the C unit programs; each ends with "NAME: N passed, N failed" (or prints
#                TAP-like "ok N - ..." / "not ok N - ..." lines) and exits 0, 1, or 77 to be
#                skipped. A program that fails without counting a failure (a crash, a sanitizer
#                report) counts as one failed case.
#   conf         tests/check-conf.sh: the nginx configuration and the launcher's checks.
#   types        the type checker over the JSDoc types of static/js (tsc -p static/js --noEmit,
#                with static/js/tsconfig.json): one case; skipped without node_modules/typescript.
#   integration  tests/integration/*.test.mjs through tests/run-node.sh (node --test).
#   browser      tests/browser/*.test.mjs, the same way (skipped without playwright-core).
# Exit status 1 if any case failed, else 0.
#
# Environment: everything AM_TESTS_ENVIRONMENT sets (NOOM_SRCDIR, NOOM_BUILDDIR, NOOM_RUN, ...);
# NOOM_VALGRIND=1 runs the unit programs under valgrind.

suites="unit conf types integration browser"
while [ $# -gt 0 ]; do
	case $1 in
	--suites) suites=$2; shift 2 ;;
	--) shift; break ;;
	*) break ;;
	esac
done

srcdir=${NOOM_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${NOOM_BUILDDIR:-$PWD}
logs=$builddir/tests/logs
mkdir -p "$logs"

# In a sanitizer build (configure --enable-asan) a report must fail the run even when it comes
# from a worker process whose output a test does not show: reports go to files in tests/logs/
# (no effect on a normal build), each file counts as one failure and is printed at the end.
rm -f "$logs"/sanitizer.*
case ${ASAN_OPTIONS-} in
*log_path=*) ;;
*) ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$logs/sanitizer" ;;
esac
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
case $UBSAN_OPTIONS in
*log_path=*) ;;
*) UBSAN_OPTIONS="$UBSAN_OPTIONS:log_path=$logs/sanitizer" ;;
esac
export ASAN_OPTIONS UBSAN_OPTIONS

passed=0
failed=0
skipped=0

# count_tap FILE: sets t_pass, t_fail, t_skip for a unit program's output: from its closing
# "NAME: N passed, N failed" line (tests/unit/unit.h) if it printed one, else from TAP-like
# "ok ..." / "not ok ..." lines.
count_tap() {
	eval "$(awk '
		/^ok / { if ($0 ~ /# *(SKIP|skip|TODO|todo)/) s++; else p++ }
		/^not ok / { if ($0 ~ /# *(TODO|todo)/) s++; else f++ }
		match($0, /[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$/) {
			split(substr($0, RSTART), w, /[ ,]+/)
			sp = w[1]; sf = w[3]; ss = (w[5] == "" ? 0 : w[5]); summary = 1
		}
		END {
			if (summary) { p = sp; f = sf; s = ss }
			printf "t_pass=%d t_fail=%d t_skip=%d\n", p, f, s
		}' "$1")"
}

# count_node_tap FILE: sets t_pass, t_fail, t_skip from node's closing "# pass N" lines.
count_node_tap() {
	eval "$(awk '
		/^# pass / { p += $3 }
		/^# fail / { f += $3 }
		/^# cancelled / { f += $3 }
		/^# skipped / { s += $3 }
		/^# todo / { s += $3 }
		/^# tests / { seen = 1 }
		END { printf "t_pass=%d t_fail=%d t_skip=%d t_seen=%d\n", p, f, s, seen }' "$1")"
}

# add NAME STATUS: adds the t_* counts (already adjusted) to the totals and prints one line.
add() {
	passed=$((passed + t_pass))
	failed=$((failed + t_fail))
	skipped=$((skipped + t_skip))
	if [ "$2" = 77 ]; then
		echo "SKIP: $1"
	elif [ "$t_fail" -gt 0 ]; then
		echo "FAIL: $1 ($t_pass passed, $t_fail failed)"
	elif [ "$t_skip" -gt 0 ]; then
		echo "PASS: $1 ($t_pass passed, $t_skip skipped)"
	else
		echo "PASS: $1 ($t_pass passed)"
	fi
}

# run_tap NAME COMMAND...: runs a program that prints TAP-like lines; shows its output when
# it failed (always when $show_all is set).
show_all=
run_tap() {
	name=$1
	shift
	log=$logs/$(echo "$name" | tr '/' '_').log
	"$@" >"$log" 2>&1
	status=$?
	count_tap "$log"
	case $status in
	0)
		if [ "$t_fail" -gt 0 ]; then
			: # "not ok" lines but exit 0: the failures count
		elif [ $((t_pass + t_skip)) = 0 ]; then
			t_pass=1
		fi
		;;
	77)
		[ $((t_pass + t_fail + t_skip)) = 0 ] && t_skip=1
		;;
	*)
		[ "$t_fail" = 0 ] && t_fail=1
		;;
	esac
	if [ -n "$show_all" ] || [ "$t_fail" -gt 0 ] || [ $status != 0 ]; then
		cat "$log"
		[ $status != 0 ] && [ $status != 77 ] && echo "($name exited with status $status)"
	fi
	add "$name" "$status"
}

echo "=== Noom tests: $suites"
for suite in $suites; do
	case $suite in
	unit)
		echo "--- unit: C unit programs"
		for prog in "$@"; do
			if [ -n "${NOOM_VALGRIND-}" ]; then
				run_tap "$prog" valgrind -q --error-exitcode=99 --leak-check=full \
					--errors-for-leak-kinds=definite "./$prog"
			else
				run_tap "$prog" "./$prog"
			fi
		done
		;;
	conf)
		echo "--- conf: nginx configuration and noom-run"
		show_all=1
		run_tap tests/check-conf.sh sh "$srcdir/tests/check-conf.sh"
		show_all=
		;;
	types)
		echo "--- types: tsc -p static/js --noEmit"
		tsc=$srcdir/node_modules/.bin/tsc
		t_pass=0 t_fail=0 t_skip=0
		# Like the browser suite: the package is in the source tree's node_modules/ (not in a
		# dist tarball: then this suite is skipped).
		if [ ! -d "$srcdir/node_modules/typescript" ] || [ ! -x "$tsc" ]; then
			echo "SKIP: types check: $srcdir/node_modules/typescript not found (scripts/deps.sh --test installs it)"
			status=77
			t_skip=1
		elif ! command -v node >/dev/null 2>&1; then
			# (.bin/tsc starts with "#!/usr/bin/env node")
			echo "SKIP: types check: node not found (Debian: apt-get install nodejs)"
			status=77
			t_skip=1
		else
			"$tsc" -p "$srcdir/static/js" --noEmit >"$logs/types.log" 2>&1
			status=$?
			cat "$logs/types.log"
			if [ "$status" = 0 ]; then
				t_pass=1
			else
				echo "(tsc exited with status $status)"
				t_fail=1
			fi
		fi
		add types "$status"
		;;
	integration | browser)
		echo "--- $suite: node --test tests/$suite/*.test.mjs"
		rm -f "$logs/$suite.status"
		{
			sh "$srcdir/tests/run-node.sh" "$suite"
			echo $? >"$logs/$suite.status"
		} 2>&1 | tee "$logs/$suite.log"
		status=$(cat "$logs/$suite.status" 2>/dev/null || echo 1)
		t_pass=0 t_fail=0 t_skip=0 t_seen=0
		if [ "$status" = 77 ]; then
			for f in "$srcdir/tests/$suite"/*.test.mjs; do
				[ -f "$f" ] && t_skip=$((t_skip + 1))
			done
		else
			[ -f "$logs/$suite.tap" ] && count_node_tap "$logs/$suite.tap"
			if [ "$t_seen" = 0 ]; then
				echo "(no summary from node --test: counted as one failure)"
				t_fail=$((t_fail + 1))
			elif [ "$status" != 0 ] && [ "$t_fail" = 0 ]; then
				echo "(run-node.sh $suite exited with status $status: counted as one failure)"
				t_fail=1
			fi
		fi
		add "$suite" "$status"
		;;
	*)
		echo "run-tests.sh: unknown suite '$suite'" >&2
		failed=$((failed + 1))
		;;
	esac
done

for f in "$logs"/sanitizer.*; do
	[ -f "$f" ] || continue
	echo "--- sanitizer report $f"
	cat "$f"
	failed=$((failed + 1))
done

if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" = 0 ]
