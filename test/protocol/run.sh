#!/usr/bin/env bash
# Runs the official Engine.IO and Socket.IO protocol suites (README.md) against
# mpmd's transport stack, RUNS times in a row (default 1), and fails if any
# test failed in any run.
#
#   test/protocol/run.sh server BIN   both suites in full against the protocol
#                                     test server BIN (test/protocol/server)
#   test/protocol/run.sh mpmd BIN     the cases that apply to mpmd itself (no
#                                     echo handlers) against mpmd BIN
#
# Both run with the suites' reference settings: pingInterval 300 ms,
# pingTimeout 200 ms, maxPayload 1,000,000, connectTimeout 1 s. Each server
# listens on a free loopback port and is stopped by its pid at the end.
set -euo pipefail

mode=${1:?usage: run.sh server|mpmd BIN}
bin=${2:?usage: run.sh server|mpmd BIN}
runs=${RUNS:-1}
here=$(cd "$(dirname "$0")" && pwd)
mocha="$here/node_modules/.bin/mocha"
[ -x "$mocha" ] || { echo "run.sh: $mocha is missing: run npm ci in test/protocol (make deps-protocol)"; exit 1; }
[ -x "$bin" ] || { echo "run.sh: $bin is missing: run make build"; exit 1; }

tmp=$(mktemp -d /tmp/mpm-protocol.XXXXXX)
pid=
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

# wait_for FILE PATTERN: until FILE has a line matching PATTERN (10 s).
wait_for() {
	for _ in $(seq 200); do
		if grep -q "$2" "$1" 2>/dev/null; then return 0; fi
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "run.sh: $bin exited before it listened:"; cat "$tmp/stderr"; exit 1
		fi
		sleep 0.05
	done
	echo "run.sh: $bin did not start listening in 10 s:"; cat "$tmp/stderr"; exit 1
}

declare -a suites # "NAME URL GREP" entries
case "$mode" in
server)
	"$bin" >"$tmp/stdout" 2>"$tmp/stderr" &
	pid=$!
	wait_for "$tmp/stdout" '^socket '
	engine_url=$(awk '/^engine /{print $2}' "$tmp/stdout")
	socket_url=$(awk '/^socket /{print $2}' "$tmp/stdout")
	suites=("engine.io $engine_url ." "socket.io $socket_url .")
	;;
mpmd)
	mkdir -p "$tmp/config" "$tmp/state" "$tmp/run"
	XDG_CONFIG_HOME="$tmp/config" XDG_STATE_HOME="$tmp/state" XDG_RUNTIME_DIR="$tmp/run" \
		"$bin" run --port 0 --db :memory: --no-spool-drain --cors-origin '*' \
		--ping-interval 300ms --ping-timeout 200ms --max-payload 1000000 --connect-timeout 1s \
		>"$tmp/stdout" 2>"$tmp/stderr" &
	pid=$!
	wait_for "$tmp/run/mpm/mpmd.json" '"port"'
	port=$(sed -n 's/.*"port": *\([0-9]*\).*/\1/p' "$tmp/run/mpm/mpmd.json")
	# The Engine.IO part of the Socket.IO suite needs no handlers; of its
	# Socket.IO part, the cases that need none of the reference handlers
	# (mpmd has no echo, emits no "auth" and has no "/custom" namespace).
	suites=("socket.io http://127.0.0.1:$port ^Engine\.IO protocol|unknown namespace|invalid handshake|no handshake is received")
	;;
*)
	echo "usage: run.sh server|mpmd BIN"; exit 2 ;;
esac

failed=0
for run in $(seq "$runs"); do
	for entry in "${suites[@]}"; do
		read -r name url grep <<<"$entry"
		log="$tmp/$name.$run.log"
		if PROTOCOL_URL=$url "$mocha" --reporter dot --grep "$grep" "$here/$name/test-suite.js" >"$log" 2>&1; then
			status=ok
		else
			status=FAILED
			failed=$((failed + 1))
		fi
		echo "run $run/$runs $name ($mode): $status: $(grep -Eo '[0-9]+ (passing|failing|pending)' "$log" | tr '\n' ' ')"
		if [ "$status" = FAILED ]; then sed -n '/failing/,$p' "$log"; fi
	done
done
if [ "$failed" -gt 0 ]; then
	echo "run.sh: $failed suite run(s) of $((runs * ${#suites[@]})) failed"
	exit 1
fi
echo "run.sh: all $((runs * ${#suites[@]})) suite runs passed"
