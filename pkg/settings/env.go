package settings

import (
	"fmt"
	"slices"
)

// EnvVar is one entry of a settings file's "env" object, which Claude Code
// sets in its own environment at start. Values lists the values that are
// mpm's for the key: the first is what is written, any is removed.
type EnvVar struct {
	Key    string
	Values []string
}

// OtelEnv is the environment that makes Claude Code export its
// OpenTelemetry logs and metrics to mpmd at endpoint (e.g.
// http://127.0.0.1:8765) in protocol (http/protobuf or http/json), with
// mpmd's token when it has one.
func OtelEnv(endpoint, protocol, token string) []EnvVar {
	protocols := []string{"http/protobuf", "http/json"}
	if protocol != "" && protocol != protocols[0] {
		protocols = []string{protocol, protocols[0]}
	}
	vars := []EnvVar{
		{"CLAUDE_CODE_ENABLE_TELEMETRY", []string{"1"}},
		{"OTEL_LOGS_EXPORTER", []string{"otlp"}},
		{"OTEL_METRICS_EXPORTER", []string{"otlp"}},
		{"OTEL_EXPORTER_OTLP_PROTOCOL", protocols},
		{"OTEL_EXPORTER_OTLP_ENDPOINT", []string{endpoint}},
	}
	if token != "" {
		vars = append(vars, EnvVar{"OTEL_EXPORTER_OTLP_HEADERS", []string{"Authorization=Bearer " + token}})
	}
	return vars
}

// EnvChange is what SetEnv did to one key.
type EnvChange struct {
	Key, Old, New string // Old is "" for a key that was not set
}

// env returns the "env" object, creating it when create is set.
func (f *File) env(create bool) (*Object, error) {
	v, ok := f.Root.Get("env")
	if !ok || v == nil {
		if !create {
			return nil, nil
		}
		e := NewObject()
		f.Root.Set("env", e)
		return e, nil
	}
	e, ok := v.(*Object)
	if !ok {
		return nil, fmt.Errorf("%s: \"env\" is not an object; fix it by hand first", f.Path)
	}
	return e, nil
}

// SetEnv sets each variable to its first value, keeping every other key of
// "env", and reports the keys it changed (with the value they had).
func (f *File) SetEnv(vars []EnvVar) ([]EnvChange, error) {
	e, err := f.env(true)
	if err != nil {
		return nil, err
	}
	var changes []EnvChange
	for _, v := range vars {
		old, _ := e.Get(v.Key)
		s, _ := old.(string)
		if old != nil && s == v.Values[0] {
			continue
		}
		if old != nil && s == "" {
			s = string(Marshal(old))
		}
		e.Set(v.Key, v.Values[0])
		changes = append(changes, EnvChange{Key: v.Key, Old: s, New: v.Values[0]})
	}
	return changes, nil
}

// UnsetEnv removes each variable that still holds one of its values (a
// value the user changed is theirs now, and stays), and "env" when that
// leaves it empty. It returns the keys removed and the keys left because
// their value is not mpm's.
func (f *File) UnsetEnv(vars []EnvVar) (removed, kept []string, err error) {
	e, err := f.env(false)
	if err != nil || e == nil {
		return nil, nil, err
	}
	for _, v := range vars {
		cur, ok := e.Get(v.Key)
		if !ok {
			continue
		}
		if s, isStr := cur.(string); isStr && slices.Contains(v.Values, s) {
			e.Delete(v.Key)
			removed = append(removed, v.Key)
			continue
		}
		kept = append(kept, v.Key)
	}
	if e.Len() == 0 && len(removed) > 0 {
		f.Root.Delete("env")
	}
	return removed, kept, nil
}

// Env returns the string values of the "env" object.
func (f *File) Env() map[string]string {
	out := map[string]string{}
	e, err := f.env(false)
	if err != nil || e == nil {
		return out
	}
	for _, k := range e.Keys() {
		v, _ := e.Get(k)
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}
