"""The embedded server's OpenPAI dispatcher (``OPENPAI_RUNNER=ray``): ``manage.py openpai_ray`` as a child process,
started again when it exits (after 1 s, then up to 30 s between tries while it keeps failing).

The dispatcher is a Ray driver, and a Ray driver ends its process when it loses its head, so it never runs inside
the server. It stops when the server is gone (``--parent-pid``). Its output goes to ``DATA_DIR/logs/openpai-ray.log``.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from django.conf import settings

logger = logging.getLogger(__name__)

_started = threading.Event()


def start_dispatcher_process() -> None:
    if _started.is_set():
        return
    _started.set()
    threading.Thread(target=_supervise, name="openpai-ray-supervisor", daemon=True).start()


def _supervise() -> None:
    pause = 1.0
    log_path = Path(settings.DATA_DIR) / "logs" / "openpai-ray.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings.SETTINGS_MODULE}
    while True:
        began = time.monotonic()
        with open(log_path, "ab") as log:
            process = subprocess.Popen(  # noqa: S603 - the platform's own command
                [
                    sys.executable,
                    str(Path(settings.BASE_DIR) / "manage.py"),
                    "openpai_ray",
                    "--parent-pid",
                    str(os.getpid()),
                ],  # fmt: skip
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
            )
        code = process.wait()
        pause = 1.0 if time.monotonic() - began > 60 else min(pause * 2, 30.0)
        logger.warning("the OpenPAI dispatcher exited with %s; starting it again in %.0f s (%s)", code, pause, log_path)
        time.sleep(pause)
