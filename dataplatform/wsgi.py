"""WSGI entry point: the production profile's HTTP processes (``gunicorn``; WebSocket needs the ASGI application).

The hot OpenMLDB routes skip Django's request machinery here as they do under ASGI (``featurestore.openmldb.fastpath``).
Jobs are sent to the Celery workers straight from the request (``jobs.runners.notify_runner``): these processes
run no job runner of their own.
"""

import os

from django.core.wsgi import get_wsgi_application

from dataplatform.profiles import default_settings_module

os.environ.setdefault("DJANGO_SETTINGS_MODULE", default_settings_module())

django_wsgi_app = get_wsgi_application()

from featurestore.openmldb.fastpath import OpenMLDBWSGIFastPath  # noqa: E402

application = OpenMLDBWSGIFastPath(django_wsgi_app)
