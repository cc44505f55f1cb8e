# mk/hook.mk — mpm-hook (issue 3): the spawn-latency benchmark, and the
# Python anchor's dependencies. `make bench` runs bench-hook after the Go
# benchmarks; HOOK_BENCH_N=50 (or BENCH_QUICK=1) makes it take seconds.
BENCH_TARGETS += bench-hook

HOOK_BENCH_N ?= $(if $(filter-out 0,$(BENCH_QUICK)),50,500)
HOOK_BENCH_PYTHON_N ?= $(if $(filter-out 0,$(BENCH_QUICK)),5,50)
HOOK_PYTHON ?= /usr/bin/python3
HOOK_SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: bench-hook-deps
bench-hook-deps: ## Install python3-socketio and python3-websocket for the hook benchmark's Python anchor (only when missing)
	@if $(HOOK_PYTHON) -c 'import socketio, websocket' 2>/dev/null; then \
		echo "bench-hook-deps: python3-socketio and python3-websocket already installed"; \
	else \
		set -e; $(HOOK_SUDO) apt-get update; \
		$(HOOK_SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y python3-socketio python3-websocket; \
		$(HOOK_PYTHON) -c 'import socketio, websocket'; \
	fi

.PHONY: bench-hook
bench-hook: build bench-hook-deps ## Spawn-to-exit latency of mpm-hook (mpmd up and down) vs a stdlib Go floor and python-socketio
	@mkdir -p bench/out
	@echo "command: make bench-hook HOOK_BENCH_N=$(HOOK_BENCH_N)  (go run ./bench/hooklatency -bin $(BIN) -n $(HOOK_BENCH_N) -python-n $(HOOK_BENCH_PYTHON_N))"
	@nproc; lscpu | head -n 15
	$(GO) run ./bench/hooklatency -bin $(BIN) -n $(HOOK_BENCH_N) -python-n $(HOOK_BENCH_PYTHON_N) -python $(HOOK_PYTHON) \
		-out bench/out/hooklatency-$$(date -u +%Y%m%dT%H%M%SZ).md
