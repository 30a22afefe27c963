#!/bin/sh
# deps.sh [--test]: installs with apt-get what Noom needs to build and run on Debian (and
# Ubuntu), only what is missing; with --test also what `make check` needs (chromium, node and
# npm, valgrind) and the npm packages of package.json (playwright-core, typescript) into
# node_modules/.
# Silent when everything is there already; safe to run again. Uses sudo when not root.

set -eu

usage() {
	echo "usage: scripts/deps.sh [--test]" >&2
	exit 2
}

with_tests=
case $# in
0) ;;
1) [ "$1" = --test ] && with_tests=1 || usage ;;
*) usage ;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)

# nginx-dev: nginx's sources and build flags, to build the event stream's module for this nginx
# (nginx/; without it nginx relays the stream to noom-ws).
# janus and libjs-janus-gateway: the SFU that carries calls larger than the mesh (noom-run
# starts Janus when it is installed; Noom runs mesh-only without it).
packages="build-essential autoconf automake pkg-config libfcgi-dev libsqlite3-dev libjansson-dev libssl-dev libunistring-dev nginx nginx-dev curl janus libjs-janus-gateway"
if [ -n "$with_tests" ]; then
	# sqlite3: the integrity check of the bad-input tests; coturn: the relay-only call test;
	# systemd: systemd-analyze verify of the units; prometheus: promtool, which checks the
	# metrics' format (Debian has it only in the server's package, whose service the tests
	# never use); fonts-noto-color-emoji: reactions and hands drawn in the browser tests'
	# screenshots; squid: a real office proxy that the transport tests send the page through.
	packages="$packages chromium valgrind sqlite3 coturn systemd prometheus fonts-noto-color-emoji squid"
	# A node from elsewhere (nvm, NodeSource, ...) is kept: Debian's would only shadow it.
	command -v node >/dev/null 2>&1 || packages="$packages nodejs"
	command -v npm >/dev/null 2>&1 || packages="$packages npm"
fi

installed() {
	dpkg-query -W -f '${Status}\n' "$1" 2>/dev/null | grep -q ' installed$'
}

missing=
for p in $packages; do
	installed "$p" || missing="$missing $p"
done

if [ -n "$missing" ]; then
	if ! command -v apt-get >/dev/null 2>&1; then
		echo "deps.sh: apt-get not found; install these packages by hand:$missing" >&2
		exit 1
	fi
	sudo=
	if [ "$(id -u)" != 0 ]; then
		command -v sudo >/dev/null 2>&1 || {
			echo "deps.sh: not root and no sudo; as root run: apt-get install$missing" >&2
			exit 1
		}
		sudo=sudo
	fi
	echo "deps.sh: installing$missing"
	# Installing nginx may start Debian's nginx service on port 80; Noom never uses it (noom-run
	# starts its own nginx with its own configuration and port).
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
fi

if [ -n "$with_tests" ] && { [ ! -d "$root/node_modules/playwright-core" ] ||
	[ ! -d "$root/node_modules/typescript" ]; }; then
	echo "deps.sh: installing the npm packages of package.json into node_modules/"
	cd "$root"
	if [ -f package-lock.json ]; then
		npm ci --no-audit --no-fund --loglevel=error
	else
		npm install --no-audit --no-fund --loglevel=error
	fi
fi
