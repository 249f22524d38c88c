"""OpenAPI descriptions of the platform's authentication classes (imported once, from the app's ready())."""

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension


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
