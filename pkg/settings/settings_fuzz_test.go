package settings_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/mpm-dev/mpm/pkg/settings"
)

// userItems lists, per event, everything under "hooks" that is not one of
// mpm-hook's handlers (the user's handlers, and groups or values install
// cannot read), encoded, in order; and every other top-level key.
func userItems(root *settings.Object) []string {
	var out []string
	for _, k := range root.Keys() {
		v, _ := root.Get(k)
		if k != "hooks" {
			out = append(out, k+"="+string(settings.Marshal(v)))
			continue
		}
		if v == nil {
			continue // "hooks": null is no hooks; install replaces it
		}
		h, ok := v.(*settings.Object)
		if !ok {
			out = append(out, "hooks="+string(settings.Marshal(v)))
			continue
		}
		for _, ev := range h.Keys() {
			gv, _ := h.Get(ev)
			list, ok := gv.([]any)
			if !ok {
				out = append(out, ev+"="+string(settings.Marshal(gv)))
				continue
			}
			for _, g := range list {
				gobj, ok := g.(*settings.Object)
				if !ok {
					out = append(out, ev+" group "+string(settings.Marshal(g)))
					continue
				}
				hl, _ := gobj.Get("hooks")
				handlers, ok := hl.([]any)
				if !ok {
					out = append(out, ev+" group "+string(settings.Marshal(g)))
					continue
				}
				for _, hd := range handlers {
					if hobj, ok := hd.(*settings.Object); ok {
						if c, _ := hobj.Get("command"); c != nil {
							if s, ok := c.(string); ok && settings.IsOwn(s) {
								continue
							}
						}
					}
					out = append(out, ev+" handler "+string(settings.Marshal(hd)))
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// FuzzSettingsMerge installs mpm-hook into arbitrary settings JSON and takes
// it out again. It must never panic; when the file is usable, install must
// leave exactly one mpm-hook entry per event, keep every key and handler of
// the user's, write valid JSON, and be idempotent; uninstall must remove
// every mpm-hook entry and nothing else.
func FuzzSettingsMerge(f *testing.F) {
	for _, s := range []string{
		`{}`, ``, `[]`, `null`, `{"hooks":null}`, `{"hooks":[]}`, `{"hooks":{"Stop":{}}}`,
		`{"model":"opus","hooks":{"PreToolUse":[{"matcher":"Bash","hooks":[{"type":"command","command":"lint.sh"}]}]}}`,
		`{"hooks":{"Stop":[{"hooks":[{"type":"command","command":"mpm-hook"},{"type":"command","command":"/usr/bin/mpm-hook --port 1"}]},{"hooks":[{"type":"command","command":"'mpm-hook'"}]}]}}`,
		`{"hooks":{"Stop":[{"hooks":"x"},3,{"matcher":"*"},{"hooks":[1,null,{"command":7}]}],"SessionStart":[]}}`,
		`{"a":1,"a":2,"hooks":{"Stop":[{"hooks":[{"command":"mpm-hook.sh"}]}]}}`,
		"{\"hooks\":{\"\\u0000\":[{\"hooks\":[{\"command\":\"x\"}]}]},\"k\":[1.5e300,-0,\"\\ud83d\\ude00\"]}",
	} {
		f.Add([]byte(s))
	}
	entry := settings.Entry{Command: "/opt/mpm/bin/mpm-hook", Timeout: settings.DefaultTimeout}
	f.Fuzz(func(t *testing.T, content []byte) {
		root, err := settings.Parse("settings.json", content)
		if err != nil || root == nil {
			return // Load reports it with line and column; install stops there
		}
		user := userItems(root)
		file := &settings.File{Path: "settings.json", Exists: true, Root: root}
		if _, err := file.Install(settings.DefaultEvents, entry); err != nil {
			return // "hooks" or an event's value is not what Claude Code reads: the user's to fix
		}
		out := settings.Marshal(file.Root)
		if !json.Valid(out) {
			t.Fatalf("install wrote invalid JSON: %s", out)
		}
		inst := file.Installed()
		for _, ev := range settings.DefaultEvents {
			if got := inst[ev]; len(got) != 1 || got[0] != entry.Command {
				t.Fatalf("after install, %s has mpm-hook entries %q, want exactly one\n%s", ev, got, out)
			}
		}
		if got := userItems(file.Root); !slices.Equal(got, user) {
			t.Fatalf("install changed the user's settings:\n before %q\n after  %q", user, got)
		}

		// Idempotent: installing into what was written changes nothing.
		again, err := settings.Parse("settings.json", out)
		if err != nil {
			t.Fatalf("install's output does not parse: %v\n%s", err, out)
		}
		file2 := &settings.File{Path: "settings.json", Exists: true, Root: again}
		changed, err := file2.Install(settings.DefaultEvents, entry)
		if err != nil || changed {
			t.Fatalf("second install: changed %v, err %v\n%s", changed, err, out)
		}

		if _, err := file2.Uninstall(nil); err != nil {
			t.Fatalf("uninstall: %v", err)
		}
		if inst := file2.Installed(); len(inst) != 0 {
			t.Fatalf("after uninstall, mpm-hook entries remain: %v", inst)
		}
		if got := userItems(file2.Root); !slices.Equal(got, user) {
			t.Fatalf("uninstall changed the user's settings:\n before %q\n after  %q", user, got)
		}
	})
}
