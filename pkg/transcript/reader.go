package transcript

import (
	"bytes"
	"errors"
	"io"
)

// DefaultMaxLine is the longest line a Reader decodes unless told otherwise.
// Claude Code's own lines stay far below it (its biggest, prompt snapshots and
// request shapes, are tens of kilobytes).
const DefaultMaxLine = 8 << 20

// Reader turns a transcript's bytes into records, incrementally. The zero
// value is not usable; make one with NewReader. A Reader is not safe for
// concurrent use.
type Reader struct {
	off      int64  // absolute offset just past the last complete line
	pos      int64  // absolute offset just past the last byte fed
	pend     []byte // an incomplete line: the bytes from off to pos
	skipping bool   // inside an oversized line: drop bytes up to its newline
	max      int
	stats    Stats
}

// NewReader returns a Reader for a file read from byte offset start (0, or an
// Offset it returned before: the start of a line). maxLine bounds the length
// of a line it decodes; 0 means DefaultMaxLine.
func NewReader(start int64, maxLine int) *Reader {
	if maxLine <= 0 {
		maxLine = DefaultMaxLine
	}
	return &Reader{off: start, pos: start, max: maxLine}
}

// Offset is the absolute byte offset just past the last complete line fed:
// where reading resumes after a restart. Bytes fed past it belong to a line
// not yet complete.
func (r *Reader) Offset() int64 { return r.off }

// Fed is the absolute offset just past the last byte fed: where the next
// Feed's bytes start in the file.
func (r *Reader) Fed() int64 { return r.pos }

// Stats returns the counts so far.
func (r *Reader) Stats() Stats { return r.stats }

// Reset makes r a fresh Reader for the same file from offset start (a line
// start), dropping any partial line; the counts are kept.
func (r *Reader) Reset(start int64) {
	r.off, r.pos, r.skipping = start, start, false
	r.pend = r.pend[:0]
}

// Feed reads p, the bytes following everything fed before, and appends the
// records of the lines it completes to dst. A line's records are returned
// only once its newline has been fed; what follows the last newline is kept
// for the next call (up to the line length limit; a longer line is dropped
// as it arrives and counted as oversized). Feed does not retain p.
func (r *Reader) Feed(dst []Record, p []byte) []Record {
	for len(p) > 0 {
		k := bytes.IndexByte(p, '\n')
		if r.skipping {
			if k < 0 {
				r.pos += int64(len(p))
				return dst
			}
			r.pos += int64(k + 1)
			r.off = r.pos
			p = p[k+1:]
			r.skipping = false
			r.stats.Lines++
			r.stats.Oversized++
			continue
		}
		if k < 0 {
			if len(r.pend)+len(p) > r.max {
				r.dropPending()
				r.skipping = true
			} else {
				r.pend = append(r.pend, p...)
			}
			r.pos += int64(len(p))
			return dst
		}
		start := r.off
		r.pos += int64(k + 1)
		r.off = r.pos
		r.stats.Lines++
		line := p[:k]
		p = p[k+1:]
		if len(r.pend) > 0 {
			if len(r.pend)+len(line) > r.max {
				r.dropPending()
				r.stats.Oversized++
				continue
			}
			r.pend = append(r.pend, line...)
			line = r.pend
		}
		if len(line) > r.max {
			r.stats.Oversized++
			continue
		}
		n := len(dst)
		dst = r.decodeLine(dst, line, start, r.off)
		r.stats.Records += int64(len(dst) - n)
		if len(r.pend) > 0 {
			r.dropPending()
		}
	}
	return dst
}

// dropPending forgets the partial line, releasing a large buffer so an
// idle Reader holds little.
func (r *Reader) dropPending() {
	if cap(r.pend) > 1<<20 {
		r.pend = nil
	} else {
		r.pend = r.pend[:0]
	}
}

// ReadBufferSize is how much Scan reads at a time.
const ReadBufferSize = 256 << 10

// Scan feeds r everything rd yields, until io.EOF, calling fn for each
// record. The *Record is valid only during the call. An error from fn stops
// the scan and is returned; Offset then still counts the lines of the last
// chunk read, so a caller that must not lose records resumes from the
// Offset of the last record it accepted.
func (r *Reader) Scan(rd io.Reader, fn func(*Record) error) error {
	buf := make([]byte, ReadBufferSize)
	var recs []Record
	for {
		n, err := rd.Read(buf)
		if n > 0 {
			recs = r.Feed(recs[:0], buf[:n])
			for i := range recs {
				if ferr := fn(&recs[i]); ferr != nil {
					return ferr
				}
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
