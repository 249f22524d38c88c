/*
 * The job page: follow the job with LiveJob (status, progress with its stages, log; WebSocket or polling), kill
 * it, run it again or open it in the workbench, search and filter its log, and show its result sets with
 * ResultSets once it has finished (at once for a job that had finished when the page loaded).
 */
(function () {
  "use strict";

  const E = "/api/rest_j/v1/entrance/";
  const $ = (id) => document.getElementById(id);
  let root = null;
  let live = null;
  let resultsShown = false;

  function isFinal(status) {
    return LiveJob.FINAL.includes(status);
  }

  function setStatus(status) {
    if (!status) return;
    const badge = $("job-status");
    badge.textContent = status;
    badge.className = "status status-" + status;
    root.dataset.status = status;
    $("job-progress").dataset.status = status;
    if (isFinal(status)) {
      $("kill-button").disabled = true;
      if (status === "Succeed") setProgress(1);
      // Otherwise refreshDetails() shows where it stopped (Linkis's own progress says 1.0 for any ended job).
    }
  }

  function setProgress(value, stages) {
    Console.renderStages($("job-stages"), stages);
    if (typeof value !== "number" || isNaN(value)) return;
    if (isFinal(root.dataset.status) && root.dataset.status !== "Succeed" && value === 1) return;
    const bar = $("job-progress");
    bar.value = value;
    bar.textContent = Math.round(value * 100) + "%";
  }

  function setMode(mode) {
    Console.setConnectionMode($("connection-mode"), mode);
  }

  function appendLines(lines) {
    Console.appendLogLines($("job-log"), lines);
  }

  function showResults() {
    if (resultsShown) return;
    resultsShown = true;
    ResultSets.render($("results"), root.dataset.taskId).catch(() => {
      $("results").innerHTML = '<p class="error">The result could not be loaded.</p>';
    });
  }

  /** Times, duration, exit code and error of the job as it is now (they change when it ends). */
  async function refreshDetails() {
    try {
      const answer = await Console.api(root.dataset.statusUrl + "?ids=" + root.dataset.taskId);
      const job = answer.ok && answer.data && Array.isArray(answer.data.jobs) ? answer.data.jobs[0] : null;
      if (!job) return;
      if (job.final) {
        const bar = $("job-progress");
        bar.value = job.progress;
        bar.textContent = Math.round(job.progress * 100) + "%";
      }
      const fields = { startedAt: job.startedAt, finishedAt: job.finishedAt, duration: job.duration,
                       exitCode: job.exitCode, error: job.error };
      for (const [name, value] of Object.entries(fields)) {
        const cell = document.querySelector('[data-field="' + name + '"]');
        if (cell) cell.textContent = value === null || value === undefined || value === "" ? "—" : String(value);
      }
    } catch (e) {
      // The details stay as loaded; the status above is current.
    }
  }

  async function kill() {
    const button = $("kill-button");
    button.disabled = true;
    $("job-page-error").textContent = "";
    try {
      const answer = await Console.api(E + encodeURIComponent(root.dataset.execId) + "/kill");
      if (!answer.ok || !answer.data || answer.data.status !== 0) {
        $("job-page-error").textContent = (answer.data && answer.data.message) || "The job could not be killed.";
        button.disabled = isFinal(root.dataset.status);
        return;
      }
      $("kill-note").textContent = "Kill requested; the job ends shortly.";
    } catch (e) {
      $("job-page-error").textContent = "The platform could not be reached.";
      button.disabled = isFinal(root.dataset.status);
    }
  }

  /** Submit the job's code, engine labels, run type and params again (Linkis's submit) and go to the new job. */
  async function runAgain() {
    const rerun = JSON.parse($("job-rerun").textContent);
    const button = $("rerun-button");
    button.disabled = true;
    $("job-page-error").textContent = "";
    const body = {
      executionContent: { code: rerun.code, runType: rerun.runType },
      labels: rerun.labels,
      params: rerun.params,
    };
    try {
      const answer = await Console.api(E + "submit", { method: "POST", body });
      if (Console.isLoggedOut(answer.status, answer.data)) return; // the session-ended dialog says it
      if (!answer.ok || !answer.data || answer.data.status !== 0) {
        $("job-page-error").textContent = (answer.data && answer.data.message) || "The job could not be submitted.";
        button.disabled = false;
        return;
      }
      location.assign("/console/jobs/" + encodeURIComponent(answer.data.data.taskID) + "/");
    } catch (e) {
      $("job-page-error").textContent = "The platform could not be reached.";
      button.disabled = false;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    root = $("job-page");
    if (!root) return;
    Console.logTools($("job-log"), { search: $("log-search"), level: $("log-level"), count: $("log-count") });
    if ($("rerun-button")) $("rerun-button").addEventListener("click", runAgain);
    const loadedFinal = root.dataset.final === "true";
    if (loadedFinal && parseInt(root.dataset.resultFiles || "0", 10) > 0) showResults();
    else if (loadedFinal) resultsShown = true; // "No result set." is already on the page
    $("kill-button").addEventListener("click", kill);
    live = new LiveJob({
      execId: root.dataset.execId,
      taskId: root.dataset.taskId,
      onStatus: setStatus,
      onMode: setMode,
      onLines: appendLines,
      onProgress: setProgress,
      onEnd: (status) => {
        setStatus(status);
        if (!$("job-log").childNodes.length) $("job-log").textContent = "(no log lines)";
        if (!loadedFinal) refreshDetails();
        showResults();
      },
    });
    live.start();
  });
})();
