// 50,000 events arriving live: the page keeps every one, keeps drawing frames,
// and answers search, tab switches, scrolling and clicks quickly afterwards.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startMpmd, launchBrowser, openDashboard, producer, sendMany, allStored, waitCaughtUp, tid, withMpmdLog } from './harness.mjs';
import { hookEvent, installFrameMonitor, frameStats } from './workload.mjs';

const N = 50000;
let mpmd, browser;
after(async () => {
  await browser?.close();
  await mpmd?.stop();
  mpmd?.home.cleanup();
});

/** Runs action in the page and returns ms until cond holds (checked per frame). */
async function timed(page, action, cond) {
  const t0 = Date.now();
  await action();
  await page.waitForFunction(cond, null, { polling: 'raf', timeout: 10000 });
  return Date.now() - t0;
}

test(`a ${N.toLocaleString('en-US')}-event load stays responsive`, (t) => withMpmdLog(() => mpmd, async () => {
  mpmd = await startMpmd();
  browser = await launchBrowser();
  const page = await openDashboard(browser, mpmd, '#/events');
  await page.waitForSelector(`${tid('conn-status')}[data-state="connected"]`, { timeout: 10000 });
  await page.evaluate(installFrameMonitor);

  const prod = await producer(mpmd, '/hook');
  const { ms } = await sendMany(prod, N, (i) => hookEvent(i));
  prod.close();
  const all = await allStored(mpmd);
  const stored = all.map((e) => e.seq);
  // A page that fell too far behind under the flood was dropped by mpmd and
  // replays what it missed, namespace by namespace.
  await waitCaughtUp(page, all, 60000);
  const fs = await page.evaluate(frameStats);
  t.diagnostic(`${N} hook events (+ derived, ${stored.length} stored) sent in ${ms} ms; frames during the load: ${JSON.stringify(fs)}`);

  // Every stored event is in the page once.
  const seqs = await page.evaluate(() => window.__mpm.events().filter((e) => e[1] !== '/system').map((e) => e[0]));
  const want = stored.filter((s) => s > 0);
  assert.equal(seqs.length, new Set(seqs).size, 'no duplicates');
  assert.ok(seqs.length >= want.length - 5, `page has ${seqs.length} of ${want.length} stored events`);

  // The page kept drawing while the events poured in. These bounds tell a
  // page that stays interactive from one that freezes (an unvirtualised
  // list of 50,000 rows stalls for many seconds); they are loose because a
  // CI runner's two cores are shared with mpmd, the producer and the rest
  // of the suite under -race — a run there saw p95 467 ms and 3 % of frames
  // over 500 ms where a quiet machine draws at 45 fps. The frame rate itself
  // is measured by `make bench-browser` (docs/PERFORMANCE-dashboard.md).
  assert.ok(fs.frames > 10, 'frames were drawn during the load');
  assert.ok(fs.p95 < 1000, `frame time p95 ${fs.p95.toFixed(0)} ms`);
  assert.ok(fs.frames && fs.over500 / fs.frames < 0.1, `${fs.over500} of ${fs.frames} frames over 500 ms`);
  assert.ok(fs.max < 5000, `longest frame ${fs.max.toFixed(0)} ms`);

  // And it answers promptly afterwards.
  const search = await timed(page, () => page.fill(tid('search'), 'needle42'),
    () => { const n = window.__mpm.viewLength; return n > 0 && n < 5000 && document.querySelectorAll('[data-testid="event-list"] .vrow:not([hidden])').length > 0; });
  const clearSearch = await timed(page, () => page.fill(tid('search'), ''), () => window.__mpm.viewLength === window.__mpm.bufferLength);
  const tab = await timed(page, () => page.click(tid('ns-tab-session')),
    () => [...document.querySelectorAll('[data-testid="event-list"] .vrow:not([hidden])')].every((r) => r.dataset.namespace === '/session'));
  await page.click(tid('ns-tab-all'));
  const top = await timed(page, () => page.$eval(tid('event-list'), (el) => { el.scrollTop = 0; }),
    () => document.querySelector('[data-testid="event-list"] .vrow:not([hidden])')?.style.transform === 'translateY(0px)');
  const middle = await timed(page, () => page.$eval(tid('event-list'), (el) => { el.scrollTop = el.scrollHeight / 2; }),
    () => { const el = document.querySelector('[data-testid="event-list"]'); return [...el.querySelectorAll('.vrow:not([hidden])')].some((r) => Math.abs(parseFloat(r.style.transform.slice(11)) - el.scrollTop) < 30); });
  const detail = await timed(page, () => page.click(`${tid('event-list')} .vrow:not([hidden]) >> nth=5`), () => document.querySelector('[data-testid="detail-dialog"]').open);
  await page.keyboard.press('Escape');
  const sessions = await timed(page, () => page.click(tid('view-tab-sessions')), () => document.querySelectorAll('[data-testid="session-row"]').length >= 20);
  // A session of the load (2,500 tool calls): its page and its tools tab.
  const sessionPage = await timed(page, () => page.click(`${tid('session-row')}[data-sid="load-session-000"]`),
    () => document.querySelectorAll('[data-testid="tool-entry"]').length > 5 && !window.__mpm.sessionOpen.loading);
  const tools = await timed(page, () => page.click(tid('session-tab-tools')), () => document.querySelectorAll('[data-testid="tools-list"] .vrow:not([hidden])').length > 10);
  // The model counted every call of that session (2,500 PreToolUse of the 50,000 events).
  const calls = Number((await page.textContent(tid('session-tool-calls'))).replace(/,/g, ''));
  const dom = await page.evaluate(() => document.getElementsByTagName('*').length);
  t.diagnostic(`after the load: search ${search} ms, clear search ${clearSearch} ms, tab ${tab} ms, scroll top ${top} ms, middle ${middle} ms, detail ${detail} ms, sessions view ${sessions} ms, a session's page ${sessionPage} ms, its tools ${tools} ms; ${dom} DOM elements`);
  assert.ok(calls >= 2000, `load-session-000 has ${calls} tool calls`);
  for (const [what, v] of Object.entries({ search, clearSearch, tab, top, middle, detail, sessions, sessionPage, tools })) {
    assert.ok(v < 3000, `${what} took ${v} ms`);
  }
  assert.ok(dom < 3000, `virtualised: ${dom} DOM elements for ${seqs.length} events`);
  assert.deepEqual(page.errors, []);
}));
