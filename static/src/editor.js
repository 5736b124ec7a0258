// The YAML editor (CodeMirror 6 with YAML highlighting). Every edit is checked, after a short pause,
// by the apiserver in dry-run (our schemas, defaulting, validation, admission): problems appear at
// their line with Kubernetes' wording. Apply and Delete act as `kubectl apply -f` / `kubectl delete -f`.
// The text is also handed to the terminal as a file, so `kubectl apply -f app.yml` works there too.

import { EditorState } from "@codemirror/state";
import { EditorView, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter, drawSelection } from "@codemirror/view";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { syntaxHighlighting, defaultHighlightStyle, indentOnInput, bracketMatching, indentUnit } from "@codemirror/language";
import { searchKeymap } from "@codemirror/search";
import { linter, lintGutter, setDiagnostics } from "@codemirror/lint";
import { yaml } from "@codemirror/lang-yaml";

import { $, L, config, el, emit, fmt, on, request, statusText, toast } from "./util.js";
import { noteAction } from "./trail.js";

const STORAGE_KEY = `kubedojo.editor.${config.cluster}`;
const VALIDATE_DELAY = 700;
let view = null;
let validateTimer = null;
let lastChecked = null;
let generation = 0;

export function init() {
  const saved = loadSaved();
  const initial = saved ? saved.yaml : config.examples[0].yaml;
  $("#editor-file").value = saved ? saved.file : config.examples[0].file;
  view = new EditorView({
    parent: $("#editor"),
    state: EditorState.create({
      doc: initial,
      extensions: [
        lineNumbers(),
        highlightActiveLineGutter(),
        history(),
        drawSelection(),
        indentOnInput(),
        bracketMatching(),
        highlightActiveLine(),
        indentUnit.of("  "),
        EditorState.tabSize.of(2),
        syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
        yaml(),
        lintGutter(),
        linter(null),
        keymap.of([
          { key: "Mod-Enter", run: () => { apply(); return true; } },
          { key: "Mod-s", run: () => { validateNow(); return true; } },
          indentWithTab, ...defaultKeymap, ...historyKeymap, ...searchKeymap,
        ]),
        EditorView.updateListener.of((u) => { if (u.docChanged) changed(); }),
        EditorView.contentAttributes.of({ "aria-label": L.editorLabel, spellcheck: "false" }),
      ],
    }),
  });
  const select = $("#examples");
  for (const ex of config.examples) {
    const option = el("option", "", ex.title);
    option.value = ex.id;
    option.title = ex.note;
    select.append(option);
  }
  select.addEventListener("change", () => {
    const ex = config.examples.find((e) => e.id === select.value);
    if (ex) load(ex.yaml, ex.file);
    select.value = "";
  });
  $("#validate-button").addEventListener("click", validateNow);
  $("#apply-button").addEventListener("click", apply);
  $("#delete-button").addEventListener("click", remove);
  $("#editor-file").addEventListener("change", () => { save(); emit("file-changed", files()); });
  on("edit-yaml", ({ yaml: text, file }) => { load(text, file); emit("show-dock", "editor"); });
  $("#problems").addEventListener("click", (e) => {
    const item = e.target.closest("[data-line]");
    if (item) goToLine(Number(item.dataset.line));
  });
  validateSoon(200);
}

function loadSaved() {
  try {
    const saved = JSON.parse(localStorage.getItem(STORAGE_KEY) || "null");
    return saved && typeof saved.yaml === "string" ? saved : null;
  } catch (e) {
    return null;
  }
}

function save() {
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify({ yaml: text(), file: fileName() }));
  } catch (e) { /* private mode: the editor still works */ }
}

export function text() { return view.state.doc.toString(); }
export function fileName() { return ($("#editor-file").value || "app.yml").trim() || "app.yml"; }
export function files() { return { [fileName()]: text() }; }

/** Replace the editor's text (an example, an object to edit). */
export function load(yamlText, file) {
  view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: yamlText } });
  if (file) $("#editor-file").value = file;
  save();
  emit("file-changed", files());
  view.focus();
}

function changed() {
  save();
  setStatus("editing", L.editing);
  emit("file-changed", files());
  validateSoon(VALIDATE_DELAY);
}

function validateSoon(delay) {
  clearTimeout(validateTimer);
  validateTimer = setTimeout(validateNow, delay);
}

function setStatus(kind, textValue) {
  const s = $("#editor-status");
  s.dataset.state = kind;
  s.textContent = textValue;
}

function lineRange(line) {
  const doc = view.state.doc;
  const n = Math.max(1, Math.min(doc.lines, line || 1));
  return doc.line(n);
}

function goToLine(line) {
  const range = lineRange(line);
  view.dispatch({ selection: { anchor: range.from }, scrollIntoView: true });
  view.focus();
}

function showProblems(result) {
  const diagnostics = [];
  for (const p of result.errors || []) {
    const range = lineRange(p.line);
    const from = Math.min(range.to, range.from + Math.max(0, (p.column || 1) - 1));
    diagnostics.push({ from, to: Math.max(from, range.to), severity: "error", message: p.message, source: "kube-apiserver" });
  }
  view.dispatch(setDiagnostics(view.state, diagnostics));
  const list = $("#problems");
  const items = (result.errors || []).map((p) => {
    const li = el("li", "problem");
    li.dataset.line = String(p.line);
    li.append(el("span", "problem-line", fmt(L.lineN, { line: p.line })), el("span", "problem-text", p.message));
    return li;
  });
  list.replaceChildren(...items);
}

function showOutput(result, mode) {
  const out = $("#editor-output");
  const lines = [];
  if (result.output) lines.push(el("div", "out-line", result.output.trimEnd()));
  if (result.error_output) lines.push(el("div", "out-line err", result.error_output.trimEnd()));
  if (!lines.length && mode === "validate") lines.push(el("div", "out-line", ""));
  out.replaceChildren(...lines);
}

async function validateNow() {
  clearTimeout(validateTimer);
  const current = text();
  if (current === lastChecked) return;
  const mine = ++generation;
  setStatus("checking", L.checking);
  const res = await request(config.manifests.replace("{mode}", "validate"), { yaml: current });
  if (mine !== generation) return;
  if (!res.ok) {
    setStatus("error", statusText(res.data));
    return;
  }
  lastChecked = current;
  showProblems(res.data);
  showOutput(res.data, "validate");
  if (res.data.ok) setStatus("ok", fmt(L.validOk, { count: (res.data.results || []).length }));
  else setStatus("error", fmt(L.validProblems, { count: (res.data.errors || []).length }));
}

async function apply() {
  await run("apply", `kubectl apply -f ${fileName()}`);
}

async function remove() {
  if (!window.confirm(L.confirmDeleteManifests)) return;
  await run("delete", `kubectl delete -f ${fileName()}`);
}

async function run(mode, command) {
  const buttons = [$("#apply-button"), $("#delete-button"), $("#validate-button")];
  for (const b of buttons) b.disabled = true;
  noteAction(command);
  setStatus("checking", mode === "apply" ? L.applying : L.deleting);
  const res = await request(config.manifests.replace("{mode}", mode), { yaml: text() });
  for (const b of buttons) b.disabled = false;
  if (!res.ok) {
    setStatus("error", statusText(res.data));
    toast(statusText(res.data), "error");
    return;
  }
  lastChecked = null;
  showProblems(res.data);
  showOutput(res.data, mode);
  const prompt = `$ ${command}\n`;
  emit("editor-ran", { command: prompt, output: res.data.output, error: res.data.error_output });
  if (res.data.ok) {
    setStatus("ok", mode === "apply" ? L.applied : L.deleted);
    toast((res.data.output || "").trim() || (mode === "apply" ? L.applied : L.deleted));
  } else {
    setStatus("error", fmt(L.validProblems, { count: (res.data.errors || []).length }));
  }
}

export function setText(value) { load(value); }
