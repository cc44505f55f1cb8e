# The dashboard (issue 4): web/ is built by esbuild into pkg/dashboard/dist,
# which bin/mpmd embeds; test/browser drives it in Debian's Chromium.
# Every target installs only what is missing: on a machine that has it all,
# `make build` only re-bundles (well under a second).

WEB_DIR := web
DASHBOARD_DIST := pkg/dashboard/dist
CHROMIUM ?= /usr/bin/chromium
WEB_SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: web
web: $(WEB_DIR)/node_modules/.package-lock.json ## Build the dashboard assets into pkg/dashboard/dist
	cd $(WEB_DIR) && node build.mjs

# npm ci writes node_modules/.package-lock.json; its mtime says when the tree
# was last installed from the lock.
$(WEB_DIR)/node_modules/.package-lock.json: $(WEB_DIR)/package-lock.json $(WEB_DIR)/package.json
	@command -v npm >/dev/null 2>&1 || { set -e; $(WEB_SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q; \
		$(WEB_SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nodejs npm; }
	cd $(WEB_DIR) && npm ci --no-audit --no-fund
	@touch $@

.PHONY: deps-chromium
deps-chromium: ## Install Debian's chromium if /usr/bin/chromium is missing (browser tests)
	@if [ -x $(CHROMIUM) ]; then \
		echo "deps-chromium: $(CHROMIUM) already installed"; \
	else \
		set -e; $(WEB_SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q; \
		$(WEB_SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
		[ -x $(CHROMIUM) ]; \
	fi

.PHONY: test-browser
test-browser: deps-chromium $(WEB_DIR)/node_modules/.package-lock.json ## Run the dashboard's browser tests (needs bin/mpmd)
	@[ -x $(BIN)/mpmd ] || { echo "test-browser: $(BIN)/mpmd is missing: run make build"; exit 1; }
	node --test --test-concurrency=1 --test-timeout=300000 test/browser/*.test.mjs

.PHONY: dashboard-screenshots
dashboard-screenshots: deps-chromium $(WEB_DIR)/node_modules/.package-lock.json ## Retake docs/img/dashboard*.png from a scripted run against bin/mpmd
	node test/browser/screenshot.mjs docs/img

.PHONY: bench-browser
bench-browser: deps-chromium $(WEB_DIR)/node_modules/.package-lock.json ## Measure the dashboard in the browser (100k events + 1,000/s)
	@[ -x $(BIN)/mpmd ] || { echo "bench-browser: $(BIN)/mpmd is missing: run make build"; exit 1; }
	node test/browser/bench.mjs

BUILD_DEPS += web
TEST_EXTRA += test-browser
BENCH_TARGETS += bench-browser
