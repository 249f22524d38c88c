"""The Celery application of the ``celery`` job runner (production profile).

Web processes send tasks; ``make worker`` (``celery -A dataplatform worker``) runs them. Jobs are long and spend
their time waiting on an engine process, so workers use the threads pool, one thread per running job.
"""

from __future__ import annotations

import os

from celery import Celery
from kombu import Queue
from kombu.common import Broadcast

from dataplatform.profiles import default_settings_module

os.environ.setdefault("DJANGO_SETTINGS_MODULE", default_settings_module())

app = Celery("dataplatform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["jobs"])

# Jobs on a work queue (each message to one worker); kills on a broadcast queue (each message to every worker).
app.conf.task_queues = (Queue("jobs"), Broadcast("jobs.control"))
