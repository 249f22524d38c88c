"""The Linkis entrance REST contract from outside (contracts/linkis.md §3), without running jobs."""

import pytest

from jobs.models import Job, JobStatus
from jobs.services import job_transition
from tests.conftest import bearer

pytestmark = pytest.mark.django_db

E = "/api/rest_j/v1/entrance"


def submit_body(code="print(1)", engine="python-python2", run_type="python", **extra):
    return {"executionContent": {"code": code, "runType": run_type}, "labels": {"engineType": engine}, **extra}


def execute_body(code="print(1)", app="python", run_type="python", **extra):
    return {"executeApplicationName": app, "executionCode": code, "runType": run_type, "params": {}, **extra}


def post(client, path, body, user):
    return client.post(path, body, content_type="application/json", **bearer(user))


def error(response):
    body = response.json()
    return response.status_code, body["status"], body["data"].get("errorMsg", {}).get("errCode"), body["message"]


# --- execute / submit -------------------------------------------------------------------------------------------
def test_submit_answers_exec_id_and_task_id(client, user):
    response = post(client, f"{E}/submit", submit_body(), user)
    assert response.status_code == 200
    body = response.json()
    job = Job.objects.get()
    assert body == {
        "method": "/api/entrance/submit",
        "status": 0,
        "message": "OK",
        "data": {"execID": job.exec_id, "taskID": job.pk},
    }
    assert body["data"]["execID"].startswith("exec_id018014linkis-cg-entrance127.0.0.1:8000IDE_alice_python_")
    assert (job.status, job.engine, job.submit_user, job.creator) == (JobStatus.INITED, "python", "alice", "IDE")


def test_execute_answers_with_its_own_method_and_defaults(client, user):
    response = post(client, f"{E}/execute", execute_body(app="shell", run_type="sh", code="echo hi"), user)
    body = response.json()
    assert body["method"] == "/api/entrance/execute" and body["status"] == 0
    job = Job.objects.get()
    assert (job.engine_type, job.engine, job.creator) == ("shell-1", "shell", "IDE")


def test_execute_run_type_defaults_to_sql(client, user):
    post(client, f"{E}/execute", {"executeApplicationName": "jdbc", "executionCode": "select 1"}, user)
    job = Job.objects.get()
    assert (job.run_type, job.engine) == ("sql", "sql")


def test_submit_user_creator_and_variables(client, user):
    body = submit_body(code="print('${x}')", params={"variable": {"x": 42}})
    body["labels"]["userCreator"] = "alice-Scheduler"
    post(client, f"{E}/submit", body, user)
    job = Job.objects.get()
    assert job.creator == "Scheduler" and job.code == "print('42')"


@pytest.mark.parametrize(
    ("body", "err_code", "fragment"),
    [
        ({"executionContent": {"code": "x", "runType": "py"}}, 20008, "labels is null"),
        ({"executionContent": {"code": "x", "runType": "py"}, "labels": {}}, 20008, "labels is null"),
        ({"executionContent": {"runType": "py"}, "labels": {"engineType": "python"}}, 20010, "executionCode"),
        ({"executionContent": {"code": " ", "runType": "py"}, "labels": {"engineType": "python"}}, 20007, "empty"),
        ({"executionContent": {"code": "x", "runType": "py"}, "labels": {"codeType": "py"}}, 20009, "engineTypeLabel"),
        ({"executionContent": {"code": "x"}, "labels": {"engineType": "python"}}, 20009, "runType"),
        ({"executionContent": {"code": "x", "runType": "r"}, "labels": {"engineType": "python"}}, 20009, "'r'"),
        ({"executionContent": {"code": "x", "runType": "py"}, "labels": {"engineType": "flink"}}, 20009, "flink"),
    ],
)
def test_submit_errors(client, user, body, err_code, fragment):
    response = post(client, f"{E}/submit", body, user)
    status, linkis_status, code, message = error(response)
    assert (status, linkis_status, code) == (400, 1, err_code)
    assert message.startswith(f"error code(错误码): {err_code}, error message(错误信息): ") and fragment in message
    assert response.json()["method"] is None
    errmsg = response.json()["data"]["errorMsg"]
    assert errmsg["level"] == 2 and errmsg["serviceKind"] == "linkis-cg-entrance"
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    ("body", "err_code"),
    [
        ({"executeApplicationName": "python", "runType": "python"}, 20007),
        ({"executeApplicationName": "python", "executionCode": "", "source": {"scriptPath": "/a.py"}}, 20007),
        ({"executionCode": "print(1)", "runType": "python"}, 20009),
        ({"executeApplicationName": "python", "executionCode": "x", "params": "nope"}, 20008),
    ],
)
def test_execute_errors(client, user, body, err_code):
    status, linkis_status, code, _ = error(post(client, f"{E}/execute", body, user))
    assert (status, linkis_status, code) == (400, 1, err_code)
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"configuration": "x"}, "params.configuration must be an object"),
        ({"configuration": {"runtime": "x"}}, "params.configuration.runtime must be an object"),
        ({"configuration": {"startup": [1]}}, "params.configuration.startup must be an object"),
        ({"configuration": {"special": 5}}, "params.configuration.special must be an object"),
        ({"configuration": {"runtime": {"openmldb.db": ["x"]}}}, "runtime.openmldb.db must be a string, got ['x']"),
        ({"configuration": {"runtime": {"wds.linkis.openmldb.db": 7}}}, "wds.linkis.openmldb.db must be a string"),
        ({"variable": "x"}, "params.variable must be an object"),
    ],
)
@pytest.mark.parametrize("route", ["submit", "execute"])
def test_wrongly_typed_params_are_refused_at_submit(client, user, route, params, fragment):
    body = submit_body(params=params) if route == "submit" else execute_body(params=params)
    response = post(client, f"{E}/{route}", body, user)
    status, linkis_status, code, message = error(response)
    assert (status, linkis_status, code) == (400, 1, 20008)
    assert message.startswith("error code(错误码): 20008, error message(错误信息): ") and fragment in message
    assert not Job.objects.exists()


def test_well_typed_params_are_kept(client, user):
    runtime = {"openmldb.db": "fs", "spark.executor.memory": "2g"}
    params = {"variable": {"x": "1"}, "configuration": {"startup": {}, "runtime": runtime, "special": {}}}
    assert post(client, f"{E}/submit", submit_body(params=params), user).status_code == 200
    assert Job.objects.get().params == params


def test_non_json_and_wrong_types(client, user):
    response = client.post(f"{E}/submit", "not json", content_type="application/json", **bearer(user))
    assert response.status_code == 400 and response.json()["status"] == 1
    response = post(client, f"{E}/submit", [1, 2], user)
    assert response.status_code == 400 and "must be a JSON object" in response.json()["message"]
    response = post(client, f"{E}/submit", {"executionContent": "x", "labels": {"engineType": "python"}}, user)
    assert response.json()["data"]["errorMsg"]["errCode"] == 20008


def test_oversized_code_refused(client, user, settings):
    settings.JOB_MAX_CODE_BYTES = 100
    status, _, code, message = error(post(client, f"{E}/submit", submit_body(code="x" * 200), user))
    assert (status, code) == (400, 20007) and "over the limit of 100 bytes" in message
    assert not Job.objects.exists()


def test_full_queue_is_a_clear_error(client, user, settings):
    settings.JOB_QUEUE_CAPACITY = 1
    post(client, f"{E}/submit", submit_body(), user)
    status, _, code, message = error(post(client, f"{E}/submit", submit_body(), user))
    assert (status, code) == (400, 30009) and "queue is full" in message
    assert Job.objects.count() == 1


def test_execute_user_only_for_admins(client, user, admin_user):
    response = post(client, f"{E}/submit", submit_body(executeUser="bob"), user)
    assert response.status_code == 400 and "may not submit jobs as bob" in response.json()["message"]
    post(client, f"{E}/submit", submit_body(executeUser="bob"), admin_user)
    assert Job.objects.get().execute_user == "bob"


def test_admin_token_may_set_execute_user(client, user, admin_user):
    from dataplatform.accounts.services import api_token_create

    _, code = api_token_create(name="sched", created_by=admin_user, is_admin_token=True)
    response = client.post(
        f"{E}/submit", submit_body(executeUser="bob"), content_type="application/json",
        HTTP_TOKEN_CODE=code, HTTP_TOKEN_USER="alice",
    )  # fmt: skip
    assert response.json()["status"] == 0
    assert Job.objects.get().execute_user == "bob"


def test_unauthenticated_submit_is_minus_1(client, db):
    response = client.post(f"{E}/submit", submit_body(), content_type="application/json")
    assert response.status_code == 401
    assert response.json()["method"] == "/api/rest_j/v1/entrance/submit" and response.json()["status"] == -1


# --- status, progress, pause ------------------------------------------------------------------------------------
@pytest.fixture
def job(client, user):
    post(client, f"{E}/submit", submit_body(), user)
    return Job.objects.get()


def test_status_by_exec_id(client, user, job):
    response = client.get(f"{E}/{job.exec_id}/status", **bearer(user))
    assert response.json() == {
        "method": f"/api/entrance/{job.exec_id}/status",
        "status": 0,
        "message": "OK",
        "data": {"status": "Inited", "execID": job.exec_id},
    }


def test_status_by_bare_task_id_and_query_task_id(client, user, job):
    data = client.get(f"{E}/{job.pk}/status", **bearer(user)).json()["data"]
    assert data == {"status": "Inited", "execID": job.exec_id, "taskID": job.pk}
    data = client.get(f"{E}/unknown-exec-id/status?taskID={job.pk}", **bearer(user)).json()["data"]
    assert data["status"] == "Inited"


def test_status_by_deprecated_exec_id(client, user, job):
    short = job.short_exec_id
    deprecated = f"{len('IDE'):02d}{len('python'):02d}{len(job.instance):02d}IDEpython{job.instance}{short}"
    assert client.get(f"{E}/{deprecated}/status", **bearer(user)).json()["data"]["status"] == "Inited"


def test_status_unknown_and_foreign_jobs(client, other_user, job):
    missing = "ID The corresponding job is empty and cannot obtain the corresponding task status."
    for ident in ("exec_id018014linkis-cg-entrance127.0.0.1:8000IDE_bob_python_999", str(job.pk), "garbage"):
        response = client.get(f"{E}/{ident}/status", **bearer(other_user))
        assert response.status_code == 400
        body = response.json()
        assert body["status"] == 1 and body["message"].startswith(missing)
        assert body["method"] == f"/api/entrance/{ident}/status"


def test_exec_id_with_wrong_short_id_does_not_resolve(client, user, job):
    forged = job.exec_id.replace("IDE_alice", "IDE_eve")
    assert client.get(f"{E}/{forged}/status", **bearer(user)).json()["status"] == 1


def test_admin_sees_every_job(client, admin_user, job):
    assert client.get(f"{E}/{job.pk}/status", **bearer(admin_user)).json()["status"] == 0


def test_progress_and_progress_with_resource(client, user, job):
    job_transition(job_id=job.pk, to=JobStatus.SCHEDULED)
    job_transition(job_id=job.pk, to=JobStatus.RUNNING)
    info = [{"id": "1", "succeedTasks": 1, "failedTasks": 0, "runningTasks": 1, "totalTasks": 4},
            {"id": "2", "succeedTasks": 0, "failedTasks": 0, "runningTasks": 0, "totalTasks": 0}]  # fmt: skip
    Job.objects.filter(pk=job.pk).update(progress=0.25, progress_info=info)
    body = client.get(f"{E}/{job.exec_id}/progress", **bearer(user)).json()
    assert body["method"] == f"/api/entrance/{job.exec_id}/progress"
    assert body["data"] == {"progress": 0.25, "progressInfo": info[:1], "execID": job.exec_id}
    body = client.get(f"{E}/{job.exec_id}/progressWithResource", **bearer(user)).json()
    assert body["data"]["yarnResource"] is None and body["data"]["progress"] == 0.25
    job_transition(job_id=job.pk, to=JobStatus.FAILED)
    assert client.get(f"{E}/{job.exec_id}/progress", **bearer(user)).json()["data"]["progress"] == 1.0


def test_pause_succeeds_and_does_nothing(client, user, job):
    body = client.get(f"{E}/{job.exec_id}/pause", **bearer(user)).json()
    assert body == {
        "method": f"/api/entrance/{job.exec_id}/pause",
        "status": 0,
        "message": "success to pause job (成功pause了job)",
        "data": {"execID": job.exec_id},
    }
    job.refresh_from_db()
    assert job.status == JobStatus.INITED
    assert client.get(f"{E}/nope/pause", **bearer(user)).json()["status"] == 1


# --- log --------------------------------------------------------------------------------------------------------
def test_log_first_page_is_the_submission_lines(client, user, job):
    body = client.get(f"{E}/{job.exec_id}/log?fromLine=1&size=100", **bearer(user)).json()
    assert body["method"] == f"/api/entrance/{job.exec_id}/log"
    data = body["data"]
    assert data["execID"] == job.exec_id and data["fromLine"] == job.log_lines + 1
    error_log, warn_log, info_log, all_log = data["log"]
    assert error_log == "" and warn_log == "" and "SCRIPT CODE" in all_log and "print(1)" in all_log
    assert all_log.count("\n") == job.log_lines - 1  # joined without a trailing newline


def test_log_paging_never_loses_or_repeats_a_line(client, user, job):
    from jobs.logstore import LogEntry, log_append

    log_append(job_id=job.pk, entries=[LogEntry("INFO", f"line {i}") for i in range(25)] + [LogEntry("INFO", "")])
    job.refresh_from_db()
    seen, cursor = [], 0  # start at 0, as UJESClient-style clients may
    for _ in range(20):
        data = client.get(f"{E}/{job.exec_id}/log?fromLine={cursor}&size=7", **bearer(user)).json()["data"]
        chunk = data["log"][3]
        if data["fromLine"] == max(cursor, 1):
            assert chunk == ""
            break
        seen.extend(chunk.split("\n"))
        cursor = data["fromLine"]
    assert len(seen) == job.log_lines
    assert sum(1 for line in seen if line.endswith("INFO ")) == 1  # the blank line is a line of its own


def test_log_past_the_end_and_distinct_level_false(client, user, job):
    data = client.get(f"{E}/{job.exec_id}/log?fromLine=999", **bearer(user)).json()["data"]
    assert data["log"] == ["", "", "", ""] and data["fromLine"] == 999
    data = client.get(f"{E}/{job.exec_id}/log?distinctLevel=false&size=2", **bearer(user)).json()["data"]
    assert isinstance(data["log"], str) and data["log"].count("\n") == 1 and data["fromLine"] == 3


def test_log_size_minus_one_reads_everything(client, user, job):
    data = client.get(f"{E}/{job.exec_id}/log?size=-1", **bearer(user)).json()["data"]
    assert data["fromLine"] == job.log_lines + 1


def test_log_bad_parameters(client, user, job):
    response = client.get(f"{E}/{job.exec_id}/log?fromLine=abc", **bearer(user))
    assert response.status_code == 400 and "fromLine must be an integer" in response.json()["message"]


# --- kill -------------------------------------------------------------------------------------------------------
def test_kill_queued_job(client, user, job):
    body = client.get(f"{E}/{job.exec_id}/kill?taskID={job.pk}", **bearer(user)).json()
    assert body == {
        "method": f"/api/entrance/{job.exec_id}/kill",
        "status": 0,
        "message": "Successfully killed the job(成功kill了job)",
        "data": {"execID": job.exec_id},
    }
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED


def test_kill_by_post_and_task_id(client, user, job):
    assert client.post(f"{E}/{job.pk}/kill", **bearer(user)).json()["status"] == 0


def test_kill_completed_job_keeps_its_status(client, user, job):
    for status in (JobStatus.SCHEDULED, JobStatus.RUNNING, JobStatus.SUCCEED):
        job_transition(job_id=job.pk, to=status)
    body = client.get(f"{E}/{job.exec_id}/kill", **bearer(user)).json()
    assert body["status"] == 1 and body["message"] == "The job already completed. Do not support kill."
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEED


def test_kill_other_users_job_refused(client, other_user, job):
    body = client.get(f"{E}/{job.exec_id}/kill", **bearer(other_user)).json()
    assert body["status"] == 1
    assert body["message"] == "You have no permission to kill this job, excecute by user:alice"
    job.refresh_from_db()
    assert job.status == JobStatus.INITED


def test_kill_unknown(client, user, db):
    body = client.get(f"{E}/nothing/kill", **bearer(user)).json()
    assert body["status"] == 1 and body["message"] == "Get job by ID error, kill failed."


def test_kill_jobs_batch(client, user, job):
    other = Job.objects.get(pk=post(client, f"{E}/submit", submit_body(), user).json()["data"]["taskID"])
    body = post(client, f"{E}/any/killJobs", {"idList": [job.exec_id, "bad"], "taskIDList": [job.pk, "7"]}, user)
    body = body.json()
    assert body["status"] == 0 and body["message"] == "success"
    messages = body["data"]["messages"]
    assert [m["status"] for m in messages] == [0, 1]
    assert messages[0]["method"] == f"/api/entrance/{job.exec_id}/kill"
    job.refresh_from_db()
    other.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and other.status == JobStatus.INITED


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"idList": ["a"], "taskIDList": []}, "The length of the ID list does not match"),
        ({"idList": "a", "taskIDList": [1]}, "Request parameter error, please use array"),
    ],
)
def test_kill_jobs_bad_lists(client, user, body, message):
    response = post(client, f"{E}/x/killJobs", body, user)
    assert response.json()["status"] == 1 and response.json()["message"].startswith(message)


# --- metrics ----------------------------------------------------------------------------------------------------
def test_running_task_metric(client, user, job):
    data = client.get(f"{E}/operation/metrics/runningtask", **bearer(user)).json()["data"]
    assert data == {"runningTaskNumber": 0, "isCompleted": True}
    job_transition(job_id=job.pk, to=JobStatus.SCHEDULED)
    data = client.get(f"{E}/operation/metrics/runningtask", **bearer(user)).json()["data"]
    assert data == {"runningTaskNumber": 1, "isCompleted": False}


def test_task_info_metric(client, user, other_user, job):
    data = client.get(f"{E}/operation/metrics/taskinfo", **bearer(user)).json()["data"]
    assert data == {"taskNumber": 1, "runningNumber": 0, "queuedNumber": 1}
    response = client.get(f"{E}/operation/metrics/taskinfo?user=alice", **bearer(other_user))
    assert response.json()["status"] == 1


# --- job history ------------------------------------------------------------------------------------------------
def test_history_get_has_query_task_vo_fields(client, user, job):
    body = client.get(f"/api/rest_j/v1/jobhistory/{job.pk}/get", **bearer(user)).json()
    assert body["method"] == f"/api/jobhistory/{job.pk}/get" and body["status"] == 0
    task = body["data"]["task"]
    assert task["taskID"] == job.pk and task["strongerExecId"] == job.exec_id
    assert task["execId"] == f"IDE_alice_python_{job.pk}" and task["umUser"] == "alice"
    assert task["status"] == "Inited" and task["progress"] == "0.0" and task["errCode"] is None
    assert isinstance(task["createdTime"], int) and task["createdTime"] > 1_700_000_000_000
    assert task["logPath"].startswith("file://") and task["resultLocation"].endswith(f"/{job.pk}/result")
    assert task["requestApplicationName"] == "IDE" and task["executeApplicationName"] == "python"
    assert "engineType:python-python2" in task["labels"] and task["runType"] == "python"
    assert task["executionCode"] == "print(1)"


def test_history_get_hides_others_and_unknown(client, other_user, job):
    for task_id in (job.pk, 99999):
        body = client.get(f"/api/rest_j/v1/jobhistory/{task_id}/get", **bearer(other_user)).json()
        assert body["status"] == 1 and body["message"].startswith("The corresponding job was not found")


def test_history_list_filters_and_pages(client, user, other_user, admin_user, django_assert_max_num_queries):
    for _ in range(3):
        post(client, f"{E}/submit", submit_body(), user)
    post(client, f"{E}/submit", submit_body(), other_user)
    first = Job.objects.filter(owner=user).order_by("id").first()
    job_transition(job_id=first.pk, to=JobStatus.SCHEDULED)
    with django_assert_max_num_queries(6):
        data = client.get("/api/rest_j/v1/jobhistory/list?pageNow=1&pageSize=2", **bearer(user)).json()["data"]
    assert data["totalPage"] == 3 and len(data["tasks"]) == 2
    assert data["tasks"][0]["taskID"] > data["tasks"][1]["taskID"]  # newest first
    data = client.get("/api/rest_j/v1/jobhistory/list?status=Scheduled,Running", **bearer(user)).json()["data"]
    assert [task["taskID"] for task in data["tasks"]] == [first.pk]
    data = client.get("/api/rest_j/v1/jobhistory/list?isAdminView=true", **bearer(admin_user)).json()["data"]
    assert data["totalPage"] == 4
    data = client.get("/api/rest_j/v1/jobhistory/list?isAdminView=true", **bearer(user)).json()["data"]
    assert data["totalPage"] == 3
    data = client.get(f"/api/rest_j/v1/jobhistory/list?taskID={first.pk}", **bearer(user)).json()["data"]
    assert data["totalPage"] == 1
    data = client.get("/api/rest_j/v1/jobhistory/list?startDate=4102444800000", **bearer(user)).json()["data"]
    assert data["totalPage"] == 0


def test_history_totals_on_every_page_and_a_last_page_needs_no_count(client, user, settings):
    for _ in range(3):
        post(client, f"{E}/submit", submit_body(), user)

    def page(now: int, size: int) -> tuple[int, int, int]:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            data = client.get(f"/api/rest_j/v1/jobhistory/list?pageNow={now}&pageSize={size}", **bearer(user))
        data = data.json()["data"]
        counts = sum("COUNT(" in query["sql"].upper() for query in queries)
        return data["totalPage"], len(data["tasks"]), counts

    assert page(1, 2) == (3, 2, 1)  # a full page: the total is counted
    assert page(2, 2) == (3, 1, 0)  # the last page, not full: 2 before it and 1 on it
    assert page(3, 2) == (3, 0, 1)  # past the end: counted
    assert page(1, 10) == (3, 3, 0)
    assert page(1, 3) == (3, 3, 1)  # exactly full: there may be more


def test_the_history_representation_is_drfs_field_by_field_one(user):
    """QueryTaskVOSerializer builds its dict directly; DRF's walk over its declared fields gives the same."""
    from rest_framework import serializers

    from jobs.linkis.serializers import QueryTaskVOSerializer
    from jobs.services import JobSpec, job_submit

    spec = JobSpec(code="print(1)", engine_type="python-python2", run_type="python", source={"scriptPath": "/a.py"})
    jobs = [job_submit(owner=user, spec=spec) for _ in range(3)]
    job_transition(job_id=jobs[1].pk, to=JobStatus.SCHEDULED)
    job_transition(job_id=jobs[1].pk, to=JobStatus.RUNNING)
    for status in (JobStatus.SCHEDULED, JobStatus.RUNNING, JobStatus.FAILED):
        extra = {"error_code": 40000, "error_desc": "bad"} if status == JobStatus.FAILED else {}
        job_transition(job_id=jobs[2].pk, to=status, **extra)
    Job.objects.filter(pk=jobs[0].pk).update(labels={"tenant": "t1", "limits": {"cpu": 2}}, pid=4242)
    for job in Job.objects.filter(pk__in=[job.pk for job in jobs]):
        serializer = QueryTaskVOSerializer()
        walked = serializers.ModelSerializer.to_representation(serializer, job)
        assert serializer.to_representation(job) == dict(walked)
        assert list(serializer.to_representation(job)) == list(walked)  # the same keys in the same order


# --- filesystem permissions -------------------------------------------------------------------------------------
def test_filesystem_refuses_paths_outside_own_jobs(client, user, other_user, job):
    for path in ("file:///etc", "/etc/passwd", f"file://{job.result_dir}/../../../etc", ""):
        body = client.get(f"/api/rest_j/v1/filesystem/getDirFileTrees?path={path}", **bearer(user)).json()
        assert body["status"] == 1 and body["data"]["errorMsg"]["errCode"] == 80010
    body = client.get(
        f"/api/rest_j/v1/filesystem/getDirFileTrees?path=file://{job.result_dir}", **bearer(other_user)
    ).json()
    assert body["status"] == 1


def test_dir_tree_of_a_job_without_results_is_null(client, user, job):
    body = client.get(f"/api/rest_j/v1/filesystem/getDirFileTrees?path=file://{job.result_dir}", **bearer(user))
    assert body.json()["data"] == {"dirFileTrees": None}


def test_open_log_reads_the_whole_log(client, user, job):
    body = client.get(f"/api/rest_j/v1/filesystem/openLog?path=file://{job.log_file}", **bearer(user)).json()
    assert body["status"] == 0 and "SCRIPT CODE" in body["data"]["log"][3]


# --- query counts ------------------------------------------------------------------------------------------------
def test_history_list_queries_do_not_grow_with_the_jobs(
    client, user, other_user, admin_user, django_assert_max_num_queries
):
    from jobs.services import JobSpec, job_submit

    def add_jobs(count: int) -> None:
        for index in range(count):
            owner = (user, other_user)[index % 2]
            spec = JobSpec(code=f"print({index})", engine_type="python-python2", run_type="python")
            job = job_submit(owner=owner, spec=spec)
            for status in (JobStatus.SCHEDULED, JobStatus.RUNNING, JobStatus.FAILED)[: index % 4]:
                failure = {"error_code": 40000, "error_desc": "bad"} if status == JobStatus.FAILED else {}
                job_transition(job_id=job.pk, to=status, **failure)

    auth = bearer(admin_user)

    def listed() -> list[dict]:
        response = client.get("/api/rest_j/v1/jobhistory/list?isAdminView=true&pageSize=100", **auth)
        return response.json()["data"]["tasks"]

    add_jobs(3)
    listed()  # first-request caches (the user, the content types) do not count
    with django_assert_max_num_queries(3) as few:
        assert len(listed()) == 3
    few = len(few)  # counted now: a later request starts the connection's query log afresh
    add_jobs(20)
    with django_assert_max_num_queries(few):
        assert len(listed()) == 23
