package relay

import (
	"os"
	"strconv"
	"strings"
)

// claudePID is the pid of the Claude Code process that ran this hook: the
// parent, or the grandparent when the parent is the shell Claude Code runs
// hook commands with (`sh -c …`). mpmd reports it as claude_pid in /system
// status and as pid in /claude status_changed, as the guide's payloads have it.
func claudePID() int {
	ppid := os.Getppid()
	comm, err := os.ReadFile("/proc/" + strconv.Itoa(ppid) + "/comm")
	if err != nil {
		return ppid // not Linux, or /proc is not mounted: the parent is the best guess
	}
	switch strings.TrimSpace(string(comm)) {
	case "sh", "bash", "dash", "zsh", "ash", "busybox":
		if gp := parentOf(ppid); gp > 1 {
			return gp
		}
	}
	return ppid
}

// parentOf reads a process's parent pid from /proc/PID/stat.
func parentOf(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// pid (comm) state ppid …; comm may hold spaces and parentheses
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}
