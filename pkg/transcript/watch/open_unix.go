//go:build unix

package watch

import "syscall"

// openFlags opens without blocking: a FIFO put where a transcript was
// checked to be must not hang the watcher (it is refused after the open).
const openFlags = syscall.O_NONBLOCK
