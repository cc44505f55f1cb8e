package broadcast

import (
	"math"
	"strings"
	"sync"

	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/zishang520/socket.io/parsers/engine/v3/packet"
	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// Broadcast sends event name with payload to every connected socket of
// namespace ns that is in one of rooms, and returns how many sockets that
// was. The caller must not change payload afterwards (observers may still
// read it).
//
// It encodes the packet once, and the Engine.IO message ("4" + the packet)
// once, which mpmd's websocket transport writes to every client as it is
// (wstransport.go); a long-polling client's transport encodes the packet
// from its own reader. The library's broadcast instead makes the engine
// copy and re-encode the packet per client, and its websocket transport
// build a gorilla PreparedMessage per client and packet — the largest CPU
// costs of a broadcast in the profiles (docs/PERFORMANCE.md). It also
// counts each client's backlog (LimitBacklog) and never waits for a client.
func (h *Hub) Broadcast(ns string, in []string, name string, payload map[string]any) int {
	return h.BroadcastFunc(ns, in, name, func() map[string]any { return payload })
}

// BroadcastFunc is Broadcast with the payload made by payload, called only
// when some socket is in one of the rooms: an event nobody listens to costs
// no payload (mpmd's ingest without consumers, docs/PERFORMANCE.md).
func (h *Hub) BroadcastFunc(ns string, in []string, name string, payloadOf func() map[string]any) int {
	n, err := h.lookup(ns)
	if err != nil {
		return 0
	}
	nsp := n.nsp
	a := nsp.Adapter()
	if !anyMember(a, in) {
		return 0 // no set built, no payload made
	}
	ids := a.Sockets(rooms(in)).Keys()
	if len(ids) == 0 {
		return 0
	}
	payload := payloadOf()
	if h.observing() {
		sids := make([]string, len(ids))
		for i, id := range ids {
			sids[i] = string(id)
		}
		h.obs.Observe(Event{Kind: Broadcasted, Nsp: ns, SocketIDs: sids, Args: []any{name, payload}})
	}
	msg, ok := encodeEvent(nsp.Name(), name, payload)
	if !ok {
		// data of other types than JSON's: the library's encoder
		pkt := &parser.Packet{Type: parser.EVENT, Nsp: nsp.Name(), Data: []any{name, payload}}
		h.fanOutPackets(nsp, ids, h.io.Encoder().Encode(pkt))
		return len(ids)
	}
	// For the engine path (long-polling clients), made when first needed.
	var frame types.BufferInterface
	var str string
	sockets := nsp.Sockets()
	for _, id := range ids {
		sock, ok := sockets.Load(id)
		if !ok || !sock.Connected() {
			continue
		}
		ec := sock.Conn()
		if ec == nil {
			continue
		}
		b := backlogOf(sock)
		if b != nil && b.dropped.Load() {
			continue
		}
		if wt, ok := ec.Transport().(*wsTransport); ok {
			limit := math.MaxInt // producers are not bounded
			if b != nil {
				limit = h.cfg.MaxBacklog
			}
			switch wt.queueMessage(msg, limit, h.held.Load()) {
			case 1:
				if h.observing() {
					h.obs.Observe(Event{Kind: PacketOut, Bytes: len(msg) - 1})
				}
				continue
			case 0:
				if b != nil {
					h.drop(sock, b)
				}
				continue
			}
		}
		if b != nil && h.queued(sock, b) {
			continue
		}
		if frame == nil {
			frame, str = types.NewStringBuffer(msg), string(msg[1:])
		}
		// A *strings.Reader: the engine sends any other reader as binary.
		ec.Write(strings.NewReader(str), &packet.Options{WsPreEncodedFrame: frame}, nil)
	}
	return len(ids)
}

// WriteHold keeps the broadcasts made while it is held from waking the
// clients' writers: each websocket client's messages are queued, and its
// writer started once, at Release, so it writes all of them with one
// write(2) instead of racing the loop with one write per event. mpmd's
// pipeline holds writes while it broadcasts a committed batch; at a few
// events per batch that divides the write(2) per delivery — the largest
// cost of a fan-out to official socket.io-client listeners
// (docs/PERFORMANCE.md) — by the batch's size, for the time it takes to
// queue the batch.
type WriteHold struct {
	h    *Hub
	mu   sync.Mutex
	wake []*wsTransport
}

// HoldWrites starts holding writes until Release. One hold at a time: the
// caller is the one goroutine that broadcasts (mpmd's pipeline).
func (h *Hub) HoldWrites() *WriteHold {
	wh := &WriteHold{h: h}
	h.held.Store(wh)
	return wh
}

// Release stops holding and starts the writers of every client that got
// something meanwhile.
func (wh *WriteHold) Release() {
	wh.h.held.CompareAndSwap(wh, nil)
	wh.mu.Lock()
	wake := wh.wake
	wh.wake = nil
	wh.mu.Unlock()
	for _, w := range wake {
		w.release()
	}
}

func (wh *WriteHold) add(w *wsTransport) {
	wh.mu.Lock()
	wh.wake = append(wh.wake, w)
	wh.mu.Unlock()
}

// anyMember reports whether some socket is in one of rooms, without
// building the sets Sockets does.
func anyMember(a socket.Adapter, rooms []string) bool {
	for _, r := range rooms {
		if m, ok := a.Rooms().Load(socket.Room(r)); ok && m.Len() > 0 {
			return true
		}
	}
	return false
}

// encodeEvent returns the Engine.IO message ("4") carrying the Socket.IO
// EVENT packet ("2") [name, payload] for namespace nsp, as the library's
// encoder writes it, or false when payload holds anything but what decoding
// JSON yields (the encoder may make such data a binary packet).
func encodeEvent(nsp, name string, payload map[string]any) ([]byte, bool) {
	b := make([]byte, 0, 512)
	b = append(b, '4', '2')
	if nsp != "" && nsp != "/" {
		b = append(b, nsp...)
		b = append(b, ',')
	}
	b, err := event.AppendPlainJSON(b, []any{name, payload})
	if err != nil || len(b)-2 > types.MaxPayloadSize {
		return nil, false
	}
	return b, true
}

func (h *Hub) fanOutPackets(nsp socket.Namespace, ids []socket.SocketId, encoded []types.BufferInterface) {
	opts := &socket.WriteOptions{PreEncoded: true}
	sockets := nsp.Sockets()
	for _, id := range ids {
		sock, ok := sockets.Load(id)
		if !ok || !sock.Connected() {
			continue
		}
		if b := backlogOf(sock); b != nil && h.queued(sock, b) {
			continue
		}
		sock.Client().WriteToEngine(encoded, opts)
	}
}
