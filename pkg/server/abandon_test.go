package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/server"
	"github.com/mpm-dev/mpm/pkg/store"
)

// storeServer runs mpmd's server on st (a file store: several read
// connections) on a free loopback port and returns its URL.
func storeServer(t *testing.T, cfg server.Config, st *store.Store) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Host = "127.0.0.1"
	cfg.Port = ln.Addr().(*net.TCPAddr).Port
	srv := server.New(cfg, st, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return "http://" + ln.Addr().String()
}

// slowTextStore fills st with 3,000 events of 4 KB of "a" and a newest one
// with text: a search for text compares every position of every event
// (milliseconds an event, seconds for the store).
func slowTextStore(t *testing.T, st *store.Store) string {
	t.Helper()
	text := strings.Repeat("a", 60) + "b"
	filler := strings.Repeat("a", 4000)
	base := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	ctx := context.Background()
	for i := 0; i <= 3000; i += 500 {
		tx, err := st.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for j := i; j < min(i+500, 3001); j++ {
			data := map[string]any{"text": filler}
			if j == 3000 {
				data["text"] = filler + text
			}
			e := &event.Event{ID: fmt.Sprintf("slow-%d", j), Namespace: "/system", Name: "note", SessionID: "slow", Time: base.Add(time.Duration(j) * time.Second), Data: data}
			if _, err := tx.Append(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	return text
}

// Requests whose scans are abandoned — cut off by the request timeout,
// and others whose clients gave up — answer with an error status (never
// an empty 200), and the requests right after them answer correctly at
// once: the abandoned scans no longer hold the store's read connections
// (the 10 M growth run's failed text and empty export answers).
func TestAbandonedScansLeaveTheStoreFree(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	text := slowTextStore(t, st)
	base := storeServer(t, server.Config{RequestTimeout: 400 * time.Millisecond}, st)
	slow := base + "/api/events?" + url.Values{"q": {text}, "order": {"desc"}, "limit": {"2"}}.Encode()

	var wg sync.WaitGroup
	for i := range 8 { // twice the store's read connections
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 1 { // a client that gives up first
				ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
				defer cancel()
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, slow, nil)
				if resp, err := http.DefaultClient.Do(req); err == nil {
					resp.Body.Close()
				}
				return
			}
			start := time.Now()
			resp, err := http.Get(slow)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var body struct{ Error string }
			_ = json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != http.StatusServiceUnavailable || body.Error == "" {
				t.Errorf("a search cut off by the request timeout: %d %q, want 503 with an error", resp.StatusCode, body.Error)
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("a search cut off by the request timeout answered after %v", took)
			}
		}()
	}
	wg.Wait()

	// New connections: a keep-alive connection whose last request was cut
	// off by the request timeout cancels the next request's context at
	// once (bounded's deadlines; not the store's doing, left as it is).
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	start := time.Now()
	for range 2 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			resp, err := fresh.Get(base + "/api/events?session_id=slow&order=desc&limit=3")
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var page struct {
				Events []struct {
					ID string `json:"event_id"`
				}
			}
			if err := json.NewDecoder(resp.Body).Decode(&page); err != nil || resp.StatusCode != 200 || len(page.Events) != 3 || page.Events[2].ID != "slow-3000" {
				t.Errorf("a page after the abandoned searches: %d, %d events, %v after %v", resp.StatusCode, len(page.Events), err, time.Since(start))
			}
		}()
		go func() {
			defer wg.Done()
			resp, err := fresh.Get(base + "/api/events?session_id=slow&format=jsonl")
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			n := 0
			sc := bufio.NewScanner(resp.Body)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				n++
			}
			if resp.StatusCode != 200 || n != 3001 || sc.Err() != nil {
				t.Errorf("an export after the abandoned searches: %d, %d lines, %v", resp.StatusCode, n, sc.Err())
			}
		}()
	}
	wg.Wait()
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Errorf("the requests after the abandoned searches took %v", took)
	}
}

// An export whose query fails before its first line is answered with an
// error status and a JSON error, not an empty 200.
func TestFailedExportIsAnError(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	base := storeServer(t, server.Config{}, st)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get(base + "/health"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("mpmd did not start")
		}
	}
	st.Close() // every query fails now
	for _, q := range []string{"format=jsonl", "format=jsonl&session_id=x", "limit=5"} {
		resp, err := http.Get(base + "/api/events?" + q)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var body struct{ Error string }
		if resp.StatusCode != http.StatusInternalServerError || json.Unmarshal(b, &body) != nil || body.Error == "" {
			t.Errorf("%s on a failing store: %d %q, want 500 with an error", q, resp.StatusCode, b)
		}
	}
}
