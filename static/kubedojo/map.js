/* KubeDojo: the live cluster map.
 *
 * The page connects to /ws/clusters/<name>/, receives a snapshot (every node and pod, built from the
 * database), then one coalesced "delta" per simulation tick. Each object carries its resourceVersion
 * ("rv"), so an update older than what the page shows is ignored. When the socket drops the page
 * reconnects with back-off and the fresh snapshot resyncs it; every minute it also asks for one.
 */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("kd-config").textContent);
  const L = config.labels;
  const $ = (sel, root) => (root || document).querySelector(sel);

  const els = {
    map: $("#map"),
    connection: $("#connection"),
    connectionText: $("#connection .connection-text"),
    clock: $("#clock"),
    clockDate: $("#clock-date"),
    clockTime: $("#clock-time"),
    clockSpeed: $("#clock-speed"),
    pause: $("#pause-button"),
    speeds: Array.from(document.querySelectorAll(".btn-speed")),
    cp: $("#control-plane"),
    cpName: $("#cp-node-name"),
    cpStatus: $("#cp-node-status"),
    cpIp: $("#cp-node-ip"),
    cpPods: $("#cp-pods"),
    queue: $("#pending-queue"),
    queuePods: $("#queue-pods"),
    queueCount: $("#queue-count"),
    grid: $("#node-grid"),
    activity: $("#activity"),
    objects: $("#objects"),
    showSystem: $("#show-system"),
  };

  const state = {
    pods: new Map(),       // "ns/name" -> summary
    nodes: new Map(),      // name -> summary
    objects: new Map(),    // "Kind/ns/name" -> ref
    tombstones: new Map(), // "ns/name" -> rv of its deletion
    revision: 0,           // the snapshot's revision: older news about unknown objects is stale
    cpNode: null,          // the node drawn in the control-plane box
    clock: { time: config.time, speed: config.speed, paused: config.paused, at: performance.now() },
    shownTime: 0,
  };
  const podEls = new Map();
  const nodeEls = new Map();

  // --- pod status: kubectl's STATUS text, sorted into a few colours --------------------------
  const FAILED = /Error|BackOff|ErrImage|OOMKilled|Invalid|Evicted|Failed|CreateContainer|RunContainer|NodeLost|DeadlineExceeded/;

  function readyAll(ready) {
    const m = /^(\d+)\/(\d+)$/.exec(ready || "");
    return m ? m[1] === m[2] && m[2] !== "0" : false;
  }

  function category(p) {
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

  // --- formatting ----------------------------------------------------------------------------
  function pad(n) { return String(n).padStart(2, "0"); }

  function formatCpu(millis) {
    if (!millis) return "0";
    return millis % 1000 === 0 ? String(millis / 1000) : millis + "m";
  }

  function formatBytes(n) {
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

  function splitTime(t) {
    const d = new Date(t * 1000);
    return {
      date: `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} UTC`,
      time: `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`,
    };
  }

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // --- the virtual clock ---------------------------------------------------------------------
  function setClock(time, speed, paused, exact) {
    state.clock = { time: time, speed: speed, paused: paused, at: performance.now() };
    if (exact) state.shownTime = 0;
    els.clock.dataset.paused = paused ? "true" : "false";
    els.clockSpeed.textContent = "×" + (Number.isInteger(speed) ? speed : speed.toFixed(1));
    els.pause.textContent = paused ? L.resume : L.pause;
    els.pause.setAttribute("aria-pressed", paused ? "true" : "false");
    for (const b of els.speeds) b.setAttribute("aria-pressed", Number(b.dataset.speed) === speed ? "true" : "false");
    drawClock();
  }

  function clockNow() {
    const c = state.clock;
    return c.paused ? c.time : c.time + ((performance.now() - c.at) / 1000) * c.speed;
  }

  function drawClock() {
    let t = clockNow();
    // Between deltas the page estimates; never show time running backwards by a little.
    if (t < state.shownTime && state.shownTime - t < 3) t = state.shownTime;
    state.shownTime = t;
    const parts = splitTime(t);
    els.clockDate.textContent = parts.date;
    els.clockTime.textContent = parts.time;
  }

  // --- nodes ---------------------------------------------------------------------------------
  function bar(label) {
    const fill = el("div", "bar-fill");
    const track = el("div", "bar");
    track.appendChild(fill);
    const text = el("span", "bar-text");
    return { label: el("span", "bar-label", label), track: track, fill: fill, text: text };
  }

  function createWorker(name) {
    const box = el("section", "node worker");
    box.dataset.node = name;
    const head = el("header", "node-head");
    const nameEl = el("span", "node-name", name);
    const pill = el("span", "pill");
    const roles = el("span", "node-roles");
    const ip = el("span", "node-ip");
    head.append(nameEl, pill, roles, ip);
    const agents = el("div", "agents");
    const kubelet = el("span", "agent", "kubelet");
    kubelet.dataset.agent = "kubelet";
    const proxy = el("span", "agent", "kube-proxy");
    proxy.dataset.agent = "kube-proxy";
    agents.append(kubelet, proxy);
    const caption = el("div", "bars-caption", L.requestsCaption);
    const bars = el("div", "bars");
    const cpu = bar("CPU");
    const mem = bar("Memory");
    const pods = bar(L.pods);
    for (const b of [cpu, mem, pods]) bars.append(b.label, b.track, b.text);
    const podBox = el("div", "pods node-pods");
    podBox.dataset.podsOf = name;
    box.append(head, agents, caption, bars, podBox);
    insertSorted(els.grid, box, name);
    const parts = { box, pill, roles, ip, cpu, mem, pods, podBox, agents: { kubelet, "kube-proxy": proxy } };
    nodeEls.set(name, parts);
    return parts;
  }

  function setBar(b, used, total, fmt) {
    const pct = total > 0 ? Math.min(100, (used / total) * 100) : 0;
    b.fill.style.width = pct + "%";
    b.fill.classList.toggle("high", pct >= 75 && pct < 100);
    b.fill.classList.toggle("full", pct >= 100);
    b.text.textContent = `${fmt(used)} / ${fmt(total)}`;
    b.track.title = `${L.requests}: ${Math.round(pct)}%`;
  }

  function setPill(pill, status) {
    pill.hidden = false;
    pill.textContent = status;
    pill.classList.toggle("bad", !status.startsWith("Ready"));
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
    parts.box.dataset.roles = (n.roles || []).join(",");
    setPill(parts.pill, n.status);
    parts.roles.textContent = n.roles && n.roles.length ? n.roles.join(",") : "";
    parts.ip.textContent = n.ip || "";
    setBar(parts.cpu, n.cpu.requested, n.cpu.allocatable, formatCpu);
    setBar(parts.mem, n.memory.requested, n.memory.allocatable, formatBytes);
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
    if (parts.podBox.children.length) {
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
      // A pod bound to a node the page has not seen: draw the node until its summary arrives.
      parts = createWorker(p.node);
      parts.box.dataset.status = "Unknown";
      setPill(parts.pill, L.unknownNode);
    }
    return parts.podBox;
  }

  // --- pods ----------------------------------------------------------------------------------
  function sortKey(p) { return (p.created || "") + " " + p.key; }

  function insertSorted(container, node, key) {
    node.dataset.sort = key;
    for (const child of container.children) {
      if (child !== node && child.dataset.sort !== undefined && !child.classList.contains("leaving") && child.dataset.sort > key) {
        container.insertBefore(node, child);
        return;
      }
    }
    container.appendChild(node);
  }

  function createPod(p) {
    const pod = el("div", "pod");
    pod.dataset.pod = p.key;
    pod.append(el("span", "pod-name", p.name));
    const line = el("span", "pod-line");
    line.append(el("span", "pod-status"), el("span", "pod-meta"));
    pod.append(line);
    podEls.set(p.key, pod);
    return pod;
  }

  function placePod(pod, container, key) {
    // FLIP: remember where the pod was, move it, then animate from there (queue → node).
    const first = pod.isConnected ? pod.getBoundingClientRect() : null;
    insertSorted(container, pod, key);
    if (!first || first.width === 0) return;
    const last = pod.getBoundingClientRect();
    const dx = first.left - last.left;
    const dy = first.top - last.top;
    if (!dx && !dy) return;
    pod.classList.add("moving");
    pod.style.transition = "none";
    pod.style.transform = `translate(${dx}px, ${dy}px)`;
    requestAnimationFrame(() => requestAnimationFrame(() => {
      pod.style.transition = "";
      pod.style.transform = "";
      setTimeout(() => pod.classList.remove("moving"), 700);
    }));
  }

  function renderPod(p) {
    const old = state.pods.get(p.key);
    if (old && old.rv > p.rv) return;
    if (!old) {
      const dead = state.tombstones.get(p.key);
      const stale = !state.loading && p.rv <= state.revision; // gone before the snapshot was taken
      if ((dead !== undefined && dead >= p.rv) || stale) return;
    }
    state.tombstones.delete(p.key);
    state.pods.set(p.key, p);
    const pod = podEls.get(p.key) || createPod(p);
    pod.classList.remove("leaving");
    const cat = category(p);
    const changed = old && old.status !== p.status;
    pod.className = `pod st-${cat}` + (p.namespace === "kube-system" ? " system" : "") + (pod.classList.contains("moving") ? " moving" : "");
    pod.dataset.status = p.status;
    pod.dataset.phase = p.phase;
    pod.dataset.node = p.node || "";
    pod.dataset.namespace = p.namespace;
    pod.dataset.ready = p.ready;
    $(".pod-status", pod).textContent = p.status;
    const meta = [p.ready];
    if (p.restarts) meta.push("↻" + p.restarts);
    if (p.ip) meta.push(p.ip);
    $(".pod-meta", pod).textContent = meta.join(" · ");
    pod.title = [
      p.key,
      `${L.status}: ${p.status}`,
      `${L.ready}: ${p.ready}`,
      `${L.restarts}: ${p.restarts}`,
      `${L.node}: ${p.node || "—"}`,
      `${L.ip}: ${p.ip || "—"}`,
      p.owner ? `${L.owner}: ${p.owner}` : "",
    ].filter(Boolean).join("\n");
    const container = podContainer(p);
    if (pod.parentElement !== container) placePod(pod, container, sortKey(p));
    if (changed) {
      pod.classList.add("changed");
      setTimeout(() => pod.classList.remove("changed"), 800);
    }
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

  function updateQueue() {
    const waiting = Array.from(state.pods.values()).filter((p) => !p.node).length;
    els.queueCount.textContent = String(waiting);
    els.queue.classList.toggle("has-pods", waiting > 0);
    let empty = $(".empty", els.queuePods);
    if (waiting === 0 && !empty) {
      empty = el("p", "empty", L.noPending);
      els.queuePods.appendChild(empty);
    } else if (waiting > 0 && empty) {
      empty.remove();
    }
  }

  // --- other objects -------------------------------------------------------------------------
  const KIND_ORDER = ["Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob", "Service", "Ingress",
    "ConfigMap", "Secret", "PersistentVolumeClaim", "PersistentVolume", "Namespace"];

  function renderObjects() {
    const showSystem = els.showSystem.checked;
    const byKind = new Map();
    for (const o of state.objects.values()) {
      if (!showSystem && o.namespace === "kube-system") continue;
      if (!byKind.has(o.kind)) byKind.set(o.kind, []);
      byKind.get(o.kind).push(o.namespace && o.namespace !== "default" ? `${o.namespace}/${o.name}` : o.name);
    }
    const kinds = Array.from(byKind.keys()).sort((a, b) => {
      const ia = KIND_ORDER.indexOf(a), ib = KIND_ORDER.indexOf(b);
      return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.localeCompare(b);
    });
    els.objects.replaceChildren();
    if (!kinds.length) els.objects.append(el("p", "empty", L.noObjects));
    for (const kind of kinds) {
      const names = byKind.get(kind).sort();
      const row = el("div", "o-row");
      row.dataset.kind = kind;
      const shown = names.slice(0, 12).join(", ") + (names.length > 12 ? ` +${names.length - 12}` : "");
      row.append(el("div", "o-kind", `${kind} (${names.length})`), el("div", "o-names", shown));
      els.objects.append(row);
    }
  }

  // --- activity: light up who did what --------------------------------------------------------
  function flash(node) {
    if (!node) return;
    node.classList.remove("active");
    void node.offsetWidth; // restart the fade
    node.classList.add("active");
    clearTimeout(node._kdTimer);
    node._kdTimer = setTimeout(() => node.classList.remove("active"), 700);
  }

  function component(name) { return $(`.component[data-component="${name}"]`); }

  function lightUp(a) {
    const c = a.component || "";
    const node = a.node || (c.includes("kubelet") ? a.detail : "");
    if (c.includes("scheduler")) flash(component("kube-scheduler"));
    else if (c.includes("cloud")) flash(component("cloud-controller-manager"));
    else if (c.includes("kubelet") || c.includes("proxy")) {
      const parts = nodeEls.get(node);
      if (parts && parts.agents) flash(parts.agents[c.includes("proxy") ? "kube-proxy" : "kubelet"]);
    } else if (c.includes("controller") || c.includes("manager")) {
      flash(component("kube-controller-manager"));
    }
    // Every write passes kube-apiserver into etcd: applyDelta lights both for any change.
  }

  // A kubelet reporting its own node's status is a heartbeat: it lights the kubelet but is not listed.
  function listed(a) { return !(a.kind === "Node" && a.action === "status" && (a.component || "").includes("kubelet")); }

  function addActivities(list, time) {
    if (!list || !list.length) return;
    for (const a of list) lightUp(a);
    const shown = list.filter(listed);
    if (!shown.length) return;
    const empty = $(".empty", els.activity);
    if (empty) empty.remove();
    const stamp = splitTime(time).time;
    for (const a of shown.slice(-12)) {
      const li = el("li", "fresh");
      li.dataset.component = a.component;
      li.dataset.action = a.action;
      const target = a.namespace ? `${a.namespace}/${a.name}` : a.name;
      const extra = a.detail ? ` → ${a.detail}` : "";
      const verb = (L.verbs && L.verbs[a.action]) || a.action;
      li.append(el("span", "a-time", stamp), el("span", "a-who", a.component + (a.node ? ` (${a.node})` : "")),
        el("span", "a-what", `${verb} ${a.kind} ${target}${extra}`));
      els.activity.prepend(li);
    }
    while (els.activity.children.length > 40) els.activity.lastElementChild.remove();
  }

  // --- messages ------------------------------------------------------------------------------
  function applySnapshot(msg) {
    state.loading = true;
    state.revision = msg.revision || 0;
    state.tombstones.clear();
    setClock(msg.time, msg.speed, msg.paused, true);
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
    renderObjects();
    updateQueue();
    document.body.dataset.revision = String(state.revision);
  }

  function applyDelta(msg) {
    setClock(msg.time, msg.speed, msg.paused, false);
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
    if (objectsChanged) renderObjects();
    updateQueue();
    const changes = (msg.pods || []).length + (msg.nodes || []).length + (msg.objects || []).length + (msg.deleted || []).length;
    if (changes || (msg.activities || []).length) {
      flash(component("kube-apiserver"));
      flash(component("etcd"));
    }
    addActivities(msg.activities, msg.time);
    document.body.dataset.revision = String(msg.revision || state.revision);
  }

  // --- the socket: reconnect with back-off, resync on every (re)connect ------------------------
  let socket = null;
  let attempts = 0;
  let lastMessage = performance.now();

  function setConnection(kind) {
    els.connection.dataset.state = kind;
    els.connectionText.textContent = { live: L.live, connecting: L.connecting, reconnecting: L.reconnecting }[kind] || kind;
  }

  function connect() {
    setConnection(attempts ? "reconnecting" : "connecting");
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(scheme + location.host + config.ws);
    socket = ws;
    ws.onmessage = (event) => {
      lastMessage = performance.now();
      let msg;
      try { msg = JSON.parse(event.data); } catch (e) { return; }
      if (msg.type === "snapshot") {
        applySnapshot(msg);
        attempts = 0;
        setConnection("live");
      } else if (msg.type === "delta") {
        applyDelta(msg);
      }
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
      setTimeout(connect, delay);
    };
  }

  function resync() {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "resync" }));
  }

  // --- controls ------------------------------------------------------------------------------
  function cookie(name) {
    const found = document.cookie.split("; ").find((c) => c.startsWith(name + "="));
    return found ? decodeURIComponent(found.slice(name.length + 1)) : "";
  }

  async function control(body) {
    try {
      const response = await fetch(config.control, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": cookie("csrftoken") },
        body: JSON.stringify(body),
      });
      if (response.ok) {
        const s = await response.json();
        setClock(s.time, s.speed, s.paused, true);
      }
    } catch (e) {
      /* the next delta shows the real state */
    }
  }

  els.pause.addEventListener("click", () => control({ paused: !state.clock.paused }));
  for (const b of els.speeds) b.addEventListener("click", () => control({ speed: Number(b.dataset.speed), paused: false }));

  const SYSTEM_KEY = "kubedojo.showSystemPods";
  els.showSystem.checked = localStorage.getItem(SYSTEM_KEY) !== "false";
  function applySystemToggle() {
    els.map.classList.toggle("hide-system", !els.showSystem.checked);
    localStorage.setItem(SYSTEM_KEY, els.showSystem.checked ? "true" : "false");
    renderObjects();
  }
  els.showSystem.addEventListener("change", applySystemToggle);
  applySystemToggle();

  setClock(config.time, config.speed, config.paused, true);
  setInterval(drawClock, 250);
  setInterval(resync, 60000);
  setInterval(() => { if (performance.now() - lastMessage > 15000) resync(); }, 5000);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) resync(); });
  connect();
})();
