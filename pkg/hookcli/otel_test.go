package hookcli_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/mpm-dev/mpm/pkg/settings"
)

func TestInstallOtel(t *testing.T) {
	t.Setenv("CLAUDE_MPM_SOCKETIO_TOKEN", "")
	t.Setenv("SOCKETIO_PORT", "8765")
	root := t.TempDir()
	path := filepath.Join(root, "home", ".claude", "settings.json")
	env := func() map[string]string {
		f, err := settings.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		return f.Env()
	}

	if out, errs, code := run(t, root, "install", "--command", "/opt/mpm-hook"); code != 0 {
		t.Fatalf("install: %d %s %s", code, out, errs)
	}
	out, errs, code := run(t, root, "--port", "9123", "--token", "s3cret", "install", "--otel")
	if code != 0 || !strings.Contains(out, "http://127.0.0.1:9123") || strings.Contains(out, "s3cret") {
		t.Fatalf("install --otel: %d %q %q", code, out, errs)
	}
	e := env()
	if e["CLAUDE_CODE_ENABLE_TELEMETRY"] != "1" || e["OTEL_LOGS_EXPORTER"] != "otlp" || e["OTEL_METRICS_EXPORTER"] != "otlp" ||
		e["OTEL_EXPORTER_OTLP_PROTOCOL"] != "http/protobuf" || e["OTEL_EXPORTER_OTLP_ENDPOINT"] != "http://127.0.0.1:9123" ||
		e["OTEL_EXPORTER_OTLP_HEADERS"] != "Authorization=Bearer s3cret" {
		t.Fatalf("env %v", e)
	}
	if out, _, _ := run(t, root, "--port", "9123", "--token", "s3cret", "install", "--otel"); !strings.Contains(out, "nothing changed") {
		t.Errorf("second install --otel: %q", out)
	}
	// Another endpoint and protocol replace mpm's values, and say so.
	out, _, _ = run(t, root, "--token", "s3cret", "install", "--otel", "--otel-endpoint", "http://127.0.0.1:7000/", "--otel-protocol", "http/json")
	if e := env(); e["OTEL_EXPORTER_OTLP_ENDPOINT"] != "http://127.0.0.1:7000" || e["OTEL_EXPORTER_OTLP_PROTOCOL"] != "http/json" ||
		!strings.Contains(out, `OTEL_EXPORTER_OTLP_ENDPOINT was "http://127.0.0.1:9123"`) {
		t.Fatalf("env %v, output %q", e, out)
	}

	// An uninstall that does not know the token leaves the header.
	out, _, _ = run(t, root, "uninstall", "--otel", "--otel-endpoint", "http://127.0.0.1:7000")
	if e := env(); e["OTEL_EXPORTER_OTLP_HEADERS"] == "" || len(e) != 1 || !strings.Contains(out, "Left OTEL_EXPORTER_OTLP_HEADERS") {
		t.Fatalf("env %v after uninstall --otel without the token; output %q", e, out)
	}
	if out, _, _ := run(t, root, "--token", "s3cret", "uninstall", "--otel"); !strings.Contains(out, "Removed OTEL_EXPORTER_OTLP_HEADERS") {
		t.Errorf("uninstall --otel with the token: %q", out)
	}
	f, err := settings.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Root.Get("env"); ok || len(f.Installed()) != len(settings.DefaultEvents) {
		t.Errorf("after uninstall --otel: %s", settings.Marshal(f.Root))
	}
	if out, _, _ := run(t, root, "uninstall", "--otel"); !strings.Contains(out, "nothing changed") {
		t.Errorf("second uninstall --otel: %q", out)
	}
}
