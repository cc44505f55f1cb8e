# mk/hook.mk — mpm-hook (issue 3): the spawn-latency benchmark, and the
# Python anchor's dependencies. `make bench` runs bench-hook after the Go
# benchmarks; HOOK_BENCH_N=50 (or BENCH_QUICK=1) makes it take seconds.
BENCH_TARGETS += bench-hook bench-hook-claude

HOOK_BENCH_N ?= $(if $(filter-out 0,$(BENCH_QUICK)),50,500)
HOOK_BENCH_PYTHON_N ?= $(if $(filter-out 0,$(BENCH_QUICK)),5,50)
HOOK_PYTHON ?= /usr/bin/python3
HOOK_SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
# HOOK_BENCH_BASELINE_REV=main (any git revision) also builds that revision's
# mpm-hook into $(HOOK_BENCH_BASELINE_TMP)/bin (outside the checkout) and runs it interleaved with this one,
# mpmd up and down, so a change is measured against its baseline in the same
# run; HOOK_BENCH_BASELINE=DIR uses a mpm-hook already built in DIR.
HOOK_BENCH_BASELINE_REV ?=
HOOK_BENCH_BASELINE_TMP ?= /tmp/mpm-hook-baseline-$(shell id -u)
HOOK_BENCH_BASELINE ?= $(if $(HOOK_BENCH_BASELINE_REV),$(HOOK_BENCH_BASELINE_TMP)/bin)

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
bench-hook: build bench-hook-deps hook-baseline ## Spawn-to-exit latency of mpm-hook (mpmd up and down) vs a stdlib Go floor and python-socketio
	@mkdir -p bench/out
	@echo "command: make bench-hook HOOK_BENCH_N=$(HOOK_BENCH_N)  (go run ./bench/hooklatency -bin $(BIN) -n $(HOOK_BENCH_N) -python-n $(HOOK_BENCH_PYTHON_N))"
	@nproc; lscpu | head -n 15; uptime
	$(GO) run ./bench/hooklatency -bin $(BIN) -n $(HOOK_BENCH_N) -python-n $(HOOK_BENCH_PYTHON_N) -python $(HOOK_PYTHON) \
		$(if $(HOOK_BENCH_BASELINE),-baseline $(HOOK_BENCH_BASELINE)) -out bench/out/hooklatency-$$(date -u +%Y%m%dT%H%M%SZ).md
	@uptime

# The baseline mpm-hook for HOOK_BENCH_BASELINE_REV (nothing without it).
.PHONY: hook-baseline
hook-baseline:
	@if [ -n "$(HOOK_BENCH_BASELINE_REV)" ]; then \
		set -e; rm -rf $(HOOK_BENCH_BASELINE_TMP); mkdir -p $(HOOK_BENCH_BASELINE_TMP)/src $(HOOK_BENCH_BASELINE_TMP)/bin; \
		git archive $(HOOK_BENCH_BASELINE_REV) | tar -x -C $(HOOK_BENCH_BASELINE_TMP)/src; \
		(cd $(HOOK_BENCH_BASELINE_TMP)/src && CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -ldflags '$(LDFLAGS)' -o ../bin/mpm-hook ./cmd/mpm-hook); \
		echo "baseline: mpm-hook of $(HOOK_BENCH_BASELINE_REV) ($$(git rev-parse --short $(HOOK_BENCH_BASELINE_REV)))"; \
	fi

HOOK_CLAUDE_RUNS ?= $(if $(filter-out 0,$(BENCH_QUICK)),4,12)

.PHONY: bench-hook-claude
bench-hook-claude: build deps-claude hook-baseline ## Claude Code's own Stop-hook timing (transcript stop_hook_summary): mpm-hook vs an empty Go program, each registered for every hook event
	@mkdir -p bench/out
	@echo "command: make bench-hook-claude HOOK_CLAUDE_RUNS=$(HOOK_CLAUDE_RUNS)"; nproc; uptime
	MPM_BENCH_HOOK_CLAUDE=1 MPM_BENCH_HOOK_CLAUDE_RUNS=$(HOOK_CLAUDE_RUNS) MPM_BIN_DIR=$(CURDIR)/$(BIN) \
		$(if $(HOOK_BENCH_BASELINE),MPM_BENCH_HOOK_CLAUDE_BASELINE=$(abspath $(HOOK_BENCH_BASELINE))) \
		MPM_BENCH_OUT=$(CURDIR)/bench/out/hookclaude-$$(date -u +%Y%m%dT%H%M%SZ).md \
		$(GO) test -count=1 -run '^TestBenchHookClaude$$' -v -timeout 30m ./$(CLAUDE_DIR)/
	@uptime
