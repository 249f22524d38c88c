"""ASGI entry point: HTTP through Django, WebSocket through Channels' router, and the job runner."""

import asyncio
import os

from django.core.asgi import get_asgi_application

from dataplatform.profiles import default_settings_module

os.environ.setdefault("DJANGO_SETTINGS_MODULE", default_settings_module())

# Django must be set up before anything imports models, so the HTTP app comes first.
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from dataplatform.api.bodylimit import BodyLimitGuard  # noqa: E402
from dataplatform.api.websocket import PlatformWebSocketAuthMiddleware, origin_validator  # noqa: E402
from featurestore.fastpath import OpenMLDBFastPath  # noqa: E402
from jobs.events import bind_event_loop  # noqa: E402
from jobs.routing import websocket_urlpatterns  # noqa: E402
from jobs.runners import start_runner  # noqa: E402

router = ProtocolTypeRouter(
    {
        "http": BodyLimitGuard(OpenMLDBFastPath(django_asgi_app)),
        "websocket": origin_validator(
            AuthMiddlewareStack(PlatformWebSocketAuthMiddleware(URLRouter(websocket_urlpatterns)))
        ),
    }
)


class _BindEventLoop:
    """Hand the server's event loop to the job events on the first connection (served with ``--lifespan off``)."""

    def __init__(self, app):
        self.app = app
        self.bound = False

    async def __call__(self, scope, receive, send):
        if not self.bound:
            bind_event_loop(asyncio.get_running_loop())
            self.bound = True
        return await self.app(scope, receive, send)


application = _BindEventLoop(router)

if settings.SYSTEM_ARTIFACTS_LOAD_AT_START:
    from artifacts.services import load_system_artifacts_at_start  # noqa: E402

    load_system_artifacts_at_start()

if settings.JOB_RUNNER_AUTOSTART:
    from featurestore.maintenance import start_ttl_expiry  # noqa: E402

    start_runner()
    start_ttl_expiry()
