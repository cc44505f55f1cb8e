// In-browser benchmark of the dashboard (make bench-browser): 100,000 events
// stored and loaded on open, then 1,000 events/s arriving live for 20 s.
// Reports load time, frame times, main-thread work, delivery latency and
// memory; then a session of 5,000 conversation entries opened five times.
// Usage: node test/browser/bench.mjs [--stored N] [--rate R] [--seconds S] [--entries N]
import os from 'node:os';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startMpmd, launchBrowser, openDashboard, producer, sendMany, tid, sleep, MPMD } from './harness.mjs';
import { hookEvent, installFrameMonitor, frameStats, largeSession, openSessionTimed } from './workload.mjs';

const { values: opt } = parseArgs({
  options: {
    stored: { type: 'string', default: '100000' },
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '20' },
    entries: { type: 'string', default: '5000' },
    out: { type: 'string', default: process.env.BENCH_OUT || '' },
  },
});
const STORED = Number(opt.stored), RATE = Number(opt.rate), SECONDS = Number(opt.seconds);
const MB = (b) => (b / 1048576).toFixed(1);
const ms = (x) => x.toFixed(1);

const mpmd = await startMpmd();
let browser;
try {
  // 1. Fill the store (not measured: that is mpmd's benchmark).
  const prod = await producer(mpmd, '/hook');
  const fill = await sendMany(prod, STORED, (i) => hookEvent(i, 50));
  const health = await (await fetch(`${mpmd.url}/health`)).json();
  console.error(`stored ${health.stored_events} events (${STORED} sent in ${fill.ms} ms)`);

  // 2. Open the page with all of them: history load time and memory.
  browser = await launchBrowser();
  const t0 = Date.now();
  const page = await openDashboard(browser, mpmd, `?history=${health.stored_events}&buffer=${STORED}#/events`);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  const metrics = async () => Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
  await page.waitForFunction((n) => window.__mpm.bufferLength >= n && window.__mpm.pending === 0 && window.__mpm.connected, STORED, { timeout: 120000, polling: 100 });
  await page.waitForSelector(`${tid('event-list')} .vrow:not([hidden])`);
  const loadMs = Date.now() - t0;
  await cdp.send('HeapProfiler.collectGarbage');
  const afterLoad = await metrics();

  // 3. 1,000 events/s arriving for SECONDS with the buffer full (every new
  //    event evicts an old one), following the stream.
  await page.evaluate(installFrameMonitor);
  const m0 = await metrics();
  const p0 = await page.evaluate(() => ({ ...window.__mpm.perf }));
  const sentFrom = Date.now();
  const live = await sendMany(prod, RATE * SECONDS, (i) => {
    const [ev, data] = hookEvent(STORED + i, 50);
    return [ev, { ...data, bench_sent: Date.now() }];
  }, { rate: RATE, window: 512 });
  const lastSeq = (await (await fetch(`${mpmd.url}/api/events?limit=1&order=desc`)).json()).events[0].seq;
  await page.waitForFunction((s) => window.__mpm.maxSeq >= s && window.__mpm.pending === 0, lastSeq, { timeout: 60000 });
  await sleep(200);
  const frames = await page.evaluate(frameStats);
  const m1 = await metrics();
  const p1 = await page.evaluate(() => ({ ...window.__mpm.perf }));
  const lat = await page.evaluate((from) => window.__mpm.latencies(from), sentFrom);
  const state = await page.evaluate(() => ({ buffer: window.__mpm.bufferLength, evicted: window.__mpm.evicted, dom: document.getElementsByTagName('*').length }));
  await cdp.send('HeapProfiler.collectGarbage');
  const afterLive = await metrics();
  const wall = (Date.now() - sentFrom) / 1000;

  // 4. Responsiveness with the buffer full: a search over 100,000 events.
  const s0 = Date.now();
  await page.fill(tid('search'), 'needle42');
  await page.waitForFunction(() => window.__mpm.viewLength > 0 && window.__mpm.viewLength < window.__mpm.bufferLength, null, { polling: 'raf' });
  const searchMs = Date.now() - s0;

  // 5. A session of ENTRIES conversation entries: opened five times from the list.
  await page.fill(tid('search'), '');
  const sid = 'bench-large-session';
  await largeSession(mpmd, sid, Number(opt.entries));
  const opens = [];
  for (let i = 0; i < 5; i++) opens.push(await openSessionTimed(page, mpmd, sid));
  const med = (k) => opens.map((o) => o[k]).sort((a, b) => a - b)[2];

  const d = (k) => m1[k] - m0[k];
  const cpu = execFileSync('sh', ['-c', "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"]).toString().trim();
  const chromium = execFileSync('/usr/bin/chromium', ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().replace(/\s+$/, '').split('\n').pop();
  const r = {
    machine: `${cpu}, ${os.cpus().length} cores, ${MB(os.totalmem() / 1024)} GiB` .replace(' GiB', ` GiB (load average at start ${os.loadavg()[0].toFixed(1)})`),
    chromium, node: process.version, mpmd: MPMD,
    stored: health.stored_events, loadMs,
    heapAfterLoadMB: MB(afterLoad.JSHeapUsedSize), domNodes: afterLoad.Nodes,
    liveEvents: RATE * SECONDS, rate: RATE, seconds: SECONDS, sentMs: live.ms, wallS: wall,
    framesPerS: frames.frames / wall, frameP50: frames.p50, frameP95: frames.p95, frameP99: frames.p99, frameMax: frames.max,
    over50: frames.over50, longTasks: frames.longTasks, longTaskMax: frames.longTaskMax,
    mainThreadBusy: d('TaskDuration') / wall, scriptS: d('ScriptDuration'), layoutS: d('LayoutDuration'), styleS: d('RecalcStyleDuration'),
    layouts: d('LayoutCount'),
    ingestUsPerEvent: ((p1.ingestMs - p0.ingestMs) * 1000) / (p1.events - p0.events),
    latencyP50: lat.p50, latencyP95: lat.p95, latencyP99: lat.p99, latencyMax: lat.max, latencyN: lat.n,
    heapAfterLiveMB: MB(afterLive.JSHeapUsedSize), buffer: state.buffer, evicted: state.evicted, domAfter: state.dom,
    searchMs, opens, entries: Number(opt.entries),
  };
  const lines = [
    `| machine | ${r.machine} |`,
    `| browser | ${r.chromium}, headless, --disable-gpu (software rendering) |`,
    `| history load: ${r.stored.toLocaleString('en-US')} events from /api/events into the page, first rows drawn | ${r.loadMs} ms |`,
    `| JS heap after load (after GC) | ${r.heapAfterLoadMB} MB (${r.domNodes} DOM nodes) |`,
    `| live: ${r.rate}/s for ${r.seconds} s (${r.liveEvents.toLocaleString('en-US')} hook events + derived), buffer full | sent in ${r.sentMs} ms |`,
    `| frames per second | ${r.framesPerS.toFixed(1)} |`,
    `| frame time p50 / p95 / p99 / max | ${ms(r.frameP50)} / ${ms(r.frameP95)} / ${ms(r.frameP99)} / ${ms(r.frameMax)} ms |`,
    `| frames over 50 ms; long tasks (max) | ${r.over50}; ${r.longTasks} (${ms(r.longTaskMax)} ms) |`,
    `| renderer main thread busy | ${(r.mainThreadBusy * 100).toFixed(0)} % (script ${r.scriptS.toFixed(2)} s, layout ${r.layoutS.toFixed(2)} s, style ${r.styleS.toFixed(2)} s, ${r.layouts} layouts) |`,
    `| ingest (dedupe, buffer, metrics, views, filter) per event | ${r.ingestUsPerEvent.toFixed(1)} µs |`,
    `| producer → page latency p50 / p95 / p99 / max (${r.latencyN} events) | ${ms(r.latencyP50)} / ${ms(r.latencyP95)} / ${ms(r.latencyP99)} / ${ms(r.latencyMax)} ms |`,
    `| JS heap after the live phase (after GC) | ${r.heapAfterLiveMB} MB; ${r.buffer.toLocaleString('en-US')} events in page, ${r.evicted.toLocaleString('en-US')} evicted; ${r.domAfter} DOM elements |`,
    `| search "needle42" over the full buffer | ${r.searchMs} ms |`,
    `| a session of ${r.entries.toLocaleString('en-US')} entries opened from the list (median of 5): first entries drawn / all read / all laid out and drawn | ${med('first_drawn_ms')} / ${med('all_entries_ms')} / ${med('all_drawn_ms')} ms (runs: ${opens.map((o) => o.all_drawn_ms).join(', ')}) |`,
  ];
  console.log('| measure | result |\n|---|---|\n' + lines.join('\n'));
  if (opt.out) writeFileSync(opt.out, JSON.stringify(r, null, 2));
  if (page.errors.length) { console.error('page errors:', page.errors); process.exitCode = 1; }
  prod.close();
} finally {
  await browser?.close();
  await mpmd.stop();
  mpmd.home.cleanup();
}
