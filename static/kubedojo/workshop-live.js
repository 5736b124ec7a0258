// A workshop page's live feed: messages pushed over a WebSocket; while it is down, the page polls its JSON
// endpoint slowly and reconnects with a growing delay (the server sends everything again on (re)connect).
// Close codes 4403/4404 mean "not yours": no reconnect, the poll's answer says why.
window.KubeDojoLive = function ({ socketPath, pollUrl, pollMs, onMessage, onPoll }) {
  let socket = null;
  let pollTimer = null;
  let retryMs = 1000;

  async function poll() {
    pollTimer = null;
    try {
      const response = await fetch(pollUrl, { headers: { Accept: "application/json" } });
      if (response.ok) onPoll(await response.json());
    } catch (err) {
      // offline for a moment: the next poll catches up
    }
    if (!socket) pollTimer = window.setTimeout(poll, pollMs);
  }

  function startPolling() { if (pollTimer === null) pollTimer = window.setTimeout(poll, 0); }

  function stopPolling() {
    if (pollTimer !== null) { window.clearTimeout(pollTimer); pollTimer = null; }
  }

  function connect() {
    let ws;
    try {
      ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + socketPath);
    } catch (err) {
      startPolling();
      return;
    }
    ws.addEventListener("open", () => { socket = ws; retryMs = 1000; stopPolling(); });
    ws.addEventListener("message", (event) => {
      let data;
      try { data = JSON.parse(event.data); } catch (err) { return; }
      onMessage(data);
    });
    ws.addEventListener("close", (event) => {
      socket = null;
      startPolling();
      if (event.code === 4403 || event.code === 4404) return;
      window.setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 30000);
    });
  }

  if (socketPath && "WebSocket" in window) connect(); else startPolling();
  return {
    send(message) {
      if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
    },
  };
};
