"""The feature explorer survives any stored name: databases, tables and deployments created before OpenMLDB's
identifier rule was enforced (issue 13, item 10) may be named ``../../etc``, ``a'b`` or worse, and the pages
that list them must still answer, showing such names (escaped) instead of failing for every user."""

from __future__ import annotations

import html

import pytest

from featurestore import sql as sqlexec
from featurestore.models import Database, Deployment, FeatureTable

pytestmark = pytest.mark.django_db

HOSTILE = [
    "a'b",
    '<script>alert("x")</script>',
    "../../etc",
    "a/b",
    "",
]


@pytest.fixture
def console(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def fs(db):
    sqlexec.execute(db="fs", sql="CREATE DATABASE fs")
    sqlexec.execute(db="fs", sql="CREATE TABLE t1 (k string, v int, ts timestamp, INDEX(KEY=k, TS=ts))")
    sqlexec.execute(db="fs", sql="DEPLOY d SELECT k, v FROM t1")
    return Database.objects.get(name="fs")


def legacy(database: Database, name: str) -> None:
    """A table and a deployment named ``name``, written as legacy rows: straight into the catalog, no checks."""
    FeatureTable.objects.create(
        database=database, name=name, columns=[{"name": name, "type": "int32"}], storage_table=f"fs_legacy_{name!r}"
    )
    Deployment.objects.create(
        database=database, name=name, sql="SELECT k, v FROM t1", input_schema=[{"name": "k", "type": "string"}],
        output_schema=[{"name": "k", "type": "string"}], tables=["fs.t1", f"fs.{name}"],
    )  # fmt: skip


@pytest.mark.parametrize("name", HOSTILE)
def test_the_database_list_answers_whatever_a_database_is_called(console, fs, name):
    Database.objects.create(name=name)
    response = console.get("/console/features/")
    assert response.status_code == 200
    page = response.content.decode()
    assert html.escape(name) in page and 'href="/console/features/fs/"' in page
    assert "<script>alert" not in page


@pytest.mark.parametrize("name", HOSTILE)
def test_database_table_and_deployment_pages_answer_whatever_their_neighbours_are_called(console, fs, name):
    legacy(fs, name)
    pages = ["/console/features/", "/console/features/fs/", "/console/features/fs/tables/t1/",
             "/console/features/fs/deployments/d/"]  # fmt: skip
    if name and "/" not in name:  # the legacy deployment's own page, which lists the tables it reads
        pages.append(f"/console/features/fs/deployments/{name}/")
    for url in pages:
        response = console.get(url)
        assert response.status_code == 200, url
        assert "<script>alert" not in response.content.decode()
    page = console.get("/console/features/fs/").content.decode()
    assert html.escape(name) in page and 'href="/console/features/fs/tables/t1/"' in page
