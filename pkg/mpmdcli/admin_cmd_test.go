package mpmdcli

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/mpm-dev/mpm/pkg/admin"
	"github.com/mpm-dev/mpm/pkg/paths"
)

// parseRun parses `mpmd run args…` with file as the settings file.
func parseRun(t *testing.T, file string, args ...string) (ServeFlags, error) {
	t.Helper()
	dir := t.TempDir()
	dirs := paths.Dirs{Config: dir, State: dir, Runtime: dir}
	if file != "" {
		if err := os.WriteFile(dirs.ConfigFile(), []byte(file), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("MPM_ADMIN_PASSWORD_HASH", "")
	os.Unsetenv("MPM_ADMIN_PASSWORD_HASH")
	var cli CLI
	var out bytes.Buffer
	p, err := newParser(&cli, dirs, &out, &out)
	if err == nil {
		_, err = p.Parse(append([]string{"run"}, args...))
	}
	return cli.Run.ServeFlags, err
}

func TestAdminSettings(t *testing.T) {
	hash, err := admin.HashPassword("pw", 4)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		file   string
		args   []string
		want   func(*admin.Config) bool
		refuse string
	}{
		{name: "default: on, no credentials, development", want: func(a *admin.Config) bool {
			return a != nil && a.Username == "" && a.PasswordHash == "" && !a.Readonly && a.Mode == "development"
		}},
		{name: "flags", args: []string{"--admin-user", "admin", "--admin-password-hash", hash, "--admin-readonly", "--admin-mode", "production", "--token", "t"},
			want: func(a *admin.Config) bool {
				return a.Username == "admin" && a.PasswordHash == hash && a.Readonly && a.Mode == "production" && a.Token == "t"
			}},
		{name: "settings file", file: `{"admin-user": "ops", "admin_password_hash": "` + hash + `", "admin-readonly": true}`,
			want: func(a *admin.Config) bool { return a.Username == "ops" && a.PasswordHash == hash && a.Readonly }},
		{name: "htpasswd line", args: []string{"--admin-password-hash", "ops:" + hash},
			want: func(a *admin.Config) bool { return a.Username == "ops" && a.PasswordHash == hash }},
		{name: "no-admin", args: []string{"--no-admin"}, want: func(a *admin.Config) bool { return a == nil }},
		{name: "user without hash", args: []string{"--admin-user", "admin"}, refuse: "both --admin-user and --admin-password-hash"},
		{name: "hash without user", file: `{"admin-password-hash": "` + hash + `"}`, refuse: "both"},
		{name: "plain password as hash", args: []string{"--admin-user", "a", "--admin-password-hash", "hunter2"}, refuse: "must be a bcrypt hash"},
		{name: "broken hash", args: []string{"--admin-user", "a", "--admin-password-hash", hash[:20]}, refuse: "not a valid bcrypt hash"},
		{name: "no-admin with a user", args: []string{"--no-admin", "--admin-user", "a"}, refuse: "--no-admin turns the Admin UI off"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := parseRun(t, c.file, c.args...)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			a, err := f.adminConfig()
			if c.refuse != "" {
				if err == nil || !strings.Contains(err.Error(), c.refuse) {
					t.Fatalf("adminConfig: %v, want an error containing %q", err, c.refuse)
				}
				return
			}
			if err != nil || !c.want(a) {
				t.Fatalf("adminConfig: %+v, %v", a, err)
			}
		})
	}
	if _, err := parseRun(t, "", "--admin-mode", "staging"); err == nil {
		t.Error("--admin-mode staging accepted")
	}
}

func TestAdminHashCmd(t *testing.T) {
	var out, errb bytes.Buffer
	env := &Env{Stdout: &out, Stderr: &errb, Stdin: strings.NewReader("s3cret\n")}
	if err := (&AdminHashCmd{Cost: 4}).Run(env); err != nil {
		t.Fatal(err)
	}
	h := strings.TrimSpace(out.String())
	s, err := admin.New(admin.Config{Username: "u", PasswordHash: h}, nil)
	if err != nil {
		t.Fatalf("hash %q: %v", h, err)
	}
	if _, err := s.Authenticate(map[string]any{"username": "u", "password": "s3cret"}, "10.0.0.1"); err != nil {
		t.Errorf("the printed hash does not match the password: %v", err)
	}
	for _, c := range []struct {
		in   string
		cost int
		want string
	}{
		{"", 10, "empty"},
		{"\n", 10, "empty"},
		{strings.Repeat("x", 100) + "\n", 10, "at most 72"},
		{"pw\n", 3, "--cost must be between 4 and 31"},
	} {
		env := &Env{Stdout: &out, Stderr: &errb, Stdin: strings.NewReader(c.in)}
		if err := (&AdminHashCmd{Cost: c.cost}).Run(env); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q cost %d: %v, want %q", c.in, c.cost, err, c.want)
		}
	}
}
