"""The plugin named by artifact.json: a batch source reading CSV files (``myapp.plugins:CsvSource``)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass
class CsvSourceConfig:
    """The plugin's properties: ``path`` (macros allowed, required) and ``skipHeader`` (optional)."""

    path: str
    skipHeader: bool | None = None  # the property name as declared in artifact.json


class CsvSource:
    """A ``batchsource`` plugin named ``csv``: yields each row of the file as a list of strings."""

    config_field_name = "config"

    def __init__(self, config: CsvSourceConfig):
        self.config = config

    def read(self) -> Iterator[list[str]]:
        """Yield the rows, without the header line when skipHeader is set."""
        with open(self.config.path, newline="", encoding="utf-8") as fh:
            rows = csv.reader(fh)
            if self.config.skipHeader:
                next(rows, None)
            yield from rows
