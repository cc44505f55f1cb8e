// Command floor is the benchmark's lower bound for a hook relay written in
// Go: stdlib only, it reads the hook input, POSTs it once to mpmd's /emit on
// loopback and exits. mpm-hook does more (Socket.IO handshake, ack, spool
// fallback, discovery); its start-up and round trips are measured against
// this.
package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
)

func main() {
	in, _ := io.ReadAll(os.Stdin)
	var data map[string]any
	_ = json.Unmarshal(in, &data)
	body, _ := json.Marshal(map[string]any{"namespace": "hook", "event": "pre_tool", "data": data})
	resp, err := http.Post(os.Args[1]+"/emit", "application/json", bytes.NewReader(body))
	if err != nil {
		os.Exit(1)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}
