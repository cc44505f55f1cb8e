// Package style_test enforces house rules that no compiler checks: every Go
// package has a doc comment, and mpm-hook links no Socket.IO library.
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

func TestEveryPackageHasADocComment(t *testing.T) {
	root := mpmdtest.RepoRoot(t)
	dirs := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
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

// TestHookLinksNoSocketIOLibrary keeps mpm-hook off the Socket.IO library:
// its package initialisation alone costs a hook more than its latency budget
// (docs/HOOKS.md). mpm-hook speaks Socket.IO through pkg/wire.
func TestHookLinksNoSocketIOLibrary(t *testing.T) {
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
	for dep := range strings.Lines(string(out)) {
		if strings.HasPrefix(dep, "github.com/zishang520/") {
			t.Errorf("mpm-hook imports %s; use pkg/wire, not the Socket.IO library", strings.TrimSpace(dep))
		}
	}
}
