#!/bin/sh
# check-conf.sh: checks of the nginx configuration and of noom-run that need no running worker.
# Prints TAP-like "ok N - ..." lines; exit 0 if all passed. Run by run-tests.sh (make check).
#
#  - conf/noom-nginx.conf.example is what conf/noom-nginx.conf.in gives for /noom (one source);
#  - the configuration noom-run writes passes nginx -t, with and without a prefix;
#  - every location of the snippet but the WebSocket's and the event stream's adds the security headers;
#  - noom-run refuses a bad NOOM_PREFIX, NOOM_PORT, NOOM_WORKERS, NOOM_NGINX_WORKERS, and a port
#    that is taken;
#  - the C files call each other in no circle (tests/check-layers.sh), and noom-ws links no
#    libfcgi;
#  - the systemd units in conf/ carry the sandbox, restart and reload directives, and pass
#    systemd-analyze verify.

srcdir=${NOOM_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${NOOM_BUILDDIR:-$PWD}
run=${NOOM_RUN:-$builddir/noom-run}
node=${NODE:-node}

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }

tmp=$builddir/tests/logs/conf.$$
rm -rf "$tmp"
mkdir -p "$tmp"
listener=
cleanup() {
	[ -n "$listener" ] && kill "$listener" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# 1. The shipped example is generated from the template.
if NOOM_PREFIX=/noom NOOM_DATA_DIR=/usr/local/share/noom NOOM_STATE_DIR=/var/lib/noom \
	"$run" --nginx-snippet >"$tmp/example" 2>"$tmp/example.err" &&
	cmp -s "$tmp/example" "$srcdir/conf/noom-nginx.conf.example"; then
	ok "conf/noom-nginx.conf.example matches conf/noom-nginx.conf.in"
else
	not_ok "conf/noom-nginx.conf.example differs from conf/noom-nginx.conf.in (make conf-example)"
	diff "$srcdir/conf/noom-nginx.conf.example" "$tmp/example" | sed 's/^/# /'
	sed 's/^/# /' "$tmp/example.err"
fi

# 2, 3. nginx -t on what noom-run writes.
nginx=${NOOM_NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
for prefix in "" /noom; do
	name="nginx -t accepts the configuration for NOOM_PREFIX='$prefix'"
	if [ ! -x "$nginx" ]; then
		skip "$name" "nginx not found"
		continue
	fi
	state=$tmp/state${prefix#/}
	if NOOM_PREFIX=$prefix NOOM_STATE_DIR=$state NOOM_PORT=18080 NOOM_NGINX=$nginx \
		"$run" --check-config >"$tmp/t.out" 2>&1 &&
		grep -q "NOOM_PREFIX *\"$prefix\"" "$state/nginx/noom-nginx.conf"; then
		ok "$name"
	else
		not_ok "$name"
		sed 's/^/# /' "$tmp/t.out"
	fi
done
if [ -f "$tmp/statenoom/nginx/nginx.conf" ] &&
	grep -q '^ *location = /noom {' "$tmp/statenoom/nginx/noom-nginx.conf" &&
	grep -q '^ *location = / {' "$tmp/statenoom/nginx/nginx.conf" &&
	! grep -q '^ *location = {' "$tmp/state/nginx/noom-nginx.conf" &&
	! grep -q '^ *location = / {' "$tmp/state/nginx/nginx.conf" &&
	grep -q '^ *location / {' "$tmp/state/nginx/noom-nginx.conf"; then
	ok "the prefix-only locations are there for /noom and not without a prefix"
elif [ -x "$nginx" ]; then
	not_ok "the prefix-only locations are wrong"
else
	skip "the prefix-only locations" "nginx not found"
fi

# The WebSocket location is there by default and gone with NOOM_WS=0 (clients then long-poll).
if NOOM_PREFIX=/noom "$run" --nginx-snippet 2>/dev/null | grep -q '^location = /noom/ws {' &&
	NOOM_WS=0 NOOM_PREFIX=/noom "$run" --nginx-snippet >"$tmp/nows" 2>&1 &&
	! grep -q '^ *location = /noom/ws' "$tmp/nows" && grep -q '^#location = /noom/ws' "$tmp/nows"; then
	ok "the /ws location is on by default and off with NOOM_WS=0"
else
	not_ok "the /ws location does not follow NOOM_WS"
fi

# The security headers of conf/noom-headers.conf.in, with "always", in every location of the
# snippet but the WebSocket's (nginx drops inherited add_header in a location that has its
# own), and at the server level of noom-run's own nginx.conf (the stand-in page under a prefix).
security_headers='Content-Security-Policy|X-Frame-Options|X-Content-Type-Options|Referrer-Policy|Permissions-Policy'
if NOOM_PREFIX=/noom "$run" --nginx-snippet >"$tmp/headers" 2>&1 &&
	awk -v names="$security_headers" '
		/^location / { loc = $0; n = 0; next }
		loc != "" && $1 == "add_header" && $2 ~ "^(" names ")$" && / always;$/ { n++; next }
		/^}/ && loc != "" {
			if (loc ~ /\/(ws|api\/stream) \{$/) { loc = ""; next }
			checked++
			if (n != 5) { print loc " has " n " of the 5 security headers"; bad = 1 }
			loc = ""
		}
		END { if (checked < 6) { print "only " checked " locations found"; bad = 1 } exit bad }
	' "$tmp/headers" >"$tmp/headers.out" &&
	{ [ ! -f "$tmp/statenoom/nginx/nginx.conf" ] ||
		[ "$(grep -cE "^        add_header ($security_headers) .* always;\$" "$tmp/statenoom/nginx/nginx.conf")" = 5 ]; }; then
	ok "every location but /ws and /api/stream, and noom-run's server, add the five security headers"
else
	not_ok "a location lacks security headers (conf/noom-headers.conf.in, @SECURITY_HEADERS@)"
	sed 's/^/# /' "$tmp/headers.out"
fi

# 4. Settings noom-run must refuse before it starts anything.
for bad in "NOOM_PREFIX=noom" "NOOM_PREFIX=/" "NOOM_PREFIX=/a/b" "NOOM_PREFIX=/noom/" \
	"NOOM_PREFIX=/a b" "NOOM_PREFIX=/.." "NOOM_PORT=http" "NOOM_PORT=70000" "NOOM_WORKERS=0" \
	"NOOM_WS=yes" "NOOM_KEEPALIVE=yes" "NOOM_NGINX_WORKERS=0" "NOOM_NGINX_WORKERS=two"; do
	if env "$bad" NOOM_STATE_DIR="$tmp/bad" "$run" >"$tmp/bad.out" 2>&1; then
		not_ok "noom-run refuses $bad"
	elif grep -q "${bad%%=*}" "$tmp/bad.out"; then
		ok "noom-run refuses $bad"
	else
		not_ok "noom-run refuses $bad with a message naming ${bad%%=*}"
		sed 's/^/# /' "$tmp/bad.out"
	fi
done

# 5. A port that is taken is refused with a clear message, and nothing is left running.
name="noom-run refuses a port that is already taken"
if ! command -v "$node" >/dev/null 2>&1; then
	skip "$name" "node not found"
elif [ ! -x "$builddir/fcgi/noom-worker" ]; then
	skip "$name" "fcgi/noom-worker not built"
else
	"$node" -e '
		const s = require("net").createServer(() => {});
		s.listen(0, "127.0.0.1", () => console.log(s.address().port));
		setTimeout(() => process.exit(0), 30000);' >"$tmp/port" &
	listener=$!
	i=0
	while [ ! -s "$tmp/port" ] && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	port=$(cat "$tmp/port")
	if [ -z "$port" ]; then
		not_ok "$name (could not open a listening socket)"
	elif NOOM_PORT=$port NOOM_STATE_DIR=$tmp/busy "$run" >"$tmp/busy.out" 2>&1; then
		not_ok "$name (noom-run exited 0)"
	elif grep -q "already taken" "$tmp/busy.out" && [ ! -e "$tmp/busy/worker.pid" ]; then
		ok "$name"
	else
		not_ok "$name"
		sed 's/^/# /' "$tmp/busy.out"
	fi
fi

# 6. Layers: no two C files call each other in a circle; the gateway links no FastCGI.
if ! command -v nm >/dev/null 2>&1; then
	skip "no circle between the C files" "nm not found"
elif circles=$(sh "$srcdir/tests/check-layers.sh" "$builddir/fcgi" 2>&1); then
	ok "no circle between the C files (tests/check-layers.sh)"
else
	not_ok "C files that call each other in a circle"
	echo "$circles" | sed 's/^/# /'
fi
ws=$builddir/fcgi/noom-ws
if [ ! -x "$ws" ] || ! command -v nm >/dev/null 2>&1; then
	skip "noom-ws links no libfcgi" "no noom-ws or nm"
elif nm "$ws" | grep -qi 'fcgx_\|h_poll\|api_dispatch\|waker_run' ||
	{ command -v objdump >/dev/null 2>&1 &&
		objdump -p "$ws" | grep -q 'NEEDED.*libfcgi'; }; then
	not_ok "noom-ws links FastCGI or the HTTP handlers"
else
	ok "noom-ws links no libfcgi and no HTTP handler"
fi

# The systemd units carry every directive an operator relies on in both: a user of their
# own, the state and runtime folders, the sandbox, restarts, and a reload that keeps clients.
for u in noom-worker noom-ws; do
	f=$srcdir/conf/$u.service.in
	missing=
	for d in '(DynamicUser=yes|User=)' 'StateDirectory=noom' 'RuntimeDirectory=' \
		'ProtectSystem=strict' 'ProtectHome=' 'NoNewPrivileges=yes' 'PrivateTmp=yes' \
		'RestrictAddressFamilies=AF_UNIX' 'SystemCallFilter=@system-service' \
		'Restart=on-failure' 'ExecReload=/bin/kill -HUP \$MAINPID'; do
		grep -Eq "^$d" "$f" || missing="$missing $d"
	done
	if [ -z "$missing" ]; then
		ok "conf/$u.service.in has every directive of the sandbox, restart and reload"
	else
		not_ok "conf/$u.service.in lacks:$missing"
	fi
done
# The workers reach Janus over IP on this machine (fcgi/sfu.c), and nothing else.
f=$srcdir/conf/noom-worker.service.in
if grep -q '^RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6$' "$f" &&
	grep -q '^IPAddressDeny=any$' "$f" && grep -q '^IPAddressAllow=localhost$' "$f" &&
	grep -q '^RestrictAddressFamilies=AF_UNIX$' "$srcdir/conf/noom-ws.service.in"; then
	ok "noom-worker may reach 127.0.0.1 and ::1 only, noom-ws UNIX sockets only"
else
	not_ok "the units' address families and IP allow-list"
fi

# 7. The systemd units: what `make install` installs passes systemd-analyze verify (with this
# build's programs in place of the installed ones).
if ! command -v systemd-analyze >/dev/null 2>&1; then
	skip "systemd units verify" "systemd-analyze not found (Debian: apt-get install systemd)"
else
	units=
	for u in noom-worker noom-ws; do
		sed -e "s|@BINDIR@|$builddir/fcgi|g" -e "s|@PKGDATADIR@|$srcdir|g" \
			"$srcdir/conf/$u.service.in" >"$tmp/$u.service"
		units="$units $tmp/$u.service"
	done
	# shellcheck disable=SC2086 # one word per unit
	if out=$(systemd-analyze verify --man=no $units 2>&1) && [ -z "$out" ]; then
		ok "systemd units pass systemd-analyze verify"
	else
		not_ok "systemd units: systemd-analyze verify"
		echo "$out" | sed 's/^/# /'
	fi
fi

[ $failed = 0 ]
