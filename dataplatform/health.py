"""``GET /healthz``: 200 once the database and the channel layer answer, 503 otherwise; with the sandbox's state."""

from __future__ import annotations

import asyncio
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from dataplatform.api.viewsets import PlatformAPIView
from jobs.linkis.consumers import websocket_report

logger = logging.getLogger(__name__)

CHANNEL_TIMEOUT = 2.0


def check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any failure means "not healthy"; the reason goes to the body and the log
        logger.warning("health: database check failed: %s", exc)
        return f"error: {type(exc).__name__}: {exc}"
    return "ok"


async def _channel_round_trip() -> None:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer is configured")
    channel = await layer.new_channel("healthz.")
    await layer.send(channel, {"type": "healthz.ping"})
    message = await layer.receive(channel)
    if message.get("type") != "healthz.ping":
        raise RuntimeError(f"unexpected message {message!r}")


def check_channel_layer() -> str:
    async def bounded() -> None:
        await asyncio.wait_for(_channel_round_trip(), CHANNEL_TIMEOUT)

    from jobs.events import sending_loop

    # The server's own loop (the layer as the sockets use it), or in a process without one (a gunicorn worker) the
    # loop its job events go through: its connections to Redis are kept, not made anew (and a thread) per check.
    loop = sending_loop(get_channel_layer())
    try:
        if loop is not None and asyncio._get_running_loop() is not loop:
            asyncio.run_coroutine_threadsafe(bounded(), loop).result(CHANNEL_TIMEOUT + 1)
        else:
            async_to_sync(bounded)()
    except Exception as exc:  # timeouts and connection errors alike mean "not healthy"
        logger.warning("health: channel layer check failed: %r", exc)
        return f"error: {type(exc).__name__}: {exc}" if str(exc) else f"error: {type(exc).__name__}"
    return "ok"


def sandbox_report() -> dict:
    """Whether users' code can run, and how: this process's sandbox (local runner), or each Celery worker's.

    ``state`` is ``ok`` (sandboxed), ``off`` (JOB_SANDBOX=off: unsandboxed, knowingly) or ``unavailable`` (users'
    code does not run; ``detail`` says why). It does not change the HTTP status: the APIs work either way.
    """
    from jobs.sandbox import sandbox_state
    from jobs.selectors import worker_sandboxes

    if settings.JOB_RUNNER == "celery":
        try:
            workers = worker_sandboxes()
        except Exception as exc:  # the database check reports the outage
            return {"state": "unknown", "detail": f"{type(exc).__name__}: {exc}"}
        if not workers:
            return {"state": "unknown", "detail": "No Celery worker is running.", "workers": {}}
        states = {_sandbox_word(detail) for detail in workers.values()}
        state = "unavailable" if "unavailable" in states else ("off" if "off" in states else "ok")
        return {"state": state, "detail": "See each worker.", "workers": workers}
    state = sandbox_state()
    return {"state": _sandbox_word(state.detail), "detail": state.detail, "user": state.user}


#: The gang dispatcher refreshes the Ray nodes every 2 s: older than this, it is not running (or lost its cluster).
RAY_NODES_FRESH_SECONDS = 15


def openpai_ray_report() -> dict | None:
    """With ``OPENPAI_RUNNER=ray``: whether the gang dispatcher runs (it saw the cluster lately) and the cluster's live
    nodes; None with the local runner. It does not change the HTTP status: OpenPAI jobs then wait, nothing is lost."""
    if settings.OPENPAI_RUNNER != "ray":
        return None
    import datetime as dt

    from django.utils import timezone

    from jobs.models import RayNode

    try:
        cutoff = timezone.now() - dt.timedelta(seconds=RAY_NODES_FRESH_SECONDS)
        live = RayNode.objects.filter(alive=True, updated_at__gte=cutoff).count()
    except Exception as exc:  # the database check reports the outage
        return {"state": "unknown", "detail": f"{type(exc).__name__}: {exc}"}
    if not live:
        return {
            "state": "unavailable",
            "nodes": 0,
            "detail": f"The OpenPAI gang dispatcher has seen no live Ray node in {RAY_NODES_FRESH_SECONDS} s: OpenPAI "
            "jobs wait until it runs (manage.py openpai_ray).",
        }
    return {"state": "ok", "nodes": live}


def _sandbox_word(detail: str) -> str:
    if detail.startswith("ok"):
        return "ok"
    if detail.startswith("off"):
        return "off"
    return "unavailable"


class HealthView(PlatformAPIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        responses={
            (200, "application/json"): inline_serializer(
                "Health",
                {
                    "status": serializers.CharField(),
                    "profile": serializers.CharField(),
                    "version": serializers.CharField(),
                    "checks": serializers.DictField(child=serializers.CharField()),
                    "sandbox": serializers.DictField(),
                    "openpai_ray": serializers.DictField(required=False),
                    "websocket": serializers.DictField(),
                },
            ),
        },
        description="200 when the database and the channel layer answer; 503 with the failing checks otherwise. "
        "``sandbox`` says whether users' code can run here (ok, off, unavailable) and why; with OPENPAI_RUNNER=ray, "
        "``openpai_ray`` whether the gang dispatcher runs and sees live Ray nodes. ``websocket``: this process's "
        "entrance sockets and the pushes it had to make up from the store (``catch_ups``: gap, resync, reconnected).",
        auth=[],
    )
    def get(self, request):
        """Health: database, channel layer, runner and sandbox checks."""
        checks = {"database": check_database(), "channel_layer": check_channel_layer()}
        healthy = all(value == "ok" for value in checks.values())
        body = {
            "status": "ok" if healthy else "unavailable",
            "profile": settings.PLATFORM_PROFILE,
            "version": settings.PLATFORM_VERSION,
            "checks": checks,
            "sandbox": sandbox_report(),
            "websocket": websocket_report(),
        }
        ray = openpai_ray_report()
        if ray is not None:
            body["openpai_ray"] = ray
        return Response(body, status=200 if healthy else 503)
