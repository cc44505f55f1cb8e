package broadcast

import (
	"strconv"
	"sync"
	"testing"

	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// joinsLost races n joins of a room against the leave of its only member,
// on a namespace whose adapter b builds, and counts the joins that did not
// stick.
func joinsLost(b socket.AdapterConstructor, n int) int {
	opts := socket.DefaultServerOptions()
	opts.SetAdapter(b)
	io := socket.NewServer(nil, opts)
	defer io.Close(nil)
	a := io.Of("/t", nil).Adapter()
	room := types.NewSet[socket.Room]("r")
	lost := 0
	for i := 0; i < n; i++ {
		old, joining := socket.SocketId("old"+strconv.Itoa(i)), socket.SocketId("new"+strconv.Itoa(i))
		a.AddAll(old, room)
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); a.DelAll(old) }()
		go func() { defer wg.Done(); a.AddAll(joining, room) }()
		wg.Wait()
		if ids, ok := a.Rooms().Load("r"); !ok || !ids.Has(joining) {
			lost++
		}
		a.DelAll(joining)
	}
	return lost
}

// A socket joining a room while the room's last member leaves stays in it
// (see roomAdapter: the library's adapter can delete the room with the new
// member in it).
func TestRoomJoinRacesLeave(t *testing.T) {
	const n = 20000
	if lost := joinsLost(roomAdapterBuilder{}, n); lost != 0 {
		t.Errorf("%d of %d joins racing a leave were lost", lost, n)
	}
	// The library's own adapter, for comparison: the race is real (how often
	// it shows depends on the scheduler, so this is logged, not asserted).
	t.Logf("the library's adapter lost %d of %d such joins", joinsLost(&socket.AdapterBuilder{}, n), n)
}
