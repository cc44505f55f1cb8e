//go:build !unix

package watch

// openFlags: no non-blocking open here; the regular-file check before the
// open is the guard.
const openFlags = 0
