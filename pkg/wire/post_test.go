package wire

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// answerOnce serves one connection: it reads the request, hands it to check
// and writes raw as the answer (nothing when raw is empty: it closes).
func answerOnce(t *testing.T, raw string, check func(*http.Request, []byte)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			return
		}
		body, _ := io.ReadAll(req.Body)
		if check != nil {
			check(req, body)
		}
		io.WriteString(c, raw)
	}()
	return "http://" + ln.Addr().String()
}

func post(t *testing.T, url, token string) (Ack, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := DialPost(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	return c.Post(ctx, token, "/hook", "pre_tool", map[string]any{"event_id": "e1", "text": "naïve ✓"})
}

func TestPostSendsOneRequestAndReadsTheAck(t *testing.T) {
	var got struct {
		method, path, auth, ctype, body string
	}
	url := answerOnce(t, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 48\r\n\r\n{\"seq\":9007199254740993,\"event_id\":\"e1\",\"dup\":0}",
		func(r *http.Request, b []byte) {
			got.method, got.path, got.auth, got.ctype, got.body = r.Method, r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), string(b)
		})
	ack, err := post(t, url, "tok")
	if err != nil {
		t.Fatal(err)
	}
	if ack.Seq != 9007199254740993 || ack.EventID != "e1" {
		t.Errorf("ack %+v", ack)
	}
	if got.method != "POST" || got.path != "/emit" || got.auth != "Bearer tok" || got.ctype != "application/json" {
		t.Errorf("request %+v", got)
	}
	if want := `{"namespace":"/hook","event":"pre_tool","data":{"event_id":"e1","text":"naïve ✓"}}`; got.body != want {
		t.Errorf("body %s, want %s", got.body, want)
	}
}

func TestPostRefusals(t *testing.T) {
	for _, c := range []struct {
		name, raw string
		transient bool
		msg       string
	}{
		{"invalid event", "HTTP/1.1 400 Bad Request\r\nContent-Length: 39\r\n\r\n{\"error\":\"bad name\",\"code\":\"invalid\"}\r\n", false, "bad name"},
		{"store full", "HTTP/1.1 507 Insufficient Storage\r\n\r\n{\"error\":\"event not stored: disk full\",\"code\":\"store\"}", true, "disk full"},
		{"overloaded, no body", "HTTP/1.1 503 Service Unavailable\r\n\r\n", true, "503"},
		{"wrong token, text body", "HTTP/1.1 401 Unauthorized\r\n\r\nno\x00\xff", false, "401"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := post(t, answerOnce(t, c.raw, nil), "")
			var ae *AckError
			if !errors.As(err, &ae) {
				t.Fatalf("err %v, want an AckError", err)
			}
			if ae.Transient() != c.transient || !strings.Contains(ae.Error(), c.msg) {
				t.Errorf("err %q transient %v, want %v and %q", ae, ae.Transient(), c.transient, c.msg)
			}
		})
	}
}

func TestPostLostAnswers(t *testing.T) {
	for _, c := range []struct{ name, raw string }{
		{"closed before the answer", ""},
		{"not HTTP", "SSH-2.0-OpenSSH\r\n"},
		{"cut body", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"seq\":1"},
		{"200 but not JSON", "HTTP/1.1 200 OK\r\n\r\n<html>"},
		{"200 but an array", "HTTP/1.1 200 OK\r\n\r\n[1]"},
		{"huge body", "HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n{}"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := post(t, answerOnce(t, c.raw, nil), "")
			var ae *AckError
			if err == nil || errors.As(err, &ae) {
				t.Fatalf("err %v, want an error that is not a refusal (the event may be retried)", err)
			}
		})
	}
}

func TestPostNoDaemonAndDeadline(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	if _, err := DialPost(context.Background(), "http://"+addr); !errors.Is(err, ErrNoDaemon) {
		t.Errorf("closed port: %v, want ErrNoDaemon", err)
	}
	if _, err := DialPost(context.Background(), "ftp://x"); err == nil {
		t.Error("ftp URL accepted")
	}
	// A server that reads and never answers: the context ends the wait.
	ln2, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln2.Close()
	go func() {
		c, err := ln2.Accept()
		if err == nil {
			io.Copy(io.Discard, c)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	c, err := DialPost(ctx, "http://"+ln2.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := c.Post(ctx, "", "/hook", "x", nil); err == nil || time.Since(start) > 2*time.Second {
		t.Errorf("silent server: err %v after %s", err, time.Since(start))
	}
}
