package store

import "context"

// SetTimeIndexCap sets how many events a time range read through the
// ts_ms index may select, for a test (a small store has few); it returns
// a func that restores it.
func SetTimeIndexCap(n int) func() {
	old := timeIndexCap
	timeIndexCap = n
	return func() { timeIndexCap = old }
}

// SetBlockBits sets the size of the seq blocks whose time spans the store
// keeps (1 << n seqs) for a test, whose stores are small; it returns a
// func that restores it. Stores opened after it use it.
func SetBlockBits(n int64) func() {
	old := blockBits
	blockBits = n
	return func() { blockBits = old }
}

// SetChunkRows sets how many rows one statement of a filter with a
// residual condition returns at most, for a test.
func SetChunkRows(n int) func() {
	old := chunkRows
	chunkRows = n
	return func() { chunkRows = old }
}

// SeqRange is the seq range (since, until] a time range is read in.
func (s *Store) SeqRange(f Filter) (since, until int64, ok bool, err error) {
	g, ok, err := s.seqRange(context.Background(), f)
	return g.SinceSeq, g.UntilSeq, ok, err
}
