package transcript_test

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/mpm-dev/mpm/pkg/transcript"
)

// FuzzReader feeds arbitrary bytes to a Reader, at once and in chunks whose
// sizes the fuzzer picks. It must never panic; every record's offsets must be
// a line of the input, in order; and the chunked read must yield exactly the
// records, stats and offset of the read at once.
func FuzzReader(f *testing.F) {
	for _, p := range append(samplePaths(), "testdata/compacted.jsonl", "testdata/resumed.jsonl") {
		for _, line := range bytes.SplitAfter(readFile(f, p), []byte("\n")) {
			if len(line) > 0 && len(line) < 4096 {
				f.Add(line, []byte{3, 200, 17})
			}
		}
	}
	f.Add([]byte("\xef\xbb\xbf{\"type\":\"summary\",\"summary\":\"s\"}\r\n{\"type\":"), []byte{1})
	f.Add([]byte(assistant("u", "m", `\ud83d\ude00 \u12`)+"\n"+`{"type":"cost-state","totalCostUSD":1e400}`+"\n"), []byte{5, 0, 9})
	f.Fuzz(func(t *testing.T, data, chunks []byte) {
		const limit = 512 // small, so the fuzzer reaches oversized lines
		whole := transcript.NewReader(0, limit)
		want := whole.Feed(nil, data)
		for i, r := range want {
			if r.Start < 0 || r.Offset <= r.Start || r.Offset > int64(len(data)) || data[r.Offset-1] != '\n' {
				t.Fatalf("record %d spans %d..%d of %d bytes", i, r.Start, r.Offset, len(data))
			}
			if i > 0 && (r.Offset < want[i-1].Offset || r.Start < want[i-1].Start) {
				t.Fatalf("record %d goes back: %d after %d", i, r.Offset, want[i-1].Offset)
			}
		}
		if off := whole.Offset(); off > int64(len(data)) || (off > 0 && data[off-1] != '\n') || whole.Fed() != int64(len(data)) {
			t.Fatalf("offset %d, fed %d of %d bytes", off, whole.Fed(), len(data))
		}

		parts := transcript.NewReader(0, limit)
		var got []transcript.Record
		for i, c := 0, 0; i < len(data); c++ {
			n := 1
			if len(chunks) > 0 {
				n += int(chunks[c%len(chunks)])
			}
			got = parts.Feed(got, data[i:min(i+n, len(data))])
			i += n
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("chunked: %d records, at once: %d\n%+v\n%+v", len(got), len(want), got, want)
		}
		if parts.Stats() != whole.Stats() || parts.Offset() != whole.Offset() {
			t.Fatalf("chunked stats %+v offset %d, at once %+v %d", parts.Stats(), parts.Offset(), whole.Stats(), whole.Offset())
		}
	})
}
