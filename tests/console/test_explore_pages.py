"""The console's feature explorer and artifacts pages: login, what they list, the deployment form's example row
(which the real deployment route must accept) and HTML escaping."""

from __future__ import annotations

import html
import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from artifacts import services as artifact_services
from artifacts.models import Artifact, Namespace
from featurestore import sql as sqlexec
from jobs.models import Job, JobStatus
from tests.artifacts.factories import manifest, plugin, zip_bytes

pytestmark = pytest.mark.django_db

WINDOW = "WINDOW w AS (PARTITION BY k ORDER BY ts ROWS BETWEEN 5 PRECEDING AND CURRENT ROW)"


@pytest.fixture
def console(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def staff_console(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def deployed(db):
    sqlexec.execute(db="fs", sql="CREATE DATABASE fs")
    sqlexec.execute(db="fs", sql="CREATE TABLE t1 (k string, v int, ts timestamp, INDEX(KEY=k, TS=ts, TTL=1d))")
    sqlexec.execute(db="fs", sql="INSERT INTO t1 VALUES ('a', 1, 1000), ('a', 2, 2000), ('<b>', 3, 3000)")
    sqlexec.execute(db="fs", sql=f"DEPLOY d SELECT k, sum(v) OVER w AS s FROM t1 {WINDOW}")


def text(response) -> str:
    assert response.status_code == 200
    return response.content.decode()


def by_testid(page: str, name: str) -> str:
    """The element with that data-testid, from its opening tag to its first closing tag of the same name."""
    match = re.search(rf'<(\w+)[^>]*data-testid="{name}"[^>]*>(.*?)</\1>', page, re.S)
    assert match, f"no element with data-testid={name}"
    return match.group(0)


def example_row(page: str):
    match = re.search(r'<textarea[^>]*data-testid="deployment-input"[^>]*>(.*?)</textarea>', page, re.S)
    assert match, "no deployment-input textarea"
    return json.loads(html.unescape(match.group(1)))


def call(client, db: str, name: str, row) -> dict:
    """POST the row to the real deployment route with the session, as features.js does."""
    body = json.dumps({"input": [row], "need_schema": True})
    response = client.post(f"/dbs/{db}/deployments/{name}", body, content_type="application/json")
    assert response.status_code == 200
    return json.loads(response.content)


# --- login -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "/console/features/",
        "/console/features/fs/",
        "/console/features/fs/tables/t1/",
        "/console/features/fs/deployments/d/",
        "/console/artifacts/",
    ],
)
def test_pages_redirect_anonymous_users_to_the_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/console/login/?next=")


def test_route_names():
    assert reverse("console:features") == "/console/features/"
    assert reverse("console:feature_db", args=["fs"]) == "/console/features/fs/"
    assert reverse("console:feature_table", args=["fs", "t1"]) == "/console/features/fs/tables/t1/"
    assert reverse("console:feature_deployment", args=["fs", "d"]) == "/console/features/fs/deployments/d/"
    assert reverse("console:artifacts") == "/console/artifacts/"


# --- feature store ---------------------------------------------------------------------------------------------
def test_features_lists_databases_with_counts(console, deployed):
    page = text(console.get("/console/features/"))
    databases = by_testid(page, "feature-databases")
    assert 'href="/console/features/fs/"' in databases
    assert re.search(r">fs</a></th>\s*<td class=\"num\">1</td>\s*<td class=\"num\">1</td>", databases)
    assert 'aria-current="page"' in page and ">Feature store</a>" in page  # the nav marks the page


def test_features_without_databases_says_so(console):
    page = text(console.get("/console/features/"))
    assert 'data-testid="feature-databases-empty"' in page


def test_database_page_lists_tables_deployments_and_the_sql_box(console, deployed):
    page = text(console.get("/console/features/fs/"))
    assert 'href="/console/features/fs/tables/t1/"' in by_testid(page, "feature-tables")
    assert 'href="/console/features/fs/deployments/d/"' in by_testid(page, "feature-deployments")
    assert 'data-url="/dbs/fs"' in page
    assert 'data-testid="sql-input"' in page and 'data-testid="sql-submit"' in page
    assert 'data-testid="sql-output"' in page and 'aria-live="polite"' in page
    assert '<label for="sql-input">' in page
    assert "console/features.js" in page


def test_table_page_shows_offline_data_and_database_page_the_offline_jobs(console, deployed, user, settings, tmp_path):
    settings.FEATURESTORE_FILE_ROOTS = [str(tmp_path)]
    settings.FEATURESTORE_OFFLINE_DIR = tmp_path / "offline"
    page = text(console.get("/console/features/fs/tables/t1/"))
    assert "No offline data: offline queries read the online rows." in page
    (tmp_path / "h.csv").write_text("k,v,ts\n<x>,7,500\nz,8,600\n")
    sqlexec.execute(db="fs", sql="LOAD DATA INFILE 'h.csv' INTO TABLE t1", mode="offsync")
    page = text(console.get("/console/features/fs/tables/t1/"))
    assert by_testid(page, "table-offline-rows") == '<dd data-testid="table-offline-rows">2</dd>'
    sample = by_testid(page, "table-offline-rows-sample")
    assert "<td>&lt;x&gt;</td><td>7</td><td>500</td>" in sample and "<td>z</td>" in sample

    runtime = {"openmldb.db": "fs", "openmldb.job_type": "RunBatchAndShow"}
    job = Job.objects.create(
        owner=user, code="SELECT * FROM t1", engine_type="sql", run_type="sql", source_api="featurestore",
        status=JobStatus.SUCCEED, params={"configuration": {"runtime": runtime}},
    )  # fmt: skip
    page = text(console.get("/console/features/fs/"))
    jobs = by_testid(page, "feature-jobs")
    assert f'href="/console/jobs/{job.pk}/"' in jobs and "RunBatchAndShow" in jobs and "FINISHED" in jobs
    assert 'data-testid="sql-mode"' in page and '<option value="offsync">' in page


def test_the_sql_box_route_answers_the_session(console, deployed):
    body = json.dumps({"mode": "online", "sql": "SELECT k, v FROM t1"})
    answer = json.loads(console.post("/dbs/fs", body, content_type="application/json").content)
    assert answer["code"] == 0 and len(answer["data"]["data"]) == 3


def test_unknown_database_table_and_deployment_are_404(console, deployed):
    assert console.get("/console/features/nope/").status_code == 404
    assert console.get("/console/features/fs/tables/nope/").status_code == 404
    assert console.get("/console/features/fs/deployments/nope/").status_code == 404


def test_table_page_shows_schema_indexes_count_and_newest_rows(console, deployed):
    page = text(console.get("/console/features/fs/tables/t1/"))
    schema = by_testid(page, "table-schema")
    assert '<th scope="row">ts</th>' in schema and "<code>timestamp</code>" in schema
    indexes = by_testid(page, "table-indexes")
    assert "absandlat" in indexes and "1440 min" in indexes and "5 rows" in indexes  # 1d; ROWS 5 PRECEDING
    assert re.search(r'data-testid="table-row-count">3<', page)
    rows = re.findall(r"<tr>(.*?)</tr>", by_testid(page, "table-sample-rows"), re.S)
    assert "<td>&lt;b&gt;</td><td>3</td><td>3000</td>" in rows[1]  # newest first, escaped
    assert "<td>a</td><td>1</td><td>1000</td>" in rows[-1]
    assert 'href="/console/features/fs/deployments/d/"' in page  # read by the deployment


def test_table_page_escapes_values_and_shows_nulls(console, deployed):
    sqlexec.execute(db="fs", sql="INSERT INTO t1 VALUES ('<script>alert(1)</script>', NULL, 4000)")
    page = text(console.get("/console/features/fs/tables/t1/"))
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert '<td><span class="muted">NULL</span></td>' in page


def test_deployment_page_has_the_form_schemas_and_sql(console, deployed):
    page = text(console.get("/console/features/fs/deployments/d/"))
    for name in ("deployment-input", "deployment-submit", "deployment-output"):
        assert f'data-testid="{name}"' in page
    assert '<label for="deployment-input">' in page and 'id="deployment-input"' in page
    assert 'data-url="/dbs/fs/deployments/d"' in page
    assert "PARTITION BY k" in by_testid(page, "deployment-sql")
    assert '<th scope="row">ts</th>' in by_testid(page, "deployment-input-schema")
    assert '<th scope="row">s</th>' in by_testid(page, "deployment-output-schema")
    assert 'aria-live="polite"' in page and 'role="alert"' in page
    assert "console/features.js" in page


def test_example_row_is_the_newest_row_escaped_and_the_route_accepts_it(console, deployed):
    page = text(console.get("/console/features/fs/deployments/d/"))
    assert "[&quot;&lt;b&gt;&quot;,3,3000]" in page  # escaped inside the textarea
    row = example_row(page)
    assert row == ["<b>", 3, 3000]
    answer = call(console, "fs", "d", row)
    assert answer["code"] == 0
    assert answer["data"]["schema"] == [{"name": "k", "type": "string"}, {"name": "s", "type": "int32"}]
    assert answer["data"]["data"] == [["<b>", 6]]  # the stored '<b>' row and the request row


def test_the_page_leaves_the_csrf_cookie_that_features_js_sends(deployed, user):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    text(browser.get("/console/features/fs/deployments/d/"))
    token = browser.cookies["csrftoken"].value
    body = json.dumps({"input": [["a", 1, 5000]], "need_schema": True})
    refused = browser.post("/dbs/fs/deployments/d", body, content_type="application/json")
    assert json.loads(refused.content)["code"] != 0  # a session without the header is refused (CSRF)
    answer = browser.post("/dbs/fs/deployments/d", body, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert json.loads(answer.content)["code"] == 0, answer.content


def test_example_row_of_an_empty_table_has_a_value_per_type_that_the_route_accepts(console, db):
    sqlexec.execute(db="all", sql="CREATE DATABASE all_types")
    sqlexec.execute(
        db="all_types",
        sql="CREATE TABLE t (b bool, i16 smallint, i32 int, i64 bigint, f float, d double, k string, day date, "
        "ts timestamp, INDEX(KEY=k, TS=ts))",
    )
    sqlexec.execute(db="all_types", sql=f"DEPLOY every SELECT k, count(i32) OVER w AS n, d FROM t {WINDOW}")
    page = text(console.get("/console/features/all_types/deployments/every/"))
    row = example_row(page)
    assert len(row) == 9 and isinstance(row[7], str) and isinstance(row[8], int)
    answer = call(console, "all_types", "every", row)
    assert answer["code"] == 0, answer
    assert answer["data"]["data"] == [["", 1, 0.0]]


# --- artifacts -------------------------------------------------------------------------------------------------
def add_version(name: str, version: str, *, plugins=None):
    doc = manifest(name, version)
    if plugins:
        doc["plugins"] = plugins
    upload = artifact_services.ArtifactUpload(chunks=[zip_bytes(doc)], filename=f"{name}-{version}.zip")
    namespace = Namespace.objects.get(name="default")
    return artifact_services.artifact_add(namespace=namespace, name=name, upload=upload, actor="root").version


def deploy(name: str, *, artifact: str = "myapp", version: str = "1.1.0", config=None):
    app, _ = artifact_services.app_deploy(
        namespace=Namespace.objects.get(name="default"),
        name=name,
        ref=artifact_services.ArtifactRef(artifact, version, "USER"),
        config=config if config is not None else {"table": "t1"},
        actor="root",
    )
    return app


def start_running(app, program: str = "Writer") -> None:
    """A program run whose job is Running, created directly in the database (as tests/artifacts do)."""
    from artifacts.models import ProgramRun

    job = Job.objects.create(
        submit_user="root", execute_user="root", source_api=Job.SourceApi.CDAP, creator="CDAP",
        engine_type="python-python3", run_type="python", engine="python", instance="localhost:1", code="pass",
        status=JobStatus.RUNNING,
    )  # fmt: skip
    ProgramRun.objects.create(
        application=app, program_type="workers", program_name=program, run_id=f"run-{job.pk}", job=job,
        artifact_version=app.artifact_version, started_by="root",
    )  # fmt: skip


@pytest.fixture
def catalog(db):
    old = add_version("myapp", "1.0.0")
    new = add_version("myapp", "1.1.0", plugins=[plugin()])
    app = deploy("app1", config={"table": "<i>t1</i>", "batchSize": 5})
    start_running(app)
    return {"old": old, "new": new, "app": app}


def test_artifacts_page_lists_namespaces_artifacts_versions_and_apps(console, catalog):
    page = text(console.get("/console/artifacts/"))
    namespaces = by_testid(page, "namespaces")
    assert '<th scope="row">default</th>' in namespaces and '<th scope="row">system</th>' in namespaces
    assert re.search(r'default</th>\s*<td>[^<]*</td>\s*<td class="num">1</td>\s*<td class="num">1</td>', namespaces)
    versions = by_testid(page, "artifact-versions")
    assert versions.index("1.1.0") < versions.index("1.0.0")  # newest first
    new = catalog["new"]
    assert f'<code title="{new.sha256}">{new.sha256[:12]}…</code>' in versions
    assert "<code>myapp.app:MyApp</code>" in versions and "<td>USER</td>" in versions and "<td>zip</td>" in versions
    assert re.search(r'1\.1\.0</td>.*?<td class="num">1</td>', versions, re.S)  # one plugin
    assert re.search(r'1\.0\.0</td>.*?<td class="num">0</td>', versions, re.S)
    apps = by_testid(page, "applications")
    assert "app1" in apps and "myapp 1.1.0" in apps
    assert "table=&lt;i&gt;t1&lt;/i&gt;, batchSize=5" in apps and "<i>t1</i>" not in page  # escaped
    assert '<span class="status status-RUNNING">Writer</span>' in apps
    assert 'data-testid="artifacts-note"' in page and "CDAP API" in page
    assert "/admin/artifacts/" not in page  # admin links are for staff


def test_artifacts_page_links_staff_into_the_admin(staff_console, catalog):
    page = text(staff_console.get("/console/artifacts/"))
    artifact = Artifact.objects.get(name="myapp")
    assert reverse("admin:artifacts_artifact_change", args=[artifact.pk]) in page
    assert reverse("admin:artifacts_artifactversion_change", args=[catalog["new"].pk]) in page
    assert reverse("admin:artifacts_application_change", args=[catalog["app"].pk]) in page
    assert staff_console.get(reverse("admin:artifacts_application_change", args=[catalog["app"].pk])).status_code == 200


def test_artifacts_page_without_artifacts_says_so(console):
    page = text(console.get("/console/artifacts/"))
    assert "No artifacts yet." in page and "No applications yet." in page


def test_artifacts_page_queries_do_not_grow_with_the_catalog(console, catalog):
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            text(console.get("/console/artifacts/"))
        return len(queries)

    before = count()
    add_version("other", "2.0.0", plugins=[plugin("batchsink", "db")])
    for name in ("app2", "app3"):
        start_running(deploy(name))
    assert count() == before
