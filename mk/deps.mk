# Test dependencies: what the end-to-end and interop suites need besides Go.
# Every target installs only what is missing, so `make test` on a machine that
# has everything does nothing here, and on a brand-new Debian machine (CI, as
# root) it installs it all. `apt-get update` runs only when an install is due.

INTEROP_DIR := test/interop
# The system interpreter on purpose: Debian's python3-socketio lives there,
# not in whatever python3 comes first on PATH (pyenv, venvs).
SYSTEM_PYTHON ?= /usr/bin/python3
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

# Every mk/*.mk appends to TEST_DEPS; the recipe expands it when it runs, after
# all of them are read, so the umbrella covers every suite's dependencies.
.PHONY: test-deps
test-deps: ## Install what the test suites need (every TEST_DEPS target: python3-socketio, npm ci, …)
	@$(MAKE) --no-print-directory $(TEST_DEPS)

.PHONY: deps-python
deps-python: ## Install python3-socketio, python3-websocket, python3-requests for /usr/bin/python3 if missing
	@if [ -x $(SYSTEM_PYTHON) ] && $(SYSTEM_PYTHON) -c 'import socketio, websocket, requests' 2>/dev/null; then \
		echo "deps-python: python3-socketio, python3-websocket, python3-requests already installed"; \
	else \
		set -e; $(call apt_install_sh,python3 python3-socketio python3-websocket python3-requests); \
		$(SYSTEM_PYTHON) -c 'import socketio, websocket, requests'; \
	fi

.PHONY: deps-node-interop
deps-node-interop: $(INTEROP_DIR)/node_modules/.package-lock.json ## npm ci in test/interop when node_modules is missing or older than the lock

# npm ci writes node_modules/.package-lock.json; its mtime says when the tree
# was last installed from the lock.
$(INTEROP_DIR)/node_modules/.package-lock.json: $(INTEROP_DIR)/package-lock.json $(INTEROP_DIR)/package.json
	@command -v npm >/dev/null 2>&1 || { set -e; $(call apt_install_sh,nodejs npm); }
	cd $(INTEROP_DIR) && npm ci --no-audit --no-fund
	@touch $@

.PHONY: deps-redis
deps-redis: ## Install redis-server if missing (for the multi-node tests)
	@if command -v redis-server >/dev/null 2>&1; then \
		echo "deps-redis: redis-server already installed"; \
	else \
		set -e; $(call apt_install_sh,redis-server); \
	fi

.PHONY: deps-nginx
deps-nginx: ## Install nginx if missing (the cluster test puts it in front of the nodes)
	@if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then \
		echo "deps-nginx: nginx already installed"; \
	else \
		set -e; $(call apt_install_sh,nginx); \
	fi

.PHONY: deps-systemd
deps-systemd: ## Install systemd's tools if systemd-analyze is missing (the service unit test verifies the unit with it)
	@if command -v systemd-analyze >/dev/null 2>&1; then \
		echo "deps-systemd: systemd-analyze already installed"; \
	else \
		set -e; $(call apt_install_sh,systemd); \
	fi

.PHONY: deps-promtool
deps-promtool: ## Install promtool (Debian's prometheus) if missing: the /metrics test checks mpmd's output with it
	@if command -v promtool >/dev/null 2>&1; then \
		echo "deps-promtool: promtool already installed"; \
	else \
		set -e; $(call apt_install_sh,prometheus); \
	fi

# apt_install_sh installs Debian packages $(1), refreshing the package lists
# first; one shell command line, for use inside a recipe's if/else.
apt_install_sh = $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q -o DPkg::Lock::Timeout=120 && \
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=120 $(1)

TEST_DEPS += deps-python deps-node-interop deps-systemd deps-promtool deps-redis deps-nginx
