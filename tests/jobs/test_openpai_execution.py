"""OpenPAI jobs really run on the job core: every task instance is a shell process with OpenPAI's environment,
the completion policy decides the job's end, retries start new attempts, STOP and DELETE end every process.

Everything goes through HTTP (``POST /api/v1/jobs``, ``GET /api/v1/jobs/<name>``, ``PUT .../executionType``,
``DELETE``, the task log route and Linkis's job history) with a real local runner (``JOB_MAX_RUNNING`` 4 in the
test settings); processes are checked at the OS level through ``/proc``. Tasks that must wait for the test
block on a file in a temporary directory whose path reaches them through ``jobEnvs``, so no test sleeps long.
"""

from __future__ import annotations

import json
import os
import re
import signal
from pathlib import Path

import pytest

from jobs.models import Job, JobStatus, PaiJob, PaiTask
from tests.conftest import bearer, eventually
from tests.jobs.conftest import host_pid, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

JOBS = "/api/v1/jobs"
HISTORY = "/api/rest_j/v1/jobhistory"
ORDER = {"WAITING": 0, "RUNNING": 1, "SUCCEEDED": 2, "FAILED": 2, "STOPPED": 2}
FINAL = ("SUCCEEDED", "FAILED", "STOPPED")

# A task that waits until the test writes its exit code to $MARKS/go-<role>-<index>, then exits with it.
GATED = (
    'f="$MARKS/go-$PAI_CURRENT_TASK_ROLE_NAME-$PAI_CURRENT_TASK_ROLE_CURRENT_TASK_INDEX"\n'
    'while [ ! -s "$f" ]; do sleep 0.05; done\n'
    'code="$(cat "$f")"\n'
    'echo "exiting with $code"\n'
    'echo "task $PAI_CURRENT_TASK_ROLE_NAME $PAI_CURRENT_TASK_ROLE_CURRENT_TASK_INDEX says goodbye" >&2\n'
    'exit "$code"'
)


# --- helpers ---------------------------------------------------------------------------------------------------
def role(name: str, command: str, count: int = 1, **extra) -> dict:
    return {"name": name, "taskNumber": count, "command": command, **extra}


def config(name: str, roles: list[dict], marks: Path | None = None, **extra) -> dict:
    body = {"jobName": name, "image": "openpai/alpine:bash", "taskRoles": roles, **extra}
    if marks is not None:
        # The tasks and the test talk through files in the job's outputDir: in the user's own area of the
        # default file system, the one place a sandboxed task may write besides its working directory.
        body.setdefault("jobEnvs", {})["MARKS"] = str(marks)
        body.setdefault("outputDir", str(marks))
    return body


def submit(client, user, body: dict) -> str:
    response = client.post(JOBS, data=json.dumps(body), content_type="application/json", **bearer(user))
    assert response.status_code == 202, response.content
    assert response.json() == {"message": f"update job {body['jobName']} successfully"}
    return body["jobName"]


def detail(client, name: str) -> dict:
    """The v1 detail as the job's owner sees it (others see no stderr in ``appExitDiagnostics``)."""
    owner = PaiJob.objects.select_related("owner").get(name=name).owner
    response = client.get(f"{JOBS}/{name}", **bearer(owner))
    assert response.status_code == 200, response.content
    return response.json()


def wait_state(client, name: str, states=FINAL, timeout: float = 60.0, seen: list | None = None) -> dict:
    """Wait until the job's v1 state is one of ``states``; ``seen`` collects every state observed."""
    last: list[dict] = []

    def reached() -> dict | None:
        body = detail(client, name)
        last[:] = [body]
        if seen is not None:
            seen.append(body["jobStatus"]["state"])
        return body if body["jobStatus"]["state"] in states else None

    return eventually(reached, timeout=timeout, message=lambda: f"job {name} is not in {list(states)}: {last}")


def tasks_of(name: str, attempt: int | None = None) -> list[PaiTask]:
    pai = PaiJob.objects.get(name=name)
    qs = PaiTask.objects.filter(pai_job=pai).select_related("job")
    if attempt is not None:
        qs = qs.filter(attempt=attempt)
    return list(qs.order_by("attempt", "role", "index"))


def wait_running(name: str, count: int, timeout: float = 60.0) -> list[PaiTask]:
    """Wait until ``count`` tasks of the job's current attempt run with a process id; return the running ones."""

    def running() -> list[PaiTask]:
        pai = PaiJob.objects.get(name=name)
        tasks = tasks_of(name, pai.attempt)
        found = [t for t in tasks if t.job is not None and t.job.status == JobStatus.RUNNING and t.job.pid]
        return found if len(found) >= count else []

    return eventually(running, timeout=timeout, message=f"fewer than {count} tasks of {name} run")


def release(marks: Path, role_name: str, index: int, code: int) -> None:
    """Let a GATED task end with ``code`` (written atomically: the task reads it as soon as the file is there)."""
    tmp = marks / f".go-{role_name}-{index}.tmp"
    tmp.write_text(f"{code}\n")
    tmp.rename(marks / f"go-{role_name}-{index}")


def wait_file(path: Path, timeout: float = 30.0) -> str:
    """Wait until a task has written ``path``; return its content."""
    return eventually(
        lambda: path.exists() and path.read_text().strip(), timeout=timeout, message=f"{path} was not written"
    )


def statuses(body: dict) -> dict[tuple[str, int], dict]:
    return {
        (role_name, task["taskIndex"]): task
        for role_name, role_body in body["taskRoles"].items()
        for task in role_body["taskStatuses"]
    }


def task_log(client, viewer, name: str, role_name: str, index: int, owner: str = "alice", **params) -> str:
    query = "&".join(f"{key}={value}" for key, value in params.items())
    url = f"/api/v1/user/{owner}/jobs/{name}/tasks/{role_name}/{index}/log" + (f"?{query}" if query else "")
    response = client.get(url, **bearer(viewer))
    assert response.status_code == 200, response.content
    return response.content.decode()


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # fields after "pid (comm) ": state, ppid, pgrp, ...


def alive(pid: int) -> bool:
    """The process exists and is not a zombie waiting for a parent that will not reap it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group, read from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None and fields[0] != "Z" and int(fields[2]) == pgid:
                members.append(int(entry.name))
    return members


def assert_all_gone(pids: list[int], timeout: float = 30.0) -> None:
    """Every process and every process group (a task's pid is its group id) ends; ``timeout`` bounds patience."""

    def left() -> dict[int, list[int]]:
        return {pid: group_members(pid) for pid in pids if alive(pid) or group_members(pid)}

    eventually(lambda: not left(), timeout=timeout, message=lambda: f"processes left running: {left()}")
    for pid in pids:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            continue
        assert not group_members(pid), pid  # the group still exists only as zombies nobody reaps


def task_child(task_pid: int, marks: Path) -> int:
    """The host pid of the child a SPAWNS_CHILD task wrote to ``marks/child`` (a pid inside its sandbox)."""
    return host_pid(task_pid, int(wait_file(marks / "child")))


# --- a distributed job runs to SUCCEEDED ---------------------------------------------------------------------------
ENV_DUMP = (
    'echo "ENV ROLE=$PAI_CURRENT_TASK_ROLE_NAME"\n'
    'echo "ENV INDEX=$PAI_CURRENT_TASK_ROLE_CURRENT_TASK_INDEX"\n'
    'echo "ENV JOB=$PAI_JOB_NAME"\n'
    'echo "ENV USER=$PAI_USER_NAME"\n'
    'echo "ENV PS_HOSTS=$PAI_TASK_ROLE_ps_HOST_LIST"\n'
    'echo "ENV WORKER_HOSTS=$PAI_TASK_ROLE_worker_HOST_LIST"\n'
    'echo "ENV DATA=$PAI_DATA_DIR"\n'
    'echo "ENV OUTPUT=$PAI_OUTPUT_DIR"\n'
    'echo "ENV CODE=$PAI_CODE_DIR"\n'
    'echo "ENV GREETING=$GREETING"\n'
    'echo "ENV LEVEL=$LEVEL"\n'
    'echo "$PAI_CURRENT_TASK_ROLE_NAME $PAI_CURRENT_TASK_ROLE_CURRENT_TASK_INDEX" >> "$PAI_OUTPUT_DIR/ran"\n'
    "sleep 0.3"
)


def _env_of(log: str) -> dict[str, str]:
    return dict(re.findall(r" INFO ENV (\w+)=(.*)$", log, flags=re.MULTILINE))


def test_two_roles_ten_tasks_run_to_succeeded_with_openpai_env(api_client, user, runner, pai_fs):
    body = config(
        "dist-train",
        [role("ps", ENV_DUMP, 2), role("worker", ENV_DUMP, 8)],
        dataDir="$PAI_DEFAULT_FS_URI/data/mnist",
        codeDir="/code/train",
        jobEnvs={"GREETING": "hello world", "LEVEL": 3},
    )
    name = submit(api_client, user, body)
    seen: list[str] = []
    final = wait_state(api_client, name, seen=seen)
    status = final["jobStatus"]
    assert status["state"] == "SUCCEEDED", final
    assert status["appExitCode"] == 0 and status["retries"] == 0 and status["appProgress"] == 1.0
    assert status["executionType"] == "START" and status["subState"] == "FRAMEWORK_COMPLETED"

    # states only move forward: WAITING/RUNNING, then SUCCEEDED
    assert seen[0] in ("WAITING", "RUNNING") and "RUNNING" in seen
    assert all(ORDER[a] <= ORDER[b] for a, b in zip(seen, seen[1:], strict=False)), seen
    assert status["createdTime"] <= status["appLaunchedTime"] <= status["appCompletedTime"]
    assert status["completedTime"] == status["appCompletedTime"]

    # every task instance ran exactly once, each as its own job of the job core
    ran = sorted((pai_fs / "Output" / user.username / name / "ran").read_text().split("\n")[:-1])
    assert ran == sorted([f"ps {i}" for i in range(2)] + [f"worker {i}" for i in range(8)])
    tasks = tasks_of(name)
    assert len(tasks) == 10 and {t.attempt for t in tasks} == {1}
    assert len({t.job_id for t in tasks}) == 10
    assert all(t.job.status == JobStatus.SUCCEED and t.job.source_api == Job.SourceApi.OPENPAI for t in tasks)

    by_task = statuses(final)
    assert sorted(by_task) == [("ps", 0), ("ps", 1)] + [("worker", i) for i in range(8)]
    assert {task["taskState"] for task in by_task.values()} == {"SUCCEEDED"}
    assert all(task["containerExitCode"] == 0 for task in by_task.values())

    worker_ports = [by_task[("worker", i)]["containerPorts"]["default"] for i in range(8)]
    ps_ports = [by_task[("ps", i)]["containerPorts"]["default"] for i in range(2)]
    assert len(set(worker_ports + ps_ports)) == 10  # one host: no two tasks of the job share a port
    output_dir = f"{pai_fs}/Output/{user.username}/{name}"
    for (role_name, index), _ in by_task.items():
        env = _env_of(task_log(api_client, user, name, role_name, index))
        assert env["ROLE"] == role_name and env["INDEX"] == str(index)
        assert env["JOB"] == name and env["USER"] == user.username
        workers = env["WORKER_HOSTS"].split(",")
        assert len(workers) == 8 and len(set(workers)) == 8
        assert all(re.fullmatch(r"127\.0\.0\.1:\d+", host) for host in workers)
        assert workers == [f"127.0.0.1:{port}" for port in worker_ports]  # index i's host:port is task i's port
        assert env["PS_HOSTS"].split(",") == [f"127.0.0.1:{port}" for port in ps_ports]
        assert env["DATA"] == f"{pai_fs}/data/mnist"
        assert env["OUTPUT"] == output_dir
        assert env["CODE"] == "/code/train"
        assert env["GREETING"] == "hello world" and env["LEVEL"] == "3"
    assert Path(output_dir).is_dir()


def _max_overlap(jobs: list[Job]) -> int:
    events = sorted([(j.started_at, 1) for j in jobs] + [(j.finished_at, -1) for j in jobs])
    current = peak = 0
    for _, delta in events:
        current += delta
        peak = max(peak, current)
    return peak


def test_tasks_run_in_parallel_up_to_the_runner_limit(api_client, user, runner, settings, marks):
    assert settings.JOB_MAX_RUNNING == 4
    gated = 'while [ ! -e "$MARKS/go" ]; do sleep 0.05; done'
    name = submit(api_client, user, config("parallel", [role("sleeper", gated, 6)], marks))
    running = wait_running(name, settings.JOB_MAX_RUNNING)
    assert len(running) == settings.JOB_MAX_RUNNING  # four at once, never more
    waiting = [t for t in tasks_of(name) if t not in running]
    assert len(waiting) == 2 and {t.job.status for t in waiting} == {JobStatus.INITED}
    (marks / "go").touch()
    final = wait_state(api_client, name)
    assert final["jobStatus"]["state"] == "SUCCEEDED"
    jobs = [t.job for t in tasks_of(name)]
    assert len(jobs) == 6 and all(j.status == JobStatus.SUCCEED for j in jobs)
    assert _max_overlap(jobs) == settings.JOB_MAX_RUNNING
    first_four = sorted(jobs, key=lambda j: j.started_at)[:4]
    assert max(j.started_at for j in first_four) < min(j.finished_at for j in first_four)


# --- failures and the completion policy -----------------------------------------------------------------------------
FAILING = (
    'while [ ! -e "$MARKS/go" ]; do sleep 0.05; done\n'
    'echo "about to fail"\n'
    'echo "first problem: disk quota" >&2\n'
    'echo "second problem: giving up" >&2\n'
    "exit 3"
)


def test_failing_task_fails_the_job_with_exit_code_and_stderr_tail_and_kills_the_rest(api_client, user, runner, marks):
    body = config("fails", [role("ok", "sleep 60", 2), role("bad", FAILING)], marks)
    name = submit(api_client, user, body)
    running = wait_running(name, 3)
    pids = [t.job.pid for t in running]
    assert all(alive(pid) for pid in pids)
    (marks / "go").touch()
    final = wait_state(api_client, name)
    status = final["jobStatus"]
    assert status["state"] == "FAILED", final
    assert status["appExitCode"] == 3 and status["appExitType"] == "NON_TRANSIENT"
    assert "bad[0]" in status["appExitDiagnostics"] and "exit code 3" in status["appExitDiagnostics"]
    diagnostics = status["appExitDiagnostics"].splitlines()
    assert "first problem: disk quota" in diagnostics and "second problem: giving up" in diagnostics
    assert "about to fail" not in status["appExitDiagnostics"]  # stdout is not stderr
    assert status["appProgress"] == 1.0 and status["completedTime"] is not None

    by_task = statuses(final)
    assert by_task[("bad", 0)]["taskState"] == "FAILED" and by_task[("bad", 0)]["containerExitCode"] == 3
    assert_all_gone(pids)
    for task in tasks_of(name):
        if task.role == "ok":
            assert wait_for(task.job_id).status == JobStatus.CANCELLED
    final = detail(api_client, name)
    assert {statuses(final)[("ok", i)]["taskState"] for i in range(2)} == {"STOPPED"}
    assert final["jobStatus"]["state"] == "FAILED"  # decided once; the kills do not change it


def test_task_exit_code_three_is_a_script_failure_in_the_linkis_history(api_client, user, runner, marks):
    (marks / "go").touch()
    name = submit(api_client, user, config("exit-three", [role("bad", FAILING)], marks))
    final = wait_state(api_client, name)
    assert final["jobStatus"]["state"] == "FAILED" and final["jobStatus"]["appExitCode"] == 3
    task = api_client.get(f"{HISTORY}/{statuses(final)[('bad', 0)]['jobId']}/get", **bearer(user)).json()
    task = task["data"]["task"]
    assert task["status"] == "Failed"
    assert task["errCode"] == 40000  # the engine ran the script, which failed: not 40001 "engine unavailable"
    assert "exited with code 3" in task["errDesc"]


def test_min_failed_task_count_counts_failures_per_role(api_client, user, runner, marks):
    roles = [role("a", GATED, 2, minFailedTaskCount=2), role("b", GATED, 2, minFailedTaskCount=2)]
    name = submit(api_client, user, config("per-role", roles, marks))
    wait_running(name, 4)
    release(marks, "a", 0, 1)
    release(marks, "b", 1, 1)
    for task in tasks_of(name):
        if (task.role, task.index) in (("a", 0), ("b", 1)):
            assert wait_for(task.job_id).status == JobStatus.FAILED
    body = detail(api_client, name)
    assert body["jobStatus"]["state"] == "RUNNING"  # two failures, but one in each role
    release(marks, "a", 1, 0)
    release(marks, "b", 0, 0)
    final = wait_state(api_client, name)
    assert final["jobStatus"]["state"] == "SUCCEEDED"


def test_diagnostics_keep_the_last_twenty_stderr_lines(api_client, user, runner):
    command = 'for i in $(seq 1 25); do echo "err line $i" >&2; done\nexit 4'
    name = submit(api_client, user, config("noisy", [role("r", command)]))
    status = wait_state(api_client, name)["jobStatus"]
    assert status["state"] == "FAILED" and status["appExitCode"] == 4
    lines = status["appExitDiagnostics"].splitlines()
    assert lines[0] == "Task r[0] failed with exit code 4."
    assert lines[-20:] == [f"err line {i}" for i in range(6, 26)]
    assert "err line 5" not in lines


def test_min_failed_task_count_two_tolerates_one_failure(api_client, user, runner, marks):
    from jobs.openpai.services import pai_settle

    name = submit(api_client, user, config("two-to-fail", [role("r", GATED, 3, minFailedTaskCount=2)], marks))
    running = wait_running(name, 3)
    pids = [t.job.pid for t in running]
    release(marks, "r", 0, 5)
    wait_for(next(t.job_id for t in running if t.index == 0))
    pai = PaiJob.objects.get(name=name)
    assert pai_settle(pai_job_id=pai.pk) is False  # one failure of two needed: not decided
    body = detail(api_client, name)
    assert body["jobStatus"]["state"] == "RUNNING" and body["jobStatus"]["appExitCode"] is None
    assert statuses(body)[("r", 0)]["taskState"] == "FAILED"
    assert {statuses(body)[("r", i)]["taskState"] for i in (1, 2)} == {"RUNNING"}

    release(marks, "r", 1, 6)
    final = wait_state(api_client, name)
    assert final["jobStatus"]["state"] == "FAILED" and final["jobStatus"]["appExitCode"] == 6
    assert "r[1]" in final["jobStatus"]["appExitDiagnostics"]
    assert "task r 1 says goodbye" in final["jobStatus"]["appExitDiagnostics"]
    task2 = next(t for t in tasks_of(name) if t.index == 2)
    assert wait_for(task2.job_id).status == JobStatus.CANCELLED
    assert_all_gone(pids)


def test_min_failed_task_count_null_tolerates_failures(api_client, user, runner, marks):
    name = submit(api_client, user, config("tolerant", [role("r", GATED, 3, minFailedTaskCount=None)], marks))
    wait_running(name, 3)
    release(marks, "r", 0, 4)
    wait_for(next(t.job_id for t in tasks_of(name) if t.index == 0))
    assert detail(api_client, name)["jobStatus"]["state"] == "RUNNING"
    release(marks, "r", 1, 0)
    release(marks, "r", 2, 0)
    final = wait_state(api_client, name)
    assert final["jobStatus"]["state"] == "SUCCEEDED" and final["jobStatus"]["appExitCode"] == 0
    assert [statuses(final)[("r", i)]["taskState"] for i in range(3)] == ["FAILED", "SUCCEEDED", "SUCCEEDED"]
    assert statuses(final)[("r", 0)]["containerExitCode"] == 4


def test_min_succeeded_task_count_succeeds_early_and_kills_the_rest(api_client, user, runner, marks):
    roles = [role("chief", GATED, 2, minSucceededTaskCount=1), role("worker", "sleep 60", 2)]
    name = submit(api_client, user, config("chief-decides", roles, marks))
    running = wait_running(name, 4)
    pids = [t.job.pid for t in running]
    release(marks, "chief", 1, 0)
    final = wait_state(api_client, name)
    assert final["jobStatus"]["state"] == "SUCCEEDED" and final["jobStatus"]["appExitCode"] == 0
    assert statuses(final)[("chief", 1)]["taskState"] == "SUCCEEDED"
    assert_all_gone(pids)
    for task in tasks_of(name):
        if (task.role, task.index) != ("chief", 1):
            # did not wait for the sleeping workers: they were cancelled, not left to finish
            assert wait_for(task.job_id).status == JobStatus.CANCELLED
    assert detail(api_client, name)["jobStatus"]["state"] == "SUCCEEDED"


# --- retries --------------------------------------------------------------------------------------------------------
def test_retry_count_two_makes_three_attempts_then_fails(api_client, user, runner, marks):
    command = 'echo "try" >> "$MARKS/attempts"\necho "still broken" >&2\nexit 7'
    name = submit(api_client, user, config("always-fails", [role("main", command)], marks, retryCount=2))
    seen: list[str] = []
    final = wait_state(api_client, name, seen=seen)
    status = final["jobStatus"]
    assert status["state"] == "FAILED" and status["retries"] == 2 and status["appExitCode"] == 7
    assert "still broken" in status["appExitDiagnostics"]
    assert (marks / "attempts").read_text().count("try") == 3
    tasks = tasks_of(name)
    assert [t.attempt for t in tasks] == [1, 2, 3]
    assert len({t.job_id for t in tasks}) == 3
    assert all(t.job.status == JobStatus.FAILED and t.job.exit_code == 7 for t in tasks)
    assert PaiJob.objects.get(name=name).attempt == 3
    assert "FAILED" not in seen[:-1]  # an attempt's failure with retries left is not the job's end


def test_retry_after_a_first_failure_succeeds(api_client, user, runner, marks):
    command = (
        'if [ -e "$MARKS/once" ]; then echo "second attempt works"; exit 0; fi\n'
        'touch "$MARKS/once"\n'
        'echo "first attempt breaks" >&2\n'
        "exit 9"
    )
    name = submit(api_client, user, config("flaky", [role("main", command)], marks, retryCount=1))
    final = wait_state(api_client, name)
    status = final["jobStatus"]
    assert status["state"] == "SUCCEEDED" and status["retries"] == 1 and status["appExitCode"] == 0
    tasks = tasks_of(name)
    assert [(t.attempt, t.job.status) for t in tasks] == [(1, JobStatus.FAILED), (2, JobStatus.SUCCEED)]
    assert statuses(final)[("main", 0)]["attempt"] == 2
    assert statuses(final)[("main", 0)]["taskState"] == "SUCCEEDED"
    assert "INFO second attempt works" in task_log(api_client, user, name, "main", 0)
    first = task_log(api_client, user, name, "main", 0, attempt=1)
    assert "ERROR first attempt breaks" in first and "INFO second attempt works" not in first


def test_retry_kills_the_failed_attempts_other_tasks_and_runs_every_task_again(api_client, user, runner, marks):
    breaks_once = (
        'if [ -e "$MARKS/once" ]; then echo "bad is fine now"; exit 0; fi\n'
        'while [ ! -e "$MARKS/go" ]; do sleep 0.05; done\n'
        'touch "$MARKS/once"\n'
        'echo "bad broke" >&2\n'
        "exit 2"
    )
    long_once = 'if [ -e "$MARKS/once" ]; then echo "long is quick now"; exit 0; fi\nsleep 60'
    roles = [role("bad", breaks_once), role("long", long_once)]
    name = submit(api_client, user, config("retry-kills", roles, marks, retryCount=1))
    first = wait_running(name, 2)
    pids = [t.job.pid for t in first]
    (marks / "go").touch()
    final = wait_state(api_client, name)
    status = final["jobStatus"]
    assert status["state"] == "SUCCEEDED" and status["retries"] == 1, final
    assert_all_gone(pids)
    attempt1 = {t.role: t for t in tasks_of(name, 1)}
    attempt2 = {t.role: t for t in tasks_of(name, 2)}
    assert attempt1["bad"].job.status == JobStatus.FAILED and attempt1["bad"].job.exit_code == 2
    assert wait_for(attempt1["long"].job_id).status == JobStatus.CANCELLED
    assert {r: t.job.status for r, t in attempt2.items()} == {"bad": JobStatus.SUCCEED, "long": JobStatus.SUCCEED}
    assert {task["taskState"] for task in statuses(final).values()} == {"SUCCEEDED"}


def test_retry_refused_by_a_full_queue_does_not_leave_the_job_undecided(api_client, user, runner, marks, settings):
    """A retry the job core's queue refuses must not leave the job RUNNING forever with every task ended."""
    failing = 'while [ ! -e "$MARKS/go" ]; do sleep 0.05; done\necho "broke" >&2\nexit 2'
    name = submit(api_client, user, config("retry-full", [role("main", failing)], marks, retryCount=1))
    busy = submit(api_client, user, config("busy", [role("r", "sleep 60", settings.JOB_MAX_RUNNING - 1)]))
    try:
        wait_running(name, 1)
        wait_running(busy, settings.JOB_MAX_RUNNING - 1)
        settings.JOB_QUEUE_CAPACITY = 2
        submit(api_client, user, config("filler", [role("r", "sleep 0.5", 2)]))  # the queue is full now
        (marks / "go").touch()
        wait_for(tasks_of(name)[0].job_id)

        def settled() -> PaiJob | None:
            pai = PaiJob.objects.get(name=name)
            live = [t for t in tasks_of(name, pai.attempt) if t.job is not None and not t.job.is_terminal]
            return pai if pai.is_final or live else None  # decided (FAILED), or the retry was queued after all

        pai = eventually(settled, message=lambda: f"undecided with no live task: {detail(api_client, name)}")
    finally:
        stop(api_client, user, busy)
    if pai.is_final:
        status = detail(api_client, name)["jobStatus"]
        assert status["state"] == "FAILED" and status["appExitCode"] == 2 and "broke" in status["appExitDiagnostics"]
    assert wait_state(api_client, busy)["jobStatus"]["state"] == "STOPPED"


# --- STOP and DELETE -----------------------------------------------------------------------------------------------
SPAWNS_CHILD = 'sleep 60 &\necho $! > "$MARKS/child"\necho "child started"\nwait'


def stop(client, user, name: str):
    return client.put(
        f"{JOBS}/{name}/executionType", data=json.dumps({"value": "STOP"}), content_type="application/json",
        **bearer(user),
    )  # fmt: skip


def test_stop_ends_every_process_of_every_task(api_client, user, runner, marks):
    roles = [role("sleeper", "sleep 60", 2), role("stubborn", "trap '' TERM\nsleep 60"), role("parent", SPAWNS_CHILD)]
    name = submit(api_client, user, config("to-stop", roles, marks))
    running = wait_running(name, 4)
    pids = [t.job.pid for t in running]
    parent_pid = next(t.job.pid for t in running if t.role == "parent")
    child = task_child(parent_pid, marks)
    assert alive(child) and all(alive(pid) for pid in pids)
    assert child in group_members(parent_pid)  # the child is in its task's process group

    response = stop(api_client, user, name)
    assert response.status_code == 202 and response.json() == {"message": f"execute job {name} successfully"}
    final = wait_state(api_client, name)
    status = final["jobStatus"]
    assert status["state"] == "STOPPED" and status["appExitCode"] == 214 and status["executionType"] == "STOP"
    assert status["completedTime"] is not None and "alice" in status["appExitDiagnostics"]
    assert {task["taskState"] for task in statuses(final).values()} == {"STOPPED"}
    assert all(t.job.status == JobStatus.CANCELLED for t in tasks_of(name))
    # The task that ignores SIGTERM was ended by the SIGKILL that follows the grace period.
    assert next(t.job for t in tasks_of(name) if t.role == "stubborn").exit_code == -signal.SIGKILL
    assert_all_gone([*pids, child])


def test_stop_cancels_queued_tasks_without_starting_them(api_client, user, runner, settings):
    name = submit(api_client, user, config("queued-stop", [role("r", "sleep 60", settings.JOB_MAX_RUNNING + 2)]))
    running = wait_running(name, settings.JOB_MAX_RUNNING)
    pids = [t.job.pid for t in running]
    queued = [t for t in tasks_of(name) if t.job.status == JobStatus.INITED]
    assert len(queued) == 2
    body = detail(api_client, name)
    assert body["jobStatus"]["state"] == "RUNNING"
    states = {index: task["taskState"] for (_, index), task in statuses(body).items()}
    assert sorted(states.values()) == ["RUNNING"] * settings.JOB_MAX_RUNNING + ["WAITING"] * 2
    assert {states[t.index] for t in queued} == {"WAITING"}
    assert stop(api_client, user, name).status_code == 202
    for task in queued:  # cancelled at once, by the request itself
        job = Job.objects.get(pk=task.job_id)
        assert job.status == JobStatus.CANCELLED and job.started_at is None and job.pid is None
    final = wait_state(api_client, name)
    assert final["jobStatus"]["state"] == "STOPPED" and final["jobStatus"]["appExitCode"] == 214
    assert_all_gone(pids)
    for task in queued:
        job = Job.objects.get(pk=task.job_id)
        assert job.started_at is None and job.pid is None and not job.workdir.exists()


def test_stop_of_a_job_whose_tasks_all_wait_is_stopped_at_once(api_client, user, runner, settings):
    busy = submit(api_client, user, config("busy", [role("r", "sleep 60", settings.JOB_MAX_RUNNING)]))
    pids = [t.job.pid for t in wait_running(busy, settings.JOB_MAX_RUNNING)]
    name = submit(api_client, user, config("all-waiting", [role("r", "sleep 60", 2)]))
    assert detail(api_client, name)["jobStatus"]["state"] == "WAITING"
    assert stop(api_client, user, name).status_code == 202
    status = detail(api_client, name)["jobStatus"]  # no task was running: decided by the request itself
    assert status["state"] == "STOPPED" and status["appExitCode"] == 214 and status["appLaunchedTime"] is None
    assert all(t.job.status == JobStatus.CANCELLED and t.job.started_at is None for t in tasks_of(name))
    assert stop(api_client, user, busy).status_code == 202
    assert wait_state(api_client, busy)["jobStatus"]["state"] == "STOPPED"
    assert_all_gone(pids)


def test_delete_of_a_running_job_kills_its_processes(api_client, user, runner, marks):
    roles = [role("sleeper", "sleep 60", 2), role("parent", SPAWNS_CHILD)]
    name = submit(api_client, user, config("to-delete", roles, marks))
    running = wait_running(name, 3)
    pids = [t.job.pid for t in running]
    child = task_child(next(t.job.pid for t in running if t.role == "parent"), marks)
    job_ids = [t.job_id for t in running]
    response = api_client.delete(f"{JOBS}/{name}", **bearer(user))
    assert response.status_code == 202 and response.json() == {"message": f"deleted job {name} successfully"}
    assert api_client.get(f"{JOBS}/{name}").status_code == 404
    for job_id in job_ids:
        assert wait_for(job_id).status == JobStatus.CANCELLED
    assert_all_gone([*pids, child])
    for job_id in job_ids:  # the tasks' jobs stay in the job history
        task = api_client.get(f"{HISTORY}/{job_id}/get", **bearer(user)).json()["data"]["task"]
        assert task["status"] == "Cancelled"


# --- logs, job history, admin ---------------------------------------------------------------------------------------
def test_task_logs_history_and_admin_show_each_task(api_client, user, other_user, admin_user, runner, client):
    command = 'echo "hello from $PAI_CURRENT_TASK_ROLE_NAME $PAI_CURRENT_TASK_ROLE_CURRENT_TASK_INDEX"\necho oops >&2'
    name = submit(api_client, user, config("logged", [role("a", command, 2), role("b", command)]))
    final = wait_state(api_client, name)
    assert final["jobStatus"]["state"] == "SUCCEEDED"
    for (role_name, index), task in statuses(final).items():
        log = task_log(api_client, user, name, role_name, index)
        assert re.search(rf"^\S+ \S+ INFO hello from {role_name} {index}$", log, flags=re.MULTILINE), log
        assert re.search(r"^\S+ \S+ ERROR oops$", log, flags=re.MULTILINE), log
        assert task["containerLog"] == f"/api/v1/user/{user.username}/jobs/{name}/tasks/{role_name}/{index}/log"
        history = api_client.get(f"{HISTORY}/{task['jobId']}/get", **bearer(user)).json()
        assert history["status"] == 0, history
        assert history["data"]["task"]["status"] == "Succeed"
        assert history["data"]["task"]["taskID"] == task["jobId"]
        assert "hello from" in history["data"]["task"]["executionCode"]
    listed = api_client.get(f"{HISTORY}/list?creator=OpenPAI&pageSize=50", **bearer(user)).json()["data"]["tasks"]
    assert {task["taskID"] for task in listed} == {task["jobId"] for task in statuses(final).values()}
    forbidden = api_client.get(f"/api/v1/user/{user.username}/jobs/{name}/tasks/a/0/log", **bearer(other_user))
    assert forbidden.status_code == 403
    assert "INFO hello from a 1" in task_log(api_client, admin_user, name, "a", 1)  # an admin reads any job's logs

    client.force_login(admin_user)
    pai = PaiJob.objects.get(name=name)
    page = client.get(f"/admin/jobs/paijob/{pai.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    for task in statuses(final).values():
        assert f"/admin/jobs/job/{task['jobId']}/change/" in html
    assert client.get(f"/admin/jobs/job/{statuses(final)[('b', 0)]['jobId']}/change/").status_code == 200


# --- lost finish events ---------------------------------------------------------------------------------------------
def _end_task_jobs_without_listeners(monkeypatch, name: str, exit_codes: dict[int, int]) -> None:
    """Make the tasks' jobs terminal as a runner would, but with the finish listeners gone (a lost event)."""
    import jobs.services as job_services
    from jobs.services import job_transition

    monkeypatch.setattr(job_services, "_finish_listeners", {})
    for task in tasks_of(name):
        code = exit_codes.get(task.index, 0)
        assert job_transition(job_id=task.job_id, to=JobStatus.SCHEDULED, runner="elsewhere:1")
        assert job_transition(job_id=task.job_id, to=JobStatus.RUNNING, started_at=task.job.created_at, pid=None)
        if code == 0:
            assert job_transition(job_id=task.job_id, to=JobStatus.SUCCEED, exit_code=0)
        else:
            assert job_transition(
                job_id=task.job_id, to=JobStatus.FAILED, exit_code=code, log="lost disk", level="ERROR",
                error_desc=f"The shell engine exited with code {code}",
            )  # fmt: skip
    monkeypatch.undo()


def test_settle_all_decides_jobs_whose_finish_events_were_lost(api_client, user, monkeypatch, transactional_db):
    from jobs.openpai.services import pai_settle_all

    good = submit(api_client, user, config("lost-good", [role("r", "true", 2)]))
    bad = submit(api_client, user, config("lost-bad", [role("r", "false", 2)]))
    _end_task_jobs_without_listeners(monkeypatch, good, {})
    _end_task_jobs_without_listeners(monkeypatch, bad, {1: 4})
    undecided = detail(api_client, good)["jobStatus"]
    assert undecided["state"] == "RUNNING" and undecided["appProgress"] == 1.0  # all ended, nobody decided

    assert pai_settle_all() == 2
    assert detail(api_client, good)["jobStatus"]["state"] == "SUCCEEDED"
    failed = detail(api_client, bad)["jobStatus"]
    assert failed["state"] == "FAILED" and failed["appExitCode"] == 4
    assert "r[1]" in failed["appExitDiagnostics"] and "lost disk" in failed["appExitDiagnostics"]
    assert pai_settle_all() == 0


def test_runner_start_sweeps_jobs_whose_finish_events_were_lost(api_client, user, monkeypatch, settings):
    from jobs.runners import start_runner, stop_runner
    from jobs.runners.local import LocalRunner

    name = submit(api_client, user, config("lost-restart", [role("r", "true", 2)]))
    _end_task_jobs_without_listeners(monkeypatch, name, {})
    assert detail(api_client, name)["jobStatus"]["state"] == "RUNNING"
    start_runner(LocalRunner(max_running=settings.JOB_MAX_RUNNING, max_per_user=settings.JOB_MAX_RUNNING_PER_USER))
    try:
        assert detail(api_client, name)["jobStatus"]["state"] == "SUCCEEDED"
    finally:
        stop_runner(timeout=15)


def test_runner_restart_fails_tasks_a_dead_runner_left_running_and_decides_the_job(api_client, user, settings):
    from jobs.runners.local import LocalRunner
    from jobs.services import job_transition

    name = submit(api_client, user, config("orphaned", [role("r", "sleep 60", 2)]))
    for task in tasks_of(name):  # a runner on this host claimed and started them, then died
        assert job_transition(job_id=task.job_id, to=JobStatus.SCHEDULED, runner=f"{os.uname().nodename}:999999")
        assert job_transition(job_id=task.job_id, to=JobStatus.RUNNING, started_at=task.job.created_at, pid=999999)
    assert detail(api_client, name)["jobStatus"]["state"] == "RUNNING"
    LocalRunner(max_running=settings.JOB_MAX_RUNNING, max_per_user=settings.JOB_MAX_RUNNING_PER_USER).reconcile()
    status = detail(api_client, name)["jobStatus"]
    assert status["state"] == "FAILED" and status["appExitCode"] == 1
    assert "The platform stopped while the job was Running" in status["appExitDiagnostics"]
    assert all(t.job.status == JobStatus.FAILED for t in tasks_of(name))
