"""``GET /healthz``: 200 when the database and the channel layer answer, 503 otherwise."""

import datetime as dt
import os
from unittest import mock

import pytest
from django.db.utils import OperationalError
from django.utils import timezone

from scripts.test_services import reachable
from tests.conftest import need_service

pytestmark = pytest.mark.django_db


def test_healthy(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"database": "ok", "channel_layer": "ok"}
    assert body["profile"] == "test"


def test_needs_no_credentials_and_ignores_bad_ones(client):
    assert client.get("/healthz", HTTP_AUTHORIZATION="Bearer garbage").status_code == 200


def test_database_down_is_503(client):
    with mock.patch("dataplatform.health.connection.cursor", side_effect=OperationalError("connection refused")):
        response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"].startswith("error: OperationalError: connection refused")
    assert body["checks"]["channel_layer"] == "ok"


def test_channel_layer_down_is_503(client, settings):
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": ["redis://127.0.0.1:1"]}}
    }
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    try:
        response = client.get("/healthz")
    finally:
        channel_layers.backends.clear()
    assert response.status_code == 503
    assert response.json()["checks"]["channel_layer"].startswith("error:")


@pytest.mark.redis
def test_healthy_on_the_redis_channel_layer(client, settings):
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    if reason := reachable(url, 6379):
        need_service(reason)
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "dataplatform.channels.ResilientRedisPubSubChannelLayer",
            "CONFIG": {"hosts": [url], "prefix": "hz"},
        }
    }
    import redis
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    try:
        response = client.get("/healthz")
        assert response.status_code == 200, response.json()
        server = redis.Redis.from_url(url)
        opened = server.info("stats")["total_connections_received"]
        # With no server loop (a gunicorn worker) the check runs on the process's sending loop and keeps its Redis
        # connections: no new connection (and no new event loop) per check.
        for _ in range(5):
            assert client.get("/healthz").json()["checks"]["channel_layer"] == "ok"
        assert server.info("stats")["total_connections_received"] == opened
    finally:
        channel_layers.backends.clear()


def test_openpai_ray_report_says_whether_the_dispatcher_sees_the_cluster(client, settings):
    from jobs.models import RayNode

    assert "openpai_ray" not in client.get("/healthz").json()  # the local runner: nothing to report
    settings.OPENPAI_RUNNER = "ray"
    body = client.get("/healthz")
    assert body.status_code == 200  # jobs wait, nothing is lost: the platform is still healthy
    report = body.json()["openpai_ray"]
    assert report["state"] == "unavailable" and "manage.py openpai_ray" in report["detail"]

    RayNode.objects.create(node_id="n1", host="127.0.0.1", total={"CPU": 2.0}, available={"CPU": 2.0})
    assert client.get("/healthz").json()["openpai_ray"] == {"state": "ok", "nodes": 1}
    stale = timezone.now() - dt.timedelta(seconds=60)
    RayNode.objects.update(updated_at=stale)  # the dispatcher stopped refreshing it
    assert client.get("/healthz").json()["openpai_ray"]["state"] == "unavailable"
