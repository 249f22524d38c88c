"""Base views of the API families: each pins its renderer, parsers, authentication and exception handler.

Views of an app subclass the base of the family whose wire contract they speak, e.g.
``class ExecuteView(LinkisAPIView)``; nothing else about envelopes or errors is left for them to decide.
"""

from __future__ import annotations

import functools

from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.views import APIView

from dataplatform.api.authentication import (
    BearerJWTAuthentication,
    LinkisTicketAuthentication,
    LinkisTokenAuthentication,
)
from dataplatform.api.handlers import HANDLERS
from dataplatform.api.parsers import LenientJSONParser, StrictJSONParser
from dataplatform.api.renderers import (
    CDAPRenderer,
    LinkisRenderer,
    OpenMLDBRenderer,
    OpenPAIRenderer,
    PlatformRenderer,
)
from dataplatform.api.request import content_length

STANDARD_AUTHENTICATION = [BearerJWTAuthentication, SessionAuthentication]


@functools.lru_cache(maxsize=256)
def _shared(classes: tuple[type, ...]) -> tuple:
    """One instance of each class, shared by every request: the families' authenticators, permissions, renderers
    and parsers keep no state between calls (DRF makes them anew for every request)."""
    return tuple(cls() for cls in classes)


class FamilyMixin:
    """Wire one API family into a DRF view."""

    family = "platform"
    renderer_classes = [PlatformRenderer]
    parser_classes = [StrictJSONParser]
    authentication_classes = STANDARD_AUTHENTICATION
    permission_classes = [IsAuthenticated]
    #: Largest body this view accepts; None means settings.MAX_REQUEST_BODY_BYTES.
    max_body_bytes: int | None = None
    #: Treat a body sent without a Content-Type as JSON (clients of Linkis and OpenPAI often omit it).
    default_content_type: str | None = None

    def get_exception_handler(self):
        return HANDLERS[self.family]

    def get_authenticators(self):
        return _shared(tuple(self.authentication_classes))

    def get_permissions(self):
        return _shared(tuple(self.permission_classes))

    def get_renderers(self):
        return _shared(tuple(self.renderer_classes))

    def get_parsers(self):
        return _shared(tuple(self.parser_classes))

    def initialize_request(self, request, *args, **kwargs):
        if self.default_content_type and not request.META.get("CONTENT_TYPE") and content_length(request):
            request.META["CONTENT_TYPE"] = self.default_content_type
        return super().initialize_request(request, *args, **kwargs)


class PlatformAPIView(FamilyMixin, APIView):
    """The platform's own endpoints (health, extensions)."""


class LinkisMixin(FamilyMixin):
    family = "linkis"
    renderer_classes = [LinkisRenderer]
    parser_classes = [LenientJSONParser]
    authentication_classes = [
        LinkisTokenAuthentication,
        LinkisTicketAuthentication,
        BearerJWTAuthentication,
        SessionAuthentication,
    ]
    default_content_type = "application/json"


class LinkisAPIView(LinkisMixin, APIView):
    """Linkis ``/api/rest_j/v1`` routes: ``{method, status, message, data}`` envelopes."""


class OpenPAIMixin(FamilyMixin):
    family = "openpai"
    renderer_classes = [OpenPAIRenderer]
    parser_classes = [LenientJSONParser]
    default_content_type = "application/json"


class OpenPAIAPIView(OpenPAIMixin, APIView):
    """OpenPAI seed routes (``/api/auth``, ``/api/job``): ``{error, message}`` errors."""


class OpenPAIV1Mixin(OpenPAIMixin):
    family = "openpai_v1"


class OpenPAIV1APIView(OpenPAIV1Mixin, APIView):
    """OpenPAI ``/api/v1`` routes: ``{code, message}`` errors."""


class CDAPMixin(FamilyMixin):
    family = "cdap"
    renderer_classes = [CDAPRenderer]


class CDAPAPIView(CDAPMixin, APIView):
    """CDAP ``/v3/namespaces`` and ``/namespaces`` routes: upstream statuses, text messages."""


class OpenMLDBMixin(FamilyMixin):
    family = "openmldb"
    renderer_classes = [OpenMLDBRenderer]


class OpenMLDBAPIView(OpenMLDBMixin, APIView):
    """OpenMLDB APIServer routes: ``{code, msg}``, always HTTP 200."""
