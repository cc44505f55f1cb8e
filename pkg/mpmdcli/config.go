package mpmdcli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/alecthomas/kong"
)

// loadConfig reads a settings file: one JSON object whose keys are the
// names of mpmd's flags ("ping-interval"; "ping_interval" works too) and
// whose values are what the flag would be given ("15s", 1000000, true, a
// list for a repeatable flag). A flag or environment variable given for the
// same setting wins over the file. A key that is no flag is an error, so a
// typo does not go unnoticed.
func loadConfig(r io.Reader) (kong.Resolver, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("the settings file must be one JSON object of flag names and values, such as {\"ping-interval\": \"15s\"}: %w", err)
	}
	values := make(map[string]any, len(raw))
	for k, v := range raw {
		if n, ok := v.(json.Number); ok {
			v = n.String() // parsed by the flag's own type, like a command-line value
		}
		values[strings.ReplaceAll(k, "_", "-")] = v
	}
	return configResolver(values), nil
}

type configResolver map[string]any

// Validate refuses keys that name no flag of any mpmd command.
func (c configResolver) Validate(app *kong.Application) error {
	known := map[string]bool{}
	var walk func(n *kong.Node)
	walk = func(n *kong.Node) {
		for _, f := range n.Flags {
			known[f.Name] = true
		}
		for _, child := range n.Children {
			walk(child)
		}
	}
	walk(app.Node)
	var unknown []string
	for k := range c {
		if !known[k] || k == "config" || k == "help" {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	return fmt.Errorf("the settings file names %s, which is no setting of mpmd: its keys are the flags of `mpmd run` (see `mpmd run --help`), such as \"ping-interval\"", quoteAll(unknown))
}

// Resolve gives the file's value of flag, unless the flag's environment
// variable is set: kong would let the file win over it.
func (c configResolver) Resolve(_ *kong.Context, _ *kong.Path, flag *kong.Flag) (any, error) {
	v, ok := c[flag.Name]
	if !ok {
		return nil, nil
	}
	for _, env := range flag.Envs {
		if _, set := os.LookupEnv(env); set {
			return nil, nil
		}
	}
	return v, nil
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}
