#!/usr/bin/env bash
# bench/profile.sh — CPU profiles of mpmd's server under the fan-out load, for
# docs/PERFORMANCE.md. mpmd has no pprof endpoint, so this builds mpm-bench
# with -tags benchprofile, whose `serve` command runs pkg/server + pkg/store in
# process (as `mpmd run` wires them) and writes a CPU profile when stopped.
# Pinned like bench/run.sh: server on CPU 1 (GOMAXPROCS=1), load on CPU 0.
# Usage: bench/profile.sh [N...]   (default: 0 10 100 1000; 0 = ingest alone, no
# clients); output: bench/out/prof-*/
set -euo pipefail
cd "$(dirname "$0")/.."
ns=("$@"); [ ${#ns[@]} -gt 0 ] || ns=(0 10 100 1000)
dur=${BENCH_PROFILE_SECONDS:-5}s
out=bench/out/prof-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out"
go build -tags benchprofile -o "$out/mpm-bench" ./cmd/mpm-bench
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
for n in "${ns[@]}"; do
	for path in emit hook; do
		rm -f "$tmp"/events.db*
		HOME=$tmp XDG_STATE_HOME=$tmp/state XDG_CONFIG_HOME=$tmp/config XDG_RUNTIME_DIR=$tmp GOMAXPROCS=1 \
			taskset -c 1 "$out/mpm-bench" serve --port "$port" --db "$tmp/events.db" --cpuprofile "$out/cpu-n$n-$path.pprof" 2>>"$out/serve.log" &
		pid=$!
		for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.05; done
		GOMAXPROCS=1 taskset -c 0 "$out/mpm-bench" fanout --url "http://127.0.0.1:$port" --pid "$pid" -n "$n" --path "$path" --duration "$dur" \
			--workers "$([ "$path" = emit ] && echo 32 || echo 16)" --ack-window 32 | tee -a "$out/summary.txt"
		kill "$pid"; wait "$pid" || true
		go tool pprof -top -nodecount=30 "$out/mpm-bench" "$out/cpu-n$n-$path.pprof" > "$out/top-n$n-$path.txt" 2>/dev/null
		go tool pprof -top -cum -nodecount=60 "$out/mpm-bench" "$out/cpu-n$n-$path.pprof" > "$out/cum-n$n-$path.txt" 2>/dev/null
	done
done
echo "bench/profile.sh: profiles in $out (go tool pprof $out/mpm-bench $out/cpu-nN-PATH.pprof)" >&2
