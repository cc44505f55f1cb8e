package relay

import "sync"

// safeBuffer collects stdin in the reading goroutine while the relay may take
// a snapshot at its deadline.
type safeBuffer struct {
	mu  sync.Mutex
	b   []byte
	cut bool
}

// add appends p, keeping at most limit bytes; it reports whether the limit was reached.
func (s *safeBuffer) add(p []byte, limit int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	room := limit - len(s.b)
	if len(p) > room {
		s.b = append(s.b, p[:max(room, 0)]...)
		s.cut = true
		return true
	}
	s.b = append(s.b, p...)
	return false
}

func (s *safeBuffer) snapshot() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b[:len(s.b):len(s.b)]
}

func (s *safeBuffer) grow(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cap(s.b) < n {
		s.b = make([]byte, 0, n)
	}
}
