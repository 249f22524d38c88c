/*
 * ResultSets: a finished job's result sets as paged tables (Linkis's filesystem routes) with a CSV download of
 * each whole set (/console/jobs/<taskID>/results/<n>.csv), and a chart of each set drawn with Chart.js.
 *
 * Numeric columns (by the set's column type, or when every value on the page is a number) are right-aligned and
 * shown with thousands separators, keeping every digit a decimal has (the value as stored is the cell's title).
 * A click on a column name sorts the rows loaded on the page (numbers as numbers, NULL and empty cells last);
 * the CSV and the other pages keep the result's order. A chart loads the set's first CHART_ROWS rows.
 */
(function () {
  "use strict";

  const FS = "/api/rest_j/v1/filesystem/";
  const PAGE_SIZE = 50;
  /** openFile's largest page (the server's RESULT_PAGE_MAX): a chart draws at most this many rows. */
  const CHART_ROWS = 5000;
  const NULL = "NULL"; // openFile's default nullValue
  const NUMERIC_TYPES = new Set([
    "int", "integer", "bigint", "smallint", "tinyint", "long", "short", "byte", "float", "double", "real",
    "decimal", "numeric", "number",
  ]);
  // A number as the result set stores it; the digits and the exponent are kept apart to format without loss.
  const NUMBER = /^([+-]?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;
  const SPECIAL = /^[+-]?(?:NaN|Infinity)$/;
  // The reader's separators, with the digits as stored (Latin, whatever the locale's own digits).
  const GROUPED = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0, numberingSystem: "latn" });
  const DECIMAL_SIGN = (new Intl.NumberFormat(undefined).formatToParts(1.5).find((part) => part.type === "decimal") ||
                        { value: "." }).value;
  const COUNT = new Intl.NumberFormat(undefined);
  const COLLATOR = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });
  const COLOURS = ["#1a5fd0", "#17803d", "#a15c00", "#b3261e", "#6b3fa0", "#00838f", "#5b6573", "#c2185b"];
  let nextId = 0;

  function columnNames(metadata, width) {
    if (Array.isArray(metadata)) return metadata.map((column) => column.columnName || "");
    return Array.from({ length: width }, (_, i) => (i === 0 ? "value" : "col" + (i + 1)));
  }

  function plural(count, noun) {
    return COUNT.format(count) + " " + noun + (count === 1 ? "" : "s");
  }

  function isNull(cell) {
    return cell === undefined || cell === null || cell === "" || cell === NULL;
  }

  /** The parts of a number as stored, or null. "007" is not a number here: a code (post codes, ids) keeps its
   * zeros. NaN and the infinities are numbers whose parts are not digits. */
  function parseNumber(cell) {
    const text = String(cell);
    if (SPECIAL.test(text)) return { value: Number(text), special: true };
    const match = NUMBER.exec(text);
    if (!match || (match[2].length > 1 && match[2][0] === "0")) return null;
    return { value: Number(text), sign: match[1], digits: match[2], fraction: match[3], exponent: match[4] };
  }

  /** A number with the reader's thousands separators, every stored digit kept; in exponent form as stored. */
  function formatNumber(cell) {
    const number = parseNumber(cell);
    if (!number || number.special || number.exponent !== undefined) return String(cell);
    const whole = GROUPED.format(BigInt(number.digits));
    return (number.sign === "-" ? "-" : "") + whole + (number.fraction !== undefined ? DECIMAL_SIGN + number.fraction : "");
  }

  function numberValue(cell) {
    if (isNull(cell)) return null;
    const number = parseNumber(cell);
    return number && Number.isFinite(number.value) ? number.value : null;
  }

  /** Which columns hold numbers: by the column's type, or when every value (NULLs aside, at least one) is one. */
  function numericColumns(metadata, width, rows) {
    return Array.from({ length: width }, (_, i) => {
      const column = Array.isArray(metadata) ? metadata[i] : null;
      const type = String((column && column.dataType) || "").toLowerCase().split(/[^a-z]/)[0];
      if (NUMERIC_TYPES.has(type)) return true;
      let seen = 0;
      for (const row of rows) {
        if (isNull(row[i])) continue;
        const number = parseNumber(row[i]);
        if (!number || number.special) return false;
        seen += 1;
      }
      return seen > 0;
    });
  }

  /** The rows in the order of column ``index``: NULL and empty cells last in either direction, then (in a numeric
   * column) the values that are not numbers; ties keep the loaded order. */
  function sortRows(rows, index, numeric, direction) {
    const sign = direction === "descending" ? -1 : 1;
    const keyed = rows.map((row, position) => ({ row, position, cell: row[index],
                                                 value: numeric ? numberValue(row[index]) : null }));
    keyed.sort((a, b) => {
      const nullA = isNull(a.cell);
      const nullB = isNull(b.cell);
      if (nullA || nullB) return nullA === nullB ? a.position - b.position : nullA ? 1 : -1;
      let order;
      if (numeric && (a.value === null) !== (b.value === null)) return a.value === null ? 1 : -1;
      if (numeric && a.value !== null) order = a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
      else order = COLLATOR.compare(String(a.cell), String(b.cell));
      return sign * order || a.position - b.position;
    });
    return keyed.map((entry) => entry.row);
  }

  /** One page of a result set (openFile's data), or null when it cannot be read or the server is away. */
  async function openPage(file, page, size) {
    try {
      const answer = await Console.api(
        FS + "openFile?path=" + encodeURIComponent(file.path) + "&page=" + page + "&pageSize=" + size
      );
      return answer.ok && answer.data && answer.data.status === 0 ? answer.data.data : null;
    } catch (e) {
      return null;
    }
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
      new ResultSet(section, taskId, file, index, files.length).show(1);
    });
  }

  /** One result set: its table (a page at a time, sortable), pager, CSV link and chart. */
  class ResultSet {
    constructor(section, taskId, file, index, count) {
      this.section = section;
      this.taskId = taskId;
      this.file = file;
      this.index = index;
      this.count = count;
      this.id = "rs" + (nextId += 1);
      this.page = 1;
      this.sort = null; // {column, direction}
      this.chart = null;
      this.chartData = null;
      this.csvIndex = parseInt(String(file.name).replace(/^_|\.dolphin$/g, ""), 10);
      section.dataset.testid = "result-set";
    }

    async show(page) {
      const data = await openPage(this.file, page, PAGE_SIZE);
      if (!data) {
        if (!this.body) this.section.innerHTML = '<p class="error">Could not read ' + Console.escapeHtml(this.file.name) + ".</p>";
        else this.note.textContent = "Could not read page " + page + ".";
        return;
      }
      this.page = page;
      this.data = data;
      this.rows = data.fileContent || [];
      const width = this.rows.length ? this.rows[0].length : Array.isArray(data.metadata) ? data.metadata.length : 1;
      this.names = columnNames(data.metadata, width);
      this.numeric = numericColumns(data.metadata, this.names.length, this.rows);
      this.pages = Math.max(data.totalPage || 1, 1);
      if (!this.body) this.build();
      this.drawPage();
    }

    /** The parts that stay while paging: title, table, pager and chart panel. */
    build() {
      const title = this.count > 1 ? "Result set " + (this.index + 1) + " of " + this.count : "Result set";
      this.section.innerHTML =
        '<h3>' + title + ' <span class="muted" data-role="size"></span></h3>' +
        '<p class="muted sort-note" data-testid="result-sort-note" aria-live="polite"></p>' +
        '<div class="table-wrap"><table data-testid="result-table"><thead></thead><tbody></tbody></table></div>' +
        '<div class="pager">' +
        '<button type="button" data-page="prev">Previous</button><span data-role="page"></span>' +
        '<button type="button" data-page="next">Next</button>' +
        '<a class="button" data-testid="result-download" download href="/console/jobs/' + this.taskId + "/results/" +
        this.csvIndex + '.csv">Download CSV</a>' +
        (window.Chart ? '<button type="button" data-testid="result-chart-toggle" aria-expanded="false" aria-controls="' +
                        this.id + '-chart">Chart</button>' : "") +
        "</div>" +
        '<div class="chart-panel card" id="' + this.id + '-chart" data-testid="result-chart" hidden></div>';
      this.body = this.section.querySelector("tbody");
      this.head = this.section.querySelector("thead");
      this.note = this.section.querySelector(".sort-note");
      this.section.querySelector('[data-page="prev"]').addEventListener("click", () => this.show(this.page - 1));
      this.section.querySelector('[data-page="next"]').addEventListener("click", () => this.show(this.page + 1));
      this.head.addEventListener("click", (event) => {
        const button = event.target.closest("button[data-column]");
        if (button) this.sortBy(parseInt(button.dataset.column, 10));
      });
      const toggle = this.section.querySelector('[data-testid="result-chart-toggle"]');
      if (toggle) toggle.addEventListener("click", () => this.toggleChart(toggle));
    }

    drawPage() {
      const data = this.data;
      this.section.querySelector('[data-role="size"]').textContent =
        "(" + plural(data.totalLine, "row") + ", " + plural(this.names.length, "column") + ")";
      this.head.innerHTML = "<tr>" + this.names.map((name, i) =>
        '<th scope="col"' + (this.numeric[i] ? ' class="num"' : "") + '><button type="button" class="sort" data-column="' + i +
        '">' + Console.escapeHtml(name) + "</button></th>").join("") + "</tr>";
      if (this.sort && this.sort.column >= this.names.length) this.sort = null;
      this.drawRows();
      this.section.querySelector('[data-role="page"]').textContent = "Page " + this.page + " of " + this.pages;
      this.section.querySelector('[data-page="prev"]').disabled = this.page <= 1;
      this.section.querySelector('[data-page="next"]').disabled = this.page >= this.pages;
    }

    drawRows() {
      const sort = this.sort;
      const rows = sort ? sortRows(this.rows, sort.column, this.numeric[sort.column], sort.direction) : this.rows;
      this.body.innerHTML = rows.map((row) => "<tr>" + row.map((cell, i) => {
        if (!this.numeric[i]) return "<td>" + Console.escapeHtml(cell) + "</td>";
        return '<td class="num" title="' + Console.escapeHtml(cell) + '">' + Console.escapeHtml(formatNumber(cell)) + "</td>";
      }).join("") + "</tr>").join("");
      this.head.querySelectorAll("th").forEach((th, i) => {
        if (sort && sort.column === i) th.setAttribute("aria-sort", sort.direction);
        else th.removeAttribute("aria-sort");
      });
      if (!sort) {
        this.note.textContent = this.rows.length > 1 ? "Select a column name to sort the rows shown." : "";
        return;
      }
      const name = this.names[sort.column] || "column " + (sort.column + 1);
      const scope = this.pages > 1
        ? "only the " + plural(this.rows.length, "row") + " of page " + this.page +
          " are sorted; the other pages and the CSV keep the result's order."
        : "all " + plural(this.rows.length, "row") + " of the set are sorted here; the CSV keeps the result's order.";
      this.note.textContent = "Sorted by " + name + ", " + sort.direction + ": " + scope;
    }

    sortBy(column) {
      const same = this.sort && this.sort.column === column;
      this.sort = { column, direction: same && this.sort.direction === "ascending" ? "descending" : "ascending" };
      this.drawRows();
    }

    // --- the chart ------------------------------------------------------------------------------------------
    async toggleChart(toggle) {
      const panel = this.section.querySelector(".chart-panel");
      const open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", String(open));
      panel.hidden = !open;
      if (!open || this.chartData) return;
      panel.innerHTML = '<p class="muted">Loading up to ' + COUNT.format(CHART_ROWS) + " rows for the chart…</p>";
      const data = await openPage(this.file, 1, CHART_ROWS);
      if (!data) {
        panel.innerHTML = '<p class="error">The rows for the chart could not be read.</p>';
        return;
      }
      const rows = data.fileContent || [];
      const width = rows.length ? rows[0].length : Array.isArray(data.metadata) ? data.metadata.length : 1;
      const names = columnNames(data.metadata, width);
      this.chartData = { rows, names, total: data.totalLine, numeric: numericColumns(data.metadata, names.length, rows) };
      this.buildChartForm(panel);
    }

    buildChartForm(panel) {
      const { names, numeric } = this.chartData;
      const id = this.id;
      const options = names.map((name, i) => '<option value="' + i + '">' + Console.escapeHtml(name || "column " + (i + 1)) + "</option>").join("");
      const x = 0;
      const firstY = numeric.findIndex((isNumber, i) => isNumber && i !== x);
      const ys = names.map((name, i) => numeric[i]
        ? '<label class="check"><input type="checkbox" name="y" value="' + i + '" data-testid="chart-y"' +
          (i === firstY ? " checked" : "") + "> " + Console.escapeHtml(name || "column " + (i + 1)) + "</label>"
        : "").join("");
      panel.innerHTML =
        '<form class="chart-form" data-testid="chart-form" novalidate>' +
        '<div class="chart-controls">' +
        '<div><label for="' + id + '-type">Chart</label><select id="' + id + '-type" name="type" data-testid="chart-type">' +
        '<option value="line">Line</option><option value="bar">Bar</option><option value="scatter">Scatter</option></select></div>' +
        '<div><label for="' + id + '-x">X</label><select id="' + id + '-x" name="x" data-testid="chart-x">' + options + "</select></div>" +
        '<fieldset class="chart-ys"><legend>Y (numeric columns)</legend>' +
        (ys || '<span class="muted">This result set has no numeric column.</span>') + "</fieldset>" +
        '<div><button type="submit" class="primary" data-testid="chart-draw"' + (ys ? "" : " disabled") + ">Draw</button></div>" +
        "</div>" +
        '<p class="error" role="alert" data-role="chart-error"></p>' +
        "</form>" +
        '<p class="muted" data-testid="chart-note" aria-live="polite"></p>' +
        '<div class="chart-box" hidden><canvas data-testid="chart-canvas" role="img"></canvas></div>';
      panel.querySelector("form").addEventListener("submit", (event) => {
        event.preventDefault();
        this.drawChart(panel);
      });
    }

    drawChart(panel) {
      const form = panel.querySelector("form");
      const type = form.elements.type.value;
      const x = parseInt(form.elements.x.value, 10);
      const ys = Array.from(form.querySelectorAll('input[name="y"]:checked')).map((box) => parseInt(box.value, 10));
      const error = form.querySelector('[data-role="chart-error"]');
      if (!ys.length) {
        error.textContent = "Choose at least one Y column.";
        return;
      }
      error.textContent = "";
      const { rows, names, total, numeric } = this.chartData;
      const label = (i) => names[i] || "column " + (i + 1);
      // A numeric X is a linear axis for scatter and line charts (a line follows X's order); otherwise each row
      // is a category, in the result's order.
      const linear = numeric[x] && type !== "bar";
      let drawn = rows;
      let labels;
      if (linear) {
        drawn = rows.filter((row) => numberValue(row[x]) !== null);
        if (type === "line") drawn = drawn.slice().sort((a, b) => numberValue(a[x]) - numberValue(b[x]));
      } else {
        labels = rows.map((row) => (isNull(row[x]) ? "(null)" : numeric[x] ? formatNumber(row[x]) : String(row[x])));
      }
      const datasets = ys.map((y, n) => {
        const colour = COLOURS[n % COLOURS.length];
        return {
          label: label(y),
          data: linear ? drawn.map((row) => ({ x: numberValue(row[x]), y: numberValue(row[y]) }))
                       : rows.map((row) => numberValue(row[y])),
          borderColor: colour,
          backgroundColor: type === "bar" ? colour + "b3" : colour,
          showLine: type === "line",
          pointRadius: type === "line" && drawn.length > 200 ? 0 : 3,
          borderWidth: type === "bar" ? 1 : 2,
        };
      });
      const box = panel.querySelector(".chart-box");
      const canvas = panel.querySelector("canvas");
      box.hidden = false;
      if (this.chart) this.chart.destroy();
      this.chart = new Chart(canvas, {
        type: type === "bar" ? "bar" : linear && type === "scatter" ? "scatter" : "line",
        data: linear ? { datasets } : { labels, datasets },
        options: {
          animation: false,
          responsive: true,
          maintainAspectRatio: false,
          spanGaps: false,
          interaction: { mode: "nearest", intersect: false },
          scales: {
            x: { type: linear ? "linear" : "category", title: { display: true, text: label(x) } },
            y: { title: { display: ys.length === 1, text: label(ys[0]) } },
          },
          plugins: { legend: { display: ys.length > 1 } },
        },
      });
      const kind = { line: "Line", bar: "Bar", scatter: "Scatter" }[type];
      canvas.dataset.chartType = type;
      canvas.dataset.x = label(x);
      canvas.dataset.y = ys.map(label).join(",");
      canvas.setAttribute("aria-label", kind + " chart of " + ys.map(label).join(", ") + " by " + label(x));
      let note = total > rows.length
        ? "The chart shows the first " + COUNT.format(rows.length) + " of the set's " + plural(total, "row") + "."
        : "The chart shows all " + plural(rows.length, "row") + " of the set.";
      if (linear && drawn.length < rows.length) {
        note += " " + plural(rows.length - drawn.length, "row") + " without a number in " + label(x) + " left out.";
      }
      if (linear && type === "line") note += " Points are joined in the order of " + label(x) + ".";
      panel.querySelector('[data-testid="chart-note"]').textContent = note;
    }
  }

  window.ResultSets = { render, formatNumber, sortRows, numericColumns };
})();
