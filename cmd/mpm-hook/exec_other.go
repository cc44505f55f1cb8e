//go:build !unix

package main

import (
	"errors"
	"os"
	"os/exec"
)

// execCLI runs bin as a child with this process's stdio and returns its exit
// code (there is no exec(2) to replace this process with).
func execCLI(bin string, argv []string) (int, error) {
	cmd := exec.Command(bin, argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	return 0, err
}

func lookPath(name string) string {
	p, err := exec.LookPath(name)
	if err != nil {
		return ""
	}
	return p
}
