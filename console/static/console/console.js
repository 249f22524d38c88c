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

  /** Append log lines to a <pre>, ERROR and WARN lines marked, keeping it scrolled to the end if it was. */
  function appendLogLines(log, lines) {
    const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
    const fragment = document.createDocumentFragment();
    for (const line of lines) {
      const span = document.createElement("span");
      const level = / (ERROR|WARN) /.exec(line);
      if (level) span.className = level[1];
      span.textContent = line + "\n";
      fragment.appendChild(span);
    }
    log.appendChild(fragment);
    if (atBottom) log.scrollTop = log.scrollHeight;
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

  window.Console = { api, cookie, escapeHtml, appendLogLines, setConnectionMode, isLoggedOut, sessionEnded };
  document.addEventListener("DOMContentLoaded", setupNav);
})();
