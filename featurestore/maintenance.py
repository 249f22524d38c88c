"""Background upkeep of the feature store in the server process: deleting rows every index's TTL has expired.

Reads already hide expired rows (``featurestore.engine.RowSource``); this only reclaims the space, every
``FEATURESTORE_TTL_INTERVAL`` seconds.
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.db import close_old_connections, connection

logger = logging.getLogger(__name__)

_thread: threading.Thread | None = None
_stop = threading.Event()


def expire_all() -> int:
    """Run TTL expiry over every table once; return the number of rows deleted."""
    from featurestore.models import FeatureTable
    from featurestore.services import ttl_expire

    deleted = 0
    for table in FeatureTable.objects.select_related("database"):
        try:
            deleted += ttl_expire(table=table)
        except Exception:  # one table's failure must not stop the others
            logger.exception("TTL expiry of %s failed", table)
    return deleted


def _loop(interval: float) -> None:
    while not _stop.wait(interval):
        try:
            deleted = expire_all()
            if deleted:
                logger.info("TTL expiry deleted %d rows", deleted)
        except Exception:
            logger.exception("TTL expiry failed")
            close_old_connections()
    connection.close()


def start_ttl_expiry() -> None:
    """Start the expiry thread once per process (no-op when the interval is 0)."""
    global _thread
    interval = settings.FEATURESTORE_TTL_INTERVAL
    if interval <= 0 or _thread is not None:
        return
    _thread = threading.Thread(target=_loop, args=(float(interval),), name="featurestore-ttl", daemon=True)
    _thread.start()
