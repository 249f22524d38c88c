"""Project URLs: the admin, the API docs, each family's routes, and a catch-all per family prefix.

The catch-alls come last so that an unknown path under a family's prefix answers in that family's envelope
(404 with its error body), whatever DEBUG says. OpenPAI's routes are also served under ``/rest-server/``
(``dataplatform.api.middleware.RestServerPrefixMiddleware`` hands them on as the routes below); any other path
there is OpenPAI's 404. Paths outside every family answer through ``handler404`` and friends: Django's pages for
browsers, ``{"detail": ...}`` JSON for other clients.
"""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.negotiation import DefaultContentNegotiation

from dataplatform.api.views import HomeView, route_not_found
from dataplatform.health import HealthView
from dataplatform.routes import family

handler400 = "dataplatform.api.views.handler400"
handler403 = "dataplatform.api.views.handler403"
handler404 = "dataplatform.api.views.handler404"
handler500 = "dataplatform.api.views.handler500"

urlpatterns = [
    path("", HomeView.as_view(), name="home"),
    path("healthz", HealthView.as_view(), name="healthz"),
    path("admin/", admin.site.urls),
    path("console/", include("console.urls")),
    # The schema keeps DRF's negotiation so that ?format=json and Accept: application/json choose JSON.
    path("api/schema/", SpectacularAPIView.as_view(content_negotiation_class=DefaultContentNegotiation), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    family(("api/",), "dataplatform.accounts.urls"),
    family(("api/",), "jobs.urls"),
    family(("v3/", "v2/", "namespaces", "ping", "token"), "artifacts.urls"),
    family(("dbs", "refresh"), "featurestore.urls"),
    # Catch-alls: unknown routes answer in the envelope of the family that owns the prefix.
    re_path(r"^api(?:/.*)?$", route_not_found),
    re_path(r"^(?:v3|namespaces)(?:/.*)?$", route_not_found),
    re_path(r"^(?:dbs|refresh)(?:/.*)?$", route_not_found),
    re_path(r"^rest-server(?:/.*)?$", route_not_found),
]
