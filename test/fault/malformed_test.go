package fault_test

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/mpm-dev/mpm/pkg/mpmdtest"
)

// Malformed Engine.IO and Socket.IO packets — truncated, wrong types,
// unsolicited acks, binary placeholders that point nowhere, absurd nesting,
// random bytes — each on its own connection after a producer connect to
// /hook. mpmd may answer with an error or close that connection, but it
// must not crash, store anything, leave goroutines behind, or disturb a
// bystander client.
func TestSecurityMalformedPacketsHarmless(t *testing.T) {
	d := mpmdtest.Start(t)
	bystander := mpmdtest.MustWS(t, d)
	if msg, err := bystander.Connect("/hook", map[string]any{}); err != nil || msg != "" {
		t.Fatalf("bystander: %q %v", msg, err)
	}
	base := settle(t, d)
	before := stored(t, d)

	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	deepObj := strings.Repeat(`{"a":`, 20000) + "1" + strings.Repeat("}", 20000)
	packets := []string{
		"", "4", "42", "42[", "42/hook,", "42/hook,[]", "42/hook,{}", "42/hook,1", "42/hook,null",
		`42/hook,[null]`, `42/hook,[{}]`, `42/hook,[["x"]]`, `42/hook,["x",` + deep + `]`, `42/hook,["x",` + deepObj + `]`,
		`42/hook,99999999999999999999999["x",{}]`, `42/hook,-1["x",{}]`, `42/hook,1.5["x",{}]`,
		`43/hook,1[{}]`, `43/hook,77["forged ack"]`, `41/nope,`, `44/hook,{"message":"x"}`,
		`451-/hook,["x",{"_placeholder":true,"num":0}]`,
		`451-/hook,["x",{"_placeholder":true,"num":5}]`,
		`45999999-/hook,["x",{}]`, `45-1-/hook,["x",{}]`,
		`461-/hook,3[{"_placeholder":true,"num":-1}]`,
		`40/hook,notjson`, `40/hook,[1,2]`, `40/hook,"str"`, "4x", "9", "2probe", "5", "6", "1x",
		"42/hook,[\"x\\u0000\",{}]", `42/hook,["x",{"event_id":"` + strings.Repeat("i", 200) + `"}]`,
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 40; i++ {
		b := make([]byte, 1+rng.IntN(200))
		for j := range b {
			b[j] = byte(rng.IntN(256))
		}
		packets = append(packets, "42/hook,"+string(b))
	}
	closed, probes := 0, 0
	for i, pkt := range packets {
		w := mpmdtest.MustWS(t, d)
		if msg, err := w.Connect("/hook", map[string]any{"producer": true}); err != nil || msg != "" {
			t.Fatalf("packet %d: producer connect: %q %v", i, msg, err)
		}
		if err := w.Send(pkt); err != nil {
			closed++
			w.C.Close()
			continue
		}
		if i%4 == 0 { // and a binary frame of junk
			_ = w.C.WriteMessage(websocket.BinaryMessage, []byte{0xde, 0xad, 0xbe, 0xef})
		}
		// Whatever mpmd did with it, the connection either still works (a
		// valid emit is acked) or has been closed.
		ack, err := w.EmitAck("/hook", 424242, "probe_after_malformed", map[string]any{"event_id": "fault-probe-" + strconv.Itoa(i)})
		switch {
		case err != nil:
			closed++
		case ack["seq"] == nil:
			t.Errorf("packet %d (%.60q): the next valid emit got %v", i, pkt, ack)
		default:
			probes++
		}
		w.C.Close()
		if i%10 == 0 && d.Health(t)["status"] != "healthy" {
			t.Fatalf("after packet %d (%.60q) mpmd is not healthy", i, pkt)
		}
	}
	t.Logf("%d malformed packets: %d connections closed by mpmd, %d still working", len(packets), closed, probes)
	if got := stored(t, d); got != before+int64(probes) {
		t.Errorf("malformed packets stored %d events", got-before-int64(probes))
	}
	d.Emit(t, "hook", "after_malformed", map[string]any{})
	for {
		msg, err := bystander.Read(5 * time.Second)
		if err != nil {
			t.Fatalf("bystander after the malformed packets: %v", err)
		}
		if strings.Contains(msg, "after_malformed") {
			break
		}
	}
	backToBaseline(t, d, usage{goroutines: base.goroutines, heap: base.heap, clients: 1}, "after malformed packets")
	if !d.Running() {
		t.Fatal("mpmd exited")
	}
}
