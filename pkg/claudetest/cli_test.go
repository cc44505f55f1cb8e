package claudetest_test

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/mpm-dev/mpm/pkg/claudetest"
)

// TestRealCLI runs the real CLI against the stand-in and checks that it
// takes the streamed answers as it takes the real API's: the text reaches
// stdout, the tool runs and its result comes back, the transcript holds one
// line per content block with the stand-in's message and request ids and
// usage, and Claude Code's own cost-state counts exactly the tokens the
// stand-in reported, cache writes split by lifetime, priced as the binary's
// catalogue prices claude-opus-5-5.
func TestRealCLI(t *testing.T) {
	t.Parallel()
	first := claudetest.Usage{InputTokens: 200, OutputTokens: 100, CacheReadInputTokens: 60, CacheCreation5mInputTokens: 30, CacheCreation1hInputTokens: 10}
	second := claudetest.Usage{InputTokens: 7, OutputTokens: 11, CacheReadInputTokens: 13, CacheCreation5mInputTokens: 17, CacheCreation1hInputTokens: 19}
	srv := claudetest.NewServer(t, func(r *claudetest.Request) claudetest.Reply {
		switch r.Turn() {
		case 0:
			return claudetest.Reply{Content: []claudetest.Content{
				claudetest.Thinking("Let me look."),
				claudetest.Text("Checking."),
				claudetest.ToolUse("Bash", map[string]any{"command": "echo stand-in-ran-me", "description": "probe"}),
			}, Usage: first}
		case 1:
			if res := r.ToolResults(); len(res) != 1 || !strings.Contains(res[0].AllText(), "stand-in-ran-me") || res[0].IsError {
				return claudetest.TextReply(fmt.Sprintf("unexpected tool results %+v", res))
			}
			return claudetest.TextReply("Done: überall grün ✓.").WithUsage(second)
		}
		return claudetest.Reply{}
	})
	c := claudetest.New(t, srv)
	res := c.Run(t, "probe the stand-in")
	if res.ExitCode != 0 || strings.TrimSpace(res.Stdout) != "Done: überall grün ✓." {
		t.Fatalf("exit %d, stdout %q, stderr %q", res.ExitCode, res.Stdout, res.Stderr)
	}
	xs := srv.Exchanges()
	if len(xs) != 2 {
		t.Fatalf("%d Messages API calls, want 2", len(xs))
	}
	// With non-essential traffic off, nothing else is called.
	for _, r := range srv.Requests() {
		if !r.IsMessages() || r.Query != "beta=true" {
			t.Errorf("call %d: %s %s?%s, want only POST /v1/messages?beta=true", r.Seq, r.Method, r.Path, r.Query)
		}
	}
	for _, x := range xs {
		if got := x.Request.Header.Get("X-Claude-Code-Session-Id"); got != res.SessionID {
			t.Errorf("call %d: session header %q, want %q", x.Request.Seq, got, res.SessionID)
		}
		if !x.Request.Stream || !x.Request.HasTool("Bash") {
			t.Errorf("call %d: stream %v, tools %v", x.Request.Seq, x.Request.Stream, x.Request.ToolNames())
		}
	}

	type line struct{ msg, req, block string }
	var got []line
	for _, e := range claudetest.ReadTranscript(t, res.TranscriptPath) {
		switch e.Type() {
		case "assistant":
			m, _ := e["message"].(map[string]any)
			content, _ := m["content"].([]any)
			if len(content) != 1 {
				t.Errorf("assistant line with %d blocks, want 1: %v", len(content), e)
				continue
			}
			b, _ := content[0].(map[string]any)
			id, _ := m["id"].(string)
			req, _ := e["requestId"].(string)
			bt, _ := b["type"].(string)
			got = append(got, line{id, req, bt})
			want := first
			if id == xs[1].MessageID {
				want = second
			}
			if u := transcriptUsage(m["usage"]); u != want {
				t.Errorf("%s %s line: usage %+v, want %+v", id, bt, u, want)
			}
		}
	}
	want := []line{{xs[0].MessageID, xs[0].RequestID, "thinking"}, {xs[0].MessageID, xs[0].RequestID, "text"},
		{xs[0].MessageID, xs[0].RequestID, "tool_use"}, {xs[1].MessageID, xs[1].RequestID, "text"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("assistant lines %v, want %v", got, want)
	}

	cs, ok := claudetest.ReadCostState(t, res.TranscriptPath)
	if !ok {
		t.Fatal("no cost-state entry in the transcript")
	}
	byModel := srv.UsageByModel()
	if fmt.Sprint(cs.ModelUsage) != fmt.Sprint(byModel) || len(byModel) != 1 {
		t.Errorf("cost-state modelUsage %+v, want the stand-in's %+v", cs.ModelUsage, byModel)
	}
	// claude-opus-5-5's tier: $4 in, $20 out, $5 / $8 cache writes (5 min /
	// 1 h), $0.20 cache reads, per million tokens.
	u := byModel["claude-opus-5-5"]
	price := (4*float64(u.InputTokens) + 20*float64(u.OutputTokens) + 5*float64(u.CacheCreation5mInputTokens) +
		8*float64(u.CacheCreation1hInputTokens) + 0.2*float64(u.CacheReadInputTokens)) / 1e6
	if math.Abs(cs.TotalCostUSD-price) > 1e-12 || cs.HasUnknownModelCost {
		t.Errorf("totalCostUSD %v (unknown cost %v), want %v", cs.TotalCostUSD, cs.HasUnknownModelCost, price)
	}
}

func num(v any) int64 { f, _ := v.(float64); return int64(f) }

// transcriptUsage reads a transcript line's message.usage.
func transcriptUsage(v any) claudetest.Usage {
	m, _ := v.(map[string]any)
	cc, _ := m["cache_creation"].(map[string]any)
	return claudetest.Usage{
		InputTokens: num(m["input_tokens"]), OutputTokens: num(m["output_tokens"]), CacheReadInputTokens: num(m["cache_read_input_tokens"]),
		CacheCreation5mInputTokens: num(cc["ephemeral_5m_input_tokens"]), CacheCreation1hInputTokens: num(cc["ephemeral_1h_input_tokens"]),
	}
}
