"""The supervisor of one job's engine process, and the pool of the jobs a process runs.

``JobExecution`` runs one job: it prepares the engine command, starts it in the job's sandbox (``jobs.sandbox``)
as a child in its own session and process group, and multiplexes its stdout (INFO lines), stderr (ERROR lines)
and control pipe (progress, engine log lines, a structured error), appending log lines in batches every 20 ms.

- **Ending**: exit 0 is ``Succeed``; a non-zero exit is ``Failed`` with the engine's reason; a kill sends SIGTERM
  to the job's processes and SIGKILL to the whole sandbox after ``JOB_KILL_GRACE_SECONDS`` and ends ``Cancelled``;
  running past the job's timeout ends ``Timeout`` the same way. Processes left after the engine exits are
  killed: a job's processes never outlive it.
- **Database outages**: log lines are kept (bounded) and the job's end is retried for up to
  ``DB_OUTAGE_SECONDS``; a batch whose commit answer was lost is never stored twice.

``ExecutionPool`` holds the executions of one process, whatever dispatches them (the local runner's dispatcher
thread, or a Celery worker's task threads) and answers kills for them.
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import os
import selectors
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from dataplatform.profiles import default_settings_module
from dataplatform.querycache import CompiledQuery
from jobs.engines import ENGINE_UNAVAILABLE_EXIT, EngineCommand, engine_unavailable_reason, prepare
from jobs.engines.resultset import ResultSetWriter, list_resultsets
from jobs.logstore import LogEntry, log_append, log_dump_to_file
from jobs.models import Job, JobErrorCode, JobStatus
from jobs.sandbox import (
    Grants,
    SandboxState,
    checked_grants,
    exit_status,
    job_environment,
    sandbox_argv,
    sandbox_state,
    signal_inside,
    tmpdir_for,
    workdir_hand_over,
    workdir_reclaim,
)
from jobs.services import job_report_progress, job_transition

logger = logging.getLogger(__name__)

FLUSH_INTERVAL = 0.02
FLUSH_LINES = 500
KILL_POLL_INTERVAL = 1.0
# While the database is away, a running job keeps its log lines in memory (up to this many) and its ending is
# retried for up to DB_OUTAGE_SECONDS: a short outage costs the job nothing.
PENDING_MAX_LINES = 100_000
DB_OUTAGE_SECONDS = 300.0
PROGRESS_INTERVAL = 0.2


# The job's row, read once per run: compiled once rather than built by the ORM each time (dataplatform.querycache).
_JOB = CompiledQuery(lambda pk: Job.objects.filter(pk=pk).order_by(), pk=int)
_KILL_REQUESTED = f"SELECT 1 FROM {Job._meta.db_table} WHERE id = %s AND kill_requested_at IS NOT NULL"  # noqa: S608


def _reset_connection() -> None:
    """Drop this thread's broken database connection; the next query opens a new one."""
    with contextlib.suppress(Exception):
        connection.close()


def retry_through_outage(write, *, seconds: float = DB_OUTAGE_SECONDS):
    """Call ``write()`` until it gets past a database outage (for up to ``seconds``); return what it returns."""
    deadline = time.monotonic() + seconds
    pause = 0.2
    while True:
        try:
            return write()
        except DatabaseError:
            _reset_connection()
            if time.monotonic() > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 5.0)


def _engine_env(job: Job) -> dict[str, str]:
    """Per-job settings an engine reads: the job's own environment (set by platform services) and the feature
    store database of a ``sql`` job."""
    env = {str(key): str(value) for key, value in (job.env or {}).items()}
    runtime = ((job.params or {}).get("configuration") or {}).get("runtime") or {}
    db = runtime.get("openmldb.db") or runtime.get("wds.linkis.openmldb.db")
    if db:
        env["PLATFORM_JOB_DB"] = str(db)
    return env


def _job_grants(job: Job) -> Grants:
    """The paths the job's service granted it, kept only where such grants may come from."""
    return checked_grants(
        Grants.from_json(job.grants),
        read_only_roots=[Path(settings.ARTIFACTS_DIR) / "unpacked", Path(settings.OPENPAI_DEFAULT_FS)],
        read_write_roots=[Path(settings.OPENPAI_DEFAULT_FS)],
    )


class JobExecution:
    """Run one job's engine process to its end and record what happened."""

    def __init__(self, pool: ExecutionPool, job_id: int) -> None:
        self.pool = pool
        self.job_id = job_id
        self.thread = threading.Thread(target=self.run, name=f"job-{job_id}", daemon=True)
        self.process: subprocess.Popen | None = None
        self._terminating = False
        self._shutdown = False
        self.timed_out = False
        self.error: tuple[int, str] | None = None
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=20)
        self._pending: list[LogEntry] = []
        # A batch whose write failed: (its token, its lines). The write may have committed all the same (the
        # connection broke before the answer); the token lets the retry tell, so no line is stored twice.
        self._inflight: tuple[str, list[LogEntry]] | None = None
        self._progress: tuple[float, list | None] | None = None
        self._text_result: ResultSetWriter | None = None
        self._result_fd: int | None = None  # the result directory, held open while a sandboxed job runs
        self.sandboxed = False

    # --- control from other threads ---------------------------------------------------------------------------
    def terminate(self) -> None:
        """SIGTERM the job's processes now, SIGKILL the whole sandbox or process group after the grace period.

        In a sandbox, SIGTERM goes to the processes inside, not to bubblewrap, whose end would end them all at once.
        """
        process = self.process
        if process is None or self._terminating:
            return
        self._terminating = True
        self._signal_term(process)
        timer = threading.Timer(settings.JOB_KILL_GRACE_SECONDS, self._force_kill)
        timer.daemon = True
        timer.start()

    def _signal_term(self, process) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if not (self.sandboxed and signal_inside(process.pid, signal.SIGTERM)):
                os.killpg(process.pid, signal.SIGTERM)

    def _force_kill(self) -> None:
        process = self.process
        if process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)

    def stop_for_shutdown(self) -> None:
        self._shutdown = True
        self.terminate()

    # --- the job's life ---------------------------------------------------------------------------------------
    def run(self) -> None:
        try:
            self._run()
        except Exception as exc:  # never leave a job in a non-final status
            logger.exception("running job %s failed", self.job_id)
            self._force_kill()
            with contextlib.suppress(Exception):  # what the job printed, before the reason it ended
                self._flush()
            reason = f"The platform failed to run the job: {type(exc).__name__}: {exc}"
            retry_through_outage(
                lambda: self._final_transition(
                    to=JobStatus.FAILED,
                    log=reason,
                    level="ERROR",
                    error_code=JobErrorCode.INTERNAL,
                    error_desc=reason,
                )
            )
        finally:
            if self._text_result is not None:
                self._text_result.close()
            if self._result_fd is not None:
                os.close(self._result_fd)
            self.pool.finished(self.job_id)
            connection.close()

    def memory_limit_mb(self) -> int:
        """The address-space limit of the engine's processes (RLIMIT_AS, 0: none)."""
        return settings.JOB_MEMORY_LIMIT_MB

    @property
    def exit_code(self) -> int | None:
        """The engine's exit status; a signal that ended it is -N, in a sandbox as outside one."""
        if self.process is None or self.process.returncode is None:
            return None
        return exit_status(self.process.returncode) if self.sandboxed else self.process.returncode

    def _kill_requested(self) -> bool:
        if self.pool.kill_requested(self.job_id):
            return True
        try:
            # Asked every second of every running job, and once at its end: a plain query, not the ORM's building.
            with connection.cursor() as cursor:
                cursor.execute(_KILL_REQUESTED, [self.job_id])
                return cursor.fetchone() is not None
        except DatabaseError:
            _reset_connection()
            return False  # asked again in a second

    def _run(self) -> None:
        job = _JOB.first(pk=self.job_id)
        if job is None:
            raise Job.DoesNotExist(f"Job {self.job_id} does not exist.")
        if self.pool.kill_requested(job.pk) or job.kill_requested_at is not None:  # the row just read says it
            self._finish_cancelled(job)
            return
        reason = engine_unavailable_reason(job.engine)
        if reason is None and job.engine != "sql":  # the sql engine runs the platform's code, not the user's
            state = sandbox_state()
            reason = None if state.ready else state.detail
        if reason:
            self._final_transition(
                to=JobStatus.FAILED,
                source_api=job.source_api,
                log=reason,
                level="ERROR",
                error_code=JobErrorCode.ENGINE_UNAVAILABLE,
                error_desc=reason,
            )
            return
        job.workdir.mkdir(parents=True, exist_ok=True)
        os.chmod(job.workdir, 0o700)
        sandbox = sandbox_state() if job.engine != "sql" else None
        self.sandboxed = sandbox is not None and sandbox.sandboxed
        command = prepare(
            engine=job.engine,
            run_type=job.run_type,
            code=job.code,
            workdir=job.workdir,
            job_id=job.pk,
            memory_mb=self.memory_limit_mb(),
            cpu_seconds=settings.JOB_CPU_LIMIT_SECONDS,
            max_processes=settings.JOB_MAX_PROCESSES if self.sandboxed else 0,
            spark_driver_memory=settings.JOB_SPARK_DRIVER_MEMORY,
            spark_master=settings.SPARK_MASTER,
            extra_env=_engine_env(job),
        )
        control_read, control_write = os.pipe()
        try:
            try:
                self.process = self._spawn(job, command, control_write, sandbox)
            finally:
                os.close(control_write)
            started = retry_through_outage(
                lambda: job_transition(
                    job_id=job.pk,
                    to=JobStatus.RUNNING,
                    only_from=(JobStatus.SCHEDULED,),
                    started_at=timezone.now(),
                    pid=self.process.pid,
                    log=f"Job {job.pk} is running on the {job.engine} engine (process {self.process.pid}"
                    f"{', sandboxed' if self.sandboxed else ''}).",
                )
            )
            if not started or self._shutdown or self.pool.kill_requested(job.pk):
                self.terminate()
            with open(control_read, "rb", buffering=0) as control:
                control_read = None
                self._pump(job, command, control)
        finally:
            if control_read is not None:
                os.close(control_read)
            self._end_sandbox(job)
        self._finish(job)

    def _end_sandbox(self, job: Job) -> None:
        """Make sure nothing of the job runs any more, then take its directory back from the job's OS user."""
        if not self.sandboxed:
            return
        if self.process is not None and self.process.poll() is None:
            self._force_kill()
            self.process.wait()
        if self._text_result is not None:
            self._text_result.close()
            self._text_result = None
        workdir_reclaim(job.workdir, tmpdir_for(job.workdir))

    def _spawn(
        self, job: Job, command: EngineCommand, control_fd: int, sandbox: SandboxState | None
    ) -> subprocess.Popen:
        extra = {
            **command.env,
            "PLATFORM_CONTROL_FD": str(control_fd),
            "PLATFORM_RESULT_MAX_ROWS": str(settings.JOB_RESULT_MAX_ROWS),
        }
        argv = command.argv
        if command.trusted:
            # Platform code that needs the platform's database: the same settings, the same database.
            env = dict(os.environ)
            env["DJANGO_SETTINGS_MODULE"] = (
                os.environ.get("DJANGO_SETTINGS_MODULE") or settings.SETTINGS_MODULE or default_settings_module()
            )
            env.update(extra)
            env["PLATFORM_DATABASE_NAME"] = str(connection.settings_dict["NAME"])
        else:
            grants = _job_grants(job)
            extra["PLATFORM_GRANTED_PATHS"] = os.pathsep.join(grants.paths)
            env = job_environment(sandbox, home=str(job.workdir), extra=extra)
            if self.sandboxed:
                tmpdir = tmpdir_for(job.workdir)
                workdir_hand_over(sandbox, job.workdir, tmpdir, grants)
                # The runner writes a shell job's text result set into a directory the job owns: through a
                # descriptor taken now, so that a link the job puts in its place leads nowhere.
                self._result_fd = os.open(job.result_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
                argv = sandbox_argv(sandbox, argv, workdir=job.workdir, tmpdir=tmpdir, grants=grants)
        return self._launch(argv, cwd=job.workdir, env=env, control_fd=control_fd)

    def _launch(self, argv: list[str], *, cwd: Path, env: dict[str, str], control_fd: int):
        """Start the engine's command line here, as a child in a session of its own (a Popen)."""
        return subprocess.Popen(  # noqa: S603 - the argv comes from the engine registry, not from the request
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(control_fd,),
            start_new_session=True,
        )

    # --- output -----------------------------------------------------------------------------------------------
    def _pump(self, job: Job, command: EngineCommand, control) -> None:
        process = self.process
        assert process is not None and process.stdout is not None and process.stderr is not None  # noqa: S101
        selector = selectors.DefaultSelector()
        buffers: dict[str, bytes] = {"out": b"", "err": b"", "ctl": b""}
        for stream, kind in ((process.stdout, "out"), (process.stderr, "err"), (control, "ctl")):
            os.set_blocking(stream.fileno(), False)
            selector.register(stream, selectors.EVENT_READ, kind)
        deadline = time.monotonic() + job.timeout_seconds if job.timeout_seconds else None
        max_line = settings.JOB_LOG_MAX_LINE_CHARS * 4
        last_flush = last_kill_check = last_progress = time.monotonic()
        exited_at: float | None = None
        while selector.get_map():
            for key, _ in selector.select(FLUSH_INTERVAL if self._pending or self._inflight else 0.25):
                kind = key.data
                try:
                    data = os.read(key.fd, 65536)
                except BlockingIOError:
                    continue
                if not data:
                    selector.unregister(key.fileobj)
                    if buffers[kind]:
                        self._line(job, command, kind, buffers[kind])
                        buffers[kind] = b""
                    continue
                chunk = buffers[kind] + data
                *lines, rest = chunk.split(b"\n")
                for line in lines:
                    self._line(job, command, kind, line)
                if len(rest) > max_line:  # an endless line without a newline: cut it
                    self._line(job, command, kind, rest)
                    rest = b""
                buffers[kind] = rest
            now = time.monotonic()
            if (self._pending or self._inflight) and (
                len(self._pending) >= FLUSH_LINES
                # Once the engine has exited, what it printed last is stored with the job's last line (``_end``).
                or (now - last_flush >= FLUSH_INTERVAL and exited_at is None and process.poll() is None)
            ):
                self._flush()
                last_flush = now
            if self._progress is not None and now - last_progress >= PROGRESS_INTERVAL:
                self._flush_progress(job)
                last_progress = now
            if deadline is not None and now > deadline and not self.timed_out and not self._terminating:
                self.timed_out = True
                self._pending.append(
                    LogEntry("ERROR", f"The job ran longer than its timeout of {job.timeout_seconds} s; killing it.")
                )
                self.terminate()
            if now - last_kill_check >= KILL_POLL_INTERVAL:
                last_kill_check = now
                if not self._terminating and self._kill_requested():
                    self.terminate()
            if exited_at is None and process.poll() is not None:
                exited_at = now
            elif exited_at is not None and now - exited_at > 1.0 and selector.get_map():
                # The engine exited but something it started still holds the pipes: end the whole group.
                self._force_kill()
                exited_at = now + 3600  # do it once
        # The lines still pending are stored with the job's last line, in one batch (``_end``).
        if self._progress is not None:
            self._flush_progress(job)
        process.wait()

    def _line(self, job: Job, command: EngineCommand, kind: str, raw: bytes) -> None:
        text = raw.decode("utf-8", errors="replace").rstrip("\r")
        if kind == "out":
            self._pending.append(LogEntry("INFO", text))
            if command.tee_stdout_as_text_result:
                if self._text_result is None:
                    self._text_result = ResultSetWriter.text(job.result_dir, dir_fd=self._result_fd)
                self._text_result.write_line(text)
        elif kind == "err":
            self._pending.append(LogEntry("ERROR", text))
            if text.strip():
                self.stderr_tail.append(text.strip())
        else:
            self._control(text)

    def _control(self, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        kind = message.get("type")
        if kind == "progress":
            try:
                progress = float(message.get("progress", 0.0))
            except (TypeError, ValueError):
                return
            info = message.get("progressInfo")
            self._progress = (progress, info if isinstance(info, list) else None)
        elif kind == "log":
            level = str(message.get("level", "INFO")).upper()
            self._pending.append(
                LogEntry(level if level in ("INFO", "WARN", "ERROR") else "INFO", str(message.get("text", "")))
            )
        elif kind == "error":
            try:
                self.error = (int(message.get("code")), str(message.get("desc", "")))
            except (TypeError, ValueError):
                pass

    def _flush(self) -> None:
        """Store the pending log lines as one batch; while the database is away keep them (bounded) for later."""
        while self._inflight is not None or self._pending:
            if self._inflight is None:
                self._inflight, self._pending = (uuid.uuid4().hex, self._pending), []
            token, entries = self._inflight
            try:
                log_append(job_id=self.job_id, entries=entries, batch=token)
            except DatabaseError as exc:
                _reset_connection()
                if len(self._pending) > PENDING_MAX_LINES:
                    dropped = len(self._pending) - PENDING_MAX_LINES
                    del self._pending[:dropped]
                    logger.warning("job %s: the database is away (%r); %d log lines dropped", self.job_id, exc, dropped)
                return
            self._inflight = None

    def _flush_progress(self, job: Job) -> None:
        progress, info = self._progress
        # 1.0 is reserved for a finished job; a running one reports at most 0.99.
        try:
            job_report_progress(job_id=job.pk, progress=min(progress, 0.99), progress_info=info)
        except DatabaseError:
            _reset_connection()  # kept for the next report
            return
        self._progress = None

    # --- ending -----------------------------------------------------------------------------------------------
    def _finish_cancelled(self, job: Job) -> None:
        self._end(
            job, JobStatus.CANCELLED, f"Job {job.pk} was kill by user successfully(任务{job.pk}已成功取消)", "INFO"
        )

    def _finish(self, job: Job) -> None:
        exit_code = self.exit_code
        if self._text_result is not None:
            self._text_result.close()
            self._text_result = None
        if self.timed_out:
            desc = f"The job ran longer than its timeout of {job.timeout_seconds} s and was killed."
            self._end(job, JobStatus.TIMEOUT, desc, "ERROR", error_code=JobErrorCode.TIMEOUT, error_desc=desc)
        elif self._shutdown:
            desc = "The platform shut down while the job was running; it was ended. Submit it again."
            self._end(job, JobStatus.FAILED, desc, "ERROR", error_code=JobErrorCode.FAILOVER, error_desc=desc)
        elif self._terminating or self._kill_requested():
            self._finish_cancelled(job)
        elif exit_code == 0:
            self._end(job, JobStatus.SUCCEED, f"Job {job.pk} finished successfully on the {job.engine} engine.", "INFO")
        else:
            code, desc = self._failure_reason(job, exit_code)
            self._end(job, JobStatus.FAILED, desc, "ERROR", error_code=code, error_desc=desc)

    def _end(self, job: Job, status: str, line: str, level: str, **fields) -> None:
        """Write the last log lines and the job.log file, then make the status final, retrying through a
        database outage of up to ``DB_OUTAGE_SECONDS``.

        The file is complete before the status says so: whoever sees a final status can read the whole log. The
        last lines, the file's read of the log and the status are one transaction; the lines keep their batch
        token until it commits, so a retry after a commit whose answer was lost does not store them twice.
        """
        self._pending.append(LogEntry(level, line))

        def write() -> None:
            if self._inflight is not None:
                # A batch whose commit is in doubt (its answer was lost; ``_flush``) is settled on its own first:
                # the job keeps the token of its last batch only.
                token, entries = self._inflight
                log_append(job_id=self.job_id, entries=entries, batch=token)
                self._inflight = None
            if self._pending:
                self._inflight, self._pending = (uuid.uuid4().hex, self._pending), []
            with transaction.atomic():
                if self._inflight is not None:
                    token, entries = self._inflight
                    log_append(job_id=self.job_id, entries=entries, batch=token)
                self._write_end(job, status, **fields)
            self._inflight = None

        retry_through_outage(write)

    def _write_end(self, job: Job, status: str, **fields) -> None:
        log_dump_to_file(job=job)
        result_count = len(list_resultsets(job.result_dir)) if job.result_dir.exists() else 0
        exit_code = self.exit_code
        self._final_transition(
            to=status, source_api=job.source_api, exit_code=exit_code, result_count=result_count, **fields
        )

    def _final_transition(self, *, to: str, **fields) -> bool:
        """Make the job's status final; in the same transaction the pool's ``on_ending`` hands its slot on."""
        with transaction.atomic(savepoint=False):  # inside ``_end``'s transaction: no savepoint of its own
            ended = job_transition(job_id=self.job_id, to=to, **fields)
            if ended:
                self.pool.ending(self.job_id)
        return ended

    def _failure_reason(self, job: Job, exit_code: int) -> tuple[int, str]:
        if self.error is not None:
            return self.error
        if self.sandboxed:
            said = [line for line in self.stderr_tail if line.startswith("bwrap: ")]
            if said:  # bubblewrap's own complaint: the sandbox never ran the engine
                return JobErrorCode.ENGINE_UNAVAILABLE, f"The sandbox could not start the job: {said[-1]}"
        summary = self._stderr_summary()
        # Only the spark engine program exits with this code on its own (and says why on the control channel
        # first); for any other engine it is the user's code exiting 3, an ordinary failure.
        if exit_code == ENGINE_UNAVAILABLE_EXIT and job.engine == "spark":
            return JobErrorCode.ENGINE_UNAVAILABLE, summary or f"The {job.engine} engine is not available."
        if exit_code < 0:
            name = signal.Signals(-exit_code).name if -exit_code in signal.valid_signals() else str(-exit_code)
            hint = " (the CPU time limit)" if name == "SIGXCPU" else ""
            return JobErrorCode.ENGINE_FAILED, f"The {job.engine} engine was killed by {name}{hint}."
        detail = f": {summary}" if summary else ""
        return JobErrorCode.ENGINE_FAILED, f"The {job.engine} engine exited with code {exit_code}{detail}"

    def _stderr_summary(self) -> str:
        """The stderr line that says what went wrong: the last one naming an error, else the last with words."""
        meaningful = [line for line in self.stderr_tail if any(c.isalnum() for c in line)]
        meaningful = [line for line in meaningful if not line.startswith(("Traceback", "File ", "LINE "))]
        for line in reversed(meaningful):
            if "error" in line.lower() or "exception" in line.lower():
                return line
        return meaningful[-1] if meaningful else ""


class ExecutionPool:
    """The jobs this process runs right now, each supervised by a ``JobExecution``.

    ``on_finished(job_id)`` is called when one ends (the local runner's dispatcher wakes up for the free slot);
    ``on_ending(job_id)`` inside the transaction that makes its status final (a Celery worker hands the job's slot
    to its user's next waiting job there).
    """

    def __init__(
        self,
        *,
        on_finished: Callable[[int], None] | None = None,
        on_ending: Callable[[int], None] | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._running: dict[int, JobExecution] = {}
        self._kills: set[int] = set()
        self._on_finished = on_finished
        self._on_ending = on_ending

    def ending(self, job_id: int) -> None:
        if self._on_ending is not None:
            self._on_ending(job_id)

    def add(self, job_id: int, factory: Callable[..., JobExecution] | None = None) -> JobExecution:
        """Register a new execution of ``job_id``; the caller runs it (``execution.run()`` or its thread).

        ``factory(pool, job_id)`` makes it (a ``JobExecution`` whose process runs elsewhere, say).
        """
        execution = (factory or JobExecution)(self, job_id)
        with self._lock:
            self._running[job_id] = execution
        return execution

    def kill(self, job_id: int, *, remember: bool = True) -> None:
        """End the job's processes if this pool runs it; ``remember``: also when it starts later on."""
        with self._lock:
            execution = self._running.get(job_id)
            if remember or execution is not None:
                self._kills.add(job_id)
        if execution is not None:
            execution.terminate()

    def kill_requested(self, job_id: int) -> bool:
        with self._lock:
            return job_id in self._kills

    def running_count(self) -> int:
        with self._lock:
            return len(self._running)

    def executions(self) -> list[JobExecution]:
        with self._lock:
            return list(self._running.values())

    def finished(self, job_id: int) -> None:
        with self._lock:
            self._running.pop(job_id, None)
            self._kills.discard(job_id)
        if self._on_finished is not None:
            self._on_finished(job_id)

    def stop_all(self) -> list[JobExecution]:
        """End every running job as a shutdown does (``Failed``, "submit it again"); return their executions."""
        executions = self.executions()
        for execution in executions:
            execution.stop_for_shutdown()
        return executions
