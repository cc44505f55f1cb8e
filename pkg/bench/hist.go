package bench

import (
	"math/bits"
	"time"
)

// hist is a log-linear latency histogram in microseconds: 32 linear
// sub-buckets per power of two, so a quantile is within about 3%.
// A consumer owns one and nothing else writes it; merge them afterwards.
type hist struct {
	counts [64 * 32]uint32
	n      uint64
	max    int64
}

func bucketOf(us int64) int {
	if us < 32 {
		if us < 0 {
			return 0
		}
		return int(us)
	}
	e := bits.Len64(uint64(us)) - 5 // us>>e is in [16,31]
	return e*32 + int(us>>uint(e))
}

// highOf is one past the largest value of bucket i.
func highOf(i int) int64 {
	if i < 32 {
		return int64(i) + 1
	}
	e := i / 32
	return int64(i%32+1) << uint(e)
}

// lowOf is the smallest value of bucket i.
func lowOf(i int) int64 {
	if i < 32 {
		return int64(i)
	}
	e := i / 32
	return int64(i%32) << uint(e)
}

func (h *hist) record(d time.Duration) {
	us := d.Microseconds()
	b := bucketOf(us)
	if b >= len(h.counts) {
		b = len(h.counts) - 1
	}
	h.counts[b]++
	h.n++
	if us > h.max {
		h.max = us
	}
}

func (h *hist) merge(o *hist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	if o.max > h.max {
		h.max = o.max
	}
}

// quantile returns the q-quantile (0<q<=1).
func (h *hist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	want := uint64(q*float64(h.n) + 0.5)
	if want < 1 {
		want = 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += uint64(c)
		if seen >= want {
			// report the bucket's upper edge, never better than the truth
			v := highOf(i)
			if v > h.max {
				v = h.max
			}
			return time.Duration(v) * time.Microsecond
		}
	}
	return time.Duration(h.max) * time.Microsecond
}
