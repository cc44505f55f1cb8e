package settings

import (
	"fmt"
	"strings"

	"github.com/mpm-dev/mpm/pkg/event"
)

// Registration says whether mpm-hook install registers a hook event.
type Registration int

const (
	// Recommended events are registered by a plain `mpm-hook install`: a
	// command hook that exits 0 with empty output changes nothing there.
	Recommended Registration = iota
	// OptIn events are safe for Claude Code's work but change something a
	// person sees, so they are registered only when named (or with "all").
	OptIn
	// Never events are refused: registering any hook for them changes what
	// Claude Code does.
	Never
)

// HookEvent is one Claude Code hook event and how mpm-hook registers it.
type HookEvent struct {
	Name string
	// Matcher is the matcher of mpm-hook's group: "*" where the matcher is
	// a tool name, "" (no matcher: every occurrence) elsewhere.
	Matcher      string
	Registration Registration
	// Why says, in one line, why an OptIn or Never event is not in the
	// recommended set.
	Why string
}

// HookEvents are the hook events of Claude Code 2.1.332, in the order its
// binary lists them, each with how mpm-hook registers it. The evidence for
// each decision is in docs/HOOKS.md ("Which hook events install registers").
// Events not listed (newer Claude Code versions) may still be named with
// --events, and the relay forwards any hook_event_name it is given.
var HookEvents = []HookEvent{
	{Name: event.HookPreToolUse, Matcher: "*"},
	{Name: event.HookPostToolUse, Matcher: "*"},
	{Name: event.HookPostToolUseFailure, Matcher: "*"},
	{Name: event.HookPostToolBatch},
	{Name: event.HookNotification},
	{Name: event.HookUserPromptSubmit},
	{Name: event.HookUserPromptExpansion},
	{Name: event.HookSessionStart},
	{Name: event.HookSessionEnd},
	{Name: event.HookStop},
	{Name: event.HookStopFailure},
	{Name: event.HookSubagentStart},
	{Name: event.HookSubagentStop},
	{Name: event.HookPreCompact},
	{Name: event.HookPostCompact},
	{Name: event.HookPreModelSwitch},
	{Name: event.HookPostModelSwitch},
	{Name: event.HookPermissionRequest, Matcher: "*"},
	{Name: event.HookPermissionDenied, Matcher: "*"},
	{Name: event.HookSetup},
	{Name: event.HookTeammateIdle},
	{Name: event.HookTaskCreated},
	{Name: event.HookTaskCompleted},
	{Name: event.HookElicitation},
	{Name: event.HookElicitationResult},
	{Name: event.HookConfigChange},
	{Name: event.HookWorktreeCreate, Registration: Never,
		Why: "a WorktreeCreate hook replaces Claude Code's own worktree creation and must print the new worktree's path; one that prints nothing makes `claude --worktree` and worktree-isolated subagents fail"},
	{Name: event.HookWorktreeRemove, Registration: Never,
		Why: "for a worktree made by a WorktreeCreate hook, a WorktreeRemove hook replaces Claude Code's own removal, and one that exits 0 counts as done: the worktree is left on disk"},
	{Name: event.HookInstructionsLoaded},
	{Name: event.HookCwdChanged},
	// FileChanged's matcher names the files Claude Code watches; without one
	// mpm-hook starts no watcher and sees the files other hooks watch.
	{Name: event.HookFileChanged},
	{Name: event.HookDirectoryAdded},
	{Name: event.HookMessageDisplay, Registration: OptIn,
		Why: "with any MessageDisplay hook Claude Code shows streamed text a completed line at a time, each line after the hook has answered (also with async), instead of as it arrives"},
	{Name: event.HookPreSkillShellCommand, Matcher: "*"},
}

// DefaultEvents are the events a plain `mpm-hook install` registers: the
// Recommended ones of HookEvents.
var DefaultEvents = eventsWith(Recommended)

// OptInEvents are registered only when asked for.
var OptInEvents = eventsWith(OptIn)

// NeverEvents are never registered.
var NeverEvents = eventsWith(Never)

func eventsWith(r Registration) []string {
	var out []string
	for _, e := range HookEvents {
		if e.Registration == r {
			out = append(out, e.Name)
		}
	}
	return out
}

// LookupEvent returns what HookEvents says about the event name.
func LookupEvent(name string) (HookEvent, bool) {
	for _, e := range HookEvents {
		if e.Name == name {
			return e, true
		}
	}
	return HookEvent{}, false
}

// matcherOf is the matcher install writes for an event; an event this
// version does not know gets none, which matches every occurrence.
func matcherOf(name string) string {
	e, _ := LookupEvent(name)
	return e.Matcher
}

// RefusedError is an attempt to register mpm-hook for a Never event.
type RefusedError struct {
	Event string
	Why   string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("mpm-hook is never registered for %s: %s", e.Event, e.Why)
}

// CheckEvents returns a *RefusedError for the first Never event in events.
func CheckEvents(events []string) error {
	for _, name := range events {
		if e, ok := LookupEvent(name); ok && e.Registration == Never {
			return &RefusedError{Event: e.Name, Why: e.Why}
		}
	}
	return nil
}

// ExpandEvents turns the words of --events into event names: "default" is
// DefaultEvents, "all" is DefaultEvents and OptInEvents, anything else an
// event name, kept as given. Duplicates are dropped; the order is kept.
func ExpandEvents(words []string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(names ...string) {
		for _, n := range names {
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	for _, w := range words {
		switch strings.ToLower(w) {
		case "default":
			add(DefaultEvents...)
		case "all":
			add(DefaultEvents...)
			add(OptInEvents...)
		default:
			add(w)
		}
	}
	return out
}
