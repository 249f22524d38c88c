"""WSGI entry point: the production profile's HTTP processes (``gunicorn``; WebSocket needs the ASGI application).

The hot OpenMLDB routes skip Django's request machinery here as they do under ASGI (``featurestore.openmldb.fastpath``).
Jobs are sent to the Celery workers straight from the request (``jobs.runners.notify_runner``): these processes
run no job runner of their own.
"""

import os

import django
from django.core.handlers.wsgi import WSGIHandler

from dataplatform.profiles import default_settings_module
from dataplatform.routes import CachedResolveMixin

os.environ.setdefault("DJANGO_SETTINGS_MODULE", default_settings_module())
# A sync worker serves one request at a time on its one thread: it keeps its database connection across requests
# (dataplatform/settings/base.py) rather than borrowing one from a pool for each.
os.environ.setdefault("DATABASE_CONN_MAX_AGE", "600")


class PlatformWSGIHandler(CachedResolveMixin, WSGIHandler):
    """Django's WSGI handler, keeping the URL matches of recent paths (``dataplatform.routes``)."""


django.setup(set_prefix=False)
django_wsgi_app = PlatformWSGIHandler()

from featurestore.openmldb.fastpath import OpenMLDBWSGIFastPath  # noqa: E402

application = OpenMLDBWSGIFastPath(django_wsgi_app)
