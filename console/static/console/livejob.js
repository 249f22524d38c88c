/*
 * LiveJob: follow one Linkis job (status, progress, log) over the entrance WebSocket, and over HTTP polling when
 * the socket drops or cannot open; go back to the socket when it returns.
 *
 * Lines are numbered by the server (1, 2, ...). The client keeps `cursor`, the number of the next line it has not
 * shown. The WebSocket is (re)subscribed with `log` + `fromLine: cursor`; the server then sends exactly the lines
 * after it, and every log frame's `fromLine` is the next line after the frame. Polling asks
 * `GET .../log?fromLine=cursor` and gets the same. Only one transport delivers lines at a time (a switch bumps a
 * generation number, and answers of the other transport that arrive later are dropped), so no line is lost or
 * shown twice.
 *
 * Progress comes with Linkis's per-stage ``progressInfo`` (progressWithResource: [{id, succeedTasks, failedTasks,
 * runningTasks, totalTasks}]); onProgress gets both.
 */
(function () {
  "use strict";

  const PREFIX = "/api/rest_j/v1/entrance/";
  const FINAL = ["Succeed", "Failed", "Cancelled", "Timeout"];

  function linesOf(log) {
    // Linkis's log is [error, warn, info, all]; "all" holds every line joined by newlines.
    const all = Array.isArray(log) ? log[3] : log;
    return all ? String(all).split("\n") : [];
  }

  class LiveJob {
    /**
     * @param {object} options  execId, taskId, and callbacks onStatus(status), onProgress(fraction, progressInfo)
     *   (progressInfo: the per-stage list, undefined when the answer had none), onLines(lines),
     *   onMode("websocket"|"polling"), onEnd(status); pollMs (default 1000); reconnectMs.
     */
    constructor(options) {
      this.execId = options.execId;
      this.taskId = options.taskId;
      this.cb = options;
      this.pollMs = options.pollMs || 1000;
      this.reconnectMs = options.reconnectMs || 2000;
      this.cursor = 1;
      this.status = null;
      this.mode = null;
      this.generation = 0;
      this.socket = null;
      this.pollTimer = null;
      this.reconnectTimer = null;
      this.stopped = false;
      this.tag = "console-" + Math.random().toString(36).slice(2);
    }

    start() {
      this._connect();
    }

    stop() {
      this.stopped = true;
      this.generation += 1;
      clearTimeout(this.pollTimer);
      clearTimeout(this.reconnectTimer);
      if (this.socket) {
        const socket = this.socket;
        this.socket = null;
        socket.onclose = null;
        socket.close();
      }
    }

    get finished() {
      return FINAL.includes(this.status);
    }

    _setMode(mode) {
      if (this.mode !== mode) {
        this.mode = mode;
        if (this.cb.onMode) this.cb.onMode(mode);
      }
    }

    _setStatus(status) {
      if (!status || status === this.status) return;
      // Statuses only move forward; a late answer of an older transport must not move one back.
      if (this.finished) return;
      this.status = status;
      if (this.cb.onStatus) this.cb.onStatus(status);
    }

    _addLines(lines, nextLine) {
      if (typeof nextLine !== "number" || nextLine <= this.cursor) return;
      this.cursor = nextLine;
      if (lines.length && this.cb.onLines) this.cb.onLines(lines);
    }

    _progress(data) {
      if (!this.cb.onProgress || !data || typeof data.progress !== "number") return;
      this.cb.onProgress(data.progress, Array.isArray(data.progressInfo) ? data.progressInfo : undefined);
    }

    _finish() {
      if (this.cb.onProgress) this.cb.onProgress(1);
      const status = this.status;
      this.stop();
      if (this.cb.onEnd) this.cb.onEnd(status);
    }

    // --- WebSocket ------------------------------------------------------------------------------------------
    _connect() {
      if (this.stopped) return;
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      let socket;
      try {
        socket = new WebSocket(scheme + "//" + location.host + "/ws/api/entrance/connect");
      } catch (e) {
        this._fallBack();
        return;
      }
      this.socket = socket;
      let opened = false;
      socket.onopen = () => {
        opened = true;
        // Polling stops before the socket takes over from the cursor: one transport at a time.
        this.generation += 1;
        clearTimeout(this.pollTimer);
        clearTimeout(this.reconnectTimer);
        this._setMode("websocket");
        const send = (action, data) =>
          socket.send(JSON.stringify({ method: PREFIX + this.execId + "/" + action, websocketTag: this.tag, data: data || {} }));
        send("log", { fromLine: this.cursor });
        // Progress before status: the answers come in order, and a final status ends the following.
        send("progress");
        send("status");
      };
      socket.onmessage = (event) => this._onFrame(event.data);
      socket.onerror = () => {};
      socket.onclose = () => {
        if (this.socket === socket) this.socket = null;
        if (this.stopped || this.finished) return;
        this._fallBack(opened);
      };
    }

    _onFrame(raw) {
      let frame;
      try { frame = JSON.parse(raw); } catch (e) { return; }
      if (Console.isLoggedOut(0, frame)) { // the session ended while the page was open
        Console.sessionEnded();
        this.stop();
        return;
      }
      const data = frame.data || {};
      if (data.execID && data.execID !== this.execId) return;
      const method = frame.method || "";
      if (method.endsWith("/log")) {
        this._addLines(linesOf(data.log), data.fromLine);
      } else if (method.endsWith("/status")) {
        this._setStatus(data.status);
        if (this.finished) {
          // The server sends every remaining line before a final status; nothing more will come.
          this._finish();
        }
      } else if (method.endsWith("/progress") || method.endsWith("/progressWithResource")) {
        this._progress(data);
      }
    }

    // --- polling --------------------------------------------------------------------------------------------
    _fallBack() {
      if (this.stopped) return;
      this.generation += 1;
      this._setMode("polling");
      this._poll(this.generation);
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = setTimeout(() => this._connect(), this.reconnectMs);
    }

    async _poll(generation) {
      if (this.stopped || generation !== this.generation) return;
      try {
        const [status, progress, log] = await Promise.all([
          Console.api(PREFIX + this.execId + "/status"),
          Console.api(PREFIX + this.execId + "/progressWithResource"),
          Console.api(PREFIX + this.execId + "/log?size=-1&fromLine=" + this.cursor),
        ]);
        if (generation !== this.generation) return; // the socket took over meanwhile
        if (log.ok && log.data && log.data.data) this._addLines(linesOf(log.data.data.log), log.data.data.fromLine);
        if (progress.ok && progress.data) this._progress(progress.data.data);
        if (status.ok && status.data && status.data.data) this._setStatus(status.data.data.status);
        if (this.finished) {
          // One more read: lines written between the log read and the final status.
          const rest = await Console.api(PREFIX + this.execId + "/log?size=-1&fromLine=" + this.cursor);
          if (generation !== this.generation) return;
          if (rest.ok && rest.data && rest.data.data) this._addLines(linesOf(rest.data.data.log), rest.data.data.fromLine);
          this._finish();
          return;
        }
      } catch (e) {
        // The server is unreachable: keep trying at the same pace.
      }
      if (generation === this.generation && !this.stopped) {
        this.pollTimer = setTimeout(() => this._poll(generation), this.pollMs);
      }
    }
  }

  window.LiveJob = LiveJob;
  window.LiveJob.FINAL = FINAL;
})();
