package hookcli

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/mpm-dev/mpm/pkg/settings"
)

// OtelFlags are install's and uninstall's flags for Claude Code's
// OpenTelemetry export (pkg/otlp on mpmd's side).
type OtelFlags struct {
	Otel         bool   `help:"Instead of the hooks, write (uninstall: remove) the settings env that makes Claude Code export its OpenTelemetry logs and metrics to mpmd."`
	OtelEndpoint string `help:"Where Claude Code sends its telemetry (default: http://127.0.0.1:<--port>)." placeholder:"URL"`
	OtelProtocol string `help:"OTLP protocol Claude Code exports with." enum:"http/protobuf,http/json" default:"http/protobuf"`
}

func (o OtelFlags) endpoint(cli *CLI) string {
	if e := strings.TrimRight(o.OtelEndpoint, "/"); e != "" {
		return e
	}
	return "http://127.0.0.1:" + strconv.Itoa(cli.Port)
}

func (o OtelFlags) vars(cli *CLI) []settings.EnvVar {
	return settings.OtelEnv(o.endpoint(cli), o.OtelProtocol, cli.Token)
}

// install writes the telemetry env into the settings file at path.
func (o OtelFlags) install(cli *CLI, env *Env, path string) error {
	f, err := loadSettings(path)
	if err != nil {
		return err
	}
	vars := o.vars(cli)
	changes, err := f.SetEnv(vars)
	if err != nil {
		return err
	}
	endpoint := o.endpoint(cli)
	if len(changes) == 0 {
		fmt.Fprintf(env.Stdout, "Claude Code's OpenTelemetry export to %s is already set up in %s; nothing changed.\n", endpoint, path)
		return nil
	}
	backup, err := f.Save(env.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "Claude Code now exports its OpenTelemetry logs and metrics to mpmd at %s (%s; env in %s).\n", endpoint, o.OtelProtocol, path)
	for _, c := range changes {
		if c.Old != "" {
			fmt.Fprintf(env.Stdout, "%s was %q; it is %q now.\n", c.Key, c.Old, redact(c.Key, c.New))
		}
	}
	if cli.Token != "" {
		fmt.Fprintf(env.Stdout, "The settings file holds mpmd's token (OTEL_EXPORTER_OTLP_HEADERS); keep it private.\n")
	}
	if backup != "" {
		fmt.Fprintf(env.Stdout, "The previous file is saved as %s.\n", backup)
	}
	fmt.Fprintln(env.Stdout, "New Claude Code sessions export to mpmd; its /claude namespace shows api_request, tool_result, … events.")
	return nil
}

// uninstall removes the telemetry env mpm wrote, where it still holds mpm's values.
func (o OtelFlags) uninstall(cli *CLI, env *Env, path string) error {
	f, err := loadSettings(path)
	if err != nil {
		return err
	}
	if !f.Exists {
		fmt.Fprintf(env.Stdout, "%s does not exist; nothing to remove.\n", path)
		return nil
	}
	vars := o.vars(cli)
	if cli.Token == "" {
		// mpm's header holds the token: without it, it can only be reported
		vars = append(vars, settings.EnvVar{Key: "OTEL_EXPORTER_OTLP_HEADERS"})
	}
	removed, kept, err := f.UnsetEnv(vars)
	if err != nil {
		return err
	}
	for _, k := range kept {
		if k == "OTEL_EXPORTER_OTLP_HEADERS" && cli.Token == "" {
			fmt.Fprintf(env.Stdout, "Left %s: run with the token (CLAUDE_MPM_SOCKETIO_TOKEN or --token) to remove it if it is mpm's.\n", k)
			continue
		}
		fmt.Fprintf(env.Stdout, "Left %s: its value is not the one mpm-hook writes (with this --port or --otel-endpoint, and token).\n", k)
	}
	if len(removed) == 0 {
		fmt.Fprintf(env.Stdout, "No OpenTelemetry env of mpm-hook's in %s; nothing changed.\n", path)
		return nil
	}
	backup, err := f.Save(env.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "Removed %s from %s (previous file: %s).\n", strings.Join(removed, ", "), path, backup)
	return nil
}

// redact hides a token in what is printed.
func redact(key, v string) string {
	if key == "OTEL_EXPORTER_OTLP_HEADERS" {
		return "Authorization=Bearer …"
	}
	return v
}
