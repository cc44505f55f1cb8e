# The official Engine.IO and Socket.IO protocol suites (issue 14), vendored
# in test/protocol at pinned commits (test/protocol/README.md), run with
# their reference settings against mpmd's transport stack: in full against
# the protocol test server (mpmd's server with the suites' reference
# handlers), and the cases that need no handlers against bin/mpmd.

PROTOCOL_DIR := test/protocol
PROTOCOL_SERVER := $(BIN)/mpm-protocol-server
STRESS_RUNS ?= 20

.PHONY: deps-protocol
deps-protocol: $(PROTOCOL_DIR)/node_modules/.package-lock.json ## npm ci in test/protocol when node_modules is missing or older than the lock

# npm ci writes node_modules/.package-lock.json; its mtime says when the tree
# was last installed from the lock.
$(PROTOCOL_DIR)/node_modules/.package-lock.json: $(PROTOCOL_DIR)/package-lock.json $(PROTOCOL_DIR)/package.json
	@command -v npm >/dev/null 2>&1 || { set -e; $(call apt_install_sh,nodejs npm); }
	cd $(PROTOCOL_DIR) && npm ci --no-audit --no-fund
	@touch $@

.PHONY: protocol-server
protocol-server: ## Build bin/mpm-protocol-server (test/protocol/server)
	@mkdir -p $(BIN)
	$(GO) build -o $(PROTOCOL_SERVER) ./$(PROTOCOL_DIR)/server

.PHONY: test-protocol
test-protocol: deps-protocol protocol-server ## Run the official Engine.IO and Socket.IO protocol suites (needs bin/mpmd)
	@[ -x $(BIN)/mpmd ] || { echo "test-protocol: $(BIN)/mpmd is missing: run make build"; exit 1; }
	$(PROTOCOL_DIR)/run.sh server $(PROTOCOL_SERVER)
	$(PROTOCOL_DIR)/run.sh mpmd $(BIN)/mpmd

.PHONY: stress-protocol
stress-protocol: build deps-protocol protocol-server ## Run both protocol suites STRESS_RUNS (20) times in a row; fails on any failure
	RUNS=$(STRESS_RUNS) $(PROTOCOL_DIR)/run.sh server $(PROTOCOL_SERVER)
	RUNS=$(STRESS_RUNS) $(PROTOCOL_DIR)/run.sh mpmd $(BIN)/mpmd

TEST_DEPS += deps-protocol
TEST_EXTRA += test-protocol
