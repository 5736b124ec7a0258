// The learner's workshop page: follows the seat's progress (pushed over a WebSocket, polled while it is down),
// turns checks green, follows the current step, shows the instructor's broadcast and revealed solutions, and
// reloads the map when the cluster is replaced.
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("ws-config").textContent);
  const steps = Array.from(document.querySelectorAll(".ws-step"));
  const dots = Array.from(document.querySelectorAll(".ws-dot"));
  const frame = document.getElementById("ws-frame");
  let current = config.current;
  let shown = current;
  let followCurrent = true;

  function show(index) {
    shown = Math.max(0, Math.min(steps.length - 1, index));
    steps.forEach((el) => { el.hidden = Number(el.dataset.index) !== shown; });
    dots.forEach((el) => el.classList.toggle("ws-dot-shown", Number(el.dataset.index) === shown));
  }

  function text(el, value) { if (el.textContent !== value) el.textContent = value; }

  function renderSolution(article, solution) {
    const box = article.querySelector(".ws-solution");
    if (!solution) { box.hidden = true; return; }
    const body = box.querySelector("div");
    body.replaceChildren();
    if (solution.note) { const p = document.createElement("p"); p.textContent = solution.note; body.append(p); }
    const pre = document.createElement("pre");
    pre.textContent = solution.commands.map((c) => "$ " + c).join("\n");
    body.append(pre);
    for (const [name, content] of Object.entries(solution.files || {})) {
      const title = document.createElement("p");
      title.className = "ws-file";
      title.textContent = name;
      const file = document.createElement("pre");
      file.textContent = content;
      body.append(title, file);
    }
    box.hidden = false;
  }

  function apply(data) {
    const finished = data.finished;
    document.getElementById("ws-finished").hidden = !finished;
    document.getElementById("ws-paused").hidden = !data.paused;
    document.getElementById("ws-closed").hidden = !data.closed;
    const banner = document.getElementById("ws-broadcast");
    banner.hidden = !data.broadcast;
    text(banner.querySelector("span"), data.broadcast || "");
    data.steps.forEach((step) => {
      const article = steps[step.index];
      const dot = dots[step.index];
      if (!article) return;
      dot.classList.toggle("ws-dot-passed", step.passed);
      dot.classList.toggle("ws-dot-current", step.index === data.current);
      article.classList.toggle("ws-step-passed", step.passed);
      article.querySelectorAll("[data-check]").forEach((li) => {
        const result = step.checks[li.dataset.check];
        li.classList.toggle("ws-pass", Boolean(result && result.passed));
        text(li.querySelector(".ws-detail"), result ? result.detail : "");
      });
      renderSolution(article, data.solutions[step.key]);
    });
    if (data.current !== current) {
      current = data.current;
      if (followCurrent) show(Math.min(current, steps.length - 1));
    }
    if (data.cluster_id && String(data.cluster_id) !== frame.dataset.cluster) {
      // The instructor reset the seat (or it was reclaimed and provisioned again): a new cluster behind the map.
      frame.dataset.cluster = String(data.cluster_id);
      frame.src = data.map_url;
      document.getElementById("ws-maplink").href = data.map_url;
    }
  }

  // Changes arrive over the seat's WebSocket (a full progress payload each time), polled while it is down.
  const ALIVE_MS = 60000;
  let live = null;

  window.setInterval(() => { if (live) live.send({ type: "alive" }); }, ALIVE_MS);

  dots.forEach((dot) => dot.addEventListener("click", () => {
    followCurrent = Number(dot.dataset.index) === current;
    show(Number(dot.dataset.index));
  }));
  document.getElementById("ws-prev").addEventListener("click", () => { followCurrent = false; show(shown - 1); });
  document.getElementById("ws-next").addEventListener("click", () => { followCurrent = false; show(shown + 1); });
  document.getElementById("ws-current").addEventListener("click", () => { followCurrent = true; show(current); });
  show(Math.min(current, steps.length - 1));
  live = window.KubeDojoLive({
    socketPath: config.socketPath, pollUrl: config.progressUrl, pollMs: config.pollMs, onPoll: apply,
    onMessage: (data) => { if (data.type === "progress") apply(data); },
  });
})();
