package bench

import (
	"testing"
	"time"
)

func TestHistQuantiles(t *testing.T) {
	var h hist
	for i := 1; i <= 10000; i++ { // spans the linear and the log buckets
		h.record(time.Duration(i) * time.Microsecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 5000 * time.Microsecond}, {0.99, 9900 * time.Microsecond}, {1, 10000 * time.Microsecond}} {
		got := h.quantile(tc.q)
		if got < tc.want || float64(got) > float64(tc.want)*1.07 {
			t.Errorf("quantile(%v) = %v, want %v within 7%%", tc.q, got, tc.want)
		}
	}
	if got, want := h.max, int64(10000); got != want {
		t.Errorf("max = %d, want %d", got, want)
	}
}

func TestBucketsMonotonic(t *testing.T) {
	prev := -1
	for us := int64(0); us < 1<<22; us += 7 {
		b := bucketOf(us)
		if b < prev {
			t.Fatalf("bucketOf(%d) = %d < %d", us, b, prev)
		}
		if lowOf(b) > us || highOf(b) <= us {
			t.Fatalf("bucket %d of %d is [%d,%d)", b, us, lowOf(b), highOf(b))
		}
		prev = b
	}
}

func TestHistSmallValues(t *testing.T) {
	var h hist
	for i := 0; i < 100; i++ {
		h.record(63 * time.Microsecond)
	}
	if got := h.quantile(0.5); got != 63*time.Microsecond {
		t.Errorf("p50 of a constant 63µs = %v, want 63µs", got)
	}
}
