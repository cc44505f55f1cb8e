//go:build race

package broadcast_test

// raceEnabled: the race detector grows every goroutine's stack, so the
// budget test does not hold stacks to their budget under it.
const raceEnabled = true
