"""CDAP routes, served under ``/v3/namespaces/`` and under the 3.1 seed's ``/namespaces/``, plus the router's
``/ping`` and the authentication server's ``/token``.

Every route also answers with one trailing slash (``.../versions/1.0.0/``), as CDAP's router does: netty-http's
``PatternPathRouterWithGroups.getDestinations`` drops one before matching, and CDAP's own tests and clients send
them. ``route()`` builds each endpoint on ``CDAPRoutePattern``, so no route is written twice and nothing redirects
(``APPEND_SLASH`` only redirects paths that match no route).
"""

from django.urls import URLPattern, include, path
from django.urls.resolvers import RoutePattern

from artifacts.cdap import views


class CDAPRoutePattern(RoutePattern):
    """A ``path()`` route that also matches the path with one trailing slash dropped."""

    def match(self, path: str):
        found = super().match(path)
        if found is None and self._is_endpoint and path.endswith("/"):
            found = super().match(path[:-1])
        return found


def route(pattern: str, view, name: str | None = None) -> URLPattern:
    """``path(pattern, view)`` for a CDAP endpoint, trailing slash allowed."""
    return URLPattern(CDAPRoutePattern(pattern, name=name, is_endpoint=True), view, name=name)


VERSION = "<str:ns>/artifacts/<str:name>/versions/<str:version>"
APP = "<str:ns>/apps/<str:app>"
PROGRAM = APP + "/<str:program_type>/<str:program>"

namespaced = [
    # Deleting a namespace is only offered under /v3/unrecoverable/namespaces/{ns}, as upstream.
    route("<str:ns>", views.NamespaceView.as_view(http_method_names=["get", "put", "head", "options"])),
    # artifacts
    route("<str:ns>/artifacts", views.ArtifactListView.as_view()),
    route("<str:ns>/artifacts/<str:name>", views.ArtifactView.as_view()),
    route(VERSION, views.ArtifactVersionView.as_view()),
    route(VERSION + "/plugins", views.ArtifactPluginsView.as_view()),
    route(VERSION + "/properties", views.ArtifactPropertiesView.as_view()),
    route(VERSION + "/properties/<str:key>", views.ArtifactPropertyView.as_view()),
    route(VERSION + "/extensions", views.ArtifactExtensionsView.as_view()),
    route(VERSION + "/extensions/<str:plugin_type>", views.ArtifactExtensionTypeView.as_view()),
    route(VERSION + "/extensions/<str:plugin_type>/plugins/<str:plugin_name>", views.ArtifactPluginView.as_view()),
    route("<str:ns>/artifactproperties", views.ArtifactPropertiesBatchView.as_view()),
    # plugins by type across the namespace (the 3.1 seed's plugintypes, renamed from extensions)
    route("<str:ns>/plugintypes", views.PluginTypesView.as_view()),
    route("<str:ns>/plugintypes/<str:plugin_type>", views.PluginsOfTypeView.as_view()),
    route("<str:ns>/plugintypes/<str:plugin_type>/plugins/<str:plugin_name>", views.PluginDetailView.as_view()),
    route("<str:ns>/extensions", views.PluginTypesView.as_view()),
    route("<str:ns>/extensions/<str:plugin_type>", views.PluginsOfTypeView.as_view()),
    route("<str:ns>/extensions/<str:plugin_type>/plugins/<str:plugin_name>", views.PluginDetailView.as_view()),
    route("<str:ns>/classes/apps", views.AppClassesView.as_view()),
    route("<str:ns>/classes/apps/<str:class_name>", views.AppClassView.as_view()),
    # applications
    route("<str:ns>/apps", views.AppListView.as_view()),
    route(APP, views.AppView.as_view()),
    route(APP + "/versions", views.AppVersionsView.as_view()),
    route(APP + "/versions/<str:version>", views.AppVersionView.as_view()),
    route(APP + "/versions/<str:version>/create", views.AppVersionCreateView.as_view()),
    route(APP + "/properties", views.AppPropertiesView.as_view()),
    route(APP + "/update", views.AppUpdateView.as_view()),
    route(APP + "/rollback", views.AppRollbackView.as_view()),
    route(APP + "/history", views.AppHistoryView.as_view()),
    # programs
    route("<str:ns>/status", views.BatchStatusView.as_view()),
    route(PROGRAM + "/status", views.ProgramStatusView.as_view()),
    route(PROGRAM + "/runs", views.ProgramRunsView.as_view()),
    route(PROGRAM + "/runs/<str:run_id>", views.ProgramRunView.as_view()),
    route(PROGRAM + "/<str:action>", views.ProgramActionView.as_view()),
]

urlpatterns = [
    route("v3/namespaces", views.NamespaceListView.as_view()),
    route("namespaces", views.NamespaceListView.as_view()),
    path("v3/namespaces/", include(namespaced)),
    path("namespaces/", include(namespaced)),
    route("v3/unrecoverable/namespaces/<str:ns>", views.NamespaceView.as_view(http_method_names=["delete"])),
    # authentication: how CDAP clients learn that it is on (a 401 naming auth_uri) and get a token
    route("ping", views.PingView.as_view()),
    route("v2/ping", views.PingView.as_view()),
    route("token", views.TokenView.as_view(), name="cdap-token"),
]
