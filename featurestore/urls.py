"""OpenMLDB APIServer routes (views in ``featurestore.openmldb``). ``OpenMLDBPathMiddleware`` first drops empty path
segments, as brpc does."""

from django.urls import path

from featurestore.openmldb import views

urlpatterns = [
    path("dbs", views.DatabasesView.as_view(), name="openmldb-dbs"),
    path("dbs/<str:db>", views.QueryView.as_view(), name="openmldb-query"),
    path("dbs/<str:db>/tables", views.TablesView.as_view(), name="openmldb-tables"),
    path("dbs/<str:db>/tables/<str:table>", views.TableView.as_view(), name="openmldb-table"),
    path("dbs/<str:db>/deployments", views.DeploymentListView.as_view(), name="openmldb-deployments"),
    path("dbs/<str:db>/deployments/<str:name>", views.DeploymentView.as_view(), name="openmldb-deployment"),
    path("dbs/<str:db>/procedures/<str:name>", views.ProcedureView.as_view(), name="openmldb-procedure"),
    path("refresh", views.RefreshView.as_view(), name="openmldb-refresh"),
]
