#!/usr/bin/env bash
# bench/run.sh — the whole mpmd-vs-Node comparison in one invocation
# (realistic fan-out with the official socket.io-client at N = 10, 100,
# 1000 and ingest to 1M stored events, unpinned; raw-websocket fan-out at the
# same N and growth to 5,000 clients, pinned). `make bench` runs it;
# BENCH_QUICK=1 makes it take seconds.
#
# In the pinned part the servers are pinned to CPU 1 (mpmd with GOMAXPROCS=1)
# and the load generator to CPU 0, so neither steals the other's core;
# BENCH_PIN=0 runs that part unpinned too (mpmd GOMAXPROCS=2). Extra
# arguments go to both parts. Results: bench/out/.
set -euo pipefail
cd "$(dirname "$0")/.."

mpmd=${MPMD:-bin/mpmd} # MPMD=path measures another mpmd build
[ -x "$mpmd" ] || { echo "bench/run.sh: $mpmd is missing; run 'make build' first" >&2; exit 1; }
[ -d bench/node-ref/node_modules/socket.io ] && [ -d bench/node-ref/node_modules/socket.io-client ] || (cd bench/node-ref && npm ci --no-audit --no-fund)
# -tags benchprofile: the store prefill for the 1M point (and the profiling server)
go build -trimpath -tags benchprofile -o bin/mpm-bench ./cmd/mpm-bench

out=bench/out
mkdir -p "$out"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
{
	echo "# machine"
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "nproc: $(nproc)"
	lscpu | grep -E '^(Model name|Architecture|CPU\(s\)|Thread|Core|Socket|Hypervisor|L2|L3)' || true
	free -h
	echo "go: $(go version)"
	echo "node: $(node --version)"
	echo "mpmd: $("$mpmd" --version 2>/dev/null || echo '?') ($mpmd)"
	echo "socket.io (node): $(node -p "require('./bench/node-ref/node_modules/socket.io/package.json').version")"
	echo "loadavg: $(cat /proc/loadavg)"
	echo "command: MPMD=$mpmd BENCH_QUICK=${BENCH_QUICK:-} BENCH_PIN=${BENCH_PIN:-1} bench/run.sh $*"
} | tee "$out/machine-$stamp.txt"

quick=()
[ -n "${BENCH_QUICK:-}" ] && [ "${BENCH_QUICK}" != 0 ] && quick=(--quick)
pin=(--pin)
gen=(taskset -c 0)
if [ "${BENCH_PIN:-1}" = 0 ] || ! command -v taskset >/dev/null; then
	pin=(--no-pin)
	gen=()
fi
# BENCH_QUICK/BENCH_PIN are read through the flags above, not the environment.
# 1. The headline (issue 13): the realistic fan-out series (official
#    socket.io-client listeners, /emit producers with 8 in flight) and
#    ingest, as a user's machine runs them: nothing pinned, mpmd on every
#    core, the load generator too.
env -u BENCH_QUICK -u BENCH_PIN bin/mpm-bench compare --mpmd "$mpmd" "${quick[@]}" --no-pin --skip fanout,memory,growth \
	--json "$out/results-$stamp-realistic.json" --out "$out/results-$stamp-realistic.md" "$@"
# 2. The raw-websocket fan-out series, memory and growth, pinned (what each server
#    can do on one core, the generator on the other).
env -u BENCH_QUICK -u BENCH_PIN GOMAXPROCS=1 "${gen[@]}" bin/mpm-bench compare --mpmd "$mpmd" "${quick[@]}" "${pin[@]}" --skip realistic,ingest \
	--json "$out/results-$stamp.json" --out "$out/results-$stamp.md" "$@"
echo "bench/run.sh: results in $out/results-$stamp-realistic.md (realistic fan-out, ingest) and $out/results-$stamp.md (raw fan-out, memory, growth), and .json" >&2
