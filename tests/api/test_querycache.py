"""``dataplatform.querycache.CompiledQuery``: the same rows as the ORM, compiled once, refusing what it cannot keep."""

import datetime as dt

import pytest
from django.db import connection, connections
from django.db.models import Model
from django.test.utils import CaptureQueriesContext

from dataplatform.querycache import CompiledQuery
from jobs.models import Job, PaiJob, PaiTask
from jobs.services import JobSpec, job_submit
from tests.conftest import UserFactory

pytestmark = pytest.mark.django_db

JOB_BY_PK = CompiledQuery(lambda pk: Job.objects.filter(pk=pk).order_by(), pk=int)
JOBS_OF = CompiledQuery(lambda username: Job.objects.filter(owner__username=username).order_by("-id"), username=str)
TASKS = CompiledQuery(
    lambda pai, attempt: (
        PaiTask.objects.filter(pai_job_id=pai, attempt=attempt)
        .select_related("job", "pai_job__owner")
        .order_by("role", "index")
    ),
    pai=int,
    attempt=int,
)
NAMES = CompiledQuery(
    lambda username: Job.objects.filter(owner__username=username).order_by("id").values_list("id", "status"),
    username=str,
)
IDS = CompiledQuery(
    lambda username: Job.objects.filter(owner__username=username).order_by("id").values_list("id", flat=True),
    username=str,
)


def submit(owner) -> Job:
    return job_submit(owner=owner, spec=JobSpec(code="print(1)", engine_type="python-python2", run_type="python"))


def test_the_rows_are_the_orms_with_every_field_converted():
    alice = UserFactory(username="alice")
    job = submit(alice)
    job.params = {"configuration": {"x": [1, 2]}}
    job.save()
    found = JOB_BY_PK.first(pk=job.pk)
    expected = Job.objects.get(pk=job.pk)
    assert isinstance(found, Job)
    assert found._state.adding is False and found._state.db == "default"
    for field in Job._meta.concrete_fields:
        assert getattr(found, field.attname) == getattr(expected, field.attname), field.name
    assert found.params == {"configuration": {"x": [1, 2]}}  # a JSON field, decoded
    assert found.created_at.tzinfo is not None  # a datetime, converted as the ORM converts it
    assert JOB_BY_PK.first(pk=job.pk + 1000) is None


def test_a_string_parameter_and_ordering():
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    first, second = submit(alice), submit(alice)
    submit(bob)
    assert [job.pk for job in JOBS_OF.all(username="alice")] == [second.pk, first.pk]
    assert JOBS_OF.all(username="nobody") == []
    assert NAMES.all(username="alice") == [(first.pk, first.status), (second.pk, second.status)]
    assert IDS.all(username="alice") == [first.pk, second.pk]


def test_select_related_fills_the_related_objects_without_more_queries():
    alice = UserFactory(username="alice")
    job = submit(alice)
    pai = PaiJob.objects.create(owner=alice, name="p", config_raw="{}", config={})
    PaiTask.objects.create(pai_job=pai, attempt=1, role="b", index=0, job=job)
    PaiTask.objects.create(pai_job=pai, attempt=1, role="a", index=1, job=None)
    PaiTask.objects.create(pai_job=pai, attempt=2, role="a", index=0, job=None)
    TASKS.all(pai=pai.pk, attempt=1)  # compiled
    with CaptureQueriesContext(connection) as queries:
        tasks = TASKS.all(pai=pai.pk, attempt=1)
        assert [(task.role, task.index) for task in tasks] == [("a", 1), ("b", 0)]
        assert tasks[1].job.pk == job.pk and tasks[0].job is None
        assert tasks[0].pai_job.owner.username == "alice"
    assert len(queries) == 1


def test_select_related_objects_are_made_as_from_db_makes_them(monkeypatch):
    """The related objects (nested ones, a NULL one, one read with ``defer()``) are the ORM's, made directly too."""
    alice = UserFactory(username="alice")
    job = submit(alice)
    pai = PaiJob.objects.create(owner=alice, name="p", config_raw="{}", config={})
    PaiTask.objects.create(pai_job=pai, attempt=1, role="b", index=0, job=job)
    PaiTask.objects.create(pai_job=pai, attempt=1, role="a", index=1, job=None)

    def build(pai, attempt):
        return TASKS.build(pai=pai, attempt=attempt).defer("job__code", "job__env")

    made_by_from_db = []
    original = Model.from_db.__func__
    monkeypatch.setattr(Model, "from_db", classmethod(lambda *args: made_by_from_db.append(1) or original(*args)))
    found = CompiledQuery(build, pai=int, attempt=int).all(pai=pai.pk, attempt=1)
    assert made_by_from_db == []
    expected = list(build(pai=pai.pk, attempt=1))
    monkeypatch.undo()

    def state(obj):
        return None if obj is None else ({k: v for k, v in vars(obj).items() if k != "_state"}, obj._state.db)

    for task, orm in zip(found, expected, strict=True):
        assert state(task) == state(orm) and state(task.job) == state(orm.job)
        assert state(task.pai_job) == state(orm.pai_job) and state(task.pai_job.owner) == state(orm.pai_job.owner)
    assert found[1].job.get_deferred_fields() == {"code", "env"} and found[1].job.code == "print(1)"


def test_it_is_compiled_once_and_runs_one_query():
    alice = UserFactory(username="alice")
    job = submit(alice)
    query = CompiledQuery(lambda pk: Job.objects.filter(pk=pk).order_by(), pk=int)
    query.first(pk=job.pk)
    compiled = dict(query._compiled)
    with CaptureQueriesContext(connection) as queries:
        assert query.first(pk=job.pk).pk == job.pk
    assert len(queries) == 1 and str(job.pk) in queries[0]["sql"]
    assert query._compiled == compiled


def test_what_it_cannot_keep_is_refused_when_built():
    with pytest.raises(ValueError, match="parameters"):
        CompiledQuery(lambda name: Job.objects.filter(execute_user__startswith=name), name=str).all(name="a")
    with pytest.raises(ValueError, match="parameters"):
        CompiledQuery(lambda pk: Job.objects.filter(pk=pk + 1), pk=int).all(pk=1)
    with pytest.raises(TypeError):
        CompiledQuery(lambda when: Job.objects.filter(created_at=when), when=float).all(when=1.0)
    with pytest.raises(TypeError, match="expected the parameters"):
        JOB_BY_PK.all(id=1)


def test_an_integer_no_column_can_hold_matches_nothing():
    assert JOB_BY_PK.all(pk=2**70) == []
    assert JOB_BY_PK.all(pk=-(2**70)) == []


def test_pages_and_counts():
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    ids = [submit(alice).pk for _ in range(5)]
    submit(bob)
    newest_first = list(reversed(ids))
    assert [job.pk for job in JOBS_OF.all(username="alice", limit=2)] == newest_first[:2]
    assert [job.pk for job in JOBS_OF.all(username="alice", limit=2, offset=2)] == newest_first[2:4]
    assert [job.pk for job in JOBS_OF.all(username="alice", offset=4)] == newest_first[4:]
    assert JOBS_OF.all(username="alice", limit=2, offset=10) == []
    assert JOBS_OF.count(username="alice") == 5 and JOBS_OF.count(username="nobody") == 0
    assert JOB_BY_PK.count(pk=ids[0]) == 1 and JOB_BY_PK.count(pk=2**70) == 0
    sliced = CompiledQuery(lambda username: Job.objects.filter(owner__username=username)[:1], username=str)
    with pytest.raises(ValueError, match="sliced"):
        sliced.all(username="alice", limit=3)
    assert JOBS_OF.all(username="alice", limit=2**70, offset=2**70) == []
    assert len(JOBS_OF.all(username="alice", limit=-1)) == 0


def test_a_count_reads_the_filtered_keys_not_the_rows():
    """As ``QuerySet.count()``: without the columns, the ordering and select_related's joins, so that the index of
    the filtered column answers it (the history page counts a user's jobs: before, every job's row was read)."""
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    for _ in range(3):
        submit(alice)
    submit(bob)
    lean = CompiledQuery(lambda owner: Job.objects.filter(owner_id=owner).defer("env").order_by("-id"), owner=int)
    related = CompiledQuery(
        lambda owner: Job.objects.filter(owner_id=owner).select_related("owner").order_by("-id"), owner=int
    )
    sliced = CompiledQuery(lambda owner: Job.objects.filter(owner_id=owner).order_by("-id")[:2], owner=int)
    with CaptureQueriesContext(connection) as queries:
        assert lean.count(owner=alice.pk) == related.count(owner=alice.pk) == 3 and lean.count(owner=bob.pk) == 1
        assert sliced.count(owner=alice.pk) == 2  # a sliced one counts its slice, as the ORM's count() does
    for query in queries.captured_queries[:3]:
        assert '"code"' not in query["sql"] and "ORDER BY" not in query["sql"] and "JOIN" not in query["sql"]
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN QUERY PLAN " + queries.captured_queries[0]["sql"].replace(str(alice.pk), "1"))
            assert "COVERING INDEX" in " ".join(str(step) for step in cursor.fetchall())


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's")
def test_on_postgresql_the_statement_is_prepared_once_per_connection_and_gives_the_same_rows():
    alice = UserFactory(username="alice")
    job = submit(alice)
    JOB_BY_PK.first(pk=job.pk)
    found = JOB_BY_PK.first(pk=job.pk)
    assert found == Job.objects.get(pk=job.pk) and found.params == Job.objects.get(pk=job.pk).params
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE statement LIKE %s", ['%"jobs_job"%'])
        prepared = [row[0] for row in cursor.fetchall()]
    assert len(prepared) == 1 and "$1" in prepared[0]
    assert [j.pk for j in JOBS_OF.all(username="alice", limit=5)] == [job.pk]  # a str and LIMIT/OFFSET bound


def test_with_prepared_statements_off_django_runs_it(settings):
    settings.DATABASE_PREPARED_STATEMENTS = False
    alice = UserFactory(username="alice")
    job = submit(alice)
    assert JOB_BY_PK.first(pk=job.pk).pk == job.pk


@pytest.mark.parametrize(
    "stored",
    [
        "2026-12-05 13:30:01.123456",
        "2026-12-05 13:30:01",
        "2026-12-05 13:30:01+00:00",
        "2026-12-05 15:30:01+02:00",
        dt.datetime(2026, 12, 5, 13, 30, 1, 123456),  # noqa: DTZ001 - naive, as sqlite3 reads a datetime column
        dt.datetime(2026, 12, 5, 15, 30, 1, tzinfo=dt.timezone(dt.timedelta(hours=2))),
    ],
)
def test_sqlites_datetimes_are_read_as_djangos_converter_reads_them(stored):
    from dataplatform.querycache import _sqlite_utc_datetime

    if connection.vendor != "sqlite":
        pytest.skip("SQLite's converter")
    ours = _sqlite_utc_datetime(stored, None, connection)
    djangos = connection.ops.convert_datetimefield_value(stored, None, connection)
    assert ours == djangos and ours.utcoffset() == djangos.utcoffset()
    assert _sqlite_utc_datetime(None, None, connection) is None


def test_a_wrapped_connection_runs_it_through_djangos_cursor():
    """``connection.execute_wrapper`` (instrumentation, statement counters) sees compiled queries as any other."""
    alice = UserFactory(username="alice")
    job = submit(alice)
    seen: list[str] = []

    def wrapper(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        assert JOB_BY_PK.first(pk=job.pk).pk == job.pk
    assert len(seen) == 1 and '"jobs_job"' in seen[0]


def test_on_sqlite_it_runs_on_sqlites_cursor_with_its_placeholders(monkeypatch):
    """No Django cursor (its per-call placeholder rewriting) on SQLite; a literal ``%`` in the SQL stays one."""
    from dataplatform import querycache

    if connection.vendor != "sqlite":
        pytest.skip("SQLite's own cursor")
    alice = UserFactory(username="100%")
    job = submit(alice)

    def no_django_cursor(*args, **kwargs):
        raise AssertionError("Django's cursor was used")

    monkeypatch.setattr(connections["default"], "cursor", no_django_cursor)
    assert JOB_BY_PK.first(pk=job.pk).pk == job.pk
    assert [j.pk for j in JOBS_OF.all(username="100%", limit=1)] == [job.pk]
    rows = querycache.fetch(connection, "SELECT %s, '10%%' || %s", [1, "x"])
    assert rows == [(1, "10%x")]
    assert querycache._qmark("SELECT %s, '%%s' WHERE a = %s") == "SELECT ?, '%s' WHERE a = ?"


def test_a_database_error_is_djangos():
    from django.db import DatabaseError

    from dataplatform import querycache

    with pytest.raises(DatabaseError) as raised:
        querycache.fetch(connection, "SELECT * FROM no_such_table WHERE id = %s", [1])
    assert type(raised.value).__module__ == "django.db.utils"  # Django's class, not the driver's


def test_instances_are_made_as_from_db_makes_them():
    """Rows are made into instances without ``Model.__init__`` where that only sets the values: the same instance."""
    alice = UserFactory(username="alice")
    job = submit(alice)
    found = JOB_BY_PK.first(pk=job.pk)
    expected = Job.objects.get(pk=job.pk)
    assert {k: v for k, v in vars(found).items() if k != "_state"} == {
        k: v for k, v in vars(expected).items() if k != "_state"
    }
    assert (found._state.adding, found._state.db) == (False, "default") and found._state.fields_cache == {}
    found.status = "Running"
    found.save(update_fields=["status"])
    assert Job.objects.get(pk=job.pk).status == "Running"
    assert found.owner == alice  # the foreign key is read through its descriptor as usual


JOB_STATE = CompiledQuery(lambda pk: Job.objects.filter(pk=pk).only("id", "owner", "status").order_by(), pk=int)
JOB_LEAN = CompiledQuery(lambda pk: Job.objects.filter(pk=pk).defer("code", "params", "env").order_by(), pk=int)


@pytest.mark.parametrize("compiled", [JOB_STATE, JOB_LEAN], ids=["only", "defer"])
def test_instances_of_a_narrow_read_are_made_as_from_db_makes_them(compiled, monkeypatch):
    """A row read with ``only()``/``defer()`` is made directly too: the same values, the same fields deferred, each
    loaded from the database when first used, and saved as ``from_db``'s instance would be."""
    alice = UserFactory(username="alice")
    job = submit(alice)
    found = compiled.first(pk=job.pk)
    expected = compiled.build(pk=job.pk).get()
    assert {k: v for k, v in vars(found).items() if k != "_state"} == {
        k: v for k, v in vars(expected).items() if k != "_state"
    }
    assert found.get_deferred_fields() == expected.get_deferred_fields() and "code" in found.get_deferred_fields()
    assert (found._state.adding, found._state.db) == (False, "default")
    assert found.code == "print(1)" and "code" not in found.get_deferred_fields()  # loaded when used
    found.status = "Running"
    found.save(update_fields=["status"])
    assert Job.objects.get(pk=job.pk).status == "Running"
    made_by_from_db = []
    original = Job.from_db.__func__
    monkeypatch.setattr(Model, "from_db", classmethod(lambda *args: made_by_from_db.append(1) or original(*args)))
    assert CompiledQuery(compiled.build, pk=int).first(pk=job.pk) == job and made_by_from_db == []  # made directly
    monkeypatch.undo()
    monkeypatch.setattr(Job, "from_db", classmethod(lambda *args: made_by_from_db.append(1) or original(*args)))
    fresh = CompiledQuery(compiled.build, pk=int)  # compiled for a model with its own from_db: that one is used
    assert fresh.first(pk=job.pk).pk == job.pk and made_by_from_db == [1]


def test_a_model_with_init_receivers_is_made_by_from_db():
    from django.db.models.signals import post_init

    alice = UserFactory(username="alice")
    job = submit(alice)
    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance.pk)

    JOB_BY_PK.first(pk=job.pk)  # compiled, and run once, before the receiver is connected
    post_init.connect(receiver, sender=Job)
    try:
        assert JOB_BY_PK.first(pk=job.pk).pk == job.pk
    finally:
        post_init.disconnect(receiver, sender=Job)
    assert seen == [job.pk]
