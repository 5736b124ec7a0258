// "What just happened": the request's trail through the cluster, as a row of steps
//   kubectl apply -> kube-apiserver -> etcd -> kube-controller-manager -> kube-scheduler -> kubelet (node-1)
// each with what it did. A trail starts with a write from outside the control plane (the editor, the
// terminal, a node action, the real kubectl) or with the first activity after a quiet spell, and grows
// as the following ticks bring the next components into play. The Activity panel lists every step.

import { $, L, el, splitTime } from "./util.js";
import { componentOf } from "./map.js";

const QUIET_MS = 4000; // a pause this long ends a trail; the next activity starts a new one
const MAX_STEPS = 8;
let steps = []; // {who, label, lines: [], count}
let lastAt = 0;
let pendingAction = null; // {label, at}: what the learner just did on this page
let els = null;

export function init() {
  els = { trail: $("#trail"), steps: $("#trail-steps"), activity: $("#activity") };
}

/** The page did something (apply from the editor, a kubectl command, a node action): the trail starts with it. */
export function noteAction(label) {
  pendingAction = { label, at: performance.now() };
}

function verb(a) {
  return (L.verbs && L.verbs[a.action]) || a.action;
}

function describe(a) {
  const target = a.namespace ? `${a.namespace}/${a.name}` : a.name;
  return `${verb(a)} ${a.kind} ${target}` + (a.detail ? ` → ${a.detail}` : "");
}

// A kubelet reporting its own node's status is a heartbeat: it lights the kubelet but tells no story.
function heartbeat(a) {
  return (a.kind === "Node" && a.action === "status" && (a.component || "").includes("kubelet"))
    || a.kind === "Lease" || (a.component === "traffic");
}

function addStep(who, label, line) {
  const last = steps[steps.length - 1];
  if (last && last.who === who) {
    last.count += 1;
    if (last.lines.length < 3) last.lines.push(line);
    last.fresh = true;
    return;
  }
  steps.push({ who, label, lines: line ? [line] : [], count: 1, fresh: true });
  if (steps.length > MAX_STEPS) steps = steps.slice(steps.length - MAX_STEPS);
}

/** One merged delta: its activities and the writes nobody in the control plane made (external). */
export function onDelta(msg) {
  const activities = (msg.activities || []).filter((a) => !heartbeat(a));
  const explained = new Set(activities.map((a) => `${a.kind}/${a.namespace}/${a.name}`));
  const external = [];
  for (const p of msg.pods || []) if (!explained.has(`Pod/${p.namespace}/${p.name}`)) external.push(["Pod", p.namespace, p.name]);
  for (const o of msg.objects || []) if (!explained.has(`${o.kind}/${o.namespace}/${o.name}`)) external.push([o.kind, o.namespace, o.name]);
  for (const d of msg.deleted || []) if (!explained.has(`${d.kind}/${d.namespace}/${d.name}`)) external.push([d.kind, d.namespace, d.name, true]);
  const now = performance.now();
  const fromPage = pendingAction && now - pendingAction.at < 5000 ? pendingAction : null;
  // Pod status churn from kubelets arrives as pod changes with a kubelet activity; an external write is
  // one no component claimed. Without any, and without activities, nothing to tell.
  const externalWrites = external.filter((x) => x[0] !== "Pod" || fromPage || x[3]);
  if (!activities.length && !externalWrites.length) return;
  if (now - lastAt > QUIET_MS || (fromPage && externalWrites.length)) {
    steps = [];
  }
  lastAt = now;
  if (externalWrites.length) {
    const first = externalWrites[0];
    const what = `${first[3] ? L.verbs.delete : L.verbs.update} ${first[0]} ${first[1] ? first[1] + "/" : ""}${first[2]}`
      + (externalWrites.length > 1 ? ` +${externalWrites.length - 1}` : "");
    addStep("client", fromPage ? fromPage.label : L.apiClient, fromPage ? "" : what);
    pendingAction = null;
    addStep("kube-apiserver", "kube-apiserver", L.apiserverChecks);
    addStep("etcd", "etcd", L.etcdStores);
  }
  for (const a of activities) {
    const who = componentOf(a);
    const label = (who === "kubelet" || who === "kube-proxy") && a.node ? `${who} (${a.node})` : who;
    const key = who === "kubelet" || who === "kube-proxy" ? `${who}:${a.node}` : who;
    // Every component's write passes kube-apiserver into etcd: shown once after the first controller write.
    addStep(key, label, describe(a));
  }
  render();
  addActivities(activities, msg.time);
}

function render() {
  const nodes = [];
  steps.forEach((s, i) => {
    if (i) nodes.push(el("span", "trail-arrow", "→"));
    const chip = el("div", "trail-step" + (s.fresh ? " fresh" : ""));
    chip.dataset.who = s.who.split(":")[0];
    chip.style.setProperty("--delay", `${i * 120}ms`);
    const head = el("div", "trail-who", s.label + (s.count > 1 ? ` ×${s.count}` : ""));
    chip.append(head);
    for (const line of s.lines.slice(0, 2)) chip.append(el("div", "trail-what", line));
    nodes.push(chip);
    s.fresh = false;
  });
  if (!nodes.length) nodes.push(el("span", "empty", L.noActivity));
  els.steps.replaceChildren(...nodes);
  els.trail.classList.toggle("has-steps", steps.length > 0);
}

function addActivities(list, time) {
  if (!list.length) return;
  const empty = els.activity.querySelector(".empty");
  if (empty) empty.remove();
  const stamp = splitTime(time).time;
  const fragment = document.createDocumentFragment();
  for (const a of list.slice(-12).reverse()) {
    const li = el("li", "fresh");
    li.dataset.component = a.component;
    li.dataset.action = a.action;
    li.append(el("span", "a-time", stamp), el("span", "a-who", a.component + (a.node ? ` (${a.node})` : "")),
      el("span", "a-what", describe(a)));
    fragment.append(li);
  }
  els.activity.prepend(fragment);
  while (els.activity.children.length > 60) els.activity.lastElementChild.remove();
}
