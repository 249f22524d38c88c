"""OpenPAI job protocol v2: ``POST /api/v2/jobs`` (v0.14 ``src/rest-server/src/routes/v2/job.js``,
``controllers/v2/job.js``, ``middlewares/v2/protocol.js``, ``config/v2/protocol.js``) as openpaisdk submits it.

openpaisdk (microsoft/pai ``contrib/python-sdk`` at v0.14.0; not on PyPI, so its requests are replayed here) submits a
protocol-v2 job with ``ClusterClient.rest_api_submit``: ``POST {pai_uri}/rest-server/api/v2/jobs`` with
``Authorization: Bearer <token>`` and ``Content-Type: text/yaml``, and accepts 201 or 202. Its ``utils.get_response``
sends ``json=body`` whenever a Content-Type is set, so the body is the protocol as JSON text (which is YAML) under a
``text/yaml`` header: ``Job.get_config()`` of ``opai job sub`` / ``Job.one_liner`` (``parameters`` and
``deployments`` dropped when empty, ``secrets``, ``defaults`` and ``extras`` sent empty). The token comes from
``POST /rest-server/api/v1/token``; ``ClusterClient.wait`` polls ``GET /rest-server/api/v1/user/{user}/jobs/{job}``
(``jobStatus.state``) and ``jobs()`` lists ``GET /rest-server/api/v1/user/{user}/jobs``: the SDK reads no v2 route.

The 400 bodies below are upstream's own: each message was produced by v0.14's ``protocol.js`` with the ajv 6.10,
ajv-merge-patch 4.1 and js-yaml 3.13 that its package.json names.
"""

from __future__ import annotations

import json

import pytest
from django.test import Client

from jobs.models import Job, JobStatus, PaiJob, PaiTask
from tests.accounts.factories import PASSWORD
from tests.conftest import bearer, eventually

V2 = "/api/v2/jobs"
GUEST = {"code": "UnauthorizedUserError", "message": "Guest is not allowed to do this operation."}
ROLE_PATH = "#/properties/taskRoles/patternProperties/%5E%5Ba-zA-Z_%5D%5Ba-zA-Z0-9_%5D*%24"
SDK_HEADERS = {"HTTP_USER_AGENT": "python-requests/2.22.0", "HTTP_ACCEPT": "*/*"}


@pytest.fixture(autouse=True)
def _pai_settings(settings, tmp_path):
    settings.OPENPAI_DEFAULT_FS = tmp_path / "pai"
    settings.OPENPAI_VIRTUAL_CLUSTERS = ["default"]


def sdk_protocol(name: str = "sdk_v2", commands=("echo hello ", " echo bye"), **extra) -> dict:
    """``Job(name).one_liner(commands, image, resources)`` then ``get_config()``, in the SDK's key order."""
    return {
        "name": name,
        "protocolVersion": 2,
        "type": "job",
        "prerequisites": [{"name": "docker_image", "type": "dockerimage", "protocolVersion": 2, "uri": "ubuntu:16.04"}],
        "secrets": {},
        "taskRoles": {
            "main": {
                "dockerImage": "docker_image",
                "resourcePerInstance": {"gpu": 0, "cpu": 1, "memoryMB": 512},
                "commands": list(commands),
            }
        },
        "defaults": {},
        "extras": {},
        **extra,
    }


def sdk_token(client: Client) -> str:
    """``ClusterClient.rest_api_token``: ``json={username, password, expiration}``."""
    body = json.dumps({"username": "alice", "password": PASSWORD, "expiration": 3600})
    response = client.post("/rest-server/api/v1/token", body, "application/json", **SDK_HEADERS)
    assert response.status_code == 200, response.content
    return response.json()["token"]


def sdk_submit(client: Client, token: str, body: str, prefix: str = "/rest-server"):
    """``ClusterClient.rest_api_submit`` of a v2 job: the JSON text under ``Content-Type: text/yaml``."""
    return client.post(prefix + V2, body, "text/yaml", HTTP_AUTHORIZATION=f"Bearer {token}", **SDK_HEADERS)


def sdk_get(client: Client, path: str):
    """``rest_api_jobs``: a GET with ``json={}`` and no token."""
    return client.generic("GET", "/rest-server" + path, "{}", "application/json", **SDK_HEADERS)


def post(client: Client, body: str, user=None, content_type: str = "text/yaml"):
    return client.post(V2, body, content_type, **(bearer(user) if user is not None else {}))


def upstream_invalid(errors: list[dict]) -> dict:
    """Upstream's 400: ``createError('Bad Request', 'InvalidProtocolError', ajv.errors)`` stringifies the list."""
    return {"code": "InvalidProtocolError", "message": json.dumps(errors, separators=(",", ":"))}


# --- the SDK's flow: token, submit, wait, list -------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_the_sdks_v2_job_runs_to_succeeded(user, runner):
    client = Client()
    token = sdk_token(client)
    protocol = sdk_protocol(
        commands=["echo <% $parameters.greeting %> from $PAI_JOB_NAME ", " echo bye"],
        parameters={"greeting": "hello"},
    )
    body = json.dumps(protocol)  # what requests sends for json=protocol
    response = sdk_submit(client, token, body)
    assert response.status_code == 202
    assert response.json() == {"status": 202, "message": "Update job sdk_v2 for user alice successfully."}

    pai = PaiJob.objects.get()
    assert (pai.owner, pai.name, pai.virtual_cluster, pai.image, pai.retry_count) == (
        user, "sdk_v2", "default", "ubuntu:16.04", 0
    )  # fmt: skip
    assert pai.config_raw == body  # the body as submitted (no secrets to mask)
    [role] = pai.config["taskRoles"]
    assert role["command"] == "echo hello from $PAI_JOB_NAME && echo bye"  # trimmed, joined, rendered
    assert (role["name"], role["taskNumber"], role["cpuNumber"], role["memoryMB"], role["gpuNumber"]) == (
        "main", 1, 1, 512, 0
    )  # fmt: skip
    assert (role["minFailedTaskCount"], role["minSucceededTaskCount"]) == (1, None)

    # ClusterClient.wait: poll the v1 detail until a final state
    def finished():
        detail = sdk_get(client, "/api/v1/user/alice/jobs/sdk_v2")
        assert detail.status_code == 200
        state = detail.json()["jobStatus"]["state"]
        assert state in ("WAITING", "RUNNING", "SUCCEEDED", "FAILED"), state
        return detail.json() if state in ("SUCCEEDED", "FAILED") else None

    detail = eventually(finished, timeout=60, message="the v2 job did not finish")
    assert detail["jobStatus"]["state"] == "SUCCEEDED", detail
    assert detail["jobStatus"]["appExitCode"] == 0
    assert list(detail["taskRoles"]) == ["main"]
    [task] = PaiTask.objects.filter(pai_job=pai)
    assert task.job.status == JobStatus.SUCCEED and task.job.source_api == Job.SourceApi.OPENPAI
    log = client.get("/api/v1/user/alice/jobs/sdk_v2/tasks/main/0/log", **bearer(user)).content.decode()
    assert "hello from sdk_v2" in log and "bye" in log

    listed = sdk_get(client, "/api/v1/user/alice/jobs")
    assert [(item["name"], item["state"]) for item in listed.json()] == [("sdk_v2", "SUCCEEDED")]
    config = sdk_get(client, "/api/v1/user/alice/jobs/sdk_v2/config")
    assert (config.status_code, config.json()) == (200, protocol)

    # the same request again, without the /rest-server prefix: the name is taken (per user, as upstream's user~job)
    again = sdk_submit(client, token, body, prefix="")
    assert again.status_code == 409
    assert again.json() == {"code": "ConflictJobError", "message": "Job alice~sdk_v2 already exists."}
    assert PaiJob.objects.count() == 1 and Job.objects.count() == 1


# --- translation --------------------------------------------------------------------------------------------------
FULL = """\
protocolVersion: 2
name: train_mnist
type: job
version: 1.0
contributor: alice
description: a protocol with every part the platform uses
prerequisites:
  - {name: image, type: dockerimage, uri: "openpai/tensorflow:1.12", auth: {username: u, password: "<% $secrets.p %>"}}
  - {name: mnist, type: data, uri: ["$PAI_DEFAULT_FS_URI/data/mnist", /elsewhere]}
  - {name: out, type: output, uri: "$PAI_DEFAULT_FS_URI/Output/alice/mnist-out"}
  - {name: code, type: script, uri: /code/train}
parameters:
  epochs: 3
  rate: 0.5
  layers: [64, 32]
jobRetryCount: 2
taskRoles:
  ps:
    instances: 2
    completion: {minFailedInstances: 2, minSucceededInstances: null}
    taskRetryCount: 1
    dockerImage: image
    data: mnist
    output: out
    script: code
    extraContainerOptions: {shmMB: 128}
    resourcePerInstance: {cpu: 2, memoryMB: 1024, gpu: 0, ports: {grpc: 2, unused: 0}}
    commands:
      - python ps.py --data <% $data.uri[0] %> --code <% $script.uri %>
  worker:
    instances: 3
    completion: {minSucceededInstances: 3}
    dockerImage: image
    data: mnist
    output: out
    resourcePerInstance: {cpu: 4, memoryMB: 2048, gpu: 1}
    commands:
      - python worker.py --epochs <% $parameters.epochs %> --rate <% $parameters.rate %>
      - echo <% $parameters.layers %> <% $parameters.missing %> > <% $output.uri %>/done
deployments:
  - name: prod
    taskRoles:
      worker:
        preCommands: [pip install -r requirements.txt]
        postCommands: [echo finished]
defaults:
  virtualCluster: default
  deployment: prod
extras:
  note: kept as submitted
"""


@pytest.mark.django_db
def test_a_full_protocol_translates_into_the_v1_job_config(client, user, settings):
    response = post(client, FULL, user)
    assert response.status_code == 202, response.content
    pai = PaiJob.objects.get()
    fs = settings.OPENPAI_DEFAULT_FS
    assert pai.config_raw == FULL
    assert (pai.name, pai.image, pai.retry_count, pai.virtual_cluster) == (
        "train_mnist", "openpai/tensorflow:1.12", 2, "default"
    )  # fmt: skip
    config = pai.config
    assert (config["dataDir"], config["outputDir"], config["codeDir"]) == (
        f"{fs}/data/mnist", f"{fs}/Output/alice/mnist-out", "/code/train"
    )  # fmt: skip
    ps, worker = config["taskRoles"]
    assert ps == {
        "name": "ps", "taskNumber": 2, "cpuNumber": 2, "memoryMB": 1024, "shmMB": 128, "gpuNumber": 0,
        "portList": [{"label": "grpc", "beginAt": 0, "portNumber": 2}],
        "command": "python ps.py --data $PAI_DEFAULT_FS_URI/data/mnist --code /code/train",
        "minFailedTaskCount": 2, "minSucceededTaskCount": None,
    }  # fmt: skip
    assert worker["command"] == (
        "pip install -r requirements.txt && python worker.py --epochs 3 --rate 0.5"
        " && echo 64,32  > $PAI_DEFAULT_FS_URI/Output/alice/mnist-out/done && echo finished"
    )
    assert (worker["taskNumber"], worker["gpuNumber"], worker["portList"], worker["shmMB"]) == (3, 1, [], 64)
    assert (worker["minFailedTaskCount"], worker["minSucceededTaskCount"]) == (1, 3)
    assert PaiTask.objects.filter(pai_job=pai).count() == 5

    detail = client.get("/api/v1/user/alice/jobs/train_mnist").json()
    assert {name: len(role["taskStatuses"]) for name, role in detail["taskRoles"].items()} == {"ps": 2, "worker": 3}
    assert detail["jobStatus"]["state"] == "WAITING"
    stored = client.get("/api/v1/user/alice/jobs/train_mnist/config").json()
    assert stored["taskRoles"]["worker"]["commands"][1].startswith("echo <% $parameters.layers %>")
    assert stored["version"] == 1 and stored["extras"] == {"note": "kept as submitted"}


SECRET_BLOCK = """\
protocolVersion: 2
name: with_secrets
type: job
prerequisites:
  - {name: image, type: dockerimage, uri: ubuntu}
secrets:
  token: s3cr3t
  nested:
    password: hunter2
taskRoles:
  main:
    dockerImage: image
    resourcePerInstance: {cpu: 1, memoryMB: 64, gpu: 0}
    commands: ["echo <% $secrets.nested.password %>"]
"""


@pytest.mark.django_db
def test_secrets_are_masked_in_the_stored_config_but_rendered_into_the_command(client, user):
    assert post(client, SECRET_BLOCK, user).status_code == 202
    pai = PaiJob.objects.get(name="with_secrets")
    # upstream's protocolSecret.mask: the block becomes `secrets: "******"`, the rest of the text stays
    assert pai.config_raw == SECRET_BLOCK.replace(
        "secrets:\n  token: s3cr3t\n  nested:\n    password: hunter2\n", 'secrets: "******"\n'
    )
    assert pai.config["taskRoles"][0]["command"] == "echo hunter2"
    assert client.get("/api/v1/user/alice/jobs/with_secrets/config", **bearer(user)).json()["secrets"] == "******"

    # a JSON body (what openpaisdk sends; its --enable-sdk puts the cluster's password in secrets): upstream's
    # line-based mask cannot rewrite it, the platform stores the document as YAML with the secrets masked
    secrets = {"clusters": '[{"password": "secret1"}]', "cluster_alias": "c"}
    body = json.dumps(sdk_protocol("sdk_secret", commands=["echo <% $secrets.cluster_alias %>"], secrets=secrets))
    assert post(client, body, user).status_code == 202
    pai = PaiJob.objects.get(name="sdk_secret")
    assert "secret1" not in pai.config_raw
    stored = client.get("/api/v1/user/alice/jobs/sdk_secret/config", **bearer(user)).json()
    assert stored == {**json.loads(body), "secrets": "******"}
    assert pai.config["taskRoles"][0]["command"] == "echo c"


@pytest.mark.django_db
def test_any_content_type_is_read_as_yaml(client, user):
    response = post(client, json.dumps(sdk_protocol("as_json")), user, content_type="application/json")
    assert response.status_code == 202
    response = post(client, "\ufeff" + FULL.replace("train_mnist", "with_bom"), user, content_type="")
    assert response.status_code == 202
    assert sorted(PaiJob.objects.values_list("name", flat=True)) == ["as_json", "with_bom"]


@pytest.mark.django_db
def test_the_sdks_escaped_non_ascii_text_is_read_as_written(client, user):
    body = json.dumps(sdk_protocol("unicode", commands=["echo h\u00e9llo \U0001f600"]))  # "\ud83d\ude00" in the body
    assert "\\ud83d\\ude00" in body
    assert post(client, body, user).status_code == 202
    assert PaiJob.objects.get().config["taskRoles"][0]["command"] == "echo h\u00e9llo \U0001f600"


# --- refusals ------------------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_no_token_or_a_bad_token_is_refused(client, user):
    body = json.dumps(sdk_protocol())
    assert (r := post(client, body)).status_code == 401 and r.json() == GUEST
    response = client.post("/rest-server" + V2, body, "text/yaml", HTTP_AUTHORIZATION="Bearer not-a-token")
    assert response.status_code == 401 and response.json()["code"] == "UnauthorizedUserError"
    assert not PaiJob.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("name: [", "the request body is not valid YAML: while parsing a flow node, expected the node content, "
                    "but found '<stream end>' at line 1, column 8"),
        ("name: a\nname: b\n", "the request body is not valid YAML: duplicated mapping key 'name' at line 2, column 1"),
        ("a: 1\n---\nb: 2\n", "the request body is not valid YAML: expected a single document in the stream, "
                              "but found another document at line 2, column 1"),
        ("taskRoles:\n  a: !!binary aGVsbG8=\n", "the request body is not a valid job protocol: a value is a bytes"),
        ("[" * 120 + "]" * 120, "the request body nests mappings and lists deeper than 100 levels"),
        ('name: "\\ud800"', "the request body is not a valid job protocol: a string holds a lone surrogate"),
    ],
)  # fmt: skip
def test_a_body_that_is_not_yaml_is_invalid_protocol(client, user, body, message):
    """Upstream let js-yaml's exception reach its generic handler (500, no code); the platform answers 400."""
    response = post(client, body, user)
    assert response.status_code == 400
    assert response.json() == {"code": "InvalidProtocolError", "message": message}
    assert not PaiJob.objects.exists()


BAD_NAME_AND_ROLES = """\
protocolVersion: 2
name: my.job
type: job
prerequisites:
  - name: image
    type: dockerimage
    uri: ubuntu:16.04
taskRoles:
  main:
    dockerImage: image
    resourcePerInstance: {cpu: 1, memoryMB: 512}
  bad-name:
    dockerImage: image
"""
BAD_PREREQUISITE = """\
protocolVersion: 2
name: job
type: job
prerequisites:
  - name: image
    type: docker
    uri: ubuntu:16.04
taskRoles:
  main:
    instances: 0
    dockerImage: image
    resourcePerInstance: {cpu: 1, memoryMB: 512, gpu: 0}
    commands: [echo hi]
"""


def _merge_failed(index: int) -> dict:
    return {"keyword": "$merge", "dataPath": ".prerequisites[0]",
            "schemaPath": f"#/properties/prerequisites/items/oneOf/{index}/$merge", "params": {"keyword": "$merge"},
            "message": 'should pass "$merge" keyword validation'}  # fmt: skip


def _type_enum(index: int, allowed: list[str]) -> dict:
    return {"keyword": "enum", "dataPath": ".prerequisites[0].type",
            "schemaPath": f"#/properties/prerequisites/items/oneOf/{index}/properties/type/enum",
            "params": {"allowedValues": allowed},
            "message": "should be equal to one of the allowed values"}  # fmt: skip


SCHEMA_CASES = [
    (
        BAD_NAME_AND_ROLES,
        [
            {"keyword": "pattern", "dataPath": ".name", "schemaPath": "base.json#/properties/name/pattern",
             "params": {"pattern": "^[a-zA-Z0-9_-]+$"}, "message": 'should match pattern "^[a-zA-Z0-9_-]+$"'},
            {"keyword": "additionalProperties", "dataPath": ".taskRoles",
             "schemaPath": "#/properties/taskRoles/additionalProperties", "params": {"additionalProperty": "bad-name"},
             "message": "should NOT have additional properties"},
            {"keyword": "required", "dataPath": ".taskRoles['main'].resourcePerInstance",
             "schemaPath": ROLE_PATH + "/properties/resourcePerInstance/required", "params": {"missingProperty": "gpu"},
             "message": "should have required property 'gpu'"},
            {"keyword": "required", "dataPath": ".taskRoles['main']", "schemaPath": ROLE_PATH + "/required",
             "params": {"missingProperty": "commands"}, "message": "should have required property 'commands'"},
        ],
    ),
    (
        "- protocolVersion: 2\n- name: x\n",
        [{"keyword": "type", "dataPath": "", "schemaPath": "#/type", "params": {"type": "object"},
          "message": "should be object"}],
    ),
    (
        BAD_PREREQUISITE,
        [
            _type_enum(0, ["script", "output"]), _merge_failed(0),
            _type_enum(1, ["data"]),
            {"keyword": "type", "dataPath": ".prerequisites[0].uri",
             "schemaPath": "#/properties/prerequisites/items/oneOf/1/properties/uri/type", "params": {"type": "array"},
             "message": "should be array"},
            _merge_failed(1),
            _type_enum(2, ["dockerimage"]), _merge_failed(2),
            {"keyword": "oneOf", "dataPath": ".prerequisites[0]",
             "schemaPath": "#/properties/prerequisites/items/oneOf", "params": {"passingSchemas": None},
             "message": "should match exactly one schema in oneOf"},
            {"keyword": "minimum", "dataPath": ".taskRoles['main'].instances", "schemaPath": ROLE_PATH
             + "/properties/instances/minimum", "params": {"comparison": ">=", "limit": 1, "exclusive": False},
             "message": "should be >= 1"},
        ],
    ),
]  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "errors"), SCHEMA_CASES)
def test_schema_violations_answer_upstreams_ajv_errors(client, user, body, errors):
    response = post(client, body, user)
    assert response.status_code == 400
    assert response.json() == upstream_invalid(errors)
    assert not PaiJob.objects.exists() and not Job.objects.exists()


def _with(**changes) -> str:
    return json.dumps(sdk_protocol(**changes))


def _main(commands=("x",), cpu=1, **extra) -> dict:
    """``taskRoles`` with one role ``main`` (its image the SDK's ``docker_image``)."""
    resources = {"cpu": cpu, "memoryMB": 8, "gpu": 0}
    return {
        "main": {"dockerImage": "docker_image", "resourcePerInstance": resources, "commands": list(commands), **extra}
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "message"),
    [
        # upstream's reference checks, its sentences
        (_with(taskRoles=_main(dockerImage="other")), "Prerequisite other does not exist."),
        (_with(prerequisites=[{"name": "docker_image", "type": "dockerimage", "uri": "a"}] * 2),
         "Duplicate dockerimage prerequisites docker_image."),
        (_with(defaults={"deployment": "nowhere"}), "Default deployment nowhere does not exist."),
        (_with(deployments=[{"name": "d", "taskRoles": {"main": {"preCommands": ["a"]}}}] * 2),
         "Duplicate deployments d."),
        # mustache's own text (upstream let it reach its generic handler: a 500)
        (_with(commands=["echo <% $parameters.x"]), "Unclosed tag at 21"),
        # what the platform cannot run, in the protocol's terms
        (_with(taskRoles=[]), "taskRoles must be a mapping of at least one task role"),
        (_with(taskRoles=_main(instances=2, completion={"minFailedInstances": 3})),
         "taskRoles.main.completion.minFailedInstances is 3; the platform takes 1 to 2"),
        (_with(taskRoles=_main(cpu=-1)),
         "taskRoles.main.resourcePerInstance.cpu is -1; the platform takes 0 to 2147483647"),
        (_with(taskRoles=_main(commands=["  "])), "taskRoles.main.commands render to an empty command"),
        (_with(defaults={"virtualCluster": 5}), "defaults.virtualCluster must be a string"),
    ],
)  # fmt: skip
def test_reference_errors_and_what_the_platform_cannot_run(client, user, body, message):
    response = post(client, body, user)
    assert response.status_code == 400
    assert response.json() == {"code": "InvalidProtocolError", "message": message}
    assert not PaiJob.objects.exists()


@pytest.mark.django_db
def test_a_name_is_taken_per_user(client, user, other_user):
    body = json.dumps(sdk_protocol("shared"))
    assert post(client, body, user).status_code == 202
    response = post(client, body, user)
    assert response.status_code == 409
    assert response.json() == {"code": "ConflictJobError", "message": "Job alice~shared already exists."}
    v1 = client.post("/api/v1/jobs", json.dumps({"jobName": "shared", "image": "x", "taskRoles": [{"name": "m",
                     "command": "c"}]}), "application/json", **bearer(user))  # fmt: skip
    assert v1.status_code == 409  # one namespace for v1 and v2 jobs
    assert post(client, body, other_user).status_code == 202
    assert sorted(PaiJob.objects.values_list("owner__username", "name")) == [("alice", "shared"), ("bob", "shared")]


@pytest.mark.django_db
def test_virtual_cluster_rights_are_the_v1_submits(client, user, admin_user, settings):
    settings.OPENPAI_VIRTUAL_CLUSTERS = ["default", "vc1"]
    response = post(client, _with(defaults={"virtualCluster": "vc1"}), user)
    assert response.status_code == 403
    forbidden = "User alice is not allowed to do operation in vc1"
    assert response.json() == {"code": "ForbiddenUserError", "message": forbidden}
    response = post(client, _with(defaults={"virtualCluster": "nowhere"}), user)
    assert response.status_code == 404
    assert response.json() == {"code": "NoVirtualClusterError", "message": "Virtual cluster nowhere is not found."}
    assert post(client, _with(defaults={"virtualCluster": "vc1"}), admin_user).status_code == 202
    assert PaiJob.objects.get().virtual_cluster == "vc1"


@pytest.mark.django_db
def test_the_shell_right_is_needed_as_for_v1(client, user, settings):
    settings.JOB_DEFAULT_ENGINES = ["python"]
    response = post(client, json.dumps(sdk_protocol()), user)
    assert response.status_code == 403 and response.json()["code"] == "ForbiddenUserError"
    assert not PaiJob.objects.exists() and not Job.objects.exists()


@pytest.mark.django_db
def test_the_body_is_bounded(client, user, settings):
    settings.JOB_MAX_CODE_BYTES = 1024
    response = post(client, json.dumps(sdk_protocol(commands=["echo " + "x" * 3000])), user)
    assert response.status_code == 413
    assert response.json()["code"] == "PayloadTooLargeError"
    response = post(client, json.dumps(sdk_protocol(commands=["echo " + "x" * 1500])), user)
    assert response.status_code == 400
    assert response.json() == {"code": "InvalidProtocolError",
                               "message": "taskRoles.main.commands render to more than 1024 bytes"}  # fmt: skip
    assert not PaiJob.objects.exists()


@pytest.mark.django_db
def test_other_methods_are_no_api_as_upstream(client, user):
    for method in ("GET", "PUT", "DELETE"):
        response = client.generic(method, "/rest-server" + V2, **bearer(user))
        assert response.status_code == 404
        assert response.json() == {"code": "NoApiError", "message": "API /api/v2/jobs is not found."}
