// Package style_test enforces house rules that no compiler checks: every Go
// package has a doc comment, mpm-hook links no Socket.IO library, and only
// pkg/broadcast uses the Socket.IO server library.
package style_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mpm-dev/mpm/pkg/mpmdtest"
)

// TestEveryPackageHasADocComment holds mpm's own packages to it; the
// library copies in third_party/ are kept as their module serves them
// (third_party/README.md), patches aside.
func TestEveryPackageHasADocComment(t *testing.T) {
	root := mpmdtest.RepoRoot(t)
	dirs := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p == filepath.Join(root, "third_party") {
			return filepath.SkipDir
		}
		if d.IsDir() && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".") && p != root) {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
			dirs[filepath.Dir(p)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for dir := range dirs {
		pkgs, err := parser.ParseDir(token.NewFileSet(), dir, func(fi os.FileInfo) bool {
			return !strings.HasSuffix(fi.Name(), "_test.go")
		}, parser.ParseComments|parser.PackageClauseOnly)
		if err != nil {
			t.Errorf("%s: %v", dir, err)
			continue
		}
		for name, pkg := range pkgs {
			documented := false
			for _, f := range pkg.Files {
				if f.Doc != nil && strings.TrimSpace(f.Doc.Text()) != "" {
					documented = true
				}
			}
			if !documented {
				rel, _ := filepath.Rel(root, dir)
				t.Errorf("package %s (%s) has no doc comment", name, rel)
			}
		}
	}
}

// TestHookLinksNoSocketIOLibrary keeps mpm-hook (the relay, and pkg/hookcli,
// its command line, which mpmd runs) off the Socket.IO library:
// its package initialisation alone costs a hook more than its latency budget
// (docs/HOOKS.md). mpm-hook speaks Socket.IO through pkg/wire.
func TestHookLinksNoSocketIOLibrary(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	for _, prog := range []string{"./cmd/mpm-hook", "./pkg/hookcli"} {
		cmd := exec.Command(goBin, "list", "-deps", prog)
		cmd.Dir = mpmdtest.RepoRoot(t)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", prog, err)
		}
		for dep := range strings.Lines(string(out)) {
			if strings.HasPrefix(dep, "github.com/zishang520/") {
				t.Errorf("%s imports %s; use pkg/wire, not the Socket.IO library", prog, strings.TrimSpace(dep))
			}
		}
	}
}

// TestHookRelayLinksNoCLI keeps the mpm-hook program (the relay Claude Code
// starts on every hook event) off its own command line: every package a
// program links runs its initialisation at start-up, whichever path main
// takes, and kong with go/doc and the settings code cost the hook ≈0.5 ms
// (docs/PERFORMANCE-hook.md). mpm-hook parses the relay's flags with the
// standard library (relay.ParseArgs) and hands everything else to mpmd
// (cmd/mpmd runs pkg/hookcli when run by the name mpm-hook). regexp is on the list for its package-level compiles.
func TestHookRelayLinksNoCLI(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	cmd := exec.Command(goBin, "list", "-deps", "./cmd/mpm-hook")
	cmd.Dir = mpmdtest.RepoRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps ./cmd/mpm-hook: %v", err)
	}
	banned := []string{"github.com/alecthomas/kong", "github.com/mpm-dev/mpm/pkg/hookcli",
		"github.com/mpm-dev/mpm/pkg/settings", "github.com/mpm-dev/mpm/pkg/clirun", "go/doc", "regexp"}
	deps := map[string]bool{}
	for dep := range strings.Lines(string(out)) {
		deps[strings.TrimSpace(dep)] = true
	}
	if !deps["github.com/mpm-dev/mpm/pkg/relay"] {
		t.Fatalf("go list -deps ./cmd/mpm-hook does not name pkg/relay; the test looks at the wrong thing:\n%s", out)
	}
	for _, b := range banned {
		if deps[b] {
			t.Errorf("the mpm-hook relay program links %s; keep the command line in pkg/hookcli, which mpmd runs", b)
		}
	}
}

// TestServerLibraryOnlyInBroadcast keeps the Socket.IO server library
// behind its one seam, pkg/broadcast (its doc comment says why): no
// non-test Go file elsewhere imports the library's server packages
// (servers/socket, servers/engine), nor its parsers unless it is client
// code (a file that imports the library's clients/ packages, as pkg/client
// does); and pkg/server, tests included, imports none of the library.
// third_party/ holds the patched library itself.
func TestServerLibraryOnlyInBroadcast(t *testing.T) {
	const lib = "github.com/zishang520/socket.io/"
	root := mpmdtest.RepoRoot(t)
	checked := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if d.Name() == "node_modules" || (strings.HasPrefix(d.Name(), ".") && p != root) ||
				rel == "third_party" || rel == "pkg/broadcast" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") {
			return nil
		}
		isTest := strings.HasSuffix(p, "_test.go")
		inServer := strings.HasPrefix(rel, "pkg/server/")
		if isTest && !inServer {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		checked++
		var imports []string
		client := false
		for _, im := range f.Imports {
			path := strings.Trim(im.Path.Value, `"`)
			if strings.HasPrefix(path, lib) {
				imports = append(imports, path)
				if strings.HasPrefix(path, lib+"clients/") {
					client = true
				}
			}
		}
		for _, path := range imports {
			sub := strings.TrimPrefix(path, lib)
			switch {
			case inServer:
				t.Errorf("%s imports %s: pkg/server speaks to Socket.IO only through pkg/broadcast", rel, path)
			case strings.HasPrefix(sub, "servers/"):
				t.Errorf("%s imports %s: only pkg/broadcast may use the Socket.IO server library", rel, path)
			case strings.HasPrefix(sub, "parsers/") && !client:
				t.Errorf("%s imports %s outside client code: only pkg/broadcast may use the library's parsers server-side", rel, path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 50 {
		t.Fatalf("only %d Go files checked: is %s the repository?", checked, root)
	}
}
