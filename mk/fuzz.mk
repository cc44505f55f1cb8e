# mk/fuzz.mk — fuzzing and the long soak (issue 5 "Fault and abuse tests";
# docs/RELIABILITY.md says what each proves).
#
# Every `func FuzzXxx` in the repository is found with `go test -list` and run
# on its own (`-fuzz` takes one target in one package at a time), so a new
# fuzz target is picked up without editing this file. Seed corpora live in
# testdata/fuzz/FuzzXxx/ beside each target; what the fuzzer finds is written
# there too, and is then a regression test in every `go test` run.
#
# `make test` runs fuzz-short (FUZZTIME_SHORT each); `make fuzz` runs
# FUZZTIME each; `make soak` runs the million-event leak test.
TEST_EXTRA += fuzz-short

FUZZTIME ?= 60s
FUZZTIME_SHORT ?= 5s

# fuzz_targets prints "package FuzzName" for every fuzz target.
fuzz_targets = $(GO) test -list '^Fuzz' ./... 2>/dev/null | \
	awk '/^Fuzz/ { f[n++] = $$1 } /^ok/ { for (i = 0; i < n; i++) print $$2, f[i]; n = 0 }'

# run_fuzz runs every fuzz target for $(1).
define run_fuzz
	@set -o pipefail; targets=$$($(fuzz_targets)) || { echo "go test -list failed"; exit 1; }; \
	[ -n "$$targets" ] || { echo "no fuzz targets found"; exit 1; }; \
	echo "$$targets" | while read -r pkg fn; do \
		echo "== fuzz $$fn in $$pkg for $(1)"; \
		out=$$(mktemp); try=0; \
		until $(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(1) $$pkg 2>&1 | tee $$out; do \
			try=$$((try + 1)); \
			if [ $$try -le 3 ] && grep -q 'context deadline exceeded' $$out && ! grep -q 'Failing input written' $$out; then \
				echo "== $$fn: -fuzztime ran out while the fuzzer minimised an input (a Go toolchain flake, no failing input); running it again ($$try/3)"; \
			else rm -f $$out; exit 1; fi; \
		done; \
		rm -f $$out; \
	done
endef

.PHONY: fuzz
fuzz: ## Run every Go fuzz target for FUZZTIME (60s) each
	$(call run_fuzz,$(FUZZTIME))

.PHONY: fuzz-short
fuzz-short: ## Run every Go fuzz target briefly (FUZZTIME_SHORT, 5s each; part of make test)
	$(call run_fuzz,$(FUZZTIME_SHORT))

.PHONY: fuzz-list
fuzz-list: ## List the fuzz targets make fuzz runs
	@$(fuzz_targets)

.PHONY: soak
soak: build ## Leak soak: 1,000,000 events and 10,000 reconnects against the built mpmd (MPM_SOAK=1)
	MPM_SOAK=1 MPM_BIN_DIR=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout 60m -run 'TestNoLeak' -v ./test/fault/
