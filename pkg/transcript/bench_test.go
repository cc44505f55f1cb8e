package transcript_test

import (
	"bytes"
	"io"
	"runtime"
	"sync"
	"testing"

	"github.com/mpm-dev/mpm/pkg/transcript"
	"github.com/mpm-dev/mpm/pkg/transcript/transcripttest"
)

// synth makes transcripts from the real sample session: the main transcript
// and a subagent's, repeated with fresh ids, plus tool results of source
// files.
func synth(tb testing.TB) *transcripttest.Synth {
	tb.Helper()
	p := samplePaths()
	return transcripttest.New(append(readFile(tb, p[0]), readFile(tb, p[1])...))
}

var (
	bigOnce sync.Once
	big     []byte
)

func transcript100MB(b *testing.B) []byte {
	bigOnce.Do(func() { big = synth(b).Bytes(100 << 20) })
	return big
}

// BenchmarkRead100MB reads a 100 MB transcript in 256 KB chunks, as the
// watcher reads a file, and counts the records.
func BenchmarkRead100MB(b *testing.B) {
	data := transcript100MB(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var recs []transcript.Record
	for b.Loop() {
		r := transcript.NewReader(0, 0)
		n := 0
		for i := 0; i < len(data); i += transcript.ReadBufferSize {
			recs = r.Feed(recs[:0], data[i:min(i+transcript.ReadBufferSize, len(data))])
			n += len(recs)
		}
		if st := r.Stats(); st.Bad != 0 || n == 0 || r.Offset() != int64(len(data)) {
			b.Fatalf("stats %+v, %d records, offset %d of %d", st, n, r.Offset(), len(data))
		}
	}
}

// The Reader's memory does not grow with the file: reading 100 MB (20 MB
// with -short or -race) streamed from a generator keeps the heap small.
func TestReadConstantMemory(t *testing.T) {
	size := int64(100 << 20)
	if testing.Short() || raceEnabled {
		size = 20 << 20
	}
	pr, pw := ioPipe()
	go func() {
		_, err := synth(t).WriteTo(pw, size)
		pw.CloseWithError(err)
	}()
	r := transcript.NewReader(0, 0)
	var peak uint64
	var ms runtime.MemStats
	next := int64(0)
	records := 0
	err := r.Scan(pr, func(rec *transcript.Record) error {
		records++
		if rec.Offset >= next {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			next = rec.Offset + 8<<20
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.Offset() < size || records == 0 {
		t.Fatalf("read %d bytes, %d records", r.Offset(), records)
	}
	if peak > 48<<20 {
		t.Errorf("heap in use peaked at %d MB reading %d MB", peak>>20, size>>20)
	}
}

// ioPipe is an in-memory pipe whose writer does not wait for each read to
// finish, so the generator runs ahead by a bounded buffer.
func ioPipe() (*pipeReader, *pipeWriter) {
	ch := make(chan []byte, 4)
	errc := make(chan error, 1)
	return &pipeReader{ch: ch, errc: errc}, &pipeWriter{ch: ch, errc: errc}
}

type pipeWriter struct {
	ch   chan []byte
	errc chan error
}

func (w *pipeWriter) Write(p []byte) (int, error) {
	w.ch <- bytes.Clone(p)
	return len(p), nil
}

func (w *pipeWriter) CloseWithError(err error) {
	w.errc <- err
	close(w.ch)
}

type pipeReader struct {
	ch   chan []byte
	errc chan error
	cur  []byte
}

func (r *pipeReader) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		b, ok := <-r.ch
		if !ok {
			if err := <-r.errc; err != nil {
				return 0, err
			}
			return 0, errEOF
		}
		r.cur = b
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

var errEOF = io.EOF
