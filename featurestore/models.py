"""The feature store's catalog: databases, tables (typed columns, indexes with TTLs) and deployments.

A table's rows live in a physical table of the project's database (``storage_table``), with one composite
B-tree index per OpenMLDB ``INDEX(KEY=..., TS=...)``; the catalog row records its schema. Column names are
OpenMLDB's own (case-sensitive); the physical columns are ``c0``, ``c1``... in schema order. Names of new
databases, tables, columns, indexes and deployments follow ``featurestore.limits`` (OpenMLDB identifiers); rows
created before that rule may hold other names, and everything that shows them must cope.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from featurestore.limits import NAME_MAX_LENGTH, validate_name


class Database(models.Model):
    name = models.CharField(max_length=NAME_MAX_LENGTH, unique=True, validators=[validate_name])
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class FeatureTable(models.Model):
    database = models.ForeignKey(Database, on_delete=models.CASCADE, related_name="tables")
    name = models.CharField(max_length=NAME_MAX_LENGTH, validators=[validate_name])
    #: [{"name", "type", "not_null", "default"}] in schema order; physical column i is ``c<i>``.
    columns = models.JSONField()
    #: [{"name", "keys": [...], "ts": str|None, "ttl_type", "abs_ttl" (minutes), "lat_ttl" (rows)}]
    indexes = models.JSONField(default=list)
    options = models.JSONField(default=dict, blank=True)
    storage_table = models.CharField(max_length=64, unique=True)
    #: The offline data (``featurestore.offline.data``), {} when there is none: {"path" (the deep copy's
    #: directory, "" when none), "parts" (its Parquet files, in load order), "rows" (rows in them), "format",
    #: "options" (how the symbolic paths are read), "symbolic_paths" (soft copies: clients' files, read in place)}.
    offline = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["database__name", "name"]
        constraints = [models.UniqueConstraint(fields=["database", "name"], name="featurestore_table_db_name")]

    def __str__(self) -> str:
        return f"{self.database.name}.{self.name}"

    @property
    def column_names(self) -> list[str]:
        return [column["name"] for column in self.columns]

    @property
    def ts_columns(self) -> frozenset[str]:
        """The columns that are an index's TS: their values are window ts and must stay in the engine's range."""
        return frozenset(index["ts"] for index in self.indexes if index.get("ts"))

    def position(self, name: str) -> int:
        for i, column in enumerate(self.columns):
            if column["name"] == name:
                return i
        raise KeyError(name)


class Deployment(models.Model):
    """A deployed SELECT: ``DEPLOY`` (a deployment) or ``CREATE PROCEDURE`` (a procedure, whose ``const`` input
    columns are common to every request row of a call). Both share one namespace per database, as upstream."""

    class Status(models.TextChoices):
        READY = "ready"
        FAILED = "failed"

    class Kind(models.TextChoices):
        DEPLOYMENT = "deployment"
        PROCEDURE = "procedure"

    database = models.ForeignKey(Database, on_delete=models.CASCADE, related_name="deployments")
    name = models.CharField(max_length=NAME_MAX_LENGTH, validators=[validate_name])
    sql = models.TextField(help_text="The deployed SELECT, as written.")
    options = models.JSONField(default=dict, blank=True)
    input_schema = models.JSONField(default=list)  # [{"name", "type"}]: the main table's schema
    output_schema = models.JSONField(default=list)  # [{"name", "type"}]
    tables = models.JSONField(default=list)  # ["db.table", ...] the deployment reads
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.DEPLOYMENT)
    common_columns = models.JSONField(default=list, blank=True)  # a procedure's const input columns, by name
    output_common_columns = models.JSONField(default=list, blank=True)  # output columns computed from them only
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.READY)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["database__name", "name"]
        constraints = [models.UniqueConstraint(fields=["database", "name"], name="featurestore_deployment_db_name")]

    def __str__(self) -> str:
        return f"{self.database.name}.{self.name}"
