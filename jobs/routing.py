"""WebSocket routes of the jobs app."""

from django.urls import path

from jobs.linkis.consumers import EntranceConsumer

websocket_urlpatterns = [
    path("ws/api/entrance/connect", EntranceConsumer.as_asgi()),
]
