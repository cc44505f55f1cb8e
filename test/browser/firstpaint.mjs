// The dashboard's first paint on a large store (issue 13 item 5, part of
// `make bench-growth`): the real bin/mpmd on a database made by
// `mpm-bench growth` (1 M stored events by default), Debian's Chromium
// headless, the page opened RUNS times in a fresh context each time.
// Reports, per open: first contentful paint (the browser's paint timing),
// the first session row drawn (the sessions view, the page's default),
// the newest events drawn on the event log, and what the page fetched.
// Usage: node test/browser/firstpaint.mjs --db PATH [--runs N] [--out FILE]
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startMpmd, launchBrowser, tid } from './harness.mjs';

const { values: opt } = parseArgs({
  options: {
    db: { type: 'string' },
    runs: { type: 'string', default: '5' },
    out: { type: 'string', default: '' },
  },
});
if (!opt.db) {
  console.error('usage: node test/browser/firstpaint.mjs --db PATH [--runs N] [--out FILE]');
  process.exit(2);
}
const RUNS = Number(opt.runs);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

// The first start of a new mpmd build on a large store replays every
// event (minutes at 10 M); the snapshot it saves makes the next quick.
const mpmd = await startMpmd({ db: opt.db, args: ['--retention-age', '0', '--retention-count', '0', '--no-transcripts'], readyTimeout: 20 * 60_000 });
let browser;
const runs = [];
try {
  const health = await (await fetch(`${mpmd.url}/health`)).json();
  browser = await launchBrowser();
  for (let i = 0; i < RUNS; i++) {
    for (const [view, hash, marker] of [['sessions', '', `${tid('session-row')}`], ['events', '#/events', `${tid('event-list')} .vrow:not([hidden])`]]) {
      const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
      const page = await context.newPage();
      const fetched = [];
      page.on('response', async (r) => {
        if (!r.url().includes('/api/')) return;
        const len = Number(r.headers()['content-length'] || 0) || (await r.body().catch(() => Buffer.alloc(0))).length;
        fetched.push({ url: r.url().replace(mpmd.url, ''), bytes: len });
      });
      const t0 = Date.now();
      await page.goto(`${mpmd.url}/${hash}`);
      await page.waitForSelector(marker, { timeout: 60_000 });
      const shown = Date.now() - t0;
      const paint = await page.evaluate(() => {
        const nav = performance.getEntriesByType('navigation')[0];
        const fcp = performance.getEntriesByName('first-contentful-paint')[0];
        return { fcp: fcp ? fcp.startTime : null, domContentLoaded: nav ? nav.domContentLoadedEventEnd : null };
      });
      // the marker's time in the page's own clock (navigation start = 0)
      const markerAt = await page.evaluate(() => performance.now());
      runs.push({ view, run: i, fcp_ms: paint.fcp, dom_content_loaded_ms: paint.domContentLoaded, content_ms: shown, content_page_ms: markerAt, fetched });
      console.error(`${view} #${i}: FCP ${paint.fcp?.toFixed(0)} ms, first ${view === 'sessions' ? 'session row' : 'events'} drawn ${shown} ms; ${fetched.length} API requests, ${(fetched.reduce((a, f) => a + f.bytes, 0) / 1024).toFixed(0)} KiB`);
      await context.close();
    }
  }
  const report = { stored: health.stored_events, runs };
  for (const view of ['sessions', 'events']) {
    const rs = runs.filter((r) => r.view === view);
    report[view] = { fcp_ms_median: median(rs.map((r) => r.fcp_ms)), content_ms_median: median(rs.map((r) => r.content_ms)), content_ms_max: Math.max(...rs.map((r) => r.content_ms)) };
  }
  console.log(JSON.stringify({ stored: report.stored, sessions: report.sessions, events: report.events, requests: runs[0].fetched.concat(runs[1].fetched) }, null, 1));
  if (opt.out) writeFileSync(opt.out, JSON.stringify(report, null, 1));
} finally {
  if (browser) await browser.close();
  await mpmd.stop();
}
