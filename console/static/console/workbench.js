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

  // --- ${variables} and the selection ----------------------------------------------------------------------------
  // Linkis substitutes ${name} from params.variable (and its built-in run_date...); the form asks for the others.
  const VARIABLE = /\$\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}/g;
  const BUILTIN = ["run_date", "run_date_std", "run_today", "run_today_std"];
  let variableValues = {}; // the active tab's values, by name

  function currentCode() {
    return editor ? editor.getValue() : $("code-editor").value;
  }

  function selectedCode() {
    return editor && editor.somethingSelected() ? editor.getSelection() : "";
  }

  function codeToRun() {
    return selectedCode() || currentCode();
  }

  function variableNames(code) {
    const names = [];
    for (const match of code.matchAll(VARIABLE)) {
      if (!BUILTIN.includes(match[1]) && !names.includes(match[1])) names.push(match[1]);
    }
    return names;
  }

  /** Show one input per ${name} of the code to run; `rebuild` redraws them with the active tab's values. */
  function refreshVariables(rebuild) {
    const names = variableNames(codeToRun());
    const box = $("variables");
    const list = $("variables-list");
    box.hidden = !names.length;
    const shown = Array.from(list.querySelectorAll("input")).map((input) => input.name);
    if (rebuild === true || shown.join(",") !== names.join(",")) {
      list.innerHTML = names.map((name, i) =>
        '<label for="var-' + i + '">${' + Console.escapeHtml(name) + "}</label>" +
        '<input id="var-' + i + '" name="' + Console.escapeHtml(name) + '" data-testid="variable-input" value="' +
        Console.escapeHtml(variableValues[name] || "") + '">').join("");
      list.querySelectorAll("input").forEach((input) =>
        input.addEventListener("input", () => {
          variableValues[input.name] = input.value;
          markDirty();
          saveDraftSoon();
        }));
    }
    $("run-button").textContent = selectedCode() ? "Run selection" : "Run";
  }

  function variables() {
    const values = {};
    $("variables-list").querySelectorAll("input").forEach((input) => { values[input.name] = input.value; });
    return values;
  }

  // --- tabs: the open scripts, each with its own code (a CodeMirror document), engine, run type and variables -----
  // A tab is {id, path (null: untitled), name, doc or code, baseline (the code as saved), baselineVars, engine,
  // runType, variables}. It is unsaved (•) while its code or the values of its code's variables differ from the saved.
  const tabs = [];
  let active = null;
  let tabSerial = 0;
  let untitledSerial = 0;

  function engineNames() {
    return Array.from($("engine-select").options).map((option) => option.value);
  }

  function tabCode(tab) {
    if (tab.doc) return tab.doc.getValue();
    return tab === active ? $("code-editor").value : tab.code;
  }

  /** The values a save stores: those of the variables the whole code uses, when filled in. */
  function savedVariables(tab) {
    const values = {};
    for (const name of variableNames(tabCode(tab))) {
      if (tab.variables[name]) values[name] = tab.variables[name];
    }
    return values;
  }

  function isDirty(tab) {
    return tabCode(tab) !== tab.baseline || JSON.stringify(savedVariables(tab)) !== tab.baselineVars;
  }

  function markSaved(tab, code) {
    tab.baseline = code;
    tab.baselineVars = JSON.stringify(savedVariables(tab));
  }

  function modeOf(engine, runType) {
    const option = Array.from($("engine-select").options).find((o) => o.value === engine);
    if (runType === "python") return "python";
    return option ? option.dataset.mode : "python";
  }

  function newTab({ path = null, name = null, code = "", baseline = null, baselineVars = "{}", engine = null,
                    runType = null, variables = {} } = {}) {
    const engines = engineNames();
    const tab = {
      id: "tab-" + ++tabSerial,
      path,
      name: name || "Untitled " + ++untitledSerial,
      baseline: baseline === null ? code : baseline,
      baselineVars,
      engine: engines.includes(engine) ? engine : engines[0] || "",
      runType,
      variables: Object.assign({}, variables),
      code,
    };
    if (editor) tab.doc = CodeMirror.Doc(code, modeOf(tab.engine, runType));
    tabs.push(tab);
    return tab;
  }

  /** Show a tab: its document in the editor, its engine, run type and variables in the form. */
  function activate(tab, focus) {
    if (active && !active.doc) active.code = $("code-editor").value;
    active = tab;
    variableValues = tab.variables;
    if ($("engine-select").options.length) {
      if (engineNames().includes(tab.engine)) $("engine-select").value = tab.engine;
      fillRunTypes();
      if (Array.from($("runtype-select").options).some((option) => option.value === tab.runType)) {
        $("runtype-select").value = tab.runType;
      }
      tab.engine = $("engine-select").value;
      tab.runType = $("runtype-select").value;
    }
    if (editor) {
      editor.swapDoc(tab.doc);
      applyMode();
    } else {
      $("code-editor").value = tab.code;
    }
    refreshVariables(true);
    renderTabs();
    highlightOpenFile();
    saveDraft();
    if (focus) {
      const button = document.querySelector('#editor-tabs [data-tab="' + tab.id + '"]');
      if (button) button.focus();
    }
  }

  function applyMode() {
    if (editor && $("engine-select").options.length) {
      editor.setOption("mode", $("runtype-select").value === "python" ? "python" : selectedEngine().mode);
    }
  }

  function renderTabs() {
    $("editor-tabs").innerHTML = tabs.map((tab) => {
      const selected = tab === active;
      const dirty = isDirty(tab);
      const title = tab.path ? relativePath(tab.path) : "Not saved in the workspace";
      return '<span class="tab' + (selected ? " active" : "") + '" role="presentation" data-testid="editor-tab"' +
        ' data-path="' + Console.escapeHtml(tab.path || "") + '" data-name="' + Console.escapeHtml(tab.name) + '">' +
        '<button type="button" role="tab" class="tab-button" id="' + tab.id + '-button" data-tab="' + tab.id + '"' +
        ' aria-selected="' + selected + '" aria-controls="code-panel" tabindex="' + (selected ? "0" : "-1") + '"' +
        ' title="' + Console.escapeHtml(title) + '">' +
        '<span class="tab-name">' + Console.escapeHtml(tab.name) + "</span>" +
        '<span class="tab-dirty" data-testid="tab-dirty"' + (dirty ? "" : " hidden") + ' title="Unsaved changes">' +
        '<span aria-hidden="true"> •</span><span class="visually-hidden"> (unsaved)</span></span></button>' +
        '<button type="button" class="tab-close" data-close="' + tab.id + '" data-testid="tab-close"' +
        ' aria-label="Close ' + Console.escapeHtml(tab.name) + '" title="Close">×</button></span>';
    }).join("");
    if (active) $("code-panel").setAttribute("aria-labelledby", active.id + "-button");
  }

  /** Update the active tab's unsaved marker (called as its code and values change). */
  function markDirty() {
    if (!active) return;
    const marker = document.querySelector('#editor-tabs [data-tab="' + active.id + '"] .tab-dirty');
    if (marker) marker.hidden = !isDirty(active);
  }

  function closeTab(tab) {
    if (isDirty(tab) && !window.confirm("“" + tab.name + "” has unsaved changes. Close it and lose them?")) return;
    const index = tabs.indexOf(tab);
    tabs.splice(index, 1);
    if (!tabs.length) newTab();
    if (tab === active) {
      active = null;
      activate(tabs[Math.min(index, tabs.length - 1)], true);
    } else {
      renderTabs();
      saveDraft();
    }
  }

  function onTabsClick(event) {
    const close = event.target.closest("[data-close]");
    const button = event.target.closest("[data-tab]");
    if (close) closeTab(tabs.find((tab) => tab.id === close.dataset.close));
    else if (button) activate(tabs.find((tab) => tab.id === button.dataset.tab), true);
  }

  /** Arrow keys move between tabs (the tablist pattern); Delete closes the focused one. */
  function onTabsKey(event) {
    const button = event.target.closest("[data-tab]");
    if (!button) return;
    const index = tabs.findIndex((tab) => tab.id === button.dataset.tab);
    let next = null;
    if (event.key === "ArrowRight") next = tabs[(index + 1) % tabs.length];
    else if (event.key === "ArrowLeft") next = tabs[(index - 1 + tabs.length) % tabs.length];
    else if (event.key === "Home") next = tabs[0];
    else if (event.key === "End") next = tabs[tabs.length - 1];
    else if (event.key === "Delete") { event.preventDefault(); closeTab(tabs[index]); return; }
    if (next) {
      event.preventDefault();
      activate(next, true);
    }
  }

  // --- the draft: the open tabs, kept in the browser across reloads and an ended session -------------------------
  // DRAFT_KEY keeps the active tab's {code, engine, runType} as before (and is read when there are no tabs stored);
  // TABS_KEY holds every open tab.
  const DRAFT_KEY = "console.workbench.draft";
  const TABS_KEY = "console.workbench.tabs";
  let draftTimer = null;

  function saveDraft() {
    clearTimeout(draftTimer);
    if (!active) return;
    try {
      localStorage.setItem(DRAFT_KEY, JSON.stringify({ code: tabCode(active), engine: $("engine-select").value,
                                                        runType: $("runtype-select").value }));
      localStorage.setItem(TABS_KEY, JSON.stringify({
        active: tabs.indexOf(active),
        tabs: tabs.map((tab) => ({
          path: tab.path, name: tab.name, code: tabCode(tab), baseline: tab.baseline, baselineVars: tab.baselineVars,
          engine: tab.engine, runType: tab.runType, variables: tab.variables,
        })),
      }));
    } catch (e) {
      // Storage full or disabled: the code stays in the editor.
    }
  }

  function saveDraftSoon() {
    clearTimeout(draftTimer);
    draftTimer = setTimeout(saveDraft, 300);
  }

  function readJson(key) {
    try { return JSON.parse(localStorage.getItem(key) || "null"); } catch (e) { return null; }
  }

  /** Open the stored tabs (or the older single draft, or the page's sample code); return the tab to show. */
  function restoreTabs() {
    const stored = readJson(TABS_KEY);
    if (stored && Array.isArray(stored.tabs)) {
      for (const saved of stored.tabs) {
        if (!saved || typeof saved.code !== "string") continue;
        const isFile = typeof saved.path === "string" && saved.path !== "";
        newTab({
          path: isFile ? saved.path : null,
          name: typeof saved.name === "string" && saved.name ? saved.name : null,
          code: saved.code,
          baseline: typeof saved.baseline === "string" ? saved.baseline : saved.code,
          baselineVars: typeof saved.baselineVars === "string" ? saved.baselineVars : "{}",
          engine: saved.engine,
          runType: saved.runType,
          variables: saved.variables && typeof saved.variables === "object" ? saved.variables : {},
        });
        const number = /^Untitled (\d+)$/.exec(tabs[tabs.length - 1].name);
        if (number) untitledSerial = Math.max(untitledSerial, Number(number[1]));
      }
      if (tabs.length) return tabs[Math.min(Math.max(Number(stored.active) || 0, 0), tabs.length - 1)];
    }
    const draft = readJson(DRAFT_KEY);
    if (draft && typeof draft.code === "string") {
      return newTab({ code: draft.code, engine: draft.engine, runType: draft.runType });
    }
    return newTab({ code: $("code-editor").value });
  }

  // --- the workspace: the user's files (Linkis's filesystem API), opened into tabs, saved from them --------------
  const FS = "/api/rest_j/v1/filesystem/";
  const SUFFIXES = { python: ".py", shell: ".sh", sql: ".sql", duckdb: ".sql" };
  let rootPath = null; // file:///<workspace root>/<user>
  const listings = {}; // folder path -> its children (the tree's entries), as last read
  const expanded = new Set(); // folder paths shown open
  let selected = null; // {path, isLeaf} of the selected tree entry

  /** Call a filesystem route; return the envelope's data or throw an Error with its message. */
  async function fs(route, { query = null, body = undefined } = {}) {
    const url = FS + route + (query ? "?" + new URLSearchParams(query) : "");
    let answer;
    try {
      answer = await Console.api(url, body === undefined ? {} : { method: "POST", body });
    } catch (e) {
      throw new Error("The platform could not be reached.");
    }
    if (Console.isLoggedOut(answer.status, answer.data)) throw new Error(""); // the session-ended dialog says it
    const envelope = answer.data && typeof answer.data === "object" ? answer.data : null;
    if (!envelope || envelope.status !== 0) {
      throw new Error((envelope && envelope.message) || "The workspace could not do that (HTTP " + answer.status + ").");
    }
    return envelope.data || {};
  }

  function wsSay(message) {
    $("ws-error").textContent = "";
    $("ws-status").textContent = message;
  }

  /** Run a workspace action, its failure shown in the page. */
  async function act(action) {
    $("ws-error").textContent = "";
    try {
      await action();
    } catch (e) {
      $("ws-status").textContent = "";
      $("ws-error").textContent = e.message;
    }
  }

  function relativePath(path) {
    return rootPath && path.startsWith(rootPath + "/") ? path.slice(rootPath.length + 1) : path;
  }

  function baseName(path) {
    return path.replace(/\/+$/, "").split("/").pop();
  }

  function parentOf(path) {
    return path.replace(/\/+$/, "").replace(/\/[^/]*$/, "");
  }

  function join(folder, name) {
    return folder.replace(/\/+$/, "") + "/" + name;
  }

  /** The folder new entries go in: the selected folder, the selected file's folder, or the workspace's root. */
  function targetFolder() {
    if (!selected) return rootPath;
    return selected.isLeaf ? parentOf(selected.path) : selected.path;
  }

  function suffixFor(engine, runType) {
    if (engine === "spark") return runType === "python" ? ".py" : ".sql";
    return SUFFIXES[engine] || ".txt";
  }

  /** The engine and run type a file opens with, by its suffix (the active tab's when the suffix says nothing). */
  function engineFor(name) {
    const offered = engineNames();
    const suffix = (/\.([^.]+)$/.exec(name) || [])[1] || "";
    const pick = (...names) => names.find((engine) => offered.includes(engine));
    const current = active ? active.engine : offered[0];
    if (suffix === "py") return { engine: pick("python", "spark") || current, runType: "python" };
    if (suffix === "sh") return { engine: pick("shell") || current, runType: "sh" };
    if (suffix === "sql") {
      const engine = ["sql", "duckdb", "spark"].includes(current) ? current : pick("sql", "duckdb", "spark") || current;
      return { engine, runType: "sql" };
    }
    return { engine: current, runType: null };
  }

  /** A name typed for a new entry: one path component, without control characters. */
  function checkName(name) {
    if (!name) throw new Error("Give a name.");
    if (name.includes("/") || name === "." || name === "..") throw new Error("A name cannot contain “/” or be “.” or “..”.");
    return name;
  }

  /** Ask for a name or path in the page; resolve to the trimmed answer, or null when cancelled. */
  function ask(label, value) {
    const form = $("ws-prompt");
    const input = $("ws-prompt-input");
    const back = document.activeElement;
    $("ws-prompt-label").textContent = label;
    input.value = value || "";
    form.hidden = false;
    input.focus();
    const dot = input.value.lastIndexOf(".");
    input.setSelectionRange(input.value.lastIndexOf("/") + 1, dot > input.value.lastIndexOf("/") + 1 ? dot : input.value.length);
    return new Promise((resolve) => {
      function finish(answer) {
        form.hidden = true;
        form.removeEventListener("submit", onSubmit);
        $("ws-prompt-cancel").removeEventListener("click", onCancel);
        form.removeEventListener("keydown", onKey);
        if (back && document.contains(back)) back.focus();
        resolve(answer);
      }
      function onSubmit(event) { event.preventDefault(); finish(input.value.trim()); }
      function onCancel() { finish(null); }
      function onKey(event) { if (event.key === "Escape") { event.preventDefault(); finish(null); } }
      form.addEventListener("submit", onSubmit);
      $("ws-prompt-cancel").addEventListener("click", onCancel);
      form.addEventListener("keydown", onKey);
    });
  }

  async function loadFolder(path) {
    const data = await fs("getDirFileTrees", { query: { path } });
    const tree = data.dirFileTrees;
    listings[path] = tree && Array.isArray(tree.children) ? tree.children.slice().sort((a, b) =>
      (a.isLeaf - b.isLeaf) || a.name.localeCompare(b.name)) : null;
  }

  /** Read the root and every open folder again, and draw the tree. */
  async function refreshTree() {
    if (!rootPath) rootPath = (await fs("getUserRootPath", { query: { pathType: "file" } })).userLocalRootPath;
    await loadFolder(rootPath);
    for (const path of Array.from(expanded)) {
      try { await loadFolder(path); } catch (e) { expanded.delete(path); }
    }
    renderTree();
  }

  function renderTree() {
    const focusedPath = document.activeElement && document.activeElement.closest("#ws-tree") ?
      document.activeElement.dataset.path : null;
    const list = $("ws-tree");
    const entries = listings[rootPath];
    if (!entries || !entries.length) {
      list.innerHTML = '<li class="muted" data-testid="ws-empty">No files yet: New file or New folder starts one.</li>';
    } else {
      list.innerHTML = entries.map(renderEntry).join("");
    }
    if (selected && !list.querySelector('[data-path="' + CSS.escape(selected.path) + '"]')) selected = null;
    highlightOpenFile();
    if (focusedPath) {
      const node = list.querySelector('.ws-node[data-path="' + CSS.escape(focusedPath) + '"]');
      if (node) node.focus();
    }
  }

  function renderEntry(entry) {
    const path = Console.escapeHtml(entry.path);
    const name = Console.escapeHtml(entry.name);
    const isSelected = selected && selected.path === entry.path;
    let html = '<li class="ws-item" data-kind="' + (entry.isLeaf ? "file" : "folder") + '">' +
      '<button type="button" class="ws-node' + (entry.isLeaf ? " ws-file" : " ws-folder") + '" data-testid="ws-node"' +
      ' data-path="' + path + '" data-name="' + name + '" data-leaf="' + entry.isLeaf + '"' +
      (entry.isLeaf ? "" : ' aria-expanded="' + expanded.has(entry.path) + '"') +
      (isSelected ? ' aria-current="true"' : "") + ">" + name + "</button>";
    if (!entry.isLeaf && expanded.has(entry.path)) {
      const children = listings[entry.path] || [];
      html += '<ul role="group" aria-label="' + name + '">' + (children.length ? children.map(renderEntry).join("") :
        '<li class="muted ws-empty">Empty folder</li>') + "</ul>";
    }
    return html + "</li>";
  }

  /** Mark the file of the active tab in the tree, and what is selected; enable the buttons that need a selection. */
  function highlightOpenFile() {
    document.querySelectorAll("#ws-tree .ws-node").forEach((node) => {
      node.classList.toggle("open-file", Boolean(active && active.path === node.dataset.path));
      if (selected && node.dataset.path === selected.path) node.setAttribute("aria-current", "true");
      else node.removeAttribute("aria-current");
    });
    $("ws-rename").disabled = $("ws-delete").disabled = !selected;
  }

  function select(node) {
    selected = { path: node.dataset.path, isLeaf: node.dataset.leaf === "true" };
    highlightOpenFile();
  }

  async function toggleFolder(path, open) {
    if (open) {
      await loadFolder(path);
      expanded.add(path);
    } else {
      expanded.delete(path);
    }
    renderTree();
  }

  async function openFile(path) {
    const existing = tabs.find((tab) => tab.path === path);
    if (existing) {
      activate(existing);
      return;
    }
    const data = await fs("openFile", { query: { path } });
    const content = (data.fileContent && data.fileContent[0] && data.fileContent[0][0]) || "";
    const params = data.metadata && typeof data.metadata === "object" ? data.metadata : {};
    const name = baseName(path);
    const kind = engineFor(name);
    const tab = newTab({ path, name, code: content, engine: kind.engine, runType: kind.runType,
                         variables: params.variable || {} });
    markSaved(tab, content);
    activate(tab);
    wsSay("Opened " + relativePath(path) + ".");
  }

  async function onTreeClick(event) {
    const node = event.target.closest(".ws-node");
    if (!node) return;
    select(node);
    if (node.dataset.leaf === "true") await act(() => openFile(node.dataset.path));
    else await act(() => toggleFolder(node.dataset.path, node.getAttribute("aria-expanded") !== "true"));
  }

  /** Up and Down move between the tree's entries, Right and Left open and close folders, F2 renames, Delete deletes,
   * Escape clears the selection. */
  function onTreeKey(event) {
    const node = event.target.closest(".ws-node");
    if (!node) return;
    const nodes = Array.from($("ws-tree").querySelectorAll(".ws-node"));
    const index = nodes.indexOf(node);
    const folder = node.dataset.leaf !== "true";
    let next = null;
    if (event.key === "ArrowDown") next = nodes[index + 1];
    else if (event.key === "ArrowUp") next = nodes[index - 1];
    else if (event.key === "Home") next = nodes[0];
    else if (event.key === "End") next = nodes[nodes.length - 1];
    else if (event.key === "ArrowRight" && folder && node.getAttribute("aria-expanded") !== "true") {
      event.preventDefault();
      select(node);
      act(() => toggleFolder(node.dataset.path, true));
      return;
    } else if (event.key === "ArrowLeft") {
      event.preventDefault();
      if (folder && node.getAttribute("aria-expanded") === "true") {
        select(node);
        act(() => toggleFolder(node.dataset.path, false));
      } else {
        const parent = node.closest("ul").closest(".ws-item");
        if (parent) parent.querySelector(".ws-node").focus();
      }
      return;
    } else if (event.key === "Escape" && selected) {
      event.preventDefault(); // nothing selected: new entries go in the workspace's root
      selected = null;
      highlightOpenFile();
      return;
    } else if (event.key === "F2" || event.key === "Delete") {
      event.preventDefault();
      select(node);
      if (event.key === "F2") renameSelected();
      else deleteSelected();
      return;
    }
    if (next) {
      event.preventDefault();
      next.focus();
    }
  }

  async function newFile() {
    await act(async () => {
      const folder = targetFolder();
      const suffix = suffixFor($("engine-select").value, $("runtype-select").value);
      let name = await ask("New file in " + (relativePath(folder) === folder ? "the workspace" : relativePath(folder)) +
                           " (" + suffix + " is added when the name has no suffix)", "untitled" + suffix);
      if (name === null) return;
      name = checkName(name);
      if (!name.includes(".")) name += suffix;
      const path = join(folder, name);
      await fs("createNewFile", { body: { path } });
      if (folder !== rootPath) expanded.add(folder);
      await refreshTree();
      const kind = engineFor(name);
      const tab = newTab({ path, name, code: "", engine: kind.engine, runType: kind.runType || $("runtype-select").value });
      markSaved(tab, "");
      activate(tab);
      selected = { path, isLeaf: true };
      highlightOpenFile();
      wsSay("Created " + relativePath(path) + ".");
      if (editor) editor.focus();
    });
  }

  async function newFolder() {
    await act(async () => {
      const folder = targetFolder();
      const name = await ask("New folder in " + (folder === rootPath ? "the workspace" : relativePath(folder)), "");
      if (name === null) return;
      const path = join(folder, checkName(name));
      await fs("createNewDir", { body: { path } });
      if (folder !== rootPath) expanded.add(folder);
      selected = { path, isLeaf: false };
      await refreshTree();
      wsSay("Created the folder " + relativePath(path) + ".");
    });
  }

  async function writeTab(tab, path) {
    const code = tabCode(tab);
    const variable = savedVariables(tab);
    await fs("saveScript", { body: { path, scriptContent: code, params: { variable, configuration: {} },
                                     charset: "utf-8" } });
    markSaved(tab, code);
  }

  async function save() {
    if (!active) return;
    if (!active.path) {
      await saveAs();
      return;
    }
    await act(async () => {
      const tab = active;
      await writeTab(tab, tab.path);
      renderTabs();
      saveDraft();
      wsSay("Saved " + relativePath(tab.path) + ".");
    });
  }

  async function saveAs() {
    if (!active) return;
    await act(async () => {
      const tab = active;
      if (!rootPath) await refreshTree();
      const suffix = suffixFor(tab.engine, tab.runType);
      const suggested = tab.path ? relativePath(tab.path) :
        (targetFolder() === rootPath ? "" : relativePath(targetFolder()) + "/") + tab.name.replace(/\s+/g, "-").toLowerCase() + suffix;
      let answer = await ask("Save as (a path in your workspace)", suggested);
      if (answer === null) return;
      answer = answer.replace(/^\/+/, "");
      if (!answer || answer.split("/").some((part) => !part || part === "." || part === "..")) {
        throw new Error("Give a path in your workspace, such as reports/daily" + suffix + ".");
      }
      if (!baseName(answer).includes(".")) answer += suffix;
      const path = join(rootPath, answer);
      if (tabs.some((other) => other !== tab && other.path === path)) throw new Error(answer + " is open in another tab.");
      await fs("createNewFile", { body: { path } });
      await writeTab(tab, path);
      tab.path = path;
      tab.name = baseName(path);
      for (let folder = parentOf(path); folder.length > rootPath.length; folder = parentOf(folder)) expanded.add(folder);
      selected = { path, isLeaf: true };
      await refreshTree();
      renderTabs();
      saveDraft();
      wsSay("Saved " + answer + ".");
    });
  }

  function renameSelected() {
    if (!selected) return;
    const target = selected;
    act(async () => {
      const oldName = baseName(target.path);
      const name = await ask("Rename " + relativePath(target.path) + " to", oldName);
      if (name === null || name === oldName) return;
      const newPath = join(parentOf(target.path), checkName(name));
      await fs("rename", { body: { oldDest: target.path, newDest: newPath } });
      // Open tabs of the entry (or, for a folder, of anything in it) follow it.
      for (const tab of tabs) {
        if (tab.path === target.path || (tab.path && tab.path.startsWith(target.path + "/"))) {
          tab.path = newPath + tab.path.slice(target.path.length);
          tab.name = baseName(tab.path);
        }
      }
      for (const path of Array.from(expanded)) {
        if (path === target.path || path.startsWith(target.path + "/")) {
          expanded.delete(path);
          expanded.add(newPath + path.slice(target.path.length));
        }
      }
      selected = { path: newPath, isLeaf: target.isLeaf };
      await refreshTree();
      renderTabs();
      saveDraft();
      wsSay("Renamed " + relativePath(target.path) + " to " + relativePath(newPath) + ".");
    });
  }

  function deleteSelected() {
    if (!selected) return;
    const target = selected;
    const what = (target.isLeaf ? "the file " : "the folder ") + relativePath(target.path) +
      (target.isLeaf ? "" : " and everything in it");
    if (!window.confirm("Delete " + what + "?")) return;
    act(async () => {
      await fs("deleteDirOrFile", { body: { path: target.path } });
      // Open tabs of what was deleted keep their code, as untitled: Save as puts it back.
      for (const tab of tabs) {
        if (tab.path === target.path || (tab.path && tab.path.startsWith(target.path + "/"))) {
          tab.path = null;
          tab.baseline = "";
          tab.baselineVars = ""; // unsaved whatever it holds
          tab.name = tab.name + " (deleted)";
        }
      }
      for (const path of Array.from(expanded)) {
        if (path === target.path || path.startsWith(target.path + "/")) expanded.delete(path);
      }
      selected = null;
      await refreshTree();
      renderTabs();
      saveDraft();
      wsSay("Deleted " + relativePath(target.path) + ".");
    });
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

  /** Load a job's code, engine and run type (the job history API) into a tab: the active one when it is an
   * untitled tab without changes, a new one otherwise. */
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
    const engines = engineNames();
    const engine = task.engineType || task.executeApplicationName;
    const offered = engines.includes(engine);
    const code = task.executionCode || "";
    const name = "Job #" + task.taskID;
    let tab = active;
    if (!tab || tab.path || isDirty(tab)) {
      tab = newTab({ name, code, engine: offered ? engine : active && active.engine, runType: task.runType });
    } else {
      tab.name = name;
      if (offered) tab.engine = engine;
      tab.runType = task.runType;
      if (tab.doc) tab.doc.setValue(code);
      else tab.code = code;
      markSaved(tab, code);
    }
    activate(tab);
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

  function onEditorChange() {
    if (active && !editor) active.code = $("code-editor").value;
    markDirty();
    saveDraftSoon();
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (window.CodeMirror) {
      editor = CodeMirror.fromTextArea($("code-editor"), {
        lineNumbers: true,
        matchBrackets: true,
        indentUnit: 4,
        mode: "python",
        extraKeys: {
          "Ctrl-Enter": () => $("run-form").requestSubmit(),
          "Cmd-Enter": () => $("run-form").requestSubmit(),
          "Ctrl-S": () => save(),
          "Cmd-S": () => save(),
        },
        screenReaderLabel: "Code",
      });
      // Tests and assistive tools find the editor by its data-testid on the visible wrapper too.
      editor.getWrapperElement().setAttribute("data-testid", "code-editor");
      $("code-editor").removeAttribute("data-testid");
      window.workbenchEditor = editor;
    }
    if (editor) {
      editor.on("change", onEditorChange);
      editor.on("change", refreshVariables);
      editor.on("cursorActivity", refreshVariables);
    } else {
      $("code-editor").addEventListener("input", onEditorChange);
      $("code-editor").addEventListener("input", refreshVariables);
    }
    activate(restoreTabs());
    document.addEventListener("console:session-ended", saveDraft);
    window.addEventListener("pagehide", saveDraft);
    $("engine-select").addEventListener("change", () => {
      fillRunTypes();
      if (active) {
        active.engine = $("engine-select").value;
        active.runType = $("runtype-select").value;
      }
      saveDraft();
    });
    $("runtype-select").addEventListener("change", () => {
      applyMode();
      if (active) active.runType = $("runtype-select").value;
      saveDraft();
    });
    $("editor-tabs").addEventListener("click", onTabsClick);
    $("editor-tabs").addEventListener("keydown", onTabsKey);
    $("new-tab").addEventListener("click", () => activate(newTab({ engine: active && active.engine }), true));
    $("ws-tree").addEventListener("click", onTreeClick);
    $("ws-tree").addEventListener("keydown", onTreeKey);
    $("ws-new-file").addEventListener("click", newFile);
    $("ws-new-dir").addEventListener("click", newFolder);
    $("ws-save").addEventListener("click", save);
    $("ws-save-as").addEventListener("click", saveAs);
    $("ws-rename").addEventListener("click", renameSelected);
    $("ws-delete").addEventListener("click", deleteSelected);
    $("ws-refresh").addEventListener("click", () => act(refreshTree));
    $("run-form").addEventListener("submit", run);
    $("kill-button").addEventListener("click", kill);
    Console.logTools($("job-log"), { search: $("log-search"), level: $("log-level"), count: $("log-count") });
    const from = new URLSearchParams(location.search).get("from");
    if (from && /^\d+$/.test(from)) loadFromJob(from);
    loadRecent();
    act(refreshTree);
  });
})();
