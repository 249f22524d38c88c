"""OpenPAI jobs on Ray (``OPENPAI_RUNNER=ray``): gang placement, GPUs, virtual-cluster shares, STOP, retries, faults.

A real Ray head runs on 127.0.0.1 for the whole module (4 CPUs, 2 logical GPUs, 2000 MB of memory; its own process
group, stopped by that group), and each test runs a real gang dispatcher in a thread of this process. Everything is
asked through HTTP; tasks wait on files in their outputDir (``GATED``), so that no test sleeps.
"""

from __future__ import annotations

import json
import os
import socket
import threading

import pytest

from jobs.models import JobStatus, PaiJob, RayNode
from jobs.openpai import capacity
from jobs.openpai.selectors import gpu_bitmap
from tests.conftest import bearer, eventually
from tests.jobs.test_openpai_execution import (
    GATED,
    JOBS,
    alive,
    assert_all_gone,
    config,
    detail,
    release,
    role,
    statuses,
    submit,
    tasks_of,
    wait_file,
    wait_running,
    wait_state,
)

pytestmark = pytest.mark.django_db(transaction=True)

CPUS, GPUS, MEMORY_MB = 4, 2, 2000
# A gated task that first writes down what it was given.
REPORTING = (
    'echo "$CUDA_VISIBLE_DEVICES|$PAI_CURRENT_CONTAINER_IP|$PAI_TASK_ROLE_ps_HOST_LIST|$PAI_TASK_ROLE_worker_HOST_LIST"'
    ' > "$MARKS/env-$PAI_CURRENT_TASK_ROLE_NAME-$PAI_CURRENT_TASK_ROLE_CURRENT_TASK_INDEX"\n' + GATED
)


@pytest.fixture(scope="module")
def ray_head():
    from jobs.runners.ray_head import LocalRayHead

    head = LocalRayHead(num_cpus=CPUS, num_gpus=GPUS, memory_mb=MEMORY_MB)
    head.start()
    saved = {key: os.environ.get(key) for key in head.env}
    os.environ.update(head.env)  # this process drives it (the dispatchers of the tests)
    yield head
    import ray

    # This process is the dispatchers' Ray driver: disconnect first (a driver whose head is gone ends its process).
    ray.shutdown()
    head.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def dispatcher(transactional_db, settings, ray_head):
    """A gang dispatcher on the module's Ray head, in a thread of this process, stopped after the test."""
    from jobs.runners.ray_gang import RayDispatcher

    settings.OPENPAI_RUNNER = "ray"
    made = RayDispatcher(address=ray_head.address)
    thread = threading.Thread(target=made.run, name="openpai-ray", daemon=True)
    thread.start()
    eventually(lambda: RayNode.objects.filter(alive=True).exists(), timeout=120, message="no Ray node was recorded")
    yield made
    made.stop()
    thread.join(30)
    assert not thread.is_alive()


def put_execution(client, user, name: str, value: str):
    return client.put(
        f"{JOBS}/{name}/executionType",
        data=json.dumps({"value": value}),
        content_type="application/json",
        **bearer(user),
    )


def waiting_reason(client, name: str, says: str) -> str:
    """Wait until the job is WAITING with a reason that says ``says``; return the reason."""

    def reason() -> str:
        status = detail(client, name)["jobStatus"]
        text = status.get("waitingReason", "") if status["state"] == "WAITING" else ""
        return text if says in text else ""

    return eventually(reason, message=lambda: f"{name} waits for no reason saying {says!r}: {detail(client, name)}")


def job_statuses(name: str) -> list[str]:
    return [task.job.status for task in tasks_of(name, PaiJob.objects.get(name=name).attempt)]


# --- gang scheduling --------------------------------------------------------------------------------------------
def test_two_role_job_starts_all_tasks_together_with_their_gpus_hosts_and_ports(
    api_client, user, dispatcher, marks, monkeypatch
):
    from jobs.runners import ray_gang

    monkeypatch.setattr(ray_gang, "USAGE_SECONDS", 0.2)
    roles = [role("ps", REPORTING, 1, gpuNumber=1, cpuNumber=1), role("worker", REPORTING, 2, cpuNumber=1)]
    name = submit(api_client, user, config("gang", roles, marks))
    running = wait_running(name, 3)
    assert len(running) == 3
    body = detail(api_client, name)
    assert body["jobStatus"]["state"] == "RUNNING" and "waitingReason" not in body["jobStatus"]

    reports = {key: wait_file(marks / f"env-{key}").split("|") for key in ("ps-0", "worker-0", "worker-1")}
    gpus, ip, ps_hosts, worker_hosts = reports["ps-0"]
    assert len(gpus.split(",")) == 1 and gpus in ("0", "1")  # its own GPU, as Ray gave it
    assert reports["worker-0"][0] == "" and reports["worker-1"][0] == ""  # no GPU asked, none visible
    assert ip == "127.0.0.1"
    by_task = statuses(body)
    # the host lists name each peer's real node and its port on that node
    assert ps_hosts == f"127.0.0.1:{by_task[('ps', 0)]['containerPorts']['default']}"
    assert worker_hosts == ",".join(f"127.0.0.1:{by_task[('worker', i)]['containerPorts']['default']}" for i in (0, 1))
    assert by_task[("ps", 0)]["containerGpus"] == 1 << int(gpus)
    assert by_task[("worker", 0)]["containerGpus"] == 0
    # what a running task uses now is in its detail (where the node gives it a cgroup)
    live = eventually(lambda: statuses(detail(api_client, name))[("ps", 0)].get("containerUsage"))
    if live.get("memoryLimited"):
        assert live["running"] is True and live["memoryMB"] > 0 and live["cpuSeconds"] >= 0

    for key in (("ps", 0), ("worker", 0), ("worker", 1)):
        release(marks, *key, 0)
    final = wait_state(api_client, name)
    assert final["jobStatus"]["state"] == "SUCCEEDED", final
    usage = statuses(final)[("ps", 0)]["containerUsage"]
    assert usage["cpuSeconds"] >= 0 and usage["maxMemoryMB"] > 0 and "running" not in usage
    # the tasks are jobs of the job core, in the Linkis history too
    history = api_client.get("/api/rest_j/v1/jobhistory/list?pageSize=50", **bearer(user)).json()
    listed = {task["taskID"] for task in history["data"]["tasks"]}
    assert {t.job_id for t in tasks_of(name)} <= listed


def test_job_that_does_not_fit_waits_with_the_reason_then_starts_whole(api_client, user, dispatcher, marks):
    big = submit(api_client, user, config("big", [role("solo", GATED, 1, cpuNumber=3)], marks))
    wait_running(big, 1)
    pair = submit(api_client, user, config("pair", [role("duo", GATED, 2, cpuNumber=1)], marks))

    assert waiting_reason(api_client, pair, "CPU: needs 2, 1 free") == "Waiting for resources: CPU: needs 2, 1 free."
    assert set(job_statuses(pair)) == {JobStatus.INITED}  # not one of its tasks started alone

    # a waiting job stopped: STOPPED at once, none of its tasks ever started, its place in the queue freed
    later = submit(api_client, user, config("later", [role("trio", GATED, 3, cpuNumber=1)], marks))
    waiting_reason(api_client, later, "Waiting for resources")
    assert put_execution(api_client, user, later, "STOP").status_code == 202
    assert wait_state(api_client, later)["jobStatus"]["state"] == "STOPPED"
    assert set(job_statuses(later)) == {JobStatus.CANCELLED}

    release(marks, "solo", 0, 0)
    assert wait_state(api_client, big)["jobStatus"]["state"] == "SUCCEEDED"
    started = wait_running(pair, 2)
    assert len(started) == 2
    assert "waitingReason" not in detail(api_client, pair)["jobStatus"]
    release(marks, "duo", 0, 0)
    release(marks, "duo", 1, 0)
    assert wait_state(api_client, pair)["jobStatus"]["state"] == "SUCCEEDED"


def test_gpu_ids_of_concurrent_tasks_are_disjoint(api_client, user, dispatcher, marks):
    first = submit(api_client, user, config("gpu-a", [role("w", REPORTING, 1, gpuNumber=1)], marks))
    second = submit(api_client, user, config("gpu-b", [role("w", REPORTING, 1, gpuNumber=1)], marks))
    wait_running(first, 1)
    wait_running(second, 1)
    # both write env-w-0: read each job's GPU from its detail instead
    bitmaps = {statuses(detail(api_client, name))[("w", 0)]["containerGpus"] for name in (first, second)}
    assert bitmaps == {1, 2}  # GPU 0 for one, GPU 1 for the other
    third = submit(api_client, user, config("gpu-c", [role("w", REPORTING, 1, gpuNumber=1)], marks))
    waiting_reason(api_client, third, "GPU: needs 1, 0 free")
    release(marks, "w", 0, 0)  # all three read the same go file
    for name in (first, second, third):
        assert wait_state(api_client, name)["jobStatus"]["state"] == "SUCCEEDED"


# --- refused at submit ------------------------------------------------------------------------------------------
def test_role_that_can_never_fit_is_refused_with_invalid_parameters(api_client, user, dispatcher):
    body = config("too-many-gpus", [role("trainer", "true", 1, gpuNumber=GPUS + 1)])
    response = api_client.post(JOBS, data=json.dumps(body), content_type="application/json", **bearer(user))
    assert response.status_code == 400, response.content
    answer = response.json()
    assert answer["code"] == "InvalidParametersError"
    assert "taskRole trainer" in answer["message"] and "gpuNumber" in answer["message"]
    assert not PaiJob.objects.filter(name="too-many-gpus").exists()

    body = config("too-much-memory", [role("loader", "true", 1, memoryMB=MEMORY_MB * 4)])
    response = api_client.post(JOBS, data=json.dumps(body), content_type="application/json", **bearer(user))
    assert response.status_code == 400 and "memoryMB" in response.json()["message"]

    # every task fits a node, but the gang as a whole never could
    body = config("too-big-a-gang", [role("w", "true", 3, cpuNumber=2)])
    response = api_client.post(JOBS, data=json.dumps(body), content_type="application/json", **bearer(user))
    assert response.status_code == 400, response.content
    assert response.json()["message"] == (
        "The job cannot be placed: the job's tasks together need more than the whole cluster has "
        f"(CPU: needs 6, the cluster has {CPUS})."
    )


# --- virtual clusters -------------------------------------------------------------------------------------------
@pytest.fixture
def cpu_share(settings):
    settings.OPENPAI_VC_SHARES = "default=CPU:2"


def test_vc_share_holds_jobs_back_and_refuses_jobs_beyond_it(api_client, user, cpu_share, dispatcher, marks):
    over = config("beyond-share", [role("w", "true", 3, cpuNumber=1)])
    response = api_client.post(JOBS, data=json.dumps(over), content_type="application/json", **bearer(user))
    assert response.status_code == 400 and response.json()["code"] == "InvalidParametersError"
    assert "virtual cluster default's share" in response.json()["message"]

    first = submit(api_client, user, config("share-a", [role("a", GATED, 2, cpuNumber=1)], marks))
    wait_running(first, 2)
    second = submit(api_client, user, config("share-b", [role("b", GATED, 1, cpuNumber=1)], marks))
    reason = waiting_reason(api_client, second, "virtual cluster default's share")
    assert "CPU: needs 1, 0 free" in reason  # of the share: the cluster has 2 free
    assert set(job_statuses(second)) == {JobStatus.INITED}
    release(marks, "a", 0, 0)
    release(marks, "a", 1, 0)
    wait_running(second, 1)
    release(marks, "b", 0, 0)
    assert wait_state(api_client, second)["jobStatus"]["state"] == "SUCCEEDED"


# --- STOP, retries, limits ----------------------------------------------------------------------------------------
def test_stop_ends_every_task_process_and_frees_the_gang(api_client, user, dispatcher, marks):
    name = submit(api_client, user, config("stopped", [role("w", GATED, 2, cpuNumber=2)], marks))
    running = wait_running(name, 2)
    pids = [task.job.pid for task in running]
    assert all(alive(pid) for pid in pids)
    assert put_execution(api_client, user, name, "STOP").status_code == 202
    final = wait_state(api_client, name)
    assert final["jobStatus"]["state"] == "STOPPED" and final["jobStatus"]["appExitCode"] == 214
    assert_all_gone(pids)
    # the whole cluster is free again: a job asking for every CPU starts
    after = submit(api_client, user, config("after-stop", [role("all", "true", 1, cpuNumber=CPUS)]))
    assert wait_state(api_client, after)["jobStatus"]["state"] == "SUCCEEDED"


def test_failed_attempt_is_retried_as_a_new_gang(api_client, user, dispatcher, marks):
    command = '[ "$PAI_JOB_ATTEMPT" = 1 ] && { echo "first attempt fails" >&2; exit 7; }; echo second attempt'
    name = submit(api_client, user, config("retried", [role("w", command, 2)], retryCount=1))
    final = wait_state(api_client, name)
    assert final["jobStatus"]["state"] == "SUCCEEDED", final
    assert final["jobStatus"]["retries"] == 1
    tasks = tasks_of(name)
    assert sorted(t.attempt for t in tasks) == [1, 1, 2, 2]
    assert {t.job.status for t in tasks if t.attempt == 2} == {JobStatus.SUCCEED}


def test_task_using_more_than_its_memory_is_ended_with_the_reason(api_client, user, dispatcher):
    hog = 'python -c "b = bytearray(400 * 1024 * 1024); print(len(b))"'
    name = submit(api_client, user, config("hog", [role("w", hog, 1, memoryMB=100)]))
    final = wait_state(api_client, name)
    assert final["jobStatus"]["state"] == "FAILED", final
    usage = statuses(final)[("w", 0)].get("containerUsage", {})
    if usage.get("memoryLimited"):
        assert "memoryMB" in final["jobStatus"]["appExitDiagnostics"]
        assert usage["maxMemoryMB"] <= 101
    else:  # no memory cgroup on this machine: the job core's address-space limit ended it
        assert final["jobStatus"]["appExitCode"] != 0


# --- faults -------------------------------------------------------------------------------------------------------
def test_lost_node_fails_the_job_with_the_reason(api_client, user, ray_head, dispatcher, marks):
    # A second node with more memory than the head: the task asking for it can only run there.
    node = ray_head.add_node(num_cpus=1, memory_mb=MEMORY_MB * 3)
    eventually(lambda: RayNode.objects.filter(alive=True).count() == 2, timeout=120, message="the node did not join")
    name = submit(api_client, user, config("on-node", [role("w", GATED, 1, memoryMB=MEMORY_MB * 2)], marks))
    running = wait_running(name, 1, timeout=120)
    pid = running[0].job.pid
    node.kill()
    final = wait_state(api_client, name, timeout=120)
    assert final["jobStatus"]["state"] == "FAILED", final
    assert "node running this task was lost" in final["jobStatus"]["appExitDiagnostics"]
    assert_all_gone([pid])
    eventually(lambda: RayNode.objects.filter(alive=True).count() == 1, timeout=120)


def test_a_restarted_dispatcher_fails_what_a_dead_one_left_running_and_the_policy_retries(
    api_client, user, settings, pai_fs
):
    """The database is the truth: tasks a dispatcher that is gone (its process dead) left Running or Scheduled end
    FAILED with the reason, and the job's retry policy starts a new attempt, queued for the next gang."""
    from jobs.runners.ray_gang import RayDispatcher

    settings.OPENPAI_RUNNER = "ray"
    name = submit(api_client, user, config("orphaned", [role("w", "true", 2)], retryCount=1))
    tasks = tasks_of(name)
    dead = f"ray@{socket.gethostname()}:999999999"
    for task, status in zip(tasks, (JobStatus.RUNNING, JobStatus.SCHEDULED), strict=True):
        type(task.job).objects.filter(pk=task.job_id).update(status=status, runner=dead)

    RayDispatcher(address="127.0.0.1:1").reconcile()  # no Ray needed to settle the database

    for task in tasks:
        task.job.refresh_from_db()
        assert task.job.status == JobStatus.FAILED and "dispatcher" in task.job.error_desc
    pai = PaiJob.objects.get(name=name)
    assert pai.attempt == 2 and pai.retries == 1 and not pai.is_final
    retry = tasks_of(name, 2)
    assert len(retry) == 2 and {t.job.status for t in retry} == {JobStatus.INITED}
    assert {t.job.queue for t in retry} == {"ray"}


# --- units ----------------------------------------------------------------------------------------------------------
def test_shares_are_read_as_fractions_or_amounts():
    shares = capacity.parse_shares("research=0.25; prod=CPU:8,GPU:2,memoryMB:16384")
    assert shares == {"research": {"fraction": 0.25}, "prod": {"CPU": 8.0, "GPU": 2.0, "memoryMB": 16384.0}}
    cluster = {"CPU": 16.0, "GPU": 4.0, "memoryMB": 64000.0}
    assert capacity.vc_capacity(shares["research"], cluster) == {"CPU": 4.0, "GPU": 1.0, "memoryMB": 16000.0}
    assert capacity.vc_capacity({"GPU": 1.0}, cluster) == {"CPU": 16.0, "GPU": 1.0, "memoryMB": 64000.0}
    assert capacity.vc_capacity(None, cluster) == cluster
    for bad in ("research", "research=2", "prod=TPU:1", "prod=CPU:x", "prod=CPU:-1", "=0.5"):
        with pytest.raises(capacity.ShareError):
            capacity.parse_shares(bad)


def test_fit_and_shortage_name_the_resource():
    nodes = [{"CPU": 4.0, "GPU": 2.0, "memoryMB": 8000.0}, {"CPU": 8.0, "GPU": 0.0, "memoryMB": 4000.0}]
    assert capacity.role_never_fits({"name": "w", "cpuNumber": 8, "memoryMB": 100}, nodes) is None
    reason = capacity.role_never_fits({"name": "w", "gpuNumber": 3}, nodes)
    assert reason == "taskRole w asks for 3 gpuNumber per task, more than any node of the cluster has (2)"
    # each resource fits some node, but no node has all of them at once
    reason = capacity.role_never_fits({"name": "w", "cpuNumber": 8, "gpuNumber": 1}, nodes)
    assert reason == "taskRole w asks for more than any one node of the cluster has at once"
    need = capacity.job_resources([{"taskNumber": 2, "cpuNumber": 2, "gpuNumber": 1, "memoryMB": 100}])
    assert need == {"CPU": 4.0, "GPU": 2.0, "memoryMB": 200.0}
    assert capacity.short(need, {"CPU": 1.0, "GPU": 2.0, "memoryMB": 0.5}) == [
        "CPU: needs 4, 1 free",
        "memoryMB: needs 200, 0.5 free",
    ]
    assert capacity.task_resources({"cpuNumber": 0})["CPU"] == capacity.MIN_CPU


def test_gpu_bitmap_is_upstreams_container_gpus():
    assert gpu_bitmap([]) == 0 and gpu_bitmap(["0"]) == 1 and gpu_bitmap(["0", "2"]) == 5 and gpu_bitmap(["3"]) == 8
