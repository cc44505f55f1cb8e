// Interop suite: mpmd against the official Node socket.io-client (4.8.x).
// Run by interop_test.go with MPM_URL (and MPM_TOKEN when the daemon has a
// token): `MPM_URL=http://127.0.0.1:PORT node --test node_client.test.mjs`.
import { describe, test, afterEach } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import {
  URL_BASE, TOKEN, PORT, NAMESPACES, TRANSPORTS, DEADLINE_MS,
  marker, socketFor, connect, connected, connectError, closeAll, emit,
  authHeaders, assertEnvelope, currentSeq,
} from "./lib.mjs";

const require = createRequire(import.meta.url);
const mode = TOKEN ? "with token" : "without token";

afterEach(() => closeAll());

describe(`every namespace (${mode})`, () => {
  for (const transport of TRANSPORTS) {
    test(`all eight namespaces connect over ${transport}; POST /emit reaches exactly its namespace`, async () => {
      const socks = {};
      for (const ns of NAMESPACES) socks[ns] = socketFor(ns, { transport });
      await Promise.all(NAMESPACES.map((ns) => connected(socks[ns].socket)));
      for (const ns of NAMESPACES) {
        assert.equal(socks[ns].socket.io.engine.transport.name, transport, `${ns} runs on ${transport}`);
      }

      const m = marker("probe");
      const probes = {};
      for (const ns of NAMESPACES) {
        // Both spellings of the namespace are accepted by /emit.
        const name = ns.slice(1).length % 2 ? ns : ns.slice(1);
        probes[ns] = await emit(name, "interop_probe", { marker: m, target: ns, n: 1 });
      }
      // A fence after every probe, to every namespace: once a socket has its
      // fence, any probe meant for it has arrived, and none other may have.
      const fences = {};
      for (const ns of NAMESPACES) fences[ns] = await emit(ns, "interop_fence", { marker: m });
      await Promise.all(NAMESPACES.map((ns) =>
        socks[ns].rec.waitFor((e) => e.event === "interop_fence" && e.data?.marker === m, `interop_fence on ${ns}`)));

      for (const ns of NAMESPACES) {
        const got = socks[ns].rec.withMarker(m).filter((e) => e.event === "interop_probe");
        assert.deepEqual(got.map((e) => e.data.target), [ns], `${ns} over ${transport} received probes for ${JSON.stringify(got.map((e) => e.data.target))}, want only its own`);
        const d = got[0].data;
        assertEnvelope(d, `${ns} interop_probe`);
        assert.equal(d.seq, probes[ns].seq, `${ns}: delivered seq equals the seq /emit answered`);
        assert.equal(d.event_id, probes[ns].event_id, `${ns}: delivered event_id equals the one /emit answered`);
        assert.equal(d.n, 1, `${ns}: data fields arrive intact`);
        const fence = socks[ns].rec.withMarker(m).find((e) => e.event === "interop_fence").data;
        assert.equal(fence.seq, fences[ns].seq);
        assert.ok(fence.seq > d.seq, `${ns}: fence seq ${fence.seq} after probe seq ${d.seq}`);
      }
      // Seqs are strictly increasing across the whole daemon.
      const seqs = NAMESPACES.map((ns) => probes[ns].seq).concat(NAMESPACES.map((ns) => fences[ns].seq));
      for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i] > seqs[i - 1], `seq ${seqs[i]} follows ${seqs[i - 1]}`);
    });

    test(`/system sends status on connect and answers get_status over ${transport}`, async () => {
      const { socket, rec } = socketFor("/system", { transport });
      await connected(socket);
      const first = await rec.waitFor((e) => e.event === "status", "status on connect");
      assertStatus(first.data, "status on connect");
      assertEnvelope(first.data, "status on connect");

      const before = rec.events.length;
      const acked = await socket.timeout(DEADLINE_MS).emitWithAck("get_status");
      // The answer comes as a status event to this client...
      const answer = await rec.waitFor((e) => e.event === "status" && rec.events.indexOf(e) >= before, "status answering get_status");
      assertStatus(answer.data, "status answering get_status");
      assertEnvelope(answer.data, "status answering get_status");
      // ...and the same object through the ack (docs/PROTOCOL.md, Inbound requests).
      assertStatus(acked, "get_status ack");
      assert.deepEqual(acked, answer.data, "the get_status ack is the same object as the status event it sent");

      // Without an ack callback the status event alone answers.
      const n = rec.events.filter((e) => e.event === "status").length;
      socket.emit("get_status");
      await rec.waitFor(() => rec.events.filter((e) => e.event === "status").length > n, "status answering get_status without ack");
    });
  }

  test("/system get_history answers through the ack with stored events by filter, oldest first", async () => {
    const m = marker("hist");
    const sent = [];
    for (let i = 0; i < 3; i++) sent.push(await emit("/memory", "interop_hist", { marker: m, i, session_id: m }));
    const { socket } = await connect("/system");
    const ack = await socket.timeout(DEADLINE_MS).emitWithAck("get_history", { namespace: "/memory", session_id: m, since_seq: sent[0].seq - 1 });
    assert.ok(Array.isArray(ack.events), `get_history ack has events: ${JSON.stringify(ack)}`);
    assert.deepEqual(ack.events.map((e) => e.seq), sent.map((x) => x.seq), "the three events, oldest first");
    const e = ack.events[0];
    assert.equal(e.event_id, sent[0].event_id);
    assert.equal(e.namespace, "/memory");
    assert.equal(e.event, "interop_hist");
    assert.equal(e.session_id, m);
    assert.match(String(e.timestamp), /^\d{4}-\d\d-\d\dT/);
    assert.equal(e.data.marker, m);
    assert.equal(e.data.i, 0);
    const one = await socket.timeout(DEADLINE_MS).emitWithAck("get_history", { namespace: "memory", session_id: m, limit: 1 });
    assert.equal(one.events.length, 1, `limit 1: ${JSON.stringify(one)}`);
  });

  test("/system sends heartbeat events periodically", async () => {
    const { rec } = await connect("/system");
    const hb = await rec.waitFor((e) => e.event === "heartbeat", "heartbeat (the daemon runs with --heartbeat=1s)", Math.max(DEADLINE_MS, 3000));
    assertEnvelope(hb.data, "heartbeat");
  });

  test("a producer's timestamp is delivered as RFC 3339 UTC (offset normalised, unparsable replaced)", async () => {
    const { rec } = await connect("/log");
    const m = marker("ts");
    const cases = [
      { given: "2025-01-31T14:30:52.123Z", instant: Date.parse("2025-01-31T14:30:52.123Z") },
      { given: "2025-01-31T16:30:52.123+02:00", instant: Date.parse("2025-01-31T14:30:52.123Z") },
      { given: "yesterday" },
    ];
    for (const c of cases) c.sent = await emit("/log", "interop_ts", { marker: m, timestamp: c.given });
    for (const c of cases) {
      const got = await rec.waitFor((e) => e.data?.seq === c.sent.seq, `interop_ts with timestamp ${c.given}`);
      assertEnvelope(got.data, `timestamp given as ${JSON.stringify(c.given)}`);
      if (c.instant !== undefined) assert.equal(Date.parse(got.data.timestamp), c.instant, `${c.given} keeps its instant: ${got.data.timestamp}`);
    }
  });

  test("an unknown namespace is refused with connect_error 'Invalid namespace'", async () => {
    const { socket } = socketFor("/nope");
    const err = await connectError(socket);
    assert.match(err.message, /invalid namespace/i);
  });

  test("the root namespace accepts connections", async () => {
    const { socket } = socketFor("/");
    await connected(socket);
    assert.ok(socket.connected);
  });
});

function assertStatus(d, where) {
  assert.equal(typeof d, "object", `${where}: ${JSON.stringify(d)}`);
  assert.ok(d !== null && !Array.isArray(d), `${where}: ${JSON.stringify(d)}`);
  assert.equal(typeof d.server_info, "object", `${where}: status has a server_info object (guide API Reference): ${JSON.stringify(d)}`);
  assert.equal(Number(d.server_info.port), PORT, `${where}: server_info.port is the daemon's port: ${JSON.stringify(d)}`);
  assert.ok("claude_status" in d, `${where}: status has claude_status (guide API Reference): ${JSON.stringify(d)}`);
  assert.match(String(d.timestamp), /^\d{4}-\d\d-\d\dT/, `${where}: status has a timestamp: ${JSON.stringify(d)}`);
}

if (TOKEN) {
  describe("token authentication", () => {
    for (const transport of TRANSPORTS) {
      test(`every namespace over ${transport}: missing token and wrong token refused with a reason, right token accepted`, async () => {
        for (const ns of NAMESPACES) {
          const missing = await connectError(socketFor(ns, { transport, token: null }).socket);
          assert.match(missing.message, /authentication required/i, `${ns} without token: ${missing.message}`);
          const wrong = await connectError(socketFor(ns, { transport, token: TOKEN + "x" }).socket);
          assert.match(wrong.message, /invalid authentication token/i, `${ns} wrong token: ${wrong.message}`);
          const ok = socketFor(ns, { transport });
          await connected(ok.socket);
          assert.ok(ok.socket.connected, `${ns} with the right token`);
          closeAll();
        }
      });
    }

    test("the token in the query string is accepted too", async () => {
      const { socket } = socketFor("/hook", { token: null, query: { token: TOKEN } });
      await connected(socket);
      assert.ok(socket.connected);
    });

    test("POST /emit without or with a wrong bearer token is refused with 401, nothing delivered", async () => {
      const { rec } = await connect("/memory");
      const m = marker("unauth");
      for (const headers of [{}, { Authorization: `Bearer ${TOKEN}x` }]) {
        const res = await fetch(`${URL_BASE}/emit`, {
          method: "POST",
          headers: { "Content-Type": "application/json", ...headers },
          body: JSON.stringify({ namespace: "memory", event: "interop_unauth", data: { marker: m } }),
        });
        assert.equal(res.status, 401);
        const body = await res.json();
        assert.equal(typeof body.error, "string");
      }
      await emit("/memory", "interop_fence", { marker: m });
      await rec.waitFor((e) => e.event === "interop_fence" && e.data?.marker === m, "fence");
      assert.deepEqual(rec.withMarker(m).map((e) => e.event), ["interop_fence"]);
    });
  });
}

describe(`producing with acknowledgement (${mode})`, () => {
  for (const transport of TRANSPORTS) {
    test(`a producer's emit on /hook is acked {seq, event_id, duplicate} after storage, and a retry is delivered once (${transport})`, async () => {
      const consumer = await connect("/hook", { transport });
      const producer = await connect("/hook", { transport, auth: { producer: true } });
      const m = marker("ack");
      const id = marker("evt");
      const data = { marker: m, event_id: id, tool_name: "Edit", session_id: "interop-ack" };

      const ack1 = await producer.socket.timeout(DEADLINE_MS).emitWithAck("interop_tool", data);
      assert.ok(Number.isInteger(ack1.seq) && ack1.seq > 0, `ack has a seq: ${JSON.stringify(ack1)}`);
      assert.equal(ack1.event_id, id, `ack echoes the producer's event_id: ${JSON.stringify(ack1)}`);
      assert.equal(ack1.duplicate, false, `first emit is no duplicate: ${JSON.stringify(ack1)}`);

      // Stored by the time of the ack.
      const res = await fetch(`${URL_BASE}/api/events?since_seq=${ack1.seq - 1}&limit=50`, { headers: authHeaders() });
      assert.equal(res.status, 200);
      const stored = (await res.json()).events.filter((e) => e.event_id === id);
      assert.equal(stored.length, 1, "the acked event is in /api/events");
      assert.equal(stored[0].seq, ack1.seq);

      const ack2 = await producer.socket.timeout(DEADLINE_MS).emitWithAck("interop_tool", data);
      assert.equal(ack2.duplicate, true, `a retried event_id is acked as duplicate: ${JSON.stringify(ack2)}`);
      assert.equal(ack2.event_id, id);
      assert.equal(ack2.seq, ack1.seq, "a duplicate is acked with the seq the event was stored under");

      const fence = await producer.socket.timeout(DEADLINE_MS).emitWithAck("interop_fence", { marker: m });
      assert.equal(fence.duplicate, false);
      await consumer.rec.waitFor((e) => e.event === "interop_fence" && e.data?.marker === m, "fence on /hook");
      const got = consumer.rec.withMarker(m).map((e) => e.event);
      assert.deepEqual(got, ["interop_tool", "interop_fence"], "the retried event is delivered once, before the fence");
      const d = consumer.rec.withMarker(m)[0].data;
      assertEnvelope(d, "/hook interop_tool");
      assert.equal(d.event_id, id);
      assert.equal(d.seq, ack1.seq);
      assert.equal(d.tool_name, "Edit");
      // A producer joins no room: it got none of the broadcasts the consumer got.
      assert.deepEqual(producer.rec.withMarker(m), [], "producer receives no broadcasts");
    });
  }

  test("a refused emit is acked with {error} and nothing is delivered", async () => {
    const consumer = await connect("/hook");
    const producer = await connect("/hook", { auth: { producer: true } });
    const m = marker("bad");
    const bad = await producer.socket.timeout(DEADLINE_MS).emitWithAck("interop_bad", "not an object");
    assert.equal(typeof bad.error, "string", `non-object data refused: ${JSON.stringify(bad)}`);
    const badName = await producer.socket.timeout(DEADLINE_MS).emitWithAck("bad name!", { marker: m });
    assert.equal(typeof badName.error, "string", `bad event name refused: ${JSON.stringify(badName)}`);
    await producer.socket.timeout(DEADLINE_MS).emitWithAck("interop_fence", { marker: m });
    await consumer.rec.waitFor((e) => e.event === "interop_fence" && e.data?.marker === m, "fence");
    assert.deepEqual(consumer.rec.withMarker(m).map((e) => e.event), ["interop_fence"]);
  });
});

describe(`replay (${mode})`, () => {
  for (const transport of TRANSPORTS) {
    test(`auth.since_seq replays seq > N in order, then live, no gap, no duplicate (${transport})`, async () => {
      const m = marker("replay");
      const before = [];
      for (let i = 0; i < 3; i++) before.push(await emit("/todo", "interop_replay", { marker: m, i }));
      const since = before[0].seq; // so the 2nd and 3rd are replayed, not the 1st

      const { socket, rec } = socketFor("/todo", { transport, auth: { since_seq: since } });
      // Live events race the handshake: some land before the replay query,
      // some during, some after; four producers at once. Each must arrive
      // once, in seq order.
      const live = [];
      const worker = async (w) => {
        for (let k = 0; k < 5; k++) live.push(await emit("/todo", "interop_replay", { marker: m, i: 3 + w * 5 + k }));
      };
      const emitting = Promise.all([0, 1, 2, 3].map(worker));
      await connected(socket);
      await emitting;
      const last = Math.max(...live.map((x) => x.seq));
      await rec.waitFor((e) => e.data?.seq === last, `live event seq ${last}`);

      const all = rec.events.filter((e) => e.data && Number.isInteger(e.data.seq));
      for (let i = 1; i < all.length; i++) {
        assert.ok(all[i].data.seq > all[i - 1].data.seq, `seq ${all[i].data.seq} after ${all[i - 1].data.seq}: in order, no duplicate`);
      }
      assert.ok(all.every((e) => e.data.seq > since), `nothing at or before since_seq ${since}`);
      const mine = rec.withMarker(m);
      assert.deepEqual(mine.map((e) => e.data.seq), [before[1].seq, before[2].seq, ...live.map((x) => x.seq).sort((a, b) => a - b)], "every event after since_seq, no gap");
      assert.deepEqual(mine.map((e) => e.data.i).slice(0, 2), [1, 2]);
      for (const e of rec.withMarker(m)) assertEnvelope(e.data, "replayed /todo event");
    });
  }

  test("since_seq as a query parameter replays too", async () => {
    const m = marker("replayq");
    const a = await emit("/agent", "interop_replay", { marker: m, i: 0 });
    const b = await emit("/agent", "interop_replay", { marker: m, i: 1 });
    const { socket, rec } = socketFor("/agent", { query: { since_seq: String(a.seq - 1) } });
    await connected(socket);
    await rec.waitFor((e) => e.data?.seq === b.seq, "replayed event");
    assert.deepEqual(rec.withMarker(m).map((e) => e.data.seq), [a.seq, b.seq]);
  });

  test("since_seq beyond the newest event replays nothing and then delivers live events", async () => {
    const now = await currentSeq("/claude");
    const m = marker("replayn");
    const { rec } = await connect("/claude", { auth: { since_seq: now } });
    const live = await emit("/claude", "interop_replay", { marker: m });
    await rec.waitFor((e) => e.data?.seq === live.seq, "live event");
    assert.ok(rec.events.filter((e) => Number.isInteger(e.data?.seq)).every((e) => e.data.seq > now));
    assert.deepEqual(rec.withMarker(m).map((e) => e.data.seq), [live.seq]);
  });

  test("a replay of 50 stored events over polling arrives whole, in order", async () => {
    const m = marker("burst");
    const sent = [];
    for (let i = 0; i < 50; i++) sent.push(await emit("/claude", "interop_burst", { marker: m, i }));
    const { socket, rec } = socketFor("/claude", { transport: "polling", auth: { since_seq: sent[0].seq - 1 } });
    await connected(socket);
    await rec.waitFor((e) => e.data?.seq === sent[49].seq, "the 50th replayed event");
    assert.deepEqual(rec.withMarker(m).map((e) => e.data.i), [...Array(50).keys()]);
  });

  test("an invalid since_seq is refused with a connect_error that says so", async () => {
    const err = await connectError(socketFor("/todo", { auth: { since_seq: "yesterday" } }).socket);
    assert.match(err.message, /since_seq/);
  });
});

describe(`session filtering (${mode})`, () => {
  test("session_id as a query parameter filters too", async () => {
    const m = marker("sessq");
    const A = marker("sessA");
    const { rec } = await connect("/hook", { query: { session_id: A } });
    await emit("/hook", "interop_sess", { marker: m, session_id: marker("sessB") });
    const mine = await emit("/hook", "interop_sess", { marker: m, session_id: A });
    await rec.waitFor((e) => e.data?.seq === mine.seq, "the session's event");
    assert.deepEqual(rec.withMarker(m).map((e) => e.data.session_id), [A]);
  });

  for (const transport of TRANSPORTS) {
    test(`auth.session_id receives only that session's events, replayed and live (${transport})`, async () => {
      const m = marker("sess");
      const A = marker("sessA");
      const B = marker("sessB");
      const start = await emit("/session", "interop_sess", { marker: m, session_id: A, i: 0 });
      await emit("/session", "interop_sess", { marker: m, session_id: B, i: 1 });
      const { rec } = await connect("/session", { transport, auth: { session_id: A, since_seq: start.seq - 1 } });
      await emit("/session", "interop_sess", { marker: m, session_id: B, i: 2 });
      const fence = await emit("/session", "interop_sess", { marker: m, session_id: A, i: 3 });
      await rec.waitFor((e) => e.data?.seq === fence.seq, "the session's live event");
      const got = rec.withMarker(m);
      assert.deepEqual(got.map((e) => [e.data.session_id, e.data.i]), [[A, 0], [A, 3]], "only session A's events");
      assert.ok(rec.events.every((e) => !e.data || e.data.session_id === undefined || e.data.session_id === A),
        `no other session's events at all: ${JSON.stringify(rec.events.filter((e) => e.data?.session_id && e.data.session_id !== A))}`);
    });
  }
});

describe(`HTTP /emit as the guide shows it (${mode})`, () => {
  test("curl -X POST …/emit -d '{\"namespace\":\"system\",\"event\":\"test\",\"data\":{}}' (form content type) is accepted and delivered", async () => {
    const { rec } = await connect("/system");
    // Exactly what curl -d sends: Content-Type application/x-www-form-urlencoded.
    const res = await fetch(`${URL_BASE}/emit`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "*/*", ...authHeaders() },
      body: '{"namespace":"system","event":"test","data":{}}',
    });
    const text = await res.text();
    assert.equal(res.status, 200, `status ${res.status}: ${text}`);
    const body = JSON.parse(text);
    const got = await rec.waitFor((e) => e.event === "test" && e.data?.seq === body.seq, "the test event on /system");
    assertEnvelope(got.data, "/system test");
    assert.equal(got.data.event_id, body.event_id);
  });

  test("the real curl command line, as written in the guide", async () => {
    const { execFile } = await import("node:child_process");
    const { rec } = await connect("/system");
    const args = ["-sS", "-X", "POST", `${URL_BASE}/emit`, "-d", '{"namespace":"system","event":"test","data":{}}'];
    if (TOKEN) args.push("-H", `Authorization: Bearer ${TOKEN}`);
    const out = await new Promise((resolve, reject) =>
      execFile("curl", args, { timeout: DEADLINE_MS }, (err, stdout, stderr) => (err ? reject(new Error(`curl: ${err.message} ${stderr}`)) : resolve(stdout))));
    const body = JSON.parse(out);
    assert.ok(Number.isInteger(body.seq), `curl got ${out}`);
    await rec.waitFor((e) => e.event === "test" && e.data?.seq === body.seq, "the curl-emitted test event on /system");
  });
});

describe(`the guide's JavaScript client snippet (${mode})`, () => {
  test("io('http://localhost:PORT/system') + on('status'), with /session and /log on the same connection", async () => {
    // The guide's Basic Socket.IO Client, as written but for the port (and
    // the auth option of its Authentication section when mpmd has a token).
    const io = require("socket.io-client");
    const base = `http://localhost:${PORT}`;
    const opts = TOKEN ? { auth: { token: TOKEN } } : undefined;
    const systemSocket = opts ? io(`${base}/system`, opts) : io(`${base}/system`);
    const sessionSocket = opts ? io(`${base}/session`, opts) : io(`${base}/session`);
    const logSocket = opts ? io(`${base}/log`, opts) : io(`${base}/log`);
    try {
      const sid = marker("guide");
      const seen = { connect: false };
      const status = new Promise((resolve) => systemSocket.on("status", resolve));
      const start = new Promise((resolve) => sessionSocket.on("start", (data) => data.session_id === sid && resolve(data)));
      const end = new Promise((resolve) => sessionSocket.on("end", (data) => data.session_id === sid && resolve(data)));
      const log = new Promise((resolve) => logSocket.on("message", (data) => data.message === sid && resolve(data)));
      systemSocket.on("connect", () => { seen.connect = true; });

      const st = await withDeadline(status, "status on /system");
      assert.ok(seen.connect, "connect fired before status");
      assertStatus(st, "guide snippet status");
      await Promise.all([sessionSocket, logSocket].map((s) => connected(s)));
      assert.equal(systemSocket.io, sessionSocket.io, "the guide's sockets share one connection (multiplexed)");

      await emit("session", "start", { session_id: sid, start_time: new Date().toISOString(), launch_method: "interactive", working_directory: "/tmp" });
      await emit("session", "end", { session_id: sid, duration_seconds: 890.333 });
      await emit("log", "message", { level: "INFO", message: sid, logger: "interop" });
      const [s, e, l] = await withDeadline(Promise.all([start, end, log]), "start, end and message");
      assert.equal(s.launch_method, "interactive");
      assert.equal(e.duration_seconds, 890.333);
      assert.equal(l.level, "INFO");
    } finally {
      for (const s of [systemSocket, sessionSocket, logSocket]) s.disconnect();
    }
  });
});

function withDeadline(p, what, ms = DEADLINE_MS) {
  let timer;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms); }),
  ]);
}
