"""CDAP application and program routes from outside (contracts/cdap.md B.1 and B.3, openpai_cdap_notes.md 2-4).

Applications are created from uploaded artifacts (``PUT /apps/{app}`` with an AppRequest, or ``POST /apps`` with the
archive), listed, updated, upgraded, rolled back and deleted, on both ``/v3/namespaces/...`` and the 3.1 seed's
``/namespaces/...``. Programs run as jobs on a real local runner: their status, runs, logs, runtime arguments and the
409s that protect running programs.
"""

from __future__ import annotations

import json

import pytest

from artifacts import services
from artifacts.models import (
    Application,
    ApplicationChange,
    Artifact,
    ArtifactVersion,
    Namespace,
    ProgramRun,
)
from jobs.models import NON_TERMINAL, TERMINAL, Job, JobStatus
from tests.artifacts.factories import manifest, zip_bytes
from tests.conftest import bearer, eventually
from tests.jobs.conftest import log_text, wait_for

pytestmark = pytest.mark.django_db


V3 = "/v3/namespaces/default"
SEED = "/namespaces/default"
BOTH = pytest.mark.parametrize("prefix", [V3, SEED], ids=["v3", "seed"])
TRANSACTIONAL = pytest.mark.django_db(transaction=True)

CONFIG = {"table": "events"}
PROGRAM_TYPES = {"Worker", "Workflow", "Service"}
WRITER = "program:default.app1.-SNAPSHOT.worker.Writer"


@pytest.fixture(autouse=True)
def _namespaces(db):
    """The built-in namespaces (a data migration makes them; transactional tests flush them away)."""
    Namespace.objects.get_or_create(name="default", defaults={"description": "Default Namespace"})
    Namespace.objects.get_or_create(name="system", defaults={"description": "System artifacts"})


class Cdap:
    """HTTP calls as one user, with CDAP's bodies: JSON requests, raw archives, plain-text answers."""

    def __init__(self, client, user):
        self.client = client
        self.user = user

    def _auth(self, headers: dict) -> dict:
        extra = {f"HTTP_{key.upper().replace('-', '_')}": value for key, value in headers.items()}
        return {**bearer(self.user), **extra}

    def get(self, path: str, **headers):
        return self.client.get(path, **self._auth(headers))

    def delete(self, path: str, **headers):
        return self.client.delete(path, **self._auth(headers))

    def send(self, method: str, path: str, body=None, content_type: str = "application/json", **headers):
        if body is None:
            data = b""
        elif isinstance(body, bytes | str):
            data = body
        else:
            data = json.dumps(body)
        return getattr(self.client, method)(path, data=data, content_type=content_type, **self._auth(headers))

    def put(self, path: str, body=None, **kwargs):
        return self.send("put", path, body, **kwargs)

    def post(self, path: str, body=None, **kwargs):
        return self.send("post", path, body, **kwargs)

    def raw(self, method: str, path: str, data: bytes, **headers):
        return self.send(method, path, data, content_type="application/octet-stream", **headers)


@pytest.fixture
def cdap(api_client, user) -> Cdap:
    return Cdap(api_client, user)


def text(response) -> str:
    return response.content.decode()


def archive(name: str = "myapp", version: str | None = "1.0.0", **kwargs) -> bytes:
    files = kwargs.pop("files", None)
    return zip_bytes(manifest(name, version, **kwargs), files)


def upload(cdap: Cdap, name: str = "myapp", version: str = "1.0.0", *, ns: str = "default", body: bytes | None = None):
    response = cdap.raw("post", f"/v3/namespaces/{ns}/artifacts/{name}", body or archive(name, version))
    assert (response.status_code, text(response)) == (200, "Artifact added successfully"), text(response)


def app_request(name: str = "myapp", version: str | None = "1.0.0", config=CONFIG, **artifact) -> dict:
    ref = {"name": name, **artifact}
    if version is not None:
        ref["version"] = version
    body: dict = {"artifact": ref}
    if config is not None:
        body["config"] = config
    return body


def deploy(cdap: Cdap, app: str = "app1", prefix: str = V3, **request):
    return cdap.put(f"{prefix}/apps/{app}", app_request(**request))


def deployed(cdap: Cdap, app: str = "app1", prefix: str = V3, **request) -> Application:
    response = deploy(cdap, app, prefix, **request)
    assert (response.status_code, text(response)) == (200, "Deploy Complete"), text(response)
    return Application.objects.select_related("artifact_version__artifact__namespace").get(name=app)


def system_artifact(name: str = "pipeline", version: str = "1.0.0") -> ArtifactVersion:
    upload_ = services.ArtifactUpload(chunks=[archive(name, version)])
    system = Namespace.objects.get(name="system")
    return services.artifact_add(namespace=system, name=name, upload=upload_, actor="system", allow_system=True).version


def detail(cdap: Cdap, app: str = "app1", prefix: str = V3) -> dict:
    response = cdap.get(f"{prefix}/apps/{app}")
    assert response.status_code == 200, text(response)
    return response.json()


def history(cdap: Cdap, app: str = "app1", prefix: str = V3) -> list[dict]:
    response = cdap.get(f"{prefix}/apps/{app}/history")
    assert response.status_code == 200, text(response)
    return response.json()


def state(app: str = "app1") -> tuple:
    """What an update must not touch when it is refused: the app's version, request, config and change count."""
    found = Application.objects.get(name=app)
    return found.artifact_version_id, found.artifact_request, found.config, ApplicationChange.objects.count()


# --- PUT /apps/{app}: create from an artifact -------------------------------------------------------------------
@BOTH
def test_put_app_deploys_from_an_artifact(cdap, user, prefix):
    upload(cdap)
    response = deploy(cdap, prefix=prefix)
    assert (response.status_code, text(response)) == (200, "Deploy Complete")
    assert response["Content-Type"].startswith("text/plain")
    app = Application.objects.get(name="app1")
    assert (app.namespace.name, app.artifact_version.version, app.config) == ("default", "1.0.0", CONFIG)
    assert app.owner == user and app.artifact_request == "1.0.0" and app.description == "myapp application"
    change = ApplicationChange.objects.get()
    assert (change.action, change.actor, change.application, change.to_artifact) == (
        "create", "alice", app, "user:myapp:1.0.0",
    )  # fmt: skip


def test_put_app_resolves_a_range_to_the_highest_match_and_records_it(cdap):
    for version in ("1.0.0", "1.5.0", "1.10.0-SNAPSHOT", "2.0.0"):
        upload(cdap, version=version)
    app = deployed(cdap, version="[1.0.0,2.0.0)")
    assert app.artifact_version.version == "1.10.0-SNAPSHOT" and app.artifact_request == "[1.0.0,2.0.0)"
    body = detail(cdap)
    assert body["artifact"] == {"name": "myapp", "version": "1.10.0-SNAPSHOT", "scope": "USER"}
    assert body["artifactRequest"] == "[1.0.0,2.0.0)"
    app = deployed(cdap, "app2", version="(1.0.0,1.5.0]")
    assert app.artifact_version.version == "1.5.0"


def test_put_app_without_a_version_takes_the_highest(cdap):
    for version in ("1.0.0", "2.0.0", "1.9.9"):
        upload(cdap, version=version)
    app = deployed(cdap, version=None)
    assert app.artifact_version.version == "2.0.0" and app.artifact_request == ""
    assert detail(cdap)["artifact"]["version"] == "2.0.0"


def test_put_app_range_without_a_match_is_404(cdap):
    upload(cdap)
    response = deploy(cdap, version="[2.0.0,3.0.0)")
    assert response.status_code == 404 and text(response).endswith("was not found.")
    assert not Application.objects.exists()


@pytest.mark.parametrize(
    "ref",
    [{"scope": "system"}, {"scope": "SYSTEM"}, {"isSystem": True}, {"namespace": "system"}],
    ids=["scope-lower", "scope-upper", "isSystem", "namespace"],
)
def test_put_app_from_a_system_artifact(cdap, ref):
    system_artifact("pipeline", "1.0.0")
    upload(cdap, "pipeline", "1.0.0")  # a user artifact of the same name and version must not be chosen
    app = deployed(cdap, name="pipeline", **ref)
    assert app.artifact_version.artifact.namespace.name == "system"
    assert detail(cdap)["artifact"] == {"name": "pipeline", "version": "1.0.0", "scope": "SYSTEM"}
    assert ApplicationChange.objects.get().to_artifact == "system:pipeline:1.0.0"


def test_put_app_user_scope_does_not_see_system_artifacts(cdap):
    system_artifact("pipeline", "1.0.0")
    response = deploy(cdap, name="pipeline", scope="user")
    assert (response.status_code, text(response)) == (404, "'artifact:default.pipeline.1.0.0' was not found.")
    response = deploy(cdap, name="pipeline", scope="bogus")
    assert (response.status_code, text(response)) == (400, "Invalid scope bogus")
    assert not Application.objects.exists()


def test_put_app_is_system_false_means_a_user_artifact(cdap):
    system_artifact("pipeline", "1.0.0")
    response = deploy(cdap, name="pipeline", isSystem=False)
    assert (response.status_code, text(response)) == (404, "'artifact:default.pipeline.1.0.0' was not found.")


@BOTH
def test_put_app_missing_artifact_is_404(cdap, prefix):
    upload(cdap)
    response = deploy(cdap, prefix=prefix, version="9.9.9")
    assert (response.status_code, text(response)) == (404, "'artifact:default.myapp.9.9.9' was not found.")
    response = deploy(cdap, prefix=prefix, name="nothing")
    assert response.status_code == 404
    assert not Application.objects.exists() and not ApplicationChange.objects.exists()


def test_put_app_from_an_artifact_without_an_app_class_is_400(cdap):
    upload(cdap, "lib", body=archive("lib", "1.0.0", app=False))
    response = deploy(cdap, name="lib")
    assert (response.status_code, text(response)) == (
        400,
        "No application classes found in artifact 'artifact:default.lib.1.0.0'.",
    )
    assert not Application.objects.exists()


@pytest.mark.parametrize(
    ("config", "fields"),
    [
        (None, ["config.table"]),
        ({}, ["config.table"]),
        ({"table": 5}, ["config.table"]),
        ({"table": "t", "batchSize": "ten"}, ["config.batchSize"]),
        ({"table": 1, "batchSize": 1.5, "extra": True}, ["config.table", "config.batchSize", "config.extra"]),
    ],
)
def test_put_app_config_is_validated_against_the_config_schema(cdap, config, fields):
    upload(cdap)
    response = deploy(cdap, config=config)
    assert response.status_code == 400
    for name in fields:
        assert f"{name}:" in text(response), text(response)
    assert not Application.objects.exists()


def test_put_app_config_must_be_an_object(cdap):
    upload(cdap)
    response = cdap.put(f"{V3}/apps/app1", {"artifact": {"name": "myapp", "version": "1.0.0"}, "config": [1]})
    assert response.status_code == 400 and not Application.objects.exists()


def test_put_app_accepts_optional_fields_and_nullable_values(cdap):
    upload(cdap)
    app = deployed(cdap, config={"table": "t", "stream": None, "batchSize": 10})
    assert app.config == {"table": "t", "stream": None, "batchSize": 10}
    # CDAP reads the config as a plain Object and writes it with Gson: null members dropped, numbers as doubles
    assert detail(cdap)["configuration"] == '{"table":"t","batchSize":10.0}'


@BOTH
@pytest.mark.parametrize("name", ["bad.name", "bad%20name", "b@d"])
def test_put_app_bad_app_name_is_400(cdap, prefix, name):
    upload(cdap)
    response = deploy(cdap, name, prefix)
    assert response.status_code == 400
    assert text(response).startswith("Invalid app name '"), text(response)
    assert not Application.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"config": CONFIG},
        {"artifact": None, "config": CONFIG},
        {"artifact": {"version": "1.0.0"}, "config": CONFIG},
        {"artifact": {"name": "", "version": "1.0.0"}},
        {"artifact": 5},
        {"artifact": {"name": "myapp", "version": 1}},
        {"artifact": "myapp"},
        [1, 2],
    ],
    ids=["no-key", "null", "no-name", "empty-name", "number", "numeric-version", "string-no-version", "array"],
)
def test_put_app_without_a_usable_artifact_is_400(cdap, body):
    upload(cdap)
    response = cdap.put(f"{V3}/apps/app1", body)
    assert response.status_code == 400 and text(response), text(response)
    assert not Application.objects.exists()


@pytest.mark.parametrize("body", ["{not json", '{"artifact": {"name": "myapp",', "", "\xff"])
def test_put_app_bad_json_is_400(cdap, body):
    upload(cdap)
    response = cdap.put(f"{V3}/apps/app1", body)
    assert response.status_code == 400 and text(response)
    assert not Application.objects.exists()


def test_put_app_bad_version_is_400(cdap):
    upload(cdap)
    for version in ("abc", "[1.0.0,", "latest"):
        response = deploy(cdap, version=version)
        assert response.status_code == 400, (version, text(response))
    assert not Application.objects.exists()


def test_put_app_again_is_an_upsert_that_records_each_change(cdap):
    upload(cdap)
    upload(cdap, version="1.1.0")
    first = deployed(cdap)
    again = deployed(cdap, config={"table": "other"})
    assert again.pk == first.pk and again.config == {"table": "other"}
    upgraded = deployed(cdap, version="1.1.0", config={"table": "other"})
    assert upgraded.pk == first.pk and upgraded.artifact_version.version == "1.1.0"
    redeployed = deployed(cdap, version="1.1.0", config={"table": "other"})
    assert redeployed.pk == first.pk
    actions = list(ApplicationChange.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["create", "config", "upgrade", "redeploy"]
    assert Application.objects.count() == 1


def test_put_app_may_switch_to_another_artifact_name(cdap):
    upload(cdap)
    upload(cdap, "other", body=archive("other", "3.0.0"))
    deployed(cdap)
    app = deployed(cdap, name="other", version="3.0.0")
    assert (app.artifact_version.artifact.name, app.artifact_version.version) == ("other", "3.0.0")


@BOTH
def test_put_app_accepts_the_seeds_string_form_of_artifact(cdap, prefix):
    upload(cdap)
    upload(cdap, "my-app", body=archive("my-app", "2.1.0"))
    response = cdap.put(f"{prefix}/apps/purchaseDump", {"artifact": "myapp-1.0.0", "config": CONFIG})
    assert (response.status_code, text(response)) == (200, "Deploy Complete")
    response = cdap.put(f"{prefix}/apps/app2", {"artifact": "my-app-2.1.0", "config": CONFIG})
    assert (response.status_code, text(response)) == (200, "Deploy Complete")
    versions = dict(Application.objects.values_list("name", "artifact_version__version"))
    assert versions == {"purchaseDump": "1.0.0", "app2": "2.1.0"}
    assert Application.objects.get(name="app2").artifact_version.artifact.name == "my-app"


def test_put_app_in_an_unknown_namespace_is_404(cdap):
    upload(cdap)
    response = cdap.put("/v3/namespaces/nowhere/apps/app1", app_request())
    assert (response.status_code, text(response)) == (404, "'namespace:nowhere' was not found.")


def test_put_app_only_sees_artifacts_of_its_namespace_and_system(cdap):
    assert cdap.put("/v3/namespaces/team").status_code == 200
    upload(cdap)
    response = cdap.put("/v3/namespaces/team/apps/app1", app_request())
    assert (response.status_code, text(response)) == (404, "'artifact:team.myapp.1.0.0' was not found.")
    system_artifact("pipeline", "1.0.0")
    response = cdap.put("/v3/namespaces/team/apps/app1", app_request(name="pipeline"))
    assert (response.status_code, text(response)) == (200, "Deploy Complete")
    assert Application.objects.get().namespace.name == "team"


def test_put_app_without_a_scope_prefers_the_namespaces_artifact(cdap):
    system_artifact("pipeline", "1.0.0")
    upload(cdap, "pipeline", "1.0.0")
    app = deployed(cdap, name="pipeline")
    assert app.artifact_version.artifact.namespace.name == "default"
    assert detail(cdap)["artifact"]["scope"] == "USER"


def test_put_app_accepts_json_with_a_charset(cdap):
    upload(cdap)
    body = json.dumps(app_request())
    response = cdap.send("put", f"{V3}/apps/app1", body, content_type="application/json; charset=UTF-8")
    assert (response.status_code, text(response)) == (200, "Deploy Complete")


def test_put_app_name_longer_than_the_column_is_400(cdap):
    upload(cdap)
    response = deploy(cdap, "a" * 256)
    assert response.status_code == 400 and text(response).startswith("Invalid app name '")
    assert not Application.objects.exists()


def test_app_routes_need_authentication(api_client):
    response = api_client.get(f"{V3}/apps")
    assert response.status_code == 401


# --- POST /apps: deploy an archive ------------------------------------------------------------------------------
@pytest.mark.parametrize("archive_name", ["myapp-1.0.0.zip", "myapp-1.0.0.jar"])
def test_post_apps_adds_the_artifact_and_creates_the_app(cdap, archive_name):
    response = cdap.raw(
        "post", f"{V3}/apps", archive(), **{"X-Archive-Name": archive_name, "X-App-Config": json.dumps(CONFIG)}
    )
    assert (response.status_code, text(response)) == (200, "Successfully deployed app myapp"), text(response)
    version = ArtifactVersion.objects.get(artifact__name="myapp")
    assert (version.version, version.filename) == ("1.0.0", archive_name)
    app = Application.objects.get()
    assert (app.name, app.artifact_version, app.config) == ("myapp", version, CONFIG)
    assert ApplicationChange.objects.get().action == "create"
    assert detail(cdap, "myapp")["artifact"] == {"name": "myapp", "version": "1.0.0", "scope": "USER"}


def test_post_apps_on_the_seed_prefix(cdap):
    response = cdap.raw(
        "post", f"{SEED}/apps", archive(), **{"X-Archive-Name": "myapp-1.0.0.zip", "X-App-Config": '{"table": "x"}'}
    )
    assert (response.status_code, text(response)) == (200, "Successfully deployed app myapp")
    assert Application.objects.get(name="myapp").config == {"table": "x"}


def test_post_apps_without_x_archive_name_is_400(cdap):
    response = cdap.raw("post", f"{V3}/apps", archive())
    assert (response.status_code, text(response)) == (
        400,
        "X-Archive-Name header not present. Please include the header and set its value to the jar name.",
    )
    assert not Artifact.objects.exists() and not Application.objects.exists()


@pytest.mark.parametrize("archive_name", ["myapp.zip", "myapp-1.0.0.tar", "myapp-1.0.0", "-1.0.0.zip", "myapp-v1.zip"])
def test_post_apps_with_a_bad_archive_name_is_400(cdap, archive_name):
    response = cdap.raw("post", f"{V3}/apps", archive(), **{"X-Archive-Name": archive_name, "X-App-Config": "{}"})
    assert response.status_code == 400 and text(response), text(response)
    assert not Artifact.objects.exists() and not Application.objects.exists()


def test_post_apps_bad_x_app_config_is_400(cdap):
    response = cdap.raw("post", f"{V3}/apps", archive(), **{"X-Archive-Name": "myapp-1.0.0.zip", "X-App-Config": "{"})
    assert response.status_code == 400
    assert not Artifact.objects.exists()


def test_post_apps_when_the_release_exists_is_409(cdap):
    upload(cdap)
    response = cdap.raw(
        "post", f"{V3}/apps", archive(), **{"X-Archive-Name": "myapp-1.0.0.zip", "X-App-Config": json.dumps(CONFIG)}
    )
    assert (response.status_code, text(response)) == (
        409,
        "Artifact 'artifact:default.myapp.1.0.0' already exists. Please use the API that creates an application "
        "from an existing artifact. If you are trying to replace the artifact, please delete it and then try again.",
    )
    assert not Application.objects.exists() and ArtifactVersion.objects.count() == 1


def test_post_apps_failed_app_creation_removes_the_new_artifact(cdap):
    upload(cdap, version="0.9.0")
    for config in (None, '{"table": 5}'):
        headers = {"X-Archive-Name": "myapp-1.0.0.zip"}
        if config:
            headers["X-App-Config"] = config
        response = cdap.raw("post", f"{V3}/apps", archive(), **headers)
        assert response.status_code == 400 and "config.table" in text(response), text(response)
    assert list(ArtifactVersion.objects.values_list("version", flat=True)) == ["0.9.0"]
    assert not Application.objects.exists()
    response = cdap.raw("post", f"{V3}/apps", archive("lib", app=False), **{"X-Archive-Name": "lib-1.0.0.zip"})
    assert response.status_code == 400 and "No application classes" in text(response)
    assert not Artifact.objects.filter(name="lib").exists()


def test_post_apps_with_a_bad_archive_is_400(cdap):
    response = cdap.raw("post", f"{V3}/apps", b"not a zip", **{"X-Archive-Name": "myapp-1.0.0.zip"})
    assert response.status_code == 400
    assert not Artifact.objects.exists()


def test_post_apps_with_an_archive_of_another_name_is_400(cdap):
    headers = {"X-Archive-Name": "myapp-1.0.0.zip", "X-App-Config": '{"table": "t"}'}
    response = cdap.raw("post", f"{V3}/apps", archive("other"), **headers)
    assert response.status_code == 400 and "'other'" in text(response) and "'myapp'" in text(response)
    assert not Artifact.objects.exists() and not Application.objects.exists()


def test_post_apps_takes_the_version_from_the_archive_name(cdap):
    response = cdap.raw(
        "post", f"{V3}/apps", archive(version="1.0.0"),
        **{"X-Archive-Name": "myapp-2.0.0-SNAPSHOT.jar", "X-App-Config": '{"table": "t"}'},
    )  # fmt: skip
    assert response.status_code == 200, text(response)
    assert Application.objects.get(name="myapp").artifact_version.version == "2.0.0-SNAPSHOT"
    # a snapshot may be deployed again: the artifact is replaced and the app redeployed
    response = cdap.raw(
        "post", f"{V3}/apps", archive(version="1.0.0"),
        **{"X-Archive-Name": "myapp-2.0.0-SNAPSHOT.jar", "X-App-Config": '{"table": "t2"}'},
    )  # fmt: skip
    assert response.status_code == 200, text(response)
    assert Application.objects.get(name="myapp").config == {"table": "t2"}
    assert ArtifactVersion.objects.count() == 1


@BOTH
def test_put_app_with_an_archive_deploys_it_under_that_name(cdap, prefix):
    response = cdap.raw(
        "put",
        f"{prefix}/apps/purchaseDump",
        archive(),
        **{"X-Archive-Name": "myapp-1.0.0.jar", "X-App-Config": json.dumps(CONFIG)},
    )
    assert (response.status_code, text(response)) == (200, "Deploy Complete"), text(response)
    app = Application.objects.get()
    assert (app.name, app.artifact_version.version, app.config) == ("purchaseDump", "1.0.0", CONFIG)
    response = cdap.raw("put", f"{prefix}/apps/other", archive(version="2.0.0"))
    assert response.status_code == 400 and text(response).startswith("X-Archive-Name header not present.")
    assert Application.objects.count() == 1


def test_history_names_the_put_archive_route(cdap):
    response = cdap.raw(
        "put", f"{V3}/apps/app1", archive(), **{"X-Archive-Name": "myapp-1.0.0.jar", "X-App-Config": '{"table": "t"}'}
    )
    assert response.status_code == 200
    assert history(cdap)[0]["via"] == "PUT /apps/{app}"


# --- GET /apps and /apps/{app} ----------------------------------------------------------------------------------
@BOTH
def test_list_apps_and_filter_by_artifact(cdap, prefix):
    upload(cdap)
    upload(cdap, version="1.1.0")
    upload(cdap, "other", body=archive("other", "1.0.0"))
    deployed(cdap, "app1")
    deployed(cdap, "app2", version="1.1.0")
    deployed(cdap, "app3", name="other")

    def names(query: str = "") -> list[str]:
        response = cdap.get(f"{prefix}/apps{query}")
        assert response.status_code == 200, text(response)
        return [row["name"] for row in response.json()]

    rows = cdap.get(f"{prefix}/apps").json()
    assert rows[0] == {
        "type": "App",
        "id": "app1",
        "name": "app1",
        "version": "1.0.0",
        "appVersion": "-SNAPSHOT",
        "description": "myapp application",
        "artifact": {"name": "myapp", "version": "1.0.0", "scope": "USER"},
    }
    assert names() == ["app1", "app2", "app3"]
    assert names("?artifactName=myapp") == ["app1", "app2"]
    assert names("?artifactName=other,myapp") == ["app1", "app2", "app3"]
    assert names("?artifactName=myapp&artifactVersion=1.0.0") == ["app1"]
    assert names("?artifactVersion=1.0.0") == ["app1", "app3"]
    assert names("?artifactName=nothing") == []


def test_list_apps_queries_do_not_grow_with_the_apps(cdap, django_assert_max_num_queries):
    upload(cdap)
    upload(cdap, version="1.1.0")
    upload(cdap, "other", body=archive("other", "1.0.0"))
    added = [0]

    def add_apps(count: int) -> None:
        for _ in range(count):
            index = added[0] = added[0] + 1
            artifact = [{}, {"version": "1.1.0"}, {"name": "other"}][index % 3]
            app = deployed(cdap, f"app{index}", **artifact)
            if index % 2:  # a changed config: the app has a history
                assert cdap.post(f"{V3}/apps/{app.name}/update", {"config": {"table": "x"}}).status_code == 200

    path = f"{V3}/apps"
    add_apps(3)
    cdap.get(path)  # first-request caches do not count
    with django_assert_max_num_queries(3) as few:
        assert len(cdap.get(path).json()) == 3
    few = len(few)  # counted now: a later request starts the connection's query log afresh
    add_apps(20)
    with django_assert_max_num_queries(few):
        assert len(cdap.get(path).json()) == 23


def test_list_apps_is_empty_and_404_for_an_unknown_namespace(cdap):
    assert cdap.get(f"{V3}/apps").json() == []
    response = cdap.get("/v3/namespaces/nowhere/apps")
    assert (response.status_code, text(response)) == (404, "'namespace:nowhere' was not found.")


@BOTH
def test_app_detail_shape(cdap, prefix):
    upload(cdap)
    deployed(cdap, config={"table": "events", "batchSize": 5})
    body = detail(cdap, prefix=prefix)
    assert (body["name"], body["appVersion"], body["description"]) == ("app1", "-SNAPSHOT", "myapp application")
    assert isinstance(body["configuration"], str)
    assert json.loads(body["configuration"]) == {"table": "events", "batchSize": 5}
    assert body["artifact"] == {"name": "myapp", "version": "1.0.0", "scope": "USER"}
    assert body["datasets"] == [] and body["plugins"] == []
    programs = {(p["type"], p["name"]) for p in body["programs"]}
    assert programs == {("Worker", "Writer"), ("Workflow", "Report"), ("Service", "Echo")}
    assert {p["type"] for p in body["programs"]} == PROGRAM_TYPES
    assert all(p["app"] == "app1" for p in body["programs"])


@BOTH
def test_unknown_app_is_404(cdap, prefix):
    for path in ("", "/history", "/workers/Writer/status", "/workers/Writer/runs"):
        response = cdap.get(f"{prefix}/apps/x{path}")
        assert (response.status_code, text(response)) == (404, "'application:default.x.-SNAPSHOT' was not found.")
    for method, path in (("delete", ""), ("post", "/update"), ("post", "/rollback"), ("put", "/properties")):
        response = getattr(cdap, method)(f"{prefix}/apps/x{path}", **({} if method == "delete" else {"body": {}}))
        assert (response.status_code, text(response)) == (404, "'application:default.x.-SNAPSHOT' was not found.")
    response = cdap.post(f"{prefix}/apps/x/workers/Writer/start")
    assert (response.status_code, text(response)) == (404, "'application:default.x.-SNAPSHOT' was not found.")


# --- updates: PUT /apps/{app}/properties (seed) and POST /apps/{app}/update (GA) ---------------------------------
@BOTH
def test_properties_upgrade_and_rollback_by_explicit_version(cdap, prefix):
    upload(cdap)
    upload(cdap, version="1.0.1")
    deployed(cdap, prefix=prefix)
    seed_config = {"table": "purchases", "stream": "events"}
    response = cdap.put(f"{prefix}/apps/app1/properties", app_request(version="1.0.1", config=seed_config))
    assert (response.status_code, text(response)) == (200, "Update complete.")
    app = Application.objects.get()
    assert (app.artifact_version.version, app.config, app.artifact_request) == ("1.0.1", seed_config, "1.0.1")
    assert detail(cdap, prefix=prefix)["artifact"]["version"] == "1.0.1"
    assert [row["name"] for row in cdap.get(f"{prefix}/apps?artifactName=myapp&artifactVersion=1.0.1").json()] == [
        "app1"
    ]

    response = cdap.put(f"{prefix}/apps/app1/properties", app_request(version="1.0.0", config=seed_config))
    assert (response.status_code, text(response)) == (200, "Update complete.")
    app.refresh_from_db()
    assert (app.artifact_version.version, app.config) == ("1.0.0", seed_config)
    actions = [change["action"] for change in history(cdap, prefix=prefix)]
    assert actions == ["downgrade", "upgrade", "create"]


def test_properties_accepts_the_seeds_string_artifact_and_keeps_absent_parts(cdap):
    upload(cdap)
    upload(cdap, version="1.0.1")
    deployed(cdap)
    response = cdap.put(f"{SEED}/apps/app1/properties", {"artifact": "myapp-1.0.1"})
    assert (response.status_code, text(response)) == (200, "Update complete.")
    app = Application.objects.get()
    assert (app.artifact_version.version, app.config) == ("1.0.1", CONFIG)
    response = cdap.put(f"{SEED}/apps/app1/properties", {"config": {"table": "t2"}})
    assert response.status_code == 200
    app.refresh_from_db()
    assert (app.artifact_version.version, app.config) == ("1.0.1", {"table": "t2"})


def test_properties_refuses_bad_requests_without_changing_anything(cdap):
    upload(cdap)
    deployed(cdap)
    before = state()
    cases = [
        (app_request(version="9.9.9"), 404, "'artifact:default.myapp.9.9.9' was not found."),
        (app_request(config={"table": 1}), 400, None),
        ("{nope", 400, None),
    ]
    for body, status, message in cases:
        response = cdap.put(f"{SEED}/apps/app1/properties", body)
        assert response.status_code == status, text(response)
        if message:
            assert text(response) == message
    assert state() == before


def test_update_changes_version_and_config(cdap):
    upload(cdap)
    upload(cdap, version="1.1.0")
    deployed(cdap)
    response = cdap.post(f"{V3}/apps/app1/update", {"artifact": {"name": "myapp", "version": "1.1.0"}})
    assert (response.status_code, text(response)) == (200, "Update complete.")
    app = Application.objects.get()
    assert (app.artifact_version.version, app.config) == ("1.1.0", CONFIG)  # absent config: kept

    response = cdap.post(f"{V3}/apps/app1/update", {"config": {"table": "new"}})
    assert (response.status_code, text(response)) == (200, "Update complete.")
    app.refresh_from_db()
    assert (app.artifact_version.version, app.config) == ("1.1.0", {"table": "new"})  # absent artifact: kept

    response = cdap.post(f"{V3}/apps/app1/update", {"artifact": {"name": "myapp", "version": "[1.0.0,1.1.0)"}})
    assert response.status_code == 200
    app.refresh_from_db()
    assert app.artifact_version.version == "1.0.0"
    assert [c["action"] for c in history(cdap)] == ["downgrade", "config", "upgrade", "create"]


def test_update_refuses_a_name_change(cdap):
    upload(cdap)
    upload(cdap, "other", body=archive("other", "1.0.0"))
    deployed(cdap)
    before = state()
    response = cdap.post(f"{V3}/apps/app1/update", {"artifact": {"name": "other", "version": "1.0.0"}})
    assert response.status_code == 400
    assert text(response).strip() == (
        "Only artifact version updates are allowed. Cannot change from artifact 'myapp' to 'other'."
    )
    assert state() == before


def test_update_refuses_a_scope_change(cdap):
    upload(cdap)
    system_artifact("myapp", "1.0.0")
    deployed(cdap, scope="user")
    before = state()
    for ref in ({"scope": "system"}, {"isSystem": True}):
        response = cdap.post(f"{V3}/apps/app1/update", {"artifact": {"name": "myapp", "version": "1.0.0", **ref}})
        assert (response.status_code, text(response)) == (
            400,
            "Only artifact version updates are allowed. Cannot change from a non-system artifact to a system "
            "artifact or vice versa.",
        )
    assert state() == before


def test_update_errors(cdap):
    upload(cdap)
    deployed(cdap)
    before = state()
    response = cdap.post(f"{V3}/apps/app1/update", {"artifact": {"name": "myapp", "version": "2.0.0"}})
    assert (response.status_code, text(response)) == (404, "'artifact:default.myapp.2.0.0' was not found.")
    response = cdap.post(f"{V3}/apps/app1/update", {"artifact": {"name": "myapp", "version": "abc"}})
    assert (response.status_code, text(response)) == (400, "Requested artifact version 'abc' is invalid")
    response = cdap.post(f"{V3}/apps/app1/update", "{bad")
    assert response.status_code == 400 and text(response).startswith("Request body is invalid json")
    response = cdap.post(f"{V3}/apps/app1/update", {"config": {"batchSize": "x"}})
    assert response.status_code == 400 and "config.table" in text(response) and "config.batchSize" in text(response)
    assert state() == before


# --- rollback and history ---------------------------------------------------------------------------------------
def test_rollback_walks_back_one_change_at_a_time(cdap):
    upload(cdap)
    upload(cdap, version="1.0.1")
    deployed(cdap)
    assert cdap.post(f"{V3}/apps/app1/update", {"artifact": {"name": "myapp", "version": "1.0.1"}}).status_code == 200
    assert cdap.post(f"{V3}/apps/app1/update", {"config": {"table": "t2"}}).status_code == 200

    response = cdap.post(f"{V3}/apps/app1/rollback")
    assert (response.status_code, text(response)) == (200, "Rollback complete. Application 'app1' uses myapp 1.0.1.")
    app = Application.objects.get()
    assert (app.artifact_version.version, app.config) == ("1.0.1", CONFIG)

    response = cdap.post(f"{SEED}/apps/app1/rollback")
    assert (response.status_code, text(response)) == (200, "Rollback complete. Application 'app1' uses myapp 1.0.0.")
    app.refresh_from_db()
    assert (app.artifact_version.version, app.config) == ("1.0.0", CONFIG)

    before = state()
    response = cdap.post(f"{V3}/apps/app1/rollback")
    assert (response.status_code, text(response)) == (
        409,
        "Application 'app1' has no earlier version or config to roll back to.",
    )
    assert state() == before
    changes = history(cdap)
    assert [(c["action"], c["undone"]) for c in changes] == [
        ("rollback", False),
        ("rollback", False),
        ("config", True),
        ("upgrade", True),
        ("create", False),
    ]


def test_rollback_of_a_new_app_is_409(cdap):
    upload(cdap)
    deployed(cdap)
    response = cdap.post(f"{V3}/apps/app1/rollback")
    assert response.status_code == 409
    assert ApplicationChange.objects.count() == 1


def test_rollback_fails_when_the_earlier_artifact_version_was_deleted(cdap):
    upload(cdap)
    upload(cdap, version="1.0.1")
    deployed(cdap)
    assert cdap.post(f"{V3}/apps/app1/update", {"artifact": {"name": "myapp", "version": "1.0.1"}}).status_code == 200
    response = cdap.delete(f"{V3}/artifacts/myapp/versions/1.0.0")
    assert response.status_code == 200, text(response)
    before = state()
    response = cdap.post(f"{V3}/apps/app1/rollback")
    assert (response.status_code, text(response)) == (
        409,
        "Application 'app1' cannot be rolled back: the artifact version it used before (user:myapp:1.0.0) was deleted.",
    )
    assert state() == before
    assert Application.objects.get().artifact_version.version == "1.0.1"
    # the history still reads right
    upgrade = history(cdap)[0]
    assert upgrade["from"]["artifact"] == "user:myapp:1.0.0" and upgrade["to"]["artifact"] == "user:myapp:1.0.1"


def test_history_records_who_when_what_from_and_to(cdap, other_user, api_client):
    upload(cdap)
    upload(cdap, version="1.1.0")
    deployed(cdap)
    bob = Cdap(api_client, other_user)
    assert bob.post(f"{V3}/apps/app1/update", {"artifact": {"name": "myapp", "version": "1.1.0"}}).status_code == 200
    assert cdap.put(f"{V3}/apps/app1/properties", app_request(version="1.0.0")).status_code == 200
    assert cdap.post(f"{V3}/apps/app1/update", {"config": {"table": "t2"}}).status_code == 200
    assert cdap.post(f"{V3}/apps/app1/rollback").status_code == 200

    changes = history(cdap)
    assert [c["action"] for c in changes] == ["rollback", "config", "downgrade", "upgrade", "create"]
    assert [c["actor"] for c in changes] == ["alice", "alice", "alice", "bob", "alice"]
    assert all(isinstance(c["at"], int) and c["at"] > 1_700_000_000_000 for c in changes)
    assert [c["at"] for c in changes] == sorted((c["at"] for c in changes), reverse=True)
    rollback, config, downgrade, upgrade, create = changes
    assert create["from"] is None
    assert create["to"] == {"artifact": "user:myapp:1.0.0", "config": CONFIG}
    assert upgrade["from"] == {"artifact": "user:myapp:1.0.0", "config": CONFIG}
    assert upgrade["to"] == {"artifact": "user:myapp:1.1.0", "config": CONFIG}
    assert downgrade["from"]["artifact"] == "user:myapp:1.1.0" and downgrade["to"]["artifact"] == "user:myapp:1.0.0"
    assert config["from"] == {"artifact": "user:myapp:1.0.0", "config": CONFIG}
    assert config["to"] == {"artifact": "user:myapp:1.0.0", "config": {"table": "t2"}}
    assert rollback["from"]["config"] == {"table": "t2"} and rollback["to"]["config"] == CONFIG
    assert config["undone"] is True and downgrade["undone"] is False
    assert {c["via"] for c in changes} >= {"POST /apps/{app}/update", "PUT /apps/{app}/properties"}
    rows = ApplicationChange.objects.order_by("id")
    froms = [r.from_version.version if r.from_version else None for r in rows]
    assert froms == [None, "1.0.0", "1.1.0", "1.0.0", "1.0.0"]


def test_delete_records_a_change_that_survives_the_app(cdap):
    upload(cdap)
    deployed(cdap)
    response = cdap.delete(f"{V3}/apps/app1")
    assert (response.status_code, text(response)) == (200, "")
    assert not Application.objects.exists()
    change = ApplicationChange.objects.get(action="delete")
    assert (change.namespace, change.app_name, change.actor, change.application) == ("default", "app1", "alice", None)
    assert change.from_artifact == "user:myapp:1.0.0" and change.from_config == CONFIG and change.to_artifact == ""
    assert ApplicationChange.objects.filter(app_name="app1").count() == 2  # create survives too
    # a new app of the same name starts with a rollback-free history of its own
    deployed(cdap)
    assert cdap.post(f"{V3}/apps/app1/rollback").status_code == 409
    assert [c["action"] for c in history(cdap)] == ["create", "delete", "create"]


# --- delete -----------------------------------------------------------------------------------------------------
@BOTH
def test_delete_app(cdap, prefix):
    upload(cdap)
    deployed(cdap)
    deployed(cdap, "app2")
    response = cdap.delete(f"{prefix}/apps/app1")
    assert (response.status_code, text(response)) == (200, "")
    assert list(Application.objects.values_list("name", flat=True)) == ["app2"]
    response = cdap.delete(f"{prefix}/apps/app1")
    assert (response.status_code, text(response)) == (404, "'application:default.app1.-SNAPSHOT' was not found.")
    assert ArtifactVersion.objects.filter(version="1.0.0").exists()  # the shared artifact stays (CDAP-3559)


@BOTH
def test_delete_all_apps(cdap, prefix):
    upload(cdap)
    for name in ("app1", "app2", "app3"):
        deployed(cdap, name)
    response = cdap.delete(f"{prefix}/apps")
    assert (response.status_code, text(response)) == (200, "")
    assert not Application.objects.exists()
    assert set(ApplicationChange.objects.filter(action="delete").values_list("app_name", flat=True)) == {
        "app1",
        "app2",
        "app3",
    }
    assert cdap.get(f"{prefix}/apps").json() == []
    assert cdap.delete(f"{prefix}/apps").status_code == 200  # nothing left: still fine


def test_delete_all_apps_only_in_that_namespace(cdap):
    assert cdap.put("/v3/namespaces/team").status_code == 200
    upload(cdap)
    upload(cdap, ns="team")
    deployed(cdap)
    assert cdap.put("/v3/namespaces/team/apps/app1", app_request()).status_code == 200
    assert cdap.delete("/v3/namespaces/team/apps").status_code == 200
    assert list(Application.objects.values_list("namespace__name", flat=True)) == ["default"]


def test_deleting_an_artifact_version_in_use_is_409_naming_the_apps(cdap):
    upload(cdap)
    upload(cdap, version="1.1.0")
    deployed(cdap, "app2")
    deployed(cdap, "app1")
    deployed(cdap, "app3", version="1.1.0")
    response = cdap.delete(f"{V3}/artifacts/myapp/versions/1.0.0")
    assert response.status_code == 409
    assert text(response) == (
        "Artifact artifact:default.myapp.1.0.0 cannot be deleted because it is used by the applications: "
        "default.app1, default.app2. Upgrade or delete them first."
    )
    assert ArtifactVersion.objects.filter(version="1.0.0").exists()
    assert cdap.delete(f"{V3}/apps/app1").status_code == 200
    assert cdap.delete(f"{V3}/apps/app2").status_code == 200
    response = cdap.delete(f"{V3}/artifacts/myapp/versions/1.0.0")
    assert (response.status_code, text(response)) == (200, "")
    assert list(ArtifactVersion.objects.values_list("version", flat=True)) == ["1.1.0"]


# --- programs without running them -------------------------------------------------------------------------------
@BOTH
def test_unknown_program_is_404_and_unknown_type_is_400(cdap, prefix):
    upload(cdap)
    deployed(cdap)
    missing = "'program:default.app1.-SNAPSHOT.worker.Nope' was not found."
    for path in ("workers/Nope/start", "workers/Nope/stop"):
        response = cdap.post(f"{prefix}/apps/app1/{path}")
        assert (response.status_code, text(response)) == (404, missing)
    for path in ("workers/Nope/status", "workers/Nope/runs"):
        response = cdap.get(f"{prefix}/apps/app1/{path}")
        assert (response.status_code, text(response)) == (404, missing)
    response = cdap.post(f"{prefix}/apps/app1/workflows/Writer/start")  # a worker's name under another type
    wrong_type = "'program:default.app1.-SNAPSHOT.workflow.Writer' was not found."
    assert (response.status_code, text(response)) == (404, wrong_type)
    for method, path in (("post", "bogus/Writer/start"), ("post", "bogus/Writer/stop"), ("get", "bogus/Writer/status")):
        response = getattr(cdap, method)(f"{prefix}/apps/app1/{path}")
        assert (response.status_code, text(response)) == (400, "Unknown program type 'bogus'")
    assert not ProgramRun.objects.exists() and not Job.objects.exists()


def test_program_status_is_stopped_before_any_run(cdap):
    upload(cdap)
    deployed(cdap)
    for path in ("workers/Writer", "workflows/Report", "services/Echo"):
        response = cdap.get(f"{V3}/apps/app1/{path}/status")
        assert (response.status_code, response.json()) == (200, {"status": "STOPPED"})
        assert cdap.get(f"{V3}/apps/app1/{path}/runs").json() == []


def test_stop_when_not_running_is_400(cdap):
    upload(cdap)
    deployed(cdap)
    response = cdap.post(f"{V3}/apps/app1/workers/Writer/stop")
    assert (response.status_code, text(response)) == (400, f"Program '{WRITER}' is not running.")


def test_start_with_bad_runtime_args_is_400(cdap):
    upload(cdap)
    deployed(cdap)
    for body in ("[1]", "{nope", '{"a": {"nested": 1}}'):
        response = cdap.post(f"{V3}/apps/app1/workers/Writer/start", body)
        assert response.status_code == 400, text(response)
    assert not ProgramRun.objects.exists() and not Job.objects.exists()


def test_unknown_program_action_is_404(cdap):
    upload(cdap)
    deployed(cdap)
    response = cdap.post(f"{V3}/apps/app1/workers/Writer/pause")
    assert response.status_code == 404
    assert not Job.objects.exists()


def test_batch_status_with_mixed_items(cdap):
    upload(cdap)
    deployed(cdap)
    items = [
        {"appId": "app1", "programType": "Worker", "programId": "Writer"},
        {"appId": "app1", "programType": "workflow", "programId": "Report"},
        {"appId": "app1", "programType": "Service", "programId": "Echo"},
        {"appId": "app1", "programType": "Worker", "programId": "Nope"},
        {"appId": "nope", "programType": "Worker", "programId": "Writer"},
        {"appId": "app1", "programType": "Gadget", "programId": "Writer"},
    ]
    response = cdap.post(f"{V3}/status", items)
    assert response.status_code == 200, text(response)
    assert response.json() == [
        {**items[0], "statusCode": 200, "status": "STOPPED"},
        {**items[1], "statusCode": 200, "status": "STOPPED"},
        {**items[2], "statusCode": 200, "status": "STOPPED"},
        {**items[3], "statusCode": 404, "error": "'program:default.app1.-SNAPSHOT.worker.Nope' was not found."},
        {**items[4], "statusCode": 404, "error": "'application:default.nope.-SNAPSHOT' was not found."},
        {**items[5], "statusCode": 400, "error": "Invalid program type provided: Gadget"},
    ]


@pytest.mark.parametrize(
    "body",
    ["{nope", {"appId": "app1"}, [{"appId": "app1", "programType": "Worker"}], [5], ""],
    ids=["bad-json", "object", "missing-key", "not-object", "empty"],
)
def test_batch_status_bad_request_is_400(cdap, body):
    response = cdap.post(f"{V3}/status", body)
    assert response.status_code == 400 and text(response)


def test_runs_with_a_bad_status_filter_is_400(cdap):
    upload(cdap)
    deployed(cdap)
    response = cdap.get(f"{V3}/apps/app1/workers/Writer/runs?status=sleeping")
    assert (response.status_code, text(response)) == (
        400,
        "Supported options for status of runs are running/completed/failed",
    )


def test_a_queued_program_counts_as_running(cdap):
    """Without a runner the job stays queued: the program is starting, cannot start twice, blocks updates."""
    upload(cdap)
    deployed(cdap)
    assert cdap.post(f"{V3}/apps/app1/workers/Writer/start").status_code == 200
    job = Job.objects.get()
    assert job.status == JobStatus.INITED
    assert cdap.get(f"{V3}/apps/app1/workers/Writer/status").json()["status"] in ("STARTING", "RUNNING")
    response = cdap.post(f"{V3}/apps/app1/workers/Writer/start")
    assert (response.status_code, text(response)) == (409, f"Program {WRITER} is already running")
    before = state()
    response = cdap.post(f"{V3}/apps/app1/update", {"config": {"table": "t2"}})
    assert response.status_code == 409 and text(response).endswith("still running: Writer")
    assert state() == before
    response = cdap.post(f"{V3}/apps/app1/workers/Writer/stop")
    assert (response.status_code, text(response)) == (200, "")
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert cdap.get(f"{V3}/apps/app1/workers/Writer/status").json() == {"status": "STOPPED"}
    assert [r["status"] for r in cdap.get(f"{V3}/apps/app1/workers/Writer/runs").json()] == ["KILLED"]
    assert cdap.post(f"{V3}/apps/app1/update", {"config": {"table": "t2"}}).status_code == 200


def test_program_job_carries_the_run(cdap, user):
    upload(cdap)
    deployed(cdap, config={"table": "t9"})
    assert cdap.post(f"{V3}/apps/app1/services/Echo/start", {"a": "b"}).status_code == 200
    run = ProgramRun.objects.select_related("job").get()
    job = run.job
    assert (job.source_api, job.owner, job.execute_user, job.creator) == ("cdap", user, "alice", "CDAP")
    assert job.labels == {"cdap.program": "program:default.app1.-SNAPSHOT.service.Echo"}
    assert job.source["cdap"] == {
        "namespace": "default", "app": "app1", "programType": "services", "program": "Echo", "runId": run.run_id,
    }  # fmt: skip
    assert json.loads(job.env["PLATFORM_APP_CONFIG"]) == {"table": "t9"}
    assert json.loads(job.env["PLATFORM_RUNTIME_ARGS"]) == {"a": "b"}
    assert job.env["PLATFORM_RUN_ID"] == run.run_id
    [record] = cdap.get(f"{V3}/apps/app1/services/Echo/runs").json()
    assert record["runid"] == run.run_id and record["status"] == "STARTING" and record["jobId"] == job.pk
    assert isinstance(record["starting"], int) and "end" not in record


def test_runs_filter_by_start_and_end_time(cdap):
    upload(cdap)
    deployed(cdap)
    assert cdap.post(f"{V3}/apps/app1/workflows/Report/start").status_code == 200
    [record] = cdap.get(f"{V3}/apps/app1/workflows/Report/runs").json()
    later, earlier = record["starting"] + 3600, record["starting"] - 3600
    assert cdap.get(f"{V3}/apps/app1/workflows/Report/runs?start={later}").json() == []
    assert cdap.get(f"{V3}/apps/app1/workflows/Report/runs?end={earlier}").json() == []
    assert len(cdap.get(f"{V3}/apps/app1/workflows/Report/runs?start={earlier}&end={later}").json()) == 1


def test_one_run_record_by_run_id(cdap):
    upload(cdap)
    deployed(cdap)
    assert cdap.post(f"{V3}/apps/app1/workflows/Report/start").status_code == 200
    [record] = cdap.get(f"{V3}/apps/app1/workflows/Report/runs").json()
    response = cdap.get(f"{V3}/apps/app1/workflows/Report/runs/{record['runid']}")
    assert response.status_code == 200 and response.json() == record
    response = cdap.get(f"{V3}/apps/app1/workflows/Report/runs/nope")
    assert response.status_code == 404
    assert text(response) == "'program_run:default.app1.-SNAPSHOT.workflow.Report.nope' was not found."


def test_apps_cannot_be_deployed_in_the_system_namespace(cdap, admin_user):
    from artifacts.services import ArtifactUpload, artifact_add

    artifact_add(
        namespace=Namespace.objects.get(name="system"), name="sysapp",
        upload=ArtifactUpload(chunks=[archive("sysapp")]), actor=admin_user, allow_system=True,
    )  # fmt: skip
    response = cdap.put("/v3/namespaces/system/apps/app1", app_request("sysapp"))
    assert response.status_code == 400
    assert text(response) == "Applications cannot be deployed in the 'system' namespace."
    assert not Application.objects.exists()


# --- programs on the real runner --------------------------------------------------------------------------------
@pytest.fixture
def programs(runner, user):
    """The runner, plus a clean-up that stops whatever a test left running (before the runner stops)."""
    from jobs.services import job_kill

    yield runner
    for job in Job.objects.filter(status__in=NON_TERMINAL):
        try:
            job_kill(job=job, actor=user, authorized=True)
        except Exception:  # noqa: BLE001, S110 - it may have finished meanwhile
            pass
    for job in Job.objects.filter(status__in=NON_TERMINAL):
        wait_for(job.pk, TERMINAL)


def start(cdap: Cdap, path: str, args=None, prefix: str = V3, app: str = "app1") -> Job:
    """Start a program; return the job of its new run."""
    response = cdap.post(f"{prefix}/apps/{app}/{path}/start", args)
    assert (response.status_code, text(response)) == (200, ""), text(response)
    run = ProgramRun.objects.select_related("job").order_by("-id").first()
    assert run is not None and run.job is not None
    return run.job


def status(cdap: Cdap, path: str, prefix: str = V3, app: str = "app1") -> str:
    response = cdap.get(f"{prefix}/apps/{app}/{path}/status")
    assert response.status_code == 200, text(response)
    return response.json()["status"]


def runs(cdap: Cdap, path: str, query: str = "", app: str = "app1") -> list[dict]:
    response = cdap.get(f"{V3}/apps/{app}/{path}/runs{query}")
    assert response.status_code == 200, text(response)
    return response.json()


def custom_app(cdap: Cdap, programs_: list[dict], name: str = "custom", app: str = "app1") -> None:
    doc = manifest(name, "1.0.0")
    doc["app"]["programs"] = programs_
    upload(cdap, name, body=zip_bytes(doc))
    deployed(cdap, app, name=name)


@TRANSACTIONAL
@BOTH
def test_worker_start_status_stop(cdap, user, programs, prefix):
    upload(cdap)
    deployed(cdap)
    job = start(cdap, "workers/Writer", prefix=prefix)
    assert (job.source_api, job.owner, job.submit_user) == (Job.SourceApi.CDAP, user, "alice")
    run = ProgramRun.objects.get()
    assert (run.program_type, run.program_name, run.started_by, run.artifact_version.version) == (
        "workers", "Writer", "alice", "1.0.0",
    )  # fmt: skip
    wait_for(job.pk, {JobStatus.RUNNING})
    assert status(cdap, "workers/Writer", prefix) == "RUNNING"

    # the job is an ordinary job of the caller: the Linkis history shows it to the same bearer
    body = cdap.get(f"/api/rest_j/v1/jobhistory/{job.pk}/get").json()
    assert body["status"] == 0, body
    assert body["data"]["task"]["taskID"] == job.pk and body["data"]["task"]["status"] == "Running"

    response = cdap.post(f"{prefix}/apps/app1/workers/Writer/start")
    assert (response.status_code, text(response)) == (409, f"Program {WRITER} is already running")
    assert ProgramRun.objects.count() == 1

    response = cdap.post(f"{prefix}/apps/app1/workers/Writer/stop")
    assert (response.status_code, text(response)) == (200, "")
    assert wait_for(job.pk).status == JobStatus.CANCELLED
    assert status(cdap, "workers/Writer", prefix) == "STOPPED"
    response = cdap.post(f"{prefix}/apps/app1/workers/Writer/stop")
    assert (response.status_code, text(response)) == (400, f"Program '{WRITER}' is not running.")
    [record] = runs(cdap, "workers/Writer")
    assert record["status"] == "KILLED" and record["runid"] == run.run_id and "end" in record


@TRANSACTIONAL
def test_workflow_sees_the_config_and_the_archives_own_module(cdap, programs):
    upload(cdap)
    deployed(cdap, config={"table": "purchases_2024"})
    job = start(cdap, "workflows/Report")
    job = wait_for(job.pk)
    log = log_text(job.pk)
    assert job.status == JobStatus.SUCCEED, log
    assert "table purchases_2024 42" in log
    assert status(cdap, "workflows/Report") == "STOPPED"
    [record] = runs(cdap, "workflows/Report")
    assert record["status"] == "COMPLETED" and record["jobId"] == job.pk
    assert record["starting"] <= record["start"] <= record["end"]


@TRANSACTIONAL
def test_a_program_runs_as_whoever_starts_it(cdap, programs, other_user, api_client):
    upload(cdap)
    deployed(cdap)
    bob = Cdap(api_client, other_user)
    job = wait_for(start(bob, "workflows/Report").pk)
    assert (job.status, job.owner, job.submit_user) == (JobStatus.SUCCEED, other_user, "bob")
    assert ProgramRun.objects.get().started_by == "bob"
    body = bob.get(f"/api/rest_j/v1/jobhistory/{job.pk}/get").json()
    assert body["status"] == 0 and body["data"]["task"]["umUser"] == "bob"
    assert "table events 42" in log_text(job.pk)


@TRANSACTIONAL
def test_workflows_may_run_concurrently_and_stop_stops_every_run(cdap, programs):
    custom_app(
        cdap,
        [
            {"type": "workflows", "name": "Slow", "engine": "python", "code": "import time\ntime.sleep(60)"},
            {"type": "workflows", "name": "Quick", "engine": "python", "code": "print('quick')"},
        ],
    )
    first = start(cdap, "workflows/Slow")
    second = start(cdap, "workflows/Slow")
    assert first.pk != second.pk and ProgramRun.objects.count() == 2
    wait_for(first.pk, {JobStatus.RUNNING})
    wait_for(second.pk, {JobStatus.RUNNING})
    assert status(cdap, "workflows/Slow") == "RUNNING"
    assert [r["status"] for r in runs(cdap, "workflows/Slow", "?status=running")] == ["RUNNING", "RUNNING"]
    quick = wait_for(start(cdap, "workflows/Quick").pk)
    assert quick.status == JobStatus.SUCCEED
    response = cdap.post(f"{V3}/apps/app1/workflows/Slow/stop")
    assert (response.status_code, text(response)) == (200, "")
    assert wait_for(first.pk).status == JobStatus.CANCELLED
    assert wait_for(second.pk).status == JobStatus.CANCELLED
    assert [r["status"] for r in runs(cdap, "workflows/Slow")] == ["KILLED", "KILLED"]
    assert status(cdap, "workflows/Slow") == "STOPPED"


@TRANSACTIONAL
def test_service_gets_runtime_args(cdap, programs):
    upload(cdap)
    deployed(cdap)
    job = start(cdap, "services/Echo", {"greeting": "hello", "n": 3, "flag": True})
    wait_for(job.pk, {JobStatus.RUNNING})
    assert status(cdap, "services/Echo") == "RUNNING"
    expected = 'args={"greeting": "hello", "n": "3", "flag": "true"}'
    job = _wait_for_log(job.pk, expected)
    response = cdap.post(f"{V3}/apps/app1/services/Echo/start")
    assert (response.status_code, text(response)) == (
        409,
        "Program program:default.app1.-SNAPSHOT.service.Echo is already running",
    )
    assert cdap.post(f"{V3}/apps/app1/services/Echo/stop").status_code == 200
    assert wait_for(job.pk).status == JobStatus.CANCELLED
    assert ProgramRun.objects.get().runtime_args == {"greeting": "hello", "n": "3", "flag": "true"}


def _wait_for_log(job_id: int, fragment: str, timeout: float = 60.0) -> Job:
    eventually(
        lambda: fragment in log_text(job_id),
        timeout=timeout,
        message=lambda: f"{fragment!r} not in the log of job {job_id}:\n{log_text(job_id)}",
    )
    return Job.objects.get(pk=job_id)


@TRANSACTIONAL
def test_runtime_args_substitute_variables(cdap, programs):
    custom_app(
        cdap,
        [
            {"type": "workflows", "name": "Greet", "command": "echo hello ${who} from $PLATFORM_PROGRAM_NAME"},
            {"type": "workflows", "name": "Py", "engine": "python", "code": "print('n is ${n}')"},
        ],
    )
    job = wait_for(start(cdap, "workflows/Greet", {"who": "world"}).pk)
    assert job.status == JobStatus.SUCCEED and "hello world from Greet" in log_text(job.pk)
    job = wait_for(start(cdap, "workflows/Py", {"n": 7}).pk)
    assert job.status == JobStatus.SUCCEED and "n is 7" in log_text(job.pk)


@TRANSACTIONAL
def test_failing_program_is_failed(cdap, programs):
    custom_app(
        cdap,
        [{"type": "workflows", "name": "Broken", "engine": "python", "code": "import sys\nprint('boom')\nsys.exit(1)"}],
    )
    job = wait_for(start(cdap, "workflows/Broken").pk)
    assert job.status == JobStatus.FAILED
    assert status(cdap, "workflows/Broken") == "FAILED"
    [record] = runs(cdap, "workflows/Broken")
    assert record["status"] == "FAILED"


@TRANSACTIONAL
def test_runs_are_newest_first_and_filter_by_status(cdap, programs):
    custom_app(
        cdap,
        [
            {"type": "workflows", "name": "Flow", "engine": "python", "code": "import os, sys\n"
             "sys.exit(int(os.environ['PLATFORM_RUNTIME_ARGS'] != '{}'))"},
            {"type": "workers", "name": "Loop", "engine": "python", "code": "import time\ntime.sleep(60)"},
        ],
    )  # fmt: skip
    ok = wait_for(start(cdap, "workflows/Flow").pk)
    bad = wait_for(start(cdap, "workflows/Flow", {"fail": "1"}).pk)
    assert (ok.status, bad.status) == (JobStatus.SUCCEED, JobStatus.FAILED)
    records = runs(cdap, "workflows/Flow")
    assert [r["status"] for r in records] == ["FAILED", "COMPLETED"]
    assert [r["jobId"] for r in records] == [bad.pk, ok.pk]
    assert [r["status"] for r in runs(cdap, "workflows/Flow", "?status=completed")] == ["COMPLETED"]
    assert [r["status"] for r in runs(cdap, "workflows/Flow", "?status=FAILED")] == ["FAILED"]
    assert len(runs(cdap, "workflows/Flow", "?status=all")) == 2
    assert runs(cdap, "workflows/Flow", "?status=killed") == []
    assert len(runs(cdap, "workflows/Flow", "?limit=1")) == 1

    loop = start(cdap, "workers/Loop")
    wait_for(loop.pk, {JobStatus.RUNNING})
    [running] = runs(cdap, "workers/Loop", "?status=running")
    assert running["status"] == "RUNNING" and "end" not in running
    assert cdap.post(f"{V3}/apps/app1/workers/Loop/stop").status_code == 200
    wait_for(loop.pk)
    assert [r["status"] for r in runs(cdap, "workers/Loop")] == ["KILLED"]
    assert runs(cdap, "workers/Loop", "?status=running") == []


@TRANSACTIONAL
def test_batch_status_sees_running_programs(cdap, programs):
    upload(cdap)
    deployed(cdap)
    job = start(cdap, "workers/Writer")
    wait_for(job.pk, {JobStatus.RUNNING})
    items = [
        {"appId": "app1", "programType": "Worker", "programId": "Writer"},
        {"appId": "app1", "programType": "Service", "programId": "Echo"},
    ]
    response = cdap.post(f"{V3}/status", items)
    assert [(r["statusCode"], r["status"]) for r in response.json()] == [(200, "RUNNING"), (200, "STOPPED")]
    assert cdap.post(f"{V3}/apps/app1/workers/Writer/stop").status_code == 200
    wait_for(job.pk)


@TRANSACTIONAL
def test_nothing_changes_while_programs_run(cdap, programs):
    upload(cdap)
    upload(cdap, version="1.1.0")
    deployed(cdap)
    assert cdap.post(f"{V3}/apps/app1/update", {"artifact": {"name": "myapp", "version": "1.1.0"}}).status_code == 200
    writer = start(cdap, "workers/Writer")
    echo = start(cdap, "services/Echo")
    wait_for(writer.pk, {JobStatus.RUNNING})
    before = state()
    running = "The following programs are still running: Echo,Writer"
    updated = f"'application:default.app1.-SNAPSHOT' could not be updated. Reason: {running}"

    requests = [
        ("post", f"{V3}/apps/app1/update", {"artifact": {"name": "myapp", "version": "1.0.0"}}),
        ("post", f"{V3}/apps/app1/update", {"config": {"table": "t2"}}),
        ("put", f"{SEED}/apps/app1/properties", app_request(version="1.0.0")),
        ("put", f"{V3}/apps/app1", app_request(version="1.0.0")),
        ("post", f"{V3}/apps/app1/rollback", None),
    ]
    for method, path, body in requests:
        response = getattr(cdap, method)(path, body)
        assert (response.status_code, text(response)) == (409, updated), (path, text(response))
    response = cdap.raw(
        "put", f"{V3}/apps/app1", archive(version="1.2.0"),
        **{"X-Archive-Name": "myapp-1.2.0.zip", "X-App-Config": json.dumps(CONFIG)},
    )  # fmt: skip
    assert (response.status_code, text(response)) == (409, updated)
    assert not ArtifactVersion.objects.filter(version="1.2.0").exists()  # the artifact just added is removed again
    response = cdap.delete(f"{V3}/apps/app1")
    assert (response.status_code, text(response)) == (
        409,
        f"'application:default.app1.-SNAPSHOT' could not be deleted. Reason: {running}",
    )
    response = cdap.delete(f"{SEED}/apps")
    assert response.status_code == 409
    assert text(response).startswith("'namespace:default' could not be deleted. Reason: The following programs")
    assert "app1: Writer" in text(response) and "app1: Echo" in text(response)
    assert state() == before
    assert Application.objects.count() == 1 and not ApplicationChange.objects.filter(action="delete").exists()

    # once they are stopped, the same requests go through
    assert cdap.post(f"{V3}/apps/app1/workers/Writer/stop").status_code == 200
    assert cdap.post(f"{V3}/apps/app1/services/Echo/stop").status_code == 200
    assert wait_for(writer.pk).status == JobStatus.CANCELLED
    assert wait_for(echo.pk).status == JobStatus.CANCELLED
    response = cdap.post(f"{V3}/apps/app1/rollback")
    assert response.status_code == 200, text(response)
    assert Application.objects.get().artifact_version.version == "1.0.0"
    assert cdap.delete(f"{V3}/apps/app1").status_code == 200


@TRANSACTIONAL
def test_delete_all_apps_while_running_names_programs_like_cdap(cdap, programs):
    upload(cdap)
    deployed(cdap)
    writer = start(cdap, "workers/Writer")
    start(cdap, "services/Echo")
    wait_for(writer.pk, {JobStatus.RUNNING})
    response = cdap.delete(f"{V3}/apps")
    assert response.status_code == 409
    reason = text(response).split("The following programs are still running: ", 1)[1]
    assert sorted(reason.split(",")) == ["app1: Echo", "app1: Writer"]


@TRANSACTIONAL
def test_namespace_delete_while_programs_run_is_409(cdap, programs, admin_user, api_client):
    admin = Cdap(api_client, admin_user)
    assert cdap.put("/v3/namespaces/team").status_code == 200
    upload(cdap, ns="team")
    assert cdap.put("/v3/namespaces/team/apps/app1", app_request()).status_code == 200
    job = start(cdap, "workers/Writer", prefix="/v3/namespaces/team")
    wait_for(job.pk, {JobStatus.RUNNING})

    assert cdap.delete("/v3/unrecoverable/namespaces/team").status_code == 403  # not an admin
    response = admin.delete("/v3/unrecoverable/namespaces/team")
    assert (response.status_code, text(response)) == (
        409,
        "'namespace:team' could not be deleted. Reason: Some programs are currently running in namespace "
        "'namespace:team', please stop them before deleting namespace",
    )
    assert Namespace.objects.filter(name="team").exists() and Application.objects.filter(name="app1").exists()

    assert cdap.post("/v3/namespaces/team/apps/app1/workers/Writer/stop").status_code == 200
    wait_for(job.pk)
    response = admin.delete("/v3/unrecoverable/namespaces/team")
    assert response.status_code == 200, text(response)
    assert not Namespace.objects.filter(name="team").exists() and not Application.objects.exists()
    assert ApplicationChange.objects.filter(action="delete", namespace="team", app_name="app1").exists()


@TRANSACTIONAL
def test_programs_of_an_upgraded_app_run_the_new_artifact(cdap, programs):
    upload(cdap)
    body = zip_bytes(manifest("myapp", "2.0.0"), {"myapp/__init__.py": "", "myapp/helper.py": "VALUE = 'two'\n"})
    upload(cdap, version="2.0.0", body=body)
    deployed(cdap)
    job = wait_for(start(cdap, "workflows/Report").pk)
    assert "table events 42" in log_text(job.pk)
    assert cdap.post(f"{V3}/apps/app1/update", {"artifact": {"name": "myapp", "version": "2.0.0"}}).status_code == 200
    job = wait_for(start(cdap, "workflows/Report").pk)
    assert job.status == JobStatus.SUCCEED and "table events two" in log_text(job.pk)
    assert ProgramRun.objects.order_by("-id").first().artifact_version.version == "2.0.0"
