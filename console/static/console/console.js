/* Shared helpers of the console's pages: CSRF-aware fetch, escaping, log lines, the narrow-window menu. */
(function () {
  "use strict";

  function cookie(name) {
    const match = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : "";
  }

  /** fetch() with the session's CSRF token on unsafe methods and JSON in and out; throws on a network error. */
  async function api(url, options = {}) {
    const method = (options.method || "GET").toUpperCase();
    const headers = Object.assign({ Accept: "application/json" }, options.headers || {});
    let body = options.body;
    if (body !== undefined && typeof body !== "string") {
      body = JSON.stringify(body);
      headers["Content-Type"] = "application/json";
    }
    if (!["GET", "HEAD", "OPTIONS"].includes(method)) headers["X-CSRFToken"] = cookie("csrftoken");
    const response = await fetch(url, { method, headers, body, credentials: "same-origin" });
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = text; }
    if (isLoggedOut(response.status, data)) sessionEnded();
    return { status: response.status, ok: response.ok, data };
  }

  /** Whether an answer says the session has ended: a 401, or Linkis's "not logged in" envelope (status -1). */
  function isLoggedOut(status, data) {
    if (status === 401) return true;
    return Boolean(data && typeof data === "object" && data.status === -1 &&
                   /not logged in/i.test(String(data.message || "")));
  }

  /** The session has ended: say so in the page's own words, and offer to log in again and come back here. The
   * pages keep what matters first (the workbench saves its code as it is typed). */
  function sessionEnded() {
    if (document.getElementById("session-ended")) return;
    document.dispatchEvent(new CustomEvent("console:session-ended"));
    const next = encodeURIComponent(location.pathname + location.search);
    const box = document.createElement("div");
    box.id = "session-ended";
    box.className = "session-ended";
    box.setAttribute("role", "alertdialog");
    box.setAttribute("aria-labelledby", "session-ended-title");
    box.dataset.testid = "session-ended";
    box.innerHTML =
      '<h2 id="session-ended-title">Your session has ended</h2>' +
      "<p>Log in again to go on. What you typed is kept and comes back after you log in.</p>" +
      '<p><a class="button" data-testid="session-login" href="/console/login/?next=' + next + '">Log in again</a></p>';
    document.body.appendChild(box);
    box.querySelector("a").focus();
  }

  function escapeHtml(value) {
    return String(value).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  }

  // A stamped log line's level, as the server classifies it (jobs.logstore.classify); anything else is INFO.
  const STAMPED = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3} (?:SYSTEM-)?(ERROR|WARN|INFO) /;

  function logLevel(line) {
    const match = STAMPED.exec(line);
    return match ? match[1] : "INFO";
  }

  /** Append log lines to a <pre>, each a span marked with its level (ERROR and WARN coloured), keeping it
   * scrolled to the end if it was; a log with search tools (logTools) shows only the lines its filter matches. */
  function appendLogLines(log, lines) {
    const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
    const fragment = document.createDocumentFragment();
    for (const line of lines) {
      const span = document.createElement("span");
      span.className = span.dataset.level = logLevel(line);
      span.logLine = line;
      span.textContent = line + "\n";
      if (log.logFilter) log.logFilter.apply(span);
      fragment.appendChild(span);
    }
    log.appendChild(fragment);
    if (log.logFilter) log.logFilter.count();
    if (atBottom) log.scrollTop = log.scrollHeight;
  }

  function escapeRegExp(text) {
    return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }

  /**
   * Search and level filter of a log <pre> filled by appendLogLines: lines that do not match are hidden and the
   * matches marked; ``count`` says how many lines are shown. Lines appended later are filtered as they come.
   * @param {HTMLElement} log  the <pre>
   * @param {{search: HTMLInputElement, level: HTMLSelectElement, count: HTMLElement}} tools
   */
  function logTools(log, tools) {
    const filter = {
      text: "",
      level: "",
      pattern: null,
      matches(span) {
        if (this.level && span.dataset.level !== this.level) return false;
        return !this.pattern || this.pattern.test(span.logLine);
      },
      apply(span) {
        if (typeof span.logLine !== "string") return; // "(no log lines)" and the like
        const shown = this.matches(span);
        span.hidden = !shown;
        const mark = Boolean(shown && this.pattern);
        if (!mark && !span.marked) return;
        span.marked = mark;
        span.textContent = mark ? "" : span.logLine + "\n";
        if (!mark) return;
        const parts = span.logLine.split(new RegExp("(" + escapeRegExp(this.text) + ")", "i"));
        parts.forEach((part, i) => {
          if (i % 2) {
            const mark = document.createElement("mark");
            mark.textContent = part;
            span.appendChild(mark);
          } else if (part) {
            span.appendChild(document.createTextNode(part));
          }
        });
        span.appendChild(document.createTextNode("\n"));
      },
      count() {
        if (!this.text && !this.level) {
          tools.count.textContent = "";
          return;
        }
        let all = 0;
        let shown = 0;
        for (const span of log.children) {
          if (typeof span.logLine !== "string") continue;
          all += 1;
          if (!span.hidden) shown += 1;
        }
        tools.count.textContent = "Showing " + shown + " of " + all + " line" + (all === 1 ? "" : "s") + ".";
      },
      refresh() {
        this.text = tools.search.value;
        this.level = tools.level.value;
        // A literal, case-insensitive search (no "g" flag: test() keeps no state between lines).
        this.pattern = this.text ? new RegExp(escapeRegExp(this.text), "i") : null;
        for (const span of log.children) this.apply(span);
        this.count();
      },
    };
    log.logFilter = filter;
    let timer = null;
    tools.search.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => filter.refresh(), 150);
    });
    tools.search.addEventListener("search", () => filter.refresh()); // the clear button, Enter
    tools.level.addEventListener("change", () => filter.refresh());
    filter.refresh();
    return filter;
  }

  /**
   * Show a job's per-stage progress (Linkis's progressInfo: [{id, succeedTasks, failedTasks, runningTasks,
   * totalTasks}]) as a list of small bars; hidden when there is none. ``info`` undefined: nothing new, left as is.
   */
  function renderStages(list, info) {
    if (!list || !Array.isArray(info)) return;
    const number = (value) => Math.max(0, Math.floor(Number(value) || 0));
    const stages = info.filter((stage) => stage && number(stage.totalTasks) > 0);
    list.hidden = !stages.length;
    list.innerHTML = stages.map((stage) => {
      const total = number(stage.totalTasks);
      const done = Math.min(number(stage.succeedTasks), total);
      const running = Math.min(number(stage.runningTasks), total - done);
      const failed = Math.min(number(stage.failedTasks), total - done - running);
      const share = (count) => (100 * count / total).toFixed(2) + "%";
      const id = escapeHtml(stage.id === undefined ? "" : stage.id);
      return '<li data-testid="job-stage" data-stage-id="' + id + '" data-succeed="' + done + '" data-running="' +
        running + '" data-failed="' + failed + '" data-total="' + total + '">' +
        '<span class="stage-name">' + id + "</span>" +
        '<span class="stage-bar" aria-hidden="true">' +
        '<span class="stage-done" style="width:' + share(done) + '"></span>' +
        '<span class="stage-running" style="width:' + share(running) + '"></span>' +
        '<span class="stage-failed" style="width:' + share(failed) + '"></span></span>' +
        '<span class="stage-count">' + done + " of " + total + " tasks done" +
        (running ? ", " + running + " running" : "") + (failed ? ", " + failed + " failed" : "") + "</span></li>";
    }).join("");
  }

  /** Show how a page follows its job: "websocket" or "polling". */
  function setConnectionMode(badge, mode) {
    badge.textContent = mode;
    badge.dataset.mode = mode;
  }

  function setupNav() {
    const toggle = document.querySelector(".nav-toggle");
    const nav = document.getElementById("site-nav");
    if (!toggle || !nav) return;
    toggle.addEventListener("click", () => {
      const open = nav.classList.toggle("open");
      toggle.setAttribute("aria-expanded", String(open));
    });
  }

  window.Console = {
    api, cookie, escapeHtml, appendLogLines, logLevel, logTools, renderStages, setConnectionMode, isLoggedOut, sessionEnded,
  };
  document.addEventListener("DOMContentLoaded", setupNav);
})();
