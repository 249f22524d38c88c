"""The feature store in the admin: databases, tables (schema, indexes, row counts, sample rows), deployments
(SQL, schemas) with a form that sends a request row and shows the computed features."""

from __future__ import annotations

import datetime as dt
import json

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from dataplatform.admin import ReadOnlyAdminMixin
from featurestore import services, storage
from featurestore.jsonx import ConversionError, JsonError, coerce, loads, output_value
from featurestore.models import Database, Deployment, FeatureTable
from featurestore.selectors import deployment_example_row, table_newest_rows, table_rows_by_key, table_ts_columns

UTC8 = dt.timezone(dt.timedelta(hours=8))

SAMPLE_ROWS = 20


@admin.register(Database)
class DatabaseAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("name", "table_count", "created_at")
    search_fields = ("name",)
    admin_add = True  # a new database is named here; tables and deployments come from SQL
    admin_change = "no"
    admin_delete = False  # DROP DATABASE through SQL: it checks that the database is empty

    def get_readonly_fields(self, request, obj=None):
        # A new database is named here (the model's validator applies OpenMLDB's identifier rule); then fixed.
        return ("created_at",) if obj is None else ("name", "created_at")

    @admin.display(description="tables")
    def table_count(self, database: Database) -> int:
        return database.tables.count()


def _table(headers, rows) -> str:
    head = format_html_join("", "<th>{}</th>", ((header,) for header in headers))
    body = format_html_join(
        "", "<tr>{}</tr>", ((format_html_join("", "<td>{}</td>", ((cell,) for cell in row)),) for row in rows)
    )
    return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, body)


@admin.register(FeatureTable)
class FeatureTableAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("name", "database", "column_count", "index_count", "row_count", "created_at")
    list_filter = ("database",)
    search_fields = ("name",)
    list_select_related = ("database",)
    fields = ("database", "name", "storage_table", "schema", "index_table", "row_count", "sample_rows", "created_at")
    readonly_fields = fields
    admin_change = "no"
    admin_delete = False  # DROP TABLE through SQL also drops the physical table and checks deployments

    @admin.display(description="columns")
    def column_count(self, table: FeatureTable) -> int:
        return len(table.columns)

    @admin.display(description="indexes")
    def index_count(self, table: FeatureTable) -> int:
        return len(table.indexes)

    @admin.display(description="rows")
    def row_count(self, table: FeatureTable) -> int:
        return storage.count_rows(table)

    @admin.display(description="schema")
    def schema(self, table: FeatureTable) -> str:
        rows = [
            (c["name"], c["type"], "NOT NULL" if c.get("not_null") else "", c.get("default")) for c in table.columns
        ]
        return _table(("column", "type", "null", "default"), rows)

    @admin.display(description="indexes")
    def index_table(self, table: FeatureTable) -> str:
        rows = [
            (i["name"], ", ".join(i["keys"]), i.get("ts") or "", i.get("ttl_type"), i.get("abs_ttl"), i.get("lat_ttl"))
            for i in table.indexes
        ]
        return _table(("index", "key", "ts", "ttl type", "abs ttl (min)", "lat ttl (rows)"), rows)

    @admin.display(description=f"newest {SAMPLE_ROWS} rows")
    def sample_rows(self, table: FeatureTable) -> str:
        rows = table_newest_rows(table, limit=SAMPLE_ROWS)
        browse = reverse("admin:featurestore_featuretable_rows", args=[table.pk])
        return format_html('{}<p><a href="{}">Browse rows by key</a></p>', _rows_table(table, rows), browse)

    def get_urls(self):
        return [
            path("<int:pk>/rows/", self.admin_site.admin_view(self.rows_view), name="featurestore_featuretable_rows"),
            *super().get_urls(),
        ]

    def rows_view(self, request, pk: int):
        """The newest rows of one key of one index (the key's values typed as the columns' types)."""
        table = get_object_or_404(FeatureTable.objects.select_related("database"), pk=pk)
        if not self.has_view_permission(request, table):
            raise PermissionDenied
        indexes = [index for index in table.indexes if index["keys"]]
        try:
            chosen = indexes[int(request.GET.get("index", 0))] if indexes else None
        except (ValueError, IndexError):
            chosen = indexes[0] if indexes else None
        values = request.GET.getlist("key")
        rows = error = None
        if chosen is not None and values:
            try:
                typed = [
                    None if value == "" else coerce(value if kind == "string" else _typed(value), kind,
                                                    ts=name in table_ts_columns(table))
                    for value, (name, kind) in zip(values, _key_columns(table, chosen), strict=False)
                ]  # fmt: skip
                if len(typed) != len(chosen["keys"]):
                    raise ValueError(f"the index's key has {len(chosen['keys'])} columns")
                rows = table_rows_by_key(table, index=chosen, values=typed, limit=ROWS_BY_KEY)
            except (ConversionError, JsonError, ValueError) as exc:
                error = getattr(exc, "msg", None) or str(exc)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Rows of {table} by key",
            "opts": self.model._meta,
            "table": table,
            "indexes": [(position, index, index is chosen) for position, index in enumerate(indexes)],
            "key_columns": list(zip(_key_columns(table, chosen), values + [""] * 8, strict=False)) if chosen else [],
            "rows": _rows_table(table, rows) if rows is not None else None,
            "count": len(rows or []),
            "limit": ROWS_BY_KEY,
            "error": error,
        }
        return TemplateResponse(request, "admin/featurestore/table_rows.html", context)


ROWS_BY_KEY = 100


def _key_columns(table: FeatureTable, index: dict | None) -> list[tuple[str, str]]:
    if index is None:
        return []
    kinds = {column["name"]: column["type"] for column in table.columns}
    return [(name, kinds[name]) for name in index["keys"]]


def _typed(text: str):
    """A key value typed in a form: a number or true/false as JSON, anything else as the text."""
    try:
        return loads(text)
    except JsonError:
        return text


def _when(value) -> str:
    """A timestamp (epoch ms) as a date in UTC+8, OpenMLDB's time zone for its time functions."""
    try:
        moment = dt.datetime.fromtimestamp(value / 1000, tz=UTC8)
    except (OverflowError, OSError, ValueError, TypeError):
        return str(value)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d} +08:00"


def _rows_table(table: FeatureTable, rows) -> str:
    """Rows as a table, timestamps as dates (their epoch ms in the tooltip)."""
    kinds = [column["type"] for column in table.columns]
    head = format_html_join("", "<th>{}</th>", ((name,) for name in table.column_names))

    def cell(value, kind):
        if kind == "timestamp" and isinstance(value, int):
            return format_html('<td><span title="{}">{}</span></td>', value, _when(value))
        return format_html("<td>{}</td>", value)

    body = format_html_join(
        "", "<tr>{}</tr>",
        ((format_html_join("", "{}", ((cell(value, kind),) for value, kind in zip(row, kinds, strict=True))),)
         for row in rows),
    )  # fmt: skip
    return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, body)


class CallForm(forms.Form):
    row = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "cols": 100}),
        help_text="A JSON array in the input schema's order, or an object keyed by column name.",
    )


@admin.register(Deployment)
class DeploymentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("name", "database", "status", "created_by", "created_at", "call_link")
    list_filter = ("database", "status")
    search_fields = ("name", "sql")
    list_select_related = ("database", "created_by")
    fields = ("database", "name", "status", "sql", "options", "input_schema", "output_schema", "tables",
              "created_by", "created_at")  # fmt: skip
    readonly_fields = fields
    admin_change = "no"
    admin_delete = False  # DROP DEPLOYMENT through SQL, which also forgets the compiled plan

    @admin.display(description="call")
    def call_link(self, deployment: Deployment) -> str:
        url = reverse("admin:featurestore_deployment_call", args=[deployment.pk])
        return format_html('<a href="{}">Send a row</a>', url)

    def get_urls(self):
        return [
            path("<int:pk>/call/", self.admin_site.admin_view(self.call_view), name="featurestore_deployment_call"),
            *super().get_urls(),
        ]

    def call_view(self, request, pk: int):
        deployment = get_object_or_404(Deployment.objects.select_related("database"), pk=pk)
        schema = [(column["name"], column["type"]) for column in deployment.input_schema]
        output = error = None
        form = CallForm(request.POST or None, initial={"row": json.dumps(deployment_example_row(deployment))})
        if request.method == "POST" and form.is_valid():
            try:
                output = self._call(deployment, schema, form.cleaned_data["row"])
            except (JsonError, ConversionError, ValueError, services.FeatureStoreError) as exc:
                error = getattr(exc, "msg", None) or str(exc)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Call {deployment}",
            "deployment": deployment,
            "form": form,
            "schema": schema,
            "output": output,
            "error": error,
            "opts": self.model._meta,
            "example": json.dumps([None for _ in schema]),
        }
        return TemplateResponse(request, "admin/featurestore/deployment_call.html", context)

    def _call(self, deployment: Deployment, schema, text: str) -> list[tuple[str, str, object]]:
        row = loads(text)
        if isinstance(row, dict):
            row = [row.get(name) for name, _ in schema]
        if not isinstance(row, list) or len(row) != len(schema):
            raise ValueError(f"the row needs {len(schema)} values: {', '.join(name for name, _ in schema)}")
        found = services.deployment_plan(db=deployment.database.name, name=deployment.name)
        if found is None:
            raise ValueError("the deployment no longer exists")
        _, plan = found
        ts_columns = plan.main.ts_columns
        values = [coerce(value, kind, ts=name in ts_columns) for value, (name, kind) in zip(row, schema, strict=True)]
        result = plan.output_row(values)
        return [(name, kind, json.dumps(output_value(value, kind), allow_nan=True))
                for value, (name, kind) in zip(result, plan.output_schema, strict=True)]  # fmt: skip
