// What the suites' own node-imports.js does (fetch, WebSocket and chai as
// globals, for Node.js), with two changes, so the vendored test-suite.js
// files stay byte for byte as upstream has them:
//
// 1. The suites talk to http://localhost:3000, hard-coded; here every URL
//    they open is rewritten to PROTOCOL_URL (the server under test, on a
//    free port).
// 2. The WebSocket delivers each message (and the close after them) in a
//    task of its own, as a browser's does (WHATWG HTML, "feedback from the
//    protocol"): the first at once, any more that came with it one per
//    turn of the event loop. The suites wait with `await waitFor(socket, "message")`
//    and only then listen for the next message; ws 8.5 emits every frame of
//    one TCP read at once, before that listener exists, so a server that
//    writes two frames in one segment — mpmd coalesces each flush into one
//    write(2) — would see the second one lost to the test.
import nodeFetch from "node-fetch";
import { WebSocket as NodeWebSocket } from "ws";
import chai from "chai";
import chaiString from "chai-string";

const SUITE_URL = "http://localhost:3000";
const target = process.env.PROTOCOL_URL;
if (!target) {
  throw new Error("set PROTOCOL_URL to the server under test, e.g. http://127.0.0.1:PORT");
}

function rewrite(url) {
  const s = String(url);
  const wsSuite = SUITE_URL.replace("http", "ws");
  if (s.startsWith(SUITE_URL)) return target + s.slice(SUITE_URL.length);
  if (s.startsWith(wsSuite)) return target.replace("http", "ws") + s.slice(wsSuite.length);
  return s;
}

class WebSocket extends NodeWebSocket {
  #queue = []; // events that came in the same task as one already delivered
  #busy = false; // an event was delivered in this task

  constructor(url, ...rest) {
    super(rewrite(url), ...rest);
  }

  emit(event, ...args) {
    if (event !== "message" && event !== "close") {
      return super.emit(event, ...args);
    }
    if (!this.#busy) {
      this.#busy = true;
      setImmediate(() => this.#next());
      return super.emit(event, ...args);
    }
    this.#queue.push([event, args]);
    return true;
  }

  #next() {
    const item = this.#queue.shift();
    if (!item) {
      this.#busy = false;
      return;
    }
    setImmediate(() => this.#next());
    super.emit(item[0], ...item[1]);
  }
}

chai.use(chaiString);

globalThis.fetch = (url, opts) => nodeFetch(rewrite(url), opts);
globalThis.WebSocket = WebSocket;
globalThis.chai = chai;
