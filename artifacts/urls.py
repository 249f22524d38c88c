"""CDAP routes, served under ``/v3/namespaces/`` and under the 3.1 seed's ``/namespaces/``."""

from django.urls import include, path

from artifacts.cdap import views

VERSION = "<str:ns>/artifacts/<str:name>/versions/<str:version>"
APP = "<str:ns>/apps/<str:app>"
PROGRAM = APP + "/<str:program_type>/<str:program>"

namespaced = [
    # Deleting a namespace is only offered under /v3/unrecoverable/namespaces/{ns}, as upstream.
    path("<str:ns>", views.NamespaceView.as_view(http_method_names=["get", "put", "head", "options"])),
    # artifacts
    path("<str:ns>/artifacts", views.ArtifactListView.as_view()),
    path("<str:ns>/artifacts/<str:name>", views.ArtifactView.as_view()),
    path(VERSION, views.ArtifactVersionView.as_view()),
    path(VERSION + "/plugins", views.ArtifactPluginsView.as_view()),
    path(VERSION + "/properties", views.ArtifactPropertiesView.as_view()),
    path(VERSION + "/properties/<str:key>", views.ArtifactPropertyView.as_view()),
    path(VERSION + "/extensions", views.ArtifactExtensionsView.as_view()),
    path(VERSION + "/extensions/<str:plugin_type>", views.ArtifactExtensionTypeView.as_view()),
    path(VERSION + "/extensions/<str:plugin_type>/plugins/<str:plugin_name>", views.ArtifactPluginView.as_view()),
    path("<str:ns>/artifactproperties", views.ArtifactPropertiesBatchView.as_view()),
    # plugins by type across the namespace (the 3.1 seed's plugintypes, renamed from extensions)
    path("<str:ns>/plugintypes", views.PluginTypesView.as_view()),
    path("<str:ns>/plugintypes/<str:plugin_type>", views.PluginsOfTypeView.as_view()),
    path("<str:ns>/plugintypes/<str:plugin_type>/plugins/<str:plugin_name>", views.PluginDetailView.as_view()),
    path("<str:ns>/extensions", views.PluginTypesView.as_view()),
    path("<str:ns>/extensions/<str:plugin_type>", views.PluginsOfTypeView.as_view()),
    path("<str:ns>/extensions/<str:plugin_type>/plugins/<str:plugin_name>", views.PluginDetailView.as_view()),
    path("<str:ns>/classes/apps", views.AppClassesView.as_view()),
    path("<str:ns>/classes/apps/<str:class_name>", views.AppClassView.as_view()),
    # applications
    path("<str:ns>/apps", views.AppListView.as_view()),
    path(APP, views.AppView.as_view()),
    path(APP + "/properties", views.AppPropertiesView.as_view()),
    path(APP + "/update", views.AppUpdateView.as_view()),
    path(APP + "/rollback", views.AppRollbackView.as_view()),
    path(APP + "/history", views.AppHistoryView.as_view()),
    # programs
    path("<str:ns>/status", views.BatchStatusView.as_view()),
    path(PROGRAM + "/status", views.ProgramStatusView.as_view()),
    path(PROGRAM + "/runs", views.ProgramRunsView.as_view()),
    path(PROGRAM + "/runs/<str:run_id>", views.ProgramRunView.as_view()),
    path(PROGRAM + "/<str:action>", views.ProgramActionView.as_view()),
]

urlpatterns = [
    path("v3/namespaces", views.NamespaceListView.as_view()),
    path("namespaces", views.NamespaceListView.as_view()),
    path("v3/namespaces/", include(namespaced)),
    path("namespaces/", include(namespaced)),
    path("v3/unrecoverable/namespaces/<str:ns>", views.NamespaceView.as_view(http_method_names=["delete"])),
]
