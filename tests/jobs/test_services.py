"""The job core from the inside: routing, variables, submission rules, status transitions, the log store."""

import pytest

from dataplatform.api.exceptions import ConflictError, ForbiddenError
from jobs import services
from jobs.linkis.errors import refusal_code
from jobs.logstore import LogEntry, log_append, log_read, split_levels
from jobs.models import Job, JobStatus
from jobs.services import JobRequestError, JobSpec, job_submit, job_transition, route

pytestmark = pytest.mark.django_db


def spec(**kwargs) -> JobSpec:
    return JobSpec(**{"code": "print(1)", "engine_type": "python-python2", "run_type": "python", **kwargs})


# --- routing ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("engine_type", "run_type", "engine", "kind"),
    [
        ("python-python2", "python", "python", "python"),
        ("python", "py", "python", "python"),
        ("shell-1", "sh", "shell", "shell"),
        ("shell", "shell", "shell", "shell"),
        ("jdbc-4", "jdbc", "sql", "sql"),
        ("sql", "sql", "sql", "sql"),
        ("spark-2.4.3", "py", "spark", "python"),
        ("spark-3.2.1", "pyspark", "spark", "python"),
    ],
)
def test_route_picks_the_engine(engine_type, run_type, engine, kind):
    chosen = route(engine_type=engine_type, run_type=run_type)
    assert (chosen.engine, chosen.run_type) == (engine, kind)
    assert chosen.note.startswith(f"Engine: {engine}")


@pytest.mark.parametrize("name", ["spark-2.4.3", "hive-2.3.3"])
def test_spark_and_hive_sql_run_on_spark_when_available(name, monkeypatch):
    monkeypatch.setattr(services, "engine_unavailable_reason", lambda engine: None)
    assert route(engine_type=name, run_type="sql").engine == "spark"


@pytest.mark.parametrize("name", ["spark-2.4.3", "hive-2.3.3"])
def test_spark_and_hive_sql_fall_back_to_the_sql_engine(name, monkeypatch):
    monkeypatch.setattr(services, "engine_unavailable_reason", lambda engine: "Spark is not available: test.")
    chosen = route(engine_type=name, run_type="sql")
    assert chosen.engine == "sql"
    assert "Spark is not available: test." in chosen.note and "runs on the sql engine" in chosen.note


@pytest.mark.parametrize(
    ("engine_type", "run_type", "fragment"),
    [
        ("flink-1.12", "sql", "engineType 'flink-1.12' is not supported"),
        ("python", "scala", "runType 'scala' is not supported by the python engine"),
        ("spark-2.4.3", "scala", "runType 'scala' is not supported by the spark engine"),
        ("shell", "python", "use sh or shell"),
    ],
)
def test_route_refuses_unknown_engines_and_run_types(engine_type, run_type, fragment):
    with pytest.raises(JobRequestError) as caught:
        route(engine_type=engine_type, run_type=run_type)
    assert refusal_code(caught.value.code) == 20009 and fragment in caught.value.message


# --- variables --------------------------------------------------------------------------------------------------
def test_variables_are_substituted_and_shell_variables_kept():
    code = "echo ${name} ${ name } ${HOME} $USER ${missing}"
    assert services.substitute_variables(code, {"name": "x"}) == "echo x x ${HOME} $USER ${missing}"


def test_builtin_run_date_is_yesterday():
    import datetime as dt

    now = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
    assert services.builtin_variables(now)["run_date"] == "20260228"
    assert services.substitute_variables("${run_today_std}", {}) == services.builtin_variables()["run_today_std"]


# --- submission -------------------------------------------------------------------------------------------------
def test_submit_creates_an_inited_job_with_its_first_log_lines(user):
    job = job_submit(owner=user, spec=spec(code="print('${who}')", params={"variable": {"who": "alice"}}))
    assert job.status == JobStatus.INITED and job.code == "print('alice')"
    assert job.exec_id == f"exec_id018014linkis-cg-entrance127.0.0.1:8000IDE_alice_python_{job.pk}"
    lines = [text for _, _, text in log_read(job_id=job.pk)]
    assert lines[0].endswith("INFO Engine: python (engineType python-python2, runType python).")
    assert "print('alice')" in lines
    assert lines[-1].endswith("Please wait it to be scheduled") and f"taskID is {job.pk}" in lines[-1]
    assert job.log_lines == len(lines)


@pytest.mark.parametrize(
    ("kwargs", "err_code"),
    [
        ({"code": "   "}, 20007),
        ({"code": "x" * 2048}, 20007),
        ({"params": []}, 20008),
        ({"params": {"variable": [1]}}, 20008),
        ({"engine_type": "nope"}, 20009),
        ({"labels": {}, "timeout_seconds": "soon"}, 20009),
        ({"timeout_seconds": -5}, 20009),
    ],
)
def test_refused_submissions_leave_no_row(user, settings, kwargs, err_code):
    settings.JOB_MAX_CODE_BYTES = 1024
    with pytest.raises(JobRequestError) as caught:
        job_submit(owner=user, spec=spec(**kwargs))
    assert refusal_code(caught.value.code) == err_code
    assert not Job.objects.exists()


def test_full_queue_refuses_with_30009(user, settings):
    settings.JOB_QUEUE_CAPACITY = 2
    job_submit(owner=user, spec=spec())
    job_submit(owner=user, spec=spec())
    with pytest.raises(JobRequestError) as caught:
        job_submit(owner=user, spec=spec())
    assert refusal_code(caught.value.code) == 30009 and "queue is full (2 jobs waiting)" in caught.value.message
    assert Job.objects.count() == 2


def test_execute_user_needs_admin(user, admin_user):
    with pytest.raises(ForbiddenError):
        job_submit(owner=user, spec=spec(execute_user="bob"))
    job = job_submit(owner=admin_user, spec=spec(execute_user="bob"))
    assert (job.submit_user, job.execute_user) == ("root", "bob")
    assert job_submit(owner=user, spec=spec(execute_user="bob"), may_act_as_others=True).execute_user == "bob"


def test_timeout_defaults_and_caps(user, settings):
    settings.JOB_DEFAULT_TIMEOUT = 100
    settings.JOB_MAX_TIMEOUT = 500
    assert job_submit(owner=user, spec=spec()).timeout_seconds == 100
    assert job_submit(owner=user, spec=spec(timeout_seconds="9999")).timeout_seconds == 500


# --- transitions ------------------------------------------------------------------------------------------------
def test_transitions_only_go_forward(user):
    job = job_submit(owner=user, spec=spec())
    assert not job_transition(job_id=job.pk, to=JobStatus.RUNNING)  # Inited -> Running skips Scheduled
    assert not job_transition(job_id=job.pk, to=JobStatus.SUCCEED)
    assert job_transition(job_id=job.pk, to=JobStatus.SCHEDULED)
    assert job_transition(job_id=job.pk, to=JobStatus.RUNNING)
    assert not job_transition(job_id=job.pk, to=JobStatus.SCHEDULED)
    assert job_transition(job_id=job.pk, to=JobStatus.SUCCEED)
    job.refresh_from_db()
    assert job.progress == 1.0 and job.finished_at is not None


@pytest.mark.parametrize("final", [JobStatus.SUCCEED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.TIMEOUT])
def test_terminal_statuses_are_final(user, final):
    job = job_submit(owner=user, spec=spec())
    job_transition(job_id=job.pk, to=JobStatus.SCHEDULED)
    job_transition(job_id=job.pk, to=JobStatus.RUNNING)
    assert job_transition(job_id=job.pk, to=final)
    for other in JobStatus.values:
        assert not job_transition(job_id=job.pk, to=other)
    job.refresh_from_db()
    assert job.status == final


def test_kill_after_succeed_keeps_succeed(user):
    job = job_submit(owner=user, spec=spec())
    for status in (JobStatus.SCHEDULED, JobStatus.RUNNING, JobStatus.SUCCEED):
        job_transition(job_id=job.pk, to=status)
    with pytest.raises(ConflictError, match="already completed"):
        services.job_kill(job=job, actor=user)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEED and job.kill_requested_at is None


def test_kill_of_a_queued_job_cancels_it_at_once(user):
    job = job_submit(owner=user, spec=spec())
    services.job_kill(job=job, actor=user)
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and job.kill_requested_by == "alice"
    assert "was kill by user successfully" in log_read(job_id=job.pk)[-1][2]


def test_kill_of_a_running_job_only_asks(user):
    job = job_submit(owner=user, spec=spec())
    job_transition(job_id=job.pk, to=JobStatus.SCHEDULED)
    job_transition(job_id=job.pk, to=JobStatus.RUNNING)
    services.job_kill(job=job, actor=user)
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING and job.kill_requested_at is not None


def test_only_owner_or_admin_kills(user, other_user, admin_user):
    job = job_submit(owner=user, spec=spec())
    with pytest.raises(ForbiddenError, match="excecute by user:alice"):
        services.job_kill(job=job, actor=other_user)
    services.job_kill(job=job, actor=admin_user)
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED


def test_progress_is_clamped_and_monotonic(user):
    job = job_submit(owner=user, spec=spec())
    job_transition(job_id=job.pk, to=JobStatus.SCHEDULED)
    job_transition(job_id=job.pk, to=JobStatus.RUNNING)
    assert services.job_report_progress(job_id=job.pk, progress=0.5)
    assert not services.job_report_progress(job_id=job.pk, progress=0.4)
    assert services.job_report_progress(job_id=job.pk, progress=7)
    job.refresh_from_db()
    assert job.progress == 1.0


# --- log store --------------------------------------------------------------------------------------------------
def test_log_lines_are_numbered_densely_and_blank_lines_count(user):
    job = job_submit(owner=user, spec=spec())
    before = job.log_lines
    log_append(job_id=job.pk, entries=[LogEntry("INFO", "a\n\nb"), LogEntry("ERROR", "")])
    rows = log_read(job_id=job.pk, from_line=before + 1)
    assert [row[0] for row in rows] == [before + 1, before + 2, before + 3, before + 4]
    assert [row[2].split(" ", 3)[-1] if row[2].count(" ") >= 3 else "" for row in rows][0] == "a"
    assert rows[1][2].endswith("INFO ") and rows[3][1] == "ERROR"


def test_a_retried_batch_is_stored_once(user):
    """A runner whose commit's answer was lost retries the batch with its token: stored once, never twice."""
    job = job_submit(owner=user, spec=spec())
    before = job.log_lines
    entries = [LogEntry("INFO", "tick 0"), LogEntry("INFO", "tick 1")]
    assert log_append(job_id=job.pk, entries=entries, batch="b1") == 2
    log_append(job_id=job.pk, entries=[LogEntry("INFO", "from elsewhere")])  # another writer in between
    assert log_append(job_id=job.pk, entries=entries, batch="b1") == 0
    assert log_append(job_id=job.pk, entries=[LogEntry("INFO", "tick 2")], batch="b2") == 1
    texts = [text.split(" INFO ")[-1] for _, _, text in log_read(job_id=job.pk, from_line=before + 1)]
    assert texts == ["tick 0", "tick 1", "from elsewhere", "tick 2"]


def test_log_cap_keeps_a_marker_and_counts_the_rest(user, settings):
    job = job_submit(owner=user, spec=spec())
    settings.JOB_LOG_MAX_LINES = job.log_lines + 3
    log_append(job_id=job.pk, entries=[LogEntry("INFO", f"line {i}") for i in range(10)])
    log_append(job_id=job.pk, entries=[LogEntry("INFO", "more")])
    job.refresh_from_db()
    rows = log_read(job_id=job.pk)
    cap = settings.JOB_LOG_MAX_LINES
    assert rows[-1][2].endswith(f"Log truncated: a job keeps at most {cap} lines; further lines are dropped.")
    assert job.log_dropped == 8 and len(rows) == settings.JOB_LOG_MAX_LINES + 1


def test_long_lines_are_cut(user, settings):
    settings.JOB_LOG_MAX_LINE_CHARS = 100
    job = job_submit(owner=user, spec=spec())
    log_append(job_id=job.pk, entries=[LogEntry("INFO", "x" * 250)])
    assert log_read(job_id=job.pk)[-1][2].endswith("…[150 more characters truncated]")


def test_split_levels_makes_linkis_4_array():
    lines = [("INFO", "i1"), ("ERROR", "e1"), ("WARN", "w1"), ("INFO", "i2")]
    assert split_levels(lines) == ["e1", "w1", "i1\ni2", "i1\ne1\nw1\ni2"]
