"""Read queries compiled once: the ORM's query building and SQL compilation without their per-request cost.

Building a queryset and compiling it to SQL is most of what a status read costs the server: for a one-row lookup by
primary key, Django spends several times longer turning ``Job.objects.filter(pk=...)`` into SQL than SQLite spends
answering it. A :class:`CompiledQuery` builds its queryset once per database (with stand-in values for its
parameters), keeps the SQL, where each parameter goes, and what turns a row into a model instance, and from then on
only executes: the same SQL, rows converted by the same converters, instances made by ``Model.from_db`` as the
ORM makes them (``select_related`` included). It still goes through Django's cursor, so query logging, the
execute wrappers and the database's errors are as for any ORM query.

Parameters are plain values as the database receives them: ``int`` or ``str`` (declared with their type), put
into the SQL's parameters where the stand-in was. A queryset whose lookup transforms a value (``__startswith``,
``__in``, dates) is refused when it is built, as is one whose SQL does not hold every stand-in.

    JOB_BY_PK = CompiledQuery(lambda pk: Job.objects.filter(pk=pk).order_by(), pk=int)
    job = JOB_BY_PK.first(pk=42)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connections, router
from django.db.models import Model, QuerySet
from django.db.models import query as django_query
from django.db.models.base import ModelState
from django.db.models.query import FlatValuesListIterable, ModelIterable, ValuesListIterable
from django.db.models.signals import post_init, pre_init

_INT64 = (-(2**63), 2**63 - 1)
get_related_populators = django_query.get_related_populators  # type: ignore[attr-defined]  # select_related rows


def _clamp(value: int) -> int:
    """A LIMIT or OFFSET the database takes: 0 up to the largest 64-bit integer."""
    return min(max(value, 0), _INT64[1])


def _stand_ins(parameters: dict[str, type], round_: int) -> dict[str, int | str]:
    """Values for the parameters; the query is compiled with two sets of them, and the SQL parameters that differ
    between the two are where the parameters go (those that do not are the queryset's own constants). Small
    integers: a lookup on an integer field refuses values beyond the field's range."""
    values: dict[str, int | str] = {}
    for number, (name, kind) in enumerate(parameters.items()):
        if kind is int:
            values[name] = 1000 * round_ + number + 1
        elif kind is str:
            values[name] = f"stand-in {round_} for {name}"
        else:
            raise TypeError(f"a compiled query's parameter is int or str, not {kind!r} ({name})")
    return values


@dataclass
class _Compiled:
    sql: str
    slots: list[tuple[str | None, Any]]  # per SQL parameter: (parameter name, None) or (None, a constant)
    positions: list[tuple[int, list, Any]]  # converters: (column, converters, expression)
    make: Callable[[str, list], Any]  # row -> result
    sliced: bool  # the queryset has its own LIMIT/OFFSET
    count_sql: str  # how many rows: the queryset's filters over its primary keys only (an index can answer it)
    count_slots: list[tuple[str | None, Any]]


class CompiledQuery:
    """A read queryset compiled once per database alias; see the module docstring."""

    def __init__(self, build: Callable[..., QuerySet], **parameters: type) -> None:
        self.build = build
        self.parameters = parameters
        self._compiled: dict[tuple[str, str], _Compiled] = {}
        self._lock = threading.Lock()
        self._model: type[Model] | None = None

    # -- running --------------------------------------------------------------------------------------------------
    def all(self, *, limit: int | None = None, offset: int = 0, **values: Any) -> list:
        """Every row, as the queryset would give them (model instances, or tuples for ``values_list``); with
        ``limit``/``offset``, that page of them (the queryset itself must not be sliced then)."""
        found = self._execute(values, limit=limit, offset=offset)
        if found is None:
            return []
        alias, compiled, rows = found
        return [compiled.make(alias, row) for row in rows]

    def count(self, **values: Any) -> int:
        """How many rows ``all()`` would give."""
        found = self._execute(values, count=True)
        return 0 if found is None else found[2][0][0]

    def _execute(self, values: dict, *, limit: int | None = None, offset: int = 0, count: bool = False):
        """(alias, compiled query, converted rows), or None when a value matches no row."""
        if values.keys() != self.parameters.keys():
            raise TypeError(f"expected the parameters {sorted(self.parameters)}, got {sorted(values)}")
        if any(type(value) is int and not _INT64[0] <= value <= _INT64[1] for value in values.values()):
            return None  # no column holds it (the ORM's lookups answer such a value with no rows too)
        alias = self._alias()
        connection = connections[alias]
        compiled = self._compiled.get((alias, connection.vendor)) or self._compile(alias, connection.vendor)
        sql, slots = (compiled.count_sql, compiled.count_slots) if count else (compiled.sql, compiled.slots)
        params = [values[name] if name is not None else constant for name, constant in slots]
        if not count and (limit is not None or offset):
            if compiled.sliced:
                raise ValueError("this compiled query is sliced already; it takes no limit or offset")
            sql += " LIMIT %s OFFSET %s"
            params += [_INT64[1] if limit is None else _clamp(limit), _clamp(offset)]
        rows = fetch(connection, sql, params)
        if compiled.positions and not count:
            rows = [self._convert(list(row), compiled.positions, connection) for row in rows]
        return alias, compiled, rows

    def first(self, **values: Any):
        """The first row (the queryset should hold its own ``[:1]`` or a unique filter), or None."""
        found = self.all(**values)
        return found[0] if found else None

    @staticmethod
    def _convert(row: list, positions, connection) -> list:
        for position, converters, expression in positions:
            value = row[position]
            for converter in converters:
                value = converter(value, expression, connection)
            row[position] = value
        return row

    def _alias(self) -> str:
        """The alias the ORM would read the queryset's model from."""
        if self._model is None:
            self._model = self.build(**_stand_ins(self.parameters, 1)).model
        return router.db_for_read(self._model)

    # -- compiling ------------------------------------------------------------------------------------------------
    def _compile(self, alias: str, vendor: str) -> _Compiled:
        with self._lock:
            found = self._compiled.get((alias, vendor))
            if found is not None:
                return found
            first, second = _stand_ins(self.parameters, 1), _stand_ins(self.parameters, 2)
            queryset = self.build(**first).using(alias)
            compiler = queryset.query.get_compiler(using=alias)
            sql, params = compiler.as_sql()
            slots = self._slots((sql, params), _as_sql(self.build(**second), alias), first, second)
            count_sql, count_slots = sql, slots
            query = queryset.query
            if not (query.is_sliced or query.distinct or query.combinator or query.annotations):
                # As QuerySet.count() counts: without the columns, the ordering or select_related's joins, so that
                # an index on the filtered columns can answer it (the full row of every job was read before).
                def keys(values: dict) -> QuerySet:
                    return self.build(**values).order_by().values_list("pk")

                with contextlib.suppress(ValueError):  # a parameter only the ordering takes: the full form
                    narrow = _as_sql(keys(first), alias)
                    count_sql, count_slots = narrow[0], self._slots(narrow, _as_sql(keys(second), alias), first, second)
            count_sql = f"SELECT COUNT(*) FROM ({count_sql}) counted"  # noqa: S608 - the ORM's SQL; values bound
            fields = [column[0] for column in compiler.select[0 : compiler.col_count]]
            positions = [
                (position, [_faster(converter, connections[alias]) for converter in converters], expression)
                for position, (converters, expression) in compiler.get_converters(fields).items()
            ]
            compiled = _Compiled(
                sql=sql,
                slots=slots,
                positions=positions,
                make=self._maker(queryset, compiler, alias),
                sliced=queryset.query.is_sliced,
                count_sql=count_sql,
                count_slots=count_slots,
            )
            self._compiled[(alias, vendor)] = compiled
            return compiled

    def _slots(self, compiled: tuple[str, tuple], again: tuple[str, tuple], first: dict, second: dict) -> list:
        """Per SQL parameter, the compiled query's parameter it is or a constant, from the SQL of one queryset built
        with the ``first`` and with the ``second`` stand-in values."""
        (sql, params), (sql_again, params_again) = compiled, again
        if sql_again != sql or len(params_again) != len(params):
            raise ValueError("the compiled query's SQL depends on its parameters' values")
        names = {(first[name], second[name]): name for name in self.parameters}
        slots: list[tuple[str | None, Any]] = []
        for param, param_again in zip(params, params_again, strict=True):
            if param == param_again:
                slots.append((None, param))
            elif (param, param_again) in names:
                slots.append((names[(param, param_again)], None))
            else:  # a lookup that transforms its value (LIKE patterns, dates): the value cannot be passed as is
                raise ValueError(f"the compiled query's parameters must reach the SQL as given ({param!r})")
        missing = set(self.parameters) - {name for name, _ in slots}
        if missing:
            raise ValueError(f"the compiled query's SQL does not take the parameters {sorted(missing)}")
        return slots

    @staticmethod
    def _maker(queryset: QuerySet, compiler, alias: str) -> Callable[[str, list], Any]:
        if queryset._iterable_class is FlatValuesListIterable:
            return lambda alias, row: row[0]
        if queryset._iterable_class is ValuesListIterable:
            return lambda alias, row: tuple(row)
        if queryset._iterable_class is not ModelIterable:
            raise ValueError("a compiled query gives model instances or values_list() rows")
        if getattr(queryset, "_known_related_objects", None) or getattr(queryset, "_prefetch_related_lookups", ()):
            raise ValueError("a compiled query cannot prefetch or hold known related objects")
        select, klass_info, annotations = compiler.select, compiler.klass_info, compiler.annotation_col_map
        model = klass_info["model"]
        start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        init_list = [column[0].target.attname for column in select[start:end]]
        populators = [_populator(populator) for populator in get_related_populators(klass_info, select, alias)]

        instance = _instance_maker(model, init_list)

        def make(alias: str, row: list):
            obj = instance(alias, row[start:end])
            for populate in populators:
                populate(row, obj)
            for name, position in (annotations or {}).items():
                setattr(obj, name, row[position])
            return obj

        return make


def _as_sql(queryset: QuerySet, alias: str) -> tuple[str, tuple]:
    return queryset.using(alias).query.get_compiler(using=alias).as_sql()


def _populator(populator) -> Callable[[list, Model], None]:
    """``RelatedPopulator.populate`` (a ``select_related`` object from its columns of the row), its instances made by
    ``_instance_maker`` as the main row's are."""
    if populator.reorder_for_init is not None:
        return populator.populate
    instance = _instance_maker(populator.model_cls, populator.init_list)
    start, end, pk_index, db = populator.cols_start, populator.cols_end, populator.pk_idx, populator.db
    nested = [_populator(related) for related in populator.related_populators]
    local_setter, remote_setter = populator.local_setter, populator.remote_setter

    def populate(row: list, from_obj: Model) -> None:
        values = row[start:end]
        obj = None
        if values[pk_index] is not None:
            obj = instance(db, values)
            for populate_nested in nested:
                populate_nested(row, obj)
        local_setter(from_obj, obj)
        if obj is not None:
            remote_setter(obj, from_obj)

    return populate


def _instance_maker(model: type[Model], attnames: list[str]) -> Callable[[str, list], Model]:
    """``model.from_db``, or where it would only set the row's values (Django's own ``from_db`` and ``__init__``,
    concrete fields each read once, and, checked at each row since they may be connected at any time, no
    ``pre_init``/``post_init`` receivers) the same instance made directly: ``__init__`` walks every field (a quarter
    of a wide row's reading), and for a row read with ``only()``/``defer()`` ``from_db`` first lines the values up
    with every field, looking each name up in a list. A field not read is left out of the instance's ``__dict__``,
    as ``__init__`` leaves a ``DEFERRED`` one: it is loaded when first used."""
    concrete = {field.attname for field in model._meta.concrete_fields}
    if (
        getattr(model.from_db, "__func__", None) is not getattr(Model.from_db, "__func__", None)
        or model.__init__ is not Model.__init__
        or len(set(attnames)) != len(attnames)
        or not set(attnames) <= concrete
        or model._meta.pk.attname not in attnames
    ):
        return lambda alias, values: model.from_db(alias, attnames, values)
    new = model.__new__

    def instance(alias: str, values: list) -> Model:
        if pre_init.has_listeners(model) or post_init.has_listeners(model):
            return model.from_db(alias, attnames, values)
        obj = new(model)
        state = ModelState()
        state.adding = False
        state.db = alias
        obj.__dict__.update(zip(attnames, values, strict=True), _state=state)
        return obj

    return instance


# --- running a statement ------------------------------------------------------------------------------------------
NEVER_BY_COUNT = 2**31 - 1  # psycopg prepares a statement after this many runs: in effect only when asked


def fetch(connection, sql: str, params: list) -> list:
    """Every row of a read statement (``%s`` placeholders) on a Django connection.

    On PostgreSQL (with ``DATABASE_PREPARED_STATEMENTS``) the statement binds its values on the server and is
    prepared once per connection (psycopg's ``prepare=True``; a connection keeps its 100 latest): the server skips
    parsing and planning it again, and psycopg its client-side quoting. Integers go as int8, so a statement keeps one
    prepared form whatever its values' sizes. On SQLite it runs on sqlite3's own cursor in its ``?`` style (converted
    once per statement). Errors are Django's, as from its cursors. Where queries are being logged (DEBUG, a test
    capturing them) or wrapped (``connection.execute_wrapper``) Django's cursor runs it, as it runs any query.
    """
    if connection.queries_logged or connection.execute_wrappers:
        with connection.cursor() as cursor:  # logged and wrapped as any query
            cursor.execute(sql, params)
            return cursor.fetchall()
    if connection.vendor == "sqlite":
        # sqlite3's own cursor, with the SQL already in its ``?`` style: Django's cursor would rewrite the ``%s``
        # placeholders with a regular expression at every call (a third of a one-row read's time).
        connection.validate_no_broken_transaction()
        with connection.wrap_database_errors:
            connection.ensure_connection()
            connection.validate_thread_sharing()
            return connection.connection.execute(_qmark(sql), params).fetchall()
    if connection.vendor == "postgresql" and settings.DATABASE_PREPARED_STATEMENTS:
        import psycopg
        from psycopg.types.numeric import Int8

        connection.validate_no_broken_transaction()
        with connection.wrap_database_errors:
            connection.ensure_connection()
            raw = connection.connection
            if raw.prepare_threshold is None:
                # Django turns psycopg's preparing off for the whole connection (for poolers such as PgBouncer);
                # this threshold lets only prepare=True through: Django's own cursors bind on the client as before.
                raw.prepare_threshold = NEVER_BY_COUNT
            with psycopg.Cursor(raw) as cursor:
                cursor.execute(sql, [Int8(value) if type(value) is int else value for value in params], prepare=True)
                return cursor.fetchall()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


_PYFORMAT = re.compile(r"(?<!%)%s")  # django.db.backends.sqlite3.base.FORMAT_QMARK_REGEX


@functools.lru_cache(maxsize=1024)
def _qmark(sql: str) -> str:
    """The statement with ``%s`` placeholders in sqlite3's ``?`` style, as Django's SQLite cursor rewrites it."""
    return _PYFORMAT.sub("?", sql).replace("%%", "%")


def _sqlite_utc_datetime(value, expression, connection):
    """SQLite's ``convert_datetimefield_value`` for a database in UTC: a naive datetime (as sqlite3 gives a declared
    datetime column) or the ISO text Django stored, read by ``datetime.fromisoformat``, made aware in UTC (Django's
    checks the value's type and awareness again and takes ``make_aware``)."""
    if type(value) is dt.datetime:  # sqlite3 parsed it already (the datetime converter Django registers)
        return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    if value is None or isinstance(value, dt.datetime):
        return connection.ops.convert_datetimefield_value(value, expression, connection)
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return connection.ops.convert_datetimefield_value(value, expression, connection)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def _faster(converter, connection):
    """``converter``, or a faster one that gives the same values."""
    if (
        connection.vendor == "sqlite"
        and getattr(converter, "__func__", None) is type(connection.ops).convert_datetimefield_value
        and connection.timezone is dt.UTC
    ):
        return _sqlite_utc_datetime
    return converter
