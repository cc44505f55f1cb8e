package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Socket.IO v5 packet types.
const (
	sioConnect      = '0'
	sioDisconnect   = '1'
	sioEvent        = '2'
	sioAck          = '3'
	sioConnectError = '4'
	sioBinaryEvent  = '5'
	sioBinaryAck    = '6'
)

// packet is one Socket.IO packet: "<type>[<nsp>,][<id>][<json>]".
type packet struct {
	typ  byte   // '0'…'6'
	ns   string // "/" when the packet names none
	id   int64  // -1 when none
	data []byte // the JSON payload, possibly empty
}

var errPacket = errors.New("bad Socket.IO packet")

// parsePacket reads a Socket.IO packet (an Engine.IO message without its "4").
func parsePacket(s []byte) (packet, error) {
	p := packet{ns: "/", id: -1}
	if len(s) == 0 || s[0] < sioConnect || s[0] > sioBinaryAck {
		return p, fmt.Errorf("%w: %q", errPacket, shortBytes(s))
	}
	p.typ = s[0]
	i := 1
	if p.typ == sioBinaryEvent || p.typ == sioBinaryAck {
		return p, fmt.Errorf("%w: binary packets are not supported", errPacket)
	}
	if i < len(s) && s[i] == '/' {
		j := bytes.IndexByte(s[i:], ',')
		if j < 0 {
			p.ns, i = string(s[i:]), len(s)
		} else {
			p.ns, i = string(s[i:i+j]), i+j+1
		}
	}
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i > start {
		id, err := strconv.ParseInt(string(s[start:i]), 10, 64)
		if err != nil {
			return p, fmt.Errorf("%w: ack id %q", errPacket, s[start:i])
		}
		p.id = id
	}
	p.data = s[i:]
	return p, nil
}

// encodePacket builds the Engine.IO message ("4…") of a Socket.IO packet.
func encodePacket(typ byte, ns string, id int64, data []byte) []byte {
	b := make([]byte, 0, len(ns)+len(data)+24)
	b = append(b, '4', typ)
	if ns != "/" {
		b = append(b, ns...)
		b = append(b, ',')
	}
	if id >= 0 {
		b = strconv.AppendInt(b, id, 10)
	}
	return append(b, data...)
}

// decodeJSON decodes with UseNumber, so integers (seq) keep every digit.
func decodeJSON(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

func shortBytes(b []byte) string { return short(string(b)) }
