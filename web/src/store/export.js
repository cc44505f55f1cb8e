// Export: the filtered events of a stream as one JSON file with what was
// filtered, the ranges and the server it came from.
import { base } from '../config.js';
import { fmtNum } from '../util.js';
import { plain } from './stream.js';
import { conn } from './live.js';
import { toast } from './ui.js';

export function exportEvents(stream) {
  const evs = stream.view.toArray();
  const first = evs[0], last = evs[evs.length - 1];
  const f = stream.filter;
  const server = conn.value.server || {};
  const doc = {
    exported_at: new Date().toISOString(),
    server: { url: base, version: server.version || '', pid: server.pid ?? null },
    filters: { namespace: f.ns || null, event: f.type ? f.type.split(' ')[1] : null, search: f.q || null, session_id: f.sid || null, errors_only: f.errors },
    time_range: { from: first ? new Date(first.ts).toISOString() : null, to: last ? new Date(last.ts).toISOString() : null },
    seq_range: { from: first?.seq ?? null, to: last?.seq ?? null },
    count: evs.length,
    page: { buffer_capacity: stream.capacity, buffered: stream.buffer.length, evicted: stream.evicted },
    events: evs.map(plain),
  };
  const blob = new Blob([JSON.stringify(doc, null, 2)], { type: 'application/json' });
  const url = URL.createObjectURL(blob);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').replace('T', '_').slice(0, 19);
  const a = document.createElement('a');
  a.href = url;
  a.download = `mpm-events-${stamp}.json`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  toast(`Exported ${fmtNum(evs.length)} events`);
}
