// The map's WebSocket (/ws/clusters/<name>/): a snapshot on every (re)connect, then one coalesced delta
// per simulation tick. Messages are queued and applied once per animation frame: whatever arrived since
// the last frame is merged first (the newest state of each pod and node wins), so a burst of ticks costs
// one round of DOM work. A dropped socket reconnects with back-off and the fresh snapshot resyncs the page.

import { $, L, config, emit } from "./util.js";
import * as map from "./map.js";

let socket = null;
let attempts = 0;
let lastMessage = performance.now();
let queue = [];
let scheduled = false;
let handlers = { snapshot: [], delta: [] };

export function onSnapshot(fn) { handlers.snapshot.push(fn); }
export function onDelta(fn) { handlers.delta.push(fn); }

function setConnection(kind) {
  const box = $("#connection");
  box.dataset.state = kind;
  $("#connection .connection-text").textContent = { live: L.live, connecting: L.connecting, reconnecting: L.reconnecting, gone: L.gone }[kind] || kind;
}

/** Queue a message for the next frame (the socket and the test hook both come here). */
export function push(msg) {
  queue.push(msg);
  if (!scheduled) {
    scheduled = true;
    requestAnimationFrame(flush);
  }
}

function mergeDeltas(deltas) {
  if (deltas.length === 1) return deltas[0];
  const last = deltas[deltas.length - 1];
  const pods = new Map();
  const nodes = new Map();
  const objects = new Map();
  const deleted = [];
  const activities = [];
  const flows = [];
  let services = null;
  for (const d of deltas) {
    for (const p of d.pods || []) pods.delete(p.key), pods.set(p.key, p);
    for (const n of d.nodes || []) nodes.set(n.name, n);
    for (const o of d.objects || []) objects.set(`${o.kind}/${o.namespace}/${o.name}`, o);
    for (const x of d.deleted || []) {
      deleted.push(x);
      if (x.kind === "Pod") pods.delete(x.key);
      else if (x.kind === "Node") nodes.delete(x.name);
      else objects.delete(`${x.kind}/${x.namespace}/${x.name}`);
    }
    for (const a of d.activities || []) activities.push(a);
    for (const f of d.flows || []) flows.push(f);
    if (d.services) services = d.services;
  }
  // A pod deleted and then re-created under the same name within the frame: deletion first, then the pod.
  return { ...last, pods: Array.from(pods.values()), nodes: Array.from(nodes.values()), objects: Array.from(objects.values()),
    deleted, activities, flows, services };
}

function flush() {
  scheduled = false;
  let messages = queue;
  queue = [];
  const snapshotAt = messages.map((m) => m.type).lastIndexOf("snapshot");
  if (snapshotAt >= 0) {
    const snapshot = messages[snapshotAt];
    map.applySnapshot(snapshot);
    for (const fn of handlers.snapshot) fn(snapshot);
    messages = messages.slice(snapshotAt + 1);
  }
  const deltas = messages.filter((m) => m.type === "delta");
  if (deltas.length) {
    const merged = mergeDeltas(deltas);
    map.applyDelta(merged);
    for (const fn of handlers.delta) fn(merged);
  }
}

export function connect() {
  setConnection(attempts ? "reconnecting" : "connecting");
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const ws = new WebSocket(scheme + location.host + config.ws);
  socket = ws;
  ws.onmessage = (event) => {
    lastMessage = performance.now();
    let msg;
    try { msg = JSON.parse(event.data); } catch (e) { return; }
    if (msg.type === "snapshot") {
      attempts = 0;
      setConnection("live");
    }
    if (msg.type === "snapshot" || msg.type === "delta") push(msg);
  };
  ws.onclose = (event) => {
    if (socket !== ws) return;
    socket = null;
    if (event.code === 4404) {
      setConnection("gone");
      return;
    }
    attempts += 1;
    const delay = Math.min(10000, 500 * 2 ** (attempts - 1)) * (0.75 + Math.random() * 0.5);
    setConnection("reconnecting");
    emit("disconnected");
    setTimeout(connect, delay);
  };
}

export function resync() {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "resync" }));
}

export function start() {
  setInterval(resync, 60000);
  setInterval(() => { if (performance.now() - lastMessage > 15000) resync(); }, 5000);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) resync(); });
  connect();
}

/** For tests and the benchmark: stop the real socket so injected messages are the only ones. */
export function disconnect() {
  const ws = socket;
  socket = null;
  if (ws) ws.close();
}
