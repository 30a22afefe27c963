#!/bin/sh
# run-node.sh SUITE: runs tests/SUITE/*.test.mjs (SUITE is integration or browser) with
# `node --test`, showing the spec report and keeping a TAP copy in
# $NOOM_BUILDDIR/tests/logs/SUITE.tap (read by run-tests.sh to count the cases).
#
# Exit status: node's (0 all passed, 1 something failed), or 77 when the suite cannot run here
# (no node, no test files, or for the browser suite no playwright-core or no chromium), with a
# line saying why.
#
# Environment: NOOM_SRCDIR, NOOM_BUILDDIR (default: this script's tree and $PWD), NODE (node),
# NOOM_CHROMIUM (/usr/bin/chromium, exported for the browser tests), NOOM_SUITE_TIMEOUT
# (seconds for the whole suite, 1800), NOOM_TEST_FILES (run only these files),
# NOOM_TEST_CONCURRENCY (test files run at once, 1).

suite=${1:?usage: run-node.sh integration|browser}
srcdir=${NOOM_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${NOOM_BUILDDIR:-$PWD}
node=${NODE:-node}

skip() {
	echo "SKIP: $suite tests: $*"
	exit 77
}

command -v "$node" >/dev/null 2>&1 || skip "node not found (Debian: apt-get install nodejs)"

if [ -n "${NOOM_TEST_FILES-}" ]; then
	files=$NOOM_TEST_FILES
else
	files=
	for f in "$srcdir/tests/$suite"/*.test.mjs; do
		[ -f "$f" ] && files="$files $f"
	done
fi
[ -n "$files" ] || skip "no tests/$suite/*.test.mjs files"

if [ "$suite" = browser ]; then
	# ES modules resolve packages from the test file upwards, so node_modules must be in the
	# source tree (it is not in a dist tarball: then these tests are skipped).
	[ -d "$srcdir/node_modules/playwright-core" ] ||
		skip "$srcdir/node_modules/playwright-core not found (scripts/deps.sh --test installs it)"
	NOOM_CHROMIUM=${NOOM_CHROMIUM:-/usr/bin/chromium}
	[ -x "$NOOM_CHROMIUM" ] || skip "$NOOM_CHROMIUM not found (Debian: apt-get install chromium)"
	export NOOM_CHROMIUM
fi

mkdir -p "$builddir/tests/logs"
tap=$builddir/tests/logs/$suite.tap
rm -f "$tap"

# Files run one after the other: every file starts its own nginx and workers, and the
# timings some tests check hold only on a machine that is not also running other stacks.
# shellcheck disable=SC2086 # $files is a list
timeout -k 15 "${NOOM_SUITE_TIMEOUT:-1800}" \
	"$node" --test --test-concurrency="${NOOM_TEST_CONCURRENCY:-1}" \
	--test-reporter=spec --test-reporter-destination=stdout \
	--test-reporter=tap --test-reporter-destination="$tap" \
	$files
status=$?
if [ $status = 124 ]; then
	echo "FAIL: $suite tests did not finish within ${NOOM_SUITE_TIMEOUT:-1800} s"
	echo "# fail 1" >>"$tap"
fi
exit $status
