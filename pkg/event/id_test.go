package event

import (
	"regexp"
	"testing"
	"time"
)

// Event ids are 32 hex digits, unique, and ordered by the time they were
// made (to the millisecond), so the store appends them to the end of its
// event_id index.
func TestNewIDIsTimeOrderedAndUnique(t *testing.T) {
	hex32 := regexp.MustCompile(`^[0-9a-f]{32}$`)
	seen := map[string]bool{}
	t0 := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	prev := ""
	for i := range 20000 {
		id := newID(t0.Add(time.Duration(i/10) * time.Millisecond))
		if !hex32.MatchString(id) || seen[id] {
			t.Fatalf("id %d: %q (seen before: %v)", i, id, seen[id])
		}
		seen[id] = true
		if i%10 == 0 && id <= prev {
			t.Fatalf("an id of a later millisecond sorts before the last one: %s after %s", id, prev)
		}
		prev = id
	}
	if got, want := newID(t0)[:12], "01a23efe8f80"; got != want {
		t.Errorf("the time part of %v is %s, want %s", t0, got, want)
	}
	if !hex32.MatchString(NewID()) {
		t.Error("NewID is not 32 hex digits")
	}
}
