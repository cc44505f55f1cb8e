package store

// SetTimeIndexCap sets how many events a time range read through the
// ts_ms index may select, for a test (a small store has few); it returns
// a func that restores it.
func SetTimeIndexCap(n int) func() {
	old := timeIndexCap
	timeIndexCap = n
	return func() { timeIndexCap = old }
}
