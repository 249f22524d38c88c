/*
 * The job list's live statuses: every few seconds, one request for the statuses of the unfinished rows on the
 * page (/console/jobs/status/?ids=...), until every row has finished. A change is announced once, politely.
 */
(function () {
  "use strict";

  const INTERVAL_MS = 3000;

  function liveRows(table) {
    return Array.from(table.querySelectorAll('tbody tr[data-live="true"]'));
  }

  function update(row, job, announce) {
    const badge = row.querySelector('[data-field="status"]');
    if (badge && badge.textContent !== job.status) {
      badge.textContent = job.status;
      badge.className = "status status-" + job.status;
      announce.push("Job " + job.taskID + " is " + job.status + ".");
    }
    const progress = row.querySelector('[data-field="progress"]');
    if (progress) {
      progress.textContent = Math.round(job.progress * 100) + "%"; // where a failed or cancelled job stopped
      progress.className = "num progress-" + job.status;
    }
    const duration = row.querySelector('[data-field="duration"]');
    if (duration) duration.textContent = job.duration || "—";
    if (job.final) row.removeAttribute("data-live");
  }

  async function refresh(table) {
    const rows = liveRows(table);
    if (!rows.length) return false;
    if (document.hidden) return true; // nobody is looking: ask again later
    const byId = new Map(rows.map((row) => [String(row.dataset.taskId), row]));
    try {
      const answer = await Console.api(table.dataset.statusUrl + "?ids=" + Array.from(byId.keys()).join(","));
      if (!answer.ok) return answer.status >= 500; // a server error may pass; anything else will not
      if (!answer.data || !Array.isArray(answer.data.jobs)) return false; // e.g. the session ended: a login page
      const announce = [];
      for (const job of answer.data.jobs) {
        const row = byId.get(String(job.taskID));
        if (row) update(row, job, announce);
      }
      if (announce.length) document.getElementById("jobs-live").textContent = announce.join(" ");
    } catch (e) {
      // The platform is unreachable for now: keep trying.
    }
    return liveRows(table).length > 0;
  }

  document.addEventListener("DOMContentLoaded", () => {
    const table = document.querySelector('[data-testid="jobs-table"]');
    if (!table) return;
    const tick = async () => {
      if (await refresh(table)) setTimeout(tick, INTERVAL_MS);
    };
    if (liveRows(table).length) setTimeout(tick, INTERVAL_MS);
  });
})();
