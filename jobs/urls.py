"""The job core's routes: one wire package per contract."""

from django.urls import include, path

urlpatterns = [
    path("", include("jobs.linkis.urls")),
    path("", include("jobs.openpai.urls")),
]
