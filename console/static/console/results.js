/*
 * ResultSets: a finished job's result sets as paged tables (Linkis's filesystem routes) with a CSV download of
 * each whole set (/console/jobs/<taskID>/results/<n>.csv).
 */
(function () {
  "use strict";

  const FS = "/api/rest_j/v1/filesystem/";
  const PAGE_SIZE = 50;

  function columnNames(metadata, width) {
    if (Array.isArray(metadata)) return metadata.map((column) => column.columnName || "");
    return Array.from({ length: width }, (_, i) => (i === 0 ? "value" : "col" + (i + 1)));
  }

  function plural(count, noun) {
    return count + " " + noun + (count === 1 ? "" : "s");
  }

  async function render(container, taskId) {
    container.innerHTML = '<p class="muted">Loading the result…</p>';
    const history = await Console.api("/api/rest_j/v1/jobhistory/" + taskId + "/get");
    const task = history.ok && history.data && history.data.data && history.data.data.task;
    if (!task || !task.resultLocation) {
      container.innerHTML = '<p class="muted">No result set.</p>';
      return;
    }
    const tree = await Console.api(FS + "getDirFileTrees?path=" + encodeURIComponent(task.resultLocation));
    const files = (tree.ok && tree.data.data.dirFileTrees && tree.data.data.dirFileTrees.children) || [];
    if (!files.length) {
      container.innerHTML = '<p class="muted">No result set.</p>';
      return;
    }
    container.innerHTML = "";
    files.forEach((file, index) => {
      const section = document.createElement("section");
      section.className = "result-set";
      container.appendChild(section);
      showPage(section, taskId, file, index, files.length, 1);
    });
  }

  async function showPage(section, taskId, file, index, count, page) {
    const answer = await Console.api(
      FS + "openFile?path=" + encodeURIComponent(file.path) + "&page=" + page + "&pageSize=" + PAGE_SIZE
    );
    if (!answer.ok || !answer.data || answer.data.status !== 0) {
      section.innerHTML = '<p class="error">Could not read ' + Console.escapeHtml(file.name) + ".</p>";
      return;
    }
    const data = answer.data.data;
    const rows = data.fileContent || [];
    const width = rows.length ? rows[0].length : Array.isArray(data.metadata) ? data.metadata.length : 1;
    const names = columnNames(data.metadata, width);
    const pages = Math.max(data.totalPage || 1, 1);
    const csvIndex = parseInt(String(file.name).replace(/^_|\.dolphin$/g, ""), 10);
    const title = count > 1 ? "Result set " + (index + 1) + " of " + count : "Result set";
    section.innerHTML =
      '<h3>' + title + ' <span class="muted">(' + plural(data.totalLine, "row") + ", " + plural(names.length, "column") + ")</span></h3>" +
      '<div class="table-wrap"><table data-testid="result-table"><thead><tr>' +
      names.map((n) => "<th scope=\"col\">" + Console.escapeHtml(n) + "</th>").join("") +
      "</tr></thead><tbody>" +
      rows.map((row) => "<tr>" + row.map((cell) => "<td>" + Console.escapeHtml(cell) + "</td>").join("") + "</tr>").join("") +
      "</tbody></table></div>" +
      '<div class="pager"><button type="button" data-page="prev"' + (page <= 1 ? " disabled" : "") + ">Previous</button>" +
      "<span>Page " + page + " of " + pages + "</span>" +
      '<button type="button" data-page="next"' + (page >= pages ? " disabled" : "") + ">Next</button>" +
      '<a class="button" data-testid="result-download" download href="/console/jobs/' + taskId + "/results/" + csvIndex + '.csv">Download CSV</a></div>';
    section.querySelector('[data-page="prev"]').addEventListener("click", () => showPage(section, taskId, file, index, count, page - 1));
    section.querySelector('[data-page="next"]').addEventListener("click", () => showPage(section, taskId, file, index, count, page + 1));
  }

  window.ResultSets = { render };
})();
