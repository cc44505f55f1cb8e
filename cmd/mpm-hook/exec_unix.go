//go:build unix

package main

import (
	"os"
	"os/exec"
	"syscall"
)

// execCLI replaces this process with bin (same pid, stdio, environment).
func execCLI(bin string, argv []string) (int, error) {
	return 0, syscall.Exec(bin, argv, os.Environ())
}

func lookPath(name string) string {
	p, err := exec.LookPath(name)
	if err != nil {
		return ""
	}
	return p
}
