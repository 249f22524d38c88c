"""The OPTIONS(...) of ``LOAD DATA INFILE`` and ``SELECT ... INTO OUTFILE``, by upstream's names and defaults.

Keys are case-insensitive. Every problem is reported at once, one per line, as upstream's option parser does
(``src/sdk/options_map_parser.h``); unlike upstream, an unknown option is an error (a misspelt ``delimeter`` would
otherwise be ignored and the file read with the default). Options upstream accepts for its Spark and local loaders
that change nothing here (``thread``, ``writer_type``, ``load_mode='cluster'``, ``coalesce``) are accepted and
checked for type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from featurestore.errors import FeatureStoreError

FORMATS = ("csv", "parquet")
MODES = ("error_if_exists", "overwrite", "append")

# name: (type, default); the type is bool, int or str.
_LOAD: dict[str, tuple[type, Any]] = {
    "delimiter": (str, ","),
    "header": (bool, True),
    "null_value": (str, "null"),
    "format": (str, "csv"),
    "quote": (str, '"'),
    "mode": (str, "error_if_exists"),
    "deep_copy": (bool, True),
    "load_mode": (str, "cluster"),
    "thread": (int, 1),
    "writer_type": (str, "single"),
    "put_if_absent": (bool, False),
}
_OUTFILE: dict[str, tuple[type, Any]] = {
    "delimiter": (str, ","),
    "header": (bool, True),
    "null_value": (str, "null"),
    "format": (str, "csv"),
    "mode": (str, "error_if_exists"),
    "quote": (str, '"'),
    "coalesce": (int, 0),
}


@dataclass(frozen=True)
class CsvOptions:
    """How a CSV file is split into values (LOAD DATA reads with these; SELECT INTO writes with them)."""

    delimiter: str = ","
    header: bool = True
    null_value: str = "null"
    quote: str = '"'

    def as_dict(self) -> dict[str, str]:
        """The catalog's (upstream's ``offline_table_info.options``) string form, Spark's option names."""
        return {"sep": self.delimiter, "header": str(self.header).lower(), "nullValue": self.null_value,
                "quote": self.quote}  # fmt: skip

    @classmethod
    def from_dict(cls, options: dict[str, str]) -> CsvOptions:
        return cls(
            delimiter=options.get("sep", ","),
            header=options.get("header", "true") == "true",
            null_value=options.get("nullValue", "null"),
            quote=options.get("quote", '"'),
        )


@dataclass(frozen=True)
class LoadOptions:
    format: str
    csv: CsvOptions
    mode: str
    deep_copy: bool
    load_mode: str
    put_if_absent: bool


@dataclass(frozen=True)
class OutfileOptions:
    format: str
    csv: CsvOptions
    mode: str
    coalesce: int


def _checked(given: dict[str, Any], spec: dict[str, tuple[type, Any]], statement: str) -> dict[str, Any]:
    values = {name: default for name, (_, default) in spec.items()}
    problems = []
    for raw_key, value in given.items():
        key = str(raw_key).lower()
        if key not in spec:
            problems.append(f"unknown option {raw_key} for {statement}: use {', '.join(spec)}")
            continue
        kind = spec[key][0]
        if kind is bool:
            ok = isinstance(value, bool)
        elif kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            ok = isinstance(value, str)
        if not ok:
            what = {bool: "bool", int: "int", str: "string"}[kind]
            problems.append(f"{key} must be {what}")
            continue
        values[key] = value
    if values["delimiter"] == "":
        problems.append("delimiter can't be empty")
    if len(values["quote"]) > 1:
        problems.append("quote must be empty or one char")
    values["format"] = values["format"].lower()
    if values["format"] not in FORMATS:
        problems.append(f"format must be csv or parquet, got {values['format']}")
    values["mode"] = values["mode"].lower()
    if values["mode"] not in MODES:
        problems.append("mode must be error_if_exists, overwrite or append")
    if problems:
        raise FeatureStoreError("\n".join(problems))
    return values


def _csv(values: dict[str, Any]) -> CsvOptions:
    return CsvOptions(values["delimiter"], values["header"], values["null_value"], values["quote"])


def load_options(given: dict[str, Any]) -> LoadOptions:
    values = _checked(given, _LOAD, "LOAD DATA")
    problems = []
    load_mode = values["load_mode"].lower()
    if load_mode not in ("cluster", "local"):
        problems.append("load_mode must be local or cluster")
    if values["thread"] <= 0:
        problems.append("thread must be positive")
    if values["writer_type"].lower() not in ("single", "batch"):
        problems.append("writer_type must be single or batch")
    if problems:
        raise FeatureStoreError("\n".join(problems))
    return LoadOptions(
        format=values["format"],
        csv=_csv(values),
        mode=values["mode"],
        deep_copy=values["deep_copy"],
        load_mode=load_mode,
        put_if_absent=values["put_if_absent"],
    )


def outfile_options(given: dict[str, Any]) -> OutfileOptions:
    values = _checked(given, _OUTFILE, "SELECT INTO")
    if values["coalesce"] < 0:
        raise FeatureStoreError("coalesce must not be negative")
    return OutfileOptions(format=values["format"], csv=_csv(values), mode=values["mode"], coalesce=values["coalesce"])
