package hookcli

import (
	"fmt"

	"github.com/mpm-dev/mpm/pkg/settings"
)

// UninstallCmd removes mpm-hook's entries from a settings file.
type UninstallCmd struct {
	Scope  string   `help:"Settings file: user, project or local." enum:"user,project,local" default:"user"`
	Events []string `help:"Only these hook events (comma-separated; default: all)." placeholder:"EVENT"`

	OtelFlags `embed:""` // --otel: Claude Code's OpenTelemetry env instead of the hooks (otel.go)
}

// Run removes the entries.
func (c *UninstallCmd) Run(cli *CLI, env *Env) error {
	path, err := settings.Path(settings.Scope(c.Scope), env.Home, env.Cwd)
	if err != nil {
		return err
	}
	if c.Otel {
		return c.OtelFlags.uninstall(cli, env, path)
	}
	var events []string
	if len(c.Events) > 0 {
		if events, err = hookEvents(c.Events); err != nil {
			return err
		}
	}
	f, err := loadSettings(path)
	if err != nil {
		return err
	}
	if !f.Exists {
		fmt.Fprintf(env.Stdout, "%s does not exist; nothing to remove.\n", path)
		return nil
	}
	n, err := f.Uninstall(events)
	if err != nil {
		return err
	}
	if n == 0 {
		fmt.Fprintf(env.Stdout, "mpm-hook is not installed in %s; nothing changed.\n", path)
		return nil
	}
	backup, err := f.Save(env.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "Removed %d mpm-hook entries from %s (previous file: %s).\n", n, path, backup)
	return nil
}
