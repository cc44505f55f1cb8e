// Package paths resolves where mpm keeps its files (through the XDG base
// directories) and reads and writes the daemon's discovery file, which tells
// mpm-hook, scripts and `mpmd status` where a running mpmd listens.
//
// Layout:
//
//	$XDG_CONFIG_HOME/mpm/            configuration
//	$XDG_STATE_HOME/mpm/events.db    event store
//	$XDG_STATE_HOME/mpm/spool/       hook events waiting for mpmd
//	$XDG_STATE_HOME/mpm/logs/        log files
//	$XDG_RUNTIME_DIR/mpm/mpmd.json   discovery file (state dir when unset)
package paths

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/adrg/xdg"
)

// App is the directory name used under each XDG base directory.
const App = "mpm"

// Dirs holds the resolved directories. The zero value is not useful; use Resolve.
type Dirs struct {
	Config  string // $XDG_CONFIG_HOME/mpm
	State   string // $XDG_STATE_HOME/mpm
	Runtime string // $XDG_RUNTIME_DIR/mpm, or State when XDG_RUNTIME_DIR is unset
}

// Resolve reads the XDG environment now (not at program start, so tests and
// callers that change it are honoured) and returns mpm's directories.
func Resolve() Dirs {
	xdg.Reload()
	return fromXDG()
}

// ResolveAtStart is Resolve without reading the environment again: the
// directories as of the program's start, when xdg's package initialisation
// read it. It is for a short-lived program that does not change its own
// environment (the hook relay, which saves the second read of
// user-dirs.dirs and the environment on every hook event).
func ResolveAtStart() Dirs { return fromXDG() }

func fromXDG() Dirs {
	d := Dirs{
		Config: filepath.Join(xdg.ConfigHome, App),
		State:  filepath.Join(xdg.StateHome, App),
	}
	if rt := os.Getenv("XDG_RUNTIME_DIR"); rt != "" {
		d.Runtime = filepath.Join(rt, App)
	} else {
		d.Runtime = d.State
	}
	return d
}

// ConfigFile is mpmd's settings file (its flags as JSON).
func (d Dirs) ConfigFile() string { return filepath.Join(d.Config, "mpmd.json") }

// DB is the default event store file.
func (d Dirs) DB() string { return filepath.Join(d.State, "events.db") }

// Spool is the directory of spooled hook events.
func (d Dirs) Spool() string { return filepath.Join(d.State, "spool") }

// Logs is the log directory.
func (d Dirs) Logs() string { return filepath.Join(d.State, "logs") }

// Discovery is the discovery file's path.
func (d Dirs) Discovery() string { return filepath.Join(d.Runtime, "mpmd.json") }

// Discovery is what a running mpmd tells others about itself.
type Discovery struct {
	PID     int    `json:"pid"`
	Host    string `json:"host"`
	Port    int    `json:"port"`
	Version string `json:"version"`
	URL     string `json:"url"`
	Started string `json:"started"`
}

// WriteFileAtomic writes data to path through a temporary file in the same
// directory and a rename, so a reader sees the old file or the new one, never
// a part. It creates the directory (0700) when missing.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// WriteDiscovery writes the discovery file atomically.
func WriteDiscovery(path string, d Discovery) error {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, append(b, '\n'), 0o600)
}

// ErrNoDaemon means no discovery file names a live mpmd.
var ErrNoDaemon = errors.New("no running mpmd found")

// ReadDiscovery reads the discovery file and checks that its process is
// alive. A missing file, or one naming a dead process (a stale file), is
// ErrNoDaemon; the stale file is left for the next mpmd to replace.
func ReadDiscovery(path string) (Discovery, error) {
	var d Discovery
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return d, ErrNoDaemon
	}
	if err != nil {
		return d, err
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return d, fmt.Errorf("discovery file %s is not valid JSON: %w", path, err)
	}
	if !Alive(d.PID) {
		return d, fmt.Errorf("%w (discovery file %s names pid %d, which is not running)", ErrNoDaemon, path, d.PID)
	}
	return d, nil
}

// Alive reports whether a process with this pid exists.
func Alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// RemoveDiscovery removes the discovery file if it still names pid, so an
// exiting mpmd never removes the file of another one that replaced it.
func RemoveDiscovery(path string, pid int) error {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	var d Discovery
	if json.Unmarshal(b, &d) == nil && d.PID != pid {
		return nil
	}
	return os.Remove(path)
}
