/*
 * The workbench: pick an engine and run type, write code, run it, follow it live (status, progress by stage, a
 * searchable log), kill it, read and chart its result. /console/?from=<taskID> loads a job's code, engine and
 * run type into the editor (the job page's "Open in workbench").
 */
(function () {
  "use strict";

  const E = "/api/rest_j/v1/entrance/";
  const $ = (id) => document.getElementById(id);
  let editor = null;
  let live = null;
  let current = null; // {execId, taskId}

  function selectedEngine() {
    const option = $("engine-select").selectedOptions[0];
    return { name: option.value, engineType: option.dataset.engineType, runTypes: option.dataset.runTypes.split(","), mode: option.dataset.mode };
  }

  function fillRunTypes() {
    const engine = selectedEngine();
    const select = $("runtype-select");
    select.innerHTML = engine.runTypes.map((t) => '<option value="' + t + '">' + t + "</option>").join("");
    if (editor) editor.setOption("mode", select.value === "python" ? "python" : engine.mode);
  }

  function setStatus(status) {
    const badge = $("job-status");
    badge.textContent = status || "—";
    badge.className = "status status-" + (status || "none");
    $("kill-button").disabled = !current || LiveJob.FINAL.includes(status);
    $("job-progress").dataset.status = status || "";
  }

  function setProgress(value, stages) {
    Console.renderStages($("job-stages"), stages);
    if (typeof value !== "number" || isNaN(value)) return;
    const status = $("job-progress").dataset.status;
    // Linkis's own progress says 1.0 for any ended job: a failed or cancelled one shows where it stopped.
    if (LiveJob.FINAL.includes(status) && status !== "Succeed" && value === 1) return;
    $("job-progress").value = value;
    $("job-progress").textContent = Math.round(value * 100) + "%";
  }

  async function showStoppedAt(taskId) {
    try {
      const answer = await Console.api("/console/jobs/status/?ids=" + encodeURIComponent(taskId));
      const job = answer.ok && answer.data && Array.isArray(answer.data.jobs) ? answer.data.jobs[0] : null;
      if (job && job.final) {
        $("job-progress").value = job.progress;
        $("job-progress").textContent = Math.round(job.progress * 100) + "%";
      }
    } catch (e) {
      // The bar stays where it was.
    }
  }

  function setMode(mode) {
    Console.setConnectionMode($("connection-mode"), mode);
  }

  function appendLines(lines) {
    Console.appendLogLines($("job-log"), lines);
  }

  // --- the draft: the editor's code and engine, kept in the browser across reloads and an ended session ---------
  const DRAFT_KEY = "console.workbench.draft";
  let draftTimer = null;

  function currentCode() {
    return editor ? editor.getValue() : $("code-editor").value;
  }

  function saveDraft() {
    clearTimeout(draftTimer);
    try {
      localStorage.setItem(DRAFT_KEY, JSON.stringify({ code: currentCode(), engine: $("engine-select").value,
                                                        runType: $("runtype-select").value }));
    } catch (e) {
      // Storage full or disabled: the code stays in the editor.
    }
  }

  function saveDraftSoon() {
    clearTimeout(draftTimer);
    draftTimer = setTimeout(saveDraft, 300);
  }

  function restoreDraft() {
    let draft = null;
    try { draft = JSON.parse(localStorage.getItem(DRAFT_KEY) || "null"); } catch (e) { draft = null; }
    if (!draft || typeof draft.code !== "string") return null;
    const engines = Array.from($("engine-select").options).map((option) => option.value);
    if (engines.includes(draft.engine)) $("engine-select").value = draft.engine;
    if (editor) editor.setValue(draft.code);
    else $("code-editor").value = draft.code;
    return draft;
  }

  // --- ${variables} and the selection ----------------------------------------------------------------------------
  // Linkis substitutes ${name} from params.variable (and its built-in run_date...); the form asks for the others.
  const VARIABLE = /\$\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}/g;
  const BUILTIN = ["run_date", "run_date_std", "run_today", "run_today_std"];
  const variableValues = {};

  function selectedCode() {
    return editor && editor.somethingSelected() ? editor.getSelection() : "";
  }

  function codeToRun() {
    return selectedCode() || currentCode();
  }

  function refreshVariables() {
    const names = [];
    for (const match of codeToRun().matchAll(VARIABLE)) {
      if (!BUILTIN.includes(match[1]) && !names.includes(match[1])) names.push(match[1]);
    }
    const box = $("variables");
    const list = $("variables-list");
    box.hidden = !names.length;
    const shown = Array.from(list.querySelectorAll("input")).map((input) => input.name);
    if (shown.join(",") !== names.join(",")) {
      list.innerHTML = names.map((name, i) =>
        '<label for="var-' + i + '">${' + Console.escapeHtml(name) + "}</label>" +
        '<input id="var-' + i + '" name="' + Console.escapeHtml(name) + '" data-testid="variable-input" value="' +
        Console.escapeHtml(variableValues[name] || "") + '">').join("");
      list.querySelectorAll("input").forEach((input) =>
        input.addEventListener("input", () => { variableValues[input.name] = input.value; }));
    }
    $("run-button").textContent = selectedCode() ? "Run selection" : "Run";
  }

  function variables() {
    const values = {};
    $("variables-list").querySelectorAll("input").forEach((input) => { values[input.name] = input.value; });
    return values;
  }

  async function run(event) {
    event.preventDefault();
    $("run-error").textContent = "";
    const code = codeToRun(); // the selection when there is one, as Scriptis runs it
    const engine = selectedEngine();
    const body = {
      executionContent: { code, runType: $("runtype-select").value },
      labels: { engineType: engine.engineType, userCreator: "console-IDE" },
      params: { variable: variables(), configuration: {} },
    };
    $("run-button").disabled = true;
    try {
      const answer = await Console.api(E + "submit", { method: "POST", body });
      if (Console.isLoggedOut(answer.status, answer.data)) return; // the session-ended dialog says it
      if (!answer.ok || answer.data.status !== 0) {
        $("run-error").textContent = (answer.data && answer.data.message) || "The job could not be submitted.";
        return;
      }
      follow(answer.data.data.execID, answer.data.data.taskID);
    } catch (e) {
      $("run-error").textContent = "The platform could not be reached.";
    } finally {
      $("run-button").disabled = false;
    }
  }

  function follow(execId, taskId) {
    if (live) live.stop();
    current = { execId, taskId };
    $("job-log").textContent = "";
    $("job-log").logFilter.count();
    $("results").innerHTML = '<p class="muted">The result set of a finished run appears here.</p>';
    $("job-progress").value = 0;
    Console.renderStages($("job-stages"), []);
    $("log-download").href = "/console/jobs/" + encodeURIComponent(taskId) + "/log.txt";
    $("log-download").hidden = false;
    $("job-ident").innerHTML = 'Task <a href="/console/jobs/' + taskId + '/">' + taskId + "</a> · " + Console.escapeHtml(execId);
    setStatus("Inited");
    live = new LiveJob({
      execId,
      taskId,
      onStatus: setStatus,
      onMode: setMode,
      onLines: appendLines,
      onProgress: setProgress,
      onEnd: (status) => {
        setStatus(status);
        if (status === "Succeed") setProgress(1);
        else showStoppedAt(taskId);
        loadRecent();
        if (status === "Succeed") ResultSets.render($("results"), taskId);
      },
    });
    live.start();
    loadRecent();
  }

  /** Load a job's code, engine and run type (the job history API) into the editor, as the draft. */
  async function loadFromJob(taskId) {
    history.replaceState(null, "", location.pathname); // a reload keeps the draft, not the job's code again
    let task = null;
    try {
      const answer = await Console.api("/api/rest_j/v1/jobhistory/" + encodeURIComponent(taskId) + "/get");
      task = answer.ok && answer.data && answer.data.data && answer.data.data.task;
    } catch (e) {
      task = null;
    }
    if (!task) {
      $("run-error").textContent = "Job #" + taskId + " could not be loaded.";
      return;
    }
    const engines = Array.from($("engine-select").options).map((option) => option.value);
    const engine = task.engineType || task.executeApplicationName;
    const offered = engines.includes(engine);
    if (offered) $("engine-select").value = engine;
    if (editor) editor.setValue(task.executionCode || "");
    else $("code-editor").value = task.executionCode || "";
    fillRunTypes();
    if (Array.from($("runtype-select").options).some((option) => option.value === task.runType)) {
      $("runtype-select").value = task.runType;
      if (editor) editor.setOption("mode", task.runType === "python" ? "python" : selectedEngine().mode);
    }
    saveDraft();
    const link = '<a href="/console/jobs/' + encodeURIComponent(task.taskID) + '/">job #' + Console.escapeHtml(task.taskID) + "</a>";
    $("job-ident").innerHTML = "Loaded the code of " + link + "." +
      (offered ? "" : " It ran on " + Console.escapeHtml(engine) + ", which the workbench does not offer you: pick an engine.");
  }

  async function kill() {
    if (!current) return;
    $("kill-button").disabled = true;
    const answer = await Console.api(E + current.execId + "/kill");
    if (!answer.ok || answer.data.status !== 0) {
      $("run-error").textContent = (answer.data && answer.data.message) || "The job could not be killed.";
      $("kill-button").disabled = false;
    }
  }

  async function loadRecent() {
    const answer = await Console.api("/api/rest_j/v1/jobhistory/list?pageSize=10&pageNow=1");
    const list = $("recent-runs");
    const tasks = (answer.ok && answer.data.data && answer.data.data.tasks) || [];
    if (!tasks.length) {
      list.innerHTML = '<li class="muted">No runs yet.</li>';
      return;
    }
    list.innerHTML = tasks.map((task) =>
      '<li><a href="/console/jobs/' + task.taskID + '/">#' + task.taskID + "</a> " +
      '<span class="status status-' + Console.escapeHtml(task.status) + '">' + Console.escapeHtml(task.status) + "</span> " +
      '<span class="muted">' + Console.escapeHtml(task.runType || "") + "</span><br>" +
      "<code>" + Console.escapeHtml((task.executionCode || "").split("\n")[0].slice(0, 60)) + "</code></li>").join("");
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (window.CodeMirror) {
      editor = CodeMirror.fromTextArea($("code-editor"), {
        lineNumbers: true,
        matchBrackets: true,
        indentUnit: 4,
        mode: "python",
        extraKeys: { "Ctrl-Enter": () => $("run-form").requestSubmit(), "Cmd-Enter": () => $("run-form").requestSubmit() },
        screenReaderLabel: "Code",
      });
      // Tests and assistive tools find the editor by its data-testid on the visible wrapper too.
      editor.getWrapperElement().setAttribute("data-testid", "code-editor");
      $("code-editor").removeAttribute("data-testid");
      window.workbenchEditor = editor;
    }
    const draft = restoreDraft();
    if (editor) {
      editor.on("change", saveDraftSoon);
      editor.on("change", refreshVariables);
      editor.on("cursorActivity", refreshVariables);
    } else {
      $("code-editor").addEventListener("input", saveDraftSoon);
      $("code-editor").addEventListener("input", refreshVariables);
    }
    refreshVariables();
    document.addEventListener("console:session-ended", saveDraft);
    window.addEventListener("pagehide", saveDraft);
    fillRunTypes();
    if (draft && Array.from($("runtype-select").options).some((option) => option.value === draft.runType)) {
      $("runtype-select").value = draft.runType;
    }
    $("engine-select").addEventListener("change", () => { fillRunTypes(); saveDraft(); });
    $("runtype-select").addEventListener("change", () => {
      if (editor) editor.setOption("mode", $("runtype-select").value === "python" ? "python" : selectedEngine().mode);
    });
    $("run-form").addEventListener("submit", run);
    $("kill-button").addEventListener("click", kill);
    Console.logTools($("job-log"), { search: $("log-search"), level: $("log-level"), count: $("log-count") });
    const from = new URLSearchParams(location.search).get("from");
    if (from && /^\d+$/.test(from)) loadFromJob(from);
    loadRecent();
  });
})();
