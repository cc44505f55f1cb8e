#!/bin/sh
# mpm-hook.sh — run mpm-hook from a Claude Code hook when the binary is not on
# the PATH Claude Code gives its hooks. Register it like mpm-hook itself:
#   "command": "\"$CLAUDE_PROJECT_DIR\"/hooks/mpm-hook.sh"
# It looks for the binary in $MPM_HOOK_BIN, on PATH, next to this script's
# ../bin (a checkout built with `make build`), in ~/.local/bin and ~/go/bin.
# When there is none it swallows the hook input and exits 0: a missing
# observer must never block Claude Code.
for c in "${MPM_HOOK_BIN:-}" "$(command -v mpm-hook 2>/dev/null)" \
	"$(dirname "$0")/../bin/mpm-hook" "$HOME/.local/bin/mpm-hook" "$HOME/go/bin/mpm-hook"; do
	if [ -n "$c" ] && [ -x "$c" ] && [ ! -d "$c" ]; then
		exec "$c" "$@"
	fi
done
cat >/dev/null 2>&1
exit 0
