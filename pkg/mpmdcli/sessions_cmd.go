package mpmdcli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mpm-dev/mpm/pkg/paths"
	"github.com/mpm-dev/mpm/pkg/session"
)

// SessionsCmd shows the session model of the running mpmd in the terminal.
type SessionsCmd struct {
	ID    string `arg:"" optional:"" help:"A session id (or a unique prefix of one): show that session in detail."`
	JSON  bool   `help:"Print the API's JSON instead of a table."`
	All   bool   `help:"List ended sessions too (the list shows those of the last 24 h by default)."`
	Token string `help:"mpmd's token, when it has one." env:"CLAUDE_MPM_SOCKETIO_TOKEN"`
}

// Run prints every session (or one) as mpmd's /api/sessions has it.
func (c *SessionsCmd) Run(env *Env) error {
	d, err := paths.ReadDiscovery(env.Dirs.Discovery())
	if err != nil {
		return notRunning{"mpmd is not running (start it with `mpmd start`)"}
	}
	base := strings.TrimSuffix(d.URL, "/")
	var list struct {
		Sessions []session.Session `json:"sessions"`
	}
	raw, err := c.get(base + "/api/sessions")
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return fmt.Errorf("mpmd answered /api/sessions with something that is not a session list: %w", err)
	}
	if c.ID == "" {
		if c.JSON {
			_, err := env.Stdout.Write(raw)
			return err
		}
		writeSessions(env.Stdout, list.Sessions, c.All, time.Now())
		return nil
	}
	id, err := pick(list.Sessions, c.ID)
	if err != nil {
		return err
	}
	raw, err = c.get(base + "/api/sessions/" + url.PathEscape(id))
	if err != nil {
		return err
	}
	if c.JSON {
		_, err := env.Stdout.Write(raw)
		return err
	}
	var det session.Detail
	if err := json.Unmarshal(raw, &det); err != nil {
		return fmt.Errorf("mpmd answered with something that is not a session: %w", err)
	}
	writeSession(env.Stdout, det, time.Now())
	return nil
}

func (c *SessionsCmd) get(u string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("mpmd does not answer at %s: %w", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		_ = json.Unmarshal(b, &e)
		if resp.StatusCode == http.StatusUnauthorized {
			return nil, errors.New("mpmd needs its token: pass --token or set CLAUDE_MPM_SOCKETIO_TOKEN")
		}
		return nil, fmt.Errorf("mpmd answered %d: %s", resp.StatusCode, orDash(e.Error))
	}
	return b, nil
}

// pick finds the one session whose id starts with prefix.
func pick(list []session.Session, prefix string) (string, error) {
	var found []string
	for _, s := range list {
		if s.ID == prefix {
			return s.ID, nil
		}
		if strings.HasPrefix(s.ID, prefix) {
			found = append(found, s.ID)
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("no session %q: `mpmd sessions --all` lists them", prefix)
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("%q names %d sessions (%s…): give more of the id", prefix, len(found), strings.Join(found[:2], ", "))
}

func writeSessions(w io.Writer, list []session.Session, all bool, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SESSION\tSTATUS\tTITLE\tPROJECT\tMODEL\tLAST\tDURATION\tPROMPTS\tTOOLS\tERRORS\tAGENTS\tTOKENS\tCOST")
	shown := 0
	for _, s := range list {
		if !all && s.Status == session.StatusEnded && now.Sub(s.LastActivity) > 24*time.Hour {
			continue
		}
		shown++
		agents := fmt.Sprint(len(s.Agents))
		if s.RunningAgents > 0 {
			agents = fmt.Sprintf("%d (%d running)", len(s.Agents), s.RunningAgents)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\n",
			short(s.ID), status(s), clipText(s.Title, 40), orDash(s.Project), orDash(s.Model),
			ago(now, s.LastActivity), seconds(s.Duration), s.Prompts, s.ToolCalls, s.Errors, agents,
			tokens(s.Usage.Total()), cost(s.Usage))
	}
	tw.Flush()
	if shown == 0 {
		fmt.Fprintln(w, "no sessions yet: install the hooks with `mpm-hook install` and use Claude Code")
	}
}

func writeSession(w io.Writer, d session.Detail, now time.Time) {
	s := d.Session
	fmt.Fprintf(w, "%s  %s\n", s.ID, status(s))
	fmt.Fprintf(w, "  %s\n", clipText(s.Title, 100))
	fmt.Fprintf(w, "  project %s (%s), model %s\n", orDash(s.Project), orDash(s.CWD), orDash(s.Model))
	fmt.Fprintf(w, "  started %s, last activity %s, %s\n", s.StartedAt.Local().Format(time.DateTime), ago(now, s.LastActivity), seconds(s.Duration))
	fmt.Fprintf(w, "  %d prompts, %d tool calls, %d errors\n", s.Prompts, s.ToolCalls, s.Errors)
	if s.Attention != nil {
		fmt.Fprintf(w, "  NEEDS YOU: %s: %s\n", s.Attention.Kind, s.Attention.Message)
	}
	u := s.Usage
	fmt.Fprintf(w, "\nUsage: %s tokens (in %d, out %d, cache write %d, cache read %d), cost %s\n",
		tokens(u.Total()), u.InputTokens, u.OutputTokens, u.CacheCreationInputTokens, u.CacheReadInputTokens, cost(u))
	models := make([]string, 0, len(u.ByModel))
	for m := range u.ByModel {
		models = append(models, m)
	}
	sort.Strings(models)
	for _, m := range models {
		mu := u.ByModel[m]
		fmt.Fprintf(w, "  %-28s %10s tokens  %s\n", m, tokens(mu.Total()), modelCost(mu))
	}
	if len(s.Agents) > 0 {
		fmt.Fprintln(w, "\nAgents:")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  AGENT\tTYPE\tPARENT\tSTATUS\tTASK\tTOOLS\tDURATION\tTOKENS\tCOST")
		for _, a := range s.Agents {
			bg := ""
			if a.Background {
				bg = " (background)"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s%s\t%s\t%d\t%s\t%s\t%s\n", short(a.AgentID), orDash(a.AgentType), short(a.ParentID), a.Status, bg,
				clipText(a.Description, 40), a.ToolCalls, seconds(a.Duration/1000), tokens(a.Usage.Total()), cost(a.Usage))
		}
		tw.Flush()
	}
	if len(d.InFlight) > 0 {
		fmt.Fprintln(w, "\nRunning now:")
		for _, tc := range d.InFlight {
			fmt.Fprintf(w, "  %s %s (%s, since %s)\n", tc.ToolName, clipText(tc.Summary, 60), short(tc.AgentID), ago(now, tc.StartedAt))
		}
	}
	if len(d.Tasks) > 0 {
		fmt.Fprintln(w, "\nTodos:")
		marks := map[string]string{"completed": "[x]", "in_progress": "[~]"}
		for _, t := range d.Tasks {
			fmt.Fprintf(w, "  %s %s\n", orDefaultStr(marks[t.Status], "[ ]"), t.Content)
		}
	}
	if d.LastError != nil {
		fmt.Fprintf(w, "\nLast error (%s, %s): %s\n", d.LastError.Kind, ago(now, d.LastError.Time), clipText(d.LastError.Message, 200))
	}
}

func status(s session.Session) string {
	st := string(s.Status)
	if s.Status == session.StatusWaiting {
		st = "waiting"
	}
	if s.Attention != nil && s.Attention.Kind == "failure" {
		st += " (failed)"
	}
	return st
}

func short(id string) string {
	if len(id) > 8 && id != session.MainAgent {
		return id[:8]
	}
	return id
}

func clipText(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return orDash(s)
}

func orDash(s string) string { return orDefaultStr(s, "-") }

func orDefaultStr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func ago(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

func seconds(s float64) string {
	d := time.Duration(s * float64(time.Second))
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

func tokens(n int64) string {
	switch {
	case n >= 1_000_000:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 10_000:
		return fmt.Sprintf("%.0fk", float64(n)/1e3)
	case n >= 1_000:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

// cost says a cost in dollars and where it comes from; an unknown price
// is said, never shown as $0.
func cost(u session.Usage) string {
	switch {
	case u.CostSource == session.CostNone:
		return "-"
	case u.CostUSD == nil:
		return "unknown"
	case u.CostSource == session.CostUnknown:
		return dollars(*u.CostUSD) + "+?"
	}
	return dollars(*u.CostUSD)
}

func modelCost(mu *session.ModelUsage) string {
	if mu.CostUSD == nil {
		return "no price known"
	}
	return dollars(*mu.CostUSD) + " (" + mu.CostSource + ")"
}

func dollars(v float64) string {
	if v < 0.01 && v > 0 {
		return fmt.Sprintf("$%.4f", v)
	}
	return fmt.Sprintf("$%.2f", v)
}
