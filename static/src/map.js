// The cluster map: the control plane and its components, the scheduling queue, the worker nodes with
// their pods. `applySnapshot` / `applyDelta` are called at most once per animation frame (see stream.js)
// with everything that arrived since the last frame, already merged.

import { $, L, config, el, emit, formatBytes, formatCpu, hue } from "./util.js";

const FAILED = /Error|BackOff|ErrImage|OOMKilled|Invalid|Evicted|Failed|CreateContainer|RunContainer|NodeLost|DeadlineExceeded|NodeAffinity|OutOf/;

export const state = {
  pods: new Map(), // "ns/name" -> summary
  nodes: new Map(), // name -> summary
  objects: new Map(), // "Kind/ns/name" -> ref
  tombstones: new Map(), // "ns/name" -> rv of its deletion
  revision: 0,
  cpNode: null,
  loading: false,
};

const podEls = new Map();
const nodeEls = new Map();
let els = null;

function readyAll(ready) {
  const m = /^(\d+)\/(\d+)$/.exec(ready || "");
  return m ? m[1] === m[2] && m[2] !== "0" : false;
}

export function category(p) {
  const s = p.status || "";
  if (s === "Terminating" || p.deleting) return "terminating";
  if (s === "Running") return readyAll(p.ready) ? "ok" : "starting";
  if (s === "Completed" || s === "Succeeded") return "done";
  if (s === "Pending") return "waiting";
  if (FAILED.test(s)) return "failed";
  if (s === "ContainerCreating" || s === "PodInitializing" || s.startsWith("Init:")) return "starting";
  if (s === "Unknown") return "unknown";
  return "starting";
}

export function init() {
  els = {
    map: $("#map"),
    cp: $("#control-plane"),
    cpName: $("#cp-node-name"),
    cpStatus: $("#cp-node-status"),
    cpIp: $("#cp-node-ip"),
    cpPods: $("#cp-pods"),
    queue: $("#pending-queue"),
    queuePods: $("#queue-pods"),
    queueCount: $("#queue-count"),
    grid: $("#node-grid"),
  };
}

// --- nodes -------------------------------------------------------------------------------------
function bar(label) {
  const fill = el("div", "bar-fill");
  const used = el("div", "bar-used");
  const track = el("div", "bar");
  track.append(fill, used);
  return { label: el("span", "bar-label", label), track, fill, used, text: el("span", "bar-text"), last: "" };
}

/** node-2 before node-10, as people count. */
function naturalKey(name) { return name.replace(/\d+/g, (d) => d.padStart(8, "0")); }

function createWorker(name) {
  const box = el("section", "node worker");
  box.dataset.node = name;
  const head = el("header", "node-head");
  const nameEl = el("button", "node-name linkish", name);
  nameEl.type = "button";
  nameEl.dataset.inspect = "Node//" + name;
  nameEl.title = L.inspect;
  const pill = el("span", "pill");
  const flags = el("span", "node-flags");
  const ip = el("span", "node-ip");
  const menu = el("button", "btn btn-icon node-menu-button", "⋯");
  menu.type = "button";
  menu.dataset.nodeMenu = name;
  menu.title = L.nodeActions;
  menu.setAttribute("aria-label", `${L.nodeActions}: ${name}`);
  head.append(nameEl, pill, flags, ip, el("span", "spacer"), menu);
  const agents = el("div", "agents");
  const kubelet = el("span", "agent", "kubelet");
  const proxy = el("span", "agent", "kube-proxy");
  const runtime = el("span", "agent", "containerd");
  proxy.dataset.anchor = "proxy:" + name;
  agents.append(kubelet, proxy, runtime);
  const caption = el("div", "bars-caption", L.requestsCaption);
  const bars = el("div", "bars");
  const cpu = bar("CPU");
  const mem = bar(L.memory);
  const pods = bar(L.pods);
  for (const b of [cpu, mem, pods]) bars.append(b.label, b.track, b.text);
  const podBox = el("div", "pods node-pods");
  podBox.dataset.podsOf = name;
  box.append(head, agents, caption, bars, podBox);
  insertSorted(els.grid, box, naturalKey(name));
  const parts = { box, pill, flags, ip, cpu, mem, pods, podBox, agents: { kubelet, "kube-proxy": proxy, containerd: runtime } };
  nodeEls.set(name, parts);
  return parts;
}

/** A node's bar: requests against allocatable (what the scheduler counts), and the simulated usage
 * (what metrics-server would report) as a darker strip along its bottom. */
function setBar(b, requested, total, f, inUse) {
  const pct = total > 0 ? Math.min(100, (requested / total) * 100) : 0;
  const usedPct = total > 0 && inUse !== undefined ? Math.min(100, (inUse / total) * 100) : 0;
  const text = `${f(requested)} / ${f(total)}`;
  const key = `${text} ${Math.round(usedPct * 10)}`;
  if (b.last === key) return;
  b.last = key;
  // scaleX, not width: a transition of width would lay the whole map out again on every frame it runs.
  b.fill.style.transform = `scaleX(${pct / 100})`;
  b.used.style.transform = `scaleX(${usedPct / 100})`;
  b.fill.classList.toggle("high", pct >= 75 && pct < 100);
  b.fill.classList.toggle("full", pct >= 100);
  b.text.textContent = text;
  b.track.title = `${L.requests}: ${f(requested)} (${Math.round(pct)}%)` +
    (inUse !== undefined ? `\n${L.inUse}: ${f(inUse)} (${Math.round(usedPct)}%)` : "");
}

function setPill(pill, status) {
  pill.hidden = false;
  const ready = status.split(",")[0];
  if (pill.textContent !== ready) pill.textContent = ready;
  pill.classList.toggle("bad", ready !== "Ready");
}

function renderNode(n) {
  const old = state.nodes.get(n.name);
  if (old && old.rv > n.rv) return;
  state.nodes.set(n.name, n);
  if (n.control_plane && (state.cpNode === null || state.cpNode === n.name)) {
    state.cpNode = n.name;
    els.cp.dataset.node = n.name;
    els.cp.dataset.status = n.status;
    els.cpName.textContent = n.name;
    els.cpIp.textContent = n.ip || "";
    setPill(els.cpStatus, n.status);
    els.cpPods.dataset.podsOf = n.name;
    nodeEls.set(n.name, { box: els.cp, podBox: els.cpPods, agents: {} });
    return;
  }
  let parts = nodeEls.get(n.name);
  if (!parts || !parts.cpu) parts = createWorker(n.name);
  parts.box.dataset.status = n.status;
  parts.box.dataset.stopped = n.stopped ? "true" : "false";
  parts.box.dataset.cordoned = n.status.includes("SchedulingDisabled") ? "true" : "false";
  setPill(parts.pill, n.status);
  const flags = [];
  if (n.status.includes("SchedulingDisabled")) flags.push(["cordoned", L.cordoned]);
  if (n.stopped) flags.push(["stopped", L.kubeletStopped]);
  const flagKey = flags.map((f) => f[0]).join(",");
  if (parts.flags.dataset.key !== flagKey) {
    parts.flags.dataset.key = flagKey;
    parts.flags.replaceChildren(...flags.map(([cls, text]) => el("span", "flag flag-" + cls, text)));
  }
  parts.ip.textContent = n.ip || "";
  setBar(parts.cpu, n.cpu.requested, n.cpu.allocatable, formatCpu, n.cpu.used);
  setBar(parts.mem, n.memory.requested, n.memory.allocatable, formatBytes, n.memory.used);
  setBar(parts.pods, n.pods.count, n.pods.allocatable, String);
}

function removeNode(name) {
  state.nodes.delete(name);
  const parts = nodeEls.get(name);
  if (!parts) return;
  if (parts.box === els.cp) {
    state.cpNode = null;
    delete els.cp.dataset.node;
    els.cpName.textContent = "";
    els.cpStatus.hidden = true;
    nodeEls.delete(name);
    return;
  }
  if (parts.podBox.querySelector("[data-pod]")) {
    parts.box.dataset.status = "Unknown";
    setPill(parts.pill, "Unknown");
    return;
  }
  nodeEls.delete(name);
  parts.box.remove();
}

function podContainer(p) {
  if (!p.node) return els.queuePods;
  let parts = nodeEls.get(p.node);
  if (!parts) {
    parts = createWorker(p.node);
    parts.box.dataset.status = "Unknown";
    setPill(parts.pill, L.unknownNode);
  }
  return parts.podBox;
}

export function nodeElement(name) {
  const parts = nodeEls.get(name);
  return parts ? parts.box : null;
}

export function agentElement(node, agent) {
  const parts = nodeEls.get(node);
  return parts && parts.agents ? parts.agents[agent] || null : null;
}

export function podElement(key) { return podEls.get(key) || null; }

// --- pods --------------------------------------------------------------------------------------
function sortKey(p) { return (p.created || "") + " " + p.key; }

function insertSorted(container, node, key) {
  node.dataset.sort = key;
  // Most inserts append (the newest pod sorts last): check the end first.
  const last = container.lastElementChild;
  if (!last || (last.dataset.sort !== undefined && last.dataset.sort <= key) || last === node) {
    container.appendChild(node);
    return;
  }
  for (const child of container.children) {
    if (child !== node && child.dataset.sort !== undefined && !child.classList.contains("leaving") && child.dataset.sort > key) {
      container.insertBefore(node, child);
      return;
    }
  }
  container.appendChild(node);
}

function createPod(p) {
  const pod = el("button", "pod");
  pod.type = "button";
  pod.dataset.pod = p.key;
  const name = el("span", "pod-name", p.name);
  // With many pods on the map only the name's last part shows (the part that tells replicas apart).
  const short = el("span", "pod-short", p.name.slice(p.name.lastIndexOf("-") + 1) || p.name);
  const line = el("span", "pod-line");
  const rs = el("span", "pod-rs");
  line.append(rs, el("span", "pod-status"), el("span", "pod-meta"));
  pod.append(name, short, line);
  podEls.set(p.key, pod);
  return pod;
}

let moves = [];

function renderPod(p) {
  const old = state.pods.get(p.key);
  if (old && old.rv > p.rv) return;
  if (!old) {
    const dead = state.tombstones.get(p.key);
    const stale = !state.loading && p.rv <= state.revision;
    if ((dead !== undefined && dead >= p.rv) || stale) return;
  }
  state.tombstones.delete(p.key);
  state.pods.set(p.key, p);
  const pod = podEls.get(p.key) || createPod(p);
  pod.classList.remove("leaving");
  const cat = category(p);
  const changed = old && old.status !== p.status;
  const cls = `pod st-${cat}` + (p.namespace === "kube-system" ? " system" : "") + (pod.classList.contains("moving") ? " moving" : "") + (changed ? " changed" : "");
  if (pod.className !== cls) pod.className = cls;
  if (changed) setTimeout(() => pod.classList.remove("changed"), 800);
  // Only changed attributes are written: each write invalidates style for the attribute selectors.
  const ds = pod.dataset;
  const attrs = { status: p.status, phase: p.phase, node: p.node || "", namespace: p.namespace, ready: p.ready,
    owner: p.owner || "" };
  for (const k in attrs) if (ds[k] !== attrs[k]) ds[k] = attrs[k];
  if (!old || old.status !== p.status) pod.querySelector(".pod-status").textContent = p.status;
  const meta = [p.ready];
  if (p.restarts) meta.push("↻" + p.restarts);
  if (p.ip) meta.push(p.ip);
  const metaText = meta.join(" · ");
  const metaEl = pod.querySelector(".pod-meta");
  if (metaEl.textContent !== metaText) metaEl.textContent = metaText;
  if (!old || old.owner !== p.owner) {
    const rs = pod.querySelector(".pod-rs");
    if (p.owner && p.owner.startsWith("ReplicaSet/")) {
      const hash = p.owner.split("-").pop();
      rs.style.setProperty("--rs", `hsl(${hue(p.owner)} 65% 45%)`);
      rs.title = `${L.replicaSet} ${p.owner.slice(11)}`;
      rs.textContent = hash.slice(0, 5);
      rs.hidden = false;
    } else {
      rs.hidden = true;
    }
  }
  // A pod in the queue says why it waits, in kube-scheduler's words (0/3 nodes are available: ...).
  let why = pod.querySelector(".pod-why");
  if (!p.node && p.waiting) {
    if (!why) pod.append(why = el("span", "pod-why"));
    if (why.textContent !== p.waiting) why.textContent = p.waiting;
  } else if (why) {
    why.remove();
  }
  const title = `${p.key}\n${L.status}: ${p.status}\n${L.node}: ${p.node || "—"}` +
    (p.waiting && !p.node ? `\n${p.waiting}` : "") + `\n${L.clickToInspect}`;
  if (pod.title !== title) pod.title = title;
  const container = podContainer(p);
  if (pod.parentElement !== container) {
    const first = pod.isConnected ? pod.getBoundingClientRect() : null;
    insertSorted(container, pod, sortKey(p));
    if (first && first.width) moves.push([pod, first]);
  }
}

function flushMoves() {
  if (!moves.length) return;
  // FLIP: every moved pod is measured once after all DOM writes, then animated from where it was.
  const list = moves;
  moves = [];
  const lasts = list.map(([pod]) => pod.getBoundingClientRect());
  list.forEach(([pod, first], i) => {
    const dx = first.left - lasts[i].left;
    const dy = first.top - lasts[i].top;
    if (!dx && !dy) return;
    pod.classList.add("moving");
    pod.style.transition = "none";
    pod.style.transform = `translate(${dx}px, ${dy}px)`;
  });
  requestAnimationFrame(() => requestAnimationFrame(() => {
    for (const [pod] of list) {
      pod.style.transition = "";
      pod.style.transform = "";
      setTimeout(() => pod.classList.remove("moving"), 700);
    }
  }));
}

function removePod(key, rv) {
  const old = state.pods.get(key);
  if (old && rv !== undefined && old.rv > rv) return;
  state.pods.delete(key);
  if (rv !== undefined) state.tombstones.set(key, rv);
  const pod = podEls.get(key);
  if (!pod) return;
  podEls.delete(key);
  pod.classList.add("leaving");
  pod.removeAttribute("data-pod");
  setTimeout(() => pod.remove(), 500);
}

// Above this many pods the map drops its endless animations (see .map.many in app.css).
const MANY_PODS = 120;

function updateQueue() {
  els.map.classList.toggle("many", state.pods.size > MANY_PODS);
  let waiting = 0;
  for (const p of state.pods.values()) if (!p.node) waiting++;
  const text = String(waiting);
  if (els.queueCount.textContent !== text) els.queueCount.textContent = text;
  els.queue.classList.toggle("has-pods", waiting > 0);
  let empty = els.queuePods.querySelector(".empty");
  if (waiting === 0 && !empty) {
    empty = el("p", "empty", L.noPending);
    els.queuePods.appendChild(empty);
  } else if (waiting > 0 && empty) {
    empty.remove();
  }
}

// --- component lights ----------------------------------------------------------------------
export function flash(node, cls) {
  if (!node) return;
  const c = cls || "active";
  // A box already lit stays lit a little longer: restarting its animation would force a synchronous layout.
  node.classList.add(c);
  clearTimeout(node["_kd" + c]);
  node["_kd" + c] = setTimeout(() => node.classList.remove(c), 700);
}

export function component(name) { return document.querySelector(`.component[data-component="${name}"]`); }

/** Which box lights up for an activity's component: "kube-scheduler", "kubelet:node-1"... */
export function componentOf(a) {
  const c = a.component || "";
  if (c.includes("scheduler")) return "kube-scheduler";
  if (c.includes("cloud")) return "cloud-controller-manager";
  if (c === "kubelet" || c.includes("kubelet")) return "kubelet";
  if (c.includes("proxy")) return "kube-proxy";
  if (c.includes("ingress")) return "ingress-nginx";
  if (c.includes("controller") || c.includes("manager")) return "kube-controller-manager";
  if (c === "traffic") return "traffic";
  return c || "kube-apiserver";
}

function lightUp(a) {
  const c = componentOf(a);
  if (c === "kubelet" || c === "kube-proxy") flash(agentElement(a.node || "", c));
  else flash(component(c));
}

// --- messages ------------------------------------------------------------------------------
export function applySnapshot(msg) {
  state.loading = true;
  state.revision = msg.revision || 0;
  state.tombstones.clear();
  const nodeNames = new Set(msg.nodes.map((n) => n.name));
  for (const name of Array.from(state.nodes.keys())) if (!nodeNames.has(name)) removeNode(name);
  const controlPlanes = msg.nodes.filter((n) => n.control_plane).map((n) => n.name);
  if (state.cpNode && !controlPlanes.includes(state.cpNode)) state.cpNode = null;
  for (const n of msg.nodes.slice().sort((a, b) => a.name.localeCompare(b.name))) {
    state.nodes.delete(n.name);
    renderNode(n);
  }
  const podKeys = new Set(msg.pods.map((p) => p.key));
  for (const key of Array.from(state.pods.keys())) if (!podKeys.has(key)) removePod(key);
  for (const p of msg.pods) {
    state.pods.delete(p.key);
    renderPod(p);
  }
  state.objects.clear();
  for (const o of msg.objects || []) state.objects.set(`${o.kind}/${o.namespace}/${o.name}`, o);
  state.loading = false;
  updateQueue();
  flushMoves();
  document.body.dataset.revision = String(state.revision);
  emit("objects-changed", { snapshot: true });
}

export function applyDelta(msg) {
  for (const n of msg.nodes || []) renderNode(n);
  for (const p of msg.pods || []) renderPod(p);
  let objectsChanged = false;
  for (const o of msg.objects || []) {
    state.objects.set(`${o.kind}/${o.namespace}/${o.name}`, o);
    objectsChanged = true;
  }
  for (const d of msg.deleted || []) {
    if (d.kind === "Pod") removePod(d.key, d.rv);
    else if (d.kind === "Node") removeNode(d.name);
    else if (state.objects.delete(`${d.kind}/${d.namespace}/${d.name}`)) objectsChanged = true;
  }
  updateQueue();
  flushMoves();
  const changes = (msg.pods || []).length + (msg.nodes || []).length + (msg.objects || []).length + (msg.deleted || []).length;
  if (changes) {
    flash(component("kube-apiserver"));
    flash(component("etcd"));
  }
  for (const a of msg.activities || []) lightUp(a);
  document.body.dataset.revision = String(msg.revision || state.revision);
  if (objectsChanged || (msg.pods || []).length || (msg.deleted || []).length) emit("objects-changed", { snapshot: false });
}

export function setShowSystem(show) {
  els.map.classList.toggle("hide-system", !show);
}

export { config };
