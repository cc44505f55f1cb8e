#!/bin/sh
# mpm-hook.sh — run mpm-hook from a Claude Code hook when the binary is not on
# the PATH Claude Code gives its hooks, and from the plugin's hooks/hooks.json
# ("${CLAUDE_PLUGIN_ROOT}/hooks/mpm-hook.sh"). Register it like mpm-hook itself:
#   "command": "\"$CLAUDE_PROJECT_DIR\"/hooks/mpm-hook.sh"
# It runs the first of: $MPM_HOOK_BIN, ../bin/mpm-hook next to this script (a
# checkout built with `make build`, so the hooks and the binary come from the
# same checkout), mpm-hook on PATH, ~/.local/bin/mpm-hook, ~/go/bin/mpm-hook.
# When there is none it swallows the hook input and exits 0: a missing
# observer must never block Claude Code.
for c in "${MPM_HOOK_BIN:-}" "$(dirname "$0")/../bin/mpm-hook" \
	"$(command -v mpm-hook 2>/dev/null)" "$HOME/.local/bin/mpm-hook" "$HOME/go/bin/mpm-hook"; do
	if [ -n "$c" ] && [ -x "$c" ] && [ ! -d "$c" ]; then
		exec "$c" "$@"
	fi
done
cat >/dev/null 2>&1
exit 0
