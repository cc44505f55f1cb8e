package settings_test

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/mpm-dev/mpm/pkg/settings"
)

func TestOtelEnvRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "settings.json")
	orig := `{
  "model": "opus",
  "env": {
    "FOO": "bar",
    "OTEL_METRICS_EXPORTER": "prometheus"
  }
}
`
	if err := os.WriteFile(path, []byte(orig), 0o600); err != nil {
		t.Fatal(err)
	}
	vars := settings.OtelEnv("http://127.0.0.1:8765", "http/protobuf", "tok")
	f := load(t, path)
	changes, err := f.SetEnv(vars)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 6 || changes[2] != (settings.EnvChange{Key: "OTEL_METRICS_EXPORTER", Old: "prometheus", New: "otlp"}) {
		t.Fatalf("changes %+v", changes)
	}
	want := map[string]string{
		"FOO": "bar", "CLAUDE_CODE_ENABLE_TELEMETRY": "1", "OTEL_LOGS_EXPORTER": "otlp", "OTEL_METRICS_EXPORTER": "otlp",
		"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:8765",
		"OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Bearer tok",
	}
	if got := f.Env(); !reflect.DeepEqual(got, want) {
		t.Fatalf("env %v", got)
	}
	if _, err := f.Save(t0); err != nil {
		t.Fatal(err)
	}
	// Idempotent.
	f = load(t, path)
	if changes, _ := f.SetEnv(vars); len(changes) != 0 {
		t.Errorf("second SetEnv changed %+v", changes)
	}
	// The user changes one of mpm's values: it is theirs, and stays.
	f.SetEnv([]settings.EnvVar{{Key: "OTEL_LOGS_EXPORTER", Values: []string{"console"}}})
	removed, kept, err := f.UnsetEnv(vars)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 5 || !reflect.DeepEqual(kept, []string{"OTEL_LOGS_EXPORTER"}) {
		t.Errorf("removed %v, kept %v", removed, kept)
	}
	if got := f.Env(); !reflect.DeepEqual(got, map[string]string{"FOO": "bar", "OTEL_LOGS_EXPORTER": "console"}) {
		t.Errorf("env after UnsetEnv %v", got)
	}
	// Nothing but mpm's: the env object goes with them.
	g := load(t, filepath.Join(dir, "missing.json"))
	g.SetEnv(vars)
	if removed, _, _ := g.UnsetEnv(vars); len(removed) != len(vars) {
		t.Errorf("removed %v", removed)
	}
	if _, ok := g.Root.Get("env"); ok || g.Root.Len() != 0 {
		t.Errorf("left %s", settings.Marshal(g.Root))
	}
}

func TestOtelEnvProtocolAndNoToken(t *testing.T) {
	vars := settings.OtelEnv("http://127.0.0.1:9", "http/json", "")
	f := load(t, filepath.Join(t.TempDir(), "settings.json"))
	f.SetEnv(vars)
	env := f.Env()
	if env["OTEL_EXPORTER_OTLP_PROTOCOL"] != "http/json" || env["OTEL_EXPORTER_OTLP_HEADERS"] != "" || len(env) != 5 {
		t.Errorf("env %v", env)
	}
	// Installed with http/json, removed by an uninstall that names no protocol.
	if removed, _, _ := f.UnsetEnv(settings.OtelEnv("http://127.0.0.1:9", "", "")); len(removed) != 5 {
		t.Errorf("removed %v", removed)
	}
}

func TestEnvNotAnObject(t *testing.T) {
	path := filepath.Join(t.TempDir(), "settings.json")
	os.WriteFile(path, []byte(`{"env": ["x"]}`), 0o600)
	f := load(t, path)
	if _, err := f.SetEnv(settings.OtelEnv("http://x", "", "")); err == nil {
		t.Error("SetEnv wrote into an env that is not an object")
	}
}
