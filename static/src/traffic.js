// Traffic: every flow the network simulation reports (client -> Ingress / LoadBalancer / NodePort ->
// Service -> kube-proxy -> pod) becomes a particle travelling along those boxes on one canvas over the
// map; a failed request turns red and flashes the box where it failed. Each Service card keeps the
// counters the simulation sends (requests, errors, latency p50/p95).

import { $, L, config, el, emit, fmt, request, toast } from "./util.js";
import { agentElement, flash, nodeElement, podElement } from "./map.js";

const MAX_PARTICLES = 400;
const SEGMENT_MS = 260; // time a particle spends between two boxes
const services = new Map(); // "ns/name" -> {card, counters, summary, traffic}
const particles = [];
let canvas = null;
let ctx = null;
let layer = null;
let anchorsDirty = true;
let anchorCache = new Map();
let layerRect = null;
let running = false;
let sources = new Map(); // "Kind/ns/name" -> rate

export function init() {
  layer = $("#map");
  canvas = $("#traffic-canvas");
  ctx = canvas.getContext("2d");
  new ResizeObserver(() => { anchorsDirty = true; }).observe(layer);
  layer.addEventListener("scroll", () => { anchorsDirty = true; }, { passive: true });
  window.addEventListener("resize", () => { anchorsDirty = true; });
  $("#services").addEventListener("click", onClick);
  refreshSources();
}

export function markLayoutDirty() { anchorsDirty = true; }

// --- the Services strip ------------------------------------------------------------------------
/** The tree's Service (and Ingress) nodes: one card each, in the traffic strip. */
export function setServices(roots) {
  const seen = new Set();
  const box = $("#service-cards");
  const kinds = { Ingress: false, LoadBalancer: false, NodePort: false };
  for (const r of roots) {
    if (r.kind !== "Service" && r.kind !== "Ingress") continue;
    if (r.namespace === "kube-system" || (r.namespace === "default" && r.name === "kubernetes")) continue;
    const key = `${r.kind}/${r.namespace}/${r.name}`;
    seen.add(key);
    let s = services.get(key);
    if (!s) {
      s = createCard(r, key);
      services.set(key, s);
      box.append(s.card);
      anchorsDirty = true;
    }
    if (s.summary !== r.status) {
      s.summary = r.status;
      s.typeEl.textContent = r.kind === "Ingress" ? "Ingress " + (r.status || "") : r.status;
      s.typeEl.title = s.typeEl.textContent;
    }
    const type = r.kind === "Ingress" ? "Ingress" : (r.status || "").split(" ")[0];
    s.card.dataset.type = type;
    if (type in kinds) kinds[type] = true;
    if (type === "LoadBalancer") kinds.NodePort = true;
  }
  for (const [key, s] of services) {
    if (!seen.has(key)) {
      s.card.remove();
      services.delete(key);
      anchorsDirty = true;
    }
  }
  for (const [kind, used] of Object.entries(kinds)) {
    const entry = $(`.entry[data-entry="${kind}"]`);
    if (entry) entry.classList.toggle("unused", !used);
  }
  $("#services-empty").hidden = services.size > 0;
  syncTrafficButtons();
}

function createCard(r, key) {
  const card = el("div", "svc-card");
  card.dataset.service = `${r.namespace}/${r.name}`;
  card.dataset.kind = r.kind;
  card.dataset.anchor = (r.kind === "Ingress" ? "ingress:" : "service:") + `${r.namespace}/${r.name}`;
  const name = el("button", "svc-name linkish", (r.namespace !== "default" ? r.namespace + "/" : "") + r.name);
  name.type = "button";
  name.dataset.inspect = `${r.kind}/${r.namespace}/${r.name}`;
  const typeEl = el("div", "svc-type");
  const counters = el("div", "svc-counters");
  const req = el("span", "c-req", "0");
  const err = el("span", "c-err", "0");
  const lat = el("span", "c-lat", "–");
  counters.append(el("span", "c-label", L.requestsShort), req, el("span", "c-label", L.errorsShort), err,
    el("span", "c-label", "p50/p95"), lat);
  const btn = el("button", "btn btn-small svc-traffic", L.sendTraffic);
  btn.type = "button";
  btn.dataset.traffic = key;
  btn.setAttribute("aria-pressed", "false");
  card.append(name, typeEl, counters, btn);
  return { card, typeEl, req, err, lat, btn, summary: null };
}

async function onClick(event) {
  const btn = event.target.closest("[data-traffic]");
  if (!btn) return;
  const [kind, namespace, name] = btn.dataset.traffic.split("/");
  const on = btn.getAttribute("aria-pressed") !== "true";
  btn.disabled = true;
  const res = await request(config.traffic, { kind, namespace, name, rate: on ? 5 : 0 });
  btn.disabled = false;
  if (!res.ok) {
    toast(res.data.message || L.failed, "error");
    return;
  }
  if (on) sources.set(btn.dataset.traffic, 5);
  else sources.delete(btn.dataset.traffic);
  syncTrafficButtons();
  if (on) toast(fmt(L.trafficStarted, { name, target: res.data.target || "" }));
}

async function refreshSources() {
  const res = await request(config.traffic);
  if (!res.ok) return;
  sources = new Map((res.data.sources || []).map((s) => [`${s.kind}/${s.namespace}/${s.name}`, s.rate]));
  syncTrafficButtons();
  updateCounters(res.data.services || {});
}

function syncTrafficButtons() {
  for (const [key, s] of services) {
    const on = sources.has(key);
    s.btn.setAttribute("aria-pressed", on ? "true" : "false");
    s.btn.textContent = on ? L.stopTraffic : L.sendTraffic;
  }
}

function ms(v) {
  if (v === null || v === undefined) return "–";
  return v < 10 ? v.toFixed(1) : String(Math.round(v));
}

export function updateCounters(counters) {
  for (const [key, c] of Object.entries(counters || {})) {
    const s = services.get("Service/" + key) || services.get("Ingress/" + key);
    if (!s) continue;
    s.req.textContent = String(c.requests);
    s.err.textContent = String(c.errors);
    s.err.classList.toggle("bad", c.errors > 0);
    s.lat.textContent = `${ms(c.p50_ms)}/${ms(c.p95_ms)} ms`;
  }
}

// --- particles -----------------------------------------------------------------------------------
function anchorElement(id) {
  const [kind, rest] = [id.slice(0, id.indexOf(":")), id.slice(id.indexOf(":") + 1)];
  switch (kind) {
    case "outside": return $("#entry-outside");
    case "entry": return $(`.entry[data-entry="${rest}"]`);
    case "service": return $(`[data-anchor="service:${rest}"]`);
    case "ingress": return $(`[data-anchor="ingress:${rest}"]`) || $('.entry[data-entry="Ingress"]');
    case "proxy": return agentElement(rest, "kube-proxy");
    case "node": return nodeElement(rest);
    case "pod": return podElement(rest);
    default: return null;
  }
}

function anchor(id) {
  if (anchorsDirty) {
    anchorCache = new Map();
    layerRect = layer.getBoundingClientRect();
    anchorsDirty = false;
  }
  if (anchorCache.has(id)) return anchorCache.get(id);
  const node = anchorElement(id);
  let point = null;
  if (node && node.isConnected) {
    const r = node.getBoundingClientRect();
    if (r.width) point = { x: r.left - layerRect.left + r.width / 2, y: r.top - layerRect.top + r.height / 2, node };
  }
  anchorCache.set(id, point);
  return point;
}

/** The boxes a flow passes, as anchor ids, from its hops. */
function route(flow) {
  const ids = [];
  const push = (id) => { if (id && ids[ids.length - 1] !== id) ids.push(id); };
  for (const h of flow.hops || []) {
    switch (h.kind) {
      case "client":
        if (flow.client === "pod" && h.namespace) push(`pod:${h.namespace}/${h.name}`);
        else push("outside:");
        break;
      case "load-balancer": push("entry:LoadBalancer"); break;
      case "ingress": push("entry:Ingress"); break;
      case "node": push("entry:NodePort"); if (h.node || h.name) push(`proxy:${h.node || h.name}`); break;
      case "service": push(`service:${h.namespace ? h.namespace + "/" : ""}${h.name}`); break;
      case "kube-proxy": if (h.node) push(`proxy:${h.node}`); break;
      case "pod": push(`pod:${h.namespace ? h.namespace + "/" : ""}${h.name}`); break;
      default: break;
    }
  }
  if (flow.service && !ids.some((i) => i.startsWith("service:"))) push(`service:${flow.service}`);
  if (flow.pod && !ids.some((i) => i.startsWith("pod:"))) push(`pod:${flow.pod}`);
  return ids;
}

/** A tick's flows: one particle each, spread over the next ~250 ms so they do not move as one blob. */
export function addFlows(flows) {
  if (!flows || !flows.length) return;
  const now = performance.now();
  const spread = 250 / flows.length;
  flows.forEach((flow, i) => {
    if (particles.length >= MAX_PARTICLES) particles.shift();
    const ids = route(flow);
    if (ids.length < 2) return;
    const failed = flow.outcome !== "ok" || (flow.status || 0) >= 500;
    particles.push({ ids, start: now + i * spread, failed, flashed: false });
  });
  start();
}

function start() {
  if (running) return;
  running = true;
  requestAnimationFrame(draw);
}

function resize() {
  const w = layer.clientWidth;
  const h = layer.clientHeight;
  const dpr = window.devicePixelRatio || 1;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
    canvas.style.width = w + "px";
    canvas.style.height = h + "px";
  }
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
}

function draw(now) {
  resize();
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  let alive = 0;
  ctx.globalAlpha = 1;
  for (let i = 0; i < particles.length; i++) {
    const p = particles[i];
    const t = now - p.start;
    if (t < 0) { particles[alive++] = p; continue; }
    const segments = p.ids.length - 1;
    const total = segments * SEGMENT_MS;
    const end = p.failed ? total + 350 : total;
    if (t > end) {
      if (p.failed && !p.flashed) fail(p);
      continue;
    }
    particles[alive++] = p;
    const progress = Math.min(t, total) / SEGMENT_MS;
    const seg = Math.min(segments - 1, Math.floor(progress));
    const f = Math.min(1, progress - seg);
    const a = anchor(p.ids[seg]);
    const b = anchor(p.ids[seg + 1]);
    if (!a || !b) continue;
    const x = a.x + (b.x - a.x) * f;
    const y = a.y + (b.y - a.y) * f;
    if (p.failed && t >= total) {
      if (!p.flashed) fail(p);
      ctx.fillStyle = "rgba(197, 48, 48, 0.85)";
      ctx.beginPath();
      ctx.arc(x, y, 4 + (t - total) / 40, 0, Math.PI * 2);
      ctx.fill();
      continue;
    }
    ctx.fillStyle = p.failed && seg === segments - 1 ? "#c53030" : "#326ce5";
    ctx.beginPath();
    ctx.arc(x, y, 3.5, 0, Math.PI * 2);
    ctx.fill();
  }
  particles.length = alive;
  if (alive) requestAnimationFrame(draw);
  else {
    running = false;
    ctx.clearRect(0, 0, canvas.width, canvas.height);
  }
}

function fail(p) {
  p.flashed = true;
  const last = anchor(p.ids[p.ids.length - 1]);
  if (last && last.node) flash(last.node, "flash-error");
  emit("flow-failed", p);
}

export function particleCount() { return particles.length; }
