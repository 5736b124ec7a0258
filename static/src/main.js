// KubeDojo's learner page: wires the modules together.
//   stream.js   the map's WebSocket, applied once per animation frame
//   map.js      control plane, scheduling queue, worker nodes and pods
//   trail.js    "what just happened": the request's path through the components; the Activity list
//   traffic.js  Services, their counters, and request particles
//   panels.js   resource tree, Events timeline, the inspector (describe, YAML, scheduling)
//   controls.js clock and node actions
//   editor.js   the YAML editor (CodeMirror 6)
//   terminal.js the web terminal (xterm.js)

import "@xterm/xterm/css/xterm.css";
import "./app.css";

import { $, $$, L, config, emit, on } from "./util.js";
import * as stream from "./stream.js";
import * as map from "./map.js";
import * as trail from "./trail.js";
import * as traffic from "./traffic.js";
import * as panels from "./panels.js";
import * as controls from "./controls.js";
import * as editor from "./editor.js";
import * as terminal from "./terminal.js";

function initDock() {
  const dock = $("#dock");
  const KEY = "kubedojo.dock";
  const saved = (() => { try { return JSON.parse(localStorage.getItem(KEY) || "{}"); } catch (e) { return {}; } })();
  let current = saved.tab || "editor";
  const select = (name) => {
    current = name;
    for (const tab of $$(".dock-tab")) tab.setAttribute("aria-selected", tab.dataset.tab === name ? "true" : "false");
    for (const pane of $$(".dock-pane")) pane.hidden = pane.dataset.pane !== name;
    dock.classList.remove("collapsed");
    if (name === "terminal") terminal.start();
    persist();
  };
  const persist = () => {
    try { localStorage.setItem(KEY, JSON.stringify({ tab: current, collapsed: dock.classList.contains("collapsed"), height: dock.style.height })); } catch (e) { /* ignore */ }
  };
  for (const tab of $$(".dock-tab")) tab.addEventListener("click", () => select(tab.dataset.tab));
  $("#dock-toggle").addEventListener("click", () => {
    dock.classList.toggle("collapsed");
    $("#dock-toggle").setAttribute("aria-expanded", dock.classList.contains("collapsed") ? "false" : "true");
    persist();
    emit("dock-resized");
    traffic.markLayoutDirty();
  });
  // Drag the dock's top edge to resize it.
  const handle = $("#dock-resize");
  handle.addEventListener("pointerdown", (e) => {
    e.preventDefault();
    handle.setPointerCapture(e.pointerId);
    const startY = e.clientY;
    const startH = dock.getBoundingClientRect().height;
    const move = (ev) => {
      const h = Math.max(160, Math.min(window.innerHeight - 160, startH + (startY - ev.clientY)));
      dock.style.height = h + "px";
      traffic.markLayoutDirty();
    };
    const up = () => {
      handle.removeEventListener("pointermove", move);
      handle.removeEventListener("pointerup", up);
      persist();
      emit("dock-resized");
    };
    handle.addEventListener("pointermove", move);
    handle.addEventListener("pointerup", up);
  });
  if (saved.height) dock.style.height = saved.height;
  on("show-dock", (name) => select(name));
  select(current);
  if (saved.collapsed) dock.classList.add("collapsed");
}

function initSystemToggle() {
  const box = $("#show-system");
  const KEY = "kubedojo.showSystemPods";
  box.checked = localStorage.getItem(KEY) !== "false";
  const apply = () => {
    map.setShowSystem(box.checked);
    localStorage.setItem(KEY, box.checked ? "true" : "false");
    emit("show-system", box.checked);
    traffic.markLayoutDirty();
  };
  box.addEventListener("change", apply);
  apply();
}

function initKubectlPanel() {
  for (const button of $$("[data-copy]")) {
    button.addEventListener("click", async () => {
      const text = $(button.dataset.copy).textContent;
      try {
        await navigator.clipboard.writeText(text);
        button.textContent = L.copied;
      } catch (e) {
        button.textContent = L.copyFailed;
      }
      setTimeout(() => { button.textContent = L.copy; }, 1500);
    });
  }
  for (const button of $$("[data-try]")) {
    button.addEventListener("click", () => {
      emit("show-dock", "terminal");
      setTimeout(() => terminal.type(button.dataset.try), 300);
    });
  }
}

function main() {
  map.init();
  trail.init();
  traffic.init();
  panels.init();
  controls.init();
  editor.init();
  terminal.init();
  initDock();
  initSystemToggle();
  initKubectlPanel();

  stream.onSnapshot((msg) => {
    controls.setClock(msg.time, msg.speed, msg.paused, true);
    traffic.markLayoutDirty();
  });
  stream.onDelta((msg) => {
    controls.setClock(msg.time, msg.speed, msg.paused, false);
    trail.onDelta(msg);
    if ((msg.pods || []).length || (msg.nodes || []).length || (msg.deleted || []).length) traffic.markLayoutDirty();
    if (msg.flows && msg.flows.length) traffic.addFlows(msg.flows);
    if (msg.services) traffic.updateCounters(msg.services);
  });
  // The editor's files also live in the terminal (kubectl apply -f app.yml).
  emit("file-changed", editor.files());
  stream.start();

  // For browser tests and bench/browser_frames.py: feed messages as if the socket had sent them.
  window.kubedojo = {
    inject: (msg) => stream.push(msg),
    disconnect: () => stream.disconnect(),
    state: map.state,
    particles: () => traffic.particleCount(),
    editor: { text: () => editor.text(), load: (t, f) => editor.load(t, f) },
    terminal: { type: (t) => terminal.type(t), ready: () => terminal.isReady() },
    inspect: (kind, namespace, name) => panels.openInspector({ kind, namespace, name }),
  };
  document.body.dataset.ready = "true";
}

main();
