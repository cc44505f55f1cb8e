# The real Claude Code CLI for the end-to-end tests (issue 9): the npm package
# pinned in test/claudecode, run by pkg/claudetest against a scripted stand-in
# for the Messages API. Only its native binary is used
# (node_modules/@anthropic-ai/claude-code-<platform>/claude); npm may warn
# that the package's postinstall (which copies that binary over
# bin/claude.exe) is not approved, which does not matter here.

CLAUDE_DIR := test/claudecode

.PHONY: deps-claude
deps-claude: $(CLAUDE_DIR)/node_modules/.package-lock.json ## npm ci the pinned Claude Code CLI in test/claudecode when missing or older than the lock

# npm ci writes node_modules/.package-lock.json; its mtime says when the tree
# was last installed from the lock.
$(CLAUDE_DIR)/node_modules/.package-lock.json: $(CLAUDE_DIR)/package-lock.json $(CLAUDE_DIR)/package.json
	@command -v npm >/dev/null 2>&1 || { set -e; $(call apt_install_sh,nodejs npm); }
	cd $(CLAUDE_DIR) && npm ci --no-audit --no-fund
	@touch $@

.PHONY: claude-fixtures
claude-fixtures: build deps-claude ## Re-record pkg/claudetest/testdata from the real CLI (hook inputs and transcripts)
	MPM_BIN_DIR=$(CURDIR)/$(BIN) $(GO) test -count=1 -run 'Test' ./$(CLAUDE_DIR) -record

TEST_DEPS += deps-claude
