package transcript_test

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/transcript"
)

const (
	sampleDir     = "testdata/projects/-home-user-proj"
	sampleSession = "d7e48aee-9368-4c80-a16b-8747364778e8"
	agentA        = "aa154b8ada56de8c7"
	agentB        = "acddcbf8a45f80f24"
)

func samplePaths() []string {
	return []string{
		filepath.Join(sampleDir, sampleSession+".jsonl"),
		filepath.Join(sampleDir, sampleSession, "subagents", "agent-"+agentA+".jsonl"),
		filepath.Join(sampleDir, sampleSession, "subagents", "agent-"+agentB+".jsonl"),
	}
}

func readFile(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// feedAll reads data in one chunk.
func feedAll(data []byte) ([]transcript.Record, transcript.Stats) {
	r := transcript.NewReader(0, 0)
	recs := r.Feed(nil, data)
	return recs, r.Stats()
}

func byKind(recs []transcript.Record, k transcript.Kind) []transcript.Record {
	var out []transcript.Record
	for _, r := range recs {
		if r.Kind == k {
			out = append(out, r)
		}
	}
	return out
}

func TestMainTranscript(t *testing.T) {
	data := readFile(t, samplePaths()[0])
	recs, st := feedAll(data)
	if st.Bad != 0 || st.Unknown != 0 || st.Oversized != 0 {
		t.Errorf("stats %+v: want no bad, unknown or oversized lines in a real transcript", st)
	}
	if got, want := st.Lines, int64(bytes.Count(data, []byte("\n"))); got != want {
		t.Errorf("lines = %d, want %d", got, want)
	}

	prompts := byKind(recs, transcript.KindUserPrompt)
	if len(prompts) != 3 || prompts[0].Text != "run two agents" || prompts[0].Origin != "" {
		t.Fatalf("prompts = %+v, want the typed prompt then two task notifications", prompts)
	}
	for _, p := range prompts[1:] {
		if p.Origin != "task-notification" || !strings.HasPrefix(p.Text, "<task-notification>") {
			t.Errorf("prompt %q has origin %q, want a task-notification", p.Text[:20], p.Origin)
		}
	}

	th := byKind(recs, transcript.KindThinking)
	if len(th) != 1 || th[0].Text != "plan two agents" || th[0].MessageID != "msg_0001" || th[0].RequestID != "req_msg_0001" ||
		th[0].Model != "claude-opus-5-5" || th[0].UUID != "2493627a-ae65-4091-8113-334c1b01ba95" {
		t.Errorf("thinking = %+v", th)
	}
	if want := time.Date(2026, 12, 3, 11, 33, 41, 625e6, time.UTC); len(th) == 1 && !th[0].Time.Equal(want) {
		t.Errorf("thinking time = %v, want %v", th[0].Time, want)
	}
	var texts []string
	for _, r := range byKind(recs, transcript.KindText) {
		texts = append(texts, r.Text)
	}
	if got, want := strings.Join(texts, "|"), "Launching two agents.|Agents launched; waiting.|Got notification.|Got notification."; got != want {
		t.Errorf("texts = %q, want %q", got, want)
	}

	tools := byKind(recs, transcript.KindToolUse)
	if len(tools) != 2 || tools[0].ToolName != "Agent" || tools[0].ToolUseID != "toolu_msg_0001_2" {
		t.Fatalf("tool uses = %+v", tools)
	}
	var in struct{ Description, Prompt string }
	if err := json.Unmarshal(tools[1].ToolInput, &in); err != nil || in.Description != "Sub B" || in.Prompt != "SUBTASK-B do b" {
		t.Errorf("tool input %s: %+v, %v", tools[1].ToolInput, in, err)
	}
	results := byKind(recs, transcript.KindToolResult)
	if len(results) != 2 || results[0].ToolUseID != "toolu_msg_0001_2" || !strings.HasPrefix(results[0].Text, "Async agent launched") || results[0].IsError {
		t.Errorf("tool results = %+v", results)
	}

	usage := byKind(recs, transcript.KindUsage)
	if len(usage) != 7 {
		t.Fatalf("%d usage records, want one per assistant line (7)", len(usage))
	}
	want := transcript.Usage{InputTokens: 100, OutputTokens: 50, CacheCreationInputTokens: 20, CacheReadInputTokens: 30,
		ServiceTier: "standard", Speed: "standard"}
	if got := *usage[0].Usage; !got.Equal(&want) {
		t.Errorf("usage = %+v, want %+v", got, want)
	}

	cs := byKind(recs, transcript.KindCostState)
	if len(cs) != 1 {
		t.Fatalf("%d cost states, want 1", len(cs))
	}
	c := cs[0].Cost
	mu := c.ModelUsage["claude-opus-5-5"]
	if c.TotalCostUSD != 0.012048000000000001 || c.TotalAPIDurationMS != 538 || c.TotalDurationMS != 1519 || c.HasUnknownModelCost ||
		mu != (transcript.ModelUsage{InputTokens: 800, OutputTokens: 400, CacheReadInputTokens: 240, CacheCreationInputTokens: 160, CostUSD: 0.012048000000000001}) {
		t.Errorf("cost state = %+v", c)
	}
	if cs[0].Offset != int64(len(data)) || cs[0].SessionID != sampleSession {
		t.Errorf("cost state offset %d session %q, want %d %q", cs[0].Offset, cs[0].SessionID, len(data), sampleSession)
	}
	for _, r := range recs {
		if r.SessionID != sampleSession && r.Kind != transcript.KindCostState {
			t.Errorf("%v record has session %q", r.Kind, r.SessionID)
		}
	}
}

func TestSubagentTranscript(t *testing.T) {
	recs, st := feedAll(readFile(t, samplePaths()[1]))
	if st.Bad != 0 || st.Unknown != 0 {
		t.Errorf("stats %+v", st)
	}
	if len(recs) == 0 {
		t.Fatal("no records")
	}
	for _, r := range recs {
		if r.AgentID != agentA {
			t.Errorf("%v record has agent %q, want %q", r.Kind, r.AgentID, agentA)
		}
	}
	if p := byKind(recs, transcript.KindUserPrompt); len(p) != 1 || p[0].Text != "SUBTASK-A do a" || !p[0].IsSidechain {
		t.Errorf("subagent prompt = %+v", p)
	}
	if tu := byKind(recs, transcript.KindToolUse); len(tu) != 1 || tu[0].ToolName != "Bash" {
		t.Errorf("subagent tool use = %+v", tu)
	}
}

// Tokens counted once per message over the session's files equal Claude
// Code's own cost-state totals exactly.
func TestUsageOncePerMessageMatchesCostState(t *testing.T) {
	tr := transcript.NewUsageTracker(0)
	var sum transcript.ModelUsage
	var cost *transcript.CostState
	lines := 0
	for _, p := range samplePaths() {
		recs, _ := feedAll(readFile(t, p))
		for i := range recs {
			r := &recs[i]
			if r.Kind == transcript.KindCostState {
				cost = r.Cost
			}
			if r.Kind == transcript.KindUsage {
				lines++
			}
			if tr.Observe(r) {
				u := r.Usage
				sum.InputTokens += u.InputTokens
				sum.OutputTokens += u.OutputTokens
				sum.CacheReadInputTokens += u.CacheReadInputTokens
				sum.CacheCreationInputTokens += u.CacheCreationInputTokens
			}
		}
	}
	if tr.Len() != 8 || lines != 13 {
		t.Errorf("%d messages over %d usage lines, want 8 over 13", tr.Len(), lines)
	}
	got := cost.ModelUsage["claude-opus-5-5"]
	sum.CostUSD = got.CostUSD
	if sum != got {
		t.Errorf("usage summed once per message = %+v, cost-state says %+v", sum, got)
	}
}

func TestUsageTracker(t *testing.T) {
	u := func(in int64) *transcript.Usage { return &transcript.Usage{InputTokens: in} }
	rec := func(msg, req string, usage *transcript.Usage) *transcript.Record {
		return &transcript.Record{Kind: transcript.KindUsage, MessageID: msg, RequestID: req, Model: "m", Usage: usage}
	}
	tr := transcript.NewUsageTracker(2)
	steps := []struct {
		r    *transcript.Record
		want bool
	}{
		{rec("a", "r1", u(1)), true},
		{rec("a", "r1", u(1)), false}, // the same message's next line
		{rec("a", "r1", u(2)), true},  // changed
		{rec("a", "r2", u(2)), true},  // same message id, another request
		{rec("b", "", u(1)), true},    // evicts a/r1
		{rec("a", "r1", u(2)), true},  // forgotten, so new again
		{&transcript.Record{MessageID: "c", Model: transcript.SyntheticModel, Usage: u(5)}, false},
		{&transcript.Record{MessageID: "d", Model: "m"}, false},
	}
	for i, s := range steps {
		if got := tr.Observe(s.r); got != s.want {
			t.Errorf("step %d: Observe = %v, want %v", i, got, s.want)
		}
	}
	if tr.Len() != 2 {
		t.Errorf("Len = %d, want the bound 2", tr.Len())
	}
	tr.Reset()
	if tr.Len() != 0 || !tr.Observe(rec("b", "", u(1))) {
		t.Error("Reset did not forget")
	}
}

func TestResumedSessionAppendsToTheSameFile(t *testing.T) {
	recs, st := feedAll(readFile(t, "testdata/resumed.jsonl"))
	if st.Bad != 0 || st.Unknown != 0 {
		t.Errorf("stats %+v", st)
	}
	var totals []float64
	for _, r := range byKind(recs, transcript.KindCostState) {
		totals = append(totals, r.Cost.TotalCostUSD)
	}
	// one cost-state per run (first, --continue, --resume, --continue), each cumulative
	if want := []float64{0.001506, 0.003012, 0.0045179999999999994, 0.006024}; !reflect.DeepEqual(totals, want) {
		t.Errorf("cost-state totals = %v, want %v", totals, want)
	}
	var prompts []string
	for _, r := range byKind(recs, transcript.KindUserPrompt) {
		prompts = append(prompts, r.Text)
	}
	if got := strings.Join(prompts, ","); got != "SIMPLE first,SIMPLE second,SIMPLE third,SIMPLE fourth" {
		t.Errorf("prompts = %s", got)
	}
}

func TestCompaction(t *testing.T) {
	recs, _ := feedAll(readFile(t, "testdata/compacted.jsonl"))
	var kinds []string
	for _, r := range recs {
		if r.Kind != transcript.KindUsage {
			kinds = append(kinds, r.Kind.String())
		}
	}
	got := strings.Join(kinds, " ")
	want := "user_prompt thinking text cost_state compact_boundary compact_summary user_prompt user_prompt cost_state user_prompt thinking text cost_state"
	if got != want {
		t.Errorf("kinds =\n %s\nwant\n %s", got, want)
	}
	b := byKind(recs, transcript.KindCompactBoundary)[0]
	if b.Subtype != "compact_boundary" || b.Text != "Conversation compacted" || b.ParentUUID != "" {
		t.Errorf("boundary = %+v", b)
	}
	if s := byKind(recs, transcript.KindCompactSummary)[0]; !strings.Contains(s.Text, "The user asked simple things.") || s.ParentUUID != b.UUID {
		t.Errorf("summary = %+v", s)
	}
}

func TestLegacySummaryEntry(t *testing.T) {
	recs, st := feedAll([]byte(`{"type":"summary","summary":"Fixing the build","leafUuid":"leaf-1"}` + "\n"))
	if len(recs) != 1 || recs[0].Kind != transcript.KindSummary || recs[0].Text != "Fixing the build" || recs[0].ParentUUID != "leaf-1" {
		t.Errorf("records %+v, stats %+v", recs, st)
	}
}

// assistant is a minimal assistant line.
func assistant(uuid, msg, text string) string {
	return `{"type":"assistant","uuid":"` + uuid + `","sessionId":"s","requestId":"r-` + msg + `","message":{"id":"` + msg +
		`","model":"claude-opus-5-5","role":"assistant","content":[{"type":"text","text":"` + text +
		`"}],"usage":{"input_tokens":3,"output_tokens":4}},"timestamp":"2026-12-03T11:33:41.625Z"}`
}

func TestTolerance(t *testing.T) {
	a1, a2 := assistant("u1", "m1", "hello"), assistant("u2", "m2", "world")
	tests := []struct {
		name  string
		input string
		texts string // the text records' texts, joined with |
		stats transcript.Stats
	}{
		{"plain", a1 + "\n" + a2 + "\n", "hello|world", transcript.Stats{Lines: 2, Records: 4}},
		{"partial last line kept", a1 + "\n" + a2[:40], "hello", transcript.Stats{Lines: 1, Records: 2}},
		{"CRLF", a1 + "\r\n" + a2 + "\r\n", "hello|world", transcript.Stats{Lines: 2, Records: 4}},
		{"BOM", "\xef\xbb\xbf" + a1 + "\n", "hello", transcript.Stats{Lines: 1, Records: 2}},
		{"BOM only at the start", a1 + "\n\xef\xbb\xbf" + a2 + "\n", "hello", transcript.Stats{Lines: 2, Records: 2, Bad: 1}},
		{"not JSON", "hello there\n" + a1 + "\n", "hello", transcript.Stats{Lines: 2, Records: 2, Bad: 1}},
		{"truncated JSON", a1[:50] + "\n" + a2 + "\n", "world", transcript.Stats{Lines: 2, Records: 2, Bad: 1}},
		{"array", `[1,2]` + "\n" + a1 + "\n", "hello", transcript.Stats{Lines: 2, Records: 2, Bad: 1}},
		{"no type", `{"uuid":"x"}` + "\n", "", transcript.Stats{Lines: 1, Bad: 1}},
		{"message of the wrong shape", `{"type":"assistant","message":"hi"}` + "\n", "", transcript.Stats{Lines: 1, Bad: 1}},
		{"content of the wrong shape", `{"type":"user","message":{"content":7}}` + "\n", "", transcript.Stats{Lines: 1, Bad: 1}},
		{"trailing garbage", a1 + "x\n", "", transcript.Stats{Lines: 1, Bad: 1}},
		{"unknown entry type", `{"type":"hologram","x":{"y":[1,2,{"z":"}"}]}}` + "\n" + a1 + "\n", "hello", transcript.Stats{Lines: 2, Records: 2, Unknown: 1}},
		{"skipped entry type", `{"parentUuid":null,"attachment":{"type":"prompt_snapshot","text":"a \"quoted\" } brace"},"type":"attachment"}` + "\n", "", transcript.Stats{Lines: 1, Skipped: 1}},
		{"unknown fields and blocks", `{"type":"assistant","new":{"a":[true,null,1.5e3]},"message":{"id":"m","content":[{"type":"hologram"},{"type":"text","text":"ok","extra":1}]}}` + "\n", "ok", transcript.Stats{Lines: 1, Records: 1}},
		{"blank lines", "\n  \n" + a1 + "\n", "hello", transcript.Stats{Lines: 3, Records: 2}},
		{"escapes", assistant("u", "m", `tab\there \"q\" \u00e9 \ud83d\ude00 \\`) + "\n", "tab\there \"q\" é 😀 \\", transcript.Stats{Lines: 1, Records: 2}},
		{"deep nesting", `{"a":` + strings.Repeat("[", 2000) + strings.Repeat("]", 2000) + `,"type":"user"}` + "\n" + a1 + "\n", "hello", transcript.Stats{Lines: 2, Records: 2, Bad: 1}},
		{"meta user line", `{"type":"user","isMeta":true,"message":{"role":"user","content":"<system-reminder>x</system-reminder>"}}` + "\n", "", transcript.Stats{Lines: 1, Skipped: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs, st := feedAll([]byte(tc.input))
			var texts []string
			for _, r := range byKind(recs, transcript.KindText) {
				texts = append(texts, r.Text)
			}
			if got := strings.Join(texts, "|"); got != tc.texts {
				t.Errorf("texts = %q, want %q", got, tc.texts)
			}
			if st != tc.stats {
				t.Errorf("stats = %+v, want %+v", st, tc.stats)
			}
		})
	}
}

func TestOversizedLineSkippedWithoutBuffering(t *testing.T) {
	const limit = 1 << 10
	big := `{"type":"assistant","message":{"content":[{"type":"text","text":"` + strings.Repeat("x", 10*limit) + `"}]}}`
	input := []byte(assistant("u1", "m1", "before") + "\n" + big + "\n" + assistant("u2", "m2", "after") + "\n")
	for _, chunk := range []int{1, 7, 100, len(input)} {
		r := transcript.NewReader(0, limit)
		var texts []string
		for i := 0; i < len(input); i += chunk {
			for _, rec := range r.Feed(nil, input[i:min(i+chunk, len(input))]) {
				if rec.Kind == transcript.KindText {
					texts = append(texts, rec.Text)
				}
			}
		}
		if got := strings.Join(texts, "|"); got != "before|after" {
			t.Errorf("chunk %d: texts = %q", chunk, got)
		}
		if st := r.Stats(); st.Oversized != 1 || st.Lines != 3 {
			t.Errorf("chunk %d: stats %+v, want 1 oversized of 3 lines", chunk, st)
		}
		if r.Offset() != int64(len(input)) {
			t.Errorf("chunk %d: offset %d, want %d", chunk, r.Offset(), len(input))
		}
	}
}

// An oversized line still arriving holds no more than the limit in memory
// and does not move the resume offset.
func TestOversizedLineInProgress(t *testing.T) {
	r := transcript.NewReader(0, 1<<10)
	first := assistant("u1", "m1", "x") + "\n"
	r.Feed(nil, []byte(first))
	chunk := bytes.Repeat([]byte("y"), 64<<10)
	for range 100 {
		r.Feed(nil, chunk)
	}
	if r.Offset() != int64(len(first)) || r.Fed() != int64(len(first))+100*64<<10 {
		t.Errorf("offset %d fed %d", r.Offset(), r.Fed())
	}
	r.Feed(nil, []byte("\n"+first))
	if st := r.Stats(); st.Oversized != 1 || st.Records != 4 {
		t.Errorf("stats %+v", st)
	}
}

func TestPartialLineCompletedLater(t *testing.T) {
	line := []byte(assistant("u1", "m1", "hello") + "\n")
	r := transcript.NewReader(0, 0)
	if recs := r.Feed(nil, line[:len(line)/2]); len(recs) != 0 || r.Offset() != 0 {
		t.Fatalf("half a line gave %d records, offset %d", len(recs), r.Offset())
	}
	recs := r.Feed(nil, line[len(line)/2:])
	if len(recs) != 2 || recs[0].Text != "hello" || recs[0].Offset != int64(len(line)) || recs[0].Start != 0 {
		t.Fatalf("completed line gave %+v", recs)
	}
}

func TestStartOffset(t *testing.T) {
	data := readFile(t, samplePaths()[0])
	all, _ := feedAll(data)
	mid := all[len(all)/2]
	r := transcript.NewReader(mid.Offset, 0)
	rest := r.Feed(nil, data[mid.Offset:])
	var want []transcript.Record
	for _, rec := range all {
		if rec.Start >= mid.Offset {
			want = append(want, rec)
		}
	}
	if !reflect.DeepEqual(rest, want) {
		t.Errorf("resuming at %d gave %d records, want %d", mid.Offset, len(rest), len(want))
	}
}

// Every record's Start..Offset is its line, and offsets never go back.
func TestOffsetsAreLines(t *testing.T) {
	for _, p := range samplePaths() {
		data := readFile(t, p)
		recs, _ := feedAll(data)
		var last int64
		for _, r := range recs {
			if r.Offset < last || r.Start >= r.Offset || r.Offset > int64(len(data)) || data[r.Offset-1] != '\n' ||
				(r.Start > 0 && data[r.Start-1] != '\n') {
				t.Fatalf("%s: record %v at %d..%d is not a line", p, r.Kind, r.Start, r.Offset)
			}
			if r.UUID != "" && !bytes.Contains(data[r.Start:r.Offset], []byte(r.UUID)) {
				t.Fatalf("%s: record %s is not in its line", p, r.UUID)
			}
			last = r.Offset
		}
	}
}

func TestChunkingDoesNotChangeRecords(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, p := range append(samplePaths(), "testdata/compacted.jsonl", "testdata/resumed.jsonl") {
		data := readFile(t, p)
		want, wantStats := feedAll(data)
		for _, max := range []int{1, 3, 64, 4096, 100000} {
			r := transcript.NewReader(0, 0)
			var got []transcript.Record
			for i := 0; i < len(data); {
				n := 1 + rng.IntN(max)
				got = r.Feed(got, data[i:min(i+n, len(data))])
				i += n
			}
			if !reflect.DeepEqual(got, want) || r.Stats() != wantStats {
				t.Errorf("%s in chunks of up to %d: %d records %+v, want %d %+v", p, max, len(got), r.Stats(), len(want), wantStats)
			}
		}
	}
}

func TestScan(t *testing.T) {
	data := readFile(t, samplePaths()[0])
	want, _ := feedAll(data)
	r := transcript.NewReader(0, 0)
	var got []transcript.Record
	err := r.Scan(bytes.NewReader(data), func(rec *transcript.Record) error {
		got = append(got, *rec)
		return nil
	})
	if err != nil || !reflect.DeepEqual(got, want) || r.Offset() != int64(len(data)) {
		t.Errorf("Scan: %v, %d records (want %d), offset %d", err, len(got), len(want), r.Offset())
	}
}

func TestKindString(t *testing.T) {
	if got := transcript.KindCostState.String(); got != "cost_state" {
		t.Errorf("got %q", got)
	}
	if got := transcript.Kind(200).String(); got != "unknown" {
		t.Errorf("got %q", got)
	}
}
