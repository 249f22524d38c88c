"""Console pages of the feature store and artifacts (included by ``console.urls``)."""

from django.urls import path

from console.views import artifacts, features

urlpatterns: list = [
    path("features/", features.features, name="features"),
    path("features/<str:db>/", features.feature_db, name="feature_db"),
    path("features/<str:db>/tables/<str:table>/", features.feature_table, name="feature_table"),
    path("features/<str:db>/deployments/<str:name>/", features.feature_deployment, name="feature_deployment"),
    path("artifacts/", artifacts.artifacts, name="artifacts"),
]
