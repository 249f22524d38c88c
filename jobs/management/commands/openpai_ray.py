"""``manage.py openpai_ray``: the gang dispatcher of OpenPAI jobs on Ray (``OPENPAI_RUNNER=ray``).

With ``RAY_ADDRESS=local`` it first starts a Ray head on this machine (127.0.0.1, ``--num-cpus``/``--num-gpus``/
``--memory-mb``; logical GPUs as declared) and stops it on the way out. One dispatcher per machine: a second one waits
for the first's lock. The embedded server starts and watches one itself (``OPENPAI_RAY_DISPATCHER_AUTOSTART``); the
production profile runs it as a process of its own.
"""

from __future__ import annotations

import fcntl
import os
import signal
import threading
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Place OpenPAI jobs on a Ray cluster as gangs and supervise their tasks (OPENPAI_RUNNER=ray)."

    def add_arguments(self, parser):
        parser.add_argument("--address", default=settings.RAY_ADDRESS, help="host:port of the Ray head, or 'local'.")
        parser.add_argument("--num-cpus", type=int, default=settings.RAY_LOCAL_NUM_CPUS, help="A local head's CPUs.")
        parser.add_argument("--num-gpus", type=int, default=settings.RAY_LOCAL_NUM_GPUS, help="A local head's GPUs.")
        parser.add_argument("--memory-mb", type=int, default=0, help="A local head's memory for tasks (0: Ray's own).")
        parser.add_argument("--parent-pid", type=int, default=0, help="Stop when this process is gone (the server).")

    def handle(self, *args, address: str, num_cpus: int, num_gpus: int, memory_mb: int, parent_pid: int, **options):
        from jobs.runners.ray_gang import RayDispatcher, socket_path

        lock_path = socket_path().with_suffix(".lock")
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        lock = open(lock_path, "w")  # noqa: SIM115 - held for the life of the process
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CommandError(f"Another OpenPAI dispatcher runs on this machine (it holds {lock_path}).") from None
        head = None
        if address == "local":
            from jobs.runners.ray_head import LocalRayHead

            head = LocalRayHead(num_cpus=num_cpus, num_gpus=num_gpus, memory_mb=memory_mb or None)
            address = head.start()
            os.environ.update(head.env)  # this process drives it
            self.stdout.write(f"Started a Ray head at {address} ({num_cpus} CPUs, {num_gpus} GPUs), logs in "
                              f"{Path(head.temp_dir)}")  # fmt: skip
        dispatcher = RayDispatcher(address=address)
        stopping = threading.Event()

        def stop(*_):
            dispatcher.stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        if parent_pid:
            threading.Thread(target=_watch_parent, args=(parent_pid, dispatcher), daemon=True).start()
        if head is not None:
            threading.Thread(target=_watch_head, args=(head, stopping, self.stderr), daemon=True).start()
        try:
            dispatcher.run()
        finally:
            stopping.set()
            if head is not None:
                head.stop()
            lock.close()


def _watch_parent(parent_pid: int, dispatcher) -> None:
    while os.getppid() == parent_pid:
        time.sleep(1.0)
    dispatcher.stop()


def _watch_head(head, stopping: threading.Event, stderr) -> None:
    """The local head died: end this process now (Ray would only give up on it after a minute); whoever started it
    (the server) starts a new dispatcher and head, which fails what this one left running so that retries go on."""
    while head.head is not None and head.head.alive():
        time.sleep(1.0)
    if stopping.is_set():
        return
    stderr.write("The local Ray head exited; the dispatcher ends so that a new one starts with a new head.")
    stderr.flush()
    os._exit(1)
