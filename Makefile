# mpm — Makefile. `make` alone lists the targets.
# Parts of the build live in mk/*.mk (web assets, test dependencies, …); each
# appends to the variables below so this file stays the one entry point.
SHELL := /bin/bash
GO ?= go
BIN := bin
GOFLAGS_BUILD ?= -trimpath
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/mpm-dev/mpm/pkg/version.Version=$(VERSION)

# Targets that must run before `go build` (e.g. the dashboard assets).
BUILD_DEPS :=
# Targets that must run before the test suite (npm ci, apt-get install, …).
TEST_DEPS :=
# Extra suites run by `make test` after `go test`.
TEST_EXTRA :=
# Benchmarks run by `make bench`.
BENCH_TARGETS :=

.DEFAULT_GOAL := help

-include mk/*.mk

.PHONY: help
help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | sort | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

# mpm-hook is linked without cgo: a static binary skips the dynamic loader and
# libc, ≈1 ms of every hook's start-up (docs/PERFORMANCE-hook.md). mpm-hook is
# only the relay; its other commands are bin/mpmd's, which it runs.
.PHONY: build
build: $(BUILD_DEPS) ## Build bin/mpmd and bin/mpm-hook
	@mkdir -p $(BIN)
	$(GO) build $(GOFLAGS_BUILD) -ldflags '$(LDFLAGS)' -o $(BIN)/mpmd ./cmd/mpmd
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -ldflags '$(LDFLAGS)' -o $(BIN)/mpm-hook ./cmd/mpm-hook

.PHONY: run
run: build ## Build and run mpmd in the foreground (dashboard at http://127.0.0.1:8765/)
	$(BIN)/mpmd run

.PHONY: test
test: build $(TEST_DEPS) ## Run the whole test suite (unit, end-to-end, interop, browser)
	MPM_BIN_DIR=$(CURDIR)/$(BIN) $(GO) test -race -count=1 -timeout 20m ./...
	@for t in $(TEST_EXTRA); do $(MAKE) --no-print-directory $$t || exit 1; done

.PHONY: lint
lint: ## gofmt, go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

.PHONY: bench
bench: build $(TEST_DEPS) ## Run the benchmarks (results for docs/PERFORMANCE.md)
	$(GO) test -run '^$$' -bench . -benchmem ./...
	@for t in $(BENCH_TARGETS); do $(MAKE) --no-print-directory $$t || exit 1; done

.PHONY: clean
clean: ## Remove build output
	rm -rf $(BIN)
