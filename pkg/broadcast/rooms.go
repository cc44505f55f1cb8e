package broadcast

import (
	"sync"

	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// roomAdapter is the Socket.IO library's in-memory adapter with every change
// of room membership made under one lock.
//
// The library's adapter (github.com/zishang520/socket.io/servers/socket/v3
// v3.0.6, adapter.go) loses a join that races a leave: AddAll takes the
// room's member set and adds to it, while _del, when the last member
// leaves, sees the set empty and deletes the room — with the new member in
// it. A dashboard that reconnects while its old socket is being cleaned up
// (the only consumer of a namespace leaving as the next one joins) then
// sits in no room and never receives another live event of that namespace;
// test/e2e TestLiveFromConnectNoWindow caught it about once in a few
// thousand connects on a loaded machine (TestRoomJoinRacesLeave shows it).
type roomAdapter struct {
	socket.Adapter
	mu sync.Mutex
}

// roomAdapterBuilder constructs roomAdapter for every namespace
// (ServerOptions.SetAdapter).
type roomAdapterBuilder struct{}

func (roomAdapterBuilder) New(nsp socket.Namespace) socket.Adapter {
	a := &roomAdapter{Adapter: socket.MakeAdapter()}
	a.Prototype(a)
	a.Construct(nsp)
	return a
}

func (a *roomAdapter) AddAll(id socket.SocketId, rooms *types.Set[socket.Room]) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.Adapter.AddAll(id, rooms)
}

func (a *roomAdapter) Del(id socket.SocketId, room socket.Room) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.Adapter.Del(id, room)
}

func (a *roomAdapter) DelAll(id socket.SocketId) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.Adapter.DelAll(id)
}
