"""``manage.py worker``: a Celery worker of the ``celery`` job runner (what ``make worker`` starts)."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Run a Celery worker that takes jobs from the 'jobs' queue (production profile, JOB_RUNNER=celery)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--concurrency",
            type=int,
            default=settings.JOB_MAX_RUNNING,
            help="Jobs this worker runs at once (default: JOB_MAX_RUNNING).",
        )
        parser.add_argument("--hostname", default=None, help="Celery node name (default: celery@<host>:<pid>).")
        parser.add_argument("--loglevel", default=settings.LOG_LEVEL)

    def handle(self, *args, concurrency: int, hostname: str | None, loglevel: str, **options):
        if not settings.CELERY_BROKER_URL:
            raise CommandError("No Celery broker: set REDIS_URL (or CELERY_BROKER_URL).")
        if concurrency < 1:
            raise CommandError("--concurrency must be at least 1.")
        from dataplatform.celery import app

        argv = [
            "worker",
            "--pool=threads",  # a job's thread mostly waits on its engine process
            f"--concurrency={concurrency}",
            "--queues=jobs,jobs.control",
            f"--loglevel={loglevel}",
            "--without-gossip",
            "--without-mingle",
            "--prefetch-multiplier=1",
        ]
        if hostname:
            argv.append(f"--hostname={hostname}")
        app.worker_main(argv)
