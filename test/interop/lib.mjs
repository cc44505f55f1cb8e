// Helpers for the Node interop suite: the daemon's address from the
// environment, Socket.IO connections that record what they receive, waits
// with deadlines, and POST /emit.
import { io } from "socket.io-client";
import { randomUUID } from "node:crypto";
import assert from "node:assert/strict";

export const URL_BASE = (process.env.MPM_URL || "").replace(/\/+$/, "");
export const TOKEN = process.env.MPM_TOKEN || "";
if (!URL_BASE) {
  throw new Error("MPM_URL is not set: run this suite through `go test ./test/interop/` or set MPM_URL to a running mpmd (and MPM_TOKEN if it has one)");
}
export const PORT = Number(new URL(URL_BASE).port);

export const NAMESPACES = ["/system", "/session", "/claude", "/agent", "/hook", "/todo", "/memory", "/log"];
export const TRANSPORTS = ["websocket", "polling"];

// How long any single wait may take before the test fails.
export const DEADLINE_MS = Number(process.env.MPM_INTEROP_DEADLINE_MS || 5000);

export function marker(prefix = "m") {
  return `${prefix}-${randomUUID()}`;
}

// Recorder keeps every event a socket receives, in arrival order, and lets a
// test wait until one matching a predicate has arrived.
export class Recorder {
  constructor(name) {
    this.name = name;
    this.events = []; // {event, data, args}
    this.waiters = [];
  }

  push(event, args) {
    const rec = { event, data: args[0], args };
    this.events.push(rec);
    this.waiters = this.waiters.filter((w) => {
      if (w.pred(rec)) {
        clearTimeout(w.timer);
        w.resolve(rec);
        return false;
      }
      return true;
    });
  }

  // waitFor resolves with the first recorded event (past or future) that
  // matches pred, or rejects after ms with what was received so far.
  waitFor(pred, what, ms = DEADLINE_MS) {
    const found = this.events.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve };
      w.timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        const seen = this.events.map((e) => `${e.event}${e.data && e.data.seq !== undefined ? "#" + e.data.seq : ""}`);
        reject(new Error(`${this.name}: no ${what} within ${ms} ms; received [${seen.join(", ")}]`));
      }, ms);
      this.waiters.push(w);
    });
  }

  withMarker(m) {
    return this.events.filter((e) => e.data && typeof e.data === "object" && e.data.marker === m);
  }
}

// Sockets opened by a test; closeAll() disconnects them (call it in afterEach).
const open = new Set();

export function closeAll() {
  for (const s of open) s.disconnect();
  open.clear();
}

// socketFor creates a socket (no multiplexing, no reconnection) on ns with a
// recorder attached before the handshake, so nothing sent on connect is
// missed. auth is merged over {token} when the daemon has one; pass
// token: null to leave the token out.
export function socketFor(ns, { transport = "websocket", auth = {}, query, token = TOKEN } = {}) {
  const a = { ...auth };
  if (token) a.token = token;
  const opts = { forceNew: true, reconnection: false, transports: [transport], auth: a, timeout: DEADLINE_MS };
  if (query) opts.query = query;
  const socket = io(URL_BASE + ns, opts);
  open.add(socket);
  const rec = new Recorder(`${ns} (${transport})`);
  socket.onAny((event, ...args) => rec.push(event, args));
  return { socket, rec };
}

// connected resolves once socket is connected, rejects with the server's
// connect_error message.
export function connected(socket, ms = DEADLINE_MS) {
  if (socket.connected) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no connect within ${ms} ms`)), ms);
    socket.once("connect", () => { clearTimeout(timer); resolve(); });
    socket.once("connect_error", (err) => { clearTimeout(timer); reject(err); });
  });
}

// connectError resolves with the connect_error a refused socket gets, and
// fails if it connects instead.
export function connectError(socket, ms = DEADLINE_MS) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`neither connect nor connect_error within ${ms} ms`)), ms);
    socket.once("connect", () => { clearTimeout(timer); reject(new Error("connected, but the handshake should have been refused")); });
    socket.once("connect_error", (err) => { clearTimeout(timer); resolve(err); });
  });
}

export async function connect(ns, opts) {
  const s = socketFor(ns, opts);
  await connected(s.socket);
  return s;
}

export function authHeaders(token = TOKEN) {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

// emit POSTs one event to /emit and returns {seq, event_id}.
export async function emit(ns, event, data) {
  const res = await fetch(`${URL_BASE}/emit`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...authHeaders() },
    body: JSON.stringify({ namespace: ns, event, data }),
    signal: AbortSignal.timeout(DEADLINE_MS),
  });
  const text = await res.text();
  assert.equal(res.status, 200, `POST /emit ${ns} ${event}: status ${res.status}, body ${text}`);
  const body = JSON.parse(text);
  assert.ok(Number.isInteger(body.seq), `POST /emit answered no integer seq: ${text}`);
  assert.equal(typeof body.event_id, "string", `POST /emit answered no event_id: ${text}`);
  return body;
}

const RFC3339_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)$/;

// assertEnvelope checks the fields every delivered event carries.
export function assertEnvelope(data, where) {
  assert.equal(typeof data, "object", `${where}: payload is not an object: ${JSON.stringify(data)}`);
  assert.equal(typeof data.event_id, "string", `${where}: no string event_id in ${JSON.stringify(data)}`);
  assert.ok(data.event_id.length > 0, `${where}: empty event_id`);
  assert.ok(Number.isInteger(data.seq) && data.seq > 0, `${where}: no positive integer seq in ${JSON.stringify(data)}`);
  assert.match(String(data.timestamp), RFC3339_UTC, `${where}: timestamp is not RFC 3339 UTC in ${JSON.stringify(data)}`);
  assert.ok(!Number.isNaN(Date.parse(data.timestamp)), `${where}: timestamp does not parse: ${data.timestamp}`);
}

// currentSeq returns a seq no smaller than any stored so far, by emitting a
// throw-away event to ns.
export async function currentSeq(ns = "/log") {
  const { seq } = await emit(ns, "interop_mark", { marker: marker("mark") });
  return seq;
}
