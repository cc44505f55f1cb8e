// The dashboard in a real browser against the real bin/mpmd: the event log,
// its filters, export and shortcuts, the sessions list and a session's tabs
// as mpmd's session model serves them, history, URL parameters and the
// token, driven the way a user drives them. The session page's conversation,
// lanes, usage and attention on recorded Claude Code runs: session.test.mjs.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import {
  startMpmd, launchBrowser, openDashboard, emit, history, runHook, hookInput, waitFor, tid, sleep, MPM_HOOK,
} from './harness.mjs';
import { hookEventName } from './recording.mjs';

let mpmd, browser, page;

before(async () => {
  mpmd = await startMpmd();
  browser = await launchBrowser();
  page = await openDashboard(browser, mpmd, '#/events');
  await page.waitForSelector(`${tid('conn-status')}[data-state="connected"]`, { timeout: 10000 });
});

after(async () => {
  await browser?.close();
  await mpmd?.stop();
  mpmd?.home.cleanup();
});

/** Waits until the page has ingested and drawn everything it received. */
const settled = (p = page) => p.waitForFunction(() => window.__mpm.settled, null, { polling: 'raf', timeout: 5000 });

const rows = (p = page) => p.$$eval(`${tid('event-list')} .vrow:not([hidden])`, (els) => els.map((e) => ({
  seq: Number(e.dataset.seq), ns: e.dataset.namespace, event: e.dataset.event, text: e.textContent,
})));

/** Waits until the stream shows an event whose text contains s; returns ms waited. */
async function waitForRow(s, timeout = 1000, p = page) {
  const t0 = Date.now();
  await p.waitForFunction((s) => [...document.querySelectorAll('[data-testid="event-list"] .vrow:not([hidden])')]
    .some((r) => r.textContent.includes(s)), s, { timeout, polling: 'raf' });
  return Date.now() - t0;
}

async function resetFilters(p = page) {
  await p.click(tid('view-tab-events'));
  await p.click(tid('ns-tab-all'));
  await p.selectOption(tid('type-filter'), '');
  await p.fill(tid('search'), '');
  if (await p.isChecked(tid('errors-only'))) await p.uncheck(tid('errors-only'));
  if (await p.isVisible(tid('session-filter'))) await p.click(tid('session-filter'));
  await p.waitForFunction(() => window.__mpm.viewLength === window.__mpm.bufferLength && window.__mpm.pending === 0);
  await settled(p);
}

describe('loading and connecting', () => {
  test('the page loads from mpmd with no console error and shows the connection', async () => {
    const res = await fetch(`${mpmd.url}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/html/);
    const html = await res.text();
    const js = html.match(/src="(app-[^"]+\.js)"/)[1];
    const jsRes = await fetch(`${mpmd.url}/${js}`);
    assert.equal(jsRes.status, 200);
    assert.match(jsRes.headers.get('content-type'), /^text\/javascript/);
    assert.match(jsRes.headers.get('cache-control'), /immutable/);
    assert.equal((await fetch(`${mpmd.url}/nope-${Date.now()}.js`)).status, 404);

    assert.equal(await page.textContent(tid('conn-status')), 'connected');
    const id = await page.textContent(tid('conn-socket-id'));
    assert.ok(id.length >= 8 && id !== '–', `socket id shown, got ${id}`);
    assert.match(await page.textContent(tid('conn-since')), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    assert.equal(await page.getAttribute(tid('conn-namespaces'), 'data-namespaces'),
      '/agent /claude /hook /log /memory /session /system /todo');
    assert.match(await page.textContent(tid('conn-server')), new RegExp(`pid ${mpmd.pid}`));
    assert.deepEqual(page.errors, []);
    // Offline: everything the page loaded came from this mpmd (no CDN).
    const elsewhere = page.requests.filter((u) => !u.startsWith(`${mpmd.url}/`) && !u.startsWith('data:') && !u.startsWith('blob:'));
    assert.deepEqual(elsewhere, []);
  });

  test('light and dark themes follow the OS setting', async () => {
    const bg = async (scheme) => {
      const p = await openDashboard(browser, mpmd, '?autoconnect=false', { colorScheme: scheme });
      const rgb = await p.evaluate(() => getComputedStyle(document.body).backgroundColor.match(/\d+/g).slice(0, 3).map(Number));
      await p.context().close();
      return rgb.reduce((a, b) => a + b, 0) / 3;
    };
    assert.ok(await bg('light') > 200, 'light background');
    assert.ok(await bg('dark') < 60, 'dark background');
  });

  test('an event sent with POST /emit appears within a second', async () => {
    const marker = `emit-marker-${Date.now()}`;
    const t0 = Date.now();
    const { seq } = await emit(mpmd, 'log', 'message', { level: 'INFO', message: marker });
    await waitForRow(marker, 1000);
    const took = Date.now() - t0;
    assert.ok(took < 1000, `took ${took} ms`);
    const r = (await rows()).find((r) => r.text.includes(marker));
    assert.equal(r.seq, seq);
    assert.equal(r.ns, '/log');
  });

  test('an event sent through bin/mpm-hook appears within a second', { skip: !existsSync(MPM_HOOK) && 'bin/mpm-hook is not built' }, async () => {
    const prompt = `hook-marker-${Date.now()}`;
    const t0 = Date.now();
    const res = await runHook(mpmd, hookInput('UserPromptSubmit', 'sess-hook-1', { prompt }));
    assert.equal(res.code, 0, `mpm-hook exit code (stderr: ${res.stderr})`);
    assert.equal(res.stdout, '');
    await waitForRow(prompt, 1000);
    assert.ok(Date.now() - t0 < 1000 + 500, `took ${Date.now() - t0} ms including mpm-hook's own start`);
    // The derived status change shows up too.
    await page.waitForFunction(() => window.__mpm.seqs().length > 0);
  });

  test('filtering never pauses live updates: a filtered view keeps receiving matching events', async () => {
    await resetFilters();
    await page.fill(tid('search'), 'livefilter');
    await page.waitForFunction(() => window.__mpm.viewLength === 0);
    const a = await emit(mpmd, 'log', 'warning', { level: 'WARNING', message: 'livefilter one' });
    await emit(mpmd, 'log', 'message', { level: 'INFO', message: 'not this one' });
    const b = await emit(mpmd, 'memory', 'updated', { agent_id: 'engineer', content: 'LiveFilter two (case-insensitive)' });
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="event-list"] .vrow:not([hidden])').length === 2, null, { timeout: 1000 });
    assert.deepEqual((await rows()).map((r) => r.seq).sort((x, y) => x - y), [a.seq, b.seq]);
    await resetFilters();
  });
});

describe('filters', () => {
  test('namespace tabs show only their namespace and count it', async () => {
    await resetFilters();
    await emit(mpmd, 'memory', 'loaded', { agent_id: 'engineer', memory_size: 2048, sections_count: 3 });
    await emit(mpmd, 'todo', 'updated', { todos: [], stats: { total: 0, completed: 0, in_progress: 0, pending: 0 } });
    await page.waitForFunction(() => document.querySelector('[data-testid="ns-tab-memory"] .count').textContent !== '0');
    await page.click(tid('ns-tab-memory'));
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="ns-tab-memory"] .count').textContent) === window.__mpm.viewLength &&
      document.querySelectorAll('[data-testid="event-list"] .vrow:not([hidden])').length === window.__mpm.viewLength);
    const shown = await rows();
    assert.ok(shown.length >= 1);
    assert.ok(shown.every((r) => r.ns === '/memory'), JSON.stringify(shown));
    const count = Number(await page.textContent(`${tid('ns-tab-memory')} .count`));
    assert.equal(count, await page.evaluate(() => window.__mpm.viewLength));
    assert.equal(await page.getAttribute(tid('ns-tab-memory'), 'aria-selected'), 'true');
    await page.click(tid('ns-tab-all'));
    await settled();
    assert.ok((await rows()).some((r) => r.ns !== '/memory'));
  });

  test('the event type filter lists the types seen and shows only the chosen one', async () => {
    await resetFilters();
    await emit(mpmd, 'log', 'error', { level: 'ERROR', message: 'type filter probe' });
    await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="type-filter"] option')].some((o) => o.value === '/log error'));
    await page.selectOption(tid('type-filter'), '/log error');
    await settled();
    const shown = await rows();
    assert.ok(shown.length >= 1);
    assert.ok(shown.every((r) => r.ns === '/log' && r.event === 'error'), JSON.stringify(shown));
    // Narrowing the namespace keeps a type of that namespace.
    await page.click(tid('ns-tab-log'));
    await settled();
    assert.equal(await page.inputValue(tid('type-filter')), '/log error');
    await resetFilters();
  });

  test('full-text search looks inside event data', async () => {
    await resetFilters();
    const { seq } = await emit(mpmd, 'hook', 'pre_tool', hookInput('PreToolUse', 'sess-search', {
      tool_name: 'Bash', tool_use_id: 'tu-search', tool_input: { command: 'grep -r needle-in-a-haystack .' },
    }));
    await page.waitForFunction((s) => window.__mpm.seqs().includes(s), seq);
    await page.fill(tid('search'), 'NEEDLE-in-a');
    await page.waitForFunction(() => window.__mpm.viewLength >= 1 && window.__mpm.viewLength < window.__mpm.bufferLength &&
      document.querySelectorAll('[data-testid="event-list"] .vrow:not([hidden])').length === window.__mpm.viewLength);
    const shown = await rows();
    assert.ok(shown.some((r) => r.seq === seq));
    assert.ok(shown.every((r) => r.seq === seq || r.text.toLowerCase().includes('needle')), JSON.stringify(shown));
    await resetFilters();
  });

  test('error events are counted and highlighted, and the count filters to them', async () => {
    await resetFilters();
    const before = Number((await page.textContent(tid('metric-errors'))).replace(/,/g, ''));
    const { seq } = await emit(mpmd, 'hook', 'post_tool_use_failure', hookInput('PostToolUseFailure', 'sess-err', {
      tool_name: 'Bash', tool_use_id: 'tu-err', tool_input: { command: 'false' }, error: 'exit status 1',
    }));
    await page.waitForFunction((n) => Number(document.querySelector('[data-testid="metric-errors"]').textContent.replace(/,/g, '')) > n, before);
    const cls = await page.getAttribute(`${tid('event-list')} .vrow[data-seq="${seq}"]`, 'class');
    assert.match(cls, /\berr\b/);
    await page.click(tid('metric-errors-button'));
    assert.equal(await page.isChecked(tid('errors-only')), true);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="event-list"] .vrow:not([hidden])').length === window.__mpm.viewLength);
    const shown = await rows();
    assert.ok(shown.some((r) => r.seq === seq));
    assert.equal(await page.$$eval(`${tid('event-list')} .vrow:not([hidden]):not(.err)`, (e) => e.length), 0);
    await resetFilters();
  });

  test('live metrics: total, events per minute, unique types, chart', async () => {
    const total = await page.evaluate(() => window.__mpm.bufferLength);
    await page.waitForFunction((t) => Number(document.querySelector('[data-testid="metric-total"]').textContent.replace(/,/g, '')) === t, total);
    const perMin = Number((await page.textContent(tid('metric-rate'))).replace(/,/g, ''));
    assert.ok(perMin > 0 && perMin <= total, `per minute ${perMin} of ${total}`);
    const types = Number(await page.textContent(tid('metric-types')));
    const distinct = await page.evaluate(() => new Set([...document.querySelectorAll('[data-testid="type-filter"] option')].map((o) => o.value).filter(Boolean)).size);
    assert.equal(types, distinct);
    // The chart drew bars: some pixel in its right half is not transparent.
    const painted = await page.$eval(`${tid('rate-chart')} canvas`, (c) => {
      const d = c.getContext('2d').getImageData(c.width / 2, 12, c.width / 2, c.height - 12).data;
      for (let i = 3; i < d.length; i += 4) if (d[i] > 0) return true;
      return false;
    });
    assert.ok(painted, 'the events-per-minute chart has bars');
  });
});

describe('details, export and shortcuts', () => {
  test('clicking an event shows its full JSON; Escape closes it', async () => {
    await resetFilters();
    const { seq, event_id } = await emit(mpmd, 'claude', 'output', { content: 'detail probe', stream: 'stdout', nested: { deep: [1, 2, 3] } });
    await page.waitForSelector(`${tid('event-list')} .vrow[data-seq="${seq}"]`);
    await page.click(`${tid('event-list')} .vrow[data-seq="${seq}"]`);
    await page.waitForSelector(`${tid('detail-dialog')}[open]`);
    const j = JSON.parse(await page.textContent(tid('detail-json')));
    assert.equal(j.seq, seq);
    assert.equal(j.event_id, event_id);
    assert.equal(j.namespace, '/claude');
    assert.equal(j.event, 'output');
    assert.deepEqual(j.data.nested, { deep: [1, 2, 3] });
    await page.keyboard.press('Escape');
    await page.waitForSelector(`${tid('detail-dialog')}:not([open])`, { state: 'attached' });
  });

  for (const mod of ['Control', 'Meta']) {
    test(`${mod}+K focuses the search from any view`, async () => {
      await page.click(tid('view-tab-sessions'));
      await page.waitForSelector(tid('sessions-view'));
      await page.keyboard.press(`${mod}+KeyK`);
      await page.waitForFunction(() => document.activeElement.dataset.testid === 'search');
      assert.equal(await page.isVisible(tid('events-view')), true);
      await page.keyboard.press('Escape');
      assert.notEqual(await page.evaluate(() => document.activeElement.dataset.testid), 'search');
    });
  }

  test('Export and Ctrl/Cmd+E download the filtered events as JSON with metadata', async () => {
    await resetFilters();
    await emit(mpmd, 'log', 'message', { level: 'INFO', message: 'export-probe alpha' });
    await emit(mpmd, 'log', 'message', { level: 'INFO', message: 'export-probe beta' });
    await page.click(tid('ns-tab-log'));
    await page.fill(tid('search'), 'export-probe');
    await page.waitForFunction(() => window.__mpm.viewLength === 2);
    for (const how of ['button', 'Control+KeyE', 'Meta+KeyE']) {
      const [dl] = await Promise.all([
        page.waitForEvent('download', { timeout: 5000 }),
        how === 'button' ? page.click(tid('export-button')) : page.keyboard.press(how),
      ]);
      assert.match(dl.suggestedFilename(), /^mpm-events-.*\.json$/);
      const doc = JSON.parse(readFileSync(await dl.path(), 'utf8'));
      assert.equal(doc.count, 2, how);
      assert.equal(doc.events.length, 2);
      assert.deepEqual(doc.events.map((e) => e.data.message), ['export-probe alpha', 'export-probe beta']);
      assert.equal(doc.filters.namespace, '/log');
      assert.equal(doc.filters.search, 'export-probe');
      assert.equal(doc.server.url, mpmd.url);
      assert.equal(doc.server.pid, mpmd.pid);
      assert.ok(doc.time_range.from <= doc.time_range.to);
      assert.ok(doc.seq_range.from < doc.seq_range.to);
      assert.ok(!Number.isNaN(Date.parse(doc.exported_at)));
    }
    await resetFilters();
  });

  for (const mod of ['Control', 'Meta']) {
    test(`${mod}+R clears the view without reloading the page; live events keep coming`, async () => {
      await resetFilters();
      await page.evaluate(() => { window.__notReloaded = true; });
      assert.ok(await page.evaluate(() => window.__mpm.bufferLength) > 0);
      await page.keyboard.press(`${mod}+KeyR`);
      await page.waitForFunction(() => window.__mpm.bufferLength === 0);
      await settled();
      assert.equal(await page.evaluate(() => window.__notReloaded), true, 'the page was reloaded');
      assert.equal(await page.textContent(tid('metric-total')), '0');
      assert.equal((await rows()).length, 0);
      const { seq } = await emit(mpmd, 'log', 'message', { level: 'INFO', message: `after clear ${mod}` });
      await page.waitForFunction((s) => window.__mpm.seqs().includes(s), seq, { timeout: 1000 });
      assert.deepEqual(await page.evaluate(() => window.__mpm.seqs()), [seq], 'only the new event, nothing replayed');
    });
  }

  test('Escape closes the shortcuts dialog', async () => {
    await page.click(tid('help-button'));
    await page.waitForSelector(`${tid('help-dialog')}[open]`);
    await page.keyboard.press('Escape');
    await page.waitForSelector(`${tid('help-dialog')}:not([open])`, { state: 'attached' });
  });
});

describe('views', () => {
  const sid = 'sess-views-0001';
  const send = (name, fields = {}, s = sid) => emit(mpmd, 'hook', hookEventName(name), hookInput(name, s, fields));
  const row = (s = sid) => `${tid('session-row')}[data-sid="${s}"]`;
  const sessionStatus = () => page.getAttribute(row(), 'data-status');
  const cell = (col, s = sid) => page.textContent(`${row(s)} [data-col="${col}"]`);

  test('sessions list: status, model and attention come from mpmd; a permission wait shows in the title and the row until answered', async () => {
    await page.click(tid('view-tab-sessions'));
    await send('SessionStart', { source: 'startup', model: 'claude-sonnet-4-5' });
    await page.waitForSelector(row());
    await waitFor(async () => (await sessionStatus()) === 'idle', { what: 'idle after start' });
    await send('UserPromptSubmit', { prompt: 'refactor the parser' });
    await waitFor(async () => (await sessionStatus()) === 'running', { what: 'running after prompt' });
    assert.equal(await page.textContent(`${row()} ${tid('session-title')}`), 'refactor the parser');
    await send('Notification', { message: 'Claude needs your permission to use Bash', notification_type: 'permission_prompt' });
    await waitFor(async () => (await sessionStatus()) === 'waiting_for_permission', { what: 'waiting' });
    assert.equal(await page.getAttribute(row(), 'data-attention'), 'permission');
    assert.match(await page.getAttribute(row(), 'class'), /\battention\b/);
    await page.waitForSelector(tid('attention'));
    assert.match(await page.textContent(tid('attention')), /waiting for permission/);
    assert.match(await page.getAttribute(tid('attention'), 'data-sessions'), new RegExp(sid));
    assert.match(await page.title(), /^\(1\) mpm/);
    await send('PostToolUse', { tool_name: 'Bash', tool_use_id: 'tu-perm', tool_input: { command: 'make' }, tool_response: { stdout: '' } });
    await waitFor(async () => (await sessionStatus()) === 'running', { what: 'running after permission' });
    await page.waitForSelector(tid('attention'), { state: 'detached' });
    assert.equal(await page.getAttribute(row(), 'data-attention'), null);
    assert.doesNotMatch(await page.title(), /^\(/);
    await send('Stop', { stop_hook_active: false });
    await waitFor(async () => (await sessionStatus()) === 'idle', { what: 'idle after stop' });
    assert.equal(await cell('project'), 'project');
    assert.equal(await cell('model'), 'claude-sonnet-4-5');
    assert.equal(await cell('tools'), '1');
    // No usage was reported: the cost says so rather than $0.00.
    assert.equal(await page.getAttribute(`${row()} ${tid('session-cost')}`, 'data-cost-source'), 'none');
    assert.notEqual(await cell('cost'), '$0.00');
    await send('SessionEnd', { reason: 'logout' });
    await waitFor(async () => (await sessionStatus()) === 'ended', { what: 'ended' });
    // Click → the session's own page, whose Events tab has only its events.
    await page.click(row());
    await page.waitForSelector(`${tid('session-page')}[data-sid="${sid}"]`);
    assert.equal(new URL(page.url()).hash, `#/sessions/${sid}`);
    await page.click(tid('session-tab-events'));
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="session-event-list"] .vrow:not([hidden])').length >= 5);
    const sids = await page.$$eval(`${tid('session-event-list')} .vrow:not([hidden]) .sid`, (e) => e.map((x) => x.title));
    assert.ok(sids.length >= 5 && sids.every((s) => s === sid), JSON.stringify(sids));
    await page.click(tid('back-to-sessions'));
    await page.waitForSelector(tid('sessions-view'));
  });

  test('a session\'s tools tab: pre and post paired by mpmd, durations, failures and calls in flight', async () => {
    const s2 = 'sess-tools-0002';
    const t = (name, fields) => send(name, fields, s2);
    await t('PreToolUse', { tool_name: 'Read', tool_use_id: 'tu-read', tool_input: { file_path: '/etc/hosts' } });
    await t('PreToolUse', { tool_name: 'Bash', tool_use_id: 'tu-slow', tool_input: { command: 'sleep 30' } });
    await t('PreToolUse', { tool_name: 'Bash', tool_use_id: 'tu-fail', tool_input: { command: 'false' } });
    await t('PreToolUse', { tool_name: 'Grep', tool_use_id: 'tu-open', tool_input: { pattern: 'TODO' } });
    await t('PostToolUse', { tool_name: 'Read', tool_use_id: 'tu-read', tool_input: { file_path: '/etc/hosts' }, tool_response: { content: '…' }, duration_ms: 12 });
    await t('PostToolUse', { tool_name: 'Bash', tool_use_id: 'tu-slow', tool_input: { command: 'sleep 30' }, tool_response: { stdout: '' }, duration_ms: 30012 });
    await t('PostToolUseFailure', { tool_name: 'Bash', tool_use_id: 'tu-fail', tool_input: { command: 'false' }, error: 'Command failed with exit code 1' });
    await page.goto(`${mpmd.url}/#/sessions/${s2}/tools`);
    const r = (id) => `${tid('tool-row')}[data-tool-use-id="${id}"]`;
    await page.waitForSelector(`${r('tu-fail')}[data-status="failed"]`);
    await page.waitForSelector(`${r('tu-slow')}[data-status="completed"]`);
    assert.equal(await page.getAttribute(r('tu-read'), 'data-duration'), '12');
    assert.equal(await page.getAttribute(r('tu-slow'), 'data-duration'), '30012');
    assert.match(await page.textContent(r('tu-fail')), /exit code 1/);
    assert.equal(await page.getAttribute(r('tu-open'), 'data-status'), 'running');
    assert.equal(await page.$$eval(r('tu-slow'), (e) => e.length), 1, 'one row per call, not one per event');
    const ordered = () => page.$$eval(`${tid('tools-list')} .vrow:not([hidden])`, (rs) => rs
      .sort((a, b) => parseFloat(a.style.transform.slice(11)) - parseFloat(b.style.transform.slice(11)))
      .map((x) => ({ id: x.dataset.toolUseId, status: x.dataset.status, dur: Number(x.dataset.duration) })));
    // The list redraws a frame after the choice: wait until it shows it.
    const shows = async (pred) => { let last; await waitFor(async () => pred(last = await ordered()), { what: 'the tools list to show the choice' }); return last; };
    await page.selectOption(tid('tools-sort'), 'slowest');
    const slow = (await shows((l) => l[0]?.id === 'tu-slow')).filter((x) => x.status !== 'running');
    assert.deepEqual(slow.map((x) => x.dur), slow.map((x) => x.dur).sort((a, b) => b - a), 'slowest first');
    await page.selectOption(tid('tools-sort'), 'failed');
    await shows((l) => l[0]?.status === 'failed');
    await page.selectOption(tid('tools-status'), 'running');
    assert.deepEqual((await shows((l) => l.length === 1)).map((x) => x.id), ['tu-open']);
    // The session's failure count is mpmd's.
    assert.equal(await page.textContent(tid('session-errors')), '1');
  });

  test('a session\'s agents tab: each subagent run with its task, status and duration', async () => {
    const s3 = 'sess-agents-0003';
    const a = (name, fields) => send(name, fields, s3);
    const input = { subagent_type: 'code-reviewer', description: 'Review the parser change', prompt: 'Look at parser.go' };
    await a('PreToolUse', { tool_name: 'Task', tool_use_id: 'tu-task-1', tool_input: input });
    // The run's duration is from SubagentStart to SubagentStop.
    const t = Date.now();
    await a('SubagentStart', { agent_id: 'agent-42', agent_type: 'code-reviewer', timestamp: new Date(t - 4200).toISOString() });
    await a('SubagentStop', { agent_id: 'agent-42', agent_type: 'code-reviewer', stop_hook_active: false, timestamp: new Date(t).toISOString() });
    await a('PostToolUse', { tool_name: 'Task', tool_use_id: 'tu-task-1', tool_input: input, tool_response: { content: 'LGTM' }, duration_ms: 4200 });
    await page.goto(`${mpmd.url}/#/sessions/${s3}/timeline`);
    await page.waitForSelector(`${tid('agent-row')}[data-agent-id="agent-42"][data-status="completed"]`);
    const cells = await page.$$eval(`${tid('agent-row')}[data-agent-id="agent-42"] td`, (c) => c.map((x) => x.textContent));
    assert.match(cells[1], /code-reviewer/);
    assert.equal(cells[2], 'Review the parser change');
    assert.equal(await page.textContent(`${tid('agent-row')}[data-agent-id="agent-42"] [data-col="duration"]`), '4.20 s');
    assert.equal(await page.$$eval(tid('lane'), (l) => l.length), 2, 'a lane for main and one for the subagent');
  });

  test('a session\'s tasks tab: its todo list with progress', async () => {
    const s4 = 'sess-todo-0004';
    const todos = [
      { content: 'Write the parser', status: 'completed', activeForm: 'Writing the parser' },
      { content: 'Test the parser', status: 'in_progress', activeForm: 'Testing the parser' },
      { content: 'Document the parser', status: 'pending', activeForm: 'Documenting the parser' },
    ];
    await send('PreToolUse', { tool_name: 'TodoWrite', tool_use_id: 'tu-todo', tool_input: { todos } }, s4);
    await page.goto(`${mpmd.url}/#/sessions/${s4}/tasks`);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="todo-item"]').length === 3);
    const items = await page.$$eval(tid('todo-item'), (li) => li.map((l) => [l.dataset.status, l.textContent]));
    assert.deepEqual(items.map((i) => i[0]), ['completed', 'in_progress', 'pending']);
    assert.match(items[1][1], /Testing the parser/);
    assert.equal(await page.getAttribute(tid('todos-progress'), 'data-completed'), '1');
    assert.equal(await page.getAttribute(tid('todos-progress'), 'data-total'), '3');
    // The next TodoWrite replaces the list, live.
    todos[1].status = 'completed';
    await send('PreToolUse', { tool_name: 'TodoWrite', tool_use_id: 'tu-todo-2', tool_input: { todos } }, s4);
    await page.waitForFunction(() => document.querySelector('[data-testid="todos-progress"]').dataset.completed === '2');
  });

  test('history view: queries the store, reaching events the page no longer holds', async () => {
    await page.goto(`${mpmd.url}/#/events`);
    await page.waitForSelector(`${tid('conn-status')}[data-state="connected"]`, { timeout: 10000 });
    const marker = `history-probe-${Date.now()}`;
    const { seq } = await emit(mpmd, 'log', 'message', { level: 'INFO', message: marker });
    await page.waitForFunction((s) => window.__mpm.seqs().includes(s), seq);
    await page.keyboard.press('Control+KeyR'); // the page forgets it; the store does not
    await page.click(tid('view-tab-history'));
    await page.fill(`${tid('history-form')} [name=q]`, marker);
    await page.click(tid('history-search'));
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="history-list"] .vrow:not([hidden])').length === 1);
    assert.equal(Number(await page.getAttribute(`${tid('history-list')} .vrow:not([hidden])`, 'data-seq')), seq);
    assert.match(await page.textContent(tid('history-status')), /^1 events/);
    const stored = await history(mpmd, { q: marker });
    assert.equal(stored.length, 1);
  });

  test('no console error in the whole session', () => {
    assert.deepEqual(page.errors, []);
  });
});

describe('URL parameters and authentication', () => {
  test('?autoconnect=false waits for the Connect button', async () => {
    const p = await openDashboard(browser, mpmd, '?autoconnect=false');
    try {
      await sleep(300);
      assert.equal(await p.getAttribute(tid('conn-status'), 'data-state'), 'idle');
      await p.click(tid('connect-button'));
      await p.waitForSelector(`${tid('conn-status')}[data-state="connected"]`, { timeout: 5000 });
      assert.deepEqual(p.errors, []);
    } finally { await p.context().close(); }
  });

  test('?history=N loads the newest N stored events, then goes live; ?history=0 only live', async () => {
    const stored = (await history(mpmd, { order: 'desc', limit: 10 })).map((e) => e.seq).sort((a, b) => a - b);
    const p = await openDashboard(browser, mpmd, '?history=10');
    const q = await openDashboard(browser, mpmd, '?history=0');
    try {
      for (const x of [p, q]) await x.waitForSelector(`${tid('conn-status')}[data-state="connected"]`, { timeout: 5000 });
      const { seq } = await emit(mpmd, 'log', 'message', { level: 'INFO', message: 'history param probe' });
      for (const x of [p, q]) await x.waitForFunction((s) => window.__mpm.seqs().includes(s), seq, { timeout: 1000 });
      const notSystem = (x) => x.evaluate(() => window.__mpm.events().filter((e) => e[1] !== '/system').map((e) => e[0]));
      assert.deepEqual(await notSystem(p), [...stored, seq]);
      assert.deepEqual(await notSystem(q), [seq]);
      assert.deepEqual([...p.errors, ...q.errors], []);
    } finally { await p.context().close(); await q.context().close(); }
  });

  test('?port= connects to the mpmd on that port', async () => {
    const other = await startMpmd();
    try {
      const p = await openDashboard(browser, mpmd, `?port=${other.port}#/events`);
      await p.waitForSelector(`${tid('conn-status')}[data-state="connected"]`, { timeout: 5000 });
      assert.match(await p.textContent(tid('conn-server')), new RegExp(`pid ${other.pid}`));
      const marker = `other-port-${Date.now()}`;
      await emit(other, 'log', 'message', { level: 'INFO', message: marker });
      await waitForRow(marker, 1000, p);
      await p.context().close();
    } finally { await other.stop(); other.home.cleanup(); }
  });

  test('with a token: the page asks for it, or takes ?token= and drops it from the address bar', async () => {
    const token = 'test-token-' + Math.random().toString(36).slice(2);
    const secured = await startMpmd({ token });
    try {
      const p = await openDashboard(browser, secured);
      await p.waitForSelector(`${tid('token-dialog')}[open]`, { timeout: 5000 });
      await p.fill(tid('token-input'), token);
      await p.click(tid('token-submit'));
      await p.waitForSelector(`${tid('conn-status')}[data-state="connected"]`, { timeout: 5000 });
      const { seq } = await emit(secured, 'log', 'message', { level: 'INFO', message: 'authorised' });
      await p.waitForFunction((s) => window.__mpm.seqs().includes(s), seq, { timeout: 1000 });
      await p.context().close();

      const q = await openDashboard(browser, secured, `?token=${token}&autoconnect=true`);
      await q.waitForSelector(`${tid('conn-status')}[data-state="connected"]`, { timeout: 5000 });
      assert.doesNotMatch(q.url(), /token/);
      assert.equal(await q.isVisible(`${tid('token-dialog')}[open]`), false);
      assert.deepEqual(q.errors.filter((e) => !/401/.test(e)), []);
      await q.context().close();
    } finally { await secured.stop(); secured.home.cleanup(); }
  });
});
