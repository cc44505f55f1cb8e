"""Interop suite: mpmd against Python python-socketio (Debian's python3-socketio).

Run by interop_test.go with MPM_URL (and MPM_TOKEN when the daemon has a
token), with the system interpreter that Debian's package lives in:

    MPM_URL=http://127.0.0.1:PORT /usr/bin/python3 -m unittest -v test_python_client
"""

import os
import re
import threading
import time
import unittest
import urllib.parse
import uuid

import engineio.payload
import requests
import socketio

URL = os.environ.get("MPM_URL", "").rstrip("/")
TOKEN = os.environ.get("MPM_TOKEN", "")
if not URL:
    raise SystemExit(
        "MPM_URL is not set: run this suite through `go test ./test/interop/` "
        "or set MPM_URL to a running mpmd (and MPM_TOKEN if it has one)"
    )
PORT = urllib.parse.urlsplit(URL).port

NAMESPACES = ["/system", "/session", "/claude", "/agent", "/hook", "/todo", "/memory", "/log"]
TRANSPORTS = ["websocket", "polling"]
DEADLINE = float(os.environ.get("MPM_INTEROP_DEADLINE_MS", "5000")) / 1000.0
RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)$")

# python-engineio's polling client drops the whole connection ("Unexpected
# packet from server, aborting") when one long-polling response carries more
# than Payload.max_decode_packets (16) packets. A Socket.IO server flushes all
# it has buffered in one response, so any burst of events (a replay, several
# namespaces on one connection) can cross it. The suite raises the limit, as
# python-engineio's maintainers advise, so each test checks what it names;
# TestPollingBurst checks the stock limit on its own.
STOCK_MAX_DECODE_PACKETS = engineio.payload.Payload.max_decode_packets
engineio.payload.Payload.max_decode_packets = 1000


def marker(prefix="m"):
    return "%s-%s" % (prefix, uuid.uuid4())


def auth_headers(token=None):
    token = TOKEN if token is None else token
    return {"Authorization": "Bearer " + token} if token else {}


def emit(ns, event, data):
    """POST /emit one event; returns {seq, event_id}."""
    r = requests.post(
        URL + "/emit",
        json={"namespace": ns, "event": event, "data": data},
        headers=auth_headers(),
        timeout=DEADLINE,
    )
    if r.status_code != 200:
        raise AssertionError("POST /emit %s %s: status %d, body %s" % (ns, event, r.status_code, r.text))
    body = r.json()
    if not isinstance(body.get("seq"), int) or not isinstance(body.get("event_id"), str):
        raise AssertionError("POST /emit answered no seq/event_id: %s" % r.text)
    return body


class Recorder:
    """Every event one client receives, per namespace, with waits that have deadlines."""

    def __init__(self):
        self.cond = threading.Condition()
        self.events = []  # (namespace, event, data)
        self.errors = {}  # namespace -> connect_error data

    def push(self, ns, event, data):
        with self.cond:
            self.events.append((ns, event, data))
            self.cond.notify_all()

    def error(self, ns, data):
        with self.cond:
            self.errors[ns] = data
            self.cond.notify_all()

    def wait(self, pred, what, timeout=DEADLINE):
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for e in self.events:
                    if pred(e):
                        return e
                left = end - time.monotonic()
                if left <= 0:
                    seen = ["%s %s#%s" % (n, ev, d.get("seq") if isinstance(d, dict) else "") for n, ev, d in self.events]
                    raise AssertionError("no %s within %.1fs; received %s" % (what, timeout, seen))
                self.cond.wait(left)

    def wait_error(self, ns, timeout=DEADLINE):
        end = time.monotonic() + timeout
        with self.cond:
            while ns not in self.errors:
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError("no connect_error on %s within %.1fs" % (ns, timeout))
                self.cond.wait(left)
            return self.errors[ns]

    def with_marker(self, m, ns=None):
        with self.cond:
            return [
                e for e in self.events
                if isinstance(e[2], dict) and e[2].get("marker") == m and (ns is None or e[0] == ns)
            ]


def close(sio):
    """Disconnects sio and waits for its Engine.IO threads to end.

    python-engineio's disconnect() marks the connection closed before its
    write loop has sent the close packet, so now and then the packet is never
    sent and the pending long-poll GET hangs until the server's next ping
    (20 s), keeping the interpreter from exiting. When the read loop does not
    end at once, send the close packet ourselves: mpmd then answers the
    pending GET and the thread ends.
    """
    eio = sio.eio
    polling = eio.current_transport == "polling"
    url = eio.base_url if eio.sid else None
    try:
        sio.disconnect()
    except Exception:  # a refused or dropped client may be half-closed already
        pass
    task = getattr(eio, "read_loop_task", None)
    if task is None:
        return
    task.join(timeout=1)
    if task.is_alive() and polling and url:
        try:
            requests.post(url, data="1", headers={"Content-Type": "text/plain"}, timeout=DEADLINE)
        except requests.RequestException:
            pass
        task.join(timeout=DEADLINE)


class Case(unittest.TestCase):
    def setUp(self):
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            close(c)

    def client(self, namespaces):
        """A python-socketio client recording every event on namespaces."""
        sio = socketio.Client(reconnection=False)
        rec = Recorder()
        for ns in namespaces:
            sio.on("*", (lambda n: lambda event, *args: rec.push(n, event, args[0] if args else None))(ns), namespace=ns)
            sio.on("connect_error", (lambda n: lambda data=None: rec.error(n, data))(ns), namespace=ns)
        self.clients.append(sio)
        return sio, rec

    def connect(self, namespaces, transport="websocket", auth=None, token=None, query=None):
        """Connects one client (multiplexed over one Engine.IO connection) to namespaces."""
        if isinstance(namespaces, str):
            namespaces = [namespaces]
        sio, rec = self.client(namespaces)
        a = dict(auth or {})
        token = TOKEN if token is None else token
        if token:
            a["token"] = token
        url = URL + ("?" + urllib.parse.urlencode(query) if query else "")
        sio.connect(url, auth=a, transports=[transport], namespaces=namespaces, wait_timeout=DEADLINE)
        for ns in namespaces:
            self.assertIn(ns, sio.namespaces, "%s connected" % ns)
        return sio, rec

    def refused(self, ns, transport="websocket", auth=None, token=None):
        """Connects to ns expecting a refusal; returns the connect_error message."""
        sio, rec = self.client([ns])
        a = dict(auth or {})
        if token:
            a["token"] = token
        # wait=False: python-socketio would otherwise sit out its whole
        # wait_timeout before reporting the refusal.
        sio.connect(URL, auth=a, transports=[transport], namespaces=[ns], wait=False)
        data = rec.wait_error(ns)
        self.assertNotIn(ns, sio.namespaces, "%s refused" % ns)
        close(sio)
        if isinstance(data, dict):
            return str(data.get("message", ""))
        return str(data)

    def assert_envelope(self, d, where):
        self.assertIsInstance(d, dict, where)
        self.assertIsInstance(d.get("event_id"), str, "%s: event_id in %s" % (where, d))
        self.assertTrue(d["event_id"], where)
        self.assertIsInstance(d.get("seq"), int, "%s: integer seq in %s" % (where, d))
        self.assertGreater(d["seq"], 0, where)
        self.assertRegex(str(d.get("timestamp")), RFC3339_UTC, "%s: RFC 3339 UTC timestamp in %s" % (where, d))

    def assert_status(self, d, where):
        self.assertIsInstance(d, dict, where)
        self.assertIsInstance(d.get("server_info"), dict, "%s: server_info object (guide API Reference) in %s" % (where, d))
        self.assertEqual(int(d["server_info"].get("port", -1)), PORT, "%s: server_info.port in %s" % (where, d))
        self.assertIn("claude_status", d, where)
        self.assertRegex(str(d.get("timestamp")), r"^\d{4}-\d\d-\d\dT", "%s: timestamp in %s" % (where, d))


def fence_on(rec, m, ns=None):
    return lambda e: e[1] == "interop_fence" and isinstance(e[2], dict) and e[2].get("marker") == m and (ns is None or e[0] == ns)


class TestNamespaces(Case):
    def check_all(self, transport):
        sio, rec = self.connect(NAMESPACES, transport=transport)
        self.assertEqual(sio.transport(), transport)
        m = marker("probe")
        probes = {}
        for ns in NAMESPACES:
            name = ns if len(ns) % 2 else ns[1:]  # both spellings are accepted
            probes[ns] = emit(name, "interop_probe", {"marker": m, "target": ns, "n": 1})
        fences = {ns: emit(ns, "interop_fence", {"marker": m}) for ns in NAMESPACES}
        for ns in NAMESPACES:
            rec.wait(fence_on(rec, m, ns), "interop_fence on %s" % ns)
        for ns in NAMESPACES:
            got = [e for e in rec.with_marker(m, ns) if e[1] == "interop_probe"]
            self.assertEqual([e[2]["target"] for e in got], [ns], "%s over %s receives its own probe only" % (ns, transport))
            d = got[0][2]
            self.assert_envelope(d, "%s interop_probe" % ns)
            self.assertEqual(d["seq"], probes[ns]["seq"])
            self.assertEqual(d["event_id"], probes[ns]["event_id"])
            self.assertEqual(d["n"], 1)
            self.assertGreater(fences[ns]["seq"], d["seq"])

    def test_every_namespace_websocket(self):
        self.check_all("websocket")

    def test_every_namespace_polling(self):
        self.check_all("polling")

    def check_status(self, transport):
        sio, rec = self.connect("/system", transport=transport)
        first = rec.wait(lambda e: e[1] == "status", "status on connect")
        self.assert_status(first[2], "status on connect")
        self.assert_envelope(first[2], "status on connect")
        with rec.cond:
            before = len(rec.events)
        acked = sio.call("get_status", namespace="/system", timeout=DEADLINE)
        # The answer comes as a status event to this client, and the same
        # object through the ack (docs/PROTOCOL.md, Inbound requests).
        answer = rec.wait(lambda e: e[1] == "status" and rec.events.index(e) >= before, "status answering get_status")
        self.assert_status(answer[2], "status answering get_status")
        self.assert_envelope(answer[2], "status answering get_status")
        self.assert_status(acked, "get_status ack")
        self.assertEqual(acked, answer[2], "the get_status ack is the same object as the status event it sent")

    def test_system_status_websocket(self):
        self.check_status("websocket")

    def test_system_status_polling(self):
        self.check_status("polling")

    def test_get_history(self):
        m = marker("hist")
        sent = [emit("/memory", "interop_hist", {"marker": m, "i": i, "session_id": m}) for i in range(3)]
        sio, _ = self.connect("/system")
        ack = sio.call("get_history", {"namespace": "/memory", "session_id": m, "since_seq": sent[0]["seq"] - 1},
                       namespace="/system", timeout=DEADLINE)
        self.assertIsInstance(ack.get("events"), list, ack)
        self.assertEqual([e["seq"] for e in ack["events"]], [x["seq"] for x in sent], "oldest first")
        e = ack["events"][0]
        self.assertEqual(e["event_id"], sent[0]["event_id"])
        self.assertEqual(e["namespace"], "/memory")
        self.assertEqual(e["event"], "interop_hist")
        self.assertEqual(e["session_id"], m)
        self.assertEqual(e["data"]["i"], 0)

    def test_heartbeat(self):
        _, rec = self.connect("/system")
        hb = rec.wait(lambda e: e[1] == "heartbeat", "heartbeat (the daemon runs with --heartbeat=1s)", timeout=max(DEADLINE, 3))
        self.assert_envelope(hb[2], "heartbeat")

    def test_unknown_namespace_refused(self):
        msg = self.refused("/nope", token=TOKEN or None)
        self.assertRegex(msg, re.compile("invalid namespace", re.I))

    def test_guide_python_example(self):
        # The guide's Python Client Example: sio.connect('http://HOST:PORT')
        # joins the root namespace, which mpmd accepts.
        sio = socketio.Client(reconnection=False)
        self.clients.append(sio)
        sio.connect(URL, auth={"token": TOKEN} if TOKEN else None, wait_timeout=DEADLINE)
        self.assertTrue(sio.connected)
        self.assertIn("/", sio.namespaces)


@unittest.skipUnless(TOKEN, "the daemon under test runs without a token")
class TestToken(Case):
    def check(self, transport):
        for ns in NAMESPACES:
            msg = self.refused(ns, transport=transport)
            self.assertRegex(msg, re.compile("authentication required", re.I), "%s without token" % ns)
            msg = self.refused(ns, transport=transport, token=TOKEN + "x")
            self.assertRegex(msg, re.compile("invalid authentication token", re.I), "%s wrong token" % ns)
        sio, _ = self.connect(NAMESPACES, transport=transport)
        self.assertEqual(sorted(sio.namespaces), sorted(NAMESPACES))

    def test_token_websocket(self):
        self.check("websocket")

    def test_token_polling(self):
        self.check("polling")

    def test_emit_requires_bearer(self):
        for headers in ({}, {"Authorization": "Bearer " + TOKEN + "x"}):
            r = requests.post(URL + "/emit", json={"namespace": "log", "event": "interop_unauth", "data": {}}, headers=headers, timeout=DEADLINE)
            self.assertEqual(r.status_code, 401, r.text)
            self.assertIsInstance(r.json().get("error"), str)


class TestProducer(Case):
    def check(self, transport):
        _, consumer = self.connect("/hook", transport=transport)
        producer, prec = self.connect("/hook", transport=transport, auth={"producer": True})
        m = marker("ack")
        eid = marker("evt")
        data = {"marker": m, "event_id": eid, "tool_name": "Edit", "session_id": "interop-ack-py"}
        ack1 = producer.call("interop_tool", data, namespace="/hook", timeout=DEADLINE)
        self.assertIsInstance(ack1, dict, ack1)
        self.assertIsInstance(ack1.get("seq"), int, ack1)
        self.assertEqual(ack1.get("event_id"), eid, ack1)
        self.assertIs(ack1.get("duplicate"), False, ack1)

        r = requests.get(URL + "/api/events", params={"since_seq": ack1["seq"] - 1, "limit": 50}, headers=auth_headers(), timeout=DEADLINE)
        self.assertEqual(r.status_code, 200, r.text)
        stored = [e for e in r.json()["events"] if e.get("event_id") == eid]
        self.assertEqual(len(stored), 1, "acked event is stored")
        self.assertEqual(stored[0]["seq"], ack1["seq"])

        ack2 = producer.call("interop_tool", data, namespace="/hook", timeout=DEADLINE)
        self.assertIs(ack2.get("duplicate"), True, ack2)
        self.assertEqual(ack2.get("event_id"), eid, ack2)
        self.assertEqual(ack2.get("seq"), ack1["seq"], ack2)

        producer.call("interop_fence", {"marker": m}, namespace="/hook", timeout=DEADLINE)
        consumer.wait(fence_on(consumer, m), "fence on /hook")
        got = consumer.with_marker(m)
        self.assertEqual([e[1] for e in got], ["interop_tool", "interop_fence"], "retried event delivered once")
        self.assert_envelope(got[0][2], "/hook interop_tool")
        self.assertEqual(got[0][2]["event_id"], eid)
        self.assertEqual(got[0][2]["seq"], ack1["seq"])
        self.assertEqual(prec.with_marker(m), [], "a producer receives no broadcasts")

    def test_producer_ack_websocket(self):
        self.check("websocket")

    def test_producer_ack_polling(self):
        self.check("polling")


class TestReplay(Case):
    def check(self, transport):
        m = marker("replay")
        before = [emit("/todo", "interop_replay", {"marker": m, "i": i}) for i in range(3)]
        since = before[0]["seq"]
        live = []
        lock = threading.Lock()

        # Live events race the handshake, from four producers at once: some
        # land before the replay query, some during, some after.
        def produce(w):
            for k in range(5):
                r = emit("/todo", "interop_replay", {"marker": m, "i": 3 + w * 5 + k})
                with lock:
                    live.append(r)

        threads = [threading.Thread(target=produce, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        try:
            _, rec = self.connect("/todo", transport=transport, auth={"since_seq": since})
        finally:
            for t in threads:
                t.join(timeout=4 * DEADLINE)
        self.assertEqual(len(live), 20, "all live emits answered")
        last = max(x["seq"] for x in live)
        rec.wait(lambda e: isinstance(e[2], dict) and e[2].get("seq") == last, "the last live event")
        seqs = [e[2]["seq"] for e in rec.events if isinstance(e[2], dict) and isinstance(e[2].get("seq"), int)]
        self.assertEqual(seqs, sorted(set(seqs)), "in order, no duplicate")
        self.assertTrue(all(s > since for s in seqs), "nothing at or before since_seq")
        want = [before[1]["seq"], before[2]["seq"]] + sorted(x["seq"] for x in live)
        self.assertEqual([e[2]["seq"] for e in rec.with_marker(m)], want, "every event after since_seq, no gap")

    def test_replay_websocket(self):
        self.check("websocket")

    def test_replay_polling(self):
        self.check("polling")

    def test_replay_query_parameter(self):
        m = marker("replayq")
        a = emit("agent", "interop_replay", {"marker": m, "i": 0})
        b = emit("agent", "interop_replay", {"marker": m, "i": 1})
        _, rec = self.connect("/agent", query={"since_seq": a["seq"] - 1})
        rec.wait(lambda e: isinstance(e[2], dict) and e[2].get("seq") == b["seq"], "replayed event")
        self.assertEqual([e[2]["seq"] for e in rec.with_marker(m)], [a["seq"], b["seq"]])

    def test_invalid_since_seq_refused(self):
        msg = self.refused("/todo", auth={"since_seq": "yesterday"}, token=TOKEN or None)
        self.assertIn("since_seq", msg)


class TestPollingBurst(Case):
    """A stock python-socketio client on long-polling, with python-engineio's
    default limit of 16 packets per polling response, replaying 50 events."""

    def setUp(self):
        super().setUp()
        engineio.payload.Payload.max_decode_packets = STOCK_MAX_DECODE_PACKETS

    def tearDown(self):
        super().tearDown()
        engineio.payload.Payload.max_decode_packets = 1000

    def test_replay_50_events_stock_polling_client(self):
        m = marker("burst")
        sent = [emit("/claude", "interop_burst", {"marker": m, "i": i}) for i in range(50)]
        sio, rec = self.client(["/claude"])
        auth = {"since_seq": sent[0]["seq"] - 1}
        if TOKEN:
            auth["token"] = TOKEN
        try:
            sio.connect(URL, auth=auth, transports=["polling"], namespaces=["/claude"], wait_timeout=DEADLINE)
            rec.wait(lambda e: isinstance(e[2], dict) and e[2].get("seq") == sent[-1]["seq"], "the 50th replayed event")
        except (AssertionError, socketio.exceptions.ConnectionError) as err:
            raise AssertionError(
                "%s (%d of 50 replayed events received, Engine.IO connection %s). python-engineio's polling client "
                "drops the connection when one long-polling response holds more than %d packets "
                "(engineio.payload.Payload.max_decode_packets): mpmd must not put more than that in one response"
                % (err, len(rec.with_marker(m)), sio.eio.state, STOCK_MAX_DECODE_PACKETS)) from None
        self.assertEqual([e[2]["i"] for e in rec.with_marker(m)], list(range(50)))


class TestSession(Case):
    def check(self, transport):
        m = marker("sess")
        a, b = marker("sessA"), marker("sessB")
        start = emit("/session", "interop_sess", {"marker": m, "session_id": a, "i": 0})
        emit("/session", "interop_sess", {"marker": m, "session_id": b, "i": 1})
        _, rec = self.connect("/session", transport=transport, auth={"session_id": a, "since_seq": start["seq"] - 1})
        emit("/session", "interop_sess", {"marker": m, "session_id": b, "i": 2})
        last = emit("/session", "interop_sess", {"marker": m, "session_id": a, "i": 3})
        rec.wait(lambda e: isinstance(e[2], dict) and e[2].get("seq") == last["seq"], "the session's live event")
        self.assertEqual([(e[2]["session_id"], e[2]["i"]) for e in rec.with_marker(m)], [(a, 0), (a, 3)])
        others = [e for e in rec.events if isinstance(e[2], dict) and e[2].get("session_id") not in (None, a)]
        self.assertEqual(others, [], "no other session's events")

    def test_session_filter_websocket(self):
        self.check("websocket")

    def test_session_filter_polling(self):
        self.check("polling")


class TestHTTPEmit(Case):
    def test_emit_without_content_type(self):
        # The guide's curl -d example, sent with no Content-Type at all.
        _, rec = self.connect("/system")
        r = requests.post(URL + "/emit", data=b'{"namespace":"system","event":"test","data":{}}', headers=auth_headers(), timeout=DEADLINE)
        self.assertNotIn("Content-Type", r.request.headers)
        self.assertEqual(r.status_code, 200, r.text)
        body = r.json()
        got = rec.wait(lambda e: e[1] == "test" and isinstance(e[2], dict) and e[2].get("seq") == body["seq"], "test on /system")
        self.assert_envelope(got[2], "/system test")
        self.assertEqual(got[2]["event_id"], body["event_id"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
