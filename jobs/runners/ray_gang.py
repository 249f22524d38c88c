"""The gang dispatcher: OpenPAI jobs on a Ray cluster (``OPENPAI_RUNNER=ray``), all of a job's tasks or none.

One process (``manage.py openpai_ray``; the server starts and watches it when ``OPENPAI_RAY_DISPATCHER_AUTOSTART``
is on) is the Ray driver. It never runs in a web process: a Ray driver whose head goes away ends its process.

- **Queue**: the tasks of an OpenPAI attempt are job-core jobs with ``queue="ray"``; the job core's own runners
  leave them alone. The dispatcher takes jobs oldest first, wakes when a submit pokes its socket (``wake_dispatcher``)
  and polls every quarter second, so jobs queued by any process start.
- **Virtual clusters**: a job starts only while its VC's placed and running jobs plus its own needs stay within the
  VC's share (``jobs.openpai.capacity``); otherwise it waits, with the reason, and later jobs of that VC wait behind it.
- **Gang placement**: a job becomes one placement group (``PACK``) with one bundle per task instance (CPU, GPU,
  memory of its role). Ray reserves every bundle at once or none; until then the job stays WAITING and its
  ``waiting_reason`` says which resource is short. A group Ray finds infeasible (no node could ever hold a bundle)
  ends the job FAILED with the reason.
- **Start**: once placed, the dispatcher learns each bundle's node (the group's table) and GPU ids (a short probe
  task in each GPU bundle), has each task prepared on its node by the node's agent (``jobs.runners.ray_node``: a
  memory cgroup, free ports), writes every task's environment (peers' real hosts and ports, ``CUDA_VISIBLE_DEVICES``)
  and starts the tasks together. Each task is supervised here as any job is (``RayTaskExecution``: the same
  sandboxed command line, log lines, kill, timeout and ending), with the process on the node.
- **Faults**: a task whose node (or agent) is lost fails with the reason; the completion policy and retries decide
  the job. On start the dispatcher fails the tasks a dead dispatcher left running (the database is the truth), so the
  policy retries or ends their jobs. The group is removed as soon as the attempt's processes have all ended.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import select
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.db.models import F
from django.utils import timezone

from jobs.models import ACTIVE, PAI_FINAL_STATES, QUEUED, Job, JobErrorCode, JobStatus, PaiJob, PaiTask, RayNode
from jobs.openpai import capacity
from jobs.runners import ray_node
from jobs.runners.recovery import pid_alive
from jobs.runners.supervisor import ExecutionPool, JobExecution
from jobs.services import job_transition, run_finish_sweeps

logger = logging.getLogger(__name__)

MB = 1024 * 1024
POLL_SECONDS = 0.25
NODES_REFRESH_SECONDS = 2.0
REASON_REFRESH_SECONDS = 1.0
READ_WAIT_SECONDS = 0.5
USAGE_SECONDS = 5.0  # how often a running task's use of CPU and memory is written to its detail
START_TIMEOUT_SECONDS = 120.0
NAMESPACE = "dataplatform-openpai"
IDENTITY_PREFIX = "ray@"


# --- waking the dispatcher ----------------------------------------------------------------------------------------
def socket_path() -> Path:
    """Where this database's dispatcher listens for wake-ups (one per database: test runs share a DATA_DIR)."""
    database = hashlib.sha256(str(connection.settings_dict["NAME"]).encode()).hexdigest()[:12]
    return Path(settings.DATA_DIR) / "run" / f"openpai-ray-{database}.sock"


def wake_dispatcher() -> None:
    """Poke the dispatcher on this machine (a submit): it would find the job within a quarter second anyway."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        sock.sendto(b"w", str(socket_path()))


# --- one task's process on its node, seen from here -----------------------------------------------------------------
class RemoteProcess:
    """A ``subprocess.Popen`` look-alike over a task's process on a node (its ``NodeAgent``): the output arrives through
    local pipes, so the job core's supervision (``JobExecution._pump``) reads it as it reads a local child's."""

    def __init__(self, agent, job_id: int, pid: int, control_fd: int, on_lost=None, on_usage=None) -> None:
        self.agent = agent
        self.on_lost = on_lost
        self.on_usage = on_usage
        self.job_id = job_id
        self.pid = pid
        self.returncode: int | None = None
        self.usage: dict = {}
        out_read, self._out = os.pipe()
        err_read, self._err = os.pipe()
        self._ctl = os.dup(control_fd)  # the engine's control pipe: the caller closes its own end after the start
        self.stdout = open(out_read, "rb", buffering=0)  # noqa: SIM115 - closed by the supervisor's pump
        self.stderr = open(err_read, "rb", buffering=0)  # noqa: SIM115
        self._exited = threading.Event()
        self._done = threading.Event()
        threading.Thread(target=self._pull, name=f"ray-task-{pid}", daemon=True).start()

    def _pull(self) -> None:
        import ray

        targets = {"out": self._out, "err": self._err, "ctl": self._ctl}
        usage_at = time.monotonic()
        try:
            while True:
                with_usage = self.on_usage is not None and time.monotonic() - usage_at >= USAGE_SECONDS
                answer = ray.get(self.agent.read.remote(self.job_id, READ_WAIT_SECONDS, with_usage))
                if with_usage:
                    usage_at = time.monotonic()
                    if answer["usage"] and not answer["done"]:
                        self.on_usage(answer["usage"])
                for kind, data in answer["chunks"]:
                    _write_all(targets[kind], data)
                if answer["returncode"] is not None and not self._exited.is_set():
                    self.returncode = answer["returncode"]
                    self._exited.set()
                if answer["done"]:
                    self.usage = answer["usage"] or {}
                    break
        except Exception as exc:  # the agent or its node is gone: the task ends with the reason
            if self.on_lost is not None:
                self.on_lost(self.agent)
            reason = f"The Ray node running this task was lost ({type(exc).__name__}); the task ended."
            with contextlib.suppress(OSError):
                _write_all(self._err, f"{reason}\n".encode())
                message = {"type": "error", "code": int(JobErrorCode.FAILOVER), "desc": reason}
                _write_all(self._ctl, (json.dumps(message) + "\n").encode())
            if self.returncode is None:
                self.returncode = 128 + signal.SIGKILL
        finally:
            for fd in (self._out, self._err, self._ctl):
                with contextlib.suppress(OSError):
                    os.close(fd)
            self._exited.set()
            self._done.set()
            connection.close()  # this thread's, if reporting the usage opened one

    def poll(self) -> int | None:
        return self.returncode if self._exited.is_set() else None

    def wait(self, timeout: float | None = None) -> int | None:
        self._done.wait(timeout)
        return self.returncode


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class RayTaskExecution(JobExecution):
    """One task's job, supervised here as the job core supervises any job, its process running on a Ray node."""

    def __init__(
        self, pool: ExecutionPool, job_id: int, *, agent, memory_limited: bool, on_lost=None, on_ended=None
    ) -> None:
        super().__init__(pool, job_id)
        self.agent = agent
        self.memory_limited = memory_limited
        self.on_lost = on_lost
        self.on_ended = on_ended

    def _finish(self, job: Job) -> None:
        # The process is gone: free the gang's resources (once all its processes are) before the last writes.
        if self.on_ended is not None:
            self.on_ended(self.job_id)
        super()._finish(job)

    def memory_limit_mb(self) -> int:
        # The role's memoryMB is the task's cgroup limit where the node has one; otherwise the job core's limit.
        return 0 if self.memory_limited else super().memory_limit_mb()

    def _launch(self, argv: list[str], *, cwd: Path, env: dict[str, str], control_fd: int):
        import ray

        answer = ray.get(self.agent.start.remote(self.job_id, argv, env, str(cwd)), timeout=START_TIMEOUT_SECONDS)
        return RemoteProcess(
            self.agent, self.job_id, answer["pid"], control_fd, on_lost=self.on_lost, on_usage=self._report_usage
        )

    def _report_usage(self, usage: dict) -> None:
        """What the running task uses now, for its detail (every ``USAGE_SECONDS``; a lost write is not retried)."""
        try:
            PaiTask.objects.filter(job_id=self.job_id).update(usage=usage)
        except DatabaseError:
            connection.close()

    def _signal_term(self, process) -> None:
        self.agent.signal.remote(self.job_id, int(signal.SIGTERM), self.sandboxed)

    def _force_kill(self) -> None:
        if self.process is not None:
            self.agent.signal.remote(self.job_id, int(signal.SIGKILL), self.sandboxed)

    def _write_end(self, job: Job, status: str, **fields) -> None:
        usage = getattr(self.process, "usage", None)
        if usage:
            PaiTask.objects.filter(job_id=job.pk).update(usage=usage)
        super()._write_end(job, status, **fields)


# --- gangs ------------------------------------------------------------------------------------------------------------
@dataclass
class Task:
    job_id: int
    role: dict
    index: int
    resources: dict[str, float]


@dataclass
class Gang:
    pai_id: int
    attempt: int
    vc: str
    need: dict[str, float]
    tasks: list[Task]
    pg: Any = None
    agents: dict[int, Any] = field(default_factory=dict)  # job id -> the NodeAgent running it
    live: set[int] = field(default_factory=set)  # started tasks whose supervision has not ended
    running: set[int] = field(default_factory=set)  # started tasks whose process has not ended
    released: bool = False

    @property
    def key(self) -> tuple[int, int]:
        return (self.pai_id, self.attempt)


def bundle(resources: dict[str, float]) -> dict[str, float]:
    out = {"CPU": resources["CPU"]}
    if resources["GPU"]:
        out["GPU"] = resources["GPU"]
    if resources["memoryMB"]:
        out["memory"] = float(int(resources["memoryMB"] * MB))
    return out


def _from_ray(resources: dict) -> dict[str, float]:
    return {
        "CPU": float(resources.get("CPU", 0.0)),
        "GPU": float(resources.get("GPU", 0.0)),
        "memoryMB": round(float(resources.get("memory", 0.0)) / MB, 1),
    }


class RayDispatcher:
    """The Ray driver that places OpenPAI jobs as gangs and supervises their tasks (see the module docstring)."""

    def __init__(self, *, address: str) -> None:
        self.address = address
        self.identity = f"{IDENTITY_PREFIX}{socket.gethostname()}:{os.getpid()}"
        self.pool = ExecutionPool(on_finished=self._task_finished)
        self.gangs: dict[tuple[int, int], Gang] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._nodes: list[dict[str, float]] = []
        self._nodes_at = 0.0
        self._shares = capacity.configured_shares()
        self._agent_class: Any = None
        self._gpu_probe: Any = None
        self._agents: dict[str, Any] = {}  # node id -> its NodeAgent
        self._node_ips: dict[str, str] = {}
        self._sock: socket.socket | None = None

    # --- lifecycle --------------------------------------------------------------------------------------------------
    def connect(self) -> None:
        if self.address.partition(":")[0] in ("127.0.0.1", "localhost"):
            # A cluster on the loopback address (a local head): Ray would rewrite it to the machine's own address.
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        import ray
        from ray.util import placement_group  # noqa: F401 - fail here, not mid-job, where Ray lacks it

        from jobs import procs

        # The node side is pickled by value: a node needs the platform's runtime, not its code on sys.path.
        ray.cloudpickle.register_pickle_by_value(ray_node)
        ray.cloudpickle.register_pickle_by_value(procs)
        if not ray.is_initialized():
            ray.init(address=self.address, namespace=NAMESPACE, log_to_driver=False, logging_level=logging.WARNING)
        self._agent_class = ray.remote(num_cpus=0, max_restarts=0, max_concurrency=1000)(ray_node.NodeAgent)
        self._gpu_probe = ray.remote(max_retries=0)(ray_node.bundle_gpus)

    def run(self) -> None:
        """Connect, settle what a dead dispatcher left, then dispatch until ``stop()``."""
        self.connect()
        self.reconcile()
        path = socket_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(path))
        self._sock.setblocking(False)
        logger.info("OpenPAI gang dispatcher %s on Ray at %s", self.identity, self.address)
        try:
            while not self._stopping.is_set():
                select.select([self._sock], [], [], POLL_SECONDS)
                with contextlib.suppress(OSError):
                    while self._sock.recv(64):
                        pass
                if self._stopping.is_set():
                    break
                try:
                    self.step()
                except Exception:  # a database or Ray hiccup must not end the dispatcher
                    logger.exception("OpenPAI gang dispatcher iteration failed")
                    close_old_connections()
                    time.sleep(0.5)
        finally:
            self._shutdown()

    def stop(self) -> None:
        self._stopping.set()
        wake_dispatcher()

    def _shutdown(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        for execution in self.pool.stop_all():
            execution.thread.join(max(deadline - time.monotonic(), 0.1))
        with self._lock:
            gangs = list(self.gangs.values())
            self.gangs.clear()
        for gang in gangs:
            self._release(gang)
        with self._lock:
            agents, self._agents = list(self._agents.values()), {}
        for agent in agents:
            with contextlib.suppress(Exception):
                import ray

                ray.kill(agent)
        if self._sock is not None:
            self._sock.close()
            with contextlib.suppress(FileNotFoundError):
                socket_path().unlink()
        connection.close()

    def step(self) -> None:
        now = time.monotonic()
        if now - self._nodes_at >= NODES_REFRESH_SECONDS:
            self.refresh_nodes()
            self._nodes_at = now
        self._admit()

    # --- what a dead dispatcher left --------------------------------------------------------------------------------
    def reconcile(self) -> None:
        """Fail the tasks a dispatcher that is gone left placed or running; the completion policy decides the rest."""
        host = socket.gethostname()
        for job in Job.objects.filter(queue="ray", status__in=ACTIVE).only("id", "status", "runner"):
            if job.runner == self.identity:
                continue
            runner_host, _, runner_pid = job.runner.removeprefix(IDENTITY_PREFIX).rpartition(":")
            if runner_host == host and runner_pid.isdigit() and pid_alive(int(runner_pid)):
                continue  # another dispatcher on this machine is alive and holds it
            reason = (
                f"Job {job.pk} failover: the OpenPAI dispatcher {job.runner or '(none)'} stopped while the task was "
                f"{job.status}; the task was ended."
            )
            job_transition(
                job_id=job.pk,
                to=JobStatus.FAILED,
                only_from=ACTIVE,
                log=reason,
                level="ERROR",
                error_code=JobErrorCode.FAILOVER,
                error_desc=reason,
            )
        run_finish_sweeps()

    # --- the cluster --------------------------------------------------------------------------------------------------
    def refresh_nodes(self) -> None:
        """Read the cluster's live nodes and what is free on each; keep them in ``RayNode`` for submit and the admin."""
        import ray

        free_by_node: dict[str, dict] = {}
        with contextlib.suppress(Exception):  # an internal API: without it, "available" shows the totals
            from ray._private.state import state as ray_state

            free_by_node = ray_state._available_resources_per_node()
        seen = []
        nodes = []
        now = timezone.now()
        for node in ray.nodes():
            if not node.get("Alive"):
                continue
            node_id = node["NodeID"]
            total = _from_ray(node.get("Resources") or {})
            nodes.append(total)
            seen.append(node_id)
            self._node_ips[node_id] = node.get("NodeManagerAddress", "")
            RayNode.objects.update_or_create(
                node_id=node_id,
                defaults={
                    "host": node.get("NodeManagerAddress", ""),
                    "alive": True,
                    "total": total,
                    "available": _from_ray(free_by_node.get(node_id, node.get("Resources") or {})),
                    "updated_at": now,
                },
            )
        RayNode.objects.exclude(node_id__in=seen).filter(alive=True).update(alive=False, updated_at=now)
        self._nodes = nodes
        with self._lock:
            for node_id in set(self._agents) - set(seen):
                del self._agents[node_id]  # its node is gone, and the agent with it
        for node_id in seen:
            self._agent(node_id)  # ready before the first job lands there

    def vc_used(self, vc: str) -> dict[str, float]:
        with self._lock:
            return capacity.total(gang.need for gang in self.gangs.values() if gang.vc == vc and not gang.released)

    # --- admitting jobs -----------------------------------------------------------------------------------------------
    def _admit(self) -> None:
        """Place the queued jobs, oldest first, that their VC's share leaves room for."""
        waiting = (
            PaiJob.objects.exclude(state__in=PAI_FINAL_STATES)
            .filter(
                execution_type="START",
                tasks__attempt=F("attempt"),
                tasks__job__queue="ray",
                tasks__job__status__in=QUEUED,
            )
            .distinct()
            .order_by("created_at", "id")
        )
        blocked: set[str] = set()
        for pai in waiting.only("id", "attempt", "virtual_cluster", "config", "waiting_reason"):
            key = (pai.pk, pai.attempt)
            with self._lock:
                if key in self.gangs:
                    continue
            if pai.virtual_cluster in blocked:
                continue
            gang = self._gang_of(pai)
            if gang is None:
                continue
            if not self._nodes:
                self._say_waiting(pai, "Waiting for the Ray cluster: no node has joined it yet.")
                continue
            reason = capacity.job_never_fits(pai.roles(), self._nodes)
            if reason is not None:
                self._refuse(gang, f"The job cannot be placed: {reason}.")
            elif self._over_share(pai, gang):
                blocked.add(pai.virtual_cluster)
            else:
                self._place(gang)

    def _gang_of(self, pai: PaiJob) -> Gang | None:
        """The job's current attempt as a gang, if every task of it is still queued (else the policy decides it)."""
        roles = {role["name"]: role for role in pai.roles()}
        rows = list(
            PaiTask.objects.filter(pai_job=pai, attempt=pai.attempt)
            .order_by("role", "index")
            .values_list("job_id", "role", "index", "job__status")
        )
        if not rows or any(status not in QUEUED for _, _, _, status in rows):
            return None
        tasks = [
            Task(job_id, roles[role], index, capacity.task_resources(roles[role])) for job_id, role, index, _ in rows
        ]
        return Gang(pai.pk, pai.attempt, pai.virtual_cluster, capacity.job_resources(roles.values()), tasks)

    def _over_share(self, pai: PaiJob, gang: Gang) -> bool:
        share = self._shares.get(pai.virtual_cluster)
        if share is None:
            return False
        limit = capacity.vc_capacity(share, capacity.total(self._nodes))
        used = self.vc_used(pai.virtual_cluster)
        free = {key: limit[key] - used[key] for key in capacity.RESOURCES}
        missing = capacity.short(gang.need, free)
        if not missing:
            return False
        self._say_waiting(
            pai, f"Waiting for virtual cluster {pai.virtual_cluster}'s share of the cluster: {'; '.join(missing)}."
        )
        return True

    def _say_waiting(self, pai: PaiJob, reason: str) -> None:
        if pai.waiting_reason != reason:
            from jobs.openpai.services import pai_gang_waiting

            pai_gang_waiting(pai_job_id=pai.pk, reason=reason)

    def _refuse(self, gang: Gang, reason: str) -> None:
        from jobs.openpai.services import pai_gang_refused

        pai_gang_refused(pai_job_id=gang.pai_id, attempt=gang.attempt, reason=reason)

    def _place(self, gang: Gang) -> None:
        from ray.util.placement_group import placement_group

        gang.pg = placement_group([bundle(task.resources) for task in gang.tasks], strategy="PACK")
        with self._lock:
            self.gangs[gang.key] = gang
        threading.Thread(target=self._await_placement, args=(gang,), name=f"gang-{gang.pai_id}", daemon=True).start()

    def _agent(self, node_id: str):
        """The node's agent, created on first use (a worker process on that node, pinned to it)."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        with self._lock:
            agent = self._agents.get(node_id)
            if agent is None:
                agent = self._agent_class.options(
                    scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=node_id, soft=False)
                ).remote()
                self._agents[node_id] = agent
        return agent

    def _forget_agent(self, agent) -> None:
        """An agent stopped answering (its node or its process is gone): the next task on that node gets a new one."""
        with self._lock:
            for node_id, known in list(self._agents.items()):
                if known is agent:
                    del self._agents[node_id]

    # --- placing ------------------------------------------------------------------------------------------------------
    def _await_placement(self, gang: Gang) -> None:
        """Wait for the group (saying why it waits, once a second) and start the gang the moment it is placed."""
        try:
            while not self._stopping.is_set():
                if gang.pg.wait(timeout_seconds=REASON_REFRESH_SECONDS):  # asks the head; no worker involved
                    self._start_gang(gang)
                    return
                if not self._check_pending(gang):
                    return
        except Exception:
            logger.exception("placing OpenPAI job %s attempt %s failed", gang.pai_id, gang.attempt)
            self._drop(gang)
        finally:
            connection.close()

    def _still_wanted(self, gang: Gang) -> bool:
        queued = Job.objects.filter(pk__in=[task.job_id for task in gang.tasks], status__in=QUEUED).count()
        pai = PaiJob.objects.filter(pk=gang.pai_id).values_list("state", "attempt", "execution_type").first()
        return (
            pai is not None
            and pai[0] not in PAI_FINAL_STATES
            and pai[1] == gang.attempt
            and pai[2] == "START"
            and queued == len(gang.tasks)
        )

    def _check_pending(self, gang: Gang) -> bool:
        """A group still waiting: drop it if the job went away, refuse it if it can never fit, else say why it waits.
        Return whether it still waits."""
        import ray
        from ray.util.placement_group import placement_group_table

        if not self._still_wanted(gang):
            self._drop(gang)
            return False
        stats = (placement_group_table(gang.pg) or {}).get("stats") or {}
        if stats.get("scheduling_state") == "INFEASIBLE":
            self._drop(gang)
            self._refuse(gang, "The job cannot be placed: no node of the Ray cluster can hold one of its tasks.")
            return False
        free = _from_ray(ray.available_resources())
        missing = capacity.short(gang.need, free)
        if missing:
            reason = f"Waiting for resources: {'; '.join(missing)}."
        else:
            reason = "Waiting for resources: no node has room for one of its tasks yet (the free resources are spread)."
        from jobs.openpai.services import pai_gang_waiting

        pai_gang_waiting(pai_job_id=gang.pai_id, reason=reason)
        return True

    # --- starting -----------------------------------------------------------------------------------------------------
    def _bundle_nodes(self, gang: Gang) -> list[str]:
        from ray.util.placement_group import placement_group_table

        table = placement_group_table(gang.pg) or {}
        by_index = table.get("bundles_to_node_id") or {}
        return [by_index[index] for index in range(len(gang.tasks))]

    def _start_gang(self, gang: Gang) -> None:
        """The group is placed: each task's node, GPUs (a short probe in its bundle) and ports; the environment; then
        every task at once, each through its node's agent."""
        import ray
        from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

        from jobs.openpai.services import _random_port_count, pai_gang_placed

        claimed: list[int] = []
        node_ids: list[str] = []
        try:
            node_ids = self._bundle_nodes(gang)
            probes = {
                index: self._gpu_probe.options(
                    num_cpus=task.resources["CPU"],
                    num_gpus=task.resources["GPU"],
                    scheduling_strategy=PlacementGroupSchedulingStrategy(gang.pg, placement_group_bundle_index=index),
                ).remote()
                for index, task in enumerate(gang.tasks)
                if task.resources["GPU"]
            }
            agents = [self._agent(node_id) for node_id in node_ids]
            ips = [self._node_ips.get(node_id) or "127.0.0.1" for node_id in node_ids]
            prepared = ray.get(
                [
                    agent.prepare.remote(
                        task.job_id,
                        int(task.resources["memoryMB"] * MB),
                        ip,
                        _random_port_count({**task.role, "taskNumber": 1}),
                    )
                    for agent, task, ip in zip(agents, gang.tasks, ips, strict=True)
                ],
                timeout=START_TIMEOUT_SECONDS,
            )
            for agent, task in zip(agents, gang.tasks, strict=True):
                gang.agents[task.job_id] = agent
            gpus = dict(zip(probes, ray.get(list(probes.values()), timeout=START_TIMEOUT_SECONDS), strict=True))
            nodes = {
                (task.role["name"], task.index): {"ip": ip, "gpus": gpus.get(index, []), "free_ports": ready["ports"]}
                for index, (task, ip, ready) in enumerate(zip(gang.tasks, ips, prepared, strict=True))
            }
            if not pai_gang_placed(pai_job_id=gang.pai_id, attempt=gang.attempt, nodes=nodes):
                self._drop(gang)
                return
            for task in gang.tasks:
                if job_transition(
                    job_id=task.job_id,
                    to=JobStatus.SCHEDULED,
                    only_from=QUEUED,
                    runner=self.identity,
                    scheduled_at=timezone.now(),
                    pid=None,
                ):
                    claimed.append(task.job_id)
            if len(claimed) < len(gang.tasks):  # stopped or deleted meanwhile: start none of them
                for job_id in claimed:
                    job_transition(
                        job_id=job_id,
                        to=JobStatus.CANCELLED,
                        only_from=(JobStatus.SCHEDULED,),
                        log="The job's other tasks ended before it started; it was not started.",
                    )
                self._drop(gang)
                run_finish_sweeps()
                return
            gang.live = set(claimed)
            gang.running = set(claimed)
            for task, agent, ready in zip(gang.tasks, agents, prepared, strict=True):
                execution = self.pool.add(
                    task.job_id,
                    factory=lambda pool, job_id, agent=agent, limited=ready["memoryLimited"]: RayTaskExecution(
                        pool,
                        job_id,
                        agent=agent,
                        memory_limited=limited,
                        on_lost=self._forget_agent,
                        on_ended=self._task_process_ended,
                    ),
                )
                execution.thread.start()
        except Exception as exc:
            logger.exception("starting OpenPAI job %s attempt %s failed", gang.pai_id, gang.attempt)
            if isinstance(exc, ray.exceptions.RayActorError):  # an agent died: the next gang gets a new one
                for agent in [*gang.agents.values(), *(self._agents.get(node) for node in node_ids)]:
                    self._forget_agent(agent)
            reason = f"The platform could not start the task on Ray: {type(exc).__name__}: {exc}"
            for task in gang.tasks:
                if task.job_id in gang.live:
                    continue
                job_transition(
                    job_id=task.job_id,
                    to=JobStatus.FAILED,
                    only_from=(*QUEUED, JobStatus.SCHEDULED),
                    log=reason,
                    level="ERROR",
                    error_code=JobErrorCode.INTERNAL,
                    error_desc=reason,
                )
            if not gang.live:
                self._drop(gang)
            run_finish_sweeps()

    # --- ending -------------------------------------------------------------------------------------------------------
    def _task_process_ended(self, job_id: int) -> None:
        """A task's process ended: once every process of its gang has, the group is removed at once (the next job
        may be placed while this one's last states are written)."""
        with self._lock:
            gang = next((g for g in self.gangs.values() if job_id in g.running), None)
            if gang is None:
                return
            gang.running.discard(job_id)
            if gang.running:
                return
        self._release(gang)
        wake_dispatcher()

    def _task_finished(self, job_id: int) -> None:
        with self._lock:
            gang = next((g for g in self.gangs.values() if job_id in g.live), None)
            if gang is None:
                return
            gang.live.discard(job_id)
            gang.agents.pop(job_id, None)
            done = not gang.live
            if done:
                self.gangs.pop(gang.key, None)
        if done:
            self._release(gang)
            wake_dispatcher()

    def _drop(self, gang: Gang) -> None:
        with self._lock:
            self.gangs.pop(gang.key, None)
        self._release(gang)

    def _release(self, gang: Gang) -> None:
        """Free the group's resources at once (Ray keeps them reserved until the group is removed), and forget the
        tasks that never started on their nodes."""
        from ray.util.placement_group import remove_placement_group

        with self._lock:
            if gang.released:
                return
            gang.released = True
        for job_id, agent in list(gang.agents.items()):
            with contextlib.suppress(Exception):
                agent.discard.remote(job_id)
        gang.agents.clear()
        if gang.pg is not None:
            with contextlib.suppress(Exception):
                remove_placement_group(gang.pg)
