// The clock (pause, step, 1x / 5x / 20x and the virtual time) and the node actions (add a node,
// cordon / uncordon, drain, fail / recover), each a POST to the page's endpoints.

import { $, $$, L, config, el, fmt, request, splitTime, statusText, toast } from "./util.js";
import { state as mapState } from "./map.js";
import { noteAction } from "./trail.js";

const clock = { time: config.time, speed: config.speed, paused: config.paused, at: performance.now() };
let shownTime = 0;
let els = null;

export function init() {
  els = {
    clock: $("#clock"),
    date: $("#clock-date"),
    time: $("#clock-time"),
    speed: $("#clock-speed"),
    pause: $("#pause-button"),
    step: $("#step-button"),
    speeds: $$(".btn-speed"),
  };
  els.pause.addEventListener("click", () => control({ paused: !clock.paused }));
  els.step.addEventListener("click", () => control({ step: 1 }));
  for (const b of els.speeds) b.addEventListener("click", () => control({ speed: Number(b.dataset.speed), paused: false }));
  setClock(config.time, config.speed, config.paused, true);
  setInterval(drawClock, 250);

  $("#add-node").addEventListener("click", addNode);
  document.addEventListener("click", onNodeMenu);
  document.addEventListener("keydown", (e) => { if (e.key === "Escape") closeMenu(); });
}

export function setClock(time, speed, paused, exact) {
  Object.assign(clock, { time, speed, paused, at: performance.now() });
  if (exact) shownTime = 0;
  els.clock.dataset.paused = paused ? "true" : "false";
  els.speed.textContent = "×" + (Number.isInteger(speed) ? speed : speed.toFixed(1));
  els.pause.textContent = paused ? L.resume : L.pause;
  els.pause.setAttribute("aria-pressed", paused ? "true" : "false");
  for (const b of els.speeds) b.setAttribute("aria-pressed", Number(b.dataset.speed) === speed ? "true" : "false");
  drawClock();
}

function clockNow() {
  return clock.paused ? clock.time : clock.time + ((performance.now() - clock.at) / 1000) * clock.speed;
}

function drawClock() {
  let t = clockNow();
  if (t < shownTime && shownTime - t < 3) t = shownTime;
  shownTime = t;
  const parts = splitTime(t);
  els.date.textContent = parts.date;
  els.time.textContent = parts.time;
}

async function control(body) {
  const res = await request(config.control, body);
  if (res.ok) setClock(res.data.time, res.data.speed, res.data.paused, true);
  else toast(statusText(res.data), "error");
}

// --- nodes -------------------------------------------------------------------------------------
async function addNode() {
  const btn = $("#add-node");
  btn.disabled = true;
  noteAction(L.addNodeAction);
  const res = await request(config.nodes, { size: "standard" });
  btn.disabled = false;
  if (!res.ok) toast(statusText(res.data), "error");
  else toast(fmt(L.nodeAdded, { node: res.data.node }));
}

let menu = null;

function closeMenu() {
  if (menu) {
    menu.remove();
    menu = null;
  }
}

function onNodeMenu(event) {
  const button = event.target.closest("[data-node-menu]");
  if (!button) {
    if (menu && !event.target.closest(".node-menu")) closeMenu();
    return;
  }
  const name = button.dataset.nodeMenu;
  const wasOpen = menu && menu.dataset.node === name;
  closeMenu();
  if (wasOpen) return;
  const node = mapState.nodes.get(name);
  const cordoned = node && node.status.includes("SchedulingDisabled");
  const stopped = node && node.stopped;
  menu = el("div", "node-menu");
  menu.dataset.node = name;
  menu.setAttribute("role", "menu");
  const items = [
    [cordoned ? "uncordon" : "cordon", cordoned ? L.uncordon : L.cordon, cordoned ? L.uncordonHint : L.cordonHint],
    ["drain", L.drain, L.drainHint],
    [stopped ? "recover" : "fail", stopped ? L.recover : L.fail, stopped ? L.recoverHint : L.failHint],
  ];
  for (const [action, label, hint] of items) {
    const item = el("button", "node-menu-item");
    item.type = "button";
    item.setAttribute("role", "menuitem");
    item.dataset.action = action;
    item.append(el("span", "nm-label", label), el("span", "nm-hint", hint));
    item.addEventListener("click", () => { closeMenu(); nodeAction(name, action); });
    menu.append(item);
  }
  button.parentElement.append(menu);
  menu.querySelector("button").focus();
}

const COMMANDS = { cordon: "kubectl cordon", uncordon: "kubectl uncordon", drain: "kubectl drain --ignore-daemonsets" };

export async function nodeAction(name, action) {
  noteAction(COMMANDS[action] ? `${COMMANDS[action]} ${name}` : fmt(action === "fail" ? L.failAction : L.recoverAction, { node: name }));
  const url = config.nodeAction.replace("{node}", encodeURIComponent(name)).replace("{action}", action);
  const res = await request(url, {});
  if (!res.ok) {
    toast(statusText(res.data), "error");
    return;
  }
  const done = { cordon: L.cordoned, uncordon: L.uncordoned, drain: L.drained, fail: L.failed, recover: L.recovered }[action];
  let text = `${name}: ${done}`;
  if (action === "drain" && res.data.evicted) text += ` (${fmt(L.evictedCount, { count: res.data.evicted.length })})`;
  if (action === "fail") text += " — " + L.failExplain;
  toast(text);
}
