package claudecode_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/mpm-dev/mpm/pkg/claudetest"
	"github.com/mpm-dev/mpm/pkg/mpmdtest"
)

// record rewrites the fixtures: `make claude-fixtures`, or
// `go test ./test/claudecode -record` with MPM_BIN_DIR set.
var record = flag.Bool("record", false, "write the scenarios' recordings into pkg/claudetest/testdata")

// fixtureHome is where a fixture says the session ran: the temporary HOME
// becomes /home/user, the project /home/user/project.
const fixtureHome = "/home/user"

// fixtureDir is pkg/claudetest/testdata/name.
func fixtureDir(t *testing.T, name string) string {
	return filepath.Join(mpmdtest.RepoRoot(t), "pkg", "claudetest", "testdata", name)
}

// fixture writes the outcome as pkg/claudetest/testdata/name when -record
// is given; otherwise it checks that the committed fixture still shows the
// hook events this run fired (a newer CLI that fires others needs new
// fixtures).
func fixture(t *testing.T, name string, o *outcome) {
	t.Helper()
	dir := fixtureDir(t, name)
	if *record {
		writeFixture(t, dir, o)
		return
	}
	b, err := os.ReadFile(filepath.Join(dir, "hooks.jsonl"))
	if err != nil {
		t.Errorf("fixture %s: %v; record it with `make claude-fixtures`", name, err)
		return
	}
	var committed []hookInput
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var h struct {
			Name string `json:"hook_event_name"`
		}
		if err := json.Unmarshal(sc.Bytes(), &h); err != nil {
			t.Fatalf("fixture %s/hooks.jsonl: %v", name, err)
		}
		committed = append(committed, hookInput{Name: h.Name})
	}
	if got, want := hookNames(o.Hooks), hookNames(committed); got != want {
		t.Errorf("fixture %s is stale: this run fired %s, the fixture holds %s; re-record with `make claude-fixtures`", name, got, want)
	}
}

// hookNames is the sorted set of the hook event names in hs.
func hookNames(hs []hookInput) string {
	set := map[string]bool{}
	for _, h := range hs {
		set[h.Name] = true
	}
	var out []string
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

var nonAlnum = regexp.MustCompile(`[^a-zA-Z0-9]`)

// normaliser replaces the run's temporary paths with fixed ones, the
// project's transcript directory name (Claude Code's cwd with every other
// character a '-') included, and mpm-hook's directory with /usr/local/bin.
func normaliser(t *testing.T, root string) *strings.Replacer {
	project := filepath.Join(root, "project")
	return strings.NewReplacer(
		filepath.Dir(mpmdtest.HookBin(t))+"/", "/usr/local/bin/",
		nonAlnum.ReplaceAllString(project, "-"), nonAlnum.ReplaceAllString(fixtureHome+"/project", "-"),
		project, fixtureHome+"/project",
		filepath.Join(root, "home"), fixtureHome,
		filepath.Join(root, "tmp"), "/tmp",
		root, fixtureHome+"/.mpm-test",
	)
}

// writeFixture writes dir afresh: hooks.jsonl (every hook input, in the
// order the hooks ran), projects/… (the session's transcripts as Claude Code
// wrote them under ~/.claude/projects) and standin.json (the calls the
// stand-in answered and the usage it reported).
func writeFixture(t *testing.T, dir string, o *outcome) {
	t.Helper()
	norm := normaliser(t, o.World.root)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	write := func(rel string, b []byte) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(norm.Replace(string(b))), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	var hooks bytes.Buffer
	for _, h := range o.Hooks {
		hooks.Write(bytes.TrimSpace(h.Raw))
		hooks.WriteByte('\n')
	}
	write("hooks.jsonl", hooks.Bytes())

	projects := o.World.claude.ProjectsDir()
	sessionDir := strings.TrimSuffix(o.Transcript, ".jsonl")
	for _, p := range []string{o.Transcript, sessionDir} {
		err := filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(projects, path)
			write(filepath.Join("projects", norm.Replace(rel)), b)
			return nil
		})
		if err != nil && !(p == sessionDir && os.IsNotExist(err)) {
			t.Fatal(err)
		}
	}

	type call struct {
		Seq        int              `json:"seq"`
		Agent      string           `json:"agent"` // the first user message, cut
		Turn       int              `json:"turn"`
		MessageID  string           `json:"message_id"`
		RequestID  string           `json:"request_id"`
		Model      string           `json:"model"`
		StopReason string           `json:"stop_reason"`
		Usage      claudetest.Usage `json:"usage"`
	}
	var calls []call
	for _, x := range o.Exchanges {
		first := x.Request.FirstUserText()
		if i := strings.LastIndex(first, "</system-reminder>"); i >= 0 {
			first = first[i+len("</system-reminder>"):]
		}
		first = strings.TrimSpace(first)
		if r := []rune(first); len(r) > 80 {
			first = string(r[:80])
		}
		calls = append(calls, call{x.Request.Seq, first, x.Request.Turn(), x.MessageID, x.RequestID, x.Model, x.StopReason, x.Usage})
	}
	b, _ := json.MarshalIndent(map[string]any{
		"claude_code_version": claudetest.Version(t),
		"session_id":          o.SessionID,
		"transcript":          "projects/" + norm.Replace(strings.TrimPrefix(o.Transcript, projects+"/")),
		"usage":               o.Usage,
		"usage_by_model":      o.UsageByModel,
		"calls":               calls,
	}, "", "  ")
	write("standin.json", append(b, '\n'))
	t.Logf("recorded %s", dir)
}
