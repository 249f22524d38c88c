/*
 * The feature explorer's live parts, against the OpenMLDB routes as any client sees them:
 * - a deployment page sends a request row to POST /dbs/{db}/deployments/{name} and shows the computed features;
 * - a database page runs online SQL through POST /dbs/{db} and shows the result set.
 * Both routes answer HTTP 200 with {code, msg, data}; code 0 is success, anything else carries msg.
 */
(function () {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const SPECIAL = "\u0000";

  /** JSON as the APIServer writes it: NaN, Infinity and -Infinity may stand bare, which JSON.parse refuses. */
  function parseExtended(text) {
    const marked = text.replace(/"(?:[^"\\]|\\.)*"|-?Infinity|NaN/g, (token) =>
      token[0] === '"' ? token : '"\\u0000' + token + '"'
    );
    return JSON.parse(marked, (key, value) =>
      typeof value === "string" && value[0] === SPECIAL && /^\u0000(?:-?Infinity|NaN)$/.test(value) ? { special: value.slice(1) } : value
    );
  }

  /** POST a body and return the {code, msg, data} answer, or throw an Error whose message says what went wrong. */
  async function call(url, body) {
    let answer;
    try {
      answer = await Console.api(url, { method: "POST", body });
    } catch (error) {
      throw new Error("Could not reach the server: " + error.message);
    }
    let data = answer.data;
    if (typeof data === "string") {
      try {
        data = parseExtended(data);
      } catch (error) {
        data = null;
      }
    }
    if (!answer.ok) {
      const detail = data && (data.msg || data.message || data.detail);
      throw new Error("HTTP " + answer.status + (detail ? ": " + detail : ""));
    }
    if (!data || typeof data !== "object") throw new Error("The answer was not JSON.");
    if (data.code !== 0) throw new Error(data.msg || "Error code " + data.code);
    return data;
  }

  function cell(value) {
    if (value === null || value === undefined) return '<td><span class="muted">NULL</span></td>';
    if (typeof value === "object" && value.special) return "<td>" + Console.escapeHtml(value.special) + "</td>";
    const text = typeof value === "string" ? value : JSON.stringify(value);
    return "<td>" + Console.escapeHtml(text) + "</td>";
  }

  /** Mark a form as waiting for its answer (its button disabled, the status saying so) or as done. */
  function busy(form, status, text) {
    form.querySelector('button[type="submit"]').disabled = Boolean(text);
    form.setAttribute("aria-busy", text ? "true" : "false");
    status.textContent = text;
  }

  // --- a deployment: one request row in, its features out -------------------------------------------------------
  function setupDeployment(form) {
    const input = $("deployment-input");
    const table = $("deployment-output");
    const error = $("deployment-error");
    const status = $("call-status");

    function show(data) {
      const schema = (data.data && data.data.schema) || [];
      const rows = (data.data && data.data.data) || [];
      const heads = rows.length > 1 ? rows.map((_, i) => "Row " + (i + 1)) : ["Value"];
      table.tHead.innerHTML =
        '<tr><th scope="col">Feature</th><th scope="col">Type</th>' +
        heads.map((head) => '<th scope="col">' + head + "</th>").join("") +
        "</tr>";
      table.tBodies[0].innerHTML = schema
        .map((column, i) => {
          const values = rows.map((row) => (Array.isArray(row) ? row[i] : row[column.name]));
          return (
            '<tr><th scope="row">' + Console.escapeHtml(column.name) + "</th><td><code>" +
            Console.escapeHtml(column.type) + "</code></td>" + values.map(cell).join("") + "</tr>"
          );
        })
        .join("");
      table.hidden = false;
    }

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const text = input.value.trim();
      error.textContent = "";
      if (!text.startsWith("[") && !text.startsWith("{")) {
        table.hidden = true;
        error.textContent = "The row must be a JSON array (values in the input schema's order) or an object keyed by column name.";
        input.focus();
        return;
      }
      // The row goes out as typed, so OpenMLDB's extended JSON (bare NaN, Infinity) reaches the APIServer intact.
      const body = '{"input": [' + text + '], "need_schema": true}';
      busy(form, status, "Computing…");
      try {
        show(await call(form.dataset.url, body));
      } catch (failure) {
        table.hidden = true;
        error.textContent = failure.message;
      } finally {
        busy(form, status, "");
      }
    });
  }

  // --- a database: online SQL --------------------------------------------------------------------------------------
  function setupSql(form) {
    const input = $("sql-input");
    const output = $("sql-output");
    const error = $("sql-error");
    const status = $("sql-status");

    function show(data) {
      const result = data.data;
      if (!result) {
        output.innerHTML = '<p class="muted">Done: the statement returned no result set.</p>';
        return;
      }
      if (result.job) {
        output.innerHTML = "<p>Submitted as job " + Console.escapeHtml(JSON.stringify(result.job)) + ".</p>";
        return;
      }
      const schema = result.schema || [];
      const rows = result.data || [];
      output.innerHTML =
        '<p class="muted">' + rows.length + (rows.length === 1 ? " row" : " rows") + ".</p>" +
        '<div class="table-wrap"><table data-testid="sql-result"><thead><tr>' +
        schema.map((type, i) => '<th scope="col">Column ' + (i + 1) + ' <span class="muted">' + Console.escapeHtml(type) + "</span></th>").join("") +
        "</tr></thead><tbody>" +
        rows.map((row) => "<tr>" + row.map(cell).join("") + "</tr>").join("") +
        "</tbody></table></div>";
    }

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.textContent = "";
      output.innerHTML = "";
      busy(form, status, "Running…");
      try {
        const mode = document.getElementById("sql-mode");
        show(await call(form.dataset.url, { mode: mode ? mode.value : "online", sql: input.value }));
      } catch (failure) {
        error.textContent = failure.message;
      } finally {
        busy(form, status, "");
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const deployment = $("deployment-form");
    if (deployment) setupDeployment(deployment);
    const sql = $("sql-form");
    if (sql) setupSql(sql);
  });
})();
