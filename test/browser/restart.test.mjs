// mpmd restarted under an open dashboard: the indicator shows the outage,
// then the page resumes from the last seq it saw — every stored event once,
// none lost, none doubled — including events stored while it was away.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  startMpmd, tempHome, launchBrowser, openDashboard, emit, allSeqs, allStored, waitCaughtUp, producer, sendMany, tid, sleep, withMpmdLog,
} from './harness.mjs';

const home = tempHome();
const db = path.join(home.dir, 'events.db');
let mpmd, browser;

after(async () => {
  await browser?.close();
  await mpmd?.stop();
  home.cleanup();
});

// Page errors a restart causes by design: the browser logs its failed
// reconnection attempts while mpmd is away.
const unexpected = (errors) => errors.filter((e) => !/ERR_CONNECTION_REFUSED|WebSocket connection|Failed to load resource/.test(e));

// The page's events as [seq, namespace, event].
const pageEvents = (page) => page.evaluate(() => window.__mpm.events());

/**
 * Every stored seq is in the page exactly once. The page may hold more: the
 * /system status and server_info mpmd sends each client on connect carry a
 * seq but are not stored.
 */
function assertSameSeqs(events, want, what) {
  const got = events.map((e) => e[0]);
  const dups = got.filter((s, i) => got.indexOf(s) !== i);
  assert.deepEqual(dups, [], `${what}: duplicated seqs`);
  const g = new Set(got);
  const missing = want.filter((s) => !g.has(s));
  assert.deepEqual(missing, [], `${what}: seqs the page lacks`);
  const w = new Set(want);
  assert.deepEqual(events.filter((e) => !w.has(e[0]) && e[1] !== '/system'), [], `${what}: events the store lacks`);
  assert.deepEqual(got, [...got].sort((a, b) => a - b), `${what}: the page keeps seq order`);
}

test('mpmd restarted under the open page: indicator, then no event lost or doubled', (t) => withMpmdLog(() => mpmd, async () => {
  mpmd = await startMpmd({ home, db });
  const port = mpmd.port;
  // Some history before the page opens, some live after.
  for (let i = 0; i < 20; i++) await emit(mpmd, 'log', 'message', { level: 'INFO', message: `before open ${i}` });
  browser = await launchBrowser();
  const page = await openDashboard(browser, mpmd, '#/events');
  await page.waitForSelector(`${tid('conn-status')}[data-state="connected"]`, { timeout: 10000 });
  const prod = await producer(mpmd, '/hook');
  await sendMany(prod, 200, (i) => ['pre_tool', { session_id: 'sess-restart', hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_use_id: `tu-a-${i}`, tool_input: { command: `echo ${i}` } }]);
  prod.close();
  await waitCaughtUp(page, await allStored(mpmd), 5000);
  assertSameSeqs(await pageEvents(page), await allSeqs(mpmd), 'before the restart');

  // Stop mpmd: the indicator must say so.
  await mpmd.stop();
  await page.waitForFunction(() => ['reconnecting', 'disconnected'].includes(document.querySelector('[data-testid="conn-status"]').dataset.state), null, { timeout: 5000 });
  assert.notEqual(await page.textContent(tid('conn-status')), 'connected');
  assert.match(await page.getAttribute(tid('connection'), 'data-state'), /reconnecting|disconnected/);
  await sleep(2500); // lets the client's backoff grow, so the events below are stored before it is back

  // While the page cannot reach it (another port, same store), mpmd stores
  // events the page has never seen: they can only come by replay.
  const away = await startMpmd({ home, db });
  const prodAway = await producer(away, '/hook');
  await sendMany(prodAway, 300, (i) => ['post_tool', { session_id: 'sess-restart', hook_event_name: 'PostToolUse', tool_name: 'Bash', tool_use_id: `tu-a-${i}`, tool_input: { command: `echo ${i}` }, tool_response: { stdout: `${i}` } }]);
  prodAway.close();
  await away.stop();
  assert.equal(await page.getAttribute(tid('conn-status'), 'data-state'), 'reconnecting');

  // Back on the page's port, same store: replay, then live.
  mpmd = await startMpmd({ home, db, port });
  const prod2 = await producer(mpmd, '/hook');
  await page.waitForSelector(`${tid('conn-status')}[data-state="connected"]`, { timeout: 10000 });
  await sendMany(prod2, 300, (i) => ['user_prompt', { session_id: 'sess-restart', hook_event_name: 'UserPromptSubmit', prompt: `after reconnect ${i}` }]);
  prod2.close();
  await waitCaughtUp(page, await allStored(mpmd), 10000);
  await sleep(300); // anything extra (a duplicate) would arrive now
  assertSameSeqs(await pageEvents(page), await allSeqs(mpmd), 'after the restart');
  assert.deepEqual(unexpected(page.errors), []);
}));

test('mpmd restarted with an empty in-memory store: the page starts over from its first event', async () => {
  browser ??= await launchBrowser();
  const memHome = tempHome();
  let mem = await startMpmd({ home: memHome });
  const port = mem.port;
  try {
    for (let i = 0; i < 30; i++) await emit(mem, 'log', 'message', { level: 'INFO', message: `old store ${i}` });
    const page = await openDashboard(browser, mem, '#/events');
    await page.waitForSelector(`${tid('conn-status')}[data-state="connected"]`, { timeout: 10000 });
    const old = await allSeqs(mem);
    await page.waitForFunction((n) => window.__mpm.maxSeq >= n, old.at(-1));
    await mem.stop();
    await page.waitForSelector(`${tid('conn-status')}[data-state="reconnecting"]`, { timeout: 5000 });
    mem = await startMpmd({ home: memHome, port }); // in memory: seqs start again at 1
    const fresh = [];
    for (let i = 0; i < 5; i++) fresh.push((await emit(mem, 'log', 'message', { level: 'INFO', message: `new store ${i}` })).seq);
    await page.waitForSelector(`${tid('conn-status')}[data-state="connected"]`, { timeout: 10000 });
    const more = (await emit(mem, 'log', 'message', { level: 'INFO', message: 'new store live' })).seq;
    await page.waitForFunction((s) => window.__mpm.seqs().includes(s), more, { timeout: 2000 });
    await page.waitForFunction(() => window.__mpm.settled);
    const got = await page.evaluate(() => window.__mpm.events().filter((e) => e[1] !== '/system').map((e) => e[0]));
    const want = await allSeqs(mem);
    assert.ok(want.includes(fresh[0]) && want.includes(more));
    assert.deepEqual(got, want, 'exactly the new store\'s events, each once, none of the old');
    assert.deepEqual(unexpected(page.errors), []);
    await page.context().close();
  } finally {
    await mem.stop();
    memHome.cleanup();
  }
});
