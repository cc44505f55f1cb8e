package mpmdcli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/mpm-dev/mpm/pkg/paths"
)

// StartCmd starts mpmd in the background.
type StartCmd struct {
	ServeFlags
	Wait time.Duration `help:"How long to wait for mpmd to answer /health." default:"10s"`
}

// Run starts `mpmd run` detached, waits for /health and prints the URL. An
// mpmd that is already running is reported, and that is not an error.
func (c *StartCmd) Run(env *Env) error {
	if d, err := paths.ReadDiscovery(env.Dirs.Discovery()); err == nil {
		fmt.Fprintf(env.Stdout, "mpmd is already running (pid %d): dashboard at %s\n", d.PID, d.URL)
		return nil
	}
	if c.Port != 0 {
		if h, err := health(fmt.Sprintf("http://%s/health", net.JoinHostPort(displayHost(c.Host), strconv.Itoa(c.Port)))); err == nil {
			fmt.Fprintf(env.Stdout, "mpmd is already running (pid %v) on port %d\n", h["pid"], c.Port)
			return nil
		}
	}
	if err := c.checkBind(); err != nil {
		return err
	}
	if err := c.checkTransport(); err != nil {
		return err
	}
	if _, err := c.adminConfig(); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("cannot find the mpmd executable: %w", err)
	}
	args := append([]string{"run"}, c.childArgs()...)
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer devnull.Close()
	cmd := exec.Command(exe, args...)
	cmd.Env = os.Environ()
	if c.Token != "" {
		cmd.Env = append(cmd.Env, "CLAUDE_MPM_SOCKETIO_TOKEN="+c.Token) // not on the command line, where ps shows it
	}
	if c.AdminPasswordHash != "" {
		cmd.Env = append(cmd.Env, "MPM_ADMIN_PASSWORD_HASH="+c.AdminPasswordHash)
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull // it logs to its log file
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("cannot start mpmd: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(c.Wait)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-exited:
			return fmt.Errorf("mpmd exited at once (%v); see %s/mpmd.log", err, env.Dirs.Logs())
		case <-deadline:
			return fmt.Errorf("mpmd (pid %d) did not answer /health within %s; see %s/mpmd.log", cmd.Process.Pid, c.Wait, env.Dirs.Logs())
		case <-tick.C:
			d, err := paths.ReadDiscovery(env.Dirs.Discovery())
			if err != nil || d.PID != cmd.Process.Pid {
				continue
			}
			if _, err := health(d.URL + "health"); err != nil {
				continue
			}
			_ = cmd.Process.Release()
			fmt.Fprintf(env.Stdout, "mpmd started (pid %d): dashboard at %s\n", d.PID, d.URL)
			if c.Open {
				openBrowser(d.URL)
			}
			return nil
		}
	}
}

// StopCmd stops the running mpmd.
type StopCmd struct {
	Wait time.Duration `help:"How long to wait for mpmd to exit." default:"10s"`
}

// Run sends SIGTERM to the mpmd the discovery file names and waits for it.
func (c *StopCmd) Run(env *Env) error {
	d, err := paths.ReadDiscovery(env.Dirs.Discovery())
	if err != nil {
		if errors.Is(err, paths.ErrNoDaemon) {
			fmt.Fprintln(env.Stdout, "mpmd is not running")
			return nil
		}
		return err
	}
	if err := syscall.Kill(d.PID, syscall.SIGTERM); err != nil {
		return fmt.Errorf("cannot stop mpmd (pid %d): %w", d.PID, err)
	}
	deadline := time.Now().Add(c.Wait)
	for time.Now().Before(deadline) {
		if !paths.Alive(d.PID) {
			fmt.Fprintf(env.Stdout, "mpmd (pid %d) stopped\n", d.PID)
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("mpmd (pid %d) did not exit within %s", d.PID, c.Wait)
}

// StatusCmd reports on the running mpmd.
type StatusCmd struct {
	JSON bool `help:"Print /health as JSON."`
}

type notRunning struct{ msg string }

func (e notRunning) Error() string { return e.msg }
func (e notRunning) ExitCode() int { return 3 }

// Run prints where mpmd runs and its health; exit code 3 when it is not running.
func (c *StatusCmd) Run(env *Env) error {
	d, err := paths.ReadDiscovery(env.Dirs.Discovery())
	if err != nil {
		return notRunning{"mpmd is not running (start it with `mpmd start`)"}
	}
	h, err := health(d.URL + "health")
	if err != nil {
		return fmt.Errorf("mpmd (pid %d) is running but /health does not answer: %w", d.PID, err)
	}
	if c.JSON {
		return json.NewEncoder(env.Stdout).Encode(h)
	}
	fmt.Fprintf(env.Stdout, "mpmd %v is %v (pid %d): dashboard at %s\n", h["version"], h["status"], d.PID, d.URL)
	fmt.Fprintf(env.Stdout, "  up %s, %v clients connected, %v events stored (last seq %v)\n",
		(time.Duration(toFloat(h["uptime_seconds"])) * time.Second).String(), h["clients"], h["stored_events"], h["last_seq"])
	if r, ok := h["reason"]; ok {
		fmt.Fprintf(env.Stdout, "  degraded: %v\n", r)
	}
	if cl, ok := h["cluster"].(map[string]any); ok {
		reach := "reachable"
		if cl["redis_reachable"] != true {
			reach = "NOT reachable"
		}
		fmt.Fprintf(env.Stdout, "  cluster node %v: Redis %v %s; applied seq %v of %v (lag %v), outbox %v\n",
			cl["node_id"], cl["redis"], reach, cl["applied_seq"], cl["head_seq"], cl["lag"], cl["outbox"])
	}
	return nil
}

func toFloat(v any) float64 {
	f, _ := v.(float64)
	return f
}

func health(url string) (map[string]any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var h map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		return nil, fmt.Errorf("/health did not answer JSON: %w", err)
	}
	if h["server"] != "claude-mpm-socketio" {
		return nil, fmt.Errorf("the server at %s is not mpmd", url)
	}
	return h, nil
}
