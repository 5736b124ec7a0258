// The instructor's view of a seat: the seat's cluster drawn read-only from the map's WebSocket (a snapshot on
// connect, then each tick's delta), and the learner's terminal history as they type. Nothing here writes to the
// cluster; a dropped socket reconnects and what it gets on connect resynchronises the page.
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("ws-config").textContent);
  const box = document.getElementById("ws-seatmap-nodes");
  const state = document.getElementById("ws-seatmap-state");
  const historyBox = document.getElementById("ws-history");
  const historyEmpty = document.getElementById("ws-history-empty");
  let mapSocket = null;
  const SYSTEM = new Set(["kube-system", "kube-node-lease", "kube-public"]);
  const nodes = new Map();
  const pods = new Map();
  let retryMs = 1000;

  function el(tag, cls, textContent) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (textContent !== undefined) node.textContent = textContent;
    return node;
  }

  function podClass(status) {
    if (status === "Running") return "ok";
    if (/Error|CrashLoop|BackOff|Failed|Evicted/.test(status)) return "failed";
    if (status === "Completed") return "done";
    if (status === "Terminating") return "terminating";
    return "waiting";
  }

  function nodeBox(title, cls, list) {
    const card = el("div", "ws-seatnode " + cls);
    card.append(el("strong", "", title));
    const ul = el("ul");
    list.sort((a, b) => (a.namespace + "/" + a.name).localeCompare(b.namespace + "/" + b.name));
    for (const pod of list) {
      const li = el("li", "ws-seatpod");
      li.append(el("span", "ws-pod ws-pod-" + podClass(pod.status)),
        el("span", "", (pod.namespace === "default" ? "" : pod.namespace + "/") + pod.name + " " + pod.status + " " + pod.ready));
      ul.append(li);
    }
    card.append(ul);
    return card;
  }

  function render() {
    const byNode = new Map();
    for (const pod of pods.values()) {
      if (SYSTEM.has(pod.namespace)) continue;
      if (!byNode.has(pod.node)) byNode.set(pod.node, []);
      byNode.get(pod.node).push(pod);
    }
    const sorted = Array.from(nodes.values()).sort((a, b) => (b.control_plane - a.control_plane) || a.name.localeCompare(b.name));
    const cards = sorted.map((node) => nodeBox(node.name + " · " + node.status,
      (node.ready ? "" : "ws-node-down") + (node.control_plane ? " ws-node-cp" : ""), byNode.get(node.name) || []));
    if ((byNode.get("") || []).length) cards.push(nodeBox("Pending", "ws-node-pending", byNode.get("")));
    box.replaceChildren(...cards);
  }

  function take(data) {
    if (data.type === "snapshot") {
      nodes.clear();
      pods.clear();
    } else if (data.type !== "delta") {
      return;
    }
    (data.nodes || []).forEach((node) => nodes.set(node.key, node));
    (data.pods || []).forEach((pod) => pods.set(pod.key, pod));
    (data.deleted || []).forEach((gone) => {
      if (gone.kind === "Pod") pods.delete(gone.key);
      else if (gone.kind === "Node") nodes.delete(gone.key);
    });
    render();
  }

  function socketUrl(path) {
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;
  }

  function connect() {
    if (!box || !config.socketPath) return;
    const ws = new WebSocket(socketUrl(config.socketPath));
    mapSocket = ws;
    ws.addEventListener("open", () => { retryMs = 1000; state.textContent = ""; });
    ws.addEventListener("message", (event) => {
      try { take(JSON.parse(event.data)); } catch (err) { /* not a map message */ }
    });
    ws.addEventListener("close", (event) => {
      if (mapSocket !== ws) return;  // replaced on purpose (the seat's cluster was replaced)
      mapSocket = null;
      if (event.code === 4404) { state.textContent = "no cluster: the seat's cluster was reclaimed"; return; }
      state.textContent = "reconnecting…";
      window.setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 30000);
    });
  }

  // The learner's terminal history, as they type (the seat watch socket), and the cluster's replacement.
  function line(command) {
    const at = new Date(command.at);
    const stamp = isNaN(at) ? "" : at.toISOString().slice(11, 19);
    const frag = document.createDocumentFragment();
    frag.append(el("span", "ws-muted", stamp), " $ " + command.line + "\n");
    return frag;
  }

  function showHistory(commands, append) {
    if (!historyBox) return;
    if (!append) historyBox.replaceChildren();
    commands.forEach((command) => historyBox.append(line(command)));
    const any = historyBox.childNodes.length > 0;
    historyBox.hidden = !any;
    historyEmpty.hidden = any;
    historyBox.scrollTop = historyBox.scrollHeight;
  }

  let watchRetryMs = 1000;
  function watch() {
    if (!config.watchPath) return;
    const ws = new WebSocket(socketUrl(config.watchPath));
    ws.addEventListener("open", () => { watchRetryMs = 1000; });
    ws.addEventListener("message", (event) => {
      let data;
      try { data = JSON.parse(event.data); } catch (err) { return; }
      if (data.type === "commands") showHistory(data.commands, false);
      else if (data.type === "command") showHistory([data], true);
      else if (data.type === "cluster" && config.socketPath) {
        // Reset (same name, a new cluster behind it) or reclaimed: draw from the map's socket again.
        const old = mapSocket;
        mapSocket = null;
        if (old) old.close();
        connect();
      }
    });
    ws.addEventListener("close", (event) => {
      if (event.code === 4403 || event.code === 4404) return;
      window.setTimeout(watch, watchRetryMs);  // the server sends the whole history again on reconnect
      watchRetryMs = Math.min(watchRetryMs * 2, 30000);
    });
  }

  connect();
  watch();
})();
