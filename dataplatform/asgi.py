"""ASGI entry point: HTTP through Django, WebSocket through Channels' router, and the job runner."""

import asyncio
import os

from dataplatform.asgi_handler import get_pooled_asgi_application
from dataplatform.profiles import default_settings_module

os.environ.setdefault("DJANGO_SETTINGS_MODULE", default_settings_module())

# Django must be set up before anything imports models, so the HTTP app comes first. Requests run as under a WSGI
# server: one hop to a pooled thread each (dataplatform/asgi_handler.py).
django_asgi_app = get_pooled_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from dataplatform.api.bodylimit import BodyLimitGuard  # noqa: E402
from dataplatform.api.websocket import PlatformWebSocketAuthMiddleware, origin_validator  # noqa: E402
from dataplatform.startup import run_server_start_hooks  # noqa: E402
from featurestore.openmldb.fastpath import OpenMLDBFastPath  # noqa: E402
from jobs.events import bind_event_loop  # noqa: E402
from jobs.routing import websocket_urlpatterns  # noqa: E402

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

# The start-up work of the apps (system artifacts, the job runner, TTL expiry), each behind its own setting.
run_server_start_hooks()
