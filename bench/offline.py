"""Benchmark of the offline feature store: LOAD DATA (offline from CSV and Parquet, online) and feature extraction
with ``SELECT ... INTO OUTFILE``, side by side with the same features hand-written in DuckDB.

Generates with DuckDB, deterministically (``--seed``), ``--rows`` rows over ``--keys`` keys for the main table
``t1 (k string, v int, ts timestamp, d double)``, ``--join-rows`` rows (default rows/10) for the LAST JOIN table
``t2 (k string, w double, ts timestamp)`` and a separate CSV of ``--online-rows`` rows (the first rows of t1) for
the online load. Rows are in random time order; timestamps are epoch milliseconds over ``--days`` days, multiples
of ``--ts-step-ms`` (a minute by default, so that a key has rows with equal times and the tie-breaking by load
order is exercised). The files go into the server's file root (``FEATURESTORE_FILE_ROOTS``). Then, against one
server of the embedded default (uvicorn, SQLite) in a temporary DATA_DIR, over HTTP (``POST /dbs/{db}``):

1. offline ``LOAD DATA INFILE`` of t1 from CSV (mode offsync, ``mode='overwrite'``): rows/s;
2. the same from Parquet: rows/s (t2 is then loaded from Parquet too, not measured);
3. online ``LOAD DATA`` (mode online, ``mode='append'``) of the online CSV into ``t1_online``: rows/s;
4. feature extraction: the three-window deployment SQL (``ROWS 2 PRECEDING``, ``ROWS_RANGE 1d``, one LAST JOIN)
   over every row of t1, written ``INTO OUTFILE`` as Parquet (mode offsync): seconds and rows/s;
5. the same features hand-written in DuckDB (in this process, same machine) from the Parquet files into a Parquet
   file, with the platform's semantics (a row's windows hold the rows before it in time order, ties by load
   order; LAST JOIN takes the key's newest t2 row, ties by load order); the ratio platform / hand-written;
6. the platform's output against the hand-written one (EXCEPT ALL both ways, the float columns compared with a
   tolerance), fully or on a fraction of the keys (``--check-fraction``).

Usage: ``.venv/bin/python bench/offline.py [--rows 10000000] [--keys 100000] [--online-rows 1000000]
[--timeout 1800] [--keep]``. Every request has a timeout (``--timeout``) and the server's start is bounded; nothing
else waits or loops. The server is bound to 127.0.0.1 and stopped at the end, also on failure; the temporary folder
is removed unless ``--keep``.
Prints JSON lines per measurement, a JSON summary, then the figures as markdown rows for bench/README.md.
"""

# The SQL here (DuckDB's and the platform's) is built from the benchmark's own constants, numbers and temporary paths.
# ruff: noqa: S608

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stats import code_fingerprint as stats_fingerprint  # noqa: E402
from stats import emit  # noqa: E402

from tests.live import LiveServer  # noqa: E402

DB = "bench_offline"
DAY_MS = 86_400_000
START_MS = 1_700_000_000_000  # fixed, so that a seed always gives the same files
T1_COLUMNS = "k string, v int, ts timestamp, d double, INDEX(KEY=k, TS=ts)"
T2_COLUMNS = "k string, w double, ts timestamp, INDEX(KEY=k, TS=ts)"
FEATURES = ["k", "ts", "v_sum_2", "d_avg_1d", "v_cnt_1d", "last_w"]
FLOATS = ("d_avg_1d", "last_w")
EXTRACT_SQL = (
    "SELECT t1.k, t1.ts, sum(v) OVER w2 AS v_sum_2, avg(d) OVER w1d AS d_avg_1d, count(v) OVER w1d AS v_cnt_1d, "
    "t2.w AS last_w FROM t1 LAST JOIN t2 ORDER BY t2.ts ON t1.k = t2.k "
    "WINDOW w2 AS (PARTITION BY t1.k ORDER BY t1.ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW), "
    "w1d AS (PARTITION BY t1.k ORDER BY t1.ts ROWS_RANGE BETWEEN 1d PRECEDING AND CURRENT ROW) "
    "INTO OUTFILE {path} OPTIONS(format='parquet', mode='overwrite')"
)
TARGETS = {
    "offline_load_rows_per_s": 1_000_000,
    "online_load_rows_per_s": 200_000,
    "extract_rows_per_s": 1_000_000,
    "extract_over_handwritten": 2.0,
}
TOLERANCE = 1e-6  # absolute, on the float features (values up to ~10^4, computed in different orders)


def quoted(text: str) -> str:
    """A SQL string literal (OpenMLDB and DuckDB alike)."""
    return "'" + text.replace("'", "''") + "'"


# --- data -------------------------------------------------------------------------------------------------------
def t1_query(rows: int, args) -> str:
    """t1's first ``rows`` rows: keys, values and times from hashes of the row number (deterministic per seed)."""
    slots = max(1, args.days * DAY_MS // args.ts_step_ms)
    s = args.seed
    return (
        f"SELECT printf('k%06d', hash(range, {s}, 1) % {args.keys}) AS k, (hash(range, {s}, 2) % 100 + 1)::INTEGER"
        f" AS v, {START_MS} + (hash(range, {s}, 3) % {slots})::BIGINT * {args.ts_step_ms} AS ts,"
        f" (hash(range, {s}, 4) % 1000000)::DOUBLE / 100 AS d FROM range({rows})"
    )


def t2_query(args) -> str:
    slots = max(1, args.days * DAY_MS // args.ts_step_ms)
    s = args.seed
    return (
        f"SELECT printf('k%06d', hash(range, {s}, 11) % {args.keys}) AS k,"
        f" (hash(range, {s}, 12) % 1000000)::DOUBLE / 100 AS w,"
        f" {START_MS} + (hash(range, {s}, 13) % {slots})::BIGINT * {args.ts_step_ms} AS ts FROM range({args.join_rows})"
    )


def generate(files: Path, args) -> dict[str, Path]:
    """Write the input files (row order = load order) into ``files``; return their paths."""
    paths = {
        "t1_csv": files / "t1.csv",
        "t1_parquet": files / "t1.parquet",
        "t2_parquet": files / "t2.parquet",
        "online_csv": files / "t1_online.csv",
    }
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET preserve_insertion_order = true")
        started = time.perf_counter()
        t1 = t1_query(args.rows, args)
        con.execute(f"COPY ({t1}) TO {quoted(str(paths['t1_csv']))} (FORMAT csv, HEADER true)")
        con.execute(f"COPY ({t1}) TO {quoted(str(paths['t1_parquet']))} (FORMAT parquet, COMPRESSION zstd)")
        con.execute(f"COPY ({t2_query(args)}) TO {quoted(str(paths['t2_parquet']))} (FORMAT parquet, COMPRESSION zstd)")
        online = t1_query(args.online_rows, args)
        con.execute(f"COPY ({online}) TO {quoted(str(paths['online_csv']))} (FORMAT csv, HEADER true)")
        seconds = time.perf_counter() - started
        ties = con.execute(
            f"SELECT count(*) FROM (SELECT k, ts FROM read_parquet({quoted(str(paths['t1_parquet']))}) "
            "GROUP BY k, ts HAVING count(*) > 1)"
        ).fetchone()[0]
    finally:
        con.close()
    emit({
        "measure": "data", "rows": args.rows, "keys": args.keys, "join_rows": args.join_rows,
        "online_rows": args.online_rows, "days": args.days, "ts_step_ms": args.ts_step_ms, "seed": args.seed,
        "t1_key_times_shared_by_several_rows": ties, "made_in_s": round(seconds, 1),
        "bytes": {name: path.stat().st_size for name, path in paths.items()},
    })  # fmt: skip
    return paths


# --- the platform -----------------------------------------------------------------------------------------------
class StatementFailed(RuntimeError):
    """A statement the platform refused or did not answer: the statement and the response, for the report."""

    def __init__(self, statement: str, mode: str, response: str) -> None:
        super().__init__(f"{mode} {statement!r}: {response}")
        self.statement = statement
        self.mode = mode
        self.response = response


class Platform:
    def __init__(self, url: str, timeout: float) -> None:
        self.url = url
        self.timeout = timeout
        self.session = requests.Session()

    def sql(self, statement: str, mode: str = "offsync") -> dict:
        try:
            response = self.session.post(
                f"{self.url}/dbs/{DB}", json={"mode": mode, "sql": statement}, timeout=(10, self.timeout)
            )
        except requests.RequestException as exc:
            raise StatementFailed(statement, mode, f"{type(exc).__name__}: {exc}") from None
        if response.status_code != 200:
            raise StatementFailed(statement, mode, f"HTTP {response.status_code} {response.text[:1000]}")
        answer = response.json()
        if answer.get("code") != 0:
            raise StatementFailed(statement, mode, json.dumps(answer)[:1000])
        return answer

    def timed(self, statement: str, mode: str = "offsync") -> float:
        started = time.perf_counter()
        self.sql(statement, mode)
        return time.perf_counter() - started

    def offline_rows(self, table: str) -> int | None:
        """The offline row count DESC shows (the deep copy's rows)."""
        answer = self.sql(f"DESC {table}", "online")
        for row in answer["data"]["data"]:
            if row[0] == "offline" and row[1] == "Rows":
                return int(row[2])
        return None

    def online_rows(self, table: str) -> int:
        return int(self.sql(f"SELECT count(*) AS n FROM {table}", "online")["data"]["data"][0][0])


def load_statement(path: Path, table: str, fmt: str, mode: str) -> str:
    header = ", header=true" if fmt == "csv" else ""
    return f"LOAD DATA INFILE {quoted(str(path))} INTO TABLE {table} OPTIONS(format='{fmt}'{header}, mode='{mode}')"


def failure(step: str, exc: StatementFailed) -> dict:
    record = {"step": step, "mode": exc.mode, "statement": exc.statement, "response": exc.response}
    emit({"measure": "failure", **record})
    return record


def vm_peak_mib(pid: int) -> float | None:
    """The process's peak resident memory (VmHWM) in MiB, from /proc."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def measure_platform(platform: Platform, paths: dict[str, Path], out_dir: Path, args, result: dict) -> None:
    """Steps 1 to 4; a refused statement is recorded in ``result['failures']`` and the next step still runs."""
    failures = result["failures"]
    platform.sql(f"CREATE DATABASE {DB}", "online")
    for statement in (f"CREATE TABLE t1 ({T1_COLUMNS})", f"CREATE TABLE t2 ({T2_COLUMNS})",
                      f"CREATE TABLE t1_online ({T1_COLUMNS})"):  # fmt: skip
        platform.sql(statement, "online")

    loaded = {}
    for name, fmt in (("csv", "csv"), ("parquet", "parquet")):
        statement = load_statement(paths[f"t1_{fmt}"], "t1", fmt, "overwrite")
        try:
            seconds = platform.timed(statement)
            rows = platform.offline_rows("t1")
        except StatementFailed as exc:
            failures.append(failure(f"offline_load_{name}", exc))
            continue
        loaded[name] = True
        figure = {"statement": statement, "seconds": round(seconds, 3), "rows": rows,
                  "rows_per_s": round(args.rows / seconds), "rows_as_expected": rows == args.rows}  # fmt: skip
        result[f"offline_load_{name}"] = figure
        emit({"measure": f"offline_load_{name}", **figure})

    statement = load_statement(paths["t2_parquet"], "t2", "parquet", "overwrite")
    try:
        seconds = platform.timed(statement)
        result["t2_load"] = {"statement": statement, "seconds": round(seconds, 3), "rows": args.join_rows}
        emit({"measure": "t2_load", **result["t2_load"]})
        t2_loaded = True
    except StatementFailed as exc:
        failures.append(failure("t2_load", exc))
        t2_loaded = False

    statement = load_statement(paths["online_csv"], "t1_online", "csv", "append")
    try:
        seconds = platform.timed(statement, "online")
        started = time.perf_counter()
        rows = platform.online_rows("t1_online")
        figure = {"statement": statement, "seconds": round(seconds, 3), "rows": rows,
                  "rows_per_s": round(args.online_rows / seconds), "rows_as_expected": rows == args.online_rows,
                  "count_seconds": round(time.perf_counter() - started, 1)}  # fmt: skip
        result["online_load"] = figure
        emit({"measure": "online_load", **figure})
    except StatementFailed as exc:
        failures.append(failure("online_load", exc))

    if not loaded or not t2_loaded:
        result["extract"] = {"skipped": "t1 or t2 did not load"}
        return
    statement = EXTRACT_SQL.format(path=quoted(str(out_dir)))
    try:
        seconds = platform.timed(statement)
    except StatementFailed as exc:
        failures.append(failure("extract", exc))
        return
    con = duckdb.connect(":memory:")
    try:
        rows = con.execute(f"SELECT count(*) FROM read_parquet({quoted(str(out_dir / '*.parquet'))})").fetchone()[0]
    finally:
        con.close()
    figure = {"statement": statement, "seconds": round(seconds, 3), "output_rows": rows,
              "rows_per_s": round(args.rows / seconds), "rows_as_expected": rows == args.rows}  # fmt: skip
    result["extract"] = figure
    emit({"measure": "extract", **figure})


# --- hand-written DuckDB ----------------------------------------------------------------------------------------
def handwritten_sql(paths: dict[str, Path], out: Path, rows: int) -> str:
    """The features in DuckDB, with the platform's semantics.

    ``seq`` is the row's place in its file (the load order). The ROWS window orders by (ts, seq). The 1-day window
    must hold the rows with ts in [ts - 1d, ts] that come before the row in (ts, seq) order, not its later peers
    (RANGE ... CURRENT ROW over ts alone would take every row of equal ts): it orders by ts * M + seq (M above every
    seq) with a per-row lower offset of 1d * M + seq, which reaches back exactly to (ts - 1d) * M. The LAST JOIN is
    the newest t2 row of the key by (ts, seq).
    """
    m = 1 << max(1, rows.bit_length())
    t1 = f"read_parquet({quoted(str(paths['t1_parquet']))}, file_row_number = true)"
    t2 = f"read_parquet({quoted(str(paths['t2_parquet']))}, file_row_number = true)"
    return f"""COPY (
WITH t1 AS (SELECT k, v, ts, d, file_row_number AS seq FROM {t1}),
last_t2 AS (SELECT k, arg_max(w, {{'ts': ts, 'seq': file_row_number}}) AS w FROM {t2} GROUP BY k),
features AS (
  SELECT k, ts, seq,
    sum(v) OVER (PARTITION BY k ORDER BY ts, seq ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)::BIGINT AS v_sum_2,
    avg(d) OVER w1d AS d_avg_1d,
    count(v) OVER w1d AS v_cnt_1d
  FROM t1
  WINDOW w1d AS (PARTITION BY k ORDER BY ts::HUGEINT * {m} + seq
                 RANGE BETWEEN {DAY_MS}::HUGEINT * {m} + seq PRECEDING AND CURRENT ROW)
)
SELECT f.k, f.ts, f.v_sum_2, f.d_avg_1d, f.v_cnt_1d, last_t2.w AS last_w
FROM features f LEFT JOIN last_t2 USING (k) ORDER BY f.seq
) TO {quoted(str(out))} (FORMAT parquet, COMPRESSION zstd)"""


def measure_handwritten(paths: dict[str, Path], out: Path, rows: int) -> dict:
    con = duckdb.connect(":memory:")
    try:
        sql = handwritten_sql(paths, out, rows)
        started = time.perf_counter()
        written = con.execute(sql).fetchone()[0]
        seconds = time.perf_counter() - started
        threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    finally:
        con.close()
    figure = {"seconds": round(seconds, 3), "output_rows": written, "rows_per_s": round(rows / seconds),
              "duckdb": duckdb.__version__, "threads": threads, "sql": sql}  # fmt: skip
    emit({"measure": "handwritten", **figure})
    return figure


# --- the check --------------------------------------------------------------------------------------------------
def compare(platform_out: Path, handwritten_out: Path, fraction: float) -> dict:
    """The platform's rows against the hand-written ones, as multisets (the order is not compared).

    EXCEPT ALL both ways with the float features rounded to 6 decimals; rows left on one side that have a partner
    on the other with equal exact columns and floats within ``TOLERANCE`` (a rounding boundary) are not mismatches.
    """
    sample = "" if fraction >= 1 else f"WHERE hash(k) % 1000000 < {round(fraction * 1_000_000)}"
    casts = "k::VARCHAR AS k, ts::BIGINT AS ts, v_sum_2::BIGINT AS v_sum_2, d_avg_1d::DOUBLE AS d_avg_1d, " \
            "v_cnt_1d::BIGINT AS v_cnt_1d, last_w::DOUBLE AS last_w"  # fmt: skip
    rounded = "k, ts, v_sum_2, v_cnt_1d, round(d_avg_1d, 6) AS d6, round(last_w, 6) AS w6"
    con = duckdb.connect(":memory:")
    try:
        con.execute(
            f"CREATE TEMP TABLE p AS SELECT {casts} FROM read_parquet({quoted(str(platform_out / '*.parquet'))}) "
            f"{sample}"
        )
        con.execute(f"CREATE TEMP TABLE h AS SELECT {casts} FROM read_parquet({quoted(str(handwritten_out))}) {sample}")
        con.execute(f"CREATE TEMP TABLE p_only AS SELECT {rounded} FROM p EXCEPT ALL SELECT {rounded} FROM h")
        con.execute(f"CREATE TEMP TABLE h_only AS SELECT {rounded} FROM h EXCEPT ALL SELECT {rounded} FROM p")
        near = (
            "a.k = b.k AND a.ts = b.ts AND a.v_sum_2 IS NOT DISTINCT FROM b.v_sum_2 "
            "AND a.v_cnt_1d IS NOT DISTINCT FROM b.v_cnt_1d "
            f"AND (a.d6 IS NOT DISTINCT FROM b.d6 OR abs(a.d6 - b.d6) <= {TOLERANCE * 1.5}) "
            f"AND (a.w6 IS NOT DISTINCT FROM b.w6 OR abs(a.w6 - b.w6) <= {TOLERANCE * 1.5})"
        )

        def unmatched(side: str, other: str) -> tuple[int, list]:
            query = f"SELECT * FROM {side} a WHERE NOT EXISTS (SELECT 1 FROM {other} b WHERE {near})"
            count = con.execute(f"SELECT count(*) FROM ({query})").fetchone()[0]
            examples = con.execute(f"{query} ORDER BY k, ts LIMIT 3").fetchall()
            return count, [list(row) for row in examples]

        counts = {name: con.execute(f"SELECT count(*) FROM {name}").fetchone()[0] for name in ("p", "h")}
        p_only = con.execute("SELECT count(*) FROM p_only").fetchone()[0]
        h_only = con.execute("SELECT count(*) FROM h_only").fetchone()[0]
        p_bad, p_examples = unmatched("p_only", "h_only")
        h_bad, h_examples = unmatched("h_only", "p_only")
        nulls = con.execute("SELECT count(*) FILTER (WHERE last_w IS NULL) FROM h").fetchone()[0]
    finally:
        con.close()
    result = {
        "sample": "full" if fraction >= 1 else f"keys with hash(k) in the first {fraction:.3%}",
        "platform_rows": counts["p"],
        "handwritten_rows": counts["h"],
        "platform_only_rounded": p_only,
        "handwritten_only_rounded": h_only,
        "mismatches": p_bad + h_bad,
        "platform_only_examples": p_examples,
        "handwritten_only_examples": h_examples,
        "rows_without_t2": nulls,
        "columns": "k, ts, v_sum_2, v_cnt_1d, round(d_avg_1d, 6), round(last_w, 6)",
    }
    emit({"measure": "check", **result})
    return result


# --- summary ----------------------------------------------------------------------------------------------------
def rate(value: float) -> str:
    return f"{value:,.0f} rows/s"


def met(ok: bool) -> str:
    return "met" if ok else "**not met**"


def markdown(summary: dict) -> str:
    """The figures as rows of the README's table: | figure | target | measured |."""
    rows = ["| figure | target | measured |", "|---|---|---|"]
    n, online = summary["rows"], summary["online_rows"]
    target = TARGETS["offline_load_rows_per_s"]
    for name, label in (("csv", "CSV"), ("parquet", "Parquet")):
        figure = summary.get(f"offline_load_{name}")
        text = f"| offline `LOAD DATA` of t1 from {label}, {n:,} rows (`mode='overwrite'`) | ≥ {rate(target)} | "
        if figure:
            ok = figure["rows_per_s"] >= target
            rows.append(text + f"**{rate(figure['rows_per_s'])}** ({figure['seconds']} s), {met(ok)} |")
        else:
            rows.append(text + "failed (see the report) |")
    figure = summary.get("online_load")
    target = TARGETS["online_load_rows_per_s"]
    text = f"| online `LOAD DATA` from CSV, {online:,} rows (`mode='append'`) | ≥ {rate(target)} | "
    if figure:
        ok = figure["rows_per_s"] >= target
        rows.append(text + f"**{rate(figure['rows_per_s'])}** ({figure['seconds']} s), {met(ok)} |")
    else:
        rows.append(text + "failed (see the report) |")
    extract, hand = summary.get("extract") or {}, summary.get("handwritten") or {}
    target = TARGETS["extract_rows_per_s"]
    text = f"| extraction: 3 windows + LAST JOIN over {n:,} rows `INTO OUTFILE` Parquet (offsync) | ≥ {rate(target)} | "
    if "rows_per_s" in extract:
        ok = extract["rows_per_s"] >= target
        rows.append(text + f"**{rate(extract['rows_per_s'])}** ({extract['seconds']} s), {met(ok)} |")
    else:
        rows.append(text + f"{extract.get('skipped', 'failed (see the report)')} |")
    if hand:
        rows.append(
            f"| the same features hand-written in DuckDB {hand['duckdb']} (in-process, {hand['threads']} threads, "
            f"Parquet in and out) | – | {rate(hand['rows_per_s'])} ({hand['seconds']} s) |"
        )
    if "rows_per_s" in extract and hand:
        ratio = summary["extract_over_handwritten"]
        bound = TARGETS["extract_over_handwritten"]
        rows.append(f"| extraction time, platform / hand-written DuckDB | ≤ {bound:g}× | **{ratio:.2f}×**, "
                    f"{met(ratio <= bound)} |")  # fmt: skip
    check = summary.get("check")
    if check:
        same = check["mismatches"] == 0 and check["platform_rows"] == check["handwritten_rows"]
        rows.append(
            f"| platform output = hand-written output ({check['sample']}, floats within {TOLERANCE:g}) | equal | "
            f"{'equal' if same else '**different**'}: {check['platform_rows']:,} against {check['handwritten_rows']:,}"
            f" rows, {check['mismatches']} mismatches |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows of t1")
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--join-rows", type=int, help="rows of t2, the LAST JOIN table (default: rows / 10)")
    parser.add_argument("--online-rows", type=int, default=1_000_000, help="rows of the online load")
    parser.add_argument("--days", type=int, default=30, help="the time span of the rows")
    parser.add_argument("--ts-step-ms", type=int, default=60_000, help="timestamps are multiples of this")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for one statement's answer")
    parser.add_argument(
        "--check-fraction", type=float, default=1.0, help="fraction of the keys whose rows are compared (1: all)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (files, outputs, server data)")
    parser.add_argument(
        "--spark", action="store_true",
        help="also run the extraction on Spark (a second server with FEATURESTORE_OFFLINE_ENGINE=spark, local[*])",
    )  # fmt: skip
    args = parser.parse_args()
    if args.join_rows is None:
        args.join_rows = max(1, args.rows // 10)
    for name in ("rows", "keys", "online_rows", "days", "ts_step_ms"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be positive")

    wall = time.perf_counter()
    fingerprint = stats_fingerprint("featurestore")
    summary: dict = {
        "command": " ".join(sys.argv),
        "machine": {
            "cores": os.cpu_count(),
            "loadavg_at_start": os.getloadavg(),
            "note": "client, hand-written DuckDB and server share these cores",
        },
        "rows": args.rows,
        "keys": args.keys,
        "join_rows": args.join_rows,
        "online_rows": args.online_rows,
        "failures": [],
    }
    workdir = Path(tempfile.mkdtemp(prefix="bench-offline-"))
    files, offline = workdir / "files", workdir / "offline"
    files.mkdir()
    try:
        paths = generate(files, args)
        out_dir = files / "features_out"
        server = LiveServer(workdir, LOG_LEVEL="WARNING", FEATURESTORE_FILE_ROOTS=str(files),
                            FEATURESTORE_OFFLINE_DIR=str(offline))  # fmt: skip
        with server:
            platform = Platform(server.url, args.timeout)
            try:
                measure_platform(platform, paths, out_dir, args, summary)
            finally:
                summary["server_peak_rss_mib"] = vm_peak_mib(server.process.pid)
                errors = [line.strip() for line in server.lines if " ERROR " in line]
                summary["server_error_lines"] = len(errors)
                summary["server_errors"] = list(dict.fromkeys(line[24:324] for line in errors))[:5]
        spark_out = files / "features_spark"
        if args.spark and "seconds" in (summary.get("extract") or {}):
            # The same data (DATA_DIR and offline files), served by a server whose offline engine is Spark.
            spark_env = {"FEATURESTORE_FILE_ROOTS": str(files), "FEATURESTORE_OFFLINE_DIR": str(offline)}
            spark_server = LiveServer(workdir, LOG_LEVEL="WARNING", FEATURESTORE_OFFLINE_ENGINE="spark", **spark_env)
            with spark_server:
                statement = EXTRACT_SQL.format(path=quoted(str(spark_out)))
                try:
                    seconds = Platform(spark_server.url, args.timeout).timed(statement)
                    summary["extract_spark"] = {"seconds": round(seconds, 3), "rows_per_s": round(args.rows / seconds)}
                    emit({"measure": "extract_spark", **summary["extract_spark"]})
                except StatementFailed as exc:
                    summary["failures"].append(failure("extract_spark", exc))
        hand_out = workdir / "handwritten.parquet"
        summary["handwritten"] = measure_handwritten(paths, hand_out, args.rows)
        extract = summary.get("extract") or {}
        if "seconds" in extract:
            summary["extract_over_handwritten"] = round(extract["seconds"] / summary["handwritten"]["seconds"], 2)
            summary["check"] = compare(out_dir, hand_out, args.check_fraction)
        if "extract_spark" in summary:
            summary["extract_spark"]["check"] = compare(spark_out, hand_out, args.check_fraction)
        summary["targets_met"] = targets_met(summary)
    finally:
        summary["wall_s"] = round(time.perf_counter() - wall, 1)
        summary["code_fingerprint"] = fingerprint
        summary["code_changed_during_run"] = stats_fingerprint("featurestore") != fingerprint
        summary["loadavg_at_end"] = os.getloadavg()
        if args.keep:
            summary["kept"] = str(workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
        shown = dict(summary)
        if "handwritten" in shown:
            shown["handwritten"] = {k: v for k, v in shown["handwritten"].items() if k != "sql"}
        print(json.dumps(shown, indent=2))
    print()
    print(markdown(summary))


def targets_met(summary: dict) -> dict:
    met_: dict[str, bool] = {}
    for name in ("csv", "parquet"):
        if f"offline_load_{name}" in summary:
            met_[f"offline_load_{name}"] = (
                summary[f"offline_load_{name}"]["rows_per_s"] >= TARGETS["offline_load_rows_per_s"]
            )
    if "online_load" in summary:
        met_["online_load"] = summary["online_load"]["rows_per_s"] >= TARGETS["online_load_rows_per_s"]
    if "rows_per_s" in (summary.get("extract") or {}):
        met_["extract_rows_per_s"] = summary["extract"]["rows_per_s"] >= TARGETS["extract_rows_per_s"]
        bound = TARGETS["extract_over_handwritten"]
        met_["extract_within_2x_handwritten"] = summary["extract_over_handwritten"] <= bound
    if "check" in summary:
        check = summary["check"]
        met_["output_equal"] = check["mismatches"] == 0 and check["platform_rows"] == check["handwritten_rows"]
    return met_


if __name__ == "__main__":
    main()
