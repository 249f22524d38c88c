"""Offline data at remote URIs (FEATURESTORE_REMOTE_ROOTS): LOAD DATA from S3, soft copies read in place, INTO
OUTFILE to S3, on DuckDB and on Spark; and every URI outside the remote roots refused.

The S3 is moto's server, a real S3 endpoint on 127.0.0.1 in a child process; s3fs talks to it over HTTP with
credentials and the endpoint from the standard AWS environment, as it would to AWS or MinIO.
"""

import json
import subprocess
import sys

import duckdb
import pytest
import requests

from featurestore import files as featurestore_files
from featurestore import sql as sqlexec
from featurestore.offline import spark
from tests.featurestore.test_offline_files import CSV, DDL, FEATURES, offline_rows, ok, sql
from tests.live import free_port
from tests.waiting import eventually

pytestmark = pytest.mark.django_db

ROOT = "s3://bkt/features/"


@pytest.fixture(scope="module")
def s3_server():
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - a fixed command: moto's server on the loopback address
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"

    def up():
        try:
            return requests.get(url, timeout=5).status_code < 500
        except requests.ConnectionError:
            return False

    try:
        eventually(up, timeout=120, message="moto's S3 server did not start")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=60)


@pytest.fixture
def s3(s3_server, settings, monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server)
    featurestore_files._filesystem.cache_clear()
    settings.FEATURESTORE_REMOTE_ROOTS = [ROOT]
    settings.FEATURESTORE_FILE_ROOTS = [str(tmp_path / "files")]
    settings.FEATURESTORE_OFFLINE_DIR = tmp_path / "offline"
    fs = featurestore_files._filesystem("s3")
    if fs.exists("bkt"):
        fs.rm("bkt", recursive=True)
    fs.mkdir("bkt")
    yield fs
    featurestore_files._filesystem.cache_clear()


@pytest.fixture
def fs(client, db, s3):
    ok(sql(client, "CREATE DATABASE fs"))
    ok(sql(client, DDL))
    return client


def parquet_bytes(query, tmp_path):
    path = tmp_path / "x.parquet"
    with duckdb.connect() as con:
        con.execute(f"COPY ({query}) TO '{path}' (FORMAT parquet)")
    return path.read_bytes()


def parquet_rows(data, tmp_path):
    path = tmp_path / "y.parquet"
    path.write_bytes(data)
    with duckdb.connect() as con:
        return con.execute(f"SELECT * FROM read_parquet('{path}')").fetchall()


def read_csv(s3, uri):
    parts = sorted(s3.ls(uri))
    text = "".join(s3.cat(part).decode() for part in parts if part.rsplit("/", 1)[-1].startswith("part-"))
    return text


def test_load_from_s3_into_a_deep_copy_and_an_online_table(fs, s3):
    s3.pipe("bkt/features/in/rows.csv", CSV.encode())
    ok(sql(fs, f"LOAD DATA INFILE '{ROOT}in/rows.csv' INTO TABLE t1"))
    assert [row[:2] for row in offline_rows(fs)] == [["a", 1], ["a", 2], ["b", 3], ["x,y", 4]]
    # Online, from a pattern over the directory.
    ok(sql(fs, f"LOAD DATA INFILE '{ROOT}in/*.csv' INTO TABLE t1 OPTIONS(mode='append')", mode="online"))
    online = sql(fs, "SELECT k, v FROM t1", mode="online")
    assert sorted(online["data"]["data"]) == [["a", 1], ["a", 2], ["b", 3], ["x,y", 4]]


def test_a_soft_copy_at_s3_is_read_in_place_and_shown_in_the_catalog(fs, s3, tmp_path):
    rows = "SELECT * FROM (VALUES ('a', 1, 1000::BIGINT, 1.5, DATE '2024-01-01'), ('a', 5, 2000::BIGINT, 2.5, NULL))"
    named = f"SELECT col0 AS k, col1::INTEGER AS v, col2 AS ts, col3::DOUBLE AS d, col4 AS day FROM ({rows})"
    s3.pipe("bkt/features/soft/part-0.parquet", parquet_bytes(named, tmp_path))
    ok(sql(fs, f"LOAD DATA INFILE '{ROOT}soft' INTO TABLE t1 OPTIONS(format='parquet', deep_copy=false)"))
    detail = fs.get("/dbs/fs/tables/t1").json()["table"]
    assert detail["offline_table_info"]["symbolic_paths"] == [f"{ROOT}soft"]
    assert sql(fs, FEATURES)["data"]["data"] == [["a", 1, 1, 1], ["a", 5, 6, 2]]
    # Read in place: a file added to the directory is read by the next query.
    s3.pipe("bkt/features/soft/part-1.parquet", parquet_bytes(named.replace("'a'", "'b'"), tmp_path))
    assert [row[0] for row in offline_rows(fs)] == ["a", "a", "b", "b"]


def test_select_into_outfile_on_s3_by_mode(fs, s3, tmp_path):
    ok(sql(fs, "INSERT INTO t1 VALUES ('a', 1, 1000, 1.0, '2024-01-01'), ('a', 2, 2000, 2.0, '2024-01-02')", "online"))
    out = f"{ROOT}out/train"
    query = FEATURES.replace(", count(v) OVER w AS c", "")
    ok(sql(fs, f"{query} INTO OUTFILE '{out}'", mode="online"))  # online preview rows
    assert read_csv(s3, out) == "k,v,s\na,1,1\na,2,3\n"
    again = sql(fs, f"{query} INTO OUTFILE '{out}'", mode="online")
    assert again["code"] != 0 and "already exists (mode error_if_exists)" in again["msg"]
    ok(sql(fs, f"{query} INTO OUTFILE '{out}' OPTIONS(mode='append', header=false)", mode="online"))
    assert len(s3.ls(out)) == 2 and read_csv(s3, out) == "k,v,s\na,1,1\na,2,3\na,1,1\na,2,3\n"
    ok(sql(fs, f"{query} INTO OUTFILE '{out}' OPTIONS(mode='overwrite', format='parquet')", mode="online"))
    (part,) = s3.ls(out)
    assert part.endswith(".parquet") and parquet_rows(s3.cat(part), tmp_path) == [("a", 1, 1), ("a", 2, 3)]


def test_offline_results_go_to_s3_and_load_back(fs, s3):
    s3.pipe("bkt/features/in/rows.csv", CSV.encode())
    ok(sql(fs, f"LOAD DATA INFILE '{ROOT}in/rows.csv' INTO TABLE t1"))
    ok(sql(fs, f"{FEATURES} INTO OUTFILE '{ROOT}out/features' OPTIONS(format='parquet')"))
    ok(sql(fs, "CREATE TABLE back (k string, v int, s int, c bigint)"))
    ok(sql(fs, f"LOAD DATA INFILE '{ROOT}out/features' INTO TABLE back OPTIONS(format='parquet')"))
    assert offline_rows_of(fs, "back") == sql(fs, FEATURES)["data"]["data"]


def offline_rows_of(client, name):
    body = sql(client, f"SELECT * FROM {name}")
    assert body["code"] == 0, body
    return body["data"]["data"]


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("s3://bkt/other/rows.csv", "is outside the remote roots"),
        ("s3://bkt/features/../other/rows.csv", "climbs out with . or .."),
        ("s3://bkt/features/./x.csv", "climbs out with . or .."),
        ("s3://bkt/features/x.csv?versionId=1", "holds ?, [ or #"),
        ("s3://bkt/featuresX/rows.csv", "is outside the remote roots"),
        ("hdfs://namenode/features/rows.csv", "is outside the remote roots"),
        ("gs://bkt/features/rows.csv", "is outside the remote roots"),
    ],
)
def test_uris_outside_the_remote_roots_are_refused(fs, s3, path, why):
    s3.pipe("bkt/other/rows.csv", CSV.encode())
    body = sql(fs, f"LOAD DATA INFILE '{path}' INTO TABLE t1")
    assert body["code"] != 0 and why in body["msg"] and ROOT in body["msg"], body
    written = sql(fs, f"SELECT 1 AS x FROM t1 INTO OUTFILE '{path}'")
    assert written["code"] != 0 and ROOT in written["msg"], written
    assert s3.isfile("bkt/other/rows.csv") and s3.ls("bkt/other") == ["bkt/other/rows.csv"]
    assert table_offline(fs) is None


def table_offline(client):
    return client.get("/dbs/fs/tables/t1").json()["table"].get("offline_table_info")


def test_without_remote_roots_every_uri_is_refused(fs, s3, settings):
    settings.FEATURESTORE_REMOTE_ROOTS = []
    s3.pipe("bkt/features/rows.csv", CSV.encode())
    body = sql(fs, f"LOAD DATA INFILE '{ROOT}rows.csv' INTO TABLE t1")
    assert body["code"] != 0 and "uses the scheme s3:// and no remote roots are configured" in body["msg"], body
    assert table_offline(fs) is None


def test_a_bad_remote_line_is_named_and_nothing_is_loaded(fs, s3):
    s3.pipe("bkt/features/bad.csv", b"k,v,ts,d,day\na,1,1000,1.5,2024-01-01\nb,oops,2000,1.0,2024-01-02\n")
    body = sql(fs, f"LOAD DATA INFILE '{ROOT}bad.csv' INTO TABLE t1")
    assert body["code"] != 0 and "line 3 of bad.csv" in body["msg"] and "column v" in body["msg"], body
    online = sql(fs, f"LOAD DATA INFILE '{ROOT}bad.csv' INTO TABLE t1 OPTIONS(mode='append')", mode="online")
    assert online["code"] != 0 and "line 3 of bad.csv" in online["msg"]
    assert table_offline(fs) is None
    assert sql(fs, "SELECT k FROM t1", mode="online")["data"]["data"] == []
    missing = sql(fs, f"LOAD DATA INFILE '{ROOT}missing.csv' INTO TABLE t1")
    assert missing["code"] != 0 and f"no file found at {ROOT}missing.csv" in missing["msg"]


def test_an_unreachable_store_is_a_clear_error(fs, s3, settings, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    featurestore_files._filesystem.cache_clear()
    body = sql(fs, f"LOAD DATA INFILE '{ROOT}rows.csv' INTO TABLE t1")
    assert body["code"] != 0 and f"cannot reach {ROOT}rows.csv" in body["msg"], body
    assert table_offline(fs) is None
    assert json.dumps(body)  # a {code, msg} body, not a 500


def test_spark_reads_and_writes_the_same_remote_data(fs, s3):
    from jobs.engines import spark_unavailable

    reason = spark_unavailable()
    if reason is not None:
        pytest.skip(f"Spark cannot run here: {reason}")
    s3.pipe("bkt/features/in/rows.csv", CSV.encode())
    ok(sql(fs, f"LOAD DATA INFILE '{ROOT}in/rows.csv' INTO TABLE t1 OPTIONS(deep_copy=false)"))
    on_duckdb = sql(fs, FEATURES)["data"]["data"]
    script = f"SET @@offline_engine = 'spark'; {FEATURES}; {FEATURES} INTO OUTFILE '{ROOT}out/spark'"
    try:
        results = [result for _, _, result in sqlexec.execute_each(db="fs", sql=script)]
    finally:
        spark.stop()
    assert results[1].note.startswith("compiled to Spark SQL (local")
    assert results[1].rows == on_duckdb
    assert read_csv(s3, f"{ROOT}out/spark") == "k,v,s,c\n" + "".join(
        ",".join('"x,y"' if value == "x,y" else str(value) for value in row) + "\n" for row in on_duckdb
    )
