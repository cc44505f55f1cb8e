package claudetest

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// Request is one call Claude Code made to the stand-in, decoded. Messages
// hold the conversation so far; a string content is turned into one text
// block so a scenario sees one shape.
type Request struct {
	Seq      int         // 1, 2, … in the order the calls arrived
	Time     time.Time   // when it arrived
	Method   string      // POST, GET, HEAD …
	Path     string      // e.g. /v1/messages
	Query    string      // the raw query, e.g. beta=true
	Header   http.Header // as sent (x-api-key included: the test's fake key)
	Body     []byte      // the raw body
	Model    string
	Stream   bool
	System   []Block // the system prompt's blocks (a string becomes one text block)
	Messages []Message
	Tools    []Tool
}

// Message is one turn of the conversation in a request.
type Message struct {
	Role    string  `json:"role"`
	Content []Block `json:"content"`
}

// Block is a content block as Claude Code sends it back: text, thinking,
// tool_use, tool_result … Fields not used by a type stay zero.
type Block struct {
	Type      string          `json:"type"`
	Text      string          `json:"text,omitempty"`      // text
	Thinking  string          `json:"thinking,omitempty"`  // thinking
	Signature string          `json:"signature,omitempty"` // thinking
	ID        string          `json:"id,omitempty"`        // tool_use
	Name      string          `json:"name,omitempty"`      // tool_use
	Input     json.RawMessage `json:"input,omitempty"`     // tool_use
	ToolUseID string          `json:"tool_use_id,omitempty"`
	IsError   bool            `json:"is_error,omitempty"` // tool_result
	Content   []Block         `json:"-"`                  // tool_result (a string becomes one text block)
}

// UnmarshalJSON accepts a tool_result's content as a string or as blocks.
func (b *Block) UnmarshalJSON(data []byte) error {
	type plain Block
	var raw struct {
		plain
		Content json.RawMessage `json:"content"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	*b = Block(raw.plain)
	var err error
	b.Content, err = blocksOf(raw.Content)
	return err
}

// AllText is the text of the block: a text block's text, a thinking block's
// thinking, a tool_result's content's text joined by newlines.
func (b Block) AllText() string {
	switch b.Type {
	case "text":
		return b.Text
	case "thinking":
		return b.Thinking
	case "tool_result":
		return joinText(b.Content)
	}
	return ""
}

// Tool is one tool offered in a request.
type Tool struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	InputSchema json.RawMessage `json:"input_schema,omitempty"`
	Type        string          `json:"type,omitempty"` // server tools (web_search_…)
}

// blocksOf decodes a content that is either a string or a list of blocks.
func blocksOf(raw json.RawMessage) ([]Block, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return []Block{{Type: "text", Text: s}}, nil
	}
	var bs []Block
	if err := json.Unmarshal(raw, &bs); err != nil {
		return nil, err
	}
	return bs, nil
}

func joinText(bs []Block) string {
	var parts []string
	for _, b := range bs {
		if t := b.AllText(); t != "" {
			parts = append(parts, t)
		}
	}
	return strings.Join(parts, "\n")
}

// decodeMessages fills the request's decoded fields from a Messages API body.
func (r *Request) decode() error {
	var body struct {
		Model    string          `json:"model"`
		Stream   bool            `json:"stream"`
		System   json.RawMessage `json:"system"`
		Messages []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
		Tools []Tool `json:"tools"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		return err
	}
	r.Model, r.Stream, r.Tools = body.Model, body.Stream, body.Tools
	var err error
	if r.System, err = blocksOf(body.System); err != nil {
		return err
	}
	for _, m := range body.Messages {
		bs, err := blocksOf(m.Content)
		if err != nil {
			return err
		}
		r.Messages = append(r.Messages, Message{Role: m.Role, Content: bs})
	}
	return nil
}

// IsMessages reports whether the request is a Messages API call (not a
// token count or anything else).
func (r *Request) IsMessages() bool {
	return r.Method == http.MethodPost && strings.TrimSuffix(r.Path, "/") == "/v1/messages"
}

// Text is the text of a message's blocks (text and tool results), joined.
func (m Message) Text() string { return joinText(m.Content) }

// FirstUserText is the text of the first user message: the prompt of the
// session for the main agent, the Agent call's prompt for a subagent (Claude
// Code may put system reminders beside it, so match with Contains).
func (r *Request) FirstUserText() string {
	for _, m := range r.Messages {
		if m.Role == "user" {
			return m.Text()
		}
	}
	return ""
}

// FirstUserContains reports whether the first user message contains s: the
// way to tell a subagent (its prompt) or a session (its prompt) apart.
func (r *Request) FirstUserContains(s string) bool {
	return strings.Contains(r.FirstUserText(), s)
}

// LastUser is the user message after the last assistant message, nil if
// there is none. Claude Code puts mid-conversation "system" messages
// (reminders, the environment) beside it; they are skipped.
func (r *Request) LastUser() *Message {
	for i := len(r.Messages) - 1; i >= 0; i-- {
		switch r.Messages[i].Role {
		case "user":
			return &r.Messages[i]
		case "assistant":
			return nil
		}
	}
	return nil
}

// LastUserText is the text of the last user message ("" if none).
func (r *Request) LastUserText() string {
	if m := r.LastUser(); m != nil {
		return m.Text()
	}
	return ""
}

// ToolResults are the tool_result blocks of the last user message: the
// answers to the tool calls of the previous reply.
func (r *Request) ToolResults() []Block {
	m := r.LastUser()
	if m == nil {
		return nil
	}
	var out []Block
	for _, b := range m.Content {
		if b.Type == "tool_result" {
			out = append(out, b)
		}
	}
	return out
}

// ToolResult is the tool_result for toolUseID in the last user message.
func (r *Request) ToolResult(toolUseID string) (Block, bool) {
	for _, b := range r.ToolResults() {
		if b.ToolUseID == toolUseID {
			return b, true
		}
	}
	return Block{}, false
}

// Turn is how many assistant messages the conversation holds: 0 for the
// first call of an agent, 1 after its first answer …
func (r *Request) Turn() int {
	n := 0
	for _, m := range r.Messages {
		if m.Role == "assistant" {
			n++
		}
	}
	return n
}

// HasTool reports whether the request offers a tool called name.
func (r *Request) HasTool(name string) bool {
	for _, t := range r.Tools {
		if t.Name == name {
			return true
		}
	}
	return false
}

// ToolNames are the names of the tools offered, in order.
func (r *Request) ToolNames() []string {
	out := make([]string, len(r.Tools))
	for i, t := range r.Tools {
		out[i] = t.Name
	}
	return out
}

// TaskNotification is a parsed <task-notification> block: what Claude Code
// tells the main agent when a background task (a subagent) ends.
type TaskNotification struct {
	TaskID    string
	ToolUseID string
	Status    string
	Summary   string
	Result    string
	Raw       string // the whole block
}

var notificationRe = regexp.MustCompile(`(?s)<task-notification>.*?</task-notification>`)

// tagText is the text between <tag> and </tag> in s, trimmed.
func tagText(s, tag string) string {
	_, rest, ok := strings.Cut(s, "<"+tag+">")
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, "</"+tag+">")
	return strings.TrimSpace(v)
}

// TaskNotifications are the <task-notification> blocks in the last user
// message, in order (several background tasks may end together).
func (r *Request) TaskNotifications() []TaskNotification {
	var out []TaskNotification
	for _, raw := range notificationRe.FindAllString(r.LastUserText(), -1) {
		out = append(out, TaskNotification{
			TaskID:    tagText(raw, "task-id"),
			ToolUseID: tagText(raw, "tool-use-id"),
			Status:    tagText(raw, "status"),
			Summary:   tagText(raw, "summary"),
			Result:    tagText(raw, "result"),
			Raw:       raw,
		})
	}
	return out
}

// IsTaskNotification reports whether the last user message holds a
// <task-notification>.
func (r *Request) IsTaskNotification() bool { return len(r.TaskNotifications()) > 0 }
