// The web terminal: xterm.js over /ws/clusters/<name>/terminal/. The line is edited here (cursor keys,
// history, Ctrl-A/E/U/K/W, Ctrl-C, Ctrl-L, Tab completion from the server), then sent whole; output
// streams back while a command runs (`-w`, `logs -f`) and Ctrl-C stops it. `kubectl exec -it` turns the
// prompt into the container shell's until it exits.

import { Terminal } from "@xterm/xterm";
import { FitAddon } from "@xterm/addon-fit";

import { $, L, config, emit, on } from "./util.js";
import { noteAction } from "./trail.js";

const HISTORY_KEY = `kubedojo.history.${config.cluster}`;
const MAX_HISTORY = 500;

let term = null;
let fit = null;
let socket = null;
let attempts = 0;
let mode = "offline"; // prompt | busy | attached | offline
let line = "";
let cursor = 0;
let history = loadHistory();
let historyIndex = history.length;
let draft = "";
let namespace = "default";
let attachedPrompt = "";
let files = {};
let started = false;
let pendingCompletion = null;
let atLineStart = true;

export function init() {
  on("file-changed", (f) => { files = { ...files, ...f }; sendFiles(f); });
  on("show-dock", (which) => { if (which === "terminal") start(); });
  on("dock-resized", () => fitSoon());
}

/** Created lazily, the first time the terminal tab is shown (xterm needs a visible box to measure). */
export function start() {
  if (started) {
    fitSoon();
    term.focus();
    return;
  }
  started = true;
  term = new Terminal({
    cursorBlink: true,
    fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", "Noto Sans Mono CJK JP", monospace',
    fontSize: 13,
    scrollback: 5000,
    convertEol: false,
    theme: { background: "#0f1720", foreground: "#e5e9f0", cursor: "#8ab4f8", selectionBackground: "#33415588" },
  });
  fit = new FitAddon();
  term.loadAddon(fit);
  term.open($("#terminal"));
  fitSoon();
  new ResizeObserver(() => fitSoon()).observe($("#terminal"));
  term.onData(onData);
  term.writeln(`\x1b[1mKubeDojo\x1b[0m — ${L.terminalWelcome}`);
  term.writeln(`\x1b[2m${L.terminalHint}\x1b[0m`);
  connect();
  term.focus();
}

let fitTimer = null;
function fitSoon() {
  if (!fit) return;
  clearTimeout(fitTimer);
  fitTimer = setTimeout(() => { try { fit.fit(); } catch (e) { /* hidden */ } }, 30);
}

function loadHistory() {
  try {
    const h = JSON.parse(localStorage.getItem(HISTORY_KEY) || "[]");
    return Array.isArray(h) ? h.filter((x) => typeof x === "string").slice(-MAX_HISTORY) : [];
  } catch (e) {
    return [];
  }
}

function saveHistory() {
  try { localStorage.setItem(HISTORY_KEY, JSON.stringify(history.slice(-MAX_HISTORY))); } catch (e) { /* ignore */ }
}

// --- the socket --------------------------------------------------------------------------------
function connect() {
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const ws = new WebSocket(scheme + location.host + config.terminal);
  socket = ws;
  document.body.dataset.terminal = "connecting";
  ws.onopen = () => {
    attempts = 0;
    sendFiles(files);
  };
  ws.onmessage = (event) => {
    let msg;
    try { msg = JSON.parse(event.data); } catch (e) { return; }
    handle(msg);
  };
  ws.onclose = (event) => {
    if (socket !== ws) return;
    socket = null;
    document.body.dataset.terminal = "offline";
    if (event.code === 4404) {
      write(`\r\n\x1b[31m${L.terminalGone}\x1b[0m\r\n`);
      mode = "offline";
      return;
    }
    if (mode === "busy" || mode === "attached") write(`\r\n\x1b[33m${L.terminalLost}\x1b[0m\r\n`);
    mode = "offline";
    attempts += 1;
    setTimeout(connect, Math.min(8000, 500 * 2 ** (attempts - 1)));
  };
}

function send(msg) {
  if (socket && socket.readyState === WebSocket.OPEN) {
    socket.send(JSON.stringify(msg));
    return true;
  }
  return false;
}

function sendFiles(f) {
  if (f && Object.keys(f).length) send({ type: "files", files: f });
}

function handle(msg) {
  switch (msg.type) {
    case "ready":
      namespace = msg.namespace || "default";
      document.body.dataset.terminal = "ready";
      mode = "prompt";
      prompt(true);
      break;
    case "output":
      if (msg.stdout) write(crlf(msg.stdout));
      if (msg.stderr) write(crlf(msg.stderr));
      break;
    case "attached":
      mode = "attached";
      if (msg.prompt !== attachedPrompt || line === "") {
        attachedPrompt = msg.prompt || "";
        if (attachedPrompt) redraw();
      }
      break;
    case "exit":
      if (msg.namespace) namespace = msg.namespace;
      attachedPrompt = "";
      mode = "prompt";
      document.body.dataset.lastExit = String(msg.code);
      prompt(true);
      break;
    case "completions":
      completed(msg);
      break;
    default:
      break;
  }
}

function crlf(text) { return text.replace(/\r?\n/g, "\r\n"); }

function write(text) {
  term.write(text);
  if (text) atLineStart = text.endsWith("\n");
  emit("terminal-output", text);
}

function promptText() {
  if (mode === "attached") return attachedPrompt;
  const ns = namespace && namespace !== "default" ? `\x1b[35m(${namespace})\x1b[0m ` : "";
  return `${ns}\x1b[32mlearner@kubedojo\x1b[0m:\x1b[34m~\x1b[0m$ `;
}

function visibleLength(text) {
  return text.replace(/\x1b\[[0-9;]*m/g, "").length;
}

function prompt(fresh) {
  line = "";
  cursor = 0;
  historyIndex = history.length;
  // Like a shell: a new line only when the output did not end with one.
  if (fresh && !atLineStart) term.write("\r\n");
  term.write("\r\x1b[K" + promptText());
  atLineStart = false;
  document.body.dataset.terminal = "prompt";
}

function redraw() {
  const p = promptText();
  term.write("\r\x1b[K" + p + line);
  const back = line.length - cursor;
  if (back > 0) term.write(`\x1b[${back}D`);
  void visibleLength;
}

// --- keys --------------------------------------------------------------------------------------
function onData(data) {
  if (data === "\x03") { // Ctrl-C
    if (mode === "busy" || mode === "attached") {
      if (mode === "attached" && line) {
        term.write("^C");
        line = "";
        cursor = 0;
        term.write("\r\n");
        redraw();
        return;
      }
      term.write("^C");
      send({ type: "interrupt" });
      return;
    }
    term.write("^C");
    prompt(true);
    return;
  }
  if (mode === "busy" || mode === "offline") return; // a running command reads no input
  if (data === "\x0c") { // Ctrl-L
    term.write("\x1b[2J\x1b[3J\x1b[H");
    redraw();
    return;
  }
  if (data.length > 1 && !data.startsWith("\x1b")) {
    // Pasted text: one line at a time.
    const parts = data.replace(/\r\n/g, "\n").replace(/\r/g, "\n").split("\n");
    parts.forEach((part, i) => {
      insert(part.replace(/[\x00-\x1f]/g, ""));
      if (i < parts.length - 1) enter();
    });
    return;
  }
  switch (data) {
    case "\r": enter(); return;
    case "\x7f": case "\b": backspace(); return;
    case "\t": complete(); return;
    case "\x1b[A": historyMove(-1); return;
    case "\x1b[B": historyMove(1); return;
    case "\x1b[C": if (cursor < line.length) { cursor++; term.write(data); } return;
    case "\x1b[D": if (cursor > 0) { cursor--; term.write(data); } return;
    case "\x1b[H": case "\x01": cursor = 0; redraw(); return;
    case "\x1b[F": case "\x05": cursor = line.length; redraw(); return;
    case "\x15": line = line.slice(cursor); cursor = 0; redraw(); return; // Ctrl-U
    case "\x0b": line = line.slice(0, cursor); redraw(); return; // Ctrl-K
    case "\x17": { // Ctrl-W
      const before = line.slice(0, cursor).replace(/\S+\s*$/, "");
      line = before + line.slice(cursor);
      cursor = before.length;
      redraw();
      return;
    }
    case "\x1b[3~": if (cursor < line.length) { line = line.slice(0, cursor) + line.slice(cursor + 1); redraw(); } return;
    default:
      if (data >= " " && !data.startsWith("\x1b")) insert(data);
  }
}

function insert(text) {
  if (!text) return;
  line = line.slice(0, cursor) + text + line.slice(cursor);
  cursor += text.length;
  redraw();
}

function backspace() {
  if (cursor === 0) return;
  line = line.slice(0, cursor - 1) + line.slice(cursor);
  cursor -= 1;
  redraw();
}

function historyMove(delta) {
  if (mode === "attached" || !history.length) return;
  if (historyIndex === history.length) draft = line;
  historyIndex = Math.max(0, Math.min(history.length, historyIndex + delta));
  line = historyIndex === history.length ? draft : history[historyIndex];
  cursor = line.length;
  redraw();
}

function enter() {
  term.write("\r\n");
  atLineStart = true;
  const text = line;
  line = "";
  cursor = 0;
  if (mode === "attached") {
    send({ type: "input", data: text });
    return;
  }
  if (text.trim()) {
    if (history[history.length - 1] !== text.trim()) history.push(text.trim());
    if (history.length > MAX_HISTORY) history = history.slice(-MAX_HISTORY);
    saveHistory();
    historyIndex = history.length;
    const words = text.trim().split(/\s+/);
    if (words[0] === "kubectl" || words[0] === "k") noteAction("kubectl " + words.slice(1, 3).join(" "));
  }
  if (!send({ type: "run", line: text })) {
    write(`\x1b[33m${L.terminalOffline}\x1b[0m`);
    prompt(true);
    return;
  }
  mode = "busy";
  document.body.dataset.terminal = "busy";
}

// --- completion --------------------------------------------------------------------------------
function complete() {
  if (mode !== "prompt") return;
  pendingCompletion = { line, cursor };
  send({ type: "complete", line, cursor });
}

function commonPrefix(items) {
  if (!items.length) return "";
  let p = items[0];
  for (const s of items) while (!s.startsWith(p)) p = p.slice(0, -1);
  return p;
}

function completed(msg) {
  if (!pendingCompletion || msg.line !== line || msg.cursor !== cursor) return;
  pendingCompletion = null;
  const items = msg.items || [];
  const [start, end] = msg.replace || [cursor, cursor];
  if (!items.length) {
    term.write("\x07");
    return;
  }
  const current = line.slice(start, end);
  if (items.length === 1) {
    const word = items[0];
    line = line.slice(0, start) + word + (word.endsWith("/") || word.endsWith("=") ? "" : " ") + line.slice(end);
    cursor = start + word.length + (word.endsWith("/") || word.endsWith("=") ? 0 : 1);
    redraw();
    return;
  }
  const prefix = commonPrefix(items);
  if (prefix.length > current.length) {
    line = line.slice(0, start) + prefix + line.slice(end);
    cursor = start + prefix.length;
    redraw();
    return;
  }
  term.write("\r\n" + items.slice(0, 60).join("  ") + (items.length > 60 ? "  …" : "") + "\r\n");
  redraw();
}

/** Run a command as if typed (the "use your own kubectl" panel's examples, tests). */
export function type(text) {
  start();
  if (mode !== "prompt") return false;
  insert(text);
  enter();
  return true;
}

export function isReady() { return mode === "prompt"; }
