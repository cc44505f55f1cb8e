package mpmdtest

import (
	"net/http"
	"os"
	"runtime"
	"testing"
	"time"
)

// OpenFDs counts the test process's open file descriptors (the test is
// skipped where /proc/self/fd is missing).
func OpenFDs(tb testing.TB) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		tb.Skip("no /proc/self/fd:", err)
	}
	return len(ents)
}

// Settle waits (10 s at most) until the process's goroutines and open fds
// are back to at most goroutines+slack and fds+slack, closing client's idle
// connections, and returns the last counts.
func Settle(tb testing.TB, client *http.Client, goroutines, fds, slack int) (int, int) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		client.CloseIdleConnections()
		g, f := runtime.NumGoroutine(), OpenFDs(tb)
		if (g <= goroutines+slack && f <= fds+slack) || time.Now().After(deadline) {
			return g, f
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Baseline is the number of goroutines once the in-process server at base
// has served a request (GET /health) and is idle.
func Baseline(tb testing.TB, base string) int {
	tb.Helper()
	c := &http.Client{Transport: &http.Transport{}}
	resp, err := c.Get(base + "/health")
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	c.CloseIdleConnections()
	g, still := runtime.NumGoroutine(), 0
	for still < 5 {
		time.Sleep(40 * time.Millisecond)
		if n := runtime.NumGoroutine(); n != g {
			g, still = n, 0
		} else {
			still++
		}
	}
	return g
}
