// Test harness for the dashboard: starts the real bin/mpmd on a free loopback
// port with every XDG directory in a temp dir, drives Debian's Chromium through
// playwright-core, and produces events through POST /emit, a Socket.IO
// producer, or bin/mpm-hook. Everything it starts it stops by pid.

import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync, existsSync, openSync, closeSync, readFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// Third-party code comes from web/'s lock file: one npm tree for build and tests.
const webRequire = createRequire(path.join(ROOT, 'web/package.json'));
export const { chromium } = webRequire('playwright-core');
export const { io } = webRequire('socket.io-client');

export const MPMD = process.env.MPMD_BIN || path.join(ROOT, 'bin/mpmd');
export const MPM_HOOK = process.env.MPM_HOOK_BIN || path.join(ROOT, 'bin/mpm-hook');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--headless', '--no-first-run', '--disable-quic'];

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** A temp dir standing in for HOME and every XDG directory. */
export function tempHome() {
  const dir = mkdtempSync(path.join(tmpdir(), 'mpm-browser-'));
  const env = {
    HOME: dir,
    XDG_CONFIG_HOME: path.join(dir, 'config'),
    XDG_STATE_HOME: path.join(dir, 'state'),
    XDG_DATA_HOME: path.join(dir, 'data'),
    XDG_CACHE_HOME: path.join(dir, 'cache'),
    XDG_RUNTIME_DIR: path.join(dir, 'run'),
  };
  for (const k of Object.keys(env)) if (k !== 'HOME') mkdirSync(env[k], { recursive: true, mode: 0o700 });
  return { dir, env, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Polls fn until it returns a truthy value or the deadline passes. */
export async function waitFor(fn, { timeout = 5000, interval = 25, what = 'condition' } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) { last = err; }
    if (Date.now() > end) throw new Error(`timed out after ${timeout} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await sleep(interval);
  }
}

/**
 * Starts bin/mpmd. opts: {home, port, db, token, args}. Returns an object with
 * url, port, pid, stop() (SIGTERM, then SIGKILL after 5 s) and the log path.
 */
export async function startMpmd(opts = {}) {
  if (!existsSync(MPMD)) throw new Error(`${MPMD} is missing: run make build`);
  const home = opts.home || tempHome();
  const port = opts.port || await freePort();
  const db = opts.db || ':memory:';
  const args = ['run', '--port', String(port), '--host', '127.0.0.1', '--db', db, ...(opts.args || [])];
  if (opts.token) args.push('--token', opts.token);
  const logPath = path.join(home.dir, `mpmd-${port}-${Date.now()}.log`);
  const fd = openSync(logPath, 'a');
  const env = { ...process.env, ...home.env, SOCKETIO_PORT: String(port) };
  delete env.CLAUDE_MPM_SOCKETIO_TOKEN;
  const child = spawn(MPMD, args, { env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  let exited = null;
  child.on('exit', (code, sig) => { exited = { code, sig }; });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(async () => {
      if (exited) throw new Error(`mpmd exited (${JSON.stringify(exited)}): ${readFileSync(logPath, 'utf8').slice(-2000)}`);
      const r = await fetch(`${url}/health`);
      return r.ok && (await r.json()).server === 'claude-mpm-socketio';
    }, { timeout: opts.readyTimeout || 15000, interval: 50, what: `mpmd /health on ${url}` });
  } catch (err) {
    if (!exited) child.kill('SIGKILL');
    throw err;
  }
  return {
    url, port, pid: child.pid, home, logPath, token: opts.token || '', db,
    get exited() { return exited; },
    log: () => readFileSync(logPath, 'utf8'),
    async stop() {
      if (exited) return exited;
      const done = new Promise((r) => child.once('exit', (code, sig) => r({ code, sig })));
      process.kill(child.pid, 'SIGTERM');
      const t = setTimeout(() => { if (!exited) process.kill(child.pid, 'SIGKILL'); }, 5000);
      const res = await done;
      clearTimeout(t);
      return res;
    },
  };
}

export async function launchBrowser() {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run make deps-chromium`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

/**
 * Opens the dashboard in a new page and records console errors and page
 * errors in page.errors. query: extra URL query string and fragment
 * ('#/events', '?history=0#/sessions/ID'); init: a function run in the page
 * before its own scripts (stubs).
 */
export async function openDashboard(browser, mpmd, query = '', { viewport = { width: 1400, height: 900 }, colorScheme = 'light', acceptDownloads = true, init } = {}) {
  const context = await browser.newContext({ viewport, colorScheme, acceptDownloads });
  if (init) await context.addInitScript(init);
  const page = await context.newPage();
  page.errors = [];
  page.requests = [];
  page.on('request', (r) => page.requests.push(r.url()));
  page.on('console', (m) => { if (m.type() === 'error') page.errors.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => page.errors.push(`pageerror: ${e.message}`));
  await page.goto(`${mpmd.url}/${query}`);
  return page;
}

export const tid = (id) => `[data-testid="${id}"]`;

/** POST /emit; returns {seq, event_id}. */
export async function emit(mpmd, namespace, event, data) {
  const headers = { 'Content-Type': 'application/json' };
  if (mpmd.token) headers.Authorization = `Bearer ${mpmd.token}`;
  const r = await fetch(`${mpmd.url}/emit`, { method: 'POST', headers, body: JSON.stringify({ namespace, event, data }) });
  const body = await r.json();
  if (!r.ok) throw new Error(`POST /emit ${namespace} ${event}: ${r.status} ${JSON.stringify(body)}`);
  return body;
}

/** GET /api/events with the given query parameters. */
export async function history(mpmd, query = {}) {
  const headers = mpmd.token ? { Authorization: `Bearer ${mpmd.token}` } : {};
  const r = await fetch(`${mpmd.url}/api/events?${new URLSearchParams(query)}`, { headers });
  if (!r.ok) throw new Error(`GET /api/events: ${r.status} ${await r.text()}`);
  return (await r.json()).events;
}

/** Every stored event as {seq, ns}, by paging /api/events. */
export async function allStored(mpmd) {
  const out = [];
  let since = 0;
  for (;;) {
    const evs = await history(mpmd, { since_seq: since, limit: 10000 });
    for (const e of evs) out.push({ seq: e.seq, ns: e.namespace });
    if (evs.length < 10000) return out;
    since = evs[evs.length - 1].seq;
  }
}

/** Every stored seq, by paging /api/events. */
export async function allSeqs(mpmd) {
  return (await allStored(mpmd)).map((e) => e.seq);
}

/**
 * Waits until the page holds, on every namespace but /system, the newest of
 * stored (allStored) in that namespace, with nothing left to ingest. The
 * highest seq alone says too little: after a reconnect every namespace
 * replays on its own, and one may still be catching up on thousands of
 * events while another has already passed the last seq.
 */
export async function waitCaughtUp(page, stored, timeout) {
  const last = {};
  for (const e of stored) if (e.ns !== '/system') last[e.ns] = Math.max(last[e.ns] ?? 0, e.seq);
  await page.waitForFunction((want) => window.__mpm.pending === 0 &&
    Object.entries(want).every(([ns, seq]) => (window.__mpm.nsSeq[ns] ?? 0) >= seq), last, { timeout });
}

/**
 * A Socket.IO producer on one namespace: send(event, data) resolves with the
 * ack once mpmd stored it.
 */
export async function producer(mpmd, ns = '/hook') {
  const s = io(`${mpmd.url}${ns}`, { auth: { producer: true, token: mpmd.token || undefined }, transports: ['websocket'], forceNew: true, reconnection: false });
  await new Promise((resolve, reject) => {
    s.once('connect', resolve);
    s.once('connect_error', reject);
  });
  return {
    socket: s,
    send(event, data) {
      return new Promise((resolve, reject) => {
        // Generous: on a loaded two-core machine a store commit can take seconds.
        s.timeout(30000).emit(event, data, (err, ack) => {
          if (err) err = new Error(`no ack for ${event} within 30 s (${err.message})`);
          if (err) reject(err);
          else if (ack && ack.error) reject(new Error(ack.error));
          else resolve(ack);
        });
      });
    },
    close() { s.disconnect(); },
  };
}

/**
 * Sends n events through prod with at most `window` unacknowledged, at most
 * `rate` per second when rate is set; make(i) builds [event, data].
 */
export async function sendMany(prod, n, make, { window = 256, rate = 0 } = {}) {
  const t0 = Date.now();
  let next = 0, inFlight = 0, done = 0, failed = null;
  await new Promise((resolve, reject) => {
    const pump = () => {
      if (failed) return;
      while (inFlight < window && next < n) {
        if (rate) {
          const due = t0 + (next * 1000) / rate;
          const wait = due - Date.now();
          if (wait > 0) { setTimeout(pump, Math.min(wait, 50)); return; }
        }
        const [ev, data] = make(next++);
        inFlight++;
        prod.send(ev, data).then(() => {
          inFlight--; done++;
          if (done === n) resolve(); else pump();
        }, (err) => { failed = err; reject(err); });
      }
    };
    pump();
  });
  return { ms: Date.now() - t0 };
}

/** Runs fn; if it throws, prints the end of mpmd's log first (for the CI log). */
export async function withMpmdLog(getMpmd, fn) {
  try {
    return await fn();
  } catch (err) {
    const m = getMpmd();
    try { if (m) console.error(`--- end of mpmd's log (${m.logPath}):\n${m.log().slice(-4000)}`); } catch { /* gone */ }
    throw err;
  }
}

/** Runs bin/mpm-hook with one hook JSON object on stdin. */
export function runHook(mpmd, input, extraEnv = {}) {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, ...mpmd.home.env, SOCKETIO_PORT: String(mpmd.port), ...extraEnv };
    if (mpmd.token) env.CLAUDE_MPM_SOCKETIO_TOKEN = mpmd.token; else delete env.CLAUDE_MPM_SOCKETIO_TOKEN;
    const child = spawn(MPM_HOOK, [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout: out, stderr: err }));
    child.stdin.end(typeof input === 'string' ? input : JSON.stringify(input));
  });
}

/** Plain-object hook input as Claude Code sends it. */
export function hookInput(name, sessionId, fields = {}) {
  return { session_id: sessionId, transcript_path: `/tmp/${sessionId}.jsonl`, cwd: '/work/project', hook_event_name: name, permission_mode: 'default', ...fields };
}
