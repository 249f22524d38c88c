/*
 * An OpenPAI job's page: task logs (the platform's task log route, owner or admin), Stop (executionType STOP),
 * and, while the job runs, its state and its tasks' states refreshed from OpenPAI's job detail route.
 */
(function () {
  "use strict";

  const INTERVAL_MS = 4000;
  const $ = (id) => document.getElementById(id);
  let root = null;

  function timeText(ms) {
    if (!ms) return "—";
    return new Date(ms).toISOString().replace("T", " ").slice(0, 19) + " UTC";
  }

  function errorText(status, body) {
    let message = "";
    try {
      const data = JSON.parse(body);
      message = (data && data.message) || "";
    } catch (e) {
      message = "";
    }
    if (status === 401) return message || "Log in again to read this log.";
    if (status === 403) return "Only the job's owner or an admin can read task logs." + (message ? " (" + message + ")" : "");
    return message || "The log could not be loaded (HTTP " + status + ").";
  }

  async function loadLog(url, pre) {
    pre.setAttribute("aria-busy", "true");
    pre.textContent = "Loading…";
    try {
      const response = await fetch(url, { credentials: "same-origin" });
      const body = await response.text();
      if (!response.ok) {
        pre.textContent = errorText(response.status, body);
        pre.classList.add("log-error");
      } else {
        pre.classList.remove("log-error");
        pre.textContent = body || "(no log lines yet)";
        pre.scrollTop = pre.scrollHeight;
      }
    } catch (e) {
      pre.textContent = "The platform could not be reached.";
    } finally {
      pre.setAttribute("aria-busy", "false");
    }
  }

  function setupLogs() {
    document.querySelectorAll(".task-log-button").forEach((button) => {
      button.addEventListener("click", () => {
        const row = $(button.getAttribute("aria-controls"));
        const open = button.getAttribute("aria-expanded") !== "true";
        button.setAttribute("aria-expanded", String(open));
        button.textContent = open ? "Hide log" : "Show log";
        row.hidden = !open;
        if (open) loadLog(button.dataset.logUrl, row.querySelector(".task-log"));
      });
    });
    document.querySelectorAll(".task-log-reload").forEach((button) => {
      button.addEventListener("click", () => loadLog(button.dataset.logUrl, button.parentElement.querySelector(".task-log")));
    });
  }

  function setState(state) {
    const badge = $("pai-state");
    if (badge.textContent !== state) {
      badge.textContent = state;
      badge.className = "status status-" + state;
    }
  }

  function setField(name, value, pre) {
    const cell = document.querySelector('[data-testid="openpai-job-status"] [data-field="' + name + '"]');
    if (!cell) return;
    const empty = value === null || value === undefined || value === "";
    if (pre && !empty) {
      const block = document.createElement("pre");
      block.className = "diagnostics";
      block.textContent = String(value);
      cell.replaceChildren(block);
    } else {
      cell.textContent = empty ? "—" : String(value);
    }
  }

  function applyDetail(detail) {
    const status = detail.jobStatus || {};
    setState(status.state);
    const bar = $("pai-progress");
    let progress = status.appProgress || 0;
    if (["FAILED", "STOPPED"].includes(status.state)) {
      // OpenPAI's appProgress says 1.0 for any ended job: show where it stopped, the share of tasks that succeeded.
      const tasks = Object.values(detail.taskRoles || {}).flatMap((info) => info.taskStatuses || []);
      progress = tasks.length ? tasks.filter((task) => task.taskState === "SUCCEEDED").length / tasks.length : 0;
    }
    bar.value = progress;
    bar.dataset.status = status.state || "";
    bar.textContent = Math.round(progress * 100) + "%";
    setField("subState", status.subState);
    setField("executionType", status.executionType);
    setField("appLaunchedTime", timeText(status.appLaunchedTime));
    setField("appCompletedTime", timeText(status.appCompletedTime));
    setField("appExitCode", status.appExitCode);
    setField("appExitType", status.appExitType);
    setField("appExitDiagnostics", status.appExitDiagnostics, true);
    const changed = [];
    for (const [role, info] of Object.entries(detail.taskRoles || {})) {
      for (const task of info.taskStatuses || []) {
        const row = Array.from(document.querySelectorAll('tr[data-testid="task-row"]')).find(
          (r) => r.dataset.role === role && r.dataset.index === String(task.taskIndex)
        );
        if (!row) continue;
        const badge = row.querySelector('[data-field="taskState"]');
        if (badge.textContent !== task.taskState) {
          badge.textContent = task.taskState;
          badge.className = "status status-" + task.taskState;
          changed.push(role + " task " + task.taskIndex + " is " + task.taskState + ".");
        }
        const exit = row.querySelector('[data-field="containerExitCode"]');
        exit.textContent = task.containerExitCode === null || task.containerExitCode === undefined ? "—" : String(task.containerExitCode);
      }
    }
    if (changed.length) $("pai-live").textContent = changed.join(" ");
    if (String(status.retries) !== root.dataset.retries) {
      $("pai-note").innerHTML = 'A new attempt has started. <a href="">Reload the page</a> to see its tasks.';
    }
    const final = ["SUCCEEDED", "FAILED", "STOPPED"].includes(status.state);
    if (final) {
      root.dataset.final = "true";
      if ($("pai-stop")) $("pai-stop").disabled = true;
      if ($("pai-note").textContent === "Stopping…") $("pai-note").textContent = "";
    }
    return final;
  }

  async function refresh() {
    try {
      const answer = await Console.api(root.dataset.apiUrl);
      if (answer.ok && answer.data && answer.data.jobStatus) return !applyDetail(answer.data);
      return answer.status >= 500;
    } catch (e) {
      return true;
    }
  }

  async function stop() {
    const button = $("pai-stop");
    button.disabled = true;
    $("pai-error").textContent = "";
    try {
      const answer = await Console.api(root.dataset.apiUrl + "/executionType", { method: "PUT", body: { value: "STOP" } });
      if (!answer.ok) {
        $("pai-error").textContent = (answer.data && answer.data.message) || "The job could not be stopped.";
        button.disabled = root.dataset.final === "true";
        return;
      }
      $("pai-note").textContent = "Stopping…";
      refresh();
    } catch (e) {
      $("pai-error").textContent = "The platform could not be reached.";
      button.disabled = false;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    root = $("pai-page");
    if (!root) return;
    setupLogs();
    if ($("pai-stop")) $("pai-stop").addEventListener("click", stop);
    const tick = async () => {
      if (document.hidden || (await refresh())) setTimeout(tick, INTERVAL_MS);
    };
    if (root.dataset.final !== "true") setTimeout(tick, INTERVAL_MS);
  });
})();
