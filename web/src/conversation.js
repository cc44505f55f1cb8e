// How the conversation is laid out: the API's entries in their order, with
// each subagent's entries placed under the Agent call that spawned it (the
// tool entry whose spawned_agent_id is the agent; else under its
// agent_start), indented one level per generation. This only arranges what
// mpmd sends; nothing is computed about the session.

/**
 * rows: [{e, depth, agent, key, hidden}] in display order.
 * collapsed: agent ids whose entries are folded away; only: keep one agent's
 * entries (and the calls that spawned them) or '' for all.
 */
export function layout(entries, { collapsed = new Set(), nested = true, only = '' } = {}) {
  const key = (e) => `${e.kind}|${e.seq}|${e.agent_id}|${e.tool ? e.tool.tool_use_id : ''}`;
  if (!nested) {
    const rows = [];
    for (const e of entries) if (!only || e.agent_id === only) rows.push({ e, depth: 0, agent: e.agent_id || 'main', key: key(e), children: 0 });
    return rows;
  }
  const byAgent = new Map(); // agent id → its entries, in order
  const anchors = new Map(); // agent id → the entry it hangs under
  for (const e of entries) {
    const a = e.agent_id || 'main';
    let l = byAgent.get(a);
    if (!l) byAgent.set(a, (l = []));
    l.push(e);
    const spawned = e.kind === 'tool' && e.tool && e.tool.spawned_agent_id;
    if (spawned && spawned !== a) anchors.set(spawned, e);
  }
  for (const e of entries) {
    if (e.kind === 'agent_start' && e.agent && e.agent.agent_id && !anchors.has(e.agent.agent_id) && e.agent.agent_id !== (e.agent_id || 'main')) anchors.set(e.agent.agent_id, e);
  }
  // An anchor must be reachable from main; one that is not (a cycle, an
  // agent whose parent mpmd never saw) leaves its agent in time order.
  const hangs = new Map(); // anchor entry → agent ids under it, in order of first entry
  const placed = new Set(['main']);
  const reach = (a, seen = new Set()) => {
    if (a === 'main') return true;
    if (seen.has(a)) return false;
    seen.add(a);
    const anc = anchors.get(a);
    return !!anc && reach(anc.agent_id || 'main', seen);
  };
  for (const [a] of byAgent) {
    if (a === 'main' || !anchors.has(a) || !reach(a)) continue;
    const anc = anchors.get(a);
    let l = hangs.get(anc);
    if (!l) hangs.set(anc, (l = []));
    l.push(a);
    placed.add(a);
  }
  const rows = [];
  const emit = (list, depth, agent) => {
    for (const e of list) {
      const under = hangs.get(e);
      const r = { e, depth, agent, key: key(e), children: 0, spawned: under || null };
      rows.push(r);
      if (!under) continue;
      for (const a of under) {
        const kids = byAgent.get(a);
        r.children += kids.length;
        if (!collapsed.has(a)) emit(kids, depth + 1, a);
      }
    }
  };
  // Entries of agents that hang nowhere stay in time order at depth 1.
  const loose = [];
  for (const e of entries) {
    const a = e.agent_id || 'main';
    if (a === 'main' || !placed.has(a)) loose.push(e);
  }
  const isMain = (e) => (e.agent_id || 'main') === 'main';
  for (const e of loose) {
    if (isMain(e)) emit([e], 0, 'main');
    else rows.push({ e, depth: 1, agent: e.agent_id, key: key(e), children: 0 });
  }
  if (!only) return rows;
  return rows.filter((r) => r.agent === only || (r.spawned && r.spawned.includes(only)));
}
