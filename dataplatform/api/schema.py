"""OpenAPI: the platform's authentication classes (imported once, from the app's ready()), and the schema class that
tags each operation with its API family and gives each a summary."""

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema


class BearerJWTScheme(OpenApiAuthenticationExtension):
    target_class = "dataplatform.api.authentication.BearerJWTAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A token from POST /api/auth or POST /api/v1/token.",
        }


class LinkisTicketScheme(OpenApiAuthenticationExtension):
    target_class = "dataplatform.api.authentication.LinkisTicketAuthentication"
    name = "linkisTicket"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": settings.LINKIS_TICKET_COOKIE,
            "description": "The cookie set by POST /api/rest_j/v1/user/login.",
        }


class LinkisTokenScheme(OpenApiAuthenticationExtension):
    target_class = "dataplatform.api.authentication.LinkisTokenAuthentication"
    name = "linkisToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Token-Code",
            "description": "An API token issued in the admin, sent with the Token-User header naming the user.",
        }


# --- operations: one tag per family, a summary for each ----------------------------------------------------------
#: Tags by path prefix (longest first): one per API family, as the contracts name them.
FAMILY_TAGS = (
    ("/api/rest_j/", "Linkis"),
    ("/api/", "OpenPAI"),
    ("/v3/", "CDAP"),
    ("/namespaces/", "CDAP"),
    ("/v2/ping", "CDAP"),
    ("/ping", "CDAP"),
    ("/token", "CDAP"),
    ("/dbs", "OpenMLDB"),
    ("/refresh", "OpenMLDB"),
)


def family_tag(path: str) -> str:
    """The tag of the API family that serves ``path``."""
    for prefix, tag in FAMILY_TAGS:
        if path.startswith(prefix) or path == prefix.rstrip("/"):
            return tag
    return "Platform"


def _first_sentence(text: str | None) -> str | None:
    if not text:
        return None
    paragraph = " ".join(line.strip() for line in text.strip().split("\n\n", 1)[0].splitlines())
    sentence = paragraph.split(". ", 1)[0].rstrip(".").strip()
    sentence = sentence.replace("``", "")
    return (sentence[:117] + "...") if len(sentence) > 120 else sentence or None


class PlatformAutoSchema(AutoSchema):
    """drf-spectacular's schema per operation, with the tag of the operation's API family and a summary for every
    operation: the one given with ``extend_schema``, else the first sentence of the handler's or the view's
    docstring, else the method and path."""

    def get_tags(self) -> list[str]:
        return [family_tag(self.path)]

    def get_summary(self) -> str | None:
        given = super().get_summary()
        if given:
            return given
        handler = getattr(self.view, self.method.lower(), None)
        return (
            _first_sentence(getattr(handler, "__doc__", None))
            or _first_sentence(type(self.view).__doc__)
            or f"{self.method} {self.path}"
        )
