// The instructor's dashboard: one tile per seat (stuck learners first), pushed over a WebSocket, polled while it is down.
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("ws-config").textContent);
  const box = document.getElementById("ws-tiles");
  const csrf = document.querySelector("input[name=csrfmiddlewaretoken]").value;
  const STUCK_SECONDS = 300;

  function el(tag, cls, textContent) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (textContent !== undefined) node.textContent = textContent;
    return node;
  }

  function since(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }

  function podClass(status) {
    if (status === "Running") return "ok";
    if (/Error|CrashLoop|BackOff|Failed|Evicted/.test(status)) return "failed";
    if (status === "Completed") return "done";
    if (status === "Terminating") return "terminating";
    return "waiting";
  }

  function thumbnail(thumb) {
    const wrap = el("div", "ws-thumb");
    if (!thumb) { wrap.append(el("span", "ws-muted", "no cluster")); return wrap; }
    for (const node of thumb.nodes) {
      const n = el("div", "ws-node" + (node.ready ? "" : " ws-node-down") + (node.control_plane ? " ws-node-cp" : ""));
      n.title = node.name;
      for (const status of node.pods) {
        const p = el("span", "ws-pod ws-pod-" + podClass(status));
        p.title = status;
        n.append(p);
      }
      wrap.append(n);
    }
    if (thumb.pending.length) {
      const n = el("div", "ws-node ws-node-pending");
      n.title = "Pending";
      thumb.pending.forEach((status) => { const p = el("span", "ws-pod ws-pod-waiting"); p.title = status; n.append(p); });
      wrap.append(n);
    }
    return wrap;
  }

  function resetForm(tile) {
    const form = el("form", "ws-reset");
    form.method = "post";
    form.action = tile.reset_url;
    const token = el("input");
    token.type = "hidden"; token.name = "csrfmiddlewaretoken"; token.value = csrf;
    const select = el("select");
    select.name = "step";
    select.setAttribute("aria-label", "step to reset to");
    config.steps.forEach((label, index) => {
      const option = el("option", "", label);
      option.value = String(index);
      option.selected = index === Math.min(tile.current, config.steps.length - 1);
      select.append(option);
    });
    const button = el("button", "btn btn-small", "Reset");
    button.type = "submit";
    form.append(token, select, button);
    form.addEventListener("submit", (event) => {
      if (!window.confirm("Rebuild " + tile.name + "'s cluster at the start of step " + select.selectedOptions[0].text + "?")) {
        event.preventDefault();
      }
    });
    return form;
  }

  // What the dashboard shows: the workshop's state and a tile per seat, kept up to date by the socket's
  // messages ("dashboard": everything, "tile": one seat, "state": paused/closed...) or, while it is down, by polls.
  const view = { paused: false, closed: false, tiles: new Map() };
  const cards = new Map();  // seat -> {json, card}

  function card(tile) {
    const article = el("article", "ws-tile" + (tile.finished ? " ws-done" : ""));
    article.dataset.seat = String(tile.seat);
    const head = el("header");
    const link = el("a", "ws-name", tile.name);
    link.href = tile.url;
    head.append(link, el("span", "ws-muted ws-since", "finished"));
    const step = el("p", "ws-stepline", tile.finished ? "all " + tile.total + " steps passed"
      : tile.lesson_number + "." + tile.step_number + " " + tile.step_title + " (" + tile.passed_steps + "/" + tile.total + ")");
    const checks = el("ul", "ws-checkdots");
    tile.checks.forEach((check) => {
      const li = el("li", check.passed ? "ws-pass" : "");
      li.title = check.description;
      checks.append(li);
    });
    article.append(head, step, checks, thumbnail(tile.thumbnail), resetForm(tile));
    return article;
  }

  function tick() {
    // The time on the current step, and who is stuck, move on without any message.
    const now = Date.now() / 1000;
    for (const [seat, entry] of cards) {
      const tile = view.tiles.get(seat);
      if (!tile || tile.finished) continue;
      const seconds = now - tile.step_started_at;
      entry.card.classList.toggle("ws-stuck", seconds > STUCK_SECONDS);
      entry.card.querySelector(".ws-since").textContent = since(seconds);
    }
  }

  function render() {
    document.getElementById("ws-state").textContent = view.closed ? "closed" : (view.paused ? "open, clocks paused" : "open");
    // Stuck learners first: unfinished, longest on their current step (as the server sorts them).
    const tiles = Array.from(view.tiles.values()).sort((a, b) =>
      (a.finished - b.finished) || (a.step_started_at - b.step_started_at) || (a.seat - b.seat));
    const keep = new Set();
    const nodes = tiles.map((tile) => {
      keep.add(tile.seat);
      const json = JSON.stringify(tile);
      let entry = cards.get(tile.seat);
      const editing = entry && entry.card.contains(document.activeElement);  // the instructor is picking a step
      if (!entry || (entry.json !== json && !editing)) {
        entry = { json: json, card: card(tile) };
        cards.set(tile.seat, entry);
      }
      return entry.card;
    });
    for (const seat of Array.from(cards.keys())) if (!keep.has(seat)) cards.delete(seat);
    if (!nodes.length) { box.replaceChildren(el("p", "ws-muted", "Nobody has joined yet.")); return; }
    const same = nodes.length === box.children.length && nodes.every((node, i) => box.children[i] === node);
    if (!same) box.replaceChildren(...nodes);
    tick();
  }

  function takeAll(data) {
    view.paused = data.paused;
    view.closed = data.closed;
    view.tiles = new Map(data.tiles.map((tile) => [tile.seat, tile]));
    render();
  }

  // Pushed over the workshop's WebSocket, polled while it is down (workshop-live.js).
  window.setInterval(tick, 1000);
  window.KubeDojoLive({
    socketPath: config.socketPath, pollUrl: config.url, pollMs: config.pollMs, onPoll: takeAll,
    onMessage: (data) => {
      if (data.type === "dashboard") takeAll(data);
      else if (data.type === "tile") { view.tiles.set(data.tile.seat, data.tile); render(); }
      else if (data.type === "state") { view.paused = data.paused; view.closed = data.closed; render(); }
    },
  });
})();
