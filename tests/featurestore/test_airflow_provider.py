"""OpenMLDB's Airflow provider (``airflow-provider-openmldb`` 0.0.1, unchanged) against a real server process.

The provider's operators and hook run as they would in an Airflow task; Apache Airflow itself is too heavy to
install (``requirements-nodeps.txt`` installs the provider without it), so the ``airflow`` fixture stands in for
the few Airflow names the provider imports, with the behaviour it relies on: ``BaseHook.get_connection`` and
``log``, ``BaseOperator`` refusing unknown arguments, ``determine_kwargs`` and ``AirflowException``. Every call
goes over HTTP to ``POST /dbs/{db}`` of a live server whose feature-store files live in this module's directories.
"""

from __future__ import annotations

import csv
import itertools
import json
import types
from pathlib import Path

import pytest
import requests

from tests.airflow_standin import CONNECTIONS, AirflowException, Connection, provider_imported
from tests.live import LiveServer
from tests.waiting import eventually

pytestmark = pytest.mark.live

PATIENCE = 120.0  # seconds to wait for a job: generous on a loaded machine, never a speed claim
DDL = "CREATE TABLE t1 (k string, v int, ts timestamp, INDEX(KEY=k, TS=ts))"
CSV = "k,v,ts\na,1,1000\na,2,2000\nb,5,1500\na,3,3000\na,4,4000\n"
ROWS = [["a", 1, 1000], ["a", 2, 2000], ["a", 3, 3000], ["a", 4, 4000], ["b", 5, 1500]]  # sorted
FEATURES = (
    "SELECT k, v, sum(v) OVER w AS s FROM t1 "
    "WINDOW w AS (PARTITION BY k ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)"
)
FEATURE_ROWS = [["a", 1, 1], ["a", 2, 3], ["a", 3, 6], ["a", 4, 9], ["b", 5, 5]]  # sorted
CONTEXT = {"ds": "2024-01-01", "run_id": "manual__2024-01-01"}  # what Airflow hands execute(); unused here


# --- the provider over the stand-in for Apache Airflow ------------------------------------------------------------
@pytest.fixture(scope="module")
def airflow():
    """The provider's hook and operators modules, imported over the stand-in ``airflow`` package (then removed)."""
    with provider_imported() as provider:
        yield provider


# --- the server and the connections ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dirs(tmp_path_factory) -> types.SimpleNamespace:
    base = tmp_path_factory.mktemp("airflow-provider")
    return types.SimpleNamespace(files=base / "files", offline=base / "offline", data=base / "data")


@pytest.fixture(scope="module")
def server(dirs):
    env = {"FEATURESTORE_FILE_ROOTS": str(dirs.files), "FEATURESTORE_OFFLINE_DIR": str(dirs.offline)}
    with LiveServer(dirs.data, **env) as live:
        yield live


@pytest.fixture(scope="module")
def connections(airflow, server) -> types.SimpleNamespace:
    """``openmldb_default`` as OpenMLDB's clients use it (no credentials), and one whose extra sends a token."""
    token = server.token()
    CONNECTIONS["openmldb_default"] = Connection("openmldb_default", host="127.0.0.1", schema="http", port=server.port)
    CONNECTIONS["openmldb_token"] = Connection(
        "openmldb_token",
        host="127.0.0.1",
        schema="http",
        port=server.port,
        extra=json.dumps({"Authorization": f"Bearer {token}"}),  # the hook's default headers
    )
    return types.SimpleNamespace(anonymous="openmldb_default", token="openmldb_token", bearer=token)


_databases = itertools.count(1)


@pytest.fixture
def database(airflow, connections, dirs) -> str:
    """A new database holding the empty table t1 (made by the provider's SQL operator), and rows.csv for it."""
    name = f"af{next(_databases)}"
    assert ok(run(airflow, "SQLOperator", db=name, mode="OFFSYNC", sql=f"CREATE DATABASE {name}"))
    assert ok(run(airflow, "SQLOperator", db=name, mode="OFFSYNC", sql=DDL))
    (dirs.files / name).mkdir(parents=True)
    (dirs.files / name / "rows.csv").write_text(CSV)
    return name


def run(airflow, kind: str, *, mode: str | None = None, **arguments) -> dict:
    """Run ``OpenMLDB<kind>`` as an Airflow task would; return the JSON of the text ``execute`` returns."""
    operator_class = getattr(airflow.operators, f"OpenMLDB{kind}")
    if mode is not None:
        arguments["mode"] = airflow.operators.Mode[mode]
    operator = operator_class(task_id=f"task_{kind.lower()}", **arguments)
    return json.loads(operator.execute(context=dict(CONTEXT)))


def ok(body: dict) -> bool:
    assert body["code"] == 0 and body["msg"] == "ok", body
    return True


def submit(airflow, db: str, mode: str, sql: str, conn_id: str = "openmldb_default") -> dict:
    """The hook's ``submit_job``; the answer's JSON."""
    response = airflow.hooks.OpenMLDBHook(openmldb_conn_id=conn_id).submit_job(db=db, mode=mode, sql=sql)
    assert response.status_code == 200
    return response.json()


def offline_rows(airflow, db: str) -> list:
    body = submit(airflow, db, "offsync", "SELECT k, v, ts FROM t1")
    assert ok(body)
    return sorted(body["data"]["data"])


def online_rows(airflow, db: str) -> list:
    body = submit(airflow, db, "online", "SELECT k, v, ts FROM t1")
    assert ok(body)
    return sorted(body["data"]["data"])


def job_ended(server, connections, job_id: int) -> dict:
    """The Linkis history of an offasync job once it has ended."""

    def ended() -> dict | None:
        try:
            body = requests.get(
                f"{server.url}/api/rest_j/v1/jobhistory/{job_id}/get",
                headers={"Authorization": f"Bearer {connections.bearer}"},
                timeout=30,
            ).json()
        except requests.RequestException:
            return None  # a slow answer on a loaded machine: ask again
        task = body["data"]["task"]
        return task if task["status"] in ("Succeed", "Failed", "Cancelled", "Timeout") else None

    return eventually(ended, timeout=PATIENCE, interval=0.2, message=f"the offasync job {job_id} did not end")


def part_rows(directory: Path) -> tuple[list[str], list[list[str]]]:
    """The header and the rows of the part files SELECT INTO wrote (Spark's layout: part-NNNNN-<id>.csv)."""
    parts = sorted(directory.glob("part-*.csv"))
    assert parts and parts[0].name.startswith("part-00000-"), sorted(p.name for p in directory.iterdir())
    header, rows = None, []
    for part in parts:
        with part.open(newline="") as stream:
            lines = list(csv.reader(stream))
        assert header in (None, lines[0])
        header = lines[0]
        rows.extend(lines[1:])
    return header, sorted(rows)


# --- the tests ---------------------------------------------------------------------------------------------------
def test_sql_operator_and_hook_create_a_database_and_a_table(airflow, server, database):
    table = requests.get(f"{server.url}/dbs/{database}/tables/t1", timeout=30).json()
    assert table["code"] == 0
    columns = [(column["name"], column["data_type"]) for column in table["table"]["column_desc"]]
    assert columns == [("k", "kVarchar"), ("v", "kInt"), ("ts", "kTimestamp")]
    assert table["table"]["column_key"][0]["col_name"] == ["k"] and table["table"]["column_key"][0]["ts_name"] == "ts"
    shown = submit(airflow, database, "online", "SHOW TABLES")
    assert ok(shown) and ["t1"] in shown["data"]["data"]
    assert submit(airflow, database, "online", "CREATE TABLE t2 (a int, b timestamp)") == {"code": 0, "msg": "ok"}
    tables = requests.get(f"{server.url}/dbs/{database}/tables", timeout=30).json()["tables"]
    assert sorted(t["name"] for t in tables) == ["t1", "t2"]


def test_load_data_operator_offsync_writes_the_offline_data(airflow, server, dirs, database):
    body = run(
        airflow, "LoadDataOperator", db=database, mode="OFFSYNC", table="t1",
        file=str(dirs.files / database / "rows.csv"), options="format='csv', header=true, mode='append'",
    )  # fmt: skip
    assert body == {"code": 0, "msg": "ok"}
    assert offline_rows(airflow, database) == ROWS
    assert online_rows(airflow, database) == []  # an offline load leaves the online table alone
    table = requests.get(f"{server.url}/dbs/{database}/tables/t1", timeout=30).json()["table"]
    assert table["offline_table_info"]["format"] == "parquet" and table["offline_table_info"]["deep_copy"] is True


def test_select_into_operator_writes_windowed_features_as_part_files(airflow, dirs, database):
    run(airflow, "LoadDataOperator", db=database, mode="OFFSYNC", table="t1", file=f"{database}/rows.csv")
    out = dirs.files / database / "features"
    body = run(airflow, "SelectIntoOperator", db=database, mode="OFFSYNC", sql=FEATURES, file=str(out))
    assert body == {"code": 0, "msg": "ok"}
    header, rows = part_rows(out)
    assert header == ["k", "v", "s"]
    assert rows == [[str(value) for value in row] for row in FEATURE_ROWS]

    # with the operator's options: a second write replaces the directory; without them it is refused
    again = run(
        airflow, "SelectIntoOperator", db=database, mode="OFFSYNC", sql=FEATURES, file=str(out),
        options="mode='overwrite', delimiter='|', header=false",
    )  # fmt: skip
    assert ok(again)
    parts = sorted(out.glob("part-*.csv"))
    lines = sorted(line for part in parts for line in part.read_text().splitlines())
    assert lines == sorted("|".join(str(value) for value in row) for row in FEATURE_ROWS)
    with pytest.raises(AirflowException, match="already exists"):
        run(airflow, "SelectIntoOperator", db=database, mode="OFFSYNC", sql=FEATURES, file=str(out))


def test_load_data_operator_online_append_fills_the_online_table(airflow, server, database):
    body = run(
        airflow, "LoadDataOperator", db=database, mode="ONLINE", table="t1", file=f"{database}/rows.csv",
        options="mode='append'",
    )  # fmt: skip
    assert body == {"code": 0, "msg": "ok"}
    assert online_rows(airflow, database) == ROWS
    table = requests.get(f"{server.url}/dbs/{database}/tables/t1", timeout=30).json()["table"]
    assert "offline_table_info" not in table  # an online load writes no offline data
    # upstream's rule, through the operator: online loads only append
    with pytest.raises(AirflowException, match="mode must be append"):
        run(airflow, "LoadDataOperator", db=database, mode="ONLINE", table="t1", file=f"{database}/rows.csv")


def test_deploy_operator_deploys_a_feature_query_that_computes_requests(airflow, server, database):
    run(airflow, "LoadDataOperator", db=database, mode="ONLINE", table="t1", file=f"{database}/rows.csv",
        options="mode='append'")  # fmt: skip
    body = run(airflow, "DeployOperator", db=database, deploy_name="features", sql=FEATURES)
    assert body == {"code": 0, "msg": "ok"}
    deployment = requests.get(f"{server.url}/dbs/{database}/deployments/features", timeout=30).json()
    assert deployment["code"] == 0
    assert [column["name"] for column in deployment["data"]["output_schema"]] == ["k", "v", "s"]
    answer = requests.post(
        f"{server.url}/dbs/{database}/deployments/features", json={"input": [["a", 10, 5000]]}, timeout=30
    ).json()
    assert answer["code"] == 0, answer
    assert answer["data"]["data"] == [["a", 10, 17]]  # 3 + 4 stored before the request row, then 10


def job_finished(airflow, database: str, job_id: int) -> list:
    """``SHOW JOB id`` through the hook (as an OpenMLDB client polls), once the job has ended."""

    def ended() -> list | None:
        body = submit(airflow, database, "offsync", f"SHOW JOB {job_id}")
        assert ok(body)
        row = body["data"]["data"][0]
        return row if row[2] in ("FINISHED", "FAILED", "STOPPED") else None

    return eventually(ended, timeout=120, message=f"job {job_id} did not end")


def test_offasync_runs_as_a_job_through_the_hook_and_the_operators(airflow, server, connections, database):
    # No credentials, as the provider sends none: the jobs run as the service account (OPENMLDB_SERVICE_ACCOUNT).
    path = f"{database}/rows.csv"
    body = run(airflow, "LoadDataOperator", db=database, mode="OFFASYNC", table="t1", file=path)
    assert ok(body) and body["data"]["data"][0][1] == "ImportOfflineData"
    assert job_finished(airflow, database, body["data"]["data"][0][0])[2] == "FINISHED"
    assert offline_rows(airflow, database) == ROWS

    answer = submit(airflow, database, "offasync", FEATURES)
    assert ok(answer) and answer["data"]["data"][0][2] in ("Submitted", "RUNNING", "FINISHED")
    assert job_finished(airflow, database, answer["data"]["data"][0][0])[2] == "FINISHED"

    out = f"{database}/async-features"
    body = run(airflow, "SelectIntoOperator", db=database, mode="OFFASYNC", sql=FEATURES, file=out,
               openmldb_conn_id=connections.token)  # fmt: skip
    assert job_ended(server, connections, body["data"]["data"][0][0])["status"] == "Succeed"
    assert part_rows(Path(server.env["FEATURESTORE_FILE_ROOTS"]) / out) == (
        ["k", "v", "s"],
        [[str(value) for value in row] for row in FEATURE_ROWS],
    )


@pytest.mark.parametrize(
    "path, message",
    [
        ("/etc/passwd", "files are read and written only under"),
        ("../../outside.csv", "climbs out with .."),
        ("missing.csv", "no file found at missing.csv"),
    ],
)
def test_load_data_operator_with_a_bad_path_raises_airflows_exception(airflow, dirs, database, path, message):
    with pytest.raises(AirflowException) as refused:
        run(airflow, "LoadDataOperator", db=database, mode="OFFSYNC", table="t1", file=path)
    text = refused.value.args[0]
    assert text.startswith("Response check returned False. Resp: ")
    answer = json.loads(text.removeprefix("Response check returned False. Resp: "))
    assert answer["code"] != 0 and message in answer["msg"]
    assert offline_rows(airflow, database) == []  # nothing was loaded


def test_operator_response_check_is_the_callers_and_can_be_disabled(airflow, database):
    seen = []

    def response_check(response, ds):
        seen.append((response.json()["code"], ds))
        return True

    text = airflow.operators.OpenMLDBSQLOperator(
        task_id="checked", db=database, mode=airflow.operators.Mode.OFFSYNC, sql="SELECT * FROM nowhere",
        response_check=response_check,
    ).execute(context=dict(CONTEXT))  # fmt: skip
    assert seen == [(json.loads(text)["code"], CONTEXT["ds"])] and seen[0][0] != 0
    unchecked = airflow.operators.OpenMLDBSQLOperator(
        task_id="unchecked", db=database, mode=airflow.operators.Mode.OFFSYNC, sql="SELECT * FROM nowhere",
        disable_response_check=True,
    ).execute(context=dict(CONTEXT))  # fmt: skip
    assert "nowhere" in json.loads(unchecked)["msg"]


def test_hook_retries_with_tenacity_and_refuses_an_unknown_connection(airflow, database):
    import tenacity

    hook = airflow.hooks.OpenMLDBHook()
    response = hook.run_with_advanced_retry(
        {"stop": tenacity.stop_after_attempt(3), "retry": tenacity.retry_if_exception_type(requests.ConnectionError)},
        endpoint=f"dbs/{database}",
        json={"mode": "online", "sql": "SHOW TABLES"},
    )
    assert response.json()["data"]["data"] == [["t1"]]
    with pytest.raises(AirflowException, match="isn't defined"):
        airflow.hooks.OpenMLDBHook(openmldb_conn_id="nowhere").submit_job(db=database, mode="online", sql="SHOW TABLES")
