"""OpenPAI job API contract: the seed's ``/api/job`` (003 seed, contracts/openpai.md A.1) and v0.7's ``/api/v1/jobs``
(A.2, A.3, A.4), on the job core.

No job runner runs here (JOB_RUNNER_AUTOSTART is off): submitted tasks stay ``Inited``. Ends of tasks are simulated
with ``jobs.services.job_transition`` and the job is decided with ``pai_settle`` (or by the finish listener when
on-commit callbacks are executed); the real-process behaviour is tested elsewhere.
"""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from jobs.models import Job, JobLogLine, JobStatus, PaiJob, PaiTask
from jobs.openpai.services import pai_settle
from jobs.services import job_transition
from tests.accounts.factories import PASSWORD
from tests.conftest import bearer

pytestmark = pytest.mark.django_db

GUEST = {"code": "UnauthorizedUserError", "message": "Guest is not allowed to do this operation."}
NO_TOKEN = {"message": "No authorization token was found", "error": {}}
SEED_LIST_FIELDS = {
    "name",
    "username",
    "state",
    "retries",
    "createdTime",
    "completedTime",
    "appTrackingUrl",
    "appExitType",
}
SEED_STATUS_FIELDS = {
    "name",
    "state",
    "createdTime",
    "completedTime",
    "appId",
    "appProgress",
    "appTrackingUrl",
    "appLaunchedTime",
    "appCompletedTime",
    "appExitCode",
    "appExitDiagnostics",
}
V1_LIST_FIELDS = {
    "name",
    "username",
    "state",
    "subState",
    "executionType",
    "retries",
    "createdTime",
    "completedTime",
    "appExitCode",
    "virtualCluster",
}
TASK_STATUS_FIELDS = {
    "taskIndex",
    "containerId",
    "containerIp",
    "containerPorts",
    "containerGpus",
    "containerLog",
    "taskState",
}
JOB_PATTERN = r"^[A-Za-z0-9\-._]+$"
ROLE_PATTERN = r"^[A-Za-z0-9._~]+$"


@pytest.fixture(autouse=True)
def _pai_settings(settings, tmp_path):
    settings.OPENPAI_DEFAULT_FS = tmp_path / "pai"
    settings.OPENPAI_VIRTUAL_CLUSTERS = ["default"]
    settings.OPENPAI_MAX_TASKS_PER_JOB = 1000


# --- helpers ----------------------------------------------------------------------------------------------------
def role(name: str = "main", command: str = "echo hello", **fields) -> dict:
    return {"name": name, "command": command, **fields}


def config(name: str = "job1", roles: list[dict] | None = None, **fields) -> dict:
    return {"jobName": name, "image": "ubuntu:16.04", "taskRoles": roles or [role()], **fields}


def _headers(user) -> dict:
    return bearer(user) if user is not None else {}


def _send(api_client, method: str, path: str, body, user, content_type: str = "application/json"):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return getattr(api_client, method)(path, data=data, content_type=content_type, **_headers(user))


def v1_post(api_client, body, user, **kwargs):
    return _send(api_client, "post", "/api/v1/jobs", body, user, **kwargs)


def v1_put(api_client, name: str, body, user, **kwargs):
    return _send(api_client, "put", f"/api/v1/jobs/{name}", body, user, **kwargs)


def seed_put(api_client, name: str, body, user, **kwargs):
    return _send(api_client, "put", f"/api/job/{name}", body, user, **kwargs)


def execution_type(api_client, name: str, body, user, **kwargs):
    return _send(api_client, "put", f"/api/v1/jobs/{name}/executionType", body, user, **kwargs)


def submitted(api_client, user, body=None) -> PaiJob:
    body = body or config()
    response = v1_post(api_client, body, user)
    assert response.status_code == 202, response.content
    return PaiJob.objects.get(owner=user, name=body["jobName"])


def invalid(message: str) -> dict:
    return {"code": "InvalidParametersError", "message": message}


def in_role(message: str, position: int = 0) -> str:
    """Joi's text for a problem inside ``taskRoles[position]``."""
    return f'child "taskRoles" fails because ["taskRoles" at position {position} fails because [{message}]]'


def current_tasks(pai: PaiJob) -> list[PaiTask]:
    pai.refresh_from_db()
    return list(pai.tasks.filter(attempt=pai.attempt).select_related("job").order_by("role", "index"))


def start_task(task: PaiTask) -> None:
    assert job_transition(job_id=task.job_id, to=JobStatus.SCHEDULED)
    assert job_transition(job_id=task.job_id, to=JobStatus.RUNNING, started_at=timezone.now())


def end_task(task: PaiTask, status: str = JobStatus.SUCCEED, exit_code: int = 0) -> None:
    start_task(task)
    assert job_transition(job_id=task.job_id, to=status, exit_code=exit_code)


def finish(pai: PaiJob, status: str = JobStatus.SUCCEED, exit_code: int = 0) -> PaiJob:
    """End every task of the current attempt with ``status`` and let the completion policy decide the job."""
    for task in current_tasks(pai):
        end_task(task, status, exit_code)
    pai_settle(pai_job_id=pai.pk)
    pai.refresh_from_db()
    return pai


# === the seed: /api/job ==========================================================================================
def test_seed_list_empty_is_empty_array(api_client):
    response = api_client.get("/api/job")
    assert response.status_code == 200
    assert response.json() == []  # upstream answered 500 JobListNotFound: an intended fix


@pytest.mark.parametrize("method", ["get", "post", "put", "delete"])
def test_seed_list_any_method_newest_first(api_client, user, other_user, method):
    submitted(api_client, user, config("first"))
    submitted(api_client, other_user, config("second"))
    response = getattr(api_client, method)("/api/job")
    assert response.status_code == 200
    body = response.json()
    assert [(item["name"], item["username"]) for item in body] == [("second", "bob"), ("first", "alice")]
    first = PaiJob.objects.get(name="first")
    assert body[1] == {
        "name": "first",
        "username": "alice",
        "state": "WAITING",
        "retries": 0,
        "createdTime": int(first.created_at.timestamp() * 1000),
        "completedTime": None,
        "appTrackingUrl": "/api/v1/user/alice/jobs/first",
        "appExitType": None,
    }
    assert all(set(item) == SEED_LIST_FIELDS for item in body)


def test_seed_put_submits(api_client, user):
    response = seed_put(api_client, "exampleJob", config("exampleJob"), user)
    assert response.status_code == 200
    assert response.json() == {"message": "update job exampleJob successfully"}
    pai = PaiJob.objects.get(name="exampleJob")
    assert pai.owner == user and pai.state == "WAITING" and pai.attempt == 1
    assert [(t.role, t.index, t.job.status) for t in current_tasks(pai)] == [("main", 0, JobStatus.INITED)]


def test_seed_put_url_name_wins_over_body(api_client, user):
    response = seed_put(api_client, "fromUrl", config("fromBody"), user)
    assert response.status_code == 200
    assert response.json() == {"message": "update job fromUrl successfully"}
    assert list(PaiJob.objects.values_list("name", flat=True)) == ["fromUrl"]


def test_seed_put_body_without_job_name(api_client, user):
    body = config()
    del body["jobName"]
    response = seed_put(api_client, "named", body, user)
    assert response.status_code == 200
    assert PaiJob.objects.get(owner=user).name == "named"


def test_seed_put_needs_token(api_client, db):
    response = seed_put(api_client, "job1", config(), None)
    assert response.status_code == 401
    assert response.json() == NO_TOKEN
    assert not PaiJob.objects.exists() and not Job.objects.exists()


def test_seed_put_bad_token(api_client, db):
    response = api_client.put(
        "/api/job/job1", data=json.dumps(config()), content_type="application/json", HTTP_AUTHORIZATION="Bearer x.y.z"
    )
    assert response.status_code == 401
    assert response.json() == {"message": "invalid token", "error": {}}
    assert not PaiJob.objects.exists()


def test_seed_put_duplicate_live_name(api_client, user):
    assert seed_put(api_client, "job1", config(), user).status_code == 200
    response = seed_put(api_client, "job1", config(), user)
    assert response.status_code == 500
    assert response.json() == {"error": "DuplicateJobSubmission", "message": "duplicate job submission"}
    assert PaiJob.objects.count() == 1 and Job.objects.count() == 1


def test_seed_put_replaces_a_finished_job(api_client, user):
    assert seed_put(api_client, "job1", config(), user).status_code == 200
    old = finish(PaiJob.objects.get(name="job1"))
    assert old.state == "SUCCEEDED"
    old_job_ids = {t.job_id for t in old.tasks.all()}
    new_config = config(roles=[role("worker", "echo again", taskNumber=2)])
    response = seed_put(api_client, "job1", new_config, user)
    assert response.status_code == 200
    assert response.json() == {"message": "update job job1 successfully"}
    new = PaiJob.objects.get(owner=user, name="job1")
    assert new.pk != old.pk and new.state == "WAITING" and new.retries == 0
    assert json.loads(new.config_raw) == new_config
    tasks = current_tasks(new)
    assert [(t.role, t.index) for t in tasks] == [("worker", 0), ("worker", 1)]
    assert {t.job_id for t in tasks}.isdisjoint(old_job_ids)
    assert all(t.job.status == JobStatus.INITED and t.job.code == "echo again" for t in tasks)
    assert Job.objects.filter(pk__in=old_job_ids).count() == 1  # the old task's job stays in the history
    assert api_client.get("/api/job/job1").json()["state"] == "WAITING"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"jobName": "job1", "taskRoles": [role()]}, "image"),
        ({"jobName": "job1", "image": "x"}, "taskRoles"),
        (config(roles=[role(taskNumber=0)]), "taskNumber"),
        (config(roles=[role(command="")]), "command"),
        (config(retryCount=-3), "retryCount"),
        (config(roles=[role(taskNumber=2, minFailedTaskCount=3)]), "minFailedTaskCount"),
        (config(unknownKey=True), "unknownKey"),
    ],
)
def test_seed_put_invalid_config(api_client, user, body, field):
    response = seed_put(api_client, "job1", body, user)
    assert response.status_code == 500
    answer = response.json()
    assert answer["error"] == "ParameterValidationError"
    assert answer["message"].startswith("could not validate request data")
    assert field in answer["message"]
    assert not PaiJob.objects.exists()


def test_seed_put_invalid_name_in_url(api_client, user):
    response = seed_put(api_client, "a~b", config(), user)
    assert response.status_code == 500
    answer = response.json()
    assert answer["error"] == "ParameterValidationError" and '"jobName"' in answer["message"]


def test_seed_put_non_json_body(api_client, user):
    response = seed_put(api_client, "job1", "jobName=job1&image=x", user, content_type="application/json")
    assert response.status_code == 500
    answer = response.json()
    assert answer["error"] == "ParameterValidationError"
    assert answer["message"].startswith("could not validate request data")


def test_seed_get_status_waiting(api_client, user):
    pai = submitted(api_client, user)
    response = api_client.get("/api/job/job1")  # no token needed
    assert response.status_code == 200
    body = response.json()
    assert SEED_STATUS_FIELDS <= set(body)
    assert {key: body[key] for key in SEED_STATUS_FIELDS} == {
        "name": "job1",
        "state": "WAITING",
        "createdTime": int(pai.created_at.timestamp() * 1000),
        "completedTime": None,
        "appId": body["appId"],
        "appProgress": 0.0,
        "appTrackingUrl": "/api/v1/user/alice/jobs/job1",
        "appLaunchedTime": None,
        "appCompletedTime": None,
        "appExitCode": None,
        "appExitDiagnostics": "",
    }
    assert body["appId"].startswith("application_")
    assert body["username"] == "alice" and body["retries"] == 0


def test_seed_get_status_running_then_succeeded(api_client, user):
    pai = submitted(api_client, user, config(roles=[role(taskNumber=2)]))
    first, second = current_tasks(pai)
    start_task(first)
    body = api_client.get("/api/job/job1").json()
    assert body["state"] == "RUNNING" and isinstance(body["appLaunchedTime"], int)
    end_task(second)
    assert job_transition(job_id=first.job_id, to=JobStatus.SUCCEED, exit_code=0)
    pai_settle(pai_job_id=pai.pk)
    body = api_client.get("/api/job/job1").json()
    pai.refresh_from_db()
    assert body["state"] == "SUCCEEDED" and body["appExitCode"] == 0 and body["appProgress"] == 1.0
    assert body["completedTime"] == body["appCompletedTime"] == int(pai.completed_at.timestamp() * 1000)


def test_seed_get_unknown_job(api_client, db):
    response = api_client.get("/api/job/ghost")
    assert response.status_code == 500
    assert response.json() == {"error": "JobNotFound", "message": "could not find job ghost"}


def test_seed_delete_by_owner(api_client, user):
    pai = submitted(api_client, user, config(roles=[role(taskNumber=2)]))
    job_ids = [t.job_id for t in current_tasks(pai)]
    response = api_client.delete("/api/job/job1", **bearer(user))
    assert response.status_code == 200
    assert response.json() == {"message": "deleted job job1 successfully"}
    assert not PaiJob.objects.exists() and not PaiTask.objects.exists()
    assert set(Job.objects.filter(pk__in=job_ids).values_list("status", flat=True)) == {JobStatus.CANCELLED}
    assert api_client.get("/api/job/job1").status_code == 500


def test_seed_delete_other_users_job(api_client, user, other_user):
    pai = submitted(api_client, user)
    response = api_client.delete("/api/job/job1", **bearer(other_user))
    assert response.status_code == 401
    assert response.json() == {
        "error": "JobDeleteError",
        "message": "job deleted error, cannot delete other user's job",
    }
    assert PaiJob.objects.filter(pk=pai.pk).exists()
    assert current_tasks(pai)[0].job.status == JobStatus.INITED


def test_seed_delete_by_admin(api_client, user, admin_user):
    submitted(api_client, user)
    response = api_client.delete("/api/job/job1", **bearer(admin_user))
    assert response.status_code == 200
    assert response.json() == {"message": "deleted job job1 successfully"}
    assert not PaiJob.objects.exists()


def test_seed_delete_needs_token(api_client, user):
    submitted(api_client, user)
    response = api_client.delete("/api/job/job1")
    assert response.status_code == 401
    assert response.json() == NO_TOKEN
    assert PaiJob.objects.exists()


def test_seed_delete_unknown(api_client, user):
    response = api_client.delete("/api/job/ghost", **bearer(user))
    assert response.status_code == 500
    assert response.json() == {"error": "JobNotFound", "message": "could not find job ghost"}


# === v1: submit ==================================================================================================
def test_v1_post_submits(api_client, user):
    response = v1_post(api_client, config(), user)
    assert response.status_code == 202
    assert response.json() == {"message": "update job job1 successfully"}
    pai = PaiJob.objects.get()
    assert (pai.owner, pai.name, pai.virtual_cluster, pai.image, pai.execution_type) == (
        user,
        "job1",
        "default",
        "ubuntu:16.04",
        "START",
    )
    assert [t.job.status for t in current_tasks(pai)] == [JobStatus.INITED]


def test_v1_put_submits_under_url_name(api_client, user):
    body = config("ignored")
    response = v1_put(api_client, "new_job", body, user)
    assert response.status_code == 202
    assert response.json() == {"message": "update job new_job successfully"}
    assert PaiJob.objects.get().name == "new_job"


@pytest.mark.parametrize("via", ["post", "put"])
def test_v1_duplicate_name(api_client, user, via):
    submitted(api_client, user)
    if via == "post":
        response = v1_post(api_client, config(), user)
    else:
        response = v1_put(api_client, "job1", config(), user)
    assert response.status_code == 409
    assert response.json() == {"code": "ConflictJobError", "message": "Job name job1 already exists"}
    assert PaiJob.objects.count() == 1 and Job.objects.count() == 1


@pytest.mark.parametrize("via", ["post", "put"])
def test_v1_duplicate_name_of_finished_job(api_client, user, via):
    pai = finish(submitted(api_client, user), JobStatus.FAILED, 1)
    assert pai.state == "FAILED"
    if via == "post":
        response = v1_post(api_client, config(), user)
    else:
        response = v1_put(api_client, "job1", config(), user)
    assert response.status_code == 409
    assert response.json() == {"code": "ConflictJobError", "message": "Job name job1 already exists"}
    assert PaiJob.objects.get().pk == pai.pk


def test_v1_empty_body(api_client, user):
    response = v1_post(api_client, {}, user)
    assert response.status_code == 400
    assert response.json() == invalid('child "jobName" fails because ["jobName" is required]')


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            config("a~b"),
            f'child "jobName" fails because ["jobName" with value "a~b" fails to match the required pattern: '
            f"/{JOB_PATTERN}/]",
        ),
        (
            config("a/b"),
            f'child "jobName" fails because ["jobName" with value "a/b" fails to match the required pattern: '
            f"/{JOB_PATTERN}/]",
        ),
        (config(""), 'child "jobName" fails because ["jobName" is not allowed to be empty]'),
        ({"jobName": "job1", "taskRoles": [role()]}, 'child "image" fails because ["image" is required]'),
        ({"jobName": "job1", "image": "x"}, 'child "taskRoles" fails because ["taskRoles" is required]'),
        (
            {"jobName": "job1", "image": "x", "taskRoles": []},
            'child "taskRoles" fails because ["taskRoles" must contain at least 1 items]',
        ),
        (
            config(roles=[role("a b")]),
            in_role(
                f'child "name" fails because ["name" with value "a b" fails to match the required pattern: '
                f"/{ROLE_PATTERN}/]"
            ),
        ),
        (config(roles=[{"name": "main"}]), in_role('child "command" fails because ["command" is required]')),
        (
            config(roles=[role(command="")]),
            in_role('child "command" fails because ["command" is not allowed to be empty]'),
        ),
        (
            config(roles=[role(taskNumber=0)]),
            in_role('child "taskNumber" fails because ["taskNumber" must be larger than or equal to 1]'),
        ),
        (
            config(roles=[role(taskNumber=1.5)]),
            in_role('child "taskNumber" fails because ["taskNumber" must be an integer]'),
        ),
        (
            config(roles=[role(taskNumber="many")]),
            in_role('child "taskNumber" fails because ["taskNumber" must be a number]'),
        ),
        (config(retryCount=-3), 'child "retryCount" fails because ["retryCount" must be larger than or equal to -2]'),
        (
            config(killAllOnCompletedTaskNumber=1),
            'child "killAllOnCompletedTaskNumber" fails because ["killAllOnCompletedTaskNumber" has been obsoleted, '
            "please use minFailedTaskCount and minSucceededTaskCount instead.]",
        ),
        (
            config(roles=[role(killAllOnCompletedTaskNumber=1)]),
            in_role(
                'child "killAllOnCompletedTaskNumber" fails because ["killAllOnCompletedTaskNumber" has been '
                "obsoleted, please use minFailedTaskCount and minSucceededTaskCount instead.]"
            ),
        ),
        (config(unknownKey=1), '"unknownKey" is not allowed'),
        (config(roles=[role(unknownKey=1)]), in_role('"unknownKey" is not allowed')),
        (
            config(jobEnvs={"A": {"nested": 1}}),
            'child "jobEnvs" fails because [child "A" fails because ["A" must be a string, a number or a boolean]]',
        ),
        (
            config(jobEnvs={"A": [1, 2]}),
            'child "jobEnvs" fails because [child "A" fails because ["A" must be a string, a number or a boolean]]',
        ),
        (config(jobEnvs="A=1"), 'child "jobEnvs" fails because ["jobEnvs" must be an object]'),
        (
            config(roles=[role(minFailedTaskCount=0)]),
            in_role(
                'child "minFailedTaskCount" fails because ["minFailedTaskCount" must be larger than or equal to 1]'
            ),
        ),
        (config(image=5), 'child "image" fails because ["image" must be a string]'),
    ],
)
def test_v1_config_rules(api_client, user, body, message):
    response = v1_post(api_client, body, user)
    assert response.status_code == 400
    assert response.json() == invalid(message)
    assert not PaiJob.objects.exists() and not Job.objects.exists()


@pytest.mark.parametrize(
    ("roles", "fragments"),
    [
        (
            [role(taskNumber=2, minFailedTaskCount=3)],
            ['taskRoles[0] "main"', "minFailedTaskCount 3", "tasks number 2"],
        ),
        (
            [role(taskNumber=1, minSucceededTaskCount=2)],
            ['taskRoles[0] "main"', "minSucceededTaskCount 2", "tasks number 1"],
        ),
        ([role(memoryMB=100, shmMB=200)], ['taskRoles[0] "main"', '"shmMB" 200', "memoryMB 100"]),
        ([role(command="   ")], ['taskRoles[0] "main"', '"command" is not allowed to be empty']),
        ([role("w"), role("w", "echo 2")], ['taskRoles[1] "w"', "task role names must be unique"]),
        (
            [role(portList=[{"label": "http"}, {"label": "http"}])],
            ['taskRoles[0] "main"', "port labels must be unique"],
        ),
    ],
)
def test_v1_cross_field_rules(api_client, user, roles, fragments):
    response = v1_post(api_client, config(roles=roles), user)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "InvalidParametersError"
    for fragment in fragments:
        assert fragment in body["message"]
    assert not PaiJob.objects.exists()


def test_v1_min_counts_may_equal_task_number_or_be_null(api_client, user):
    roles = [
        role("a", taskNumber=2, minFailedTaskCount=2, minSucceededTaskCount=2),
        role("b", minFailedTaskCount=None, minSucceededTaskCount=None),
        role("c", memoryMB=64, shmMB=64),
    ]
    assert v1_post(api_client, config(roles=roles), user).status_code == 202


def test_v1_too_many_tasks(api_client, user, settings):
    settings.OPENPAI_MAX_TASKS_PER_JOB = 3
    response = v1_post(api_client, config(roles=[role("a", taskNumber=2), role("b", taskNumber=2)]), user)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "InvalidParametersError"
    assert "taskRoles" in body["message"] and "4" in body["message"] and "3" in body["message"]
    assert not PaiJob.objects.exists() and not Job.objects.exists()
    assert v1_post(api_client, config(roles=[role("a", taskNumber=3)]), user).status_code == 202


def test_v1_defaults_applied(api_client, user, settings):
    pai = submitted(api_client, user)
    fs = str(settings.OPENPAI_DEFAULT_FS)
    assert pai.config == {
        "jobName": "job1",
        "image": "ubuntu:16.04",
        "authFile": "",
        "dataDir": "",
        "outputDir": f"{fs}/Output/alice/job1",
        "codeDir": "",
        "virtualCluster": "default",
        "gpuType": "",
        "retryCount": 0,
        "jobEnvs": {},
        "taskRoles": [
            {
                "name": "main",
                "taskNumber": 1,
                "cpuNumber": 1,
                "memoryMB": 100,
                "shmMB": 64,
                "gpuNumber": 0,
                "portList": [],
                "command": "echo hello",
                "minFailedTaskCount": 1,
                "minSucceededTaskCount": None,
            }
        ],
    }
    assert pai.virtual_cluster == "default" and pai.retry_count == 0
    env = current_tasks(pai)[0].job.env
    assert env["PAI_OUTPUT_DIR"] == f"{fs}/Output/alice/job1"
    assert env["PAI_DATA_DIR"] == "" and env["PAI_CODE_DIR"] == ""


def test_v1_default_fs_substitution(api_client, user, settings):
    fs = str(settings.OPENPAI_DEFAULT_FS)
    body = config(
        dataDir="$PAI_DEFAULT_FS_URI/data", outputDir="$PAI_DEFAULT_FS_URI/out/x", codeDir="$PAI_DEFAULT_FS_URI/code"
    )
    pai = submitted(api_client, user, body)
    assert (pai.config["dataDir"], pai.config["outputDir"], pai.config["codeDir"]) == (
        f"{fs}/data",
        f"{fs}/out/x",
        f"{fs}/code",
    )
    env = current_tasks(pai)[0].job.env
    assert (env["PAI_DATA_DIR"], env["PAI_OUTPUT_DIR"], env["PAI_CODE_DIR"]) == (
        f"{fs}/data",
        f"{fs}/out/x",
        f"{fs}/code",
    )
    assert env["PAI_DEFAULT_FS_URI"] == fs


@pytest.mark.parametrize("body", ["not json", "jobName=job1&image=x", b"\xff\xfe"])
def test_v1_non_json_body(api_client, user, body):
    response = v1_post(api_client, body, user)
    assert response.status_code == 400
    assert response.json()["code"] == "InvalidParametersError"
    assert not PaiJob.objects.exists()


@pytest.mark.parametrize("body", [[config()], "null", '"job1"'])
def test_v1_body_not_an_object(api_client, user, body):
    response = v1_post(api_client, body if isinstance(body, str) else json.dumps(body), user)
    assert response.status_code == 400
    assert response.json() == invalid('"value" must be an object')


def test_v1_submit_needs_token(api_client, db):
    for response in (v1_post(api_client, config(), None), v1_put(api_client, "job1", config(), None)):
        assert response.status_code == 401
        assert response.json() == GUEST
    assert not PaiJob.objects.exists()


def test_v1_unknown_virtual_cluster(api_client, user):
    response = v1_post(api_client, config(virtualCluster="nowhere"), user)
    assert response.status_code == 404
    assert response.json() == {"code": "NoVirtualClusterError", "message": "Virtual cluster nowhere is not found."}
    assert not PaiJob.objects.exists()


def test_v1_virtual_cluster_rights(api_client, user, admin_user, settings):
    settings.OPENPAI_VIRTUAL_CLUSTERS = ["default", "vc1"]
    response = v1_post(api_client, config(virtualCluster="vc1"), user)
    assert response.status_code == 403
    assert response.json() == {
        "code": "ForbiddenUserError",
        "message": "User alice is not allowed to do operation in vc1",
    }
    assert not PaiJob.objects.exists()
    user.virtual_clusters = "default,vc1"
    user.save(update_fields=["virtual_clusters"])
    assert v1_post(api_client, config(virtualCluster="vc1"), user).status_code == 202
    assert PaiJob.objects.get(owner=user).virtual_cluster == "vc1"
    assert v1_post(api_client, config("adminjob", virtualCluster="vc1"), admin_user).status_code == 202
    listed = {item["name"]: item["virtualCluster"] for item in api_client.get("/api/v1/jobs").json()}
    assert listed == {"job1": "vc1", "adminjob": "vc1"}


def test_v1_user_without_default_vc_is_refused(api_client, user):
    user.virtual_clusters = ""
    user.save(update_fields=["virtual_clusters"])
    response = v1_post(api_client, config(), user)
    assert response.status_code == 403
    assert response.json()["code"] == "ForbiddenUserError"


def test_v1_submit_in_own_namespace(api_client, user, other_user):
    response = _send(api_client, "post", "/api/v1/user/alice/jobs", config(), user)
    assert response.status_code == 202
    response = _send(api_client, "put", "/api/v1/user/alice/jobs/job2", config(), user)
    assert response.status_code == 202
    response = _send(api_client, "post", "/api/v1/user/alice/jobs", config("job3"), other_user)
    assert response.status_code == 403
    assert response.json() == {"code": "ForbiddenUserError", "message": "User bob is not allowed to add job for alice."}
    assert sorted(PaiJob.objects.values_list("owner__username", "name")) == [("alice", "job1"), ("alice", "job2")]


def test_v1_admin_submit_in_another_namespace(api_client, user, admin_user):
    response = _send(api_client, "put", "/api/v1/user/alice/jobs/forAlice", config(), admin_user)
    assert response.status_code == 202
    assert api_client.get("/api/v1/user/alice/jobs/forAlice").status_code == 200
    assert PaiJob.objects.get(name="forAlice").owner == user


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (config(jobEnvs=None), 'child "jobEnvs" fails because ["jobEnvs" must be an object]'),
        (
            {"jobName": "job1", "image": "x", "taskRoles": None},
            'child "taskRoles" fails because ["taskRoles" must be an array]',
        ),
    ],
)
def test_v1_null_object_or_array(api_client, user, body, message):
    response = v1_post(api_client, body, user)
    assert response.status_code == 400
    assert response.json() == invalid(message)


@pytest.mark.parametrize("name", ["A=B", "", "A\\u0000B"])
def test_v1_job_env_names_must_be_usable(api_client, user, name):
    response = v1_post(api_client, '{"jobName": "job1", "image": "x", "taskRoles": [{"name": "m", "command": "c"}],'
                       f' "jobEnvs": {{"{name}": "1"}}}}', user)  # fmt: skip
    assert response.status_code == 400
    assert response.json()["code"] == "InvalidParametersError" and "jobEnvs" in response.json()["message"]
    assert not PaiJob.objects.exists()


def test_v1_huge_retry_count(api_client, user):
    response = v1_post(api_client, config(retryCount=10**30), user)
    assert response.status_code == 400
    assert response.json()["code"] == "InvalidParametersError" and "retryCount" in response.json()["message"]


def test_v1_command_too_large(api_client, user, settings):
    settings.JOB_MAX_CODE_BYTES = 10
    response = v1_post(api_client, config(roles=[role(command="echo " + "x" * 20)]), user)
    assert response.status_code == 400
    assert response.json()["code"] == "InvalidParametersError" and "command" in response.json()["message"]
    response = seed_put(api_client, "job2", config(roles=[role(command="echo " + "x" * 20)]), user)
    assert response.status_code == 500
    assert response.json()["error"] == "ParameterValidationError" and '"command"' in response.json()["message"]
    assert not PaiJob.objects.exists() and not Job.objects.exists()


def test_submit_when_the_job_queue_is_full(api_client, user, settings):
    settings.JOB_QUEUE_CAPACITY = 1
    response = v1_post(api_client, config(roles=[role(taskNumber=2)]), user)
    assert response.status_code >= 500
    assert response.json()["code"] == "UnknownError"
    response = seed_put(api_client, "job2", config(roles=[role(taskNumber=2)]), user)
    assert response.status_code == 500
    assert response.json()["error"] == "JobUpdateError"
    assert not PaiJob.objects.exists() and not Job.objects.exists()  # all or nothing


# === v1: list ====================================================================================================
def test_v1_list_empty(api_client, db):
    response = api_client.get("/api/v1/jobs")
    assert response.status_code == 200
    assert response.json() == []


def test_v1_list_items_and_username_filter(api_client, user, other_user):
    first = submitted(api_client, user, config("first"))
    submitted(api_client, other_user, config("second"))
    response = api_client.get("/api/v1/jobs")  # no token
    assert response.status_code == 200
    body = response.json()
    assert [item["name"] for item in body] == ["second", "first"]
    assert all(set(item) == V1_LIST_FIELDS for item in body)
    assert body[1] == {
        "name": "first",
        "username": "alice",
        "state": "WAITING",
        "subState": "FRAMEWORK_WAITING",
        "executionType": "START",
        "retries": 0,
        "createdTime": int(first.created_at.timestamp() * 1000),
        "completedTime": None,
        "appExitCode": None,
        "virtualCluster": "default",
    }
    only_alice = api_client.get("/api/v1/jobs?username=alice").json()
    assert [(item["name"], item["username"]) for item in only_alice] == [("first", "alice")]
    assert api_client.get("/api/v1/jobs?username=nobody").json() == []
    per_user = api_client.get("/api/v1/user/bob/jobs").json()
    assert [(item["name"], item["username"]) for item in per_user] == [("second", "bob")]


def test_v1_list_shows_final_states(api_client, user):
    finish(submitted(api_client, user, config("ok")))
    finish(submitted(api_client, user, config("bad")), JobStatus.FAILED, 7)
    stopped = submitted(api_client, user, config("halted"))
    assert execution_type(api_client, "halted", {"value": "STOP"}, user).status_code == 202
    items = {item["name"]: item for item in api_client.get("/api/v1/jobs").json()}
    assert (items["ok"]["state"], items["ok"]["subState"], items["ok"]["appExitCode"]) == (
        "SUCCEEDED",
        "FRAMEWORK_COMPLETED",
        0,
    )
    assert (items["bad"]["state"], items["bad"]["appExitCode"]) == ("FAILED", 7)
    assert (items["halted"]["state"], items["halted"]["executionType"], items["halted"]["appExitCode"]) == (
        "STOPPED",
        "STOP",
        214,
    )
    stopped.refresh_from_db()
    assert items["halted"]["completedTime"] == int(stopped.completed_at.timestamp() * 1000)


def test_v1_list_query_count_does_not_grow(api_client, user, other_user, django_assert_max_num_queries):
    for index in range(6):
        submitted(api_client, user if index % 2 else other_user, config(f"job{index}", roles=[role(taskNumber=2)]))
    with django_assert_max_num_queries(3):
        assert len(api_client.get("/api/v1/jobs").json()) == 6
    with django_assert_max_num_queries(3):
        assert len(api_client.get("/api/job").json()) == 6


@pytest.mark.parametrize("path", ["/api/v1/jobs", "/api/job"], ids=["v1", "seed"])
def test_list_queries_do_not_grow_with_the_jobs(api_client, user, other_user, django_assert_max_num_queries, path):
    added: list[PaiJob] = []

    def add_jobs(count: int) -> None:
        for _ in range(count):
            index = len(added)
            owner = (user, other_user)[index % 2]
            roles = [role("ps", taskNumber=1), role("worker", taskNumber=1 + index % 3)]
            pai = submitted(api_client, owner, config(f"job{index}", roles=roles))
            if index % 3 == 1:
                start_task(current_tasks(pai)[0])  # running
            elif index % 3 == 2:
                finish(pai, JobStatus.FAILED, exit_code=3)  # completed, with an exit code and diagnostics
            added.append(pai)

    add_jobs(3)
    api_client.get(path)  # first-request caches do not count
    with django_assert_max_num_queries(1) as few:
        assert len(api_client.get(path).json()) == 3
    few = len(few)  # counted now: a later request starts the connection's query log afresh
    add_jobs(20)
    with django_assert_max_num_queries(few):
        assert len(api_client.get(path).json()) == 23


def test_reads_ignore_an_invalid_token(api_client, user):
    submitted(api_client, user)
    stale = {"HTTP_AUTHORIZATION": "Bearer x.y.z"}
    for path in ("/api/v1/jobs", "/api/v1/jobs/job1", "/api/v1/jobs/job1/config", "/api/job", "/api/job/job1"):
        assert api_client.get(path, **stale).status_code == 200, path


# === v1: detail, config, ssh =====================================================================================
def test_v1_detail(api_client, user):
    body = config(roles=[role("ps", taskNumber=2), role("worker", "python w.py", portList=[{"label": "http"}])])
    pai = submitted(api_client, user, body)
    response = api_client.get("/api/v1/jobs/job1")  # no token needed
    assert response.status_code == 200
    detail = response.json()
    assert set(detail) == {"name", "jobStatus", "taskRoles"}
    assert detail["name"] == "job1"
    status = detail["jobStatus"]
    assert SEED_STATUS_FIELDS | {"username", "subState", "executionType", "retries", "virtualCluster"} <= set(status)
    assert (status["name"], status["username"], status["state"], status["virtualCluster"]) == (
        "job1",
        "alice",
        "WAITING",
        "default",
    )
    assert set(detail["taskRoles"]) == {"ps", "worker"}
    tasks = {(t.role, t.index): t for t in current_tasks(pai)}
    for role_name, count in (("ps", 2), ("worker", 1)):
        entry = detail["taskRoles"][role_name]
        assert entry["taskRoleStatus"] == {"name": role_name}
        statuses = entry["taskStatuses"]
        assert [s["taskIndex"] for s in statuses] == list(range(count))
        for item in statuses:
            assert TASK_STATUS_FIELDS <= set(item)
            task = tasks[(role_name, item["taskIndex"])]
            assert item["taskState"] == "WAITING"
            assert item["containerIp"] == "127.0.0.1"
            assert item["containerId"] == f"container_{task.job_id}"
            assert item["containerPorts"] == {label: ",".join(map(str, p)) for label, p in task.ports.items()}
            assert item["containerLog"] == f"/api/v1/user/alice/jobs/job1/tasks/{role_name}/{item['taskIndex']}/log"
    assert set(detail["taskRoles"]["worker"]["taskStatuses"][0]["containerPorts"]) == {"http"}
    assert set(detail["taskRoles"]["ps"]["taskStatuses"][0]["containerPorts"]) == {"default"}


def test_v1_detail_task_states(api_client, user):
    pai = submitted(api_client, user, config(roles=[role(taskNumber=3, minFailedTaskCount=None)]))
    first, second, _third = current_tasks(pai)
    start_task(first)
    end_task(second, JobStatus.FAILED, 3)
    detail = api_client.get("/api/v1/jobs/job1").json()
    assert detail["jobStatus"]["state"] == "RUNNING"
    assert detail["jobStatus"]["subState"] == "APPLICATION_RUNNING"
    states = [s["taskState"] for s in detail["taskRoles"]["main"]["taskStatuses"]]
    assert states == ["RUNNING", "FAILED", "WAITING"]


def test_v1_detail_unknown(api_client, user):
    for headers in ({}, bearer(user)):
        response = api_client.get("/api/v1/jobs/ghost", **headers)
        assert response.status_code == 404
        assert response.json() == {"code": "NoJobError", "message": "Job ghost is not found."}


def test_v1_config_exactly_as_submitted(api_client, user):
    raw = (
        '{ "taskRoles": [ {"command": "echo hi", "name": "main", "taskNumber": 1} ],\n'
        '  "image": "ubuntu",   "jobName": "job1", "jobEnvs": {"N": 1, "B": true} }'
    )
    assert v1_post(api_client, raw, user).status_code == 202
    response = api_client.get("/api/v1/jobs/job1/config", **bearer(user))
    assert response.status_code == 200
    assert response.json() == json.loads(raw)
    assert "virtualCluster" not in response.json()  # before defaults
    assert PaiJob.objects.get().config_raw == raw


def test_v1_config_hides_job_env_values_from_anyone_but_the_owner_and_admins(api_client, user, other_user, admin_user):
    raw = {"jobName": "job1", "image": "ubuntu", "taskRoles": [role()], "jobEnvs": {"API_KEY": "s3cret", "N": 1}}
    assert v1_post(api_client, raw, user).status_code == 202
    hidden = {**raw, "jobEnvs": {"API_KEY": "******", "N": "******"}}
    assert api_client.get("/api/v1/jobs/alice~job1/config").json() == hidden  # no token needed, as upstream
    assert api_client.get("/api/v1/jobs/alice~job1/config", **bearer(other_user)).json() == hidden
    assert api_client.get("/api/v1/jobs/alice~job1/config", **bearer(admin_user)).json() == raw
    assert api_client.get("/api/v1/jobs/alice~job1/config", **bearer(user)).json() == raw


def test_exit_diagnostics_show_the_stderr_tail_to_the_owner_and_admins_only(api_client, user, other_user, admin_user):
    pai = submitted(api_client, user)
    (task,) = current_tasks(pai)
    start_task(task)
    JobLogLine.objects.create(job_id=task.job_id, line_no=10_000, level="ERROR", text="token=s3cret leaked")
    assert job_transition(job_id=task.job_id, to=JobStatus.FAILED, exit_code=3, error_desc="boom")
    pai_settle(pai_job_id=pai.pk)
    owner_view = api_client.get("/api/v1/jobs/alice~job1", **bearer(user)).json()["jobStatus"]["appExitDiagnostics"]
    assert "s3cret" in owner_view
    assert "s3cret" in api_client.get("/api/job/alice~job1", **bearer(admin_user)).json()["appExitDiagnostics"]
    for viewer in ({}, bearer(other_user)):
        for path in ("/api/v1/jobs/alice~job1", "/api/job/alice~job1"):
            body = api_client.get(path, **viewer).json()
            diagnostics = (body.get("jobStatus") or body)["appExitDiagnostics"]
            assert diagnostics == (
                "Task main[0] failed with exit code 3. (Details are shown to the job's owner and admins.)"
            )


def test_v1_config_of_put_body(api_client, user):
    body = {"image": "ubuntu", "taskRoles": [role()]}
    assert v1_put(api_client, "named", body, user).status_code == 202
    assert api_client.get("/api/v1/jobs/named/config").json() == body


def test_v1_config_and_ssh_unknown(api_client, db):
    for suffix in ("config", "ssh"):
        response = api_client.get(f"/api/v1/jobs/ghost/{suffix}")
        assert response.status_code == 404
        assert response.json() == {"code": "NoJobError", "message": "Job ghost is not found."}


def test_v1_ssh_info_missing(api_client, user):
    submitted(api_client, user)
    response = api_client.get("/api/v1/jobs/job1/ssh")
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "NoJobSshInfoError" and "job1" in body["message"]


# === v1: delete ==================================================================================================
def test_v1_delete_by_owner(api_client, user):
    pai = submitted(api_client, user, config(roles=[role(taskNumber=2)]))
    job_ids = [t.job_id for t in current_tasks(pai)]
    response = api_client.delete("/api/v1/jobs/job1", **bearer(user))
    assert response.status_code == 202
    assert response.json() == {"message": "deleted job job1 successfully"}
    assert not PaiJob.objects.exists()
    assert set(Job.objects.filter(pk__in=job_ids).values_list("status", flat=True)) == {JobStatus.CANCELLED}
    assert api_client.get("/api/v1/jobs/job1").status_code == 404
    assert v1_post(api_client, config(), user).status_code == 202  # the name is free again


def test_v1_delete_by_admin(api_client, user, admin_user):
    submitted(api_client, user)
    response = api_client.delete("/api/v1/jobs/job1", **bearer(admin_user))
    assert response.status_code == 202
    assert response.json() == {"message": "deleted job job1 successfully"}
    assert not PaiJob.objects.exists()


def test_v1_delete_by_other_user(api_client, user, other_user):
    pai = submitted(api_client, user)
    response = api_client.delete("/api/v1/jobs/job1", **bearer(other_user))
    assert response.status_code == 403
    assert response.json() == {"code": "ForbiddenUserError", "message": "User bob is not allowed to remove job job1."}
    assert PaiJob.objects.filter(pk=pai.pk).exists()
    assert current_tasks(pai)[0].job.status == JobStatus.INITED


def test_v1_delete_unknown_and_no_token(api_client, user):
    response = api_client.delete("/api/v1/jobs/ghost", **bearer(user))
    assert response.status_code == 404
    assert response.json() == {"code": "NoJobError", "message": "Job ghost is not found."}
    submitted(api_client, user)
    response = api_client.delete("/api/v1/jobs/job1")
    assert response.status_code == 401
    assert response.json() == GUEST
    assert PaiJob.objects.exists()


def test_v1_delete_finished_job(api_client, user):
    finish(submitted(api_client, user))
    response = api_client.delete("/api/v1/jobs/job1", **bearer(user))
    assert response.status_code == 202
    assert not PaiJob.objects.exists()


# === v1: executionType ===========================================================================================
def test_stop(api_client, user):
    pai = submitted(api_client, user, config(roles=[role(taskNumber=2)]))
    response = execution_type(api_client, "job1", {"value": "STOP"}, user)
    assert response.status_code == 202
    assert response.json() == {"message": "execute job job1 successfully"}
    pai.refresh_from_db()
    assert pai.execution_type == "STOP"
    assert {t.job.status for t in current_tasks(pai)} == {JobStatus.CANCELLED}
    pai_settle(pai_job_id=pai.pk)  # no-op if the stop already settled it
    status = api_client.get("/api/v1/jobs/job1").json()["jobStatus"]
    assert (status["state"], status["executionType"], status["appExitCode"]) == ("STOPPED", "STOP", 214)
    assert "alice" in status["appExitDiagnostics"]
    assert [
        s["taskState"] for s in api_client.get("/api/v1/jobs/job1").json()["taskRoles"]["main"]["taskStatuses"]
    ] == [
        "STOPPED",
        "STOPPED",
    ]
    seed = api_client.get("/api/job/job1").json()
    assert (seed["state"], seed["appExitCode"]) == ("STOPPED", 214)


def test_stop_running_job_waits_for_its_tasks(api_client, user, django_capture_on_commit_callbacks):
    pai = submitted(api_client, user)
    (task,) = current_tasks(pai)
    start_task(task)
    response = execution_type(api_client, "job1", {"value": "STOP"}, user)
    assert response.status_code == 202
    task.job.refresh_from_db()
    assert task.job.status == JobStatus.RUNNING and task.job.kill_requested_by == "alice"
    assert api_client.get("/api/v1/jobs/job1").json()["jobStatus"]["state"] == "RUNNING"
    with django_capture_on_commit_callbacks(execute=True):  # the runner's kill ends the task: the listener decides
        assert job_transition(job_id=task.job_id, to=JobStatus.CANCELLED)
    status = api_client.get("/api/v1/jobs/job1").json()["jobStatus"]
    assert (status["state"], status["appExitCode"]) == ("STOPPED", 214)


def test_start_on_live_job_changes_nothing(api_client, user):
    pai = submitted(api_client, user)
    response = execution_type(api_client, "job1", {"value": "START"}, user)
    assert response.status_code == 202
    assert response.json() == {"message": "execute job job1 successfully"}
    pai.refresh_from_db()
    assert pai.execution_type == "START" and pai.state == "WAITING"
    assert current_tasks(pai)[0].job.status == JobStatus.INITED


@pytest.mark.parametrize("value", ["STOP", "START"])
def test_execution_type_on_finished_job(api_client, user, value):
    finish(submitted(api_client, user))
    response = execution_type(api_client, "job1", {"value": value}, user)
    assert response.status_code == 409
    assert response.json()["code"] == "ConflictJobError"
    assert PaiJob.objects.get().state == "SUCCEEDED"


def test_execution_type_stop_twice(api_client, user):
    submitted(api_client, user)
    assert execution_type(api_client, "job1", {"value": "STOP"}, user).status_code == 202
    response = execution_type(api_client, "job1", {"value": "STOP"}, user)
    assert response.status_code == 409
    assert response.json()["code"] == "ConflictJobError"


@pytest.mark.parametrize("with_token", [False, True])
def test_execution_type_non_json_body(api_client, user, with_token):
    submitted(api_client, user)
    response = execution_type(
        api_client, "job1", "value=STOP", user if with_token else None, content_type="text/unknown"
    )
    assert response.status_code == 400  # the body is checked before the token (#909)
    assert response.json()["code"] == "InvalidParametersError"
    assert PaiJob.objects.get().execution_type == "START"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, 'child "value" fails because ["value" is required]'),
        ({"other": "STOP"}, 'child "value" fails because ["value" is required]'),
        ({"value": "PAUSE"}, 'child "value" fails because ["value" must be one of [START, STOP]]'),
        ({"value": "stop"}, 'child "value" fails because ["value" must be one of [START, STOP]]'),
        ({"value": 1}, 'child "value" fails because ["value" must be one of [START, STOP]]'),
    ],
)
def test_execution_type_bad_value(api_client, user, body, message):
    submitted(api_client, user)
    response = execution_type(api_client, "job1", body, user)
    assert response.status_code == 400
    assert response.json() == invalid(message)
    assert PaiJob.objects.get().execution_type == "START"


def test_execution_type_needs_token(api_client, user):
    submitted(api_client, user)
    response = execution_type(api_client, "job1", {"value": "STOP"}, None)
    assert response.status_code == 401
    assert response.json() == GUEST
    assert PaiJob.objects.get().execution_type == "START"


def test_execution_type_other_user(api_client, user, other_user):
    pai = submitted(api_client, user)
    response = execution_type(api_client, "job1", {"value": "STOP"}, other_user)
    assert response.status_code == 403
    assert response.json() == {"code": "ForbiddenUserError", "message": "User bob is not allowed to execute job job1."}
    pai.refresh_from_db()
    assert pai.execution_type == "START" and current_tasks(pai)[0].job.status == JobStatus.INITED


def test_execution_type_admin_stops_another_users_job(api_client, user, admin_user):
    pai = submitted(api_client, user)
    response = execution_type(api_client, "job1", {"value": "STOP"}, admin_user)
    assert response.status_code == 202
    assert response.json() == {"message": "execute job job1 successfully"}
    pai.refresh_from_db()
    assert (pai.state, pai.execution_type, pai.exit_code) == ("STOPPED", "STOP", 214)
    assert "root" in pai.exit_diagnostics


@pytest.mark.parametrize("with_token", [True, False])
def test_execution_type_unknown_job(api_client, user, with_token):
    response = execution_type(api_client, "ghost", {"value": "STOP"}, user if with_token else None)
    assert response.status_code == 404
    assert response.json() == {"code": "NoJobError", "message": "Job ghost is not found."}


# === completion policy as the API shows it =======================================================================
def test_failed_job_reports_exit_code(api_client, user):
    pai = submitted(api_client, user)
    (task,) = current_tasks(pai)
    start_task(task)
    assert job_transition(job_id=task.job_id, to=JobStatus.FAILED, exit_code=3, error_desc="boom")
    pai_settle(pai_job_id=pai.pk)
    status = api_client.get("/api/v1/jobs/job1").json()["jobStatus"]
    assert (status["state"], status["appExitCode"], status["subState"]) == ("FAILED", 3, "FRAMEWORK_COMPLETED")
    assert status["appExitDiagnostics"].startswith("Task main[0] failed with exit code 3.")
    assert status["appExitType"] == "NON_TRANSIENT"


def test_finish_listener_decides_after_commit(api_client, user, django_capture_on_commit_callbacks):
    pai = submitted(api_client, user, config(roles=[role(taskNumber=2)]))
    first, second = current_tasks(pai)
    with django_capture_on_commit_callbacks(execute=True):
        end_task(first)
    assert api_client.get("/api/v1/jobs/job1").json()["jobStatus"]["state"] == "RUNNING"
    with django_capture_on_commit_callbacks(execute=True):
        end_task(second)
    status = api_client.get("/api/v1/jobs/job1").json()["jobStatus"]
    assert (status["state"], status["appExitCode"]) == ("SUCCEEDED", 0)


def test_retry_starts_a_new_attempt(api_client, user):
    pai = submitted(api_client, user, config(retryCount=1))
    finish(pai, JobStatus.FAILED, 2)
    assert (pai.state, pai.attempt, pai.retries) == ("WAITING", 2, 1)
    detail = api_client.get("/api/v1/jobs/job1").json()
    assert detail["jobStatus"]["retries"] == 1 and detail["jobStatus"]["state"] == "WAITING"
    (task,) = detail["taskRoles"]["main"]["taskStatuses"]
    assert task["taskState"] == "WAITING" and task["attempt"] == 2
    finish(pai, JobStatus.FAILED, 5)
    assert (pai.state, pai.exit_code, pai.retries) == ("FAILED", 5, 1)


def test_min_succeeded_task_count_ends_the_job(api_client, user):
    pai = submitted(api_client, user, config(roles=[role(taskNumber=2, minSucceededTaskCount=1)]))
    first, second = current_tasks(pai)
    end_task(first)
    pai_settle(pai_job_id=pai.pk)
    pai.refresh_from_db()
    assert pai.state == "SUCCEEDED"
    second.job.refresh_from_db()
    assert second.job.status == JobStatus.CANCELLED


def test_failures_below_min_failed_are_tolerated(api_client, user):
    pai = submitted(api_client, user, config(roles=[role(taskNumber=2, minFailedTaskCount=2)]))
    first, second = current_tasks(pai)
    end_task(first, JobStatus.FAILED, 1)
    pai_settle(pai_job_id=pai.pk)
    assert api_client.get("/api/v1/jobs/job1").json()["jobStatus"]["state"] == "RUNNING"
    end_task(second)
    pai_settle(pai_job_id=pai.pk)
    assert api_client.get("/api/v1/jobs/job1").json()["jobStatus"]["state"] == "SUCCEEDED"


# === names are unique per owner ==================================================================================
def test_same_name_for_two_users(api_client, user, other_user):
    alice_job = submitted(api_client, user, config(image="alice-image"))
    bob_job = submitted(api_client, other_user, config(image="bob-image"))
    assert PaiJob.objects.filter(name="job1").count() == 2
    mine = api_client.get("/api/v1/jobs/job1", **bearer(user)).json()
    assert mine["jobStatus"]["username"] == "alice"
    assert api_client.get("/api/v1/jobs/job1", **bearer(other_user)).json()["jobStatus"]["username"] == "bob"
    for path in ("/api/v1/user/bob/jobs/job1", "/api/v1/jobs/bob~job1"):
        response = api_client.get(path, **bearer(user))
        assert response.status_code == 200
        assert response.json()["jobStatus"]["username"] == "bob"
    assert api_client.get("/api/v1/user/alice/jobs/job1/config").json()["image"] == "alice-image"
    assert api_client.get("/api/v1/jobs/bob~job1/config").json()["image"] == "bob-image"
    assert api_client.get("/api/v1/user/carol/jobs/job1").status_code == 404
    # Changing one user's job leaves the other's alone.
    assert execution_type(api_client, "job1", {"value": "STOP"}, other_user).status_code == 202
    alice_job.refresh_from_db()
    bob_job.refresh_from_db()
    assert (alice_job.execution_type, bob_job.execution_type) == ("START", "STOP")
    assert api_client.delete("/api/v1/user/alice/jobs/job1", **bearer(user)).status_code == 202
    assert list(PaiJob.objects.values_list("owner__username", flat=True)) == ["bob"]


def test_namespaced_routes_refuse_other_users(api_client, user, other_user):
    submitted(api_client, user)
    response = api_client.delete("/api/v1/user/alice/jobs/job1", **bearer(other_user))
    assert response.status_code == 403
    response = execution_type(api_client, "alice~job1", {"value": "STOP"}, other_user)
    assert response.status_code == 403
    assert PaiJob.objects.get().execution_type == "START"


# === task logs ===================================================================================================
def log_path(user: str = "alice", name: str = "job1", task_role: str = "main", index: int = 0) -> str:
    return f"/api/v1/user/{user}/jobs/{name}/tasks/{task_role}/{index}/log"


def test_task_log_owner(api_client, user):
    pai = submitted(api_client, user, config(roles=[role(command="echo the-task-command")]))
    response = api_client.get(log_path(), **bearer(user))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert "You have submitted a new job" in text and "echo the-task-command" in text
    job_id = current_tasks(pai)[0].job_id
    assert f"taskID is {job_id}" in text
    assert api_client.get("/api/v1/jobs/job1/tasks/main/0/log?fromLine=4&size=1", **bearer(user)).content == (
        b"echo the-task-command\n"
    )


def test_task_log_admin(api_client, user, admin_user):
    submitted(api_client, user)
    assert api_client.get(log_path(), **bearer(admin_user)).status_code == 200


def test_task_log_other_user(api_client, user, other_user):
    submitted(api_client, user)
    response = api_client.get(log_path(), **bearer(other_user))
    assert response.status_code == 403
    assert response.json()["code"] == "ForbiddenUserError"


def test_task_log_unknown(api_client, user):
    submitted(api_client, user)
    for path in (log_path(index=1), log_path(task_role="other"), log_path(name="ghost")):
        response = api_client.get(path, **bearer(user))
        assert response.status_code == 404, path
        assert response.json()["code"] == "NoJobError"


def test_task_log_needs_token(api_client, user):
    submitted(api_client, user)
    response = api_client.get(log_path())
    assert response.status_code == 401
    assert response.json() == GUEST


def test_task_log_route_in_schema(api_client, db):
    response = api_client.get("/api/schema/?format=json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/v1/user/{username}/jobs/{job_name}/tasks/{task_role}/{task_index}/log" in paths
    assert "/api/v1/jobs/{job_name}/tasks/{task_role}/{task_index}/log" in paths
    assert {"/api/job", "/api/job/{job_name}", "/api/v1/jobs", "/api/v1/jobs/{job_name}/executionType"} <= set(paths)


# === the tasks are jobs of the job core ==========================================================================
def test_tasks_are_jobs(api_client, user):
    body = config(
        roles=[role("ps", "echo ps", taskNumber=2), role("worker", "echo worker", taskNumber=3)],
        jobEnvs={"LR": 0.1, "DEBUG": True, "NAME": "x"},
        dataDir="/data/in",
        codeDir="/code",
    )
    pai = submitted(api_client, user, body)
    tasks = current_tasks(pai)
    assert [(t.role, t.index) for t in tasks] == [("ps", 0), ("ps", 1), ("worker", 0), ("worker", 1), ("worker", 2)]
    jobs = [t.job for t in tasks]
    assert Job.objects.count() == 5
    hosts: dict[str, list[str]] = {}
    for task, job in zip(tasks, jobs, strict=True):
        assert (job.source_api, job.creator, job.owner, job.status) == ("openpai", "OpenPAI", user, JobStatus.INITED)
        assert job.code == f"echo {task.role}"
        env = job.env
        assert env["PAI_JOB_NAME"] == "job1" and env["PAI_USER_NAME"] == "alice"
        assert env["PAI_CURRENT_TASK_ROLE_NAME"] == task.role
        assert env["PAI_CURRENT_TASK_ROLE_CURRENT_TASK_INDEX"] == str(task.index)
        assert env["PAI_DATA_DIR"] == "/data/in" and env["PAI_CODE_DIR"] == "/code"
        assert env["PAI_OUTPUT_DIR"].endswith("/Output/alice/job1")
        assert (env["LR"], env["DEBUG"], env["NAME"]) == ("0.1", "true", "x")
        for role_name in ("ps", "worker"):
            hosts.setdefault(role_name, env[f"PAI_TASK_ROLE_{role_name}_HOST_LIST"].split(","))
            assert env[f"PAI_TASK_ROLE_{role_name}_HOST_LIST"].split(",") == hosts[role_name]
        port = task.ports["default"][0]
        assert hosts[task.role][task.index] == f"127.0.0.1:{port}"
        assert env["PAI_CONTAINER_HOST_default_PORT_LIST"] == str(port)
    assert len(hosts["ps"]) == 2 and len(hosts["worker"]) == 3
    every = hosts["ps"] + hosts["worker"]
    assert len(set(every)) == len(every)  # ports distinct


def test_job_envs_do_not_override_pai_variables(api_client, user):
    pai = submitted(api_client, user, config(jobEnvs={"PAI_JOB_NAME": "spoofed", "PAI_USER_NAME": "root"}))
    env = current_tasks(pai)[0].job.env
    assert env["PAI_JOB_NAME"] == "job1" and env["PAI_USER_NAME"] == "alice"


def test_port_list(api_client, user):
    ports = [{"label": "http", "beginAt": 20000, "portNumber": 2}, {"label": "grpc", "portNumber": 3}]
    pai = submitted(api_client, user, config(roles=[role(portList=ports)]))
    (task,) = current_tasks(pai)
    assert task.ports["http"] == [20000, 20001]
    assert len(task.ports["grpc"]) == 3 and len(set(task.ports["grpc"])) == 3
    env = task.job.env
    assert env["PAI_CONTAINER_HOST_http_PORT_LIST"] == "20000,20001"
    assert env["PAI_CONTAINER_HOST_grpc_PORT_LIST"] == ",".join(map(str, task.ports["grpc"]))
    assert env["PAI_TASK_ROLE_main_HOST_LIST"] == "127.0.0.1:20000"
    detail = api_client.get("/api/v1/jobs/job1").json()
    assert detail["taskRoles"]["main"]["taskStatuses"][0]["containerPorts"] == {
        "http": "20000,20001",
        "grpc": ",".join(map(str, task.ports["grpc"])),
    }


def test_fixed_ports_of_several_tasks_are_distinct_or_refused(api_client, user):
    roles = [role(taskNumber=2, portList=[{"label": "http", "beginAt": 20000, "portNumber": 1}])]
    response = v1_post(api_client, config(roles=roles), user)
    if response.status_code == 400:  # refusing a fixed port shared by tasks on one host is right too
        assert response.json()["code"] == "InvalidParametersError"
        return
    assert response.status_code == 202
    first, second = current_tasks(PaiJob.objects.get())
    hosts = first.job.env["PAI_TASK_ROLE_main_HOST_LIST"].split(",")
    assert len(set(hosts)) == 2
    assert set(first.ports["http"]).isdisjoint(second.ports["http"])


def test_port_beyond_65535_refused(api_client, user):
    roles = [role(portList=[{"label": "http", "beginAt": 65535, "portNumber": 2}])]
    response = v1_post(api_client, config(roles=roles), user)
    assert response.status_code == 400
    assert response.json()["code"] == "InvalidParametersError"


def test_tasks_in_linkis_job_history(api_client, user, other_user):
    pai = submitted(api_client, user, config(roles=[role(command="echo via-history")]))
    job_id = current_tasks(pai)[0].job_id
    body = api_client.get(f"/api/rest_j/v1/jobhistory/{job_id}/get", **bearer(user)).json()
    assert body["status"] == 0
    task = body["data"]["task"]
    assert task["taskID"] == job_id and task["umUser"] == "alice"
    assert task["requestApplicationName"] == "OpenPAI" and task["status"] == "Inited"
    assert task["executionCode"] == "echo via-history"
    other = api_client.get(f"/api/rest_j/v1/jobhistory/{job_id}/get", **bearer(other_user)).json()
    assert other["status"] == 1


# === the admin ===================================================================================================
@pytest.fixture
def admin_client(client, admin_user):
    assert client.post("/admin/login/", {"username": "root", "password": PASSWORD}).status_code == 302
    return client


def test_admin_lists_and_shows_jobs(api_client, admin_client, user):
    pai = submitted(api_client, user, config("visible", roles=[role(taskNumber=2)]))
    response = admin_client.get("/admin/jobs/paijob/")
    assert response.status_code == 200
    assert b"visible" in response.content
    assert f"/admin/jobs/paijob/{pai.pk}/change/".encode() in response.content
    response = admin_client.get(f"/admin/jobs/paijob/{pai.pk}/change/")
    assert response.status_code == 200
    text = response.content.decode()
    for task in current_tasks(pai):
        assert f'href="/admin/jobs/job/{task.job_id}/change/"' in text
    assert "WAITING" in text and "echo hello" in text
    # A read-only page: no Save buttons that would answer a bare 403 (Delete stays: staff may delete).
    assert 'name="_save"' not in text and 'name="_continue"' not in text and 'name="_addanother"' not in text
    assert "deletelink" in text


def test_admin_stop_action(api_client, admin_client, user):
    pai = submitted(api_client, user)
    response = admin_client.post(
        "/admin/jobs/paijob/", {"action": "stop_jobs", "_selected_action": [pai.pk]}, follow=True
    )
    assert response.status_code == 200
    assert b"Alice~job1: stopping." in response.content  # the admin capitalises messages
    pai.refresh_from_db()
    assert (pai.state, pai.execution_type, pai.exit_code) == ("STOPPED", "STOP", 214)
    assert current_tasks(pai)[0].job.status == JobStatus.CANCELLED


# === the documented bodies are the parsers' own schemas ============================================================
def test_the_openapi_document_describes_job_configs_with_the_validators_schema(admin_user, api_client):
    import jsonschema

    from jobs.openpai.config import JOB_SCHEMA

    document = api_client.get("/api/schema/?format=json", **bearer(admin_user)).json()
    body = document["paths"]["/api/v1/jobs"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == JOB_SCHEMA.json_schema()
    accepted = config()
    jsonschema.validate(accepted, body)  # what the validator takes, the schema documents
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**accepted, "killAllOnCompletedTaskNumber": 1}, body)
