package otlp_test

import (
	"testing"

	"github.com/mpm-dev/mpm/pkg/otlp"
)

// BenchmarkLogsToEvents decodes Claude Code's recorded logs export of
// eleven records (protobuf, 8 KiB) and makes its events.
func BenchmarkLogsToEvents(b *testing.B) {
	body, enc := loadRun(b, "protobuf")[3].body(b)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		recs, err := otlp.Decoder{}.Logs(body, enc)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range recs {
			if _, err := r.Event(); err != nil {
				b.Fatal(err)
			}
		}
	}
}
