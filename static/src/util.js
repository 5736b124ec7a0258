// Small helpers every module shares: DOM building, formatting, the page's config and words, JSON requests.

export const config = JSON.parse(document.getElementById("kd-config").textContent);
export const L = config.labels;

export const $ = (sel, root) => (root || document).querySelector(sel);
export const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

export function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

export function pad(n) { return String(n).padStart(2, "0"); }

export function formatCpu(millis) {
  if (!millis) return "0";
  return millis % 1000 === 0 ? String(millis / 1000) : millis + "m";
}

export function formatBytes(n) {
  if (!n) return "0";
  const units = [["Gi", 1024 ** 3], ["Mi", 1024 ** 2], ["Ki", 1024]];
  for (const [unit, size] of units) {
    if (n >= size) {
      const v = n / size;
      return (Number.isInteger(v) ? v : v.toFixed(1)) + unit;
    }
  }
  return String(n);
}

export function splitTime(t) {
  const d = new Date(t * 1000);
  return {
    date: `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} UTC`,
    time: `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`,
  };
}

/** "Kubernetes says" text with {placeholders} filled in. */
export function fmt(template, values) {
  return String(template).replace(/\{(\w+)\}/g, (m, k) => (values && k in values ? values[k] : m));
}

export function cookie(name) {
  const found = document.cookie.split("; ").find((c) => c.startsWith(name + "="));
  return found ? decodeURIComponent(found.slice(name.length + 1)) : "";
}

/** A JSON request to one of the page's endpoints; resolves to {ok, status, data} (data: the JSON or a Status). */
export async function request(url, body, method) {
  const options = { method: method || (body === undefined ? "GET" : "POST"), credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.headers["X-CSRFToken"] = cookie("csrftoken");
    options.body = JSON.stringify(body);
  }
  try {
    const response = await fetch(url, options);
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!data) data = { kind: "Status", status: "Failure", message: `HTTP ${response.status}`, code: response.status };
    return { ok: response.ok, status: response.status, data };
  } catch (e) {
    return { ok: false, status: 0, data: { kind: "Status", status: "Failure", message: L.networkError, code: 0 } };
  }
}

/** A stable hue (0-359) for a string: the same ReplicaSet always gets the same colour. */
export function hue(text) {
  let h = 0;
  for (let i = 0; i < text.length; i++) h = (h * 31 + text.charCodeAt(i)) >>> 0;
  return h % 360;
}

/** The short text of an ApiError Status, as kubectl prints it. */
export function statusText(data) {
  if (!data) return "";
  if (data.kind === "Status") {
    if (data.reason === "Invalid" && data.code === 422) return data.message;
    return `Error from server (${data.reason || "Unknown"}): ${data.message}`;
  }
  return data.message || "";
}

/** A little event bus: modules tell each other what happened without importing each other. */
const listeners = new Map();
export function on(name, fn) {
  if (!listeners.has(name)) listeners.set(name, []);
  listeners.get(name).push(fn);
}
export function emit(name, detail) {
  for (const fn of listeners.get(name) || []) {
    try { fn(detail); } catch (e) { console.error(e); }
  }
}

export function toast(text, kind) {
  const box = $("#toasts");
  if (!box) return;
  const t = el("div", "toast" + (kind ? " toast-" + kind : ""), text);
  t.setAttribute("role", kind === "error" ? "alert" : "status");
  box.append(t);
  setTimeout(() => t.classList.add("gone"), 4200);
  setTimeout(() => t.remove(), 4800);
}
