package event

import (
	"strings"
	"unicode"
)

// Claude Code hook event names (the hook_event_name field of hook input):
// the 34 events of Claude Code 2.1.332. Any other name is still a hook event
// (HookEventName maps it); these are the ones this version knows.
const (
	HookPreToolUse           = "PreToolUse"
	HookPostToolUse          = "PostToolUse"
	HookPostToolUseFailure   = "PostToolUseFailure"
	HookPostToolBatch        = "PostToolBatch"
	HookNotification         = "Notification"
	HookUserPromptSubmit     = "UserPromptSubmit"
	HookUserPromptExpansion  = "UserPromptExpansion"
	HookSessionStart         = "SessionStart"
	HookSessionEnd           = "SessionEnd"
	HookStop                 = "Stop"
	HookStopFailure          = "StopFailure"
	HookSubagentStart        = "SubagentStart"
	HookSubagentStop         = "SubagentStop"
	HookPreCompact           = "PreCompact"
	HookPostCompact          = "PostCompact"
	HookPreModelSwitch       = "PreModelSwitch"
	HookPostModelSwitch      = "PostModelSwitch"
	HookPermissionRequest    = "PermissionRequest"
	HookPermissionDenied     = "PermissionDenied"
	HookSetup                = "Setup"
	HookTeammateIdle         = "TeammateIdle"
	HookTaskCreated          = "TaskCreated"
	HookTaskCompleted        = "TaskCompleted"
	HookElicitation          = "Elicitation"
	HookElicitationResult    = "ElicitationResult"
	HookConfigChange         = "ConfigChange"
	HookWorktreeCreate       = "WorktreeCreate"
	HookWorktreeRemove       = "WorktreeRemove"
	HookInstructionsLoaded   = "InstructionsLoaded"
	HookCwdChanged           = "CwdChanged"
	HookFileChanged          = "FileChanged"
	HookDirectoryAdded       = "DirectoryAdded"
	HookMessageDisplay       = "MessageDisplay"
	HookPreSkillShellCommand = "PreSkillShellCommand"
)

// HookEvents are the hook events Claude Code 2.1.332 has
// (docs/CLAUDE-CODE.md). Others may come; the relay maps any name.
var HookEvents = []string{
	HookPreToolUse,
	HookPostToolUse,
	HookPostToolUseFailure,
	HookPostToolBatch,
	HookNotification,
	HookUserPromptSubmit,
	HookUserPromptExpansion,
	HookSessionStart,
	HookSessionEnd,
	HookStop,
	HookStopFailure,
	HookSubagentStart,
	HookSubagentStop,
	HookPreCompact,
	HookPostCompact,
	HookPreModelSwitch,
	HookPostModelSwitch,
	HookPermissionRequest,
	HookPermissionDenied,
	HookSetup,
	HookTeammateIdle,
	HookTaskCreated,
	HookTaskCompleted,
	HookElicitation,
	HookElicitationResult,
	HookConfigChange,
	HookWorktreeCreate,
	HookWorktreeRemove,
	HookInstructionsLoaded,
	HookCwdChanged,
	HookFileChanged,
	HookDirectoryAdded,
	HookMessageDisplay,
	HookPreSkillShellCommand,
}

// HookErrorEvent is the /hook event the relay sends for input it could not use.
const HookErrorEvent = "hook_error"

// hookNames are the guide's names for the three hook events it names; every
// other hook event goes to /hook under the snake_case of its name.
var hookNames = map[string]string{
	HookUserPromptSubmit: "user_prompt",
	HookPreToolUse:       "pre_tool",
	HookPostToolUse:      "post_tool",
}

// HookEventName maps a Claude Code hook_event_name to the /hook event name:
// "PreToolUse" → "pre_tool", "SessionStart" → "session_start", and any future
// "FooBar" → "foo_bar". Characters that are not valid in event names become
// '_', so the result passes ValidateName unless it is empty or too long.
func HookEventName(hookEventName string) string {
	if n, ok := hookNames[hookEventName]; ok {
		return n
	}
	return SnakeCase(hookEventName)
}

// SnakeCase turns "PostToolUseFailure" into "post_tool_use_failure" and
// "HTTPRequest" into "http_request".
func SnakeCase(s string) string {
	var b strings.Builder
	rs := []rune(s)
	for i, r := range rs {
		switch {
		case unicode.IsUpper(r):
			if i > 0 && (unicode.IsLower(rs[i-1]) || unicode.IsDigit(rs[i-1]) ||
				(i+1 < len(rs) && unicode.IsLower(rs[i+1]) && unicode.IsUpper(rs[i-1]))) {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(r))
		case r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)) || r == '_' || r == '-' || r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}
