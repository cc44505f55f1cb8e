# mk/bench.mk — the mpmd-vs-Node comparison (issue 5 "Benchmarks"):
# `make bench` runs it after the Go benchmarks; BENCH_QUICK=1 for seconds.
BENCH_TARGETS += bench-compare

NODE_REF := bench/node-ref

.PHONY: bench-node-ref
bench-node-ref: ## npm ci for the reference Node socket.io server (only when node_modules is missing)
	@[ -d $(NODE_REF)/node_modules/socket.io ] || (cd $(NODE_REF) && npm ci --no-audit --no-fund)

.PHONY: bench-compare
bench-compare: build bench-node-ref ## mpmd vs Node socket.io: fan-out N=10/100/1000, ingest to 1M stored, growth to 5,000 clients
	bash bench/run.sh
