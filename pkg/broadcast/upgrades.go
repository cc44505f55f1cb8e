package broadcast

import (
	"sync"
	"time"
)

// upgrades are the websocket upgrades of long-polling sessions, by session
// id: at most one websocket may try to upgrade a session, and it keeps its
// claim for as long as it is open (as the candidate, or as the session's
// transport once upgraded).
//
// The engine checks that a session is not already upgrading, or upgraded,
// then prepares the upgrade, and only then marks the session as upgrading
// (github.com/zishang520/socket.io/servers/engine/v3 v3.0.6, server.go
// onWebSocket, socket.go MaybeUpgrade): two websockets for one session
// could both pass the check, and a third could pass in the moment between
// "upgrading" cleared and "upgraded" set. One of them was then not closed
// (6 of 400 in a stress run), or the legitimate one lost its probe. Here
// the claim is taken atomically when the engine builds the websocket
// transport (wsBuilder.New); a websocket that finds the session claimed is
// closed with a Close frame before the engine goes on.
//
// The long-polling transport waits a moment for a session's upgrade under
// way (await), so that a poll sent after the client's upgrade packets is
// refused instead of racing them. "Under way" starts when the upgrade
// request comes in (arrive, from the hub's Handler): the engine answers it
// before it builds the transport that claims the session, and the client
// may poll as soon as it has the answer.
type upgrades struct {
	mu       sync.Mutex
	m        map[string]*upgrade
	arriving map[string]int // upgrade requests being handled, not yet claimed (arrive)
	changed  chan struct{}  // closed (and replaced) whenever m or arriving changes
}

// upgrade is one claim; done is closed when the websocket that holds it
// closes.
type upgrade struct{ done chan struct{} }

func newUpgrades() *upgrades {
	return &upgrades{m: map[string]*upgrade{}, arriving: map[string]int{}, changed: make(chan struct{})}
}

// changedLocked wakes the waiters of await; u.mu is held.
func (u *upgrades) changedLocked() {
	close(u.changed)
	u.changed = make(chan struct{})
}

// arrive marks a websocket upgrade request for sid as being handled, from
// before the engine answers it (the client may poll as soon as it has the
// answer) until the engine has built its transport, which claims the
// session; the returned func unmarks it.
func (u *upgrades) arrive(sid string) func() {
	u.mu.Lock()
	u.arriving[sid]++
	u.changedLocked()
	u.mu.Unlock()
	return func() {
		u.mu.Lock()
		if u.arriving[sid]--; u.arriving[sid] <= 0 {
			delete(u.arriving, sid)
		}
		u.changedLocked()
		u.mu.Unlock()
	}
}

// await waits while an upgrade of sid is under way — a request arriving, or
// a websocket holding the claim — until it ends, discarded or cancel is
// closed, or upgradeHold has passed.
func (u *upgrades) await(sid string, discarded, cancel <-chan struct{}) {
	t := time.NewTimer(upgradeHold)
	defer t.Stop()
	for {
		u.mu.Lock()
		up, arriving, changed := u.m[sid], u.arriving[sid] > 0, u.changed
		u.mu.Unlock()
		if up == nil && !arriving {
			return
		}
		var done chan struct{}
		if up != nil {
			done = up.done
		}
		select {
		case <-done:
			return
		case <-discarded:
			return
		case <-cancel:
			return
		case <-t.C:
			return
		case <-changed:
		}
	}
}

// claim takes the session sid for a websocket, or reports false when one
// already holds it.
func (u *upgrades) claim(sid string) (*upgrade, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if _, held := u.m[sid]; held {
		return nil, false
	}
	up := &upgrade{done: make(chan struct{})}
	u.m[sid] = up
	u.changedLocked()
	return up, true
}

// release gives up's claim back; it may be called more than once.
func (u *upgrades) release(sid string, up *upgrade) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.m[sid] == up {
		delete(u.m, sid)
		close(up.done)
		u.changedLocked()
	}
}

// upgradeHold bounds how long a poll waits for its session's upgrade. A
// client sends its probe and upgrade packets a moment apart, and may have
// one poll under way meanwhile, which it waits for before it upgrades: so
// the wait must be short, and after it the poll is served as usual.
const upgradeHold = 100 * time.Millisecond
