// Package transcripttest builds large, realistic Claude Code transcripts for
// benchmarks and tests, from a small real one: its lines repeated with fresh
// uuids and message ids each round, plus tool results of the size a session
// reading source files produces. Nothing big is committed; the bytes are made
// when a benchmark runs.
package transcripttest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
)

var (
	uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	msgRE  = regexp.MustCompile(`"(msg|req)_[0-9A-Za-z_]+"`)
)

var placeholder = []byte("@@@@@@@@")

// Synth writes transcripts made from a template.
type Synth struct {
	template []byte
	spots    [][]int // byte ranges in template to vary per round: uuids' first 8 hex digits, message ids
	result   []byte  // a tool-result line, its ids left as placeholders
}

// New returns a Synth repeating template, a transcript of complete lines.
func New(template []byte) *Synth {
	if len(template) > 0 && template[len(template)-1] != '\n' {
		template = append(append([]byte(nil), template...), '\n')
	}
	s := &Synth{template: template}
	for _, m := range uuidRE.FindAllIndex(template, -1) {
		s.spots = append(s.spots, []int{m[0], m[0] + 8})
	}
	for _, m := range msgRE.FindAllIndex(template, -1) {
		s.spots = append(s.spots, []int{m[1] - 5, m[1] - 1}) // the id's last four characters
	}
	sortSpots(s.spots)
	s.result = toolResultLine()
	return s
}

func sortSpots(sp [][]int) {
	for i := 1; i < len(sp); i++ {
		for j := i; j > 0 && sp[j][0] < sp[j-1][0]; j-- {
			sp[j], sp[j-1] = sp[j-1], sp[j]
		}
	}
}

// toolResultLine is a user line answering a Read with ~16 KB of Go source,
// escaped as Claude Code writes it (newlines, tabs and quotes escaped), in the
// message and again in toolUseResult as Claude Code does.
func toolResultLine() []byte {
	var src strings.Builder
	for i := 0; src.Len() < 16<<10; i++ {
		fmt.Fprintf(&src, "%6d\tfunc handle%d(w http.ResponseWriter, r *http.Request) {\n\t\tif err := decode(r, &v); err != nil {\n\t\t\thttp.Error(w, \"bad request: \"+err.Error(), 400)\n\t\t}\n\t}\n", i, i)
	}
	content, _ := json.Marshal(src.String())
	return fmt.Appendf(nil, `{"parentUuid":"00000000-1111-4222-8333-444444444444","isSidechain":false,"promptId":"f171e8d9-0c74-4854-8c20-33f89304155c","type":"user","message":{"role":"user","content":[{"tool_use_id":"toolu_@@@@@@@@","type":"tool_result","content":%s}]},"uuid":"@@@@@@@@-5555-4666-8777-888888888888","timestamp":"2026-12-03T11:33:41.751Z","toolUseResult":{"type":"text","file":{"filePath":"/home/user/proj/server.go","content":%s,"numLines":400,"startLine":1,"totalLines":400}},"sourceToolAssistantUUID":"9715c16a-36f7-4cab-9187-80812f49890e","userType":"external","entrypoint":"sdk-cli","cwd":"/home/user/proj","sessionId":"d7e48aee-9368-4c80-a16b-8747364778e8","version":"2.1.332","gitBranch":"HEAD"}`+"\n", content, content)
}

// WriteTo writes rounds of the template, each followed by tool results
// about as big as the template's own bytes, until at least size bytes are
// written; it stops at a line boundary.
func (s *Synth) WriteTo(w io.Writer, size int64) (int64, error) {
	var n int64
	var buf bytes.Buffer
	for round := 0; n < size; round++ {
		buf.Reset()
		tag := fmt.Sprintf("%08x", round)
		last := 0
		for _, sp := range s.spots {
			buf.Write(s.template[last:sp[0]])
			buf.WriteString(tag[8-(sp[1]-sp[0]):])
			last = sp[1]
		}
		buf.Write(s.template[last:])
		for i := 0; buf.Len() < 2*len(s.template); i++ {
			id := fmt.Appendf(nil, "%08x", round<<8|i)
			buf.Write(bytes.ReplaceAll(s.result, placeholder, id))
		}
		m, err := w.Write(buf.Bytes())
		n += int64(m)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Bytes returns a transcript of at least size bytes.
func (s *Synth) Bytes(size int64) []byte {
	var b bytes.Buffer
	b.Grow(int(size) + 2*len(s.template) + 1<<16)
	_, _ = s.WriteTo(&b, size)
	return b.Bytes()
}
