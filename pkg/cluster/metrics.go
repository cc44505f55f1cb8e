package cluster

import "github.com/prometheus/client_golang/prometheus"

// Collectors are the log's Prometheus metrics, for mpmd's registry.
func (l *Log) Collectors() []prometheus.Collector {
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	counter := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f)
	}
	return []prometheus.Collector{
		gauge("mpmd_cluster_redis_up", "1 while this node reaches Redis (both its appends and its reads of the cluster log).", func() float64 {
			if l.Status().RedisReachable {
				return 1
			}
			return 0
		}),
		gauge("mpmd_cluster_applied_seq", "The seq of the last cluster log event this node stored.", func() float64 { return float64(l.applied.Load()) }),
		gauge("mpmd_cluster_head_seq", "The highest seq in the cluster log this node knows of.", func() float64 { return float64(l.Status().HeadSeq) }),
		gauge("mpmd_cluster_lag_events", "Events in the cluster log this node has not stored yet (head_seq - applied_seq).", func() float64 { return float64(l.Status().Lag) }),
		gauge("mpmd_cluster_outbox_events", "Events accepted while Redis was out of reach, waiting in this node's outbox.", func() float64 { return float64(l.outboxN.Load()) }),
		counter("mpmd_cluster_forwarded_total", "Events forwarded from this node's outbox to the cluster log.", func() float64 { return float64(l.forwarded.Load()) }),
		counter("mpmd_cluster_appended_total", "Events this node appended to the cluster log (not counting those the log had already).", func() float64 { return float64(l.appended.Load()) }),
		counter("mpmd_cluster_missed_events_total", "Seqs missing from the cluster log when this node read it (trimmed before it read them, or lost by Redis).", func() float64 { return float64(l.missed.Load()) }),
	}
}
