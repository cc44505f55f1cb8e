# mk/bench.mk — the mpmd-vs-Node comparison (issue 5 "Benchmarks"):
# `make bench` runs it after the Go benchmarks; BENCH_QUICK=1 for seconds.
BENCH_TARGETS += bench-compare
# pkg/bench TestRealisticAgainstMpmd runs clients.js (socket.io-client) from bench/node-ref
TEST_DEPS += bench-node-ref

NODE_REF := bench/node-ref

.PHONY: bench-node-ref
bench-node-ref: ## npm ci for the reference Node socket.io server (only when node_modules is missing)
	@[ -d $(NODE_REF)/node_modules/socket.io ] && [ -d $(NODE_REF)/node_modules/socket.io-client ] && [ -d $(NODE_REF)/node_modules/@socket.io/redis-adapter ] || (cd $(NODE_REF) && npm ci --no-audit --no-fund)

.PHONY: bench-compare
bench-compare: build bench-node-ref ## mpmd vs Node socket.io: fan-out N=10/100/1000, ingest to 1M stored, growth to 5,000 clients
	bash bench/run.sh

# The cluster benchmark (issue 12): deliveries/s and latency, one mpmd
# without Redis vs one and three cluster nodes on a real redis-server.
BENCH_TARGETS += bench-cluster

.PHONY: bench-cluster
bench-cluster: build deps-redis bench-node-ref ## Cluster: deliveries/s and p50/p99 for 1 node (no Redis), 1 and 3 nodes on Redis (MPM_BENCH_EVENTS, _CLIENTS, _RATE)
	MPM_BIN_DIR=$(CURDIR)/$(BIN) MPM_BENCH_CLUSTER=1 $(GO) test -count=1 -run '^TestBenchCluster$$' -v -timeout 10m ./test/cluster/
