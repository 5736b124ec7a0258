// The side panel: the resource tree, the Events timeline, the Activity list, and the inspector that
// opens on any object clicked anywhere on the page (its `kubectl describe`, its YAML, its events and,
// for a pod, how kube-scheduler decided where it runs or why it waits).

import { $, $$, L, config, el, emit, fmt, on, request, splitTime, statusText, toast } from "./util.js";
import { category, state as mapState } from "./map.js";
import { noteAction } from "./trail.js";
import * as traffic from "./traffic.js";

let activeTab = "tree";
let treeTimer = null;
let eventsTimer = null;
let lastTree = null;
let showSystem = true;
let inspected = null; // {kind, namespace, name}
let inspectTab = "describe";
let inspectTimer = null;

export function init() {
  for (const tab of $$(".side-tab")) tab.addEventListener("click", () => selectTab(tab.dataset.tab));
  document.addEventListener("click", onInspectClick);
  $("#inspector-close").addEventListener("click", closeInspector);
  for (const tab of $$(".inspect-tab")) tab.addEventListener("click", () => selectInspectTab(tab.dataset.tab));
  $("#inspector-delete").addEventListener("click", deleteInspected);
  $("#inspector-edit").addEventListener("click", editInspected);
  on("objects-changed", () => { scheduleTree(); scheduleEvents(); scheduleInspect(); });
  on("show-system", (show) => { showSystem = show; if (lastTree) renderTree(lastTree); });
  document.addEventListener("keydown", (e) => { if (e.key === "Escape" && inspected) closeInspector(); });
  scheduleTree(0);
}

function selectTab(name) {
  activeTab = name;
  for (const tab of $$(".side-tab")) tab.setAttribute("aria-selected", tab.dataset.tab === name ? "true" : "false");
  for (const pane of $$(".side-pane")) pane.hidden = pane.dataset.pane !== name;
  if (name === "events") scheduleEvents(0);
  if (name === "tree") scheduleTree(0);
}

// --- the resource tree -----------------------------------------------------------------------------
// A change that arrives while the tree is waiting or loading marks it dirty, so it loads once more after:
// otherwise the last change of a burst could be lost and the tree would stay stale.
let treeDirty = false;
let eventsDirty = false;

function scheduleTree(delay) {
  if (treeTimer) {
    treeDirty = true;
    return;
  }
  treeTimer = setTimeout(loadTree, delay === undefined ? 1200 : delay);
}

async function loadTree() {
  treeDirty = false;
  const res = await request(config.tree);
  treeTimer = null;
  if (treeDirty) scheduleTree();
  if (!res.ok) return;
  lastTree = res.data;
  traffic.setServices(res.data.roots || []);
  renderTree(res.data);
}

const KIND_ICON = {
  Deployment: "D", ReplicaSet: "RS", Pod: "P", StatefulSet: "SS", DaemonSet: "DS", Job: "J", CronJob: "CJ",
  Service: "S", Endpoints: "EP", Ingress: "I", PersistentVolumeClaim: "PVC", ConfigMap: "CM", Secret: "Sec",
  ReplicationController: "RC", Address: "IP",
};

function treeNode(node, depth) {
  const li = el("li", "tree-node");
  li.dataset.kind = node.kind;
  const row = el("div", "tree-row");
  row.style.setProperty("--depth", depth);
  const badge = el("span", "kind-badge", KIND_ICON[node.kind] || node.kind.slice(0, 2));
  badge.title = node.kind;
  badge.dataset.kind = node.kind;
  const name = el("button", "tree-name linkish", node.name);
  name.type = "button";
  if (node.kind !== "Address") name.dataset.inspect = `${node.kind}/${node.namespace}/${node.name}`;
  const status = el("span", "tree-status", node.status || "");
  if (node.kind === "Pod") {
    const p = mapState.pods.get(`${node.namespace}/${node.name}`);
    status.className = "tree-status st-" + (p ? category(p) : "unknown");
    if (p) status.textContent = `${p.status} ${p.ready}`;
  }
  if (node.ready === false) status.textContent += ` (${L.notReady})`;
  if (node.deleting) li.classList.add("deleting");
  if (node.revision) row.append(el("span", "tree-rev", "rev " + node.revision));
  row.prepend(badge, name, status);
  li.append(row);
  if (node.children && node.children.length) {
    const ul = el("ul", "tree-children");
    for (const child of node.children) ul.append(treeNode(child, depth + 1));
    li.append(ul);
  }
  return li;
}

function renderTree(data) {
  const box = $("#tree");
  const roots = (data.roots || []).filter((r) => showSystem || r.namespace !== "kube-system");
  const byNs = new Map();
  for (const r of roots) {
    const ns = r.namespace || "";
    if (!byNs.has(ns)) byNs.set(ns, []);
    byNs.get(ns).push(r);
  }
  const out = [];
  for (const [ns, list] of Array.from(byNs.entries()).sort((a, b) => a[0].localeCompare(b[0]))) {
    const section = el("section", "tree-ns");
    section.append(el("h3", "tree-ns-title", ns ? `${L.namespace}: ${ns}` : L.clusterScoped));
    const ul = el("ul", "tree-root");
    for (const r of list) ul.append(treeNode(r, 0));
    section.append(ul);
    out.push(section);
  }
  if (!out.length) out.push(el("p", "empty", L.noObjects));
  box.replaceChildren(...out);
}

// --- events ----------------------------------------------------------------------------------------
function scheduleEvents(delay) {
  if (activeTab !== "events") return;
  if (eventsTimer) {
    eventsDirty = true;
    return;
  }
  eventsTimer = setTimeout(loadEvents, delay === undefined ? 1500 : delay);
}

async function loadEvents() {
  eventsDirty = false;
  const res = await request(config.events);
  eventsTimer = null;
  if (eventsDirty) scheduleEvents();
  if (!res.ok) return;
  const list = $("#events");
  const events = (res.data.events || []).filter((e) => showSystem || e.namespace !== "kube-system");
  const items = events.slice(-150).reverse().map((e) => {
    const li = el("li", "event event-" + e.type.toLowerCase());
    const when = el("span", "ev-time", e.time ? splitTime(e.time).time : "");
    const reason = el("span", "ev-reason", e.reason + (e.count > 1 ? ` ×${e.count}` : ""));
    const obj = el("button", "ev-object linkish", `${e.object.kind}/${e.object.name}`);
    obj.type = "button";
    obj.dataset.inspect = `${e.object.kind}/${e.object.namespace}/${e.object.name}`;
    const msg = el("span", "ev-message", e.message);
    const src = el("span", "ev-source", e.source + (e.host ? ` (${e.host})` : ""));
    li.append(when, reason, obj, src, msg);
    return li;
  });
  if (!items.length) items.push(el("li", "empty", L.noEvents));
  list.replaceChildren(...items);
}

// --- the inspector -----------------------------------------------------------------------------------
function onInspectClick(event) {
  const pod = event.target.closest(".pod[data-pod]");
  if (pod) {
    const [ns, name] = pod.dataset.pod.split("/");
    openInspector({ kind: "Pod", namespace: ns, name });
    return;
  }
  const target = event.target.closest("[data-inspect]");
  if (target) {
    const [kind, namespace, ...rest] = target.dataset.inspect.split("/");
    openInspector({ kind, namespace, name: rest.join("/") });
  }
}

export function openInspector(ref) {
  inspected = ref;
  const panel = $("#inspector");
  panel.hidden = false;
  panel.dataset.kind = ref.kind;
  $("#inspector-title").textContent = `${ref.kind} ${ref.namespace ? ref.namespace + "/" : ""}${ref.name}`;
  $("#inspector-status").textContent = "";
  $(".inspect-tab[data-tab='scheduling']").hidden = ref.kind !== "Pod";
  if (ref.kind !== "Pod" && inspectTab === "scheduling") inspectTab = "describe";
  if (ref.kind === "Pod") {
    const p = mapState.pods.get(`${ref.namespace}/${ref.name}`);
    if (p && !p.node) inspectTab = "scheduling";
  }
  selectInspectTab(inspectTab);
  $("#inspect-body").replaceChildren(el("p", "empty", L.loading));
  loadInspected();
  for (const node of $$(".selected")) node.classList.remove("selected");
  const podEl = ref.kind === "Pod" ? document.querySelector(`.pod[data-pod="${ref.namespace}/${ref.name}"]`) : null;
  if (podEl) podEl.classList.add("selected");
}

function closeInspector() {
  inspected = null;
  $("#inspector").hidden = true;
  for (const node of $$(".selected")) node.classList.remove("selected");
}

function selectInspectTab(name) {
  inspectTab = name;
  for (const tab of $$(".inspect-tab")) tab.setAttribute("aria-selected", tab.dataset.tab === name ? "true" : "false");
  if (lastView) renderInspected(lastView);
}

function scheduleInspect() {
  if (!inspected || inspectTimer) return;
  inspectTimer = setTimeout(() => { inspectTimer = null; loadInspected(); }, 1500);
}

let lastView = null;

async function loadInspected() {
  const ref = inspected;
  if (!ref) return;
  const qs = new URLSearchParams({ kind: ref.kind, namespace: ref.namespace || "", name: ref.name });
  const res = await request(`${config.object}?${qs}`);
  if (inspected !== ref) return;
  if (!res.ok) {
    lastView = null;
    $("#inspector-status").textContent = res.status === 404 ? L.gone : "";
    $("#inspect-body").replaceChildren(el("pre", "code error-text", statusText(res.data)));
    return;
  }
  lastView = res.data;
  $("#inspector-status").textContent = res.data.status || "";
  renderInspected(res.data);
}

function renderInspected(view) {
  const body = $("#inspect-body");
  const keepScroll = body.scrollTop;
  let content;
  if (inspectTab === "yaml") {
    content = el("pre", "code", view.yaml);
  } else if (inspectTab === "events") {
    content = el("ul", "events compact");
    for (const e of (view.events || []).slice().reverse()) {
      const li = el("li", "event event-" + (e.type || "normal").toLowerCase());
      li.append(el("span", "ev-time", e.time ? splitTime(e.time).time : ""), el("span", "ev-reason", e.reason + (e.count > 1 ? ` ×${e.count}` : "")),
        el("span", "ev-source", e.source), el("span", "ev-message", e.message));
      content.append(li);
    }
    if (!content.children.length) content.append(el("li", "empty", L.noEvents));
  } else if (inspectTab === "scheduling") {
    content = schedulingView(view);
  } else {
    content = el("pre", "code", view.describe || L.describeUnavailable + "\n\n" + view.yaml);
  }
  body.replaceChildren(content);
  body.scrollTop = keepScroll;
}

function schedulingView(view) {
  const box = el("div", "scheduling");
  const s = view.scheduling || {};
  if (s.node) {
    box.append(el("p", "sched-summary ok", fmt(L.scheduledOn, { node: s.node })));
  } else if (s.waiting) {
    box.append(el("p", "sched-summary bad", `${s.waiting.reason}: ${s.waiting.message}`));
  } else {
    box.append(el("p", "sched-summary", L.notScheduledYet));
  }
  const ex = s.explanation;
  if (!ex) {
    const failed = (view.events || []).filter((e) => e.reason === "FailedScheduling").pop();
    if (failed && !s.waiting) box.append(el("p", "sched-summary bad", failed.message));
    box.append(el("p", "hint", L.noExplanation));
    return box;
  }
  box.append(el("p", "hint", fmt(L.schedulerDecision, { attempt: ex.attempt, evaluated: ex.nodesEvaluated, total: ex.nodesTotal, feasible: ex.feasible })));
  const table = el("table", "sched-table");
  const head = el("tr");
  for (const h of [L.node, L.verdict, L.details]) head.append(el("th", "", h));
  table.append(head);
  const rows = Object.entries(ex.nodes || {}).sort((a, b) => {
    const ta = a[1].total === null ? -1 : a[1].total;
    const tb = b[1].total === null ? -1 : b[1].total;
    return tb - ta || a[0].localeCompare(b[0]);
  });
  for (const [node, v] of rows) {
    const tr = el("tr", v.filter ? "rejected" : (node === ex.node ? "chosen" : "feasible"));
    tr.append(el("td", "mono", node));
    if (v.filter) {
      tr.append(el("td", "", `✗ ${v.filter.plugin || ""}`));
      tr.append(el("td", "", (v.filter.reasons || []).join("; ") || v.filter.code || ""));
    } else {
      tr.append(el("td", "", (node === ex.node ? "✓ " + L.chosen : "✓ " + L.fits) + ` (${v.total})`));
      const parts = Object.entries(v.scores || {}).filter(([, sc]) => sc).map(([plugin, sc]) => `${plugin} ${sc}`);
      tr.append(el("td", "small", parts.join(", ")));
    }
    table.append(tr);
  }
  box.append(table);
  return box;
}

async function deleteInspected() {
  const ref = inspected;
  if (!ref) return;
  if (!window.confirm(fmt(L.confirmDelete, { what: `${ref.kind} ${ref.name}` }))) return;
  noteAction(`kubectl delete ${ref.kind.toLowerCase()} ${ref.name}`);
  const res = await request(config.objectDelete, { kind: ref.kind, namespace: ref.namespace, name: ref.name });
  if (!res.ok) toast(statusText(res.data), "error");
  else toast(res.data.output.trim());
  scheduleInspect();
}

function editInspected() {
  if (!lastView) return;
  emit("edit-yaml", { yaml: cleanForEditing(lastView.yaml), file: `${lastView.name}.yaml` });
}

/** An object's YAML as a learner would write it: without status and the server's bookkeeping. */
function cleanForEditing(text) {
  const lines = text.split("\n");
  const out = [];
  let skipping = null;
  const dropTop = new Set(["status:"]);
  const dropMeta = ["creationTimestamp:", "generation:", "resourceVersion:", "uid:", "managedFields:", "ownerReferences:",
    "selfLink:"];
  let inMeta = false;
  for (const line of lines) {
    if (skipping !== null) {
      const indent = line.length - line.trimStart().length;
      if (line.trim() && indent <= skipping) skipping = null;
      else continue;
    }
    if (/^\S/.test(line)) inMeta = line.startsWith("metadata:");
    if (dropTop.has(line.trim()) && /^\S/.test(line)) { skipping = 0; continue; }
    if (inMeta && /^ {2}\S/.test(line) && dropMeta.some((m) => line.trim().startsWith(m))) {
      skipping = 2;
      continue;
    }
    if (inMeta && line.trim().startsWith("kubectl.kubernetes.io/last-applied-configuration:")) {
      skipping = line.length - line.trimStart().length;
      continue;
    }
    out.push(line);
  }
  return out.join("\n").replace(/\n {2}annotations: \{\}\n/, "\n");
}

export function refreshNow() {
  scheduleTree(0);
  scheduleEvents(0);
}
