"""LOAD DATA INFILE and SELECT ... INTO OUTFILE over the wire (POST /dbs/{db}), and tables' offline data."""

import json
from pathlib import Path

import duckdb
import pytest

from featurestore.selectors import table_get
from featurestore.storage import count_rows

pytestmark = pytest.mark.django_db

DDL = "CREATE TABLE t1 (k string, v int, ts timestamp, d double, day date, INDEX(KEY=k, TS=ts))"
CSV = 'k,v,ts,d,day\na,1,1000,1.5,2024-01-01\na,2,2000,null,2024-01-02\nb,3,1500,2.5,\n"x,y",4,3000,nan,2024-01-04\n'
FEATURES = (
    "SELECT k, v, sum(v) OVER w AS s, count(v) OVER w AS c FROM t1 "
    "WINDOW w AS (PARTITION BY k ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)"
)


def sql(client, text, mode="offsync", db="fs"):
    response = client.post(f"/dbs/{db}", json.dumps({"mode": mode, "sql": text}), content_type="application/json")
    assert response.status_code == 200
    return response.json()


def ok(body):
    assert body == {"code": 0, "msg": "ok"}, body


@pytest.fixture
def files(settings, tmp_path):
    root = tmp_path / "files"
    root.mkdir()
    settings.FEATURESTORE_FILE_ROOTS = [str(root)]
    settings.FEATURESTORE_OFFLINE_DIR = tmp_path / "offline"
    (root / "rows.csv").write_text(CSV)
    return root


@pytest.fixture
def fs(client, db, files):
    ok(sql(client, "CREATE DATABASE fs"))
    ok(sql(client, DDL))
    return client


def table():
    return table_get(db="fs", name="t1")


def offline_rows(client):
    body = sql(client, "SELECT * FROM t1")
    assert body["code"] == 0, body
    return body["data"]["data"]


def test_load_offline_deep_copy_is_parquet_and_offline_queries_read_it(fs, files):
    ok(sql(fs, "LOAD DATA INFILE 'rows.csv' INTO TABLE t1"))
    info = table().offline
    assert info["rows"] == 4 and len(info["parts"]) == 1 and info["parts"][0].endswith(".parquet")
    part = Path(info["path"].removeprefix("file://")) / info["parts"][0]
    assert duckdb.sql(f"SELECT count(*) FROM '{part}'").fetchall() == [(4,)]
    assert count_rows(table()) == 0  # online rows untouched
    rows = offline_rows(fs)
    assert rows[0] == ["a", 1, 1000, 1.5, "2024-1-1"]  # upstream's unpadded dates
    assert rows[1][3] is None and rows[2][4] is None  # null_value 'null' and an empty field are NULL
    assert rows[3][0] == "x,y"  # quoted delimiter
    assert sql(fs, "SELECT * FROM t1", mode="online")["data"]["data"] == []
    body = fs.get("/dbs/fs/tables/t1").json()
    assert body["table"]["offline_table_info"] == {
        "path": info["path"], "format": "parquet", "deep_copy": True, "options": {}, "symbolic_paths": []
    }  # fmt: skip
    desc = sql(fs, "DESC t1")["data"]["data"]
    assert ["offline", "Rows", "4", ""] in desc and ["offline", "Format", "parquet", ""] in desc


def test_offline_windows_are_point_in_time_over_offline_data(fs, files):
    ok(sql(fs, "LOAD DATA INFILE 'rows.csv' INTO TABLE t1"))
    # rows in file order; a's rows: ts 1000 (v 1), 2000 (v 2)
    assert sql(fs, FEATURES)["data"]["data"] == [["a", 1, 1, 1], ["a", 2, 3, 2], ["b", 3, 3, 1], ["x,y", 4, 4, 1]]
    # a row loaded later with an earlier time is before them in time order: it is in their windows, they in not its
    (files / "late.csv").write_text("k,v,ts,d,day\na,10,500,0,2024-01-01\n")
    ok(sql(fs, "LOAD DATA INFILE 'late.csv' INTO TABLE t1 OPTIONS(mode='append')"))
    data = sql(fs, FEATURES)["data"]["data"]
    assert data[0] == ["a", 1, 11, 2] and data[1] == ["a", 2, 13, 3] and data[4] == ["a", 10, 10, 1]


def test_modes_error_if_exists_append_overwrite(fs, files, django_capture_on_commit_callbacks):
    ok(sql(fs, "LOAD DATA INFILE 'rows.csv' INTO TABLE t1"))
    body = sql(fs, "LOAD DATA INFILE 'rows.csv' INTO TABLE t1")
    assert body["code"] != 0 and "already has offline data" in body["msg"]
    ok(sql(fs, "LOAD DATA INFILE 'rows.csv' INTO TABLE t1 OPTIONS(mode='append')"))
    assert table().offline["rows"] == 8 and len(offline_rows(fs)) == 8
    directory = Path(table().offline["path"].removeprefix("file://"))
    old = sorted(p.name for p in directory.iterdir())
    with django_capture_on_commit_callbacks(execute=True):
        ok(sql(fs, "LOAD DATA INFILE 'rows.csv' INTO TABLE t1 OPTIONS(mode='overwrite')"))
    assert table().offline["rows"] == 4 and len(offline_rows(fs)) == 4
    assert not set(old) & {p.name for p in directory.iterdir()}  # the replaced parts are deleted


def test_parquet_in_and_out_round_trip(fs, files):
    ok(sql(fs, "LOAD DATA INFILE 'rows.csv' INTO TABLE t1"))
    ok(sql(fs, "SELECT * FROM t1 INTO OUTFILE 'out_pq' OPTIONS(format='parquet')"))
    parts = sorted((files / "out_pq").iterdir())
    assert len(parts) == 1 and parts[0].name.startswith("part-00000-") and parts[0].suffix == ".parquet"
    ok(sql(fs, "CREATE TABLE t2 (k string, v int, ts timestamp, d double, day date, INDEX(KEY=k, TS=ts))"))
    ok(sql(fs, "LOAD DATA INFILE 'out_pq' INTO TABLE t2 OPTIONS(format='parquet')"))
    assert sql(fs, "SELECT * FROM t2")["data"] == sql(fs, "SELECT * FROM t1")["data"]


def test_select_into_outfile_csv_is_a_directory_of_parts_by_mode(fs, files):
    ok(sql(fs, "LOAD DATA INFILE 'rows.csv' INTO TABLE t1"))
    ok(sql(fs, f"{FEATURES} INTO OUTFILE 'feat' OPTIONS(delimiter='|', null_value='NA')"))
    (part,) = (files / "feat").iterdir()
    assert part.read_text().splitlines() == ["k|v|s|c", "a|1|1|1", "a|2|3|2", "b|3|3|1", "x,y|4|4|1"]
    body = sql(fs, f"{FEATURES} INTO OUTFILE 'feat'")
    assert body["code"] != 0 and "already exists" in body["msg"]
    ok(sql(fs, "SELECT k, d, day FROM t1 INTO OUTFILE 'feat' OPTIONS(mode='overwrite', header=false)"))
    (part,) = (files / "feat").iterdir()
    assert part.read_text().splitlines() == [
        "a,1.5,2024-01-01",
        "a,null,2024-01-02",
        "b,2.5,null",
        '"x,y",nan,2024-01-04',
    ]
    ok(sql(fs, "SELECT k FROM t1 INTO OUTFILE 'feat' OPTIONS(mode='append')"))
    assert len(list((files / "feat").iterdir())) == 2


def test_soft_copy_registers_the_path_and_reads_it_in_place(fs, files):
    ok(sql(fs, "LOAD DATA INFILE 'rows.csv' INTO TABLE t1 OPTIONS(deep_copy=false)"))
    info = table().offline
    assert info["path"] == "" and info["symbolic_paths"] == [f"file://{files}/rows.csv"]
    assert info["format"] == "csv" and info["options"]["header"] == "true"
    assert len(offline_rows(fs)) == 4
    body = sql(fs, "LOAD DATA INFILE 'rows.csv' INTO TABLE t1 OPTIONS(deep_copy=false, mode='append', delimiter=';')")
    assert body["code"] != 0 and "format and options must be the same" in body["msg"]


def test_online_load_inserts_rows_through_the_batch_path(fs, files):
    ok(sql(fs, "LOAD DATA INFILE 'rows.csv' INTO TABLE t1 OPTIONS(mode='append')", mode="online"))
    assert count_rows(table()) == 4 and not table().offline
    body = sql(fs, "LOAD DATA INFILE 'rows.csv' INTO TABLE t1", mode="online")
    assert body["msg"] == "import to online storage, can't do soft copy, and mode must be append"
    body = sql(fs, "LOAD DATA INFILE 'rows.csv' INTO TABLE t1 OPTIONS(load_mode='local')")
    assert body["msg"] == "local load only supports loading data to online storage"
    ok(sql(fs, "LOAD DATA INFILE 'rows.csv' INTO TABLE t1 OPTIONS(mode='append', load_mode='local')", mode="onsync"))
    assert count_rows(table()) == 8


@pytest.mark.parametrize("mode", ["offsync", "online"])
def test_a_bad_row_names_line_and_column_and_loads_nothing(fs, files, mode):
    (files / "bad.csv").write_text("k,v,ts,d,day\na,1,1000,1.5,2024-01-01\na,x2,2000,1,2024-01-02\n")
    body = sql(fs, "LOAD DATA INFILE 'bad.csv' INTO TABLE t1 OPTIONS(mode='append')", mode=mode)
    assert body["code"] != 0
    assert body["msg"] == "line 3 of bad.csv: column v: 'x2' is not an integer"
    assert count_rows(table()) == 0 and not table().offline


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("LOAD DATA INFILE 'rows.csv' INTO TABLE t1 OPTIONS(delimeter=';')", "unknown option delimeter"),
        ("LOAD DATA INFILE 'rows.csv' INTO TABLE t1 OPTIONS(header='yes')", "header must be bool"),
        ("LOAD DATA INFILE 'rows.csv' INTO TABLE t1 OPTIONS(mode='replace')", "mode must be error_if_exists"),
        ("LOAD DATA INFILE 'missing.csv' INTO TABLE t1", "no file found at missing.csv"),
        ("LOAD DATA INFILE '../../etc/passwd' INTO TABLE t1", "climbs out with .."),
        ("LOAD DATA INFILE '/etc/passwd' INTO TABLE t1", "is outside the file roots"),
        ("LOAD DATA INFILE 'rows.csv' INTO TABLE nope", "table nope does not exist in fs"),
        ("SELECT * FROM t1 INTO OUTFILE '/tmp/out'", "is outside the file roots"),
        ("SELECT * FROM t1 INTO OUTFILE 'o' OPTIONS(format='orc')", "format must be csv or parquet"),
    ],
)
def test_bad_statements_are_refused_with_the_cause(fs, statement, message):
    body = sql(fs, statement)
    assert body["code"] != 0 and message in body["msg"], body
    assert not table().offline


def test_a_parquet_file_of_other_types_is_refused(fs, files):
    duckdb.sql(
        f"COPY (SELECT 'a' AS k, 'one' AS v, 1 AS ts, 1.0 AS d, DATE '2024-01-01' AS day) TO '{files}/p.parquet'"
    )
    body = sql(fs, "LOAD DATA INFILE 'p.parquet' INTO TABLE t1 OPTIONS(format='parquet')")
    assert body["msg"] == "column v: the Parquet data holds VARCHAR values, which do not fit the table's int32 column"


def test_offsync_answers_inline_up_to_a_limit(fs, files, settings):
    settings.FEATURESTORE_OFFLINE_SYNC_ROWS = 3
    ok(sql(fs, "LOAD DATA INFILE 'rows.csv' INTO TABLE t1"))
    body = sql(fs, FEATURES)
    assert body["code"] != 0 and "more than 3 rows" in body["msg"] and "INTO OUTFILE" in body["msg"]
    assert len(sql(fs, f"{FEATURES} LIMIT 3")["data"]["data"]) == 3
    ok(sql(fs, f"{FEATURES} INTO OUTFILE 'all'"))
    assert len((next((files / "all").iterdir())).read_text().splitlines()) == 5


def test_drop_table_deletes_its_deep_copy(fs, files, django_capture_on_commit_callbacks):
    ok(sql(fs, "LOAD DATA INFILE 'rows.csv' INTO TABLE t1"))
    directory = Path(table().offline["path"].removeprefix("file://"))
    assert directory.is_dir()
    with django_capture_on_commit_callbacks(execute=True):
        ok(sql(fs, "DROP TABLE t1"))
    assert not directory.exists()
    assert (files / "rows.csv").exists()


@pytest.mark.parametrize("mode", ["offsync", "online"])
def test_plain_aggregates_with_group_by_and_having(fs, files, mode):
    if mode == "offsync":
        ok(sql(fs, "LOAD DATA INFILE 'rows.csv' INTO TABLE t1"))
    else:
        ok(sql(fs, "LOAD DATA INFILE 'rows.csv' INTO TABLE t1 OPTIONS(mode='append')", mode="online"))
    body = sql(fs, "SELECT count(*), sum(v), max(ts) AS last FROM t1", mode=mode)
    assert body["data"] == {"schema": ["Int64", "Int32", "Timestamp"], "data": [[4, 10, 3000]]}
    body = sql(fs, "SELECT k, count(v) AS n, avg(v) FROM t1 GROUP BY k HAVING count(v) > 1", mode=mode)
    assert body["data"]["data"] == [["a", 2, 1.5]]
    body = sql(fs, "SELECT k, min(d) FROM t1 GROUP BY k HAVING min(d) IS NULL OR k = 'b'", mode=mode)
    assert body["data"]["data"] == [["b", 2.5]]
