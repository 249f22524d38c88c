"""EXECUTE DEPLOYMENT: a deployment's features for a training set in one statement, point-in-time, equal to what
the deployment answered online for each row when the rows arrived in time order."""

import json
import random

import pytest

from featurestore.sqlcore import sqlir
from featurestore.sqlcore.dialect import parse_one

pytestmark = pytest.mark.django_db

DEPLOY = (
    "DEPLOY feats SELECT t1.k, t1.ts, sum(v) OVER w2 AS v2, count(v) OVER w1d AS n1d, max(d) OVER w1d AS dmax, "
    "min(v) OVER w1d_x AS vmin, v * 2 + 1 AS expr, t2.score AS score FROM t1 LAST JOIN t2 ORDER BY t2.ts ON t1.k = t2.k "
    "WINDOW w2 AS (PARTITION BY t1.k ORDER BY t1.ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW), "
    "w1d AS (PARTITION BY t1.k ORDER BY t1.ts ROWS_RANGE BETWEEN 1d PRECEDING AND CURRENT ROW), "
    "w1d_x AS (PARTITION BY t1.k ORDER BY t1.ts ROWS_RANGE BETWEEN 1h PRECEDING AND CURRENT ROW EXCLUDE CURRENT_TIME)"
)


def post(client, path, body):
    response = client.post(path, json.dumps(body), content_type="application/json")
    assert response.status_code == 200
    return response.json()


def sql(client, text, mode="online"):
    return post(client, "/dbs/fs", {"mode": mode, "sql": text})


@pytest.fixture
def history(client, db, settings, tmp_path):
    settings.FEATURESTORE_FILE_ROOTS = [str(tmp_path)]
    settings.FEATURESTORE_OFFLINE_DIR = tmp_path / "offline"
    assert sql(client, "CREATE DATABASE fs")["code"] == 0
    assert sql(client, "CREATE TABLE t1 (k string, v int, ts timestamp, d double, INDEX(KEY=k, TS=ts))")["code"] == 0
    assert sql(client, "CREATE TABLE t2 (k string, score double, ts timestamp, INDEX(KEY=k, TS=ts))")["code"] == 0
    assert post(client, "/dbs/fs/tables/t2", {}) is not None
    for row in (["a", 0.5, 10], ["b", 1.5, 20], ["a", 2.5, 5]):
        assert (
            client.put("/dbs/fs/tables/t2", json.dumps({"value": [row]}), content_type="application/json").json()[
                "code"
            ]
            == 0
        )
    assert sql(client, DEPLOY)["code"] == 0
    rng = random.Random(7)
    rows = sorted(
        ([rng.choice("abc"), rng.randint(-5, 5), rng.randrange(0, 3 * 86_400_000, 600_000), rng.randint(0, 8) / 4]
         for _ in range(120)),
        key=lambda row: row[2],
    )  # fmt: skip
    online = []
    for row in rows:  # in time order: the request is answered, then the row is stored
        answer = post(client, "/dbs/fs/deployments/feats", {"input": [row]})
        assert answer["code"] == 0, answer
        online.append(answer["data"]["data"][0])
        assert (
            client.put("/dbs/fs/tables/t1", json.dumps({"value": [row]}), content_type="application/json").json()[
                "code"
            ]
            == 0
        )
    return rows, online, tmp_path


def test_parse():
    assert parse_one("EXECUTE DEPLOYMENT db1.feats LIMIT 5 INTO OUTFILE 'o' OPTIONS(format='parquet')") == (
        sqlir.ExecuteDeployment("feats", "db1", 5, "o", {"format": "parquet"})
    )
    assert parse_one("EXECUTE DEPLOYMENT feats") == sqlir.ExecuteDeployment("feats")


def test_the_training_set_equals_what_the_deployment_answered_online(client, history):
    rows, online, files = history
    body = sql(client, "EXECUTE DEPLOYMENT feats", mode="offsync")
    assert body["code"] == 0, body
    assert body["data"]["data"] == online
    # the same history loaded as offline data gives the same training set
    (files / "t1.csv").write_text("k,v,ts,d\n" + "".join(f"{k},{v},{ts},{d}\n" for k, v, ts, d in rows))
    assert sql(client, "LOAD DATA INFILE 't1.csv' INTO TABLE t1", mode="offsync")["code"] == 0
    assert sql(client, "EXECUTE DEPLOYMENT feats LIMIT 50", mode="offsync")["data"]["data"] == online[:50]
    assert (
        sql(client, "EXECUTE DEPLOYMENT feats INTO OUTFILE 'train' OPTIONS(format='parquet')", mode="offsync")["code"]
        == 0
    )
    import duckdb

    written = duckdb.sql(f"SELECT * FROM read_parquet('{files}/train/*.parquet')").fetchall()
    assert [list(row) for row in written] == online


def test_it_is_an_offline_statement_and_names_a_deployment(client, history):
    body = sql(client, "EXECUTE DEPLOYMENT feats", mode="online")
    assert body["code"] != 0 and "run it in offsync or offasync mode" in body["msg"]
    body = sql(client, "EXECUTE DEPLOYMENT nope", mode="offsync")
    assert body["code"] != 0 and body["msg"] == "deployment nope does not exist in fs"
