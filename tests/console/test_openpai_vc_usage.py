"""OpenPAI on Ray: each virtual cluster's use of its share (``vc_usage``), on the console's OpenPAI pages and in the
admin's Ray nodes. No Ray here: the nodes are rows as the gang dispatcher writes them, and the tasks' jobs move by
the job core's transitions."""

from __future__ import annotations

import json
import re

import pytest
from django.utils import timezone

from jobs.models import JobStatus, PaiJob, RayNode
from jobs.openpai.selectors import vc_usage
from jobs.openpai.services import pai_gang_waiting, pai_job_execute, pai_job_submit
from jobs.services import job_transition

pytestmark = pytest.mark.django_db

WAITING_REASON = "Waiting for virtual cluster default's share of the cluster: CPU: needs 3, 2 free."


@pytest.fixture(autouse=True)
def _ray_settings(settings, tmp_path):
    settings.OPENPAI_DEFAULT_FS = tmp_path / "pai"
    settings.OPENPAI_RUNNER = "ray"
    settings.OPENPAI_VC_SHARES = "default=CPU:4"
    settings.OPENPAI_VIRTUAL_CLUSTERS = ["default", "spare"]


@pytest.fixture
def nodes(db):
    """One live node (8 CPU, 2 GPU, 16000 MB) and one gone, whose resources no longer count."""
    return [
        RayNode.objects.create(
            node_id="a" * 40,
            host="10.0.0.5",
            total={"CPU": 8.0, "GPU": 2.0, "memoryMB": 16000.0},
            available={"CPU": 6.0, "GPU": 2.0, "memoryMB": 12000.0},
        ),
        RayNode.objects.create(
            node_id="b" * 40,
            host="10.0.0.9",
            alive=False,
            total={"CPU": 100.0, "GPU": 8.0, "memoryMB": 500000.0},
            available={"CPU": 100.0, "GPU": 8.0, "memoryMB": 500000.0},
        ),
    ]


def submit(owner, name: str, *, tasks: int, cpu: int, memory: int = 2000) -> PaiJob:
    config = {
        "jobName": name,
        "image": "ubuntu:16.04",
        "virtualCluster": "default",
        "taskRoles": [
            {
                "name": "main",
                "command": "echo hi",
                "taskNumber": tasks,
                "cpuNumber": cpu,
                "gpuNumber": 0,
                "memoryMB": memory,
            }
        ],
    }
    raw = json.dumps(config)
    return pai_job_submit(owner=owner, data=json.loads(raw), raw=raw)


def start(pai: PaiJob) -> None:
    """The dispatcher placed the gang: every task of the current attempt runs."""
    for task in pai.tasks.filter(attempt=pai.attempt):
        assert job_transition(job_id=task.job_id, to=JobStatus.SCHEDULED)
        assert job_transition(job_id=task.job_id, to=JobStatus.RUNNING, started_at=timezone.now())


@pytest.fixture
def jobs(nodes, user, other_user, settings):
    """On VC default: a running job (2 tasks of 1 CPU, 2000 MB), a waiting one (3 CPU), a stopped one, and a
    running job of the local runner (not on Ray: not counted)."""
    settings.OPENPAI_RUNNER = "local"
    local = submit(user, "local", tasks=1, cpu=1)
    start(local)
    settings.OPENPAI_RUNNER = "ray"
    running = submit(user, "running", tasks=2, cpu=1)
    start(running)
    waiting = submit(other_user, "waiting", tasks=1, cpu=3)
    pai_gang_waiting(pai_job_id=waiting.pk, reason=WAITING_REASON)
    stopped = submit(other_user, "stopped", tasks=1, cpu=1)
    pai_job_execute(pai=stopped, actor=other_user, value="STOP")
    return {"running": running, "waiting": waiting, "stopped": stopped, "local": local}


def text(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def by_testid(page: str, name: str) -> str:
    match = re.search(rf'<(\w+)[^>]*data-testid="{name}"[^>]*>(.*?)</\1>', page, re.S)
    assert match, f"no element with data-testid={name}"
    return match.group(0)


def vc_row(page: str, vc: str) -> str:
    match = re.search(rf'<tr data-testid="vc-row" data-vc="{vc}">(.*?)</tr>', page, re.S)
    assert match, f"no row of virtual cluster {vc}"
    return match.group(1)


# --- vc_usage() -----------------------------------------------------------------------------------------------
def test_vc_usage_sums_running_ray_jobs_and_counts_waiting_ones(jobs, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):
        usage = vc_usage()
    assert usage["runner"] == "ray"
    assert [node.host for node in usage["nodes"]] == ["10.0.0.5", "10.0.0.9"]  # alive first
    assert usage["cluster"] == {"CPU": 8.0, "GPU": 2.0, "memoryMB": 16000.0}  # the gone node does not count
    default, spare = usage["virtual_clusters"]
    assert default == {
        "name": "default",
        "share": "CPU 4",
        "capacity": {"CPU": 4.0, "GPU": 2.0, "memoryMB": 16000.0},
        "used": {"CPU": 2.0, "GPU": 0.0, "memoryMB": 4000.0},
        "running_jobs": 1,
        "waiting_jobs": 1,
        "percent": {"CPU": 50, "GPU": 0, "memoryMB": 25},
    }
    assert spare["share"] == "the whole cluster" and spare["capacity"] == usage["cluster"]
    assert spare["running_jobs"] == spare["waiting_jobs"] == 0
    assert spare["percent"] == {"CPU": 0, "GPU": 0, "memoryMB": 0}


def test_vc_usage_shares_as_text_and_a_resource_of_no_capacity(nodes, settings):
    settings.OPENPAI_VC_SHARES = "default=0.25; spare=GPU:0,memoryMB:16384"
    default, spare = vc_usage()["virtual_clusters"]
    assert default["share"] == "25% of the cluster"
    assert default["capacity"] == {"CPU": 2.0, "GPU": 0.5, "memoryMB": 4000.0}
    assert spare["share"] == "GPU 0, memoryMB 16384"
    assert spare["percent"]["GPU"] is None  # nothing to use: no percentage


def test_vc_usage_with_unreadable_shares_and_no_nodes(db, settings):
    settings.OPENPAI_VC_SHARES = "default"
    usage = vc_usage()
    assert usage["nodes"] == [] and usage["cluster"] == {"CPU": 0.0, "GPU": 0.0, "memoryMB": 0.0}
    assert usage["virtual_clusters"][0]["share"] == "the whole cluster"
    assert usage["virtual_clusters"][0]["percent"] == {"CPU": None, "GPU": None, "memoryMB": None}


# --- console --------------------------------------------------------------------------------------------------
@pytest.fixture
def console(client, user):
    client.force_login(user)
    return client


def test_openpai_page_shows_the_virtual_clusters_on_ray(console, jobs):
    page = text(console.get("/console/openpai/"))
    panel = by_testid(page, "openpai-vc-usage")
    assert "Virtual clusters" in panel
    assert page.index('data-testid="openpai-vc-usage"') < page.index('data-testid="openpai-table"')
    row = vc_row(page, "default")
    assert '<th scope="row">default</th>' in row and "CPU 4" in row
    assert "2 / 4" in row and "0 / 2" in row and "4000 / 16000" in row
    assert 'value="50"' in row and 'value="25"' in row
    assert '<td class="num" data-field="running">1</td>' in row
    assert '<td class="num" data-field="waiting">1</td>' in row
    assert "the whole cluster" in vc_row(page, "spare")
    assert 'data-testid="ray-node-table"' not in page and "10.0.0.5" not in page  # nodes: for admins only


def test_openpai_page_shows_admins_the_nodes(client, admin_user, jobs):
    client.force_login(admin_user)
    page = text(client.get("/console/openpai/"))
    nodes = by_testid(page, "ray-node-table")
    assert "10.0.0.5" in nodes and "6 / 8" in nodes and "12000 / 16000" in nodes and "gone" in nodes


def test_openpai_page_has_no_panel_with_the_local_runner(console, jobs, settings):
    settings.OPENPAI_RUNNER = "local"
    page = text(console.get("/console/openpai/"))
    assert 'data-testid="openpai-vc-usage"' not in page and "Virtual clusters" not in page
    assert 'data-testid="openpai-table"' in page


def test_openpai_job_page_shows_why_the_job_waits(console, jobs):
    page = text(console.get("/console/openpai/bob/waiting/"))
    assert WAITING_REASON.replace("'", "&#x27;") in by_testid(page, "openpai-waiting-reason")
    # A running job waits for nothing.
    assert 'data-testid="openpai-waiting-reason"' not in text(console.get("/console/openpai/alice/running/"))


def test_openpai_job_page_shows_each_tasks_host_gpus_and_usage(console, jobs):
    running = jobs["running"]
    running.tasks.filter(index=0).update(
        host="10.0.0.5", gpus=["0", "1"], usage={"cpuSeconds": 12.5, "maxMemoryMB": 512, "memoryLimited": True}
    )
    page = text(console.get("/console/openpai/alice/running/"))
    row = re.search(r'data-testid="task-row" data-role="main" data-index="0">(.*?)</tr>', page, re.S).group(1)
    assert '<td data-field="containerIp">10.0.0.5</td>' in row
    assert '<td data-field="containerGpus">0, 1</td>' in row
    assert "12.5 CPU s · 512 MB peak" in row and "(memory limited)" in row
    other = re.search(r'data-testid="task-row" data-role="main" data-index="1">(.*?)</tr>', page, re.S).group(1)
    assert '<td data-field="containerGpus">—</td>' in other and '<td data-field="containerUsage">—</td>' in other


# --- admin ----------------------------------------------------------------------------------------------------
@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def test_admin_ray_nodes_show_the_virtual_clusters(admin_client, jobs):
    page = text(admin_client.get("/admin/jobs/raynode/"))
    table = by_testid(page, "vc-usage")
    assert "Virtual clusters" in table and "runner: ray" in table
    row = re.search(r'<tr data-vc="default">(.*?)</tr>', table, re.S).group(1)
    assert "CPU 4" in row and "2 / 4 (50%)" in row and "4000 / 16000 (25%)" in row
    assert "<td>1</td>" in row  # running and waiting
    assert "10.0.0.5" in page and "CPU 8, GPU 2, memoryMB 16000" in page  # the nodes' list below it
    assert page.index('data-testid="vc-usage"') < page.index('id="result_list"')


def test_admin_ray_nodes_are_read_only(admin_client, nodes):
    node = nodes[0]
    assert admin_client.get("/admin/jobs/raynode/add/").status_code == 403
    assert admin_client.post(f"/admin/jobs/raynode/{node.pk}/change/", {"host": "x"}).status_code == 403
    assert admin_client.get(f"/admin/jobs/raynode/{node.pk}/delete/").status_code == 403
    page = text(admin_client.get("/admin/jobs/raynode/"))
    assert "/admin/jobs/raynode/add/" not in page
    node.refresh_from_db()
    assert node.host == "10.0.0.5"


def test_admin_openpai_job_shows_waiting_reason_and_task_placement(admin_client, jobs):
    waiting, running = jobs["waiting"], jobs["running"]
    running.tasks.filter(index=0).update(host="10.0.0.5", gpus=["1"], usage={"cpuSeconds": 3.0, "maxMemoryMB": 64})
    assert WAITING_REASON.replace("'", "&#x27;") in text(admin_client.get(f"/admin/jobs/paijob/{waiting.pk}/change/"))
    page = text(admin_client.get(f"/admin/jobs/paijob/{running.pk}/change/"))
    assert "10.0.0.5" in page and "3 CPU s, 64 MB peak" in page
