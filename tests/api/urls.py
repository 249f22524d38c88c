"""The project's URLs plus probe views, one set per API family, to test the shared plumbing from outside."""

import threading

from django.http import HttpResponse
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from dataplatform.api.responses import linkis_response
from dataplatform.api.viewsets import (
    CDAPAPIView,
    LinkisAPIView,
    OpenMLDBAPIView,
    OpenPAIAPIView,
    OpenPAIV1APIView,
)
from dataplatform.urls import urlpatterns as project_urlpatterns


def _probe(base, respond):
    class Probe(base):
        def get(self, request):
            return respond(request, {"user": request.user.username})

        def post(self, request):
            return respond(request, {"user": request.user.username, "echo": request.data})

    class Boom(base):
        permission_classes = [AllowAny]

        def get(self, request):
            raise RuntimeError("boom: a secret internal detail")

    return Probe.as_view(), Boom.as_view()


def _plain(request, data):
    return Response(data)


def _django_boom(request):
    raise RuntimeError("boom outside DRF")


PROBES = {
    "linkis": ("api/rest_j/v1/probe", LinkisAPIView, linkis_response),
    "openpai": ("api/probe", OpenPAIAPIView, _plain),
    "openpai_v1": ("api/v1/probe", OpenPAIV1APIView, _plain),
    "cdap": ("v3/namespaces/default/probe", CDAPAPIView, _plain),
    "openmldb": ("dbs/probe_db/probe", OpenMLDBAPIView, _plain),
}

urlpatterns = []
for _name, (_path, _base, _respond) in PROBES.items():
    _ok, _boom = _probe(_base, _respond)
    urlpatterns += [path(_path, _ok), path(_path + "/boom", _boom), path(_path + "/django-boom", _django_boom)]
urlpatterns += [path("plain-page", lambda request: HttpResponse("<p>page</p>"))]

# The ASGI handler's lane (tests/api/test_asgi_lane.py): which thread ran a request; a request held until released.
LANE_GATE = threading.Event()
LANE_HELD = threading.Event()  # set once the held request runs


def _thread_name(request):
    return HttpResponse(threading.current_thread().name)


def _held(request):
    LANE_HELD.set()
    LANE_GATE.wait(120)
    return HttpResponse(threading.current_thread().name)


urlpatterns += [path("probe-thread", _thread_name), path("probe-held", _held)]
urlpatterns += project_urlpatterns

handler400 = "dataplatform.api.views.handler400"
handler403 = "dataplatform.api.views.handler403"
handler404 = "dataplatform.api.views.handler404"
handler500 = "dataplatform.api.views.handler500"
