// The instructor's dashboard: one tile per seat (stuck learners first, as the server sorts them), polled.
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

  function render(data) {
    const now = Date.now() / 1000;
    document.getElementById("ws-state").textContent = data.closed ? "closed" : (data.paused ? "open, clocks paused" : "open");
    const tiles = data.tiles.map((tile) => {
      const seconds = now - tile.step_started_at;
      const stuck = !tile.finished && seconds > STUCK_SECONDS;
      const card = el("article", "ws-tile" + (stuck ? " ws-stuck" : "") + (tile.finished ? " ws-done" : ""));
      card.dataset.seat = String(tile.seat);
      const head = el("header");
      const link = el("a", "ws-name", tile.name);
      link.href = tile.url;
      head.append(link, el("span", "ws-muted", tile.finished ? "finished" : since(seconds)));
      const step = el("p", "ws-stepline", tile.finished ? "all " + tile.total + " steps passed"
        : tile.lesson_number + "." + tile.step_number + " " + tile.step_title + " (" + tile.passed_steps + "/" + tile.total + ")");
      const checks = el("ul", "ws-checkdots");
      tile.checks.forEach((check) => {
        const li = el("li", check.passed ? "ws-pass" : "");
        li.title = check.description;
        checks.append(li);
      });
      card.append(head, step, checks, thumbnail(tile.thumbnail), resetForm(tile));
      return card;
    });
    box.replaceChildren(...tiles);
    if (!tiles.length) box.append(el("p", "ws-muted", "Nobody has joined yet."));
  }

  async function poll() {
    try {
      const response = await fetch(config.url, { headers: { Accept: "application/json" } });
      if (response.ok) render(await response.json());
    } catch (err) {
      // the next poll catches up
    }
    window.setTimeout(poll, config.pollMs);
  }
  poll();
})();
