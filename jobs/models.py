"""Jobs: one row per submission from any API, with Linkis's statuses as the internal truth, and their logs.

A job's status only moves along ``TRANSITIONS`` (forward, plus the retry loop through ``WaitForRetry``), by
conditional UPDATEs in ``jobs.services``; the four terminal statuses are final. Its log is an append-only,
line-numbered table (``JobLogLine``) that the HTTP log API, the WebSocket pushes and the admin all read.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db import models
from django.utils import timezone


class JobStatus(models.TextChoices):
    INITED = "Inited"
    WAIT_FOR_RETRY = "WaitForRetry"
    SCHEDULED = "Scheduled"
    RUNNING = "Running"
    SUCCEED = "Succeed"
    FAILED = "Failed"
    CANCELLED = "Cancelled"
    TIMEOUT = "Timeout"


QUEUED = (JobStatus.INITED, JobStatus.WAIT_FOR_RETRY)
ACTIVE = (JobStatus.SCHEDULED, JobStatus.RUNNING)
NON_TERMINAL = (*QUEUED, *ACTIVE)
TERMINAL = (JobStatus.SUCCEED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.TIMEOUT)

#: target status -> the statuses it may be reached from.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    JobStatus.SCHEDULED: QUEUED,
    JobStatus.RUNNING: (JobStatus.SCHEDULED,),
    JobStatus.WAIT_FOR_RETRY: ACTIVE,
    JobStatus.SUCCEED: (JobStatus.RUNNING,),
    JobStatus.FAILED: NON_TERMINAL,
    JobStatus.CANCELLED: NON_TERMINAL,
    JobStatus.TIMEOUT: NON_TERMINAL,
}

LINKIS_APPLICATION = "linkis-cg-entrance"


class JobQuerySet(models.QuerySet):
    def for_user(self, user):
        """Jobs the user may see: their own, or all for an admin."""
        if getattr(user, "is_admin", False):
            return self
        return self.filter(owner_id=user.pk)


class JobErrorCode(models.IntegerChoices):
    """Why a job ended badly (``Job.error_code``); Linkis's API shows it as ``errCode`` (its own numbers for a
    failover, the platform's 4000x for engines)."""

    FAILOVER = 30001, "the platform or worker running the job stopped"
    ENGINE_FAILED = 40000, "the engine failed"
    ENGINE_UNAVAILABLE = 40001, "the engine cannot run here"
    TIMEOUT = 40002, "the job ran or waited too long"
    INTERNAL = 40003, "the platform failed to run the job"


class Job(models.Model):
    class SourceApi(models.TextChoices):
        LINKIS = "linkis"
        OPENPAI = "openpai"
        CDAP = "cdap"
        FEATURESTORE = "featurestore"
        ADMIN = "admin"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    submit_user = models.CharField(max_length=150, help_text="Who submitted (Linkis umUser/submitUser).")
    execute_user = models.CharField(max_length=150, help_text="Whom the job runs for (Linkis executeUser).")
    source_api = models.CharField(max_length=16, choices=SourceApi.choices, default=SourceApi.LINKIS)
    creator = models.CharField(max_length=64, default="IDE", help_text="Linkis requestApplicationName.")
    engine_type = models.CharField(max_length=64, help_text="Requested engine label, e.g. spark-2.4.3.")
    run_type = models.CharField(max_length=32)
    engine = models.CharField(max_length=16, help_text="The engine that runs the code.")
    instance = models.CharField(max_length=128, help_text="Entrance instance (host:port) in the execID.")
    code = models.TextField(help_text="The code after variable substitution.")
    params = models.JSONField(default=dict, blank=True)
    source = models.JSONField(default=dict, blank=True)
    labels = models.JSONField(default=dict, blank=True)
    #: Extra environment of the engine process, set by platform services only (an application's config and
    #: artifact directory, OpenPAI's task-role variables); clients of the Linkis API cannot set it.
    env = models.JSONField(default=dict, blank=True)
    #: Host paths the job's sandbox shows it besides its own directory, ``{"read_only": [...], "read_write":
    #: [...]}``: set by platform services only (an application's unpacked artifact, an OpenPAI job's directories).
    grants = models.JSONField(default=dict, blank=True)

    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.INITED)
    progress = models.FloatField(default=0.0)
    progress_info = models.JSONField(default=list, blank=True)
    error_code = models.IntegerField(null=True, blank=True)
    error_desc = models.TextField(blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    timeout_seconds = models.PositiveIntegerField(null=True, blank=True)
    queue_timeout_seconds = models.PositiveIntegerField(null=True, blank=True)

    log_lines = models.PositiveIntegerField(default=0, help_text="Number of stored log lines.")
    log_dropped = models.PositiveIntegerField(default=0, help_text="Lines dropped past the per-job cap.")
    log_batch = models.CharField(max_length=32, blank=True, help_text="The runner's last stored log batch.")
    result_count = models.PositiveIntegerField(default=0)

    runner = models.CharField(max_length=128, blank=True, help_text="host:pid of the runner that claimed the job.")
    #: Who takes the job from the queue: "" the job core's runner (local or Celery); "ray" the OpenPAI gang
    #: dispatcher (``jobs.runners.ray_gang``), which starts a job's tasks together in a Ray placement group.
    queue = models.CharField(max_length=16, blank=True, default="")
    pid = models.IntegerField(null=True, blank=True, help_text="Engine process (and process group) id.")
    kill_requested_at = models.DateTimeField(null=True, blank=True)
    kill_requested_by = models.CharField(max_length=150, blank=True)
    dispatched_at = models.DateTimeField(
        null=True, blank=True, help_text="When the job was last sent to the Celery workers (celery runner)."
    )

    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = JobQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        # Engine rights are permissions ``jobs.use_engine_<engine>``, one per registered engine, made by
        # ``jobs.services.engine_permissions_ensure`` after every migrate (engines are registered, not listed here).
        indexes = [
            models.Index(fields=["status", "id"], name="jobs_job_status_id"),
            models.Index(fields=["owner", "-id"], name="jobs_job_owner_id"),
            models.Index(fields=["created_at"], name="jobs_job_created"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(progress__gte=0.0) & models.Q(progress__lte=1.0), name="jobs_job_progress_0_1"
            ),
        ]

    def __str__(self) -> str:
        return f"Job {self.pk} ({self.engine}, {self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def shown_progress(self) -> float:
        """The progress to show people: all of it for a job that succeeded, where it stopped for any other."""
        return 1.0 if self.status == JobStatus.SUCCEED else self.progress

    @property
    def short_exec_id(self) -> str:
        """Linkis's scheduler event id, made unique by ending in the taskID: ``<creator>_<user>_<engine>_<id>``."""
        return f"{self.creator}_{self.execute_user}_{self.engine_type.split('-')[0]}_{self.pk}"

    @property
    def exec_id(self) -> str:
        """The REST execID: ``exec_id`` + len3(app) + len3(instance) + app + instance + short id."""
        app, instance = LINKIS_APPLICATION, self.instance
        return f"exec_id{len(app):03d}{len(instance):03d}{app}{instance}{self.short_exec_id}"

    @property
    def workdir(self) -> Path:
        return Path(settings.JOBS_DIR) / str(self.pk)

    @property
    def result_dir(self) -> Path:
        return self.workdir / "result"

    @property
    def log_file(self) -> Path:
        return self.workdir / "job.log"


class Worker(models.Model):
    """A Celery worker process of the ``celery`` runner, alive while its heartbeat is fresh.

    Jobs name the worker that claimed them in ``Job.runner`` (``host:pid``); a job whose worker stopped beating
    is ended by whichever process notices first (``jobs.runners.celery.Watchdog``).
    """

    identity = models.CharField(max_length=128, unique=True, help_text="host:pid, as in Job.runner.")
    node = models.CharField(max_length=255, blank=True, help_text="Celery node name (it answers control pings).")
    host = models.CharField(max_length=255)
    pid = models.IntegerField()
    concurrency = models.PositiveIntegerField(default=1)
    sandbox = models.TextField(blank=True, help_text="The worker's sandbox for users' code: ok, off, or why not.")
    started_at = models.DateTimeField(default=timezone.now)
    heartbeat_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["host", "pid"]

    def __str__(self) -> str:
        return self.identity


class JobLogLine(models.Model):
    """One line of a job's log; ``line_no`` counts from 1 without gaps."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="log_entries")
    line_no = models.PositiveIntegerField()
    level = models.CharField(max_length=5)
    text = models.TextField()

    class Meta:
        ordering = ["job", "line_no"]
        constraints = [models.UniqueConstraint(fields=["job", "line_no"], name="jobs_logline_job_line_unique")]

    def __str__(self) -> str:
        return f"{self.job_id}:{self.line_no}"


# --- OpenPAI jobs -----------------------------------------------------------------------------------------------
class PaiJobState(models.TextChoices):
    WAITING = "WAITING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    STOPPED = "STOPPED"


PAI_FINAL_STATES = (PaiJobState.SUCCEEDED, PaiJobState.FAILED, PaiJobState.STOPPED)


class PaiJob(models.Model):
    """An OpenPAI job: a config with task roles, each task instance running as one job of the job core.

    ``state`` is stored once the job is decided (SUCCEEDED, FAILED, STOPPED); before that the job is WAITING
    until a task of its current attempt starts and RUNNING after (``jobs.openpai.selectors``). A retry starts a
    new ``attempt`` with every task submitted again.
    """

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pai_jobs")
    name = models.CharField(max_length=255)
    #: The body exactly as submitted (GET .../config answers it); ``config`` is the validated one with defaults.
    config_raw = models.TextField()
    config = models.JSONField()
    virtual_cluster = models.CharField(max_length=64, default="default")
    image = models.CharField(max_length=1024, blank=True, help_text="Recorded; tasks run as host processes.")
    retry_count = models.IntegerField(default=0)
    execution_type = models.CharField(max_length=8, default="START")
    state = models.CharField(max_length=16, choices=PaiJobState.choices, default=PaiJobState.WAITING)
    attempt = models.PositiveIntegerField(default=1)
    retries = models.PositiveIntegerField(default=0)
    exit_code = models.IntegerField(null=True, blank=True)
    exit_diagnostics = models.TextField(blank=True)
    exit_type = models.CharField(max_length=32, blank=True)
    #: While the job waits for its gang to be placed (the ``ray`` runner): what it waits for (which resource is short).
    waiting_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "OpenPAI job"
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="jobs_paijob_owner_name")]
        indexes = [models.Index(fields=["name"], name="jobs_paijob_name"), models.Index(fields=["-created_at"],
                   name="jobs_paijob_created")]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.owner.username}~{self.name}" if self.owner_id else self.name

    @property
    def is_final(self) -> bool:
        return self.state in PAI_FINAL_STATES

    def roles(self) -> list[dict]:
        return list(self.config.get("taskRoles") or [])


class PaiTask(models.Model):
    """One task instance (role, index) of one attempt of an OpenPAI job, and the job-core job that runs it."""

    pai_job = models.ForeignKey(PaiJob, on_delete=models.CASCADE, related_name="tasks")
    attempt = models.PositiveIntegerField()
    role = models.CharField(max_length=255)
    index = models.PositiveIntegerField()
    job = models.ForeignKey(Job, null=True, on_delete=models.SET_NULL, related_name="pai_tasks")
    #: {label: [ports]} given to this task (PAI_CONTAINER_HOST_<label>_PORT_LIST).
    ports = models.JSONField(default=dict, blank=True)
    #: Where the task ran (the ``ray`` runner): the node's address and the GPU ids Ray gave it.
    host = models.CharField(max_length=255, blank=True)
    gpus = models.JSONField(default=list, blank=True)
    #: What the task used, once it ended: {"cpuSeconds", "maxMemoryMB", "memoryLimited"}.
    usage = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["pai_job", "attempt", "role", "index"]
        constraints = [
            models.UniqueConstraint(fields=["pai_job", "attempt", "role", "index"], name="jobs_paitask_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.pai_job} attempt {self.attempt} {self.role}[{self.index}]"


class RayNode(models.Model):
    """A node of the Ray cluster OpenPAI jobs run on (``OPENPAI_RUNNER=ray``), as the gang dispatcher last saw it.

    The dispatcher refreshes these rows every few seconds; submit checks a job's roles against them (a role that no
    node could ever hold is refused), and the admin and console show the capacity and its use per virtual cluster.
    """

    node_id = models.CharField(max_length=64, unique=True)
    host = models.CharField(max_length=255)
    alive = models.BooleanField(default=True)
    #: {"CPU": n, "GPU": n, "memoryMB": n} the node offers, and what is free on it now.
    total = models.JSONField(default=dict)
    available = models.JSONField(default=dict)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["host", "node_id"]
        verbose_name = "Ray node"

    def __str__(self) -> str:
        return f"{self.host} ({self.node_id[:8]})"
