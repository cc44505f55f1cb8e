// The dashboard on a session the real Claude Code CLI produced (the
// two-agents recording of test/claudecode, pkg/claudetest/testdata): its hook
// inputs go through the real bin/mpm-hook into the real bin/mpmd, and its
// transcripts sit under mpmd's HOME/.claude/projects, where mpmd's own
// transcript watcher reads them — nothing here makes /claude events. The
// page must show Claude Code's own cost, both background subagents side by
// side with their calls, and the thinking and text of the transcripts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, readdirSync, writeFileSync, statSync, existsSync } from 'node:fs';
import path from 'node:path';
import { startMpmd, launchBrowser, openDashboard, runHook, tid, waitFor, MPM_HOOK } from './harness.mjs';

const REC = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../pkg/claudetest/testdata/two-agents');
const standin = JSON.parse(readFileSync(path.join(REC, 'standin.json'), 'utf8'));
const SID = standin.session_id;
let mpmd, browser;

// The recording's paths say /home/user; here HOME is a temp dir.
const relocate = (s, home) => s.replaceAll('/home/user/.claude/', `${home}/.claude/`);

before(async () => {
  mpmd = await startMpmd();
  browser = await launchBrowser();
  const home = mpmd.home.dir;
  const projects = path.join(home, '.claude', 'projects');
  cpSync(path.join(REC, 'projects'), projects, { recursive: true });
  const walk = (d) => readdirSync(d).flatMap((n) => { const p = path.join(d, n); return statSync(p).isDirectory() ? walk(p) : [p]; });
  for (const f of walk(projects)) writeFileSync(f, relocate(readFileSync(f, 'utf8'), home));
  const hooks = readFileSync(path.join(REC, 'hooks.jsonl'), 'utf8').split('\n').filter((l) => l.trim());
  for (const line of hooks) {
    const r = await runHook(mpmd, JSON.parse(relocate(line, home)));
    assert.equal(r.code, 0, r.stderr);
  }
});
after(async () => {
  await browser?.close();
  await mpmd?.stop();
  mpmd?.home.cleanup();
});

test('a real Claude Code session with two background subagents: cost, agents side by side, the conversation from its transcripts', { skip: !existsSync(MPM_HOOK) && 'bin/mpm-hook is not built' }, async () => {
  const lines = readFileSync(path.join(REC, standin.transcript), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const cost = lines.filter((e) => e.type === 'cost-state').pop();
  assert.ok(cost, 'the recording has a cost-state');
  const p = await openDashboard(browser, mpmd, '#/sessions');
  const row = `${tid('session-row')}[data-sid="${SID}"]`;
  // The list shows Claude Code's own total once mpmd has read the transcript.
  const want = `$${cost.totalCostUSD.toFixed(3)}`;
  await waitFor(async () => (await p.textContent(`${row} ${tid('session-cost')}`)) === want, { what: `the cost ${want} in the list`, timeout: 15000 });
  assert.equal(await p.getAttribute(`${row} ${tid('session-cost')}`, 'data-cost-source'), 'claude');

  await p.goto(`${mpmd.url}/#/sessions/${SID}`);
  await p.waitForFunction(() => { const o = window.__mpm.sessionOpen; return o.id && !o.loading && o.rendered > 0; }, null, { timeout: 10000 });
  const rows = await p.$$eval(tid('conversation-row'), (rs) => rs.map((r) => ({ kind: r.dataset.kind, agent: r.dataset.agent, depth: Number(r.dataset.depth), text: r.textContent })));
  assert.equal(rows.filter((r) => r.kind === 'prompt').length, 1, 'one typed prompt; the task notifications are not prompts');
  const agents = [...new Set(rows.filter((r) => r.depth > 0).map((r) => r.agent))];
  assert.equal(agents.length, 2, `both subagents' work is nested: ${JSON.stringify(agents)}`);
  for (const a of agents) {
    assert.ok(rows.some((r) => r.agent === a && r.kind === 'thinking'), `subagent ${a}'s thinking (from its transcript)`);
    assert.ok(rows.some((r) => r.agent === a && r.kind === 'tool'), `subagent ${a}'s Bash call`);
  }
  assert.ok(rows.some((r) => r.agent === 'main' && r.kind === 'thinking'), 'the main agent\'s thinking');

  // Lanes: main and the two subagents, the two overlapping in time.
  await p.click(tid('session-tab-timeline'));
  await p.waitForSelector(tid('timeline'));
  const lanes = await p.$$eval(tid('lane'), (ls) => ls.map((l) => l.dataset.agentId));
  assert.deepEqual(lanes.sort(), ['main', ...agents].sort());
  assert.deepEqual(p.errors, []);
  await p.context().close();
});
