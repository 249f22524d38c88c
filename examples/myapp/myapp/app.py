"""The application class named by artifact.json (``myapp.app:PurchaseDump``) and its config."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PurchaseDumpConfig:
    """Mirrors the configSchema record in artifact.json: stream is optional, table and batchSize are required."""

    table: str
    batchSize: int  # the field name is the config key, camelCase as in CDAP
    stream: str | None = None


class PurchaseDump:
    """Writes purchase events to ``config.table`` in batches (the Writer worker) and reports on them (Report)."""

    def __init__(self, config: PurchaseDumpConfig):
        self.config = config

    def programs(self) -> list[str]:
        """The programs artifact.json declares for this app."""
        return ["workers/Writer", "workflows/Report"]
