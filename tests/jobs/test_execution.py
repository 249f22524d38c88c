"""Jobs really run: the local runner, the engines, kill, timeout, limits, results and restart, through the API."""

import os
import signal
from pathlib import Path

import pytest

from jobs.models import Job, JobStatus
from tests.conftest import bearer, eventually
from tests.jobs.conftest import cmdline, descendants, log_text, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

E = "/api/rest_j/v1/entrance"
FS = "/api/rest_j/v1/filesystem"


def submit(client, user, code, engine="python-python2", run_type="python", labels=None, **extra):
    body = {
        "executionContent": {"code": code, "runType": run_type},
        "labels": {"engineType": engine, **(labels or {})},
        **extra,
    }
    response = client.post(f"{E}/submit", body, content_type="application/json", **bearer(user))
    assert response.json()["status"] == 0, response.json()
    return response.json()["data"]


def results(client, user, job):
    tree = client.get(f"{FS}/getDirFileTrees?path=file://{job.result_dir}", **bearer(user)).json()["data"]
    opened = []
    for child in (tree["dirFileTrees"] or {"children": []})["children"]:
        opened.append(client.get(f"{FS}/openFile?path={child['path']}", **bearer(user)).json()["data"])
    return tree, opened


def test_python_job_runs_to_succeed_with_log_and_history(client, user, runner):
    data = submit(client, user, "print('hello from python')\nprint(6 * 7)")
    job = wait_for(data["taskID"])
    assert job.status == JobStatus.SUCCEED and job.progress == 1.0 and job.exit_code == 0
    assert job.started_at and job.finished_at and job.scheduled_at
    log = client.get(f"{E}/{data['execID']}/log?fromLine=1&size=-1", **bearer(user)).json()["data"]["log"]
    info_lines = log[2].split("\n")
    assert any(line.endswith(" INFO hello from python") for line in info_lines)
    assert any(line.endswith(" INFO 42") for line in info_lines)
    assert log[3].split("\n")[0].endswith("INFO Engine: python (engineType python-python2, runType python).")
    status = client.get(f"{E}/{data['execID']}/status", **bearer(user)).json()["data"]["status"]
    assert status == "Succeed"
    task = client.get(f"/api/rest_j/v1/jobhistory/{job.pk}/get", **bearer(user)).json()["data"]["task"]
    assert task["status"] == "Succeed" and task["progress"] == "1.0" and task["costTime"] >= 0
    assert Path(job.log_file).read_text().count("\n") == job.log_lines
    tree, opened = results(client, user, job)
    assert tree["dirFileTrees"] is None or tree["dirFileTrees"]["children"] == []  # print is log only


def test_python_show_makes_a_table_result_set(client, user, runner):
    code = "rows = [{'name': 'a', 'n': 1}, {'name': 'b', 'n': None}]\nshow(rows)"
    job = wait_for(submit(client, user, code)["taskID"])
    assert job.status == JobStatus.SUCCEED, log_text(job.pk)
    tree, opened = results(client, user, job)
    assert [child["name"] for child in tree["dirFileTrees"]["children"]] == ["_0.dolphin"]
    result = opened[0]
    assert result["type"] == "2" and result["totalLine"] == 2 and result["page"] == 1
    assert [column["columnName"] for column in result["metadata"]] == ["name", "n"]
    assert result["fileContent"] == [["a", "1"], ["b", "NULL"]]


def test_shell_stdout_is_log_and_text_result(client, user, runner):
    job = wait_for(submit(client, user, "echo one\necho two >&2\necho three", "shell-1", "sh")["taskID"])
    assert job.status == JobStatus.SUCCEED
    log = log_text(job.pk)
    assert " INFO one" in log and " ERROR two" in log
    _, opened = results(client, user, job)
    assert opened[0]["type"] == "1" and opened[0]["fileContent"] == [["one"], ["three"]]


def test_duckdb_job_makes_table_results(client, user, runner):
    code = "create table t as select range as id from range(3);\nselect id, id * 2 as twice from t order by id;"
    job = wait_for(submit(client, user, code, "duckdb", "sql")["taskID"])
    assert job.status == JobStatus.SUCCEED, log_text(job.pk)
    _, opened = results(client, user, job)
    assert opened[-1]["fileContent"] == [["0", "0"], ["1", "2"], ["2", "4"]]
    assert [column["dataType"] for column in opened[-1]["metadata"]] == ["bigint", "bigint"]


def test_failing_job_is_failed_with_error_code_and_reason(client, user, runner):
    job = wait_for(submit(client, user, "x = 1\nraise ValueError('bad input')")["taskID"])
    assert job.status == JobStatus.FAILED and job.exit_code == 1
    assert job.error_code == 40000 and "ValueError: bad input" in job.error_desc
    task = client.get(f"/api/rest_j/v1/jobhistory/{job.pk}/get", **bearer(user)).json()["data"]["task"]
    assert task["errCode"] == 40000 and "bad input" in task["errDesc"]
    assert "ERROR Traceback" in log_text(job.pk)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]


def test_kill_ends_the_whole_process_tree(client, user, runner):
    code = "sleep 300 &\necho started\nwait"
    data = submit(client, user, code, "shell-1", "sh")
    job = wait_for(data["taskID"], {JobStatus.RUNNING})
    engine_pid = job.pid
    child = eventually(lambda: next((pid for pid in descendants(engine_pid) if cmdline(pid) == "sleep 300"), None))
    assert _alive(child) and _alive(engine_pid)
    body = client.get(f"{E}/{data['execID']}/kill", **bearer(user)).json()
    assert body["status"] == 0
    job = wait_for(job.pk)
    assert job.status == JobStatus.CANCELLED
    eventually(lambda: not _alive(child) and not _alive(engine_pid), message="the process tree outlived the kill")
    assert "was kill by user successfully" in log_text(job.pk)


def test_kill_escalates_to_sigkill_after_grace(client, user, runner):
    code = (
        "import signal, time\n"
        "signal.signal(signal.SIGTERM, lambda *_: print('got SIGTERM, ignoring it', flush=True))\n"
        "print('ignoring', flush=True)\ntime.sleep(300)"
    )
    data = submit(client, user, code)
    job = wait_for(data["taskID"], {JobStatus.RUNNING})
    eventually(lambda: " INFO ignoring" in log_text(job.pk), message="the engine never said it ignores SIGTERM")
    client.get(f"{E}/{data['execID']}/kill", **bearer(user))
    job = wait_for(job.pk)
    assert job.status == JobStatus.CANCELLED
    # SIGTERM came first and the engine lived through it; the SIGKILL after the grace period ended it.
    assert " INFO got SIGTERM, ignoring it" in log_text(job.pk)
    assert job.exit_code == -signal.SIGKILL


def test_timeout_ends_timeout(client, user, runner):
    data = submit(client, user, "sleep 30", "shell-1", "sh", labels={"jobRunningTimeout": 1})
    job = wait_for(data["taskID"])  # "sleep 30" would end Succeed if the timeout did not end it
    assert job.status == JobStatus.TIMEOUT and job.error_code == 40002
    assert "longer than its timeout of 1 s" in job.error_desc


def test_memory_limit_applies(client, user, runner, settings):
    settings.JOB_MEMORY_LIMIT_MB = 300
    job = wait_for(submit(client, user, "x = bytearray(800 * 1024 * 1024)\nprint('allocated')")["taskID"])
    assert job.status == JobStatus.FAILED and "MemoryError" in job.error_desc


def test_progress_helper_reaches_the_api(client, user, runner):
    # The job holds at 0.5 until the test has seen it, then ends (a file in its working directory lets it go).
    code = (
        "import os, time\nprogress(0.5)\nprint('half', flush=True)\n"
        "while not os.path.exists('go'):\n    time.sleep(0.05)"
    )
    data = submit(client, user, code)
    eventually(
        lambda: client.get(f"{E}/{data['execID']}/progress", **bearer(user)).json()["data"]["progress"] == 0.5,
        message="the job's progress of 0.5 never reached the API",
    )
    (Job.objects.get(pk=data["taskID"]).workdir / "go").touch()
    assert wait_for(data["taskID"]).progress == 1.0


def test_queue_is_fifo_and_respects_the_limits(client, user, other_user, settings):
    from jobs.runners import start_runner, stop_runner
    from jobs.runners.local import LocalRunner

    start_runner(LocalRunner(max_running=2, max_per_user=1))
    try:
        # Each job runs until the test lets it go (a file in its working directory), so none ends early.
        gated = "while [ ! -e go ]; do sleep 0.05; done"
        alice = [submit(client, user, gated, "shell", "sh")["taskID"] for _ in range(2)]
        bob = submit(client, other_user, gated, "shell", "sh")["taskID"]
        wait_for(alice[0], {JobStatus.RUNNING})
        wait_for(bob, {JobStatus.RUNNING})
        assert Job.objects.get(pk=alice[1]).status == JobStatus.INITED  # alice is at her limit of one
        for job_id in (alice[0], bob, alice[1]):
            (wait_for(job_id, {JobStatus.RUNNING}).workdir / "go").touch()
        for job_id in (*alice, bob):
            assert wait_for(job_id).status == JobStatus.SUCCEED
        first, second = Job.objects.get(pk=alice[0]), Job.objects.get(pk=alice[1])
        assert second.started_at >= first.finished_at
    finally:
        stop_runner()


def test_restart_reconciles_jobs_left_in_flight(client, user):
    from jobs.runners.local import LocalRunner
    from jobs.services import job_transition

    running = submit(client, user, "print(1)")["taskID"]
    scheduled = submit(client, user, "print(2)")["taskID"]
    for job_id in (running, scheduled):
        job_transition(job_id=job_id, to=JobStatus.SCHEDULED, runner="host-that-died:1")
    Job.objects.filter(pk__in=(running, scheduled)).update(runner=f"{os.uname().nodename}:999999")
    job_transition(job_id=running, to=JobStatus.RUNNING, pid=999999)
    runner = LocalRunner(max_running=2, max_per_user=2)
    runner.reconcile()
    job = Job.objects.get(pk=running)
    assert job.status == JobStatus.FAILED and job.error_code == 30001 and "failover" in job.error_desc
    assert Job.objects.get(pk=scheduled).status == JobStatus.WAIT_FOR_RETRY
    from jobs.runners import start_runner, stop_runner

    start_runner(runner)
    try:
        assert wait_for(scheduled).status == JobStatus.SUCCEED  # re-queued and run
    finally:
        stop_runner()


def test_jobs_from_the_queue_run_when_no_one_notifies(client, user, runner):
    """Another process (a management command, a second web process) may have queued the job."""
    from jobs.services import JobSpec, job_submit

    job = job_submit(owner=user, spec=JobSpec(code="print(1)", engine_type="python", run_type="python"))
    assert wait_for(job.pk).status == JobStatus.SUCCEED


def test_engine_does_not_see_platform_secrets(client, user, runner, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "top-secret-value")
    job = wait_for(submit(client, user, "import os\nprint(os.environ.get('SECRET_KEY', 'absent'))")["taskID"])
    log = log_text(job.pk)
    assert " INFO absent" in log and "top-secret-value" not in log


def test_spark_job_unavailable_fails_clearly(client, user, runner, monkeypatch):
    import jobs.runners.supervisor as local

    monkeypatch.setattr(local, "engine_unavailable_reason", lambda engine: "Spark is not available: test says so.")
    job = wait_for(submit(client, user, "spark.range(1).show()", "spark-2.4.3", "py")["taskID"])
    assert job.status == JobStatus.FAILED and job.error_code == 40001
    assert job.error_desc == "Spark is not available: test says so."


def test_spark_sql_job_runs_with_task_progress(client, user, runner):
    from jobs.engines import engine_unavailable_reason

    if reason := engine_unavailable_reason("spark"):
        pytest.skip(reason)
    code = "select id, id * 2 as twice from range(0, 1000, 1, 4) where id < 3 order by id"
    data = submit(client, user, code, "spark-2.4.3", "sql")
    job = wait_for(data["taskID"], timeout=120)
    assert job.status == JobStatus.SUCCEED, log_text(job.pk)
    assert log_text(job.pk).split("\n")[0].endswith("INFO Engine: spark (engineType spark-2.4.3, runType sql).")
    assert job.progress_info and all(entry["totalTasks"] > 0 for entry in job.progress_info)
    assert sum(entry["succeedTasks"] for entry in job.progress_info) >= 4
    _, opened = results(client, user, job)
    assert opened[0]["fileContent"] == [["0", "0"], ["1", "2"], ["2", "4"]]


def test_killing_a_spark_job_cancels_its_job_group(client, user, runner, settings):
    from jobs.engines import engine_unavailable_reason

    if reason := engine_unavailable_reason("spark"):
        pytest.skip(reason)
    settings.JOB_KILL_GRACE_SECONDS = 600  # the cancellation, not the SIGKILL, ends the run
    code = "import time\nsc.parallelize(range(2), 2).map(lambda x: time.sleep(120)).count()\n"
    data = submit(client, user, code, "spark-2.4.3", "py")

    def tasks_running() -> bool:  # until Spark reports the group's tasks running
        job = Job.objects.get(pk=data["taskID"])
        assert job.status in (JobStatus.INITED, JobStatus.SCHEDULED, JobStatus.RUNNING), log_text(job.pk)
        return any(entry.get("runningTasks") for entry in job.progress_info or [])

    eventually(tasks_running, timeout=180, interval=0.2, message="the Spark tasks never ran")
    assert client.get(f"{E}/{data['execID']}/kill", **bearer(user)).json()["status"] == 0
    job = wait_for(data["taskID"], timeout=180)
    assert job.status == JobStatus.CANCELLED
    # The group's cancellation, not the SIGKILL ten minutes later, ended the run: the user's code failed with Spark's
    # cancellation and the driver exited on its own.
    assert job.exit_code != -signal.SIGKILL, job.exit_code
    assert f"Cancelling the Spark job group platform-job-{job.pk}." in log_text(job.pk)
    assert not _alive(job.pid)


def test_sql_job_runs_the_feature_stores_sql(client, user, runner):
    from featurestore import sql as sqlexec

    sqlexec.execute(db="fs", sql="CREATE DATABASE fs")
    sqlexec.execute(db="fs", sql="CREATE TABLE t1 (k string, v int, ts timestamp, INDEX(KEY=k, TS=ts))")
    sqlexec.execute(db="fs", sql="INSERT INTO t1 VALUES ('a', 1, 1000), ('a', 2, 2000), ('b', 5, 1500)")
    code = (
        "SELECT k, v, sum(v) OVER w AS s FROM t1 WINDOW w AS (PARTITION BY k ORDER BY ts "
        "ROWS BETWEEN 1 PRECEDING AND CURRENT ROW);\nSELECT count(*) AS n FROM t1"
    )
    params = {"configuration": {"runtime": {"openmldb.db": "fs"}}}
    job = wait_for(submit(client, user, code, "jdbc-4", "sql", params=params)["taskID"], timeout=60)
    assert job.status == JobStatus.SUCCEED, log_text(job.pk)
    assert "INFO Engine: sql, the feature store's SQL" in log_text(job.pk)
    _, opened = results(client, user, job)
    assert opened[0]["fileContent"] == [["a", "1", "1"], ["a", "2", "3"], ["b", "5", "5"]]
    assert [c["dataType"] for c in opened[0]["metadata"]] == ["string", "int", "int"]  # sum keeps the input type
    assert opened[1]["fileContent"] == [["3"]]


def test_a_jdbc_select_without_from_answers_one_row(client, user, runner):
    job = wait_for(submit(client, user, "select 1 as a, 'z' as b", "jdbc-4", "sql")["taskID"], timeout=60)
    assert job.status == JobStatus.SUCCEED, log_text(job.pk)
    _, opened = results(client, user, job)
    assert opened[0]["fileContent"] == [["1", "z"]]
    assert [(c["columnName"], c["dataType"]) for c in opened[0]["metadata"]] == [("a", "int"), ("b", "string")]


def test_sql_job_error_names_the_problem(client, user, runner):
    job = wait_for(submit(client, user, "select nope from nowhere", "jdbc-4", "sql")["taskID"], timeout=60)
    assert job.status == JobStatus.FAILED and job.error_code == 40000
    assert job.error_desc.startswith("SQL error:") and "nowhere" in job.error_desc


def test_offasync_query_runs_as_a_job(client, user, runner):
    import json

    from featurestore import sql as sqlexec

    sqlexec.execute(db="fs", sql="CREATE DATABASE fs")
    sqlexec.execute(db="fs", sql="CREATE TABLE t1 (k string, v int, ts timestamp, INDEX(KEY=k, TS=ts))")
    sqlexec.execute(db="fs", sql="INSERT INTO t1 VALUES ('a', 1, 1000)")
    body = {"mode": "offasync", "sql": "SELECT k, v FROM t1"}
    answer = client.post("/dbs/fs", json.dumps(body), content_type="application/json", **bearer(user)).json()
    assert answer["code"] == 0
    job_id, job_type, state = answer["data"]["data"][0][:3]  # upstream's job result set
    assert answer["data"]["schema"][:3] == ["Int32", "String", "String"]
    assert job_type == "RunBatchAndShow" and state == "Submitted"
    job = wait_for(job_id, timeout=60)
    assert job.status == JobStatus.SUCCEED and job.source_api == "featurestore"
    _, opened = results(client, user, job)
    assert opened[0]["fileContent"] == [["a", "1"]]


@pytest.mark.parametrize("doubtful_batch_was_stored", [True, False])
def test_a_job_ending_after_a_lost_commit_answer_stores_every_line_once(user, doubtful_batch_was_stored):
    from jobs.logstore import LogEntry, log_append
    from jobs.runners.supervisor import ExecutionPool, JobExecution
    from jobs.services import JobSpec, job_submit, job_transition

    job = job_submit(owner=user, spec=JobSpec(code="print(1)", engine_type="python-python2", run_type="python"))
    job_transition(job_id=job.pk, to=JobStatus.SCHEDULED)
    job_transition(job_id=job.pk, to=JobStatus.RUNNING)
    execution = JobExecution(ExecutionPool(), job.pk)
    # A flush whose commit answer was lost (the database went away), and lines printed after it.
    execution._inflight = ("doubtful", [LogEntry("INFO", "tick 0"), LogEntry("INFO", "tick 1")])
    if doubtful_batch_was_stored:
        log_append(job_id=job.pk, entries=execution._inflight[1], batch="doubtful")
    execution._pending = [LogEntry("INFO", "tick 2")]

    execution._end(Job.objects.get(pk=job.pk), JobStatus.SUCCEED, "done", "INFO")

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEED
    ends = [line.rsplit(" INFO ", 1)[-1] for line in log_text(job.pk).split("\n")[-4:]]
    assert ends == ["tick 0", "tick 1", "tick 2", "done"]
    assert Path(job.log_file).read_text().count("\n") == job.log_lines  # the file has every stored line
