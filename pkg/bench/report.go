package bench

import (
	"fmt"
	"io"
	"strings"
	"time"
)

func dur(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
	case d < time.Second:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
}

func ns(d time.Duration) string {
	if d < 10*time.Microsecond {
		return fmt.Sprintf("%.2f µs", float64(d)/float64(time.Microsecond))
	}
	return dur(d)
}

func num(f float64) string {
	switch {
	case f >= 1e6:
		return fmt.Sprintf("%.2f M", f/1e6)
	case f >= 1e4:
		return fmt.Sprintf("%.1f k", f/1e3)
	default:
		return fmt.Sprintf("%.0f", f)
	}
}

func kib(b float64) string { return fmt.Sprintf("%.1f KiB", b/1024) }

// phaseOf finds a server's phase at N.
func (rep *Report) phaseOf(server string, n int, path Path, mode string) (Result, bool) {
	for _, row := range rep.Fanout {
		if row.Server != server || row.N != n {
			continue
		}
		for _, p := range row.Phases {
			if p.Path == path && p.Mode == mode {
				return p, true
			}
		}
	}
	return Result{}, false
}

func (rep *Report) ingestOf(server string, path Path, mode string) (Result, bool) {
	for _, r := range rep.Ingest {
		if r.Server == server && r.Path == path && r.Mode == mode {
			return r.Result, true
		}
	}
	return Result{}, false
}

func (rep *Report) rowOf(server string, n int) (FanoutRow, bool) {
	for _, row := range rep.Fanout {
		if row.Server == server && row.N == n {
			return row, true
		}
	}
	return FanoutRow{}, false
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

// Markdown writes the report as the tables docs/PERFORMANCE.md shows.
func (rep *Report) Markdown(w io.Writer) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	p("Run %s → %s UTC; load average before %s, after %s; load generator %s.",
		rep.Started.Format("2006-01-02 15:04"), rep.Finished.Format("15:04"), rep.LoadBefore, rep.LoadAfter, rep.Machine.Loadgen)
	p("")
	rep.realisticMarkdown(p)
	var ns []int
	seen := map[int]bool{}
	for _, r := range rep.Fanout {
		if !seen[r.N] {
			seen[r.N] = true
			ns = append(ns, r.N)
		}
	}
	if len(ns) > 0 {
		p("### Targets, raw-websocket series (mpmd vs Node, both paths)")
		p("")
		p("| N | figure | path | mpmd | Node | mpmd/Node | target | |")
		p("|---:|---|---|---:|---:|---:|---|---|")
		for _, n := range ns {
			for _, path := range []Path{PathEmit, PathHook} {
				m, ok1 := rep.phaseOf("mpmd", n, path, "max")
				o, ok2 := rep.phaseOf("node", n, path, "max")
				if ok1 && ok2 {
					p("| %d | deliveries/s | %s | %s | %s | %.2f× | ≥ 1.5× | %s |", n, path, num(m.DeliveriesPerS), num(o.DeliveriesPerS), m.DeliveriesPerS/o.DeliveriesPerS, verdict(m.DeliveriesPerS >= 1.5*o.DeliveriesPerS))
					p("| %d | CPU per delivery | %s | %s | %s | %s× | ≤ 0.7× | %s |", n, path, ns2(m.CPUPerDelivery), ns2(o.CPUPerDelivery), ratio(m.CPUPerDelivery, o.CPUPerDelivery), verdict(float64(m.CPUPerDelivery) <= 0.7*float64(o.CPUPerDelivery)))
				}
				mr, ok1 := rep.phaseOf("mpmd", n, path, "rate")
				or, ok2 := rep.phaseOf("node", n, path, "rate")
				if ok1 && ok2 {
					p("| %d | p99 at %s ev/s | %s | %s | %s | %s× | ≤ 1× | %s |", n, num(mr.OfferedPerS), path, dur(mr.P99), dur(or.P99), ratio(mr.P99, or.P99), verdict(mr.P99 <= or.P99))
				}
				lostM := m.Lost + mr.Lost
				lostO := o.Lost + or.Lost
				p("| %d | lost (max + rate phases) | %s | %d | %d | | 0 | %s |", n, path, lostM, lostO, verdict(lostM == 0))
			}
			m, ok1 := rep.rowOf("mpmd", n)
			o, ok2 := rep.rowOf("node", n)
			if ok1 && ok2 {
				p("| %d | memory per connection | | %s | %s | %.2f× | ≤ 0.5× | %s |", n, kib(m.MemPerConn), kib(o.MemPerConn), m.MemPerConn/o.MemPerConn, verdict(m.MemPerConn <= 0.5*o.MemPerConn))
			}
		}
		for _, path := range []Path{PathHook, PathEmit} {
			m, ok1 := rep.ingestOf("mpmd", path, "empty")
			o, ok2 := rep.ingestOf("node", path, "empty")
			if ok1 && ok2 {
				// issue 13: ≥ 50,000/s through /hook; ≥ 1.5× Node's rate through /emit
				target, met := "≥ 50,000/s", m.IngestPerS >= 50_000
				if path == PathEmit {
					target, met = "≥ 1.5× Node", m.IngestPerS >= 1.5*o.IngestPerS
				}
				p("| – | ingest ev/s, empty store (Node: no store) | %s | %s | %s | %.2f× | %s | %s |", path, num(m.IngestPerS), num(o.IngestPerS), m.IngestPerS/o.IngestPerS, target, verdict(met))
			}
		}
		p("")
		p("### Fan-out, all phases")
		p("")
		p("`max`: as fast as the server sustains (closed loop: at most max(16, 20000/N) accepted events not yet received by every client). `rate`: a fixed offered rate, half the slower server's `max` rate, for latency. Latency is producer timestamp in the payload to the client's read. CPU is the server's utime+stime over the phase; `gen` is the load generator's own CPU.")
		p("")
		p("| N | server | path | mode | ingest ev/s | deliveries/s | p50 | p99 | max | lost | dropped | CPU/delivery | server cores | gen cores |")
		p("|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
		for _, row := range rep.Fanout {
			for _, r := range row.Phases {
				flag := ""
				if r.DrainIncomplete {
					flag = " †"
				}
				p("| %d | %s | %s | %s | %s | %s%s | %s | %s | %s | %d | %d | %s | %.2f | %.2f |", r.N, r.Server, r.Path, r.Mode, num(r.IngestPerS), num(r.DeliveriesPerS), flag, dur(r.P50), dur(r.P99), dur(r.Max), r.Lost, r.Dropped, ns2(r.CPUPerDelivery), r.ServerCores, r.LoadgenCores)
			}
		}
		p("")
		p("† the phase ended early or unfinished: the closed loop saw no client progress for 3 s (the server's per-client queues were seconds deep), or some client was still missing events when the drain wait ended. `lost` counts what never arrived.")
		p("")
		p("### Memory with N idle clients")
		p("")
		p("| N | server | RSS idle | RSS with N clients | per connection | connect time |")
		p("|---:|---|---:|---:|---:|---:|")
		for _, row := range rep.Fanout {
			p("| %d | %s | %s | %s | %s | %.2f s |", row.N, row.Server, mib(row.IdleRSS), mib(row.ClientsRSS), kib(row.MemPerConn), row.ConnectSec)
		}
		p("")
	}
	if len(rep.Memory) > 0 {
		p("### Memory and heartbeats with N idle clients held")
		p("")
		p("One server at a time, fresh; N idle websocket clients connected (each answers pings, nothing else is sent); RSS after a 1.5 s settle and again at the end of the held window; per connection = (the larger of the two − RSS before any client) ÷ N. Heartbeat CPU is the server's utime+stime over the window; pings are those the clients answered in it (mpmd pings every 20 s, Node every 25 s).")
		p("")
		p("| N | server | RSS idle | RSS with N clients | RSS after the window | per connection | connect time | window | heartbeat CPU | cores | pings | CPU per ping | dropped |")
		p("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
		for _, r := range rep.Memory {
			if r.Error != "" {
				p("| %d | %s | failed: %s | | | | | | | | | | |", r.N, r.Server, strings.ReplaceAll(r.Error, "|", "/"))
				continue
			}
			p("| %d | %s | %s | %s | %s | %s | %.2f s | %v | %v | %.4f | %d | %s | %d |", r.N, r.Server, mib(r.IdleRSS), mib(r.RSS), mib(r.HeldRSS), kib(r.MemPerConn), r.ConnectSec, r.Held, r.HeartbeatCPU, r.HeartbeatCores(), r.Pings, ns2(r.CPUPerPing()), r.Dropped)
		}
		p("")
		p("| N | figure | mpmd | Node | mpmd/Node | target | |")
		p("|---:|---|---:|---:|---:|---|---|")
		for _, m := range rep.Memory {
			if m.Server != "mpmd" || m.Error != "" {
				continue
			}
			for _, o := range rep.Memory {
				if o.Server != "node" || o.N != m.N || o.Error != "" {
					continue
				}
				p("| %d | memory per connection | %s | %s | %.2f× | ≤ 0.5× | %s |", m.N, kib(m.MemPerConn), kib(o.MemPerConn), m.MemPerConn/o.MemPerConn, verdict(m.MemPerConn <= 0.5*o.MemPerConn))
				p("| %d | heartbeat CPU over %v | %v | %v | %s× | ≤ 1× | %s |", m.N, m.Held, m.HeartbeatCPU, o.HeartbeatCPU, ratio(m.HeartbeatCPU, o.HeartbeatCPU), verdict(m.HeartbeatCPU <= o.HeartbeatCPU))
			}
		}
		p("")
	}
	if len(rep.Ingest) > 0 {
		p("### Ingest (no consumers; events stored and acknowledged)")
		p("")
		p("Producers: `/emit` %d requests in flight (keep-alive); `/hook` %d producer connections × %d emits awaiting their acks.", ingestEmitInFlight, ingestHookConns, ingestHookWindow)
		p("")
		p("| server | when | path | stored before | events | ingest ev/s | CPU/event | server cores | server RSS after | gen cores |")
		p("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
		for _, r := range rep.Ingest {
			p("| %s | %s | %s | %d | %d | %s | %s | %.2f | %s | %.2f |", r.Server, r.Mode, r.Path, r.StoredStart, r.Accepted, num(r.IngestPerS), ns2(r.CPUPerEvent), r.ServerCores, mib(r.ServerRSSAfter), r.LoadgenCores)
		}
		p("")
	}
	if len(rep.Growth) > 0 {
		p("### Growth with connected clients")
		p("")
		p("One server, clients added step by step; at each step RSS after a settle, CPU over one idle second, then /emit at a fixed 10,000 deliveries/s (events/s = 10,000/N).")
		p("")
		p("| server | clients | RSS | per connection | idle cores | deliveries/s at fixed rate | CPU/delivery | p99 | lost | dropped |")
		p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
		for _, g := range rep.Growth {
			if g.Error != "" {
				p("| %s | %d | | | | failed: %s | | | | |", g.Server, g.N, strings.ReplaceAll(g.Error, "|", "/"))
				continue
			}
			p("| %s | %d | %s | %s | %.3f | %s (%s ev/s) | %s | %s | %d | %d |", g.Server, g.N, mib(g.RSS), kib(g.MemPerConn), g.IdleCores, num(g.Result.DeliveriesPerS), num(g.Result.OfferedPerS), ns2(g.Result.CPUPerDelivery), dur(g.Result.P99), g.Result.Lost, g.Result.Dropped)
		}
		p("")
	}
	for _, n := range rep.Notes {
		p("* %s", n)
	}
}

func ns2(d time.Duration) string { return ns(d) }

func ratio(a, b time.Duration) string {
	if b == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f", float64(a)/float64(b))
}

func phaseIn(rows []FanoutRow, server string, n int, mode string) (Result, bool) {
	for _, row := range rows {
		if row.Server != server || row.N != n {
			continue
		}
		for _, p := range row.Phases {
			if p.Mode == mode {
				return p, true
			}
		}
	}
	return Result{}, false
}

// realisticMarkdown writes the realistic series (issue 13 item 1): its
// targets against Node from the same run, then every phase.
func (rep *Report) realisticMarkdown(p func(string, ...any)) {
	if len(rep.Realistic) == 0 {
		return
	}
	var ns []int
	seen := map[int]bool{}
	for _, r := range rep.Realistic {
		if !seen[r.N] {
			seen[r.N] = true
			ns = append(ns, r.N)
		}
	}
	p("### Headline: realistic fan-out (official socket.io-client listeners, `/emit` keep-alive with %d in flight, unpinned)", realisticInFlight)
	p("")
	p("| N | figure | mpmd | Node | mpmd/Node | target | |")
	p("|---:|---|---:|---:|---:|---|---|")
	for _, n := range ns {
		m, ok1 := phaseIn(rep.Realistic, "mpmd", n, "max")
		o, ok2 := phaseIn(rep.Realistic, "node", n, "max")
		if ok1 && ok2 {
			want := 1.5
			if n >= 1000 {
				want = 1.0
			}
			p("| %d | deliveries/s | %s | %s | %.2f× | ≥ %.1f× | %s |", n, num(m.DeliveriesPerS), num(o.DeliveriesPerS), m.DeliveriesPerS/o.DeliveriesPerS, want, verdict(m.DeliveriesPerS >= want*o.DeliveriesPerS))
			p("| %d | server CPU per delivery | %s | %s | %s× | ≤ 0.7× | %s |", n, ns2(m.CPUPerDelivery), ns2(o.CPUPerDelivery), ratio(m.CPUPerDelivery, o.CPUPerDelivery), verdict(float64(m.CPUPerDelivery) <= 0.7*float64(o.CPUPerDelivery)))
		}
		mr, ok1 := phaseIn(rep.Realistic, "mpmd", n, "rate")
		or, ok2 := phaseIn(rep.Realistic, "node", n, "rate")
		if ok1 && ok2 {
			p("| %d | p99 at %s ev/s | %s | %s | %s× | ≤ 1× | %s |", n, num(mr.OfferedPerS), dur(mr.P99), dur(or.P99), ratio(mr.P99, or.P99), verdict(mr.P99 <= or.P99))
		}
		lostM, lostO := m.Lost+mr.Lost, o.Lost+or.Lost
		p("| %d | lost (max + rate phases) | %d | %d | | 0 | %s |", n, lostM, lostO, verdict(lostM == 0))
	}
	p("")
	p("| N | server | mode | ingest ev/s | deliveries/s | p50 | p99 | max | lost | dup | dropped | CPU/delivery | server cores | gen cores (Go + Node clients) |")
	p("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, row := range rep.Realistic {
		for _, r := range row.Phases {
			flag := ""
			if r.DrainIncomplete {
				flag = " †"
			}
			p("| %d | %s | %s | %s | %s%s | %s | %s | %s | %d | %d | %d | %s | %.2f | %.2f |", r.N, r.Server, r.Mode, num(r.IngestPerS), num(r.DeliveriesPerS), flag, dur(r.P50), dur(r.P99), dur(r.Max), r.Lost, r.Duplicates, r.Dropped, ns2(r.CPUPerDelivery), r.ServerCores, r.LoadgenCores)
		}
	}
	p("")
	p("Listeners: bench/node-ref/clients.js, one Node process, socket.io-client with its default transports (polling, then the upgrade to websocket). `max`: closed loop, at most max(16, 20000/N) accepted events not yet received by every client; `rate`: half the slower server's `max` rate. Latency: the producer's timestamp in the payload to the listener's receipt (same machine's clock). † as below.")
	p("")
}
