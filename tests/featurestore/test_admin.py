"""The feature store in the admin: tables with schema, indexes, counts and rows; calling a deployment."""

import pytest

from featurestore import sql as sqlexec
from featurestore.selectors import deployment_get, table_get
from tests.accounts.factories import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, admin_user):
    assert client.post("/admin/login/", {"username": "root", "password": PASSWORD}).status_code == 302
    return client


@pytest.fixture
def deployed(db):
    sqlexec.execute(db="fs", sql="CREATE DATABASE fs")
    sqlexec.execute(db="fs", sql="CREATE TABLE t1 (k string, v int, ts timestamp, INDEX(KEY=k, TS=ts, TTL=1d))")
    sqlexec.execute(db="fs", sql="INSERT INTO t1 VALUES ('a', 1, 1000), ('a', 2, 2000), ('<b>', 3, 3000)")
    sqlexec.execute(db="fs", sql="DEPLOY d SELECT k, sum(v) OVER w AS s FROM t1 WINDOW w AS "
                                 "(PARTITION BY k ORDER BY ts ROWS BETWEEN 5 PRECEDING AND CURRENT ROW)")  # fmt: skip
    return deployment_get(db="fs", name="d")


def test_table_page_shows_schema_indexes_count_and_rows(admin_client, deployed):
    table = table_get(db="fs", name="t1")
    assert b"t1" in admin_client.get("/admin/featurestore/featuretable/").content
    page = admin_client.get(f"/admin/featurestore/featuretable/{table.pk}/change/").content.decode()
    assert "timestamp" in page and "absandlat" in page and "<td>1440</td>" in page  # 1d, widened by the deploy
    assert "<td>&lt;b&gt;</td>" in page  # sample rows are escaped
    assert '<div class="readonly">3</div>' in page  # the row count
    assert "deletelink" not in page  # tables are dropped with SQL, which also drops the physical table


def test_call_form_computes_features(admin_client, deployed):
    url = f"/admin/featurestore/deployment/{deployed.pk}/call/"
    page = admin_client.get(url)
    assert page.status_code == 200 and b"Compute features" in page.content
    response = admin_client.post(url, {"row": '["a", 10, 5000]'})
    text = response.content.decode()
    assert 'id="deployment-output"' in text and "<td>13</td>" in text
    response = admin_client.post(url, {"row": '{"k": "a", "v": 1, "ts": 500}'})
    assert "<td>s</td><td>int32</td><td>1</td>" in response.content.decode()  # no stored row is that old
    response = admin_client.post(url, {"row": '["a", "x", 5000]'})
    assert 'class="errornote"' in response.content.decode()


def test_deployment_list_links_to_the_call_form(admin_client, deployed):
    page = admin_client.get("/admin/featurestore/deployment/").content.decode()
    assert f"/admin/featurestore/deployment/{deployed.pk}/call/" in page


def test_a_database_is_added_in_the_admin_and_then_only_read(admin_client):
    from featurestore.models import Database

    form = admin_client.get("/admin/featurestore/database/add/")
    assert form.status_code == 200 and b'name="name"' in form.content  # the add form names the database
    empty = admin_client.post("/admin/featurestore/database/add/", {"name": ""})
    assert empty.status_code == 200 and b"This field is required." in empty.content
    assert not Database.objects.exists()
    assert admin_client.post("/admin/featurestore/database/add/", {"name": "fresh"}).status_code == 302
    database = Database.objects.get(name="fresh")
    refused = admin_client.post("/admin/featurestore/database/add/", {"name": "../etc"})
    assert refused.status_code == 200 and b"Not an OpenMLDB name" in refused.content
    change = f"/admin/featurestore/database/{database.pk}/change/"
    assert admin_client.get(change).status_code == 200  # shown read-only
    assert admin_client.post(change, {"name": "renamed"}).status_code == 403
    assert admin_client.post(f"/admin/featurestore/database/{database.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Database.objects.filter(name="fresh").exists()


def test_tables_and_deployments_change_only_through_sql(admin_client, deployed):
    table = table_get(db="fs", name="t1")
    for model, pk in (("featuretable", table.pk), ("deployment", deployed.pk)):
        assert admin_client.get(f"/admin/featurestore/{model}/add/").status_code == 403
        assert admin_client.get(f"/admin/featurestore/{model}/{pk}/change/").status_code == 200
        assert admin_client.post(f"/admin/featurestore/{model}/{pk}/change/", {}).status_code == 403
        assert admin_client.post(f"/admin/featurestore/{model}/{pk}/delete/", {"post": "yes"}).status_code == 403
    assert table_get(db="fs", name="t1") is not None and deployment_get(db="fs", name="d") is not None


def test_timestamps_show_as_dates_and_rows_are_browsed_by_key(admin_client, deployed):
    table = table_get(db="fs", name="t1")
    page = admin_client.get(f"/admin/featurestore/featuretable/{table.pk}/change/").content.decode()
    assert '<span title="3000">1970-01-01 08:00:03.000 +08:00</span>' in page  # UTC+8, the ms in the tooltip
    rows_url = f"/admin/featurestore/featuretable/{table.pk}/rows/"
    assert f'href="{rows_url}"' in page
    form = admin_client.get(rows_url).content.decode()
    assert 'data-testid="rows-by-key"' in form and "k (string)" in form
    shown = admin_client.get(rows_url, {"index": 0, "key": "a"}).content.decode()
    assert "2 newest rows" in shown and '<span title="2000">' in shown and "&lt;b&gt;" not in shown
    assert shown.index('title="2000"') < shown.index('title="1000"')  # newest first
    other = admin_client.get(rows_url, {"index": 0, "key": "<b>"}).content.decode()
    assert "1 newest row" in other and "<td>&lt;b&gt;</td>" in other
    assert "0 newest rows" in admin_client.get(rows_url, {"index": 0, "key": "zzz"}).content.decode()
    assert admin_client.get(rows_url, {"index": 9, "key": "a"}).status_code == 200  # a bad index: the first


def test_the_call_form_starts_from_the_newest_row(admin_client, deployed):
    page = admin_client.get(f"/admin/featurestore/deployment/{deployed.pk}/call/").content.decode()
    assert "[&quot;&lt;b&gt;&quot;, 3, 3000]</textarea>" in page
